//! Retention: what the cron deletes, and how much of it per run.
//!
//! Per project (`"retention"` in its `BACKSTOP_PROJECTS` entry, [`RetentionConfig`]):
//! - events (index rows, their R2 payloads) and attachments (rows and R2 objects) are kept
//!   `events_days` (30) after they were received;
//! - counts (issues' hourly counts, the watchdog's hourly signals, release-health minutes and
//!   the hourly outcome rollups) are kept `counts_days` (90).
//!
//! For everything (not per project): outcome counters are kept per minute for
//! [`MINUTES_KEPT_MS`] (24 h) and then rolled up into hours; webhook deliveries that were
//! delivered are deleted [`WEBHOOK_DAYS`] after their delivery, refused ones as long after they
//! arrived. A delivery that is held, waiting for a retry or exhausted is never deleted: it waits
//! for a person. Alert requests that were delivered or given up (with their attempt logs) are
//! deleted [`ALERT_DAYS`] after they were created; a pending one never is. Rows of projects no
//! longer configured expire with the default retention.
//!
//! The cron works in bounded batches ([`RunLimits`]): at most `batch_rows` rows per statement,
//! `batches_per_task` statements per task and `batches_per_run` per run. What is left is taken
//! up by the next run; the order of tasks rotates from run to run so no task waits forever when
//! the budget is short. [`Run`] is the state machine the worker drives: it hands out the next
//! [`Task`], is told how many rows the batch deleted, and decides what comes next.

use serde::Deserialize;

/// Milliseconds in a day.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// Milliseconds in an hour.
pub const HOUR_MS: u64 = 60 * 60 * 1000;
/// Per-minute outcome counters are kept this long, then rolled up into hours.
pub const MINUTES_KEPT_MS: u64 = DAY_MS;
/// Delivered (and refused) webhook deliveries are deleted this many days after delivery.
pub const WEBHOOK_DAYS: u64 = 30;
/// Delivered and given-up alert requests (the outbox and its attempts) are deleted this many
/// days after they were created.
pub const ALERT_DAYS: u64 = 30;
/// Default days events and attachments are kept.
pub const DEFAULT_EVENTS_DAYS: u32 = 30;
/// Default days counts are kept.
pub const DEFAULT_COUNTS_DAYS: u32 = 90;
/// Longest retention a project may configure (ten years).
pub const MAX_DAYS: u32 = 3650;
/// Shortest retention of counts: the silence watchdog compares with the same hour of the last
/// four weeks.
pub const MIN_COUNTS_DAYS: u32 = 28;
/// Most rows one statement may delete (D1 statements are kept small; keys are passed as one
/// `json_each` parameter, never as bound lists).
pub const MAX_BATCH_ROWS: u32 = 500;
/// Most statements one run may use (a cron invocation has a budget of subrequests).
pub const MAX_BATCHES_PER_RUN: u32 = 300;
/// How often the cron runs; the task order rotates by one per period.
pub const CRON_PERIOD_MS: u64 = 10 * 60 * 1000;

/// A project's retention (`"retention": {"events_days": 30, "counts_days": 90}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days events and their attachments are kept after they were received.
    pub events_days: u32,
    /// Days counts are kept: issues' hourly counts, watchdog signals, release health, hourly
    /// outcome rollups.
    pub counts_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            events_days: DEFAULT_EVENTS_DAYS,
            counts_days: DEFAULT_COUNTS_DAYS,
        }
    }
}

impl RetentionConfig {
    /// Checks the values: `Err` names the field and its limits.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_DAYS).contains(&self.events_days) {
            return Err(format!(
                "retention.events_days must be 1 to {MAX_DAYS}, not {}",
                self.events_days
            ));
        }
        if !(MIN_COUNTS_DAYS..=MAX_DAYS).contains(&self.counts_days) {
            return Err(format!(
                "retention.counts_days must be {MIN_COUNTS_DAYS} to {MAX_DAYS} (the watchdog reads four weeks), not {}",
                self.counts_days
            ));
        }
        Ok(())
    }
}

