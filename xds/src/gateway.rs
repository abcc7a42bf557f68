//! A virtual gateway's proxy: one ingress listener per gateway listener, whose routes are the
//! gateway routes, and an egress listener that routes to the target virtual services.
//!
//! This is App Mesh's own shape (`landscape.md` §2.3): a gateway route does not resolve the
//! target service's routing itself; it rewrites the request (host to the target service,
//! matched prefix to `/` by default) and sends it to the gateway's own egress listener through
//! `cds_ingress_<mesh>_<gateway>_self_redirect_<protocol>_<egress port>`, where the service's
//! router (or node) decides, exactly as for a sidecar.
//!
//! A gateway listener's `tls` terminates TLS on its filter chain, the gateway's
//! `backendDefaults.clientPolicy.tls` (gateways have no per-backend policy) originates TLS
//! towards every target service, and `logging` adds the access log to every connection
//! manager, as for a virtual node ([`crate::tls`], [`crate::logging`]).

use std::collections::BTreeSet;

use appmesh_model::common::PortProtocol;
use appmesh_model::gateway_route::{
    DefaultGatewayRouteRewrite, GatewayRouteHostnameMatch, GatewayRouteSpec, GatewayRouteTarget,
    HttpGatewayRoute,
};
use appmesh_model::virtual_gateway::{VirtualGatewayPortProtocol, VirtualGatewaySpec};
use envoy_types::pb::envoy::config::cluster::v3::cluster;
use envoy_types::pb::envoy::config::core::v3::{
    header_value_option, HeaderValue, HeaderValueOption, TrafficDirection,
};
use envoy_types::pb::envoy::config::listener::v3::{FilterChain, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    route, route_action, HeaderMatcher, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost,
};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatchAndSubstitute;

use crate::envoy;
use crate::names::{self, Direction};
use crate::node::{self, BackendRef, Out};
use crate::route::{self as routes, HttpMatch, Method};
use crate::{logging, tls};
use crate::{MeshSnapshot, Proxy, Resources};

/// How long Envoy waits to connect to its own egress listener.
const SELF_CONNECT_TIMEOUT_MS: i64 = 250;

/// The configuration of the proxy of virtual gateway `spec`.
pub fn translate(mesh: &MeshSnapshot, proxy: &Proxy, spec: &VirtualGatewaySpec) -> Resources {
    let mut out = Out::default();
    let mut gateway_routes: Vec<(&String, &GatewayRouteSpec)> = mesh
        .gateway_routes
        .get(&proxy.name)
        .into_iter()
        .flatten()
        .collect();
    // Priority first (0 before 1000, none last); among equals the longest prefix wins, as
    // App Mesh documents, then the name.
    gateway_routes.sort_by_key(|(name, r)| {
        let prefix_len = http_of(r)
            .and_then(|h| h.r#match.prefix.as_ref())
            .map_or(0, String::len);
        (
            r.priority.unwrap_or(i32::MAX),
            std::cmp::Reverse(prefix_len),
            name.as_str(),
        )
    });
    let targets: BTreeSet<&str> = gateway_routes
        .iter()
        .filter_map(|(_, r)| r.target())
        .map(|t| t.virtual_service.virtual_service_name.as_str())
        .collect();
    let logs = logging::access_logs(spec.logging.as_ref());
    let client_tls = spec
        .backend_defaults
        .as_ref()
        .and_then(|d| d.client_policy.as_ref())
        .and_then(|p| p.tls.as_ref());
    let backends = targets.into_iter().map(|service| BackendRef {
        service,
        tls: client_tls,
    });
    node::egress(mesh, proxy, backends, &logs, &mut out);
    route_by_header(&gateway_routes, proxy, &mut out);

    for l in &spec.listeners {
        let (port, protocol) = (l.port_mapping.port, port_protocol(l.port_mapping.protocol));
        let redirect = self_redirect(mesh, proxy, protocol, &mut out);
        let rds = names::route_config(Direction::Ingress, protocol, port.into());
        let routes = gateway_routes
            .iter()
            .filter_map(|(name, r)| gateway_route(name, r, protocol, &redirect))
            .collect();
        out.routes.push(RouteConfiguration {
            name: rds.clone(),
            virtual_hosts: vec![VirtualHost {
                name: proxy.name.clone(),
                domains: vec!["*".into()],
                routes,
                ..Default::default()
            }],
            ..Default::default()
        });
        let plain = FilterChain {
            filters: vec![node::http_filter_of("ingress", &rds, &logs)],
            ..Default::default()
        };
        let chains = tls::chains(plain, tls::termination(l.tls.as_ref(), protocol));
        out.listeners.push(Listener {
            name: names::listener(Direction::Ingress, port as u32),
            address: Some(envoy::socket("0.0.0.0", port as u32)),
            traffic_direction: TrafficDirection::Inbound as i32,
            listener_filters: tls::inspector(&chains).into_iter().collect(),
            filter_chains: chains,
            ..Default::default()
        });
    }
    out.finish()
}

fn port_protocol(p: VirtualGatewayPortProtocol) -> PortProtocol {
    match p {
        VirtualGatewayPortProtocol::Http => PortProtocol::Http,
        VirtualGatewayPortProtocol::Http2 => PortProtocol::Http2,
        VirtualGatewayPortProtocol::Grpc => PortProtocol::Grpc,
    }
}

/// The HTTP or HTTP/2 part of a gateway route.
fn http_of(r: &GatewayRouteSpec) -> Option<&HttpGatewayRoute> {
    r.http_route.as_ref().or(r.http2_route.as_ref())
}

/// The cluster that loops back into the gateway's own egress listener; returns its name.
fn self_redirect(
    mesh: &MeshSnapshot,
    proxy: &Proxy,
    protocol: PortProtocol,
    out: &mut Out,
) -> String {
    let name = format!(
        "cds_ingress_{}_{}_self_redirect_{}_{}",
        mesh.name,
        proxy.name,
        names::protocol(protocol),
        proxy.egress_port
    );
    out.clusters.entry(name.clone()).or_insert_with(|| {
        let mut c = node::cluster_base(&name, protocol, SELF_CONNECT_TIMEOUT_MS);
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static as i32,
        ));
        c.load_assignment = Some(node::load_assignment(&name, "127.0.0.1", proxy.egress_port));
        c
    });
    name
}

