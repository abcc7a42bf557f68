//! Acceptance tests for the `provider "appmesh"` block: endpoint, region and credentials from
//! the block, from environment variables and from shared credentials/config files, provider
//! `default_tags`, and configuration errors
//! (`cargo test -p appmesh-acceptance --test provider_config`).
//!
//! The environment tests need a terraform whose environment holds exactly the variables
//! under test, so they run terraform through [`Workspace`], a local runner that clears the
//! inherited environment (`HOME` points at an empty temporary directory, so no `~/.aws`
//! files leak in) and passes each command its own variables. Requests reach the control
//! plane through a [`Recorder`], a TCP relay that notes the SigV4 credential scope of every
//! request, so a test can tell which access key and region the provider signed with.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use appmesh_acceptance::{
    mesh_hcl, paths, provider_bin, random_name, unwrap_diagnostics, version, Api, ControlPlane,
    Outcome, State, Step, TestCase, ACCOUNT_ID, PROVIDER_SOURCE, REGION, UPDATE,
};
use regex::Regex;

const MESH: &str = "appmesh_mesh.test";

/// The `terraform { required_providers }` block, without a provider block.
fn required_providers() -> String {
    format!(
        r#"terraform {{
  required_providers {{
    appmesh = {{
      source = "{PROVIDER_SOURCE}"
    }}
  }}
}}
"#
    )
}

// === a recording relay in front of the control plane ===

/// The SigV4 credential scope of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signed {
    access_key: String,
    region: String,
    service: String,
}

/// A TCP relay on `127.0.0.1:0` that forwards every connection to the control plane and
/// records the `Authorization` header of every request it sees.
struct Recorder {
    endpoint: String,
    seen: Arc<Mutex<Vec<Signed>>>,
}

impl Recorder {
    fn start(upstream: &str) -> Recorder {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("the control plane speaks plain HTTP")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                relay(client, server, sink.clone());
            }
        });
        Recorder { endpoint, seen }
    }

    /// Everything recorded so far.
    fn seen(&self) -> Vec<Signed> {
        self.seen.lock().unwrap().clone()
    }

    /// Asserts requests were made and every one was signed with `access_key` for `region`
    /// and the `appmesh` service.
    fn assert_signed(&self, access_key: &str, region: &str) {
        let seen = self.seen();
        assert!(
            !seen.is_empty(),
            "no signed request reached the control plane"
        );
        let expected = Signed {
            access_key: access_key.to_owned(),
            region: region.to_owned(),
            service: "appmesh".to_owned(),
        };
        for s in &seen {
            assert_eq!(s, &expected, "a request signed differently; all: {seen:?}");
        }
    }
}

