//! The browser SDK's event and envelope JSON, written by hand.
//!
//! Why not `serde_json` here: the protocol types are serde types and the worker uses them, but
//! in the SDK `serde_json::to_string(&Event)` cost 14.1 KB raw / 6.3 KB gzip of wasm (serde's
//! generated code plus `ryu` for the `f64` timestamp and `itoa`), measured with
//! `cargo xtask bench sdk` against this writer: about a third of the whole SDK, on every page
//! that loads it. This writer is ~1.5 KB, writes numbers without `core::fmt` (the timestamp as
//! integer milliseconds, see [`push_timestamp`]) and is tested against `serde_json` below so the
//! output stays valid JSON of the same shape.

use backstop_protocol::{Exception, Frame};

use crate::breadcrumb::Breadcrumb;
use crate::prelude::*;

/// Appends `s` as a JSON string literal (quotes included).
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or(""));
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or(""));
    out.push('"');
}

pub use backstop_protocol::envelope::push_u64;

/// Appends epoch milliseconds as epoch seconds with three decimals (`1700000000.123`), the
/// protocol's float timestamp, without float formatting.
pub fn push_timestamp(out: &mut String, epoch_ms: u64) {
    push_u64(out, epoch_ms / 1000);
    let ms = epoch_ms % 1000;
    out.push('.');
    out.push(char::from(b'0' + (ms / 100) as u8));
    out.push(char::from(b'0' + (ms / 10 % 10) as u8));
    out.push(char::from(b'0' + (ms % 10) as u8));
}

/// A tiny JSON object writer: `{"k":v,...}` with commas handled.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// Writes `"key":` and returns the buffer for the value.
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, key);
        self.out.push(':');
        self.out
    }

    /// `"key":"value"`.
    pub fn str(&mut self, key: &str, value: &str) {
        push_str(self.key(key), value);
    }

    /// `"key":"value"` when there is a value.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    /// `"key":n`.
    pub fn num(&mut self, key: &str, value: u64) {
        push_u64(self.key(key), value);
    }

    /// `"key":true|false`.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key).push_str(if value { "true" } else { "false" });
    }

    /// `"key":<raw>`; `raw` must be valid JSON.
    pub fn raw(&mut self, key: &str, raw: &str) {
        self.key(key).push_str(raw);
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

/// A `(key, value)` list kept in insertion order, replacing on equal keys; bounded by `max`.
pub fn set_pair(list: &mut Vec<(String, String)>, key: &str, value: String, max: usize) {
    if let Some(slot) = list.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value;
    } else if list.len() < max {
        list.push((key.into(), value));
    }
}

/// Everything one event is made of. Strings are already bounded by the caller; `*_json` values
/// are JSON texts (from the page's `JSON.stringify`) written as they are.
#[derive(Debug, Default)]
pub struct EventParts<'a> {
    /// 32 lowercase hex.
    pub event_id: &'a str,
    /// When it happened.
    pub epoch_ms: u64,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: &'a str,
    /// A plain message (message events).
    pub message: Option<&'a str>,
    /// Exceptions, root cause first and the caught error last (the protocol's order).
    pub exceptions: &'a [Exception],
    /// `mechanism.data.function` of the caught error (wrapped callbacks), if any.
    pub mechanism_function: Option<&'a str>,
    /// Page URL.
    pub url: &'a str,
    /// `navigator.userAgent`.
    pub user_agent: &'a str,
    /// Release option.
    pub release: Option<&'a str>,
    /// Environment option.
    pub environment: Option<&'a str>,
    /// Tags: scope tags then the hook's own.
    pub tags: &'a [(String, String)],
    /// `setUser` as JSON.
    pub user_json: Option<&'a str>,
    /// `setContext(name, json)` entries.
    pub contexts: &'a [(String, String)],
    /// `setExtra(key, json)` entries.
    pub extra: &'a [(String, String)],
    /// Breadcrumbs, oldest first.
    pub breadcrumbs: &'a [Breadcrumb],
    /// SDK name and version.
    pub sdk: (&'a str, &'a str),
    /// `debug_meta.images`: (code file, debug id) of the scripts the frames are in
    /// ([`debug_images`]).
    pub debug_images: &'a [(String, String)],
}

