//! What an alert says, and how it is put for each kind of destination: a Slack-compatible
//! message ([`slack_body`]), a signed JSON webhook ([`webhook_body`], [`signature`]) and a
//! PagerDuty Events API v2 event ([`pagerduty_body`]).
//!
//! Text from events (titles, culprits, releases) is the sender's: in Slack it is escaped, so
//! an error message `<!channel>` cannot ping a whole channel.

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::ALERT_MARKER;
use crate::time::format_rfc3339_ms;

/// Header carrying the webhook signature: `t=<timestamp_ms>,v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Backstop-Signature";
/// Header carrying the alert's id (episode id and notification), the same on every retry of
/// one notification, so a receiver can de-duplicate.
pub const ALERT_ID_HEADER: &str = "X-Backstop-Alert-Id";
/// The `User-Agent` of alert requests.
pub const USER_AGENT: &str = "Backstop-Alert/1";
/// How far a signature's timestamp may be from the receiver's clock before
/// [`verify_signature`] refuses it as a replay: 5 minutes.
pub const DEFAULT_TOLERANCE_MS: u64 = 5 * 60_000;
/// PagerDuty's limit on `payload.summary`.
pub const PAGERDUTY_SUMMARY_CHARS: usize = 1024;
/// Version of the webhook body's shape.
pub const WEBHOOK_VERSION: u32 = 1;

/// Longest title shown in a Slack message (the webhook and PagerDuty details keep it whole).
const SLACK_TITLE_CHARS: usize = 300;
/// Longest culprit shown in a Slack message.
const SLACK_CULPRIT_CHARS: usize = 200;

/// What a volume trigger counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Events.
    Events,
    /// Distinct users.
    Users,
}

/// What happened. Every variant carries what the message needs to say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// An issue was seen for the first time.
    NewIssue,
    /// A resolved issue was seen again.
    Regression {
        /// The release it came back in (`""` when the event has none).
        release: String,
        /// The release it was resolved in, when it was resolved "in a release".
        fixed_in: Option<String>,
    },
    /// A snoozed issue woke up.
    SnoozeWoke {
        /// Why, in words: "its snooze of 24 h ended", "100 more events".
        why: String,
    },
    /// An issue grows past its forecast.
    Escalating {
        /// Events in the forecast's window.
        count: u64,
        /// What the forecast allowed.
        ceiling: u64,
    },
    /// An issue reached a volume threshold.
    Volume {
        /// What was counted.
        measure: Measure,
        /// How many in the window.
        count: u64,
        /// The rule's threshold.
        threshold: u64,
        /// The window, in minutes.
        window_min: u32,
    },
    /// The project's event rate spiked.
    Spike {
        /// Events in the window.
        count: u64,
        /// The usual number in a window as long.
        baseline: u64,
        /// The rule's factor.
        factor_percent: u32,
        /// The window, in minutes.
        window_min: u32,
    },
    /// Too many of the project's events were dropped.
    DropRate {
        /// Events dropped in the window.
        dropped: u64,
        /// Events that arrived (kept plus dropped).
        total: u64,
        /// The rule's ratio.
        ratio_percent: u32,
        /// The drop reason the rule watches; any when `None`.
        reason: Option<String>,
        /// The window, in minutes.
        window_min: u32,
    },
    /// A project that usually sends events sent none.
    Silent {
        /// How long it has been silent, in minutes.
        window_min: u32,
        /// The usual number of events in a window as long.
        usual: u64,
    },
    /// Many new issues at once, collapsed into one message (see `storm`).
    Storm {
        /// New issues in the batch (exact).
        count: u64,
        /// The most common release among them.
        since_release: Option<String>,
    },
    /// The webhook guard held a delivery, or one ran out of retries.
    Webhook {
        /// The route.
        route: String,
        /// The delivery.
        delivery_id: String,
        /// `false`: held; `true`: every retry failed.
        exhausted: bool,
        /// What went wrong, in words ("the origin answered 503").
        detail: String,
    },
    /// The episode is over (the issue was resolved or ignored, the condition cleared).
    Resolved,
}

