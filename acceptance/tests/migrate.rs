//! `terraform-provider-appmesh migrate`: a workspace written for the AWS provider's
//! `aws_appmesh_*` resources (a mesh, three nodes, one of them in schema version 0, a
//! router, a weighted route, two virtual services, a gateway and a gateway route, tags,
//! `default_tags`, a module, a data source), with its state as the AWS provider wrote it
//! (`acceptance/testdata/migrate/`), moves onto an empty control plane by the steps the
//! migration guide gives; `terraform plan` then imports everything: 0 to add, 0 to change,
//! 0 to destroy. The state comes once through `terraform state pull` (a `.tfstate`) and once
//! as `terraform show -json` output; broken inputs change nothing; `--moved` hands the state
//! over with `moved` blocks instead.
//! Run with `cargo test -p appmesh-acceptance --test migrate`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use appmesh_acceptance::{paths, provider_bin, weights, Action, Api, TestCase};

const OBJECTS: usize = 10;

fn testdata() -> PathBuf {
    appmesh_acceptance::testdata("migrate")
}

/// A case whose working directory is a copy of the old workspace (modules installed), with
/// its own provider configuration only.
/// The old state (written by the AWS provider) is the workspace's `terraform.tfstate`.
fn old_workspace() -> TestCase {
    let case = TestCase::new()
        .without_provider_config()
        .with_files(&testdata().join("workspace"))
        // The generated provider block takes credentials from the environment, as the old
        // provider "aws" did.
        .with_env("AWS_ACCESS_KEY_ID", "test")
        .with_env("AWS_SECRET_ACCESS_KEY", "test");
    std::fs::copy(
        testdata().join("state/terraform.tfstate"),
        case.dir().join("terraform.tfstate"),
    )
    .unwrap();
    case
}

