//! Acceptance tests for `appmesh_gateway_route`: the terraform CLI against the provider and a
//! fresh control plane per test (`cargo test -p appmesh-acceptance --test gateway_route`).
//!
//! Every test builds a mesh with two virtual nodes (`serviceb`, `servicec`), the virtual
//! services they provide (`serviceb.local`, `servicec.local`) and a virtual gateway, then
//! manages one gateway route on it. Lifecycle tests (`basic`, `import`, `update`, `replace`,
//! `disappears`, `destroy`) come first; then one test per match, rewrite and target feature,
//! mirroring `aws_appmesh_gateway_route`'s acceptance suite plus the API members that
//! provider lacks. A feature test is a list of variants, each an HCL `spec` body next to the
//! API JSON it must produce: the first is applied, compared with the API (and the state with
//! the API), re-planned empty and imported; every later one must be an in-place update.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use appmesh_acceptance::spec::{check_spec, feature_steps};
use appmesh_acceptance::{
    api_path, assert_tags, assert_top_level_attributes, listeners_hcl, mesh_child_hcl, mesh_hcl,
    node_service_hcl, paths, random_name, router_hcl, tags_hcl, version, Step, TestCase, DELETE,
    REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_gateway_route.test";
const GATEWAY: &str = "appmesh_virtual_gateway.test";

// === configurations ===

/// What the route runs against: the protocol of every listener, the gateway's listener
/// ports and the listener ports of the virtual nodes behind the services.
#[derive(Clone, Copy)]
struct Base {
    protocol: &'static str,
    gateway_ports: &'static [u16],
    node_ports: &'static [u16],
    /// Adds `servicer.local`, provided by a virtual router listening on `node_ports`.
    router: bool,
}

const HTTP: Base = Base {
    protocol: "http",
    gateway_ports: &[8080],
    node_ports: &[8080],
    router: false,
};

impl Base {
    fn render(&self, mesh: &str, gateway: &str) -> String {
        let node_listeners = listeners_hcl(self.protocol, self.node_ports);
        let gateway_spec = format!("{}  ", listeners_hcl(self.protocol, self.gateway_ports));
        let mut hcl = mesh_hcl(mesh);
        hcl.push_str(&mesh_child_hcl(
            "appmesh_virtual_gateway",
            "test",
            gateway,
            &gateway_spec,
            "",
        ));
        for service in ["serviceb", "servicec"] {
            hcl.push_str(&node_service_hcl(
                service,
                service,
                &node_listeners,
                &format!("{service}.apps.local"),
                &format!("{service}.local"),
            ));
        }
        if self.router {
            hcl.push_str(&router_hcl(
                "servicer",
                "servicer",
                self.protocol,
                self.node_ports,
            ));
            hcl.push_str(
                r#"
resource "appmesh_virtual_service" "servicer" {
  name      = "servicer.local"
  mesh_name = appmesh_mesh.test.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.servicer.name
      }
    }
  }
}
"#,
            );
        }
        hcl
    }

    /// The base plus the gateway route `route` with `spec` (an HCL body).
    fn config(&self, mesh: &str, gateway: &str, route: &str, spec: &str) -> String {
        self.config_tags(mesh, gateway, route, spec, &[])
    }

    fn config_tags(
        &self,
        mesh: &str,
        gateway: &str,
        route: &str,
        spec: &str,
        tags: &[(&str, &str)],
    ) -> String {
        let tags = tags_hcl(tags);
        format!(
            r#"{base}
resource "appmesh_gateway_route" "test" {{
  name                 = "{route}"
  mesh_name            = appmesh_mesh.test.id
  virtual_gateway_name = appmesh_virtual_gateway.test.name

  spec {{
{spec}
  }}
{tags}}}
"#,
            base = self.render(mesh, gateway)
        )
    }
}

/// A `target` block for the virtual service of resource `service` (`serviceb`, ...).
fn target(service: &str, port: Option<u16>) -> String {
    let port = port.map_or(String::new(), |p| format!("\n          port = {p}\n"));
    format!(
        r#"        target {{{port}
          virtual_service {{
            virtual_service_name = appmesh_virtual_service.{service}.name
          }}
        }}"#
    )
}

