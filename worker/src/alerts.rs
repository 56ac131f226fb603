//! Alerts for issues: triage triggers go through the project's rules
//! (`backstop_server_core::alerting`), episodes (one notice per rule, issue and environment, again
//! only on a volume step or a reminder), storm batches (many new issues at once become one
//! message) and become rows of an outbox. An [`AlertScheduler`] Durable Object per project
//! sends what is due from its alarm and retries what a destination refused, with backoff;
//! the cron sweep pokes every project with overdue work in case an alarm was lost.
//!
//! Alerts cannot loop: nothing here is called from ingest of an alert (alerts carry the
//! webhook guard's marker, which the guard refuses with 508), a failed alert only updates its
//! outbox row (it never raises an alert and never becomes an event), and a destination URL
//! on Backstop's own origin is refused when it is saved.

use backstop_guard_core::decision::AttemptResult;
use backstop_server_core::alerting::delivery::{due_sql, settle, Attempted, Settlement};
use backstop_server_core::alerting::episode::{close, on_trigger, Episode, EpisodeKey};
use backstop_server_core::alerting::storm::{
    add as storm_add, flush as storm_flush, flush_due_sql, storm_content, BatchedIssue, Flush,
    StormBatch, StormConfig, MAX_BATCHED_ISSUES,
};
use backstop_server_core::alerting::{
    alert_headers, default_rules, pagerduty_body, parse_destination, parse_retry_after, parse_rule,
    signed_headers, slack_body, webhook_body, AlertContent, Destination, DestinationKind, PdAction,
    Rule, Trigger,
};
use backstop_server_core::alerting::{evaluate, Measured, Scope};
use backstop_server_core::error::ApiError;
use backstop_server_core::triage::Trigger as IssueTrigger;
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit};

use crate::error::{AppError, StorageError};
use crate::store::{db, n, num, opt, rows, s};
use crate::triage::{IssueRow, Triggered};

/// Durable Object binding of the scheduler.
const BINDING: &str = "ALERT_SCHEDULER";
/// How long a destination may take to answer.
const SEND_TIMEOUT_MS: u64 = 5_000;
/// Most outbox rows one alarm sends (the rest are due at once again).
const SEND_BATCH: u32 = 25;

/// The storm settings from `BACKSTOP_ALERT_STORM` (JSON, fields of `StormConfig`), else the
/// defaults (more than 5 new issues within 60 s become one message).
fn storm_config(env: &Env) -> StormConfig {
    env.var("BACKSTOP_ALERT_STORM")
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default()
}

fn issue_trigger(t: &IssueTrigger) -> Trigger {
    match t {
        IssueTrigger::NewIssue => Trigger::NewIssue,
        IssueTrigger::Regressed {
            release,
            fix_claimed,
        } => Trigger::Regression {
            release: release.clone(),
            fixed_in: Some(fix_claimed.clone()),
        },
        IssueTrigger::SnoozeWoke { why } => Trigger::SnoozeWoke { why: why.clone() },
        IssueTrigger::Escalating { this_hour, ceiling } => Trigger::Escalating {
            count: *this_hour,
            ceiling: *ceiling,
        },
    }
}

/// The project's rules: its saved ones, or the defaults until it saves any.
pub(crate) async fn rules(env: &Env, project: &str) -> Result<Vec<Rule>, StorageError> {
    let db = db(env)?;
    let r = db
        .batch(vec![
            db.prepare("SELECT project FROM alert_rules_saved WHERE project = ?1")
                .bind(&[s(project)])?,
            db.prepare("SELECT json FROM alert_rules WHERE project = ?1 ORDER BY id")
                .bind(&[s(project)])?,
        ])
        .await?;
    let saved = r
        .first()
        .map(|x| x.results::<Value>().map(|v| !v.is_empty()))
        .transpose()?
        .unwrap_or(false);
    if !saved {
        return Ok(default_rules());
    }
    let raw: Vec<Json> = match r.get(1) {
        Some(x) => rows(x, "alert rule")?,
        None => Vec::new(),
    };
    Ok(raw
        .iter()
        .filter_map(|j| serde_json::from_str::<Value>(&j.json).ok())
        .filter_map(|v| parse_rule(&v).ok())
        .collect())
}

#[derive(Deserialize)]
struct Json {
    json: String,
}

/// The project's destinations.
pub(crate) async fn destinations(
    env: &Env,
    project: &str,
) -> Result<Vec<Destination>, StorageError> {
    let r = db(env)?
        .prepare("SELECT json FROM alert_destinations WHERE project = ?1 ORDER BY created_at")
        .bind(&[s(project)])?
        .all()
        .await?;
    let raw: Vec<Json> = rows(&r, "alert destination")?;
    // Stored destinations were validated when saved; no origin check is repeated here.
    Ok(raw
        .iter()
        .filter_map(|j| serde_json::from_str::<Value>(&j.json).ok())
        .filter_map(|v| parse_destination(&v, &[]).ok())
        .collect())
}

fn content(
    rule: &Rule,
    t: &Triggered,
    trigger: Trigger,
    origin: &str,
    extra: String,
) -> AlertContent {
    let i = &t.issue;
    AlertContent {
        rule_id: rule.id.clone(),
        rule_name: rule.name.clone(),
        trigger,
        project: t.project.clone(),
        issue_id: Some(i.issue_id.to_string()),
        title: i.title.clone(),
        culprit: i.culprit.clone(),
        level: i.level.clone(),
        environment: (!t.environment.is_empty()).then(|| t.environment.clone()),
        release: (!t.release.is_empty()).then(|| t.release.clone()),
        events: i.count,
        users: i.users,
        first_seen_ms: i.first_seen,
        last_seen_ms: i.last_seen,
        link: issue_link(origin, &t.project, i.issue_id),
        extra,
    }
}

