//! One attempt to reach an origin: method, URL, headers and a streamed body, with a timeout
//! on the response headers (an `AbortController` cancels the request when it passes).

use backstop_guard_core::decision::AttemptResult;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStream, RequestRedirect};

use super::js;

/// What an attempt produced: the classified result, the response when the origin answered
/// (its body still unread), and how long it took.
pub(crate) struct Attempt {
    /// Status, timeout or unreachable.
    pub(crate) result: AttemptResult,
    /// The origin's response, when it answered.
    pub(crate) response: Option<web_sys::Response>,
    /// Milliseconds until the answer (or the failure).
    pub(crate) duration_ms: u64,
}

/// Sends one request. Redirects are not followed (a 3xx means the payload did not land).
pub(crate) async fn send(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: Option<JsValue>,
    timeout_ms: u64,
) -> Attempt {
    let started = worker::Date::now().as_millis();
    let elapsed = || worker::Date::now().as_millis().saturating_sub(started);
    let fail = |e: String, body: &Option<JsValue>| {
        if let Some(b) = body.as_ref().and_then(|b| b.dyn_ref::<ReadableStream>()) {
            js::cancel(b);
        }
        Attempt {
            result: AttemptResult::Unreachable(e),
            response: None,
            duration_ms: 0,
        }
    };
    let headers = match js::headers_object(headers) {
        Ok(h) => h,
        Err(e) => return fail(e, &body),
    };
    let controller = match web_sys::AbortController::new() {
        Ok(c) => c,
        Err(e) => return fail(js::js_text(&e), &body),
    };
    let signal = controller.signal();
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&signal));
    if let Some(b) = &body {
        init.set_body(b);
    }
    let global: web_sys::WorkerGlobalScope = worker::js_sys::global().unchecked_into();
    let promise = global.fetch_with_str_and_init(url, &init);
    match js::with_timeout(JsFuture::from(promise), timeout_ms).await {
        None => {
            controller.abort();
            Attempt {
                result: AttemptResult::Timeout,
                response: None,
                duration_ms: elapsed(),
            }
        }
        Some(Err(e)) => Attempt {
            result: AttemptResult::Unreachable(js::js_text(&e)),
            response: None,
            duration_ms: elapsed(),
        },
        Some(Ok(v)) => match v.dyn_into::<web_sys::Response>() {
            Ok(resp) => Attempt {
                result: AttemptResult::Status(resp.status()),
                response: Some(resp),
                duration_ms: elapsed(),
            },
            Err(_) => Attempt {
                result: AttemptResult::Unreachable("fetch returned no response".into()),
                response: None,
                duration_ms: elapsed(),
            },
        },
    }
}

/// The start of a refusing origin's answer (at most 1 KiB, waiting at most a second), then the
/// rest is cancelled.
pub(super) async fn answer_prefix(response: Option<web_sys::Response>) -> Vec<u8> {
    match response.and_then(|r| r.body()) {
        Some(body) => js::read_prefix(body, 1024, 1_000).await,
        None => Vec::new(),
    }
}
