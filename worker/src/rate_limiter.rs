//! Per-key rate limiting and daily quotas: one Durable Object per project key (sharded by key,
//! never one global object), holding a core [`TokenBucket`] and the UTC day's event count
//! ([`DayCount`]) in its storage. The object answers one request at a time, so the count is
//! exact however many isolates ask at once; the rule is [`admit`]. A key with a large limit and
//! no quota is taken a lease of tokens at a time (`lease_size`: one for ordinary limits), which
//! the asking isolate spends for up to a second without asking again.

use std::cell::RefCell;

use backstop_server_core::fault::FaultKind;
use backstop_server_core::quota::{admit, DayCount, Grant, LimiterRequest};
use backstop_server_core::rate_limit::{Leases, RateDecision, TokenBucket};
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

use crate::error::AppError;
use crate::fault;

/// Durable Object binding name.
pub(crate) const BINDING: &str = "RATE_LIMITER";
const KEY: &str = "bucket";
const QUOTA_KEY: &str = "quota";

/// The Durable Object class (declared in `wrangler.toml` as a SQLite-backed class).
#[durable_object(fetch)]
pub struct RateLimiter {
    state: State,
    bucket: RefCell<Option<TokenBucket>>,
    count: RefCell<Option<DayCount>>,
    /// When the bucket was last written to storage (epoch ms).
    saved_ms: std::cell::Cell<u64>,
}

/// How often the token bucket is written to storage. The object keeps it in memory while it
/// lives; writing it on every request made each request wait on a storage write, which
/// serialised a key's whole ingest on one object's disk. If the object is evicted, the bucket
/// read back is at most this old: a key may get that much more burst, never fewer tokens.
const SAVE_EVERY_MS: u64 = 1_000;

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            bucket: RefCell::new(None),
            count: RefCell::new(None),
            saved_ms: std::cell::Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let Ok(limiter) = req.json::<LimiterRequest>().await else {
            return Response::error("expected a rate limit config", 400);
        };
        let cfg = limiter.rate_limit;
        let now = worker::Date::now().as_millis();
        let cached = *self.bucket.borrow();
        let mut bucket = match cached {
            Some(b) => b,
            None => self
                .state
                .storage()
                .get::<TokenBucket>(KEY)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| TokenBucket::full(&cfg, now)),
        };
        let cached = *self.count.borrow();
        let mut count = match cached {
            Some(c) => c,
            // Read only when a quota applies: projects without one never pay for it.
            None if limiter.quota.is_some() => self
                .state
                .storage()
                .get::<DayCount>(QUOTA_KEY)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            None => DayCount::default(),
        };
        let before = count;
        let grant = admit(&mut bucket, &mut count, &limiter, now);
        *self.bucket.borrow_mut() = Some(bucket);
        if now.saturating_sub(self.saved_ms.get()) >= SAVE_EVERY_MS {
            self.saved_ms.set(now);
            self.state.storage().put(KEY, bucket).await?;
        }
        if limiter.quota.is_some() {
            *self.count.borrow_mut() = Some(count);
            if count != before {
                self.state.storage().put(QUOTA_KEY, count).await?;
            }
        }
        Response::from_json(&grant)
    }
}

thread_local! {
    /// Tokens this isolate took ahead from its keys' limiters (see [`Leases`]).
    static LEASES: RefCell<Leases> = RefCell::new(Leases::default());
}

/// Asks the key's limiter for one token (for a large limit without a quota, a lease of
/// several, spent by this isolate's next requests without asking: [`Leases`]) and, when the
/// project has a quota, counts the request's `events` against it. If the limiter itself fails,
/// the event is accepted (fail open: losing events because the limiter is down is worse than
/// a burst, or than a few events over a quota) and the failure is logged.
pub(crate) async fn check(
    env: &Env,
    project: &str,
    key: &str,
    req: &LimiterRequest,
) -> Result<RateDecision, AppError> {
    let name = format!("{project}:{key}");
    let now = worker::Date::now().as_millis();
    if req.tokens > 1 {
        if let Some(decision) = LEASES.with_borrow_mut(|l| l.spend(&name, now)) {
            return Ok(decision);
        }
    }
    let attempt = async {
        let stub = env
            .durable_object(BINDING)?
            .id_from_name(&name)?
            .get_stub()?;
        // Under a test fault window the object is sent a body it refuses: a real call that
        // fails (see `fault.rs`).
        let body = if fault::is_active(env, FaultKind::RateLimiter) {
            "null".to_string()
        } else {
            serde_json::to_string(req)?
        };
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let mut resp = stub
            .fetch_with_request(Request::new_with_init("https://rate-limiter/take", &init)?)
            .await?;
        if resp.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "rate limiter answered {}",
                resp.status_code()
            )));
        }
        resp.json::<Grant>().await
    };
    match attempt.await {
        Ok(g) => Ok(LEASES.with_borrow_mut(|l| l.hold(&name, g.decision, g.granted, now))),
        Err(e) => {
            worker::console_error!("rate limiter unavailable, accepting: {e}");
            Ok(RateDecision::Allowed {
                remaining: u32::MAX,
            })
        }
    }
}
