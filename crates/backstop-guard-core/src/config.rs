//! Typed webhook-guard configuration, validated once per request from the worker's vars:
//!
//! - `BACKSTOP_WEBHOOK_ROUTES`: a JSON array of routes (default `[]`, nothing guarded):
//!   ```json
//!   [{"name": "email", "prefix": "/email/receive/", "origin": "https://app.internal",
//!     "body_limit": "20m", "timeout_ms": 8000,
//!     "retry_schedule": ["5s", "5m", "30m", "2h", "5h", "10h", "10h"],
//!     "hold_response": {"status": 202}}]
//!   ```
//! - `BACKSTOP_ALERT_WEBHOOK_URL`: where alerts are posted (Slack-compatible JSON); unset or
//!   empty means alerts are recorded but not sent.
//! - `BACKSTOP_ALERT_WINDOW_SECS`: the window of the "first hold of a route" alert (default 3600).

use serde::Deserialize;

/// Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// Time allowed for the origin's response headers, upload included. Below GitHub's 10 s, so the
/// sender still gets the hold answer in time when the origin is slow.
pub const DEFAULT_TIMEOUT_MS: u64 = 8_000;
/// The largest body Backstop keeps at all (Cloudflare refuses larger request bodies anyway).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 100 * 1024 * 1024;
/// Window of the "first hold of a route" alert.
pub const DEFAULT_ALERT_WINDOW_SECS: u64 = 3_600;
/// `Retry-After` of a `503` hold answer when the route sets none.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 60;
/// Longest wait between two attempts that a Durable Object alarm schedule allows here (1 day).
const MAX_RETRY_DELAY_SECS: u64 = 86_400;
/// Most entries in a retry schedule.
const MAX_RETRIES: usize = 20;

/// What the sender is told while its payload is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAnswer {
    /// A 2xx (default `202 Accepted`): the sender considers the delivery done and does not
    /// retry; Backstop retries on the route's schedule.
    Accept {
        /// 200, 202 or 204.
        status: u16,
    },
    /// A retryable status (default `503`) with `Retry-After`: the sender retries, so Backstop
    /// keeps the payload visible and replayable but does not retry on its own (that would
    /// deliver twice).
    AskRetry {
        /// 429, 500, 502, 503 or 504.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after_secs: u64,
    },
}

impl Default for HoldAnswer {
    fn default() -> Self {
        Self::Accept { status: 202 }
    }
}

impl HoldAnswer {
    /// Whether Backstop retries held payloads on the route's schedule.
    pub fn backstop_retries(self) -> bool {
        matches!(self, Self::Accept { .. })
    }

    /// The status answered to the sender.
    pub fn status(self) -> u16 {
        match self {
            Self::Accept { status } | Self::AskRetry { status, .. } => status,
        }
    }
}

/// One guarded path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Short name (`[a-z0-9_-]`, ≤ 64), used in stats, alerts and the API.
    pub name: String,
    /// Path prefix, starting with `/`; matched on whole segments, the longest prefix wins.
    pub prefix: String,
    /// Origin base URL (`http(s)://host[:port][/base]`, no trailing slash); the request's path
    /// and query are appended to it.
    pub origin: String,
    /// The origin's body limit (nginx `client_max_body_size`), when known: larger bodies are
    /// held without being forwarded.
    pub body_limit: Option<u64>,
    /// The largest body Backstop accepts on this route at all (413 above it).
    pub max_body_bytes: u64,
    /// Time allowed for the origin's response headers, in milliseconds.
    pub timeout_ms: u64,
    /// Delays before each retry after the first attempt, in seconds.
    pub retry_schedule_secs: Vec<u64>,
    /// What the sender is told while its payload is held.
    pub hold_answer: HoldAnswer,
}