fn issue_link(origin: &str, project: &str, id: u64) -> String {
    if origin.is_empty() {
        return String::new();
    }
    format!("{origin}/?project={project}#issue={id}")
}

fn list_link(origin: &str, project: &str) -> String {
    if origin.is_empty() {
        return String::new();
    }
    format!("{origin}/?project={project}&status=unresolved")
}

/// Runs triggers through the rules. Never fails the caller: an alert problem is logged (and
/// stays visible in the outbox), it never turns an ingest or an API call into an error.
pub(crate) async fn dispatch(env: &Env, origin: &str, triggered: Vec<Triggered>, now_ms: u64) {
    if triggered.is_empty() {
        return;
    }
    let mut poke: Vec<(String, u64)> = Vec::new();
    // A consumer batch's triggers share their projects' rules: read once per project.
    let mut rules_of: Vec<(String, Vec<Rule>)> = Vec::new();
    for t in triggered {
        if !rules_of.iter().any(|(p, _)| p == &t.project) {
            match rules(env, &t.project).await {
                Ok(r) => rules_of.push((t.project.clone(), r)),
                Err(e) => {
                    worker::console_error!("alert rules of {}: {}", t.project, e.0);
                    continue;
                }
            }
        }
        let all = rules_of
            .iter()
            .find(|(p, _)| p == &t.project)
            .map_or(&[][..], |(_, r)| r.as_slice());
        match dispatch_one(env, origin, &t, all, now_ms).await {
            Ok(Some(at)) => {
                if !poke.iter().any(|(p, a)| p == &t.project && *a <= at) {
                    poke.push((t.project.clone(), at));
                }
            }
            Ok(None) => {}
            Err(e) => worker::console_error!(
                "alert for issue {} of {}: {}",
                t.issue.issue_id,
                t.project,
                e.0
            ),
        }
    }
    for (project, at) in poke {
        if let Err(e) = schedule(env, &project, at).await {
            worker::console_error!("could not schedule alerts of {project}: {}", e.0);
        }
    }
}

/// One trigger; returns when the scheduler must run.
async fn dispatch_one(
    env: &Env,
    origin: &str,
    t: &Triggered,
    all: &[Rule],
    now_ms: u64,
) -> Result<Option<u64>, StorageError> {
    let env_name = (!t.environment.is_empty()).then_some(t.environment.as_str());
    let release = (!t.release.is_empty()).then_some(t.release.as_str());
    let Some(issue_trig) = &t.trigger else {
        return volume_rules(env, origin, t, all, now_ms).await;
    };
    let trigger = issue_trigger(issue_trig);
    let mut due = None;
    for rule in all {
        if !rule.fires_on(&trigger, env_name, Some(&t.issue.level), release) {
            continue;
        }
        if matches!(trigger, Trigger::NewIssue) {
            // New issues wait in the project's storm batch: a bad deploy is one message.
            let at = add_to_storm(env, &t.project, rule, &t.issue, release, origin, now_ms).await?;
            due = min_opt(due, at);
            continue;
        }
        let key = EpisodeKey {
            rule_id: rule.id.clone(),
            issue_id: Some(t.issue.issue_id.to_string()),
            environment: env_name.map(str::to_string),
        };
        if let Some(at) =
            notify_episode(env, &key, rule, t, trigger.clone(), origin, now_ms).await?
        {
            due = min_opt(due, Some(at));
        }
    }
    Ok(due)
}