/// A route block: `kind` (`http_route`, `http2_route`, `grpc_route`) with a `match` body and
/// an `action` body.
fn route(kind: &str, match_body: &str, action_body: &str) -> String {
    format!(
        r#"    {kind} {{
      match {{
{match_body}
      }}

      action {{
{action_body}
      }}
    }}"#
    )
}

/// The API form of a target.
fn api_target(service: &str, port: Option<u16>) -> Value {
    let mut t = json!({"virtualService": {"virtualServiceName": format!("{service}.local")}});
    if let Some(p) = port {
        t["port"] = json!(p);
    }
    t
}

/// The API form of a route of `kind` (`httpRoute`, ...) with `match` and `action`.
fn api_route(kind: &str, m: Value, action: Value) -> Value {
    json!({kind: {"match": m, "action": action}})
}

/// Runs a feature test on `base`: `variants` are (spec HCL, expected API spec) pairs; the
/// first is created, verified, re-planned and imported; each later one is an in-place update.
fn feature(base: Base, variants: Vec<(String, Value)>) {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let id = format!("{mesh}/{gateway}/{name}");
    let variants = variants
        .into_iter()
        .map(|(spec, expected)| (base.config(&mesh, &gateway, &name, &spec), expected))
        .collect();
    TestCase::new().run(feature_steps(ADDR, &id, variants, |expected, v| {
        check_spec(ADDR, expected, v)
    }));
}

/// The simplest route: HTTP, prefix `/`, to `service`.
fn simple(service: &str) -> (String, Value) {
    (
        route(
            "http_route",
            r#"        prefix = "/""#,
            &target(service, None),
        ),
        api_route(
            "httpRoute",
            json!({"prefix": "/"}),
            json!({"target": api_target(service, None)}),
        ),
    )
}

// === lifecycle ===

#[test]
fn basic() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (m, g, n) = (mesh.clone(), gateway.clone(), name.clone());
    let (spec, expected) = simple("serviceb");
    TestCase::new().run(vec![
        Step::apply(HTTP.config(&mesh, &gateway, &name, &spec))
            .check(check_spec(ADDR, expected, 1))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                let data = api.get(&paths::gateway_route(&m, &g, &n));
                state.assert_attr(ADDR, "name", &n);
                state.assert_attr(ADDR, "mesh_name", &m);
                state.assert_attr(ADDR, "virtual_gateway_name", &g);
                state.assert_attr(ADDR, "id", data["metadata"]["uid"].as_str().unwrap());
                state.assert_attr(
                    ADDR,
                    "arn",
                    format!(
                        "arn:aws:appmesh:us-east-1:123456789012:mesh/{m}/virtualGateway/{g}/gatewayRoute/{n}"
                    ),
                );
                let id = state.expect_attr(ADDR, "id");
                assert_eq!(id.len(), 36, "the id is a UUID: {id}");
                state.assert_attr(ADDR, "mesh_owner", "123456789012");
                state.assert_attr(ADDR, "resource_owner", "123456789012");
                state.assert_attr(ADDR, "spec.#", "1");
                state.assert_attr(ADDR, "spec.0.http_route.0.match.0.prefix", "/");
                state.assert_attr(
                    ADDR,
                    "spec.0.http_route.0.action.0.target.0.virtual_service.0.virtual_service_name",
                    "serviceb.local",
                );
                state.assert_no_attr(ADDR, "spec.0.priority");
                assert_eq!(data["status"]["status"], "ACTIVE");
                assert_eq!(data["virtualGatewayName"], g.as_str());
                assert_tags(state, api, ADDR, &[]);
            }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}/{name}")),
    ]);
}

