//! What a person does to an issue: the body of `PUT /api/{project}/issues/{id}` (and of the
//! bulk `PUT /api/{project}/issues?id=…`), in Sentry's vocabulary so existing scripts
//! translate, validated into an [`Update`], then applied with [`apply`].
//!
//! ```json
//! {"status": "resolved", "statusDetails": {"inNextRelease": true}}
//! {"status": "ignored", "statusDetails": {"ignoreCount": 10, "ignoreWindow": 60}}
//! {"assignedTo": "alice@shop.test", "note": "https://github.com/shop/app/issues/7"}
//! {"merge": 1}
//! ```

use serde_json::{Map, Value};

use super::{Activity, IssueState, Resolution, Snooze, SnoozeKind, Status, Substatus};
use crate::time::{format_rfc3339_ms, parse_rfc3339_ms};

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Longest release name accepted in `inRelease`.
pub const MAX_RELEASE_CHARS: usize = 200;
/// Largest `ignoreCount` / `ignoreUserCount`.
pub const MAX_IGNORE_COUNT: u64 = 1_000_000_000;
/// Longest window (`ignoreWindow`, `ignoreUserWindow`), in minutes: 7 days.
pub const MAX_WINDOW_MIN: u64 = 7 * 24 * 60;
/// Longest snooze by time (`ignoreDuration`, `ignoreUntil`), in minutes: a year.
pub const MAX_DURATION_MIN: u64 = 365 * 24 * 60;

/// A body that cannot be applied: which field, and what is wrong with it (limits included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct UpdateError {
    /// The JSON field.
    pub field: &'static str,
    /// What was wrong and the limit.
    pub detail: String,
}

fn bad(field: &'static str, detail: impl Into<String>) -> UpdateError {
    UpdateError {
        field,
        detail: detail.into(),
    }
}

/// How an issue is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveHow {
    /// Now.
    Now,
    /// In the next release (after the newest one seen).
    InNextRelease,
    /// In this release.
    InRelease(String),
}

/// What ignoring waits for. Times are in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnoozeSpec {
    /// Forever.
    Forever,
    /// N more events, optionally within a window of minutes.
    Count(u64, Option<u32>),
    /// U more users, optionally within a window of minutes.
    Users(u64, Option<u32>),
    /// For this many minutes.
    Duration(u64),
    /// Until this time (epoch ms).
    Until(u64),
    /// Until it escalates.
    UntilEscalating,
}

/// A status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// Resolve.
    Resolve(ResolveHow),
    /// Reopen.
    Unresolve,
    /// Ignore or snooze.
    Ignore(SnoozeSpec),
}

/// A validated update. Absent fields change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// The new status.
    pub status: Option<StatusChange>,
    /// `Some(None)` unassigns.
    pub assigned_to: Option<Option<String>>,
    /// A note (free text, a link) to add to the activity log and show on the issue.
    pub note: Option<String>,
    /// Merge the selected issues (bulk only).
    pub merge: bool,
}

impl Update {
    /// Whether the body asked for nothing.
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.assigned_to.is_none() && self.note.is_none() && !self.merge
    }
}

fn uint(
    details: &Map<String, Value>,
    field: &'static str,
    max: u64,
) -> Result<Option<u64>, UpdateError> {
    match details.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(bad(
                field,
                format!("must be a whole number from 1 to {max}"),
            )),
        },
    }
}

fn window(details: &Map<String, Value>, field: &'static str) -> Result<Option<u32>, UpdateError> {
    Ok(uint(details, field, MAX_WINDOW_MIN)?.and_then(|w| u32::try_from(w).ok()))
}

