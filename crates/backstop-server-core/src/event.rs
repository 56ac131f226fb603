//! Reading events leniently, as Sentry SDKs send them, into the summary Backstop indexes.
//!
//! Accepted variants: `message` as a string or `{formatted|message, params}`, `exception` as
//! `{values: [...]}` or a list, `tags` as an object or a list of pairs, `timestamp` as RFC 3339
//! or epoch seconds. The raw payload is kept as received (plus `event_id` when generated), so
//! unknown fields survive.

use std::collections::BTreeMap;

use backstop_protocol::Frame;
use serde::Serialize;
use serde_json::Value;

use crate::error::IngestError;
use crate::fingerprint::{culprit, fingerprint, title};
use crate::time::parse_rfc3339_ms;

/// Longest string kept in an index field (characters); the raw payload keeps everything.
pub const MAX_FIELD_CHARS: usize = 1024;
/// Most frames kept in the summary.
pub const MAX_FRAMES: usize = 100;
/// Most tags kept in the summary.
pub const MAX_TAGS: usize = 50;

/// Parses JSON after checking its nesting depth without recursion, so hostile input can neither
/// overflow the stack nor make serde work hard.
pub fn parse_json_bounded(bytes: &[u8], max_depth: usize) -> Result<Value, IngestError> {
    check_depth(bytes, max_depth)?;
    serde_json::from_slice(bytes).map_err(|e| IngestError::InvalidJson(e.to_string()))
}

fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), IngestError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(IngestError::TooDeep { limit: max_depth });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What Backstop indexes about an event (one D1 row) and shows in the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventSummary {
    /// 32 lowercase hex.
    pub event_id: String,
    /// When it happened (epoch ms), from the event or the receive time.
    pub timestamp: u64,
    /// `fatal`, `error`, `warning`, `info`, `debug`.
    pub level: String,
    /// How it was captured: the mechanism (`onerror`, `onunhandledrejection`, `fetch`...),
    /// else `exception` or `message`.
    pub kind: String,
    /// Exception type, empty for messages.
    #[serde(rename = "type")]
    pub exc_type: String,
    /// Exception value, else the message.
    pub message: String,
    /// The page or request URL.
    pub url: String,
    /// Release.
    pub release: String,
    /// Environment.
    pub environment: String,
    /// `user.email`.
    pub user_email: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Frames of the main exception, oldest first.
    pub frames: Vec<Frame>,
    /// Issue title.
    pub title: String,
    /// Where it happened (top in-app frame).
    pub culprit: String,
    /// Grouping key.
    pub fingerprint: String,
}

/// A normalised event: its summary and the payload to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedEvent {
    /// The index fields.
    pub summary: EventSummary,
    /// The raw event object (with `event_id` set).
    pub payload: Value,
}

/// Reads one event payload. `fallback_id` is used when the event has no valid `event_id`
/// (the caller generates it); `received_ms` when it has no valid timestamp.
pub fn normalize_event(
    payload: &[u8],
    fallback_id: &str,
    received_ms: u64,
    max_depth: usize,
) -> Result<NormalizedEvent, IngestError> {
    summarize_event(
        parse_json_bounded(payload, max_depth)?,
        fallback_id,
        received_ms,
    )
}

