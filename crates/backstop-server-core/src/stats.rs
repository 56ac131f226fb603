//! Outcome accounting: every ingest request is counted per project per minute by reason, so
//! dropped data is visible.
//!
//! A counter row is `(project, minute, reason, count)`. Its `reason` is an [`Outcome`] name
//! (`accepted`, …: the only keys without a `:`, which the hourly rollup keeps) or a namespaced
//! key built by [`key`]: `item:<type>`, `client:<reason>:<category>`, `dropped:<code>:<item>`,
//! `filtered:<filter>`, `scrubbed:<rule>`, `pipeline:<queued|jobs|lag_ms>`,
//! `sourcemap:<mapped|unmapped>`, `retention:<table>`. [`DaySummary::from_rows`] reads them back
//! into what `/stats` shows.

use std::collections::BTreeMap;

use serde::Serialize;

/// The reason a request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored.
    Accepted,
    /// Over a size limit.
    TooLarge,
    /// Refused by the rate limiter.
    RateLimited,
    /// Refused because the project's daily quota is spent.
    QuotaExceeded,
    /// Missing, wrong or conflicting key, or unknown project.
    Unauthorized,
    /// Malformed body.
    Invalid,
}

impl Outcome {
    /// All reasons, in display order.
    pub const ALL: [Outcome; 6] = [
        Self::Accepted,
        Self::TooLarge,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::Unauthorized,
        Self::Invalid,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Unauthorized => "unauthorized",
            Self::Invalid => "invalid",
        }
    }
}

/// Start of the minute `now_ms` falls in, in epoch milliseconds.
pub fn minute_bucket(now_ms: u64) -> u64 {
    now_ms - now_ms % 60_000
}

/// The largest integer storage round-trips exactly: D1 hands numbers to JavaScript as `f64`, so
/// anything above 2^53 − 1 (`Number.MAX_SAFE_INTEGER`) comes back rounded, as a float that
/// does not read as an integer. Every stored counter, size and time saturates here.
pub const MAX_STORED_INT: u64 = (1 << 53) - 1;

/// `v` as it may be stored: saturated at [`MAX_STORED_INT`] ("at least this many" is truer
/// than a row that cannot be read back).
pub fn stored_int(v: u64) -> u64 {
    v.min(MAX_STORED_INT)
}

/// A stored number read back leniently: a float is rounded towards zero, negative or NaN is
/// 0, and the result saturates at [`MAX_STORED_INT`], so a row written before the clamp (or by
/// hand) repairs rather than fails the listing it is in.
pub fn stored_int_from_f64(v: f64) -> u64 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    // `as` saturates at u64::MAX; the clamp does the rest.
    stored_int(v as u64)
}

/// `a + b` for stored counters: saturating at [`MAX_STORED_INT`].
pub fn add_stored(a: u64, b: u64) -> u64 {
    stored_int(a.saturating_add(b))
}

/// Project id under which requests for an unknown project are counted (never a valid id).
pub const UNKNOWN_PROJECT: &str = "*";

/// The namespaces of counter keys (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Items received, by type.
    Item,
    /// The SDK's own client reports: `<reason>:<category>`.
    Client,
    /// Items dropped here: `<error code>:<item type>`.
    Dropped,
    /// Events dropped by an inbound filter, by filter.
    Filtered,
    /// Values scrubbed, by rule.
    Scrubbed,
    /// The queue: `queued` (edge), `jobs` and `lag_ms` (consumer).
    Pipeline,
    /// In-app frames the consumer could (`mapped`) or could not (`unmapped`) symbolicate.
    Sourcemap,
    /// Rows retention deleted, by table.
    Retention,
}

