//! The one resource implementation, bound to a [`ResourceDef`]: validate, plan, create, read,
//! update, delete and import for any App Mesh kind. What differs between kinds comes from
//! the model (names, spec shape, parent) and the description; nothing here is per field.

use std::collections::BTreeMap;

use appmesh_model::shape::Shape;
use appmesh_model::validate::{validate, Path, Violation};
use appmesh_model::{rules, Kind, ResourceKey, Spec};
use async_trait::async_trait;
use http::Method;
use serde_json::{json, Value as Json};
use tf_provider::schema::Schema;
use tf_provider::value::ValueAny;
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::client::{collection_path, item_path, ApiError};
use crate::convert::{apply_defaults, expand, flatten, tf_path, tf_words};
use crate::describe::ResourceDef;
use crate::provider::{Configured, Shared};
use crate::schema::{parent_attribute, resource_schema};
use crate::value::{get_str, get_string_map, is_unknown, rfc3339, string_map, Obj};

/// Attributes the provider computes.
const COMPUTED: [&str; 5] = [
    "id",
    "arn",
    "created_date",
    "last_updated_date",
    "resource_owner",
];

/// A Terraform resource type for one App Mesh kind.
pub struct AppMeshResource {
    def: &'static ResourceDef,
    shared: Shared,
}

impl AppMeshResource {
    /// The resource type described by `def`, using the provider's shared configuration.
    pub fn new(def: &'static ResourceDef, shared: Shared) -> Self {
        AppMeshResource { def, shared }
    }

    fn kind(&self) -> Kind {
        self.def.kind
    }

