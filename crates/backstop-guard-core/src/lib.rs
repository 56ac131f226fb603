//! The webhook guard's rules (server side: nothing here reaches a user's page). Backstop sits in front of an origin (say, nginx with
//! `client_max_body_size 20m` in front of an app) for configured path prefixes, streams what
//! the origin accepts, and **holds** what it does not — oversize bodies, 413s, other refusals,
//! 5xx, timeouts, unreachable origins — so the payload stays visible, alerted and replayable
//! instead of being lost on a 4xx the sender never retries.
//!
//! Everything here is pure: [`config`] (routes and alert settings), [`decision`] (hold or
//! forward, how to read the origin's answer), [`delivery`] (ids, statuses, retry schedule,
//! replay idempotency), [`hints`] (who sent it), [`headers`] (what travels), [`alert`] (when to
//! alert, and why alerts cannot loop), [`query`] (the listing API), [`storage`] (R2 part sizes,
//! numbers D1 keeps exactly). The worker's `webhook` module only moves bytes and rows.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity
    )
)]

pub mod alert;
pub mod config;
pub mod decision;
pub mod delivery;
pub mod headers;
pub mod hints;
pub mod query;
pub mod storage;

use serde_json::{json, Value};

use backstop_server_core::error::ApiError;
use config::HoldAnswer;
use decision::HoldReason;

/// Why a guard or deliveries-API request fails. Mapped to HTTP in one place in the worker,
/// with [`WebhookError::status`], [`WebhookError::body`] and [`WebhookError::retry_after`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    /// The webhook (or admin) configuration is invalid. Senders get 503 so they retry.
    #[error("server misconfigured: {0}")]
    Misconfigured(String),
    /// Missing or wrong admin token.
    #[error(transparent)]
    Auth(ApiError),
    /// No such delivery, or no such API route.
    #[error("{0} not found")]
    NotFound(String),
    /// A query parameter or request body is malformed.
    #[error("invalid parameter '{name}': {detail}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The API route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The payload is no longer kept (a delivery passed straight through, or refused).
    #[error("the payload of this delivery is not kept")]
    PayloadGone,
    /// The delivery's route is no longer configured, so there is no origin to send to.
    #[error("route '{0}' is no longer configured")]
    RouteGone(String),
    /// Another attempt for this delivery is running.
    #[error("an attempt for this delivery is in progress; try again in a moment")]
    InProgress,
    /// Larger than the route's `max_body`: Backstop does not keep it.
    #[error("request body is too large: {size} bytes, the limit is {limit} bytes")]
    TooLarge {
        /// `max_body` of the route.
        limit: u64,
        /// Declared size.
        size: u64,
    },
    /// A Backstop alert arrived at a guarded route (an alert URL pointing back at the guard).
    #[error("Backstop alerts are not accepted on guarded routes (alert loop refused)")]
    LoopDetected,
    /// The origin could not be reached for a request that is not held (`HEAD`, `OPTIONS`).
    #[error("the origin could not be reached")]
    BadGateway,
    /// Storage (D1, R2, Durable Objects) failed. The text is logged, never sent.
    #[error("storage error: {0}")]
    Unavailable(String),
}

impl From<ApiError> for WebhookError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Misconfigured(m) => Self::Misconfigured(m),
            other => Self::Auth(other),
        }
    }
}

impl From<config::WebhookConfigError> for WebhookError {
    fn from(e: config::WebhookConfigError) -> Self {
        Self::Misconfigured(e.to_string())
    }
}

impl WebhookError {
    /// Machine-readable code, the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Misconfigured(_) => "misconfigured",
            Self::Auth(e) => e.code(),
            Self::NotFound(_) => "not_found",
            Self::InvalidParam { .. } => "invalid_param",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadGone => "payload_gone",
            Self::RouteGone(_) => "route_gone",
            Self::InProgress => "in_progress",
            Self::TooLarge { .. } => "too_large",
            Self::LoopDetected => "loop_detected",
            Self::BadGateway => "origin_unreachable",
            Self::Unavailable(_) => "storage_unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Misconfigured(_) | Self::Unavailable(_) => 503,
            Self::Auth(e) => e.status(),
            Self::NotFound(_) => 404,
            Self::InvalidParam { .. } => 400,
            Self::MethodNotAllowed => 405,
            Self::PayloadGone => 410,
            Self::RouteGone(_) | Self::InProgress => 409,
            Self::TooLarge { .. } => 413,
            Self::LoopDetected => 508,
            Self::BadGateway => 502,
        }
    }

    /// `Retry-After` seconds for answers a sender should retry.
    pub fn retry_after(&self) -> Option<u64> {
        matches!(self, Self::Misconfigured(_) | Self::Unavailable(_)).then_some(60)
    }

    /// Whether this is the server's fault (logged by the worker).
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500 && !matches!(self, Self::LoopDetected | Self::BadGateway)
    }

    /// The JSON body `{"error", "detail"}` (plus `limit`/`size` for 413). Storage errors say
    /// only that storage is unavailable.
    pub fn body(&self) -> Value {
        let detail = match self {
            Self::Unavailable(_) => "storage is unavailable, retry later".to_string(),
            // The configuration's text may name origins and URLs: it goes to the log only.
            Self::Misconfigured(_) => {
                "the webhook guard's configuration is invalid; the reason is in the worker's log"
                    .to_string()
            }
            Self::Auth(e) => return e.body(),
            other => other.to_string(),
        };
        let mut body = json!({ "error": self.code(), "detail": detail });
        if let Self::TooLarge { limit, size } = self {
            body["limit"] = json!(limit);
            body["size"] = json!(size);
        }
        body
    }
}

