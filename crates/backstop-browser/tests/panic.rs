//! Rust/wasm apps: `capture_panic_hook` hands panics to the SDK on the page, and the SDK turns
//! them into fatal events with the Rust message and location. Its own test binary (own page):
//! one test panics on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use backstop_browser::{capture_panic, capture_panic_hook, init, testing};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(body: &str) -> JsValue {
    js_sys::Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .unwrap()
}

const FAKES: &str = r#"
    window.__sends = [];
    window.bs_now = function () { return Date.now(); };
    window.bs_random = function () { return Math.random(); };
    window.bs_iso = function () { return new Date().toISOString(); };
    window.bs_url = function () { return 'http://app.test/'; };
    window.bs_test = function () { return false; };
    window.bs_before_send = function (j) { return j; };
    window.bs_debug_ids = function () { return window.__debugIds || ''; };
    window.bs_send = function (url, body) { window.__sends.push(body); };
    window.bs_beacon = function () { return true; };
    window.bs_load = function () { return null; };
    window.bs_store = function () {};
    window.bs_timer = function () {};
    window.bs_notify = function () {};
"#;

fn start() {
    testing::reset();
    js(FAKES);
    testing::start_recording();
    init(
        "http://k@127.0.0.1:59999/1",
        "",
        "",
        None,
        None,
        None,
        None,
        None,
        true,
        "",
        "",
        "",
        "UA",
    )
    .unwrap();
}

#[wasm_bindgen_test]
fn a_panic_becomes_a_fatal_event_with_message_and_location() {
    start();
    let id = capture_panic(
        "index out of bounds: the len is 3 but the index is 7",
        "src/app.rs",
        42,
        13,
    );
    assert!(id.is_some());
    let sent = testing::take_recorded();
    assert_eq!(sent[0].kind, "panic");
    let event: Value = serde_json::from_str(sent[0].payload()).unwrap();
    assert_eq!(event["level"], "fatal");
    let exc = &event["exception"]["values"][0];
    assert_eq!(exc["type"], "panic");
    assert_eq!(
        exc["value"],
        "index out of bounds: the len is 3 but the index is 7"
    );
    assert_eq!(exc["mechanism"]["type"], "panic");
    assert_eq!(exc["mechanism"]["handled"], false);
    let frame = &exc["stacktrace"]["frames"][0];
    assert_eq!(frame["filename"], "src/app.rs");
    assert_eq!(frame["lineno"], 42);
    assert_eq!(frame["colno"], 13);
}

/// The hook itself: the panic below reaches `Backstop.capturePanic` (which hands it to the
/// SDK's export, as the stub does) with the message and this file's location, an event is
/// made, and the hook installed before still runs. That previous hook forwards to the test
/// harness's hook only when all of that happened, so any miss fails `should_panic`.
#[wasm_bindgen_test]
#[should_panic(expected = "app exploded")]
fn the_hook_hands_panics_to_the_sdk_and_keeps_the_previous_hook() {
    start();
    let forward = Closure::<dyn Fn(String, String, u32, u32) -> Option<String>>::new(
        |m: String, f: String, l: u32, c: u32| {
            let ok = m == "app exploded 7" && f.ends_with("tests/panic.rs") && l > 0 && c > 0;
            let id = capture_panic(&m, &f, l, c);
            let ok = ok && id.is_some() && testing::take_recorded().len() == 1;
            js_sys::Reflect::set(&js_sys::global(), &"__panicOk".into(), &ok.into()).unwrap();
            id
        },
    );
    js("window.Backstop = {};");
    js_sys::Reflect::set(
        &js("return window.Backstop;"),
        &"capturePanic".into(),
        forward.as_ref(),
    )
    .unwrap();
    forward.forget();
    let harness = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if js("return window.__panicOk === true;").is_truthy() {
            harness(info);
        }
    }));
    capture_panic_hook();
    let n = 7;
    panic!("app exploded {n}");
}
