//! Acceptance tests for `appmesh_virtual_node`: the terraform CLI against the provider and a
//! fresh control plane per test (`cargo test -p appmesh-acceptance --test virtual_node`).
//!
//! Besides the lifecycle cases (`basic`, `import`, `update`, `replace`, `disappears`) there
//! is one test per feature family of the spec. Each applies a configuration, compares the
//! spec the control plane stored with the JSON the HCL stands for (exact member names and
//! values; only the members Terraform models as sets are compared without order), expects
//! an empty re-plan and a clean import, then applies a change in place.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use appmesh_acceptance::spec::sort_sets;
use appmesh_acceptance::{
    api_listener, assert_metadata, assert_tags, assert_top_level_attributes, listener_hcl,
    mesh_child_block_hcl, mesh_hcl, paths, random_name, tags_hcl, version, Api, State, Step,
    TestCase, ACM_CA_ARN_1, ACM_CA_ARN_2, REPLACE, UPDATE,
};
use serde_json::{json, Value};

const ADDR: &str = "appmesh_virtual_node.test";
const MESH: &str = "appmesh_mesh.test";

/// API members that Terraform models as sets, and Cloud Map `attributes` (a map): their
/// order carries no meaning.
const SET_MEMBERS: &[&str] = &[
    "backends",
    "ports",
    "exact",
    "certificateAuthorityArns",
    "attributes",
];

/// An ACM certificate ARN in the test account.
const CERT_ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0c5a8b3e-1c43-4a36-9d1e-7c3b6f0a2d11";

// === configurations ===

/// The mesh plus `appmesh_virtual_node.test` with `spec { <body> }`.
fn config(mesh: &str, node: &str, body: &str) -> String {
    config_tags(mesh, node, body, &[])
}

fn config_tags(mesh: &str, node: &str, body: &str, tags: &[(&str, &str)]) -> String {
    format!("{}{}", mesh_hcl(mesh), node_block("test", node, body, tags))
}

/// One `appmesh_virtual_node` block in the mesh `appmesh_mesh.test`.
fn node_block(label: &str, node: &str, body: &str, tags: &[(&str, &str)]) -> String {
    mesh_child_block_hcl("appmesh_virtual_node", label, node, body, &tags_hcl(tags))
}

/// A DNS service discovery block.
fn dns(hostname: &str) -> String {
    format!(
        r#"
    service_discovery {{
      dns {{
        hostname = "{hostname}"
      }}
    }}
"#
    )
}

/// One listener on `port`/`protocol` found through DNS at `hostname`.
fn listener_dns(port: u16, protocol: &str, hostname: &str) -> String {
    format!("{}{}", listener_hcl(port, protocol, ""), dns(hostname))
}

/// The API JSON of DNS discovery.
fn api_dns(hostname: &str) -> Value {
    json!({"dns": {"hostname": hostname}})
}

// === checks ===

fn describe(api: &Api, mesh: &str, node: &str) -> Value {
    api.get(&paths::virtual_node(mesh, node))
}

/// Asserts the API spec equals `expected` (sets compared without order).
fn assert_api_spec(data: &Value, expected: &Value) {
    let actual = sort_sets(&data["spec"], SET_MEMBERS);
    let expected = sort_sets(expected, SET_MEMBERS);
    assert!(
        actual == expected,
        "spec in the API differs from the configuration\n--- API ---\n{actual:#}\n--- expected ---\n{expected:#}"
    );
}

/// A check of `appmesh_virtual_node.test` against the API: metadata, the whole spec and
/// `metadata.version`.
fn check_spec(
    mesh: &str,
    node: &str,
    expected: Value,
    expected_version: i64,
) -> impl Fn(&State, &Api) + 'static {
    check_spec_at(ADDR, mesh, node, expected, expected_version)
}

fn check_spec_at(
    address: &'static str,
    mesh: &str,
    node: &str,
    expected: Value,
    expected_version: i64,
) -> impl Fn(&State, &Api) + 'static {
    let (mesh, node) = (mesh.to_owned(), node.to_owned());
    move |state, api| {
        let data = describe(api, &mesh, &node);
        assert_metadata(state, address, &data);
        assert_api_spec(&data, &expected);
        assert_eq!(
            version(&data),
            expected_version,
            "metadata.version of {node}"
        );
        state.assert_attr(address, "spec.#", "1");
    }
}