/// The issue-volume rules (`event_volume`, `user_volume`) for one stored event: counted over
/// the rule's window, judged by `evaluate`, notified through the episode.
async fn volume_rules(
    env: &Env,
    origin: &str,
    t: &Triggered,
    all: &[Rule],
    now_ms: u64,
) -> Result<Option<u64>, StorageError> {
    #[derive(Deserialize)]
    struct Count {
        #[serde(deserialize_with = "num")]
        n: u64,
    }
    let env_name = (!t.environment.is_empty()).then_some(t.environment.as_str());
    let release = (!t.release.is_empty()).then_some(t.release.as_str());
    let mut due = None;
    let applies = |r: &&Rule| {
        r.enabled
            && r.kind.scope() == Scope::Issue
            && r.filter.matches(env_name, Some(&t.issue.level), release)
    };
    for rule in all.iter().filter(applies) {
        let Some(window) = rule.kind.window_min() else {
            continue;
        };
        let since = now_ms.saturating_sub(u64::from(window) * 60_000);
        let db = db(env)?;
        let r = db
            .batch(vec![
                db.prepare(
                    "SELECT COUNT(*) AS n FROM events WHERE project = ?1 AND received_at > ?3 AND fingerprint IN
                       (SELECT fingerprint FROM issue_fingerprints WHERE project = ?1 AND issue_id = ?2)",
                )
                .bind(&[s(&t.project), n(t.issue.issue_id), n(since)])?,
                db.prepare("SELECT COUNT(*) AS n FROM issue_users WHERE project = ?1 AND issue_id = ?2 AND last_seen > ?3")
                    .bind(&[s(&t.project), n(t.issue.issue_id), n(since)])?,
            ])
            .await?;
        let count = |i: usize| -> Result<u64, StorageError> {
            Ok(match r.get(i) {
                Some(x) => rows::<Count>(x, "count")?.first().map_or(0, |c| c.n),
                None => 0,
            })
        };
        let measured = Measured {
            events: count(0)?,
            users: count(1)?,
            ..Measured::default()
        };
        let Some(trigger) = evaluate(&rule.kind, &measured) else {
            continue;
        };
        let key = EpisodeKey {
            rule_id: rule.id.clone(),
            issue_id: Some(t.issue.issue_id.to_string()),
            environment: env_name.map(str::to_string),
        };
        if let Some(at) = notify_episode(env, &key, rule, t, trigger, origin, now_ms).await? {
            due = min_opt(due, Some(at));
        }
    }
    Ok(due)
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Opens or continues the episode; queues a notice when it says so.
async fn notify_episode(
    env: &Env,
    key: &EpisodeKey,
    rule: &Rule,
    t: &Triggered,
    trigger: Trigger,
    origin: &str,
    now_ms: u64,
) -> Result<Option<u64>, StorageError> {
    let db = db(env)?;
    let id = key.id();
    let r = db
        .prepare("SELECT json FROM alert_episodes WHERE project = ?1 AND id = ?2")
        .bind(&[s(&t.project), s(&id)])?
        .all()
        .await?;
    let current: Option<Episode> = rows::<Json>(&r, "episode")?
        .first()
        .and_then(|j| serde_json::from_str(&j.json).ok());
    let (decision, next) = on_trigger(current.as_ref(), t.issue.count, now_ms, rule.reminder_ms);
    let json = serde_json::to_string(&next).unwrap_or_default();
    db.prepare(
        "INSERT INTO alert_episodes (project, id, rule_id, issue_id, json) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (project, id) DO UPDATE SET json = excluded.json",
    )
    .bind(&[s(&t.project), s(&id), s(&rule.id), n(t.issue.issue_id), s(&json)])?
    .run()
    .await?;
    if !decision.notifies() {
        return Ok(None);
    }
    let extra = decision.note(t.issue.count).unwrap_or_default();
    let c = content(rule, t, trigger, origin, extra);
    enqueue_all(
        env,
        &t.project,
        &c,
        &id,
        Some(t.issue.issue_id),
        PdAction::Trigger,
        now_ms,
    )
    .await?;
    Ok(Some(now_ms))
}

async fn add_to_storm(
    env: &Env,
    project: &str,
    rule: &Rule,
    issue: &IssueRow,
    release: Option<&str>,
    origin: &str,
    now_ms: u64,
) -> Result<Option<u64>, StorageError> {
    #[derive(Deserialize)]
    struct Opened {
        #[serde(deserialize_with = "num")]
        opened_at: u64,
    }
    let cfg = storm_config(env);
    let db = db(env)?;
    // One transaction: open the batch if none is open, add the issue, read when it opened.
    let r = db
        .batch(vec![
            db.prepare(
                "INSERT INTO alert_storms (project, rule_id, opened_at, flush_at, link) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (project, rule_id) DO NOTHING",
            )
            .bind(&[s(project), s(&rule.id), n(now_ms), n(now_ms.saturating_add(cfg.window_ms)), s(origin)])?,
            db.prepare(
                "INSERT INTO alert_storm_issues (project, rule_id, issue_id, title, release) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (project, rule_id, issue_id) DO NOTHING",
            )
            .bind(&[
                s(project),
                s(&rule.id),
                s(&issue.issue_id.to_string()),
                s(&issue.title),
                release.map_or(JsValue::NULL, s),
            ])?,
            db.prepare("SELECT opened_at FROM alert_storms WHERE project = ?1 AND rule_id = ?2")
                .bind(&[s(project), s(&rule.id)])?,
        ])
        .await?;
    let opened = match r.get(2) {
        Some(x) => rows::<Opened>(x, "storm")?
            .first()
            .map_or(now_ms, |o| o.opened_at),
        None => now_ms,
    };
    // The core decides when the batch is due (and that an overdue one is due now).
    let open = StormBatch {
        opened_at_ms: opened,
        count: 1,
        issues: Vec::new(),
    };
    let item = BatchedIssue {
        id: issue.issue_id.to_string(),
        title: issue.title.clone(),
        release: release.map(str::to_string),
    };
    let (_, overdue) = storm_add(Some(open), item, now_ms, &cfg);
    Ok(Some(
        overdue.unwrap_or(opened.saturating_add(cfg.window_ms)),
    ))
}

/// Queues one notice for every destination of the project (PagerDuty only for triggers it
/// models: every destination gets a trigger; only PagerDuty gets resolves).
async fn enqueue_all(
    env: &Env,
    project: &str,
    c: &AlertContent,
    episode_id: &str,
    issue_id: Option<u64>,
    action: PdAction,
    now_ms: u64,
) -> Result<u32, StorageError> {
    let mut queued = 0;
    for d in destinations(env, project).await? {
        if action == PdAction::Resolve && !d.kind.wants_resolved() {
            continue;
        }
        enqueue(env, project, &d, c, episode_id, issue_id, action, now_ms).await?;
        queued += 1;
    }
    Ok(queued)
}

#[expect(clippy::too_many_arguments, reason = "one row's facts")]
async fn enqueue(
    env: &Env,
    project: &str,
    d: &Destination,
    c: &AlertContent,
    episode_id: &str,
    issue_id: Option<u64>,
    action: PdAction,
    now_ms: u64,
) -> Result<String, StorageError> {
    let body = match d.kind {
        DestinationKind::Slack => slack_body(c).to_string(),
        DestinationKind::Webhook => webhook_body(c),
        DestinationKind::PagerDuty => pagerduty_body(
            c,
            d.routing_key.as_deref().unwrap_or_default(),
            action,
            episode_id,
        )
        .to_string(),
    };
    let summary = match action {
        PdAction::Resolve => format!("resolved: {}", c.title),
        PdAction::Trigger => format!("{}: {}", c.trigger.what(), c.title),
    };
    let id = format!("al_{now_ms}_{:016x}", random_u64());
    db(env)?
        .prepare(
            "INSERT INTO alert_outbox (id, project, destination_id, kind, rule_id, issue_id, episode_id, summary,
                body, status, attempts, next_attempt_at, last_error, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?10, '', ?10)",
        )
        .bind(&[
            s(&id),
            s(project),
            s(&d.id),
            s(d.kind.as_str()),
            s(&c.rule_id),
            opt(issue_id),
            s(episode_id),
            s(&summary.chars().take(300).collect::<String>()),
            s(&body),
            n(now_ms),
        ])?
        .run()
        .await?;
    Ok(id)
}

