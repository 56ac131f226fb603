-- Retention: outcome counters rolled up per hour once their minutes are older than 24 h (kept
-- with the project's counts retention, 90 days by default), and the indexes the retention cron
-- walks (rows before a cutoff, per project, oldest first).
CREATE TABLE IF NOT EXISTS stats_hourly (
    project TEXT    NOT NULL,
    hour    INTEGER NOT NULL, -- epoch ms of the hour's start
    reason  TEXT    NOT NULL, -- as in stats
    count   INTEGER NOT NULL,
    PRIMARY KEY (project, hour, reason)
);
CREATE INDEX IF NOT EXISTS stats_hourly_by_hour ON stats_hourly (project, hour);

CREATE INDEX IF NOT EXISTS stats_by_minute ON stats (minute);
CREATE INDEX IF NOT EXISTS attachments_by_time ON attachments (project, received_at);
CREATE INDEX IF NOT EXISTS issue_hourly_by_hour ON issue_hourly (project, hour);
CREATE INDEX IF NOT EXISTS signal_hourly_by_hour ON signal_hourly (project, hour);
CREATE INDEX IF NOT EXISTS sessions_by_minute ON sessions (project, minute);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_delivery ON webhook_deliveries (status, delivered_at);
