//! Two control-plane processes on one PostgreSQL database serve the same meshes safely:
//! 1,000 concurrent creates split across them, every name sent to both on purpose, leave
//! every name exactly once, each acknowledged once and refused (409) once; concurrent
//! updates through both get consecutive versions; a change made on one replica reaches the
//! other's change feed (its `/healthz` revision).
//!
//! Needs `APPMESH_TEST_POSTGRES`: `scripts/test --postgres` (part of `scripts/test`, so of
//! CI) starts a server and sets it; without it the test says it is skipped.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_appmesh::types::VirtualNodeSpec;
use common::{client, data_dir, Server};

const MESH: &str = "replicated";
const NAMES: usize = 500;

fn spec(port: i32) -> VirtualNodeSpec {
    common::http_node(port, "node.apps.local").build()
}

/// The `revision` a server's `/healthz` reports.
fn revision(endpoint: &str) -> u64 {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let health: serde_json::Value = serde_json::from_str(body).unwrap();
    health["revision"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_keep_every_rule() {
    if common::test_postgres().is_none() {
        eprintln!("skipped: APPMESH_TEST_POSTGRES is not set (scripts/test --postgres sets it)");
        return;
    }
    let dir = data_dir();
    let quota = ["--quota", "virtual-nodes-per-mesh=1000"];
    let a = Server::start_with_args(dir.path(), &quota);
    let b = Server::start_with_args(dir.path(), &quota);
    let (ca, cb) = (client(a.endpoint()), client(b.endpoint()));
    common::ok(ca.create_mesh().mesh_name(MESH).send().await, "create mesh");

    // Every name to both replicas at once: 1,000 creates, 16 in flight.
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..NAMES {
        for (replica, c) in [("a", ca.clone()), ("b", cb.clone())] {
            let limit = limit.clone();
            creates.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let name = format!("node-{i:03}");
                let result = c
                    .create_virtual_node()
                    .mesh_name(MESH)
                    .virtual_node_name(&name)
                    .spec(spec(8080))
                    .send()
                    .await;
                let outcome = match result {
                    Ok(_) => "created",
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_conflict_exception()) =>
                    {
                        "conflict"
                    }
                    Err(e) => panic!(
                        "create {name} on {replica}: {}",
                        aws_sdk_appmesh::error::DisplayErrorContext(&e)
                    ),
                };
                (name, outcome)
            });
        }
    }
    let mut outcomes: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    while let Some(done) = creates.join_next().await {
        let (name, outcome) = done.unwrap();
        outcomes.entry(name).or_default().push(outcome);
    }
    assert_eq!(outcomes.len(), NAMES);
    for (name, mut seen) in outcomes {
        seen.sort_unstable();
        assert_eq!(seen, ["conflict", "created"], "{name}");
    }

    // Each replica lists every name exactly once.
    for c in [&ca, &cb] {
        let mut listed = Vec::new();
        let mut token = None;
        loop {
            let page = common::ok(
                c.list_virtual_nodes()
                    .mesh_name(MESH)
                    .limit(100)
                    .set_next_token(token)
                    .send()
                    .await,
                "list",
            );
            listed.extend(
                page.virtual_nodes()
                    .iter()
                    .map(|n| n.virtual_node_name().to_owned()),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let unique: BTreeSet<&String> = listed.iter().collect();
        assert_eq!(listed.len(), NAMES, "listed once each");
        assert_eq!(unique.len(), NAMES);
    }

    // 10 nodes, 12 concurrent updates each, alternating replicas: the versions answered for
    // a node are exactly 2..=13, none skipped or repeated.
    let mut updates = tokio::task::JoinSet::new();
    for node in 0..10 {
        for n in 0..12 {
            let c = if n % 2 == 0 { ca.clone() } else { cb.clone() };
            updates.spawn(async move {
                let name = format!("node-{node:03}");
                let out = common::ok(
                    c.update_virtual_node()
                        .mesh_name(MESH)
                        .virtual_node_name(&name)
                        .spec(spec(9000 + n))
                        .send()
                        .await,
                    "update",
                );
                let version = out.virtual_node().unwrap().metadata().unwrap().version();
                (name, version)
            });
        }
    }
    let mut versions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    while let Some(done) = updates.join_next().await {
        let (name, version) = done.unwrap();
        versions.entry(name).or_default().push(version);
    }
    for (name, mut seen) in versions {
        seen.sort_unstable();
        assert_eq!(seen, (2..=13).collect::<Vec<i64>>(), "{name}");
        let now = common::ok(
            cb.describe_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(&name)
                .send()
                .await,
            "describe",
        );
        assert_eq!(
            now.virtual_node().unwrap().metadata().unwrap().version(),
            13
        );
    }

    // A change on A reaches B's change feed.
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        common::ok(
            ca.create_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(format!("late-{i}"))
                .spec(spec(8080))
                .send()
                .await,
            "late create",
        );
        let written = Instant::now();
        let target = revision(a.endpoint());
        let (b_endpoint, deadline) = (b.endpoint().to_owned(), written + Duration::from_secs(5));
        let seen_after = tokio::task::spawn_blocking(move || loop {
            if revision(&b_endpoint) >= target {
                return Some(written.elapsed());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        })
        .await
        .unwrap();
        let took = seen_after.expect("replica B saw replica A's revision within 5 s");
        worst = worst.max(took);
    }
    eprintln!("replica B's feed caught up with A's writes within {worst:?} (worst of 5)");
}
