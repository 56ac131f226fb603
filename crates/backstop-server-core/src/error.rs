//! The errors of Backstop's two HTTP boundaries (ingest and the read API), each with the one
//! status code it maps to and the JSON body a client sees. The worker turns these into responses
//! in exactly one place; nothing here leaks internals.

use serde_json::{json, Value};

use crate::stats::Outcome;

/// Why an ingest request (`/envelope/`, `/store/`) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// The project id in the path is not configured.
    #[error("unknown project '{0}'")]
    UnknownProject(String),
    /// No key in the query string, `X-Sentry-Auth` or envelope header.
    #[error(
        "missing authentication: pass sentry_key in the query string or an X-Sentry-Auth header"
    )]
    MissingAuth,
    /// A key was given but is not this project's public key.
    #[error("invalid public key for this project")]
    InvalidKey,
    /// The envelope header's DSN names another project than the URL.
    #[error("the envelope's DSN is for another project than the URL")]
    DsnProjectMismatch,
    /// Several keys were given and they disagree.
    #[error("conflicting public keys in query string, X-Sentry-Auth and envelope header")]
    ConflictingAuth,
    /// A body (or part of one) is over its limit.
    #[error("{what} is too large: {size_text} bytes, the limit is {limit} bytes")]
    TooLarge {
        /// What was measured: `request body`, `decompressed body`, `event item`...
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
        /// The size seen, when known (`None` when the stream was cut at the limit).
        size: Option<u64>,
        /// `size` as text, or `more than <limit>`.
        size_text: String,
    },
    /// The body was empty.
    #[error("request body is empty")]
    EmptyBody,
    /// The body ended (or the connection broke) before all of it arrived: the client's fault,
    /// never a storage outage.
    #[error("request body is incomplete: {received} of {declared_text} bytes arrived")]
    IncompleteBody {
        /// The declared `Content-Length`, when there was one.
        declared: Option<u64>,
        /// Bytes that arrived.
        received: u64,
        /// `declared` as text, or `an unknown number of` without a length.
        declared_text: String,
    },
    /// `Content-Encoding` we don't decode.
    #[error("unsupported Content-Encoding '{0}': use gzip, deflate, br or identity")]
    UnsupportedEncoding(String),
    /// The compressed body is corrupt.
    #[error("body could not be decompressed as {0}")]
    InvalidCompression(&'static str),
    /// The envelope's framing is wrong.
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(String),
    /// JSON that does not parse.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// JSON nested deeper than allowed.
    #[error("JSON is nested deeper than {limit} levels")]
    TooDeep {
        /// The depth limit.
        limit: usize,
    },
    /// JSON that parses but is not an event.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The project's rate limit is exhausted.
    #[error("rate limit exceeded: retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request would be accepted again.
        retry_after_secs: u64,
    },
    /// The project's daily event quota is spent (see [`crate::quota`]).
    #[error(
        "daily quota of {limit} events exceeded: retry after {retry_after_secs} s (00:00 UTC)"
    )]
    QuotaExceeded {
        /// The project's quota, events per UTC day.
        limit: u64,
        /// Seconds to the next UTC day.
        retry_after_secs: u64,
        /// The data categories it blocks ([`crate::quota::categories`]).
        categories: &'static str,
    },
}

impl IngestError {
    /// Builds a [`IngestError::TooLarge`].
    pub fn too_large(what: &'static str, limit: u64, size: Option<u64>) -> Self {
        let size_text = match size {
            Some(s) => s.to_string(),
            None => format!("more than {limit}"),
        };
        Self::TooLarge {
            what,
            limit,
            size,
            size_text,
        }
    }

    /// Builds a [`IngestError::IncompleteBody`].
    pub fn incomplete(declared: Option<u64>, received: u64) -> Self {
        let declared_text = match declared {
            Some(d) => d.to_string(),
            None => "an unknown number of".into(),
        };
        Self::IncompleteBody {
            declared,
            received,
            declared_text,
        }
    }

