//! "Errors stopped arriving" is itself an incident: a watchdog per (project, environment).
//!
//! The signal is anything the project sends: events and sessions. The browser SDK sends one
//! session per page load, so a healthy site always has a heartbeat, and a broken deploy, a
//! removed script tag or a CSP that blocks the SDK shows up as silence.
//!
//! How long a silence is tolerated follows the project's own traffic: [`expected_per_hour`]
//! reads the same hour of the week from up to four weeks of [`HourlyHistory`], and
//! [`silence_after_ms`] turns that rate into a threshold (`k` expected signals that failed to
//! arrive, never below `floor_ms`, never above `max_ms`). [`on_signal`] and [`on_tick`] drive the
//! [`Watch`] state machine; only up→down and down→up alert ([`WatchdogAlert`]). The caller stores
//! the history and the watch, runs the ticks (a cron or an alarm) and sends the alerts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One hour in milliseconds (the history's bucket width).
pub const HOUR_MS: u64 = 3_600_000;
/// Hours in a week: buckets this far apart are the same hour of the week.
pub const WEEK_HOURS: u64 = 168;
/// How many past weeks [`expected_per_hour`] reads (and [`HourlyHistory::prune`] keeps).
pub const HISTORY_WEEKS: u64 = 4;
/// Smallest `floor_ms` an override may set: 10 s (short enough for tests with real time).
pub const MIN_FLOOR_MS: u64 = 10_000;
/// Largest `floor_ms` or `max_ms` an override may set: 7 days.
pub const MAX_WINDOW_MS: u64 = 7 * 24 * HOUR_MS;
/// Smallest `k`: fewer than one missing signal would page on ordinary gaps between page loads.
pub const MIN_K: f64 = 1.0;
/// Largest `k`.
pub const MAX_K: f64 = 100.0;
/// A release first seen at most this long before a silence began is named in the alert.
pub const RELEASE_HINT_WINDOW_MS: u64 = 2 * HOUR_MS;

/// How long a project may stay silent, per project (defaults, or [`parse_override`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WatchdogConfig {
    /// Shortest threshold, in ms, however busy the project is (default 30 min): a busy site's
    /// `k ÷ rate` is seconds, and a deploy or a network blip must not page.
    pub floor_ms: u64,
    /// The project is silent once `k` expected signals failed to arrive (default 5.0).
    pub k: f64,
    /// Longest threshold, in ms (default 24 h): a project that used to be quiet at this hour is
    /// still declared down within a day.
    pub max_ms: u64,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            floor_ms: 30 * 60 * 1000,
            k: 5.0,
            max_ms: 24 * HOUR_MS,
        }
    }
}

/// Why a watchdog override was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WatchdogError {
    /// The override is not a JSON object.
    #[error("the watchdog override must be a JSON object such as {{\"floor_ms\": 1800000, \"k\": 5, \"max_ms\": 86400000}}")]
    NotAnObject,
    /// A field other than `floor_ms`, `k` and `max_ms`.
    #[error("unknown watchdog field \"{0}\" (known: floor_ms, k, max_ms)")]
    UnknownField(String),
    /// A field of the wrong JSON type.
    #[error("watchdog {field} must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A field outside its bounds.
    #[error("watchdog {field} is {value}, outside the allowed {min} to {max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The smallest allowed value.
        min: String,
        /// The largest allowed value.
        max: String,
    },
    /// `max_ms` below `floor_ms`.
    #[error("watchdog max_ms ({max_ms}) must not be below floor_ms ({floor_ms})")]
    MaxBelowFloor {
        /// The floor given (or the default).
        floor_ms: u64,
        /// The cap given (or the default).
        max_ms: u64,
    },
}

/// Reads a per-project override: a JSON object with any of `floor_ms` (10 000 to 604 800 000),
/// `k` (1 to 100) and `max_ms` (10 000 to 604 800 000, not below `floor_ms`); a missing or
/// `null` field keeps its default. Unknown fields are refused, so a typo is not silently ignored.
pub fn parse_override(value: &Value) -> Result<WatchdogConfig, WatchdogError> {
    let obj = value.as_object().ok_or(WatchdogError::NotAnObject)?;
    let mut cfg = WatchdogConfig::default();
    for (name, v) in obj {
        if v.is_null() {
            continue;
        }
        match name.as_str() {
            "floor_ms" => cfg.floor_ms = window_ms("floor_ms", v)?,
            "max_ms" => cfg.max_ms = window_ms("max_ms", v)?,
            "k" => {
                let k = v.as_f64().ok_or(WatchdogError::WrongType {
                    field: "k",
                    expected: "a number",
                })?;
                if !(MIN_K..=MAX_K).contains(&k) {
                    return Err(WatchdogError::OutOfRange {
                        field: "k",
                        value: k.to_string(),
                        min: MIN_K.to_string(),
                        max: MAX_K.to_string(),
                    });
                }
                cfg.k = k;
            }
            other => return Err(WatchdogError::UnknownField(other.to_string())),
        }
    }
    if cfg.max_ms < cfg.floor_ms {
        return Err(WatchdogError::MaxBelowFloor {
            floor_ms: cfg.floor_ms,
            max_ms: cfg.max_ms,
        });
    }
    Ok(cfg)
}