    fn shape(&self) -> &'static Shape {
        self.def.kind.spec_shape()
    }

    fn configured(&self, diags: &mut Diagnostics) -> Option<std::sync::Arc<Configured>> {
        let slot = self.shared.read().unwrap_or_else(|p| p.into_inner());
        let configured = slot.clone();
        if configured.is_none() {
            diags.root_error_short("the App Mesh provider is not configured");
        }
        configured
    }

    /// The resource's identity from its state or plan.
    fn key(&self, o: &Obj) -> Option<ResourceKey> {
        let name = get_str(o, "name")?;
        Some(match self.kind() {
            Kind::Mesh => ResourceKey::mesh(name),
            kind => ResourceKey {
                kind,
                mesh: get_str(o, "mesh_name")?,
                parent: match parent_attribute(kind) {
                    Some(attr) => Some(get_str(o, attr)?),
                    None => None,
                },
                name,
            },
        })
    }

    fn query(&self, o: &Obj) -> Vec<(&'static str, String)> {
        match (self.kind(), get_str(o, "mesh_owner")) {
            (Kind::Mesh, _) | (_, None) => Vec::new(),
            (_, Some(owner)) => vec![("meshOwner", owner)],
        }
    }

    fn fail(
        &self,
        diags: &mut Diagnostics,
        verb: &str,
        key: &ResourceKey,
        e: impl std::fmt::Display,
    ) {
        diags.root_error_short(format!("{verb} App Mesh {} ({key}): {e}", self.def.human));
    }

    /// The state for an API answer (`XxxData`) and the resource's tags.
    fn state(
        &self,
        data: &Json,
        all_tags: &BTreeMap<String, String>,
        prior: Option<&Obj>,
        default_tags: &BTreeMap<String, String>,
    ) -> ValueAny {
        let prior_tags = prior.and_then(|p| get_string_map(p, "tags"));
        let kind = self.kind();
        let meta = &data["metadata"];
        let text = |v: &Json| {
            v.as_str()
                .map_or(ValueAny::Null, |s| ValueAny::String(s.to_owned()))
        };
        let mut o = Obj::new();
        let name = text(&data[kind.name_member()]);
        o.insert(
            "id".into(),
            if kind == Kind::Mesh {
                name.clone()
            } else {
                text(&meta["uid"])
            },
        );
        o.insert("name".into(), name);
        if kind != Kind::Mesh {
            o.insert("mesh_name".into(), text(&data["meshName"]));
        }
        if let (Some(attr), Some(pk)) = (parent_attribute(kind), kind.parent()) {
            o.insert(attr.into(), text(&data[pk.name_member()]));
        }
        o.insert("arn".into(), text(&meta["arn"]));
        o.insert("mesh_owner".into(), text(&meta["meshOwner"]));
        o.insert("resource_owner".into(), text(&meta["resourceOwner"]));
        let date = |v: &Json| {
            v.as_f64()
                .map_or(ValueAny::Null, |s| ValueAny::String(rfc3339(s)))
        };
        o.insert("created_date".into(), date(&meta["createdAt"]));
        o.insert("last_updated_date".into(), date(&meta["lastUpdatedAt"]));
        // A mesh, whose spec is optional, reads an empty spec back as no block unless the
        // configuration wrote an empty `spec {}`.
        let empty = data
            .get("spec")
            .and_then(Json::as_object)
            .is_none_or(|o| o.is_empty());
        let wrote_block = prior
            .and_then(|p| p.get("spec"))
            .is_some_and(|s| matches!(s, ValueAny::List(b) if !b.is_empty()));
        let spec = if self.kind() == Kind::Mesh && empty && !wrote_block {
            ValueAny::List(Vec::new())
        } else {
            flatten(self.shape(), data.get("spec"))
        };
        o.insert("spec".into(), spec);
        o.insert("tags_all".into(), string_map(all_tags));
        o.insert(
            "tags".into(),
            own_tags(all_tags, prior_tags.as_ref(), default_tags),
        );
        ValueAny::Map(o)
    }

    async fn tags_of(
        &self,
        configured: &Configured,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let mut tags = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("resourceArn", arn.to_owned())];
            if let Some(t) = &token {
                query.push(("nextToken", t.clone()));
            }
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = configured
                .client
                .call(Method::GET, "/v20190125/tags", &q, None)
                .await?;
            for t in page["tags"].as_array().into_iter().flatten() {
                if let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str()) {
                    tags.insert(k.to_owned(), v.to_owned());
                }
            }
            match page["nextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(tags),
            }
        }
    }

    /// Describe + tags; `None` when the resource is gone.
    async fn fetch(
        &self,
        configured: &Configured,
        key: &ResourceKey,
        query: &[(&str, String)],
    ) -> Result<Option<(Json, BTreeMap<String, String>)>, ApiError> {
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let data = match configured
            .client
            .call(Method::GET, &item_path(key), &q, None)
            .await
        {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if data["status"]["status"] == "DELETED" {
            return Ok(None);
        }
        let arn = data["metadata"]["arn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let tags = self.tags_of(configured, &arn).await?;
        Ok(Some((data, tags)))
    }

    /// Validates a configuration the way the API would, reporting on Terraform paths.
    fn check(&self, diags: &mut Diagnostics, config: &Obj) {
        let kind = self.kind();
        let mut scalar = |attr: &str, shape: &'static Shape, api_name: &str| {
            if let Some(v) = get_str(config, attr) {
                for violation in validate(shape, &json!(v), &Path::root().key(api_name)) {
                    diags.error_short(violation.to_string(), AttributePath::new(attr.to_owned()));
                }
            }
        };
        scalar("name", kind.name_shape(), kind.name_member());
        if kind != Kind::Mesh {
            scalar(
                "mesh_name",
                appmesh_model::common::RESOURCE_NAME,
                "meshName",
            );
            scalar("mesh_owner", appmesh_model::common::ACCOUNT_ID, "meshOwner");
        }
        if let (Some(attr), Some(pk)) = (parent_attribute(kind), kind.parent()) {
            scalar(attr, appmesh_model::common::RESOURCE_NAME, pk.name_member());
        }
        if let Some(name) = get_str(config, "name") {
            for v in rules::check_name(kind, &name, &Path::root().key("name")) {
                diags.error_short(format!("name {}", v.problem), AttributePath::new("name"));
            }
        }
        if let Some(tags) = get_string_map(config, "tags") {
            check_tags(diags, &tags);
        }

        let spec = config.get("spec").cloned().unwrap_or(ValueAny::Null);
        let present = matches!(&spec, ValueAny::List(items) if !items.is_empty())
            || spec == ValueAny::Unknown;
        if !present {
            if kind != Kind::Mesh {
                diags.error_short("a spec block is required", AttributePath::new("spec"));
            }
            return;
        }
        let mut spec = spec;
        apply_defaults(self.shape(), &mut spec);
        let mut unknown = Vec::new();
        let Some(json) = expand(self.shape(), &spec, &Path::root().key("spec"), &mut unknown)
        else {
            return;
        };
        let path = Path::root().key("spec");
        let relevant = |v: &Violation| !unknown.iter().any(|u| related(&v.path, u));
        let shape_violations: Vec<Violation> =
            validate(self.shape(), &json, &path).into_iter().collect();
        if !shape_violations.is_empty() {
            for v in shape_violations.iter().filter(|v| relevant(v)) {
                self.report(diags, v);
            }
            return;
        }
        if unknown.is_empty() {
            if let Err(violations) = Spec::parse(kind, &json, &path) {
                for v in &violations {
                    self.report(diags, v);
                }
            }
        }
    }

    fn report(&self, diags: &mut Diagnostics, v: &Violation) {
        let (at, text) = tf_path(self.shape(), &v.path);
        diags.error(
            format!("{text} {}", tf_words(self.shape(), &v.problem)),
            format!(
                "The App Mesh API would reject this {}: {v}.",
                self.def.human
            ),
            at,
        );
    }

    /// The API request body of a spec block, or `None` when absent.
    fn spec_json(&self, o: &Obj) -> Option<Json> {
        let mut unknown = Vec::new();
        o.get("spec")
            .and_then(|s| expand(self.shape(), s, &Path::root().key("spec"), &mut unknown))
    }

    fn planned_tags_all(&self, o: &Obj, default_tags: &BTreeMap<String, String>) -> ValueAny {
        match o.get("tags") {
            Some(t) if is_unknown(t) => ValueAny::Unknown,
            _ => {
                let mut all = default_tags.clone();
                all.extend(get_string_map(o, "tags").unwrap_or_default());
                string_map(&all)
            }
        }
    }
}

