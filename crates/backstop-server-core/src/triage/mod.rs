//! Issue triage: one explicit state machine for an issue's status, and the rules that move it.
//!
//! States: `unresolved` (substatus `new`, `ongoing`, `regressed`, `escalating`), `resolved`
//! (now, in the next release, in a release) and `ignored` (forever, or snoozed until a
//! condition: N more events, U more users, a time, escalation). Two things move an issue:
//! - a person, through [`action::apply`] (the API's `PUT`), and
//! - an event, through [`on_event`]: a regression, a snooze that wakes, an escalation.
//!
//! Every move returns the [`Activity`] to record and, for the moves someone must hear about,
//! a [`Trigger`] for the alert rules. The glue stores the state as three columns (`status`,
//! `substatus`, `details` as JSON, see [`IssueState::details_json`]) and counts what
//! [`IssueState::needs`] asks for; it makes no decision itself.

pub mod action;
pub mod escalation;
pub mod query;
pub mod release;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::time::format_rfc3339_ms;
use release::{is_newer, ReleaseFact};

/// An issue counts as `new` for this long after it was first seen (then `ongoing`).
pub const NEW_FOR_MS: u64 = 7 * 24 * 3_600_000;

/// The top-level status (Sentry's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Needs someone.
    Unresolved,
    /// Fixed (now, or in a release).
    Resolved,
    /// Ignored forever or snoozed.
    Ignored,
}

impl Status {
    /// `unresolved` | `resolved` | `ignored`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unresolved => "unresolved",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unresolved" => Some(Self::Unresolved),
            "resolved" => Some(Self::Resolved),
            "ignored" => Some(Self::Ignored),
            _ => None,
        }
    }
}

/// Why an unresolved issue is unresolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Substatus {
    /// First seen less than [`NEW_FOR_MS`] ago.
    New,
    /// Seen before and still happening.
    Ongoing,
    /// Was resolved; an event came after the fix.
    Regressed,
    /// Its current hour is above its ceiling.
    Escalating,
}

impl Substatus {
    /// `new` | `ongoing` | `regressed` | `escalating`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Ongoing => "ongoing",
            Self::Regressed => "regressed",
            Self::Escalating => "escalating",
        }
    }

    /// The substatus named `s` (unknown names read as `ongoing`: a row is never unreadable).
    pub fn parse(s: &str) -> Self {
        match s {
            "new" => Self::New,
            "regressed" => Self::Regressed,
            "escalating" => Self::Escalating,
            _ => Self::Ongoing,
        }
    }
}

/// How an issue was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolution {
    /// Resolved now: any later event regresses it.
    Now,
    /// Fixed in the release after `after` (the newest release seen when it was resolved).
    InNextRelease {
        /// The newest release at the time, if there was one.
        after: Option<String>,
    },
    /// Fixed in `release`.
    InRelease {
        /// The release that carries the fix.
        release: String,
    },
}

impl Resolution {
    /// How the dashboard names the claim: `1.4.0`, `the release after 1.4.0`, `now`.
    pub fn claim(&self) -> String {
        match self {
            Self::Now => "now".into(),
            Self::InNextRelease { after: Some(a) } => format!("the release after {a}"),
            Self::InNextRelease { after: None } => "the next release".into(),
            Self::InRelease { release } => release.clone(),
        }
    }
}

/// What wakes a snoozed issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SnoozeKind {
    /// Never (ignored for good).
    Forever,
    /// `count` more events (within `window_min` minutes, if set).
    Count {
        /// Events that wake it.
        count: u64,
        /// Minutes they must fall within.
        window_min: Option<u32>,
    },
    /// `users` more users affected (within `window_min` minutes, if set).
    Users {
        /// Users that wake it.
        users: u64,
        /// Minutes they must fall within.
        window_min: Option<u32>,
    },
    /// A time.
    Until {
        /// Epoch ms.
        until_ms: u64,
    },
    /// Its hour going above its ceiling.
    UntilEscalating,
}

/// A snooze: its condition and what it is counted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snooze {
    /// The wake condition.
    pub kind: SnoozeKind,
    /// When it was snoozed (epoch ms): counting starts here.
    pub since_ms: u64,
    /// The issue's event count when snoozed.
    pub baseline_events: u64,
    /// The issue's user count when snoozed.
    pub baseline_users: u64,
}

