//! Acceptance tests for `appmesh_route`: the terraform CLI against the provider and a fresh
//! control plane per test (`cargo test -p appmesh-acceptance --test route`).
//!
//! Every configuration is the AWS provider's route fixture: a mesh, a virtual router whose
//! listener speaks the route's protocol and two virtual nodes (`a`, `b`), bare unless a test
//! needs listeners on `b`. The feature tests all follow one pattern: apply, compare the
//! route's `spec` in the API with the HCL member for member, re-plan empty, import and verify,
//! then change the feature in place (the API version goes from 1 to 2) and import again.
//! Zeros the AWS provider drops (`priority = 0`, `range.start = 0`, a duration `value = 0`)
//! must reach the API here.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use appmesh_acceptance::spec::feature_steps;
use appmesh_acceptance::{
    assert_metadata, assert_tags, assert_top_level_attributes, bare_node_hcl, listeners_hcl,
    mesh_child_hcl, mesh_hcl, paths, random_name, router_hcl, version, Api, State, Step, TestCase,
    DELETE, REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_route.test";

/// The names and listener layout of one test's resources.
struct Fixture {
    mesh: String,
    router: String,
    other_router: String,
    route: String,
    node_a: String,
    node_b: String,
    /// The router listeners' protocol.
    protocol: &'static str,
    /// The router's listener ports.
    router_ports: Vec<u32>,
    /// Node `b`'s listener ports (none: `spec {}`).
    node_b_ports: Vec<u32>,
}

impl Fixture {
    fn new(protocol: &'static str) -> Fixture {
        Fixture {
            mesh: random_name(),
            router: random_name(),
            other_router: random_name(),
            route: random_name(),
            node_a: random_name(),
            node_b: random_name(),
            protocol,
            router_ports: vec![8080],
            node_b_ports: Vec::new(),
        }
    }

    fn router_ports(mut self, ports: &[u32]) -> Fixture {
        self.router_ports = ports.to_vec();
        self
    }

    fn node_b_ports(mut self, ports: &[u32]) -> Fixture {
        self.node_b_ports = ports.to_vec();
        self
    }

    /// `MESH/ROUTER/ROUTE`, the import ID.
    fn id(&self) -> String {
        format!("{}/{}/{}", self.mesh, self.router, self.route)
    }

    fn path(&self) -> String {
        paths::route(&self.mesh, &self.router, &self.route)
    }

    /// Mesh, two routers (`test`, `other`) and nodes `a` and `b`.
    fn base(&self) -> String {
        let node_b_spec = if self.node_b_ports.is_empty() {
            String::new()
        } else {
            format!(
                r#"{}
    service_discovery {{
      dns {{
        hostname = "b.{mesh}.local"
      }}
    }}
  "#,
                listeners_hcl(self.protocol, &self.node_b_ports),
                mesh = self.mesh
            )
        };
        [
            mesh_hcl(&self.mesh),
            router_hcl("test", &self.router, self.protocol, &self.router_ports),
            router_hcl(
                "other",
                &self.other_router,
                self.protocol,
                &self.router_ports,
            ),
            bare_node_hcl("a", &self.node_a),
            mesh_child_hcl("appmesh_virtual_node", "b", &self.node_b, &node_b_spec, ""),
        ]
        .concat()
    }

    /// The base plus `appmesh_route.test` with `spec { <body> }`.
    fn config(&self, body: &str) -> String {
        self.config_with(&self.route, "test", body, "")
    }

    /// The base plus a route named `name` on router `router` (`test` or `other`), with
    /// extra top-level lines (e.g. tags).
    fn config_with(&self, name: &str, router: &str, body: &str, extra: &str) -> String {
        format!(
            r#"{base}
resource "appmesh_route" "test" {{
  name                = "{name}"
  mesh_name           = appmesh_mesh.test.id
  virtual_router_name = appmesh_virtual_router.{router}.name

  spec {{
{body}
  }}
{extra}}}
"#,
            base = self.base()
        )
    }
}

/// A JSON value with every array sorted: all arrays in a route spec are sets in Terraform,
/// so the order the provider sends them in carries no meaning.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Asserts the API's route spec equals `expected` exactly (up to set order).
fn assert_api_spec(data: &Value, expected: &Value) {
    let actual = normalized(&data["spec"]);
    let expected = normalized(expected);
    assert_eq!(
        actual, expected,
        "route spec in the API differs from the configuration\nactual:   {actual:#}\nexpected: {expected:#}"
    );
}

/// A check: metadata, the exact spec and the version of the fixture's route in the API.
fn check_route(fx: &Fixture, expected: Value, expected_version: i64) -> impl Fn(&State, &Api) {
    let path = fx.path();
    move |state, api| {
        let data = api.get(&path);
        assert_metadata(state, ADDR, &data);
        assert_api_spec(&data, &expected);
        assert_eq!(version(&data), expected_version, "metadata.version");
    }
}

/// The common feature test: apply `first`, check it, re-plan empty, import, update to
/// `second` in place, check it, import again.
fn feature(fx: &Fixture, first: (&str, Value), second: (&str, Value)) {
    let variants = vec![
        (fx.config(first.0), first.1),
        (fx.config(second.0), second.1),
    ];
    TestCase::new().run(feature_steps(ADDR, &fx.id(), variants, |expected, v| {
        check_route(fx, expected, v)
    }));
}

/// One weighted target in the API.
fn target(node: &str, weight: u32) -> Value {
    json!({"virtualNode": node, "weight": weight})
}

/// `http_route` with prefix `/` to node `a` at weight 100.
const HTTP_SIMPLE: &str = r#"
    http_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;

fn http_simple_json(fx: &Fixture) -> Value {
    json!({"httpRoute": {
        "match": {"prefix": "/"},
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }})
}

/// A route block of `kind` (`http_route`, ...): `matcher` (e.g. [`matching`]), an action
/// sending everything to node `a` at weight 100, then `extra` (further blocks, each on lines
/// of its own).
fn to_a(kind: &str, matcher: &str, extra: &str) -> String {
    format!(
        r#"
    {kind} {{{matcher}
      action {{
        weighted_target {{
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }}
      }}
{extra}    }}
"#
    )
}

/// A `match` block holding `lines` (for [`to_a`]).
fn matching(lines: &[&str]) -> String {
    let body: String = lines.iter().map(|l| format!("        {l}\n")).collect();
    format!("\n      match {{\n{body}      }}\n")
}

/// The API form of [`to_a`]: `{member: {match, action, ...extra}}` (`matcher` left out
/// when `None`).
fn to_a_json(fx: &Fixture, member: &str, matcher: Option<Value>, extra: Value) -> Value {
    let mut route = json!({"action": {"weightedTargets": [target(&fx.node_a, 100)]}});
    if let Some(m) = matcher {
        route["match"] = m;
    }
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            route[k] = v;
        }
    }
    json!({ member: route })
}

