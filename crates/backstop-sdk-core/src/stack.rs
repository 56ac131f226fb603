//! JavaScript stack-string parsing (Chrome, Firefox, Safari).
//!
//! Browsers expose `error.stack` as free text in two families of formats:
//!
//! - **V8 (Chrome, Edge, Node)**: an optional message line, then one `    at ...` line per frame:
//!   `at fn (url:line:col)`, `at url:line:col`, `at async fn (...)`, `at new X (...)`,
//!   `at eval (eval at outer (url:line:col), <anonymous>:1:2)`.
//! - **Gecko / JavaScriptCore (Firefox, Safari)**: `fn@url:line:col`, `@url:line:col`,
//!   `global code@url:line:col`, `async*fn@...`, `fn@url line 3 > eval:1:2`, `[native code]`.
//!
//! [`parse_stack`] accepts either (even mixed), skips lines it does not understand, and returns
//! frames **oldest first** as the Sentry protocol wants them. It is bounded and never panics: it
//! keeps at most [`MAX_FRAMES`] frames (the innermost ones) and ignores lines longer than
//! [`MAX_LINE_LEN`] bytes.

use backstop_protocol::Frame;

use crate::prelude::*;
use crate::sdk::{contains_str, parse_u32, rsplit_once_str, split_once_str};

/// Most frames kept from one stack (the innermost ones).
pub const MAX_FRAMES: usize = 100;
/// Lines longer than this (in bytes) are ignored: no real frame is that long, and parsing them
/// would let a hostile page make the SDK slow.
pub const MAX_LINE_LEN: usize = 1024;

/// Parses a JavaScript `error.stack` string into frames, oldest first.
pub fn parse_stack(stack: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    for line in stack.lines() {
        if frames.len() >= MAX_FRAMES {
            break;
        }
        if line.len() > MAX_LINE_LEN {
            continue;
        }
        if let Some(frame) = parse_line(line) {
            frames.push(frame);
        }
    }
    frames.reverse();
    frames
}

/// Parses one line of either family; `None` for message lines and garbage.
fn parse_line(line: &str) -> Option<Frame> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("at ") {
        return parse_v8(rest.trim_start());
    }
    parse_gecko(line)
}

/// `rest` is what follows `at `.
fn parse_v8(rest: &str) -> Option<Frame> {
    let rest = rest.strip_prefix("async ").unwrap_or(rest).trim();
    if rest.is_empty() {
        return None;
    }
    let (function, location) = match split_v8_call(rest) {
        Some((function, location)) => (Some(function), location),
        None => (None, rest),
    };
    let location = location.strip_prefix("address at ").unwrap_or(location);
    let (url, lineno, colno) = if location.starts_with("eval at ") {
        v8_eval_origin(location)
    } else if location.starts_with("index ") {
        // `at async Promise.all (index 0)`: a native combinator, no source.
        ("", None, None)
    } else {
        split_location(location)
    };
    // Without `fn (...)` the whole rest must be a location: no spaces, and a position or a URL.
    if function.is_none()
        && (url.contains(char::is_whitespace)
            || (lineno.is_none() && !is_native(url) && !looks_like_url(url)))
    {
        return None;
    }
    Some(make_frame(function, url, lineno, colno))
}

/// Splits `fn (location)` at the parenthesis that matches the final `)`. `None` when the line
/// does not end in a balanced parenthesised location.
fn split_v8_call(rest: &str) -> Option<(&str, &str)> {
    let body = rest.strip_suffix(')')?;
    let mut depth = 1usize;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    let function = body.get(..i).unwrap_or("").trim_end();
                    let location = body.get(i + 1..).unwrap_or("");
                    return if function.is_empty() {
                        None
                    } else {
                        Some((function, location))
                    };
                }
            }
            _ => {}
        }
    }
    None
}

