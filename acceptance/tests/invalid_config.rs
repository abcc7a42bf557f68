//! Configurations the App Mesh API would reject must fail at `terraform plan`, before any
//! API call: each test starts its own control plane, plans an invalid configuration and
//! checks the error names the offending attribute (by path and by `main.tf` line), that the
//! control plane's request log holds no request at all and that no mesh was created.
//! Run with `cargo test -p appmesh-acceptance --test invalid_config`.

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    bare_node_hcl, mesh_hcl, provider_bin, provider_config, random_name, router_hcl,
    unwrap_diagnostics, ControlPlane, Terraform,
};
use regex::Regex;

/// Where an error must point: the first line holding one of `needles` at or after the
/// first line holding `anchor` (a resource header). Several needles mean any of those lines
/// is right.
struct At<'a> {
    anchor: &'a str,
    needles: Vec<&'a str>,
}

fn at<'a>(anchor: &'a str, needle: &'a str) -> At<'a> {
    At {
        anchor,
        needles: vec![needle],
    }
}

impl<'a> At<'a> {
    /// Another acceptable line.
    fn or(mut self, needle: &'a str) -> At<'a> {
        self.needles.push(needle);
        self
    }

    /// The 1-based lines of `config` this designates.
    fn lines(&self, config: &str) -> Vec<usize> {
        let lines: Vec<&str> = config.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.contains(self.anchor))
            .unwrap_or_else(|| panic!("no line holds {:?}", self.anchor));
        self.needles
            .iter()
            .map(|needle| {
                lines[start..]
                    .iter()
                    .position(|l| l.contains(needle))
                    .map(|i| start + i + 1)
                    .unwrap_or_else(|| panic!("no line after {:?} holds {needle:?}", self.anchor))
            })
            .collect()
    }
}

/// Control-plane log lines for API requests (the server logs one line per request).
fn request_lines(cp: &ControlPlane) -> Vec<String> {
    cp.logs()
        .lines()
        .filter(|l| l.contains("/v20190125"))
        .map(str::to_owned)
        .collect()
}

/// The mesh, a router `test` with one `protocol` listener on port 8080, a bare node `test`
/// and the route `test` on that router whose `spec` block holds `spec` (lines of their own).
fn route_config(protocol: &str, spec: &str) -> String {
    let (mesh, router, node, route) = (random_name(), random_name(), random_name(), random_name());
    format!(
        r#"{mesh}{router}{node}
resource "appmesh_route" "test" {{
  name                = "{route}"
  mesh_name           = appmesh_mesh.test.id
  virtual_router_name = appmesh_virtual_router.test.name

  spec {{
{spec}
  }}
}}
"#,
        mesh = mesh_hcl(&mesh),
        router = router_hcl("test", &router, protocol, &[8080]),
        node = bare_node_hcl("test", &node),
    )
}

/// Plans `config` against a fresh control plane and asserts: the plan fails, its output
/// matches every pattern in `patterns`, the error points at the `main.tf` line `at`, and
/// the control plane saw no request and holds no mesh.
fn assert_rejected(config: &str, patterns: &[&str], at: At) {
    let cp = ControlPlane::start();
    let tmp = tempfile::Builder::new()
        .prefix("appmesh-acc-invalid-")
        .tempdir()
        .unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let tf = Terraform::new(&work, tmp.path(), &provider_bin());
    std::fs::write(work.join("provider.tf"), provider_config(cp.endpoint())).unwrap();
    std::fs::write(work.join("main.tf"), config).unwrap();

    let out = tf.run(&["plan", "-input=false", "-no-color"]);
    assert!(
        !out.success(),
        "terraform plan should fail\n--- main.tf ---\n{config}\n{}",
        out.report()
    );
    let text = out.output();
    let flat = unwrap_diagnostics(&text);
    eprintln!("terraform plan failed as expected: {flat}");
    assert!(
        text.contains("Error:"),
        "the failure is an error diagnostic\n{}",
        out.report()
    );
    for pattern in patterns {
        let re = Regex::new(pattern).unwrap();
        assert!(
            re.is_match(&flat) || re.is_match(&text),
            "the error does not match /{pattern}/\n--- unwrapped ---\n{flat}\n{}",
            out.report()
        );
    }
    let lines = at.lines(config);
    assert!(
        lines
            .iter()
            .any(|line| flat.contains(&format!("on main.tf line {line},"))),
        "the error should point at main.tf line {lines:?} ({:?})\n--- main.tf ---\n{config}\n{}",
        at.needles,
        out.report()
    );

    // Nothing reached the API: no request in the log, and no mesh.
    let requests = request_lines(&cp);
    assert!(
        requests.is_empty(),
        "terraform plan of an invalid configuration called the API:\n{}",
        requests.join("\n")
    );
    assert!(cp.api().mesh_names().is_empty(), "no mesh may be created");
    // The log does record requests (the ListMeshes just made), so the check above means
    // something.
    assert!(
        !request_lines(&cp).is_empty(),
        "the control plane did not log the ListMeshes request; cannot tell whether the plan called the API"
    );
}

