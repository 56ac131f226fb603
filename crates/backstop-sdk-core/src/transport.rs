//! Sending envelopes, as a state machine: [`Transport`] takes the transport's inputs (an event
//! envelope was captured, a request settled or met a network error, the page is hidden, the
//! retry timer fired, the stored queue was read) and returns [`Action`]s (send, beacon, store
//! the offline queue, arm the timer, count a drop), which the functions at the bottom of this
//! module perform through the [`Host`] ports.
//!
//! The rules: honour the collector's rate limits; keep envelopes that hit a network error in a
//! bounded offline queue (`localStorage`, retried with exponential backoff, on `online` and on
//! the next page load); count everything dropped for client reports, sent on `pagehide`. At
//! most [`MAX_IN_FLIGHT`](crate::sdk_transport::MAX_IN_FLIGHT) event requests run at once; a
//! burst waits in the [`Outbox`] and goes out one per finished request, or by `sendBeacon`
//! when the page goes away. Transport outcomes never become events: they only update
//! counters, limits and the queue (no input here can reach the capture pipeline).

use backstop_protocol::write_single_item;

use crate::config::Config;
use crate::prelude::*;
use crate::sdk_event::envelope_header;
use crate::sdk_transport::{
    enqueue, failures_after_network_error, is_client_report, is_retriable_status, retry_delay_ms,
    Outbox, RateLimits, Reason, Submit, FIRST_QUEUE_CHECK_MS, MAX_QUEUED,
};
use crate::{state, Host};

/// Data category of events (rate limits and client reports).
pub const ERROR: &str = "error";
/// Category of client reports.
pub const INTERNAL: &str = "internal";

/// What the transport asks the page to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// POST `body` to the envelope URL; `queued` if it comes from the offline queue.
    Send {
        /// The envelope.
        body: String,
        /// From the offline queue (its outcome comes back with `queued`).
        queued: bool,
    },
    /// `sendBeacon` this envelope; those refused go back through
    /// [`Transport::beacon_refused`].
    Beacon(String),
    /// Mirror the offline queue to storage: envelopes joined by U+0000 (JSON lines hold no
    /// NUL), empty when nothing waits.
    StoreOffline(String),
    /// Call [`Transport::timer`] after this many ms (replacing a pending timer).
    SetTimer(u64),
    /// Count `n` dropped events for the client report.
    CountDrop {
        /// Why.
        reason: Reason,
        /// How many.
        n: u64,
    },
}

/// The transport's state: limits, requests in flight, the offline queue, the backoff.
#[derive(Debug)]
pub struct Transport {
    limits: RateLimits,
    /// Event envelopes in flight or waiting for a request slot.
    outbox: Outbox,
    /// Envelopes waiting for the network (mirrored to storage).
    queue: Vec<String>,
    /// Consecutive failed sends (for the backoff).
    failures: u32,
    /// A queued envelope is in flight.
    draining: bool,
    /// The queue left in storage by earlier page loads was read (done lazily).
    queue_loaded: bool,
    /// Keep envelopes that met a network error (the `offline` option).
    offline: bool,
}

impl Transport {
    /// Nothing sent, nothing queued, the offline queue on.
    pub const fn new() -> Self {
        Self {
            limits: RateLimits::new(),
            outbox: Outbox::new(),
            queue: Vec::new(),
            failures: 0,
            draining: false,
            queue_loaded: false,
            offline: true,
        }
    }

    /// The `offline` option.
    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// Whether the collector's limit on `category` is in force at `now_ms`.
    pub fn is_limited(&self, category: &str, now_ms: u64) -> bool {
        self.limits.is_limited(category, now_ms)
    }

    /// Envelopes in the offline queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether the stored queue must be read (with [`stored`](Self::stored)) before an input
    /// that may keep envelopes offline: always before [`timer`](Self::timer); before
    /// [`network_error`](Self::network_error) and [`beacon_refused`](Self::beacon_refused)
    /// only with the offline queue on.
    pub fn needs_stored(&self, keeping: bool) -> bool {
        !self.queue_loaded && (!keeping || self.offline)
    }

    /// `init` ran: look at the queue left by earlier page loads a bit later.
    pub fn started(&self) -> Vec<Action> {
        let mut out = Vec::new();
        self.schedule_drain(FIRST_QUEUE_CHECK_MS, &mut out);
        out
    }

    /// The queue read from storage (`None`: nothing stored), once, ahead of what this page
    /// queued. Later calls change nothing.
    pub fn stored(&mut self, text: Option<String>) -> Vec<Action> {
        let mut out = Vec::new();
        if core::mem::replace(&mut self.queue_loaded, true) {
            return out;
        }
        let Some(text) = text else {
            return out;
        };
        let mine = core::mem::take(&mut self.queue);
        let mut lost = 0;
        for env in text
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(String::from)
            .chain(mine)
        {
            lost += enqueue(&mut self.queue, env);
        }
        count(&mut out, Reason::QueueOverflow, lost);
        out
    }

