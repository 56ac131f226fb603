//! A request on a guarded path: refuse alert loops, check the declared size, then either hold
//! the body at once (over the origin's limit) or stream it to the origin while a tee streams a
//! copy to R2 (a body without a declared length is kept in R2 first, then sent from there). The origin's 2xx is streamed back; anything else becomes a held delivery and
//! the sender gets the route's hold answer. Every decision is a `backstop_guard_core` call.

use backstop_guard_core::alert::AlertCause;
use backstop_guard_core::config::{Route, WebhookConfig};
use backstop_guard_core::decision::{
    classify, forbids_body, is_held_method, keeps_copy_in_memory, origin_detail, precheck,
    size_past_max_body, stats_reason, AttemptResult, HoldReason, Precheck, Verdict,
};
use backstop_guard_core::delivery::{
    delivery_id, first_transition, payload_key, HoldFacts, NewDelivery, Received,
};
use backstop_guard_core::headers::{
    attempt_headers, forward_headers, is_alert_request, response_headers, store_headers,
    ForwardInfo, DELIVERY_ID,
};
use backstop_guard_core::hints::{sender_hints, HINT_SCAN_BYTES};
use backstop_guard_core::{hold_answer, WebhookError};
use worker::js_sys::Promise;
use worker::wasm_bindgen::JsValue;
use worker::web_sys::{self, ReadableStream};
use worker::{Context, Env, Request, Response};

use super::js::{self, StoreError};
use super::{alert, delivery_object, json_answer, proxy, store, Fail};