/// An issue's triage state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueState {
    /// Top-level status.
    pub status: Status,
    /// Meaningful while unresolved.
    pub substatus: Substatus,
    /// Set while resolved.
    pub resolution: Option<Resolution>,
    /// When it was resolved (epoch ms), while resolved.
    pub resolved_at_ms: Option<u64>,
    /// Set while ignored.
    pub snooze: Option<Snooze>,
}

#[derive(Serialize, Deserialize, Default)]
struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snooze: Option<Snooze>,
}

impl IssueState {
    /// A new issue.
    pub fn new_issue() -> Self {
        Self {
            status: Status::Unresolved,
            substatus: Substatus::New,
            resolution: None,
            resolved_at_ms: None,
            snooze: None,
        }
    }

    /// Reads the stored columns. Unreadable values fall back to "unresolved, ongoing": a
    /// damaged row shows up in the inbox rather than disappearing.
    pub fn from_columns(status: &str, substatus: &str, details: &str) -> Self {
        let d: Details = serde_json::from_str(details).unwrap_or_default();
        let status = Status::parse(status).unwrap_or(Status::Unresolved);
        Self {
            status,
            substatus: Substatus::parse(substatus),
            resolution: d.resolution.filter(|_| status == Status::Resolved),
            resolved_at_ms: d.resolved_at_ms.filter(|_| status == Status::Resolved),
            snooze: d.snooze.filter(|_| status == Status::Ignored),
        }
    }

    /// The `details` column.
    pub fn details_json(&self) -> String {
        let d = Details {
            resolution: self.resolution.clone(),
            resolved_at_ms: self.resolved_at_ms,
            snooze: self.snooze.clone(),
        };
        serde_json::to_string(&d).unwrap_or_else(|_| "{}".into())
    }

    /// When a time snooze ends (for the sweep that wakes it without an event).
    pub fn snooze_until_ms(&self) -> Option<u64> {
        match &self.snooze {
            Some(Snooze {
                kind: SnoozeKind::Until { until_ms },
                ..
            }) => Some(*until_ms),
            _ => None,
        }
    }

    /// The status and substatus to show at `now_ms`: `new` turns `ongoing` after
    /// [`NEW_FOR_MS`].
    pub fn shown(&self, first_seen_ms: u64, now_ms: u64) -> (Status, Option<Substatus>) {
        match self.status {
            Status::Unresolved => {
                let sub = match self.substatus {
                    Substatus::New if now_ms.saturating_sub(first_seen_ms) >= NEW_FOR_MS => {
                        Substatus::Ongoing
                    }
                    s => s,
                };
                (Status::Unresolved, Some(sub))
            }
            s => (s, None),
        }
    }

    /// Sentry's `statusDetails` object for the API.
    pub fn status_details(&self) -> Value {
        match (&self.resolution, &self.snooze) {
            (Some(Resolution::InNextRelease { after }), _) => {
                json!({ "inNextRelease": true, "afterRelease": after })
            }
            (Some(Resolution::InRelease { release }), _) => json!({ "inRelease": release }),
            (_, Some(s)) => {
                let since = format_rfc3339_ms(s.since_ms);
                match &s.kind {
                    SnoozeKind::Forever => json!({ "ignoredSince": since }),
                    SnoozeKind::Count { count, window_min } => {
                        json!({ "ignoreCount": count, "ignoreWindow": window_min, "ignoredSince": since })
                    }
                    SnoozeKind::Users { users, window_min } => {
                        json!({ "ignoreUserCount": users, "ignoreUserWindow": window_min, "ignoredSince": since })
                    }
                    SnoozeKind::Until { until_ms } => {
                        json!({ "ignoreUntil": format_rfc3339_ms(*until_ms), "ignoredSince": since })
                    }
                    SnoozeKind::UntilEscalating => {
                        json!({ "ignoreUntilEscalating": true, "ignoredSince": since })
                    }
                }
            }
            _ => json!({}),
        }
    }

    /// What the glue must count before calling [`on_event`] for this state.
    pub fn needs(&self) -> Needs {
        let mut n = Needs::default();
        if let Some(s) = &self.snooze {
            let window = |minutes: u32| Window {
                snoozed_at_ms: s.since_ms,
                minutes,
            };
            match s.kind {
                SnoozeKind::Count {
                    window_min: Some(w),
                    ..
                } => n.events_window = Some(window(w)),
                SnoozeKind::Users {
                    window_min: Some(w),
                    ..
                } => n.users_window = Some(window(w)),
                _ => {}
            }
        }
        n.baseline_release = match &self.resolution {
            Some(Resolution::InRelease { release }) => Some(release.clone()),
            Some(Resolution::InNextRelease { after }) => after.clone(),
            _ => None,
        };
        n
    }
}