    /// An event envelope to send now, or once a request slot is free.
    pub fn captured(&mut self, envelope: String) -> Vec<Action> {
        let mut out = Vec::new();
        match self.outbox.submit(envelope) {
            Submit::Send(body) => out.push(Action::Send {
                body,
                queued: false,
            }),
            Submit::Waiting { lost } => count(&mut out, Reason::QueueOverflow, lost),
        }
        out
    }

    /// A request answered with `status` (not 0) and these `X-Sentry-Rate-Limits` and
    /// `Retry-After` headers. A retriable status (the collector could not take it now) is a
    /// network error.
    pub fn settled(
        &mut self,
        body: &str,
        status: u16,
        rate_limits: Option<&str>,
        retry_after: Option<&str>,
        queued: bool,
        now_ms: u64,
    ) -> Vec<Action> {
        let report = is_client_report(body);
        if status == 0 || is_retriable_status(status) {
            return self.network_error(body, queued, retry_after);
        }
        let mut out = Vec::new();
        self.limits.update(status, rate_limits, retry_after, now_ms);
        if queued {
            self.draining = false;
        }
        if (200..300).contains(&status) {
            self.failures = 0;
        } else if !report {
            let reason = if status == 429 {
                Reason::RatelimitBackoff
            } else {
                Reason::SendError
            };
            count(&mut out, reason, 1);
        }
        // A working network: send what waited, once the collector's limit (if any) is over.
        let wait = self
            .limits
            .limited_until(ERROR, now_ms)
            .map_or(0, |until| until - now_ms);
        self.schedule_drain(wait, &mut out);
        if !queued && !report {
            self.event_finished(now_ms, &mut out);
        }
        out
    }

    /// A request that got no usable answer: kept for later (bounded), or counted. When an
    /// event request fails, what waits for a slot joins it in the offline queue (sent with its
    /// backoff) instead of failing one request after another. Client reports are not kept.
    pub fn network_error(
        &mut self,
        body: &str,
        queued: bool,
        retry_after: Option<&str>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if is_client_report(body) {
            return out;
        }
        self.failures = failures_after_network_error(self.failures, queued);
        if !queued {
            let mut envelopes = self.outbox.take_waiting();
            self.outbox.finished();
            envelopes.insert(0, body.into());
            self.keep_offline(envelopes, retry_after, &mut out);
            return out;
        }
        // Back at the front: order is kept.
        self.queue.insert(0, body.into());
        self.draining = false;
        let over = self.queue.len().saturating_sub(MAX_QUEUED);
        self.queue.truncate(MAX_QUEUED);
        count(&mut out, Reason::QueueOverflow, over);
        out.push(self.store_action());
        self.schedule_drain(retry_delay_ms(self.failures, retry_after), &mut out);
        out
    }

    /// The retry timer (or `online`): sends the oldest queued envelope unless a limit is in
    /// force or one is already in flight.
    pub fn timer(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.draining || self.queue.is_empty() || self.limits.is_limited(ERROR, now_ms) {
            return out;
        }
        self.draining = true;
        let body = self.queue.remove(0);
        out.push(self.store_action());
        out.push(Action::Send { body, queued: true });
        out
    }

    /// The page is going away: envelopes still waiting for a request slot go by beacon
    /// (which outlives the page), or are counted when a limit is in force.
    pub fn page_hide(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        let waiting = self.outbox.take_waiting();
        if self.limits.is_limited(ERROR, now_ms) {
            count(&mut out, Reason::RatelimitBackoff, waiting.len());
        } else {
            out.extend(waiting.into_iter().map(Action::Beacon));
        }
        out
    }

    /// Envelopes the browser refused to beacon: into the offline queue.
    pub fn beacon_refused(&mut self, envelopes: Vec<String>) -> Vec<Action> {
        let mut out = Vec::new();
        self.keep_offline(envelopes, None, &mut out);
        out
    }

    /// An event request finished: its slot goes to the oldest waiting envelope (those that
    /// meet a rate limit now in force are dropped and counted).
    fn event_finished(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        let mut next = self.outbox.finished();
        let mut limited = 0;
        while next.is_some() && self.limits.is_limited(ERROR, now_ms) {
            limited += 1;
            next = self.outbox.finished();
        }
        count(out, Reason::RatelimitBackoff, limited);
        if let Some(body) = next {
            out.push(Action::Send {
                body,
                queued: false,
            });
        }
    }

