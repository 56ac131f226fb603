//! Where alerts go: a Slack-compatible incoming webhook, a signed JSON webhook, or PagerDuty.
//! A destination that leads back into Backstop is refused ([`leads_back`]): an alert must
//! never become one of Backstop's own requests (see `delivery` for why).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::{Host, Url};

use super::rule::is_valid_id;

/// PagerDuty's Events API v2 endpoint, the default URL of a PagerDuty destination.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Longest destination URL.
pub const MAX_URL_CHARS: usize = 2048;
/// Shortest webhook secret: 16 characters.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest webhook secret.
pub const MAX_SECRET_CHARS: usize = 256;
/// A PagerDuty routing (integration) key is 32 letters and digits.
pub const ROUTING_KEY_CHARS: usize = 32;

/// The kind of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationKind {
    /// A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...).
    #[serde(rename = "slack")]
    Slack,
    /// A JSON webhook, signed with the destination's secret.
    #[serde(rename = "webhook")]
    Webhook,
    /// PagerDuty's Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty,
}

impl DestinationKind {
    /// `slack`, `webhook` or `pagerduty`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Webhook => "webhook",
            Self::PagerDuty => "pagerduty",
        }
    }

    /// Whether a closed episode is sent here: PagerDuty must resolve its incident and a
    /// webhook receiver may track state; a chat channel only gets noisier.
    pub fn wants_resolved(self) -> bool {
        !matches!(self, Self::Slack)
    }
}

/// A destination, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// `[a-z0-9_-]{1,64}`.
    pub id: String,
    /// Its kind.
    pub kind: DestinationKind,
    /// Where requests go, normalised (http or https).
    pub url: String,
    /// The webhook signing secret (webhooks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The PagerDuty routing key (PagerDuty only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
}

impl Destination {
    /// What the API may show: the URL cut to its origin (a Slack hook URL is a credential),
    /// whether a secret is set, and the routing key's last 4 characters.
    pub fn redacted(&self) -> Value {
        let url = match Url::parse(&self.url) {
            Ok(u) if u.path() == "/" && u.query().is_none() => u.origin().ascii_serialization(),
            Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
            Err(_) => String::new(),
        };
        let key = self.routing_key.as_ref().map(|k| {
            let tail: String = k
                .chars()
                .skip(k.chars().count().saturating_sub(4))
                .collect();
            format!("…{tail}")
        });
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "url": url,
            "secret_set": self.secret.is_some(),
            "routing_key": key,
        })
    }
}

