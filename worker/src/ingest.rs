//! `POST /api/{project}/envelope/` and `POST /api/{project}/store/`: translate the request into
//! core calls (auth, rate limit, size policy, decoding, parsing, normalising) and store the result.

use backstop_core::auth::{authenticate_ingest, parse_sentry_auth};
use backstop_core::config::Config;
use backstop_core::envelope::parse_envelope;
use backstop_core::error::IngestError;
use backstop_core::event::{normalize_event, normalize_event_id};
use backstop_core::rate_limit::RateDecision;
use backstop_core::size::{check_declared_length, decode_body, BodyCounter, ContentEncoding};
use backstop_core::stats::{Outcome, UNKNOWN_PROJECT};
use futures_util::StreamExt;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::{rate_limiter, store};

/// Which ingest endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Envelope body.
    Envelope,
    /// One event as JSON (legacy).
    Store,
}

/// Handles one ingest request and counts its outcome, whatever it is.
pub(crate) async fn handle_ingest(
    req: Request,
    env: &Env,
    config: &Config,
    project: &str,
    endpoint: Endpoint,
    now_ms: u64,
) -> Result<Response, AppError> {
    let result = ingest(req, env, config, project, endpoint, now_ms).await;
    let (counted_project, outcome) = match &result {
        Ok(_) => (project, Some(Outcome::Accepted)),
        Err(AppError::Ingest(e @ IngestError::UnknownProject(_))) => {
            (UNKNOWN_PROJECT, Some(e.outcome()))
        }
        Err(AppError::Ingest(e)) => (project, Some(e.outcome())),
        Err(_) => (project, None),
    };
    if let Some(outcome) = outcome {
        if let Err(e) = store::count_outcome(env, counted_project, outcome, now_ms).await {
            worker::console_error!("could not count outcome {}: {e}", outcome.as_str());
        }
    }
    result
}

async fn ingest(
    mut req: Request,
    env: &Env,
    config: &Config,
    project_id: &str,
    endpoint: Endpoint,
    now_ms: u64,
) -> Result<Response, AppError> {
    let url = req.url()?;
    let query_key = url
        .query_pairs()
        .find(|(k, _)| k == "sentry_key")
        .map(|(_, v)| v.into_owned());
    let header_key = req
        .headers()
        .get("X-Sentry-Auth")?
        .and_then(|h| parse_sentry_auth(&h).key);
    let keys = [query_key.as_deref(), header_key.as_deref()];
    let project = authenticate_ingest(config, project_id, &keys)?;
    let key = keys.iter().flatten().next().copied().unwrap_or_default();

    if let RateDecision::Limited { retry_after_secs } =
        rate_limiter::check(env, project_id, key, &project.rate_limit).await?
    {
        return Err(IngestError::RateLimited { retry_after_secs }.into());
    }

    let limits = &config.limits;
    let (body_limit, decoded_limit) = match endpoint {
        Endpoint::Envelope => (limits.max_envelope_bytes, limits.max_decompressed_bytes),
        Endpoint::Store => (
            limits.max_event_bytes,
            limits.max_decompressed_bytes.min(limits.max_event_bytes),
        ),
    };
    let encoding = ContentEncoding::parse(req.headers().get("Content-Encoding")?.as_deref())?;
    let body = read_body(&mut req, body_limit).await?;
    let body = decode_body(encoding, body, decoded_limit)?;

    // Event payloads with the id to use when the payload has none (the envelope header's).
    let (event_payloads, header_id): (Vec<&[u8]>, Option<String>) = match endpoint {
        Endpoint::Store => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(IngestError::EmptyBody.into());
            }
            (vec![body.as_slice()], None)
        }
        Endpoint::Envelope => {
            let envelope = parse_envelope(&body, limits)?;
            let header_id = envelope.event_id().and_then(normalize_event_id);
            (
                envelope
                    .items
                    .iter()
                    .filter(|i| i.ty == "event")
                    .map(|i| i.payload)
                    .collect(),
                header_id,
            )
        }
    };
    // Normalise everything before storing anything, so one bad event refuses the whole request.
    let mut events = Vec::with_capacity(event_payloads.len());
    for payload in event_payloads {
        let fallback_id = header_id.clone().unwrap_or_else(random_event_id);
        events.push(normalize_event(
            payload,
            &fallback_id,
            now_ms,
            limits.max_json_depth,
        )?);
    }
    let mut ids = Vec::with_capacity(events.len());
    for ev in &events {
        store::insert_event(
            env,
            project_id,
            &ev.summary,
            &ev.payload,
            now_ms,
            limits.max_inline_payload_bytes,
        )
        .await?;
        ids.push(ev.summary.event_id.clone());
    }
    Ok(with_cors(json_response(
        &json!({ "id": ids.first() }),
        200,
    )?)?)
}

/// Reads the body, refusing it on `Content-Length` before reading and, without a length, as
/// soon as the streamed bytes pass the limit.
async fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, AppError> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    check_declared_length(declared, limit)?;
    let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut body = Vec::with_capacity(capacity);
    let Ok(mut stream) = req.stream() else {
        return Ok(body);
    };
    let mut counter = BodyCounter::new(limit);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        counter.add(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A random event id for events that come without one (ids need no cryptographic strength).
fn random_event_id() -> String {
    (0..4)
        .map(|_| {
            format!(
                "{:08x}",
                (js_sys::Math::random() * f64::from(u32::MAX)) as u32
            )
        })
        .collect()
}
