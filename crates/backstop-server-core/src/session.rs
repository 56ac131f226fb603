//! Release health: `session` updates and pre-aggregated `sessions` are counted per release, so
//! the stats can show a crash-free session rate.

use serde_json::Value;

use crate::error::IngestError;
use crate::event::parse_json_bounded;
use crate::stats::add_stored;

/// Counts one session item contributes to its release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCounts {
    /// `attrs.release` (empty when absent).
    pub release: String,
    /// `attrs.environment`.
    pub environment: String,
    /// Sessions started.
    pub started: u64,
    /// Sessions that ended with handled errors.
    pub errored: u64,
    /// Sessions that crashed (an unhandled error).
    pub crashed: u64,
    /// Sessions that ended abnormally (the app was killed).
    pub abnormal: u64,
}

/// Crash-free session rate in [0, 1], `None` before any session started.
pub fn crash_free_rate(started: u64, crashed: u64) -> Option<f64> {
    (started > 0).then(|| 1.0 - (crashed.min(started) as f64 / started as f64))
}

/// Reads a `session` (one update) or `sessions` (aggregates) item. A single session counts as
/// started on its `init: true` update and by its final status when it ends (updates in between
/// count nothing, so a session is never counted twice).
pub fn parse_session_item(
    payload: &[u8],
    aggregated: bool,
    max_depth: usize,
) -> Result<SessionCounts, IngestError> {
    let v = parse_json_bounded(payload, max_depth)?;
    if !v.is_object() {
        return Err(IngestError::InvalidEvent(
            "a session item must be a JSON object".into(),
        ));
    }
    let attrs = v.get("attrs");
    let text = |key: &str| {
        attrs
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(200).collect::<String>())
            .unwrap_or_default()
    };
    let mut counts = SessionCounts {
        release: text("release"),
        environment: text("environment"),
        ..Default::default()
    };
    let n = |o: &Value, key: &str| {
        o.get(key)
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(1_000_000_000)
    };
    if aggregated {
        for a in v
            .get("aggregates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(1000)
        {
            let (exited, errored, abnormal, crashed) = (
                n(a, "exited"),
                n(a, "errored"),
                n(a, "abnormal"),
                n(a, "crashed"),
            );
            let sum = [exited, errored, abnormal, crashed]
                .into_iter()
                .fold(counts.started, add_stored);
            counts.started = sum;
            counts.errored = add_stored(counts.errored, errored);
            counts.abnormal = add_stored(counts.abnormal, abnormal);
            counts.crashed = add_stored(counts.crashed, crashed);
        }
    } else {
        if v.get("init").and_then(Value::as_bool) == Some(true) {
            counts.started = 1;
        }
        match v.get("status").and_then(Value::as_str).unwrap_or("ok") {
            "crashed" => counts.crashed = 1,
            "abnormal" => counts.abnormal = 1,
            "exited" | "errored" if n(&v, "errors") > 0 => counts.errored = 1,
            _ => {}
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_single_sessions_once() {
        let cases: Vec<(&str, (u64, u64, u64, u64))> = vec![
            (
                r#"{"sid":"a","init":true,"status":"ok","attrs":{"release":"web@1"}}"#,
                (1, 0, 0, 0),
            ),
            (r#"{"sid":"a","status":"ok","errors":1}"#, (0, 0, 0, 0)),
            (r#"{"sid":"a","status":"exited","errors":2}"#, (0, 1, 0, 0)),
            (r#"{"sid":"a","status":"exited","errors":0}"#, (0, 0, 0, 0)),
            (
                r#"{"sid":"a","init":true,"status":"crashed","errors":1}"#,
                (1, 0, 1, 0),
            ),
            (r#"{"sid":"a","status":"abnormal"}"#, (0, 0, 0, 1)),
        ];
        for (json, (started, errored, crashed, abnormal)) in cases {
            let c = parse_session_item(json.as_bytes(), false, 64).unwrap();
            assert_eq!(
                (c.started, c.errored, c.crashed, c.abnormal),
                (started, errored, crashed, abnormal),
                "{json}"
            );
        }
        assert_eq!(
            parse_session_item(
                br#"{"init":true,"attrs":{"release":"web@1","environment":"prod"}}"#,
                false,
                64
            )
            .unwrap()
            .release,
            "web@1"
        );
    }

    #[test]
    fn sums_aggregates() {
        let json = br#"{"aggregates":[{"started":"2026-11-22T10:00:00Z","exited":5,"errored":2},{"started":"2026-11-22T10:01:00Z","crashed":1,"abnormal":1}],"attrs":{"release":"r"}}"#;
        let c = parse_session_item(json, true, 64).unwrap();
        assert_eq!((c.started, c.errored, c.crashed, c.abnormal), (9, 2, 1, 1));
    }

    #[test]
    fn crash_free_rate_math() {
        assert_eq!(crash_free_rate(0, 0), None);
        assert_eq!(crash_free_rate(10, 1), Some(0.9));
        assert_eq!(
            crash_free_rate(2, 5),
            Some(0.0),
            "more crashes than starts cannot go negative"
        );
        assert!(parse_session_item(b"[1]", false, 64).is_err());
    }
}
