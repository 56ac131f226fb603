//! Backstop's browser SDK: reports uncaught errors, failed resource loads, unhandled promise
//! rejections and failing `fetch` calls to a Sentry-compatible collector.
//!
//! Decisions (stack parsing, budget, which statuses count, own-request detection) live in
//! `backstop_core::{stack, sdk}`; this crate only reads JS values carefully and calls them.
//! The JS surface (`window.Backstop`) is the stub in `js/`, which calls these exports.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod capture;
mod hooks;
mod js;
#[doc(hidden)]
pub mod testing;
mod transport;

use backstop_core::sdk::{self, DEFAULT_FETCH_STATUS_MIN, DEFAULT_MAX_EVENTS};
use backstop_protocol::{Dsn, SDK_NAME, SDK_VERSION};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// Options of `Backstop.init(...)`, validated once.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitOptions {
    /// `https://<public_key>@<host>/<project_id>`.
    dsn: String,
    /// Release reported with every event.
    #[serde(default)]
    release: Option<String>,
    /// Environment reported with every event.
    #[serde(default)]
    environment: Option<String>,
    /// Cap on events this page load sends (default 100).
    #[serde(default)]
    max_events: Option<u32>,
    /// Lowest `fetch` response status reported (default 500).
    #[serde(default)]
    fetch_status_min: Option<u16>,
}

/// The validated configuration every capture reads.
#[derive(Debug)]
pub(crate) struct Config {
    /// The DSN as given (sent in the envelope header).
    dsn: String,
    /// Where envelopes go, with `sentry_key` in the query.
    envelope_url: String,
    /// `envelope_url` without its query: fetches there are never reported.
    ingest_endpoint: String,
    release: Option<String>,
    environment: Option<String>,
    fetch_status_min: u16,
}

/// Global SDK state. Borrows are never held across calls into JS (which may re-enter).
mod state {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use backstop_core::sdk::{Guard, SendBudget, DEFAULT_MAX_EVENTS};

    use crate::Config;

    thread_local! {
        pub(crate) static GUARD: Guard = const { Guard::new() };
        static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
        static BUDGET: Cell<SendBudget> = const { Cell::new(SendBudget::new(DEFAULT_MAX_EVENTS)) };
    }

    /// The current configuration; `None` before `init`.
    pub(crate) fn config() -> Option<Rc<Config>> {
        CONFIG.with(|c| c.borrow().clone())
    }

    /// Installs a configuration and applies its event cap to the page's budget.
    pub(crate) fn configure(config: Config, max_events: u32) {
        CONFIG.replace(Some(Rc::new(config)));
        let mut budget = BUDGET.get();
        budget.set_limit(max_events);
        BUDGET.set(budget);
    }

    /// Whether the page's budget has an event left.
    pub(crate) fn budget_left() -> bool {
        BUDGET.get().remaining() > 0
    }

    /// Takes one event from the page's budget.
    pub(crate) fn take_budget() -> bool {
        let mut budget = BUDGET.get();
        let ok = budget.try_take();
        BUDGET.set(budget);
        ok
    }

    /// Forgets the configuration and budget (tests share one page).
    pub(crate) fn reset() {
        CONFIG.replace(None);
        BUDGET.set(SendBudget::new(DEFAULT_MAX_EVENTS));
        GUARD.with(Guard::reset);
    }
}

/// Starts the SDK: validates `options` (`{dsn, release?, environment?, maxEvents?,
/// fetchStatusMin?}`), installs the `error` and `unhandledrejection` listeners and wraps
/// `window.fetch`. Calling it again replaces the options and keeps the hooks and the budget
/// already spent.
#[wasm_bindgen]
pub fn init(options: JsValue) -> Result<(), JsError> {
    console_error_panic_hook::set_once();
    let options: InitOptions = serde_wasm_bindgen::from_value(options)
        .map_err(|e| JsError::new(&format!("Backstop.init: invalid options: {e}")))?;
    let dsn = Dsn::parse(&options.dsn).map_err(|e| {
        JsError::new(&format!(
            "Backstop.init: invalid dsn {:?}: {e}",
            options.dsn
        ))
    })?;
    let envelope_url = dsn.envelope_url(&format!("{SDK_NAME}/{SDK_VERSION}"));
    let config = Config {
        dsn: dsn.to_string(),
        ingest_endpoint: sdk::ingest_endpoint(&envelope_url).to_string(),
        envelope_url,
        release: options.release.filter(|s| !s.is_empty()),
        environment: options.environment.filter(|s| !s.is_empty()),
        fetch_status_min: options.fetch_status_min.unwrap_or(DEFAULT_FETCH_STATUS_MIN),
    };
    hooks::install().map_err(|_| JsError::new("Backstop.init: needs a browser window"))?;
    state::configure(config, options.max_events.unwrap_or(DEFAULT_MAX_EVENTS));
    Ok(())
}

/// Reports `error` (an `Error`, or any value) as a handled exception. Returns the event id,
/// or `undefined` if nothing was sent (not initialised, budget spent, called re-entrantly).
#[wasm_bindgen]
pub fn capture_exception(error: JsValue) -> Option<String> {
    capture::capture(|| capture::exception_draft(&error))
}

/// Reports a message at `level` (`fatal`, `error`, `warning`, `info` (default), `debug`).
/// Returns the event id, or `undefined` if nothing was sent.
#[wasm_bindgen]
pub fn capture_message(message: &str, level: Option<String>) -> Option<String> {
    capture::capture(|| Some(capture::message_draft(message, level.as_deref())))
}

/// Reports what the JS stub buffered before the wasm was ready: items
/// `{kind: "error", error, message, filename, lineno, colno}`, `{kind: "rejection", reason}`
/// and `{kind: "resource", tag, src}`. Unknown items are skipped; at most 100 are read.
#[wasm_bindgen]
pub fn drain_early(buffer: js_sys::Array) {
    const MAX_ITEMS: u32 = 100;
    for i in 0..buffer.length().min(MAX_ITEMS) {
        let Some(item) = js::get(&buffer, &i.to_string()) else {
            continue;
        };
        match js::get_str(&item, "kind").as_deref() {
            Some("error") => capture::capture(|| capture::error_event_draft(&item)),
            Some("rejection") => capture::capture(|| capture::rejection_draft(&item)),
            Some("resource") => capture::capture(|| {
                let tag = js::get_str(&item, "tag").unwrap_or_default();
                let src = js::get_str(&item, "src").unwrap_or_default();
                Some(capture::resource_draft(&tag, &src))
            }),
            _ => None,
        };
    }
}
