//! Episodes, not floods. A rule firing again and again about the same thing (one issue in one
//! environment, or one project) is one episode: notified when it opens, then again only when
//! the count grows tenfold or a reminder is due, until it is closed (the issue resolved or
//! ignored, the condition cleared). The next trigger after that opens a new episode.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest episode id: PagerDuty's limit on `dedup_key`.
pub const MAX_EPISODE_ID_CHARS: usize = 255;

/// What an episode is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EpisodeKey {
    /// The rule.
    pub rule_id: String,
    /// The issue, for issue rules.
    pub issue_id: Option<String>,
    /// The environment, for issue rules (an issue failing in staging and in production is two
    /// episodes: fixing one does not resolve the other).
    pub environment: Option<String>,
}

impl EpisodeKey {
    /// A stable id, unique per key: `rule:issue:environment`, with `~` for an absent part and
    /// `%`, `:` and `~` escaped inside parts. Also the PagerDuty `dedup_key`, so it is at most
    /// 255 characters: a longer one is replaced by `rule:#` and the SHA-256 of the long form.
    pub fn id(&self) -> String {
        let part = |p: &Option<String>| match p {
            None => "~".to_string(),
            Some(s) => s
                .replace('%', "%25")
                .replace(':', "%3A")
                .replace('~', "%7E"),
        };
        let id = format!(
            "{}:{}:{}",
            self.rule_id,
            part(&self.issue_id),
            part(&self.environment)
        );
        if id.chars().count() <= MAX_EPISODE_ID_CHARS {
            return id;
        }
        let digest = Sha256::digest(id.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:#{hex}", self.rule_id)
    }
}

/// One episode, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// When it opened (epoch ms).
    pub opened_at_ms: u64,
    /// When it was last notified.
    pub last_notified_ms: u64,
    /// The count when it was last notified (at least 1), the base of the next tenfold step.
    pub notified_at_count: u64,
    /// When it was closed; a closed episode is over and never notifies again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at_ms: Option<u64>,
}

impl Episode {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at_ms.is_none()
    }
}

/// What a trigger does to its episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeDecision {
    /// A new episode: notify.
    Open,
    /// The count reached `factor` times the count of the last notification (10, 100, ...):
    /// notify.
    VolumeStep {
        /// A power of ten, at least 10.
        factor: u64,
    },
    /// The reminder interval passed since the last notification: notify.
    Remind,
    /// Part of an episode already notified: nothing to send.
    Quiet,
}

impl EpisodeDecision {
    /// Whether a notification goes out.
    pub fn notifies(self) -> bool {
        !matches!(self, Self::Quiet)
    }

    /// A line for the message (`AlertContent::extra`) saying why it is sent again; `None` for
    /// a new episode or a quiet one. `count_now` is the count the trigger carried.
    pub fn note(self, count_now: u64) -> Option<String> {
        match self {
            Self::VolumeStep { factor } => Some(format!(
                "Still growing: {} events now, {}× the count at the last alert.",
                super::message::thousands(count_now),
                super::message::thousands(factor)
            )),
            Self::Remind => Some(format!(
                "Reminder: still happening ({} events), not resolved yet.",
                super::message::thousands(count_now)
            )),
            Self::Open | Self::Quiet => None,
        }
    }
}

/// A trigger for the episode `ep` (the stored one, if any). `count_now` is a count that only
/// grows while the episode lasts: the issue's events for issue rules, the measured value for
/// project rules. Returns the decision and the episode to store.
///
/// A missing or closed episode opens a new one. An open one notifies again when the count
/// reaches 10×, 100×, 1000× … the count of its last notification (a step wins over a
/// reminder), or when `reminder_ms` has passed since then; otherwise it stays quiet.
pub fn on_trigger(
    ep: Option<&Episode>,
    count_now: u64,
    now_ms: u64,
    reminder_ms: Option<u64>,
) -> (EpisodeDecision, Episode) {
    let notified = |opened_at_ms| Episode {
        opened_at_ms,
        last_notified_ms: now_ms,
        notified_at_count: count_now.max(1),
        closed_at_ms: None,
    };
    let Some(ep) = ep.filter(|e| e.is_open()) else {
        return (EpisodeDecision::Open, notified(now_ms));
    };
    if let Some(factor) = volume_step(ep.notified_at_count, count_now) {
        return (
            EpisodeDecision::VolumeStep { factor },
            notified(ep.opened_at_ms),
        );
    }
    // A clock that went backwards (`now` before the last notice) is not a reminder.
    let due = reminder_ms.is_some_and(|r| now_ms.saturating_sub(ep.last_notified_ms) >= r.max(1));
    if due {
        return (EpisodeDecision::Remind, notified(ep.opened_at_ms));
    }
    (EpisodeDecision::Quiet, ep.clone())
}

