//! Typed configuration, validated once per request from the worker's vars and secrets.
//!
//! Vars (see `wrangler.toml` and `.dev.vars`): `BACKSTOP_ENV` (`local` or `production`),
//! `BACKSTOP_PROJECTS` (JSON: `{"<id>": {"public_key": "...", "rate_limit": {"burst": 200,
//! "per_second": 20}, "retention": {"events_days": 30, "counts_days": 90}, "quota": 10000}}`),
//! `BACKSTOP_LIMITS` (JSON, optional, fields of [`Limits`]), `BACKSTOP_RETENTION` (JSON,
//! optional, fields of [`RunLimits`]) and the secret `ADMIN_TOKEN`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::fault::Faults;
use crate::rate_limit::RateLimitConfig;
use crate::retention::{RetentionConfig, RunLimits};

/// Public key of the seeded local project `1` (documented in the README; refused in production).
pub const DEV_PUBLIC_KEY: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
/// Admin token of local dev (documented in the README; refused in production).
pub const DEV_ADMIN_TOKEN: &str = "backstop-local-admin-token";
/// Source-map upload token of the seeded local project `1` (documented in the README; refused
/// in production).
pub const DEV_UPLOAD_TOKEN: &str = "backstop-local-upload-token";
/// Shortest upload token accepted.
pub const MIN_UPLOAD_TOKEN_CHARS: usize = 16;

/// Size and shape limits. Defaults follow Relay's where they exist.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted on `/envelope/`, in bytes (before decompression).
    pub max_envelope_bytes: u64,
    /// Largest decompressed body, in bytes (bounds gzip bombs).
    pub max_decompressed_bytes: u64,
    /// Largest single event (an `event` item or a `/store/` body), in bytes.
    pub max_event_bytes: u64,
    /// Deepest JSON nesting accepted.
    pub max_json_depth: usize,
    /// Most items in one envelope.
    pub max_envelope_items: usize,
    /// Raw events up to this size are kept in the D1 row; larger ones go to R2.
    pub max_inline_payload_bytes: u64,
    /// Largest attachment item (and any item of a type we don't read), in bytes.
    pub max_attachment_bytes: u64,
    /// Largest `client_report` or session item, in bytes (Relay: 100 KiB).
    pub max_client_report_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 20 * 1024 * 1024,
            max_decompressed_bytes: 20 * 1024 * 1024,
            max_event_bytes: 1024 * 1024,
            max_json_depth: 64,
            max_envelope_items: 100,
            max_inline_payload_bytes: 64 * 1024,
            max_attachment_bytes: 20 * 1024 * 1024,
            max_client_report_bytes: 100 * 1024,
        }
    }
}

/// How items other than errors are handled (`BACKSTOP_INGEST`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestOptions {
    /// Store `transaction` items as events (kind `transaction`) instead of only counting them.
    pub store_transactions: bool,
    /// Path of the same-origin tunnel endpoint for SDKs' `tunnel` option. It must not contain
    /// the words "sentry" or "monitoring" (ad blockers match them) and must not be under `/api/`.
    pub tunnel_path: String,
    /// `Retry-After` of a 503 `storage_unavailable`, in seconds (1 to 3600): SDKs wait at least
    /// this long before resending what storage could not keep.
    pub storage_retry_after_secs: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            store_transactions: false,
            tunnel_path: "/tunnel".into(),
            storage_retry_after_secs: crate::error::ServerFault::Storage
                .retry_after_secs()
                .unwrap_or(30),
        }
    }
}

