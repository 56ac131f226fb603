//! Protocol types for Backstop: the subset of Sentry's event and envelope format that Backstop's
//! own SDK writes and its worker reads. No I/O, no clock, tiny on purpose: the browser SDK
//! depends on this crate and every byte here is a byte on every page.
#![no_std]
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

pub mod dsn;
pub mod envelope;
pub mod event;
pub mod extensions;

pub use dsn::{Dsn, ParseDsnError};
pub use envelope::{write_single_item, EnvelopeHeader, ItemHeader};
pub use event::{
    Event, Exception, ExceptionList, Frame, Mechanism, RequestInfo, SdkInfo, Stacktrace,
};

/// Name our SDK reports in `sdk.name` and `sentry_client`.
pub const SDK_NAME: &str = "backstop.browser";
/// Version of the protocol crate, also reported as the SDK version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
