//! Server side: the collector's rules, pure and natively tested: no I/O, no clock (callers pass
//! `now_ms`), no randomness (callers pass ids). Nothing here reaches a user's page: the worker
//! (`backstop-worker`) is its only user, with the webhook guard's rules in `backstop-guard-core`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::type_complexity
    )
)]

pub mod admission;
pub mod fingerprint;
pub mod ingest;
pub mod rate_limit;

pub mod alerting;
pub mod auth;
pub mod client_report;
pub mod config;
pub mod envelope;
pub mod error;
pub mod event;
pub mod fault;
pub mod filter;
pub mod install_probe;
pub mod item;
pub mod outbox;
pub mod pipeline;
pub mod query;
pub mod quota;
pub mod retention;
pub mod scrub;
pub mod session;
pub mod size;
pub mod stats;
pub mod symbolicate;
pub mod time;
pub mod triage;
pub mod watchdog;
