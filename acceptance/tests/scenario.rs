//! The service guide's walkthrough as Terraform: `examples/scenarios/canary/main.tf`
//! (mesh `apps`, serviceA calling `serviceb.apps.local`, which a virtual router splits
//! between serviceB and serviceBv2, behind an ingress gateway) applied against a fresh
//! control plane, then the canary completed by changing only `var.weights`.
//! Run with `cargo test -p appmesh-acceptance --test scenario`.
//!
//! The example carries its own `terraform` and `provider` blocks and takes the endpoint as
//! `var.endpoint`, so the test copies it into the case's working directory in place of the
//! harness's `provider.tf` and passes `-var` to every command.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use appmesh_acceptance::{
    assert_metadata, paths, workspace_root, Action, Api, Outcome, State, TestCase,
};
use serde_json::Value;

const ROUTE: &str = "appmesh_route.serviceb";

/// Every resource the scenario manages.
const ADDRESSES: &[&str] = &[
    "appmesh_gateway_route.servicea",
    "appmesh_mesh.apps",
    "appmesh_route.serviceb",
    "appmesh_virtual_gateway.ingress",
    "appmesh_virtual_node.servicea",
    "appmesh_virtual_node.serviceb[\"serviceB\"]",
    "appmesh_virtual_node.serviceb[\"serviceBv2\"]",
    "appmesh_virtual_router.serviceb",
    "appmesh_virtual_service.servicea",
    "appmesh_virtual_service.serviceb",
];

/// Runs terraform commands in a case's working directory with the scenario's variables.
struct Scenario {
    case: TestCase,
    endpoint_var: String,
}

impl Scenario {
    /// A fresh case whose configuration is the canary example.
    fn new() -> Scenario {
        let case = TestCase::new();
        let source = workspace_root().join("examples/scenarios/canary/main.tf");
        let main = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
        // The example declares the provider itself: it replaces the harness's provider.tf.
        case.set_provider_config(&main);
        let endpoint_var = format!("endpoint={}", case.endpoint());
        Scenario { case, endpoint_var }
    }

    fn api(&self) -> &Api {
        self.case.api()
    }

    /// `terraform ARGS -var endpoint=... [-var weights=...]`.
    fn run(&self, args: &[&str], weights: Option<(u32, u32)>) -> Outcome {
        let weights_var =
            weights.map(|(b, b2)| format!("weights={{\"serviceB\"={b},\"serviceBv2\"={b2}}}"));
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-input=false", "-no-color", "-var", &self.endpoint_var]);
        if let Some(w) = &weights_var {
            all.extend(["-var", w.as_str()]);
        }
        self.case.terraform().run(&all)
    }

    fn ok(&self, args: &[&str], weights: Option<(u32, u32)>) -> Outcome {
        let out = self.run(args, weights);
        assert!(out.success(), "terraform command failed\n{}", out.report());
        out
    }

    /// `terraform plan -detailed-exitcode` must report no changes.
    fn assert_plan_empty(&self, weights: Option<(u32, u32)>) {
        let out = self.run(&["plan", "-detailed-exitcode"], weights);
        assert_eq!(
            out.code,
            Some(0),
            "the plan should be empty\n{}",
            out.report()
        );
    }

    fn state(&self) -> State {
        self.case.state()
    }
}

/// The route's weights in the API, by virtual node.
fn api_weights(api: &Api) -> BTreeMap<String, i64> {
    let route = api.get(&paths::route("apps", "serviceB", "serviceB-route"));
    let action = &route["spec"]["http2Route"]["action"];
    for t in action["weightedTargets"].as_array().into_iter().flatten() {
        assert!(
            t.get("port").is_none(),
            "no target port was configured: {t}"
        );
    }
    appmesh_acceptance::weights(action)
}

fn weights(b: i64, b2: i64) -> BTreeMap<String, i64> {
    BTreeMap::from([("serviceB".to_owned(), b), ("serviceBv2".to_owned(), b2)])
}

/// The `route_weights` output.
fn output_weights(s: &Scenario) -> BTreeMap<String, i64> {
    let out = s.case.terraform().ok(&["output", "-json", "route_weights"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, w)| (k.clone(), w.as_i64().unwrap()))
        .collect()
}

fn version_of(api: &Api, path: &str) -> i64 {
    appmesh_acceptance::version(&api.get(path))
}

#[test]
fn canary() {
    let s = Scenario::new();

    // 1. The walkthrough at 75/25 (the variable's default).
    s.ok(&["apply", "-auto-approve"], None);
    let state = s.state();
    assert_eq!(state.addresses(), ADDRESSES, "resources in state");
    assert_eq!(s.api().mesh_names(), ["apps"]);
    assert_eq!(api_weights(s.api()), weights(75, 25), "weights in the API");
    assert_eq!(output_weights(&s), weights(75, 25), "route_weights output");
    let route_path = paths::route("apps", "serviceB", "serviceB-route");
    assert_metadata(&state, ROUTE, &s.api().get(&route_path));
    // The virtual service is served by the router; serviceA calls it as a backend.
    let vs = s
        .api()
        .get(&paths::virtual_service("apps", "serviceb.apps.local"));
    assert_eq!(
        vs["spec"]["provider"]["virtualRouter"]["virtualRouterName"], "serviceB",
        "{vs:#}"
    );
    let node_a = s.api().get(&paths::virtual_node("apps", "serviceA"));
    assert_eq!(
        node_a["spec"]["backends"][0]["virtualService"]["virtualServiceName"],
        "serviceb.apps.local",
        "{node_a:#}"
    );
    s.assert_plan_empty(None);
    s.assert_plan_empty(Some((75, 25)));

    // 2. Shift all traffic to serviceBv2: exactly one in-place update, of the route.
    let others: Vec<(String, i64)> = ADDRESSES
        .iter()
        .filter(|a| **a != ROUTE)
        .map(|a| {
            let path = appmesh_acceptance::api_path(&state, a);
            (path.clone(), version_of(s.api(), &path))
        })
        .collect();
    s.ok(&["plan", "-out=shift.tfplan"], Some((0, 100)));
    let plan = s.case.terraform().show_json(Some("shift.tfplan"));
    let plan = appmesh_acceptance::Plan::from_show_json(plan);
    assert_eq!(
        plan.effective_actions(),
        BTreeMap::from([(ROUTE.to_owned(), vec![Action::Update])]),
        "the weight shift should update only {ROUTE} in place"
    );
    s.case.terraform().ok(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "shift.tfplan",
    ]);
    assert_eq!(api_weights(s.api()), weights(0, 100), "weights in the API");
    assert_eq!(output_weights(&s), weights(0, 100), "route_weights output");
    assert_eq!(
        version_of(s.api(), &route_path),
        2,
        "the route was updated once"
    );
    for (path, before) in &others {
        assert_eq!(
            version_of(s.api(), path),
            *before,
            "{path} must not change when only the weights do"
        );
    }
    let state = s.state();
    assert_metadata(&state, ROUTE, &s.api().get(&route_path));
    s.assert_plan_empty(Some((0, 100)));

    // 3. Tear down: no errors, nothing left.
    s.ok(&["destroy", "-auto-approve"], Some((0, 100)));
    assert!(
        s.state().addresses().is_empty(),
        "resources left in state: {:?}",
        s.state().addresses()
    );
    assert!(
        s.api().mesh_names().is_empty(),
        "meshes left in the control plane: {:?}",
        s.api().mesh_names()
    );
}
