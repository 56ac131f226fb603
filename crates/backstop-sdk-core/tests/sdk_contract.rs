//! Property tests of the browser SDK's hand-written JSON and of the SDK→server contract.
//!
//! The SDK writes event JSON without serde (see `sdk_event.rs` for why), so nothing but these
//! tests keeps it valid: any string (control characters, quotes, backslashes, any non-surrogate
//! code point) and any number must come back from `serde_json` as written, and an event the SDK
//! builds must read back through the server's envelope parser and event normaliser with the
//! same message, exception, tags and user.

use std::collections::BTreeMap;

use backstop_protocol::envelope::write_single_item;
use backstop_protocol::{Exception, Frame, Mechanism, Stacktrace};
use backstop_sdk_core::breadcrumb::Breadcrumb;
use backstop_sdk_core::sdk_event::{
    envelope_header, push_str, push_timestamp, push_u64, write_event, EventParts,
};
use backstop_server_core::config::Limits;
use backstop_server_core::envelope::parse_envelope;
use backstop_server_core::event::normalize_event;
use backstop_server_core::item::ItemType;
use proptest::prelude::*;
use serde_json::Value;

/// Few cases by default: these run in the unit step, which must stay fast. `PROPTEST_CASES=10000
/// cargo test -p backstop-sdk-core --test sdk_contract` explores more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // A failure is minimised and printed; a regressions file in the tree would be noise.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that stresses JSON escaping: control characters, quotes, backslashes and the separators
/// JavaScript treats specially, mixed with any other Unicode scalar value.
fn text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => any::<char>(),
        2 => prop::char::range('\0', '\u{1f}'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => Just('\u{7f}'),
        1 => Just('\u{2028}'),
        1 => Just('\u{2029}'),
        1 => Just('\u{feff}'),
    ];
    prop::collection::vec(c, 0..max).prop_map(|v| v.into_iter().collect())
}

fn parse(json: &str) -> Result<Value, TestCaseError> {
    serde_json::from_str(json)
        .map_err(|e| TestCaseError::fail(format!("invalid JSON ({e}): {json}")))
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        prop::option::of(text(24)),
        prop::option::of(text(24)),
        prop::option::of(1u32..),
        prop::option::of(1u32..),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(function, filename, lineno, colno, in_app)| Frame {
            function,
            abs_path: filename.clone(),
            filename,
            lineno,
            colno,
            in_app,
        })
}

fn exception() -> impl Strategy<Value = Exception> {
    (
        text(24),
        text(48),
        prop::option::of((text(12), any::<bool>())),
        prop::option::of(prop::collection::vec(frame(), 0..5)),
    )
        .prop_map(|(ty, value, mechanism, frames)| Exception {
            ty,
            value,
            mechanism: mechanism.map(|(ty, handled)| Mechanism { ty, handled }),
            stacktrace: frames.map(|frames| Stacktrace { frames }),
        })
}

/// Everything an event is built from, owned (`EventParts` borrows).
#[derive(Debug, Clone)]
struct Parts {
    event_id: String,
    epoch_ms: u64,
    level: &'static str,
    message: Option<String>,
    exceptions: Vec<Exception>,
    mechanism_function: Option<String>,
    url: String,
    user_agent: String,
    release: Option<String>,
    environment: Option<String>,
    tags: Vec<(String, String)>,
    user: Option<(String, String)>,
    contexts: Vec<(String, String)>,
    extra: Vec<(String, String)>,
    breadcrumbs: Vec<(u64, String, String)>,
}

/// Up to year 2100; 0 is "no timestamp" to the server.
const MAX_EPOCH_MS: u64 = 4_102_444_800_000;

