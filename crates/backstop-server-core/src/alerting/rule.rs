//! Alert rules: what fires ([`RuleKind`]), for which events ([`Filter`]), the bounds a rule
//! keeps to be stored ([`parse_rule`]), and the threshold rules' arithmetic ([`evaluate`]).
//!
//! A rule in JSON is flat, its kind's fields beside the common ones:
//! `{"id":"prod_volume","name":"Busy issue","kind":"event_volume","events":100,
//! "window_min":60,"filter":{"environment":"production"},"enabled":true}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Measure, Trigger};

/// Longest rule (and destination) id.
pub const MAX_ID_CHARS: usize = 64;
/// Longest rule name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest window of a volume rule: 7 days.
pub const MAX_WINDOW_MIN: u32 = 10_080;
/// Smallest spike factor: a "spike" to 100 % of the usual rate is no spike.
pub const MIN_SPIKE_PERCENT: u32 = 101;
/// Shortest reminder interval: 5 minutes (shorter is a flood, not a reminder).
pub const MIN_REMINDER_MS: u64 = 5 * 60_000;
/// Longest reminder interval: 30 days.
pub const MAX_REMINDER_MS: u64 = 30 * 86_400_000;
/// Longest filter value (environment or release).
pub const MAX_FILTER_CHARS: usize = 200;
/// Event levels, lowest first (as `event` normalises them).
pub const LEVELS: [&str; 5] = ["debug", "info", "warning", "error", "fatal"];
/// The window the project rules `spike`, `drop_rate` and `silent` measure over.
pub const PROJECT_WINDOW_MIN: u32 = 60;
/// Fewest events in the window before a spike counts: 3 events against a usual 1 is noise.
pub const MIN_SPIKE_EVENTS: u64 = 10;
/// Fewest events (kept plus dropped) in the window before a drop rate counts.
pub const MIN_DROP_SAMPLE: u64 = 10;
/// Fewest usual events per window before silence counts: a project that sends one event a
/// day is not "silent" after an hour.
pub const MIN_SILENT_BASELINE: u64 = 10;

/// One alert rule of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// `[a-z0-9_-]{1,64}`, unique within the project.
    pub id: String,
    /// Shown in the message ("the rule that fired"); 1 to 200 characters.
    pub name: String,
    /// What fires it, with its parameters (flattened: `kind` and the kind's fields).
    #[serde(flatten)]
    pub kind: RuleKind,
    /// Which events it applies to (issue rules only).
    #[serde(default)]
    pub filter: Filter,
    /// A disabled rule never fires.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Re-notify an episode still open after this long (none by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_ms: Option<u64>,
}

fn enabled_by_default() -> bool {
    true
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// An issue is seen for the first time.
    NewIssue,
    /// A resolved issue is seen again.
    Regression,
    /// A snoozed issue's snooze ended because its condition was met.
    SnoozeWoke,
    /// An issue grows faster than its forecast.
    Escalating,
    /// An issue has at least `events` events within `window_min` minutes.
    EventVolume {
        /// Threshold, at least 1.
        events: u64,
        /// 1 to 10080 minutes.
        window_min: u32,
    },
    /// An issue affects at least `users` distinct users within `window_min` minutes.
    UserVolume {
        /// Threshold, at least 1.
        users: u64,
        /// 1 to 10080 minutes.
        window_min: u32,
    },
    /// The project's events in the last hour reach `factor_percent` % of the usual hour.
    Spike {
        /// At least 101.
        factor_percent: u32,
    },
    /// At least `ratio_percent` % of the project's events in the last hour were dropped.
    DropRate {
        /// 1 to 100.
        ratio_percent: u32,
        /// Only drops of this reason (`rate_limited`, `too_large`, ...); any when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A project that usually sends events sent none in the last hour.
    Silent,
    /// The webhook guard held a delivery (the first of a route in its window).
    WebhookHold,
    /// A held webhook delivery ran out of retries.
    WebhookExhausted,
}

/// What a rule watches: one issue, the project as a whole, or the webhook guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One issue: episodes are per issue and environment, filters apply.
    Issue,
    /// The whole project: one episode per rule, no filter.
    Project,
    /// The webhook guard's deliveries: one episode per rule, no filter.
    Webhooks,
}