/// A snooze window: the last `minutes`, but never before the snooze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the issue was snoozed.
    pub snoozed_at_ms: u64,
    /// The window's length.
    pub minutes: u32,
}

impl Window {
    /// Where the window starts at `now_ms`.
    pub fn start(self, now_ms: u64) -> u64 {
        self.snoozed_at_ms
            .max(now_ms.saturating_sub(u64::from(self.minutes).saturating_mul(60_000)))
    }
}

/// What the glue counts before an event is judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Count this issue's events received within this window.
    pub events_window: Option<Window>,
    /// Count this issue's users last seen within this window.
    pub users_window: Option<Window>,
    /// Look this release up (first appearance in the event's environment).
    pub baseline_release: Option<String>,
}

/// The facts of one new event, as far as triage is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    /// Its id.
    pub event_id: String,
    /// When it happened (clamped event time, epoch ms).
    pub event_ms: u64,
    /// Its release in its environment (`name` empty when it has none).
    pub release: ReleaseFact,
}

/// What the glue counted (this event included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// The issue's events in all.
    pub events: u64,
    /// The issue's users in all.
    pub users: u64,
    /// Events in the window [`Needs::events_window`] asked for.
    pub events_in_window: Option<u64>,
    /// Users in the window [`Needs::users_window`] asked for.
    pub users_in_window: Option<u64>,
    /// Events in the current hour.
    pub this_hour: u64,
    /// The escalation ceiling ([`escalation::ceiling`]).
    pub ceiling: u64,
    /// The baseline release [`Needs::baseline_release`] asked for, in the event's environment.
    pub baseline: Option<ReleaseFact>,
}

/// Something the alert rules hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The first event of an issue.
    NewIssue,
    /// A resolved issue came back.
    Regressed {
        /// The event's release (empty if none).
        release: String,
        /// What the fix claimed ([`Resolution::claim`]).
        fix_claimed: String,
    },
    /// A snooze's condition was met.
    SnoozeWoke {
        /// Human text: "10 more events since it was snoozed".
        why: String,
    },
    /// The current hour went above the ceiling.
    Escalating {
        /// Events this hour.
        this_hour: u64,
        /// The ceiling.
        ceiling: u64,
    },
}

impl Trigger {
    /// The alert rule kind this trigger feeds (`new_issue`, `regression`, `snooze_woke`,
    /// `escalating`).
    pub fn rule_kind(&self) -> &'static str {
        match self {
            Self::NewIssue => "new_issue",
            Self::Regressed { .. } => "regression",
            Self::SnoozeWoke { .. } => "snooze_woke",
            Self::Escalating { .. } => "escalating",
        }
    }
}

/// One line of an issue's activity log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// `first_seen`, `regressed`, `snooze_woke`, `escalating`, `resolved`, `ignored`,
    /// `unresolved`, `assigned`, `unassigned`, `note`, `merged`.
    pub kind: &'static str,
    /// Who: a person's name, or `backstop` for the rules.
    pub actor: String,
    /// Human text of what happened and why.
    pub detail: String,
    /// The event that caused it, if one did.
    pub event_id: Option<String>,
}

/// The actor of moves made by the rules.
pub const SYSTEM_ACTOR: &str = "backstop";

/// What one event does to an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The state after the event.
    pub state: IssueState,
    /// What to alert.
    pub triggers: Vec<Trigger>,
    /// What to record.
    pub activity: Vec<Activity>,
}

fn rule_move(kind: &'static str, detail: String, event: &EventFacts) -> Activity {
    Activity {
        kind,
        actor: SYSTEM_ACTOR.into(),
        detail,
        event_id: Some(event.event_id.clone()),
    }
}

/// One issue's new events of a consumer batch, judged in the order they were stored. The
/// batch reads the issue once, before its first event; each event then sees the state and
/// count the previous one left, exactly as if the events had been stored one at a time (a
/// new issue is new once, a regression regresses once).
///
/// What a state needs read ([`IssueState::needs`]) only shrinks as events arrive (events wake
/// snoozes and end resolutions, never start them), so what the batch read for the state
/// before its first event covers every later event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRun {
    state: IssueState,
    events: u64,
}

