//! A delivery's life: ids, statuses, the retry schedule, what an attempt may do (retry or
//! replay, idempotency) and what follows from its result.
//!
//! Statuses:
//! - `held`: kept and waiting for a person or a config change (a size hold, a payload the origin
//!   rejects as such, or any hold on a route whose senders retry themselves);
//! - `failed`: the last attempt failed and an automatic retry is scheduled (`next_attempt_at`);
//! - `delivered`: the origin answered 2xx (first attempt, retry or replay);
//! - `exhausted`: every scheduled retry failed (alerted once);
//! - `refused`: larger than the route's `max_body`, answered 413 and not kept.

use super::config::Route;
use super::decision::{HoldReason, Verdict};
use backstop_server_core::stats::stored_int;

/// Slack when deciding whether a retry is due (alarms fire a little early or late).
const DUE_SLACK_MS: u64 = 1_000;

/// A delivery's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for a person or a config change.
    Held,
    /// Waiting for the next automatic retry.
    Failed,
    /// The origin took it.
    Delivered,
    /// Every retry failed.
    Exhausted,
    /// Too large to keep; refused with 413.
    Refused,
}

impl DeliveryStatus {
    /// All statuses.
    pub const ALL: [DeliveryStatus; 5] = [
        Self::Held,
        Self::Failed,
        Self::Delivered,
        Self::Exhausted,
        Self::Refused,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Exhausted => "exhausted",
            Self::Refused => "refused",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A new delivery id: `wh_` + 12 hex digits of milliseconds + 16 hex digits of randomness, so
/// ids sort by arrival. The caller passes the randomness (core has none).
pub fn delivery_id(now_ms: u64, random: u64) -> String {
    format!("wh_{:012x}{random:016x}", now_ms & 0xffff_ffff_ffff)
}

/// Whether `id` has the shape [`delivery_id`] produces (checked before any lookup).
pub fn is_valid_delivery_id(id: &str) -> bool {
    id.len() == 31
        && id.starts_with("wh_")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The R2 key of a delivery's payload.
pub fn payload_key(id: &str) -> String {
    format!("webhooks/{id}")
}

/// When the next automatic attempt is due after `auto_attempts` attempts (the first
/// forward counts as one), or `None` when the schedule is used up.
pub fn next_attempt_at(schedule_secs: &[u64], auto_attempts: u32, now_ms: u64) -> Option<u64> {
    let index = usize::try_from(auto_attempts.checked_sub(1)?).ok()?;
    schedule_secs
        .get(index)
        .map(|secs| now_ms.saturating_add(secs.saturating_mul(1000)))
}

/// Whether a size hold may be retried now: the route's limit changed since the hold and the
/// payload now fits. (A hold whose limit was unknown — the origin said 413 — is unblocked once
/// the config names a limit the payload fits in.)
pub fn is_unblocked(
    size: Option<u64>,
    limit_at_hold: Option<u64>,
    current_limit: Option<u64>,
) -> bool {
    match (size, current_limit) {
        (Some(size), Some(limit)) => current_limit != limit_at_hold && size <= limit,
        _ => false,
    }
}

/// A delivery as stored, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    /// Current status.
    pub status: DeliveryStatus,
    /// Why it is (or was last) held.
    pub reason: Option<HoldReason>,
    /// Automatic attempts so far (the first forward and retries; 0 for an oversize hold).
    pub auto_attempts: u32,
    /// Replays so far.
    pub replays: u32,
    /// Body size in bytes, when known.
    pub size: Option<u64>,
    /// The route's `body_limit` when it was held.
    pub limit_at_hold: Option<u64>,
    /// Whether the payload is still kept.
    pub has_payload: bool,
    /// When the next automatic retry is due.
    pub next_attempt_at: Option<u64>,
}

/// What starts an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// A scheduled retry (an alarm) or a size hold unblocked by a limit change.
    Retry,
    /// `POST .../replay` by an admin; `force` re-sends even a delivered payload.
    Replay {
        /// Re-send even if delivered.
        force: bool,
    },
}

/// Why an attempt is not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Already delivered, and the replay was not forced (replay is idempotent).
    AlreadyDelivered,
    /// A retry that is not due or not allowed in this status (a stale alarm).
    NotDue,
    /// The payload is no longer kept.
    PayloadGone,
    /// The delivery's route is no longer configured.
    RouteGone,
}

/// An attempt to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPlan {
    /// `X-Backstop-Replay` value for a replay (1 for the first replay).
    pub replay_number: Option<u32>,
}