/// Validates a `PUT` body. `team` is the project's member list (assignees must be on it);
/// `now_ms` bounds `ignoreUntil`.
pub fn parse_update(body: &Value, team: &[String], now_ms: u64) -> Result<Update, UpdateError> {
    let Some(obj) = body.as_object() else {
        return Err(bad("body", "must be a JSON object"));
    };
    const KNOWN: [&str; 6] = [
        "status",
        "statusDetails",
        "assignedTo",
        "note",
        "merge",
        "substatus",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(
            "body",
            format!("unknown field {k:?}; known: {}", KNOWN.join(", ")),
        ));
    }
    let empty = Map::new();
    let details = match obj.get("statusDetails") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(bad("statusDetails", "must be an object")),
    };
    let status = match obj.get("status") {
        None | Some(Value::Null) => {
            if !details.is_empty() {
                return Err(bad("statusDetails", "needs a status"));
            }
            None
        }
        Some(Value::String(s)) => Some(match s.as_str() {
            "resolved" => StatusChange::Resolve(resolve_how(details)?),
            "resolvedInNextRelease" => StatusChange::Resolve(ResolveHow::InNextRelease),
            "unresolved" => StatusChange::Unresolve,
            "ignored" | "muted" => StatusChange::Ignore(snooze_spec(details, now_ms)?),
            other => {
                return Err(bad(
                    "status",
                    format!("{other:?} is not one of resolved, unresolved, ignored"),
                ))
            }
        }),
        Some(_) => return Err(bad("status", "must be a string")),
    };
    let assigned_to = match obj.get("assignedTo") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) => {
            let name = s.trim().strip_prefix("user:").unwrap_or(s.trim());
            if !team.iter().any(|m| m == name) {
                let list = if team.is_empty() {
                    "the project has no team list (BACKSTOP_PROJECTS \"team\")".to_string()
                } else {
                    format!("members: {}", team.join(", "))
                };
                return Err(bad(
                    "assignedTo",
                    format!("{name:?} is not on the team; {list}"),
                ));
            }
            Some(Some(name.to_string()))
        }
        Some(_) => return Err(bad("assignedTo", "must be a string or null")),
    };
    let note = match obj.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => return Err(bad("note", "is empty")),
        Some(Value::String(s)) if s.chars().count() > MAX_NOTE_CHARS => {
            return Err(bad(
                "note",
                format!("is longer than {MAX_NOTE_CHARS} characters"),
            ))
        }
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(bad("note", "must be a string")),
    };
    let merge = match obj.get("merge") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(_) => return Err(bad("merge", "must be 1 or true")),
    };
    let update = Update {
        status,
        assigned_to,
        note,
        merge,
    };
    if update.is_empty() {
        return Err(bad(
            "body",
            "nothing to do: give status, assignedTo, note or merge",
        ));
    }
    Ok(update)
}

fn resolve_how(d: &Map<String, Value>) -> Result<ResolveHow, UpdateError> {
    if let Some(v) = d.get("inRelease").filter(|v| !v.is_null()) {
        let Some(r) = v.as_str().map(str::trim).filter(|r| !r.is_empty()) else {
            return Err(bad("statusDetails.inRelease", "must be a release name"));
        };
        if r.chars().count() > MAX_RELEASE_CHARS {
            return Err(bad(
                "statusDetails.inRelease",
                format!("is longer than {MAX_RELEASE_CHARS} characters"),
            ));
        }
        return Ok(ResolveHow::InRelease(r.to_string()));
    }
    match d.get("inNextRelease") {
        Some(Value::Bool(true)) => Ok(ResolveHow::InNextRelease),
        None | Some(Value::Bool(false) | Value::Null) => Ok(ResolveHow::Now),
        Some(_) => Err(bad("statusDetails.inNextRelease", "must be true or false")),
    }
}

fn snooze_spec(d: &Map<String, Value>, now_ms: u64) -> Result<SnoozeSpec, UpdateError> {
    let mut specs = Vec::new();
    if let Some(n) = uint(d, "ignoreCount", MAX_IGNORE_COUNT)? {
        specs.push(SnoozeSpec::Count(n, window(d, "ignoreWindow")?));
    }
    if let Some(n) = uint(d, "ignoreUserCount", MAX_IGNORE_COUNT)? {
        specs.push(SnoozeSpec::Users(n, window(d, "ignoreUserWindow")?));
    }
    if let Some(m) = uint(d, "ignoreDuration", MAX_DURATION_MIN)? {
        specs.push(SnoozeSpec::Duration(m));
    }
    match d.get("ignoreUntil") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let at = match v {
                Value::String(s) => parse_rfc3339_ms(s),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            let latest = now_ms.saturating_add(MAX_DURATION_MIN * 60_000);
            match at {
                Some(t) if t > now_ms && t <= latest => specs.push(SnoozeSpec::Until(t)),
                Some(_) => {
                    return Err(bad(
                        "statusDetails.ignoreUntil",
                        format!(
                            "must be in the future and at most a year away (now {})",
                            format_rfc3339_ms(now_ms)
                        ),
                    ))
                }
                None => {
                    return Err(bad(
                        "statusDetails.ignoreUntil",
                        "must be an RFC 3339 time or epoch milliseconds",
                    ))
                }
            }
        }
    }
    match d.get("ignoreUntilEscalating") {
        Some(Value::Bool(true)) => specs.push(SnoozeSpec::UntilEscalating),
        None | Some(Value::Bool(false) | Value::Null) => {}
        Some(_) => {
            return Err(bad(
                "statusDetails.ignoreUntilEscalating",
                "must be true or false",
            ))
        }
    }
    if d.contains_key("ignoreWindow") && !d.contains_key("ignoreCount") {
        return Err(bad("statusDetails.ignoreWindow", "needs ignoreCount"));
    }
    if d.contains_key("ignoreUserWindow") && !d.contains_key("ignoreUserCount") {
        return Err(bad(
            "statusDetails.ignoreUserWindow",
            "needs ignoreUserCount",
        ));
    }
    match specs.len() {
        0 => Ok(SnoozeSpec::Forever),
        1 => Ok(specs.remove(0)),
        _ => Err(bad(
            "statusDetails",
            "give one snooze condition: ignoreCount, ignoreUserCount, ignoreDuration, ignoreUntil or ignoreUntilEscalating",
        )),
    }
}

