//! `cargo xtask bench ingest`: ingest throughput in one run — accepted events/s, latency and
//! non-2xx through Backstop's envelope endpoint vs a no-op worker under the same `wrangler dev`
//! (a ratio), then stored events/s and accept → queryable latency. The load generator is wrk
//! from Debian (`crates/xtask/bench/envelope.lua`); the measuring is done by
//! `tests/lib/bench-ingest.mjs`. Figures are reported, never asserted.

use std::process::Command;

use crate::{setup, TaskResult};

/// The Debian package of the load generator (its version is printed with the figures).
const LOAD_GENERATOR_PACKAGES: &[&str] = &["wrk"];

/// Flags and their defaults: measured seconds per side, warm-up seconds (not counted),
/// connections, and single events of the accept → queryable probe.
const FLAGS: &[(&str, u32)] = &[
    ("duration", 20),
    ("warmup", 10),
    ("connections", 8),
    ("probes", 50),
];

/// Installs wrk if missing, builds the worker and runs the measurement.
pub(crate) fn run(args: &[String]) -> TaskResult {
    let flags = parse_flags(args)?;
    setup::ensure(&setup::Needs::build())?;
    setup::ensure_deb_packages(LOAD_GENERATOR_PACKAGES)?;
    crate::build_worker()?;
    let flag = |name| {
        flags
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, v)| *v)
    };
    println!(
        "==> measuring (starts wrangler dev twice; about {} s)",
        2 * (flag("duration") + flag("warmup")) + 40
    );
    let mut cmd = Command::new("node");
    cmd.arg("tests/lib/bench-ingest.mjs");
    for (k, v) in &flags {
        cmd.arg(format!("--{k}={v}"));
    }
    crate::run(&mut cmd)
}

/// `--name N` or `--name=N` for each of [`FLAGS`], defaults for the rest.
fn parse_flags(args: &[String]) -> Result<Vec<(&'static str, u32)>, String> {
    let usage = || {
        format!(
            "usage: cargo xtask bench ingest {}",
            FLAGS
                .iter()
                .map(|(k, v)| format!("[--{k} {v}]"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let mut flags: Vec<(&'static str, u32)> = FLAGS.to_vec();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, value) = match arg.strip_prefix("--").map(|a| a.split_once('=')) {
            Some(Some((name, value))) => (name, value.to_string()),
            Some(None) => (
                &arg[2..],
                it.next()
                    .ok_or_else(|| format!("{arg} needs a value\n{}", usage()))?
                    .clone(),
            ),
            None => return Err(format!("unexpected '{arg}'\n{}", usage())),
        };
        let slot = flags
            .iter_mut()
            .find(|(k, _)| *k == name)
            .ok_or_else(|| format!("unknown flag --{name}\n{}", usage()))?;
        let min = u32::from(matches!(name, "duration" | "connections"));
        slot.1 = value
            .parse::<u32>()
            .ok()
            .filter(|v| *v >= min)
            .ok_or_else(|| format!("--{name} must be a whole number >= {min}, not '{value}'"))?;
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Vec<(&'static str, u32)>, String> {
        parse_flags(&args.iter().map(|a| (*a).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_take_both_forms_and_refuse_nonsense() {
        assert_eq!(parse(&[]).ok(), Some(FLAGS.to_vec()), "defaults");
        assert_eq!(
            parse(&["--duration", "5", "--connections=16", "--warmup", "0"]).ok(),
            Some(vec![
                ("duration", 5),
                ("warmup", 0),
                ("connections", 16),
                ("probes", 50)
            ]),
            "both forms"
        );
        for bad in [
            &["--duration", "0"][..],
            &["--connections=0"],
            &["--duration"],
            &["--speed", "3"],
            &["20"],
            &["--probes", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
