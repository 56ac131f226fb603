//! Sender hints: who sent a held payload, read from the first [`HINT_SCAN_BYTES`] of its body
//! so the dashboard can say "the mail from alice@example.com" instead of "21 MB of multipart".
//!
//! - `multipart/form-data` (SendGrid/Mailgun inbound parse): fields `from`, `sender`, `email`,
//!   `envelope` (JSON with `from`), `headers` and raw `email` MIME (their `From:` line);
//! - `application/x-www-form-urlencoded`: the same field names;
//! - JSON (Postmark, generic): string values of the keys `from`, `sender`, `email`,
//!   `from_email` at any depth, found by a lenient scan that survives a truncated document.
//!
//! Only the prefix is looked at (a `from` field after a 20 MB attachment is not found): hints
//! are help, never a guarantee.

/// How much of the body is scanned.
pub const HINT_SCAN_BYTES: usize = 64 * 1024;
/// Most hints kept.
pub const MAX_HINTS: usize = 3;
/// Longest hint kept, in characters.
pub const MAX_HINT_CHARS: usize = 200;

const KEYS: [&str; 4] = ["from", "sender", "email", "from_email"];

/// The sender hints of a body prefix (at most [`MAX_HINTS`], de-duplicated, in body order).
pub fn sender_hints(content_type: &str, body_prefix: &[u8]) -> Vec<String> {
    let prefix = &body_prefix[..body_prefix.len().min(HINT_SCAN_BYTES)];
    let ct = content_type.trim().to_ascii_lowercase();
    let mut hints = Hints::default();
    if ct.starts_with("multipart/form-data") {
        if let Some(boundary) = boundary(content_type) {
            multipart(prefix, &boundary, &mut hints);
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        form(prefix, &mut hints);
    } else if ct.contains("json") || prefix.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    {
        json(prefix, &mut hints);
    }
    hints.0
}

#[derive(Default)]
struct Hints(Vec<String>);

impl Hints {
    fn push(&mut self, raw: &str) {
        if self.0.len() >= MAX_HINTS {
            return;
        }
        let clean: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let clean: String = clean.chars().take(MAX_HINT_CHARS).collect();
        if !clean.is_empty() && !self.0.contains(&clean) {
            self.0.push(clean);
        }
    }

    /// A field's value: a `From:` line inside header blocks, JSON `from` inside `envelope`,
    /// else the value itself.
    fn field(&mut self, name: &str, value: &str) {
        match name {
            "headers" | "email" if value.contains('\n') => {
                if let Some(from) = header_line(value, "from") {
                    self.push(from);
                }
            }
            "envelope" => {
                let mut inner = Hints::default();
                json(value.as_bytes(), &mut inner);
                for h in inner.0 {
                    self.push(&h);
                }
            }
            _ if KEYS.contains(&name) => self.push(value),
            _ => {}
        }
    }
}

/// The value of `name:` in a block of `Name: value` lines (first match, case-insensitive).
fn header_line<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn multipart(body: &[u8], boundary: &str, hints: &mut Hints) {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let Some(mut pos) = find(body, delim, 0) else {
        return;
    };
    loop {
        let part_start = pos + delim.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            return;
        }
        let Some(headers_end) = find(body, b"\r\n\r\n", part_start) else {
            return;
        };
        let head = String::from_utf8_lossy(&body[part_start..headers_end]);
        let value_start = headers_end + 4;
        // The value runs to the next delimiter, or to the end of the prefix when cut off.
        let next = find(body, delim, value_start);
        let value_end = next.map_or(body.len(), |n| n.saturating_sub(2).max(value_start));
        let name = header_line(&head, "content-disposition").and_then(disposition_name);
        let is_file = header_line(&head, "content-disposition")
            .is_some_and(|d| d.to_ascii_lowercase().contains("filename="));
        if let (Some(name), false) = (name, is_file) {
            let value = String::from_utf8_lossy(&body[value_start..value_end]);
            hints.field(&name.to_ascii_lowercase(), &value);
        }
        match next {
            Some(n) => pos = n,
            None => return,
        }
    }
}

/// `form-data; name="from"` → `from`.
fn disposition_name(disposition: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("name")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(body: &[u8], hints: &mut Hints) {
    let text = String::from_utf8_lossy(body);
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(k).to_ascii_lowercase();
        hints.field(&name, &percent_decode(v));
    }
}

/// Scans for `"key" : "string"` with a key of interest, at any depth, tolerating truncation.
fn json(body: &[u8], hints: &mut Hints) {
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'"' {
            i += 1;
            continue;
        }
        let Some((key, after_key)) = json_string(body, i) else {
            return;
        };
        i = after_key;
        let mut j = after_key;
        while body.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if body.get(j) != Some(&b':') {
            continue;
        }
        j += 1;
        while body.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        let key = key.to_ascii_lowercase();
        if body.get(j) == Some(&b'"') && KEYS.contains(&key.as_str()) {
            if let Some((value, after)) = json_string(body, j) {
                hints.push(&value);
                i = after;
            }
        }
    }
}