/// Builds the index fields (grouping included) of an already parsed event. Processing that
/// rewrites the payload (scrubbing, symbolication) calls it again, so the issue an event
/// lands in follows what is stored, not what arrived.
pub fn summarize_event(
    mut value: Value,
    fallback_id: &str,
    received_ms: u64,
) -> Result<NormalizedEvent, IngestError> {
    let Some(obj) = value.as_object_mut() else {
        return Err(IngestError::InvalidEvent(
            "an event must be a JSON object".into(),
        ));
    };
    let event_id = obj
        .get("event_id")
        .and_then(Value::as_str)
        .and_then(normalize_event_id)
        .unwrap_or_else(|| fallback_id.to_ascii_lowercase());
    obj.insert("event_id".into(), Value::String(event_id.clone()));
    let value = value;

    let timestamp = match value.get("timestamp") {
        Some(Value::Number(n)) => n.as_f64().and_then(epoch_secs_to_ms),
        Some(Value::String(s)) => {
            parse_rfc3339_ms(s).or_else(|| s.parse::<f64>().ok().and_then(epoch_secs_to_ms))
        }
        _ => None,
    }
    .unwrap_or(received_ms);

    let exception = main_exception(&value);
    let exc_type = exception
        .and_then(|e| str_at(e, "type"))
        .unwrap_or_default();
    let exc_value = exception
        .and_then(|e| str_at(e, "value"))
        .unwrap_or_default();
    let message = message_text(&value);
    let frames = exception
        .and_then(|e| e.get("stacktrace"))
        .or_else(|| value.get("stacktrace"))
        .map(read_frames)
        .unwrap_or_default();
    let mechanism = exception
        .and_then(|e| e.get("mechanism"))
        .and_then(|m| str_at(m, "type"));
    let feedback = value
        .get("contexts")
        .and_then(|c| c.get("feedback"))
        .filter(|f| f.is_object());
    let is_transaction = value.get("type").and_then(Value::as_str) == Some("transaction");
    // Sentry SDKs attach a synthetic exception (only a stack) to messages: still a message.
    let synthetic = exception
        .and_then(|e| e.get("mechanism"))
        .and_then(|m| m.get("synthetic"))
        .and_then(Value::as_bool)
        == Some(true);
    let kind = match (mechanism, exception.is_some()) {
        _ if feedback.is_some() => "feedback".into(),
        _ if synthetic && !message.is_empty() => "message".into(),
        _ if is_transaction => "transaction".into(),
        (Some(m), _) if !m.is_empty() => m,
        (_, true) => "exception".into(),
        _ => "message".into(),
    };
    let message = match (message.is_empty(), feedback) {
        (true, Some(f)) => str_at(f, "message").unwrap_or_default(),
        (true, None) if is_transaction => str_at(&value, "transaction").unwrap_or_default(),
        _ => message,
    };
    let level = str_at(&value, "level")
        .filter(|l| matches!(l.as_str(), "fatal" | "error" | "warning" | "info" | "debug"))
        .unwrap_or_else(|| "error".into());
    let shown_message = if exc_value.is_empty() {
        message.clone()
    } else {
        exc_value.clone()
    };
    let custom: Option<Vec<String>> = value.get("fingerprint").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(|s| truncate(s, 200)))
            .take(20)
            .collect()
    });
    let custom = custom.filter(|c| !c.is_empty() && !c.iter().any(|s| s == "{{ default }}"));

    let summary = EventSummary {
        event_id,
        timestamp,
        level,
        kind: truncate(&kind, 64),
        fingerprint: fingerprint(
            &exc_type,
            &frames,
            &message_or(&exc_value, &message),
            custom.as_deref(),
        ),
        title: title(&exc_type, &shown_message),
        culprit: culprit(&frames),
        exc_type,
        message: shown_message,
        url: value
            .get("request")
            .and_then(|r| str_at(r, "url"))
            .unwrap_or_default(),
        release: str_at(&value, "release").unwrap_or_default(),
        environment: str_at(&value, "environment").unwrap_or_default(),
        user_email: value
            .get("user")
            .and_then(|u| str_at(u, "email"))
            .or_else(|| feedback.and_then(|f| str_at(f, "contact_email")))
            .unwrap_or_default(),
        tags: read_tags(value.get("tags")),
        frames,
    };
    Ok(NormalizedEvent {
        summary,
        payload: value,
    })
}

/// Epoch seconds (a float with millisecond decimals, as SDKs send it) to epoch milliseconds.
/// Rounded, not truncated: `1075693522.748` is `1075693522747.9999` once multiplied, and the
/// SDK meant `...748`.
fn epoch_secs_to_ms(secs: f64) -> Option<u64> {
    (secs.is_finite() && secs > 0.0).then(|| (secs * 1000.0).round() as u64)
}

