//! `examples/stacks/{staging,production}`, two root modules built from
//! `examples/modules/mesh-stack`, applied side by side against ONE control plane from two
//! working directories (two states), checked through the API, re-planned empty and
//! destroyed one after the other; plus a check that every example is `terraform fmt`-clean
//! and passes `terraform validate`.
//! Run with `cargo test -p appmesh-acceptance --test example_stacks`.
//!
//! `terraform get` installs the local module: `terraform init` would also look the provider
//! up in the registry even though `dev_overrides` provides it, and the registry is not
//! reachable from the tests.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use appmesh_acceptance::{
    assert_state_matches_api, example_subdirs, examples_dir, list_names, paths, weights, Api,
    ControlPlane, ExampleDir, Terraform,
};
use serde_json::{json, Value};

/// One service of a stack.
struct Service {
    name: &'static str,
    hostname: &'static str,
    /// The route kind in the API (`httpRoute`, ...).
    kind: &'static str,
    port: i64,
    /// version → weight
    versions: &'static [(&'static str, i64)],
    /// The route's per-request timeout (idle for TCP), in milliseconds.
    timeout_ms: Option<i64>,
}

/// What one stack should have created in its mesh.
struct Expected {
    mesh: &'static str,
    egress: &'static str,
    services: &'static [Service],
    tags: &'static [(&'static str, &'static str)],
}

const fn service(
    name: &'static str,
    hostname: &'static str,
    kind: &'static str,
    port: i64,
    versions: &'static [(&'static str, i64)],
    timeout_ms: Option<i64>,
) -> Service {
    Service {
        name,
        hostname,
        kind,
        port,
        versions,
        timeout_ms,
    }
}

const STAGING: Expected = Expected {
    mesh: "shop-staging",
    egress: "ALLOW_ALL",
    services: &[
        service(
            "cart",
            "cart.staging.shop.local",
            "httpRoute",
            8080,
            &[("v1", 50), ("v2", 50)],
            None,
        ),
        service(
            "catalog",
            "catalog.staging.shop.local",
            "grpcRoute",
            9090,
            &[("v3", 100)],
            Some(2000),
        ),
    ],
    tags: &[("environment", "staging")],
};

const PRODUCTION: Expected = Expected {
    mesh: "shop-production",
    egress: "DROP_ALL",
    services: &[
        service(
            "cart",
            "cart.prod.shop.local",
            "httpRoute",
            8080,
            &[("v1", 90), ("v2", 10)],
            Some(15000),
        ),
        service(
            "catalog",
            "catalog.prod.shop.local",
            "grpcRoute",
            9090,
            &[("v3", 80), ("v4", 20)],
            None,
        ),
        service(
            "checkout",
            "checkout.prod.shop.local",
            "http2Route",
            8443,
            &[("v7", 100)],
            None,
        ),
        service(
            "sessions",
            "sessions.prod.shop.local",
            "tcpRoute",
            6379,
            &[("v1", 100)],
            Some(300_000),
        ),
    ],
    tags: &[("environment", "production"), ("team", "shop")],
};

fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The mesh of `e` in the API: its egress filter and tags; per service one node per
/// version, a router with the service's listener, one route of the right kind with the
/// version weights, and a virtual service provided by the router; the `services` output.
fn check_stack(ex: &ExampleDir, api: &Api, e: &Expected) {
    let mesh = api.get(&paths::mesh(e.mesh));
    assert_eq!(mesh["spec"]["egressFilter"]["type"], e.egress, "{mesh:#}");
    let tags: BTreeMap<String, String> = e
        .tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mesh_arn = mesh["metadata"]["arn"].as_str().unwrap();
    assert_eq!(api.tags(mesh_arn), tags, "tags of mesh {}", e.mesh);

    let base = paths::mesh(e.mesh);
    let nodes = list_names(
        api,
        &format!("{base}/virtualNodes"),
        "virtualNodes",
        "virtualNodeName",
    );
    let routers = list_names(
        api,
        &format!("{base}/virtualRouters"),
        "virtualRouters",
        "virtualRouterName",
    );
    let services = list_names(
        api,
        &format!("{base}/virtualServices"),
        "virtualServices",
        "virtualServiceName",
    );
    let expected_nodes: BTreeSet<String> = e
        .services
        .iter()
        .flat_map(|s| {
            s.versions
                .iter()
                .map(move |(v, _)| format!("{}-{v}", s.name))
        })
        .collect();
    assert_eq!(nodes, expected_nodes, "virtual nodes of {}", e.mesh);
    assert_eq!(
        routers,
        names(e.services.iter().map(|s| s.name)),
        "virtual routers of {}",
        e.mesh
    );
    assert_eq!(
        services,
        names(e.services.iter().map(|s| s.hostname)),
        "virtual services of {}",
        e.mesh
    );
    let gateways = list_names(
        api,
        &format!("{base}/virtualGateways"),
        "virtualGateways",
        "virtualGatewayName",
    );
    assert!(
        gateways.is_empty(),
        "no gateways in {}: {gateways:?}",
        e.mesh
    );

    let output = ex.output("services");
    for Service {
        name: service,
        hostname,
        kind,
        port,
        versions,
        timeout_ms,
    } in e.services
    {
        let protocol = match *kind {
            "httpRoute" => "http",
            "http2Route" => "http2",
            "grpcRoute" => "grpc",
            _ => "tcp",
        };
        let listener = json!([{"portMapping": {"port": port, "protocol": protocol}}]);
        let router = api.get(&paths::virtual_router(e.mesh, service));
        assert_eq!(router["spec"]["listeners"], listener, "{router:#}");
        for (v, _) in *versions {
            let node = api.get(&paths::virtual_node(e.mesh, &format!("{service}-{v}")));
            assert_eq!(node["spec"]["listeners"], listener, "{node:#}");
            assert_eq!(
                node["spec"]["serviceDiscovery"]["dns"]["hostname"],
                format!("{v}.{hostname}"),
                "{node:#}"
            );
        }

        let routes = list_names(
            api,
            &format!("{base}/virtualRouter/{service}/routes"),
            "routes",
            "routeName",
        );
        assert_eq!(routes, names([*service]), "routes of {}/{service}", e.mesh);
        let route = api.get(&paths::route(e.mesh, service, service));
        let spec = route["spec"].as_object().unwrap();
        assert_eq!(
            spec.keys().map(String::as_str).collect::<Vec<_>>(),
            [*kind],
            "{service}: one {kind}: {route:#}"
        );
        let weights = weights(&route["spec"][kind]["action"]);
        let expected: BTreeMap<String, i64> = versions
            .iter()
            .map(|(v, w)| (format!("{service}-{v}"), *w))
            .collect();
        assert_eq!(weights, expected, "weights of {}/{service}", e.mesh);
        let timeout = timeout_ms.map(|ms| {
            let which = if *kind == "tcpRoute" {
                "idle"
            } else {
                "perRequest"
            };
            json!({which: {"unit": "ms", "value": ms}})
        });
        assert_eq!(
            route["spec"][kind].get("timeout"),
            timeout.as_ref(),
            "timeout of {}/{service}: {route:#}",
            e.mesh
        );
        if *kind == "grpcRoute" {
            assert_eq!(route["spec"][kind]["match"], json!({}), "{route:#}");
        }

        let vs = api.get(&paths::virtual_service(e.mesh, hostname));
        assert_eq!(
            vs["spec"]["provider"]["virtualRouter"]["virtualRouterName"], *service,
            "{vs:#}"
        );

        let out = &output[service];
        let out_weights: BTreeMap<String, i64> = versions
            .iter()
            .map(|(v, w)| ((*v).to_owned(), *w))
            .collect();
        assert_eq!(
            serde_json::from_value::<BTreeMap<String, i64>>(out["weights"].clone()).unwrap(),
            out_weights,
            "services output of {}: {out:#}",
            e.mesh
        );
        assert_eq!(out["virtual_service_arn"], vs["metadata"]["arn"], "{out:#}");
        assert_eq!(out["route_arn"], route["metadata"]["arn"], "{out:#}");
        assert_eq!(
            out["virtual_node_arns"].as_object().unwrap().len(),
            versions.len(),
            "{out:#}"
        );
    }
    assert_eq!(
        ex.output("mesh_arn"),
        Value::String(mesh_arn.to_owned()),
        "mesh_arn output"
    );
}

