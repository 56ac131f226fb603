//! Envelope parsing: `Headers { "\n" Item } [ "\n" ]`, `Item = Headers "\n" Payload`.
//! Items with and without `length`, `\r\n` line ends, optional trailing newline; unknown item
//! types are kept for the caller to count, never an error.

use serde_json::Value;

use crate::config::Limits;
use crate::error::IngestError;
use crate::event::parse_json_bounded;
use crate::item::ItemType;
use crate::size::{decode_prefix, ContentEncoding};

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

/// Longest envelope header read to authenticate a request before the rest of its body is read.
pub const MAX_PROBED_HEADER_BYTES: usize = 8 * 1024;
/// Most received (possibly compressed) bytes searched for that header.
pub const MAX_PROBED_RAW_BYTES: usize = 64 * 1024;

/// Checks an item's payload against the limit for its type. Only that item is dropped when it
/// is over: its `length` (or newline) still frames the rest of the envelope.
pub fn check_item_size(item: &Item<'_>, limits: &Limits) -> Result<(), IngestError> {
    let kind = &item.kind;
    let (what, limit) = match kind {
        ItemType::Attachment => ("attachment item", limits.max_attachment_bytes),
        ItemType::ClientReport => ("client_report item", limits.max_client_report_bytes),
        ItemType::Session | ItemType::Sessions => ("session item", limits.max_client_report_bytes),
        _ if kind.is_event_like() || *kind == ItemType::UserReport => {
            ("event item", limits.max_event_bytes)
        }
        _ => ("item", limits.max_attachment_bytes),
    };
    let size = item.payload.len() as u64;
    if size > limit {
        return Err(IngestError::too_large(what, limit, Some(size)));
    }
    Ok(())
}

/// The envelope header of a body of which only `raw` (the first bytes as received, possibly
/// compressed) has been read, or `None` while its first line has not arrived yet. Lets a request
/// that authenticates only with the header's `dsn` be authenticated and rate limited before
/// the rest of its body is read, decompressed and parsed. A header longer than
/// [`MAX_PROBED_HEADER_BYTES`], or none within [`MAX_PROBED_RAW_BYTES`], is refused.
pub fn probe_envelope_header(
    encoding: ContentEncoding,
    raw: &[u8],
    limits: &Limits,
) -> Result<Option<Value>, IngestError> {
    let decoded = decode_prefix(encoding, raw, MAX_PROBED_HEADER_BYTES + 1);
    let Some(end) = decoded.iter().position(|&b| b == b'\n') else {
        if decoded.len() > MAX_PROBED_HEADER_BYTES {
            return Err(IngestError::InvalidEnvelope(format!(
                "envelope header is longer than {MAX_PROBED_HEADER_BYTES} bytes"
            )));
        }
        if raw.len() >= MAX_PROBED_RAW_BYTES {
            return Err(IngestError::InvalidEnvelope(format!(
                "no envelope header in the first {MAX_PROBED_RAW_BYTES} bytes"
            )));
        }
        return Ok(None);
    };
    let (line, _) = split_line(&decoded[..=end]);
    parse_header(line, limits, "envelope header").map(Some)
}

/// Parses an envelope, enforcing item count and JSON depth (item sizes are checked per item by
/// [`check_item_size`]).
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
    fn enforces_item_sizes_and_count() {
        let limits = Limits {
            max_event_bytes: 4,
            max_envelope_items: 2,
            max_attachment_bytes: 6,
            max_client_report_bytes: 2,
            ..Limits::default()
        };
        let cases: Vec<(&str, &[u8], Result<(), (u16, u64, &str)>)> = vec![
            (
                "event over the event limit",
                b"{}\n{\"type\":\"event\",\"length\":5}\n12345\n",
                Err((413, 4, "event item")),
            ),
            (
                "attachment is bound by its own limit",
                b"{}\n{\"type\":\"attachment\",\"length\":5}\n12345\n",
                Ok(()),
            ),
            (
                "attachment over it",
                b"{}\n{\"type\":\"attachment\",\"length\":7}\n1234567\n",
                Err((413, 6, "attachment item")),
            ),
            (
                "client report",
                b"{}\n{\"type\":\"client_report\",\"length\":3}\n{}1\n",
                Err((413, 2, "client_report item")),
            ),
            (
                "session",
                b"{}\n{\"type\":\"sessions\",\"length\":3}\n{}1\n",
                Err((413, 2, "session item")),
            ),
        ];
        for (name, body, want) in cases {
            let env = parse_envelope(body, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
            let got = check_item_size(&env.items[0], &limits).map_err(|e| {
                let what = e
                    .to_string()
                    .split(" is too large")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (e.status(), e.body()["limit"].as_u64().unwrap_or(0), what)
            });
            assert_eq!(
                got.as_ref().map_err(|(s, l, w)| (*s, *l, w.as_str())),
                want.as_ref().map_err(|&(s, l, w)| (s, l, w)),
                "{name}"
            );
        }
        let err = parse_envelope(
            b"{}\n{\"type\":\"a\"}\n1\n{\"type\":\"a\"}\n2\n{\"type\":\"a\"}\n3\n",
            &limits,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_envelope");
    }

    #[test]
    fn probes_the_header_from_the_first_bytes() {
        use std::io::Write;
        let limits = Limits::default();
        let body = b"{\"dsn\":\"http://k@h/1\"}\n{\"type\":\"event\"}\n{}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body).unwrap();
        let gz = gz.finish().unwrap();
        let dsn = |r: Result<Option<Value>, IngestError>| {
            r.map(|h| h.map(|h| h["dsn"].as_str().unwrap_or_default().to_string()))
                .map_err(|e| e.code())
        };
        let long = format!("{{\"dsn\":\"{}\"}}\n", "x".repeat(MAX_PROBED_HEADER_BYTES));
        let cases: Vec<(&str, ContentEncoding, &[u8], Result<Option<&str>, &str>)> = vec![
            (
                "whole line",
                ContentEncoding::Identity,
                body,
                Ok(Some("http://k@h/1")),
            ),
            (
                "line not complete yet",
                ContentEncoding::Identity,
                &body[..10],
                Ok(None),
            ),
            ("nothing yet", ContentEncoding::Identity, b"", Ok(None)),
            ("gzip", ContentEncoding::Gzip, &gz, Ok(Some("http://k@h/1"))),
            (
                "gzip, first bytes only",
                ContentEncoding::Gzip,
                &gz[..5],
                Ok(None),
            ),
            (
                "not json",
                ContentEncoding::Identity,
                b"nope\n",
                Err("invalid_envelope"),
            ),
            (
                "too long",
                ContentEncoding::Identity,
                long.as_bytes(),
                Err("invalid_envelope"),
            ),
        ];
        for (name, enc, raw, want) in cases {
            assert_eq!(
                dsn(probe_envelope_header(enc, raw, &limits)),
                want.map(|o| o.map(str::to_string)),
                "{name}"
            );
        }
    }
}
