//! The ingest pipeline's rules. The edge answers a request only once its work is safely on a
//! queue; a consumer stores it later. What is decided here, without any I/O:
//!
//! - [`process_event`]: the cheap steps run at the edge on every event before it is queued —
//!   the client's address filled in where the SDK asked for it, the project's inbound filters,
//!   PII scrubbing (so nothing unscrubbed is written anywhere, the queue included), the
//!   user-agent context, and the index fields recomputed from what will be stored;
//! - [`pack_job`]: one accepted request becomes one [`Job`] message; events that would make it
//!   larger than a queue message are moved to blobs the glue writes to R2 first;
//! - [`next_attempt`]: what a failed job does next — retried with a doubling delay, or, after
//!   [`MAX_ATTEMPTS`], kept as a dead letter with its reason for someone to reprocess.
//!
//! Storing is idempotent: events by their id, a job's counters by its id (the consumer's
//! writes carry a per-attempt nonce, so a redelivered job counts nothing twice).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ProjectConfig;
use crate::error::IngestError;
use crate::event::{summarize_event, NormalizedEvent};
use crate::filter::{contexts_json, should_filter, tags, ua_context, FilterReason};
use crate::ingest::IngestPlan;
use crate::scrub::{scrub_event, ScrubReport};
use crate::session::SessionCounts;
use crate::stats::{key, Namespace};
use crate::time::clamp_event_time;

/// Version of the [`Job`] format. A consumer refuses (dead-letters) a job of another version
/// rather than misreading it.
pub const JOB_VERSION: u32 = 1;

/// Largest serialized [`Job`], in bytes. Cloudflare Queues take messages up to 128 KB; the
/// headroom covers the platform's own framing of the message.
pub const MAX_MESSAGE_BYTES: usize = 120 * 1024;

/// Attempts (the first included) before a failing job becomes a dead letter.
pub const MAX_ATTEMPTS: u32 = 5;

/// Longest delay between two attempts.
pub const MAX_RETRY_DELAY_SECS: u32 = 300;

/// Longest reason kept with a failed job.
pub const MAX_ERROR_CHARS: usize = 500;

/// Where the scrubbing report of an event is kept in its stored payload, so the event detail
/// can say what was filtered and where.
pub const SCRUB_REPORT_KEY: &str = "_scrubbed";

/// One accepted request's work, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// [`JOB_VERSION`].
    pub v: u32,
    /// Unique per accepted request: what the counters are made idempotent by.
    pub job_id: String,
    /// The project.
    pub project: String,
    /// When the edge accepted it (epoch ms).
    pub received_ms: u64,
    /// The worker's origin, for links in alerts.
    pub origin: String,
    /// Attempts already made (0 when first queued).
    #[serde(default)]
    pub attempt: u32,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Events to store, already filtered and scrubbed.
    pub events: Vec<JobEvent>,
    /// Attachments, already in R2, to index.
    #[serde(default)]
    pub attachments: Vec<JobAttachment>,
    /// Counters to add: `item:<type>`, `dropped:<reason>:<type>`, `client:<reason>:<category>`,
    /// `filtered:<filter>`, `scrubbed:<rule>`.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Release-health counts.
    #[serde(default)]
    pub sessions: Vec<JobSessions>,
    /// Watchdog signals by environment (events stored and sessions started).
    #[serde(default)]
    pub signals: BTreeMap<String, u64>,
}

/// An event of a [`Job`]: inline, or in R2 under `r2_key` when it did not fit the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The event id.
    pub event_id: String,
    /// The scrubbed payload, when inline.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Its R2 key, when not inline.
    #[serde(default)]
    pub r2_key: Option<String>,
}

/// An attachment of a [`Job`], already kept in R2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAttachment {
    /// The event it belongs to.
    pub event_id: String,
    /// Sanitised filename.
    pub filename: String,
    /// Content type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Its R2 key.
    pub r2_key: String,
}

