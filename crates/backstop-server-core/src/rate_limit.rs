//! Token-bucket rate limiting math. The worker keeps one bucket per project key in a Durable
//! Object (sharded by key) and calls [`TokenBucket::take`] with the current time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Rate limit of one project: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Bucket capacity: how many requests may arrive at once.
    pub burst: u32,
    /// Sustained requests per second.
    pub per_second: f64,
}

impl RateLimitConfig {
    /// Tokens per second the bucket refills: `per_second`, or 0 when it is not a positive
    /// number (such a bucket never refills).
    pub fn refill_rate(&self) -> f64 {
        if self.per_second.is_finite() && self.per_second > 0.0 {
            self.per_second
        } else {
            0.0
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            burst: 200,
            per_second: 20.0,
        }
    }
}

/// What the bucket says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RateDecision {
    /// Go ahead.
    Allowed {
        /// Whole tokens left after this request.
        remaining: u32,
    },
    /// Refused: retry after this many whole seconds (at least 1).
    Limited {
        /// Seconds until one token is available.
        retry_after_secs: u64,
    },
    /// Refused: the project's daily quota is spent (see `crate::quota`, server only).
    QuotaExceeded {
        /// Events per UTC day.
        limit: u64,
        /// Seconds to the next UTC day.
        retry_after_secs: u64,
    },
}

impl RateDecision {
    /// For a request that took the last token: how long SDKs should hold off, sent as
    /// `X-Sentry-Rate-Limits` on the 200 so they back off before being refused. An upper bound
    /// (the time to refill one whole token), at least 1 s.
    pub fn preemptive_retry_after(&self, cfg: &RateLimitConfig) -> Option<u64> {
        match self {
            Self::Allowed { remaining: 0 } if cfg.refill_rate() > 0.0 => {
                Some(((1.0 / cfg.refill_rate()).ceil() as u64).max(1))
            }
            Self::Allowed { remaining: 0 } => Some(60),
            _ => None,
        }
    }
}

