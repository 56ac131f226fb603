//! Inbound filters and user-agent parsing: the input is an event (JSON), else a string placed in
//! every field the filters read. Also read as a filter configuration.
#![no_main]

use backstop_server_core::filter::{
    contexts_json, parse_config, should_filter, tags, ua_context, FilterConfig,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let event: Value = serde_json::from_slice(data).unwrap_or_else(|_| {
        json!({
            "release": text,
            "message": text,
            "exception": {"values": [{"type": text, "value": text,
                "stacktrace": {"frames": [{"abs_path": text, "filename": text}]}}]},
            "request": {"url": text, "headers": {"User-Agent": text}},
            "user": {"ip_address": text}
        })
    });
    let all_on = FilterConfig {
        localhost: true,
        legacy_browsers: true,
        error_messages: vec!["*a*b?c*".into(), text.chars().take(200).collect()],
        releases: vec!["*-canary".into()],
        ip_ranges: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
        allowed_script_origins: vec!["https://app.example.com".into()],
        ..FilterConfig::default()
    };
    let ip = text.lines().next();
    let _ = should_filter(&event, ip, &all_on);
    let _ = should_filter(&event, None, &FilterConfig::default());
    let ctx = ua_context(&text);
    let _ = contexts_json(&ctx);
    assert!(tags(&ctx).len() <= 5);
    if let Ok(cfg) = parse_config(&event) {
        let _ = should_filter(&event, ip, &cfg);
    }
});
