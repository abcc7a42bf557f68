//! The release installs: the assets `scripts/release` writes are what the Terraform
//! Registry and `terraform init` expect, and the service definitions shipped with the
//! control plane start it.
//!
//! * `release_installs_from_a_filesystem_mirror` checks the `_SHA256SUMS` against the files,
//!   the zip's single entry and its mode, the manifest's protocol 6.0 and the control-plane
//!   tarball; then puts the zip in a packed `filesystem_mirror`, runs a real `terraform init`
//!   with no `dev_overrides` (the lock file must record the released version with the `h1:`
//!   hash of the zip), applies `examples/resources/appmesh_mesh` against the control plane
//!   from the tarball, re-plans empty and destroys.
//! * `release_signature_is_a_binary_detached_gpg_signature` signs with a throwaway RSA key.
//! * `systemd_unit_exec_start_is_accepted` and `container_settings_serve_and_pass_the_health_check`
//!   start the control plane the way `deploy/systemd` and `deploy/container` do.
//!
//! The release directory is `$APPMESH_RELEASE_DIR` (`scripts/test --release` builds one
//! with `scripts/release --out target/dist`), whose tarball's control plane then runs in
//! every test; when unset, the test packages the debug binaries with
//! `scripts/release --skip-build` into a temporary directory. Needs
//! `terraform`, `python3` (to read the zip), `sha256sum`, `tar` and `gpg`.
//! Run with `cargo test -p appmesh-acceptance --test release`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use appmesh_acceptance::terraform::hcl_string;
use appmesh_acceptance::{
    control_plane_bin, paths, provider_bin, workspace_root, Api, PROVIDER_SOURCE,
};
use serde_json::Value;

const PROJECT: &str = "terraform-provider-appmesh";
const CONTROL_PLANE: &str = "appmesh-control-plane";
const OS_ARCH: &str = "linux_amd64";
/// The endpoint written in `examples/provider/provider.tf`, replaced by the test's.
const EXAMPLE_ENDPOINT: &str = "http://127.0.0.1:9080";
const READY_PREFIX: &str = "appmesh-control-plane listening on ";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

// ---- helpers --------------------------------------------------------------------------------

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

/// What a finished command did.
struct Ran {
    line: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn report(&self) -> String {
        format!(
            "$ {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.line, self.code, self.stdout, self.stderr
        )
    }

    fn ok(self) -> Ran {
        assert_eq!(self.code, Some(0), "command failed\n{}", self.report());
        self
    }
}