impl IssueRun {
    /// The issue as stored before the batch: its state and its event count (0 for an issue
    /// the batch created).
    pub fn new(state: IssueState, stored_events: u64) -> Self {
        Self {
            state,
            events: stored_events,
        }
    }

    /// Judges the next new event. `counts.events` is ignored: the run counts the events.
    pub fn next(&mut self, event: &EventFacts, counts: Counts) -> Outcome {
        let is_new = self.events == 0;
        let counts = Counts {
            events: self.events.saturating_add(1),
            ..counts
        };
        let out = on_event(&self.state, is_new, event, &counts);
        self.events = counts.events;
        self.state = out.state.clone();
        out
    }

    /// The state after the events judged so far.
    pub fn state(&self) -> &IssueState {
        &self.state
    }

    /// The issue's events after the events judged so far.
    pub fn events(&self) -> u64 {
        self.events
    }
}

/// Judges one new event of an issue. `is_new` is true for the issue's first event.
pub fn on_event(state: &IssueState, is_new: bool, event: &EventFacts, counts: &Counts) -> Outcome {
    let mut out = Outcome {
        state: state.clone(),
        triggers: Vec::new(),
        activity: Vec::new(),
    };
    if is_new {
        out.state = IssueState::new_issue();
        out.triggers.push(Trigger::NewIssue);
        out.activity
            .push(rule_move("first_seen", "first seen".into(), event));
        return out;
    }
    let escalating = escalation::is_escalating(counts.this_hour, counts.ceiling);
    match state.status {
        Status::Resolved => {
            if let Some(why) = regression(state, event, counts) {
                out.state = IssueState {
                    status: Status::Unresolved,
                    substatus: Substatus::Regressed,
                    resolution: None,
                    resolved_at_ms: None,
                    snooze: None,
                };
                out.activity.push(rule_move("regressed", why, event));
                let fix_claimed = state
                    .resolution
                    .as_ref()
                    .map_or_else(|| "now".into(), Resolution::claim);
                out.triggers.push(Trigger::Regressed {
                    release: event.release.name.clone(),
                    fix_claimed,
                });
            }
        }
        Status::Ignored => {
            if let Some(why) = state
                .snooze
                .as_ref()
                .and_then(|s| wake(s, event.event_ms, counts, escalating))
            {
                out.state = IssueState {
                    status: Status::Unresolved,
                    substatus: if escalating {
                        Substatus::Escalating
                    } else {
                        Substatus::Ongoing
                    },
                    resolution: None,
                    resolved_at_ms: None,
                    snooze: None,
                };
                out.activity
                    .push(rule_move("snooze_woke", why.clone(), event));
                out.triggers.push(Trigger::SnoozeWoke { why });
            }
        }
        Status::Unresolved => {
            if escalating && state.substatus != Substatus::Escalating {
                out.state.substatus = Substatus::Escalating;
                out.activity.push(rule_move(
                    "escalating",
                    format!(
                        "{} events this hour, above its ceiling of {}",
                        counts.this_hour, counts.ceiling
                    ),
                    event,
                ));
                out.triggers.push(Trigger::Escalating {
                    this_hour: counts.this_hour,
                    ceiling: counts.ceiling,
                });
            } else if !escalating && state.substatus == Substatus::Escalating {
                out.state.substatus = Substatus::Ongoing;
            }
        }
    }
    out
}

/// Why a resolved issue regresses with this event, or `None` when it does not.
fn regression(state: &IssueState, event: &EventFacts, counts: &Counts) -> Option<String> {
    let resolved_at = state.resolved_at_ms.unwrap_or(0);
    if event.event_ms < resolved_at {
        // A late event from before the fix (an offline queue, a retry) proves nothing.
        return None;
    }
    let release = &event.release;
    let in_release = if release.name.is_empty() {
        String::new()
    } else {
        format!(" in {}", release.name)
    };
    match state.resolution.as_ref().unwrap_or(&Resolution::Now) {
        Resolution::Now => Some(format!("regressed{in_release} (resolved now)")),
        res @ (Resolution::InRelease { .. } | Resolution::InNextRelease { .. }) => {
            if release.name.is_empty() {
                // Without a release nothing says the event ran the fixed code.
                return None;
            }
            let newer = match &counts.baseline {
                Some(b) if !b.name.is_empty() => is_newer(release, b),
                _ => None,
            }
            // Nothing orders them (the fix release never appeared here and neither is semver):
            // newer if the event's release first appeared after the resolution.
            .unwrap_or_else(|| release.first_seen_ms.is_some_and(|f| f > resolved_at));
            newer.then(|| format!("regressed{in_release} (fix claimed in {})", res.claim()))
        }
    }
}

