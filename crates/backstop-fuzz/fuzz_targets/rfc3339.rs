//! RFC 3339 timestamps (`timestamp`, `sent_at`): parsing arbitrary text, and formatting then
//! parsing any time up to year 9999 gives the same milliseconds.
#![no_main]

use backstop_server_core::time::{format_rfc3339_ms, parse_rfc3339_ms};
use libfuzzer_sys::fuzz_target;

/// 10000-01-01T00:00:00Z: the first time that needs a five-digit year.
const YEAR_10000_MS: u64 = 253_402_300_800_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(ms) = parse_rfc3339_ms(text) {
            let _ = format_rfc3339_ms(ms);
        }
    }
    if let Some(bytes) = data.get(..8) {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        let ms = u64::from_le_bytes(raw) % YEAR_10000_MS;
        let text = format_rfc3339_ms(ms);
        assert_eq!(parse_rfc3339_ms(&text), Some(ms), "{text}");
    }
});