/// A check that the state holds `attrs` (flattened path → value) for `appmesh_virtual_node.test`.
fn check_state(attrs: &'static [(&'static str, &'static str)]) -> impl Fn(&State, &Api) + 'static {
    move |state, _| {
        for (path, value) in attrs {
            state.assert_attr(ADDR, path, value);
        }
    }
}

fn import_id(mesh: &str, node: &str) -> String {
    format!("{mesh}/{node}")
}

// === lifecycle ===

#[test]
fn basic() {
    let (mesh, bare, full) = (random_name(), random_name(), random_name());
    let hcl = format!(
        "{}{}{}",
        mesh_hcl(&mesh),
        node_block("test", &bare, "", &[]),
        node_block(
            "listener",
            &full,
            &listener_dns(8080, "http", "full.apps.local"),
            &[]
        ),
    );
    let (m, b) = (mesh.clone(), bare.clone());
    TestCase::new().run(vec![
        Step::apply(hcl)
            .check(check_spec(&mesh, &bare, json!({}), 1))
            .check(check_spec_at(
                "appmesh_virtual_node.listener",
                &mesh,
                &full,
                json!({
                    "listeners": [api_listener(8080, "http")],
                    "serviceDiscovery": api_dns("full.apps.local"),
                }),
                1,
            ))
            .check(move |state, api| {
                assert_top_level_attributes(state, ADDR);
                let data = describe(api, &m, &b);
                state.assert_attr(ADDR, "name", &b);
                state.assert_attr(ADDR, "mesh_name", &m);
                assert_eq!(data["virtualNodeName"], b.as_str());
                let id = state.expect_attr(ADDR, "id");
                assert_eq!(id, data["metadata"]["uid"].as_str().unwrap(), "id = uid");
                assert_ne!(id, b, "the id is the uid, not the name");
                assert_eq!(
                    state.expect_attr(ADDR, "arn"),
                    format!("arn:aws:appmesh:us-east-1:123456789012:mesh/{m}/virtualNode/{b}")
                );
                state.assert_attr(ADDR, "mesh_owner", "123456789012");
                state.assert_attr(ADDR, "resource_owner", "123456789012");
                assert_eq!(
                    state.expect_attr(ADDR, "created_date"),
                    state.expect_attr(ADDR, "last_updated_date"),
                    "a new node was never updated"
                );
                assert_tags(state, api, ADDR, &[]);
                // The bare node has exactly one empty spec block.
                for block in [
                    "backend",
                    "backend_defaults",
                    "listener",
                    "logging",
                    "service_discovery",
                ] {
                    assert_eq!(state.count(ADDR, &format!("spec.0.{block}")), 0, "{block}");
                }
                let l = "appmesh_virtual_node.listener";
                state.assert_attr(l, "spec.0.listener.#", "1");
                state.assert_attr(l, "spec.0.listener.0.port_mapping.0.port", "8080");
                state.assert_attr(l, "spec.0.listener.0.port_mapping.0.protocol", "http");
                state.assert_attr(
                    l,
                    "spec.0.service_discovery.0.dns.0.hostname",
                    "full.apps.local",
                );
            }),
        Step::plan_empty(),
        Step::import_verify("appmesh_virtual_node.listener", &import_id(&mesh, &full)),
        Step::import_verify(ADDR, &import_id(&mesh, &bare)),
    ]);
}

#[test]
fn import() {
    let (mesh, node) = (random_name(), random_name());
    let id = import_id(&mesh, &node);
    let body = format!(
        "{}{}",
        listener_dns(8080, "http", "imported.apps.local"),
        r#"
    backend {
      virtual_service {
        virtual_service_name = "servicea.apps.local"
      }
    }
"#
    );
    let tags: &[(&str, &str)] = &[("Name", "node"), ("Team", "edge")];
    TestCase::new().run(vec![
        Step::apply(config_tags(&mesh, &node, &body, tags)),
        Step::import_verify(ADDR, &id).check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(8080, "http")],
                "serviceDiscovery": api_dns("imported.apps.local"),
                "backends": [{"virtualService": {"virtualServiceName": "servicea.apps.local"}}],
            }),
            1,
        )),
        Step::import_block(ADDR, &id)
            .check(move |state, api| assert_tags(state, api, ADDR, tags)),
        Step::generate_config(mesh_hcl(&mesh), ADDR, &id)
            .check(move |state, api| assert_tags(state, api, ADDR, tags)),
        // The generated configuration names the mesh literally; going back to the
        // referencing one is a no-op and restores the destroy order (node before mesh).
        Step::plan_empty_with(config_tags(&mesh, &node, &body, tags)),
        // A malformed import ID names the expected format.
        Step::expect_error(
            format!(
                "{}\nimport {{\n  to = appmesh_virtual_node.other\n  id = \"{node}\"\n}}\n\
                 resource \"appmesh_virtual_node\" \"other\" {{\n  name = \"{node}\"\n  \
                 mesh_name = \"{mesh}\"\n  spec {{}}\n}}\n",
                config_tags(&mesh, &node, &body, tags)
            ),
            r"(?i)expected.*format|format.*expected|mesh[_ -]?name>?/<?(virtual[_ -]?)?node[_ -]?name",
        ),
    ]);
}

#[test]
fn update() {
    let (mesh, node) = (random_name(), random_name());
    let (m, n) = (mesh.clone(), node.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, "")).check(check_spec(&mesh, &node, json!({}), 1)),
        Step::expect_plan(
            config(&mesh, &node, &listener_dns(8080, "http", "a.apps.local")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(8080, "http")],
                "serviceDiscovery": api_dns("a.apps.local"),
            }),
            2,
        )),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(&mesh, &node, &listener_dns(9090, "tcp", "b.apps.local")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(9090, "tcp")],
                "serviceDiscovery": api_dns("b.apps.local"),
            }),
            3,
        ))
        .check(check_state(&[
            ("spec.0.listener.0.port_mapping.0.port", "9090"),
            ("spec.0.listener.0.port_mapping.0.protocol", "tcp"),
            ("spec.0.service_discovery.0.dns.0.hostname", "b.apps.local"),
        ])),
        // A change made behind Terraform's back (version 4) is detected and undone in place.
        Step::plan_empty().check(move |_, api| {
            api.put(
                &paths::virtual_node(&m, &n),
                &json!({"spec": {
                    "listeners": [api_listener(7070, "http2")],
                    "serviceDiscovery": api_dns("drift.apps.local"),
                }}),
            );
        }),
        Step::expect_plan(
            config(&mesh, &node, &listener_dns(9090, "tcp", "b.apps.local")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(9090, "tcp")],
                "serviceDiscovery": api_dns("b.apps.local"),
            }),
            5,
        )),
        // Back to a bare node: the listener and discovery are removed in the API.
        Step::expect_plan(config(&mesh, &node, ""), &[(ADDR, UPDATE)]).check(check_spec(
            &mesh,
            &node,
            json!({}),
            6,
        )),
    ]);
}

#[test]
fn replace() {
    let (mesh, old, new) = (random_name(), random_name(), random_name());
    let (m, o) = (mesh.clone(), old.clone());
    let body = listener_dns(8080, "http", "n.apps.local");
    let expected = json!({
        "listeners": [api_listener(8080, "http")],
        "serviceDiscovery": api_dns("n.apps.local"),
    });
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &old, &body)).check(check_spec(&mesh, &old, expected.clone(), 1)),
        Step::expect_plan(config(&mesh, &new, &body), &[(ADDR, REPLACE)])
            .check(check_spec(&mesh, &new, expected, 1))
            .check(move |state, api| {
                assert!(
                    api.try_get(&paths::virtual_node(&m, &o)).is_none(),
                    "the old node is deleted"
                );
                assert_eq!(
                    version(&api.get(&paths::mesh(&m))),
                    1,
                    "the mesh is untouched"
                );
                state.assert_attr(MESH, "id", &m);
            }),
        Step::import_verify(ADDR, &import_id(&mesh, &new)),
    ]);
}

#[test]
fn disappears() {
    let (mesh, node) = (random_name(), random_name());
    let body = listener_dns(8080, "http", "d.apps.local");
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body)),
        Step::disappear(ADDR, &paths::virtual_node(&mesh, &node)),
        Step::apply(config(&mesh, &node, &body)).check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(8080, "http")],
                "serviceDiscovery": api_dns("d.apps.local"),
            }),
            1,
        )),
    ]);
}

// === listeners ===

