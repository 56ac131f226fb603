//! What a `User-Agent` says about the browser, OS and device, as Sentry shows it:
//! `contexts.browser`/`os`/`device` and the `browser`, `os`, `device` tags. One parse feeds the
//! contexts, the tags, the web-crawler filter and the legacy-browser filter.
//!
//! The parse is the `woothee` crate's (a hand-written matcher over a few dozen small regexes
//! built on first use): the `ua-parser` projects' regex lists take 0.4–1.5 s to compile natively
//! before the first answer, which a Worker's CPU budget cannot pay, and cost more wasm.
//! Woothee's names are mapped to Sentry's where they differ (`IE`, `Samsung Internet`, `Mac OS X`,
//! `iOS`).

use serde::Serialize;
use serde_json::{json, Map, Value};
use woothee::parser::Parser;

/// A `User-Agent` longer than this is cut (at a character boundary) before parsing: real ones
/// are a few hundred bytes, and the cut bounds the parser's work on a hostile header.
pub const MAX_UA_BYTES: usize = 1024;
/// Longest device model kept from an Android `User-Agent`.
const MAX_MODEL_CHARS: usize = 64;
/// Woothee's "not known" value.
const UNKNOWN: &str = "UNKNOWN";

/// A browser or OS: its name and, when the `User-Agent` gives it, its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Software {
    /// Sentry's name: `Chrome`, `Firefox`, `Safari`, `Edge`, `IE`, `Samsung Internet`,
    /// `Googlebot`…; `Windows`, `Mac OS X`, `iOS`, `Android`, `Linux`, `Chrome OS`…
    pub name: String,
    /// As written (`131.0.0.0`, `17.5`, `10`), `None` when the `User-Agent` has none.
    pub version: Option<String>,
}

/// What a `User-Agent` says. Every part is `None` when it cannot be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UaContext {
    /// The browser, crawler or HTTP library (`curl`).
    pub browser: Option<Software>,
    /// The operating system.
    pub os: Option<Software>,
    /// The device family: `iPhone`, `iPad`, `iPod`, `Mac`, an Android model (`SM-S918B`), or
    /// `Spider` for a crawler (the `ua-parser` convention Sentry shows).
    pub device: Option<String>,
}

/// A parse with what the filters need beyond the context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) ctx: UaContext,
    /// Woothee's category: `pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc`,
    /// or empty when unknown.
    pub(crate) category: String,
}

impl Parsed {
    /// Whether the `User-Agent` was recognised as a real browser on a real device.
    pub(crate) fn is_browser(&self) -> bool {
        self.ctx.browser.is_some()
            && matches!(
                self.category.as_str(),
                "pc" | "smartphone" | "mobilephone" | "appliance"
            )
    }

    /// Whether the parser recognised a crawler.
    pub(crate) fn is_crawler(&self) -> bool {
        self.category == "crawler"
    }
}

/// Parses a `User-Agent` header into Sentry's browser, OS and device.
pub fn ua_context(user_agent: &str) -> UaContext {
    parse(user_agent).ctx
}

pub(crate) fn parse(user_agent: &str) -> Parsed {
    let ua = cut(user_agent.trim(), MAX_UA_BYTES);
    if ua.is_empty() {
        return Parsed::default();
    }
    let Some(r) = Parser::new().parse(ua) else {
        return Parsed::default();
    };
    let category = known(r.category).unwrap_or_default().to_string();
    let browser = known(r.name).map(|name| match name {
        // Woothee names the library in the version field.
        "HTTP Library" => Software {
            name: known(r.version).unwrap_or(name).to_string(),
            version: None,
        },
        _ => Software {
            name: browser_name(name).to_string(),
            version: known(r.version).map(String::from),
        },
    });
    let (os, device) = os_and_device(ua, r.os, &r.os_version, &category);
    Parsed {
        ctx: UaContext {
            browser,
            os,
            device,
        },
        category,
    }
}

fn known(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && s != UNKNOWN).then_some(s)
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn browser_name(woothee: &str) -> &str {
    match woothee {
        "Internet Explorer" => "IE",
        "SamsungBrowser" => "Samsung Internet",
        other => other,
    }
}

