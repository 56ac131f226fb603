//! Backstop's edge worker: routes requests to ingest, the read API and the demo helpers. All
//! decisions are made in `backstop-core`; this crate translates between Cloudflare's platform
//! and core types. Static files (dashboard, demo page, SDK) are served by Workers static assets
//! before this code runs.

#[expect(
    missing_docs,
    reason = "the durable_object macro generates undocumented glue"
)]
mod alert_scheduler;
mod alerts;
mod api;
mod config;
mod error;
mod fault;
mod http;
mod ingest;
mod pipeline;
#[expect(
    missing_docs,
    reason = "the durable_object macro generates undocumented glue"
)]
mod rate_limiter;
mod receipt;
mod retention;
mod sourcemaps;
mod store;
mod triage;
mod watchdog;
mod webhook;

use backstop_server_core::config::is_valid_project_id;
use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response};

pub use alert_scheduler::AlertScheduler;
pub use rate_limiter::RateLimiter;

use crate::api::Resource;
use crate::error::AppError;
use crate::http::{json_response, preflight};
use backstop_server_core::admission::Endpoint;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    match route(req, &env, &ctx).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            let storage_retry_after = config::load(&env)
                .ok()
                .map(|c| c.ingest.storage_retry_after_secs);
            e.into_response(&path, storage_retry_after)
        }
    }
}

/// Whether `path` is the tunnel path. Under an invalid configuration it is the path the
/// configuration names (or the default), so the tunnel answers 503 with `Retry-After` (SDKs
/// keep and retry the events) instead of 404 (on which they drop them).
fn is_tunnel(env: &Env, path: &str) -> bool {
    config::tunnel_path(env).trim_end_matches('/') == path.trim_end_matches('/')
}

async fn route(req: Request, env: &Env, ctx: &Context) -> Result<Response, AppError> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    if method == Method::Options && segments.first() == Some(&"api") {
        return Ok(preflight()?);
    }
    match (method, segments.as_slice()) {
        // CORS: the demo page may be served by another origin, as a real site is.
        (Method::Get, ["demo", "api", "fail"]) => Ok(http::with_cors(json_response(
            &json!({ "error": "demo_failure", "detail": "this endpoint always fails, so the demo can show a failed fetch" }),
            500,
        )?)?),
        (Method::Get, ["healthz"]) => Ok(json_response(&json!({ "ok": true }), 200)?),
        (_, ["api", "webhooks", ..]) => webhook::handle_api(req, env).await,
        // sentry-cli's source-map upload (its organisation slug is not used: upload tokens are
        // per project).
        (method, ["api", "0", "organizations", _org, rest @ ..]) => {
            let config = config::load(env)?;
            let now = worker::Date::now().as_millis();
            match (method, rest) {
                (Method::Get, ["chunk-upload"]) => sourcemaps::handle_chunk_options(&req, &config),
                (Method::Post, ["chunk-upload"]) => {
                    sourcemaps::handle_chunk_upload(req, env, &config).await
                }
                (Method::Post, ["artifactbundle", "assemble"]) => {
                    sourcemaps::handle_assemble(req, env, &config, now).await
                }
                _ => Err(AppError::NotFound(path)),
            }
        }
        (method, ["api", project, rest @ ..]) if is_valid_project_id(project) => {
            let now = worker::Date::now().as_millis();
            let config = config::load(env)?;
            match (method, rest) {
                (Method::Post, ["envelope"]) => {
                    ingest::handle_ingest(
                        req,
                        env,
                        ctx,
                        &config,
                        Some(project),
                        Endpoint::Envelope,
                        now,
                    )
                    .await
                }
                (Method::Post, ["store"]) => {
                    ingest::handle_ingest(
                        req,
                        env,
                        ctx,
                        &config,
                        Some(project),
                        Endpoint::Store,
                        now,
                    )
                    .await
                }
                (Method::Post, ["sourcemaps"]) => {
                    sourcemaps::handle_plain_upload(req, env, &config, project, now).await
                }
                (Method::Post, ["events", id, "reprocess"]) => {
                    sourcemaps::handle_reprocess(&req, env, &config, project, id, now).await
                }
                (Method::Get, ["events", id, "attachments", seq]) => {
                    let resource = Resource::Attachment((*id).to_string(), (*seq).to_string());
                    api::handle_read(&req, env, ctx, &config, project, resource, now).await
                }
                (Method::Get, ["issues"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Issues, now).await
                }
                (Method::Get, ["issues", id]) => {
                    let resource = Resource::Issue((*id).to_string());
                    api::handle_read(&req, env, ctx, &config, project, resource, now).await
                }
                (Method::Put, ["issues"]) => {
                    api::handle_update(req, env, ctx, &config, project, None, now).await
                }
                (method, ["alerts", rest @ ..]) => {
                    use crate::api::AlertsCall;
                    let call = match (method, rest) {
                        (Method::Get, []) => AlertsCall::Overview,
                        (Method::Put, ["rules"]) => AlertsCall::SaveRules,
                        (Method::Put, ["destinations", id]) => {
                            AlertsCall::SaveDestination((*id).to_string())
                        }
                        (Method::Delete, ["destinations", id]) => {
                            AlertsCall::DeleteDestination((*id).to_string())
                        }
                        (Method::Post, ["destinations", id, "test"]) => {
                            AlertsCall::TestDestination((*id).to_string())
                        }
                        _ => return Err(AppError::NotFound(path)),
                    };
                    api::handle_alerts(req, env, &config, project, call, now).await
                }
                (Method::Put, ["issues", id]) => {
                    api::handle_update(req, env, ctx, &config, project, Some(id), now).await
                }
                (Method::Get, ["events"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Events, now).await
                }
                (Method::Get, ["events", id]) => {
                    api::handle_read(
                        &req,
                        env,
                        ctx,
                        &config,
                        project,
                        Resource::Event((*id).to_string()),
                        now,
                    )
                    .await
                }
                (Method::Get, ["receipt", id]) => {
                    receipt::handle_receipt(&req, env, &config, project, id).await
                }
                (Method::Get, ["team"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Team, now).await
                }
                (Method::Get, ["install"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Install, now).await
                }
                (Method::Get, ["watchdog"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Watchdog, now)
                        .await
                }
                (Method::Get, ["dead-letters"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::DeadLetters, now)
                        .await
                }
                (Method::Post, ["dead-letters", "reprocess"]) => {
                    api::handle_reprocess(&req, env, &config, project).await
                }
                (Method::Get, ["stats"]) => {
                    api::handle_read(&req, env, ctx, &config, project, Resource::Stats, now).await
                }
                _ => Err(AppError::NotFound(path)),
            }
        }
        (method, _) if is_tunnel(env, &path) => match method {
            Method::Post => {
                let config = config::load(env)?;
                let now = worker::Date::now().as_millis();
                ingest::handle_ingest(req, env, ctx, &config, None, Endpoint::Tunnel, now).await
            }
            Method::Options => Ok(preflight()?),
            _ => Err(AppError::NotFound(path)),
        },
        _ => match webhook::handle_guarded(req, env, ctx).await? {
            Some(resp) => Ok(resp),
            None => Err(AppError::NotFound(path)),
        },
    }
}