impl Trigger {
    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NewIssue => "new_issue",
            Self::Regression { .. } => "regression",
            Self::SnoozeWoke { .. } => "snooze_woke",
            Self::Escalating { .. } => "escalating",
            Self::Volume { .. } => "volume",
            Self::Spike { .. } => "spike",
            Self::DropRate { .. } => "drop_rate",
            Self::Silent { .. } => "silent",
            Self::Storm { .. } => "storm",
            Self::Webhook { .. } => "webhook",
            Self::Resolved => "resolved",
        }
    }

    /// What happened, as a sentence fragment (not escaped).
    pub fn what(&self) -> String {
        match self {
            Self::NewIssue => "New issue".into(),
            Self::Regression { release, fixed_in } => {
                let back = if release.is_empty() {
                    "Regression: a resolved issue came back".to_string()
                } else {
                    format!("Regression: a resolved issue came back in release {release}")
                };
                match fixed_in {
                    Some(f) => format!("{back} (resolved in {f})"),
                    None => back,
                }
            }
            Self::SnoozeWoke { why } => format!("A snoozed issue woke up: {why}"),
            Self::Escalating { count, ceiling } => format!(
                "Escalating: {} events, more than the {} expected",
                thousands(*count),
                thousands(*ceiling)
            ),
            Self::Volume {
                measure,
                count,
                threshold,
                window_min,
            } => {
                let what = match measure {
                    Measure::Events => "events",
                    Measure::Users => "users affected",
                };
                format!(
                    "{} {what} in {} (the rule says {})",
                    thousands(*count),
                    window(*window_min),
                    thousands(*threshold)
                )
            }
            Self::Spike {
                count,
                baseline,
                factor_percent,
                window_min,
            } => {
                let percent = u128::from(*count) * 100 / u128::from((*baseline).max(1));
                format!(
                    "Event spike: {} events in {}, {percent} % of the usual {} (the rule says {factor_percent} %)",
                    thousands(*count),
                    window(*window_min),
                    thousands(*baseline)
                )
            }
            Self::DropRate {
                dropped,
                total,
                ratio_percent,
                reason,
                window_min,
            } => {
                let percent = u128::from(*dropped) * 100 / u128::from((*total).max(1));
                let why = reason
                    .as_deref()
                    .map(|r| format!(" ({})", r.replace('_', " ")))
                    .unwrap_or_default();
                format!(
                    "{percent} % of events dropped{why} in {}: {} of {} (the rule says {ratio_percent} %)",
                    window(*window_min),
                    thousands(*dropped),
                    thousands(*total)
                )
            }
            Self::Silent { window_min, usual } => format!(
                "No events for {}; usually about {} in that time",
                window(*window_min),
                thousands(*usual)
            ),
            Self::Storm {
                count,
                since_release,
            } => super::storm::storm_title(*count, since_release.as_deref()),
            Self::Webhook {
                route,
                delivery_id,
                exhausted,
                detail,
            } => {
                let what = if *exhausted {
                    format!("Webhook {delivery_id} on route {route} ran out of retries")
                } else {
                    format!("Webhook {delivery_id} on route {route} is held")
                };
                if detail.is_empty() {
                    what
                } else {
                    format!("{what}: {detail}")
                }
            }
            Self::Resolved => "Resolved".into(),
        }
    }

    /// What to do about it, one sentence.
    pub fn what_to_do(&self) -> &'static str {
        match self {
            Self::NewIssue => "Read the stack trace, then assign it, resolve it once fixed, or ignore it if it is expected.",
            Self::Regression { .. } => "A fix did not hold: look at what this release changed, and resolve the issue again once fixed.",
            Self::SnoozeWoke { .. } => "Its snooze condition was met: triage it now, or snooze it again.",
            Self::Escalating { .. } | Self::Volume { .. } => "Check whether a deploy or an outage is behind it; resolve or snooze it once handled.",
            Self::Spike { .. } => "Check the latest deploy and the traffic; the issue list shows which issues grew.",
            Self::DropRate { .. } => "Events are being lost: check the rate limits, the size limits and the SDK's configuration.",
            Self::Silent { .. } => "Check that the app is up and that its SDK still reaches Backstop (DSN, CSP, ad blockers).",
            Self::Storm { .. } => "A release probably broke several things at once: look at the list and consider rolling it back.",
            Self::Webhook { exhausted: false, .. } => "Fix the origin or its limit, then replay the held delivery from the dashboard.",
            Self::Webhook { exhausted: true, .. } => "Fix the origin, then replay the delivery from the dashboard; the payload is kept.",
            Self::Resolved => "Nothing: this alert is over.",
        }
    }

    fn emoji(&self) -> &'static str {
        match self {
            Self::NewIssue => ":new:",
            Self::Regression { .. } => ":repeat:",
            Self::SnoozeWoke { .. } => ":alarm_clock:",
            Self::Escalating { .. } | Self::Volume { .. } => ":chart_with_upwards_trend:",
            Self::Spike { .. } => ":zap:",
            Self::DropRate { .. }
            | Self::Webhook {
                exhausted: false, ..
            } => ":warning:",
            Self::Silent { .. } => ":mute:",
            Self::Storm { .. }
            | Self::Webhook {
                exhausted: true, ..
            } => ":rotating_light:",
            Self::Resolved => ":white_check_mark:",
        }
    }
}