#[test]
fn listener_port_out_of_range() {
    let (mesh, node) = (random_name(), random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_node" "test" {{
  name      = "{node}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 70000
        protocol = "http"
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    assert_rejected(
        &config,
        &[r"spec\.listener\[0\]\.port_mapping\.port\b", "70000"],
        at(r#"resource "appmesh_virtual_node""#, "port     = 70000"),
    );
}

#[test]
fn weight_over_100() {
    let config = route_config(
        "http",
        r#"    http_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.test.name
          weight       = 101
        }
      }
    }"#,
    );
    // weighted_target is a set: Terraform cannot point inside it, so the error sits on
    // the closest addressable block.
    assert_rejected(
        &config,
        &[
            r"spec\.http_route(\[0\])?\.action(\[0\])?\.weighted_target(\[\d\])?\.weight\b",
            "101",
        ],
        at(r#"resource "appmesh_route""#, "weighted_target {"),
    );
}

#[test]
fn two_route_kinds() {
    let config = route_config(
        "http",
        r#"    http_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }
      }
    }

    tcp_route {
      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }
      }
    }"#,
    );
    // The error names both Terraform blocks (not the API's camelCase members).
    assert_rejected(
        &config,
        &[
            r"\bhttp_route\b",
            r"\btcp_route\b",
            r"(?i)exactly one|only one|conflict",
        ],
        at(r#"resource "appmesh_route""#, "  spec {")
            .or("    http_route {")
            .or("    tcp_route {"),
    );
}

#[test]
fn unknown_protocol() {
    let (mesh, router) = (random_name(), random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_router" "test" {{
  name      = "{router}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "https"
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    assert_rejected(
        &config,
        &[r"spec\.listener\[0\]\.port_mapping\.protocol\b", "https"],
        at(
            r#"resource "appmesh_virtual_router""#,
            r#"protocol = "https""#,
        ),
    );
}

#[test]
fn router_name_with_dot() {
    let mesh = random_name();
    let router = format!("{}.local", random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_router" "test" {{
  name      = "{router}"
  mesh_name = appmesh_mesh.test.id

  spec {{}}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    assert_rejected(
        &config,
        &[r"\bname\b", r"(?i)letters, digits, hyphens and underscores"],
        at(
            r#"resource "appmesh_virtual_router""#,
            &format!(r#"name      = "{router}""#),
        ),
    );
}

#[test]
fn grpc_method_name_without_service_name() {
    let config = route_config(
        "grpc",
        r#"    grpc_route {
      match {
        method_name = "SayHello"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }
      }
    }"#,
    );
    // The missing attribute belongs to the match block, which holds method_name.
    assert_rejected(
        &config,
        &[
            r"spec\.grpc_route(\[0\])?\.match(\[0\])?\.service_name\b",
            r"(?i)required",
            r"\bmethod_name\b",
        ],
        at(r#"resource "appmesh_route""#, "      match {"),
    );
}

#[test]
fn gateway_route_reserved_prefix() {
    let (mesh, gateway, route) = (random_name(), random_name(), random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_gateway" "test" {{
  name      = "{gateway}"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "http"
      }}
    }}
  }}
}}

