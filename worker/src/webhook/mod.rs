//! Webhook guard (issue 3): proxies guarded path prefixes to their origins and holds what the
//! origin does not take — visible, alerted and replayable. Glue only: every rule is in
//! `backstop_guard_core`.
//!
//! - [`guard`]: a request on a guarded path (pass-through with a tee to R2, or a hold);
//! - [`delivery_object`]: the `WebhookDelivery` Durable Object (retries by alarm, replays);
//! - [`api`]: the `/api/webhooks/...` routes;
//! - [`alert`]: the one place alerts are sent;
//! - [`store`]: D1 rows and counters; [`proxy`]: one attempt at the origin; [`js`]: streams.

mod alert;
mod api;
mod delivery_object;
mod guard;
mod js;
pub(crate) mod proxy;
pub(crate) use js::read_prefix;
mod store;

use backstop_guard_core::config::{RawWebhookConfig, WebhookConfig};
use backstop_guard_core::WebhookError;
use backstop_server_core::error::ApiError;
use serde::Serialize;
use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

use crate::error::AppError;
use crate::http::{json_response, with_cors};

/// A failure inside the guard: a [`WebhookError`], whatever produced it.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) WebhookError);

impl From<WebhookError> for Fail {
    fn from(e: WebhookError) -> Self {
        Self(e)
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Self(e.into())
    }
}

impl From<worker::Error> for Fail {
    fn from(e: worker::Error) -> Self {
        Self(WebhookError::Unavailable(e.to_string()))
    }
}

/// A [`WebhookError`] as a response: rendered (status, `{error, detail}`, `Retry-After` where
/// the sender should retry, CORS) and logged by [`AppError::into_response`], the one renderer
/// of every boundary.
fn error_answer(e: WebhookError) -> worker::Result<Response> {
    AppError::Webhook(e).into_response("webhook guard", None)
}

/// A JSON answer with CORS.
fn json_answer<T: Serialize>(body: &T, status: u16) -> Result<Response, Fail> {
    Ok(with_cors(json_response(body, status)?)?)
}

/// Reads and validates the guard's vars.
fn load_config(env: &Env) -> Result<WebhookConfig, WebhookError> {
    Ok(WebhookConfig::from_raw(&RawWebhookConfig {
        routes_json: crate::config::text(env, "BACKSTOP_WEBHOOK_ROUTES"),
        alert_url: crate::config::text(env, "BACKSTOP_ALERT_WEBHOOK_URL"),
        alert_window_secs: crate::config::text(env, "BACKSTOP_ALERT_WINDOW_SECS"),
    })?)
}

/// `/api/webhooks/...`: the deliveries API.
pub(crate) async fn handle_api(req: Request, env: &Env) -> Result<Response, AppError> {
    let result = match api::handle(req, env).await {
        Ok(resp) => Ok(resp),
        Err(Fail(e)) => error_answer(e),
    };
    Ok(result?)
}

/// A request outside `/api/`: proxied when its path is guarded, else `None`. An invalid guard
/// configuration answers 503 (senders retry) rather than guessing which paths are guarded.
pub(crate) async fn handle_guarded(
    req: Request,
    env: &Env,
    ctx: &Context,
) -> Result<Option<Response>, AppError> {
    let cfg = match load_config(env) {
        Ok(cfg) => cfg,
        Err(e) => return Ok(Some(error_answer(e)?)),
    };
    let path = req.path();
    let Some(route) = cfg.route_for(&path) else {
        return Ok(None);
    };
    let result = match guard::handle(req, env, ctx, &cfg, route).await {
        Ok(resp) => Ok(resp),
        Err(Fail(e)) => error_answer(e),
    };
    Ok(Some(result?))
}

/// The cron sweep: re-schedules size holds whose route limit now fits them, and retries whose
/// alarm is overdue. The decision for each is `plan_attempt` in the delivery's object.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = sweep(&env).await {
        worker::console_error!("webhook sweep failed: {}", e.0);
    }
    // Issue triage and alerts share the cron: time snoozes that ended wake (and alert), and
    // overdue alert work is handed to its project's scheduler.
    let now = worker::Date::now().as_millis();
    match crate::triage::wake_due(&env, None, now).await {
        Ok(woke) => crate::alerts::dispatch(&env, "", woke, now).await,
        Err(e) => worker::console_error!("snooze sweep failed: {}", e.0),
    }
    crate::alerts::sweep(&env, now).await;
    crate::pipeline::prune_jobs(&env, now).await;
    // The silence watchdog and the install probe run on the same cron.
    match crate::config::load(&env) {
        Ok(config) => {
            crate::watchdog::tick(&env, &config, now).await;
            crate::alerts::project_rules(&env, &config, now).await;
            crate::watchdog::probe_sites(&env, &config, now).await;
            // Retention keys on the event's scheduled time (what a test moves with
            // `/cdn-cgi/local/scheduled?time=`), so its cutoffs are those of this tick.
            let scheduled = backstop_server_core::stats::stored_int_from_f64(event.schedule());
            crate::retention::run(&env, &config, scheduled).await;
        }
        Err(e) => worker::console_error!("watchdog skipped, configuration invalid: {e:?}"),
    }
}

async fn sweep(env: &Env) -> Result<(), Fail> {
    use backstop_guard_core::delivery::{plan_attempt, AttemptKind, SweepFilter};
    let cfg = load_config(env)?;
    let now = worker::Date::now().as_millis();
    let filter = SweepFilter::new(&cfg.routes, now);
    for row in store::sweep_candidates(env, &filter).await? {
        let due = plan_attempt(
            &row.state(),
            AttemptKind::Retry,
            cfg.route_named(&row.route),
            now,
        );
        if due.is_ok() {
            // One delivery's object failing must not stop the others from being scheduled.
            if let Err(e) = delivery_object::schedule(env, &row.id, now).await {
                worker::console_error!("sweep could not schedule {}: {}", row.id, e.0);
            }
        }
    }
    Ok(())
}