/// Release-health counts of a [`Job`] (the serialisable form of [`SessionCounts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSessions {
    /// Release.
    pub release: String,
    /// Environment.
    pub environment: String,
    /// Sessions started.
    pub started: u64,
    /// Errored.
    pub errored: u64,
    /// Crashed.
    pub crashed: u64,
    /// Ended abnormally.
    pub abnormal: u64,
}

impl From<&SessionCounts> for JobSessions {
    fn from(c: &SessionCounts) -> Self {
        JobSessions {
            release: c.release.clone(),
            environment: c.environment.clone(),
            started: c.started,
            errored: c.errored,
            crashed: c.crashed,
            abnormal: c.abnormal,
        }
    }
}

/// What the edge knows about the request beyond its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// The sender's address as the edge saw it (`CF-Connecting-IP`).
    pub client_ip: Option<&'a str>,
    /// The request's `User-Agent`, used when the event carries none and was sent by a
    /// browser SDK (whose request is the browser's own).
    pub user_agent: Option<&'a str>,
}

/// What became of one event at the edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// Store it (scrubbed, with its user-agent context).
    Keep(Box<NormalizedEvent>, ScrubReport),
    /// An inbound filter drops it.
    Filtered(FilterReason),
}

/// Runs the edge's steps on one event, in this order: the client address where the SDK asked
/// for it (`{{auto}}`), the inbound filters (they need the unscrubbed address and messages),
/// scrubbing, the user-agent context, and the index fields again — scrubbing rewrites
/// messages and paths, and the issue an event is grouped in must follow what is stored.
pub fn process_event(
    ev: NormalizedEvent,
    project: &ProjectConfig,
    facts: RequestFacts<'_>,
    received_ms: u64,
) -> Result<Processed, IngestError> {
    let NormalizedEvent {
        summary,
        mut payload,
    } = ev;
    fill_auto_ip(&mut payload, facts.client_ip);
    if let Some(reason) = should_filter(&payload, facts.client_ip, &project.filters) {
        return Ok(Processed::Filtered(reason));
    }
    let report = scrub_event(&mut payload, &project.scrub);
    if !report.is_empty() {
        if let Some(obj) = payload.as_object_mut() {
            obj.insert(
                SCRUB_REPORT_KEY.into(),
                serde_json::json!({
                    "summary": report.summary(),
                    "redactions": report.redactions,
                    "unlisted": report.unlisted,
                }),
            );
        }
    }
    add_user_agent_context(&mut payload, facts.user_agent);
    let ev = summarize(payload, &summary.event_id, received_ms)?;
    Ok(Processed::Keep(Box::new(ev), report))
}

/// The index fields of a payload about to be stored (the event's time clamped as at the edge).
pub fn summarize(
    payload: Value,
    event_id: &str,
    received_ms: u64,
) -> Result<NormalizedEvent, IngestError> {
    let mut ev = summarize_event(payload, event_id, received_ms)?;
    ev.summary.timestamp = clamp_event_time(ev.summary.timestamp, received_ms);
    Ok(ev)
}

/// SDKs send `user.ip_address: "{{auto}}"` to ask the server to fill in the sender's address
/// (scrubbing then truncates it, so "users affected" still counts distinct networks).
fn fill_auto_ip(payload: &mut Value, client_ip: Option<&str>) {
    let Some(ip) = client_ip.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) else {
        return;
    };
    if let Some(user) = payload.get_mut("user").and_then(Value::as_object_mut) {
        if user.get("ip_address").and_then(Value::as_str) == Some("{{auto}}") {
            user.insert("ip_address".into(), Value::String(ip.to_string()));
        }
    }
}

/// The event's `User-Agent`: its request headers', else the HTTP request's when a browser
/// SDK sent it (a server SDK's request carries the SDK's own agent, not the user's).
fn event_user_agent<'a>(payload: &'a Value, http_ua: Option<&'a str>) -> Option<&'a str> {
    let from_event = payload
        .get("request")
        .and_then(|r| r.get("headers"))
        .and_then(|h| match h {
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
                .and_then(|(_, v)| v.as_str()),
            Value::Array(pairs) => pairs.iter().find_map(|p| {
                let pair = p.as_array()?;
                let name = pair.first()?.as_str()?;
                name.eq_ignore_ascii_case("user-agent")
                    .then(|| pair.get(1)?.as_str())
                    .flatten()
            }),
            _ => None,
        });
    from_event.or_else(|| {
        let sdk = payload
            .get("sdk")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let browser = sdk.starts_with("sentry.javascript.browser")
            || sdk.starts_with("backstop")
            || payload.get("platform").and_then(Value::as_str) == Some("javascript");
        http_ua.filter(|_| browser)
    })
}