impl Namespace {
    const ALL: [Namespace; 8] = [
        Self::Item,
        Self::Client,
        Self::Dropped,
        Self::Filtered,
        Self::Scrubbed,
        Self::Pipeline,
        Self::Sourcemap,
        Self::Retention,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Self::Item => "item",
            Self::Client => "client",
            Self::Dropped => "dropped",
            Self::Filtered => "filtered",
            Self::Scrubbed => "scrubbed",
            Self::Pipeline => "pipeline",
            Self::Sourcemap => "sourcemap",
            Self::Retention => "retention",
        }
    }

    /// The namespace and the rest of a stored key, or `None` for an [`Outcome`] (or unknown)
    /// key.
    pub fn split(reason: &str) -> Option<(Self, &str)> {
        let (prefix, rest) = reason.split_once(':')?;
        Self::ALL
            .into_iter()
            .find(|n| n.prefix() == prefix)
            .map(|n| (n, rest))
    }
}

/// A counter key in `namespace`.
pub fn key(namespace: Namespace, name: &str) -> String {
    format!("{}:{name}", namespace.prefix())
}

/// Jobs the edge handed to the queue.
pub const PIPELINE_QUEUED: &str = "pipeline:queued";
/// Jobs the consumer stored.
pub const PIPELINE_JOBS: &str = "pipeline:jobs";
/// Sum of accept → stored milliseconds over the jobs stored.
pub const PIPELINE_LAG_MS: &str = "pipeline:lag_ms";
/// In-app frames mapped to their original source.
pub const SOURCEMAP_MAPPED: &str = "sourcemap:mapped";
/// In-app frames left unmapped.
pub const SOURCEMAP_UNMAPPED: &str = "sourcemap:unmapped";
/// Retention runs that left work for the next run.
pub const RETENTION_RUNS_WITH_MORE: &str = "retention:runs_with_more";

/// One stored counter row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow {
    /// Start of its minute (epoch ms).
    pub minute: u64,
    /// Its key.
    pub reason: String,
    /// Its count.
    pub count: u64,
}

/// Least time between two writes of one isolate's [`Tally`]. Figures read from the counters may
/// trail by this much; a write per round trip instead kept a busy isolate's storage writing all
/// the time (about a fifth of ingest's cost under load in `cargo xtask bench ingest`).
pub const TALLY_WRITE_INTERVAL_MS: u64 = 1_000;

/// Counts waiting to be written, coalesced by (scope, minute, reason), for a writer that runs
/// one at a time: the first [`Tally::add`] since the tally was idle tells its caller to start
/// writing, later ones only add to what the running writer takes next ([`Tally::take`]). Under
/// load many requests' counts become one storage write per turn; an idle tally writes at once.
/// What is added while a write is in flight is taken by the writer's next turn, which comes
/// [`TALLY_WRITE_INTERVAL_MS`] after the last (so a busy isolate writes about once a second,
/// not back to back).
#[derive(Debug, Default)]
pub struct Tally {
    pending: BTreeMap<(String, u64, &'static str), u64>,
    writing: bool,
}

impl Tally {
    /// Adds `n` to a counter at `now_ms`; `true` when the caller must run the writer (none is).
    pub fn add(&mut self, scope: &str, reason: &'static str, now_ms: u64, n: u64) -> bool {
        let count = self
            .pending
            .entry((scope.to_string(), minute_bucket(now_ms), reason))
            .or_default();
        *count = count.saturating_add(n).min(MAX_STORED_INT);
        !std::mem::replace(&mut self.writing, true)
    }

    /// The writer's next turn: everything pending as `(scope, row)`, cleared. Empty means the
    /// writer is done (and the next [`Tally::add`] starts one again).
    pub fn take(&mut self) -> Vec<(String, CounterRow)> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            self.writing = false;
        }
        pending
            .into_iter()
            .map(|((scope, minute, reason), count)| {
                (
                    scope,
                    CounterRow {
                        minute,
                        reason: reason.to_string(),
                        count,
                    },
                )
            })
            .collect()
    }
}

/// A client report's discards: `reason` × `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discarded {
    /// Why the SDK dropped them.
    pub reason: String,
    /// What it dropped.
    pub category: String,
    /// How many.
    pub quantity: u64,
}

/// Items this server dropped: error code × item type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedItems {
    /// The error code.
    pub reason: String,
    /// The item type.
    pub item: String,
    /// How many.
    pub quantity: u64,
}

