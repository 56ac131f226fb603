//! `X-Sentry-Auth` headers.
#![no_main]

use backstop_server_core::auth::parse_sentry_auth;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let auth = parse_sentry_auth(header);
    if let Some(key) = &auth.key {
        assert!(!key.is_empty(), "an empty key is no key");
    }
});