    /// Envelopes that could not be sent now: into the offline queue (retried after the
    /// backoff of the failures so far), or counted as network errors without it.
    fn keep_offline(
        &mut self,
        envelopes: Vec<String>,
        retry_after: Option<&str>,
        out: &mut Vec<Action>,
    ) {
        if envelopes.is_empty() {
            return;
        }
        if !self.offline {
            count(out, Reason::NetworkError, envelopes.len());
            return;
        }
        let mut lost = 0;
        for envelope in envelopes {
            lost += enqueue(&mut self.queue, envelope);
        }
        count(out, Reason::QueueOverflow, lost);
        out.push(self.store_action());
        self.schedule_drain(retry_delay_ms(self.failures.max(1), retry_after), out);
    }

    fn store_action(&self) -> Action {
        let mut text = String::new();
        for (i, envelope) in self.queue.iter().enumerate() {
            if i > 0 {
                text.push('\0');
            }
            text.push_str(envelope);
        }
        Action::StoreOffline(text)
    }

    /// Arms the retry timer after `delay_ms`, unless nothing waits or a queued envelope is
    /// already in flight.
    fn schedule_drain(&self, delay_ms: u64, out: &mut Vec<Action>) {
        if (self.queue_loaded && self.queue.is_empty()) || self.draining {
            return;
        }
        out.push(Action::SetTimer(delay_ms));
    }
}

