//! Is the SDK still on the site? A project may name a `site_url`; a cron fetches its HTML and
//! [`find_tag`] looks for the Backstop script tag with the project's key, and [`on_probe`]
//! decides what to alert: a tag gone missing at once (once), its return once more, and a site
//! that cannot be fetched once per streak of failures.
//!
//! The tag a site adds (README, `cargo xtask sdk-tag`):
//! `<script src="https://worker.example/sdk/v0.1.0/backstop.js" integrity="sha384-…"
//! crossorigin="anonymous" data-dsn="https://KEY@worker.example/1"></script>`, or the same
//! `src` without `data-dsn` and an inline `<script>Backstop.init({ dsn: "https://KEY@…" })`.
//!
//! The HTML is read with `html5gum`, a WHATWG tokenizer (no dependencies, no unsafe code), with
//! its naive tree-builder approximation switched on so the text of `<script>`, `<style>`,
//! `<textarea>`, `<noscript>` and the like is text: a `<script>` written inside another script's
//! string, or inside a comment, is not a tag, as in a browser. Character references in
//! attribute values are decoded and tag and attribute names compared case-insensitively by the
//! tokenizer. Only the first [`MAX_SCAN_BYTES`] of a page are read, so a huge page costs a
//! bounded amount of CPU in the worker.

use std::collections::BTreeMap;

use html5gum::{DefaultEmitter, HtmlString, Spanned, Token, Tokenizer};
use serde::{Deserialize, Serialize};

use crate::watchdog::format_utc_minute;

/// How much of a page [`find_tag`] reads: the first 2 MiB (cut at a character boundary). A tag
/// further down counts as missing, and the reason says so.
pub const MAX_SCAN_BYTES: usize = 2 * 1024 * 1024;

/// Page text quoted in a reason is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 120;

/// What [`find_tag`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TagCheck {
    /// A Backstop script tag for this project's key.
    Present {
        /// The tag's `src`, as written.
        src: String,
    },
    /// None: `why` says what was closest (wrong key, another origin, commented out, …).
    Missing {
        /// A sentence for the alert.
        why: String,
    },
}

/// Looks for the Backstop script tag of `public_key` in the first [`MAX_SCAN_BYTES`] of `html`.
///
/// Present when a `<script>` that browsers run (no `type`, a JavaScript type, or `module`) has a
/// `src` whose path ends in `/backstop.js` under `/sdk/` (any version, or the unversioned copy;
/// a query string is ignored), served from one of `worker_origins` (scheme and host, compared
/// case-insensitively, default ports ignored; every origin when the list is empty; a relative
/// `src` counts too, as the site then serves or proxies `/sdk/` itself), and the key appears as
/// a DSN's key (`…//KEY@…`) in its `data-dsn` or any other of its attributes — or the tag has no
/// DSN at all and an inline script (without `src`) calls `Backstop.init` with a DSN naming the key.
pub fn find_tag(html: &str, worker_origins: &[String], public_key: &str) -> TagCheck {
    let key = public_key.trim();
    if key.is_empty() {
        return missing("the project has no public key to look for".into(), false);
    }
    let (scanned, truncated) = prefix(html, MAX_SCAN_BYTES);
    let origins: Vec<Origin> = worker_origins
        .iter()
        .filter_map(|o| Origin::parse(o))
        .collect();
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);

    let mut best: Option<(Problem, String)> = None;
    // The first Backstop tag without a DSN: an inline `Backstop.init` anywhere can complete it.
    let mut without_dsn: Option<String> = None;
    let mut inline_init = false;
    let mut commented = false;
    // The text of the `<script>` being read, when it has no `src` and runs.
    let mut inline: Option<String> = None;

    for token in Tokenizer::new_with_emitter(scanned, emitter).flatten() {
        match token {
            Token::StartTag(tag) if tag.name == b"script" => {
                inline = None;
                let attrs = &tag.attributes;
                match attr(attrs, b"src") {
                    Some(src) => {
                        let src = src.trim().to_string();
                        if let Some(problem) = judge(&src, attrs, &origins, key) {
                            if problem == Problem::Ok {
                                return TagCheck::Present { src };
                            }
                            if problem == Problem::NoDsn && without_dsn.is_none() {
                                without_dsn = Some(src.clone());
                            }
                            if best.as_ref().is_none_or(|(b, _)| problem.rank() < b.rank()) {
                                best = Some((problem, src));
                            }
                        }
                    }
                    None if runs(attrs) => inline = Some(String::new()),
                    None => {}
                }
            }
            Token::String(text) => {
                if let Some(buf) = &mut inline {
                    buf.push_str(&String::from_utf8_lossy(&text.value));
                }
            }
            Token::EndTag(tag) if tag.name == b"script" => {
                if let Some(text) = inline.take() {
                    inline_init |= is_init_with_key(&text, key);
                }
            }
            Token::Comment(c) => {
                commented |= contains(&c.value, b"backstop.js");
            }
            _ => {}
        }
    }
    // A script still open where the scan stopped: what was read of it still counts.
    if let Some(text) = inline.take() {
        inline_init |= is_init_with_key(&text, key);
    }

    if let (Some(src), true) = (without_dsn, inline_init) {
        return TagCheck::Present { src };
    }
    let why = match best {
        Some((problem, src)) => problem.why(&src, &origins),
        None if commented => "the Backstop script tag is inside an HTML comment".into(),
        None => "no <script> loads /sdk/…/backstop.js".into(),
    };
    missing(why, truncated)
}

