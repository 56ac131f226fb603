//! Inbound filters: events a project does not want stored, judged at ingest from the event
//! alone (and the sender's address), before any storage or counting as an issue.
//!
//! [`should_filter`] applies the project's [`FilterConfig`] in one fixed order and names the
//! first filter that matched; the caller counts the event under [`FilterReason::as_str`] and
//! drops it. The order:
//!
//! 1. `releases` — the owner's own globs over `release`;
//! 2. `error_messages` — the owner's own globs over messages and exceptions;
//! 3. `localhost` — the page or the user is on the developer's machine;
//! 4. `ip_ranges` — the sender's address;
//! 5. `browser_extensions` — extension messages and extension or injected script frames;
//! 6. `web_crawlers` — the `User-Agent` is a crawler;
//! 7. `legacy_browsers` — the `User-Agent` is on the legacy list;
//! 8. `allowed_script_origins` — the top frame is another origin's script.
//!
//! Why this order: the rules the owner wrote by hand come first, so an event they meant to drop
//! is counted under their rule and not under a heuristic; then the cheap checks of where the
//! event came from; then the heuristics, most specific first, so an extension's error is
//! counted as an extension and not as "not our script". The `User-Agent` is parsed at most once,
//! and only when a filter that needs it is on.

mod browser_extensions;
pub mod glob;
pub mod ip;
mod legacy_browsers;
mod localhost;
pub mod script_origin;
pub mod user_agent;
mod view;
mod web_crawlers;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use glob::{lower_chars, Glob, MAX_MATCH_CHARS};
use ip::IpRange;
pub use user_agent::{contexts_json, tags, ua_context, Software, UaContext};

/// Most entries in each list of a [`FilterConfig`].
pub const MAX_ENTRIES: usize = 100;
/// Longest entry (characters) in each list of a [`FilterConfig`].
pub const MAX_ENTRY_CHARS: usize = 200;

/// A project's inbound filters. Stored as JSON; read with [`parse_config`], which validates the
/// lists and normalises IP ranges and origins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Drop errors raised by browser extensions and injected scripts. On by default: they are
    /// never the project's bugs and can be most of a public site's volume.
    pub browser_extensions: bool,
    /// Drop events from pages on `localhost` (and loopback addresses, `*.localhost`, `file:`) or
    /// with a loopback `user.ip_address` (the connecting address is not read). Off by default, as in Sentry: teams try Backstop out locally and
    /// expect to see those events.
    pub localhost: bool,
    /// Drop events from crawlers and uptime robots. On by default: a crawler running the page's
    /// JavaScript reports errors no user saw.
    pub web_crawlers: bool,
    /// Drop events from browsers older than the list in `legacy_browsers.rs` (every IE, EdgeHTML,
    /// Safari < 12, Chrome and Firefox < 80, Opera < 67, Samsung Internet < 12). Off by default:
    /// whether old browsers matter is the project's call.
    pub legacy_browsers: bool,
    /// Drop events whose message matches one of these globs (`*`, `?`, case-insensitive): each
    /// exception as `Type: value`, its type and its value alone, and the log message.
    pub error_messages: Vec<String>,
    /// Drop events whose `release` matches one of these globs. An event without a release is
    /// never dropped by this list.
    pub releases: Vec<String>,
    /// Drop events sent from these addresses or CIDR ranges (v4 or v6): the sender's address,
    /// and the event's `user.ip_address`.
    pub ip_ranges: Vec<String>,
    /// "Not our scripts": when not empty, drop events whose top in-app frame is an http(s)
    /// script from an origin not in this list (`https://app.example.com`). Empty is off.
    pub allowed_script_origins: Vec<String>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            browser_extensions: true,
            localhost: false,
            web_crawlers: true,
            legacy_browsers: false,
            error_messages: Vec::new(),
            releases: Vec::new(),
            ip_ranges: Vec::new(),
            allowed_script_origins: Vec::new(),
        }
    }
}