/// The route kinds the retry, timeout and port tests run on.
#[derive(Clone, Copy)]
enum Kind {
    /// `http_route` matching prefix `/`.
    Http,
    /// `grpc_route` matching service `greeter.Greeter`.
    Grpc,
    /// `tcp_route`, which matches nothing but a port.
    Tcp,
}

impl Kind {
    fn protocol(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Grpc => "grpc",
            Kind::Tcp => "tcp",
        }
    }

    /// The Terraform block and the API member.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Http => ("http_route", "httpRoute"),
            Kind::Grpc => ("grpc_route", "grpcRoute"),
            Kind::Tcp => ("tcp_route", "tcpRoute"),
        }
    }

    /// The kind's usual match: its HCL lines and its API form.
    fn usual_match(self) -> (Vec<String>, Value) {
        match self {
            Kind::Http => (vec![r#"prefix = "/""#.to_owned()], json!({"prefix": "/"})),
            Kind::Grpc => (
                vec![r#"service_name = "greeter.Greeter""#.to_owned()],
                json!({"serviceName": "greeter.Greeter"}),
            ),
            Kind::Tcp => (Vec::new(), json!({})),
        }
    }

    /// The route to `a` with the usual match, plus `port` in the match when given, then
    /// `extra` blocks.
    fn body(self, port: Option<u32>, extra: &str) -> String {
        let (mut lines, _) = self.usual_match();
        lines.extend(port.map(|p| format!("port = {p}")));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let matcher = if lines.is_empty() {
            String::new()
        } else {
            matching(&lines)
        };
        to_a(self.names().0, &matcher, extra)
    }

    /// The API form of [`Kind::body`].
    fn json(self, fx: &Fixture, port: Option<u32>, extra: Value) -> Value {
        let (lines, mut m) = self.usual_match();
        if let Some(p) = port {
            m["port"] = json!(p);
        }
        let m = (!lines.is_empty() || port.is_some()).then_some(m);
        to_a_json(fx, self.names().1, m, extra)
    }
}

/// A port-match test: a router with listeners on 8080 and 8081 and a `kind` route matching
/// port `first`, then `second`.
fn port_match_feature(kind: Kind, first: u32, second: u32) {
    let fx = Fixture::new(kind.protocol()).router_ports(&[8080, 8081]);
    feature(
        &fx,
        (
            &kind.body(Some(first), ""),
            kind.json(&fx, Some(first), json!({})),
        ),
        (
            &kind.body(Some(second), ""),
            kind.json(&fx, Some(second), json!({})),
        ),
    );
}

/// A retry-policy test: `first` and `second` are the `retry_policy` body in HCL and API form.
fn retry_policy_feature(kind: Kind, first: (&str, Value), second: (&str, Value)) {
    let fx = Fixture::new(kind.protocol());
    let body =
        |retry: &str| kind.body(None, &format!("\n      retry_policy {{{retry}\n      }}\n"));
    let json_for = |retry: Value| kind.json(&fx, None, json!({"retryPolicy": retry}));
    feature(
        &fx,
        (&body(first.0), json_for(first.1)),
        (&body(second.0), json_for(second.1)),
    );
}

/// A timeout test: `idle` and `per_request` timeouts in `units` (idle, per request), with
/// the values `first` and then `second`.
fn timeout_feature(kind: Kind, units: (&str, &str), first: (u32, u32), second: (u32, u32)) {
    let fx = Fixture::new(kind.protocol());
    let (idle_unit, per_request_unit) = units;
    let body = |(idle, per_request): (u32, u32)| {
        kind.body(
            None,
            &format!(
                r#"
      timeout {{
        idle {{
          unit  = "{idle_unit}"
          value = {idle}
        }}

        per_request {{
          unit  = "{per_request_unit}"
          value = {per_request}
        }}
      }}
"#
            ),
        )
    };
    let json_for = |(idle, per_request): (u32, u32)| {
        kind.json(
            &fx,
            None,
            json!({"timeout": {
                "idle": {"unit": idle_unit, "value": idle},
                "perRequest": {"unit": per_request_unit, "value": per_request}
            }}),
        )
    };
    feature(
        &fx,
        (&body(first), json_for(first)),
        (&body(second), json_for(second)),
    );
}

// === lifecycle ===

#[test]
fn basic() {
    let fx = Fixture::new("http");
    let expected = http_simple_json(&fx);
    let (mesh, router, route) = (fx.mesh.clone(), fx.router.clone(), fx.route.clone());
    let node_a = fx.node_a.clone();
    TestCase::new().run(vec![
        Step::apply(fx.config(HTTP_SIMPLE))
            .check(check_route(&fx, expected, 1))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                state.assert_attr(ADDR, "name", &route);
                state.assert_attr(ADDR, "mesh_name", &mesh);
                state.assert_attr(ADDR, "virtual_router_name", &router);
                state.assert_attr(
                    ADDR,
                    "arn",
                    format!(
                        "arn:aws:appmesh:us-east-1:123456789012:mesh/{mesh}/virtualRouter/{router}/route/{route}"
                    ),
                );
                let id = state.expect_attr(ADDR, "id");
                assert_ne!(id, route, "the id is the uid, not the name");
                assert_eq!(id.len(), 36, "the id is a UUID: {id}");
                assert_tags(state, api, ADDR, &[]);
                // The spec in state mirrors the configuration.
                state.assert_attr(ADDR, "spec.#", "1");
                state.assert_attr(ADDR, "spec.0.http_route.#", "1");
                state.assert_attr(ADDR, "spec.0.http_route.0.match.0.prefix", "/");
                state.assert_attr(
                    ADDR,
                    "spec.0.http_route.0.action.0.weighted_target.#",
                    "1",
                );
                state.assert_attr(
                    ADDR,
                    "spec.0.http_route.0.action.0.weighted_target.0.virtual_node",
                    &node_a,
                );
                state.assert_attr(
                    ADDR,
                    "spec.0.http_route.0.action.0.weighted_target.0.weight",
                    "100",
                );
                for kind in ["grpc_route", "http2_route", "tcp_route"] {
                    assert_eq!(state.count(ADDR, &format!("spec.0.{kind}")), 0, "{kind}");
                }
                let data = api.get(&paths::route(&mesh, &router, &route));
                assert_eq!(data["status"]["status"], "ACTIVE", "status: {data:#}");
            }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &fx.id()),
    ]);
}

