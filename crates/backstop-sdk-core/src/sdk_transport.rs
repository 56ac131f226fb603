//! The browser SDK's transport rules: rate limits the collector asks for (`Retry-After`,
//! `X-Sentry-Rate-Limits`, per category), the retry schedule of the offline queue, the queue's
//! bounds, and client reports (counts of what the SDK itself dropped, by reason and category).
//! Callers pass the time in; nothing here reads a clock.

use crate::prelude::*;
use crate::sdk::parse_u64;
use crate::sdk_event::{push_timestamp, Obj};

/// How long a 429 without usable headers blocks everything (the protocol's default).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 60;
/// Longest limit honoured: a collector (or a proxy) asking for more is capped to a day.
pub const MAX_LIMIT_SECS: u64 = 24 * 60 * 60;
/// First retry delay of the offline queue; doubles per failure up to [`MAX_BACKOFF_MS`].
pub const BASE_BACKOFF_MS: u64 = 1_000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: u64 = 5 * 60 * 1_000;
/// When the SDK first looks at the offline queue left by earlier page loads, after `init`.
/// Not at `init` itself: a page's first `localStorage` access loads the storage area
/// synchronously, milliseconds of main thread during start-up.
pub const FIRST_QUEUE_CHECK_MS: u64 = 1_000;
/// Most envelopes kept offline.
pub const MAX_QUEUED: usize = 30;
/// Most bytes kept offline (all envelopes together; `localStorage` gives ~5 MB per origin).
pub const MAX_QUEUED_BYTES: usize = 512 * 1024;
/// Most distinct (reason, category) counters in one client report.
const MAX_OUTCOMES: usize = 32;

/// Limits in force, per data category (`error`, `default`, `transaction`, ...; `""` = all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    until: Vec<(String, u64)>,
}

impl RateLimits {
    /// No limits.
    pub const fn new() -> Self {
        Self { until: Vec::new() }
    }

    /// Applies a response: `X-Sentry-Rate-Limits` wins; else a 429 uses `Retry-After` (seconds)
    /// or 60 s, for every category. Limits only ever get longer (the longest one is kept).
    pub fn update(
        &mut self,
        status: u16,
        rate_limits: Option<&str>,
        retry_after: Option<&str>,
        now_ms: u64,
    ) {
        if let Some(header) = rate_limits.filter(|h| !h.trim().is_empty()) {
            for limit in header.split(',') {
                let mut parts = limit.trim().split(':');
                let Some(secs) = parts.next().and_then(|s| parse_u64(s.trim())) else {
                    continue;
                };
                let until = now_ms + secs.min(MAX_LIMIT_SECS) * 1000;
                let categories = parts.next().unwrap_or("");
                if categories.trim().is_empty() {
                    self.extend("", until);
                } else {
                    for c in categories
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                    {
                        self.extend(c, until);
                    }
                }
            }
        } else if status == 429 {
            let secs = retry_after
                .and_then(|s| parse_u64(s.trim()))
                .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
            self.extend("", now_ms + secs.min(MAX_LIMIT_SECS) * 1000);
        }
    }

    fn extend(&mut self, category: &str, until: u64) {
        if let Some(slot) = self.until.iter_mut().find(|(c, _)| c == category) {
            slot.1 = slot.1.max(until);
        } else if self.until.len() < 16 {
            self.until.push((category.into(), until));
        }
    }

    /// Whether sending `category` now is refused.
    pub fn is_limited(&self, category: &str, now_ms: u64) -> bool {
        self.until
            .iter()
            .any(|(c, until)| (c.is_empty() || c == category) && *until > now_ms)
    }

    /// When the limit on `category` ends (epoch ms), if there is one.
    pub fn limited_until(&self, category: &str, now_ms: u64) -> Option<u64> {
        self.until
            .iter()
            .filter(|(c, until)| (c.is_empty() || c == category) && *until > now_ms)
            .map(|(_, until)| *until)
            .max()
    }
}

/// Whether an envelope written by the SDK carries a client report: its first item header (the
/// second line) says so. Only the header is read, so an event whose payload mentions
/// `"type":"client_report"` (in an extra, a message) is still an event.
pub fn is_client_report(envelope: &str) -> bool {
    envelope
        .split('\n')
        .nth(1)
        .is_some_and(|h| h.starts_with("{\"type\":\"client_report\""))
}