#[test]
fn staging_and_production_side_by_side() {
    let cp = ControlPlane::start();
    let api = cp.api();
    let staging = ExampleDir::new("stacks/staging", cp.endpoint());
    let production = ExampleDir::new("stacks/production", cp.endpoint());

    for ex in [&staging, &production] {
        ex.get_modules();
        ex.apply();
    }
    assert_eq!(
        names(api.mesh_names().iter().map(String::as_str)),
        names(["shop-production", "shop-staging"]),
        "meshes"
    );
    for (ex, expected) in [(&staging, &STAGING), (&production, &PRODUCTION)] {
        let state = ex.state();
        // mesh + per service: router, route, virtual service, one node per version.
        let count: usize = 1 + expected
            .services
            .iter()
            .map(|s| 3 + s.versions.len())
            .sum::<usize>();
        assert_eq!(
            state.addresses().len(),
            count,
            "{}: {:?}",
            ex.rel(),
            state.addresses()
        );
        assert!(
            state
                .addresses()
                .iter()
                .all(|a| a.starts_with("module.mesh.")),
            "{}: every resource is in the module: {:?}",
            ex.rel(),
            state.addresses()
        );
        assert_state_matches_api(&state, &api);
        check_stack(ex, &api, expected);
    }
    // The service's own tags are added to the module's.
    let checkout = production.state();
    let arn = checkout.expect_attr(
        "module.mesh.appmesh_virtual_node.this[\"checkout-v7\"]",
        "arn",
    );
    assert_eq!(
        api.tags(&arn),
        BTreeMap::from([
            ("environment".to_owned(), "production".to_owned()),
            ("pci".to_owned(), "true".to_owned()),
            ("team".to_owned(), "shop".to_owned()),
        ]),
        "tags of checkout-v7"
    );
    for ex in [&staging, &production] {
        ex.assert_plan_empty();
    }

    // Destroying staging leaves production alone.
    staging.destroy();
    assert_eq!(api.mesh_names(), ["shop-production"]);
    production.assert_plan_empty();
    production.destroy();
    let meshes = api.mesh_names();
    assert!(meshes.is_empty(), "meshes left after destroy: {meshes:?}");
}

/// `terraform fmt -check -recursive` over `examples/`, then `terraform validate` in every
/// scenario, stack and module directory (each in its own copy; modules installed with
/// `terraform get`).
#[test]
fn examples_are_formatted_and_valid() {
    let config_dir = tempfile::tempdir().unwrap();
    let tf = Terraform::new(
        &examples_dir(),
        config_dir.path(),
        &appmesh_acceptance::provider_bin(),
    );
    let out = tf.run(&["fmt", "-check", "-recursive", "-diff", "-no-color"]);
    assert!(
        out.success(),
        "examples/ is not terraform fmt-clean\n{}",
        out.report()
    );

    let mut dirs = Vec::new();
    for parent in ["scenarios", "stacks", "modules"] {
        dirs.extend(example_subdirs(parent));
    }
    for expected in [
        "scenarios/canary",
        "scenarios/canary-envoy",
        "scenarios/ingress-gateway",
        "scenarios/multi-listener",
        "scenarios/mutual-tls",
        "stacks/production",
        "stacks/staging",
        "modules/mesh-stack",
    ] {
        assert!(
            dirs.iter().any(|d| d == expected),
            "{expected} is missing: {dirs:?}"
        );
    }
    for rel in &dirs {
        let source = examples_dir().join(rel);
        if !rel.starts_with("modules/") {
            let main = std::fs::read_to_string(source.join("main.tf"))
                .unwrap_or_else(|e| panic!("{rel}/main.tf: {e}"));
            assert!(
                main.contains("variable \"endpoint\"")
                    && main.contains("endpoint   = var.endpoint"),
                "{rel}: the provider takes its endpoint from var.endpoint"
            );
        }
        let needs_readme = rel.starts_with("modules/")
            || (rel.starts_with("scenarios/") && rel != "scenarios/canary");
        if needs_readme {
            assert!(source.join("README.md").is_file(), "{rel} has a README.md");
        }
        let ex = ExampleDir::without_endpoint(rel);
        ex.get_modules();
        ex.validate();
    }
}