impl Route {
    /// Whether `path` is under this route's prefix (whole segments: `/hooks` matches `/hooks`
    /// and `/hooks/x`, not `/hooksx`).
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return path.starts_with('/');
        }
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The URL to forward to: origin base + path + query.
    pub fn origin_url(&self, path: &str, query: Option<&str>) -> String {
        let mut url = format!("{}{path}", self.origin);
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

/// Alert settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    /// Slack-compatible incoming-webhook URL; `None` records alerts without sending them.
    pub url: Option<String>,
    /// Window of the "first hold of a route" alert, in milliseconds.
    pub window_ms: u64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            url: None,
            window_ms: DEFAULT_ALERT_WINDOW_SECS * 1000,
        }
    }
}

/// The validated webhook-guard configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Guarded routes.
    pub routes: Vec<Route>,
    /// Alerts.
    pub alert: AlertConfig,
}

/// Raw values as the worker reads them.
#[derive(Debug, Clone, Default)]
pub struct RawWebhookConfig {
    /// `BACKSTOP_WEBHOOK_ROUTES` as JSON text.
    pub routes_json: Option<String>,
    /// `BACKSTOP_ALERT_WEBHOOK_URL`.
    pub alert_url: Option<String>,
    /// `BACKSTOP_ALERT_WINDOW_SECS`.
    pub alert_window_secs: Option<String>,
}

/// Why the webhook configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    /// `BACKSTOP_WEBHOOK_ROUTES` does not parse or a route is invalid.
    #[error("BACKSTOP_WEBHOOK_ROUTES is not valid: {0}")]
    InvalidRoutes(String),
    /// `BACKSTOP_ALERT_WEBHOOK_URL` is not an http(s) URL.
    #[error("BACKSTOP_ALERT_WEBHOOK_URL must be an http:// or https:// URL")]
    InvalidAlertUrl,
    /// `BACKSTOP_ALERT_WINDOW_SECS` is not a positive number.
    #[error("BACKSTOP_ALERT_WINDOW_SECS must be a whole number of seconds from 1 to 604800")]
    InvalidAlertWindow,
}

/// A byte size: a number, or nginx's notation (`512`, `64k`, `20m`, `1g`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

/// A delay: seconds, or `5s`, `5m`, `2h`, `1d`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDelay {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoldAnswer {
    status: u16,
    #[serde(default)]
    retry_after_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    prefix: String,
    origin: String,
    #[serde(default)]
    body_limit: Option<RawSize>,
    #[serde(default)]
    max_body: Option<RawSize>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    retry_schedule: Option<Vec<RawDelay>>,
    #[serde(default)]
    hold_response: Option<RawHoldAnswer>,
}

/// Parses nginx's size notation: `1024`, `64k`/`64K`, `20m`/`20M`, `1g`/`1G`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 'b'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        'b' => 1,
        'k' => 1024,
        'm' => 1024 * 1024,
        'g' => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Parses a delay: seconds as a number, or `30s`, `5m`, `2h`, `1d`.