fn count(out: &mut Vec<Action>, reason: Reason, n: usize) {
    if n > 0 {
        out.push(Action::CountDrop {
            reason,
            n: n as u64,
        });
    }
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

/// Performs `actions` through the ports (the state is not borrowed meanwhile: a patched
/// `sendBeacon` or storage may call back into the SDK). Refused beacons go back to the
/// transport, and what that asks for is performed too.
pub fn perform(h: &impl Host, config: &Config, actions: Vec<Action>) {
    let mut refused = Vec::new();
    for action in actions {
        match action {
            Action::Send { body, queued } => h.send(&config.envelope_url, &body, queued),
            Action::Beacon(body) => {
                if !h.beacon(&config.envelope_url, &body) {
                    refused.push(body);
                }
            }
            Action::StoreOffline(text) => h.store(&config.storage_key, &text),
            Action::SetTimer(ms) => h.timer(ms),
            Action::CountDrop { reason, n } => h.state(|s| s.report.add(reason, ERROR, n)),
        }
    }
    if !refused.is_empty() {
        load_stored(h, config, true);
        let more = h.state(|s| s.transport.beacon_refused(refused));
        perform(h, config, more);
    }
}

/// Reads the stored queue if the next input may need it (see [`Transport::needs_stored`]).
fn load_stored(h: &impl Host, config: &Config, keeping: bool) {
    if h.state(|s| s.transport.needs_stored(keeping)) {
        let text = h.load(&config.storage_key);
        let actions = h.state(|s| s.transport.stored(text));
        perform(h, config, actions);
    }
}

/// Whether the collector's rate limit on events is in force (such events are dropped before
/// they are built, and counted as `ratelimit_backoff`).
pub fn is_limited(h: &impl Host) -> bool {
    // The clock is read before the state is borrowed: a page's patched Date.now may call back
    // into the SDK.
    let now = h.now() as u64;
    h.state(|s| s.transport.is_limited(ERROR, now))
}

/// `init` ran.
pub fn started(h: &impl Host) {
    if let Some(config) = state::config(h) {
        let actions = h.state(|s| s.transport.started());
        perform(h, &config, actions);
    }
}

/// An event envelope was built: sends it.
pub fn captured(h: &impl Host, config: &Config, envelope: String) {
    let actions = h.state(|s| s.transport.captured(envelope));
    perform(h, config, actions);
}

/// The outcome of one of the SDK's own requests: `status` 0 for a network error, else the
/// response status and its `X-Sentry-Rate-Limits` and `Retry-After` headers.
pub fn settled(
    h: &impl Host,
    body: &str,
    status: u16,
    rate_limits: Option<&str>,
    retry_after: Option<&str>,
    queued: bool,
) {
    let Some(config) = state::config(h) else {
        return;
    };
    let now = h.now() as u64;
    if (status == 0 || is_retriable_status(status)) && !queued && !is_client_report(body) {
        load_stored(h, &config, true);
    }
    let actions = h.state(|s| {
        s.transport
            .settled(body, status, rate_limits, retry_after, queued, now)
    });
    perform(h, &config, actions);
}

/// The retry timer of the offline queue (and `online`).
pub fn timer(h: &impl Host) {
    let Some(config) = state::config(h) else {
        return;
    };
    load_stored(h, &config, false);
    let now = h.now() as u64;
    let actions = h.state(|s| s.transport.timer(now));
    perform(h, &config, actions);
}

/// The page is hidden or going away (and `Backstop.flush()`): waiting envelopes by beacon,
/// then the client report (if anything was dropped and no limit covers it) by beacon, falling
/// back to `fetch`.
pub fn page_hide(h: &impl Host) {
    let Some(config) = state::config(h) else {
        return;
    };
    let now = h.now() as u64;
    let actions = h.state(|s| s.transport.page_hide(now));
    perform(h, &config, actions);
    let report = h.state(|s| {
        if s.report.is_empty() || s.transport.is_limited(INTERNAL, now) {
            return None;
        }
        Some(core::mem::take(&mut s.report).to_json(now))
    });
    let Some(report) = report else {
        return;
    };
    let envelope = write_single_item(
        &envelope_header(None, &config.dsn, &h.iso_now()),
        "client_report",
        &report,
    );
    h.record("", "client_report", "client_report", &envelope);
    if !h.beacon(&config.envelope_url, &envelope) {
        h.send(&config.envelope_url, &envelope, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(body: &str, queued: bool) -> Action {
        Action::Send {
            body: body.into(),
            queued,
        }
    }

    #[test]
    fn captured_envelopes_take_a_slot_or_wait_for_a_finished_request() {
        let mut t = Transport::new();
        for i in 0..4 {
            assert_eq!(t.captured(format!("e{i}")), [send(&format!("e{i}"), false)]);
        }
        assert_eq!(t.captured("e4".into()), [], "waits");
        // A working network: a look at the stored queue (not read yet) right away.
        assert_eq!(
            t.settled("e0", 200, None, None, false, 0),
            [Action::SetTimer(0), send("e4", false)]
        );
        t.stored(None);
        assert_eq!(
            t.settled("e1", 200, None, None, false, 0),
            [],
            "nothing waits"
        );
    }

    #[test]
    fn a_network_error_keeps_the_envelope_and_arms_the_backoff() {
        let mut t = Transport::new();
        assert_eq!(t.started(), [Action::SetTimer(FIRST_QUEUE_CHECK_MS)]);
        assert!(t.needs_stored(true));
        assert_eq!(t.stored(Some("old".into())), []);
        assert!(!t.needs_stored(false));
        t.captured("new".into());
        assert_eq!(
            t.network_error("new", false, None),
            [
                Action::StoreOffline("old\0new".into()),
                Action::SetTimer(1_000)
            ]
        );
        assert_eq!(
            t.timer(0),
            [Action::StoreOffline("new".into()), send("old", true)]
        );
        assert_eq!(t.timer(0), [], "one queued envelope in flight at a time");
        assert_eq!(
            t.network_error("old", true, Some("30")),
            [
                Action::StoreOffline("old\0new".into()),
                Action::SetTimer(30_000)
            ],
            "back at the front, after the collector's Retry-After"
        );
        assert_eq!(t.queued(), 2);
    }

    #[test]
    fn without_the_offline_queue_losses_are_counted() {
        let mut t = Transport::new();
        t.set_offline(false);
        assert!(!t.needs_stored(true));
        t.captured("e".into());
        assert_eq!(
            t.network_error("e", false, None),
            [Action::CountDrop {
                reason: Reason::NetworkError,
                n: 1
            }]
        );
    }

    #[test]
    fn page_hide_beacons_what_waits_unless_limited() {
        let mut t = Transport::new();
        for i in 0..5 {
            t.captured(format!("e{i}"));
        }
        assert_eq!(t.page_hide(0), [Action::Beacon("e4".into())]);
        assert_eq!(t.page_hide(0), [], "once");
        let mut t = Transport::new();
        for i in 0..6 {
            t.captured(format!("e{i}"));
        }
        let acts = t.settled("e0", 429, Some("60::key"), None, false, 1_000);
        assert_eq!(
            acts,
            [
                Action::CountDrop {
                    reason: Reason::RatelimitBackoff,
                    n: 1
                },
                Action::SetTimer(60_000),
                Action::CountDrop {
                    reason: Reason::RatelimitBackoff,
                    n: 2
                }
            ],
            "the 429, the retry after the limit, the two that waited"
        );
        assert!(t.is_limited(ERROR, 1_000));
        assert_eq!(t.page_hide(1_000), []);
    }

    #[test]
    fn client_reports_are_never_kept_nor_counted() {
        let mut t = Transport::new();
        let report = "{}\n{\"type\":\"client_report\",\"length\":2}\n{}\n";
        assert_eq!(t.network_error(report, false, None), []);
        assert_eq!(t.settled(report, 503, None, None, false, 0), []);
        t.stored(None);
        assert_eq!(
            t.settled(report, 400, None, None, false, 0),
            [],
            "not a send_error"
        );
        assert_eq!(t.queued(), 0);
    }
}
