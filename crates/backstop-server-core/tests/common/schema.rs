//! The real schema for SQL tests: every migration of `worker/migrations`, applied in order to an
//! in-memory SQLite (the engine under D1). Shared by the sweep tests of server-core and
//! guard-core (`#[path]`-included: both crates sit two levels below the workspace root).

/// An in-memory database with every migration applied.
pub(crate) fn schema() -> rusqlite::Connection {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../worker/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no migrations in {dir}");
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for f in files {
        let sql = std::fs::read_to_string(&f).unwrap();
        conn.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    conn
}
