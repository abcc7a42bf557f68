//! Smoke test of `examples/`: every `examples/resources/<type>/resource.tf` is applied (with
//! `examples/provider/provider.tf` pointed at a fresh control plane), must re-plan empty, and
//! the command in its `import.sh` must import the resource back to the same attributes.
//! Run with `cargo test -p appmesh-acceptance --test examples`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use appmesh_acceptance::{
    api_path, assert_metadata, resource_type, workspace_root, Step, TestCase,
};
use serde_json::json;

/// The resource types the provider offers; each needs an example.
const RESOURCE_TYPES: &[&str] = &[
    "appmesh_gateway_route",
    "appmesh_mesh",
    "appmesh_route",
    "appmesh_virtual_gateway",
    "appmesh_virtual_node",
    "appmesh_virtual_router",
    "appmesh_virtual_service",
];

/// The data sources the provider offers; each needs an example.
const DATA_SOURCE_TYPES: &[&str] = &[
    "appmesh_gateway_route",
    "appmesh_gateway_routes",
    "appmesh_mesh",
    "appmesh_meshes",
    "appmesh_route",
    "appmesh_routes",
    "appmesh_virtual_gateway",
    "appmesh_virtual_gateways",
    "appmesh_virtual_node",
    "appmesh_virtual_nodes",
    "appmesh_virtual_router",
    "appmesh_virtual_routers",
    "appmesh_virtual_service",
    "appmesh_virtual_services",
];

/// The endpoint written in `examples/provider/provider.tf`, replaced by the test's.
const EXAMPLE_ENDPOINT: &str = "http://127.0.0.1:9080";

fn examples_dir() -> PathBuf {
    workspace_root().join("examples")
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The `terraform import ADDRESS ID` command of an `import.sh`.
fn import_command(script: &str) -> (String, String) {
    let commands: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("terraform import "))
        .collect();
    assert_eq!(
        commands.len(),
        1,
        "one terraform import command in:\n{script}"
    );
    let words: Vec<&str> = commands[0].split_whitespace().collect();
    assert_eq!(
        words.len(),
        4,
        "terraform import ADDRESS ID: {}",
        commands[0]
    );
    (words[2].to_owned(), words[3].to_owned())
}

#[test]
fn every_resource_type_has_an_example() {
    let dir = examples_dir().join("resources");
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = RESOURCE_TYPES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(found, expected, "directories under examples/resources");
    for ty in RESOURCE_TYPES {
        let resource = read(&dir.join(ty).join("resource.tf"));
        let (address, _) = import_command(&read(&dir.join(ty).join("import.sh")));
        assert_eq!(
            resource_type(&address),
            *ty,
            "import.sh of {ty} imports {address}"
        );
        let (_, name) = address.split_once('.').unwrap();
        assert!(
            resource.contains(&format!("resource \"{ty}\" \"{name}\"")),
            "{ty}/resource.tf declares {address}"
        );
    }
    let provider = read(&examples_dir().join("provider").join("provider.tf"));
    assert!(
        provider.contains(EXAMPLE_ENDPOINT),
        "provider.tf uses {EXAMPLE_ENDPOINT}"
    );
    assert!(provider.contains("appmesh-community/appmesh"));
}

/// Every `examples/data-sources/<type>/data-source.tf` at once, against the mesh of
/// `examples/scenarios/canary`: each reads what it names, and its outputs say what the
/// scenario configured.
#[test]
fn data_source_examples_read_the_canary_mesh() {
    let dir = examples_dir().join("data-sources");
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = DATA_SOURCE_TYPES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(found, expected, "directories under examples/data-sources");
    let all: Vec<String> = DATA_SOURCE_TYPES
        .iter()
        .map(|t| read(&dir.join(t).join("data-source.tf")))
        .collect();

    let case = TestCase::new();
    case.set_provider_config(&read(&examples_dir().join("scenarios/canary/main.tf")));
    case.write_file(
        "terraform.tfvars",
        &format!("endpoint = \"{}\"\n", case.endpoint()),
    );
    case.run(vec![
        // The scenario first, so there is something to read.
        Step::apply(""),
        Step::apply(all.join("\n")).check(|state, _| {
            let outputs = &state.json()["values"]["outputs"];
            let value = |name: &str| outputs[name]["value"].clone();
            assert_eq!(value("apps_egress"), "ALLOW_ALL");
            assert_eq!(value("serviceb_router"), "serviceB");
            assert_eq!(value("servicea_port"), 80);
            assert_eq!(value("servicea_backends"), json!(["serviceb.apps.local"]));
            assert_eq!(value("serviceb_router_protocol"), "http2");
            assert_eq!(
                value("serviceb_weights"),
                json!({"serviceB": 75, "serviceBv2": 25})
            );
            assert_eq!(value("ingress_port"), 8080);
            assert_eq!(value("gr_a_target"), "servicea.apps.local");
            assert_eq!(value("mesh_names"), json!(["apps"]));
            assert_eq!(
                value("virtual_service_names"),
                json!(["servicea.apps.local", "serviceb.apps.local"])
            );
            let nodes = value("virtual_nodes");
            let nodes = nodes.as_object().unwrap();
            assert_eq!(nodes.len(), 3);
            assert!(nodes["serviceA"]
                .as_str()
                .unwrap()
                .ends_with("mesh/apps/virtualNode/serviceA"));
            assert_eq!(value("virtual_router_names"), json!(["serviceB"]));
            assert_eq!(value("route_names"), json!(["serviceB-route"]));
            assert_eq!(value("virtual_gateway_names"), json!(["ingress-gw"]));
            assert_eq!(value("gateway_route_names"), json!(["gr-a"]));
        }),
    ]);
}

/// Applies `examples/resources/<ty>/resource.tf`, checks the resource against the API,
/// re-plans empty, imports it with the ID from `import.sh`, then destroys everything.
fn run_example(ty: &str) {
    let dir = examples_dir().join("resources").join(ty);
    let resource = read(&dir.join("resource.tf"));
    let (address, id) = import_command(&read(&dir.join("import.sh")));

    let case = TestCase::new();
    let provider = read(&examples_dir().join("provider").join("provider.tf"));
    case.set_provider_config(&provider.replace(EXAMPLE_ENDPOINT, case.endpoint()));
    let addr = address.clone();
    case.run(vec![
        Step::apply(resource).check(move |state, api| {
            for a in state.addresses() {
                let data = api.get(&api_path(state, a));
                assert_metadata(state, a, &data);
            }
            assert!(state.contains(&addr), "{addr} is in state");
        }),
        Step::import_verify(&address, &id),
    ]);
}

macro_rules! example_tests {
    ($($ty:ident),* $(,)?) => {
        $(
            #[test]
            fn $ty() {
                run_example(stringify!($ty));
            }
        )*
    };
}

example_tests!(
    appmesh_mesh,
    appmesh_virtual_service,
    appmesh_virtual_node,
    appmesh_virtual_router,
    appmesh_route,
    appmesh_virtual_gateway,
    appmesh_gateway_route,
);