/// Decides whether an attempt is made.
pub fn plan_attempt(
    state: &DeliveryState,
    kind: AttemptKind,
    route: Option<&Route>,
    now_ms: u64,
) -> Result<AttemptPlan, Skip> {
    match kind {
        AttemptKind::Replay { force } => {
            if state.status == DeliveryStatus::Delivered && !force {
                return Err(Skip::AlreadyDelivered);
            }
            if !state.has_payload {
                return Err(Skip::PayloadGone);
            }
            if route.is_none() {
                return Err(Skip::RouteGone);
            }
            Ok(AttemptPlan {
                replay_number: Some(state.replays.saturating_add(1)),
            })
        }
        AttemptKind::Retry => {
            if state.status == DeliveryStatus::Delivered {
                return Err(Skip::AlreadyDelivered);
            }
            let Some(route) = route else {
                return Err(Skip::RouteGone);
            };
            let due = match state.status {
                DeliveryStatus::Failed => state
                    .next_attempt_at
                    .is_some_and(|at| at <= now_ms.saturating_add(DUE_SLACK_MS)),
                DeliveryStatus::Held => {
                    state.reason.is_some_and(HoldReason::is_size_hold)
                        && route.hold_answer.backstop_retries()
                        && is_unblocked(state.size, state.limit_at_hold, route.body_limit)
                }
                _ => false,
            };
            if !due {
                return Err(Skip::NotDue);
            }
            if !state.has_payload {
                return Err(Skip::PayloadGone);
            }
            Ok(AttemptPlan {
                replay_number: None,
            })
        }
    }
}

/// How late a scheduled retry must be before the cron sweep takes it over (its alarm was lost).
pub const SWEEP_OVERDUE_MS: u64 = 60_000;

/// The most deliveries one sweep schedules. The store selects only eligible rows
/// ([`SweepFilter`]), so holds that wait for a person never use up the batch; what is left over
/// waits for the next sweep (a scheduled row leaves the selection once its attempt is recorded).
pub const SWEEP_BATCH: u32 = 200;

/// What the cron sweep schedules, as data the store filters by in its query: a `failed`
/// delivery whose retry is overdue, and a size hold that its route's current `body_limit`
/// unblocks. Both need the payload and a configured route. It mirrors [`plan_attempt`] for a
/// retry, except that a retry counts only once it is [`SWEEP_OVERDUE_MS`] late (until then its
/// alarm is expected to fire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFilter {
    /// A `failed` delivery whose `next_attempt_at` is before this is overdue.
    pub overdue_before: u64,
    /// Names of the configured routes.
    pub routes: Vec<String>,
    /// Routes on which a limit change can unblock a size hold (Backstop retries on them and
    /// they name a `body_limit`), with that limit as stored ([`stored_int`]), so that it compares
    /// with the `limit_bytes` of stored rows.
    pub size_limits: Vec<(String, u64)>,
}

impl SweepFilter {
    /// The filter for a sweep at `now_ms` with these routes.
    pub fn new(routes: &[Route], now_ms: u64) -> Self {
        Self {
            overdue_before: now_ms.saturating_sub(SWEEP_OVERDUE_MS),
            routes: routes.iter().map(|r| r.name.clone()).collect(),
            size_limits: routes
                .iter()
                .filter(|r| r.hold_answer.backstop_retries())
                .filter_map(|r| Some((r.name.clone(), stored_int(r.body_limit?))))
                .collect(),
        }
    }

    /// Whether the sweep schedules this delivery of `route` (what the store's query selects).
    pub fn is_eligible(&self, route: &str, state: &DeliveryState) -> bool {
        if !state.has_payload {
            return false;
        }
        match state.status {
            DeliveryStatus::Failed => {
                state
                    .next_attempt_at
                    .is_some_and(|at| at < self.overdue_before)
                    && self.routes.iter().any(|r| r == route)
            }
            DeliveryStatus::Held => {
                state.reason.is_some_and(HoldReason::is_size_hold)
                    && self.size_limits.iter().any(|(r, limit)| {
                        r == route && is_unblocked(state.size, state.limit_at_hold, Some(*limit))
                    })
            }
            _ => false,
        }
    }

