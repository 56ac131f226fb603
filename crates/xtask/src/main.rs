//! Backstop's tasks: `cargo xtask <demo|test|setup|build-sdk|build-worker|bench|fuzz>`.
//!
//! Every task installs what it needs first (idempotently, checking versions before installing),
//! so the two README commands work on a fresh machine.

mod bench;
mod bench_ingest;
mod bench_sdk;
mod bench_webhook;
mod fuzz;
mod setup;
mod summary;
mod verify;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use summary::{Step, Summary};

/// Public key of the seeded local project `1` (same as `backstop_server_core::config::DEV_PUBLIC_KEY`).
const DEV_PUBLIC_KEY: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
/// Local admin token (same as `backstop_server_core::config::DEV_ADMIN_TOKEN`).
const DEV_ADMIN_TOKEN: &str = "backstop-local-admin-token";

type TaskResult = Result<(), String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("xtask: cannot enter {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::ensure(&setup::Needs::all()),
        Some("build-sdk") => setup::ensure(&setup::Needs::build()).and_then(|()| build_sdk()),
        Some("build-worker") => build_worker(),
        Some("demo") => demo(),
        Some("test") => return test(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("sdk-tag") => sdk_tag(&args[1..]),
        Some("sdk-size") => bench_sdk::size(),
        Some("verify") => return verify::run(&args[1..]),
        _ => Err("usage: cargo xtask <demo|test|setup|build-sdk|build-worker>\n\
             demo          build everything and start worker + demo page + dashboard on 127.0.0.1:$PORT (default 8787)\n\
             test          run every check and test (fmt, clippy, unit, wasm in Chromium, worker and browser end-to-end, deploy dry-run)\n\
             setup         install the pinned tools only\n\
             build-sdk     build the browser SDK into web-demo/sdk/\n\
             build-worker  build the worker into worker/build/ (wrangler's build command)\n\
             sdk-tag <worker URL> <DSN>  print the pinned <script> tag for a site (after build-sdk)\n\
             sdk-size  check the built SDK's bytes against crates/backstop-browser/size-budget.json\n\
             verify <site URL> [--timeout secs]  prove Backstop is installed: load the site in headless Chromium, Backstop.test() until the worker has stored it\n\
             bench <name>  run a benchmark (figures as ratios against a baseline of the same run)\n\
             fuzz [secs] [--runs N] [target...]  run the cargo-fuzz targets in crates/backstop-fuzz, each for secs (default 60) or N runs"
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or(manifest.clone(), Path::to_path_buf)
}

/// Runs a command with the tool PATH, failing with its name when it fails.
pub(crate) fn run(cmd: &mut Command) -> TaskResult {
    let shown = format!("{cmd:?}");
    let status = setup::with_tools(cmd)
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

fn build_sdk() -> TaskResult {
    println!("==> building the browser SDK");
    run(Command::new("cargo").args([
        "build",
        "-p",
        "backstop-browser",
        "--target",
        "wasm32-unknown-unknown",
        "--release",
        "--no-default-features",
        "--features",
        "standalone",
    ]))?;
    run(Command::new("wasm-bindgen").args([
        "target/wasm32-unknown-unknown/release/backstop_browser.wasm",
        "--target",
        "no-modules",
        "--no-typescript",
        "--remove-name-section",
        "--remove-producers-section",
        "--out-dir",
        "target/sdk",
        "--out-name",
        "backstop",
    ]))?;
    std::fs::create_dir_all("web-demo/sdk").map_err(|e| format!("web-demo/sdk: {e}"))?;
    run(Command::new("node_modules/.bin/wasm-opt").args([
        "-Oz",
        "--converge",
        "--low-memory-unused",
        "--zero-filled-memory",
        "--strip-debug",
        "--strip-producers",
        "--enable-bulk-memory",
        "--enable-sign-ext",
        "--enable-nontrapping-float-to-int",
        "--enable-mutable-globals",
        "--enable-reference-types",
        "--enable-multivalue",
        "target/sdk/backstop_bg.wasm",
        "-o",
        "web-demo/sdk/backstop_bg.wasm",
    ]))?;
    let wasm = std::fs::read("web-demo/sdk/backstop_bg.wasm")
        .map_err(|e| format!("web-demo/sdk/backstop_bg.wasm: {e}"))?;
    let wasm_integrity = sri(&wasm);
    // backstop_bg.js, loaded with the wasm on the first error: wasm-bindgen's glue inside bg.js.
    let glue = std::fs::read_to_string("target/sdk/backstop.js")
        .map_err(|e| format!("target/sdk/backstop.js: {e}"))?;
    let bg = read_js("bg.js")?.replace("@@WASM_BINDGEN_GLUE@@", &glue);
    let bg = minify(&fill_stub_constants(bg)?, "backstop_bg")?;
    let bg_integrity = sri(&bg);
    // backstop.js, all a page without errors downloads: it pins the other two by their hashes.
    let mut stub = String::new();
    for part in ["prelude.js", "epilogue.js"] {
        stub.push_str(&read_js(part)?);
        stub.push('\n');
    }
    let stub = stub
        .replace("@@BACKSTOP_WASM_INTEGRITY@@", &wasm_integrity)
        .replace("@@BACKSTOP_BG_INTEGRITY@@", &bg_integrity);
    let js = minify(&fill_stub_constants(stub)?, "backstop")?;
    // The inline snippet: its exact text (what a CSP hash covers), and a ready-to-paste tag.
    let snippet = minify(&read_js("snippet.js")?, "snippet")?;
    let snippet = String::from_utf8(snippet)
        .map_err(|e| format!("snippet: {e}"))?
        .trim_end()
        .to_string();
    if snippet.len() > SNIPPET_MAX_BYTES {
        return Err(format!(
            "the minified snippet is {} bytes, more than {SNIPPET_MAX_BYTES}",
            snippet.len()
        ));
    }
    let snippet_hash = csp_hash(snippet.as_bytes());
    for (path, text) in [
        ("web-demo/sdk/snippet.js", format!("{snippet}\n")),
        (
            "web-demo/sdk/snippet.html",
            format!("<script>{snippet}</script>\n"),
        ),
    ] {
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
    }
    // The versioned copy is what script tags pin (immutable cache, integrity hash); the
    // unversioned one follows the latest build with a short cache.
    let versioned = format!("web-demo/sdk/v{SDK_VERSION}");
    std::fs::create_dir_all(&versioned).map_err(|e| format!("{versioned}: {e}"))?;
    for (name, bytes) in [
        ("backstop.js", &js),
        ("backstop_bg.js", &bg),
        ("backstop_bg.wasm", &wasm),
    ] {
        for dir in ["web-demo/sdk", versioned.as_str()] {
            std::fs::write(format!("{dir}/{name}"), bytes)
                .map_err(|e| format!("{dir}/{name}: {e}"))?;
        }
    }
    let manifest = format!(
        "{{\"version\":\"{SDK_VERSION}\",\"js\":\"/sdk/v{SDK_VERSION}/backstop.js\",\"js_integrity\":\"{}\",\"wasm\":\"/sdk/v{SDK_VERSION}/backstop_bg.wasm\",\"wasm_integrity\":\"{wasm_integrity}\",\"bg_js\":\"/sdk/v{SDK_VERSION}/backstop_bg.js\",\"bg_js_integrity\":\"{bg_integrity}\",\"snippet\":\"/sdk/snippet.js\",\"snippet_csp_hash\":\"{snippet_hash}\"}}\n",
        sri(&js)
    );
    std::fs::write("web-demo/sdk/integrity.json", manifest)
        .map_err(|e| format!("web-demo/sdk/integrity.json: {e}"))?;
    println!(
        "    web-demo/sdk/backstop.js + backstop_bg.js + backstop_bg.wasm written, and {versioned}/; snippet.js + snippet.html ({} bytes); integrity.json",
        snippet.len()
    );
    Ok(())
}

/// The inline snippet's limit, minified (`cargo xtask build-sdk` fails beyond).
const SNIPPET_MAX_BYTES: usize = 600;

/// A source file of the SDK's JavaScript (crates/backstop-browser/js/).
fn read_js(name: &str) -> Result<String, String> {
    let path = format!("crates/backstop-browser/js/{name}");
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

/// The version and the constants the stub shares with the SDK (from the SDK's own crate) in
/// place of their `@@NAME@@` placeholders; an unfilled placeholder is an error.
fn fill_stub_constants(js: String) -> Result<String, String> {
    let mut js = js.replace("@@BACKSTOP_VERSION@@", SDK_VERSION);
    for (name, value) in backstop_sdk_core::STUB_NUMBERS {
        js = js.replace(&format!("@@{name}@@"), &value.to_string());
    }
    for (name, value) in backstop_sdk_core::STUB_STRINGS {
        js = js.replace(&format!("@@{name}@@"), &format!("'{value}'"));
    }
    if let Some(at) = js.find("@@") {
        let name: String = js[at..].chars().take(40).collect();
        return Err(format!(
            "the stub has a placeholder no SDK constant fills: {name}"
        ));
    }
    Ok(js)
}

/// `js` minified by esbuild (target/sdk/<name>.full.js keeps the readable input).
fn minify(js: &str, name: &str) -> Result<Vec<u8>, String> {
    let full = format!("target/sdk/{name}.full.js");
    let out = format!("target/sdk/{name}.min.js");
    std::fs::write(&full, js).map_err(|e| format!("{full}: {e}"))?;
    run(Command::new("node_modules/.bin/esbuild").args([
        full.as_str(),
        "--minify",
        "--log-level=warning",
        &format!("--outfile={out}"),
    ]))?;
    std::fs::read(&out).map_err(|e| format!("{out}: {e}"))
}

/// A CSP source expression of an inline script's text (`'sha256-<base64>'`).
fn csp_hash(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The SDK's version: the versioned URL path `/sdk/v<version>/`.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A Subresource Integrity value (`sha384-<base64>`).
fn sri(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha384::digest(bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn sdk_tag(args: &[String]) -> TaskResult {
    let [base, dsn] = args else {
        return Err("usage: cargo xtask sdk-tag <worker URL> <DSN>".into());
    };
    println!("{}", script_tag(base.trim_end_matches('/'), dsn)?);
    Ok(())
}

/// The script tag a site adds: the versioned SDK URL pinned by its integrity hash.
fn script_tag(base: &str, dsn: &str) -> Result<String, String> {
    let js = std::fs::read("web-demo/sdk/backstop.js")
        .map_err(|e| format!("web-demo/sdk/backstop.js (build the SDK first): {e}"))?;
    Ok(format!(
        "<script src=\"{base}/sdk/v{SDK_VERSION}/backstop.js\" integrity=\"{}\" crossorigin=\"anonymous\" data-dsn=\"{dsn}\"></script>",
        sri(&js)
    ))
}

fn build_worker() -> TaskResult {
    if std::env::var("BACKSTOP_SKIP_WORKER_BUILD").is_ok_and(|v| v == "1")
        && Path::new("worker/build/index.js").exists()
    {
        println!("==> worker already built (BACKSTOP_SKIP_WORKER_BUILD=1)");
        return Ok(());
    }
    setup::ensure(&setup::Needs::build())?;
    println!("==> building the worker");
    run(Command::new("worker-build")
        .args(["--profile", "worker", "worker"])
        .env("WASM_BINDGEN_BIN", "wasm-bindgen")
        .env("WASM_OPT_BIN", "node_modules/.bin/wasm-opt")
        .env("ESBUILD_BIN", "node_modules/.bin/esbuild"))
}

/// `wrangler` with the flags that keep it offline and non-interactive.
pub(crate) fn wrangler() -> Command {
    let mut cmd = Command::new("node_modules/.bin/wrangler");
    cmd.envs([
        ("CI", "true"),
        ("WRANGLER_SEND_METRICS", "false"),
        ("WRANGLER_SEND_ERROR_REPORTS", "false"),
        ("WRANGLER_HIDE_BANNER", "true"),
        ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
        ("BACKSTOP_SKIP_WORKER_BUILD", "1"),
    ]);
    cmd
}

fn demo() -> TaskResult {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT must be a port number, not '{p}'"))?,
        Err(_) => 8787,
    };
    setup::ensure(&setup::Needs::build())?;
    build_sdk()?;
    build_worker()?;
    println!("==> applying D1 migrations to the local state (.wrangler/state)");
    run(wrangler().args(["d1", "migrations", "apply", "DB", "--local"]))?;
    // The webhook half of the demo: an origin with an upload limit (like nginx's
    // client_max_body_size) behind the guarded route `/demo-webhook/`.
    let origin_port = port.checked_add(1).ok_or("PORT must be below 65535")?;
    println!("==> starting the demo origin on 127.0.0.1:{origin_port} (upload limit 1 MB)");
    let mut origin = setup::with_tools(Command::new("node").args([
        "crates/xtask/demo/origin.mjs",
        &origin_port.to_string(),
        "1048576",
    ]))
    .spawn()
    .map_err(|e| format!("cannot start the demo origin: {e}"))?;
    let routes = format!(
        "BACKSTOP_WEBHOOK_ROUTES:[{{\"name\":\"demo\",\"prefix\":\"/demo-webhook/\",\"origin\":\"http://127.0.0.1:{origin_port}\"}}]"
    );
    println!("==> starting wrangler dev on 127.0.0.1:{port}");
    let mut child = match setup::with_tools(wrangler().args([
        "dev",
        "--local",
        "--ip",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--show-interactive-dev-session=false",
        "--var",
        &routes,
    ]))
    .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let _ = origin.kill();
            return Err(format!("cannot start wrangler: {e}"));
        }
    };
    if let Err(e) = wait_healthy(port, Duration::from_secs(90), &mut child) {
        let _ = child.kill();
        let _ = origin.kill();
        return Err(e);
    }
    let base = format!("http://127.0.0.1:{port}");
    println!();
    println!("Backstop is running (stop with Ctrl-C).");
    println!("  Demo page:   {base}/demo/");
    println!("  Dashboard:   {base}/#token={DEV_ADMIN_TOKEN}");
    println!("  DSN:         http://{DEV_PUBLIC_KEY}@127.0.0.1:{port}/1");
    println!("  Admin token: {DEV_ADMIN_TOKEN}");
    let dsn = format!("http://{DEV_PUBLIC_KEY}@127.0.0.1:{port}/1");
    println!(
        "  Script tag:  {}",
        script_tag(&base, &dsn).unwrap_or_else(|e| format!("(unavailable: {e})"))
    );
    println!("  Webhooks:    POST {base}/demo-webhook/… is guarded in front of http://127.0.0.1:{origin_port} (the demo page's webhook panel)");
    println!();
    let status = child.wait().map_err(|e| format!("wrangler: {e}"));
    let _ = origin.kill();
    let status = status?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("wrangler dev exited with {status}"))
    }
}

/// Polls `GET /healthz` until the worker answers 200.
fn wait_healthy(port: u16, timeout: Duration, child: &mut Child) -> TaskResult {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("wrangler dev exited early with {status}"));
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let req = format!(
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            );
            let mut buf = String::new();
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_to_string(&mut buf).is_ok()
                && buf.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Err(format!(
        "the worker did not answer on port {port} within {} s",
        timeout.as_secs()
    ))
}

fn test(args: &[String]) -> ExitCode {
    let only: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut summary = Summary::default();
    if let Err(e) = setup::ensure(&setup::Needs::all()) {
        eprintln!("xtask: setup failed: {e}");
        return ExitCode::FAILURE;
    }
    let steps: Vec<Step> = vec![
        Step::new("fmt", "cargo fmt --all -- --check"),
        Step::new(
            "clippy-native",
            "cargo clippy --workspace --exclude backstop-browser --exclude backstop-worker --all-targets -- -D warnings",
        ),
        Step::new(
            "clippy-wasm",
            "cargo clippy -p backstop-browser -p backstop-worker --target wasm32-unknown-unknown --all-targets -- -D warnings",
        ),
        Step::new(
            "unit",
            "cargo test -p backstop-protocol -p backstop-sdk-core -p backstop-server-core -p backstop-guard-core -p xtask",
        ),
        Step::new(
            "wasm-browser",
            "CHROMEDRIVER=/usr/bin/chromedriver cargo test -p backstop-browser --target wasm32-unknown-unknown",
        ),
        Step::new("build-sdk", "cargo xtask build-sdk"),
        Step::new("sdk-size", "cargo xtask sdk-size"),
        Step::new(
            "build-worker",
            "BACKSTOP_SKIP_WORKER_BUILD=0 cargo xtask build-worker",
        ),
        Step::new(
            "deploy-dry-run",
            "node_modules/.bin/wrangler deploy --dry-run --outdir target/deploy-dry-run",
        ),
        Step::new("e2e", "node --test --test-concurrency=1 --test-reporter=spec 'tests/*.test.mjs' 'crates/backstop-browser/js/*.test.mjs'"),
    ];
    for step in steps {
        if !only.is_empty() && !only.contains(&step.name) {
            continue;
        }
        summary.run(step);
    }
    summary.print()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// Every constant the SDK shares with the stub fills a placeholder of the stub (a constant
    /// nobody reads would be a second, silent source).
    #[test]
    fn every_stub_constant_has_its_placeholder() {
        let root = super::repo_root();
        let stub: String = ["prelude.js", "epilogue.js", "bg.js"]
            .iter()
            .map(|f| {
                std::fs::read_to_string(root.join("crates/backstop-browser/js").join(f)).unwrap()
            })
            .collect();
        let names = backstop_sdk_core::STUB_NUMBERS
            .iter()
            .map(|(n, _)| *n)
            .chain(backstop_sdk_core::STUB_STRINGS.iter().map(|(n, _)| *n));
        for name in names {
            assert!(stub.contains(&format!("@@{name}@@")), "{name} is not used");
        }
    }
}
