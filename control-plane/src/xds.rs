//! The ADS server: Envoy's aggregated discovery service (v3; state of the world and
//! incremental, "delta") over the translation in `appmesh-xds`.
//!
//! Each stream learns which proxy it serves from the first request's `node` (the id App
//! Mesh's agent sends; metadata `ingress_port`/`egress_port` move the listeners), then:
//! - answers each resource type Envoy subscribes to with the resources of its proxy, one
//!   version per type (a digest of the resources, so an unrelated write pushes nothing);
//!   an incremental stream gets only the resources whose own digest moved and the names of
//!   those gone, and a reconnecting proxy that says what it has gets only what differs;
//! - follows the store's change feed: after a write it reloads the proxy's mesh (once per
//!   revision, shared by every stream of that mesh), translates, and pushes the types whose
//!   version moved;
//! - sends clusters before listeners and routes, and holds new listeners and routes back
//!   until Envoy has acknowledged the clusters they may point at (make before break);
//! - treats a request whose nonce is the last response's as its ACK, or as its NACK when it
//!   carries `error_detail` (logged with the proxy and the error; the version stays as
//!   Envoy has it until the next change), and ignores requests with stale nonces.
//!
//! A proxy whose mesh or resource does not exist gets nothing and a log line; it is served
//! as soon as a write creates what it names.
//!
//! Each stream keeps its own entry in [`Proxies`] up to date (who it serves, each type's
//! versions, nonce and last NACK): the operator view `GET /v1/proxies` reads the entries,
//! and the entry goes when the stream does. Pushes and NACKs are counted in [`Metrics`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use appmesh_model::{Kind, Path, ResourceKey, Spec};
use appmesh_xds::envoy::Typed;
use appmesh_xds::{CloudMap, MeshSnapshot, Proxy, Resources};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::{value, Any};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::cloud_map::Generation;
use crate::error::ApiError;
use crate::metrics::{Metrics, Telemetry};
use crate::service::Service;
use crate::store::Record;

const CLUSTERS: &str = <Cluster as Typed>::TYPE_URL;
const ENDPOINTS: &str = <ClusterLoadAssignment as Typed>::TYPE_URL;
const LISTENERS: &str = <Listener as Typed>::TYPE_URL;
const ROUTES: &str = <RouteConfiguration as Typed>::TYPE_URL;

/// The order responses go out in: what is referred to before what refers to it.
const ORDER: [&str; 4] = [CLUSTERS, ENDPOINTS, LISTENERS, ROUTES];

/// The short names of the types in [`ORDER`], as the operator view and the metrics label
/// them.
pub const TYPE_NAMES: [&str; 4] = ["CDS", "EDS", "LDS", "RDS"];

/// How long a stream waits after a change for more before it reloads: a burst of writes
/// (a `terraform apply`) becomes one push.
const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(20);

/// The ADS service.
pub struct Xds(Arc<Shared>);

/// What every stream shares.
struct Shared {
    service: Service,
    cloud_map: tokio::sync::watch::Receiver<Generation>,
    snapshots: Mutex<Snapshots>,
    nonces: AtomicU64,
    stopping: tokio::sync::watch::Receiver<bool>,
    telemetry: Telemetry,
}

/// One mesh's snapshot, loaded by the first stream that asks (`None`: no such mesh).
type SnapshotCell = tokio::sync::OnceCell<Arc<Option<MeshSnapshot>>>;

/// Mesh snapshots of one revision and Cloud Map generation, by (account, mesh).
#[derive(Default)]
struct Snapshots {
    at: At,
    meshes: HashMap<(String, String), Arc<SnapshotCell>>,
}

/// The proxies connected to this server, for the operator view: each stream owns its entry
/// and updates it as it goes (an uncontended lock per ADS message); the view locks the list
/// only to copy it out, and a stream's entry is removed when the stream ends.
#[derive(Default)]
pub struct Proxies {
    next: AtomicU64,
    entries: Mutex<BTreeMap<u64, Arc<Mutex<ProxyEntry>>>>,
}

