//! The SDK's ports to the page: a handful of JS functions that take and return only strings,
//! numbers and booleans. The JS stub (`js/prelude.js`) defines them as local functions, which
//! the wasm-bindgen glue (inside the same closure) calls by name; the wasm-bindgen tests define
//! fakes with the same names on `window`.
//!
//! Why ports instead of `js-sys`/`web-sys` calls from Rust: every `Reflect.get`, `Function`
//! call and `JsValue` conversion made from Rust brings its own glue on both sides. The first
//! version of this SDK that did the platform work in Rust was 101 KB raw / 47 KB gzip of wasm;
//! with these ports the wasm only holds the decisions and the JSON.

use alloc::string::String;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Date.now()`.
    #[wasm_bindgen(js_name = bs_now)]
    pub(crate) fn now() -> f64;
    /// `Math.random()`.
    #[wasm_bindgen(js_name = bs_random)]
    pub(crate) fn random() -> f64;
    /// `new Date().toISOString()`.
    #[wasm_bindgen(js_name = bs_iso)]
    pub(crate) fn iso_now() -> String;
    /// `location.href`.
    #[wasm_bindgen(js_name = bs_url)]
    pub(crate) fn page_url() -> String;
    /// Whether `RegExp` number `index` of the options matches `text`.
    #[wasm_bindgen(js_name = bs_test)]
    pub(crate) fn test_pattern(index: u32, text: &str) -> bool;
    /// `beforeSend(JSON.parse(event), hint)` serialised back; `None` drops the event. Without a
    /// `beforeSend` option the stub returns `event` as it is.
    #[wasm_bindgen(js_name = bs_before_send)]
    pub(crate) fn before_send(event: &str) -> Option<String>;
    /// POSTs `body` to `url` with the page's original `fetch` (keepalive when small); the
    /// outcome comes back through `settled(body, status, ...)`.
    #[wasm_bindgen(js_name = bs_send)]
    pub(crate) fn send(url: &str, body: &str, queued: bool);
    /// `navigator.sendBeacon(url, body)`; false if refused or missing.
    #[wasm_bindgen(js_name = bs_beacon)]
    pub(crate) fn beacon(url: &str, body: &str) -> bool;
    /// `localStorage.getItem(key)`, or `sessionStorage` for keys starting with `session:`
    /// (`None` when missing or storage is unavailable).
    #[wasm_bindgen(js_name = bs_load)]
    pub(crate) fn load(key: &str) -> Option<String>;
    /// `localStorage.setItem(key, value)`, or `removeItem` for an empty value; errors ignored.
    #[wasm_bindgen(js_name = bs_store)]
    pub(crate) fn store(key: &str, value: &str);
    /// Calls `drain()` after `delay_ms` (replacing a pending timer).
    #[wasm_bindgen(js_name = bs_timer)]
    pub(crate) fn timer(delay_ms: f64);
    /// The page's `_sentryDebugIds` (left by `sentry-cli sourcemaps inject`) as
    /// `stack \u{1} id \u{2}` pairs, empty without any.
    #[wasm_bindgen(js_name = bs_debug_ids)]
    pub(crate) fn debug_ids() -> String;
    /// Dispatches `backstop:sent` with this detail on `window`.
    #[wasm_bindgen(js_name = bs_notify)]
    pub(crate) fn notify(
        event_id: &str,
        kind: &str,
        ty: Option<String>,
        message: &str,
        transport: &str,
    );
}
