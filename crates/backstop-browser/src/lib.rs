//! Backstop's browser SDK: reports uncaught errors (with `error.cause` chains), errors thrown in
//! timer and listener callbacks, failed resource loads, unhandled promise rejections, failing
//! `fetch` and `XMLHttpRequest` calls and Rust panics to a Sentry-compatible collector, with
//! breadcrumbs, scope (user, tags, contexts, extra), filters, dedupe, sampling, `beforeSend`,
//! rate limits, an offline queue and client reports.
//!
//! The split: the JS stub in `js/` does the platform plumbing (listening, wrapping, reading page
//! values inside `try`, `fetch`, `sendBeacon`, `localStorage`, timers) and hands this crate plain
//! strings and numbers; this crate holds the state and makes every decision, mostly by calling
//! `backstop_server_core::{stack, sdk, breadcrumb, sdk_event, sdk_transport}`, and talks back through
//! the ports in `src/host.rs`. Rust/wasm apps use the same exports plus [`capture_panic_hook`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod capture;
mod config;
mod host;
mod panic;
#[doc(hidden)]
pub mod testing;
mod transport;

use backstop_server_core::breadcrumb::{element_selector, selector_path, Breadcrumb};
use backstop_server_core::sdk::{normalize_level, truncate};
use backstop_server_core::sdk_event::set_pair;
use backstop_server_core::sdk_transport::FIRST_QUEUE_CHECK_MS;
use wasm_bindgen::prelude::*;

pub use panic::{capture_panic, capture_panic_hook};

/// The shipped SDK's allocator: a small free list (the SDK's allocations are short strings).
#[cfg(feature = "standalone")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// Global SDK state. Borrows are never held across calls into JS (which may re-enter).
pub(crate) mod state {
    use std::cell::RefCell;
    use std::rc::Rc;

    use backstop_server_core::breadcrumb::{Breadcrumb, Breadcrumbs, DEFAULT_MAX_BREADCRUMBS};
    use backstop_server_core::sdk::{Dedupe, Guard, SendBudget, DEFAULT_MAX_EVENTS};
    use backstop_server_core::sdk_transport::{ClientReport, Outbox, RateLimits, Reason};

    use crate::config::Config;

    /// User, tags, contexts and extra, as JSON texts ready to embed.
    pub(crate) struct Scope {
        pub(crate) user: Option<String>,
        pub(crate) tags: Vec<(String, String)>,
        pub(crate) contexts: Vec<(String, String)>,
        pub(crate) extra: Vec<(String, String)>,
    }

    /// Everything that changes while the page runs.
    pub(crate) struct State {
        pub(crate) config: Option<Rc<Config>>,
        pub(crate) budget: SendBudget,
        pub(crate) crumbs: Breadcrumbs,
        pub(crate) scope: Scope,
        pub(crate) dedupe: Dedupe,
        pub(crate) limits: RateLimits,
        pub(crate) report: ClientReport,
        /// Event envelopes in flight or waiting for a request slot.
        pub(crate) outbox: Outbox,
        /// Envelopes waiting for the network (mirrored to `localStorage`).
        pub(crate) queue: Vec<String>,
        /// Consecutive failed sends (for the backoff).
        pub(crate) failures: u32,
        /// A queued envelope is in flight.
        pub(crate) draining: bool,
        /// The queue left in `localStorage` by earlier page loads was read (done lazily).
        pub(crate) queue_loaded: bool,
        /// This tab's session count was read from `sessionStorage` (done lazily).
        pub(crate) session_loaded: bool,
    }

    impl State {
        const fn new() -> Self {
            Self {
                config: None,
                budget: SendBudget::new(DEFAULT_MAX_EVENTS),
                crumbs: Breadcrumbs::new(DEFAULT_MAX_BREADCRUMBS),
                scope: Scope {
                    user: None,
                    tags: Vec::new(),
                    contexts: Vec::new(),
                    extra: Vec::new(),
                },
                dedupe: Dedupe::new(),
                limits: RateLimits::new(),
                report: ClientReport::new(),
                outbox: Outbox::new(),
                queue: Vec::new(),
                failures: 0,
                draining: false,
                queue_loaded: false,
                session_loaded: false,
            }
        }
    }

    thread_local! {
        pub(crate) static GUARD: Guard = const { Guard::new() };
        static STATE: RefCell<State> = const { RefCell::new(State::new()) };
    }

    /// Runs `f` on the state. `f` must not call into JS.
    pub(crate) fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
        STATE.with(|s| f(&mut s.borrow_mut()))
    }

    /// The current configuration; `None` before `init`.
    pub(crate) fn config() -> Option<Rc<Config>> {
        with(|s| s.config.clone())
    }

    /// Counts one dropped item of `category`.
    pub(crate) fn dropped(reason: Reason, category: &'static str) {
        dropped_n(reason, category, 1);
    }

    /// Counts `n` dropped items of `category`.
    pub(crate) fn dropped_n(reason: Reason, category: &'static str, n: usize) {
        if n > 0 {
            with(|s| s.report.add(reason, category, n as u64));
        }
    }

    /// Adds a breadcrumb (only once initialised: before that the stub buffers them).
    pub(crate) fn crumb(c: Breadcrumb) {
        with(|s| {
            if s.config.is_some() {
                s.crumbs.push(c);
            }
        });
    }

    /// Forgets everything (tests share one page).
    pub(crate) fn reset() {
        with(|s| *s = State::new());
        GUARD.with(Guard::reset);
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
    install_panic_printer();
    let (config, max_events, max_crumbs) = config::Config::new(config::Options {
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
    })
    .map_err(|e| JsError::new(&e))?;
    // No storage access here (see `FIRST_QUEUE_CHECK_MS`): the queue is read by the first
    // retry timer, the session's count by the first send.
    state::with(|s| {
        s.budget.set_limit(max_events);
        s.crumbs.set_max(max_crumbs);
        s.config = Some(std::rc::Rc::new(config));
    });
    transport::schedule_drain(FIRST_QUEUE_CHECK_MS);
    Ok(())
}

