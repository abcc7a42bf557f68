//! What each API operation does: validation, referential rules, quotas, idempotency, and the
//! shape of every answer. Transport-free: the HTTP layer hands over parsed parameters and a
//! JSON body, and gets back a JSON value or an [`ApiError`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use appmesh_model::common::TagRef;
use appmesh_model::gateway_route::GatewayRouteSpec;
use appmesh_model::resource::{TagResourceBody, UntagResourceBody};
use appmesh_model::route::RouteSpec;
use appmesh_model::shape::Described as _;
use appmesh_model::virtual_gateway::VirtualGatewaySpec;
use appmesh_model::virtual_node::VirtualNodeSpec;
use appmesh_model::virtual_router::VirtualRouterSpec;
use appmesh_model::virtual_service::{VirtualServiceProvider, VirtualServiceSpec};
use appmesh_model::{rules, validate, Kind, Path, ResourceKey, Spec, Violation};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::access::{Access, AccessHandle, Identity};
use crate::config::Settings;
use crate::error::{ApiError, ErrorKind};
use crate::policy::{self, Decision};
use crate::store::{Record, Store, TokenRecord, Txn};

/// Items per page when a List call gives no `limit`.
const DEFAULT_PAGE: usize = 100;
/// The most tags one resource carries.
const MAX_TAGS: usize = 50;
/// How many dependants an "in use" message names.
const NAMED_DEPENDANTS: usize = 5;

/// The optional query parameters of the resource operations.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `meshOwner`: the account that owns the mesh.
    pub mesh_owner: Option<String>,
    /// `limit`: the page size of a List call, as sent.
    pub limit: Option<String>,
    /// `nextToken`: where a List call continues.
    pub next_token: Option<String>,
}

/// The App Mesh service over a store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    access: Arc<AccessHandle>,
    answers: Arc<Answers>,
}

/// How many Describe answers [`Answers`] keeps: ~700 bytes each, so about 11 MiB at most.
const CACHED_ANSWERS: usize = 16_384;

/// Describe answers as JSON text, all read at one revision of the store, by ARN.
///
/// A Describe is a hash lookup instead of a read transaction, two row lookups and a JSON
/// rendering (docs/benchmarks/describe-profile.md): the store read was a third of its CPU.
/// Only for a store that publishes every write to the database on its feed before
/// acknowledging it ([`Store::sees_every_write`]), so that the revision on the feed names
/// everything a client may already have been told is written. An answer cached at revision
/// R is served only while the feed still says R: any write empties the cache, so a Describe
/// never answers older data than a read transaction would. Who may see it (the caller's
/// policy, the mesh's sharing) is checked on every request before the lookup.
struct Answers {
    enabled: bool,
    at: Mutex<AnswersAt>,
}

#[derive(Default)]
struct AnswersAt {
    revision: u64,
    by_arn: HashMap<String, Bytes>,
}

impl Answers {
    fn new(enabled: bool) -> Self {
        Answers {
            enabled,
            at: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AnswersAt> {
        self.at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer for `arn` read at `revision`, if there is one.
    fn get(&self, revision: u64, arn: &str) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let at = self.lock();
        (at.revision == revision)
            .then(|| at.by_arn.get(arn).cloned())
            .flatten()
    }

    /// Keeps `answer`, read from a snapshot no older than `revision` (the feed's revision
    /// when the read began; newer answers are dropped, older ones emptied out).
    fn put(&self, revision: u64, arn: String, answer: &Bytes) {
        if !self.enabled {
            return;
        }
        let mut at = self.lock();
        if at.revision < revision {
            at.revision = revision;
            at.by_arn.clear();
        }
        if at.revision == revision && at.by_arn.len() < CACHED_ANSWERS {
            at.by_arn.insert(arn, answer.clone());
        }
    }
}

/// An operation's name as IAM policies and CloudTrail spell it, e.g. `CreateVirtualNode`.
pub fn action_name(verb: Verb, kind: Kind) -> String {
    match verb {
        Verb::List if kind == Kind::Mesh => "ListMeshes".to_owned(),
        Verb::List => format!("List{}s", kind.api_name()),
        _ => format!("{verb:?}{}", kind.api_name()),
    }
}

/// What an operation does to a resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `Create<Kind>`.
    Create,
    /// `Describe<Kind>`.
    Describe,
    /// `Update<Kind>`.
    Update,
    /// `Delete<Kind>`.
    Delete,
    /// `List<Kind>s`.
    List,
}

/// The account a call addresses: whose mesh, and who is asking.
struct Scope<'a> {
    /// The caller.
    caller: &'a Identity,
    /// The account that owns the mesh (`meshOwner`, else the caller's).
    space: String,
    /// The access file in force for this call.
    access: Arc<Access>,
}

impl Scope<'_> {
    fn is_owner(&self) -> bool {
        self.space == self.caller.account
    }
}

impl Service {
    /// A service answering from `store` with `settings`, admitting who `access` names.
    pub fn new(store: Arc<dyn Store>, settings: Settings, access: Arc<AccessHandle>) -> Self {
        let answers = Arc::new(Answers::new(store.sees_every_write()));
        Service {
            store,
            settings: Arc::new(settings),
            access,
            answers,
        }
    }

    /// The settings it answers with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The access file in force.
    pub fn access(&self) -> &AccessHandle {
        &self.access
    }

    /// Whether the storage answers.
    pub fn healthy(&self) -> bool {
        self.store.healthy()
    }