fn relay(client: TcpStream, server: TcpStream, seen: Arc<Mutex<Vec<Signed>>>) {
    let (mut client_r, mut server_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut server_r, mut client_w) = (server, client);
    thread::spawn(move || {
        let scope =
            Regex::new(r"(?i)^authorization:\s*AWS4-HMAC-SHA256\s+Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
                .unwrap();
        let mut line = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match client_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                if b == b'\n' {
                    let text = String::from_utf8_lossy(&line);
                    if let Some(c) = scope.captures(text.trim_end()) {
                        seen.lock().unwrap().push(Signed {
                            access_key: c[1].to_owned(),
                            region: c[2].to_owned(),
                            service: c[3].to_owned(),
                        });
                    }
                    line.clear();
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
            if server_w.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_w.shutdown(Shutdown::Write);
    });
    thread::spawn(move || {
        let _ = std::io::copy(&mut server_r, &mut client_w);
        let _ = client_w.shutdown(Shutdown::Write);
    });
}

// === a terraform runner with an explicit environment ===

/// A control plane, a relay in front of it and a terraform working directory whose commands
/// see only the variables a test passes.
struct Workspace {
    dir: tempfile::TempDir,
    cp: ControlPlane,
    recorder: Recorder,
}

impl Workspace {
    fn new() -> Workspace {
        // These tests sign with keys and regions chosen by each case's environment; the
        // recorder checks which. The server's own checks are tested in `authentication.rs`.
        let cp = ControlPlane::start_insecure();
        let recorder = Recorder::start(cp.endpoint());
        let dir = tempfile::Builder::new()
            .prefix("appmesh-acc-provider-")
            .tempdir()
            .unwrap();
        for sub in ["work", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let bin = provider_bin().canonicalize().unwrap();
        let rc = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            bin.parent().unwrap().display()
        );
        std::fs::write(dir.path().join("terraformrc"), rc).unwrap();
        eprintln!(
            "terraform working directory {}",
            dir.path().join("work").display()
        );
        Workspace { dir, cp, recorder }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The relay's URL: what the provider should be pointed at.
    fn endpoint(&self) -> &str {
        &self.recorder.endpoint
    }

    fn api(&self) -> Api {
        self.cp.api()
    }

    /// Writes `main.tf` (the only configuration file).
    fn write(&self, config: &str) {
        std::fs::write(self.work().join("main.tf"), config).unwrap();
    }

    /// Writes a file next to the working directory and returns its path.
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Runs `terraform ARGS` with only `env` (plus PATH, HOME and the CLI configuration).
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let command = format!("terraform {}", args.join(" "));
        eprintln!("$ {command}  (env: {env:?})");
        let bin = std::env::var_os("TF_ACC_TERRAFORM_PATH").unwrap_or_else(|| "terraform".into());
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("terraformrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("RUST_LIB_BACKTRACE", "0")
            // The credential chain ends with the EC2 instance metadata service; nothing here
            // may reach 169.254.169.254. Tests of that step point it at a loopback port.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn terraform");
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            match child.try_wait().unwrap() {
                Some(status) => break status.code(),
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        };
        Outcome {
            command,
            code: status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let out = self.run(args, env);
        assert!(out.success(), "terraform command failed\n{}", out.report());
        out
    }

    fn apply(&self, env: &[(&str, &str)]) {
        self.ok(
            &["apply", "-auto-approve", "-input=false", "-no-color"],
            env,
        );
    }

    fn assert_plan_empty(&self, env: &[(&str, &str)]) {
        let out = self.run(
            &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
            env,
        );
        assert_eq!(out.code, Some(0), "the plan is not empty\n{}", out.report());
    }

    fn state(&self, env: &[(&str, &str)]) -> State {
        let out = self.ok(&["show", "-json", "-no-color"], env);
        State::from_show_json(serde_json::from_str(&out.stdout).unwrap())
    }

    /// `terraform destroy`, then: nothing in state, no meshes in the control plane.
    fn destroy(&self, env: &[(&str, &str)]) {
        self.ok(
            &["destroy", "-auto-approve", "-input=false", "-no-color"],
            env,
        );
        assert!(self.state(env).addresses().is_empty(), "state not empty");
        assert!(self.api().mesh_names().is_empty(), "meshes left behind");
    }
}

/// Applies a mesh with `env`, checks it in the API, re-plans empty, destroys it.
fn apply_mesh_with(ws: &Workspace, provider_block: &str, env: &[(&str, &str)]) -> String {
    let mesh = random_name();
    ws.write(&format!(
        "{}\n{provider_block}\n{}",
        required_providers(),
        mesh_hcl(&mesh)
    ));
    ws.apply(env);
    let data = ws.api().get(&paths::mesh(&mesh));
    assert_eq!(data["meshName"], mesh.as_str());
    let state = ws.state(env);
    state.assert_attr(MESH, "id", &mesh);
    state.assert_attr(MESH, "arn", data["metadata"]["arn"].as_str().unwrap());
    ws.assert_plan_empty(env);
    mesh
}

// === environment ===

#[test]
fn environment_only() {
    let ws = Workspace::new();
    let endpoint = ws.endpoint().to_owned();
    let env = [
        ("AWS_ENDPOINT_URL_APP_MESH", endpoint.as_str()),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "secret-from-environment"),
    ];
    apply_mesh_with(&ws, "provider \"appmesh\" {}\n", &env);
    ws.recorder
        .assert_signed("AKIDFROMENVIRONMENT", "eu-west-1");
    ws.destroy(&env);
}

#[test]
fn environment_generic_endpoint_and_default_region() {
    let ws = Workspace::new();
    let endpoint = ws.endpoint().to_owned();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_DEFAULT_REGION", "ap-southeast-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDGENERIC"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];
    apply_mesh_with(&ws, "provider \"appmesh\" {}\n", &env);
    ws.recorder.assert_signed("AKIDGENERIC", "ap-southeast-2");

    // The service-specific variable wins over the generic one (which now leads nowhere),
    // and AWS_REGION over AWS_DEFAULT_REGION.
    let precedence = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL_APP_MESH", endpoint.as_str()),
        ("AWS_REGION", "us-west-2"),
        ("AWS_DEFAULT_REGION", "ap-southeast-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDPRECEDENCE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];
    let before = ws.recorder.seen().len();
    ws.assert_plan_empty(&precedence);
    let after = ws.recorder.seen();
    assert!(
        after.len() > before,
        "the refresh did not reach the control plane"
    );
    for s in &after[before..] {
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str()),
            ("AKIDPRECEDENCE", "us-west-2")
        );
    }
    ws.destroy(&env);
}

#[test]
fn block_wins_over_environment() {
    let ws = Workspace::new();
    let endpoint = ws.endpoint().to_owned();
    let env = [
        ("AWS_ENDPOINT_URL_APP_MESH", "http://127.0.0.1:9"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];
    let block = format!(
        r#"provider "appmesh" {{
  endpoint   = "{endpoint}"
  region     = "us-east-1"
  access_key = "AKIDFROMBLOCK"
  secret_key = "secret"
  token      = "session-token"
}}
"#
    );
    apply_mesh_with(&ws, &block, &env);
    ws.recorder.assert_signed("AKIDFROMBLOCK", "us-east-1");
    ws.destroy(&env);
}

// === shared files ===

#[test]
fn shared_credentials_profile() {
    let ws = Workspace::new();
    let credentials = ws.file(
        "credentials",
        "[default]\naws_access_key_id = AKIDDEFAULTPROFILE\naws_secret_access_key = default-secret\n\n\
         [x]\naws_access_key_id = AKIDPROFILEX\naws_secret_access_key = x-secret\n",
    );
    let credentials = credentials.to_str().unwrap().to_owned();
    let env = [
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
        // An empty config file, so nothing else can supply a region or keys.
        ("AWS_CONFIG_FILE", "/dev/null"),
    ];
    let block = format!(
        r#"provider "appmesh" {{
  endpoint = "{}"
  region   = "us-east-1"
  profile  = "x"
}}
"#,
        ws.endpoint()
    );
    apply_mesh_with(&ws, &block, &env);
    ws.recorder.assert_signed("AKIDPROFILEX", "us-east-1");
    ws.destroy(&env);
}