fn missing(why: String, truncated: bool) -> TagCheck {
    let why = if truncated {
        format!("{why} (only the first 2 MiB of the page were read)")
    } else {
        why
    };
    TagCheck::Missing { why }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary, and
/// whether anything was cut.
fn prefix(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or_default(), true)
}

type Attrs = BTreeMap<HtmlString, Spanned<HtmlString, ()>>;

fn attr(attrs: &Attrs, name: &[u8]) -> Option<String> {
    attrs
        .get(name)
        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether browsers run a script with these attributes: no `type`, an empty one, a JavaScript
/// MIME type (exact, no parameters, as the HTML standard matches them) or `module`.
fn runs(attrs: &Attrs) -> bool {
    const JS_TYPES: &[&str] = &[
        "",
        "module",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    ];
    attr(attrs, b"type").is_none_or(|t| JS_TYPES.contains(&t.trim().to_ascii_lowercase().as_str()))
}

/// How close a script with a `src` came to being the project's tag; the lowest rank is the one
/// a `Missing` reason describes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Ok,
    /// Has a DSN, for another key (the DSN as written).
    WrongKey(String),
    /// Has no DSN (an inline `Backstop.init` may still supply it).
    NoDsn,
    /// A `type` browsers do not run (the type as written).
    NotRun(String),
    /// Served from an origin that is not the worker's (that origin).
    OtherOrigin(String),
    /// A `backstop.js` outside `/sdk/`.
    NotUnderSdk,
}

impl Problem {
    fn rank(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::WrongKey(_) | Self::NoDsn => 1,
            Self::NotRun(_) => 2,
            Self::OtherOrigin(_) => 3,
            Self::NotUnderSdk => 4,
        }
    }

    fn why(&self, src: &str, origins: &[Origin]) -> String {
        match self {
            Self::Ok => String::new(),
            Self::WrongKey(dsn) => format!(
                "the Backstop script tag's DSN \"{}\" is not for this project's public key",
                quote(dsn)
            ),
            Self::NoDsn => "the Backstop script tag has no data-dsn, and no inline Backstop.init names this project's public key".into(),
            Self::NotRun(t) => format!(
                "the Backstop script tag has type=\"{}\", which browsers do not run",
                quote(t)
            ),
            Self::OtherOrigin(o) => {
                let list: Vec<String> = origins.iter().map(Origin::to_string).collect();
                format!(
                    "backstop.js is loaded from {}, not from the worker ({})",
                    quote(o),
                    list.join(", ")
                )
            }
            Self::NotUnderSdk => format!(
                "a script loads \"{}\", which is not the worker's /sdk/…/backstop.js",
                quote(src)
            ),
        }
    }
}

