//! Data sources: every `appmesh_<kind>` data source reads back what the resource of that kind
//! wrote (the attributes they share are equal, `tags` are the resource's `tags_all`), with
//! and without `mesh_owner`; every list data source (`appmesh_meshes`,
//! `appmesh_virtual_nodes`, ...) returns the names and ARNs, paging past 100 items; a
//! missing object is an error naming what was looked up
//! (`acceptance/testdata/data_sources/`).
//! Run with `cargo test -p appmesh-acceptance --test data_sources`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use appmesh_acceptance::{paths, random_name, step_config, Api, State, Step, TestCase};
use serde_json::json;

/// Each object data source and the resource it reads.
const PAIRS: &[(&str, &str)] = &[
    ("data.appmesh_mesh.this", "appmesh_mesh.this"),
    ("data.appmesh_virtual_node.api", "appmesh_virtual_node.api"),
    (
        "data.appmesh_virtual_router.api",
        "appmesh_virtual_router.api",
    ),
    ("data.appmesh_route.api", "appmesh_route.api"),
    (
        "data.appmesh_virtual_service.api",
        "appmesh_virtual_service.api",
    ),
    (
        "data.appmesh_virtual_gateway.ingress",
        "appmesh_virtual_gateway.ingress",
    ),
    (
        "data.appmesh_gateway_route.api",
        "appmesh_gateway_route.api",
    ),
];

/// Each list data source and the resources whose names it must return.
const LISTS: &[(&str, &str)] = &[
    ("data.appmesh_meshes.all", "appmesh_mesh.this"),
    ("data.appmesh_virtual_nodes.all", "appmesh_virtual_node.api"),
    (
        "data.appmesh_virtual_routers.all",
        "appmesh_virtual_router.api",
    ),
    ("data.appmesh_routes.all", "appmesh_route.api"),
    (
        "data.appmesh_virtual_services.all",
        "appmesh_virtual_service.api",
    ),
    (
        "data.appmesh_virtual_gateways.all",
        "appmesh_virtual_gateway.ingress",
    ),
    (
        "data.appmesh_gateway_routes.all",
        "appmesh_gateway_route.api",
    ),
];

/// Nodes created through the API beyond the one in the configuration: more than a page.
const EXTRA_NODES: usize = 104;

fn list_of(flat: &BTreeMap<String, String>, attr: &str) -> Vec<String> {
    let n: usize = flat[&format!("{attr}.#")].parse().unwrap();
    (0..n)
        .map(|i| flat[&format!("{attr}.{i}")].clone())
        .collect()
}

fn assert_data_sources_match(state: &State) {
    for (data, resource) in PAIRS {
        let (d, r) = (state.data_flat(data), state.flat(resource));
        for (attr, value) in &r {
            let shared = attr.starts_with("spec.")
                || [
                    "arn",
                    "created_date",
                    "last_updated_date",
                    "mesh_name",
                    "mesh_owner",
                    "name",
                    "resource_owner",
                    "virtual_gateway_name",
                    "virtual_router_name",
                ]
                .contains(&attr.as_str());
            if shared {
                assert_eq!(
                    d.get(attr),
                    Some(value),
                    "{data}: {attr} differs from {resource}'s"
                );
            }
        }
        let spec_keys =
            |m: &BTreeMap<String, String>| m.keys().filter(|k| k.starts_with("spec.")).count();
        assert_eq!(spec_keys(&d), spec_keys(&r), "{data}: spec attributes");
        assert_eq!(d["id"], r["name"], "{data}: id is the name");
        // `tags` are all the resource's tags, default tags included.
        let tags = |m: &BTreeMap<String, String>, attr: &str| -> BTreeMap<String, String> {
            let prefix = format!("{attr}.");
            m.iter()
                .filter(|(k, _)| k.starts_with(&prefix) && !k.ends_with(".%"))
                .map(|(k, v)| (k[prefix.len()..].to_owned(), v.clone()))
                .collect()
        };
        assert_eq!(tags(&d, "tags"), tags(&r, "tags_all"), "{data}: tags");
    }
    assert_eq!(
        state.data_flat("data.appmesh_virtual_node.api")["tags.Team"],
        "api"
    );
    for (list, resource) in LISTS {
        let l = state.data_flat(list);
        let (names, arns) = (list_of(&l, "names"), list_of(&l, "arns"));
        let name = state.expect_attr(resource, "name");
        let at = names.iter().position(|n| *n == name);
        let at = at.unwrap_or_else(|| panic!("{list} does not name {resource}: {names:?}"));
        assert_eq!(
            arns[at],
            state.expect_attr(resource, "arn"),
            "{list}: ARN of {name}"
        );
        assert_eq!(names.len(), arns.len(), "{list}");
    }
}

/// `n000`, `n001`, ... in `mesh`, through the API.
fn create_extra_nodes(api: &Api, mesh: &str) {
    for i in 0..EXTRA_NODES {
        api.put(
            &format!("/v20190125/meshes/{mesh}/virtualNodes"),
            &json!({"virtualNodeName": format!("n{i:03}"), "spec": {}}),
        );
    }
}

#[test]
fn data_sources_read_what_resources_wrote() {
    let name = random_name();
    let case = TestCase::new().with_testdata("data_sources", &name);
    let (n1, n2) = (name.clone(), name);
    case.run(vec![
        Step::apply(step_config("data_sources", "read.tf")).check(move |state, api| {
            assert_data_sources_match(state);
            create_extra_nodes(api, &n1);
        }),
        // The next read pages through all of them.
        Step::apply(step_config("data_sources", "read.tf")).check(move |state, api| {
            let nodes = state.data_flat("data.appmesh_virtual_nodes.all");
            let names = list_of(&nodes, "names");
            assert_eq!(names.len(), EXTRA_NODES + 1, "{names:?}");
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(names, sorted, "names come in the API's order");
            let arns = list_of(&nodes, "arns");
            assert!(arns[0].ends_with(&format!("mesh/{n2}/virtualNode/{}", names[0])));
            for i in 0..EXTRA_NODES {
                api.delete(&paths::virtual_node(&n2, &format!("n{i:03}")));
            }
        }),
        Step::expect_errors(
            step_config("data_sources", "missing.tf"),
            &[
                r#"There is no virtual node "no-such-node" in mesh "tf-acc-[0-9a-f]+"\."#,
                r#"There is no route "no-such-route" of virtual router "api" in mesh "tf-acc-[0-9a-f]+"\."#,
                r#"There is no mesh "tf-acc-[0-9a-f]+-missing"\."#,
                r#"listing App Mesh virtual nodes in mesh "tf-acc-[0-9a-f]+-missing": NotFoundException"#,
            ],
        ),
    ]);
}
