//! Turning page errors into events and sending them.
//!
//! Every capture goes through [`capture`]: it takes the re-entrancy guard *first*, then the
//! budget, and only then reads page values (getters may throw or capture again), builds the
//! event, sends it and notifies the page, all still inside the guard. Anything that happens
//! while the guard is held (a throwing `backstop:sent` listener, a `stack` getter calling
//! `captureException`) is dropped, never captured.

use std::collections::BTreeMap;

use backstop_core::sdk::{self, MAX_VALUE_LEN};
use backstop_core::stack::{is_in_app, parse_stack};
use backstop_protocol::{
    write_single_item, EnvelopeHeader, Event, Exception, ExceptionList, Frame, Mechanism,
    RequestInfo, SdkInfo, Stacktrace, SDK_NAME, SDK_VERSION,
};
use wasm_bindgen::prelude::*;

use crate::js::{self, get, get_nonempty, get_str, get_u32};
use crate::{state, testing, transport, Config};

/// Which hook saw the problem; reported as `detail.kind` of `backstop:sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Window `error` with an error (or a cross-origin "Script error.").
    Error,
    /// Window `error` from an element that failed to load.
    Resource,
    /// `unhandledrejection`.
    Rejection,
    /// A `fetch` that failed or answered with a reportable status.
    Fetch,
    /// `Backstop.captureException`.
    Exception,
    /// `Backstop.captureMessage`.
    Message,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Resource => "resource",
            Self::Rejection => "rejection",
            Self::Fetch => "fetch",
            Self::Exception => "exception",
            Self::Message => "message",
        }
    }
}

/// What a hook contributes to an event.
pub(crate) struct Draft {
    kind: Kind,
    level: &'static str,
    message: Option<String>,
    exception: Option<Exception>,
    tags: BTreeMap<String, String>,
}

impl Draft {
    fn exception(kind: Kind, exception: Exception) -> Self {
        Self {
            kind,
            level: "error",
            message: None,
            exception: Some(exception),
            tags: BTreeMap::new(),
        }
    }

    fn tag(mut self, key: &str, value: String) -> Self {
        self.tags.insert(key.into(), value);
        self
    }
}

/// Runs one capture: guard, budget, `draft()` (which may touch page values), build, send,
/// notify. Returns the event id, or `None` when not initialised, re-entered, over budget or
/// when the draft declines.
pub(crate) fn capture(draft: impl FnOnce() -> Option<Draft>) -> Option<String> {
    state::GUARD.with(|guard| {
        let _entered = guard.enter()?;
        let config = state::config()?;
        // Cheap exit first (an error loop past the cap reads nothing); the event is only
        // counted once the draft exists (a declined fetch abort costs nothing).
        if !state::budget_left() {
            return None;
        }
        let draft = draft()?;
        if !state::take_budget() {
            return None;
        }
        send(&config, draft)
    })
}

fn send(config: &Config, draft: Draft) -> Option<String> {
    let kind = draft.kind;
    let event_id = sdk::event_id_from_bytes(js::random_bytes());
    let (ty, value) = match &draft.exception {
        Some(e) => (Some(e.ty.clone()), e.value.clone()),
        None => (None, draft.message.clone().unwrap_or_default()),
    };
    let mut headers = BTreeMap::new();
    headers.insert("User-Agent".to_string(), js::user_agent());
    let event = Event {
        event_id: event_id.clone(),
        timestamp: js_sys::Date::now() / 1000.0,
        platform: "javascript".into(),
        level: draft.level.into(),
        message: draft.message,
        exception: draft.exception.map(|e| ExceptionList { values: vec![e] }),
        request: Some(RequestInfo {
            url: js::page_url(),
            headers,
        }),
        release: config.release.clone(),
        environment: config.environment.clone(),
        tags: draft.tags,
        sdk: SdkInfo {
            name: SDK_NAME.into(),
            version: SDK_VERSION.into(),
        },
    };
    let header = EnvelopeHeader {
        event_id: Some(event_id.clone()),
        dsn: Some(config.dsn.clone()),
        sent_at: js_sys::Date::new_0().to_iso_string().as_string(),
    };
    let payload = serde_json::to_string(&event).ok()?;
    let header = serde_json::to_string(&header).ok()?;
    let envelope = write_single_item(&header, "event", &payload);
    let transport = transport::send(config, &envelope);
    testing::record(&event_id, kind, transport, &envelope);
    notify(&event_id, kind, ty.as_deref(), &value, transport);
    Some(event_id)
}

