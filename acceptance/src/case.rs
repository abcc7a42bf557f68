//! [`TestCase`] and [`Step`]: an acceptance test as a list of steps.
//!
//! A test case owns a fresh control plane and a temporary terraform working directory.
//! Step configurations hold only resources: the `terraform`/`provider "appmesh"` header
//! (with this test's endpoint) lives in `provider.tf`, each step's configuration in
//! `main.tf`. After the last step the case runs `terraform destroy` and checks that the
//! state is empty and that the control plane holds no meshes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use regex::Regex;

use crate::api::Api;
use crate::checks::import_id;
use crate::control_plane::ControlPlane;
use crate::example_dir::copy_dir;
use crate::state::{diff_flat, render_flat, Action, Plan, State};
use crate::terraform::{hcl_string, Terraform};

/// One in-place update.
pub const UPDATE: &[Action] = &[Action::Update];
/// A replacement (destroy first, the default).
pub const REPLACE: &[Action] = &[Action::Delete, Action::Create];
/// A creation.
pub const CREATE: &[Action] = &[Action::Create];
/// A deletion.
pub const DELETE: &[Action] = &[Action::Delete];

/// The file holding each step's configuration.
const MAIN_TF: &str = "main.tf";
/// The file holding the provider header.
const PROVIDER_TF: &str = "provider.tf";
/// The file an `import {}` block is written to.
const IMPORT_TF: &str = "import.tf";
/// The file `-generate-config-out` writes.
const GENERATED_TF: &str = "generated.tf";
/// The saved plan file.
const PLAN_FILE: &str = "tfplan";

/// A check run after a step, over the resulting state and the control plane's API.
pub type Check = Box<dyn Fn(&State, &Api)>;

/// Which terraform command an expected error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Plan,
    Apply,
}

enum Kind {
    Apply {
        config: String,
        expect: Option<BTreeMap<String, Vec<Action>>>,
        apply: bool,
    },
    PlanEmpty {
        config: Option<String>,
    },
    ImportVerify {
        address: String,
        id: String,
    },
    ImportBlock {
        address: String,
        id: String,
    },
    GenerateConfig {
        config: String,
        address: String,
        id: String,
    },
    ExpectError {
        config: String,
        patterns: Vec<Regex>,
        phase: Phase,
    },
    Disappear {
        address: String,
        api_path: String,
    },
    ReimportAll,
}

/// One step of a [`TestCase`].
pub struct Step {
    kind: Kind,
    checks: Vec<Check>,
    ignore: Vec<String>,
}

impl Step {
    fn new(kind: Kind) -> Step {
        Step {
            kind,
            checks: Vec::new(),
            ignore: Vec::new(),
        }
    }

    /// `terraform apply` of `config`, then the checks, then a re-plan that must be empty.
    pub fn apply(config: impl Into<String>) -> Step {
        Step::new(Kind::Apply {
            config: config.into(),
            expect: None,
            apply: true,
        })
    }

    /// `terraform plan -detailed-exitcode` of the current configuration must exit 0.
    pub fn plan_empty() -> Step {
        Step::new(Kind::PlanEmpty { config: None })
    }

    /// `terraform plan -detailed-exitcode` of a new `config` (e.g. the same resources written
    /// differently) must exit 0. The configuration becomes the current one.
    pub fn plan_empty_with(config: impl Into<String>) -> Step {
        Step::new(Kind::PlanEmpty {
            config: Some(config.into()),
        })
    }

    /// Plans `config` into a file and asserts its changes: `expected` lists every resource
    /// whose actions are not a no-op, e.g. `&[("appmesh_mesh.test", UPDATE)]`. Then applies
    /// that saved plan, runs the checks and asserts the re-plan is empty (unless
    /// [`Step::plan_only`]).
    pub fn expect_plan(config: impl Into<String>, expected: &[(&str, &[Action])]) -> Step {
        Step::new(Kind::Apply {
            config: config.into(),
            expect: Some(
                expected
                    .iter()
                    .map(|(a, actions)| ((*a).to_owned(), actions.to_vec()))
                    .collect(),
            ),
            apply: true,
        })
    }

    /// `terraform state rm ADDRESS` + `terraform import ADDRESS ID`; the imported attributes
    /// must equal the ones before (see [`Step::ignore`]) and the re-plan must be empty.
    pub fn import_verify(address: &str, id: &str) -> Step {
        Step::new(Kind::ImportVerify {
            address: address.to_owned(),
            id: id.to_owned(),
        })
    }