/// The SDK's own panics are printed once (console_error_panic_hook: message and location); the
/// stub then switches the SDK off, as a panic aborts the wasm call, so a panic never re-enters
/// it. Only in the SDK as shipped to pages (`standalone`): a Rust app that links this crate
/// keeps its own panic hook (and `capture_panic_hook` chains to it).
fn install_panic_printer() {
    #[cfg(feature = "standalone")]
    console_error_panic_hook::set_once();
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
    capture::capture(&mut || capture::error_draft(kind, chain, location, function))
}

/// `captureMessage(message, level)`.
#[wasm_bindgen]
pub fn capture_message(message: &str, level: Option<String>) -> Option<String> {
    capture::capture(&mut || Some(capture::message_draft(message, level.as_deref())))
}

/// An element (`<img>`, `<script>`, `<link>`) that failed to load.
#[wasm_bindgen]
pub fn capture_resource(tag: &str, src: &str) -> Option<String> {
    capture::capture(&mut || Some(capture::resource_draft(tag, src)))
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
    capture::request_done(kind, method, url, status, duration_ms, error, at);
}

/// A breadcrumb's time from the stub: `at` (ms since the epoch) when it is a time, else now.
fn crumb_time(at: f64) -> u64 {
    if at.is_finite() && at > 0.0 {
        at as u64
    } else {
        host::now() as u64
    }
}

/// `setUser(user)` as JSON; `None` clears it.
#[wasm_bindgen]
pub fn set_user(json: Option<String>) {
    let json = json.filter(|j| j.starts_with('{') && j.len() <= MAX_JSON);
    state::with(|s| s.scope.user = json);
}

/// Longest JSON kept for the user, one context or one extra value.
const MAX_JSON: usize = 16 * 1024;
/// Most tags, contexts and extra entries each.
const MAX_ENTRIES: usize = 50;

/// `setTag(key, value)`; the value is bounded to 200 bytes (Sentry's limit).
#[wasm_bindgen]
pub fn set_tag(key: &str, value: &str) {
    if key.is_empty() {
        return;
    }
    let value = truncate(value, 200).into();
    state::with(|s| set_pair(&mut s.scope.tags, truncate(key, 32), value, MAX_ENTRIES));
}

/// `setContext(name, object)` as JSON; `None` (or not an object) removes it.
#[wasm_bindgen]
pub fn set_context(name: &str, json: Option<String>) {
    let json = json.filter(|j| j.starts_with('{') && j.len() <= MAX_JSON);
    state::with(|s| match json {
        Some(j) => set_pair(&mut s.scope.contexts, name, j, MAX_ENTRIES),
        None => s.scope.contexts.retain(|(k, _)| k != name),
    });
}

/// `setExtra(key, value)` as JSON; `None` removes it.
#[wasm_bindgen]
pub fn set_extra(key: &str, json: Option<String>) {
    let json = json.filter(|j| j.len() <= MAX_JSON);
    state::with(|s| match json {
        Some(j) => set_pair(&mut s.scope.extra, key, j, MAX_ENTRIES),
        None => s.scope.extra.retain(|(k, _)| k != key),
    });
}

/// `addBreadcrumb({category, message, level})`; also `console.warn`/`console.error` calls
/// (category `console`). `at`: when it happened (ms since the epoch): the stub keeps
/// breadcrumbs until the wasm is loaded, which it is only once there is something to report.
#[wasm_bindgen]
pub fn add_breadcrumb(category: &str, message: &str, level: Option<String>, at: f64) {
    let category = if category.is_empty() {
        "custom"
    } else {
        category
    };
    let level = normalize_level(level.as_deref(), "info");
    state::crumb(Breadcrumb::new(
        crumb_time(at),
        category,
        level,
        message.into(),
    ));
}

/// A navigation (history API, `popstate`, `hashchange`) at `at` (see [`add_breadcrumb`]).
#[wasm_bindgen]
pub fn navigation_crumb(from: &str, to: &str, at: f64) {
    state::crumb(Breadcrumb::navigation(crumb_time(at), from, to));
}

/// A click: the target and up to four ancestors, innermost first, joined with U+0002, each
/// `tag\u{1}id\u{1}className`; `at` as for [`add_breadcrumb`].
#[wasm_bindgen]
pub fn click_crumb(path: &str, at: f64) {
    let parts: Vec<String> = path
        .split('\u{2}')
        .take(5)
        .filter_map(|el| {
            let mut f = el.split('\u{1}');
            let tag = f.next().filter(|t| !t.is_empty())?;
            Some(element_selector(
                tag,
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
            ))
        })
        .collect();
    if !parts.is_empty() {
        state::crumb(Breadcrumb::new(
            crumb_time(at),
            "ui.click",
            "info",
            selector_path(&parts),
        ));
    }
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
    transport::drain();
}

/// Sends the client report now with `sendBeacon` (the stub calls it on `pagehide` and when the
/// page is hidden; `Backstop.flush()` too).
#[wasm_bindgen]
pub fn flush() {
    transport::flush();
}
