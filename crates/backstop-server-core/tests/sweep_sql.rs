//! The sweeps' SQL conditions agree with the core rules they stand for: random rows go into
//! the real schema (the worker's D1 migrations, applied in order to SQLite, the engine under
//! D1), and the rows each condition selects are exactly those the Rust predicate admits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

static FILL: AtomicI64 = AtomicI64::new(1);

use backstop_server_core::alerting::delivery::{due_sql, is_due, OutboxStatus};
use backstop_server_core::alerting::storm::{flush_due_sql, is_flush_due};
use backstop_server_core::triage::{is_snooze_due, snooze_due_sql};
use proptest::prelude::*;
use rusqlite::{types::Value, Connection};

#[path = "common/schema.rs"]
mod common;
use common::schema;

/// Inserts a row with these columns; every other NOT NULL or key column without a default gets
/// a fresh number (unique, so unique indexes hold).
fn insert(conn: &Connection, table: &str, cols: &[(&str, Value)]) {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}')"
        ))
        .unwrap();
    let required: Vec<String> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, notnull, default, pk)| (*notnull || *pk > 0) && default.is_none())
        .map(|(name, ..)| name)
        .collect();
    let mut names: Vec<String> = cols.iter().map(|(n, _)| (*n).to_string()).collect();
    let mut values: Vec<Value> = cols.iter().map(|(_, v)| v.clone()).collect();
    for name in required {
        if !names.contains(&name) {
            values.push(Value::Integer(FILL.fetch_add(1, Ordering::Relaxed)));
            names.push(name);
        }
    }
    let marks = vec!["?"; names.len()].join(", ");
    conn.execute(
        &format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            names.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )
    .unwrap();
}

/// The `key` column of the rows of `table` that `condition` selects, `now` bound as `?1`.
fn selected(
    conn: &Connection,
    table: &str,
    key: &str,
    condition: &str,
    now: u64,
) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST({key} AS TEXT) FROM {table} WHERE {condition}"
        ))
        .unwrap();
    stmt.query_map([i64::try_from(now).unwrap()], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn opt(v: Option<u64>) -> Value {
    v.map_or(Value::Null, |n| Value::Integer(i64::try_from(n).unwrap()))
}

/// Times around `now` (equal included) so both sides of every comparison occur.
fn time() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (990u64..1010).prop_map(Some)]
}

const NOW: u64 = 1000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn outbox_due_selects_what_is_due(rows in prop::collection::vec(
        (prop_oneof![Just(OutboxStatus::Pending), Just(OutboxStatus::Delivered), Just(OutboxStatus::Failed)], time()),
        0..20,
    )) {
        let conn = schema();
        let mut want = BTreeSet::new();
        for (i, (status, at)) in rows.iter().enumerate() {
            let id = format!("a{i}");
            insert(&conn, "alert_outbox", &[
                ("id", Value::Text(id.clone())),
                ("status", Value::Text(status.as_str().into())),
                ("next_attempt_at", opt(*at)),
            ]);
            if is_due(*status, *at, NOW) {
                want.insert(id);
            }
        }
        prop_assert_eq!(selected(&conn, "alert_outbox", "id", &due_sql(1), NOW), want);
    }

    #[test]
    fn storm_flush_selects_what_is_due(rows in prop::collection::vec(990u64..1010, 0..20)) {
        let conn = schema();
        let mut want = BTreeSet::new();
        for (i, at) in rows.iter().enumerate() {
            let rule = format!("r{i}");
            insert(&conn, "alert_storms", &[
                ("rule_id", Value::Text(rule.clone())),
                ("flush_at", opt(Some(*at))),
            ]);
            if is_flush_due(*at, NOW) {
                want.insert(rule);
            }
        }
        prop_assert_eq!(selected(&conn, "alert_storms", "rule_id", &flush_due_sql(1), NOW), want);
    }

    #[test]
    fn snooze_sweep_selects_what_is_due(rows in prop::collection::vec(time(), 0..20)) {
        let conn = schema();
        let mut want = BTreeSet::new();
        for (i, until) in rows.iter().enumerate() {
            let fingerprint = format!("f{i}");
            insert(&conn, "issues", &[
                ("fingerprint", Value::Text(fingerprint.clone())),
                ("snooze_until", opt(*until)),
            ]);
            if is_snooze_due(*until, NOW) {
                want.insert(fingerprint);
            }
        }
        prop_assert_eq!(selected(&conn, "issues", "fingerprint", &snooze_due_sql(1), NOW), want);
    }
}
