//! `cargo xtask fuzz [seconds] [--runs N] [target...]`: runs every cargo-fuzz target of
//! `crates/backstop-fuzz` (or the ones named) for `seconds` each (or until N runs, or
//! whichever comes first when both are given), prints the runs per target, and fails if any
//! target crashes, runs out of memory or hangs.
//!
//! There is no nightly toolchain here: cargo-fuzz needs `-Z` flags for the sanitizer, so it runs
//! with `RUSTC_BOOTSTRAP=1` on the pinned stable compiler.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{run as run_cmd, setup, TaskResult};

/// cargo-fuzz version installed when missing or different.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The cargo-fuzz directory: its own crate, as the targets cover the server-side rule crates,
/// the SDK core and the protocol crate alike.
const FUZZ_DIR: &str = "crates/backstop-fuzz";
/// Seconds per target when none are given.
const DEFAULT_SECONDS: u64 = 60;
/// One input slower than this is a failure (a hang), not a slow run.
const INPUT_TIMEOUT_SECS: u64 = 10;
/// The code under test is safe Rust (`unsafe_code = "forbid"`, and so are the decompressors), so
/// AddressSanitizer would find nothing the bounds checks do not; without it a target runs several
/// times faster. What the fuzzer looks for is panics, overflow, hangs and memory blow-ups.
const BUILD_FLAGS: [&str; 4] = ["-O", "-a", "--sanitizer", "none"];
/// Lines of libFuzzer's output shown when a target fails.
const TAIL_LINES: usize = 40;

/// One target's result.
struct Outcome {
    target: String,
    runs: Option<u64>,
    secs: f64,
    ok: bool,
}

/// Runs the fuzz targets.
pub(crate) fn run(args: &[String]) -> TaskResult {
    let (mut seconds, mut runs, mut only) = (None, None, Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            let n = args.next().and_then(|n| n.parse::<u64>().ok());
            runs = Some(n.ok_or("--runs needs a number")?);
        } else if let Ok(s) = arg.parse::<u64>() {
            seconds = Some(s);
        } else {
            only.push(arg.clone());
        }
    }
    // A run count alone means no time limit (libFuzzer's 0).
    let seconds = seconds.unwrap_or(if runs.is_some() { 0 } else { DEFAULT_SECONDS });
    ensure_cargo_fuzz()?;
    // Absolute: cargo fuzz runs the target in another directory.
    let fuzz_dir = std::env::current_dir()
        .map_err(|e| format!("current directory: {e}"))?
        .join(FUZZ_DIR);
    let targets = list_targets()?;
    if let Some(unknown) = only.iter().find(|t| !targets.contains(t)) {
        return Err(format!(
            "unknown fuzz target '{unknown}' (targets: {})",
            targets.join(", ")
        ));
    }
    let targets = if only.is_empty() { targets } else { only };
    println!("==> cargo fuzz build (release, debug assertions: overflow is a crash too)");
    run_cmd(fuzz_command("build").args(BUILD_FLAGS))?;
    let mut outcomes = Vec::new();
    for target in &targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        let seeds = fuzz_dir.join("seeds").join(target);
        for dir in [&corpus, &seeds] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        match runs {
            Some(n) => println!("==> fuzz {target} for {n} runs"),
            None => println!("==> fuzz {target} for {seconds} s"),
        }
        outcomes.push(run_target(target, seconds, runs, &corpus, &seeds)?);
    }
    println!("\n| target | runs | seconds | runs/s |\n|---|---:|---:|---:|");
    for o in &outcomes {
        let runs = o.runs.map_or("?".to_string(), |r| r.to_string());
        let rate = o.runs.map_or("?".to_string(), |r| {
            format!("{:.0}", r as f64 / o.secs.max(1.0))
        });
        let mark = if o.ok { "" } else { " **FAILED**" };
        println!("| {}{mark} | {runs} | {:.0} | {rate} |", o.target, o.secs);
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| o.target.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets failed: {} (reproducers under {}/artifacts/)",
            failed.join(", "),
            fuzz_dir.display()
        ))
    }
}

