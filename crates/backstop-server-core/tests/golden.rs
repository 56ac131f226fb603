//! Golden fixtures: envelopes recorded from real SDKs (see `tests/fixtures/README.md`) parsed and
//! planned by core, compared with the committed `*.expected.json` beside each one.
//! `BLESS=1 cargo test -p backstop-core --test golden` rewrites the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use backstop_server_core::config::{Config, RawConfig};
use backstop_server_core::envelope::parse_envelope;
use backstop_server_core::ingest::plan_envelope;
use serde_json::{json, Value};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn envelopes(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(envelopes(&path));
        } else if path.extension().is_some_and(|e| e == "envelope") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn normalized(body: &[u8]) -> Value {
    let config = Config::from_raw(&RawConfig {
        env: Some("local".into()),
        admin_token: Some("golden-admin-token-0000".into()),
        ..RawConfig::default()
    })
    .unwrap();
    let envelope = match parse_envelope(body, &config.limits) {
        Ok(e) => e,
        Err(e) => return json!({ "error": e.code(), "detail": e.to_string() }),
    };
    let mut n = 0u32;
    let mut ids = || {
        n += 1;
        format!("{n:032x}")
    };
    // Shortly after the fixtures were recorded: event times are kept only near the receive time.
    match plan_envelope(&envelope, &config, 1_795_357_800_000, &mut ids) {
        Ok(plan) => json!({
            "events": plan.events.iter().map(|e| serde_json::to_value(&e.summary).unwrap()).collect::<Vec<_>>(),
            "attachments": plan.attachments.iter().map(|a| json!({"event_id": a.event_id, "filename": a.filename, "content_type": a.content_type, "size": a.payload.len()})).collect::<Vec<_>>(),
            "item_counts": plan.item_counts,
            "discards": plan.discards.iter().map(|d| json!({"reason": d.reason, "category": d.category, "quantity": d.quantity})).collect::<Vec<_>>(),
            "sessions": plan.sessions.iter().map(|s| json!({"release": s.release, "environment": s.environment, "started": s.started, "errored": s.errored, "crashed": s.crashed, "abnormal": s.abnormal})).collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": e.code(), "detail": e.to_string() }),
    }
}

#[test]
fn recorded_envelopes_normalise_as_expected() {
    let paths = envelopes(&fixtures_dir());
    assert!(
        !paths.is_empty(),
        "no fixtures found in {}",
        fixtures_dir().display()
    );
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    for path in paths {
        let got = normalized(&std::fs::read(&path).unwrap());
        let expected_path = path.with_extension("expected.json");
        if bless {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&got).unwrap() + "\n",
            )
            .unwrap();
            continue;
        }
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run with BLESS=1 to create it)",
                    expected_path.display()
                )
            }),
        )
        .unwrap();
        assert_eq!(got, want, "{}", path.display());
    }
}