/// One project as configured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The DSN's public key.
    pub public_key: String,
    /// Ingest rate limit per key.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Who issues can be assigned to (names or emails, as the team writes them).
    #[serde(default)]
    pub team: Vec<String>,
    /// The site that carries the SDK tag: a cron fetches it and alerts when the tag with this
    /// project's key is gone (`http`/`https` only).
    #[serde(default)]
    pub site_url: Option<String>,
    /// The silence watchdog's settings for this project (fields of
    /// [`crate::watchdog::WatchdogConfig`]; validated by [`crate::watchdog::parse_override`]).
    #[serde(default)]
    pub watchdog: Option<serde_json::Value>,
    /// How long this project's events and counts are kept (see [`crate::retention`]).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Events accepted per UTC day (see [`crate::quota`]); `None` is no quota.
    #[serde(default)]
    pub quota: Option<u64>,
    /// PII scrubbing at ingest ([`crate::scrub::ScrubConfig`]; on with Relay's defaults unless
    /// the project turns it off), validated by [`crate::scrub::parse_config`].
    #[serde(default, deserialize_with = "scrub_config")]
    pub scrub: crate::scrub::ScrubConfig,
    /// Inbound filters ([`crate::filter::FilterConfig`]), validated by
    /// [`crate::filter::parse_config`].
    #[serde(default, deserialize_with = "filter_config")]
    pub filters: crate::filter::FilterConfig,
}

fn scrub_config<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<crate::scrub::ScrubConfig, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    crate::scrub::parse_config(&v).map_err(|e| serde::de::Error::custom(format!("scrub: {e}")))
}

fn filter_config<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<crate::filter::FilterConfig, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    crate::filter::parse_config(&v).map_err(|e| serde::de::Error::custom(format!("filters: {e}")))
}

impl ProjectConfig {
    /// The watchdog settings: the project's override or the defaults.
    pub fn watchdog_config(&self) -> crate::watchdog::WatchdogConfig {
        self.watchdog
            .as_ref()
            .and_then(|v| crate::watchdog::parse_override(v).ok())
            .unwrap_or_default()
    }
}

/// Most members of a project's team list.
pub const MAX_TEAM_MEMBERS: usize = 200;
/// Longest team member name.
pub const MAX_MEMBER_CHARS: usize = 200;

/// Where the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `wrangler dev` on one machine: dev credentials allowed.
    Local,
    /// Anything else: dev credentials refused.
    Production,
}

/// Raw values as the worker reads them from its environment.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    /// `BACKSTOP_ENV`.
    pub env: Option<String>,
    /// `ADMIN_TOKEN` (secret).
    pub admin_token: Option<String>,
    /// `BACKSTOP_PROJECTS` as JSON text.
    pub projects_json: Option<String>,
    /// `BACKSTOP_LIMITS` as JSON text.
    pub limits_json: Option<String>,
    /// `BACKSTOP_INGEST` as JSON text.
    pub ingest_json: Option<String>,
    /// `BACKSTOP_FAULTS` as JSON text (tests only).
    pub faults_json: Option<String>,
    /// `BACKSTOP_RETENTION` as JSON text (how much one retention run may do).
    pub retention_json: Option<String>,
    /// `BACKSTOP_UPLOAD_TOKENS` (secret) as JSON text: `{"<project id>": "<upload token>"}`.
    pub upload_tokens_json: Option<String>,
}

impl RawConfig {
    /// The tunnel path these values name, even when they are invalid as a whole (the default
    /// when `BACKSTOP_INGEST` names none or cannot be read): an invalid deployment must still
    /// recognise its tunnel and answer it 503 with `Retry-After`, since SDKs drop events on 404.
    pub fn tunnel_path(&self) -> String {
        self.ingest_json
            .as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .and_then(|v| v.get("tunnel_path")?.as_str().map(str::to_string))
            .unwrap_or_else(|| IngestOptions::default().tunnel_path)
    }
}

/// Validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Local or production.
    pub environment: Environment,
    /// Token for the read API.
    pub admin_token: String,
    /// Projects by id.
    pub projects: BTreeMap<String, ProjectConfig>,
    /// Size limits.
    pub limits: Limits,
    /// Item handling and the tunnel.
    pub ingest: IngestOptions,
    /// Test-only fault windows (none unless local).
    pub faults: Faults,
    /// How much one retention run may delete.
    pub retention: RunLimits,
    /// Source-map upload token per project (`sentry-cli --auth-token`), apart from the admin
    /// token so a build pipeline can upload maps and do nothing else.
    pub upload_tokens: BTreeMap<String, String>,
}