impl RuleKind {
    /// The `kind` tag.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NewIssue => "new_issue",
            Self::Regression => "regression",
            Self::SnoozeWoke => "snooze_woke",
            Self::Escalating => "escalating",
            Self::EventVolume { .. } => "event_volume",
            Self::UserVolume { .. } => "user_volume",
            Self::Spike { .. } => "spike",
            Self::DropRate { .. } => "drop_rate",
            Self::Silent => "silent",
            Self::WebhookHold => "webhook_hold",
            Self::WebhookExhausted => "webhook_exhausted",
        }
    }

    /// What the rule watches.
    pub fn scope(&self) -> Scope {
        match self {
            Self::NewIssue
            | Self::Regression
            | Self::SnoozeWoke
            | Self::Escalating
            | Self::EventVolume { .. }
            | Self::UserVolume { .. } => Scope::Issue,
            Self::Spike { .. } | Self::DropRate { .. } | Self::Silent => Scope::Project,
            Self::WebhookHold | Self::WebhookExhausted => Scope::Webhooks,
        }
    }

    /// The window the caller must count over before calling [`evaluate`], for the threshold
    /// kinds; `None` for kinds fired by a single happening (a new issue, a hold).
    pub fn window_min(&self) -> Option<u32> {
        match self {
            Self::EventVolume { window_min, .. } | Self::UserVolume { window_min, .. } => {
                Some(*window_min)
            }
            Self::Spike { .. } | Self::DropRate { .. } | Self::Silent => Some(PROJECT_WINDOW_MIN),
            _ => None,
        }
    }

    /// The fields this kind takes besides the common ones.
    fn own_fields(kind: &str) -> &'static [&'static str] {
        match kind {
            "event_volume" => &["events", "window_min"],
            "user_volume" => &["users", "window_min"],
            "spike" => &["factor_percent"],
            "drop_rate" => &["ratio_percent", "reason"],
            _ => &[],
        }
    }
}

/// Fields every rule may carry.
const COMMON_FIELDS: [&str; 6] = ["id", "name", "kind", "filter", "enabled", "reminder_ms"];

/// Which events an issue rule applies to. An absent field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The event's environment, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The lowest level that matches: `error` matches `error` and `fatal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The event's release, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

impl Filter {
    /// Whether an event (or issue) with these values matches. A filter on a value the event
    /// does not have does not match: an event without a release is not "in release 2.3.1".
    /// An unknown event level counts as `error`, the level events default to.
    pub fn matches(
        &self,
        environment: Option<&str>,
        level: Option<&str>,
        release: Option<&str>,
    ) -> bool {
        let same = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got == Some(w))
        };
        let level_ok = match (&self.level, level) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(got)) => level_rank(got) >= level_rank(want),
        };
        same(&self.environment, environment) && level_ok && same(&self.release, release)
    }

    /// Whether the filter matches everything.
    pub fn is_empty(&self) -> bool {
        self.environment.is_none() && self.level.is_none() && self.release.is_none()
    }
}

/// A level's place in [`LEVELS`]; unknown levels rank as `error`.
fn level_rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(3)
}

impl Rule {
    /// Whether this rule fires on `trigger` for an event with these values: enabled, of the
    /// trigger's kind, and its filter matches. `Resolved` fires no rule (it closes
    /// episodes). A `drop_rate` rule that names a reason fires only on drops of that reason.
    pub fn fires_on(
        &self,
        trigger: &Trigger,
        environment: Option<&str>,
        level: Option<&str>,
        release: Option<&str>,
    ) -> bool {
        let kind_ok = match (&self.kind, trigger) {
            (RuleKind::NewIssue, Trigger::NewIssue | Trigger::Storm { .. })
            | (RuleKind::Regression, Trigger::Regression { .. })
            | (RuleKind::SnoozeWoke, Trigger::SnoozeWoke { .. })
            | (RuleKind::Escalating, Trigger::Escalating { .. })
            | (RuleKind::Spike { .. }, Trigger::Spike { .. })
            | (RuleKind::Silent, Trigger::Silent { .. }) => true,
            (RuleKind::EventVolume { .. }, Trigger::Volume { measure, .. }) => {
                *measure == Measure::Events
            }
            (RuleKind::UserVolume { .. }, Trigger::Volume { measure, .. }) => {
                *measure == Measure::Users
            }
            (RuleKind::DropRate { reason: want, .. }, Trigger::DropRate { reason: got, .. }) => {
                want.is_none() || want == got
            }
            (RuleKind::WebhookHold, Trigger::Webhook { exhausted, .. }) => !exhausted,
            (RuleKind::WebhookExhausted, Trigger::Webhook { exhausted, .. }) => *exhausted,
            _ => false,
        };
        self.enabled && kind_ok && self.filter.matches(environment, level, release)
    }
}

