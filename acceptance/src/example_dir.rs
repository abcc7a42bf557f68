//! Running a directory of `examples/` as a user would: the example carries its own
//! `terraform` and `provider "appmesh"` blocks and takes the endpoint as `var.endpoint`, so
//! nothing is generated. [`ExampleDir`] copies the whole `examples/` tree into a temporary
//! directory (relative module sources such as `../../modules/mesh-stack` keep resolving)
//! and binds the terraform CLI to one directory of that copy; commands that take variables
//! get `-var endpoint=...` of the control plane under test.
//!
//! ```no_run
//! use appmesh_acceptance::{ControlPlane, ExampleDir};
//!
//! let cp = ControlPlane::start();
//! let ex = ExampleDir::new("scenarios/mutual-tls", cp.endpoint());
//! ex.apply();
//! ex.assert_plan_empty();
//! ex.destroy();
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use crate::api::Api;
use crate::state::State;
use crate::terraform::{Outcome, Terraform};

/// The `examples/` directory of the workspace.
pub fn examples_dir() -> PathBuf {
    crate::workspace_root().join("examples")
}

/// Copies the directory `src` into `dst` (created), recursively, leaving out what a
/// terraform run leaves behind (`.terraform/`, state files, lock files, plan files).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("create {}: {e}", dst.display()));
    let entries = std::fs::read_dir(src).unwrap_or_else(|e| panic!("list {}: {e}", src.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("list {}: {e}", src.display()));
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let skip = name_str == ".terraform"
            || name_str == ".terraform.lock.hcl"
            || name_str.contains(".tfstate")
            || name_str.ends_with(".tfplan");
        if skip {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        if kind.is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
        }
    }
}

/// The directories under `examples/<parent>` (e.g. `scenarios`), as `parent/name`, sorted.
pub fn example_subdirs(parent: &str) -> Vec<String> {
    let dir = examples_dir().join(parent);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type()
                .ok()?
                .is_dir()
                .then(|| format!("{parent}/{}", e.file_name().to_string_lossy()))
        })
        .collect();
    names.sort();
    names
}

/// One directory of a private copy of `examples/`, with a terraform CLI bound to it.
pub struct ExampleDir {
    tf: Terraform,
    rel: String,
    vars: Vec<String>,
    dir: Option<tempfile::TempDir>,
}

impl ExampleDir {
    /// Copies `examples/` and binds terraform to `examples/<rel>` in the copy; `endpoint`
    /// becomes `-var endpoint=ENDPOINT` on apply, plan and destroy.
    pub fn new(rel: &str, endpoint: &str) -> ExampleDir {
        let mut ex = ExampleDir::without_endpoint(rel);
        ex.vars.push(format!("endpoint={endpoint}"));
        ex
    }