fn message_or(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        a.to_string()
    }
}

/// Reads a legacy `user_report` item (`{event_id, name, email, comments}`) as a feedback event
/// with its own id, tagged with the event it is about.
pub fn normalize_user_report(
    payload: &[u8],
    own_id: &str,
    received_ms: u64,
    max_depth: usize,
) -> Result<NormalizedEvent, IngestError> {
    let v = parse_json_bounded(payload, max_depth)?;
    if !v.is_object() {
        return Err(IngestError::InvalidEvent(
            "a user_report must be a JSON object".into(),
        ));
    }
    let mut feedback = serde_json::Map::new();
    for (from, to) in [
        ("comments", "message"),
        ("email", "contact_email"),
        ("name", "name"),
    ] {
        if let Some(text) = str_at(&v, from) {
            feedback.insert(to.into(), Value::String(text));
        }
    }
    let mut event = serde_json::json!({ "level": "info", "contexts": { "feedback": feedback } });
    if let Some(associated) = v
        .get("event_id")
        .and_then(Value::as_str)
        .and_then(normalize_event_id)
    {
        event["contexts"]["feedback"]["associated_event_id"] = Value::String(associated.clone());
        event["tags"] = serde_json::json!({ "associated_event_id": associated });
    }
    normalize_event(event.to_string().as_bytes(), own_id, received_ms, max_depth)
}

