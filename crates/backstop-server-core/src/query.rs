//! Read-API query parameters, validated into typed values.

use crate::error::ApiError;
use crate::time::parse_rfc3339_ms;

/// Default and largest page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// `GET /api/{project}/events?since=&until=&query=&limit=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Received at or after (epoch ms).
    pub since: Option<u64>,
    /// Received before (epoch ms).
    pub until: Option<u64>,
    /// Substring searched in message, type, url, tags and user email (case-insensitive).
    pub query: Option<String>,
    /// Page size.
    pub limit: u32,
}

impl EventQuery {
    /// Reads the query-string pairs.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let mut q = Self {
            since: None,
            until: None,
            query: None,
            limit: DEFAULT_LIMIT,
        };
        for (k, v) in pairs {
            match k {
                "since" if !v.is_empty() => q.since = Some(parse_time("since", v)?),
                "until" if !v.is_empty() => q.until = Some(parse_time("until", v)?),
                "query" | "q" if !v.trim().is_empty() => {
                    if v.chars().count() > 200 {
                        return Err(ApiError::InvalidParam {
                            name: "query",
                            detail: "at most 200 characters".into(),
                        });
                    }
                    q.query = Some(v.trim().to_string());
                }
                "limit" if !v.is_empty() => {
                    q.limit = v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| ApiError::InvalidParam {
                            name: "limit",
                            detail: format!("a whole number from 1 to {MAX_LIMIT}"),
                        })?;
                }
                _ => {}
            }
        }
        if let (Some(s), Some(u)) = (q.since, q.until) {
            if s > u {
                return Err(ApiError::InvalidParam {
                    name: "since",
                    detail: "since is after until".into(),
                });
            }
        }
        Ok(q)
    }

    /// The query as a SQL `LIKE` pattern with `\` as the escape character.
    pub fn like_pattern(&self) -> Option<String> {
        self.query.as_ref().map(|q| {
            let mut p = String::from("%");
            for c in q.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        })
    }
}

/// Epoch milliseconds or RFC 3339.
fn parse_time(name: &'static str, v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>()
        .ok()
        .or_else(|| parse_rfc3339_ms(v))
        .ok_or_else(|| ApiError::InvalidParam {
            name,
            detail: format!(
                "'{}' is neither epoch milliseconds nor RFC 3339",
                v.chars().take(40).collect::<String>()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_queries() {
        let cases: Vec<(
            Vec<(&str, &str)>,
            Result<(Option<u64>, Option<u64>, Option<&str>, u32), &str>,
        )> = vec![
            (vec![], Ok((None, None, None, 100))),
            (
                vec![
                    ("since", "1000"),
                    ("until", "2026-11-22T10:00:00Z"),
                    ("query", " TypeError "),
                    ("limit", "5"),
                ],
                Ok((Some(1000), Some(1_795_341_600_000), Some("TypeError"), 5)),
            ),
            (
                vec![("since", ""), ("query", "   ")],
                Ok((None, None, None, 100)),
            ),
            (vec![("since", "tomorrow")], Err("since")),
            (vec![("limit", "0")], Err("limit")),
            (vec![("limit", "501")], Err("limit")),
            (vec![("since", "5"), ("until", "4")], Err("since")),
        ];
        for (pairs, want) in cases {
            let got = EventQuery::from_pairs(pairs.clone())
                .map(|q| (q.since, q.until, q.query.clone(), q.limit));
            let got = got
                .as_ref()
                .map(|(s, u, q, l)| (*s, *u, q.as_deref(), *l))
                .map_err(|e| match e {
                    ApiError::InvalidParam { name, .. } => *name,
                    _ => "other",
                });
            assert_eq!(got, want, "{pairs:?}");
        }
    }

    #[test]
    fn escapes_like_wildcards() {
        let q = EventQuery::from_pairs([("query", "50%_a\\b")]).unwrap();
        assert_eq!(q.like_pattern().unwrap(), "%50\\%\\_a\\\\b%");
    }
}