/// Why the configuration is refused (the worker answers 503 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `BACKSTOP_ENV` is neither `local` nor `production`.
    #[error("BACKSTOP_ENV must be 'local' or 'production', not '{0}'")]
    InvalidEnvironment(String),
    /// No admin token.
    #[error("ADMIN_TOKEN is not set (wrangler secret put ADMIN_TOKEN)")]
    MissingAdminToken,
    /// Admin token too short.
    #[error("ADMIN_TOKEN must be at least 16 characters")]
    WeakAdminToken,
    /// Dev credentials outside local dev.
    #[error("the local development {0} is configured outside local dev; set your own with wrangler secret put / vars")]
    DevCredentialsInProduction(&'static str),
    /// Projects JSON invalid.
    #[error("BACKSTOP_PROJECTS is not valid: {0}")]
    InvalidProjects(String),
    /// Limits JSON invalid.
    #[error("BACKSTOP_LIMITS is not valid: {0}")]
    InvalidLimits(String),
    /// Ingest options invalid.
    #[error("BACKSTOP_INGEST is not valid: {0}")]
    InvalidIngest(String),
    /// Fault windows invalid, or set outside local dev.
    #[error("BACKSTOP_FAULTS is not valid: {0}")]
    InvalidFaults(String),
    /// Retention run limits invalid.
    #[error("BACKSTOP_RETENTION is not valid: {0}")]
    InvalidRetention(String),
    /// Upload tokens invalid.
    #[error("BACKSTOP_UPLOAD_TOKENS is not valid: {0}")]
    InvalidUploadTokens(String),
}

