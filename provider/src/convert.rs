//! The one generic converter between Terraform values and API JSON, in both directions,
//! driven by the model description and [`describe::fields`](crate::describe::fields).
//!
//! - [`expand`]: a `spec` block (a list of at most one object) → the API's `spec` JSON. Null
//!   members are left out, so "unset" never becomes a zero; explicit zeros are sent as
//!   written. Unknown values are skipped and their paths reported, so plan-time validation
//!   can ignore what it cannot see yet.
//! - [`flatten`]: API JSON → a complete Terraform block value, every attribute present (null
//!   when the API has nothing), every block a list, defaults filled where the API left a
//!   member out. Used by Read, so import and `-generate-config-out` see everything.
//! - [`apply_defaults`]: fills defaults into a planned block value.
//! - [`normalize`]: reads "empty" the way the AWS provider (SDKv2) does: `""`, `[]` and `{}`
//!   on an optional argument, and null map elements, are "not set".
//! - [`unknown_computed`]: marks what the service fills in as unknown when left out.
//! - [`tf_path`]: maps an API path (`spec.listeners[0].portMapping.port`) to the Terraform
//!   attribute path (`spec[0].listener[0].port_mapping[0].port`) for diagnostics.

use std::collections::BTreeMap;

use appmesh_model::shape::Shape;
use appmesh_model::validate::{Path, Step};
use serde_json::{Map, Value as Json};
use tf_provider::value::ValueAny;
use tf_provider::AttributePath;

use crate::describe::{fields, Default, Field, Form, Scalar};

/// Expands a single block value of `shape` (a list of at most one object) into JSON, or
/// `None` if the block is absent. Paths of unknown values are pushed onto `unknown`.
pub fn expand(
    shape: &'static Shape,
    value: &ValueAny,
    path: &Path,
    unknown: &mut Vec<Path>,
) -> Option<Json> {
    match value {
        ValueAny::List(items) => match items.first() {
            Some(ValueAny::Map(obj)) => Some(expand_object(shape, obj, path, unknown)),
            Some(ValueAny::Unknown) => {
                unknown.push(path.clone());
                None
            }
            _ => None,
        },
        ValueAny::Unknown => {
            unknown.push(path.clone());
            None
        }
        _ => None,
    }
}

fn expand_object(
    shape: &'static Shape,
    obj: &BTreeMap<String, ValueAny>,
    path: &Path,
    unknown: &mut Vec<Path>,
) -> Json {
    let mut out = Map::new();
    for f in fields(shape) {
        let wire = &f.wire;
        let p = path.key(wire.as_ref());
        let v = match obj.get(f.name.as_ref()) {
            None | Some(ValueAny::Null) => continue,
            Some(ValueAny::Unknown) => {
                unknown.push(p);
                continue;
            }
            Some(v) => v,
        };
        let json = match f.form {
            Form::Single(inner) => expand(inner, v, &p, unknown),
            Form::Repeated { item, set } => {
                let mut items = Vec::new();
                for (i, element) in list_items(v).iter().enumerate() {
                    match element {
                        ValueAny::Map(o) => {
                            items.push(expand_object(item, o, &p.index(i), unknown))
                        }
                        ValueAny::Unknown => unknown.push(p.index(i)),
                        _ => {}
                    }
                }
                // Terraform has no "absent" for repeated blocks: zero blocks is absent.
                (!items.is_empty()).then(|| sorted_if(set, items))
            }
            Form::Attribute(_) => scalar(v),
            Form::Collection { set, .. } => {
                let mut items = Vec::new();
                for (i, element) in list_items(v).iter().enumerate() {
                    match scalar(element) {
                        Some(j) => items.push(j),
                        None => unknown.push(p.index(i)),
                    }
                }
                Some(sorted_if(set, items))
            }
            Form::Map => match v {
                ValueAny::Map(m) => Some(Json::Array(
                    m.iter()
                        .filter_map(|(k, v)| {
                            scalar(v).map(|v| serde_json::json!({ "key": k, "value": v }))
                        })
                        .collect(),
                )),
                _ => None,
            },
        };
        if let Some(json) = json {
            out.insert(wire.to_string(), json);
        }
    }
    Json::Object(out)
}

fn list_items(v: &ValueAny) -> &[ValueAny] {
    match v {
        ValueAny::List(items) => items,
        _ => &[],
    }
}

