//! Rules the browser SDK applies: how many events a page may send, which fetch outcomes are
//! worth an event, which requests are the SDK's own, how values are bounded. Pure and natively
//! tested; `backstop-browser` only turns JS values into these inputs.

use core::cell::Cell;

use crate::prelude::*;

/// Default cap on events one page load may send.
pub const DEFAULT_MAX_EVENTS: u32 = 100;
/// Default lowest HTTP status of a `fetch` response that is reported (server errors).
pub const DEFAULT_FETCH_STATUS_MIN: u16 = 500;
/// Bodies in flight with `keepalive` stay under this many bytes all together (the stub sends
/// the rest without it): browsers give `keepalive` requests and beacons a shared 64 KiB
/// in-flight budget, and headers count too.
pub const KEEPALIVE_MAX_BYTES: usize = 60_000;
/// Longest exception value or message kept (bytes); longer ones are cut at a char boundary.
pub const MAX_VALUE_LEN: usize = 4096;

/// A per-page cap on sent events. A page stuck in an error loop must not flood the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendBudget {
    limit: u32,
    used: u32,
}

impl SendBudget {
    /// A budget of `limit` events.
    pub const fn new(limit: u32) -> Self {
        Self { limit, used: 0 }
    }

    /// Takes one event from the budget; `false` once it is spent.
    pub fn try_take(&mut self) -> bool {
        if self.used < self.limit {
            self.used += 1;
            true
        } else {
            false
        }
    }

    /// Events still allowed.
    pub const fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }

    /// Changes the cap (a second `init`), keeping what was already spent.
    pub fn set_limit(&mut self, limit: u32) {
        self.limit = limit;
    }

    /// Events already spent.
    pub const fn used(&self) -> u32 {
        self.used
    }

    /// Counts what earlier page loads of the same session spent (never lowers the count).
    pub fn restore_used(&mut self, used: u32) {
        self.used = self.used.max(used);
    }
}

impl Default for SendBudget {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENTS)
    }
}

/// Whether a `fetch` response with `status` is reported, given the configured minimum.
///
/// Only real HTTP statuses (100–599) count: opaque `no-cors` responses report status 0 and say
/// nothing about the server. A `min_status` of 600 or more therefore turns reporting off.
pub fn is_reportable_status(status: u16, min_status: u16) -> bool {
    (100..=599).contains(&status) && status >= min_status
}

/// Whether a rejected `fetch` is worth an event. Aborts are the page's own decision
/// (`AbortController`), not failures.
pub fn is_reportable_fetch_rejection(error_name: &str) -> bool {
    error_name != "AbortError"
}

/// The SDK's ingest endpoint for `is_own_request`: the envelope URL without its query.
pub fn ingest_endpoint(envelope_url: &str) -> &str {
    envelope_url
        .split(['?', '#'])
        .next()
        .unwrap_or(envelope_url)
}

/// Whether `url` (absolute) is a request to the SDK's own ingest endpoint `ingest_base`, which
/// the SDK must never report (a failing collector would otherwise report itself forever).
///
/// Compares scheme and host case-insensitively and requires a boundary after the prefix, so
/// `https://ingest.test/api/1/envelope/` matches `.../envelope/?x=1` but `https://ingest.test.evil`
/// does not match `https://ingest.test`.
pub fn is_own_request(url: &str, ingest_base: &str) -> bool {
    let base = ingest_base.trim_end_matches('/');
    if base.is_empty() {
        return false;
    }
    let (Some(head), Some(tail)) = (url.get(..base.len()), url.get(base.len()..)) else {
        return false;
    };
    let after_scheme = find_str(base, "://").map_or(0, |i| i + 3);
    let origin_end = base
        .get(after_scheme..)
        .unwrap_or("")
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let same_origin = head
        .get(..origin_end)
        .is_some_and(|h| h.eq_ignore_ascii_case(base.get(..origin_end).unwrap_or("")));
    let same_path = head.get(origin_end..) == base.get(origin_end..);
    same_origin && same_path && (tail.is_empty() || tail.starts_with(['/', '?', '#']))
}

