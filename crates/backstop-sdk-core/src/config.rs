//! `Backstop.init(options)`, validated once. Errors are the messages `init` throws.
//!
//! Why not `serde-wasm-bindgen` into a typed struct: it cost ~33 KB raw / 14 KB gzip of wasm
//! (its error messages format floats, which pulls `core::fmt`'s float code), for a dozen fields.
//! The stub reads the options into plain arguments instead; validating them here costs ~1 KB.

use backstop_protocol::{Dsn, ParseDsnError, SDK_NAME, SDK_VERSION};

use crate::breadcrumb::DEFAULT_MAX_BREADCRUMBS;
use crate::prelude::*;
use crate::sdk::{self, cat, DEFAULT_FAILED_STATUS, DEFAULT_MAX_EVENTS, MAX_STATUS_RANGES};
use crate::Host;

/// Prefix of the offline queue's `localStorage` key (the DSN's endpoint follows). The stub
/// looks for it at start-up to load the wasm when earlier page loads left envelopes.
pub const QUEUE_KEY_PREFIX: &str = "backstop:queue:";

/// A string pattern, or the page's `RegExp` number N (tested by the stub).
pub enum Pattern {
    /// Matches values that contain it.
    Text(String),
    /// `RegExp` number N of the options.
    Host(u32),
}

impl Pattern {
    /// Whether `value` matches. A `RegExp` runs page code: callers hold the capture guard.
    pub fn matches(&self, host: &impl Host, value: &str) -> bool {
        match self {
            Self::Text(t) => sdk::contains_pattern(value, t),
            Self::Host(i) => host.test_pattern(*i, value),
        }
    }
}

/// The raw options, as the stub passes them.
pub struct Options<'a> {
    /// `dsn`.
    pub dsn: &'a str,
    /// `release` (empty: none).
    pub release: &'a str,
    /// `environment` (empty: none).
    pub environment: &'a str,
    /// `maxEvents` (NaN: not a number).
    pub max_events: Option<f64>,
    /// `maxBreadcrumbs`.
    pub max_breadcrumbs: Option<f64>,
    /// `sampleRate`.
    pub sample_rate: Option<f64>,
    /// `fetchStatusMin`.
    pub fetch_status_min: Option<f64>,
    /// `failedRequestStatusCodes` as `500-599,404`.
    pub failed_status: Option<&'a str>,
    /// `offline` (default true).
    pub offline: bool,
    /// `ignoreErrors`, joined with U+0001 (`\u{2}N`: the page's `RegExp` number N).
    pub ignore_errors: &'a str,
    /// `denyUrls`, as `ignore_errors`.
    pub deny_urls: &'a str,
    /// `allowUrls`, as `ignore_errors`.
    pub allow_urls: &'a str,
    /// `navigator.userAgent`.
    pub user_agent: &'a str,
}

/// The validated configuration every capture reads.
pub struct Config {
    /// The DSN as given (sent in the envelope header).
    pub dsn: String,
    /// Where envelopes go, with `sentry_key` in the query.
    pub envelope_url: String,
    /// `envelope_url` without its query: requests there are never reported.
    pub ingest_endpoint: String,
    /// `localStorage` key of the offline queue.
    pub storage_key: String,
    /// `sessionStorage` key of the events this tab's session has sent (the per-session cap).
    pub session_key: String,
    /// `release`, if given.
    pub release: Option<String>,
    /// `environment`, if given.
    pub environment: Option<String>,
    /// `navigator.userAgent`.
    pub user_agent: String,
    /// Inclusive status ranges of failed `fetch`/XHR responses.
    pub failed_status: Vec<(u16, u16)>,
    /// Share of events sent, 0..=1.
    pub sample_rate: f64,
    /// `ignoreErrors`.
    pub ignore_errors: Vec<Pattern>,
    /// `denyUrls`.
    pub deny_urls: Vec<Pattern>,
    /// `allowUrls`.
    pub allow_urls: Vec<Pattern>,
    /// Keep envelopes that hit a network error and retry them (default true).
    pub offline: bool,
}

fn invalid(what: &str) -> String {
    cat(&["Backstop.init: invalid options: ", what])
}

fn dsn_error(e: ParseDsnError) -> &'static str {
    match e {
        ParseDsnError::InvalidScheme => "DSN must start with http:// or https://",
        ParseDsnError::MissingPublicKey => "DSN has no public key (expected key@host)",
        ParseDsnError::MissingHost => "DSN has no host",
        ParseDsnError::MissingProjectId => "DSN has no project id",
    }
}

