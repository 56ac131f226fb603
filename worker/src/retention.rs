//! The retention cron: runs the plan of `backstop_server_core::retention` against D1 and R2, one
//! bounded batch at a time, and counts what it deleted (`retention:<table>` in `stats`, per
//! project; `*` for rows of no configured project) so progress is visible in `/stats`.
//!
//! Every batch is safe to repeat: R2 objects of expired events and attachments are deleted
//! before their rows (a failure leaves rows that the next run finds again, never an object
//! nobody points to); webhook rows are deleted first, with the status rule repeated in the
//! statement, and their payloads after, so a delivery that was replayed into `held` meanwhile
//! never loses its payload; minutes are rolled up into hours and deleted in one D1 batch (a
//! transaction), so a run that fails halfway never counts a minute twice.

use backstop_server_core::config::Config;
use backstop_server_core::retention::{plan, Run, Scope, Task, TaskKind};
use backstop_server_core::stats::{key, Namespace, MAX_STORED_INT, RETENTION_RUNS_WITH_MORE};
use serde::Deserialize;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

use crate::error::StorageError;
use crate::store::{db, n, rows, s};

/// One cron run at `now_ms` (the scheduled time of the cron event).
pub(crate) async fn run(env: &Env, config: &Config, now_ms: u64) {
    let projects: Vec<(&str, _)> = config
        .projects
        .iter()
        .map(|(id, p)| (id.as_str(), p.retention))
        .collect();
    let mut run = Run::new(plan(now_ms, &projects), config.retention, now_ms);
    while let Some(task) = run.current().cloned() {
        match batch(env, &task, run.batch_rows()).await {
            Ok(deleted) => run.record(deleted),
            Err(e) => {
                worker::console_error!(
                    "retention {} ({}) failed, left for the next run: {}",
                    task.kind.as_str(),
                    task.scope.stats_project(),
                    e.0
                );
                run.fail()
            }
        };
    }
    if let Err(e) = record(env, &run, now_ms).await {
        worker::console_error!("could not count retention deletions: {}", e.0);
    }
}

/// Adds what the run deleted to `stats` and logs it in one line.
async fn record(env: &Env, run: &Run, now_ms: u64) -> Result<(), StorageError> {
    let db = db(env)?;
    let minute = n(backstop_server_core::stats::minute_bucket(now_ms));
    let add = format!(
        "INSERT INTO stats (project, minute, reason, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project, minute, reason) DO UPDATE SET
            count = MIN(count + excluded.count, {MAX_STORED_INT})"
    );
    let mut statements = Vec::new();
    let mut summary = Vec::new();
    for r in run.reports().iter().filter(|r| r.deleted > 0) {
        let project = r.task.scope.stats_project();
        let reason = key(Namespace::Retention, r.task.kind.as_str());
        summary.push(format!("{project} {}={}", r.task.kind.as_str(), r.deleted));
        statements.push(db.prepare(&add).bind(&[
            s(project),
            minute.clone(),
            s(&reason),
            n(r.deleted),
        ])?);
    }
    if run.has_more() {
        // A marker that the backlog goes on into the next run.
        statements.push(db.prepare(&add).bind(&[
            s(backstop_server_core::stats::UNKNOWN_PROJECT),
            minute.clone(),
            s(RETENTION_RUNS_WITH_MORE),
            n(1),
        ])?);
    }
    worker::console_log!(
        "retention: {} statements, more: {}, deleted: {}",
        run.batches(),
        run.has_more(),
        if summary.is_empty() {
            "nothing".to_string()
        } else {
            summary.join(", ")
        }
    );
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// The `WHERE` fragment and its first parameter for a scope (`project` column). Unconfigured
/// projects are named by the configured ids as one `json_each` parameter.
fn scope_sql(scope: &Scope) -> (&'static str, JsValue) {
    match scope {
        Scope::Project(p) => ("project = ?1", s(p)),
        Scope::Unconfigured(ids) => (
            "project NOT IN (SELECT value FROM json_each(?1))",
            s(&serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())),
        ),
        // Tasks over whole tables do not filter by project; ?1 is bound and unused.
        Scope::All => ("?1 IS NOT NULL", s("")),
    }
}

fn changes(r: &D1Result) -> u64 {
    r.meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .map_or(0, |c| c as u64)
}