/// Judges one `<script src>`: `None` when it is not a `backstop.js` at all.
fn judge(src: &str, attrs: &Attrs, origins: &[Origin], key: &str) -> Option<Problem> {
    let url = SrcUrl::parse(src)?;
    if url.path.rsplit('/').next() != Some("backstop.js") {
        return None;
    }
    let under_sdk = if url.relative_path {
        url.path.split('/').any(|seg| seg == "sdk")
    } else {
        url.path.starts_with("/sdk/")
    };
    if !under_sdk {
        return Some(Problem::NotUnderSdk);
    }
    if let Some(host) = &url.host {
        let ok = origins.is_empty()
            || origins
                .iter()
                .any(|o| o.host == *host && url.scheme.as_ref().is_none_or(|s| *s == o.scheme));
        if !ok {
            let shown = match &url.scheme {
                Some(s) => format!("{s}://{host}"),
                None => format!("//{host}"),
            };
            return Some(Problem::OtherOrigin(shown));
        }
    }
    if !runs(attrs) {
        return Some(Problem::NotRun(attr(attrs, b"type").unwrap_or_default()));
    }
    let mut other_dsn = None;
    for (name, value) in attrs {
        let value = String::from_utf8_lossy(&value.value);
        if names_key(&value, key) {
            return Some(Problem::Ok);
        }
        let is_dsn =
            name.as_slice() == b"data-dsn" || backstop_protocol::Dsn::parse(&value).is_ok();
        if is_dsn && (other_dsn.is_none() || name.as_slice() == b"data-dsn") {
            other_dsn = Some(value.into_owned());
        }
    }
    Some(other_dsn.map_or(Problem::NoDsn, Problem::WrongKey))
}

/// Whether `text` holds a DSN whose key is `key`: `…/KEY@` or `…/KEY:` (a legacy secret
/// follows), also inside JSON or JavaScript strings (`https:\/\/KEY@…`).
fn names_key(text: &str, key: &str) -> bool {
    text.match_indices(key).any(|(i, _)| {
        let before = text.get(..i).unwrap_or_default();
        let after = text.get(i + key.len()..).unwrap_or_default();
        before.ends_with('/') && (after.starts_with('@') || after.starts_with(':'))
    })
}

fn is_init_with_key(script: &str, key: &str) -> bool {
    script.contains("Backstop.init") && names_key(script, key)
}

/// Page text for a reason: control characters as spaces, at most [`MAX_QUOTED_CHARS`].
fn quote(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_QUOTED_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(MAX_QUOTED_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A worker origin: lowercase scheme and `host[:port]`, without a default port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
}

impl Origin {
    fn parse(s: &str) -> Option<Self> {
        let url = SrcUrl::parse(s)?;
        Some(Self {
            scheme: url.scheme?,
            host: url.host?,
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)
    }
}

/// The parts of a script URL that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SrcUrl {
    /// `http`/`https`, lowercase; `None` for `//host/…` and relative URLs.
    scheme: Option<String>,
    /// Lowercase `host[:port]` without userinfo or a default port; `None` for relative URLs.
    host: Option<String>,
    /// The path without query or fragment.
    path: String,
    /// A path relative to the page (`sdk/backstop.js`, `../sdk/…`).
    relative_path: bool,
}

impl SrcUrl {
    /// `None` for URLs that cannot load a script from a worker (`data:`, `javascript:`, …).
    fn parse(s: &str) -> Option<Self> {
        // Browsers read `\` as `/` in http(s) URLs and drop tabs and newlines anywhere.
        let s: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .map(|c| if c == '\\' { '/' } else { c })
            .collect();
        let end = s.find(['?', '#']).unwrap_or(s.len());
        let s = s.get(..end).unwrap_or_default();
        let (scheme, rest) = match s.find(':') {
            Some(i) if !s.get(..i).unwrap_or_default().contains('/') => {
                let scheme = s.get(..i).unwrap_or_default().to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    return None;
                }
                (Some(scheme), s.get(i + 1..).unwrap_or_default())
            }
            _ => (None, s),
        };
        let Some(after) = rest.strip_prefix("//") else {
            if scheme.is_some() {
                // `https:foo` is not a URL a page would use for a cross-origin script.
                return None;
            }
            return Some(Self {
                scheme: None,
                host: None,
                path: rest.to_string(),
                relative_path: !rest.starts_with('/'),
            });
        };
        let (authority, path) = match after.find('/') {
            Some(i) => after.split_at(i),
            None => (after, "/"),
        };
        let host = authority
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host = match scheme.as_deref() {
            Some("https") => host.strip_suffix(":443").unwrap_or(&host),
            Some(_) => host.strip_suffix(":80").unwrap_or(&host),
            None => host
                .strip_suffix(":443")
                .or_else(|| host.strip_suffix(":80"))
                .unwrap_or(&host),
        }
        .to_string();
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host: Some(host),
            path: path.to_string(),
            relative_path: false,
        })
    }
}

