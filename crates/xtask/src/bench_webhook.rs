//! `cargo xtask bench webhook`: the webhook guard in one run against a real nginx — latency of
//! small POSTs direct to nginx vs through the worker (a ratio), and the worker's wasm memory
//! while passing and holding 25 MB and 100 MB bodies (it must stay flat: bodies are streamed,
//! never buffered). The measuring is done by `tests/lib/bench-webhook.mjs`; figures are
//! reported, never asserted.

use std::process::Command;

use crate::{setup, TaskResult};

/// Builds the worker and runs the measurement.
pub(crate) fn run() -> TaskResult {
    setup::ensure(&setup::Needs::all())?;
    crate::build_worker()?;
    println!("==> measuring (starts nginx, the recorder app and wrangler dev; about a minute)");
    crate::run(Command::new("node").arg("tests/lib/bench-webhook.mjs"))
}
