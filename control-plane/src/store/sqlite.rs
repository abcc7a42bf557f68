//! The embedded default store: SQLite in WAL mode with `synchronous=FULL`.
//!
//! Why SQLite: it is a real embedded database with atomic, crash-safe transactions, it needs
//! no server process, and its file format is stable and inspectable with the `sqlite3` shell.
//! WAL lets readers proceed during a write; `synchronous=FULL` makes every commit fsync the
//! log, so a write is on disk before the API acknowledges it (it survives SIGKILL and power
//! loss, not only a clean shutdown). The library is compiled in (`bundled`), so the binary
//! has no runtime dependency.
//!
//! **Writes** go through one connection (SQLite has one writer at a time anyway) with
//! **group commit**: a writer runs its work inside a savepoint of the open transaction; if
//! other writers are already waiting for the connection, it leaves the commit to the last of
//! them and waits. So while one commit's fsync runs, the writers that arrive queue up, then
//! run one after another (each takes tens of microseconds) and share the next fsync. Nobody
//! is answered before the commit that holds its work is durable, and a failed commit fails
//! every member. A writer whose work fails rolls back to its savepoint only.
//!
//! **Reads** use a pool of read-only connections: they see committed transactions only
//! (never a batch that is still open) and run in parallel with each other and the writer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::{params, Connection, TransactionBehavior};

use super::sql::{self, Arg, Cell, Db, SqlTxn};
use super::{ChangeFeed, Changes, Store, Txn};
use crate::error::ApiError;

/// The most writers that share one commit; bounds a writer's wait under constant load.
const MAX_BATCH: usize = 64;

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = 3;