/// `cargo fuzz <sub>` on [`FUZZ_DIR`], allowed to use the `-Z` flags it needs on stable.
fn fuzz_command(sub: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["fuzz", sub]);
    if sub != "--version" {
        cmd.args(["--fuzz-dir", FUZZ_DIR]);
    }
    cmd.env("RUSTC_BOOTSTRAP", "1");
    setup::with_tools(&mut cmd);
    cmd
}

fn ensure_cargo_fuzz() -> TaskResult {
    let version = fuzz_command("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.contains(CARGO_FUZZ_VERSION) {
        return Ok(());
    }
    println!("==> installing cargo-fuzz {CARGO_FUZZ_VERSION} (a minute or two, once)");
    let install = |locked: bool| {
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION]);
        if locked {
            cmd.arg("--locked");
        }
        run_cmd(&mut cmd)
    };
    // Its lockfile may pin a crate version the registry mirror lacks; then resolve afresh.
    install(true).or_else(|_| install(false))
}

fn list_targets() -> Result<Vec<String>, String> {
    let out = fuzz_command("list")
        .output()
        .map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Runs one target, reading libFuzzer's log as it comes: its status lines are dropped (millions
/// of runs print thousands), its final `Done N runs` gives the count, and the tail is shown when
/// the target fails.
/// New inputs go to `corpus` (not committed); `seeds` (committed) is read only.
fn run_target(
    target: &str,
    seconds: u64,
    runs: Option<u64>,
    corpus: &Path,
    seeds: &Path,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut child = fuzz_command("run")
        .args(BUILD_FLAGS)
        .arg(target)
        .arg(corpus)
        .arg(seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!(
            "-runs={}",
            runs.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
        ))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg("-print_final_stats=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo fuzz run {target}: {e}"))?;
    // libFuzzer logs to stderr; stdout is drained on a thread so neither pipe can fill up.
    let stdout = child.stdout.take();
    let drain = std::thread::spawn(move || {
        if let Some(out) = stdout {
            for _ in BufReader::new(out).lines() {}
        }
    });
    let mut tail: VecDeque<String> = VecDeque::new();
    let (mut done_runs, mut fuzzed_secs) = (None, None);
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some((n, s)) = done_line(&line) {
                (done_runs, fuzzed_secs) = (Some(n), Some(s));
            } else if let Some(n) = executed_units(&line) {
                // Printed also when libFuzzer stops early (a crash, or SIGUSR1), without `Done`.
                done_runs = done_runs.or(Some(n));
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
    let _ = drain.join();
    // libFuzzer's own seconds leave out the (no-op) build `cargo fuzz run` starts with.
    let secs = fuzzed_secs.map_or_else(|| started.elapsed().as_secs_f64(), |s| s as f64);
    let ok = status.success();
    if ok {
        let shown = done_runs.map_or("an unknown number of".to_string(), |r| r.to_string());
        println!("    {target}: {shown} runs, no crash");
    } else {
        eprintln!("    {target} FAILED ({status}); last lines of its log:");
        for line in &tail {
            eprintln!("    | {line}");
        }
    }
    Ok(Outcome {
        target: target.to_string(),
        runs: done_runs,
        secs,
        ok,
    })
}

/// `stat::number_of_executed_units: 1234567` → 1234567.
fn executed_units(line: &str) -> Option<u64> {
    let n = line
        .trim()
        .strip_prefix("stat::number_of_executed_units:")?;
    n.trim().parse().ok()
}

/// `Done 1234567 runs in 60 second(s)` → (1234567, 60).
fn done_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("Done ")?;
    let (runs, rest) = rest.split_once(" runs in ")?;
    let secs = rest.strip_suffix(" second(s)")?;
    Some((runs.parse().ok()?, secs.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_run_counts() {
        let cases = [
            (
                "Done 12345678 runs in 61 second(s)",
                Some((12_345_678, 61)),
                "final line",
            ),
            ("#1048576\tpulse  cov: 10 ft: 20", None, "status line"),
            ("Done x runs in 1 second(s)", None, "not a number"),
        ];
        for (line, want, why) in cases {
            assert_eq!(done_line(line), want, "{why}");
        }
        assert_eq!(
            executed_units("stat::number_of_executed_units: 4242"),
            Some(4242),
            "final stats"
        );
    }
}