    /// [`Self::is_eligible`] as the store's condition on `webhook_deliveries AS d`, with
    /// [`Self::overdue_before`] bound as `?{overdue}`, [`Self::routes_json`] as `?{routes}` and
    /// [`Self::size_limits_json`] as `?{limits}`. The query applies the whole rule, so holds that
    /// wait for a person never fill a batch; `tests/sweep_sql.rs` runs both over the same rows
    /// on SQLite, the engine under D1.
    pub fn where_sql(overdue: u8, routes: u8, limits: u8) -> String {
        format!(
            "d.payload_key IS NOT NULL AND (
                (d.status = 'failed' AND d.next_attempt_at < ?{overdue}
                 AND d.route IN (SELECT value FROM json_each(?{routes})))
                OR (d.status = 'held' AND d.reason IN ('oversize', 'origin_too_large')
                 AND d.size IS NOT NULL
                 AND EXISTS (SELECT 1 FROM json_each(?{limits}) AS l
                     WHERE json_extract(l.value, '$[0]') = d.route
                       AND d.size <= json_extract(l.value, '$[1]')
                       AND (d.limit_bytes IS NULL OR d.limit_bytes <> json_extract(l.value, '$[1]')))))",
        )
    }

    /// [`Self::routes`] as a JSON array of names, for the store's query.
    pub fn routes_json(&self) -> String {
        serde_json::json!(self.routes).to_string()
    }

    /// [`Self::size_limits`] as a JSON array of `[name, limit]`, for the store's query.
    pub fn size_limits_json(&self) -> String {
        serde_json::json!(self.size_limits).to_string()
    }
}

/// The state a delivery moves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// New status.
    pub status: DeliveryStatus,
    /// Hold reason (the new one, or the previous one when delivered).
    pub reason: Option<HoldReason>,
    /// New automatic-attempt count.
    pub auto_attempts: u32,
    /// New replay count.
    pub replays: u32,
    /// When the next automatic retry is due.
    pub next_attempt_at: Option<u64>,
    /// The delivery just ran out of retries: alert once.
    pub exhausted_now: bool,
    /// The delivery was just delivered after having been held.
    pub delivered_now: bool,
}

/// The state of a delivery after its first forward (or its oversize hold).
pub fn first_transition(verdict: Verdict, route: &Route, now_ms: u64) -> Transition {
    let (status, reason, next, attempts) = match verdict {
        Verdict::Delivered => (DeliveryStatus::Delivered, None, None, 1),
        Verdict::Hold(HoldReason::Oversize) => {
            (DeliveryStatus::Held, Some(HoldReason::Oversize), None, 0)
        }
        Verdict::Hold(reason) => {
            let next = if reason.is_auto_retried() && route.hold_answer.backstop_retries() {
                next_attempt_at(&route.retry_schedule_secs, 1, now_ms)
            } else {
                None
            };
            let status = if next.is_some() {
                DeliveryStatus::Failed
            } else if reason.is_auto_retried() && route.hold_answer.backstop_retries() {
                // An empty schedule: the first failure is the last.
                DeliveryStatus::Exhausted
            } else {
                DeliveryStatus::Held
            };
            (status, Some(reason), next, 1)
        }
    };
    Transition {
        status,
        reason,
        auto_attempts: attempts,
        replays: 0,
        next_attempt_at: next,
        exhausted_now: status == DeliveryStatus::Exhausted,
        delivered_now: false,
    }
}

/// The state after a retry or replay with this verdict.
pub fn after_attempt(
    state: &DeliveryState,
    kind: AttemptKind,
    verdict: Verdict,
    route: &Route,
    now_ms: u64,
) -> Transition {
    let (auto_attempts, replays) = match kind {
        AttemptKind::Retry => (state.auto_attempts.saturating_add(1), state.replays),
        AttemptKind::Replay { .. } => (state.auto_attempts, state.replays.saturating_add(1)),
    };
    let mut t = Transition {
        status: state.status,
        reason: state.reason,
        auto_attempts,
        replays,
        next_attempt_at: state.next_attempt_at,
        exhausted_now: false,
        delivered_now: false,
    };
    match verdict {
        Verdict::Delivered => {
            t.delivered_now = state.status != DeliveryStatus::Delivered;
            t.status = DeliveryStatus::Delivered;
            t.next_attempt_at = None;
        }
        // A forced replay of a delivered payload that fails does not undo the delivery.
        Verdict::Hold(_) if state.status == DeliveryStatus::Delivered => {}
        Verdict::Hold(reason) => {
            t.reason = Some(reason);
            match kind {
                // A failed replay leaves the schedule alone: a person tried, the plan stands.
                AttemptKind::Replay { .. } => {}
                AttemptKind::Retry => {
                    if reason.is_auto_retried() && route.hold_answer.backstop_retries() {
                        t.next_attempt_at =
                            next_attempt_at(&route.retry_schedule_secs, auto_attempts, now_ms);
                        if t.next_attempt_at.is_some() {
                            t.status = DeliveryStatus::Failed;
                        } else {
                            t.status = DeliveryStatus::Exhausted;
                            t.exhausted_now = state.status != DeliveryStatus::Exhausted;
                        }
                    } else {
                        t.status = DeliveryStatus::Held;
                        t.next_attempt_at = None;
                    }
                }
            }
        }
    }
    t
}

