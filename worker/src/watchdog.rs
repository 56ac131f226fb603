//! The silence watchdog and the install probe on D1. Signals (events and sessions) are counted
//! per hour and environment as they arrive; a watch that was new or down is judged at once
//! (so "it came back" is told as soon as it does), every other move is the cron's tick. The
//! install probe fetches each project's `site_url` from the cron. Every decision is
//! `backstop_server_core::watchdog` / `backstop_server_core::install_probe`; this file counts, fetches and
//! stores.

use std::collections::BTreeMap;

use backstop_guard_core::decision::AttemptResult;
use backstop_server_core::alerting::{PdAction, Trigger};
use backstop_server_core::config::Config;
use backstop_server_core::install_probe::{
    self, find_tag, on_probe, ProbeAlert, ProbeState, TagCheck, MAX_SCAN_BYTES,
};
use backstop_server_core::watchdog::{
    self, epoch_hour, expected_per_hour, on_signal, on_tick, threshold_ms, HourlyHistory, Watch,
    WatchdogAlert, WatchdogState, HISTORY_WEEKS, WEEK_HOURS,
};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Env;

use crate::alerts::notify_project;
use crate::error::StorageError;
use crate::store::{db, n, num, rows, s};

/// How long fetching a site may take.
const PROBE_TIMEOUT_MS: u64 = 10_000;

/// One hour of signals.
#[derive(Deserialize)]
struct Hour {
    #[serde(deserialize_with = "num")]
    hour: u64,
    #[serde(deserialize_with = "num")]
    count: u64,
}

#[derive(Deserialize)]
struct WatchRow {
    project: String,
    environment: String,
    json: String,
}

fn read_watch(json: &str) -> Watch {
    serde_json::from_str(json).unwrap_or_default()
}

/// Counts signals and judges watches that were new or down. Never fails the ingest.
pub(crate) async fn record_signals(
    env: &Env,
    project: &str,
    by_env: BTreeMap<String, u64>,
    origin: &str,
    now_ms: u64,
) {
    if by_env.is_empty() {
        return;
    }
    if let Err(e) = record_inner(env, project, &by_env, origin, now_ms).await {
        worker::console_error!("watchdog signals of {project}: {}", e.0);
    }
}

async fn record_inner(
    env: &Env,
    project: &str,
    by_env: &BTreeMap<String, u64>,
    origin: &str,
    now_ms: u64,
) -> Result<(), StorageError> {
    let db = db(env)?;
    let hour = epoch_hour(now_ms);
    let fresh = serde_json::to_string(&Watch::default()).unwrap_or_default();
    let mut statements = Vec::new();
    for (environment, count) in by_env {
        statements.push(
            db.prepare(
                "INSERT INTO signal_hourly (project, environment, hour, count) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project, environment, hour) DO UPDATE SET count = count + excluded.count",
            )
            .bind(&[s(project), s(environment), n(hour), n(*count)])?,
        );
        statements.push(
            db.prepare(
                "INSERT INTO watchdog (project, environment, last_signal_ms, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project, environment) DO UPDATE SET last_signal_ms = max(last_signal_ms, excluded.last_signal_ms)",
            )
            .bind(&[s(project), s(environment), n(now_ms), s(&fresh)])?,
        );
    }
    statements.push(
        db.prepare("SELECT project, environment, json FROM watchdog WHERE project = ?1")
            .bind(&[s(project)])?,
    );
    let r = db.batch(statements).await?;
    let watches: Vec<WatchRow> = match r.last() {
        Some(x) => rows(x, "watch")?,
        None => Vec::new(),
    };
    for w in watches
        .into_iter()
        .filter(|w| by_env.contains_key(&w.environment))
    {
        let watch = read_watch(&w.json);
        if !matches!(watch.state, WatchdogState::New | WatchdogState::Down) {
            continue;
        }
        let (next, alert) = on_signal(watch, now_ms);
        if !save_watch(env, &w, &watch, &next).await? {
            continue;
        }
        if let Some(a) = alert {
            send_watch_alert(env, project, &w.environment, &a, origin, now_ms).await;
        }
    }
    Ok(())
}