/// The retry round count after a request got no response. A request sent live (`queued` false)
/// that fails only starts an outage (round 1: it joins the offline queue); only a retry of the
/// queue that fails again starts a new round. So a burst of errors during an outage does not
/// push the next retry to the cap: the backoff grows once per round, not once per send.
pub fn failures_after_network_error(failures: u32, queued: bool) -> u32 {
    if queued {
        failures.saturating_add(1)
    } else {
        failures.max(1)
    }
}

/// Whether an answer means "not now, send it again later": the collector is up but could not
/// take the envelope (408, or a 5xx other than 501: storage down, overloaded). Such envelopes
/// are kept like those that met a network error; a 429 is a rate limit (dropped and counted,
/// as Sentry's SDKs do) and other 4xx would fail the same way again.
pub fn is_retriable_status(status: u16) -> bool {
    status == 408 || ((500..600).contains(&status) && status != 501)
}

/// The delay before the next retry round: the backoff of `failures` rounds, or the
/// collector's `Retry-After` (seconds) when that is longer, never past the backoff cap.
pub fn retry_delay_ms(failures: u32, retry_after: Option<&str>) -> u64 {
    let asked = retry_after
        .and_then(|s| parse_u64(s.trim()))
        .map_or(0, |secs| secs.saturating_mul(1000));
    backoff_ms(failures).max(asked.min(MAX_BACKOFF_MS))
}

/// Delay before retry number `failures` (1-based) of the offline queue: 1 s, 2 s, 4 s, ...
/// capped at 5 minutes.
pub fn backoff_ms(failures: u32) -> u64 {
    let exp = failures.saturating_sub(1).min(20);
    (BASE_BACKOFF_MS << exp).min(MAX_BACKOFF_MS)
}

/// Adds `envelope` to the offline `queue` within [`MAX_QUEUED`] and [`MAX_QUEUED_BYTES`],
/// evicting the oldest entries to make room. Returns how many envelopes were lost (evicted, or
/// the new one itself when it alone is too big).
pub fn enqueue(queue: &mut Vec<String>, envelope: String) -> usize {
    if envelope.len() > MAX_QUEUED_BYTES {
        return 1;
    }
    let mut lost = 0;
    let mut bytes: usize = queue.iter().map(String::len).sum();
    while !queue.is_empty()
        && (queue.len() >= MAX_QUEUED || bytes + envelope.len() > MAX_QUEUED_BYTES)
    {
        bytes -= queue.remove(0).len();
        lost += 1;
    }
    queue.push(envelope);
    lost
}

/// Most event requests of the SDK in flight at once. Browsers open at most 6 HTTP/1.1
/// connections per host, so more parallel requests only wait inside the browser, where each
/// has already cost the page a `fetch` call and counts against the 64 KiB keepalive quota.
pub const MAX_IN_FLIGHT: u32 = 4;
/// Most envelopes waiting in memory for a free slot: the default per-page cap of events, so a
/// burst within the cap is never dropped here (beyond it, counted as `queue_overflow`).
pub const MAX_WAITING: usize = 100;

/// Event envelopes on their way out: at most [`MAX_IN_FLIGHT`] requests at a time, the rest
/// wait in order (at most [`MAX_WAITING`]) and go out one per finished request. A burst of
/// errors thus costs the page one `fetch` call per error spread over the responses instead of
/// all at once, and nothing is dropped while the collector keeps up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbox {
    in_flight: u32,
    waiting: Vec<String>,
}

/// What to do with a submitted envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submit {
    /// Send it now (a slot was taken).
    Send(String),
    /// It waits for a slot; `lost` older waiting envelopes were evicted to make room.
    Waiting {
        /// Evicted envelopes (count them as `queue_overflow`).
        lost: usize,
    },
}

impl Outbox {
    /// Empty, nothing in flight.
    pub const fn new() -> Self {
        Self {
            in_flight: 0,
            waiting: Vec::new(),
        }
    }

    /// An event envelope to send.
    pub fn submit(&mut self, envelope: String) -> Submit {
        if self.in_flight < MAX_IN_FLIGHT && self.waiting.is_empty() {
            self.in_flight += 1;
            return Submit::Send(envelope);
        }
        let mut lost = 0;
        while self.waiting.len() >= MAX_WAITING {
            self.waiting.remove(0);
            lost += 1;
        }
        self.waiting.push(envelope);
        Submit::Waiting { lost }
    }