/// How much one cron run may do (`BACKSTOP_RETENTION`, optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunLimits {
    /// Most rows deleted (or rolled up) by one statement, 1 to [`MAX_BATCH_ROWS`].
    pub batch_rows: u32,
    /// Most statements for one task (one table of one project) per run.
    pub batches_per_task: u32,
    /// Most statements per run, at most [`MAX_BATCHES_PER_RUN`].
    pub batches_per_run: u32,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            batch_rows: MAX_BATCH_ROWS,
            batches_per_task: 10,
            batches_per_run: 100,
        }
    }
}

impl RunLimits {
    /// Checks the values: `Err` names the field and its limits.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_BATCH_ROWS).contains(&self.batch_rows) {
            return Err(format!("batch_rows must be 1 to {MAX_BATCH_ROWS}"));
        }
        if !(1..=MAX_BATCHES_PER_RUN).contains(&self.batches_per_run) {
            return Err(format!(
                "batches_per_run must be 1 to {MAX_BATCHES_PER_RUN}"
            ));
        }
        if self.batches_per_task == 0 || self.batches_per_task > self.batches_per_run {
            return Err("batches_per_task must be 1 to batches_per_run".into());
        }
        Ok(())
    }
}

/// Whose rows a task deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One configured project.
    Project(String),
    /// Every project not configured (removed projects, the unknown-project counters `*`,
    /// the webhook guard's `webhook:<route>` counters): these ids are the configured ones.
    Unconfigured(Vec<String>),
    /// All rows of the table (tables without a project).
    All,
}

impl Scope {
    /// The project id the task's deletions are counted under in `stats`.
    pub fn stats_project(&self) -> &str {
        match self {
            Self::Project(p) => p,
            Self::Unconfigured(_) | Self::All => crate::stats::UNKNOWN_PROJECT,
        }
    }
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskKind {
    /// Roll per-minute outcome counters older than 24 h into hours (and delete the minutes).
    RollupMinutes,
    /// Events received before the cutoff (epoch ms), with their R2 payloads.
    Events,
    /// Attachments received before the cutoff (epoch ms), with their R2 objects.
    Attachments,
    /// Issues' hourly counts of hours before the cutoff (epoch hour).
    IssueHourly,
    /// Watchdog signals of hours before the cutoff (epoch hour).
    SignalHourly,
    /// Release-health minutes before the cutoff (epoch ms of a minute).
    Sessions,
    /// Hourly outcome rollups of hours before the cutoff (epoch ms of an hour).
    StatsHourly,
    /// Webhook deliveries delivered (or refused) before the cutoff (epoch ms).
    Webhooks,
    /// Alert requests delivered or given up, created before the cutoff (epoch ms).
    Alerts,
}

impl TaskKind {
    /// The name deletions are counted under (`retention:<name>` in `stats`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RollupMinutes => "stats_minutes",
            Self::Events => "events",
            Self::Attachments => "attachments",
            Self::IssueHourly => "issue_hourly",
            Self::SignalHourly => "signal_hourly",
            Self::Sessions => "sessions",
            Self::StatsHourly => "stats_hourly",
            Self::Webhooks => "webhooks",
            Self::Alerts => "alerts",
        }
    }
}

/// One unit of retention work: a table, whose rows, and the cutoff in the table's own unit
/// (rows strictly before it go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The table and what happens to its rows.
    pub kind: TaskKind,
    /// Whose rows.
    pub scope: Scope,
    /// Rows before this go (unit: see [`TaskKind`]).
    pub before: u64,
}

/// Start of the minute `ms` falls in.
fn minute_floor(ms: u64) -> u64 {
    ms - ms % 60_000
}

/// The cutoffs of one project's (or the unconfigured projects') tasks at `now_ms`. A row is
/// deleted only once all of it is older than the retention: an hour goes when its last
/// millisecond is.
fn project_tasks(scope: &Scope, cfg: &RetentionConfig, now_ms: u64) -> Vec<Task> {
    let events_cutoff = now_ms.saturating_sub(u64::from(cfg.events_days) * DAY_MS);
    let counts_cutoff = now_ms.saturating_sub(u64::from(cfg.counts_days) * DAY_MS);
    let task = |kind, before| Task {
        kind,
        scope: scope.clone(),
        before,
    };
    vec![
        task(TaskKind::Events, events_cutoff),
        task(TaskKind::Attachments, events_cutoff),
        task(TaskKind::IssueHourly, counts_cutoff / HOUR_MS),
        task(TaskKind::SignalHourly, counts_cutoff / HOUR_MS),
        task(TaskKind::Sessions, minute_floor(counts_cutoff)),
        task(
            TaskKind::StatsHourly,
            counts_cutoff - counts_cutoff % HOUR_MS,
        ),
    ]
}

