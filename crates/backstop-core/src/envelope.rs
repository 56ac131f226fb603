//! Envelope parsing: `Headers { "\n" Item } [ "\n" ]`, `Item = Headers "\n" Payload`.
//! Items with and without `length`, `\r\n` line ends, optional trailing newline; unknown item
//! types are kept for the caller to count, never an error.

use serde_json::Value;

use crate::config::Limits;
use crate::error::IngestError;
use crate::event::parse_json_bounded;
use crate::item::ItemType;

/// One envelope item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    /// The `type` header.
    pub ty: String,
    /// The type, classified.
    pub kind: ItemType,
    /// The whole item header.
    pub header: Value,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// A parsed envelope borrowing its payloads from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    /// The envelope header (an object).
    pub header: Value,
    /// The items in order.
    pub items: Vec<Item<'a>>,
}

impl Envelope<'_> {
    /// The `event_id` of the envelope header, if any.
    pub fn event_id(&self) -> Option<&str> {
        self.header.get("event_id").and_then(Value::as_str)
    }

    /// The `dsn` of the envelope header, if any (tunnels and some SDKs send it).
    pub fn dsn(&self) -> Option<&str> {
        self.header.get("dsn").and_then(Value::as_str)
    }
}

/// Parses an envelope, enforcing item count, per-event size and JSON depth.
pub fn parse_envelope<'a>(body: &'a [u8], limits: &Limits) -> Result<Envelope<'a>, IngestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyBody);
    }
    let (line, mut rest) = split_line(body);
    let header = parse_header(line, limits, "envelope header")?;
    let mut items = Vec::new();
    loop {
        // Blank lines between items (and the optional trailing newline) are allowed.
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'\n' || first == b'\r' {
                rest = tail;
            } else {
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
        if items.len() >= limits.max_envelope_items {
            return Err(IngestError::InvalidEnvelope(format!(
                "more than {} items",
                limits.max_envelope_items
            )));
        }
        let (line, after) = split_line(rest);
        let item_header = parse_header(line, limits, "item header")?;
        let ty = item_header
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| IngestError::InvalidEnvelope("item header has no string 'type'".into()))?
            .to_string();
        let (payload, after_payload) = match item_header.get("length") {
            None | Some(Value::Null) => split_line(after),
            Some(len) => {
                let len = len.as_u64().ok_or_else(|| {
                    IngestError::InvalidEnvelope("item 'length' is not a whole number".into())
                })?;
                let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
                if len_usize > after.len() {
                    return Err(IngestError::InvalidEnvelope(format!(
                        "item of type '{ty}' declares length {len} but only {} bytes follow",
                        after.len()
                    )));
                }
                let (payload, tail) = after.split_at(len_usize);
                let tail = tail.strip_prefix(b"\r").unwrap_or(tail);
                match tail.first() {
                    None => (payload, tail),
                    Some(b'\n') => (payload, &tail[1..]),
                    Some(_) => {
                        return Err(IngestError::InvalidEnvelope(format!(
                            "item of type '{ty}' is not followed by a newline after {len} bytes"
                        )))
                    }
                }
            }
        };
        let kind = ItemType::parse(&ty);
        let (what, limit) = match kind {
            ItemType::Attachment => ("attachment item", limits.max_attachment_bytes),
            ItemType::ClientReport => ("client_report item", limits.max_client_report_bytes),
            ItemType::Session | ItemType::Sessions => {
                ("session item", limits.max_client_report_bytes)
            }
            _ if kind.is_event_like() || kind == ItemType::UserReport => {
                ("event item", limits.max_event_bytes)
            }
            _ => ("item", limits.max_attachment_bytes),
        };
        if payload.len() as u64 > limit {
            return Err(IngestError::too_large(
                what,
                limit,
                Some(payload.len() as u64),
            ));
        }
        items.push(Item {
            ty,
            kind,
            header: item_header,
            payload,
        });
        rest = after_payload;
    }
    Ok(Envelope { header, items })
}

/// Splits at the first `\n`, dropping a `\r` before it.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), rest)
}

