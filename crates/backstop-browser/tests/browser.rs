//! The translation layer in headless Chromium: every wasm export hands its JS arguments to the
//! core unchanged, and every `bs_*` port the core calls carries its values both ways (fake
//! ports record into `window.__bs`, standing in for the JS stub). The SDK's behaviour (event
//! shape, filters, dedupe, sampling, rate limits, the offline queue, budgets, recursion) is
//! tested natively in `backstop-sdk-core` (`tests/pipeline.rs`); here each rule appears only as
//! far as it proves a value crossed the boundary. All tests share one page; each starts with
//! `setup`, which resets the SDK and the fakes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use backstop_browser::testing::{self, Sent};
use backstop_browser::{
    add_breadcrumb, capture, capture_message, capture_resource, click_crumb, drain, flush, init,
    navigation_crumb, request_done, set_context, set_extra, set_tag, set_user, settled,
};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DSN: &str = "http://testkey@127.0.0.1:59999/42";
const ENDPOINT: &str = "http://127.0.0.1:59999/api/42/envelope/";

/// Runs `body` as a JS function body and returns its result.
fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .unwrap_or_else(|e| panic!("JS failed: {e:?}\n{body}"))
}

fn js_num(body: &str) -> f64 {
    js(body).as_f64().unwrap_or(f64::NAN)
}

/// The fake ports: they record what the SDK asked for in `window.__bs`.
const FAKES: &str = r#"
    window.__bs = { sends: [], beacons: [], store: window.__bs ? window.__bs.store : {}, timers: [],
        notified: [], random: null, beforeSend: null, tests: [], onNotify: null, now: null };
    window.bs_now = function () { return __bs.now !== null ? __bs.now : Date.now(); };
    window.bs_random = function () { return __bs.random !== null ? __bs.random : Math.random(); };
    window.bs_iso = function () { return new Date().toISOString(); };
    window.bs_url = function () { return 'http://app.test/page'; };
    window.bs_test = function (i, t) { return __bs.tests[i].test(t); };
    window.bs_before_send = function (j) { return __bs.beforeSend ? __bs.beforeSend(j) : j; };
    window.bs_debug_ids = function () { return window.__debugIds || ''; };
    window.bs_send = function (url, body, queued) { __bs.sends.push({ url: url, body: body, queued: queued }); };
    window.bs_beacon = function (url, body) { __bs.beacons.push(body); return true; };
    window.bs_load = function (k) { return k in __bs.store ? __bs.store[k] : null; };
    window.bs_store = function (k, v) { if (v) __bs.store[k] = v; else delete __bs.store[k]; };
    window.bs_timer = function (ms) { __bs.timers.push(ms); };
    window.bs_notify = function (id, kind, type, message, transport) {
        __bs.notified.push({ id: id, kind: kind, type: type, message: message, transport: transport });
        if (__bs.onNotify) try { __bs.onNotify(); } catch (e) { /* dispatchEvent swallows listener errors too */ }
    };
"#;

/// Options of `init`, as the stub would pass them.
#[derive(Clone)]
struct Opts {
    dsn: String,
    release: &'static str,
    environment: &'static str,
    max_events: Option<f64>,
    max_breadcrumbs: Option<f64>,
    sample_rate: Option<f64>,
    fetch_status_min: Option<f64>,
    failed_status: Option<String>,
    offline: bool,
    ignore: &'static str,
    deny: &'static str,
    allow: &'static str,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            dsn: DSN.into(),
            release: "",
            environment: "",
            max_events: None,
            max_breadcrumbs: None,
            sample_rate: None,
            fetch_status_min: None,
            failed_status: None,
            offline: true,
            ignore: "",
            deny: "",
            allow: "",
        }
    }
}

fn init_with(o: &Opts) -> Result<(), String> {
    init(
        &o.dsn,
        o.release,
        o.environment,
        o.max_events,
        o.max_breadcrumbs,
        o.sample_rate,
        o.fetch_status_min,
        o.failed_status.clone(),
        o.offline,
        o.ignore,
        o.deny,
        o.allow,
        "TestAgent/1",
    )
    .map_err(|e| {
        let v: JsValue = e.into();
        js_sys::Reflect::get(&v, &"message".into())
            .unwrap()
            .as_string()
            .unwrap()
    })
}

