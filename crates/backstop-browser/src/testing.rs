//! Hooks for this crate's browser tests. Not part of the SDK's API; hidden from docs.

use std::cell::{Cell, RefCell};

use backstop_sdk_core::{Host, State};

use crate::Page;

/// One event the SDK built and handed to a transport.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its id.
    pub event_id: String,
    /// Which hook produced it (`error`, `resource`, `rejection`, `fetch`, `xhr`, `exception`,
    /// `message`, `panic`), or `client_report`.
    pub kind: &'static str,
    /// `fetch`, or `client_report` for a flushed client report.
    pub transport: &'static str,
    /// The whole envelope.
    pub envelope: String,
}

impl Sent {
    /// The event JSON (the envelope's item payload).
    pub fn payload(&self) -> &str {
        self.envelope.lines().nth(2).unwrap_or_default()
    }
}

thread_local! {
    static RECORD: RefCell<Option<Vec<Sent>>> = const { RefCell::new(None) };
    static NO_BEACON: Cell<bool> = const { Cell::new(false) };
}

/// Starts keeping every sent event in memory (off by default: pages pay nothing).
pub fn start_recording() {
    RECORD.replace(Some(Vec::new()));
}

/// The events sent since recording started or since the last call.
pub fn take_recorded() -> Vec<Sent> {
    RECORD.with(|r| {
        r.borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    })
}

/// Makes `flush` skip `sendBeacon` and use `fetch`.
pub fn set_beacon_disabled(disabled: bool) {
    NO_BEACON.set(disabled);
}

/// Back to the state before `init`: no config, fresh budget, scope, breadcrumbs, limits, queue
/// and counters, guard free, recording off, beacon enabled.
pub fn reset() {
    Page.state(|s| *s = State::new());
    RECORD.replace(None);
    NO_BEACON.set(false);
}

pub(crate) fn beacon_disabled() -> bool {
    NO_BEACON.get()
}

/// Records a sent envelope when recording is on (the shipped SDK has no such module: it is
/// built without `std`).
pub(crate) fn record(event_id: &str, kind: &'static str, transport: &'static str, envelope: &str) {
    RECORD.with(|r| {
        if let Some(sent) = r.borrow_mut().as_mut() {
            sent.push(Sent {
                event_id: event_id.into(),
                kind,
                transport,
                envelope: envelope.into(),
            });
        }
    });
}

/// The client-report counts so far, as the JSON the SDK would send (`None` if empty).
pub fn client_report() -> Option<String> {
    Page.state(|s| (!s.report.is_empty()).then(|| s.report.to_json(0)))
}

/// Envelopes in the offline queue.
pub fn queued() -> usize {
    Page.state(|s| s.transport.queued())
}