fn parts() -> impl Strategy<Value = Parts> {
    let head = (
        any::<[u8; 16]>().prop_map(backstop_sdk_core::sdk::event_id_from_bytes),
        1..MAX_EPOCH_MS,
        prop::sample::select(vec!["fatal", "error", "warning", "info", "debug"]),
        prop::option::of(text(48)),
        prop::collection::vec(exception(), 0..4),
        prop::option::of(text(12)),
        text(32),
        text(32),
    );
    let tail = (
        prop::option::of(text(16)),
        prop::option::of(text(16)),
        // Distinct keys, as the SDK's `set_pair` keeps them.
        prop::collection::btree_map(text(16), text(32), 0..8),
        prop::option::of((text(16), text(24))),
        prop::collection::btree_map(text(8), text(16), 0..3),
        prop::collection::btree_map(text(8), text(16), 0..3),
        prop::collection::vec((1..MAX_EPOCH_MS, text(12), text(24)), 0..3),
    );
    (head, tail).prop_map(
        |(
            (event_id, epoch_ms, level, message, exceptions, mechanism_function, url, user_agent),
            (release, environment, tags, user, contexts, extra, breadcrumbs),
        )| {
            // Raw JSON values, as the page's `JSON.stringify` gives them. Context names get a
            // prefix: `feedback` is a context with meaning to the server.
            let raw = |m: BTreeMap<String, String>, prefix: &str| {
                m.into_iter()
                    .map(|(k, v)| (format!("{prefix}{k}"), Value::String(v).to_string()))
                    .collect()
            };
            Parts {
                event_id,
                epoch_ms,
                level,
                message,
                exceptions,
                mechanism_function,
                url,
                user_agent,
                release,
                environment,
                tags: tags.into_iter().collect(),
                user,
                contexts: raw(contexts, "ctx."),
                extra: raw(extra, ""),
                breadcrumbs,
            }
        },
    )
}

fn user_json(user: &(String, String)) -> String {
    serde_json::json!({ "id": user.0, "email": user.1 }).to_string()
}

fn write(p: &Parts) -> String {
    let crumbs: Vec<Breadcrumb> = p
        .breadcrumbs
        .iter()
        .map(|(at, category, message)| Breadcrumb::new(*at, category, "info", message.clone()))
        .collect();
    let user = p.user.as_ref().map(user_json);
    write_event(&EventParts {
        event_id: &p.event_id,
        epoch_ms: p.epoch_ms,
        level: p.level,
        message: p.message.as_deref(),
        exceptions: &p.exceptions,
        mechanism_function: p.mechanism_function.as_deref(),
        url: &p.url,
        user_agent: &p.user_agent,
        release: p.release.as_deref(),
        environment: p.environment.as_deref(),
        tags: &p.tags,
        user_json: user.as_deref(),
        contexts: &p.contexts,
        extra: &p.extra,
        breadcrumbs: &crumbs,
        sdk: ("backstop.browser", "0.1.0"),
        debug_images: &[],
    })
}

