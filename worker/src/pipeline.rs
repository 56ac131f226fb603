//! The ingest queue (rules in [`backstop_server_core::pipeline`]). The edge sends each accepted
//! request as one job and answers only once the queue took it ([`enqueue`]); the consumer
//! ([`consume`]) stores jobs, retries a failing one with a doubling delay by queueing it again
//! (ack only after the copy is queued, so nothing is ever dropped), and after its last attempt
//! hands it to the dead-letter queue with the reason, whose consumer keeps it in D1 for the
//! dashboard's "reprocess".

use std::cell::{Cell, RefCell};

use backstop_server_core::config::Config;
use backstop_server_core::event::EventSummary;
use backstop_server_core::fault::FaultKind;
use backstop_server_core::outbox::{self, Check, Outbox};
use backstop_server_core::pipeline::{
    error_reason, next_attempt, pack_job, read_job, summarize, Job, NextAttempt, MAX_ATTEMPTS,
};
use backstop_server_core::stats::{
    minute_bucket, Outcome, Tally, MAX_STORED_INT, PIPELINE_QUEUED, TALLY_WRITE_INTERVAL_MS,
};
use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::js_sys::{Array, Function, Object, Promise, Reflect};
use worker::{event, Context, D1PreparedStatement, Env, MessageBatch, MessageExt, RawMessage};

use crate::error::{AppError, StorageError};
use crate::sourcemaps::MapLookups;
use crate::store::{bucket, db, n, rows, s};
use crate::{config, fault};

/// Producer binding of the ingest queue.
pub(crate) const QUEUE: &str = "INGEST_QUEUE";
/// Producer binding of the dead-letter queue.
pub(crate) const DEAD_LETTERS: &str = "DEAD_LETTERS";
/// Name of the dead-letter queue (`wrangler.toml`): its batches are kept, not processed.
pub(crate) const DEAD_LETTER_QUEUE_NAME: &str = "backstop-ingest-dlq";
/// Seconds before the first retry of a failed job, doubling per attempt (`BACKSTOP_QUEUE_RETRY_SECS`).
const DEFAULT_RETRY_SECS: u32 = 2;
/// Dead letters reprocessed per call (each is one queue send).
const REPROCESS_BATCH: u64 = 100;

thread_local! {
    /// Set while the consumer must see D1 fail (the `consumer` fault window), read by
    /// [`crate::store::db`].
    static FORCE_D1_FAILURE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the consumer's fault window wants D1 to fail for the message being stored.
pub(crate) fn d1_forced_to_fail() -> bool {
    FORCE_D1_FAILURE.with(Cell::get)
}

fn queue(env: &Env, binding: &str) -> Result<JsValue, StorageError> {
    let q: JsValue = env
        .get_binding::<worker::Queue>(binding)
        .map(Into::into)
        .map_err(|e| StorageError(format!("queue binding {binding}: {e}")))?;
    Ok(q)
}

/// Sends `text` to the queue bound as `binding`, `delay_secs` later. Called through the
/// binding's own `send` (not the typed wrapper) so that, while the `queue` fault window is
/// active, the real binding is given a content type it refuses and the error comes back from
/// the queue itself.
async fn send(env: &Env, binding: &str, text: &str, delay_secs: u32) -> Result<(), StorageError> {
    let q = queue(env, binding)?;
    let options = Object::new();
    let js = |e: JsValue| StorageError(format!("queue send: {}", js_text(&e)));
    Reflect::set(&options, &"contentType".into(), &content_type(env, binding)).map_err(js)?;
    if delay_secs > 0 {
        Reflect::set(
            &options,
            &"delaySeconds".into(),
            &JsValue::from_f64(f64::from(delay_secs)),
        )
        .map_err(js)?;
    }
    call_queue(&q, "send", &JsValue::from_str(text), &options).await
}

/// The content type of a message for `binding`: while the `queue` fault window is active, one
/// the real binding refuses, so the error comes back from the queue itself.
fn content_type(env: &Env, binding: &str) -> JsValue {
    if binding == QUEUE && fault::is_active(env, FaultKind::Queue) {
        JsValue::from_str("backstop-fault-injected")
    } else {
        JsValue::from_str("text")
    }
}

/// Calls the queue binding's `method` (`send` or `sendBatch`) and waits until the queue took it.
async fn call_queue(
    q: &JsValue,
    method: &str,
    first: &JsValue,
    second: &JsValue,
) -> Result<(), StorageError> {
    let f: Function = Reflect::get(q, &method.into())
        .map_err(|e| StorageError(format!("queue {method}: {}", js_text(&e))))?
        .dyn_into()
        .map_err(|_| StorageError(format!("queue binding has no {method}")))?;
    let promise = f
        .call2(q, first, second)
        .map_err(|e| StorageError(format!("queue {method}: {}", js_text(&e))))?;
    let promise: Promise = promise
        .dyn_into()
        .map_err(|_| StorageError(format!("queue {method} did not return a promise")))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| StorageError(format!("queue send failed: {}", js_text(&e))))?;
    Ok(())
}

