//! The scenarios under `examples/scenarios/` beyond the canary (see `scenario.rs`), each
//! applied as a user would against a fresh control plane: the directory is copied, applied
//! with `-var endpoint=...`, checked against the API (state = API for every resource, plus
//! what the scenario is about), re-planned empty and destroyed, leaving no meshes.
//! Run with `cargo test -p appmesh-acceptance --test example_scenarios`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use appmesh_acceptance::{
    assert_same_spec, assert_state_matches_api, paths, version, Action, Api, ControlPlane,
    ExampleDir, Plan,
};
use serde_json::{json, Value};

/// Copies `examples/scenarios/<name>`, applies it, checks that every resource in state is
/// the API's and that exactly `addresses` are managed, runs `check`, re-plans empty, then
/// destroys it and checks the control plane holds no meshes.
fn run_scenario(name: &str, addresses: &[&str], check: impl FnOnce(&ExampleDir, &Api)) {
    let cp = ControlPlane::start();
    let api = cp.api();
    let ex = ExampleDir::new(&format!("scenarios/{name}"), cp.endpoint());

    ex.apply();
    let state = ex.state();
    assert_eq!(state.addresses(), addresses, "{name}: resources in state");
    assert_state_matches_api(&state, &api);
    ex.assert_plan_empty();

    check(&ex, &api);

    ex.destroy();
    let meshes = api.mesh_names();
    assert!(
        meshes.is_empty(),
        "{name}: meshes left in the control plane after destroy: {meshes:?}"
    );
}

