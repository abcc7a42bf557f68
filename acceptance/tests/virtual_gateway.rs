//! Acceptance tests for `appmesh_virtual_gateway`: the terraform CLI against the provider and
//! a fresh control plane per test (`cargo test -p appmesh-acceptance --test virtual_gateway`).
//!
//! Lifecycle tests (`basic`, `import`, `update`, `replace`, `disappears`, `destroy`) come
//! first; then one test per nested feature block, mirroring `aws_appmesh_virtual_gateway`'s
//! acceptance suite. Each feature test is a list of variants, every one an HCL `spec` body
//! next to the API JSON it must produce: the first is applied, compared with the API (and
//! the state with the API), re-planned empty and imported; every later one must be an
//! in-place update that bumps `metadata.version` by one.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use appmesh_acceptance::spec::{check_spec, feature_steps};
use appmesh_acceptance::{
    api_listener, api_path, assert_tags, assert_top_level_attributes, listener_hcl,
    mesh_child_block_hcl, mesh_hcl, paths, random_name, tags_hcl, version, Step, TestCase,
    ACM_CA_ARN_1, ACM_CA_ARN_2, DELETE, REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_virtual_gateway.test";
const MESH: &str = "appmesh_mesh.test";

const ACM_CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0e4a2f1b-5c6d-4e7f-8a9b-0c1d2e3f4a5b";

// === configurations ===

/// The mesh and a gateway whose `spec` block holds `spec` (an HCL body).
fn config(mesh: &str, gateway: &str, spec: &str) -> String {
    config_tags(mesh, gateway, spec, &[])
}

fn config_tags(mesh: &str, gateway: &str, spec: &str, tags: &[(&str, &str)]) -> String {
    let gateway = mesh_child_block_hcl(
        "appmesh_virtual_gateway",
        "test",
        gateway,
        spec,
        &tags_hcl(tags),
    );
    format!("{}{gateway}", mesh_hcl(mesh))
}

/// Runs a feature test: `variants` are (spec HCL, expected API spec) pairs; the first is
/// created, verified, re-planned and imported; each later one is an in-place update.
fn feature(variants: Vec<(String, Value)>) {
    let (mesh, gateway) = (random_name(), random_name());
    let id = format!("{mesh}/{gateway}");
    let variants = variants
        .into_iter()
        .map(|(spec, expected)| (config(&mesh, &gateway, &spec), expected))
        .collect();
    TestCase::new().run(feature_steps(ADDR, &id, variants, |expected, v| {
        check_spec(ADDR, expected, v)
    }));
}

// === lifecycle ===

#[test]
fn basic() {
    let (mesh, gateway) = (random_name(), random_name());
    let (m, g) = (mesh.clone(), gateway.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &gateway, &listener_hcl(8080, "http", "")))
            .check(check_spec(
                ADDR,
                json!({"listeners": [api_listener(8080, "http")]}),
                1,
            ))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                let data = api.get(&paths::virtual_gateway(&m, &g));
                state.assert_attr(ADDR, "name", &g);
                state.assert_attr(ADDR, "mesh_name", &m);
                state.assert_attr(ADDR, "id", data["metadata"]["uid"].as_str().unwrap());
                state.assert_attr(
                    ADDR,
                    "arn",
                    format!("arn:aws:appmesh:us-east-1:123456789012:mesh/{m}/virtualGateway/{g}"),
                );
                let id = state.expect_attr(ADDR, "id");
                assert_ne!(id, g, "the id is the uid, not the name");
                assert_eq!(id.len(), 36, "the id is a UUID: {id}");
                state.assert_attr(ADDR, "mesh_owner", "123456789012");
                state.assert_attr(ADDR, "resource_owner", "123456789012");
                state.assert_attr(ADDR, "spec.#", "1");
                state.assert_attr(ADDR, "spec.0.listener.#", "1");
                state.assert_attr(ADDR, "spec.0.listener.0.port_mapping.0.port", "8080");
                state.assert_attr(ADDR, "spec.0.listener.0.port_mapping.0.protocol", "http");
                assert_eq!(data["status"]["status"], "ACTIVE");
                assert_tags(state, api, ADDR, &[]);
            }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}")),
    ]);
}