/// The queue's figures: jobs queued at the edge and stored by the consumer, the backlog
/// between them (an estimate: the edge's count is taken after its answer and may be missing
/// when D1 was down), and the consumer's mean lag from accept to stored over the last 5
/// minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineFigures {
    /// Jobs queued.
    pub queued: u64,
    /// Jobs stored.
    pub stored: u64,
    /// `queued − stored`, at least 0.
    pub backlog: u64,
    /// Mean accept → stored over the last 5 minutes, when any job was stored then.
    pub lag_ms_mean_5m: Option<u64>,
}

/// Symbolication's share of in-app frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Symbolication {
    /// In-app frames seen.
    pub in_app_frames: u64,
    /// Of which mapped.
    pub mapped: u64,
    /// `mapped / in_app_frames`, when there were any.
    pub mapped_share: Option<f64>,
}

/// What a project's counter rows of a period add up to (the `/stats` figures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaySummary {
    /// Requests by [`Outcome`], every outcome present.
    pub totals: BTreeMap<&'static str, u64>,
    /// Items received by type.
    pub items: BTreeMap<String, u64>,
    /// The SDKs' own discards.
    pub client_discarded: Vec<Discarded>,
    /// Items dropped here.
    pub dropped_items: Vec<DroppedItems>,
    /// Events filtered, by filter.
    pub filtered: BTreeMap<String, u64>,
    /// Values scrubbed, by rule.
    pub scrubbed: BTreeMap<String, u64>,
    /// The queue.
    pub pipeline: PipelineFigures,
    /// Rows deleted by retention, by table (and `runs_with_more`).
    pub retention: BTreeMap<String, u64>,
    /// Source maps' share.
    pub symbolication: Symbolication,
}

/// How far back [`PipelineFigures::lag_ms_mean_5m`] looks.
const RECENT_MS: u64 = 5 * 60 * 1000;

