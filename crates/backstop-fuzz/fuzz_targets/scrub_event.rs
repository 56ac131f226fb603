//! PII scrubbing of any event JSON (as ingest bounds it): never panics, and scrubbing the result
//! again changes nothing and reports nothing (so no rule leaves behind text another pass would
//! filter, and no replacement creates a new match).
#![no_main]

use backstop_server_core::event::parse_json_bounded;
use backstop_server_core::scrub::{parse_config, scrub_event, ScrubConfig, RULES};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let Ok(mut event) = parse_json_bounded(body, 128) else {
        return;
    };
    // The first byte picks a configuration, so extra and safe fields and the IP switch are fuzzed
    // too.
    let cfg = match flags % 4 {
        0 => ScrubConfig::default(),
        1 => ScrubConfig {
            scrub_ip: false,
            ..ScrubConfig::default()
        },
        2 => parse_config(&json!({"extra_fields": ["ssn", "card_holder"], "safe_fields": ["session"]}))
            .unwrap_or_default(),
        _ => ScrubConfig {
            safe_fields: vec!["password".into(), "Authorization".into()],
            ..ScrubConfig::default()
        },
    };
    let report = scrub_event(&mut event, &cfg);
    assert!(report.redactions.iter().all(|r| RULES.contains(&r.rule)));
    assert_eq!(report.count_by_rule().values().sum::<usize>(), report.total());
    let once = event.clone();
    let again = scrub_event(&mut event, &cfg);
    assert!(again.is_empty(), "a second pass filtered {again:?}");
    assert_eq!(event, once, "a second pass changed the event");
});
