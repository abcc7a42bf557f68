//! Crash safety of the SQLite store under concurrent writes.
//!
//! One data directory goes through five SIGKILL/restart cycles. In each cycle eight tokio
//! tasks, each with its own SDK client, write as fast as they can: they create virtual nodes,
//! update nodes they created earlier, and all update one shared "hot" node. Every write
//! carries a spec unique to that attempt (DNS hostname, listener port and backend are derived
//! from a write id), and every acknowledged answer is recorded (name, version, uid, spec).
//! After a short, varying delay the server is SIGKILLed mid-flight. The writes that were in
//! flight are unacknowledged: each may or may not have been applied.
//!
//! After every restart on the same directory the test proves:
//!
//! * every acknowledged create exists, with its uid; uids never change across cycles;
//! * each node's version is at least its highest acknowledged version, and if equal its spec is
//!   exactly the acknowledged one; a higher version is only allowed as far as there were
//!   unacknowledged updates of that node in flight, and then its spec is one of theirs (an
//!   unacknowledged write is wholly there or wholly absent, never half-written);
//! * a node whose create was unacknowledged is either absent or at version 1 with the spec of
//!   that create; a name found absent stays absent after later crashes (nothing resurrects);
//! * every describe parses, is ACTIVE and carries a spec some client sent for that node;
//! * ListVirtualNodes, paged 7 at a time, returns every node exactly once, in name order, with
//!   the described version, and nothing that describes do not show;
//! * no acknowledged update is lost: a node's owner sees versions rise by exactly one per
//!   acknowledged update, and the versions acknowledged for the hot node (across all clients
//!   and all cycles) are all distinct, above the version it had when the cycle began, and not
//!   above the version stored after the restart.
//!
//! What SIGKILL proves is process-crash safety (commit before acknowledge, atomic commits,
//! recovery of the WAL); it cannot prove that commits are fsynced, because the kernel's page
//! cache survives the death of the process.
//!
//! `CRASH_TEST_SEED=<u64>` replays the kill delays and update choices of an earlier run.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_appmesh::error::{DisplayErrorContext, SdkError};
use aws_sdk_appmesh::types::{
    Backend, PortProtocol, VirtualNodeData, VirtualNodeSpec, VirtualServiceBackend,
};
use aws_sdk_appmesh::Client;
use common::{ok, Server};

const MESH: &str = "crash";
const HOT: &str = "hot";
const CLIENTS: usize = 8;
const CYCLES: usize = 5;
const PAGE: i32 = 7;
const SERVER_ARGS: &[&str] = &["--quota", "virtual-nodes-per-mesh=100000"];
/// Base kill delay of each cycle, in milliseconds; a seeded jitter is added.
const KILL_DELAY_MS: [u64; CYCLES] = [150, 600, 300, 450, 225];

/// A small deterministic generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// The parts of a node spec that identify the write that sent it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sig {
    host: String,
    port: i32,
    backend: String,
}

impl Sig {
    /// The spec of write `n` of `client` in `cycle`, to node `name`.
    fn new(name: &str, cycle: usize, client: usize, n: u32) -> Sig {
        let id = u32::try_from(cycle * CLIENTS + client).unwrap() * 7919 + n * 31;
        Sig {
            host: format!("w{cycle}-{client}-{n}.{name}.local"),
            port: 1024 + i32::try_from(id % 60_000).unwrap(),
            backend: format!("b{n}-c{client}-k{cycle}.backend.local"),
        }
    }

    fn spec(&self) -> VirtualNodeSpec {
        common::http_node(self.port, &self.host)
            .backends(Backend::VirtualService(
                VirtualServiceBackend::builder()
                    .virtual_service_name(&self.backend)
                    .build()
                    .unwrap(),
            ))
            .build()
    }

    /// The signature of a spec of exactly the shape [`Sig::spec`] builds, else `None`.
    fn of(spec: &VirtualNodeSpec) -> Option<Sig> {
        let [listener] = spec.listeners() else {
            return None;
        };
        let [backend] = spec.backends() else {
            return None;
        };
        let port = listener.port_mapping()?;
        if port.protocol() != &PortProtocol::Http {
            return None;
        }
        Some(Sig {
            host: spec
                .service_discovery()?
                .as_dns()
                .ok()?
                .hostname()
                .to_owned(),
            port: port.port(),
            backend: backend
                .as_virtual_service()
                .ok()?
                .virtual_service_name()
                .to_owned(),
        })
    }
}