/// What the caller counted over the rule's window ([`RuleKind::window_min`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    /// Events kept in the window: the issue's for issue rules, the project's for project
    /// rules.
    pub events: u64,
    /// Distinct users among them.
    pub users: u64,
    /// The usual number of events in a window of the same length (say, the mean of the
    /// previous 24 windows); 0 when unknown, which never fires `spike` or `silent`.
    pub baseline: u64,
    /// Events dropped in the window (of the rule's `reason` when it names one).
    pub dropped: u64,
}

/// The trigger a threshold rule raises for what was counted, or `None` when its threshold is
/// not reached. Kinds fired by a single happening (new issue, regression, holds...) return
/// `None`: their triggers are built where the happening is seen.
pub fn evaluate(kind: &RuleKind, m: &Measured) -> Option<Trigger> {
    match kind {
        RuleKind::EventVolume { events, window_min } => {
            (m.events >= *events).then_some(Trigger::Volume {
                measure: Measure::Events,
                count: m.events,
                threshold: *events,
                window_min: *window_min,
            })
        }
        RuleKind::UserVolume { users, window_min } => {
            (m.users >= *users).then_some(Trigger::Volume {
                measure: Measure::Users,
                count: m.users,
                threshold: *users,
                window_min: *window_min,
            })
        }
        RuleKind::Spike { factor_percent } => {
            let reached =
                u128::from(m.events) * 100 >= u128::from(m.baseline) * u128::from(*factor_percent);
            (m.baseline >= 1 && m.events >= MIN_SPIKE_EVENTS && reached).then_some(Trigger::Spike {
                count: m.events,
                baseline: m.baseline,
                factor_percent: *factor_percent,
                window_min: PROJECT_WINDOW_MIN,
            })
        }
        RuleKind::DropRate {
            ratio_percent,
            reason,
        } => {
            let total = m.events.saturating_add(m.dropped);
            let reached =
                u128::from(m.dropped) * 100 >= u128::from(total) * u128::from(*ratio_percent);
            (total >= MIN_DROP_SAMPLE && m.dropped > 0 && reached).then(|| Trigger::DropRate {
                dropped: m.dropped,
                total,
                ratio_percent: *ratio_percent,
                reason: reason.clone(),
                window_min: PROJECT_WINDOW_MIN,
            })
        }
        RuleKind::Silent => {
            (m.events == 0 && m.baseline >= MIN_SILENT_BASELINE).then_some(Trigger::Silent {
                window_min: PROJECT_WINDOW_MIN,
                usual: m.baseline,
            })
        }
        _ => None,
    }
}

