//! Ingest: `POST /api/{project}/envelope/`, `POST /api/{project}/store/` and the tunnel. Drives
//! core's [`Admission`] (it decides; this reads the body chunks and asks the limiter when told),
//! then turns the plan into a job for the queue.

use backstop_server_core::admission::{
    Admission, Endpoint, Framed, RequestHead, Step, TokenRequest,
};
use backstop_server_core::config::{Config, ProjectConfig};
use backstop_server_core::error::IngestError;
use backstop_server_core::ingest::IngestPlan;
use backstop_server_core::pipeline::{
    count_processed, plan_counts, process_event, Job, JobAttachment, JobEvent, Processed,
    RequestFacts, JOB_VERSION,
};
use backstop_server_core::rate_limit::RateDecision;
use backstop_server_core::size::{check_complete, BodyCounter};
use backstop_server_core::stats::UNKNOWN_PROJECT;
use futures_util::StreamExt;
use serde_json::json;
use worker::{ByteStream, Context, Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::{pipeline, rate_limiter, store};

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
    let headers = req.headers();
    let (auth, length, encoding) = (
        headers.get("X-Sentry-Auth")?,
        headers.get("Content-Length")?,
        headers.get("Content-Encoding")?,
    );
    let client_ip = headers.get("CF-Connecting-IP")?;
    let user_agent = headers.get("User-Agent")?;
    let head = RequestHead {
        url_project: project_id.as_deref(),
        query_key: query_key.as_deref(),
        auth_header: auth.as_deref(),
        content_length: length.as_deref(),
        content_encoding: encoding.as_deref(),
    };
    let mut admission = Admission::start(config, endpoint, head)?;
    let mut body = BodyReader::new(req, admission.declared_length(), admission.body_limit());
    let mut complete = false;
    let stepped = loop {
        let step = admission.next(body.received(), complete);
        *project_id = admission.project().map(str::to_string);
        match step? {
            Step::Read => complete = !body.pull().await?,
            Step::Token(t) => admission.granted(limiter(env, &t).await?)?,
            Step::ReadAll => break body.finish().await?,
        }
    };
    let body = admission.decode(stepped)?;
    let mut new_id = random_event_id;
    let framed = admission.frame(&body, now_ms, &mut new_id);
    *project_id = admission.project().map(str::to_string);
    let mut framed = framed?;
    if let Some(t) = framed.token().cloned() {
        framed.granted(limiter(env, &t).await?)?;
    }
    let retry_after = framed.preemptive_retry_after();
    let Framed {
        project,
        project_config,
        plan,
        ..
    } = framed;
    let response_id = plan.response_id().map(str::to_string);
    let facts = RequestFacts {
        client_ip: client_ip.as_deref(),
        user_agent: user_agent.as_deref(),
    };
    let origin = url.origin().ascii_serialization();
    let job = build_job(env, &project, project_config, plan, facts, &origin, now_ms).await?;
    pipeline::enqueue_coalesced(env, ctx, job).await?;
    let (env2, project2) = (env.clone(), project.clone());
    ctx.wait_until(async move { pipeline::count_queued(&env2, &project2, now_ms).await });

    let resp = json_response(&json!({ "id": response_id }), 200)?;
    if let Some(secs) = retry_after {
        resp.headers()
            .set("X-Sentry-Rate-Limits", &format!("{secs}::key"))?;
    }
    Ok(with_cors(resp)?)
}

/// Asks the key's limiter what admission asked.
async fn limiter(env: &Env, t: &TokenRequest) -> Result<RateDecision, AppError> {
    rate_limiter::check(env, &t.project, &t.key, &t.limiter).await
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

/// Bodies that declare at most this many bytes (and no more than the limit) are read in one
/// `arrayBuffer()` call instead of chunk by chunk: each chunk of a stream costs a round of
/// promises between wasm and JS, which under load cost ingest more than its own parsing. The
/// declared length bounds what that call buffers (the runtime frames the body by its
/// `Content-Length`), and it is small enough that reading all of it before a key in the
/// envelope header is judged costs nothing worth refusing early. Larger or undeclared bodies
/// stream, so a refusal still comes as soon as the bytes pass the limit.
const WHOLE_READ_MAX_BYTES: u64 = 64 * 1024;

/// Where the rest of a body comes from.
enum BodySource {
    /// Chunk by chunk.
    Stream(ByteStream),
    /// In one call, not yet made.
    Whole(worker::web_sys::Request),
    /// Nothing more (the body ended, or there was none).
    Done,
}

/// Reads a request body, refusing it as soon as the bytes read pass the limit. A stream that
/// breaks off, or ends before its `Content-Length`, is the client's
/// [`IngestError::IncompleteBody`], never a storage error.
struct BodyReader {
    source: BodySource,
    declared: Option<u64>,
    counter: BodyCounter,
    bytes: Vec<u8>,
}

impl BodyReader {
    fn new(req: &mut Request, declared: Option<u64>, limit: u64) -> Self {
        let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
        let whole = declared.is_some_and(|n| n <= WHOLE_READ_MAX_BYTES && n <= limit);
        let source = if req.inner().body().is_none() {
            BodySource::Done
        } else if whole {
            // The handle, not the JS `Request.clone()` (that would tee the body).
            BodySource::Whole(Clone::clone(req.inner()))
        } else {
            match req.stream() {
                Ok(stream) => BodySource::Stream(stream),
                Err(_) => BodySource::Done,
            }
        };
        Self {
            source,
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
        match std::mem::replace(&mut self.source, BodySource::Done) {
            BodySource::Whole(req) => self.pull_whole(&req).await,
            other => {
                self.source = other;
                self.pull_chunk().await
            }
        }
    }

    /// Reads the whole body in one call.
    async fn pull_whole(&mut self, req: &worker::web_sys::Request) -> Result<bool, IngestError> {
        let incomplete = IngestError::incomplete(self.declared, self.counter.seen());
        let Ok(promise) = req.array_buffer() else {
            return Err(incomplete);
        };
        let Ok(buffer) = wasm_bindgen_futures::JsFuture::from(promise).await else {
            return Err(incomplete);
        };
        let chunk = js_sys::Uint8Array::new(&buffer).to_vec();
        self.counter.add(chunk.len())?;
        self.bytes.extend_from_slice(&chunk);
        Ok(!chunk.is_empty())
    }

    /// Reads the stream's next chunk.
    async fn pull_chunk(&mut self) -> Result<bool, IngestError> {
        let BodySource::Stream(stream) = &mut self.source else {
            return Ok(false);
        };
        match stream.next().await {
            None => {
                self.source = BodySource::Done;
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