/// Everything retention has to look at `now_ms`, in a fixed order: the minute rollup, each
/// configured project (by id), the unconfigured projects, the webhook deliveries.
pub fn plan(now_ms: u64, projects: &[(&str, RetentionConfig)]) -> Vec<Task> {
    let mut tasks = vec![Task {
        kind: TaskKind::RollupMinutes,
        scope: Scope::All,
        // The same bound as the stats API's 24 h: what it no longer shows per minute.
        before: minute_floor(now_ms).saturating_sub(MINUTES_KEPT_MS),
    }];
    let mut ids: Vec<&str> = projects.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in &ids {
        if let Some((_, cfg)) = projects.iter().find(|(p, _)| p == id) {
            tasks.extend(project_tasks(
                &Scope::Project((*id).to_string()),
                cfg,
                now_ms,
            ));
        }
    }
    let unconfigured = Scope::Unconfigured(ids.iter().map(|s| (*s).to_string()).collect());
    tasks.extend(project_tasks(
        &unconfigured,
        &RetentionConfig::default(),
        now_ms,
    ));
    tasks.push(Task {
        kind: TaskKind::Webhooks,
        scope: Scope::All,
        before: now_ms.saturating_sub(WEBHOOK_DAYS * DAY_MS),
    });
    tasks.push(Task {
        kind: TaskKind::Alerts,
        scope: Scope::All,
        before: now_ms.saturating_sub(ALERT_DAYS * DAY_MS),
    });
    tasks
}

/// What to do after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The same task again: its batch was full, so more rows may be waiting.
    Again,
    /// The next task: this one is done (a short batch), or had its share of this run.
    Next,
    /// Stop: the run's budget is spent.
    Stop,
}

/// The rule after one batch of a task: `deleted` rows (of at most `limits.batch_rows`), this
/// task's `task_batches` so far in this run and the run's `run_batches` (both counting this
/// batch).
pub fn next_step(deleted: u64, task_batches: u32, run_batches: u32, limits: &RunLimits) -> Step {
    if run_batches >= limits.batches_per_run {
        Step::Stop
    } else if deleted < u64::from(limits.batch_rows) || task_batches >= limits.batches_per_task {
        Step::Next
    } else {
        Step::Again
    }
}

/// One task's result in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    /// The task.
    pub task: Task,
    /// Rows deleted (rolled up, for the minute rollup).
    pub deleted: u64,
    /// Statements used.
    pub batches: u32,
    /// Whether rows may be left for the next run (its last batch was full).
    pub more: bool,
    /// Whether a batch failed (the task is left for the next run).
    pub failed: bool,
}

/// One cron run: hands out tasks, takes each batch's result, and stops within its budget.
#[derive(Debug, Clone)]
pub struct Run {
    tasks: Vec<Task>,
    order: Vec<usize>,
    at: usize,
    limits: RunLimits,
    run_batches: u32,
    reports: Vec<TaskReport>,
    stopped: bool,
}

impl Run {
    /// A run at `now_ms` over `tasks` (from [`plan`]). The order rotates by one task every
    /// [`CRON_PERIOD_MS`], so when the budget is too short for every task, each still comes
    /// first in turn.
    pub fn new(tasks: Vec<Task>, limits: RunLimits, now_ms: u64) -> Self {
        let len = tasks.len();
        let start = if len == 0 {
            0
        } else {
            usize::try_from((now_ms / CRON_PERIOD_MS) % len as u64).unwrap_or(0)
        };
        let order = (0..len).map(|i| (start + i) % len).collect();
        Self {
            tasks,
            order,
            at: 0,
            limits,
            run_batches: 0,
            reports: Vec::new(),
            stopped: false,
        }
    }

