//! `GET /api/{project}/receipt/{event_id}`: whether an event has been stored, for
//! `Backstop.test()` and `cargo xtask verify` to prove a site's SDK reaches this worker. It is
//! asked by pages, so it takes what ingest takes (the project's public key in `?sentry_key=` or
//! `X-Sentry-Auth`, checked by the same core rule) and never the admin token; it tells only
//! whether an id the caller already knows is stored, and when.

use backstop_server_core::auth::{authenticate_ingest, parse_sentry_auth};
use backstop_server_core::config::Config;
use backstop_server_core::error::ApiError;
use backstop_server_core::event::normalize_event_id;
use backstop_server_core::stats::stored_int_from_f64;
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::error::{AppError, StorageError};
use crate::http::{json_response, with_cors};
use crate::store::{db, s};

/// Answers `{"received": true, "received_at": <ms>}` once the event is stored, 404 `not_found`
/// until then; 401/403/404 for a missing, wrong or unknown-project key (as ingest), 400 for an
/// id that is not one.
pub(crate) async fn handle_receipt(
    req: &Request,
    env: &Env,
    config: &Config,
    project: &str,
    event_id: &str,
) -> Result<Response, AppError> {
    let url = req.url()?;
    let query_key = url
        .query_pairs()
        .find(|(k, _)| k == "sentry_key")
        .map(|(_, v)| v.into_owned());
    let header_key = req
        .headers()
        .get("X-Sentry-Auth")?
        .and_then(|h| parse_sentry_auth(&h).key);
    authenticate_ingest(
        config,
        project,
        &[query_key.as_deref(), header_key.as_deref()],
    )?;
    let id = normalize_event_id(event_id).ok_or_else(|| ApiError::InvalidParam {
        name: "event_id",
        detail: "expected 32 hex digits (a UUID, with or without dashes)".into(),
    })?;
    let received_at = received_at(env, project, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {id}")))?;
    let body = json!({ "received": true, "received_at": received_at });
    Ok(with_cors(json_response(&body, 200)?)?)
}

#[derive(Deserialize)]
struct ReceivedRow {
    /// D1 hands numbers over as JavaScript numbers.
    received_at: f64,
}

/// When the event was stored (epoch ms), or `None` while it is not.
async fn received_at(
    env: &Env,
    project: &str,
    event_id: &str,
) -> Result<Option<u64>, StorageError> {
    let row: Option<ReceivedRow> = db(env)?
        .prepare("SELECT received_at FROM events WHERE project = ?1 AND event_id = ?2")
        .bind(&[s(project), s(event_id)])?
        .first(None)
        .await?;
    Ok(row.map(|r| stored_int_from_f64(r.received_at)))
}