/// What a describe (or an acknowledgement) says about a node.
#[derive(Clone, Debug)]
struct Seen {
    uid: String,
    version: i64,
    arn: String,
    status: String,
    sig: Sig,
    /// The whole spec, rendered with `Debug`.
    spec: String,
}

impl Seen {
    fn from_data(d: &VirtualNodeData) -> Result<Seen, String> {
        let meta = d.metadata().ok_or("no metadata")?;
        let spec = d.spec().ok_or("no spec")?;
        Ok(Seen {
            uid: meta.uid().to_owned(),
            version: meta.version(),
            arn: meta.arn().to_owned(),
            status: d
                .status()
                .map(|s| s.status().as_str().to_owned())
                .unwrap_or_default(),
            sig: Sig::of(spec).ok_or_else(|| format!("spec of an unexpected shape: {spec:?}"))?,
            spec: format!("{spec:?}"),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    /// An update of a node only this client writes; `expect` is the version it must get.
    UpdateOwn {
        expect: i64,
    },
    UpdateHot,
}

/// An acknowledged write.
#[derive(Debug)]
struct Ack {
    name: String,
    op: Op,
    sent: Sig,
    got: Seen,
}

/// The write that was in flight (or refused) when the server died.
#[derive(Debug)]
struct Attempt {
    name: String,
    op: Op,
    sig: Sig,
}

#[derive(Debug, Default)]
struct WorkerLog {
    client: usize,
    acks: Vec<Ack>,
    unacked: Option<Attempt>,
    unexpected: Option<String>,
}

/// A node as the test last saw it after a restart.
#[derive(Clone, Debug)]
struct Known {
    /// The client index that updates it; `None` for the hot node.
    owner: Option<usize>,
    seen: Seen,
}

/// Everything proven so far, carried from cycle to cycle.
#[derive(Default)]
struct Model {
    nodes: BTreeMap<String, Known>,
    /// Names whose create was never acknowledged and that were absent after a restart.
    absent: BTreeSet<String>,
    /// Every version acknowledged for the hot node, over all cycles.
    hot_acked: BTreeSet<i64>,
    mesh_uid: String,
}

/// Figures of one cycle, for the summary.
#[derive(Debug, Default)]
struct Stats {
    acked_creates: usize,
    acked_own_updates: usize,
    acked_hot_updates: usize,
    unacked: usize,
    unacked_applied: usize,
    hot_max_acked: i64,
    hot_stored: i64,
    nodes: usize,
    max_version: i64,
}

enum Outcome {
    Acked(Seen),
    /// A transport failure: the server died before answering.
    Lost,
    Unexpected(String),
}

fn outcome<E, R>(res: Result<Option<VirtualNodeData>, SdkError<E, R>>) -> Outcome
where
    SdkError<E, R>: std::error::Error,
{
    match res {
        Ok(Some(d)) => match Seen::from_data(&d) {
            Ok(seen) => Outcome::Acked(seen),
            Err(e) => Outcome::Unexpected(format!("acknowledgement does not parse: {e}")),
        },
        Ok(None) => Outcome::Unexpected("acknowledgement without a virtual node".into()),
        Err(
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) | SdkError::TimeoutError(_),
        ) => Outcome::Lost,
        Err(e) => Outcome::Unexpected(format!("{}", DisplayErrorContext(&e))),
    }
}

/// One client's writes until the server dies: create, hot update, own update, hot update, ...
async fn worker(
    c: Client,
    cycle: usize,
    client: usize,
    mut owned: Vec<(String, i64)>,
    seed: u64,
    acked: Arc<AtomicUsize>,
) -> WorkerLog {
    let mut rng = Rng::new(seed);
    let mut log = WorkerLog {
        client,
        ..WorkerLog::default()
    };
    let mut creates = 0;
    let mut n: u32 = 0;
    loop {
        n += 1;
        let own = (n % 4 == 3 && !owned.is_empty()).then(|| rng.below(owned.len()));
        let (name, op) = match (n % 2, own) {
            (0, _) => (HOT.to_owned(), Op::UpdateHot),
            (_, Some(i)) => (
                owned[i].0.clone(),
                Op::UpdateOwn {
                    expect: owned[i].1 + 1,
                },
            ),
            (_, None) => {
                creates += 1;
                (format!("vn-{creates:04}-c{client}-k{cycle}"), Op::Create)
            }
        };
        let sig = Sig::new(&name, cycle, client, n);
        let res = if op == Op::Create {
            outcome(
                c.create_virtual_node()
                    .mesh_name(MESH)
                    .virtual_node_name(&name)
                    .spec(sig.spec())
                    .send()
                    .await
                    .map(|o| o.virtual_node),
            )
        } else {
            outcome(
                c.update_virtual_node()
                    .mesh_name(MESH)
                    .virtual_node_name(&name)
                    .spec(sig.spec())
                    .send()
                    .await
                    .map(|o| o.virtual_node),
            )
        };
        match res {
            Outcome::Acked(got) => {
                match op {
                    Op::Create => owned.push((name.clone(), got.version)),
                    Op::UpdateOwn { .. } => {
                        let i = own.unwrap();
                        owned[i].1 = got.version;
                    }
                    Op::UpdateHot => {}
                }
                acked.fetch_add(1, Ordering::Relaxed);
                log.acks.push(Ack {
                    name,
                    op,
                    sent: sig,
                    got,
                });
            }
            Outcome::Lost => {
                log.unacked = Some(Attempt { name, op, sig });
                return log;
            }
            Outcome::Unexpected(e) => {
                log.unexpected = Some(format!("client {client}: {op:?} {name}: {e}"));
                return log;
            }
        }
    }
}

/// Describes `names` with `CLIENTS` clients in parallel; `None` for a node not found.
async fn describe_all(server: &Server, names: Vec<String>) -> BTreeMap<String, Option<Seen>> {
    let mut tasks = Vec::new();
    for chunk in names.chunks(names.len().div_ceil(CLIENTS).max(1)) {
        let c = server.client();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for name in chunk {
                let res = c
                    .describe_virtual_node()
                    .mesh_name(MESH)
                    .virtual_node_name(&name)
                    .send()
                    .await;
                let seen = match res {
                    Ok(o) => {
                        let d = o
                            .virtual_node()
                            .unwrap_or_else(|| panic!("describe {name}: no body"));
                        assert_eq!(d.virtual_node_name(), name, "describe {name}: name");
                        assert_eq!(d.mesh_name(), MESH, "describe {name}: mesh");
                        Some(
                            Seen::from_data(d)
                                .unwrap_or_else(|e| panic!("describe {name}: half-written? {e}")),
                        )
                    }
                    Err(SdkError::ServiceError(e)) if e.err().is_not_found_exception() => None,
                    Err(e) => panic!("describe {name} failed: {}", DisplayErrorContext(&e)),
                };
                out.push((name, seen));
            }
            out
        }));
    }
    let mut all = BTreeMap::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// Walks ListVirtualNodes `PAGE` items at a time; returns (name, version, arn) in list order.