#[test]
fn import() {
    let fx = Fixture::new("http");
    let tags = "\n  tags = {\n    Name = \"route\"\n  }\n";
    let config = fx.config_with(&fx.route, "test", HTTP_SIMPLE, tags);
    let bad_id = format!("{}/{}", fx.mesh, fx.route);
    TestCase::new().run(vec![
        Step::apply(config.clone())
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "route")])),
        Step::import_verify(ADDR, &fx.id()),
        Step::import_block(ADDR, &fx.id())
            .check(check_route(&fx, http_simple_json(&fx), 1))
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "route")])),
        // A two-part ID names the expected three-part format.
        Step::expect_error(
            format!(
                "{config}\nimport {{\n  to = appmesh_route.other\n  id = \"{bad_id}\"\n}}\n\
                 resource \"appmesh_route\" \"other\" {{\n  name = \"{route}\"\n  \
                 mesh_name = \"{mesh}\"\n  virtual_router_name = \"{router}\"\n  \
                 spec {{\n{HTTP_SIMPLE}\n  }}\n}}\n",
                route = fx.route,
                mesh = fx.mesh,
                router = fx.router,
            ),
            r"MESH_NAME/VIRTUAL_ROUTER_NAME/ROUTE_NAME",
        ),
    ]);
}

#[test]
fn update() {
    let fx = Fixture::new("http");
    let first_id: Rc<RefCell<Option<(String, String)>>> = Rc::default();
    let (record, compare) = (first_id.clone(), first_id);
    let second = r#"
    http_route {
      match {
        prefix = "/v2"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.b.name
          weight       = 40
        }
      }
    }
