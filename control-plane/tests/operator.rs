//! In-process tests of the operator endpoints: `GET /metrics` (Prometheus text, parsed here
//! by a small parser of the exposition format) and `GET /v1/proxies`, with a fake Envoy
//! driving the ADS server through envoy-types' generated client to provoke an ACK and a NACK.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use appmesh_control_plane::access::{Access, AccessHandle};
use appmesh_control_plane::cloud_map::CloudMapFile;
use appmesh_control_plane::config::Settings;
use appmesh_control_plane::gate::Gate;
use appmesh_control_plane::metrics::Telemetry;
use appmesh_control_plane::service::{action_name, Service, Verb};
use appmesh_control_plane::sigv4::Signer;
use appmesh_control_plane::xds::Xds;
use appmesh_model::Kind;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const KEY: &str = "AKIDOPERATOR";
const SECRET: &str = "operator-secret";
const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";

/// The API (and, on demand, the xDS server) over one store and one telemetry.
struct Server {
    router: axum::Router,
    service: Service,
    telemetry: Telemetry,
    _stop: tokio::sync::watch::Sender<bool>,
    stopping: tokio::sync::watch::Receiver<bool>,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Server {
    /// With `insecure`, requests need no signature (as under `--insecure-dev`).
    fn new(insecure: bool) -> Self {
        let settings = Settings::default();
        let dir = tempfile::tempdir().unwrap();
        let store = common::open_store(dir.path(), &settings.account_id);
        let keys = format!(
            "[[keys]]\naccess_key_id = \"{KEY}\"\nsecret_access_key = \"{SECRET}\"\naccount = \"{}\"\nprincipal = \"operator\"\n",
            settings.account_id
        );
        let access = Arc::new(AccessHandle::fixed(
            Access::parse(&keys, std::path::Path::new(".")).unwrap(),
        ));
        let telemetry = Telemetry::default();
        let gate = Gate::new(access.clone(), &settings.region, &settings.account_id)
            .telemetry(telemetry.clone())
            .insecure(insecure);
        let service = Service::new(store, settings, access);
        let router = appmesh_control_plane::api::app(service.clone(), Arc::new(gate));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        Server {
            router,
            service,
            telemetry,
            _stop: stop,
            stopping,
            _dir: dir,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: &str, signed: bool) -> Answer {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut headers = vec![("host".to_owned(), "localhost".to_owned())];
        if signed {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            Signer {
                access_key_id: KEY,
                secret: SECRET,
                session_token: None,
                region: "us-east-1",
                service: "appmesh",
            }
            .sign(
                method.as_str(),
                path,
                query,
                &mut headers,
                body.as_bytes(),
                now,
            );
        }
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            content_type,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, "", false).await
    }

    async fn put(&self, uri: &str, body: Value) -> Answer {
        let answer = self.call(Method::PUT, uri, &body.to_string(), false).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
    }

    async fn scrape(&self) -> Exposition {
        let answer = self.get("/metrics").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            answer.content_type,
            "text/plain; version=0.0.4; charset=utf-8"
        );
        Exposition::parse(&answer.body)
    }

    async fn proxies(&self) -> Vec<Value> {
        let answer = self.get("/v1/proxies").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.content_type, "application/json");
        let body = answer.json();
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        body["proxies"].as_array().unwrap().clone()
    }

    /// Serves ADS on a free local port; the address to connect to.
    async fn start_xds(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tonic::transport::Server::builder().add_service(Xds::server(
            self.service.clone(),
            self.stopping.clone(),
            self.telemetry.clone(),
            CloudMapFile::none().subscribe(),
        ));
        tokio::spawn(
            server.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        format!("http://{addr}")
    }
}

