//! Escalation: an issue is escalating when its count in the current hour is above a ceiling
//! drawn from its own last seven days, hour against hour (an hourly count is never compared
//! with a daily one).
//!
//! The ceiling is `max(ESCALATION_FLOOR, ESCALATION_FACTOR × the busiest full hour of the
//! previous 7 × 24 hours)`: a steady issue never escalates by doing what it always does, a
//! quiet one must at least reach the floor, and a burst has to be well past anything seen.

/// The lowest ceiling: fewer events than this in an hour never escalate.
pub const ESCALATION_FLOOR: u64 = 10;
/// How many times its busiest past hour an issue's current hour must exceed.
pub const ESCALATION_FACTOR: u64 = 2;
/// Hours of history kept and considered.
pub const HISTORY_HOURS: u64 = 7 * 24;

/// The epoch hour (ms ÷ 3,600,000) of a time.
pub fn hour_of(ms: u64) -> u64 {
    ms / 3_600_000
}

/// The ceiling for `current_hour`, from `(hour, count)` pairs (any order; hours outside the
/// previous [`HISTORY_HOURS`] and the current hour itself are ignored).
pub fn ceiling(history: &[(u64, u64)], current_hour: u64) -> u64 {
    let oldest = current_hour.saturating_sub(HISTORY_HOURS);
    let busiest = history
        .iter()
        .filter(|(h, _)| *h >= oldest && *h < current_hour)
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(0);
    busiest
        .saturating_mul(ESCALATION_FACTOR)
        .max(ESCALATION_FLOOR)
}

/// Whether `count_this_hour` (this event included) is above the ceiling.
pub fn is_escalating(count_this_hour: u64, ceiling: u64) -> bool {
    count_this_hour > ceiling
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings() {
        let now = 1_000;
        let cases: [(&[(u64, u64)], u64, &str); 5] = [
            (&[], ESCALATION_FLOOR, "no history: the floor"),
            (
                &[(999, 3), (990, 4)],
                ESCALATION_FLOOR,
                "quiet issue: the floor",
            ),
            (&[(999, 30), (900, 50)], 100, "twice the busiest hour"),
            (
                &[(1_000, 500)],
                ESCALATION_FLOOR,
                "the current hour is not history",
            ),
            (
                &[(1_000 - HISTORY_HOURS - 1, 900), (998, 20)],
                40,
                "older than 7 days is forgotten",
            ),
        ];
        for (history, want, why) in cases {
            assert_eq!(ceiling(history, now), want, "{why}");
        }
        assert!(!is_escalating(10, 10), "at the ceiling is not above it");
        assert!(is_escalating(11, 10));
    }
}