    /// `terraform state rm ADDRESS`, then an `import { to = ADDRESS, id = ID }` block next
    /// to the current configuration: the plan must import it with no changes; after applying
    /// that plan the attributes must equal the ones before.
    pub fn import_block(address: &str, id: &str) -> Step {
        Step::new(Kind::ImportBlock {
            address: address.to_owned(),
            id: id.to_owned(),
        })
    }

    /// `terraform state rm ADDRESS` (if present), then `config` (the configuration *without*
    /// the resource block) plus an `import {}` block, planned with
    /// `-generate-config-out=generated.tf`: the plan must import with no changes, the apply
    /// must succeed and the re-plan with the generated configuration must be empty.
    pub fn generate_config(config: impl Into<String>, address: &str, id: &str) -> Step {
        Step::new(Kind::GenerateConfig {
            config: config.into(),
            address: address.to_owned(),
            id: id.to_owned(),
        })
    }

    /// `terraform plan` of `config` must fail with output matching `pattern` (a regex,
    /// matched against the output with the diagnostic box and line wrapping removed).
    pub fn expect_error(config: impl Into<String>, pattern: &str) -> Step {
        Step::expect_errors(config, &[pattern])
    }

    /// Like [`Step::expect_error`], with several patterns that must all match (in any
    /// order: one plan reports every error it finds).
    pub fn expect_errors(config: impl Into<String>, patterns: &[&str]) -> Step {
        Step::new(Kind::ExpectError {
            config: config.into(),
            patterns: regexes(patterns),
            phase: Phase::Plan,
        })
    }

    /// Like [`Step::expect_error`], but for errors only `terraform apply` reports (the
    /// plan must succeed).
    pub fn expect_apply_error(config: impl Into<String>, pattern: &str) -> Step {
        Step::new(Kind::ExpectError {
            config: config.into(),
            patterns: regexes(&[pattern]),
            phase: Phase::Apply,
        })
    }

    /// Deletes the object behind `address` through the API (`DELETE api_path`); the next
    /// plan must then want to create `address`.
    pub fn disappear(address: &str, api_path: &str) -> Step {
        Step::new(Kind::Disappear {
            address: address.to_owned(),
            api_path: api_path.to_owned(),
        })
    }

    /// Forgets every resource in state and imports them all back with `import {}` blocks
    /// (IDs from their state): the plan must import each with no changes and nothing else;
    /// after applying it every attribute must equal what it was (see [`Step::ignore`]) and the
    /// re-plan must be empty.
    pub fn reimport_all() -> Step {
        Step::new(Kind::ReimportAll)
    }

    /// Adds a check over the state (`terraform show -json`) and the API, run after the step.
    pub fn check(mut self, f: impl Fn(&State, &Api) + 'static) -> Step {
        self.checks.push(Box::new(f));
        self
    }

    /// Attributes (exact paths or prefixes) an import step does not compare.
    pub fn ignore(mut self, paths: &[&str]) -> Step {
        self.ignore.extend(paths.iter().map(|p| (*p).to_owned()));
        self
    }

    /// For [`Step::expect_plan`]: only plan, do not apply (the configuration is restored).
    pub fn plan_only(mut self) -> Step {
        if let Kind::Apply { apply, expect, .. } = &mut self.kind {
            assert!(expect.is_some(), "plan_only() applies to expect_plan steps");
            *apply = false;
        }
        self
    }

    fn describe(&self) -> String {
        match &self.kind {
            Kind::Apply { expect: None, .. } => "apply".to_owned(),
            Kind::Apply { apply: true, .. } => "expect plan, then apply".to_owned(),
            Kind::Apply { apply: false, .. } => "expect plan (plan only)".to_owned(),
            Kind::PlanEmpty { .. } => "plan must be empty".to_owned(),
            Kind::ImportVerify { address, id } => format!("terraform import {address} {id}"),
            Kind::ImportBlock { address, id } => format!("import block {address} <- {id}"),
            Kind::GenerateConfig { address, id, .. } => {
                format!("generate config for {address} <- {id}")
            }
            Kind::ExpectError {
                patterns, phase, ..
            } => {
                let all: Vec<String> = patterns.iter().map(|p| format!("/{p}/")).collect();
                format!("{phase:?} must fail with {}", all.join(" and "))
            }
            Kind::Disappear { address, api_path } => {
                format!("{address} disappears (DELETE {api_path})")
            }
            Kind::ReimportAll => "forget everything, import it all back".to_owned(),
        }
    }
}

