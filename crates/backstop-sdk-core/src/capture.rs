//! Turning what the stub saw into events, and sending them.
//!
//! Every capture goes through [`capture`]: it takes the re-entrancy guard *first*, then checks
//! the budget, builds the draft, filters, dedupes, samples, builds the event, runs
//! `beforeSend`, sends it and notifies the page, all inside the guard. Page code that runs
//! meanwhile (a `RegExp` of `ignoreErrors`, `beforeSend`, a `backstop:sent` listener) and calls
//! `captureException` is refused, never captured. (The stub holds its own flag while it reads
//! page values, so getters that capture are refused too.)

use backstop_protocol::{
    write_single_item, Exception, Frame, Mechanism, Stacktrace, SDK_NAME, SDK_VERSION,
};

use crate::breadcrumb::Breadcrumb;
use crate::config::Config;
use crate::prelude::*;
use crate::sdk::{self, cat, MAX_CAUSE_DEPTH, MAX_VALUE_LEN};
use crate::sdk_event::{
    debug_images, envelope_header, push_u64, set_pair, write_event, EventParts,
};
use crate::sdk_transport::Reason;
use crate::stack::{is_in_app, parse_stack};
use crate::{state, transport, Host};

/// What one capture contributes to an event.
pub struct Draft {
    /// Reported as `detail.kind` of `backstop:sent`.
    kind: &'static str,
    level: &'static str,
    message: Option<String>,
    /// Root cause first, the caught error last.
    exceptions: Vec<Exception>,
    tags: Vec<(String, String)>,
    function: Option<String>,
}

impl Draft {
    fn exceptions(kind: &'static str, exceptions: Vec<Exception>) -> Self {
        Self {
            kind,
            level: "error",
            message: None,
            exceptions,
            tags: Vec::new(),
            function: None,
        }
    }

    fn tag(mut self, key: &str, value: String) -> Self {
        self.tags.push((key.into(), value));
        self
    }

    /// The caught error (last).
    fn main(&self) -> Option<&Exception> {
        self.exceptions.last()
    }
}

/// Runs one capture: guard, budget, `draft()`, filters, dedupe, sampling, build, `beforeSend`,
/// send, notify. Returns the event id, or `None` when nothing was sent.
pub fn capture<H: Host>(h: &H, draft: &mut dyn FnMut() -> Option<Draft>) -> Option<String> {
    let _entered = Entered::enter(h)?;
    let config = state::config(h)?;
    if h.state(|s| s.budget.remaining() == 0) {
        dropped(h, Reason::EventProcessor);
        return None;
    }
    let draft = draft()?;
    process(h, &config, draft)
}

/// Inside a capture; leaving happens on drop (also when `draft` or a port returns early).
struct Entered<'a, H: Host>(&'a H);

impl<'a, H: Host> Entered<'a, H> {
    fn enter(h: &'a H) -> Option<Self> {
        let busy = h.state(|s| core::mem::replace(&mut s.capturing, true));
        // Lazily: a refused capture must not make (and drop) the proof of the running one.
        (!busy).then(|| Self(h))
    }
}

impl<H: Host> Drop for Entered<'_, H> {
    fn drop(&mut self) {
        self.0.state(|s| s.capturing = false);
    }
}

/// Counts one dropped event.
fn dropped(h: &impl Host, reason: Reason) {
    h.state(|s| s.dropped(reason, "error", 1));
}