/// One connected proxy as `GET /v1/proxies` shows it (the JSON shape is documented in
/// `docs/guides/serving-envoy.md`; the web console reads it, so members are only added).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyEntry {
    /// `node.id` as the proxy sent it.
    pub node_id: String,
    /// The account whose mesh it names (the ARN's, else the server's default account).
    pub account: String,
    /// The mesh.
    pub mesh: String,
    /// `virtualNode` or `virtualGateway`.
    pub kind: &'static str,
    /// The virtual node's or gateway's name.
    pub name: String,
    /// The resource's ARN.
    pub arn: String,
    /// The proxy's address as this server sees it (`null` on a Unix socket).
    pub peer: Option<String>,
    /// The xDS wire the proxy chose, as Envoy's `api_type` names it: `GRPC` (state of the
    /// world) or `DELTA_GRPC` (incremental).
    pub api_type: &'static str,
    /// When the stream opened, in epoch seconds.
    pub connected_at: f64,
    /// `SERVING`, `PENDING` (not translated yet), `UNKNOWN_MESH`, `UNKNOWN_RESOURCE`, or
    /// `ERROR` (its mesh could not be read).
    pub status: &'static str,
    /// Why the proxy is not served, when it is not.
    pub status_message: Option<String>,
    /// Per xDS type, by short name: `CDS`, `EDS`, `LDS`, `RDS` (always all four).
    pub types: BTreeMap<&'static str, TypeEntry>,
}

/// One xDS type of one proxy.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeEntry {
    /// The type URL.
    pub type_url: &'static str,
    /// Whether the proxy asked for this type.
    pub subscribed: bool,
    /// The version of the last response sent.
    pub version_sent: Option<String>,
    /// The last version the proxy acknowledged.
    pub version_acked: Option<String>,
    /// The nonce of the last response while the proxy has not answered it.
    pub pending_nonce: Option<String>,
    /// `ACK` or `NACK`: the proxy's answer to the last response it answered.
    pub last_answer: Option<&'static str>,
    /// The last response the proxy refused, even if it has acknowledged another since.
    pub last_nack: Option<Nack>,
    /// Responses of this type sent on this stream.
    pub pushes: u64,
}

/// A refused response.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nack {
    /// The refused version.
    pub version: String,
    /// Envoy's `error_detail.message`.
    pub message: String,
    /// When it arrived, in epoch seconds.
    pub at: f64,
}

impl Proxies {
    /// Every connected proxy that has said who it is, in connection order.
    pub fn list(&self) -> Vec<ProxyEntry> {
        let entries: Vec<Arc<Mutex<ProxyEntry>>> = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        entries
            .iter()
            .map(|e| e.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    fn insert(&self, entry: ProxyEntry) -> (u64, Arc<Mutex<ProxyEntry>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Mutex::new(entry));
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, entry.clone());
        (id, entry)
    }

    fn remove(&self, id: u64) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A stream's place in the telemetry: counted while it is open, listed once it has said
/// who it is; both undone when it is dropped, however the stream ends.
struct Registration {
    telemetry: Telemetry,
    entry: Option<(u64, Arc<Mutex<ProxyEntry>>)>,
}

impl Registration {
    fn open(telemetry: Telemetry) -> Self {
        telemetry.metrics.stream_opened(true);
        Registration {
            telemetry,
            entry: None,
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.telemetry.metrics
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.telemetry.metrics.stream_opened(false);
        if let Some((id, _)) = &self.entry {
            self.telemetry.proxies.remove(*id);
        }
    }
}

impl Xds {
    /// The gRPC service over the control plane's store. Every stream ends when `stopping`
    /// turns true: ADS streams never finish on their own, and a graceful shutdown waits for
    /// open streams.
    /// Streams record themselves in `telemetry`. Nodes discovered through Cloud Map get the
    /// endpoints of `cloud_map`'s instances, and new ones with each new generation.
    pub fn server(
        service: Service,
        stopping: tokio::sync::watch::Receiver<bool>,
        telemetry: Telemetry,
        cloud_map: tokio::sync::watch::Receiver<Generation>,
    ) -> AggregatedDiscoveryServiceServer<Xds> {
        AggregatedDiscoveryServiceServer::new(Xds(Arc::new(Shared {
            service,
            cloud_map,
            snapshots: Mutex::default(),
            nonces: AtomicU64::new(0),
            stopping,
            telemetry,
        })))
    }
}

impl Shared {
    /// Where the inputs are now: the store's revision and the Cloud Map generation.
    fn at(&self) -> At {
        At {
            revision: self.service.revision(),
            cloud_map: self.cloud_map.borrow().0,
        }
    }