/// The largest power of ten, at least 10, such that `count_now` ≥ `base` × it.
fn volume_step(base: u64, count_now: u64) -> Option<u64> {
    let base = base.max(1);
    let mut factor: u64 = 10;
    let mut reached = None;
    while base
        .checked_mul(factor)
        .is_some_and(|needed| count_now >= needed)
    {
        reached = Some(factor);
        match factor.checked_mul(10) {
            Some(next) => factor = next,
            None => break,
        }
    }
    reached
}

/// Closes an episode when its issue is resolved or ignored (or a project condition clears).
/// Returns the episode to store and whether it was open, in which case a PagerDuty resolve
/// (and a `resolved` webhook) must be sent for its id. Closing a closed episode changes
/// nothing and sends nothing.
pub fn close(ep: &Episode, now_ms: u64) -> (Episode, bool) {
    if !ep.is_open() {
        return (ep.clone(), false);
    }
    let mut closed = ep.clone();
    closed.closed_at_ms = Some(now_ms);
    (closed, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_341_600_000;
    const MIN: u64 = 60_000;

    fn open(count: u64, at: u64) -> Episode {
        Episode {
            opened_at_ms: at,
            last_notified_ms: at,
            notified_at_count: count,
            closed_at_ms: None,
        }
    }

    #[test]
    fn triggers_make_episodes_not_floods() {
        let hour = Some(60 * MIN);
        let closed = Episode {
            closed_at_ms: Some(T0 + MIN),
            ..open(5, T0)
        };
        let cases: Vec<(
            &str,
            Option<Episode>,
            u64,
            u64,
            Option<u64>,
            EpisodeDecision,
        )> = vec![
            (
                "no episode opens one",
                None,
                1,
                T0,
                None,
                EpisodeDecision::Open,
            ),
            (
                "a closed episode re-opens",
                Some(closed),
                6,
                T0 + 2 * MIN,
                None,
                EpisodeDecision::Open,
            ),
            (
                "more events, same episode",
                Some(open(5, T0)),
                49,
                T0 + MIN,
                None,
                EpisodeDecision::Quiet,
            ),
            (
                "10x the last count",
                Some(open(5, T0)),
                50,
                T0 + MIN,
                None,
                EpisodeDecision::VolumeStep { factor: 10 },
            ),
            (
                "100x in one jump",
                Some(open(5, T0)),
                500,
                T0 + MIN,
                None,
                EpisodeDecision::VolumeStep { factor: 100 },
            ),
            (
                "1000x in one jump",
                Some(open(1, T0)),
                1_500,
                T0 + MIN,
                None,
                EpisodeDecision::VolumeStep { factor: 1_000 },
            ),
            (
                "a count of 0 counts as 1",
                Some(open(0, T0)),
                10,
                T0 + MIN,
                None,
                EpisodeDecision::VolumeStep { factor: 10 },
            ),
            (
                "no reminder configured",
                Some(open(5, T0)),
                6,
                T0 + 1_000 * MIN,
                None,
                EpisodeDecision::Quiet,
            ),
            (
                "reminder not due",
                Some(open(5, T0)),
                6,
                T0 + 59 * MIN,
                hour,
                EpisodeDecision::Quiet,
            ),
            (
                "reminder due",
                Some(open(5, T0)),
                6,
                T0 + 60 * MIN,
                hour,
                EpisodeDecision::Remind,
            ),
            (
                "a step wins over a reminder",
                Some(open(5, T0)),
                50,
                T0 + 60 * MIN,
                hour,
                EpisodeDecision::VolumeStep { factor: 10 },
            ),
            (
                "clock went backwards",
                Some(open(5, T0)),
                6,
                T0 - 120 * MIN,
                hour,
                EpisodeDecision::Quiet,
            ),
            (
                "huge counts do not overflow",
                Some(open(u64::MAX / 2, T0)),
                u64::MAX,
                T0,
                None,
                EpisodeDecision::Quiet,
            ),
            (
                "the largest step",
                Some(open(1, T0)),
                u64::MAX,
                T0,
                None,
                EpisodeDecision::VolumeStep {
                    factor: 10_000_000_000_000_000_000,
                },
            ),
        ];
        for (why, ep, count, now, reminder, want) in cases {
            let (decision, next) = on_trigger(ep.as_ref(), count, now, reminder);
            assert_eq!(decision, want, "{why}");
            assert!(next.is_open(), "{why}: the stored episode is open");
            if decision.notifies() {
                assert_eq!(
                    (next.last_notified_ms, next.notified_at_count),
                    (now, count.max(1)),
                    "{why}: notice recorded"
                );
            } else {
                assert_eq!(
                    Some(&next),
                    ep.as_ref(),
                    "{why}: a quiet trigger changes nothing"
                );
            }
            if decision == EpisodeDecision::Open {
                assert_eq!(next.opened_at_ms, now, "{why}: a new episode starts now");
            } else {
                assert_eq!(next.opened_at_ms, T0, "{why}: same episode");
            }
        }
    }

    #[test]
    fn steps_are_relative_to_the_last_notice() {
        let mut ep: Option<Episode> = None;
        let mut sent = Vec::new();
        // An issue growing by one event a second for three hours, with a 1 h reminder.
        for i in 1..=10_800u64 {
            let (decision, next) = on_trigger(ep.as_ref(), i, T0 + i * 1_000, Some(60 * MIN));
            if decision.notifies() {
                sent.push((i, decision));
            }
            ep = Some(next);
        }
        assert_eq!(
            sent,
            [
                (1, EpisodeDecision::Open),
                (10, EpisodeDecision::VolumeStep { factor: 10 }),
                (100, EpisodeDecision::VolumeStep { factor: 10 }),
                (1_000, EpisodeDecision::VolumeStep { factor: 10 }),
                (4_600, EpisodeDecision::Remind),
                (8_200, EpisodeDecision::Remind),
            ],
            "six messages for 10,800 events"
        );
    }

    #[test]
    fn closing_sends_one_resolve() {
        let (closed, resolve) = close(&open(5, T0), T0 + MIN);
        assert!(resolve, "an open episode needs a resolve");
        assert_eq!(closed.closed_at_ms, Some(T0 + MIN));
        let (again, resolve) = close(&closed, T0 + 2 * MIN);
        assert!(!resolve, "closing twice sends nothing");
        assert_eq!(again, closed, "and changes nothing");
        let (decision, reopened) = on_trigger(Some(&closed), 6, T0 + 3 * MIN, None);
        assert_eq!(
            (decision, reopened.opened_at_ms),
            (EpisodeDecision::Open, T0 + 3 * MIN),
            "next trigger opens a new one"
        );
    }

    #[test]
    fn episode_ids_are_unique_and_fit_pagerduty() {
        let key = |rule: &str, issue: Option<&str>, env: Option<&str>| EpisodeKey {
            rule_id: rule.into(),
            issue_id: issue.map(Into::into),
            environment: env.map(Into::into),
        };
        let cases = [
            (
                key("new_issue", Some("iss_1"), Some("production")),
                "new_issue:iss_1:production",
            ),
            (key("silent", None, None), "silent:~:~"),
            (key("r", Some("iss_1"), Some("")), "r:iss_1:"),
            (key("r", Some("a:b"), Some("c")), "r:a%3Ab:c"),
            (key("r", Some("a"), Some("b:c")), "r:a:b%3Ac"),
            (key("r", Some("~"), None), "r:%7E:~"),
        ];
        let mut seen = std::collections::HashSet::new();
        for (k, want) in &cases {
            assert_eq!(k.id(), *want, "{k:?}");
            assert!(seen.insert(k.id()), "{k:?}: unique");
        }
        let long = key("r", Some("i"), Some(&"e".repeat(300)));
        let id = long.id();
        assert!(id.starts_with("r:#") && id.len() == 3 + 64, "{id}");
        assert_ne!(id, key("r", Some("i"), Some(&"e".repeat(301))).id());
        let just_fits = key("r", Some("i"), Some(&"e".repeat(251)));
        assert_eq!(just_fits.id().len(), MAX_EPISODE_ID_CHARS);
    }

    #[test]
    fn notes_say_why_it_is_sent_again() {
        let cases = [
            (EpisodeDecision::Open, None),
            (EpisodeDecision::Quiet, None),
            (
                EpisodeDecision::VolumeStep { factor: 10 },
                Some("Still growing: 1,200 events now, 10× the count at the last alert."),
            ),
            (
                EpisodeDecision::Remind,
                Some("Reminder: still happening (1,200 events), not resolved yet."),
            ),
        ];
        for (decision, want) in cases {
            assert_eq!(decision.note(1_200).as_deref(), want, "{decision:?}");
        }
    }

    #[test]
    fn episodes_round_trip_for_storage() {
        let ep = open(5, T0);
        let json = serde_json::to_value(&ep).unwrap();
        assert_eq!(
            json.get("closed_at_ms"),
            None,
            "open episodes store no close time"
        );
        assert_eq!(serde_json::from_value::<Episode>(json).unwrap(), ep);
    }
}