fn window_ms(field: &'static str, v: &Value) -> Result<u64, WatchdogError> {
    let ms = v.as_u64().ok_or(WatchdogError::WrongType {
        field,
        expected: "a whole number of milliseconds",
    })?;
    if !(MIN_FLOOR_MS..=MAX_WINDOW_MS).contains(&ms) {
        return Err(WatchdogError::OutOfRange {
            field,
            value: format!("{ms} ms"),
            min: format!("{MIN_FLOOR_MS} ms (10 s)"),
            max: format!("{MAX_WINDOW_MS} ms (7 days)"),
        });
    }
    Ok(ms)
}

/// The epoch hour (`ms / 1 h`) a time falls in: the key of [`HourlyHistory`].
pub fn epoch_hour(ms: u64) -> u64 {
    ms / HOUR_MS
}

/// Signals counted per epoch hour (`epoch_hour → count`), for up to the last
/// [`HISTORY_WEEKS`] weeks. An hour without a bucket counted nothing: the caller writes a bucket
/// only when something arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourlyHistory {
    buckets: BTreeMap<u64, u64>,
}

impl HourlyHistory {
    /// An empty history (a project never seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// A history from stored `(epoch_hour, count)` rows; repeated hours add up, zero counts are
    /// dropped.
    pub fn from_buckets(rows: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut h = Self::new();
        for (hour, count) in rows {
            h.add_to_hour(hour, count);
        }
        h
    }

    /// Counts `n` signals received at `at_ms`.
    pub fn record(&mut self, at_ms: u64, n: u64) {
        self.add_to_hour(epoch_hour(at_ms), n);
    }

    fn add_to_hour(&mut self, hour: u64, n: u64) {
        if n > 0 {
            let c = self.buckets.entry(hour).or_insert(0);
            *c = c.saturating_add(n);
        }
    }

    /// Drops the buckets [`expected_per_hour`] no longer reads at `now_ms` (older than
    /// [`HISTORY_WEEKS`] weeks before the current hour).
    pub fn prune(&mut self, now_ms: u64) {
        let oldest = horizon_start(epoch_hour(now_ms));
        self.buckets = self.buckets.split_off(&oldest);
    }

    /// The count of one epoch hour (0 when none was recorded).
    pub fn count(&self, epoch_hour: u64) -> u64 {
        self.buckets.get(&epoch_hour).copied().unwrap_or(0)
    }

    /// The stored `(epoch_hour, count)` buckets, oldest first (what the caller persists).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets.iter().map(|(h, c)| (*h, *c))
    }

    /// Whether nothing was ever counted.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

fn horizon_start(current_hour: u64) -> u64 {
    current_hour.saturating_sub(HISTORY_WEEKS * WEEK_HOURS)
}

/// Signals expected in the hour of the week that `now_ms` falls in, from past traffic.
///
/// The mean of the same hour of the week over the past [`HISTORY_WEEKS`] weeks that have any
/// data and in which the project had already been seen at that hour (a week without any data —
/// the project was not sending then — says nothing about this hour; a week with data but
/// nothing at this hour is a real zero, e.g. a site that sleeps at night, and gives `0.0`,
/// which [`silence_after_ms`] turns into `max_ms`). When no past week qualifies (a project
/// younger than a week), the mean over all hours from the first one with data up to and
/// including the current one: hours without a bucket inside that span count as zero, so a
/// young site's rate is not overstated by averaging only its busy hours. `None` when nothing
/// was seen in the last four weeks.
pub fn expected_per_hour(history: &HourlyHistory, now_ms: u64) -> Option<f64> {
    let cur = epoch_hour(now_ms);
    let (first, _) = history
        .buckets
        .range(horizon_start(cur)..=cur)
        .find(|(_, c)| **c > 0)?;
    let first = *first;
    let mut sum = 0f64;
    let mut weeks = 0u32;
    for w in 1..=HISTORY_WEEKS {
        let Some(slot) = cur.checked_sub(w * WEEK_HOURS) else {
            break;
        };
        if slot < first {
            // Older slots lie even further before the project was first seen.
            break;
        }
        let week_has_data = history
            .buckets
            .range(slot..slot + WEEK_HOURS)
            .any(|(_, c)| *c > 0);
        if week_has_data {
            sum += history.count(slot) as f64;
            weeks += 1;
        }
    }
    if weeks > 0 {
        return Some(sum / f64::from(weeks));
    }
    let total: f64 = history
        .buckets
        .range(first..=cur)
        .map(|(_, c)| *c as f64)
        .sum();
    Some(total / (cur - first + 1) as f64)
}

