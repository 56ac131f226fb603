//! Daily event quotas per project: how many events a project may store per UTC day, counted in
//! the same Durable Object as its rate limit (one object per project key), so ingest asks once
//! per request and the count is exact under concurrency (the object handles one request at a
//! time).
//!
//! What counts: a request that stores at least one event (an error, message, feedback, or a
//! transaction when `store_transactions` is on) counts **one**, whatever else its envelope
//! carries (attachments, sessions, client reports count nothing). Sentry SDKs send one event
//! per envelope, so for them this is one per event, and an envelope is admitted or refused as a
//! whole (never half stored). Requests that store no event (sessions, client reports,
//! attachments alone, transactions that are only counted) never count and are never refused by
//! the quota: release health and the silence watchdog keep their signal when the quota is spent.
//! The day is the UTC day of the limiter's clock; the count starts again at 00:00 UTC.

use serde::{Deserialize, Serialize};

use crate::rate_limit::{lease_size, RateDecision, RateLimitConfig, TokenBucket};

/// Milliseconds in a UTC day.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// Smallest quota a project may configure.
pub const MIN_QUOTA: u64 = 1;
/// Largest quota a project may configure (what storage counts exactly, 2^53 − 1).
pub const MAX_QUOTA: u64 = (1 << 53) - 1;
/// The reason code sent in `X-Sentry-Rate-Limits` for a spent quota.
pub const REASON_CODE: &str = "quota_exceeded";

/// The UTC day `now_ms` falls in (days since the epoch).
pub fn utc_day(now_ms: u64) -> u64 {
    now_ms / DAY_MS
}

/// Whole seconds from `now_ms` to the next 00:00 UTC (at least 1), rounded up so a client that
/// waits this long is in the next day.
pub fn secs_to_next_day(now_ms: u64) -> u64 {
    let next = (utc_day(now_ms) + 1) * DAY_MS;
    next.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// Events counted in one UTC day: the state kept beside the token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DayCount {
    /// The UTC day counted ([`utc_day`]).
    pub day: u64,
    /// Events accepted that day.
    pub used: u64,
}

/// What the quota says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaDecision {
    /// Admitted; `used` is the day's count including this request.
    Within {
        /// Events counted today, this request included.
        used: u64,
    },
    /// Refused: the day's `limit` is spent until the next UTC day.
    Exceeded {
        /// The project's quota.
        limit: u64,
        /// Seconds to the next UTC day.
        retry_after_secs: u64,
    },
}

impl DayCount {
    /// Counts a request carrying `events` (0 or 1, see the module doc) against `limit`. A new
    /// UTC day starts from zero; a clock that goes back to an earlier day keeps the later
    /// day's count (never resets by going backwards). A refused request is not counted.
    pub fn take(&mut self, limit: u64, events: u64, now_ms: u64) -> QuotaDecision {
        let day = utc_day(now_ms);
        if day > self.day {
            *self = Self { day, used: 0 };
        }
        if events == 0 {
            return QuotaDecision::Within { used: self.used };
        }
        match self.used.checked_add(events) {
            Some(used) if used <= limit => {
                self.used = used;
                QuotaDecision::Within { used }
            }
            _ => QuotaDecision::Exceeded {
                limit,
                retry_after_secs: secs_to_next_day(now_ms.max(self.day * DAY_MS)),
            },
        }
    }
}

/// What ingest sends the limiter object: the rate limit (flattened, so a body written before
/// quotas existed still reads), the project's quota and how many events this request counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LimiterRequest {
    /// The key's token bucket settings.
    #[serde(flatten)]
    pub rate_limit: RateLimitConfig,
    /// Events per UTC day, when the project has a quota.
    #[serde(default)]
    pub quota: Option<u64>,
    /// Events this request counts against the quota (see the module doc).
    #[serde(default)]
    pub events: u64,
    /// Tokens to take at once: [`lease_size`] for a key without a quota (the rest are spent by
    /// the asking isolate, see [`crate::rate_limit::Leases`]), else 1 (a quota counts each
    /// request's events, so each request asks).
    #[serde(default = "one")]
    pub tokens: u32,
}

fn one() -> u32 {
    1
}

impl LimiterRequest {
    /// The request for a key with these settings.
    pub fn new(rate_limit: RateLimitConfig, quota: Option<u64>, events: u64) -> Self {
        Self {
            rate_limit,
            quota,
            events,
            tokens: if quota.is_some() {
                1
            } else {
                lease_size(&rate_limit)
            },
        }
    }
}