impl DaySummary {
    /// Adds up `rows` (any order; counts saturate at [`MAX_STORED_INT`]); the pipeline's lag
    /// uses the rows of the 5 minutes before `now_ms`'s minute. Unknown keys are ignored.
    pub fn from_rows(rows: &[CounterRow], now_ms: u64) -> Self {
        fn add<K: Ord>(m: &mut BTreeMap<K, u64>, k: K, n: u64) {
            let e = m.entry(k).or_default();
            *e = add_stored(*e, n);
        }
        let pair = |rest: &str| {
            let (a, b) = rest.split_once(':').unwrap_or((rest, ""));
            (a.to_string(), b.to_string())
        };
        let recent_since = minute_bucket(now_ms).saturating_sub(RECENT_MS);
        let mut totals: BTreeMap<&'static str, u64> =
            Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect();
        let mut items = BTreeMap::new();
        let mut discarded = BTreeMap::new();
        let mut dropped = BTreeMap::new();
        let mut filtered = BTreeMap::new();
        let mut scrubbed = BTreeMap::new();
        let mut pipeline: BTreeMap<String, u64> = BTreeMap::new();
        let mut recent: BTreeMap<String, u64> = BTreeMap::new();
        let mut sourcemap: BTreeMap<String, u64> = BTreeMap::new();
        let mut retention = BTreeMap::new();
        for r in rows {
            let Some((namespace, rest)) = Namespace::split(&r.reason) else {
                if let Some(o) = Outcome::ALL.iter().find(|o| o.as_str() == r.reason) {
                    add(&mut totals, o.as_str(), r.count);
                }
                continue;
            };
            match namespace {
                Namespace::Item => add(&mut items, rest.to_string(), r.count),
                Namespace::Client => add(&mut discarded, pair(rest), r.count),
                Namespace::Dropped => add(&mut dropped, pair(rest), r.count),
                Namespace::Filtered => add(&mut filtered, rest.to_string(), r.count),
                Namespace::Scrubbed => add(&mut scrubbed, rest.to_string(), r.count),
                Namespace::Pipeline => {
                    add(&mut pipeline, rest.to_string(), r.count);
                    if r.minute >= recent_since {
                        add(&mut recent, rest.to_string(), r.count);
                    }
                }
                Namespace::Sourcemap => add(&mut sourcemap, rest.to_string(), r.count),
                Namespace::Retention => add(&mut retention, rest.to_string(), r.count),
            }
        }
        let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        let (queued, stored) = (get(&pipeline, "queued"), get(&pipeline, "jobs"));
        let recent_jobs = get(&recent, "jobs");
        let (mapped, unmapped) = (get(&sourcemap, "mapped"), get(&sourcemap, "unmapped"));
        let in_app = add_stored(mapped, unmapped);
        Self {
            totals,
            items,
            client_discarded: discarded
                .into_iter()
                .map(|((reason, category), quantity)| Discarded {
                    reason,
                    category,
                    quantity,
                })
                .collect(),
            dropped_items: dropped
                .into_iter()
                .map(|((reason, item), quantity)| DroppedItems {
                    reason,
                    item,
                    quantity,
                })
                .collect(),
            filtered,
            scrubbed,
            pipeline: PipelineFigures {
                queued,
                stored,
                backlog: queued.saturating_sub(stored),
                lag_ms_mean_5m: (recent_jobs > 0).then(|| get(&recent, "lag_ms") / recent_jobs),
            },
            retention,
            symbolication: Symbolication {
                in_app_frames: in_app,
                mapped,
                mapped_share: (in_app > 0).then(|| mapped as f64 / in_app as f64),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute: u64, reason: &str, count: u64) -> CounterRow {
        CounterRow {
            minute,
            reason: reason.into(),
            count,
        }
    }

    #[test]
    fn keys_round_trip_through_their_namespace() {
        for n in Namespace::ALL {
            let k = key(n, "a:b");
            assert_eq!(Namespace::split(&k), Some((n, "a:b")), "{k}");
        }
        for constant in [
            PIPELINE_QUEUED,
            PIPELINE_JOBS,
            PIPELINE_LAG_MS,
            SOURCEMAP_MAPPED,
            SOURCEMAP_UNMAPPED,
            RETENTION_RUNS_WITH_MORE,
        ] {
            assert!(Namespace::split(constant).is_some(), "{constant}");
        }
        for o in Outcome::ALL {
            assert_eq!(
                Namespace::split(o.as_str()),
                None,
                "outcomes have no namespace"
            );
        }
        assert_eq!(Namespace::split("nope:x"), None);
    }

    #[test]
    fn a_day_of_rows_adds_up() {
        let now = 10 * 60_000 + 5;
        let rows = [
            row(0, "accepted", 3),
            row(60_000, "accepted", 2),
            row(0, "rate_limited", 1),
            row(0, "item:event", 4),
            row(60_000, "item:event", 1),
            row(0, "client:queue_overflow:error", 2),
            row(0, "dropped:invalid_json:event", 1),
            row(0, "filtered:localhost", 6),
            row(0, "scrubbed:password", 2),
            row(0, PIPELINE_QUEUED, 10),
            // Stored long ago: counts for the day, not for the recent lag.
            row(0, PIPELINE_JOBS, 4),
            row(0, PIPELINE_LAG_MS, 40_000),
            row(9 * 60_000, PIPELINE_JOBS, 3),
            row(9 * 60_000, PIPELINE_LAG_MS, 300),
            row(0, SOURCEMAP_MAPPED, 3),
            row(0, SOURCEMAP_UNMAPPED, 1),
            row(0, "retention:events", 7),
            row(0, "mystery:key", 99),
            row(0, "mystery", 99),
        ];
        let s = DaySummary::from_rows(&rows, now);
        assert_eq!(s.totals["accepted"], 5);
        assert_eq!(s.totals["rate_limited"], 1);
        assert_eq!(s.totals["invalid"], 0, "every outcome is present");
        assert_eq!(s.totals.len(), Outcome::ALL.len());
        assert_eq!(s.items["event"], 5);
        assert_eq!(
            s.client_discarded,
            [Discarded {
                reason: "queue_overflow".into(),
                category: "error".into(),
                quantity: 2
            }]
        );
        assert_eq!(s.dropped_items[0].item, "event");
        assert_eq!((s.filtered["localhost"], s.scrubbed["password"]), (6, 2));
        assert_eq!(
            s.pipeline,
            PipelineFigures {
                queued: 10,
                stored: 7,
                backlog: 3,
                lag_ms_mean_5m: Some(100)
            }
        );
        assert_eq!(s.retention["events"], 7);
        assert_eq!(s.symbolication.mapped_share, Some(0.75));
    }

    #[test]
    fn an_empty_day_has_no_lag_and_no_share() {
        let s = DaySummary::from_rows(
            &[
                row(0, PIPELINE_JOBS, MAX_STORED_INT),
                row(0, PIPELINE_JOBS, 5),
            ],
            0,
        );
        assert_eq!(s.pipeline.stored, MAX_STORED_INT, "saturates");
        assert_eq!(s.pipeline.backlog, 0);
        let s = DaySummary::from_rows(&[], 0);
        assert_eq!(
            (s.pipeline.lag_ms_mean_5m, s.symbolication.mapped_share),
            (None, None)
        );
    }

    #[test]
    fn a_tally_coalesces_counts_for_one_writer_at_a_time() {
        let mut t = Tally::default();
        assert!(
            t.add("1", PIPELINE_QUEUED, 60_001, 1),
            "idle: the caller writes"
        );
        assert!(!t.add("1", PIPELINE_QUEUED, 60_500, 1), "a writer runs");
        assert!(!t.add("2", PIPELINE_QUEUED, 61_000, 1));
        assert!(!t.add("1", PIPELINE_QUEUED, 120_000, 1), "next minute");
        let rows = t.take();
        let got: Vec<(&str, u64, u64)> = rows
            .iter()
            .map(|(scope, r)| (scope.as_str(), r.minute, r.count))
            .collect();
        assert_eq!(got, [("1", 60_000, 2), ("1", 120_000, 1), ("2", 60_000, 1)]);
        assert!(rows.iter().all(|(_, r)| r.reason == PIPELINE_QUEUED));
        // Added while that write was in flight: the writer's next turn takes it.
        assert!(!t.add("1", PIPELINE_QUEUED, 120_001, u64::MAX));
        let rows = t.take();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].1.count, MAX_STORED_INT,
            "saturates at what storage keeps"
        );
        assert!(t.take().is_empty(), "done");
        assert!(
            t.add("1", PIPELINE_QUEUED, 180_000, 1),
            "idle again: a new writer"
        );
    }

