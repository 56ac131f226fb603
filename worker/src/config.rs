//! Reads the worker's vars and secrets into the validated core configuration.

use backstop_server_core::config::{Config, ConfigError, RawConfig};
use std::cell::OnceCell;
use std::rc::Rc;

use worker::Env;

thread_local! {
    /// The validated configuration, or why it is refused: vars and secrets are fixed for an
    /// isolate's life (a new deploy or `wrangler dev` restart starts new isolates), so they are
    /// read and validated once per isolate instead of once per request (reading each var
    /// crosses into JS and parsing the JSON ones was about a tenth of an ingest request's CPU).
    static LOADED: OnceCell<Result<Rc<Config>, ConfigError>> = const { OnceCell::new() };
}

/// The validated configuration (read once per isolate, see [`LOADED`]).
pub(crate) fn load(env: &Env) -> Result<Rc<Config>, ConfigError> {
    LOADED.with(|cell| {
        cell.get_or_init(|| Config::from_raw(&raw(env)).map(Rc::new))
            .clone()
    })
}

/// The tunnel path, read even when the configuration as a whole is invalid.
pub(crate) fn tunnel_path(env: &Env) -> String {
    raw(env).tunnel_path()
}

fn raw(env: &Env) -> RawConfig {
    RawConfig {
        env: text(env, "BACKSTOP_ENV"),
        admin_token: text(env, "ADMIN_TOKEN"),
        projects_json: text(env, "BACKSTOP_PROJECTS"),
        limits_json: text(env, "BACKSTOP_LIMITS"),
        ingest_json: text(env, "BACKSTOP_INGEST"),
        faults_json: text(env, "BACKSTOP_FAULTS"),
        retention_json: text(env, "BACKSTOP_RETENTION"),
        upload_tokens_json: text(env, "BACKSTOP_UPLOAD_TOKENS"),
    }
}

/// A var or secret as text; JSON-valued vars from `wrangler.toml` are re-serialised.
pub(crate) fn text(env: &Env, name: &str) -> Option<String> {
    if let Ok(v) = env.var(name) {
        return Some(v.to_string());
    }
    env.object_var::<serde_json::Value>(name)
        .ok()
        .map(|v| v.to_string())
}
