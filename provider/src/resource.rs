//! The one resource implementation, bound to a [`ResourceDef`]: validate, plan, create, read,
//! update, delete and import for any App Mesh kind. What differs between kinds comes from
//! the model (names, spec shape, parent) and the description; nothing here is per field.

use std::collections::BTreeMap;

use appmesh_model::shape::Shape;
use appmesh_model::validate::{validate, Path, Step, Violation};
use appmesh_model::{rules, Kind, ResourceKey, Spec};
use async_trait::async_trait;
use http::Method;
use serde_json::{json, Value as Json};
use tf_provider::schema::Schema;
use tf_provider::value::ValueAny;
use tf_provider::{AttributePath, Diagnostics, MoveSource, Resource};

use crate::client::{collection_path, create_body, item_path, tag_list};
use crate::convert::{
    apply_defaults, expand, flatten, normalize, normalize_map, normalize_scalar, tf_path, tf_words,
    unknown_computed,
};
use crate::describe::ResourceDef;
use crate::provider::{Configured, Shared};
use crate::read;
use crate::schema::{parent_attribute, resource_schema};
use crate::value::{decode, get_str, get_string_map, is_unknown, string_map, Obj};

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
        crate::provider::configured(&self.shared, diags)
    }

    /// The resource's identity from its state or plan.
    fn key(&self, o: &Obj) -> Option<ResourceKey> {
        read::key(self.kind(), o)
    }

    /// `meshOwner`, for the kinds that live in a (possibly shared) mesh.
    fn query(&self, o: &Obj) -> Vec<(&'static str, String)> {
        match self.kind() {
            Kind::Mesh => Vec::new(),
            _ => read::owner_query(o),
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
        let mut o = read::attributes(kind, data);
        let id = match kind {
            Kind::Mesh => o.get("name").cloned(),
            _ => data["metadata"]["uid"]
                .as_str()
                .map(|uid| ValueAny::String(uid.to_owned())),
        };
        o.insert("id".into(), id.unwrap_or(ValueAny::Null));
        o.insert("tags_all".into(), string_map(all_tags));
        o.insert(
            "tags".into(),
            own_tags(all_tags, prior_tags.as_ref(), default_tags),
        );
        ValueAny::Map(o)
    }

    /// Validates a configuration the way the API would, reporting on Terraform paths. Every
    /// violation is reported: the shape's, and the service rules' on whatever part of the spec
    /// is well-formed and known.
    /// `config` is normalised ([`Self::normalize_top`]).
    fn check(&self, diags: &mut Diagnostics, config: &Obj) {
        let kind = self.kind();
        check_identity(diags, kind, config);
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
        let mut unknown = Vec::new();
        let Some(json) = expand(self.shape(), &spec, &Path::root().key("spec"), &mut unknown)
        else {
            return;
        };
        let path = Path::root().key("spec");
        let shape_violations = validate(self.shape(), &json, &path);
        for v in shape_violations
            .iter()
            .filter(|v| !unknown.iter().any(|u| related(&v.path, u)))
        {
            self.report(diags, v);
        }
        // Values not known yet are checked when the plan knows them.
        if !unknown.is_empty() {
            return;
        }
        // The rules need a spec of the right shape: check them on what is left once the
        // broken members are taken out, and keep quiet about what a taken-out member might
        // have changed.
        let (pruned, removed) = prune(self.shape(), json, &path, shape_violations);
        if let Err(violations) = Spec::parse(kind, &pruned, &path) {
            for v in violations
                .iter()
                .filter(|v| !removed.iter().any(|r| related(&v.path, r)))
            {
                self.report(diags, v);
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

    /// Reads a configuration or plan the way the AWS provider does: `""`, `[]`, `{}` and null
    /// map elements are "not set" ([`normalize`]), defaults fill what is left out, and a mesh
    /// without a spec block has an empty one (as App Mesh answered).
    fn normalize_top(&self, o: &mut Obj) {
        if let Some(tags) = o.get_mut("tags") {
            normalize_map(tags);
        }
        if let Some(owner) = o.get_mut("mesh_owner") {
            normalize_scalar(owner);
        }
        if let Some(spec) = o.get_mut("spec") {
            normalize(self.shape(), spec);
            apply_defaults(self.shape(), spec);
            let absent = match &*spec {
                ValueAny::List(blocks) => blocks.is_empty(),
                other => *other == ValueAny::Null,
            };
            if self.kind() == Kind::Mesh && absent {
                *spec = flatten(self.shape(), Some(&json!({})));
            }
        }
    }

    /// The `spec` a plan shows for a normalised configuration spec: when every value is
    /// known, the spec the service will answer with, including what it fills in; otherwise
    /// the configuration with what the service fills in unknown.
    fn planned_spec(&self, spec: &ValueAny) -> ValueAny {
        let mut planned = spec.clone();
        if is_unknown(&planned) {
            unknown_computed(self.shape(), &mut planned);
            return planned;
        }
        let mut unknown = Vec::new();
        let path = Path::root().key("spec");
        let Some(json) = expand(self.shape(), spec, &path, &mut unknown) else {
            return planned;
        };
        match Spec::parse(self.kind(), &json, &path) {
            Ok(mut typed) => {
                rules::fill_service_defaults(&mut typed);
                let mut answered = flatten(self.shape(), Some(&typed.to_value()));
                normalize(self.shape(), &mut answered);
                answered
            }
            // Validation reports what is wrong; plan what was written.
            Err(_) => planned,
        }
    }

    /// Plans `tags` (without ignored keys) and `tags_all` (the provider's `default_tags`,
    /// then the resource's own, without ignored keys).
    fn plan_tags(&self, o: &mut Obj, configured: &Configured) {
        if let Some(tags) = o.get_mut("tags") {
            if let ValueAny::Map(m) = tags {
                m.retain(|k, _| !configured.ignore_tags.ignores(k));
            }
            normalize_map(tags);
        }
        let tags_all = match o.get("tags") {
            Some(t) if is_unknown(t) => ValueAny::Unknown,
            _ => string_map(&configured.all_tags(&get_string_map(o, "tags").unwrap_or_default())),
        };
        o.insert("tags_all".into(), tags_all);
    }
}

/// Checks the identity arguments of a resource or data source against the API's limits:
/// `name`, `mesh_name`, the parent's name and `mesh_owner`, where the kind has them.
pub fn check_identity(diags: &mut Diagnostics, kind: Kind, config: &Obj) {
    type Check<'a> = &'a dyn Fn(&str, &Path) -> Vec<Violation>;
    let mut scalar = |attr: &str, api_name: &str, check: Check<'_>| {
        if let Some(v) = get_str(config, attr).filter(|v| !(attr == "mesh_owner" && v.is_empty())) {
            for violation in check(&v, &Path::root().key(api_name)) {
                diags.error_short(violation.to_string(), AttributePath::new(attr.to_owned()));
            }
        }
    };
    let shape = |shape: &'static Shape| move |v: &str, p: &Path| validate(shape, &json!(v), p);
    if config.contains_key("name") {
        // The kind's own rules on it (`rules::check_name`) are checked with the spec.
        scalar("name", kind.name_member(), &shape(kind.name_shape()));
    }
    // The names of the containers are checked as the control plane checks them in a URI.
    if kind != Kind::Mesh {
        scalar("mesh_name", "meshName", &|v, p| {
            rules::validate_name(Kind::Mesh, v, p)
        });
    }
    scalar(
        "mesh_owner",
        "meshOwner",
        &shape(appmesh_model::common::ACCOUNT_ID),
    );
    if let (Some(attr), Some(pk)) = (parent_attribute(kind), kind.parent()) {
        scalar(attr, pk.name_member(), &move |v, p| {
            rules::validate_name(pk, v, p)
        });
    }
}

/// Takes the members that break `shape` out of `json` (the value at `path`) until what is
/// left conforms. Returns it with, for each member taken out, the object that held it: a
/// rule about any member of that object may have been decided by what was taken out.
fn prune(
    shape: &'static Shape,
    mut json: Json,
    path: &Path,
    mut violations: Vec<Violation>,
) -> (Json, Vec<Path>) {
    let mut removed = Vec::new();
    let base = path.steps().len();
    // Every round takes out at least one member and a spec is only so deep; the cap guards
    // against a validator that keeps complaining about something it cannot point at.
    for _ in 0..64 {
        if violations.is_empty() {
            return (json, removed);
        }
        for v in &violations {
            let steps = v.path.steps().get(base..).unwrap_or_default();
            match removable(&json, steps) {
                Some(at) => {
                    remove(&mut json, &at);
                    removed.push(path_of(path, &at[..at.len() - 1]));
                }
                None => return (json, vec![path.clone()]),
            }
        }
        violations = validate(shape, &json, path);
    }
    (json, vec![path.clone()])
}

/// The member to take out for a violation at `steps`: the member itself, or, when it is
/// missing (a required member) or a list item (taking an item out would renumber the rest),
/// the nearest member around it that can go.
fn removable(json: &Json, steps: &[Step]) -> Option<Vec<Step>> {
    let mut at = steps.to_vec();
    loop {
        match at.last()? {
            Step::Key(_) if lookup(json, &at).is_some() => return Some(at),
            _ => {
                at.pop();
            }
        }
    }
}

fn lookup<'j>(json: &'j Json, steps: &[Step]) -> Option<&'j Json> {
    steps.iter().try_fold(json, |j, step| match step {
        Step::Key(k) => j.get(k.as_str()),
        Step::Index(i) => j.get(*i),
    })
}