#[test]
fn shared_config_profile_from_environment() {
    // AWS_PROFILE picks a profile in AWS_CONFIG_FILE that holds both keys and the region.
    let ws = Workspace::new();
    let config = ws.file(
        "config",
        "[default]\nregion = us-east-1\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n\n\
         [profile x]\nregion = eu-central-1\naws_access_key_id = AKIDCONFIGX\naws_secret_access_key = s\n",
    );
    let config = config.to_str().unwrap().to_owned();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_PROFILE", "x"),
    ];
    let block = format!(
        "provider \"appmesh\" {{\n  endpoint = \"{}\"\n}}\n",
        ws.endpoint()
    );
    apply_mesh_with(&ws, &block, &env);
    ws.recorder.assert_signed("AKIDCONFIGX", "eu-central-1");
    ws.destroy(&env);
}

// === errors ===

#[test]
fn no_credentials() {
    let ws = Workspace::new();
    let mesh = random_name();
    ws.write(&format!(
        "{}\nprovider \"appmesh\" {{\n  endpoint = \"{}\"\n  region   = \"us-east-1\"\n}}\n{}",
        required_providers(),
        ws.endpoint(),
        mesh_hcl(&mesh)
    ));
    // HOME is empty, so there are no shared files either.
    let out = ws.run(&["plan", "-input=false", "-no-color"], &[]);
    assert!(!out.success(), "the plan should fail\n{}", out.report());
    let text = unwrap_diagnostics(&out.output());
    assert!(
        Regex::new(r"Error: .*(?i)credentials")
            .unwrap()
            .is_match(&text),
        "the error should mention credentials\n{}",
        out.report()
    );
    assert!(ws.recorder.seen().is_empty(), "no request may be sent");
    assert!(ws.api().mesh_names().is_empty());
}

