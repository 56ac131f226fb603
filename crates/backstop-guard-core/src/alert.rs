//! Alert rules. Two things alert: the first held delivery of a route in each window, and a
//! delivery running out of retries. Nothing else does.
//!
//! Alerts cannot loop, by construction:
//! - [`AlertCause`] is only built from a held delivery or an exhausted one. An alert that
//!   fails becomes an [`AlertRecord`] (a row), and no function turns a record into a cause.
//! - Alert requests carry [`super::headers::ALERT_MARKER`]; a guarded route refuses such a
//!   request with 508 before anything is stored, so an alert URL pointing back at the guard
//!   (directly or through a relay that keeps headers) ends as one recorded failure.
//! - Even if a relay stripped the marker, the "first hold per route per window" rule allows
//!   at most one alert per route per window.

use serde_json::{json, Value};

use super::decision::HoldReason;

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertCause {
    /// The first held delivery of a route in the current window.
    FirstHold {
        /// Route name.
        route: String,
        /// The delivery.
        delivery_id: String,
        /// Why it is held.
        reason: HoldReason,
        /// Body size, when known.
        size: Option<u64>,
        /// The route's body limit, when known.
        limit: Option<u64>,
        /// Sender hints, joined.
        sender: String,
        /// The origin's status, when it answered.
        origin_status: Option<u16>,
    },
    /// A delivery ran out of retries.
    Exhausted {
        /// Route name.
        route: String,
        /// The delivery.
        delivery_id: String,
        /// Attempts made.
        attempts: u32,
        /// Sender hints, joined.
        sender: String,
        /// Last error or origin status, as text.
        last_error: String,
    },
}

impl AlertCause {
    /// `first_hold` or `exhausted`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FirstHold { .. } => "first_hold",
            Self::Exhausted { .. } => "exhausted",
        }
    }

    /// The route.
    pub fn route(&self) -> &str {
        match self {
            Self::FirstHold { route, .. } | Self::Exhausted { route, .. } => route,
        }
    }

    /// The delivery.
    pub fn delivery_id(&self) -> &str {
        match self {
            Self::FirstHold { delivery_id, .. } | Self::Exhausted { delivery_id, .. } => {
                delivery_id
            }
        }
    }

    /// The de-duplication key: one `first_hold` per route per window (fixed windows of
    /// `window_ms` since the epoch), one `exhausted` per delivery. Stored as a primary key, so
    /// concurrent requests cannot both claim it.
    pub fn dedupe_key(&self, window_ms: u64, now_ms: u64) -> String {
        match self {
            Self::FirstHold { route, .. } => {
                let window = window_ms.max(1);
                format!("first_hold:{route}:{}", now_ms - now_ms % window)
            }
            Self::Exhausted { delivery_id, .. } => format!("exhausted:{delivery_id}"),
        }
    }

    /// The Slack-compatible message (`text` is what Slack shows; `backstop` carries the
    /// same facts for machines and is ignored by Slack). `dashboard` is the dashboard's URL
    /// when known.
    pub fn message(&self, dashboard: Option<&str>) -> Value {
        let link = dashboard
            .map(|d| format!("\n{d}#delivery={}", self.delivery_id()))
            .unwrap_or_default();
        let text = match self {
            Self::FirstHold {
                route,
                delivery_id,
                reason,
                size,
                limit,
                sender,
                origin_status,
            } => {
                let why = match (reason, size, limit, origin_status) {
                    (HoldReason::Oversize, Some(s), Some(l), _) => {
                        format!("{} is over the origin's limit of {}", bytes(*s), bytes(*l))
                    }
                    (HoldReason::Timeout, ..) => "the origin did not answer in time".into(),
                    (HoldReason::Unreachable, ..) => "the origin could not be reached".into(),
                    (_, _, _, Some(st)) => format!("the origin answered {st}"),
                    _ => reason.as_str().replace('_', " "),
                };
                let from = if sender.is_empty() {
                    String::new()
                } else {
                    format!(" from {sender}")
                };
                format!(
                    ":warning: Backstop is holding a webhook on route `{route}`{from}: {why}. Delivery {delivery_id} is kept and can be replayed.{link}"
                )
            }
            Self::Exhausted {
                route,
                delivery_id,
                attempts,
                sender,
                last_error,
            } => {
                let from = if sender.is_empty() {
                    String::new()
                } else {
                    format!(" from {sender}")
                };
                format!(
                    ":rotating_light: Backstop gave up retrying webhook {delivery_id} on route `{route}`{from} after {attempts} attempts (last: {last_error}). The payload is kept; replay it once the origin is fixed.{link}"
                )
            }
        };
        json!({
            "text": text,
            "backstop": {
                "kind": self.kind(),
                "route": self.route(),
                "delivery_id": self.delivery_id(),
            }
        })
    }
}