fn parse_header(line: &[u8], limits: &Limits, what: &str) -> Result<Value, IngestError> {
    if line.len() > 64 * 1024 {
        return Err(IngestError::InvalidEnvelope(format!(
            "{what} is longer than 64 KiB"
        )));
    }
    let value = parse_json_bounded(line, limits.max_json_depth).map_err(|e| match e {
        IngestError::InvalidJson(m) => {
            IngestError::InvalidEnvelope(format!("{what} is not JSON: {m}"))
        }
        other => other,
    })?;
    if !value.is_object() {
        return Err(IngestError::InvalidEnvelope(format!(
            "{what} is not a JSON object"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, IngestError> {
        parse_envelope(body, &Limits::default()).map(|e| {
            e.items
                .into_iter()
                .map(|i| (i.ty, i.payload.to_vec()))
                .collect()
        })
    }

    #[test]
    fn parses_envelopes() {
        let ok: Vec<(&str, &[u8], Vec<(&str, &str)>)> = vec![
            ("with lengths", b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\",\"length\":7}\n{\"a\":1}\n{\"type\":\"attachment\",\"length\":10,\"filename\":\"a.txt\"}\n0123456789\n",
                vec![("event", "{\"a\":1}"), ("attachment", "0123456789")]),
            ("without lengths", b"{}\n{\"type\":\"event\"}\n{\"a\":1}\n{\"type\":\"session\"}\n{\"s\":2}", vec![("event", "{\"a\":1}"), ("session", "{\"s\":2}")]),
            ("crlf", b"{}\r\n{\"type\":\"event\",\"length\":2}\r\n{}\r\n", vec![("event", "{}")]),
            ("no trailing newline after length item", b"{}\n{\"type\":\"event\",\"length\":2}\n{}", vec![("event", "{}")]),
            ("payload containing newlines", b"{}\n{\"type\":\"attachment\",\"length\":3}\na\nb\n", vec![("attachment", "a\nb")]),
            ("unknown type kept", b"{}\n{\"type\":\"future_thing\"}\nxyz\n", vec![("future_thing", "xyz")]),
            ("header only", b"{\"dsn\":\"x\"}\n", vec![]),
            ("empty payload", b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n", vec![("attachment", "")]),
        ];
        for (name, body, want) in ok {
            let got = types(body).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want: Vec<(String, Vec<u8>)> = want
                .into_iter()
                .map(|(t, p)| (t.into(), p.as_bytes().to_vec()))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn rejects_malformed_envelopes() {
        let bad: Vec<(&str, &[u8], &str)> = vec![
            ("empty", b"", "empty_body"),
            ("whitespace", b" \n ", "empty_body"),
            ("header not json", b"nope\n", "invalid_envelope"),
            ("header not object", b"[1]\n", "invalid_envelope"),
            ("item without type", b"{}\n{\"length\":1}\nx\n", "invalid_envelope"),
            ("length past end", b"{}\n{\"type\":\"event\",\"length\":99}\n{}\n", "invalid_envelope"),
            ("negative length", b"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n", "invalid_envelope"),
            ("junk after payload", b"{}\n{\"type\":\"event\",\"length\":1}\nab\n", "invalid_envelope"),
            ("deep header", b"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n", "too_deep"),
        ];
        for (name, body, code) in bad {
            let err = types(body).expect_err(name);
            assert_eq!(err.code(), code, "{name}: {err}");
        }
    }

    #[test]
    fn enforces_event_size_and_item_count() {
        let limits = Limits {
            max_event_bytes: 4,
            max_envelope_items: 2,
            ..Limits::default()
        };
        let err =
            parse_envelope(b"{}\n{\"type\":\"event\",\"length\":5}\n12345\n", &limits).unwrap_err();
        assert_eq!((err.status(), err.body()["limit"].as_u64()), (413, Some(4)));
        // Attachments are not bound by the event limit, but by their own.
        assert!(parse_envelope(
            b"{}\n{\"type\":\"attachment\",\"length\":5}\n12345\n",
            &limits
        )
        .is_ok());
        let small = Limits {
            max_attachment_bytes: 4,
            max_client_report_bytes: 2,
            ..Limits::default()
        };
        let err = parse_envelope(
            b"{}\n{\"type\":\"attachment\",\"length\":5}\n12345\n",
            &small,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("attachment item is too large"),
            "{err}"
        );
        let err = parse_envelope(
            b"{}\n{\"type\":\"client_report\",\"length\":3}\n{}1\n",
            &small,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("client_report item is too large"),
            "{err}"
        );
        let err = parse_envelope(
            b"{}\n{\"type\":\"a\"}\n1\n{\"type\":\"a\"}\n2\n{\"type\":\"a\"}\n3\n",
            &limits,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_envelope");
    }
}