/// One gateway route on a listener of `protocol`, or none if it is for another protocol.
fn gateway_route(
    name: &str,
    r: &GatewayRouteSpec,
    protocol: PortProtocol,
    redirect: &str,
) -> Option<Route> {
    let (matched, target, rewrite) = match protocol {
        PortProtocol::Http | PortProtocol::Http2 => {
            let h = if protocol == PortProtocol::Http {
                r.http_route.as_ref()
            } else {
                r.http2_route.as_ref()
            }?;
            let m = &h.r#match;
            let headers =
                hostname(m.hostname.as_ref())
                    .into_iter()
                    .chain(m.headers.iter().flatten().map(|h| {
                        routes::header(
                            &h.name,
                            h.invert.unwrap_or(false),
                            h.r#match.as_ref().map(Method::from),
                        )
                    }));
            let matched = HttpMatch {
                prefix: m.prefix.as_deref(),
                path: m.path.as_ref(),
                method: m.method,
                scheme: None,
                query: m.query_parameters.as_deref().unwrap_or_default(),
            }
            .build(headers);
            (
                matched,
                &h.action.target,
                path_rewrite(m.prefix.as_deref(), m.path.is_some(), h),
            )
        }
        PortProtocol::Grpc => {
            let g = r.grpc_route.as_ref()?;
            let m = &g.r#match;
            let mut matched = RouteMatch {
                path_specifier: Some(
                    envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier::Prefix(
                        m.service_name
                            .as_ref()
                            .map_or_else(|| "/".to_string(), |s| format!("/{s}/")),
                    ),
                ),
                grpc: Some(Default::default()),
                ..Default::default()
            };
            matched.headers = hostname(m.hostname.as_ref())
                .into_iter()
                .chain(m.metadata.iter().flatten().map(|md| {
                    routes::header(
                        &md.name,
                        md.invert.unwrap_or(false),
                        md.r#match.as_ref().map(Method::from),
                    )
                }))
                .collect();
            (matched, &g.action.target, Rewrite::None)
        }
        PortProtocol::Tcp => return None,
    };
    let mut action = RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(
            redirect.to_string(),
        )),
        timeout: Some(routes::request_timeout(None)),
        ..Default::default()
    };
    // By default the host becomes the target service (and its port, if the route names
    // one), which is what the egress listener routes on.
    let mut headers_to_add = Vec::new();
    if hostname_kept(r) {
        // The host stays the client's; the egress listener finds the service by header.
        headers_to_add.push(HeaderValueOption {
            header: Some(HeaderValue {
                key: SERVICE_HEADER.into(),
                value: target.virtual_service.virtual_service_name.clone(),
                ..Default::default()
            }),
            append_action: header_value_option::HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
            ..Default::default()
        });
    } else {
        action.host_rewrite_specifier = Some(
            route_action::HostRewriteSpecifier::HostRewriteLiteral(target_host(target)),
        );
    }
    match rewrite {
        Rewrite::None => {}
        Rewrite::Prefix(p) => action.prefix_rewrite = p,
        Rewrite::Regex {
            pattern,
            substitution,
        } => {
            action.regex_rewrite = Some(RegexMatchAndSubstitute {
                pattern: Some(envoy::regex(&pattern)),
                substitution,
            })
        }
    }
    Some(Route {
        name: name.to_string(),
        r#match: Some(matched),
        action: Some(route::Action::Route(action)),
        request_headers_to_add: headers_to_add,
        ..Default::default()
    })
}

/// The header that names the target service when a gateway route keeps the client's host.
const SERVICE_HEADER: &str = "x-app-mesh-virtual-service";