/// What [`apply`] needs to know about the issue and the moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Now (epoch ms).
    pub now_ms: u64,
    /// Who acts.
    pub actor: String,
    /// The issue's events so far (snoozes count from here).
    pub events: u64,
    /// The issue's users so far.
    pub users: u64,
    /// The newest release of the project (by first appearance), for "in next release".
    pub latest_release: Option<String>,
}

/// Applies a status change. Returns the new state and the activity line; `None` when the
/// state does not change (re-resolving a resolved issue the same way records nothing).
pub fn apply(
    state: &IssueState,
    change: &StatusChange,
    ctx: &Context,
) -> Option<(IssueState, Activity)> {
    let (next, detail) = match change {
        StatusChange::Resolve(how) => {
            let resolution = match how {
                ResolveHow::Now => Resolution::Now,
                ResolveHow::InNextRelease => Resolution::InNextRelease {
                    after: ctx.latest_release.clone(),
                },
                ResolveHow::InRelease(r) => Resolution::InRelease { release: r.clone() },
            };
            let detail = match &resolution {
                Resolution::Now => "resolved".to_string(),
                r => format!("resolved in {}", r.claim()),
            };
            let next = IssueState {
                status: Status::Resolved,
                substatus: state.substatus,
                resolution: Some(resolution),
                resolved_at_ms: Some(ctx.now_ms),
                snooze: None,
            };
            (next, detail)
        }
        StatusChange::Unresolve => (
            IssueState {
                status: Status::Unresolved,
                substatus: match state.substatus {
                    Substatus::New => Substatus::New,
                    _ => Substatus::Ongoing,
                },
                resolution: None,
                resolved_at_ms: None,
                snooze: None,
            },
            "reopened".to_string(),
        ),
        StatusChange::Ignore(spec) => {
            let (kind, detail) = match spec {
                SnoozeSpec::Forever => (SnoozeKind::Forever, "ignored".to_string()),
                SnoozeSpec::Count(n, w) => (
                    SnoozeKind::Count {
                        count: *n,
                        window_min: *w,
                    },
                    format!("snoozed until {n} more events{}", within(*w)),
                ),
                SnoozeSpec::Users(n, w) => (
                    SnoozeKind::Users {
                        users: *n,
                        window_min: *w,
                    },
                    format!("snoozed until {n} more users{}", within(*w)),
                ),
                SnoozeSpec::Duration(m) => {
                    let until_ms = ctx.now_ms.saturating_add(m.saturating_mul(60_000));
                    (
                        SnoozeKind::Until { until_ms },
                        format!("snoozed for {m} min, until {}", format_rfc3339_ms(until_ms)),
                    )
                }
                SnoozeSpec::Until(t) => (
                    SnoozeKind::Until { until_ms: *t },
                    format!("snoozed until {}", format_rfc3339_ms(*t)),
                ),
                SnoozeSpec::UntilEscalating => (
                    SnoozeKind::UntilEscalating,
                    "snoozed until it escalates".to_string(),
                ),
            };
            let next = IssueState {
                status: Status::Ignored,
                substatus: state.substatus,
                resolution: None,
                resolved_at_ms: None,
                snooze: Some(Snooze {
                    kind,
                    since_ms: ctx.now_ms,
                    baseline_events: ctx.events,
                    baseline_users: ctx.users,
                }),
            };
            (next, detail)
        }
    };
    let same = next.status == state.status
        && next.resolution == state.resolution
        && next.snooze.as_ref().map(|s| &s.kind) == state.snooze.as_ref().map(|s| &s.kind);
    if same {
        return None;
    }
    let kind = match next.status {
        Status::Resolved => "resolved",
        Status::Ignored => "ignored",
        Status::Unresolved => "unresolved",
    };
    Some((
        next,
        Activity {
            kind,
            actor: ctx.actor.clone(),
            detail,
            event_id: None,
        },
    ))
}

