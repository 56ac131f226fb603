//! Webhook guard (issue 3): proxies guarded path prefixes to their origins and holds what the
//! origin refuses. Placeholder until the guard lands.

use worker::{Context, Env, Request, Response};

use crate::error::AppError;

/// `/api/webhooks/...`: the deliveries API.
pub(crate) async fn handle_api(req: Request, _env: &Env) -> Result<Response, AppError> {
    Err(AppError::NotFound(req.path()))
}

/// A request outside `/api/`: proxied when its path is guarded, else `None`.
pub(crate) async fn handle_guarded(
    _req: Request,
    _env: &Env,
    _ctx: &Context,
) -> Result<Option<Response>, AppError> {
    Ok(None)
}