    /// The store's newest committed revision.
    pub fn revision(&self) -> u64 {
        self.store.feed().revision()
    }

    /// Whether reads may run on an async thread (see [`Store::reads_are_local`]).
    pub fn reads_are_local(&self) -> bool {
        self.store.reads_are_local()
    }

    /// The store, for what watches its change feed.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs `work` in a read-write transaction, durable when this returns.
    fn transact<T>(
        &self,
        mut work: impl FnMut(&mut dyn Txn) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut out = None;
        self.store.transact(&mut |txn| {
            out = Some(work(txn)?);
            Ok(())
        })?;
        out.ok_or_else(|| ApiError::internal("transaction produced no result"))
    }

    /// Runs `work` on committed state.
    fn read<T>(
        &self,
        mut work: impl FnMut(&mut dyn Txn) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut out = None;
        self.store.read(&mut |txn| {
            out = Some(work(txn)?);
            Ok(())
        })?;
        out.ok_or_else(|| ApiError::internal("read produced no result"))
    }

    /// The ARN of `key` in the mesh owner's account `space`.
    pub fn arn(&self, space: &str, key: &ResourceKey) -> String {
        key.arn(&self.settings.region, space)
    }

    // === Create / Describe / Update / Delete / List ===

    /// `Create<Kind>`: `container` holds the mesh and parent names from the URI (for a mesh,
    /// the mesh name comes from the body).
    pub fn create(
        &self,
        caller: &Identity,
        kind: Kind,
        container: &Container,
        query: &Query,
        body: &Value,
    ) -> Result<Value, ApiError> {
        container.validate(kind)?;
        let scope = self.scope(caller, query, kind == Kind::Mesh)?;
        reject(validate::validate(kind.create_shape(), body, &Path::root()))?;
        let name = body[kind.name_member()]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        reject(rules::check_name(
            kind,
            &name,
            &Path::root().key(kind.name_member()),
        ))?;
        let key = container.key(kind, name);
        self.authorize(
            &scope,
            &action_name(Verb::Create, kind),
            &self.arn(&scope.space, &key),
        )?;
        let spec = parse_spec(kind, body)?;
        let tags = parse_tags(body.get("tags"))?;
        let token = body.get("clientToken").and_then(Value::as_str);
        let fingerprint = fingerprint(&[
            "create",
            &scope.space,
            &key.to_string(),
            &spec.to_value().to_string(),
            &format!("{tags:?}"),
        ]);
        let token_scope = format!("{}:Create{}", caller.account, kind.api_name());

        self.transact(|txn| {
            if let Some(answer) = replay(txn, &token_scope, token, &fingerprint)? {
                return Ok(answer);
            }
            self.require_container(txn, &scope, &key)?;
            if matches!(kind, Kind::VirtualGateway | Kind::GatewayRoute) && !scope.is_owner() {
                return Err(ApiError::new(
                    ErrorKind::Forbidden,
                    format!(
                        "only the mesh owner ({}) can create {kind}s in mesh {}; account {} is a consumer of it",
                        scope.space, key.mesh, caller.account
                    ),
                ));
            }
            if let Some(parent) = key.parent_key() {
                let parent_record = self.find(txn, &scope, &parent)?;
                if parent_record.owner != caller.account {
                    return Err(ApiError::new(
                        ErrorKind::Forbidden,
                        format!(
                            "{} belongs to account {}; account {} cannot add {kind}s to it",
                            describe_key(&parent),
                            parent_record.owner,
                            caller.account
                        ),
                    ));
                }
            }
            if txn.get(&scope.space, &key)?.is_some() {
                return Err(ApiError::new(
                    ErrorKind::Conflict,
                    format!("{} already exists", describe_key(&key)),
                ));
            }
            let (quota, quota_name) = self.settings.quotas.per_container(kind);
            if txn.count(&scope.space, kind, &key.mesh, key.parent.as_deref())? >= quota {
                return Err(ApiError::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "cannot create {}: the {quota_name} quota of {quota} is reached",
                        describe_key(&key)
                    ),
                ));
            }
            self.check_backends_quota(&spec)?;
            let refs = check_references(txn, &scope.space, &key, &spec)?;
            let now = now_ms();
            let record = Record {
                key: key.clone(),
                uid: uuid::Uuid::new_v4().to_string(),
                version: 1,
                created_ms: now,
                updated_ms: now,
                spec: spec.to_value(),
                tags: tags.clone(),
                owner: caller.account.clone(),
            };
            txn.put(&scope.space, &record, &refs)?;
            let answer = self.data(&scope.space, &record, "ACTIVE");
            remember(txn, &token_scope, token, &fingerprint, &answer, now)?;
            Ok(answer)
        })
    }

    /// `Describe<Kind>`, answered as JSON text.
    pub fn describe(
        &self,
        caller: &Identity,
        key: &ResourceKey,
        query: &Query,
    ) -> Result<Bytes, ApiError> {
        validate_key(key)?;
        let scope = self.scope(caller, query, false)?;
        let arn = self.arn(&scope.space, key);
        self.authorize(&scope, &action_name(Verb::Describe, key.kind), &arn)?;
        // The revision before the read: its snapshot holds at least everything up to it.
        let revision = self.store.feed().revision();
        if self.is_visible(&scope, &key.mesh) {
            if let Some(answer) = self.answers.get(revision, &arn) {
                return Ok(answer);
            }
        }
        let data =
            self.read(|txn| Ok(self.data(&scope.space, &self.find(txn, &scope, key)?, "ACTIVE")))?;
        let answer = Bytes::from(data.to_string());
        self.answers.put(revision, arn, &answer);
        Ok(answer)
    }

    /// `Update<Kind>`: only the account that created a resource may change it, the mesh
    /// owner included.
    pub fn update(
        &self,
        caller: &Identity,
        key: &ResourceKey,
        query: &Query,
        body: &Value,
    ) -> Result<Value, ApiError> {
        validate_key(key)?;
        let scope = self.scope(caller, query, false)?;
        self.authorize(
            &scope,
            &action_name(Verb::Update, key.kind),
            &self.arn(&scope.space, key),
        )?;
        reject(validate::validate(
            key.kind.update_shape(),
            body,
            &Path::root(),
        ))?;
        let spec = parse_spec(key.kind, body)?;
        let token = body.get("clientToken").and_then(Value::as_str);
        let fingerprint = fingerprint(&[
            "update",
            &scope.space,
            &key.to_string(),
            &spec.to_value().to_string(),
        ]);
        let token_scope = format!("{}:Update{}", caller.account, key.kind.api_name());

        self.transact(|txn| {
            if let Some(answer) = replay(txn, &token_scope, token, &fingerprint)? {
                return Ok(answer);
            }
            let mut record = self.find(txn, &scope, key)?;
            if record.owner != caller.account {
                return Err(not_yours(caller, &record, "modify"));
            }
            self.check_backends_quota(&spec)?;
            let refs = check_references(txn, &scope.space, key, &spec)?;
            let now = now_ms();
            record.version += 1;
            record.updated_ms = now.max(record.updated_ms);
            record.spec = spec.to_value();
            txn.put(&scope.space, &record, &refs)?;
            let answer = self.data(&scope.space, &record, "ACTIVE");
            remember(txn, &token_scope, token, &fingerprint, &answer, now)?;
            Ok(answer)
        })
    }

    /// `Delete<Kind>`: refused while other resources depend on this one. The creator may
    /// delete a resource, and so may the mesh owner.
    pub fn delete(
        &self,
        caller: &Identity,
        key: &ResourceKey,
        query: &Query,
    ) -> Result<Value, ApiError> {
        validate_key(key)?;
        let scope = self.scope(caller, query, false)?;
        self.authorize(
            &scope,
            &action_name(Verb::Delete, key.kind),
            &self.arn(&scope.space, key),
        )?;
        self.transact(|txn| {
            let mut record = self.find(txn, &scope, key)?;
            if record.owner != caller.account && !scope.is_owner() {
                return Err(not_yours(caller, &record, "delete"));
            }
            let mut holders = txn.children(&scope.space, key, NAMED_DEPENDANTS)?;
            holders.extend(txn.referrers(&scope.space, key, NAMED_DEPENDANTS)?);
            if !holders.is_empty() {
                let names: Vec<String> = holders.iter().map(describe_key).collect();
                return Err(ApiError::new(
                    ErrorKind::ResourceInUse,
                    format!(
                        "{} is in use by {}; delete or change those first",
                        describe_key(key),
                        names.join(", ")
                    ),
                ));
            }
            txn.delete(&scope.space, key)?;
            record.updated_ms = now_ms().max(record.updated_ms);
            Ok(self.data(&scope.space, &record, "DELETED"))
        })
    }

    /// `List<Kind>s`: one page, in name order, continuing after `nextToken`. Meshes are the
    /// caller's own and those shared with it, ordered by name, then owner.
    pub fn list(
        &self,
        caller: &Identity,
        kind: Kind,
        container: &Container,
        query: &Query,
    ) -> Result<Value, ApiError> {
        container.validate(kind)?;
        let scope = self.scope(caller, query, kind == Kind::Mesh)?;
        let probe = container.key(kind, String::new());
        let resource = match probe
            .parent_key()
            .or_else(|| (kind != Kind::Mesh).then(|| ResourceKey::mesh(&probe.mesh)))
        {
            Some(parent) => self.arn(&scope.space, &parent),
            None => "*".to_owned(),
        };
        self.authorize(&scope, &action_name(Verb::List, kind), &resource)?;
        let limit = parse_limit(query.limit.as_deref(), 100)?;
        let token_scope = format!("{}|{}", scope.space, probe);
        let after = query
            .next_token
            .as_deref()
            .map(|t| decode_token(t, kind, &token_scope))
            .transpose()?;
        let (records, more) = self.read(|txn| {
            if kind == Kind::Mesh {
                return self.mesh_page(txn, &scope, after.as_deref(), limit);
            }
            self.require_container(txn, &scope, &probe)?;
            let mut page = txn.list(
                &scope.space,
                kind,
                &probe.mesh,
                probe.parent.as_deref(),
                after.as_deref(),
                limit + 1,
            )?;
            let more = page.len() > limit;
            page.truncate(limit);
            Ok((
                page.into_iter()
                    .map(|r| (scope.space.clone(), r))
                    .collect::<Vec<_>>(),
                more,
            ))
        })?;
        let mut out = Map::new();
        let items: Vec<Value> = records
            .iter()
            .map(|(space, r)| self.reference(space, r))
            .collect();
        if more {
            if let Some((space, last)) = records.last() {
                let after = match kind {
                    Kind::Mesh => format!("{}/{space}", last.key.name),
                    _ => last.key.name.clone(),
                };
                out.insert(
                    "nextToken".into(),
                    encode_token(kind, &token_scope, &after).into(),
                );
            }
        }
        out.insert(kind.collection().into(), Value::Array(items));
        Ok(Value::Object(out))
    }

    /// One page of the meshes `scope.caller` may see, after `after` (`name/owner`).
    #[allow(clippy::type_complexity)]
    fn mesh_page(
        &self,
        txn: &mut dyn Txn,
        scope: &Scope<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Record)>, bool), ApiError> {
        let (after_name, after_space) = match after {
            Some(a) => a.split_once('/').unwrap_or((a, "")),
            None => ("", ""),
        };
        let past =
            |name: &str, space: &str| after.is_none() || (name, space) > (after_name, after_space);
        let own = &scope.caller.account;
        let mut found: Vec<(String, Record)> = Vec::new();
        // The caller's own meshes: the one named `after_name` may still follow (same name, a
        // greater owner), then the rest in name order.
        if after.is_some() {
            if let Some(r) = txn.get(own, &ResourceKey::mesh(after_name))? {
                if past(after_name, own) {
                    found.push((own.clone(), r));
                }
            }
        }
        for r in txn.list(
            own,
            Kind::Mesh,
            "",
            None,
            after.map(|_| after_name),
            limit + 1,
        )? {
            found.push((own.clone(), r));
        }
        for (owner, mesh) in scope.access.shared_with(own) {
            if past(&mesh, &owner) {
                if let Some(r) = txn.get(&owner, &ResourceKey::mesh(&mesh))? {
                    found.push((owner, r));
                }
            }
        }
        found.sort_by(|(sa, a), (sb, b)| (&a.key.name, sa).cmp(&(&b.key.name, sb)));
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((found, more))
    }

    // === Tags ===

    /// `TagResource`: adds or overwrites tags; all or none are applied.
    pub fn tag_resource(
        &self,
        caller: &Identity,
        arn: Option<&str>,
        body: &Value,
    ) -> Result<Value, ApiError> {
        self.retag(caller, arn, "TagResource", TagResourceBody::SHAPE, body, |record, body| {
            let new_tags = parse_tags(body.get("tags"))?;
            for (k, v) in &new_tags {
                match record.tags.binary_search_by(|(have, _)| have.cmp(k)) {
                    Ok(i) => record.tags[i].1.clone_from(v),
                    Err(i) => record.tags.insert(i, (k.clone(), v.clone())),
                }
            }
            if record.tags.len() > MAX_TAGS {
                return Err(ApiError::new(
                    ErrorKind::TooManyTags,
                    format!(
                        "None of the tags were applied: {} would carry {} tags; the limit is {MAX_TAGS}",
                        describe_key(&record.key),
                        record.tags.len()
                    ),
                ));
            }
            Ok(())
        })
    }

    /// `UntagResource`: removes tags by key; absent keys are ignored.
    pub fn untag_resource(
        &self,
        caller: &Identity,
        arn: Option<&str>,
        body: &Value,
    ) -> Result<Value, ApiError> {
        self.retag(
            caller,
            arn,
            "UntagResource",
            UntagResourceBody::SHAPE,
            body,
            |record, body| {
                let body: UntagResourceBody = serde_json::from_value(body.clone())
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                record.tags.retain(|(k, _)| !body.tag_keys.contains(k));
                Ok(())
            },
        )
    }

    /// A tagging call: the ARN's resource, which only its creator may retag, changed by
    /// `edit` in one transaction once the body fits `shape`.
    fn retag(
        &self,
        caller: &Identity,
        arn: Option<&str>,
        action: &str,
        shape: &'static appmesh_model::shape::Shape,
        body: &Value,
        edit: impl Fn(&mut Record, &Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let (scope, key, arn) = self.resolve_arn(caller, arn)?;
        self.authorize(&scope, action, &arn)?;
        reject(validate::validate(shape, body, &Path::root()))?;
        self.transact(|txn| {
            let mut record = self.find(txn, &scope, &key)?;
            if record.owner != caller.account {
                return Err(not_yours(caller, &record, "change the tags of"));
            }
            edit(&mut record, body)?;
            let refs = stored_references(&record)?;
            txn.put(&scope.space, &record, &refs)?;
            Ok(json!({}))
        })
    }

    /// `ListTagsForResource`: one page of tags in key order; only the resource's creator
    /// sees them (tags belong to the account that set them).
    pub fn list_tags(
        &self,
        caller: &Identity,
        arn: Option<&str>,
        query: &Query,
    ) -> Result<Value, ApiError> {
        let (scope, key, arn) = self.resolve_arn(caller, arn)?;
        self.authorize(&scope, "ListTagsForResource", &arn)?;
        let limit = parse_limit(query.limit.as_deref(), 100)?;
        let token_scope = arn;
        let after = query
            .next_token
            .as_deref()
            .map(|t| decode_token(t, key.kind, &token_scope))
            .transpose()?;
        let record = self.read(|txn| self.find(txn, &scope, &key))?;
        if record.owner != caller.account {
            return Err(not_yours(caller, &record, "list the tags of"));
        }
        let mut rest = record
            .tags
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a));
        let page: Vec<&(String, String)> = rest.by_ref().take(limit).collect();
        let mut out = Map::new();
        out.insert(
            "tags".into(),
            page.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect::<Vec<_>>()
                .into(),
        );
        if rest.next().is_some() {
            if let Some((last, _)) = page.last() {
                out.insert(
                    "nextToken".into(),
                    encode_token(key.kind, &token_scope, last).into(),
                );
            }
        }
        Ok(Value::Object(out))
    }

    // === helpers ===

    /// Whose mesh a call addresses: `meshOwner` if given (never for CreateMesh/ListMeshes,
    /// which act in the caller's own account), else the caller's account.
    fn scope<'a>(
        &self,
        caller: &'a Identity,
        query: &Query,
        own_only: bool,
    ) -> Result<Scope<'a>, ApiError> {
        let space = mesh_space(caller, query, own_only);
        if space != caller.account {
            reject(validate::validate(
                appmesh_model::common::ACCOUNT_ID,
                &json!(space),
                &Path::root().key("meshOwner"),
            ))?;
        }
        let space = space.to_owned();
        Ok(Scope {
            caller,
            space,
            access: self.access.current(),
        })
    }

    /// Evaluates the caller's policies (if it has any) for `appmesh:<action>` on `resource`.
    fn authorize(&self, scope: &Scope<'_>, action: &str, resource: &str) -> Result<(), ApiError> {
        let Some(policies) = &scope.caller.policies else {
            return Ok(());
        };
        let action = format!("appmesh:{action}");
        let why = match policy::evaluate(policies, &action, resource) {
            Decision::Allow => return Ok(()),
            Decision::ExplicitDeny => "with an explicit deny in an identity-based policy",
            Decision::ImplicitDeny => "because no identity-based policy allows the action",
        };
        Err(ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
                scope.caller.arn
            ),
        ))
    }

    /// The resource an ARN names, in its mesh owner's space, with the ARN in canonical form.
    fn resolve_arn<'a>(
        &self,
        caller: &'a Identity,
        arn: Option<&str>,
    ) -> Result<(Scope<'a>, ResourceKey, String), ApiError> {
        let arn = arn.ok_or_else(|| ApiError::bad_request("resourceArn is required"))?;
        let (region, account, key) = ResourceKey::parse_arn(arn).ok_or_else(|| {
            ApiError::bad_request(format!(
                "resourceArn {arn:?} is not an App Mesh resource ARN"
            ))
        })?;
        if region != self.settings.region {
            return Err(ApiError::not_found(format!(
                "resourceArn {arn:?} names a resource in region {region}; this control plane serves {}",
                self.settings.region
            )));
        }
        validate_key(&key)
            .map_err(|e| ApiError::bad_request(format!("resourceArn {arn:?}: {}", e.message)))?;
        let scope = Scope {
            caller,
            space: account,
            access: self.access.current(),
        };
        let arn = self.arn(&scope.space, &key);
        Ok((scope, key, arn))
    }

    /// The resource, or NotFound naming the first missing link (mesh, parent, resource).
    fn find(
        &self,
        txn: &mut dyn Txn,
        scope: &Scope<'_>,
        key: &ResourceKey,
    ) -> Result<Record, ApiError> {
        if key.kind == Kind::Mesh {
            return self.mesh_record(txn, scope, &key.name);
        }
        self.require_container(txn, scope, key)?;
        txn.get(&scope.space, key)?
            .ok_or_else(|| ApiError::not_found(format!("{} not found", describe_key(key))))
    }

    /// The mesh, if it exists and is the caller's or shared with it.
    fn mesh_record(
        &self,
        txn: &mut dyn Txn,
        scope: &Scope<'_>,
        mesh: &str,
    ) -> Result<Record, ApiError> {
        match txn.get(&scope.space, &ResourceKey::mesh(mesh))? {
            Some(record) if self.is_visible(scope, mesh) => Ok(record),
            _ if scope.is_owner() => Err(ApiError::not_found(format!("mesh {mesh} not found"))),
            _ => Err(ApiError::not_found(format!(
                "mesh {mesh} of account {} not found, or not shared with account {}",
                scope.space, scope.caller.account
            ))),
        }
    }

    /// Whether the caller may see the mesh `mesh` of the scope's account (if it exists):
    /// its own, or shared with it.
    fn is_visible(&self, scope: &Scope<'_>, mesh: &str) -> bool {
        scope.is_owner()
            || scope
                .access
                .is_shared(&scope.space, mesh, &scope.caller.account)
    }

    /// NotFound unless the mesh (and router or gateway) holding `key` exist and are visible.
    fn require_container(
        &self,
        txn: &mut dyn Txn,
        scope: &Scope<'_>,
        key: &ResourceKey,
    ) -> Result<(), ApiError> {
        if key.kind == Kind::Mesh {
            return Ok(());
        }
        self.mesh_record(txn, scope, &key.mesh)?;
        if let Some(parent) = key.parent_key() {
            if txn.get(&scope.space, &parent)?.is_none() {
                return Err(ApiError::not_found(format!(
                    "{} not found",
                    describe_key(&parent)
                )));
            }
        }
        Ok(())
    }

    fn check_backends_quota(&self, spec: &Spec) -> Result<(), ApiError> {
        if let Spec::VirtualNode(s) = spec {
            let n = s.backends.as_ref().map_or(0, Vec::len);
            let quota = self.settings.quotas.backends_per_virtual_node;
            if n > quota {
                return Err(ApiError::new(
                    ErrorKind::LimitExceeded,
                    format!("spec.backends has {n} backends; the backends-per-virtual-node quota is {quota}"),
                ));
            }
        }
        Ok(())
    }

    fn metadata(&self, space: &str, r: &Record) -> Value {
        json!({
            "arn": self.arn(space, &r.key),
            "createdAt": seconds(r.created_ms),
            "lastUpdatedAt": seconds(r.updated_ms),
            "meshOwner": space,
            "resourceOwner": r.owner,
            "uid": r.uid,
            "version": r.version,
        })
    }

    /// The `XxxData` body of a resource.
    fn data(&self, space: &str, r: &Record, status: &str) -> Value {
        let mut out = names(&r.key);
        out.insert("metadata".into(), self.metadata(space, r));
        out.insert("spec".into(), r.spec.clone());
        out.insert("status".into(), json!({ "status": status }));
        Value::Object(out)
    }

    /// The `XxxRef` item of a List answer.
    fn reference(&self, space: &str, r: &Record) -> Value {
        let mut out = names(&r.key);
        if let Value::Object(meta) = self.metadata(space, r) {
            out.extend(meta.into_iter().filter(|(k, _)| k != "uid"));
        }
        Value::Object(out)
    }
}

