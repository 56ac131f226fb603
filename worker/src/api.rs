//! The read API behind `Authorization: Bearer <admin token>`.

use backstop_core::auth::authenticate_admin;
use backstop_core::config::Config;
use backstop_core::error::ApiError;
use backstop_core::event::normalize_event_id;
use backstop_core::ingest::content_disposition;
use backstop_core::query::EventQuery;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::error::AppError;
use crate::http::{json_response, with_cors};
use crate::store;

/// What is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `GET /api/{project}/issues`
    Issues,
    /// `GET /api/{project}/events`
    Events,
    /// `GET /api/{project}/events/{id}`
    Event(String),
    /// `GET /api/{project}/stats`
    Stats,
    /// `GET /api/{project}/events/{id}/attachments/{seq}`
    Attachment(String, String),
}

/// Serves one read-API request.
pub(crate) async fn handle_read(
    req: &Request,
    env: &Env,
    config: &Config,
    project: &str,
    resource: Resource,
    now_ms: u64,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    if config.project(project).is_none() {
        return Err(ApiError::NotFound(format!(
            "project '{}'",
            project.chars().take(64).collect::<String>()
        ))
        .into());
    }
    let body = match resource {
        Resource::Issues => json!({ "issues": store::list_issues(env, project).await? }),
        Resource::Events => {
            let url = req.url()?;
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
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
