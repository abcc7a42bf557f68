//! The storage's SQL, once for both databases: every statement a transaction runs, and how
//! rows become records. A backend supplies a [`Db`]: something that runs a statement with
//! arguments and hands back rows. Statements are written with SQLite's numbered parameters
//! (`?1`); the PostgreSQL backend rewrites them to `$1` when it prepares them. Both dialects
//! take everything else as written (`ON CONFLICT ... DO UPDATE` included); the tables are
//! each backend's own, since their types and options differ.

use appmesh_model::{Kind, ResourceKey};

use super::{Change, Changes, Record, TokenRecord, Txn};
use crate::error::ApiError;

/// Client tokens are remembered this long (milliseconds).
const TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// One statement argument.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// A `TEXT` value.
    Text(&'a str),
    /// An integer (`INTEGER` in SQLite, `BIGINT` in PostgreSQL).
    Int(i64),
}

/// One column of a result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// SQL `NULL`.
    Null,
    /// A text value.
    Text(String),
    /// An integer.
    Int(i64),
}

impl Cell {
    fn text(self) -> Result<String, ApiError> {
        match self {
            Cell::Text(s) => Ok(s),
            other => Err(ApiError::internal(format_args!(
                "storage: expected text, found {other:?}"
            ))),
        }
    }

    fn int(&self) -> Result<i64, ApiError> {
        match self {
            Cell::Int(n) => Ok(*n),
            other => Err(ApiError::internal(format_args!(
                "storage: expected an integer, found {other:?}"
            ))),
        }
    }
}

/// A database connection inside a transaction.
pub(crate) trait Db {
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, ApiError>;

    /// Runs a query; its rows.
    fn query(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<Vec<Vec<Cell>>, ApiError>;
}

macro_rules! record_columns {
    () => {
        "kind, mesh, parent, name, uid, version, created_ms, updated_ms, spec, tags, owner"
    };
}

const GET: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM resources WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4"
);
const UPDATE: &str = "UPDATE resources SET uid = ?5, version = ?6, created_ms = ?7,
    updated_ms = ?8, spec = ?9, tags = ?10, owner = ?11
    WHERE space = ?12 AND mesh = ?2 AND kind = ?1 AND parent = ?3 AND name = ?4";
const INSERT: &str = concat!(
    "INSERT INTO resources (",
    record_columns!(),
    ", space) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
);
const DELETE: &str = "DELETE FROM resources
    WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4";
const DELETE_REFS: &str = "DELETE FROM refs
    WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name = ?4";
const INSERT_REF: &str =
    "INSERT INTO refs (space, mesh, target_kind, target_name, kind, parent, name)
    VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
const RECOUNT: &str =
    "INSERT INTO counts (space, mesh, kind, parent, n) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (space, mesh, kind, parent) DO UPDATE SET n = counts.n + excluded.n";
const COUNT: &str =
    "SELECT n FROM counts WHERE space = ?1 AND mesh = ?2 AND kind = ?3 AND parent = ?4";
const LIST_MESHES: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM resources WHERE space = ?3 AND kind = 'Mesh' AND parent = '' AND name > ?1
    ORDER BY name LIMIT ?2"
);
const LIST: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM resources WHERE space = ?6 AND mesh = ?1 AND kind = ?2 AND parent = ?3 AND name > ?4
    ORDER BY name LIMIT ?5"
);
const MESH_CHILDREN: &str = "SELECT kind, mesh, parent, name FROM resources
    WHERE space = ?3 AND mesh = ?1 AND kind != 'Mesh' ORDER BY kind, parent, name LIMIT ?2";
const CHILDREN: &str = "SELECT kind, mesh, parent, name FROM resources
    WHERE space = ?5 AND mesh = ?1 AND kind = ?2 AND parent = ?3 ORDER BY name LIMIT ?4";
const REFERRERS: &str = "SELECT kind, mesh, parent, name FROM refs
    WHERE space = ?5 AND mesh = ?1 AND target_kind = ?2 AND target_name = ?3
    ORDER BY kind, parent, name LIMIT ?4";
const TOKEN: &str =
    "SELECT fingerprint, response FROM client_tokens WHERE scope = ?1 AND token = ?2";
