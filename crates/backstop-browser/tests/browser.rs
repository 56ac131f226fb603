//! The SDK in headless Chromium: hooks, events, fetch wrapper semantics, re-entrancy, transport
//! failures, budget. All tests share one page; each starts with `testing::reset()`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::cell::Cell;
use std::rc::Rc;

use backstop_browser::testing::{self, Sent};
use backstop_browser::{capture_exception, capture_message, drain_early, init};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens on port 59999: every send to it fails, which is what a dead collector does.
const DSN: &str = "http://testkey@127.0.0.1:59999/42";

/// Runs `body` as a JS function body and returns its result.
fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .unwrap_or_else(|e| panic!("JS failed: {e:?}\n{body}"))
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap()
}

async fn sleep(ms: u32) {
    let promise: js_sys::Promise = js(&format!(
        "return new Promise(function (r) {{ setTimeout(r, {ms}); }});"
    ))
    .into();
    JsFuture::from(promise).await.unwrap();
}

/// Fresh SDK state, real `fetch` back in place, recording on, then `init` with `extra` options.
fn setup(extra: &str) {
    testing::reset();
    js("if (window.__realFetch) { window.fetch = window.__realFetch; } else { window.__realFetch = window.fetch; }");
    testing::start_recording();
    init(js(&format!("return {{ dsn: '{DSN}' {extra} }};"))).unwrap();
}

/// Waits until `n` events were recorded (or 3 s passed), then a little longer to catch extras.
async fn recorded(n: usize) -> Vec<Sent> {
    let mut all = Vec::new();
    for _ in 0..150 {
        all.extend(testing::take_recorded());
        if all.len() >= n {
            break;
        }
        sleep(20).await;
    }
    sleep(50).await;
    all.extend(testing::take_recorded());
    all
}

fn payload(sent: &Sent) -> Value {
    serde_json::from_str(sent.payload())
        .unwrap_or_else(|e| panic!("bad payload {e}: {}", sent.envelope))
}

fn exception(sent: &Sent) -> Value {
    payload(sent)["exception"]["values"][0].clone()
}

fn frames(sent: &Sent) -> Vec<Value> {
    exception(sent)["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn error_listener_builds_event_with_parsed_frames() {
    setup(", release: 'web@1.2.3', environment: 'test'");
    js(r#"
        var e = new Error('kaput');
        e.stack = 'Error: kaput\n    at inner (http://app.test/a.js:10:5)\n    at outer (http://app.test/a.js:20:3)';
        window.dispatchEvent(new ErrorEvent('error', { error: e, message: 'Uncaught Error: kaput',
            filename: 'http://app.test/a.js', lineno: 10, colno: 5 }));
    "#);
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1, "one event");
    assert_eq!(sent[0].kind, "error");
    assert_eq!(sent[0].transport, "beacon");

    let mut lines = sent[0].envelope.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["event_id"], sent[0].event_id.as_str());
    assert_eq!(header["dsn"], DSN);
    assert!(
        header["sent_at"].as_str().unwrap().ends_with('Z'),
        "sent_at is ISO 8601: {header}"
    );
    assert_eq!(item["type"], "event");
    assert_eq!(
        item["length"].as_u64().unwrap() as usize,
        sent[0].payload().len()
    );

    let event = payload(&sent[0]);
    let id = event["event_id"].as_str().unwrap();
    assert_eq!(id, sent[0].event_id);
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(event["platform"], "javascript");
    assert_eq!(event["level"], "error");
    assert_eq!(event["release"], "web@1.2.3");
    assert_eq!(event["environment"], "test");
    assert_eq!(event["sdk"]["name"], "backstop.browser");
    assert!(
        event["timestamp"].as_f64().unwrap() > 1.7e9,
        "seconds since epoch"
    );
    let href = js("return location.href;").as_string().unwrap();
    assert_eq!(event["request"]["url"], href.as_str());
    assert!(!event["request"]["headers"]["User-Agent"]
        .as_str()
        .unwrap()
        .is_empty());

    let exc = exception(&sent[0]);
    assert_eq!(exc["type"], "Error");
    assert_eq!(exc["value"], "kaput");
    assert_eq!(exc["mechanism"]["type"], "onerror");
    assert_eq!(exc["mechanism"]["handled"], false);
    let frames = frames(&sent[0]);
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["outer", "inner"], "oldest first");
    assert_eq!(frames[1]["filename"], "http://app.test/a.js");
    assert_eq!(frames[1]["abs_path"], "http://app.test/a.js");
    assert_eq!(frames[1]["lineno"], 10);
    assert_eq!(frames[1]["colno"], 5);
    assert_eq!(frames[1]["in_app"], true);
}

