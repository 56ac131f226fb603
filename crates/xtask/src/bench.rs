//! `cargo xtask bench <what>`: benchmarks that report figures as ratios against a baseline
//! measured in the same run (never timed assertions).

use crate::TaskResult;

/// Dispatches to one benchmark.
pub(crate) fn run(args: &[String]) -> TaskResult {
    match args.first().map(String::as_str) {
        Some("sdk") => crate::bench_sdk::run(),
        Some("webhook") => crate::bench_webhook::run(),
        Some("ingest") => crate::bench_ingest::run(&args[1..]),
        Some("sourcemap") => sourcemap(),
        Some(other) => Err(format!("unknown benchmark '{other}'")),
        None => Err("usage: cargo xtask bench <sdk|webhook|ingest>".into()),
    }
}

/// `cargo xtask bench sourcemap`: the native benchmark of symbolication through the lookup
/// index against parsing the whole map (`crates/backstop-server-core/examples/bench_sourcemap.rs`).
fn sourcemap() -> TaskResult {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--release",
                "-q",
                "-p",
                "backstop-server-core",
                "--example",
                "bench_sourcemap",
            ])
            .status()
            .map_err(|e| format!("cargo run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("bench_sourcemap exited with {status}"))
    }
}