/// The account whose mesh a call addresses: `meshOwner` if given, except for calls that act
/// in the caller's own account only (`own_only`: CreateMesh, ListMeshes).
pub fn mesh_space<'a>(caller: &'a Identity, query: &'a Query, own_only: bool) -> &'a str {
    match &query.mesh_owner {
        Some(owner) if !own_only => owner,
        _ => &caller.account,
    }
}

/// Forbidden: the resource was created by another account.
fn not_yours(caller: &Identity, record: &Record, what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        format!(
            "{} was created by account {}; account {} cannot {what} it",
            describe_key(&record.key),
            record.owner,
            caller.account
        ),
    )
}

/// The mesh and parent names a URI gives: all of them for children, none for a mesh.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// The mesh name from the URI.
    pub mesh: Option<String>,
    /// The virtual router or gateway name from the URI.
    pub parent: Option<String>,
}

/// The names in an item URI must be valid names.
fn validate_key(key: &ResourceKey) -> Result<(), ApiError> {
    let container = Container {
        mesh: Some(key.mesh.clone()),
        parent: key.parent.clone(),
    };
    container.validate(key.kind)?;
    if key.kind != Kind::Mesh {
        let path = Path::root().key(key.kind.name_member());
        reject(rules::validate_name(key.kind, &key.name, &path))?;
    }
    Ok(())
}