/// Why a rule is refused. Each message says what was wrong and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not a JSON object.
    #[error("a rule must be a JSON object")]
    NotAnObject,
    /// A field is missing, of the wrong type, or `kind` is unknown (serde's words).
    #[error("invalid rule: {0}")]
    Shape(String),
    /// A field this kind of rule does not take (a typo would otherwise be ignored).
    #[error("unknown field '{field}' for a {kind} rule")]
    UnknownField {
        /// The field.
        field: String,
        /// The rule's kind.
        kind: &'static str,
    },
    /// The id is empty, too long or has other characters.
    #[error("id must be 1 to {MAX_ID_CHARS} characters of a-z, 0-9, '_' or '-' (got '{0}')")]
    InvalidId(String),
    /// The name is empty, too long or has control characters.
    #[error("name must be 1 to {MAX_NAME_CHARS} characters without control characters (got {0} characters)")]
    InvalidName(usize),
    /// `events` or `users` is 0.
    #[error("{field} must be at least 1 (got 0)")]
    ZeroThreshold {
        /// `events` or `users`.
        field: &'static str,
    },
    /// `window_min` is out of range.
    #[error("window_min must be from 1 to {MAX_WINDOW_MIN} minutes (7 days) (got {0})")]
    InvalidWindow(u32),
    /// `factor_percent` is too small.
    #[error("factor_percent must be at least {MIN_SPIKE_PERCENT} (got {0})")]
    InvalidFactor(u32),
    /// `ratio_percent` is out of range.
    #[error("ratio_percent must be from 1 to 100 (got {0})")]
    InvalidRatio(u32),
    /// The drop reason is not a reason name.
    #[error("reason must be 1 to {MAX_ID_CHARS} characters of a-z, 0-9, '_' or '-' (got '{0}')")]
    InvalidReason(String),
    /// `reminder_ms` is out of range.
    #[error("reminder_ms must be from {MIN_REMINDER_MS} (5 minutes) to {MAX_REMINDER_MS} (30 days) (got {0})")]
    InvalidReminder(u64),
    /// `filter.level` is not a level.
    #[error("filter.level must be one of debug, info, warning, error, fatal (got '{0}')")]
    InvalidLevel(String),
    /// A filter value is empty or too long.
    #[error("filter.{field} must be 1 to {MAX_FILTER_CHARS} characters (got {len})")]
    InvalidFilterValue {
        /// `environment` or `release`.
        field: &'static str,
        /// Its length in characters.
        len: usize,
    },
    /// A filter on a rule that watches the whole project or the webhook guard.
    #[error("a {0} rule watches the whole project: it takes no filter")]
    FilterNotApplicable(&'static str),
}

/// Whether `id` is `[a-z0-9_-]{1,64}` (rule ids, destination ids, drop reasons).
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// Reads and validates a rule (from the API or from storage).
pub fn parse_rule(value: &Value) -> Result<Rule, RuleError> {
    let object = value.as_object().ok_or(RuleError::NotAnObject)?;
    let rule: Rule =
        serde_json::from_value(value.clone()).map_err(|e| RuleError::Shape(e.to_string()))?;
    let kind = rule.kind.as_str();
    if let Some(field) = object.keys().find(|k| {
        !COMMON_FIELDS.contains(&k.as_str()) && !RuleKind::own_fields(kind).contains(&k.as_str())
    }) {
        return Err(RuleError::UnknownField {
            field: field.clone(),
            kind,
        });
    }
    if !is_valid_id(&rule.id) {
        return Err(RuleError::InvalidId(rule.id.chars().take(80).collect()));
    }
    let name_chars = rule.name.chars().count();
    if rule.name.trim().is_empty()
        || name_chars > MAX_NAME_CHARS
        || rule.name.chars().any(char::is_control)
    {
        return Err(RuleError::InvalidName(name_chars));
    }
    match &rule.kind {
        RuleKind::EventVolume { events, window_min } => {
            check_threshold("events", *events)?;
            check_window(*window_min)?;
        }
        RuleKind::UserVolume { users, window_min } => {
            check_threshold("users", *users)?;
            check_window(*window_min)?;
        }
        RuleKind::Spike { factor_percent } if *factor_percent < MIN_SPIKE_PERCENT => {
            return Err(RuleError::InvalidFactor(*factor_percent));
        }
        RuleKind::DropRate {
            ratio_percent,
            reason,
        } => {
            if !(1..=100).contains(ratio_percent) {
                return Err(RuleError::InvalidRatio(*ratio_percent));
            }
            if let Some(r) = reason.as_deref().filter(|r| !is_valid_id(r)) {
                return Err(RuleError::InvalidReason(r.chars().take(80).collect()));
            }
        }
        _ => {}
    }
    if let Some(ms) = rule
        .reminder_ms
        .filter(|ms| !(MIN_REMINDER_MS..=MAX_REMINDER_MS).contains(ms))
    {
        return Err(RuleError::InvalidReminder(ms));
    }
    check_filter(&rule.filter)?;
    if rule.kind.scope() != Scope::Issue && !rule.filter.is_empty() {
        return Err(RuleError::FilterNotApplicable(kind));
    }
    Ok(rule)
}