/// Adds `contexts.browser`/`os`/`device` (where the SDK sent none) and the matching tags, so
/// the issue's tag breakdown and search can use them.
fn add_user_agent_context(payload: &mut Value, http_ua: Option<&str>) {
    let Some(ua) = event_user_agent(payload, http_ua).map(str::to_string) else {
        return;
    };
    let ctx = ua_context(&ua);
    let Some(obj) = payload.as_object_mut() else {
        return;
    };
    if let Value::Object(parsed) = contexts_json(&ctx) {
        let contexts = obj
            .entry("contexts")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(contexts) = contexts.as_object_mut() {
            for (k, v) in parsed {
                contexts.entry(k).or_insert(v);
            }
        }
    }
    let new_tags = tags(&ctx);
    if new_tags.is_empty() {
        return;
    }
    let tags_value = obj
        .entry("tags")
        .or_insert_with(|| Value::Object(Default::default()));
    match tags_value {
        Value::Object(m) => {
            for (k, v) in new_tags {
                m.entry(k).or_insert(Value::String(v));
            }
        }
        Value::Array(pairs) => {
            for (k, v) in new_tags {
                let present = pairs.iter().any(|p| {
                    p.as_array().and_then(|a| a.first()).and_then(Value::as_str) == Some(k.as_str())
                });
                if !present {
                    pairs.push(serde_json::json!([k, v]));
                }
            }
        }
        _ => {}
    }
}

/// An R2 object the glue writes before it queues the job that references it.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// R2 key.
    pub key: String,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// Everything a plan's counters contribute to a job: items by type, the items dropped here,
/// the SDK's own drops, release health and watchdog signals.
pub fn plan_counts(plan: &IngestPlan<'_>, job: &mut Job) {
    for d in &plan.dropped {
        *job.counts.entry(d.stat_key()).or_default() += 1;
    }
    for (item, count) in &plan.item_counts {
        *job.counts.entry(key(Namespace::Item, item)).or_default() += count;
    }
    for d in &plan.discards {
        *job.counts
            .entry(key(
                Namespace::Client,
                &format!("{}:{}", d.reason, d.category),
            ))
            .or_default() += d.quantity;
    }
    for c in &plan.sessions {
        job.sessions.push(JobSessions::from(c));
        if c.started > 0 {
            *job.signals.entry(c.environment.clone()).or_default() += c.started;
        }
    }
}

/// Counts a kept event's scrubbing and signal, or a filtered event's reason, into the job.
pub fn count_processed(job: &mut Job, processed: &Processed) {
    match processed {
        Processed::Filtered(reason) => {
            *job.counts.entry(reason.as_str().to_string()).or_default() += 1;
        }
        Processed::Keep(ev, report) => {
            *job.signals
                .entry(ev.summary.environment.clone())
                .or_default() += 1;
            for (rule, n) in report.count_by_rule() {
                *job.counts
                    .entry(key(Namespace::Scrubbed, rule))
                    .or_default() += n as u64;
            }
        }
    }
}

