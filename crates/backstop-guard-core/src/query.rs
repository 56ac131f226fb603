//! `GET /api/webhooks/deliveries?status=&route=&since=&until=&query=&limit=`, validated.

use super::delivery::DeliveryStatus;
use super::WebhookError;
use backstop_server_core::error::ApiError;
use backstop_server_core::query::EventQuery;

/// A deliveries listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Statuses to list (`status=held,failed`); empty lists all.
    pub statuses: Vec<DeliveryStatus>,
    /// Only this route.
    pub route: Option<String>,
    /// Received at or after (epoch ms; RFC 3339 accepted).
    pub since: Option<u64>,
    /// Received before.
    pub until: Option<u64>,
    /// Substring of sender hints, path or content type (case-insensitive).
    pub query: Option<String>,
    /// Page size (1-500, default 100).
    pub limit: u32,
}

impl DeliveryQuery {
    /// Reads the query-string pairs.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, WebhookError> {
        let base = EventQuery::from_pairs(pairs.clone()).map_err(|e| match e {
            ApiError::InvalidParam { name, detail } => WebhookError::InvalidParam { name, detail },
            other => WebhookError::InvalidParam {
                name: "query",
                detail: other.to_string(),
            },
        })?;
        let mut statuses = Vec::new();
        let mut route = None;
        for (k, v) in pairs {
            match k {
                "status" => {
                    for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let st =
                            DeliveryStatus::parse(s).ok_or_else(|| WebhookError::InvalidParam {
                                name: "status",
                                detail:
                                    "one or more of held, failed, delivered, exhausted, refused"
                                        .into(),
                            })?;
                        if !statuses.contains(&st) {
                            statuses.push(st);
                        }
                    }
                }
                "route" if !v.trim().is_empty() => {
                    if v.len() > 64 {
                        return Err(WebhookError::InvalidParam {
                            name: "route",
                            detail: "at most 64 characters".into(),
                        });
                    }
                    route = Some(v.trim().to_string());
                }
                _ => {}
            }
        }
        Ok(Self {
            statuses,
            route,
            since: base.since,
            until: base.until,
            query: base.query.clone(),
            limit: base.limit,
        })
    }

    /// The search text as a SQL `LIKE` pattern with `\` as the escape character.
    pub fn like_pattern(&self) -> Option<String> {
        EventQuery {
            since: None,
            until: None,
            query: self.query.clone(),
            limit: self.limit,
        }
        .like_pattern()
    }

    /// The statuses as a comma-separated list for `instr(',' || ?1 || ',', ...)`-style SQL, or
    /// `None` for all.
    pub fn status_list(&self) -> Option<String> {
        (!self.statuses.is_empty()).then(|| {
            self.statuses
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_delivery_queries() {
        let long_route = "r".repeat(65);
        let cases: Vec<(
            Vec<(&str, &str)>,
            Result<(Option<&str>, Option<&str>, Option<&str>, u32), &str>,
        )> = vec![
            (vec![], Ok((None, None, None, 100))),
            (
                vec![
                    ("status", "held,failed"),
                    ("query", "alice@"),
                    ("limit", "10"),
                    ("route", "email"),
                ],
                Ok((Some("held,failed"), Some("alice@"), Some("email"), 10)),
            ),
            (
                vec![("status", "held, held ,")],
                Ok((Some("held"), None, None, 100)),
            ),
            (vec![("status", "lost")], Err("status")),
            (vec![("since", "yesterday")], Err("since")),
            (vec![("limit", "0")], Err("limit")),
            (vec![("route", long_route.as_str())], Err("route")),
        ];
        for (pairs, want) in cases {
            let got = DeliveryQuery::from_pairs(pairs.iter().copied());
            let got = match &got {
                Ok(q) => Ok((q.status_list(), q.query.clone(), q.route.clone(), q.limit)),
                Err(WebhookError::InvalidParam { name, .. }) => Err(*name),
                Err(e) => panic!("{e}"),
            };
            let got = got
                .as_ref()
                .map(|(s, q, r, l)| (s.as_deref(), q.as_deref(), r.as_deref(), *l))
                .map_err(|e| *e);
            assert_eq!(got, want, "{pairs:?}");
        }
        let q = DeliveryQuery::from_pairs([("query", "50%")]).unwrap();
        assert_eq!(q.like_pattern().as_deref(), Some("%50\\%%"));
    }
}
