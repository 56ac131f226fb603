//! The page hooks: window `error` (capture phase, so element load failures are seen too),
//! `unhandledrejection`, and the `fetch` wrapper.
//!
//! The JS callbacks are created once and live for the page: a promise reaction or a listener
//! reference held by the page can outlive an uninstall, and calling a dropped closure would
//! throw. When the SDK is not initialised they do nothing.

use std::cell::{Cell, RefCell};

use backstop_core::sdk;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::capture::{self, capture};
use crate::js::{self, get, get_fn, get_str};
use crate::state;

struct Callbacks {
    on_error: Closure<dyn Fn(JsValue)>,
    on_rejection: Closure<dyn Fn(JsValue)>,
    fetch: Closure<dyn Fn(JsValue, JsValue) -> Result<JsValue, JsValue>>,
    settled: Closure<dyn Fn(JsValue, JsValue, JsValue)>,
    noop: Closure<dyn Fn(JsValue)>,
}

impl Callbacks {
    fn new() -> Self {
        Self {
            on_error: Closure::new(|ev: JsValue| {
                capture(|| capture::error_event_draft(&ev));
            }),
            on_rejection: Closure::new(|ev: JsValue| {
                capture(|| capture::rejection_draft(&ev));
            }),
            fetch: Closure::new(wrapped_fetch),
            settled: Closure::new(fetch_settled),
            noop: Closure::new(|_: JsValue| {}),
        }
    }

    fn function<T: ?Sized>(closure: &Closure<T>) -> &Function {
        closure.as_ref().unchecked_ref()
    }
}

thread_local! {
    static CALLBACKS: Callbacks = Callbacks::new();
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
    static ORIGINAL_FETCH: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Installs the listeners and wraps `fetch`, once.
pub(crate) fn install() -> Result<(), JsValue> {
    if INSTALLED.get() {
        return Ok(());
    }
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    CALLBACKS.with(|cb| -> Result<(), JsValue> {
        window.add_event_listener_with_callback_and_bool(
            "error",
            Callbacks::function(&cb.on_error),
            true,
        )?;
        window.add_event_listener_with_callback(
            "unhandledrejection",
            Callbacks::function(&cb.on_rejection),
        )?;
        if let Some(original) = get_fn(&window, "fetch") {
            ORIGINAL_FETCH.replace(Some(original));
            js::set(&window, "fetch", Callbacks::function(&cb.fetch));
        }
        Ok(())
    })?;
    INSTALLED.set(true);
    Ok(())
}

/// Removes the listeners and restores `fetch` if nobody wrapped it after us.
pub(crate) fn uninstall() {
    if !INSTALLED.replace(false) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    CALLBACKS.with(|cb| {
        let _ = window.remove_event_listener_with_callback_and_bool(
            "error",
            Callbacks::function(&cb.on_error),
            true,
        );
        let _ = window.remove_event_listener_with_callback(
            "unhandledrejection",
            Callbacks::function(&cb.on_rejection),
        );
        let ours: &JsValue = Callbacks::function(&cb.fetch);
        if get(&window, "fetch").is_some_and(|f| &f == ours) {
            if let Some(original) = original_fetch() {
                js::set(&window, "fetch", &original);
            }
        }
    });
}

/// The `fetch` the SDK found at `init` (what the page called before us), else the current one.
pub(crate) fn original_fetch() -> Option<Function> {
    ORIGINAL_FETCH
        .with(|f| f.borrow().clone())
        .or_else(|| get_fn(&js::global(), "fetch"))
}

/// Attaches a no-op rejection handler to `promise` (a thenable), ignoring failures.
pub(crate) fn swallow(promise: &JsValue) {
    if let Some(then) = get_fn(promise, "then") {
        CALLBACKS.with(|cb| {
            let _ = then.call2(promise, &JsValue::UNDEFINED, Callbacks::function(&cb.noop));
        });
    }
}

/// `window.fetch` as the page sees it: calls the original and returns its very promise (or its
/// synchronous exception), observing the outcome on a side chain that never rejects.
fn wrapped_fetch(input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let original = original_fetch()
        .ok_or_else(|| JsValue::from(js_sys::TypeError::new("fetch is not available")))?;
    let result = original.call2(&js::global(), &input, &init)?;
    observe(&result, &input, &init);
    Ok(result)
}

fn observe(result: &JsValue, input: &JsValue, init: &JsValue) {
    let Some(config) = state::config() else {
        return;
    };
    // Reading the request may run page getters: do it under the guard, and skip fetches made
    // while the SDK itself is busy capturing (e.g. by a `backstop:sent` listener).
    let target = state::GUARD.with(|guard| {
        let _entered = guard.enter()?;
        let (method, url) = request_target(input, init);
        (!sdk::is_own_request(&url, &config.ingest_endpoint)).then_some((method, url))
    });
    let Some((method, url)) = target else {
        return;
    };
    let Some(then) = get_fn(result, "then") else {
        return;
    };
    let ctx: JsValue =
        js_sys::Array::of2(&JsValue::from_str(&method), &JsValue::from_str(&url)).into();
    CALLBACKS.with(|cb| {
        let settled = Callbacks::function(&cb.settled);
        let on_ok = settled.bind2(&JsValue::NULL, &ctx, &JsValue::TRUE);
        let on_err = settled.bind2(&JsValue::NULL, &ctx, &JsValue::FALSE);
        let _ = then.call2(result, on_ok.as_ref(), on_err.as_ref());
    });
}

/// Method and absolute URL of a `fetch(input, init)` call, without stringifying page objects
/// (that would run their `toString` a second time).
fn request_target(input: &JsValue, init: &JsValue) -> (String, String) {
    let url = input
        .as_string()
        .or_else(|| get_str(input, "url"))
        .or_else(|| get_str(input, "href"))
        .unwrap_or_default();
    let url = web_sys::Url::new_with_base(&url, &js::page_url()).map_or(url, |u| u.href());
    let method = get_str(init, "method")
        .or_else(|| get_str(input, "method"))
        .map_or_else(
            || "GET".to_string(),
            |m| sdk::truncate(&m, 32).to_ascii_uppercase(),
        );
    (method, url)
}

/// The side chain of a wrapped fetch: `ok` is true for a response, false for a rejection.
fn fetch_settled(ctx: JsValue, ok: JsValue, value: JsValue) {
    let method = get_str(&ctx, "0").unwrap_or_default();
    let url = get_str(&ctx, "1").unwrap_or_default();
    if ok.is_truthy() {
        let Some(config) = state::config() else {
            return;
        };
        let status = get(&value, "status")
            .and_then(|s| s.as_f64())
            .unwrap_or(0.0);
        if !(0.0..=f64::from(u16::MAX)).contains(&status) {
            return;
        }
        let status = status as u16;
        if sdk::is_reportable_status(status, config.fetch_status_min) {
            capture(|| Some(capture::fetch_status_draft(&method, &url, status)));
        }
    } else {
        capture(|| capture::fetch_error_draft(&method, &url, &value));
    }
}
