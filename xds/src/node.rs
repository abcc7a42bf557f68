//! A virtual node's proxy: its ingress listener in front of the local application, its egress
//! listener towards its backends, and the clusters and routes both need.
//!
//! Where App Mesh relied on the platform, the translation does what works without it:
//! - App Mesh redirected the application's ports to the ingress listener with iptables and
//!   chose the filter chain by the original destination port. The chains still match on it
//!   (with the `original_dst` listener filter), and the first listener's chain is also the
//!   listener's default, so a client that connects to the ingress port directly (several
//!   proxies on one host, no redirect) reaches the first listener.
//! - The egress listener answers requests by `Host`: one virtual host per backend virtual
//!   service, with domains `<service>` and `<service>:<port>` for each port of its provider.
//! - The `ALLOW_ALL` egress filter adds a last virtual host (`*`) to an `ORIGINAL_DST`
//!   cluster, which forwards to where the application meant to go when iptables redirected it
//!   here. `DROP_ALL` leaves it out: Envoy answers 404 for any other host.
//! - TLS ([`crate::tls`]): a listener's `tls` on its filter chains; the backends' client
//!   policies (each backend's own, else `backendDefaults`) on the egress clusters. A cluster
//!   belongs to a backend node's listener, not to a service: when two backend services reach
//!   the same node listener, the first in the list decides its TLS (and SNI).
//! - Access logs ([`crate::logging`]) on every connection manager and TCP proxy.

use std::collections::BTreeMap;

use appmesh_model::common::ClientPolicyTls;
use appmesh_model::common::{HealthCheckPolicy, IpPreference, PortProtocol};
use appmesh_model::mesh::EgressFilterType;
use appmesh_model::route::{RouteSpec, WeightedTarget};
use appmesh_model::virtual_node::{
    Backend, DnsResponseType, Listener as ApiListener, ListenerTimeout,
    OutlierDetection as ApiOutlier, ServiceDiscovery, VirtualNodeConnectionPool, VirtualNodeSpec,
};
use appmesh_model::virtual_service::VirtualServiceProvider;
use envoy_types::pb::envoy::config::accesslog::v3::AccessLog;
use envoy_types::pb::envoy::config::cluster::v3::{
    circuit_breakers, cluster, CircuitBreakers, Cluster, OutlierDetection,
};
use envoy_types::pb::envoy::config::core::v3::{health_check, HealthCheck, TrafficDirection};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{
    filter, listener_filter, Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter,
};
use envoy_types::pb::envoy::config::route::v3::{
    route, route_action, weighted_cluster, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost, WeightedCluster,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::original_dst::v3::OriginalDst;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager, http_filter, HttpConnectionManager, HttpFilter, Rds,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{tcp_proxy, TcpProxy};

use crate::envoy::{self, Typed};
use crate::names::{self, Direction};
use crate::route as routes;
use crate::{logging, tls};
use crate::{MeshSnapshot, Proxy, Resources};

/// How long Envoy waits to connect to the local application.
const INGRESS_CONNECT_TIMEOUT_MS: i64 = 250;
/// How long Envoy waits to connect to a backend.
const EGRESS_CONNECT_TIMEOUT_MS: i64 = 1000;
/// App Mesh's circuit-breaker limits: effectively none.
const UNLIMITED: u32 = 2_147_483_647;

/// The configuration of the proxy of virtual node `spec`.
pub fn translate(mesh: &MeshSnapshot, proxy: &Proxy, spec: &VirtualNodeSpec) -> Resources {
    let mut out = Out::default();
    let logs = logging::access_logs(spec.logging.as_ref());
    ingress(mesh, proxy, spec, &logs, &mut out);
    let defaults = spec
        .backend_defaults
        .as_ref()
        .and_then(|d| d.client_policy.as_ref())
        .and_then(|p| p.tls.as_ref());
    let backends = spec.backends.iter().flatten().map(|b| {
        let Backend::VirtualService(b) = b;
        BackendRef {
            service: &b.virtual_service_name,
            tls: b
                .client_policy
                .as_ref()
                .and_then(|p| p.tls.as_ref())
                .or(defaults),
        }
    });
    egress(mesh, proxy, backends, &logs, &mut out);
    out.finish()
}

/// A virtual service the proxy sends to, and the client-policy TLS it uses towards it.
#[derive(Clone, Copy)]
pub(crate) struct BackendRef<'a> {
    /// The virtual service's name (also the SNI of TLS towards it).
    pub(crate) service: &'a str,
    /// The backend's client-policy TLS, else the defaults'.
    pub(crate) tls: Option<&'a ClientPolicyTls>,
}

