//! Acceptance tests for `appmesh_mesh`: the terraform CLI against the provider and a fresh
//! control plane per test (`cargo test -p appmesh-acceptance --test mesh`).

#![allow(clippy::unwrap_used)]

use appmesh_acceptance::{
    assert_metadata, assert_tags, assert_top_level_attributes, mesh_hcl, paths, random_name,
    version, Api, State, Step, TestCase, REPLACE, UPDATE,
};
use serde_json::Value;

const ADDR: &str = "appmesh_mesh.test";

/// The mesh `name` with `spec { <body> }` (`body` on lines of its own), then `extra`.
fn config_spec(name: &str, body: &str, extra: &str) -> String {
    format!(
        r#"
resource "appmesh_mesh" "test" {{
  name = "{name}"

  spec {{
{body}
  }}
{extra}}}
"#
    )
}

fn config_egress_filter(name: &str, filter: &str) -> String {
    config_spec(name, &egress_filter(filter), "")
}

fn config_egress_filter_default(name: &str) -> String {
    config_spec(name, "    egress_filter {}", "")
}

fn config_ip_preference(name: &str, preference: &str) -> String {
    config_spec(
        name,
        &format!("    service_discovery {{\n      ip_preference = \"{preference}\"\n    }}"),
        "",
    )
}

/// An `egress_filter` block of `filter` type.
fn egress_filter(filter: &str) -> String {
    format!("    egress_filter {{\n      type = \"{filter}\"\n    }}")
}

/// An `ALLOW_ALL` mesh with `tags = { ... }` holding `tags` (`tags = {}` when empty).
fn config_tags(name: &str, tags: &[(&str, &str)]) -> String {
    let tags: String = tags
        .iter()
        .map(|(k, v)| format!("    {k} = \"{v}\"\n"))
        .collect();
    config_spec(
        name,
        &egress_filter("ALLOW_ALL"),
        &format!("\n  tags = {{\n{tags}  }}\n"),
    )
}

fn describe(api: &Api, name: &str) -> Value {
    api.get(&paths::mesh(name))
}

#[test]
fn basic() {
    let name = random_name();
    let n = name.clone();
    TestCase::new().run(vec![
        Step::apply(mesh_hcl(&name)).check(move |state, api| {
            let data = describe(api, &n);
            assert_top_level_attributes(state, ADDR);
            assert_metadata(state, ADDR, &data);
            state.assert_attr(ADDR, "name", &n);
            state.assert_attr(ADDR, "id", &n);
            assert!(
                state
                    .expect_attr(ADDR, "arn")
                    .starts_with("arn:aws:appmesh:us-east-1:123456789012:mesh/"),
                "arn format"
            );
            assert_eq!(version(&data), 1);
            // No spec in the configuration: the API holds an empty spec (the service's
            // default egress filter is DROP_ALL), and state has no egress filter other
            // than the default.
            let filter = &data["spec"]["egressFilter"]["type"];
            assert!(
                filter.is_null() || filter == "DROP_ALL",
                "egress filter in the API: {filter}"
            );
            assert!(
                state.count(ADDR, "spec") <= 1,
                "spec is a block of at most one"
            );
            if let Some(t) = state.attr(ADDR, "spec.0.egress_filter.0.type") {
                assert_eq!(t, "DROP_ALL");
            }
            state.assert_no_attr(ADDR, "spec.0.service_discovery.0.ip_preference");
            assert_tags(state, api, ADDR, &[]);
        }),
        Step::plan_empty(),
        Step::import_verify(ADDR, &name),
    ]);
}

#[test]
fn import() {
    let name = random_name();
    let config = config_tags(&name, &[("Name", &name), ("Team", "mesh")]);
    TestCase::new().run(vec![
        Step::apply(config),
        Step::import_verify(ADDR, &name),
        Step::import_block(ADDR, &name),
        Step::generate_config("", ADDR, &name).check(|state, api| {
            let data = describe(api, &state.expect_attr(ADDR, "name"));
            assert_metadata(state, ADDR, &data);
            state.assert_attr(ADDR, "spec.0.egress_filter.0.type", "ALLOW_ALL");
        }),
        // Importing an object that does not exist is an error, not an empty resource.
        Step::expect_error(
            format!(
                r#"
resource "appmesh_mesh" "missing" {{
  name = "{name}-missing"
}}

import {{
  to = appmesh_mesh.missing
  id = "{name}-missing"
}}
"#
            ),
            r"(?i)cannot import non-existent remote object|not found",
        ),
    ]);
}

#[test]
fn update() {
    let name = random_name();
    let (n1, n2) = (name.clone(), name.clone());
    TestCase::new().run(vec![
        Step::apply(config_egress_filter(&name, "ALLOW_ALL")).check(move |state, api| {
            let data = describe(api, &n1);
            assert_metadata(state, ADDR, &data);
            state.assert_attr(ADDR, "spec.#", "1");
            state.assert_attr(ADDR, "spec.0.egress_filter.#", "1");
            state.assert_attr(ADDR, "spec.0.egress_filter.0.type", "ALLOW_ALL");
            assert_eq!(data["spec"]["egressFilter"]["type"], "ALLOW_ALL");
            assert_eq!(version(&data), 1);
        }),
        Step::expect_plan(config_egress_filter(&name, "DROP_ALL"), &[(ADDR, UPDATE)]).check(
            move |state, api| {
                let data = describe(api, &n2);
                assert_metadata(state, ADDR, &data);
                state.assert_attr(ADDR, "id", &n2);
                state.assert_attr(ADDR, "spec.0.egress_filter.0.type", "DROP_ALL");
                assert_eq!(data["spec"]["egressFilter"]["type"], "DROP_ALL");
                assert_eq!(version(&data), 2, "an update bumps the version once");
            },
        ),
        // `type` defaults to DROP_ALL, so an empty egress_filter block is the same config.
        Step::plan_empty_with(config_egress_filter_default(&name)),
        Step::import_verify(ADDR, &name),
    ]);
}

