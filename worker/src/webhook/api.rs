//! `/api/webhooks/...` behind the admin token: deliveries (list, detail, payload download,
//! replay), alerts, per-route stats, the configured routes, and the worker's wasm memory.

use backstop_guard_core::config::HoldAnswer;
use backstop_guard_core::delivery::is_valid_delivery_id;
use backstop_guard_core::headers::load_headers;
use backstop_guard_core::query::DeliveryQuery;
use backstop_guard_core::WebhookError;
use backstop_server_core::auth::authenticate_admin;
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use super::{delivery_object, js, json_answer, load_config, store, Fail};

/// Serves one API request.
pub(super) async fn handle(req: Request, env: &Env) -> Result<Response, Fail> {
    let admin = crate::config::load(env).map_err(|e| WebhookError::Misconfigured(e.to_string()))?;
    authenticate_admin(&admin, req.headers().get("Authorization")?.as_deref())?;
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').skip(2).collect();
    let method = req.method();
    let now = worker::Date::now().as_millis();
    match (method, segments.as_slice()) {
        (Method::Get, ["deliveries"]) => {
            let url = req.url()?;
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let q = DeliveryQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            let rows = store::list_deliveries(env, &q).await?;
            json_answer(&json!({ "deliveries": rows }), 200)
        }
        (Method::Get, ["deliveries", id]) => {
            let row = delivery(env, id).await?;
            let attempts = store::list_attempts(env, id).await?;
            let alerts = store::list_alerts(env, Some(id)).await?;
            let cfg = load_config(env)?;
            let route = cfg.route_named(&row.route).map(route_json);
            let headers: Vec<Value> = load_headers(&row.headers)
                .into_iter()
                .map(|(k, v)| json!([k, v]))
                .collect();
            json_answer(
                &json!({ "delivery": row, "headers": headers, "attempts": attempts, "alerts": alerts, "route": route }),
                200,
            )
        }
        (Method::Get, ["deliveries", id, "payload"]) => payload(env, id).await,
        (Method::Post, ["deliveries", id, "replay"]) => {
            if !is_valid_delivery_id(id) {
                return Err(WebhookError::NotFound("delivery".into()).into());
            }
            let force = req
                .url()?
                .query_pairs()
                .any(|(k, v)| k == "force" && matches!(v.as_ref(), "1" | "true" | "yes"));
            let mut resp = delivery_object::replay(env, id, force).await?;
            let status = resp.status_code();
            let body: Value = resp.json().await?;
            json_answer(&body, status)
        }
        (Method::Get, ["alerts"]) => json_answer(
            &json!({ "alerts": store::list_alerts(env, None).await? }),
            200,
        ),
        (Method::Get, ["stats"]) => json_answer(&store::stats(env, now).await?, 200),
        (Method::Get, ["routes"]) => {
            let cfg = load_config(env)?;
            let routes: Vec<Value> = cfg.routes.iter().map(route_json).collect();
            json_answer(
                &json!({ "routes": routes, "alerts": { "configured": cfg.alert.url.is_some(), "window_secs": cfg.alert.window_ms / 1000 } }),
                200,
            )
        }
        (Method::Get, ["debug", "memory"]) => json_answer(
            &json!({ "wasm_memory_bytes": js::wasm_memory_bytes() }),
            200,
        ),
        (_, ["deliveries"] | ["deliveries", _] | ["deliveries", _, "payload" | "replay"])
        | (_, ["alerts" | "stats" | "routes"]) => Err(WebhookError::MethodNotAllowed.into()),
        _ => Err(WebhookError::NotFound(format!(
            "API route {}",
            path.chars().take(100).collect::<String>()
        ))
        .into()),
    }
}

async fn delivery(env: &Env, id: &str) -> Result<store::DeliveryRow, Fail> {
    if !is_valid_delivery_id(id) {
        return Err(WebhookError::NotFound("delivery".into()).into());
    }
    Ok(store::get_delivery(env, id)
        .await?
        .ok_or_else(|| WebhookError::NotFound("delivery".into()))?)
}

/// The kept payload, streamed as a download. It is attacker-controlled bytes: served as
/// `application/octet-stream` in a sandbox, never rendered on the dashboard's origin.
async fn payload(env: &Env, id: &str) -> Result<Response, Fail> {
    let row = delivery(env, id).await?;
    let key = row
        .payload_key
        .as_deref()
        .ok_or(WebhookError::PayloadGone)?;
    let object = crate::store::bucket(env)?
        .get(key)
        .execute()
        .await?
        .ok_or(WebhookError::PayloadGone)?;
    let body = object
        .body()
        .ok_or(WebhookError::PayloadGone)?
        .response_body()?;
    let mut resp = Response::from_body(body)?;
    let h = resp.headers_mut();
    h.set("Content-Type", "application/octet-stream")?;
    h.set(
        "Content-Disposition",
        &format!("attachment; filename=\"{id}.bin\""),
    )?;
    h.set("Content-Security-Policy", "sandbox; default-src 'none'")?;
    h.set("X-Content-Type-Options", "nosniff")?;
    h.set("Cache-Control", "no-store")?;
    h.set(
        "X-Backstop-Content-Type",
        &row.content_type
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>(),
    )?;
    Ok(resp)
}

fn route_json(r: &backstop_guard_core::config::Route) -> Value {
    let (hold_status, retry_after) = match r.hold_answer {
        HoldAnswer::Accept { status } => (status, None),
        HoldAnswer::AskRetry {
            status,
            retry_after_secs,
        } => (status, Some(retry_after_secs)),
    };
    json!({
        "name": r.name,
        "prefix": r.prefix,
        "origin": r.origin,
        "body_limit": r.body_limit,
        "max_body_bytes": r.max_body_bytes,
        "timeout_ms": r.timeout_ms,
        "retry_schedule_secs": r.retry_schedule_secs,
        "hold_status": hold_status,
        "retry_after_secs": retry_after,
        "backstop_retries": r.hold_answer.backstop_retries(),
    })
}
