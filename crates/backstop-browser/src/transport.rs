//! Sending envelopes: `navigator.sendBeacon` for small bodies, else the page's original
//! (unwrapped) `fetch`. The URL carries `sentry_key` in its query and the body is a plain
//! string, so the request is CORS-simple (no preflight). Failures are swallowed: the SDK never
//! reports its own transport.

use backstop_core::sdk::KEEPALIVE_MAX_BYTES;
use wasm_bindgen::prelude::*;

use crate::js::{self, get, get_fn};
use crate::{hooks, testing, Config};

/// Sends `body`; returns the transport tried: `"beacon"` or `"fetch"`.
pub(crate) fn send(config: &Config, body: &str) -> &'static str {
    let small = body.len() < KEEPALIVE_MAX_BYTES;
    if small && !testing::beacon_disabled() && beacon(&config.envelope_url, body) {
        return "beacon";
    }
    fetch(&config.envelope_url, body, small);
    "fetch"
}

/// `navigator.sendBeacon(url, body)`; `false` if it is missing, throws or refuses (its 64 KiB
/// in-flight budget is spent).
fn beacon(url: &str, body: &str) -> bool {
    let Some(navigator) = get(&js::global(), "navigator") else {
        return false;
    };
    let Some(send_beacon) = get_fn(&navigator, "sendBeacon") else {
        return false;
    };
    send_beacon
        .call2(
            &navigator,
            &JsValue::from_str(url),
            &JsValue::from_str(body),
        )
        .ok()
        .and_then(|r| r.as_bool())
        .unwrap_or(false)
}

/// `fetch(url, {method: "POST", body, mode: "cors", keepalive})` with the unwrapped fetch; the
/// returned promise gets a no-op rejection handler so a failure is never an unhandled rejection.
fn fetch(url: &str, body: &str, keepalive: bool) {
    let Some(fetch) = hooks::original_fetch() else {
        return;
    };
    let init = js_sys::Object::new();
    js::set(&init, "method", &JsValue::from_str("POST"));
    js::set(&init, "mode", &JsValue::from_str("cors"));
    js::set(&init, "body", &JsValue::from_str(body));
    let headers = js_sys::Object::new();
    js::set(
        &headers,
        "content-type",
        &JsValue::from_str("text/plain;charset=UTF-8"),
    );
    js::set(&init, "headers", &headers);
    if keepalive {
        // web-sys 0.3.107's RequestInit has no keepalive setter.
        js::set(&init, "keepalive", &JsValue::TRUE);
    }
    if let Ok(promise) = fetch.call2(&js::global(), &JsValue::from_str(url), &init) {
        hooks::swallow(&promise);
    }
}
