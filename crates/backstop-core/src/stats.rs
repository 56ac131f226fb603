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
    /// Refused because the project's daily quota is spent.
    QuotaExceeded,
    /// Missing, wrong or conflicting key, or unknown project.
    Unauthorized,
    /// Malformed body.
    Invalid,
}

impl Outcome {
    /// All reasons, in display order.
    pub const ALL: [Outcome; 6] = [
        Self::Accepted,
        Self::TooLarge,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::Unauthorized,
        Self::Invalid,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Unauthorized => "unauthorized",
            Self::Invalid => "invalid",
        }
    }
}

/// Start of the minute `now_ms` falls in, in epoch milliseconds.
pub fn minute_bucket(now_ms: u64) -> u64 {
    now_ms - now_ms % 60_000
}

/// The largest integer storage round-trips exactly: D1 hands numbers to JavaScript as `f64`, so
/// anything above 2^53 − 1 (`Number.MAX_SAFE_INTEGER`) comes back rounded, as a float that
/// does not read as an integer. Every stored counter, size and time saturates here.
pub const MAX_STORED_INT: u64 = (1 << 53) - 1;

/// `v` as it may be stored: saturated at [`MAX_STORED_INT`] ("at least this many" is truer
/// than a row that cannot be read back).
pub fn stored_int(v: u64) -> u64 {
    v.min(MAX_STORED_INT)
}

/// A stored number read back leniently: a float is rounded towards zero, negative or NaN is
/// 0, and the result saturates at [`MAX_STORED_INT`], so a row written before the clamp (or by
/// hand) repairs rather than fails the listing it is in.
pub fn stored_int_from_f64(v: f64) -> u64 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    // `as` saturates at u64::MAX; the clamp does the rest.
    stored_int(v as u64)
}

/// `a + b` for stored counters: saturating at [`MAX_STORED_INT`].
pub fn add_stored(a: u64, b: u64) -> u64 {
    stored_int(a.saturating_add(b))
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
    fn stored_numbers_stay_below_2_pow_53() {
        let max = MAX_STORED_INT;
        for (v, want) in [
            (0, 0),
            (42, 42),
            (max, max),
            (max + 1, max),
            (u64::MAX, max),
        ] {
            assert_eq!(stored_int(v), want, "{v}");
        }
        let floats = [
            (0.0, 0),
            (-5.0, 0),
            (f64::NAN, 0),
            (12.9, 12),
            (9.2e15, max),
            (1e300, max),
            (f64::INFINITY, max),
            (1_795_341_600_000.0, 1_795_341_600_000),
        ];
        for (v, want) in floats {
            assert_eq!(stored_int_from_f64(v), want, "{v}");
        }
        assert_eq!(add_stored(max - 1, 5), max);
        assert_eq!(add_stored(u64::MAX, u64::MAX), max);
        assert_eq!(add_stored(2, 3), 5);
        assert_eq!(
            max as f64 as u64, max,
            "the cap itself round-trips through f64"
        );
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), Outcome::ALL.len());
    }
}
