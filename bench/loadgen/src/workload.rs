//! The virtual-node workload: phases of pre-signed requests run by N clients at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::Method;
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::client::{encode_query_value, Conn, Prepared, Target};
use crate::hist::Histogram;
use crate::servers::cpu_secs;

/// The operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    /// CreateVirtualNode.
    Create,
    /// DescribeVirtualNode.
    Describe,
    /// UpdateVirtualNode.
    Update,
    /// ListVirtualNodes, one page of 100.
    List,
    /// DeleteVirtualNode.
    Delete,
}

impl Op {
    /// Every operation, in the order they run.
    pub(crate) const ALL: [Op; 5] = [Op::Create, Op::Describe, Op::Update, Op::List, Op::Delete];

    /// The row label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Op::Create => "Create",
            Op::Describe => "Describe",
            Op::Update => "Update",
            Op::List => "List (100)",
            Op::Delete => "Delete",
        }
    }
}

/// How long a phase runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Length {
    /// Each prepared request is sent once.
    Once,
    /// Prepared requests are sent in a loop until the time is up (with `repeat`, for phases
    /// whose requests may repeat: Describe, Update, List), or once each but no longer.
    For(Duration),
}

/// What one phase measured.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Latencies of the 2xx answers, in nanoseconds.
    pub(crate) hist: Histogram,
    /// 2xx answers.
    pub(crate) ok: u64,
    /// Other answers and failed requests.
    pub(crate) errors: u64,
    /// The first error, verbatim.
    pub(crate) first_error: Option<String>,
    /// From the start signal until the last client finished.
    pub(crate) wall: Duration,
    /// Connections re-opened because the server closed them.
    pub(crate) reconnects: u64,
    /// CPU seconds the server used during the phase.
    pub(crate) server_cpu: Option<f64>,
    /// CPU seconds the load generator used during the phase.
    pub(crate) gen_cpu: Option<f64>,
}

impl Stats {
    /// 2xx answers per second.
    pub(crate) fn rate(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.wall.as_secs_f64()
        }
    }

    /// Whether every request succeeded.
    pub(crate) fn valid(&self) -> bool {
        self.errors == 0 && self.ok > 0
    }
}

/// One client's share of a phase.
struct ClientOut {
    hist: Histogram,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    /// Indices (into the client's work) that succeeded, in order.
    succeeded: Vec<usize>,
}

async fn client_loop(
    conn: &mut Conn,
    work: Vec<Prepared>,
    length: Length,
    repeat: bool,
) -> ClientOut {
    let mut out = ClientOut {
        hist: Histogram::new(),
        ok: 0,
        errors: 0,
        first_error: None,
        succeeded: Vec::new(),
    };
    let deadline = match length {
        Length::Once => None,
        Length::For(d) => Some(Instant::now() + d),
    };
    let mut record =
        |i: usize, took: Duration, answer: anyhow::Result<crate::client::Answer>| match answer {
            Ok(a) if a.ok() => {
                out.ok += 1;
                out.hist
                    .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
                out.succeeded.push(i);
            }
            Ok(a) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| a.describe());
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        };
    let passed = |d: Option<Instant>| d.is_some_and(|d| Instant::now() >= d);
    if repeat && deadline.is_some() && !work.is_empty() {
        let mut i = 0usize;
        while !passed(deadline) {
            let (took, answer) = conn.timed(work[i % work.len()].clone()).await;
            record(i % work.len(), took, answer);
            i += 1;
        }
    } else {
        for (i, p) in work.into_iter().enumerate() {
            if passed(deadline) {
                break;
            }
            let (took, answer) = conn.timed(p).await;
            record(i, took, answer);
        }
    }
    out
}

/// Runs one phase: client `c` sends `work[c]` on `conns[c]`, all starting together.
/// Returns the merged statistics and, per client, the indices of the requests that succeeded.
pub(crate) async fn run_phase(
    conns: &mut Vec<Conn>,
    work: Vec<Vec<Prepared>>,
    length: Length,
    repeat: bool,
    server_pid: Option<u32>,
) -> anyhow::Result<(Stats, Vec<Vec<usize>>)> {
    anyhow::ensure!(conns.len() == work.len(), "one work list per client");
    let n = conns.len();
    let barrier = Arc::new(Barrier::new(n + 1));
    let reconnects_before: u64 = conns.iter().map(|c| c.reconnects).sum();
    let mut handles = Vec::with_capacity(n);
    for (mut conn, w) in std::mem::take(conns).into_iter().zip(work) {
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            let out = client_loop(&mut conn, w, length, repeat).await;
            (conn, out)
        }));
    }
    let server_cpu0 = server_pid.and_then(|p| cpu_secs(&p.to_string()));
    let gen_cpu0 = cpu_secs("self");
    barrier.wait().await;
    let start = Instant::now();
    let mut outs = Vec::with_capacity(n);
    for h in handles {
        let (conn, out) = h.await.context("a client task failed")?;
        conns.push(conn);
        outs.push(out);
    }
    let wall = start.elapsed();
    let server_cpu1 = server_pid.and_then(|p| cpu_secs(&p.to_string()));
    let gen_cpu1 = cpu_secs("self");
    let mut stats = Stats {
        hist: Histogram::new(),
        ok: 0,
        errors: 0,
        first_error: None,
        wall,
        reconnects: conns.iter().map(|c| c.reconnects).sum::<u64>() - reconnects_before,
        server_cpu: server_cpu0.zip(server_cpu1).map(|(a, b)| b - a),
        gen_cpu: gen_cpu0.zip(gen_cpu1).map(|(a, b)| b - a),
    };
    let mut succeeded = Vec::with_capacity(n);
    for out in outs {
        stats.hist.merge(&out.hist);
        stats.ok += out.ok;
        stats.errors += out.errors;
        if stats.first_error.is_none() {
            stats.first_error = out.first_error;
        }
        succeeded.push(out.succeeded);
    }
    Ok((stats, succeeded))
}