fn random_u64() -> u64 {
    let hi = (worker::js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    let lo = (worker::js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    (hi << 32) | lo
}

/// Closes the open episodes of an issue that was resolved or ignored; PagerDuty incidents of
/// those episodes are resolved.
pub(crate) async fn close_issue(env: &Env, project: &str, issue: &IssueRow, now_ms: u64) {
    if let Err(e) = close_issue_inner(env, project, issue, now_ms).await {
        worker::console_error!("closing the alerts of issue {}: {}", issue.issue_id, e.0);
    }
}

async fn close_issue_inner(
    env: &Env,
    project: &str,
    issue: &IssueRow,
    now_ms: u64,
) -> Result<(), StorageError> {
    #[derive(Deserialize)]
    struct EpRow {
        id: String,
        rule_id: String,
        json: String,
    }
    let db = db(env)?;
    let r = db
        .prepare(
            "SELECT id, rule_id, json FROM alert_episodes WHERE project = ?1 AND issue_id = ?2",
        )
        .bind(&[s(project), n(issue.issue_id)])?
        .all()
        .await?;
    let mut queued = false;
    let all_rules = rules(env, project).await?;
    for row in rows::<EpRow>(&r, "episode")? {
        let Ok(ep) = serde_json::from_str::<Episode>(&row.json) else {
            continue;
        };
        let (closed, resolve) = close(&ep, now_ms);
        db.prepare("UPDATE alert_episodes SET json = ?3 WHERE project = ?1 AND id = ?2")
            .bind(&[
                s(project),
                s(&row.id),
                s(&serde_json::to_string(&closed).unwrap_or_default()),
            ])?
            .run()
            .await?;
        if !resolve {
            continue;
        }
        let rule = all_rules.iter().find(|r| r.id == row.rule_id);
        let c = AlertContent {
            rule_id: row.rule_id.clone(),
            rule_name: rule.map(|r| r.name.clone()).unwrap_or_default(),
            trigger: Trigger::Resolved,
            project: project.to_string(),
            issue_id: Some(issue.issue_id.to_string()),
            title: issue.title.clone(),
            culprit: issue.culprit.clone(),
            level: issue.level.clone(),
            environment: None,
            release: None,
            events: issue.count,
            users: issue.users,
            first_seen_ms: issue.first_seen,
            last_seen_ms: issue.last_seen,
            link: String::new(),
            extra: String::new(),
        };
        if enqueue_all(
            env,
            project,
            &c,
            &row.id,
            Some(issue.issue_id),
            PdAction::Resolve,
            now_ms,
        )
        .await?
            > 0
        {
            queued = true;
        }
    }
    if queued {
        schedule(env, project, now_ms).await?;
    }
    Ok(())
}

/// Sends a test notice to one destination (the dashboard's "send test").
pub(crate) async fn send_test(
    env: &Env,
    project: &str,
    dest_id: &str,
    origin: &str,
    now_ms: u64,
) -> Result<Value, AppError> {
    let Some(d) = destinations(env, project)
        .await?
        .into_iter()
        .find(|d| d.id == dest_id)
    else {
        return Err(ApiError::NotFound(format!("destination {dest_id}")).into());
    };
    let c = AlertContent {
        rule_id: "test".into(),
        rule_name: "Test from the dashboard".into(),
        trigger: Trigger::SnoozeWoke {
            why: "this is a test alert sent from the dashboard".into(),
        },
        project: project.to_string(),
        issue_id: None,
        title: "Backstop test alert".into(),
        culprit: String::new(),
        level: "info".into(),
        environment: None,
        release: None,
        events: 0,
        users: 0,
        first_seen_ms: now_ms,
        last_seen_ms: now_ms,
        link: list_link(origin, project),
        extra: String::new(),
    };
    let episode = format!("test:{now_ms}");
    let id = enqueue(
        env,
        project,
        &d,
        &c,
        &episode,
        None,
        PdAction::Trigger,
        now_ms,
    )
    .await?;
    schedule(env, project, now_ms).await?;
    Ok(json!({ "queued": id }))
}

/// Flushes due storm batches and sends due outbox rows of a project; returns when it must run
/// again.
pub(crate) async fn run_due(
    env: &Env,
    project: &str,
    now_ms: u64,
) -> Result<Option<u64>, StorageError> {
    flush_storms(env, project, now_ms).await?;
    send_due(env, project, now_ms).await?;
    next_due(env, project).await
}

async fn flush_storms(env: &Env, project: &str, now_ms: u64) -> Result<(), StorageError> {
    #[derive(Deserialize)]
    struct StormRow {
        rule_id: String,
        #[serde(deserialize_with = "num")]
        opened_at: u64,
        link: String,
    }
    #[derive(Deserialize)]
    struct Member {
        issue_id: String,
        title: String,
        #[serde(default)]
        release: Option<String>,
    }
    let db = db(env)?;
    let r = db
        .prepare(format!(
            "SELECT rule_id, opened_at, link FROM alert_storms WHERE project = ?1 AND {}",
            flush_due_sql(2)
        ))
        .bind(&[s(project), n(now_ms)])?
        .all()
        .await?;
    let due: Vec<StormRow> = rows(&r, "storm")?;
    if due.is_empty() {
        return Ok(());
    }
    let cfg = storm_config(env);
    let all_rules = rules(env, project).await?;
    for row in due {
        // One transaction reads the members and closes the batch: an issue added later opens
        // the next batch, none is lost or sent twice.
        let args = [s(project), s(&row.rule_id), n(now_ms)];
        let due = flush_due_sql(3);
        let r = db
            .batch(vec![
                db.prepare(format!(
                    "SELECT issue_id, title, release FROM alert_storm_issues WHERE project = ?1 AND rule_id = ?2
                     AND EXISTS (SELECT 1 FROM alert_storms WHERE project = ?1 AND rule_id = ?2 AND {due})
                     ORDER BY rowid LIMIT {MAX_BATCHED_ISSUES}"
                ))
                .bind(&args)?,
                db.prepare(format!(
                    "SELECT COUNT(*) AS n FROM alert_storm_issues WHERE project = ?1 AND rule_id = ?2
                     AND EXISTS (SELECT 1 FROM alert_storms WHERE project = ?1 AND rule_id = ?2 AND {due})",
                ))
                .bind(&args)?,
                db.prepare(format!(
                    "DELETE FROM alert_storm_issues WHERE project = ?1 AND rule_id = ?2
                     AND EXISTS (SELECT 1 FROM alert_storms WHERE project = ?1 AND rule_id = ?2 AND {due})",
                ))
                .bind(&args)?,
                db.prepare(format!("DELETE FROM alert_storms WHERE project = ?1 AND rule_id = ?2 AND {due}"))
                    .bind(&args)?,
            ])
            .await?;
        let claimed = r
            .get(3)
            .and_then(|x| x.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0);
        if claimed == 0 {
            continue;
        }
        let members: Vec<Member> = match r.first() {
            Some(x) => rows(x, "storm issue")?,
            None => Vec::new(),
        };
        #[derive(Deserialize)]
        struct N {
            #[serde(deserialize_with = "num")]
            n: u64,
        }
        let count = match r.get(1) {
            Some(x) => rows::<N>(x, "count")?.first().map_or(0, |c| c.n),
            None => 0,
        };
        let Some(rule) = all_rules.iter().find(|r| r.id == row.rule_id) else {
            continue;
        };
        let batch = StormBatch {
            opened_at_ms: row.opened_at,
            count: count.max(members.len() as u64),
            issues: members
                .into_iter()
                .map(|m| BatchedIssue {
                    id: m.issue_id,
                    title: m.title,
                    release: m.release,
                })
                .collect(),
        };
        let opened = batch.opened_at_ms;
        match storm_flush(batch, &cfg) {
            Flush::Individual(issues) => {
                for b in issues {
                    let Some(id) = b.id.parse::<u64>().ok() else {
                        continue;
                    };
                    let r = db
                        .prepare(format!(
                            "SELECT {} FROM issues i WHERE i.project = ?1 AND i.issue_id = ?2",
                            crate::triage::ISSUE_COLUMNS
                        ))
                        .bind(&[s(project), n(id)])?
                        .all()
                        .await?;
                    let Some(issue) = rows::<IssueRow>(&r, "issue")?.into_iter().next() else {
                        continue;
                    };
                    let t = Triggered {
                        project: project.to_string(),
                        issue,
                        trigger: Some(IssueTrigger::NewIssue),
                        environment: String::new(),
                        release: b.release.clone().unwrap_or_default(),
                    };
                    let key = EpisodeKey {
                        rule_id: rule.id.clone(),
                        issue_id: Some(b.id.clone()),
                        environment: None,
                    };
                    notify_episode(env, &key, rule, &t, Trigger::NewIssue, &row.link, now_ms)
                        .await?;
                }
            }
            Flush::Collapsed {
                count,
                since_release,
                issue_ids: _,
            } => {
                let c = storm_content(
                    rule,
                    project,
                    count,
                    since_release.as_deref(),
                    opened,
                    now_ms,
                    &list_link(&row.link, project),
                );
                let episode = format!("storm:{}:{opened}", rule.id);
                enqueue_all(env, project, &c, &episode, None, PdAction::Trigger, now_ms).await?;
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct OutboxRow {
    id: String,
    destination_id: String,
    episode_id: String,
    body: String,
    #[serde(deserialize_with = "num")]
    attempts: u64,
}

async fn send_due(env: &Env, project: &str, now_ms: u64) -> Result<(), StorageError> {
    let db = db(env)?;
    let r = db
        .prepare(format!(
            "SELECT id, destination_id, episode_id, body, attempts FROM alert_outbox
             WHERE project = ?1 AND {} ORDER BY next_attempt_at LIMIT {SEND_BATCH}",
            due_sql(2)
        ))
        .bind(&[s(project), n(now_ms)])?
        .all()
        .await?;
    let due: Vec<OutboxRow> = rows(&r, "alert")?;
    if due.is_empty() {
        return Ok(());
    }
    let dests = destinations(env, project).await?;
    for row in due {
        let Some(d) = dests.iter().find(|d| d.id == row.destination_id) else {
            let settled = settle(row.attempts, &Attempted::DestinationDeleted, None, now_ms);
            finish(env, &row.id, now_ms, &settled).await?;
            continue;
        };
        let headers = match d.kind {
            DestinationKind::Webhook => signed_headers(
                &row.id,
                d.secret.as_deref().unwrap_or_default().as_bytes(),
                now_ms,
                row.body.as_bytes(),
            ),
            _ => alert_headers(&row.id),
        };
        let _ = &row.episode_id;
        let attempt = crate::webhook::proxy::send(
            &d.url,
            "POST",
            &headers,
            Some(JsValue::from_str(&row.body)),
            SEND_TIMEOUT_MS,
        )
        .await;
        let retry_after = attempt
            .response
            .as_ref()
            .and_then(|r| r.headers().get("retry-after").ok().flatten())
            .and_then(|v| parse_retry_after(&v));
        if let Some(resp) = &attempt.response {
            if let Some(b) = resp.body() {
                let _ = b.cancel();
            }
        }
        let attempted = match &attempt.result {
            AttemptResult::Status(st) => Attempted::Answered(*st),
            AttemptResult::Timeout => Attempted::TimedOut {
                timeout_ms: SEND_TIMEOUT_MS,
            },
            AttemptResult::Unreachable(e) => Attempted::Unreachable(e.clone()),
        };
        let settled = settle(row.attempts, &attempted, retry_after, now_ms);
        finish(env, &row.id, now_ms, &settled).await?;
    }
    Ok(())
}

/// Writes one attempt's [`Settlement`]: its attempt row (once per number) and the outbox row.
async fn finish(
    env: &Env,
    id: &str,
    now_ms: u64,
    settled: &Settlement,
) -> Result<(), StorageError> {
    let Settlement {
        number,
        status,
        error,
        outcome,
        next_attempt_at,
    } = settled;
    let (number, outcome) = (*number, outcome.as_str());
    let db = db(env)?;
    db.batch(vec![
        db.prepare(
            "INSERT INTO alert_attempts (alert_id, number, at, status, error) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (alert_id, number) DO NOTHING",
        )
        .bind(&[s(id), n(number), n(now_ms), opt(status.map(u64::from)), s(error)])?,
        db.prepare(
            "UPDATE alert_outbox SET attempts = ?2, status = ?3, next_attempt_at = ?4, last_error = ?5,
                delivered_at = CASE WHEN ?3 = 'delivered' THEN ?6 ELSE delivered_at END
             WHERE id = ?1",
        )
        .bind(&[s(id), n(number), s(outcome), opt(*next_attempt_at), s(error), n(now_ms)])?,
    ])
    .await?;
    Ok(())
}

async fn next_due(env: &Env, project: &str) -> Result<Option<u64>, StorageError> {
    #[derive(Deserialize)]
    struct At {
        #[serde(default, deserialize_with = "num")]
        at: u64,
    }
    let db = db(env)?;
    let r = db
        .batch(vec![
            db.prepare("SELECT MIN(next_attempt_at) AS at FROM alert_outbox WHERE status = 'pending' AND project = ?1")
                .bind(&[s(project)])?,
            db.prepare("SELECT MIN(flush_at) AS at FROM alert_storms WHERE project = ?1")
                .bind(&[s(project)])?,
        ])
        .await?;
    let mut next = None;
    for x in &r {
        let v: Vec<Value> = x.results()?;
        let at = v
            .first()
            .filter(|row| !row.get("at").is_none_or(Value::is_null))
            .and_then(|row| serde_json::from_value::<At>(row.clone()).ok())
            .map(|a| a.at);
        next = min_opt(next, at);
    }
    Ok(next)
}

/// The cron's part: every project with overdue alert work gets its scheduler poked.
pub(crate) async fn sweep(env: &Env, now_ms: u64) {
    let projects = async {
        let r = db(env)?
            .prepare(format!(
                "SELECT DISTINCT project FROM alert_outbox WHERE {}
                 UNION SELECT DISTINCT project FROM alert_storms WHERE {}",
                due_sql(1),
                flush_due_sql(1)
            ))
            .bind(&[n(now_ms)])?
            .all()
            .await?;
        let v: Vec<Value> = r.results()?;
        Ok::<_, StorageError>(
            v.iter()
                .filter_map(|row| {
                    row.get("project")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect::<Vec<_>>(),
        )
    };
    match projects.await {
        Ok(list) => {
            for p in list {
                if let Err(e) = schedule(env, &p, now_ms).await {
                    worker::console_error!("alert sweep could not schedule {p}: {}", e.0);
                }
            }
        }
        Err(e) => worker::console_error!("alert sweep failed: {}", e.0),
    }
}

/// The project's alert state for the dashboard: rules, destinations (redacted), the latest
/// notices with their attempts.
pub(crate) async fn overview(env: &Env, project: &str) -> Result<Value, StorageError> {
    let rules = rules(env, project).await?;
    let dests: Vec<Value> = destinations(env, project)
        .await?
        .iter()
        .map(Destination::redacted)
        .collect();
    let db = db(env)?;
    let r = db
        .batch(vec![
            db.prepare(
                "SELECT id, destination_id, kind, rule_id, issue_id, episode_id, summary, status, attempts,
                    next_attempt_at, last_error, created_at, delivered_at
                 FROM alert_outbox WHERE project = ?1 ORDER BY created_at DESC LIMIT 100",
            )
            .bind(&[s(project)])?,
            db.prepare(
                "SELECT a.alert_id, a.number, a.at, a.status, a.error FROM alert_attempts a
                 JOIN (SELECT id FROM alert_outbox WHERE project = ?1 ORDER BY created_at DESC LIMIT 100) o
                   ON o.id = a.alert_id
                 ORDER BY a.alert_id, a.number",
            )
            .bind(&[s(project)])?,
        ])
        .await?;
    let mut outbox: Vec<Value> = match r.first() {
        Some(x) => x.results()?,
        None => Vec::new(),
    };
    let attempts: Vec<Value> = match r.get(1) {
        Some(x) => x.results()?,
        None => Vec::new(),
    };
    for o in &mut outbox {
        let id = o.get("id").cloned().unwrap_or(Value::Null);
        let mine: Vec<Value> = attempts
            .iter()
            .filter(|a| a.get("alert_id") == Some(&id))
            .cloned()
            .collect();
        o["attempt_log"] = Value::Array(mine);
    }
    Ok(json!({
        "rules": rules,
        "defaults": rules == default_rules(),
        "destinations": dests,
        "alerts": outbox,
        "storm": storm_config(env),
    }))
}

/// Replaces the project's rules (validated one by one; nothing is saved if one is wrong).
pub(crate) async fn save_rules(
    env: &Env,
    project: &str,
    body: &Value,
    now_ms: u64,
) -> Result<Value, AppError> {
    let Some(list) = body.get("rules").and_then(Value::as_array) else {
        return Err(ApiError::InvalidParam {
            name: "rules",
            detail: "send {\"rules\": [...]}".into(),
        }
        .into());
    };
    if list.len() > 100 {
        return Err(ApiError::InvalidParam {
            name: "rules",
            detail: "at most 100 rules".into(),
        }
        .into());
    }
    let mut parsed = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let rule = parse_rule(v).map_err(|e| ApiError::InvalidParam {
            name: "rules",
            detail: format!("rule {i}: {e}"),
        })?;
        if parsed.iter().any(|r: &Rule| r.id == rule.id) {
            return Err(ApiError::InvalidParam {
                name: "rules",
                detail: format!("rule id {:?} is used twice", rule.id),
            }
            .into());
        }
        parsed.push(rule);
    }
    let db = db(env)?;
    let mut statements = vec![
        db.prepare("DELETE FROM alert_rules WHERE project = ?1").bind(&[s(project)])?,
        db.prepare("INSERT INTO alert_rules_saved (project, at) VALUES (?1, ?2) ON CONFLICT (project) DO UPDATE SET at = excluded.at")
            .bind(&[s(project), n(now_ms)])?,
    ];
    for r in &parsed {
        statements.push(
            db.prepare("INSERT INTO alert_rules (project, id, json) VALUES (?1, ?2, ?3)")
                .bind(&[
                    s(project),
                    s(&r.id),
                    s(&serde_json::to_string(r).unwrap_or_default()),
                ])?,
        );
    }
    db.batch(statements).await.map_err(StorageError::from)?;
    Ok(json!({ "rules": parsed }))
}

/// Saves one destination (refused if its URL leads back into Backstop).
pub(crate) async fn save_destination(
    env: &Env,
    project: &str,
    id: &str,
    body: &Value,
    self_origins: &[String],
    now_ms: u64,
) -> Result<Value, AppError> {
    let mut v = body.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), Value::String(id.to_string()));
    }
    let d = parse_destination(&v, self_origins).map_err(|e| ApiError::InvalidParam {
        name: "destination",
        detail: e.to_string(),
    })?;
    db(env)?
        .prepare(
            "INSERT INTO alert_destinations (project, id, json, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project, id) DO UPDATE SET json = excluded.json",
        )
        .bind(&[
            s(project),
            s(&d.id),
            s(&serde_json::to_string(&d).unwrap_or_default()),
            n(now_ms),
        ])?
        .run()
        .await
        .map_err(StorageError::from)?;
    Ok(json!({ "destination": d.redacted() }))
}

/// Deletes one destination.
pub(crate) async fn delete_destination(
    env: &Env,
    project: &str,
    id: &str,
) -> Result<Value, AppError> {
    let r = db(env)?
        .prepare("DELETE FROM alert_destinations WHERE project = ?1 AND id = ?2")
        .bind(&[s(project), s(id)])?
        .run()
        .await
        .map_err(StorageError::from)?;
    if r.meta()?.and_then(|m| m.changes).unwrap_or(0) == 0 {
        return Err(ApiError::NotFound(format!("destination {id}")).into());
    }
    Ok(json!({ "deleted": id }))
}

/// Asks the project's scheduler to run at `at` (epoch ms) at the latest.
async fn schedule(env: &Env, project: &str, at: u64) -> Result<(), StorageError> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(project)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(
        json!({ "project": project, "at": at }).to_string().into(),
    ));
    let resp = stub
        .fetch_with_request(Request::new_with_init("https://alert-scheduler/", &init)?)
        .await?;
    if resp.status_code() == 200 {
        Ok(())
    } else {
        Err(StorageError(format!(
            "alert scheduler answered {}",
            resp.status_code()
        )))
    }
}

/// A project-level notice (the silence watchdog, the install probe) to every destination of
/// the project. `episode_id` is stable per condition (PagerDuty's dedup key), so the resolve
/// that follows a recovery closes the incident the notice opened.
#[expect(clippy::too_many_arguments, reason = "one notice's facts")]
pub(crate) async fn notify_project(
    env: &Env,
    project: &str,
    episode_id: &str,
    trigger: Trigger,
    title: String,
    origin: &str,
    action: PdAction,
    now_ms: u64,
) {
    let c = AlertContent {
        rule_id: episode_id
            .split(':')
            .next()
            .unwrap_or("project")
            .to_string(),
        rule_name: match trigger {
            Trigger::Resolved => "Recovered".into(),
            _ => "Project health".into(),
        },
        trigger,
        project: project.to_string(),
        issue_id: None,
        title,
        culprit: String::new(),
        level: match action {
            PdAction::Trigger => "error".into(),
            PdAction::Resolve => "info".into(),
        },
        environment: None,
        release: None,
        events: 0,
        users: 0,
        first_seen_ms: now_ms,
        last_seen_ms: now_ms,
        link: list_link(origin, project),
        extra: String::new(),
    };
    // A recovery goes to every destination too (people were told it was down), not only to
    // PagerDuty: it is sent as a trigger-style notice plus a PagerDuty resolve.
    let sent = async {
        for d in destinations(env, project).await? {
            let action = match (action, d.kind) {
                (PdAction::Resolve, DestinationKind::PagerDuty) => PdAction::Resolve,
                _ => PdAction::Trigger,
            };
            enqueue(env, project, &d, &c, episode_id, None, action, now_ms).await?;
        }
        schedule(env, project, now_ms).await
    };
    if let Err(e) = sent.await {
        worker::console_error!("project notice {episode_id}: {}", e.0);
    }
}

/// The project rules (`spike`, `drop_rate`, `silent`) on the cron: the last hour of the
/// project's outcome counters against its rule, one episode per rule; an episode whose
/// condition cleared is closed (PagerDuty resolves).
pub(crate) async fn project_rules(
    env: &Env,
    config: &backstop_server_core::config::Config,
    now_ms: u64,
) {
    for project in config.projects.keys() {
        if let Err(e) = project_rules_one(env, project, now_ms).await {
            worker::console_error!("project rules of {project}: {}", e.0);
        }
    }
}

async fn project_rules_one(env: &Env, project: &str, now_ms: u64) -> Result<(), StorageError> {
    #[derive(Deserialize)]
    struct ByReason {
        reason: String,
        #[serde(deserialize_with = "num")]
        n: u64,
    }
    let all = rules(env, project).await?;
    let watched: Vec<&Rule> = all
        .iter()
        .filter(|r| r.enabled && r.kind.scope() == Scope::Project)
        .collect();
    if watched.is_empty() {
        return Ok(());
    }
    let hour_ms = u64::from(backstop_server_core::alerting::rule::PROJECT_WINDOW_MIN) * 60_000;
    let since = now_ms.saturating_sub(hour_ms);
    let day_start = since.saturating_sub(24 * hour_ms);
    let db = db(env)?;
    let r = db
        .batch(vec![
            db.prepare("SELECT reason, SUM(count) AS n FROM stats WHERE project = ?1 AND minute > ?2 GROUP BY reason")
                .bind(&[s(project), n(since)])?,
            db.prepare(
                "SELECT 'accepted' AS reason, COALESCE(SUM(count), 0) AS n FROM stats
                 WHERE project = ?1 AND reason = 'accepted' AND minute > ?2 AND minute <= ?3",
            )
            .bind(&[s(project), n(day_start), n(since)])?,
        ])
        .await?;
    let window: Vec<ByReason> = match r.first() {
        Some(x) => rows(x, "stat")?,
        None => Vec::new(),
    };
    let day: u64 = match r.get(1) {
        Some(x) => rows::<ByReason>(x, "stat")?.first().map_or(0, |b| b.n),
        None => 0,
    };
    // Outcomes that are not kept: the request counters of a refused event.
    const REFUSED: [&str; 4] = ["too_large", "rate_limited", "unauthorized", "invalid"];
    let accepted = window
        .iter()
        .find(|b| b.reason == "accepted")
        .map_or(0, |b| b.n);
    for rule in watched {
        let dropped = match &rule.kind {
            backstop_server_core::alerting::RuleKind::DropRate {
                reason: Some(want), ..
            } => window
                .iter()
                .filter(|b| &b.reason == want || b.reason.starts_with(&format!("dropped:{want}")))
                .map(|b| b.n)
                .sum(),
            _ => window
                .iter()
                .filter(|b| REFUSED.contains(&b.reason.as_str()))
                .map(|b| b.n)
                .sum(),
        };
        let measured = Measured {
            events: accepted,
            users: 0,
            baseline: day / 24,
            dropped,
        };
        let key = EpisodeKey {
            rule_id: rule.id.clone(),
            issue_id: None,
            environment: None,
        };
        let id = key.id();
        let r = db
            .prepare("SELECT json FROM alert_episodes WHERE project = ?1 AND id = ?2")
            .bind(&[s(project), s(&id)])?
            .all()
            .await?;
        let current: Option<Episode> = rows::<Json>(&r, "episode")?
            .first()
            .and_then(|j| serde_json::from_str(&j.json).ok());
        let content = |trigger: Trigger, extra: String| AlertContent {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            title: trigger.what(),
            trigger,
            project: project.to_string(),
            issue_id: None,
            culprit: String::new(),
            level: "error".into(),
            environment: None,
            release: None,
            events: accepted,
            users: 0,
            first_seen_ms: since,
            last_seen_ms: now_ms,
            link: String::new(),
            extra,
        };
        let (next, notice) = match evaluate(&rule.kind, &measured) {
            Some(trigger) => {
                let (decision, next) = on_trigger(
                    current.as_ref(),
                    accepted.max(dropped),
                    now_ms,
                    rule.reminder_ms,
                );
                let notice = decision.notifies().then(|| {
                    (
                        content(trigger, decision.note(accepted).unwrap_or_default()),
                        PdAction::Trigger,
                    )
                });
                (next, notice)
            }
            None => match current.as_ref().filter(|e| e.is_open()) {
                Some(open) => {
                    let (closed, resolve) = close(open, now_ms);
                    (
                        closed,
                        resolve.then(|| {
                            (content(Trigger::Resolved, String::new()), PdAction::Resolve)
                        }),
                    )
                }
                None => continue,
            },
        };
        db.prepare(
            "INSERT INTO alert_episodes (project, id, rule_id, issue_id, json) VALUES (?1, ?2, ?3, NULL, ?4)
             ON CONFLICT (project, id) DO UPDATE SET json = excluded.json",
        )
        .bind(&[s(project), s(&id), s(&rule.id), s(&serde_json::to_string(&next).unwrap_or_default())])?
        .run()
        .await?;
        if let Some((c, action)) = notice {
            if enqueue_all(env, project, &c, &id, None, action, now_ms).await? > 0 {
                schedule(env, project, now_ms).await?;
            }
        }
    }
    Ok(())
}