fn os_and_device(
    ua: &str,
    os: &str,
    os_version: &str,
    category: &str,
) -> (Option<Software>, Option<String>) {
    let version = known(os_version).map(String::from);
    let sw = |name: &str, version: Option<String>| {
        Some(Software {
            name: name.to_string(),
            version,
        })
    };
    let crawler = (category == "crawler").then(|| "Spider".to_string());
    let Some(os) = known(os) else {
        return (None, crawler);
    };
    match os {
        "iPhone" | "iPad" | "iPod" => (sw("iOS", version), Some(os.to_string())),
        "Mac OSX" => (
            sw("Mac OS X", version.or_else(|| mac_version(ua))),
            Some("Mac".to_string()),
        ),
        "Android" => (sw("Android", version), android_model(ua).or(crawler)),
        // Woothee puts the platform before the build: `x86_64 14541.0.0`.
        "ChromeOS" => (
            sw(
                "Chrome OS",
                version.and_then(|v| v.split_whitespace().last().map(String::from)),
            ),
            crawler,
        ),
        "Windows Phone OS" => (sw("Windows Phone", version), crawler),
        // `Windows 10` with version `NT 10.0`: Sentry says `Windows` `10`.
        w if w.starts_with("Windows ") => {
            let v = w["Windows ".len()..].trim();
            let v = (!v.contains(UNKNOWN) && !v.is_empty()).then(|| v.to_string());
            (sw("Windows", v), crawler)
        }
        other => (sw(other, version), crawler),
    }
}

/// `Mac OS X 14.7` or `Mac OS X 10_15_7`, which woothee reads only from Safari's form.
fn mac_version(ua: &str) -> Option<String> {
    let rest = &ua[ua.find("Mac OS X ")? + "Mac OS X ".len()..];
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
        .take(16)
        .map(|c| if c == '_' { '.' } else { c })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// The model from `(Linux; Android 14; SM-S918B Build/UP1A)`: the part after the Android
/// version, without `Build/…`. Chrome's reduced `User-Agent` says `K`, which is no model.
fn android_model(ua: &str) -> Option<String> {
    let start = ua.find("Android")?;
    let comment = &ua[start..];
    let comment = &comment[..comment.find(')').unwrap_or(comment.len())];
    let model = comment.split(';').map(str::trim).skip(1).find(|part| {
        !part.is_empty()
            && !matches!(*part, "U" | "K" | "wv" | "Mobile" | "Tablet")
            && !looks_like_locale(part)
    })?;
    let model = model.split(" Build/").next().unwrap_or(model).trim();
    (!model.is_empty() && model != "K").then(|| model.chars().take(MAX_MODEL_CHARS).collect())
}

fn looks_like_locale(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 2 || (b.len() == 5 && (b[2] == b'-' || b[2] == b'_')))
        && b[..2].iter().all(u8::is_ascii_lowercase)
}

/// Sentry's `contexts` for the parse: `{"browser": {"type": "browser", "name", "version"},
/// "os": {…}, "device": {"type": "device", "family"}}`, with only the known parts. The caller
/// merges it under the event's own `contexts`, so what the SDK sent wins.
pub fn contexts_json(ctx: &UaContext) -> Value {
    let mut out = Map::new();
    for (key, sw) in [("browser", &ctx.browser), ("os", &ctx.os)] {
        if let Some(sw) = sw {
            let mut o = Map::new();
            o.insert("type".into(), json!(key));
            o.insert("name".into(), json!(sw.name));
            if let Some(v) = &sw.version {
                o.insert("version".into(), json!(v));
            }
            out.insert(key.into(), Value::Object(o));
        }
    }
    if let Some(family) = &ctx.device {
        out.insert("device".into(), json!({"type": "device", "family": family}));
    }
    Value::Object(out)
}

/// Sentry's tags for the parse, known parts only: `browser` (`Chrome 131.0.0.0`),
/// `browser.name` (`Chrome`), `os` (`Windows 10`), `os.name` (`Windows`), `device` (`iPhone`).
pub fn tags(ctx: &UaContext) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, sw) in [("browser", &ctx.browser), ("os", &ctx.os)] {
        if let Some(sw) = sw {
            let full = match &sw.version {
                Some(v) => format!("{} {v}", sw.name),
                None => sw.name.clone(),
            };
            out.push((key.to_string(), full));
            out.push((format!("{key}.name"), sw.name.clone()));
        }
    }
    if let Some(d) = &ctx.device {
        out.push(("device".to_string(), d.clone()));
    }
    out
}

