-- Alerts for issues and projects: rules and destinations per project (JSON validated by
-- backstop_core::alerting), episodes (one per rule, issue and environment), storm batches of
-- new issues, and the outbox of alert requests with their attempts (kept until delivered or
-- given up, so a destination that is down loses nothing).
CREATE TABLE IF NOT EXISTS alert_rules (
    project TEXT NOT NULL,
    id      TEXT NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (project, id)
);

-- A project's rules are the defaults until it saves its own; this row says it did.
CREATE TABLE IF NOT EXISTS alert_rules_saved (
    project TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS alert_destinations (
    project    TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    json       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project, id)
);

CREATE TABLE IF NOT EXISTS alert_episodes (
    project  TEXT NOT NULL,
    id       TEXT NOT NULL,  -- backstop_core::alerting::EpisodeKey::id, also PagerDuty's dedup_key
    rule_id  TEXT NOT NULL,
    issue_id INTEGER,        -- NULL for project rules
    json     TEXT NOT NULL,  -- backstop_core::alerting::Episode
    PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS alert_episodes_by_issue ON alert_episodes (project, issue_id);

-- A storm batch of new issues per (project, rule): opened by the first new issue, flushed at
-- flush_at. Members are rows (not a JSON list) so concurrent ingests append without losing
-- one another's issues.
CREATE TABLE IF NOT EXISTS alert_storms (
    project   TEXT    NOT NULL,
    rule_id   TEXT    NOT NULL,
    opened_at INTEGER NOT NULL,
    flush_at  INTEGER NOT NULL,
    link      TEXT    NOT NULL, -- the dashboard's origin
    PRIMARY KEY (project, rule_id)
);

CREATE TABLE IF NOT EXISTS alert_storm_issues (
    project  TEXT NOT NULL,
    rule_id  TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    title    TEXT NOT NULL,
    release  TEXT,
    PRIMARY KEY (project, rule_id, issue_id)
);

CREATE TABLE IF NOT EXISTS alert_outbox (
    id              TEXT    PRIMARY KEY,
    project         TEXT    NOT NULL,
    destination_id  TEXT    NOT NULL,
    kind            TEXT    NOT NULL, -- slack | webhook | pagerduty
    rule_id         TEXT    NOT NULL,
    issue_id        INTEGER,
    episode_id      TEXT    NOT NULL,
    summary         TEXT    NOT NULL, -- one line, shown on the dashboard
    body            TEXT    NOT NULL, -- the request body as sent
    status          TEXT    NOT NULL, -- pending | delivered | failed
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_error      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_outbox_by_project ON alert_outbox (project, created_at DESC);

CREATE TABLE IF NOT EXISTS alert_attempts (
    alert_id TEXT    NOT NULL,
    number   INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    status   INTEGER,          -- the destination's HTTP status, when it answered
    error    TEXT    NOT NULL, -- else what went wrong
    PRIMARY KEY (alert_id, number)
);
