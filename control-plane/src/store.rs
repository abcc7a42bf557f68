//! Storage behind a trait: records, the references between them, client tokens, and a
//! change feed.
//!
//! Every service call runs inside one transaction, so the checks it makes (does the mesh
//! exist, is the name free, does anything still point here) and the write that follows are
//! atomic. [`Store::transact`] writes: it returns once the transaction is durable, and
//! concurrent writers may share one commit (group commit) but are never acknowledged before
//! it. [`Store::read`] reads committed state only, in parallel with writers.
//!
//! Each transaction that changes records takes the next **revision** (1, 2, 3, ...; never
//! skipped, never reused) and logs which records it changed; [`Store::changes_since`] reads
//! that log and [`ChangeFeed`] wakes whoever waits for a revision. The embedded default is
//! [`sqlite::SqliteStore`].

pub mod postgres;
mod sql;
pub mod sqlite;

use appmesh_model::{Kind, ResourceKey};
use serde_json::Value;

use crate::error::ApiError;

/// A stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The resource's identity.
    pub key: ResourceKey,
    /// A unique id, fixed at creation.
    pub uid: String,
    /// 1 at creation, +1 per update.
    pub version: i64,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: i64,
    /// Last change, milliseconds since the epoch.
    pub updated_ms: i64,
    /// The validated spec in wire form.
    pub spec: Value,
    /// The tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// The account that created it (`resourceOwner`).
    pub owner: String,
}

/// A remembered answer to a request that carried a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// A digest of the request the token was first used with.
    pub fingerprint: String,
    /// The response body given then.
    pub response: String,
}

/// A storage transaction. Reads see the transaction's own writes.
///
/// Every record lives in a `space`: the account that owns its mesh. Two accounts may each
/// have a mesh called `apps`; a mesh shared with other accounts keeps their resources in its
/// owner's space, each record naming its own creator in [`Record::owner`].
pub trait Txn {
    /// The record with this key.
    fn get(&mut self, space: &str, key: &ResourceKey) -> Result<Option<Record>, ApiError>;

    /// Inserts or replaces a record, and replaces the references it holds.
    fn put(&mut self, space: &str, record: &Record, refs: &[ResourceKey]) -> Result<(), ApiError>;

    /// Removes a record, its references and its tags.
    fn delete(&mut self, space: &str, key: &ResourceKey) -> Result<(), ApiError>;

    /// Up to `limit` records of a kind in a mesh (and parent), in name order, after `after`.
    fn list(
        &mut self,
        space: &str,
        kind: Kind,
        mesh: &str,
        parent: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, ApiError>;

    /// How many records of a kind a mesh (and parent) holds; for the mesh kind, how many
    /// meshes there are.
    fn count(
        &mut self,
        space: &str,
        kind: Kind,
        mesh: &str,
        parent: Option<&str>,
    ) -> Result<usize, ApiError>;

    /// Up to `limit` resources inside a mesh, or under a router or gateway.
    fn children(
        &mut self,
        space: &str,
        parent: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError>;

    /// Up to `limit` resources whose spec refers to `target`.
    fn referrers(
        &mut self,
        space: &str,
        target: &ResourceKey,
        limit: usize,
    ) -> Result<Vec<ResourceKey>, ApiError>;

    /// The answer remembered for a client token used with an operation.
    fn token(&mut self, scope: &str, token: &str) -> Result<Option<TokenRecord>, ApiError>;

    /// Remembers the answer to a request that carried a client token.
    fn put_token(
        &mut self,
        scope: &str,
        token: &str,
        record: &TokenRecord,
        now_ms: i64,
    ) -> Result<(), ApiError>;
}

/// One record's change, in the revision that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The revision of the transaction that made it.
    pub revision: u64,
    /// The account namespace of the record (its mesh owner).
    pub space: String,
    /// The record.
    pub key: ResourceKey,
    /// Whether it was deleted (else created or changed).
    pub deleted: bool,
}

/// What changed after a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The newest committed revision.
    pub revision: u64,
    /// The changes after the asked revision, oldest first; with `complete == false`, the log
    /// no longer reaches back that far and the reader must start from a full read.
    pub changes: Vec<Change>,
    /// Whether `changes` holds every change after the asked revision.
    pub complete: bool,
}

/// Durable storage for the control plane.
pub trait Store: Send + Sync + 'static {
    /// Runs `work` in a read-write transaction, committed if it returns `Ok`, rolled back
    /// otherwise. Returns only once the outcome is durable (the commit is on disk).
    fn transact(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError>;

    /// Runs `work` on a snapshot of committed state; writes are refused.
    fn read(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError>;

    /// The changes committed after `revision`, at most `limit` of them.
    fn changes_since(&self, revision: u64, limit: usize) -> Result<Changes, ApiError>;

    /// The feed that announces each committed revision.
    fn feed(&self) -> &ChangeFeed;

    /// Whether the storage answers.
    fn healthy(&self) -> bool;

    /// Whether a read only touches local files and memory, never waiting for the network
    /// or for a writer, so that it may run on an async thread instead of being handed to a
    /// blocking one (two thread switches per request).
    fn reads_are_local(&self) -> bool {
        false
    }

    /// Whether every write to the database goes through this store, which publishes its
    /// revision on [`Store::feed`] before acknowledging it: then the feed's revision names
    /// all a client can have been told is written, and what was read at it may be reused
    /// until it moves. Not so where other replicas write to the same database.
    fn sees_every_write(&self) -> bool {
        false
    }

    /// How many commits (log flushes) it has made since it opened, where it shares one
    /// among concurrent writers and counts them (SQLite's group commit).
    fn commits(&self) -> Option<u64> {
        None
    }
}

/// Announces committed revisions: the newest one, and a way to wait for the next.
///
/// A store publishes each revision once its transaction is durable (for a shared database,
/// also when another replica's commit is announced), so a waiter never sees a revision whose
/// changes it could not read.
#[derive(Debug)]
pub struct ChangeFeed {
    sender: tokio::sync::watch::Sender<u64>,
}

impl ChangeFeed {
    /// A feed starting at `revision`.
    pub fn new(revision: u64) -> Self {
        ChangeFeed {
            sender: tokio::sync::watch::Sender::new(revision),
        }
    }

    /// The newest revision published.
    pub fn revision(&self) -> u64 {
        *self.sender.borrow()
    }

    /// Publishes `revision` if it is newer than the last one.
    pub fn publish(&self, revision: u64) {
        self.sender.send_if_modified(|current| {
            let newer = revision > *current;
            if newer {
                *current = revision;
            }
            newer
        });
    }

    /// A receiver that wakes on every newer revision.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sender.subscribe()
    }

    /// Waits until a revision after `revision` is published, at most `timeout`; returns the
    /// newest revision either way.
    pub async fn wait_past(&self, revision: u64, timeout: std::time::Duration) -> u64 {
        let mut receiver = self.subscribe();
        let _ = tokio::time::timeout(timeout, receiver.wait_for(|r| *r > revision)).await;
        self.revision()
    }
}