fn check_threshold(field: &'static str, n: u64) -> Result<(), RuleError> {
    if n == 0 {
        return Err(RuleError::ZeroThreshold { field });
    }
    Ok(())
}

fn check_window(window_min: u32) -> Result<(), RuleError> {
    if !(1..=MAX_WINDOW_MIN).contains(&window_min) {
        return Err(RuleError::InvalidWindow(window_min));
    }
    Ok(())
}

fn check_filter(f: &Filter) -> Result<(), RuleError> {
    for (field, value) in [("environment", &f.environment), ("release", &f.release)] {
        if let Some(v) = value {
            let len = v.chars().count();
            if v.trim().is_empty() || len > MAX_FILTER_CHARS {
                return Err(RuleError::InvalidFilterValue { field, len });
            }
        }
    }
    if let Some(level) = &f.level {
        if !LEVELS.contains(&level.as_str()) {
            return Err(RuleError::InvalidLevel(level.chars().take(40).collect()));
        }
    }
    Ok(())
}

/// The rules a new project starts with: new issues, regressions, snoozes that wake and
/// escalating issues, enabled, for every environment, no reminders.
pub fn default_rules() -> Vec<Rule> {
    [
        (RuleKind::NewIssue, "A new issue is seen"),
        (RuleKind::Regression, "A resolved issue comes back"),
        (RuleKind::SnoozeWoke, "A snoozed issue wakes up"),
        (RuleKind::Escalating, "An issue is escalating"),
    ]
    .into_iter()
    .map(|(kind, name)| Rule {
        id: kind.as_str().to_string(),
        name: name.to_string(),
        kind,
        filter: Filter::default(),
        enabled: true,
        reminder_ms: None,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_round_trip_through_json() {
        let cases = [
            (
                "event volume with a filter",
                json!({"id":"busy","name":"Busy issue","kind":"event_volume","events":100,
                       "window_min":60,"filter":{"environment":"production","level":"error"},
                       "enabled":true,"reminder_ms":3_600_000}),
            ),
            (
                "drop rate with a reason",
                json!({"id":"drops","name":"Drops","kind":"drop_rate","ratio_percent":10,
                       "reason":"rate_limited","filter":{},"enabled":false}),
            ),
            (
                "silent, no parameters",
                json!({"id":"quiet","name":"Quiet","kind":"silent","filter":{},"enabled":true}),
            ),
        ];
        for (why, input) in cases {
            let rule = parse_rule(&input).unwrap_or_else(|e| panic!("{why}: {e}"));
            assert_eq!(serde_json::to_value(&rule).unwrap(), input, "{why}");
        }
        let minimal = parse_rule(&json!({"id":"n","name":"N","kind":"new_issue"})).unwrap();
        assert!(
            minimal.enabled && minimal.filter.is_empty() && minimal.reminder_ms.is_none(),
            "defaults: enabled, no filter, no reminder"
        );
    }

    #[test]
    fn invalid_rules_say_what_and_the_limit() {
        let base = |extra: Value| {
            let mut v =
                json!({"id":"r1","name":"Rule","kind":"event_volume","events":10,"window_min":60});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let cases = [
            ("not an object", json!([1]), "must be a JSON object"),
            (
                "unknown kind",
                base(json!({"kind":"sometimes"})),
                "unknown variant `sometimes`",
            ),
            (
                "missing window",
                json!({"id":"r","name":"R","kind":"event_volume","events":1}),
                "missing field `window_min`",
            ),
            (
                "typo in a field",
                base(json!({"windows_min":5})),
                "unknown field 'windows_min' for a event_volume rule",
            ),
            (
                "field of another kind",
                base(json!({"users":5})),
                "unknown field 'users'",
            ),
            (
                "typo in the filter",
                base(json!({"filter":{"enviroment":"prod"}})),
                "unknown field `enviroment`",
            ),
            (
                "uppercase id",
                base(json!({"id":"Prod"})),
                "id must be 1 to 64 characters of a-z, 0-9, '_' or '-' (got 'Prod')",
            ),
            ("empty id", base(json!({"id":""})), "id must be 1 to 64"),
            (
                "65-char id",
                base(json!({"id":"a".repeat(65)})),
                "id must be 1 to 64",
            ),
            (
                "blank name",
                base(json!({"name":"  "})),
                "name must be 1 to 200 characters",
            ),
            (
                "201-char name",
                base(json!({"name":"é".repeat(201)})),
                "name must be 1 to 200 characters without control characters (got 201 characters)",
            ),
            (
                "newline in name",
                base(json!({"name":"a\nb"})),
                "without control characters",
            ),
            (
                "zero events",
                base(json!({"events":0})),
                "events must be at least 1 (got 0)",
            ),
            (
                "zero users",
                json!({"id":"u","name":"U","kind":"user_volume","users":0,"window_min":5}),
                "users must be at least 1",
            ),
            (
                "zero window",
                base(json!({"window_min":0})),
                "window_min must be from 1 to 10080 minutes (7 days) (got 0)",
            ),
            (
                "window over 7 days",
                base(json!({"window_min":10_081})),
                "(got 10081)",
            ),
            (
                "negative events",
                base(json!({"events":-1})),
                "invalid rule: invalid value",
            ),
            (
                "spike of 100 %",
                json!({"id":"s","name":"S","kind":"spike","factor_percent":100}),
                "factor_percent must be at least 101 (got 100)",
            ),
            (
                "ratio 0",
                json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":0}),
                "ratio_percent must be from 1 to 100 (got 0)",
            ),
            (
                "ratio 101",
                json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":101}),
                "(got 101)",
            ),
            (
                "bad reason",
                json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":5,"reason":"Rate Limited"}),
                "reason must be 1 to 64 characters",
            ),
            (
                "reminder of a second",
                base(json!({"reminder_ms":1000})),
                "reminder_ms must be from 300000 (5 minutes) to 2592000000 (30 days) (got 1000)",
            ),
            (
                "unknown level",
                base(json!({"filter":{"level":"catastrophic"}})),
                "filter.level must be one of debug, info, warning, error, fatal",
            ),
            (
                "empty environment",
                base(json!({"filter":{"environment":""}})),
                "filter.environment must be 1 to 200 characters (got 0)",
            ),
            (
                "long release",
                base(json!({"filter":{"release":"1".repeat(201)}})),
                "filter.release must be 1 to 200 characters (got 201)",
            ),
            (
                "filter on a project rule",
                json!({"id":"q","name":"Q","kind":"silent","filter":{"environment":"prod"}}),
                "a silent rule watches the whole project: it takes no filter",
            ),
        ];
        for (why, input, want) in cases {
            match parse_rule(&input) {
                Ok(r) => panic!("{why}: accepted {r:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{why}: got '{e}'"),
            }
        }
        let ok = [
            ("window of 1 min", base(json!({"window_min":1}))),
            ("window of 7 days", base(json!({"window_min":10_080}))),
            ("64-char id", base(json!({"id":"a".repeat(64)}))),
            ("200-char name", base(json!({"name":"é".repeat(200)}))),
            (
                "spike 101 %",
                json!({"id":"s","name":"S","kind":"spike","factor_percent":101}),
            ),
            (
                "ratio 100",
                json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":100}),
            ),
            ("reminder of 5 min", base(json!({"reminder_ms":300_000}))),
            (
                "explicit nulls",
                base(json!({"reminder_ms":null,"filter":{"level":null}})),
            ),
        ];
        for (why, input) in ok {
            assert!(
                parse_rule(&input).is_ok(),
                "{why}: {:?}",
                parse_rule(&input)
            );
        }
    }

    #[test]
    fn filters_match_environment_release_and_level_at_or_above() {
        let f = |env: Option<&str>, level: Option<&str>, release: Option<&str>| Filter {
            environment: env.map(Into::into),
            level: level.map(Into::into),
            release: release.map(Into::into),
        };
        let cases = [
            (
                "empty filter, nothing known",
                f(None, None, None),
                (None, None, None),
                true,
            ),
            (
                "environment equal",
                f(Some("prod"), None, None),
                (Some("prod"), None, None),
                true,
            ),
            (
                "environment differs",
                f(Some("prod"), None, None),
                (Some("staging"), None, None),
                false,
            ),
            (
                "environment is case-sensitive",
                f(Some("prod"), None, None),
                (Some("Prod"), None, None),
                false,
            ),
            (
                "environment unknown",
                f(Some("prod"), None, None),
                (None, None, None),
                false,
            ),
            (
                "error matches error",
                f(None, Some("error"), None),
                (None, Some("error"), None),
                true,
            ),
            (
                "error matches fatal",
                f(None, Some("error"), None),
                (None, Some("fatal"), None),
                true,
            ),
            (
                "error skips warning",
                f(None, Some("error"), None),
                (None, Some("warning"), None),
                false,
            ),
            (
                "unknown level counts as error",
                f(None, Some("error"), None),
                (None, Some("oops"), None),
                true,
            ),
            (
                "level unknown",
                f(None, Some("info"), None),
                (None, None, None),
                false,
            ),
            (
                "release equal",
                f(None, None, Some("2.3.1")),
                (None, None, Some("2.3.1")),
                true,
            ),
            (
                "release differs",
                f(None, None, Some("2.3.1")),
                (None, None, Some("2.3.10")),
                false,
            ),
            (
                "all three",
                f(Some("prod"), Some("warning"), Some("1")),
                (Some("prod"), Some("error"), Some("1")),
                true,
            ),
        ];
        for (why, filter, (env, level, release), want) in cases {
            assert_eq!(filter.matches(env, level, release), want, "{why}");
        }
    }

    #[test]
    fn rules_fire_on_their_own_triggers() {
        let rule = |v: Value| parse_rule(&v).unwrap();
        let new_issue =
            rule(json!({"id":"n","name":"N","kind":"new_issue","filter":{"environment":"prod"}}));
        let volume =
            rule(json!({"id":"v","name":"V","kind":"event_volume","events":5,"window_min":5}));
        let users =
            rule(json!({"id":"u","name":"U","kind":"user_volume","users":5,"window_min":5}));
        let drops = rule(
            json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":5,"reason":"rate_limited"}),
        );
        let hold = rule(json!({"id":"h","name":"H","kind":"webhook_hold"}));
        let mut disabled = rule(json!({"id":"x","name":"X","kind":"regression"}));
        disabled.enabled = false;
        let events = Trigger::Volume {
            measure: Measure::Events,
            count: 5,
            threshold: 5,
            window_min: 5,
        };
        let drop = |reason: Option<&str>| Trigger::DropRate {
            dropped: 5,
            total: 10,
            ratio_percent: 5,
            reason: reason.map(Into::into),
            window_min: 60,
        };
        let webhook = |exhausted| Trigger::Webhook {
            route: "r".into(),
            delivery_id: "wh_1".into(),
            exhausted,
            detail: String::new(),
        };
        let regression = Trigger::Regression {
            release: "2".into(),
            fixed_in: None,
        };
        let storm = Trigger::Storm {
            count: 9,
            since_release: None,
        };
        let cases = [
            (
                "new issue in prod",
                &new_issue,
                Trigger::NewIssue,
                Some("prod"),
                true,
            ),
            (
                "new issue in staging",
                &new_issue,
                Trigger::NewIssue,
                Some("staging"),
                false,
            ),
            (
                "a storm is new issues",
                &new_issue,
                storm,
                Some("prod"),
                true,
            ),
            (
                "new issue rule on a regression",
                &new_issue,
                regression.clone(),
                Some("prod"),
                false,
            ),
            ("event volume", &volume, events.clone(), None, true),
            (
                "user volume rule on an event count",
                &users,
                events,
                None,
                false,
            ),
            (
                "drops of the rule's reason",
                &drops,
                drop(Some("rate_limited")),
                None,
                true,
            ),
            (
                "drops of another reason",
                &drops,
                drop(Some("too_large")),
                None,
                false,
            ),
            ("hold rule on a hold", &hold, webhook(false), None, true),
            ("hold rule on exhaustion", &hold, webhook(true), None, false),
            ("disabled rule", &disabled, regression, None, false),
            (
                "resolved fires nothing",
                &volume,
                Trigger::Resolved,
                None,
                false,
            ),
        ];
        for (why, rule, trigger, env, want) in cases {
            assert_eq!(
                rule.fires_on(&trigger, env, Some("error"), None),
                want,
                "{why}"
            );
        }
    }

    #[test]
    fn thresholds() {
        let m = |events, users, baseline, dropped| Measured {
            events,
            users,
            baseline,
            dropped,
        };
        let kind = |v: Value| parse_rule(&v).unwrap().kind;
        let volume =
            kind(json!({"id":"v","name":"V","kind":"event_volume","events":100,"window_min":30}));
        let users =
            kind(json!({"id":"u","name":"U","kind":"user_volume","users":10,"window_min":30}));
        let spike = kind(json!({"id":"s","name":"S","kind":"spike","factor_percent":300}));
        let drops = kind(json!({"id":"d","name":"D","kind":"drop_rate","ratio_percent":20}));
        let cases = [
            ("99 events of 100", &volume, m(99, 0, 0, 0), false),
            ("100 events of 100", &volume, m(100, 0, 0, 0), true),
            ("9 users of 10", &users, m(500, 9, 0, 0), false),
            ("10 users of 10", &users, m(500, 10, 0, 0), true),
            ("spike at 299 %", &spike, m(299, 0, 100, 0), false),
            ("spike at 300 %", &spike, m(300, 0, 100, 0), true),
            ("no baseline, no spike", &spike, m(1_000, 0, 0, 0), false),
            ("too few events to be a spike", &spike, m(9, 0, 1, 0), false),
            ("19 % dropped", &drops, m(81, 0, 0, 19), false),
            ("20 % dropped", &drops, m(80, 0, 0, 20), true),
            ("everything dropped", &drops, m(0, 0, 0, 50), true),
            ("too few to judge", &drops, m(0, 0, 0, 9), false),
            (
                "silent usual project",
                &RuleKind::Silent,
                m(0, 0, 10, 0),
                true,
            ),
            (
                "silent project that is usually quiet",
                &RuleKind::Silent,
                m(0, 0, 9, 0),
                false,
            ),
            (
                "one event is not silence",
                &RuleKind::Silent,
                m(1, 0, 100, 0),
                false,
            ),
            (
                "huge numbers do not overflow",
                &spike,
                m(u64::MAX, 0, u64::MAX / 2, 0),
                false,
            ),
            (
                "event-driven kinds never evaluate",
                &RuleKind::NewIssue,
                m(1_000, 1_000, 1, 0),
                false,
            ),
        ];
        for (why, kind, measured, want) in cases {
            assert_eq!(evaluate(kind, &measured).is_some(), want, "{why}");
        }
        assert_eq!(
            evaluate(&volume, &m(120, 0, 0, 0)),
            Some(Trigger::Volume {
                measure: Measure::Events,
                count: 120,
                threshold: 100,
                window_min: 30
            }),
            "the trigger carries the count and the rule's threshold"
        );
        assert_eq!(volume.window_min(), Some(30));
        assert_eq!(spike.window_min(), Some(PROJECT_WINDOW_MIN));
        assert_eq!(RuleKind::Regression.window_min(), None);
    }

    #[test]
    fn default_rules_are_the_four_issue_happenings() {
        let rules = default_rules();
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["new_issue", "regression", "snooze_woke", "escalating"]
        );
        for r in &rules {
            assert!(
                r.enabled && r.filter.is_empty(),
                "{} enabled, unfiltered",
                r.id
            );
            let back = parse_rule(&serde_json::to_value(r).unwrap());
            assert_eq!(back.as_ref(), Ok(r), "{} passes its own validation", r.id);
        }
    }
}