    /// The task the next batch is for, or `None` when the run is over.
    pub fn current(&self) -> Option<&Task> {
        if self.stopped {
            return None;
        }
        self.order.get(self.at).and_then(|&i| self.tasks.get(i))
    }

    /// Rows per batch.
    pub fn batch_rows(&self) -> u32 {
        self.limits.batch_rows
    }

    fn report_mut(&mut self) -> Option<&mut TaskReport> {
        let task = self.current()?.clone();
        if self.reports.last().is_none_or(|r| r.task != task) {
            self.reports.push(TaskReport {
                task,
                deleted: 0,
                batches: 0,
                more: false,
                failed: false,
            });
        }
        self.reports.last_mut()
    }

    /// The current task's batch deleted `deleted` rows.
    pub fn record(&mut self, deleted: u64) -> Step {
        let rows = u64::from(self.limits.batch_rows);
        let Some(report) = self.report_mut() else {
            return Step::Stop;
        };
        report.deleted = report.deleted.saturating_add(deleted);
        report.batches += 1;
        report.more = deleted >= rows;
        let task_batches = report.batches;
        self.run_batches += 1;
        let step = next_step(deleted, task_batches, self.run_batches, &self.limits);
        self.apply(step);
        step
    }

    /// The current task's batch failed: it is left for the next run (its rows are untouched or
    /// will be found again), and the run goes on with the next task.
    pub fn fail(&mut self) -> Step {
        let Some(report) = self.report_mut() else {
            return Step::Stop;
        };
        report.batches += 1;
        report.failed = true;
        self.run_batches += 1;
        let step = if self.run_batches >= self.limits.batches_per_run {
            Step::Stop
        } else {
            Step::Next
        };
        self.apply(step);
        step
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Again => {}
            Step::Next => self.at += 1,
            Step::Stop => self.stopped = true,
        }
    }

    /// What each task did so far, in the order run.
    pub fn reports(&self) -> &[TaskReport] {
        &self.reports
    }

    /// Whether work may be left for the next run: a task stopped on a full batch, a task
    /// failed, or the budget ran out before every task had its turn.
    pub fn has_more(&self) -> bool {
        self.reports.iter().any(|r| r.more || r.failed) || self.at < self.order.len()
    }

    /// Statements used.
    pub fn batches(&self) -> u32 {
        self.run_batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn cutoffs_follow_each_projects_retention() {
        let short = RetentionConfig {
            events_days: 7,
            counts_days: 30,
        };
        let tasks = plan(NOW, &[("b", short), ("a", RetentionConfig::default())]);
        let find = |kind, scope: &Scope| {
            tasks
                .iter()
                .find(|t| t.kind == kind && &t.scope == scope)
                .map(|t| t.before)
        };
        let a = Scope::Project("a".into());
        let b = Scope::Project("b".into());
        let rest = Scope::Unconfigured(vec!["a".into(), "b".into()]);
        let cases = [
            (
                TaskKind::Events,
                &a,
                Some(NOW - 30 * DAY_MS),
                "default 30 days",
            ),
            (
                TaskKind::Events,
                &b,
                Some(NOW - 7 * DAY_MS),
                "configured 7 days",
            ),
            (
                TaskKind::Attachments,
                &b,
                Some(NOW - 7 * DAY_MS),
                "as events",
            ),
            (
                TaskKind::IssueHourly,
                &a,
                Some((NOW - 90 * DAY_MS) / HOUR_MS),
                "epoch hours, 90 days",
            ),
            (
                TaskKind::SignalHourly,
                &b,
                Some((NOW - 30 * DAY_MS) / HOUR_MS),
                "configured counts",
            ),
            (
                TaskKind::Sessions,
                &a,
                Some(minute_floor(NOW - 90 * DAY_MS)),
                "minutes",
            ),
            (
                TaskKind::StatsHourly,
                &rest,
                Some((NOW - 90 * DAY_MS) / HOUR_MS * HOUR_MS),
                "unconfigured projects get the defaults",
            ),
            (
                TaskKind::RollupMinutes,
                &Scope::All,
                Some(minute_floor(NOW) - DAY_MS),
                "minutes older than the stats API's 24 h",
            ),
            (
                TaskKind::Webhooks,
                &Scope::All,
                Some(NOW - 30 * DAY_MS),
                "30 days after delivery",
            ),
            (
                TaskKind::Alerts,
                &Scope::All,
                Some(NOW - 30 * DAY_MS),
                "30 days after the alert",
            ),
        ];
        for (kind, scope, want, why) in cases {
            assert_eq!(find(kind, scope), want, "{why}");
        }
        assert_eq!(tasks.len(), 1 + 6 * 3 + 2);
        assert_eq!(tasks[0].kind, TaskKind::RollupMinutes, "the rollup first");
        assert_eq!(tasks[1].scope, a, "projects by id");
    }

    #[test]
    fn an_hour_goes_only_when_all_of_it_is_past_the_cutoff() {
        let cfg = RetentionConfig::default();
        // The cutoff falls in the middle of an hour: that hour stays.
        let now = 90 * DAY_MS + 1000 * HOUR_MS + HOUR_MS / 2;
        let tasks = plan(now, &[("p", cfg)]);
        let hourly = tasks
            .iter()
            .find(|t| t.kind == TaskKind::IssueHourly)
            .unwrap();
        assert_eq!(hourly.before, 1000, "hour 1000 is half inside the window");
        let stats = tasks
            .iter()
            .find(|t| t.kind == TaskKind::StatsHourly)
            .unwrap();
        assert_eq!(stats.before, 1000 * HOUR_MS);
    }

    #[test]
    fn retention_values_are_validated_with_field_and_limit() {
        let cases = [
            (RetentionConfig::default(), None),
            (
                RetentionConfig {
                    events_days: 0,
                    ..Default::default()
                },
                Some("events_days must be 1 to 3650"),
            ),
            (
                RetentionConfig {
                    events_days: 3651,
                    ..Default::default()
                },
                Some("events_days must be 1 to 3650"),
            ),
            (
                RetentionConfig {
                    counts_days: 27,
                    ..Default::default()
                },
                Some("counts_days must be 28 to 3650"),
            ),
        ];
        for (cfg, want) in cases {
            match (cfg.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{e}"),
                (got, want) => panic!("{cfg:?}: {got:?}, want {want:?}"),
            }
        }
        let parsed: RetentionConfig = serde_json::from_str(r#"{"events_days": 7}"#).unwrap();
        assert_eq!(parsed.counts_days, DEFAULT_COUNTS_DAYS);
        assert!(serde_json::from_str::<RetentionConfig>(r#"{"event_days": 7}"#).is_err());
        for (limits, ok) in [
            (RunLimits::default(), true),
            (
                RunLimits {
                    batch_rows: 501,
                    ..Default::default()
                },
                false,
            ),
            (
                RunLimits {
                    batches_per_task: 101,
                    ..Default::default()
                },
                false,
            ),
            (
                RunLimits {
                    batches_per_run: 0,
                    batches_per_task: 0,
                    ..Default::default()
                },
                false,
            ),
        ] {
            assert_eq!(limits.validate().is_ok(), ok, "{limits:?}");
        }
    }

    #[test]
    fn next_step_after_a_batch() {
        let limits = RunLimits {
            batch_rows: 10,
            batches_per_task: 3,
            batches_per_run: 5,
        };
        let cases = [
            (10, 1, 1, Step::Again, "a full batch: more may wait"),
            (9, 1, 1, Step::Next, "a short batch: the task is done"),
            (0, 1, 1, Step::Next, "nothing to delete"),
            (10, 3, 3, Step::Next, "the task had its share"),
            (10, 1, 5, Step::Stop, "the run's budget is spent"),
            (0, 1, 5, Step::Stop, "spent even on a short batch"),
        ];
        for (deleted, task, run, want, why) in cases {
            assert_eq!(next_step(deleted, task, run, &limits), want, "{why}");
        }
    }

    /// Drives a run against a table of rows left per task, as the worker does.
    fn drive(run: &mut Run, left: &mut [u64]) {
        while let Some(task) = run.current() {
            let i = run.tasks.iter().position(|t| t == task).unwrap();
            let n = left[i].min(u64::from(run.batch_rows()));
            left[i] -= n;
            run.record(n);
        }
    }

    #[test]
    fn a_backlog_larger_than_a_run_finishes_over_several_runs() {
        let limits = RunLimits {
            batch_rows: 5,
            batches_per_task: 2,
            batches_per_run: 100,
        };
        let tasks = plan(NOW, &[("1", RetentionConfig::default())]);
        let events = tasks
            .iter()
            .position(|t| t.kind == TaskKind::Events)
            .unwrap();
        let mut left = vec![0; tasks.len()];
        left[events] = 23;
        let mut seen = Vec::new();
        for run_no in 0..5u64 {
            let mut run = Run::new(tasks.clone(), limits, NOW + run_no * CRON_PERIOD_MS);
            drive(&mut run, &mut left);
            seen.push((left[events], run.has_more()));
        }
        assert_eq!(
            seen,
            vec![(13, true), (3, true), (0, false), (0, false), (0, false)],
            "10 rows per run (2 batches of 5), the last run sees a short batch"
        );
    }

    #[test]
    fn a_failed_batch_moves_on_and_is_left_for_the_next_run() {
        let tasks = plan(NOW, &[]);
        let n = tasks.len();
        let mut run = Run::new(tasks, RunLimits::default(), 0);
        assert_eq!(run.fail(), Step::Next);
        let mut count = 1;
        while run.current().is_some() {
            run.record(0);
            count += 1;
        }
        assert_eq!(count, n, "every task still had its turn");
        assert!(run.has_more(), "the failed task is pending");
        assert!(run.reports()[0].failed);
    }

    proptest! {
        #[test]
        fn runs_stay_within_their_budget(
            backlog in prop::collection::vec(0u64..5_000, 20),
            batch_rows in 1u32..50,
            per_task in 1u32..10,
            extra in 0u32..40,
            now in 0u64..10_000_000_000u64,
        ) {
            let limits = RunLimits { batch_rows, batches_per_task: per_task, batches_per_run: per_task + extra };
            let tasks = plan(now, &[("a", RetentionConfig::default()), ("b", RetentionConfig::default())]);
            let mut left: Vec<u64> = tasks.iter().enumerate().map(|(i, _)| backlog[i % backlog.len()]).collect();
            let before: u64 = left.iter().sum();
            let mut run = Run::new(tasks.clone(), limits, now);
            drive(&mut run, &mut left);
            prop_assert!(run.batches() <= limits.batches_per_run);
            for r in run.reports() {
                prop_assert!(r.batches <= limits.batches_per_task);
                prop_assert!(r.deleted <= u64::from(r.batches) * u64::from(batch_rows));
            }
            let after: u64 = left.iter().sum();
            let deleted: u64 = run.reports().iter().map(|r| r.deleted).sum();
            prop_assert_eq!(before - after, deleted);
            if after > 0 {
                prop_assert!(run.has_more(), "rows left are announced");
            }
            if !run.has_more() {
                prop_assert_eq!(after, 0);
            }
        }

        #[test]
        fn every_backlog_drains_and_no_task_starves(
            backlog in prop::collection::vec(0u64..400, 20),
            budget in 1u32..8,
        ) {
            let limits = RunLimits { batch_rows: 10, batches_per_task: 1, batches_per_run: budget };
            let tasks = plan(NOW, &[("a", RetentionConfig::default()), ("b", RetentionConfig::default())]);
            let mut left: Vec<u64> = tasks.iter().enumerate().map(|(i, _)| backlog[i % backlog.len()]).collect();
            let total: u64 = left.iter().sum();
            // Each run takes at least one batch; enough runs drain everything.
            let runs = tasks.len() as u64 * (total / 10 + 1) + tasks.len() as u64;
            let mut visited = vec![false; tasks.len()];
            for r in 0..runs {
                let mut run = Run::new(tasks.clone(), limits, NOW + r * CRON_PERIOD_MS);
                drive(&mut run, &mut left);
                for rep in run.reports() {
                    if let Some(i) = tasks.iter().position(|t| *t == rep.task) {
                        visited[i] = true;
                    }
                }
                if left.iter().all(|&n| n == 0) && r >= tasks.len() as u64 { break; }
            }
            prop_assert!(left.iter().all(|&n| n == 0), "left: {left:?}");
            prop_assert!(visited.iter().all(|&v| v), "every task ran at least once");
        }
    }
}
