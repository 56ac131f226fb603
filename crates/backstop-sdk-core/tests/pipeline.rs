//! The SDK's behaviour, natively: the same calls the browser glue makes (`backstop-browser`'s
//! exports are one-line translations into these), with a fake page standing in for the JS
//! ports: it records what the SDK asked for (requests, beacons, storage, timers,
//! notifications) and runs "page code" (`beforeSend`, `RegExp`s, listeners, a patched
//! `fetch`) that may call back into the SDK. Event shape, cause chains, filters, dedupe,
//! sampling, `beforeSend`, scope, breadcrumbs, request failures, rate limits, the offline
//! queue, client reports, the budget and re-entrancy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use backstop_sdk_core::capture::{self, error_draft, message_draft, resource_draft};
use backstop_sdk_core::config::Options;
use backstop_sdk_core::{state, transport, Host, State};
use serde_json::Value;

const DSN: &str = "http://testkey@127.0.0.1:59999/42";
const ENDPOINT: &str = "http://127.0.0.1:59999/api/42/envelope/";

type PageFn = Rc<dyn Fn()>;
type BeforeSend = Rc<dyn Fn(&str) -> Option<String>>;
/// A `RegExp` of the options.
type PagePattern = Box<dyn Fn(&str) -> bool>;

/// One event (or client report) handed to a transport.
#[derive(Debug, Clone)]
struct Sent {
    kind: &'static str,
    transport: &'static str,
    envelope: String,
}

