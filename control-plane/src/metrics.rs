//! The control plane's metrics, served on `GET /metrics` in Prometheus' text exposition
//! format (version 0.0.4), and the [`Telemetry`] the API and the xDS server share.
//!
//! Recording sits on the request path of an API that answers tens of thousands of requests a
//! second, so it takes no lock: every operation the API can run is known when the server
//! starts, and each has a fixed row of atomic counters (by HTTP status) and histogram
//! buckets. Recording a request is a read-only table lookup and three relaxed atomic adds;
//! rendering sums the buckets into Prometheus' cumulative form.
//!
//! The series carry operation names, status codes and xDS type names only: no resource
//! names, account ids or principals, so `/metrics` is served without authentication, as
//! `/healthz` is (scrapers do not sign requests).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appmesh_model::Kind;

use crate::service::{action_name, Verb};
use crate::xds::{Proxies, TYPE_NAMES};

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds of the request duration histogram, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The operation label of a request that reached no operation: refused by the gate
/// (authentication, body limit, rate limit) or answered by no route.
pub const NO_OPERATION: &str = "none";

/// Operations that are not App Mesh API actions but are counted like them.
const EXTRA_OPERATIONS: [&str; 5] = ["ListProxies", "Healthz", "Metrics", "Sts", NO_OPERATION];

/// HTTP statuses are counted in slots 100..=599.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// What the operator surfaces read, shared by the API (the gate records requests) and the
/// xDS server (its streams record pushes, NACKs and who is connected).
#[derive(Clone, Default)]
pub struct Telemetry {
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// The proxies connected to the xDS server.
    pub proxies: Arc<Proxies>,
}

/// Every counter, histogram and gauge of one server.
pub struct Metrics {
    started: SystemTime,
    /// Operation names, in label order.
    operations: Vec<String>,
    index: HashMap<String, usize>,
    /// `operations.len() * STATUSES` request counters.
    requests: Box<[AtomicU64]>,
    /// One histogram per operation.
    durations: Box<[Histogram]>,
    /// xDS responses sent, by type (as [`TYPE_NAMES`]).
    pushes: [AtomicU64; 4],
    /// xDS NACKs received, by type.
    nacks: [AtomicU64; 4],
    /// Open ADS streams.
    streams: AtomicU64,
}

