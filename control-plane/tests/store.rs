//! The store under concurrent writers, on SQLite or (with `APPMESH_TEST_POSTGRES`) on
//! PostgreSQL: every write kept, each changing transaction given the next revision (none
//! skipped, none repeated), the change log reporting exactly what changed; SQLite's group
//! commit sharing fsyncs; counts (for quotas) staying right; the revision surviving a
//! restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use appmesh_control_plane::error::ApiError;
use appmesh_control_plane::store::{Record, Store};
use appmesh_model::{Kind, ResourceKey};
use serde_json::json;

const SPACE: &str = "123456789012";

fn record(key: ResourceKey) -> Record {
    Record {
        key,
        uid: "uid".to_owned(),
        version: 1,
        created_ms: 0,
        updated_ms: 0,
        spec: json!({}),
        tags: Vec::new(),
        owner: SPACE.to_owned(),
    }
}

fn node(name: &str) -> ResourceKey {
    ResourceKey::in_mesh(Kind::VirtualNode, "apps", name)
}

fn put(store: &dyn Store, key: ResourceKey) {
    store
        .transact(&mut |txn| txn.put(SPACE, &record(key.clone()), &[]))
        .unwrap();
}

fn count_nodes(store: &dyn Store) -> usize {
    let mut n = 0;
    store
        .read(&mut |txn| {
            n = txn.count(SPACE, Kind::VirtualNode, "apps", None)?;
            Ok(())
        })
        .unwrap();
    n
}

#[test]
fn concurrent_writers_share_commits_and_take_consecutive_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path(), SPACE);
    let commits_before = store.commits();
    put(&*store, ResourceKey::mesh("apps"));
    let (threads, per_thread) = (16, 40);
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    put(&*store, node(&format!("n-{t}-{i}")));
                    // A failing writer in the same batches: rolled back alone.
                    let failed = store.transact(&mut |txn| {
                        txn.put(SPACE, &record(node(&format!("gone-{t}-{i}"))), &[])?;
                        Err(ApiError::internal("refused on purpose"))
                    });
                    assert!(failed.is_err());
                }
            });
        }
    });
    let writes = 1 + threads * per_thread;
    assert_eq!(count_nodes(&*store), threads * per_thread);
    assert_eq!(store.feed().revision(), writes as u64);
    // SQLite: 16 writers at once queue during each other's commit and share the next one.
    if let (Some(before), Some(after)) = (commits_before, store.commits()) {
        let commits = after - before;
        assert!(
            commits < 2 * writes as u64 / 3,
            "{commits} commits for {} transactions: no group commit",
            2 * writes - 1
        );
    }

    let log = store.changes_since(0, usize::MAX).unwrap();
    assert!(log.complete);
    assert_eq!(log.revision, writes as u64);
    let revisions: Vec<u64> = log.changes.iter().map(|c| c.revision).collect();
    assert_eq!(revisions, (1..=writes as u64).collect::<Vec<_>>());
    let names: BTreeSet<String> = log.changes.iter().map(|c| c.key.name.clone()).collect();
    assert_eq!(names.len(), writes, "every write logged once");
    assert!(names.iter().all(|n| !n.starts_with("gone-")));

    let later = store.changes_since(writes as u64 - 3, 2).unwrap();
    assert_eq!(
        later.changes.iter().map(|c| c.revision).collect::<Vec<_>>(),
        [writes as u64 - 2, writes as u64 - 1]
    );
}

#[test]
fn counts_follow_inserts_updates_and_deletes_and_the_revision_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = common::open_store(dir.path(), SPACE);
        put(&*store, ResourceKey::mesh("apps"));
        for i in 0..5 {
            put(&*store, node(&format!("n{i}")));
        }
        // Replacing a record (an update) does not count it twice.
        put(&*store, node("n0"));
        store
            .transact(&mut |txn| txn.delete(SPACE, &node("n1")))
            .unwrap();
        // Deleting what is not there changes nothing and takes no revision.
        store
            .transact(&mut |txn| txn.delete(SPACE, &node("never")))
            .unwrap();
        assert_eq!(count_nodes(&*store), 4);
        assert_eq!(store.feed().revision(), 8);
        let last = store.changes_since(7, 10).unwrap();
        assert_eq!(last.changes.len(), 1);
        assert!(last.changes[0].deleted);
        assert_eq!(last.changes[0].key, node("n1"));
    }
    let store = common::open_store(dir.path(), SPACE);
    assert_eq!(store.feed().revision(), 8);
    assert_eq!(count_nodes(&*store), 4);
    put(&*store, node("n9"));
    assert_eq!(store.feed().revision(), 9);
}

#[test]
fn reads_refuse_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path(), SPACE);
    let refused = store.read(&mut |txn| txn.put(SPACE, &record(ResourceKey::mesh("x")), &[]));
    assert!(refused.is_err());
    assert_eq!(store.feed().revision(), 0);
}

#[test]
fn the_log_says_when_it_no_longer_reaches_back() {
    // 12,000 transactions take seconds on SQLite's group commit and a minute on a
    // PostgreSQL that serialises writers; the pruning is the shared SQL's (store/sql.rs),
    // so SQLite's run proves it for both.
    if common::test_postgres().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path(), SPACE);
    put(&*store, ResourceKey::mesh("apps"));
    // The log keeps 10,000 revisions and is pruned every 1,000.
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..1_500 {
                    put(&*store, node(&format!("n-{t}-{i}")));
                }
            });
        }
    });
    let newest = store.feed().revision();
    assert_eq!(newest, 12_001);
    let old = store.changes_since(0, 10).unwrap();
    assert!(!old.complete, "revision 1 was pruned");
    assert!(old.changes.is_empty());
    let recent = store.changes_since(newest - 5_000, 10_000).unwrap();
    assert!(recent.complete);
    assert_eq!(recent.changes.len(), 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_wakes_a_waiter_when_a_write_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path(), SPACE);
    let start = store.feed().revision();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.feed().wait_past(start, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let writer = store.clone();
    tokio::task::spawn_blocking(move || put(&*writer, ResourceKey::mesh("apps")))
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken within 2 s")
        .unwrap();
    assert_eq!(seen, start + 1);
    // Nothing newer: the wait ends at its timeout with the same revision.
    let same = store
        .feed()
        .wait_past(seen, Duration::from_millis(50))
        .await;
    assert_eq!(same, seen);
}