impl Config {
    /// Validates raw values. Called once at the start of each request.
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let environment = match raw.env.as_deref().map(str::trim) {
            None | Some("") | Some("production") => Environment::Production,
            Some("local") => Environment::Local,
            Some(other) => return Err(ConfigError::InvalidEnvironment(other.to_string())),
        };
        let admin_token = raw
            .admin_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::MissingAdminToken)?
            .to_string();
        if admin_token.len() < 16 {
            return Err(ConfigError::WeakAdminToken);
        }
        let projects: BTreeMap<String, ProjectConfig> = match raw.projects_json.as_deref() {
            None => BTreeMap::new(),
            Some(s) if s.trim().is_empty() => BTreeMap::new(),
            Some(s) => {
                serde_json::from_str(s).map_err(|e| ConfigError::InvalidProjects(e.to_string()))?
            }
        };
        for (id, p) in &projects {
            if !is_valid_project_id(id) {
                return Err(ConfigError::InvalidProjects(format!(
                    "project id '{id}' must be 1-64 characters of A-Z a-z 0-9 _ -"
                )));
            }
            if p.public_key.len() < 16 || !p.public_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::InvalidProjects(format!(
                    "public_key of project '{id}' must be at least 16 ASCII letters or digits"
                )));
            }
            if p.team.len() > MAX_TEAM_MEMBERS
                || p.team.iter().any(|m| {
                    m.trim().is_empty() || m.trim() != m || m.chars().count() > MAX_MEMBER_CHARS
                })
            {
                return Err(ConfigError::InvalidProjects(format!(
                    "team of project '{id}' must be at most {MAX_TEAM_MEMBERS} names of 1-{MAX_MEMBER_CHARS} characters without surrounding spaces"
                )));
            }
            if let Some(site) = &p.site_url {
                let ok = url::Url::parse(site)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok || site.len() > 2048 {
                    return Err(ConfigError::InvalidProjects(format!(
                        "site_url of project '{id}' must be an http(s) URL of at most 2048 characters"
                    )));
                }
            }
            if let Some(w) = &p.watchdog {
                if let Err(e) = crate::watchdog::parse_override(w) {
                    return Err(ConfigError::InvalidProjects(format!(
                        "watchdog of project '{id}': {e}"
                    )));
                }
            }
            if let Err(e) = p.retention.validate() {
                return Err(ConfigError::InvalidProjects(format!("project '{id}': {e}")));
            }
            if let Some(Err(e)) = p.quota.map(crate::quota::validate) {
                return Err(ConfigError::InvalidProjects(format!("project '{id}': {e}")));
            }
            if p.rate_limit.burst == 0
                || p.rate_limit.per_second.is_nan()
                || p.rate_limit.per_second < 0.0
            {
                return Err(ConfigError::InvalidProjects(format!(
                    "rate_limit of project '{id}' needs burst >= 1 and per_second >= 0"
                )));
            }
        }
        let limits: Limits = match raw.limits_json.as_deref() {
            None => Limits::default(),
            Some(s) if s.trim().is_empty() => Limits::default(),
            Some(s) => {
                serde_json::from_str(s).map_err(|e| ConfigError::InvalidLimits(e.to_string()))?
            }
        };
        if limits.max_event_bytes == 0
            || limits.max_envelope_bytes == 0
            || limits.max_json_depth == 0
        {
            return Err(ConfigError::InvalidLimits(
                "limits must be greater than zero".into(),
            ));
        }
        let ingest: IngestOptions = match raw.ingest_json.as_deref() {
            None => IngestOptions::default(),
            Some(s) if s.trim().is_empty() => IngestOptions::default(),
            Some(s) => {
                serde_json::from_str(s).map_err(|e| ConfigError::InvalidIngest(e.to_string()))?
            }
        };
        let tunnel = ingest.tunnel_path.to_ascii_lowercase();
        if !tunnel.starts_with('/')
            || tunnel.starts_with("/api/")
            || tunnel.contains("sentry")
            || tunnel.contains("monitoring")
            || tunnel.len() > 100
        {
            return Err(ConfigError::InvalidIngest(format!(
                "tunnel_path '{}' must start with '/', not be under /api/ and not contain 'sentry' or 'monitoring'",
                ingest.tunnel_path
            )));
        }
        if !(1..=3600).contains(&ingest.storage_retry_after_secs) {
            return Err(ConfigError::InvalidIngest(
                "storage_retry_after_secs must be 1 to 3600".into(),
            ));
        }
        let faults = Faults::parse(environment, raw.faults_json.as_deref())?;
        let retention: RunLimits = match raw.retention_json.as_deref() {
            None => RunLimits::default(),
            Some(s) if s.trim().is_empty() => RunLimits::default(),
            Some(s) => {
                serde_json::from_str(s).map_err(|e| ConfigError::InvalidRetention(e.to_string()))?
            }
        };
        retention
            .validate()
            .map_err(ConfigError::InvalidRetention)?;
        let upload_tokens =
            parse_upload_tokens(raw.upload_tokens_json.as_deref(), &projects, &admin_token)?;
        if environment == Environment::Production {
            if admin_token == DEV_ADMIN_TOKEN {
                return Err(ConfigError::DevCredentialsInProduction("admin token"));
            }
            if upload_tokens.values().any(|t| t == DEV_UPLOAD_TOKEN) {
                return Err(ConfigError::DevCredentialsInProduction("upload token"));
            }
            if projects.values().any(|p| p.public_key == DEV_PUBLIC_KEY) {
                return Err(ConfigError::DevCredentialsInProduction("public key"));
            }
        }
        Ok(Self {
            environment,
            admin_token,
            projects,
            limits,
            ingest,
            faults,
            retention,
            upload_tokens,
        })
    }

    /// The project with this id.
    pub fn project(&self, id: &str) -> Option<&ProjectConfig> {
        self.projects.get(id)
    }
}

/// Reads `BACKSTOP_UPLOAD_TOKENS`: each for a configured project, at least
/// [`MIN_UPLOAD_TOKEN_CHARS`] visible ASCII characters, none equal to another or to the admin
/// token (a pipeline's token must not open the admin API).
fn parse_upload_tokens(
    json: Option<&str>,
    projects: &BTreeMap<String, ProjectConfig>,
    admin_token: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let tokens: BTreeMap<String, String> = match json.map(str::trim) {
        None | Some("") => return Ok(BTreeMap::new()),
        Some(s) => {
            serde_json::from_str(s).map_err(|e| ConfigError::InvalidUploadTokens(e.to_string()))?
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    for (project, token) in &tokens {
        if !projects.contains_key(project) {
            return Err(ConfigError::InvalidUploadTokens(format!(
                "project '{}' is not in BACKSTOP_PROJECTS",
                project.chars().take(64).collect::<String>()
            )));
        }
        if token.len() < MIN_UPLOAD_TOKEN_CHARS
            || token.len() > 256
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::InvalidUploadTokens(format!(
                "the token of project '{project}' must be {MIN_UPLOAD_TOKEN_CHARS}-256 visible ASCII characters"
            )));
        }
        if token == admin_token {
            return Err(ConfigError::InvalidUploadTokens(format!(
                "the token of project '{project}' is the admin token"
            )));
        }
        if !seen.insert(token.as_str()) {
            return Err(ConfigError::InvalidUploadTokens(format!(
                "the token of project '{project}' is another project's too"
            )));
        }
    }
    Ok(tokens)
}

