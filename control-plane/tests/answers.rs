//! Describe answers are cached per store revision (`Service::describe`): these tests hold
//! that a Describe never answers older data than a write already acknowledged, from any
//! thread, and that who may see a mesh is checked before the cache is consulted.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use appmesh_control_plane::access::{Access, AccessHandle, Identity};
use appmesh_control_plane::config::Settings;
use appmesh_control_plane::service::{Container, Query, Service};
use appmesh_model::{Kind, ResourceKey};
use serde_json::{json, Value};

const OWNER: &str = "111111111111";
const CONSUMER: &str = "222222222222";

fn service(dir: &std::path::Path, access: Arc<AccessHandle>) -> Service {
    let settings = Settings {
        account_id: OWNER.to_owned(),
        ..Settings::default()
    };
    Service::new(common::open_store(dir, OWNER), settings, access)
}

/// The mesh `m`, created by its owner.
fn create_mesh(s: &Service, owner: &Identity) {
    let body = json!({ "meshName": "m" });
    s.create(
        owner,
        Kind::Mesh,
        &Container::default(),
        &Query::default(),
        &body,
    )
    .unwrap();
}

fn node_spec(port: i64) -> Value {
    json!({ "listeners": [{ "portMapping": { "port": port, "protocol": "http" } }] })
}

fn describe(s: &Service, who: &Identity, key: &ResourceKey, query: &Query) -> Value {
    serde_json::from_slice(&s.describe(who, key, query).unwrap()).unwrap()
}

#[test]
fn a_describe_sees_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let access = Access::parse("", std::path::Path::new(".")).unwrap();
    let s = service(dir.path(), Arc::new(AccessHandle::fixed(access)));
    let root = Identity::root(OWNER);
    let q = Query::default();
    create_mesh(&s, &root);
    let in_mesh = Container {
        mesh: Some("m".to_owned()),
        parent: None,
    };
    let body = json!({ "virtualNodeName": "n", "spec": node_spec(1) });
    s.create(&root, Kind::VirtualNode, &in_mesh, &q, &body)
        .unwrap();
    let key = ResourceKey {
        kind: Kind::VirtualNode,
        mesh: "m".to_owned(),
        parent: None,
        name: "n".to_owned(),
    };
    // Cached now; a second answer is the same text.
    let first = describe(&s, &root, &key, &q);
    assert_eq!(first["metadata"]["version"], 1);
    assert_eq!(describe(&s, &root, &key, &q), first);

    // One writer updates; after each acknowledgement, readers on other threads must see
    // at least that version and the port it wrote.
    let acked = Arc::new(AtomicI64::new(1));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let (s, acked, key, root) = (&s, acked.clone(), &key, &root);
            scope.spawn(move || loop {
                let floor = acked.load(Ordering::SeqCst);
                let seen = describe(s, root, key, &Query::default());
                let version = seen["metadata"]["version"].as_i64().unwrap();
                assert!(
                    version >= floor,
                    "version {version} after {floor} was acknowledged"
                );
                let port = &seen["spec"]["listeners"][0]["portMapping"]["port"];
                assert_eq!(port.as_i64().unwrap(), version, "spec of version {version}");
                if floor >= 40 {
                    break;
                }
            });
        }
        for version in 2..=40 {
            let body = json!({ "spec": node_spec(version) });
            let answer = s.update(&root, &key, &Query::default(), &body).unwrap();
            assert_eq!(answer["metadata"]["version"], version);
            acked.store(version, Ordering::SeqCst);
        }
    });

    s.delete(&root, &key, &q).unwrap();
    let gone = s.describe(&root, &key, &q).unwrap_err();
    assert!(gone.to_string().contains("not found"), "{gone}");
}

#[test]
fn sharing_is_checked_before_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.toml");
    let shared =
        format!("[[shares]]\nowner = \"{OWNER}\"\nmesh = \"m\"\nconsumers = [\"{CONSUMER}\"]\n");
    std::fs::write(&file, &shared).unwrap();
    let access = Arc::new(AccessHandle::open(&file).unwrap());
    let s = service(&dir.path().join("data"), access.clone());
    let root = Identity::root(OWNER);
    let q = Query::default();
    create_mesh(&s, &root);
    let key = ResourceKey::mesh("m");
    let as_owner = Query {
        mesh_owner: Some(OWNER.to_owned()),
        ..Query::default()
    };
    let consumer = Identity::root(CONSUMER);
    // The answer is cached under the mesh's ARN, for both accounts ...
    assert_eq!(describe(&s, &consumer, &key, &as_owner)["meshName"], "m");
    assert_eq!(describe(&s, &root, &key, &q)["meshName"], "m");
    // ... and once the share is withdrawn (no write to the store, so the cache stays),
    // the consumer is refused while the owner is still answered.
    std::fs::write(&file, "").unwrap();
    access.reload(true);
    let refused = s.describe(&consumer, &key, &as_owner).unwrap_err();
    assert!(refused.to_string().contains("not shared"), "{refused}");
    assert_eq!(describe(&s, &root, &key, &q)["meshName"], "m");
}
