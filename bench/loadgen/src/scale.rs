//! `appmesh-loadgen scale`: how the control plane behaves as one mesh grows to 100,000
//! virtual nodes, and how long it takes to start on that database.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::{Conn, Prepared, Target};
use crate::report::{self, Machine};
use crate::servers;
use crate::workload::{self, run_phase, Length, Rng, Stats};

/// Options of the `scale` command.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The control plane binary (a release build).
    #[arg(long)]
    ours: PathBuf,
    /// Mesh sizes to fill to and measure at, in order.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    levels: Vec<usize>,
    /// Requests per measurement (Describe, each List position, Create), from one client.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent clients filling the mesh.
    #[arg(long, default_value_t = 8)]
    fill_clients: usize,
    /// Where the server's data directory goes (a temporary directory is made inside).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// The Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks/scale.md")]
    out: PathBuf,
}

/// Requests signed at a time while filling: signatures stay valid for 15 minutes.
const FILL_CHUNK: usize = 20_000;

struct Fill {
    from: usize,
    to: usize,
    created: u64,
    errors: u64,
    first_error: Option<String>,
    wall: Duration,
    server_cpu: f64,
}

struct Level {
    level: usize,
    fill: Fill,
    rss: Option<u64>,
    describe: Stats,
    pages: usize,
    walk: Duration,
    /// (position label, page index, stats)
    lists: Vec<(&'static str, usize, Stats)>,
    create: Stats,
}

const MESH: &str = "scale";

async fn one_client(
    target: &Target,
    work: Vec<Prepared>,
    pid: u32,
) -> anyhow::Result<(Stats, Vec<usize>)> {
    let mut conns = vec![Conn::open(target.addr).await?];
    let (stats, mut ok) = run_phase(&mut conns, vec![work], Length::Once, false, Some(pid)).await?;
    Ok((stats, ok.pop().unwrap_or_default()))
}

/// Runs the scale benchmark and writes its report.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(!args.levels.is_empty(), "--levels needs at least one size");
    anyhow::ensure!(
        args.levels.windows(2).all(|w| w[0] < w[1]),
        "--levels must grow"
    );
    let machine = Machine::read();
    let parent = args.data_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent)?;
    let root = tempfile::Builder::new()
        .prefix("appmesh-scale-")
        .tempdir_in(&parent)?;
    let access = servers::write_access_file(root.path())?;
    let data_dir = root.path().join("data");
    let max_level = args.levels.last().copied().unwrap_or(0);
    let quota = (max_level + args.levels.len() * args.requests + 1000).max(200_000);
    let log = root.path().join("ours.log");
    let mut server = servers::start_ours(&args.ours, &data_dir, &access, quota, &log)?;
    let target = Target::new(server.addr);
    let pid = server.pid();

    let mut conn = Conn::open(target.addr).await?;
    workload::must(
        &mut conn,
        workload::create_mesh(&target, MESH)?,
        "CreateMesh",
    )
    .await?;
    let rss_start = server.rss_kib();

    let mut fill_conns = Vec::with_capacity(args.fill_clients);
    for _ in 0..args.fill_clients.max(1) {
        fill_conns.push(Conn::open(target.addr).await?);
    }
    let mut existing: Vec<String> = Vec::new();
    let mut next_fill = 0usize;
    let mut rng = Rng::new(0x5CA1E);
    let mut levels = Vec::new();

    for &level in &args.levels {
        // Fill with N clients, signing a chunk at a time.
        let mut fill = Fill {
            from: existing.len(),
            to: level,
            created: 0,
            errors: 0,
            first_error: None,
            wall: Duration::ZERO,
            server_cpu: 0.0,
        };
        eprintln!("[scale] filling {} → {level}…", existing.len());
        while existing.len() < level {
            let chunk = (level - existing.len()).min(FILL_CHUNK);
            let n = fill_conns.len();
            let names: Vec<Vec<String>> = workload::split(chunk, n)
                .into_iter()
                .map(|k| {
                    (0..k)
                        .map(|_| {
                            next_fill += 1;
                            format!("s{next_fill:07}")
                        })
                        .collect()
                })
                .collect();
            let work = names
                .iter()
                .map(|ns| {
                    ns.iter()
                        .map(|name| workload::create_node(&target, MESH, name))
                        .collect()
                })
                .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
            let (stats, ok) =
                run_phase(&mut fill_conns, work, Length::Once, false, Some(pid)).await?;
            fill.created += stats.ok;
            fill.errors += stats.errors;
            fill.wall += stats.wall;
            fill.server_cpu += stats.server_cpu.unwrap_or(0.0);
            if fill.first_error.is_none() {
                fill.first_error = stats.first_error.clone();
            }
            for (ns, ok) in names.iter().zip(ok) {
                existing.extend(ok.into_iter().map(|i| ns[i].clone()));
            }
            if stats.ok == 0 {
                anyhow::bail!(
                    "filling the mesh: no create succeeded: {}\n{}",
                    stats.first_error.unwrap_or_default(),
                    server.log_tail()
                );
            }
        }
        let rss = server.rss_kib();
        eprintln!(
            "[scale] {level} nodes: filled at {} creates/s; measuring…",
            report::rate(fill.created as f64 / fill.wall.as_secs_f64().max(1e-9))
        );

        let work = (0..args.requests)
            .map(|_| workload::describe_node(&target, MESH, &existing[rng.below(existing.len())]))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (describe, _) = one_client(&target, work, pid).await?;

        let (tokens, seen, walk) =
            workload::walk_pages(&mut conn, &target, MESH, usize::MAX).await?;
        if seen != existing.len() {
            eprintln!(
                "[scale] warning: the list walk saw {seen} nodes, {} were created",
                existing.len()
            );
        }
        let last = tokens.len() - 1;
        let mut lists = Vec::new();
        for (label, page) in [("start", 0), ("middle", last / 2), ("end", last)] {
            let req = workload::list_nodes(&target, MESH, tokens[page].as_deref())?;
            let work = vec![req; args.requests];
            let (stats, _) = one_client(&target, work, pid).await?;
            lists.push((label, page, stats));
        }

        let names: Vec<String> = (0..args.requests)
            .map(|i| format!("m{level}-{i:06}"))
            .collect();
        let work = names
            .iter()
            .map(|n| workload::create_node(&target, MESH, n))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (create, ok) = one_client(&target, work, pid).await?;
        existing.extend(ok.into_iter().map(|i| names[i].clone()));

        for (what, s) in [("Describe", &describe), ("Create", &create)]
            .into_iter()
            .chain(lists.iter().map(|(l, _, s)| (*l, s)))
        {
            eprintln!(
                "[scale] {level}: {what:<8} p50/p99/p99.9 ms {}  errors {}",
                report::percentiles(&s.hist),
                s.errors
            );
        }
        levels.push(Level {
            level,
            fill,
            rss,
            describe,
            pages: tokens.len(),
            walk,
            lists,
            create,
        });
    }
    drop(fill_conns);
    drop(conn);

    // Restart on the full database.
    let stored = existing.len();
    eprintln!("[scale] stopping (SIGTERM) and restarting on {stored} nodes…");
    let shutdown = server.stop()?;
    drop(server);
    let restarted = servers::start_ours(&args.ours, &data_dir, &access, quota, &log)?;
    let ready = restarted.ready_after;
    let probe = Target::new(restarted.addr);
    let first_name = existing.first().cloned().unwrap_or_default();
    let describe_wait = servers::wait_answering(
        &probe,
        &format!("/v20190125/meshes/{MESH}/virtualNodes/{first_name}"),
        Duration::from_secs(300),
    )
    .await?;
    let rss_restart = restarted.rss_kib();
    let mut restarted = restarted;
    let _ = restarted.stop();
    let disk = dir_size(&data_dir);

    let text = render(
        &args,
        &machine,
        &data_dir,
        rss_start,
        &levels,
        Restart {
            stored,
            shutdown,
            ready,
            first_describe: ready + describe_wait,
            rss: rss_restart,
            disk,
        },
    );
    println!("{text}");
    if let Some(p) = args.out.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(&args.out, &text)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

