//! Running the `terraform` CLI in a test's working directory.
//!
//! Each command gets its environment passed explicitly (never set process-wide): a CLI
//! configuration whose `dev_overrides` point `appmesh-community/appmesh` at the directory of
//! the provider binary, `TF_IN_AUTOMATION=1`, `CHECKPOINT_DISABLE=1` and
//! `RUST_LIB_BACKTRACE=0`. Every command is echoed; a failing one panics with its stdout and
//! stderr.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::state::{Plan, State};

/// Inherited variables that would change how terraform behaves under test.
const SCRUBBED_VARS: &[&str] = &["TF_WORKSPACE", "TF_DATA_DIR", "TF_INPUT", "TF_LOG_PATH"];

/// The result of one terraform command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// The exit code (`None` if killed by a signal or by the time limit).
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Outcome {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout and stderr together.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// A multi-line report of the command, exit code and output, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "$ {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// A terraform CLI bound to one working directory and one provider binary.
pub struct Terraform {
    bin: PathBuf,
    dir: PathBuf,
    cli_config: PathBuf,
    timeout: Duration,
    env: Vec<(String, String)>,
}

impl Terraform {
    /// Prepares `dir` as a working directory: writes the dev_overrides CLI configuration
    /// next to it (in `config_dir`) for `provider_bin`.
    pub fn new(dir: &Path, config_dir: &Path, provider_bin: &Path) -> Terraform {
        let provider_dir = provider_dir(config_dir, provider_bin);
        let cli_config = config_dir.join("terraformrc");
        let rc = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{}\" = {}\n  }}\n  direct {{}}\n}}\n",
            crate::PROVIDER_SOURCE,
            hcl_string(&provider_dir.to_string_lossy()),
        );
        std::fs::write(&cli_config, rc).expect("write the terraform CLI configuration");
        let bin = std::env::var_os("TF_ACC_TERRAFORM_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("terraform"));
        let timeout = std::env::var("APPMESH_ACC_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        Terraform {
            bin,
            dir: dir.to_path_buf(),
            cli_config,
            timeout,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every later command (e.g. credentials for a
    /// provider block that has none).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// The CLI configuration file (`TF_CLI_CONFIG_FILE`) every command runs with.
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `terraform ARGS` and returns whatever happened (no exit-code check).
    pub fn run(&self, args: &[&str]) -> Outcome {
        let command = format!("terraform {}", args.join(" "));
        eprintln!("$ {command}");
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("RUST_LIB_BACKTRACE", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            let scrub = name
                .to_str()
                .is_some_and(|n| n.starts_with("TF_CLI_ARGS") || SCRUBBED_VARS.contains(&n));
            if scrub {
                cmd.env_remove(&name);
            }
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "spawn {}: {e} (is terraform installed?)",
                self.bin.display()
            )
        });
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));

        let deadline = Instant::now() + self.timeout;
        let status: Option<ExitStatus> = loop {
            match child.try_wait().expect("wait for terraform") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    eprintln!(
                        "terraform did not finish within {:?}; killing it",
                        self.timeout
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        };
        Outcome {
            command,
            code: status.and_then(|s| s.code()),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        }
    }

    /// Runs `terraform ARGS` and panics with the full output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Outcome {
        let out = self.run(args);
        assert!(out.success(), "terraform command failed\n{}", out.report());
        out
    }

    /// `terraform apply -auto-approve` (optionally of a saved plan file).
    pub fn apply(&self, plan_file: Option<&str>) -> Outcome {
        let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
        args.extend(plan_file);
        self.ok(&args)
    }

    /// `terraform plan -detailed-exitcode`; returns the outcome (0 = no changes, 2 = changes).
    pub fn plan_detailed(&self) -> Outcome {
        self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
    }

    /// `terraform plan -out=FILE` followed by `terraform show -json FILE`.
    pub fn plan_saved(&self, plan_file: &str, extra: &[&str]) -> (Outcome, Plan) {
        let out_arg = format!("-out={plan_file}");
        let mut args = vec!["plan", "-input=false", "-no-color", out_arg.as_str()];
        args.extend_from_slice(extra);
        let out = self.ok(&args);
        let json = self.show_json(Some(plan_file));
        (out, Plan::from_show_json(json))
    }

    /// `terraform show -json [FILE]` parsed.
    pub fn show_json(&self, file: Option<&str>) -> Value {
        let mut args = vec!["show", "-json", "-no-color"];
        args.extend(file);
        let out = self.ok(&args);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "terraform show -json printed invalid JSON ({e})\n{}",
                out.report()
            )
        })
    }

    /// The current state.
    pub fn state(&self) -> State {
        State::from_show_json(self.show_json(None))
    }
}

/// The directory to put in `dev_overrides`: the binary's own directory when it is named
/// `terraform-provider-appmesh`, else a directory in `config_dir` with a symlink of that name.
fn provider_dir(config_dir: &Path, provider_bin: &Path) -> PathBuf {
    let bin = provider_bin
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", provider_bin.display()));
    if bin.file_name() == Some(OsString::from("terraform-provider-appmesh").as_os_str()) {
        return bin.parent().expect("a file has a parent").to_path_buf();
    }
    let dir = config_dir.join("provider-bin");
    std::fs::create_dir_all(&dir).expect("create the provider link directory");
    let link = dir.join("terraform-provider-appmesh");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&bin, &link).expect("symlink the provider binary");
    dir
}

/// Quotes `s` as an HCL string literal.
pub fn hcl_string(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace("${", "$${")
        .replace("%{", "%%{");
    format!("\"{escaped}\"")
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}