/// Handles one request on `route`.
pub(super) async fn handle(
    req: Request,
    env: &Env,
    ctx: &Context,
    cfg: &WebhookConfig,
    route: &Route,
) -> Result<Response, Fail> {
    let now = worker::Date::now().as_millis();
    let incoming: Vec<(String, String)> = req.headers().entries().collect();
    if is_alert_request(&incoming) {
        if let Some(b) = js::request_body(&req) {
            js::cancel(&b);
        }
        store::count_logged(env, &route.name, stats_reason::LOOP_REFUSED, now).await;
        return Err(WebhookError::LoopDetected.into());
    }
    let header = |name: &str| {
        incoming
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let url = req.url()?;
    let method = req.inner().method();
    let info = ForwardInfo {
        client_ip: header("cf-connecting-ip"),
        host: header("host"),
        proto: Some(url.scheme().to_string()),
    };
    let fwd = forward_headers(&incoming, &info);
    let origin_url = route.origin_url(url.path(), url.query());
    let body = js::request_body(&req);

    if !is_held_method(&method) {
        if let Some(b) = body.as_ref().filter(|_| forbids_body(&method)) {
            js::cancel(b);
            return Err(WebhookError::InvalidParam {
                name: "body",
                detail: format!("a {method} request cannot carry a body; send it with POST"),
            }
            .into());
        }
        return pass_unheld(&origin_url, &method, &fwd, body, route.timeout_ms).await;
    }

    let id = delivery_id(now, js::random_u64());
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let content_length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let content_type = header("content-type").unwrap_or_default();
    let Some(stored_headers) = store_headers(&fwd) else {
        if let Some(b) = &body {
            js::cancel(b);
        }
        return Err(WebhookError::InvalidParam {
            name: "headers",
            detail: "request headers are too large to keep for a replay".into(),
        }
        .into());
    };
    let held = Held {
        env,
        ctx,
        cfg,
        route,
        id: &id,
        method: &method,
        path: &path,
        content_type: &content_type,
        headers: &stored_headers,
        now,
        dashboard: format!("{}/webhooks/", url.origin().ascii_serialization()),
    };

    match precheck(route, content_length) {
        Precheck::Refuse { size, max } => {
            if let Some(b) = &body {
                js::cancel(b);
            }
            held.record_refused(size).await;
            Err(WebhookError::TooLarge { limit: max, size }.into())
        }
        Precheck::HoldOversize { size, limit: _ } => {
            // Never forwarded: it would fail the same way. Keep it, then answer.
            let promise = held.store(body, content_length);
            let size = match js::stored(&promise).await {
                Ok(stored) => stored.max(size),
                Err(e) => return Err(held.unstored(e).await),
            };
            held.hold(HoldReason::Oversize, Some(size), None, String::new(), None)
                .await
        }
        Precheck::Forward => {
            let (copy, to_origin, content_length) = match (body, content_length) {
                (Some(b), None) => {
                    // Without a declared length a body is only known to be too large once it
                    // is, and a stream cut short at `max_body` reaches the origin as a complete,
                    // shorter body. So it is kept whole first (as nginx buffers a request body
                    // before proxying it), then sent with its length: all of it or nothing.
                    let size = match js::stored(&held.store(Some(b), None)).await {
                        Ok(size) => size,
                        Err(e) => return Err(held.unstored(e).await),
                    };
                    if let Precheck::HoldOversize { .. } = precheck(route, Some(size)) {
                        return held
                            .hold(HoldReason::Oversize, Some(size), None, String::new(), None)
                            .await;
                    }
                    let kept = match crate::store::bucket(env) {
                        Ok(bucket) => js::kept_body(&bucket, &payload_key(&id)).await,
                        Err(e) => Err(StoreError::Failed(e.to_string())),
                    };
                    let to_origin = match kept {
                        Ok(stream) => stream,
                        Err(e) => return Err(held.unstored(e).await),
                    };
                    let copy = Copy::R2(Promise::resolve(&JsValue::from_f64(size as f64)));
                    (copy, to_origin, Some(size))
                }
                (body, content_length) => {
                    let (to_store, to_origin) = match &body {
                        None => (None, None),
                        Some(b) => match js::tee(b) {
                            Some((a, b)) => (Some(a), Some(b)),
                            None => {
                                return Err(WebhookError::Unavailable("tee failed".into()).into())
                            }
                        },
                    };
                    let copy = if keeps_copy_in_memory(content_length) {
                        Copy::Memory(js::buffer_in_background(to_store))
                    } else {
                        Copy::R2(held.store(to_store, content_length))
                    };
                    (copy, to_origin.map(JsValue::from), content_length)
                }
            };
            let headers = attempt_headers(&fwd, &id, 1, None);
            let attempt =
                proxy::send(&origin_url, &method, &headers, to_origin, route.timeout_ms).await;
            match (classify(&attempt.result), attempt.response) {
                (Verdict::Delivered, Some(resp)) => {
                    ctx.wait_until(record_passed(
                        env.clone(),
                        route.name.clone(),
                        id.clone(),
                        method.clone(),
                        path.clone(),
                        content_type.clone(),
                        stored_headers.clone(),
                        copy,
                        content_length,
                        now,
                        attempt.result.clone(),
                        attempt.duration_ms,
                    ));
                    pass_back(resp, Some(&id))
                }
                (verdict, response) => {
                    let reason = match verdict {
                        Verdict::Hold(r) => r,
                        Verdict::Delivered => HoldReason::OriginError,
                    };
                    let prefix = proxy::answer_prefix(response).await;
                    let detail = origin_detail(&attempt.result, &prefix, route.timeout_ms);
                    let stored = match &copy {
                        Copy::R2(promise) => js::stored(promise).await,
                        Copy::Memory(buffer) => held.store_copy(buffer).await,
                    };
                    let size = match stored {
                        Ok(s) => s,
                        Err(e) => return Err(held.unstored(e).await),
                    };
                    let status = match attempt.result {
                        AttemptResult::Status(s) => Some(s),
                        _ => None,
                    };
                    held.hold(
                        reason,
                        Some(size),
                        status,
                        detail,
                        Some(attempt.duration_ms),
                    )
                    .await
                }
            }
        }
    }
}

/// `GET`/`HEAD`/`OPTIONS`: proxied, never held.
async fn pass_unheld(
    url: &str,
    method: &str,
    fwd: &[(String, String)],
    body: Option<ReadableStream>,
    timeout_ms: u64,
) -> Result<Response, Fail> {
    let attempt = proxy::send(url, method, fwd, body.map(JsValue::from), timeout_ms).await;
    match attempt.response {
        Some(resp) => pass_back(resp, None),
        None => Err(WebhookError::BadGateway.into()),
    }
}

/// The origin's response, streamed back without hop-by-hop headers.
fn pass_back(resp: web_sys::Response, id: Option<&str>) -> Result<Response, Fail> {
    let mut pairs = response_headers(&js::header_pairs(&resp.headers()));
    if let Some(id) = id {
        pairs.push((DELIVERY_ID.to_string(), id.to_string()));
    }
    let headers = js::headers_object(&pairs).map_err(WebhookError::Unavailable)?;
    let init = web_sys::ResponseInit::new();
    init.set_status(resp.status());
    init.set_headers(&headers);
    let body = match resp.status() {
        101 | 204 | 205 | 304 => None,
        _ => resp.body(),
    };
    let out = web_sys::Response::new_with_opt_readable_stream_and_init(body.as_ref(), &init)
        .map_err(|e| WebhookError::Unavailable(js::js_text(&e)))?;
    Ok(Response::from(out))
}

/// Where a forwarded body's replay copy is while the origin decides.
enum Copy {
    /// Streaming to R2 (large or chunked bodies); resolves with the size.
    R2(Promise),
    /// Read into the isolate's JS memory (small bodies); resolves with an `ArrayBuffer`.
    Memory(Promise),
}

/// Background work after a pass-through: record the delivery and count it (one D1 batch), and
/// drop the copy (a delivered payload is not kept).
#[expect(clippy::too_many_arguments, reason = "owned values for waitUntil")]
async fn record_passed(
    env: Env,
    route: String,
    id: String,
    method: String,
    path: String,
    content_type: String,
    headers: String,
    copy: Copy,
    content_length: Option<u64>,
    now: u64,
    result: AttemptResult,
    duration_ms: u64,
) {
    let size = match &copy {
        Copy::R2(promise) => js::stored(promise).await.ok(),
        Copy::Memory(_) => content_length,
    };
    let status = match result {
        AttemptResult::Status(s) => Some(s),
        _ => None,
    };
    let received = Received {
        id: &id,
        route: &route,
        method: &method,
        path: &path,
        received_at: now,
        content_type: &content_type,
        headers: &headers,
    };
    let row = NewDelivery::passed(received, size, status, duration_ms);
    if let Err(e) = store::insert_passed(&env, &row, now).await {
        worker::console_error!("could not record passed delivery {id}: {}", e.0);
    }
    if let Copy::R2(_) = copy {
        if let Ok(bucket) = crate::store::bucket(&env) {
            if let Err(e) = bucket.delete(payload_key(&id)).await {
                worker::console_warn!("could not drop the copy of {id}: {e}");
            }
        }
    }
}

/// One held (or refused) request's facts.
struct Held<'a> {
    env: &'a Env,
    ctx: &'a Context,
    cfg: &'a WebhookConfig,
    route: &'a Route,
    id: &'a str,
    method: &'a str,
    path: &'a str,
    content_type: &'a str,
    headers: &'a str,
    now: u64,
    dashboard: String,
}

