//! Test-only fault windows (`BACKSTOP_FAULTS`): while a window is active, the worker makes a real
//! binding fail (D1, R2 or the rate limiter's Durable Object), so end-to-end tests can prove that
//! nothing sent during an outage disappears. Honoured only under `BACKSTOP_ENV=local`; anywhere
//! else the var is a configuration error, so a forgotten switch can never break a deployment
//! silently.
//!
//! JSON: `{"d1": {"from": <epoch ms>, "until": <epoch ms>}, "r2": {…}, "rate_limiter": {…},
//! "queue": {…}, "consumer": {…}}`,
//! every kind optional; a window is active for `from <= now < until`.

use serde::Deserialize;

use crate::config::{ConfigError, Environment};

/// A binding a fault window can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The D1 database.
    D1,
    /// The R2 bucket.
    R2,
    /// The rate limiter's Durable Object.
    RateLimiter,
    /// The ingest queue, as the edge sends to it.
    Queue,
    /// The queue consumer's D1 part-way through a batch: every message after the first of a
    /// batch sees D1 fail on its first attempt, so one batch has both stored and failed jobs
    /// and the retries that follow must store the failed ones exactly once.
    Consumer,
}

/// One window, in epoch milliseconds: active for `from <= now < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultWindow {
    /// First failing millisecond.
    pub from: u64,
    /// First millisecond that works again.
    pub until: u64,
}

impl FaultWindow {
    fn contains(self, now_ms: u64) -> bool {
        self.from <= now_ms && now_ms < self.until
    }
}

/// The validated fault windows; the default has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// When D1 fails.
    pub d1: Option<FaultWindow>,
    /// When R2 fails.
    pub r2: Option<FaultWindow>,
    /// When the rate limiter fails.
    pub rate_limiter: Option<FaultWindow>,
    /// When sending to the ingest queue fails.
    pub queue: Option<FaultWindow>,
    /// When the consumer fails part-way through its batches.
    pub consumer: Option<FaultWindow>,
}

impl Faults {
    /// Parses `BACKSTOP_FAULTS`. Unset or empty means no faults in any environment; anything
    /// else is refused outside local dev.
    pub fn parse(environment: Environment, json: Option<&str>) -> Result<Self, ConfigError> {
        let Some(text) = json.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        if environment != Environment::Local {
            return Err(ConfigError::InvalidFaults(
                "fault windows are for tests and only honoured with BACKSTOP_ENV=local".into(),
            ));
        }
        let faults: Self =
            serde_json::from_str(text).map_err(|e| ConfigError::InvalidFaults(e.to_string()))?;
        for (name, w) in [
            ("d1", faults.d1),
            ("r2", faults.r2),
            ("rate_limiter", faults.rate_limiter),
            ("queue", faults.queue),
            ("consumer", faults.consumer),
        ] {
            if let Some(w) = w {
                if w.until <= w.from {
                    return Err(ConfigError::InvalidFaults(format!(
                        "{name}: until ({}) must be after from ({})",
                        w.until, w.from
                    )));
                }
            }
        }
        Ok(faults)
    }

    /// Whether `kind` must fail at `now_ms`.
    pub fn is_active(&self, kind: FaultKind, now_ms: u64) -> bool {
        let window = match kind {
            FaultKind::D1 => self.d1,
            FaultKind::R2 => self.r2,
            FaultKind::RateLimiter => self.rate_limiter,
            FaultKind::Queue => self.queue,
            FaultKind::Consumer => self.consumer,
        };
        window.is_some_and(|w| w.contains(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_active_only_inside_the_kinds_window() {
        let faults = Faults::parse(
            Environment::Local,
            Some(r#"{"d1": {"from": 100, "until": 200}, "rate_limiter": {"from": 150, "until": 160}}"#),
        )
        .unwrap();
        let cases = [
            (FaultKind::D1, 99, false, "before the window"),
            (FaultKind::D1, 100, true, "from is inclusive"),
            (FaultKind::D1, 199, true, "inside"),
            (FaultKind::D1, 200, false, "until is exclusive"),
            (FaultKind::R2, 150, false, "no window for r2"),
            (FaultKind::RateLimiter, 155, true, "its own window"),
            (FaultKind::RateLimiter, 120, false, "outside its own window"),
        ];
        for (kind, now, want, msg) in cases {
            assert_eq!(faults.is_active(kind, now), want, "{msg}");
        }
    }

    #[test]
    fn parse_accepts_absent_and_refuses_outside_local() {
        let d1 = r#"{"d1": {"from": 1, "until": 2}}"#;
        let cases: [(Environment, Option<&str>, bool, &str); 8] = [
            (
                Environment::Production,
                None,
                true,
                "unset is fine anywhere",
            ),
            (Environment::Production, Some("  "), true, "empty is unset"),
            (
                Environment::Production,
                Some(d1),
                false,
                "a window in production",
            ),
            (
                Environment::Production,
                Some("{}"),
                false,
                "even an empty object in production",
            ),
            (Environment::Local, Some(d1), true, "local"),
            (
                Environment::Local,
                Some(r#"{"d1": {"from": 2, "until": 2}}"#),
                false,
                "empty window",
            ),
            (
                Environment::Local,
                Some(r#"{"kv": {"from": 1, "until": 2}}"#),
                false,
                "unknown kind",
            ),
            (Environment::Local, Some("[1]"), false, "not an object"),
        ];
        for (env, json, ok, msg) in cases {
            let got = Faults::parse(env, json);
            assert_eq!(got.is_ok(), ok, "{msg}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().starts_with("BACKSTOP_FAULTS"), "{msg}: {e}");
            }
        }
        assert_eq!(
            Faults::parse(Environment::Local, None).unwrap(),
            Faults::default()
        );
    }
}
