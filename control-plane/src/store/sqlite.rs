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

use appmesh_model::{Kind, ResourceKey};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Change, ChangeFeed, Changes, Record, Store, TokenRecord, Txn};
use crate::error::ApiError;

/// Client tokens are remembered this long (milliseconds).
const TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// The most writers that share one commit; bounds a writer's wait under constant load.
const MAX_BATCH: usize = 64;

/// How many revisions the change log keeps; older ones are pruned every
/// [`PRUNE_EVERY`] revisions. A reader further behind starts from a full read.
const KEEP_REVISIONS: u64 = 10_000;
const PRUNE_EVERY: u64 = 1_000;

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
        })
    }

    /// How many commits (fsyncs of the log) this store has made since it opened; with
    /// concurrent writers, fewer than the transactions.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Commits the open batch `batch` and tells its members.
    fn commit(&self, w: &mut Writer, batch: u64) {
        let outcome = (|| -> rusqlite::Result<()> {
            if w.revision != w.durable {
                w.conn
                    .prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'revision'")?
                    .execute(params![i64::try_from(w.revision).unwrap_or(i64::MAX)])?;
                let pruned_up_to = w.revision / PRUNE_EVERY * PRUNE_EVERY;
                if pruned_up_to > w.durable && pruned_up_to > KEEP_REVISIONS {
                    w.conn
                        .prepare_cached("DELETE FROM changes WHERE revision <= ?1")?
                        .execute(params![
                            i64::try_from(pruned_up_to - KEEP_REVISIONS).unwrap_or(0)
                        ])?;
                }
            }
            w.conn.execute_batch("COMMIT")
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
            if let Err(e) = w.conn.execute_batch("BEGIN IMMEDIATE") {
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
        conn.execute_batch("BEGIN DEFERRED")?;
        let mut txn = SqliteTxn::new(&conn);
        let result = work(&mut txn);
        let ended = conn.execute_batch("COMMIT");
        if ended.is_ok() {
            lock(&self.readers).push(conn);
        }
        result
    }

    fn changes_since(&self, revision: u64, limit: usize) -> Result<Changes, ApiError> {
        let conn = self.reader()?;
        conn.execute_batch("BEGIN DEFERRED")?;
        let result = read_changes(&conn, revision, limit);
        if conn.execute_batch("COMMIT").is_ok() {
            lock(&self.readers).push(conn);
        }
        result
    }

    fn feed(&self) -> &ChangeFeed {
        &self.feed
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

/// Runs one writer's `work` in a savepoint of the open batch, and logs its changes under
/// the next revision if it made any.
fn run_member(
    w: &mut Writer,
    work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    w.conn.execute_batch("SAVEPOINT member")?;
    let mut txn = SqliteTxn::new(&w.conn);
    let mut result = work(&mut txn);
    let changed = std::mem::take(&mut txn.changed);
    if result.is_ok() && !changed.is_empty() {
        result = log_changes(&w.conn, w.revision + 1, &changed);
    }
    if result.is_ok() {
        w.conn.execute_batch("RELEASE member")?;
        if !changed.is_empty() {
            w.revision += 1;
        }
    } else {
        w.conn.execute_batch("ROLLBACK TO member; RELEASE member")?;
    }
    result
}

fn log_changes(
    conn: &Connection,
    revision: u64,
    changed: &[(String, ResourceKey, bool)],
) -> Result<(), ApiError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO changes (revision, space, kind, mesh, parent, name, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let revision = i64::try_from(revision).map_err(ApiError::internal)?;
    for (space, key, deleted) in changed {
        insert.execute(params![
            revision,
            space,
            key.kind.api_name(),
            key.mesh,
            parent_of(key),
            key.name,
            deleted
        ])?;
    }
    Ok(())
}

fn read_changes(conn: &Connection, revision: u64, limit: usize) -> Result<Changes, ApiError> {
    let newest: i64 = conn.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
        r.get(0)
    })?;
    let oldest: Option<i64> =
        conn.query_row("SELECT MIN(revision) FROM changes", [], |r| r.get(0))?;
    let after = i64::try_from(revision).unwrap_or(i64::MAX);
    // Complete when the log still holds the revision right after `revision` (or nothing
    // happened since).
    let complete = after >= newest || oldest.is_some_and(|o| o <= after + 1);
    let mut changes = Vec::new();
    if complete {
        let rows = conn
            .prepare_cached(
                "SELECT revision, space, kind, mesh, parent, name, deleted FROM changes
                 WHERE revision > ?1 AND revision <= ?2 ORDER BY revision, kind, mesh, parent, name LIMIT ?3",
            )?
            .query_map(
                params![after, newest, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        for (rev, space, kind, mesh, parent, name, deleted) in rows {
            changes.push(Change {
                revision: u64::try_from(rev).unwrap_or(0),
                space,
                key: key_from(&kind, mesh, parent, name)?,
                deleted,
            });
        }
    }
    Ok(Changes {
        revision: u64::try_from(newest).unwrap_or(0),
        changes,
        complete,
    })
}

struct SqliteTxn<'a> {
    conn: &'a Connection,
    /// What this transaction changed: (space, key, deleted).
    changed: Vec<(String, ResourceKey, bool)>,
}

impl<'a> SqliteTxn<'a> {
    fn new(conn: &'a Connection) -> Self {
        SqliteTxn {
            conn,
            changed: Vec::new(),
        }
    }

    /// Adds `delta` to the count of `key`'s container.
    fn recount(&self, space: &str, key: &ResourceKey, delta: i64) -> Result<(), ApiError> {
        let (mesh, kind, parent) = count_slot(key);
        self.conn
            .prepare_cached(
                "INSERT INTO counts (space, mesh, kind, parent, n) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (space, mesh, kind, parent) DO UPDATE SET n = n + excluded.n",
            )?
            .execute(params![space, mesh, kind, parent, delta])?;
        Ok(())
    }
}

/// The `counts` row a record of `key` is counted in.
fn count_slot(key: &ResourceKey) -> (&str, &str, &str) {
    let mesh = if key.kind == Kind::Mesh {
        ""
    } else {
        key.mesh.as_str()
    };
    (mesh, key.kind.api_name(), parent_of(key))
}

fn kind_from(name: &str) -> Result<Kind, ApiError> {
    Kind::ALL
        .into_iter()
        .find(|k| k.api_name() == name)
        .ok_or_else(|| ApiError::internal(format_args!("unknown kind {name:?} in storage")))
}

fn key_from(
    kind: &str,
    mesh: String,
    parent: String,
    name: String,
) -> Result<ResourceKey, ApiError> {
    Ok(ResourceKey {
        kind: kind_from(kind)?,
        mesh,
        parent: (!parent.is_empty()).then_some(parent),
        name,
    })
}

const RECORD_COLUMNS: &str =
    "kind, mesh, parent, name, uid, version, created_ms, updated_ms, spec, tags, owner";

fn record_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        kind: row.get(0)?,
        mesh: row.get(1)?,
        parent: row.get(2)?,
        name: row.get(3)?,
        uid: row.get(4)?,
        version: row.get(5)?,
        created_ms: row.get(6)?,
        updated_ms: row.get(7)?,
        spec: row.get(8)?,
        tags: row.get(9)?,
        owner: row.get(10)?,
    })
}