/// Whether the route turns App Mesh's host rewrite off (a spec holds one kind of route).
fn hostname_kept(r: &GatewayRouteSpec) -> bool {
    let kept = |h: Option<&appmesh_model::gateway_route::GatewayRouteHostnameRewrite>| {
        h.and_then(|h| h.default_target_hostname) == Some(DefaultGatewayRouteRewrite::Disabled)
    };
    if let Some(h) = http_of(r) {
        kept(h.action.rewrite.as_ref().and_then(|w| w.hostname.as_ref()))
    } else if let Some(g) = &r.grpc_route {
        kept(g.action.rewrite.as_ref().and_then(|w| w.hostname.as_ref()))
    } else {
        false
    }
}

/// For services that gateway routes reach without rewriting the host, the egress listener's
/// catch-all virtual host gets the service's routes again, each also matching the
/// [`SERVICE_HEADER`] the gateway route set (and dropping it before the request leaves).
fn route_by_header(gateway_routes: &[(&String, &GatewayRouteSpec)], proxy: &Proxy, out: &mut Out) {
    let services: BTreeSet<&str> = gateway_routes
        .iter()
        .filter(|(_, r)| hostname_kept(r))
        .filter_map(|(_, r)| r.target())
        .map(|t| t.virtual_service.virtual_service_name.as_str())
        .collect();
    if services.is_empty() {
        return;
    }
    let egress = names::route_config(
        Direction::Egress,
        PortProtocol::Http,
        proxy.egress_port.into(),
    );
    let Some(config) = out.routes.iter_mut().find(|r| r.name == egress) else {
        return;
    };
    let mut by_header = Vec::new();
    for service in &services {
        let Some(host) = config.virtual_hosts.iter().find(|h| h.name == *service) else {
            continue;
        };
        for route in &host.routes {
            let mut route = route.clone();
            if let Some(m) = route.r#match.as_mut() {
                m.headers.push(routes::header(
                    SERVICE_HEADER,
                    false,
                    Some(Method::Exact(service)),
                ));
            }
            route.request_headers_to_remove.push(SERVICE_HEADER.into());
            by_header.push(route);
        }
    }
    match config.virtual_hosts.iter_mut().find(|h| h.domains == ["*"]) {
        // The mesh's ALLOW_ALL host: these routes go before its catch-all.
        Some(any) => {
            by_header.append(&mut any.routes);
            any.routes = by_header;
        }
        None => config.virtual_hosts.push(VirtualHost {
            name: "default_backend".into(),
            domains: vec!["*".into()],
            routes: by_header,
            ..Default::default()
        }),
    }
}

fn target_host(t: &GatewayRouteTarget) -> String {
    match t.port {
        Some(port) => format!("{}:{port}", t.virtual_service.virtual_service_name),
        None => t.virtual_service.virtual_service_name.clone(),
    }
}

enum Rewrite {
    None,
    Prefix(String),
    Regex {
        pattern: String,
        substitution: String,
    },
}

/// App Mesh's path rewrites: a matched prefix becomes `/` unless turned off or replaced
/// (`/chapter` on `/chapter/1` gives `/1`); an exact or regex path match may set the whole
/// path (there is no default).
fn path_rewrite(prefix: Option<&str>, path_match: bool, h: &HttpGatewayRoute) -> Rewrite {
    let rewrite = h.action.rewrite.as_ref();
    if path_match {
        return match rewrite
            .and_then(|w| w.path.as_ref())
            .and_then(|p| p.exact.clone())
        {
            Some(exact) => Rewrite::Regex {
                pattern: "^.*$".into(),
                substitution: exact,
            },
            None => Rewrite::None,
        };
    }
    let prefix = prefix.unwrap_or("/");
    let configured = rewrite.and_then(|w| w.prefix.as_ref());
    if let Some(value) = configured.and_then(|p| p.value.clone()) {
        return Rewrite::Prefix(value);
    }
    let default_on = configured
        .and_then(|p| p.default_prefix)
        .is_none_or(|d| d == DefaultGatewayRouteRewrite::Enabled);
    if !default_on || prefix == "/" {
        return Rewrite::None;
    }
    let trimmed = prefix.trim_end_matches('/');
    Rewrite::Regex {
        pattern: format!("^{}/?", regex_escape(trimmed)),
        substitution: "/".into(),
    }
}

/// A hostname match as a matcher on `:authority` (the port, if any, is ignored).
fn hostname(m: Option<&GatewayRouteHostnameMatch>) -> Option<HeaderMatcher> {
    let m = m?;
    let pattern = if let Some(exact) = &m.exact {
        format!("^{}(:[0-9]+)?$", regex_escape(exact))
    } else {
        format!("^.+{}(:[0-9]+)?$", regex_escape(m.suffix.as_deref()?))
    };
    Some(routes::header(
        ":authority",
        false,
        Some(Method::Regex(&pattern)),
    ))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
