//! Storms: a bad deploy must not send 40 messages. A project's new-issue notifications wait
//! in a batch for `window_ms` (60 s by default) after the first one; when the batch is
//! flushed, up to `max_individual` (5) issues go out one by one, more are collapsed into one
//! message, "38 new issues since release 2.3.1", linking to the filtered issue list.

use serde::{Deserialize, Serialize};

use super::message::{AlertContent, Trigger};
use super::rule::Rule;

/// Most issues a batch keeps (its count stays exact beyond that).
pub const MAX_BATCHED_ISSUES: usize = 100;

/// How new issues are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StormConfig {
    /// Most issues of one batch notified one by one; more are collapsed into one message.
    pub max_individual: u32,
    /// How long a batch collects after its first issue, in ms.
    pub window_ms: u64,
}

impl Default for StormConfig {
    fn default() -> Self {
        Self {
            max_individual: 5,
            window_ms: 60_000,
        }
    }
}

/// A new issue waiting in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchedIssue {
    /// The issue.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The release of its first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// New issues of a project (and rule) waiting to be notified, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StormBatch {
    /// When its first issue arrived (epoch ms).
    pub opened_at_ms: u64,
    /// Issues added (exact, also beyond the ones kept).
    pub count: u64,
    /// The first [`MAX_BATCHED_ISSUES`] issues.
    pub issues: Vec<BatchedIssue>,
}

/// Whether a stored batch is due to be flushed at `now_ms` (its window ended). The store
/// selects exactly these with [`flush_due_sql`] (checked on SQLite in `tests/sweep_sql.rs`).
pub fn is_flush_due(flush_at_ms: u64, now_ms: u64) -> bool {
    flush_at_ms <= now_ms
}

/// [`is_flush_due`] as the store's condition on `alert_storms` rows, `now_ms` bound as `?{now}`.
pub fn flush_due_sql(now: u8) -> String {
    format!("flush_at <= ?{now}")
}

/// Adds a new issue to the batch (`None`: there is none). Returns the batch to store and,
/// when the caller must arm a timer, the time to [`flush`] it: when the batch just opened, and
/// again when it is already overdue (a lost timer must not keep a batch forever). The same
/// issue added twice (a retried request) counts once, while it is among the ones kept.
pub fn add(
    batch: Option<StormBatch>,
    issue: BatchedIssue,
    now_ms: u64,
    cfg: &StormConfig,
) -> (StormBatch, Option<u64>) {
    let Some(mut batch) = batch else {
        let flush_at = now_ms.saturating_add(cfg.window_ms);
        return (
            StormBatch {
                opened_at_ms: now_ms,
                count: 1,
                issues: vec![issue],
            },
            Some(flush_at),
        );
    };
    if !batch.issues.iter().any(|i| i.id == issue.id) {
        batch.count = batch.count.saturating_add(1);
        if batch.issues.len() < MAX_BATCHED_ISSUES {
            batch.issues.push(issue);
        }
    }
    let due = batch.opened_at_ms.saturating_add(cfg.window_ms);
    let overdue = now_ms > due;
    (batch, overdue.then_some(now_ms))
}

/// What a flushed batch sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    /// Few enough: one new-issue alert each.
    Individual(Vec<BatchedIssue>),
    /// A storm: one message for all of them.
    Collapsed {
        /// Issues in the batch (exact).
        count: u64,
        /// The most common release among the kept issues (an issue without a release counts
        /// as "no release"; a tie goes to the one seen first).
        since_release: Option<String>,
        /// The kept issues' ids (at most [`MAX_BATCHED_ISSUES`]).
        issue_ids: Vec<String>,
    },
}

/// Ends a batch: its issues one by one when there are at most `max_individual`, else one
/// collapsed message. The caller deletes the batch; the next new issue opens another.
pub fn flush(batch: StormBatch, cfg: &StormConfig) -> Flush {
    if batch.count <= u64::from(cfg.max_individual) {
        return Flush::Individual(batch.issues);
    }
    let mut tally: Vec<(Option<&str>, usize)> = Vec::new();
    for issue in &batch.issues {
        let release = issue.release.as_deref();
        match tally.iter_mut().find(|(r, _)| *r == release) {
            Some((_, n)) => *n += 1,
            None => tally.push((release, 1)),
        }
    }
    // `max_by_key` keeps the last of equal maxima; reversed, that is the first seen.
    let since_release = tally
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .and_then(|(r, _)| r.map(str::to_string));
    Flush::Collapsed {
        count: batch.count,
        since_release,
        issue_ids: batch.issues.into_iter().map(|i| i.id).collect(),
    }
}

