//! Delivering an alert: what a destination's answer means ([`classify`]) and when to try again
//! ([`next_retry_at`]).
//!
//! # Why an alert's failure never raises another alert, nor becomes an event
//!
//! Alerting is the end of the line. A failed alert is recorded (a row with its attempts and
//! last answer, shown on the dashboard) and retried on the schedule below, then given up; it
//! is never turned into a trigger, an issue or an event. If it were, a broken destination
//! would make an alert about the alert, which would fail the same way and make another: a
//! loop that floods storage and the other destinations exactly when something is already
//! wrong. So no function in this module returns a [`Trigger`](super::message::Trigger), and
//! no trigger is built from an [`AlertVerdict`]. The same holds one level down: alert requests
//! carry [`ALERT_MARKER`](super::ALERT_MARKER), so a destination pointing
//! back at Backstop's webhook guard is refused there with 508 (given up at once, see
//! [`classify`]) rather than held and alerted about, and destinations that lead back into
//! Backstop are refused when configured and again at send time
//! ([`leads_back`](super::destination::leads_back)).

/// First retry delay: 30 s.
pub const RETRY_BASE_MS: u64 = 30_000;
/// Longest delay the backoff reaches: 1 h.
pub const RETRY_CAP_MS: u64 = 3_600_000;
/// Attempts in all (the first one included) before giving up.
pub const MAX_ATTEMPTS: u32 = 12;
/// Longest `Retry-After` honoured: 6 h. A destination asking for more is not asking for an
/// alert any more; the backoff takes over.
pub const MAX_RETRY_AFTER_MS: u64 = 6 * 3_600_000;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAttempt {
    /// The destination answered with this status.
    Status(u16),
    /// No answer in time.
    Timeout,
    /// The destination could not be reached (DNS, connection refused, TLS).
    Unreachable,
}

/// What follows from an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertVerdict {
    /// It was taken.
    Delivered,
    /// Try again later ([`next_retry_at`]).
    Retry,
    /// The destination refuses it for good: record and stop.
    GiveUp,
}

/// 2xx is delivered. 408, 429, 5xx, timeouts and unreachable destinations are retried: they
/// pass. Other answers are given up: a 4xx (a revoked Slack hook answers 404 or 410, a
/// wrong routing key 400) will not change by sending again; a 3xx is not followed (a
/// redirect could lead anywhere, back into Backstop included); 508 is the webhook guard
/// refusing an alert sent back at it.
pub fn classify(result: AlertAttempt) -> AlertVerdict {
    match result {
        AlertAttempt::Status(200..=299) => AlertVerdict::Delivered,
        AlertAttempt::Status(508) => AlertVerdict::GiveUp,
        AlertAttempt::Status(408 | 429 | 500..=599)
        | AlertAttempt::Timeout
        | AlertAttempt::Unreachable => AlertVerdict::Retry,
        AlertAttempt::Status(_) => AlertVerdict::GiveUp,
    }
}

/// When to try again after `attempts` failed attempts (the first one counts), or `None` once
/// [`MAX_ATTEMPTS`] are used up. The delay is 30 s doubling per attempt (30 s, 1 min, 2 min,
/// … capped at 1 h), or the destination's `Retry-After` when that is longer (up to 6 h).
pub fn next_retry_at(attempts: u32, now_ms: u64, retry_after_ms: Option<u64>) -> Option<u64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let backoff = RETRY_BASE_MS
        .saturating_mul(1 << doublings)
        .min(RETRY_CAP_MS);
    let asked = retry_after_ms.unwrap_or(0).min(MAX_RETRY_AFTER_MS);
    Some(now_ms.saturating_add(backoff.max(asked)))
}

/// A `Retry-After` header in ms. Only the seconds form is read (what Slack and most APIs
/// send); a date or anything else gives `None`, and the backoff applies.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().map(|s| s.saturating_mul(1000))
}

/// An alert outbox row's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Taken by the destination.
    Delivered,
    /// Given up (refused for good, out of attempts, or its destination was deleted).
    Failed,
}

impl OutboxStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// Whether an outbox row is due for an attempt at `now_ms`: pending, with its next attempt at
/// or before now (a row without a next attempt never is). The store selects exactly these with
/// [`due_sql`]; `tests/sweep_sql.rs` runs both over the same rows on SQLite, the engine under D1.
pub fn is_due(status: OutboxStatus, next_attempt_at: Option<u64>, now_ms: u64) -> bool {
    status == OutboxStatus::Pending && next_attempt_at.is_some_and(|at| at <= now_ms)
}

