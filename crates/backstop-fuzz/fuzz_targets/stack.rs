//! `error.stack` strings (the page's text, read by the SDK) and the grouping built from them.
#![no_main]

use backstop_server_core::fingerprint::{culprit, fingerprint, message_template, normalize_filename};
use backstop_sdk_core::stack::{is_in_app, parse_stack, MAX_FRAMES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let frames = parse_stack(text);
    assert!(frames.len() <= MAX_FRAMES);
    for f in &frames {
        if let Some(url) = &f.filename {
            let _ = is_in_app(url);
            let _ = normalize_filename(url);
        }
        assert_ne!(f.lineno, Some(0));
        assert_ne!(f.colno, Some(0));
    }
    let _ = culprit(&frames);
    assert_eq!(fingerprint("Error", &frames, text, None).len(), 16);
    let _ = message_template(text);
    let _ = normalize_filename(text);
});
