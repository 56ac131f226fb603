//! Ingest admission, sans-IO: whether a request to `POST /api/{p}/envelope/`, `…/store/` or
//! the tunnel may be read, and what its body becomes. The worker drives one [`Admission`] per
//! request and only performs what it asks for:
//!
//! 1. [`Admission::start`] with the request's head (URL project, keys, `Content-Length`,
//!    `Content-Encoding`): sizes are judged before anything is read.
//! 2. [`Admission::next`] with the bytes received so far, until it says [`Step::ReadAll`]:
//!    [`Step::Read`] (read another chunk: the key is only in the envelope header's `dsn`, whose
//!    line has not arrived yet) or [`Step::Token`] (ask the key's limiter, answer with
//!    [`Admission::granted`]). A key in the URL or a header is authenticated and rate limited
//!    before the body is read; a key only in the header's `dsn` as soon as that line has
//!    arrived, before the rest is read, decompressed or parsed.
//! 3. [`Admission::decode`] and [`Admission::frame`] on the whole body: decompression (bounded),
//!    parsing, authentication with every key the request presents, and the plan. A project with
//!    a quota is asked for its token only here ([`Framed::token`]), since its quota counts
//!    requests that store an event (see [`crate::quota`]) and the limiter is asked once per
//!    request.
//!
//! Errors are [`IngestError`]s, rendered to HTTP by the worker's one error type.

use serde_json::Value;

use crate::auth::{authenticate_ingest, dsn_key, parse_sentry_auth};
use crate::config::{Config, ProjectConfig};
use crate::envelope::{parse_envelope, probe_envelope_header};
use crate::error::IngestError;
use crate::ingest::{plan_envelope, plan_store, IngestPlan};
use crate::quota::{categories, LimiterRequest};
use crate::rate_limit::RateDecision;
use crate::size::{check_declared_length, decode_body, ContentEncoding};

/// Which ingest endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Envelope body at `/api/{project}/envelope/`.
    Envelope,
    /// One event as JSON at `/api/{project}/store/` (legacy).
    Store,
    /// Envelope at the tunnel path: the project and key come from the envelope's `dsn`.
    Tunnel,
}

/// What admission needs from a request before its body is read. Header values are raw.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHead<'a> {
    /// The project in the URL (none for the tunnel).
    pub url_project: Option<&'a str>,
    /// `?sentry_key=`.
    pub query_key: Option<&'a str>,
    /// `X-Sentry-Auth`.
    pub auth_header: Option<&'a str>,
    /// `Content-Length`.
    pub content_length: Option<&'a str>,
    /// `Content-Encoding`.
    pub content_encoding: Option<&'a str>,
}

/// A question for the key's rate limiter (a Durable Object per project and key).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    /// Project id.
    pub project: String,
    /// The public key presented (empty when none was; authentication already refused that).
    pub key: String,
    /// What the limiter counts.
    pub limiter: LimiterRequest,
}

/// What the glue does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Read another chunk of the body, then call [`Admission::next`] again (with
    /// `complete = true` once the body has ended).
    Read,
    /// Ask the limiter, then hand its answer to [`Admission::granted`].
    Token(TokenRequest),
    /// Read the whole body (within [`Admission::body_limit`]), then [`Admission::decode`] and
    /// [`Admission::frame`] it.
    ReadAll,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Nothing judged beyond the head.
    Start,
    /// Waiting for the envelope header's line to find the key.
    Probe,
    /// A token was asked for early (asked again if the glue calls `next` before answering).
    AwaitToken(TokenRequest),
    /// Authenticated (or left to the full parse); `Some` once the limiter answered.
    Ready(Option<RateDecision>),
}

/// One request's admission. See the module doc for the order of calls.
#[derive(Debug)]
pub struct Admission<'c> {
    config: &'c Config,
    endpoint: Endpoint,
    encoding: ContentEncoding,
    declared: Option<u64>,
    body_limit: u64,
    decoded_limit: u64,
    project: Option<String>,
    query_key: Option<String>,
    header_key: Option<String>,
    state: State,
}