/// Everything an alert says. Built by the caller from the issue (or project) and the rule;
/// the renderers below only put it into shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertContent {
    /// The rule that fired.
    pub rule_id: String,
    /// Its name.
    pub rule_name: String,
    /// What happened.
    pub trigger: Trigger,
    /// The project.
    pub project: String,
    /// The issue, for issue rules.
    pub issue_id: Option<String>,
    /// The issue's title (for project triggers: a short title of the alert, or empty).
    pub title: String,
    /// Where it happens (function or URL), empty when unknown.
    pub culprit: String,
    /// The issue's level (`fatal`, `error`, `warning`, `info`, `debug`).
    pub level: String,
    /// The environment the trigger is about.
    pub environment: Option<String>,
    /// The release of the latest event.
    pub release: Option<String>,
    /// The issue's events.
    pub events: u64,
    /// Distinct users affected.
    pub users: u64,
    /// First seen (epoch ms).
    pub first_seen_ms: u64,
    /// Last seen (epoch ms); also the PagerDuty event's timestamp.
    pub last_seen_ms: u64,
    /// The dashboard URL of the issue (or of the filtered list), empty when unknown.
    pub link: String,
    /// One more line from the caller (say, an episode's note); empty for none.
    pub extra: String,
}

/// The Slack-compatible message: `text` is what Slack shows; `backstop` carries the same
/// facts for machines and is ignored by Slack (as the webhook guard's alerts do).
pub fn slack_body(c: &AlertContent) -> Value {
    let mut lines = vec![format!(
        "{} *[{}] {}*",
        c.trigger.emoji(),
        slack_escape(&c.project),
        slack_escape(&c.trigger.what())
    )];
    let title = truncate(&c.title, SLACK_TITLE_CHARS);
    if !title.is_empty() && c.title != c.trigger.what() {
        lines.push(format!("*{}*", slack_escape(&title)));
    }
    if !c.culprit.is_empty() {
        let culprit = truncate(&c.culprit, SLACK_CULPRIT_CHARS).replace('`', "'");
        lines.push(format!("`{}`", slack_escape(&culprit)));
    }
    if c.issue_id.is_some() {
        let mut facts = vec![
            format!("{} {}", thousands(c.events), plural(c.events, "event")),
            format!("{} {}", thousands(c.users), plural(c.users, "user")),
        ];
        if !c.level.is_empty() {
            facts.push(format!("level {}", slack_escape(&c.level)));
        }
        if let Some(env) = &c.environment {
            facts.push(format!("environment {}", slack_escape(env)));
        }
        if let Some(release) = &c.release {
            facts.push(format!("release {}", slack_escape(release)));
        }
        lines.push(facts.join(" · "));
        lines.push(format!(
            "First seen {} · last seen {}",
            format_rfc3339_ms(c.first_seen_ms),
            format_rfc3339_ms(c.last_seen_ms)
        ));
    }
    if !c.extra.is_empty() {
        lines.push(slack_escape(&c.extra));
    }
    lines.push(format!(
        "Rule: {} (`{}`)",
        slack_escape(&c.rule_name),
        slack_escape(&c.rule_id)
    ));
    lines.push(format!("What to do: {}", c.trigger.what_to_do()));
    if !c.link.is_empty() {
        lines.push(slack_escape(&c.link));
    }
    json!({
        "text": lines.join("\n"),
        "backstop": {
            "kind": c.trigger.kind(),
            "rule_id": c.rule_id,
            "project": c.project,
            "issue_id": c.issue_id,
        }
    })
}