#[test]
fn import() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let id = format!("{mesh}/{gateway}/{name}");
    let (spec, expected) = simple("serviceb");
    let tags = [("Name", "route")];
    let other = |id: &str| {
        format!(
            r#"{}
import {{
  to = appmesh_gateway_route.other
  id = "{id}"
}}

resource "appmesh_gateway_route" "other" {{
  name                 = "other"
  mesh_name            = "{mesh}"
  virtual_gateway_name = "{gateway}"

  spec {{
{spec}
  }}
}}
"#,
            HTTP.config(&mesh, &gateway, &name, &spec)
        )
    };
    TestCase::new().run(vec![
        Step::apply(HTTP.config_tags(&mesh, &gateway, &name, &spec, &tags)),
        Step::import_verify(ADDR, &id),
        Step::import_block(ADDR, &id),
        Step::generate_config(HTTP.render(&mesh, &gateway), ADDR, &id)
            .check(check_spec(ADDR, expected, 1))
            .check(move |state, api| assert_tags(state, api, ADDR, &tags)),
        // Back to the configuration that references the gateway and the service (the
        // generated one names them literally), so the destroy order is known again.
        Step::apply(HTTP.config_tags(&mesh, &gateway, &name, &spec, &tags)),
        // A two-part ID is malformed: the error names the expected format.
        Step::expect_error(
            other(&format!("{mesh}/{gateway}")),
            r"(?i)MESH_NAME/VIRTUAL_GATEWAY_NAME/GATEWAY_ROUTE_NAME",
        ),
        // An ID naming no route fails the import.
        Step::expect_error(
            other(&format!("{mesh}/{gateway}/missing")),
            r"(?i)(not found|cannot import non-existent|does not exist)",
        ),
    ]);
}

#[test]
fn update() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let id_before = Rc::new(RefCell::new(String::new()));
    let id_after = id_before.clone();
    let (spec_b, expected_b) = simple("serviceb");
    let (spec_c, expected_c) = simple("servicec");
    TestCase::new().run(vec![
        Step::apply(HTTP.config(&mesh, &gateway, &name, &spec_b))
            .check(check_spec(ADDR, expected_b, 1))
            .check(move |state, _| *id_before.borrow_mut() = state.expect_attr(ADDR, "id")),
        // The target virtual service is swapped in place.
        Step::expect_plan(
            HTTP.config(&mesh, &gateway, &name, &spec_c),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(ADDR, expected_c, 2))
        .check(move |state, _| state.assert_attr(ADDR, "id", id_after.borrow().as_str())),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}/{name}")),
    ]);
}

#[test]
fn replace() {
    let (mesh, gateway, old, new) = (random_name(), random_name(), random_name(), random_name());
    let (m, g, o) = (mesh.clone(), gateway.clone(), old.clone());
    let (spec, expected) = simple("serviceb");
    TestCase::new().run(vec![
        Step::apply(HTTP.config(&mesh, &gateway, &old, &spec)),
        Step::expect_plan(
            HTTP.config(&mesh, &gateway, &new, &spec),
            &[(ADDR, REPLACE)],
        )
        .check(check_spec(ADDR, expected, 1))
        .check(move |state, api| {
            assert!(
                api.try_get(&paths::gateway_route(&m, &g, &o)).is_none(),
                "the old route is deleted"
            );
            assert_eq!(
                version(&api.get(&paths::virtual_gateway(&m, &g))),
                1,
                "the gateway is untouched"
            );
            state.assert_attr(GATEWAY, "name", &g);
        }),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}/{new}")),
    ]);
}

#[test]
fn disappears() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (spec, expected) = simple("serviceb");
    let cfg = HTTP.config(&mesh, &gateway, &name, &spec);
    TestCase::new().run(vec![
        Step::apply(cfg.clone()),
        Step::disappear(ADDR, &paths::gateway_route(&mesh, &gateway, &name)),
        Step::apply(cfg).check(check_spec(ADDR, expected, 1)),
    ]);
}

#[test]
fn destroy() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (m, g, n) = (mesh.clone(), gateway.clone(), name.clone());
    let (spec, _) = simple("serviceb");
    TestCase::new().run(vec![
        Step::apply(HTTP.config(&mesh, &gateway, &name, &spec)),
        // Removing the route block deletes the route and nothing else.
        Step::expect_plan(HTTP.render(&mesh, &gateway), &[(ADDR, DELETE)]).check(
            move |state, api| {
                assert!(
                    api.try_get(&paths::gateway_route(&m, &g, &n)).is_none(),
                    "the route is deleted"
                );
                assert!(!state.contains(ADDR), "the route left the state");
                assert_eq!(version(&api.get(&paths::virtual_gateway(&m, &g))), 1);
            },
        ),
    ]);
}