/// Dispatches `backstop:sent` on window. Runs inside the guard: a listener that throws makes
/// the browser report the exception through window `error`, which our listener then ignores.
fn notify(event_id: &str, kind: Kind, ty: Option<&str>, message: &str, transport: &str) {
    let detail = js_sys::Object::new();
    js::set(&detail, "event_id", &JsValue::from_str(event_id));
    js::set(&detail, "kind", &JsValue::from_str(kind.as_str()));
    js::set(
        &detail,
        "type",
        &ty.map_or(JsValue::NULL, JsValue::from_str),
    );
    js::set(&detail, "message", &JsValue::from_str(message));
    js::set(&detail, "transport", &JsValue::from_str(transport));
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    if let (Some(window), Ok(event)) = (
        web_sys::window(),
        web_sys::CustomEvent::new_with_event_init_dict("backstop:sent", &init),
    ) {
        let _ = window.dispatch_event(&event);
    }
}

fn bounded(s: &str) -> String {
    sdk::truncate(s, MAX_VALUE_LEN).to_string()
}

fn mechanism(ty: &str, handled: bool) -> Option<Mechanism> {
    Some(Mechanism {
        ty: ty.into(),
        handled,
    })
}

fn stacktrace(frames: Vec<Frame>) -> Option<Stacktrace> {
    (!frames.is_empty()).then_some(Stacktrace { frames })
}

/// An exception from an `Error`-like value, reading `stack`, `name` and `message` (in that
/// order; each read may run a page getter, which the guard makes harmless).
fn exception_from_error(err: &JsValue, mechanism_type: &str, handled: bool) -> Exception {
    let frames = get_str(err, "stack")
        .map(|s| parse_stack(&s))
        .unwrap_or_default();
    Exception {
        ty: get_nonempty(err, "name").map_or_else(|| "Error".into(), |n| bounded(&n)),
        value: get_str(err, "message")
            .map(|m| bounded(&m))
            .unwrap_or_default(),
        mechanism: mechanism(mechanism_type, handled),
        stacktrace: stacktrace(frames),
    }
}

/// The draft for a window `error` event, or for a buffered item of the same shape
/// (`{error, message, filename, lineno, colno}`). Element targets are resource failures.
pub(crate) fn error_event_draft(ev: &JsValue) -> Option<Draft> {
    if let Some(target) = get(ev, "target") {
        if let Some(tag) = get_nonempty(&target, "tagName") {
            return Some(resource_draft(&tag, &resource_src(&target)));
        }
    }
    let error = get(ev, "error").unwrap_or(JsValue::UNDEFINED);
    let mut exception = if js::is_error_like(&error) {
        exception_from_error(&error, "onerror", false)
    } else {
        let value = if error.is_undefined() || error.is_null() {
            // Cross-origin scripts give only "Script error." and no error object.
            get_str(ev, "message").unwrap_or_default()
        } else {
            js::describe(&error)
        };
        Exception {
            ty: "Error".into(),
            value: bounded(&value),
            mechanism: mechanism("onerror", false),
            stacktrace: None,
        }
    };
    if exception.stacktrace.is_none() {
        // No stack: the event's own position is the best frame there is.
        let frames = get_nonempty(ev, "filename")
            .map(|url| Frame {
                function: None,
                in_app: Some(is_in_app(&url)),
                filename: Some(url.clone()),
                abs_path: Some(url),
                lineno: get_u32(ev, "lineno"),
                colno: get_u32(ev, "colno"),
            })
            .into_iter()
            .collect();
        exception.stacktrace = stacktrace(frames);
    }
    Some(Draft::exception(Kind::Error, exception))
}