/// Per-bucket (not cumulative) counts; the last slot is above the largest bound.
struct Histogram {
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Zeroed metrics for every operation the API serves, started now.
    pub fn new() -> Metrics {
        let verbs = [
            Verb::Create,
            Verb::Describe,
            Verb::Update,
            Verb::Delete,
            Verb::List,
        ];
        let mut operations: Vec<String> = Kind::ALL
            .iter()
            .flat_map(|kind| verbs.iter().map(|verb| action_name(*verb, *kind)))
            .collect();
        operations.extend(
            ["TagResource", "UntagResource", "ListTagsForResource"]
                .iter()
                .chain(EXTRA_OPERATIONS.iter())
                .map(|s| (*s).to_owned()),
        );
        let index = operations
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        Metrics {
            started: SystemTime::now(),
            requests: (0..operations.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            durations: (0..operations.len())
                .map(|_| Histogram::default())
                .collect(),
            operations,
            index,
            pushes: Default::default(),
            nacks: Default::default(),
            streams: AtomicU64::new(0),
        }
    }

    /// Counts one API request of `operation` (an action name, or [`NO_OPERATION`]) answered
    /// with `status` after `elapsed`.
    pub fn record_request(&self, operation: &str, status: u16, elapsed: Duration) {
        let op = self
            .index
            .get(operation)
            .or_else(|| self.index.get(NO_OPERATION))
            .copied()
            .unwrap_or(0);
        let slot = usize::from(status.clamp(FIRST_STATUS, FIRST_STATUS + STATUSES as u16 - 1))
            - usize::from(FIRST_STATUS);
        self.requests[op * STATUSES + slot].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        let histogram = &self.durations[op];
        histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        histogram.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts one xDS response sent for the type at `type_index` (of [`TYPE_NAMES`]).
    pub(crate) fn record_push(&self, type_index: usize) {
        if let Some(c) = self.pushes.get(type_index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one NACK received for the type at `type_index`.
    pub(crate) fn record_nack(&self, type_index: usize) {
        if let Some(c) = self.nacks.get(type_index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One more (`true`) or one fewer open ADS stream.
    pub(crate) fn stream_opened(&self, opened: bool) {
        if opened {
            self.streams.fetch_add(1, Ordering::Relaxed);
        } else {
            self.streams.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The text exposition of every metric; `revision` is the store's newest revision.
    pub fn render(&self, revision: u64) -> String {
        let mut out = String::with_capacity(8 * 1024);
        header(
            &mut out,
            "appmesh_api_requests_total",
            "counter",
            "API requests answered, by operation and HTTP status.",
        );
        for (op, name) in self.operations.iter().enumerate() {
            for slot in 0..STATUSES {
                let n = self.requests[op * STATUSES + slot].load(Ordering::Relaxed);
                if n > 0 {
                    let status = usize::from(FIRST_STATUS) + slot;
                    let _ = writeln!(
                        out,
                        "appmesh_api_requests_total{{operation=\"{name}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        header(
            &mut out,
            "appmesh_api_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer, by operation.",
        );
        for (op, name) in self.operations.iter().enumerate() {
            let histogram = &self.durations[op];
            let counts: Vec<u64> = histogram
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, n) in DURATION_BUCKETS.iter().zip(&counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "appmesh_api_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "appmesh_api_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {total}\n\
                 appmesh_api_request_duration_seconds_sum{{operation=\"{name}\"}} {sum}\n\
                 appmesh_api_request_duration_seconds_count{{operation=\"{name}\"}} {total}"
            );
        }
        header(
            &mut out,
            "appmesh_xds_connected_proxies",
            "gauge",
            "ADS streams open on this server.",
        );
        let _ = writeln!(
            out,
            "appmesh_xds_connected_proxies {}",
            self.streams.load(Ordering::Relaxed)
        );
        for (metric, help, counters) in [
            (
                "appmesh_xds_pushes_total",
                "xDS responses sent to proxies, by type.",
                &self.pushes,
            ),
            (
                "appmesh_xds_nacks_total",
                "xDS responses proxies refused (NACK), by type.",
                &self.nacks,
            ),
        ] {
            header(&mut out, metric, "counter", help);
            for (name, c) in TYPE_NAMES.iter().zip(counters) {
                let _ = writeln!(
                    out,
                    "{metric}{{type=\"{name}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
        }
        header(
            &mut out,
            "appmesh_store_revision",
            "gauge",
            "The store's newest committed revision.",
        );
        let _ = writeln!(out, "appmesh_store_revision {revision}");
        header(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        let start = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let _ = writeln!(out, "process_start_time_seconds {start}");
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_action_has_a_row() {
        let m = Metrics::new();
        assert_eq!(m.operations.len(), 35 + 3 + EXTRA_OPERATIONS.len());
        assert!(m.index.contains_key("ListVirtualNodes"));
        assert!(m.index.contains_key("CreateGatewayRoute"));
    }

    #[test]
    fn unknown_operations_and_odd_statuses_land_in_a_row() {
        let m = Metrics::new();
        m.record_request("NoSuchThing", 999, Duration::from_millis(1));
        m.record_request("CreateMesh", 200, Duration::from_secs(60));
        let text = m.render(7);
        assert!(text.contains("appmesh_api_requests_total{operation=\"none\",status=\"599\"} 1"));
        assert!(text.contains(
            "appmesh_api_request_duration_seconds_bucket{operation=\"CreateMesh\",le=\"10\"} 0"
        ));
        assert!(text.contains(
            "appmesh_api_request_duration_seconds_bucket{operation=\"CreateMesh\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains("appmesh_store_revision 7"));
    }

    /// What recording costs per request (`cargo test -p appmesh-control-plane --lib
    /// recording_cost -- --ignored --nocapture`; meaningful in an optimised build).
    #[test]
    #[ignore]
    fn recording_cost() {
        let m = Metrics::new();
        let n = 2_000_000u32;
        let started = std::time::Instant::now();
        for i in 0..n {
            let op = if i % 2 == 0 {
                "DescribeVirtualNode"
            } else {
                "ListMeshes"
            };
            m.record_request(op, 200, Duration::from_micros(u64::from(i % 5000)));
        }
        let per = started.elapsed() / n;
        println!("record_request: {per:?} per request");
    }
}
