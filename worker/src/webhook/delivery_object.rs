//! `WebhookDelivery`: one Durable Object per held delivery (named by its id). Its alarm runs the
//! scheduled retries; replays go through it too, so a retry and a replay of the same delivery
//! never run at once (one in-flight flag per object) and a delivered payload is not sent again
//! unless forced (`backstop_guard_core::delivery::plan_attempt`).

use std::cell::{Cell, RefCell};

use backstop_guard_core::alert::AlertCause;
use backstop_guard_core::decision::{
    classify, origin_detail, stats_reason, AttemptResult, Verdict,
};
use backstop_guard_core::delivery::{
    after_attempt, is_valid_delivery_id, plan_attempt, AttemptKind, ReplayOutcome, Skip,
};
use backstop_guard_core::headers::{attempt_headers, load_headers};
use backstop_guard_core::WebhookError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, ScheduledTime,
    State,
};

use super::{alert, error_answer, js, load_config, proxy, store, Fail};

/// Durable Object binding name.
const BINDING: &str = "WEBHOOK_DELIVERY";
/// Storage key of the delivery id (alarms have no request to carry it).
const ID_KEY: &str = "id";

#[derive(Debug, Serialize, Deserialize)]
struct Command {
    id: String,
    /// `schedule` (with `at`) or `replay` (with `force`).
    op: String,
    #[serde(default)]
    at: Option<u64>,
    #[serde(default)]
    force: bool,
}

/// The Durable Object class (declared in `wrangler.toml`, migration `v2`).
#[durable_object(alarm)]
pub struct WebhookDelivery {
    state: State,
    env: Env,
    busy: Cell<bool>,
    id: RefCell<Option<String>>,
}

impl DurableObject for WebhookDelivery {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            busy: Cell::new(false),
            id: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let cmd: Command = match req.json().await {
            Ok(c) => c,
            Err(_) => {
                return error_answer(WebhookError::InvalidParam {
                    name: "command",
                    detail: "expected a delivery command".into(),
                })
            }
        };
        if !is_valid_delivery_id(&cmd.id) {
            return error_answer(WebhookError::NotFound("delivery".into()));
        }
        self.remember(&cmd.id).await?;
        match (cmd.op.as_str(), cmd.at) {
            ("schedule", Some(at)) => {
                self.state.storage().set_alarm(alarm_at(at)).await?;
                Response::from_json(&json!({ "scheduled": at }))
            }
            ("replay", _) => {
                match self
                    .attempt(&cmd.id, AttemptKind::Replay { force: cmd.force })
                    .await
                {
                    Ok(report) => Response::from_json(&report),
                    Err(e) => error_answer(e.0),
                }
            }
            _ => error_answer(WebhookError::InvalidParam {
                name: "command",
                detail: "unknown command".into(),
            }),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let remembered = self.id.borrow().clone();
        let id = match remembered {
            Some(id) => id,
            None => match self.state.storage().get::<String>(ID_KEY).await {
                Ok(Some(id)) => id,
                _ => return Response::ok("no delivery"),
            },
        };
        match self.attempt(&id, AttemptKind::Retry).await {
            Ok(_) => {}
            // Another attempt is running; it reschedules as needed.
            Err(Fail(WebhookError::InProgress)) => {}
            Err(e) => worker::console_error!("retry of {id} failed: {}", e.0),
        }
        Response::ok("done")
    }
}

/// An absolute alarm time (`set_alarm` takes a bare integer as an offset).
fn alarm_at(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}

/// What an attempt did, as the replay API answers it.
#[derive(Debug, Serialize)]
struct AttemptReport {
    result: &'static str,
    delivery: Option<store::DeliveryRow>,
    origin_status: Option<u16>,
    error: String,
    /// This object's wasm memory after the attempt (it only grows: also the peak).
    wasm_memory_bytes: u64,
}

