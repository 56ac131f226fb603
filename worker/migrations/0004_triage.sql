-- Triage: issue ids and status, the lasting fingerprint -> issue map (merges stay merged),
-- the activity log, hourly counts (escalation, sparklines), users affected, releases by
-- first appearance per environment (regressions), and the project's team list lives in config.
ALTER TABLE issues ADD COLUMN issue_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN status TEXT NOT NULL DEFAULT 'unresolved';
ALTER TABLE issues ADD COLUMN substatus TEXT NOT NULL DEFAULT 'ongoing';
ALTER TABLE issues ADD COLUMN details TEXT NOT NULL DEFAULT '{}';   -- JSON, core triage::IssueState
ALTER TABLE issues ADD COLUMN snooze_until INTEGER;                 -- epoch ms of a time snooze
ALTER TABLE issues ADD COLUMN assigned_to TEXT NOT NULL DEFAULT '';
ALTER TABLE issues ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE issues ADD COLUMN users INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN merged_into INTEGER;                  -- set on an issue merged away

-- Issues that existed before triage get ids in the order they were created.
UPDATE issues SET issue_id = rowid WHERE issue_id = 0;
CREATE UNIQUE INDEX IF NOT EXISTS issues_by_id ON issues (project, issue_id);
CREATE INDEX IF NOT EXISTS issues_by_status ON issues (project, status, last_seen DESC);
CREATE INDEX IF NOT EXISTS issues_by_snooze ON issues (snooze_until) WHERE snooze_until IS NOT NULL;

CREATE TABLE IF NOT EXISTS issue_fingerprints (
    project     TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    issue_id    INTEGER NOT NULL,
    PRIMARY KEY (project, fingerprint)
);
CREATE INDEX IF NOT EXISTS issue_fingerprints_by_issue ON issue_fingerprints (project, issue_id);
INSERT OR IGNORE INTO issue_fingerprints (project, fingerprint, issue_id)
    SELECT project, fingerprint, issue_id FROM issues;

CREATE TABLE IF NOT EXISTS issue_activity (
    project  TEXT    NOT NULL,
    issue_id INTEGER NOT NULL,
    at       INTEGER NOT NULL, -- epoch ms
    seq      INTEGER NOT NULL, -- order within the same ms
    kind     TEXT    NOT NULL,
    actor    TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    event_id TEXT,
    PRIMARY KEY (project, issue_id, at, seq)
);

CREATE TABLE IF NOT EXISTS issue_hourly (
    project  TEXT    NOT NULL,
    issue_id INTEGER NOT NULL,
    hour     INTEGER NOT NULL, -- epoch hour (ms / 3600000)
    count    INTEGER NOT NULL,
    PRIMARY KEY (project, issue_id, hour)
);

CREATE TABLE IF NOT EXISTS issue_users (
    project   TEXT    NOT NULL,
    issue_id  INTEGER NOT NULL,
    user_key  TEXT    NOT NULL, -- user id, email, or ip as the event names the user
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (project, issue_id, user_key)
);

CREATE TABLE IF NOT EXISTS releases (
    project     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    release     TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (project, environment, release)
);
CREATE INDEX IF NOT EXISTS releases_by_time ON releases (project, first_seen DESC);
