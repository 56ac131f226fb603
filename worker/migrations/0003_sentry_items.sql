-- Sentry drop-in: attachments kept in R2 and linked to events, release health per minute.
CREATE TABLE IF NOT EXISTS attachments (
    project      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL, -- may be '' when the envelope named no event
    seq          INTEGER NOT NULL, -- order within the event
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    r2_key       TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (project, event_id, seq)
);

CREATE TABLE IF NOT EXISTS sessions (
    project     TEXT    NOT NULL,
    release     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    minute      INTEGER NOT NULL,
    started     INTEGER NOT NULL,
    errored     INTEGER NOT NULL,
    crashed     INTEGER NOT NULL,
    abnormal    INTEGER NOT NULL,
    PRIMARY KEY (project, release, environment, minute)
);