/// The configuration files of the last successful step, restored after steps that leave
/// something invalid behind (an expected error) and before the final destroy.
#[derive(Clone, Default)]
struct Files(BTreeMap<String, String>);

/// An acceptance test: a fresh control plane, a working directory and the steps to run.
pub struct TestCase {
    cp: std::sync::Arc<ControlPlane>,
    api: Api,
    tf: Terraform,
    dir: Option<tempfile::TempDir>,
    good: Files,
}

impl Default for TestCase {
    fn default() -> Self {
        TestCase::new()
    }
}

impl TestCase {
    /// Starts a control plane and prepares a working directory with `provider.tf`.
    pub fn new() -> TestCase {
        TestCase::on(std::sync::Arc::new(ControlPlane::start()))
    }

    /// A working directory with `provider.tf` against a control plane other cases may share
    /// (two accounts' workspaces on one server, say).
    pub fn on(cp: std::sync::Arc<ControlPlane>) -> TestCase {
        let provider = crate::provider_bin();
        let dir = tempfile::Builder::new()
            .prefix("appmesh-acc-tf-")
            .tempdir()
            .expect("create the terraform working directory");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("create the work directory");
        let tf = Terraform::new(&work, dir.path(), &provider);
        std::fs::write(
            work.join(PROVIDER_TF),
            crate::provider_config(cp.endpoint()),
        )
        .expect("write provider.tf");
        eprintln!("terraform working directory {}", work.display());
        let api = cp.api();
        TestCase {
            cp,
            api,
            tf,
            dir: Some(dir),
            good: Files::default(),
        }
    }

    /// Replaces the generated `provider.tf` (e.g. with `examples/provider/provider.tf`
    /// pointed at this case's endpoint).
    pub fn set_provider_config(&self, hcl: &str) {
        std::fs::write(self.work().join(PROVIDER_TF), hcl).expect("write provider.tf");
    }

    /// Copies the files of `dir` (a directory under `acceptance/testdata/`, say) into the
    /// working directory, sub-directories (local modules) included, then installs the
    /// modules with `terraform get` (`terraform init` would ask the registry for the
    /// provider, which `dev_overrides` supplies). Configuration files copied this way stay
    /// in place for every step; a step's own configuration still goes to `main.tf`.
    pub fn with_files(self, dir: &Path) -> TestCase {
        copy_dir(dir, self.work());
        self.tf.ok(&["get", "-no-color"]);
        self
    }

    /// Removes the generated `provider.tf`, for configurations that bring their own
    /// provider block.
    pub fn without_provider_config(self) -> TestCase {
        std::fs::remove_file(self.work().join(PROVIDER_TF)).expect("remove provider.tf");
        self
    }

    /// Sets an environment variable for every terraform command of this case.
    pub fn with_env(mut self, name: &str, value: &str) -> TestCase {
        self.tf.set_env(name, value);
        self
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        self.work()
    }

    /// [`TestCase::with_files`] of `acceptance/testdata/<case>/workspace`, whose configuration
    /// takes the control plane as `var.endpoint` and a name prefix as `var.name`: both are
    /// written to `terraform.tfvars`.
    pub fn with_testdata(self, case: &str, name: &str) -> TestCase {
        let case = self.with_files(&crate::testdata(case).join("workspace"));
        case.write_file(
            "terraform.tfvars",
            &format!(
                "endpoint = {}\nname     = {}\n",
                hcl_string(case.endpoint()),
                hcl_string(name)
            ),
        );
        case
    }

    /// Writes `name` (e.g. `terraform.tfvars`) into the working directory.
    pub fn write_file(&self, name: &str, content: &str) {
        std::fs::write(self.work().join(name), content).expect("write a file");
    }

    /// The control plane's REST client.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The control plane's base URL.
    pub fn endpoint(&self) -> &str {
        self.cp.endpoint()
    }

    /// The terraform CLI bound to this case's working directory.
    pub fn terraform(&self) -> &Terraform {
        &self.tf
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.tf.state()
    }

