//! The hold decision: what to do with a request before forwarding it (its declared size against
//! the route's limits) and after (the origin's answer, a timeout, an unreachable origin).

use super::config::Route;

/// What to do with a guarded request before any byte of its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precheck {
    /// Forward it (streaming), keeping a copy.
    Forward,
    /// The declared body is larger than the origin accepts: keep it without forwarding (it
    /// would fail the same way) and answer the route's hold answer.
    HoldOversize {
        /// Declared size.
        size: u64,
        /// The route's body limit.
        limit: u64,
    },
    /// Larger than Backstop keeps at all: refuse with 413 (and record that it happened).
    Refuse {
        /// Declared size.
        size: u64,
        /// The route's `max_body`.
        max: u64,
    },
}

/// Decides on the declared `Content-Length` (`None` for a chunked body: the origin decides).
pub fn precheck(route: &Route, content_length: Option<u64>) -> Precheck {
    match content_length {
        Some(size) if size > route.max_body_bytes => Precheck::Refuse {
            size,
            max: route.max_body_bytes,
        },
        Some(size) => match route.body_limit {
            Some(limit) if size > limit => Precheck::HoldOversize { size, limit },
            _ => Precheck::Forward,
        },
        None => Precheck::Forward,
    }
}

/// The size recorded (and answered with 413) for a chunked body that ran past `max_body` while
/// it streamed: its real size is unknown, only that it is larger. Saturating, because a route
/// may set `max_body` as high as `u64::MAX`.
pub fn size_past_max_body(max_body: u64) -> u64 {
    max_body.saturating_add(1)
}

/// Whether requests with this method are held when the origin does not take them. Webhooks
/// are `POST`s (or `PUT`/`PATCH`/`DELETE`); `GET`, `HEAD` and `OPTIONS` carry no payload to
/// keep (and a crawler's `GET` must not raise an alert), so they are only proxied.
pub fn is_held_method(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

/// Whether the platform's `fetch` refuses a body on this method (`GET`, `HEAD`): such a request
/// with a body cannot be forwarded as it was sent, so the guard refuses it (400) rather than
/// dropping the body or calling the origin unreachable.
pub fn forbids_body(method: &str) -> bool {
    matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD")
}

/// Bodies up to this size (with a declared length) keep their replay copy in the isolate's
/// JavaScript memory while they are forwarded, and reach R2 only if the origin does not take
/// them. Measured under `wrangler dev`: an R2 write (and delete) per passing webhook more than
/// doubled the latency of a small pass-through. Larger or chunked bodies stream to R2 as a tee.
pub const MEMORY_COPY_MAX_BYTES: u64 = 256 * 1024;

/// Whether the replay copy of a forwarded body is kept in memory (see
/// [`MEMORY_COPY_MAX_BYTES`]) rather than streamed to R2 at once.
pub fn keeps_copy_in_memory(content_length: Option<u64>) -> bool {
    content_length.is_some_and(|len| len <= MEMORY_COPY_MAX_BYTES)
}

/// How one attempt to reach the origin ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The origin answered with this status.
    Status(u16),
    /// No response headers within the route's timeout.
    Timeout,
    /// Connection refused, DNS failure, reset before an answer...
    Unreachable(String),
}

/// Why a payload is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// Larger than the route's configured `body_limit`; never forwarded.
    Oversize,
    /// The origin answered 413 itself (its limit is not in the config).
    OriginTooLarge,
    /// The origin refused the payload as such (400, 405, 411, 414, 415, 422, 431): the same
    /// bytes would be refused again, so they wait for a person.
    OriginRejected,
    /// Any other non-2xx answer (3xx, 401, 403, 404, 408, 429, 5xx...): worth retrying.
    OriginError,
    /// No answer within the timeout.
    Timeout,
    /// The origin could not be reached.
    Unreachable,
}

impl HoldReason {
    /// Every reason, in display order.
    pub const ALL: [HoldReason; 6] = [
        Self::Oversize,
        Self::OriginTooLarge,
        Self::OriginRejected,
        Self::OriginError,
        Self::Timeout,
        Self::Unreachable,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oversize => "oversize",
            Self::OriginTooLarge => "origin_too_large",
            Self::OriginRejected => "origin_rejected",
            Self::OriginError => "origin_error",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether Backstop retries on its schedule. Size holds and payload rejections would fail
    /// the same way: they wait for a limit change or a replay.
    pub fn is_auto_retried(self) -> bool {
        matches!(self, Self::OriginError | Self::Timeout | Self::Unreachable)
    }

    /// Whether a change of the route's `body_limit` can unblock this hold.
    pub fn is_size_hold(self) -> bool {
        matches!(self, Self::Oversize | Self::OriginTooLarge)
    }

    /// The per-minute stats reason.
    pub fn stats_reason(self) -> &'static str {
        match self {
            Self::Oversize => "webhook_held_oversize",
            Self::OriginTooLarge => "webhook_held_origin_too_large",
            Self::OriginRejected => "webhook_held_origin_rejected",
            Self::OriginError => "webhook_held_origin_error",
            Self::Timeout => "webhook_held_timeout",
            Self::Unreachable => "webhook_held_unreachable",
        }
    }
}