fn opt_str(v: &Value) -> Option<&str> {
    v.as_str()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn strings_round_trip_through_serde_json(s in text(64)) {
        let mut out = String::new();
        push_str(&mut out, &s);
        prop_assert_eq!(parse(&out)?, Value::String(s));
    }

    #[test]
    fn any_string_round_trips(s in any::<String>()) {
        let mut out = String::new();
        push_str(&mut out, &s);
        prop_assert_eq!(parse(&out)?, Value::String(s));
    }

    #[test]
    fn numbers_and_timestamps_round_trip(n in any::<u64>(), ms in 0..MAX_EPOCH_MS) {
        let mut out = String::new();
        push_u64(&mut out, n);
        prop_assert_eq!(parse(&out)?.as_u64(), Some(n));
        let mut ts = String::new();
        push_timestamp(&mut ts, ms);
        prop_assert_eq!(&ts, &format!("{}.{:03}", ms / 1000, ms % 1000));
        prop_assert!(parse(&ts)?.is_f64());
    }

    #[test]
    fn sdk_event_json_parses_with_the_values_written(p in parts()) {
        let v = parse(&write(&p))?;
        prop_assert_eq!(opt_str(&v["event_id"]), Some(p.event_id.as_str()));
        prop_assert_eq!(opt_str(&v["level"]), Some(p.level));
        prop_assert_eq!(opt_str(&v["message"]), p.message.as_deref());
        prop_assert_eq!(opt_str(&v["request"]["url"]), Some(p.url.as_str()));
        prop_assert_eq!(
            opt_str(&v["request"]["headers"]["User-Agent"]),
            Some(p.user_agent.as_str())
        );
        prop_assert_eq!(opt_str(&v["release"]), p.release.as_deref());
        prop_assert_eq!(opt_str(&v["environment"]), p.environment.as_deref());
        let values = v["exception"]["values"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(values.len(), p.exceptions.len());
        for (got, want) in values.iter().zip(&p.exceptions) {
            prop_assert_eq!(opt_str(&got["type"]), Some(want.ty.as_str()));
            prop_assert_eq!(opt_str(&got["value"]), Some(want.value.as_str()));
            if let Some(m) = &want.mechanism {
                prop_assert_eq!(opt_str(&got["mechanism"]["type"]), Some(m.ty.as_str()));
                prop_assert_eq!(got["mechanism"]["handled"].as_bool(), Some(m.handled));
            }
            let frames = want.stacktrace.as_ref().map_or(&[][..], |s| &s.frames[..]);
            for (i, f) in frames.iter().enumerate() {
                let g = &got["stacktrace"]["frames"][i];
                prop_assert_eq!(opt_str(&g["function"]), f.function.as_deref());
                prop_assert_eq!(opt_str(&g["filename"]), f.filename.as_deref());
                prop_assert_eq!(g["lineno"].as_u64(), f.lineno.map(u64::from));
                prop_assert_eq!(g["colno"].as_u64(), f.colno.map(u64::from));
                prop_assert_eq!(g["in_app"].as_bool(), f.in_app);
            }
        }
        for (k, val) in &p.tags {
            prop_assert_eq!(opt_str(&v["tags"][k.as_str()]), Some(val.as_str()));
        }
        if let Some((id, email)) = &p.user {
            prop_assert_eq!(opt_str(&v["user"]["id"]), Some(id.as_str()));
            prop_assert_eq!(opt_str(&v["user"]["email"]), Some(email.as_str()));
        }
        for (k, raw) in &p.contexts {
            prop_assert_eq!(&v["contexts"][k.as_str()], &parse(raw)?);
        }
        for (k, raw) in &p.extra {
            prop_assert_eq!(&v["extra"][k.as_str()], &parse(raw)?);
        }
        let crumbs = v["breadcrumbs"]["values"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(crumbs.len(), p.breadcrumbs.len());
        for (got, (_, category, message)) in crumbs.iter().zip(&p.breadcrumbs) {
            prop_assert_eq!(opt_str(&got["category"]), Some(category.as_str()));
            prop_assert_eq!(opt_str(&got["message"]), Some(message.as_str()));
        }
    }

    #[test]
    fn server_reads_back_what_the_sdk_sent(p in parts()) {
        let body = write(&p);
        let header = envelope_header(
            Some(&p.event_id),
            "http://d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0@127.0.0.1:8787/1",
            "2026-01-01T00:00:00.000Z",
        );
        let envelope = write_single_item(&header, "event", &body);
        let parsed = parse_envelope(envelope.as_bytes(), &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("envelope refused: {e}")))?;
        prop_assert_eq!(parsed.event_id(), Some(p.event_id.as_str()));
        prop_assert_eq!(parsed.items.len(), 1);
        let item = &parsed.items[0];
        prop_assert_eq!(&item.kind, &ItemType::Event);
        prop_assert_eq!(item.payload, body.as_bytes());
        let fallback = "ffffffffffffffffffffffffffffffff";
        let event = normalize_event(item.payload, fallback, 1, 64)
            .map_err(|e| TestCaseError::fail(format!("event refused: {e}")))?;
        let s = event.summary;

        prop_assert_eq!(&s.event_id, &p.event_id);
        prop_assert_eq!(s.timestamp, p.epoch_ms, "the SDK's millisecond timestamp");
        prop_assert_eq!(s.level.as_str(), p.level);
        // The server shows the caught error (the last one) or else the message.
        let main = p.exceptions.last();
        prop_assert_eq!(&s.exc_type, &main.map(|e| e.ty.clone()).unwrap_or_default());
        let shown = match main {
            Some(e) if !e.value.is_empty() => e.value.clone(),
            _ => p.message.clone().unwrap_or_default(),
        };
        prop_assert_eq!(&s.message, &shown);
        let kind = match main {
            Some(e) => match &e.mechanism {
                Some(m) if !m.ty.is_empty() => m.ty.clone(),
                _ => "exception".into(),
            },
            None => "message".into(),
        };
        prop_assert_eq!(&s.kind, &kind);
        let frames = main
            .and_then(|e| e.stacktrace.as_ref())
            .map(|st| st.frames.clone())
            .unwrap_or_default();
        prop_assert_eq!(&s.frames, &frames);
        let tags: BTreeMap<String, String> = p.tags.iter().cloned().collect();
        prop_assert_eq!(&s.tags, &tags);
        prop_assert_eq!(
            &s.user_email,
            &p.user.as_ref().map(|u| u.1.clone()).unwrap_or_default()
        );
        prop_assert_eq!(&s.url, &p.url);
        prop_assert_eq!(&s.release, &p.release.clone().unwrap_or_default());
        prop_assert_eq!(&s.environment, &p.environment.clone().unwrap_or_default());
    }
}