/// Runs `cmd` to completion (killing it after [`COMMAND_TIMEOUT`]), capturing its output.
fn run(mut cmd: Command) -> Ran {
    let line = format!("{cmd:?}");
    eprintln!("$ {line}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {line}: {e}"));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_for(&mut child, COMMAND_TIMEOUT);
    if status.is_none() {
        eprintln!("{line} did not finish within {COMMAND_TIMEOUT:?}; killed it");
    }
    Ran {
        line,
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits up to `timeout` for `child`; kills it and returns `None` when it is still running.
fn wait_for(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The SHA-256 of a file, through coreutils' `sha256sum`.
fn sha256_file(path: &Path) -> String {
    let mut cmd = Command::new("sha256sum");
    cmd.arg(path);
    let out = run(cmd).ok();
    out.stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A control plane child process, started with whatever arguments a test gives it; it
/// must print the ready line. Killed on drop (its log is printed if the test is failing).
struct Server {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Server {
    fn start(mut cmd: Command, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("create the server log");
        cmd.env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        eprintln!("$ {cmd:?}");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let mut server = Server {
            child,
            endpoint: String::new(),
            log: log.to_path_buf(),
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            other => panic!(
                "no ready line within {READY_TIMEOUT:?} ({other:?}); log:\n{}",
                read(&server.log)
            ),
        };
        let Some(endpoint) = line.trim_end().strip_prefix(READY_PREFIX) else {
            panic!(
                "unexpected first line {line:?} (exit status {:?}); log:\n{}",
                server.child.try_wait().ok().flatten(),
                read(&server.log)
            );
        };
        server.endpoint = endpoint.to_owned();
        server
    }

    fn port(&self) -> u16 {
        let addr: SocketAddr = self
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .unwrap_or_else(|e| panic!("ready line address {}: {e}", self.endpoint));
        addr.port()
    }

    /// Sends SIGTERM and returns how the server exited.
    fn terminate(mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut kill = Command::new("kill");
        kill.args(["-TERM", &self.child.id().to_string()]);
        run(kill).ok();
        wait_for(&mut self.child, timeout)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "--- control-plane log ({}) ---\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

// ---- the release directory ------------------------------------------------------------------

/// A release directory and the version its files carry.
struct Release {
    dir: PathBuf,
    version: String,
    _tmp: Option<tempfile::TempDir>,
}

impl Release {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn zip_name(&self) -> String {
        format!("{PROJECT}_{}_{OS_ARCH}.zip", self.version)
    }
    fn manifest_name(&self) -> String {
        format!("{PROJECT}_{}_manifest.json", self.version)
    }
    fn sums_name(&self) -> String {
        format!("{PROJECT}_{}_SHA256SUMS", self.version)
    }
    fn tarball_name(&self) -> String {
        format!("{CONTROL_PLANE}_{}_{OS_ARCH}.tar.gz", self.version)
    }
}

/// `scripts/release --skip-build` with the given binaries into `out`.
fn package(
    out: &Path,
    provider: &Path,
    control_plane: &Path,
    extra: &[&str],
    envs: &[(&str, &Path)],
) {
    let mut cmd = Command::new(workspace_root().join("scripts").join("release"));
    cmd.arg("--skip-build")
        .arg("--provider-bin")
        .arg(provider)
        .arg("--control-plane-bin")
        .arg(control_plane)
        .arg("--out")
        .arg(out)
        .args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run(cmd).ok();
}

/// The version of the one `<project>_<version>_SHA256SUMS` file in `dir`
/// (or `$APPMESH_RELEASE_VERSION`).
fn release_version(dir: &Path) -> String {
    if let Ok(v) = std::env::var("APPMESH_RELEASE_VERSION") {
        return v;
    }
    let prefix = format!("{PROJECT}_");
    let versions: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)?
                .strip_suffix("_SHA256SUMS")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        versions.len(),
        1,
        "one {PROJECT}_<version>_SHA256SUMS in {} (found {versions:?}); set APPMESH_RELEASE_VERSION to pick one",
        dir.display()
    );
    versions[0].clone()
}

fn release() -> Release {
    if let Some(dir) = std::env::var_os("APPMESH_RELEASE_DIR") {
        let dir = PathBuf::from(dir);
        let version = release_version(&dir);
        eprintln!(
            "release {version} from APPMESH_RELEASE_DIR={}",
            dir.display()
        );
        return Release {
            dir,
            version,
            _tmp: None,
        };
    }
    let tmp = tempdir("appmesh-release-");
    package(tmp.path(), &provider_bin(), &control_plane_bin(), &[], &[]);
    let version = release_version(tmp.path());
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "scripts/release takes the version from [workspace.package]"
    );
    Release {
        dir: tmp.path().to_path_buf(),
        version,
        _tmp: Some(tmp),
    }
}

/// Unpacks the control-plane tarball into `dest`; returns the directory it wraps its files in.
fn unpack_tarball(rel: &Release, dest: &Path) -> PathBuf {
    std::fs::create_dir_all(dest).unwrap();
    let mut tar = Command::new("tar");
    tar.arg("-xzf")
        .arg(rel.file(&rel.tarball_name()))
        .arg("-C")
        .arg(dest);
    run(tar).ok();
    dest.join(format!("{CONTROL_PLANE}_{}_{OS_ARCH}", rel.version))
}

/// The control plane the service tests start: the release tarball's when
/// `APPMESH_RELEASE_DIR` is set (unpacked into `work`), else the workspace's build.
fn service_binary(work: &Path) -> PathBuf {
    if std::env::var_os("APPMESH_RELEASE_DIR").is_some() {
        unpack_tarball(&release(), &work.join("unpacked")).join(CONTROL_PLANE)
    } else {
        control_plane_bin()
    }
}

/// The zip's entries (name, unix mode) and the `h1:` hash Terraform computes for it
/// (golang.org/x/mod/sumdb/dirhash Hash1 over the files inside), read with Python's zipfile.
fn inspect_zip(zip: &Path) -> (Vec<(String, u32)>, String) {
    const SCRIPT: &str = r#"
import base64, hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    infos = z.infolist()
    entries = [[i.filename, i.external_attr >> 16] for i in infos]
    names = sorted(i.filename for i in infos)
    summary = "".join("%s  %s\n" % (hashlib.sha256(z.read(n)).hexdigest(), n) for n in names)
h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
print(json.dumps({"entries": entries, "h1": h1}))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(SCRIPT).arg(zip);
    let out = run(cmd).ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let entries = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_owned(),
                e[1].as_u64().unwrap() as u32,
            )
        })
        .collect();
    (entries, v["h1"].as_str().unwrap().to_owned())
}

