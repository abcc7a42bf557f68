//! Acceptance tests for `appmesh_virtual_service`: the terraform CLI against the provider and
//! a fresh control plane per test (`cargo test -p appmesh-acceptance --test virtual_service`).
//!
//! Every configuration holds a mesh, two bare virtual nodes (`a`, `b`) and a virtual router
//! `r`, so that switching the service's provider between them is a change of the service
//! alone (the control plane refuses a provider that does not exist).

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    assert_metadata, assert_tags, assert_top_level_attributes, bare_node_hcl, mesh_child_hcl,
    mesh_hcl, paths, random_name, router_hcl, tags_hcl, version, Api, State, Step, TestCase,
    REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_virtual_service.test";
const MESH: &str = "appmesh_mesh.test";

/// What provides the service.
#[derive(Clone, Copy, Debug)]
enum Provider {
    /// `spec {}`.
    None,
    /// Virtual node `a`.
    NodeA,
    /// Virtual node `b`.
    NodeB,
    /// Virtual router `r`.
    Router,
}

/// The names of the objects one test creates.
#[derive(Clone, Debug)]
struct Names {
    mesh: String,
    node_a: String,
    node_b: String,
    router: String,
}

impl Names {
    fn random() -> Names {
        Names {
            mesh: random_name(),
            node_a: random_name(),
            node_b: random_name(),
            router: random_name(),
        }
    }

    /// The API spec a provider choice must produce.
    fn api_spec(&self, provider: Provider) -> Value {
        match provider {
            Provider::None => json!({}),
            Provider::NodeA => {
                json!({"provider": {"virtualNode": {"virtualNodeName": self.node_a}}})
            }
            Provider::NodeB => {
                json!({"provider": {"virtualNode": {"virtualNodeName": self.node_b}}})
            }
            Provider::Router => {
                json!({"provider": {"virtualRouter": {"virtualRouterName": self.router}}})
            }
        }
    }
}

/// The mesh, nodes `a` and `b` and router `r`: everything but the service.
fn config_base(n: &Names) -> String {
    [
        mesh_hcl(&n.mesh),
        bare_node_hcl("a", &n.node_a),
        bare_node_hcl("b", &n.node_b),
        router_hcl("r", &n.router, "http", &[8080]),
    ]
    .concat()
}

fn config(n: &Names, service: &str, provider: Provider) -> String {
    config_tags(n, service, provider, &[])
}

fn config_tags(n: &Names, service: &str, provider: Provider, tags: &[(&str, &str)]) -> String {
    let provider = match provider {
        Provider::None => String::new(),
        Provider::NodeA | Provider::NodeB => {
            let node = if matches!(provider, Provider::NodeA) {
                "a"
            } else {
                "b"
            };
            format!(
                r#"
    provider {{
      virtual_node {{
        virtual_node_name = appmesh_virtual_node.{node}.name
      }}
    }}
  "#
            )
        }
        Provider::Router => r#"
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.r.name
      }
    }
  "#
        .to_owned(),
    };
    let tags = tags_hcl(tags);
    let service = mesh_child_hcl("appmesh_virtual_service", "test", service, &provider, &tags);
    format!("{}{service}", config_base(n))
}

/// A service name in DNS form, unique per test.
fn service_name() -> String {
    format!("{}.apps.local", random_name())
}

fn describe(api: &Api, mesh: &str, service: &str) -> Value {
    api.get(&paths::virtual_service(mesh, service))
}

/// Asserts the provider blocks in state say exactly what `provider` says.
fn assert_state_provider(state: &State, n: &Names, provider: Provider) {
    state.assert_attr(ADDR, "spec.#", "1");
    let node = |name: &str| {
        state.assert_attr(ADDR, "spec.0.provider.#", "1");
        state.assert_attr(ADDR, "spec.0.provider.0.virtual_node.#", "1");
        state.assert_attr(
            ADDR,
            "spec.0.provider.0.virtual_node.0.virtual_node_name",
            name,
        );
        assert_eq!(
            state.count(ADDR, "spec.0.provider.0.virtual_router"),
            0,
            "no virtual_router block in state"
        );
    };
    match provider {
        Provider::None => assert_eq!(
            state.count(ADDR, "spec.0.provider"),
            0,
            "no provider block in state"
        ),
        Provider::NodeA => node(&n.node_a),
        Provider::NodeB => node(&n.node_b),
        Provider::Router => {
            state.assert_attr(ADDR, "spec.0.provider.#", "1");
            state.assert_attr(ADDR, "spec.0.provider.0.virtual_router.#", "1");
            state.assert_attr(
                ADDR,
                "spec.0.provider.0.virtual_router.0.virtual_router_name",
                &n.router,
            );
            assert_eq!(
                state.count(ADDR, "spec.0.provider.0.virtual_node"),
                0,
                "no virtual_node block in state"
            );
        }
    }
}

