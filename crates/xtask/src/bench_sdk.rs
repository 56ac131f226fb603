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

/// Builds both SDKs, measures, prints the table, where the wasm's bytes go, and the budget
/// check.
pub(crate) fn run() -> TaskResult {
    setup::ensure(&setup::Needs::all())?;
    crate::build_sdk()?;
    bundle_sentry()?;
    println!("==> measuring in headless Chromium (a few minutes)");
    let sizes = measure("crates/backstop-browser/bench/bench.mjs")?;
    bytes_report();
    check_budget(&sizes)
}

/// Runs one of the measuring scripts: prints what it prints and returns its `SIZES` line.
fn measure(script: &str) -> Result<Vec<(String, u64)>, String> {
    let output = setup::with_tools(Command::new("node").args([script, OUT]))
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{script} failed: {}\n{stdout}",
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
    Ok(sizes)
}

/// `@sentry/browser` as a page would ship it: bundled and minified by esbuild.
fn bundle_sentry() -> TaskResult {
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
    ]))
}

/// The wasm as built, with its function names (build-sdk strips them), for `twiggy`.
const NAMED_WASM: &str = "target/sdk-names/backstop_bg.wasm";

/// Where the wasm's bytes go: sections and the largest functions, by `twiggy` (`cargo install
/// twiggy`) on a copy of the wasm that keeps its names. Only printed: sizes are judged by the
/// budget.
fn bytes_report() {
    let named = Command::new("wasm-bindgen")
        .args([
            "target/wasm32-unknown-unknown/release/backstop_browser.wasm",
            "--target",
            "no-modules",
            "--no-typescript",
            "--out-dir",
            "target/sdk-names",
            "--out-name",
            "backstop",
        ])
        .status();
    if !named.is_ok_and(|s| s.success()) {
        println!("(no named copy of the wasm: wasm-bindgen failed)");
        return;
    }
    let cmd = format!("twiggy top -n 25 {NAMED_WASM}");
    println!();
    println!("Where the wasm's bytes go (before wasm-opt, names kept): {cmd}");
    match Command::new("twiggy")
        .args(["top", "-n", "25", NAMED_WASM])
        .output()
    {
        Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
        _ => println!("  (twiggy not found: cargo install twiggy, then run the command above)"),
    }
}

/// `cargo xtask sdk-size`: the built SDK's bytes, and their ratios to `@sentry/browser`
/// (bundled here by esbuild, from the pinned package), against the budget, without a browser
/// (the `sdk-size` step of `cargo xtask test`, after build-sdk).
pub(crate) fn size() -> TaskResult {
    bundle_sentry()?;
    let sizes = measure("crates/backstop-browser/bench/size.mjs")?;
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

/// The ratios the budget bounds, in percent of `@sentry/browser`'s gzip bytes: (budget key,
/// measured bytes, the goal the SDK is built towards).
const RATIOS: [(&str, &str, u64); 2] = [
    ("with_error_pct_of_sentry", "total_gzip", 50),
    ("without_errors_pct_of_sentry", "js_gzip", 15),
];

/// `part` as a whole percentage of `whole`, rounded up (so a regression of a fraction of a
/// percent past the limit still fails).
fn percent_of(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| (part.saturating_mul(100)).div_ceil(whole))
}

fn check_budget(sizes: &[(String, u64)]) -> TaskResult {
    let budget = std::fs::read_to_string(BUDGET).map_err(|e| format!("{BUDGET}: {e}"))?;
    let measured = |key: &str| {
        sizes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("the benchmark printed no {key}"))
    };
    let limit = |key: &str| {
        json_number(&budget, &format!("{key}_max"))
            .ok_or_else(|| format!("{BUDGET}: no \"{key}_max\""))
    };
    println!();
    println!("Size budget ({BUDGET}):");
    let mut over = Vec::new();
    for key in ["wasm_gzip", "js_gzip", "total_gzip", "total_brotli"] {
        let (got, limit) = (measured(key)?, limit(key)?);
        let verdict = if got <= limit { "ok" } else { "OVER" };
        println!("  {key:<28} {got:>7} B of {limit:>7} B  {verdict}");
        if got > limit {
            over.push(key);
        }
    }
    let sentry = measured("sentry_gzip")?;
    for (key, bytes, goal) in RATIOS {
        let got = percent_of(measured(bytes)?, sentry)
            .ok_or("no @sentry/browser bundle to compare with (sentry_gzip=0)")?;
        let limit = limit(key)?;
        let verdict = match (got <= limit, got <= goal) {
            (false, _) => "OVER",
            (true, true) => "ok, goal met",
            (true, false) => "ok, goal not met",
        };
        println!("  {key:<28} {got:>5} %  of {limit:>5} %  (goal {goal} %)  {verdict}");
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
        assert_eq!(percent_of(15_793, 31_586), Some(50));
        assert_eq!(percent_of(15_794, 31_586), Some(51));
        assert_eq!(percent_of(1, 0), None);
        assert_eq!(
            parse_pairs("a=1 b=x c=3"),
            vec![("a".to_string(), 1), ("c".to_string(), 3)]
        );
    }
}
