//! Old Terraform state written by the AWS provider: finding its `aws_appmesh_*` objects in a
//! `.tfstate` (version 4) or `terraform show -json` document, and turning each into the API
//! object it describes, the way the AWS provider sent it.

use std::collections::BTreeMap;

use appmesh_model::validate::Path;
use appmesh_model::{Kind, ResourceKey, Spec};
use serde_json::{json, Value as Json};

use crate::convert::{apply_defaults, expand, from_json, normalize, zero_is_unset};
use crate::describe::{ResourceDef, RESOURCES};
use crate::schema::parent_attribute;
use tf_provider::value::ValueAny;

/// The prefix of the AWS provider's App Mesh types.
pub const AWS_PREFIX: &str = "aws_appmesh_";

/// One `aws_appmesh_*` instance found in a state.
#[derive(Debug, Clone, PartialEq)]
pub struct OldInstance {
    /// `managed` or `data`.
    pub mode: String,
    /// Its address, e.g. `module.svc["a"].aws_appmesh_virtual_node.this`.
    pub address: String,
    /// Its type, e.g. `aws_appmesh_virtual_node`.
    pub type_name: String,
    /// The schema version the attributes were written with.
    pub schema_version: i64,
    /// The attributes as stored.
    pub attributes: Json,
}

impl OldInstance {
    /// The address with the type renamed to this provider's.
    pub fn new_address(&self) -> String {
        rename_address(&self.address)
    }
}

/// `...aws_appmesh_mesh.x` → `...appmesh_mesh.x` (for every App Mesh type in an address).
pub fn rename_address(address: &str) -> String {
    let renamed = address.replace(".aws_appmesh_", ".appmesh_");
    match renamed.strip_prefix(AWS_PREFIX) {
        Some(rest) => format!("appmesh_{rest}"),
        None => renamed,
    }
}

/// The state document is not one this command understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not JSON at all.
    #[error("the state is not valid JSON ({0}); nothing was changed")]
    Corrupt(String),
    /// JSON, but neither a `.tfstate` nor `terraform show -json` output.
    #[error("{0}; nothing was changed")]
    Unrecognised(String),
    /// No App Mesh objects in it.
    #[error("the state has no aws_appmesh_* resources (is it the right workspace, or was it migrated already?); nothing was changed")]
    Empty,
}

/// The `aws_appmesh_*` instances of a state document, managed resources and data sources.
pub fn old_instances(text: &str) -> Result<Vec<OldInstance>, StateError> {
    let doc: Json = serde_json::from_str(text).map_err(|e| StateError::Corrupt(e.to_string()))?;
    let mut out = Vec::new();
    if doc.get("version").and_then(Json::as_i64) == Some(4) && doc.get("resources").is_some() {
        from_tfstate(&doc, &mut out)?;
    } else if doc.get("format_version").is_some() && doc.get("values").is_some() {
        if let Some(root) = doc.pointer("/values/root_module") {
            from_show_json(root, &mut out);
        }
    } else if doc.get("version").and_then(Json::as_i64).is_some() {
        return Err(StateError::Unrecognised(format!(
            "state format version {} is not supported (Terraform 0.12 and later write version 4)",
            doc["version"]
        )));
    } else {
        return Err(StateError::Unrecognised(
            "this is neither a .tfstate file nor `terraform show -json` output".into(),
        ));
    }
    if out.iter().all(|i| i.mode != "managed") {
        return Err(StateError::Empty);
    }
    Ok(out)
}

fn from_tfstate(doc: &Json, out: &mut Vec<OldInstance>) -> Result<(), StateError> {
    for r in doc["resources"].as_array().into_iter().flatten() {
        let type_name = r["type"].as_str().unwrap_or_default();
        if !type_name.starts_with(AWS_PREFIX) {
            continue;
        }
        let mode = r["mode"].as_str().unwrap_or("managed").to_owned();
        let mut base = String::new();
        if let Some(module) = r["module"].as_str() {
            base.push_str(module);
            base.push('.');
        }
        if mode == "data" {
            base.push_str("data.");
        }
        base.push_str(type_name);
        base.push('.');
        base.push_str(r["name"].as_str().unwrap_or_default());
        for instance in r["instances"].as_array().into_iter().flatten() {
            let mut address = base.clone();
            match &instance["index_key"] {
                Json::String(k) => address.push_str(&format!("[{}]", Json::String(k.clone()))),
                Json::Number(n) => address.push_str(&format!("[{n}]")),
                _ => {}
            }
            if instance.get("attributes_flat").is_some() && instance.get("attributes").is_none() {
                return Err(StateError::Unrecognised(format!(
                    "{address} was last written by Terraform 0.11 (flat attributes); refresh the state once with Terraform 0.12 or later"
                )));
            }
            out.push(OldInstance {
                mode: mode.clone(),
                address,
                type_name: type_name.to_owned(),
                schema_version: instance["schema_version"].as_i64().unwrap_or(0),
                attributes: instance["attributes"].clone(),
            });
        }
    }
    Ok(())
}