    /// Seconds the client should wait before retrying, for the errors that have such a time.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs }
            | Self::QuotaExceeded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// `X-Sentry-Rate-Limits` for the refusals SDKs back off from: the key's rate limit (all
    /// categories, scope `key`) and the project's quota (its categories, scope `project`).
    pub fn sentry_rate_limits(&self) -> Option<String> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(format!("{retry_after_secs}::key")),
            Self::QuotaExceeded {
                retry_after_secs,
                categories,
                ..
            } => Some(crate::quota::rate_limits_header(
                *retry_after_secs,
                categories,
            )),
            _ => None,
        }
    }

    /// Machine-readable error code, the `error` field of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProject(_) => "unknown_project",
            Self::MissingAuth => "missing_auth",
            Self::InvalidKey => "invalid_key",
            Self::ConflictingAuth => "conflicting_auth",
            Self::DsnProjectMismatch => "dsn_project_mismatch",
            Self::TooLarge { .. } => "too_large",
            Self::EmptyBody => "empty_body",
            Self::IncompleteBody { .. } => "incomplete_body",
            Self::UnsupportedEncoding(_) => "unsupported_encoding",
            Self::InvalidCompression(_) => "invalid_compression",
            Self::InvalidEnvelope(_) => "invalid_envelope",
            Self::InvalidJson(_) => "invalid_json",
            Self::TooDeep { .. } => "too_deep",
            Self::InvalidEvent(_) => "invalid_event",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExceeded { .. } => "quota_exceeded",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownProject(_) => 404,
            Self::MissingAuth => 401,
            Self::InvalidKey | Self::ConflictingAuth | Self::DsnProjectMismatch => 403,
            Self::TooLarge { .. } => 413,
            Self::UnsupportedEncoding(_) => 415,
            Self::RateLimited { .. } | Self::QuotaExceeded { .. } => 429,
            Self::EmptyBody
            | Self::IncompleteBody { .. }
            | Self::InvalidCompression(_)
            | Self::InvalidEnvelope(_)
            | Self::InvalidJson(_)
            | Self::TooDeep { .. }
            | Self::InvalidEvent(_) => 400,
        }
    }

    /// The per-minute stats reason this outcome is counted under.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::UnknownProject(_)
            | Self::MissingAuth
            | Self::InvalidKey
            | Self::ConflictingAuth => Outcome::Unauthorized,
            Self::TooLarge { .. } => Outcome::TooLarge,
            Self::RateLimited { .. } => Outcome::RateLimited,
            Self::QuotaExceeded { .. } => Outcome::QuotaExceeded,
            _ => Outcome::Invalid,
        }
    }

    /// The JSON body: `{"error": code, "detail": text}` plus `limit`/`size` for size errors,
    /// `retry_after` for rate limits and `quota`/`limit`/`retry_after` for a spent quota.
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.code(), "detail": self.to_string() });
        match self {
            Self::TooLarge { limit, size, .. } => {
                body["limit"] = json!(limit);
                body["size"] = json!(size);
            }
            Self::TooDeep { limit } => body["limit"] = json!(limit),
            Self::IncompleteBody {
                declared, received, ..
            } => {
                body["declared"] = json!(declared);
                body["received"] = json!(received);
            }
            Self::RateLimited { retry_after_secs } => body["retry_after"] = json!(retry_after_secs),
            Self::QuotaExceeded {
                limit,
                retry_after_secs,
                ..
            } => {
                body["quota"] = json!("events_per_utc_day");
                body["limit"] = json!(limit);
                body["retry_after"] = json!(retry_after_secs);
            }
            _ => {}
        }
        body
    }
}

/// Why a read-API request (`/api/{project}/issues`, `events`, `stats`) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header.
    #[error("missing admin token: send Authorization: Bearer <token>")]
    MissingToken,
    /// Wrong token.
    #[error("invalid admin token")]
    InvalidToken,
    /// Unknown project or event.
    #[error("{0} not found")]
    NotFound(String),
    /// A query parameter is malformed.
    #[error("invalid parameter '{name}': {detail}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The deployment's configuration is not valid, so the API refuses to serve.
    #[error("server misconfigured: {0}")]
    Misconfigured(String),
}

impl ApiError {
    /// Machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::NotFound(_) => "not_found",
            Self::InvalidParam { .. } => "invalid_param",
            Self::Misconfigured(_) => "misconfigured",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken => 401,
            Self::InvalidToken => 403,
            Self::NotFound(_) => 404,
            Self::InvalidParam { .. } => 400,
            Self::Misconfigured(_) => 503,
        }
    }

    /// Seconds the client should wait before retrying (every 503 has one).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Misconfigured(_) => ServerFault::Misconfigured.retry_after_secs(),
            _ => None,
        }
    }

    /// The JSON body `{"error", "detail"}`.
    pub fn body(&self) -> Value {
        json!({ "error": self.code(), "detail": self.to_string() })
    }
}

/// A failure that is the server's, not the client's. The answer names what kind of failure it
/// was and never its internals (those are logged); every 503 tells the client when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFault {
    /// A binding (D1, R2, a Durable Object) failed: transient, retry later.
    Storage,
    /// The deployment's configuration is invalid: the operator must fix it; SDKs keep the
    /// events and retry rather than drop them (which a 404 or 400 would make them do).
    Misconfigured,
    /// A bug on our side (a response that could not be built).
    Internal,
}