/// Runs `terraform-provider-appmesh migrate ARGS` the way the guide says.
fn migrate(case: &TestCase, args: &[&str]) -> Output {
    let out = Command::new(provider_bin())
        .arg("migrate")
        .args(args)
        .current_dir(case.dir())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TF_CLI_CONFIG_FILE", case.terraform().cli_config())
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run terraform-provider-appmesh migrate");
    eprintln!(
        "$ terraform-provider-appmesh migrate {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file of the working directory but Terraform's own, with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name.contains(".tfstate") || name == "tfplan" {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(path.strip_prefix(base).unwrap().to_path_buf(), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The migrated configuration differs from the original only by type names, the
/// `appmesh` provider requirement, and (`--remove-aws-provider`) the AWS provider's
/// configuration; comments and strings that mention `aws_appmesh_*` stay.
fn assert_rewritten(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) {
    for file in [
        "mesh.tf",
        "modules/frontend/main.tf",
        "modules/frontend/outputs.tf",
    ] {
        let (old, new) = (&before[Path::new(file)], &after[Path::new(file)]);
        let (old_lines, new_lines): (Vec<&str>, Vec<&str>) =
            (old.lines().collect(), new.lines().collect());
        assert_eq!(
            old_lines.len(),
            new_lines.len(),
            "{file}: lines added or removed"
        );
        let mut renamed = 0;
        for (o, n) in old_lines.iter().zip(&new_lines) {
            if o == n {
                continue;
            }
            let code = o.split('#').next().unwrap();
            assert!(
                !o.trim_start().starts_with('#') && *n == o.replace("aws_appmesh_", "appmesh_"),
                "{file}: a line changed beyond its type names:\n- {o}\n+ {n}"
            );
            renamed += code.matches("aws_appmesh_").count();
        }
        assert!(renamed > 0, "{file}: nothing renamed");
        assert!(!new.lines().any(|l| !l.trim_start().starts_with('#')
            && l.contains("aws_appmesh_")
            && !l.contains("description")));
    }
    let comment = "naming aws_appmesh_route.serviceb,";
    assert!(
        after[Path::new("mesh.tf")].contains(comment),
        "comments stay"
    );
    assert!(after[Path::new("mesh.tf")].contains("(read back through data.aws_appmesh_mesh)."));
    assert_eq!(
        after[Path::new("versions.tf")],
        "terraform {\n  required_version = \">= 1.5\"\n\n  required_providers {\n    appmesh = {\n      source = \"appmesh-community/appmesh\"\n    }\n  }\n}\n"
    );
    assert!(
        !after.contains_key(Path::new("providers.tf")),
        "provider \"aws\" is gone"
    );
    let provider = &after[Path::new("appmesh.tf")];
    assert!(provider.contains("provider \"appmesh\" {"), "{provider}");
    assert!(
        provider.contains("ManagedBy = \"terraform\""),
        "default_tags kept: {provider}"
    );
    assert!(after[Path::new("modules/frontend/appmesh_versions.tf")]
        .contains("source = \"appmesh-community/appmesh\""));
    let imports = &after[Path::new("appmesh_migration.tf")];
    assert_eq!(imports.matches("import {").count(), OBJECTS, "{imports}");
    assert!(imports
        .contains("to = module.frontend.appmesh_virtual_node.frontend\n  id = \"apps/frontend\""));
    assert!(imports.contains(
        "to = appmesh_virtual_node.serviceb[\"serviceBv2\"]\n  id = \"apps/serviceBv2\""
    ));
}

/// The control plane holds what the old state described.
fn assert_recreated(api: &Api) {
    let mesh = api.get(&paths::mesh("apps"));
    assert_eq!(mesh["spec"]["egressFilter"]["type"], "ALLOW_ALL");
    let tags = api.tags(mesh["metadata"]["arn"].as_str().unwrap());
    assert_eq!(tags["Team"], "platform");
    assert_eq!(tags["ManagedBy"], "terraform");
    // Written in schema version 0: `backends` and `dns.service_name`.
    let legacy = api.get(&paths::virtual_node("apps", "frontend"));
    assert_eq!(
        legacy["spec"]["backends"],
        serde_json::json!([{"virtualService": {"virtualServiceName": "serviceb.apps.local"}}])
    );
    assert_eq!(
        legacy["spec"]["serviceDiscovery"]["dns"]["hostname"],
        "frontend.apps.local"
    );
    let route = api.get(&paths::route("apps", "serviceB", "serviceB-route"));
    let http2 = &route["spec"]["http2Route"];
    assert_eq!(
        weights(&http2["action"]),
        BTreeMap::from([("serviceB".to_owned(), 75), ("serviceBv2".to_owned(), 25)])
    );
    // SDKv2 wrote 0 and "" for what was not set; none of it was sent.
    assert!(route["spec"].get("priority").is_none());
    assert!(http2["match"].get("port").is_none() && http2["match"].get("method").is_none());
    assert_eq!(
        http2["retryPolicy"],
        serde_json::json!({"httpRetryEvents": ["server-error"], "maxRetries": 2, "perRetryTimeout": {"unit": "s", "value": 15}})
    );
    let gr = api.get(&paths::gateway_route("apps", "ingress-gw", "to-frontend"));
    assert_eq!(
        gr["spec"]["httpRoute"]["action"]["target"]["virtualService"]["virtualServiceName"],
        "frontend.apps.local"
    );
}

/// `terraform plan`: every object imported with no change, nothing else.
fn assert_plan_imports_everything(case: &TestCase) {
    let (out, plan) = case.terraform().plan_saved("tfplan", &[]);
    let imports = plan
        .changes()
        .iter()
        .filter(|c| c.importing.is_some() && c.actions == [Action::NoOp])
        .count();
    assert_eq!(imports, OBJECTS, "{}", out.stdout);
    assert!(plan.effective_actions().is_empty(), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Plan: 10 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    case.terraform().apply(Some("tfplan"));
}

#[test]
fn a_tfstate_workspace_moves_off_aws_appmesh() {
    let case = old_workspace();
    let work = case.dir().to_path_buf();
    let before = snapshot(&work);
    let endpoint = case.endpoint().to_owned();
    let args = [
        "--endpoint",
        &endpoint,
        "--region",
        "us-east-1",
        "--remove-aws-provider",
    ];

    let out = migrate(&case, &args);
    assert!(out.status.success());
    assert_eq!(stdout(&out).matches("    created ").count(), OBJECTS);
    let after = snapshot(&work);
    assert_rewritten(&before, &after);
    assert_recreated(case.api());
    // The old entries left the state (terraform state rm kept a backup).
    let state = case.state();
    assert!(state.addresses().is_empty(), "{:?}", state.addresses());
    let backup = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".backup"))
        .expect("terraform state rm keeps a backup");

    assert_plan_imports_everything(&case);
    assert!(
        case.terraform().plan_detailed().success(),
        "the plan after apply is empty"
    );

    // A rerun on the old state changes nothing: same objects, same files.
    let backup = backup.to_string_lossy().into_owned();
    let again = migrate(&case, &[&args[..], &["--state", &backup]].concat());
    assert!(again.status.success());
    assert_eq!(
        stdout(&again).matches("    unchanged ").count(),
        OBJECTS + 1
    );
    assert_eq!(snapshot(&work), after, "a rerun rewrote files");
    // With the state migrated, there is nothing left to do.
    let done = migrate(&case, &args);
    assert!(!done.status.success());
    assert!(stderr(&done).contains("the state has no aws_appmesh_* resources"));
    case.run(vec![]);
}

#[test]
fn a_show_json_state_moves_and_broken_inputs_change_nothing() {
    let case = old_workspace();
    let work = case.dir().to_path_buf();
    let endpoint = case.endpoint().to_owned();
    let before = snapshot(&work);
    let show = testdata()
        .join("state/show.json")
        .to_string_lossy()
        .into_owned();

    let junk = work.join("junk.json");
    std::fs::write(&junk, "{\"version\": 4, \"resources\": [").unwrap();
    let no_mesh = work.join("no-mesh.tfstate");
    std::fs::write(
        &no_mesh,
        r#"{"version": 4, "serial": 1, "lineage": "x", "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{"attributes": {"bucket": "b"}}]}]}"#,
    )
    .unwrap();
    let failures: [(Vec<&str>, &str); 3] = [
        (
            vec!["--endpoint", &endpoint, "--state", junk.to_str().unwrap()],
            "the state is not valid JSON",
        ),
        (
            vec![
                "--endpoint",
                &endpoint,
                "--state",
                no_mesh.to_str().unwrap(),
            ],
            "the state has no aws_appmesh_* resources",
        ),
        (
            vec!["--endpoint", "http://127.0.0.1:1", "--state", &show],
            "cannot connect to the App Mesh API at http://127.0.0.1:1",
        ),
    ];
    for (args, message) in failures {
        let out = migrate(&case, &[&args[..], &["--region", "us-east-1"]].concat());
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(message) && err.contains("nothing was changed"),
            "{err}"
        );
        let mut now = snapshot(&work);
        now.retain(|p, _| !p.ends_with("junk.json") && !p.ends_with("no-mesh.tfstate"));
        assert_eq!(now, before, "files changed");
        assert!(case.api().mesh_names().is_empty(), "objects were created");
    }
    std::fs::remove_file(&junk).unwrap();

    let out = migrate(
        &case,
        &[
            "--endpoint",
            &endpoint,
            "--region",
            "us-east-1",
            "--remove-aws-provider",
            "--state",
            &show,
        ],
    );
    assert!(out.status.success());
    assert_recreated(case.api());
    assert_rewritten(&before, &snapshot(&work));
    // Given the state as a file, the command leaves `terraform state rm` to the user.
    let text = stdout(&out);
    let rm = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("terraform state rm "))
        .expect("the command prints the terraform state rm to run");
    let addresses = shell_words(rm);
    assert_eq!(addresses.len(), OBJECTS + 1, "{addresses:?}");
    let mut args = vec!["state", "rm", "-no-color"];
    args.extend(addresses.iter().map(String::as_str));
    case.terraform().ok(&args);

    assert_plan_imports_everything(&case);
    case.run(vec![appmesh_acceptance::Step::plan_empty()]);
}