#[test]
fn service_discovery() {
    let name = random_name();
    let check = |preference: &'static str, expected_version: i64| {
        let n = name.clone();
        move |state: &State, api: &Api| {
            let data = describe(api, &n);
            assert_metadata(state, ADDR, &data);
            state.assert_attr(ADDR, "spec.0.service_discovery.#", "1");
            state.assert_attr(ADDR, "spec.0.service_discovery.0.ip_preference", preference);
            assert_eq!(data["spec"]["serviceDiscovery"]["ipPreference"], preference);
            assert_eq!(version(&data), expected_version);
        }
    };
    TestCase::new().run(vec![
        Step::apply(config_ip_preference(&name, "IPv6_PREFERRED"))
            .check(check("IPv6_PREFERRED", 1)),
        Step::expect_plan(
            config_ip_preference(&name, "IPv4_PREFERRED"),
            &[(ADDR, UPDATE)],
        )
        .check(check("IPv4_PREFERRED", 2)),
        Step::expect_plan(config_ip_preference(&name, "IPv4_ONLY"), &[(ADDR, UPDATE)])
            .check(check("IPv4_ONLY", 3)),
        Step::expect_plan(config_ip_preference(&name, "IPv6_ONLY"), &[(ADDR, UPDATE)])
            .check(check("IPv6_ONLY", 4)),
        Step::import_verify(ADDR, &name),
    ]);
}

#[test]
fn tags() {
    let name = random_name();
    let n = name.clone();
    let n2 = name.clone();
    TestCase::new().run(vec![
        Step::apply(config_tags(
            &name,
            &[("Name", "mesh"), ("Environment", "test")],
        ))
        .check(|state, api| {
            assert_tags(
                state,
                api,
                ADDR,
                &[("Environment", "test"), ("Name", "mesh")],
            );
        }),
        // Add, change and remove a tag at once: one in-place update, through the tagging
        // API only (the mesh's spec and version are untouched).
        Step::expect_plan(
            config_tags(&name, &[("Name", "mesh-2"), ("Owner", "platform")]),
            &[(ADDR, UPDATE)],
        )
        .check(move |state, api| {
            assert_tags(
                state,
                api,
                ADDR,
                &[("Name", "mesh-2"), ("Owner", "platform")],
            );
            let data = describe(api, &n);
            assert_eq!(
                version(&data),
                1,
                "a tag change must not update the mesh spec"
            );
            assert_eq!(data["spec"]["egressFilter"]["type"], "ALLOW_ALL");
        }),
        Step::import_verify(ADDR, &name),
        Step::expect_plan(config_tags(&name, &[]), &[(ADDR, UPDATE)])
            .check(|state, api| assert_tags(state, api, ADDR, &[])),
        // `tags = {}` and no `tags` mean the same (as with `aws_appmesh_*`): dropping the
        // argument changes nothing.
        Step::plan_empty_with(config_egress_filter(&name, "ALLOW_ALL")).check(move |state, api| {
            assert_tags(state, api, ADDR, &[]);
            assert_eq!(version(&describe(api, &n2)), 1);
        }),
    ]);
}

#[test]
fn replace() {
    let (old, new) = (random_name(), random_name());
    let (o, n) = (old.clone(), new.clone());
    TestCase::new().run(vec![
        Step::apply(config_egress_filter(&old, "ALLOW_ALL")),
        Step::expect_plan(config_egress_filter(&new, "ALLOW_ALL"), &[(ADDR, REPLACE)]).check(
            move |state, api| {
                assert!(api.try_get(&paths::mesh(&o)).is_none(), "old mesh deleted");
                let data = describe(api, &n);
                assert_metadata(state, ADDR, &data);
                assert_eq!(data["spec"]["egressFilter"]["type"], "ALLOW_ALL");
                assert_eq!(api.mesh_names(), vec![n.clone()]);
            },
        ),
    ]);
}

#[test]
fn disappears() {
    let name = random_name();
    let n = name.clone();
    TestCase::new().run(vec![
        Step::apply(config_egress_filter(&name, "ALLOW_ALL")),
        Step::disappear(ADDR, &paths::mesh(&name)),
        // The next apply creates it again.
        Step::apply(config_egress_filter(&name, "ALLOW_ALL")).check(move |state, api| {
            let data = describe(api, &n);
            assert_metadata(state, ADDR, &data);
            assert_eq!(version(&data), 1);
        }),
    ]);
}

#[test]
fn validation() {
    let name = random_name();
    let long = "m".repeat(256);
    TestCase::new().run(vec![
        Step::expect_error(
            config_egress_filter(&name, "BLOCK_ALL"),
            r"spec\.egress_filter(\[0\]|\.0)?\.type .*BLOCK_ALL",
        ),
        Step::expect_error(
            config_ip_preference(&name, "IPv5_ONLY"),
            r"spec\.service_discovery(\[0\]|\.0)?\.ip_preference .*IPv5_ONLY",
        ),
        Step::expect_error(mesh_hcl(&long), r"(?i)name .*255"),
    ]);
}