    #[test]
    fn minute_bucket_floors_to_the_minute() {
        for (now, want) in [
            (0, 0),
            (59_999, 0),
            (60_000, 60_000),
            (1_700_000_123_456, 1_700_000_100_000),
        ] {
            assert_eq!(minute_bucket(now), want, "now={now}");
        }
    }

    #[test]
    fn stored_numbers_stay_below_2_pow_53() {
        let max = MAX_STORED_INT;
        for (v, want) in [
            (0, 0),
            (42, 42),
            (max, max),
            (max + 1, max),
            (u64::MAX, max),
        ] {
            assert_eq!(stored_int(v), want, "{v}");
        }
        let floats = [
            (0.0, 0),
            (-5.0, 0),
            (f64::NAN, 0),
            (12.9, 12),
            (9.2e15, max),
            (1e300, max),
            (f64::INFINITY, max),
            (1_795_341_600_000.0, 1_795_341_600_000),
        ];
        for (v, want) in floats {
            assert_eq!(stored_int_from_f64(v), want, "{v}");
        }
        assert_eq!(add_stored(max - 1, 5), max);
        assert_eq!(add_stored(u64::MAX, u64::MAX), max);
        assert_eq!(add_stored(2, 3), 5);
        assert_eq!(
            max as f64 as u64, max,
            "the cap itself round-trips through f64"
        );
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), Outcome::ALL.len());
    }
}