fn process<H: Host>(h: &H, config: &Config, draft: Draft) -> Option<String> {
    if is_filtered(h, config, &draft) || h.state(|s| s.dedupe.is_repeat(dedupe_key(&draft))) {
        dropped(h, Reason::EventProcessor);
        return None;
    }
    if !sdk::is_sampled(config.sample_rate, h.random()) {
        dropped(h, Reason::SampleRate);
        return None;
    }
    if transport::is_limited(h) {
        dropped(h, Reason::RatelimitBackoff);
        return None;
    }
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let n = (h.random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&n.to_le_bytes());
    }
    let event_id = sdk::event_id_from_bytes(bytes);
    let Some(payload) = h.before_send(&build(h, config, &draft, &event_id)) else {
        dropped(h, Reason::BeforeSend);
        return None;
    };
    if !h.state(|s| core::mem::replace(&mut s.session_loaded, true)) {
        // The cap is per session: earlier page loads of this tab count.
        let spent = h.load(&config.session_key).and_then(|n| sdk::parse_u32(&n));
        h.state(|s| s.budget.restore_used(spent.unwrap_or(0)));
    }
    let Some(spent) = h.state(|s| s.budget.try_take().then(|| s.budget.used())) else {
        dropped(h, Reason::EventProcessor);
        return None;
    };
    let mut count = String::new();
    push_u64(&mut count, u64::from(spent));
    h.store(&config.session_key, &count);
    let header = envelope_header(Some(&event_id), &config.dsn, &h.iso_now());
    let envelope = write_single_item(&header, "event", &payload);
    h.record(&event_id, draft.kind, "fetch", &envelope);
    transport::captured(h, config, envelope);
    let (ty, value) = match draft.main() {
        Some(e) => (Some(e.ty.clone()), e.value.as_str()),
        None => (None, draft.message.as_deref().unwrap_or_default()),
    };
    h.notify(&event_id, draft.kind, ty, value, "fetch");
    Some(event_id)
}

/// `ignoreErrors`, `denyUrls`/`allowUrls` (on the innermost frame of the caught error),
/// browser-extension frames and messages, and the browser's bare `Script error.`.
fn is_filtered(h: &impl Host, config: &Config, draft: &Draft) -> bool {
    let mut texts: Vec<String> = Vec::new();
    if let Some(m) = &draft.message {
        texts.push(m.clone());
    }
    if let Some(e) = draft.main() {
        let no_stack = e.stacktrace.as_ref().is_none_or(|s| s.frames.len() <= 1);
        if no_stack && sdk::is_script_error(&e.value) {
            return true;
        }
        texts.push(cat(&[e.ty.as_str(), ": ", &e.value]));
        texts.push(e.value.clone());
    }
    if texts.iter().any(|t| sdk::is_extension_message(t))
        || texts
            .iter()
            .any(|t| config.ignore_errors.iter().any(|p| p.matches(h, t)))
    {
        return true;
    }
    let url = draft
        .main()
        .and_then(|e| e.stacktrace.as_ref())
        .and_then(|s| {
            s.frames
                .iter()
                .rev()
                .filter_map(|f| f.abs_path.as_deref())
                .find(|p| sdk::is_script_url(p))
        });
    let Some(url) = url else {
        return false;
    };
    sdk::is_extension_url(url)
        || config.deny_urls.iter().any(|p| p.matches(h, url))
        || (!config.allow_urls.is_empty() && !config.allow_urls.iter().any(|p| p.matches(h, url)))
}

/// Message, or type, value and frames of every exception.
fn dedupe_key(draft: &Draft) -> u64 {
    let mut key = draft.message.clone().unwrap_or_default();
    for e in &draft.exceptions {
        key.push('\u{1}');
        key.push_str(&e.ty);
        key.push('\u{1}');
        key.push_str(&e.value);
        for f in e.stacktrace.iter().flat_map(|s| &s.frames) {
            key.push('\u{1}');
            key.push_str(f.abs_path.as_deref().unwrap_or_default());
            key.push_str(f.function.as_deref().unwrap_or_default());
            push_u64(&mut key, u64::from(f.lineno.unwrap_or(0)));
            key.push(':');
            push_u64(&mut key, u64::from(f.colno.unwrap_or(0)));
        }
    }
    sdk::hash_parts([key.as_str()])
}

