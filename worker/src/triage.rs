//! Issue triage on D1: records each new event against its issue and lets
//! `backstop_server_core::triage` judge it, serves the issue list, detail and `PUT` updates, and
//! wakes time snoozes from the sweep. Every decision is a core call; this file reads rows,
//! counts what core asks for, and writes what it returns.

use backstop_server_core::error::ApiError;
use backstop_server_core::event::EventSummary;
use backstop_server_core::stats::MAX_STORED_INT;
use backstop_server_core::time::format_rfc3339_ms;
use backstop_server_core::triage::action::{
    apply, assignment_activity, merge_target, note_activity, parse_update, Context, Update,
    UpdateError,
};
use backstop_server_core::triage::escalation::{ceiling, hour_of, HISTORY_HOURS};
use backstop_server_core::triage::query::{Assigned, IssueQuery};
use backstop_server_core::triage::release::ReleaseFact;
use backstop_server_core::triage::{
    snooze_due_sql, user_key, wake_on_time, Activity, Counts, EventFacts, IssueRun, IssueState,
    Status, Trigger,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{AppError, StorageError};
use crate::store::{db, n, num, opt, rows, s};

/// An issue and what happened to it, for the alert rules.
#[derive(Debug, Clone)]
pub(crate) struct Triggered {
    /// The project.
    pub(crate) project: String,
    /// The issue row after the event.
    pub(crate) issue: IssueRow,
    /// What fired; `None` for an event that moved nothing (the threshold rules still count
    /// it).
    pub(crate) trigger: Option<Trigger>,
    /// The event's environment and release.
    pub(crate) environment: String,
    /// The event's release.
    pub(crate) release: String,
}

/// One issue as the API returns it (snake_case as the rest of the API, plus Sentry's names
/// for the triage fields so Sentry scripts read it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IssueRow {
    #[serde(deserialize_with = "num")]
    pub(crate) issue_id: u64,
    pub(crate) fingerprint: String,
    pub(crate) title: String,
    pub(crate) culprit: String,
    pub(crate) level: String,
    #[serde(deserialize_with = "num")]
    pub(crate) count: u64,
    #[serde(deserialize_with = "num")]
    pub(crate) users: u64,
    #[serde(deserialize_with = "num")]
    pub(crate) first_seen: u64,
    #[serde(deserialize_with = "num")]
    pub(crate) last_seen: u64,
    pub(crate) last_event_id: String,
    pub(crate) status: String,
    pub(crate) substatus: String,
    pub(crate) details: String,
    pub(crate) assigned_to: String,
    pub(crate) note: String,
}

pub(crate) const ISSUE_COLUMNS: &str = "i.issue_id, i.fingerprint, i.title, i.culprit, i.level, i.count, i.users,
    i.first_seen, i.last_seen, i.last_event_id, i.status, i.substatus, i.details, i.assigned_to, i.note";

impl IssueRow {
    pub(crate) fn state(&self) -> IssueState {
        IssueState::from_columns(&self.status, &self.substatus, &self.details)
    }

    /// The API shape at `now_ms`.
    pub(crate) fn to_json(&self, now_ms: u64, sparkline: Option<Vec<u64>>) -> Value {
        let state = self.state();
        let (status, substatus) = state.shown(self.first_seen, now_ms);
        let mut v = json!({
            "id": self.issue_id.to_string(),
            "issue_id": self.issue_id,
            "fingerprint": self.fingerprint,
            "title": self.title,
            "culprit": self.culprit,
            "level": self.level,
            "count": self.count,
            "users": self.users,
            "userCount": self.users,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "firstSeen": format_rfc3339_ms(self.first_seen),
            "lastSeen": format_rfc3339_ms(self.last_seen),
            "last_event_id": self.last_event_id,
            "status": status.as_str(),
            "substatus": substatus.map(|s| s.as_str()),
            "statusDetails": state.status_details(),
            "assignedTo": (!self.assigned_to.is_empty()).then_some(&self.assigned_to),
            "note": self.note,
        });
        if let Some(line) = sparkline {
            v["sparkline_24h"] = json!(line);
        }
        v
    }
}

fn statement(
    db: &D1Database,
    sql: &str,
    args: &[JsValue],
) -> Result<D1PreparedStatement, StorageError> {
    Ok(db.prepare(sql).bind(args)?)
}

#[derive(Deserialize)]
struct HourCount {
    #[serde(deserialize_with = "num")]
    hour: u64,
    #[serde(deserialize_with = "num")]
    count: u64,
}

#[derive(Deserialize)]
struct Release {
    release: String,
    #[serde(deserialize_with = "num")]
    first_seen: u64,
}

#[derive(Deserialize)]
struct Count {
    #[serde(deserialize_with = "num")]
    n: u64,
}