fn from_show_json(module: &Json, out: &mut Vec<OldInstance>) {
    for r in module["resources"].as_array().into_iter().flatten() {
        let type_name = r["type"].as_str().unwrap_or_default();
        if !type_name.starts_with(AWS_PREFIX) {
            continue;
        }
        out.push(OldInstance {
            mode: r["mode"].as_str().unwrap_or("managed").to_owned(),
            address: r["address"].as_str().unwrap_or_default().to_owned(),
            type_name: type_name.to_owned(),
            schema_version: r["schema_version"].as_i64().unwrap_or(0),
            attributes: r["values"].clone(),
        });
    }
    for child in module["child_modules"].as_array().into_iter().flatten() {
        from_show_json(child, out);
    }
}

/// The API object an old instance describes.
#[derive(Debug, Clone)]
pub struct Desired {
    /// This provider's resource type.
    pub def: &'static ResourceDef,
    /// Where it lives.
    pub key: ResourceKey,
    /// `meshOwner`, when the state names one.
    pub mesh_owner: Option<String>,
    /// The spec to create it with (API JSON).
    pub spec: Json,
    /// Every tag it carried (`tags_all`: the resource's own and the provider's defaults).
    pub tags: BTreeMap<String, String>,
    /// Notes for the user (what a legacy shape lost, say).
    pub notes: Vec<String>,
}

impl Desired {
    /// The `terraform import` ID.
    pub fn import_id(&self) -> String {
        self.key.to_string()
    }
}

/// The resource type `aws_appmesh_<x>` becomes.
pub fn target(type_name: &str) -> Option<&'static ResourceDef> {
    let rest = type_name.strip_prefix(AWS_PREFIX)?;
    RESOURCES.iter().find(|d| d.type_name == rest)
}

/// Turns an old managed instance into the object to create: its identity, its spec as the
/// AWS provider sent it (SDKv2 wrote `""`, `[]` and `0` for what was not set, and did not
/// send them), and its tags. Legacy shapes (schema version 0) are brought up to date first.
pub fn desired(old: &OldInstance) -> Result<Desired, String> {
    let def = target(&old.type_name).ok_or_else(|| {
        format!(
            "{}: {} is not an App Mesh resource type",
            old.address, old.type_name
        )
    })?;
    let kind = def.kind;
    let attrs = old.attributes.as_object().cloned().unwrap_or_default();
    let text = |name: &str| {
        attrs
            .get(name)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // The identity attributes, as the provider's own resources read them.
    let mut identity = crate::value::Obj::new();
    for attr in ["name", "mesh_name"]
        .into_iter()
        .chain(parent_attribute(kind))
    {
        if let Some(v) = text(attr) {
            identity.insert(attr.to_owned(), ValueAny::String(v));
        }
    }
    let key = crate::read::key(kind, &identity).ok_or_else(|| {
        format!(
            "{}: the state names no name, mesh_name or parent name",
            old.address
        )
    })?;
    let mut notes = Vec::new();
    let mut spec_value = attrs
        .get("spec")
        .cloned()
        .unwrap_or(Json::Array(Vec::new()));
    if old.schema_version == 0 {
        upgrade_v0(kind, &mut spec_value, &mut notes);
    }
    let shape = kind.spec_shape();
    let mut value = from_json(&spec_value);
    normalize(shape, &mut value);
    zero_is_unset(shape, &mut value);
    apply_defaults(shape, &mut value);
    let path = Path::root().key("spec");
    let mut unknown = Vec::new();
    let spec = expand(shape, &value, &path, &mut unknown).unwrap_or_else(|| json!({}));
    if let Err(violations) = Spec::parse(kind, &spec, &path) {
        let all: Vec<String> = violations.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{}: the spec in the state is not one the API accepts: {}",
            old.address,
            all.join("; ")
        ));
    }
    let tags = string_map(attrs.get("tags_all").or_else(|| attrs.get("tags")));
    Ok(Desired {
        def,
        key,
        mesh_owner: if kind == Kind::Mesh {
            None
        } else {
            text("mesh_owner")
        },
        spec,
        tags,
        notes,
    })
}

