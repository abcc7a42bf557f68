//! `appmesh-loadgen control-plane`: our control plane, moto and the ceiling under the same
//! workload in one run, with the fsync cost of the disk, written up as Markdown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::client::Target;
use crate::fsync::{self, Fsync};
use crate::report::{self, Machine};
use crate::servers::{self, Server};
use crate::workload::{self, Length, Op, Run, Sizes, Stats};

/// Options of the `control-plane` command.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The control plane binary (a release build).
    #[arg(long)]
    ours: PathBuf,
    /// moto's `moto_server` script; moto is skipped without it.
    #[arg(long)]
    moto: Option<PathBuf>,
    /// Nodes created and deleted per client count; also how many Describe and Update
    /// requests are signed (and, with --seconds 0, sent).
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// List requests signed (and, with --seconds 0, sent); default a fifth of --requests.
    #[arg(long)]
    list_requests: Option<usize>,
    /// How long Describe, Update and List each run, cycling through their signed requests;
    /// 0 sends each signed request once instead. Create and Delete always do --requests.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Client counts, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    clients: Vec<usize>,
    /// Durable 4 KiB writes timed for the fsync cost (before and after our server's run).
    #[arg(long, default_value_t = 2000)]
    fsync_count: usize,
    /// Which servers to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "ours,moto,ceiling")]
    servers: Vec<Which>,
    /// Where the servers' data directories go (a temporary directory is made inside).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// The Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks/control-plane.md")]
    out: PathBuf,
}

/// A server to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Which {
    /// Our control plane.
    Ours,
    /// moto's server.
    Moto,
    /// The bare hyper server.
    Ceiling,
}

/// One server's results.
struct Measured {
    label: &'static str,
    version: String,
    ready_after: Duration,
    rss_start: Option<u64>,
    rss_end: Option<u64>,
    runs: Vec<(usize, Run)>,
}

impl Measured {
    fn get(&self, op: Op, clients: usize) -> Option<&Stats> {
        self.runs
            .iter()
            .find(|(c, _)| *c == clients)
            .and_then(|(_, run)| run.iter().find(|(o, _)| *o == op))
            .map(|(_, s)| s)
    }
}

fn version_of(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn measure(
    label: &'static str,
    mut server: Server,
    version: String,
    clients: &[usize],
    sizes: Sizes,
) -> anyhow::Result<Measured> {
    let target = Target::new(server.addr);
    let rss_start = server.rss_kib();
    let mut runs = Vec::new();
    for (i, &c) in clients.iter().enumerate() {
        eprintln!("[{label}] {c} client(s)…");
        let run = workload::run_workload(&target, Some(server.pid()), c, sizes, 0x5EED + i as u64)
            .await
            .map_err(|e| anyhow::anyhow!("{label}, {c} clients: {e:#}\n{}", server.log_tail()))?;
        for (op, s) in &run {
            eprintln!(
                "[{label}] {c} client(s) {:<10} {:>8} req/s  p50/p99/p99.9 ms {}  errors {}",
                op.label(),
                report::rate(s.rate()),
                report::percentiles(&s.hist),
                s.errors
            );
        }
        runs.push((c, run));
    }
    let rss_end = server.rss_kib();
    let _ = server.stop();
    Ok(Measured {
        label,
        version,
        ready_after: server.ready_after,
        rss_start,
        rss_end,
        runs,
    })
}

/// Runs the whole benchmark and writes the report.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let machine = Machine::read();
    let root_parent = args.data_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root_parent)?;
    let root = tempfile::Builder::new()
        .prefix("appmesh-bench-")
        .tempdir_in(&root_parent)?;
    let sizes = Sizes {
        requests: args.requests,
        list_requests: args.list_requests.unwrap_or((args.requests / 5).max(1)),
        length: if args.seconds > 0.0 {
            Length::For(Duration::from_secs_f64(args.seconds))
        } else {
            Length::Once
        },
        repeat_writes: false,
    };

    let fsync_now = |when: &'static str| {
        let dir = root.path().to_owned();
        let count = args.fsync_count;
        eprintln!("[fsync] {count} × (4 KiB append + fdatasync), {when}…");
        tokio::task::spawn_blocking(move || fsync::measure(&dir, count))
    };
    let mut fsyncs = Vec::new();
    let mut measured = Vec::new();
    for which in &args.servers {
        match which {
            Which::Ours => {
                fsyncs.push(("before our run", fsync_now("before our run").await??));
                let data_dir = root.path().join("ours");
                let access = servers::write_access_file(root.path())?;
                let ours = servers::start_ours(
                    &args.ours,
                    &data_dir,
                    &access,
                    200_000,
                    &root.path().join("ours.log"),
                )?;
                let version = version_of(Command::new(&args.ours).arg("--version"));
                measured.push(measure("ours", ours, version, &args.clients, sizes).await?);
                fsyncs.push(("after our run", fsync_now("after our run").await??));
            }
            Which::Moto => {
                let Some(moto_bin) = &args.moto else {
                    eprintln!("[moto] skipped: no --moto");
                    continue;
                };
                let moto = servers::start_moto(moto_bin, &root.path().join("moto.log")).await?;
                let python = moto_bin.with_file_name("python");
                let version = version_of(
                    Command::new(python)
                        .args(["-c", "import moto; print('moto', moto.__version__)"]),
                );
                measured.push(measure("moto", moto, version, &args.clients, sizes).await?);
            }
            Which::Ceiling => {
                let ceiling = servers::start_ceiling(&root.path().join("ceiling.log"))?;
                let version = format!(
                    "appmesh-loadgen {} `ceiling` (hyper 1, HTTP/1.1, a fixed {}-byte body)",
                    env!("CARGO_PKG_VERSION"),
                    crate::ceiling::body_len()
                );
                let sizes = Sizes {
                    repeat_writes: true,
                    ..sizes
                };
                measured.push(measure("ceiling", ceiling, version, &args.clients, sizes).await?);
            }
        }
    }

    let text = render(&args, &machine, root.path(), sizes, &fsyncs, &measured);
    println!("{text}");
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &text)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn cell(s: Option<&Stats>) -> (String, String) {
    match s {
        None => ("—".to_owned(), "—".to_owned()),
        Some(s) if !s.valid() => (
            format!("INVALID ({} errors)", s.errors),
            report::percentiles(&s.hist),
        ),
        Some(s) => (report::rate(s.rate()), report::percentiles(&s.hist)),
    }
}