/// A newly stored event to record against its issue.
pub(crate) struct NewEvent<'a> {
    pub(crate) project: &'a str,
    pub(crate) summary: &'a EventSummary,
    pub(crate) payload: &'a Value,
    pub(crate) received_ms: u64,
    /// The event's own index row (`ON CONFLICT DO NOTHING`, writing `nonce` into
    /// `ingest_nonce`).
    pub(crate) insert: D1PreparedStatement,
    /// Unique to the attempt of the job the event came in.
    pub(crate) nonce: &'a str,
}

/// One issue of a batch: the row as it was before the batch, as it is after the events
/// judged so far, and the run that judges them ([`IssueRun`]).
struct BatchIssue {
    before: IssueState,
    row: IssueRow,
    run: IssueRun,
}

/// Where one event's reads are in the second transaction's results.
struct Reads {
    insert: usize,
    history: usize,
    releases: usize,
    events_window: Option<(usize, u64)>,
    users_window: Option<(usize, u64)>,
    users: usize,
}

/// Records a batch of newly stored events against their issues (creating an issue on its
/// first event) and judges them, in three D1 transactions however many events there are:
///
/// 1. the issues and releases are created where missing, and each issue is read once;
/// 2. each event's index row, in order, with its counts and the figures core asks for read
///    right after them, then `also` (the jobs' own counters);
/// 3. the issues' new states and their activity lines.
///
/// Every count in (2) is guarded by "the event's row carries this attempt's nonce": a
/// redelivered or duplicate event inserts nothing and counts nothing, and a transaction that
/// fails leaves neither rows nor counts behind. The events of one issue are judged in their
/// order by [`IssueRun`], so a batch judges as if they had been stored one at a time. Returns
/// what the alert rules must hear about: each trigger, and each event itself (trigger `None`)
/// for the threshold rules.
pub(crate) async fn record_events(
    env: &Env,
    events: Vec<NewEvent<'_>>,
    also: Vec<D1PreparedStatement>,
) -> Result<Vec<Triggered>, StorageError> {
    let db = db(env)?;
    let mut first = Vec::new();
    let mut fingerprints: Vec<(&str, &str)> = Vec::new();
    let mut releases = std::collections::BTreeSet::new();
    for e in &events {
        let (project, summary) = (e.project, e.summary);
        let fp = summary.fingerprint.as_str();
        if !fingerprints.contains(&(project, fp)) {
            fingerprints.push((project, fp));
            // The lasting map: a fingerprint keeps its issue (merges included) from now on.
            first.push(statement(
                &db,
                "INSERT INTO issue_fingerprints (project, fingerprint, issue_id)
                 SELECT ?1, ?2, COALESCE(MAX(issue_id), 0) + 1 FROM issues WHERE project = ?1
                 ON CONFLICT (project, fingerprint) DO NOTHING",
                &[s(project), s(fp)],
            )?);
            first.push(statement(
                &db,
                "INSERT INTO issues (project, fingerprint, issue_id, title, culprit, level, count, users,
                    first_seen, last_seen, last_event_id, status, substatus, details)
                 SELECT ?1, ?2, f.issue_id, ?3, ?4, ?5, 0, 0, ?6, ?6, ?7, 'unresolved', 'new', '{}'
                 FROM issue_fingerprints f
                 WHERE f.project = ?1 AND f.fingerprint = ?2
                   AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.project = ?1 AND i.issue_id = f.issue_id)
                 ON CONFLICT (project, fingerprint) DO NOTHING",
                &[
                    s(project),
                    s(fp),
                    s(&summary.title),
                    s(&summary.culprit),
                    s(&summary.level),
                    n(e.received_ms),
                    s(&summary.event_id),
                ],
            )?);
        }
        if !summary.release.is_empty()
            && releases.insert((
                project,
                summary.environment.as_str(),
                summary.release.as_str(),
            ))
        {
            first.push(statement(
                &db,
                "INSERT INTO releases (project, environment, release, first_seen) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project, environment, release) DO NOTHING",
                &[
                    s(project),
                    s(&summary.environment),
                    s(&summary.release),
                    n(e.received_ms),
                ],
            )?);
        }
    }
    let selects_at = first.len();
    for (project, fp) in &fingerprints {
        first.push(statement(
            &db,
            &format!(
                "SELECT {ISSUE_COLUMNS} FROM issues i JOIN issue_fingerprints f
                   ON f.project = i.project AND f.issue_id = i.issue_id
                 WHERE f.project = ?1 AND f.fingerprint = ?2"
            ),
            &[s(project), s(fp)],
        )?);
    }
    // A batch of jobs without events (sessions, client reports) has nothing to create or read.
    let results = if first.is_empty() {
        Vec::new()
    } else {
        db.batch(first).await?
    };
    crate::pipeline::mid_batch();
    let db = crate::store::db(env)?;
    // Each fingerprint's issue as it was before the batch (fingerprints merged into one issue
    // read the same row).
    let mut issue_of = std::collections::BTreeMap::new();
    for (i, (project, fp)) in fingerprints.iter().enumerate() {
        let row: Option<IssueRow> = match results.get(selects_at + i) {
            Some(r) => rows::<IssueRow>(r, "issue")?.into_iter().next(),
            None => None,
        };
        let Some(row) = row else {
            return Err(StorageError(format!(
                "issue of fingerprint {fp} was not created"
            )));
        };
        issue_of.insert((*project, *fp), row);
    }

    // "This attempt inserted the event's row": `?E` is the event id, `?N` the nonce.
    let guard = |e: u8, nn: u8| {
        format!(
            "EXISTS (SELECT 1 FROM events WHERE project = ?1 AND event_id = ?{e} AND ingest_nonce = ?{nn})"
        )
    };
    let mut second = Vec::new();
    let mut reads = Vec::with_capacity(events.len());
    let mut inputs = Vec::with_capacity(events.len());
    for e in events {
        let NewEvent {
            project,
            summary,
            payload,
            received_ms,
            insert,
            nonce,
        } = e;
        let fp = &summary.fingerprint;
        let Some(before) = issue_of.get(&(project, fp.as_str())) else {
            return Err(StorageError(format!(
                "issue of fingerprint {fp} was not read"
            )));
        };
        let id = before.issue_id;
        let hour = hour_of(received_ms);
        let user = user_key(payload);
        let insert_at = second.len();
        second.push(insert);
        second.push(statement(
            &db,
            &format!(
                // Title and culprit follow the latest event of the issue's own fingerprint: an
                // event of a fingerprint merged into it does not rename it.
                "UPDATE issues SET count = MIN(count + 1, {MAX_STORED_INT}),
                    last_seen = max(last_seen, ?3), last_event_id = ?4,
                    title = CASE WHEN fingerprint = ?8 THEN ?5 ELSE title END,
                    culprit = CASE WHEN fingerprint = ?8 THEN ?6 ELSE culprit END,
                    level = ?7
                 WHERE project = ?1 AND issue_id = ?2 AND {}",
                guard(4, 9)
            ),
            &[
                s(project),
                n(id),
                n(received_ms),
                s(&summary.event_id),
                s(&summary.title),
                s(&summary.culprit),
                s(&summary.level),
                s(fp),
                s(nonce),
            ],
        )?);
        second.push(statement(
            &db,
            &format!(
                "INSERT INTO issue_hourly (project, issue_id, hour, count) SELECT ?1, ?2, ?3, 1 WHERE {}
                 ON CONFLICT (project, issue_id, hour) DO UPDATE SET count = MIN(count + 1, {MAX_STORED_INT})",
                guard(4, 5)
            ),
            &[s(project), n(id), n(hour), s(&summary.event_id), s(nonce)],
        )?);
        if let Some(u) = &user {
            second.push(statement(
                &db,
                &format!(
                    "INSERT INTO issue_users (project, issue_id, user_key, first_seen, last_seen)
                     SELECT ?1, ?2, ?3, ?4, ?4 WHERE {}
                     ON CONFLICT (project, issue_id, user_key) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                    guard(5, 6)
                ),
                &[s(project), n(id), s(u), n(received_ms), s(&summary.event_id), s(nonce)],
            )?);
            second.push(statement(
                &db,
                "UPDATE issues SET users = (SELECT COUNT(*) FROM issue_users WHERE project = ?1 AND issue_id = ?2)
                 WHERE project = ?1 AND issue_id = ?2",
                &[s(project), n(id)],
            )?);
        }
        second.push(statement(
            &db,
            "DELETE FROM issue_hourly WHERE project = ?1 AND issue_id = ?2 AND hour < ?3",
            &[s(project), n(id), n(hour.saturating_sub(HISTORY_HOURS))],
        )?);
        let history_at = second.len();
        second.push(statement(
            &db,
            "SELECT hour, count FROM issue_hourly WHERE project = ?1 AND issue_id = ?2 AND hour >= ?3",
            &[s(project), n(id), n(hour.saturating_sub(HISTORY_HOURS))],
        )?);
        // What the issue's state before the batch needs covers every later event's state
        // (see `IssueRun`).
        let needs = before.state().needs();
        let names: Vec<String> = [
            Some(summary.release.clone()),
            needs.baseline_release.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|r| !r.is_empty())
        .collect();
        let releases_at = second.len();
        second.push(statement(
            &db,
            "SELECT release, first_seen FROM releases WHERE project = ?1 AND environment = ?2 AND release IN (?3, ?4)",
            &[
                s(project),
                s(&summary.environment),
                s(names.first().map_or("", String::as_str)),
                s(names.get(1).map_or("", String::as_str)),
            ],
        )?);
        let events_window = needs
            .events_window
            .map(|w| (second.len(), w.start(received_ms)));
        if let Some((_, since)) = events_window {
            second.push(statement(
                &db,
                "SELECT COUNT(*) AS n FROM events WHERE project = ?1 AND received_at > ?3 AND fingerprint IN
                   (SELECT fingerprint FROM issue_fingerprints WHERE project = ?1 AND issue_id = ?2)",
                &[s(project), n(id), n(since)],
            )?);
        }
        let users_window = needs
            .users_window
            .map(|w| (second.len(), w.start(received_ms)));
        if let Some((_, since)) = users_window {
            second.push(statement(
                &db,
                "SELECT COUNT(*) AS n FROM issue_users WHERE project = ?1 AND issue_id = ?2 AND last_seen > ?3",
                &[s(project), n(id), n(since)],
            )?);
        }
        let users_at = second.len();
        second.push(statement(
            &db,
            "SELECT users AS n FROM issues WHERE project = ?1 AND issue_id = ?2",
            &[s(project), n(id)],
        )?);
        reads.push(Reads {
            insert: insert_at,
            history: history_at,
            releases: releases_at,
            events_window,
            users_window,
            users: users_at,
        });
        inputs.push((project, summary, received_ms, hour));
    }
    second.extend(also);
    let results = if second.is_empty() {
        Vec::new()
    } else {
        db.batch(second).await?
    };

    let mut issues: std::collections::BTreeMap<(&str, u64), BatchIssue> = Default::default();
    let mut activity = Vec::new();
    let mut triggered = Vec::new();
    for ((project, summary, received_ms, hour), at) in inputs.into_iter().zip(reads) {
        let read = |i: usize| results.get(i);
        let inserted = read(at.insert)
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
            > 0;
        if !inserted {
            // Stored before (a redelivery, or the SDK sent it twice): nothing counted, no alert.
            continue;
        }
        let fp = &summary.fingerprint;
        let Some(before) = issue_of.get(&(project, fp.as_str())) else {
            continue;
        };
        let issue = issues
            .entry((project, before.issue_id))
            .or_insert_with(|| BatchIssue {
                before: before.state(),
                row: before.clone(),
                run: IssueRun::new(before.state(), before.count),
            });
        let history: Vec<(u64, u64)> = match read(at.history) {
            Some(r) => rows::<HourCount>(r, "hourly count")?
                .into_iter()
                .map(|h| (h.hour, h.count))
                .collect(),
            None => Vec::new(),
        };
        let known: Vec<Release> = match read(at.releases) {
            Some(r) => rows(r, "release")?,
            None => Vec::new(),
        };
        let count_at = |at: Option<(usize, u64)>| -> Result<Option<u64>, StorageError> {
            match at.and_then(|(i, _)| read(i)) {
                Some(r) => Ok(rows::<Count>(r, "count")?.first().map(|c| c.n)),
                None => Ok(None),
            }
        };
        let fact = |name: &str| ReleaseFact {
            name: name.to_string(),
            first_seen_ms: known
                .iter()
                .find(|r| r.release == name)
                .map(|r| r.first_seen),
        };
        let users = match read(at.users) {
            Some(r) => rows::<Count>(r, "count")?
                .first()
                .map_or(issue.row.users, |c| c.n),
            None => issue.row.users,
        };
        let counts = Counts {
            events: 0,
            users,
            events_in_window: count_at(at.events_window)?,
            users_in_window: count_at(at.users_window)?,
            this_hour: history
                .iter()
                .find(|(h, _)| *h == hour)
                .map_or(1, |(_, c)| *c),
            ceiling: ceiling(&history, hour),
            baseline: issue.before.needs().baseline_release.as_deref().map(fact),
        };
        let event = EventFacts {
            event_id: summary.event_id.clone(),
            event_ms: summary.timestamp,
            release: fact(&summary.release),
        };
        let outcome = issue.run.next(&event, counts);
        let row = &mut issue.row;
        row.count = issue.run.events();
        row.users = users;
        row.last_seen = row.last_seen.max(received_ms);
        row.last_event_id.clone_from(&summary.event_id);
        row.status = outcome.state.status.as_str().into();
        row.substatus = outcome.state.substatus.as_str().into();
        row.details = outcome.state.details_json();
        if row.fingerprint == *fp {
            row.title.clone_from(&summary.title);
            row.culprit.clone_from(&summary.culprit);
        }
        activity.extend(
            outcome
                .activity
                .into_iter()
                .map(|a| (project, row.issue_id, received_ms, a)),
        );
        triggered.extend(
            outcome
                .triggers
                .into_iter()
                .map(Some)
                .chain([None])
                .map(|trigger| Triggered {
                    project: project.to_string(),
                    issue: row.clone(),
                    trigger,
                    environment: summary.environment.clone(),
                    release: summary.release.clone(),
                }),
        );
    }

    let mut third = Vec::new();
    for ((project, id), issue) in &issues {
        if *issue.run.state() != issue.before {
            third.push(save_state(&db, project, *id, issue.run.state())?);
        }
    }
    for (project, id, at, a) in &activity {
        third.push(activity_line(&db, project, *id, *at, a)?);
    }
    if !third.is_empty() {
        db.batch(third).await?;
    }
    Ok(triggered)
}