    /// Runs the steps, then destroys everything and checks nothing is left.
    pub fn run(mut self, steps: Vec<Step>) {
        let total = steps.len();
        for (i, step) in steps.into_iter().enumerate() {
            eprintln!("==> step {}/{total}: {}", i + 1, step.describe());
            self.run_step(step);
        }
        eprintln!("==> destroy");
        self.destroy();
    }

    /// `terraform destroy`, then: state empty, no meshes left in the control plane.
    pub fn destroy(&mut self) {
        self.restore();
        self.tf
            .ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        let state = self.tf.state();
        assert!(
            state.addresses().is_empty(),
            "resources left in state after destroy: {:?}",
            state.addresses()
        );
        let meshes = self.api.mesh_names();
        assert!(
            meshes.is_empty(),
            "meshes left in the control plane after destroy: {meshes:?}"
        );
    }

    fn work(&self) -> &Path {
        self.tf.dir()
    }

    /// Replaces the configuration files the steps write (`main.tf`, `import.tf`,
    /// `generated.tf`) with `files`; `provider.tf` and files from [`TestCase::with_files`]
    /// stay.
    fn write_files(&self, files: &Files) {
        for name in [MAIN_TF, IMPORT_TF, GENERATED_TF] {
            let path = self.work().join(name);
            if path.exists() {
                std::fs::remove_file(&path).expect("remove an old configuration file");
            }
        }
        for (name, content) in &files.0 {
            std::fs::write(self.work().join(name), content).expect("write a configuration file");
        }
    }

    fn write_config(&self, config: &str) -> Files {
        let files = Files(BTreeMap::from([(MAIN_TF.to_owned(), config.to_owned())]));
        self.write_files(&files);
        files
    }

    fn restore(&self) {
        let good = self.good.clone();
        self.write_files(&good);
    }

    fn run_checks(&self, checks: &[Check]) {
        if checks.is_empty() {
            return;
        }
        let state = self.tf.state();
        for check in checks {
            check(&state, &self.api);
        }
    }

    fn assert_plan_empty(&self, context: &str) {
        let out = self.tf.plan_detailed();
        match out.code {
            Some(0) => {}
            Some(2) => panic!("{context}: the plan is not empty\n{}", out.report()),
            _ => panic!("{context}: terraform plan failed\n{}", out.report()),
        }
    }