/// A second gateway block, the target of `import {}` blocks with bad IDs.
fn other(mesh: &str, gateway: &str) -> String {
    format!(
        r#"
resource "appmesh_virtual_gateway" "other" {{
  name      = "{gateway}"
  mesh_name = "{mesh}"

  spec {{{listener}  }}
}}
"#,
        listener = listener_hcl(8080, "http", "")
    )
}

#[test]
fn import() {
    let (mesh, gateway) = (random_name(), random_name());
    let id = format!("{mesh}/{gateway}");
    let spec = format!(
        "{}{}",
        listener_hcl(8080, "http", ""),
        listener_hcl(8081, "grpc", "")
    );
    let expected = json!({"listeners": [api_listener(8080, "http"), api_listener(8081, "grpc")]});
    TestCase::new().run(vec![
        Step::apply(config_tags(&mesh, &gateway, &spec, &[("Name", "ingress")])),
        Step::import_verify(ADDR, &id),
        Step::import_block(ADDR, &id),
        Step::generate_config(mesh_hcl(&mesh), ADDR, &id)
            .check(check_spec(ADDR, expected, 1))
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "ingress")])),
        // Back to the configuration that references the mesh (the generated one names it
        // literally), so the destroy order is known again.
        Step::apply(config_tags(&mesh, &gateway, &spec, &[("Name", "ingress")])),
        // A malformed ID names the expected format.
        Step::expect_error(
            format!(
                "{}\nimport {{\n  to = appmesh_virtual_gateway.other\n  id = \"{gateway}\"\n}}\n{}",
                config(&mesh, &gateway, &spec),
                other(&mesh, &gateway)
            ),
            r"(?i)MESH_NAME/VIRTUAL_GATEWAY_NAME|mesh[_ ]name/virtual[_ ]gateway[_ ]name",
        ),
        // An ID naming no gateway fails the import.
        Step::expect_error(
            format!(
                "{}\nimport {{\n  to = appmesh_virtual_gateway.other\n  id = \"{mesh}/missing\"\n}}\n{}",
                config(&mesh, &gateway, &spec),
                other(&mesh, "missing")
            ),
            r"(?i)(not found|cannot import non-existent|does not exist)",
        ),
    ]);
}

#[test]
fn update() {
    let (mesh, gateway) = (random_name(), random_name());
    let id_before = Rc::new(RefCell::new(String::new()));
    let id_after = id_before.clone();
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &gateway, &listener_hcl(8080, "http", "")))
            .check(check_spec(
                ADDR,
                json!({"listeners": [api_listener(8080, "http")]}),
                1,
            ))
            .check(move |state, _| *id_before.borrow_mut() = state.expect_attr(ADDR, "id")),
        Step::expect_plan(
            config(&mesh, &gateway, &listener_hcl(8081, "http", "")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            ADDR,
            json!({"listeners": [api_listener(8081, "http")]}),
            2,
        ))
        .check(move |state, _| {
            state.assert_attr(ADDR, "id", id_after.borrow().as_str());
            state.assert_attr(ADDR, "spec.0.listener.0.port_mapping.0.port", "8081");
        }),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}")),
    ]);
}

#[test]
fn replace() {
    let (mesh, old, new) = (random_name(), random_name(), random_name());
    let (m, o, n) = (mesh.clone(), old.clone(), new.clone());
    let spec = listener_hcl(8080, "http", "");
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &old, &spec)),
        Step::expect_plan(config(&mesh, &new, &spec), &[(ADDR, REPLACE)])
            .check(check_spec(
                ADDR,
                json!({"listeners": [api_listener(8080, "http")]}),
                1,
            ))
            .check(move |state, api| {
                assert!(
                    api.try_get(&paths::virtual_gateway(&m, &o)).is_none(),
                    "the old gateway is deleted"
                );
                state.assert_attr(ADDR, "name", &n);
                assert_eq!(
                    version(&api.get(&paths::mesh(&m))),
                    1,
                    "the mesh is untouched"
                );
                state.assert_attr(MESH, "id", &m);
            }),
        Step::import_verify(ADDR, &format!("{mesh}/{new}")),
    ]);
}

