//! `AlertScheduler`: one Durable Object per project (named by it). Its alarm runs
//! [`crate::alerts::run_due`] (storm batches that are due, then outbox rows that are due), one
//! alarm at a time, so two runs never send the same row; it re-arms itself for the next due
//! time. `crate::alerts::schedule` pokes it with the time work becomes due.

use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, ScheduledTime, State};

/// Storage key of the project (alarms have no request to carry it).
const PROJECT_KEY: &str = "project";

/// One Durable Object per project: its alarm sends the project's due alerts and flushes its
/// storm batches, one at a time (so two alarms never send the same row).
#[durable_object(alarm)]
pub struct AlertScheduler {
    state: State,
    env: Env,
}

impl DurableObject for AlertScheduler {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        #[derive(Deserialize)]
        struct Cmd {
            project: String,
            at: u64,
        }
        let Ok(cmd) = req.json::<Cmd>().await else {
            return Response::error("expected {project, at}", 400);
        };
        let storage = self.state.storage();
        storage.put(PROJECT_KEY, &cmd.project).await?;
        let current = storage.get_alarm().await?.map(|t| t as u64);
        if current.is_none_or(|c| cmd.at < c) {
            storage.set_alarm(alarm_at(cmd.at)).await?;
        }
        Response::from_json(&json!({ "scheduled": cmd.at }))
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let storage = self.state.storage();
        let Ok(Some(project)) = storage.get::<String>(PROJECT_KEY).await else {
            return Response::ok("no project");
        };
        let now = worker::Date::now().as_millis();
        match crate::alerts::run_due(&self.env, &project, now).await {
            Ok(Some(next)) => {
                storage
                    .set_alarm(alarm_at(next.max(now.saturating_add(50))))
                    .await?
            }
            Ok(None) => {}
            Err(e) => {
                worker::console_error!("alerts of {project}: {}", e.0);
                // Storage trouble: try again in a minute rather than never.
                storage
                    .set_alarm(alarm_at(now.saturating_add(60_000)))
                    .await?;
            }
        }
        Response::ok("done")
    }
}

/// An absolute alarm time (`set_alarm` takes a bare integer as an offset).
fn alarm_at(at_ms: u64) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&JsValue::from_f64(at_ms as f64)))
}