/// `--moved`: the objects are recreated and the configuration rewritten the same way, but
/// the state is handed over by `moved` blocks, through the provider's `MoveResourceState`
/// (schema-version-0 node included). Terraform refuses a state naming a provider it cannot
/// load, and the AWS provider cannot be installed here (no registry), so the old state's
/// entries name this provider as their provider; everything else about them (types,
/// attributes, schema versions) is the AWS provider's.
#[test]
fn moved_blocks_hand_the_state_over() {
    let case = old_workspace();
    let work = case.dir().to_path_buf();
    let state = std::fs::read_to_string(work.join("terraform.tfstate")).unwrap();
    std::fs::write(
        work.join("terraform.tfstate"),
        state.replace(
            "registry.terraform.io/hashicorp/aws",
            "registry.terraform.io/appmesh-community/appmesh",
        ),
    )
    .unwrap();
    let endpoint = case.endpoint().to_owned();
    let out = migrate(
        &case,
        &[
            "--endpoint",
            &endpoint,
            "--region",
            "us-east-1",
            "--remove-aws-provider",
            "--moved",
        ],
    );
    assert!(out.status.success());
    assert_recreated(case.api());
    let moved = std::fs::read_to_string(work.join("appmesh_migration.tf")).unwrap();
    assert_eq!(moved.matches("moved {").count(), OBJECTS, "{moved}");
    assert!(moved.contains(
        "from = module.frontend.aws_appmesh_virtual_node.frontend\n  to   = module.frontend.appmesh_virtual_node.frontend"
    ));

    let (plan_out, plan) = case.terraform().plan_saved("tfplan", &[]);
    assert!(plan.effective_actions().is_empty(), "{}", plan_out.stdout);
    assert_eq!(
        plan_out.stdout.matches(" has moved to ").count(),
        OBJECTS,
        "{}",
        plan_out.stdout
    );
    assert!(plan_out
        .stdout
        .contains("Plan: 0 to add, 0 to change, 0 to destroy."));
    case.terraform().apply(Some("tfplan"));
    let state = case.state();
    assert_eq!(state.addresses().len(), OBJECTS);
    assert!(state
        .addresses()
        .iter()
        .all(|a| !a.contains("aws_appmesh_")));
    // The moved state was refreshed from the control plane: ids are the new objects' uids.
    let node = api_uid(case.api(), &paths::virtual_node("apps", "frontend"));
    assert_eq!(
        state.expect_attr("module.frontend.appmesh_virtual_node.frontend", "id"),
        node
    );
    case.run(vec![appmesh_acceptance::Step::plan_empty()]);
}

fn api_uid(api: &Api, path: &str) -> String {
    api.get(path)["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Splits a shell command line quoted the way the command prints it (`'...'` or bare).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}
