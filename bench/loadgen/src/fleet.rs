//! `appmesh-loadgen fleet`: the xDS server under a simulated fleet of Envoy proxies.
//!
//! One mesh of `--services` services (each a virtual node behind a virtual router with one
//! route, reached as `svc-N.fleet.local`; each node has the next `--backends` services as
//! backends), and `--streams` ADS streams from this one process, each its own connection
//! to the control plane's Unix socket, standing for two sidecars per service. Each fake
//! proxy subscribes to clusters, listeners and its two route configurations and ACKs
//! every response, as Envoy does. Measured on the control plane's process: CPU and RSS
//! while the streams connect, at rest, and while two changes reach them: one route (the
//! proxies whose backends include that service) and the mesh's egress filter (every
//! proxy); for each, the time from sending the API write to each affected stream's
//! response, p50/p99/max. Writes docs/benchmarks/fleet.md.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use hyper::Method;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::client::{Conn, Target};
use crate::hist::Histogram;
use crate::report::{self, Machine};
use crate::servers::{self, cpu_secs};
use crate::workload::must;

/// Options of the `fleet` command.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The control plane binary (a release build).
    #[arg(long)]
    ours: PathBuf,
    /// Services in the mesh (a node, a router, a route and a virtual service each).
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// ADS streams (proxies), spread evenly over the services' nodes.
    #[arg(long, default_value_t = 2000)]
    streams: usize,
    /// Backends of each node: the next services in the ring.
    #[arg(long, default_value_t = 10)]
    backends: usize,
    /// Seconds of rest over which CPU is measured.
    #[arg(long, default_value_t = 5)]
    rest_seconds: u64,
    /// Where the server's data directory goes (a temporary directory is made inside).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// The Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks/fleet.md")]
    out: PathBuf,
}

const MESH: &str = "fleet";
const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const RDS: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const LISTENER_PORT: u16 = 8080;

fn service(i: usize) -> String {
    format!("svc-{i}")
}

fn host(i: usize) -> String {
    format!("svc-{i}.fleet.local")
}

