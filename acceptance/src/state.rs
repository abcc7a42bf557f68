//! Readers for `terraform show -json` output: the state ([`State`], with flattened
//! `spec.0.listener.0.port_mapping.0.port`-style attribute paths) and a saved plan
//! ([`Plan`], with each resource's planned actions).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Flattens a resource's `values` object into dotted paths.
///
/// Lists and sets (JSON arrays) give `path.#` (the count) and `path.N...`; maps (JSON objects
/// below the top level) give `path.%` and `path.KEY`; nulls are left out; numbers and
/// booleans are rendered as Terraform prints them (`8080`, `true`).
pub fn flatten(values: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Value::Object(attrs) = values {
        for (name, value) in attrs {
            flatten_into(&mut out, name, value);
        }
    }
    out
}

fn flatten_into(out: &mut BTreeMap<String, String>, path: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            out.insert(path.to_owned(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(path.to_owned(), n.to_string());
        }
        Value::String(s) => {
            out.insert(path.to_owned(), s.clone());
        }
        Value::Array(items) => {
            out.insert(format!("{path}.#"), items.len().to_string());
            for (i, item) in items.iter().enumerate() {
                // Block elements are objects whose keys are attribute names, not map keys.
                match item {
                    Value::Object(attrs) => {
                        for (name, v) in attrs {
                            flatten_into(out, &format!("{path}.{i}.{name}"), v);
                        }
                    }
                    other => flatten_into(out, &format!("{path}.{i}"), other),
                }
            }
        }
        Value::Object(map) => {
            // Objects reached here are map attributes (tags, attributes, ...): block
            // elements are handled by the array arm.
            out.insert(format!("{path}.%"), map.len().to_string());
            for (k, v) in map {
                flatten_into(out, &format!("{path}.{k}"), v);
            }
        }
    }
}

/// The resources of a state, from `terraform show -json`.
#[derive(Debug, Clone)]
pub struct State {
    json: Value,
    resources: BTreeMap<String, Value>,
    data: BTreeMap<String, Value>,
}

impl State {
    /// Reads the output of `terraform show -json` (for a state, not a plan).
    pub fn from_show_json(json: Value) -> State {
        let (mut resources, mut data) = (BTreeMap::new(), BTreeMap::new());
        if let Some(root) = json.pointer("/values/root_module") {
            collect_resources(root, &mut resources, &mut data);
        }
        State {
            json,
            resources,
            data,
        }
    }

    /// The raw `terraform show -json` document.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Addresses of all managed resources in state, sorted.
    pub fn addresses(&self) -> Vec<&str> {
        self.resources.keys().map(String::as_str).collect()
    }

    /// The flattened attributes of the data source at `address` (`data.appmesh_mesh.x`);
    /// panics if it is not in state.
    pub fn data_flat(&self, address: &str) -> BTreeMap<String, String> {
        flatten(self.data.get(address).unwrap_or_else(|| {
            panic!(
                "{address} is not in state; data sources in state: {:?}",
                self.data.keys().collect::<Vec<_>>()
            )
        }))
    }

    /// Whether `address` is in state.
    pub fn contains(&self, address: &str) -> bool {
        self.resources.contains_key(address)
    }

    /// The `values` object of `address`; panics if it is not in state.
    pub fn values(&self, address: &str) -> &Value {
        self.resources.get(address).unwrap_or_else(|| {
            panic!(
                "{address} is not in state; resources in state: {:?}",
                self.addresses()
            )
        })
    }

    /// The flattened attributes of `address`; panics if it is not in state.
    pub fn flat(&self, address: &str) -> BTreeMap<String, String> {
        flatten(self.values(address))
    }

    /// One flattened attribute, e.g. `attr("appmesh_mesh.test", "spec.0.egress_filter.0.type")`.
    pub fn attr(&self, address: &str, path: &str) -> Option<String> {
        self.flat(address).remove(path)
    }

    /// Like [`State::attr`], but panics (listing the attributes) when it is absent.
    pub fn expect_attr(&self, address: &str, path: &str) -> String {
        let flat = self.flat(address);
        match flat.get(path) {
            Some(v) => v.clone(),
            None => panic!(
                "{address}: attribute {path} is not set; attributes:\n{}",
                render_flat(&flat)
            ),
        }
    }