/// Serialises a job, moving its largest inline events to R2 blobs (keys under
/// `queue/{project}/{job_id}/`) until the message fits [`MAX_MESSAGE_BYTES`]. Fails only if the
/// job cannot fit even with every event moved (too many attachments or counters).
pub fn pack_job(mut job: Job) -> Result<(String, Vec<Blob>), IngestError> {
    let mut blobs = Vec::new();
    loop {
        let text = serde_json::to_string(&job)
            .map_err(|e| IngestError::InvalidEvent(format!("event does not serialise: {e}")))?;
        if text.len() <= MAX_MESSAGE_BYTES {
            return Ok((text, blobs));
        }
        let largest = job
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.payload.as_ref().map(|p| (i, p.to_string().len())))
            .max_by_key(|(_, len)| *len);
        let Some((i, _)) = largest else {
            return Err(IngestError::too_large(
                "queued work of one request (attachments and counters)",
                MAX_MESSAGE_BYTES as u64,
                Some(text.len() as u64),
            ));
        };
        let Some(ev) = job.events.get_mut(i) else {
            continue;
        };
        let Some(payload) = ev.payload.take() else {
            continue;
        };
        let key = format!(
            "queue/{}/{}/{}-{i}.json",
            job.project, job.job_id, ev.event_id
        );
        blobs.push(Blob {
            key: key.clone(),
            bytes: payload.to_string().into_bytes(),
        });
        ev.r2_key = Some(key);
    }
}

/// What a consumer does with a job whose attempt just failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAttempt {
    /// Queue it again after `delay_secs`, as attempt `attempt`.
    Retry {
        /// Attempts made so far, this one included.
        attempt: u32,
        /// Delay before the next.
        delay_secs: u32,
    },
    /// Keep it as a dead letter: every attempt failed.
    DeadLetter {
        /// Attempts made.
        attempts: u32,
    },
}

/// The next step after attempt number `failed_attempt + 1` failed: `base_delay_secs` doubling
/// per attempt (capped at [`MAX_RETRY_DELAY_SECS`]) until [`MAX_ATTEMPTS`].
pub fn next_attempt(failed_attempt: u32, base_delay_secs: u32) -> NextAttempt {
    let attempt = failed_attempt.saturating_add(1);
    if attempt >= MAX_ATTEMPTS {
        return NextAttempt::DeadLetter { attempts: attempt };
    }
    let factor = 1u32.checked_shl(failed_attempt).unwrap_or(u32::MAX);
    NextAttempt::Retry {
        attempt,
        delay_secs: base_delay_secs
            .saturating_mul(factor)
            .min(MAX_RETRY_DELAY_SECS),
    }
}

/// A failure reason as kept with the job: one line, bounded.
pub fn error_reason(error: &str) -> String {
    let line: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out: String = line.trim().chars().take(MAX_ERROR_CHARS).collect();
    if line.trim().chars().count() > MAX_ERROR_CHARS {
        out.push('…');
    }
    out
}

