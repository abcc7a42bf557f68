//! The service's rules that a shape alone cannot state: "one route kind", reserved prefixes,
//! pool kinds that follow the listener protocol, RE2-only regular expressions and so on.
//!
//! These look at one specification at a time. Rules that need other resources (does the
//! target exist, how many listeners does the router have) live in the control plane.

use crate::common::{
    ClientPolicy, ClientPolicyTls, Duration, HeaderMatchMethod, HttpPathMatch, ListenerTls,
    MatchRange, PortProtocol, SubjectAlternativeNames,
};
use crate::gateway_route::{GatewayRouteHostnameMatch, GatewayRouteSpec, HttpGatewayRoute};
use crate::resource::Kind;
use crate::route::{GrpcRouteMetadataMatchMethod, HttpRetryPolicy, HttpRoute, RouteSpec};
use crate::validate::{Path, Violation};
use crate::virtual_gateway::{VirtualGatewayConnectionPool, VirtualGatewaySpec};
use crate::virtual_node::{ListenerTimeout, VirtualNodeConnectionPool, VirtualNodeSpec};
use crate::virtual_router::VirtualRouterSpec;
use crate::Spec;

/// HTTP retry events the service knows.
pub const HTTP_RETRY_EVENTS: [&str; 4] = [
    "server-error",
    "gateway-error",
    "client-error",
    "stream-error",
];

/// Checks the rules on a resource's own name that its shape ([`Kind::name_shape`]: length,
/// no whitespace or control characters, not `.` or `..`) does not state.
pub fn check_name(kind: Kind, name: &str, path: &Path) -> Vec<Violation> {
    let mut out = Vec::new();
    // A slash would make ARNs (and import IDs) ambiguous: a mesh named `a/virtualNode/x`
    // would share the ARN of node `x` in mesh `a`.
    if name.contains('/') {
        out.push(Violation::new(path.clone(), "must not contain /"));
    } else if kind == Kind::VirtualRouter
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        out.push(Violation::new(
            path.clone(),
            "must contain only letters, digits, hyphens and underscores",
        ));
    }
    out
}

/// Checks every rule on a name of a `kind`: its shape first, then [`check_name`]. This is what
/// a name in a URI or an ARN must satisfy (the name of a route's router is checked as a
/// virtual router's name).
pub fn validate_name(kind: Kind, name: &str, path: &Path) -> Vec<Violation> {
    let violations = crate::validate::validate(
        kind.name_shape(),
        &serde_json::Value::String(name.to_owned()),
        path,
    );
    if violations.is_empty() {
        check_name(kind, name, path)
    } else {
        violations
    }
}

/// Fills in what the service itself supplies when a request leaves it out, so a stored spec
/// reads back the way App Mesh answered: a listener's health check that names no port checks
/// the listener's own port (on virtual nodes and virtual gateways).
///
/// The control plane applies this before storing a spec; the provider applies it to plan the
/// value the service will answer with.
pub fn fill_service_defaults(spec: &mut Spec) {
    match spec {
        Spec::VirtualNode(s) => {
            for l in s.listeners.iter_mut().flatten() {
                if let Some(check) = &mut l.health_check {
                    check.port.get_or_insert(l.port_mapping.port);
                }
            }
        }
        Spec::VirtualGateway(s) => {
            for l in &mut s.listeners {
                if let Some(check) = &mut l.health_check {
                    check.port.get_or_insert(l.port_mapping.port);
                }
            }
        }
        _ => {}
    }
}

/// Checks the rules on a specification; `path` is where the spec sits (usually `spec`).
pub fn check_spec(spec: &Spec, path: &Path) -> Vec<Violation> {
    let mut v = Rules { out: Vec::new() };
    match spec {
        Spec::Mesh(_) | Spec::VirtualService(_) => {}
        Spec::VirtualNode(s) => v.virtual_node(s, path),
        Spec::VirtualRouter(s) => v.virtual_router(s, path),
        Spec::Route(s) => v.route(s, path),
        Spec::VirtualGateway(s) => v.virtual_gateway(s, path),
        Spec::GatewayRoute(s) => v.gateway_route(s, path),
    }
    v.out
}

struct Rules {
    out: Vec<Violation>,
}

impl Rules {
    fn fail(&mut self, path: Path, problem: impl Into<String>) {
        self.out.push(Violation::new(path, problem));
    }

