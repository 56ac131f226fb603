//! Size and delay notation of the webhook config (`20m`, `64k`, `30s`) and `Content-Encoding`.
#![no_main]

use backstop_server_core::size::ContentEncoding;
use backstop_guard_core::config::{parse_delay_secs, parse_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(n) = parse_size(text) {
        // A plain number of bytes parses to itself.
        assert_eq!(parse_size(&n.to_string()), Some(n));
    }
    if let Some(n) = parse_delay_secs(text) {
        assert_eq!(parse_delay_secs(&n.to_string()), Some(n));
    }
    let _ = ContentEncoding::parse(Some(text));
});