/// The answer to a replay request, as the API returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// Not sent: it was already delivered (replay is idempotent; pass `force` to re-send).
    AlreadyDelivered,
    /// Sent; the origin took it.
    Delivered,
    /// Sent; the origin did not take it.
    NotDelivered,
}

impl ReplayOutcome {
    /// The `result` field of the API answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyDelivered => "already_delivered",
            Self::Delivered => "delivered",
            Self::NotDelivered => "not_delivered",
        }
    }
}

/// A request as the guard received it: what every delivery row starts from.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// Delivery id ([`delivery_id`]).
    pub id: &'a str,
    /// The route's name.
    pub route: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// When it arrived (epoch ms).
    pub received_at: u64,
    /// Its `Content-Type`.
    pub content_type: &'a str,
    /// The headers kept for replay, as JSON.
    pub headers: &'a str,
}

/// A delivery row as first written: one of [`NewDelivery::passed`], [`NewDelivery::refused`]
/// or [`NewDelivery::held`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery<'a> {
    /// Delivery id.
    pub id: &'a str,
    /// Route name.
    pub route: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// Arrival (epoch ms).
    pub received_at: u64,
    /// Body size, when known.
    pub size: Option<u64>,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// Headers kept for replay (JSON).
    pub headers: &'a str,
    /// Who sent it ([`crate::hints::sender_hints`], joined).
    pub sender: &'a str,
    /// Its status.
    pub status: DeliveryStatus,
    /// Why it is held.
    pub reason: Option<HoldReason>,
    /// The limit it passed, for a refusal or an oversize hold.
    pub limit_bytes: Option<u64>,
    /// What the origin answered.
    pub origin_status: Option<u16>,
    /// What went wrong with the origin, for the dashboard.
    pub origin_error: &'a str,
    /// Automatic attempts made.
    pub attempts: u32,
    /// When the next automatic retry is due.
    pub next_attempt_at: Option<u64>,
    /// When it was delivered.
    pub delivered_at: Option<u64>,
    /// The kept payload's R2 key.
    pub payload_key: Option<&'a str>,
}

/// What a held delivery adds to its [`Received`] request.
#[derive(Debug, Clone, Copy)]
pub struct HoldFacts<'a> {
    /// Why it is held.
    pub reason: HoldReason,
    /// Body size, when known.
    pub size: Option<u64>,
    /// Sender hints, joined.
    pub sender: &'a str,
    /// The route's body limit.
    pub limit_bytes: Option<u64>,
    /// What the origin answered.
    pub origin_status: Option<u16>,
    /// What went wrong.
    pub detail: &'a str,
    /// Where the payload is kept.
    pub payload_key: &'a str,
}

impl<'a> NewDelivery<'a> {
    fn received(r: Received<'a>, status: DeliveryStatus) -> Self {
        Self {
            id: r.id,
            route: r.route,
            method: r.method,
            path: r.path,
            received_at: r.received_at,
            size: None,
            content_type: r.content_type,
            headers: r.headers,
            sender: "",
            status,
            reason: None,
            limit_bytes: None,
            origin_status: None,
            origin_error: "",
            attempts: 0,
            next_attempt_at: None,
            delivered_at: None,
            payload_key: None,
        }
    }

    /// The origin took it on the one forward, `duration_ms` after arrival: delivered, its
    /// payload not kept.
    pub fn passed(
        r: Received<'a>,
        size: Option<u64>,
        origin_status: Option<u16>,
        duration_ms: u64,
    ) -> Self {
        Self {
            size,
            origin_status,
            attempts: 1,
            delivered_at: Some(r.received_at.saturating_add(duration_ms)),
            ..Self::received(r, DeliveryStatus::Delivered)
        }
    }

    /// Larger than the route's `max_body` (`limit`): refused and not kept, but a row, so the
    /// refusal is visible.
    pub fn refused(r: Received<'a>, size: u64, limit: u64) -> Self {
        Self {
            size: Some(size),
            limit_bytes: Some(limit),
            origin_error: "larger than the route's max_body; not kept",
            ..Self::received(r, DeliveryStatus::Refused)
        }
    }

    /// Held with its payload kept, in the state of `t` ([`first_transition`] of the hold).
    pub fn held(r: Received<'a>, h: HoldFacts<'a>, t: &Transition) -> Self {
        Self {
            size: h.size,
            sender: h.sender,
            reason: Some(h.reason),
            limit_bytes: h.limit_bytes,
            origin_status: h.origin_status,
            origin_error: h.detail,
            attempts: t.auto_attempts,
            next_attempt_at: t.next_attempt_at,
            payload_key: Some(h.payload_key),
            ..Self::received(r, t.status)
        }
    }