fn stat(m: Option<&Measured>, op: Op, clients: usize) -> Option<&Stats> {
    m.and_then(|m| m.get(op, clients))
}

fn rate_of(s: Option<&Stats>) -> Option<f64> {
    s.filter(|s| s.valid()).map(Stats::rate)
}

fn ratio_cell(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => report::ratio(a, b),
        _ => "n/a".to_owned(),
    }
}

fn render(
    args: &Args,
    machine: &Machine,
    data_dir: &Path,
    sizes: Sizes,
    fsyncs: &[(&str, Fsync)],
    measured: &[Measured],
) -> String {
    let find = |label: &str| measured.iter().find(|m| m.label == label);
    let (ours, moto, ceiling) = (find("ours"), find("moto"), find("ceiling"));
    let mut out = String::new();
    out.push_str("# Control plane benchmark\n\n");
    out.push_str(
        "Generated by `scripts/bench` (the `appmesh-loadgen` crate in `bench/loadgen`); \
         run it again to regenerate this file rather than editing it.\n\n",
    );
    out.push_str("## Machine\n\n");
    out.push_str(&machine.markdown(data_dir));
    out.push_str("\nServers measured:\n\n");
    for m in measured {
        out.push_str(&format!("- {}: {}\n", m.label, m.version));
    }
    out.push_str("\n## Method\n\n");
    let length = match sizes.length {
        Length::Once => format!(
            "{} nodes are created, then {} Describe and {} Update requests and {} List \
             requests are sent, then every created node is deleted",
            sizes.requests, sizes.requests, sizes.requests, sizes.list_requests
        ),
        Length::For(d) => format!(
            "{} nodes are created; Describe, Update and List each run for {} s, cycling \
             through {}, {} and {} signed requests; then every created node is deleted",
            sizes.requests,
            d.as_secs_f64(),
            sizes.requests,
            sizes.requests,
            sizes.list_requests
        ),
    };
    out.push_str(&format!(
        "One server runs at a time, each as its own process on 127.0.0.1: our control plane \
         (release build, SQLite data directory on the file system above, SigV4 checked, \
         `RUST_LOG=warn`), moto's server (`moto_server`, Python, in memory, it does not check \
         signatures), and the ceiling, a bare hyper 1 HTTP/1.1 server in this binary that \
         answers every request with the same {}-byte DescribeVirtualNode body (the most a \
         server can answer on this machine through this client and kernel; as it stores nothing, \
         its Create and Delete phases also cycle through their requests for as long as the \
         other phases).\n\n\
         For each client count ({}) the load generator makes a fresh mesh and runs the phases \
         in order: {length}. Describe picks random existing nodes; Update changes the port of \
         the client's own nodes round robin; List asks for random pages (`limit=100`) of the \
         whole mesh, with the `nextToken`s found by walking the list once before the phase. \
         Requests of a phase are built and SigV4-signed (us-east-1, `appmesh`) before the \
         phase starts, so signing is not timed.\n\n\
         Each client owns one keep-alive HTTP/1.1 connection (hyper, `TCP_NODELAY`) and sends \
         its requests one after another; the clients of a phase start together and split its \
         requests evenly. A request's latency runs from handing it to the connection until \
         the whole answer has been read, including a reconnection when the server had closed \
         the connection (moto may; the reconnections are counted below). Latencies go into a \
         log-linear histogram (0.8 % buckets) per client, merged per phase; requests/s is the \
         number of 2xx answers over the phase's wall time. Any other answer or failure is an \
         error and marks the row INVALID.\n\n\
         **The machine has {} CPUs, shared by the server and the load generator** (and by \
         anything else running). With 8 clients both compete for the same cores, so the \
         8-client rows measure the server's efficiency per CPU more than its scaling; the \
         CPU table below says how much of each the server and the generator used (— where \
         a phase was too short for /proc's 10 ms clock ticks).\n\n",
        crate::ceiling::body_len(),
        args.clients
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        machine.cpus
    ));

    out.push_str("## Throughput and latency\n\n");
    out.push_str(
        "Requests per second and latency percentiles p50 / p99 / p99.9 in milliseconds. \
         The ratios are throughput ratios: ours/moto above 1 means ours answers more \
         requests per second; ours/ceiling is the share of the loopback ceiling ours reaches.\n\n",
    );
    let mut rows = Vec::new();
    for op in Op::ALL {
        for &c in &args.clients {
            let get = |m| stat(m, op, c);
            let (o_rate, o_pct) = cell(get(ours));
            let (m_rate, m_pct) = cell(get(moto));
            let (c_rate, c_pct) = cell(get(ceiling));
            rows.push(vec![
                op.label().to_owned(),
                c.to_string(),
                o_rate,
                o_pct,
                m_rate,
                m_pct,
                c_rate,
                c_pct,
                ratio_cell(rate_of(get(ours)), rate_of(get(moto))),
                ratio_cell(rate_of(get(ours)), rate_of(get(ceiling))),
            ]);
        }
    }
    out.push_str(&report::table(
        &[
            "Operation",
            "Clients",
            "ours req/s",
            "ours ms",
            "moto req/s",
            "moto ms",
            "ceiling req/s",
            "ceiling ms",
            "ours/moto",
            "ours/ceiling",
        ],
        &rows,
    ));

    out.push_str("\n## Durability: what one fsync costs\n\n");
    out.push_str(&format!(
        "Appends of 4 KiB, each followed by `fdatasync`, on a file in the directory that \
         holds the servers' data, timed just before and just after our server's run (the \
         disk of a virtual machine varies). One writer doing one durable write after another \
         manages 1 / median of them per second. A server that made every acknowledged write \
         durable with an fsync of its own could not answer more writes per second than that \
         per writer; a fraction above 1.00× means fsyncs are shared between requests (group \
         commit) or not every write is synced. The fractions use the mean of the {} \
         medians.\n\n",
        fsyncs.len()
    ));
    let rows: Vec<Vec<String>> = fsyncs
        .iter()
        .map(|(when, f)| {
            vec![
                (*when).to_owned(),
                f.hist.count().to_string(),
                report::ms(f.hist.quantile(0.5)),
                report::ms(f.hist.quantile(0.99)),
                report::ms(f.hist.max()),
                report::rate(f.rate()),
            ]
        })
        .collect();
    out.push_str(&report::table(
        &[
            "fsync",
            "writes",
            "median ms",
            "p99 ms",
            "max ms",
            "1/median per s",
        ],
        &rows,
    ));
    let fsync_rate = if fsyncs.is_empty() {
        None
    } else {
        let mean_median =
            fsyncs.iter().map(|(_, f)| f.median_secs()).sum::<f64>() / fsyncs.len() as f64;
        Some(1.0 / mean_median)
    };
    let mut rows = Vec::new();
    for op in [Op::Create, Op::Update, Op::Delete] {
        for &c in &args.clients {
            if let Some(s) = ours.and_then(|m| m.get(op, c)) {
                rows.push(vec![
                    op.label().to_owned(),
                    c.to_string(),
                    cell(Some(s)).0,
                    ratio_cell(rate_of(Some(s)), fsync_rate),
                ]);
            }
        }
    }
    if let Some(r) = fsync_rate {
        out.push_str(&format!(
            "\nOur writes against {} durable writes per second:\n\n",
            report::rate(r)
        ));
    }
    out.push_str(&report::table(
        &["Our operation", "Clients", "req/s", "fraction of 1/fsync"],
        &rows,
    ));

    out.push_str("\n## Server resources\n\n");
    let rows: Vec<Vec<String>> = measured
        .iter()
        .map(|m| {
            vec![
                m.label.to_owned(),
                format!("{:.0} ms", m.ready_after.as_secs_f64() * 1e3),
                report::mib(m.rss_start),
                report::mib(m.rss_end),
            ]
        })
        .collect();
    out.push_str(&report::table(
        &[
            "Server",
            "start-up (until ready)",
            "RSS when ready",
            "RSS after the run",
        ],
        &rows,
    ));
    for m in measured {
        let (reconnects, requests) = m
            .runs
            .iter()
            .flat_map(|(_, run)| run.iter())
            .fold((0u64, 0u64), |(r, n), (_, s)| {
                (r + s.reconnects, n + s.ok + s.errors)
            });
        if requests > 0 && reconnects as f64 >= 0.9 * requests as f64 {
            out.push_str(&format!(
                "\n{} closed the connection after (nearly) every answer ({} reconnections for \
                 {} requests), so its latencies include opening a TCP connection, as they do \
                 for any client of it.\n",
                m.label, reconnects, requests
            ));
        }
    }
    out.push_str(
        "\nCPU per phase: the server's CPU time per answered request, and the share of one \
         CPU the server and the load generator each used over the phase's wall time.\n\n",
    );
    let mut rows = Vec::new();
    for m in measured {
        for (c, run) in &m.runs {
            for (op, s) in run {
                let wall = s.wall.as_secs_f64();
                // /proc counts CPU in clock ticks (usually 10 ms): too coarse for short phases.
                let long_enough = wall >= 0.5;
                let pct = |cpu: Option<f64>| match cpu {
                    Some(v) if long_enough => format!("{:.0} %", 100.0 * v / wall),
                    _ => "—".to_owned(),
                };
                rows.push(vec![
                    m.label.to_owned(),
                    op.label().to_owned(),
                    c.to_string(),
                    s.server_cpu
                        .filter(|_| s.ok > 0 && long_enough)
                        .map_or_else(
                            || "—".to_owned(),
                            |v| format!("{:.0}", v * 1e6 / s.ok as f64),
                        ),
                    pct(s.server_cpu),
                    pct(s.gen_cpu),
                    s.reconnects.to_string(),
                    format!("{:.2} s", wall),
                ]);
            }
        }
    }
    out.push_str(&report::table(
        &[
            "Server",
            "Operation",
            "Clients",
            "server CPU µs/request",
            "server CPU",
            "generator CPU",
            "reconnections",
            "wall time",
        ],
        &rows,
    ));

    let errors: Vec<String> = measured
        .iter()
        .flat_map(|m| {
            m.runs.iter().flat_map(move |(c, run)| {
                run.iter().filter(|(_, s)| !s.valid()).map(move |(op, s)| {
                    format!(
                        "- {} {} with {c} client(s): {} errors of {}; first: {}\n",
                        m.label,
                        op.label(),
                        s.errors,
                        s.errors + s.ok,
                        s.first_error.as_deref().unwrap_or("no request succeeded")
                    )
                })
            })
        })
        .collect();
    out.push_str("\n## Errors\n\n");
    if errors.is_empty() {
        out.push_str("None: every request of every row was answered 2xx.\n");
    } else {
        out.push_str("These rows are INVALID:\n\n");
        for e in errors {
            out.push_str(&e);
        }
    }
    out
}