pub fn parse_delay_secs(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn size(raw: &RawSize, what: &str, route: &str) -> Result<u64, WebhookConfigError> {
    let n = match raw {
        RawSize::Bytes(n) => Some(*n),
        RawSize::Text(t) => parse_size(t),
    };
    n.filter(|n| *n > 0).ok_or_else(|| {
        WebhookConfigError::InvalidRoutes(format!(
            "{what} of route '{route}' must be a positive size such as 1048576, \"512k\" or \"20m\""
        ))
    })
}

/// Whether `url` is an absolute http(s) URL with a host and no query or fragment.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && !url.contains(['?', '#'])
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_valid_route_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn route(raw: RawRoute) -> Result<Route, WebhookConfigError> {
    let invalid = |detail: String| WebhookConfigError::InvalidRoutes(detail);
    let name = raw.name.trim().to_string();
    if !is_valid_route_name(&name) {
        return Err(invalid(format!(
            "route name '{}' must be 1-64 characters of a-z 0-9 _ -",
            name.chars().take(64).collect::<String>()
        )));
    }
    let prefix = raw.prefix.trim().to_string();
    if !prefix.starts_with('/')
        || prefix.contains(['?', '#'])
        || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(format!(
            "prefix of route '{name}' must be a path starting with /"
        )));
    }
    if prefix == "/api" || prefix.starts_with("/api/") {
        return Err(invalid(format!(
            "prefix of route '{name}' is under /api/, which Backstop serves itself"
        )));
    }
    let origin = raw.origin.trim().trim_end_matches('/').to_string();
    if !is_http_url(&origin) {
        return Err(invalid(format!(
            "origin of route '{name}' must be an http:// or https:// URL without query or fragment"
        )));
    }
    let body_limit = raw
        .body_limit
        .as_ref()
        .map(|s| size(s, "body_limit", &name))
        .transpose()?;
    let max_body_bytes = raw
        .max_body
        .as_ref()
        .map(|s| size(s, "max_body", &name))
        .transpose()?
        .unwrap_or(DEFAULT_MAX_BODY_BYTES);
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(100..=300_000).contains(&timeout_ms) {
        return Err(invalid(format!(
            "timeout_ms of route '{name}' must be from 100 to 300000"
        )));
    }
    let retry_schedule_secs = match raw.retry_schedule {
        None => DEFAULT_RETRY_SCHEDULE_SECS.to_vec(),
        Some(list) => {
            if list.len() > MAX_RETRIES {
                return Err(invalid(format!(
                    "retry_schedule of route '{name}' has more than {MAX_RETRIES} entries"
                )));
            }
            let mut out = Vec::with_capacity(list.len());
            for d in &list {
                let secs = match d {
                    RawDelay::Secs(s) => Some(*s),
                    RawDelay::Text(t) => parse_delay_secs(t),
                };
                match secs {
                    Some(s) if (1..=MAX_RETRY_DELAY_SECS).contains(&s) => out.push(s),
                    _ => {
                        return Err(invalid(format!(
                        "retry_schedule of route '{name}' needs delays from 1 s to 1 d, such as 5, \"5m\" or \"2h\""
                    )))
                    }
                }
            }
            out
        }
    };
    let hold_answer = match raw.hold_response {
        None => HoldAnswer::default(),
        Some(RawHoldAnswer {
            status,
            retry_after_secs,
        }) => match status {
            200 | 202 | 204 if retry_after_secs.is_none() => HoldAnswer::Accept { status },
            429 | 500 | 502 | 503 | 504 => HoldAnswer::AskRetry {
                status,
                retry_after_secs: retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
            },
            _ => {
                return Err(invalid(format!(
                    "hold_response of route '{name}' must be {{\"status\": 200|202|204}} or {{\"status\": 429|500|502|503|504, \"retry_after_secs\": N}}"
                )))
            }
        },
    };
    if body_limit.is_some_and(|l| l > max_body_bytes) {
        return Err(invalid(format!(
            "body_limit of route '{name}' is larger than its max_body"
        )));
    }
    Ok(Route {
        name,
        prefix,
        origin,
        body_limit,
        max_body_bytes,
        timeout_ms,
        retry_schedule_secs,
        hold_answer,
    })
}

impl WebhookConfig {
    /// Validates the raw values.
    pub fn from_raw(raw: &RawWebhookConfig) -> Result<Self, WebhookConfigError> {
        let raw_routes: Vec<RawRoute> = match raw.routes_json.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(s) => serde_json::from_str(s)
                .map_err(|e| WebhookConfigError::InvalidRoutes(e.to_string()))?,
        };
        let mut routes: Vec<Route> = Vec::with_capacity(raw_routes.len());
        for r in raw_routes {
            let r = route(r)?;
            if routes.iter().any(|o| o.name == r.name) {
                return Err(WebhookConfigError::InvalidRoutes(format!(
                    "route name '{}' is used twice",
                    r.name
                )));
            }
            if routes
                .iter()
                .any(|o| o.prefix.trim_end_matches('/') == r.prefix.trim_end_matches('/'))
            {
                return Err(WebhookConfigError::InvalidRoutes(format!(
                    "prefix '{}' is used twice",
                    r.prefix
                )));
            }
            routes.push(r);
        }
        let url = match raw.alert_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if is_http_url(u) || is_http_url_with_query(u) => Some(u.to_string()),
            Some(_) => return Err(WebhookConfigError::InvalidAlertUrl),
        };
        let window_secs = match raw.alert_window_secs.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_ALERT_WINDOW_SECS,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=604_800).contains(n))
                .ok_or(WebhookConfigError::InvalidAlertWindow)?,
        };
        Ok(Self {
            routes,
            alert: AlertConfig {
                url,
                window_ms: window_secs * 1000,
            },
        })
    }

    /// The route guarding `path` (the longest matching prefix), if any.
    pub fn route_for(&self, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.matches(path))
            .max_by_key(|r| r.prefix.trim_end_matches('/').len())
    }

    /// The route with this name.
    pub fn route_named(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }
}