fn save_state(
    db: &D1Database,
    project: &str,
    id: u64,
    state: &IssueState,
) -> Result<D1PreparedStatement, StorageError> {
    statement(
        db,
        "UPDATE issues SET status = ?3, substatus = ?4, details = ?5, snooze_until = ?6
         WHERE project = ?1 AND issue_id = ?2",
        &[
            s(project),
            n(id),
            s(state.status.as_str()),
            s(state.substatus.as_str()),
            s(&state.details_json()),
            opt(state.snooze_until_ms()),
        ],
    )
}

/// One activity line; `seq` keeps lines written in the same millisecond apart and in order.
fn activity_line(
    db: &D1Database,
    project: &str,
    id: u64,
    at: u64,
    a: &Activity,
) -> Result<D1PreparedStatement, StorageError> {
    statement(
        db,
        "INSERT INTO issue_activity (project, issue_id, at, seq, kind, actor, detail, event_id)
         VALUES (?1, ?2, ?3,
           (SELECT COALESCE(MAX(seq), 0) + 1 FROM issue_activity WHERE project = ?1 AND issue_id = ?2 AND at = ?3),
           ?4, ?5, ?6, ?7)",
        &[
            s(project),
            n(id),
            n(at),
            s(a.kind),
            s(&a.actor),
            s(&a.detail),
            a.event_id.as_deref().map_or(JsValue::NULL, s),
        ],
    )
}