impl<'c> Admission<'c> {
    /// Judges the request's head: `Content-Encoding` and a declared length over the endpoint's
    /// limit are refused before anything is read.
    pub fn start(
        config: &'c Config,
        endpoint: Endpoint,
        head: RequestHead<'_>,
    ) -> Result<Self, IngestError> {
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
        let encoding = ContentEncoding::parse(head.content_encoding)?;
        let declared = head
            .content_length
            .and_then(|v| v.trim().parse::<u64>().ok());
        check_declared_length(declared, body_limit)?;
        Ok(Self {
            config,
            endpoint,
            encoding,
            declared,
            body_limit,
            decoded_limit,
            project: head.url_project.map(str::to_string),
            query_key: head.query_key.map(str::to_string),
            header_key: head.auth_header.and_then(|h| parse_sentry_auth(h).key),
            state: State::Start,
        })
    }

    /// The project the request is for, as far as known (the URL's, or the tunnel's once its
    /// envelope header has been read): refusals are counted against it.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The declared `Content-Length`, if any.
    pub fn declared_length(&self) -> Option<u64> {
        self.declared
    }

    /// Most body bytes the request may send (before decompression).
    pub fn body_limit(&self) -> u64 {
        self.body_limit
    }

    /// What to do next, given the body bytes received so far and whether the body has ended.
    pub fn next(&mut self, received: &[u8], complete: bool) -> Result<Step, IngestError> {
        match self.state.clone() {
            State::Start => self.after_head(),
            State::Probe => self.probe(received, complete),
            State::AwaitToken(request) => Ok(Step::Token(request)),
            State::Ready(_) => Ok(Step::ReadAll),
        }
    }

    /// The limiter's answer to the [`Step::Token`] just asked: a refusal becomes the request's
    /// error (429 with `Retry-After`).
    pub fn granted(&mut self, decision: RateDecision) -> Result<(), IngestError> {
        let decision = judge(decision, self.config.ingest.store_transactions)?;
        self.state = State::Ready(Some(decision));
        Ok(())
    }

    fn after_head(&mut self) -> Result<Step, IngestError> {
        let url_key = self.query_key.clone().or_else(|| self.header_key.clone());
        match self.project.clone() {
            Some(project) if url_key.is_some() => {
                let keys = [self.query_key.as_deref(), self.header_key.as_deref()];
                let p = authenticate_ingest(self.config, &project, &keys)?;
                Ok(self.early_token(project, url_key.unwrap_or_default(), p))
            }
            Some(project) if self.config.project(&project).is_none() => Err(
                IngestError::UnknownProject(project.chars().take(64).collect()),
            ),
            Some(_) if self.endpoint == Endpoint::Store => Err(IngestError::MissingAuth),
            _ => {
                self.state = State::Probe;
                Ok(Step::Read)
            }
        }
    }

    fn probe(&mut self, received: &[u8], complete: bool) -> Result<Step, IngestError> {
        let Some(header) = probe_envelope_header(self.encoding, received, &self.config.limits)?
        else {
            if complete {
                // The whole body is in without a newline: the full parse judges it.
                self.state = State::Ready(None);
                return Ok(Step::ReadAll);
            }
            return Ok(Step::Read);
        };
        let dsn = header
            .get("dsn")
            .and_then(Value::as_str)
            .ok_or(IngestError::MissingAuth)?;
        if self.endpoint == Endpoint::Tunnel {
            self.project = Some(tunnel_project(dsn)?);
        }
        let project = self.project.clone().unwrap_or_default();
        let key = dsn_key(Some(dsn), &project)?;
        let p = authenticate_ingest(self.config, &project, &[key.as_deref()])?;
        Ok(self.early_token(project, key.unwrap_or_default(), p))
    }

    /// The token asked before the body is read, or none for a project with a quota (asked once
    /// its events are known, by [`Framed::token`]).
    fn early_token(&mut self, project: String, key: String, p: &ProjectConfig) -> Step {
        if p.quota.is_some() {
            self.state = State::Ready(None);
            return Step::ReadAll;
        }
        let request = TokenRequest {
            project,
            key,
            limiter: LimiterRequest::new(p.rate_limit, None, 0),
        };
        self.state = State::AwaitToken(request.clone());
        Step::Token(request)
    }

    /// Decompresses the whole body, bounded by the endpoint's decompressed limit.
    pub fn decode(&self, raw: Vec<u8>) -> Result<Vec<u8>, IngestError> {
        decode_body(self.encoding, raw, self.decoded_limit)
    }

