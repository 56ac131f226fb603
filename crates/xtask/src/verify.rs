//! `cargo xtask verify <site URL> [--timeout <secs>]`: proves that Backstop is installed on a
//! site, for a deploy pipeline. Headless Chromium loads the site as a visitor would and calls
//! `Backstop.test()`, which sends a test event and polls the worker's receipt endpoint with the
//! page's own public key (no admin token). The browser is driven by `crates/xtask/verify/verify.mjs`
//! (node + playwright-core, as the tests do); this parses the arguments, runs it and passes its
//! exit code on: 0 received, 2 the page did not load, 3 no Backstop on the page, 4 the SDK failed
//! to load, 5 the test event was not received (refused key, timeout), 64 usage.

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::setup;

/// How long `Backstop.test()` waits for the receipt unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The longest `--timeout` taken (a pipeline step should not hang for hours on a typo).
const MAX_TIMEOUT_SECS: u64 = 600;
const DRIVER: &str = "crates/xtask/verify/verify.mjs";
const USAGE: &str = "usage: cargo xtask verify <site URL> [--timeout <secs>]";
/// The exit code for bad arguments (sysexits' EX_USAGE, as the driver uses).
const EXIT_USAGE: u8 = 64;

/// What to verify.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    url: String,
    timeout_secs: u64,
}

/// Reads `<site URL> [--timeout <secs>]` (also `--timeout=<secs>`, in any order).
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut url = None;
    let mut timeout = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = if arg == "--timeout" {
            Some(
                it.next()
                    .ok_or("--timeout needs a number of seconds")?
                    .as_str(),
            )
        } else {
            arg.strip_prefix("--timeout=")
        };
        if let Some(v) = value {
            let secs: u64 = v
                .parse()
                .map_err(|_| format!("--timeout takes whole seconds, not '{v}'"))?;
            if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
                return Err(format!(
                    "--timeout must be 1 to {MAX_TIMEOUT_SECS} seconds, not {secs}"
                ));
            }
            timeout = Some(secs);
        } else if arg.starts_with('-') {
            return Err(format!("unknown option '{arg}'"));
        } else if url.replace(arg.clone()).is_some() {
            return Err("give one site URL".into());
        }
    }
    let url = url.ok_or("the site URL is missing")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "the site URL must start with http:// or https://, not '{url}'"
        ));
    }
    Ok(Args {
        url,
        timeout_secs: timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
    })
}

/// Runs the check and returns the driver's exit code.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xtask verify: {e}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = setup::ensure(&setup::Needs::build()) {
        eprintln!("xtask verify: setup failed: {e}");
        return ExitCode::FAILURE;
    }
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        eprintln!(
            "xtask verify: no Chromium at {chromium}: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH"
        );
        return ExitCode::FAILURE;
    }
    let timeout_ms = (args.timeout_secs * 1000).to_string();
    let status = setup::with_tools(Command::new("node").args([DRIVER, &args.url, &timeout_ms]))
        .env("CHROMIUM_PATH", &chromium)
        .status();
    match status {
        Ok(s) => s
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
        Err(e) => {
            eprintln!("xtask verify: cannot run node {DRIVER}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn parses_the_url_and_timeout() {
        let ok = |url: &str, timeout_secs| {
            Ok(Args {
                url: url.into(),
                timeout_secs,
            })
        };
        let cases: Vec<(&str, Vec<&str>, Result<Args, &str>)> = vec![
            (
                "url alone: the default timeout",
                vec!["https://shop.example/"],
                ok("https://shop.example/", 10),
            ),
            (
                "--timeout after",
                vec!["http://localhost:3000", "--timeout", "30"],
                ok("http://localhost:3000", 30),
            ),
            (
                "--timeout before",
                vec!["--timeout", "5", "https://a.example"],
                ok("https://a.example", 5),
            ),
            (
                "--timeout=",
                vec!["https://a.example", "--timeout=600"],
                ok("https://a.example", 600),
            ),
            ("no url", vec![], Err("the site URL is missing")),
            (
                "no seconds",
                vec!["https://a.example", "--timeout"],
                Err("--timeout needs a number of seconds"),
            ),
            (
                "not a number",
                vec!["https://a.example", "--timeout", "10s"],
                Err("--timeout takes whole seconds, not '10s'"),
            ),
            (
                "zero",
                vec!["https://a.example", "--timeout=0"],
                Err("--timeout must be 1 to 600 seconds, not 0"),
            ),
            (
                "too long",
                vec!["https://a.example", "--timeout=601"],
                Err("--timeout must be 1 to 600 seconds, not 601"),
            ),
            (
                "not http",
                vec!["shop.example"],
                Err("the site URL must start with http:// or https://, not 'shop.example'"),
            ),
            (
                "two urls",
                vec!["https://a.example", "https://b.example"],
                Err("give one site URL"),
            ),
            (
                "unknown option",
                vec!["https://a.example", "--token", "x"],
                Err("unknown option '--token'"),
            ),
        ];
        for (what, args, want) in cases {
            let got = parse_args(&strings(&args));
            assert_eq!(got, want.map_err(String::from), "{what}");
        }
    }
}