async fn record_activity(
    db: &D1Database,
    project: &str,
    id: u64,
    at: u64,
    lines: &[Activity],
) -> Result<(), StorageError> {
    if lines.is_empty() {
        return Ok(());
    }
    let statements = lines
        .iter()
        .map(|a| activity_line(db, project, id, at, a))
        .collect::<Result<Vec<_>, _>>()?;
    db.batch(statements).await?;
    Ok(())
}

/// The issue list, after waking the project's ended time snoozes (returned for the alert
/// rules), so the list is exact even between sweeps.
pub(crate) async fn list(
    env: &Env,
    project: &str,
    q: &IssueQuery,
    now_ms: u64,
) -> Result<(Value, Vec<Triggered>), StorageError> {
    let woke = wake_due(env, Some(project), now_ms).await?;
    let db = db(env)?;
    let mut sql = format!(
        "SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.project = ?1 AND i.merged_into IS NULL"
    );
    let mut args = vec![s(project)];
    let arg = |v: JsValue, args: &mut Vec<JsValue>| {
        args.push(v);
        format!("?{}", args.len())
    };
    if let Some(st) = q.status {
        let p = arg(s(st.as_str()), &mut args);
        sql.push_str(&format!(" AND i.status = {p}"));
    }
    match &q.assigned {
        Some(Assigned::Nobody) => sql.push_str(" AND i.assigned_to = ''"),
        Some(Assigned::Anybody) => sql.push_str(" AND i.assigned_to != ''"),
        Some(Assigned::To(who)) => {
            let p = arg(s(who), &mut args);
            sql.push_str(&format!(" AND i.assigned_to = {p}"));
        }
        None => {}
    }
    for (column, value) in [("environment", &q.environment), ("release", &q.release)] {
        if let Some(v) = value {
            let p = arg(s(v), &mut args);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM events e JOIN issue_fingerprints f
                    ON f.project = e.project AND f.fingerprint = e.fingerprint
                  WHERE e.project = ?1 AND f.issue_id = i.issue_id AND e.{column} = {p})"
            ));
        }
    }
    if let Some(like) = q.like_pattern() {
        let p = arg(s(&like), &mut args);
        sql.push_str(&format!(
            " AND (i.title LIKE {p} ESCAPE '\\' OR i.culprit LIKE {p} ESCAPE '\\')"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY i.{} DESC, i.issue_id DESC LIMIT {}",
        q.sort.column(),
        q.limit
    ));
    let r = db.prepare(&sql).bind(&args)?.all().await?;
    let issues: Vec<IssueRow> = rows(&r, "issue")?;
    // One query for every sparkline: the last 24 hours of the listed issues only (their ids
    // as one JSON parameter: D1 binds at most 100 parameters).
    let hour = hour_of(now_ms);
    let ids = serde_json::to_string(&issues.iter().map(|i| i.issue_id).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let spark = db
        .prepare(
            "SELECT issue_id, hour, count FROM issue_hourly WHERE project = ?1 AND hour > ?2
               AND issue_id IN (SELECT value FROM json_each(?3))",
        )
        .bind(&[s(project), n(hour.saturating_sub(24)), s(&ids)])?
        .all()
        .await?;
    #[derive(Deserialize)]
    struct Spark {
        #[serde(deserialize_with = "num")]
        issue_id: u64,
        #[serde(deserialize_with = "num")]
        hour: u64,
        #[serde(deserialize_with = "num")]
        count: u64,
    }
    let spark: Vec<Spark> = rows(&spark, "hourly count")?;
    let list: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut line = vec![0u64; 24];
            for p in spark.iter().filter(|p| p.issue_id == i.issue_id) {
                if let Some(slot) = (hour - p.hour.min(hour))
                    .try_into()
                    .ok()
                    .and_then(|ago: usize| 23usize.checked_sub(ago))
                {
                    line[slot] = p.count;
                }
            }
            i.to_json(now_ms, Some(line))
        })
        .collect();
    Ok((json!({ "issues": list }), woke))
}