    fn run_step(&mut self, step: Step) {
        let Step {
            kind,
            checks,
            ignore,
        } = step;
        match kind {
            Kind::Apply {
                config,
                expect: None,
                ..
            } => {
                let files = self.write_config(&config);
                self.tf.apply(None);
                self.good = files;
                self.run_checks(&checks);
                self.assert_plan_empty("after apply");
            }
            Kind::Apply {
                config,
                expect: Some(expected),
                apply,
            } => {
                let files = self.write_config(&config);
                let (out, plan) = self.tf.plan_saved(PLAN_FILE, &[]);
                assert_actions(&plan, &expected, &out.stdout);
                if apply {
                    self.tf.apply(Some(PLAN_FILE));
                    self.good = files;
                    self.run_checks(&checks);
                    self.assert_plan_empty("after applying the expected plan");
                } else {
                    self.restore();
                    self.run_checks(&checks);
                }
            }
            Kind::PlanEmpty { config } => {
                let files = config.map(|c| self.write_config(&c));
                self.assert_plan_empty("plan-only step");
                if let Some(files) = files {
                    self.good = files;
                }
                self.run_checks(&checks);
            }
            Kind::ImportVerify { address, id } => {
                let before = self.tf.state().flat(&address);
                self.tf.ok(&["state", "rm", "-no-color", address.as_str()]);
                let out = self.tf.run(&[
                    "import",
                    "-input=false",
                    "-no-color",
                    address.as_str(),
                    id.as_str(),
                ]);
                assert!(out.success(), "terraform import failed\n{}", out.report());
                let after = self.tf.state().flat(&address);
                assert_same_attributes(&address, &before, &after, &ignore);
                self.run_checks(&checks);
                self.assert_plan_empty("after terraform import");
            }
            Kind::ImportBlock { address, id } => {
                let before = self.tf.state().flat(&address);
                self.tf.ok(&["state", "rm", "-no-color", address.as_str()]);
                let mut files = self.good.clone();
                files
                    .0
                    .insert(IMPORT_TF.to_owned(), import_block(&address, &id));
                self.write_files(&files);
                let (out, plan) = self.tf.plan_saved(PLAN_FILE, &[]);
                assert_import_plan(&plan, &address, &id, &out.stdout);
                self.tf.apply(Some(PLAN_FILE));
                let after = self.tf.state().flat(&address);
                assert_same_attributes(&address, &before, &after, &ignore);
                self.restore();
                self.run_checks(&checks);
                self.assert_plan_empty("after importing with an import block");
            }
            Kind::GenerateConfig {
                config,
                address,
                id,
            } => {
                let state = self.tf.state();
                let before = state.contains(&address).then(|| state.flat(&address));
                if before.is_some() {
                    self.tf.ok(&["state", "rm", "-no-color", address.as_str()]);
                }
                let mut files = Files(BTreeMap::from([
                    (MAIN_TF.to_owned(), config),
                    (IMPORT_TF.to_owned(), import_block(&address, &id)),
                ]));
                self.write_files(&files);
                let gen_arg = format!("-generate-config-out={GENERATED_TF}");
                let (out, plan) = self.tf.plan_saved(PLAN_FILE, &[gen_arg.as_str()]);
                let generated = std::fs::read_to_string(self.work().join(GENERATED_TF))
                    .unwrap_or_else(|e| {
                        panic!("{GENERATED_TF} was not written: {e}\n{}", out.report())
                    });
                eprintln!("--- {GENERATED_TF} ---\n{generated}");
                assert_import_plan(&plan, &address, &id, &out.stdout);
                self.tf.apply(Some(PLAN_FILE));
                files.0.insert(GENERATED_TF.to_owned(), generated);
                self.good = files;
                if let Some(before) = before {
                    let after = self.tf.state().flat(&address);
                    assert_same_attributes(&address, &before, &after, &ignore);
                }
                self.run_checks(&checks);
                self.assert_plan_empty("with the generated configuration");
            }
            Kind::ExpectError {
                config,
                patterns,
                phase,
            } => {
                self.write_config(&config);
                let out = match phase {
                    Phase::Plan => self.tf.run(&["plan", "-input=false", "-no-color"]),
                    Phase::Apply => {
                        let plan = self.tf.run(&["plan", "-input=false", "-no-color"]);
                        assert!(
                            plan.success(),
                            "expected the plan to succeed (the error belongs to apply)\n{}",
                            plan.report()
                        );
                        self.tf
                            .run(&["apply", "-auto-approve", "-input=false", "-no-color"])
                    }
                };
                assert!(
                    !out.success(),
                    "expected terraform {phase:?} to fail with {patterns:?}, but it succeeded\n{}",
                    out.report()
                );
                let text = out.output();
                let flat = unwrap_diagnostics(&text);
                for pattern in &patterns {
                    assert!(
                        pattern.is_match(&text) || pattern.is_match(&flat),
                        "terraform {phase:?} failed, but its output does not match /{pattern}/\n\
                         --- unwrapped output ---\n{flat}\n{}",
                        out.report()
                    );
                }
                match flat.find("Error:") {
                    Some(at) => eprintln!("got the expected error: {}", &flat[at..]),
                    None => eprintln!("got the expected error: {flat}"),
                }
                self.restore();
                self.run_checks(&checks);
            }
            Kind::ReimportAll => {
                let state = self.tf.state();
                let addresses: Vec<String> =
                    state.addresses().iter().map(|a| (*a).to_owned()).collect();
                assert!(!addresses.is_empty(), "nothing in state to re-import");
                let before: BTreeMap<String, BTreeMap<String, String>> = addresses
                    .iter()
                    .map(|a| (a.clone(), state.flat(a)))
                    .collect();
                let ids: Vec<(String, String)> = addresses
                    .iter()
                    .map(|a| (a.clone(), import_id(&state, a)))
                    .collect();
                let mut rm = vec!["state", "rm", "-no-color"];
                rm.extend(addresses.iter().map(String::as_str));
                self.tf.ok(&rm);
                let mut files = self.good.clone();
                let blocks: String = ids.iter().map(|(a, id)| import_block(a, id)).collect();
                files.0.insert(IMPORT_TF.to_owned(), blocks);
                self.write_files(&files);
                let (out, plan) = self.tf.plan_saved(PLAN_FILE, &[]);
                for (address, id) in &ids {
                    assert_importing(&plan, address, id, &out.stdout);
                }
                let others = plan.effective_actions();
                assert!(
                    others.is_empty(),
                    "re-importing should change nothing, but the plan has {others:?}\n{}",
                    out.stdout
                );
                self.tf.apply(Some(PLAN_FILE));
                let state = self.tf.state();
                for (address, before) in &before {
                    assert_same_attributes(address, before, &state.flat(address), &ignore);
                }
                self.restore();
                self.run_checks(&checks);
                self.assert_plan_empty("after importing everything back");
            }
            Kind::Disappear { address, api_path } => {
                self.api.delete(&api_path);
                let (out, plan) = self.tf.plan_saved(PLAN_FILE, &[]);
                let actions = plan.change(&address).map(|c| c.actions.clone());
                assert_eq!(
                    actions.as_deref(),
                    Some(CREATE),
                    "after deleting {api_path} out of band, the plan should create {address}\n{out_stdout}",
                    out_stdout = out.stdout
                );
                self.run_checks(&checks);
            }
        }
    }
}

