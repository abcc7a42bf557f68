//! Acceptance-test harness for `terraform-provider-appmesh`.
//!
//! The tests in `acceptance/tests/` drive the real `terraform` CLI against the provider
//! binary (through a `dev_overrides` CLI configuration, so no `terraform init` and no
//! registry) and a fresh `appmesh-control-plane` started for each test on `127.0.0.1:0`.
//! A test reads like `resource.Test` in the Go plugin-testing framework: a [`TestCase`]
//! runs a list of [`Step`]s and then destroys everything and checks that the control
//! plane holds no meshes any more.
//!
//! ```no_run
//! use appmesh_acceptance::{random_name, Step, TestCase, UPDATE};
//!
//! let mesh = random_name();
//! let config = |filter: &str| {
//!     format!(r#"resource "appmesh_mesh" "test" {{
//!   name = "{mesh}"
//!   spec {{
//!     egress_filter {{
//!       type = "{filter}"
//!     }}
//!   }}
//! }}"#)
//! };
//! TestCase::new().run(vec![
//!     Step::apply(config("ALLOW_ALL"))
//!         .check(|state, _api| state.assert_attr("appmesh_mesh.test", "spec.0.egress_filter.0.type", "ALLOW_ALL")),
//!     Step::expect_plan(config("DROP_ALL"), &[("appmesh_mesh.test", UPDATE)]),
//!     Step::import_verify("appmesh_mesh.test", &mesh),
//! ]);
//! ```
//!
//! Running: build both binaries first
//! (`cargo build -p terraform-provider-appmesh -p appmesh-control-plane`), then
//! `cargo test -p appmesh-acceptance`. Environment knobs:
//!
//! | variable | meaning |
//! |---|---|
//! | `TERRAFORM_PROVIDER_APPMESH_BIN` | provider binary (default `<workspace>/target/debug/terraform-provider-appmesh`) |
//! | `APPMESH_CONTROL_PLANE_BIN` | control-plane binary (default `<workspace>/target/debug/appmesh-control-plane`) |
//! | `TF_ACC_TERRAFORM_PATH` | the `terraform` executable (default: `terraform` on `PATH`) |
//! | `APPMESH_ACC_KEEP` | set to `1` to keep each test's working directory for inspection |
//! | `APPMESH_ACC_TIMEOUT_SECS` | per-command time limit for terraform (default 300) |

pub mod api;
pub mod case;
pub mod checks;
pub mod control_plane;
pub mod example_dir;
pub mod fixtures;
pub mod spec;
pub mod state;
pub mod terraform;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use api::{paths, Api, ApiError};
pub use case::{
    assert_same_attributes, import_block, unwrap_diagnostics, Step, TestCase, CREATE, DELETE,
    REPLACE, UPDATE,
};
pub use checks::{
    api_path, assert_metadata, assert_tags, import_id, parse_rfc3339, resource_type, version,
    weights, ACCOUNT_ID, REGION,
};
pub use control_plane::ControlPlane;
pub use example_dir::{copy_dir, example_subdirs, examples_dir, list_all, list_names, ExampleDir};
pub use fixtures::{
    api_listener, assert_top_level_attributes, bare_node_hcl, listener_hcl, listeners_hcl,
    mesh_child_block_hcl, mesh_child_hcl, mesh_hcl, node_service_hcl, router_hcl, tags_hcl,
    top_level_attributes, ACM_CA_ARN_1, ACM_CA_ARN_2,
};
pub use spec::{assert_same_spec, assert_state_matches_api, block_to_api, state_spec};
pub use state::{flatten, Action, Plan, PlannedChange, State};
pub use terraform::{Outcome, Terraform};

/// The provider's source address, as written in `required_providers`.
pub const PROVIDER_SOURCE: &str = "appmesh-community/appmesh";

/// The access key the per-test control planes know (account [`checks::ACCOUNT_ID`]) and the
/// generated provider blocks sign with. The examples' keys (`local`, `test`) are known too.
pub const ACCESS_KEY: &str = "test";
/// Its secret.
pub const SECRET_KEY: &str = "test";
/// A second account the control planes know, for shared meshes.
pub const OTHER_ACCOUNT_ID: &str = "210987654321";
/// The second account's access key.
pub const OTHER_ACCESS_KEY: &str = "AKIDCONSUMER";
/// Its secret.
pub const OTHER_SECRET_KEY: &str = "consumer-secret";

/// The `terraform` + `provider "appmesh"` blocks every configuration starts with.
pub fn provider_config(endpoint: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    appmesh = {{
      source = "{PROVIDER_SOURCE}"
    }}
  }}
}}

provider "appmesh" {{
  endpoint   = "{endpoint}"
  region     = "{REGION}"
  access_key = "test"
  secret_key = "test"
}}
"#
    )
}

/// The Cargo workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the acceptance crate lives inside the workspace")
        .to_path_buf()
}

/// `acceptance/testdata/<name>`: the HCL (and state) of the tests that keep their
/// configurations as files.
pub fn testdata(name: &str) -> PathBuf {
    workspace_root().join("acceptance/testdata").join(name)
}

/// The configuration of one step, `acceptance/testdata/<case>/steps/<file>`.
pub fn step_config(case: &str, file: &str) -> String {
    let path = testdata(case).join("steps").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The provider binary: `$TERRAFORM_PROVIDER_APPMESH_BIN` or the workspace's debug build.
///
/// Panics with the build command to run when the file does not exist.
pub fn provider_bin() -> PathBuf {
    locate_bin(
        "TERRAFORM_PROVIDER_APPMESH_BIN",
        "terraform-provider-appmesh",
    )
}

/// The control-plane binary: `$APPMESH_CONTROL_PLANE_BIN` or the workspace's debug build.
///
/// Panics with the build command to run when the file does not exist.
pub fn control_plane_bin() -> PathBuf {
    locate_bin("APPMESH_CONTROL_PLANE_BIN", "appmesh-control-plane")
}

fn locate_bin(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("debug").join(name));
    assert!(
        path.is_file(),
        "{name} not found at {}: run `cargo build -p terraform-provider-appmesh -p appmesh-control-plane` \
         first (or point {var} at the binary)",
        path.display()
    );
    path
}

/// A random resource name such as `tf-acc-3f9c01ab`, unique within and across test runs.
///
/// Valid for every App Mesh name (letters, digits and `-`), including virtual routers.
pub fn random_name() -> String {
    random_name_with("tf-acc")
}

/// A random name with the given prefix, e.g. `random_name_with("serviceB")`.
pub fn random_name_with(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS once per process and perturbed per instance, so
    // mixing in a counter and the clock is enough for test names without a rand crate.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{prefix}-{:08x}", hasher.finish() as u32)
}

/// Whether working directories should be kept after a test (`APPMESH_ACC_KEEP=1`).
pub(crate) fn keep_dirs() -> bool {
    std::env::var("APPMESH_ACC_KEEP").is_ok_and(|v| v == "1" || v == "true")
}
