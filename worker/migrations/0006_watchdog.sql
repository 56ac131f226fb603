-- Silence watchdog and install probe: signals (events and sessions) per hour and environment,
-- the watch of each (project, environment), and the probe state of each project's site.
CREATE TABLE IF NOT EXISTS signal_hourly (
    project     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    hour        INTEGER NOT NULL, -- epoch hour
    count       INTEGER NOT NULL,
    PRIMARY KEY (project, environment, hour)
);

CREATE TABLE IF NOT EXISTS watchdog (
    project        TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    last_signal_ms INTEGER NOT NULL,
    json           TEXT    NOT NULL, -- backstop_core::watchdog::Watch
    PRIMARY KEY (project, environment)
);

CREATE TABLE IF NOT EXISTS install_probe (
    project    TEXT    PRIMARY KEY,
    site_url   TEXT    NOT NULL,
    checked_at INTEGER NOT NULL,
    result     TEXT    NOT NULL, -- what the last check found, in words
    json       TEXT    NOT NULL  -- backstop_core::install_probe::ProbeState
);