/// "38 new issues since release 2.3.1", "2 new issues", "1 new issue".
pub fn storm_title(count: u64, since_release: Option<&str>) -> String {
    let issues = if count == 1 { "issue" } else { "issues" };
    let count = super::message::thousands(count);
    match since_release {
        Some(r) => format!("{count} new {issues} since release {r}"),
        None => format!("{count} new {issues}"),
    }
}

/// The issue list filtered to a release: `base` (the caller's link to the project's new
/// issues, which may already carry a query, also inside a `#` route) with `release=<r>`
/// appended. Empty when `base` is.
pub fn issues_link(base: &str, since_release: Option<&str>) -> String {
    match since_release {
        _ if base.is_empty() => String::new(),
        None => base.to_string(),
        Some(r) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let value: String = url::form_urlencoded::byte_serialize(r.as_bytes()).collect();
            format!("{base}{sep}release={value}")
        }
    }
}

/// The collapsed message's content for `rule` (a new-issue rule) in `project`: no issue,
/// level `error`, first/last seen the batch's start and its flush, linking to
/// [`issues_link`] of `issues_base`.
pub fn storm_content(
    rule: &Rule,
    project: &str,
    count: u64,
    since_release: Option<&str>,
    opened_at_ms: u64,
    now_ms: u64,
    issues_base: &str,
) -> AlertContent {
    AlertContent {
        rule_id: rule.id.clone(),
        rule_name: rule.name.clone(),
        trigger: Trigger::Storm {
            count,
            since_release: since_release.map(str::to_string),
        },
        project: project.to_string(),
        issue_id: None,
        title: storm_title(count, since_release),
        culprit: String::new(),
        level: "error".into(),
        environment: None,
        release: since_release.map(str::to_string),
        events: 0,
        users: 0,
        first_seen_ms: opened_at_ms,
        last_seen_ms: now_ms,
        link: issues_link(issues_base, since_release),
        extra: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::message::slack_body;

    const T0: u64 = 1_795_341_600_000;

    fn issue(n: usize, release: Option<&str>) -> BatchedIssue {
        BatchedIssue {
            id: format!("iss_{n}"),
            title: format!("Error {n}"),
            release: release.map(Into::into),
        }
    }

    /// Adds `releases.len()` issues one second apart; returns the batch and every flush time
    /// asked for.
    fn fill(releases: &[Option<&str>], cfg: &StormConfig) -> (StormBatch, Vec<u64>) {
        let mut batch = None;
        let mut timers = Vec::new();
        for (n, r) in releases.iter().enumerate() {
            let (b, at) = add(batch, issue(n, *r), T0 + n as u64 * 1_000, cfg);
            timers.extend(at);
            batch = Some(b);
        }
        (batch.unwrap(), timers)
    }

    #[test]
    fn a_bad_deploy_sends_one_message() {
        let cfg = StormConfig::default();
        let mut releases = vec![Some("2.3.1"); 30];
        releases.extend([None; 5]);
        releases.extend([Some("2.3.0"); 3]);
        let (batch, timers) = fill(&releases, &cfg);
        assert_eq!(
            timers,
            [T0 + 60_000],
            "one timer, armed when the batch opened"
        );
        let flushed = flush(batch, &cfg);
        let Flush::Collapsed {
            count,
            since_release,
            issue_ids,
        } = flushed
        else {
            panic!("38 issues must collapse: {flushed:?}");
        };
        assert_eq!(
            (count, since_release.as_deref(), issue_ids.len()),
            (38, Some("2.3.1"), 38)
        );
        let c = storm_content(
            &crate::alerting::rule::default_rules()[0],
            "web",
            count,
            Some("2.3.1"),
            T0,
            T0 + 60_000,
            "https://b.example/#/web/issues?status=new",
        );
        let text = slack_body(&c)["text"].as_str().unwrap().to_string();
        assert!(text.contains("38 new issues since release 2.3.1"), "{text}");
        assert!(
            text.ends_with("https://b.example/#/web/issues?status=new&amp;release=2.3.1"),
            "{text}"
        );
    }

    #[test]
    fn flush_decides_individual_or_collapsed() {
        let cfg = StormConfig::default();
        let cases: Vec<(&str, Vec<Option<&str>>, Option<Option<&str>>)> = vec![
            ("one issue", vec![Some("1")], None),
            ("exactly K", vec![Some("1"); 5], None),
            ("K + 1", vec![Some("1"); 6], Some(Some("1"))),
            (
                "mostly without a release",
                vec![None, None, None, Some("1"), Some("1"), Some("2")],
                Some(None),
            ),
            (
                "a tie goes to the first seen",
                vec![
                    Some("b"),
                    Some("a"),
                    Some("a"),
                    Some("b"),
                    Some("c"),
                    Some("c"),
                ],
                Some(Some("b")),
            ),
        ];
        for (why, releases, want) in cases {
            let (batch, _) = fill(&releases, &cfg);
            match (flush(batch, &cfg), want) {
                (Flush::Individual(issues), None) => {
                    assert_eq!(issues.len(), releases.len(), "{why}")
                }
                (Flush::Collapsed { since_release, .. }, Some(want)) => {
                    assert_eq!(since_release.as_deref(), want, "{why}");
                }
                (got, _) => panic!("{why}: {got:?}"),
            }
        }
        let none = StormConfig {
            max_individual: 0,
            ..cfg
        };
        let (batch, _) = fill(&[Some("1")], &none);
        assert!(
            matches!(flush(batch, &none), Flush::Collapsed { count: 1, .. }),
            "K = 0 always collapses"
        );
    }

    #[test]
    fn batches_stay_bounded_and_counts_exact() {
        let cfg = StormConfig::default();
        let (batch, _) = fill(&vec![Some("9.9.9"); 250], &cfg);
        assert_eq!((batch.count, batch.issues.len()), (250, MAX_BATCHED_ISSUES));
        let Flush::Collapsed {
            count, issue_ids, ..
        } = flush(batch, &cfg)
        else {
            panic!("collapsed");
        };
        assert_eq!((count, issue_ids.len()), (250, 100));
        assert_eq!(storm_title(250, None), "250 new issues");
        assert_eq!(storm_title(1, Some("1.0")), "1 new issue since release 1.0");
        assert_eq!(
            storm_title(1_500, Some("1.0")),
            "1,500 new issues since release 1.0"
        );
    }

    #[test]
    fn retries_and_lost_timers() {
        let cfg = StormConfig::default();
        let (batch, _) = add(None, issue(1, None), T0, &cfg);
        let (batch, at) = add(Some(batch), issue(1, None), T0 + 1_000, &cfg);
        assert_eq!(
            (batch.count, at),
            (1, None),
            "the same issue twice counts once, no new timer"
        );
        let (batch, at) = add(Some(batch), issue(2, None), T0 + 60_000, &cfg);
        assert_eq!(
            (batch.count, at),
            (2, None),
            "at the flush time the armed timer is still good"
        );
        let (batch, at) = add(Some(batch), issue(3, None), T0 + 90_000, &cfg);
        assert_eq!(
            (batch.count, at),
            (3, Some(T0 + 90_000)),
            "overdue: flush now"
        );
    }

    #[test]
    fn links_append_the_release() {
        let cases = [
            (
                "plain base",
                "https://b.example/issues",
                Some("2.3.1"),
                "https://b.example/issues?release=2.3.1",
            ),
            (
                "base with a query",
                "https://b.example/issues?p=web",
                Some("2.3.1"),
                "https://b.example/issues?p=web&release=2.3.1",
            ),
            (
                "hash route",
                "https://b.example/#/web/issues",
                Some("2.3.1"),
                "https://b.example/#/web/issues?release=2.3.1",
            ),
            (
                "release encoded",
                "https://b.example/i",
                Some("a b&c=d+é"),
                "https://b.example/i?release=a+b%26c%3Dd%2B%C3%A9",
            ),
            (
                "no release",
                "https://b.example/i",
                None,
                "https://b.example/i",
            ),
            ("no base", "", Some("1"), ""),
        ];
        for (why, base, release, want) in cases {
            assert_eq!(issues_link(base, release), want, "{why}");
        }
    }
}