/// The verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The origin took it (2xx).
    Delivered,
    /// It is not delivered; keep it.
    Hold(HoldReason),
}

/// Classifies an attempt. Only a 2xx is a delivery: a redirect, a 4xx and a 5xx all mean the
/// origin did not take the payload.
pub fn classify(result: &AttemptResult) -> Verdict {
    match result {
        AttemptResult::Status(s) if (200..300).contains(s) => Verdict::Delivered,
        AttemptResult::Status(413) => Verdict::Hold(HoldReason::OriginTooLarge),
        AttemptResult::Status(400 | 405 | 411 | 414 | 415 | 422 | 431) => {
            Verdict::Hold(HoldReason::OriginRejected)
        }
        AttemptResult::Status(_) => Verdict::Hold(HoldReason::OriginError),
        AttemptResult::Timeout => Verdict::Hold(HoldReason::Timeout),
        AttemptResult::Unreachable(_) => Verdict::Hold(HoldReason::Unreachable),
    }
}

/// What to record about an attempt that did not deliver: the error, or for an answer the
/// `<title>` of an HTML page (nginx's "413 Request Entity Too Large") or the start of the text,
/// flattened to one line of at most 300 characters.
pub fn origin_detail(result: &AttemptResult, answer_prefix: &[u8], timeout_ms: u64) -> String {
    let text = match result {
        AttemptResult::Timeout => format!("no response within {timeout_ms} ms"),
        AttemptResult::Unreachable(e) => format!("unreachable: {e}"),
        AttemptResult::Status(_) => {
            let body = String::from_utf8_lossy(answer_prefix);
            let lower = body.to_ascii_lowercase();
            match (lower.find("<title>"), lower.find("</title>")) {
                (Some(a), Some(b)) if b > a + 7 => body[a + 7..b].to_string(),
                _ => body.into_owned(),
            }
        }
    };
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect()
}

/// Per-minute stats reasons the guard counts besides the hold reasons.
pub mod stats_reason {
    /// Passed through and accepted by the origin on the first attempt.
    pub const PASSED: &str = "webhook_passed";
    /// A held payload delivered by a retry or a replay.
    pub const DELIVERED: &str = "webhook_delivered";
    /// All retries failed.
    pub const EXHAUSTED: &str = "webhook_exhausted";
    /// Larger than `max_body`: refused with 413.
    pub const REFUSED: &str = "webhook_refused_too_large";
    /// The payload could not be kept (storage failed or the sender hung up): answered 503.
    pub const UNSTORED: &str = "webhook_unstored";
    /// A Backstop alert arrived at a guarded route: refused with 508, never held.
    pub const LOOP_REFUSED: &str = "webhook_loop_refused";
    /// An alert was sent.
    pub const ALERT_SENT: &str = "webhook_alert_sent";
    /// An alert could not be sent (recorded once, never alerted about).
    pub const ALERT_FAILED: &str = "webhook_alert_failed";
}

/// The `stats.project` column under which a route's outcomes are counted (never a valid
/// project id, so it cannot collide with ingest counters).
pub fn stats_scope(route: &str) -> String {
    format!("webhook:{route}")
}

/// How far back the webhook stats reach: the last 24 hours of minutes.
pub const STATS_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// The first minute the webhook stats at `now_ms` include.
pub fn stats_since(now_ms: u64) -> u64 {
    backstop_server_core::stats::minute_bucket(now_ms).saturating_sub(STATS_WINDOW_MS)
}

