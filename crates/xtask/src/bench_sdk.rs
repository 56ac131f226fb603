//! `cargo xtask bench sdk`: Backstop's browser SDK against `@sentry/browser` (pinned in
//! package-lock.json, bundled with esbuild, minified, default integrations) in one headless
//! Chromium run: bytes downloaded, main-thread time to ready, cost of one capture, as ratios.
//! The measuring is done by `crates/backstop-browser/bench/bench.mjs`; this builds both SDKs,
//! runs it, and checks the sizes against `crates/backstop-browser/size-budget.json`.

use std::process::Command;

use crate::{setup, TaskResult};

const OUT: &str = "target/bench-sdk";
const BUDGET: &str = "crates/backstop-browser/size-budget.json";
/// The page Sentry's SDK is measured on: init with default integrations, and the one call the
/// capture benchmark makes.
const SENTRY_ENTRY: &str = "import { init, captureException } from '@sentry/browser';\n\
    init({ dsn: 'http://b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0@' + location.host + '/1' });\n\
    window.SentryBench = { captureException };\n";

/// Builds both SDKs, measures, prints the table and the budget check.
pub(crate) fn run() -> TaskResult {
    setup::ensure(&setup::Needs::all())?;
    crate::build_sdk()?;
    std::fs::create_dir_all(OUT).map_err(|e| format!("{OUT}: {e}"))?;
    let entry = format!("{OUT}/sentry-entry.js");
    std::fs::write(&entry, SENTRY_ENTRY).map_err(|e| format!("{entry}: {e}"))?;
    println!("==> bundling @sentry/browser with esbuild");
    crate::run(Command::new("node_modules/.bin/esbuild").args([
        entry.as_str(),
        "--bundle",
        "--minify",
        "--format=iife",
        "--log-level=warning",
        &format!("--outfile={OUT}/sentry.js"),
    ]))?;
    println!("==> measuring in headless Chromium (a few minutes)");
    let output = setup::with_tools(
        Command::new("node").args(["crates/backstop-browser/bench/bench.mjs", OUT]),
    )
    .output()
    .map_err(|e| format!("cannot run node: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the benchmark failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut sizes = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("SIZES ") {
            Some(rest) => sizes = parse_pairs(rest),
            None => println!("{line}"),
        }
    }
    check_budget(&sizes)
}

/// `a=1 b=2` into pairs.
fn parse_pairs(s: &str) -> Vec<(String, u64)> {
    s.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The number after `"key":` in a flat JSON object.
fn json_number(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn check_budget(sizes: &[(String, u64)]) -> TaskResult {
    let budget = std::fs::read_to_string(BUDGET).map_err(|e| format!("{BUDGET}: {e}"))?;
    println!();
    println!("Size budget ({BUDGET}):");
    let mut over = Vec::new();
    for key in ["wasm_gzip", "js_gzip", "total_gzip", "total_brotli"] {
        let limit = json_number(&budget, &format!("{key}_max"))
            .ok_or_else(|| format!("{BUDGET}: no \"{key}_max\""))?;
        let got = sizes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("the benchmark printed no {key}"))?;
        let verdict = if got <= limit { "ok" } else { "OVER" };
        println!("  {key:<14} {got:>7} B of {limit:>7} B  {verdict}");
        if got > limit {
            over.push(key);
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("over the size budget: {}", over.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_budget_numbers_and_size_lines() {
        let json = "{\n  \"wasm_gzip_max\": 1234,\n  \"js_gzip_max\":99 }";
        assert_eq!(json_number(json, "wasm_gzip_max"), Some(1234));
        assert_eq!(json_number(json, "js_gzip_max"), Some(99));
        assert_eq!(json_number(json, "nope"), None);
        assert_eq!(
            parse_pairs("a=1 b=x c=3"),
            vec![("a".to_string(), 1), ("c".to_string(), 3)]
        );
    }
}