#[test]
fn disappears() {
    let (mesh, gateway) = (random_name(), random_name());
    let spec = listener_hcl(8080, "http", "");
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &gateway, &spec)),
        Step::disappear(ADDR, &paths::virtual_gateway(&mesh, &gateway)),
        Step::apply(config(&mesh, &gateway, &spec)).check(check_spec(
            ADDR,
            json!({"listeners": [api_listener(8080, "http")]}),
            1,
        )),
    ]);
}

#[test]
fn destroy() {
    let (mesh, gateway) = (random_name(), random_name());
    let (m, g) = (mesh.clone(), gateway.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &gateway, &listener_hcl(8080, "http", ""))),
        // Removing the resource block deletes the gateway and leaves the mesh.
        Step::expect_plan(mesh_hcl(&mesh), &[(ADDR, DELETE)]).check(move |state, api| {
            assert!(
                api.try_get(&paths::virtual_gateway(&m, &g)).is_none(),
                "the gateway is deleted"
            );
            assert!(!state.contains(ADDR), "the gateway left the state");
            assert_eq!(version(&api.get(&paths::mesh(&m))), 1);
        }),
    ]);
}

#[test]
fn validation() {
    let (mesh, gateway) = (random_name(), random_name());
    TestCase::new().run(vec![
        // Gateways have no tcp listeners.
        Step::expect_error(
            config(&mesh, &gateway, &listener_hcl(8080, "tcp", "")),
            r#"spec\.listener\[0\]\.port_mapping\.protocol must be one of http, http2, grpc \(found "tcp"\)"#,
        ),
        // At least one listener.
        Step::expect_error(config(&mesh, &gateway, ""), r"spec\.listener is required"),
    ]);
}

// === features ===

#[test]
fn backend_defaults() {
    let backend_defaults = |tls: &str| {
        format!(
            "{}\n    backend_defaults {{\n      client_policy {{\n        tls {{\n{tls}\n        }}\n      }}\n    }}\n",
            listener_hcl(8080, "http", "")
        )
    };
    let api = |tls: Value| {
        json!({
            "listeners": [api_listener(8080, "http")],
            "backendDefaults": {"clientPolicy": {"tls": tls}},
        })
    };
    feature(vec![
        // ACM trust on given ports; `enforce` left out is sent as true.
        (
            backend_defaults(&format!(
                r#"
          ports = [8443]

          validation {{
            trust {{
              acm {{
                certificate_authority_arns = ["{ACM_CA_ARN_1}"]
              }}
            }}
          }}"#
            )),
            api(json!({
                "enforce": true,
                "ports": [8443],
                "validation": {"trust": {"acm": {"certificateAuthorityArns": [ACM_CA_ARN_1]}}},
            })),
        ),
        // Two CAs, ports changed.
        (
            backend_defaults(&format!(
                r#"
          ports = [8443, 9443]

          validation {{
            trust {{
              acm {{
                certificate_authority_arns = ["{ACM_CA_ARN_2}", "{ACM_CA_ARN_1}"]
              }}
            }}
          }}"#
            )),
            api(json!({
                "enforce": true,
                "ports": [8443, 9443],
                "validation": {"trust": {"acm": {"certificateAuthorityArns": [ACM_CA_ARN_1, ACM_CA_ARN_2]}}},
            })),
        ),
        // File trust with subject alternative names, not enforced, client certificate files.
        (
            backend_defaults(
                r#"
          enforce = false
          ports   = [443]

          certificate {
            file {
              certificate_chain = "/certs/client_chain.pem"
              private_key       = "/keys/client_key.pem"
            }
          }

          validation {
            subject_alternative_names {
              match {
                exact = ["www.example.com", "spiffe://apps.local/ns/default/sa/web"]
              }
            }

            trust {
              file {
                certificate_chain = "/certs/ca_chain.pem"
              }
            }
          }"#,
            ),
            api(json!({
                "enforce": false,
                "ports": [443],
                "certificate": {"file": {
                    "certificateChain": "/certs/client_chain.pem",
                    "privateKey": "/keys/client_key.pem",
                }},
                "validation": {
                    "subjectAlternativeNames": {"match": {"exact": ["spiffe://apps.local/ns/default/sa/web", "www.example.com"]}},
                    "trust": {"file": {"certificateChain": "/certs/ca_chain.pem"}},
                },
            })),
        ),
        // SDS trust and an SDS client certificate; ports removed, enforce explicit.
        (
            backend_defaults(
                r#"
          enforce = true

          certificate {
            sds {
              secret_name = "spiffe://apps.local/client"
            }
          }

          validation {
            trust {
              sds {
                secret_name = "spiffe://apps.local/bundle"
              }
            }
          }"#,
            ),
            api(json!({
                "enforce": true,
                "certificate": {"sds": {"secretName": "spiffe://apps.local/client"}},
                "validation": {"trust": {"sds": {"secretName": "spiffe://apps.local/bundle"}}},
            })),
        ),
    ]);
}