/// Project ids are short and safe to use in storage keys.
pub fn is_valid_project_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(env: &str, token: &str, projects: &str) -> RawConfig {
        RawConfig {
            env: Some(env.into()),
            admin_token: Some(token.into()),
            projects_json: Some(projects.into()),
            limits_json: None,
            ingest_json: None,
            faults_json: None,
            retention_json: None,
            upload_tokens_json: None,
        }
    }

    #[test]
    fn validates_config() {
        let dev_projects = format!(r#"{{"1":{{"public_key":"{DEV_PUBLIC_KEY}"}}}}"#);
        let prod_projects = r#"{"web":{"public_key":"0123456789abcdef0123","rate_limit":{"burst":5,"per_second":1}}}"#;
        let cases: Vec<(&str, RawConfig, Result<(), ConfigError>)> = vec![
            (
                "local dev with dev credentials",
                raw("local", DEV_ADMIN_TOKEN, &dev_projects),
                Ok(()),
            ),
            (
                "production with own credentials",
                raw("production", "a-very-long-secret-token", prod_projects),
                Ok(()),
            ),
            (
                "production with dev token",
                raw("production", DEV_ADMIN_TOKEN, prod_projects),
                Err(ConfigError::DevCredentialsInProduction("admin token")),
            ),
            (
                "unset env means production",
                raw("", "a-very-long-secret-token", &dev_projects),
                Err(ConfigError::DevCredentialsInProduction("public key")),
            ),
            (
                "missing token",
                raw("local", "  ", &dev_projects),
                Err(ConfigError::MissingAdminToken),
            ),
            (
                "short token",
                raw("local", "short", &dev_projects),
                Err(ConfigError::WeakAdminToken),
            ),
            (
                "bad env",
                raw("staging", DEV_ADMIN_TOKEN, &dev_projects),
                Err(ConfigError::InvalidEnvironment("staging".into())),
            ),
        ];
        for (name, raw, want) in cases {
            assert_eq!(Config::from_raw(&raw).map(|_| ()), want, "{name}");
        }
    }

    #[test]
    fn rejects_bad_projects_and_limits() {
        for (projects, why) in [
            (r#"{"a b":{"public_key":"0123456789abcdef"}}"#, "bad id"),
            (r#"{"1":{"public_key":"short"}}"#, "short key"),
            (
                r#"{"1":{"public_key":"0123456789abcdef","rate_limit":{"burst":0}}}"#,
                "zero burst",
            ),
            (
                r#"{"1":{"public_key":"0123456789abcdef","extra":1}}"#,
                "unknown field",
            ),
            ("[1,2]", "not an object"),
        ] {
            let r = Config::from_raw(&raw("local", DEV_ADMIN_TOKEN, projects));
            assert!(
                matches!(r, Err(ConfigError::InvalidProjects(_))),
                "{why}: {r:?}"
            );
        }
        let mut r = raw("local", DEV_ADMIN_TOKEN, "{}");
        r.limits_json = Some(r#"{"max_event_bytes":2048}"#.into());
        assert_eq!(Config::from_raw(&r).unwrap().limits.max_event_bytes, 2048);
        r.limits_json = Some(r#"{"max_event_bytes":0}"#.into());
        assert!(matches!(
            Config::from_raw(&r),
            Err(ConfigError::InvalidLimits(_))
        ));
    }

    #[test]
    fn validates_tunnel_path() {
        let mut r = raw("local", DEV_ADMIN_TOKEN, "{}");
        assert_eq!(Config::from_raw(&r).unwrap().ingest.tunnel_path, "/tunnel");
        for (path, ok) in [
            ("/bs", true),
            ("/t/e", true),
            ("/sentry-tunnel", false),
            ("/Monitoring", false),
            ("/api/x", false),
            ("x", false),
        ] {
            r.ingest_json = Some(format!(r#"{{"tunnel_path":"{path}"}}"#));
            assert_eq!(Config::from_raw(&r).is_ok(), ok, "{path}");
        }
    }

    #[test]
    fn storage_retry_after_and_faults_are_validated() {
        let local = |ingest: Option<&str>, faults: Option<&str>| RawConfig {
            ingest_json: ingest.map(str::to_string),
            faults_json: faults.map(str::to_string),
            ..raw("local", DEV_ADMIN_TOKEN, "")
        };
        let window = r#"{"r2": {"from": 1, "until": 2}}"#;
        let cases = [
            (local(None, None), Some(30), "default Retry-After"),
            (
                local(Some(r#"{"storage_retry_after_secs": 2}"#), None),
                Some(2),
                "configured",
            ),
            (
                local(Some(r#"{"storage_retry_after_secs": 0}"#), None),
                None,
                "zero",
            ),
            (
                local(Some(r#"{"storage_retry_after_secs": 3601}"#), None),
                None,
                "over an hour",
            ),
            (
                local(None, Some(window)),
                Some(30),
                "fault windows in local dev",
            ),
            (
                RawConfig {
                    faults_json: Some(window.into()),
                    ..raw("production", "0123456789abcdef0123", "")
                },
                None,
                "fault windows outside local dev",
            ),
        ];
        for (r, want, msg) in cases {
            let got = Config::from_raw(&r)
                .ok()
                .map(|c| c.ingest.storage_retry_after_secs);
            assert_eq!(got, want, "{msg}");
        }
        let prod = |faults: Option<&str>| RawConfig {
            faults_json: faults.map(str::to_string),
            ..raw("production", "0123456789abcdef0123", "")
        };
        assert!(
            Config::from_raw(&prod(None)).is_ok(),
            "production without faults"
        );
        assert!(
            matches!(
                Config::from_raw(&prod(Some(window))),
                Err(ConfigError::InvalidFaults(_))
            ),
            "production with faults is refused for them"
        );
    }

    #[test]
    fn validates_upload_tokens() {
        let dev_projects = format!(r#"{{"1":{{"public_key":"{DEV_PUBLIC_KEY}"}}}}"#);
        let prod_projects = r#"{"web":{"public_key":"0123456789abcdef0123"}}"#;
        let with = |env: &str, token: &str, projects: &str, tokens: &str| RawConfig {
            upload_tokens_json: Some(tokens.into()),
            ..raw(env, token, projects)
        };
        let prod_token = "a-very-long-secret-token";
        let cases = [
            (
                "local dev token",
                with(
                    "local",
                    DEV_ADMIN_TOKEN,
                    &dev_projects,
                    &format!(r#"{{"1":"{DEV_UPLOAD_TOKEN}"}}"#),
                ),
                Ok(()),
            ),
            (
                "dev token in production",
                with(
                    "production",
                    prod_token,
                    prod_projects,
                    &format!(r#"{{"web":"{DEV_UPLOAD_TOKEN}"}}"#),
                ),
                Err(ConfigError::DevCredentialsInProduction("upload token")),
            ),
            (
                "own token in production",
                with(
                    "production",
                    prod_token,
                    prod_projects,
                    r#"{"web":"ci-upload-0123456789"}"#,
                ),
                Ok(()),
            ),
            (
                "unknown project",
                with(
                    "production",
                    prod_token,
                    prod_projects,
                    r#"{"app":"ci-upload-0123456789"}"#,
                ),
                Err(ConfigError::InvalidUploadTokens(
                    "project 'app' is not in BACKSTOP_PROJECTS".into(),
                )),
            ),
            (
                "short token",
                with(
                    "production",
                    prod_token,
                    prod_projects,
                    r#"{"web":"short"}"#,
                ),
                Err(ConfigError::InvalidUploadTokens(
                    "the token of project 'web' must be 16-256 visible ASCII characters".into(),
                )),
            ),
            (
                "the admin token",
                with(
                    "production",
                    prod_token,
                    prod_projects,
                    &format!(r#"{{"web":"{prod_token}"}}"#),
                ),
                Err(ConfigError::InvalidUploadTokens(
                    "the token of project 'web' is the admin token".into(),
                )),
            ),
            (
                "not JSON",
                with("production", prod_token, prod_projects, "web=abc"),
                Err(ConfigError::InvalidUploadTokens(
                    "expected value at line 1 column 1".into(),
                )),
            ),
        ];
        for (name, r, want) in cases {
            assert_eq!(Config::from_raw(&r).map(|_| ()), want, "{name}");
        }
    }

    #[test]
    fn an_invalid_config_still_names_its_tunnel() {
        let cases = [
            ("no ingest options", None, "/tunnel"),
            ("unreadable options", Some("{nope"), "/tunnel"),
            (
                "options with an unknown field",
                Some(r#"{"tunnel_path":"/t","x":1}"#),
                "/t",
            ),
            (
                "an invalid tunnel path",
                Some(r#"{"tunnel_path":"/api/t"}"#),
                "/api/t",
            ),
        ];
        for (name, ingest, want) in cases {
            let r = RawConfig {
                env: Some("production".into()),
                admin_token: Some(DEV_ADMIN_TOKEN.into()),
                ingest_json: ingest.map(str::to_string),
                ..RawConfig::default()
            };
            assert!(Config::from_raw(&r).is_err(), "{name}: invalid as a whole");
            assert_eq!(r.tunnel_path(), want, "{name}");
        }
    }

    #[test]
    fn retention_and_quota_are_validated_with_field_and_limit() {
        let project =
            |extra: &str| format!(r#"{{"1":{{"public_key":"0123456789abcdef"{extra}}}}}"#);
        let cases = [
            ("", None),
            (r#","quota":5,"retention":{"events_days":7}"#, None),
            (r#","quota":0"#, Some("project '1': quota must be 1 to")),
            (
                r#","retention":{"events_days":0}"#,
                Some("project '1': retention.events_days must be 1 to 3650, not 0"),
            ),
            (
                r#","retention":{"counts_days":10}"#,
                Some("retention.counts_days must be 28 to 3650"),
            ),
            (r#","retention":{"days":10}"#, Some("unknown field `days`")),
            (r#","quota":-1"#, Some("BACKSTOP_PROJECTS is not valid")),
        ];
        for (extra, want) in cases {
            let got = Config::from_raw(&raw("local", DEV_ADMIN_TOKEN, &project(extra)));
            match (got, want) {
                (Ok(c), None) => {
                    let p = c.project("1").unwrap();
                    assert!(p.retention.validate().is_ok(), "{extra}");
                }
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{extra}: {e}"),
                (got, want) => panic!("{extra}: {got:?}, want {want:?}"),
            }
        }
        let c =
            Config::from_raw(&raw("local", DEV_ADMIN_TOKEN, &project(r#","quota":5"#))).unwrap();
        assert_eq!(c.project("1").unwrap().quota, Some(5));
        assert_eq!(
            c.project("1").unwrap().retention,
            RetentionConfig::default()
        );
        assert_eq!(c.retention, RunLimits::default());
        let mut r = raw("local", DEV_ADMIN_TOKEN, "{}");
        r.retention_json = Some(r#"{"batch_rows":5,"batches_per_task":2}"#.into());
        assert_eq!(Config::from_raw(&r).unwrap().retention.batch_rows, 5);
        r.retention_json = Some(r#"{"batch_rows":501}"#.into());
        let e = Config::from_raw(&r).unwrap_err().to_string();
        assert!(
            e.contains("BACKSTOP_RETENTION is not valid: batch_rows must be 1 to 500"),
            "{e}"
        );
    }
}
