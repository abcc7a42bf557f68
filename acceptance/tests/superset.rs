//! Acceptance tests for what `appmesh_*` offers beyond `aws_appmesh_*`: API members the AWS
//! provider lacks (gRPC gateway-route hostname/metadata match and hostname rewrite, HTTP
//! gateway-route method match, Cloud Map `ip_preference`), zeros that the AWS provider drops
//! (`priority = 0`, a header range starting at 0) and JSON access-log formats.
//! Run with `cargo test -p appmesh-acceptance --test superset`.

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    api_path, assert_metadata, bare_node_hcl, listeners_hcl, mesh_child_hcl, mesh_hcl,
    node_service_hcl, random_name, router_hcl, Step, TestCase,
};
use serde_json::json;

/// A mesh, a virtual node `serviceB` and a virtual service `serviceb.apps.local` it provides.
fn base(mesh: &str, listener_protocol: &str) -> String {
    let listeners = listeners_hcl(listener_protocol, &[8080]);
    [
        mesh_hcl(mesh),
        node_service_hcl(
            "serviceb",
            "serviceB",
            &listeners,
            "serviceb.apps.local",
            "serviceb.apps.local",
        ),
        mesh_child_hcl(
            "appmesh_virtual_gateway",
            "test",
            "ingress-gw",
            &format!("{listeners}  "),
            "",
        ),
    ]
    .concat()
}

#[test]
fn gateway_route_grpc_hostname_metadata_rewrite() {
    let mesh = random_name();
    let config = format!(
        r#"{base}
resource "appmesh_gateway_route" "test" {{
  name                 = "serviceB"
  mesh_name            = appmesh_mesh.test.id
  virtual_gateway_name = appmesh_virtual_gateway.test.name

  spec {{
    grpc_route {{
      match {{
        service_name = "serviceb.Greeter"

        hostname {{
          suffix = ".apps.local"
        }}

        metadata {{
          name   = "x-canary"
          invert = false

          match {{
            exact = "true"
          }}
        }}
      }}

      action {{
        target {{
          virtual_service {{
            virtual_service_name = appmesh_virtual_service.serviceb.name
          }}
        }}

        rewrite {{
          hostname {{
            default_target_hostname = "DISABLED"
          }}
        }}
      }}
    }}
  }}
}}
"#,
        base = base(&mesh, "grpc")
    );
    let addr = "appmesh_gateway_route.test";
    TestCase::new().run(vec![
        Step::apply(config).check(move |state, api| {
            let data = api.get(&api_path(state, addr));
            assert_metadata(state, addr, &data);
            let route = &data["spec"]["grpcRoute"];
            assert_eq!(route["match"]["hostname"], json!({"suffix": ".apps.local"}));
            assert_eq!(
                route["match"]["metadata"],
                json!([{"name": "x-canary", "invert": false, "match": {"exact": "true"}}])
            );
            assert_eq!(
                route["action"]["rewrite"],
                json!({"hostname": {"defaultTargetHostname": "DISABLED"}})
            );
            state.assert_attr(
                addr,
                "spec.0.grpc_route.0.match.0.hostname.0.suffix",
                ".apps.local",
            );
            state.assert_attr(
                addr,
                "spec.0.grpc_route.0.match.0.metadata.0.name",
                "x-canary",
            );
        }),
        Step::import_verify(addr, &format!("{mesh}/ingress-gw/serviceB")),
    ]);
}

#[test]
fn gateway_route_http_method() {
    let mesh = random_name();
    let config = format!(
        r#"{base}
resource "appmesh_gateway_route" "test" {{
  name                 = "serviceB"
  mesh_name            = appmesh_mesh.test.id
  virtual_gateway_name = appmesh_virtual_gateway.test.name

  spec {{
    priority = 0

    http_route {{
      match {{
        prefix = "/"
        method = "POST"
      }}

      action {{
        target {{
          virtual_service {{
            virtual_service_name = appmesh_virtual_service.serviceb.name
          }}
        }}
      }}
    }}
  }}
}}
"#,
        base = base(&mesh, "http")
    );
    let addr = "appmesh_gateway_route.test";
    TestCase::new().run(vec![
        Step::apply(config).check(move |state, api| {
            let data = api.get(&api_path(state, addr));
            assert_eq!(data["spec"]["httpRoute"]["match"]["method"], "POST");
            assert_eq!(data["spec"]["priority"], 0, "priority = 0 is sent");
            state.assert_attr(addr, "spec.0.http_route.0.match.0.method", "POST");
            state.assert_attr(addr, "spec.0.priority", "0");
        }),
        Step::import_verify(addr, &format!("{mesh}/ingress-gw/serviceB")),
    ]);
}

