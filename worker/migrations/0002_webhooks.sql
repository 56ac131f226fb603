-- Webhook guard (issue 3): one row per guarded request, its attempts, and the alerts sent.
-- Times are epoch milliseconds. Outcomes are also counted in `stats` under project
-- 'webhook:<route>' with reasons webhook_passed, webhook_held_<reason>, webhook_delivered, ...
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT    PRIMARY KEY,      -- wh_<12 hex ms><16 hex random>
    route           TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,         -- path and query as received
    received_at     INTEGER NOT NULL,
    size            INTEGER,                  -- bytes; NULL when unknown
    content_type    TEXT    NOT NULL,
    headers         TEXT    NOT NULL,         -- JSON [[name, value], ...] as forwarded
    sender          TEXT    NOT NULL,         -- sender hints, ", "-joined
    status          TEXT    NOT NULL,         -- held | failed | delivered | exhausted | refused
    reason          TEXT,                     -- oversize | origin_too_large | origin_rejected | origin_error | timeout | unreachable
    limit_bytes     INTEGER,                  -- the route's body_limit when held
    origin_status   INTEGER,                  -- last answer of the origin
    origin_error    TEXT    NOT NULL,         -- last error, or the start of the origin's answer
    attempts        INTEGER NOT NULL,         -- automatic attempts (first forward + retries)
    replays         INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_attempt_at INTEGER,
    delivered_at    INTEGER,
    payload_key     TEXT,                     -- R2 key; NULL when not kept
    updated_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_time ON webhook_deliveries (received_at DESC);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_status ON webhook_deliveries (status, received_at DESC);

CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id   TEXT    NOT NULL,
    n             INTEGER NOT NULL,           -- 1 = first forward
    kind          TEXT    NOT NULL,           -- forward | retry | replay
    at            INTEGER NOT NULL,
    origin_status INTEGER,
    error         TEXT    NOT NULL,
    duration_ms   INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

CREATE TABLE IF NOT EXISTS webhook_alerts (
    key          TEXT    PRIMARY KEY,         -- first_hold:<route>:<window start> | exhausted:<delivery id>
    kind         TEXT    NOT NULL,            -- first_hold | exhausted
    route        TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    status       TEXT    NOT NULL,            -- pending | sent | failed | not_configured
    sink_status  INTEGER,
    error        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_alerts_by_time ON webhook_alerts (created_at DESC);