/// Reads a queued job. A message that is not a job of [`JOB_VERSION`] is an error with its
/// reason (the consumer keeps it as a dead letter rather than drop it).
pub fn read_job(text: &str) -> Result<Job, String> {
    let job: Job = serde_json::from_str(text).map_err(|e| format!("not a job: {e}"))?;
    if job.v != JOB_VERSION {
        return Err(format!(
            "job format {} is not {JOB_VERSION} (written by another version of the worker)",
            job.v
        ));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::normalize_event;
    use proptest::prelude::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn project(json: &str) -> ProjectConfig {
        serde_json::from_str(json).unwrap()
    }

    fn ev(json: &str) -> NormalizedEvent {
        normalize_event(json.as_bytes(), ID, 1_000, 64).unwrap()
    }

    fn job() -> Job {
        Job {
            v: JOB_VERSION,
            job_id: "j1".into(),
            project: "1".into(),
            received_ms: 1_000,
            origin: "http://w".into(),
            attempt: 0,
            last_error: None,
            events: Vec::new(),
            attachments: Vec::new(),
            counts: BTreeMap::new(),
            sessions: Vec::new(),
            signals: BTreeMap::new(),
        }
    }

    const KEY: &str = r#"{"public_key":"d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0""#;

    #[test]
    fn scrubs_before_grouping_and_records_the_report() {
        let p = project(&format!("{KEY}}}"));
        let e = ev(
            r#"{"exception":{"values":[{"type":"Error","value":"card 4111 1111 1111 1111 refused"}]},
                "extra":{"password":"hunter2"}}"#,
        );
        let before = e.summary.fingerprint.clone();
        let Processed::Keep(kept, report) =
            process_event(e, &p, RequestFacts::default(), 1_000).unwrap()
        else {
            panic!("kept")
        };
        assert_eq!(report.total(), 2);
        let text = kept.payload.to_string();
        assert!(!text.contains("hunter2") && !text.contains("4111 1111"));
        assert!(!kept.summary.message.contains("4111"));
        assert_ne!(
            kept.summary.fingerprint, before,
            "grouped on what is stored"
        );
        assert_eq!(
            kept.payload[SCRUB_REPORT_KEY]["summary"],
            "2 values filtered (credit_card, password)"
        );
    }

    #[test]
    fn fills_auto_ip_then_truncates_it() {
        let p = project(&format!("{KEY}}}"));
        let e = ev(r#"{"message":"m","user":{"ip_address":"{{auto}}"}}"#);
        let facts = RequestFacts {
            client_ip: Some("203.0.113.77"),
            user_agent: None,
        };
        let Processed::Keep(kept, _) = process_event(e, &p, facts, 1_000).unwrap() else {
            panic!("kept")
        };
        assert_eq!(kept.payload["user"]["ip_address"], "203.0.113.0");
    }

    #[test]
    fn filters_before_scrubbing_and_names_the_filter() {
        let p = project(&format!(
            r#"{KEY},"filters":{{"error_messages":["*ResizeObserver*"]}}}}"#
        ));
        let e = ev(r#"{"message":"ResizeObserver loop limit exceeded"}"#);
        let out = process_event(e, &p, RequestFacts::default(), 1_000).unwrap();
        assert_eq!(out, Processed::Filtered(FilterReason::ErrorMessage));
        let mut j = job();
        count_processed(&mut j, &out);
        assert_eq!(j.counts.get("filtered:error_message"), Some(&1));
    }

    #[test]
    fn adds_user_agent_context_from_a_browser_request_only() {
        let p = project(&format!("{KEY}}}"));
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let facts = RequestFacts {
            client_ip: None,
            user_agent: Some(chrome),
        };
        let browser = ev(r#"{"message":"m","platform":"javascript"}"#);
        let Processed::Keep(kept, _) = process_event(browser, &p, facts, 1_000).unwrap() else {
            panic!("kept")
        };
        assert_eq!(kept.payload["contexts"]["browser"]["name"], "Chrome");
        assert_eq!(
            kept.summary.tags.get("browser.name").map(String::as_str),
            Some("Chrome")
        );
        let server = ev(r#"{"message":"m","platform":"python"}"#);
        let Processed::Keep(kept, _) = process_event(server, &p, facts, 1_000).unwrap() else {
            panic!("kept")
        };
        assert!(kept.payload.get("contexts").is_none());
    }

    #[test]
    fn keeps_the_sdks_own_contexts() {
        let p = project(&format!("{KEY}}}"));
        let e = ev(r#"{"message":"m","contexts":{"browser":{"name":"Mine"}},
                "request":{"headers":{"User-Agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}}}"#);
        let Processed::Keep(kept, _) =
            process_event(e, &p, RequestFacts::default(), 1_000).unwrap()
        else {
            panic!("kept")
        };
        assert_eq!(kept.payload["contexts"]["browser"]["name"], "Mine");
        assert!(kept.payload["contexts"]["os"].is_object());
    }

    #[test]
    fn packs_small_jobs_inline_and_moves_large_events_to_blobs() {
        let mut j = job();
        j.events.push(JobEvent {
            event_id: "a".into(),
            payload: Some(serde_json::json!({"m": "small"})),
            r2_key: None,
        });
        let (text, blobs) = pack_job(j.clone()).unwrap();
        assert!(blobs.is_empty());
        assert_eq!(read_job(&text).unwrap(), j);

        j.events.push(JobEvent {
            event_id: "b".into(),
            payload: Some(serde_json::json!({"m": "x".repeat(200_000)})),
            r2_key: None,
        });
        let (text, blobs) = pack_job(j).unwrap();
        assert!(text.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(blobs.len(), 1);
        let back = read_job(&text).unwrap();
        assert_eq!(
            back.events[0].payload,
            Some(serde_json::json!({"m": "small"}))
        );
        assert_eq!(
            back.events[1].r2_key.as_deref(),
            Some(blobs[0].key.as_str())
        );
        let moved: Value = serde_json::from_slice(&blobs[0].bytes).unwrap();
        assert_eq!(moved["m"].as_str().map(str::len), Some(200_000));
    }

    #[test]
    fn a_job_that_cannot_fit_is_refused_with_the_limit() {
        let mut j = job();
        for i in 0..6000 {
            j.counts
                .insert(format!("client:some_long_reason_{i}:error"), 1);
        }
        let Err(err) = pack_job(j) else {
            panic!("a job over the message limit must be refused")
        };
        assert_eq!(err.code(), "too_large");
    }

    #[test]
    fn retries_double_then_dead_letter() {
        assert_eq!(
            next_attempt(0, 2),
            NextAttempt::Retry {
                attempt: 1,
                delay_secs: 2
            }
        );
        assert_eq!(
            next_attempt(3, 2),
            NextAttempt::Retry {
                attempt: 4,
                delay_secs: 16
            }
        );
        assert_eq!(
            next_attempt(MAX_ATTEMPTS - 1, 2),
            NextAttempt::DeadLetter {
                attempts: MAX_ATTEMPTS
            }
        );
        assert_eq!(
            next_attempt(2, 1000),
            NextAttempt::Retry {
                attempt: 3,
                delay_secs: MAX_RETRY_DELAY_SECS
            }
        );
    }

    #[test]
    fn refuses_other_versions_and_non_jobs() {
        let mut j = job();
        j.v = 99;
        let text = serde_json::to_string(&j).unwrap();
        assert!(read_job(&text).unwrap_err().contains("99"));
        assert!(read_job("nope").unwrap_err().starts_with("not a job"));
    }

    #[test]
    fn error_reasons_are_one_bounded_line() {
        let r = error_reason(&format!("a\nb{}", "x".repeat(1000)));
        assert!(!r.contains('\n'));
        assert_eq!(r.chars().count(), MAX_ERROR_CHARS + 1);
    }

    proptest! {
        #[test]
        fn packed_jobs_always_fit_and_round_trip(sizes in proptest::collection::vec(0usize..60_000, 0..8)) {
            let mut j = job();
            for (i, n) in sizes.iter().enumerate() {
                j.events.push(JobEvent {
                    event_id: format!("e{i}"),
                    payload: Some(serde_json::json!({"m": "y".repeat(*n)})),
                    r2_key: None,
                });
            }
            let (text, blobs) = pack_job(j.clone()).unwrap();
            prop_assert!(text.len() <= MAX_MESSAGE_BYTES);
            let back = read_job(&text).unwrap();
            prop_assert_eq!(back.events.len(), j.events.len());
            for (orig, got) in j.events.iter().zip(&back.events) {
                let payload = match (&got.payload, &got.r2_key) {
                    (Some(p), None) => p.clone(),
                    (None, Some(k)) => {
                        let b = blobs.iter().find(|b| &b.key == k).unwrap();
                        serde_json::from_slice(&b.bytes).unwrap()
                    }
                    _ => panic!("inline or in a blob"),
                };
                prop_assert_eq!(Some(payload), orig.payload.clone());
            }
        }

        #[test]
        fn processing_never_panics(msg in ".{0,200}", ua in ".{0,200}", ip in ".{0,40}") {
            let p = project(&format!(r#"{KEY},"filters":{{"localhost":true,"legacy_browsers":true}}}}"#));
            let body = serde_json::json!({"message": msg, "user": {"ip_address": "{{auto}}"},
                "request": {"headers": {"User-Agent": ua}}}).to_string();
            let e = normalize_event(body.as_bytes(), ID, 1_000, 64).unwrap();
            let facts = RequestFacts { client_ip: Some(&ip), user_agent: Some(&ua) };
            let _ = process_event(e, &p, facts, 1_000);
        }
    }
}
