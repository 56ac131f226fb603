//! `/envelope/` bodies: the envelope framing, then every item the way ingest reads it.
#![no_main]

use backstop_server_core::auth::dsn_key;
use backstop_server_core::client_report::parse_client_report;
use backstop_server_core::config::Limits;
use backstop_server_core::envelope::parse_envelope;
use backstop_server_core::event::{normalize_event, normalize_user_report};
use backstop_server_core::item::ItemType;
use backstop_server_core::session::parse_session_item;
use libfuzzer_sys::fuzz_target;

const ID: &str = "0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    // Small limits too, so the item-count and per-item size refusals are reached by short inputs.
    let small = Limits {
        max_envelope_items: 3,
        max_event_bytes: 64,
        max_attachment_bytes: 64,
        max_client_report_bytes: 64,
        max_json_depth: 4,
        ..Limits::default()
    };
    for limits in [Limits::default(), small] {
        let Ok(envelope) = parse_envelope(data, &limits) else {
            continue;
        };
        assert!(envelope.items.len() <= limits.max_envelope_items);
        let _ = envelope.event_id();
        let _ = dsn_key(envelope.dsn(), "1");
        for item in &envelope.items {
            let depth = limits.max_json_depth;
            match item.kind {
                ItemType::Event | ItemType::Transaction | ItemType::Feedback => {
                    let _ = normalize_event(item.payload, ID, 1_700_000_000_000, depth);
                }
                ItemType::UserReport => {
                    let _ = normalize_user_report(item.payload, ID, 1_700_000_000_000, depth);
                }
                ItemType::ClientReport => {
                    let _ = parse_client_report(item.payload, depth);
                }
                ItemType::Session | ItemType::Sessions => {
                    let _ =
                        parse_session_item(item.payload, item.kind == ItemType::Sessions, depth);
                }
                ItemType::Span | ItemType::Attachment | ItemType::Unsupported(_) => {}
            }
        }
    }
});