/// Sets are sent in a canonical order, so equal sets give equal requests.
fn sorted_if(set: bool, mut items: Vec<Json>) -> Json {
    if set {
        items.sort_by_cached_key(Json::to_string);
    }
    Json::Array(items)
}

fn scalar(v: &ValueAny) -> Option<Json> {
    match v {
        ValueAny::String(s) => Some(Json::String(s.clone())),
        ValueAny::Number(n) => Some(Json::from(*n)),
        ValueAny::Bool(b) => Some(Json::Bool(*b)),
        _ => None,
    }
}

/// Flattens API JSON for a single block of `shape` into its Terraform value: a list holding
/// one object, or an empty list when the API has nothing.
pub fn flatten(shape: &'static Shape, json: Option<&Json>) -> ValueAny {
    match json {
        Some(Json::Object(obj)) => ValueAny::List(vec![flatten_object(shape, obj)]),
        _ => ValueAny::List(Vec::new()),
    }
}

fn flatten_object(shape: &'static Shape, obj: &Map<String, Json>) -> ValueAny {
    let mut out = BTreeMap::new();
    for f in fields(shape) {
        let j = obj.get(f.wire.as_ref()).filter(|j| !j.is_null());
        let value = match f.form {
            Form::Single(inner) => flatten(inner, j),
            Form::Repeated { item, .. } => ValueAny::List(
                j.and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Json::as_object)
                            .map(|o| flatten_object(item, o))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Form::Attribute(_) => match j {
                Some(j) => from_json(j),
                None => f.default.map_or(ValueAny::Null, default_value),
            },
            Form::Collection { .. } => match j.and_then(Json::as_array) {
                Some(a) => ValueAny::List(a.iter().map(from_json).collect()),
                None => ValueAny::Null,
            },
            Form::Map => match j.and_then(Json::as_array) {
                Some(a) => ValueAny::Map(
                    a.iter()
                        .filter_map(|e| {
                            Some((
                                e.get("key")?.as_str()?.to_owned(),
                                from_json(e.get("value")?),
                            ))
                        })
                        .collect(),
                ),
                None => ValueAny::Null,
            },
        };
        out.insert(f.name.to_string(), value);
    }
    ValueAny::Map(out)
}

