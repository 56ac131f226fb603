//! The worker's one error type and the one place errors become HTTP responses.
//!
//! Platform errors (`worker::Error`) are classified where they happen: a binding failing is
//! [`AppError::Storage`] (via [`StorageError`], which `store.rs` returns), a body that breaks
//! off is the client's [`IngestError::IncompleteBody`], and anything else (a response that
//! cannot be built) is [`AppError::Internal`]. None of them is echoed to the client.

use backstop_guard_core::WebhookError;
use backstop_server_core::config::ConfigError;
use backstop_server_core::error::{ApiError, IngestError, ServerFault};
use backstop_server_core::symbolicate::upload::UploadError;
use serde_json::{json, Value};
use worker::Response;

use crate::http::{json_response, with_cors};

/// Everything a request handler can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// The client's ingest request was refused.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The client's read-API request was refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The deployment's configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A binding (D1, R2, Durable Object) failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A platform call that is neither storage nor the client's fault failed.
    #[error("internal error: {0}")]
    Internal(String),
    /// The webhook guard or its API refused or failed.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// A source-map upload was refused.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// No route.
    #[error("no route for {0}")]
    NotFound(String),
}

/// A failed storage call (D1, R2): answered 503 with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct StorageError(pub(crate) String);

impl From<worker::Error> for StorageError {
    fn from(e: worker::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e.0)
    }
}

/// An unclassified platform error is ours: storage calls go through [`StorageError`] and body
/// reads through [`IngestError::IncompleteBody`], so what is left is building a response.
impl From<worker::Error> for AppError {
    fn from(e: worker::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

/// What an error answers: status, body, `Retry-After`, and what the server log gets (only for
/// the server's own failures).
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
    log: Option<String>,
}

impl AppError {
    fn answer(&self, storage_retry_after: Option<u64>) -> Answer {
        let fault = |f: ServerFault, log: String| Answer {
            status: f.status(),
            body: f.body(),
            retry_after: match f {
                ServerFault::Storage => storage_retry_after.or(f.retry_after_secs()),
                _ => f.retry_after_secs(),
            },
            log: Some(log),
        };
        match self {
            Self::Ingest(e) => Answer {
                status: e.status(),
                body: e.body(),
                retry_after: e.retry_after_secs(),
                log: None,
            },
            Self::Api(e) => Answer {
                status: e.status(),
                body: e.body(),
                retry_after: e.retry_after_secs(),
                log: (e.status() >= 500).then(|| e.to_string()),
            },
            Self::Config(e) => fault(ServerFault::Misconfigured, format!("configuration: {e}")),
            Self::Storage(e) => fault(ServerFault::Storage, format!("storage: {e}")),
            Self::Internal(e) => fault(ServerFault::Internal, format!("internal: {e}")),
            Self::Webhook(e) => Answer {
                status: e.status(),
                body: e.body(),
                retry_after: e.retry_after(),
                log: e.is_server_error().then(|| e.to_string()),
            },
            Self::Upload(e) => Answer {
                status: e.status(),
                body: e.body(),
                retry_after: None,
                log: None,
            },
            Self::NotFound(path) => Answer {
                status: 404,
                body: json!({ "error": "not_found", "detail": format!("no route for {path}") }),
                retry_after: None,
                log: None,
            },
        }
    }

    /// The response for this error: status, JSON body and, for rate limits and every 503, the
    /// headers SDKs read. This is the one place server errors are logged. `storage_retry_after`
    /// is the configured `Retry-After` of storage errors (the default when the configuration
    /// cannot be read).
    pub(crate) fn into_response(
        self,
        path: &str,
        storage_retry_after: Option<u64>,
    ) -> worker::Result<Response> {
        let answer = self.answer(storage_retry_after);
        if let Some(log) = &answer.log {
            worker::console_error!("{path}: {log}");
        }
        let rate_limits = match &self {
            Self::Ingest(e) => e.sentry_rate_limits(),
            _ => None,
        };
        render(&answer, rate_limits.as_deref()).or_else(|e| {
            worker::console_error!("{path}: could not build the error response: {e}");
            Response::error("error", answer.status)
        })
    }
}

fn render(answer: &Answer, rate_limits: Option<&str>) -> worker::Result<Response> {
    let mut resp = json_response(&answer.body, answer.status)?;
    if let Some(secs) = answer.retry_after {
        let headers = resp.headers_mut();
        headers.set("Retry-After", &secs.to_string())?;
        if let Some(limits) = rate_limits {
            headers.set("X-Sentry-Rate-Limits", limits)?;
        }
    }
    with_cors(resp)
}