/// A check: metadata, spec (API and state) and version of the service.
fn check_service(
    n: &Names,
    service: &str,
    provider: Provider,
    expected_version: i64,
) -> impl Fn(&State, &Api) + 'static {
    let (n, service) = (n.clone(), service.to_owned());
    move |state, api| {
        let data = describe(api, &n.mesh, &service);
        assert_metadata(state, ADDR, &data);
        assert_eq!(
            data["spec"],
            n.api_spec(provider),
            "spec in the API (provider {provider:?})"
        );
        assert_state_provider(state, &n, provider);
        assert_eq!(version(&data), expected_version, "metadata.version");
    }
}

#[test]
fn basic() {
    let n = Names::random();
    let service = service_name();
    let (m, s) = (n.mesh.clone(), service.clone());
    TestCase::new().run(vec![
        Step::apply(config(&n, &service, Provider::None))
            .check(check_service(&n, &service, Provider::None, 1))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                let data = describe(api, &m, &s);
                state.assert_attr(ADDR, "name", &s);
                state.assert_attr(ADDR, "mesh_name", &m);
                assert_eq!(data["virtualServiceName"], s.as_str());
                assert_eq!(data["meshName"], m.as_str());
                let id = state.expect_attr(ADDR, "id");
                assert_eq!(id, data["metadata"]["uid"].as_str().unwrap(), "id = uid");
                assert_ne!(id, s, "the id is the uid, not the name");
                let arn = state.expect_attr(ADDR, "arn");
                assert_eq!(
                    arn,
                    format!("arn:aws:appmesh:us-east-1:123456789012:mesh/{m}/virtualService/{s}")
                );
                assert_eq!(data["metadata"]["arn"], arn.as_str());
                state.assert_attr(ADDR, "mesh_owner", "123456789012");
                state.assert_attr(ADDR, "resource_owner", "123456789012");
                // Both timestamps are RFC 3339 (assert_metadata compares them to the API);
                // a fresh object was never updated.
                assert_eq!(
                    state.expect_attr(ADDR, "created_date"),
                    state.expect_attr(ADDR, "last_updated_date")
                );
                assert_tags(state, api, ADDR, &[]);
            }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &format!("{}/{service}", n.mesh)),
    ]);
}

#[test]
fn import() {
    let n = Names::random();
    let service = service_name();
    let id = format!("{}/{service}", n.mesh);
    let tags: &[(&str, &str)] = &[("Name", "service"), ("Team", "edge")];
    TestCase::new().run(vec![
        Step::apply(config_tags(&n, &service, Provider::NodeA, tags)),
        Step::import_verify(ADDR, &id).check(check_service(&n, &service, Provider::NodeA, 1)),
        Step::import_block(ADDR, &id)
            .check(check_service(&n, &service, Provider::NodeA, 1))
            .check(move |state, api| assert_tags(state, api, ADDR, tags)),
        // A router-provided service imports just as well.
        Step::expect_plan(
            config_tags(&n, &service, Provider::Router, tags),
            &[(ADDR, UPDATE)],
        ),
        Step::import_verify(ADDR, &id).check(check_service(&n, &service, Provider::Router, 2)),
        Step::import_block(ADDR, &id),
        // A malformed import ID names the expected format.
        Step::expect_error(
            format!(
                "{}\nimport {{\n  to = appmesh_virtual_service.other\n  id = \"{service}\"\n}}\n\
                 resource \"appmesh_virtual_service\" \"other\" {{\n  name = \"{service}\"\n  \
                 mesh_name = \"{mesh}\"\n  spec {{}}\n}}\n",
                config_tags(&n, &service, Provider::Router, tags),
                mesh = n.mesh,
            ),
            r"(?i)expected.*format|format.*expected|mesh[_ -]?name>?/<?(virtual[_ -]?)?service[_ -]?name",
        ),
    ]);
}