async fn load(db: &D1Database, project: &str, id: u64) -> Result<Option<IssueRow>, StorageError> {
    let r = statement(
        db,
        &format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.project = ?1 AND i.issue_id = ?2"),
        &[s(project), n(id)],
    )?
    .all()
    .await?;
    Ok(rows(&r, "issue")?.into_iter().next())
}

/// One issue with its activity log, 7 days of hourly counts, the escalation ceiling and its
/// tag breakdown (and what woke, as [`list`]).
pub(crate) async fn detail(
    env: &Env,
    project: &str,
    id: u64,
    now_ms: u64,
) -> Result<(Option<Value>, Vec<Triggered>), StorageError> {
    let woke = wake_due(env, Some(project), now_ms).await?;
    let db = db(env)?;
    let Some(issue) = load(&db, project, id).await? else {
        return Ok((None, woke));
    };
    let hour = hour_of(now_ms);
    let results = db
        .batch(vec![
            statement(
                &db,
                "SELECT at, kind, actor, detail, event_id FROM issue_activity
                 WHERE project = ?1 AND issue_id = ?2 ORDER BY at DESC, seq DESC LIMIT 200",
                &[s(project), n(id)],
            )?,
            statement(
                &db,
                "SELECT hour, count FROM issue_hourly WHERE project = ?1 AND issue_id = ?2 AND hour >= ?3",
                &[s(project), n(id), n(hour.saturating_sub(HISTORY_HOURS))],
            )?,
            statement(
                &db,
                "SELECT fingerprint FROM issue_fingerprints WHERE project = ?1 AND issue_id = ?2",
                &[s(project), n(id)],
            )?,
            // The tag breakdown reads the issue's latest 1000 events (bounded work per view).
            statement(
                &db,
                "SELECT release, environment, url, tags FROM events
                 WHERE project = ?1 AND fingerprint IN
                   (SELECT fingerprint FROM issue_fingerprints WHERE project = ?1 AND issue_id = ?2)
                 ORDER BY received_at DESC LIMIT 1000",
                &[s(project), n(id)],
            )?,
        ])
        .await?;
    let activity: Vec<Value> = match results.first() {
        Some(r) => r.results::<Value>()?,
        None => Vec::new(),
    };
    let history: Vec<(u64, u64)> = match results.get(1) {
        Some(r) => rows::<HourCount>(r, "hourly count")?
            .into_iter()
            .map(|h| (h.hour, h.count))
            .collect(),
        None => Vec::new(),
    };
    let fingerprints: Vec<Value> = match results.get(2) {
        Some(r) => r.results::<Value>()?,
        None => Vec::new(),
    };
    #[derive(Deserialize)]
    struct TagRow {
        #[serde(default)]
        release: String,
        #[serde(default)]
        environment: String,
        #[serde(default)]
        url: String,
        #[serde(default)]
        tags: String,
    }
    let tag_rows: Vec<TagRow> = match results.get(3) {
        Some(r) => rows(r, "event")?,
        None => Vec::new(),
    };
    let mut tally: std::collections::BTreeMap<&str, std::collections::BTreeMap<String, u64>> =
        std::collections::BTreeMap::new();
    for t in &tag_rows {
        let tags: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&t.tags).unwrap_or_default();
        let browser = tags.get("browser").cloned().unwrap_or_default();
        for (key, value) in [
            ("release", &t.release),
            ("environment", &t.environment),
            ("url", &t.url),
            ("browser", &browser),
        ] {
            let v = if value.is_empty() {
                "(none)"
            } else {
                value.as_str()
            };
            *tally
                .entry(key)
                .or_default()
                .entry(v.to_string())
                .or_insert(0) += 1;
        }
    }
    let tags: serde_json::Map<String, Value> = tally
        .into_iter()
        .map(|(k, values)| {
            let mut top: Vec<(String, u64)> = values.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(10);
            let top: Vec<Value> = top
                .into_iter()
                .map(|(value, count)| json!({ "value": value, "count": count }))
                .collect();
            (k.to_string(), Value::Array(top))
        })
        .collect();
    let mut v = issue.to_json(now_ms, None);
    v["activity"] = Value::Array(activity);
    v["hourly"] = json!(history
        .iter()
        .map(|(h, c)| json!({ "hour": h, "at": h * 3_600_000, "count": c }))
        .collect::<Vec<_>>());
    v["ceiling"] = json!(ceiling(&history, hour));
    v["this_hour"] = json!(history
        .iter()
        .find(|(h, _)| *h == hour)
        .map_or(0, |(_, c)| *c));
    v["fingerprints"] = json!(fingerprints
        .iter()
        .filter_map(|f| f.get("fingerprint").cloned())
        .collect::<Vec<_>>());
    v["tags"] = Value::Object(tags);
    v["tags_sample"] = json!(tag_rows.len());
    Ok((Some(v), woke))
}

