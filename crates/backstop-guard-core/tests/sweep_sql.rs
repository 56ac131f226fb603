//! The webhook sweep's SQL condition ([`SweepFilter::where_sql`]) selects exactly the
//! deliveries [`SweepFilter::is_eligible`] admits: random rows go into the real schema (the
//! worker's D1 migrations, applied in order to SQLite, the engine under D1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use backstop_guard_core::decision::HoldReason;
use backstop_guard_core::delivery::{DeliveryState, DeliveryStatus, SweepFilter};
use proptest::prelude::*;
use rusqlite::params;

#[path = "../../backstop-server-core/tests/common/schema.rs"]
mod common;
use common::schema;

const ROUTES: [&str; 3] = ["r", "asks", "gone"];

fn route() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&ROUTES[..])
}

fn small() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (95u64..105).prop_map(Some)]
}

fn delivery() -> impl Strategy<Value = (&'static str, DeliveryState)> {
    (
        route(),
        prop::sample::select(&DeliveryStatus::ALL[..]),
        prop::option::of(prop::sample::select(&HoldReason::ALL[..])),
        small(),
        small(),
        any::<bool>(),
        small(),
    )
        .prop_map(
            |(route, status, reason, size, limit_at_hold, has_payload, next_attempt_at)| {
                (
                    route,
                    DeliveryState {
                        status,
                        reason,
                        auto_attempts: 1,
                        replays: 0,
                        size,
                        limit_at_hold,
                        has_payload,
                        next_attempt_at,
                    },
                )
            },
        )
}

fn filter() -> impl Strategy<Value = SweepFilter> {
    (
        95u64..105,
        prop::sample::subsequence(&ROUTES[..2], 0..=2),
        prop::collection::vec((route(), 95u64..105), 0..3),
    )
        .prop_map(|(overdue_before, routes, limits)| SweepFilter {
            overdue_before,
            routes: routes.into_iter().map(str::to_string).collect(),
            size_limits: limits
                .into_iter()
                .map(|(r, l)| (r.to_string(), l))
                .collect(),
        })
}

fn int(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_sweep_query_selects_what_is_eligible(
        rows in prop::collection::vec(delivery(), 0..24),
        f in filter(),
    ) {
        let conn = schema();
        let mut want = BTreeSet::new();
        for (i, (route, d)) in rows.iter().enumerate() {
            let id = format!("wh{i}");
            conn.execute(
                "INSERT INTO webhook_deliveries (id, route, method, path, received_at, size,
                    content_type, headers, sender, status, reason, limit_bytes, origin_error,
                    attempts, replays, next_attempt_at, payload_key, updated_at)
                 VALUES (?1, ?2, 'POST', '/', ?3, ?4, '', '[]', '', ?5, ?6, ?7, '', 1, 0, ?8, ?9, 0)",
                params![
                    id,
                    route,
                    i64::try_from(i).unwrap(),
                    int(d.size),
                    d.status.as_str(),
                    d.reason.map(HoldReason::as_str),
                    int(d.limit_at_hold),
                    int(d.next_attempt_at),
                    d.has_payload.then_some("payload/key"),
                ],
            )
            .unwrap();
            if f.is_eligible(route, d) {
                want.insert(id);
            }
        }
        let mut stmt = conn
            .prepare(&format!(
                "SELECT d.id FROM webhook_deliveries AS d WHERE {}",
                SweepFilter::where_sql(1, 2, 3)
            ))
            .unwrap();
        let got: BTreeSet<String> = stmt
            .query_map(
                params![int(Some(f.overdue_before)), f.routes_json(), f.size_limits_json()],
                |r| r.get(0),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(got, want);
    }
}
