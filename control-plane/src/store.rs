//! Storage behind a trait: records, the references between them, and client tokens.
//!
//! Every service call runs inside one transaction ([`Store::transact`]), so the checks it
//! makes (does the mesh exist, is the name free, does anything still point here) and the write
//! that follows are atomic. The embedded default is [`sqlite::SqliteStore`].

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

/// Durable storage for the control plane.
pub trait Store: Send + Sync + 'static {
    /// Runs `work` in one transaction, committed (and durable) if it returns `Ok`, rolled
    /// back otherwise.
    fn transact(
        &self,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<(), ApiError>,
    ) -> Result<(), ApiError>;

    /// Whether the storage answers.
    fn healthy(&self) -> bool;
}