fn update_error(e: UpdateError) -> AppError {
    ApiError::InvalidParam {
        name: e.field,
        detail: e.detail,
    }
    .into()
}

async fn latest_release(db: &D1Database, project: &str) -> Result<Option<String>, StorageError> {
    let r = statement(
        db,
        "SELECT release, first_seen FROM releases WHERE project = ?1 ORDER BY first_seen DESC LIMIT 1",
        &[s(project)],
    )?
    .all()
    .await?;
    Ok(rows::<Release>(&r, "release")?
        .into_iter()
        .next()
        .map(|r| r.release))
}

/// `PUT /api/{project}/issues/{id}` and the bulk `PUT /api/{project}/issues?id=…`: applies
/// the body to every named issue and answers with them.
pub(crate) async fn update(
    env: &Env,
    project: &str,
    team: &[String],
    ids: &[u64],
    body: &Value,
    actor: &str,
    now_ms: u64,
) -> Result<Value, AppError> {
    let update = parse_update(body, team, now_ms).map_err(update_error)?;
    let db = db(env)?;
    let mut issues = Vec::new();
    for id in ids {
        match load(&db, project, *id).await? {
            Some(i) => issues.push(i),
            None => return Err(ApiError::NotFound(format!("issue {id}")).into()),
        }
    }
    if update.merge {
        if issues.len() < 2 {
            return Err(ApiError::InvalidParam {
                name: "merge",
                detail: "name at least two issues: ?id=1&id=2".into(),
            }
            .into());
        }
        let target = merge(&db, project, &issues, actor, now_ms).await?;
        issues = load(&db, project, target).await?.into_iter().collect();
    }
    let latest = latest_release(&db, project).await?;
    for issue in &mut issues {
        apply_one(
            env,
            &db,
            project,
            issue,
            &update,
            actor,
            latest.clone(),
            now_ms,
        )
        .await?;
    }
    let mut out = Vec::new();
    for issue in &issues {
        if let Some(fresh) = load(&db, project, issue.issue_id).await? {
            out.push(fresh.to_json(now_ms, None));
        }
    }
    Ok(json!({ "issues": out }))
}