"#;
    let second_json = json!({"httpRoute": {
        "match": {"prefix": "/v2"},
        "action": {"weightedTargets": [target(&fx.node_b, 40)]}
    }});
    TestCase::new().run(vec![
        Step::apply(fx.config(HTTP_SIMPLE))
            .check(check_route(&fx, http_simple_json(&fx), 1))
            .check(move |state, _| {
                *record.borrow_mut() = Some((
                    state.expect_attr(ADDR, "id"),
                    state.expect_attr(ADDR, "created_date"),
                ));
            }),
        Step::expect_plan(fx.config(second), &[(ADDR, UPDATE)])
            .check(check_route(&fx, second_json, 2))
            .check(move |state, _| {
                let (id, created) = compare.borrow().clone().unwrap();
                state.assert_attr(ADDR, "id", id);
                state.assert_attr(ADDR, "created_date", created);
            }),
        Step::import_verify(ADDR, &fx.id()),
    ]);
}

#[test]
fn replace() {
    let fx = Fixture::new("http");
    let new_name = random_name();
    let (mesh, router, old, new) = (
        fx.mesh.clone(),
        fx.router.clone(),
        fx.route.clone(),
        new_name.clone(),
    );
    let (mesh2, router2, other2, new2) = (
        mesh.clone(),
        router.clone(),
        fx.other_router.clone(),
        new.clone(),
    );
    let expected = http_simple_json(&fx);
    let expected2 = expected.clone();
    let old_id: Rc<RefCell<String>> = Rc::default();
    let (record, compare) = (old_id.clone(), old_id.clone());
    let (record2, compare2) = (old_id.clone(), old_id);
    TestCase::new().run(vec![
        Step::apply(fx.config(HTTP_SIMPLE))
            .check(move |state, _| *record.borrow_mut() = state.expect_attr(ADDR, "id")),
        // A new name: the old route is deleted and a new one created.
        Step::expect_plan(
            fx.config_with(&new_name, "test", HTTP_SIMPLE, ""),
            &[(ADDR, REPLACE)],
        )
        .check(move |state, api| {
            assert!(
                api.try_get(&paths::route(&mesh, &router, &old)).is_none(),
                "the old route is deleted"
            );
            let data = api.get(&paths::route(&mesh, &router, &new));
            assert_metadata(state, ADDR, &data);
            assert_api_spec(&data, &expected);
            assert_eq!(version(&data), 1);
            assert_ne!(state.expect_attr(ADDR, "id"), *compare.borrow());
            *record2.borrow_mut() = state.expect_attr(ADDR, "id");
            // The router is untouched.
            assert_eq!(version(&api.get(&paths::virtual_router(&mesh, &router))), 1);
        }),
        // Another virtual router: replaced as well.
        Step::expect_plan(
            fx.config_with(&new_name, "other", HTTP_SIMPLE, ""),
            &[(ADDR, REPLACE)],
        )
        .check(move |state, api| {
            assert!(
                api.try_get(&paths::route(&mesh2, &router2, &new2))
                    .is_none(),
                "the route under the first router is deleted"
            );
            let data = api.get(&paths::route(&mesh2, &other2, &new2));
            assert_metadata(state, ADDR, &data);
            assert_api_spec(&data, &expected2);
            assert_eq!(version(&data), 1);
            state.assert_attr(ADDR, "virtual_router_name", &other2);
            assert_ne!(state.expect_attr(ADDR, "id"), *compare2.borrow());
        }),
        Step::import_verify(
            ADDR,
            &format!("{}/{}/{}", fx.mesh, fx.other_router, new_name),
        ),
    ]);
}

#[test]
fn disappears() {
    let fx = Fixture::new("http");
    TestCase::new().run(vec![
        Step::apply(fx.config(HTTP_SIMPLE)),
        Step::disappear(ADDR, &fx.path()),
        Step::apply(fx.config(HTTP_SIMPLE)).check(check_route(&fx, http_simple_json(&fx), 1)),
    ]);
}

#[test]
fn destroy() {
    let fx = Fixture::new("http");
    let (path, router) = (fx.path(), paths::virtual_router(&fx.mesh, &fx.router));
    TestCase::new().run(vec![
        Step::apply(fx.config(HTTP_SIMPLE)),
        // Removing the block deletes only the route.
        Step::expect_plan(fx.base(), &[(ADDR, DELETE)]).check(move |state, api| {
            assert!(!state.contains(ADDR), "the route is gone from state");
            assert!(
                api.try_get(&path).is_none(),
                "the route is gone from the API"
            );
            assert_eq!(version(&api.get(&router)), 1, "the router is untouched");
        }),
    ]);
}

// === HTTP features ===