#[test]
fn listener_connection_pool() {
    let pool = |protocol: &str, pool: &str| {
        listener_hcl(
            8080,
            protocol,
            &format!("\n      connection_pool {{\n{pool}\n      }}"),
        )
    };
    let api = |protocol: &str, pool: Value| {
        json!({"listeners": [{
            "portMapping": {"port": 8080, "protocol": protocol},
            "connectionPool": pool,
        }]})
    };
    feature(vec![
        (
            pool(
                "http",
                "        http {\n          max_connections      = 10\n          max_pending_requests = 20\n        }",
            ),
            api(
                "http",
                json!({"http": {"maxConnections": 10, "maxPendingRequests": 20}}),
            ),
        ),
        (
            pool("http", "        http {\n          max_connections = 15\n        }"),
            api("http", json!({"http": {"maxConnections": 15}})),
        ),
        (
            pool("http2", "        http2 {\n          max_requests = 30\n        }"),
            api("http2", json!({"http2": {"maxRequests": 30}})),
        ),
        (
            pool("grpc", "        grpc {\n          max_requests = 40\n        }"),
            api("grpc", json!({"grpc": {"maxRequests": 40}})),
        ),
    ]);
}

#[test]
fn listener_connection_pool_must_fit_protocol() {
    let (mesh, gateway) = (random_name(), random_name());
    TestCase::new().run(vec![Step::expect_error(
        config(
            &mesh,
            &gateway,
            &listener_hcl(
                8080,
                "http",
                "\n      connection_pool {\n        grpc {\n          max_requests = 4\n        }\n      }",
            ),
        ),
        r"spec\.listener\[0\]\.connection_pool\.grpc does not fit the listener's protocol http",
    )]);
}

#[test]
fn listener_health_check() {
    let check = |body: &str| {
        listener_hcl(
            8080,
            "http2",
            &format!("\n      health_check {{\n{body}\n      }}"),
        )
    };
    let api = |hc: Value| {
        json!({"listeners": [{
            "portMapping": {"port": 8080, "protocol": "http2"},
            "healthCheck": hc,
        }]})
    };
    feature(vec![
        (
            check(
                r#"        protocol            = "http2"
        path                = "/ping"
        healthy_threshold   = 3
        unhealthy_threshold = 5
        timeout_millis      = 2000
        interval_millis     = 5000"#,
            ),
            // No port: the service checks the listener's, and reads it back.
            api(json!({
                "protocol": "http2",
                "path": "/ping",
                "port": 8080,
                "healthyThreshold": 3,
                "unhealthyThreshold": 5,
                "timeoutMillis": 2000,
                "intervalMillis": 5000,
            })),
        ),
        // Thresholds, timings, port and protocol changed in place.
        (
            check(
                r#"        protocol            = "grpc"
        port                = 9901
        healthy_threshold   = 4
        unhealthy_threshold = 9
        timeout_millis      = 3000
        interval_millis     = 7000"#,
            ),
            api(json!({
                "protocol": "grpc",
                "port": 9901,
                "healthyThreshold": 4,
                "unhealthyThreshold": 9,
                "timeoutMillis": 3000,
                "intervalMillis": 7000,
            })),
        ),
    ]);
}