/// Why a filter configuration was refused, naming the field and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterConfigError {
    /// Not an object of the known fields with the right types.
    #[error("filters: {0}")]
    Invalid(String),
    /// A list is too long.
    #[error("filters.{field}: at most {limit} entries (got {got})")]
    TooMany {
        /// The list.
        field: &'static str,
        /// [`MAX_ENTRIES`].
        limit: usize,
        /// Its length.
        got: usize,
    },
    /// An entry is too long.
    #[error("filters.{field}[{index}]: at most {limit} characters (got {got})")]
    TooLong {
        /// The list.
        field: &'static str,
        /// The entry's position.
        index: usize,
        /// [`MAX_ENTRY_CHARS`].
        limit: usize,
        /// Its length in characters.
        got: usize,
    },
    /// An entry is empty (or only spaces).
    #[error("filters.{field}[{index}]: empty entry")]
    Empty {
        /// The list.
        field: &'static str,
        /// The entry's position.
        index: usize,
    },
    /// An IP range is malformed.
    #[error(
        "filters.ip_ranges[{index}]: '{value}' is not an IP address or CIDR range \
         (like 192.0.2.0/24 or 2001:db8::/32; prefix at most 32 for v4, 128 for v6)"
    )]
    InvalidIpRange {
        /// The entry's position.
        index: usize,
        /// The entry.
        value: String,
    },
    /// An origin is malformed.
    #[error("filters.allowed_script_origins[{index}]: '{value}': {reason}")]
    InvalidOrigin {
        /// The entry's position.
        index: usize,
        /// The entry.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads and validates a project's filter configuration: `null` is the defaults, unknown fields
/// are refused, each list holds at most [`MAX_ENTRIES`] non-empty entries of at most
/// [`MAX_ENTRY_CHARS`] characters, IP ranges must parse (and are rewritten as `net/prefix`),
/// origins must be bare http(s) origins (and are rewritten as the browser writes them).
pub fn parse_config(value: &Value) -> Result<FilterConfig, FilterConfigError> {
    if value.is_null() {
        return Ok(FilterConfig::default());
    }
    // serde would also read a struct from an array of its fields in order.
    if !value.is_object() {
        return Err(FilterConfigError::Invalid(
            "must be an object of filter settings".into(),
        ));
    }
    let mut cfg =
        FilterConfig::deserialize(value).map_err(|e| FilterConfigError::Invalid(e.to_string()))?;
    check_list("error_messages", &cfg.error_messages)?;
    check_list("releases", &cfg.releases)?;
    check_list("ip_ranges", &cfg.ip_ranges)?;
    check_list("allowed_script_origins", &cfg.allowed_script_origins)?;
    for (index, r) in cfg.ip_ranges.iter_mut().enumerate() {
        match IpRange::parse(r) {
            Some(range) => *r = range.to_string(),
            None => {
                return Err(FilterConfigError::InvalidIpRange {
                    index,
                    value: r.clone(),
                })
            }
        }
    }
    for (index, o) in cfg.allowed_script_origins.iter_mut().enumerate() {
        match script_origin::normalise_origin(o) {
            Ok(n) => *o = n,
            Err(e) => {
                return Err(FilterConfigError::InvalidOrigin {
                    index,
                    value: o.clone(),
                    reason: e.as_str(),
                })
            }
        }
    }
    Ok(cfg)
}

fn check_list(field: &'static str, list: &[String]) -> Result<(), FilterConfigError> {
    if list.len() > MAX_ENTRIES {
        return Err(FilterConfigError::TooMany {
            field,
            limit: MAX_ENTRIES,
            got: list.len(),
        });
    }
    for (index, entry) in list.iter().enumerate() {
        let got = entry.chars().count();
        if got > MAX_ENTRY_CHARS {
            return Err(FilterConfigError::TooLong {
                field,
                index,
                limit: MAX_ENTRY_CHARS,
                got,
            });
        }
        if entry.trim().is_empty() {
            return Err(FilterConfigError::Empty { field, index });
        }
    }
    Ok(())
}

/// Which filter dropped an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterReason {
    /// `releases` matched.
    Release,
    /// `error_messages` matched.
    ErrorMessage,
    /// `localhost`.
    Localhost,
    /// `ip_ranges` matched.
    IpRange,
    /// `browser_extensions`.
    BrowserExtension,
    /// `web_crawlers`.
    WebCrawler,
    /// `legacy_browsers`.
    LegacyBrowser,
    /// `allowed_script_origins`: another origin's script.
    ScriptOrigin,
}