#[test]
fn http_header() {
    let fx = Fixture::new("http");
    let first = r#"
    http_route {
      match {
        prefix = "/"

        header {
          name   = "x-exact"
          invert = false

          match {
            exact = "yes"
          }
        }

        header {
          name   = "x-prefix"
          invert = false

          match {
            prefix = "pre"
          }
        }

        header {
          name   = "x-suffix"
          invert = false

          match {
            suffix = "fix"
          }
        }

        header {
          name   = "x-regex"
          invert = false

          match {
            regex = "^v[0-9]+$"
          }
        }

        header {
          name   = "x-range"
          invert = false

          match {
            range {
              start = 0
              end   = 10
            }
          }
        }

        header {
          name   = "x-not"
          invert = true

          match {
            exact = "no"
          }
        }

        header {
          name   = "x-present"
          invert = false
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let first_json = json!({"httpRoute": {
        "match": {
            "prefix": "/",
            "headers": [
                {"name": "x-exact", "invert": false, "match": {"exact": "yes"}},
                {"name": "x-prefix", "invert": false, "match": {"prefix": "pre"}},
                {"name": "x-suffix", "invert": false, "match": {"suffix": "fix"}},
                {"name": "x-regex", "invert": false, "match": {"regex": "^v[0-9]+$"}},
                {"name": "x-range", "invert": false, "match": {"range": {"start": 0, "end": 10}}},
                {"name": "x-not", "invert": true, "match": {"exact": "no"}},
                {"name": "x-present", "invert": false}
            ]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    let second = r#"
    http_route {
      match {
        prefix = "/"

        header {
          name   = "x-exact"
          invert = true

          match {
            exact = "no-longer"
          }
        }

        header {
          name   = "x-range"
          invert = false

          match {
            range {
              start = 5
              end   = 7
            }
          }
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let second_json = json!({"httpRoute": {
        "match": {
            "prefix": "/",
            "headers": [
                {"name": "x-exact", "invert": true, "match": {"exact": "no-longer"}},
                {"name": "x-range", "invert": false, "match": {"range": {"start": 5, "end": 7}}}
            ]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    feature(&fx, (first, first_json), (second, second_json));
}

#[test]
fn http_query_parameter() {
    let fx = Fixture::new("http");
    let first = r#"
    http_route {
      match {
        prefix = "/"

        query_parameter {
          name = "version"

          match {
            exact = "1"
          }
        }

        query_parameter {
          name = "debug"
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let first_json = json!({"httpRoute": {
        "match": {
            "prefix": "/",
            "queryParameters": [
                {"name": "version", "match": {"exact": "1"}},
                {"name": "debug"}
            ]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    let second = r#"
    http_route {
      match {
        prefix = "/"

        query_parameter {
          name = "version"

          match {
            exact = "2"
          }
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let second_json = json!({"httpRoute": {
        "match": {
            "prefix": "/",
            "queryParameters": [{"name": "version", "match": {"exact": "2"}}]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    feature(&fx, (first, first_json), (second, second_json));
}

#[test]
fn http_path() {
    let fx = Fixture::new("http");
    let body = |path: &str| {
        let matcher =
            format!("\n      match {{\n        path {{\n          {path}\n        }}\n      }}\n");
        to_a("http_route", &matcher, "")
    };
    let json_for =
        |path: Value| to_a_json(&fx, "httpRoute", Some(json!({"path": path})), json!({}));
    feature(
        &fx,
        (
            &body(r#"exact = "/health""#),
            json_for(json!({"exact": "/health"})),
        ),
        (
            &body(r#"regex = "/users/[0-9]+""#),
            json_for(json!({"regex": "/users/[0-9]+"})),
        ),
    );
}

#[test]
fn http_method_scheme() {
    let fx = Fixture::new("http");
    let body = |method: &str, scheme: &str| {
        let (method, scheme) = (
            format!("method = \"{method}\""),
            format!("scheme = \"{scheme}\""),
        );
        to_a(
            "http_route",
            &matching(&[r#"prefix = "/""#, &method, &scheme]),
            "",
        )
    };
    let json_for = |method: &str, scheme: &str| {
        let m = json!({"prefix": "/", "method": method, "scheme": scheme});
        to_a_json(&fx, "httpRoute", Some(m), json!({}))
    };
    feature(
        &fx,
        (&body("GET", "http"), json_for("GET", "http")),
        (&body("POST", "https"), json_for("POST", "https")),
    );
}

#[test]
fn http_port_match() {
    // A router with two listeners: the route must say which port it serves.
    port_match_feature(Kind::Http, 8080, 8081);
}

#[test]
fn weighted_target_port() {
    // Node b has two listeners: its weighted target must name the port.
    let fx = Fixture::new("http").node_b_ports(&[8080, 8081]);
    let body = |port: u32| {
        format!(
            r#"
    http_route {{
      match {{
        prefix = "/"
      }}

      action {{
        weighted_target {{
          virtual_node = appmesh_virtual_node.a.name
          weight       = 50
        }}

        weighted_target {{
          virtual_node = appmesh_virtual_node.b.name
          weight       = 50
          port         = {port}
        }}
      }}
    }}
"#
        )
    };
    let json_for = |port: u32| {
        json!({"httpRoute": {
            "match": {"prefix": "/"},
            "action": {"weightedTargets": [
                target(&fx.node_a, 50),
                {"virtualNode": fx.node_b, "weight": 50, "port": port}
            ]}
        }})
    };
    feature(
        &fx,
        (&body(8080), json_for(8080)),
        (&body(8081), json_for(8081)),
    );
}

#[test]
fn http2_route() {
    let fx = Fixture::new("http2");
    let first = r#"
    http2_route {
      match {
        prefix = "/"
        method = "PUT"

        header {
          name   = "x-canary"
          invert = false

          match {
            exact = "true"
          }
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let first_json = json!({"http2Route": {
        "match": {
            "prefix": "/",
            "method": "PUT",
            "headers": [{"name": "x-canary", "invert": false, "match": {"exact": "true"}}]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    let second = r#"
    http2_route {
      match {
        path {
          exact = "/ping"
        }
        scheme = "https"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.b.name
          weight       = 100
        }
      }
    }
"#;
    let second_json = json!({"http2Route": {
        "match": {"path": {"exact": "/ping"}, "scheme": "https"},
        "action": {"weightedTargets": [target(&fx.node_b, 100)]}
    }});
    feature(&fx, (first, first_json), (second, second_json));
}

// === gRPC ===

#[test]
fn grpc_route() {
    let fx = Fixture::new("grpc");
    let first = r#"
    grpc_route {
      match {
        service_name = "greeter.Greeter"
        method_name  = "SayHello"

        metadata {
          name   = "x-exact"
          invert = false

          match {
            exact = "yes"
          }
        }

        metadata {
          name   = "x-prefix"
          invert = false

          match {
            prefix = "pre"
          }
        }

        metadata {
          name   = "x-suffix"
          invert = false

          match {
            suffix = "fix"
          }
        }

        metadata {
          name   = "x-regex"
          invert = false

          match {
            regex = "^[a-z]+$"
          }
        }

        metadata {
          name   = "x-range"
          invert = false

          match {
            range {
              start = 0
              end   = 7
            }
          }
        }

        metadata {
          name   = "x-not"
          invert = true

          match {
            exact = "no"
          }
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let first_json = json!({"grpcRoute": {
        "match": {
            "serviceName": "greeter.Greeter",
            "methodName": "SayHello",
            "metadata": [
                {"name": "x-exact", "invert": false, "match": {"exact": "yes"}},
                {"name": "x-prefix", "invert": false, "match": {"prefix": "pre"}},
                {"name": "x-suffix", "invert": false, "match": {"suffix": "fix"}},
                {"name": "x-regex", "invert": false, "match": {"regex": "^[a-z]+$"}},
                {"name": "x-range", "invert": false, "match": {"range": {"start": 0, "end": 7}}},
                {"name": "x-not", "invert": true, "match": {"exact": "no"}}
            ]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    let second = r#"
    grpc_route {
      match {
        service_name = "greeter.Greeter"
        method_name  = "SayGoodbye"

        metadata {
          name   = "x-range"
          invert = true

          match {
            range {
              start = 2
              end   = 7
            }
          }
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }
    }
"#;
    let second_json = json!({"grpcRoute": {
        "match": {
            "serviceName": "greeter.Greeter",
            "methodName": "SayGoodbye",
            "metadata": [
                {"name": "x-range", "invert": true, "match": {"range": {"start": 2, "end": 7}}}
            ]
        },
        "action": {"weightedTargets": [target(&fx.node_a, 100)]}
    }});
    feature(&fx, (first, first_json), (second, second_json));
}

#[test]
fn grpc_route_empty_match() {
    // `match {}` means any service (terraform-provider-aws#16816).
    let fx = Fixture::new("grpc");
    let body = |matcher: &str| to_a("grpc_route", &format!("\n      match {{{matcher}}}\n"), "");
    let json_for = |matcher: Value| to_a_json(&fx, "grpcRoute", Some(matcher), json!({}));
    feature(
        &fx,
        (&body(""), json_for(json!({}))),
        (
            &body("\n        service_name = \"greeter.Greeter\"\n      "),
            json_for(json!({"serviceName": "greeter.Greeter"})),
        ),
    );
}

// === TCP ===

#[test]
fn tcp_route() {
    let fx = Fixture::new("tcp");
    let body = |unit: &str, value: u32| {
        let timeout = format!(
            "\n      timeout {{\n        idle {{\n          unit  = \"{unit}\"\n          value = {value}\n        }}\n      }}\n"
        );
        Kind::Tcp.body(None, &timeout)
    };
    let json_for = |unit: &str, value: u32| {
        Kind::Tcp.json(
            &fx,
            None,
            json!({"timeout": {"idle": {"unit": unit, "value": value}}}),
        )
    };
    feature(
        &fx,
        (&body("s", 600), json_for("s", 600)),
        (&body("ms", 250), json_for("ms", 250)),
    );
}

// === retries, timeouts, priority, weights ===

#[test]
fn http_retry_policy() {
    retry_policy_feature(
        Kind::Http,
        (
            r#"
        max_retries       = 0
        http_retry_events = ["server-error", "gateway-error"]
        tcp_retry_events  = ["connection-error"]

        per_retry_timeout {
          unit  = "s"
          value = 15
        }"#,
            json!({
                "maxRetries": 0,
                "httpRetryEvents": ["server-error", "gateway-error"],
                "tcpRetryEvents": ["connection-error"],
                "perRetryTimeout": {"unit": "s", "value": 15}
            }),
        ),
        (
            r#"
        max_retries       = 3
        http_retry_events = ["client-error", "stream-error"]

        per_retry_timeout {
          unit  = "ms"
          value = 250
        }"#,
            json!({
                "maxRetries": 3,
                "httpRetryEvents": ["client-error", "stream-error"],
                "perRetryTimeout": {"unit": "ms", "value": 250}
            }),
        ),
    );
}

#[test]
fn grpc_retry_policy() {
    retry_policy_feature(
        Kind::Grpc,
        (
            r#"
        max_retries       = 0
        grpc_retry_events = ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"]
        http_retry_events = ["server-error"]
        tcp_retry_events  = ["connection-error"]

        per_retry_timeout {
          unit  = "ms"
          value = 500
        }"#,
            json!({
                "maxRetries": 0,
                "grpcRetryEvents": ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"],
                "httpRetryEvents": ["server-error"],
                "tcpRetryEvents": ["connection-error"],
                "perRetryTimeout": {"unit": "ms", "value": 500}
            }),
        ),
        (
            r#"
        max_retries       = 5
        grpc_retry_events = ["unavailable"]

        per_retry_timeout {
          unit  = "s"
          value = 2
        }"#,
            json!({
                "maxRetries": 5,
                "grpcRetryEvents": ["unavailable"],
                "perRetryTimeout": {"unit": "s", "value": 2}
            }),
        ),
    );
}

#[test]
fn http_timeout() {
    // A zero value disables the timeout: it must reach the API.
    timeout_feature(Kind::Http, ("s", "ms"), (0, 0), (600, 250));
}

#[test]
fn grpc_timeout() {
    timeout_feature(Kind::Grpc, ("ms", "s"), (0, 15), (1000, 0));
}

#[test]
fn priority() {
    let fx = Fixture::new("http");
    let body = |priority: Option<u32>| {
        let line = priority.map_or(String::new(), |p| format!("    priority = {p}\n"));
        format!("{line}{HTTP_SIMPLE}")
    };
    let json_for = |priority: Option<u32>| {
        let mut spec = http_simple_json(&fx);
        if let Some(p) = priority {
            spec["priority"] = json!(p);
        }
        spec
    };
    TestCase::new().run(vec![
        // Priority 0 (the first to be tried) is sent as 0, not dropped.
        Step::apply(fx.config(&body(Some(0)))).check(check_route(&fx, json_for(Some(0)), 1)),
        Step::plan_empty(),
        Step::import_verify(ADDR, &fx.id()),
        Step::expect_plan(fx.config(&body(Some(10))), &[(ADDR, UPDATE)]).check(check_route(
            &fx,
            json_for(Some(10)),
            2,
        )),
        Step::expect_plan(fx.config(&body(Some(0))), &[(ADDR, UPDATE)]).check(check_route(
            &fx,
            json_for(Some(0)),
            3,
        )),
        // No priority at all is not the same as 0.
        Step::expect_plan(fx.config(&body(None)), &[(ADDR, UPDATE)])
            .check(check_route(&fx, json_for(None), 4))
            .check(|state, _| state.assert_no_attr(ADDR, "spec.0.priority")),
        Step::import_verify(ADDR, &fx.id()),
    ]);
}

fn weights_body(targets: &[(&str, u32)]) -> String {
    let targets: String = targets
        .iter()
        .map(|(node, weight)| {
            format!(
                r#"
        weighted_target {{
          virtual_node = appmesh_virtual_node.{node}.name
          weight       = {weight}
        }}
"#
            )
        })
        .collect();
    format!(
        r#"
    http_route {{
      match {{
        prefix = "/"
      }}

      action {{{targets}      }}
    }}
"#
    )
}

fn weights_json(fx: &Fixture, a: u32, b: u32) -> Value {
    json!({"httpRoute": {
        "match": {"prefix": "/"},
        "action": {"weightedTargets": [target(&fx.node_a, a), target(&fx.node_b, b)]}
    }})
}

#[test]
fn weighted_targets() {
    let fx = Fixture::new("http");
    feature(
        &fx,
        (
            &weights_body(&[("a", 90), ("b", 10)]),
            weights_json(&fx, 90, 10),
        ),
        // Weight 0 is sent: b stays a target that receives nothing.
        (
            &weights_body(&[("a", 100), ("b", 0)]),
            weights_json(&fx, 100, 0),
        ),
    );
}

#[test]
fn weighted_targets_are_a_set() {
    let fx = Fixture::new("http");
    TestCase::new().run(vec![
        Step::apply(fx.config(&weights_body(&[("a", 60), ("b", 40)]))).check(check_route(
            &fx,
            weights_json(&fx, 60, 40),
            1,
        )),
        // The same targets in the other order: no change.
        Step::plan_empty_with(fx.config(&weights_body(&[("b", 40), ("a", 60)])))
            .check(check_route(&fx, weights_json(&fx, 60, 40), 1)),
        Step::import_verify(ADDR, &fx.id()),
        // A real change in the reordered configuration is still an update.
        Step::expect_plan(
            fx.config(&weights_body(&[("b", 0), ("a", 100)])),
            &[(ADDR, UPDATE)],
        )
        .check(check_route(&fx, weights_json(&fx, 100, 0), 2)),
    ]);
}

#[test]
fn grpc_port_match() {
    port_match_feature(Kind::Grpc, 8081, 8080);
}

#[test]
fn tcp_port_match() {
    port_match_feature(Kind::Tcp, 8080, 8081);
}

#[test]
fn header_invert_default() {
    // `invert` left out means false, as in aws_appmesh_route: the state says false, the
    // re-plan is empty and the API does not invert the match.
    let fx = Fixture::new("http");
    let body = |value: &str| {
        format!(
            r#"
    http_route {{
      match {{
        prefix = "/"

        header {{
          name = "x-canary"

          match {{
            exact = "{value}"
          }}
        }}
      }}

      action {{
        weighted_target {{
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }}
      }}
    }}
"#
        )
    };
    let check = |expected_version: i64, value: &'static str| {
        let path = fx.path();
        move |state: &State, api: &Api| {
            let data = api.get(&path);
            assert_eq!(version(&data), expected_version);
            let headers = &data["spec"]["httpRoute"]["match"]["headers"];
            assert_eq!(headers.as_array().map(Vec::len), Some(1), "{data:#}");
            assert_eq!(headers[0]["name"], "x-canary");
            assert_eq!(headers[0]["match"], json!({"exact": value}));
            assert!(
                matches!(headers[0].get("invert"), None | Some(Value::Bool(false))),
                "the header must not be inverted: {data:#}"
            );
            state.assert_attr(ADDR, "spec.0.http_route.0.match.0.header.0.invert", "false");
        }
    };
    TestCase::new().run(vec![
        Step::apply(fx.config(&body("yes"))).check(check(1, "yes")),
        Step::import_verify(ADDR, &fx.id()),
        Step::expect_plan(fx.config(&body("no")), &[(ADDR, UPDATE)]).check(check(2, "no")),
    ]);
}

#[test]
fn optional_blocks_removed() {
    // Dropping retry_policy and timeout in place sends a spec without them.
    let fx = Fixture::new("http");
    let full = r#"
    http_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.a.name
          weight       = 100
        }
      }

      retry_policy {
        max_retries       = 2
        http_retry_events = ["server-error"]

        per_retry_timeout {
          unit  = "s"
          value = 1
        }
      }

      timeout {
        per_request {
          unit  = "s"
          value = 30
        }
      }
    }
"#;
    let full_json = json!({"httpRoute": {
        "match": {"prefix": "/"},
        "action": {"weightedTargets": [target(&fx.node_a, 100)]},
        "retryPolicy": {
            "maxRetries": 2,
            "httpRetryEvents": ["server-error"],
            "perRetryTimeout": {"unit": "s", "value": 1}
        },
        "timeout": {"perRequest": {"unit": "s", "value": 30}}
    }});
    TestCase::new().run(vec![
        Step::apply(fx.config(full)).check(check_route(&fx, full_json, 1)),
        Step::expect_plan(fx.config(HTTP_SIMPLE), &[(ADDR, UPDATE)])
            .check(check_route(&fx, http_simple_json(&fx), 2))
            .check(|state, _| {
                assert_eq!(state.count(ADDR, "spec.0.http_route.0.retry_policy"), 0);
                assert_eq!(state.count(ADDR, "spec.0.http_route.0.timeout"), 0);
            }),
        Step::import_verify(ADDR, &fx.id()),
    ]);
}

#[test]
fn drift() {
    // A change made behind Terraform's back is detected and undone in place.
    let fx = Fixture::new("http");
    let (path, node_b) = (fx.path(), fx.node_b.clone());
    TestCase::new().run(vec![
        Step::apply(fx.config(&weights_body(&[("a", 90), ("b", 10)]))),
        // A plan-only step runs its checks after the plan: the change happens here.
        Step::plan_empty().check(move |_, api| {
            let drifted = json!({"httpRoute": {
                "match": {"prefix": "/"},
                "action": {"weightedTargets": [target(&node_b, 100)]}
            }});
            api.put(&path, &json!({"spec": drifted}));
            assert_eq!(version(&api.get(&path)), 2);
        }),
        Step::expect_plan(
            fx.config(&weights_body(&[("a", 90), ("b", 10)])),
            &[(ADDR, UPDATE)],
        )
        .check(check_route(&fx, weights_json(&fx, 90, 10), 3)),
    ]);
}