/// Why a destination is refused. Each message says what was wrong and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// Not a JSON object.
    #[error("a destination must be a JSON object")]
    NotAnObject,
    /// A field is missing, unknown, of the wrong type, or `kind` is unknown (serde's words).
    #[error("invalid destination: {0}")]
    Shape(String),
    /// The id is empty, too long or has other characters.
    #[error("id must be 1 to 64 characters of a-z, 0-9, '_' or '-' (got '{0}')")]
    InvalidId(String),
    /// No URL for a kind that has no default.
    #[error("a {0} destination needs a url")]
    MissingUrl(&'static str),
    /// The URL is too long.
    #[error("url must be at most {MAX_URL_CHARS} characters (got {0})")]
    UrlTooLong(usize),
    /// The URL does not parse.
    #[error("url is not a valid URL: {0}")]
    InvalidUrl(String),
    /// Not http or https.
    #[error("url must use http or https (got '{0}')")]
    InvalidScheme(String),
    /// The URL's origin is one of Backstop's own.
    #[error("url {0} is a destination that leads back into Backstop: alerts must go elsewhere")]
    LeadsBack(String),
    /// A webhook without a long enough secret.
    #[error("a webhook destination needs a secret of {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters (got {0})")]
    InvalidSecret(usize),
    /// A PagerDuty destination without a well-formed routing key.
    #[error("a pagerduty destination needs a routing_key of exactly {ROUTING_KEY_CHARS} letters and digits (its integration key; got {0} characters)")]
    InvalidRoutingKey(usize),
    /// A field that does not apply to this kind.
    #[error("{field} applies only to {applies_to} destinations, not {kind}")]
    NotApplicable {
        /// `secret` or `routing_key`.
        field: &'static str,
        /// The kind it applies to.
        applies_to: &'static str,
        /// The destination's kind.
        kind: &'static str,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    id: String,
    kind: DestinationKind,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    routing_key: Option<String>,
}

/// Reads and validates a destination (from the API or from storage). `self_origins` are
/// Backstop's own origins (its public URL, the worker's hostnames, the dashboard's); a URL
/// with one of them is refused as [`DestinationError::LeadsBack`].
pub fn parse_destination(
    value: &Value,
    self_origins: &[String],
) -> Result<Destination, DestinationError> {
    if !value.is_object() {
        return Err(DestinationError::NotAnObject);
    }
    let input: Input = serde_json::from_value(value.clone())
        .map_err(|e| DestinationError::Shape(e.to_string()))?;
    if !is_valid_id(&input.id) {
        return Err(DestinationError::InvalidId(
            input.id.chars().take(80).collect(),
        ));
    }
    let kind = input.kind;
    let url = match (input.url.filter(|u| !u.trim().is_empty()), kind) {
        (Some(u), _) => u,
        (None, DestinationKind::PagerDuty) => PAGERDUTY_EVENTS_URL.to_string(),
        (None, k) => return Err(DestinationError::MissingUrl(k.as_str())),
    };
    let url = check_url(url.trim(), self_origins)?;
    let not_applicable = |field, applies_to| DestinationError::NotApplicable {
        field,
        applies_to,
        kind: kind.as_str(),
    };
    match (&input.secret, kind) {
        (Some(s), DestinationKind::Webhook) => {
            let n = s.chars().count();
            if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) {
                return Err(DestinationError::InvalidSecret(n));
            }
        }
        (None, DestinationKind::Webhook) => return Err(DestinationError::InvalidSecret(0)),
        (Some(_), _) => return Err(not_applicable("secret", "webhook")),
        (None, _) => {}
    }
    match (&input.routing_key, kind) {
        (Some(k), DestinationKind::PagerDuty) => {
            if k.len() != ROUTING_KEY_CHARS || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(DestinationError::InvalidRoutingKey(k.chars().count()));
            }
        }
        (None, DestinationKind::PagerDuty) => {
            return Err(DestinationError::InvalidRoutingKey(0));
        }
        (Some(_), _) => return Err(not_applicable("routing_key", "pagerduty")),
        (None, _) => {}
    }
    Ok(Destination {
        id: input.id,
        kind,
        url,
        secret: input.secret,
        routing_key: input.routing_key,
    })
}

/// The URL, normalised, or why it is refused.
fn check_url(url: &str, self_origins: &[String]) -> Result<String, DestinationError> {
    let len = url.chars().count();
    if len > MAX_URL_CHARS {
        return Err(DestinationError::UrlTooLong(len));
    }
    let parsed = Url::parse(url).map_err(|e| DestinationError::InvalidUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(DestinationError::InvalidScheme(
            parsed.scheme().chars().take(20).collect(),
        ));
    }
    if parsed.host().is_none() {
        return Err(DestinationError::InvalidUrl("it has no host".into()));
    }
    if leads_back(parsed.as_str(), self_origins) {
        return Err(DestinationError::LeadsBack(
            parsed.origin().ascii_serialization(),
        ));
    }
    Ok(parsed.into())
}

/// Whether `url` leads back into Backstop: its origin (scheme, host, port; case-insensitive,
/// default ports filled in, a trailing dot ignored) equals one of `self_origins`. Loopback
/// hosts (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`, and `0.0.0.0`/`::`, which reach
/// the same machine) are one host, so `http://127.0.0.1:8787` is `http://localhost:8787`, but
/// not `http://localhost:8788`. A URL that does not parse counts as leading back (checked
/// again at send time, it fails closed); a self origin that does not parse is skipped.
///
/// The sender must not follow redirects either (`redirect: "manual"`): a redirect could lead
/// back where this check cannot see.
pub fn leads_back(url: &str, self_origins: &[String]) -> bool {
    let Some(target) = Url::parse(url.trim()).ok().and_then(|u| origin_key(&u)) else {
        return true;
    };
    self_origins
        .iter()
        .filter_map(|o| Url::parse(o.trim()).ok().and_then(|u| origin_key(&u)))
        .any(|o| o == target)
}

/// A host as compared: every loopback name is one.
#[derive(Debug, PartialEq, Eq)]
enum HostKey {
    Loopback,
    Name(String),
}