impl FilterReason {
    /// Every reason, in the order the filters run.
    pub const ALL: [FilterReason; 8] = [
        FilterReason::Release,
        FilterReason::ErrorMessage,
        FilterReason::Localhost,
        FilterReason::IpRange,
        FilterReason::BrowserExtension,
        FilterReason::WebCrawler,
        FilterReason::LegacyBrowser,
        FilterReason::ScriptOrigin,
    ];

    /// The stat name the drop is counted under (`filtered:browser_extensions`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FilterReason::Release => "filtered:release",
            FilterReason::ErrorMessage => "filtered:error_message",
            FilterReason::Localhost => "filtered:localhost",
            FilterReason::IpRange => "filtered:ip_range",
            FilterReason::BrowserExtension => "filtered:browser_extensions",
            FilterReason::WebCrawler => "filtered:web_crawlers",
            FilterReason::LegacyBrowser => "filtered:legacy_browsers",
            FilterReason::ScriptOrigin => "filtered:script_origin",
        }
    }
}

/// The first filter of `cfg` (in the order of the module docs) that drops `event`, or `None`
/// to keep it. `client_ip` is the sender's address as the edge saw it. Entries that do not parse
/// (a config built without [`parse_config`]) are ignored, never an error.
pub fn should_filter(
    event: &Value,
    client_ip: Option<&str>,
    cfg: &FilterConfig,
) -> Option<FilterReason> {
    if !cfg.releases.is_empty() {
        let release = event.get("release").and_then(Value::as_str).unwrap_or("");
        if !release.is_empty() && any_glob(&cfg.releases, &[release]) {
            return Some(FilterReason::Release);
        }
    }
    if !cfg.error_messages.is_empty() && any_glob(&cfg.error_messages, &message_texts(event)) {
        return Some(FilterReason::ErrorMessage);
    }
    if cfg.localhost && localhost::matches(event) {
        return Some(FilterReason::Localhost);
    }
    if !cfg.ip_ranges.is_empty() && in_ranges(event, client_ip, &cfg.ip_ranges) {
        return Some(FilterReason::IpRange);
    }
    if cfg.browser_extensions && browser_extensions::matches(event) {
        return Some(FilterReason::BrowserExtension);
    }
    if cfg.web_crawlers || cfg.legacy_browsers {
        if let Some(ua) = view::user_agent(event) {
            let parsed = user_agent::parse(ua);
            if cfg.web_crawlers && web_crawlers::matches(ua, &parsed) {
                return Some(FilterReason::WebCrawler);
            }
            if cfg.legacy_browsers && legacy_browsers::matches(&parsed) {
                return Some(FilterReason::LegacyBrowser);
            }
        }
    }
    if script_origin::matches(event, &cfg.allowed_script_origins) {
        return Some(FilterReason::ScriptOrigin);
    }
    None
}

/// Whether any pattern matches any text; each text is lowered once.
fn any_glob<S: AsRef<str>>(patterns: &[String], texts: &[S]) -> bool {
    let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p)).collect();
    texts.iter().any(|t| {
        let lowered = lower_chars(t.as_ref(), MAX_MATCH_CHARS);
        globs.iter().any(|g| g.is_match_lowered(&lowered))
    })
}

/// What the message globs are tried on: each exception as `Type: value`, `Type` and `value`,
/// then the log messages.
fn message_texts(event: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for e in view::exceptions(event) {
        let ty = view::str_at(e, "type").unwrap_or("");
        let value = view::str_at(e, "value").unwrap_or("");
        if !ty.is_empty() && !value.is_empty() {
            out.push(format!("{ty}: {value}"));
        }
        out.extend(
            [ty, value]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
        );
    }
    out.extend(view::messages(event).into_iter().map(String::from));
    out
}