/// Writes a watch if nobody changed it meanwhile; false when someone did (they alert).
async fn save_watch(
    env: &Env,
    row: &WatchRow,
    before: &Watch,
    next: &Watch,
) -> Result<bool, StorageError> {
    if before == next {
        return Ok(false);
    }
    let r = db(env)?
        .prepare(
            "UPDATE watchdog SET json = ?4 WHERE project = ?1 AND environment = ?2 AND json = ?3",
        )
        .bind(&[
            s(&row.project),
            s(&row.environment),
            s(&row.json),
            s(&serde_json::to_string(next).unwrap_or_default()),
        ])?
        .run()
        .await?;
    Ok(r.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

async fn send_watch_alert(
    env: &Env,
    project: &str,
    environment: &str,
    a: &WatchdogAlert,
    origin: &str,
    now_ms: u64,
) {
    let text = watchdog::message(a, project, environment);
    let episode = format!("watchdog:{project}:{environment}");
    let (trigger, action) = match a {
        WatchdogAlert::WentDown { threshold_ms, .. } => (
            Trigger::Silent {
                window_min: u32::try_from(threshold_ms / 60_000).unwrap_or(u32::MAX),
                usual: 0,
            },
            PdAction::Trigger,
        ),
        WatchdogAlert::CameBack { .. } => (Trigger::Resolved, PdAction::Resolve),
    };
    notify_project(
        env, project, &episode, trigger, text, origin, action, now_ms,
    )
    .await;
}

/// The cron's tick: every watch is judged against its project's expected rate.
pub(crate) async fn tick(env: &Env, config: &Config, now_ms: u64) {
    if let Err(e) = tick_inner(env, config, now_ms).await {
        worker::console_error!("watchdog tick: {}", e.0);
    }
}

async fn tick_inner(env: &Env, config: &Config, now_ms: u64) -> Result<(), StorageError> {
    #[derive(Deserialize)]
    struct Rel {
        release: String,
        #[serde(deserialize_with = "num")]
        first_seen: u64,
    }
    let db = db(env)?;
    let r = db
        .prepare("SELECT project, environment, json FROM watchdog")
        .all()
        .await?;
    let watches: Vec<WatchRow> = rows(&r, "watch")?;
    let oldest = epoch_hour(now_ms).saturating_sub(WEEK_HOURS * HISTORY_WEEKS);
    for w in watches {
        let Some(project) = config.project(&w.project) else {
            continue;
        };
        let cfg = project.watchdog_config();
        let r = db
            .batch(vec![
                db.prepare(
                    "SELECT hour, count FROM signal_hourly WHERE project = ?1 AND environment = ?2 AND hour >= ?3",
                )
                .bind(&[s(&w.project), s(&w.environment), n(oldest)])?,
                db.prepare(
                    "SELECT release, first_seen FROM releases WHERE project = ?1 AND environment = ?2
                     ORDER BY first_seen DESC LIMIT 20",
                )
                .bind(&[s(&w.project), s(&w.environment)])?,
                db.prepare("DELETE FROM signal_hourly WHERE project = ?1 AND environment = ?2 AND hour < ?3")
                    .bind(&[s(&w.project), s(&w.environment), n(oldest)])?,
            ])
            .await?;
        let hours: Vec<Hour> = match r.first() {
            Some(x) => rows(x, "signal hour")?,
            None => Vec::new(),
        };
        let releases: Vec<(String, u64)> = match r.get(1) {
            Some(x) => rows::<Rel>(x, "release")?
                .into_iter()
                .map(|r| (r.release, r.first_seen))
                .collect(),
            None => Vec::new(),
        };
        let history = HourlyHistory::from_buckets(hours.into_iter().map(|h| (h.hour, h.count)));
        let expected = expected_per_hour(&history, now_ms);
        let watch = read_watch(&w.json);
        let (next, alert) = on_tick(watch, now_ms, expected, &cfg, &releases);
        if !save_watch(env, &w, &watch, &next).await? {
            continue;
        }
        if let Some(a) = alert {
            send_watch_alert(env, &w.project, &w.environment, &a, "", now_ms).await;
        }
    }
    Ok(())
}

/// The watches of a project, for the dashboard: state, last signal, and the silence that
/// would count as down now.
pub(crate) async fn overview(
    env: &Env,
    config: &Config,
    project: &str,
    now_ms: u64,
) -> Result<Value, StorageError> {
    let db = db(env)?;
    let r = db
        .prepare("SELECT project, environment, json FROM watchdog WHERE project = ?1 ORDER BY environment")
        .bind(&[s(project)])?
        .all()
        .await?;
    let cfg = config
        .project(project)
        .map(|p| p.watchdog_config())
        .unwrap_or_default();
    let mut out = Vec::new();
    for w in rows::<WatchRow>(&r, "watch")? {
        let r = db
            .prepare("SELECT hour, count FROM signal_hourly WHERE project = ?1 AND environment = ?2 AND hour >= ?3")
            .bind(&[s(project), s(&w.environment), n(epoch_hour(now_ms).saturating_sub(WEEK_HOURS * HISTORY_WEEKS))])?
            .all()
            .await?;
        let history = HourlyHistory::from_buckets(
            rows::<Hour>(&r, "signal hour")?
                .into_iter()
                .map(|h| (h.hour, h.count)),
        );
        let expected = expected_per_hour(&history, now_ms);
        let watch = read_watch(&w.json);
        out.push(json!({
            "environment": w.environment,
            "state": watch.state.as_str(),
            "last_signal_ms": watch.last_signal_ms,
            "since_ms": watch.since_ms,
            "expected_per_hour": expected,
            "down_after_ms": threshold_ms(expected, &cfg),
        }));
    }
    let probe = db
        .prepare("SELECT site_url, checked_at, result, json FROM install_probe WHERE project = ?1")
        .bind(&[s(project)])?
        .all()
        .await?;
    let probe: Vec<Value> = probe.results()?;
    Ok(json!({ "watches": out, "config": cfg, "install_probe": probe.first() }))
}

/// The cron's install probe: each project with a `site_url` is fetched and checked for its tag.
pub(crate) async fn probe_sites(env: &Env, config: &Config, now_ms: u64) {
    for (id, p) in &config.projects {
        let Some(site) = &p.site_url else { continue };
        if let Err(e) = probe_one(env, id, &p.public_key, site, now_ms).await {
            worker::console_error!("install probe of {id}: {}", e.0);
        }
    }
}

async fn probe_one(
    env: &Env,
    project: &str,
    key: &str,
    site: &str,
    now_ms: u64,
) -> Result<(), StorageError> {
    #[derive(Deserialize)]
    struct Row {
        json: String,
    }
    let check = fetch_page(site).await.map(|html| find_tag(&html, &[], key));
    let result = match &check {
        Ok(TagCheck::Present { src }) => format!("tag present: {src}"),
        Ok(TagCheck::Missing { why }) => format!("tag missing: {why}"),
        Err(e) => format!("could not fetch: {e}"),
    };
    let db = db(env)?;
    let r = db
        .prepare("SELECT json FROM install_probe WHERE project = ?1")
        .bind(&[s(project)])?
        .all()
        .await?;
    let before_json = rows::<Row>(&r, "probe")?.into_iter().next().map(|r| r.json);
    let before: ProbeState = before_json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let (next, alert) = on_probe(before, check, now_ms);
    let next_json = serde_json::to_string(&next).unwrap_or_default();
    // Claimed on the old state, so two overlapping crons alert once.
    let claimed = match &before_json {
        Some(old) => db
            .prepare("UPDATE install_probe SET json = ?2, checked_at = ?3, result = ?4, site_url = ?5 WHERE project = ?1 AND json = ?6")
            .bind(&[s(project), s(&next_json), n(now_ms), s(&result), s(site), s(old)])?
            .run()
            .await?,
        None => db
            .prepare("INSERT INTO install_probe (project, site_url, checked_at, result, json) VALUES (?1, ?2, ?3, ?4, ?5)
                      ON CONFLICT (project) DO NOTHING")
            .bind(&[s(project), s(site), n(now_ms), s(&result), s(&next_json)])?
            .run()
            .await?,
    };
    if claimed.meta()?.and_then(|m| m.changes).unwrap_or(0) == 0 {
        return Ok(());
    }
    let Some(a) = alert else { return Ok(()) };
    let text = install_probe::message(&a, site);
    let episode = format!("probe:{project}");
    let (trigger, action) = match a {
        ProbeAlert::TagMissing { .. } | ProbeAlert::Unreachable { .. } => (
            Trigger::Silent {
                window_min: 0,
                usual: 0,
            },
            PdAction::Trigger,
        ),
        ProbeAlert::TagBack => (Trigger::Resolved, PdAction::Resolve),
    };
    notify_project(env, project, &episode, trigger, text, "", action, now_ms).await;
    Ok(())
}

/// The site's HTML (at most [`MAX_SCAN_BYTES`] of it).
async fn fetch_page(site: &str) -> Result<String, String> {
    let headers = vec![
        (
            "user-agent".to_string(),
            "Backstop-InstallProbe/1".to_string(),
        ),
        ("accept".to_string(), "text/html".to_string()),
        (
            backstop_guard_core::headers::ALERT_MARKER.to_string(),
            "1".to_string(),
        ),
    ];
    let attempt = crate::webhook::proxy::send(site, "GET", &headers, None, PROBE_TIMEOUT_MS).await;
    let resp = match (attempt.result, attempt.response) {
        (AttemptResult::Status(200..=299), Some(r)) => r,
        (AttemptResult::Status(st), _) => return Err(format!("the site answered {st}")),
        (AttemptResult::Timeout, _) => {
            return Err(format!("no answer within {PROBE_TIMEOUT_MS} ms"))
        }
        (AttemptResult::Unreachable(e), _) => return Err(e),
    };
    let Some(body) = resp.body() else {
        return Ok(String::new());
    };
    let bytes = crate::webhook::read_prefix(body, MAX_SCAN_BYTES, PROBE_TIMEOUT_MS).await;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