#[test]
fn virtual_node_cloud_map_ip_preference_and_json_log() {
    let mesh = random_name();
    let config = format!(
        r#"{mesh_block}
resource "appmesh_virtual_node" "test" {{
  name      = "serviceBv2"
  mesh_name = appmesh_mesh.test.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "http"
      }}

      outlier_detection {{
        max_ejection_percent = 0
        max_server_errors    = 5

        base_ejection_duration {{
          unit  = "s"
          value = 30
        }}

        interval {{
          unit  = "s"
          value = 10
        }}
      }}
    }}

    service_discovery {{
      aws_cloud_map {{
        namespace_name = "apps.local"
        service_name   = "servicebv2"
        ip_preference  = "IPv6_PREFERRED"

        attributes = {{
          stage = "canary"
        }}
      }}
    }}

    logging {{
      access_log {{
        file {{
          path = "/dev/stdout"

          format {{
            json {{
              key   = "start"
              value = "%START_TIME%"
            }}

            json {{
              key   = "method"
              value = "%REQ(:METHOD)%"
            }}
          }}
        }}
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh)
    );
    let addr = "appmesh_virtual_node.test";
    TestCase::new().run(vec![
        Step::apply(config).check(move |state, api| {
            let data = api.get(&api_path(state, addr));
            assert_metadata(state, addr, &data);
            let spec = &data["spec"];
            assert_eq!(
                spec["serviceDiscovery"]["awsCloudMap"],
                json!({
                    "namespaceName": "apps.local",
                    "serviceName": "servicebv2",
                    "ipPreference": "IPv6_PREFERRED",
                    "attributes": [{"key": "stage", "value": "canary"}]
                })
            );
            assert_eq!(
                spec["listeners"][0]["outlierDetection"]["maxEjectionPercent"], 0,
                "max_ejection_percent = 0 is sent"
            );
            assert_eq!(
                spec["logging"]["accessLog"]["file"]["format"],
                json!({"json": [
                    {"key": "start", "value": "%START_TIME%"},
                    {"key": "method", "value": "%REQ(:METHOD)%"}
                ]})
            );
            state.assert_attr(
                addr,
                "spec.0.service_discovery.0.aws_cloud_map.0.ip_preference",
                "IPv6_PREFERRED",
            );
            state.assert_attr(
                addr,
                "spec.0.logging.0.access_log.0.file.0.format.0.json.1.key",
                "method",
            );
        }),
        Step::import_verify(addr, &format!("{mesh}/serviceBv2")),
    ]);
}

#[test]
fn route_header_range_from_zero() {
    let mesh = random_name();
    let config = format!(
        r#"{mesh_block}{router}{node}
resource "appmesh_route" "test" {{
  name                = "serviceB"
  mesh_name           = appmesh_mesh.test.id
  virtual_router_name = appmesh_virtual_router.test.name

  spec {{
    priority = 0

    http_route {{
      match {{
        prefix = "/"

        header {{
          name = "x-shard"

          match {{
            range {{
              start = 0
              end   = 5
            }}
          }}
        }}
      }}

      action {{
        weighted_target {{
          virtual_node = appmesh_virtual_node.test.name
          weight       = 100
        }}
      }}
    }}
  }}
}}
"#,
        mesh_block = mesh_hcl(&mesh),
        router = router_hcl("test", "serviceB", "http", &[8080]),
        node = bare_node_hcl("test", "serviceB"),
    );
    let addr = "appmesh_route.test";
    TestCase::new().run(vec![
        Step::apply(config).check(move |state, api| {
            let data = api.get(&api_path(state, addr));
            assert_metadata(state, addr, &data);
            assert_eq!(data["spec"]["priority"], 0, "priority = 0 is sent");
            assert_eq!(
                data["spec"]["httpRoute"]["match"]["headers"][0]["match"]["range"],
                json!({"start": 0, "end": 5}),
                "a range starting at 0 is sent whole"
            );
        }),
        Step::import_verify(addr, &format!("{mesh}/serviceB/serviceB")),
    ]);
}

#[test]
fn spec_is_required_on_child_resources() {
    let mesh = random_name();
    TestCase::new().run(vec![Step::expect_error(
        format!(
            r#"{mesh_block}
resource "appmesh_virtual_router" "test" {{
  name      = "serviceB"
  mesh_name = appmesh_mesh.test.id
}}
"#,
            mesh_block = mesh_hcl(&mesh)
        ),
        r"(?i)spec.*required|required.*spec",
    )]);
}