/// Most `_sentryDebugIds` entries read.
pub const MAX_DEBUG_IDS: usize = 200;

/// The source-map debug ids of the files the exceptions' frames are in, from the page's
/// `_sentryDebugIds` (which `sentry-cli sourcemaps inject` fills: each file's own `Error().stack`
/// → its debug id), given as `stack \u{1} id \u{2}` pairs. A stack's newest frame names the
/// file it was taken in, as `@sentry/browser` reads it.
pub fn debug_images(pairs: &str, exceptions: &[Exception]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if pairs.is_empty() {
        return out;
    }
    for pair in pairs.split('\u{2}').take(MAX_DEBUG_IDS) {
        let Some((stack, id)) = pair.split_once('\u{1}') else {
            continue;
        };
        let Some(file) = crate::stack::parse_stack(stack)
            .pop()
            .and_then(|f| f.abs_path)
        else {
            continue;
        };
        let used = exceptions.iter().any(|e| {
            e.stacktrace
                .as_ref()
                .is_some_and(|s| s.frames.iter().any(|f| f.abs_path == Some(file.clone())))
        });
        if used && !out.iter().any(|(f, _)| *f == file) {
            out.push((file, crate::sdk::truncate(id, 64).to_string()));
        }
    }
    out
}

fn push_frame(out: &mut String, f: &Frame) {
    let mut o = Obj::new(out);
    o.opt_str("function", f.function.as_deref());
    o.opt_str("filename", f.filename.as_deref());
    o.opt_str("abs_path", f.abs_path.as_deref());
    if let Some(l) = f.lineno {
        o.num("lineno", u64::from(l));
    }
    if let Some(c) = f.colno {
        o.num("colno", u64::from(c));
    }
    if let Some(a) = f.in_app {
        o.bool("in_app", a);
    }
    o.end();
}

fn push_exception(
    out: &mut String,
    e: &Exception,
    index: usize,
    chained: bool,
    function: Option<&str>,
) {
    let mut o = Obj::new(out);
    o.str("type", &e.ty);
    o.str("value", &e.value);
    if let Some(m) = &e.mechanism {
        let mut mo = Obj::new(o.key("mechanism"));
        mo.str("type", &m.ty);
        mo.bool("handled", m.handled);
        if chained {
            // Linked errors as Sentry writes them: the caught error is id 0, each cause points
            // at the error it caused.
            mo.num("exception_id", index as u64);
            if index > 0 {
                mo.str("source", "cause");
                mo.num("parent_id", index as u64 - 1);
            }
        }
        if let Some(func) = function {
            let mut d = Obj::new(mo.key("data"));
            d.str("function", func);
            d.end();
        }
        mo.end();
    }
    if let Some(st) = &e.stacktrace {
        let mut so = Obj::new(o.key("stacktrace"));
        let frames = so.key("frames");
        frames.push('[');
        for (i, f) in st.frames.iter().enumerate() {
            if i > 0 {
                frames.push(',');
            }
            push_frame(frames, f);
        }
        frames.push(']');
        so.end();
    }
    o.end();
}

fn push_map(out: &mut String, pairs: &[(String, String)], raw: bool) {
    let mut o = Obj::new(out);
    for (k, v) in pairs {
        if raw {
            o.raw(k, v);
        } else {
            o.str(k, v);
        }
    }
    o.end();
}