impl Container {
    /// The key of the resource called `name` in this container.
    pub fn key_of(&self, kind: Kind, name: &str) -> ResourceKey {
        self.key(kind, name.to_owned())
    }

    fn key(&self, kind: Kind, name: String) -> ResourceKey {
        match kind {
            Kind::Mesh => ResourceKey::mesh(name),
            _ => ResourceKey {
                kind,
                mesh: self.mesh.clone().unwrap_or_default(),
                parent: self.parent.clone(),
                name,
            },
        }
    }

    /// The URI's names must be valid names of their kinds (`rules::validate_name`).
    fn validate(&self, kind: Kind) -> Result<(), ApiError> {
        let mut v = Vec::new();
        if let Some(mesh) = &self.mesh {
            v.extend(rules::validate_name(
                Kind::Mesh,
                mesh,
                &Path::root().key("meshName"),
            ));
        }
        if let (Some(parent), Some(parent_kind)) = (&self.parent, kind.parent()) {
            v.extend(rules::validate_name(
                parent_kind,
                parent,
                &Path::root().key(parent_kind.name_member()),
            ));
        }
        reject(v)
    }
}

fn reject(violations: Vec<Violation>) -> Result<(), ApiError> {
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&violations))
    }
}

fn parse_spec(kind: Kind, body: &Value) -> Result<Spec, ApiError> {
    let empty = json!({});
    let value = match body.get("spec") {
        None | Some(Value::Null) => &empty,
        Some(v) => v,
    };
    let mut spec =
        Spec::parse(kind, value, &Path::root().key("spec")).map_err(|v| ApiError::invalid(&v))?;
    rules::fill_service_defaults(&mut spec);
    Ok(spec)
}