fn string_map(value: Option<&Json>) -> BTreeMap<String, String> {
    value
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Schema version 0 of `aws_appmesh_virtual_node` (`spec.backends`, a set of virtual
/// service names, and `dns.service_name`) and of `aws_appmesh_virtual_router`
/// (`spec.service_names`), as the AWS provider upgraded them.
fn upgrade_v0(kind: Kind, spec: &mut Json, notes: &mut Vec<String>) {
    let Some(block) = spec.get_mut(0).and_then(Json::as_object_mut) else {
        return;
    };
    match kind {
        Kind::VirtualNode => {
            if let Some(Json::Array(names)) = block.remove("backends") {
                let backends: Vec<Json> = names
                    .iter()
                    .filter_map(Json::as_str)
                    .map(|n| json!({"virtual_service": [{"virtual_service_name": n}]}))
                    .collect();
                if !backends.is_empty() {
                    block.insert("backend".into(), Json::Array(backends));
                }
            }
            let dns = block
                .get_mut("service_discovery")
                .and_then(|sd| sd.get_mut(0))
                .and_then(|sd| sd.get_mut("dns"))
                .and_then(|dns| dns.get_mut(0))
                .and_then(Json::as_object_mut);
            if let Some(dns) = dns {
                if let Some(name) = dns.remove("service_name") {
                    dns.entry("hostname").or_insert(name);
                }
            }
        }
        Kind::VirtualRouter if block.remove("service_names").is_some() => {
            notes.push(
                "its state predates router listeners (schema version 0): created without listeners, as the AWS provider upgraded it; the next plan adds the listeners the configuration declares".into(),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node_v0() -> OldInstance {
        OldInstance {
            mode: "managed".into(),
            address: "aws_appmesh_virtual_node.legacy".into(),
            type_name: "aws_appmesh_virtual_node".into(),
            schema_version: 0,
            attributes: json!({
                "name": "legacy", "mesh_name": "apps", "mesh_owner": "",
                "spec": [{
                    "backends": ["b.apps.local", "c.apps.local"],
                    "listener": [{"port_mapping": [{"port": 8080, "protocol": "http"}],
                                  "health_check": [], "tls": [], "timeout": [],
                                  "outlier_detection": [], "connection_pool": []}],
                    "logging": [],
                    "service_discovery": [{"aws_cloud_map": [], "dns": [{"service_name": "legacy.apps.local"}]}]
                }],
                "tags": {}, "tags_all": {"Env": "prod"}
            }),
        }
    }

    #[test]
    fn schema_version_0_nodes_are_upgraded() {
        let d = desired(&node_v0()).unwrap();
        assert_eq!(d.key.to_string(), "apps/legacy");
        assert_eq!(d.mesh_owner, None);
        assert_eq!(
            d.spec,
            json!({
                "backends": [
                    {"virtualService": {"virtualServiceName": "b.apps.local"}},
                    {"virtualService": {"virtualServiceName": "c.apps.local"}}
                ],
                "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                "serviceDiscovery": {"dns": {"hostname": "legacy.apps.local"}}
            })
        );
        assert_eq!(d.tags["Env"], "prod");
    }

    #[test]
    fn sdkv2_zeros_and_empties_are_not_sent() {
        let route = OldInstance {
            mode: "managed".into(),
            address: "aws_appmesh_route.r".into(),
            type_name: "aws_appmesh_route".into(),
            schema_version: 0,
            attributes: json!({
                "name": "r", "mesh_name": "apps", "virtual_router_name": "vr",
                "spec": [{"priority": 0, "grpc_route": [], "http2_route": [], "tcp_route": [],
                  "http_route": [{"match": [{"prefix": "/", "method": "", "scheme": "", "port": 0,
                                              "header": [], "path": [], "query_parameter": []}],
                                  "action": [{"weighted_target": [{"virtual_node": "a", "weight": 0, "port": 0}]}],
                                  "retry_policy": [], "timeout": []}]}]
            }),
        };
        let d = desired(&route).unwrap();
        assert_eq!(
            d.spec,
            json!({"httpRoute": {"match": {"prefix": "/"},
                   "action": {"weightedTargets": [{"virtualNode": "a", "weight": 0}]}}})
        );
    }

    #[test]
    fn states_are_read_in_both_formats() {
        let tfstate = json!({"version": 4, "serial": 1, "lineage": "x", "resources": [
            {"mode": "managed", "type": "aws_appmesh_mesh", "name": "m", "module": "module.a[\"b\"]",
             "instances": [{"schema_version": 0, "index_key": 1, "attributes": {"name": "m"}}]},
            {"mode": "data", "type": "aws_appmesh_mesh", "name": "d", "instances": [{"attributes": {"name": "m"}}]},
            {"mode": "managed", "type": "aws_s3_bucket", "name": "other", "instances": [{"attributes": {}}]}
        ]});
        let found = old_instances(&tfstate.to_string()).unwrap();
        let addresses: Vec<&str> = found.iter().map(|i| i.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "module.a[\"b\"].aws_appmesh_mesh.m[1]",
                "data.aws_appmesh_mesh.d"
            ]
        );
        assert_eq!(found[0].new_address(), "module.a[\"b\"].appmesh_mesh.m[1]");
        assert_eq!(rename_address("aws_appmesh_mesh.m"), "appmesh_mesh.m");

        let show = json!({"format_version": "1.0", "values": {"root_module": {"child_modules": [
            {"address": "module.s", "resources": [{"address": "module.s.aws_appmesh_mesh.m", "mode": "managed",
              "type": "aws_appmesh_mesh", "name": "m", "schema_version": 0, "values": {"name": "m"}}]}]}}});
        let found = old_instances(&show.to_string()).unwrap();
        assert_eq!(found[0].address, "module.s.aws_appmesh_mesh.m");

        assert!(matches!(
            old_instances("{not json"),
            Err(StateError::Corrupt(_))
        ));
        assert!(matches!(
            old_instances("{}"),
            Err(StateError::Unrecognised(_))
        ));
        let none = json!({"version": 4, "resources": []});
        assert_eq!(old_instances(&none.to_string()), Err(StateError::Empty));
    }
}