/// Slack's three control characters in text (`&`, `<`, `>`), escaped as Slack asks.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The webhook body, stable JSON: fields in a fixed order, times both as epoch ms and as
/// UTC RFC 3339.
pub fn webhook_body(c: &AlertContent) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        version: u32,
        kind: &'static str,
        summary: String,
        what_to_do: &'static str,
        rule: RuleRef<'a>,
        trigger: &'a Trigger,
        project: &'a str,
        issue: Option<IssueRef<'a>>,
        link: &'a str,
        extra: &'a str,
    }
    #[derive(Serialize)]
    struct RuleRef<'a> {
        id: &'a str,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct IssueRef<'a> {
        id: &'a str,
        title: &'a str,
        culprit: &'a str,
        level: &'a str,
        environment: Option<&'a str>,
        release: Option<&'a str>,
        events: u64,
        users: u64,
        first_seen: String,
        first_seen_ms: u64,
        last_seen: String,
        last_seen_ms: u64,
    }
    let body = Body {
        version: WEBHOOK_VERSION,
        kind: c.trigger.kind(),
        summary: c.trigger.what(),
        what_to_do: c.trigger.what_to_do(),
        rule: RuleRef {
            id: &c.rule_id,
            name: &c.rule_name,
        },
        trigger: &c.trigger,
        project: &c.project,
        issue: c.issue_id.as_deref().map(|id| IssueRef {
            id,
            title: &c.title,
            culprit: &c.culprit,
            level: &c.level,
            environment: c.environment.as_deref(),
            release: c.release.as_deref(),
            events: c.events,
            users: c.users,
            first_seen: format_rfc3339_ms(c.first_seen_ms),
            first_seen_ms: c.first_seen_ms,
            last_seen: format_rfc3339_ms(c.last_seen_ms),
            last_seen_ms: c.last_seen_ms,
        }),
        link: &c.link,
        extra: &c.extra,
    };
    // Strings, numbers and options only: serialising cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp_ms: u64, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// Lower-case hex HMAC-SHA256 of `"{timestamp_ms}.{body}"` under `secret`. The timestamp is
