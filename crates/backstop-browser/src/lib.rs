//! Backstop's browser SDK: reports uncaught errors (with `error.cause` chains), errors thrown in
//! timer and listener callbacks, failed resource loads, unhandled promise rejections, failing
//! `fetch` and `XMLHttpRequest` calls and Rust panics to a Sentry-compatible collector, with
//! breadcrumbs, scope (user, tags, contexts, extra), filters, dedupe, sampling, `beforeSend`,
//! rate limits, an offline queue and client reports.
//!
//! The split: the JS stub in `js/` does the platform plumbing (listening, wrapping, reading page
//! values inside `try`, `fetch`, `sendBeacon`, `localStorage`, timers) and hands this crate plain
//! strings and numbers; `backstop-sdk-core` holds the state's type and makes every decision;
//! this crate only translates the exports' arguments, keeps the state, and implements the
//! core's [`Host`] ports with the JS functions of `src/host.rs`. Rust/wasm apps use the same
//! exports plus [`capture_panic_hook`].
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
extern crate alloc;

mod host;
mod panic;
#[cfg(feature = "std")]
#[doc(hidden)]
pub mod testing;

use alloc::string::String;

use backstop_sdk_core::capture::{self, error_draft, message_draft, resource_draft};
use backstop_sdk_core::config::Options;
use backstop_sdk_core::{state, transport, Host, State};
use wasm_bindgen::prelude::*;

pub use panic::capture_panic;
#[cfg(feature = "std")]
pub use panic::capture_panic_hook;

/// The shipped SDK's allocator: a small free list (the SDK's allocations are short strings).
#[cfg(feature = "standalone")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The SDK's state. Locked only inside [`Host::state`], never across a call into JS (which
/// may call back into the SDK), so on the page's one thread the lock is always free.
static STATE: spin::Mutex<State> = spin::Mutex::new(State::new());

/// The page: the SDK's state in this module's globals, the ports in `src/host.rs`.
pub(crate) struct Page;

impl Host for Page {
    fn state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut STATE.lock())
    }
    fn now(&self) -> f64 {
        host::now()
    }
    fn random(&self) -> f64 {
        host::random()
    }
    fn iso_now(&self) -> String {
        host::iso_now()
    }
    fn page_url(&self) -> String {
        host::page_url()
    }
    fn test_pattern(&self, index: u32, text: &str) -> bool {
        host::test_pattern(index, text)
    }
    fn before_send(&self, event: &str) -> Option<String> {
        host::before_send(event)
    }
    fn load(&self, key: &str) -> Option<String> {
        host::load(key)
    }
    fn store(&self, key: &str, value: &str) {
        host::store(key, value);
    }
    fn debug_ids(&self) -> String {
        host::debug_ids()
    }
    fn notify(
        &self,
        event_id: &str,
        kind: &str,
        ty: Option<String>,
        message: &str,
        transport: &str,
    ) {
        host::notify(event_id, kind, ty, message, transport);
    }
    #[cfg(feature = "std")]
    fn record(&self, event_id: &str, kind: &'static str, transport: &'static str, envelope: &str) {
        testing::record(event_id, kind, transport, envelope);
    }
    fn send(&self, url: &str, body: &str, queued: bool) {
        host::send(url, body, queued);
    }
    fn beacon(&self, url: &str, body: &str) -> bool {
        #[cfg(feature = "std")]
        if testing::beacon_disabled() {
            return false;
        }
        host::beacon(url, body)
    }
    fn timer(&self, delay_ms: u64) {
        host::timer(delay_ms as f64);
    }
}

/// Starts (or reconfigures) the SDK; the stub reads `Backstop.init(options)` into these
/// arguments (`None` for absent options, NaN for numbers of the wrong type). Lists are joined
/// with U+0001; `\u{2}N` stands for the page's `RegExp` number N. A second call keeps scope,
/// breadcrumbs and the budget already spent.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn init(
    dsn: &str,
    release: &str,
    environment: &str,
    max_events: Option<f64>,
    max_breadcrumbs: Option<f64>,
    sample_rate: Option<f64>,
    fetch_status_min: Option<f64>,
    failed_status: Option<String>,
    offline: bool,
    ignore_errors: &str,
    deny_urls: &str,
    allow_urls: &str,
    user_agent: &str,
) -> Result<(), JsError> {
    let options = Options {
        dsn,
        release,
        environment,
        max_events,
        max_breadcrumbs,
        sample_rate,
        fetch_status_min,
        failed_status: failed_status.as_deref(),
        offline,
        ignore_errors,
        deny_urls,
        allow_urls,
        user_agent,
    };
    state::init(&Page, options).map_err(|e| JsError::new(&e))
}