/// One batch of a task; returns the rows it deleted (or rolled up).
async fn batch(env: &Env, task: &Task, limit: u32) -> Result<u64, StorageError> {
    let db = db(env)?;
    let limit = n(u64::from(limit));
    let before = n(task.before);
    let (scope, scope_param) = scope_sql(&task.scope);
    match task.kind {
        TaskKind::RollupMinutes => rollup(&db, before, limit).await,
        TaskKind::Events => {
            expire_with_objects(
                env,
                &db,
                "events",
                "payload_r2_key",
                scope,
                scope_param,
                before,
                limit,
            )
            .await
        }
        TaskKind::Attachments => {
            expire_with_objects(
                env,
                &db,
                "attachments",
                "r2_key",
                scope,
                scope_param,
                before,
                limit,
            )
            .await
        }
        TaskKind::IssueHourly => {
            counts(
                &db,
                "issue_hourly",
                "hour",
                scope,
                scope_param,
                before,
                limit,
            )
            .await
        }
        TaskKind::SignalHourly => {
            counts(
                &db,
                "signal_hourly",
                "hour",
                scope,
                scope_param,
                before,
                limit,
            )
            .await
        }
        TaskKind::Sessions => {
            counts(&db, "sessions", "minute", scope, scope_param, before, limit).await
        }
        TaskKind::StatsHourly => {
            counts(
                &db,
                "stats_hourly",
                "hour",
                scope,
                scope_param,
                before,
                limit,
            )
            .await
        }
        TaskKind::Webhooks => webhooks(env, &db, before, limit).await,
        TaskKind::Alerts => alerts(&db, before, limit).await,
    }
}

/// Per-minute counters before the cutoff become hourly ones: the same rows (chosen by one
/// subquery, evaluated twice inside one transaction) are added to `stats_hourly` and deleted.
async fn rollup(db: &D1Database, before: JsValue, limit: JsValue) -> Result<u64, StorageError> {
    const CHOSEN: &str =
        "SELECT rowid FROM stats WHERE minute < ?1 ORDER BY minute, rowid LIMIT ?2";
    let insert = db
        .prepare(format!(
            "INSERT INTO stats_hourly (project, hour, reason, count)
             SELECT project, minute - minute % 3600000, reason, MIN(TOTAL(count), {MAX_STORED_INT})
             FROM stats WHERE rowid IN ({CHOSEN})
             GROUP BY project, minute - minute % 3600000, reason
             ON CONFLICT (project, hour, reason) DO UPDATE SET
                count = MIN(count + excluded.count, {MAX_STORED_INT})"
        ))
        .bind(&[before.clone(), limit.clone()])?;
    let delete = db
        .prepare(format!("DELETE FROM stats WHERE rowid IN ({CHOSEN})"))
        .bind(&[before, limit])?;
    let r = db.batch(vec![insert, delete]).await?;
    Ok(r.get(1).map_or(0, changes))
}

/// Rows of a count table before the cutoff (`column` in the task's unit).
async fn counts(
    db: &D1Database,
    table: &str,
    column: &str,
    scope: &str,
    scope_param: JsValue,
    before: JsValue,
    limit: JsValue,
) -> Result<u64, StorageError> {
    let r = db
        .prepare(format!(
            "DELETE FROM {table} WHERE rowid IN
                (SELECT rowid FROM {table} WHERE {scope} AND {column} < ?2 LIMIT ?3)"
        ))
        .bind(&[scope_param, before, limit])?
        .run()
        .await?;
    Ok(changes(&r))
}

/// A row chosen for deletion: its rowid (events, attachments) and its R2 object, if any.
#[derive(Deserialize)]
struct RowidKey {
    #[serde(deserialize_with = "crate::store::num")]
    rid: u64,
    key: Option<String>,
}

/// A webhook delivery deleted, and the payload it still had.
#[derive(Deserialize)]
struct DeliveryKey {
    key: Option<String>,
}

/// Deletes R2 objects (at most 1000 per call, as R2 allows; a batch has at most 500).
async fn delete_objects(env: &Env, keys: Vec<String>) -> Result<(), StorageError> {
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = crate::store::bucket(env)?;
    for chunk in keys.chunks(1000) {
        bucket.delete_multiple(chunk.to_vec()).await?;
    }
    Ok(())
}