fn origin_key(u: &Url) -> Option<(String, HostKey, Option<u16>)> {
    let host = match u.host()? {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                HostKey::Loopback
            } else {
                HostKey::Name(d)
            }
        }
        Host::Ipv4(ip) => ip_key(IpAddr::V4(ip)),
        Host::Ipv6(ip) => ip_key(IpAddr::V6(ip)),
    };
    Some((
        u.scheme().to_ascii_lowercase(),
        host,
        u.port_or_known_default(),
    ))
}

fn ip_key(ip: IpAddr) -> HostKey {
    let local = |v4: Ipv4Addr| v4.is_loopback() || v4.is_unspecified();
    let is_local = match ip {
        IpAddr::V4(v4) => local(v4),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6 == Ipv6Addr::UNSPECIFIED
                || v6.to_ipv4_mapped().is_some_and(local)
        }
    };
    if is_local {
        HostKey::Loopback
    } else {
        HostKey::Name(ip.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "R0UTINGKEY0123456789abcdefABCDEF";

    fn selves() -> Vec<String> {
        vec![
            "https://backstop.example".into(),
            "http://127.0.0.1:8787".into(),
            "not a url".into(),
        ]
    }

    #[test]
    fn origins_that_lead_back() {
        let cases = [
            (
                "same origin, a path",
                "https://backstop.example/api/1/envelope/",
                true,
            ),
            ("upper case", "HTTPS://BACKSTOP.EXAMPLE/x", true),
            (
                "explicit default port",
                "https://backstop.example:443/",
                true,
            ),
            ("trailing dot", "https://backstop.example./", true),
            ("other port", "https://backstop.example:8443/", false),
            ("other scheme", "http://backstop.example/", false),
            ("subdomain", "https://hooks.backstop.example/", false),
            (
                "other host",
                "https://hooks.slack.com/services/T/B/X",
                false,
            ),
            (
                "localhost for 127.0.0.1, same port",
                "http://localhost:8787/webhooks/x",
                true,
            ),
            ("localhost, other port", "http://localhost:8788/", false),
            ("127.0.0.1 itself", "http://127.0.0.1:8787/", true),
            ("short IPv4 form", "http://127.1:8787/", true),
            ("hex IPv4 form", "http://0x7f000001:8787/", true),
            ("elsewhere in 127/8", "http://127.0.0.2:8787/", true),
            ("IPv6 loopback", "http://[::1]:8787/", true),
            (
                "IPv4-mapped loopback",
                "http://[::ffff:127.0.0.1]:8787/",
                true,
            ),
            ("0.0.0.0", "http://0.0.0.0:8787/", true),
            ("a .localhost name", "http://app.localhost:8787/", true),
            ("a LAN address", "http://192.168.1.5:8787/", false),
            ("unparseable fails closed", "http://[oops", true),
        ];
        for (why, url, want) in cases {
            assert_eq!(leads_back(url, &selves()), want, "{why}");
        }
        assert!(
            !leads_back("http://localhost:8787/", &[]),
            "no self origins"
        );
    }

    #[test]
    fn destinations_parse_and_normalise() {
        let d = parse_destination(
            &json!({"id":"ops","kind":"slack","url":"HTTPS://Hooks.Slack.com/services/T/B/X"}),
            &selves(),
        )
        .unwrap();
        assert_eq!(
            d.url, "https://hooks.slack.com/services/T/B/X",
            "normalised"
        );
        let pd = parse_destination(
            &json!({"id":"pd","kind":"pagerduty","routing_key":KEY}),
            &selves(),
        )
        .unwrap();
        assert_eq!(pd.url, PAGERDUTY_EVENTS_URL, "PagerDuty's default endpoint");
        let eu = parse_destination(
            &json!({"id":"pd","kind":"pagerduty","routing_key":KEY,"url":"https://events.eu.pagerduty.com/v2/enqueue"}),
            &selves(),
        )
        .unwrap();
        assert_eq!(
            eu.url, "https://events.eu.pagerduty.com/v2/enqueue",
            "overridable"
        );
        let wh = parse_destination(
            &json!({"id":"hook","kind":"webhook","url":"http://localhost:9000/alerts","secret":"0123456789abcdef"}),
            &selves(),
        )
        .unwrap();
        assert_eq!(wh.secret.as_deref(), Some("0123456789abcdef"));
        let back = serde_json::to_value(&wh).unwrap();
        assert_eq!(
            parse_destination(&back, &selves()),
            Ok(wh),
            "stored form reads back"
        );
        assert_eq!(
            pd.redacted(),
            json!({"id":"pd","kind":"pagerduty","url":"https://events.pagerduty.com/…","secret_set":false,"routing_key":"…CDEF"})
        );
        assert_eq!(
            d.redacted()["url"],
            "https://hooks.slack.com/…",
            "a Slack hook URL is a credential"
        );
    }

    #[test]
    fn bad_destinations_say_what_and_the_limit() {
        let cases = [
            (
                "not an object",
                json!("https://x.example"),
                "must be a JSON object",
            ),
            (
                "unknown kind",
                json!({"id":"a","kind":"email","url":"https://x.example"}),
                "unknown variant `email`",
            ),
            (
                "unknown field",
                json!({"id":"a","kind":"slack","url":"https://x.example","channel":"#ops"}),
                "unknown field `channel`",
            ),
            (
                "bad id",
                json!({"id":"A B","kind":"slack","url":"https://x.example"}),
                "id must be 1 to 64 characters",
            ),
            (
                "slack without a url",
                json!({"id":"a","kind":"slack"}),
                "a slack destination needs a url",
            ),
            (
                "blank url",
                json!({"id":"a","kind":"webhook","url":" ","secret":"0123456789abcdef"}),
                "a webhook destination needs a url",
            ),
            (
                "not a url",
                json!({"id":"a","kind":"slack","url":"hooks.slack.com/x"}),
                "url is not a valid URL: relative URL without a base",
            ),
            (
                "ftp",
                json!({"id":"a","kind":"slack","url":"ftp://x.example/"}),
                "url must use http or https (got 'ftp')",
            ),
            (
                "javascript",
                json!({"id":"a","kind":"slack","url":"javascript:alert(1)"}),
                "(got 'javascript')",
            ),
            (
                "too long",
                json!({"id":"a","kind":"slack","url":format!("https://x.example/{}", "a".repeat(2048))}),
                "url must be at most 2048 characters (got 2066)",
            ),
            (
                "back into Backstop",
                json!({"id":"a","kind":"slack","url":"https://backstop.example/api/x"}),
                "url https://backstop.example is a destination that leads back into Backstop",
            ),
            (
                "back through localhost",
                json!({"id":"a","kind":"webhook","url":"http://localhost:8787/w","secret":"0123456789abcdef"}),
                "http://localhost:8787 is a destination that leads back",
            ),
            (
                "webhook without a secret",
                json!({"id":"a","kind":"webhook","url":"https://x.example"}),
                "a webhook destination needs a secret of 16 to 256 characters (got 0)",
            ),
            (
                "short secret",
                json!({"id":"a","kind":"webhook","url":"https://x.example","secret":"hunter2"}),
                "(got 7)",
            ),
            (
                "secret on slack",
                json!({"id":"a","kind":"slack","url":"https://x.example","secret":"0123456789abcdef"}),
                "secret applies only to webhook destinations, not slack",
            ),
            (
                "pagerduty without a key",
                json!({"id":"a","kind":"pagerduty"}),
                "a pagerduty destination needs a routing_key of exactly 32 letters and digits",
            ),
            (
                "31-char key",
                json!({"id":"a","kind":"pagerduty","routing_key":&KEY[1..]}),
                "(its integration key; got 31 characters)",
            ),
            (
                "key with a dash",
                json!({"id":"a","kind":"pagerduty","routing_key":format!("-{}", &KEY[1..])}),
                "got 32 characters",
            ),
            (
                "key on a webhook",
                json!({"id":"a","kind":"webhook","url":"https://x.example","secret":"0123456789abcdef","routing_key":KEY}),
                "routing_key applies only to pagerduty destinations, not webhook",
            ),
            (
                "pagerduty pointed back",
                json!({"id":"a","kind":"pagerduty","routing_key":KEY,"url":"https://backstop.example/"}),
                "leads back into Backstop",
            ),
        ];
        for (why, input, want) in cases {
            match parse_destination(&input, &selves()) {
                Ok(d) => panic!("{why}: accepted {d:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{why}: got '{e}'"),
            }
        }
    }

    #[test]
    fn only_chat_skips_resolved() {
        let cases = [
            (DestinationKind::Slack, false),
            (DestinationKind::Webhook, true),
            (DestinationKind::PagerDuty, true),
        ];
        for (kind, want) in cases {
            assert_eq!(kind.wants_resolved(), want, "{}", kind.as_str());
        }
    }
}