/// The limiter's answer: the decision for the asking request and how many tokens it took
/// (including that request's; 0 when refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The asking request's decision.
    pub decision: RateDecision,
    /// Tokens taken.
    pub granted: u32,
}

/// The limiter's rule for one request: the token bucket first (a request refused by the rate
/// limit is not counted against the quota), then the quota. Only the state that changed needs
/// storing; both are returned in place.
pub fn admit(
    bucket: &mut TokenBucket,
    count: &mut DayCount,
    req: &LimiterRequest,
    now_ms: u64,
) -> Grant {
    let Some(limit) = req.quota else {
        let (decision, granted) = bucket.take_up_to(&req.rate_limit, now_ms, req.tokens);
        return Grant { decision, granted };
    };
    let decision = bucket.take(&req.rate_limit, now_ms);
    if !matches!(decision, RateDecision::Allowed { .. }) {
        return Grant {
            decision,
            granted: 0,
        };
    }
    match count.take(limit, req.events, now_ms) {
        QuotaDecision::Within { .. } => Grant {
            decision,
            granted: 1,
        },
        QuotaDecision::Exceeded {
            limit,
            retry_after_secs,
        } => Grant {
            decision: RateDecision::QuotaExceeded {
                limit,
                retry_after_secs,
            },
            granted: 1,
        },
    }
}

/// The data categories a spent quota blocks, as `X-Sentry-Rate-Limits` names them: errors
/// (`error`, `default`, `security`), and transactions when they are stored (and so counted).
pub fn categories(store_transactions: bool) -> &'static str {
    if store_transactions {
        "error;default;security;transaction"
    } else {
        "error;default;security"
    }
}

/// `X-Sentry-Rate-Limits` for a spent quota, in Relay's format
/// `retry_after:categories:scope:reason_code`: scope `project`, as the quota is the project's.
pub fn rate_limits_header(retry_after_secs: u64, categories: &str) -> String {
    format!("{retry_after_secs}:{categories}:project:{REASON_CODE}")
}