/// What the probe remembers between runs for one site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeState {
    /// When the tag was first found missing in the current streak.
    pub missing_since_ms: Option<u64>,
    /// Whether the current missing streak was alerted.
    pub alerted: bool,
    /// When fetching the site first failed in the current streak of failures.
    pub unreachable_since_ms: Option<u64>,
}

/// What the caller sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeAlert {
    /// The page no longer has the tag.
    TagMissing {
        /// When the tag was first found missing.
        since_ms: u64,
        /// What was wrong (see [`TagCheck::Missing`]).
        why: String,
    },
    /// The tag is back after a [`ProbeAlert::TagMissing`].
    TagBack,
    /// The page could not be fetched (first failure of a streak).
    Unreachable {
        /// The fetch error, as the caller described it.
        error: String,
    },
}

/// One probe at `now_ms`: the page's [`find_tag`] result, or the fetch error.
///
/// A missing tag alerts at once, once per streak; a present tag after that alerts
/// [`ProbeAlert::TagBack`] once. A fetch error alerts once per streak of failures and leaves the
/// tag's state alone (nothing is known about the tag meanwhile); any fetched page ends the
/// streak.
pub fn on_probe(
    state: ProbeState,
    check: Result<TagCheck, String>,
    now_ms: u64,
) -> (ProbeState, Option<ProbeAlert>) {
    match check {
        Err(error) => {
            if state.unreachable_since_ms.is_some() {
                return (state, None);
            }
            let next = ProbeState {
                unreachable_since_ms: Some(now_ms),
                ..state
            };
            (next, Some(ProbeAlert::Unreachable { error }))
        }
        Ok(TagCheck::Present { .. }) => {
            let alert = state.alerted.then_some(ProbeAlert::TagBack);
            (ProbeState::default(), alert)
        }
        Ok(TagCheck::Missing { why }) => {
            let since = state.missing_since_ms.unwrap_or(now_ms);
            let next = ProbeState {
                missing_since_ms: Some(since),
                alerted: true,
                unreachable_since_ms: None,
            };
            let alert = (!state.alerted).then_some(ProbeAlert::TagMissing {
                since_ms: since,
                why,
            });
            (next, alert)
        }
    }
}

