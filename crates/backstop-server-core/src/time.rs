//! RFC 3339 timestamps to and from epoch milliseconds (no clock: callers pass times in).

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into epoch milliseconds. Years before 1970 and
/// malformed text give `None`.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = b.get(from..to)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1, i + 3)? * 60 + num(i + 4, i + 6)?;
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    u64::try_from(secs.checked_mul(1000)?.checked_add(millis)?).ok()
}

/// How far an event's own time may lie ahead of its receive time (clock drift), as in Relay.
pub const MAX_FUTURE_SKEW_MS: u64 = 60_000;
/// How far back an event's own time may lie (Relay's `max_secs_in_past`: 30 days).
pub const MAX_PAST_MS: u64 = 30 * 24 * 3600 * 1000;

/// The time an event is indexed under. Its own `timestamp` when that lies in
/// `[received - 30 days, received + 1 min]`; else the receive time (as Relay does, rather than
/// refusing the event): an SDK's wrong clock must not make an event unfindable, and a number a
/// client can make arbitrarily large (`1e300`) must never reach storage, which only
/// round-trips integers below 2^53. The raw payload keeps what the SDK sent.
pub fn clamp_event_time(event_ms: u64, received_ms: u64) -> u64 {
    let too_new = event_ms > received_ms.saturating_add(MAX_FUTURE_SKEW_MS);
    let too_old = event_ms < received_ms.saturating_sub(MAX_PAST_MS);
    if too_new || too_old {
        received_ms
    } else {
        event_ms
    }
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-11-22T10:00:00.000Z", Some(1_795_341_600_000)),
            ("2026-11-22T10:00:00.5Z", Some(1_795_341_600_500)),
            ("2026-11-22T10:00:00.123456Z", Some(1_795_341_600_123)),
            ("2026-11-22T12:00:00+02:00", Some(1_795_341_600_000)),
            ("2026-11-22 10:00:00Z", Some(1_795_341_600_000)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800_000)),
            ("1969-12-31T23:59:59Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-11-22T10:00:00", None),
            ("2026-11-22T10:00:00.Z", None),
            ("yesterday", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339_ms(s), want, "{s}");
        }
    }

    #[test]
    fn event_times_are_clamped_to_a_sane_window() {
        let now = 1_795_341_600_000;
        let cases = [
            ("now", now, now),
            ("a second ago", now - 1_000, now - 1_000),
            ("clock 59 s ahead", now + 59_000, now + 59_000),
            ("exactly 1 min ahead", now + 60_000, now + 60_000),
            ("more than 1 min ahead", now + 60_001, now),
            ("29 days ago", now - 29 * 86_400_000, now - 29 * 86_400_000),
            ("exactly 30 days ago", now - MAX_PAST_MS, now - MAX_PAST_MS),
            ("31 days ago", now - 31 * 86_400_000, now),
            ("epoch 0", 0, now),
            ("1e13 s in ms", 10_000_000_000_000_000, now),
            ("u64::MAX (1e300 s)", u64::MAX, now),
        ];
        for (name, event, want) in cases {
            assert_eq!(clamp_event_time(event, now), want, "{name}");
        }
        assert_eq!(
            clamp_event_time(5, 10),
            5,
            "near the epoch nothing underflows"
        );
    }

    #[test]
    fn format_round_trips() {
        for ms in [0, 1_795_341_600_123, 1_709_164_800_000, 4_102_444_800_999] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            format_rfc3339_ms(1_795_341_600_123),
            "2026-11-22T10:00:00.123Z"
        );
    }
}