    /// Asserts `address`'s attribute `path` equals `expected`.
    pub fn assert_attr(&self, address: &str, path: &str, expected: impl AsRef<str>) {
        let expected = expected.as_ref();
        let flat = self.flat(address);
        match flat.get(path) {
            Some(v) if v == expected => {}
            Some(v) => panic!(
                "{address}: {path} is {v:?}, expected {expected:?}; attributes:\n{}",
                render_flat(&flat)
            ),
            None => panic!(
                "{address}: {path} is not set, expected {expected:?}; attributes:\n{}",
                render_flat(&flat)
            ),
        }
    }

    /// Asserts `address`'s attribute `path` is null/absent.
    pub fn assert_no_attr(&self, address: &str, path: &str) {
        let flat = self.flat(address);
        if let Some(v) = flat.get(path) {
            panic!(
                "{address}: {path} is {v:?}, expected it to be unset; attributes:\n{}",
                render_flat(&flat)
            );
        }
    }

    /// The element count of a list, set or map attribute (`path.#` / `path.%`); 0 when null.
    pub fn count(&self, address: &str, path: &str) -> usize {
        let flat = self.flat(address);
        flat.get(&format!("{path}.#"))
            .or_else(|| flat.get(&format!("{path}.%")))
            .map(|n| n.parse().expect("counts are integers"))
            .unwrap_or(0)
    }