/// Tags sorted by key; duplicate keys and the reserved `aws:` prefix are refused.
fn parse_tags(value: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let tags: Vec<TagRef> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::bad_request(format!("tags: {e}")))?,
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.into_iter().enumerate() {
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::bad_request(format!(
                "tags[{i}].key {:?} uses the reserved prefix aws:",
                tag.key
            )));
        }
        match out.binary_search_by(|(k, _)| k.cmp(&tag.key)) {
            Ok(_) => {
                return Err(ApiError::bad_request(format!(
                    "tags[{i}].key {:?} is given twice",
                    tag.key
                )))
            }
            Err(at) => out.insert(at, (tag.key, tag.value)),
        }
    }
    Ok(out)
}

/// `limit`: a whole number from 1 to `max`; `DEFAULT_PAGE` when absent.
fn parse_limit(limit: Option<&str>, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = limit else {
        return Ok(DEFAULT_PAGE.min(max));
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit must be a whole number from 1 to {max} (found {raw:?})"
        ))),
    }
}

/// A page token: opaque to clients, bound to the list it came from, and holding the last
/// key returned so the next page starts with an index seek (its cost does not grow with the
/// offset).
fn encode_token(kind: Kind, scope: &str, after: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        json!({ "v": 1, "kind": kind.api_name(), "scope": scope, "after": after }).to_string(),
    )
}

