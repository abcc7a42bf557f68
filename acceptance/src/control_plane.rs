//! A per-test `appmesh-control-plane serve` child process on `127.0.0.1:0`.
//!
//! The guard waits for the server's single ready line on stdout, keeps the data directory
//! and the stderr log in its own temporary directory, and SIGKILLs the child on drop
//! (printing the tail of the log when the test is failing).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::api::Api;
use crate::checks::{ACCOUNT_ID, REGION};

/// The prefix of the line the server prints once it accepts connections.
const READY_PREFIX: &str = "appmesh-control-plane listening on ";
/// How long the server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many log lines to print when a test fails.
const LOG_TAIL: usize = 40;

/// A running control plane; killed when dropped.
pub struct ControlPlane {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    dir: Option<tempfile::TempDir>,
}

/// The access file per-test control planes start with: the harness's key and the examples'
/// (`local`, `test`) in account [`ACCOUNT_ID`], and a second account's key.
pub fn access_file_text() -> String {
    let key = |id: &str, secret: &str, account: &str, principal: &str| {
        format!(
            "[[keys]]\naccess_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\naccount = \"{account}\"\nprincipal = \"{principal}\"\n\n"
        )
    };
    let mut text = key(
        crate::ACCESS_KEY,
        crate::SECRET_KEY,
        ACCOUNT_ID,
        "terraform",
    );
    if crate::ACCESS_KEY != "local" {
        text.push_str(&key("local", "local", ACCOUNT_ID, "examples"));
    }
    text.push_str(&key(
        crate::OTHER_ACCESS_KEY,
        crate::OTHER_SECRET_KEY,
        crate::OTHER_ACCOUNT_ID,
        "consumer",
    ));
    text
}

impl ControlPlane {
    /// Starts `appmesh-control-plane serve` on a free port with a fresh data directory and
    /// [`access_file_text`] as its access file.
    pub fn start() -> ControlPlane {
        ControlPlane::start_with(&access_file_text(), &[])
    }

    /// Starts it with `--insecure-dev` (signatures are not checked): for tests of which
    /// credentials and region the provider picks, which sign with keys and regions the
    /// server does not know. They record the signatures instead.
    pub fn start_insecure() -> ControlPlane {
        ControlPlane::start_with("", &["--insecure-dev"])
    }

    /// Starts it with `access` as the access file (unless empty) and `extra` flags.
    pub fn start_with(access: &str, extra: &[&str]) -> ControlPlane {
        let bin = crate::control_plane_bin();
        let dir = tempfile::Builder::new()
            .prefix("appmesh-acc-cp-")
            .tempdir()
            .expect("create a temporary directory for the control plane");
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("create the control-plane log file");
        let mut args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if !access.is_empty() {
            let path = dir.path().join("access.toml");
            std::fs::write(&path, access).expect("write the access file");
            args.extend(["--access-file".to_owned(), path.display().to_string()]);
        }

        if let Some(url) = test_postgres() {
            // Its own schema in the test PostgreSQL, named after the unique directory.
            let unique = dir
                .path()
                .file_name()
                .unwrap_or_default()
                .as_encoded_bytes();
            let hex: String = unique
                .iter()
                .rev()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            args.extend([
                "--database".to_owned(),
                url,
                "--database-schema".to_owned(),
                format!("t_{hex}"),
            ]);
        }

        let mut child = Command::new(&bin)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--region", REGION, "--account-id", ACCOUNT_ID])
            .args(&args)
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));

        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let (tx, rx) = mpsc::channel::<std::io::Result<String>>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });

        let mut cp = ControlPlane {
            child,
            endpoint: String::new(),
            log_path,
            dir: Some(dir),
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => panic!("reading the control plane's ready line: {e}"),
            Err(_) => panic!(
                "no ready line from the control plane within {READY_TIMEOUT:?}; log:\n{}",
                cp.logs()
            ),
        };
        let Some(endpoint) = line.trim_end().strip_prefix(READY_PREFIX) else {
            panic!(
                "unexpected first line from the control plane: {line:?} (exit status {:?}); log:\n{}",
                cp.child.try_wait().ok().flatten(),
                cp.logs()
            );
        };
        cp.endpoint = endpoint.to_owned();
        eprintln!("control plane {} (pid {})", cp.endpoint, cp.child.id());
        cp
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A REST client for this control plane.
    pub fn api(&self) -> Api {
        Api::new(&self.endpoint)
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            let logs = self.logs();
            let lines: Vec<&str> = logs.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
            eprintln!("--- control-plane log (last {} lines) ---", tail.len());
            for line in tail {
                eprintln!("{line}");
            }
        }
        if crate::keep_dirs() {
            if let Some(dir) = self.dir.take() {
                eprintln!("kept control-plane directory {}", dir.keep().display());
            }
        }
    }
}

/// The PostgreSQL server the control planes keep their data in instead of SQLite
/// (`APPMESH_TEST_POSTGRES`, set by `scripts/test --postgres`), if any.
pub fn test_postgres() -> Option<String> {
    std::env::var("APPMESH_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}
