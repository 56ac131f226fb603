//! The worker's one error type and the one place errors become HTTP responses.

use backstop_core::config::ConfigError;
use backstop_core::error::{ApiError, IngestError};
use serde_json::json;
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
    /// No route.
    #[error("no route for {0}")]
    NotFound(String),
}

impl From<worker::Error> for AppError {
    fn from(e: worker::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

impl AppError {
    /// The response for this error: status, JSON body and, for rate limits, the headers SDKs
    /// read. Server errors are logged; their internals never reach the client.
    pub(crate) fn into_response(self) -> worker::Result<Response> {
        let (status, body) = match &self {
            Self::Ingest(e) => (e.status(), e.body()),
            Self::Api(e) => (e.status(), e.body()),
            Self::Config(e) => {
                worker::console_error!("configuration: {e}");
                (
                    503,
                    json!({ "error": "misconfigured", "detail": format!("server misconfigured: {e}") }),
                )
            }
            Self::Storage(e) => {
                worker::console_error!("{e}");
                (
                    503,
                    json!({ "error": "storage_unavailable", "detail": "storage is unavailable, retry later" }),
                )
            }
            Self::NotFound(path) => (
                404,
                json!({ "error": "not_found", "detail": format!("no route for {path}") }),
            ),
        };
        let mut resp = json_response(&body, status)?;
        if let Self::Ingest(IngestError::RateLimited { retry_after_secs }) = &self {
            let headers = resp.headers_mut();
            headers.set("Retry-After", &retry_after_secs.to_string())?;
            headers.set("X-Sentry-Rate-Limits", &format!("{retry_after_secs}::key"))?;
        }
        with_cors(resp)
    }
}
