//! PostgreSQL storage, for several control-plane replicas on one database
//! (`--database postgres://...`).
//!
//! Correctness lives in the database, not in a process: every write transaction first takes
//! a transaction-scoped advisory lock (one per store, that is per schema), so writers on
//! every replica run one at a time, as on SQLite, and each sees what the previous one
//! committed (`READ COMMITTED` takes a fresh snapshot per statement, after the lock). The
//! checks the service makes before writing (name free, parent present, nothing refers here,
//! quota) therefore hold when it writes; primary keys back the uniqueness up. A changing
//! transaction increments the stored revision inside that lock, so revisions follow commit
//! order with no gap, and announces it with `NOTIFY`, delivered at commit: every replica's
//! listener publishes it on its own change feed. Reads use `REPEATABLE READ READ ONLY`
//! snapshots and take no lock.
//!
//! The driver is `tokio-postgres`, on a small runtime of the store's own; the store's
//! methods block, like SQLite's, and are called from blocking threads.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use super::sql::{self, Arg, Cell, Db, SqlTxn};
use super::{ChangeFeed, Changes, Store, Txn};
use crate::error::ApiError;

/// The schema version this build writes (the same numbering as SQLite's).
const SCHEMA_VERSION: i64 = 3;

/// The most connections one replica opens.
const MAX_CONNECTIONS: usize = 16;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS resources (
    space      TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    mesh       TEXT COLLATE "C" NOT NULL,
    parent     TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    owner      TEXT NOT NULL,
    uid        TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    spec       TEXT NOT NULL,
    tags       TEXT NOT NULL,
    PRIMARY KEY (space, mesh, kind, parent, name)
);
CREATE INDEX IF NOT EXISTS resources_by_kind ON resources (space, kind, parent, name);
CREATE TABLE IF NOT EXISTS refs (
    space       TEXT COLLATE "C" NOT NULL,
    mesh        TEXT COLLATE "C" NOT NULL,
    target_kind TEXT COLLATE "C" NOT NULL,
    target_name TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    parent      TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (space, mesh, target_kind, target_name, kind, parent, name)
);
CREATE INDEX IF NOT EXISTS refs_by_referrer ON refs (space, mesh, kind, parent, name);
CREATE TABLE IF NOT EXISTS client_tokens (
    scope       TEXT COLLATE "C" NOT NULL,
    token       TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE INDEX IF NOT EXISTS client_tokens_by_age ON client_tokens (created_ms);
CREATE TABLE IF NOT EXISTS counts (
    space  TEXT COLLATE "C" NOT NULL,
    mesh   TEXT COLLATE "C" NOT NULL,
    kind   TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C" NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (space, mesh, kind, parent)
);
CREATE TABLE IF NOT EXISTS changes (
    revision BIGINT NOT NULL,
    space    TEXT COLLATE "C" NOT NULL,
    kind     TEXT COLLATE "C" NOT NULL,
    mesh     TEXT COLLATE "C" NOT NULL,
    parent   TEXT COLLATE "C" NOT NULL,
    name     TEXT COLLATE "C" NOT NULL,
    deleted  BIGINT NOT NULL,
    PRIMARY KEY (revision, space, mesh, kind, parent, name)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('revision', 0) ON CONFLICT DO NOTHING;
INSERT INTO meta (key, value) VALUES ('schema', 3) ON CONFLICT DO NOTHING;
"#;

/// Serialises this store's writers, on every replica (one lock per schema).
const WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('appmesh:' || current_schema()))";
const NOTIFY: &str = "SELECT pg_notify(?1, ?2)";

/// Storage in a PostgreSQL database (and schema).
pub struct PostgresStore {
    config: tokio_postgres::Config,
    runtime: Option<tokio::runtime::Runtime>,
    pool: Mutex<Pool>,
    returned: Condvar,
    feed: Arc<ChangeFeed>,
    channel: String,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// A database URL with its password hidden, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq key=value string)
    /// and creates the tables if they are missing, in `schema` (created if needed; `public`
    /// when `None`). Several control planes may share one database; each schema is one
    /// independent store.
    pub fn open(url: &str, schema: Option<&str>) -> anyhow::Result<Self> {
        let schema = schema.unwrap_or("public");
        if schema.is_empty()
            || schema.len() > 40
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            anyhow::bail!(
                "--database-schema must be 1 to 40 lowercase letters, digits or underscores, got {schema:?}"
            );
        }
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("--database {}: {e}", redacted(url)))?;
        config.options(format!("-c search_path={schema}"));
        config.application_name("appmesh-control-plane");
        config.connect_timeout(Duration::from_secs(10));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let target = redacted(url);
        // Set up on a plain thread: this may be called from inside another runtime.
        let revision = std::thread::scope(|s| {
            s.spawn(|| {
                handle.block_on(async {
                    let (client, connection) = config
                        .connect(NoTls)
                        .await
                        .map_err(|e| anyhow::anyhow!("connecting to {target}: {e}"))?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!(
                            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('appmesh-setup'));
                             CREATE SCHEMA IF NOT EXISTS {schema}; {SCHEMA} COMMIT;"
                        ))
                        .await
                        .map_err(|e| anyhow::anyhow!("creating the tables in {target}: {e}"))?;
                    let version: i64 = client
                        .query_one("SELECT value FROM meta WHERE key = 'schema'", &[])
                        .await?
                        .try_get(0)?;
                    if version != SCHEMA_VERSION {
                        anyhow::bail!("the database has schema version {version}; this server knows {SCHEMA_VERSION}");
                    }
                    let revision: i64 = client
                        .query_one("SELECT value FROM meta WHERE key = 'revision'", &[])
                        .await?
                        .try_get(0)?;
                    anyhow::Ok(u64::try_from(revision).unwrap_or(0))
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the database setup thread panicked"))?
        })?;
        let store = PostgresStore {
            config,
            runtime: Some(runtime),
            pool: Mutex::new(Pool::default()),
            returned: Condvar::new(),
            feed: Arc::new(ChangeFeed::new(revision)),
            channel: format!("appmesh_changes_{schema}"),
            stop: Arc::new(AtomicBool::new(false)),
        };
        store.listen();
        Ok(store)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(rt) => rt.handle(),
            None => unreachable!("the runtime lives until drop"),
        }
    }

    fn block<F: Future>(&self, fut: F) -> F::Output {
        self.handle().block_on(fut)
    }

    /// Follows other replicas' commits: `LISTEN` on a connection of its own, publishing
    /// each announced revision; after a lost connection, it reconnects and catches up with
    /// the stored revision.
    fn listen(&self) {
        let config = self.config.clone();
        let feed = self.feed.clone();
        let channel = self.channel.clone();
        let stop = self.stop.clone();
        self.handle().spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match follow(&config, &feed, &channel, &stop).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed: the database connection was lost; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A pooled connection, opening one if fewer than [`MAX_CONNECTIONS`] are open.
    fn take(&self) -> Result<Conn, ApiError> {
        let mut pool = self.lock_pool();
        loop {
            while let Some(conn) = pool.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(conn);
                }
                pool.open -= 1;
            }
            if pool.open < MAX_CONNECTIONS {
                pool.open += 1;
                drop(pool);
                let connected = self.block(async {
                    let (client, connection) = self.config.connect(NoTls).await?;
                    tokio::spawn(connection);
                    Ok::<_, tokio_postgres::Error>(client)
                });
                return match connected {
                    Ok(client) => Ok(Conn {
                        client,
                        statements: HashMap::new(),
                    }),
                    Err(e) => {
                        self.lock_pool().open -= 1;
                        self.returned.notify_one();
                        tracing::error!(error = %e, "storage: cannot connect to the database");
                        Err(ApiError::new(
                            crate::error::ErrorKind::ServiceUnavailable,
                            "The storage is not answering; try again.",
                        ))
                    }
                };
            }
            pool = self
                .returned
                .wait(pool)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn give(&self, conn: Conn) {
        let mut pool = self.lock_pool();
        if conn.client.is_closed() {
            pool.open -= 1;
        } else {
            pool.idle.push(conn);
        }
        drop(pool);
        self.returned.notify_one();
    }

    /// Runs `body` between `begin` and `COMMIT` on a pooled connection, rolling back if it
    /// fails.
    fn in_transaction<T>(
        &self,
        begin: &str,
        body: impl FnOnce(&mut PgDb<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.take()?;
        let result = (|| {
            self.block(conn.client.batch_execute(begin))?;
            let mut db = PgDb {
                client: &conn.client,
                statements: &mut conn.statements,
                handle: self.handle(),
            };
            let out = body(&mut db)?;
            self.block(conn.client.batch_execute("COMMIT"))?;
            Ok(out)
        })();
        if result.is_err() && !conn.client.is_closed() {
            let _ = self.block(conn.client.batch_execute("ROLLBACK"));
        }
        self.give(conn);
        result
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn follow(
    config: &tokio_postgres::Config,
    feed: &ChangeFeed,
    channel: &str,
    stop: &AtomicBool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let pump = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            let stop = message.is_err();
            if messages.send(message).is_err() || stop {
                break;
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    let stored: i64 = client
        .query_one("SELECT value FROM meta WHERE key = 'revision'", &[])
        .await?
        .try_get(0)?;
    feed.publish(u64::try_from(stored).unwrap_or(0));
    let outcome = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        match tokio::time::timeout(Duration::from_secs(1), inbox.recv()).await {
            Err(_) => {}
            Ok(None) => {
                // The connection ended: ask for an error to report.
                break client.batch_execute("SELECT 1").await;
            }
            Ok(Some(Err(e))) => break Err(e),
            Ok(Some(Ok(AsyncMessage::Notification(n)))) => {
                if let Ok(revision) = n.payload().parse::<u64>() {
                    feed.publish(revision);
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    };
    pump.abort();
    outcome
}

/// A connection inside a transaction, as the shared SQL sees it.
struct PgDb<'a> {
    client: &'a Client,
    statements: &'a mut HashMap<&'static str, Statement>,
    handle: &'a tokio::runtime::Handle,
}

impl PgDb<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, ApiError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        // The shared SQL numbers its parameters SQLite's way (`?1`); PostgreSQL's is `$1`.
        let statement = self
            .handle
            .block_on(self.client.prepare(&sql.replace('?', "$")))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

fn bind<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| match arg {
            Arg::Text(s) => s as &(dyn ToSql + Sync),
            Arg::Int(n) => n as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Db for PgDb<'_> {
    fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64, ApiError> {
        let statement = self.statement(sql)?;
        Ok(self
            .handle
            .block_on(self.client.execute(&statement, &bind(args)))?)
    }

    fn query(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<Vec<Vec<Cell>>, ApiError> {
        let statement = self.statement(sql)?;
        let rows = self
            .handle
            .block_on(self.client.query(&statement, &bind(args)))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let cell = match *column.type_() {
                    Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
                    Type::INT4 => row
                        .try_get::<_, Option<i32>>(i)?
                        .map(|n| Cell::Int(i64::from(n))),
                    _ => row.try_get::<_, Option<String>>(i)?.map(Cell::Text),
                };
                cells.push(cell.unwrap_or(Cell::Null));
            }
            out.push(cells);
        }
        Ok(out)
    }
}

impl Store for PostgresStore {
    fn transact(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let committed = self.in_transaction("BEGIN ISOLATION LEVEL READ COMMITTED", |db| {
            db.execute(WRITE_LOCK, &[])?;
            let mut txn = SqlTxn::new(PgDb {
                client: db.client,
                statements: &mut *db.statements,
                handle: db.handle,
            });
            work(&mut txn)?;
            let changed = std::mem::take(&mut txn.changed);
            drop(txn);
            if changed.is_empty() {
                return Ok(None);
            }
            let previous = sql::stored_revision(db)?;
            let revision = previous + 1;
            sql::log_changes(db, revision, &changed)?;
            sql::advance_revision(db, previous, revision)?;
            db.execute(
                NOTIFY,
                &[Arg::Text(&self.channel), Arg::Text(&revision.to_string())],
            )?;
            Ok(Some(revision))
        })?;
        if let Some(revision) = committed {
            self.feed.publish(revision);
        }
        Ok(())
    }

    fn read(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        self.in_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", |db| {
            let mut txn = SqlTxn::new(PgDb {
                client: db.client,
                statements: &mut *db.statements,
                handle: db.handle,
            });
            work(&mut txn)
        })
    }

    fn changes_since(&self, revision: u64, limit: usize) -> Result<Changes, ApiError> {
        self.in_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", |db| {
            sql::read_changes(db, revision, limit)
        })
    }

    fn feed(&self) -> &ChangeFeed {
        &self.feed
    }

    fn healthy(&self) -> bool {
        self.take()
            .map(|conn| {
                let ok = self.block(conn.client.batch_execute("SELECT 1")).is_ok();
                self.give(conn);
                ok
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/appmesh"),
            "postgres://app:***@db:5432/appmesh"
        );
        assert_eq!(
            redacted("postgres://app@db/appmesh"),
            "postgres://app@db/appmesh"
        );
        assert_eq!(redacted("host=db user=app"), "host=db user=app");
    }
}
