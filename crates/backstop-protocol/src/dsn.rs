//! DSN parsing: `{scheme}://{public_key}[:{secret}]@{host}[:{port}][/{path}]/{project_id}`.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: String,
    /// The project's public key.
    pub public_key: String,
    /// `host[:port]`.
    pub host: String,
    /// Path prefix before the project id, without leading or trailing slash (usually empty).
    pub path: String,
    /// Project id (a string in the protocol).
    pub project_id: String,
}

/// Why a DSN string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseDsnError {
    /// No `scheme://`, or a scheme other than http/https.
    InvalidScheme,
    /// No `key@` part, or an empty key.
    MissingPublicKey,
    /// Empty host.
    MissingHost,
    /// No project id after the host.
    MissingProjectId,
}

impl fmt::Display for ParseDsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidScheme => "DSN must start with http:// or https://",
            Self::MissingPublicKey => "DSN has no public key (expected key@host)",
            Self::MissingHost => "DSN has no host",
            Self::MissingProjectId => "DSN has no project id",
        })
    }
}

impl Dsn {
    /// Parses a DSN string.
    pub fn parse(s: &str) -> Result<Self, ParseDsnError> {
        let s = s.trim();
        // A byte scan, not `split_once("://")`: core's string searcher is kilobytes of the
        // browser SDK's wasm, and this is its only use there.
        let sep = s.as_bytes().windows(3).position(|w| w == b"://");
        let (scheme, rest) = sep
            .and_then(|i| Some((s.get(..i)?, s.get(i + 3..)?)))
            .ok_or(ParseDsnError::InvalidScheme)?;
        if scheme != "http" && scheme != "https" {
            return Err(ParseDsnError::InvalidScheme);
        }
        let (auth, rest) = rest
            .split_once('@')
            .ok_or(ParseDsnError::MissingPublicKey)?;
        let public_key = auth.split(':').next().unwrap_or_default();
        if public_key.is_empty() {
            return Err(ParseDsnError::MissingPublicKey);
        }
        let (host, path) = match rest.split_once('/') {
            Some((h, p)) => (h, p),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(ParseDsnError::MissingHost);
        }
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = match path.rsplit_once('/') {
            Some((p, id)) => (p, id),
            None => ("", path),
        };
        // `https://k@host/1 /` (a pasted DSN with a stray space before a trailing slash) is
        // project `1`: the outer trim alone would leave `1 `, which matches no project and
        // prints as a DSN that parses differently.
        let project_id = project_id.trim();
        if project_id.is_empty() {
            return Err(ParseDsnError::MissingProjectId);
        }
        Ok(Self {
            scheme: scheme.to_string(),
            public_key: public_key.to_string(),
            host: host.to_string(),
            path: prefix.to_string(),
            project_id: project_id.to_string(),
        })
    }

    /// Base URL of the ingest API: `scheme://host[/path]`.
    pub fn base_url(&self) -> String {
        if self.path.is_empty() {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}/{}", self.scheme, self.host, self.path)
        }
    }

    /// The envelope endpoint with auth in the query string (no CORS preflight needed).
    pub fn envelope_url(&self, client: &str) -> String {
        format!(
            "{}/api/{}/envelope/?sentry_version=7&sentry_key={}&sentry_client={}",
            self.base_url(),
            self.project_id,
            self.public_key,
            client
        )
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.base_url();
        let (scheme, rest) = base.split_once("://").unwrap_or(("", &base));
        write!(
            f,
            "{scheme}://{}@{rest}/{}",
            self.public_key, self.project_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dsns_and_rejects_bad_ones() {
        let cases: &[(&str, Result<(&str, &str, &str, &str), ParseDsnError>)] = &[
            (
                "http://abc@127.0.0.1:8787/1",
                Ok(("abc", "127.0.0.1:8787", "", "1")),
            ),
            (
                "https://k:secret@o1.example.com/sub/path/42",
                Ok(("k", "o1.example.com", "sub/path", "42")),
            ),
            ("https://k@host/7/", Ok(("k", "host", "", "7"))),
            ("https://k@host/7 /", Ok(("k", "host", "", "7"))),
            ("https://k@host/p/ 7", Ok(("k", "host", "p", "7"))),
            ("https://k@host/ /", Err(ParseDsnError::MissingProjectId)),
            ("ftp://k@host/1", Err(ParseDsnError::InvalidScheme)),
            ("host/1", Err(ParseDsnError::InvalidScheme)),
            ("https://host/1", Err(ParseDsnError::MissingPublicKey)),
            ("https://@host/1", Err(ParseDsnError::MissingPublicKey)),
            ("https://k@/1", Err(ParseDsnError::MissingHost)),
            ("https://k@host", Err(ParseDsnError::MissingProjectId)),
        ];
        for (input, want) in cases {
            let got = Dsn::parse(input).map(|d| (d.public_key, d.host, d.path, d.project_id));
            let want = want
                .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()));
            assert_eq!(got, want, "case {input}");
        }
    }

    #[test]
    fn envelope_url_carries_key_in_query() {
        let d = Dsn::parse("http://abc@127.0.0.1:8787/1").unwrap();
        assert_eq!(
            d.envelope_url("x/1"),
            "http://127.0.0.1:8787/api/1/envelope/?sentry_version=7&sentry_key=abc&sentry_client=x/1"
        );
        assert_eq!(d.to_string(), "http://abc@127.0.0.1:8787/1");
    }

    #[test]
    fn printed_dsn_parses_to_the_same_value() {
        for input in [
            "http://c0d0@127/su\u{1}\0\u{7f}\0z /",
            "https://k:secret@o1.example.com/sub/path/42",
            "http://a@b/c@d/1",
        ] {
            let d = Dsn::parse(input).unwrap();
            assert_eq!(Dsn::parse(&d.to_string()), Ok(d), "case {input:?}");
        }
    }
}
