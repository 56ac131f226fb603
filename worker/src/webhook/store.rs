//! D1 rows of the guard: deliveries, attempts, alerts and per-minute counters. Every statement
//! is parameterised; every value comes from core types.

use backstop_guard_core::alert::AlertRecord;
use backstop_guard_core::decision::{
    stats_reason, stats_scope, stats_since, stats_summary, HoldReason, StatRow,
};
use backstop_guard_core::delivery::{
    DeliveryState, DeliveryStatus, NewDelivery, SweepFilter, Transition, SWEEP_BATCH,
};
use backstop_guard_core::query::DeliveryQuery;
use backstop_guard_core::storage::{lenient_opt_u64, lenient_u64};
use backstop_server_core::stats::minute_bucket;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use super::Fail;

use crate::store::{n, opt, s};

fn db(env: &Env) -> Result<D1Database, Fail> {
    Ok(crate::store::db(env)?)
}

fn opt_s(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, s)
}

/// A delivery row as stored and as the API returns it (without headers and payload key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DeliveryRow {
    pub(super) id: String,
    pub(super) route: String,
    pub(super) method: String,
    pub(super) path: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub(super) received_at: u64,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) size: Option<u64>,
    pub(super) content_type: String,
    pub(super) sender: String,
    pub(super) status: String,
    pub(super) reason: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) limit_bytes: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) origin_status: Option<u64>,
    pub(super) origin_error: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub(super) attempts: u64,
    #[serde(deserialize_with = "lenient_u64")]
    pub(super) replays: u64,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) next_attempt_at: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) last_attempt_at: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub(super) delivered_at: Option<u64>,
    #[serde(deserialize_with = "int_bool")]
    pub(super) payload_kept: bool,
    #[serde(skip_serializing)]
    pub(super) headers: String,
    #[serde(skip_serializing)]
    pub(super) payload_key: Option<String>,
}

/// SQLite has no booleans: accept 0/1 as well as true/false.
fn int_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrBool {
        Bool(bool),
        Int(f64),
    }
    Ok(match IntOrBool::deserialize(d)? {
        IntOrBool::Bool(b) => b,
        IntOrBool::Int(n) => n != 0.0,
    })
}

impl DeliveryRow {
    /// The rules' view of this row.
    pub(super) fn state(&self) -> DeliveryState {
        DeliveryState {
            status: DeliveryStatus::parse(&self.status).unwrap_or(DeliveryStatus::Held),
            reason: self.reason.as_deref().and_then(HoldReason::parse),
            auto_attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            replays: u32::try_from(self.replays).unwrap_or(u32::MAX),
            size: self.size,
            limit_at_hold: self.limit_bytes,
            has_payload: self.payload_key.is_some(),
            next_attempt_at: self.next_attempt_at,
        }
    }

    /// Path and query as stored.
    pub(super) fn path_and_query(&self) -> (&str, Option<&str>) {
        match self.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path.as_str(), None),
        }
    }
}

const COLUMNS: &str =
    "id, route, method, path, received_at, size, content_type, sender, status, reason,
    limit_bytes, origin_status, origin_error, attempts, replays, next_attempt_at, last_attempt_at,
    delivered_at, (payload_key IS NOT NULL) AS payload_kept, headers, payload_key";

/// Inserts a delivery row.
pub(super) async fn insert_delivery(env: &Env, d: &NewDelivery<'_>) -> Result<(), Fail> {
    insert_statement(&db(env)?, d)?.run().await?;
    Ok(())
}

/// Records a pass-through: its row and its counter in one D1 round trip.
pub(super) async fn insert_passed(env: &Env, d: &NewDelivery<'_>, now_ms: u64) -> Result<(), Fail> {
    let db = db(env)?;
    let insert = insert_statement(&db, d)?;
    let counter = count_statement(&db, d.route, stats_reason::PASSED, now_ms)?;
    db.batch(vec![insert, counter]).await?;
    Ok(())
}

fn insert_statement(db: &D1Database, d: &NewDelivery<'_>) -> Result<D1PreparedStatement, Fail> {
    Ok(db
        .prepare(
            "INSERT INTO webhook_deliveries (id, route, method, path, received_at, size, content_type, headers,
                sender, status, reason, limit_bytes, origin_status, origin_error, attempts, replays,
                next_attempt_at, last_attempt_at, delivered_at, payload_key, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, ?16, ?17, ?18, ?19, ?5)",
        )
        .bind(&[
            s(d.id),
            s(d.route),
            s(d.method),
            s(d.path),
            n(d.received_at),
            opt(d.size),
            s(d.content_type),
            s(d.headers),
            s(d.sender),
            s(d.status.as_str()),
            opt_s(d.reason.map(HoldReason::as_str)),
            opt(d.limit_bytes),
            opt(d.origin_status.map(u64::from)),
            s(d.origin_error),
            n(u64::from(d.attempts)),
            opt(d.next_attempt_at),
            opt(d.last_attempt_at()),
            opt(d.delivered_at),
            opt_s(d.payload_key),
        ])?)
}