    /// When its last attempt was made: on arrival if one was made, else never.
    pub fn last_attempt_at(&self) -> Option<u64> {
        (self.attempts > 0).then_some(self.received_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Received<'static> {
        Received {
            id: "wh_0000000000010000000000000001",
            route: "mail",
            method: "POST",
            path: "/hooks/mail",
            received_at: 1_000,
            content_type: "application/json",
            headers: "[]",
        }
    }

    #[test]
    fn first_rows_say_what_happened() {
        let passed = NewDelivery::passed(received(), Some(10), Some(202), 35);
        assert_eq!(
            (
                passed.status,
                passed.attempts,
                passed.delivered_at,
                passed.payload_key
            ),
            (DeliveryStatus::Delivered, 1, Some(1_035), None)
        );
        assert_eq!(passed.last_attempt_at(), Some(1_000));

        let refused = NewDelivery::refused(received(), 30_000_000, 20_971_520);
        assert_eq!(
            (
                refused.status,
                refused.attempts,
                refused.limit_bytes,
                refused.payload_key
            ),
            (DeliveryStatus::Refused, 0, Some(20_971_520), None)
        );
        assert_eq!(refused.last_attempt_at(), None, "never forwarded");
        assert!(refused.origin_error.contains("max_body"));

        let t = Transition {
            status: DeliveryStatus::Failed,
            reason: Some(HoldReason::OriginError),
            auto_attempts: 1,
            replays: 0,
            next_attempt_at: Some(31_000),
            exhausted_now: false,
            delivered_now: false,
        };
        let facts = HoldFacts {
            reason: HoldReason::OriginError,
            size: Some(5),
            sender: "stripe",
            limit_bytes: Some(100),
            origin_status: Some(502),
            detail: "answered 502",
            payload_key: "webhooks/x",
        };
        let held = NewDelivery::held(received(), facts, &t);
        assert_eq!(
            (
                held.status,
                held.reason,
                held.attempts,
                held.next_attempt_at
            ),
            (
                DeliveryStatus::Failed,
                Some(HoldReason::OriginError),
                1,
                Some(31_000)
            )
        );
        assert_eq!(
            (held.payload_key, held.sender, held.origin_error),
            (Some("webhooks/x"), "stripe", "answered 502")
        );
    }
    use crate::config::{RawWebhookConfig, WebhookConfig, DEFAULT_RETRY_SCHEDULE_SECS};
    use crate::decision::HoldReason::*;

    fn route(extra: &str) -> Route {
        WebhookConfig::from_raw(&RawWebhookConfig {
            routes_json: Some(format!(
                r#"[{{"name":"r","prefix":"/r","origin":"http://o"{extra}}}]"#
            )),
            ..Default::default()
        })
        .unwrap()
        .routes
        .remove(0)
    }

    fn state(status: DeliveryStatus, reason: Option<HoldReason>, auto: u32) -> DeliveryState {
        DeliveryState {
            status,
            reason,
            auto_attempts: auto,
            replays: 0,
            size: Some(100),
            limit_at_hold: None,
            has_payload: true,
            next_attempt_at: Some(1_000),
        }
    }

    #[test]
    fn ids_sort_by_time_and_validate() {
        let a = delivery_id(1_795_341_600_000, 0xdead_beef);
        let b = delivery_id(1_795_341_600_001, 0);
        assert!(a < b);
        assert_eq!(a.len(), 31);
        assert!(is_valid_delivery_id(&a), "{a}");
        for bad in [
            "",
            "wh_",
            "wh_XYZ",
            &a[..30],
            &format!("{a}0"),
            "xx_0123456789abcdef0123456789ab",
        ] {
            assert!(!is_valid_delivery_id(bad), "{bad}");
        }
        assert_eq!(payload_key("wh_1"), "webhooks/wh_1");
    }

    #[test]
    fn schedule_follows_svix_then_runs_out() {
        let s = DEFAULT_RETRY_SCHEDULE_SECS;
        let now = 1_000_000;
        let cases = [
            (0, None, "no attempt yet: nothing scheduled"),
            (1, Some(now + 5_000), "after the first forward: 5 s"),
            (2, Some(now + 300_000), "5 min"),
            (3, Some(now + 1_800_000), "30 min"),
            (4, Some(now + 7_200_000), "2 h"),
            (5, Some(now + 18_000_000), "5 h"),
            (6, Some(now + 36_000_000), "10 h"),
            (7, Some(now + 36_000_000), "10 h again"),
            (8, None, "exhausted after 8 attempts"),
        ];
        for (attempts, want, why) in cases {
            assert_eq!(next_attempt_at(&s, attempts, now), want, "{why}");
        }
        assert_eq!(next_attempt_at(&[], 1, now), None);
    }

    #[test]
    fn size_holds_unblock_only_on_a_limit_change_that_fits() {
        let cases = [
            (Some(21), Some(20), Some(20), false, "same limit"),
            (Some(21), Some(20), Some(25), true, "raised enough"),
            (
                Some(21),
                Some(20),
                Some(21),
                true,
                "raised to exactly the size",
            ),
            (
                Some(21),
                Some(20),
                Some(10),
                false,
                "changed but still too small",
            ),
            (
                Some(21),
                None,
                Some(25),
                true,
                "origin said 413; config now names a fitting limit",
            ),
            (Some(21), None, None, false, "still unknown"),
            (
                Some(21),
                Some(20),
                None,
                false,
                "limit removed: unknown is not a yes",
            ),
            (None, Some(20), Some(25), false, "size unknown"),
        ];
        for (size, at_hold, now, want, why) in cases {
            assert_eq!(is_unblocked(size, at_hold, now), want, "{why}");
        }
    }

    #[test]
    fn first_transition_by_verdict_and_hold_answer() {
        let accept = route(r#","retry_schedule":[5,60]"#);
        let ask = route(r#","hold_response":{"status":503}"#);
        let none = route(r#","retry_schedule":[]"#);
        let now = 10_000;
        let cases: Vec<(&Route, Verdict, DeliveryStatus, Option<u64>, u32, &str)> = vec![
            (
                &accept,
                Verdict::Delivered,
                DeliveryStatus::Delivered,
                None,
                1,
                "passed",
            ),
            (
                &accept,
                Verdict::Hold(Oversize),
                DeliveryStatus::Held,
                None,
                0,
                "oversize: never forwarded, not retried",
            ),
            (
                &accept,
                Verdict::Hold(OriginTooLarge),
                DeliveryStatus::Held,
                None,
                1,
                "413: not retried blindly",
            ),
            (
                &accept,
                Verdict::Hold(OriginRejected),
                DeliveryStatus::Held,
                None,
                1,
                "400: waits for a person",
            ),
            (
                &accept,
                Verdict::Hold(Unreachable),
                DeliveryStatus::Failed,
                Some(15_000),
                1,
                "down: retry in 5 s",
            ),
            (
                &accept,
                Verdict::Hold(Timeout),
                DeliveryStatus::Failed,
                Some(15_000),
                1,
                "slow: retry in 5 s",
            ),
            (
                &ask,
                Verdict::Hold(OriginError),
                DeliveryStatus::Held,
                None,
                1,
                "503 mode: the sender retries",
            ),
            (
                &none,
                Verdict::Hold(OriginError),
                DeliveryStatus::Exhausted,
                None,
                1,
                "empty schedule",
            ),
        ];
        for (r, verdict, status, next, attempts, why) in cases {
            let t = first_transition(verdict, r, now);
            assert_eq!(
                (t.status, t.next_attempt_at, t.auto_attempts),
                (status, next, attempts),
                "{why}"
            );
            assert_eq!(
                t.exhausted_now,
                status == DeliveryStatus::Exhausted,
                "{why}"
            );
        }
    }

    #[test]
    fn plans_retries_and_idempotent_replays() {
        let r = route(r#","body_limit":"100""#);
        let mut oversize = state(DeliveryStatus::Held, Some(Oversize), 0);
        oversize.size = Some(200);
        oversize.limit_at_hold = Some(100);
        let mut raised = r.clone();
        raised.body_limit = Some(300);
        let gone = DeliveryState {
            has_payload: false,
            ..state(DeliveryStatus::Held, Some(Oversize), 0)
        };
        let delivered = state(DeliveryStatus::Delivered, None, 1);
        let failed = state(DeliveryStatus::Failed, Some(Unreachable), 1);
        let replay = AttemptKind::Replay { force: false };
        let forced = AttemptKind::Replay { force: true };
        let cases: Vec<(
            &DeliveryState,
            AttemptKind,
            Option<&Route>,
            u64,
            Result<Option<u32>, Skip>,
            &str,
        )> = vec![
            (
                &failed,
                AttemptKind::Retry,
                Some(&r),
                1_000,
                Ok(None),
                "due",
            ),
            (
                &failed,
                AttemptKind::Retry,
                Some(&r),
                0,
                Ok(None),
                "within the slack",
            ),
            (
                &delivered,
                AttemptKind::Retry,
                Some(&r),
                5_000,
                Err(Skip::AlreadyDelivered),
                "stale alarm after a replay",
            ),
            (
                &oversize,
                AttemptKind::Retry,
                Some(&r),
                5_000,
                Err(Skip::NotDue),
                "oversize, same limit: not retried blindly",
            ),
            (
                &oversize,
                AttemptKind::Retry,
                Some(&raised),
                5_000,
                Ok(None),
                "limit raised: retried",
            ),
            (
                &failed,
                AttemptKind::Retry,
                None,
                5_000,
                Err(Skip::RouteGone),
                "route removed",
            ),
            (
                &oversize,
                replay,
                Some(&r),
                5_000,
                Ok(Some(1)),
                "a person replays a size hold",
            ),
            (
                &delivered,
                replay,
                Some(&r),
                5_000,
                Err(Skip::AlreadyDelivered),
                "second replay is a no-op",
            ),
            (&delivered, forced, Some(&r), 5_000, Ok(Some(1)), "forced"),
            (
                &gone,
                replay,
                Some(&r),
                5_000,
                Err(Skip::PayloadGone),
                "payload gone",
            ),
            (
                &oversize,
                replay,
                None,
                5_000,
                Err(Skip::RouteGone),
                "replay needs the route's origin",
            ),
        ];
        for (s, kind, route, now, want, why) in cases {
            assert_eq!(
                plan_attempt(s, kind, route, now).map(|p| p.replay_number),
                want,
                "{why}"
            );
        }
        let mut early = failed.clone();
        early.next_attempt_at = Some(10_000);
        assert_eq!(
            plan_attempt(&early, AttemptKind::Retry, Some(&r), 5_000),
            Err(Skip::NotDue)
        );
    }

    #[test]
    fn the_sweep_selects_only_what_it_would_retry() {
        let limited = route(r#","body_limit":"100""#);
        let mut other = route(r#","body_limit":"100","hold_response":{"status":503}"#);
        other.name = "asks".into();
        let mut unlimited = route("");
        unlimited.name = "open".into();
        let routes = [limited.clone(), other, unlimited];
        let now = 10_000_000;
        let f = SweepFilter::new(&routes, now);
        assert_eq!(f.overdue_before, now - SWEEP_OVERDUE_MS);
        assert_eq!(f.size_limits, vec![("r".to_string(), 100)]);
        assert_eq!(f.routes_json(), r#"["r","asks","open"]"#);
        assert_eq!(f.size_limits_json(), r#"[["r",100]]"#);

        let size_hold = |size, at_hold| DeliveryState {
            size: Some(size),
            limit_at_hold: at_hold,
            ..state(DeliveryStatus::Held, Some(Oversize), 0)
        };
        let failed_at = |at| DeliveryState {
            next_attempt_at: Some(at),
            ..state(DeliveryStatus::Failed, Some(Unreachable), 1)
        };
        let cases = [
            (
                "r",
                size_hold(200, Some(100)),
                false,
                "over the limit, limit unchanged: waits for a person",
            ),
            (
                "r",
                size_hold(90, Some(100)),
                false,
                "fits, but the limit did not change since the hold",
            ),
            (
                "r",
                size_hold(90, Some(50)),
                true,
                "the limit was raised and it fits",
            ),
            (
                "r",
                size_hold(200, Some(50)),
                false,
                "raised, still too small",
            ),
            (
                "r",
                size_hold(90, None),
                true,
                "the origin said 413; the config now names a fitting limit",
            ),
            (
                "asks",
                size_hold(90, Some(50)),
                false,
                "the senders retry on this route",
            ),
            (
                "open",
                size_hold(90, Some(50)),
                false,
                "no limit configured",
            ),
            (
                "gone",
                size_hold(90, Some(50)),
                false,
                "route no longer configured",
            ),
            (
                "r",
                DeliveryState {
                    has_payload: false,
                    ..size_hold(90, Some(50))
                },
                false,
                "payload gone",
            ),
            (
                "r",
                DeliveryState {
                    reason: Some(OriginRejected),
                    ..size_hold(90, Some(50))
                },
                false,
                "a rejection waits for a person",
            ),
            (
                "r",
                failed_at(now - SWEEP_OVERDUE_MS - 1),
                true,
                "a retry whose alarm was lost",
            ),
            (
                "open",
                failed_at(now - 3_600_000),
                true,
                "on any configured route",
            ),
            (
                "r",
                failed_at(now - SWEEP_OVERDUE_MS),
                false,
                "late, but not a minute late yet",
            ),
            ("r", failed_at(now + 5_000), false, "not due"),
            (
                "gone",
                failed_at(now - 3_600_000),
                false,
                "route no longer configured",
            ),
            (
                "r",
                state(DeliveryStatus::Delivered, None, 1),
                false,
                "delivered",
            ),
            (
                "r",
                state(DeliveryStatus::Exhausted, Some(OriginError), 3),
                false,
                "exhausted",
            ),
        ];
        for (name, s, want, why) in cases {
            assert_eq!(f.is_eligible(name, &s), want, "{why}");
            if want {
                // Whatever the sweep selects, the delivery's object will attempt.
                let r = routes.iter().find(|r| r.name == name);
                assert!(
                    plan_attempt(&s, AttemptKind::Retry, r, now).is_ok(),
                    "{why}"
                );
            }
        }

        // More than a batch of holds that wait for a person, older than one that is eligible:
        // the eligible one is still in the first batch.
        let mut rows: Vec<(&str, DeliveryState)> = (0..=SWEEP_BATCH + 50)
            .map(|_| ("r", size_hold(200, Some(100))))
            .collect();
        rows.push(("r", failed_at(now - 120_000)));
        let batch: Vec<_> = rows
            .iter()
            .filter(|(name, s)| f.is_eligible(name, s))
            .take(SWEEP_BATCH as usize)
            .collect();
        assert_eq!(batch.len(), 1, "only the eligible row");
        assert_eq!(batch[0].1.status, DeliveryStatus::Failed);
    }

    #[test]
    fn transitions_after_retries_and_replays() {
        let r = route(r#","retry_schedule":[5,60]"#);
        let now = 100_000;
        let failed1 = state(DeliveryStatus::Failed, Some(Unreachable), 1);
        let failed2 = state(DeliveryStatus::Failed, Some(Unreachable), 2);
        let held = state(DeliveryStatus::Held, Some(Oversize), 0);
        let delivered = state(DeliveryStatus::Delivered, None, 1);
        let exhausted = state(DeliveryStatus::Exhausted, Some(OriginError), 3);
        let replay = AttemptKind::Replay { force: false };
        let cases: Vec<(
            &DeliveryState,
            AttemptKind,
            Verdict,
            DeliveryStatus,
            Option<u64>,
            bool,
            bool,
            &str,
        )> = vec![
            (
                &failed1,
                AttemptKind::Retry,
                Verdict::Delivered,
                DeliveryStatus::Delivered,
                None,
                false,
                true,
                "back up",
            ),
            (
                &failed1,
                AttemptKind::Retry,
                Verdict::Hold(Unreachable),
                DeliveryStatus::Failed,
                Some(160_000),
                false,
                false,
                "second retry in 60 s",
            ),
            (
                &failed2,
                AttemptKind::Retry,
                Verdict::Hold(Timeout),
                DeliveryStatus::Exhausted,
                None,
                true,
                false,
                "out of retries: alert",
            ),
            (
                &failed1,
                AttemptKind::Retry,
                Verdict::Hold(OriginTooLarge),
                DeliveryStatus::Held,
                None,
                false,
                false,
                "now 413: wait for a person",
            ),
            (
                &held,
                replay,
                Verdict::Hold(OriginTooLarge),
                DeliveryStatus::Held,
                Some(1_000),
                false,
                false,
                "replay refused: still held",
            ),
            (
                &held,
                replay,
                Verdict::Delivered,
                DeliveryStatus::Delivered,
                None,
                false,
                true,
                "replay delivered",
            ),
            (
                &exhausted,
                replay,
                Verdict::Hold(OriginError),
                DeliveryStatus::Exhausted,
                Some(1_000),
                false,
                false,
                "no second exhaustion alert",
            ),
            (
                &delivered,
                AttemptKind::Replay { force: true },
                Verdict::Hold(OriginError),
                DeliveryStatus::Delivered,
                Some(1_000),
                false,
                false,
                "forced replay failing keeps delivered",
            ),
            (
                &delivered,
                AttemptKind::Replay { force: true },
                Verdict::Delivered,
                DeliveryStatus::Delivered,
                None,
                false,
                false,
                "forced re-delivery is not a new delivery",
            ),
        ];
        for (s, kind, verdict, status, next, exhausted_now, delivered_now, why) in cases {
            let t = after_attempt(s, kind, verdict, &r, now);
            assert_eq!(
                (
                    t.status,
                    t.next_attempt_at,
                    t.exhausted_now,
                    t.delivered_now
                ),
                (status, next, exhausted_now, delivered_now),
                "{why}"
            );
        }
        let t = after_attempt(&held, replay, Verdict::Delivered, &r, now);
        assert_eq!(
            (t.auto_attempts, t.replays),
            (0, 1),
            "a replay is not an automatic attempt"
        );
        let t = after_attempt(
            &failed1,
            AttemptKind::Retry,
            Verdict::Hold(Unreachable),
            &r,
            now,
        );
        assert_eq!((t.auto_attempts, t.replays), (2, 0));
    }

    #[test]
    fn statuses_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("lost"), None);
        assert_eq!(
            ReplayOutcome::AlreadyDelivered.as_str(),
            "already_delivered"
        );
    }
}
