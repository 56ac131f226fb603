//! Grouping: events with the same fingerprint are one issue.
//!
//! The fingerprint is the exception type plus the top (newest) three in-app frames, each as
//! function name and normalised file name (no host, query, fragment or build hash), so the same
//! bug groups across deploys and hosts. Without frames it is the type plus the message template
//! (numbers, hex ids and UUIDs replaced), so "id 42 not found" and "id 43 not found" group.
//! An SDK-supplied `fingerprint` overrides both.

use backstop_protocol::Frame;

/// How many in-app frames take part in grouping.
pub const GROUPING_FRAMES: usize = 3;

/// The grouping key: 16 lowercase hex digits.
pub fn fingerprint(
    exc_type: &str,
    frames: &[Frame],
    message: &str,
    custom: Option<&[String]>,
) -> String {
    let mut h = Fnv::new();
    if let Some(parts) = custom {
        h.write("custom");
        for p in parts {
            h.write(p);
        }
        return h.hex();
    }
    h.write(exc_type);
    let in_app: Vec<&Frame> = frames
        .iter()
        .rev()
        .filter(|f| f.in_app != Some(false))
        .take(GROUPING_FRAMES)
        .collect();
    if in_app
        .iter()
        .any(|f| f.function.is_some() || f.filename.is_some())
    {
        for f in in_app {
            h.write(f.function.as_deref().unwrap_or("?"));
            h.write(&normalize_filename(f.filename.as_deref().unwrap_or("")));
        }
    } else {
        h.write(&message_template(message));
    }
    h.hex()
}

/// The issue title: `Type: message`, or the message alone.
pub fn title(exc_type: &str, message: &str) -> String {
    let message = message.lines().next().unwrap_or_default();
    let t = match (exc_type.is_empty(), message.is_empty()) {
        (true, true) => "<no message>".to_string(),
        (true, false) => message.to_string(),
        (false, true) => exc_type.to_string(),
        (false, false) => format!("{exc_type}: {message}"),
    };
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    }
}

/// Where it happened: `function (file:line)` of the newest in-app frame.
pub fn culprit(frames: &[Frame]) -> String {
    let Some(f) = frames
        .iter()
        .rev()
        .find(|f| f.in_app != Some(false))
        .or_else(|| frames.last())
    else {
        return String::new();
    };
    let file = normalize_filename(f.filename.as_deref().unwrap_or(""));
    let func = f.function.as_deref().unwrap_or("?");
    match f.lineno {
        Some(l) => format!("{func} ({file}:{l})"),
        None => format!("{func} ({file})"),
    }
}

/// Strips scheme, host, query and fragment, and build hashes in the last path segment
/// (`app.3f9a2c1d.js` → `app.js`, `chunk-AB12CD34.js` → `chunk.js`).
pub fn normalize_filename(url: &str) -> String {
    let no_frag = url.split(['?', '#']).next().unwrap_or_default();
    let path = match no_frag.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => no_frag,
    };
    let (dir, file) = match path.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, path),
    };
    // Segments with the separator before each: ("", "app"), (".", "3f9a2c1d"), (".", "js").
    let mut segments: Vec<(&str, &str)> = Vec::new();
    let mut start = 0;
    for (i, c) in file
        .char_indices()
        .filter(|(_, c)| matches!(c, '.' | '-' | '_'))
    {
        let sep = if start == 0 {
            ""
        } else {
            &file[start - 1..start]
        };
        segments.push((sep, &file[start..i]));
        start = i + c.len_utf8();
    }
    segments.push((
        if start == 0 {
            ""
        } else {
            &file[start - 1..start]
        },
        &file[start..],
    ));
    let last = segments.len() - 1;
    let file: String = segments
        .iter()
        .enumerate()
        .filter(|(i, (_, seg))| *i == 0 || *i == last || !is_hashlike(seg))
        .flat_map(|(_, (sep, seg))| [*sep, *seg])
        .collect();
    match dir {
        Some(d) => format!("{d}/{file}"),
        None => file,
    }
}

