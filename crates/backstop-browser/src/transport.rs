//! Sending envelopes (through the stub's original `fetch`), honouring the collector's rate
//! limits, keeping envelopes that hit a network error in a bounded offline queue
//! (`localStorage`, retried with exponential backoff, on `online` and on the next page load),
//! and counting everything the SDK drops for client reports, sent on `pagehide`. At most
//! [`MAX_IN_FLIGHT`](backstop_server_core::sdk_transport::MAX_IN_FLIGHT) event requests run at once; a
//! burst waits in the [`Outbox`](backstop_server_core::sdk_transport::Outbox) and goes out
//! one per finished request, or by `sendBeacon` when the page goes away.
//!
//! The URL carries `sentry_key` in its query and the body is a plain string, so requests are
//! CORS-simple (no preflight). Transport outcomes never become events: they only update
//! counters, limits and the queue.

use backstop_protocol::write_single_item;
use backstop_server_core::sdk_event::envelope_header;
use backstop_server_core::sdk_transport::{
    enqueue, failures_after_network_error, is_client_report, is_retriable_status, retry_delay_ms,
    Reason, Submit, MAX_QUEUED,
};

use crate::config::Config;
use crate::{host, state, testing};

/// Data category of events (rate limits and client reports).
const ERROR: &str = "error";
/// Category of client reports.
const INTERNAL: &str = "internal";

/// Whether the collector's rate limit on events is in force (such events are dropped before
/// they are built, and counted as `ratelimit_backoff`).
pub(crate) fn is_limited() -> bool {
    // The clock is read before the state is borrowed: a page's patched Date.now may call back
    // into the SDK.
    let now = host::now() as u64;
    state::with(|s| s.limits.is_limited(ERROR, now))
}

/// Sends an event envelope now, or once a request slot is free; returns the transport used.
pub(crate) fn send_event(config: &Config, envelope: &str) -> &'static str {
    match state::with(|s| s.outbox.submit(envelope.into())) {
        Submit::Send(envelope) => host::send(&config.envelope_url, &envelope, false),
        Submit::Waiting { lost } => state::dropped_n(Reason::QueueOverflow, ERROR, lost),
    }
    "fetch"
}

/// An event request started by [`send_event`] finished: its slot goes to the oldest waiting
/// envelope (those that meet a rate limit now in force are dropped and counted).
fn event_finished() {
    let Some(config) = state::config() else {
        return;
    };
    let now = host::now() as u64;
    let next = state::with(|s| {
        let mut next = s.outbox.finished();
        while next.is_some() && s.limits.is_limited(ERROR, now) {
            s.report.add(Reason::RatelimitBackoff, ERROR, 1);
            next = s.outbox.finished();
        }
        next
    });
    if let Some(envelope) = next {
        host::send(&config.envelope_url, &envelope, false);
    }
}

/// The outcome of one of our requests (see [`crate::settled`]).
pub(crate) fn settled(
    body: &str,
    status: u16,
    rate_limits: Option<&str>,
    retry_after: Option<&str>,
    queued: bool,
) {
    let report = is_client_report(body);
    if status != 0 && !is_retriable_status(status) {
        on_response(report, status, rate_limits, retry_after, queued);
        if !queued && !report {
            event_finished();
        }
    } else if !report {
        // No answer, or the collector could not take it now (storage down, overloaded): kept
        // and sent again, after its Retry-After if it gave one.
        on_network_error(body, queued, retry_after);
    }
}

fn on_response(
    report: bool,
    status: u16,
    rate_limits: Option<&str>,
    retry_after: Option<&str>,
    queued: bool,
) {
    let now = host::now() as u64;
    state::with(|s| {
        s.limits.update(status, rate_limits, retry_after, now);
        if queued {
            s.draining = false;
        }
        if (200..300).contains(&status) {
            s.failures = 0;
        } else if !report {
            let reason = if status == 429 {
                Reason::RatelimitBackoff
            } else {
                Reason::SendError
            };
            s.report.add(reason, ERROR, 1);
        }
    });
    // A working network: send what waited, once the collector's limit (if any) is over.
    let wait = state::with(|s| s.limits.limited_until(ERROR, now)).map_or(0, |until| until - now);
    schedule_drain(wait);
}