/// Writes the event JSON.
pub fn write_event(p: &EventParts<'_>) -> String {
    let mut out = String::with_capacity(512);
    let mut o = Obj::new(&mut out);
    o.str("event_id", p.event_id);
    push_timestamp(o.key("timestamp"), p.epoch_ms);
    o.str("platform", "javascript");
    o.str("level", p.level);
    o.opt_str("message", p.message);
    if !p.exceptions.is_empty() {
        let list = o.key("exception");
        list.push_str("{\"values\":[");
        let n = p.exceptions.len();
        for (i, e) in p.exceptions.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            // Stored root first; the caught error (id 0) is the last one.
            let id = n - 1 - i;
            let func = if id == 0 { p.mechanism_function } else { None };
            push_exception(list, e, id, n > 1, func);
        }
        list.push_str("]}");
    }
    {
        let mut r = Obj::new(o.key("request"));
        r.str("url", p.url);
        let mut h = Obj::new(r.key("headers"));
        h.str("User-Agent", p.user_agent);
        h.end();
        r.end();
    }
    o.opt_str("release", p.release);
    o.opt_str("environment", p.environment);
    if !p.tags.is_empty() {
        push_map(o.key("tags"), p.tags, false);
    }
    if let Some(u) = p.user_json {
        o.raw("user", u);
    }
    if !p.contexts.is_empty() {
        push_map(o.key("contexts"), p.contexts, true);
    }
    if !p.extra.is_empty() {
        push_map(o.key("extra"), p.extra, true);
    }
    if !p.breadcrumbs.is_empty() {
        let b = o.key("breadcrumbs");
        b.push_str("{\"values\":[");
        for (i, c) in p.breadcrumbs.iter().enumerate() {
            if i > 0 {
                b.push(',');
            }
            c.write_json(b);
        }
        b.push_str("]}");
    }
    if !p.debug_images.is_empty() {
        let d = o.key("debug_meta");
        d.push_str("{\"images\":[");
        for (i, (file, id)) in p.debug_images.iter().enumerate() {
            if i > 0 {
                d.push(',');
            }
            let mut im = Obj::new(d);
            im.str("type", "sourcemap");
            im.str("code_file", file);
            im.str("debug_id", id);
            im.end();
        }
        d.push_str("]}");
    }
    {
        let mut s = Obj::new(o.key("sdk"));
        s.str("name", p.sdk.0);
        s.str("version", p.sdk.1);
        s.end();
    }
    o.end();
    out
}