#[expect(clippy::too_many_arguments, reason = "one update's facts")]
async fn apply_one(
    env: &Env,
    db: &D1Database,
    project: &str,
    issue: &mut IssueRow,
    update: &Update,
    actor: &str,
    latest_release: Option<String>,
    now_ms: u64,
) -> Result<(), AppError> {
    let id = issue.issue_id;
    let mut lines = Vec::new();
    if let Some(change) = &update.status {
        let ctx = Context {
            now_ms,
            actor: actor.to_string(),
            events: issue.count,
            users: issue.users,
            latest_release,
        };
        if let Some((next, line)) = apply(&issue.state(), change, &ctx) {
            save_state(db, project, id, &next)?.run().await?;
            lines.push(line);
            if next.status != Status::Unresolved {
                // Resolved or ignored: its alert episodes are over (PagerDuty resolves).
                crate::alerts::close_issue(env, project, issue, now_ms).await;
            }
        }
    }
    if let Some(to) = &update.assigned_to {
        let to_text = to.clone().unwrap_or_default();
        if to_text != issue.assigned_to {
            statement(
                db,
                "UPDATE issues SET assigned_to = ?3 WHERE project = ?1 AND issue_id = ?2",
                &[s(project), n(id), s(&to_text)],
            )?
            .run()
            .await?;
            lines.push(assignment_activity(to.as_deref(), actor));
        }
    }
    if let Some(note) = &update.note {
        statement(
            db,
            "UPDATE issues SET note = ?3 WHERE project = ?1 AND issue_id = ?2",
            &[s(project), n(id), s(note)],
        )?
        .run()
        .await?;
        lines.push(note_activity(note, actor));
    }
    record_activity(db, project, id, now_ms, &lines).await?;
    Ok(())
}