#[test]
fn listener_tls() {
    let tls = |body: &str| listener_hcl(8080, "http", &format!("\n      tls {{\n{body}\n      }}"));
    let api = |tls: Value| {
        json!({"listeners": [{
            "portMapping": {"port": 8080, "protocol": "http"},
            "tls": tls,
        }]})
    };
    feature(vec![
        (
            tls(&format!(
                r#"        mode = "STRICT"

        certificate {{
          acm {{
            certificate_arn = "{ACM_CERTIFICATE}"
          }}
        }}"#
            )),
            api(json!({
                "mode": "STRICT",
                "certificate": {"acm": {"certificateArn": ACM_CERTIFICATE}},
            })),
        ),
        (
            tls(r#"        mode = "PERMISSIVE"

        certificate {
          file {
            certificate_chain = "/certs/chain.pem"
            private_key       = "/keys/key.pem"
          }
        }"#),
            api(json!({
                "mode": "PERMISSIVE",
                "certificate": {"file": {"certificateChain": "/certs/chain.pem", "privateKey": "/keys/key.pem"}},
            })),
        ),
        (
            tls(r#"        mode = "DISABLED"

        certificate {
          sds {
            secret_name = "spiffe://apps.local/gateway"
          }
        }"#),
            api(json!({
                "mode": "DISABLED",
                "certificate": {"sds": {"secretName": "spiffe://apps.local/gateway"}},
            })),
        ),
    ]);
}

#[test]
fn listener_validation() {
    let tls = |validation: &str| {
        listener_hcl(
            8080,
            "http",
            &format!(
                r#"
      tls {{
        mode = "STRICT"

        certificate {{
          file {{
            certificate_chain = "/certs/chain.pem"
            private_key       = "/keys/key.pem"
          }}
        }}

        validation {{
{validation}
        }}
      }}"#
            ),
        )
    };
    let api = |validation: Value| {
        json!({"listeners": [{
            "portMapping": {"port": 8080, "protocol": "http"},
            "tls": {
                "mode": "STRICT",
                "certificate": {"file": {"certificateChain": "/certs/chain.pem", "privateKey": "/keys/key.pem"}},
                "validation": validation,
            },
        }]})
    };
    feature(vec![
        (
            tls(r#"          subject_alternative_names {
            match {
              exact = ["client.apps.local"]
            }
          }

          trust {
            file {
              certificate_chain = "/certs/clients_ca.pem"
            }
          }"#),
            api(json!({
                "subjectAlternativeNames": {"match": {"exact": ["client.apps.local"]}},
                "trust": {"file": {"certificateChain": "/certs/clients_ca.pem"}},
            })),
        ),
        // SANs changed (a wildcard is fine on a listener), file trust → SDS trust.
        (
            tls(r#"          subject_alternative_names {
            match {
              exact = ["*.apps.local", "spiffe://apps.local/ns/default/sa/client"]
            }
          }

          trust {
            sds {
              secret_name = "spiffe://apps.local/clients"
            }
          }"#),
            api(json!({
                "subjectAlternativeNames": {"match": {"exact": ["*.apps.local", "spiffe://apps.local/ns/default/sa/client"]}},
                "trust": {"sds": {"secretName": "spiffe://apps.local/clients"}},
            })),
        ),
        // SANs removed.
        (
            tls(r#"          trust {
            sds {
              secret_name = "spiffe://apps.local/clients"
            }
          }"#),
            api(json!({
                "trust": {"sds": {"secretName": "spiffe://apps.local/clients"}},
            })),
        ),
    ]);
}

#[test]
fn multi_listener_validation() {
    let file_tls = |san: &str| {
        format!(
            r#"
      tls {{
        mode = "STRICT"

        certificate {{
          file {{
            certificate_chain = "/certs/chain.pem"
            private_key       = "/keys/key.pem"
          }}
        }}

        validation {{
          subject_alternative_names {{
            match {{
              exact = ["{san}"]
            }}
          }}

          trust {{
            file {{
              certificate_chain = "/certs/ca.pem"
            }}
          }}
        }}
      }}"#
        )
    };
    let sds_tls = r#"
      tls {
        mode = "PERMISSIVE"

        certificate {
          sds {
            secret_name = "gateway-cert"
          }
        }

        validation {
          trust {
            sds {
              secret_name = "clients-bundle"
            }
          }
        }
      }"#;
    let acm_tls = format!(
        r#"
      tls {{
        mode = "STRICT"

        certificate {{
          acm {{
            certificate_arn = "{ACM_CERTIFICATE}"
          }}
        }}
      }}"#
    );
    let api_file = |port: u16, san: &str| {
        json!({
            "portMapping": {"port": port, "protocol": "http"},
            "tls": {
                "mode": "STRICT",
                "certificate": {"file": {"certificateChain": "/certs/chain.pem", "privateKey": "/keys/key.pem"}},
                "validation": {
                    "subjectAlternativeNames": {"match": {"exact": [san]}},
                    "trust": {"file": {"certificateChain": "/certs/ca.pem"}},
                },
            },
        })
    };
    let api_sds = |port: u16| {
        json!({
            "portMapping": {"port": port, "protocol": "http2"},
            "tls": {
                "mode": "PERMISSIVE",
                "certificate": {"sds": {"secretName": "gateway-cert"}},
                "validation": {"trust": {"sds": {"secretName": "clients-bundle"}}},
            },
        })
    };
    let api_acm = json!({
        "portMapping": {"port": 8082, "protocol": "grpc"},
        "tls": {"mode": "STRICT", "certificate": {"acm": {"certificateArn": ACM_CERTIFICATE}}},
    });
    feature(vec![
        (
            format!(
                "{}{}",
                listener_hcl(8080, "http", &file_tls("a.apps.local")),
                listener_hcl(8081, "http2", sds_tls)
            ),
            json!({"listeners": [api_file(8080, "a.apps.local"), api_sds(8081)]}),
        ),
        // The first listener's SAN changes, a third listener with an ACM certificate joins.
        (
            format!(
                "{}{}{}",
                listener_hcl(8080, "http", &file_tls("b.apps.local")),
                listener_hcl(8081, "http2", sds_tls),
                listener_hcl(8082, "grpc", &acm_tls)
            ),
            json!({"listeners": [api_file(8080, "b.apps.local"), api_sds(8081), api_acm]}),
        ),
        // Listener order is kept: the API holds them as configured.
        (
            format!(
                "{}{}",
                listener_hcl(8081, "http2", sds_tls),
                listener_hcl(8080, "http", &file_tls("b.apps.local"))
            ),
            json!({"listeners": [api_sds(8081), api_file(8080, "b.apps.local")]}),
        ),
    ]);
}

#[test]
fn logging() {
    let logging = |file: &str| {
        format!(
            "{}\n    logging {{\n      access_log {{\n        file {{\n{file}\n        }}\n      }}\n    }}\n",
            listener_hcl(8080, "http", "")
        )
    };
    let api = |file: Value| {
        json!({
            "listeners": [api_listener(8080, "http")],
            "logging": {"accessLog": {"file": file}},
        })
    };
    let json_format = |entries: &[(&str, &str)]| {
        let blocks: String = entries
            .iter()
            .map(|(k, v)| {
                format!(
                    "            json {{\n              key   = \"{k}\"\n              value = \"{v}\"\n            }}\n"
                )
            })
            .collect();
        format!("          path = \"/dev/stdout\"\n\n          format {{\n{blocks}          }}")
    };
    let api_json = |entries: &[(&str, &str)]| {
        let list: Vec<Value> = entries
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        api(json!({"path": "/dev/stdout", "format": {"json": list}}))
    };
    // Deliberately not in alphabetical order: the order must survive the round trip.
    let entries = [
        ("start_time", "%START_TIME%"),
        ("method", "%REQ(:METHOD)%"),
        ("code", "%RESPONSE_CODE%"),
    ];
    let reordered = [
        ("code", "%RESPONSE_CODE%"),
        ("start_time", "%START_TIME%"),
        ("method", "%REQ(:METHOD)%"),
        ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ];
    let text = "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%";
    feature(vec![
        (
            logging(r#"          path = "/dev/stdout""#),
            api(json!({"path": "/dev/stdout"})),
        ),
        (
            logging(r#"          path = "/tmp/access.log""#),
            api(json!({"path": "/tmp/access.log"})),
        ),
        (logging(&json_format(&entries)), api_json(&entries)),
        (logging(&json_format(&reordered)), api_json(&reordered)),
        (
            logging(&format!(
                "          path = \"/dev/stdout\"\n\n          format {{\n            text = \"{text}\"\n          }}"
            )),
            api(json!({"path": "/dev/stdout", "format": {"text": text}})),
        ),
        // Logging removed altogether.
        (
            listener_hcl(8080, "http", ""),
            json!({"listeners": [api_listener(8080, "http")]}),
        ),
    ]);
}

#[test]
fn logging_json_state_order() {
    // The state keeps the configured order of `json` entries (an ordered list).
    let (mesh, gateway) = (random_name(), random_name());
    let spec = format!(
        r#"{}
    logging {{
      access_log {{
        file {{
          path = "/dev/stdout"

          format {{
            json {{
              key   = "zeta"
              value = "%START_TIME%"
            }}
            json {{
              key   = "alpha"
              value = "%RESPONSE_CODE%"
            }}
          }}
        }}
      }}
    }}
"#,
        listener_hcl(8080, "http", "")
    );
    TestCase::new().run(vec![Step::apply(config(&mesh, &gateway, &spec)).check(
        |state, api| {
            let prefix = "spec.0.logging.0.access_log.0.file.0.format.0.json";
            state.assert_attr(ADDR, &format!("{prefix}.#"), "2");
            state.assert_attr(ADDR, &format!("{prefix}.0.key"), "zeta");
            state.assert_attr(ADDR, &format!("{prefix}.1.key"), "alpha");
            let data = api.get(&api_path(state, ADDR));
            assert_eq!(
                data["spec"]["logging"]["accessLog"]["file"]["format"]["json"],
                json!([
                    {"key": "zeta", "value": "%START_TIME%"},
                    {"key": "alpha", "value": "%RESPONSE_CODE%"},
                ])
            );
        },
    )]);
}

#[test]
fn tags() {
    let (mesh, gateway) = (random_name(), random_name());
    let (m, g) = (mesh.clone(), gateway.clone());
    let spec = listener_hcl(8080, "http", "");
    TestCase::new().run(vec![
        Step::apply(config_tags(&mesh, &gateway, &spec, &[("Name", "gw")]))
            .check(|state, api| assert_tags(state, api, ADDR, &[("Name", "gw")])),
        Step::expect_plan(
            config_tags(
                &mesh,
                &gateway,
                &spec,
                &[("Name", "gw-2"), ("Team", "edge")],
            ),
            &[(ADDR, UPDATE)],
        )
        .check(move |state, api| {
            assert_tags(state, api, ADDR, &[("Name", "gw-2"), ("Team", "edge")]);
            assert_eq!(
                version(&api.get(&paths::virtual_gateway(&m, &g))),
                1,
                "a tag change must not update the gateway spec"
            );
        }),
        Step::import_verify(ADDR, &format!("{mesh}/{gateway}")),
        Step::expect_plan(config(&mesh, &gateway, &spec), &[(ADDR, UPDATE)])
            .check(|state, api| assert_tags(state, api, ADDR, &[])),
    ]);
}