/// Checks a configured quota: `Err` names the limit.
pub fn validate(quota: u64) -> Result<(), String> {
    if (MIN_QUOTA..=MAX_QUOTA).contains(&quota) {
        Ok(())
    } else {
        Err(format!(
            "quota must be {MIN_QUOTA} to {MAX_QUOTA} events per UTC day (omit it for no quota)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY0: u64 = 20_000 * DAY_MS;

    #[test]
    fn seconds_to_the_next_utc_day() {
        for (now, want, why) in [
            (DAY0, 86_400, "at midnight a whole day"),
            (DAY0 + 1, 86_400, "1 ms after midnight rounds up"),
            (DAY0 + DAY_MS - 1, 1, "the last millisecond still waits 1 s"),
            (DAY0 + DAY_MS - 1_000, 1, "one second before midnight"),
            (DAY0 + DAY_MS - 1_001, 2, "just over one second"),
            (DAY0 + 12 * 3_600_000, 43_200, "noon"),
        ] {
            assert_eq!(secs_to_next_day(now), want, "{why}");
        }
    }

    #[test]
    fn counts_to_the_limit_then_refuses_until_the_next_day() {
        let mut c = DayCount::default();
        let now = DAY0 + 10 * 3_600_000;
        let got: Vec<_> = (0..4).map(|_| c.take(3, 1, now)).collect();
        assert_eq!(
            got,
            vec![
                QuotaDecision::Within { used: 1 },
                QuotaDecision::Within { used: 2 },
                QuotaDecision::Within { used: 3 },
                QuotaDecision::Exceeded {
                    limit: 3,
                    retry_after_secs: 14 * 3600
                },
            ]
        );
        assert_eq!(c.used, 3, "a refused request is not counted");
        assert_eq!(
            c.take(3, 0, now),
            QuotaDecision::Within { used: 3 },
            "a request without events passes a spent quota"
        );
        assert_eq!(
            c.take(3, 1, DAY0 + DAY_MS),
            QuotaDecision::Within { used: 1 },
            "a new UTC day starts from zero"
        );
        assert_eq!(
            c.take(3, 1, DAY0 + 5),
            QuotaDecision::Within { used: 2 },
            "a clock back in the previous day keeps counting the later day"
        );
    }

    #[test]
    fn admit_applies_the_rate_limit_before_the_quota() {
        let rate = RateLimitConfig {
            burst: 2,
            per_second: 0.0,
        };
        let req = |quota, events| LimiterRequest::new(rate, quota, events);
        let now = DAY0;
        let mut bucket = TokenBucket::full(&rate, now);
        let mut count = DayCount::default();
        assert_eq!(
            admit(&mut bucket, &mut count, &req(Some(1), 1), now),
            Grant {
                decision: RateDecision::Allowed { remaining: 1 },
                granted: 1
            }
        );
        assert_eq!(
            admit(&mut bucket, &mut count, &req(Some(1), 1), now).decision,
            RateDecision::QuotaExceeded {
                limit: 1,
                retry_after_secs: 86_400
            }
        );
        assert_eq!(
            admit(&mut bucket, &mut count, &req(Some(1), 1), now),
            Grant {
                decision: RateDecision::Limited {
                    retry_after_secs: 60
                },
                granted: 0
            },
            "an empty bucket answers first"
        );
        assert_eq!(count.used, 1);
        let mut bucket = TokenBucket::full(&rate, now);
        let mut count = DayCount::default();
        for _ in 0..2 {
            assert!(matches!(
                admit(&mut bucket, &mut count, &req(None, 1), now).decision,
                RateDecision::Allowed { .. }
            ));
        }
        assert_eq!(count, DayCount::default(), "no quota, nothing counted");

        // Without a quota a large limit is taken a lease at a time; with one, a token each.
        let large = RateLimitConfig {
            burst: 10_000,
            per_second: 1_000.0,
        };
        let mut bucket = TokenBucket::full(&large, now);
        let leased = LimiterRequest::new(large, None, 1);
        assert_eq!(leased.tokens, 50);
        let g = admit(&mut bucket, &mut count, &leased, now);
        assert_eq!(g.granted, 50);
        assert_eq!(g.decision, RateDecision::Allowed { remaining: 9_950 });
        let counted = LimiterRequest::new(large, Some(100), 1);
        assert_eq!(counted.tokens, 1);
        assert_eq!(admit(&mut bucket, &mut count, &counted, now).granted, 1);
    }

    #[test]
    fn a_request_written_before_quotas_still_reads() {
        let old: LimiterRequest =
            serde_json::from_str(r#"{"burst": 5, "per_second": 1.5}"#).unwrap();
        assert_eq!(old.rate_limit.burst, 5);
        assert_eq!((old.quota, old.events, old.tokens), (None, 0, 1));
        let new = LimiterRequest::new(RateLimitConfig::default(), Some(7), 1);
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<LimiterRequest>(&text).unwrap(), new);
    }

    #[test]
    fn header_in_relay_format_reads_back_as_sdks_read_it() {
        let h = rate_limits_header(120, categories(false));
        assert_eq!(h, "120:error;default;security:project:quota_exceeded");
        let mut limits = backstop_sdk_core::sdk_transport::RateLimits::new();
        limits.update(429, Some(&h), Some("120"), 0);
        assert!(limits.is_limited("error", 119_000));
        assert!(!limits.is_limited("error", 120_000));
        assert!(!limits.is_limited("session", 1), "sessions still flow");
        assert!(categories(true).ends_with(";transaction"));
    }

    #[test]
    fn quota_values_are_validated() {
        for (q, ok) in [
            (0, false),
            (1, true),
            (MAX_QUOTA, true),
            (MAX_QUOTA + 1, false),
        ] {
            assert_eq!(validate(q).is_ok(), ok, "{q}");
        }
    }

    proptest! {
        #[test]
        fn never_more_than_the_limit_per_day(
            limit in 1u64..50,
            steps in prop::collection::vec((0u64..3 * DAY_MS, 0u64..2), 0..300),
        ) {
            let mut c = DayCount::default();
            let mut times: Vec<_> = steps;
            times.sort_by_key(|s| s.0);
            let mut admitted: std::collections::BTreeMap<u64, u64> = Default::default();
            for (t, events) in times {
                let now = DAY0 + t;
                match c.take(limit, events, now) {
                    QuotaDecision::Within { .. } => {
                        *admitted.entry(utc_day(now)).or_default() += events;
                    }
                    QuotaDecision::Exceeded { retry_after_secs, .. } => {
                        prop_assert!(events > 0, "a request without events is never refused");
                        let resume = now + retry_after_secs * 1000;
                        prop_assert!(utc_day(resume) > utc_day(now), "retry lands in the next day");
                        prop_assert!(retry_after_secs <= 86_400);
                        prop_assert_eq!(admitted.get(&utc_day(now)).copied().unwrap_or(0), limit,
                            "refused only once the day's limit is used");
                    }
                }
            }
            for (_, n) in admitted {
                prop_assert!(n <= limit);
            }
        }
    }
}
