//! Small HTTP helpers: JSON responses and CORS.

use serde::Serialize;
use worker::{Headers, Response};

/// A JSON response with a status.
pub(crate) fn json_response<T: Serialize>(body: &T, status: u16) -> worker::Result<Response> {
    let resp = Response::from_json(body)?.with_status(status);
    resp.headers().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// Adds the CORS headers browsers and Sentry SDKs need (any origin; no cookies are used:
/// ingest authenticates with the public key, the read API with a bearer token).
pub(crate) fn with_cors(resp: Response) -> worker::Result<Response> {
    set_cors(resp.headers())?;
    Ok(resp)
}

fn set_cors(h: &Headers) -> worker::Result<()> {
    h.set("Access-Control-Allow-Origin", "*")?;
    h.set(
        "Access-Control-Allow-Methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    )?;
    h.set(
        "Access-Control-Allow-Headers",
        "x-sentry-auth, content-type, content-encoding, authorization, sentry-trace, baggage, x-backstop-actor",
    )?;
    h.set(
        "Access-Control-Expose-Headers",
        "x-sentry-rate-limits, retry-after",
    )?;
    h.set("Access-Control-Max-Age", "86400")
}

/// The answer to a CORS preflight.
pub(crate) fn preflight() -> worker::Result<Response> {
    with_cors(Response::empty()?.with_status(204))
}