fn within(w: Option<u32>) -> String {
    w.map(|w| format!(" within {w} min")).unwrap_or_default()
}

/// The activity line of an assignment change.
pub fn assignment_activity(to: Option<&str>, actor: &str) -> Activity {
    Activity {
        kind: if to.is_some() {
            "assigned"
        } else {
            "unassigned"
        },
        actor: actor.to_string(),
        detail: to.map_or_else(|| "unassigned".into(), |t| format!("assigned to {t}")),
        event_id: None,
    }
}

/// The activity line of a note.
pub fn note_activity(note: &str, actor: &str) -> Activity {
    Activity {
        kind: "note",
        actor: actor.to_string(),
        detail: note.to_string(),
        event_id: None,
    }
}

/// Which of the issues to merge into: the one with the most events (ties: the oldest id), so
/// the issue people already know keeps its number. `issues` are `(id, events)`.
pub fn merge_target(issues: &[(u64, u64)]) -> Option<u64> {
    issues
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000_000;

    fn team() -> Vec<String> {
        vec!["alice@shop.test".into(), "bob@shop.test".into()]
    }

    #[test]
    fn parses_sentry_bodies() {
        let cases = [
            (
                json!({"status": "resolved"}),
                StatusChange::Resolve(ResolveHow::Now),
                "resolve now",
            ),
            (
                json!({"status": "resolved", "statusDetails": {"inNextRelease": true}}),
                StatusChange::Resolve(ResolveHow::InNextRelease),
                "next release",
            ),
            (
                json!({"status": "resolvedInNextRelease"}),
                StatusChange::Resolve(ResolveHow::InNextRelease),
                "old Sentry spelling",
            ),
            (
                json!({"status": "resolved", "statusDetails": {"inRelease": "1.4.0"}}),
                StatusChange::Resolve(ResolveHow::InRelease("1.4.0".into())),
                "in release",
            ),
            (
                json!({"status": "unresolved"}),
                StatusChange::Unresolve,
                "reopen",
            ),
            (
                json!({"status": "ignored"}),
                StatusChange::Ignore(SnoozeSpec::Forever),
                "ignore forever",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreCount": 10}}),
                StatusChange::Ignore(SnoozeSpec::Count(10, None)),
                "10 more",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreCount": 100, "ignoreWindow": 60}}),
                StatusChange::Ignore(SnoozeSpec::Count(100, Some(60))),
                "100 in an hour",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreUserCount": 5, "ignoreUserWindow": 1440}}),
                StatusChange::Ignore(SnoozeSpec::Users(5, Some(1440))),
                "users",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreDuration": 60}}),
                StatusChange::Ignore(SnoozeSpec::Duration(60)),
                "an hour",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreUntil": "2027-01-16T08:00:00Z"}}),
                StatusChange::Ignore(SnoozeSpec::Until(
                    parse_rfc3339_ms("2027-01-16T08:00:00Z").unwrap(),
                )),
                "until a time",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreUntilEscalating": true}}),
                StatusChange::Ignore(SnoozeSpec::UntilEscalating),
                "until escalating",
            ),
        ];
        for (body, want, why) in cases {
            let u = parse_update(&body, &team(), NOW).unwrap_or_else(|e| panic!("{why}: {e}"));
            assert_eq!(u.status, Some(want), "{why}");
        }
    }

    #[test]
    fn refuses_bad_bodies_saying_what_and_the_limit() {
        let cases = [
            (json!([1]), "body", "must be a JSON object"),
            (json!({}), "body", "nothing to do"),
            (json!({"status": "fixed"}), "status", "not one of"),
            (json!({"status": 3}), "status", "must be a string"),
            (
                json!({"statusDetails": {"inNextRelease": true}}),
                "statusDetails",
                "needs a status",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreCount": 0}}),
                "ignoreCount",
                "from 1 to 1000000000",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreCount": 5, "ignoreWindow": 20000}}),
                "ignoreWindow",
                "from 1 to 10080",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreWindow": 5}}),
                "statusDetails.ignoreWindow",
                "needs ignoreCount",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreCount": 5, "ignoreDuration": 5}}),
                "statusDetails",
                "one snooze condition",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreUntil": "2020-01-01T00:00:00Z"}}),
                "statusDetails.ignoreUntil",
                "in the future",
            ),
            (
                json!({"status": "ignored", "statusDetails": {"ignoreUntil": "soon"}}),
                "statusDetails.ignoreUntil",
                "RFC 3339",
            ),
            (
                json!({"status": "resolved", "statusDetails": {"inRelease": ""}}),
                "statusDetails.inRelease",
                "release name",
            ),
            (
                json!({"status": "resolved", "statusDetails": {"inRelease": "x".repeat(201)}}),
                "statusDetails.inRelease",
                "200 characters",
            ),
            (
                json!({"assignedTo": "mallory@evil.test"}),
                "assignedTo",
                "alice@shop.test, bob@shop.test",
            ),
            (json!({"note": "x".repeat(2001)}), "note", "2000 characters"),
            (json!({"note": "  "}), "note", "is empty"),
            (json!({"merge": "yes"}), "merge", "1 or true"),
            (
                json!({"status": "resolved", "drop": true}),
                "body",
                "unknown field \"drop\"",
            ),
        ];
        for (body, field, needle) in cases {
            let e = parse_update(&body, &team(), NOW).expect_err(&format!("{body}"));
            assert_eq!(e.field, field, "{body}: {e}");
            assert!(
                e.to_string().contains(needle),
                "{body}: {e} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn assignment_and_notes() {
        let u = parse_update(
            &json!({"assignedTo": "user:bob@shop.test", "note": " see #7 "}),
            &team(),
            NOW,
        )
        .unwrap();
        assert_eq!(
            u.assigned_to,
            Some(Some("bob@shop.test".into())),
            "user: prefix"
        );
        assert_eq!(u.note.as_deref(), Some("see #7"));
        let u = parse_update(&json!({"assignedTo": null}), &team(), NOW).unwrap();
        assert_eq!(u.assigned_to, Some(None), "null unassigns");
        let e = parse_update(&json!({"assignedTo": "a"}), &[], NOW).unwrap_err();
        assert!(e.detail.contains("no team list"), "{e}");
    }

    fn ctx() -> Context {
        Context {
            now_ms: NOW,
            actor: "alice@shop.test".into(),
            events: 41,
            users: 7,
            latest_release: Some("1.4.0".into()),
        }
    }

    #[test]
    fn applies_changes_with_activity() {
        let s = IssueState::new_issue();
        let (r, a) = apply(
            &s,
            &StatusChange::Resolve(ResolveHow::InNextRelease),
            &ctx(),
        )
        .unwrap();
        assert_eq!(r.status, Status::Resolved);
        assert_eq!(
            r.resolution,
            Some(Resolution::InNextRelease {
                after: Some("1.4.0".into())
            })
        );
        assert_eq!(r.resolved_at_ms, Some(NOW));
        assert_eq!(
            (a.kind, a.actor.as_str(), a.detail.as_str()),
            (
                "resolved",
                "alice@shop.test",
                "resolved in the release after 1.4.0"
            )
        );
        assert!(
            apply(
                &r,
                &StatusChange::Resolve(ResolveHow::InNextRelease),
                &ctx()
            )
            .is_none(),
            "same change: no activity"
        );

        let (i, a) = apply(
            &r,
            &StatusChange::Ignore(SnoozeSpec::Count(10, None)),
            &ctx(),
        )
        .unwrap();
        assert_eq!(i.status, Status::Ignored);
        assert_eq!(i.resolution, None, "ignoring clears the resolution");
        let sn = i.snooze.clone().unwrap();
        assert_eq!(
            (sn.baseline_events, sn.baseline_users, sn.since_ms),
            (41, 7, NOW),
            "counted from the moment of snoozing"
        );
        assert_eq!(a.detail, "snoozed until 10 more events");

        let (d, a) = apply(&i, &StatusChange::Ignore(SnoozeSpec::Duration(60)), &ctx()).unwrap();
        assert_eq!(d.snooze_until_ms(), Some(NOW + 3_600_000));
        assert!(
            a.detail.starts_with("snoozed for 60 min, until "),
            "{}",
            a.detail
        );

        let (u, a) = apply(&d, &StatusChange::Unresolve, &ctx()).unwrap();
        assert_eq!(
            (u.status, u.substatus, u.snooze.clone()),
            (Status::Unresolved, Substatus::New, None)
        );
        assert_eq!(a.kind, "unresolved");
    }

    #[test]
    fn merge_keeps_the_biggest() {
        assert_eq!(
            merge_target(&[(3, 10), (1, 50), (2, 50)]),
            Some(1),
            "most events, then oldest id"
        );
        assert_eq!(merge_target(&[]), None);
    }
}