/// A whole number in `0..=max`, or the error naming `key`.
fn whole(value: Option<f64>, key: &str, max: f64, max_text: &str) -> Result<Option<f64>, String> {
    match value {
        None => Ok(None),
        Some(n) if (0.0..=max).contains(&n) && n == (n as u64) as f64 => Ok(Some(n)),
        Some(_) => Err(invalid(&cat(&[
            key,
            " must be a whole number from 0 to ",
            max_text,
        ]))),
    }
}

fn patterns(list: &str) -> Vec<Pattern> {
    list.split('\u{1}')
        .filter(|p| !p.is_empty())
        .take(100)
        .map(|p| match p.strip_prefix('\u{2}').and_then(sdk::parse_u32) {
            Some(i) => Pattern::Host(i),
            None => Pattern::Text(p.into()),
        })
        .collect()
}

/// `failedRequestStatusCodes` as the stub writes it: `500-599,404`.
fn status_ranges(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let bad =
        || invalid("failedRequestStatusCodes must be an array of statuses and [from, to] pairs");
    let status = |s: &str| {
        sdk::parse_u64(s.trim())
            .filter(|n| *n <= 599)
            .map(|n| n as u16)
    };
    let mut out = Vec::new();
    for item in text
        .split(',')
        .filter(|s| !s.is_empty())
        .take(MAX_STATUS_RANGES)
    {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        match (status(a), status(b)) {
            (Some(a), Some(b)) => out.push((a, b)),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.into())
}

impl Config {
    /// Validates the options; returns the config, `maxEvents` and `maxBreadcrumbs`.
    pub fn new(o: Options<'_>) -> Result<(Self, u32, usize), String> {
        if o.dsn.is_empty() {
            return Err(invalid("missing field `dsn`"));
        }
        let dsn = Dsn::parse(o.dsn)
            .map_err(|e| cat(&["Backstop.init: invalid dsn \"", o.dsn, "\": ", dsn_error(e)]))?;
        let mut base = cat(&[dsn.scheme.as_str(), "://", &dsn.host]);
        if !dsn.path.is_empty() {
            base.push('/');
            base.push_str(&dsn.path);
        }
        let ingest_endpoint = cat(&[base.as_str(), "/api/", &dsn.project_id, "/envelope/"]);
        let envelope_url = cat(&[
            ingest_endpoint.as_str(),
            "?sentry_version=7&sentry_key=",
            &dsn.public_key,
            "&sentry_client=",
            SDK_NAME,
            "/",
            SDK_VERSION,
        ]);
        let max_events = whole(o.max_events, "maxEvents", f64::from(u32::MAX), "4294967295")?
            .map_or(DEFAULT_MAX_EVENTS, |n| n as u32);
        let max_crumbs = whole(o.max_breadcrumbs, "maxBreadcrumbs", 100.0, "100")?
            .map_or(DEFAULT_MAX_BREADCRUMBS, |n| n as usize);
        let fetch_min = whole(o.fetch_status_min, "fetchStatusMin", 65535.0, "65535")?;
        let failed_status = match (o.failed_status, fetch_min) {
            (Some(text), _) => status_ranges(text)?,
            (None, Some(min)) if min > 599.0 => Vec::new(),
            (None, Some(min)) => vec![(min as u16, 599)],
            (None, None) => vec![DEFAULT_FAILED_STATUS],
        };
        let sample_rate = match o.sample_rate {
            None => 1.0,
            Some(n) if (0.0..=1.0).contains(&n) => n,
            Some(_) => return Err(invalid("sampleRate must be a number from 0 to 1")),
        };
        let storage_key = cat(&[QUEUE_KEY_PREFIX, ingest_endpoint.as_str()]);
        let session_key = cat(&["session:backstop:sent:", ingest_endpoint.as_str()]);
        Ok((
            Self {
                dsn: o.dsn.trim().into(),
                envelope_url,
                ingest_endpoint,
                storage_key,
                session_key,
                release: nonempty(o.release),
                environment: nonempty(o.environment),
                user_agent: o.user_agent.into(),
                failed_status,
                sample_rate,
                ignore_errors: patterns(o.ignore_errors),
                deny_urls: patterns(o.deny_urls),
                allow_urls: patterns(o.allow_urls),
                offline: o.offline,
            },
            max_events,
            max_crumbs,
        ))
    }
}