/// Checks `_SHA256SUMS` against the files: every line names a file in the directory with
/// that hash, and it covers every provider zip and the manifest.
fn check_sums(rel: &Release) {
    let sums = read(&rel.file(&rel.sums_name()));
    let mut listed = BTreeMap::new();
    for line in sums.lines() {
        let (hash, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("SHA256SUMS line is not '<sha256>  <name>': {line:?}"));
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "sha256 in {line:?}"
        );
        assert_eq!(
            sha256_file(&rel.file(name)),
            hash,
            "{name}: the checksum in {}",
            rel.sums_name()
        );
        listed.insert(name.to_owned(), hash.to_owned());
    }
    let zip_prefix = format!("{PROJECT}_{}_", rel.version);
    for entry in std::fs::read_dir(&rel.dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(&zip_prefix) && name.ends_with(".zip") {
            assert!(
                listed.contains_key(&name),
                "{name} is in {}",
                rel.sums_name()
            );
        }
    }
    for name in [rel.zip_name(), rel.manifest_name()] {
        assert!(
            listed.contains_key(&name),
            "{name} is in {}:\n{sums}",
            rel.sums_name()
        );
    }
}

/// A terraform command in `dir` with only the given CLI configuration: no dev_overrides,
/// no plugin cache, nothing inherited that changes terraform's behaviour.
fn terraform(dir: &Path, cli_config: &Path, args: &[&str]) -> Ran {
    let bin = std::env::var_os("TF_ACC_TERRAFORM_PATH").unwrap_or_else(|| "terraform".into());
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", cli_config)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("RUST_LIB_BACKTRACE", "0");
    for (name, _) in std::env::vars_os() {
        let scrub = name.to_str().is_some_and(|n| {
            n.starts_with("TF_CLI_ARGS")
                || n.starts_with("TF_PLUGIN_CACHE")
                || ["TF_DATA_DIR", "TF_WORKSPACE", "TF_INPUT", "TF_LOG_PATH"].contains(&n)
        });
        if scrub {
            cmd.env_remove(&name);
        }
    }
    run(cmd)
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn release_installs_from_a_filesystem_mirror() {
    let rel = release();
    let v = rel.version.clone();
    let work = tempdir("appmesh-release-install-");

    // Checksums, zip, manifest.
    check_sums(&rel);
    let zip = rel.file(&rel.zip_name());
    let (entries, h1) = inspect_zip(&zip);
    let binary = format!("{PROJECT}_v{v}");
    assert_eq!(
        entries.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        vec![binary.as_str()],
        "the zip holds exactly the binary"
    );
    assert_eq!(
        entries[0].1, 0o100755,
        "{binary} is a regular file with mode 0755 (found {:o})",
        entries[0].1
    );
    let manifest_text = read(&rel.file(&rel.manifest_name()));
    let manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(manifest["version"], 1, "manifest version: {manifest_text}");
    assert_eq!(
        manifest["metadata"]["protocol_versions"],
        serde_json::json!(["6.0"]),
        "a protocol-6 provider: {manifest_text}"
    );
    assert_eq!(
        manifest_text,
        read(&workspace_root().join("terraform-registry-manifest.json")),
        "the manifest is a copy of terraform-registry-manifest.json"
    );

    // The control-plane tarball: the binary and the service definitions.
    let top = unpack_tarball(&rel, &work.path().join("unpacked"));
    let cp_bin = top.join(CONTROL_PLANE);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cp_bin).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o755, "{} mode", cp_bin.display());
    for shipped in [
        "README.md",
        "deploy/systemd/appmesh-control-plane.service",
        "deploy/container/Containerfile",
    ] {
        assert_eq!(
            read(&top.join(shipped)),
            read(&workspace_root().join(shipped)),
            "{shipped} in {}",
            rel.tarball_name()
        );
    }

    // A packed filesystem mirror and a CLI configuration that only knows it.
    let mirror = work.path().join("mirror");
    let pkg_dir = mirror.join("registry.terraform.io").join(PROVIDER_SOURCE);
    std::fs::create_dir_all(&pkg_dir).unwrap();
    std::fs::copy(&zip, pkg_dir.join(rel.zip_name())).unwrap();
    let cli_config = work.path().join("terraformrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = {}\n    include = [\"registry.terraform.io/{PROVIDER_SOURCE}\"]\n  }}\n}}\n",
            hcl_string(&mirror.to_string_lossy())
        ),
    )
    .unwrap();

    // The control plane from the tarball, and the mesh example pointed at it.
    let access = work.path().join("access.toml");
    std::fs::write(
        &access,
        appmesh_acceptance::control_plane::access_file_text(),
    )
    .unwrap();
    let mut serve = Command::new(&cp_bin);
    serve
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(work.path().join("data"))
        .arg("--access-file")
        .arg(&access);
    let server = Server::start(serve, &work.path().join("server.log"));
    let api = Api::new(&server.endpoint);
    let examples = workspace_root().join("examples");
    let provider_tf = read(&examples.join("provider").join("provider.tf"));
    assert!(
        provider_tf.contains(EXAMPLE_ENDPOINT),
        "provider.tf uses {EXAMPLE_ENDPOINT}"
    );
    let config = work.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("provider.tf"),
        provider_tf.replace(EXAMPLE_ENDPOINT, &server.endpoint),
    )
    .unwrap();
    std::fs::copy(
        examples
            .join("resources")
            .join("appmesh_mesh")
            .join("resource.tf"),
        config.join("resource.tf"),
    )
    .unwrap();

    // terraform init installs the released package.
    let init = terraform(&config, &cli_config, &["init", "-input=false", "-no-color"]).ok();
    assert!(
        init.stdout
            .contains(&format!("Installing {PROVIDER_SOURCE} v{v}")),
        "init installs {PROVIDER_SOURCE} v{v}\n{}",
        init.report()
    );
    let installed = config
        .join(".terraform/providers/registry.terraform.io")
        .join(PROVIDER_SOURCE)
        .join(&v)
        .join(OS_ARCH)
        .join(&binary);
    assert!(installed.is_file(), "{} exists", installed.display());
    let lock = read(&config.join(".terraform.lock.hcl"));
    let block = regex::Regex::new(&format!(
        r#"(?s)provider "registry\.terraform\.io/{}" \{{(.*?)\n\}}"#,
        regex::escape(PROVIDER_SOURCE)
    ))
    .unwrap();
    let body = block
        .captures(&lock)
        .unwrap_or_else(|| panic!("the lock file records {PROVIDER_SOURCE}:\n{lock}"))[1]
        .to_owned();
    assert!(
        body.contains(&format!("version = \"{v}\"")),
        "locked at {v}:\n{lock}"
    );
    assert!(
        body.contains(&format!("\"{h1}\"")),
        "the lock file has the zip's {h1}:\n{lock}"
    );

    // Apply the example, check it through the API, re-plan, destroy.
    terraform(
        &config,
        &cli_config,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    )
    .ok();
    let mesh = api.get(&paths::mesh("apps"));
    assert_eq!(mesh["meshName"], "apps", "{mesh}");
    assert_eq!(mesh["status"]["status"], "ACTIVE", "{mesh}");
    assert_eq!(mesh["spec"]["egressFilter"]["type"], "ALLOW_ALL", "{mesh}");
    let plan = terraform(
        &config,
        &cli_config,
        &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
    );
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after apply is empty\n{}",
        plan.report()
    );
    terraform(
        &config,
        &cli_config,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    )
    .ok();
    assert_eq!(
        api.mesh_names(),
        Vec::<String>::new(),
        "destroy removed the mesh"
    );
    drop(server);
}

