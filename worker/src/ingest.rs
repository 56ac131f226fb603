//! Ingest: `POST /api/{project}/envelope/`, `POST /api/{project}/store/` and the tunnel. Translates
//! the request into core calls (auth, rate limit, size policy, decoding, parsing, planning) and
//! stores the plan.

use backstop_core::auth::{authenticate_ingest, dsn_key, parse_sentry_auth};
use backstop_core::config::{Config, ProjectConfig};
use backstop_core::envelope::{parse_envelope, probe_envelope_header};
use backstop_core::error::IngestError;
use backstop_core::ingest::{plan_envelope, plan_store, IngestPlan};
use backstop_core::rate_limit::RateDecision;
use backstop_core::size::{
    check_complete, check_declared_length, decode_body, BodyCounter, ContentEncoding,
};
use backstop_core::stats::{Outcome, UNKNOWN_PROJECT};
use backstop_protocol::Dsn;
use futures_util::StreamExt;
use serde_json::{json, Value};
use worker::{ByteStream, Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::{rate_limiter, store};

/// Which ingest endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Envelope body at `/api/{project}/envelope/`.
    Envelope,
    /// One event as JSON at `/api/{project}/store/` (legacy).
    Store,
    /// Envelope at the tunnel path: the project and key come from the envelope's `dsn`.
    Tunnel,
}

/// Handles one ingest request and counts its outcome, whatever it is. `project` is the URL's
/// (none for the tunnel).
pub(crate) async fn handle_ingest(
    mut req: Request,
    env: &Env,
    config: &Config,
    project: Option<&str>,
    endpoint: Endpoint,
    now_ms: u64,
) -> Result<Response, AppError> {
    let mut counted = project.map(str::to_string);
    let result = ingest(&mut req, env, config, &mut counted, endpoint, now_ms).await;
    if result.is_err() {
        // A request refused before (or while) its body is read: tell the runtime nobody will
        // read the rest, rather than leave a client that keeps sending waiting for an answer.
        if let Some(body) = req.inner().body().filter(|b| !b.locked()) {
            let _ = body.cancel();
        }
    }
    let counted = counted.filter(|p| config.project(p).is_some());
    let counted = counted.as_deref().unwrap_or(UNKNOWN_PROJECT);
    let outcome = match &result {
        Ok(_) => Some(Outcome::Accepted),
        Err(AppError::Ingest(e)) => Some(e.outcome()),
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        if let Err(e) = store::count_outcome(env, counted, outcome, now_ms).await {
            worker::console_error!("could not count outcome {}: {e}", outcome.as_str());
        }
    }
    result
}

async fn ingest(
    req: &mut Request,
    env: &Env,
    config: &Config,
    project_id: &mut Option<String>,
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
    let limits = &config.limits;
    let (body_limit, decoded_limit) = match endpoint {
        Endpoint::Envelope | Endpoint::Tunnel => {
            (limits.max_envelope_bytes, limits.max_decompressed_bytes)
        }
        Endpoint::Store => (
            limits.max_event_bytes,
            limits.max_decompressed_bytes.min(limits.max_event_bytes),
        ),
    };
    let encoding = ContentEncoding::parse(req.headers().get("Content-Encoding")?.as_deref())?;
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Sizes are checked before anything is read.
    check_declared_length(declared, body_limit)?;
    let mut body = BodyReader::new(req, declared, body_limit);

    // A key in the URL or a header is checked (and rate limited) before the body is read; a
    // key only in the envelope header's DSN (the tunnel, some SDKs) as soon as the header line
    // has arrived, before the rest is read, decompressed or parsed.
    let mut admitted: Option<RateDecision> = None;
    let url_keys = [query_key.as_deref(), header_key.as_deref()];
    if let Some(project) = project_id.as_deref() {
        if url_keys.iter().any(Option::is_some) {
            let p = authenticate_ingest(config, project, &url_keys)?;
            admitted =
                Some(take_token(env, project, url_keys.iter().flatten().next().copied(), p).await?);
        } else if config.project(project).is_none() {
            return Err(IngestError::UnknownProject(project.chars().take(64).collect()).into());
        } else if endpoint == Endpoint::Store {
            return Err(IngestError::MissingAuth.into());
        }
    }
    if admitted.is_none() {
        let header = loop {
            if let Some(header) = probe_envelope_header(encoding, body.received(), limits)? {
                break Some(header);
            }
            if !body.pull().await? {
                // The whole body is in without a newline: the full parse below judges it.
                break None;
            }
        };
        if let Some(header) = header {
            let dsn = header
                .get("dsn")
                .and_then(Value::as_str)
                .ok_or(IngestError::MissingAuth)?;
            if endpoint == Endpoint::Tunnel {
                *project_id = Some(tunnel_project(dsn)?);
            }
            let project = project_id.clone().unwrap_or_default();
            let key = dsn_key(Some(dsn), &project)?;
            let p = authenticate_ingest(config, &project, &[key.as_deref()])?;
            admitted = Some(take_token(env, &project, key.as_deref(), p).await?);
        }
    }

    let body = body.finish().await?;
    let body = decode_body(encoding, body, decoded_limit)?;
    let mut new_id = random_event_id;

    let envelope = match endpoint {
        Endpoint::Store => None,
        Endpoint::Envelope | Endpoint::Tunnel => Some(parse_envelope(&body, limits)?),
    };
    let envelope_dsn = envelope.as_ref().and_then(|e| e.dsn());
    if endpoint == Endpoint::Tunnel {
        // The tunnel only forwards to this worker's own ingest, for a project configured here.
        let dsn = envelope_dsn.ok_or(IngestError::MissingAuth)?;
        *project_id = Some(tunnel_project(dsn)?);
    }
    let project = project_id.clone().unwrap_or_default();
    let dsn_key = dsn_key(envelope_dsn, &project)?;
    let keys = [
        query_key.as_deref(),
        header_key.as_deref(),
        dsn_key.as_deref(),
    ];
    let project_config = authenticate_ingest(config, &project, &keys)?;
    let decision = match admitted {
        Some(decision) => decision,
        None => {
            take_token(
                env,
                &project,
                keys.iter().flatten().next().copied(),
                project_config,
            )
            .await?
        }
    };

    let plan = match &envelope {
        Some(envelope) => plan_envelope(envelope, config, now_ms, &mut new_id)?,
        None => plan_store(&body, config, now_ms, &mut new_id)?,
    };
    let triggered = store_plan(env, &project, &plan, config, now_ms).await?;
    let origin = url.origin().ascii_serialization();
    crate::alerts::dispatch(env, &origin, triggered, now_ms).await;
    crate::watchdog::record_signals(
        env,
        &project,
        crate::watchdog::signals(&plan),
        &origin,
        now_ms,
    )
    .await;

    let resp = json_response(&json!({ "id": plan.response_id() }), 200)?;
    if let Some(secs) = decision.preemptive_retry_after(&project_config.rate_limit) {
        resp.headers()
            .set("X-Sentry-Rate-Limits", &format!("{secs}::key"))?;
    }
    Ok(with_cors(resp)?)
}

