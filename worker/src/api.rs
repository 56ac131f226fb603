//! The read API behind `Authorization: Bearer <admin token>`.

use backstop_server_core::auth::authenticate_admin;
use backstop_server_core::config::Config;
use backstop_server_core::error::ApiError;
use backstop_server_core::event::normalize_event_id;
use backstop_server_core::ingest::content_disposition;
use backstop_server_core::query::EventQuery;
use futures_util::StreamExt;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::{alerts, store, triage};
use backstop_server_core::triage::query::{bulk_ids, parse_issue_id, IssueQuery};

/// What is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `GET /api/{project}/issues`
    Issues,
    /// `GET /api/{project}/issues/{id}`
    Issue(String),
    /// `GET /api/{project}/events`
    Events,
    /// `GET /api/{project}/events/{id}`
    Event(String),
    /// `GET /api/{project}/stats`
    Stats,
    /// `GET /api/{project}/watchdog`
    Watchdog,
    /// `GET /api/{project}/install`
    Install,
    /// `GET /api/{project}/events/{id}/attachments/{seq}`
    Attachment(String, String),
    /// `GET /api/{project}/team`: who issues can be assigned to (the project's config).
    Team,
    /// `GET /api/{project}/dead-letters`: jobs every attempt failed for.
    DeadLetters,
}

/// The configured project the admin API is asked about (404 naming it, cut to 64 characters,
/// when it is not configured).
fn admin_project<'a>(
    config: &'a Config,
    project: &str,
) -> Result<&'a backstop_server_core::config::ProjectConfig, ApiError> {
    config.project(project).ok_or_else(|| {
        ApiError::NotFound(format!(
            "project '{}'",
            project.chars().take(64).collect::<String>()
        ))
    })
}

fn url_origin(req: &Request) -> Result<String, AppError> {
    Ok(req.url()?.origin().ascii_serialization())
}

fn query_pairs(url: &worker::Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Who acts on an issue: the dashboard sends the chosen team member in `X-Backstop-Actor`
/// (the admin token names nobody); scripts without it act as `api`.
fn actor(req: &Request) -> Result<String, AppError> {
    let raw = req.headers().get("X-Backstop-Actor")?.unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Ok(if name.is_empty() { "api".into() } else { name })
}

/// `PUT /api/{project}/issues/{id}` (`id` given) or the bulk `PUT /api/{project}/issues?id=…`.
pub(crate) async fn handle_update(
    mut req: Request,
    env: &Env,
    _ctx: &worker::Context,
    config: &Config,
    project: &str,
    id: Option<&str>,
    now_ms: u64,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    let project_config = admin_project(config, project)?;
    let ids = match id {
        Some(id) => vec![parse_issue_id(id).ok_or_else(|| ApiError::NotFound("issue".into()))?],
        None => {
            let url = req.url()?;
            let pairs = query_pairs(&url);
            bulk_ids(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
        }
    };
    let body = json_body(&mut req).await?;
    let who = actor(&req)?;
    let out = triage::update(
        env,
        project,
        &project_config.team,
        &ids,
        &body,
        &who,
        now_ms,
    )
    .await?;
    Ok(with_cors(json_response(&out, 200)?)?)
}

/// What the alerts API is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlertsCall {
    /// `GET /api/{project}/alerts`
    Overview,
    /// `PUT /api/{project}/alerts/rules`
    SaveRules,
    /// `PUT /api/{project}/alerts/destinations/{id}`
    SaveDestination(String),
    /// `DELETE /api/{project}/alerts/destinations/{id}`
    DeleteDestination(String),
    /// `POST /api/{project}/alerts/destinations/{id}/test`
    TestDestination(String),
}

/// `POST /api/{project}/dead-letters/reprocess` (admin token): queues the project's dead
/// letters again.
pub(crate) async fn handle_reprocess(
    req: &Request,
    env: &Env,
    config: &Config,
    project: &str,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    admin_project(config, project)?;
    let out = crate::pipeline::reprocess(env, project).await?;
    Ok(with_cors(json_response(&out, 200)?)?)
}

/// Serves the alerts API (admin token).
pub(crate) async fn handle_alerts(
    mut req: Request,
    env: &Env,
    config: &Config,
    project: &str,
    call: AlertsCall,
    now_ms: u64,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    admin_project(config, project)?;
    let origin = url_origin(&req)?;
    let out = match call {
        AlertsCall::Overview => alerts::overview(env, project).await?,
        AlertsCall::SaveRules => {
            let body = json_body(&mut req).await?;
            alerts::save_rules(env, project, &body, now_ms).await?
        }
        AlertsCall::SaveDestination(id) => {
            let body = json_body(&mut req).await?;
            // Backstop's own origin (and the dashboard's, which is the same worker) is refused:
            // an alert sent there would come back as a request to the worker.
            alerts::save_destination(env, project, &id, &body, &[origin], now_ms).await?
        }
        AlertsCall::DeleteDestination(id) => alerts::delete_destination(env, project, &id).await?,
        AlertsCall::TestDestination(id) => {
            alerts::send_test(env, project, &id, &origin, now_ms).await?
        }
    };
    Ok(with_cors(json_response(&out, 200)?)?)
}

/// A bounded JSON request body (see [`MAX_UPDATE_BYTES`]).
async fn json_body(req: &mut Request) -> Result<serde_json::Value, AppError> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|l| l > MAX_UPDATE_BYTES) {
        return Err(ApiError::InvalidParam {
            name: "body",
            detail: format!("larger than {MAX_UPDATE_BYTES} bytes"),
        }
        .into());
    }
    // Read chunk by chunk so a body without a Content-Length is refused at the limit, not
    // after it has all been read into memory.
    let mut bytes = Vec::new();
    if let Ok(mut stream) = req.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::InvalidParam {
                name: "body",
                detail: format!("the body could not be read: {e}"),
            })?;
            if (bytes.len() + chunk.len()) as u64 > MAX_UPDATE_BYTES {
                return Err(ApiError::InvalidParam {
                    name: "body",
                    detail: format!("larger than {MAX_UPDATE_BYTES} bytes"),
                }
                .into());
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(
        serde_json::from_slice(&bytes).map_err(|e| ApiError::InvalidParam {
            name: "body",
            detail: format!("not JSON: {e}"),
        })?,
    )
}

