-- Source maps: which uploaded, indexed map (its objects are in R2 under
-- sourcemaps/{project}/maps/{map_id}/) serves a debug id, or a release, dist and file URL.
-- kind is 'debug_id' (lookup_key = the debug id) or 'release' (lookup_key =
-- release || '\n' || dist || '\n' || url). A newer upload for the same key replaces the row.
CREATE TABLE IF NOT EXISTS sourcemaps (
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    map_id TEXT NOT NULL,
    index_len INTEGER NOT NULL,
    url TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (project, kind, lookup_key)
);