/// A small, fast, seeded pseudo-random generator (SplitMix64).
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A number below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// The spec every benchmark node gets (`port` varies for updates).
pub(crate) fn node_spec(name: &str, port: u16) -> Value {
    json!({
        "listeners": [{"portMapping": {"port": port, "protocol": "http2"}}],
        "serviceDiscovery": {"dns": {"hostname": format!("{name}.apps.local")}},
    })
}

fn body(v: &Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

/// Signed CreateMesh.
pub(crate) fn create_mesh(t: &Target, mesh: &str) -> anyhow::Result<Prepared> {
    t.prepare(
        Method::PUT,
        "/v20190125/meshes",
        "",
        body(&json!({"meshName": mesh, "spec": {}})),
    )
}

/// Signed CreateVirtualNode.
pub(crate) fn create_node(t: &Target, mesh: &str, name: &str) -> anyhow::Result<Prepared> {
    t.prepare(
        Method::PUT,
        &format!("/v20190125/meshes/{mesh}/virtualNodes"),
        "",
        body(&json!({"virtualNodeName": name, "spec": node_spec(name, 80)})),
    )
}

/// Signed DescribeVirtualNode.
pub(crate) fn describe_node(t: &Target, mesh: &str, name: &str) -> anyhow::Result<Prepared> {
    t.prepare(
        Method::GET,
        &format!("/v20190125/meshes/{mesh}/virtualNodes/{name}"),
        "",
        None,
    )
}

/// Signed UpdateVirtualNode with a new port.
pub(crate) fn update_node(
    t: &Target,
    mesh: &str,
    name: &str,
    port: u16,
) -> anyhow::Result<Prepared> {
    t.prepare(
        Method::PUT,
        &format!("/v20190125/meshes/{mesh}/virtualNodes/{name}"),
        "",
        body(&json!({"spec": node_spec(name, port)})),
    )
}

/// Signed DeleteVirtualNode.
pub(crate) fn delete_node(t: &Target, mesh: &str, name: &str) -> anyhow::Result<Prepared> {
    t.prepare(
        Method::DELETE,
        &format!("/v20190125/meshes/{mesh}/virtualNodes/{name}"),
        "",
        None,
    )
}

/// Signed ListVirtualNodes page of 100, after `token` if given.
pub(crate) fn list_nodes(t: &Target, mesh: &str, token: Option<&str>) -> anyhow::Result<Prepared> {
    let query = match token {
        Some(tok) => format!("limit=100&nextToken={}", encode_query_value(tok)),
        None => "limit=100".to_owned(),
    };
    t.prepare(
        Method::GET,
        &format!("/v20190125/meshes/{mesh}/virtualNodes"),
        &query,
        None,
    )
}

/// Sends one request that must succeed; returns the body as JSON (`null` if empty).
pub(crate) async fn must(conn: &mut Conn, req: Prepared, what: &str) -> anyhow::Result<Value> {
    let answer = conn.send(req).await.with_context(|| what.to_owned())?;
    if !answer.ok() {
        anyhow::bail!("{what}: {}", answer.describe());
    }
    if answer.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&answer.body).with_context(|| format!("{what}: answer is not JSON"))
}

/// Walks every page of the mesh's list once; returns each page's token (`None` for the
/// first), the number of nodes seen and how long the walk took.
pub(crate) async fn walk_pages(
    conn: &mut Conn,
    t: &Target,
    mesh: &str,
    max_pages: usize,
) -> anyhow::Result<(Vec<Option<String>>, usize, Duration)> {
    let start = Instant::now();
    let mut tokens = vec![None];
    let mut seen = 0;
    loop {
        let token = tokens.last().cloned().flatten();
        let page = must(
            conn,
            list_nodes(t, mesh, token.as_deref())?,
            "ListVirtualNodes",
        )
        .await?;
        seen += page["virtualNodes"].as_array().map_or(0, Vec::len);
        match page["nextToken"].as_str() {
            Some(next) if !next.is_empty() && tokens.len() < max_pages => {
                tokens.push(Some(next.to_owned()));
            }
            _ => break,
        }
    }
    Ok((tokens, seen, start.elapsed()))
}