/// An envelope that never got a response: kept for later (bounded), or counted. When an event
/// request fails, what waits for a slot joins it in the offline queue (sent with its backoff)
/// instead of failing one request after another.
fn on_network_error(body: &str, queued: bool, retry_after: Option<&str>) {
    let Some(config) = state::config() else {
        return;
    };
    state::with(|s| s.failures = failures_after_network_error(s.failures, queued));
    if !queued {
        let mut envelopes = state::with(|s| {
            let waiting = s.outbox.take_waiting();
            s.outbox.finished();
            waiting
        });
        envelopes.insert(0, body.into());
        keep_offline(&config, envelopes, retry_after);
        return;
    }
    state::with(|s| {
        // Back at the front: order is kept.
        s.queue.insert(0, body.into());
        s.draining = false;
        let over = s.queue.len().saturating_sub(MAX_QUEUED);
        s.queue.truncate(MAX_QUEUED);
        s.report.add(Reason::QueueOverflow, ERROR, over as u64);
    });
    store_queue(&config.storage_key);
    schedule_drain(retry_delay_ms(state::with(|s| s.failures), retry_after));
}

/// Envelopes that could not be sent now: into the offline queue (retried after the backoff of
/// the failures so far), or counted as network errors without it.
fn keep_offline(config: &Config, envelopes: Vec<String>, retry_after: Option<&str>) {
    if envelopes.is_empty() {
        return;
    }
    if !config.offline {
        state::dropped_n(Reason::NetworkError, ERROR, envelopes.len());
        return;
    }
    load_queue(&config.storage_key);
    state::with(|s| {
        for envelope in envelopes {
            let lost = enqueue(&mut s.queue, envelope);
            s.report.add(Reason::QueueOverflow, ERROR, lost as u64);
        }
    });
    store_queue(&config.storage_key);
    schedule_drain(retry_delay_ms(
        state::with(|s| s.failures.max(1)),
        retry_after,
    ));
}

/// Reads the offline queue left by earlier page loads, once, ahead of what this page queued.
fn load_queue(key: &str) {
    if state::with(|s| std::mem::replace(&mut s.queue_loaded, true)) {
        return;
    }
    let Some(text) = host::load(key) else {
        return;
    };
    // Stored as envelopes joined by U+0000 (envelopes are JSON lines: no NUL inside).
    state::with(|s| {
        let mine = std::mem::take(&mut s.queue);
        for env in text
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(String::from)
            .chain(mine)
        {
            let lost = enqueue(&mut s.queue, env);
            s.report.add(Reason::QueueOverflow, ERROR, lost as u64);
        }
    });
}

/// Mirrors the queue to `localStorage` (the stub ignores quota and security errors).
fn store_queue(key: &str) {
    let text = state::with(|s| s.queue.join("\0"));
    host::store(key, &text);
}

/// Arms the retry timer for the oldest queued envelope after `delay_ms`, unless nothing waits
/// or a queued envelope is already in flight.
pub(crate) fn schedule_drain(delay_ms: u64) {
    if state::with(|s| (s.queue_loaded && s.queue.is_empty()) || s.draining) {
        return;
    }
    host::timer(delay_ms as f64);
}

/// The retry timer: sends the oldest queued envelope unless a limit is in force.
pub(crate) fn drain() {
    let Some(config) = state::config() else {
        return;
    };
    load_queue(&config.storage_key);
    let now = host::now() as u64;
    let next = state::with(|s| {
        if s.draining || s.queue.is_empty() || s.limits.is_limited(ERROR, now) {
            return None;
        }
        s.draining = true;
        Some(s.queue.remove(0))
    });
    if let Some(envelope) = next {
        store_queue(&config.storage_key);
        host::send(&config.envelope_url, &envelope, true);
    }
}

/// Sends the client report (if anything was dropped and no limit covers it) with
/// `sendBeacon`, falling back to `fetch`.
pub(crate) fn flush() {
    let Some(config) = state::config() else {
        return;
    };
    let now = host::now() as u64;
    // Envelopes still waiting for a request slot: the page may be going away, so they go by
    // beacon (which outlives the page), or into the offline queue if the browser refuses.
    let mut waiting = state::with(|s| s.outbox.take_waiting());
    if is_limited() {
        state::dropped_n(Reason::RatelimitBackoff, ERROR, waiting.len());
    } else {
        waiting.retain(|e| testing::beacon_disabled() || !host::beacon(&config.envelope_url, e));
        keep_offline(&config, waiting, None);
    }
    let report = state::with(|s| {
        if s.report.is_empty() || s.limits.is_limited(INTERNAL, now) {
            return None;
        }
        Some(std::mem::take(&mut s.report).to_json(now))
    });
    let Some(report) = report else {
        return;
    };
    let envelope = write_single_item(
        &envelope_header(None, &config.dsn, &host::iso_now()),
        "client_report",
        &report,
    );
    testing::record("", "client_report", "client_report", &envelope);
    if testing::beacon_disabled() || !host::beacon(&config.envelope_url, &envelope) {
        host::send(&config.envelope_url, &envelope, false);
    }
}
