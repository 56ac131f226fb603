//! `client_report` items: what an SDK dropped before sending (sampling, rate limits, queue
//! overflow, network errors, `beforeSend`). Nobody else sees these drops, so they are counted.

use serde_json::Value;

use crate::error::IngestError;
use crate::event::parse_json_bounded;

/// Most discard entries read from one report.
pub const MAX_DISCARDS: usize = 100;

/// One line of `discarded_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discard {
    /// Why: `network_error`, `sample_rate`, `before_send`, `ratelimit_backoff`...
    pub reason: String,
    /// Data category: `error`, `transaction`, `session`, `attachment`...
    pub category: String,
    /// How many.
    pub quantity: u64,
}

/// Reads a client report. Unknown reasons are kept (sanitised), entries without a positive
/// quantity are skipped.
pub fn parse_client_report(payload: &[u8], max_depth: usize) -> Result<Vec<Discard>, IngestError> {
    let value = parse_json_bounded(payload, max_depth)?;
    let Some(list) = value.get("discarded_events").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    Ok(list
        .iter()
        .take(MAX_DISCARDS)
        .filter_map(|d| {
            let quantity = d
                .get("quantity")
                .and_then(Value::as_u64)
                .filter(|q| *q > 0)?;
            Some(Discard {
                reason: sanitize(d.get("reason").and_then(Value::as_str).unwrap_or("unknown")),
                category: sanitize(
                    d.get("category")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown"),
                ),
                quantity: quantity.min(1_000_000_000),
            })
        })
        .collect())
}

/// Lowercase letters, digits and `_` only, at most 48 characters (they become stats keys).
fn sanitize(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "unknown".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_discards() {
        let report = br#"{"timestamp":1795341600,"discarded_events":[
            {"reason":"network_error","category":"error","quantity":2},
            {"reason":"before_send","category":"error","quantity":1},
            {"reason":"sample_rate","category":"transaction","quantity":0},
            {"reason":"weird reason!","category":"Error","quantity":3},
            {"category":"error","quantity":4},
            {"reason":"x"}
        ]}"#;
        let got: Vec<_> = parse_client_report(report, 64)
            .unwrap()
            .into_iter()
            .map(|d| (d.reason, d.category, d.quantity))
            .collect();
        let want = vec![
            ("network_error".to_string(), "error".to_string(), 2),
            ("before_send".into(), "error".into(), 1),
            ("weird_reason_".into(), "error".into(), 3),
            ("unknown".into(), "error".into(), 4),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn tolerates_empty_and_rejects_garbage() {
        assert!(parse_client_report(b"{}", 64).unwrap().is_empty());
        assert!(parse_client_report(br#"{"discarded_events":"no"}"#, 64)
            .unwrap()
            .is_empty());
        assert_eq!(
            parse_client_report(b"nope", 64).unwrap_err().code(),
            "invalid_json"
        );
    }
}
