//! Acceptance tests for `appmesh_virtual_router`: the terraform CLI against the provider and
//! a fresh control plane per test (`cargo test -p appmesh-acceptance --test virtual_router`).

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    assert_metadata, assert_tags, assert_top_level_attributes, listener_hcl, mesh_child_hcl,
    mesh_hcl, paths, random_name, tags_hcl, version, Api, State, Step, TestCase, REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_virtual_router.test";
const MESH: &str = "appmesh_mesh.test";

fn config(mesh: &str, router: &str, listeners: &[(u32, &str)]) -> String {
    config_tags(mesh, router, listeners, &[])
}

fn config_tags(
    mesh: &str,
    router: &str,
    listeners: &[(u32, &str)],
    tags: &[(&str, &str)],
) -> String {
    let listeners: String = listeners
        .iter()
        .map(|(port, protocol)| listener_hcl(port, protocol, ""))
        .collect();
    let spec = format!("{listeners}  ");
    let router = mesh_child_hcl(
        "appmesh_virtual_router",
        "test",
        router,
        &spec,
        &tags_hcl(tags),
    );
    format!("{}{router}", mesh_hcl(mesh))
}

fn describe(api: &Api, mesh: &str, router: &str) -> Value {
    api.get(&paths::virtual_router(mesh, router))
}

/// Asserts state and API both hold exactly `listeners`, in order.
fn assert_listeners(state: &State, data: &Value, listeners: &[(u32, &str)]) {
    state.assert_attr(ADDR, "spec.#", "1");
    state.assert_attr(ADDR, "spec.0.listener.#", listeners.len().to_string());
    let api_listeners: Vec<Value> = data["spec"]["listeners"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let expected_api: Vec<Value> = listeners
        .iter()
        .map(|(port, protocol)| json!({"portMapping": {"port": port, "protocol": protocol}}))
        .collect();
    assert_eq!(api_listeners, expected_api, "listeners in the API");
    for (i, (port, protocol)) in listeners.iter().enumerate() {
        state.assert_attr(ADDR, &format!("spec.0.listener.{i}.port_mapping.#"), "1");
        state.assert_attr(
            ADDR,
            &format!("spec.0.listener.{i}.port_mapping.0.port"),
            port.to_string(),
        );
        state.assert_attr(
            ADDR,
            &format!("spec.0.listener.{i}.port_mapping.0.protocol"),
            *protocol,
        );
    }
}

/// A check: metadata, listeners and version of the router against the API.
fn check_router(
    mesh: &str,
    router: &str,
    listeners: &'static [(u32, &'static str)],
    expected_version: i64,
) -> impl Fn(&State, &Api) + 'static {
    let (mesh, router) = (mesh.to_owned(), router.to_owned());
    move |state, api| {
        let data = describe(api, &mesh, &router);
        assert_metadata(state, ADDR, &data);
        assert_listeners(state, &data, listeners);
        assert_eq!(version(&data), expected_version, "metadata.version");
    }
}

#[test]
fn basic() {
    let (mesh, router) = (random_name(), random_name());
    let (m, r) = (mesh.clone(), router.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &router, &[(8080, "http")]))
            .check(check_router(&mesh, &router, &[(8080, "http")], 1))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                state.assert_attr(ADDR, "name", &r);
                state.assert_attr(ADDR, "mesh_name", &m);
                let arn = state.expect_attr(ADDR, "arn");
                assert_eq!(
                    arn,
                    format!("arn:aws:appmesh:us-east-1:123456789012:mesh/{m}/virtualRouter/{r}")
                );
                let id = state.expect_attr(ADDR, "id");
                assert_ne!(id, r, "the id is the uid, not the name");
                assert_eq!(id.len(), 36, "the id is a UUID: {id}");
                assert_tags(state, api, ADDR, &[]);
            }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &format!("{mesh}/{router}")),
    ]);
}

#[test]
fn no_listener() {
    // The API allows a router without listeners (terraform-provider-aws#27683).
    let (mesh, router) = (random_name(), random_name());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &router, &[])).check(check_router(&mesh, &router, &[], 1)),
        Step::expect_plan(config(&mesh, &router, &[(8080, "tcp")]), &[(ADDR, UPDATE)])
            .check(check_router(&mesh, &router, &[(8080, "tcp")], 2)),
        Step::import_verify(ADDR, &format!("{mesh}/{router}")),
    ]);
}

#[test]
fn import() {
    let (mesh, router) = (random_name(), random_name());
    let id = format!("{mesh}/{router}");
    let listeners: &[(u32, &str)] = &[(8080, "http"), (8081, "grpc")];
    TestCase::new().run(vec![
        Step::apply(config_tags(&mesh, &router, listeners, &[("Name", "router")])),
        Step::import_verify(ADDR, &id),
        Step::import_block(ADDR, &id),
        Step::generate_config(mesh_hcl(&mesh), ADDR, &id)
            .check(check_router(&mesh, &router, &[(8080, "http"), (8081, "grpc")], 1))
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "router")])),
        // The generated configuration names the mesh literally, so terraform no longer
        // knows the router depends on the mesh and would destroy both at once (the API
        // refuses to delete a mesh that still holds a router). Going back to the original
        // configuration is a no-op plan that records the dependency again.
        Step::apply(config_tags(&mesh, &router, listeners, &[("Name", "router")])),
        // A malformed import ID names the expected format.
        Step::expect_error(
            format!(
                "{}\nimport {{\n  to = appmesh_virtual_router.other\n  id = \"{router}\"\n}}\n\
                 resource \"appmesh_virtual_router\" \"other\" {{\n  name = \"{router}\"\n  \
                 mesh_name = \"{mesh}\"\n  spec {{}}\n}}\n",
                config(&mesh, &router, listeners)
            ),
            r"(?i)expected.*format|format.*expected|mesh[_ -]?name>?/<?(virtual[_ -]?)?router[_ -]?name",
        ),
    ]);
}