#[test]
fn release_signature_is_a_binary_detached_gpg_signature() {
    assert!(
        Command::new("gpg").arg("--version").output().is_ok(),
        "gpg is not installed (Debian: gnupg)"
    );
    let work = tempdir("appmesh-release-sign-");
    let home = work.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    struct Agent(PathBuf);
    impl Drop for Agent {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .args(["--kill", "gpg-agent"])
                .env("GNUPGHOME", &self.0)
                .output();
        }
    }
    let _agent = Agent(home.clone());
    let gpg = |args: &[&str]| {
        let mut cmd = Command::new("gpg");
        cmd.arg("--batch").args(args).env("GNUPGHOME", &home);
        run(cmd).ok()
    };
    // The Registry accepts RSA (or DSA) keys, not ECC.
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "appmesh release test <release-test@example.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let listing = gpg(&["--with-colons", "--list-secret-keys"]);
    let fingerprint = listing
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_owned())
        .unwrap_or_else(|| panic!("no fingerprint in\n{}", listing.stdout));

    // Stand-in binaries: the signature does not depend on what they are.
    let bins = work.path().join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    for name in [PROJECT, CONTROL_PLANE] {
        let path = bins.join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let out = work.path().join("out");
    package(
        &out,
        &bins.join(PROJECT),
        &bins.join(CONTROL_PLANE),
        &["--version", "9.8.7", "--sign", &fingerprint],
        &[("GNUPGHOME", home.as_path())],
    );
    let sums = out.join(format!("{PROJECT}_9.8.7_SHA256SUMS"));
    let sig = out.join(format!("{PROJECT}_9.8.7_SHA256SUMS.sig"));
    let bytes = std::fs::read(&sig).unwrap_or_else(|e| panic!("{}: {e}", sig.display()));
    assert!(
        !bytes.is_empty() && bytes[0] & 0x80 != 0,
        "{} is a binary OpenPGP packet, not ASCII armor",
        sig.display()
    );
    let verify = gpg(&["--verify", &sig.to_string_lossy(), &sums.to_string_lossy()]);
    assert!(
        verify.stderr.contains("Good signature"),
        "gpg --verify\n{}",
        verify.report()
    );
}