    fn distinct_ports(&mut self, ports: impl Iterator<Item = i32>, path: &Path) {
        let mut seen = Vec::new();
        for (i, port) in ports.enumerate() {
            if seen.contains(&port) {
                self.fail(
                    path.index(i).key("portMapping").key("port"),
                    format!("repeats port {port}; each listener needs its own port"),
                );
            }
            seen.push(port);
        }
    }

    // === virtual nodes and gateways ===

    fn virtual_node(&mut self, spec: &VirtualNodeSpec, path: &Path) {
        let listeners = spec.listeners.as_deref().unwrap_or_default();
        let lpath = path.key("listeners");
        self.distinct_ports(listeners.iter().map(|l| l.port_mapping.port), &lpath);
        for (i, l) in listeners.iter().enumerate() {
            let lp = lpath.index(i);
            let protocol = l.port_mapping.protocol;
            if let Some(pool) = &l.connection_pool {
                let kind = match pool {
                    VirtualNodeConnectionPool::Grpc(_) => PortProtocol::Grpc,
                    VirtualNodeConnectionPool::Http(_) => PortProtocol::Http,
                    VirtualNodeConnectionPool::Http2(_) => PortProtocol::Http2,
                    VirtualNodeConnectionPool::Tcp(_) => PortProtocol::Tcp,
                };
                self.same_protocol(kind.as_str(), protocol.as_str(), lp.key("connectionPool"));
            }
            if let Some(timeout) = &l.timeout {
                let tp = lp.key("timeout");
                let (kind, durations): (_, Vec<(&str, &Option<Duration>)>) = match timeout {
                    ListenerTimeout::Grpc(t) => (
                        "grpc",
                        vec![("idle", &t.idle), ("perRequest", &t.per_request)],
                    ),
                    ListenerTimeout::Http(t) => (
                        "http",
                        vec![("idle", &t.idle), ("perRequest", &t.per_request)],
                    ),
                    ListenerTimeout::Http2(t) => (
                        "http2",
                        vec![("idle", &t.idle), ("perRequest", &t.per_request)],
                    ),
                    ListenerTimeout::Tcp(t) => ("tcp", vec![("idle", &t.idle)]),
                };
                for (name, d) in durations {
                    self.duration(d.as_ref(), tp.key(kind).key(name));
                }
            }
            if let Some(od) = &l.outlier_detection {
                let op = lp.key("outlierDetection");
                self.duration(
                    Some(&od.base_ejection_duration),
                    op.key("baseEjectionDuration"),
                );
                self.duration(Some(&od.interval), op.key("interval"));
            }
            self.listener_tls(l.tls.as_ref(), &lp);
        }
        if let Some(policy) = spec
            .backend_defaults
            .as_ref()
            .and_then(|d| d.client_policy.as_ref())
        {
            self.client_policy(policy, path.key("backendDefaults").key("clientPolicy"));
        }
        for (i, backend) in spec
            .backends
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let crate::virtual_node::Backend::VirtualService(vs) = backend;
            if let Some(policy) = &vs.client_policy {
                self.client_policy(
                    policy,
                    path.key("backends")
                        .index(i)
                        .key("virtualService")
                        .key("clientPolicy"),
                );
            }
        }
    }

    fn virtual_gateway(&mut self, spec: &VirtualGatewaySpec, path: &Path) {
        let lpath = path.key("listeners");
        self.distinct_ports(spec.listeners.iter().map(|l| l.port_mapping.port), &lpath);
        for (i, l) in spec.listeners.iter().enumerate() {
            let lp = lpath.index(i);
            if let Some(pool) = &l.connection_pool {
                let kind = match pool {
                    VirtualGatewayConnectionPool::Grpc(_) => "grpc",
                    VirtualGatewayConnectionPool::Http(_) => "http",
                    VirtualGatewayConnectionPool::Http2(_) => "http2",
                };
                self.same_protocol(
                    kind,
                    l.port_mapping.protocol.as_str(),
                    lp.key("connectionPool"),
                );
            }
            self.listener_tls(l.tls.as_ref(), &lp);
        }
        if let Some(tls) = spec
            .backend_defaults
            .as_ref()
            .and_then(|d| d.client_policy.as_ref())
            .and_then(|p| p.tls.as_ref())
        {
            self.client_tls(
                tls,
                path.key("backendDefaults").key("clientPolicy").key("tls"),
            );
        }
    }

    /// A listener's client-certificate SANs must be DNS names or URIs.
    fn listener_tls(&mut self, tls: Option<&ListenerTls>, lp: &Path) {
        let sans = tls
            .and_then(|t| t.validation.as_ref())
            .and_then(|v| v.subject_alternative_names.as_ref());
        if let Some(sans) = sans {
            let p = lp
                .key("tls")
                .key("validation")
                .key("subjectAlternativeNames");
            self.sans(sans, false, p);
        }
    }

    fn same_protocol(&mut self, kind: &str, protocol: &str, path: Path) {
        if kind != protocol {
            self.fail(
                path.key(kind),
                format!("does not fit the listener's protocol {protocol}; use {protocol}"),
            );
        }
    }

    fn client_policy(&mut self, policy: &ClientPolicy, path: Path) {
        if let Some(tls) = &policy.tls {
            self.client_tls(tls, path.key("tls"));
        }
    }

    fn client_tls(&mut self, tls: &ClientPolicyTls, path: Path) {
        if let Some(sans) = &tls.validation.subject_alternative_names {
            let enforced = tls.enforce.unwrap_or(true);
            self.sans(
                sans,
                enforced,
                path.key("validation").key("subjectAlternativeNames"),
            );
        }
    }

    /// Subject alternative names are DNS names or URIs; an enforcing client policy takes no
    /// wildcards.
    fn sans(&mut self, sans: &SubjectAlternativeNames, enforced: bool, path: Path) {
        for (i, san) in sans.r#match.exact.iter().enumerate() {
            let p = path.key("match").key("exact").index(i);
            if !(is_dns_name(san) || is_uri(san)) {
                self.fail(p, format!("must be a DNS name or a URI (found {san:?})"));
            } else if enforced && san.contains('*') {
                self.fail(
                    p,
                    "cannot hold a wildcard while the client policy enforces TLS",
                );
            }
        }
    }

    fn duration(&mut self, d: Option<&Duration>, path: Path) {
        if let Some(d) = d {
            if d.unit.is_none() {
                self.fail(path.key("unit"), "is required");
            }
            if d.value.is_none() {
                self.fail(path.key("value"), "is required");
            }
        }
    }

    // === routers and routes ===

    fn virtual_router(&mut self, spec: &VirtualRouterSpec, path: &Path) {
        let listeners = spec.listeners.as_deref().unwrap_or_default();
        self.distinct_ports(
            listeners.iter().map(|l| l.port_mapping.port),
            &path.key("listeners"),
        );
    }

    fn route(&mut self, spec: &RouteSpec, path: &Path) {
        let kinds = [
            ("grpcRoute", spec.grpc_route.is_some()),
            ("http2Route", spec.http2_route.is_some()),
            ("httpRoute", spec.http_route.is_some()),
            ("tcpRoute", spec.tcp_route.is_some()),
        ];
        self.one_kind(&kinds, path);
        for (name, route) in [
            ("httpRoute", &spec.http_route),
            ("http2Route", &spec.http2_route),
        ] {
            if let Some(r) = route {
                self.http_route(r, path.key(name));
            }
        }
        if let Some(r) = &spec.grpc_route {
            let p = path.key("grpcRoute");
            let m = &r.r#match;
            if m.method_name.is_some() && m.service_name.is_none() {
                self.fail(
                    p.key("match").key("serviceName"),
                    "is required when methodName is set",
                );
            }
            for (i, md) in m.metadata.as_deref().unwrap_or_default().iter().enumerate() {
                if let Some(mm) = &md.r#match {
                    self.metadata_match(mm, p.key("match").key("metadata").index(i).key("match"));
                }
            }
            if let Some(rp) = &r.retry_policy {
                let rpp = p.key("retryPolicy");
                self.http_retry_events(rp.http_retry_events.as_deref(), rpp.key("httpRetryEvents"));
                self.duration(Some(&rp.per_retry_timeout), rpp.key("perRetryTimeout"));
            }
            if let Some(t) = &r.timeout {
                self.duration(t.idle.as_ref(), p.key("timeout").key("idle"));
                self.duration(t.per_request.as_ref(), p.key("timeout").key("perRequest"));
            }
        }
        if let Some(t) = spec.tcp_route.as_ref().and_then(|r| r.timeout.as_ref()) {
            self.duration(
                t.idle.as_ref(),
                path.key("tcpRoute").key("timeout").key("idle"),
            );
        }
    }

    fn one_kind(&mut self, kinds: &[(&str, bool)], path: &Path) {
        let all: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        let set: Vec<&str> = kinds
            .iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        match set.as_slice() {
            [] => self.fail(
                path.clone(),
                format!("must set exactly one of {}", all.join(", ")),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for kind in rest {
                    self.fail(
                        path.key(*kind),
                        format!(
                            "cannot be set together with {first} (set exactly one of {})",
                            all.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn http_route(&mut self, r: &HttpRoute, p: Path) {
        let m = &r.r#match;
        let mp = p.key("match");
        self.prefix_and_path(m.prefix.as_deref(), m.path.as_ref(), &mp);
        for (i, h) in m.headers.as_deref().unwrap_or_default().iter().enumerate() {
            if let Some(hm) = &h.r#match {
                self.header_match(hm, mp.key("headers").index(i).key("match"));
            }
        }
        if let Some(rp) = &r.retry_policy {
            self.http_retry_policy(rp, p.key("retryPolicy"));
        }
        if let Some(t) = &r.timeout {
            self.duration(t.idle.as_ref(), p.key("timeout").key("idle"));
            self.duration(t.per_request.as_ref(), p.key("timeout").key("perRequest"));
        }
    }

    fn http_retry_policy(&mut self, rp: &HttpRetryPolicy, p: Path) {
        self.http_retry_events(rp.http_retry_events.as_deref(), p.key("httpRetryEvents"));
        self.duration(Some(&rp.per_retry_timeout), p.key("perRetryTimeout"));
    }

    fn http_retry_events(&mut self, events: Option<&[String]>, p: Path) {
        for (i, e) in events.unwrap_or_default().iter().enumerate() {
            if !HTTP_RETRY_EVENTS.contains(&e.as_str()) {
                self.fail(
                    p.index(i),
                    format!(
                        "must be one of {} (found {e:?})",
                        HTTP_RETRY_EVENTS.join(", ")
                    ),
                );
            }
        }
    }

    fn prefix_and_path(&mut self, prefix: Option<&str>, path: Option<&HttpPathMatch>, mp: &Path) {
        if let Some(prefix) = prefix {
            if !prefix.starts_with('/') {
                self.fail(
                    mp.key("prefix"),
                    format!("must start with / (found {prefix:?})"),
                );
            }
            if path.is_some() {
                self.fail(mp.key("path"), "cannot be set together with prefix");
            }
        }
        if let Some(path) = path {
            let pp = mp.key("path");
            match (&path.exact, &path.regex) {
                (Some(_), Some(_)) => {
                    self.fail(pp, "must set exactly one of exact, regex (found both)")
                }
                (None, None) => self.fail(pp, "must set exactly one of exact, regex (found none)"),
                (Some(exact), None) if !exact.starts_with('/') => self.fail(
                    pp.key("exact"),
                    format!("must start with / (found {exact:?})"),
                ),
                (None, Some(re)) => self.regex(re, pp.key("regex")),
                _ => {}
            }
        }
    }

    fn header_match(&mut self, m: &HeaderMatchMethod, p: Path) {
        match m {
            HeaderMatchMethod::Regex(re) => self.regex(re, p.key("regex")),
            HeaderMatchMethod::Range(r) => self.range(r, p.key("range")),
            _ => {}
        }
    }

    fn metadata_match(&mut self, m: &GrpcRouteMetadataMatchMethod, p: Path) {
        match m {
            GrpcRouteMetadataMatchMethod::Regex(re) => self.regex(re, p.key("regex")),
            GrpcRouteMetadataMatchMethod::Range(r) => self.range(r, p.key("range")),
            _ => {}
        }
    }

    fn range(&mut self, r: &MatchRange, p: Path) {
        if r.start >= r.end {
            self.fail(
                p.key("end"),
                format!("must be greater than start {} (found {})", r.start, r.end),
            );
        }
    }

    /// Envoy runs App Mesh regular expressions on RE2: no look-around, no back-references.
    fn regex(&mut self, re: &str, p: Path) {
        if let Err(e) = regex_syntax::Parser::new().parse(re) {
            let detail = e.to_string();
            let reason = detail
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .trim_start_matches("error: ");
            self.fail(
                p,
                format!("is not a valid RE2 regular expression ({reason})"),
            );
        }
    }

    // === gateway routes ===

    fn gateway_route(&mut self, spec: &GatewayRouteSpec, path: &Path) {
        let kinds = [
            ("grpcRoute", spec.grpc_route.is_some()),
            ("http2Route", spec.http2_route.is_some()),
            ("httpRoute", spec.http_route.is_some()),
        ];
        self.one_kind(&kinds, path);
        for (name, route) in [
            ("httpRoute", &spec.http_route),
            ("http2Route", &spec.http2_route),
        ] {
            if let Some(r) = route {
                self.http_gateway_route(r, path.key(name));
            }
        }
        if let Some(r) = &spec.grpc_route {
            let mp = path.key("grpcRoute").key("match");
            if let Some(service) = &r.r#match.service_name {
                if service.starts_with("aws.app-mesh") || service.starts_with("aws.appmesh") {
                    self.fail(
                        mp.key("serviceName"),
                        format!(
                            "is reserved (names starting aws.app-mesh or aws.appmesh): {service:?}"
                        ),
                    );
                }
            }
            if let Some(h) = &r.r#match.hostname {
                self.hostname_match(h, mp.key("hostname"));
            }
            for (i, md) in r
                .r#match
                .metadata
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if let Some(mm) = &md.r#match {
                    self.metadata_match(mm, mp.key("metadata").index(i).key("match"));
                }
            }
        }
    }

    fn http_gateway_route(&mut self, r: &HttpGatewayRoute, p: Path) {
        let m = &r.r#match;
        let mp = p.key("match");
        self.prefix_and_path(m.prefix.as_deref(), m.path.as_ref(), &mp);
        if let Some(prefix) = &m.prefix {
            if prefix.starts_with("/aws-appmesh") || prefix.starts_with("/aws-app-mesh") {
                self.fail(
                    mp.key("prefix"),
                    format!(
                        "is reserved (prefixes starting /aws-appmesh or /aws-app-mesh): {prefix:?}"
                    ),
                );
            }
        }
        if m.prefix.is_none() && m.path.is_none() && m.hostname.is_none() {
            self.fail(
                mp.clone(),
                "must set at least one of prefix, path, hostname",
            );
        }
        if let Some(h) = &m.hostname {
            self.hostname_match(h, mp.key("hostname"));
        }
        for (i, h) in m.headers.as_deref().unwrap_or_default().iter().enumerate() {
            if let Some(hm) = &h.r#match {
                self.header_match(hm, mp.key("headers").index(i).key("match"));
            }
        }
        let Some(rewrite) = &r.action.rewrite else {
            return;
        };
        let rp = p.key("action").key("rewrite");
        if let Some(prefix) = &rewrite.prefix {
            if m.prefix.is_none() {
                self.fail(rp.key("prefix"), "needs a prefix match (match.prefix)");
            }
            match (&prefix.default_prefix, &prefix.value) {
                (Some(_), Some(_)) => self.fail(
                    rp.key("prefix"),
                    "must set exactly one of defaultPrefix, value (found both)",
                ),
                (None, None) => self.fail(
                    rp.key("prefix"),
                    "must set exactly one of defaultPrefix, value (found none)",
                ),
                (None, Some(v)) if !v.starts_with('/') => self.fail(
                    rp.key("prefix").key("value"),
                    format!("must start with / (found {v:?})"),
                ),
                _ => {}
            }
        }
        if let Some(path) = &rewrite.path {
            if m.path.is_none() {
                self.fail(rp.key("path"), "needs a path match (match.path)");
            }
            match &path.exact {
                None => self.fail(rp.key("path").key("exact"), "is required"),
                Some(e) if !e.starts_with('/') => self.fail(
                    rp.key("path").key("exact"),
                    format!("must start with / (found {e:?})"),
                ),
                _ => {}
            }
        }
    }

    fn hostname_match(&mut self, h: &GatewayRouteHostnameMatch, p: Path) {
        match (&h.exact, &h.suffix) {
            (Some(_), Some(_)) => {
                self.fail(p, "must set exactly one of exact, suffix (found both)")
            }
            (None, None) => self.fail(p, "must set exactly one of exact, suffix (found none)"),
            _ => {}
        }
    }
}

/// A DNS name, optionally starting with a `*.` wildcard label.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A URI such as `spiffe://cluster.local/ns/apps/sa/b`: a scheme, a colon and no spaces.
fn is_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}
