//! Starting, watching and stopping the servers under test, each as its own process.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::Method;

use crate::client::{Conn, Target, ACCESS_KEY_ID, ACCOUNT, SECRET};

/// A running server process.
pub(crate) struct Server {
    /// What it is, for messages.
    pub(crate) name: String,
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// From spawning the process until it printed its ready line (or first answered).
    pub(crate) ready_after: Duration,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB (`VmRSS`), if the process is alive.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// The last lines of its log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Sends SIGTERM and waits (up to a minute) for the process to exit; returns how long
    /// that took. Kills it if it does not exit.
    pub(crate) fn stop(&mut self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        if !matches!(self.child.try_wait(), Ok(None)) {
            return Ok(Duration::ZERO);
        }
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            anyhow::bail!("kill -TERM {} failed", self.pid());
        }
        while start.elapsed() < Duration::from_secs(60) {
            if self.child.try_wait()?.is_some() {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.child.kill()?;
        self.child.wait()?;
        anyhow::bail!("{} did not exit within a minute of SIGTERM", self.name)
    }
}

/// `VmRSS` of a process in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User plus system CPU seconds of a process (`self` for this one).
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): the
    // state is field 3, utime field 14 and stime field 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Spawns `cmd` with stdout piped and waits for a line containing `http://ADDR`.
fn spawn_with_ready_line(
    name: &str,
    mut cmd: Command,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<Server> {
    let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if line.contains("http://") {
                let _ = tx.send(line);
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        for _ in lines {}
    });
    let mut server = Server {
        name: name.to_owned(),
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ready_after: Duration::ZERO,
        log: log.to_owned(),
    };
    let line = match rx.recv_timeout(timeout) {
        Ok(line) => line,
        Err(_) => anyhow::bail!(
            "{name} printed no ready line within {timeout:?}; its log ends:\n{}",
            server.log_tail()
        ),
    };
    server.ready_after = start.elapsed();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|a| a.split_whitespace().next())
        .context("no address in the ready line")?;
    server.addr = addr
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("{name}: bad address in {line:?}"))?;
    Ok(server)
}

/// The access file for our control plane: one key, no throttling.
pub(crate) fn write_access_file(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("access.toml");
    let text = format!(
        "[[keys]]\naccess_key_id = \"{ACCESS_KEY_ID}\"\nsecret_access_key = \"{SECRET}\"\n\
         account = \"{ACCOUNT}\"\nprincipal = \"bench\"\n\
         requests_per_second = 1000000000.0\nburst = 1000000000.0\n"
    );
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// Starts our control plane on a free port.
pub(crate) fn start_ours(
    bin: &Path,
    data_dir: &Path,
    access_file: &Path,
    node_quota: usize,
    log: &Path,
) -> anyhow::Result<Server> {
    let quota = format!("virtual-nodes-per-mesh={node_quota}");
    start_ours_with(bin, data_dir, access_file, &[quota], &[], log)
}

/// Starts our control plane on a free port with these quotas (`NAME=VALUE`) and extra
/// arguments.
pub(crate) fn start_ours_with(
    bin: &Path,
    data_dir: &Path,
    access_file: &Path,
    quotas: &[String],
    extra: &[String],
    log: &Path,
) -> anyhow::Result<Server> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--access-file")
        .arg(access_file)
        .args(quotas.iter().flat_map(|q| ["--quota", q.as_str()]))
        .args(extra)
        .env("RUST_LOG", "warn");
    spawn_with_ready_line("control plane", cmd, log, Duration::from_secs(120))
}

/// Starts the bare hyper server (this binary's `ceiling` command).
pub(crate) fn start_ceiling(log: &Path) -> anyhow::Result<Server> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("ceiling");
    spawn_with_ready_line("ceiling", cmd, log, Duration::from_secs(30))
}

/// Starts moto's server on a free port and waits until it answers a signed ListMeshes.
pub(crate) async fn start_moto(bin: &Path, log: &Path) -> anyhow::Result<Server> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log_file = File::create(log)?;
    let start = Instant::now();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut server = Server {
        name: "moto".to_owned(),
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        ready_after: Duration::ZERO,
        log: log.to_owned(),
    };
    let target = Target::new(server.addr);
    let ready = wait_answering(&target, "/v20190125/meshes", Duration::from_secs(120)).await;
    if ready.is_err() {
        anyhow::bail!(
            "moto did not answer within two minutes; its log ends:\n{}",
            server.log_tail()
        );
    }
    server.ready_after = start.elapsed();
    Ok(server)
}

/// Polls `GET path` until it answers 2xx; returns how long that took.
pub(crate) async fn wait_answering(
    target: &Target,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut last = String::from("no attempt");
    while start.elapsed() < timeout {
        match Conn::open(target.addr).await {
            Ok(mut conn) => {
                let req = target.prepare(Method::GET, path, "", None)?;
                match conn.send(req).await {
                    Ok(a) if a.ok() => return Ok(start.elapsed()),
                    Ok(a) => last = a.describe(),
                    Err(e) => last = format!("{e:#}"),
                }
            }
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    anyhow::bail!("GET {path} did not succeed within {timeout:?}: {last}")
}