/// Sends `texts` to the ingest queue in one `sendBatch` (the batch is within
/// [`outbox::MAX_BATCH_MESSAGES`] and [`outbox::MAX_BATCH_BYTES`]).
async fn send_batch(env: &Env, texts: &[&str]) -> Result<(), StorageError> {
    let q = queue(env, QUEUE)?;
    let content_type = content_type(env, QUEUE);
    let js = |e: JsValue| StorageError(format!("queue sendBatch: {}", js_text(&e)));
    let messages = Array::new();
    for text in texts {
        let m = Object::new();
        Reflect::set(&m, &"body".into(), &JsValue::from_str(text)).map_err(js)?;
        Reflect::set(&m, &"contentType".into(), &content_type).map_err(js)?;
        messages.push(&m);
    }
    call_queue(&q, "sendBatch", &messages, &JsValue::UNDEFINED).await
}

fn js_text(v: &JsValue) -> String {
    v.as_string()
        .or_else(|| {
            Reflect::get(v, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{v:?}"))
}

/// A job's message, once the events too large for one message are in R2.
async fn pack(env: &Env, job: Job) -> Result<String, AppError> {
    let (text, blobs) = pack_job(job)?;
    for b in blobs {
        bucket(env)?.put(&b.key, b.bytes).execute().await?;
    }
    Ok(text)
}

/// Queues a job: the events too large for one message go to R2 first, then the message.
pub(crate) async fn enqueue(env: &Env, job: Job, delay_secs: u32) -> Result<(), AppError> {
    let text = pack(env, job).await?;
    send(env, QUEUE, &text, delay_secs).await?;
    Ok(())
}

/// A request's message in the isolate's [`OUTBOX`], with the functions that settle the
/// promise its request waits on. That promise is the request's own (made in its context), so
/// the request goes on in its own context whichever request's task sent the batch.
struct Waiting {
    text: String,
    resolve: Function,
    reject: Function,
}

thread_local! {
    /// Messages of this isolate's requests waiting for the next `sendBatch` (rules in
    /// [`backstop_server_core::outbox`]).
    static OUTBOX: RefCell<Outbox<Waiting>> = RefCell::new(Outbox::default());
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// Queues an accepted request's job and returns once the queue took it: the events too large
/// for one message go to R2 first, then the message waits in the isolate's outbox and leaves in
/// the next `sendBatch` with the other requests' messages that arrived meanwhile (one queue
/// round trip per batch instead of per request). The batch is sent from a `waitUntil` task,
/// so a client that hangs up cannot cancel the send other requests wait on.
pub(crate) async fn enqueue_coalesced(env: &Env, ctx: &Context, job: Job) -> Result<(), AppError> {
    let text = pack(env, job).await?;
    let mut settle = None;
    let sent = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let Some((resolve, reject)) = settle else {
        return Err(StorageError("the queue's wait could not be set up".into()).into());
    };
    let pushed = now_ms();
    let size = text.len();
    let (ticket, start) = OUTBOX.with_borrow_mut(|o| {
        o.push(
            size,
            Waiting {
                text,
                resolve,
                reject,
            },
            pushed,
        )
    });
    if start {
        ctx.wait_until(flush(env.clone()));
    }
    let mut sent = JsFuture::from(sent);
    loop {
        let tick = worker::Delay::from(std::time::Duration::from_millis(outbox::WAIT_CHECK_MS));
        futures_util::pin_mut!(tick);
        match select(&mut sent, tick).await {
            Either::Left((Ok(_), _)) => return Ok(()),
            Either::Left((Err(e), _)) => {
                return Err(StorageError(format!("queue send failed: {}", js_text(&e))).into())
            }
            Either::Right(((), _)) => {
                match OUTBOX.with_borrow_mut(|o| o.check(ticket, pushed, now_ms())) {
                    Check::Wait => {}
                    Check::Flush => ctx.wait_until(flush(env.clone())),
                    Check::GiveUp => {
                        return Err(StorageError(format!(
                            "the queue did not take the job within {} s",
                            outbox::GIVE_UP_MS / 1000
                        ))
                        .into())
                    }
                }
            }
        }
    }
}

/// Sends the outbox's batches until it is empty or the flush's lease ran out, settling each
/// request's wait with its batch's outcome.
async fn flush(env: Env) {
    loop {
        let batch = OUTBOX.with_borrow_mut(Outbox::take_batch);
        if batch.is_empty() {
            return;
        }
        let texts: Vec<&str> = batch.iter().map(|(_, w)| w.text.as_str()).collect();
        let result = send_batch(&env, &texts).await;
        for (_, w) in &batch {
            let settled = match &result {
                Ok(()) => w.resolve.call0(&JsValue::UNDEFINED),
                Err(e) => w
                    .reject
                    .call1(&JsValue::UNDEFINED, &JsValue::from_str(&e.0)),
            };
            if let Err(e) = settled {
                worker::console_error!("could not settle a queued request: {}", js_text(&e));
            }
        }
        if !OUTBOX.with_borrow_mut(|o| o.after_batch(now_ms())) {
            return;
        }
    }
}

thread_local! {
    /// The isolate's queued-job counts not yet written (see [`Tally`]).
    static QUEUED: RefCell<Tally> = RefCell::new(Tally::default());
}

/// Counts a queued job for the backlog figure (after the answer: it is not part of the
/// request's latency, and a lost count only makes the backlog read low). Counts are coalesced
/// per isolate: one request's `waitUntil` writes, the others add to its next turn, taken
/// [`TALLY_WRITE_INTERVAL_MS`] later, so a busy isolate writes about once a second instead of
/// once per request.
pub(crate) async fn count_queued(env: &Env, project: &str, now_ms: u64) {
    if !QUEUED.with_borrow_mut(|t| t.add(project, PIPELINE_QUEUED, now_ms, 1)) {
        return;
    }
    loop {
        let rows = QUEUED.with_borrow_mut(Tally::take);
        if rows.is_empty() {
            return;
        }
        let written = async {
            let db = db(env)?;
            let statements = rows
                .iter()
                .map(|(scope, row)| {
                    db.prepare(format!(
                        "INSERT INTO stats (project, minute, reason, count) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (project, minute, reason) DO UPDATE SET count = MIN(count + ?4, {MAX_STORED_INT})"
                    ))
                    .bind(&[s(scope), n(row.minute), s(&row.reason), n(row.count)])
                })
                .collect::<Result<Vec<_>, _>>()?;
            db.batch(statements).await?;
            Ok::<_, StorageError>(())
        };
        if let Err(e) = written.await {
            worker::console_error!(
                "could not count queued jobs ({} counters): {}",
                rows.len(),
                e.0
            );
        }
        // Counts added meanwhile are taken by the next turn, one interval later.
        worker::Delay::from(std::time::Duration::from_millis(TALLY_WRITE_INTERVAL_MS)).await;
    }
}

fn retry_secs(env: &Env) -> u32 {
    env.var("BACKSTOP_QUEUE_RETRY_SECS")
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(DEFAULT_RETRY_SECS)
}

fn random_nonce() -> String {
    (0..4)
        .map(|_| {
            format!(
                "{:08x}",
                (worker::js_sys::Math::random() * f64::from(u32::MAX)) as u32
            )
        })
        .collect()
}

/// Jobs stored per set of D1 transactions: a consumer batch (`max_batch_size` in
/// `wrangler.toml`) is one set, so a batch costs a handful of D1 round trips, not a few per
/// event.
const JOBS_PER_WRITE: usize = 50;
/// Payload bytes stored per set of D1 transactions, so one set stays far inside what a D1
/// batch carries however large the events (a job's events count whole).
const BYTES_PER_WRITE: usize = 4 * 1024 * 1024;

/// The queue consumer: ingest jobs are stored, dead letters are kept.
///
/// The jobs of a batch are stored together ([`store_jobs`]): D1 writes are batched per
/// consumer batch. If that fails, each job is stored on its own, so one job that cannot be
/// stored (its R2 copy gone, a map store that does not read) is retried alone and the others
/// are acknowledged; storing is idempotent per event and per job, so what the failed
/// attempt wrote is never counted twice.
#[event(queue)]
async fn consume(batch: MessageBatch<Value>, env: Env, _ctx: Context) -> worker::Result<()> {
    let dead = batch.queue() == DEAD_LETTER_QUEUE_NAME;
    let config = match config::load(&env) {
        Ok(c) => c,
        Err(e) => {
            // Nothing can be judged without the configuration: every message waits for it.
            worker::console_error!("queue batch deferred, configuration invalid: {e:?}");
            batch.retry_all();
            return Ok(());
        }
    };
    let consumer_fault = fault::is_active(&env, FaultKind::Consumer);
    let mut lookups = MapLookups::default();
    let mut jobs = Vec::new();
    for message in batch.raw_iter() {
        let text = message_text(&message);
        if dead {
            keep_dead_letter(&env, &message, &text).await;
            continue;
        }
        match read_job(&text) {
            Ok(job) => jobs.push((message, job, text.len())),
            Err(e) => after_failure(&env, &message, Failure::Unreadable(e)).await,
        }
    }
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        while let Some((_, _, size)) = jobs.peek() {
            if !chunk.is_empty()
                && (chunk.len() >= JOBS_PER_WRITE || bytes + size > BYTES_PER_WRITE)
            {
                break;
            }
            bytes += size;
            if let Some((message, job, _)) = jobs.next() {
                chunk.push((message, job));
            }
        }
        store_chunk(&env, &config, chunk, consumer_fault, &mut lookups).await;
    }
    Ok(())
}

async fn store_chunk(
    env: &Env,
    config: &Config,
    chunk: Vec<(RawMessage, Job)>,
    consumer_fault: bool,
    lookups: &mut MapLookups,
) {
    let now = worker::Date::now().as_millis();
    if chunk.len() > 1 {
        let jobs: Vec<&Job> = chunk.iter().map(|(_, j)| j).collect();
        // The fault fails first attempts only, so the retries that follow must store them:
        // D1 fails once the batch's issues are created, before its events are written.
        let first_attempts = jobs.iter().any(|j| j.attempt == 0);
        MID_BATCH_FAULT.with(|f| f.set(consumer_fault && first_attempts));
        let result = store_jobs(env, config, &jobs, now, lookups).await;
        MID_BATCH_FAULT.with(|f| f.set(false));
        FORCE_D1_FAILURE.with(|f| f.set(false));
        match result {
            Ok(()) => {
                for (message, _) in &chunk {
                    message.ack();
                }
                return;
            }
            Err(e) => worker::console_error!(
                "a batch of {} jobs failed, storing them one by one: {}",
                chunk.len(),
                e.0
            ),
        }
    }
    for (i, (message, job)) in chunk.into_iter().enumerate() {
        // Every job after the first sees D1 fail on its first attempt.
        FORCE_D1_FAILURE.with(|f| f.set(consumer_fault && i > 0 && job.attempt == 0));
        let result = store_jobs(env, config, &[&job], now, lookups).await;
        FORCE_D1_FAILURE.with(|f| f.set(false));
        match result {
            Ok(()) => message.ack(),
            Err(e) => after_failure(env, &message, Failure::Failed(Box::new(job), e.0)).await,
        }
    }
}

thread_local! {
    /// Set while the consumer's fault window wants D1 to fail part-way through a batch
    /// (see [`mid_batch`]).
    static MID_BATCH_FAULT: Cell<bool> = const { Cell::new(false) };
}

/// The point part-way through storing a batch where the consumer's fault window makes D1
/// fail: the batch's issues are created, its events not yet written.
pub(crate) fn mid_batch() {
    if MID_BATCH_FAULT.with(Cell::get) {
        FORCE_D1_FAILURE.with(|f| f.set(true));
    }
}

fn message_text(message: &RawMessage) -> String {
    let body = message.body();
    body.as_string().unwrap_or_else(|| {
        worker::js_sys::JSON::stringify(&body)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    })
}

/// Why a message was not stored.
enum Failure {
    /// It is not a job this worker reads: kept as a dead letter at once.
    Unreadable(String),
    /// Storing it failed: retried.
    Failed(Box<Job>, String),
}

/// One job's events, ready to be recorded.
struct Ready {
    summary: EventSummary,
    payload: Value,
}

/// Stores jobs: their events (symbolicated, then indexed and counted against their issues in
/// [`crate::triage::record_events`]) with each job's counters, attachments and lag in the
/// same transaction, each job's guarded by its id; then alerts and signals.
async fn store_jobs(
    env: &Env,
    config: &Config,
    jobs: &[&Job],
    now: u64,
    lookups: &mut MapLookups,
) -> Result<(), StorageError> {
    let inline_limit = config.limits.max_inline_payload_bytes;
    let nonces: Vec<String> = jobs.iter().map(|_| random_nonce()).collect();
    let mut ready: Vec<Vec<Ready>> = Vec::with_capacity(jobs.len());
    let mut also = Vec::new();
    for (job, nonce) in jobs.iter().zip(&nonces) {
        let mut symbolication = std::collections::BTreeMap::<String, u64>::new();
        let mut events = Vec::with_capacity(job.events.len());
        for ev in &job.events {
            let mut payload = match (&ev.payload, &ev.r2_key) {
                (Some(p), _) => p.clone(),
                (None, Some(key)) => read_blob(env, key).await?,
                (None, None) => continue,
            };
            // Before grouping, so issues group by the original frames. A map store that cannot
            // be read fails the attempt (retried) rather than storing the event unmapped.
            let stats =
                crate::sourcemaps::symbolicate_event(env, &job.project, &mut payload, lookups)
                    .await
                    .map_err(|e| StorageError(format!("symbolication: {e}")))?;
            let in_app_unmapped = stats.in_app_frames.saturating_sub(stats.in_app_mapped);
            for (reason, n) in [
                (
                    backstop_server_core::stats::SOURCEMAP_MAPPED,
                    stats.in_app_mapped,
                ),
                (
                    backstop_server_core::stats::SOURCEMAP_UNMAPPED,
                    in_app_unmapped,
                ),
            ] {
                if n > 0 {
                    *symbolication.entry(reason.to_string()).or_default() += u64::from(n);
                }
            }
            let ev = summarize(payload, &ev.event_id, job.received_ms)
                .map_err(|e| StorageError(format!("queued event does not read: {e}")))?;
            events.push(Ready {
                summary: ev.summary,
                payload: ev.payload,
            });
        }
        also.extend(record_job(env, job, &symbolication, nonce, now)?);
        ready.push(events);
    }
    let mut rows = Vec::new();
    for ((job, nonce), events) in jobs.iter().zip(&nonces).zip(&ready) {
        for ev in events {
            let insert = crate::store::event_row(
                env,
                &job.project,
                &ev.summary,
                &ev.payload,
                job.received_ms,
                inline_limit,
                nonce,
            )
            .await?;
            rows.push(crate::triage::NewEvent {
                project: &job.project,
                summary: &ev.summary,
                payload: &ev.payload,
                received_ms: job.received_ms,
                insert,
                nonce,
            });
        }
    }
    let triggered = crate::triage::record_events(env, rows, also).await?;
    for key in jobs
        .iter()
        .flat_map(|j| j.events.iter())
        .filter_map(|e| e.r2_key.as_deref())
    {
        // The event's payload now lives with its row; the queue's copy is only a leftover.
        if let Err(e) = bucket(env)?.delete(key).await {
            worker::console_error!("could not delete queued blob {key}: {e}");
        }
    }
    // Alerts go out per origin (the dashboard links they carry: a project's origin is that of
    // its first job in the batch, the worker's public URL), signals per project and origin.
    let mut by_origin: Vec<(&str, Vec<crate::triage::Triggered>)> = Vec::new();
    for t in triggered {
        let origin = jobs
            .iter()
            .find(|j| j.project == t.project)
            .map_or("", |j| j.origin.as_str());
        match by_origin.iter_mut().find(|(o, _)| *o == origin) {
            Some((_, list)) => list.push(t),
            None => by_origin.push((origin, vec![t])),
        }
    }
    for (origin, list) in by_origin {
        crate::alerts::dispatch(env, origin, list, now).await;
    }
    let mut signals: Vec<(&str, &str, std::collections::BTreeMap<String, u64>)> = Vec::new();
    for job in jobs {
        let at = match signals
            .iter()
            .position(|(p, o, _)| *p == job.project && *o == job.origin)
        {
            Some(i) => i,
            None => {
                signals.push((&job.project, &job.origin, Default::default()));
                signals.len() - 1
            }
        };
        if let Some((_, _, by_env)) = signals.get_mut(at) {
            for (environment, count) in &job.signals {
                let n = by_env.entry(environment.clone()).or_default();
                *n = n.saturating_add(*count);
            }
        }
    }
    for (project, origin, by_env) in signals {
        crate::watchdog::record_signals(env, project, by_env, origin, now).await;
    }
    Ok(())
}

async fn read_blob(env: &Env, key: &str) -> Result<Value, StorageError> {
    let Some(obj) = bucket(env)?.get(key).execute().await? else {
        return Err(StorageError(format!(
            "queued event {key} is missing from R2"
        )));
    };
    let text = match obj.body() {
        Some(b) => b.text().await?,
        None => String::new(),
    };
    serde_json::from_str(&text).map_err(|e| StorageError(format!("queued event {key}: {e}")))
}

/// A job's counters, attachment rows, sessions and lag, added once: the first statement
/// claims the job id with this attempt's nonce, and every other statement runs only where
/// the claim is this attempt's. Written in the transaction of the job's events.
fn record_job(
    env: &Env,
    job: &Job,
    more: &std::collections::BTreeMap<String, u64>,
    nonce: &str,
    now: u64,
) -> Result<Vec<D1PreparedStatement>, StorageError> {
    let db = db(env)?;
    let p = s(&job.project);
    let minute = n(minute_bucket(job.received_ms));
    let guard = "EXISTS (SELECT 1 FROM ingest_jobs WHERE job_id = ?1 AND nonce = ?2)";
    let mut st: Vec<D1PreparedStatement> = vec![db
        .prepare(
            "INSERT INTO ingest_jobs (job_id, project, nonce, received_at, processed_at) VALUES (?1, ?3, ?2, ?4, ?5)
             ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(&[s(&job.job_id), s(nonce), p.clone(), n(job.received_ms), n(now)])?];
    let add = format!(
        "INSERT INTO stats (project, minute, reason, count) SELECT ?3, ?4, ?5, ?6 WHERE {guard}
         ON CONFLICT (project, minute, reason) DO UPDATE SET count = MIN(count + excluded.count, {MAX_STORED_INT})"
    );
    let lag = now.saturating_sub(job.received_ms);
    let fixed = [
        (Outcome::Accepted.as_str(), 1),
        (backstop_server_core::stats::PIPELINE_JOBS, 1),
        (backstop_server_core::stats::PIPELINE_LAG_MS, lag),
    ];
    let counts = fixed
        .iter()
        .map(|(k, v)| ((*k).to_string(), *v))
        .chain(job.counts.iter().map(|(k, v)| (k.clone(), *v)))
        .chain(more.iter().map(|(k, v)| (k.clone(), *v)));
    for (reason, count) in counts {
        st.push(db.prepare(&add).bind(&[
            s(&job.job_id),
            s(nonce),
            p.clone(),
            minute.clone(),
            s(&reason),
            n(count),
        ])?);
    }
    for a in &job.attachments {
        st.push(
            db.prepare(format!(
                "INSERT INTO attachments (project, event_id, seq, filename, content_type, size, r2_key, received_at)
                 SELECT ?3, ?4, COALESCE((SELECT MAX(seq) + 1 FROM attachments WHERE project = ?3 AND event_id = ?4), 0),
                        ?5, ?6, ?7, ?8, ?9 WHERE {guard}"
            ))
            .bind(&[
                s(&job.job_id),
                s(nonce),
                p.clone(),
                s(&a.event_id),
                s(&a.filename),
                s(&a.content_type),
                n(a.size),
                s(&a.r2_key),
                n(job.received_ms),
            ])?,
        );
    }
    for c in &job.sessions {
        st.push(
            db.prepare(format!(
                "INSERT INTO sessions (project, release, environment, minute, started, errored, crashed, abnormal)
                 SELECT ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE {guard}
                 ON CONFLICT (project, release, environment, minute) DO UPDATE SET
                    started = MIN(started + excluded.started, {MAX_STORED_INT}),
                    errored = MIN(errored + excluded.errored, {MAX_STORED_INT}),
                    crashed = MIN(crashed + excluded.crashed, {MAX_STORED_INT}),
                    abnormal = MIN(abnormal + excluded.abnormal, {MAX_STORED_INT})"
            ))
            .bind(&[
                s(&job.job_id),
                s(nonce),
                p.clone(),
                s(&c.release),
                s(&c.environment),
                minute.clone(),
                n(c.started),
                n(c.errored),
                n(c.crashed),
                n(c.abnormal),
            ])?,
        );
    }
    Ok(st)
}

/// A failed job is queued again with a longer delay, or after its last attempt sent to the
/// dead-letter queue with its reason. The message is acknowledged only once its next copy is
/// queued; if that fails too, the platform redelivers it.
async fn after_failure(env: &Env, message: &RawMessage, failure: Failure) {
    match failure {
        Failure::Unreadable(reason) => {
            let dead = serde_json::json!({
                "unreadable": message_text(message), "reason": reason, "id": message.id(),
            });
            match send(env, DEAD_LETTERS, &dead.to_string(), 0).await {
                Ok(()) => message.ack(),
                Err(e) => {
                    worker::console_error!("could not dead-letter an unreadable message: {}", e.0);
                    message.retry();
                }
            }
        }
        Failure::Failed(mut job, error) => {
            worker::console_error!(
                "job {} of project {} failed (attempt {}): {error}",
                job.job_id,
                job.project,
                job.attempt + 1
            );
            job.last_error = Some(error_reason(&error));
            let sent = match next_attempt(job.attempt, retry_secs(env)) {
                NextAttempt::Retry {
                    attempt,
                    delay_secs,
                } => {
                    job.attempt = attempt;
                    enqueue(env, *job, delay_secs)
                        .await
                        .map_err(|e| e.to_string())
                }
                NextAttempt::DeadLetter { attempts } => {
                    job.attempt = attempts;
                    match pack_job(*job) {
                        Ok((text, _)) => send(env, DEAD_LETTERS, &text, 0).await.map_err(|e| e.0),
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            match sent {
                Ok(()) => message.ack(),
                Err(e) => {
                    worker::console_error!("could not queue the job's next attempt: {e}");
                    message.retry();
                }
            }
        }
    }
}

/// Keeps a dead letter in D1. Jobs that reached the dead-letter queue through the platform
/// (the consumer itself crashed or timed out on them) carry no reason of ours: they say so.
async fn keep_dead_letter(env: &Env, message: &RawMessage, text: &str) {
    let now = worker::Date::now().as_millis();
    let (job_id, project, received, attempts, reason) = match read_job(text) {
        Ok(job) => {
            let reason = job.last_error.clone().unwrap_or_else(|| {
                "the consumer stopped on it (crashed or timed out) on every delivery".into()
            });
            (
                job.job_id,
                job.project,
                job.received_ms,
                job.attempt.max(1),
                reason,
            )
        }
        Err(e) => {
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let reason = v
                .get("reason")
                .and_then(Value::as_str)
                .map_or(e, str::to_string);
            (message.id(), String::new(), now, MAX_ATTEMPTS, reason)
        }
    };
    let r = async {
        db(env)?
            .prepare(
                "INSERT INTO dead_letters (job_id, project, received_at, dead_at, attempts, reason, job)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (job_id) DO UPDATE SET dead_at = excluded.dead_at, attempts = excluded.attempts,
                    reason = excluded.reason, job = excluded.job",
            )
            .bind(&[
                s(&job_id),
                s(&project),
                n(received),
                n(now),
                n(u64::from(attempts)),
                s(&reason),
                s(text),
            ])?
            .run()
            .await?;
        Ok::<(), StorageError>(())
    }
    .await;
    match r {
        Ok(()) => message.ack(),
        Err(e) => {
            // Retried by the platform (up to `max_retries` of the dead-letter consumer in
            // `wrangler.toml`): 100 tries 30 s apart outlast a D1 outage of 50 minutes.
            worker::console_error!("could not keep dead letter {job_id}: {}", e.0);
            let delay = retry_secs(env).saturating_mul(15).clamp(1, 60);
            message.retry_with_options(
                &worker::QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(delay)
                    .build(),
            );
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeadLetterRow {
    job_id: String,
    #[serde(deserialize_with = "crate::store::num")]
    received_at: u64,
    #[serde(deserialize_with = "crate::store::num")]
    dead_at: u64,
    #[serde(deserialize_with = "crate::store::num")]
    attempts: u64,
    reason: String,
}

/// The project's dead letters: how many, the oldest, and the newest 50 with their reasons.
pub(crate) async fn dead_letters(env: &Env, project: &str) -> Result<Value, StorageError> {
    let db = db(env)?;
    let summary = db
        .prepare(
            "SELECT COUNT(*) AS count, MIN(received_at) AS oldest FROM dead_letters WHERE project = ?1",
        )
        .bind(&[s(project)])?;
    let list = db
        .prepare(
            "SELECT job_id, received_at, dead_at, attempts, reason FROM dead_letters
             WHERE project = ?1 ORDER BY dead_at DESC LIMIT 50",
        )
        .bind(&[s(project)])?;
    let results = db.batch(vec![summary, list]).await?;
    let head: Vec<Value> = match results.first() {
        Some(r) => r.results()?,
        None => Vec::new(),
    };
    let head = head.into_iter().next().unwrap_or(Value::Null);
    let items: Vec<DeadLetterRow> = match results.get(1) {
        Some(r) => rows(r, "dead letter")?,
        None => Vec::new(),
    };
    Ok(serde_json::json!({
        "count": head.get("count").and_then(Value::as_u64).unwrap_or(0),
        "oldest": head.get("oldest").and_then(Value::as_u64),
        "items": items,
    }))
}

/// Queues the project's dead letters again (attempts start over) and removes the ones queued;
/// at most [`REPROCESS_BATCH`] per call, the answer says how many remain.
pub(crate) async fn reprocess(env: &Env, project: &str) -> Result<Value, AppError> {
    #[derive(Deserialize)]
    struct Row {
        job_id: String,
        job: String,
    }
    let r = db(env)?
        .prepare(
            "SELECT job_id, job FROM dead_letters WHERE project = ?1 ORDER BY received_at LIMIT ?2",
        )
        .bind(&[s(project), n(REPROCESS_BATCH)])?
        .all()
        .await
        .map_err(StorageError::from)?;
    let dead: Vec<Row> = rows(&r, "dead letter")?;
    let mut queued = 0u64;
    let mut failed = Vec::new();
    for row in dead {
        let mut job = match read_job(&row.job) {
            Ok(j) => j,
            Err(e) => {
                failed.push(serde_json::json!({"job_id": row.job_id, "reason": e}));
                continue;
            }
        };
        job.attempt = 0;
        job.last_error = None;
        // Queued first, deleted after: a failure in between leaves a dead letter that was
        // also queued, which stores once (jobs are idempotent) — never one that is gone.
        enqueue(env, job, 0).await?;
        db(env)?
            .prepare("DELETE FROM dead_letters WHERE job_id = ?1")
            .bind(&[s(&row.job_id)])?
            .run()
            .await
            .map_err(StorageError::from)?;
        queued += 1;
    }
    let left = dead_letters(env, project).await?;
    Ok(serde_json::json!({
        "queued": queued,
        "unreadable": failed,
        "remaining": left.get("count").cloned().unwrap_or(Value::from(0)),
    }))
}

/// Deletes what the idempotency of jobs no longer needs: a job's id is only ever redelivered
/// within the queue's retention (4 days at most), so ids older than 7 days go, in bounded
/// batches per cron run.
pub(crate) async fn prune_jobs(env: &Env, now: u64) {
    let cutoff = now.saturating_sub(7 * 24 * 3600 * 1000);
    let r = async {
        db(env)?
            .prepare(
                "DELETE FROM ingest_jobs WHERE rowid IN
                   (SELECT rowid FROM ingest_jobs WHERE processed_at < ?1 LIMIT 5000)",
            )
            .bind(&[n(cutoff)])?
            .run()
            .await?;
        Ok::<(), StorageError>(())
    }
    .await;
    if let Err(e) = r {
        worker::console_error!("could not prune processed job ids: {}", e.0);
    }
}