struct Restart {
    stored: usize,
    shutdown: Duration,
    ready: Duration,
    first_describe: Duration,
    rss: Option<u64>,
    disk: u64,
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn p50_p99(s: &Stats) -> String {
    let flag = if s.valid() { "" } else { " INVALID" };
    format!(
        "{} / {}{flag}",
        report::ms(s.hist.quantile(0.5)),
        report::ms(s.hist.quantile(0.99))
    )
}

fn render(
    args: &Args,
    machine: &Machine,
    data_dir: &std::path::Path,
    rss_start: Option<u64>,
    levels: &[Level],
    restart: Restart,
) -> String {
    let mut out = String::new();
    out.push_str("# Control plane at scale\n\n");
    out.push_str(
        "Generated by `scripts/bench scale` (the `appmesh-loadgen` crate in `bench/loadgen`); \
         run it again to regenerate this file rather than editing it.\n\n## Machine\n\n",
    );
    out.push_str(&machine.markdown(data_dir));
    out.push_str(&format!(
        "\n## Method\n\n\
         One control plane (release build, SQLite data directory on the file system above, \
         SigV4 checked, `RUST_LOG=warn`) and one mesh. The mesh is filled with \
         CreateVirtualNode from {} concurrent keep-alive clients to each size in turn \
         ({}); at each size one client then sends, one after another, {} DescribeVirtualNode \
         requests for random stored nodes, {} ListVirtualNodes requests (`limit=100`) for each \
         of three pages (the first, the middle one and the last, whose `nextToken`s come from \
         walking the whole list once), and {} CreateVirtualNode requests (so the mesh holds \
         that many more nodes at the next stage, which the fill tops up). Requests are \
         signed before they are timed; latency is from sending until the whole answer was \
         read. RSS is the server's `VmRSS` right after each fill. The machine's {} CPUs are \
         shared by the server and the load generator.\n\n\
         Finally the server is stopped with SIGTERM and started again on the same data \
         directory: start-up is timed from spawning the process to its ready line, and to the \
         first DescribeVirtualNode answered 200.\n\n",
        args.fill_clients,
        args.levels
            .iter()
            .map(|l| report::rate(*l as f64))
            .collect::<Vec<_>>()
            .join(", "),
        args.requests,
        args.requests,
        args.requests,
        machine.cpus,
    ));

    out.push_str("## Filling the mesh\n\n");
    let rows: Vec<Vec<String>> = levels
        .iter()
        .map(|l| {
            let f = &l.fill;
            let rate = f.created as f64 / f.wall.as_secs_f64().max(1e-9);
            vec![
                format!(
                    "{} → {}",
                    report::rate(f.from as f64),
                    report::rate(f.to as f64)
                ),
                report::rate(f.created as f64),
                format!("{:.1} s", f.wall.as_secs_f64()),
                report::rate(rate),
                if f.created > 0 {
                    format!("{:.0}", f.server_cpu * 1e6 / f.created as f64)
                } else {
                    "n/a".to_owned()
                },
                match &f.first_error {
                    None => "0".to_owned(),
                    Some(e) => format!("{} (first: {e})", f.errors),
                },
            ]
        })
        .collect();
    out.push_str(&report::table(
        &[
            "Stage",
            "created",
            "wall time",
            "creates/s",
            "server CPU µs/create",
            "errors",
        ],
        &rows,
    ));

    out.push_str("\n## Latency by mesh size\n\np50 / p99 in milliseconds, one client.\n\n");
    let rows: Vec<Vec<String>> = levels
        .iter()
        .map(|l| {
            let mut row = vec![report::rate(l.level as f64), p50_p99(&l.describe)];
            row.extend(l.lists.iter().map(|(_, _, s)| p50_p99(s)));
            row.push(p50_p99(&l.create));
            row.push(format!(
                "{} pages in {:.2} s",
                l.pages,
                l.walk.as_secs_f64()
            ));
            row
        })
        .collect();
    out.push_str(&report::table(
        &[
            "Nodes",
            "Describe",
            "List, first page",
            "List, middle page",
            "List, last page",
            "Create",
            "whole list walked",
        ],
        &rows,
    ));

    if let Some(first) = levels.first() {
        out.push_str(&format!(
            "\n## p99 growth\n\nEach p99 against the same figure at {} nodes.\n\n",
            report::rate(first.level as f64)
        ));
        let metrics = [
            "Describe",
            "List, first page",
            "List, middle page",
            "List, last page",
            "Create",
        ];
        let mut header: Vec<String> = vec!["p99".to_owned()];
        header.extend(
            levels
                .iter()
                .map(|l| format!("at {} (ms)", report::rate(l.level as f64))),
        );
        header.extend(
            levels
                .iter()
                .skip(1)
                .map(|l| format!("{}/{}", short(l.level), short(first.level))),
        );
        let rows: Vec<Vec<String>> = metrics
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let get = |l: &'_ Level| metric(l, i).hist.quantile(0.99);
                let base = get(first) as f64;
                let mut row = vec![(*name).to_owned()];
                row.extend(levels.iter().map(|l| report::ms(get(l))));
                row.extend(
                    levels
                        .iter()
                        .skip(1)
                        .map(|l| report::ratio(get(l) as f64, base)),
                );
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&report::table(&header, &rows));
    }