fn in_ranges(event: &Value, client_ip: Option<&str>, ranges: &[String]) -> bool {
    let ranges: Vec<IpRange> = ranges.iter().filter_map(|r| IpRange::parse(r)).collect();
    [client_ip, view::user_ip(event, client_ip)]
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .any(|ip| ranges.iter().any(|r| r.contains(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const IE11: &str = "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    /// An ordinary browser error, as the Backstop SDK sends it.
    fn event() -> Value {
        json!({
            "release": "shop@2.3.1",
            "exception": {"values": [{"type": "TypeError", "value": "x is undefined",
                "stacktrace": {"frames": [
                    {"abs_path": "https://app.example.com/main.js", "function": "boot"}]}}]},
            "request": {"url": "https://app.example.com/cart", "headers": {"User-Agent": CHROME}},
            "user": {"ip_address": "{{auto}}"}
        })
    }

    fn with(mut base: Value, path: &[&str], v: Value) -> Value {
        let mut cur = &mut base;
        for k in &path[..path.len() - 1] {
            cur = match k.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*k],
            };
        }
        cur[path[path.len() - 1]] = v;
        base
    }

    fn everything_on() -> FilterConfig {
        FilterConfig {
            browser_extensions: true,
            localhost: true,
            web_crawlers: true,
            legacy_browsers: true,
            error_messages: vec!["*ResizeObserver loop*".into()],
            releases: vec!["*-canary".into()],
            ip_ranges: vec!["203.0.113.0/24".into()],
            allowed_script_origins: vec!["https://app.example.com".into()],
        }
    }

    #[test]
    fn defaults_are_documented_ones() {
        let d = FilterConfig::default();
        assert!(
            d.browser_extensions && d.web_crawlers,
            "extensions and crawlers on"
        );
        assert!(
            !d.localhost && !d.legacy_browsers,
            "localhost and legacy off"
        );
        assert_eq!(
            parse_config(&Value::Null),
            Ok(d.clone()),
            "null is the defaults"
        );
        assert_eq!(parse_config(&json!({})), Ok(d), "{{}} is the defaults");
    }

    #[test]
    fn configs_parse_and_normalise() {
        let cfg = parse_config(&json!({
            "localhost": true,
            "ip_ranges": ["10.1.2.3/8", "::1"],
            "allowed_script_origins": ["https://App.Example.com:443/"],
            "releases": ["1.*"]
        }))
        .unwrap();
        assert!(
            cfg.localhost && cfg.browser_extensions,
            "given and default switches"
        );
        assert_eq!(
            cfg.ip_ranges,
            vec!["10.0.0.0/8", "::1/128"],
            "ranges normalised"
        );
        assert_eq!(
            cfg.allowed_script_origins,
            vec!["https://app.example.com"],
            "origin normalised"
        );
        let round = serde_json::to_value(&cfg).unwrap();
        assert_eq!(
            parse_config(&round),
            Ok(cfg),
            "a stored config reads back the same"
        );
    }

    #[test]
    fn bad_configs_say_what_and_the_limit() {
        let long = "x".repeat(MAX_ENTRY_CHARS + 1);
        let many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("p{i}")).collect();
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"nope": 1}), "unknown field `nope`", "unknown field"),
            (
                json!({"localhost": "yes"}),
                "filters: invalid type",
                "wrong type",
            ),
            (json!([]), "filters: must be an object", "not an object"),
            (
                json!({"error_messages": many}),
                "filters.error_messages: at most 100 entries (got 101)",
                "too many",
            ),
            (
                json!({"releases": [long]}),
                "filters.releases[0]: at most 200 characters (got 201)",
                "too long",
            ),
            (
                json!({"releases": ["ok", " "]}),
                "filters.releases[1]: empty entry",
                "blank entry",
            ),
            (
                json!({"ip_ranges": ["10.0.0.0/33"]}),
                "filters.ip_ranges[0]: '10.0.0.0/33' is not an IP address or CIDR range",
                "bad prefix",
            ),
            (
                json!({"ip_ranges": ["office"]}),
                "'office' is not an IP address",
                "not an address",
            ),
            (
                json!({"allowed_script_origins": ["cdn.example.com"]}),
                "filters.allowed_script_origins[0]: 'cdn.example.com': not a URL",
                "no scheme",
            ),
            (
                json!({"allowed_script_origins": ["https://x.example/js/"]}),
                "without path",
                "a path",
            ),
            (
                json!({"allowed_script_origins": ["ftp://x.example"]}),
                "only http and https",
                "ftp",
            ),
        ];
        for (input, want, why) in cases {
            let err = parse_config(&input).expect_err(why).to_string();
            assert!(err.contains(want), "{why}: {err:?} should contain {want:?}");
        }
    }

    #[test]
    fn each_filter_names_its_reason() {
        let ext = json!([{"abs_path": "chrome-extension://abc/content.js"}]);
        let foreign = json!([{"abs_path": "https://ads.example.net/ad.js"}]);
        let cases: Vec<(Value, Option<&str>, Option<FilterReason>, &str)> = vec![
            (
                event(),
                Some("198.51.100.7"),
                None,
                "an ordinary event survives everything",
            ),
            (
                with(event(), &["release"], json!("shop@2.4.0-canary")),
                None,
                Some(FilterReason::Release),
                "release glob",
            ),
            (
                with(
                    event(),
                    &["exception", "values", "0", "value"],
                    json!("ResizeObserver loop limit exceeded"),
                ),
                None,
                Some(FilterReason::ErrorMessage),
                "message glob on the value",
            ),
            (
                with(
                    event(),
                    &["message"],
                    json!("resizeobserver loop completed"),
                ),
                None,
                Some(FilterReason::ErrorMessage),
                "message glob on the log message, any case",
            ),
            (
                with(
                    event(),
                    &["request", "url"],
                    json!("http://localhost:3000/"),
                ),
                None,
                Some(FilterReason::Localhost),
                "localhost page",
            ),
            (
                event(),
                Some("203.0.113.9"),
                Some(FilterReason::IpRange),
                "sender in a range",
            ),
            (
                with(event(), &["user", "ip_address"], json!("203.0.113.1")),
                Some("198.51.100.7"),
                Some(FilterReason::IpRange),
                "user IP in a range",
            ),
            (
                with(
                    event(),
                    &["exception", "values", "0", "stacktrace", "frames"],
                    ext,
                ),
                None,
                Some(FilterReason::BrowserExtension),
                "extension frame",
            ),
            (
                with(
                    event(),
                    &["request", "headers", "User-Agent"],
                    json!(GOOGLEBOT),
                ),
                None,
                Some(FilterReason::WebCrawler),
                "crawler",
            ),
            (
                with(event(), &["request", "headers", "User-Agent"], json!(IE11)),
                None,
                Some(FilterReason::LegacyBrowser),
                "legacy browser",
            ),
            (
                with(
                    event(),
                    &["exception", "values", "0", "stacktrace", "frames"],
                    foreign,
                ),
                None,
                Some(FilterReason::ScriptOrigin),
                "foreign script",
            ),
            (
                with(event(), &["release"], json!(null)),
                None,
                None,
                "no release is never a release match",
            ),
            (
                with(
                    event(),
                    &["message"],
                    json!("cannot reach http://localhost:5432"),
                ),
                Some("127.0.0.1"),
                None,
                "localhost inside a message, a loopback sender",
            ),
        ];
        for (ev, ip, want, why) in cases {
            assert_eq!(should_filter(&ev, ip, &everything_on()), want, "{why}");
        }
    }

    #[test]
    fn earlier_filters_win() {
        // One event that every filter would drop.
        let all = json!({
            "release": "1.0-canary",
            "message": "ResizeObserver loop limit exceeded",
            "exception": [{"value": "top.GLOBALS", "stacktrace": {"frames": [
                {"abs_path": "https://ads.example.net/ad.js"}]}}],
            "request": {"url": "http://localhost/", "headers": {"user-agent": GOOGLEBOT}},
        });
        let mut cfg = everything_on();
        let mut got = Vec::new();
        while let Some(r) = should_filter(&all, Some("203.0.113.1"), &cfg) {
            got.push(r);
            match r {
                FilterReason::Release => cfg.releases.clear(),
                FilterReason::ErrorMessage => cfg.error_messages.clear(),
                FilterReason::Localhost => cfg.localhost = false,
                FilterReason::IpRange => cfg.ip_ranges.clear(),
                FilterReason::BrowserExtension => cfg.browser_extensions = false,
                FilterReason::WebCrawler => cfg.web_crawlers = false,
                FilterReason::LegacyBrowser => cfg.legacy_browsers = false,
                FilterReason::ScriptOrigin => cfg.allowed_script_origins.clear(),
            }
        }
        let mut want = FilterReason::ALL.to_vec();
        want.retain(|r| *r != FilterReason::LegacyBrowser);
        assert_eq!(
            got, want,
            "reasons come in the documented order (Googlebot is no legacy browser)"
        );
    }

    #[test]
    fn switched_off_filters_do_nothing() {
        let cfg = FilterConfig {
            browser_extensions: false,
            web_crawlers: false,
            ..FilterConfig::default()
        };
        let ext = json!({"exception": [{"value": "top.GLOBALS"}],
                         "request": {"headers": {"User-Agent": GOOGLEBOT}, "url": "http://localhost/"}});
        assert_eq!(
            should_filter(&ext, Some("127.0.0.1"), &cfg),
            None,
            "everything off"
        );
        assert_eq!(
            should_filter(&ext, None, &FilterConfig::default()),
            Some(FilterReason::BrowserExtension),
            "the defaults drop extension errors"
        );
    }

    #[test]
    fn reasons_have_stat_names() {
        let names: Vec<&str> = FilterReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "filtered:release",
                "filtered:error_message",
                "filtered:localhost",
                "filtered:ip_range",
                "filtered:browser_extensions",
                "filtered:web_crawlers",
                "filtered:legacy_browsers",
                "filtered:script_origin"
            ],
            "stable stat names"
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            prop_oneof![
                ".{0,40}",
                Just("chrome-extension://x/y.js".to_string()),
                Just("https://ads.example.net/a.js".to_string()),
                Just("http://localhost/".to_string()),
                Just("{{auto}}".to_string()),
                Just(GOOGLEBOT.to_string()),
                Just(IE11.to_string()),
            ]
            .prop_map(Value::String),
        ];
        let keys = prop_oneof![
            Just("exception".to_string()),
            Just("values".to_string()),
            Just("stacktrace".to_string()),
            Just("frames".to_string()),
            Just("abs_path".to_string()),
            Just("filename".to_string()),
            Just("in_app".to_string()),
            Just("value".to_string()),
            Just("type".to_string()),
            Just("message".to_string()),
            Just("logentry".to_string()),
            Just("request".to_string()),
            Just("url".to_string()),
            Just("headers".to_string()),
            Just("User-Agent".to_string()),
            Just("user".to_string()),
            Just("ip_address".to_string()),
            Just("release".to_string()),
            "[a-z]{1,5}",
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn should_filter_never_panics(ev in arb_json(), ip in proptest::option::of(".{0,40}")) {
            let _ = should_filter(&ev, ip.as_deref(), &everything_on());
            let _ = should_filter(&ev, ip.as_deref(), &FilterConfig::default());
        }

        #[test]
        fn ua_context_never_panics(ua in ".{0,1500}") {
            let c = ua_context(&ua);
            let _ = contexts_json(&c);
            let _ = tags(&c);
        }

        #[test]
        fn parse_config_never_panics(v in arb_json()) {
            let _ = parse_config(&v);
        }
    }
}