impl ServerFault {
    /// Machine-readable error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Storage => "storage_unavailable",
            Self::Misconfigured => "misconfigured",
            Self::Internal => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Self::Storage | Self::Misconfigured => 503,
            Self::Internal => 500,
        }
    }

    /// What the client is told.
    pub fn detail(self) -> &'static str {
        match self {
            Self::Storage => "storage is unavailable, retry later",
            Self::Misconfigured => {
                "the server is misconfigured; its operator finds the reason in the worker's logs"
            }
            Self::Internal => "internal error",
        }
    }

    /// Seconds until a retry is worth it: storage trouble is usually brief, a configuration
    /// takes a deploy to fix.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Self::Storage => Some(30),
            Self::Misconfigured => Some(300),
            Self::Internal => None,
        }
    }

    /// The JSON body `{"error", "detail"}`.
    pub fn body(self) -> Value {
        json!({ "error": self.code(), "detail": self.detail() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_errors_map_to_status_outcome_and_body() {
        let cases: Vec<(IngestError, u16, Outcome)> = vec![
            (
                IngestError::UnknownProject("9".into()),
                404,
                Outcome::Unauthorized,
            ),
            (IngestError::MissingAuth, 401, Outcome::Unauthorized),
            (IngestError::InvalidKey, 403, Outcome::Unauthorized),
            (
                IngestError::too_large("request body", 10, Some(11)),
                413,
                Outcome::TooLarge,
            ),
            (
                IngestError::UnsupportedEncoding("zstd".into()),
                415,
                Outcome::Invalid,
            ),
            (IngestError::InvalidJson("x".into()), 400, Outcome::Invalid),
            (
                IngestError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
                Outcome::RateLimited,
            ),
        ];
        for (err, status, outcome) in cases {
            assert_eq!(err.status(), status, "{err}");
            assert_eq!(err.outcome(), outcome, "{err}");
            assert_eq!(err.body()["error"], err.code(), "{err}");
        }
    }

    #[test]
    fn a_spent_quota_names_itself_its_limit_and_the_next_day() {
        let e = IngestError::QuotaExceeded {
            limit: 3,
            retry_after_secs: 3600,
            categories: crate::quota::categories(false),
        };
        assert_eq!((e.status(), e.outcome()), (429, Outcome::QuotaExceeded));
        assert_eq!(e.retry_after_secs(), Some(3600));
        assert_eq!(
            e.sentry_rate_limits().as_deref(),
            Some("3600:error;default;security:project:quota_exceeded")
        );
        let body = e.body();
        assert_eq!(body["error"], "quota_exceeded");
        assert_eq!(body["quota"], "events_per_utc_day");
        assert_eq!(body["limit"], 3);
        assert_eq!(body["retry_after"], 3600);
        assert!(body["detail"].as_str().unwrap().contains("3 events"));
        let rate = IngestError::RateLimited {
            retry_after_secs: 2,
        };
        assert_eq!(rate.sentry_rate_limits().as_deref(), Some("2::key"));
        assert_eq!(IngestError::MissingAuth.sentry_rate_limits(), None);
    }

    #[test]
    fn every_503_says_when_to_retry() {
        let ingest = [
            IngestError::MissingAuth,
            IngestError::RateLimited {
                retry_after_secs: 3,
            },
            IngestError::incomplete(Some(5000), 81),
        ];
        let api = [
            ApiError::MissingToken,
            ApiError::NotFound("x".into()),
            ApiError::Misconfigured("x".into()),
        ];
        let faults = [
            ServerFault::Storage,
            ServerFault::Misconfigured,
            ServerFault::Internal,
        ];
        let answers = ingest
            .iter()
            .map(|e| (e.code(), e.status(), e.retry_after_secs()))
            .chain(
                api.iter()
                    .map(|e| (e.code(), e.status(), e.retry_after_secs())),
            )
            .chain(
                faults
                    .iter()
                    .map(|f| (f.code(), f.status(), f.retry_after_secs())),
            );
        for (code, status, retry) in answers {
            if status == 503 || status == 429 {
                assert!(retry.is_some(), "{code} ({status}) has no Retry-After");
            }
        }
    }

    #[test]
    fn server_faults_never_echo_internals() {
        for f in [
            ServerFault::Storage,
            ServerFault::Misconfigured,
            ServerFault::Internal,
        ] {
            let b = f.body();
            assert_eq!(b["error"], f.code(), "{f:?}");
            assert_eq!(b.as_object().map(|o| o.len()), Some(2), "{f:?}: {b}");
        }
        assert_eq!(ServerFault::Internal.status(), 500);
    }

    #[test]
    fn incomplete_body_is_the_clients_fault() {
        let e = IngestError::incomplete(Some(5000), 81);
        assert_eq!(
            (e.status(), e.outcome(), e.code()),
            (400, Outcome::Invalid, "incomplete_body")
        );
        let b = e.body();
        assert_eq!(
            (b["declared"].as_u64(), b["received"].as_u64()),
            (Some(5000), Some(81))
        );
        assert_eq!(
            b["detail"],
            "request body is incomplete: 81 of 5000 bytes arrived"
        );
    }

    #[test]
    fn too_large_body_names_limit_and_size() {
        let b = IngestError::too_large("request body", 1024, Some(2048)).body();
        assert_eq!(b["limit"], 1024);
        assert_eq!(b["size"], 2048);
        assert_eq!(
            b["detail"],
            "request body is too large: 2048 bytes, the limit is 1024 bytes"
        );
        let b = IngestError::too_large("request body", 1024, None).body();
        assert_eq!(b["size"], Value::Null);
        assert!(b["detail"].as_str().unwrap().contains("more than 1024"));
    }
}
