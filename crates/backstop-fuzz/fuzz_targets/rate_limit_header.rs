//! `X-Sentry-Rate-Limits` and `Retry-After` as the SDK transport reads them from responses.
#![no_main]

use backstop_sdk_core::sdk_transport::{RateLimits, MAX_LIMIT_SECS};
use libfuzzer_sys::fuzz_target;

/// A realistic clock (2023) plus a varying offset; the headers are the input under test.
const NOW_MS: u64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&status, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // One status byte picks 429 or another status; the text is `rate-limits \n retry-after`.
    let status = if status & 1 == 0 {
        429
    } else {
        200 + u16::from(status)
    };
    let (rate_limits, retry_after) = match text.split_once('\n') {
        Some((a, b)) => (Some(a), Some(b)),
        None => (Some(text), None),
    };
    let mut limits = RateLimits::new();
    limits.update(status, rate_limits, retry_after, NOW_MS);
    limits.update(status, None, retry_after, NOW_MS);
    for category in ["", "error", "default", "transaction"] {
        let limited = limits.is_limited(category, NOW_MS);
        let until = limits.limited_until(category, NOW_MS);
        assert_eq!(limited, until.is_some());
        if let Some(until) = until {
            assert!(
                until <= NOW_MS + MAX_LIMIT_SECS * 1000,
                "limits are capped to a day"
            );
        }
    }
});