/// When each stream's responses arrived, by stream: (type URL, arrival).
type Arrivals = Arc<Mutex<Vec<Vec<(&'static str, Instant)>>>>;

/// One fake proxy: opens its stream, subscribes, ACKs every response and records when it
/// came.
async fn proxy(
    socket: PathBuf,
    index: usize,
    node: String,
    arrivals: Arrivals,
) -> anyhow::Result<()> {
    // Many proxies connecting at once overflow the socket's accept backlog (EAGAIN): retry
    // as Envoy does, with a short backoff.
    let endpoint = tonic::transport::Endpoint::try_from("http://fleet.invalid")?;
    let mut attempt = 0;
    let channel = loop {
        let socket = socket.clone();
        let connected = endpoint
            .connect_with_connector(tower::service_fn(move |_: hyper::Uri| {
                let socket = socket.clone();
                async move {
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                        tokio::net::UnixStream::connect(socket).await?,
                    ))
                }
            }))
            .await;
        match connected {
            Ok(channel) => break channel,
            Err(e) if attempt < 200 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20 + (index % 50) as u64)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("connecting to the xDS socket")),
        }
    };
    let mut client = AggregatedDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(8);
    let routes = vec![
        "rds_egress_http_15001".to_owned(),
        format!("rds_ingress_http_{LISTENER_PORT}"),
    ];
    let names = |type_url: &str| {
        if type_url == RDS {
            routes.clone()
        } else {
            Vec::new()
        }
    };
    for (first, type_url) in [(true, CDS), (false, LDS), (false, RDS)] {
        tx.send(DiscoveryRequest {
            node: first.then(|| Node {
                id: node.clone(),
                ..Default::default()
            }),
            type_url: type_url.to_owned(),
            resource_names: names(type_url),
            ..Default::default()
        })
        .await?;
    }
    let mut inbound = client
        .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    while let Some(response) = inbound.message().await? {
        let type_url = match response.type_url.as_str() {
            CDS => CDS,
            LDS => LDS,
            RDS => RDS,
            _ => continue,
        };
        arrivals.lock().unwrap_or_else(|p| p.into_inner())[index].push((type_url, Instant::now()));
        tx.send(DiscoveryRequest {
            type_url: type_url.to_owned(),
            version_info: response.version_info,
            response_nonce: response.nonce,
            resource_names: names(type_url),
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}

struct Sample {
    wall: Duration,
    cpu: f64,
    rss_kib: Option<u64>,
}

fn cores(s: &Sample) -> String {
    format!("{:.2}", s.cpu / s.wall.as_secs_f64().max(1e-9))
}

/// The arrivals after `since`, per stream: the first of each stream, as a latency.
fn latencies(arrivals: &Arrivals, since: Instant) -> Histogram {
    let mut h = Histogram::new();
    for stream in arrivals.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if let Some((_, at)) = stream.iter().find(|(_, at)| *at > since) {
            h.record(at.duration_since(since).as_nanos() as u64);
        }
    }
    h
}

fn responses(arrivals: &Arrivals) -> usize {
    arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(Vec::len)
        .sum()
}

/// Waits until `done` holds for the arrivals (or `timeout`), checking every 10 ms.
async fn until(
    arrivals: &Arrivals,
    timeout: Duration,
    done: impl Fn(&[Vec<(&'static str, Instant)>]) -> bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done(&arrivals.lock().unwrap_or_else(|p| p.into_inner())) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Builds the mesh through the API; returns how long it took.
async fn build_mesh(target: &Target, args: &Args) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut conn = Conn::open(target.addr).await?;
    let put = |path: String, body: Value| {
        target.prepare(Method::PUT, &path, "", Some(body.to_string().into_bytes()))
    };
    must(
        &mut conn,
        put(
            "/v20190125/meshes".into(),
            json!({"meshName": MESH, "spec": {"egressFilter": {"type": "ALLOW_ALL"}}}),
        )?,
        "CreateMesh",
    )
    .await?;
    let n = args.services;
    let mut first = Vec::new();
    let mut second = Vec::new();
    for i in 0..n {
        let backends: Vec<Value> = (1..=args.backends.min(n - 1))
            .map(|k| json!({"virtualService": {"virtualServiceName": host((i + k) % n)}}))
            .collect();
        first.push((
            format!("/v20190125/meshes/{MESH}/virtualNodes"),
            json!({"virtualNodeName": service(i), "spec": {
                "listeners": [{"portMapping": {"port": LISTENER_PORT, "protocol": "http"}}],
                "serviceDiscovery": {"dns": {"hostname": host(i)}},
                "backends": backends}}),
        ));
        first.push((
            format!("/v20190125/meshes/{MESH}/virtualRouters"),
            json!({"virtualRouterName": service(i), "spec": {
                "listeners": [{"portMapping": {"port": LISTENER_PORT, "protocol": "http"}}]}}),
        ));
        second.push((
            format!(
                "/v20190125/meshes/{MESH}/virtualRouter/{}/routes",
                service(i)
            ),
            json!({"routeName": service(i), "spec": route_spec(i)}),
        ));
        second.push((
            format!("/v20190125/meshes/{MESH}/virtualServices"),
            json!({"virtualServiceName": host(i), "spec": {
                "provider": {"virtualRouter": {"virtualRouterName": service(i)}}}}),
        ));
    }
    // Nodes and routers first, then what refers to them; eight connections each.
    for work in [first, second] {
        let size = work.len().div_ceil(8).max(1);
        let mut tasks = Vec::new();
        for chunk in work.chunks(size).map(<[_]>::to_vec) {
            let target = target.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(target.addr).await?;
                for (path, body) in chunk {
                    let body = Some(body.to_string().into_bytes());
                    let req = target.prepare(Method::PUT, &path, "", body)?;
                    must(&mut conn, req, &path).await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    Ok(start.elapsed())
}

fn route_spec(target: usize) -> Value {
    json!({"httpRoute": {"match": {"prefix": "/"},
        "action": {"weightedTargets": [{"virtualNode": service(target), "weight": 1}]}}})
}

/// Runs the fleet benchmark and writes its report.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.services >= 2 && args.streams >= 1,
        "--services >= 2, --streams >= 1"
    );
    let machine = Machine::read();
    let parent = args.data_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent)?;
    let dir = tempfile::Builder::new()
        .prefix("fleet-")
        .tempdir_in(&parent)?;
    let access = servers::write_access_file(dir.path())?;
    let socket = dir.path().join("xds.sock");
    let quotas = [
        format!("virtual-nodes-per-mesh={}", args.services),
        format!("virtual-services-per-mesh={}", args.services),
        format!("virtual-routers-per-mesh={}", args.services),
        format!("backends-per-virtual-node={}", args.backends.max(1)),
    ];
    let mut server = servers::start_ours_with(
        &args.ours,
        &dir.path().join("data"),
        &access,
        &quotas,
        &[
            "--xds-listen".into(),
            format!("unix://{}", socket.display()),
        ],
        &dir.path().join("server.log"),
    )?;
    let pid = server.pid().to_string();
    let target = Target::new(server.addr);
    eprintln!(
        "fleet: building the mesh ({} services, {} backends each)",
        args.services, args.backends
    );
    let build = build_mesh(&target, &args).await?;
    let rss_empty = server.rss_kib();

    eprintln!("fleet: connecting {} streams", args.streams);
    let arrivals: Arrivals = Arc::new(Mutex::new(vec![Vec::new(); args.streams]));
    let cpu0 = cpu_secs(&pid).unwrap_or_default();
    let connect_start = Instant::now();
    let mut proxies = Vec::new();
    for s in 0..args.streams {
        let node = format!("mesh/{MESH}/virtualNode/{}", service(s % args.services));
        proxies.push(tokio::spawn(proxy(
            socket.clone(),
            s,
            node,
            arrivals.clone(),
        )));
    }
    let synced = until(&arrivals, Duration::from_secs(300), |a| {
        a.iter().all(|s| s.len() >= 3)
    })
    .await;
    let connect = Sample {
        wall: connect_start.elapsed(),
        cpu: cpu_secs(&pid).unwrap_or_default() - cpu0,
        rss_kib: server.rss_kib(),
    };
    if !synced {
        let short = arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|s| s.len() < 3)
            .count();
        let mut failed = 0;
        let mut first_error = String::new();
        for p in proxies.iter_mut().filter(|p| p.is_finished()) {
            failed += 1;
            if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(1), p).await {
                if first_error.is_empty() {
                    first_error = format!("{e:#}");
                }
            }
        }
        anyhow::bail!("{short} streams had not received clusters, listeners and routes after 2 minutes ({failed} ended, the first with: {first_error}); server log:\n{}", server.log_tail());
    }
    let initial = responses(&arrivals);

    eprintln!("fleet: at rest for {} s", args.rest_seconds);
    let cpu1 = cpu_secs(&pid).unwrap_or_default();
    let rest_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.rest_seconds)).await;
    let rest = Sample {
        wall: rest_start.elapsed(),
        cpu: cpu_secs(&pid).unwrap_or_default() - cpu1,
        rss_kib: server.rss_kib(),
    };
    anyhow::ensure!(
        responses(&arrivals) == initial,
        "responses were pushed while nothing changed"
    );

    let mut conn = Conn::open(target.addr).await?;
    // One route: svc-0 now sends to svc-1. The proxies with svc-0 among their backends
    // (the `backends` services before it, two streams each) get new routes.
    let affected: usize = (0..args.streams)
        .filter(|s| {
            let node = s % args.services;
            (1..=args.backends.min(args.services - 1))
                .any(|k| (node + k).is_multiple_of(args.services))
        })
        .count();
    let change = |name: &'static str, path: String, body: Value, expected: usize| {
        let req = target.prepare(Method::PUT, &path, "", Some(body.to_string().into_bytes()));
        (name, req, expected)
    };
    let changes = vec![
        change(
            "one route (svc-0 → svc-1)",
            format!(
                "/v20190125/meshes/{MESH}/virtualRouter/{}/routes/{}",
                service(0),
                service(0)
            ),
            json!({"spec": route_spec(1)}),
            affected,
        ),
        change(
            "the mesh's egress filter (ALLOW_ALL → DROP_ALL)",
            format!("/v20190125/meshes/{MESH}"),
            json!({"spec": {"egressFilter": {"type": "DROP_ALL"}}}),
            args.streams,
        ),
    ];
    let mut rows = Vec::new();
    for (name, req, expected) in changes {
        eprintln!("fleet: change: {name}");
        let before: Vec<usize> = arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(Vec::len)
            .collect();
        let cpu2 = cpu_secs(&pid).unwrap_or_default();
        let sent = Instant::now();
        must(&mut conn, req?, name).await?;
        let acked = Instant::now();
        let reached = until(&arrivals, Duration::from_secs(120), |a| {
            a.iter().zip(&before).filter(|(s, b)| s.len() > **b).count() >= expected
        })
        .await;
        // Let the rest of the pushes (a second type, slower streams) land before counting.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sample = Sample {
            wall: sent.elapsed(),
            cpu: cpu_secs(&pid).unwrap_or_default() - cpu2,
            rss_kib: server.rss_kib(),
        };
        let h = latencies(&arrivals, sent);
        let updated = h.count() as usize;
        if !reached {
            eprintln!(
                "fleet: {name}: only {updated} of {expected} affected streams got a response within 2 minutes"
            );
        }
        rows.push(vec![
            name.to_owned(),
            format!(
                "{updated} of {expected} affected{}",
                if reached { "" } else { " (2 min timeout)" }
            ),
            report::ms(acked.duration_since(sent).as_nanos() as u64),
            report::ms(h.quantile(0.5)),
            report::ms(h.quantile(0.99)),
            report::ms(h.max()),
            format!("{:.2} s", sample.cpu),
            report::mib(sample.rss_kib),
        ]);
    }
    for p in &proxies {
        p.abort();
    }
    server.stop()?;

    let rss_fleet = rest.rss_kib;
    let per_stream = match (rss_fleet, rss_empty) {
        (Some(f), Some(e)) if f > e => format!("{:.1} KiB", (f - e) as f64 / args.streams as f64),
        _ => "?".to_owned(),
    };
    let istio_ratio = rss_fleet.map_or("?".to_owned(), |k| {
        format!("{:.3}", k as f64 / (1.5 * 1024.0 * 1024.0))
    });
    let mut md = String::new();
    md.push_str("# Fleet benchmark: the xDS server under 2,000 proxies\n\n");
    md.push_str(
        "Generated by `scripts/bench fleet` (`appmesh-loadgen fleet`); do not edit by hand.\n\n",
    );
    md.push_str(&machine.markdown(dir.path()));
    md.push_str(&format!(
        "\n## Setup\n\nOne mesh of {} services: each a virtual node (one HTTP listener, DNS discovery, \
         the next {} services as backends), a virtual router with one route to it, and a virtual \
         service `svc-N.fleet.local` over the router. {} ADS streams (state of the world), each \
         its own connection to the control plane's Unix socket from this one process, {} per \
         service's node; each subscribes to clusters, listeners and its two route configurations \
         and ACKs every response as Envoy does. Mesh built through the API in {:.1} s.\n\n",
        args.services,
        args.backends,
        args.streams,
        args.streams.div_ceil(args.services),
        build.as_secs_f64()
    ));
    md.push_str("## The control plane's process\n\n");
    md.push_str(&report::table(
        &["phase", "wall", "CPU (cores)", "RSS"],
        &[
            vec![
                "mesh built, no stream".into(),
                "".into(),
                "".into(),
                report::mib(rss_empty),
            ],
            vec![
                format!(
                    "{} streams connect and sync ({initial} responses)",
                    args.streams
                ),
                format!("{:.2} s", connect.wall.as_secs_f64()),
                cores(&connect),
                report::mib(connect.rss_kib),
            ],
            vec![
                "at rest".into(),
                format!("{:.0} s", rest.wall.as_secs_f64()),
                cores(&rest),
                report::mib(rest.rss_kib),
            ],
        ],
    ));
    md.push_str(&format!(
        "\nMemory per connected stream: {per_stream}. Against Istio's published load test \
         (istiod at 1 vCPU and 1.5 GB for 1,000 services and 2,000 sidecars): RSS ratio {istio_ratio} \
         (the target is 0.1 or less).\n\n"
    ));
    md.push_str("## From an API write to the proxies\n\n");
    md.push_str(
        "Latency is from sending the write to each affected stream's first response after it \
         (the write's own answer included); CPU and RSS are the server's over the change and \
         the half second after.\n\n",
    );
    md.push_str(&report::table(
        &[
            "change",
            "streams updated",
            "API answer (ms)",
            "p50 (ms)",
            "p99 (ms)",
            "max (ms)",
            "server CPU",
            "RSS after",
        ],
        &rows,
    ));
    md.push_str("\nTarget: p99 under one second.\n");
    std::fs::write(&args.out, &md).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{md}");
    Ok(())
}
