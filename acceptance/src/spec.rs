//! State ↔ API: turning a resource's `spec` in Terraform state into the API's JSON form,
//! comparing specs regardless of set order, and the feature-test pattern built on that
//! (apply a variant, compare API and state, re-plan empty, import, update in place).

use serde_json::{Map, Value};

use crate::api::Api;
use crate::case::{Step, UPDATE};
use crate::checks::{api_path, assert_metadata, version};
use crate::state::State;

/// Terraform repeated blocks (lists or sets of structures) and their API member names; every
/// other block is a single API object.
pub const REPEATED: &[(&str, &str)] = &[
    ("listener", "listeners"),
    ("backend", "backends"),
    ("weighted_target", "weightedTargets"),
    ("json", "json"),
    ("header", "headers"),
    ("query_parameter", "queryParameters"),
    ("metadata", "metadata"),
];

/// API members that are sets in Terraform: compared without regard to order.
pub const SETS: &[&str] = &[
    "backends",
    "weightedTargets",
    "grpcRetryEvents",
    "httpRetryEvents",
    "tcpRetryEvents",
    "ports",
    "exact",
    "certificateAuthorityArns",
    "headers",
    "queryParameters",
    "metadata",
];

/// `snake_case` → `camelCase`.
pub fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Converts one Terraform block (from `terraform show -json`) into its API JSON form:
/// snake_case → camelCase, singular repeated blocks ([`REPEATED`]) → plural arrays,
/// `list≤1` blocks → objects; nulls and empty collections are left out.
pub fn block_to_api(block: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, value) in block {
        match value {
            Value::Null => {}
            Value::Array(items) if items.is_empty() => {}
            Value::Array(items) => {
                if let Some((_, member)) = REPEATED.iter().find(|(tf, _)| tf == name) {
                    let list = items.iter().map(|i| block_to_api(as_block(i))).collect();
                    out.insert((*member).to_owned(), Value::Array(list));
                } else if let Some(obj) = items[0].as_object() {
                    assert_eq!(items.len(), 1, "{name} is a single block: {value}");
                    out.insert(camel(name), block_to_api(obj));
                } else {
                    out.insert(camel(name), value.clone());
                }
            }
            Value::Object(map) if map.is_empty() => {}
            other => {
                out.insert(camel(name), other.clone());
            }
        }
    }
    Value::Object(out)
}

fn as_block(value: &Value) -> &Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("a block element is an object: {value}"))
}

/// The resource's `spec` in state, in API form.
pub fn state_spec(state: &State, address: &str) -> Value {
    let spec = state.values(address)["spec"].as_array().cloned();
    let spec = spec.unwrap_or_default();
    assert_eq!(spec.len(), 1, "{address}: spec.# must be 1");
    block_to_api(as_block(&spec[0]))
}

/// `value` with the arrays of the members named in `sets` sorted (at any depth), so two
/// values compare regardless of set order.
pub fn sort_sets(value: &Value, sets: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut v = sort_sets(v, sets);
                    if let (true, Value::Array(items)) = (sets.contains(&k.as_str()), &mut v) {
                        items.sort_by_key(|i| i.to_string());
                    }
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| sort_sets(i, sets)).collect()),
        other => other.clone(),
    }
}

/// [`sort_sets`] with the [`SETS`] members.
pub fn normalize(value: &Value) -> Value {
    sort_sets(value, SETS)
}

/// Asserts two specs are equal up to set order ([`normalize`]); `what` opens the message.
pub fn assert_same_spec(what: &str, actual: &Value, expected: &Value) {
    assert_eq!(
        normalize(actual),
        normalize(expected),
        "{what}\n--- actual ---\n{actual:#}\n--- expected ---\n{expected:#}"
    );
}

/// A check of `address`: the API holds exactly `expected` as the spec, the state's spec is
/// the API's, the metadata attributes match and the object is at `expected_version`.
pub fn check_spec(
    address: &'static str,
    expected: Value,
    expected_version: i64,
) -> impl Fn(&State, &Api) + 'static {
    move |state, api| {
        let data = api.get(&api_path(state, address));
        assert_metadata(state, address, &data);
        assert_same_spec(
            "the API's spec differs from the configuration",
            &data["spec"],
            &expected,
        );
        assert_same_spec(
            "the spec in state differs from the API's",
            &state_spec(state, address),
            &data["spec"],
        );
        assert_eq!(version(&data), expected_version, "metadata.version");
    }
}

/// The steps of a feature test of `address` (import ID `id`): `variants` are (configuration,
/// expected API spec) pairs and `check(expected, version)` makes the check of one. The
/// first variant is created, checked, re-planned empty and imported; each later one must be
/// an in-place update that bumps the version by one; a final import closes the test.
pub fn feature_steps<C, F>(
    address: &str,
    id: &str,
    variants: Vec<(String, Value)>,
    check: F,
) -> Vec<Step>
where
    F: Fn(Value, i64) -> C,
    C: Fn(&State, &Api) + 'static,
{
    let mut steps = Vec::new();
    for (i, (config, expected)) in variants.into_iter().enumerate() {
        let check = check(expected, i as i64 + 1);
        if i == 0 {
            steps.push(Step::apply(config).check(check));
            steps.push(Step::plan_empty());
            steps.push(Step::import_verify(address, id));
        } else {
            steps.push(Step::expect_plan(config, &[(address, UPDATE)]).check(check));
        }
    }
    steps.push(Step::import_verify(address, id));
    steps
}

/// For every resource in `state`: the object exists in the API, its identity and metadata
/// attributes match ([`assert_metadata`]) and the spec in state is the API's, up to set
/// order.
pub fn assert_state_matches_api(state: &State, api: &Api) {
    for address in state.addresses() {
        let data = api.get(&api_path(state, address));
        assert_metadata(state, address, &data);
        assert_same_spec(
            &format!("{address}: the spec in state differs from the API's"),
            &state_spec(state, address),
            &data["spec"],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_blocks_become_api_members() {
        let block = json!({
            "listener": [{"port_mapping": [{"port": 8080, "protocol": "http"}], "tls": []}],
            "logging": [{"access_log": [{"file": [{"path": "/dev/stdout", "format": []}]}]}],
            "backend_defaults": [],
            "priority": null
        });
        assert_eq!(
            block_to_api(as_block(&block)),
            json!({
                "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                "logging": {"accessLog": {"file": {"path": "/dev/stdout"}}}
            })
        );
    }

    #[test]
    fn only_sets_are_sorted() {
        let v = json!({"exact": ["b", "a"], "listeners": [2, 1]});
        assert_eq!(
            normalize(&v),
            json!({"exact": ["a", "b"], "listeners": [2, 1]})
        );
    }
}