#[test]
fn half_static_credentials() {
    let ws = Workspace::new();
    ws.write(&format!(
        "{}\nprovider \"appmesh\" {{\n  endpoint   = \"{}\"\n  region     = \"us-east-1\"\n  access_key = \"AKID\"\n}}\n{}",
        required_providers(),
        ws.endpoint(),
        mesh_hcl(&random_name())
    ));
    let out = ws.run(&["plan", "-input=false", "-no-color"], &[]);
    assert!(!out.success(), "the plan should fail\n{}", out.report());
    let text = unwrap_diagnostics(&out.output());
    assert!(
        text.contains("secret_key"),
        "the error should name secret_key\n{}",
        out.report()
    );
}

#[test]
fn endpoint_not_a_url() {
    let case = TestCase::new();
    case.set_provider_config(&required_providers());
    let mesh = random_name();
    let config = format!(
        r#"
provider "appmesh" {{
  endpoint   = "appmesh.local:9080"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"
}}
{}"#,
        mesh_hcl(&mesh)
    );
    case.run(vec![Step::expect_error(
        config,
        // The error is about `endpoint` and points at that attribute in the block.
        r#"Error: .*endpoint.*URL.* in provider "appmesh": \d+:\s+endpoint\s+= "appmesh.local:9080""#,
    )]);
}

/// A control plane nobody answers at: apply says why (connection refused), where, and how
/// often it tried, instead of "error sending request".
#[test]
fn unreachable_endpoint_says_why() {
    let case = TestCase::new();
    case.set_provider_config(&required_providers());
    case.run(vec![Step::expect_apply_error(
        r#"
provider "appmesh" {
  endpoint    = "http://127.0.0.1:1"
  region      = "us-east-1"
  access_key  = "test"
  secret_key  = "test"
  max_retries = 1
}

resource "appmesh_mesh" "test" {
  name = "nobody-home"
}
"#,
        r"creating App Mesh Service Mesh \(nobody-home\): cannot connect to the App Mesh API at http://127\.0\.0\.1:1 \(.*Connection refused.*\); tried 2 times",
    )]);
}

// === default tags ===