/// Splits `total` items over `n` clients (the first ones get the remainder).
pub(crate) fn split(total: usize, n: usize) -> Vec<usize> {
    (0..n)
        .map(|c| total / n + usize::from(c < total % n))
        .collect()
}

/// Sizes of one run of the workload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Nodes created (and deleted), and signed requests of Describe and Update.
    pub(crate) requests: usize,
    /// Signed List requests.
    pub(crate) list_requests: usize,
    /// How long Describe, Update and List run (Create and Delete always run to the end).
    pub(crate) length: Length,
    /// Whether Create and Delete also repeat for `length`: only for the ceiling, which
    /// stores nothing, so that its short write phases are not mere warm-ups.
    pub(crate) repeat_writes: bool,
}

/// The workload's results for one client count: one entry per operation.
pub(crate) type Run = Vec<(Op, Stats)>;

/// Runs every phase against one server with `clients` concurrent clients, on a fresh mesh.
pub(crate) async fn run_workload(
    t: &Target,
    server_pid: Option<u32>,
    clients: usize,
    sizes: Sizes,
    seed: u64,
) -> anyhow::Result<Run> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(t.addr).await?);
    }
    let mesh = format!("bench-c{clients}");
    must(&mut conns[0], create_mesh(t, &mesh)?, "CreateMesh").await?;
    let mut results = Vec::new();

    // Create: names unique per client.
    let per_client = split(sizes.requests, clients);
    let names: Vec<Vec<String>> = per_client
        .iter()
        .enumerate()
        .map(|(c, &k)| (0..k).map(|i| format!("n{c}-{i:06}")).collect())
        .collect();
    let work = names
        .iter()
        .map(|ns| ns.iter().map(|n| create_node(t, &mesh, n)).collect())
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    let (write_length, write_repeat) = if sizes.repeat_writes {
        (sizes.length, true)
    } else {
        (Length::Once, false)
    };
    let (stats, ok) = run_phase(&mut conns, work, write_length, write_repeat, server_pid).await?;
    results.push((Op::Create, stats));
    let created: Vec<Vec<String>> = names
        .iter()
        .zip(ok)
        .map(|(ns, mut ok)| {
            ok.sort_unstable();
            ok.dedup();
            ok.iter().map(|&i| ns[i].clone()).collect()
        })
        .collect();
    let all: Vec<&String> = created.iter().flatten().collect();
    anyhow::ensure!(!all.is_empty(), "no node was created");

    // Describe: random existing names.
    let mut rng = Rng::new(seed);
    let work = per_client
        .iter()
        .map(|&k| {
            (0..k)
                .map(|_| describe_node(t, &mesh, all[rng.below(all.len())]))
                .collect()
        })
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    let (stats, _) = run_phase(&mut conns, work, sizes.length, true, server_pid).await?;
    results.push((Op::Describe, stats));

    // Update: each client its own nodes, round robin, a new port each time.
    let work = per_client
        .iter()
        .zip(&created)
        .map(|(&k, mine)| {
            (0..k)
                .filter(|_| !mine.is_empty())
                .map(|i| {
                    let port = 1024 + (i % 60_000) as u16;
                    update_node(t, &mesh, &mine[i % mine.len()], port)
                })
                .collect()
        })
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    let (stats, _) = run_phase(&mut conns, work, sizes.length, true, server_pid).await?;
    results.push((Op::Update, stats));

    // List: random pages of the whole mesh, tokens found by one walk beforehand.
    let (tokens, _, _) = walk_pages(&mut conns[0], t, &mesh, usize::MAX).await?;
    let work = split(sizes.list_requests, clients)
        .iter()
        .map(|&k| {
            (0..k)
                .map(|_| list_nodes(t, &mesh, tokens[rng.below(tokens.len())].as_deref()))
                .collect()
        })
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    let (stats, _) = run_phase(&mut conns, work, sizes.length, true, server_pid).await?;
    results.push((Op::List, stats));

    // Delete: each client its own nodes.
    let work = created
        .iter()
        .map(|mine| mine.iter().map(|n| delete_node(t, &mesh, n)).collect())
        .collect::<anyhow::Result<Vec<Vec<_>>>>()?;
    let (stats, _) = run_phase(&mut conns, work, write_length, write_repeat, server_pid).await?;
    results.push((Op::Delete, stats));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_hands_out_everything() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 8).iter().sum::<usize>(), 2);
        assert_eq!(split(8000, 8), vec![1000; 8]);
    }

    #[test]
    fn rng_stays_below_its_bound() {
        let mut r = Rng::new(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[r.below(10)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