/// Accepts 32 hex digits, with or without dashes, in any case.
pub fn normalize_event_id(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A string field, truncated; numbers and booleans are shown as text.
fn str_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(truncate(s, MAX_FIELD_CHARS)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The exception the event is about: the last of `exception.values` (Sentry's order puts the
/// outermost, the one that was thrown, last).
fn main_exception(event: &Value) -> Option<&Value> {
    let list = match event.get("exception")? {
        Value::Array(a) => a,
        obj @ Value::Object(_) => match obj.get("values") {
            Some(Value::Array(a)) => a,
            _ => return Some(obj).filter(|o| o.get("type").is_some() || o.get("value").is_some()),
        },
        _ => return None,
    };
    list.iter().rev().find(|v| v.is_object())
}

fn message_text(event: &Value) -> String {
    let from_message = match event.get("message") {
        Some(Value::String(s)) => Some(truncate(s, MAX_FIELD_CHARS)),
        Some(m @ Value::Object(_)) => str_at(m, "formatted").or_else(|| str_at(m, "message")),
        _ => None,
    };
    from_message
        .or_else(|| {
            event
                .get("logentry")
                .and_then(|m| str_at(m, "formatted").or_else(|| str_at(m, "message")))
        })
        .unwrap_or_default()
}

fn read_frames(stacktrace: &Value) -> Vec<Frame> {
    let Some(frames) = stacktrace.get("frames").and_then(Value::as_array) else {
        return Vec::new();
    };
    // Keep the newest frames when there are too many (they are at the end).
    let skip = frames.len().saturating_sub(MAX_FRAMES);
    frames
        .iter()
        .skip(skip)
        .filter(|f| f.is_object())
        .map(|f| Frame {
            function: str_at(f, "function"),
            filename: str_at(f, "filename").or_else(|| str_at(f, "abs_path")),
            abs_path: str_at(f, "abs_path"),
            lineno: f
                .get("lineno")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            colno: f
                .get("colno")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            in_app: f.get("in_app").and_then(Value::as_bool),
        })
        .collect()
}

fn read_tags(tags: Option<&Value>) -> BTreeMap<String, String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(truncate(s, 200)),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    let pairs: Vec<(String, String)> = match tags {
        Some(Value::Object(o)) => o
            .iter()
            .filter_map(|(k, v)| Some((truncate(k, 200), text(v)?)))
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                Some((text(p.first()?)?, text(p.get(1)?)?))
            })
            .collect(),
        _ => Vec::new(),
    };
    pairs.into_iter().take(MAX_TAGS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn norm(json: &str) -> EventSummary {
        normalize_event(json.as_bytes(), ID, 1_000, 64)
            .unwrap()
            .summary
    }

    #[test]
    fn reads_sentry_variants() {
        let cases: Vec<(&str, &str, fn(&EventSummary) -> String, &str)> = vec![
            (
                "message string",
                r#"{"message":"hi"}"#,
                |s| s.message.clone(),
                "hi",
            ),
            (
                "message object formatted",
                r#"{"message":{"formatted":"a 1","message":"a %s","params":[1]}}"#,
                |s| s.message.clone(),
                "a 1",
            ),
            (
                "message object raw",
                r#"{"message":{"message":"a %s"}}"#,
                |s| s.message.clone(),
                "a %s",
            ),
            (
                "logentry",
                r#"{"logentry":{"formatted":"x"}}"#,
                |s| s.message.clone(),
                "x",
            ),
            (
                "exception values",
                r#"{"exception":{"values":[{"type":"Inner","value":"i"},{"type":"TypeError","value":"x is undefined"}]}}"#,
                |s| format!("{}|{}", s.exc_type, s.message),
                "TypeError|x is undefined",
            ),
            (
                "exception list",
                r#"{"exception":[{"type":"E","value":"v"}]}"#,
                |s| s.exc_type.clone(),
                "E",
            ),
            (
                "exception single object",
                r#"{"exception":{"type":"E","value":"v"}}"#,
                |s| s.exc_type.clone(),
                "E",
            ),
            (
                "mechanism is kind",
                r#"{"exception":{"values":[{"type":"E","mechanism":{"type":"onerror","handled":false}}]}}"#,
                |s| s.kind.clone(),
                "onerror",
            ),
            (
                "exception kind",
                r#"{"exception":[{"type":"E"}]}"#,
                |s| s.kind.clone(),
                "exception",
            ),
            (
                "message kind",
                r#"{"message":"m"}"#,
                |s| s.kind.clone(),
                "message",
            ),
            (
                "timestamp float",
                r#"{"timestamp":1795341600.5}"#,
                |s| s.timestamp.to_string(),
                "1795341600500",
            ),
            (
                "timestamp float whose product falls just under the millisecond",
                r#"{"timestamp":1075693522.748}"#,
                |s| s.timestamp.to_string(),
                "1075693522748",
            ),
            (
                "timestamp float as a string, same rounding",
                r#"{"timestamp":"1075693522.748"}"#,
                |s| s.timestamp.to_string(),
                "1075693522748",
            ),
            (
                "timestamp rfc3339",
                r#"{"timestamp":"2026-11-22T10:00:00Z"}"#,
                |s| s.timestamp.to_string(),
                "1795341600000",
            ),
            (
                "timestamp missing",
                r#"{}"#,
                |s| s.timestamp.to_string(),
                "1000",
            ),
            (
                "timestamp garbage",
                r#"{"timestamp":"soon"}"#,
                |s| s.timestamp.to_string(),
                "1000",
            ),
            (
                "tags object",
                r#"{"tags":{"a":"1","n":2}}"#,
                |s| format!("{:?}", s.tags),
                r#"{"a": "1", "n": "2"}"#,
            ),
            (
                "tags pairs",
                r#"{"tags":[["a","1"],["b","2"],["bad"]]}"#,
                |s| format!("{:?}", s.tags),
                r#"{"a": "1", "b": "2"}"#,
            ),
            (
                "level kept",
                r#"{"level":"warning"}"#,
                |s| s.level.clone(),
                "warning",
            ),
            (
                "bad level",
                r#"{"level":"catastrophic"}"#,
                |s| s.level.clone(),
                "error",
            ),
            (
                "user email and url",
                r#"{"user":{"email":"a@b.c"},"request":{"url":"http://x/"}}"#,
                |s| format!("{} {}", s.user_email, s.url),
                "a@b.c http://x/",
            ),
            (
                "event id kept",
                r#"{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC"}"#,
                |s| s.event_id.clone(),
                "9ec79c33ec9942ab8353589fcb2e04dc",
            ),
            (
                "event id generated",
                r#"{"event_id":"nope"}"#,
                |s| s.event_id.clone(),
                ID,
            ),
            (
                "frames",
                r#"{"exception":{"values":[{"type":"E","stacktrace":{"frames":[{"function":"a","filename":"http://x/app.js","lineno":1,"colno":2,"in_app":true},"junk"]}}]}}"#,
                |s| {
                    format!(
                        "{:?}",
                        s.frames
                            .iter()
                            .map(|f| (f.function.clone(), f.lineno))
                            .collect::<Vec<_>>()
                    )
                },
                r#"[(Some("a"), Some(1))]"#,
            ),
        ];
        for (name, json, get, want) in cases {
            assert_eq!(get(&norm(json)), want, "{name}");
        }
    }

    #[test]
    fn a_synthetic_exception_on_a_message_is_still_a_message() {
        let s = norm(
            r#"{"message":"msg one","exception":{"values":[{"value":"msg one","mechanism":{"type":"generic","synthetic":true,"handled":true}}]}}"#,
        );
        assert_eq!(
            (s.kind.as_str(), s.title.as_str(), s.exc_type.as_str()),
            ("message", "msg one", "")
        );
    }

    #[test]
    fn reads_feedback_and_transactions() {
        let s = norm(
            r#"{"type":"feedback","contexts":{"feedback":{"message":"Checkout is broken","contact_email":"a@b.c","name":"Ann"}}}"#,
        );
        assert_eq!(
            (
                s.kind.as_str(),
                s.message.as_str(),
                s.user_email.as_str(),
                s.title.as_str()
            ),
            (
                "feedback",
                "Checkout is broken",
                "a@b.c",
                "Checkout is broken"
            )
        );
        let s = norm(r#"{"type":"transaction","transaction":"/checkout"}"#);
        assert_eq!(
            (s.kind.as_str(), s.message.as_str()),
            ("transaction", "/checkout")
        );
        let r = normalize_user_report(br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","name":"Ann","email":"a@b.c","comments":"It broke"}"#, ID, 5, 64).unwrap();
        assert_eq!(
            (
                r.summary.kind.as_str(),
                r.summary.message.as_str(),
                r.summary.user_email.as_str()
            ),
            ("feedback", "It broke", "a@b.c")
        );
        assert_eq!(r.summary.event_id, ID);
        assert_eq!(
            r.summary
                .tags
                .get("associated_event_id")
                .map(String::as_str),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert!(normalize_user_report(b"[]", ID, 5, 64).is_err());
    }

    #[test]
    fn keeps_unknown_fields_and_sets_event_id() {
        let n = normalize_event(br#"{"custom":{"deep":[1,2]},"message":"m"}"#, ID, 0, 64).unwrap();
        assert_eq!(n.payload["custom"]["deep"][1], 2);
        assert_eq!(n.payload["event_id"], ID);
    }

    #[test]
    fn rejects_non_events() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"[]", "invalid_event"),
            (b"\"x\"", "invalid_event"),
            (b"{", "invalid_json"),
            (b"", "invalid_json"),
        ];
        for (body, code) in cases {
            assert_eq!(
                normalize_event(body, ID, 0, 64).unwrap_err().code(),
                code,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            normalize_event(deep.as_bytes(), ID, 0, 64)
                .unwrap_err()
                .code(),
            "too_deep"
        );
        let ok_deep = format!("{{\"a\":{}{}}}", "[".repeat(63), "]".repeat(63));
        assert!(normalize_event(ok_deep.as_bytes(), ID, 0, 64).is_ok());
        let brackets_in_strings =
            format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
        assert!(normalize_event(brackets_in_strings.as_bytes(), ID, 0, 64).is_ok());
    }

    #[test]
    fn truncates_long_fields_on_char_boundaries() {
        let long = "é".repeat(5_000);
        let s = norm(&format!(r#"{{"message":"{long}"}}"#));
        assert_eq!(s.message.chars().count(), MAX_FIELD_CHARS + 1);
    }
}
