//! The ports through which the SDK reaches the page. `backstop-browser` implements them with
//! the JS stub's functions; tests implement them natively.
//!
//! Every port except [`Host::state`] may run page code (a patched `Date.now`, a `RegExp`,
//! `beforeSend`, a `backstop:sent` listener, a patched `sendBeacon`), and page code may call
//! back into the SDK. So the state is only ever borrowed inside [`Host::state`], never across
//! another port's call, and a capture holds the state's `capturing` flag while it runs (a
//! capture that starts meanwhile is refused).

use crate::prelude::*;
use crate::state::State;

/// The page, as the SDK sees it.
pub trait Host {
    /// Runs `f` on the SDK's state. `f` must not call any other port.
    fn state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R;
    /// `Date.now()`: ms since the epoch.
    fn now(&self) -> f64;
    /// `Math.random()`, in `0..1`.
    fn random(&self) -> f64;
    /// The current time as RFC 3339 (`new Date().toISOString()`).
    fn iso_now(&self) -> String;
    /// `location.href`.
    fn page_url(&self) -> String;
    /// Whether the options' `RegExp` number `index` matches `text`.
    fn test_pattern(&self, index: u32, text: &str) -> bool;
    /// `beforeSend` on the event JSON, serialised back; `None` drops the event.
    fn before_send(&self, event: &str) -> Option<String>;
    /// A stored value (`session:` keys: per tab), `None` when missing or unavailable.
    fn load(&self, key: &str) -> Option<String>;
    /// Stores a value; an empty value removes the key.
    fn store(&self, key: &str, value: &str);
    /// The page's debug ids as `stack \u{1} id \u{2}` pairs (empty without any).
    fn debug_ids(&self) -> String;
    /// An event was handed to a transport: tells the page.
    fn notify(
        &self,
        event_id: &str,
        kind: &str,
        ty: Option<String>,
        message: &str,
        transport: &str,
    );
    /// A test hook: an envelope (event or client report) was handed to a transport.
    fn record(&self, event_id: &str, kind: &'static str, transport: &'static str, envelope: &str) {
        let _ = (event_id, kind, transport, envelope);
    }
    /// POSTs `body` to `url`; the outcome comes back as
    /// [`transport::settled`](crate::transport::settled).
    fn send(&self, url: &str, body: &str, queued: bool);
    /// `navigator.sendBeacon(url, body)`; `false` when refused.
    fn beacon(&self, url: &str, body: &str) -> bool;
    /// Calls [`transport::timer`](crate::transport::timer) after `delay_ms` (replacing a
    /// pending timer).
    fn timer(&self, delay_ms: u64);
}