/// Human-readable byte count.
pub fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// What became of one alert. A terminal record: nothing is derived from it but a row and a
/// counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertRecord {
    /// The sink answered 2xx.
    Sent {
        /// Its status.
        status: u16,
    },
    /// The sink answered non-2xx or could not be reached. Recorded once; never alerted.
    Failed {
        /// Its status, when it answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
    /// No alert URL is configured: recorded so the dashboard still shows it.
    NotConfigured,
}

impl AlertRecord {
    /// From the sink's answer (`Ok(status)`) or a transport error.
    pub fn from_result(result: Result<u16, String>) -> Self {
        match result {
            Ok(status) if (200..300).contains(&status) => Self::Sent { status },
            Ok(status) => Self::Failed {
                status: Some(status),
                error: format!("alert sink answered {status}"),
            },
            Err(error) => Self::Failed {
                status: None,
                error: error.chars().take(300).collect(),
            },
        }
    }

    /// `sent`, `failed` or `not_configured`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Failed { .. } => "failed",
            Self::NotConfigured => "not_configured",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(route: &str) -> AlertCause {
        AlertCause::FirstHold {
            route: route.into(),
            delivery_id: "wh_1".into(),
            reason: HoldReason::Oversize,
            size: Some(21 * 1024 * 1024),
            limit: Some(20 * 1024 * 1024),
            sender: "alice@example.com".into(),
            origin_status: None,
        }
    }

    #[test]
    fn first_hold_is_once_per_route_per_window() {
        let w = 3_600_000;
        let t0 = 1_795_341_600_000;
        let cases = [
            (
                hold("email"),
                t0,
                hold("email"),
                t0 + 1,
                true,
                "same route, same window",
            ),
            (
                hold("email"),
                t0,
                hold("email"),
                t0 + w,
                false,
                "next window",
            ),
            (hold("email"), t0, hold("github"), t0, false, "other route"),
        ];
        for (a, ta, b, tb, same, why) in cases {
            assert_eq!(a.dedupe_key(w, ta) == b.dedupe_key(w, tb), same, "{why}");
        }
        let ex = |id: &str| AlertCause::Exhausted {
            route: "email".into(),
            delivery_id: id.into(),
            attempts: 8,
            sender: String::new(),
            last_error: "503".into(),
        };
        assert_eq!(
            ex("wh_1").dedupe_key(w, t0),
            ex("wh_1").dedupe_key(w, t0 + 10 * w)
        );
        assert_ne!(ex("wh_1").dedupe_key(w, t0), ex("wh_2").dedupe_key(w, t0));
    }

    #[test]
    fn messages_are_slack_compatible_and_say_what_happened() {
        let m = hold("email").message(Some("https://b.example/webhooks/"));
        let text = m["text"].as_str().unwrap();
        assert!(
            text.contains("route `email` from alice@example.com"),
            "{text}"
        );
        assert!(
            text.contains("21.0 MiB is over the origin's limit of 20.0 MiB"),
            "{text}"
        );
        assert!(
            text.ends_with("https://b.example/webhooks/#delivery=wh_1"),
            "{text}"
        );
        assert_eq!(m["backstop"]["kind"], "first_hold");
        let ex = AlertCause::Exhausted {
            route: "email".into(),
            delivery_id: "wh_2".into(),
            attempts: 8,
            sender: String::new(),
            last_error: "origin answered 503".into(),
        };
        let text = ex.message(None)["text"].as_str().unwrap().to_string();
        assert!(
            text.contains("after 8 attempts (last: origin answered 503)"),
            "{text}"
        );
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2048), "2.0 KiB");
    }

    #[test]
    fn alert_failures_are_terminal_records() {
        let cases = [
            (Ok(200), "sent"),
            (Ok(204), "sent"),
            (Ok(500), "failed"),
            (Ok(508), "failed"),
            (Err("connection refused".to_string()), "failed"),
        ];
        for (result, want) in cases {
            assert_eq!(
                AlertRecord::from_result(result.clone()).status(),
                want,
                "{result:?}"
            );
        }
        // By construction: a record is not a cause. (This would not compile:
        // `let _: AlertCause = AlertRecord::NotConfigured.into();`) The only constructors of
        // AlertCause are the two variants above, built by the guard from deliveries.
        assert_eq!(AlertRecord::NotConfigured.status(), "not_configured");
    }
}
