//! Golden fixtures for PII scrubbing: each `tests/fixtures/scrub/<name>.input.json` event is
//! scrubbed with the default configuration and compared with `<name>.output.json` (the scrubbed
//! event and the report). A mismatch prints a line diff.
//! `UPDATE_GOLDEN=1 cargo test -p backstop-core --test scrub_golden` rewrites the outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use backstop_server_core::scrub::{scrub_event, ScrubConfig};
use serde_json::{json, Value};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scrub")
}

fn inputs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".input.json"))
        .collect();
    out.sort();
    out
}

fn scrubbed(input: &Path) -> Value {
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(input).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let report = scrub_event(&mut event, &ScrubConfig::default());
    let again = scrub_event(&mut event.clone(), &ScrubConfig::default());
    assert!(
        again.is_empty(),
        "{}: scrubbing twice found {again:?}",
        input.display()
    );
    json!({
        "event": event,
        "report": {
            "summary": report.summary(),
            "redactions": report.redactions,
        },
    })
}

/// A line diff (longest common subsequence), `-` for the expected side and `+` for what was
/// produced; fixtures are small, so the quadratic table is fine.
fn diff(want: &str, got: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[test]
fn fixtures_scrub_as_expected() {
    let inputs = inputs();
    assert!(
        inputs.len() >= 4,
        "fixtures missing in {}",
        fixtures_dir().display()
    );
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for input in inputs {
        let got = serde_json::to_string_pretty(&scrubbed(&input)).unwrap() + "\n";
        let output = PathBuf::from(
            input
                .to_string_lossy()
                .replace(".input.json", ".output.json"),
        );
        if update {
            std::fs::write(&output, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&output).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                output.display()
            )
        });
        if want != got {
            failures.push(format!(
                "{} differs (- expected, + got):\n{}",
                output.display(),
                diff(&want, &got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nrun with UPDATE_GOLDEN=1 to accept",
        failures.join("\n")
    );
}