/// The project a tunnelled envelope is for, from its header's DSN.
fn tunnel_project(dsn: &str) -> Result<String, IngestError> {
    Dsn::parse(dsn)
        .map(|d| d.project_id)
        .map_err(|e| IngestError::InvalidEnvelope(format!("envelope header dsn: {e}")))
}

async fn take_token(
    env: &Env,
    project: &str,
    key: Option<&str>,
    p: &ProjectConfig,
) -> Result<RateDecision, AppError> {
    let decision =
        rate_limiter::check(env, project, key.unwrap_or_default(), &p.rate_limit).await?;
    match decision {
        RateDecision::Limited { retry_after_secs } => {
            Err(IngestError::RateLimited { retry_after_secs }.into())
        }
        allowed => Ok(allowed),
    }
}

async fn store_plan(
    env: &Env,
    project: &str,
    plan: &IngestPlan<'_>,
    config: &Config,
    now_ms: u64,
) -> Result<Vec<crate::triage::Triggered>, AppError> {
    let inline_limit = config.limits.max_inline_payload_bytes;
    let mut triggered = Vec::new();
    for ev in &plan.events {
        let (summary, payload) =
            crate::sourcemaps::prepare_for_storage(env, project, ev, now_ms).await;
        triggered.extend(
            store::insert_event(env, project, &summary, &payload, now_ms, inline_limit).await?,
        );
    }
    let batch = random_event_id();
    for (i, a) in plan.attachments.iter().enumerate() {
        store::insert_attachment(env, project, a, &format!("{now_ms}-{batch}-{i}"), now_ms).await?;
    }
    store::count_items(env, project, plan, now_ms).await?;
    Ok(triggered)
}

/// Reads a request body chunk by chunk, refusing it as soon as the streamed bytes pass the
/// limit. A stream that breaks off, or ends before its `Content-Length`, is the client's
/// [`IngestError::IncompleteBody`], never a storage error.
struct BodyReader {
    stream: Option<ByteStream>,
    declared: Option<u64>,
    counter: BodyCounter,
    bytes: Vec<u8>,
}

impl BodyReader {
    fn new(req: &mut Request, declared: Option<u64>, limit: u64) -> Self {
        let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
        Self {
            // No stream means no body.
            stream: req.stream().ok(),
            declared,
            counter: BodyCounter::new(limit),
            bytes: Vec::with_capacity(capacity),
        }
    }

    /// What has arrived so far.
    fn received(&self) -> &[u8] {
        &self.bytes
    }

    /// Reads the next chunk; `false` at the end of the body.
    async fn pull(&mut self) -> Result<bool, IngestError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(false);
        };
        match stream.next().await {
            None => {
                self.stream = None;
                Ok(false)
            }
            Some(Err(_)) => Err(IngestError::incomplete(self.declared, self.counter.seen())),
            Some(Ok(chunk)) => {
                self.counter.add(chunk.len())?;
                self.bytes.extend_from_slice(&chunk);
                Ok(true)
            }
        }
    }

    /// Reads the rest and returns the whole body.
    async fn finish(mut self) -> Result<Vec<u8>, IngestError> {
        while self.pull().await? {}
        check_complete(self.declared, self.counter.seen())?;
        Ok(self.bytes)
    }
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