/// How long a silence may last, in ms, at `expected_per_hour` signals an hour:
/// `clamp(max(floor_ms, k ÷ rate), ≤ max_ms)`. A rate of zero (or not a positive number) gives
/// `max_ms`.
pub fn silence_after_ms(expected_per_hour: f64, cfg: &WatchdogConfig) -> u64 {
    // `> 0.0` is false for NaN; an infinite rate gives 0 ms, so the floor.
    let by_rate = if expected_per_hour > 0.0 {
        let ms = cfg.k / expected_per_hour * HOUR_MS as f64;
        if ms.is_nan() {
            u64::MAX
        } else {
            // `as` saturates: a huge quotient becomes u64::MAX, then the cap applies.
            ms as u64
        }
    } else {
        u64::MAX
    };
    by_rate.max(cfg.floor_ms).min(cfg.max_ms)
}

/// The threshold for an optional expected rate: [`silence_after_ms`], or `max_ms` when there is
/// no history to read a rate from.
pub fn threshold_ms(expected_per_hour: Option<f64>, cfg: &WatchdogConfig) -> u64 {
    match expected_per_hour {
        Some(rate) => silence_after_ms(rate, cfg),
        None => cfg.max_ms,
    }
}

/// Where a watched (project, environment) stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchdogState {
    /// Nothing received yet: a project never seen never alerts.
    #[default]
    New,
    /// Signals arrive.
    Up,
    /// Silent for more than half the threshold (no alert yet).
    Late,
    /// Silent past the threshold (alerted).
    Down,
}

impl WatchdogState {
    /// The stored name: `new`, `up`, `late`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Up => "up",
            Self::Late => "late",
            Self::Down => "down",
        }
    }

    /// Reads a stored name (see [`WatchdogState::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "new" => Some(Self::New),
            "up" => Some(Self::Up),
            "late" => Some(Self::Late),
            "down" => Some(Self::Down),
            _ => None,
        }
    }
}

/// The watchdog of one (project, environment), as the caller stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Watch {
    /// The current state.
    pub state: WatchdogState,
    /// When the latest signal arrived (`None` before the first).
    pub last_signal_ms: Option<u64>,
    /// When the current state was entered.
    pub since_ms: u64,
    /// Whether the current silence was alerted as down (a comeback alerts only then).
    pub down_alerted: bool,
}

/// What the caller sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchdogAlert {
    /// Nothing arrived for longer than the threshold.
    WentDown {
        /// When the latest signal before the silence arrived.
        silent_since_ms: u64,
        /// The threshold that was crossed, in ms.
        threshold_ms: u64,
        /// `(release, first seen ms)` of the release first seen most recently within
        /// [`RELEASE_HINT_WINDOW_MS`] before the silence began, if any.
        after_release: Option<(String, u64)>,
    },
    /// Signals arrive again after a down alert.
    CameBack {
        /// How long nothing arrived: from the last signal before the silence to this one.
        down_for_ms: u64,
    },
}

/// A signal (an event or a session) arrived at `now_ms`.
pub fn on_signal(w: Watch, now_ms: u64) -> (Watch, Option<WatchdogAlert>) {
    let last = w.last_signal_ms.map_or(now_ms, |l| l.max(now_ms));
    let up = Watch {
        state: WatchdogState::Up,
        last_signal_ms: Some(last),
        since_ms: now_ms,
        down_alerted: false,
    };
    match w.state {
        WatchdogState::Up => (
            Watch {
                since_ms: w.since_ms,
                ..up
            },
            None,
        ),
        WatchdogState::New | WatchdogState::Late => (up, None),
        WatchdogState::Down => {
            let alert = w.down_alerted.then(|| WatchdogAlert::CameBack {
                down_for_ms: now_ms.saturating_sub(w.last_signal_ms.unwrap_or(w.since_ms)),
            });
            (up, alert)
        }
    }
}