#[test]
fn update() {
    let (mesh, router) = (random_name(), random_name());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &router, &[(8080, "http")])).check(check_router(
            &mesh,
            &router,
            &[(8080, "http")],
            1,
        )),
        Step::expect_plan(config(&mesh, &router, &[(8081, "http")]), &[(ADDR, UPDATE)])
            .check(check_router(&mesh, &router, &[(8081, "http")], 2)),
        Step::import_verify(ADDR, &format!("{mesh}/{router}")),
    ]);
}

#[test]
fn multi_listener() {
    let (mesh, router) = (random_name(), random_name());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &router, &[(8080, "http"), (8081, "http2")])).check(
            check_router(&mesh, &router, &[(8080, "http"), (8081, "http2")], 1),
        ),
        Step::expect_plan(
            config(&mesh, &router, &[(8082, "grpc"), (8083, "tcp")]),
            &[(ADDR, UPDATE)],
        )
        .check(check_router(
            &mesh,
            &router,
            &[(8082, "grpc"), (8083, "tcp")],
            2,
        )),
        // Listeners are an ordered list: reordering them is a change, kept in API order.
        Step::expect_plan(
            config(&mesh, &router, &[(8083, "tcp"), (8082, "grpc")]),
            &[(ADDR, UPDATE)],
        )
        .check(check_router(
            &mesh,
            &router,
            &[(8083, "tcp"), (8082, "grpc")],
            3,
        )),
        Step::import_verify(ADDR, &format!("{mesh}/{router}")),
    ]);
}

#[test]
fn tags() {
    let (mesh, router) = (random_name(), random_name());
    let (m, r) = (mesh.clone(), router.clone());
    let listeners: &[(u32, &str)] = &[(8080, "http")];
    TestCase::new().run(vec![
        Step::apply(config_tags(
            &mesh,
            &router,
            listeners,
            &[("Name", "router")],
        ))
        .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "router")])),
        Step::expect_plan(
            config_tags(
                &mesh,
                &router,
                listeners,
                &[("Name", "router-2"), ("Team", "edge")],
            ),
            &[(ADDR, UPDATE)],
        )
        .check(move |state, api| {
            assert_tags(state, api, ADDR, &[("Name", "router-2"), ("Team", "edge")]);
            assert_eq!(
                version(&describe(api, &m, &r)),
                1,
                "a tag change must not update the router spec"
            );
        }),
        Step::import_verify(ADDR, &format!("{mesh}/{router}")),
        Step::expect_plan(config(&mesh, &router, listeners), &[(ADDR, UPDATE)])
            .check(|state, api| assert_tags(state, api, ADDR, &[])),
    ]);
}

#[test]
fn replace() {
    let (mesh, old, new) = (random_name(), random_name(), random_name());
    let (m, o, n) = (mesh.clone(), old.clone(), new.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &old, &[(8080, "http")])),
        Step::expect_plan(config(&mesh, &new, &[(8080, "http")]), &[(ADDR, REPLACE)]).check(
            move |state, api| {
                assert!(
                    api.try_get(&paths::virtual_router(&m, &o)).is_none(),
                    "the old router is deleted"
                );
                let data = describe(api, &m, &n);
                assert_metadata(state, ADDR, &data);
                assert_listeners(state, &data, &[(8080, "http")]);
                assert_eq!(version(&data), 1);
                // The mesh is untouched.
                assert_eq!(version(&api.get(&paths::mesh(&m))), 1);
                state.assert_attr(MESH, "id", &m);
            },
        ),
    ]);
}

#[test]
fn disappears() {
    let (mesh, router) = (random_name(), random_name());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &router, &[(8080, "http")])),
        Step::disappear(ADDR, &paths::virtual_router(&mesh, &router)),
        Step::apply(config(&mesh, &router, &[(8080, "http")])).check(check_router(
            &mesh,
            &router,
            &[(8080, "http")],
            1,
        )),
    ]);
}

#[test]
fn validation() {
    let (mesh, router) = (random_name(), random_name());
    TestCase::new().run(vec![
        Step::expect_error(
            config(&mesh, &router, &[(70000, "http")]),
            r"port_mapping(\[0\]|\.0)?\.port .*70000",
        ),
        Step::expect_error(
            config(&mesh, &router, &[(8080, "udp")]),
            r"port_mapping(\[0\]|\.0)?\.protocol .*udp",
        ),
        // Only the API knows the mesh does not exist: the apply fails with the provider's
        // diagnostic naming the operation and the resource.
        Step::expect_apply_error(
            format!(
                r#"
resource "appmesh_virtual_router" "test" {{
  name      = "{router}"
  mesh_name = "{mesh}-missing"

  spec {{}}
}}
"#
            ),
            &format!(r"creating App Mesh Virtual Router \({mesh}-missing/{router}\): .*"),
        ),
    ]);
}