/// A token bucket's state: tokens left and when they were last counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TokenBucket {
    /// Tokens available at `updated_ms`.
    pub tokens: f64,
    /// Epoch milliseconds of the last update.
    pub updated_ms: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ms`.
    pub fn full(cfg: &RateLimitConfig, now_ms: u64) -> Self {
        Self {
            tokens: f64::from(cfg.burst),
            updated_ms: now_ms,
        }
    }

    /// Refills for the time elapsed since the last call and takes one token if there is one.
    /// A clock that goes backwards refills nothing.
    pub fn take(&mut self, cfg: &RateLimitConfig, now_ms: u64) -> RateDecision {
        self.take_up_to(cfg, now_ms, 1).0
    }

    /// [`Self::take`] for up to `want` tokens at once (at least one is asked): the decision and
    /// how many were taken (at least 1 when allowed, 0 when limited). A lease ([`Leases`]).
    pub fn take_up_to(
        &mut self,
        cfg: &RateLimitConfig,
        now_ms: u64,
        want: u32,
    ) -> (RateDecision, u32) {
        let capacity = f64::from(cfg.burst.max(1));
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        let rate = cfg.refill_rate();
        self.tokens = (self.tokens + rate * elapsed_ms as f64 / 1000.0).min(capacity);
        if !self.tokens.is_finite() || self.tokens < 0.0 {
            self.tokens = 0.0;
        }
        self.updated_ms = self.updated_ms.max(now_ms);
        if self.tokens >= 1.0 {
            let taken = (self.tokens.floor() as u32).clamp(1, want.max(1));
            self.tokens -= f64::from(taken);
            let remaining = self.tokens as u32;
            (RateDecision::Allowed { remaining }, taken)
        } else if rate == 0.0 {
            let limited = RateDecision::Limited {
                retry_after_secs: 60,
            };
            (limited, 0)
        } else {
            let secs = ((1.0 - self.tokens) / rate).ceil();
            let limited = RateDecision::Limited {
                retry_after_secs: (secs as u64).max(1),
            };
            (limited, 0)
        }
    }
}

/// How long tokens taken ahead ([`Leases`]) may be spent.
pub const LEASE_MS: u64 = 1_000;
/// Most tokens one lease takes.
pub const MAX_LEASE: u32 = 100;
/// Most keys an isolate holds leases for (expired ones are dropped first).
pub const MAX_LEASED_KEYS: usize = 1_000;

/// How many tokens an isolate takes from a key's limiter at once: one for ordinary limits (so
/// they stay exact: every request asks the limiter), and for large ones a twentieth of the
/// smaller of burst and rate, at most [`MAX_LEASE`]. Tokens of a lease that expires unspent
/// are lost, so a key's effective rate is lowered by at most that (5 %) per isolate.
pub fn lease_size(cfg: &RateLimitConfig) -> u32 {
    let rate = cfg.refill_rate().min(f64::from(u32::MAX)) as u32;
    (cfg.burst.min(rate) / 20).clamp(1, MAX_LEASE)
}

/// Tokens an isolate took ahead from its keys' limiters, spent locally for [`LEASE_MS`]: a key
/// under heavy traffic asks its limiter once per lease instead of once per request (the
/// limiter is one object per key, answering one request at a time). Sans-IO: the caller asks
/// the limiter for [`lease_size`] tokens when [`Leases::spend`] has none, then
/// [`Leases::hold`]s what it got.
#[derive(Debug, Default)]
pub struct Leases {
    held: BTreeMap<String, Lease>,
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    tokens: u32,
    /// What the limiter had left when it granted the lease.
    remaining: u32,
    until_ms: u64,
}

impl Leases {
    /// Spends one held token of `key`: the decision to use, or `None` when the limiter must be
    /// asked.
    pub fn spend(&mut self, key: &str, now_ms: u64) -> Option<RateDecision> {
        let lease = self.held.get_mut(key)?;
        if lease.tokens == 0 || now_ms >= lease.until_ms {
            self.held.remove(key);
            return None;
        }
        lease.tokens -= 1;
        Some(RateDecision::Allowed {
            remaining: lease.remaining.saturating_add(lease.tokens),
        })
    }

    /// Keeps what the limiter granted beyond the request that asked (`granted` includes it),
    /// and returns that request's decision.
    pub fn hold(
        &mut self,
        key: &str,
        decision: RateDecision,
        granted: u32,
        now_ms: u64,
    ) -> RateDecision {
        let RateDecision::Allowed { remaining } = decision else {
            self.held.remove(key);
            return decision;
        };
        let extra = granted.saturating_sub(1);
        if extra == 0 {
            self.held.remove(key);
            return decision;
        }
        if self.held.len() >= MAX_LEASED_KEYS && !self.held.contains_key(key) {
            self.held.retain(|_, l| now_ms < l.until_ms);
            if self.held.len() >= MAX_LEASED_KEYS {
                return decision;
            }
        }
        let lease = Lease {
            tokens: extra,
            remaining,
            until_ms: now_ms.saturating_add(LEASE_MS),
        };
        self.held.insert(key.to_string(), lease);
        RateDecision::Allowed {
            remaining: remaining.saturating_add(extra),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_one_token_for_ordinary_limits_and_a_twentieth_for_large_ones() {
        let cfg = |burst, per_second| RateLimitConfig { burst, per_second };
        assert_eq!(
            lease_size(&RateLimitConfig::default()),
            1,
            "200 burst, 20/s: exact"
        );
        assert_eq!(lease_size(&cfg(5, 1.0)), 1);
        assert_eq!(lease_size(&cfg(2_000, 400.0)), 20);
        assert_eq!(lease_size(&cfg(100_000_000, 10_000_000.0)), MAX_LEASE);
        assert_eq!(lease_size(&cfg(1_000, 0.0)), 1, "no refill");
        assert_eq!(lease_size(&cfg(1_000, f64::NAN)), 1);
    }

    #[test]
    fn a_bucket_grants_up_to_what_it_has() {
        let cfg = RateLimitConfig {
            burst: 5,
            per_second: 1.0,
        };
        let mut b = TokenBucket::full(&cfg, 0);
        assert_eq!(
            b.take_up_to(&cfg, 0, 3),
            (RateDecision::Allowed { remaining: 2 }, 3)
        );
        assert_eq!(
            b.take_up_to(&cfg, 0, 3),
            (RateDecision::Allowed { remaining: 0 }, 2)
        );
        assert_eq!(
            b.take_up_to(&cfg, 0, 3),
            (
                RateDecision::Limited {
                    retry_after_secs: 1
                },
                0
            )
        );
        assert_eq!(b.take_up_to(&cfg, 1_000, 0).1, 1, "at least one is asked");
    }

    #[test]
    fn held_tokens_are_spent_locally_until_they_run_out_or_expire() {
        let mut l = Leases::default();
        assert_eq!(l.spend("k", 0), None, "nothing held: ask the limiter");
        let first = l.hold("k", RateDecision::Allowed { remaining: 50 }, 3, 0);
        assert_eq!(first, RateDecision::Allowed { remaining: 52 });
        assert_eq!(
            l.spend("k", 10),
            Some(RateDecision::Allowed { remaining: 51 })
        );
        assert_eq!(
            l.spend("k", 20),
            Some(RateDecision::Allowed { remaining: 50 })
        );
        assert_eq!(l.spend("k", 30), None, "spent");
        l.hold("k", RateDecision::Allowed { remaining: 0 }, 2, 100);
        assert_eq!(l.spend("other", 100), None, "per key");
        assert_eq!(l.spend("k", 100 + LEASE_MS), None, "expired");
        // One token granted (an ordinary limit) or a refusal holds nothing.
        l.hold("k", RateDecision::Allowed { remaining: 9 }, 1, 5_000);
        assert_eq!(l.spend("k", 5_000), None);
        l.hold("k", RateDecision::Allowed { remaining: 9 }, 4, 6_000);
        let limited = RateDecision::Limited {
            retry_after_secs: 3,
        };
        assert_eq!(l.hold("k", limited, 0, 6_001), limited);
        assert_eq!(l.spend("k", 6_002), None, "a refusal drops the lease");
    }

    #[test]
    fn leases_are_bounded_in_keys() {
        let mut l = Leases::default();
        let allowed = RateDecision::Allowed { remaining: 1 };
        for i in 0..MAX_LEASED_KEYS {
            l.hold(&format!("k{i}"), allowed, 2, 0);
        }
        l.hold("late", allowed, 2, 10);
        assert_eq!(l.spend("late", 10), None, "full of live leases: not held");
        l.hold("later", allowed, 2, LEASE_MS);
        assert!(
            l.spend("later", LEASE_MS).is_some(),
            "expired ones made room"
        );
    }

    #[test]
    fn burst_then_limited_then_refilled() {
        let cfg = RateLimitConfig {
            burst: 3,
            per_second: 0.5,
        };
        let mut b = TokenBucket::full(&cfg, 1_000);
        let got: Vec<_> = (0..4).map(|_| b.take(&cfg, 1_000)).collect();
        assert_eq!(
            got,
            vec![
                RateDecision::Allowed { remaining: 2 },
                RateDecision::Allowed { remaining: 1 },
                RateDecision::Allowed { remaining: 0 },
                RateDecision::Limited {
                    retry_after_secs: 2
                },
            ]
        );
        // 1 s later half a token: still limited, one more second to wait.
        assert_eq!(
            b.take(&cfg, 2_000),
            RateDecision::Limited {
                retry_after_secs: 1
            }
        );
        // 2 s after the burst: one token.
        assert_eq!(b.take(&cfg, 3_000), RateDecision::Allowed { remaining: 0 });
    }

    #[test]
    fn refill_never_exceeds_capacity_and_clock_skew_is_harmless() {
        let cfg = RateLimitConfig {
            burst: 2,
            per_second: 100.0,
        };
        let mut b = TokenBucket::full(&cfg, 10_000);
        assert_eq!(
            b.take(&cfg, 1_000_000),
            RateDecision::Allowed { remaining: 1 }
        );
        assert_eq!(
            b.take(&cfg, 5),
            RateDecision::Allowed { remaining: 0 },
            "backwards clock refills nothing"
        );
        assert!(matches!(b.take(&cfg, 5), RateDecision::Limited { .. }));
    }

    #[test]
    fn warns_when_the_last_token_is_taken() {
        let cfg = RateLimitConfig {
            burst: 2,
            per_second: 0.25,
        };
        let cases = [
            (RateDecision::Allowed { remaining: 1 }, None),
            (RateDecision::Allowed { remaining: 0 }, Some(4)),
            (
                RateDecision::Limited {
                    retry_after_secs: 3,
                },
                None,
            ),
        ];
        for (d, want) in cases {
            assert_eq!(d.preemptive_retry_after(&cfg), want, "{d:?}");
        }
        let fast = RateLimitConfig {
            burst: 2,
            per_second: 50.0,
        };
        assert_eq!(
            RateDecision::Allowed { remaining: 0 }.preemptive_retry_after(&fast),
            Some(1)
        );
    }

    #[test]
    fn zero_or_invalid_rate_limits_for_a_minute() {
        for rate in [0.0, -1.0, f64::NAN] {
            let cfg = RateLimitConfig {
                burst: 1,
                per_second: rate,
            };
            let mut b = TokenBucket::full(&cfg, 0);
            assert!(
                matches!(b.take(&cfg, 0), RateDecision::Allowed { .. }),
                "rate {rate}"
            );
            assert_eq!(
                b.take(&cfg, 99_000),
                RateDecision::Limited {
                    retry_after_secs: 60
                },
                "rate {rate}"
            );
        }
    }
}