/// The alert as a sentence for a person.
pub fn message(alert: &ProbeAlert, site_url: &str) -> String {
    match alert {
        ProbeAlert::TagMissing { since_ms, why } => format!(
            "SDK tag missing from {site_url} since {}: {why}.",
            format_utc_minute(*since_ms)
        ),
        ProbeAlert::TagBack => format!("SDK tag is back on {site_url}."),
        ProbeAlert::Unreachable { error } => format!(
            "Could not fetch {site_url} to check for the SDK tag: {}.",
            quote(error.trim())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const TAG: &str = r#"<script src="https://worker.example/sdk/v0.1.0/backstop.js" integrity="sha384-abc" crossorigin="anonymous" data-dsn="https://0123456789abcdef0123456789abcdef@worker.example/1"></script>"#;

    fn origins() -> Vec<String> {
        vec!["https://worker.example".into()]
    }

    fn present(src: &str) -> TagCheck {
        TagCheck::Present { src: src.into() }
    }

    fn missing_because(why: &str) -> TagCheck {
        TagCheck::Missing { why: why.into() }
    }

    const SRC: &str = "https://worker.example/sdk/v0.1.0/backstop.js";
    const DSN: &str = "https://0123456789abcdef0123456789abcdef@worker.example/1";

    #[test]
    fn finds_the_tag() {
        let page = |body: &str| {
            format!("<!doctype html><html><head><title>Shop</title>{body}</head><body><p>hi</p></body></html>")
        };
        let cases: Vec<(&str, String, TagCheck)> = vec![
            ("the tag cargo xtask sdk-tag prints", page(TAG), present(SRC)),
            (
                "the README's multi-line tag",
                page(&format!(
                    "<script src=\"{SRC}\"\n        integrity=\"sha384-…\" crossorigin=\"anonymous\"\n        data-dsn=\"{DSN}\"\n        data-release=\"web@1.2.3\" data-environment=\"production\"></script>"
                )),
                present(SRC),
            ),
            (
                "single quotes",
                page(&format!("<script src='{SRC}' data-dsn='{DSN}'></script>")),
                present(SRC),
            ),
            (
                "unquoted attributes",
                page(&format!("<script src={SRC} data-dsn={DSN}></script>")),
                present(SRC),
            ),
            (
                "upper-case names",
                page(&format!("<SCRIPT SRC=\"{SRC}\" DATA-DSN=\"{DSN}\"></SCRIPT>")),
                present(SRC),
            ),
            (
                "character references in the attribute",
                page(&format!(
                    "<script src=\"https://worker.example/sdk/backstop.js?v=1&amp;x=2\" data-dsn=\"https://{KEY}&#64;worker.example/1\"></script>"
                )),
                present("https://worker.example/sdk/backstop.js?v=1&x=2"),
            ),
            (
                "the unversioned copy with a query string",
                page(&format!("<script src=\"https://worker.example/sdk/backstop.js?x\" data-dsn=\"{DSN}\"></script>")),
                present("https://worker.example/sdk/backstop.js?x"),
            ),
            (
                "self-closing and in the body",
                format!("<html><body><div><script src=\"{SRC}\" data-dsn=\"{DSN}\"/></div></body></html>"),
                present(SRC),
            ),
            (
                "protocol-relative src, origin with a trailing slash and a default port",
                page(&format!("<script src=\"//Worker.Example:443/sdk/backstop.js\" data-dsn=\"{DSN}\"></script>")),
                present("//Worker.Example:443/sdk/backstop.js"),
            ),
            (
                "relative src (the site serves /sdk/ itself)",
                page(&format!("<script src=\"/sdk/backstop.js\" data-dsn=\"{DSN}\"></script>")),
                present("/sdk/backstop.js"),
            ),
            (
                "the key in another attribute's DSN",
                page(&format!("<script src=\"{SRC}\" data-sentry-dsn=\"{DSN}\"></script>")),
                present(SRC),
            ),
            (
                "inline Backstop.init after a tag without data-dsn",
                page(&format!("<script src=\"{SRC}\" crossorigin=\"anonymous\"></script><script>\n  Backstop.init({{ dsn: 'https://{KEY}@worker.example/1', maxEvents: 2 }});\n</script>")),
                present(SRC),
            ),
            (
                "inline Backstop.init with JSON-escaped slashes",
                page(&format!("<script src=\"{SRC}\"></script><script>Backstop.init({{\"dsn\":\"https:\\/\\/{KEY}@worker.example\\/1\"}})</script>")),
                present(SRC),
            ),
            (
                "inline Backstop.init completes a tag without DSN after one with another key",
                page(&format!("<script src=\"{SRC}\" data-dsn=\"https://ffff@worker.example/1\"></script><script src=\"{SRC}\"></script><script>Backstop.init({{dsn: '{DSN}'}})</script>")),
                present(SRC),
            ),
            (
                "a second, right tag after a wrong one",
                page(&format!("<script src=\"https://old.example/sdk/backstop.js\" data-dsn=\"{DSN}\"></script>{TAG}")),
                present(SRC),
            ),
            (
                "a JavaScript type",
                page(&format!("<script type=\"text/javascript\" src=\"{SRC}\" data-dsn=\"{DSN}\"></script>")),
                present(SRC),
            ),
        ];
        for (name, html, want) in cases {
            assert_eq!(find_tag(&html, &origins(), KEY), want, "{name}");
        }
        assert_eq!(
            find_tag(TAG, &["HTTPS://WORKER.EXAMPLE/".into()], KEY),
            present(SRC),
            "origin written in upper case with a slash"
        );
        assert_eq!(
            find_tag(
                &TAG.replace("worker.example/sdk", "cdn.example/sdk"),
                &[],
                KEY
            ),
            present("https://cdn.example/sdk/v0.1.0/backstop.js"),
            "no worker origins given: any origin"
        );
    }

    #[test]
    fn says_why_the_tag_is_missing() {
        let other_key = DSN.replace(KEY, "ffffffffffffffffffffffffffffffff");
        let cases: Vec<(&str, String, TagCheck)> = vec![
            ("an empty page", String::new(), missing_because("no <script> loads /sdk/…/backstop.js")),
            (
                "another SDK",
                "<script src=\"https://cdn.example/sentry.js\"></script>".into(),
                missing_because("no <script> loads /sdk/…/backstop.js"),
            ),
            (
                "commented out",
                format!("<head><!-- {TAG} --></head>"),
                missing_because("the Backstop script tag is inside an HTML comment"),
            ),
            (
                "inside another script's string",
                format!(
                    "<script>var t = '{}'; document.write(t);</script>",
                    TAG.replace("</script>", "<\\/script>")
                ),
                missing_because("no <script> loads /sdk/…/backstop.js"),
            ),
            (
                "inside a textarea",
                format!("<textarea>{TAG}</textarea>"),
                missing_because("no <script> loads /sdk/…/backstop.js"),
            ),
            (
                "inside noscript",
                format!("<noscript>{TAG}</noscript>"),
                missing_because("no <script> loads /sdk/…/backstop.js"),
            ),
            (
                "another project's key",
                TAG.replace(DSN, &other_key),
                missing_because(&format!("the Backstop script tag's DSN \"{other_key}\" is not for this project's public key")),
            ),
            (
                "a key that only starts like ours",
                TAG.replace(&format!("{KEY}@"), &format!("{KEY}00@")),
                missing_because(&format!("the Backstop script tag's DSN \"https://{KEY}00@worker.example/1\" is not for this project's public key")),
            ),
            (
                "no DSN and no init",
                format!("<script src=\"{SRC}\"></script>"),
                missing_because("the Backstop script tag has no data-dsn, and no inline Backstop.init names this project's public key"),
            ),
            (
                "no DSN, an init with another key",
                format!("<script src=\"{SRC}\"></script><script>Backstop.init({{dsn: '{other_key}'}})</script>"),
                missing_because("the Backstop script tag has no data-dsn, and no inline Backstop.init names this project's public key"),
            ),
            (
                "no DSN, the key in a script that does not run",
                format!("<script src=\"{SRC}\"></script><script type=\"text/template\">Backstop.init({{dsn: '{DSN}'}})</script>"),
                missing_because("the Backstop script tag has no data-dsn, and no inline Backstop.init names this project's public key"),
            ),
            (
                "a type browsers do not run",
                TAG.replace("<script ", "<script type=\"text/plain\" "),
                missing_because("the Backstop script tag has type=\"text/plain\", which browsers do not run"),
            ),
            (
                "an old worker",
                TAG.replace("worker.example/sdk", "old-worker.example/sdk"),
                missing_because("backstop.js is loaded from https://old-worker.example, not from the worker (https://worker.example)"),
            ),
            (
                "http instead of https",
                TAG.replace("https://worker.example/sdk", "http://worker.example/sdk"),
                missing_because("backstop.js is loaded from http://worker.example, not from the worker (https://worker.example)"),
            ),
            (
                "a copy outside /sdk/",
                TAG.replace("/sdk/v0.1.0/", "/js/"),
                missing_because("a script loads \"https://worker.example/js/backstop.js\", which is not the worker's /sdk/…/backstop.js"),
            ),
            (
                "the closest problem is reported",
                format!(
                    "{}{}",
                    TAG.replace("worker.example/sdk", "old.example/sdk"),
                    TAG.replace(DSN, &other_key)
                ),
                missing_because(&format!("the Backstop script tag's DSN \"{other_key}\" is not for this project's public key")),
            ),
            (
                "past the first 2 MiB",
                format!("<p>{}</p>{TAG}", "x".repeat(MAX_SCAN_BYTES)),
                missing_because("no <script> loads /sdk/…/backstop.js (only the first 2 MiB of the page were read)"),
            ),
        ];
        for (name, html, want) in cases {
            assert_eq!(find_tag(&html, &origins(), KEY), want, "{name}");
        }
        assert_eq!(
            find_tag(TAG, &origins(), "  "),
            missing_because("the project has no public key to look for"),
            "no key"
        );
    }

    #[test]
    fn scan_is_cut_at_a_character_boundary() {
        let html = format!("{}é{TAG}", "a".repeat(MAX_SCAN_BYTES - 1));
        assert!(
            matches!(find_tag(&html, &origins(), KEY), TagCheck::Missing { .. }),
            "no panic on a multi-byte character across the limit"
        );
        let (p, cut) = prefix(&html, MAX_SCAN_BYTES);
        assert_eq!((p.len(), cut), (MAX_SCAN_BYTES - 1, true), "cut before é");
    }

    #[test]
    fn src_urls() {
        let cases: Vec<(&str, Option<(Option<&str>, Option<&str>, &str, bool)>)> = vec![
            (
                "https://W.example:443/sdk/backstop.js",
                Some((Some("https"), Some("w.example"), "/sdk/backstop.js", false)),
            ),
            (
                "http://w.example:80/a",
                Some((Some("http"), Some("w.example"), "/a", false)),
            ),
            (
                "http://w.example:8787/sdk/backstop.js?x#y",
                Some((
                    Some("http"),
                    Some("w.example:8787"),
                    "/sdk/backstop.js",
                    false,
                )),
            ),
            (
                "https://user@w.example",
                Some((Some("https"), Some("w.example"), "/", false)),
            ),
            (
                "//w.example/sdk/backstop.js",
                Some((None, Some("w.example"), "/sdk/backstop.js", false)),
            ),
            (
                "  https:\\\\w.example\\sdk\\backstop.js ",
                Some((Some("https"), Some("w.example"), "/sdk/backstop.js", false)),
            ),
            (
                "sdk/backstop.js",
                Some((None, None, "sdk/backstop.js", true)),
            ),
            (
                "/sdk/backstop.js",
                Some((None, None, "/sdk/backstop.js", false)),
            ),
            ("data:text/javascript,backstop.js", None),
            ("javascript:void(0)", None),
            ("https:backstop.js", None),
            ("https:///sdk/backstop.js", None),
        ];
        for (src, want) in cases {
            let got = SrcUrl::parse(src).map(|u| (u.scheme, u.host, u.path, u.relative_path));
            let want = want
                .map(|(s, h, p, r)| (s.map(String::from), h.map(String::from), p.to_string(), r));
            assert_eq!(got, want, "{src}");
        }
    }

    #[test]
    fn probe_states() {
        let gone = || Ok(missing_because("x"));
        let here = || Ok(present(SRC));
        let down = || Err("timeout".to_string());
        type Step = (u64, Result<TagCheck, String>, Option<ProbeAlert>);
        let cases: Vec<(&str, Vec<Step>)> = vec![
            (
                "present stays quiet",
                vec![(1, here(), None), (2, here(), None)],
            ),
            (
                "missing alerts at once, once; back alerts once",
                vec![
                    (1, here(), None),
                    (
                        2,
                        gone(),
                        Some(ProbeAlert::TagMissing {
                            since_ms: 2,
                            why: "x".into(),
                        }),
                    ),
                    (3, gone(), None),
                    (4, here(), Some(ProbeAlert::TagBack)),
                    (5, here(), None),
                    (
                        6,
                        gone(),
                        Some(ProbeAlert::TagMissing {
                            since_ms: 6,
                            why: "x".into(),
                        }),
                    ),
                ],
            ),
            (
                "a fetch error once per streak, separately",
                vec![
                    (
                        1,
                        down(),
                        Some(ProbeAlert::Unreachable {
                            error: "timeout".into(),
                        }),
                    ),
                    (2, down(), None),
                    (3, here(), None),
                    (
                        4,
                        down(),
                        Some(ProbeAlert::Unreachable {
                            error: "timeout".into(),
                        }),
                    ),
                ],
            ),
            (
                "a fetch error inside a missing streak keeps it",
                vec![
                    (
                        1,
                        gone(),
                        Some(ProbeAlert::TagMissing {
                            since_ms: 1,
                            why: "x".into(),
                        }),
                    ),
                    (
                        2,
                        down(),
                        Some(ProbeAlert::Unreachable {
                            error: "timeout".into(),
                        }),
                    ),
                    (3, gone(), None),
                    (4, here(), Some(ProbeAlert::TagBack)),
                ],
            ),
        ];
        for (name, steps) in cases {
            let mut state = ProbeState::default();
            for (i, (now, check, want)) in steps.into_iter().enumerate() {
                let (next, alert) = on_probe(state, check, now);
                assert_eq!(alert, want, "{name}: step {i}");
                state = next;
            }
        }
    }

    #[test]
    fn messages() {
        let at = 1_793_577_600_000 + 14 * 3_600_000 + 2 * 60_000; // 2026-11-02 14:02 UTC
        let cases = [
            (
                ProbeAlert::TagMissing { since_ms: at, why: "the Backstop script tag is inside an HTML comment".into() },
                "SDK tag missing from https://shop.example/ since 14:02 UTC on 2026-11-02: the Backstop script tag is inside an HTML comment.",
            ),
            (ProbeAlert::TagBack, "SDK tag is back on https://shop.example/."),
            (
                ProbeAlert::Unreachable { error: "connect timed out\n".into() },
                "Could not fetch https://shop.example/ to check for the SDK tag: connect timed out.",
            ),
        ];
        for (alert, want) in cases {
            assert_eq!(message(&alert, "https://shop.example/"), want, "{alert:?}");
        }
    }

    /// Few cases by default: these run in the unit step, which must stay fast.
    /// `PROPTEST_CASES=10000 cargo test -p backstop-core install_probe` explores more.
    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256);
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// HTML made of complete pieces (elements, text, comments, scripts and raw-text elements
    /// that are closed), none a Backstop tag: a tag inserted between two pieces is a real tag.
    fn piece() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec![
            "div", "p", "span", "a", "head", "body", "html", "meta", "link", "img", "br", "ul",
            "li", "h1", "svg", "table", "td", "form", "input", "B", "Div",
        ]);
        let value = "[a-zA-Z0-9 ./:=_-]{0,16}";
        let text = "[a-zA-Z0-9 .,;:!?'\"=/()\n-]{0,24}";
        let js = "[a-zA-Z0-9 .,;:?'\"=/()<>{}\n-]{0,24}".prop_filter("no end tag inside", |s| {
            !s.to_ascii_lowercase().contains("</script")
        });
        prop_oneof![
            text.prop_map(|t| t.replace('<', " ")),
            (name.clone(), "[a-z-]{1,8}", value, 0..3usize).prop_map(|(n, a, v, q)| match q {
                0 => format!("<{n} {a}=\"{v}\">"),
                1 => format!("<{n} {a}='{v}'>"),
                _ => format!("<{n} {a}={}>", v.replace([' ', '=', '/'], "_")),
            }),
            name.prop_map(|n| format!("</{n}>")),
            "[a-z <>/.]{0,20}".prop_map(|t| format!("<!--{t}-->")),
            js.prop_map(|t| format!("<script>{t}</script>")),
            "[a-z {}:;]{0,20}".prop_map(|t| format!("<style>{t}</style>")),
            "[a-z ]{0,20}".prop_map(|t| format!("<title>{t}</title>")),
            Just("<!doctype html>".to_string()),
            Just("&amp;&lt;&#64;".to_string()),
        ]
    }

    /// Text made of the pieces the tokenizer and `find_tag` care about, in any order.
    fn html_like() -> impl Strategy<Value = String> {
        let bit = prop::sample::select(vec![
            "<",
            ">",
            "/",
            "!",
            "?",
            "=",
            "\"",
            "'",
            " ",
            "\n",
            "&",
            ";",
            "#",
            "-",
            "--",
            "<!--",
            "-->",
            "<script",
            "</script>",
            "<SCRIPT ",
            "src=",
            "data-dsn=",
            "type=",
            "backstop.js",
            "/sdk/",
            "https://",
            "//",
            "@",
            ":",
            KEY,
            "worker.example",
            "Backstop.init",
            "a",
            "é",
            "<textarea>",
            "<noscript>",
            "<plaintext>",
            "\\",
            "&#64;",
            "&amp",
        ]);
        prop::collection::vec(bit, 0..200).prop_map(|v| v.concat())
    }

    fn tag_variant() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            TAG.to_string(),
            TAG.replace('"', "'"),
            format!("<SCRIPT Src={SRC} Data-Dsn={DSN}></SCRIPT>"),
            format!("<script data-dsn=\"{DSN}\"\n src=\"{SRC}\" crossorigin />"),
            format!(
                "<script src=\"{SRC}\"></script><script>Backstop.init({{dsn: \"{DSN}\"}})</script>"
            ),
        ])
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_any_text(html in ".{0,400}", key in ".{0,40}") {
            let _ = find_tag(&html, &origins(), &key);
            let _ = find_tag(&html, &[], KEY);
        }

        #[test]
        fn never_panics_on_html_like_text(html in html_like()) {
            let _ = find_tag(&html, &origins(), KEY);
        }

        #[test]
        fn an_inserted_tag_is_present(
            pieces in prop::collection::vec(piece(), 0..30),
            at in any::<prop::sample::Index>(),
            tag in tag_variant(),
        ) {
            let without = pieces.concat();
            prop_assert!(
                matches!(find_tag(&without, &origins(), KEY), TagCheck::Missing { .. }),
                "tag-free HTML is Missing: {}", without
            );
            let i = at.index(pieces.len() + 1);
            let html = format!("{}{tag}{}", pieces[..i].concat(), pieces[i..].concat());
            prop_assert_eq!(find_tag(&html, &origins(), KEY), present(SRC), "{}", html);
        }
    }
}