    /// One of the requests [`submit`](Self::submit) started has finished (any outcome): frees
    /// its slot and returns the next waiting envelope, its slot taken, if any.
    pub fn finished(&mut self) -> Option<String> {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.take_next()
    }

    /// The oldest waiting envelope if a slot is free (its slot taken).
    pub fn take_next(&mut self) -> Option<String> {
        if self.in_flight >= MAX_IN_FLIGHT || self.waiting.is_empty() {
            return None;
        }
        self.in_flight += 1;
        Some(self.waiting.remove(0))
    }

    /// Everything still waiting, oldest first (the page is going away: the caller beacons or
    /// keeps them).
    pub fn take_waiting(&mut self) -> Vec<String> {
        core::mem::take(&mut self.waiting)
    }

    /// Envelopes waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

/// Why the SDK dropped something (the protocol's client-report reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `sampleRate` said no.
    SampleRate,
    /// `beforeSend` returned null (or threw).
    BeforeSend,
    /// A filter (ignoreErrors, denyUrls, allowUrls, extensions, `Script error.`), dedupe or
    /// the per-page cap.
    EventProcessor,
    /// The collector's rate limit was in force.
    RatelimitBackoff,
    /// The offline queue was full.
    QueueOverflow,
    /// The network failed and the envelope could not be kept.
    NetworkError,
    /// The collector refused it (4xx other than 429, 5xx).
    SendError,
}

impl Reason {
    /// The protocol's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SampleRate => "sample_rate",
            Self::BeforeSend => "before_send",
            Self::EventProcessor => "event_processor",
            Self::RatelimitBackoff => "ratelimit_backoff",
            Self::QueueOverflow => "queue_overflow",
            Self::NetworkError => "network_error",
            Self::SendError => "send_error",
        }
    }
}

/// Counts of dropped items, sent as a `client_report` item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientReport {
    outcomes: Vec<(Reason, &'static str, u64)>,
}

impl ClientReport {
    /// Nothing dropped yet.
    pub const fn new() -> Self {
        Self {
            outcomes: Vec::new(),
        }
    }