#[test]
fn tags() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (m, g, n) = (mesh.clone(), gateway.clone(), name.clone());
    let (spec, _) = simple("serviceb");
    TestCase::new().run(vec![
        Step::apply(HTTP.config_tags(&mesh, &gateway, &name, &spec, &[("Name", "r")]))
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "r")])),
        Step::expect_plan(
            HTTP.config_tags(
                &mesh,
                &gateway,
                &name,
                &spec,
                &[("Name", "r2"), ("Team", "edge")],
            ),
            &[(ADDR, UPDATE)],
        )
        .check(move |state, api| {
            assert_tags(state, api, ADDR, &[("Name", "r2"), ("Team", "edge")]);
            assert_eq!(
                version(&api.get(&paths::gateway_route(&m, &g, &n))),
                1,
                "a tag change must not update the route spec"
            );
        }),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}/{name}")),
    ]);
}

// === HTTP match features ===

#[test]
fn http_route_prefix() {
    let http = |prefix: &str| {
        (
            route(
                "http_route",
                &format!("        prefix = \"{prefix}\""),
                &target("serviceb", None),
            ),
            api_route(
                "httpRoute",
                json!({"prefix": prefix}),
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(HTTP, vec![http("/"), http("/users")]);
}

#[test]
fn http_route_hostname() {
    let http = |m: &str, api_match: Value| {
        (
            route("http_route", m, &target("serviceb", None)),
            api_route(
                "httpRoute",
                api_match,
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(
        HTTP,
        vec![
            http(
                "        hostname {\n          exact = \"www.example.com\"\n        }",
                json!({"hostname": {"exact": "www.example.com"}}),
            ),
            http(
                "        hostname {\n          suffix = \".example.com\"\n        }",
                json!({"hostname": {"suffix": ".example.com"}}),
            ),
            http(
                "        prefix = \"/\"\n\n        hostname {\n          suffix = \"example.com\"\n        }",
                json!({"prefix": "/", "hostname": {"suffix": "example.com"}}),
            ),
        ],
    );
}

#[test]
fn http_route_header_and_query_parameter() {
    let http = |m: &str, api_match: Value| {
        (
            route("http_route", m, &target("serviceb", None)),
            api_route(
                "httpRoute",
                api_match,
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(
        HTTP,
        vec![
            http(
                r#"        prefix = "/"

        header {
          name = "x-env"

          match {
            exact = "prod"
          }
        }

        header {
          name   = "x-canary"
          invert = true

          match {
            prefix = "yes"
          }
        }

        query_parameter {
          name = "version"

          match {
            exact = "v2"
          }
        }"#,
                json!({
                    "prefix": "/",
                    "headers": [
                        {"name": "x-env", "invert": false, "match": {"exact": "prod"}},
                        {"name": "x-canary", "invert": true, "match": {"prefix": "yes"}},
                    ],
                    "queryParameters": [{"name": "version", "match": {"exact": "v2"}}],
                }),
            ),
            // Range (from 0), regex, suffix and presence-only headers; a presence-only
            // query parameter.
            http(
                r#"        prefix = "/"

        header {
          name = "x-shard"

          match {
            range {
              start = 0
              end   = 100
            }
          }
        }

        header {
          name = "x-user"

          match {
            regex = "^a.*"
          }
        }

        header {
          name = "x-zone"

          match {
            suffix = "-east"
          }
        }

        header {
          name = "x-present"
        }

        query_parameter {
          name = "debug"
        }

        query_parameter {
          name = "version"

          match {
            exact = "v3"
          }
        }"#,
                json!({
                    "prefix": "/",
                    "headers": [
                        {"name": "x-shard", "invert": false, "match": {"range": {"start": 0, "end": 100}}},
                        {"name": "x-user", "invert": false, "match": {"regex": "^a.*"}},
                        {"name": "x-zone", "invert": false, "match": {"suffix": "-east"}},
                        {"name": "x-present", "invert": false},
                    ],
                    "queryParameters": [
                        {"name": "debug"},
                        {"name": "version", "match": {"exact": "v3"}},
                    ],
                }),
            ),
            // Headers and query parameters removed.
            http(r#"        prefix = "/""#, json!({"prefix": "/"})),
        ],
    );
}

#[test]
fn http_route_method() {
    // `method` is an API member `aws_appmesh_gateway_route` lacks.
    let http = |method: &str| {
        (
            route(
                "http_route",
                &format!("        prefix = \"/\"\n        method = \"{method}\""),
                &target("serviceb", None),
            ),
            api_route(
                "httpRoute",
                json!({"prefix": "/", "method": method}),
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(HTTP, vec![http("POST"), http("PATCH"), http("CONNECT")]);
}

#[test]
fn http_route_path_rewrite() {
    let http = |path: &str, rewrite: Option<&str>| {
        let (hcl_rewrite, api_action) = match rewrite {
            Some(r) => (
                format!(
                    "\n\n        rewrite {{\n          path {{\n            exact = \"{r}\"\n          }}\n        }}"
                ),
                json!({"target": api_target("serviceb", None), "rewrite": {"path": {"exact": r}}}),
            ),
            None => (
                String::new(),
                json!({"target": api_target("serviceb", None)}),
            ),
        };
        (
            route(
                "http_route",
                &format!("        path {{\n          exact = \"{path}\"\n        }}"),
                &format!("{}{hcl_rewrite}", target("serviceb", None)),
            ),
            api_route("httpRoute", json!({"path": {"exact": path}}), api_action),
        )
    };
    feature(
        HTTP,
        vec![
            http("/old", Some("/new")),
            http("/old", Some("/newer")),
            http("/legacy", None),
        ],
    );
}

#[test]
fn http_route_path_regex() {
    let http = |regex: &str| {
        (
            route(
                "http_route",
                &format!("        path {{\n          regex = \"{regex}\"\n        }}"),
                &target("serviceb", None),
            ),
            api_route(
                "httpRoute",
                json!({"path": {"regex": regex}}),
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(HTTP, vec![http("/items/[0-9]+"), http("/orders/.*")]);
}

#[test]
fn http_route_prefix_rewrite() {
    let http = |rewrite: &str, api_rewrite: Value| {
        (
            route(
                "http_route",
                r#"        prefix = "/api/""#,
                &format!(
                    "{}\n\n        rewrite {{\n{rewrite}\n        }}",
                    target("serviceb", None)
                ),
            ),
            api_route(
                "httpRoute",
                json!({"prefix": "/api/"}),
                json!({"target": api_target("serviceb", None), "rewrite": api_rewrite}),
            ),
        )
    };
    feature(
        HTTP,
        vec![
            http(
                r#"          prefix {
            default_prefix = "DISABLED"
          }

          hostname {
            default_target_hostname = "DISABLED"
          }"#,
                json!({
                    "prefix": {"defaultPrefix": "DISABLED"},
                    "hostname": {"defaultTargetHostname": "DISABLED"},
                }),
            ),
            http(
                r#"          prefix {
            value = "/v2/"
          }

          hostname {
            default_target_hostname = "ENABLED"
          }"#,
                json!({
                    "prefix": {"value": "/v2/"},
                    "hostname": {"defaultTargetHostname": "ENABLED"},
                }),
            ),
            http(
                r#"          prefix {
            default_prefix = "ENABLED"
          }"#,
                json!({"prefix": {"defaultPrefix": "ENABLED"}}),
            ),
        ],
    );
}

#[test]
fn http_route_rewrite_validation() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let with_rewrite = |rewrite: &str| {
        HTTP.config(
            &mesh,
            &gateway,
            &name,
            &route(
                "http_route",
                r#"        prefix = "/api/""#,
                &format!(
                    "{}\n\n        rewrite {{\n{rewrite}\n        }}",
                    target("serviceb", None)
                ),
            ),
        )
    };
    TestCase::new().run(vec![
        // A prefix rewrite takes exactly one of default_prefix and value.
        Step::expect_error(
            with_rewrite(
                "          prefix {\n            default_prefix = \"DISABLED\"\n            value = \"/x/\"\n          }",
            ),
            // In Terraform names, at the `prefix` block.
            r#"rewrite\.prefix must set exactly one of default_prefix, value.* in resource "appmesh_gateway_route" "test": \d+:\s+prefix \{"#,
        ),
        // The default toggles are enums.
        Step::expect_error(
            with_rewrite(
                "          hostname {\n            default_target_hostname = \"OFF\"\n          }",
            ),
            r#"rewrite\.hostname\.default_target_hostname must be one of ENABLED, DISABLED \(found "OFF"\)"#,
        ),
    ]);
}

// === targets and ports ===

#[test]
fn target_port_virtual_node() {
    const TWO_NODE_LISTENERS: Base = Base {
        node_ports: &[8080, 8081],
        ..HTTP
    };
    let http = |port: u16| {
        (
            route(
                "http_route",
                r#"        prefix = "/""#,
                &target("serviceb", Some(port)),
            ),
            api_route(
                "httpRoute",
                json!({"prefix": "/"}),
                json!({"target": api_target("serviceb", Some(port))}),
            ),
        )
    };
    feature(TWO_NODE_LISTENERS, vec![http(8080), http(8081)]);
}

#[test]
fn target_port_virtual_router() {
    const ROUTER: Base = Base {
        protocol: "http2",
        gateway_ports: &[8080],
        node_ports: &[8080, 8081],
        router: true,
    };
    let http2 = |port: u16| {
        (
            route(
                "http2_route",
                r#"        prefix = "/""#,
                &target("servicer", Some(port)),
            ),
            api_route(
                "http2Route",
                json!({"prefix": "/"}),
                json!({"target": api_target("servicer", Some(port))}),
            ),
        )
    };
    feature(ROUTER, vec![http2(8081), http2(8080)]);
}

#[test]
fn target_port_required() {
    // With two listeners behind the service, the API rejects a target without a port; the
    // apply reports the API's message with the resource's identity.
    const TWO_NODE_LISTENERS: Base = Base {
        node_ports: &[8080, 8081],
        ..HTTP
    };
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (spec, _) = simple("serviceb");
    TestCase::new().run(vec![Step::expect_apply_error(
        TWO_NODE_LISTENERS.config(&mesh, &gateway, &name, &spec),
        &format!(r"creating App Mesh Gateway Route \({mesh}/{gateway}/{name}\): .*port"),
    )]);
}

#[test]
fn match_port() {
    const TWO_GATEWAY_LISTENERS: Base = Base {
        gateway_ports: &[8080, 8081],
        ..HTTP
    };
    let http = |port: u16| {
        (
            route(
                "http_route",
                &format!("        prefix = \"/\"\n        port   = {port}"),
                &target("serviceb", None),
            ),
            api_route(
                "httpRoute",
                json!({"prefix": "/", "port": port}),
                json!({"target": api_target("serviceb", None)}),
            ),
        )
    };
    feature(TWO_GATEWAY_LISTENERS, vec![http(8080), http(8081)]);
}

#[test]
fn http2_route() {
    const HTTP2: Base = Base {
        protocol: "http2",
        ..HTTP
    };
    let http2 = |m: &str, api_match: Value, service: &str| {
        (
            route("http2_route", m, &target(service, None)),
            api_route(
                "http2Route",
                api_match,
                json!({"target": api_target(service, None)}),
            ),
        )
    };
    feature(
        HTTP2,
        vec![
            http2(
                r#"        prefix = "/""#,
                json!({"prefix": "/"}),
                "serviceb",
            ),
            http2(
                r#"        prefix = "/v2"

        query_parameter {
          name = "q"

          match {
            exact = "x"
          }
        }

        header {
          name = "x-env"

          match {
            exact = "prod"
          }
        }"#,
                json!({
                    "prefix": "/v2",
                    "queryParameters": [{"name": "q", "match": {"exact": "x"}}],
                    "headers": [{"name": "x-env", "invert": false, "match": {"exact": "prod"}}],
                }),
                "serviceb",
            ),
            http2(
                r#"        prefix = "/v2""#,
                json!({"prefix": "/v2"}),
                "servicec",
            ),
        ],
    );
}

#[test]
fn grpc_route() {
    const GRPC: Base = Base {
        protocol: "grpc",
        ..HTTP
    };
    let grpc = |m: &str, api_match: Value, action: &str, api_action: Value| {
        (
            route("grpc_route", m, action),
            api_route("grpcRoute", api_match, api_action),
        )
    };
    feature(
        GRPC,
        vec![
            grpc(
                r#"        service_name = "example.Greeter""#,
                json!({"serviceName": "example.Greeter"}),
                &target("serviceb", None),
                json!({"target": api_target("serviceb", None)}),
            ),
            // Hostname and metadata matches and the hostname rewrite: API members
            // `aws_appmesh_gateway_route` lacks.
            grpc(
                r#"        service_name = "example.Greeter2"

        hostname {
          suffix = ".apps.local"
        }

        metadata {
          name = "x-canary"

          match {
            exact = "true"
          }
        }

        metadata {
          name   = "x-version"
          invert = true

          match {
            range {
              start = 1
              end   = 3
            }
          }
        }"#,
                json!({
                    "serviceName": "example.Greeter2",
                    "hostname": {"suffix": ".apps.local"},
                    "metadata": [
                        {"name": "x-canary", "invert": false, "match": {"exact": "true"}},
                        {"name": "x-version", "invert": true, "match": {"range": {"start": 1, "end": 3}}},
                    ],
                }),
                &format!(
                    "{}\n\n        rewrite {{\n          hostname {{\n            default_target_hostname = \"DISABLED\"\n          }}\n        }}",
                    target("servicec", None)
                ),
                json!({
                    "target": api_target("servicec", None),
                    "rewrite": {"hostname": {"defaultTargetHostname": "DISABLED"}},
                }),
            ),
            grpc(
                r#"        service_name = "example.Greeter2"

        hostname {
          exact = "greeter.apps.local"
        }

        metadata {
          name = "x-tenant"
        }"#,
                json!({
                    "serviceName": "example.Greeter2",
                    "hostname": {"exact": "greeter.apps.local"},
                    "metadata": [{"name": "x-tenant", "invert": false}],
                }),
                &target("servicec", None),
                json!({"target": api_target("servicec", None)}),
            ),
        ],
    );
}

#[test]
fn priority() {
    let http = |priority: Option<u16>| {
        let (spec, mut expected) = simple("serviceb");
        match priority {
            Some(p) => {
                expected["priority"] = json!(p);
                (format!("    priority = {p}\n\n{spec}"), expected)
            }
            None => (spec, expected),
        }
    };
    // `priority = 0` is sent as 0 (the AWS provider drops it), also after another value.
    feature(
        HTTP,
        vec![http(Some(0)), http(Some(1000)), http(Some(0)), http(None)],
    );
}

#[test]
fn priority_zero_in_state_and_api() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (spec, _) = simple("serviceb");
    TestCase::new().run(vec![Step::apply(HTTP.config(
        &mesh,
        &gateway,
        &name,
        &format!("    priority = 0\n\n{spec}"),
    ))
    .check(|state, api| {
        state.assert_attr(ADDR, "spec.0.priority", "0");
        let data = api.get(&api_path(state, ADDR));
        assert_eq!(data["spec"]["priority"], json!(0), "priority = 0 is sent");
    })]);
}

#[test]
fn exactly_one_route_kind() {
    let (mesh, gateway, name) = (random_name(), random_name(), random_name());
    let (http, _) = simple("serviceb");
    let http2 = route(
        "http2_route",
        r#"        prefix = "/""#,
        &target("serviceb", None),
    );
    TestCase::new().run(vec![Step::expect_error(
        HTTP.config(&mesh, &gateway, &name, &format!("{http}\n{http2}")),
        // The message speaks Terraform: `grpc_route`, not the API's `grpcRoute`.
        r"(?i)exactly one of.*\bgrpc_route\b.*\bhttp2_route\b.*\bhttp_route\b",
    )]);
}
