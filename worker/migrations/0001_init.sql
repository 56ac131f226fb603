-- Backstop schema v1: one index row per event, issues (groups), per-minute outcome counts.
CREATE TABLE IF NOT EXISTS events (
    project        TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    received_at    INTEGER NOT NULL, -- epoch ms
    timestamp      INTEGER NOT NULL, -- epoch ms, from the event
    level          TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    message        TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    release        TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    user_email     TEXT    NOT NULL,
    tags           TEXT    NOT NULL, -- JSON object
    fingerprint    TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    culprit        TEXT    NOT NULL,
    frames         TEXT    NOT NULL, -- JSON array, oldest first
    size           INTEGER NOT NULL, -- bytes of the raw payload
    payload        TEXT,             -- raw event JSON when small
    payload_r2_key TEXT,             -- else its R2 key
    PRIMARY KEY (project, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (project, received_at DESC);
CREATE INDEX IF NOT EXISTS events_by_fingerprint ON events (project, fingerprint, received_at DESC);

CREATE TABLE IF NOT EXISTS issues (
    project       TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    culprit       TEXT    NOT NULL,
    level         TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    last_event_id TEXT    NOT NULL,
    PRIMARY KEY (project, fingerprint)
);
CREATE INDEX IF NOT EXISTS issues_by_last_seen ON issues (project, last_seen DESC);

CREATE TABLE IF NOT EXISTS stats (
    project TEXT    NOT NULL,
    minute  INTEGER NOT NULL, -- epoch ms of the minute's start
    reason  TEXT    NOT NULL, -- accepted | too_large | rate_limited | unauthorized | invalid
    count   INTEGER NOT NULL,
    PRIMARY KEY (project, minute, reason)
);