    /// A map attribute (`tags`, `tags_all`, ...) as a map; empty when null.
    pub fn map(&self, address: &str, path: &str) -> BTreeMap<String, String> {
        let mut value = self.values(address);
        for seg in path.split('.') {
            value = match seg.parse::<usize>() {
                Ok(i) => &value[i],
                Err(_) => &value[seg],
            };
        }
        value
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn collect_resources(
    module: &Value,
    managed: &mut BTreeMap<String, Value>,
    data: &mut BTreeMap<String, Value>,
) {
    for r in module["resources"].as_array().into_iter().flatten() {
        let address = r["address"].as_str().unwrap_or_default().to_owned();
        match r["mode"].as_str() {
            Some("managed") => managed.insert(address, r["values"].clone()),
            Some("data") => data.insert(address, r["values"].clone()),
            _ => None,
        };
    }
    for child in module["child_modules"].as_array().into_iter().flatten() {
        collect_resources(child, managed, data);
    }
}

/// Renders flattened attributes one per line (for failure messages).
pub fn render_flat(flat: &BTreeMap<String, String>) -> String {
    flat.iter()
        .map(|(k, v)| format!("  {k} = {v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Differences between two flattened attribute maps, ignoring `ignore` (an exact path or
/// a prefix `path.`) and zero counts (`x.# = 0` / `x.% = 0` equal an absent `x`).
pub fn diff_flat(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    ignore: &[String],
) -> Vec<String> {
    let skip = |k: &str, v: &str| {
        ignore
            .iter()
            .any(|i| k == i || k.starts_with(&format!("{i}.")))
            || ((k.ends_with(".#") || k.ends_with(".%")) && v == "0")
    };
    let mut diffs = Vec::new();
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for k in keys {
        let b = before.get(k).filter(|v| !skip(k, v));
        let a = after.get(k).filter(|v| !skip(k, v));
        if b != a {
            diffs.push(format!("  {k}: {b:?} -> {a:?}"));
        }
    }
    diffs
}

/// One planned action of a resource change, as in a saved plan's `change.actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// `no-op`
    NoOp,
    /// `create`
    Create,
    /// `read`
    Read,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// `forget` (a `removed` block with `destroy = false`)
    Forget,
}

impl Action {
    fn parse(s: &str) -> Action {
        match s {
            "no-op" => Action::NoOp,
            "create" => Action::Create,
            "read" => Action::Read,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "forget" => Action::Forget,
            other => panic!("unknown plan action {other:?}"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Forget => "forget",
        })
    }
}

/// One entry of a saved plan's `resource_changes`.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    /// The resource address.
    pub address: String,
    /// The planned actions (`[Delete, Create]` for a replacement).
    pub actions: Vec<Action>,
    /// `change.importing.id` when the change imports the object.
    pub importing: Option<String>,
    /// `change.before`.
    pub before: Value,
    /// `change.after`.
    pub after: Value,
}

/// A saved plan, from `terraform show -json PLANFILE`.
#[derive(Debug, Clone)]
pub struct Plan {
    json: Value,
    changes: Vec<PlannedChange>,
}

impl Plan {
    /// Reads the output of `terraform show -json PLANFILE`.
    pub fn from_show_json(json: Value) -> Plan {
        let mut changes = Vec::new();
        for rc in json["resource_changes"].as_array().into_iter().flatten() {
            if rc["mode"] != "managed" {
                continue;
            }
            let change = &rc["change"];
            changes.push(PlannedChange {
                address: rc["address"].as_str().unwrap_or_default().to_owned(),
                actions: change["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| Action::parse(a.as_str().unwrap_or_default()))
                    .collect(),
                importing: change
                    .pointer("/importing/id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                before: change["before"].clone(),
                after: change["after"].clone(),
            });
        }
        Plan { json, changes }
    }

    /// The raw JSON plan.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Every managed resource change, including no-ops.
    pub fn changes(&self) -> &[PlannedChange] {
        &self.changes
    }

    /// The change planned for `address`, if any.
    pub fn change(&self, address: &str) -> Option<&PlannedChange> {
        self.changes.iter().find(|c| c.address == address)
    }

    /// Address → actions for every change that is not a no-op.
    pub fn effective_actions(&self) -> BTreeMap<String, Vec<Action>> {
        self.changes
            .iter()
            .filter(|c| c.actions != [Action::NoOp])
            .map(|c| (c.address.clone(), c.actions.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_blocks_maps_and_scalars() {
        let flat = flatten(&json!({
            "id": "apps",
            "spec": [{"egress_filter": [{"type": "ALLOW_ALL"}], "service_discovery": []}],
            "tags": {"env": "test"},
            "port": 8080,
            "enforce": true,
            "mesh_owner": null,
            "ports": [443, 8443]
        }));
        let expect = |k: &str, v: &str| assert_eq!(flat.get(k).map(String::as_str), Some(v), "{k}");
        expect("id", "apps");
        expect("spec.#", "1");
        expect("spec.0.egress_filter.#", "1");
        expect("spec.0.egress_filter.0.type", "ALLOW_ALL");
        expect("spec.0.service_discovery.#", "0");
        expect("tags.%", "1");
        expect("tags.env", "test");
        expect("port", "8080");
        expect("enforce", "true");
        expect("ports.#", "2");
        expect("ports.1", "8443");
        assert!(!flat.contains_key("mesh_owner"));
    }

    #[test]
    fn diff_ignores_zero_counts_and_listed_paths() {
        let a = flatten(&json!({"id": "x", "tags": {}, "spec": [], "arn": "a"}));
        let b = flatten(&json!({"id": "x", "tags": null, "arn": "b"}));
        assert_eq!(diff_flat(&a, &b, &["arn".to_owned()]), Vec::<String>::new());
        assert_eq!(diff_flat(&a, &b, &[]).len(), 1);
    }

    #[test]
    fn reads_plan_actions_and_imports() {
        let plan = Plan::from_show_json(json!({
            "resource_changes": [
                {"address": "appmesh_mesh.a", "mode": "managed", "change": {"actions": ["no-op"], "importing": {"id": "apps"}}},
                {"address": "appmesh_mesh.b", "mode": "managed", "change": {"actions": ["delete", "create"]}},
                {"address": "data.x.y", "mode": "data", "change": {"actions": ["read"]}}
            ]
        }));
        assert_eq!(
            plan.change("appmesh_mesh.a")
                .and_then(|c| c.importing.clone()),
            Some("apps".to_owned())
        );
        let eff = plan.effective_actions();
        assert_eq!(eff.len(), 1);
        assert_eq!(eff["appmesh_mesh.b"], vec![Action::Delete, Action::Create]);
    }
}
