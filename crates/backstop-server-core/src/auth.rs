//! Authentication: the project's public key for ingest (query string, `X-Sentry-Auth` or the
//! envelope header's DSN; when several are present they must agree) and the admin token for the
//! read API.

use crate::config::{Config, ProjectConfig};
use crate::error::{ApiError, IngestError};

/// The fields of an `X-Sentry-Auth` header we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentryAuth {
    /// `sentry_key`.
    pub key: Option<String>,
    /// `sentry_client`.
    pub client: Option<String>,
}

/// Parses `Sentry sentry_version=7, sentry_client=x/1, sentry_key=abc`.
pub fn parse_sentry_auth(header: &str) -> SentryAuth {
    let rest = header.trim();
    let rest = rest
        .strip_prefix("Sentry ")
        .or_else(|| rest.strip_prefix("sentry "))
        .unwrap_or(rest);
    let mut auth = SentryAuth::default();
    for part in rest.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "sentry_key" if !v.is_empty() => auth.key = Some(v),
            "sentry_client" => auth.client = Some(v),
            _ => {}
        }
    }
    auth
}

/// Checks the key(s) a request presents against the project's public key. Every key present
/// must agree; at least one must be present.
pub fn authenticate_ingest<'c>(
    config: &'c Config,
    project_id: &str,
    keys: &[Option<&str>],
) -> Result<&'c ProjectConfig, IngestError> {
    let project = config
        .project(project_id)
        .ok_or_else(|| IngestError::UnknownProject(project_id.chars().take(64).collect()))?;
    let present: Vec<&str> = keys.iter().flatten().copied().collect();
    let Some(first) = present.first() else {
        return Err(IngestError::MissingAuth);
    };
    if present.iter().any(|k| k != first) {
        return Err(IngestError::ConflictingAuth);
    }
    if !constant_time_eq(first.as_bytes(), project.public_key.as_bytes()) {
        return Err(IngestError::InvalidKey);
    }
    Ok(project)
}

/// The key and project of an envelope header's `dsn`, checked against the request's project.
pub fn dsn_key(dsn: Option<&str>, project_id: &str) -> Result<Option<String>, IngestError> {
    let Some(dsn) = dsn else { return Ok(None) };
    let dsn = backstop_protocol::Dsn::parse(dsn)
        .map_err(|e| IngestError::InvalidEnvelope(format!("envelope header dsn: {e}")))?;
    if dsn.project_id != project_id {
        return Err(IngestError::DsnProjectMismatch);
    }
    Ok(Some(dsn.public_key))
}

/// Checks `Authorization: Bearer <token>` against the admin token.
pub fn authenticate_admin(config: &Config, authorization: Option<&str>) -> Result<(), ApiError> {
    let token = authorization
        .map(str::trim)
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::MissingToken)?;
    if constant_time_eq(token.as_bytes(), config.admin_token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// Compares without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawConfig, DEV_ADMIN_TOKEN};

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn config() -> Config {
        Config::from_raw(&RawConfig {
            env: Some("local".into()),
            admin_token: Some(DEV_ADMIN_TOKEN.into()),
            projects_json: Some(format!(r#"{{"1":{{"public_key":"{KEY}"}}}}"#)),
            limits_json: None,
            ingest_json: None,
            faults_json: None,
            retention_json: None,
            upload_tokens_json: None,
        })
        .unwrap()
    }

    #[test]
    fn parses_x_sentry_auth() {
        let a = parse_sentry_auth("Sentry sentry_version=7, sentry_client=sentry.javascript.browser/8.0.0, sentry_key=abc, sentry_secret=s");
        assert_eq!(a.key.as_deref(), Some("abc"));
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.browser/8.0.0"));
        assert_eq!(parse_sentry_auth("garbage").key, None);
        assert_eq!(parse_sentry_auth("Sentry sentry_key=").key, None);
    }

    #[test]
    fn authenticates_ingest() {
        let c = config();
        let cases: Vec<(&str, Vec<Option<&str>>, Result<(), &str>)> = vec![
            ("1", vec![Some(KEY), None], Ok(())),
            ("1", vec![None, Some(KEY)], Ok(())),
            ("1", vec![Some(KEY), Some(KEY)], Ok(())),
            ("1", vec![None, None], Err("missing_auth")),
            ("1", vec![Some("wrong")], Err("invalid_key")),
            ("1", vec![Some(KEY), Some("other")], Err("conflicting_auth")),
            ("2", vec![Some(KEY)], Err("unknown_project")),
        ];
        for (project, keys, want) in cases {
            let got = authenticate_ingest(&c, project, &keys)
                .map(|_| ())
                .map_err(|e| e.code());
            assert_eq!(got, want, "{project} {keys:?}");
        }
    }

    #[test]
    fn reads_the_envelope_dsn() {
        let cases: Vec<(Option<&str>, Result<Option<&str>, &str>)> = vec![
            (None, Ok(None)),
            (Some("http://abc@host:1/1"), Ok(Some("abc"))),
            (Some("http://abc@host:1/2"), Err("dsn_project_mismatch")),
            (Some("not a dsn"), Err("invalid_envelope")),
        ];
        for (dsn, want) in cases {
            let got = dsn_key(dsn, "1");
            assert_eq!(
                got.as_ref().map(|k| k.as_deref()).map_err(|e| e.code()),
                want,
                "{dsn:?}"
            );
        }
    }

    #[test]
    fn authenticates_admin() {
        let c = config();
        let bearer = format!("Bearer {DEV_ADMIN_TOKEN}");
        let cases = [
            (Some(bearer.as_str()), Ok(())),
            (None, Err(ApiError::MissingToken)),
            (Some("Bearer "), Err(ApiError::MissingToken)),
            (Some("Basic abc"), Err(ApiError::MissingToken)),
            (Some("Bearer nope"), Err(ApiError::InvalidToken)),
        ];
        for (h, want) in cases {
            assert_eq!(authenticate_admin(&c, h), want, "{h:?}");
        }
    }
}