fn resource_src(target: &JsValue) -> String {
    ["currentSrc", "src", "href"]
        .iter()
        .find_map(|k| get_nonempty(target, k))
        .unwrap_or_default()
}

/// The draft for an element (`<img>`, `<script>`, `<link>`) that failed to load.
pub(crate) fn resource_draft(tag: &str, src: &str) -> Draft {
    Draft::exception(
        Kind::Resource,
        Exception {
            ty: "ResourceLoadError".into(),
            value: sdk::resource_error_value(tag, src),
            mechanism: mechanism("onerror", false),
            stacktrace: None,
        },
    )
    .tag("resource.tag", tag.to_ascii_lowercase())
}

/// The draft for an `unhandledrejection` event (or a buffered `{reason}` item).
pub(crate) fn rejection_draft(ev: &JsValue) -> Option<Draft> {
    let reason = get(ev, "reason").unwrap_or(JsValue::UNDEFINED);
    let exception = if js::is_error_like(&reason) {
        exception_from_error(&reason, "onunhandledrejection", false)
    } else {
        Exception {
            ty: "UnhandledRejection".into(),
            value: sdk::non_error_rejection_value(&js::describe(&reason)),
            mechanism: mechanism("onunhandledrejection", false),
            stacktrace: None,
        }
    };
    Some(Draft::exception(Kind::Rejection, exception))
}

/// The draft for `Backstop.captureException(value)`.
pub(crate) fn exception_draft(value: &JsValue) -> Option<Draft> {
    let exception = if js::is_error_like(value) {
        exception_from_error(value, "generic", true)
    } else {
        Exception {
            ty: "Error".into(),
            value: bounded(&js::describe(value)),
            mechanism: mechanism("generic", true),
            stacktrace: None,
        }
    };
    Some(Draft::exception(Kind::Exception, exception))
}

/// The draft for `Backstop.captureMessage(message, level)`.
pub(crate) fn message_draft(message: &str, level: Option<&str>) -> Draft {
    Draft {
        kind: Kind::Message,
        level: sdk::normalize_level(level, "info"),
        message: Some(bounded(message)),
        exception: None,
        tags: BTreeMap::new(),
    }
}

/// The draft for a `fetch` that rejected (network error, CORS...).
pub(crate) fn fetch_error_draft(method: &str, url: &str, reason: &JsValue) -> Option<Draft> {
    let name = get_str(reason, "name").unwrap_or_default();
    if !sdk::is_reportable_fetch_rejection(&name) {
        return None;
    }
    let mut exception = if js::is_error_like(reason) {
        exception_from_error(reason, "fetch", false)
    } else {
        Exception {
            ty: "TypeError".into(),
            value: js::describe(reason),
            ..Exception::default()
        }
    };
    exception.mechanism = mechanism("fetch", false);
    exception.value = bounded(&format!("{method} {url} failed: {}", exception.value));
    Some(
        Draft::exception(Kind::Fetch, exception)
            .tag("http.method", method.into())
            .tag("http.url", bounded(url)),
    )
}

/// The draft for a `fetch` answered with a reportable status.
pub(crate) fn fetch_status_draft(method: &str, url: &str, status: u16) -> Draft {
    Draft::exception(
        Kind::Fetch,
        Exception {
            ty: "HTTPError".into(),
            value: bounded(&format!("{method} {url} responded {status}")),
            mechanism: mechanism("fetch", false),
            stacktrace: None,
        },
    )
    .tag("http.method", method.into())
    .tag("http.url", bounded(url))
    .tag("http.status_code", status.to_string())
}