/// A JSON scalar (or structure, for completeness) as a Terraform value.
pub fn from_json(j: &Json) -> ValueAny {
    match j {
        Json::Null => ValueAny::Null,
        Json::Bool(b) => ValueAny::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or_else(|| ValueAny::String(n.to_string()), ValueAny::Number),
        Json::String(s) => ValueAny::String(s.clone()),
        Json::Array(a) => ValueAny::List(a.iter().map(from_json).collect()),
        Json::Object(o) => {
            ValueAny::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

fn default_value(d: Default) -> ValueAny {
    match d {
        Default::Str(s) => ValueAny::String(s.to_owned()),
        Default::Bool(b) => ValueAny::Bool(b),
    }
}

/// Calls `visit` on every attribute present in a block value of `shape` (a list of block
/// objects: a single block or a repeated block's items), at any depth. The one walk behind
/// [`apply_defaults`], [`normalize`], [`unknown_computed`] and [`zero_is_unset`].
fn each_attribute(
    shape: &'static Shape,
    value: &mut ValueAny,
    visit: &mut dyn FnMut(&Field, &mut ValueAny),
) {
    let ValueAny::List(items) = value else {
        return;
    };
    for item in items {
        let ValueAny::Map(obj) = item else {
            continue;
        };
        for f in fields(shape) {
            let Some(v) = obj.get_mut(f.name.as_ref()) else {
                continue;
            };
            match f.form {
                Form::Single(inner) | Form::Repeated { item: inner, .. } => {
                    each_attribute(inner, v, visit)
                }
                _ => visit(f, v),
            }
        }
    }
}

/// Fills defaults into a planned single block value of `shape`, wherever the block exists
/// and the attribute is null.
pub fn apply_defaults(shape: &'static Shape, value: &mut ValueAny) {
    each_attribute(shape, value, &mut |f, v| {
        if let (Form::Attribute(_), ValueAny::Null, Some(d)) = (f.form, &*v, f.default) {
            *v = default_value(d);
        }
    });
}

/// Normalises a single block value of `shape` (a list of at most one object) in place, the
/// way the AWS provider (plugin SDKv2) reads a configuration: an empty string, an empty list
/// or set and an empty map on an optional argument mean "not set" (null), and a map element
/// whose value is null is no element. Configurations, plans and reads all pass through here,
/// so `method_name = ""` from a module default plans, applies and imports like no
/// `method_name` at all. Required arguments keep what was written, so the API's limits still
/// speak about them. Unknown values are left alone.
pub fn normalize(shape: &'static Shape, value: &mut ValueAny) {
    each_attribute(shape, value, &mut |f, v| match f.form {
        Form::Map => normalize_map(v),
        _ if f.required => {}
        _ => normalize_scalar(v),
    });
}

/// `""` and `[]` (an optional string, list or set left empty) are null.
pub fn normalize_scalar(v: &mut ValueAny) {
    let empty = match v {
        ValueAny::String(s) => s.is_empty(),
        ValueAny::List(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        *v = ValueAny::Null;
    }
}

/// A `map(string)` without its null elements, and null when nothing is left.
pub fn normalize_map(v: &mut ValueAny) {
    if let ValueAny::Map(m) = v {
        m.retain(|_, e| *e != ValueAny::Null);
        if m.is_empty() {
            *v = ValueAny::Null;
        }
    }
}

/// Reads optional whole numbers of 0 as "not set": plugin SDKv2 stored 0 for an optional
/// number the configuration left out, and `aws_appmesh_*` sent none of them (its expanders
/// skip zeros), so a 0 in an old `aws_appmesh_*` state says nothing was sent. Only for
/// reading such states; this provider sends the zeros a configuration writes.
pub fn zero_is_unset(shape: &'static Shape, value: &mut ValueAny) {
    each_attribute(shape, value, &mut |f, v| {
        if matches!(f.form, Form::Attribute(Scalar::Number))
            && !f.required
            && *v == ValueAny::Number(0)
        {
            *v = ValueAny::Null;
        }
    });
}

/// Sets every attribute the service fills in ([`Field::computed`](crate::describe::Field))
/// that is null in a planned block value to unknown: the service will answer with it.
pub fn unknown_computed(shape: &'static Shape, value: &mut ValueAny) {
    each_attribute(shape, value, &mut |f, v| {
        if f.computed && *v == ValueAny::Null {
            *v = ValueAny::Unknown;
        }
    });
}

/// The Terraform attribute path of an API path under the `spec` block, and the same path
/// written the way a user reads HCL (`spec.listener[0].port_mapping.port`). Set elements
/// cannot be addressed by position, so the attribute path stops at a set; the text goes on
/// through it (`spec.http_route.action.weighted_target.weight`).
pub fn tf_path(shape: &'static Shape, api: &Path) -> (AttributePath, String) {
    let mut at = AttributePath::new("spec").index(0);
    let mut text = String::from("spec");
    let mut addressable = true;
    let mut steps = api.steps().iter().peekable();
    // The API path starts at the `spec` member itself.
    if matches!(steps.peek(), Some(Step::Key(k)) if k == "spec") {
        steps.next();
    }
    let mut shape = shape;
    while let Some(step) = steps.next() {
        let Step::Key(wire) = step else { break };
        let Some(f) = fields(shape).iter().find(|f| f.wire == wire.as_str()) else {
            break;
        };
        text.push('.');
        text.push_str(&f.name);
        if addressable {
            at = at.attribute(f.name.to_string());
        }
        match f.form {
            Form::Single(inner) => {
                if addressable {
                    at = at.index(0);
                }
                shape = inner;
            }
            Form::Repeated { item, set } => {
                if let Some(Step::Index(i)) = steps.peek() {
                    steps.next();
                    if set {
                        addressable = false;
                    } else {
                        text.push_str(&format!("[{i}]"));
                        if addressable {
                            at = at.index(i64::try_from(*i).unwrap_or(0));
                        }
                    }
                }
                shape = item;
            }
            Form::Collection { set, .. } => {
                if let (Some(Step::Index(i)), false) = (steps.next(), set) {
                    text.push_str(&format!("[{i}]"));
                    if addressable {
                        at = at.index(i64::try_from(*i).unwrap_or(0));
                    }
                }
                break;
            }
            _ => break,
        }
    }
    (at, text)
}

/// Rewrites the API member names in a message as their Terraform names
/// (`methodName` → `method_name`, `httpRoute` → `http_route`), so a diagnostic speaks the
/// language of the configuration it points at.
pub fn tf_words(shape: &'static Shape, text: &str) -> String {
    fn collect(shape: &'static Shape, names: &mut BTreeMap<String, String>) {
        for f in fields(shape) {
            names.insert(f.wire.to_string(), f.name.to_string());
            match f.form {
                Form::Single(inner) | Form::Repeated { item: inner, .. } => collect(inner, names),
                _ => {}
            }
        }
    }
    let mut names = BTreeMap::new();
    collect(shape, &mut names);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(
            names
                .get(word.as_str())
                .map_or(word.as_str(), String::as_str),
        );
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use appmesh_model::Kind;
    use serde_json::json;

    fn round_trip(kind: Kind, api: Json) {
        let shape = kind.spec_shape();
        let tf = flatten(shape, Some(&api));
        let mut unknown = Vec::new();
        let back = expand(shape, &tf, &Path::root().key("spec"), &mut unknown);
        assert!(unknown.is_empty());
        assert_eq!(back, Some(api));
    }

    #[test]
    fn specs_round_trip_through_terraform_values() {
        round_trip(
            Kind::Mesh,
            json!({"egressFilter": {"type": "ALLOW_ALL"}, "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}),
        );
        round_trip(
            Kind::VirtualNode,
            json!({
                "backends": [{"virtualService": {"virtualServiceName": "b", "clientPolicy": {"tls": {"enforce": false, "ports": [443, 8443],
                    "validation": {"trust": {"acm": {"certificateAuthorityArns": ["arn:a"]}}}}}}}],
                "listeners": [{"portMapping": {"port": 80, "protocol": "http"}, "connectionPool": {"http": {"maxConnections": 0}},
                               "timeout": {"http": {"idle": {"unit": "s", "value": 0}}}}],
                "serviceDiscovery": {"awsCloudMap": {"namespaceName": "ns", "serviceName": "svc", "attributes": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}},
                "logging": {"accessLog": {"file": {"path": "/dev/stdout", "format": {"json": [{"key": "z", "value": "1"}, {"key": "a", "value": "2"}]}}}}
            }),
        );
        round_trip(
            Kind::Route,
            json!({"priority": 0, "grpcRoute": {"action": {"weightedTargets": [{"virtualNode": "a", "weight": 0}]},
            "match": {"metadata": [{"invert": true, "name": "m", "match": {"range": {"start": 0, "end": 7}}}]}}}),
        );
    }

    #[test]
    fn messages_speak_terraform_names() {
        let route = Kind::Route.spec_shape();
        assert_eq!(
            tf_words(
                route,
                "cannot be set together with httpRoute (set exactly one of grpcRoute, http2Route)"
            ),
            "cannot be set together with http_route (set exactly one of grpc_route, http2_route)"
        );
        assert_eq!(
            tf_words(route, "is required when methodName is set"),
            "is required when method_name is set"
        );
    }

    #[test]
    fn defaults_fill_absent_members_and_paths_map_back() {
        let shape = Kind::VirtualNode.spec_shape();
        let tf = flatten(
            shape,
            Some(
                &json!({"backendDefaults": {"clientPolicy": {"tls": {"validation": {"trust": {"file": {"certificateChain": "/c"}}}}}}}),
            ),
        );
        let ValueAny::List(spec) = &tf else { panic!() };
        let ValueAny::Map(spec) = &spec[0] else {
            panic!()
        };
        let enforce = format!("{:?}", spec["backend_defaults"]);
        assert!(
            enforce.contains("enforce") && enforce.contains("true"),
            "{enforce}"
        );

        let p = Path::root()
            .key("spec")
            .key("listeners")
            .index(2)
            .key("portMapping")
            .key("port");
        let expected = AttributePath::new("spec")
            .index(0)
            .attribute("listener")
            .index(2)
            .attribute("port_mapping")
            .index(0)
            .attribute("port");
        assert_eq!(
            tf_path(shape, &p),
            (expected, "spec.listener[2].port_mapping.port".to_owned())
        );
        let into_set = Path::root()
            .key("spec")
            .key("backends")
            .index(0)
            .key("virtualService")
            .key("virtualServiceName");
        let (at, text) = tf_path(shape, &into_set);
        assert_eq!(at, AttributePath::new("spec").index(0).attribute("backend"));
        assert_eq!(text, "spec.backend.virtual_service.virtual_service_name");
    }
}