/// The answer to the sender while its payload is held: status, JSON body, `Retry-After`.
pub fn hold_answer(
    answer: HoldAnswer,
    delivery_id: &str,
    reason: HoldReason,
) -> (u16, Value, Option<u64>) {
    let body = json!({
        "status": "held",
        "delivery_id": delivery_id,
        "reason": reason.as_str(),
        "detail": "Backstop kept this payload; it will reach the origin by retry or replay",
    });
    match answer {
        HoldAnswer::Accept { status } => (status, body, None),
        HoldAnswer::AskRetry {
            status,
            retry_after_secs,
        } => (status, body, Some(retry_after_secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_status_and_body() {
        let cases: Vec<(WebhookError, u16, &str, Option<u64>)> = vec![
            (
                WebhookError::Misconfigured("x".into()),
                503,
                "misconfigured",
                Some(60),
            ),
            (
                WebhookError::Auth(ApiError::MissingToken),
                401,
                "missing_token",
                None,
            ),
            (
                WebhookError::Auth(ApiError::InvalidToken),
                403,
                "invalid_token",
                None,
            ),
            (
                WebhookError::NotFound("delivery".into()),
                404,
                "not_found",
                None,
            ),
            (
                WebhookError::MethodNotAllowed,
                405,
                "method_not_allowed",
                None,
            ),
            (WebhookError::PayloadGone, 410, "payload_gone", None),
            (WebhookError::RouteGone("r".into()), 409, "route_gone", None),
            (WebhookError::InProgress, 409, "in_progress", None),
            (
                WebhookError::TooLarge { limit: 1, size: 2 },
                413,
                "too_large",
                None,
            ),
            (WebhookError::LoopDetected, 508, "loop_detected", None),
            (WebhookError::BadGateway, 502, "origin_unreachable", None),
            (
                WebhookError::Unavailable("D1: disk I/O at /x".into()),
                503,
                "storage_unavailable",
                Some(60),
            ),
        ];
        for (e, status, code, retry) in cases {
            assert_eq!(
                (e.status(), e.code(), e.retry_after()),
                (status, code, retry),
                "{e}"
            );
            assert_eq!(e.body()["error"], code, "{e}");
        }
        let body = WebhookError::Unavailable("D1: disk I/O at /x".into()).body();
        assert!(
            !body.to_string().contains("/x"),
            "internals never reach the client"
        );
        let body = WebhookError::TooLarge {
            limit: 10,
            size: 20,
        }
        .body();
        assert_eq!(
            (body["limit"].as_u64(), body["size"].as_u64()),
            (Some(10), Some(20))
        );
        assert_eq!(
            WebhookError::from(ApiError::Misconfigured("m".into())),
            WebhookError::Misconfigured("m".into())
        );
        assert!(WebhookError::Unavailable(String::new()).is_server_error());
        assert!(!WebhookError::LoopDetected.is_server_error());
    }

    #[test]
    fn hold_answer_is_202_or_503_with_retry_after() {
        let (status, body, retry) =
            hold_answer(HoldAnswer::default(), "wh_1", HoldReason::Oversize);
        assert_eq!((status, retry), (202, None));
        assert_eq!(body["delivery_id"], "wh_1");
        assert_eq!(body["reason"], "oversize");
        let (status, _, retry) = hold_answer(
            HoldAnswer::AskRetry {
                status: 503,
                retry_after_secs: 120,
            },
            "wh_1",
            HoldReason::Unreachable,
        );
        assert_eq!((status, retry), (503, Some(120)));
    }
}
