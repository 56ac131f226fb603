-- Ingest pipeline: the edge queues each accepted request as a job; a queue consumer stores it.

-- The consumer's attempt that inserted an event's row. Every count of that event is guarded
-- by "the row carries this attempt's nonce", in the same transaction as the insert, so a
-- redelivered job or a duplicate event counts nothing twice.
ALTER TABLE events ADD COLUMN ingest_nonce TEXT;

-- Jobs whose counters were added (idempotency of a job's counters, and the consumer's lag).
CREATE TABLE IF NOT EXISTS ingest_jobs (
    job_id       TEXT    NOT NULL PRIMARY KEY,
    project      TEXT    NOT NULL,
    nonce        TEXT    NOT NULL,
    received_at  INTEGER NOT NULL, -- epoch ms, accepted at the edge
    processed_at INTEGER NOT NULL  -- epoch ms, stored by the consumer
);
CREATE INDEX IF NOT EXISTS ingest_jobs_by_time ON ingest_jobs (processed_at);

-- Jobs every attempt failed for: kept whole, with why, until someone reprocesses them.
CREATE TABLE IF NOT EXISTS dead_letters (
    job_id      TEXT    NOT NULL PRIMARY KEY,
    project     TEXT    NOT NULL,
    received_at INTEGER NOT NULL, -- epoch ms, accepted at the edge
    dead_at     INTEGER NOT NULL, -- epoch ms, given up on
    attempts    INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    job         TEXT    NOT NULL  -- the job message, as queued
);
CREATE INDEX IF NOT EXISTS dead_letters_by_project ON dead_letters (project, received_at);