/// A periodic check at `now_ms`, with the rate [`expected_per_hour`] gives for this hour and the
/// project's releases as `(release, first seen ms)`.
///
/// Up → Late once silent for half the threshold (no alert); Up or Late → Down once silent for
/// the whole threshold (alert [`WatchdogAlert::WentDown`]); Late → Up when the threshold grew
/// past twice the silence (a quieter hour began). Down stays down until a signal; New stays new.
pub fn on_tick(
    w: Watch,
    now_ms: u64,
    expected_per_hour: Option<f64>,
    cfg: &WatchdogConfig,
    releases: &[(String, u64)],
) -> (Watch, Option<WatchdogAlert>) {
    let Some(last) = w.last_signal_ms else {
        return (w, None);
    };
    if matches!(w.state, WatchdogState::New | WatchdogState::Down) {
        return (w, None);
    }
    let threshold = threshold_ms(expected_per_hour, cfg);
    let silent_for = now_ms.saturating_sub(last);
    if silent_for >= threshold {
        let after_release = releases
            .iter()
            .filter(|(_, seen)| *seen <= last && last - *seen <= RELEASE_HINT_WINDOW_MS)
            .max_by_key(|(_, seen)| *seen)
            .cloned();
        let down = Watch {
            state: WatchdogState::Down,
            last_signal_ms: Some(last),
            since_ms: now_ms,
            down_alerted: true,
        };
        let alert = WatchdogAlert::WentDown {
            silent_since_ms: last,
            threshold_ms: threshold,
            after_release,
        };
        return (down, Some(alert));
    }
    let late = silent_for >= threshold / 2;
    let state = match (w.state, late) {
        (WatchdogState::Up, true) => WatchdogState::Late,
        (WatchdogState::Late, false) => WatchdogState::Up,
        (s, _) => s,
    };
    if state == w.state {
        (w, None)
    } else {
        (
            Watch {
                state,
                since_ms: now_ms,
                ..w
            },
            None,
        )
    }
}

/// The alert as a sentence for a person.
pub fn message(alert: &WatchdogAlert, project: &str, environment: &str) -> String {
    match alert {
        WatchdogAlert::WentDown {
            silent_since_ms,
            threshold_ms,
            after_release,
        } => {
            let mut s = format!(
                "{project} ({environment}) has gone silent: no events or sessions since {}, longer than the {} its usual traffic allows.",
                format_utc_minute(*silent_since_ms),
                format_duration_ms(*threshold_ms)
            );
            if let Some((release, seen)) = after_release {
                s.push_str(&format!(
                    " The silence began {} after release {release} first appeared.",
                    format_duration_ms(silent_since_ms.saturating_sub(*seen))
                ));
            }
            s
        }
        WatchdogAlert::CameBack { down_for_ms } => format!(
            "{project} ({environment}) is sending again after {} of silence.",
            format_duration_ms(*down_for_ms)
        ),
    }
}

/// `14:02 UTC on 2026-12-01`.
pub(crate) fn format_utc_minute(ms: u64) -> String {
    let t = crate::time::format_rfc3339_ms(ms);
    match (t.get(0..10), t.get(11..16)) {
        (Some(date), Some(hm)) => format!("{hm} UTC on {date}"),
        _ => t,
    }
}

