//! D1 and R2 access: the index row per event, issues, per-minute outcome counts.
//! Every statement is parameterised; all values come from core types.
//!
//! D1 hands numbers to JavaScript as `f64`, so every number stored saturates below 2^53
//! ([`n`], and `MIN(..., MAX_STORED_INT)` where SQL adds), and rows are read leniently: numbers
//! as any number, repaired into range, and a row that still does not read is skipped with a
//! log line, so one bad row never takes a list down.

use backstop_server_core::event::EventSummary;
use backstop_server_core::fault::FaultKind;
use backstop_server_core::query::EventQuery;
use backstop_server_core::session::crash_free_rate;
use backstop_server_core::stats::{
    minute_bucket, stored_int, stored_int_from_f64, CounterRow, DaySummary, Outcome, MAX_STORED_INT,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, D1PreparedStatement, D1Result, Env};

use crate::error::StorageError;
use crate::fault;

/// D1 binding name.
pub(crate) const DB: &str = "DB";
/// R2 binding name.
pub(crate) const BUCKET: &str = "BUCKET";

/// The D1 binding; every statement goes through it (the webhook guard's too), so a test fault
/// window is applied here, once.
pub(crate) fn db(env: &Env) -> Result<D1Database, worker::Error> {
    let db = env.d1(DB)?;
    if fault::is_active(env, FaultKind::D1) || crate::pipeline::d1_forced_to_fail() {
        return fault::failing_d1(db);
    }
    Ok(db)
}

/// The R2 binding; every object access goes through it (the webhook guard's too), so a test
/// fault window is applied here, once.
pub(crate) fn bucket(env: &Env) -> Result<Bucket, worker::Error> {
    let bucket = env.bucket(BUCKET)?;
    if fault::is_active(env, FaultKind::R2) {
        return fault::failing_bucket(bucket);
    }
    Ok(bucket)
}

pub(crate) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// A number to bind, saturated at what D1 round-trips.
pub(crate) fn n(v: u64) -> JsValue {
    JsValue::from_f64(stored_int(v) as f64)
}

pub(crate) fn opt(v: Option<u64>) -> JsValue {
    v.map_or(JsValue::NULL, n)
}

/// Adds `count` to the project's outcome counter for the current minute.
pub(crate) async fn count_outcome(
    env: &Env,
    project: &str,
    outcome: Outcome,
    now_ms: u64,
) -> Result<(), StorageError> {
    db(env)?
        .prepare(format!(
            "INSERT INTO stats (project, minute, reason, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (project, minute, reason) DO UPDATE SET count = MIN(count + 1, {MAX_STORED_INT})"
        ))
        .bind(&[s(project), n(minute_bucket(now_ms)), s(outcome.as_str())])?
        .run()
        .await?;
    Ok(())
}

/// One event's index row, payload inline or (too large for a row) put in R2 first, to be
/// written by [`crate::triage::record_events`] in the transaction that counts it: the row
/// carries `nonce` (unique per job attempt) and `ON CONFLICT DO NOTHING` keeps a repeated
/// `event_id` (a redelivered job, an SDK's retry) stored once and counted once.
pub(crate) async fn event_row(
    env: &Env,
    project: &str,
    summary: &EventSummary,
    payload: &Value,
    received_ms: u64,
    inline_limit: u64,
    nonce: &str,
) -> Result<D1PreparedStatement, StorageError> {
    let raw = payload.to_string();
    let size = raw.len() as u64;
    let (inline, r2_key) = if size <= inline_limit {
        (s(&raw), JsValue::NULL)
    } else {
        let key = format!("events/{project}/{}.json", summary.event_id);
        bucket(env)?.put(&key, raw.into_bytes()).execute().await?;
        (JsValue::NULL, s(&key))
    };
    let tags = serde_json::to_string(&summary.tags).unwrap_or_else(|_| "{}".into());
    let frames = serde_json::to_string(&summary.frames).unwrap_or_else(|_| "[]".into());
    let insert = db(env)?
        .prepare(
            "INSERT INTO events (project, event_id, received_at, timestamp, level, kind, type, message, url,
                release, environment, user_email, tags, fingerprint, title, culprit, frames, size, payload, payload_r2_key,
                ingest_nonce)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
             ON CONFLICT (project, event_id) DO NOTHING",
        )
        .bind(&[
            s(project),
            s(&summary.event_id),
            n(received_ms),
            n(summary.timestamp),
            s(&summary.level),
            s(&summary.kind),
            s(&summary.exc_type),
            s(&summary.message),
            s(&summary.url),
            s(&summary.release),
            s(&summary.environment),
            s(&summary.user_email),
            s(&tags),
            s(&summary.fingerprint),
            s(&summary.title),
            s(&summary.culprit),
            s(&frames),
            n(size),
            inline,
            r2_key,
            s(nonce),
        ])?;
    Ok(insert)
}

/// Reads a stored number leniently (see the module doc): any number, repaired into range.
pub(crate) fn num<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(v) => v.as_u64().map_or_else(
            || stored_int_from_f64(v.as_f64().unwrap_or(0.0)),
            stored_int,
        ),
        Value::String(v) => v.trim().parse::<f64>().map_or(0, stored_int_from_f64),
        _ => 0,
    })
}