resource "appmesh_gateway_route" "test" {{
  name                 = "{route}"
  mesh_name            = appmesh_mesh.test.id
  virtual_gateway_name = appmesh_virtual_gateway.test.name

  spec {{
    http_route {{
      match {{
        prefix = "/aws-appmesh/x"
      }}

      action {{
        target {{
          virtual_service {{
            virtual_service_name = "svc.{mesh}.local"
          }}
        }}
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    assert_rejected(
        &config,
        &[
            r"spec\.http_route(\[0\])?\.match(\[0\])?\.prefix\b",
            r"(?i)reserved|/aws-appmesh",
        ],
        at(
            r#"resource "appmesh_gateway_route""#,
            r#"prefix = "/aws-appmesh/x""#,
        ),
    );
}

#[test]
fn regex_with_lookahead() {
    let config = route_config(
        "http",
        r#"    http_route {
      match {
        path {
          regex = "/users/(?=admin).*"
        }
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }
      }
    }"#,
    );
    assert_rejected(
        &config,
        &[
            r"spec\.http_route(\[0\])?\.match(\[0\])?\.path(\[0\])?\.regex\b",
            r"(?i)RE2|look-?around|look-?ahead",
        ],
        at(
            r#"resource "appmesh_route""#,
            r#"regex = "/users/(?=admin).*""#,
        ),
    );
}

#[test]
fn virtual_node_without_spec() {
    let (mesh, node) = (random_name(), random_name());
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_node" "test" {{
  name      = "{node}"
  mesh_name = appmesh_mesh.test.id
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    assert_rejected(
        &config,
        &[r"\bspec\b", r"(?i)required"],
        at(
            r#"resource "appmesh_virtual_node""#,
            r#"resource "appmesh_virtual_node""#,
        ),
    );
}

/// One plan reports every violation it finds, each on its own line: two of the shape in one
/// node (a port out of range, and a log format left empty, since `text = ""` is no text),
/// and in a route both a service rule (a method name needs a service name) and a shape
/// violation elsewhere in the same spec (an unknown retry event).
#[test]
fn every_violation_is_reported_at_once() {
    let config = r#"
resource "appmesh_mesh" "test" {
  name = "every-violation"
}

resource "appmesh_virtual_node" "test" {
  name      = "node"
  mesh_name = appmesh_mesh.test.id

  spec {
    listener {
      port_mapping {
        port     = 70000
        protocol = "http"
      }
    }

    logging {
      access_log {
        file {
          path = "/dev/stdout"
          format {
            text = ""
          }
        }
      }
    }
  }
}

resource "appmesh_route" "test" {
  name                = "route"
  mesh_name           = appmesh_mesh.test.id
  virtual_router_name = "router"

  spec {
    grpc_route {
      match {
        method_name = "Get"
      }

      action {
        weighted_target {
          virtual_node = "node"
          weight       = 100
        }
      }

      retry_policy {
        max_retries = 1
        per_retry_timeout {
          unit  = "ms"
          value = 500
        }
        grpc_retry_events = ["lost-my-way"]
      }
    }
  }
}
"#;
    assert_rejected(
        config,
        &[
            r"spec\.listener\[0\]\.port_mapping\.port must be between 1 and 65535 \(found 70000\)",
            r"spec\.logging\.access_log\.file\.format must set exactly one of json, text",
            r"spec\.grpc_route\.match\.service_name is required when method_name is set",
            r#"spec\.grpc_route\.retry_policy\.grpc_retry_events must be one of .* \(found "lost-my-way"\)"#,
        ],
        at(r#"resource "appmesh_virtual_node""#, "port     = 70000"),
    );
}