/// Parses `KEY=VALUE` lines of a unit's `[Service]` section, keeping repeated keys in order.
fn unit_service_settings(unit: &str) -> Vec<(String, String)> {
    let mut section = "";
    let mut settings = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[Service]" {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("unit line {line:?}"));
            settings.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    settings
}

#[test]
fn systemd_unit_exec_start_is_accepted() {
    let unit_path = workspace_root().join("deploy/systemd/appmesh-control-plane.service");
    let settings = unit_service_settings(&read(&unit_path));
    let get = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let exec = get("ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart in {}", unit_path.display());
    let exec = exec[0].trim_start_matches(['@', '-', ':', '+', '!']);
    assert!(
        !exec.contains(['"', '\'', '\\', '%', '$']),
        "ExecStart uses no quoting, specifiers or variables, so splitting on spaces is exact: {exec}"
    );
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(
        argv[0], "/usr/local/bin/appmesh-control-plane",
        "ExecStart binary"
    );
    assert_eq!(argv[1], "serve");
    let state_dir = get("StateDirectory");
    assert_eq!(state_dir, vec!["appmesh"], "StateDirectory");
    assert_eq!(get("KillSignal"), vec!["SIGTERM"], "KillSignal");

    // The same flags, with this machine's binary, a temporary data dir and port 0.
    let work = tempdir("appmesh-systemd-");
    let data = work.path().join("data");
    let mut args: Vec<String> = Vec::new();
    let mut seen = BTreeMap::new();
    let mut rest = argv[2..].iter();
    while let Some(arg) = rest.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None if arg.starts_with("--") && *arg != "--" => {
                (arg.to_string(), rest.next().map(|v| v.to_string()))
            }
            None => (arg.to_string(), None),
        };
        let value = value.map(|value| match flag.as_str() {
            "--data-dir" => {
                assert_eq!(
                    value, "/var/lib/appmesh",
                    "--data-dir is the StateDirectory"
                );
                data.to_string_lossy().into_owned()
            }
            "--listen" => {
                let addr: SocketAddr = value
                    .parse()
                    .unwrap_or_else(|e| panic!("--listen {value}: {e}"));
                SocketAddr::new(addr.ip(), 0).to_string()
            }
            _ => value,
        });
        seen.insert(flag.clone(), value.clone());
        args.push(flag);
        args.extend(value);
    }
    for flag in ["--listen", "--data-dir"] {
        assert!(seen.contains_key(flag), "ExecStart passes {flag}");
    }
    // The access file arrives through LoadCredential= in the credentials directory (%d).
    let credentials = work.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let loaded = get("LoadCredential");
    assert_eq!(loaded.len(), 1, "one LoadCredential (the access file)");
    let (name, source) = loaded[0].split_once(':').expect("LoadCredential=NAME:PATH");
    assert_eq!(
        source, "/etc/appmesh/access.toml",
        "the access file's documented place"
    );
    std::fs::write(
        credentials.join(name),
        appmesh_acceptance::control_plane::access_file_text(),
    )
    .unwrap();
    let mut cmd = Command::new(service_binary(work.path()));
    cmd.arg("serve").args(&args);
    let mut access_from_credentials = false;
    for env in get("Environment") {
        for assignment in env.split_whitespace() {
            let (k, v) = assignment.split_once('=').unwrap();
            access_from_credentials |= k == "APPMESH_ACCESS_FILE" && v == format!("%d/{name}");
            cmd.env(k, v.replace("%d", &credentials.to_string_lossy()));
        }
    }
    assert!(
        access_from_credentials,
        "Environment=APPMESH_ACCESS_FILE=%d/{name} points the server at the loaded credential"
    );
    let server = Server::start(cmd, &work.path().join("server.log"));
    let health = Api::new(&server.endpoint).get("/healthz");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(
        data.join("appmesh.db").is_file(),
        "the database is in --data-dir"
    );
    let status = server.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM (the unit's KillSignal) stops the server cleanly within TimeoutStopSec: {status:?}"
    );
}