/// Rows one by one: a row that does not read as `T` is skipped with a log line.
pub(crate) fn rows<T: DeserializeOwned>(
    result: &D1Result,
    what: &str,
) -> Result<Vec<T>, StorageError> {
    let raw: Vec<Value> = result.results()?;
    Ok(raw
        .into_iter()
        .filter_map(|row| read_row(row, what))
        .collect())
}

fn read_row<T: DeserializeOwned>(row: Value, what: &str) -> Option<T> {
    serde_json::from_value(row)
        .map_err(|e| worker::console_error!("skipping a {what} row that does not read: {e}"))
        .ok()
}

/// One event's index row as the API returns it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EventRow {
    event_id: String,
    #[serde(deserialize_with = "num")]
    received_at: u64,
    #[serde(deserialize_with = "num")]
    timestamp: u64,
    level: String,
    kind: String,
    #[serde(rename = "type")]
    ty: String,
    message: String,
    url: String,
    fingerprint: String,
    title: String,
    culprit: String,
    #[serde(deserialize_with = "num")]
    size: u64,
    release: String,
    environment: String,
    user_email: String,
}

const EVENT_COLUMNS: &str =
    "event_id, received_at, timestamp, level, kind, type, message, url, fingerprint,
    title, culprit, size, release, environment, user_email";

/// Events of a project matching the query, newest first.
pub(crate) async fn list_events(
    env: &Env,
    project: &str,
    q: &EventQuery,
) -> Result<Vec<EventRow>, StorageError> {
    let like = q.like_pattern();
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE project = ?1
           AND (?2 IS NULL OR received_at >= ?2)
           AND (?3 IS NULL OR received_at < ?3)
           AND (?4 IS NULL OR message LIKE ?4 ESCAPE '\\' OR type LIKE ?4 ESCAPE '\\' OR url LIKE ?4 ESCAPE '\\'
                OR tags LIKE ?4 ESCAPE '\\' OR user_email LIKE ?4 ESCAPE '\\' OR title LIKE ?4 ESCAPE '\\')
         ORDER BY received_at DESC LIMIT ?5"
    );
    let r = db(env)?
        .prepare(sql)
        .bind(&[
            s(project),
            opt(q.since),
            opt(q.until),
            like.as_deref().map_or(JsValue::NULL, s),
            n(u64::from(q.limit)),
        ])?
        .all()
        .await?;
    rows(&r, "event")
}

#[derive(Deserialize)]
struct EventDetailRow {
    #[serde(flatten)]
    row: EventRow,
    tags: String,
    frames: String,
    payload: Option<String>,
    payload_r2_key: Option<String>,
}

/// One event with its frames, tags and raw payload, or `None`.
pub(crate) async fn get_event(
    env: &Env,
    project: &str,
    event_id: &str,
) -> Result<Option<Value>, StorageError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, tags, frames, payload, payload_r2_key FROM events WHERE project = ?1 AND event_id = ?2"
    );
    let row: Option<Value> = db(env)?
        .prepare(sql)
        .bind(&[s(project), s(event_id)])?
        .first(None)
        .await?;
    let Some(row) = row.and_then(|r| read_row::<EventDetailRow>(r, "event")) else {
        return Ok(None);
    };
    let raw = match (row.payload, row.payload_r2_key) {
        (Some(p), _) => p,
        (None, Some(key)) => match bucket(env)?.get(&key).execute().await? {
            Some(obj) => match obj.body() {
                Some(body) => body.text().await?,
                None => String::from("null"),
            },
            None => String::from("null"),
        },
        (None, None) => String::from("null"),
    };
    let mut event = serde_json::to_value(&row.row).map_err(|e| StorageError(e.to_string()))?;
    event["frames"] = serde_json::from_str(&row.frames).unwrap_or(Value::Array(Vec::new()));
    event["tags"] = serde_json::from_str(&row.tags).unwrap_or(Value::Object(Default::default()));
    let payload: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    event["scrubbed"] = payload
        .get(backstop_server_core::pipeline::SCRUB_REPORT_KEY)
        .cloned()
        .unwrap_or(Value::Null);
    let r = db(env)?
        .prepare("SELECT seq, filename, content_type, size FROM attachments WHERE project = ?1 AND event_id = ?2 ORDER BY seq")
        .bind(&[s(project), s(event_id)])?
        .all()
        .await?;
    let attachments: Vec<AttachmentRow> = rows(&r, "attachment")?;
    event["attachments"] = serde_json::to_value(&attachments).unwrap_or(Value::Array(Vec::new()));
    Ok(Some(
        serde_json::json!({ "event": event, "payload": payload }),
    ))
}

#[derive(Debug, Serialize, Deserialize)]
struct AttachmentRow {
    #[serde(deserialize_with = "num")]
    seq: u64,
    filename: String,
    content_type: String,
    #[serde(deserialize_with = "num")]
    size: u64,
}

