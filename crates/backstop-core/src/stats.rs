//! Outcome accounting: every ingest request is counted per project per minute by reason, so
//! dropped data is visible.

/// The reason a request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored.
    Accepted,
    /// Over a size limit.
    TooLarge,
    /// Refused by the rate limiter.
    RateLimited,
    /// Missing, wrong or conflicting key, or unknown project.
    Unauthorized,
    /// Malformed body.
    Invalid,
}

impl Outcome {
    /// All reasons, in display order.
    pub const ALL: [Outcome; 5] = [
        Self::Accepted,
        Self::TooLarge,
        Self::RateLimited,
        Self::Unauthorized,
        Self::Invalid,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::Invalid => "invalid",
        }
    }
}

/// Start of the minute `now_ms` falls in, in epoch milliseconds.
pub fn minute_bucket(now_ms: u64) -> u64 {
    now_ms - now_ms % 60_000
}

/// Project id under which requests for an unknown project are counted (never a valid id).
pub const UNKNOWN_PROJECT: &str = "*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_bucket_floors_to_the_minute() {
        for (now, want) in [
            (0, 0),
            (59_999, 0),
            (60_000, 60_000),
            (1_700_000_123_456, 1_700_000_100_000),
        ] {
            assert_eq!(minute_bucket(now), want, "now={now}");
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), 5);
    }
}