fn is_hashlike(s: &str) -> bool {
    s.len() >= 6
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// Replaces the variable parts of a message: UUIDs, hex ids, numbers.
pub fn message_template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in
        message.split_inclusive(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        let (token, sep) = match word.char_indices().last() {
            Some((i, c)) if !(c.is_ascii_alphanumeric() || c == '-' || c == '.') => {
                (&word[..i], &word[i..])
            }
            _ => (word, ""),
        };
        let t = token.trim_end_matches('.');
        let dots = &token[t.len()..];
        if is_uuid(t) {
            out.push_str("<uuid>");
        } else if !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            && t.bytes().any(|b| b.is_ascii_digit())
        {
            out.push_str("<n>");
        } else if t.len() >= 8
            && t.bytes().all(|b| b.is_ascii_hexdigit())
            && t.bytes().any(|b| b.is_ascii_digit())
        {
            out.push_str("<hex>");
        } else {
            out.push_str(t);
        }
        out.push_str(dots);
        out.push_str(sep);
    }
    out
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// FNV-1a 64: stable across platforms and versions, unlike `DefaultHasher`.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, s: &str) {
        for b in s.bytes().chain(std::iter::once(0xff)) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(func: &str, file: &str, line: u32, in_app: bool) -> Frame {
        Frame {
            function: Some(func.into()),
            filename: Some(file.into()),
            abs_path: Some(file.into()),
            lineno: Some(line),
            colno: Some(1),
            in_app: Some(in_app),
        }
    }

    #[test]
    fn normalizes_filenames() {
        let cases = [
            (
                "https://cdn.example.com/static/app.3f9a2c1d.js?v=2#x",
                "/static/app.js",
            ),
            ("http://127.0.0.1:8787/demo/demo.js", "/demo/demo.js"),
            (
                "http://localhost/assets/chunk-AB12CD34.js",
                "/assets/chunk.js",
            ),
            ("http://h/my_component-v2.js", "/my_component-v2.js"),
            ("webpack:///src/index.ts", "/src/index.ts"),
            ("app.js", "app.js"),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(normalize_filename(url), want, "{url}");
        }
    }

    #[test]
    fn templates_messages() {
        let cases = [
            ("id 42 not found", "id <n> not found"),
            (
                "user 9ec79c33-ec99-42ab-8353-589fcb2e04dc gone.",
                "user <uuid> gone.",
            ),
            ("hash deadbeef12 bad", "hash <hex> bad"),
            ("took 1.5s", "took 1.5s"),
            ("x is undefined", "x is undefined"),
            ("at 12:30", "at <n>:<n>"),
        ];
        for (m, want) in cases {
            assert_eq!(message_template(m), want, "{m}");
        }
    }

    #[test]
    fn groups_by_type_and_top_in_app_frames() {
        let a = vec![
            frame("main", "http://h1/app.1234abcd.js", 1, true),
            frame("boom", "http://h1/app.1234abcd.js", 10, true),
        ];
        let same_other_deploy = vec![
            frame("main", "https://h2/app.99ffee11.js", 5, true),
            frame("boom", "https://h2/app.99ffee11.js", 12, true),
        ];
        let other_fn = vec![
            frame("main", "http://h1/app.js", 1, true),
            frame("bang", "http://h1/app.js", 10, true),
        ];
        let vendor_only_differs = {
            let mut v = a.clone();
            v.push(frame("lib", "http://h1/vendor.js", 3, false));
            v
        };
        let fp = |t: &str, f: &[Frame], m: &str| fingerprint(t, f, m, None);
        assert_eq!(
            fp("TypeError", &a, "x"),
            fp("TypeError", &same_other_deploy, "y"),
            "line numbers, hosts and hashes don't split"
        );
        assert_eq!(
            fp("TypeError", &a, "x"),
            fp("TypeError", &vendor_only_differs, "x"),
            "non-app frames are ignored"
        );
        assert_ne!(
            fp("TypeError", &a, "x"),
            fp("TypeError", &other_fn, "x"),
            "function names split"
        );
        assert_ne!(
            fp("TypeError", &a, "x"),
            fp("RangeError", &a, "x"),
            "types split"
        );
        assert_eq!(
            fp("", &[], "id 1 gone"),
            fp("", &[], "id 2 gone"),
            "message templates group"
        );
        assert_ne!(fp("", &[], "id 1 gone"), fp("", &[], "id 1 lost"));
        assert_eq!(fp("E", &[], "m").len(), 16);
        let custom = vec!["checkout".to_string()];
        assert_eq!(
            fingerprint("A", &a, "x", Some(&custom)),
            fingerprint("B", &[], "y", Some(&custom)),
            "custom fingerprint wins"
        );
    }

    #[test]
    fn titles_and_culprits() {
        assert_eq!(
            title("TypeError", "x is undefined\nmore"),
            "TypeError: x is undefined"
        );
        assert_eq!(title("", "hello"), "hello");
        assert_eq!(title("E", ""), "E");
        assert_eq!(title("", ""), "<no message>");
        let frames = vec![
            frame("main", "http://h/app.js", 1, true),
            frame("boom", "http://h/app.js", 10, true),
            frame("lib", "http://h/vendor.js", 3, false),
        ];
        assert_eq!(culprit(&frames), "boom (/app.js:10)");
        assert_eq!(culprit(&[]), "");
    }
}
