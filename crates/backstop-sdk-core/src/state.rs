//! The SDK's state, and the calls that only change it: `init`, scope and breadcrumbs.

use alloc::sync::Arc;

use crate::breadcrumb::DEFAULT_MAX_BREADCRUMBS;
use crate::breadcrumb::{element_selector, selector_path, Breadcrumb, Breadcrumbs};
use crate::config::{Config, Options};
use crate::prelude::*;
use crate::sdk::{normalize_level, truncate, Dedupe, SendBudget, DEFAULT_MAX_EVENTS};
use crate::sdk_event::set_pair;
use crate::sdk_transport::{ClientReport, Reason};
use crate::transport::{self, Transport};
use crate::Host;

/// User, tags, contexts and extra, as JSON texts ready to embed.
#[derive(Debug, Default)]
pub struct Scope {
    /// `setUser` as JSON.
    pub user: Option<String>,
    /// `setTag` pairs.
    pub tags: Vec<(String, String)>,
    /// `setContext` pairs, values as JSON.
    pub contexts: Vec<(String, String)>,
    /// `setExtra` pairs, values as JSON.
    pub extra: Vec<(String, String)>,
}

/// Everything that changes while the page runs.
pub struct State {
    /// `None` before `init`.
    pub config: Option<Arc<Config>>,
    /// The per-session cap on events.
    pub budget: SendBudget,
    /// The breadcrumb trail.
    pub crumbs: Breadcrumbs,
    /// User, tags, contexts, extra.
    pub scope: Scope,
    /// Recent events, to drop repeats.
    pub dedupe: Dedupe,
    /// Counts of what the SDK dropped.
    pub report: ClientReport,
    /// Rate limits, requests in flight, the offline queue.
    pub transport: Transport,
    /// This tab's session count was read from storage (done lazily, by the first send).
    pub session_loaded: bool,
    /// A capture is running: one that starts meanwhile (from page code the capture runs) is
    /// refused, never captured.
    pub capturing: bool,
}

impl State {
    /// Before `init`.
    pub const fn new() -> Self {
        Self {
            config: None,
            budget: SendBudget::new(DEFAULT_MAX_EVENTS),
            crumbs: Breadcrumbs::new(DEFAULT_MAX_BREADCRUMBS),
            scope: Scope {
                user: None,
                tags: Vec::new(),
                contexts: Vec::new(),
                extra: Vec::new(),
            },
            dedupe: Dedupe::new(),
            report: ClientReport::new(),
            transport: Transport::new(),
            session_loaded: false,
            capturing: false,
        }
    }

    /// Counts `n` dropped items of `category`.
    pub fn dropped(&mut self, reason: Reason, category: &'static str, n: usize) {
        if n > 0 {
            self.report.add(reason, category, n as u64);
        }
    }

    /// Adds a breadcrumb (only once initialised: before that the stub buffers them).
    pub fn crumb(&mut self, c: Breadcrumb) {
        if self.config.is_some() {
            self.crumbs.push(c);
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// The current configuration; `None` before `init`.
pub fn config(h: &impl Host) -> Option<Arc<Config>> {
    h.state(|s| s.config.clone())
}

/// Starts (or reconfigures) the SDK. A second call keeps scope, breadcrumbs and the budget
/// already spent. Errors are the message `init` throws.
pub fn init(h: &impl Host, options: Options<'_>) -> Result<(), String> {
    let (config, max_events, max_crumbs) = Config::new(options)?;
    // No storage access here (see `FIRST_QUEUE_CHECK_MS`): the queue is read by the first
    // retry timer, the session's count by the first send.
    h.state(|s| {
        s.budget.set_limit(max_events);
        s.crumbs.set_max(max_crumbs);
        s.transport.set_offline(config.offline);
        s.config = Some(Arc::new(config));
    });
    transport::started(h);
    Ok(())
}

/// A breadcrumb's time from the stub: `at` (ms since the epoch) when it is a time, else now.
pub fn crumb_time(h: &impl Host, at: f64) -> u64 {
    if at.is_finite() && at > 0.0 {
        at as u64
    } else {
        h.now() as u64
    }
}

/// Longest JSON kept for the user, one context or one extra value.
pub const MAX_JSON: usize = 16 * 1024;
/// Most tags, contexts and extra entries each.
pub const MAX_ENTRIES: usize = 50;

/// `setUser(user)` as JSON; `None` (or not an object) clears it.
pub fn set_user(h: &impl Host, json: Option<String>) {
    let json = json.filter(|j| j.starts_with('{') && j.len() <= MAX_JSON);
    h.state(|s| s.scope.user = json);
}

/// `setTag(key, value)`; the value is bounded to 200 bytes (Sentry's limit).
pub fn set_tag(h: &impl Host, key: &str, value: &str) {
    if key.is_empty() {
        return;
    }
    let value = truncate(value, 200).into();
    h.state(|s| set_pair(&mut s.scope.tags, truncate(key, 32), value, MAX_ENTRIES));
}

/// `setContext(name, object)` as JSON; `None` (or not an object) removes it.
pub fn set_context(h: &impl Host, name: &str, json: Option<String>) {
    let json = json.filter(|j| j.starts_with('{') && j.len() <= MAX_JSON);
    h.state(|s| match json {
        Some(j) => set_pair(&mut s.scope.contexts, name, j, MAX_ENTRIES),
        None => s.scope.contexts.retain(|(k, _)| k != name),
    });
}

/// `setExtra(key, value)` as JSON; `None` removes it.
pub fn set_extra(h: &impl Host, key: &str, json: Option<String>) {
    let json = json.filter(|j| j.len() <= MAX_JSON);
    h.state(|s| match json {
        Some(j) => set_pair(&mut s.scope.extra, key, j, MAX_ENTRIES),
        None => s.scope.extra.retain(|(k, _)| k != key),
    });
}

/// `addBreadcrumb({category, message, level})`, and `console.warn`/`console.error` calls
/// (category `console`), at `at` (see [`crumb_time`]).
pub fn add_breadcrumb(h: &impl Host, category: &str, message: &str, level: Option<&str>, at: f64) {
    let category = if category.is_empty() {
        "custom"
    } else {
        category
    };
    let level = normalize_level(level, "info");
    let c = Breadcrumb::new(crumb_time(h, at), category, level, message.into());
    h.state(|s| s.crumb(c));
}

/// A navigation from `from` to `to`.
pub fn navigation_crumb(h: &impl Host, from: &str, to: &str, at: f64) {
    let c = Breadcrumb::navigation(crumb_time(h, at), from, to);
    h.state(|s| s.crumb(c));
}

/// Elements of a click's path: the target and up to four ancestors (the stub reads no more).
pub const MAX_CLICK_PATH: usize = 5;

/// A click: the target and up to four ancestors, innermost first, joined with U+0002, each
/// `tag\u{1}id\u{1}className`.
pub fn click_crumb(h: &impl Host, path: &str, at: f64) {
    let parts: Vec<String> = path
        .split('\u{2}')
        .take(MAX_CLICK_PATH)
        .filter_map(|el| {
            let mut f = el.split('\u{1}');
            let tag = f.next().filter(|t| !t.is_empty())?;
            Some(element_selector(
                tag,
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
            ))
        })
        .collect();
    if !parts.is_empty() {
        let c = Breadcrumb::new(crumb_time(h, at), "ui.click", "info", selector_path(&parts));
        h.state(|s| s.crumb(c));
    }
}