fn build(h: &impl Host, config: &Config, draft: &Draft, event_id: &str) -> String {
    // Page values are read before the state is borrowed: a page's patched Date.now or location
    // getter may call back into the SDK.
    let url = h.page_url();
    let now = h.now() as u64;
    let images = debug_images(&h.debug_ids(), &draft.exceptions);
    h.state(|s| {
        let mut tags = s.scope.tags.clone();
        for (k, v) in &draft.tags {
            set_pair(&mut tags, k, v.clone(), 64);
        }
        let crumbs = s.crumbs.to_vec();
        write_event(&EventParts {
            event_id,
            epoch_ms: now,
            level: draft.level,
            message: draft.message.as_deref(),
            exceptions: &draft.exceptions,
            mechanism_function: draft.function.as_deref(),
            url: &url,
            user_agent: &config.user_agent,
            release: config.release.as_deref(),
            environment: config.environment.as_deref(),
            tags: &tags,
            user_json: s.scope.user.as_deref(),
            contexts: &s.scope.contexts,
            extra: &s.scope.extra,
            breadcrumbs: &crumbs,
            sdk: (SDK_NAME, SDK_VERSION),
            debug_images: &images,
        })
    })
}

fn bounded(s: &str) -> String {
    sdk::truncate(s, MAX_VALUE_LEN).to_string()
}

fn exception(
    ty: &str,
    value: &str,
    mechanism: &str,
    handled: bool,
    frames: Vec<Frame>,
) -> Exception {
    Exception {
        ty: bounded(ty),
        value: bounded(value),
        mechanism: Some(Mechanism {
            ty: mechanism.into(),
            handled,
        }),
        stacktrace: (!frames.is_empty()).then_some(Stacktrace { frames }),
    }
}