/// One stored webhook counter: its scope ([`stats_scope`]), minute, reason and count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct StatRow {
    /// `webhook:<route>`.
    pub project: String,
    /// Start of its minute (epoch ms).
    pub minute: u64,
    /// What was counted ([`stats_reason`]).
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// The webhook stats answer from the stored counters since `since`: per-route totals by reason
/// (saturating) and every minute's counts in the rows' order. Rows of another scope (not
/// `webhook:`) are left out.
pub fn stats_summary(since: u64, rows: &[StatRow]) -> serde_json::Value {
    let mut routes = serde_json::Map::new();
    let mut minutes = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(route) = row.project.strip_prefix("webhook:") else {
            continue;
        };
        let totals = routes
            .entry(route.to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(map) = totals {
            let current = map
                .get(&row.reason)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            map.insert(row.reason.clone(), current.saturating_add(row.count).into());
        }
        minutes.push(serde_json::json!({
            "route": route, "minute": row.minute, "reason": row.reason, "count": row.count,
        }));
    }
    serde_json::json!({ "since": since, "routes": routes, "minutes": minutes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawWebhookConfig, WebhookConfig};

    #[test]
    fn stats_sum_per_route_and_keep_each_minute() {
        let row = |project: &str, minute, reason: &str, count| StatRow {
            project: project.into(),
            minute,
            reason: reason.into(),
            count,
        };
        let rows = [
            row("webhook:mail", 60_000, "webhook_forwarded", 2),
            row("webhook:mail", 120_000, "webhook_forwarded", 3),
            row("webhook:mail", 120_000, "webhook_held_oversize", 1),
            row("webhook:pay", 120_000, "webhook_forwarded", u64::MAX),
            row("webhook:pay", 180_000, "webhook_forwarded", 1),
            row("7", 180_000, "accepted", 9),
        ];
        let v = stats_summary(60_000, &rows);
        assert_eq!(v["since"], 60_000);
        assert_eq!(v["routes"]["mail"]["webhook_forwarded"], 5);
        assert_eq!(v["routes"]["mail"]["webhook_held_oversize"], 1);
        assert_eq!(
            v["routes"]["pay"]["webhook_forwarded"],
            u64::MAX,
            "saturates"
        );
        assert!(
            v["routes"].get("7").is_none(),
            "another scope is not a route"
        );
        let minutes = v["minutes"].as_array().unwrap();
        assert_eq!(minutes.len(), 5);
        assert_eq!(minutes[2]["route"], "mail");
        assert_eq!(minutes[2]["reason"], "webhook_held_oversize");
        assert_eq!(minutes[2]["minute"], 120_000);
        assert_eq!(stats_since(STATS_WINDOW_MS + 61_234), 60_000);
        assert_eq!(stats_since(5), 0);
    }

    fn route(limit: Option<&str>) -> Route {
        let limit = limit.map_or(String::new(), |l| format!(r#","body_limit":"{l}""#));
        WebhookConfig::from_raw(&RawWebhookConfig {
            routes_json: Some(format!(
                r#"[{{"name":"r","prefix":"/r","origin":"http://o","max_body":"100m"{limit}}}]"#
            )),
            ..Default::default()
        })
        .unwrap()
        .routes
        .remove(0)
    }

    #[test]
    fn prechecks_declared_size() {
        const M: u64 = 1024 * 1024;
        let cases = [
            (
                Some("20m"),
                Some(21 * M),
                Precheck::HoldOversize {
                    size: 21 * M,
                    limit: 20 * M,
                },
                "the 21 MB story",
            ),
            (
                Some("20m"),
                Some(20 * M),
                Precheck::Forward,
                "exactly the limit",
            ),
            (
                Some("20m"),
                None,
                Precheck::Forward,
                "chunked: the origin decides",
            ),
            (None, Some(50 * M), Precheck::Forward, "limit unknown"),
            (
                None,
                Some(101 * M),
                Precheck::Refuse {
                    size: 101 * M,
                    max: 100 * M,
                },
                "over max_body",
            ),
            (
                Some("1m"),
                Some(101 * M),
                Precheck::Refuse {
                    size: 101 * M,
                    max: 100 * M,
                },
                "refuse wins",
            ),
        ];
        for (limit, len, want, why) in cases {
            assert_eq!(precheck(&route(limit), len), want, "{why}");
        }
    }

    #[test]
    fn a_chunked_body_past_max_body_counts_one_byte_more_without_overflow() {
        let cases = [
            (0, 1, "nothing allowed"),
            (
                100 * 1024 * 1024,
                100 * 1024 * 1024 + 1,
                "the default max_body",
            ),
            (u64::MAX - 1, u64::MAX, "the largest that still fits"),
            (u64::MAX, u64::MAX, "u64::MAX saturates"),
        ];
        for (max, want, why) in cases {
            assert_eq!(size_past_max_body(max), want, "{why}");
        }
        let huge = WebhookConfig::from_raw(&RawWebhookConfig {
            routes_json: Some(
                r#"[{"name":"r","prefix":"/r","origin":"http://o","max_body":"18446744073709551615"}]"#
                    .into(),
            ),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            size_past_max_body(huge.routes[0].max_body_bytes),
            u64::MAX,
            "a max_body of u64::MAX is valid config"
        );
    }

    #[test]
    fn holds_only_methods_that_carry_payloads() {
        for (m, want) in [
            ("POST", true),
            ("put", true),
            ("PATCH", true),
            ("DELETE", true),
            ("GET", false),
            ("head", false),
            ("OPTIONS", false),
        ] {
            assert_eq!(is_held_method(m), want, "{m}");
        }
    }

    #[test]
    fn get_and_head_cannot_carry_a_body_through_the_guard() {
        for (m, want) in [
            ("GET", true),
            ("head", true),
            ("OPTIONS", false),
            ("POST", false),
        ] {
            assert_eq!(forbids_body(m), want, "{m}");
        }
    }

    #[test]
    fn small_declared_bodies_keep_their_copy_in_memory() {
        let cases = [
            (Some(0), true),
            (Some(MEMORY_COPY_MAX_BYTES), true),
            (Some(MEMORY_COPY_MAX_BYTES + 1), false),
            (None, false),
        ];
        for (len, want) in cases {
            assert_eq!(keeps_copy_in_memory(len), want, "{len:?}");
        }
    }

    #[test]
    fn classifies_origin_answers() {
        use HoldReason::*;
        let cases = [
            (AttemptResult::Status(200), Verdict::Delivered),
            (AttemptResult::Status(202), Verdict::Delivered),
            (AttemptResult::Status(204), Verdict::Delivered),
            (AttemptResult::Status(301), Verdict::Hold(OriginError)),
            (AttemptResult::Status(400), Verdict::Hold(OriginRejected)),
            (AttemptResult::Status(401), Verdict::Hold(OriginError)),
            (AttemptResult::Status(404), Verdict::Hold(OriginError)),
            (AttemptResult::Status(408), Verdict::Hold(OriginError)),
            (AttemptResult::Status(413), Verdict::Hold(OriginTooLarge)),
            (AttemptResult::Status(422), Verdict::Hold(OriginRejected)),
            (AttemptResult::Status(429), Verdict::Hold(OriginError)),
            (AttemptResult::Status(500), Verdict::Hold(OriginError)),
            (AttemptResult::Status(503), Verdict::Hold(OriginError)),
            (AttemptResult::Timeout, Verdict::Hold(Timeout)),
            (
                AttemptResult::Unreachable("refused".into()),
                Verdict::Hold(Unreachable),
            ),
        ];
        for (result, want) in cases {
            assert_eq!(classify(&result), want, "{result:?}");
        }
    }

    #[test]
    fn records_what_the_origin_said() {
        let nginx = b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>";
        let cases: Vec<(AttemptResult, &[u8], &str)> = vec![
            (
                AttemptResult::Status(413),
                nginx,
                "413 Request Entity Too Large",
            ),
            (
                AttemptResult::Status(500),
                b"{\"error\":\"db down\"}\n",
                "{\"error\":\"db down\"}",
            ),
            (AttemptResult::Status(502), b"", ""),
            (AttemptResult::Timeout, b"", "no response within 1500 ms"),
            (
                AttemptResult::Unreachable("Network connection lost.".into()),
                b"",
                "unreachable: Network connection lost.",
            ),
        ];
        for (result, prefix, want) in cases {
            assert_eq!(origin_detail(&result, prefix, 1500), want, "{result:?}");
        }
        assert_eq!(
            origin_detail(&AttemptResult::Status(500), &[b'a'; 1000], 0).len(),
            300
        );
    }

    #[test]
    fn reasons_round_trip_and_say_whether_they_retry() {
        for r in HoldReason::ALL {
            assert_eq!(HoldReason::parse(r.as_str()), Some(r));
            assert!(r.stats_reason().starts_with("webhook_held_"));
            assert!(!(r.is_auto_retried() && r.is_size_hold()), "{r:?}");
        }
        assert!(!HoldReason::Oversize.is_auto_retried());
        assert!(!HoldReason::OriginTooLarge.is_auto_retried());
        assert!(!HoldReason::OriginRejected.is_auto_retried());
        assert!(HoldReason::Unreachable.is_auto_retried());
        assert_eq!(HoldReason::parse("nope"), None);
        assert_eq!(stats_scope("email"), "webhook:email");
    }
}