    /// Like [`ExampleDir::new`], without any `-var` (for `validate`, `fmt`, ...).
    pub fn without_endpoint(rel: &str) -> ExampleDir {
        let source = examples_dir().join(rel);
        assert!(
            source.is_dir(),
            "{} is not an example directory",
            source.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("appmesh-acc-example-")
            .tempdir()
            .expect("create a directory for the examples copy");
        let copy = dir.path().join("examples");
        copy_dir(&examples_dir(), &copy);
        let work = copy.join(rel);
        let tf = Terraform::new(&work, dir.path(), &crate::provider_bin());
        eprintln!("example {rel} in {}", work.display());
        ExampleDir {
            tf,
            rel: rel.to_owned(),
            vars: Vec::new(),
            dir: Some(dir),
        }
    }

    /// Adds `-var NAME=VALUE` to the commands that take variables.
    pub fn var(mut self, name: &str, value: &str) -> ExampleDir {
        self.vars.push(format!("{name}={value}"));
        self
    }

    /// The example's path below `examples/`, e.g. `scenarios/canary`.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// The working directory (inside the copy).
    pub fn dir(&self) -> &Path {
        self.tf.dir()
    }

    /// The terraform CLI bound to the working directory (no variables added).
    pub fn terraform(&self) -> &Terraform {
        &self.tf
    }

    /// `terraform ARGS -input=false -no-color -var ...` (for plan, apply, destroy, ...);
    /// returns whatever happened.
    pub fn run_with_vars(&self, args: &[&str]) -> Outcome {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-input=false", "-no-color"]);
        for v in &self.vars {
            all.extend(["-var", v.as_str()]);
        }
        self.tf.run(&all)
    }

    /// [`ExampleDir::run_with_vars`], panicking with the output unless it exits 0.
    pub fn ok_with_vars(&self, args: &[&str]) -> Outcome {
        let out = self.run_with_vars(args);
        assert!(
            out.success(),
            "{}: terraform command failed\n{}",
            self.rel,
            out.report()
        );
        out
    }

    /// `terraform get`: installs the (local) modules. `terraform init` is not used: with
    /// the provider coming from `dev_overrides`, init still asks the registry for it.
    pub fn get_modules(&self) -> Outcome {
        self.tf.ok(&["get", "-no-color"])
    }

    /// `terraform apply -auto-approve`.
    pub fn apply(&self) -> Outcome {
        self.ok_with_vars(&["apply", "-auto-approve"])
    }

    /// `terraform plan -detailed-exitcode` must exit 0 (no changes).
    pub fn assert_plan_empty(&self) {
        let out = self.run_with_vars(&["plan", "-detailed-exitcode"]);
        match out.code {
            Some(0) => {}
            Some(2) => panic!("{}: the plan is not empty\n{}", self.rel, out.report()),
            _ => panic!("{}: terraform plan failed\n{}", self.rel, out.report()),
        }
    }

    /// `terraform destroy -auto-approve`, then the state must be empty.
    pub fn destroy(&self) {
        self.ok_with_vars(&["destroy", "-auto-approve"]);
        let state = self.state();
        assert!(
            state.addresses().is_empty(),
            "{}: resources left in state after destroy: {:?}",
            self.rel,
            state.addresses()
        );
    }

    /// `terraform validate` must succeed.
    pub fn validate(&self) -> Outcome {
        let out = self.tf.run(&["validate", "-no-color"]);
        assert!(
            out.success(),
            "{}: terraform validate failed\n{}",
            self.rel,
            out.report()
        );
        out
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.tf.state()
    }

    /// `terraform output -json NAME`, parsed.
    pub fn output(&self, name: &str) -> Value {
        let out = self.tf.ok(&["output", "-no-color", "-json", name]);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: output {name} is not JSON ({e})\n{}",
                self.rel,
                out.report()
            )
        })
    }
}

impl Drop for ExampleDir {
    fn drop(&mut self) {
        if std::thread::panicking() || crate::keep_dirs() {
            if let Some(dir) = self.dir.take() {
                if crate::keep_dirs() {
                    eprintln!("kept example directory {}", dir.keep().display());
                } else {
                    eprintln!(
                        "(set APPMESH_ACC_KEEP=1 to keep the example directory {})",
                        dir.path().display()
                    );
                }
            }
        }
    }
}

/// Every element of a List operation (`GET path`, all pages), e.g.
/// `list_all(api, "/v20190125/meshes/apps/virtualNodes", "virtualNodes")`.
pub fn list_all(api: &Api, path: &str, member: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = Vec::new();
        if let Some(t) = &token {
            query.push(("nextToken", t.as_str()));
        }
        let page = api
            .request(Method::GET, path, &query, None)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        items.extend(page[member].as_array().into_iter().flatten().cloned());
        match page["nextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return items,
        }
    }
}

/// The names (`name_member`, e.g. `virtualNodeName`) of the elements of a List operation.
pub fn list_names(api: &Api, path: &str, member: &str, name_member: &str) -> BTreeSet<String> {
    list_all(api, path, member)
        .iter()
        .map(|item| {
            item[name_member]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: no {name_member} in {item}"))
                .to_owned()
        })
        .collect()
}