/// Normalises a user-given level to one of Sentry's: `fatal`, `error`, `warning`, `info`,
/// `debug`. Unknown or absent levels become `default`.
pub fn normalize_level(level: Option<&str>, default: &'static str) -> &'static str {
    match level.map(str::trim) {
        Some(l) if l.eq_ignore_ascii_case("fatal") || l.eq_ignore_ascii_case("critical") => "fatal",
        Some(l) if l.eq_ignore_ascii_case("error") => "error",
        Some(l) if l.eq_ignore_ascii_case("warning") || l.eq_ignore_ascii_case("warn") => "warning",
        Some(l) if l.eq_ignore_ascii_case("info") || l.eq_ignore_ascii_case("log") => "info",
        Some(l) if l.eq_ignore_ascii_case("debug") => "debug",
        _ => default,
    }
}

/// A whole number written in ASCII digits (at most 19 of them, so it fits), `None` for anything
/// else (signs, spaces, empty). One parser for every number the SDK reads: each `str::parse`
/// type is its own code in the wasm.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// [`parse_u64`] for numbers that must fit `u32`.
pub fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

/// Cuts `s` to at most `max` bytes at a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// An event id (UUID v4 as 32 lowercase hex characters) from 16 random bytes.
pub fn event_id_from_bytes(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// The exception value for a promise rejected with something that is not an `Error`.
pub fn non_error_rejection_value(repr: &str) -> String {
    let mut out = String::from("Non-Error promise rejection: ");
    out.push_str(truncate(repr, MAX_VALUE_LEN));
    out
}

/// The exception value for a resource (`<img>`, `<script>`, `<link>`...) that failed to load.
pub fn resource_error_value(tag: &str, src: &str) -> String {
    let mut out = String::from("Failed to load <");
    out.push_str(&tag.to_ascii_lowercase());
    out.push('>');
    if !src.is_empty() {
        out.push(' ');
        out.push_str(truncate(src, MAX_VALUE_LEN));
    }
    out
}

/// Lowest status of the default failed-request range (`failedRequestStatusCodes`).
pub const DEFAULT_FAILED_STATUS: (u16, u16) = (500, 599);
/// Most status ranges kept from the options.
pub const MAX_STATUS_RANGES: usize = 16;
/// Deepest `error.cause` chain followed (the caught error plus this many causes).
pub const MAX_CAUSE_DEPTH: usize = 5;

/// Whether a response `status` is a failure worth an event, given inclusive `ranges` (the
/// `failedRequestStatusCodes` option; `fetchStatusMin: n` is the range `n..=599`). Only real
/// HTTP statuses count (opaque responses report 0), and a 2xx is never a failure: the stub
/// loads the wasm only for requests that failed or answered outside 2xx.
pub fn is_failed_status(status: u16, ranges: &[(u16, u16)]) -> bool {
    (100..=599).contains(&status)
        && !(200..=299).contains(&status)
        && ranges.iter().any(|&(lo, hi)| lo <= status && status <= hi)
}

/// The sampling decision for one event: `random` is uniform in `[0, 1)`; a rate of 1 (or more)
/// keeps everything, 0, negative or NaN keeps nothing.
pub fn is_sampled(rate: f64, random: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    rate > 0.0 && random < rate
}

/// Whether a frame URL is a browser extension's (or the browser's own, or a known injected
/// script's): the list the server's inbound filter uses too.
pub use backstop_protocol::extensions::is_extension_url;

/// Whether a frame's location is a script's URL that `allowUrls` / `denyUrls` can judge: not the
/// placeholders engines give code without a file (`<anonymous>`, `[native code]`, `native`,
/// `eval code`), which would make an error thrown through `JSON.parse` or an `eval` look like
/// it came from a script outside the allowed list.
pub fn is_script_url(location: &str) -> bool {
    let l = location.trim();
    !(l.is_empty()
        || l.starts_with('<')
        || l.starts_with('[')
        || l.eq_ignore_ascii_case("native")
        || l.eq_ignore_ascii_case("eval code")
        || l.eq_ignore_ascii_case("eval")
        || l.eq_ignore_ascii_case("anonymous"))
}

/// Whether an error message is one that extensions and injected scripts are known to cause
/// (the server's inbound filter's list).
pub use backstop_protocol::extensions::is_extension_message;

/// Whether a message is the browser's "Script error." for a cross-origin script: no message, no
/// stack, nothing to act on (Sentry's SDKs drop it by default too).
pub fn is_script_error(value: &str) -> bool {
    let v = value.trim();
    let v = v.strip_prefix("Uncaught ").unwrap_or(v);
    matches!(v, "Script error." | "Script error") || v.starts_with("Javascript error: Script error")
}

/// `parts` end to end. A loop of `push_str` instead of `[&str]::concat`, whose generic join is
/// a kilobyte of the SDK's wasm.
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Byte offset of the first `needle` in `hay`. A plain scan instead of `str::find(&str)`:
/// core's two-way string searcher is ~5 KB of the SDK's wasm, and the SDK only looks for short
/// needles in bounded texts.
pub fn find_str(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    hay.as_bytes().windows(n.len()).position(|w| w == n)
}

/// Byte offset of the last `needle` in `hay` (see [`find_str`]).
pub fn rfind_str(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(hay.len());
    }
    hay.as_bytes().windows(n.len()).rposition(|w| w == n)
}

/// Whether `hay` contains `needle` (see [`find_str`]).
pub fn contains_str(hay: &str, needle: &str) -> bool {
    find_str(hay, needle).is_some()
}

/// `s` around its first `sep` (see [`find_str`]). A match of a whole UTF-8 needle always
/// starts and ends on char boundaries, so the halves are never cut inside a char.
pub fn split_once_str<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let i = find_str(s, sep)?;
    Some((s.get(..i)?, s.get(i + sep.len()..)?))
}

