//! Alert rules for issues and projects, pure: the worker stores rules, destinations, episodes
//! and batches, and sends what these functions return.
//!
//! The flow, for one happening:
//!
//! 1. **Trigger.** Something happens: an issue is created, regresses, wakes from a snooze or
//!    escalates (the issue workflow builds the [`Trigger`]), or a threshold rule's counts
//!    reach its threshold ([`evaluate`] over what the caller counted in
//!    [`RuleKind::window_min`]), or the webhook guard holds or exhausts a delivery.
//! 2. **Rule filter.** Each of the project's rules is asked [`Rule::fires_on`]: enabled, of the
//!    trigger's kind, and its [`Filter`] (environment, level at or above, release) matches.
//! 3. **Episode.** Per firing rule, the [`EpisodeKey`] (rule, issue, environment) names the
//!    episode; [`on_trigger`] says whether to notify (a new episode, a tenfold step, a
//!    reminder) or stay quiet. Resolving or ignoring the issue (or a project condition
//!    clearing) [`close`]s the episode, which sends a PagerDuty resolve and a `resolved`
//!    webhook ([`DestinationKind::wants_resolved`]). `EpisodeKey::id` is also the PagerDuty
//!    `dedup_key`.
//! 4. **Storm batch.** A new-issue notification does not go out at once: it joins the batch
//!    of its project and rule ([`storm::add`]), which is flushed `window_ms` after it opened
//!    ([`storm::flush`]): up to `max_individual` issues one by one, more as one message
//!    ([`storm_content`]). Other triggers skip this step.
//! 5. **Destinations.** The rule's destinations (validated once by [`parse_destination`],
//!    never one that [`leads_back`] into Backstop, checked again at send time) each get the
//!    [`AlertContent`] in their shape: [`slack_body`], [`webhook_body`] signed with
//!    [`signed_headers`], or [`pagerduty_body`]. Every request carries
//!    [`alert_headers`] (with the webhook guard's alert marker) and is sent without
//!    following redirects.
//! 6. **Retries.** Each answer is [`classify`]'d: delivered, retried at [`next_retry_at`]
//!    (30 s doubling to 1 h, 12 attempts, `Retry-After` respected), or given up. A failed
//!    alert ends as a recorded row: it never raises another alert nor becomes an event
//!    (see [`delivery`]).
//!
//! Modules: [`rule`], [`destination`], [`message`], [`episode`], [`storm`], [`delivery`].

/// The header that marks Backstop's own alert requests. The webhook guard refuses a request
/// carrying it (508), so an alert can never become a held delivery and another alert.
pub const ALERT_MARKER: &str = "x-backstop-alert";

pub mod delivery;
pub mod destination;
pub mod episode;
pub mod message;
pub mod rule;
pub mod storm;

pub use delivery::{
    classify, next_retry_at, parse_retry_after, settle, AlertAttempt, AlertVerdict, Attempted,
    OutboxStatus, Settlement,
};
pub use destination::{
    leads_back, parse_destination, Destination, DestinationError, DestinationKind,
    PAGERDUTY_EVENTS_URL,
};
pub use episode::{close, on_trigger, Episode, EpisodeDecision, EpisodeKey};
pub use message::{
    alert_headers, pagerduty_body, signature, signature_header, signed_headers, slack_body,
    verify_signature, webhook_body, AlertContent, Measure, PdAction, SignatureError, Trigger,
    ALERT_ID_HEADER, SIGNATURE_HEADER,
};
pub use rule::{
    default_rules, evaluate, parse_rule, Filter, Measured, Rule, RuleError, RuleKind, Scope,
};
pub use storm::{storm_content, BatchedIssue, Flush, StormBatch, StormConfig};