fn decode_token(token: &str, kind: Kind, scope: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::bad_request("nextToken is not a token this list returned");
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if value["v"] != 1 || value["kind"] != kind.api_name() || value["scope"] != scope {
        return Err(invalid());
    }
    value["after"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(invalid)
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The earlier answer to a retried request, or Conflict if the token was used differently.
fn replay(
    txn: &mut dyn Txn,
    scope: &str,
    token: Option<&str>,
    fingerprint: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    match txn.token(scope, token)? {
        None => Ok(None),
        Some(t) if t.fingerprint == fingerprint => Ok(Some(
            serde_json::from_str(&t.response).map_err(ApiError::internal)?,
        )),
        Some(_) => Err(ApiError::new(
            ErrorKind::Conflict,
            format!("clientToken {token:?} was already used for a different {scope} request"),
        )),
    }
}

fn remember(
    txn: &mut dyn Txn,
    scope: &str,
    token: Option<&str>,
    fingerprint: &str,
    answer: &Value,
    now: i64,
) -> Result<(), ApiError> {
    if let Some(token) = token {
        let record = TokenRecord {
            fingerprint: fingerprint.to_owned(),
            response: answer.to_string(),
        };
        txn.put_token(scope, token, &record, now)?;
    }
    Ok(())
}

/// The name members of a resource's `XxxData` and `XxxRef`.
fn names(key: &ResourceKey) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("meshName".into(), json!(key.mesh));
    if let (Some(parent_kind), Some(parent)) = (key.kind.parent(), &key.parent) {
        out.insert(parent_kind.name_member().into(), json!(parent));
    }
    if key.kind != Kind::Mesh {
        out.insert(key.kind.name_member().into(), json!(key.name));
    }
    out
}

/// "virtual node serviceB in mesh apps", "route r of virtual router vr in mesh apps".
fn describe_key(key: &ResourceKey) -> String {
    match (key.kind, key.kind.parent(), &key.parent) {
        (Kind::Mesh, _, _) => format!("mesh {}", key.name),
        (kind, Some(pk), Some(p)) => {
            format!("{kind} {} of {pk} {p} in mesh {}", key.name, key.mesh)
        }
        (kind, _, _) => format!("{kind} {} in mesh {}", key.name, key.mesh),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

// === references between resources ===

/// The resources a spec points at whose deletion it should block.
fn references(key: &ResourceKey, spec: &Spec) -> Vec<ResourceKey> {
    let to = |kind, name: &str| ResourceKey::in_mesh(kind, &key.mesh, name);
    match spec {
        Spec::VirtualService(s) => match &s.provider {
            Some(VirtualServiceProvider::VirtualNode(n)) => {
                vec![to(Kind::VirtualNode, &n.virtual_node_name)]
            }
            Some(VirtualServiceProvider::VirtualRouter(r)) => {
                vec![to(Kind::VirtualRouter, &r.virtual_router_name)]
            }
            None => Vec::new(),
        },
        Spec::Route(s) => s
            .weighted_targets()
            .iter()
            .map(|t| to(Kind::VirtualNode, &t.virtual_node))
            .collect(),
        Spec::GatewayRoute(s) => s
            .target()
            .map(|t| {
                vec![to(
                    Kind::VirtualService,
                    &t.virtual_service.virtual_service_name,
                )]
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn stored_references(record: &Record) -> Result<Vec<ResourceKey>, ApiError> {
    let spec =
        Spec::parse(record.key.kind, &record.spec, &Path::root().key("spec")).map_err(|v| {
            ApiError::internal(format_args!(
                "stored spec of {} no longer parses: {v:?}",
                record.key
            ))
        })?;
    Ok(references(&record.key, &spec))
}

fn load<T: serde::de::DeserializeOwned>(
    txn: &mut dyn Txn,
    space: &str,
    key: &ResourceKey,
) -> Result<Option<T>, ApiError> {
    txn.get(space, key)?
        .map(|r| {
            serde_json::from_value(r.spec)
                .map_err(|e| ApiError::internal(format_args!("stored spec of {key}: {e}")))
        })
        .transpose()
}

fn node_ports(spec: &VirtualNodeSpec) -> Vec<i32> {
    spec.listeners
        .iter()
        .flatten()
        .map(|l| l.port_mapping.port)
        .collect()
}

fn router_ports(spec: &VirtualRouterSpec) -> Vec<i32> {
    spec.listeners
        .iter()
        .flatten()
        .map(|l| l.port_mapping.port)
        .collect()
}

fn gateway_ports(spec: &VirtualGatewaySpec) -> Vec<i32> {
    spec.listeners.iter().map(|l| l.port_mapping.port).collect()
}

/// With several listeners a port must be named; a named port must be one of the listeners'.
fn check_port(port: Option<i32>, ports: &[i32], owner: &str, path: Path) -> Result<(), ApiError> {
    match port {
        None if ports.len() > 1 => Err(ApiError::bad_request(format!(
            "{path} is required because {owner} has {} listeners",
            ports.len()
        ))),
        Some(p) if !ports.is_empty() && !ports.contains(&p) => Err(ApiError::bad_request(format!(
            "{path} {p} is not a listener port of {owner} (ports: {ports:?})"
        ))),
        _ => Ok(()),
    }
}

/// Checks what a spec points at (targets, providers, listener ports) and returns the
/// references to record.
fn check_references(
    txn: &mut dyn Txn,
    space: &str,
    key: &ResourceKey,
    spec: &Spec,
) -> Result<Vec<ResourceKey>, ApiError> {
    let spec_path = Path::root().key("spec");
    let missing = |path: Path, target: &ResourceKey| {
        ApiError::not_found(format!("{path}: {} not found", describe_key(target)))
    };
    match spec {
        Spec::VirtualService(VirtualServiceSpec { provider: Some(p) }) => {
            let (target, path) = match p {
                VirtualServiceProvider::VirtualNode(n) => (
                    ResourceKey::in_mesh(Kind::VirtualNode, &key.mesh, &n.virtual_node_name),
                    spec_path
                        .key("provider")
                        .key("virtualNode")
                        .key("virtualNodeName"),
                ),
                VirtualServiceProvider::VirtualRouter(r) => (
                    ResourceKey::in_mesh(Kind::VirtualRouter, &key.mesh, &r.virtual_router_name),
                    spec_path
                        .key("provider")
                        .key("virtualRouter")
                        .key("virtualRouterName"),
                ),
            };
            if txn.get(space, &target)?.is_none() {
                return Err(missing(path, &target));
            }
        }
        Spec::Route(route) => check_route(txn, space, key, route, &spec_path)?,
        Spec::GatewayRoute(route) => check_gateway_route(txn, space, key, route, &spec_path)?,
        _ => {}
    }
    Ok(references(key, spec))
}

fn route_kind(route: &RouteSpec) -> (&'static str, Option<i32>) {
    if let Some(r) = &route.http_route {
        ("httpRoute", r.r#match.port)
    } else if let Some(r) = &route.http2_route {
        ("http2Route", r.r#match.port)
    } else if let Some(r) = &route.grpc_route {
        ("grpcRoute", r.r#match.port)
    } else {
        (
            "tcpRoute",
            route
                .tcp_route
                .as_ref()
                .and_then(|r| r.r#match.as_ref())
                .and_then(|m| m.port),
        )
    }
}

fn check_route(
    txn: &mut dyn Txn,
    space: &str,
    key: &ResourceKey,
    route: &RouteSpec,
    spec_path: &Path,
) -> Result<(), ApiError> {
    let (kind_name, match_port) = route_kind(route);
    let kp = spec_path.key(kind_name);
    if let Some(router_key) = key.parent_key() {
        if let Some(router) = load::<VirtualRouterSpec>(txn, space, &router_key)? {
            check_port(
                match_port,
                &router_ports(&router),
                &describe_key(&router_key),
                kp.key("match").key("port"),
            )?;
        }
    }
    for (i, target) in route.weighted_targets().iter().enumerate() {
        let tp = kp.key("action").key("weightedTargets").index(i);
        let node_key = ResourceKey::in_mesh(Kind::VirtualNode, &key.mesh, &target.virtual_node);
        let Some(node) = load::<VirtualNodeSpec>(txn, space, &node_key)? else {
            return Err(ApiError::not_found(format!(
                "{}: {} not found",
                tp.key("virtualNode"),
                describe_key(&node_key)
            )));
        };
        check_port(
            target.port,
            &node_ports(&node),
            &describe_key(&node_key),
            tp.key("port"),
        )?;
    }
    Ok(())
}

fn check_gateway_route(
    txn: &mut dyn Txn,
    space: &str,
    key: &ResourceKey,
    route: &GatewayRouteSpec,
    spec_path: &Path,
) -> Result<(), ApiError> {
    let (kind_name, match_port) = if let Some(r) = &route.http_route {
        ("httpRoute", r.r#match.port)
    } else if let Some(r) = &route.http2_route {
        ("http2Route", r.r#match.port)
    } else {
        (
            "grpcRoute",
            route.grpc_route.as_ref().and_then(|r| r.r#match.port),
        )
    };
    let kp = spec_path.key(kind_name);
    if let Some(gateway_key) = key.parent_key() {
        if let Some(gateway) = load::<VirtualGatewaySpec>(txn, space, &gateway_key)? {
            check_port(
                match_port,
                &gateway_ports(&gateway),
                &describe_key(&gateway_key),
                kp.key("match").key("port"),
            )?;
        }
    }
    let Some(target) = route.target() else {
        return Ok(());
    };
    let tp = kp.key("action").key("target");
    let service_key = ResourceKey::in_mesh(
        Kind::VirtualService,
        &key.mesh,
        &target.virtual_service.virtual_service_name,
    );
    let Some(service) = load::<VirtualServiceSpec>(txn, space, &service_key)? else {
        return Err(ApiError::not_found(format!(
            "{}: {} not found",
            tp.key("virtualService").key("virtualServiceName"),
            describe_key(&service_key)
        )));
    };
    let provider = match &service.provider {
        Some(VirtualServiceProvider::VirtualNode(n)) => {
            let k = ResourceKey::in_mesh(Kind::VirtualNode, &key.mesh, &n.virtual_node_name);
            load::<VirtualNodeSpec>(txn, space, &k)?.map(|s| (node_ports(&s), k))
        }
        Some(VirtualServiceProvider::VirtualRouter(r)) => {
            let k = ResourceKey::in_mesh(Kind::VirtualRouter, &key.mesh, &r.virtual_router_name);
            load::<VirtualRouterSpec>(txn, space, &k)?.map(|s| (router_ports(&s), k))
        }
        None => None,
    };
    if let Some((ports, provider_key)) = provider {
        let owner = format!(
            "{} (the provider of {})",
            describe_key(&provider_key),
            describe_key(&service_key)
        );
        check_port(target.port, &ports, &owner, tp.key("port"))?;
    }
    Ok(())
}