impl Drop for TestCase {
    fn drop(&mut self) {
        if std::thread::panicking() || crate::keep_dirs() {
            if let Some(dir) = self.dir.take() {
                if crate::keep_dirs() {
                    eprintln!("kept terraform directory {}", dir.keep().display());
                } else {
                    eprintln!(
                        "(set APPMESH_ACC_KEEP=1 to keep the working directory {})",
                        dir.path().display()
                    );
                }
            }
        }
    }
}

fn regexes(patterns: &[&str]) -> Vec<Regex> {
    patterns
        .iter()
        .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("bad regex {p:?}: {e}")))
        .collect()
}

/// An `import {}` block for `address`.
pub fn import_block(address: &str, id: &str) -> String {
    format!(
        "import {{\n  to = {address}\n  id = {}\n}}\n",
        hcl_string(id)
    )
}

fn assert_actions(plan: &Plan, expected: &BTreeMap<String, Vec<Action>>, plan_text: &str) {
    let actual = plan.effective_actions();
    if &actual != expected {
        let render = |m: &BTreeMap<String, Vec<Action>>| {
            let mut s = String::new();
            for (a, actions) in m {
                let list: Vec<String> = actions.iter().map(ToString::to_string).collect();
                let _ = writeln!(s, "  {a}: [{}]", list.join(", "));
            }
            if s.is_empty() {
                s.push_str("  (no changes)\n");
            }
            s
        };
        panic!(
            "unexpected plan\nexpected:\n{}actual:\n{}--- plan ---\n{plan_text}",
            render(expected),
            render(&actual)
        );
    }
}

fn assert_import_plan(plan: &Plan, address: &str, id: &str, plan_text: &str) {
    assert_importing(plan, address, id, plan_text);
    let others = plan.effective_actions();
    assert!(
        others.is_empty(),
        "importing {address} should change nothing, but the plan has {others:?}\n{plan_text}"
    );
}

/// The plan imports `address` with `id` and changes nothing about it.
fn assert_importing(plan: &Plan, address: &str, id: &str, plan_text: &str) {
    let change = plan
        .change(address)
        .unwrap_or_else(|| panic!("the plan has no change for {address}\n{plan_text}"));
    assert_eq!(
        change.importing.as_deref(),
        Some(id),
        "the plan should import {address} with id {id:?}\n{plan_text}"
    );
    assert_eq!(
        change.actions,
        [Action::NoOp],
        "importing {address} should need no changes\n{plan_text}"
    );
}

/// Asserts the attributes of `address` after an import (`after`) equal the ones before,
/// apart from `ignore` (see [`diff_flat`]).
pub fn assert_same_attributes(
    address: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    ignore: &[String],
) {
    let diffs = diff_flat(before, after, ignore);
    assert!(
        diffs.is_empty(),
        "{address}: imported attributes differ from the applied ones (applied -> imported):\n{}\n\
         --- applied ---\n{}\n--- imported ---\n{}",
        diffs.join("\n"),
        render_flat(before),
        render_flat(after)
    );
}

/// Removes the diagnostic box characters and joins wrapped lines, so a regex can match a
/// message regardless of where terraform broke it.
pub fn unwrap_diagnostics(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim_start_matches(['│', '╷', '╵', ' ']).trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}