/// `s` around its last `sep` (see [`split_once_str`]).
pub fn rsplit_once_str<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let i = rfind_str(s, sep)?;
    Some((s.get(..i)?, s.get(i + sep.len()..)?))
}

/// Whether `value` contains the non-empty `pattern` (string patterns of `ignoreErrors`,
/// `denyUrls`, `allowUrls`, as in Sentry's SDKs).
pub fn contains_pattern(value: &str, pattern: &str) -> bool {
    !pattern.is_empty() && contains_str(value, pattern)
}

/// A 64-bit FNV-1a hash of `parts` (each followed by a separator), for dedupe keys.
pub fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(core::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Consecutive-duplicate detection: an event equal to the one just before it (same dedupe key)
/// is dropped, as Sentry's `Dedupe` integration does.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dedupe {
    last: Option<u64>,
}

impl Dedupe {
    /// Nothing seen yet.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// Records `key`; `true` if it equals the previous one (a duplicate).
    pub fn is_repeat(&mut self, key: u64) -> bool {
        self.last.replace(key) == Some(key)
    }
}

/// A re-entrancy flag: capturing must never capture again (a page getter that throws, a
/// listener of the SDK's own notification, a patched `sendBeacon`...). Single-threaded, as the
/// browser main thread is.
#[derive(Debug, Default)]
pub struct Guard {
    busy: Cell<bool>,
}

impl Guard {
    /// A free guard.
    pub const fn new() -> Self {
        Self {
            busy: Cell::new(false),
        }
    }

    /// Enters the guarded section; `None` if it is already entered. The section is left when
    /// the returned value is dropped.
    pub fn enter(&self) -> Option<Entered<'_>> {
        if self.busy.replace(true) {
            None
        } else {
            Some(Entered { busy: &self.busy })
        }
    }

    /// Whether the section is entered.
    pub fn is_busy(&self) -> bool {
        self.busy.get()
    }

    /// Frees the guard unconditionally (test resets).
    pub fn reset(&self) {
        self.busy.set(false);
    }
}

