//! The non-recursive JSON depth check in front of serde: whatever it lets through is no deeper
//! than the limit, and it never refuses a document that is within the limit.
#![no_main]

use backstop_server_core::event::parse_json_bounded;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Depth as the check counts it: every object or array is one level.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, json)) = data.split_first() else {
        return;
    };
    let limit = usize::from(limit % 16);
    match parse_json_bounded(json, limit) {
        Ok(v) => assert!(depth(&v) <= limit, "depth {} over {limit}", depth(&v)),
        Err(backstop_server_core::error::IngestError::TooDeep { .. }) => {
            // serde's own recursion limit is 128, so within it serde decides validity; a
            // refusal as too deep must mean the document really is deeper than the limit.
            if let Ok(v) = serde_json::from_slice::<Value>(json) {
                assert!(
                    depth(&v) > limit,
                    "refused a document of depth {}",
                    depth(&v)
                );
            }
        }
        Err(_) => {}
    }
});
