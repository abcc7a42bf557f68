//! Empty values as `aws_appmesh_*` (plugin SDKv2) treats them, on HCL shaped like the public
//! modules users bring: a service module with `optional()` typed inputs that default to `""`,
//! `[]` and `{}`, instantiated with `for_each`, `dynamic` blocks that produce nothing,
//! `lookup` defaults, `count`, and `mesh_name = appmesh_mesh.this.id`
//! (`acceptance/testdata/empty_values/`). The provider has `default_tags` and `ignore_tags`.
//!
//! One scenario covers every class: it applies with everything empty, re-plans empty,
//! survives tags set by other tools, imports everything back with no diff, fills every value
//! in place, and empties them again.
//! Run with `cargo test -p appmesh-acceptance --test empty_values`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use appmesh_acceptance::{
    api_path, random_name, step_config, Action, Api, State, Step, TestCase, UPDATE,
};
use serde_json::{json, Value};

fn in_web(resource: &str) -> String {
    format!("module.service[\"web\"].{resource}.this")
}

fn in_api(resource: &str) -> String {
    format!("module.service[\"api\"].{resource}.this")
}

const GATEWAY: &str = "appmesh_virtual_gateway.ingress[0]";
const MESH: &str = "appmesh_mesh.this";
const BARE_MESH: &str = "appmesh_mesh.bare";

