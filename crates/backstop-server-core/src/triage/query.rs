//! The issue list's query string: `GET /api/{project}/issues?status=&assigned=&environment=
//! &release=&query=&sort=&limit=`, validated into an [`IssueQuery`] the glue turns into one
//! parameterised statement.

use crate::error::ApiError;

use super::Status;

/// Most issues one list returns.
pub const MAX_LIMIT: u32 = 500;
/// Longest free-text filter.
pub const MAX_FILTER_CHARS: usize = 200;

/// How the list is ordered (newest or biggest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Last seen (the default).
    LastSeen,
    /// First seen.
    FirstSeen,
    /// Events.
    Events,
    /// Users affected.
    Users,
}

impl Sort {
    /// The column to order by (a fixed name, never user text).
    pub fn column(self) -> &'static str {
        match self {
            Self::LastSeen => "last_seen",
            Self::FirstSeen => "first_seen",
            Self::Events => "count",
            Self::Users => "users",
        }
    }
}

/// Who an issue is assigned to, as a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assigned {
    /// Nobody (`assigned=none`).
    Nobody,
    /// Anybody (`assigned=any`).
    Anybody,
    /// This member.
    To(String),
}

/// A validated issue list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueQuery {
    /// Only this status (`None`: all).
    pub status: Option<Status>,
    /// Only issues assigned so.
    pub assigned: Option<Assigned>,
    /// Only issues with events in this environment.
    pub environment: Option<String>,
    /// Only issues with events in this release.
    pub release: Option<String>,
    /// Text in the title or culprit.
    pub text: Option<String>,
    /// Order.
    pub sort: Sort,
    /// How many.
    pub limit: u32,
}

fn invalid(name: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidParam {
        name,
        detail: detail.into(),
    }
}

fn text(name: &'static str, v: &str) -> Result<Option<String>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_FILTER_CHARS {
        return Err(invalid(
            name,
            format!("longer than {MAX_FILTER_CHARS} characters"),
        ));
    }
    Ok(Some(v.to_string()))
}

impl IssueQuery {
    /// Validates query pairs. Unknown parameters are refused, so a typo is not a silent
    /// "everything" (`id` is the bulk-update selector and allowed).
    pub fn from_pairs<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let mut q = Self {
            status: None,
            assigned: None,
            environment: None,
            release: None,
            text: None,
            sort: Sort::LastSeen,
            limit: 100,
        };
        for (k, v) in pairs {
            match k {
                "status" => {
                    q.status = match v.trim() {
                        "" | "all" => None,
                        s => Some(Status::parse(s).ok_or_else(|| {
                            invalid("status", "one of unresolved, resolved, ignored, all")
                        })?),
                    }
                }
                "assigned" => {
                    q.assigned = match v.trim() {
                        "" => None,
                        "none" => Some(Assigned::Nobody),
                        "any" => Some(Assigned::Anybody),
                        _ => text("assigned", v)?.map(Assigned::To),
                    }
                }
                "environment" => q.environment = text("environment", v)?,
                "release" => q.release = text("release", v)?,
                "query" => q.text = text("query", v)?,
                "sort" => {
                    q.sort = match v.trim() {
                        "" | "last_seen" | "date" => Sort::LastSeen,
                        "first_seen" | "new" => Sort::FirstSeen,
                        "events" | "freq" => Sort::Events,
                        "users" | "user" => Sort::Users,
                        _ => {
                            return Err(invalid(
                                "sort",
                                "one of last_seen, first_seen, events, users",
                            ))
                        }
                    }
                }
                "limit" => {
                    q.limit = v
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| invalid("limit", format!("a whole number from 1 to {MAX_LIMIT}")))?;
                }
                "id" => {}
                _ => {
                    return Err(invalid(
                        "query",
                        format!(
                            "unknown parameter {:?}; known: status, assigned, environment, release, query, sort, limit",
                            k.chars().take(40).collect::<String>()
                        ),
                    ))
                }
            }
        }
        Ok(q)
    }

    /// The `LIKE` pattern of the text filter, with `%`, `_` and `\` escaped (`ESCAPE '\'`).
    pub fn like_pattern(&self) -> Option<String> {
        self.text.as_ref().map(|t| {
            let mut out = String::from("%");
            for c in t.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('%');
            out
        })
    }
}

/// The issue ids of a bulk update (`?id=1&id=2`): at least one, at most [`MAX_LIMIT`], each a
/// positive integer.
pub fn bulk_ids<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Vec<u64>, ApiError> {
    let mut ids = Vec::new();
    for (k, v) in pairs {
        if k == "id" {
            let id = parse_issue_id(v)
                .ok_or_else(|| invalid("id", "issue ids are positive whole numbers"))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Err(invalid("id", "name the issues: ?id=1&id=2"));
    }
    if ids.len() > MAX_LIMIT as usize {
        return Err(invalid("id", format!("at most {MAX_LIMIT} issues at once")));
    }
    Ok(ids)
}

/// An issue id from a path or query segment.
pub fn parse_issue_id(s: &str) -> Option<u64> {
    s.parse::<u64>()
        .ok()
        .filter(|id| (1..=crate::stats::MAX_STORED_INT).contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[(&str, &str)]) -> Result<IssueQuery, ApiError> {
        IssueQuery::from_pairs(s.iter().copied())
    }

    #[test]
    fn reads_filters() {
        let x = q(&[
            ("status", "unresolved"),
            ("assigned", "none"),
            ("environment", "prod"),
            ("release", "1.4.2"),
            ("query", "50%_off"),
            ("sort", "users"),
            ("limit", "20"),
        ])
        .unwrap();
        assert_eq!(x.status, Some(Status::Unresolved));
        assert_eq!(x.assigned, Some(Assigned::Nobody));
        assert_eq!(x.sort.column(), "users");
        assert_eq!(x.limit, 20);
        assert_eq!(
            x.like_pattern().as_deref(),
            Some("%50\\%\\_off%"),
            "LIKE wildcards escaped"
        );
        let all = q(&[("status", "all"), ("assigned", "alice")]).unwrap();
        assert_eq!(
            (all.status, all.assigned),
            (None, Some(Assigned::To("alice".into())))
        );
    }

    #[test]
    fn refuses_bad_values() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[("status", "open")], "status"),
            (&[("sort", "random()")], "sort"),
            (&[("limit", "0")], "limit"),
            (&[("limit", "501")], "limit"),
            (&[("stauts", "resolved")], "query"),
            (&[("query", &"x".repeat(201))], "query"),
        ];
        for (pairs, name) in cases {
            match q(pairs) {
                Err(ApiError::InvalidParam { name: n, .. }) => assert_eq!(n, name, "{pairs:?}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn bulk_ids_are_checked() {
        assert_eq!(
            bulk_ids([("id", "3"), ("id", "1"), ("id", "3")].into_iter()).unwrap(),
            vec![3, 1]
        );
        assert!(
            bulk_ids([("status", "x")].into_iter()).is_err(),
            "none named"
        );
        assert!(bulk_ids([("id", "0")].into_iter()).is_err());
        assert!(bulk_ids([("id", "-1")].into_iter()).is_err());
        assert!(bulk_ids([("id", "1e3")].into_iter()).is_err());
    }
}