/// A duration for people: `45 s`, `35 min`, `2 h 13 min`, `3 d 4 h`.
pub(crate) fn format_duration_ms(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MIN: u64 = 60_000;
    /// A Monday 00:00 UTC (2026-11-02), so hours of the week are easy to read.
    const MONDAY: u64 = 1_793_577_600_000;

    fn cfg() -> WatchdogConfig {
        WatchdogConfig::default()
    }

    /// `per_hour(hour_of_day)` signals every hour of the four weeks before `now`.
    fn history(now: u64, per_hour: impl Fn(u64) -> u64) -> HourlyHistory {
        let cur = epoch_hour(now);
        HourlyHistory::from_buckets(
            (cur - HISTORY_WEEKS * WEEK_HOURS..cur).map(|h| (h, per_hour(h % 24))),
        )
    }

    fn up_at(t: u64) -> Watch {
        on_signal(Watch::default(), t).0
    }

    #[test]
    fn monday_is_a_monday() {
        assert_eq!(
            crate::time::format_rfc3339_ms(MONDAY),
            "2026-11-02T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_overrides() {
        let cases: Vec<(&str, Value, Result<WatchdogConfig, &str>)> = vec![
            ("empty keeps defaults", json!({}), Ok(cfg())),
            (
                "all fields",
                json!({"floor_ms": 10_000, "k": 2.5, "max_ms": 60_000}),
                Ok(WatchdogConfig {
                    floor_ms: 10_000,
                    k: 2.5,
                    max_ms: 60_000,
                }),
            ),
            (
                "null keeps the default",
                json!({"floor_ms": null, "k": 3}),
                Ok(WatchdogConfig { k: 3.0, ..cfg() }),
            ),
            (
                "floor below 10 s",
                json!({"floor_ms": 9_999}),
                Err("watchdog floor_ms is 9999 ms, outside the allowed 10000 ms (10 s) to 604800000 ms (7 days)"),
            ),
            (
                "max above 7 days",
                json!({"max_ms": MAX_WINDOW_MS + 1}),
                Err("watchdog max_ms is 604800001 ms, outside the allowed 10000 ms (10 s) to 604800000 ms (7 days)"),
            ),
            (
                "floor of 7 days needs a max of 7 days",
                json!({"floor_ms": MAX_WINDOW_MS}),
                Err("watchdog max_ms (86400000) must not be below floor_ms (604800000)"),
            ),
            (
                "k too small",
                json!({"k": 0.5}),
                Err("watchdog k is 0.5, outside the allowed 1 to 100"),
            ),
            (
                "k not a number",
                json!({"k": "5"}),
                Err("watchdog k must be a number"),
            ),
            (
                "fractional ms",
                json!({"floor_ms": 60_000.5}),
                Err("watchdog floor_ms must be a whole number of milliseconds"),
            ),
            (
                "negative ms",
                json!({"max_ms": -1}),
                Err("watchdog max_ms must be a whole number of milliseconds"),
            ),
            (
                "a typo is refused",
                json!({"floor": 60_000}),
                Err("unknown watchdog field \"floor\" (known: floor_ms, k, max_ms)"),
            ),
            (
                "not an object",
                json!([1]),
                Err("the watchdog override must be a JSON object such as {\"floor_ms\": 1800000, \"k\": 5, \"max_ms\": 86400000}"),
            ),
        ];
        for (name, input, want) in cases {
            let got = parse_override(&input).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{name}");
        }
    }

    #[test]
    fn expected_rate_from_history() {
        let now = MONDAY + 5 * WEEK_HOURS * HOUR_MS + 14 * HOUR_MS + 30 * MIN; // a Monday, 14:30
        let cur = epoch_hour(now);
        let cases: Vec<(&str, HourlyHistory, Option<f64>)> = vec![
            ("never seen", HourlyHistory::new(), None),
            (
                "only older than four weeks",
                HourlyHistory::from_buckets([(cur - 5 * WEEK_HOURS, 100)]),
                None,
            ),
            ("steady 60 an hour", history(now, |_| 60), Some(60.0)),
            (
                "same hour of the week, not the hour before",
                history(now, |h| if h == 14 { 40 } else { 4 }),
                Some(40.0),
            ),
            (
                "mean over the weeks that have data",
                HourlyHistory::from_buckets([
                    (cur - WEEK_HOURS, 30),
                    (cur - 2 * WEEK_HOURS, 10),
                    // Week 3 has no data at all (the site was not sending): skipped.
                    (cur - 4 * WEEK_HOURS, 20),
                ]),
                Some(20.0),
            ),
            (
                "a week with data but nothing at this hour is a real zero",
                HourlyHistory::from_buckets([(cur - WEEK_HOURS - 5, 50), (cur - 1, 50)]),
                Some(0.0),
            ),
            (
                "younger than a week: mean over the hours since first seen",
                HourlyHistory::from_buckets([(cur - 3, 10), (cur - 1, 20), (cur, 2)]),
                Some(8.0),
            ),
            (
                "seen only in the current hour",
                HourlyHistory::from_buckets([(cur, 7)]),
                Some(7.0),
            ),
            (
                "future buckets are ignored",
                HourlyHistory::from_buckets([(cur + 1, 1000), (cur - 1, 4)]),
                Some(2.0),
            ),
        ];
        for (name, h, want) in cases {
            assert_eq!(expected_per_hour(&h, now), want, "{name}");
        }
    }

    #[test]
    fn history_prunes_and_records() {
        let now = MONDAY + 10 * WEEK_HOURS * HOUR_MS;
        let cur = epoch_hour(now);
        let mut h = HourlyHistory::from_buckets([
            (cur - 4 * WEEK_HOURS - 1, 1),
            (cur - 4 * WEEK_HOURS, 2),
            (cur - 1, 0),
        ]);
        h.record(now + 10 * MIN, 3);
        h.record(now + 20 * MIN, u64::MAX);
        h.prune(now);
        assert_eq!(
            h.buckets().collect::<Vec<_>>(),
            vec![(cur - 4 * WEEK_HOURS, 2), (cur, u64::MAX)],
            "older than four weeks dropped, zero counts never stored, counts saturate"
        );
    }

    #[test]
    fn threshold_from_rate() {
        let c = cfg();
        let cases: Vec<(&str, f64, WatchdogConfig, u64)> = vec![
            ("busy site: the floor", 600.0, c, 30 * MIN),
            ("exactly k/rate = floor", 10.0, c, 30 * MIN),
            ("low traffic: k ÷ rate", 2.0, c, 150 * MIN),
            ("very low traffic: capped", 0.1, c, 24 * HOUR_MS),
            ("zero: capped", 0.0, c, 24 * HOUR_MS),
            ("negative: capped", -3.0, c, 24 * HOUR_MS),
            ("NaN: capped", f64::NAN, c, 24 * HOUR_MS),
            ("infinite rate: the floor", f64::INFINITY, c, 30 * MIN),
            ("tiny rate saturates: capped", 1e-300, c, 24 * HOUR_MS),
            (
                "short test windows",
                3600.0,
                WatchdogConfig {
                    floor_ms: 10_000,
                    k: 5.0,
                    max_ms: 60_000,
                },
                10_000,
            ),
        ];
        for (name, rate, cfg, want) in cases {
            assert_eq!(silence_after_ms(rate, &cfg), want, "{name}");
        }
        assert_eq!(threshold_ms(None, &c), c.max_ms, "no history: the cap");
    }

    /// Runs ticks every minute from `from` to `to` (inclusive) and returns the first alert with
    /// the time it came, and the watch at the end.
    fn tick_until(
        mut w: Watch,
        from: u64,
        to: u64,
        history: &HourlyHistory,
        cfg: &WatchdogConfig,
        releases: &[(String, u64)],
    ) -> (
        Watch,
        Option<(u64, WatchdogAlert)>,
        Vec<(u64, WatchdogState)>,
    ) {
        let mut first = None;
        let mut states = vec![];
        let mut t = from;
        while t <= to {
            let (next, alert) = on_tick(w, t, expected_per_hour(history, t), cfg, releases);
            if next.state != w.state {
                states.push((t, next.state));
            }
            w = next;
            if let (None, Some(a)) = (&first, alert) {
                first = Some((t, a));
            }
            t += MIN;
        }
        (w, first, states)
    }

    #[test]
    fn scenarios_with_simulated_time() {
        let c = cfg();
        let day = MONDAY + 4 * WEEK_HOURS * HOUR_MS + 14 * HOUR_MS; // Monday 14:00
        let night = MONDAY + 4 * WEEK_HOURS * HOUR_MS + 3 * HOUR_MS; // Monday 03:00
                                                                     // 60 an hour by day, 2 an hour between 00:00 and 06:00.
        let diurnal = |h: u64| if h < 6 { 2 } else { 60 };
        struct Case {
            name: &'static str,
            last_signal: u64,
            history: HourlyHistory,
            releases: Vec<(String, u64)>,
            late_at: Option<u64>,
            alert: Option<(u64, WatchdogAlert)>,
        }
        let cases = vec![
            Case {
                name: "steady site: down after exactly the threshold (the 30 min floor)",
                last_signal: day,
                history: history(day, |_| 60),
                releases: vec![],
                late_at: Some(day + 15 * MIN),
                alert: Some((
                    day + 30 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: day,
                        threshold_ms: 30 * MIN,
                        after_release: None,
                    },
                )),
            },
            Case {
                name: "busy site: the floor, not k ÷ rate (seconds)",
                last_signal: day,
                history: history(day, |_| 6000),
                releases: vec![],
                late_at: Some(day + 15 * MIN),
                alert: Some((
                    day + 30 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: day,
                        threshold_ms: 30 * MIN,
                        after_release: None,
                    },
                )),
            },
            Case {
                name: "low-traffic site: k ÷ rate = 2.5 h",
                last_signal: day,
                history: history(day, |_| 2),
                releases: vec![],
                late_at: Some(day + 75 * MIN),
                alert: Some((
                    day + 150 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: day,
                        threshold_ms: 150 * MIN,
                        after_release: None,
                    },
                )),
            },
            Case {
                name: "night hour: lower expected traffic, longer threshold",
                last_signal: night,
                history: history(night, diurnal),
                releases: vec![],
                late_at: Some(night + 75 * MIN),
                alert: Some((
                    night + 150 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: night,
                        threshold_ms: 150 * MIN,
                        after_release: None,
                    },
                )),
            },
            Case {
                name: "the release hint: silence began 4 min after 2.3.1 first appeared",
                last_signal: day,
                history: history(day, |_| 60),
                releases: vec![
                    ("2.3.0".into(), day - 3 * HOUR_MS),
                    ("2.3.1".into(), day - 4 * MIN),
                    ("2.4.0".into(), day + MIN),
                ],
                late_at: Some(day + 15 * MIN),
                alert: Some((
                    day + 30 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: day,
                        threshold_ms: 30 * MIN,
                        after_release: Some(("2.3.1".into(), day - 4 * MIN)),
                    },
                )),
            },
            Case {
                name: "a release older than 2 h is no hint",
                last_signal: day,
                history: history(day, |_| 60),
                releases: vec![("2.3.0".into(), day - 2 * HOUR_MS - 1)],
                late_at: Some(day + 15 * MIN),
                alert: Some((
                    day + 30 * MIN,
                    WatchdogAlert::WentDown {
                        silent_since_ms: day,
                        threshold_ms: 30 * MIN,
                        after_release: None,
                    },
                )),
            },
        ];
        for case in cases {
            let w = up_at(case.last_signal);
            let (_, early, _) = tick_until(
                w,
                case.last_signal,
                case.last_signal + 10 * HOUR_MS,
                &case.history,
                &c,
                &case.releases,
            );
            assert_eq!(early, case.alert, "{}: first alert", case.name);
            let (w, _, states) = tick_until(
                w,
                case.last_signal,
                case.alert
                    .as_ref()
                    .map_or(case.last_signal, |(t, _)| *t - MIN),
                &case.history,
                &c,
                &case.releases,
            );
            assert_eq!(
                states.first().map(|(t, _)| *t),
                case.late_at,
                "{}: late at half the threshold",
                case.name
            );
            assert_eq!(
                w.state,
                WatchdogState::Late,
                "{}: not down before",
                case.name
            );
        }
    }

    #[test]
    fn never_seen_project_never_alerts() {
        let w = Watch::default();
        let (_, alert, states) = tick_until(
            w,
            MONDAY,
            MONDAY + 3 * 24 * HOUR_MS,
            &HourlyHistory::new(),
            &cfg(),
            &[],
        );
        assert_eq!(
            (alert, states),
            (None, vec![]),
            "a project never seen stays new"
        );
    }

    #[test]
    fn flapping_late_then_back_does_not_alert() {
        let c = cfg();
        let t0 = MONDAY + 4 * WEEK_HOURS * HOUR_MS + 14 * HOUR_MS;
        let h = history(t0, |_| 60);
        let mut w = up_at(t0);
        let mut t = t0;
        for round in 0..10 {
            // Silent for 20 min (late after 15), then one page load.
            let (next, alert, states) = tick_until(w, t, t + 20 * MIN, &h, &c, &[]);
            assert_eq!(alert, None, "round {round}: late is not an alert");
            assert_eq!(
                states,
                vec![(t + 15 * MIN, WatchdogState::Late)],
                "round {round}: late"
            );
            let (back, alert) = on_signal(next, t + 20 * MIN + 1);
            assert_eq!(alert, None, "round {round}: late → up is not an alert");
            assert_eq!(back.state, WatchdogState::Up, "round {round}: up again");
            w = back;
            t += 20 * MIN + 1;
        }
    }

    #[test]
    fn down_then_back_alerts_once_each_way() {
        let c = cfg();
        let t0 = MONDAY + 4 * WEEK_HOURS * HOUR_MS + 14 * HOUR_MS;
        let h = history(t0, |_| 60);
        let (w, alert, _) = tick_until(up_at(t0), t0, t0 + 5 * HOUR_MS, &h, &c, &[]);
        assert!(
            matches!(alert, Some((_, WatchdogAlert::WentDown { .. }))),
            "went down"
        );
        assert_eq!(w.state, WatchdogState::Down, "stays down");
        assert!(w.down_alerted, "remembers the alert");
        let (_, again, states) = tick_until(w, t0 + 5 * HOUR_MS, t0 + 9 * HOUR_MS, &h, &c, &[]);
        assert_eq!((again, states), (None, vec![]), "down alerts once");
        let (w, back) = on_signal(w, t0 + 9 * HOUR_MS + 13 * MIN + 30_000);
        assert_eq!(
            back,
            Some(WatchdogAlert::CameBack {
                down_for_ms: 9 * HOUR_MS + 13 * MIN + 30_000
            }),
            "came back"
        );
        assert_eq!(
            (w.state, w.down_alerted),
            (WatchdogState::Up, false),
            "up again"
        );
        let (_, more) = on_signal(w, t0 + 10 * HOUR_MS);
        assert_eq!(more, None, "only the first signal after down alerts");
    }

    #[test]
    fn transitions() {
        let c = cfg();
        let t = MONDAY;
        let up = Watch {
            state: WatchdogState::Up,
            last_signal_ms: Some(t),
            since_ms: t,
            down_alerted: false,
        };
        let late = Watch {
            state: WatchdogState::Late,
            since_ms: t + 20 * MIN,
            ..up
        };
        let cases: Vec<(&str, Watch, u64, Option<f64>, WatchdogState)> = vec![
            (
                "up, silent 14 min",
                up,
                t + 14 * MIN,
                Some(60.0),
                WatchdogState::Up,
            ),
            (
                "up, silent 15 min",
                up,
                t + 15 * MIN,
                Some(60.0),
                WatchdogState::Late,
            ),
            (
                "up straight to down when ticks were missed",
                up,
                t + 5 * HOUR_MS,
                Some(60.0),
                WatchdogState::Down,
            ),
            (
                "late relaxes when the hour got quieter",
                late,
                t + 20 * MIN,
                Some(1.0),
                WatchdogState::Up,
            ),
            (
                "no history: the 24 h cap",
                up,
                t + 23 * HOUR_MS,
                None,
                WatchdogState::Late,
            ),
            (
                "clock behind the last signal",
                up,
                t - HOUR_MS,
                Some(60.0),
                WatchdogState::Up,
            ),
        ];
        for (name, w, now, rate, want) in cases {
            assert_eq!(on_tick(w, now, rate, &c, &[]).0.state, want, "{name}");
        }
        let (w, _) = on_signal(up, t - MIN);
        assert_eq!(
            w.last_signal_ms,
            Some(t),
            "a late-arriving older signal does not move the last signal back"
        );
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            WatchdogState::New,
            WatchdogState::Up,
            WatchdogState::Late,
            WatchdogState::Down,
        ] {
            assert_eq!(WatchdogState::parse(s.as_str()), Some(s), "{s:?}");
        }
        assert_eq!(WatchdogState::parse("gone"), None, "unknown name");
    }

    #[test]
    fn messages() {
        let t = MONDAY + 14 * HOUR_MS + 2 * MIN;
        let cases: Vec<(&str, WatchdogAlert, &str)> = vec![
            (
                "down with a release",
                WatchdogAlert::WentDown {
                    silent_since_ms: t,
                    threshold_ms: 35 * MIN,
                    after_release: Some(("2.3.1".into(), t - 4 * MIN)),
                },
                "shop (production) has gone silent: no events or sessions since 14:02 UTC on 2026-11-02, longer than the 35 min its usual traffic allows. The silence began 4 min after release 2.3.1 first appeared.",
            ),
            (
                "down",
                WatchdogAlert::WentDown {
                    silent_since_ms: t,
                    threshold_ms: 24 * HOUR_MS,
                    after_release: None,
                },
                "shop (production) has gone silent: no events or sessions since 14:02 UTC on 2026-11-02, longer than the 1 d its usual traffic allows.",
            ),
            (
                "back",
                WatchdogAlert::CameBack {
                    down_for_ms: 2 * HOUR_MS + 13 * MIN,
                },
                "shop (production) is sending again after 2 h 13 min of silence.",
            ),
        ];
        for (name, alert, want) in cases {
            assert_eq!(message(&alert, "shop", "production"), want, "{name}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0 s"),
            (45_000, "45 s"),
            (35 * MIN, "35 min"),
            (2 * HOUR_MS, "2 h"),
            (2 * HOUR_MS + 13 * MIN, "2 h 13 min"),
            (3 * 24 * HOUR_MS + 4 * HOUR_MS + 5 * MIN, "3 d 4 h"),
            (7 * 24 * HOUR_MS, "7 d"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_duration_ms(ms), want, "{ms} ms");
        }
    }
}
