//! Envelope headers and a writer. Parsing lives in `backstop-core` (it is policy: limits).

use alloc::string::String;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// The first line of an envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct EnvelopeHeader {
    /// Id of the event the envelope carries, if any.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub event_id: Option<String>,
    /// DSN the envelope is meant for (used by tunnels).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub dsn: Option<String>,
    /// RFC 3339 send time.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub sent_at: Option<String>,
}

/// The header line of one item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct ItemHeader {
    /// Item type: `event`, `attachment`, `client_report`...
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: String,
    /// Payload length in bytes; without it the payload runs to the next newline.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub length: Option<u64>,
}

/// Writes an envelope holding one item of `item_type` with an explicit length.
pub fn write_single_item(header_json: &str, item_type: &str, payload: &str) -> String {
    let mut out = String::with_capacity(header_json.len() + payload.len() + 64);
    out.push_str(header_json);
    out.push('\n');
    out.push_str("{\"type\":\"");
    out.push_str(item_type);
    out.push_str("\",\"length\":");
    push_u64(&mut out, payload.len() as u64);
    out.push_str("}\n");
    out.push_str(payload);
    out.push('\n');
    out
}

/// Appends the decimal digits of `n` (no `core::fmt`: it costs the browser SDK bytes).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for b in &buf[i..] {
        out.push(char::from(*b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_length_prefixed_item() {
        let env = write_single_item("{\"event_id\":\"ab\"}", "event", "{\"a\":\"é\"}");
        assert_eq!(
            env,
            "{\"event_id\":\"ab\"}\n{\"type\":\"event\",\"length\":10}\n{\"a\":\"é\"}\n"
        );
        assert_eq!(
            write_single_item("{}", "x", ""),
            "{}\n{\"type\":\"x\",\"length\":0}\n\n"
        );
    }
}