/// Fresh SDK and fakes (the fake `localStorage` survives unless `clear_store`), then `init`.
fn setup_with(o: &Opts, clear_store: bool) {
    testing::reset();
    if clear_store {
        js("window.__bs = undefined;");
    }
    js(FAKES);
    testing::start_recording();
    init_with(o).unwrap();
}

fn setup(o: &Opts) {
    setup_with(o, true);
}

/// `E<name>\1<message>\1<stack>`.
fn err(name: &str, message: &str, stack: &str) -> String {
    ["E", name, "\u{1}", message, "\u{1}", stack].concat()
}

fn payload(sent: &Sent) -> Value {
    serde_json::from_str(sent.payload())
        .unwrap_or_else(|e| panic!("bad payload {e}: {}", sent.envelope))
}

fn exceptions(sent: &Sent) -> Vec<Value> {
    payload(sent)["exception"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn main_exception(sent: &Sent) -> Value {
    exceptions(sent).last().cloned().unwrap_or(Value::Null)
}

/// The body of the `i`th request the fake `bs_send` saw.
fn sent_body(i: usize) -> String {
    js(&format!("return __bs.sends[{i}].body;"))
        .as_string()
        .unwrap()
}

fn report() -> Value {
    testing::client_report().map_or(Value::Null, |r| serde_json::from_str(&r).unwrap())
}

fn dropped(reason: &str) -> u64 {
    report()["discarded_events"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|e| e["reason"] == reason)
                .map(|e| e["quantity"].as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

const STACK: &str = "Error: kaput\n    at inner (http://app.test/a.js:10:5)\n    at outer (http://app.test/a.js:20:3)";

#[wasm_bindgen_test]
fn capture_and_the_page_ports_carry_their_values() {
    setup(&Opts {
        release: "web@1.2.3",
        environment: "test",
        ..Opts::default()
    });
    js("__bs.now = 1700000000250;");
    // The chain crosses as one string: the error, then its cause.
    let chain = [err("Error", "kaput", STACK), err("TypeError", "root", "")].join("\u{2}");
    let id = capture("error", &chain, "", "").unwrap();
    let sent = testing::take_recorded();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "error");
    let header: Value = serde_json::from_str(sent[0].envelope.lines().next().unwrap()).unwrap();
    assert_eq!(header["event_id"], id.as_str());
    assert_eq!(header["dsn"], DSN, "init's dsn argument");
    assert!(header["sent_at"].as_str().unwrap().ends_with('Z'), "bs_iso");
    let event = payload(&sent[0]);
    assert_eq!(event["release"], "web@1.2.3");
    assert_eq!(event["environment"], "test");
    assert_eq!(event["timestamp"], 1_700_000_000.25, "bs_now");
    assert_eq!(event["request"]["url"], "http://app.test/page", "bs_url");
    assert_eq!(event["request"]["headers"]["User-Agent"], "TestAgent/1");
    let exc = exceptions(&sent[0]);
    assert_eq!(exc.len(), 2);
    assert_eq!(exc[1]["value"], "kaput");
    assert_eq!(exc[0]["type"], "TypeError", "the cause came through");
    let frames = exc[1]["stacktrace"]["frames"].as_array().unwrap();
    assert_eq!(frames[1]["function"], "inner");
    assert_eq!(frames[1]["lineno"], 10);

    // bs_send got the URL and the body; bs_notify got the id, kind, type and message.
    assert_eq!(js_num("return __bs.sends.length;"), 1.0);
    assert_eq!(
        js("return __bs.sends[0].url;").as_string().unwrap(),
        format!(
            "{ENDPOINT}?sentry_version=7&sentry_key=testkey&sentry_client=backstop.browser/0.1.0"
        )
    );
    assert_eq!(sent_body(0), sent[0].envelope);
    assert_eq!(js("return __bs.sends[0].queued;"), JsValue::FALSE);
    assert_eq!(
        js("var n = __bs.notified[0]; return [n.id, n.kind, n.type, n.message, n.transport].join('|');")
            .as_string()
            .unwrap(),
        format!("{id}|error|Error|kaput|fetch")
    );

    // The other capture exports: a message with its level, a failed resource.
    let id = capture_message("hello", Some("warning".into())).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    assert_eq!(e["event_id"], id.as_str());
    assert_eq!(e["message"], "hello");
    assert_eq!(e["level"], "warning");
    capture_resource("IMG", "http://cdn.test/missing.png").unwrap();
    let sent = testing::take_recorded();
    assert_eq!(sent[0].kind, "resource");
    assert_eq!(
        main_exception(&sent[0])["value"],
        "Failed to load <img> http://cdn.test/missing.png"
    );
}

#[wasm_bindgen_test]
fn debug_ids_come_from_the_page() {
    setup(&Opts::default());
    // What the stub's bs_debug_ids gives: `stack \u{1} id \u{2}` per injected file.
    js("window.__debugIds = 'Error\\n    at http://app.test/a.js:1:1\\u0001c0ffee00-0000-4000-8000-000000000001\\u0002';");
    capture("error", &err("Error", "kaput", STACK), "", "").unwrap();
    js("window.__debugIds = undefined;");
    let e = payload(&testing::take_recorded()[0]);
    let images = e["debug_meta"]["images"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        images
            .iter()
            .any(|i| i["debug_id"] == "c0ffee00-0000-4000-8000-000000000001"
                && i["code_file"] == "http://app.test/a.js"),
        "bs_debug_ids read: {e}"
    );
}

#[wasm_bindgen_test]
fn init_reads_its_arguments_and_returns_errors_as_js_errors() {
    testing::reset();
    js(FAKES);
    // Each argument is read: a wrong value of each is named in the error.
    let cases: Vec<(Opts, &str)> = vec![
        (
            Opts {
                dsn: "not a dsn".into(),
                ..Opts::default()
            },
            "Backstop.init: invalid dsn \"not a dsn\": DSN must start with http:// or https://",
        ),
        (
            Opts {
                max_events: Some(f64::NAN),
                ..Opts::default()
            },
            "maxEvents must be a whole number",
        ),
        (
            Opts {
                max_breadcrumbs: Some(101.0),
                ..Opts::default()
            },
            "maxBreadcrumbs must be",
        ),
        (
            Opts {
                sample_rate: Some(1.5),
                ..Opts::default()
            },
            "sampleRate must be a number from 0 to 1",
        ),
        (
            Opts {
                failed_status: Some("500-x".into()),
                ..Opts::default()
            },
            "failedRequestStatusCodes must be",
        ),
    ];
    for (o, want) in cases {
        let got = init_with(&o).expect_err(want);
        assert!(got.contains(want), "{want}: {got}");
    }
    assert!(
        capture_message("not initialised", None).is_none(),
        "failed init captures nothing"
    );

    // sampleRate with bs_random, maxEvents, maxBreadcrumbs and offline reach the options.
    setup(&Opts {
        sample_rate: Some(0.5),
        max_events: Some(2.0),
        max_breadcrumbs: Some(1.0),
        offline: false,
        ..Opts::default()
    });
    js("__bs.random = 0.9;");
    assert!(capture_message("sampled out", None).is_none());
    js("__bs.random = 0.1;");
    add_breadcrumb("custom", "old", None, 0.0);
    add_breadcrumb("custom", "new", None, 0.0);
    capture_message("kept", None).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    assert_eq!(e["breadcrumbs"]["values"].as_array().unwrap().len(), 1);
    assert_eq!(e["breadcrumbs"]["values"][0]["message"], "new");
    settled(&sent_body(0), 0, None, None, false);
    assert_eq!(testing::queued(), 0, "offline: false");
    assert_eq!(dropped("network_error"), 1);
    capture_message("second", None).unwrap();
    assert!(capture_message("over maxEvents", None).is_none());
    assert_eq!(dropped("sample_rate"), 1);
}

#[wasm_bindgen_test]
fn page_regexps_are_tested_through_bs_test() {
    setup(&Opts {
        ignore: "\u{2}0\u{1}plain text",
        deny: "\u{2}1",
        ..Opts::default()
    });
    js("__bs.tests = [/kap+ut/, /\\/vendor\\//];");
    assert!(capture("exception", &err("Error", "kapppput", ""), "", "").is_none());
    assert!(capture(
        "exception",
        &err("Error", "has plain text in it", ""),
        "",
        ""
    )
    .is_none());
    let vendor = "Error: x\n    at f (http://app.test/vendor/lib.js:1:1)";
    assert!(capture("exception", &err("Error", "x", vendor), "", "").is_none());
    assert!(capture("exception", &err("Error", "fine", STACK), "", "").is_some());
}

#[wasm_bindgen_test]
fn before_send_crosses_as_json_and_back() {
    setup(&Opts::default());
    js(r#"__bs.beforeSend = function (j) {
        var e = JSON.parse(j);
        if (e.message === 'drop me') return null;
        e.tags = { edited: 'yes' };
        return JSON.stringify(e);
    };"#);
    assert!(capture_message("drop me", None).is_none());
    capture_message("edit me", None).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    assert_eq!(e["tags"]["edited"], "yes");
    assert_eq!(dropped("before_send"), 1);
    js("__bs.beforeSend = null;");
}

#[wasm_bindgen_test]
fn scope_and_breadcrumb_exports_reach_the_event() {
    setup(&Opts {
        failed_status: Some("500-599".into()),
        ..Opts::default()
    });
    set_user(Some("{\"id\":\"u1\"}".into()));
    set_tag("plan", "team");
    set_context("cart", Some("{\"items\":3}".into()));
    set_extra("answer", Some("42".into()));
    click_crumb("BUTTON\u{1}save\u{1}btn primary\u{2}BODY\u{1}\u{1}", 0.0);
    navigation_crumb("http://app.test/a", "http://app.test/b", 0.0);
    add_breadcrumb(
        "console",
        "careful",
        Some("warn".into()),
        1_500_000_000_250.0,
    );
    request_done("fetch", "get", "http://api.test/x", 200, 12.0, "", 0.0);
    request_done("xhr", "PUT", "http://api.test/y", 503, 5.0, "", 0.0);
    let sent = testing::take_recorded();
    assert_eq!(sent.len(), 1, "the 503 is an event");
    assert_eq!(sent[0].kind, "xhr");
    let e = payload(&sent[0]);
    assert_eq!(
        main_exception(&sent[0])["value"],
        "PUT http://api.test/y responded 503"
    );
    assert_eq!(e["user"]["id"], "u1");
    assert_eq!(e["tags"]["plan"], "team");
    assert_eq!(e["contexts"]["cart"]["items"], 3);
    assert_eq!(e["extra"]["answer"], 42);
    let crumbs = e["breadcrumbs"]["values"].as_array().unwrap();
    let cats: Vec<&str> = crumbs
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["ui.click", "navigation", "console", "fetch", "xhr"]);
    assert_eq!(crumbs[0]["message"], "body > button#save.btn.primary");
    assert_eq!(crumbs[1]["data"]["to"], "http://app.test/b");
    assert_eq!(crumbs[2]["timestamp"], 1_500_000_000.25, "at crosses as ms");
    assert_eq!(crumbs[3]["data"]["method"], "GET");
    assert_eq!(crumbs[3]["data"]["duration_ms"], 12);
    // A failure without a response crosses as a chain entry.
    request_done(
        "fetch",
        "GET",
        "http://api.test/d",
        0,
        5.0,
        &err("TypeError", "Failed to fetch", ""),
        0.0,
    );
    assert_eq!(
        main_exception(&testing::take_recorded()[0])["value"],
        "GET http://api.test/d failed: Failed to fetch"
    );
}

#[wasm_bindgen_test]
fn settled_reads_status_and_both_headers() {
    setup(&Opts::default());
    js("__bs.now = 1000000;");
    capture_message("first", None).unwrap();
    settled(&sent_body(0), 429, None, Some("30".into()), false);
    assert!(
        capture_message("limited", None).is_none(),
        "Retry-After read"
    );
    js("__bs.now = 1030001;");
    assert!(capture_message("after the limit", None).is_some());
    settled(&sent_body(1), 200, Some("60:error:key".into()), None, false);
    assert!(
        capture_message("limited on a 200", None).is_none(),
        "X-Sentry-Rate-Limits read"
    );
}

#[wasm_bindgen_test]
fn the_offline_queue_goes_through_the_storage_and_timer_ports() {
    setup(&Opts::default());
    capture_message("offline 1", None).unwrap();
    settled(&sent_body(0), 0, None, None, false);
    assert_eq!(testing::queued(), 1);
    assert_eq!(
        js("return JSON.stringify(__bs.timers);")
            .as_string()
            .unwrap(),
        "[1000,1000]",
        "bs_timer: the first look 1 s after init, then the backoff"
    );
    let stored = js(&format!("return __bs.store['backstop:queue:{ENDPOINT}'];"))
        .as_string()
        .unwrap();
    assert!(stored.contains("offline 1"), "bs_store: {stored}");

    // A reload: bs_load reads it back on the first timer, and the resend is marked queued.
    setup_with(&Opts::default(), false);
    drain();
    assert_eq!(js("return __bs.sends[0].queued;"), JsValue::TRUE);
    let again = sent_body(0);
    assert!(again.contains("offline 1"));
    settled(&again, 200, None, None, true);
    assert_eq!(testing::queued(), 0);
    assert!(
        js(&format!("return __bs.store['backstop:queue:{ENDPOINT}'];")).is_undefined(),
        "bs_store with an empty value removes the key"
    );
}

#[wasm_bindgen_test]
fn flush_sends_the_client_report_through_the_beacon_port() {
    setup(&Opts {
        sample_rate: Some(0.0),
        ..Opts::default()
    });
    assert!(capture_message("sampled out", None).is_none());
    flush();
    assert_eq!(js_num("return __bs.beacons.length;"), 1.0);
    let env = js("return __bs.beacons[0];").as_string().unwrap();
    let body: Value = serde_json::from_str(env.lines().nth(2).unwrap()).unwrap();
    assert_eq!(body["discarded_events"][0]["reason"], "sample_rate");
}

#[wasm_bindgen_test]
fn page_code_run_during_a_capture_cannot_capture() {
    // Across the boundary: page code that the core calls (beforeSend, the notify listener)
    // calls back into the exports while a capture is in progress; the state's lock is not held
    // across those calls, and the guard refuses the inner captures.
    setup(&Opts::default());
    js(r#"__bs.inner = [];
        __bs.beforeSend = function (j) { __bs.inner.push(__bs.capture('from beforeSend')); return j; };
        __bs.onNotify = function () { __bs.inner.push(__bs.capture('from listener')); throw new Error('listener boom'); };"#);
    let f = Closure::<dyn Fn(String) -> Option<String>>::new(|m: String| capture_message(&m, None));
    js_sys::Reflect::set(&js("return __bs;"), &"capture".into(), f.as_ref()).unwrap();
    let result = js("try { return __bs.capture('outer'); } catch (e) { return 'threw'; }");
    assert!(
        result.as_string().is_some_and(|s| s.len() == 32),
        "outer sent: {result:?}"
    );
    assert_eq!(
        js("return JSON.stringify(__bs.inner);")
            .as_string()
            .unwrap(),
        "[null,null]"
    );
    assert_eq!(testing::take_recorded().len(), 1);
    js("__bs.onNotify = null; __bs.beforeSend = null;");
    assert!(capture_message("guard free again", None).is_some());
}

#[wasm_bindgen_test]
fn nothing_is_captured_or_recorded_before_init() {
    testing::reset();
    js(FAKES);
    testing::start_recording();
    assert!(capture("exception", "Vx", "", "").is_none());
    assert!(capture_message("x", None).is_none());
    add_breadcrumb("c", "m", None, 0.0);
    flush();
    assert!(testing::take_recorded().is_empty());
    assert_eq!(
        js_num("return __bs.sends.length + __bs.beacons.length;"),
        0.0
    );
}