struct RawRecord {
    kind: String,
    mesh: String,
    parent: String,
    name: String,
    uid: String,
    version: i64,
    created_ms: i64,
    updated_ms: i64,
    spec: String,
    tags: String,
    owner: String,
}

impl RawRecord {
    fn decode(self) -> Result<Record, ApiError> {
        Ok(Record {
            key: key_from(&self.kind, self.mesh, self.parent, self.name)?,
            uid: self.uid,
            version: self.version,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            spec: serde_json::from_str(&self.spec).map_err(ApiError::internal)?,
            tags: serde_json::from_str(&self.tags).map_err(ApiError::internal)?,
            owner: self.owner,
        })
    }
}

fn parent_of(key: &ResourceKey) -> &str {
    key.parent.as_deref().unwrap_or("")
}

impl Txn for SqliteTxn<'_> {
    fn get(&mut self, space: &str, key: &ResourceKey) -> Result<Option<Record>, ApiError> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM resources
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4"
            ))?
            .query_row(
                params![
                    key.mesh,
                    key.kind.api_name(),
                    parent_of(key),
                    key.name,
                    space
                ],
                record_from,
            )
            .optional()?;
        raw.map(RawRecord::decode).transpose()
    }

    fn put(&mut self, space: &str, r: &Record, refs: &[ResourceKey]) -> Result<(), ApiError> {
        let k = &r.key;
        let spec = r.spec.to_string();
        let tags = serde_json::to_string(&r.tags).map_err(ApiError::internal)?;
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE resources SET uid = ?5, version = ?6, created_ms = ?7, updated_ms = ?8,
                 spec = ?9, tags = ?10, owner = ?11
                 WHERE space = ?12 AND mesh = ?2 AND kind = ?1 AND parent = ?3 AND name = ?4",
            )?
            .execute(params![
                k.kind.api_name(),
                k.mesh,
                parent_of(k),
                k.name,
                r.uid,
                r.version,
                r.created_ms,
                r.updated_ms,
                spec,
                tags,
                r.owner,
                space
            ])?;
        if updated == 0 {
            self.conn
                .prepare_cached(&format!(
                    "INSERT INTO resources ({RECORD_COLUMNS}, space)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))?
                .execute(params![
                    k.kind.api_name(),
                    k.mesh,
                    parent_of(k),
                    k.name,
                    r.uid,
                    r.version,
                    r.created_ms,
                    r.updated_ms,
                    spec,
                    tags,
                    r.owner,
                    space
                ])?;
            self.recount(space, k, 1)?;
        }
        self.changed.push((space.to_owned(), k.clone(), false));
        self.conn
            .prepare_cached(
                "DELETE FROM refs
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4",
            )?
            .execute(params![
                k.mesh,
                k.kind.api_name(),
                parent_of(k),
                k.name,
                space
            ])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO refs (space, mesh, target_kind, target_name, kind, parent, name)
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for target in refs {
            insert.execute(params![
                k.mesh,
                target.kind.api_name(),
                target.name,
                k.kind.api_name(),
                parent_of(k),
                k.name,
                space
            ])?;
        }
        Ok(())
    }

    fn delete(&mut self, space: &str, k: &ResourceKey) -> Result<(), ApiError> {
        let args = params![k.mesh, k.kind.api_name(), parent_of(k), k.name, space];
        let removed = self
            .conn
            .prepare_cached(
                "DELETE FROM resources
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4",
            )?
            .execute(args)?;
        self.conn
            .prepare_cached(
                "DELETE FROM refs
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4",
            )?
            .execute(args)?;
        if removed > 0 {
            self.recount(space, k, -1)?;
            self.changed.push((space.to_owned(), k.clone(), true));
        }
        Ok(())
    }

    fn list(
        &mut self,
        space: &str,
        kind: Kind,
        mesh: &str,
        parent: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, ApiError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.unwrap_or("");
        let rows = if kind == Kind::Mesh {
            self.conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM resources
                     WHERE space = ?3 AND kind = 'Mesh' AND parent = '' AND name > ?1
                     ORDER BY name LIMIT ?2"
                ))?
                .query_map(params![after, limit, space], record_from)?
                .collect::<Result<Vec<_>, _>>()?
        } else {
            self.conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM resources
                     WHERE space = ?6 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name > ?4
                     ORDER BY name LIMIT ?5"
                ))?
                .query_map(
                    params![
                        mesh,
                        kind.api_name(),
                        parent.unwrap_or(""),
                        after,
                        limit,
                        space
                    ],
                    record_from,
                )?
                .collect::<Result<Vec<_>, _>>()?
        };
        rows.into_iter().map(RawRecord::decode).collect()
    }

    fn count(
        &mut self,
        space: &str,
        kind: Kind,
        mesh: &str,
        parent: Option<&str>,
    ) -> Result<usize, ApiError> {
        let mesh = if kind == Kind::Mesh { "" } else { mesh };
        let n: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT n FROM counts WHERE space = ?1 AND mesh = ?2 AND kind = ?3 AND parent = ?4",
            )?
            .query_row(
                params![space, mesh, kind.api_name(), parent.unwrap_or("")],
                |r| r.get(0),
            )
            .optional()?;
        Ok(n.map_or(0, |n| usize::try_from(n).unwrap_or(0)))
    }

    fn children(
        &mut self,
        space: &str,
        parent: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String, String)> = if parent.kind == Kind::Mesh {
            self.conn
                .prepare_cached(
                    "SELECT kind, mesh, parent, name FROM resources
                     WHERE space = ?3 AND mesh = ?1 AND kind != 'Mesh'
                     ORDER BY kind, parent, name LIMIT ?2",
                )?
                .query_map(params![parent.mesh, limit, space], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()?
        } else {
            let Some(child) = Kind::ALL
                .into_iter()
                .find(|k| k.parent() == Some(parent.kind))
            else {
                return Ok(Vec::new());
            };
            self.conn
                .prepare_cached(
                    "SELECT kind, mesh, parent, name FROM resources
                     WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3
                     ORDER BY name LIMIT ?4",
                )?
                .query_map(
                    params![parent.mesh, child.api_name(), parent.name, limit, space],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?
                .collect::<Result<_, _>>()?
        };
        rows.into_iter()
            .map(|(k, m, p, n)| key_from(&k, m, p, n))
            .collect()
    }

    fn referrers(
        &mut self,
        space: &str,
        target: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT kind, mesh, parent, name FROM refs
                 WHERE space = ?5 AND mesh = ?1 AND target_kind = ?2 AND target_name = ?3
                 ORDER BY kind, parent, name LIMIT ?4",
            )?
            .query_map(
                params![
                    target.mesh,
                    target.kind.api_name(),
                    target.name,
                    limit,
                    space
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(k, m, p, n)| key_from(&k, m, p, n))
            .collect()
    }

    fn token(&mut self, scope: &str, token: &str) -> Result<Option<TokenRecord>, ApiError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT fingerprint, response FROM client_tokens WHERE scope = ?1 AND token = ?2",
            )?
            .query_row(params![scope, token], |r| {
                Ok(TokenRecord {
                    fingerprint: r.get(0)?,
                    response: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn put_token(
        &mut self,
        scope: &str,
        token: &str,
        record: &TokenRecord,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        self.conn
            .prepare_cached("DELETE FROM client_tokens WHERE created_ms < ?1")?
            .execute(params![now_ms - TOKEN_TTL_MS])?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO client_tokens (scope, token, fingerprint, response, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![scope, token, record.fingerprint, record.response, now_ms])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
