//! The translation from the App Mesh model to Envoy configuration.
//!
//! Everything here is a pure function: a [`MeshSnapshot`] (one mesh and every resource in it,
//! as the store holds them at one revision) and a [`Proxy`] (which virtual node a connected
//! Envoy stands for, and on which ports it listens) go in; the [`Resources`] that Envoy should
//! run come out. There is no I/O, no clock and no randomness, so the same input always gives
//! the same output, byte for byte, and the golden tests under `tests/golden/` pin it down.
//! The control plane's ADS server is a thin transport over [`translate`].
//!
//! Names follow App Mesh's (`../shared/spec/landscape.md` §2.2): listeners
//! `lds_<direction>_0.0.0.0_<port>`, clusters `cds_<direction>_<mesh>_<node>_<protocol>_<port>`,
//! route configurations `rds_<direction>_<protocol>_<port>`, one virtual host per virtual
//! service. So do the defaults users relied on without seeing them (§2.4): the 15 s route
//! timeout, the default retry policy, circuit breakers that are effectively off.
//!
//! - [`identity`]: which proxy is which (`node.id` as App Mesh's agent sends it).
//! - [`node`]: a virtual node's listeners, clusters and routes.
//! - [`gateway`]: a virtual gateway's, with its gateway routes.
//! - [`route`]: App Mesh route matches, retries and timeouts as Envoy routes.
//! - [`tls`]: listener TLS termination and client-policy TLS origination (mTLS included).
//! - [`cloud_map`]: the Cloud Map instances the operator lists, as endpoints.
//! - [`logging`]: file access logs on every connection manager and TCP proxy.
//! - [`envoy`]: small constructors for the Envoy messages used throughout.

pub mod cloud_map;
pub mod envoy;
pub mod gateway;
pub mod identity;
pub mod logging;
pub mod names;
pub mod node;
pub mod route;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;

use appmesh_model::gateway_route::GatewayRouteSpec;
use appmesh_model::mesh::MeshSpec;
use appmesh_model::route::RouteSpec;
use appmesh_model::virtual_gateway::VirtualGatewaySpec;
use appmesh_model::virtual_node::VirtualNodeSpec;
use appmesh_model::virtual_router::VirtualRouterSpec;
use appmesh_model::virtual_service::VirtualServiceSpec;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;

pub use cloud_map::CloudMap;
pub use identity::{Proxy, ProxyKind};

/// One mesh and everything in it, at one revision of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshSnapshot {
    /// The mesh's name.
    pub name: String,
    /// The mesh's spec.
    pub spec: MeshSpec,
    /// Virtual services by name.
    pub virtual_services: BTreeMap<String, VirtualServiceSpec>,
    /// Virtual nodes by name.
    pub virtual_nodes: BTreeMap<String, VirtualNodeSpec>,
    /// Virtual routers by name.
    pub virtual_routers: BTreeMap<String, VirtualRouterSpec>,
    /// Routes by router, then by name.
    pub routes: BTreeMap<String, BTreeMap<String, RouteSpec>>,
    /// Virtual gateways by name.
    pub virtual_gateways: BTreeMap<String, VirtualGatewaySpec>,
    /// Gateway routes by gateway, then by name.
    pub gateway_routes: BTreeMap<String, BTreeMap<String, GatewayRouteSpec>>,
    /// The Cloud Map instances known (the same for every mesh), for nodes discovered
    /// through `awsCloudMap`.
    pub cloud_map: Arc<CloudMap>,
}

/// The Envoy resources of one proxy, each list in name order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// LDS.
    pub listeners: Vec<Listener>,
    /// CDS.
    pub clusters: Vec<Cluster>,
    /// RDS.
    pub routes: Vec<RouteConfiguration>,
    /// EDS: the endpoints of clusters discovered through Cloud Map.
    pub endpoints: Vec<ClusterLoadAssignment>,
}

/// Why a proxy gets no configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unserved {
    /// The proxy names a mesh that does not exist.
    NoMesh(String),
    /// The proxy's mesh has no resource of that kind and name.
    NoResource {
        /// The mesh.
        mesh: String,
        /// `virtualNode` or `virtualGateway`.
        kind: ProxyKind,
        /// The name.
        name: String,
    },
}

impl std::fmt::Display for Unserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unserved::NoMesh(mesh) => write!(f, "mesh {mesh:?} does not exist"),
            Unserved::NoResource { mesh, kind, name } => {
                write!(f, "mesh {mesh:?} has no {} named {name:?}", kind.human())
            }
        }
    }
}

impl std::error::Error for Unserved {}

/// The configuration of `proxy`, translated from `mesh`.
pub fn translate(mesh: &MeshSnapshot, proxy: &Proxy) -> Result<Resources, Unserved> {
    if proxy.mesh != mesh.name {
        return Err(Unserved::NoMesh(proxy.mesh.clone()));
    }
    let missing = || Unserved::NoResource {
        mesh: mesh.name.clone(),
        kind: proxy.kind,
        name: proxy.name.clone(),
    };
    match proxy.kind {
        ProxyKind::VirtualNode => {
            let spec = mesh.virtual_nodes.get(&proxy.name).ok_or_else(missing)?;
            Ok(node::translate(mesh, proxy, spec))
        }
        ProxyKind::VirtualGateway => {
            let spec = mesh.virtual_gateways.get(&proxy.name).ok_or_else(missing)?;
            Ok(gateway::translate(mesh, proxy, spec))
        }
    }
}