/// One chain entry: `E<name>\u{1}<message>\u{1}<stack>` or `V<description>`. `non_error` turns
/// a description into (type, value).
fn entry_exception(
    entry: &str,
    mechanism: &str,
    handled: bool,
    non_error: impl Fn(&str) -> (&'static str, String),
) -> Exception {
    if let Some(err) = entry.strip_prefix('E') {
        let mut f = err.splitn(3, '\u{1}');
        let name = f.next().filter(|n| !n.is_empty()).unwrap_or("Error");
        let message = f.next().unwrap_or("");
        let frames = parse_stack(f.next().unwrap_or(""));
        exception(name, message, mechanism, handled, frames)
    } else {
        let (ty, value) = non_error(entry.strip_prefix('V').unwrap_or(entry));
        exception(ty, &value, mechanism, handled, Vec::new())
    }
}

/// The draft for `kind` (`error`, `wrapped`, `rejection`, `exception`) from a chain of values
/// (see `capture` of `backstop-browser`).
pub fn error_draft(kind: &str, chain: &str, location: &str, function: &str) -> Option<Draft> {
    // A wrapped callback's error is still uncaught (the stub rethrows it to the browser), so
    // it keeps `onerror`; `mechanism.data.function` names the API whose wrapper caught it.
    let wrapped = kind == "wrapped";
    let (kind, mechanism, handled) = match kind {
        "error" | "wrapped" => ("error", "onerror", false),
        "rejection" => ("rejection", "onunhandledrejection", false),
        "exception" => ("exception", "generic", true),
        _ => return None,
    };
    let mut exceptions: Vec<Exception> = chain
        .split('\u{2}')
        .take(MAX_CAUSE_DEPTH + 1)
        .enumerate()
        .map(|(i, entry)| {
            entry_exception(entry, mechanism, handled, |desc| {
                if i == 0 && kind == "rejection" {
                    ("UnhandledRejection", sdk::non_error_rejection_value(desc))
                } else {
                    ("Error", desc.into())
                }
            })
        })
        .collect();
    exceptions.reverse();
    if let Some(main) = exceptions.last_mut().filter(|e| e.stacktrace.is_none()) {
        // No stack: the error event's own position is the best frame there is.
        let mut f = location.split('\u{1}');
        if let Some(url) = f.next().filter(|u| !u.is_empty()) {
            let num = |s: Option<&str>| s.and_then(sdk::parse_u32).filter(|n| *n > 0);
            main.stacktrace = Some(Stacktrace {
                frames: vec![Frame {
                    function: None,
                    in_app: Some(is_in_app(url)),
                    filename: Some(url.into()),
                    abs_path: Some(url.into()),
                    lineno: num(f.next()),
                    colno: num(f.next()),
                }],
            });
        }
    }
    let mut draft = Draft::exceptions(kind, exceptions);
    if wrapped {
        draft.function = Some(sdk::truncate(function, 64).into());
    }
    Some(draft)
}

/// The draft for an element (`<img>`, `<script>`, `<link>`) that failed to load.
pub fn resource_draft(tag: &str, src: &str) -> Draft {
    let value = sdk::resource_error_value(tag, src);
    Draft::exceptions(
        "resource",
        vec![exception(
            "ResourceLoadError",
            &value,
            "onerror",
            false,
            Vec::new(),
        )],
    )
    .tag("resource.tag", tag.to_ascii_lowercase())
}

/// The draft for `captureMessage(message, level)`.
pub fn message_draft(message: &str, level: Option<&str>) -> Draft {
    Draft {
        kind: "message",
        level: sdk::normalize_level(level, "info"),
        message: Some(bounded(message)),
        exceptions: Vec::new(),
        tags: Vec::new(),
        function: None,
    }
}

/// The draft for a Rust panic: its message and where it happened.
pub fn panic_draft(message: &str, file: &str, line: u32, column: u32) -> Draft {
    let frame = Frame {
        function: None,
        filename: Some(file.into()),
        abs_path: Some(file.into()),
        lineno: Some(line),
        colno: Some(column),
        in_app: Some(true),
    };
    let mut d = Draft::exceptions(
        "panic",
        vec![exception("panic", message, "panic", false, vec![frame])],
    );
    d.level = "fatal";
    d
}

/// A finished `fetch` or `XMLHttpRequest` (`kind`): a breadcrumb, and an event for a failed
/// status or a failure without response. `error` is empty for a response, else a chain entry
/// (`E...`/`V...`) for the failure; `abort` (or an `AbortError`) is the page's decision. `at`:
/// when it finished (see [`state::crumb_time`]).
#[allow(clippy::too_many_arguments)]
pub fn request_done<H: Host>(
    h: &H,
    kind: &str,
    method: &str,
    url: &str,
    status: u16,
    duration_ms: f64,
    error: &str,
    at: f64,
) {
    let Some(config) = state::config(h) else {
        return;
    };
    let kind: &'static str = if kind == "xhr" { "xhr" } else { "fetch" };
    if sdk::is_own_request(url, &config.ingest_endpoint)
        || error == "abort"
        || error.starts_with("EAbortError\u{1}")
    {
        return;
    }
    let method = sdk::truncate(method, 32).to_ascii_uppercase();
    let method = if method.is_empty() {
        "GET".into()
    } else {
        method
    };
    let duration = if duration_ms > 0.0 {
        duration_ms as u64
    } else {
        0
    };
    let now = state::crumb_time(h, at);
    if error.is_empty() {
        let c = Breadcrumb::http(now, kind, &method, url, Some(status), duration);
        h.state(|s| s.crumb(c));
        if sdk::is_failed_status(status, &config.failed_status) {
            let mut code = String::new();
            push_u64(&mut code, u64::from(status));
            capture(h, &mut || {
                let value = cat(&[method.as_str(), " ", url, " responded ", &code]);
                let e = exception("HTTPError", &value, kind, false, Vec::new());
                Some(
                    http_tags(Draft::exceptions(kind, vec![e]), &method, url)
                        .tag("http.status_code", code.clone()),
                )
            });
        }
    } else {
        capture(h, &mut || {
            let mut e = entry_exception(error, kind, false, |d| ("TypeError", d.into()));
            e.value = bounded(&cat(&[method.as_str(), " ", url, " failed: ", &e.value]));
            Some(http_tags(Draft::exceptions(kind, vec![e]), &method, url))
        });
        // After the event: the trail describes what came before this failure.
        let c = Breadcrumb::http(now, kind, &method, url, None, duration);
        h.state(|s| s.crumb(c));
    }
}

fn http_tags(draft: Draft, method: &str, url: &str) -> Draft {
    draft
        .tag("http.method", method.into())
        .tag("http.url", bounded(url))
}