/// An attachment's name, content type and bytes.
pub(crate) async fn get_attachment(
    env: &Env,
    project: &str,
    event_id: &str,
    seq: u64,
) -> Result<Option<(String, String, Vec<u8>)>, StorageError> {
    #[derive(Deserialize)]
    struct Row {
        filename: String,
        content_type: String,
        r2_key: String,
    }
    let row: Option<Value> = db(env)?
        .prepare("SELECT filename, content_type, r2_key FROM attachments WHERE project = ?1 AND event_id = ?2 AND seq = ?3")
        .bind(&[s(project), s(event_id), n(seq)])?
        .first(None)
        .await?;
    let Some(row) = row.and_then(|r| read_row::<Row>(r, "attachment")) else {
        return Ok(None);
    };
    let Some(obj) = bucket(env)?.get(&row.r2_key).execute().await? else {
        return Ok(None);
    };
    let bytes = match obj.body() {
        Some(body) => body.bytes().await?,
        None => Vec::new(),
    };
    Ok(Some((row.filename, row.content_type, bytes)))
}

#[derive(Debug, Serialize, Deserialize)]
struct StatRow {
    #[serde(deserialize_with = "num")]
    minute: u64,
    reason: String,
    #[serde(deserialize_with = "num")]
    count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct HourRow {
    #[serde(deserialize_with = "num")]
    hour: u64,
    reason: String,
    #[serde(deserialize_with = "num")]
    count: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionRow {
    release: String,
    environment: String,
    #[serde(deserialize_with = "num")]
    started: u64,
    #[serde(deserialize_with = "num")]
    errored: u64,
    #[serde(deserialize_with = "num")]
    crashed: u64,
    #[serde(deserialize_with = "num")]
    abnormal: u64,
}

/// Outcome totals and per-minute counts of the last 24 hours, items by type, the SDKs' own
/// drops, the items dropped here, release health (crash-free rate per release), what retention
/// deleted in the last 24 hours, and the outcomes per hour of the last 90 days (the rollup of
/// minutes older than 24 h, see `crate::retention`).
pub(crate) async fn stats(env: &Env, project: &str, now_ms: u64) -> Result<Value, StorageError> {
    let since = minute_bucket(now_ms).saturating_sub(24 * 3600 * 1000);
    let db = db(env)?;
    let r = db
        .prepare("SELECT minute, reason, count FROM stats WHERE project = ?1 AND minute >= ?2 ORDER BY minute, reason")
        .bind(&[s(project), n(since)])?
        .all()
        .await?;
    let rows_: Vec<StatRow> = rows(&r, "stats")?;
    let counters: Vec<CounterRow> = rows_
        .iter()
        .map(|r| CounterRow {
            minute: r.minute,
            reason: r.reason.clone(),
            count: r.count,
        })
        .collect();
    let day = DaySummary::from_rows(&counters, now_ms);
    // TOTAL (a float) never fails on overflow as SUM does; the reader repairs it into range.
    let r = db
        .prepare(format!(
            "SELECT release, environment, MIN(TOTAL(started), {MAX_STORED_INT}) AS started,
                    MIN(TOTAL(errored), {MAX_STORED_INT}) AS errored,
                    MIN(TOTAL(crashed), {MAX_STORED_INT}) AS crashed,
                    MIN(TOTAL(abnormal), {MAX_STORED_INT}) AS abnormal
             FROM sessions WHERE project = ?1 AND minute >= ?2 GROUP BY release, environment ORDER BY release"
        ))
        .bind(&[s(project), n(since)])?
        .all()
        .await?;
    let sessions: Vec<SessionRow> = rows(&r, "sessions")?;
    let sessions: Vec<Value> = sessions
        .into_iter()
        .map(|r| {
            let rate = crash_free_rate(r.started, r.crashed);
            let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
            v["crash_free_rate"] = rate.map_or(Value::Null, Value::from);
            v
        })
        .collect();
    let minutes: Vec<&StatRow> = rows_.iter().filter(|r| !r.reason.contains(':')).collect();
    let hours_since = since.saturating_sub(90 * 24 * 3600 * 1000);
    let r = db
        .prepare(
            "SELECT hour, reason, count FROM stats_hourly
             WHERE project = ?1 AND hour >= ?2 AND instr(reason, ':') = 0
             ORDER BY hour, reason",
        )
        .bind(&[s(project), n(hours_since)])?
        .all()
        .await?;
    let hours: Vec<HourRow> = rows(&r, "stats hour")?;
    Ok(serde_json::json!({
        "hours": hours,
        "retention": day.retention,
        "project": project,
        "since": since,
        "totals": day.totals,
        "minutes": minutes,
        "items": day.items,
        "client_discarded": day.client_discarded,
        "dropped_items": day.dropped_items,
        "filtered": day.filtered,
        "scrubbed": day.scrubbed,
        "pipeline": day.pipeline,
        "dead_letters": crate::pipeline::dead_letters(env, project).await?,
        "sessions": sessions,
        "symbolication": day.symbolication,
    }))
}