fn default_tags_config(endpoint: &str, mesh: &str, default_env: &str) -> String {
    format!(
        r#"
provider "appmesh" {{
  endpoint   = "{endpoint}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"

  default_tags {{
    tags = {{
      env   = "{default_env}"
      owner = "platform"
    }}
  }}
}}

resource "appmesh_mesh" "test" {{
  name = "{mesh}"

  tags = {{
    Name  = "apps"
    owner = "mesh-team"
  }}
}}
"#
    )
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A check: the resource's own tags in `tags`, the merge (own tags win) in `tags_all` and
/// in the API.
fn check_default_tags(default_env: &'static str) -> impl Fn(&State, &Api) + 'static {
    move |state, api| {
        let own = map(&[("Name", "apps"), ("owner", "mesh-team")]);
        let all = map(&[
            ("Name", "apps"),
            ("owner", "mesh-team"),
            ("env", default_env),
        ]);
        assert_eq!(
            state.map(MESH, "tags"),
            own,
            "tags holds the resource's own tags"
        );
        assert_eq!(state.map(MESH, "tags_all"), all, "tags_all holds the merge");
        let arn = state.expect_attr(MESH, "arn");
        assert_eq!(api.tags(&arn), all, "the API holds the merge");
    }
}

#[test]
fn default_tags() {
    let case = TestCase::new();
    case.set_provider_config(&required_providers());
    let endpoint = case.endpoint().to_owned();
    let mesh = random_name();
    let m = mesh.clone();
    case.run(vec![
        Step::apply(default_tags_config(&endpoint, &mesh, "test"))
            .check(check_default_tags("test")),
        Step::plan_empty(),
        // Changing a default tag updates the resource's tags in place (not its spec).
        Step::expect_plan(
            default_tags_config(&endpoint, &mesh, "staging"),
            &[(MESH, UPDATE)],
        )
        .check(check_default_tags("staging"))
        .check(move |_, api| {
            assert_eq!(
                version(&api.get(&paths::mesh(&m))),
                1,
                "the spec is untouched"
            )
        }),
        Step::import_verify(MESH, &mesh),
        // Dropping the resource's own `owner` lets the default one through.
        Step::expect_plan(
            default_tags_config(&endpoint, &mesh, "staging")
                .replace("    owner = \"mesh-team\"\n", ""),
            &[(MESH, UPDATE)],
        )
        .check(|state, api| {
            let all = map(&[("Name", "apps"), ("env", "staging"), ("owner", "platform")]);
            assert_eq!(state.map(MESH, "tags"), map(&[("Name", "apps")]));
            assert_eq!(state.map(MESH, "tags_all"), all);
            assert_eq!(api.tags(&state.expect_attr(MESH, "arn")), all);
        }),
    ]);
}

// === the full credential chain ===

/// Writes an executable shell script next to the working directory.
fn script(ws: &Workspace, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = ws.file(name, &format!("#!/bin/sh\n{body}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The provider block every chain test uses: the relay, and nothing about credentials.
fn bare_block(ws: &Workspace, extra: &str) -> String {
    format!(
        "provider \"appmesh\" {{\n  endpoint = \"{}\"\n{extra}}}\n",
        ws.endpoint()
    )
}

/// Plans a mesh and returns the failure's diagnostics as one line of text.
fn plan_error(ws: &Workspace, provider_block: &str, env: &[(&str, &str)]) -> String {
    ws.write(&format!(
        "{}\n{provider_block}\n{}",
        required_providers(),
        mesh_hcl(&random_name())
    ));
    let out = ws.run(&["plan", "-input=false", "-no-color"], env);
    assert!(!out.success(), "the plan should fail\n{}", out.report());
    let text = unwrap_diagnostics(&out.output());
    eprintln!("{text}");
    text
}

#[test]
fn credential_process_profile() {
    let ws = Workspace::new();
    let process = script(
        &ws,
        "credentials.sh",
        r#"echo '{"Version":1,"AccessKeyId":"AKIDFROMPROCESS","SecretAccessKey":"process-secret","SessionToken":"tok"}'
"#,
    );
    let config = ws.file(
        "config",
        &format!(
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n\n\
             [profile proc]\nregion = eu-north-1\ncredential_process = {process}\n"
        ),
    );
    let config = config.to_str().unwrap().to_owned();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    apply_mesh_with(&ws, &bare_block(&ws, "  profile  = \"proc\"\n"), &env);
    ws.recorder.assert_signed("AKIDFROMPROCESS", "eu-north-1");
    ws.destroy(&env);
}

/// Credentials that have expired are fetched again before the next request, within one
/// terraform command (one provider process): here `credential_process` hands out a new key
/// each time, already expired, so every request is signed with a fresh one.
#[test]
fn expiring_credentials_are_refreshed_per_request() {
    let ws = Workspace::new();
    let counter = ws.dir.path().join("process-calls");
    let process = script(
        &ws,
        "credentials.sh",
        &format!(
            r#"n=$(( $(cat '{0}' 2>/dev/null || echo 0) + 1 ))
echo "$n" > '{0}'
echo '{{"Version":1,"AccessKeyId":"AKIDPROC'"$n"'","SecretAccessKey":"s","SessionToken":"t","Expiration":"2020-01-01T00:00:00Z"}}'
"#,
            counter.display()
        ),
    );
    let config = ws.file(
        "config",
        &format!("[default]\ncredential_process = {process}\n"),
    );
    let config = config.to_str().unwrap().to_owned();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    let mesh = random_name();
    ws.write(&format!(
        "{}\n{}\n{}",
        required_providers(),
        bare_block(&ws, "  region   = \"us-east-1\"\n"),
        mesh_hcl(&mesh)
    ));
    ws.apply(&env);
    // The refresh reads the mesh and its tags: several requests in one provider process.
    ws.assert_plan_empty(&env);
    let seen = ws.recorder.seen();
    assert!(seen.len() >= 3, "expected several requests: {seen:?}");
    let keys: std::collections::BTreeSet<&str> =
        seen.iter().map(|s| s.access_key.as_str()).collect();
    assert_eq!(
        keys.len(),
        seen.len(),
        "every request should carry freshly fetched credentials: {seen:?}"
    );
    assert!(keys.iter().all(|k| k.starts_with("AKIDPROC")), "{keys:?}");
    assert_eq!(ws.api().get(&paths::mesh(&mesh))["meshName"], mesh.as_str());
    ws.destroy(&env);
}

#[test]
fn shared_files_arguments() {
    // Files outside ~/.aws named in the block replace AWS_CONFIG_FILE and
    // AWS_SHARED_CREDENTIALS_FILE (which hold decoys), and lists of several files merge.
    let ws = Workspace::new();
    let decoy_config = ws.file("decoy-config", "[profile team]\nregion = us-west-1\n");
    let decoy_credentials = ws.file(
        "decoy-credentials",
        "[team]\naws_access_key_id = AKIDDECOY\naws_secret_access_key = s\n",
    );
    std::fs::create_dir(ws.dir.path().join("elsewhere")).unwrap();
    let config = ws.file("elsewhere/config", "[profile team]\nregion = sa-east-1\n");
    let base = ws.file(
        "elsewhere/base-credentials",
        "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s\n",
    );
    let team = ws.file(
        "elsewhere/team-credentials",
        "[team]\naws_access_key_id = AKIDSHAREDFILES\naws_secret_access_key = s\n",
    );
    let (decoy_config, decoy_credentials) = (
        decoy_config.to_str().unwrap().to_owned(),
        decoy_credentials.to_str().unwrap().to_owned(),
    );
    let env = [
        ("AWS_CONFIG_FILE", decoy_config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", decoy_credentials.as_str()),
    ];
    let block = bare_block(
        &ws,
        &format!(
            "  profile                  = \"team\"\n  shared_config_files      = [\"{}\"]\n  shared_credentials_files = [\"{}\", \"{}\"]\n",
            config.display(),
            base.display(),
            team.display()
        ),
    );
    apply_mesh_with(&ws, &block, &env);
    // The key and the region both come from the named files.
    ws.recorder.assert_signed("AKIDSHAREDFILES", "sa-east-1");
    ws.destroy(&env);
}

#[test]
fn missing_named_profile_is_an_error() {
    // A profile named explicitly must exist: the chain must not go on and sign as someone
    // else (here: the environment's keys).
    let ws = Workspace::new();
    let credentials = ws.file(
        "credentials",
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n",
    );
    let block = bare_block(
        &ws,
        &format!(
            "  region                   = \"us-east-1\"\n  profile                  = \"prod\"\n  shared_credentials_files = [\"{}\"]\n",
            credentials.display()
        ),
    );
    let env = [
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let text = plan_error(&ws, &block, &env);
    let expected = format!(
        "profile \"prod\" is not in the shared config/credentials files (/dev/null, {})",
        credentials.display()
    );
    assert!(text.contains(&expected), "expected {expected:?} in\n{text}");
    assert!(ws.recorder.seen().is_empty(), "no request may be sent");
}

#[test]
fn no_credentials_names_every_source_tried() {
    // The instance metadata service is pointed at a closed loopback port; it is the last
    // source tried, after the environment, the profile, web identity and the container.
    let ws = Workspace::new();
    let env = [
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"),
    ];
    let text = plan_error(&ws, &bare_block(&ws, "  region = \"us-east-1\"\n"), &env);
    let sources = [
        "no credentials found; tried access_key/secret_key: not set; ",
        "; environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): ",
        "; profile \"default\" in ~/.aws/config (missing), ~/.aws/credentials (missing): ",
        "; web identity (AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN): ",
        "; container credentials (",
        "; instance metadata (IMDS): ",
    ];
    let mut at = 0;
    for source in sources {
        let found = text[at..].find(source).map(|i| i + at);
        assert!(
            found.is_some(),
            "expected {source:?} after byte {at} in\n{text}"
        );
        at = found.unwrap_or(at);
    }
    assert!(ws.recorder.seen().is_empty(), "no request may be sent");

    // skip_metadata_api_check leaves it out, and says so.
    let block = bare_block(
        &ws,
        "  region                  = \"us-east-1\"\n  skip_metadata_api_check = true\n",
    );
    let text = plan_error(&ws, &block, &env);
    assert!(
        text.contains("instance metadata (IMDS): skipped (skip_metadata_api_check)"),
        "{text}"
    );
}

/// `role_arn` + `source_profile`: the SDK assumes the role with the source profile's keys at
/// the STS endpoint (`AWS_ENDPOINT_URL_STS`, here the relay in front of the control plane,
/// which does not answer STS), and the error says which profile failed and why.
#[test]
fn profile_role_chain_calls_sts() {
    let ws = Workspace::new();
    let config = ws.file(
        "config",
        "[profile base]\naws_access_key_id = AKIDSOURCEPROFILE\naws_secret_access_key = s\n\n\
         [profile deploy]\nregion = eu-west-2\nrole_arn = arn:aws:iam::123456789012:role/deployer\nsource_profile = base\n",
    );
    let config = config.to_str().unwrap().to_owned();
    let sts = ws.endpoint().to_owned();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_PROFILE", "deploy"),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    let text = plan_error(&ws, &bare_block(&ws, ""), &env);
    assert!(
        text.contains("getting credentials from the credential chain: profile \"deploy\" in "),
        "{text}"
    );
    let seen = ws.recorder.seen();
    assert!(!seen.is_empty(), "STS was not called");
    for s in &seen {
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str(), s.service.as_str()),
            ("AKIDSOURCEPROFILE", "eu-west-2", "sts"),
            "only STS may be called, with the source profile's keys: {seen:?}"
        );
    }
}

/// `assume_role {}` calls STS at `sts_endpoint`, which defaults to the App Mesh endpoint
/// (the relay in front of the control plane, which does not answer STS yet) with the
/// block's static keys, signed for `sts_region`; the error names the role and the endpoint.
#[test]
fn assume_role_calls_sts_at_the_endpoint() {
    let ws = Workspace::new();
    let block = bare_block(
        &ws,
        r#"  region     = "us-east-1"
  sts_region = "eu-central-1"
  access_key = "AKIDBEFOREROLE"
  secret_key = "s"

  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/terraform"
    session_name = "tf-acc"
    external_id  = "ext-1"
    duration     = "1h"
  }
"#,
    );
    let text = plan_error(&ws, &block, &[]);
    let expected = format!(
        "getting credentials from assuming role arn:aws:iam::123456789012:role/terraform through STS at {} (with credentials from access_key/secret_key): ",
        ws.endpoint()
    );
    assert!(text.contains(&expected), "expected {expected:?} in\n{text}");
    let seen = ws.recorder.seen();
    assert!(!seen.is_empty(), "STS was not called");
    for s in &seen {
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str(), s.service.as_str()),
            ("AKIDBEFOREROLE", "eu-central-1", "sts"),
            "only STS may be called, with the block's keys: {seen:?}"
        );
    }

    // An explicit sts_endpoint wins, and a bad duration is refused before any call.
    let block = bare_block(
        &ws,
        r#"  region       = "us-east-1"
  sts_endpoint = "http://127.0.0.1:1"
  access_key   = "AKIDBEFOREROLE"
  secret_key   = "s"
  max_retries  = 0

  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/terraform"
  }
"#,
    );
    let text = plan_error(&ws, &block, &[]);
    assert!(
        text.contains("role/terraform through STS at http://127.0.0.1:1 "),
        "{text}"
    );
    let before = ws.recorder.seen().len();
    let text = plan_error(
        &ws,
        &block.replace(
            "role/terraform\"\n",
            "role/terraform\"\n    duration = \"10m\"\n",
        ),
        &[],
    );
    assert!(
        text.contains("assume_role duration must be from 15 minutes to 12 hours, got \"10m\""),
        "{text}"
    );
    assert_eq!(ws.recorder.seen().len(), before);
}

// === roles through the control plane's STS ===

/// The access key the role tests start from, and the role it may assume.
const ROLE_BASE_KEY: &str = "AKIDROLEBASE";

impl Workspace {
    /// A workspace whose control plane checks signatures and knows, besides the harness's
    /// keys, [`ROLE_BASE_KEY`] (user `ci`) and the role `deployer` that `ci` may assume with
    /// the external id `ext-1`.
    fn with_role() -> Workspace {
        let access = format!(
            "{}[[keys]]\naccess_key_id = \"{ROLE_BASE_KEY}\"\nsecret_access_key = \"role-base-secret\"\naccount = \"{ACCOUNT_ID}\"\nprincipal = \"ci\"\n\n\
             [[roles]]\nname = \"deployer\"\naccount = \"{ACCOUNT_ID}\"\ntrusted = [\"arn:aws:iam::{ACCOUNT_ID}:user/ci\"]\nexternal_id = \"ext-1\"\n",
            appmesh_acceptance::control_plane::access_file_text()
        );
        let mut ws = Workspace::new();
        ws.cp = ControlPlane::start_with(&access, &[]);
        ws.recorder = Recorder::start(ws.cp.endpoint());
        ws
    }

    /// Asserts STS was called with [`ROLE_BASE_KEY`] and every App Mesh request was signed
    /// with the session's temporary key (`ASIA...`).
    fn assert_signed_as_role(&self) {
        let seen = self.recorder.seen();
        let (sts, appmesh): (Vec<&Signed>, Vec<&Signed>) =
            seen.iter().partition(|s| s.service == "sts");
        assert!(!sts.is_empty(), "STS was not called: {seen:?}");
        assert!(!appmesh.is_empty(), "App Mesh was not called: {seen:?}");
        for s in sts {
            assert_eq!(
                (s.access_key.as_str(), s.region.as_str()),
                (ROLE_BASE_KEY, REGION),
                "{seen:?}"
            );
        }
        for s in appmesh {
            assert!(
                s.access_key.starts_with("ASIA"),
                "not a session key: {seen:?}"
            );
            assert_eq!(s.region, REGION, "{seen:?}");
        }
    }
}

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:role/deployer")
}