/// Version 3. Every row lives in the namespace (`space`) of the account that owns its mesh,
/// and resources record their own owner (`owner`), for shared meshes (version 2).
/// `counts` keeps how many records each container holds, so that a quota check costs the
/// same in a mesh of 100,000 nodes as in one of 10; `changes` is the change log and `meta`
/// holds the newest revision (version 3).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    space      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    mesh       TEXT NOT NULL,
    parent     TEXT NOT NULL,
    name       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    uid        TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    spec       TEXT NOT NULL,
    tags       TEXT NOT NULL,
    PRIMARY KEY (space, mesh, kind, parent, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_by_kind ON resources (space, kind, parent, name);
CREATE TABLE IF NOT EXISTS refs (
    space       TEXT NOT NULL,
    mesh        TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_name TEXT NOT NULL,
    kind        TEXT NOT NULL,
    parent      TEXT NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (space, mesh, target_kind, target_name, kind, parent, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_by_referrer ON refs (space, mesh, kind, parent, name);
CREATE TABLE IF NOT EXISTS client_tokens (
    scope       TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (scope, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS client_tokens_by_age ON client_tokens (created_ms);
CREATE TABLE IF NOT EXISTS counts (
    space  TEXT NOT NULL,
    mesh   TEXT NOT NULL,
    kind   TEXT NOT NULL,
    parent TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (space, mesh, kind, parent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    revision INTEGER NOT NULL,
    space    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    mesh     TEXT NOT NULL,
    parent   TEXT NOT NULL,
    name     TEXT NOT NULL,
    deleted  INTEGER NOT NULL,
    PRIMARY KEY (revision, space, mesh, kind, parent, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
PRAGMA user_version = 3;
";

/// Moves a version-1 database (one account, no `space`/`owner` columns) into version 2's
/// tables: its rows belong to `?1`.
const MIGRATE_V1: &str = "
ALTER TABLE resources RENAME TO resources_v1;
ALTER TABLE refs RENAME TO refs_v1;
DROP INDEX IF EXISTS resources_by_kind;
DROP INDEX IF EXISTS refs_by_referrer;
";

/// Fills `counts` from the records (for a database older than version 3). Meshes are
/// counted per account under mesh `''`.
const COUNT_ALL: &str = "
DELETE FROM counts;
INSERT INTO counts (space, mesh, kind, parent, n)
    SELECT space, CASE kind WHEN 'Mesh' THEN '' ELSE mesh END, kind, parent, COUNT(*)
    FROM resources GROUP BY 1, 2, 3, 4;
";

/// SQLite-backed storage in a data directory.
pub struct SqliteStore {
    writer: Mutex<Writer>,
    batches: Mutex<Batches>,
    committed: Condvar,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    feed: ChangeFeed,
    commits: AtomicU64,
    /// Held while the store is open: one server per data directory.
    _lock: std::fs::File,
}

/// The write connection and the batch open on it.
struct Writer {
    conn: Connection,
    /// The batch whose transaction is open, if any.
    open: Option<u64>,
    /// How many writers have run in the open batch.
    members: usize,
    /// The newest revision, counting the open batch's.
    revision: u64,
    /// The newest committed revision.
    durable: u64,
}

/// Who waits for what: writers queued for the connection, and the batches' outcomes.
#[derive(Default)]
struct Batches {
    /// Writers waiting for the write connection; they join the open batch.
    queued: usize,
    /// The last batch id handed out.
    last: u64,
    /// Every batch up to this one has finished.
    finished: u64,
    /// The last batch that failed to commit, and why.
    failed: Option<(u64, String)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Locks `dir` for this process (`appmesh.lock`, released when the process ends however it
/// ends): the revision counter and the group commit live in the writer's memory, so a
/// second server on the same files would hand out the same revisions.
fn lock_directory(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("appmesh.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the data directory {} is in use by another appmesh-control-plane (it holds {}); \
             stop that one, or give this one its own --data-dir (several replicas share \
             a PostgreSQL database instead: --database postgres://...)",
            dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database `appmesh.db` in `dir`. A database written by
    /// a version that knew one account only is migrated: its resources become `account`'s.
    pub fn open(dir: &Path, account: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let lock = lock_directory(dir)?;
        let path = dir.join("appmesh.db");
        let mut conn = open_connection(&path)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match version {
            0 | SCHEMA_VERSION => tx.execute_batch(SCHEMA)?,
            1 => {
                tx.execute_batch(MIGRATE_V1)?;
                tx.execute_batch(SCHEMA)?;
                let moved = tx.execute(
                    "INSERT INTO resources SELECT ?1, kind, mesh, parent, name, ?1, uid, version,
                     created_ms, updated_ms, spec, tags FROM resources_v1",
                    params![account],
                )?;
                tx.execute(
                    "INSERT INTO refs SELECT ?1, mesh, target_kind, target_name, kind, parent, name
                     FROM refs_v1",
                    params![account],
                )?;
                tx.execute_batch("DROP TABLE resources_v1; DROP TABLE refs_v1;")?;
                tx.execute_batch(COUNT_ALL)?;
                tracing::info!(resources = moved, %account, "storage migrated to schema 3 (accounts, counts, change log)");
            }
            2 => {
                tx.execute_batch(SCHEMA)?;
                tx.execute_batch(COUNT_ALL)?;
                tracing::info!("storage migrated to schema 3 (counts, change log)");
            }
            v => anyhow::bail!("the database has schema version {v}, newer than this server knows ({SCHEMA_VERSION}); use a newer appmesh-control-plane"),
        }
        let revision: i64 =
            tx.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        let revision = u64::try_from(revision).unwrap_or(0);
        Ok(SqliteStore {
            writer: Mutex::new(Writer {
                conn,
                open: None,
                members: 0,
                revision,
                durable: revision,
            }),
            batches: Mutex::new(Batches::default()),
            committed: Condvar::new(),
            readers: Mutex::new(Vec::new()),
            path,
            feed: ChangeFeed::new(revision),
            commits: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// Commits the open batch `batch` and tells its members.
    fn commit(&self, w: &mut Writer, batch: u64) {
        let outcome = (|| -> Result<(), ApiError> {
            if w.revision != w.durable {
                sql::advance_revision(&mut &w.conn, w.durable, w.revision)?;
            }
            run(&w.conn, "COMMIT")?;
            Ok(())
        })();
        w.open = None;
        w.members = 0;
        let mut batches = lock(&self.batches);
        match outcome {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                w.durable = w.revision;
                self.feed.publish(w.durable);
            }
            Err(e) => {
                if !w.conn.is_autocommit() {
                    let _ = w.conn.execute_batch("ROLLBACK");
                }
                w.revision = w.durable;
                tracing::error!(error = %e, "storage commit failed");
                batches.failed = Some((batch, e.to_string()));
            }
        }
        batches.finished = batch;
        drop(batches);
        self.committed.notify_all();
    }

    /// Waits until `batch` has finished; its commit's error, if it failed.
    fn wait_for(&self, batch: u64) -> Result<(), ApiError> {
        let mut batches = lock(&self.batches);
        while batches.finished < batch {
            batches = self
                .committed
                .wait(batches)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        match &batches.failed {
            Some((failed, error)) if *failed == batch => Err(ApiError::internal(format_args!(
                "the storage could not commit: {error}"
            ))),
            _ => Ok(()),
        }
    }

    fn reader(&self) -> Result<Connection, ApiError> {
        if let Some(conn) = lock(&self.readers).pop() {
            return Ok(conn);
        }
        let conn = open_connection(&self.path)?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }
}

impl Store for SqliteStore {
    fn transact(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        lock(&self.batches).queued += 1;
        let mut w = lock(&self.writer);
        let queued_behind = {
            let mut batches = lock(&self.batches);
            batches.queued -= 1;
            if w.open.is_none() {
                batches.last += 1;
                w.open = Some(batches.last);
            }
            batches.queued
        };
        let Some(batch) = w.open else {
            return Err(ApiError::internal("no open batch"));
        };
        if w.members == 0 {
            if let Err(e) = run(&w.conn, "BEGIN IMMEDIATE") {
                w.open = None;
                let mut batches = lock(&self.batches);
                batches.failed = Some((batch, e.to_string()));
                batches.finished = batch;
                drop(batches);
                self.committed.notify_all();
                return Err(e.into());
            }
        }
        w.members += 1;
        let result = run_member(&mut w, work);
        if queued_behind == 0 || w.members >= MAX_BATCH {
            self.commit(&mut w, batch);
        }
        drop(w);
        self.wait_for(batch)?;
        result
    }

    fn read(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let conn = self.reader()?;
        run(&conn, "BEGIN DEFERRED")?;
        let mut txn = SqlTxn::new(&conn);
        let result = work(&mut txn);
        if run(&conn, "COMMIT").is_ok() {
            lock(&self.readers).push(conn);
        }
        result
    }

    fn changes_since(&self, revision: u64, limit: usize) -> Result<Changes, ApiError> {
        let conn = self.reader()?;
        run(&conn, "BEGIN DEFERRED")?;
        let result = sql::read_changes(&mut &conn, revision, limit);
        if run(&conn, "COMMIT").is_ok() {
            lock(&self.readers).push(conn);
        }
        result
    }

    fn feed(&self) -> &ChangeFeed {
        &self.feed
    }

    fn reads_are_local(&self) -> bool {
        // WAL readers see the last commit without taking the writer's lock.
        true
    }

    fn sees_every_write(&self) -> bool {
        // The data directory is this process's alone (its lock file), and a batch's
        // revision is published before its writers return.
        true
    }

    fn commits(&self) -> Option<u64> {
        Some(self.commits.load(Ordering::Relaxed))
    }

    fn healthy(&self) -> bool {
        self.reader()
            .map(|conn| {
                let ok = conn
                    .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .is_ok();
                lock(&self.readers).push(conn);
                ok
            })
            .unwrap_or(false)
    }
}

/// Runs a statement without parameters or rows (`BEGIN`, `COMMIT`, a savepoint), compiled
/// once per connection rather than on every call as `execute_batch` does.
fn run(conn: &Connection, statement: &'static str) -> rusqlite::Result<()> {
    conn.prepare_cached(statement)?.raw_execute().map(drop)
}

/// Runs one writer's `work` in a savepoint of the open batch, and logs its changes under
/// the next revision if it made any.
fn run_member(
    w: &mut Writer,
    work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    run(&w.conn, "SAVEPOINT member")?;
    let mut txn = SqlTxn::new(&w.conn);
    let mut result = work(&mut txn);
    let changed = std::mem::take(&mut txn.changed);
    if result.is_ok() && !changed.is_empty() {
        result = sql::log_changes(&mut &w.conn, w.revision + 1, &changed);
    }
    if result.is_ok() {
        run(&w.conn, "RELEASE member")?;
        if !changed.is_empty() {
            w.revision += 1;
        }
    } else {
        run(&w.conn, "ROLLBACK TO member")?;
        run(&w.conn, "RELEASE member")?;
    }
    result
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Int(n) => ValueRef::Integer(n),
        }))
    }
}

impl Db for &Connection {
    fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, ApiError> {
        let changed = self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args))?;
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    fn query(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<Vec<Vec<Cell>>, ApiError> {
        let mut statement = self.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Text(t) => {
                        Cell::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    other => {
                        return Err(ApiError::internal(format_args!(
                            "storage: unexpected column type {:?}",
                            other.data_type()
                        )))
                    }
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use appmesh_model::Kind;

    /// The tables of schema version 2, as that release wrote them.
    const SCHEMA_V2: &str = "
        CREATE TABLE resources (space TEXT NOT NULL, kind TEXT NOT NULL, mesh TEXT NOT NULL,
            parent TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, uid TEXT NOT NULL,
            version INTEGER NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
            spec TEXT NOT NULL, tags TEXT NOT NULL,
            PRIMARY KEY (space, mesh, kind, parent, name)) WITHOUT ROWID;
        CREATE TABLE refs (space TEXT NOT NULL, mesh TEXT NOT NULL, target_kind TEXT NOT NULL,
            target_name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (space, mesh, target_kind, target_name, kind, parent, name)) WITHOUT ROWID;
        CREATE TABLE client_tokens (scope TEXT NOT NULL, token TEXT NOT NULL,
            fingerprint TEXT NOT NULL, response TEXT NOT NULL, created_ms INTEGER NOT NULL,
            PRIMARY KEY (scope, token)) WITHOUT ROWID;
        PRAGMA user_version = 2;";

    #[test]
    fn a_version_2_database_gets_its_counts_and_a_revision() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("appmesh.db")).unwrap();
            conn.execute_batch(SCHEMA_V2).unwrap();
            let row =
                "INSERT INTO resources VALUES (?1, ?2, ?3, ?4, ?5, ?1, 'u', 1, 0, 0, '{}', '[]')";
            for (space, kind, mesh, parent, name) in [
                ("111111111111", "Mesh", "apps", "", "apps"),
                ("111111111111", "Mesh", "web", "", "web"),
                ("111111111111", "VirtualNode", "apps", "", "a"),
                ("111111111111", "VirtualNode", "apps", "", "b"),
                ("111111111111", "VirtualRouter", "apps", "", "r"),
                ("111111111111", "Route", "apps", "r", "x"),
                ("222222222222", "Mesh", "apps", "", "apps"),
            ] {
                conn.execute(row, params![space, kind, mesh, parent, name])
                    .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path(), "111111111111").unwrap();
        let mut seen = Vec::new();
        store
            .read(&mut |txn| {
                seen = vec![
                    txn.count("111111111111", Kind::Mesh, "", None)?,
                    txn.count("111111111111", Kind::VirtualNode, "apps", None)?,
                    txn.count("111111111111", Kind::Route, "apps", Some("r"))?,
                    txn.count("222222222222", Kind::Mesh, "", None)?,
                    txn.count("222222222222", Kind::VirtualNode, "apps", None)?,
                ];
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [2, 2, 1, 1, 0]);
        assert_eq!(store.feed().revision(), 0);
        let version: i64 = lock(&store.writer)
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