/// Resources gathered by name, so that a cluster two routes share is built once.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) clusters: BTreeMap<String, Cluster>,
    pub(crate) routes: Vec<RouteConfiguration>,
    pub(crate) endpoints: BTreeMap<String, ClusterLoadAssignment>,
}

impl Out {
    pub(crate) fn finish(self) -> Resources {
        let mut r = Resources {
            listeners: self.listeners,
            clusters: self.clusters.into_values().collect(),
            routes: self.routes,
            endpoints: self.endpoints.into_values().collect(),
        };
        r.listeners.sort_by(|a, b| a.name.cmp(&b.name));
        r.routes.sort_by(|a, b| a.name.cmp(&b.name));
        r
    }
}

// === Ingress ===

fn ingress(
    mesh: &MeshSnapshot,
    proxy: &Proxy,
    spec: &VirtualNodeSpec,
    logs: &[AccessLog],
    out: &mut Out,
) {
    let listeners = spec.listeners.as_deref().unwrap_or_default();
    if listeners.is_empty() {
        return;
    }
    let mut chains = Vec::new();
    // The first listener's chains without their port: where a direct connection goes.
    let mut default_chains = Vec::new();
    for l in listeners {
        let (port, protocol) = (l.port_mapping.port, l.port_mapping.protocol);
        let cluster_name =
            names::cluster(Direction::Ingress, &mesh.name, &proxy.name, protocol, port);
        out.clusters
            .insert(cluster_name.clone(), ingress_cluster(&cluster_name, l));
        let filter = if protocol == PortProtocol::Tcp {
            tcp_filter("ingress", &cluster_name, listener_idle(l), logs)
        } else {
            let rds = names::route_config(Direction::Ingress, protocol, port.into());
            out.routes.push(RouteConfiguration {
                name: rds.clone(),
                virtual_hosts: vec![VirtualHost {
                    name: proxy.name.clone(),
                    domains: vec!["*".into()],
                    routes: vec![Route {
                        r#match: Some(prefix("/")),
                        action: Some(route::Action::Route(RouteAction {
                            cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(
                                cluster_name,
                            )),
                            timeout: Some(routes::request_timeout(listener_per_request(l))),
                            idle_timeout: listener_idle(l).map(envoy::api_duration),
                            ..Default::default()
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            });
            http_filter_of("ingress", &rds, logs)
        };
        let plain = FilterChain {
            name: format!("{}_{port}", names::protocol(protocol)),
            filter_chain_match: Some(FilterChainMatch {
                destination_port: envoy::uint32(port as u32),
                ..Default::default()
            }),
            filters: vec![filter],
            ..Default::default()
        };
        let these = tls::chains(plain, tls::termination(l.tls.as_ref(), protocol));
        if chains.is_empty() {
            default_chains = these
                .iter()
                .map(|c| FilterChain {
                    filter_chain_match: c.filter_chain_match.clone().map(|m| FilterChainMatch {
                        destination_port: None,
                        ..m
                    }),
                    ..c.clone()
                })
                .collect();
        }
        chains.extend(these);
    }
    // One chain is the listener's default. A PERMISSIVE first listener has two, which differ
    // in transport protocol; the default chain cannot, so they are added again matching any
    // port (Envoy prefers an exact port to none).
    let default_chain = match default_chains.len() {
        1 => default_chains.pop().map(|c| FilterChain {
            filter_chain_match: None,
            ..c
        }),
        _ => {
            chains.extend(default_chains.into_iter().map(|c| FilterChain {
                name: format!("{}_any_port", c.name),
                ..c
            }));
            None
        }
    };
    let mut listener_filters = vec![ListenerFilter {
        name: "envoy.filters.listener.original_dst".into(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(
            OriginalDst {}.to_any(),
        )),
        ..Default::default()
    }];
    listener_filters.extend(tls::inspector(&chains));
    out.listeners.push(Listener {
        name: names::listener(Direction::Ingress, proxy.ingress_port),
        address: Some(envoy::socket("0.0.0.0", proxy.ingress_port)),
        traffic_direction: TrafficDirection::Inbound as i32,
        listener_filters,
        filter_chains: chains,
        default_filter_chain: default_chain,
        ..Default::default()
    });
}

fn ingress_cluster(name: &str, l: &ApiListener) -> Cluster {
    let (port, protocol) = (l.port_mapping.port, l.port_mapping.protocol);
    let mut c = cluster_base(name, protocol, INGRESS_CONNECT_TIMEOUT_MS);
    c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
        cluster::DiscoveryType::Static as i32,
    ));
    c.load_assignment = Some(load_assignment(name, "127.0.0.1", port as u32));
    if let Some(pool) = &l.connection_pool {
        c.circuit_breakers = Some(pool_limits(pool));
    }
    if let Some(hc) = &l.health_check {
        c.health_checks = vec![health_check(hc)];
    }
    c
}

fn listener_per_request(l: &ApiListener) -> Option<&appmesh_model::common::Duration> {
    match l.timeout.as_ref()? {
        ListenerTimeout::Http(t) | ListenerTimeout::Http2(t) => t.per_request.as_ref(),
        ListenerTimeout::Grpc(t) => t.per_request.as_ref(),
        ListenerTimeout::Tcp(_) => None,
    }
}

fn listener_idle(l: &ApiListener) -> Option<&appmesh_model::common::Duration> {
    match l.timeout.as_ref()? {
        ListenerTimeout::Http(t) | ListenerTimeout::Http2(t) => t.idle.as_ref(),
        ListenerTimeout::Grpc(t) => t.idle.as_ref(),
        ListenerTimeout::Tcp(t) => t.idle.as_ref(),
    }
}

fn pool_limits(pool: &VirtualNodeConnectionPool) -> CircuitBreakers {
    let mut t = unlimited_thresholds();
    let at_most = |n: i32| envoy::uint32(n.max(1) as u32);
    match pool {
        VirtualNodeConnectionPool::Http(p) => {
            t.max_connections = at_most(p.max_connections);
            if let Some(pending) = p.max_pending_requests {
                t.max_pending_requests = at_most(pending);
            }
        }
        VirtualNodeConnectionPool::Http2(p) => t.max_requests = at_most(p.max_requests),
        VirtualNodeConnectionPool::Grpc(p) => t.max_requests = at_most(p.max_requests),
        VirtualNodeConnectionPool::Tcp(p) => t.max_connections = at_most(p.max_connections),
    }
    CircuitBreakers {
        thresholds: vec![t],
        ..Default::default()
    }
}

fn health_check(p: &HealthCheckPolicy) -> HealthCheck {
    let checker = match p.protocol {
        PortProtocol::Tcp => health_check::HealthChecker::TcpHealthCheck(Default::default()),
        PortProtocol::Grpc => health_check::HealthChecker::GrpcHealthCheck(Default::default()),
        PortProtocol::Http | PortProtocol::Http2 => {
            health_check::HealthChecker::HttpHealthCheck(health_check::HttpHealthCheck {
                path: p.path.clone().unwrap_or_else(|| "/".into()),
                ..Default::default()
            })
        }
    };
    HealthCheck {
        timeout: Some(envoy::millis(p.timeout_millis)),
        interval: Some(envoy::millis(p.interval_millis)),
        unhealthy_threshold: envoy::uint32(p.unhealthy_threshold as u32),
        healthy_threshold: envoy::uint32(p.healthy_threshold as u32),
        health_checker: Some(checker),
        ..Default::default()
    }
}

// === Egress ===

/// The egress listener and its routes: one virtual host per virtual service in `services`
/// (a node's backends, a gateway's route targets), then the mesh's egress filter.
pub(crate) fn egress<'a>(
    mesh: &MeshSnapshot,
    proxy: &Proxy,
    services: impl IntoIterator<Item = BackendRef<'a>>,
    logs: &[AccessLog],
    out: &mut Out,
) {
    let mut hosts: Vec<VirtualHost> = services
        .into_iter()
        .filter_map(|backend| backend_host(mesh, backend, out))
        .collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    hosts.dedup_by(|a, b| a.name == b.name);
    let allow_all = mesh
        .spec
        .egress_filter
        .as_ref()
        .is_some_and(|f| f.r#type == EgressFilterType::AllowAll);
    if allow_all {
        let name = names::allow_all_cluster(&mesh.name);
        let mut c = cluster_base(&name, PortProtocol::Http, EGRESS_CONNECT_TIMEOUT_MS);
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::OriginalDst as i32,
        ));
        c.lb_policy = cluster::LbPolicy::ClusterProvided as i32;
        out.clusters.insert(name.clone(), c);
        hosts.push(VirtualHost {
            name: "allow_all".into(),
            domains: vec!["*".into()],
            routes: vec![Route {
                r#match: Some(prefix("/")),
                action: Some(route::Action::Route(RouteAction {
                    cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(name)),
                    timeout: Some(routes::request_timeout(None)),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    let rds = names::route_config(
        Direction::Egress,
        PortProtocol::Http,
        proxy.egress_port.into(),
    );
    out.routes.push(RouteConfiguration {
        name: rds.clone(),
        virtual_hosts: hosts,
        ..Default::default()
    });
    out.listeners.push(Listener {
        name: names::listener(Direction::Egress, proxy.egress_port),
        address: Some(envoy::socket("0.0.0.0", proxy.egress_port)),
        traffic_direction: TrafficDirection::Outbound as i32,
        filter_chains: vec![FilterChain {
            filters: vec![http_filter_of("egress", &rds, logs)],
            ..Default::default()
        }],
        ..Default::default()
    });
}

/// The virtual host of one backend virtual service, or none when the service does not exist
/// or has no provider to send to.
fn backend_host(mesh: &MeshSnapshot, b: BackendRef<'_>, out: &mut Out) -> Option<VirtualHost> {
    let service = b.service;
    let provider = mesh.virtual_services.get(service)?.provider.as_ref()?;
    let (ports, routes): (Vec<i32>, Vec<Route>) = match provider {
        VirtualServiceProvider::VirtualNode(p) => {
            let target = mesh.virtual_nodes.get(&p.virtual_node_name)?;
            let listeners = target.listeners.as_deref().unwrap_or_default();
            let first = listeners.first()?;
            let cluster = egress_cluster(mesh, b, &p.virtual_node_name, first, out);
            let route = Route {
                r#match: Some(prefix("/")),
                action: Some(route::Action::Route(RouteAction {
                    cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster)),
                    timeout: Some(routes::request_timeout(None)),
                    retry_policy: Some(routes::default_retry(
                        first.port_mapping.protocol == PortProtocol::Grpc,
                    )),
                    ..Default::default()
                })),
                ..Default::default()
            };
            (
                listeners.iter().map(|l| l.port_mapping.port).collect(),
                vec![route],
            )
        }
        VirtualServiceProvider::VirtualRouter(p) => {
            let router = mesh.virtual_routers.get(&p.virtual_router_name)?;
            let ports = router
                .listeners
                .iter()
                .flatten()
                .map(|l| l.port_mapping.port)
                .collect();
            let mut specs: Vec<(&String, &RouteSpec)> = mesh
                .routes
                .get(&p.virtual_router_name)
                .into_iter()
                .flatten()
                .collect();
            // App Mesh matches routes by priority, 0 first; routes without one come last.
            specs.sort_by_key(|(name, r)| (r.priority.unwrap_or(i32::MAX), name.as_str()));
            let routes = specs
                .into_iter()
                .filter_map(|(name, r)| router_route(mesh, b, name, r, out))
                .collect();
            (ports, routes)
        }
    };
    let mut domains = vec![service.to_string()];
    domains.extend(ports.iter().map(|p| format!("{service}:{p}")));
    Some(VirtualHost {
        name: service.to_string(),
        domains,
        routes,
        ..Default::default()
    })
}

/// One route of a virtual router, or none for a TCP route (which the HTTP egress listener
/// cannot carry) or a route none of whose targets can be reached.
fn router_route(
    mesh: &MeshSnapshot,
    b: BackendRef<'_>,
    name: &str,
    r: &RouteSpec,
    out: &mut Out,
) -> Option<Route> {
    let (matched, retry, timeout, idle, grpc) =
        if let Some(h) = r.http_route.as_ref().or(r.http2_route.as_ref()) {
            (
                routes::http_match(&h.r#match),
                h.retry_policy.as_ref().map(routes::http_retry),
                h.timeout.as_ref().and_then(|t| t.per_request.as_ref()),
                h.timeout.as_ref().and_then(|t| t.idle.as_ref()),
                false,
            )
        } else if let Some(g) = &r.grpc_route {
            (
                routes::grpc_match(&g.r#match),
                g.retry_policy.as_ref().map(routes::grpc_retry),
                g.timeout.as_ref().and_then(|t| t.per_request.as_ref()),
                g.timeout.as_ref().and_then(|t| t.idle.as_ref()),
                true,
            )
        } else {
            return None;
        };
    let clusters = weighted(mesh, b, r.weighted_targets(), out);
    if clusters
        .iter()
        .all(|c| c.weight.as_ref().is_none_or(|w| w.value == 0))
    {
        return None;
    }
    Some(Route {
        name: name.to_string(),
        r#match: Some(matched),
        action: Some(route::Action::Route(RouteAction {
            cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(
                WeightedCluster {
                    clusters,
                    ..Default::default()
                },
            )),
            timeout: Some(routes::request_timeout(timeout)),
            idle_timeout: idle.map(envoy::api_duration),
            retry_policy: Some(retry.unwrap_or_else(|| routes::default_retry(grpc))),
            ..Default::default()
        })),
        ..Default::default()
    })
}

fn weighted(
    mesh: &MeshSnapshot,
    b: BackendRef<'_>,
    targets: &[WeightedTarget],
    out: &mut Out,
) -> Vec<weighted_cluster::ClusterWeight> {
    targets
        .iter()
        .filter_map(|t| {
            let node = mesh.virtual_nodes.get(&t.virtual_node)?;
            let listeners = node.listeners.as_deref().unwrap_or_default();
            let listener = match t.port {
                Some(port) => listeners.iter().find(|l| l.port_mapping.port == port)?,
                None => listeners.first()?,
            };
            Some(weighted_cluster::ClusterWeight {
                name: egress_cluster(mesh, b, &t.virtual_node, listener, out),
                weight: envoy::uint32(t.weight.max(0) as u32),
                ..Default::default()
            })
        })
        .collect()
}

/// The cluster of a backend node's listener, built once (with the TLS of the first backend
/// service that reaches it); returns its name.
fn egress_cluster(
    mesh: &MeshSnapshot,
    b: BackendRef<'_>,
    node: &str,
    l: &ApiListener,
    out: &mut Out,
) -> String {
    let (port, protocol) = (l.port_mapping.port, l.port_mapping.protocol);
    let name = names::cluster(Direction::Egress, &mesh.name, node, protocol, port);
    if out.clusters.contains_key(&name) {
        return name;
    }
    let mut c = cluster_base(&name, protocol, EGRESS_CONNECT_TIMEOUT_MS);
    if let Some(o) = &l.outlier_detection {
        c.outlier_detection = Some(outlier(o));
    }
    let discovery = mesh
        .virtual_nodes
        .get(node)
        .and_then(|n| n.service_discovery.as_ref());
    let mesh_preference = mesh
        .spec
        .service_discovery
        .as_ref()
        .and_then(|d| d.ip_preference);
    // The name a server certificate must carry when the client policy lists none.
    let discovered_as = match discovery {
        Some(ServiceDiscovery::Dns(dns)) => Some(dns.hostname.clone()),
        Some(ServiceDiscovery::AwsCloudMap(m)) => {
            Some(format!("{}.{}", m.service_name, m.namespace_name))
        }
        None => None,
    };
    c.transport_socket = tls::origination(b.tls, l, b.service, discovered_as.as_deref());
    match discovery {
        Some(ServiceDiscovery::Dns(dns)) => {
            let kind = match dns.response_type {
                Some(DnsResponseType::Endpoints) => cluster::DiscoveryType::StrictDns,
                Some(DnsResponseType::LoadBalancer) | None => cluster::DiscoveryType::LogicalDns,
            };
            c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(kind as i32));
            c.dns_lookup_family = lookup_family(dns.ip_preference.or(mesh_preference)) as i32;
            c.load_assignment = Some(load_assignment(&name, &dns.hostname, port as u32));
        }
        Some(ServiceDiscovery::AwsCloudMap(m)) => {
            // Endpoints come over EDS: the instances the operator lists (AWS Cloud Map is
            // gone) that carry the node's attributes, at the listener's port.
            c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
                cluster::DiscoveryType::Eds as i32,
            ));
            c.eds_cluster_config = Some(cluster::EdsClusterConfig {
                eds_config: Some(envoy::ads()),
                service_name: String::new(),
            });
            let wanted: Vec<(String, String)> = m
                .attributes
                .iter()
                .flatten()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect();
            let preference = m.ip_preference.or(mesh_preference);
            let hosts: Vec<String> = mesh
                .cloud_map
                .discover(&m.namespace_name, &m.service_name, &wanted)
                .filter_map(|i| i.address(preference))
                .collect();
            out.endpoints
                .insert(name.clone(), endpoints(&name, &hosts, port as u32));
        }
        None => {
            // Nothing to send to: a static cluster without endpoints answers 503.
            c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
                cluster::DiscoveryType::Static as i32,
            ));
            c.load_assignment = Some(ClusterLoadAssignment {
                cluster_name: name.clone(),
                ..Default::default()
            });
        }
    }
    out.clusters.insert(name.clone(), c);
    name
}

fn outlier(o: &ApiOutlier) -> OutlierDetection {
    OutlierDetection {
        consecutive_5xx: envoy::uint32(u32::try_from(o.max_server_errors).unwrap_or(u32::MAX)),
        interval: Some(envoy::api_duration(&o.interval)),
        base_ejection_time: Some(envoy::api_duration(&o.base_ejection_duration)),
        max_ejection_percent: envoy::uint32(o.max_ejection_percent as u32),
        enforcing_consecutive_5xx: envoy::uint32(100),
        ..Default::default()
    }
}

fn lookup_family(p: Option<IpPreference>) -> cluster::DnsLookupFamily {
    use cluster::DnsLookupFamily as F;
    match p {
        None | Some(IpPreference::Ipv4Preferred) => F::V4Preferred,
        Some(IpPreference::Ipv6Preferred) => F::Auto,
        Some(IpPreference::Ipv4Only) => F::V4Only,
        Some(IpPreference::Ipv6Only) => F::V6Only,
    }
}

// === Shared pieces ===

pub(crate) fn cluster_base(name: &str, protocol: PortProtocol, connect_timeout_ms: i64) -> Cluster {
    let mut c = Cluster {
        name: name.to_string(),
        connect_timeout: Some(envoy::millis(connect_timeout_ms)),
        circuit_breakers: Some(CircuitBreakers {
            thresholds: vec![unlimited_thresholds()],
            ..Default::default()
        }),
        ..Default::default()
    };
    if matches!(protocol, PortProtocol::Http2 | PortProtocol::Grpc) {
        c.typed_extension_protocol_options.insert(
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions".into(),
            envoy::http2_upstream(),
        );
    }
    c
}

pub(crate) fn unlimited_thresholds() -> circuit_breakers::Thresholds {
    circuit_breakers::Thresholds {
        max_connections: envoy::uint32(UNLIMITED),
        max_pending_requests: envoy::uint32(UNLIMITED),
        max_requests: envoy::uint32(UNLIMITED),
        max_retries: envoy::uint32(UNLIMITED),
        ..Default::default()
    }
}

pub(crate) fn load_assignment(cluster: &str, host: &str, port: u32) -> ClusterLoadAssignment {
    endpoints(cluster, &[host.to_owned()], port)
}

/// One locality with an endpoint per host, all on `port`; no locality without hosts.
fn endpoints(cluster: &str, hosts: &[String], port: u32) -> ClusterLoadAssignment {
    let lb_endpoints: Vec<LbEndpoint> = hosts
        .iter()
        .map(|host| LbEndpoint {
            host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                address: Some(envoy::socket(host, port)),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: cluster.to_string(),
        endpoints: if lb_endpoints.is_empty() {
            Vec::new()
        } else {
            vec![LocalityLbEndpoints {
                lb_endpoints,
                ..Default::default()
            }]
        },
        ..Default::default()
    }
}

pub(crate) fn prefix(p: &str) -> RouteMatch {
    RouteMatch {
        path_specifier: Some(
            envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier::Prefix(p.into()),
        ),
        ..Default::default()
    }
}

/// An HTTP connection manager that takes its routes from RDS `rds` and writes `logs`.
pub(crate) fn http_filter_of(stat_prefix: &str, rds: &str, logs: &[AccessLog]) -> Filter {
    let hcm = HttpConnectionManager {
        stat_prefix: stat_prefix.to_string(),
        access_log: logs.to_vec(),
        route_specifier: Some(http_connection_manager::RouteSpecifier::Rds(Rds {
            config_source: Some(envoy::ads()),
            route_config_name: rds.to_string(),
        })),
        http_filters: vec![HttpFilter {
            name: "envoy.filters.http.router".into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(
                Router::default().to_any(),
            )),
            ..Default::default()
        }],
        upgrade_configs: vec![http_connection_manager::UpgradeConfig {
            upgrade_type: "websocket".into(),
            ..Default::default()
        }],
        normalize_path: Some(envoy_types::pb::google::protobuf::BoolValue { value: true }),
        merge_slashes: true,
        ..Default::default()
    };
    Filter {
        name: "envoy.filters.network.http_connection_manager".into(),
        config_type: Some(filter::ConfigType::TypedConfig(hcm.to_any())),
    }
}

fn tcp_filter(
    stat_prefix: &str,
    cluster: &str,
    idle: Option<&appmesh_model::common::Duration>,
    logs: &[AccessLog],
) -> Filter {
    let proxy = TcpProxy {
        stat_prefix: stat_prefix.to_string(),
        access_log: logs.to_vec(),
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.to_string())),
        idle_timeout: idle.map(envoy::api_duration),
        ..Default::default()
    };
    Filter {
        name: "envoy.filters.network.tcp_proxy".into(),
        config_type: Some(filter::ConfigType::TypedConfig(proxy.to_any())),
    }
}