    /// The mesh `mesh` of account `space` as of `at`, loaded once whichever stream asks
    /// first; `None` when it does not exist.
    async fn mesh(
        &self,
        space: &str,
        mesh: &str,
        at: At,
    ) -> Result<Arc<Option<MeshSnapshot>>, ApiError> {
        let key = (space.to_string(), mesh.to_string());
        // One load per mesh and revision however many streams wake for it at once: the
        // first caller fills the cell, the others wait for it (a fleet of proxies would
        // otherwise read the whole mesh once each).
        let cell = {
            let mut cached = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
            if cached.at != at {
                *cached = Snapshots {
                    at,
                    meshes: HashMap::new(),
                };
            }
            cached.meshes.entry(key.clone()).or_default().clone()
        };
        let loaded = cell
            .get_or_try_init(|| async {
                let store = self.service.store().clone();
                let (space, mesh) = key;
                let cloud_map = self.cloud_map.borrow().1.clone();
                let loaded =
                    tokio::task::spawn_blocking(move || load(&*store, &space, &mesh, cloud_map))
                        .await
                        .map_err(|e| {
                            ApiError::internal(format!("loading a mesh snapshot: {e}"))
                        })??;
                Ok::<_, ApiError>(Arc::new(loaded))
            })
            .await?;
        Ok(loaded.clone())
    }