/// Largest `PUT` body: a status, details, an assignee and a note fit many times over.
const MAX_UPDATE_BYTES: u64 = 16 * 1024;

/// Serves one read-API request.
pub(crate) async fn handle_read(
    req: &Request,
    env: &Env,
    _ctx: &worker::Context,
    config: &Config,
    project: &str,
    resource: Resource,
    now_ms: u64,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    let project_config = admin_project(config, project)?;
    let body = match resource {
        Resource::Team => json!({ "team": project_config.team }),
        Resource::Issues => {
            let url = req.url()?;
            let pairs = query_pairs(&url);
            let q = IssueQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            let (body, woke) = triage::list(env, project, &q, now_ms).await?;
            alerts::dispatch(env, &url_origin(req)?, woke, now_ms).await;
            body
        }
        Resource::Issue(id) => {
            let not_found = || ApiError::NotFound("issue".into());
            let id = parse_issue_id(&id).ok_or_else(not_found)?;
            let (body, woke) = triage::detail(env, project, id, now_ms).await?;
            alerts::dispatch(env, &url_origin(req)?, woke, now_ms).await;
            body.ok_or_else(not_found)?
        }
        Resource::Events => {
            let url = req.url()?;
            let pairs = query_pairs(&url);
            let q = EventQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            json!({ "events": store::list_events(env, project, &q).await? })
        }
        Resource::Event(id) => {
            let id = normalize_event_id(&id).ok_or_else(|| ApiError::NotFound("event".into()))?;
            store::get_event(env, project, &id)
                .await?
                .ok_or_else(|| ApiError::NotFound("event".into()))?
        }
        Resource::Stats => store::stats(env, project, now_ms).await?,
        Resource::DeadLetters => crate::pipeline::dead_letters(env, project).await?,
        Resource::Watchdog => crate::watchdog::overview(env, config, project, now_ms).await?,
        Resource::Install => {
            // What a site needs to install the SDK, for the dashboard (and its test button,
            // which sends through the public ingest path with this key).
            let url = req.url()?;
            let key = config
                .project(project)
                .map(|p| p.public_key.clone())
                .unwrap_or_default();
            let host = url.host_str().unwrap_or("localhost");
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            json!({
                "project": project,
                "public_key": key,
                "dsn": format!("{}://{key}@{host}{port}/{project}", url.scheme()),
                "sdk": format!("{}/sdk/backstop.js", url.origin().ascii_serialization()),
            })
        }
        Resource::Attachment(id, seq) => {
            let not_found = || ApiError::NotFound("attachment".into());
            let id = normalize_event_id(&id).ok_or_else(not_found)?;
            let seq: u64 = seq.parse().map_err(|_| not_found())?;
            let (filename, content_type, bytes) = store::get_attachment(env, project, &id, seq)
                .await?
                .ok_or_else(not_found)?;
            let resp = Response::from_bytes(bytes)?;
            let h = resp.headers();
            // Served as a download, never rendered: the bytes are the sender's.
            h.set("Content-Type", "application/octet-stream")?;
            h.set("X-Original-Content-Type", &content_type)?;
            h.set("Content-Disposition", &content_disposition(&filename))?;
            h.set("X-Content-Type-Options", "nosniff")?;
            return Ok(with_cors(resp)?);
        }
    };
    Ok(with_cors(json_response(&body, 200)?)?)
}