/// [`is_due`] as the store's condition on `alert_outbox` rows, `now_ms` bound as `?{now}`.
pub fn due_sql(now: u8) -> String {
    format!("status = 'pending' AND next_attempt_at <= ?{now}")
}

/// What one attempt writes: the attempt row (`number`, `status`, `error`) and the outbox row's
/// new state (`outcome`, `next_attempt_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// This attempt's number (1 for the first).
    pub number: u64,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// What went wrong, for the dashboard (empty when delivered).
    pub error: String,
    /// The row's new status.
    pub outcome: OutboxStatus,
    /// When to try again (only for [`OutboxStatus::Pending`]).
    pub next_attempt_at: Option<u64>,
}

/// How an attempt ended, as the glue saw it: the destination's answer (`Ok(status)`), or why
/// there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// Answered with this status.
    Answered(u16),
    /// No answer within `timeout_ms`.
    TimedOut {
        /// The send timeout.
        timeout_ms: u64,
    },
    /// Could not be reached: the platform's reason.
    Unreachable(String),
    /// The row's destination no longer exists (nothing was sent).
    DestinationDeleted,
}

/// The bookkeeping of one attempt on a row that had `attempts_before` attempts: its number,
/// what the dashboard shows, and whether and when the row is tried again (`retry_after_ms`
/// is the answer's `Retry-After`, see [`parse_retry_after`]).
pub fn settle(
    attempts_before: u64,
    attempted: &Attempted,
    retry_after_ms: Option<u64>,
    now_ms: u64,
) -> Settlement {
    let number = attempts_before.saturating_add(1);
    let (result, status, error) = match attempted {
        Attempted::Answered(st) => (
            AlertAttempt::Status(*st),
            Some(*st),
            format!("answered {st}"),
        ),
        Attempted::TimedOut { timeout_ms } => (
            AlertAttempt::Timeout,
            None,
            format!("no answer within {timeout_ms} ms"),
        ),
        Attempted::Unreachable(e) => (AlertAttempt::Unreachable, None, e.clone()),
        Attempted::DestinationDeleted => {
            return Settlement {
                number,
                status: None,
                error: "the destination was deleted".into(),
                outcome: OutboxStatus::Failed,
                next_attempt_at: None,
            }
        }
    };
    let attempts = u32::try_from(number).unwrap_or(u32::MAX);
    let (outcome, next_attempt_at, error) = match classify(result) {
        AlertVerdict::Delivered => (OutboxStatus::Delivered, None, String::new()),
        AlertVerdict::Retry => match next_retry_at(attempts, now_ms, retry_after_ms) {
            Some(at) => (OutboxStatus::Pending, Some(at), error),
            None => (OutboxStatus::Failed, None, error),
        },
        AlertVerdict::GiveUp => (OutboxStatus::Failed, None, error),
    };
    Settlement {
        number,
        status,
        error,
        outcome,
        next_attempt_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_341_600_000;

    #[test]
    fn each_attempt_is_settled() {
        let s = settle(0, &Attempted::Answered(204), None, T0);
        assert_eq!(
            (
                s.number,
                s.status,
                s.outcome,
                s.next_attempt_at,
                s.error.as_str()
            ),
            (1, Some(204), OutboxStatus::Delivered, None, "")
        );
        let s = settle(2, &Attempted::Answered(503), Some(90_000), T0);
        assert_eq!((s.number, s.outcome), (3, OutboxStatus::Pending));
        assert_eq!(
            s.next_attempt_at,
            Some(T0 + 120_000),
            "the backoff beats a shorter Retry-After"
        );
        assert_eq!(s.error, "answered 503");
        let s = settle(0, &Attempted::TimedOut { timeout_ms: 10_000 }, None, T0);
        assert_eq!(
            (s.outcome, s.error.as_str()),
            (OutboxStatus::Pending, "no answer within 10000 ms")
        );
        let s = settle(0, &Attempted::Unreachable("dns".into()), None, T0);
        assert_eq!((s.status, s.error.as_str()), (None, "dns"));
        let s = settle(0, &Attempted::Answered(410), None, T0);
        assert_eq!((s.outcome, s.next_attempt_at), (OutboxStatus::Failed, None));
        let s = settle(4, &Attempted::DestinationDeleted, None, T0);
        assert_eq!((s.number, s.outcome), (5, OutboxStatus::Failed));
        // The last attempt allowed is not followed by another.
        let last = u64::from(MAX_ATTEMPTS) - 1;
        let s = settle(last, &Attempted::Answered(500), None, T0);
        assert_eq!(
            (s.number, s.outcome),
            (u64::from(MAX_ATTEMPTS), OutboxStatus::Failed)
        );
        assert_eq!(
            settle(u64::MAX, &Attempted::Answered(500), None, T0).number,
            u64::MAX
        );
        for st in [
            OutboxStatus::Pending,
            OutboxStatus::Delivered,
            OutboxStatus::Failed,
        ] {
            assert!(!st.as_str().is_empty());
        }
    }

    #[test]
    fn answers_are_classified() {
        use AlertAttempt::*;
        use AlertVerdict::*;
        let cases = [
            (Status(200), Delivered, "Slack's ok"),
            (Status(202), Delivered, "PagerDuty's accepted"),
            (Status(204), Delivered, "no content"),
            (Status(408), Retry, "request timeout"),
            (Status(429), Retry, "rate limited"),
            (Status(500), Retry, "server error"),
            (Status(503), Retry, "unavailable"),
            (Status(599), Retry, "any 5xx"),
            (Timeout, Retry, "no answer"),
            (Unreachable, Retry, "connection refused"),
            (Status(508), GiveUp, "the guard refusing an alert loop"),
            (Status(400), GiveUp, "bad request (wrong routing key)"),
            (Status(403), GiveUp, "forbidden"),
            (Status(404), GiveUp, "revoked Slack hook"),
            (Status(410), GiveUp, "gone"),
            (Status(413), GiveUp, "too large"),
            (Status(301), GiveUp, "redirects are not followed"),
            (Status(100), GiveUp, "nonsense"),
        ];
        for (attempt, want, why) in cases {
            assert_eq!(classify(attempt), want, "{why}");
        }
    }

    #[test]
    fn retries_back_off_and_stop() {
        let s = 1_000;
        let cases = [
            (1, None, Some(T0 + 30 * s), "after the first attempt: 30 s"),
            (2, None, Some(T0 + 60 * s), "then 1 min"),
            (3, None, Some(T0 + 120 * s), "then 2 min"),
            (7, None, Some(T0 + 1_920 * s), "32 min"),
            (8, None, Some(T0 + 3_600 * s), "capped at 1 h"),
            (11, None, Some(T0 + 3_600 * s), "still 1 h"),
            (12, None, None, "12 attempts: give up"),
            (u32::MAX, None, None, "far past the limit"),
            (
                0,
                None,
                Some(T0 + 30 * s),
                "no attempt counted yet: the base delay",
            ),
            (
                1,
                Some(120 * s),
                Some(T0 + 120 * s),
                "Retry-After longer than the backoff",
            ),
            (
                5,
                Some(10 * s),
                Some(T0 + 480 * s),
                "Retry-After shorter: the backoff",
            ),
            (
                1,
                Some(86_400 * s),
                Some(T0 + MAX_RETRY_AFTER_MS),
                "Retry-After capped at 6 h",
            ),
            (12, Some(10 * s), None, "Retry-After does not add attempts"),
        ];
        for (attempts, retry_after, want, why) in cases {
            assert_eq!(next_retry_at(attempts, T0, retry_after), want, "{why}");
        }
        assert_eq!(
            next_retry_at(1, u64::MAX, None),
            Some(u64::MAX),
            "no overflow"
        );
        let total: u64 = (1..MAX_ATTEMPTS)
            .map(|a| next_retry_at(a, 0, None).unwrap())
            .sum();
        assert_eq!(total, 18_210 * s, "about 5 h of retries in all");
    }

    #[test]
    fn retry_after_seconds_only() {
        let cases = [
            ("30", Some(30_000)),
            (" 5 ", Some(5_000)),
            ("0", Some(0)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("99999999999999999999", None),
        ];
        for (v, want) in cases {
            assert_eq!(parse_retry_after(v), want, "{v:?}");
        }
    }
}