/// One delivery.
pub(super) async fn get_delivery(env: &Env, id: &str) -> Result<Option<DeliveryRow>, Fail> {
    Ok(db(env)?
        .prepare(format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = ?1"
        ))
        .bind(&[s(id)])?
        .first(None)
        .await?)
}

/// Deliveries matching the query, newest first.
pub(super) async fn list_deliveries(
    env: &Env,
    q: &DeliveryQuery,
) -> Result<Vec<DeliveryRow>, Fail> {
    let like = q.like_pattern();
    let r = db(env)?
        .prepare(format!(
            "SELECT {COLUMNS} FROM webhook_deliveries
             WHERE (?1 IS NULL OR instr(',' || ?1 || ',', ',' || status || ',') > 0)
               AND (?2 IS NULL OR route = ?2)
               AND (?3 IS NULL OR received_at >= ?3)
               AND (?4 IS NULL OR received_at < ?4)
               AND (?5 IS NULL OR sender LIKE ?5 ESCAPE '\\' OR path LIKE ?5 ESCAPE '\\'
                    OR content_type LIKE ?5 ESCAPE '\\' OR id = ?6)
             ORDER BY received_at DESC LIMIT ?7"
        ))
        .bind(&[
            opt_s(q.status_list().as_deref()),
            opt_s(q.route.as_deref()),
            opt(q.since),
            opt(q.until),
            opt_s(like.as_deref()),
            opt_s(q.query.as_deref()),
            n(u64::from(q.limit)),
        ])?
        .all()
        .await?;
    Ok(lenient_rows(r.results()?, "list"))
}