/// Whether a violation at `v` concerns a value that was unknown at `u` (the same member,
/// one inside it, or the union or list holding it).
fn related(v: &Path, u: &Path) -> bool {
    let (v, u) = (v.steps(), u.steps());
    v.starts_with(u) || u.starts_with(v)
}

/// The tags to show as the resource's own: everything except what `default_tags` supplies,
/// unless the configuration names the key itself.
fn own_tags(
    all: &BTreeMap<String, String>,
    prior: Option<&BTreeMap<String, String>>,
    default_tags: &BTreeMap<String, String>,
) -> ValueAny {
    let mine: BTreeMap<String, String> = all
        .iter()
        .filter(|(k, v)| {
            prior.is_some_and(|p| p.contains_key(*k)) || default_tags.get(*k) != Some(*v)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if mine.is_empty() && prior.is_none() {
        ValueAny::Null
    } else {
        string_map(&mine)
    }
}

fn check_tags(diags: &mut Diagnostics, tags: &BTreeMap<String, String>) {
    let shape = appmesh_model::common::TAG_LIST;
    let list: Vec<Json> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    for v in validate(shape, &Json::Array(list), &Path::root().key("tags")) {
        diags.error_short(v.to_string(), AttributePath::new("tags"));
    }
    for k in tags
        .keys()
        .filter(|k| k.to_ascii_lowercase().starts_with("aws:"))
    {
        diags.error_short(
            format!("tag key {k:?} uses the reserved prefix aws:"),
            AttributePath::new("tags").key(k.clone()),
        );
    }
}

fn tag_list(tags: &BTreeMap<String, String>) -> Json {
    Json::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn decode(diags: &mut Diagnostics, v: ValueAny) -> Option<Obj> {
    match v {
        ValueAny::Map(m) => Some(m),
        _ => {
            diags.root_error_short("expected an object");
            None
        }
    }
}

fn encode(o: Obj) -> ValueAny {
    ValueAny::Map(o)
}

#[async_trait]
impl Resource for AppMeshResource {
    type State<'a> = ValueAny;
    type PrivateState<'a> = ValueAny;
    type ProviderMetaState<'a> = ValueAny;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(resource_schema(self.def))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<()> {
        let config = decode(diags, config)?;
        self.check(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ValueAny,
        private_state: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny)> {
        let state = decode(diags, state)?;
        let configured = self.configured(diags)?;
        let key = self.key(&state)?;
        match self.fetch(&configured, &key, &self.query(&state)).await {
            Ok(Some((data, tags))) => {
                let fresh = self.state(&data, &tags, Some(&state), &configured.default_tags);
                Some((fresh, private_state))
            }
            Ok(None) => None,
            Err(e) => {
                self.fail(diags, "reading", &key, e);
                Some((encode(state), private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: ValueAny,
        _config: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny)> {
        let mut planned = decode(diags, proposed)?;
        let configured = self.configured(diags)?;
        for attr in COMPUTED {
            planned.insert(attr.into(), ValueAny::Unknown);
        }
        if matches!(planned.get("mesh_owner"), None | Some(ValueAny::Null)) {
            planned.insert("mesh_owner".into(), ValueAny::Unknown);
        }
        let tags_all = self.planned_tags_all(&planned, &configured.default_tags);
        planned.insert("tags_all".into(), tags_all);
        if let Some(spec) = planned.get_mut("spec") {
            apply_defaults(self.shape(), spec);
        }
        Some((encode(planned), ValueAny::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        proposed: ValueAny,
        config: ValueAny,
        private: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny, Vec<AttributePath>)> {
        let prior = decode(diags, prior)?;
        let mut planned = decode(diags, proposed)?;
        let owner_configured = matches!(&config, ValueAny::Map(c) if !matches!(c.get("mesh_owner"), None | Some(ValueAny::Null)));
        let configured = self.configured(diags)?;
        if let Some(spec) = planned.get_mut("spec") {
            apply_defaults(self.shape(), spec);
        }
        let mut identity = vec!["name", "mesh_name", "mesh_owner"];
        identity.extend(parent_attribute(self.kind()));
        let mut replace = Vec::new();
        for attr in identity {
            let (before, after) = (prior.get(attr), planned.get(attr));
            if attr == "mesh_owner" && matches!(after, None | Some(ValueAny::Null)) {
                planned.insert(
                    attr.into(),
                    prior.get(attr).cloned().unwrap_or(ValueAny::Null),
                );
                continue;
            }
            if before != after {
                replace.push(AttributePath::new(attr));
            }
        }
        if !replace.is_empty() {
            for attr in COMPUTED {
                planned.insert(attr.into(), ValueAny::Unknown);
            }
            if !owner_configured {
                planned.insert("mesh_owner".into(), ValueAny::Unknown);
            }
        } else {
            let spec_known = !planned.get("spec").is_some_and(is_unknown);
            if !spec_known || self.spec_json(&planned) != self.spec_json(&prior) {
                planned.insert("last_updated_date".into(), ValueAny::Unknown);
            } else if let Some(spec) = prior.get("spec") {
                // Same request either way: keep the prior value so equal sets in a new order
                // are not a change.
                planned.insert("spec".into(), spec.clone());
            }
        }
        let tags_all = self.planned_tags_all(&planned, &configured.default_tags);
        planned.insert("tags_all".into(), tags_all);
        Some((encode(planned), private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: ValueAny,
        private: ValueAny,
        _meta: ValueAny,
    ) -> Option<ValueAny> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: ValueAny,
        _config: ValueAny,
        private: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny)> {
        let planned = decode(diags, planned)?;
        let configured = self.configured(diags)?;
        let key = self.key(&planned)?;
        let tags = {
            let mut all = configured.default_tags.clone();
            all.extend(get_string_map(&planned, "tags").unwrap_or_default());
            all
        };
        let mut body = json!({ "clientToken": uuid::Uuid::new_v4().to_string() });
        body[self.kind().name_member()] = json!(key.name);
        if let Some(spec) = self.spec_json(&planned) {
            body["spec"] = spec;
        } else if self.kind() != Kind::Mesh {
            body["spec"] = json!({});
        }
        if !tags.is_empty() {
            body["tags"] = tag_list(&tags);
        }
        let query = self.query(&planned);
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match configured
            .client
            .call(Method::PUT, &collection_path(&key), &q, Some(&body))
            .await
        {
            Ok(data) => {
                let state = self.state(&data, &tags, Some(&planned), &configured.default_tags);
                Some((state, private))
            }
            Err(e) => {
                self.fail(diags, "creating", &key, e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        planned: ValueAny,
        _config: ValueAny,
        private: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny)> {
        let prior = decode(diags, prior)?;
        let planned = decode(diags, planned)?;
        let configured = self.configured(diags)?;
        let key = self.key(&planned)?;
        let query = self.query(&planned);
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut state = prior.clone();
        let new_spec = self.spec_json(&planned);
        if new_spec != self.spec_json(&prior) {
            let body = json!({
                "spec": new_spec.unwrap_or_else(|| json!({})),
                "clientToken": uuid::Uuid::new_v4().to_string(),
            });
            match configured
                .client
                .call(Method::PUT, &item_path(&key), &q, Some(&body))
                .await
            {
                Ok(data) => {
                    let tags = get_string_map(&prior, "tags_all").unwrap_or_default();
                    if let ValueAny::Map(fresh) =
                        self.state(&data, &tags, Some(&planned), &configured.default_tags)
                    {
                        for attr in [
                            "spec",
                            "last_updated_date",
                            "arn",
                            "id",
                            "resource_owner",
                            "mesh_owner",
                            "created_date",
                        ] {
                            if let Some(v) = fresh.get(attr) {
                                state.insert(attr.into(), v.clone());
                            }
                        }
                    }
                }
                Err(e) => {
                    self.fail(diags, "updating", &key, e);
                    return None;
                }
            }
        }
        let old_tags = get_string_map(&prior, "tags_all").unwrap_or_default();
        let mut new_tags = configured.default_tags.clone();
        new_tags.extend(get_string_map(&planned, "tags").unwrap_or_default());
        if old_tags != new_tags {
            let arn = get_str(&state, "arn").unwrap_or_default();
            let changed: BTreeMap<String, String> = new_tags
                .iter()
                .filter(|(k, v)| old_tags.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let removed: Vec<&String> = old_tags
                .keys()
                .filter(|k| !new_tags.contains_key(*k))
                .collect();
            let arn_q = [("resourceArn", arn.as_str())];
            if !changed.is_empty() {
                if let Err(e) = configured
                    .client
                    .call(
                        Method::PUT,
                        "/v20190125/tag",
                        &arn_q,
                        Some(&json!({"tags": tag_list(&changed)})),
                    )
                    .await
                {
                    self.fail(diags, "tagging", &key, e);
                    return Some((encode(state), private));
                }
            }
            if !removed.is_empty() {
                if let Err(e) = configured
                    .client
                    .call(
                        Method::PUT,
                        "/v20190125/untag",
                        &arn_q,
                        Some(&json!({"tagKeys": removed})),
                    )
                    .await
                {
                    self.fail(diags, "untagging", &key, e);
                    return Some((encode(state), private));
                }
            }
        }
        state.insert("tags_all".into(), string_map(&new_tags));
        state.insert(
            "tags".into(),
            planned.get("tags").cloned().unwrap_or(ValueAny::Null),
        );
        Some((encode(state), private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ValueAny,
        _private: ValueAny,
        _meta: ValueAny,
    ) -> Option<()> {
        let prior = decode(diags, prior)?;
        let configured = self.configured(diags)?;
        let key = self.key(&prior)?;
        let query = self.query(&prior);
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match configured
            .client
            .call(Method::DELETE, &item_path(&key), &q, None)
            .await
        {
            Ok(_) => Some(()),
            Err(e) if e.is_not_found() => Some(()),
            Err(e) => {
                self.fail(diags, "deleting", &key, e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ValueAny, ValueAny)> {
        let configured = self.configured(diags)?;
        let parts: Vec<&str> = id.split('/').collect();
        let kind = self.kind();
        let expected = self.def.import_id.split('/').count();
        if parts.len() != expected || parts.iter().any(|p| p.is_empty()) {
            diags.root_error(
                format!(
                    "importing App Mesh {}: unexpected ID {id:?}",
                    self.def.human
                ),
                format!("The ID must be {}.", self.def.import_id),
            );
            return None;
        }
        let key = match parts.as_slice() {
            [mesh] => ResourceKey::mesh(*mesh),
            [mesh, name] => ResourceKey::in_mesh(kind, *mesh, *name),
            [mesh, parent, name] => ResourceKey {
                kind,
                mesh: (*mesh).to_owned(),
                parent: Some((*parent).to_owned()),
                name: (*name).to_owned(),
            },
            _ => return None,
        };
        match self.fetch(&configured, &key, &[]).await {
            Ok(Some((data, tags))) => {
                let state = self.state(&data, &tags, None, &configured.default_tags);
                Some((state, ValueAny::Null))
            }
            Ok(None) => {
                diags.root_error_short(format!(
                    "importing App Mesh {} ({key}): not found",
                    self.def.human
                ));
                None
            }
            Err(e) => {
                self.fail(diags, "importing", &key, e);
                None
            }
        }
    }
}
