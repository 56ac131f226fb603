//! Ingest: `POST /api/{project}/envelope/`, `POST /api/{project}/store/` and the tunnel. Translates
//! the request into core calls (auth, rate limit, size policy, decoding, parsing, planning) and
//! stores the plan.

use backstop_core::auth::{authenticate_ingest, dsn_key, parse_sentry_auth};
use backstop_core::config::{Config, ProjectConfig};
use backstop_core::envelope::{parse_envelope, probe_envelope_header};
use backstop_core::error::IngestError;
use backstop_core::ingest::{plan_envelope, plan_store, IngestPlan};
use backstop_core::pipeline::{
    count_processed, plan_counts, process_event, Job, JobAttachment, JobEvent, Processed,
    RequestFacts, JOB_VERSION,
};
use backstop_core::quota::LimiterRequest;
use backstop_core::rate_limit::RateDecision;
use backstop_core::size::{
    check_complete, check_declared_length, decode_body, BodyCounter, ContentEncoding,
};
use backstop_core::stats::UNKNOWN_PROJECT;
use backstop_protocol::Dsn;
use futures_util::StreamExt;
use serde_json::{json, Value};
use worker::{ByteStream, Context, Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::{pipeline, rate_limiter, store};

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
    ctx: &Context,
    config: &Config,
    project: Option<&str>,
    endpoint: Endpoint,
    now_ms: u64,
) -> Result<Response, AppError> {
    let mut counted = project.map(str::to_string);
    let result = ingest(&mut req, env, ctx, config, &mut counted, endpoint, now_ms).await;
    if result.is_err() {
        // A request refused before (or while) its body is read: tell the runtime nobody will
        // read the rest, rather than leave a client that keeps sending waiting for an answer.
        if let Some(body) = req.inner().body().filter(|b| !b.locked()) {
            let _ = body.cancel();
        }
    }
    let counted = counted.filter(|p| config.project(p).is_some());
    let counted = counted.as_deref().unwrap_or(UNKNOWN_PROJECT);
    // An accepted request is counted by the consumer that stores it (once, with its job), so
    // only refusals are counted here.
    let outcome = match &result {
        Ok(_) => None,
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
    ctx: &Context,
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
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    let user_agent = req.headers().get("User-Agent")?;
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
    // has arrived, before the rest is read, decompressed or parsed. A project with a quota is
    // authenticated as early, but its limiter is asked once its events are known (below).
    let mut admitted: Option<RateDecision> = None;
    let url_keys = [query_key.as_deref(), header_key.as_deref()];
    let mut url_authenticated = false;
    if let Some(project) = project_id.as_deref() {
        if url_keys.iter().any(Option::is_some) {
            let p = authenticate_ingest(config, project, &url_keys)?;
            url_authenticated = true;
            admitted = take_token_early(env, project, url_keys.iter().flatten().next().copied(), p)
                .await?;
        } else if config.project(project).is_none() {
            return Err(IngestError::UnknownProject(project.chars().take(64).collect()).into());
        } else if endpoint == Endpoint::Store {
            return Err(IngestError::MissingAuth.into());
        }
    }
    if !url_authenticated {
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
            admitted = take_token_early(env, &project, key.as_deref(), p).await?;
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
    let plan = match &envelope {
        Some(envelope) => plan_envelope(envelope, config, now_ms, &mut new_id)?,
        None => plan_store(&body, config, now_ms, &mut new_id)?,
    };
    let decision = match admitted {
        Some(decision) => decision,
        None => {
            let events = u64::from(!plan.events.is_empty());
            take_token(
                env,
                &project,
                keys.iter().flatten().next().copied(),
                project_config,
                events,
                config.ingest.store_transactions,
            )
            .await?
        }
    };
    let response_id = plan.response_id().map(str::to_string);
    let facts = RequestFacts {
        client_ip: client_ip.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    let origin = url.origin().ascii_serialization();
    let job = build_job(env, &project, project_config, plan, facts, &origin, now_ms).await?;
    pipeline::enqueue(env, job, 0).await?;
    let (env2, project2) = (env.clone(), project.clone());
    ctx.wait_until(async move { pipeline::count_queued(&env2, &project2, now_ms).await });

    let resp = json_response(&json!({ "id": response_id }), 200)?;
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

/// The limiter's answer before the body is read, or `None` for a project with a quota: the
/// quota counts requests that store an event, known only once the body is planned, and the
/// limiter is asked once per request, so such a project is asked then ([`take_token`]).
async fn take_token_early(
    env: &Env,
    project: &str,
    key: Option<&str>,
    p: &ProjectConfig,
) -> Result<Option<RateDecision>, AppError> {
    if p.quota.is_some() {
        return Ok(None);
    }
    Ok(Some(take_token(env, project, key, p, 0, false).await?))
}

/// One call to the key's limiter: a token of its rate limit and, for a project with a quota,
/// `events` (1 when the request stores an event, else 0; see `backstop_core::quota`) counted
/// against the UTC day's quota.
async fn take_token(
    env: &Env,
    project: &str,
    key: Option<&str>,
    p: &ProjectConfig,
    events: u64,
    store_transactions: bool,
) -> Result<RateDecision, AppError> {
    let req = LimiterRequest {
        rate_limit: p.rate_limit,
        quota: p.quota,
        events,
    };
    let decision = rate_limiter::check(env, project, key.unwrap_or_default(), &req).await?;
    match decision {
        RateDecision::Limited { retry_after_secs } => {
            Err(IngestError::RateLimited { retry_after_secs }.into())
        }
        RateDecision::QuotaExceeded {
            limit,
            retry_after_secs,
        } => Err(IngestError::QuotaExceeded {
            limit,
            retry_after_secs,
            categories: backstop_core::quota::categories(store_transactions),
        }
        .into()),
        allowed => Ok(allowed),
    }
}

/// Turns a plan into its job: each event through the edge's steps (filters, scrubbing,
/// user-agent context), attachments kept in R2 (the job only references them), counters.
async fn build_job(
    env: &Env,
    project: &str,
    project_config: &ProjectConfig,
    plan: IngestPlan<'_>,
    facts: RequestFacts<'_>,
    origin: &str,
    now_ms: u64,
) -> Result<Job, AppError> {
    let mut job = Job {
        v: JOB_VERSION,
        job_id: random_event_id(),
        project: project.to_string(),
        received_ms: now_ms,
        origin: origin.to_string(),
        attempt: 0,
        last_error: None,
        events: Vec::new(),
        attachments: Vec::new(),
        counts: Default::default(),
        sessions: Vec::new(),
        signals: Default::default(),
    };
    plan_counts(&plan, &mut job);
    let IngestPlan {
        events,
        attachments,
        ..
    } = plan;
    for ev in events {
        let processed = process_event(ev, project_config, facts, now_ms)?;
        count_processed(&mut job, &processed);
        if let Processed::Keep(ev, _) = processed {
            job.events.push(JobEvent {
                event_id: ev.summary.event_id.clone(),
                payload: Some(ev.payload),
                r2_key: None,
            });
        }
    }
    for (i, a) in attachments.iter().enumerate() {
        let key = format!(
            "attachments/{project}/{}/{now_ms}-{}-{i}",
            a.event_id, job.job_id
        );
        store::bucket(env)?
            .put(&key, a.payload.to_vec())
            .execute()
            .await
            .map_err(crate::error::StorageError::from)?;
        job.attachments.push(JobAttachment {
            event_id: a.event_id.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.payload.len() as u64,
            r2_key: key,
        });
    }
    Ok(job)
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