impl Sent {
    fn payload(&self) -> &str {
        self.envelope.lines().nth(2).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Notified {
    id: String,
    kind: String,
    message: String,
}

/// The fake page: what the JS ports would do, recorded.
#[derive(Default)]
struct Fake {
    state: RefCell<State>,
    now: Cell<Option<f64>>,
    random: Cell<Option<f64>>,
    tests: RefCell<Vec<PagePattern>>,
    before_send: RefCell<Option<BeforeSend>>,
    on_notify: RefCell<Option<PageFn>>,
    on_send: RefCell<Option<PageFn>>,
    /// (url, body, queued)
    sends: RefCell<Vec<(String, String, bool)>>,
    beacons: RefCell<Vec<String>>,
    store: RefCell<BTreeMap<String, String>>,
    timers: RefCell<Vec<u64>>,
    notified: RefCell<Vec<Notified>>,
    recorded: RefCell<Vec<Sent>>,
}

thread_local! {
    static FAKE: Fake = Fake::default();
}

fn fake<R>(f: impl FnOnce(&Fake) -> R) -> R {
    FAKE.with(f)
}

/// The SDK's view of the fake page. Page code is cloned out before it runs: it may call back.
struct Page;

impl Host for Page {
    fn state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        fake(|p| f(&mut p.state.borrow_mut()))
    }
    fn now(&self) -> f64 {
        fake(|p| p.now.get()).unwrap_or(1_700_000_123_000.0)
    }
    fn random(&self) -> f64 {
        fake(|p| p.random.get()).unwrap_or(0.5)
    }
    fn iso_now(&self) -> String {
        "2023-11-14T22:13:20.000Z".into()
    }
    fn page_url(&self) -> String {
        "http://app.test/page".into()
    }
    fn test_pattern(&self, index: u32, text: &str) -> bool {
        let tests = fake(|p| std::mem::take(&mut *p.tests.borrow_mut()));
        let hit = tests.get(index as usize).is_some_and(|t| t(text));
        fake(|p| {
            let mut now = p.tests.borrow_mut();
            if now.is_empty() {
                *now = tests;
            }
        });
        hit
    }
    fn before_send(&self, event: &str) -> Option<String> {
        match fake(|p| p.before_send.borrow().clone()) {
            Some(f) => f(event),
            None => Some(event.into()),
        }
    }
    fn load(&self, key: &str) -> Option<String> {
        fake(|p| p.store.borrow().get(key).cloned())
    }
    fn store(&self, key: &str, value: &str) {
        fake(|p| {
            let mut store = p.store.borrow_mut();
            if value.is_empty() {
                store.remove(key);
            } else {
                store.insert(key.into(), value.into());
            }
        });
    }
    fn debug_ids(&self) -> String {
        String::new()
    }
    fn notify(&self, event_id: &str, kind: &str, _ty: Option<String>, message: &str, _t: &str) {
        fake(|p| {
            p.notified.borrow_mut().push(Notified {
                id: event_id.into(),
                kind: kind.into(),
                message: message.into(),
            })
        });
        if let Some(f) = fake(|p| p.on_notify.borrow().clone()) {
            f();
        }
    }
    fn record(&self, _id: &str, kind: &'static str, transport: &'static str, envelope: &str) {
        fake(|p| {
            p.recorded.borrow_mut().push(Sent {
                kind,
                transport,
                envelope: envelope.into(),
            })
        });
    }
    fn send(&self, url: &str, body: &str, queued: bool) {
        fake(|p| p.sends.borrow_mut().push((url.into(), body.into(), queued)));
        if let Some(f) = fake(|p| p.on_send.borrow().clone()) {
            f();
        }
    }
    fn beacon(&self, _url: &str, body: &str) -> bool {
        fake(|p| p.beacons.borrow_mut().push(body.into()));
        true
    }
    fn timer(&self, delay_ms: u64) {
        fake(|p| p.timers.borrow_mut().push(delay_ms));
    }
}

// The calls `backstop-browser` exports, with the same arguments.

fn capture(kind: &str, chain: &str, location: &str, function: &str) -> Option<String> {
    capture::capture(&Page, &mut || error_draft(kind, chain, location, function))
}

fn capture_message(message: &str, level: Option<String>) -> Option<String> {
    capture::capture(&Page, &mut || {
        Some(message_draft(message, level.as_deref()))
    })
}

fn capture_resource(tag: &str, src: &str) -> Option<String> {
    capture::capture(&Page, &mut || Some(resource_draft(tag, src)))
}

fn request_done(
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

fn set_user(json: Option<String>) {
    state::set_user(&Page, json);
}

fn set_tag(key: &str, value: &str) {
    state::set_tag(&Page, key, value);
}

fn set_context(name: &str, json: Option<String>) {
    state::set_context(&Page, name, json);
}

fn set_extra(key: &str, json: Option<String>) {
    state::set_extra(&Page, key, json);
}

fn add_breadcrumb(category: &str, message: &str, level: Option<String>, at: f64) {
    state::add_breadcrumb(&Page, category, message, level.as_deref(), at);
}

fn navigation_crumb(from: &str, to: &str, at: f64) {
    state::navigation_crumb(&Page, from, to, at);
}

fn click_crumb(path: &str, at: f64) {
    state::click_crumb(&Page, path, at);
}

fn settled(
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

fn drain() {
    transport::timer(&Page);
}

fn flush() {
    transport::page_hide(&Page);
}

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
    state::init(
        &Page,
        Options {
            dsn: &o.dsn,
            release: o.release,
            environment: o.environment,
            max_events: o.max_events,
            max_breadcrumbs: o.max_breadcrumbs,
            sample_rate: o.sample_rate,
            fetch_status_min: o.fetch_status_min,
            failed_status: o.failed_status.as_deref(),
            offline: o.offline,
            ignore_errors: o.ignore,
            deny_urls: o.deny,
            allow_urls: o.allow,
            user_agent: "TestAgent/1",
        },
    )
}

/// A fresh SDK and page; storage survives a reload (`clear_store` false).
fn reset_page(clear_store: bool) {
    fake(|p| {
        *p.state.borrow_mut() = State::new();
        p.now.set(None);
        p.random.set(None);
        p.tests.borrow_mut().clear();
        *p.before_send.borrow_mut() = None;
        *p.on_notify.borrow_mut() = None;
        *p.on_send.borrow_mut() = None;
        p.sends.borrow_mut().clear();
        p.beacons.borrow_mut().clear();
        p.timers.borrow_mut().clear();
        p.notified.borrow_mut().clear();
        p.recorded.borrow_mut().clear();
        if clear_store {
            p.store.borrow_mut().clear();
        }
    });
}

fn reset() {
    reset_page(true);
}

fn setup_with(o: &Opts, clear_store: bool) {
    reset_page(clear_store);
    init_with(o).unwrap();
}

fn setup(o: &Opts) {
    setup_with(o, true);
}

fn set_patterns(tests: Vec<PagePattern>) {
    fake(|p| *p.tests.borrow_mut() = tests);
}

fn set_before_send(f: Option<BeforeSend>) {
    fake(|p| *p.before_send.borrow_mut() = f);
}

fn take_recorded() -> Vec<Sent> {
    fake(|p| std::mem::take(&mut *p.recorded.borrow_mut()))
}

fn queued() -> usize {
    Page.state(|s| s.transport.queued())
}

fn client_report() -> Option<String> {
    Page.state(|s| (!s.report.is_empty()).then(|| s.report.to_json(0)))
}

fn n_sends() -> usize {
    fake(|p| p.sends.borrow().len())
}

fn n_beacons() -> usize {
    fake(|p| p.beacons.borrow().len())
}

fn notified(i: usize) -> Notified {
    fake(|p| p.notified.borrow()[i].clone())
}

fn stored(key: &str) -> Option<String> {
    fake(|p| p.store.borrow().get(key).cloned())
}

fn timers_json(last_only: bool) -> String {
    let timers = fake(|p| p.timers.borrow().clone());
    let shown = if last_only {
        &timers[timers.len().saturating_sub(1)..]
    } else {
        &timers[..]
    };
    serde_json::to_string(shown).unwrap()
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

/// The body of the `i`th request the fake `send` saw.
fn sent_body(i: usize) -> String {
    fake(|p| p.sends.borrow()[i].1.clone())
}

fn report() -> Value {
    client_report().map_or(Value::Null, |r| serde_json::from_str(&r).unwrap())
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

#[test]
fn event_has_the_protocol_fields_and_parsed_frames() {
    setup(&Opts {
        release: "web@1.2.3",
        environment: "test",
        ..Opts::default()
    });
    let id = capture("error", &err("Error", "kaput", STACK), "", "").unwrap();
    let sent = take_recorded();
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
    assert_eq!(n_sends(), 1);
    assert_eq!(
        fake(|f| f.sends.borrow()[0].0.clone()),
        format!(
            "{ENDPOINT}?sentry_version=7&sentry_key=testkey&sentry_client=backstop.browser/0.1.0"
        )
    );
    assert_eq!(notified(0).id, id);
    assert_eq!(notified(0).kind, "error");
    assert_eq!(notified(0).message, "kaput");
}

#[test]
fn cause_chains_become_linked_exceptions_with_bounded_depth() {
    setup(&Opts::default());
    let chain = [
        err("TypeError", "top", STACK),
        err("RangeError", "middle", ""),
        "Vroot as a string".into(),
    ]
    .join("\u{2}");
    capture("exception", &chain, "", "").unwrap();
    let sent = take_recorded();
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
    let values = exceptions(&take_recorded()[0]);
    assert_eq!(values.len(), 6, "the caught error and at most five causes");
    assert_eq!(values[5]["value"], "e0");
}

#[test]
fn non_error_rejections_and_values_are_described() {
    setup(&Opts::default());
    for v in ["Vplain string", "Vnull", "V{\"code\":42}", "Vundefined"] {
        capture("rejection", v, "", "").unwrap();
    }
    capture("exception", "VSymbol(s)", "", "").unwrap();
    let got: Vec<(String, String)> = take_recorded()
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

#[test]
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
    let sent = take_recorded();
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

#[test]
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
    assert_eq!(take_recorded().len(), 1);
    assert_eq!(dropped("event_processor"), 3);
}

#[test]
fn ignore_errors_deny_urls_and_allow_urls_take_strings_and_regexps() {
    setup(&Opts {
        ignore: "noise\u{1}\u{2}0",
        deny: "\u{2}1",
        ..Opts::default()
    });
    // The page's RegExps /^Ignored/ and /vendor\.js/.
    set_patterns(vec![
        Box::new(|t: &str| t.starts_with("Ignored")),
        Box::new(|t: &str| t.contains("vendor.js")),
    ]);
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

#[test]
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

#[test]
fn an_event_that_mentions_client_report_still_frees_its_request_slot() {
    setup(&Opts::default());
    set_extra("note", Some("{\"type\":\"client_report\"}".into()));
    for i in 0..5 {
        capture_message(&format!("mention {i}"), None).unwrap();
    }
    assert_eq!(n_sends(), 4, "four in flight, one waiting");
    assert!(
        sent_body(0).contains("client_report"),
        "the payload mentions it"
    );
    settled(&sent_body(0), 200, None, None, false);
    assert_eq!(
        n_sends(),
        5,
        "the finished event's slot goes to the waiting one"
    );
}

#[test]
fn a_collector_that_cannot_store_now_gets_the_event_again_after_its_retry_after() {
    setup(&Opts::default());
    capture_message("during an outage", None).unwrap();
    settled(&sent_body(0), 503, None, Some("30".into()), false);
    assert_eq!(queued(), 1, "kept, not dropped");
    assert_eq!(dropped("send_error"), 0);
    assert_eq!(
        timers_json(true),
        "[30000]",
        "retried after the collector's Retry-After (longer than the 1 s backoff)"
    );
    capture_message("refused for good", None).unwrap();
    settled(&sent_body(1), 400, None, None, false);
    assert_eq!(queued(), 1, "a 400 would fail again: not kept");
    assert_eq!(dropped("send_error"), 1);
}

#[test]
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

#[test]
fn sample_rate_drops_and_counts() {
    setup(&Opts {
        sample_rate: Some(0.25),
        ..Opts::default()
    });
    fake(|f| f.random.set(Some(0.5)));
    assert!(capture_message("sampled out", None).is_none());
    fake(|f| f.random.set(Some(0.1)));
    assert!(capture_message("sampled in", None).is_some());
    assert_eq!(dropped("sample_rate"), 1);
}

#[test]
fn before_send_edits_or_drops() {
    setup(&Opts::default());
    set_before_send(Some(Rc::new(|j: &str| {
        let mut e: Value = serde_json::from_str(j).unwrap();
        if e["message"] == "drop me" {
            return None;
        }
        e["tags"] = serde_json::json!({ "scrubbed": "yes" });
        Some(e.to_string())
    })));
    assert!(capture_message("drop me", None).is_none());
    assert!(capture_message("keep me", None).is_some());
    let sent = take_recorded();
    assert_eq!(sent.len(), 1);
    assert_eq!(payload(&sent[0])["tags"]["scrubbed"], "yes");
    assert_eq!(dropped("before_send"), 1);
}

#[test]
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
    let e = payload(&take_recorded()[0]);
    assert_eq!(e["user"]["id"], "u1");
    assert_eq!(e["tags"]["plan"], "team", "last value wins");
    assert_eq!(e["tags"].as_object().unwrap().len(), 1);
    assert_eq!(e["contexts"]["cart"]["items"], 3);
    assert!(e["contexts"].get("gone").is_none());
    assert_eq!(e["extra"]["answer"], 42);
    set_user(None);
    capture_message("after clearing the user", None).unwrap();
    assert!(payload(&take_recorded()[0]).get("user").is_none());
}

#[test]
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
    let e = payload(&take_recorded()[0]);
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
    let e = payload(&take_recorded()[0]);
    let crumbs = e["breadcrumbs"]["values"].as_array().unwrap();
    assert_eq!(crumbs.len(), 4, "bounded by maxBreadcrumbs");
    assert_eq!(crumbs[0]["category"], "console", "oldest evicted");
    assert_eq!(crumbs[3]["message"], "earlier");
    assert_eq!(crumbs[3]["timestamp"], 1_500_000_000.25);
}

#[test]
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
    let sent = take_recorded();
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
        take_recorded().len(),
        1,
        "fetchStatusMin is the range min..=599"
    );
}

#[test]
fn rate_limits_drop_events_per_category_until_they_expire() {
    setup(&Opts::default());
    fake(|f| f.now.set(Some(1000000.0)));
    capture_message("first", None).unwrap();
    let body = sent_body(0);
    settled(&body, 429, None, Some("30".into()), false);
    assert!(
        capture_message("limited", None).is_none(),
        "Retry-After honoured"
    );
    assert_eq!(n_sends(), 1, "nothing sent while limited");
    assert_eq!(
        dropped("ratelimit_backoff"),
        2,
        "the refused one and the held one"
    );
    fake(|f| f.now.set(Some(1030001.0)));
    assert!(capture_message("after the limit", None).is_some());

    settled(&body, 200, Some("60:error:key".into()), None, false);
    assert!(capture_message("error category limited on a 200", None).is_none());
    flush();
    assert_eq!(n_beacons(), 1, "client reports (internal) are not limited");
}

#[test]
fn a_collector_answering_429_forever_is_never_a_loop() {
    setup(&Opts::default());
    let mut answered = 0;
    for i in 0..500 {
        let _ = capture_message(&format!("m{i}"), None);
        // The collector answers every request it gets with 429.
        while answered < n_sends() {
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
    assert_eq!(n_sends(), 1, "one request, then the limit holds");
    drain();
    assert_eq!(
        n_sends(),
        1,
        "the retry timer sends nothing either: refused events are not queued"
    );
    assert_eq!(queued(), 0);
    assert_eq!(dropped("ratelimit_backoff"), 500);
}

#[test]
fn network_errors_go_to_the_offline_queue_with_backoff_and_survive_a_reload() {
    setup(&Opts::default());
    capture_message("offline 1", None).unwrap();
    capture_message("offline 2", None).unwrap();
    let bodies: Vec<String> = (0..2).map(sent_body).collect();
    settled(&bodies[0], 0, None, None, false);
    settled(&bodies[1], 0, None, None, false);
    assert_eq!(queued(), 2);
    assert_eq!(
        timers_json(false),
        "[1000,1000,1000]",
        "the first look at the queue 1 s after init, then round 1's backoff (1 s) for both: two sends failing in one outage are one retry round"
    );
    let kept = stored(&format!("backstop:queue:{ENDPOINT}")).unwrap();
    assert!(
        kept.contains("offline 1") && kept.contains("offline 2"),
        "kept in localStorage"
    );

    // A reload: no storage access at init; the first timer reads the queue and retries it.
    setup_with(&Opts::default(), false);
    assert_eq!(queued(), 0, "not read at init");
    assert_eq!(timers_json(false), "[1000]");
    drain();
    assert_eq!(queued(), 1, "loaded from storage, the oldest in flight");
    assert!(fake(|f| f.sends.borrow()[0].2), "from the queue");
    let first = sent_body(0);
    assert!(first.contains("offline 1"), "oldest first");
    drain();
    assert_eq!(n_sends(), 1, "one queued envelope in flight at a time");
    settled(&first, 0, None, None, true);
    assert_eq!(queued(), 2, "still failing: back at the front");
    drain();
    let again = sent_body(1);
    settled(&again, 200, None, None, true);
    drain();
    let second = sent_body(2);
    assert!(second.contains("offline 2"));
    settled(&second, 200, None, None, true);
    assert_eq!(queued(), 0, "delivered");
    assert!(
        stored(&format!("backstop:queue:{ENDPOINT}")).is_none(),
        "storage cleared"
    );
    assert_eq!(
        dropped("queue_overflow") + dropped("network_error"),
        0,
        "nothing lost"
    );
}

#[test]
fn a_full_queue_and_offline_off_count_their_losses() {
    setup(&Opts {
        max_events: Some(1000.0),
        ..Opts::default()
    });
    for i in 0..35 {
        capture_message(&format!("q{i}"), None).unwrap();
        settled(&sent_body(i), 0, None, None, false);
    }
    assert_eq!(queued(), 30);
    assert_eq!(dropped("queue_overflow"), 5);

    setup(&Opts {
        offline: false,
        ..Opts::default()
    });
    capture_message("lost", None).unwrap();
    settled(&sent_body(0), 0, None, None, false);
    assert_eq!(queued(), 0);
    assert_eq!(dropped("network_error"), 1);
}

#[test]
fn a_burst_waits_for_request_slots_and_goes_by_beacon_when_the_page_hides() {
    setup(&Opts::default());
    for i in 0..7 {
        capture_message(&format!("burst {i}"), None).unwrap();
    }
    assert_eq!(n_sends(), 4, "four in flight");
    settled(&sent_body(0), 200, None, None, false);
    assert_eq!(n_sends(), 5, "one finished, one more");
    assert!(sent_body(4).contains("burst 4"), "in order");
    flush();
    let beacons = fake(|f| f.beacons.borrow().join(""));
    assert!(
        beacons.contains("burst 5") && beacons.contains("burst 6"),
        "the page may be going away: what waited goes by beacon"
    );
    settled(&sent_body(1), 200, None, None, false);
    assert_eq!(n_sends(), 5, "nothing waits any more");
    assert_eq!(dropped("queue_overflow") + dropped("network_error"), 0);

    // The collector starts answering 429: what waited is dropped and counted.
    setup(&Opts::default());
    for i in 0..6 {
        capture_message(&format!("limited {i}"), None).unwrap();
    }
    settled(&sent_body(0), 429, Some("60::key".into()), None, false);
    assert_eq!(n_sends(), 4);
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
    assert_eq!(n_sends(), 4, "no request into a dead network");
    assert_eq!(queued(), 3, "the failed one and the two waiting");
    assert_eq!(dropped("queue_overflow") + dropped("network_error"), 0);
}

#[test]
fn flush_sends_a_client_report_by_beacon_once() {
    setup(&Opts {
        sample_rate: Some(0.0),
        ..Opts::default()
    });
    assert!(capture_message("sampled out", None).is_none());
    flush();
    flush();
    assert_eq!(n_beacons(), 1, "nothing new to report the second time");
    let env = fake(|f| f.beacons.borrow()[0].clone());
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
    assert_eq!(queued(), 0);
    assert!(client_report().is_none());
}

#[test]
fn page_code_run_during_a_capture_cannot_capture() {
    setup(&Opts::default());
    let inner: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
    let (a, b, c, d) = (inner.clone(), inner.clone(), inner.clone(), inner.clone());
    set_before_send(Some(Rc::new(move |j: &str| {
        a.borrow_mut()
            .push(capture_message("from beforeSend", None));
        Some(j.into())
    })));
    fake(|f| {
        *f.on_notify.borrow_mut() = Some(Rc::new(move || {
            b.borrow_mut().push(capture_message("from listener", None));
        }));
        // A RegExp of the options and the transport run page code too.
        *f.on_send.borrow_mut() = Some(Rc::new(move || {
            c.borrow_mut()
                .push(capture_message("from a patched fetch", None));
        }));
        *f.tests.borrow_mut() = vec![Box::new(move |_: &str| {
            d.borrow_mut().push(capture_message("from a RegExp", None));
            false
        })];
    });
    init_with(&Opts {
        ignore: "\u{2}0",
        ..Opts::default()
    })
    .unwrap();
    let result = capture_message("outer", None);
    assert!(
        result.as_ref().is_some_and(|s| s.len() == 32),
        "outer sent: {result:?}"
    );
    assert_eq!(*inner.borrow(), [None, None, None, None]);
    assert_eq!(take_recorded().len(), 1);
    fake(|f| {
        *f.on_notify.borrow_mut() = None;
        *f.on_send.borrow_mut() = None;
        f.tests.borrow_mut().clear();
    });
    set_before_send(None);
    assert!(capture_message("guard free again", None).is_some());
}

#[test]
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
        stored(&format!("session:backstop:sent:{ENDPOINT}")).unwrap(),
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

#[test]
fn resource_failures_name_tag_and_url() {
    setup(&Opts::default());
    capture_resource("IMG", "http://cdn.test/missing.png").unwrap();
    let sent = take_recorded();
    assert_eq!(sent[0].kind, "resource");
    let e = main_exception(&sent[0]);
    assert_eq!(e["type"], "ResourceLoadError");
    assert_eq!(
        e["value"],
        "Failed to load <img> http://cdn.test/missing.png"
    );
    assert_eq!(payload(&sent[0])["tags"]["resource.tag"], "img");
}

#[test]
fn init_rejects_bad_options_with_clear_messages() {
    reset();
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

#[test]
fn nothing_is_captured_or_recorded_before_init() {
    reset();
    assert!(capture("exception", "Vx", "", "").is_none());
    assert!(capture_message("x", None).is_none());
    add_breadcrumb("c", "m", None, 0.0);
    flush();
    assert!(take_recorded().is_empty());
    assert_eq!((n_sends() + n_beacons()), 0);
}

#[test]
fn a_failing_send_never_captures() {
    setup(&Opts::default());
    capture_message("first", None).unwrap();
    take_recorded();
    let body = sent_body(0);
    // Every failure the transport can meet: none becomes an event, none is notified.
    settled(&body, 0, None, None, false);
    settled(&body, 500, None, None, false);
    settled(&body, 413, None, None, false);
    drain();
    let queued_body = sent_body(n_sends() - 1);
    settled(&queued_body, 0, None, None, true);
    flush();
    assert!(
        take_recorded().iter().all(|s| s.kind == "client_report"),
        "only the client report"
    );
    assert_eq!(
        fake(|p| p.notified.borrow().len()),
        1,
        "only the first event"
    );
    // The page's failing fetch of the SDK's own endpoint is not reported either.
    request_done(
        "fetch",
        "POST",
        &[ENDPOINT, "?sentry_key=x"].concat(),
        0,
        1.0,
        "VTypeError",
        0.0,
    );
    assert!(take_recorded().is_empty());
}