/// `eval at outer (url:1:2), <anonymous>:3:4`: the evaluated code has no URL of its own, so the
/// frame points at the innermost real `(url:line:col)` that ran the eval.
fn v8_eval_origin(location: &str) -> (&str, Option<u32>, Option<u32>) {
    // One linear pass: each `)` closes the most recent `(`, so nested origins are seen
    // innermost first.
    let mut open = None;
    for (i, c) in location.char_indices() {
        match c {
            '(' => open = Some(i),
            ')' => {
                if let Some(start) = open.take() {
                    let inner = location.get(start + 1..i).unwrap_or("");
                    if !inner.contains(char::is_whitespace) {
                        let (url, line, col) = split_location(inner);
                        if line.is_some() && col.is_some() {
                            return (url, line, col);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match rsplit_once_str(location, ", ") {
        Some((_, last)) => split_location(last),
        None => ("", None, None),
    }
}

/// `fn@location` (Firefox, Safari) or a bare `[native code]` (Safari).
fn parse_gecko(line: &str) -> Option<Frame> {
    if line == "[native code]" {
        return Some(make_frame(None, line, None, None));
    }
    let (function, location) = line.split_once('@')?;
    // Firefox decorates async frames: `async*fn`, `promise callback*fn`.
    let function = function
        .rsplit_once('*')
        .map_or(function, |(_, f)| f)
        .trim();
    let location = location.trim();
    if let Some((url, eval_line)) = gecko_eval_origin(location) {
        let function = if function.is_empty() {
            "eval"
        } else {
            function
        };
        return Some(make_frame(Some(function), url, eval_line, None));
    }
    let (url, lineno, colno) = split_location(location);
    // `user@example.com` in a message line is not a frame: the location must look like a script.
    if !(is_native(url) || looks_like_url(url) || (lineno.is_some() && url.contains('.'))) {
        return None;
    }
    Some(make_frame(Some(function), url, lineno, colno))
}

/// Firefox eval and `new Function` frames: `url line 3 > eval:1:2` or
/// `url line 3 > Function:1:2`. Returns the URL and line that ran the eval.
fn gecko_eval_origin(location: &str) -> Option<(&str, Option<u32>)> {
    let (url, rest) = split_once_str(location, " line ")?;
    if !rest.contains('>') {
        return None;
    }
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    // Zero is no line (positions are 1-based), as in `split_location`.
    let line = parse_u32(rest.get(..digits_end).unwrap_or("")).filter(|n| *n > 0);
    Some((url, line))
}

/// `url:line:col`, `url:line` or a bare `url`. Positions that are zero or out of range become
/// `None` (but are still split off the URL).
fn split_location(location: &str) -> (&str, Option<u32>, Option<u32>) {
    let location = location.trim();
    let Some((head, last)) = location.rsplit_once(':') else {
        return (location, None, None);
    };
    let Some(last) = position(last) else {
        return (location, None, None);
    };
    match head.rsplit_once(':') {
        Some((url, line)) => match position(line) {
            Some(line) => (url, line, last),
            None => (head, last, None),
        },
        None => (head, last, None),
    }
}

/// `None` if `s` is not a run of ASCII digits; `Some(None)` for digits that are zero or too big.
fn position(s: &str) -> Option<Option<u32>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(parse_u32(s).filter(|n| *n > 0))
}

fn looks_like_url(url: &str) -> bool {
    contains_str(url, "://")
        || url.starts_with('/')
        || url.starts_with("blob:")
        || url.starts_with("data:")
}

/// Frames with no script of their own: engine built-ins and anonymous code.
fn is_native(url: &str) -> bool {
    matches!(url, "native" | "<anonymous>" | "[native code]")
}

/// Whether a frame at `url` is the page's own code: not a browser extension, not native code,
/// and not Backstop's own SDK (`/sdk/backstop.js`, its wasm), whose wrapper frames sit on top of
/// the page's in captured stacks and would otherwise become every issue's culprit.
pub fn is_in_app(url: &str) -> bool {
    const EXTENSION_SCHEMES: [&str; 4] = [
        "chrome-extension://",
        "moz-extension://",
        "safari-extension://",
        "safari-web-extension://",
    ];
    !(url.is_empty()
        || is_native(url)
        || EXTENSION_SCHEMES.iter().any(|s| url.starts_with(s))
        || is_backstop_sdk(url))
}

/// The SDK's own files (query and fragment ignored): `backstop.js` as served under `/sdk/`
/// (`/sdk/backstop.js`, the versioned `/sdk/v<version>/backstop.js`), and the part loaded on the
/// first error beside it, `backstop_bg.js` and `backstop_bg.wasm`. Plain suffix and byte-scan
/// checks: str slicing or core's substring searcher would grow the wasm by kilobytes.
fn is_backstop_sdk(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.ends_with("/backstop_bg.js")
        || contains_str(path, "/backstop_bg.wasm")
        || (path.ends_with("/backstop.js") && contains_str(path, "/sdk/"))
}

fn make_frame(function: Option<&str>, url: &str, lineno: Option<u32>, colno: Option<u32>) -> Frame {
    let function = function
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(ToString::to_string);
    let file: Option<String> = if url.is_empty() {
        None
    } else {
        Some(url.to_string())
    };
    Frame {
        function,
        filename: file.clone(),
        abs_path: file,
        lineno,
        colno,
        in_app: Some(is_in_app(url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(function, url, line, col, in_app)`; `""` means absent.
    type Want = (&'static str, &'static str, u32, u32, bool);

    fn simplify(frames: &[Frame]) -> Vec<(String, String, u32, u32, bool)> {
        frames
            .iter()
            .map(|f| {
                assert_eq!(f.filename, f.abs_path, "abs_path mirrors filename");
                (
                    f.function.clone().unwrap_or_default(),
                    f.filename.clone().unwrap_or_default(),
                    f.lineno.unwrap_or(0),
                    f.colno.unwrap_or(0),
                    f.in_app.unwrap_or(false),
                )
            })
            .collect()
    }

    fn check(cases: &[(&str, &str, &[Want])]) {
        for (name, stack, want) in cases {
            let got = simplify(&parse_stack(stack));
            let want: Vec<_> = want
                .iter()
                .map(|(f, u, l, c, a)| (f.to_string(), u.to_string(), *l, *c, *a))
                .collect();
            assert_eq!(got, want, "case: {name}");
        }
    }

    #[test]
    fn parses_chrome_stacks_oldest_first() {
        check(&[
            (
                "plain frames, message line skipped",
                "TypeError: Cannot read properties of undefined (reading 'x')\n    at render (http://localhost:8080/app.js:10:15)\n    at HTMLButtonElement.onClick (http://localhost:8080/app.js:20:5)\n    at http://localhost:8080/app.js:30:1",
                &[
                    ("", "http://localhost:8080/app.js", 30, 1, true),
                    ("HTMLButtonElement.onClick", "http://localhost:8080/app.js", 20, 5, true),
                    ("render", "http://localhost:8080/app.js", 10, 15, true),
                ],
            ),
            (
                "async, constructor, alias and anonymous object frames",
                "Error: boom\n    at new Widget (https://cdn.example.com/w.js:3:9)\n    at Object.<anonymous> (https://cdn.example.com/w.js:5:1)\n    at Foo.bar [as baz] (https://cdn.example.com/w.js:7:2)\n    at async loadAll (https://cdn.example.com/w.js:9:4)\n    at async Promise.all (index 0)",
                &[
                    ("Promise.all", "", 0, 0, false),
                    ("loadAll", "https://cdn.example.com/w.js", 9, 4, true),
                    ("Foo.bar [as baz]", "https://cdn.example.com/w.js", 7, 2, true),
                    ("Object.<anonymous>", "https://cdn.example.com/w.js", 5, 1, true),
                    ("new Widget", "https://cdn.example.com/w.js", 3, 9, true),
                ],
            ),
            (
                "eval frames point at the code that called eval",
                "Error: in eval\n    at eval (eval at run (http://x.test/a.js:12:7), <anonymous>:1:7)\n    at eval (eval at outer (eval at run (http://x.test/b.js:4:2)), <anonymous>:1:1)\n    at Function (<anonymous>)\n    at run (http://x.test/a.js:12:7)",
                &[
                    ("run", "http://x.test/a.js", 12, 7, true),
                    ("Function", "<anonymous>", 0, 0, false),
                    ("eval", "http://x.test/b.js", 4, 2, true),
                    ("eval", "http://x.test/a.js", 12, 7, true),
                ],
            ),
            (
                "native, extension and port-only URLs",
                "Error\n    at Array.map (native)\n    at inject (chrome-extension://abcdef/content.js:1:100)\n    at http://127.0.0.1:8787/x.js:2:3\n    at http://127.0.0.1:8787/y.js",
                &[
                    ("", "http://127.0.0.1:8787/y.js", 0, 0, true),
                    ("", "http://127.0.0.1:8787/x.js", 2, 3, true),
                    ("inject", "chrome-extension://abcdef/content.js", 1, 100, false),
                    ("Array.map", "native", 0, 0, false),
                ],
            ),
        ]);
    }

    #[test]
    fn parses_firefox_stacks_oldest_first() {
        check(&[
            (
                "named, anonymous and async frames",
                "render@http://localhost:8080/app.js:10:15\nonClick/<@http://localhost:8080/app.js:20:5\nasync*load@http://localhost:8080/app.js:25:3\n@http://localhost:8080/app.js:30:1\n",
                &[
                    ("", "http://localhost:8080/app.js", 30, 1, true),
                    ("load", "http://localhost:8080/app.js", 25, 3, true),
                    ("onClick/<", "http://localhost:8080/app.js", 20, 5, true),
                    ("render", "http://localhost:8080/app.js", 10, 15, true),
                ],
            ),
            (
                "eval and Function frames, extension frame",
                "@http://x.test/a.js line 12 > eval:1:7\nmake@http://x.test/a.js line 3 > Function:2:1\nhook@moz-extension://1234/inject.js:4:4\n",
                &[
                    ("hook", "moz-extension://1234/inject.js", 4, 4, false),
                    ("make", "http://x.test/a.js", 3, 0, true),
                    ("eval", "http://x.test/a.js", 12, 0, true),
                ],
            ),
        ]);
    }

    #[test]
    fn parses_safari_stacks_oldest_first() {
        check(&[(
            "global code, native code and extension frames",
            "render@http://localhost:8080/app.js:10:15\nforEach@[native code]\n[native code]\nrun@safari-web-extension://ABC/x.js:1:2\nglobal code@http://localhost:8080/app.js:40:3",
            &[
                ("global code", "http://localhost:8080/app.js", 40, 3, true),
                ("run", "safari-web-extension://ABC/x.js", 1, 2, false),
                ("", "[native code]", 0, 0, false),
                ("forEach", "[native code]", 0, 0, false),
                ("render", "http://localhost:8080/app.js", 10, 15, true),
            ],
        )]);
    }

    #[test]
    fn ignores_garbage_without_panicking() {
        check(&[
            ("empty", "", &[]),
            ("message only", "Error: something went wrong", &[]),
            (
                "email in message",
                "Error: bad address user@example.com",
                &[],
            ),
            ("lone at", "    at \n    at    \n at", &[]),
            ("bare word after at", "    at foo", &[]),
            ("unbalanced parens", "    at foo (http://x/a.js:1:2", &[]),
            ("only parens", "    at (((((", &[]),
            ("colons and digits", ":::::\n1:2:3\n@:\n@::1", &[]),
            (
                "huge numbers",
                "f@http://x/a.js:99999999999:1",
                &[("f", "http://x/a.js", 0, 1, true)],
            ),
            (
                "zero position",
                "    at f (http://x/a.js:0:0)",
                &[("f", "http://x/a.js", 0, 0, true)],
            ),
            (
                "multibyte text",
                "    at ф (http://х.рф/ß.js:1:2)\n😀@😀\n    at (😀)",
                &[("ф", "http://х.рф/ß.js", 1, 2, true)],
            ),
            (
                "nul and control bytes",
                "\0\u{1}@\u{7f}\n    at \0 (\0:1:1)",
                &[("\0", "\0", 1, 1, true)],
            ),
            (
                "eval without origin",
                "    at eval (eval at <anonymous>)",
                &[("eval", "", 0, 0, false)],
            ),
            (
                "firefox eval without line",
                "@http://x/a.js line > eval",
                &[("eval", "http://x/a.js", 0, 0, true)],
            ),
        ]);
    }

    #[test]
    fn zero_positions_are_no_position() {
        let cases = [
            (
                "@http://x/a.js line 0 > eval:1:2",
                "firefox eval origin at line 0",
            ),
            ("    at f (http://x/a.js:0:0)", "v8 location"),
            ("f@http://x/a.js:0:0", "gecko location"),
        ];
        for (stack, why) in cases {
            let frames = parse_stack(stack);
            assert_eq!(frames.len(), 1, "{why}");
            assert_eq!((frames[0].lineno, frames[0].colno), (None, None), "{why}");
        }
    }

    #[test]
    fn bounds_frames_and_line_length() {
        let stack: String = (1..=250)
            .map(|i| format!("    at f{i} (http://x/a.js:{i}:1)\n"))
            .collect();
        let frames = parse_stack(&stack);
        assert_eq!(frames.len(), MAX_FRAMES, "keeps at most MAX_FRAMES frames");
        assert_eq!(
            frames[0].function.as_deref(),
            Some("f100"),
            "oldest kept frame is the 100th line"
        );
        assert_eq!(
            frames[99].function.as_deref(),
            Some("f1"),
            "innermost frame is last"
        );

        let long_url = format!("http://x/{}.js", "a".repeat(MAX_LINE_LEN));
        let stack = format!("    at long ({long_url}:1:1)\n    at short (http://x/b.js:2:2)");
        let frames = parse_stack(&stack);
        assert_eq!(frames.len(), 1, "over-long line is ignored");
        assert_eq!(frames[0].function.as_deref(), Some("short"));

        let garbage = "(".repeat(100_000) + &")".repeat(100_000) + "\n" + &"@:".repeat(50_000);
        assert!(
            parse_stack(&garbage).is_empty(),
            "huge garbage yields nothing"
        );
    }

    #[test]
    fn classifies_in_app_urls() {
        let cases = [
            ("http://localhost/a.js", true, "http page script"),
            ("https://cdn.example.com/a.js", true, "cdn script"),
            ("blob:http://x/123", true, "blob worker"),
            ("chrome-extension://abc/x.js", false, "chrome extension"),
            ("moz-extension://abc/x.js", false, "firefox extension"),
            ("safari-web-extension://abc/x.js", false, "safari extension"),
            ("native", false, "old v8 native"),
            ("<anonymous>", false, "anonymous"),
            ("[native code]", false, "jsc native"),
            ("", false, "no url"),
            (
                "http://127.0.0.1:8787/sdk/backstop.js",
                false,
                "the Backstop SDK's script",
            ),
            (
                "https://errors.example.com/sdk/backstop.js?v=2",
                false,
                "the SDK with a query",
            ),
            (
                "http://127.0.0.1:8787/sdk/backstop_bg.wasm",
                false,
                "the SDK's wasm",
            ),
            (
                "http://shop.test/js/my-backstop.js",
                true,
                "a page script with a similar name",
            ),
            (
                "http://127.0.0.1:8787/sdk/backstop_bg.js",
                false,
                "the SDK's script loaded on the first error",
            ),
            (
                "https://errors.example.com/sdk/v0.1.0/backstop_bg.js?x=1#y",
                false,
                "the versioned lazy script with a query",
            ),
            (
                "https://errors.example.com/sdk/v0.1.0/backstop.js",
                false,
                "the versioned SDK script",
            ),
            (
                "http://shop.test/js/backstop.js",
                true,
                "a page script named backstop.js outside /sdk/",
            ),
            (
                "http://shop.test/js/my-backstop_bg.js",
                true,
                "a page script ending like the lazy script",
            ),
        ];
        for (url, want, name) in cases {
            assert_eq!(is_in_app(url), want, "case: {name}");
        }
    }
}
