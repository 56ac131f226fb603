//! The SDK's decisions in headless Chromium, through its wasm exports, with fake ports
//! (`window.bs_*`, recording into `window.__bs`) standing in for the JS stub: event shape,
//! cause chains, filters, dedupe, sampling, `beforeSend`, scope, breadcrumbs, request
//! failures, rate limits, the offline queue, client reports, budget and re-entrancy. All tests
//! share one page; each starts with `setup`, which resets the SDK and the fakes.
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
fn event_has_the_protocol_fields_and_parsed_frames() {
    setup(&Opts {
        release: "web@1.2.3",
        environment: "test",
        ..Opts::default()
    });
    let id = capture("error", &err("Error", "kaput", STACK), "", "").unwrap();
    let sent = testing::take_recorded();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "error");
    assert_eq!(sent[0].transport, "fetch");
    let mut lines = sent[0].envelope.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["event_id"], id.as_str());
    assert_eq!(header["dsn"], DSN);
    assert!(header["sent_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(item["type"], "event");
    assert_eq!(
        item["length"].as_u64().unwrap() as usize,
        sent[0].payload().len()
    );

    let event = payload(&sent[0]);
    assert_eq!(event["event_id"], id.as_str());
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(event["platform"], "javascript");
    assert_eq!(event["level"], "error");
    assert_eq!(event["release"], "web@1.2.3");
    assert_eq!(event["environment"], "test");
    assert_eq!(event["sdk"]["name"], "backstop.browser");
    assert!(event["timestamp"].as_f64().unwrap() > 1.7e9);
    assert_eq!(event["request"]["url"], "http://app.test/page");
    assert_eq!(event["request"]["headers"]["User-Agent"], "TestAgent/1");
    let exc = main_exception(&sent[0]);
    assert_eq!(exc["type"], "Error");
    assert_eq!(exc["value"], "kaput");
    assert_eq!(exc["mechanism"]["type"], "onerror");
    assert_eq!(exc["mechanism"]["handled"], false);
    let frames = exc["stacktrace"]["frames"].as_array().unwrap();
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["outer", "inner"], "oldest first");
    assert_eq!(frames[1]["lineno"], 10);
    assert_eq!(frames[1]["in_app"], true);

    // The transport got the envelope, and the page was notified inside the capture.
    assert_eq!(js_num("return __bs.sends.length;"), 1.0);
    assert_eq!(
        js("return __bs.sends[0].url;").as_string().unwrap(),
        format!(
            "{ENDPOINT}?sentry_version=7&sentry_key=testkey&sentry_client=backstop.browser/0.1.0"
        )
    );
    assert_eq!(js("return __bs.notified[0].id;").as_string().unwrap(), id);
    assert_eq!(
        js("return __bs.notified[0].kind;").as_string().unwrap(),
        "error"
    );
    assert_eq!(
        js("return __bs.notified[0].message;").as_string().unwrap(),
        "kaput"
    );
}

#[wasm_bindgen_test]
fn cause_chains_become_linked_exceptions_with_bounded_depth() {
    setup(&Opts::default());
    let chain = [
        err("TypeError", "top", STACK),
        err("RangeError", "middle", ""),
        "Vroot as a string".into(),
    ]
    .join("\u{2}");
    capture("exception", &chain, "", "").unwrap();
    let sent = testing::take_recorded();
    let values = exceptions(&sent[0]);
    let got: Vec<(&str, &str)> = values
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("Error", "root as a string"),
            ("RangeError", "middle"),
            ("TypeError", "top")
        ],
        "root cause first, caught error last"
    );
    assert_eq!(values[2]["mechanism"]["exception_id"], 0);
    assert_eq!(values[1]["mechanism"]["parent_id"], 0);
    assert_eq!(values[0]["mechanism"]["parent_id"], 1);
    assert_eq!(values[0]["mechanism"]["source"], "cause");
    assert_eq!(
        values[2]["mechanism"]["handled"], true,
        "captureException is handled"
    );

    let long: Vec<String> = (0..20)
        .map(|i| err("Error", &format!("e{i}"), ""))
        .collect();
    capture("exception", &long.join("\u{2}"), "", "").unwrap();
    let values = exceptions(&testing::take_recorded()[0]);
    assert_eq!(values.len(), 6, "the caught error and at most five causes");
    assert_eq!(values[5]["value"], "e0");
}