    /// Parses and plans the decoded body, authenticating with every key the request presents
    /// (URL, header and the envelope's `dsn` must agree). `new_id` makes ids for events that
    /// have none.
    pub fn frame<'b>(
        &mut self,
        body: &'b [u8],
        now_ms: u64,
        new_id: &mut dyn FnMut() -> String,
    ) -> Result<Framed<'c, 'b>, IngestError> {
        let limits = &self.config.limits;
        let envelope = match self.endpoint {
            Endpoint::Store => None,
            Endpoint::Envelope | Endpoint::Tunnel => Some(parse_envelope(body, limits)?),
        };
        let envelope_dsn = envelope.as_ref().and_then(|e| e.dsn());
        if self.endpoint == Endpoint::Tunnel {
            // The tunnel only forwards to this worker's own ingest, for a project configured
            // here.
            let dsn = envelope_dsn.ok_or(IngestError::MissingAuth)?;
            self.project = Some(tunnel_project(dsn)?);
        }
        let project = self.project.clone().unwrap_or_default();
        let dsn_key = dsn_key(envelope_dsn, &project)?;
        let keys = [
            self.query_key.as_deref(),
            self.header_key.as_deref(),
            dsn_key.as_deref(),
        ];
        let project_config = authenticate_ingest(self.config, &project, &keys)?;
        let plan = match &envelope {
            Some(envelope) => plan_envelope(envelope, self.config, now_ms, new_id)?,
            None => plan_store(body, self.config, now_ms, new_id)?,
        };
        let store_transactions = self.config.ingest.store_transactions;
        let (decision, token) = match &self.state {
            State::Ready(Some(decision)) => (Some(*decision), None),
            _ => (
                None,
                Some(TokenRequest {
                    project: project.clone(),
                    key: keys
                        .iter()
                        .flatten()
                        .next()
                        .copied()
                        .unwrap_or_default()
                        .into(),
                    limiter: LimiterRequest::new(
                        project_config.rate_limit,
                        project_config.quota,
                        u64::from(!plan.events.is_empty()),
                    ),
                }),
            ),
        };
        Ok(Framed {
            project,
            project_config,
            plan,
            decision,
            token,
            store_transactions,
        })
    }
}

/// A request whose body has been read and planned.
#[derive(Debug)]
pub struct Framed<'c, 'b> {
    /// Project id.
    pub project: String,
    /// Its configuration.
    pub project_config: &'c ProjectConfig,
    /// What the body becomes.
    pub plan: IngestPlan<'b>,
    decision: Option<RateDecision>,
    token: Option<TokenRequest>,
    store_transactions: bool,
}

impl Framed<'_, '_> {
    /// The limiter question still to ask (a project with a quota, or a key that was only
    /// found by the full parse), answered with [`Framed::granted`].
    pub fn token(&self) -> Option<&TokenRequest> {
        if self.decision.is_some() {
            return None;
        }
        self.token.as_ref()
    }

    /// The limiter's answer to [`Framed::token`].
    pub fn granted(&mut self, decision: RateDecision) -> Result<(), IngestError> {
        self.decision = Some(judge(decision, self.store_transactions)?);
        Ok(())
    }

    /// `X-Sentry-Rate-Limits` seconds for a 200 that took the key's last token.
    pub fn preemptive_retry_after(&self) -> Option<u64> {
        self.decision
            .as_ref()
            .and_then(|d| d.preemptive_retry_after(&self.project_config.rate_limit))
    }
}

/// A limiter's refusal as the request's error.
fn judge(decision: RateDecision, store_transactions: bool) -> Result<RateDecision, IngestError> {
    match decision {
        RateDecision::Limited { retry_after_secs } => {
            Err(IngestError::RateLimited { retry_after_secs })
        }
        RateDecision::QuotaExceeded {
            limit,
            retry_after_secs,
        } => Err(IngestError::QuotaExceeded {
            limit,
            retry_after_secs,
            categories: categories(store_transactions),
        }),
        allowed => Ok(allowed),
    }
}

/// The project a tunnelled envelope is for, from its header's DSN.
fn tunnel_project(dsn: &str) -> Result<String, IngestError> {
    backstop_protocol::Dsn::parse(dsn)
        .map(|d| d.project_id)
        .map_err(|e| IngestError::InvalidEnvelope(format!("envelope header dsn: {e}")))
}

#[cfg(test)]
mod tests;