/// Rows of `table` (events or attachments) received before the cutoff, with their R2 objects
/// (`key_column`): the objects first, then the rows (ids as one `json_each` parameter, the
/// cutoff repeated so a row is never deleted younger than its retention).
#[expect(
    clippy::too_many_arguments,
    reason = "which rows, of which project, how many"
)]
async fn expire_with_objects(
    env: &Env,
    db: &D1Database,
    table: &str,
    key_column: &str,
    scope: &str,
    scope_param: JsValue,
    before: JsValue,
    limit: JsValue,
) -> Result<u64, StorageError> {
    let r = db
        .prepare(format!(
            "SELECT rowid AS rid, {key_column} AS key FROM {table}
             WHERE {scope} AND received_at < ?2 ORDER BY received_at LIMIT ?3"
        ))
        .bind(&[scope_param, before.clone(), limit])?
        .all()
        .await?;
    let found: Vec<RowidKey> = rows(&r, table)?;
    if found.is_empty() {
        return Ok(0);
    }
    let ids: Vec<u64> = found.iter().map(|r| r.rid).collect();
    let keys: Vec<String> = found.iter().filter_map(|r| r.key.clone()).collect();
    delete_objects(env, keys).await?;
    let r = db
        .prepare(format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(?1)) AND received_at < ?2"
        ))
        .bind(&[s(&json_list(&ids)), before])?
        .run()
        .await?;
    if changes(&r) < found.len() as u64 {
        worker::console_log!("retention: fewer rows deleted than chosen (deleted meanwhile)");
    }
    // The batch's size is what was expired: a full batch means more may be waiting.
    Ok(found.len() as u64)
}

/// Delivered webhook deliveries (30 days after delivery) and refused ones (30 days after they
/// arrived), with their attempts, in one transaction; then any payload they still had. Held,
/// failed (retry pending) and exhausted deliveries are never chosen.
async fn webhooks(
    env: &Env,
    db: &D1Database,
    before: JsValue,
    limit: JsValue,
) -> Result<u64, StorageError> {
    const CHOSEN: &str = "SELECT id FROM webhook_deliveries
        WHERE (status = 'delivered' AND delivered_at < ?1) OR (status = 'refused' AND received_at < ?1)
        ORDER BY received_at LIMIT ?2";
    let statements: Vec<D1PreparedStatement> = vec![
        db.prepare(format!(
            "DELETE FROM webhook_attempts WHERE delivery_id IN ({CHOSEN})"
        ))
        .bind(&[before.clone(), limit.clone()])?,
        db.prepare(format!(
            "DELETE FROM webhook_deliveries WHERE id IN ({CHOSEN})
             RETURNING id, payload_key AS key"
        ))
        .bind(&[before, limit])?,
    ];
    let r = db.batch(statements).await?;
    let deleted: Vec<DeliveryKey> = match r.get(1) {
        Some(r) => rows(r, "expired webhook delivery")?,
        None => Vec::new(),
    };
    let keys: Vec<String> = deleted.iter().filter_map(|r| r.key.clone()).collect();
    if let Err(e) = delete_objects(env, keys).await {
        // The rows are gone; an object left behind costs storage, never a delivery.
        worker::console_error!("retention: webhook payloads left in R2: {}", e.0);
    }
    Ok(deleted.len() as u64)
}

/// Alert requests delivered or given up before the cutoff, with their attempt logs (a pending
/// one is never chosen: it is still to be sent).
async fn alerts(db: &D1Database, before: JsValue, limit: JsValue) -> Result<u64, StorageError> {
    const CHOSEN: &str = "SELECT id FROM alert_outbox
        WHERE status IN ('delivered', 'failed') AND created_at < ?1
        ORDER BY created_at LIMIT ?2";
    let statements: Vec<D1PreparedStatement> = vec![
        db.prepare(format!(
            "DELETE FROM alert_attempts WHERE alert_id IN ({CHOSEN})"
        ))
        .bind(&[before.clone(), limit.clone()])?,
        db.prepare(format!("DELETE FROM alert_outbox WHERE id IN ({CHOSEN})"))
            .bind(&[before, limit])?,
    ];
    let r = db.batch(statements).await?;
    Ok(r.get(1).map_or(0, changes))
}

fn json_list(ids: &[u64]) -> String {
    Value::from(ids.to_vec()).to_string()
}
