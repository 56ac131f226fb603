//! Backstop's business rules, pure and natively tested: no I/O, no clock (callers pass `now_ms`),
//! no randomness (callers pass ids). The browser SDK uses the parts that need no `server`
//! feature (stack parsing, send budget); the worker uses everything.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity
    )
)]

pub mod breadcrumb;
pub mod fingerprint;
#[cfg(feature = "server")]
pub mod ingest;
pub mod rate_limit;
pub mod sdk;
pub mod sdk_event;
pub mod sdk_transport;
pub mod stack;

#[cfg(feature = "server")]
pub mod alerting;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod client_report;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod envelope;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod event;
#[cfg(feature = "server")]
pub mod fault;
#[cfg(feature = "server")]
pub mod filter;
#[cfg(feature = "server")]
pub mod install_probe;
#[cfg(feature = "server")]
pub mod item;
#[cfg(feature = "server")]
pub mod pipeline;
#[cfg(feature = "server")]
pub mod query;
#[cfg(feature = "server")]
pub mod quota;
#[cfg(feature = "server")]
pub mod retention;
#[cfg(feature = "server")]
pub mod scrub;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod size;
#[cfg(feature = "server")]
pub mod stats;
#[cfg(feature = "server")]
pub mod symbolicate;
#[cfg(feature = "server")]
pub mod time;
#[cfg(feature = "server")]
pub mod triage;
#[cfg(feature = "server")]
pub mod watchdog;
#[cfg(feature = "server")]
pub mod webhook;