/// The instructions of a Containerfile's last stage, continuation lines joined.
fn final_stage(containerfile: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in containerfile.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        if trimmed.starts_with('#') {
            continue; // a comment inside a continued instruction
        }
        current.push_str(trimmed);
        let (op, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((op.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    let last_from = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    instructions.split_off(last_from)
}

fn json_argv(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("exec-form JSON array {s}: {e}"))
}

#[test]
fn container_settings_serve_and_pass_the_health_check() {
    let path = workspace_root().join("deploy/container/Containerfile");
    let stage = final_stage(&read(&path));
    let all = |op: &str| -> Vec<&str> {
        stage
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    let one = |op: &str| -> &str {
        let found = all(op);
        assert_eq!(
            found.len(),
            1,
            "one {op} in the runtime stage of {}",
            path.display()
        );
        found[0]
    };
    let mut env = BTreeMap::new();
    for args in all("ENV") {
        for assignment in args.split_whitespace() {
            assert!(
                !assignment.contains(['"', '\'']),
                "unquoted ENV values: {assignment}"
            );
            let (k, v) = assignment
                .split_once('=')
                .unwrap_or_else(|| panic!("ENV {assignment}"));
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    let listen: SocketAddr = env["APPMESH_LISTEN"].parse().unwrap();
    assert!(
        listen.ip().is_unspecified(),
        "the container listens on every interface: {listen}"
    );
    assert_eq!(
        one("EXPOSE"),
        listen.port().to_string(),
        "EXPOSE matches APPMESH_LISTEN"
    );
    assert_eq!(
        json_argv(one("VOLUME")),
        vec![env["APPMESH_DATA_DIR"].clone()],
        "VOLUME is the data dir"
    );
    let user = one("USER");
    assert!(
        !["root", "0", "0:0"].contains(&user) && !user.starts_with("root:"),
        "runs as a non-root user: {user}"
    );
    let entrypoint = json_argv(one("ENTRYPOINT"));
    let cmd_args = json_argv(one("CMD"));
    assert_eq!(entrypoint, vec!["/usr/local/bin/appmesh-control-plane"]);
    let healthcheck = one("HEALTHCHECK");
    let check = json_argv(&healthcheck[healthcheck.find("CMD [").unwrap() + 4..]);

    // Start the binary with the image's command and environment (loopback and port 0 in
    // the test, a temporary data dir).
    let work = tempdir("appmesh-container-");
    let data = work.path().join("data");
    let mut serve = Command::new(service_binary(work.path()));
    serve.args(&cmd_args);
    for (k, v) in &env {
        serve.env(k, v);
    }
    assert_eq!(
        env.get("APPMESH_ACCESS_FILE").map(String::as_str),
        Some("/etc/appmesh/access.toml"),
        "the image reads the access file from where the docs say to mount it"
    );
    let access = work.path().join("access.toml");
    std::fs::write(
        &access,
        appmesh_acceptance::control_plane::access_file_text(),
    )
    .unwrap();
    serve
        .env("APPMESH_LISTEN", "127.0.0.1:0")
        .env("APPMESH_DATA_DIR", &data)
        .env("APPMESH_ACCESS_FILE", &access);
    let server = Server::start(serve, &work.path().join("server.log"));
    assert!(
        data.join("appmesh.db").is_file(),
        "the database is in APPMESH_DATA_DIR"
    );

    // The health check as the container runs it, with the port the server got.
    let health = |port: u16| {
        let mut cmd = Command::new(&check[0]);
        cmd.args(&check[1..])
            .env("APPMESH_LISTEN", format!("{}:{port}", listen.ip()));
        run(cmd)
    };
    let port = server.port();
    let passing = health(port);
    assert_eq!(
        passing.code,
        Some(0),
        "the health check passes\n{}",
        passing.report()
    );
    let status = server.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM stops the server: {status:?}"
    );
    let failing = health(port);
    assert_ne!(
        failing.code,
        Some(0),
        "the health check fails once the server is gone"
    );
}