/// signed with the body, so a captured request cannot be replayed later with a new time.
pub fn signature(secret: &[u8], timestamp_ms: u64, body: &[u8]) -> String {
    mac(secret, timestamp_ms, body)
        .map(|m| hex(&m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// The [`SIGNATURE_HEADER`] value: `t=<timestamp_ms>,v1=<hex>`.
pub fn signature_header(secret: &[u8], timestamp_ms: u64, body: &[u8]) -> String {
    format!(
        "t={timestamp_ms},v1={}",
        signature(secret, timestamp_ms, body)
    )
}

/// Why [`verify_signature`] refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<digits>,v1=<hex>[,v1=<hex>...]`.
    #[error("the signature header is malformed")]
    Malformed,
    /// The timestamp is further from now than the tolerance.
    #[error("the signature's timestamp is {age_ms} ms away from now (limit {tolerance_ms} ms)")]
    Stale {
        /// Distance between the timestamp and now.
        age_ms: u64,
        /// The tolerance.
        tolerance_ms: u64,
    },
    /// No `v1` matches the body.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a [`SIGNATURE_HEADER`] value against the raw body, for receivers and tests: the
/// timestamp must lie within `tolerance_ms` of `now_ms` (either way: clocks drift), and one
/// of the `v1` values must match (several are allowed while a secret is rotated). The
/// comparison takes constant time.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_ms: u64,
    tolerance_ms: u64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() && !t.is_empty() => {
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(t.parse::<u64>().map_err(|_| SignatureError::Malformed)?);
            }
            Some(("v1", v)) => candidates.push(unhex(v).ok_or(SignatureError::Malformed)?),
            // Unknown schemes are skipped, so a later `v2` does not break old receivers.
            Some((k, _)) if k != "t" => {}
            _ => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age_ms = now_ms.abs_diff(timestamp);
    if age_ms > tolerance_ms {
        return Err(SignatureError::Stale {
            age_ms,
            tolerance_ms,
        });
    }
    let expected = mac(secret, timestamp, body).ok_or(SignatureError::Mismatch)?;
    if candidates
        .iter()
        .any(|c| expected.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Headers of every alert request: JSON, Backstop's user agent, the alert id, and
/// [`ALERT_MARKER`], so the webhook guard refuses an alert sent back at it (508) instead of
/// holding it and alerting about it.
pub fn alert_headers(alert_id: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("user-agent".into(), USER_AGENT.into()),
        (ALERT_MARKER.into(), "1".into()),
        (ALERT_ID_HEADER.into(), alert_id.into()),
    ]
}

/// [`alert_headers`] plus the signature of `body`, for webhook destinations.
pub fn signed_headers(
    alert_id: &str,
    secret: &[u8],
    timestamp_ms: u64,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut headers = alert_headers(alert_id);
    headers.push((
        SIGNATURE_HEADER.into(),
        signature_header(secret, timestamp_ms, body),
    ));
    headers
}

/// A PagerDuty event action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdAction {
    /// Open (or update) the incident of the dedup key.
    Trigger,
    /// Resolve the incident of the dedup key.
    Resolve,
}

/// PagerDuty's severity for an event level: `fatal` is critical, unknown levels are errors.
pub fn pagerduty_severity(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "fatal" | "critical" => "critical",
        "warning" | "warn" => "warning",
        "info" | "debug" | "log" => "info",
        _ => "error",
    }
}

/// A PagerDuty Events API v2 event. `dedup_key` is the episode's id, so every notification
/// of one episode updates one incident and its resolve closes it. A resolve carries no
/// payload, as the API asks.
pub fn pagerduty_body(
    c: &AlertContent,
    routing_key: &str,
    action: PdAction,
    dedup_key: &str,
) -> Value {
    let event_action = match action {
        PdAction::Trigger => "trigger",
        PdAction::Resolve => "resolve",
    };
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": event_action,
        "dedup_key": dedup_key,
    });
    if action == PdAction::Resolve {
        return body;
    }
    let what = c.trigger.what();
    let summary = if c.title.is_empty() || c.title == what {
        format!("[{}] {what}", c.project)
    } else {
        format!("[{}] {what}: {}", c.project, c.title)
    };
    let source = if c.project.is_empty() {
        "backstop"
    } else {
        &c.project
    };
    let mut payload = json!({
        "summary": truncate(&summary, PAGERDUTY_SUMMARY_CHARS),
        "source": source,
        "severity": pagerduty_severity(&c.level),
        "timestamp": format_rfc3339_ms(c.last_seen_ms),
        "class": c.trigger.kind(),
        "custom_details": {
            "rule": c.rule_name,
            "rule_id": c.rule_id,
            "trigger": c.trigger,
            "issue_id": c.issue_id,
            "title": c.title,
            "culprit": c.culprit,
            "level": c.level,
            "environment": c.environment,
            "release": c.release,
            "events": c.events,
            "users": c.users,
            "first_seen": format_rfc3339_ms(c.first_seen_ms),
            "last_seen": format_rfc3339_ms(c.last_seen_ms),
            "what_to_do": c.trigger.what_to_do(),
            "extra": c.extra,
        },
    });
    if !c.culprit.is_empty() {
        payload["component"] = json!(c.culprit);
    }
    if let Some(env) = &c.environment {
        payload["group"] = json!(env);
    }
    body["payload"] = payload;
    body["client"] = json!("Backstop");
    if !c.link.is_empty() {
        body["client_url"] = json!(c.link);
        body["links"] = json!([{ "href": c.link, "text": "Open in Backstop" }]);
    }
    body
}