/// The tags every resource gets from the provider's `default_tags`, without the ignored
/// `Scanner` key.
fn defaults() -> BTreeMap<String, String> {
    [("ManagedBy", "terraform"), ("Owner", "platform")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn tags_of(api: &Api, state: &State, address: &str) -> BTreeMap<String, String> {
    api.tags(&state.expect_attr(address, "arn"))
}

fn spec_of(api: &Api, state: &State, address: &str) -> Value {
    api.get(&api_path(state, address))["spec"].clone()
}

/// Tags another tool puts on the mesh: the provider must neither show nor remove them.
fn tag_out_of_band(api: &Api, arn: &str) {
    api.request(
        reqwest::Method::PUT,
        "/v20190125/tag",
        &[("resourceArn", arn)],
        Some(&json!({"tags": [
            {"key": "external:inventory", "value": "asset-17"},
            {"key": "Scanner", "value": "weekly"},
        ]})),
    )
    .unwrap_or_else(|e| panic!("TagResource {arn}: {e}"));
}

/// Checks that hold whenever the `empty.tf` step is applied.
fn assert_empty_means_unset(state: &State, api: &Api) {
    // gRPC route `method_name = ""`: not sent, not in state.
    let grpc = &spec_of(api, state, &in_api("appmesh_route"))["grpcRoute"];
    assert_eq!(grpc["match"], json!({"serviceName": "example.Api"}));
    // `http_retry_events = []`, `tcp_retry_events = []`: not sent.
    assert_eq!(
        grpc["retryPolicy"]["grpcRetryEvents"],
        json!(["unavailable"])
    );
    assert!(grpc["retryPolicy"].get("httpRetryEvents").is_none());
    assert!(grpc["retryPolicy"].get("tcpRetryEvents").is_none());
    state.assert_no_attr(
        &in_api("appmesh_route"),
        "spec.0.grpc_route.0.match.0.method_name",
    );
    let http = &spec_of(api, state, &in_web("appmesh_route"))["httpRoute"];
    assert!(http["retryPolicy"].get("tcpRetryEvents").is_none());
    // Client-policy `ports = []`: not sent, on a node's backend and a gateway's defaults.
    let backend = &spec_of(api, state, &in_web("appmesh_virtual_node"))["backends"][0];
    assert!(backend["virtualService"]["clientPolicy"]["tls"]
        .get("ports")
        .is_none());
    let gateway = spec_of(api, state, GATEWAY);
    assert!(gateway["backendDefaults"]["clientPolicy"]["tls"]
        .get("ports")
        .is_none());
    // A health check without `port` reads back with the listener's port.
    for (address, port) in [
        (in_web("appmesh_virtual_node"), 8080),
        (in_api("appmesh_virtual_node"), 9090),
        (GATEWAY.to_owned(), 8443),
    ] {
        let spec = spec_of(api, state, &address);
        assert_eq!(
            spec["listeners"][0]["healthCheck"]["port"], port,
            "{address}"
        );
        state.assert_attr(
            &address,
            "spec.0.listener.0.health_check.0.port",
            port.to_string(),
        );
    }
    // A `dynamic "egress_filter"` that produced nothing, and no spec at all: an empty spec,
    // one block in state as `aws_appmesh_mesh` had it.
    for mesh in [MESH, BARE_MESH] {
        assert_eq!(spec_of(api, state, mesh), json!({}), "{mesh}");
        state.assert_attr(mesh, "spec.#", "1");
        state.assert_attr(mesh, "spec.0.egress_filter.#", "0");
    }
    // `tags = {}` is no tags; `{ CostCenter = null, Owner = null }` are no tags of the
    // resource's own, and `Owner` still comes from `default_tags`.
    state.assert_no_attr(MESH, "tags.%");
    assert_eq!(state.map(MESH, "tags_all"), defaults());
    let node = in_web("appmesh_virtual_node");
    assert_eq!(
        state.map(&node, "tags"),
        BTreeMap::from([("Team".to_owned(), "web".to_owned())])
    );
    let mut expected = defaults();
    expected.insert("Team".into(), "web".into());
    assert_eq!(tags_of(api, state, &node), expected);
    assert_eq!(state.map(&node, "tags_all"), expected);
    // `ignore_tags`: the default tag `Scanner` is never sent (the mesh carries the value
    // another tool set).
    for address in state.addresses() {
        let scanner = tags_of(api, state, address).get("Scanner").cloned();
        match address {
            MESH => assert_ne!(scanner.as_deref(), Some("nightly")),
            _ => assert_eq!(scanner, None, "{address} got the ignored default tag"),
        }
    }
}

#[test]
fn empty_values_are_unset() {
    let name = random_name();
    let case = TestCase::new().with_testdata("empty_values", &name);
    // What the filled-in inputs change, in place (and what emptying them changes back).
    let changed = [
        MESH.to_owned(),
        GATEWAY.to_owned(),
        in_api("appmesh_route"),
        in_web("appmesh_route"),
        in_web("appmesh_virtual_node"),
        in_web("appmesh_virtual_router"),
        in_web("appmesh_virtual_service"),
    ];
    let updates: Vec<(&str, &[Action])> = changed.iter().map(|a| (a.as_str(), UPDATE)).collect();

    case.run(vec![
        Step::apply(step_config("empty_values", "empty.tf")).check(|state, api| {
            assert_eq!(state.addresses().len(), 11, "{:?}", state.addresses());
            assert_empty_means_unset(state, api);
            tag_out_of_band(api, &state.expect_attr(MESH, "arn"));
        }),
        // Tags another tool set under ignored keys change nothing.
        Step::plan_empty(),
        Step::reimport_all().check(assert_empty_means_unset),
        Step::expect_plan(step_config("empty_values", "filled.tf"), &updates).check(
            |state, api| {
                let grpc = &spec_of(api, state, &in_api("appmesh_route"))["grpcRoute"];
                assert_eq!(grpc["match"]["methodName"], "Get");
                assert_eq!(
                    grpc["retryPolicy"]["tcpRetryEvents"],
                    json!(["connection-error"])
                );
                let backend = &spec_of(api, state, &in_web("appmesh_virtual_node"))["backends"][0];
                assert_eq!(
                    backend["virtualService"]["clientPolicy"]["tls"]["ports"],
                    json!([9090])
                );
                assert_eq!(
                    spec_of(api, state, MESH),
                    json!({"egressFilter": {"type": "ALLOW_ALL"}})
                );
                let mesh_tags = tags_of(api, state, MESH);
                assert_eq!(mesh_tags["Team"], "mesh");
                // Changing the mesh's tags left the other tools' tags alone.
                assert_eq!(mesh_tags["external:inventory"], "asset-17");
                assert_eq!(mesh_tags["Scanner"], "weekly");
                assert!(!state.map(MESH, "tags_all").contains_key("Scanner"));
                let node = in_web("appmesh_virtual_node");
                assert_eq!(tags_of(api, state, &node)["Owner"], "web-team");
                assert_eq!(tags_of(api, state, &node)["CostCenter"], "cc-42");
            },
        ),
        Step::reimport_all(),
        // Back to empty: what was set is taken away again, in place.
        Step::expect_plan(step_config("empty_values", "empty.tf"), &updates).check(|state, api| {
            assert_empty_means_unset(state, api);
            let mesh_tags = tags_of(api, state, MESH);
            assert!(!mesh_tags.contains_key("Team"));
            assert_eq!(mesh_tags["external:inventory"], "asset-17");
        }),
        Step::reimport_all(),
    ]);
}