/// The major version of a parsed browser: the leading digits of its version.
pub(crate) fn major(sw: &Software) -> Option<u32> {
    let v = sw.version.as_deref()?;
    let digits: String = v.chars().take_while(char::is_ascii_digit).take(9).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Want = (
        Option<(&'static str, Option<&'static str>)>,
        Option<(&'static str, Option<&'static str>)>,
        Option<&'static str>,
    );

    fn sw(s: &Option<Software>) -> Option<(&str, Option<&str>)> {
        s.as_ref().map(|s| (s.name.as_str(), s.version.as_deref()))
    }

    #[test]
    fn real_user_agents_parse() {
        let cases: &[(&str, &str, Want)] = &[
            (
                "Chrome on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                (Some(("Chrome", Some("131.0.0.0"))), Some(("Windows", Some("10"))), None),
            ),
            (
                "Edge (Chromium) on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                (Some(("Edge", Some("131.0.2903.86"))), Some(("Windows", Some("10"))), None),
            ),
            (
                "Firefox on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                (Some(("Firefox", Some("133.0"))), Some(("Windows", Some("10"))), None),
            ),
            (
                "Firefox on macOS, version read from the platform",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
                (Some(("Firefox", Some("133.0"))), Some(("Mac OS X", Some("14.7"))), Some("Mac")),
            ),
            (
                "Safari on macOS",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                (Some(("Safari", Some("18.1"))), Some(("Mac OS X", Some("10.15.7"))), Some("Mac")),
            ),
            (
                "Safari on iPhone",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                (Some(("Safari", Some("17.5"))), Some(("iOS", Some("17.5"))), Some("iPhone")),
            ),
            (
                "Chrome on iPhone",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                (Some(("Chrome", Some("131.0.6778.73"))), Some(("iOS", Some("17.5"))), Some("iPhone")),
            ),
            (
                "Safari on iPad",
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                (Some(("Safari", Some("16.6"))), Some(("iOS", Some("16.6"))), Some("iPad")),
            ),
            (
                "Samsung Internet",
                "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                (Some(("Samsung Internet", Some("26.0"))), Some(("Android", Some("14"))), Some("SAMSUNG SM-S918B")),
            ),
            (
                "Chrome on Android, reduced UA has no model",
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                (Some(("Chrome", Some("131.0.0.0"))), Some(("Android", Some("10"))), None),
            ),
            (
                "old Android stock browser (Safari by its Version/ token), with locale and build",
                "Mozilla/5.0 (Linux; U; Android 4.1.1; en-gb; Nexus 7 Build/JRO03D) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Safari/534.30",
                (Some(("Safari", Some("4.0"))), Some(("Android", Some("4.1.1"))), Some("Nexus 7")),
            ),
            (
                "IE 11",
                "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko",
                (Some(("IE", Some("11.0"))), Some(("Windows", Some("8.1"))), None),
            ),
            (
                "Chrome OS",
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                (Some(("Chrome", Some("131.0.0.0"))), Some(("Chrome OS", Some("14541.0.0"))), None),
            ),
            (
                "Googlebot",
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                (Some(("Googlebot", None)), None, Some("Spider")),
            ),
            (
                "bingbot",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                (Some(("bingbot", None)), None, Some("Spider")),
            ),
            ("curl", "curl/8.5.0", (Some(("curl", None)), None, None)),
            ("empty", "", (None, None, None)),
            ("blank", "   ", (None, None, None)),
        ];
        for (why, ua, want) in cases {
            let c = ua_context(ua);
            assert_eq!(
                (sw(&c.browser), sw(&c.os), c.device.as_deref()),
                *want,
                "{why}: {ua}"
            );
        }
    }

    #[test]
    fn old_android_stock_browser_is_at_least_android() {
        // Woothee may or may not name the stock browser; the OS must be right either way.
        let c = ua_context("Mozilla/5.0 (Linux; U; Android 2.3.5; en-us; HTC Vision Build/GRI40) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1");
        assert_eq!(sw(&c.os), Some(("Android", Some("2.3.5"))), "Android 2.3.5");
    }

    #[test]
    fn garbage_is_harmless_and_bounded() {
        let garbage: String = (0..10_240u32)
            .map(|i| char::from_u32(0x20 + (i * 7919) % 0x5f).unwrap_or('x'))
            .collect();
        let c = ua_context(&garbage);
        assert!(
            c.os.as_ref().is_none_or(|o| o.name.len() < 64),
            "garbage parses to little"
        );
        let multibyte = "é".repeat(MAX_UA_BYTES);
        let _ = ua_context(&multibyte);
        assert_eq!(
            cut(&multibyte, 5).len(),
            4,
            "cut falls back to a char boundary"
        );
    }

    #[test]
    fn contexts_and_tags_have_sentry_shape() {
        let c = ua_context("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1");
        assert_eq!(
            contexts_json(&c),
            json!({
                "browser": {"type": "browser", "name": "Safari", "version": "17.5"},
                "os": {"type": "os", "name": "iOS", "version": "17.5"},
                "device": {"type": "device", "family": "iPhone"}
            }),
            "all three contexts"
        );
        let want: Vec<(String, String)> = [
            ("browser", "Safari 17.5"),
            ("browser.name", "Safari"),
            ("os", "iOS 17.5"),
            ("os.name", "iOS"),
            ("device", "iPhone"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(tags(&c), want, "all five tags");

        let curl = ua_context("curl/8.5.0");
        assert_eq!(
            contexts_json(&curl),
            json!({"browser": {"type": "browser", "name": "curl"}}),
            "unknown parts and versions are left out"
        );
        assert_eq!(
            tags(&curl),
            vec![
                ("browser".into(), "curl".into()),
                ("browser.name".into(), "curl".into())
            ],
            "no version, no os, no device"
        );
        assert_eq!(
            contexts_json(&UaContext::default()),
            json!({}),
            "nothing known"
        );
        assert!(tags(&UaContext::default()).is_empty(), "no tags");
    }
}
