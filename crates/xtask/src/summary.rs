//! Runs test steps, shows their output live, and sums the test counts they report.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::setup::with_tools;

/// One step of `cargo xtask test`.
pub(crate) struct Step {
    pub(crate) name: &'static str,
    command: &'static str,
}

impl Step {
    pub(crate) fn new(name: &'static str, command: &'static str) -> Self {
        Self { name, command }
    }
}

struct Outcome {
    name: &'static str,
    ok: bool,
    passed: u64,
    failed: u64,
    seconds: f64,
}

/// Results of all steps.
#[derive(Default)]
pub(crate) struct Summary {
    outcomes: Vec<Outcome>,
}

/// Test counts a line reports: cargo's `test result: ok. N passed; M failed`, node's
/// `ℹ pass N` / `ℹ fail N` (spec reporter) or `# pass N` / `# fail N` (TAP).
pub(crate) fn counts_in_line(line: &str) -> (u64, u64) {
    let line = line.trim();
    let number_after = |s: &str, word: &str| -> Option<u64> {
        let i = s.find(word)?;
        s[..i].split_whitespace().last()?.parse().ok()
    };
    if let Some(rest) = line.strip_prefix("test result: ") {
        return (
            number_after(rest, " passed").unwrap_or(0),
            number_after(rest, " failed").unwrap_or(0),
        );
    }
    for prefix in ["ℹ ", "# "] {
        if let Some(rest) = line.strip_prefix(prefix) {
            let mut words = rest.split_whitespace();
            let (Some(kind), Some(n), None) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match kind {
                "pass" => return (n, 0),
                "fail" => return (0, n),
                _ => {}
            }
        }
    }
    (0, 0)
}

impl Summary {
    /// Runs a step through bash with the tool PATH, echoing its output.
    pub(crate) fn run(&mut self, step: Step) {
        println!("\n==> [{}] {}", step.name, step.command);
        let start = Instant::now();
        let (mut passed, mut failed) = (0, 0);
        let child =
            with_tools(Command::new("bash").args(["-c", &format!("{} 2>&1", step.command)]))
                .env("BACKSTOP_SKIP_WORKER_BUILD", "1")
                .env("CI", "true")
                .env("WRANGLER_SEND_METRICS", "false")
                .env("WRANGLER_SEND_ERROR_REPORTS", "false")
                .env("WRANGLER_HIDE_BANNER", "true")
                .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                .stdout(Stdio::piped())
                .spawn();
        let ok = match child {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        println!("{line}");
                        let (p, f) = counts_in_line(&line);
                        passed += p;
                        failed += f;
                    }
                }
                child.wait().is_ok_and(|s| s.success())
            }
            Err(e) => {
                println!("cannot start bash: {e}");
                false
            }
        };
        self.outcomes.push(Outcome {
            name: step.name,
            ok,
            passed,
            failed,
            seconds: start.elapsed().as_secs_f64(),
        });
    }

    /// Prints the table and the closing `N passed, N failed` line; fails if any step failed.
    pub(crate) fn print(&self) -> ExitCode {
        println!("\n==> summary");
        println!(
            "{:<16} {:>6} {:>8} {:>8} {:>8}",
            "step", "result", "passed", "failed", "seconds"
        );
        for o in &self.outcomes {
            let result = if o.ok { "ok" } else { "FAILED" };
            println!(
                "{:<16} {:>6} {:>8} {:>8} {:>8.1}",
                o.name, result, o.passed, o.failed, o.seconds
            );
        }
        let passed: u64 = self.outcomes.iter().map(|o| o.passed).sum();
        let failed_tests: u64 = self.outcomes.iter().map(|o| o.failed).sum();
        let failed_steps = self.outcomes.iter().filter(|o| !o.ok).count();
        if failed_steps > 0 {
            println!("{failed_steps} step(s) failed");
        }
        // A failed step with no failed test (fmt, clippy, a build) still counts as a failure.
        let failed = failed_tests.max(failed_steps as u64);
        println!("tests: {passed} passed, {failed} failed");
        if failed_steps == 0 && failed_tests == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_test_counts_from_runner_output() {
        let cases = [
            ("test result: ok. 47 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.14s", (47, 0)),
            ("test result: FAILED. 45 passed; 2 failed; 0 ignored", (45, 2)),
            ("ℹ pass 12", (12, 0)),
            ("ℹ fail 1", (0, 1)),
            ("# pass 3", (3, 0)),
            ("# fail 0", (0, 0)),
            ("ℹ tests 13", (0, 0)),
            ("# pass the salt", (0, 0)),
            ("random output 5 passed", (0, 0)),
        ];
        for (line, want) in cases {
            assert_eq!(counts_in_line(line), want, "{line}");
        }
    }
}