/// `(port, protocol)` of each listener of an API spec, in order.
fn listeners(spec: &Value) -> Vec<(i64, String)> {
    spec["listeners"]
        .as_array()
        .unwrap_or_else(|| panic!("no listeners in {spec:#}"))
        .iter()
        .map(|l| {
            (
                l["portMapping"]["port"].as_i64().unwrap(),
                l["portMapping"]["protocol"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// === ingress-gateway ===

const INGRESS_ADDRESSES: &[&str] = &[
    "appmesh_gateway_route.catalog",
    "appmesh_gateway_route.orders",
    "appmesh_gateway_route.orders_h2",
    "appmesh_gateway_route.orders_v2",
    "appmesh_gateway_route.search",
    "appmesh_mesh.shop",
    "appmesh_route.catalog",
    "appmesh_virtual_gateway.ingress",
    "appmesh_virtual_node.catalog",
    "appmesh_virtual_node.orders",
    "appmesh_virtual_router.catalog",
    "appmesh_virtual_service.catalog",
    "appmesh_virtual_service.orders",
];

fn target(service: &str) -> Value {
    json!({"virtualService": {"virtualServiceName": service}})
}

#[test]
fn ingress_gateway() {
    run_scenario("ingress-gateway", INGRESS_ADDRESSES, |ex, api| {
        assert_eq!(api.mesh_names(), ["shop"]);

        // Two listeners: HTTP with a health check, HTTP/2.
        let gw = api.get(&paths::virtual_gateway("shop", "ingress"));
        assert_eq!(
            listeners(&gw["spec"]),
            [(8080, "http".to_owned()), (8081, "http2".to_owned())],
            "{gw:#}"
        );
        assert_eq!(
            gw["spec"]["listeners"][0]["healthCheck"]["path"], "/healthz",
            "{gw:#}"
        );

        // The gateway routes as stored: matches (with the listener port each needs, since
        // the gateway has two listeners), rewrites and priorities.
        let catalog = target("catalog.shop.local");
        let orders = target("orders.shop.local");
        let expected = [
            (
                "catalog",
                json!({"priority": 100, "httpRoute": {
                    "match": {"prefix": "/catalog/", "port": 8080},
                    "action": {"target": catalog, "rewrite": {
                        "prefix": {"value": "/"},
                        "hostname": {"defaultTargetHostname": "DISABLED"}}}}}),
            ),
            (
                "search",
                json!({"priority": 10, "httpRoute": {
                    "match": {"path": {"exact": "/search"}, "port": 8080,
                              "queryParameters": [{"name": "q"}]},
                    "action": {"target": catalog, "rewrite": {
                        "path": {"exact": "/items/search"}}}}}),
            ),
            (
                "orders",
                json!({"priority": 100, "httpRoute": {
                    "match": {"prefix": "/orders/", "port": 8080},
                    "action": {"target": orders, "rewrite": {
                        "prefix": {"defaultPrefix": "ENABLED"}}}}}),
            ),
            (
                "orders-v2",
                json!({"priority": 50, "httpRoute": {
                    "match": {"prefix": "/orders/", "port": 8080, "headers": [
                        {"name": "x-api-version", "invert": false, "match": {"exact": "2"}}]},
                    "action": {"target": orders, "rewrite": {
                        "prefix": {"value": "/v2/"}}}}}),
            ),
            (
                "orders-h2",
                json!({"priority": 100, "http2Route": {
                    "match": {"prefix": "/", "port": 8081,
                              "hostname": {"exact": "api.shop.example.com"}},
                    "action": {"target": orders, "rewrite": {
                        "hostname": {"defaultTargetHostname": "ENABLED"}}}}}),
            ),
        ];
        for (name, spec) in &expected {
            let gr = api.get(&paths::gateway_route("shop", "ingress", name));
            assert_same_spec(
                &format!("gateway route {name}: the API's spec differs from the example"),
                &gr["spec"],
                spec,
            );
        }

        // One service behind a router, one behind a node.
        let vs = api.get(&paths::virtual_service("shop", "catalog.shop.local"));
        assert_eq!(
            vs["spec"]["provider"]["virtualRouter"]["virtualRouterName"], "catalog",
            "{vs:#}"
        );
        let vs = api.get(&paths::virtual_service("shop", "orders.shop.local"));
        assert_eq!(
            vs["spec"]["provider"]["virtualNode"]["virtualNodeName"], "orders",
            "{vs:#}"
        );

        // The outputs show the same.
        assert_eq!(
            ex.output("gateway_listeners"),
            json!({"8080": "http", "8081": "http2"})
        );
        let routes = ex.output("gateway_routes");
        let summary: BTreeMap<String, (i64, i64, String)> = routes
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    (
                        r["priority"].as_i64().unwrap(),
                        r["port"].as_i64().unwrap(),
                        r["service"].as_str().unwrap().to_owned(),
                    ),
                )
            })
            .collect();
        let row = |p: i64, port: i64, s: &str| (p, port, s.to_owned());
        assert_eq!(
            summary,
            BTreeMap::from([
                ("catalog".to_owned(), row(100, 8080, "catalog.shop.local")),
                ("orders".to_owned(), row(100, 8080, "orders.shop.local")),
                ("orders-h2".to_owned(), row(100, 8081, "orders.shop.local")),
                ("orders-v2".to_owned(), row(50, 8080, "orders.shop.local")),
                ("search".to_owned(), row(10, 8080, "catalog.shop.local")),
            ]),
            "gateway_routes output: {routes:#}"
        );
        assert_eq!(routes["catalog"]["rewrite"]["prefix"][0]["value"], "/");
        assert_eq!(
            routes["search"]["rewrite"]["path"][0]["exact"],
            "/items/search"
        );
    });
}

// === mutual-tls ===

const MTLS_ADDRESSES: &[&str] = &[
    "appmesh_mesh.payments",
    "appmesh_virtual_node.checkout",
    "appmesh_virtual_node.ledger",
    "appmesh_virtual_service.checkout",
    "appmesh_virtual_service.ledger",
];

#[test]
fn mutual_tls() {
    run_scenario("mutual-tls", MTLS_ADDRESSES, |ex, api| {
        // The server requires TLS and validates client certificates.
        let ledger = api.get(&paths::virtual_node("payments", "ledger"));
        assert_eq!(listeners(&ledger["spec"]), [(8443, "http".to_owned())]);
        assert_same_spec(
            "ledger: listener TLS as stored",
            &ledger["spec"]["listeners"][0]["tls"],
            &json!({
                "mode": "STRICT",
                "certificate": {"file": {
                    "certificateChain": "/etc/certs/ledger/cert_chain.pem",
                    "privateKey": "/etc/certs/ledger/key.pem"}},
                "validation": {
                    "trust": {"file": {"certificateChain": "/etc/certs/ca.pem"}},
                    "subjectAlternativeNames": {"match": {"exact": ["checkout.payments.local"]}}}
            }),
        );

        // The client presents its certificate to the ledger and checks the ledger's.
        let checkout = api.get(&paths::virtual_node("payments", "checkout"));
        assert_same_spec(
            "checkout: backends as stored",
            &checkout["spec"]["backends"],
            &json!([{"virtualService": {
                "virtualServiceName": "ledger.payments.local",
                "clientPolicy": {"tls": {
                    "enforce": true,
                    "ports": [8443],
                    "certificate": {"file": {
                        "certificateChain": "/etc/certs/checkout/cert_chain.pem",
                        "privateKey": "/etc/certs/checkout/key.pem"}},
                    "validation": {
                        "trust": {"file": {"certificateChain": "/etc/certs/ca.pem"}},
                        "subjectAlternativeNames": {"match": {"exact": ["ledger.payments.local"]}}}
                }}
            }}]),
        );
        assert!(
            checkout["spec"]["listeners"][0].get("tls").is_none(),
            "the client's own listener has no TLS: {checkout:#}"
        );

        assert_eq!(
            ex.output("server_tls"),
            json!({"mode": "STRICT", "subject_alternative_names": ["checkout.payments.local"]})
        );
        assert_eq!(
            ex.output("client_tls"),
            json!({"ledger.payments.local": {
                "enforce": true,
                "ports": [8443],
                "certificate_chain": "/etc/certs/checkout/cert_chain.pem",
                "subject_alternative_names": ["ledger.payments.local"]
            }})
        );
    });
}

// === multi-listener ===

const MULTI_ADDRESSES: &[&str] = &[
    "appmesh_mesh.warehouse",
    "appmesh_route.grpc",
    "appmesh_route.rest",
    "appmesh_route.stream",
    "appmesh_virtual_node.inventory[\"v1\"]",
    "appmesh_virtual_node.inventory[\"v2\"]",
    "appmesh_virtual_router.inventory",
    "appmesh_virtual_service.inventory",
];

/// route name → route kind in the API, listener port.
const MULTI_ROUTES: &[(&str, &str, i64)] = &[
    ("inventory-rest", "httpRoute", 8080),
    ("inventory-grpc", "grpcRoute", 9090),
    ("inventory-stream", "tcpRoute", 7000),
];

/// A weighted target: (virtual node, port, weight).
type Target = (String, i64, i64);

/// Route name → (match port, targets sorted by node).
type Routes = BTreeMap<String, (i64, Vec<Target>)>;

/// Per route: its match port and its targets.
fn api_routes(api: &Api) -> Routes {
    MULTI_ROUTES
        .iter()
        .map(|(name, kind, _)| {
            let route = api.get(&paths::route("warehouse", "inventory", name));
            let r = &route["spec"][kind];
            assert!(r.is_object(), "{name} is a {kind}: {route:#}");
            let mut targets: Vec<Target> = r["action"]["weightedTargets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["virtualNode"].as_str().unwrap().to_owned(),
                        t["port"]
                            .as_i64()
                            .unwrap_or_else(|| panic!("{name}: target without port: {t}")),
                        t["weight"].as_i64().unwrap(),
                    )
                })
                .collect();
            targets.sort();
            let port = r["match"]["port"]
                .as_i64()
                .unwrap_or_else(|| panic!("{name}: no match port: {route:#}"));
            ((*name).to_owned(), (port, targets))
        })
        .collect()
}

