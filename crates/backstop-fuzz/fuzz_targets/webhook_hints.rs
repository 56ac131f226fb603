//! Webhook sender hints from a held body's prefix: the first line is the `Content-Type`, the
//! rest the body (multipart, form or JSON).
#![no_main]

use backstop_guard_core::hints::{sender_hints, MAX_HINTS, MAX_HINT_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    let hints = sender_hints(&content_type, body);
    assert!(hints.len() <= MAX_HINTS);
    for h in &hints {
        assert!(!h.is_empty() && h.chars().count() <= MAX_HINT_CHARS);
        assert!(!h.chars().any(char::is_control));
    }
    // The same body with each content type, so all three scanners see every input.
    for ct in [
        "multipart/form-data; boundary=XyZ",
        "application/x-www-form-urlencoded",
        "application/json",
    ] {
        assert!(sender_hints(ct, data).len() <= MAX_HINTS);
    }
});