impl Held<'_> {
    /// The request as every delivery row records it.
    fn received(&self) -> Received<'_> {
        Received {
            id: self.id,
            route: &self.route.name,
            method: self.method,
            path: self.path,
            received_at: self.now,
            content_type: self.content_type,
            headers: self.headers,
        }
    }

    /// Starts streaming the body to R2.
    fn store(&self, body: Option<ReadableStream>, known_len: Option<u64>) -> Promise {
        match crate::store::bucket(self.env) {
            Ok(bucket) => js::store_in_background(
                bucket,
                payload_key(self.id),
                body,
                known_len,
                self.content_type.to_string(),
                self.route.max_body_bytes,
            ),
            Err(e) => Promise::reject(&JsValue::from_str(&e.to_string())),
        }
    }

    /// Writes an in-memory copy to R2 (the origin did not take the body).
    async fn store_copy(&self, buffer: &Promise) -> Result<u64, StoreError> {
        let bucket =
            crate::store::bucket(self.env).map_err(|e| StoreError::Failed(e.to_string()))?;
        js::store_buffer(&bucket, &payload_key(self.id), buffer, self.content_type).await
    }

    /// The payload could not be kept: count it and tell the sender to retry (or that it is
    /// too large, for a chunked body past `max_body`).
    async fn unstored(&self, e: StoreError) -> Fail {
        match e {
            StoreError::TooLarge => {
                let size = size_past_max_body(self.route.max_body_bytes);
                self.record_refused(size).await;
                WebhookError::TooLarge {
                    limit: self.route.max_body_bytes,
                    size,
                }
                .into()
            }
            StoreError::Failed(e) => {
                store::count_logged(self.env, &self.route.name, stats_reason::UNSTORED, self.now)
                    .await;
                WebhookError::Unavailable(format!("could not keep payload {}: {e}", self.id)).into()
            }
        }
    }

    /// A body over `max_body`: a row without payload, so the refusal is visible.
    async fn record_refused(&self, size: u64) {
        let row = NewDelivery::refused(self.received(), size, self.route.max_body_bytes);
        if let Err(e) = store::insert_delivery(self.env, &row).await {
            worker::console_error!("could not record refused delivery {}: {}", self.id, e.0);
        }
        store::count_logged(self.env, &self.route.name, stats_reason::REFUSED, self.now).await;
    }

    /// Records the hold (the payload is already in R2), schedules its retry, alerts, and
    /// answers the sender. If the row cannot be written the sender is told to retry (503):
    /// a payload nobody can see would be as lost as a 413.
    async fn hold(
        &self,
        reason: HoldReason,
        size: Option<u64>,
        origin_status: Option<u16>,
        detail: String,
        duration_ms: Option<u64>,
    ) -> Result<Response, Fail> {
        let key = payload_key(self.id);
        let prefix = match crate::store::bucket(self.env) {
            Ok(bucket) => payload_prefix(&bucket, &key).await,
            Err(_) => Vec::new(),
        };
        let sender = sender_hints(self.content_type, &prefix).join(", ");
        let t = first_transition(Verdict::Hold(reason), self.route, self.now);
        let held = HoldFacts {
            reason,
            size,
            sender: &sender,
            limit_bytes: self.route.body_limit,
            origin_status,
            detail: &detail,
            payload_key: &key,
        };
        let row = NewDelivery::held(self.received(), held, &t);
        if let Err(e) = store::insert_delivery(self.env, &row).await {
            if let Ok(bucket) = crate::store::bucket(self.env) {
                let _ = bucket.delete(&key).await;
            }
            store::count_logged(self.env, &self.route.name, stats_reason::UNSTORED, self.now).await;
            return Err(e);
        }
        if let Some(ms) = duration_ms {
            if let Err(e) = store::record_attempt(
                self.env,
                self.id,
                1,
                "forward",
                self.now,
                origin_status,
                &detail,
                ms,
            )
            .await
            {
                worker::console_warn!("could not record attempt of {}: {}", self.id, e.0);
            }
        }
        store::count_logged(self.env, &self.route.name, reason.stats_reason(), self.now).await;
        if let Some(at) = t.next_attempt_at {
            // A lost schedule is caught by the sweep (the row has next_attempt_at).
            if let Err(e) = delivery_object::schedule(self.env, self.id, at).await {
                worker::console_error!("could not schedule retry of {}: {}", self.id, e.0);
            }
        }
        let cause = AlertCause::FirstHold {
            route: self.route.name.clone(),
            delivery_id: self.id.to_string(),
            reason,
            size,
            limit: self.route.body_limit,
            sender: sender.clone(),
            origin_status,
        };
        let (env, alert_cfg, dashboard, now) = (
            self.env.clone(),
            self.cfg.alert.clone(),
            self.dashboard.clone(),
            self.now,
        );
        let exhausted = t.exhausted_now.then(|| AlertCause::Exhausted {
            route: self.route.name.clone(),
            delivery_id: self.id.to_string(),
            attempts: t.auto_attempts,
            sender,
            last_error: detail.clone(),
        });
        self.ctx.wait_until(async move {
            alert::raise(&env, &alert_cfg, cause, Some(dashboard.clone()), now).await;
            if let Some(ex) = exhausted {
                alert::raise(&env, &alert_cfg, ex, Some(dashboard), now).await;
            }
        });
        let (status, body, retry_after) = hold_answer(self.route.hold_answer, self.id, reason);
        let mut resp = json_answer(&body, status)?;
        resp.headers_mut().set(DELIVERY_ID, self.id)?;
        if let Some(secs) = retry_after {
            resp.headers_mut().set("Retry-After", &secs.to_string())?;
        }
        Ok(resp)
    }
}

/// The first [`HINT_SCAN_BYTES`] of a kept payload (a ranged R2 read).
pub(super) async fn payload_prefix(bucket: &worker::Bucket, key: &str) -> Vec<u8> {
    let got = bucket
        .get(key)
        .range(worker::Range::OffsetWithLength {
            offset: 0,
            length: HINT_SCAN_BYTES as u64,
        })
        .execute()
        .await;
    match got {
        Ok(Some(obj)) => match obj.body() {
            Some(body) => body.bytes().await.unwrap_or_default(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}
