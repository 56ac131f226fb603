//! Event payloads (`event` items and `/store/` bodies): normalisation into the indexed summary.
#![no_main]

use backstop_server_core::event::{normalize_event, normalize_event_id, MAX_FRAMES, MAX_TAGS};
use libfuzzer_sys::fuzz_target;

const ID: &str = "0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = normalize_event(data, ID, 1_700_000_000_000, 64) {
        let s = &e.summary;
        assert_eq!(s.event_id.len(), 32, "event ids are always 32 hex");
        assert!(normalize_event_id(&s.event_id).is_some());
        assert!(s.frames.len() <= MAX_FRAMES);
        assert!(s.tags.len() <= MAX_TAGS);
        assert_eq!(s.fingerprint.len(), 16);
        assert!(matches!(
            s.level.as_str(),
            "fatal" | "error" | "warning" | "info" | "debug"
        ));
        assert_eq!(e.payload["event_id"], s.event_id.as_str());
    }
});