async fn list_all(c: &Client) -> Vec<(String, i64, String)> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = ok(
            c.list_virtual_nodes()
                .mesh_name(MESH)
                .limit(PAGE)
                .set_next_token(token.clone())
                .send()
                .await,
            "list virtual nodes",
        );
        pages += 1;
        let page = out.virtual_nodes();
        assert!(
            page.len() <= usize::try_from(PAGE).unwrap(),
            "page {pages} has {} items, more than the limit {PAGE}",
            page.len()
        );
        for r in page {
            assert_eq!(r.mesh_name(), MESH);
            items.push((
                r.virtual_node_name().to_owned(),
                r.version(),
                r.arn().to_owned(),
            ));
        }
        match out.next_token() {
            Some(t) => {
                assert!(!page.is_empty(), "empty page {pages} with a next token");
                assert_ne!(token.as_deref(), Some(t), "next token did not advance");
                token = Some(t.to_owned());
            }
            None => return items,
        }
        assert!(pages < 100_000, "list does not end");
    }
}

fn node_arn(name: &str) -> String {
    common::arn(&format!("mesh/{MESH}/virtualNode/{name}"))
}

/// Checks the restarted server against the model and this cycle's logs, then folds what it
/// saw into the model.
async fn verify(server: &Server, model: &mut Model, logs: &[WorkerLog], cycle: usize) -> Stats {
    let when = format!("after kill {}", cycle + 1);
    let mut stats = Stats::default();

    let mesh = ok(
        server.client().describe_mesh().mesh_name(MESH).send().await,
        &format!("{when}: describe mesh"),
    );
    let mesh = mesh.mesh().unwrap().metadata().unwrap();
    assert_eq!(mesh.uid(), model.mesh_uid, "{when}: mesh uid");
    assert_eq!(mesh.version(), 1, "{when}: mesh version");

    // The highest acknowledged state of each node, and the attempts left unacknowledged.
    let mut best: BTreeMap<String, (Seen, Option<usize>)> = BTreeMap::new();
    let mut acked_create: BTreeSet<String> = BTreeSet::new();
    let mut unacked: BTreeMap<String, Vec<(usize, Op, Sig)>> = BTreeMap::new();
    let hot_start = model.nodes[HOT].seen.version;
    let mut hot_cycle = BTreeSet::new();
    for log in logs {
        if let Some(e) = &log.unexpected {
            panic!("{when}: unexpected answer while the server was up: {e}");
        }
        // A client's own sequence of hot updates: each was sent after the previous answer.
        let mut last_hot = hot_start;
        for ack in &log.acks {
            let what = format!("{when}: client {} {:?} {}", log.client, ack.op, ack.name);
            let got = &ack.got;
            assert_eq!(got.sig, ack.sent, "{what}: acknowledged a different spec");
            assert_eq!(got.status, "ACTIVE", "{what}: acknowledged status");
            assert_eq!(got.arn, node_arn(&ack.name), "{what}: arn");
            match ack.op {
                Op::Create => {
                    assert_eq!(got.version, 1, "{what}: version of a create");
                    assert!(
                        !model.nodes.contains_key(&ack.name) && !model.absent.contains(&ack.name),
                        "{what}: name reused"
                    );
                    assert!(
                        acked_create.insert(ack.name.clone()),
                        "{what}: created twice"
                    );
                }
                Op::UpdateOwn { expect } => assert_eq!(
                    got.version, expect,
                    "{what}: the owner's previous update was lost or skipped"
                ),
                Op::UpdateHot => {
                    assert!(
                        got.version > hot_start,
                        "{what}: version {} not above {hot_start}, the hot node's version when \
                         the cycle began",
                        got.version
                    );
                    assert!(
                        got.version > last_hot,
                        "{what}: version {} not above {last_hot}, which this client was given \
                         before it sent this update",
                        got.version
                    );
                    last_hot = got.version;
                    assert!(
                        hot_cycle.insert(got.version),
                        "{what}: version {} acknowledged twice: a lost update",
                        got.version
                    );
                    assert!(
                        model.hot_acked.insert(got.version),
                        "{what}: version {} was already acknowledged in an earlier cycle",
                        got.version
                    );
                }
            }
            let uid = model
                .nodes
                .get(&ack.name)
                .map(|k| k.seen.uid.clone())
                .or_else(|| best.get(&ack.name).map(|(s, _)| s.uid.clone()));
            if let Some(uid) = uid {
                assert_eq!(got.uid, uid, "{what}: uid changed");
            }
            match ack.op {
                Op::Create => stats.acked_creates += 1,
                Op::UpdateOwn { .. } => stats.acked_own_updates += 1,
                Op::UpdateHot => stats.acked_hot_updates += 1,
            }
            let owner = (ack.op != Op::UpdateHot).then_some(log.client);
            let higher = best
                .get(&ack.name)
                .is_none_or(|(s, _)| got.version > s.version);
            if higher {
                best.insert(ack.name.clone(), (got.clone(), owner));
            }
        }
        if let Some(a) = &log.unacked {
            stats.unacked += 1;
            unacked
                .entry(a.name.clone())
                .or_default()
                .push((log.client, a.op, a.sig.clone()));
        }
    }
    stats.hot_max_acked = hot_cycle.last().copied().unwrap_or(hot_start);
    let total_acked = stats.acked_creates + stats.acked_own_updates + stats.acked_hot_updates;
    assert!(total_acked > 0, "{when}: no write was acknowledged");

    // Describe everything any client ever wrote or tried to write.
    let names: BTreeSet<String> = model
        .nodes
        .keys()
        .chain(&model.absent)
        .chain(best.keys())
        .chain(unacked.keys())
        .cloned()
        .collect();
    let described = describe_all(server, names.into_iter().collect()).await;

    let mut present: BTreeMap<String, Known> = BTreeMap::new();
    for (name, seen) in &described {
        let what = format!("{when}: {name}");
        let known = model.nodes.get(name);
        let acked = best.get(name);
        let tries = unacked.get(name).map(Vec::as_slice).unwrap_or_default();
        let Some(seen) = seen else {
            assert!(
                known.is_none(),
                "{what}: lost (it existed before the cycle)"
            );
            assert!(
                !acked_create.contains(name),
                "{what}: lost (its create was acknowledged)"
            );
            model.absent.insert(name.clone());
            continue;
        };
        assert!(
            !model.absent.contains(name),
            "{what}: resurrected (absent after an earlier crash, never written again)"
        );
        assert_eq!(seen.status, "ACTIVE", "{what}: status");
        assert_eq!(seen.arn, node_arn(name), "{what}: arn");
        assert!(seen.version >= 1, "{what}: version {}", seen.version);
        if let Some(k) = known {
            assert_eq!(seen.uid, k.seen.uid, "{what}: uid changed across a restart");
        }
        if let Some((a, _)) = acked {
            assert_eq!(
                seen.uid, a.uid,
                "{what}: uid differs from the acknowledged one"
            );
        }
        // The last state known for sure: the highest acknowledgement, else the last restart.
        let sure = acked.map(|(s, _)| s).or(known.map(|k| &k.seen));
        let owner = acked
            .map(|(_, o)| *o)
            .or(known.map(|k| k.owner))
            .unwrap_or_else(|| tries.first().map(|t| t.0));
        let base = sure.map_or(0, |s| s.version);
        if let Some(s) = sure {
            assert!(
                seen.version >= s.version,
                "{what}: version {} is below the acknowledged {}: an acknowledged write was lost",
                seen.version,
                s.version
            );
            if seen.version == s.version {
                assert_eq!(
                    seen.spec, s.spec,
                    "{what}: version {} has a spec other than the acknowledged one",
                    seen.version
                );
            }
        }
        if seen.version > base {
            let extra = usize::try_from(seen.version - base).unwrap();
            assert!(
                extra <= tries.len(),
                "{what}: version {} is {extra} above the last acknowledged {base}, but only {} \
                 unacknowledged writes of it were in flight",
                seen.version,
                tries.len()
            );
            assert!(
                tries.iter().any(|t| t.2 == seen.sig),
                "{what}: version {} carries {:?}, which no in-flight write sent ({tries:?})",
                seen.version,
                seen.sig
            );
            if sure.is_none() {
                assert_eq!(seen.version, 1, "{what}: unacknowledged create");
                assert!(
                    tries.iter().all(|t| t.1 == Op::Create),
                    "{what}: exists although only updates of it were tried: {tries:?}"
                );
            }
            stats.unacked_applied += 1;
        }
        stats.max_version = stats.max_version.max(seen.version);
        present.insert(
            name.clone(),
            Known {
                owner,
                seen: seen.clone(),
            },
        );
    }
    // The list walks exactly the described nodes, once each, in name order.
    let listed = list_all(&server.client()).await;
    for pair in listed.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "{when}: list order broken or duplicate: {:?} then {:?}",
            pair[0].0,
            pair[1].0
        );
    }
    let listed_names: BTreeSet<&String> = listed.iter().map(|l| &l.0).collect();
    let present_names: BTreeSet<&String> = present.keys().collect();
    assert_eq!(
        listed_names,
        present_names,
        "{when}: list vs describes (missing: {:?}, extra: {:?})",
        present_names.difference(&listed_names).collect::<Vec<_>>(),
        listed_names.difference(&present_names).collect::<Vec<_>>()
    );
    for (name, version, arn) in &listed {
        let k = &present[name];
        assert_eq!(*version, k.seen.version, "{when}: {name}: listed version");
        assert_eq!(*arn, k.seen.arn, "{when}: {name}: listed arn");
    }

    stats.hot_stored = present[HOT].seen.version;
    assert!(
        stats.hot_stored >= stats.hot_max_acked,
        "{when}: hot node at version {} below the acknowledged {}",
        stats.hot_stored,
        stats.hot_max_acked
    );
    stats.nodes = present.len();
    model.nodes = present;
    stats
}

