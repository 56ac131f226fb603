//! `cargo xtask bench <what>`: benchmarks that report figures as ratios against a baseline
//! measured in the same run (never timed assertions).

use crate::TaskResult;

/// Dispatches to one benchmark.
pub(crate) fn run(args: &[String]) -> TaskResult {
    match args.first().map(String::as_str) {
        Some("sdk") => crate::bench_sdk::run(),
        Some("webhook") => crate::bench_webhook::run(),
        Some("ingest") => crate::bench_ingest::run(&args[1..]),
        Some(other) => Err(format!("unknown benchmark '{other}'")),
        None => Err("usage: cargo xtask bench <sdk|webhook|ingest>".into()),
    }
}