/// Alert URLs (Slack's, for one) may carry a query string.
fn is_http_url_with_query(url: &str) -> bool {
    match url.split_once('?') {
        Some((base, query)) => is_http_url(base) && !query.contains('#') && !query.contains(' '),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(json: &str) -> Result<WebhookConfig, WebhookConfigError> {
        WebhookConfig::from_raw(&RawWebhookConfig {
            routes_json: Some(json.into()),
            ..Default::default()
        })
    }

    #[test]
    fn parses_sizes_and_delays() {
        let sizes = [
            ("1024", Some(1024)),
            ("64k", Some(65_536)),
            ("20m", Some(20 * 1024 * 1024)),
            ("20M", Some(20 * 1024 * 1024)),
            ("1g", Some(1024 * 1024 * 1024)),
            ("", None),
            ("m", None),
            ("1.5m", None),
            ("20x", None),
            ("-1", None),
        ];
        for (text, want) in sizes {
            assert_eq!(parse_size(text), want, "size {text:?}");
        }
        let delays = [
            ("5", Some(5)),
            ("5s", Some(5)),
            ("5m", Some(300)),
            ("2h", Some(7_200)),
            ("1d", Some(86_400)),
            ("1w", None),
            ("", None),
        ];
        for (text, want) in delays {
            assert_eq!(parse_delay_secs(text), want, "delay {text:?}");
        }
    }

    #[test]
    fn defaults_follow_svix_and_answer_202() {
        let c = routes(
            r#"[{"name":"email","prefix":"/email/receive/","origin":"http://127.0.0.1:8080/"}]"#,
        )
        .unwrap();
        let r = &c.routes[0];
        assert_eq!(r.origin, "http://127.0.0.1:8080", "trailing slash trimmed");
        assert_eq!(r.body_limit, None);
        assert_eq!(r.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(r.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(r.retry_schedule_secs, DEFAULT_RETRY_SCHEDULE_SECS.to_vec());
        assert_eq!(r.hold_answer, HoldAnswer::Accept { status: 202 });
        assert!(r.hold_answer.backstop_retries());
        assert_eq!(c.alert, AlertConfig::default());
    }

    #[test]
    fn reads_every_route_field() {
        let c = routes(
            r#"[{"name":"gh","prefix":"/github","origin":"https://app.example/base","body_limit":"20m",
                 "max_body":"30m","timeout_ms":1500,"retry_schedule":[1,"2m","1h"],
                 "hold_response":{"status":503,"retry_after_secs":120}}]"#,
        )
        .unwrap();
        let r = &c.routes[0];
        assert_eq!(r.body_limit, Some(20 * 1024 * 1024));
        assert_eq!(r.max_body_bytes, 30 * 1024 * 1024);
        assert_eq!(r.timeout_ms, 1500);
        assert_eq!(r.retry_schedule_secs, vec![1, 120, 3600]);
        assert_eq!(
            r.hold_answer,
            HoldAnswer::AskRetry {
                status: 503,
                retry_after_secs: 120
            }
        );
        assert!(!r.hold_answer.backstop_retries());
        assert_eq!(
            r.origin_url("/github/push", Some("a=1&b=2")),
            "https://app.example/base/github/push?a=1&b=2"
        );
        assert_eq!(
            r.origin_url("/github", Some("")),
            "https://app.example/base/github"
        );
    }

    #[test]
    fn rejects_invalid_routes() {
        let cases = [
            ("{}", "not an array"),
            (r#"[{"name":"a","prefix":"/a"}]"#, "no origin"),
            (
                r#"[{"name":"A b","prefix":"/a","origin":"http://x"}]"#,
                "bad name",
            ),
            (
                r#"[{"name":"a","prefix":"a","origin":"http://x"}]"#,
                "relative prefix",
            ),
            (
                r#"[{"name":"a","prefix":"/api/x","origin":"http://x"}]"#,
                "under /api/",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"ftp://x"}]"#,
                "not http",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x/?q=1"}]"#,
                "origin with query",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://"}]"#,
                "no host",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","body_limit":"lots"}]"#,
                "bad size",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","body_limit":0}]"#,
                "zero size",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","body_limit":"2m","max_body":"1m"}]"#,
                "limit above max",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","timeout_ms":5}]"#,
                "tiny timeout",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","retry_schedule":[0]}]"#,
                "zero delay",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","retry_schedule":["2d"]}]"#,
                "delay too long",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","hold_response":{"status":404}}]"#,
                "bad hold status",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","hold_response":{"status":202,"retry_after_secs":5}}]"#,
                "retry-after on 202",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x","extra":1}]"#,
                "unknown field",
            ),
            (
                r#"[{"name":"a","prefix":"/a","origin":"http://x"},{"name":"a","prefix":"/b","origin":"http://x"}]"#,
                "duplicate name",
            ),
            (
                r#"[{"name":"a","prefix":"/a/","origin":"http://x"},{"name":"b","prefix":"/a","origin":"http://x"}]"#,
                "duplicate prefix",
            ),
        ];
        for (json, why) in cases {
            assert!(
                matches!(routes(json), Err(WebhookConfigError::InvalidRoutes(_))),
                "{why}: {:?}",
                routes(json)
            );
        }
        assert_eq!(
            routes("").unwrap().routes,
            vec![],
            "empty means nothing guarded"
        );
        assert_eq!(routes("[]").unwrap().routes, vec![]);
    }

    #[test]
    fn validates_alert_settings() {
        let cfg = |url: Option<&str>, window: Option<&str>| {
            WebhookConfig::from_raw(&RawWebhookConfig {
                routes_json: None,
                alert_url: url.map(Into::into),
                alert_window_secs: window.map(Into::into),
            })
        };
        let c = cfg(
            Some("https://hooks.slack.com/services/T0/B0/x"),
            Some("600"),
        )
        .unwrap();
        assert_eq!(
            c.alert.url.as_deref(),
            Some("https://hooks.slack.com/services/T0/B0/x")
        );
        assert_eq!(c.alert.window_ms, 600_000);
        assert_eq!(
            cfg(Some("http://x/hook?token=1"), None)
                .unwrap()
                .alert
                .url
                .as_deref(),
            Some("http://x/hook?token=1")
        );
        assert_eq!(cfg(Some("  "), None).unwrap().alert.url, None);
        assert_eq!(
            cfg(Some("mailto:x@y"), None),
            Err(WebhookConfigError::InvalidAlertUrl)
        );
        assert_eq!(
            cfg(None, Some("0")),
            Err(WebhookConfigError::InvalidAlertWindow)
        );
        assert_eq!(
            cfg(None, Some("soon")),
            Err(WebhookConfigError::InvalidAlertWindow)
        );
    }

    #[test]
    fn matches_whole_segments_and_longest_prefix() {
        let c = routes(
            r#"[{"name":"hooks","prefix":"/hooks","origin":"http://a"},
                {"name":"email","prefix":"/hooks/email/","origin":"http://b"}]"#,
        )
        .unwrap();
        let cases = [
            ("/hooks", Some("hooks")),
            ("/hooks/", Some("hooks")),
            ("/hooks/github", Some("hooks")),
            ("/hooks/email", Some("email")),
            ("/hooks/email/in", Some("email")),
            ("/hooksx", None),
            ("/other", None),
            ("/", None),
        ];
        for (path, want) in cases {
            assert_eq!(
                c.route_for(path).map(|r| r.name.as_str()),
                want,
                "path {path}"
            );
        }
        assert_eq!(
            c.route_named("email").map(|r| r.origin.as_str()),
            Some("http://b")
        );
    }
}
