//! The embedded default store: SQLite in WAL mode with `synchronous=FULL`.
//!
//! Why SQLite: it is a real embedded database with atomic, crash-safe transactions, it needs
//! no server process, and its file format is stable and inspectable with the `sqlite3` shell.
//! WAL lets readers proceed during a write; `synchronous=FULL` makes every commit fsync the
//! log, so a write is on disk before the API acknowledges it (it survives SIGKILL and power
//! loss, not only a clean shutdown). The library is compiled in (`bundled`), so the binary
//! has no runtime dependency.
//!
//! One connection behind a mutex serialises transactions. The control plane's write rate is
//! bounded by fsync anyway; the workload is small documents keyed by name.

use std::path::Path;
use std::sync::Mutex;

use appmesh_model::{Kind, ResourceKey};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Record, Store, TokenRecord, Txn};
use crate::error::ApiError;

/// Client tokens are remembered this long (milliseconds).
const TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Version 2: every row lives in the namespace (`space`) of the account that owns its mesh,
/// and resources record their own owner (`owner`), for shared meshes.
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
PRAGMA user_version = 2;
";

/// Moves a version-1 database (one account, no `space`/`owner` columns) into version 2: its
/// rows belong to `account`.
const MIGRATE_V1: &str = "
ALTER TABLE resources RENAME TO resources_v1;
ALTER TABLE refs RENAME TO refs_v1;
DROP INDEX IF EXISTS resources_by_kind;
DROP INDEX IF EXISTS refs_by_referrer;
";

/// SQLite-backed storage in a data directory.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database `appmesh.db` in `dir`. A database written by
    /// a version that knew one account only is migrated: its resources become `account`'s.
    pub fn open(dir: &Path, account: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut conn = Connection::open(dir.join("appmesh.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match version {
            0 | 2 => tx.execute_batch(SCHEMA)?,
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
                tracing::info!(resources = moved, %account, "storage migrated to schema 2 (accounts)");
            }
            v => anyhow::bail!("the database has schema version {v}, newer than this server knows (2); use a newer appmesh-control-plane"),
        }
        tx.commit()?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

impl Store for SqliteStore {
    fn transact(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut txn = SqliteTxn { tx: &tx };
        work(&mut txn)?;
        tx.commit()?;
        Ok(())
    }

    fn healthy(&self) -> bool {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }
}

struct SqliteTxn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
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
            .tx
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
        self.tx
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO resources ({RECORD_COLUMNS}, space)
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
        self.tx
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
        let mut insert = self.tx.prepare_cached(
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
        self.tx
            .prepare_cached(
                "DELETE FROM resources
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4",
            )?
            .execute(args)?;
        self.tx
            .prepare_cached(
                "DELETE FROM refs
                 WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4",
            )?
            .execute(args)?;
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
            self.tx
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM resources
                     WHERE space = ?3 AND kind = 'Mesh' AND parent = '' AND name > ?1
                     ORDER BY name LIMIT ?2"
                ))?
                .query_map(params![after, limit, space], record_from)?
                .collect::<Result<Vec<_>, _>>()?
        } else {
            self.tx
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
        let n: i64 = if kind == Kind::Mesh {
            self.tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM resources WHERE space = ?1 AND kind = 'Mesh'",
                )?
                .query_row(params![space], |r| r.get(0))?
        } else {
            self.tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM resources
                     WHERE space = ?4 AND mesh = ?1 AND kind = ?2 AND parent = ?3",
                )?
                .query_row(
                    params![mesh, kind.api_name(), parent.unwrap_or(""), space],
                    |r| r.get(0),
                )?
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn children(
        &mut self,
        space: &str,
        parent: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String, String)> = if parent.kind == Kind::Mesh {
            self.tx
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
            self.tx
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
            .tx
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
            .tx
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
        self.tx
            .prepare_cached("DELETE FROM client_tokens WHERE created_ms < ?1")?
            .execute(params![now_ms - TOKEN_TTL_MS])?;
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO client_tokens (scope, token, fingerprint, response, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![scope, token, record.fingerprint, record.response, now_ms])?;
        Ok(())
    }
}