#[wasm_bindgen_test]
async fn real_uncaught_error_is_reported_with_its_stack() {
    setup("");
    js("setTimeout(function boomHandler() { throw new TypeError('real uncaught'); }, 0);");
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1, "one event");
    let exc = exception(&sent[0]);
    assert_eq!(exc["type"], "TypeError");
    assert_eq!(exc["value"], "real uncaught");
    let frames = frames(&sent[0]);
    assert_eq!(
        frames.last().unwrap()["function"],
        "boomHandler",
        "innermost frame last: {frames:?}"
    );
}

#[wasm_bindgen_test]
async fn cross_origin_script_error_gets_a_frame_from_the_event() {
    setup("");
    js(
        r#"window.dispatchEvent(new ErrorEvent('error', { error: null, message: 'Script error.',
        filename: 'https://cdn.test/lib.js', lineno: 3, colno: 7 }));"#,
    );
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1);
    let exc = exception(&sent[0]);
    assert_eq!(exc["value"], "Script error.");
    let frames = frames(&sent[0]);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["filename"], "https://cdn.test/lib.js");
    assert_eq!(frames[0]["lineno"], 3);
    assert_eq!(frames[0]["colno"], 7);
}

#[wasm_bindgen_test]
async fn resource_load_error_reports_tag_and_src() {
    setup("");
    js(r#"
        var img = document.createElement('img');
        img.id = 'broken-img';
        img.src = 'http://127.0.0.1:59999/missing.png';
        document.body.appendChild(img);
    "#);
    let sent = recorded(1).await;
    js("var i = document.getElementById('broken-img'); if (i) i.remove();");
    assert_eq!(sent.len(), 1, "one event");
    assert_eq!(sent[0].kind, "resource");
    let exc = exception(&sent[0]);
    assert_eq!(exc["type"], "ResourceLoadError");
    assert_eq!(
        exc["value"],
        "Failed to load <img> http://127.0.0.1:59999/missing.png"
    );
    assert_eq!(payload(&sent[0])["tags"]["resource.tag"], "img");
}

#[wasm_bindgen_test]
async fn unhandled_rejections_with_non_error_reasons_are_described() {
    setup("");
    js(r#"
        Promise.reject('plain string');
        Promise.reject(null);
        Promise.reject({ code: 42 });
        Promise.reject(undefined);
        var cyclic = {}; cyclic.self = cyclic;
        Promise.reject(cyclic);
        Promise.reject(new RangeError('out of range'));
    "#);
    let sent = recorded(6).await;
    assert_eq!(sent.len(), 6, "one event per rejection");
    assert!(sent.iter().all(|s| s.kind == "rejection"));
    let got: Vec<(String, String)> = sent
        .iter()
        .map(|s| {
            let e = exception(s);
            assert_eq!(e["mechanism"]["type"], "onunhandledrejection");
            (
                e["type"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (
            "UnhandledRejection",
            "Non-Error promise rejection: plain string",
        ),
        ("UnhandledRejection", "Non-Error promise rejection: null"),
        (
            "UnhandledRejection",
            "Non-Error promise rejection: {\"code\":42}",
        ),
        (
            "UnhandledRejection",
            "Non-Error promise rejection: undefined",
        ),
        (
            "UnhandledRejection",
            "Non-Error promise rejection: [object Object]",
        ),
        ("RangeError", "out of range"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// Replaces the real `fetch` (before `init` wraps it) with a fake that records what it returned.
fn fake_fetch(body: &str) {
    js(&format!(
        "window.fetch = function (input, init) {{ window.__fakeCalls = (window.__fakeCalls || 0) + 1; \
         var r = (function () {{ {body} }})(); window.__fakeReturned = r; return r; }}; \
         window.__fakeFetch = window.fetch;"
    ));
}

fn setup_with_fake_fetch(body: &str, extra: &str) {
    testing::reset();
    js("if (window.__realFetch) { window.fetch = window.__realFetch; } else { window.__realFetch = window.fetch; }");
    fake_fetch(body);
    testing::start_recording();
    init(js(&format!("return {{ dsn: '{DSN}' {extra} }};"))).unwrap();
}

#[wasm_bindgen_test]
async fn fetch_wrapper_returns_the_same_promise_and_reports_5xx_only() {
    setup_with_fake_fetch(
        "return Promise.resolve(new Response('body', { status: window.__status }));",
        "",
    );
    assert!(
        js("return window.fetch !== window.__fakeFetch;").is_truthy(),
        "fetch is wrapped"
    );

    for (status, reported) in [(503, true), (404, false), (200, false), (500, true)] {
        js(&format!("window.__status = {status};"));
        let returned = js("return window.fetch('/api/thing', { method: 'post', body: 'x' });");
        assert!(
            js_sys::Object::is(&returned, &js("return window.__fakeReturned;")),
            "same promise object"
        );
        let response = JsFuture::from(js_sys::Promise::from(returned))
            .await
            .unwrap();
        assert_eq!(
            get(&response, "status").as_f64(),
            Some(f64::from(status)),
            "same response"
        );
        assert_eq!(
            get(&response, "bodyUsed"),
            JsValue::FALSE,
            "SDK does not read the body"
        );
        let sent = recorded(usize::from(reported)).await;
        assert_eq!(sent.len(), usize::from(reported), "status {status}");
        if reported {
            assert_eq!(sent[0].kind, "fetch");
            let exc = exception(&sent[0]);
            let origin = js("return location.origin;").as_string().unwrap();
            assert_eq!(exc["type"], "HTTPError");
            assert_eq!(
                exc["value"],
                format!("POST {origin}/api/thing responded {status}").as_str()
            );
            assert_eq!(exc["mechanism"]["type"], "fetch");
            let tags = &payload(&sent[0])["tags"];
            assert_eq!(tags["http.status_code"], status.to_string().as_str());
            assert_eq!(tags["http.method"], "POST");
        }
    }

    testing::reset();
    assert!(
        js("return window.fetch === window.__fakeFetch;").is_truthy(),
        "reset restores fetch"
    );
}

#[wasm_bindgen_test]
async fn fetch_status_min_is_configurable() {
    setup_with_fake_fetch(
        "return Promise.resolve(new Response('', { status: 404 }));",
        ", fetchStatusMin: 400",
    );
    JsFuture::from(js_sys::Promise::from(js("return fetch('/missing');")))
        .await
        .unwrap();
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1, "404 reported when fetchStatusMin is 400");
}

#[wasm_bindgen_test]
async fn fetch_wrapper_passes_the_same_rejection_and_reports_network_errors() {
    setup_with_fake_fetch(
        "window.__fakeError = new TypeError('Failed to fetch'); return Promise.reject(window.__fakeError);",
        "",
    );
    let returned =
        js("return window.fetch(new Request('http://api.test/items', { method: 'DELETE' }));");
    assert!(
        js_sys::Object::is(&returned, &js("return window.__fakeReturned;")),
        "same promise object"
    );
    let err = JsFuture::from(js_sys::Promise::from(returned))
        .await
        .unwrap_err();
    assert!(
        js_sys::Object::is(&err, &js("return window.__fakeError;")),
        "same rejection value"
    );
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1, "one event, the side chain never rejects");
    let exc = exception(&sent[0]);
    assert_eq!(exc["type"], "TypeError");
    assert_eq!(
        exc["value"],
        "DELETE http://api.test/items failed: Failed to fetch"
    );
    assert_eq!(exc["mechanism"]["type"], "fetch");
    assert_eq!(
        payload(&sent[0])["tags"]["http.url"],
        "http://api.test/items"
    );

    // Aborts are the page's decision, not failures.
    setup_with_fake_fetch(
        "return Promise.reject(new DOMException('The user aborted a request.', 'AbortError'));",
        "",
    );
    let _ = JsFuture::from(js_sys::Promise::from(js("return fetch('/slow');"))).await;
    assert_eq!(recorded(0).await.len(), 0, "abort not reported");

    // A synchronous throw from the original passes through unchanged.
    setup_with_fake_fetch(
        "window.__syncError = new Error('sync'); throw window.__syncError;",
        "",
    );
    let same =
        js("try { fetch('/x'); return false; } catch (e) { return e === window.__syncError; }");
    assert!(same.is_truthy(), "same synchronous exception");
    assert_eq!(
        recorded(0).await.len(),
        0,
        "no event for a synchronous throw"
    );
}

#[wasm_bindgen_test]
async fn real_network_error_is_reported() {
    setup("");
    let result = JsFuture::from(js_sys::Promise::from(js(
        "return fetch('http://127.0.0.1:59999/nothing');",
    )))
    .await;
    let err = result.expect_err("nothing listens on 59999");
    assert_eq!(get(&err, "name"), "TypeError");
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1);
    let value = exception(&sent[0])["value"].as_str().unwrap().to_string();
    assert!(
        value.starts_with("GET http://127.0.0.1:59999/nothing failed: "),
        "{value}"
    );
}

#[wasm_bindgen_test]
async fn requests_to_the_own_ingest_endpoint_are_never_reported() {
    setup_with_fake_fetch(
        "return Promise.resolve(new Response('', { status: 500 }));",
        "",
    );
    for url in [
        "http://127.0.0.1:59999/api/42/envelope/?sentry_key=testkey",
        "http://127.0.0.1:59999/api/42/envelope/",
    ] {
        JsFuture::from(js_sys::Promise::from(js(&format!(
            "return fetch('{url}', {{ method: 'POST' }});"
        ))))
        .await
        .unwrap();
    }
    assert_eq!(recorded(0).await.len(), 0, "own endpoint ignored");
    JsFuture::from(js_sys::Promise::from(js(
        "return fetch('http://127.0.0.1:59999/api/42/other');",
    )))
    .await
    .unwrap();
    assert_eq!(
        recorded(1).await.len(),
        1,
        "other paths on the same host are reported"
    );
}

#[wasm_bindgen_test]
async fn throwing_getters_are_swallowed_without_a_second_event() {
    setup("");
    let err = js(r#"
        var e = new Error('getter');
        Object.defineProperty(e, 'stack', { get: function () { throw new Error('stack getter exploded'); } });
        return e;
    "#);
    let id = capture_exception(err.clone());
    assert!(id.is_some(), "still reported");
    js_sys::Reflect::set(&js_sys::global(), &"__err".into(), &err).unwrap();
    js("window.dispatchEvent(new ErrorEvent('error', { error: window.__err }));");

    let weird = js(r#"
        var e = new Error('weird');
        Object.defineProperty(e, 'name', { get: function () { throw 1; } });
        Object.defineProperty(e, 'message', { get: function () { throw 2; } });
        return e;
    "#);
    assert!(capture_exception(weird).is_some());
    let proxy = js("return new Proxy({}, { get: function () { throw new Error('trap'); }, getPrototypeOf: function () { throw new Error('trap'); } });");
    assert!(
        capture_exception(proxy).is_some(),
        "a hostile proxy is still a value"
    );

    let sent = recorded(4).await;
    assert_eq!(
        sent.len(),
        4,
        "exactly the four captures, nothing from the throwing getters"
    );
    let exc = exception(&sent[0]);
    assert_eq!(exc["value"], "getter");
    assert!(
        exc.get("stacktrace").is_none(),
        "no stack when the getter throws"
    );
    assert_eq!(exception(&sent[1])["value"], "getter", "window error path");
    assert_eq!(exception(&sent[2])["type"], "Error", "default type");
    assert_eq!(exception(&sent[2])["value"], "");
}

#[wasm_bindgen_test]
async fn reentrant_capture_from_a_getter_is_dropped() {
    setup("");
    let inner: Rc<Cell<Option<bool>>> = Rc::new(Cell::new(None));
    let inner2 = inner.clone();
    let getter = Closure::<dyn Fn() -> JsValue>::new(move || {
        inner2.set(Some(
            capture_exception(JsValue::from_str("from getter")).is_some(),
        ));
        // Also re-enter through the window error listener.
        js("window.dispatchEvent(new ErrorEvent('error', { error: new Error('nested') }));");
        JsValue::from_str("Error: outer\n    at f (http://app.test/x.js:1:2)")
    });
    let err = js("return new Error('outer');");
    js_sys::Reflect::set(&js_sys::global(), &"__getter".into(), getter.as_ref()).unwrap();
    js_sys::Reflect::set(&js_sys::global(), &"__outer".into(), &err).unwrap();
    js("Object.defineProperty(window.__outer, 'stack', { get: window.__getter });");

    assert!(capture_exception(err).is_some(), "outer capture sent");
    assert_eq!(inner.get(), Some(false), "inner capture refused");
    let sent = recorded(1).await;
    assert_eq!(sent.len(), 1, "no second event");
    assert_eq!(frames(&sent[0]).len(), 1, "getter result still used");

    // The guard is free again afterwards.
    assert!(capture_message("after", None).is_some());
}

#[wasm_bindgen_test]
async fn sent_notification_cannot_create_events() {
    setup("");
    let reentered: Rc<Cell<Option<bool>>> = Rc::new(Cell::new(None));
    let r2 = reentered.clone();
    let listener = Closure::<dyn Fn(JsValue)>::new(move |_| {
        r2.set(Some(capture_message("from listener", None).is_some()));
    });
    let window = web_sys::window().unwrap();
    window
        .add_event_listener_with_callback("backstop:sent", listener.as_ref().unchecked_ref())
        .unwrap();
    js(r#"
        window.__details = [];
        window.__thrower = function (e) { window.__details.push(e.detail); throw new Error('listener boom'); };
        window.addEventListener('backstop:sent', window.__thrower);
    "#);

    let id = capture_message("hello", Some("warn".into())).unwrap();
    let sent = recorded(1).await;
    window
        .remove_event_listener_with_callback("backstop:sent", listener.as_ref().unchecked_ref())
        .unwrap();
    js("window.removeEventListener('backstop:sent', window.__thrower);");

    assert_eq!(
        sent.len(),
        1,
        "neither the throwing nor the capturing listener made an event"
    );
    assert_eq!(
        reentered.get(),
        Some(false),
        "capture from the listener refused"
    );
    let event = payload(&sent[0]);
    assert_eq!(event["level"], "warning");
    assert_eq!(event["message"], "hello");
    let detail = js("return window.__details[0];");
    assert_eq!(js("return window.__details.length;").as_f64(), Some(1.0));
    assert_eq!(get(&detail, "event_id").as_string().unwrap(), id);
    assert_eq!(get(&detail, "kind"), "message");
    assert!(get(&detail, "type").is_null());
    assert_eq!(get(&detail, "message"), "hello");
    assert_eq!(get(&detail, "transport"), "beacon");
}

#[wasm_bindgen_test]
async fn transport_failure_creates_no_event() {
    setup("");
    js(r#"
        window.__rejections = 0;
        window.__countRejection = function () { window.__rejections++; };
        window.addEventListener('unhandledrejection', window.__countRejection);
    "#);
    testing::set_beacon_disabled(true);
    assert!(capture_message("via fetch", None).is_some());
    testing::set_beacon_disabled(false);
    // A body over 60 KB skips the beacon too.
    let stack: String = (0..100)
        .map(|i| {
            format!(
                "    at f{i} (http://app.test/{}.js:1:1)\\n",
                "x".repeat(900)
            )
        })
        .collect();
    let big = js(&format!(
        "var e = new Error('big'); e.stack = '{stack}'; return e;"
    ));
    assert!(capture_exception(big).is_some());

    sleep(500).await;
    let sent = recorded(2).await;
    js("window.removeEventListener('unhandledrejection', window.__countRejection);");
    assert_eq!(
        sent.len(),
        2,
        "the two captures, no event about the failed sends"
    );
    assert_eq!(sent[0].transport, "fetch");
    assert_eq!(sent[1].transport, "fetch");
    assert!(
        sent[1].envelope.len() > 60 * 1024,
        "big body: {}",
        sent[1].envelope.len()
    );
    assert_eq!(
        js("return window.__rejections;").as_f64(),
        Some(0.0),
        "no unhandled rejection reached the page"
    );
}

#[wasm_bindgen_test]
async fn budget_caps_events_per_page() {
    setup(", maxEvents: 3");
    let ids: Vec<bool> = (0..5)
        .map(|i| capture_message(&format!("m{i}"), None).is_some())
        .collect();
    assert_eq!(ids, [true, true, true, false, false]);
    js("window.dispatchEvent(new ErrorEvent('error', { error: new Error('over budget') }));");
    assert_eq!(recorded(3).await.len(), 3, "cap holds for every hook");

    init(js(&format!("return {{ dsn: '{DSN}', maxEvents: 4 }};"))).unwrap();
    assert!(
        capture_message("one more", None).is_some(),
        "re-init raises the cap, spent events count"
    );
    assert!(capture_message("too many", None).is_none());
}

#[wasm_bindgen_test]
fn init_rejects_bad_options_with_clear_messages() {
    testing::reset();
    let cases = [
        (
            "return { dsn: 'not a dsn' };",
            "Backstop.init: invalid dsn \"not a dsn\": DSN must start with http:// or https://",
        ),
        ("return { dsn: 'https://host/1' };", "no public key"),
        ("return {};", "missing field `dsn`"),
        ("return 'https://k@h/1';", "invalid options"),
        ("return null;", "invalid options"),
        (
            &format!("return {{ dsn: '{DSN}', maxEvents: -1 }};"),
            "invalid options",
        ),
    ];
    for (options, want) in cases {
        let err: JsValue = init(js(options)).expect_err(options).into();
        let message = get(&err, "message").as_string().unwrap();
        assert!(message.contains(want), "{options}: {message}");
    }
    assert!(
        capture_message("not initialised", None).is_none(),
        "failed init captures nothing"
    );
    assert!(
        js("return window.fetch === window.__realFetch || !window.__realFetch;").is_truthy(),
        "fetch untouched"
    );
}

#[wasm_bindgen_test]
async fn drain_early_reports_buffered_items() {
    setup("");
    let buffer: js_sys::Array = js(r#"
        var e = new SyntaxError('early');
        e.stack = 'SyntaxError: early\n    at boot (http://app.test/boot.js:1:9)';
        return [
            { kind: 'error', error: e, message: 'Uncaught SyntaxError: early', filename: 'http://app.test/boot.js', lineno: 1, colno: 9 },
            { kind: 'rejection', reason: 'early string' },
            { kind: 'resource', tag: 'SCRIPT', src: 'http://app.test/missing.js' },
            { kind: 'bogus' },
            42,
            null
        ];
    "#)
    .unchecked_into();
    drain_early(buffer);
    let sent = recorded(3).await;
    let kinds: Vec<&str> = sent.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, ["error", "rejection", "resource"]);
    assert_eq!(exception(&sent[0])["type"], "SyntaxError");
    assert_eq!(frames(&sent[0])[0]["function"], "boot");
    assert_eq!(
        exception(&sent[1])["value"],
        "Non-Error promise rejection: early string"
    );
    assert_eq!(
        exception(&sent[2])["value"],
        "Failed to load <script> http://app.test/missing.js"
    );
}

#[wasm_bindgen_test]
async fn capture_exception_accepts_any_value() {
    setup("");
    assert!(capture_exception(JsValue::from_str("a string")).is_some());
    assert!(capture_exception(JsValue::UNDEFINED).is_some());
    assert!(capture_exception(js("return Symbol('s');")).is_some());
    let sent = recorded(3).await;
    let values: Vec<String> = sent
        .iter()
        .map(|s| exception(s)["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(values, ["a string", "undefined", "Symbol(s)"]);
    assert_eq!(
        exception(&sent[0])["mechanism"]["handled"],
        true,
        "manual captures are handled"
    );
}

#[wasm_bindgen_test]
fn nothing_is_captured_before_init() {
    testing::reset();
    testing::start_recording();
    assert!(capture_exception(JsValue::from_str("x")).is_none());
    assert!(capture_message("x", None).is_none());
    assert!(testing::take_recorded().is_empty());
}

#[wasm_bindgen_test]
async fn declined_fetch_aborts_do_not_spend_the_budget() {
    setup_with_fake_fetch(
        "return Promise.reject(new DOMException('aborted', 'AbortError'));",
        ", maxEvents: 1",
    );
    for _ in 0..3 {
        let _ = JsFuture::from(js_sys::Promise::from(js("return fetch('/slow');"))).await;
    }
    assert_eq!(recorded(0).await.len(), 0, "aborts are not events");
    assert!(
        capture_message("still allowed", None).is_some(),
        "the one event of the budget is left"
    );
    assert!(capture_message("over", None).is_none());
}