/// Merges `issues` into the biggest: every fingerprint now maps to it (lasting), counts are
/// added, the others are kept as rows marked `merged_into` (hidden from the list).
async fn merge(
    db: &D1Database,
    project: &str,
    issues: &[IssueRow],
    actor: &str,
    now_ms: u64,
) -> Result<u64, AppError> {
    let pairs: Vec<(u64, u64)> = issues.iter().map(|i| (i.issue_id, i.count)).collect();
    let Some(target) = merge_target(&pairs) else {
        return Err(ApiError::InvalidParam {
            name: "id",
            detail: "no issues to merge".into(),
        }
        .into());
    };
    let mut statements = Vec::new();
    for i in issues.iter().filter(|i| i.issue_id != target) {
        let source = i.issue_id;
        statements.push(statement(
            db,
            "UPDATE issue_fingerprints SET issue_id = ?3 WHERE project = ?1 AND issue_id = ?2",
            &[s(project), n(source), n(target)],
        )?);
        statements.push(statement(
            db,
            &format!(
                "UPDATE issues SET
                   count = MIN(count + (SELECT count FROM issues WHERE project = ?1 AND issue_id = ?2), {MAX_STORED_INT}),
                   first_seen = min(first_seen, (SELECT first_seen FROM issues WHERE project = ?1 AND issue_id = ?2)),
                   last_seen = max(last_seen, (SELECT last_seen FROM issues WHERE project = ?1 AND issue_id = ?2))
                 WHERE project = ?1 AND issue_id = ?3"
            ),
            &[s(project), n(source), n(target)],
        )?);
        statements.push(statement(
            db,
            &format!(
                "INSERT INTO issue_hourly (project, issue_id, hour, count)
                 SELECT project, ?3, hour, count FROM issue_hourly WHERE project = ?1 AND issue_id = ?2
                 ON CONFLICT (project, issue_id, hour) DO UPDATE SET count = MIN(count + excluded.count, {MAX_STORED_INT})"
            ),
            &[s(project), n(source), n(target)],
        )?);
        statements.push(statement(
            db,
            "INSERT INTO issue_users (project, issue_id, user_key, first_seen, last_seen)
             SELECT project, ?3, user_key, first_seen, last_seen FROM issue_users WHERE project = ?1 AND issue_id = ?2
             ON CONFLICT (project, issue_id, user_key) DO UPDATE SET
               first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)",
            &[s(project), n(source), n(target)],
        )?);
        statements.push(statement(
            db,
            "UPDATE issues SET merged_into = ?3 WHERE project = ?1 AND issue_id = ?2",
            &[s(project), n(source), n(target)],
        )?);
    }
    statements.push(statement(
        db,
        "UPDATE issues SET users = (SELECT COUNT(*) FROM issue_users WHERE project = ?1 AND issue_id = ?2)
         WHERE project = ?1 AND issue_id = ?2",
        &[s(project), n(target)],
    )?);
    db.batch(statements).await?;
    for i in issues.iter().filter(|i| i.issue_id != target) {
        let line = Activity {
            kind: "merged",
            actor: actor.to_string(),
            detail: format!("merged issue {} ({}) into this one", i.issue_id, i.title),
            event_id: None,
        };
        record_activity(db, project, target, now_ms, &[line]).await?;
        let away = Activity {
            kind: "merged",
            actor: actor.to_string(),
            detail: format!("merged into issue {target}"),
            event_id: None,
        };
        record_activity(db, project, i.issue_id, now_ms, &[away]).await?;
    }
    Ok(target)
}

#[derive(Deserialize)]
struct DueRow {
    project: String,
    #[serde(flatten)]
    issue: IssueRow,
}

/// Wakes time snoozes that ended (in one project, or all for the sweep). Returns what woke,
/// for the alert rules.
pub(crate) async fn wake_due(
    env: &Env,
    project: Option<&str>,
    now_ms: u64,
) -> Result<Vec<Triggered>, StorageError> {
    let db = db(env)?;
    let r = match project {
        Some(p) => statement(
            &db,
            &format!("SELECT i.project, {ISSUE_COLUMNS} FROM issues i WHERE {} AND i.project = ?2 LIMIT 100", snooze_due_sql(1)),
            &[n(now_ms), s(p)],
        )?,
        None => statement(
            &db,
            &format!("SELECT i.project, {ISSUE_COLUMNS} FROM issues i WHERE {} LIMIT 100", snooze_due_sql(1)),
            &[n(now_ms)],
        )?,
    }
    .all()
    .await?;
    let due: Vec<DueRow> = rows(&r, "issue")?;
    let mut woke = Vec::new();
    for d in due {
        let id = d.issue.issue_id;
        let Some((next, line, trigger)) = wake_on_time(&d.issue.state(), now_ms) else {
            // Not a time snooze any more: clear the marker so it is not read again.
            statement(
                &db,
                "UPDATE issues SET snooze_until = NULL WHERE project = ?1 AND issue_id = ?2",
                &[s(&d.project), n(id)],
            )?
            .run()
            .await?;
            continue;
        };
        // Claim the wake: only the request that flips the row records and alerts it.
        let claimed = statement(
            &db,
            &format!(
                "UPDATE issues SET status = ?3, substatus = ?4, details = ?5, snooze_until = NULL
                 WHERE project = ?1 AND issue_id = ?2 AND {}",
                snooze_due_sql(6)
            ),
            &[
                s(&d.project),
                n(id),
                s(next.status.as_str()),
                s(next.substatus.as_str()),
                s(&next.details_json()),
                n(now_ms),
            ],
        )?
        .run()
        .await?;
        if claimed.meta()?.and_then(|m| m.changes).unwrap_or(0) == 0 {
            continue;
        }
        record_activity(&db, &d.project, id, now_ms, &[line]).await?;
        let mut issue = d.issue;
        issue.status = next.status.as_str().into();
        issue.substatus = next.substatus.as_str().into();
        issue.details = next.details_json();
        woke.push(Triggered {
            project: d.project,
            issue,
            trigger: Some(trigger),
            environment: String::new(),
            release: String::new(),
        });
    }
    Ok(woke)
}