const EXPIRE_TOKENS: &str = "DELETE FROM client_tokens WHERE created_ms < ?1";
const PUT_TOKEN: &str =
    "INSERT INTO client_tokens (scope, token, fingerprint, response, created_ms)
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, token) DO UPDATE
    SET fingerprint = excluded.fingerprint, response = excluded.response,
    created_ms = excluded.created_ms";
const LOG_CHANGE: &str =
    "INSERT INTO changes (revision, space, kind, mesh, parent, name, deleted)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (revision, space, mesh, kind, parent, name) DO UPDATE SET deleted = excluded.deleted";
const REVISION: &str = "SELECT value FROM meta WHERE key = 'revision'";
const SET_REVISION: &str = "UPDATE meta SET value = ?1 WHERE key = 'revision'";
const OLDEST_CHANGE: &str = "SELECT MIN(revision) FROM changes";
const CHANGES: &str = "SELECT revision, space, kind, mesh, parent, name, deleted FROM changes
    WHERE revision > ?1 AND revision <= ?2 ORDER BY revision, kind, mesh, parent, name LIMIT ?3";
const PRUNE: &str = "DELETE FROM changes WHERE revision <= ?1";

/// How many revisions the change log keeps; older ones are pruned every [`PRUNE_EVERY`]
/// revisions. A reader further behind starts from a full read.
pub(crate) const KEEP_REVISIONS: u64 = 10_000;
const PRUNE_EVERY: u64 = 1_000;

fn limit_arg(limit: usize) -> Arg<'static> {
    Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A storage transaction over any [`Db`]: the [`Txn`] the service works with. It notes
/// which records it changed, for the change log.
pub(crate) struct SqlTxn<D> {
    pub(crate) db: D,
    /// What this transaction changed: (space, key, deleted).
    pub(crate) changed: Vec<(String, ResourceKey, bool)>,
}

impl<D: Db> SqlTxn<D> {
    pub(crate) fn new(db: D) -> Self {
        SqlTxn {
            db,
            changed: Vec::new(),
        }
    }

    /// Adds `delta` to the count of `key`'s container (meshes are counted per account,
    /// under mesh `''`).
    fn recount(&mut self, space: &str, key: &ResourceKey, delta: i64) -> Result<(), ApiError> {
        let mesh = if key.kind == Kind::Mesh {
            ""
        } else {
            &key.mesh
        };
        self.db.execute(
            RECOUNT,
            &[
                Arg::Text(space),
                Arg::Text(mesh),
                Arg::Text(key.kind.api_name()),
                Arg::Text(parent_of(key)),
                Arg::Int(delta),
            ],
        )?;
        Ok(())
    }