/// Why a snooze wakes with this event, or `None`.
fn wake(s: &Snooze, now_ms: u64, counts: &Counts, escalating: bool) -> Option<String> {
    match &s.kind {
        SnoozeKind::Forever => None,
        SnoozeKind::Count { count, window_min } => {
            let (seen, within) = match window_min {
                Some(w) => (
                    counts.events_in_window.unwrap_or(0),
                    format!(" within {w} min"),
                ),
                None => (
                    counts.events.saturating_sub(s.baseline_events),
                    String::new(),
                ),
            };
            (seen >= *count).then(|| {
                format!("{seen} more events{within} since it was snoozed (woke at {count})")
            })
        }
        SnoozeKind::Users { users, window_min } => {
            let (seen, within) = match window_min {
                Some(w) => (
                    counts.users_in_window.unwrap_or(0),
                    format!(" within {w} min"),
                ),
                None => (counts.users.saturating_sub(s.baseline_users), String::new()),
            };
            (seen >= *users).then(|| {
                format!("{seen} more users{within} since it was snoozed (woke at {users})")
            })
        }
        SnoozeKind::Until { until_ms } => (now_ms >= *until_ms)
            .then(|| format!("the snooze until {} ended", format_rfc3339_ms(*until_ms))),
        SnoozeKind::UntilEscalating => escalating.then(|| {
            format!(
                "escalating: {} events this hour, above its ceiling of {}",
                counts.this_hour, counts.ceiling
            )
        }),
    }
}

/// Whether the sweep reads an issue row for [`wake_on_time`] at `now_ms`: its stored time-snooze
/// marker (`snooze_until`, [`IssueState::snooze_until_ms`] when saved) has passed. The store
/// selects exactly these with [`snooze_due_sql`] (checked on SQLite in `tests/sweep_sql.rs`);
/// [`wake_on_time`] then decides on the whole state, and a row it refuses has its marker cleared.
pub fn is_snooze_due(snooze_until_ms: Option<u64>, now_ms: u64) -> bool {
    snooze_until_ms.is_some_and(|until| until <= now_ms)
}

/// [`is_snooze_due`] as the store's condition on `issues` rows, `now_ms` bound as `?{now}`.
pub fn snooze_due_sql(now: u8) -> String {
    format!("snooze_until IS NOT NULL AND snooze_until <= ?{now}")
}

/// Wakes a time snooze that ended without an event (the sweep's rule). `None` when it has
/// not ended or is not a time snooze.
pub fn wake_on_time(state: &IssueState, now_ms: u64) -> Option<(IssueState, Activity, Trigger)> {
    let until = state.snooze_until_ms()?;
    if state.status != Status::Ignored || now_ms < until {
        return None;
    }
    let why = format!("the snooze until {} ended", format_rfc3339_ms(until));
    let next = IssueState {
        status: Status::Unresolved,
        substatus: Substatus::Ongoing,
        resolution: None,
        resolved_at_ms: None,
        snooze: None,
    };
    let activity = Activity {
        kind: "snooze_woke",
        actor: SYSTEM_ACTOR.into(),
        detail: why.clone(),
        event_id: None,
    };
    Some((next, activity, Trigger::SnoozeWoke { why }))
}

/// Longest user key kept.
const MAX_USER_KEY_CHARS: usize = 200;

/// Who an event's user is, for "users affected": the first of `user.id`, `user.email`,
/// `user.username`, `user.ip_address`, prefixed by which it is (`id:42`), so an id and an email
/// that look alike never count as one person. `None` when the event names nobody.
pub fn user_key(payload: &Value) -> Option<String> {
    let user = payload.get("user")?;
    ["id", "email", "username", "ip_address"]
        .iter()
        .find_map(|k| {
            let v = match user.get(*k)? {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            (!v.is_empty() && v != "{{auto}}").then(|| {
                format!(
                    "{k}:{}",
                    v.chars().take(MAX_USER_KEY_CHARS).collect::<String>()
                )
            })
        })
}

#[cfg(test)]
mod tests;