    out.push_str("\n## Memory\n\n");
    out.push_str(&format!(
        "RSS with the empty mesh: {}.\n\n",
        report::mib(rss_start)
    ));
    let rows: Vec<Vec<String>> = levels
        .iter()
        .map(|l| {
            let per_node = match (l.rss, rss_start) {
                (Some(r), Some(s)) if l.level > 0 => {
                    format!("{:.0} B", (r as f64 - s as f64) * 1024.0 / l.level as f64)
                }
                _ => "n/a".to_owned(),
            };
            vec![report::rate(l.level as f64), report::mib(l.rss), per_node]
        })
        .collect();
    out.push_str(&report::table(
        &["Nodes", "RSS", "RSS per node beyond the empty mesh"],
        &rows,
    ));

    out.push_str("\n## Restart on the full database\n\n");
    out.push_str(&report::table(
        &["", "value"],
        &[
            vec![
                "nodes stored".to_owned(),
                report::rate(restart.stored as f64),
            ],
            vec![
                "data directory size".to_owned(),
                format!("{:.1} MiB", restart.disk as f64 / 1024.0 / 1024.0),
            ],
            vec![
                "SIGTERM until the process exited".to_owned(),
                format!("{:.0} ms", restart.shutdown.as_secs_f64() * 1e3),
            ],
            vec![
                "process start until the ready line".to_owned(),
                format!("{:.0} ms", restart.ready.as_secs_f64() * 1e3),
            ],
            vec![
                "process start until the first Describe answered".to_owned(),
                format!("{:.0} ms", restart.first_describe.as_secs_f64() * 1e3),
            ],
            vec!["RSS after restart".to_owned(), report::mib(restart.rss)],
        ],
    ));
    out
}

/// The `i`th measurement of a level, in the order of the p99 table.
fn metric(l: &Level, i: usize) -> &Stats {
    match i {
        0 => &l.describe,
        1..=3 => &l.lists[i - 1].2,
        _ => &l.create,
    }
}

/// `1000` as `1k`, `100000` as `100k`.
fn short(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}
