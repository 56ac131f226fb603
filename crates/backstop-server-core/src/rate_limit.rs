//! Token-bucket rate limiting math. The worker keeps one bucket per project key in a Durable
//! Object (sharded by key) and calls [`TokenBucket::take`] with the current time.

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
            Self::Allowed { remaining: 0 }
                if cfg.per_second.is_finite() && cfg.per_second > 0.0 =>
            {
                Some(((1.0 / cfg.per_second).ceil() as u64).max(1))
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
        let capacity = f64::from(cfg.burst.max(1));
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        let rate = if cfg.per_second.is_finite() && cfg.per_second > 0.0 {
            cfg.per_second
        } else {
            0.0
        };
        self.tokens = (self.tokens + rate * elapsed_ms as f64 / 1000.0).min(capacity);
        if !self.tokens.is_finite() || self.tokens < 0.0 {
            self.tokens = 0.0;
        }
        self.updated_ms = self.updated_ms.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            RateDecision::Allowed {
                remaining: self.tokens as u32,
            }
        } else if rate == 0.0 {
            RateDecision::Limited {
                retry_after_secs: 60,
            }
        } else {
            let secs = ((1.0 - self.tokens) / rate).ceil();
            RateDecision::Limited {
                retry_after_secs: (secs as u64).max(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
