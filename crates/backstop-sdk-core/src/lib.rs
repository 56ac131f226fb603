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
pub use host::Host;
pub use state::State;

/// What every module needs from `alloc` (the crate is `no_std`).
mod prelude {
    pub(crate) use alloc::string::{String, ToString};
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}