    /// Counts `quantity` items of `category` dropped for `reason`.
    pub fn add(&mut self, reason: Reason, category: &'static str, quantity: u64) {
        if quantity == 0 {
            return;
        }
        if let Some(slot) = self
            .outcomes
            .iter_mut()
            .find(|(r, c, _)| *r == reason && *c == category)
        {
            slot.2 = slot.2.saturating_add(quantity);
        } else if self.outcomes.len() < MAX_OUTCOMES {
            self.outcomes.push((reason, category, quantity));
        }
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// How many `category` items were dropped for `reason` so far.
    pub fn count(&self, reason: Reason, category: &str) -> u64 {
        self.outcomes
            .iter()
            .filter(|(r, c, _)| *r == reason && *c == category)
            .map(|(_, _, n)| *n)
            .sum()
    }

    /// The `client_report` payload `{"timestamp":..,"discarded_events":[...]}`.
    pub fn to_json(&self, now_ms: u64) -> String {
        let mut out = String::with_capacity(64 + 64 * self.outcomes.len());
        let mut o = Obj::new(&mut out);
        push_timestamp(o.key("timestamp"), now_ms);
        let list = o.key("discarded_events");
        list.push('[');
        for (i, (reason, category, quantity)) in self.outcomes.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let mut e = Obj::new(list);
            e.str("reason", reason.as_str());
            e.str("category", category);
            e.num("quantity", *quantity);
            e.end();
        }
        list.push(']');
        o.end();
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_trouble_is_retried_other_refusals_are_not() {
        for (status, retried) in [
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (408, true),
            (501, false),
            (429, false),
            (413, false),
            (400, false),
            (200, false),
        ] {
            assert_eq!(is_retriable_status(status), retried, "{status}");
        }
        assert_eq!(retry_delay_ms(1, None), 1_000, "backoff alone");
        assert_eq!(
            retry_delay_ms(1, Some("30")),
            30_000,
            "Retry-After is longer"
        );
        assert_eq!(retry_delay_ms(4, Some("2")), 8_000, "the backoff is longer");
        assert_eq!(
            retry_delay_ms(1, Some("99999999")),
            MAX_BACKOFF_MS,
            "capped"
        );
        assert_eq!(
            retry_delay_ms(1, Some("soon")),
            1_000,
            "unreadable: ignored"
        );
    }

    #[test]
    fn client_reports_are_told_by_their_item_header_only() {
        let report = "{\"sent_at\":\"x\"}\n{\"type\":\"client_report\",\"length\":2}\n{}\n";
        let event = "{\"event_id\":\"a\"}\n{\"type\":\"event\",\"length\":40}\n{\"extra\":{\"x\":{\"type\":\"client_report\"}}}\n";
        assert!(is_client_report(report), "a client report");
        assert!(
            !is_client_report(event),
            "an event mentioning client_report in its payload"
        );
        assert!(!is_client_report(""), "empty");
        assert!(
            !is_client_report("{\"type\":\"client_report\"}"),
            "one line: no item header"
        );
    }

    #[test]
    fn backoff_grows_per_retry_round_not_per_failed_send() {
        // 12 live sends fail during an outage: still round 1, the next retry in 1 s.
        let mut failures = 0;
        for _ in 0..12 {
            failures = failures_after_network_error(failures, false);
        }
        assert_eq!(failures, 1);
        assert_eq!(backoff_ms(failures), 1_000);
        // Each failed retry of the queue is a round: 2 s, 4 s, 8 s ...
        let rounds: Vec<u64> = (0..3)
            .map(|_| {
                failures = failures_after_network_error(failures, true);
                backoff_ms(failures)
            })
            .collect();
        assert_eq!(rounds, [2_000, 4_000, 8_000]);
        // Live sends during a later round do not add rounds either.
        assert_eq!(failures_after_network_error(failures, false), failures);
        assert_eq!(failures_after_network_error(u32::MAX, true), u32::MAX);
    }

    use super::*;

    #[test]
    fn outbox_bounds_requests_in_flight_and_keeps_order() {
        let mut o = Outbox::new();
        let sent: Vec<Submit> = (0..6).map(|i| o.submit(format!("e{i}"))).collect();
        assert_eq!(sent[0], Submit::Send("e0".into()));
        assert_eq!(sent[3], Submit::Send("e3".into()));
        assert_eq!(sent[4], Submit::Waiting { lost: 0 }, "the fifth waits");
        assert_eq!(o.waiting(), 2);
        assert_eq!(
            o.finished(),
            Some("e4".into()),
            "oldest first, one per finished"
        );
        assert_eq!(o.take_next(), None, "all slots busy again");
        assert_eq!(o.finished(), Some("e5".into()));
        // A new envelope never jumps the ones waiting.
        assert_eq!(o.submit("e6".into()), Submit::Waiting { lost: 0 });
        for _ in 0..3 {
            o.finished();
        }
        assert_eq!(
            o.take_next(),
            None,
            "e6 went out with the first finished, nothing else waits"
        );
        assert_eq!(
            o.submit("e7".into()),
            Submit::Send("e7".into()),
            "a free slot sends at once"
        );
    }

    #[test]
    fn outbox_evicts_the_oldest_waiting_and_gives_them_up_at_page_exit() {
        let mut o = Outbox::new();
        for i in 0..MAX_IN_FLIGHT {
            assert!(matches!(o.submit(format!("f{i}")), Submit::Send(_)));
        }
        let mut lost = 0;
        for i in 0..MAX_WAITING + 3 {
            if let Submit::Waiting { lost: n } = o.submit(format!("w{i}")) {
                lost += n;
            }
        }
        assert_eq!(lost, 3);
        assert_eq!(o.waiting(), MAX_WAITING);
        let left = o.take_waiting();
        assert_eq!(
            left.first().map(String::as_str),
            Some("w3"),
            "the oldest were evicted"
        );
        assert_eq!(o.waiting(), 0);
        // Settling more than was started never underflows.
        for _ in 0..10 {
            assert_eq!(o.finished(), None);
        }
    }

    #[test]
    fn rate_limit_headers_per_category() {
        let now = 1_000_000;
        let mut l = RateLimits::default();
        l.update(
            200,
            Some("60:error;default:organization, 10:transaction:key"),
            None,
            now,
        );
        assert!(l.is_limited("error", now), "error limited on a 200");
        assert!(l.is_limited("default", now + 59_999));
        assert!(!l.is_limited("error", now + 60_000), "expires");
        assert!(l.is_limited("transaction", now + 9_000));
        assert!(!l.is_limited("internal", now), "other categories free");
        assert_eq!(l.limited_until("error", now), Some(now + 60_000));

        l.update(429, Some("5:error:key"), Some("999"), now);
        assert_eq!(
            l.limited_until("error", now),
            Some(now + 60_000),
            "the longest limit is kept"
        );
        assert!(
            !l.is_limited("internal", now),
            "header wins over Retry-After"
        );
    }

    #[test]
    fn retry_after_and_bare_429() {
        let now = 5_000;
        let cases: [(u16, Option<&str>, Option<&str>, Option<u64>, &str); 7] = [
            (429, None, Some("7"), Some(7_000), "Retry-After seconds"),
            (429, None, None, Some(60_000), "bare 429 means 60 s"),
            (
                429,
                None,
                Some("Wed, 21 Oct 2015 07:28:00 GMT"),
                Some(60_000),
                "date form falls back to 60 s",
            ),
            (
                429,
                Some(""),
                Some("3"),
                Some(3_000),
                "empty header ignored",
            ),
            (
                429,
                Some("20::key"),
                None,
                Some(20_000),
                "empty categories = all",
            ),
            (
                200,
                None,
                Some("30"),
                None,
                "Retry-After alone on a 200 is ignored",
            ),
            (
                429,
                Some("99999999999:error"),
                None,
                None,
                "huge values capped (checked below)",
            ),
        ];
        for (status, header, retry, want, name) in cases {
            let mut l = RateLimits::default();
            l.update(status, header, retry, now);
            if name.starts_with("huge") {
                assert_eq!(
                    l.limited_until("error", now),
                    Some(now + MAX_LIMIT_SECS * 1000),
                    "case {name}"
                );
                continue;
            }
            assert_eq!(
                l.limited_until("error", now).map(|u| u - now),
                want,
                "case {name}"
            );
        }
        let mut l = RateLimits::default();
        l.update(200, Some("garbage, x:y, :error"), None, now);
        assert_eq!(l, RateLimits::default(), "unparsable limits are skipped");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let got: Vec<u64> = [1, 2, 3, 4, 9, 10, 100, 0]
            .iter()
            .map(|&n| backoff_ms(n))
            .collect();
        assert_eq!(
            got,
            [1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000, 1_000]
        );
    }

    #[test]
    fn queue_is_bounded_by_count_and_bytes() {
        let mut q = Vec::new();
        let lost: usize = (0..MAX_QUEUED + 5)
            .map(|i| enqueue(&mut q, i.to_string()))
            .sum();
        assert_eq!(q.len(), MAX_QUEUED);
        assert_eq!(lost, 5, "oldest evicted");
        assert_eq!(q[0], "5");

        let mut q = vec![
            "a".repeat(MAX_QUEUED_BYTES / 2),
            "b".repeat(MAX_QUEUED_BYTES / 2),
        ];
        assert_eq!(enqueue(&mut q, "c".repeat(10)), 1, "one evicted for bytes");
        assert_eq!(q.len(), 2);
        assert_eq!(
            enqueue(&mut q, "d".repeat(MAX_QUEUED_BYTES + 1)),
            1,
            "too big alone"
        );
        assert_eq!(q.len(), 2, "queue untouched");
    }

    #[test]
    fn client_report_counts_and_json() {
        let mut r = ClientReport::default();
        assert!(r.is_empty());
        r.add(Reason::SampleRate, "error", 0);
        assert!(r.is_empty(), "zero counts nothing");
        r.add(Reason::SampleRate, "error", 1);
        r.add(Reason::SampleRate, "error", 2);
        r.add(Reason::QueueOverflow, "error", 1);
        assert_eq!(r.count(Reason::SampleRate, "error"), 3);
        let v: serde_json::Value = serde_json::from_str(&r.to_json(2_000)).unwrap();
        assert_eq!(v["timestamp"].as_f64(), Some(2.0));
        let d = v["discarded_events"].as_array().unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["reason"], "sample_rate");
        assert_eq!(d[0]["category"], "error");
        assert_eq!(d[0]["quantity"], 3);
        assert_eq!(d[1]["reason"], "queue_overflow");
        let names = [
            Reason::SampleRate,
            Reason::BeforeSend,
            Reason::EventProcessor,
            Reason::RatelimitBackoff,
            Reason::QueueOverflow,
            Reason::NetworkError,
            Reason::SendError,
        ]
        .map(Reason::as_str);
        assert_eq!(
            names,
            [
                "sample_rate",
                "before_send",
                "event_processor",
                "ratelimit_backoff",
                "queue_overflow",
                "network_error",
                "send_error"
            ]
        );
    }
}