fn seed() -> u64 {
    match std::env::var("CRASH_TEST_SEED") {
        Ok(s) => s.parse().expect("CRASH_TEST_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

fn start(dir: &Path) -> Server {
    Server::start_with_args(dir, SERVER_ARGS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_concurrent_writes_loses_nothing_acknowledged() {
    let started = Instant::now();
    let seed = seed();
    eprintln!("crash test seed {seed} (CRASH_TEST_SEED={seed} replays the delays)");
    let mut rng = Rng::new(seed);
    let dir = common::data_dir();

    // The mesh and the hot node exist before the first crash.
    let mut server = start(dir.path());
    let mut model = Model::default();
    {
        let c = server.client();
        let out = ok(c.create_mesh().mesh_name(MESH).send().await, "create mesh");
        model.mesh_uid = out.mesh().unwrap().metadata().unwrap().uid().to_owned();
        let sig = Sig::new(HOT, 0, CLIENTS, 0);
        let out = ok(
            c.create_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(HOT)
                .spec(sig.spec())
                .send()
                .await,
            "create the hot node",
        );
        let seen = Seen::from_data(out.virtual_node().unwrap()).unwrap();
        assert_eq!(seen.sig, sig);
        model
            .nodes
            .insert(HOT.to_owned(), Known { owner: None, seen });
    }

    let mut all_stats = Vec::new();
    for (cycle, base_delay) in KILL_DELAY_MS.iter().enumerate() {
        let cycle_start = Instant::now();
        let mut tasks = Vec::new();
        let acked = Arc::new(AtomicUsize::new(0));
        for client in 0..CLIENTS {
            let owned: Vec<(String, i64)> = model
                .nodes
                .iter()
                .filter(|(_, k)| k.owner == Some(client))
                .map(|(n, k)| (n.clone(), k.seen.version))
                .collect();
            let worker_seed = rng.next();
            tasks.push(tokio::spawn(worker(
                server.client(),
                cycle,
                client,
                owned,
                worker_seed,
                acked.clone(),
            )));
        }
        let delay = (base_delay + rng.next() % 61)
            .saturating_sub(30)
            .clamp(150, 600);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        // On a slow machine, make sure the crash still comes after some acknowledged writes.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.load(Ordering::Relaxed) < CLIENTS && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::task::spawn_blocking(move || server.kill())
            .await
            .unwrap();
        let mut logs = Vec::new();
        for t in tasks {
            logs.push(t.await.unwrap());
        }

        server = start(dir.path());
        let stats = verify(&server, &mut model, &logs, cycle).await;
        eprintln!(
            "cycle {}: killed after {delay} ms; acked {} creates, {} own updates, {} hot \
             updates; {} unacknowledged ({} of them applied); hot acked max v{}, stored v{}; \
             {} nodes, max version {} ({:.1} s)",
            cycle + 1,
            stats.acked_creates,
            stats.acked_own_updates,
            stats.acked_hot_updates,
            stats.unacked,
            stats.unacked_applied,
            stats.hot_max_acked,
            stats.hot_stored,
            stats.nodes,
            stats.max_version,
            cycle_start.elapsed().as_secs_f64()
        );
        all_stats.push(stats);
    }

    // The restarted server still takes writes after the last crash.
    let c = server.client();
    let out = ok(
        c.update_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name(HOT)
            .spec(Sig::new(HOT, CYCLES, 0, 0).spec())
            .send()
            .await,
        "update the hot node after the last restart",
    );
    let last_hot = out.virtual_node().unwrap().metadata().unwrap().version();
    assert_eq!(last_hot, model.nodes[HOT].seen.version + 1);
    server.terminate();

    let acked: usize = all_stats
        .iter()
        .map(|s| s.acked_creates + s.acked_own_updates + s.acked_hot_updates)
        .sum();
    eprintln!(
        "crash test: {CYCLES} SIGKILLs, {acked} acknowledged writes all survived, {} distinct \
         hot versions acknowledged, {} nodes, {:.1} s",
        model.hot_acked.len(),
        model.nodes.len(),
        started.elapsed().as_secs_f64()
    );
}