/// Proof of being inside a [`Guard`]; leaving happens on drop.
#[derive(Debug)]
pub struct Entered<'a> {
    busy: &'a Cell<bool>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.busy.set(false);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plain_string_search_agrees_with_core() {
        use super::*;
        let hays = [
            "",
            "a",
            "abcabc",
            "x, y, z",
            "é://ü://",
            "at f line 3 > eval",
            "::::",
        ];
        let needles = ["", "a", "bc", ", ", "://", " line ", "ü", "::", "zz"];
        for h in hays {
            for n in needles {
                assert_eq!(find_str(h, n), h.find(n), "{h:?} {n:?}");
                assert_eq!(rfind_str(h, n), h.rfind(n), "{h:?} {n:?}");
                assert_eq!(contains_str(h, n), h.contains(n));
                if !n.is_empty() {
                    assert_eq!(split_once_str(h, n), h.split_once(n), "{h:?} {n:?}");
                    assert_eq!(rsplit_once_str(h, n), h.rsplit_once(n), "{h:?} {n:?}");
                }
            }
        }
    }

    #[test]
    fn only_real_script_locations_are_judged_by_url_filters() {
        for (location, judged, why) in [
            ("https://shop.example/app.js", true, "a script URL"),
            ("http://localhost:3000/main.js", true, "localhost"),
            ("webpack-internal:///./src/x.js", true, "bundler scheme"),
            ("<anonymous>", false, "JSON.parse, Function"),
            ("[native code]", false, "Safari native frame"),
            ("native", false, "V8 native"),
            ("eval code", false, "Safari eval"),
            ("", false, "no location"),
            ("   ", false, "blank"),
        ] {
            assert_eq!(is_script_url(location), judged, "{location:?}: {why}");
        }
    }

    use super::*;

    #[test]
    fn budget_caps_and_keeps_spent_events_on_new_limit() {
        let mut b = SendBudget::new(3);
        let taken: Vec<bool> = (0..5).map(|_| b.try_take()).collect();
        assert_eq!(taken, [true, true, true, false, false], "three then refuse");
        assert_eq!(b.remaining(), 0);
        b.set_limit(4);
        assert!(b.try_take(), "raised limit allows one more");
        assert!(!b.try_take(), "and only one");
        b.set_limit(1);
        assert_eq!(b.remaining(), 0, "lowered limit never goes negative");
        assert_eq!(SendBudget::default().remaining(), DEFAULT_MAX_EVENTS);
        let mut session = SendBudget::new(5);
        session.restore_used(4);
        session.restore_used(1);
        assert_eq!(
            (session.used(), session.remaining()),
            (4, 1),
            "restored, never lowered"
        );
        let mut zero = SendBudget::new(0);
        assert!(!zero.try_take(), "zero budget sends nothing");
    }

    #[test]
    fn reportable_statuses() {
        let cases = [
            (500, 500, true, "500 at default"),
            (503, 500, true, "503 at default"),
            (599, 500, true, "599 at default"),
            (499, 500, false, "4xx at default"),
            (404, 400, true, "4xx when asked"),
            (200, 500, false, "ok"),
            (0, 500, false, "opaque response"),
            (0, 0, false, "opaque response even with min 0"),
            (600, 500, false, "not an http status"),
            (503, 600, false, "min 600 disables"),
        ];
        for (status, min, want, name) in cases {
            assert_eq!(is_reportable_status(status, min), want, "case: {name}");
        }
    }

    #[test]
    fn fetch_rejections_except_aborts_are_reported() {
        assert!(is_reportable_fetch_rejection("TypeError"), "network error");
        assert!(is_reportable_fetch_rejection(""), "unknown");
        assert!(!is_reportable_fetch_rejection("AbortError"), "page aborted");
    }

    #[test]
    fn own_requests() {
        let base = "http://127.0.0.1:8787/api/1/envelope/";
        let cases = [
            (
                "http://127.0.0.1:8787/api/1/envelope/?sentry_key=a",
                base,
                true,
                "with query",
            ),
            ("http://127.0.0.1:8787/api/1/envelope/", base, true, "exact"),
            (
                "http://127.0.0.1:8787/api/1/envelope",
                base,
                true,
                "no trailing slash",
            ),
            (
                "HTTP://127.0.0.1:8787/api/1/envelope/",
                base,
                true,
                "scheme case",
            ),
            (
                "http://127.0.0.1:8787/api/1/store/",
                base,
                false,
                "other endpoint",
            ),
            (
                "http://127.0.0.1:8787/api/12/envelope/",
                base,
                false,
                "other project",
            ),
            (
                "http://127.0.0.1:8787/api/1/envelopes",
                base,
                false,
                "no boundary",
            ),
            (
                "http://127.0.0.1:8788/api/1/envelope/",
                base,
                false,
                "other port",
            ),
            (
                "/api/1/envelope/",
                base,
                false,
                "relative urls are resolved by the caller",
            ),
            (
                "https://ingest.test",
                "https://ingest.test",
                true,
                "origin only",
            ),
            (
                "https://INGEST.test/x",
                "https://ingest.test",
                true,
                "host case",
            ),
            (
                "https://ingest.test.evil/x",
                "https://ingest.test",
                false,
                "suffix host",
            ),
            (
                "https://ingest.test/API/1",
                "https://ingest.test/api/1",
                false,
                "path case matters",
            ),
            ("", base, false, "empty url"),
            ("http://x/", "", false, "empty base never matches"),
            ("http://ü/é", "http://ü/", true, "non-ascii"),
            ("http://üx", "http://ü", false, "non-ascii no boundary"),
            (
                "http://\u{e9}",
                "http://e\u{301}",
                false,
                "byte lengths differ, no panic",
            ),
        ];
        for (url, base, want, name) in cases {
            assert_eq!(is_own_request(url, base), want, "case: {name}");
        }
        assert_eq!(
            ingest_endpoint("http://h/api/1/envelope/?sentry_key=k"),
            "http://h/api/1/envelope/"
        );
        assert_eq!(ingest_endpoint("http://h/x"), "http://h/x");
    }

    #[test]
    fn levels() {
        let cases = [
            (Some("error"), "error"),
            (Some("WARN"), "warning"),
            (Some("warning"), "warning"),
            (Some(" info "), "info"),
            (Some("log"), "info"),
            (Some("debug"), "debug"),
            (Some("fatal"), "fatal"),
            (Some("critical"), "fatal"),
            (Some("nonsense"), "info"),
            (Some(""), "info"),
            (None, "info"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_level(input, "info"), want, "case: {input:?}");
        }
    }

    #[test]
    fn numbers_parse_only_from_plain_digits() {
        let cases = [
            ("0", Some(0)),
            ("42", Some(42)),
            ("0042", Some(42)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("99999999999999999999", None),
            ("", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1.5", None),
            ("1e3", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_u64(s), want, "case {s:?}");
        }
        assert_eq!(parse_u32("4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32("4294967296"), None, "too big for u32");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("hello", 10), "hello", "short stays");
        assert_eq!(truncate("hello", 3), "hel", "ascii cut");
        assert_eq!(truncate("héllo", 2), "h", "never splits é");
        assert_eq!(truncate("😀", 3), "", "4-byte char dropped whole");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn event_ids_are_uuid4_hex() {
        let id = event_id_from_bytes([0xff; 16]);
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "lowercase hex: {id}"
        );
        assert_eq!(&id[12..13], "4", "version nibble");
        assert_eq!(
            event_id_from_bytes([0; 16]),
            "00000000000040008000000000000000"
        );
    }

    #[test]
    fn describes_non_errors_and_resources() {
        assert_eq!(
            non_error_rejection_value("null"),
            "Non-Error promise rejection: null"
        );
        let long = "x".repeat(MAX_VALUE_LEN * 2);
        assert!(
            non_error_rejection_value(&long).len() < MAX_VALUE_LEN + 64,
            "bounded"
        );
        assert_eq!(
            resource_error_value("IMG", "http://x/a.png"),
            "Failed to load <img> http://x/a.png"
        );
        assert_eq!(resource_error_value("LINK", ""), "Failed to load <link>");
    }

    #[test]
    fn guard_refuses_reentry_until_dropped() {
        let g = Guard::new();
        let outer = g.enter();
        assert!(outer.is_some(), "first entry");
        assert!(g.enter().is_none(), "re-entry refused");
        assert!(g.is_busy());
        drop(outer);
        assert!(!g.is_busy(), "drop leaves");
        assert!(g.enter().is_some(), "free again");
        let _held = g.enter();
        g.reset();
        assert!(!g.is_busy(), "reset frees");
    }

    #[test]
    fn failed_status_ranges() {
        let default = [DEFAULT_FAILED_STATUS];
        let custom = [(400, 404), (500, 599)];
        let cases = [
            (500, &default[..], true, "500 default"),
            (599, &default[..], true, "599 default"),
            (499, &default[..], false, "4xx default"),
            (0, &default[..], false, "opaque"),
            (404, &custom[..], true, "404 custom"),
            (405, &custom[..], false, "405 outside"),
            (503, &[][..], false, "no ranges, nothing fails"),
            (600, &[(0, 65535)][..], false, "not an http status"),
            (204, &[(100, 599)][..], false, "2xx never fails"),
            (304, &[(100, 599)][..], true, "3xx may"),
        ];
        for (status, ranges, want, name) in cases {
            assert_eq!(is_failed_status(status, ranges), want, "case {name}");
        }
    }

    #[test]
    fn sampling() {
        let cases = [
            (1.0, 0.999, true, "rate 1 keeps all"),
            (0.0, 0.0, false, "rate 0 keeps none"),
            (0.25, 0.1, true, "below"),
            (0.25, 0.25, false, "at the rate"),
            (-1.0, 0.0, false, "negative"),
            (f64::NAN, 0.0, false, "nan"),
            (7.0, 0.5, true, "above 1"),
        ];
        for (rate, random, want, name) in cases {
            assert_eq!(is_sampled(rate, random), want, "case {name}");
        }
    }

    #[test]
    fn extension_and_script_error_filters() {
        let urls = [
            ("chrome-extension://abc/content.js", true),
            ("MOZ-EXTENSION://x/y.js", true),
            ("safari-web-extension://x/y.js", true),
            ("https://translate.googleapis.com/x.js", true),
            ("https://app.test/chrome-extension.js", false),
            ("https://app.test/a.js", false),
            ("", false),
        ];
        for (url, want) in urls {
            assert_eq!(is_extension_url(url), want, "url {url}");
        }
        assert!(is_extension_message("Cannot read top.GLOBALS of undefined"));
        assert!(!is_extension_message("x is not defined"));
        let messages = [
            ("Script error.", true),
            ("Script error", true),
            ("Uncaught Script error.", true),
            ("Javascript error: Script error. on line 0", true),
            ("Script error. in my code", false),
            ("TypeError: x", false),
        ];
        for (m, want) in messages {
            assert_eq!(is_script_error(m), want, "message {m}");
        }
        assert!(contains_pattern("TypeError: boom", "boom"));
        assert!(
            !contains_pattern("anything", ""),
            "empty patterns match nothing"
        );
    }

    #[test]
    fn dedupe_drops_consecutive_repeats_only() {
        let a = hash_parts(["TypeError", "x"]);
        let b = hash_parts(["TypeError", "y"]);
        assert_ne!(a, hash_parts(["TypeErro", "rx"]), "separators matter");
        let mut d = Dedupe::default();
        let got: Vec<bool> = [a, a, b, a, a].iter().map(|&k| d.is_repeat(k)).collect();
        assert_eq!(got, [false, true, false, false, true]);
    }
}