#[test]
fn assume_role_through_the_control_plane_sts() {
    let ws = Workspace::with_role();
    let block = |external_id: &str| {
        bare_block(
            &ws,
            &format!(
                r#"  region     = "{REGION}"
  access_key = "{ROLE_BASE_KEY}"
  secret_key = "role-base-secret"

  assume_role {{
    role_arn     = "{}"
    session_name = "tf-acc"
    external_id  = "{external_id}"
    duration     = "1h"
  }}
"#,
                role_arn()
            ),
        )
    };
    // sts_endpoint defaults to the App Mesh endpoint: the control plane answers both.
    apply_mesh_with(&ws, &block("ext-1"), &[]);
    ws.assert_signed_as_role();
    ws.destroy(&[]);

    // The role asks for an external id; STS refuses a wrong one, and the error says who.
    let text = plan_error(&ws, &block("wrong"), &[]);
    let expected = format!(
        "getting credentials from assuming role {} through STS at {} (with credentials from access_key/secret_key): ",
        role_arn(),
        ws.endpoint()
    );
    assert!(text.contains(&expected), "expected {expected:?} in\n{text}");
    assert!(text.contains("AccessDenied"), "{text}");
}

#[test]
fn profile_role_chain_through_the_control_plane_sts() {
    let ws = Workspace::with_role();
    let config = ws.file(
        "config",
        &format!(
            "[profile base]\naws_access_key_id = {ROLE_BASE_KEY}\naws_secret_access_key = role-base-secret\n\n\
             [profile deploy]\nregion = {REGION}\nrole_arn = {}\nsource_profile = base\nexternal_id = ext-1\nrole_session_name = tf-acc\n",
            role_arn()
        ),
    );
    let config = config.to_str().unwrap().to_owned();
    let sts = ws.endpoint().to_owned();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    apply_mesh_with(&ws, &bare_block(&ws, "  profile = \"deploy\"\n"), &env);
    ws.assert_signed_as_role();
    ws.destroy(&env);
}