fn remove(json: &mut Json, at: &[Step]) {
    let Some((Step::Key(last), parent)) = at.split_last() else {
        return;
    };
    let mut j = json;
    for step in parent {
        let next = match step {
            Step::Key(k) => j.get_mut(k.as_str()),
            Step::Index(i) => j.get_mut(*i),
        };
        match next {
            Some(n) => j = n,
            None => return,
        }
    }
    if let Some(obj) = j.as_object_mut() {
        obj.remove(last);
    }
}

fn path_of(base: &Path, steps: &[Step]) -> Path {
    steps.iter().fold(base.clone(), |p, step| match step {
        Step::Key(k) => p.key(k.clone()),
        Step::Index(i) => p.index(*i),
    })
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

    /// Answer as a plugin-SDKv2 resource: the plan may normalise `""`, `[]`, `{}` and null
    /// map elements to "not set" (see [`normalize`]), as `aws_appmesh_*` users' HCL expects.
    fn legacy_type_system(&self) -> bool {
        true
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<()> {
        let mut config = decode(diags, config)?;
        self.normalize_top(&mut config);
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
        match read::fetch(&configured, &key, &self.query(&state)).await {
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
        config: ValueAny,
        _meta: ValueAny,
    ) -> Option<(ValueAny, ValueAny)> {
        let mut planned = decode(diags, proposed)?;
        let mut config = decode(diags, config)?;
        let configured = self.configured(diags)?;
        self.normalize_top(&mut config);
        self.normalize_top(&mut planned);
        // Values that were unknown when the configuration was validated may be known now.
        self.check(diags, &config);
        for attr in COMPUTED {
            planned.insert(attr.into(), ValueAny::Unknown);
        }
        if matches!(planned.get("mesh_owner"), None | Some(ValueAny::Null)) {
            planned.insert("mesh_owner".into(), ValueAny::Unknown);
        }
        if let Some(spec) = config.get("spec") {
            planned.insert("spec".into(), self.planned_spec(spec));
        }
        self.plan_tags(&mut planned, &configured);
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
        let mut config = decode(diags, config)?;
        let configured = self.configured(diags)?;
        self.normalize_top(&mut config);
        self.normalize_top(&mut planned);
        self.check(diags, &config);
        let owner_configured = !matches!(config.get("mesh_owner"), None | Some(ValueAny::Null));
        if let Some(spec) = config.get("spec") {
            planned.insert("spec".into(), self.planned_spec(spec));
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
        self.plan_tags(&mut planned, &configured);
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
        let tags = configured.all_tags(&get_string_map(&planned, "tags").unwrap_or_default());
        let body = create_body(
            &key,
            self.spec_json(&planned).unwrap_or_else(|| json!({})),
            &tags,
        );
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
        let new_tags = configured.all_tags(&get_string_map(&planned, "tags").unwrap_or_default());
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

    /// `moved { from = aws_appmesh_<kind>.x  to = appmesh_<kind>.x }`: the AWS provider's
    /// state of the same kind becomes this resource's (legacy shapes and SDKv2's empty
    /// values read as `migrate` reads them); the refresh that follows reads the object
    /// from the control plane, where it must exist (see `terraform-provider-appmesh
    /// migrate`).
    async fn move_state<'a>(
        &self,
        diags: &mut Diagnostics,
        source: MoveSource,
    ) -> Option<(ValueAny, ValueAny)> {
        let ours = format!("appmesh_{}", self.def.type_name);
        let theirs = format!("aws_appmesh_{}", self.def.type_name);
        if source.type_name != theirs {
            diags.root_error(
                format!("cannot move {} into {ours}", source.type_name),
                format!("Only {theirs} (from the AWS provider) moves into {ours}."),
            );
            return None;
        }
        let attributes: Json = match serde_json::from_slice(&source.state_json) {
            Ok(a) => a,
            Err(e) => {
                diags.root_error_short(format!("the state of the {theirs} is not JSON: {e}"));
                return None;
            }
        };
        let old = crate::migrate::state::OldInstance {
            mode: "managed".into(),
            address: theirs.clone(),
            type_name: theirs,
            schema_version: source.schema_version,
            attributes,
        };
        let desired = match crate::migrate::state::desired(&old) {
            Ok(d) => d,
            Err(e) => {
                diags.root_error_short(e);
                return None;
            }
        };
        let schema = resource_schema(self.def);
        let mut state = Obj::new();
        for name in schema.block.attributes.keys() {
            let value = old.attributes.get(name.as_str()).and_then(Json::as_str);
            let value = value
                .filter(|v| !v.is_empty())
                .map_or(ValueAny::Null, |v| ValueAny::String(v.to_owned()));
            state.insert(name.clone(), value);
        }
        let mut spec = flatten(self.shape(), Some(&desired.spec));
        normalize(self.shape(), &mut spec);
        state.insert("spec".into(), spec);
        let mut tags = old
            .attributes
            .get("tags")
            .map_or(ValueAny::Null, crate::convert::from_json);
        normalize_map(&mut tags);
        state.insert("tags".into(), tags);
        state.insert("tags_all".into(), string_map(&desired.tags));
        Some((ValueAny::Map(state), ValueAny::Null))
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ValueAny, ValueAny)> {
        let configured = self.configured(diags)?;
        let kind = self.kind();
        let Some((key, owner)) = import_key(kind, self.def.import_id, &id) else {
            diags.root_error(
                format!(
                    "importing App Mesh {}: unexpected ID {id:?}",
                    self.def.human
                ),
                format!(
                    "The ID must be {}, or the resource's ARN (which names the mesh owner's account, for a mesh another account shares).",
                    self.def.import_id
                ),
            );
            return None;
        };
        let query: Vec<(&str, String)> = owner.map(|o| ("meshOwner", o)).into_iter().collect();
        match read::fetch(&configured, &key, &query).await {
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

/// The identity an import ID names: `MESH/.../NAME` in the caller's own meshes, or an ARN,
/// whose account is the mesh owner's (the way to import from a mesh another account shares).
fn import_key(kind: Kind, form: &str, id: &str) -> Option<(ResourceKey, Option<String>)> {
    if id.starts_with("arn:") {
        let (_region, account, key) = ResourceKey::parse_arn(id)?;
        return (key.kind == kind).then_some((key, Some(account)));
    }
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != form.split('/').count() || parts.iter().any(|p| p.is_empty()) {
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
    Some((key, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::RESOURCES;

    #[test]
    fn import_ids_are_names_or_arns() {
        let form = "MESH_NAME/VIRTUAL_ROUTER_NAME/ROUTE_NAME";
        let (key, owner) = import_key(Kind::Route, form, "apps/r/x").expect("names");
        assert_eq!(
            (key.to_string(), owner),
            (
                ResourceKey {
                    kind: Kind::Route,
                    mesh: "apps".into(),
                    parent: Some("r".into()),
                    name: "x".into()
                }
                .to_string(),
                None
            )
        );
        let arn = "arn:aws:appmesh:us-east-1:111111111111:mesh/apps/virtualRouter/r/route/x";
        let (by_arn, owner) = import_key(Kind::Route, form, arn).expect("arn");
        assert_eq!((by_arn, owner.as_deref()), (key, Some("111111111111")));
        assert!(
            import_key(Kind::VirtualNode, "MESH_NAME/VIRTUAL_NODE_NAME", arn).is_none(),
            "an ARN of another kind"
        );
        assert!(import_key(Kind::Route, form, "apps/x").is_none());
        assert!(import_key(Kind::Route, form, "apps//x").is_none());
    }

    fn node() -> AppMeshResource {
        let def = RESOURCES
            .iter()
            .find(|d| d.kind == Kind::VirtualNode)
            .expect("node");
        AppMeshResource::new(def, Shared::default())
    }

    fn source(type_name: &str, version: i64, attributes: Json) -> MoveSource {
        MoveSource {
            provider_address: "registry.terraform.io/hashicorp/aws".into(),
            type_name: type_name.into(),
            schema_version: version,
            state_json: attributes.to_string().into_bytes(),
            private: Vec::new(),
        }
    }

    #[tokio::test]
    async fn aws_appmesh_state_moves_in() {
        let attributes = json!({
            "id": "6c0f9b7e", "name": "legacy", "mesh_name": "apps", "mesh_owner": "123456789012",
            "arn": "arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualNode/legacy",
            "created_date": "2023-06-14T09:21:07Z", "last_updated_date": "2023-06-14T09:21:07Z",
            "resource_owner": "123456789012",
            "spec": [{"backends": ["b.apps.local"],
                      "listener": [{"port_mapping": [{"port": 8080, "protocol": "http"}]}],
                      "service_discovery": [{"dns": [{"service_name": "legacy.apps.local"}]}]}],
            "tags": {}, "tags_all": {"ManagedBy": "terraform"}
        });
        let mut diags = Diagnostics::default();
        let (state, _) = node()
            .move_state(
                &mut diags,
                source("aws_appmesh_virtual_node", 0, attributes),
            )
            .await
            .expect("moved");
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        let o = crate::value::obj(&state).expect("an object");
        assert_eq!(get_str(o, "name").as_deref(), Some("legacy"));
        assert_eq!(get_str(o, "mesh_name").as_deref(), Some("apps"));
        assert_eq!(o["tags"], ValueAny::Null);
        assert_eq!(
            get_string_map(o, "tags_all").unwrap_or_default()["ManagedBy"],
            "terraform"
        );
        let spec = node().spec_json(o).expect("a spec");
        assert_eq!(
            spec,
            json!({"backends": [{"virtualService": {"virtualServiceName": "b.apps.local"}}],
                   "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                   "serviceDiscovery": {"dns": {"hostname": "legacy.apps.local"}}})
        );

        let mut diags = Diagnostics::default();
        let refused = node()
            .move_state(
                &mut diags,
                source("aws_appmesh_mesh", 0, json!({"name": "m"})),
            )
            .await;
        assert!(refused.is_none());
        assert!(diags.errors[0]
            .summary
            .contains("cannot move aws_appmesh_mesh into appmesh_virtual_node"));
    }
}