#[test]
fn update() {
    let n = Names::random();
    let service = service_name();
    let (n2, s2) = (n.clone(), service.clone());
    TestCase::new().run(vec![
        Step::apply(config(&n, &service, Provider::NodeA)).check(check_service(
            &n,
            &service,
            Provider::NodeA,
            1,
        )),
        // Only the service changes: nodes and router stay as they are.
        Step::expect_plan(config(&n, &service, Provider::NodeB), &[(ADDR, UPDATE)])
            .check(check_service(&n, &service, Provider::NodeB, 2)),
        Step::import_verify(ADDR, &format!("{}/{service}", n.mesh)),
        Step::expect_plan(config(&n, &service, Provider::Router), &[(ADDR, UPDATE)])
            .check(check_service(&n, &service, Provider::Router, 3)),
        Step::import_verify(ADDR, &format!("{}/{service}", n.mesh)),
        // A provider changed behind Terraform's back (version 4) is detected and undone.
        Step::plan_empty().check(move |_, api| {
            api.put(
                &paths::virtual_service(&n2.mesh, &s2),
                &json!({"spec": n2.api_spec(Provider::NodeA)}),
            );
        }),
        Step::expect_plan(config(&n, &service, Provider::Router), &[(ADDR, UPDATE)])
            .check(check_service(&n, &service, Provider::Router, 5)),
        // Dropping the provider is an in-place update too.
        Step::expect_plan(config(&n, &service, Provider::None), &[(ADDR, UPDATE)])
            .check(check_service(&n, &service, Provider::None, 6)),
    ]);
}

#[test]
fn replace() {
    let n = Names::random();
    let (old, new) = (service_name(), service_name());
    let (n2, o, s) = (n.clone(), old.clone(), new.clone());
    TestCase::new().run(vec![
        Step::apply(config(&n, &old, Provider::NodeA)).check(check_service(
            &n,
            &old,
            Provider::NodeA,
            1,
        )),
        Step::expect_plan(config(&n, &new, Provider::NodeA), &[(ADDR, REPLACE)])
            .check(check_service(&n, &new, Provider::NodeA, 1))
            .check(move |state, api| {
                assert!(
                    api.try_get(&paths::virtual_service(&n2.mesh, &o)).is_none(),
                    "the old service is deleted"
                );
                // The provider node and the mesh are untouched.
                let node = api.get(&paths::virtual_node(&n2.mesh, &n2.node_a));
                assert_eq!(version(&node), 1);
                assert_eq!(version(&api.get(&paths::mesh(&n2.mesh))), 1);
                state.assert_attr(MESH, "id", &n2.mesh);
                state.assert_attr(ADDR, "name", &s);
            }),
        Step::import_verify(ADDR, &format!("{}/{new}", n.mesh)),
    ]);
}

#[test]
fn disappears() {
    let n = Names::random();
    let service = service_name();
    TestCase::new().run(vec![
        Step::apply(config(&n, &service, Provider::NodeA)),
        Step::disappear(ADDR, &paths::virtual_service(&n.mesh, &service)),
        Step::apply(config(&n, &service, Provider::NodeA)).check(check_service(
            &n,
            &service,
            Provider::NodeA,
            1,
        )),
    ]);
}

#[test]
fn validation() {
    let n = Names::random();
    let service = service_name();
    let both = config(&n, &service, Provider::NodeA).replace(
        "      virtual_node {",
        "      virtual_router {\n        virtual_router_name = appmesh_virtual_router.r.name\n      }\n      virtual_node {",
    );
    assert!(
        both.contains("virtual_router {"),
        "the config names both providers"
    );
    TestCase::new().run(vec![
        // `spec` is required on a virtual service, even if empty.
        Step::expect_error(
            format!(
                "{}\nresource \"appmesh_virtual_service\" \"test\" {{\n  name      = \"{service}\"\n  mesh_name = appmesh_mesh.test.id\n}}\n",
                config_base(&n)
            ),
            r"(?i)spec.*required|required.*spec",
        ),
        // The provider is a union: naming a node and a router at once fails at plan time.
        Step::expect_error(both, r"(?i)provider.*(virtual_node|virtual_router)"),
        // Only the API knows whether the node exists: the apply fails with the provider's
        // diagnostic naming the operation and the service.
        Step::expect_apply_error(
            format!(
                r#"{mesh_block}
resource "appmesh_virtual_service" "test" {{
  name      = "{service}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    provider {{
      virtual_node {{
        virtual_node_name = "missing"
      }}
    }}
  }}
}}
"#,
                mesh_block = mesh_hcl(&n.mesh)
            ),
            &format!(
                r"creating App Mesh Virtual Service \({mesh}/{svc}\): .*(NotFound|not found)",
                mesh = regex_escape(&n.mesh),
                svc = regex_escape(&service)
            ),
        ),
    ]);
}

/// `s` with the regex metacharacters that occur in names (`.`) escaped.
fn regex_escape(s: &str) -> String {
    s.replace('.', r"\.")
}