/// At most `max` characters, ending with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// A window in words: `45 min`, `1 h`, `6 h`, `1 day`, `7 days`.
pub(crate) fn window(minutes: u32) -> String {
    match minutes {
        m if m >= 1440 && m.is_multiple_of(1440) => {
            let d = m / 1440;
            format!("{d} {}", if d == 1 { "day" } else { "days" })
        }
        m if m >= 60 && m.is_multiple_of(60) => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_341_600_000;

    fn content(trigger: Trigger) -> AlertContent {
        AlertContent {
            rule_id: "regression".into(),
            rule_name: "A resolved issue comes back".into(),
            trigger,
            project: "web".into(),
            issue_id: Some("iss_42".into()),
            title: "TypeError: x is undefined".into(),
            culprit: "app.js in render".into(),
            level: "error".into(),
            environment: Some("production".into()),
            release: Some("2.3.1".into()),
            events: 1_204,
            users: 37,
            first_seen_ms: T0 - 86_400_000,
            last_seen_ms: T0 + 123,
            link: "https://b.example/#/issues/iss_42".into(),
            extra: String::new(),
        }
    }

    fn regression() -> Trigger {
        Trigger::Regression {
            release: "2.3.1".into(),
            fixed_in: Some("2.3.0".into()),
        }
    }

    #[test]
    fn slack_text_says_everything_a_person_needs() {
        let body = slack_body(&content(regression()));
        let text = body["text"].as_str().unwrap();
        let wants = [
            ("the project and what happened", ":repeat: *[web] Regression: a resolved issue came back in release 2.3.1 (resolved in 2.3.0)*"),
            ("the title", "*TypeError: x is undefined*"),
            ("the culprit", "`app.js in render`"),
            ("counts, users, level, environment, release", "1,204 events · 37 users · level error · environment production · release 2.3.1"),
            ("first and last seen in UTC", "First seen 2026-11-21T10:00:00.000Z · last seen 2026-11-22T10:00:00.123Z"),
            ("the rule that fired", "Rule: A resolved issue comes back (`regression`)"),
            ("what to do", "What to do: A fix did not hold"),
            ("the link, last", "\nhttps://b.example/#/issues/iss_42"),
        ];
        for (why, want) in wants {
            assert!(text.contains(want), "{why}: {text}");
        }
        assert!(text.ends_with("iss_42"), "the link ends the text");
        assert_eq!(body["backstop"]["kind"], "regression");
        assert_eq!(body["backstop"]["issue_id"], "iss_42");
    }

    #[test]
    fn slack_text_escapes_what_senders_control() {
        let mut c = content(Trigger::NewIssue);
        c.title = "<!channel> & <https://evil.example|click>".into();
        c.culprit = "a`b".into();
        c.release = Some("<@U123>".into());
        c.link = "https://b.example/?a=1&b=2".into();
        let text = slack_body(&c)["text"].as_str().unwrap().to_string();
        let cases = [
            ("mention", "<!channel>", false),
            (
                "escaped mention",
                "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;",
                true,
            ),
            ("user mention in release", "<@U123>", false),
            (
                "backtick cannot close the culprit's code span",
                "`a'b`",
                true,
            ),
            ("ampersand in the link", "?a=1&amp;b=2", true),
        ];
        for (why, needle, present) in cases {
            assert_eq!(text.contains(needle), present, "{why}: {text}");
        }
        c.title = "x".repeat(1_000);
        let text = slack_body(&c)["text"].as_str().unwrap().to_string();
        assert!(
            text.contains(&format!("*{}…*", "x".repeat(299))),
            "long titles are cut"
        );
    }

    #[test]
    fn every_trigger_says_what_happened() {
        let cases = [
            (Trigger::NewIssue, "New issue"),
            (
                Trigger::Regression {
                    release: String::new(),
                    fixed_in: None,
                },
                "Regression: a resolved issue came back",
            ),
            (
                Trigger::SnoozeWoke {
                    why: "100 more events".into(),
                },
                "A snoozed issue woke up: 100 more events",
            ),
            (
                Trigger::Escalating {
                    count: 5_000,
                    ceiling: 800,
                },
                "Escalating: 5,000 events, more than the 800 expected",
            ),
            (
                Trigger::Volume {
                    measure: Measure::Events,
                    count: 1_500,
                    threshold: 1_000,
                    window_min: 60,
                },
                "1,500 events in 1 h (the rule says 1,000)",
            ),
            (
                Trigger::Volume {
                    measure: Measure::Users,
                    count: 12,
                    threshold: 10,
                    window_min: 1_440,
                },
                "12 users affected in 1 day (the rule says 10)",
            ),
            (
                Trigger::Spike {
                    count: 900,
                    baseline: 300,
                    factor_percent: 200,
                    window_min: 60,
                },
                "Event spike: 900 events in 1 h, 300 % of the usual 300 (the rule says 200 %)",
            ),
            (
                Trigger::DropRate {
                    dropped: 25,
                    total: 100,
                    ratio_percent: 10,
                    reason: Some("rate_limited".into()),
                    window_min: 60,
                },
                "25 % of events dropped (rate limited) in 1 h: 25 of 100 (the rule says 10 %)",
            ),
            (
                Trigger::Silent {
                    window_min: 90,
                    usual: 120,
                },
                "No events for 90 min; usually about 120 in that time",
            ),
            (
                Trigger::Storm {
                    count: 38,
                    since_release: Some("2.3.1".into()),
                },
                "38 new issues since release 2.3.1",
            ),
            (
                Trigger::Webhook {
                    route: "email".into(),
                    delivery_id: "wh_1".into(),
                    exhausted: true,
                    detail: "the origin answered 503".into(),
                },
                "Webhook wh_1 on route email ran out of retries: the origin answered 503",
            ),
            (Trigger::Resolved, "Resolved"),
        ];
        for (trigger, want) in cases {
            assert_eq!(trigger.what(), want, "{}", trigger.kind());
            assert!(!trigger.what_to_do().is_empty(), "{}", trigger.kind());
        }
        assert_eq!(window(10_080), "7 days");
        assert_eq!(window(5), "5 min");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn project_alerts_skip_issue_facts() {
        let mut c = content(Trigger::Storm {
            count: 38,
            since_release: Some("2.3.1".into()),
        });
        c.issue_id = None;
        c.title = "38 new issues since release 2.3.1".into();
        c.culprit = String::new();
        let text = slack_body(&c)["text"].as_str().unwrap().to_string();
        assert!(
            text.starts_with(":rotating_light: *[web] 38 new issues since release 2.3.1*\nRule:"),
            "{text}"
        );
        assert!(!text.contains("First seen"), "{text}");
    }

    #[test]
    fn webhook_body_is_stable_json() {
        let body = webhook_body(&content(regression()));
        assert_eq!(
            body,
            webhook_body(&content(regression())),
            "same content, same bytes"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        let cases = [
            ("version", json!(1)),
            ("kind", json!("regression")),
            (
                "rule",
                json!({"id":"regression","name":"A resolved issue comes back"}),
            ),
            (
                "trigger",
                json!({"kind":"regression","release":"2.3.1","fixed_in":"2.3.0"}),
            ),
            ("project", json!("web")),
            ("link", json!("https://b.example/#/issues/iss_42")),
        ];
        for (field, want) in cases {
            assert_eq!(v[field], want, "{field}");
        }
        assert_eq!(v["issue"]["last_seen"], "2026-11-22T10:00:00.123Z");
        assert_eq!(v["issue"]["last_seen_ms"], T0 + 123);
        assert!(
            body.starts_with(r#"{"version":1,"kind":"regression","#),
            "fixed field order: {body}"
        );
        let mut project = content(Trigger::Silent {
            window_min: 60,
            usual: 50,
        });
        project.issue_id = None;
        let v: Value = serde_json::from_str(&webhook_body(&project)).unwrap();
        assert_eq!(v["issue"], Value::Null, "no issue for project alerts");
    }

    #[test]
    fn signatures_verify_and_refuse_tampering() {
        let secret = b"0123456789abcdef";
        let body = br#"{"version":1}"#;
        let header = signature_header(secret, T0, body);
        assert!(header.starts_with(&format!("t={T0},v1=")), "{header}");
        assert_eq!(
            header.len(),
            format!("t={T0},v1=").len() + 64,
            "hex SHA-256"
        );
        let other = signature(b"another secret!!", T0, body);
        let cases: Vec<(&str, &[u8], String, &[u8], u64, Result<(), SignatureError>)> = vec![
            ("valid", secret, header.clone(), body, T0 + 1_000, Ok(())),
            (
                "receiver clock behind",
                secret,
                header.clone(),
                body,
                T0 - 60_000,
                Ok(()),
            ),
            (
                "changed body",
                secret,
                header.clone(),
                br#"{"version":2}"#,
                T0,
                Err(SignatureError::Mismatch),
            ),
            (
                "wrong secret",
                b"fedcba9876543210",
                header.clone(),
                body,
                T0,
                Err(SignatureError::Mismatch),
            ),
            (
                "changed timestamp",
                secret,
                header.replace(&T0.to_string(), &(T0 + 1).to_string()),
                body,
                T0,
                Err(SignatureError::Mismatch),
            ),
            (
                "replayed later",
                secret,
                header.clone(),
                body,
                T0 + DEFAULT_TOLERANCE_MS + 1,
                Err(SignatureError::Stale {
                    age_ms: DEFAULT_TOLERANCE_MS + 1,
                    tolerance_ms: DEFAULT_TOLERANCE_MS,
                }),
            ),
            (
                "rotation: second v1 matches",
                secret,
                format!("t={T0},v1={other},{}", header.split(',').nth(1).unwrap()),
                body,
                T0,
                Ok(()),
            ),
            (
                "unknown scheme skipped",
                secret,
                format!("{header},v2=zz"),
                body,
                T0,
                Ok(()),
            ),
            (
                "no v1",
                secret,
                format!("t={T0}"),
                body,
                T0,
                Err(SignatureError::Malformed),
            ),
            (
                "no t",
                secret,
                header.split(',').nth(1).unwrap().to_string(),
                body,
                T0,
                Err(SignatureError::Malformed),
            ),
            (
                "bad hex",
                secret,
                format!("t={T0},v1=xyz"),
                body,
                T0,
                Err(SignatureError::Malformed),
            ),
            (
                "signed t",
                secret,
                format!("t=-{T0},v1=00"),
                body,
                T0,
                Err(SignatureError::Malformed),
            ),
            (
                "empty",
                secret,
                String::new(),
                body,
                T0,
                Err(SignatureError::Malformed),
            ),
        ];
        for (why, key, header, body, now, want) in cases {
            assert_eq!(
                verify_signature(key, &header, body, now, DEFAULT_TOLERANCE_MS),
                want,
                "{why}"
            );
        }
        // A known vector, computed independently (`printf '1795341600000.{"version":1}' |
        // openssl dgst -sha256 -hmac 0123456789abcdef`).
        assert_eq!(
            signature(secret, T0, body),
            "42daad0c0bf4036f2e521f9de5174fd7d3c0059e0e8ca2768f36ef8c06747275"
        );
    }

    #[test]
    fn alert_requests_carry_the_marker() {
        let h = signed_headers("ep:1", b"0123456789abcdef", T0, b"{}");
        let get = |name: &str| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert!(
            h.iter().any(|(k, _)| k.eq_ignore_ascii_case(ALERT_MARKER)),
            "the guard refuses it"
        );
        assert_eq!(get(ALERT_ID_HEADER), Some("ep:1"));
        assert_eq!(get("content-type"), Some("application/json"));
        assert!(get(SIGNATURE_HEADER).is_some_and(|s| s.starts_with("t=")));
        assert!(get(SIGNATURE_HEADER.to_ascii_lowercase().as_str()).is_some());
        assert!(
            alert_headers("x")
                .iter()
                .all(|(k, _)| k != SIGNATURE_HEADER),
            "unsigned by default"
        );
    }

    #[test]
    fn pagerduty_events_follow_the_v2_api() {
        let c = content(regression());
        let t = pagerduty_body(
            &c,
            "R0UTINGKEY0123456789abcdefABCDEF",
            PdAction::Trigger,
            "regression:iss_42:production",
        );
        assert_eq!(t["routing_key"], "R0UTINGKEY0123456789abcdefABCDEF");
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["dedup_key"], "regression:iss_42:production");
        let p = &t["payload"];
        assert_eq!(p["summary"], "[web] Regression: a resolved issue came back in release 2.3.1 (resolved in 2.3.0): TypeError: x is undefined");
        assert_eq!(p["source"], "web");
        assert_eq!(p["severity"], "error");
        assert_eq!(p["timestamp"], "2026-11-22T10:00:00.123Z");
        assert_eq!(p["component"], "app.js in render");
        assert_eq!(p["group"], "production");
        assert_eq!(p["custom_details"]["events"], 1_204);
        assert_eq!(t["links"][0]["href"], "https://b.example/#/issues/iss_42");
        let r = pagerduty_body(&c, "k", PdAction::Resolve, "d");
        assert_eq!(
            r,
            json!({"routing_key":"k","event_action":"resolve","dedup_key":"d"}),
            "a resolve has no payload"
        );

        let mut long = content(Trigger::NewIssue);
        long.title = "é".repeat(5_000);
        long.link = String::new();
        let t = pagerduty_body(&long, "k", PdAction::Trigger, "d");
        assert_eq!(
            t["payload"]["summary"].as_str().unwrap().chars().count(),
            PAGERDUTY_SUMMARY_CHARS,
            "summary cut to 1024 characters"
        );
        assert!(
            t.get("links").is_none() && t.get("client_url").is_none(),
            "no empty link"
        );

        let severities = [
            ("fatal", "critical"),
            ("error", "error"),
            ("warning", "warning"),
            ("info", "info"),
            ("debug", "info"),
            ("", "error"),
            ("weird", "error"),
        ];
        for (level, want) in severities {
            assert_eq!(pagerduty_severity(level), want, "{level}");
        }
    }
}
