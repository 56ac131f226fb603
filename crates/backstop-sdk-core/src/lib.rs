//! Everything Backstop's browser SDK decides, on the page side: the capture pipeline (guard,
//! budget, build, filters, dedupe, sampling, rate limits, `beforeSend`, the per-session cap),
//! option validation, breadcrumbs, scope, stack parsing, the event JSON and the transport as a
//! state machine (inputs in, [`transport::Action`]s out). This is the code that reaches a
//! user's page; the server side lives in `backstop-core`.
//!
//! Sans-IO: nothing here touches the page. The page is reached only through the ports of
//! [`Host`] (the clock, randomness, `beforeSend`, storage, the network), which
//! `backstop-browser` implements with its JS ports and the tests implement natively, so every
//! rule, the re-entrancy guarantees included, runs under `cargo test`.
//!
//! Bytes: `no_std` + `alloc`, no serde, no `core::fmt` on any path (numbers and JSON are written
//! by hand), because every byte of this crate is downloaded by every page that reports an error.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity
    )
)]
extern crate alloc;

pub mod breadcrumb;
pub mod capture;
pub mod config;
pub mod host;
pub mod sdk;
pub mod sdk_event;
pub mod sdk_transport;
pub mod stack;
pub mod state;
pub mod transport;

pub use backstop_protocol::{SDK_NAME, SDK_VERSION};

/// Numbers the JS stub (`backstop-browser/js/*.js`) shares with this crate, by the name of its
/// `@@NAME@@` placeholder: `cargo xtask build-sdk` writes them in, so each has one source.
pub const STUB_NUMBERS: &[(&str, u64)] = &[
    // The causes read from `error.cause` (the chain the stub hands over).
    ("MAX_CAUSE_DEPTH", sdk::MAX_CAUSE_DEPTH as u64),
    // The elements of a click's path the stub reads.
    ("MAX_CLICK_PATH", state::MAX_CLICK_PATH as u64),
    // Calls the stub keeps until the wasm is ready: no more breadcrumbs than the SDK keeps.
    ("MAX_PENDING", breadcrumb::MAX_BREADCRUMBS as u64),
    // The `keepalive` budget of the stub's requests.
    ("KEEPALIVE_MAX_BYTES", sdk::KEEPALIVE_MAX_BYTES as u64),
    // When the stub looks for an offline queue left by earlier page loads.
    ("FIRST_QUEUE_CHECK_MS", sdk_transport::FIRST_QUEUE_CHECK_MS),
    // The longest retry delay (the stub's retries of a failed wasm load too).
    ("MAX_BACKOFF_MS", sdk_transport::MAX_BACKOFF_MS),
];

/// Strings the JS stub shares with this crate (see [`STUB_NUMBERS`]); written in quoted.
pub const STUB_STRINGS: &[(&str, &str)] = &[("QUEUE_KEY_PREFIX", config::QUEUE_KEY_PREFIX)];
pub use host::Host;
pub use state::State;

/// What every module needs from `alloc` (the crate is `no_std`).
mod prelude {
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}