fn expected_routes(v1: i64, v2: i64) -> Routes {
    MULTI_ROUTES
        .iter()
        .map(|(name, _, port)| {
            (
                (*name).to_owned(),
                (
                    *port,
                    vec![
                        ("inventory-v1".to_owned(), *port, v1),
                        ("inventory-v2".to_owned(), *port, v2),
                    ],
                ),
            )
        })
        .collect()
}

#[test]
fn multi_listener() {
    run_scenario("multi-listener", MULTI_ADDRESSES, |ex, api| {
        let three = |mut l: Vec<(i64, String)>| {
            l.sort();
            l
        };
        let ports = vec![
            (7000, "tcp".to_owned()),
            (8080, "http".to_owned()),
            (9090, "grpc".to_owned()),
        ];
        let router = api.get(&paths::virtual_router("warehouse", "inventory"));
        assert_eq!(three(listeners(&router["spec"])), ports, "{router:#}");
        for v in ["v1", "v2"] {
            let node = api.get(&paths::virtual_node("warehouse", &format!("inventory-{v}")));
            assert_eq!(three(listeners(&node["spec"])), ports, "{node:#}");
            let l = &node["spec"]["listeners"];
            assert_eq!(
                l[0]["connectionPool"],
                json!({"http": {"maxConnections": 100, "maxPendingRequests": 50}})
            );
            assert_eq!(
                l[1]["connectionPool"],
                json!({"grpc": {"maxRequests": 200}})
            );
            assert_eq!(
                l[2]["timeout"],
                json!({"tcp": {"idle": {"unit": "s", "value": 600}}})
            );
        }

        // Each route matches one router port and sends to the same port on the nodes.
        assert_eq!(
            api_routes(api),
            expected_routes(90, 10),
            "routes in the API"
        );
        let grpc = api.get(&paths::route("warehouse", "inventory", "inventory-grpc"));
        assert_eq!(
            grpc["spec"]["grpcRoute"]["match"]["serviceName"],
            "warehouse.inventory.v1.Inventory"
        );
        let out = ex.output("routes");
        assert_eq!(out["inventory-stream"]["port"], 7000, "{out:#}");
        assert_eq!(
            out["inventory-grpc"]["targets"]["inventory-v2"],
            json!({"port": 9090, "weight": 10}),
            "{out:#}"
        );
        assert_eq!(
            ex.output("router_listeners"),
            json!({"7000": "tcp", "8080": "http", "9090": "grpc"})
        );

        // Moving every port to v2 is an in-place update of the three routes only.
        let weights = "weights={v1=0,v2=100}";
        ex.ok_with_vars(&["plan", "-out=shift.tfplan", "-var", weights]);
        let plan = Plan::from_show_json(ex.terraform().show_json(Some("shift.tfplan")));
        let update = vec![Action::Update];
        assert_eq!(
            plan.effective_actions(),
            BTreeMap::from([
                ("appmesh_route.grpc".to_owned(), update.clone()),
                ("appmesh_route.rest".to_owned(), update.clone()),
                ("appmesh_route.stream".to_owned(), update),
            ]),
            "shifting the weights"
        );
        ex.terraform().apply(Some("shift.tfplan"));
        assert_eq!(
            api_routes(api),
            expected_routes(0, 100),
            "routes after the shift"
        );
        for (name, _, _) in MULTI_ROUTES {
            let route = api.get(&paths::route("warehouse", "inventory", name));
            assert_eq!(version(&route), 2, "{name} was updated once");
        }
        assert_state_matches_api(&ex.state(), api);
        let out = ex.run_with_vars(&["plan", "-detailed-exitcode", "-var", weights]);
        assert_eq!(out.code, Some(0), "plan after the shift\n{}", out.report());
    });
}
