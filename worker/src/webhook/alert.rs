//! Sends alerts. The only entry point is [`raise`], which takes an [`AlertCause`] — built by the
//! guard from a held or exhausted delivery, never from an alert. A failed alert becomes a row
//! and a counter, and that is all: this module never calls the guard, never holds anything and
//! never raises another alert (see `backstop_guard_core::alert`).

use backstop_guard_core::alert::{AlertCause, AlertRecord};
use backstop_guard_core::config::AlertConfig;
use backstop_guard_core::decision::{stats_reason, AttemptResult};
use backstop_guard_core::headers::ALERT_MARKER;
use worker::Env;

use super::{proxy, store};

/// How long the alert sink may take.
const ALERT_TIMEOUT_MS: u64 = 5_000;

/// Raises an alert once per de-duplication key; records how it went.
pub(super) async fn raise(
    env: &Env,
    cfg: &AlertConfig,
    cause: AlertCause,
    dashboard: Option<String>,
    now_ms: u64,
) {
    let key = cause.dedupe_key(cfg.window_ms, now_ms);
    match store::claim_alert(
        env,
        &key,
        cause.kind(),
        cause.route(),
        cause.delivery_id(),
        now_ms,
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            worker::console_error!("alert {key}: could not claim: {}", e.0);
            return;
        }
    }
    let record = match &cfg.url {
        None => AlertRecord::NotConfigured,
        Some(url) => send(url, &cause, dashboard.as_deref()).await,
    };
    if let AlertRecord::Failed { error, .. } = &record {
        worker::console_warn!("alert {key} failed (recorded once, not alerted): {error}");
    }
    if let Err(e) = store::finish_alert(env, &key, &record).await {
        worker::console_error!("alert {key}: could not record the outcome: {}", e.0);
    }
    let reason = match record {
        AlertRecord::Sent { .. } => stats_reason::ALERT_SENT,
        AlertRecord::Failed { .. } => stats_reason::ALERT_FAILED,
        AlertRecord::NotConfigured => return,
    };
    store::count_logged(env, cause.route(), reason, now_ms).await;
}

/// Posts the Slack-compatible message, marked as a Backstop alert.
async fn send(url: &str, cause: &AlertCause, dashboard: Option<&str>) -> AlertRecord {
    let body = cause.message(dashboard).to_string();
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), "Backstop-Alert/1".to_string()),
        (ALERT_MARKER.to_string(), "1".to_string()),
    ];
    let attempt = proxy::send(url, "POST", &headers, Some(body.into()), ALERT_TIMEOUT_MS).await;
    if let Some(resp) = &attempt.response {
        if let Some(b) = resp.body() {
            super::js::cancel(&b);
        }
    }
    AlertRecord::from_result(match attempt.result {
        AttemptResult::Status(s) => Ok(s),
        AttemptResult::Timeout => Err(format!("no answer within {ALERT_TIMEOUT_MS} ms")),
        AttemptResult::Unreachable(e) => Err(e),
    })
}