    fn nonce(&self) -> String {
        (self.nonces.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }
}

/// What a translation was made from: the store's revision and the Cloud Map generation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct At {
    revision: u64,
    cloud_map: u64,
}

/// Reads one mesh and everything in it from one snapshot of the store.
fn load(
    store: &dyn crate::store::Store,
    space: &str,
    mesh: &str,
    cloud_map: Arc<CloudMap>,
) -> Result<Option<MeshSnapshot>, ApiError> {
    let mut out = None;
    store.read(&mut |txn| {
        let Some(record) = txn.get(space, &ResourceKey::mesh(mesh))? else {
            out = None;
            return Ok(());
        };
        let Some(Spec::Mesh(spec)) = parse(&record) else {
            out = None;
            return Ok(());
        };
        let virtual_routers = specs(txn, space, mesh, Kind::VirtualRouter, None, |s| match s {
            Spec::VirtualRouter(v) => Some(v),
            _ => None,
        })?;
        let virtual_gateways = specs(txn, space, mesh, Kind::VirtualGateway, None, |s| match s {
            Spec::VirtualGateway(v) => Some(v),
            _ => None,
        })?;
        let mut routes = BTreeMap::new();
        for router in virtual_routers.keys() {
            let by_name = specs(txn, space, mesh, Kind::Route, Some(router), |s| match s {
                Spec::Route(r) => Some(r),
                _ => None,
            })?;
            routes.insert(router.clone(), by_name);
        }
        let mut gateway_routes = BTreeMap::new();
        for gateway in virtual_gateways.keys() {
            let by_name = specs(
                txn,
                space,
                mesh,
                Kind::GatewayRoute,
                Some(gateway),
                |s| match s {
                    Spec::GatewayRoute(r) => Some(r),
                    _ => None,
                },
            )?;
            gateway_routes.insert(gateway.clone(), by_name);
        }
        let snapshot = MeshSnapshot {
            name: mesh.to_string(),
            spec,
            virtual_services: specs(txn, space, mesh, Kind::VirtualService, None, |s| match s {
                Spec::VirtualService(v) => Some(v),
                _ => None,
            })?,
            virtual_nodes: specs(txn, space, mesh, Kind::VirtualNode, None, |s| match s {
                Spec::VirtualNode(v) => Some(v),
                _ => None,
            })?,
            virtual_routers,
            routes,
            virtual_gateways,
            gateway_routes,
            cloud_map: cloud_map.clone(),
        };
        out = Some(snapshot);
        Ok(())
    })?;
    Ok(out)
}

/// Every resource of `kind` in the mesh (under `parent`), by name, as the spec `pick` takes
/// out of [`Spec`]; read a page of 1,000 at a time.
fn specs<T>(
    txn: &mut dyn crate::store::Txn,
    space: &str,
    mesh: &str,
    kind: Kind,
    parent: Option<&str>,
    pick: fn(Spec) -> Option<T>,
) -> Result<BTreeMap<String, T>, ApiError> {
    const PAGE: usize = 1000;
    let mut out = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = txn.list(space, kind, mesh, parent, after.as_deref(), PAGE)?;
        let done = page.len() < PAGE;
        after = page.last().map(|r| r.key.name.clone());
        for record in page {
            if let Some(spec) = parse(&record).and_then(pick) {
                out.insert(record.key.name, spec);
            }
        }
        if done {
            return Ok(out);
        }
    }
}

/// A stored spec, typed. Stored specs were validated when written; one that no longer
/// parses (a rule tightened since) is left out of the proxy configuration and logged.
fn parse(record: &Record) -> Option<Spec> {
    match Spec::parse(record.key.kind, &record.spec, &Path::root()) {
        Ok(spec) => Some(spec),
        Err(violations) => {
            tracing::warn!(resource = ?record.key, ?violations, "a stored spec no longer validates; left out of proxy configuration");
            None
        }
    }
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for Xds {
    type StreamAggregatedResourcesStream = ReceiverStream<Result<DiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let peer = request.remote_addr().map(|a| a.to_string());
        let inbound = request.into_inner().map(|r| r.ok().map(Incoming::from));
        let stream = Stream::new(self.0.clone(), Outbound::Sotw(tx), peer);
        tokio::spawn(stream.run(Box::pin(inbound)));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let peer = request.remote_addr().map(|a| a.to_string());
        let inbound = request.into_inner().map(|r| r.ok().map(Incoming::from));
        let stream = Stream::new(self.0.clone(), Outbound::Delta(tx), peer);
        tokio::spawn(stream.run(Box::pin(inbound)));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// One request of either wire, as the stream handles it.
struct Incoming {
    node: Option<Node>,
    type_url: String,
    /// The nonce of the response this answers (empty: not an answer).
    response_nonce: String,
    /// Envoy's error when this answer is a NACK.
    error: Option<String>,
    /// State of the world: the version Envoy now has, and every name it wants (empty: all).
    version_info: String,
    names: Vec<String>,
    /// Incremental: names added to and removed from the subscription, and (first request
    /// of a type on a reconnected stream) the versions Envoy already has.
    subscribe: Vec<String>,
    unsubscribe: Vec<String>,
    initial_versions: HashMap<String, String>,
}

impl From<DiscoveryRequest> for Incoming {
    fn from(r: DiscoveryRequest) -> Self {
        Incoming {
            node: r.node,
            type_url: r.type_url,
            response_nonce: r.response_nonce,
            error: r.error_detail.map(|e| e.message),
            version_info: r.version_info,
            names: r.resource_names,
            subscribe: Vec::new(),
            unsubscribe: Vec::new(),
            initial_versions: HashMap::new(),
        }
    }
}

impl From<DeltaDiscoveryRequest> for Incoming {
    fn from(r: DeltaDiscoveryRequest) -> Self {
        Incoming {
            node: r.node,
            type_url: r.type_url,
            response_nonce: r.response_nonce,
            error: r.error_detail.map(|e| e.message),
            version_info: String::new(),
            names: Vec::new(),
            subscribe: r.resource_names_subscribe,
            unsubscribe: r.resource_names_unsubscribe,
            initial_versions: r.initial_resource_versions,
        }
    }
}

/// A stream's requests; `None` for a transport error, which ends the stream.
type Inbound = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Option<Incoming>> + Send>>;

/// Where a stream's responses go: a state-of-the-world stream gets every resource of a type
/// whenever one changes; an incremental (delta) stream gets the changed ones and the names
/// of the removed ones.
enum Outbound {
    Sotw(mpsc::Sender<Result<DiscoveryResponse, Status>>),
    Delta(mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>),
}

/// The stream's receiver is gone.
struct Closed;

impl Outbound {
    /// Envoy's `api_type` for this wire, as the operator view shows it.
    fn api_type(&self) -> &'static str {
        match self {
            Outbound::Sotw(_) => "GRPC",
            Outbound::Delta(_) => "DELTA_GRPC",
        }
    }

    /// Ends the stream with `status` (if Envoy is still there to hear it).
    async fn fail(&self, status: Status) {
        let _ = match self {
            Outbound::Sotw(tx) => tx.send(Err(status)).await.is_ok(),
            Outbound::Delta(tx) => tx.send(Err(status)).await.is_ok(),
        };
    }
}

/// What a stream knows of one resource type.
#[derive(Default)]
struct TypeState {
    /// Envoy asked for this type.
    subscribed: bool,
    /// The names it asked for, sorted; all resources of the type when `wildcard`.
    names: Vec<String>,
    wildcard: bool,
    /// Incremental only: the version of each resource Envoy has (or was last sent), and the
    /// names it subscribed to again, which must be sent even if unchanged.
    known: HashMap<String, String>,
    must_send: Vec<String>,
    /// The version and nonce of the last response (incremental: the version of all the
    /// type's resources, `system_version_info`).
    sent: Option<(String, String)>,
    /// The last version Envoy accepted.
    acked: Option<String>,
    /// Envoy's error for the last response it refused.
    nack: Option<String>,
    /// Send even if the version did not move (the subscription changed).
    resend: bool,
    /// Envoy answered the last response (ACK or NACK).
    answered: bool,
    /// Its last answer was an ACK (`true`) or a NACK.
    last_answer: Option<bool>,
    /// The last NACK: the version, Envoy's error and when it came; kept after later ACKs.
    last_nack: Option<Nack>,
    /// Responses sent.
    pushes: u64,
}

impl TypeState {
    fn waiting(&self) -> bool {
        match &self.sent {
            Some((version, _)) => self.acked.as_ref() != Some(version) && self.nack.is_none(),
            None => false,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.wildcard
            || self
                .names
                .binary_search_by(|n| n.as_str().cmp(name))
                .is_ok()
    }

    /// Takes in a state-of-the-world subscription: the full list of names.
    fn subscribe_all(&mut self, mut names: Vec<String>) {
        names.sort();
        if !self.subscribed || names != self.names {
            self.resend = true;
        }
        self.wildcard = names.is_empty();
        self.names = names;
    }

    /// Takes in an incremental subscription change. A first request without names (or
    /// the name `*`) subscribes to every resource of the type.
    fn subscribe_delta(&mut self, request: &mut Incoming) {
        if !self.subscribed {
            self.resend = true;
            self.wildcard = request.subscribe.is_empty();
            self.known = std::mem::take(&mut request.initial_versions);
        }
        for name in request.unsubscribe.drain(..) {
            if name == "*" {
                self.wildcard = false;
            }
            self.names.retain(|n| *n != name);
            self.known.remove(&name);
        }
        for name in request.subscribe.drain(..) {
            if name == "*" {
                self.wildcard = true;
                continue;
            }
            if let Err(at) = self.names.binary_search(&name) {
                self.names.insert(at, name.clone());
            }
            self.must_send.push(name);
        }
    }
}

struct Stream {
    xds: Arc<Shared>,
    out: Outbound,
    proxy: Option<Proxy>,
    types: HashMap<&'static str, TypeState>,
    /// The proxy's resources and what they were translated from.
    resources: Option<(At, Resources)>,
    /// Why the proxy is not served, when it is not (logged once per reason): the status
    /// the operator view shows, and the message.
    unserved: Option<(&'static str, String)>,
    /// The peer's address, if on TCP.
    peer: Option<String>,
    connected_at: SystemTime,
    registration: Registration,
}

impl Stream {
    fn new(xds: Arc<Shared>, out: Outbound, peer: Option<String>) -> Self {
        let registration = Registration::open(xds.telemetry.clone());
        Stream {
            xds,
            out,
            proxy: None,
            types: HashMap::new(),
            resources: None,
            unserved: None,
            peer,
            connected_at: SystemTime::now(),
            registration,
        }
    }

    /// Lists the stream in the operator view, once it knows its proxy.
    fn register(&mut self, node_id: &str, proxy: &Proxy) {
        let settings = self.xds.service.settings();
        let account = proxy
            .account
            .clone()
            .unwrap_or_else(|| settings.account_id.clone());
        let kind = match proxy.kind {
            appmesh_xds::ProxyKind::VirtualNode => Kind::VirtualNode,
            appmesh_xds::ProxyKind::VirtualGateway => Kind::VirtualGateway,
        };
        let arn = ResourceKey::in_mesh(kind, proxy.mesh.clone(), proxy.name.clone())
            .arn(&settings.region, &account);
        let entry = ProxyEntry {
            node_id: node_id.to_owned(),
            account,
            mesh: proxy.mesh.clone(),
            kind: proxy.kind.segment(),
            name: proxy.name.clone(),
            arn,
            peer: self.peer.clone(),
            api_type: self.out.api_type(),
            connected_at: epoch_seconds(self.connected_at),
            status: "PENDING",
            status_message: None,
            types: BTreeMap::new(),
        };
        self.registration.entry = Some(self.xds.telemetry.proxies.insert(entry));
        self.publish();
    }

    /// Copies what the stream knows into its operator-view entry.
    fn publish(&self) {
        let Some((_, entry)) = &self.registration.entry else {
            return;
        };
        let (status, status_message) = match (&self.unserved, &self.resources) {
            (Some((status, why)), _) => (*status, Some(why.clone())),
            (None, Some(_)) => ("SERVING", None),
            (None, None) => ("PENDING", None),
        };
        let types = ORDER
            .iter()
            .zip(TYPE_NAMES)
            .map(|(type_url, short)| {
                let view = match self.types.get(type_url) {
                    None => TypeEntry {
                        type_url,
                        ..TypeEntry::default()
                    },
                    Some(state) => TypeEntry {
                        type_url,
                        subscribed: state.subscribed,
                        version_sent: state.sent.as_ref().map(|(v, _)| v.clone()),
                        version_acked: state.acked.clone(),
                        pending_nonce: state
                            .sent
                            .as_ref()
                            .filter(|_| !state.answered)
                            .map(|(_, n)| n.clone()),
                        last_answer: state
                            .last_answer
                            .map(|ack| if ack { "ACK" } else { "NACK" }),
                        last_nack: state.last_nack.clone(),
                        pushes: state.pushes,
                    },
                };
                (short, view)
            })
            .collect();
        let mut entry = entry.lock().unwrap_or_else(|p| p.into_inner());
        entry.status = status;
        entry.status_message = status_message;
        entry.types = types;
    }

    async fn run(mut self, mut inbound: Inbound) {
        let mut feed = self.xds.service.store().feed().subscribe();
        let mut cloud_map = self.xds.cloud_map.clone();
        let mut stopping = self.xds.stopping.clone();
        loop {
            tokio::select! {
                _ = async { stopping.wait_for(|s| *s).await.is_ok() } => break,
                message = inbound.next() => match message {
                    Some(Some(request)) => {
                        if let Err(problem) = self.receive(request) {
                            self.out.fail(Status::invalid_argument(problem)).await;
                            return;
                        }
                    }
                    None | Some(None) => break,
                },
                changed = feed.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    tokio::time::sleep(DEBOUNCE).await;
                    feed.borrow_and_update();
                }
                Ok(()) = cloud_map.changed() => {
                    cloud_map.borrow_and_update();
                }
            }
            let pushed = self.push().await;
            self.publish();
            if pushed.is_err() {
                break;
            }
        }
        if let Some(p) = &self.proxy {
            tracing::info!(mesh = %p.mesh, resource = %p.name, "xDS stream closed");
        }
    }

    /// Takes in one request: the proxy's identity (first request), a subscription, an ACK
    /// or a NACK.
    ///
    /// An error is a request this stream cannot serve (its message ends the stream as
    /// `INVALID_ARGUMENT`).
    fn receive(&mut self, mut request: Incoming) -> Result<(), String> {
        if self.proxy.is_none() {
            let node = request
                .node
                .as_ref()
                .ok_or("the first discovery request must carry node")?;
            let proxy = identify(node)?;
            tracing::info!(node_id = %node.id, mesh = %proxy.mesh, kind = proxy.kind.segment(),
                resource = %proxy.name, ingress_port = proxy.ingress_port,
                egress_port = proxy.egress_port, api_type = self.out.api_type(), "xDS stream opened");
            let node_id = node.id.clone();
            self.register(&node_id, &proxy);
            self.proxy = Some(proxy);
        }
        let Some(type_index) = ORDER.iter().position(|t| *t == request.type_url) else {
            tracing::debug!(type_url = %request.type_url, "request for a type this server does not serve");
            return Ok(());
        };
        let type_url = ORDER[type_index];
        let state = self.types.entry(type_url).or_default();
        if !request.response_nonce.is_empty() {
            match &state.sent {
                Some((version, nonce)) if *nonce == request.response_nonce => {
                    if let Some(error) = &request.error {
                        if state.nack.as_ref() != Some(error) {
                            let p = self.proxy.as_ref().map(|p| p.name.as_str()).unwrap_or("");
                            tracing::warn!(resource = %p, type_url = %type_url, version = %version,
                                error = %error, "Envoy refused the configuration (NACK)");
                        }
                        if !state.answered {
                            self.registration.metrics().record_nack(type_index);
                        }
                        state.last_nack = Some(Nack {
                            version: version.clone(),
                            message: error.clone(),
                            at: epoch_seconds(SystemTime::now()),
                        });
                        state.last_answer = Some(false);
                        state.nack = Some(error.clone());
                    } else {
                        // An incremental ACK carries no version: it accepts the one sent.
                        state.acked = Some(match &self.out {
                            Outbound::Sotw(_) => request.version_info.clone(),
                            Outbound::Delta(_) => version.clone(),
                        });
                        state.last_answer = Some(true);
                        state.nack = None;
                    }
                    state.answered = true;
                }
                // A state-of-the-world answer to an older response: Envoy will ask again
                // for the latest.
                _ if matches!(self.out, Outbound::Sotw(_)) => return Ok(()),
                _ => {}
            }
        }
        match self.out {
            Outbound::Sotw(_) => state.subscribe_all(std::mem::take(&mut request.names)),
            Outbound::Delta(_) => state.subscribe_delta(&mut request),
        }
        state.subscribed = true;
        Ok(())
    }

    /// Translates again if the store moved, and sends every subscribed type whose version
    /// differs from what Envoy has, in make-before-break order.
    async fn push(&mut self) -> Result<(), Closed> {
        let Some(proxy) = self.proxy.clone() else {
            return Ok(());
        };
        let at = self.xds.at();
        if self.resources.as_ref().is_none_or(|(a, _)| *a != at) {
            match self.translate(&proxy, at).await {
                Ok(resources) => {
                    if self.unserved.take().is_some() {
                        tracing::info!(mesh = %proxy.mesh, resource = %proxy.name, "the proxy's resource exists now; serving it");
                    }
                    self.resources = Some((at, resources));
                }
                Err((status, why)) => {
                    if self.unserved.as_ref().map(|(_, w)| w) != Some(&why) {
                        tracing::warn!(mesh = %proxy.mesh, kind = proxy.kind.segment(), resource = %proxy.name,
                            reason = %why, "no configuration for this proxy");
                        self.unserved = Some((status, why));
                    }
                    self.resources = None;
                    return Ok(());
                }
            }
        }
        let Some((_, resources)) = &self.resources else {
            return Ok(());
        };
        let mut held = false;
        for (type_index, type_url) in ORDER.into_iter().enumerate() {
            let Some(state) = self.types.get_mut(type_url) else {
                continue;
            };
            if !state.subscribed {
                continue;
            }
            let payload = select(resources, type_url, |name| state.wants(name));
            let version = version_of(payload.iter().map(|(_, any)| any));
            let current = state.sent.as_ref().map(|(v, _)| v.as_str());
            let delta = match &self.out {
                Outbound::Sotw(_) => None,
                Outbound::Delta(_) => Some(changes(state, &payload)),
            };
            let unchanged = match &delta {
                None => current == Some(version.as_str()),
                Some((changed, removed)) => changed.is_empty() && removed.is_empty(),
            };
            if unchanged && !state.resend {
                held |= state.waiting() && matches!(type_url, CLUSTERS | ENDPOINTS);
                continue;
            }
            if held && matches!(type_url, LISTENERS | ROUTES) {
                // Clusters just changed and Envoy has not taken them yet: listeners and
                // routes wait for that ACK, so no route points at a missing cluster.
                continue;
            }
            let nonce = self.xds.nonce();
            state.sent = Some((version.clone(), nonce.clone()));
            state.resend = false;
            state.nack = None;
            state.answered = false;
            state.pushes += 1;
            self.registration.metrics().record_push(type_index);
            if matches!(type_url, CLUSTERS | ENDPOINTS) {
                held = true;
            }
            match &self.out {
                Outbound::Sotw(tx) => {
                    let response = DiscoveryResponse {
                        version_info: version,
                        resources: payload.into_iter().map(|(_, any)| any).collect(),
                        type_url: type_url.to_string(),
                        nonce,
                        ..Default::default()
                    };
                    tx.send(Ok(response)).await.map_err(|_| Closed)?;
                }
                Outbound::Delta(tx) => {
                    let (changed, removed) = delta.unwrap_or_default();
                    for name in &removed {
                        state.known.remove(name);
                    }
                    state.must_send.clear();
                    let resources = changed
                        .into_iter()
                        .map(|(name, resource_version, any)| {
                            state.known.insert(name.clone(), resource_version.clone());
                            Resource {
                                name,
                                version: resource_version,
                                resource: Some(any),
                                ..Default::default()
                            }
                        })
                        .collect();
                    let response = DeltaDiscoveryResponse {
                        system_version_info: version,
                        resources,
                        type_url: type_url.to_string(),
                        removed_resources: removed,
                        nonce,
                        ..Default::default()
                    };
                    tx.send(Ok(response)).await.map_err(|_| Closed)?;
                }
            }
        }
        Ok(())
    }

    /// The proxy's resources, or why it has none: the operator view's status and the
    /// message.
    async fn translate(&self, proxy: &Proxy, at: At) -> Result<Resources, (&'static str, String)> {
        let settings = self.xds.service.settings();
        let space = proxy.account.as_deref().unwrap_or(&settings.account_id);
        let mesh = self
            .xds
            .mesh(space, &proxy.mesh, at)
            .await
            .map_err(|e| ("ERROR", format!("reading the mesh: {}", e.message)))?;
        let unserved = |e: appmesh_xds::Unserved| {
            let status = match e {
                appmesh_xds::Unserved::NoMesh(_) => "UNKNOWN_MESH",
                appmesh_xds::Unserved::NoResource { .. } => "UNKNOWN_RESOURCE",
            };
            (status, e.to_string())
        };
        let Some(mesh) = mesh.as_ref() else {
            return Err(unserved(appmesh_xds::Unserved::NoMesh(proxy.mesh.clone())));
        };
        appmesh_xds::translate(mesh, proxy).map_err(unserved)
    }
}

/// The resources of one type that `wanted` names, with their names.
fn select(
    resources: &Resources,
    type_url: &str,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(String, Any)> {
    fn pick<T: Typed>(
        items: &[T],
        name: impl Fn(&T) -> &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<(String, Any)> {
        items
            .iter()
            .filter(|item| wanted(name(item)))
            .map(|item| (name(item).to_owned(), item.to_any()))
            .collect()
    }
    match type_url {
        CLUSTERS => pick(&resources.clusters, |c| &c.name, wanted),
        ENDPOINTS => pick(&resources.endpoints, |e| &e.cluster_name, wanted),
        LISTENERS => pick(&resources.listeners, |l| &l.name, wanted),
        ROUTES => pick(&resources.routes, |r| &r.name, wanted),
        _ => Vec::new(),
    }
}

/// What an incremental stream must send of `payload`: the resources Envoy does not have at
/// their version (or subscribed to again), each with its version, and the names Envoy has
/// that are gone.
fn changes(
    state: &TypeState,
    payload: &[(String, Any)],
) -> (Vec<(String, String, Any)>, Vec<String>) {
    let again: std::collections::HashSet<&str> =
        state.must_send.iter().map(String::as_str).collect();
    let present: std::collections::HashSet<&str> =
        payload.iter().map(|(n, _)| n.as_str()).collect();
    let changed = payload
        .iter()
        .filter_map(|(name, any)| {
            let version = version_of(std::iter::once(any));
            let fresh = state.known.get(name) != Some(&version) || again.contains(name.as_str());
            fresh.then(|| (name.clone(), version, any.clone()))
        })
        .collect();
    let mut removed: Vec<String> = state
        .known
        .keys()
        .filter(|name| !present.contains(name.as_str()))
        .cloned()
        .collect();
    removed.sort();
    (changed, removed)
}

/// A digest of the resources: the same configuration has the same version on every replica
/// and after a restart, so a reconnecting proxy that is up to date gets nothing new.
fn version_of<'a>(resources: impl IntoIterator<Item = &'a Any>) -> String {
    let mut hash = Sha256::new();
    for r in resources {
        hash.update(r.type_url.as_bytes());
        hash.update((r.value.len() as u64).to_be_bytes());
        hash.update(&r.value);
    }
    let digest = hash.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The proxy a node stands for: `node.id`, and the ports in its metadata.
fn identify(node: &Node) -> Result<Proxy, String> {
    let mut proxy = Proxy::from_node_id(&node.id).map_err(|e| e.to_string())?;
    let fields = node.metadata.as_ref().map(|m| &m.fields);
    let port = |name: &str| -> Result<Option<u32>, String> {
        let Some(v) = fields.and_then(|f| f.get(name)) else {
            return Ok(None);
        };
        match &v.kind {
            Some(value::Kind::NumberValue(n))
                if n.fract() == 0.0 && (1.0..=65535.0).contains(n) =>
            {
                Ok(Some(*n as u32))
            }
            Some(value::Kind::StringValue(s)) => s
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=65535).contains(p))
                .map(Some)
                .ok_or_else(|| {
                    format!("node metadata {name} must be a port number, 1 to 65535; got {s:?}")
                }),
            other => Err(format!(
                "node metadata {name} must be a port number, 1 to 65535; got {other:?}"
            )),
        }
    };
    if let Some(p) = port("ingress_port")? {
        proxy.ingress_port = p;
    }
    if let Some(p) = port("egress_port")? {
        proxy.egress_port = p;
    }
    Ok(proxy)
}