/// The JSON string starting at `start` (a `"`), unescaped, and the index after it.
fn json_string(body: &[u8], start: usize) -> Option<(String, usize)> {
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            b'\\' => {
                let esc = *body.get(i + 1)?;
                match esc {
                    b'n' | b't' | b'r' | b'b' | b'f' => out.push(b' '),
                    b'u' => {
                        let hex = std::str::from_utf8(body.get(i + 2..i + 6)?).ok()?;
                        let c = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += 4;
                    }
                    other => out.push(other),
                }
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart_body(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = String::new();
        for (name, value) in fields {
            b.push_str(&format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        b.push_str("--XyZ--\r\n");
        b.into_bytes()
    }

    #[test]
    fn finds_senders_in_inbound_parse_multipart() {
        let ct = "multipart/form-data; boundary=XyZ";
        let sendgrid = multipart_body(&[
            (
                "headers",
                "Received: by mx\nFrom: Alice <alice@example.com>\nTo: in@shop.test\n",
            ),
            ("to", "in@shop.test"),
            ("from", "Alice <alice@example.com>"),
            (
                "envelope",
                r#"{"to":["in@shop.test"],"from":"bounce@example.com"}"#,
            ),
            ("text", "hello"),
        ]);
        let mut with_file = sendgrid.clone();
        with_file.truncate(with_file.len() - "--XyZ--\r\n".len());
        with_file.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"from\"; filename=\"from\"\r\n\r\nnot-a-sender\r\n--XyZ--\r\n",
        );
        let cut = {
            let mut b = multipart_body(&[("from", "bob@example.org"), ("attachment1", "AAAA")]);
            b.truncate(b.len() - 12);
            b
        };
        let cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
            (
                ct,
                sendgrid.clone(),
                vec!["Alice <alice@example.com>", "bounce@example.com"],
                "headers From:, from, envelope",
            ),
            (
                ct,
                with_file,
                vec!["Alice <alice@example.com>", "bounce@example.com"],
                "file parts are not hints",
            ),
            (
                ct,
                cut,
                vec!["bob@example.org"],
                "prefix cut mid-attachment",
            ),
            (
                "multipart/form-data; boundary=\"XyZ\"",
                multipart_body(&[("sender", "s@x.io")]),
                vec!["s@x.io"],
                "quoted boundary",
            ),
            ("multipart/form-data", sendgrid, vec![], "no boundary"),
        ];
        for (ct, body, want, why) in cases {
            assert_eq!(sender_hints(ct, &body), want, "{why}");
        }
    }

    #[test]
    fn finds_senders_in_forms_and_json() {
        let cases: Vec<(&str, &[u8], Vec<&str>, &str)> = vec![
            ("application/x-www-form-urlencoded", b"recipient=in%40shop.test&sender=carol%40example.net&From=Carol+%3Ccarol%40example.net%3E", vec!["carol@example.net", "Carol <carol@example.net>"], "mailgun form"),
            ("application/json", br#"{"From":"dan@example.com","FromFull":{"Email":"dan@example.com"},"To":"x"}"#, vec!["dan@example.com"], "postmark, de-duplicated"),
            ("application/json; charset=utf-8", br#"{"data":{"object":{"email":"eve@example.com"}}}"#, vec!["eve@example.com"], "nested"),
            ("application/json", br#"{"from":"fr\u00e9d@example.com","text":"\"from\": \"no\""}"#, vec!["fr\u{e9}d@example.com"], "escapes; keys inside strings are not keys"),
            ("application/json", br#"{"payload":"big","from":"trunc@example.com","att":"AAAAAAAA"#, vec!["trunc@example.com"], "truncated JSON"),
            ("text/plain", br#"  {"sender":"x@y.z"}"#, vec!["x@y.z"], "JSON without a JSON content type"),
            ("application/octet-stream", b"\x00\x01from=x", vec![], "binary"),
            ("application/json", br#"{"from":"a\nb   c"}"#, vec!["a b c"], "control characters flattened"),
        ];
        for (ct, body, want, why) in cases {
            assert_eq!(sender_hints(ct, body), want, "{why}");
        }
    }

    #[test]
    fn hints_are_bounded() {
        let long = "x".repeat(1_000);
        let body = format!(r#"{{"from":"{long}","sender":"a","email":"b","from_email":"c"}}"#);
        let hints = sender_hints("application/json", body.as_bytes());
        assert_eq!(hints.len(), MAX_HINTS);
        assert_eq!(hints[0].chars().count(), MAX_HINT_CHARS);
        // A `from` beyond the scanned prefix is not seen.
        let mut far = vec![b' '; HINT_SCAN_BYTES];
        far.extend_from_slice(br#"{"from":"late@example.com"}"#);
        assert!(sender_hints("application/json", &far).is_empty());
    }
}