#[test]
fn listeners() {
    let (mesh, node) = (random_name(), random_name());
    let body = |listeners: &[(u16, &str)]| {
        let mut s: String = listeners
            .iter()
            .map(|(port, protocol)| listener_hcl(*port, protocol, ""))
            .collect();
        s.push_str(&dns("multi.apps.local"));
        s
    };
    let expected = |listeners: &[(u16, &str)]| {
        json!({
            "listeners": listeners
                .iter()
                .map(|(port, protocol)| api_listener(*port, protocol))
                .collect::<Vec<_>>(),
            "serviceDiscovery": api_dns("multi.apps.local"),
        })
    };
    let first: &[(u16, &str)] = &[(8080, "http"), (8081, "http2"), (8082, "grpc")];
    // Reordered, one protocol changed and one listener added: listeners are an ordered list,
    // kept in configuration order.
    let second: &[(u16, &str)] = &[
        (8082, "grpc"),
        (8080, "tcp"),
        (8083, "http"),
        (8081, "http2"),
    ];
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(first)))
            .check(check_spec(&mesh, &node, expected(first), 1))
            .check(check_state(&[
                ("spec.0.listener.#", "3"),
                ("spec.0.listener.0.port_mapping.0.port", "8080"),
                ("spec.0.listener.1.port_mapping.0.protocol", "http2"),
                ("spec.0.listener.2.port_mapping.0.port", "8082"),
                ("spec.0.listener.2.port_mapping.0.protocol", "grpc"),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(second)), &[(ADDR, UPDATE)])
            .check(check_spec(&mesh, &node, expected(second), 2))
            .check(check_state(&[
                ("spec.0.listener.#", "4"),
                ("spec.0.listener.0.port_mapping.0.port", "8082"),
                ("spec.0.listener.1.port_mapping.0.protocol", "tcp"),
                ("spec.0.listener.3.port_mapping.0.port", "8081"),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Two listeners on one port are rejected before anything is sent.
        Step::expect_error(
            config(&mesh, &node, &body(&[(8080, "http"), (8080, "tcp")])),
            r"(?i)listener.*(8080|port)",
        ),
    ]);
}

// === listener TLS ===

#[test]
fn listener_tls() {
    let (mesh, node) = (random_name(), random_name());
    let body = |tls: &str| {
        format!(
            "{}{}",
            listener_hcl(8080, "http", &format!("      tls {{\n{tls}\n      }}")),
            dns("tls.apps.local")
        )
    };
    let expected = |tls: Value| {
        json!({
            "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}, "tls": tls}],
            "serviceDiscovery": api_dns("tls.apps.local"),
        })
    };
    let strict_file = r#"
        mode = "STRICT"
        certificate {
          file {
            certificate_chain = "/certs/chain.pem"
            private_key       = "/certs/key.pem"
          }
        }"#;
    let permissive_sds = r#"
        mode = "PERMISSIVE"
        certificate {
          sds {
            secret_name = "spiffe://apps.local/tls"
          }
        }"#;
    let disabled_acm = format!(
        r#"
        mode = "DISABLED"
        certificate {{
          acm {{
            certificate_arn = "{CERT_ARN}"
          }}
        }}"#
    );
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(strict_file)))
            .check(check_spec(
                &mesh,
                &node,
                expected(json!({
                    "mode": "STRICT",
                    "certificate": {"file": {
                        "certificateChain": "/certs/chain.pem",
                        "privateKey": "/certs/key.pem",
                    }},
                })),
                1,
            ))
            .check(check_state(&[
                ("spec.0.listener.0.tls.0.mode", "STRICT"),
                (
                    "spec.0.listener.0.tls.0.certificate.0.file.0.certificate_chain",
                    "/certs/chain.pem",
                ),
                ("spec.0.listener.0.tls.0.certificate.0.acm.#", "0"),
                ("spec.0.listener.0.tls.0.certificate.0.sds.#", "0"),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(&mesh, &node, &body(permissive_sds)),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(json!({
                "mode": "PERMISSIVE",
                "certificate": {"sds": {"secretName": "spiffe://apps.local/tls"}},
            })),
            2,
        ))
        .check(check_state(&[
            ("spec.0.listener.0.tls.0.certificate.0.file.#", "0"),
            (
                "spec.0.listener.0.tls.0.certificate.0.sds.0.secret_name",
                "spiffe://apps.local/tls",
            ),
        ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(&mesh, &node, &body(&disabled_acm)),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(json!({
                "mode": "DISABLED",
                "certificate": {"acm": {"certificateArn": CERT_ARN}},
            })),
            3,
        ))
        .check(check_state(&[
            ("spec.0.listener.0.tls.0.mode", "DISABLED"),
            (
                "spec.0.listener.0.tls.0.certificate.0.acm.0.certificate_arn",
                CERT_ARN,
            ),
        ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

#[test]
fn listener_validation() {
    let (mesh, node) = (random_name(), random_name());
    let body = |sans: &str, trust: &str| {
        let tls = format!(
            r#"
      tls {{
        mode = "STRICT"
        certificate {{
          sds {{
            secret_name = "spiffe://apps.local/server"
          }}
        }}
        validation {{
          subject_alternative_names {{
            match {{
              exact = [{sans}]
            }}
          }}
          trust {{
{trust}
          }}
        }}
      }}"#
        );
        format!(
            "{}{}",
            listener_hcl(8080, "http", &tls),
            dns("mtls.apps.local")
        )
    };
    let file_trust = r#"            file {
              certificate_chain = "/certs/ca.pem"
            }"#;
    let sds_trust = r#"            sds {
              secret_name = "spiffe://apps.local/ca"
            }"#;
    let expected = |exact: &[&str], trust: Value| {
        json!({
            "listeners": [{
                "portMapping": {"port": 8080, "protocol": "http"},
                "tls": {
                    "mode": "STRICT",
                    "certificate": {"sds": {"secretName": "spiffe://apps.local/server"}},
                    "validation": {
                        "subjectAlternativeNames": {"match": {"exact": exact}},
                        "trust": trust,
                    },
                },
            }],
            "serviceDiscovery": api_dns("mtls.apps.local"),
        })
    };
    let sans1 = r#""client.apps.local", "spiffe://apps.local/client""#;
    let sans1_reordered = r#""spiffe://apps.local/client", "client.apps.local""#;
    let sans2 = r#""other.apps.local""#;
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(sans1, file_trust)))
            .check(check_spec(
                &mesh,
                &node,
                expected(
                    &["client.apps.local", "spiffe://apps.local/client"],
                    json!({"file": {"certificateChain": "/certs/ca.pem"}}),
                ),
                1,
            ))
            .check(check_state(&[
                (
                    "spec.0.listener.0.tls.0.validation.0.subject_alternative_names.0.match.0.exact.#",
                    "2",
                ),
                (
                    "spec.0.listener.0.tls.0.validation.0.trust.0.file.0.certificate_chain",
                    "/certs/ca.pem",
                ),
            ])),
        // The SAN list is a set: another order is the same configuration.
        Step::plan_empty_with(config(&mesh, &node, &body(sans1_reordered, file_trust))),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(sans2, sds_trust)), &[(ADDR, UPDATE)])
            .check(check_spec(
                &mesh,
                &node,
                expected(
                    &["other.apps.local"],
                    json!({"sds": {"secretName": "spiffe://apps.local/ca"}}),
                ),
                2,
            ))
            .check(check_state(&[
                ("spec.0.listener.0.tls.0.validation.0.trust.0.file.#", "0"),
                (
                    "spec.0.listener.0.tls.0.validation.0.trust.0.sds.0.secret_name",
                    "spiffe://apps.local/ca",
                ),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

// === health check, outlier detection, connection pools, timeouts ===

#[test]
fn health_check() {
    let (mesh, node) = (random_name(), random_name());
    let body = |interval: u32| {
        let hc = format!(
            r#"
      health_check {{
        protocol            = "http"
        path                = "/ping"
        healthy_threshold   = 2
        unhealthy_threshold = 5
        timeout_millis      = 2000
        interval_millis     = {interval}
      }}"#
        );
        format!(
            "{}{}",
            listener_hcl(8080, "http", &hc),
            dns("hc.apps.local")
        )
    };
    let expected = |interval: u32| {
        json!({
            "listeners": [{
                "portMapping": {"port": 8080, "protocol": "http"},
                // No port in the configuration: the service checks the listener's.
                "healthCheck": {
                    "protocol": "http",
                    "path": "/ping",
                    "port": 8080,
                    "healthyThreshold": 2,
                    "unhealthyThreshold": 5,
                    "timeoutMillis": 2000,
                    "intervalMillis": interval,
                },
            }],
            "serviceDiscovery": api_dns("hc.apps.local"),
        })
    };
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(5000)))
            .check(check_spec(&mesh, &node, expected(5000), 1))
            .check(check_state(&[
                ("spec.0.listener.0.health_check.0.path", "/ping"),
                ("spec.0.listener.0.health_check.0.interval_millis", "5000"),
                ("spec.0.listener.0.health_check.0.port", "8080"),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(10000)), &[(ADDR, UPDATE)])
            .check(check_spec(&mesh, &node, expected(10000), 2))
            .check(check_state(&[(
                "spec.0.listener.0.health_check.0.interval_millis",
                "10000",
            )])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Out of range (5000..300000) is caught at plan time, naming the attribute.
        Step::expect_error(config(&mesh, &node, &body(1000)), r"interval_millis"),
    ]);
}

#[test]
fn outlier_detection() {
    let (mesh, node) = (random_name(), random_name());
    let body = |base: (&str, u32), interval: (&str, u32), percent: u32, errors: u32| {
        let od = format!(
            r#"
      outlier_detection {{
        base_ejection_duration {{
          unit  = "{}"
          value = {}
        }}
        interval {{
          unit  = "{}"
          value = {}
        }}
        max_ejection_percent = {percent}
        max_server_errors    = {errors}
      }}"#,
            base.0, base.1, interval.0, interval.1
        );
        format!(
            "{}{}",
            listener_hcl(8080, "http", &od),
            dns("od.apps.local")
        )
    };
    let expected = |base: (&str, u32), interval: (&str, u32), percent: u32, errors: u32| {
        json!({
            "listeners": [{
                "portMapping": {"port": 8080, "protocol": "http"},
                "outlierDetection": {
                    "baseEjectionDuration": {"unit": base.0, "value": base.1},
                    "interval": {"unit": interval.0, "value": interval.1},
                    "maxEjectionPercent": percent,
                    "maxServerErrors": errors,
                },
            }],
            "serviceDiscovery": api_dns("od.apps.local"),
        })
    };
    TestCase::new().run(vec![
        // max_ejection_percent = 0 is a real value: it must reach the API as 0.
        Step::apply(config(&mesh, &node, &body(("s", 15), ("ms", 10000), 0, 5)))
            .check(check_spec(
                &mesh,
                &node,
                expected(("s", 15), ("ms", 10000), 0, 5),
                1,
            ))
            .check(check_state(&[
                (
                    "spec.0.listener.0.outlier_detection.0.max_ejection_percent",
                    "0",
                ),
                (
                    "spec.0.listener.0.outlier_detection.0.base_ejection_duration.0.unit",
                    "s",
                ),
                (
                    "spec.0.listener.0.outlier_detection.0.interval.0.value",
                    "10000",
                ),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(&mesh, &node, &body(("ms", 500), ("s", 20), 50, 10)),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(("ms", 500), ("s", 20), 50, 10),
            2,
        ))
        .check(check_state(&[(
            "spec.0.listener.0.outlier_detection.0.max_ejection_percent",
            "50",
        )])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_error(
            config(&mesh, &node, &body(("ms", 500), ("s", 20), 101, 10)),
            r"max_ejection_percent",
        ),
        // A duration needs both its unit and its value.
        Step::expect_error(
            config(&mesh, &node, &body(("ms", 500), ("s", 20), 50, 10)).replacen(
                "unit  = \"ms\"",
                "",
                1,
            ),
            // Either the schema (required argument) or the provider's check reports it.
            r#"base_ejection_duration(\[0\]|\.0)?\.unit|base_ejection_duration \{.*"unit" is required"#,
        ),
    ]);
}

#[test]
fn connection_pool() {
    let (mesh, node) = (random_name(), random_name());
    // One listener per protocol, each with the pool of its own kind.
    let body = |http: &str, http2: u32, grpc: u32, tcp: u32| {
        let pool = |inner: String| format!("      connection_pool {{\n{inner}\n      }}");
        format!(
            "{}{}{}{}{}",
            listener_hcl(
                8080,
                "http",
                &pool(format!("        http {{\n{http}\n        }}"))
            ),
            listener_hcl(
                8081,
                "http2",
                &pool(format!(
                    "        http2 {{\n          max_requests = {http2}\n        }}"
                ))
            ),
            listener_hcl(
                8082,
                "grpc",
                &pool(format!(
                    "        grpc {{\n          max_requests = {grpc}\n        }}"
                ))
            ),
            listener_hcl(
                8083,
                "tcp",
                &pool(format!(
                    "        tcp {{\n          max_connections = {tcp}\n        }}"
                ))
            ),
            dns("pool.apps.local"),
        )
    };
    let expected = |http: Value, http2: u32, grpc: u32, tcp: u32| {
        json!({
            "listeners": [
                {"portMapping": {"port": 8080, "protocol": "http"},
                 "connectionPool": {"http": http}},
                {"portMapping": {"port": 8081, "protocol": "http2"},
                 "connectionPool": {"http2": {"maxRequests": http2}}},
                {"portMapping": {"port": 8082, "protocol": "grpc"},
                 "connectionPool": {"grpc": {"maxRequests": grpc}}},
                {"portMapping": {"port": 8083, "protocol": "tcp"},
                 "connectionPool": {"tcp": {"maxConnections": tcp}}},
            ],
            "serviceDiscovery": api_dns("pool.apps.local"),
        })
    };
    let http_pool_1 = "          max_connections      = 100\n          max_pending_requests = 50";
    let http_pool_2 = "          max_connections = 200";
    let mismatched = format!(
        "{}{}",
        listener_hcl(
            8080,
            "http",
            "      connection_pool {\n        http2 {\n          max_requests = 10\n        }\n      }"
        ),
        dns("pool.apps.local")
    );
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(http_pool_1, 20, 30, 40)))
            .check(check_spec(
                &mesh,
                &node,
                expected(
                    json!({"maxConnections": 100, "maxPendingRequests": 50}),
                    20,
                    30,
                    40,
                ),
                1,
            ))
            .check(check_state(&[
                (
                    "spec.0.listener.0.connection_pool.0.http.0.max_pending_requests",
                    "50",
                ),
                (
                    "spec.0.listener.1.connection_pool.0.http2.0.max_requests",
                    "20",
                ),
                (
                    "spec.0.listener.2.connection_pool.0.grpc.0.max_requests",
                    "30",
                ),
                (
                    "spec.0.listener.3.connection_pool.0.tcp.0.max_connections",
                    "40",
                ),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Dropping max_pending_requests removes it from the API object.
        Step::expect_plan(
            config(&mesh, &node, &body(http_pool_2, 21, 31, 41)),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(json!({"maxConnections": 200}), 21, 31, 41),
            2,
        )),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // An http2 pool on an http listener fails at plan time, naming the attribute.
        Step::expect_error(
            config(&mesh, &node, &mismatched),
            r"listener(\[0\]|\.0)?\.connection_pool(\[0\]|\.0)?\.http2",
        ),
    ]);
}

#[test]
fn listener_timeout() {
    let (mesh, node) = (random_name(), random_name());
    let dur = |name: &str, unit: &str, value: u32| {
        format!("          {name} {{\n            unit  = \"{unit}\"\n            value = {value}\n          }}\n")
    };
    let timeout = |kind: &str, inner: String| {
        format!("      timeout {{\n        {kind} {{\n{inner}        }}\n      }}")
    };
    // [http idle, http per_request, http2 idle, http2 per_request, grpc idle, grpc per_request, tcp idle]
    let body = |v: [(&str, u32); 7]| {
        format!(
            "{}{}{}{}{}",
            listener_hcl(
                8080,
                "http",
                &timeout(
                    "http",
                    dur("idle", v[0].0, v[0].1) + &dur("per_request", v[1].0, v[1].1)
                )
            ),
            listener_hcl(
                8081,
                "http2",
                &timeout(
                    "http2",
                    dur("idle", v[2].0, v[2].1) + &dur("per_request", v[3].0, v[3].1)
                )
            ),
            listener_hcl(
                8082,
                "grpc",
                &timeout(
                    "grpc",
                    dur("idle", v[4].0, v[4].1) + &dur("per_request", v[5].0, v[5].1)
                )
            ),
            listener_hcl(8083, "tcp", &timeout("tcp", dur("idle", v[6].0, v[6].1))),
            dns("timeout.apps.local"),
        )
    };
    let expected = |v: [(&str, u32); 7]| {
        let d = |i: usize| json!({"unit": v[i].0, "value": v[i].1});
        json!({
            "listeners": [
                {"portMapping": {"port": 8080, "protocol": "http"},
                 "timeout": {"http": {"idle": d(0), "perRequest": d(1)}}},
                {"portMapping": {"port": 8081, "protocol": "http2"},
                 "timeout": {"http2": {"idle": d(2), "perRequest": d(3)}}},
                {"portMapping": {"port": 8082, "protocol": "grpc"},
                 "timeout": {"grpc": {"idle": d(4), "perRequest": d(5)}}},
                {"portMapping": {"port": 8083, "protocol": "tcp"},
                 "timeout": {"tcp": {"idle": d(6)}}},
            ],
            "serviceDiscovery": api_dns("timeout.apps.local"),
        })
    };
    // A zero value (an idle timeout of 0 disables it) must be sent, not dropped.
    let first = [
        ("s", 0),
        ("ms", 2500),
        ("s", 30),
        ("s", 5),
        ("ms", 60000),
        ("s", 10),
        ("s", 0),
    ];
    let second = [
        ("ms", 500),
        ("s", 0),
        ("ms", 1500),
        ("s", 6),
        ("s", 600),
        ("ms", 250),
        ("s", 3600),
    ];
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(first)))
            .check(check_spec(&mesh, &node, expected(first), 1))
            .check(check_state(&[
                ("spec.0.listener.0.timeout.0.http.0.idle.0.value", "0"),
                (
                    "spec.0.listener.0.timeout.0.http.0.per_request.0.unit",
                    "ms",
                ),
                ("spec.0.listener.3.timeout.0.tcp.0.idle.0.value", "0"),
                ("spec.0.listener.3.timeout.0.http.#", "0"),
            ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(second)), &[(ADDR, UPDATE)])
            .check(check_spec(&mesh, &node, expected(second), 2)),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

// === service discovery ===

#[test]
fn dns_discovery() {
    let (mesh, node) = (random_name(), random_name());
    let body = |extra: &str| {
        format!(
            "{}\n    service_discovery {{\n      dns {{\n        hostname = \"dns.apps.local\"\n{extra}\n      }}\n    }}\n",
            listener_hcl(8080, "http", "")
        )
    };
    let expected = |dns: Value| {
        json!({
            "listeners": [api_listener(8080, "http")],
            "serviceDiscovery": {"dns": dns},
        })
    };
    TestCase::new().run(vec![
        Step::apply(config(
            &mesh,
            &node,
            &body("        ip_preference = \"IPv6_PREFERRED\"\n        response_type = \"ENDPOINTS\""),
        ))
        .check(check_spec(
            &mesh,
            &node,
            expected(json!({
                "hostname": "dns.apps.local",
                "ipPreference": "IPv6_PREFERRED",
                "responseType": "ENDPOINTS",
            })),
            1,
        ))
        .check(check_state(&[
            ("spec.0.service_discovery.0.dns.0.ip_preference", "IPv6_PREFERRED"),
            ("spec.0.service_discovery.0.dns.0.response_type", "ENDPOINTS"),
            ("spec.0.service_discovery.0.aws_cloud_map.#", "0"),
        ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(
                &mesh,
                &node,
                &body("        ip_preference = \"IPv4_ONLY\"\n        response_type = \"LOADBALANCER\""),
            ),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(json!({
                "hostname": "dns.apps.local",
                "ipPreference": "IPv4_ONLY",
                "responseType": "LOADBALANCER",
            })),
            2,
        )),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Leaving both out removes them from the API object.
        Step::expect_plan(config(&mesh, &node, &body("")), &[(ADDR, UPDATE)]).check(check_spec(
            &mesh,
            &node,
            expected(json!({"hostname": "dns.apps.local"})),
            3,
        )),
        Step::expect_error(
            config(&mesh, &node, &body("        response_type = \"ROUNDROBIN\"")),
            r"response_type",
        ),
    ]);
}

#[test]
fn cloud_map_discovery() {
    let (mesh, node) = (random_name(), random_name());
    let body = |attributes: &str, ip: &str| {
        format!(
            r#"{listener}
    service_discovery {{
      aws_cloud_map {{
        namespace_name = "apps.local"
        service_name   = "cloudmap"
{attributes}
{ip}
      }}
    }}
"#,
            listener = listener_hcl(8080, "http", "")
        )
    };
    let expected = |attributes: Value, ip: Option<&str>| {
        let mut cm = json!({
            "namespaceName": "apps.local",
            "serviceName": "cloudmap",
            "attributes": attributes,
        });
        if let Some(ip) = ip {
            cm["ipPreference"] = json!(ip);
        }
        json!({
            "listeners": [api_listener(8080, "http")],
            "serviceDiscovery": {"awsCloudMap": cm},
        })
    };
    let attrs1 = "        attributes = {\n          stack   = \"blue\"\n          version = \"v1\"\n        }";
    let attrs2 = "        attributes = {\n          stack = \"green\"\n          zone  = \"us-east-1a\"\n        }";
    TestCase::new().run(vec![
        Step::apply(config(
            &mesh,
            &node,
            &body(attrs1, "        ip_preference = \"IPv4_PREFERRED\""),
        ))
        .check(check_spec(
            &mesh,
            &node,
            expected(
                json!([{"key": "stack", "value": "blue"}, {"key": "version", "value": "v1"}]),
                Some("IPv4_PREFERRED"),
            ),
            1,
        ))
        .check(check_state(&[
            (
                "spec.0.service_discovery.0.aws_cloud_map.0.attributes.%",
                "2",
            ),
            (
                "spec.0.service_discovery.0.aws_cloud_map.0.attributes.stack",
                "blue",
            ),
            (
                "spec.0.service_discovery.0.aws_cloud_map.0.ip_preference",
                "IPv4_PREFERRED",
            ),
            ("spec.0.service_discovery.0.dns.#", "0"),
        ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(
                &mesh,
                &node,
                &body(attrs2, "        ip_preference = \"IPv6_ONLY\""),
            ),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected(
                json!([{"key": "stack", "value": "green"}, {"key": "zone", "value": "us-east-1a"}]),
                Some("IPv6_ONLY"),
            ),
            2,
        ))
        .check(check_state(&[
            (
                "spec.0.service_discovery.0.aws_cloud_map.0.attributes.stack",
                "green",
            ),
            (
                "spec.0.service_discovery.0.aws_cloud_map.0.attributes.zone",
                "us-east-1a",
            ),
        ])),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Switching the discovery kind is an in-place update that leaves no Cloud Map behind.
        Step::expect_plan(
            config(&mesh, &node, &listener_dns(8080, "http", "cm.apps.local")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            json!({
                "listeners": [api_listener(8080, "http")],
                "serviceDiscovery": api_dns("cm.apps.local"),
            }),
            3,
        ))
        .check(check_state(&[(
            "spec.0.service_discovery.0.aws_cloud_map.#",
            "0",
        )])),
    ]);
}

// === backends and client policies ===

/// A `backend` block for `service`, with an optional client policy body.
fn backend(service: &str, client_policy: &str) -> String {
    let policy = if client_policy.is_empty() {
        String::new()
    } else {
        format!("        client_policy {{\n{client_policy}\n        }}\n")
    };
    format!(
        r#"
    backend {{
      virtual_service {{
        virtual_service_name = "{service}"
{policy}      }}
    }}
"#
    )
}

fn api_backend(service: &str) -> Value {
    json!({"virtualService": {"virtualServiceName": service}})
}

#[test]
fn backends() {
    let (mesh, node) = (random_name(), random_name());
    let file_policy = r#"          tls {
            ports = [8443, 443]
            validation {
              subject_alternative_names {
                match {
                  exact = ["servicec.apps.local"]
                }
              }
              trust {
                file {
                  certificate_chain = "/certs/ca.pem"
                }
              }
            }
          }"#;
    let acm_policy = format!(
        r#"          tls {{
            enforce = false
            validation {{
              trust {{
                acm {{
                  certificate_authority_arns = ["{ACM_CA_ARN_1}"]
                }}
              }}
            }}
          }}"#
    );
    let body = |order: &[usize]| {
        let all = [
            backend("servicea.apps.local", ""),
            backend("serviceb.apps.local", &acm_policy),
            backend("servicec.apps.local", file_policy),
        ];
        let mut s: String = order.iter().map(|i| all[*i].clone()).collect();
        s.push_str(&listener_dns(8080, "http", "backends.apps.local"));
        s
    };
    let expected_backends = json!([
        api_backend("servicea.apps.local"),
        {"virtualService": {
            "virtualServiceName": "serviceb.apps.local",
            "clientPolicy": {"tls": {
                "enforce": false,
                "validation": {"trust": {"acm": {"certificateAuthorityArns": [ACM_CA_ARN_1]}}},
            }},
        }},
        {"virtualService": {
            "virtualServiceName": "servicec.apps.local",
            "clientPolicy": {"tls": {
                "enforce": true,
                "ports": [443, 8443],
                "validation": {
                    "subjectAlternativeNames": {"match": {"exact": ["servicec.apps.local"]}},
                    "trust": {"file": {"certificateChain": "/certs/ca.pem"}},
                },
            }},
        }},
    ]);
    let expected = move |backends: Value| {
        json!({
            "backends": backends,
            "listeners": [api_listener(8080, "http")],
            "serviceDiscovery": api_dns("backends.apps.local"),
        })
    };
    let (m, n) = (mesh.clone(), node.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(&[0, 1, 2])))
            .check(check_spec(
                &mesh,
                &node,
                expected(expected_backends.clone()),
                1,
            ))
            .check(|state, _| {
                state.assert_attr(ADDR, "spec.0.backend.#", "3");
                // `enforce` defaults to true where the configuration leaves it out.
                let flat = state.flat(ADDR);
                let enforce: BTreeSet<&str> = flat
                    .iter()
                    .filter(|(k, _)| k.ends_with(".client_policy.0.tls.0.enforce"))
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert_eq!(
                    enforce,
                    BTreeSet::from(["false", "true"]),
                    "enforce values in state"
                );
            }),
        // Backends are a set: any order is the same configuration.
        Step::plan_empty_with(config(&mesh, &node, &body(&[2, 0, 1]))),
        Step::plan_empty_with(config(&mesh, &node, &body(&[1, 2, 0]))),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // Removing one backend and adding another is one in-place update.
        Step::expect_plan(
            config(
                &mesh,
                &node,
                &format!("{}{}", body(&[2, 0]), backend("serviced.apps.local", "")),
            ),
            &[(ADDR, UPDATE)],
        )
        .check(move |state, api| {
            let data = describe(api, &m, &n);
            let mut backends = vec![
                api_backend("servicea.apps.local"),
                expected_backends[2].clone(),
                api_backend("serviced.apps.local"),
            ];
            backends.sort_by_key(|b| b.to_string());
            assert_api_spec(&data, &expected(Value::Array(backends)));
            assert_eq!(version(&data), 2);
            state.assert_attr(ADDR, "spec.0.backend.#", "3");
        }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

#[test]
fn backend_defaults() {
    let (mesh, node) = (random_name(), random_name());
    let body = |tls: &str| {
        format!(
            "    backend_defaults {{\n      client_policy {{\n        tls {{\n{tls}\n        }}\n      }}\n    }}\n{}",
            listener_dns(8080, "http", "defaults.apps.local")
        )
    };
    let expected = |tls: Value| {
        json!({
            "backendDefaults": {"clientPolicy": {"tls": tls}},
            "listeners": [api_listener(8080, "http")],
            "serviceDiscovery": api_dns("defaults.apps.local"),
        })
    };
    // enforce left out (defaults to true), ports, ACM trust with two CAs.
    let acm = format!(
        r#"          ports = [8443]
          validation {{
            trust {{
              acm {{
                certificate_authority_arns = ["{ACM_CA_ARN_2}", "{ACM_CA_ARN_1}"]
              }}
            }}
          }}"#
    );
    // File trust with SANs and a client certificate from files.
    let file = r#"          enforce = true
          ports   = [443, 8443, 9443]
          certificate {
            file {
              certificate_chain = "/certs/client-chain.pem"
              private_key       = "/certs/client-key.pem"
            }
          }
          validation {
            subject_alternative_names {
              match {
                exact = ["servicea.apps.local", "serviceb.apps.local"]
              }
            }
            trust {
              file {
                certificate_chain = "/certs/ca.pem"
              }
            }
          }"#;
    // A client certificate and trust from SDS, not enforced.
    let sds = r#"          enforce = false
          certificate {
            sds {
              secret_name = "spiffe://apps.local/client"
            }
          }
          validation {
            trust {
              sds {
                secret_name = "spiffe://apps.local/ca"
              }
            }
          }"#;
    let p = "spec.0.backend_defaults.0.client_policy.0.tls.0";
    let (m, n) = (mesh.clone(), node.clone());
    TestCase::new().run(vec![
        Step::apply(config(&mesh, &node, &body(&acm)))
            .check(check_spec(
                &mesh,
                &node,
                expected(json!({
                    "enforce": true,
                    "ports": [8443],
                    "validation": {"trust": {"acm": {"certificateAuthorityArns": [ACM_CA_ARN_1, ACM_CA_ARN_2]}}},
                })),
                1,
            ))
            .check(move |state, _| {
                state.assert_attr(ADDR, &format!("{p}.enforce"), "true");
                state.assert_attr(ADDR, &format!("{p}.ports.#"), "1");
                state.assert_attr(ADDR, &format!("{p}.ports.0"), "8443");
                state.assert_attr(
                    ADDR,
                    &format!("{p}.validation.0.trust.0.acm.0.certificate_authority_arns.#"),
                    "2",
                );
                assert_eq!(state.count(ADDR, &format!("{p}.certificate")), 0);
            }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(file)), &[(ADDR, UPDATE)])
            .check(check_spec(
                &mesh,
                &node,
                expected(json!({
                    "enforce": true,
                    "ports": [443, 8443, 9443],
                    "certificate": {"file": {
                        "certificateChain": "/certs/client-chain.pem",
                        "privateKey": "/certs/client-key.pem",
                    }},
                    "validation": {
                        "subjectAlternativeNames": {"match": {"exact": ["servicea.apps.local", "serviceb.apps.local"]}},
                        "trust": {"file": {"certificateChain": "/certs/ca.pem"}},
                    },
                })),
                2,
            ))
            .check(move |state, _| {
                state.assert_attr(ADDR, &format!("{p}.ports.#"), "3");
                state.assert_attr(
                    ADDR,
                    &format!("{p}.certificate.0.file.0.private_key"),
                    "/certs/client-key.pem",
                );
                state.assert_attr(
                    ADDR,
                    &format!("{p}.validation.0.subject_alternative_names.0.match.0.exact.#"),
                    "2",
                );
            }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(config(&mesh, &node, &body(sds)), &[(ADDR, UPDATE)])
            .check(check_spec(
                &mesh,
                &node,
                expected(json!({
                    "enforce": false,
                    "certificate": {"sds": {"secretName": "spiffe://apps.local/client"}},
                    "validation": {"trust": {"sds": {"secretName": "spiffe://apps.local/ca"}}},
                })),
                3,
            ))
            .check(move |state, api| {
                state.assert_attr(ADDR, &format!("{p}.enforce"), "false");
                assert_eq!(state.count(ADDR, &format!("{p}.ports")), 0);
                let data = describe(api, &m, &n);
                assert!(
                    data["spec"]["backendDefaults"]["clientPolicy"]["tls"]
                        .get("ports")
                        .is_none_or(|p| p.as_array().is_some_and(Vec::is_empty)),
                    "ports were removed in the API: {data:#}"
                );
            }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

#[test]
fn wildcard_san() {
    let (mesh, node) = (random_name(), random_name());
    let body = |enforce: &str| {
        format!(
            r#"
    backend_defaults {{
      client_policy {{
        tls {{
{enforce}
          validation {{
            subject_alternative_names {{
              match {{
                exact = ["*.apps.local"]
              }}
            }}
            trust {{
              file {{
                certificate_chain = "/certs/ca.pem"
              }}
            }}
          }}
        }}
      }}
    }}
{listener}"#,
            listener = listener_dns(8080, "http", "wild.apps.local")
        )
    };
    TestCase::new().run(vec![
        // Enforced by default: the wildcard is refused at plan time, naming the attribute.
        Step::expect_error(
            config(&mesh, &node, &body("")),
            r"subject_alternative_names.*wildcard",
        ),
        Step::expect_error(
            config(&mesh, &node, &body("          enforce = true")),
            r"subject_alternative_names.*wildcard",
        ),
        // Without enforcement the wildcard is accepted and stored as written.
        Step::apply(config(&mesh, &node, &body("          enforce = false"))).check(check_spec(
            &mesh,
            &node,
            json!({
                "backendDefaults": {"clientPolicy": {"tls": {
                    "enforce": false,
                    "validation": {
                        "subjectAlternativeNames": {"match": {"exact": ["*.apps.local"]}},
                        "trust": {"file": {"certificateChain": "/certs/ca.pem"}},
                    },
                }}},
                "listeners": [api_listener(8080, "http")],
                "serviceDiscovery": api_dns("wild.apps.local"),
            }),
            1,
        )),
        // Turning enforcement on for the stored node fails at plan time too.
        Step::expect_error(
            config(&mesh, &node, &body("          enforce = true")),
            r"subject_alternative_names.*wildcard",
        ),
    ]);
}

// === logging ===

#[test]
fn logging() {
    let (mesh, node) = (random_name(), random_name());
    let body = |path: &str, format: &str| {
        format!(
            "    logging {{\n      access_log {{\n        file {{\n          path = \"{path}\"\n{format}\n        }}\n      }}\n    }}\n{}",
            listener_dns(8080, "http", "logging.apps.local")
        )
    };
    let json_format = |entries: &[(&str, &str)]| {
        let items: String = entries
            .iter()
            .map(|(k, v)| {
                format!("            json {{\n              key   = \"{k}\"\n              value = \"{v}\"\n            }}\n")
            })
            .collect();
        format!("          format {{\n{items}          }}")
    };
    let expected = |path: &str, format: Option<Value>| {
        let mut file = json!({"path": path});
        if let Some(f) = format {
            file["format"] = f;
        }
        json!({
            "logging": {"accessLog": {"file": file}},
            "listeners": [api_listener(8080, "http")],
            "serviceDiscovery": api_dns("logging.apps.local"),
        })
    };
    let api_json = |entries: &[(&str, &str)]| {
        json!({"json": entries
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect::<Vec<_>>()})
    };
    // Deliberately not in key order: the list order must survive the round trip.
    let entries1: &[(&str, &str)] = &[
        ("start", "%START_TIME%"),
        ("method", "%REQ(:METHOD)%"),
        ("code", "%RESPONSE_CODE%"),
    ];
    let entries2: &[(&str, &str)] = &[
        ("code", "%RESPONSE_CODE%"),
        ("start", "%START_TIME%"),
        ("method", "%REQ(:METHOD)%"),
    ];
    let text = "[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE%";
    let p = "spec.0.logging.0.access_log.0.file.0";
    TestCase::new().run(vec![
        Step::apply(config(
            &mesh,
            &node,
            &body("/dev/stdout", &json_format(entries1)),
        ))
        .check(check_spec(
            &mesh,
            &node,
            expected("/dev/stdout", Some(api_json(entries1))),
            1,
        ))
        .check(move |state, _| {
            state.assert_attr(ADDR, &format!("{p}.format.0.json.#"), "3");
            for (i, (k, v)) in entries1.iter().enumerate() {
                state.assert_attr(ADDR, &format!("{p}.format.0.json.{i}.key"), *k);
                state.assert_attr(ADDR, &format!("{p}.format.0.json.{i}.value"), *v);
            }
        }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // json entries are an ordered list: reordering is a change.
        Step::expect_plan(
            config(&mesh, &node, &body("/dev/stdout", &json_format(entries2))),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected("/dev/stdout", Some(api_json(entries2))),
            2,
        )),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        Step::expect_plan(
            config(
                &mesh,
                &node,
                &body(
                    "/dev/stdout",
                    &format!("          format {{\n            text = \"{text}\"\n          }}"),
                ),
            ),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected("/dev/stdout", Some(json!({"text": text}))),
            3,
        ))
        .check(move |state, _| {
            state.assert_attr(ADDR, &format!("{p}.format.0.text"), text);
            assert_eq!(state.count(ADDR, &format!("{p}.format.0.json")), 0);
        }),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
        // A path change without a format drops the format in the API.
        Step::expect_plan(
            config(&mesh, &node, &body("/var/log/access.log", "")),
            &[(ADDR, UPDATE)],
        )
        .check(check_spec(
            &mesh,
            &node,
            expected("/var/log/access.log", None),
            4,
        )),
        Step::import_verify(ADDR, &import_id(&mesh, &node)),
    ]);
}

// === validation ===

#[test]
fn validation() {
    let (mesh, node) = (random_name(), random_name());
    let no_spec = format!(
        "{}\nresource \"appmesh_virtual_node\" \"test\" {{\n  name      = \"{node}\"\n  mesh_name = appmesh_mesh.test.id\n}}\n",
        mesh_hcl(&mesh)
    );
    let both_discoveries = format!(
        r#"{listener}
    service_discovery {{
      dns {{
        hostname = "both.apps.local"
      }}
      aws_cloud_map {{
        namespace_name = "apps.local"
        service_name   = "both"
      }}
    }}
"#,
        listener = listener_hcl(8080, "http", "")
    );
    TestCase::new().run(vec![
        // `spec` is required on a virtual node, even if empty.
        Step::expect_error(no_spec, r"(?i)spec.*required|required.*spec"),
        // Service discovery is a union: DNS and Cloud Map exclude each other.
        Step::expect_error(
            config(&mesh, &node, &both_discoveries),
            r"service_discovery.*(dns|aws_cloud_map|awsCloudMap)",
        ),
        Step::expect_error(
            config(&mesh, &node, &listener_dns(8080, "udp", "v.apps.local")),
            r"port_mapping(\[0\]|\.0)?\.protocol .*udp",
        ),
        // Nothing was created along the way.
        Step::apply(config(&mesh, &node, "")).check(check_spec(&mesh, &node, json!({}), 1)),
    ]);
}