    fn keys(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<Vec<ResourceKey>, ApiError> {
        self.db
            .query(sql, args)?
            .into_iter()
            .map(|row| {
                let [kind, mesh, parent, name]: [Cell; 4] = row
                    .try_into()
                    .map_err(|_| ApiError::internal("storage: a key row has 4 columns"))?;
                key_from(&kind.text()?, mesh.text()?, parent.text()?, name.text()?)
            })
            .collect()
    }

    fn records(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<Vec<Record>, ApiError> {
        self.db
            .query(sql, args)?
            .into_iter()
            .map(record_from)
            .collect()
    }
}

/// Logs the changes of one transaction under `revision`.
pub(crate) fn log_changes(
    db: &mut impl Db,
    revision: u64,
    changed: &[(String, ResourceKey, bool)],
) -> Result<(), ApiError> {
    let revision = i64::try_from(revision).map_err(ApiError::internal)?;
    for (space, key, deleted) in changed {
        db.execute(
            LOG_CHANGE,
            &[
                Arg::Int(revision),
                Arg::Text(space),
                Arg::Text(key.kind.api_name()),
                Arg::Text(&key.mesh),
                Arg::Text(parent_of(key)),
                Arg::Text(&key.name),
                Arg::Int(i64::from(*deleted)),
            ],
        )?;
    }
    Ok(())
}

/// The newest revision stored.
pub(crate) fn stored_revision(db: &mut impl Db) -> Result<u64, ApiError> {
    let rows = db.query(REVISION, &[])?;
    let value = rows
        .first()
        .and_then(|row| row.first())
        .ok_or_else(|| ApiError::internal("storage: no revision row"))?;
    Ok(to_u64(value.int()?))
}

/// Stores `revision` as the newest one (up from `previous`), pruning the log when it passes
/// a multiple of [`PRUNE_EVERY`].
pub(crate) fn advance_revision(
    db: &mut impl Db,
    previous: u64,
    revision: u64,
) -> Result<(), ApiError> {
    let as_arg = |n: u64| Arg::Int(i64::try_from(n).unwrap_or(i64::MAX));
    db.execute(SET_REVISION, &[as_arg(revision)])?;
    let prune_at = revision / PRUNE_EVERY * PRUNE_EVERY;
    if prune_at > previous && prune_at > KEEP_REVISIONS {
        db.execute(PRUNE, &[as_arg(prune_at - KEEP_REVISIONS)])?;
    }
    Ok(())
}

/// What changed after `revision`, at most `limit` changes, read in one snapshot.
pub(crate) fn read_changes(
    db: &mut impl Db,
    revision: u64,
    limit: usize,
) -> Result<Changes, ApiError> {
    let newest = i64::try_from(stored_revision(db)?).unwrap_or(i64::MAX);
    let oldest = db
        .query(OLDEST_CHANGE, &[])?
        .first()
        .and_then(|row| row.first().cloned())
        .and_then(|cell| cell.int().ok());
    let after = i64::try_from(revision).unwrap_or(i64::MAX);
    // Complete when nothing happened since, or the log still holds the next revision.
    let complete = after >= newest || oldest.is_some_and(|o| o <= after + 1);
    let mut changes = Vec::new();
    if complete {
        for row in db.query(
            CHANGES,
            &[Arg::Int(after), Arg::Int(newest), limit_arg(limit)],
        )? {
            let [rev, space, kind, mesh, parent, name, deleted]: [Cell; 7] = row
                .try_into()
                .map_err(|_| ApiError::internal("storage: a change row has 7 columns"))?;
            changes.push(Change {
                revision: to_u64(rev.int()?),
                space: space.text()?,
                key: key_from(&kind.text()?, mesh.text()?, parent.text()?, name.text()?)?,
                deleted: deleted.int()? != 0,
            });
        }
    }
    Ok(Changes {
        revision: to_u64(newest),
        changes,
        complete,
    })
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

fn record_from(row: Vec<Cell>) -> Result<Record, ApiError> {
    let [kind, mesh, parent, name, uid, version, created_ms, updated_ms, spec, tags, owner]: [Cell;
        11] = row
        .try_into()
        .map_err(|_| ApiError::internal("storage: a record row has 11 columns"))?;
    Ok(Record {
        key: key_from(&kind.text()?, mesh.text()?, parent.text()?, name.text()?)?,
        uid: uid.text()?,
        version: version.int()?,
        created_ms: created_ms.int()?,
        updated_ms: updated_ms.int()?,
        spec: serde_json::from_str(&spec.text()?).map_err(ApiError::internal)?,
        tags: serde_json::from_str(&tags.text()?).map_err(ApiError::internal)?,
        owner: owner.text()?,
    })
}

fn parent_of(key: &ResourceKey) -> &str {
    key.parent.as_deref().unwrap_or("")
}

/// The arguments that name a record: mesh, kind, parent, name, space (`?1`..`?5`).
fn key_args<'a>(space: &'a str, key: &'a ResourceKey) -> [Arg<'a>; 5] {
    [
        Arg::Text(&key.mesh),
        Arg::Text(key.kind.api_name()),
        Arg::Text(parent_of(key)),
        Arg::Text(&key.name),
        Arg::Text(space),
    ]
}

impl<D: Db> Txn for SqlTxn<D> {
    fn get(&mut self, space: &str, key: &ResourceKey) -> Result<Option<Record>, ApiError> {
        Ok(self.records(GET, &key_args(space, key))?.pop())
    }

    fn put(&mut self, space: &str, r: &Record, refs: &[ResourceKey]) -> Result<(), ApiError> {
        let k = &r.key;
        let spec = r.spec.to_string();
        let tags = serde_json::to_string(&r.tags).map_err(ApiError::internal)?;
        let args = [
            Arg::Text(k.kind.api_name()),
            Arg::Text(&k.mesh),
            Arg::Text(parent_of(k)),
            Arg::Text(&k.name),
            Arg::Text(&r.uid),
            Arg::Int(r.version),
            Arg::Int(r.created_ms),
            Arg::Int(r.updated_ms),
            Arg::Text(&spec),
            Arg::Text(&tags),
            Arg::Text(&r.owner),
            Arg::Text(space),
        ];
        if self.db.execute(UPDATE, &args)? == 0 {
            self.db.execute(INSERT, &args)?;
            self.recount(space, k, 1)?;
        }
        self.db.execute(DELETE_REFS, &key_args(space, k))?;
        for target in refs {
            self.db.execute(
                INSERT_REF,
                &[
                    Arg::Text(&k.mesh),
                    Arg::Text(target.kind.api_name()),
                    Arg::Text(&target.name),
                    Arg::Text(k.kind.api_name()),
                    Arg::Text(parent_of(k)),
                    Arg::Text(&k.name),
                    Arg::Text(space),
                ],
            )?;
        }
        self.changed.push((space.to_owned(), k.clone(), false));
        Ok(())
    }

    fn delete(&mut self, space: &str, k: &ResourceKey) -> Result<(), ApiError> {
        let args = key_args(space, k);
        let removed = self.db.execute(DELETE, &args)?;
        self.db.execute(DELETE_REFS, &args)?;
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
        let after = after.unwrap_or("");
        if kind == Kind::Mesh {
            self.records(
                LIST_MESHES,
                &[Arg::Text(after), limit_arg(limit), Arg::Text(space)],
            )
        } else {
            self.records(
                LIST,
                &[
                    Arg::Text(mesh),
                    Arg::Text(kind.api_name()),
                    Arg::Text(parent.unwrap_or("")),
                    Arg::Text(after),
                    limit_arg(limit),
                    Arg::Text(space),
                ],
            )
        }
    }

    fn count(
        &mut self,
        space: &str,
        kind: Kind,
        mesh: &str,
        parent: Option<&str>,
    ) -> Result<usize, ApiError> {
        let mesh = if kind == Kind::Mesh { "" } else { mesh };
        let rows = self.db.query(
            COUNT,
            &[
                Arg::Text(space),
                Arg::Text(mesh),
                Arg::Text(kind.api_name()),
                Arg::Text(parent.unwrap_or("")),
            ],
        )?;
        Ok(match rows.first().and_then(|row| row.first()) {
            Some(n) => usize::try_from(n.int()?).unwrap_or(0),
            None => 0,
        })
    }

    fn children(
        &mut self,
        space: &str,
        parent: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError> {
        if parent.kind == Kind::Mesh {
            return self.keys(
                MESH_CHILDREN,
                &[Arg::Text(&parent.mesh), limit_arg(limit), Arg::Text(space)],
            );
        }
        let Some(child) = Kind::ALL
            .into_iter()
            .find(|k| k.parent() == Some(parent.kind))
        else {
            return Ok(Vec::new());
        };
        self.keys(
            CHILDREN,
            &[
                Arg::Text(&parent.mesh),
                Arg::Text(child.api_name()),
                Arg::Text(&parent.name),
                limit_arg(limit),
                Arg::Text(space),
            ],
        )
    }

    fn referrers(
        &mut self,
        space: &str,
        target: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError> {
        self.keys(
            REFERRERS,
            &[
                Arg::Text(&target.mesh),
                Arg::Text(target.kind.api_name()),
                Arg::Text(&target.name),
                limit_arg(limit),
                Arg::Text(space),
            ],
        )
    }

    fn token(&mut self, scope: &str, token: &str) -> Result<Option<TokenRecord>, ApiError> {
        let Some(row) = self
            .db
            .query(TOKEN, &[Arg::Text(scope), Arg::Text(token)])?
            .pop()
        else {
            return Ok(None);
        };
        let [fingerprint, response]: [Cell; 2] = row
            .try_into()
            .map_err(|_| ApiError::internal("storage: a token row has 2 columns"))?;
        Ok(Some(TokenRecord {
            fingerprint: fingerprint.text()?,
            response: response.text()?,
        }))
    }

    fn put_token(
        &mut self,
        scope: &str,
        token: &str,
        record: &TokenRecord,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        self.db
            .execute(EXPIRE_TOKENS, &[Arg::Int(now_ms - TOKEN_TTL_MS)])?;
        self.db.execute(
            PUT_TOKEN,
            &[
                Arg::Text(scope),
                Arg::Text(token),
                Arg::Text(&record.fingerprint),
                Arg::Text(&record.response),
                Arg::Int(now_ms),
            ],
        )?;
        Ok(())
    }
}