/// Clears the in-flight flag however the attempt ends.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl WebhookDelivery {
    async fn remember(&self, id: &str) -> worker::Result<()> {
        if self.id.borrow().as_deref() != Some(id) {
            self.state.storage().put(ID_KEY, id).await?;
            *self.id.borrow_mut() = Some(id.to_string());
        }
        Ok(())
    }

    /// One retry or replay, start to finish.
    async fn attempt(&self, id: &str, kind: AttemptKind) -> Result<AttemptReport, Fail> {
        if self.busy.get() {
            return Err(WebhookError::InProgress.into());
        }
        self.busy.set(true);
        let _busy = Busy(&self.busy);
        let env = &self.env;
        let now = worker::Date::now().as_millis();
        let row = store::get_delivery(env, id)
            .await?
            .ok_or_else(|| WebhookError::NotFound("delivery".into()))?;
        let cfg = load_config(env)?;
        let route = cfg.route_named(&row.route);
        let state = row.state();
        let report =
            |result: ReplayOutcome, row: Option<store::DeliveryRow>, status, error| AttemptReport {
                result: result.as_str(),
                delivery: row,
                origin_status: status,
                error,
                wasm_memory_bytes: js::wasm_memory_bytes(),
            };
        let plan = match plan_attempt(&state, kind, route, now) {
            Ok(plan) => plan,
            Err(Skip::AlreadyDelivered) => {
                return Ok(report(
                    ReplayOutcome::AlreadyDelivered,
                    Some(row),
                    None,
                    String::new(),
                ))
            }
            Err(Skip::NotDue) => {
                // A stale alarm: put the real one back if a retry is still planned.
                if let Some(at) = row.next_attempt_at.filter(|at| *at > now) {
                    self.state.storage().set_alarm(alarm_at(at)).await?;
                }
                return Ok(report(
                    ReplayOutcome::NotDelivered,
                    Some(row),
                    None,
                    "not due".into(),
                ));
            }
            Err(Skip::PayloadGone) => return Err(WebhookError::PayloadGone.into()),
            Err(Skip::RouteGone) => return Err(WebhookError::RouteGone(row.route.clone()).into()),
        };
        let (Some(route), Some(key)) = (route, row.payload_key.as_deref()) else {
            return Err(WebhookError::PayloadGone.into());
        };
        let object = crate::store::bucket(env)?
            .get(key)
            .execute()
            .await?
            .ok_or(WebhookError::PayloadGone)?;
        let body: Option<JsValue> = match object.body() {
            Some(b) => match b.response_body()? {
                worker::ResponseBody::Stream(s) => Some(s.into()),
                _ => None,
            },
            None => None,
        };
        let number = u32::try_from(row.attempts.saturating_add(row.replays).saturating_add(1))
            .unwrap_or(u32::MAX);
        let headers = attempt_headers(&load_headers(&row.headers), id, number, plan.replay_number);
        let (path, query) = row.path_and_query();
        let attempt = proxy::send(
            &route.origin_url(path, query),
            &row.method,
            &headers,
            body,
            route.timeout_ms,
        )
        .await;
        let status = match attempt.result {
            AttemptResult::Status(s) => Some(s),
            _ => None,
        };
        let verdict = classify(&attempt.result);
        let prefix = match (verdict, attempt.response) {
            (Verdict::Delivered, Some(resp)) => {
                if let Some(b) = resp.body() {
                    js::cancel(&b);
                }
                Vec::new()
            }
            (_, resp) => proxy::answer_prefix(resp).await,
        };
        let detail = match verdict {
            Verdict::Delivered => String::new(),
            _ => origin_detail(&attempt.result, &prefix, route.timeout_ms),
        };
        let done = worker::Date::now().as_millis();
        let t = after_attempt(&state, kind, verdict, route, done);
        let kind_name = match kind {
            AttemptKind::Retry => "retry",
            AttemptKind::Replay { .. } => "replay",
        };
        if let Err(e) = store::record_attempt(
            env,
            id,
            number,
            kind_name,
            now,
            status,
            &detail,
            attempt.duration_ms,
        )
        .await
        {
            worker::console_warn!("could not record attempt {number} of {id}: {}", e.0);
        }
        store::apply_transition(env, id, &t, status, &detail, route.body_limit, done).await?;
        let reason = match verdict {
            Verdict::Delivered if t.delivered_now => Some(stats_reason::DELIVERED),
            Verdict::Delivered => None,
            Verdict::Hold(r) => Some(r.stats_reason()),
        };
        if let Some(reason) = reason {
            store::count_logged(env, &row.route, reason, done).await;
        }
        if t.exhausted_now {
            store::count_logged(env, &row.route, stats_reason::EXHAUSTED, done).await;
            let cause = AlertCause::Exhausted {
                route: row.route.clone(),
                delivery_id: id.to_string(),
                attempts: t.auto_attempts,
                sender: row.sender.clone(),
                last_error: if detail.is_empty() {
                    status.map_or_else(String::new, |s| format!("origin answered {s}"))
                } else {
                    detail.clone()
                },
            };
            alert::raise(env, &cfg.alert, cause, None, done).await;
        }
        match t.next_attempt_at {
            Some(at) => self.state.storage().set_alarm(alarm_at(at)).await?,
            None => self.state.storage().delete_alarm().await?,
        }
        let outcome = match verdict {
            Verdict::Delivered => ReplayOutcome::Delivered,
            Verdict::Hold(_) => ReplayOutcome::NotDelivered,
        };
        let row = store::get_delivery(env, id).await?;
        Ok(report(outcome, row, status, detail))
    }
}

async fn call(env: &Env, cmd: &Command) -> Result<Response, Fail> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&cmd.id)?
        .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(
        serde_json::to_string(cmd)
            .map_err(|e| WebhookError::Unavailable(e.to_string()))?
            .into(),
    ));
    Ok(stub
        .fetch_with_request(Request::new_with_init("https://webhook-delivery/", &init)?)
        .await?)
}

/// Asks the delivery's object to retry at `at` (epoch ms).
pub(super) async fn schedule(env: &Env, id: &str, at: u64) -> Result<(), Fail> {
    let resp = call(
        env,
        &Command {
            id: id.to_string(),
            op: "schedule".into(),
            at: Some(at),
            force: false,
        },
    )
    .await?;
    if resp.status_code() == 200 {
        Ok(())
    } else {
        Err(WebhookError::Unavailable(format!("schedule answered {}", resp.status_code())).into())
    }
}

/// Replays a delivery through its object; the object's answer is passed on as is.
pub(super) async fn replay(env: &Env, id: &str, force: bool) -> Result<Response, Fail> {
    call(
        env,
        &Command {
            id: id.to_string(),
            op: "replay".into(),
            at: None,
            force,
        },
    )
    .await
}