#[wasm_bindgen_test]
fn non_error_rejections_and_values_are_described() {
    setup(&Opts::default());
    for v in ["Vplain string", "Vnull", "V{\"code\":42}", "Vundefined"] {
        capture("rejection", v, "", "").unwrap();
    }
    capture("exception", "VSymbol(s)", "", "").unwrap();
    let got: Vec<(String, String)> = testing::take_recorded()
        .iter()
        .map(|s| {
            let e = main_exception(s);
            (
                e["type"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
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
        ("Error", "Symbol(s)"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).into(), (*b).into()))
        .collect();
    assert_eq!(got, want);
}

#[wasm_bindgen_test]
fn errors_without_a_stack_get_the_event_position_and_wrapped_errors_name_their_api() {
    setup(&Opts::default());
    capture("error", "Vboom", "https://cdn.test/lib.js\u{1}3\u{1}7", "").unwrap();
    capture(
        "wrapped",
        &err("TypeError", "in timer", STACK),
        "",
        "setTimeout",
    )
    .unwrap();
    let sent = testing::take_recorded();
    let frame = &main_exception(&sent[0])["stacktrace"]["frames"][0];
    assert_eq!(frame["filename"], "https://cdn.test/lib.js");
    assert_eq!(
        (frame["lineno"].as_u64(), frame["colno"].as_u64()),
        (Some(3), Some(7))
    );
    let wrapped = main_exception(&sent[1]);
    assert_eq!(
        wrapped["mechanism"]["type"], "onerror",
        "still uncaught: rethrown"
    );
    assert_eq!(wrapped["mechanism"]["data"]["function"], "setTimeout");
    assert_eq!(
        wrapped["stacktrace"]["frames"].as_array().unwrap().len(),
        2,
        "its own stack kept"
    );
}

#[wasm_bindgen_test]
fn script_errors_and_extension_errors_are_dropped_and_counted() {
    setup(&Opts::default());
    assert!(
        capture("error", "VScript error.", "\u{1}0\u{1}0", "").is_none(),
        "bare Script error."
    );
    let ext = "Error: x\n    at f (chrome-extension://abcdef/content.js:1:2)";
    assert!(
        capture("error", &err("Error", "x", ext), "", "").is_none(),
        "extension frame"
    );
    assert!(capture(
        "exception",
        &err("TypeError", "top.GLOBALS is undefined", ""),
        "",
        ""
    )
    .is_none());
    assert!(
        capture("error", &err("Error", "mine", STACK), "", "").is_some(),
        "the page's own"
    );
    assert_eq!(testing::take_recorded().len(), 1);
    assert_eq!(dropped("event_processor"), 3);
}

#[wasm_bindgen_test]
fn ignore_errors_deny_urls_and_allow_urls_take_strings_and_regexps() {
    js("window.__bsTests = [/^Ignored/, /vendor\\.js/];");
    setup(&Opts {
        ignore: "noise\u{1}\u{2}0",
        deny: "\u{2}1",
        ..Opts::default()
    });
    js("__bs.tests = window.__bsTests;");
    assert!(
        capture_message("some noise here", None).is_none(),
        "string: substring"
    );
    assert!(
        capture("exception", &err("IgnoredError", "x", ""), "", "").is_none(),
        "regexp on type: value"
    );
    let vendor = "Error: v\n    at f (https://app.test/vendor.js:1:1)";
    assert!(
        capture("exception", &err("Error", "v", vendor), "", "").is_none(),
        "denied url"
    );
    assert!(capture("exception", &err("Error", "kept", STACK), "", "").is_some());

    setup(&Opts {
        allow: "https://app.test/",
        ..Opts::default()
    });
    assert!(
        capture("exception", &err("Error", "elsewhere", STACK), "", "").is_none(),
        "not allowed"
    );
    assert!(
        capture("exception", &err("Error", "v", vendor), "", "").is_some(),
        "allowed"
    );
    assert!(capture_message("no frames, no url: kept", None).is_some());
}

#[wasm_bindgen_test]
fn allow_urls_judge_the_newest_frame_with_a_script_url() {
    setup(&Opts {
        allow: "https://app.test/",
        ..Opts::default()
    });
    // An error thrown by JSON.parse: its newest frame is the engine's, not a script's.
    let parse = "SyntaxError: Unexpected end of JSON input\n    at JSON.parse (<anonymous>)\n    at load (https://app.test/app.js:3:9)";
    assert!(
        capture(
            "exception",
            &err("SyntaxError", "Unexpected end of JSON input", parse),
            "",
            ""
        )
        .is_some(),
        "the app's own frame under JSON.parse is allowed"
    );
    let native =
        "TypeError: x\n    at Array.map ([native code])\n    at run (https://cdn.other/lib.js:1:1)";
    assert!(
        capture("exception", &err("TypeError", "x", native), "", "").is_none(),
        "a script outside the allowed URLs under a native frame is still not allowed"
    );
}

#[wasm_bindgen_test]
fn an_event_that_mentions_client_report_still_frees_its_request_slot() {
    setup(&Opts::default());
    set_extra("note", Some("{\"type\":\"client_report\"}".into()));
    for i in 0..5 {
        capture_message(&format!("mention {i}"), None).unwrap();
    }
    assert_eq!(
        js_num("return __bs.sends.length;"),
        4.0,
        "four in flight, one waiting"
    );
    assert!(
        sent_body(0).contains("client_report"),
        "the payload mentions it"
    );
    settled(&sent_body(0), 200, None, None, false);
    assert_eq!(
        js_num("return __bs.sends.length;"),
        5.0,
        "the finished event's slot goes to the waiting one"
    );
}

#[wasm_bindgen_test]
fn a_collector_that_cannot_store_now_gets_the_event_again_after_its_retry_after() {
    setup(&Opts::default());
    capture_message("during an outage", None).unwrap();
    settled(&sent_body(0), 503, None, Some("30".into()), false);
    assert_eq!(testing::queued(), 1, "kept, not dropped");
    assert_eq!(dropped("send_error"), 0);
    assert_eq!(
        js("return JSON.stringify(__bs.timers.slice(-1));")
            .as_string()
            .unwrap(),
        "[30000]",
        "retried after the collector's Retry-After (longer than the 1 s backoff)"
    );
    capture_message("refused for good", None).unwrap();
    settled(&sent_body(1), 400, None, None, false);
    assert_eq!(testing::queued(), 1, "a 400 would fail again: not kept");
    assert_eq!(dropped("send_error"), 1);
}

#[wasm_bindgen_test]
fn identical_consecutive_errors_are_sent_once() {
    setup(&Opts::default());
    let a = err("Error", "same", STACK);
    let sent: Vec<bool> = [&a, &a, &err("Error", "other", STACK), &a]
        .iter()
        .map(|c| capture("error", c, "", "").is_some())
        .collect();
    assert_eq!(sent, [true, false, true, true]);
    assert_eq!(dropped("event_processor"), 1);
}

#[wasm_bindgen_test]
fn sample_rate_drops_and_counts() {
    setup(&Opts {
        sample_rate: Some(0.25),
        ..Opts::default()
    });
    js("__bs.random = 0.5;");
    assert!(capture_message("sampled out", None).is_none());
    js("__bs.random = 0.1;");
    assert!(capture_message("sampled in", None).is_some());
    assert_eq!(dropped("sample_rate"), 1);
}

#[wasm_bindgen_test]
fn before_send_edits_or_drops() {
    setup(&Opts::default());
    js(r#"__bs.beforeSend = function (j) {
        var e = JSON.parse(j);
        if (e.message === 'drop me') return undefined;
        e.tags = { scrubbed: 'yes' };
        return JSON.stringify(e);
    };"#);
    assert!(capture_message("drop me", None).is_none());
    assert!(capture_message("keep me", None).is_some());
    let sent = testing::take_recorded();
    assert_eq!(sent.len(), 1);
    assert_eq!(payload(&sent[0])["tags"]["scrubbed"], "yes");
    assert_eq!(dropped("before_send"), 1);
}

#[wasm_bindgen_test]
fn user_tags_contexts_and_extra_are_attached() {
    setup(&Opts::default());
    set_user(Some("{\"id\":\"u1\",\"email\":\"a@b.test\"}".into()));
    set_tag("plan", "pro");
    set_tag("plan", "team");
    set_tag("", "ignored");
    set_context("cart", Some("{\"items\":3}".into()));
    set_context("gone", Some("{\"x\":1}".into()));
    set_context("gone", None);
    set_extra("answer", Some("42".into()));
    capture_message("with scope", None).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    assert_eq!(e["user"]["id"], "u1");
    assert_eq!(e["tags"]["plan"], "team", "last value wins");
    assert_eq!(e["tags"].as_object().unwrap().len(), 1);
    assert_eq!(e["contexts"]["cart"]["items"], 3);
    assert!(e["contexts"].get("gone").is_none());
    assert_eq!(e["extra"]["answer"], 42);
    set_user(None);
    capture_message("after clearing the user", None).unwrap();
    assert!(payload(&testing::take_recorded()[0]).get("user").is_none());
}

#[wasm_bindgen_test]
fn breadcrumbs_are_attached_oldest_first_and_bounded() {
    setup(&Opts {
        max_breadcrumbs: Some(4.0),
        ..Opts::default()
    });
    click_crumb(
        "BUTTON\u{1}save\u{1}btn primary\u{2}FORM\u{1}\u{1}checkout\u{2}BODY\u{1}\u{1}",
        0.0,
    );
    navigation_crumb("http://app.test/a", "http://app.test/b", 0.0);
    add_breadcrumb("console", "careful", Some("warn".into()), 0.0);
    request_done("fetch", "get", "http://api.test/x", 200, 12.0, "", 0.0);
    capture_message("with crumbs", None).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    let crumbs = e["breadcrumbs"]["values"].as_array().unwrap();
    let cats: Vec<&str> = crumbs
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["ui.click", "navigation", "console", "fetch"]);
    assert_eq!(
        crumbs[0]["message"],
        "body > form.checkout > button#save.btn.primary"
    );
    assert_eq!(crumbs[1]["data"]["to"], "http://app.test/b");
    assert_eq!(crumbs[2]["level"], "warning");
    assert_eq!(crumbs[3]["data"]["method"], "GET");
    assert_eq!(crumbs[3]["data"]["status_code"], 200);
    assert_eq!(crumbs[3]["data"]["duration_ms"], 12);
    add_breadcrumb("custom", "fifth", None, 0.0);
    // Kept by the stub until the wasm loaded: the time it happened, not the hand-over's.
    add_breadcrumb("custom", "earlier", None, 1_500_000_000_250.0);
    capture_message("ring buffer", None).unwrap();
    let e = payload(&testing::take_recorded()[0]);
    let crumbs = e["breadcrumbs"]["values"].as_array().unwrap();
    assert_eq!(crumbs.len(), 4, "bounded by maxBreadcrumbs");
    assert_eq!(crumbs[0]["category"], "console", "oldest evicted");
    assert_eq!(crumbs[3]["message"], "earlier");
    assert_eq!(crumbs[3]["timestamp"], 1_500_000_000.25);
}

#[wasm_bindgen_test]
fn failed_fetch_and_xhr_requests_follow_the_status_ranges() {
    setup(&Opts {
        failed_status: Some("400-404,500-599".into()),
        ..Opts::default()
    });
    request_done("fetch", "post", "http://api.test/a", 503, 5.0, "", 0.0);
    request_done("xhr", "GET", "http://api.test/b", 404, 5.0, "", 0.0);
    request_done("xhr", "GET", "http://api.test/c", 405, 5.0, "", 0.0);
    request_done(
        "fetch",
        "GET",
        "http://api.test/d",
        0,
        5.0,
        &err("TypeError", "Failed to fetch", ""),
        0.0,
    );
    request_done(
        "xhr",
        "PUT",
        "http://api.test/e",
        0,
        5.0,
        "Vnetwork error",
        0.0,
    );
    request_done("xhr", "GET", "http://api.test/f", 0, 5.0, "abort", 0.0);
    request_done(
        "fetch",
        "GET",
        "http://api.test/g",
        0,
        5.0,
        &err("AbortError", "aborted", ""),
        0.0,
    );
    request_done(
        "fetch",
        "POST",
        &[ENDPOINT, "?sentry_key=x"].concat(),
        500,
        5.0,
        "",
        0.0,
    );
    let sent = testing::take_recorded();
    let got: Vec<(&str, String, String)> = sent
        .iter()
        .map(|s| {
            let e = main_exception(s);
            (
                s.kind,
                e["type"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("fetch", "HTTPError", "POST http://api.test/a responded 503"),
        ("xhr", "HTTPError", "GET http://api.test/b responded 404"),
        (
            "fetch",
            "TypeError",
            "GET http://api.test/d failed: Failed to fetch",
        ),
        (
            "xhr",
            "TypeError",
            "PUT http://api.test/e failed: network error",
        ),
    ];
    let want: Vec<(&str, String, String)> = want
        .iter()
        .map(|(k, t, v)| (*k, (*t).into(), (*v).into()))
        .collect();
    assert_eq!(
        got, want,
        "405 outside the ranges, aborts and the own endpoint ignored"
    );
    let tags = &payload(&sent[0])["tags"];
    assert_eq!(tags["http.status_code"], "503");
    assert_eq!(tags["http.method"], "POST");
    assert_eq!(main_exception(&sent[1])["mechanism"]["type"], "xhr");

    setup(&Opts {
        fetch_status_min: Some(400.0),
        ..Opts::default()
    });
    request_done("fetch", "GET", "http://api.test/a", 404, 1.0, "", 0.0);
    assert_eq!(
        testing::take_recorded().len(),
        1,
        "fetchStatusMin is the range min..=599"
    );
}

#[wasm_bindgen_test]
fn rate_limits_drop_events_per_category_until_they_expire() {
    setup(&Opts::default());
    js("__bs.now = 1000000;");
    capture_message("first", None).unwrap();
    let body = js("return __bs.sends[0].body;").as_string().unwrap();
    settled(&body, 429, None, Some("30".into()), false);
    assert!(
        capture_message("limited", None).is_none(),
        "Retry-After honoured"
    );
    assert_eq!(
        js_num("return __bs.sends.length;"),
        1.0,
        "nothing sent while limited"
    );
    assert_eq!(
        dropped("ratelimit_backoff"),
        2,
        "the refused one and the held one"
    );
    js("__bs.now = 1030001;");
    assert!(capture_message("after the limit", None).is_some());

    settled(&body, 200, Some("60:error:key".into()), None, false);
    assert!(capture_message("error category limited on a 200", None).is_none());
    flush();
    assert_eq!(
        js_num("return __bs.beacons.length;"),
        1.0,
        "client reports (internal) are not limited"
    );
}

#[wasm_bindgen_test]
fn a_collector_answering_429_forever_is_never_a_loop() {
    setup(&Opts::default());
    let mut answered = 0;
    for i in 0..500 {
        let _ = capture_message(&format!("m{i}"), None);
        // The collector answers every request it gets with 429.
        while answered < js_num("return __bs.sends.length;") as usize {
            settled(
                &sent_body(answered),
                429,
                Some("60::key".into()),
                None,
                false,
            );
            answered += 1;
        }
    }
    assert_eq!(
        js_num("return __bs.sends.length;"),
        1.0,
        "one request, then the limit holds"
    );
    drain();
    assert_eq!(
        js_num("return __bs.sends.length;"),
        1.0,
        "the retry timer sends nothing either: refused events are not queued"
    );
    assert_eq!(testing::queued(), 0);
    assert_eq!(dropped("ratelimit_backoff"), 500);
}

#[wasm_bindgen_test]
fn network_errors_go_to_the_offline_queue_with_backoff_and_survive_a_reload() {
    setup(&Opts::default());
    capture_message("offline 1", None).unwrap();
    capture_message("offline 2", None).unwrap();
    let bodies: Vec<String> = (0..2).map(sent_body).collect();
    settled(&bodies[0], 0, None, None, false);
    settled(&bodies[1], 0, None, None, false);
    assert_eq!(testing::queued(), 2);
    assert_eq!(
        js("return JSON.stringify(__bs.timers);")
            .as_string()
            .unwrap(),
        "[1000,1000,1000]",
        "the first look at the queue 1 s after init, then round 1's backoff (1 s) for both: two sends failing in one outage are one retry round"
    );
    let stored = js(&format!("return __bs.store['backstop:queue:{ENDPOINT}'];"))
        .as_string()
        .unwrap();
    assert!(
        stored.contains("offline 1") && stored.contains("offline 2"),
        "kept in localStorage"
    );

    // A reload: no storage access at init; the first timer reads the queue and retries it.
    setup_with(&Opts::default(), false);
    assert_eq!(testing::queued(), 0, "not read at init");
    assert_eq!(
        js("return JSON.stringify(__bs.timers);")
            .as_string()
            .unwrap(),
        "[1000]"
    );
    drain();
    assert_eq!(
        testing::queued(),
        1,
        "loaded from storage, the oldest in flight"
    );
    assert_eq!(js("return __bs.sends[0].queued;"), JsValue::TRUE);
    let first = js("return __bs.sends[0].body;").as_string().unwrap();
    assert!(first.contains("offline 1"), "oldest first");
    drain();
    assert_eq!(
        js_num("return __bs.sends.length;"),
        1.0,
        "one queued envelope in flight at a time"
    );
    settled(&first, 0, None, None, true);
    assert_eq!(testing::queued(), 2, "still failing: back at the front");
    drain();
    let again = js("return __bs.sends[1].body;").as_string().unwrap();
    settled(&again, 200, None, None, true);
    drain();
    let second = js("return __bs.sends[2].body;").as_string().unwrap();
    assert!(second.contains("offline 2"));
    settled(&second, 200, None, None, true);
    assert_eq!(testing::queued(), 0, "delivered");
    assert!(
        js(&format!("return __bs.store['backstop:queue:{ENDPOINT}'];")).is_undefined(),
        "storage cleared"
    );
    assert_eq!(
        dropped("queue_overflow") + dropped("network_error"),
        0,
        "nothing lost"
    );
}

#[wasm_bindgen_test]
fn a_full_queue_and_offline_off_count_their_losses() {
    setup(&Opts {
        max_events: Some(1000.0),
        ..Opts::default()
    });
    for i in 0..35 {
        capture_message(&format!("q{i}"), None).unwrap();
        settled(&sent_body(i), 0, None, None, false);
    }
    assert_eq!(testing::queued(), 30);
    assert_eq!(dropped("queue_overflow"), 5);

    setup(&Opts {
        offline: false,
        ..Opts::default()
    });
    capture_message("lost", None).unwrap();
    settled(&sent_body(0), 0, None, None, false);
    assert_eq!(testing::queued(), 0);
    assert_eq!(dropped("network_error"), 1);
}

#[wasm_bindgen_test]
fn a_burst_waits_for_request_slots_and_goes_by_beacon_when_the_page_hides() {
    setup(&Opts::default());
    for i in 0..7 {
        capture_message(&format!("burst {i}"), None).unwrap();
    }
    assert_eq!(js_num("return __bs.sends.length;"), 4.0, "four in flight");
    settled(&sent_body(0), 200, None, None, false);
    assert_eq!(
        js_num("return __bs.sends.length;"),
        5.0,
        "one finished, one more"
    );
    assert!(sent_body(4).contains("burst 4"), "in order");
    flush();
    let beacons = js("return __bs.beacons.join('');").as_string().unwrap();
    assert!(
        beacons.contains("burst 5") && beacons.contains("burst 6"),
        "the page may be going away: what waited goes by beacon"
    );
    settled(&sent_body(1), 200, None, None, false);
    assert_eq!(
        js_num("return __bs.sends.length;"),
        5.0,
        "nothing waits any more"
    );
    assert_eq!(dropped("queue_overflow") + dropped("network_error"), 0);

    // The collector starts answering 429: what waited is dropped and counted.
    setup(&Opts::default());
    for i in 0..6 {
        capture_message(&format!("limited {i}"), None).unwrap();
    }
    settled(&sent_body(0), 429, Some("60::key".into()), None, false);
    assert_eq!(js_num("return __bs.sends.length;"), 4.0);
    assert_eq!(
        dropped("ratelimit_backoff"),
        3,
        "the 429 itself and the two waiting"
    );

    // The network goes down: what waited joins the offline queue instead of failing too.
    setup(&Opts::default());
    for i in 0..6 {
        capture_message(&format!("down {i}"), None).unwrap();
    }
    settled(&sent_body(0), 0, None, None, false);
    assert_eq!(
        js_num("return __bs.sends.length;"),
        4.0,
        "no request into a dead network"
    );
    assert_eq!(testing::queued(), 3, "the failed one and the two waiting");
    assert_eq!(dropped("queue_overflow") + dropped("network_error"), 0);
}

#[wasm_bindgen_test]
fn flush_sends_a_client_report_by_beacon_once() {
    setup(&Opts {
        sample_rate: Some(0.0),
        ..Opts::default()
    });
    assert!(capture_message("sampled out", None).is_none());
    flush();
    flush();
    assert_eq!(
        js_num("return __bs.beacons.length;"),
        1.0,
        "nothing new to report the second time"
    );
    let env = js("return __bs.beacons[0];").as_string().unwrap();
    let mut lines = env.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let item: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let body: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["dsn"], DSN);
    assert_eq!(item["type"], "client_report");
    assert_eq!(body["discarded_events"][0]["reason"], "sample_rate");
    assert_eq!(body["discarded_events"][0]["category"], "error");
    assert_eq!(body["discarded_events"][0]["quantity"], 1);
    // A failed report is not queued nor counted (it would report itself).
    settled(&env, 0, None, None, false);
    assert_eq!(testing::queued(), 0);
    assert!(testing::client_report().is_none());
}

#[wasm_bindgen_test]
fn page_code_run_during_a_capture_cannot_capture() {
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
fn budget_caps_events_per_page_and_counts_the_rest() {
    setup(&Opts {
        max_events: Some(3.0),
        ..Opts::default()
    });
    let ids: Vec<bool> = (0..5)
        .map(|i| capture_message(&format!("m{i}"), None).is_some())
        .collect();
    assert_eq!(ids, [true, true, true, false, false]);
    assert!(
        capture_resource("IMG", "http://x/a.png").is_none(),
        "cap holds for every kind"
    );
    assert_eq!(dropped("event_processor"), 3);
    init_with(&Opts {
        max_events: Some(4.0),
        ..Opts::default()
    })
    .unwrap();
    assert!(
        capture_message("one more", None).is_some(),
        "re-init raises the cap, spent events count"
    );
    assert!(capture_message("too many", None).is_none());

    // A reload in the same tab: the session's count comes back from sessionStorage.
    assert_eq!(
        js(&format!(
            "return __bs.store['session:backstop:sent:{ENDPOINT}'];"
        ))
        .as_string()
        .unwrap(),
        "4"
    );
    setup_with(
        &Opts {
            max_events: Some(5.0),
            ..Opts::default()
        },
        false,
    );
    assert!(capture_message("the fifth of the session", None).is_some());
    assert!(
        capture_message("sixth", None).is_none(),
        "the cap is per session, not per page load"
    );
}

#[wasm_bindgen_test]
fn resource_failures_name_tag_and_url() {
    setup(&Opts::default());
    capture_resource("IMG", "http://cdn.test/missing.png").unwrap();
    let sent = testing::take_recorded();
    assert_eq!(sent[0].kind, "resource");
    let e = main_exception(&sent[0]);
    assert_eq!(e["type"], "ResourceLoadError");
    assert_eq!(
        e["value"],
        "Failed to load <img> http://cdn.test/missing.png"
    );
    assert_eq!(payload(&sent[0])["tags"]["resource.tag"], "img");
}

#[wasm_bindgen_test]
fn init_rejects_bad_options_with_clear_messages() {
    testing::reset();
    js(FAKES);
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
                dsn: "https://host/1".into(),
                ..Opts::default()
            },
            "no public key",
        ),
        (
            Opts {
                dsn: String::new(),
                ..Opts::default()
            },
            "missing field `dsn`",
        ),
        (
            Opts {
                max_events: Some(-1.0),
                ..Opts::default()
            },
            "maxEvents must be a whole number",
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
                sample_rate: Some(1.5),
                ..Opts::default()
            },
            "sampleRate must be a number from 0 to 1",
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
                failed_status: Some("!".into()),
                ..Opts::default()
            },
            "failedRequestStatusCodes must be",
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