/// Records one attempt.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub(super) async fn record_attempt(
    env: &Env,
    delivery_id: &str,
    number: u32,
    kind: &str,
    at: u64,
    origin_status: Option<u16>,
    error: &str,
    duration_ms: u64,
) -> Result<(), Fail> {
    db(env)?
        .prepare(
            "INSERT INTO webhook_attempts (delivery_id, n, kind, at, origin_status, error, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (delivery_id, n) DO NOTHING",
        )
        .bind(&[
            s(delivery_id),
            n(u64::from(number)),
            s(kind),
            n(at),
            opt(origin_status.map(u64::from)),
            s(error),
            n(duration_ms),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Attempts of a delivery, oldest first.
pub(super) async fn list_attempts(env: &Env, delivery_id: &str) -> Result<Vec<Value>, Fail> {
    let r = db(env)?
        .prepare(
            "SELECT n, kind, at, origin_status, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY n LIMIT 100",
        )
        .bind(&[s(delivery_id)])?
        .all()
        .await?;
    Ok(r.results()?)
}

/// Applies a transition after a retry or replay. `limit_bytes` is the route's limit at this
/// attempt, so a size hold is unblocked only by a later change of the limit.
pub(super) async fn apply_transition(
    env: &Env,
    id: &str,
    t: &Transition,
    origin_status: Option<u16>,
    detail: &str,
    limit_bytes: Option<u64>,
    now_ms: u64,
) -> Result<(), Fail> {
    db(env)?
        .prepare(
            "UPDATE webhook_deliveries SET status = ?2, reason = ?3, attempts = ?4, replays = ?5,
                next_attempt_at = ?6, origin_status = ?7, origin_error = ?8, last_attempt_at = ?9,
                delivered_at = CASE WHEN ?10 THEN ?9 ELSE delivered_at END, updated_at = ?9,
                limit_bytes = ?11
             WHERE id = ?1",
        )
        .bind(&[
            s(id),
            s(t.status.as_str()),
            opt_s(t.reason.map(HoldReason::as_str)),
            n(u64::from(t.auto_attempts)),
            n(u64::from(t.replays)),
            opt(t.next_attempt_at),
            opt(origin_status.map(u64::from)),
            s(detail),
            n(now_ms),
            JsValue::from_bool(t.delivered_now),
            opt(limit_bytes),
        ])?
        .run()
        .await?;
    Ok(())
}

/// What the sweep schedules (`SweepFilter`, oldest first, at most `SWEEP_BATCH`): retries
/// whose alarm is overdue and size holds that their route's current limit unblocks. The query
/// applies the whole rule, so holds that wait for a person never fill the batch.
pub(super) async fn sweep_candidates(
    env: &Env,
    filter: &SweepFilter,
) -> Result<Vec<DeliveryRow>, Fail> {
    let r = db(env)?
        .prepare(format!(
            "SELECT {COLUMNS} FROM webhook_deliveries AS d WHERE {}
             ORDER BY d.received_at LIMIT ?4",
            SweepFilter::where_sql(1, 2, 3)
        ))
        .bind(&[
            n(filter.overdue_before),
            s(&filter.routes_json()),
            s(&filter.size_limits_json()),
            n(u64::from(SWEEP_BATCH)),
        ])?
        .all()
        .await?;
    Ok(lenient_rows(r.results()?, "sweep"))
}

/// Delivery rows read one by one: a row that does not read (written by an older version, or
/// by hand) is logged and left out, so one bad row never takes a listing down.
fn lenient_rows(raw: Vec<Value>, what: &str) -> Vec<DeliveryRow> {
    raw.into_iter()
        .filter_map(|v| {
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            match serde_json::from_value::<DeliveryRow>(v) {
                Ok(row) => Some(row),
                Err(e) => {
                    worker::console_error!("{what}: delivery row {id} does not read: {e}");
                    None
                }
            }
        })
        .collect()
}

/// Claims an alert key; `true` when this caller is the first (the key is the primary key, so
/// two concurrent holds cannot both claim the window).
pub(super) async fn claim_alert(
    env: &Env,
    key: &str,
    kind: &str,
    route: &str,
    delivery_id: &str,
    now_ms: u64,
) -> Result<bool, Fail> {
    let r = db(env)?
        .prepare(
            "INSERT INTO webhook_alerts (key, kind, route, delivery_id, created_at, status, sink_status, error)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, '')
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&[s(key), s(kind), s(route), s(delivery_id), n(now_ms)])?
        .run()
        .await?;
    Ok(r.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// Records how an alert ended. Terminal: nothing follows from it.
pub(super) async fn finish_alert(env: &Env, key: &str, record: &AlertRecord) -> Result<(), Fail> {
    let (status, error) = match record {
        AlertRecord::Sent { status } => (Some(*status), String::new()),
        AlertRecord::Failed { status, error } => (*status, error.clone()),
        AlertRecord::NotConfigured => (None, "BACKSTOP_ALERT_WEBHOOK_URL is not set".into()),
    };
    db(env)?
        .prepare(
            "UPDATE webhook_alerts SET status = ?2, sink_status = ?3, error = ?4 WHERE key = ?1",
        )
        .bind(&[
            s(key),
            s(record.status()),
            opt(status.map(u64::from)),
            s(&error),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Recent alerts, newest first.
pub(super) async fn list_alerts(env: &Env, delivery_id: Option<&str>) -> Result<Vec<Value>, Fail> {
    let r = db(env)?
        .prepare(
            "SELECT key, kind, route, delivery_id, created_at, status, sink_status, error FROM webhook_alerts
             WHERE (?1 IS NULL OR delivery_id = ?1) ORDER BY created_at DESC LIMIT 200",
        )
        .bind(&[opt_s(delivery_id)])?
        .all()
        .await?;
    Ok(r.results()?)
}

/// Adds one to a route's counter for the current minute.
pub(super) async fn count(env: &Env, route: &str, reason: &str, now_ms: u64) -> Result<(), Fail> {
    count_statement(&db(env)?, route, reason, now_ms)?
        .run()
        .await?;
    Ok(())
}

fn count_statement(
    db: &D1Database,
    route: &str,
    reason: &str,
    now_ms: u64,
) -> Result<D1PreparedStatement, Fail> {
    Ok(db
        .prepare(
            "INSERT INTO stats (project, minute, reason, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (project, minute, reason) DO UPDATE SET count = count + 1",
        )
        .bind(&[s(&stats_scope(route)), n(minute_bucket(now_ms)), s(reason)])?)
}

/// Counts, logging instead of failing (a counter must never fail a delivery).
pub(super) async fn count_logged(env: &Env, route: &str, reason: &str, now_ms: u64) {
    if let Err(e) = count(env, route, reason, now_ms).await {
        worker::console_error!("could not count {reason} for route {route}: {}", e.0);
    }
}

/// Per-route totals by reason and per-minute counts of the last 24 hours (`stats_summary`).
pub(super) async fn stats(env: &Env, now_ms: u64) -> Result<Value, Fail> {
    let since = stats_since(now_ms);
    let r = db(env)?
        .prepare(
            "SELECT project, minute, reason, count FROM stats
             WHERE project LIKE 'webhook:%' AND minute >= ?1 ORDER BY minute, project, reason",
        )
        .bind(&[n(since)])?
        .all()
        .await?;
    let rows: Vec<StatRow> = r.results()?;
    Ok(stats_summary(since, &rows))
}