/// Panics on purpose: lets the end-to-end tests prove that an SDK panic is printed once and
/// switches the SDK off. Not part of the API.
#[doc(hidden)]
#[wasm_bindgen]
pub fn self_test_panic() {
    #[expect(clippy::panic, reason = "the test hook's purpose is a panic")]
    {
        panic!("backstop self-test panic");
    }
}

/// Reports one problem. `kind`: `error` (window error), `wrapped` (thrown in a wrapped
/// callback; `function` names the API), `rejection`, `exception` (`captureException`).
/// `chain` is the caught value then its causes, joined with U+0002, each either
/// `E<name>\u{1}<message>\u{1}<stack>` for `Error`-like values or `V<description>`.
/// `location` (`url\u{1}line\u{1}col`) is the error event's position, used when there is no
/// stack. Returns the event id, or `undefined` when nothing was sent.
#[wasm_bindgen]
pub fn capture(kind: &str, chain: &str, location: &str, function: &str) -> Option<String> {
    capture::capture(&Page, &mut || error_draft(kind, chain, location, function))
}

/// `captureMessage(message, level)`.
#[wasm_bindgen]
pub fn capture_message(message: &str, level: Option<String>) -> Option<String> {
    capture::capture(&Page, &mut || {
        Some(message_draft(message, level.as_deref()))
    })
}

/// An element (`<img>`, `<script>`, `<link>`) that failed to load.
#[wasm_bindgen]
pub fn capture_resource(tag: &str, src: &str) -> Option<String> {
    capture::capture(&Page, &mut || Some(resource_draft(tag, src)))
}

/// A finished `fetch` or `XMLHttpRequest` (`kind`): a breadcrumb, and an event for a failed
/// status or a failure without response. `error` is empty for a response, else a chain entry
/// (`E...`/`V...`) for the failure; `abort` (or an `AbortError`) is the page's decision. `at`:
/// when it finished (ms since the epoch; the stub may hand it over later, see [`add_breadcrumb`]).
#[wasm_bindgen]
pub fn request_done(
    kind: &str,
    method: &str,
    url: &str,
    status: u16,
    duration_ms: f64,
    error: &str,
    at: f64,
) {
    capture::request_done(&Page, kind, method, url, status, duration_ms, error, at);
}

/// `setUser(user)` as JSON; `None` clears it.
#[wasm_bindgen]
pub fn set_user(json: Option<String>) {
    state::set_user(&Page, json);
}

/// `setTag(key, value)`; the value is bounded to 200 bytes (Sentry's limit).
#[wasm_bindgen]
pub fn set_tag(key: &str, value: &str) {
    state::set_tag(&Page, key, value);
}

/// `setContext(name, object)` as JSON; `None` (or not an object) removes it.
#[wasm_bindgen]
pub fn set_context(name: &str, json: Option<String>) {
    state::set_context(&Page, name, json);
}

/// `setExtra(key, value)` as JSON; `None` removes it.
#[wasm_bindgen]
pub fn set_extra(key: &str, json: Option<String>) {
    state::set_extra(&Page, key, json);
}

/// `addBreadcrumb({category, message, level})`; also `console.warn`/`console.error` calls
/// (category `console`). `at`: when it happened (ms since the epoch): the stub keeps
/// breadcrumbs until the wasm is loaded, which it is only once there is something to report.
#[wasm_bindgen]
pub fn add_breadcrumb(category: &str, message: &str, level: Option<String>, at: f64) {
    state::add_breadcrumb(&Page, category, message, level.as_deref(), at);
}

/// A navigation (history API, `popstate`, `hashchange`) at `at` (see [`add_breadcrumb`]).
#[wasm_bindgen]
pub fn navigation_crumb(from: &str, to: &str, at: f64) {
    state::navigation_crumb(&Page, from, to, at);
}

/// A click: the target and up to four ancestors, innermost first, joined with U+0002, each
/// `tag\u{1}id\u{1}className`; `at` as for [`add_breadcrumb`].
#[wasm_bindgen]
pub fn click_crumb(path: &str, at: f64) {
    state::click_crumb(&Page, path, at);
}

/// The outcome of one of the SDK's own requests: `status` 0 for a network error, else the
/// response status and its `X-Sentry-Rate-Limits` and `Retry-After` headers.
#[wasm_bindgen]
pub fn settled(
    body: &str,
    status: u16,
    rate_limits: Option<String>,
    retry_after: Option<String>,
    queued: bool,
) {
    transport::settled(
        &Page,
        body,
        status,
        rate_limits.as_deref(),
        retry_after.as_deref(),
        queued,
    );
}

/// The retry timer of the offline queue.
#[wasm_bindgen]
pub fn drain() {
    transport::timer(&Page);
}

/// Sends the client report now with `sendBeacon` (the stub calls it on `pagehide` and when the
/// page is hidden; `Backstop.flush()` too).
#[wasm_bindgen]
pub fn flush() {
    transport::page_hide(&Page);
}