/// One metric sample: its name, labels and value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed text exposition (format 0.0.4).
#[derive(Debug)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// Parses every line, failing the test on anything the format does not allow: a sample
    /// whose family has no `# TYPE` before it, a malformed label set, a value that is not a
    /// number, a family declared twice.
    fn parse(text: &str) -> Exposition {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        assert!(text.ends_with('\n'), "the exposition ends with a newline");
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                let mut words = comment.splitn(3, ' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("TYPE"), Some(name), Some(kind)) => {
                        assert!(
                            ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                            "{line}"
                        );
                        assert!(
                            types.insert(name.to_owned(), kind.to_owned()).is_none(),
                            "{name} declared twice"
                        );
                    }
                    (Some("HELP"), Some(_), Some(_)) => {}
                    _ => panic!("not a HELP or TYPE line: {line:?}"),
                }
                continue;
            }
            assert!(!line.is_empty() && !line.starts_with('#'), "{line:?}");
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line:?}"));
                    (name, parse_labels(rest, line))
                }
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line:?}"
            );
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
                })
                .unwrap_or(name);
            assert!(types.contains_key(family), "{name} has no # TYPE before it");
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
        Exposition { types, samples }
    }

    /// The value of the sample `name` whose labels include `labels` exactly; 0 when absent
    /// (a labelled counter appears at its first increment).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} appears twice");
        found.first().map_or(0.0, |s| s.value)
    }

    fn with_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("{line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(key.to_owned(), value).is_none(),
            "label {key} twice in {line:?}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

#[tokio::test]
async fn metrics_count_exactly_the_requests_made() {
    let server = Server::new(true);
    let before = server.scrape().await;
    for name in ["a", "b", "c"] {
        server
            .put("/v20190125/meshes", json!({"meshName": name}))
            .await;
    }
    for _ in 0..2 {
        let missing = server.get("/v20190125/meshes/nope").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
    server.get("/v20190125/meshes").await;
    server.get("/no/such/operation").await;
    let after = server.scrape().await;

    let delta = |op: &str, status: &str| {
        let labels = [("operation", op), ("status", status)];
        after.value("appmesh_api_requests_total", &labels)
            - before.value("appmesh_api_requests_total", &labels)
    };
    assert_eq!(delta("CreateMesh", "200"), 3.0);
    assert_eq!(delta("DescribeMesh", "404"), 2.0);
    // The label is the action the handler ran, as policies and the audit log name it.
    let list_meshes = action_name(Verb::List, Kind::Mesh);
    assert_eq!(delta(&list_meshes, "200"), 1.0);
    assert_eq!(delta("none", "404"), 1.0);
    // The first scrape, counted once it was answered.
    assert_eq!(delta("Metrics", "200"), 1.0);
    let total = |e: &Exposition| {
        e.with_name("appmesh_api_requests_total")
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert_eq!(total(&after) - total(&before), 8.0);

    assert_eq!(after.types["appmesh_api_requests_total"], "counter");
    assert_eq!(
        after.types["appmesh_api_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(after.types["appmesh_xds_connected_proxies"], "gauge");
    assert_eq!(after.types["appmesh_store_revision"], "gauge");
    assert_eq!(
        after.value("appmesh_store_revision", &[]),
        server.service.revision() as f64
    );
    assert!(after.value("appmesh_store_revision", &[]) >= 3.0);
    assert_eq!(after.value("appmesh_xds_connected_proxies", &[]), 0.0);
    for kind in ["CDS", "EDS", "LDS", "RDS"] {
        assert_eq!(
            after.value("appmesh_xds_pushes_total", &[("type", kind)]),
            0.0
        );
        assert_eq!(
            after.value("appmesh_xds_nacks_total", &[("type", kind)]),
            0.0
        );
    }
    let started = after.value("process_start_time_seconds", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(started > now - 600.0 && started <= now, "{started}");

    // Each operation's histogram: buckets cumulative and ordered, +Inf equal to the count,
    // the count equal to the operation's requests, and the sum within the bounds.
    let mut operations: Vec<String> = after
        .with_name("appmesh_api_request_duration_seconds_count")
        .map(|s| s.labels["operation"].clone())
        .collect();
    operations.sort();
    assert!(
        operations.contains(&"CreateMesh".to_owned()),
        "{operations:?}"
    );
    for op in &operations {
        let mut buckets: Vec<(f64, f64)> = after
            .with_name("appmesh_api_request_duration_seconds_bucket")
            .filter(|s| &s.labels["operation"] == op)
            .map(|s| {
                let le = &s.labels["le"];
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (bound, s.value)
            })
            .collect();
        assert_eq!(buckets.len(), 15, "{op}");
        let in_order = buckets.clone();
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert_eq!(in_order, buckets, "{op}: buckets are listed by bound");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{op}: {buckets:?}"
        );
        let count = after.value(
            "appmesh_api_request_duration_seconds_count",
            &[("operation", op)],
        );
        assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, count), "{op}");
        let requests: f64 = after
            .with_name("appmesh_api_requests_total")
            .filter(|s| &s.labels["operation"] == op)
            .map(|s| s.value)
            .sum();
        assert_eq!(requests, count, "{op}");
        let sum = after.value(
            "appmesh_api_request_duration_seconds_sum",
            &[("operation", op)],
        );
        assert!(sum >= 0.0 && sum <= count * 10.0 + 60.0, "{op}: {sum}");
    }
    // Nothing in it names a resource.
    let text = server.get("/metrics").await.body;
    for name in ["\"a\"", "nope", "123456789012", KEY] {
        assert!(!text.contains(name), "{name} in /metrics");
    }
}

#[tokio::test]
async fn metrics_need_no_signature_but_proxies_do() {
    let server = Server::new(false);
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.body);
    let unsigned = server.get("/v1/proxies").await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN, "{}", unsigned.body);
    let signed = server.call(Method::GET, "/v1/proxies", "", true).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert_eq!(signed.json(), json!({"proxies": []}));
    let wrong = server.call(Method::PUT, "/v1/proxies", "", true).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    let after = server.scrape().await;
    assert_eq!(
        after.value(
            "appmesh_api_requests_total",
            &[("operation", "ListProxies"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            "appmesh_api_requests_total",
            &[("operation", "none"), ("status", "403")]
        ),
        1.0
    );
}

/// An ADS client over a new connection to `address`.
async fn ads_client(address: &str) -> AggregatedDiscoveryServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(address.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    AggregatedDiscoveryServiceClient::new(channel)
}

/// A fake Envoy: one ADS stream, its requests sent by hand.
struct Fake {
    tx: tokio::sync::mpsc::Sender<DiscoveryRequest>,
    rx: tonic::Streaming<DiscoveryResponse>,
}

impl Fake {
    async fn connect(address: &str, node_id: &str, first_type: &str) -> Fake {
        let mut client = ads_client(address).await;
        let (tx, requests) = tokio::sync::mpsc::channel(8);
        tx.send(DiscoveryRequest {
            node: Some(Node {
                id: node_id.to_owned(),
                ..Default::default()
            }),
            type_url: first_type.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
        let rx = client
            .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(requests))
            .await
            .unwrap()
            .into_inner();
        Fake { tx, rx }
    }

    async fn send(&self, type_url: &str, version: &str, nonce: &str, error: Option<&str>) {
        self.tx
            .send(DiscoveryRequest {
                type_url: type_url.to_owned(),
                version_info: version.to_owned(),
                response_nonce: nonce.to_owned(),
                error_detail: error.map(|m| RpcStatus {
                    code: 3,
                    message: m.to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn next(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(10), self.rx.message())
            .await
            .expect("a response within 10 s")
            .unwrap()
            .unwrap()
    }
}

/// A fake Envoy on the incremental (delta) wire.
struct DeltaFake {
    tx: tokio::sync::mpsc::Sender<DeltaDiscoveryRequest>,
    rx: tonic::Streaming<DeltaDiscoveryResponse>,
}

impl DeltaFake {
    /// Opens a stream and subscribes to every cluster, saying it already has `known`.
    async fn connect(address: &str, node_id: &str, known: &[(&str, &str)]) -> DeltaFake {
        let mut client = ads_client(address).await;
        let (tx, requests) = tokio::sync::mpsc::channel(8);
        tx.send(DeltaDiscoveryRequest {
            node: Some(Node {
                id: node_id.to_owned(),
                ..Default::default()
            }),
            type_url: CDS.to_owned(),
            initial_resource_versions: known
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
        let rx = client
            .delta_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(requests))
            .await
            .unwrap()
            .into_inner();
        DeltaFake { tx, rx }
    }

    async fn ack(&self, response: &DeltaDiscoveryResponse) {
        self.tx
            .send(DeltaDiscoveryRequest {
                type_url: response.type_url.clone(),
                response_nonce: response.nonce.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn next(&mut self) -> DeltaDiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(10), self.rx.message())
            .await
            .expect("a response within 10 s")
            .unwrap()
            .unwrap()
    }
}

/// The names of a delta response's resources, and the names it removes.
fn delta_names(response: &DeltaDiscoveryResponse) -> (Vec<&str>, Vec<&str>) {
    (
        response.resources.iter().map(|r| r.name.as_str()).collect(),
        response
            .removed_resources
            .iter()
            .map(String::as_str)
            .collect(),
    )
}

/// Polls `/v1/proxies` until `ready` holds (or fails after 10 s).
async fn proxies_until(server: &Server, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let proxies = server.proxies().await;
        if ready(&proxies) {
            return proxies;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached in 10 s: {proxies:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn proxies_show_versions_acks_nacks_and_unknown_resources() {
    let server = Server::new(true);
    assert!(server.proxies().await.is_empty());
    server
        .put("/v20190125/meshes", json!({"meshName": "apps"}))
        .await;
    server
        .put(
            "/v20190125/meshes/apps/virtualNodes",
            json!({"virtualNodeName": "a", "spec": {
                "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
                "serviceDiscovery": {"dns": {"hostname": "127.0.0.1"}}}}),
        )
        .await;
    let address = server.start_xds().await;

    // Clusters, acknowledged; then listeners, refused.
    let mut envoy = Fake::connect(&address, "mesh/apps/virtualNode/a", CDS).await;
    let clusters = envoy.next().await;
    assert_eq!(clusters.type_url, CDS);
    envoy
        .send(CDS, &clusters.version_info, &clusters.nonce, None)
        .await;
    envoy.send(LDS, "", "", None).await;
    let listeners = envoy.next().await;
    assert_eq!(listeners.type_url, LDS);
    let refusal = "Error adding/updating listener(s) lds_ingress_0.0.0.0_15000: invalid";
    envoy.send(LDS, "", &listeners.nonce, Some(refusal)).await;

    let proxies = proxies_until(&server, |p| {
        p.len() == 1 && p[0]["types"]["LDS"]["lastAnswer"] == "NACK"
    })
    .await;
    let proxy = &proxies[0];
    let connected_at = proxy["connectedAt"].as_f64().unwrap();
    assert!(connected_at > 1.7e9, "{proxy}");
    assert!(
        proxy["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{proxy}"
    );
    assert_eq!(
        proxy["types"]["CDS"],
        json!({
            "typeUrl": CDS,
            "subscribed": true,
            "versionSent": clusters.version_info,
            "versionAcked": clusters.version_info,
            "pendingNonce": null,
            "lastAnswer": "ACK",
            "lastNack": null,
            "pushes": 1,
        })
    );
    let lds = &proxy["types"]["LDS"];
    assert_eq!(lds["versionSent"], json!(listeners.version_info));
    assert_eq!(lds["versionAcked"], Value::Null);
    assert_eq!(lds["pendingNonce"], Value::Null);
    assert_eq!(lds["lastNack"]["message"], refusal);
    assert_eq!(lds["lastNack"]["version"], json!(listeners.version_info));
    let nacked_at = lds["lastNack"]["at"].as_f64().unwrap();
    assert!(nacked_at >= connected_at, "{lds}");
    assert_eq!(
        proxy["types"]["RDS"],
        json!({"typeUrl": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
               "subscribed": false, "versionSent": null, "versionAcked": null,
               "pendingNonce": null, "lastAnswer": null, "lastNack": null, "pushes": 0})
    );
    let mut without_types = proxy.clone();
    without_types.as_object_mut().unwrap().remove("types");
    without_types.as_object_mut().unwrap().remove("connectedAt");
    without_types.as_object_mut().unwrap().remove("peer");
    assert_eq!(
        without_types,
        json!({
            "nodeId": "mesh/apps/virtualNode/a",
            "account": "123456789012",
            "mesh": "apps",
            "kind": "virtualNode",
            "name": "a",
            "arn": "arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualNode/a",
            "apiType": "GRPC",
            "status": "SERVING",
            "statusMessage": null,
        })
    );

    let metrics = server.scrape().await;
    assert_eq!(
        metrics.value("appmesh_xds_nacks_total", &[("type", "LDS")]),
        1.0
    );
    assert_eq!(
        metrics.value("appmesh_xds_nacks_total", &[("type", "CDS")]),
        0.0
    );
    assert_eq!(
        metrics.value("appmesh_xds_pushes_total", &[("type", "CDS")]),
        1.0
    );
    assert_eq!(
        metrics.value("appmesh_xds_pushes_total", &[("type", "LDS")]),
        1.0
    );
    assert_eq!(metrics.value("appmesh_xds_connected_proxies", &[]), 1.0);

    // Proxies whose mesh or resource does not exist are listed with why.
    let _lost = Fake::connect(&address, "mesh/nowhere/virtualNode/x", CDS).await;
    let _early = Fake::connect(
        &address,
        "arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualGateway/gw",
        CDS,
    )
    .await;
    let proxies = proxies_until(&server, |p| {
        p.len() == 3 && p.iter().all(|p| p["status"] != "PENDING")
    })
    .await;
    let by_node: BTreeMap<&str, &Value> = proxies
        .iter()
        .map(|p| (p["nodeId"].as_str().unwrap(), p))
        .collect();
    let lost = by_node["mesh/nowhere/virtualNode/x"];
    assert_eq!(lost["status"], "UNKNOWN_MESH");
    assert!(
        lost["statusMessage"].as_str().unwrap().contains("nowhere"),
        "{lost}"
    );
    assert_eq!(lost["types"]["CDS"]["versionSent"], Value::Null);
    assert_eq!(lost["types"]["CDS"]["subscribed"], true);
    let early = by_node["arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualGateway/gw"];
    assert_eq!(early["status"], "UNKNOWN_RESOURCE");
    assert_eq!(early["kind"], "virtualGateway");
    assert_eq!(
        early["arn"],
        "arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualGateway/gw"
    );
    assert!(
        early["statusMessage"].as_str().unwrap().contains("gw"),
        "{early}"
    );
    assert_eq!(
        server
            .scrape()
            .await
            .value("appmesh_xds_connected_proxies", &[]),
        3.0
    );

    // A stream that ends leaves the list and the gauge.
    drop(envoy);
    let proxies = proxies_until(&server, |p| p.len() == 2).await;
    assert!(proxies
        .iter()
        .all(|p| p["nodeId"] != "mesh/apps/virtualNode/a"));
    assert_eq!(
        server
            .scrape()
            .await
            .value("appmesh_xds_connected_proxies", &[]),
        2.0
    );
}

/// The incremental wire sends a resource only when its own version moves, names the ones
/// that went, and after a reconnection sends only what differs from what the proxy says it
/// has.
#[tokio::test]
async fn delta_streams_send_what_changed_and_name_what_went() {
    let server = Server::new(true);
    server
        .put("/v20190125/meshes", json!({"meshName": "apps"}))
        .await;
    let node = |ports: &[u16]| {
        json!({
            "listeners": ports.iter().map(|p| json!({"portMapping": {"port": p, "protocol": "http"}})).collect::<Vec<_>>(),
            "serviceDiscovery": {"dns": {"hostname": "127.0.0.1"}}})
    };
    server
        .put(
            "/v20190125/meshes/apps/virtualNodes",
            json!({"virtualNodeName": "a", "spec": node(&[8080])}),
        )
        .await;
    let address = server.start_xds().await;
    let (c8080, c9090) = (
        "cds_ingress_apps_a_http_8080",
        "cds_ingress_apps_a_http_9090",
    );

    let mut envoy = DeltaFake::connect(&address, "mesh/apps/virtualNode/a", &[]).await;
    let first = envoy.next().await;
    assert_eq!(delta_names(&first), (vec![c8080], vec![]));
    assert!(!first.system_version_info.is_empty());
    envoy.ack(&first).await;

    // A second listener: only its cluster is sent.
    server
        .put(
            "/v20190125/meshes/apps/virtualNodes/a",
            json!({"spec": node(&[8080, 9090])}),
        )
        .await;
    let added = envoy.next().await;
    assert_eq!(delta_names(&added), (vec![c9090], vec![]));
    assert_ne!(added.system_version_info, first.system_version_info);
    envoy.ack(&added).await;

    // The first listener goes: its cluster is removed by name, nothing is sent again.
    server
        .put(
            "/v20190125/meshes/apps/virtualNodes/a",
            json!({"spec": node(&[9090])}),
        )
        .await;
    let removed = envoy.next().await;
    assert_eq!(delta_names(&removed), (vec![], vec![c8080]));
    envoy.ack(&removed).await;
    let proxies = proxies_until(&server, |p| {
        p.len() == 1 && p[0]["types"]["CDS"]["versionAcked"] == json!(removed.system_version_info)
    })
    .await;
    assert_eq!(proxies[0]["apiType"], "DELTA_GRPC");
    assert_eq!(proxies[0]["types"]["CDS"]["pushes"], 3);
    drop(envoy);

    // Reconnected, saying what it has: the current cluster at its version is not sent
    // again, one it still holds from before is removed.
    let v9090 = added.resources[0].version.clone();
    let mut again = DeltaFake::connect(
        &address,
        "mesh/apps/virtualNode/a",
        &[(c9090, &v9090), (c8080, "old")],
    )
    .await;
    let resync = again.next().await;
    assert_eq!(delta_names(&resync), (vec![], vec![c8080]));
    // Claiming an outdated version gets the cluster.
    let mut stale =
        DeltaFake::connect(&address, "mesh/apps/virtualNode/a", &[(c9090, "old")]).await;
    assert_eq!(delta_names(&stale.next().await), (vec![c9090], vec![]));
}