/// The envelope header line `{"event_id":..,"dsn":..,"sent_at":..}` (no newline).
pub fn envelope_header(event_id: Option<&str>, dsn: &str, sent_at: &str) -> String {
    let mut out = String::with_capacity(128);
    let mut o = Obj::new(&mut out);
    o.opt_str("event_id", event_id);
    o.str("dsn", dsn);
    o.str("sent_at", sent_at);
    o.end();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_protocol::{Mechanism, Stacktrace};

    #[test]
    fn debug_images_name_the_files_the_frames_are_in() {
        let app = "http://localhost:8000/assets/main.js";
        let exceptions = [Exception {
            ty: "TypeError".into(),
            stacktrace: Some(Stacktrace {
                frames: crate::stack::parse_stack(&format!(
                    "TypeError: x\n    at n ({app}:2:49)\n    at {app}:2:300"
                )),
            }),
            ..Exception::default()
        }];
        let injected = |file: &str| format!("Error\n    at {file}:1:151\n    at {file}:1:314");
        let pairs = format!(
            "{}\u{1}36361158-91f5-5eb9-9b86-21484ee4fb1b\u{2}{}\u{1}00000000-0000-0000-0000-000000000001\u{2}garbage\u{2}",
            injected(app),
            injected("http://localhost:8000/vendor.js"),
        );
        let images = debug_images(&pairs, &exceptions);
        assert_eq!(
            images,
            vec![(
                app.to_string(),
                "36361158-91f5-5eb9-9b86-21484ee4fb1b".to_string()
            )],
            "only files a frame is in, once"
        );
        let body = write_event(&EventParts {
            event_id: "ab",
            level: "error",
            exceptions: &exceptions,
            debug_images: &images,
            ..EventParts::default()
        });
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["debug_meta"]["images"][0],
            serde_json::json!({"type": "sourcemap", "code_file": app, "debug_id": "36361158-91f5-5eb9-9b86-21484ee4fb1b"})
        );
        assert!(debug_images("", &exceptions).is_empty());
    }

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("invalid JSON {e}: {s}"))
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        let cases = [
            "plain",
            "quote \" and \\ backslash",
            "new\nline\rtab\t",
            "ctrl \u{1} \u{1f} end",
            "unicode é 😀 \u{2028}",
            "",
        ];
        for s in cases {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(
                json(&out),
                serde_json::Value::String(s.into()),
                "case {s:?}"
            );
        }
    }

    #[test]
    fn numbers_and_timestamps() {
        let mut out = String::new();
        push_u64(&mut out, 0);
        out.push(' ');
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, "0 18446744073709551615");
        let cases = [
            (1_700_000_000_123, "1700000000.123"),
            (5, "0.005"),
            (1_000, "1.000"),
            (42_050, "42.050"),
        ];
        for (ms, want) in cases {
            let mut out = String::new();
            push_timestamp(&mut out, ms);
            assert_eq!(out, want, "case {ms}");
        }
    }

    #[test]
    fn pairs_replace_and_stay_bounded() {
        let mut list = Vec::new();
        set_pair(&mut list, "a", "1".into(), 2);
        set_pair(&mut list, "b", "2".into(), 2);
        set_pair(&mut list, "a", "3".into(), 2);
        set_pair(&mut list, "c", "4".into(), 2);
        assert_eq!(
            list,
            vec![("a".to_string(), "3".to_string()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn full_event_is_valid_json_with_linked_causes() {
        let frame = Frame {
            function: Some("f".into()),
            filename: Some("http://a/x.js".into()),
            abs_path: Some("http://a/x.js".into()),
            lineno: Some(3),
            colno: Some(9),
            in_app: Some(true),
        };
        let exc = |ty: &str, value: &str| Exception {
            ty: ty.into(),
            value: value.into(),
            mechanism: Some(Mechanism {
                ty: "onerror".into(),
                handled: false,
            }),
            stacktrace: Some(Stacktrace {
                frames: vec![frame.clone()],
            }),
        };
        let exceptions = [exc("RootError", "root"), exc("TypeError", "top \"q\"")];
        let crumbs = [Breadcrumb::new(
            1_000,
            "ui.click",
            "info",
            "button#go".into(),
        )];
        let tags = [("t".to_string(), "v".to_string())];
        let contexts = [("app".to_string(), "{\"x\":1}".to_string())];
        let extra = [("n".to_string(), "[1,2]".to_string())];
        let body = write_event(&EventParts {
            event_id: "ab",
            epoch_ms: 1_700_000_000_500,
            level: "error",
            message: None,
            exceptions: &exceptions,
            mechanism_function: Some("setTimeout"),
            url: "http://a/",
            user_agent: "UA",
            release: Some("r@1"),
            environment: None,
            tags: &tags,
            user_json: Some("{\"id\":\"u1\"}"),
            contexts: &contexts,
            extra: &extra,
            breadcrumbs: &crumbs,
            sdk: ("backstop.browser", "0.1.0"),
            debug_images: &[],
        });
        let v = json(&body);
        assert_eq!(v["timestamp"].as_f64(), Some(1_700_000_000.5));
        let values = v["exception"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(values[0]["type"], "RootError", "root cause first");
        assert_eq!(values[0]["mechanism"]["source"], "cause");
        assert_eq!(values[0]["mechanism"]["exception_id"], 1);
        assert_eq!(values[0]["mechanism"]["parent_id"], 0);
        assert_eq!(values[1]["mechanism"]["exception_id"], 0);
        assert!(values[1]["mechanism"].get("parent_id").is_none());
        assert_eq!(values[1]["mechanism"]["data"]["function"], "setTimeout");
        assert_eq!(values[1]["value"], "top \"q\"");
        assert_eq!(values[1]["stacktrace"]["frames"][0]["lineno"], 3);
        assert_eq!(v["user"]["id"], "u1");
        assert_eq!(v["contexts"]["app"]["x"], 1);
        assert_eq!(v["extra"]["n"][1], 2);
        assert_eq!(v["tags"]["t"], "v");
        assert_eq!(v["breadcrumbs"]["values"][0]["message"], "button#go");
        assert_eq!(v["request"]["headers"]["User-Agent"], "UA");
        assert!(v.get("environment").is_none());
        assert!(v.get("message").is_none());

        let single = write_event(&EventParts {
            event_id: "cd",
            level: "info",
            message: Some("hi"),
            sdk: ("s", "1"),
            ..EventParts::default()
        });
        let v = json(&single);
        assert_eq!(v["message"], "hi");
        assert!(v.get("exception").is_none() && v.get("breadcrumbs").is_none());
        let header = envelope_header(Some("ab"), "http://k@h/1", "2026-01-01T00:00:00.000Z");
        assert_eq!(json(&header)["dsn"], "http://k@h/1");
        assert!(json(&envelope_header(None, "d", "s"))
            .get("event_id")
            .is_none());
    }
}
