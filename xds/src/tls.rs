//! TLS as App Mesh negotiated it between proxies (user guide, "Transport Layer Security" and
//! "Mutual TLS authentication").
//!
//! - **Termination** ([`termination`], [`chains`]): a listener's `tls` gives its filter chain
//!   a `DownstreamTlsContext`. `STRICT` accepts only TLS; `PERMISSIVE` accepts TLS and plaintext
//!   on the same port, so the listener gets the `tls_inspector` listener filter and two chains,
//!   one matching `transport_protocol: "tls"` and one matching `"raw_buffer"`; `DISABLED`
//!   leaves the listener as it was. A `validation` makes it mutual: the client must present a
//!   certificate that chains to the trusted authorities and, when names are listed, carries one
//!   of them.
//! - **Origination** ([`origination`]): the egress cluster of a backend node's listener gets an
//!   `UpstreamTlsContext` with the virtual service's name as SNI. As App Mesh decided it:
//!   a client policy that covers the listener's port (`ports` empty means every port) and is
//!   enforced (the default) configures TLS with its trust, names and client certificate; a
//!   policy that is not enforced is used only when the server terminates TLS; otherwise the
//!   server decides: if its listener terminates TLS (`STRICT` or `PERMISSIVE`) the client
//!   negotiates TLS without verifying the server's certificate, as App Mesh did for file
//!   certificates. A policy without subject alternative names accepts only a server
//!   certificate carrying the name the backend node is discovered by (its DNS hostname, or
//!   `<service>.<namespace>` in AWS Cloud Map), as the guide requires.
//!
//! Certificates and trust come from files on the proxy's file system or from an SDS secret.
//! As in App Mesh, secrets are not served by the control plane: the proxy fetches them over
//! gRPC from a local SDS server (a SPIRE agent, say) through the bootstrap cluster
//! [`SDS_CLUSTER`], which the `aws-appmesh-envoy` image defines when
//! `APPMESH_SDS_SOCKET_PATH` is set and any other bootstrap must define to use SDS. AWS Certificate Manager and ACM Private CA are
//! gone with AWS: a listener whose certificate is an ACM one terminates no TLS, and a client
//! policy whose trust is ACM Private CA is left out as if it were not there. The crate has no
//! warning channel; `templates/guides/serving-envoy.md` documents both.
//!
//! Subject alternative names are typed as App Mesh required them, FQDN or URI: a name with a
//! `:` (`spiffe://apps/web`) is matched as a URI SAN, any other as a DNS SAN.

use appmesh_model::common::{
    ClientPolicyTls, ClientTlsCertificate, ListenerTls, ListenerTlsCertificate, ListenerTlsMode,
    ListenerTlsValidationContextTrust, PortProtocol, SubjectAlternativeNames,
    TlsValidationContextTrust,
};
use appmesh_model::virtual_node::Listener as ApiListener;
use envoy_types::pb::envoy::config::core::v3::TransportSocket;
use envoy_types::pb::envoy::config::core::v3::{data_source, transport_socket, DataSource};
use envoy_types::pb::envoy::config::listener::v3::{
    listener_filter, FilterChain, FilterChainMatch, ListenerFilter,
};
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    common_tls_context, subject_alt_name_matcher, CertificateValidationContext, CommonTlsContext,
    DownstreamTlsContext, SdsSecretConfig, SubjectAltNameMatcher, TlsCertificate,
    UpstreamTlsContext,
};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher;
use envoy_types::pb::google::protobuf::BoolValue;

use crate::envoy::{self, Typed};

/// Where a certificate and its private key come from.
enum Certificate<'a> {
    /// PEM files on the proxy's file system.
    File { chain: &'a str, key: &'a str },
    /// An SDS secret.
    Sds(&'a str),
}

/// Where the trusted certificate authorities come from.
enum Trust<'a> {
    /// A PEM bundle on the proxy's file system.
    File(&'a str),
    /// An SDS secret.
    Sds(&'a str),
}

impl<'a> Certificate<'a> {
    /// A listener's certificate; none for ACM.
    fn of_listener(c: &'a ListenerTlsCertificate) -> Option<Self> {
        match c {
            ListenerTlsCertificate::Acm(_) => None,
            ListenerTlsCertificate::File(f) => Some(Certificate::File {
                chain: &f.certificate_chain,
                key: &f.private_key,
            }),
            ListenerTlsCertificate::Sds(s) => Some(Certificate::Sds(&s.secret_name)),
        }
    }

    /// A client policy's certificate.
    fn of_client(c: &'a ClientTlsCertificate) -> Self {
        match c {
            ClientTlsCertificate::File(f) => Certificate::File {
                chain: &f.certificate_chain,
                key: &f.private_key,
            },
            ClientTlsCertificate::Sds(s) => Certificate::Sds(&s.secret_name),
        }
    }
}

/// TLS termination on one listener.
pub(crate) struct Termination {
    /// The `envoy.transport_sockets.tls` socket with the `DownstreamTlsContext`.
    socket: TransportSocket,
    /// Whether plaintext connections are accepted too.
    permissive: bool,
}

/// The TLS a listener of `protocol` terminates: none when it has no `tls`, when the mode is
/// `DISABLED`, or when the certificate is an ACM one (unsupported).
pub(crate) fn termination(
    tls: Option<&ListenerTls>,
    protocol: PortProtocol,
) -> Option<Termination> {
    let tls = tls?;
    let permissive = match tls.mode {
        ListenerTlsMode::Disabled => return None,
        ListenerTlsMode::Strict => false,
        ListenerTlsMode::Permissive => true,
    };
    let certificate = Certificate::of_listener(&tls.certificate)?;
    let validation = tls.validation.as_ref().map(|v| {
        let trust = match &v.trust {
            ListenerTlsValidationContextTrust::File(f) => Trust::File(&f.certificate_chain),
            ListenerTlsValidationContextTrust::Sds(s) => Trust::Sds(&s.secret_name),
        };
        (trust, names(v.subject_alternative_names.as_ref()))
    });
    let mutual = validation.is_some();
    // HTTP listeners run the connection manager with codec AUTO: offer both.
    let alpn: &[&str] = match protocol {
        PortProtocol::Tcp => &[],
        _ => &["h2", "http/1.1"],
    };
    let context = DownstreamTlsContext {
        common_tls_context: Some(common(Some(certificate), validation, alpn)),
        require_client_certificate: mutual.then_some(BoolValue { value: true }),
        ..Default::default()
    };
    Some(Termination {
        socket: socket(context.to_any()),
        permissive,
    })
}

/// The filter chains of one listener whose plaintext chain is `plain`: `plain` alone without
/// TLS, `plain` with the TLS socket when `STRICT`, and for `PERMISSIVE` a TLS chain (named
/// `<name>_tls`, matching `transport_protocol: "tls"`) followed by `plain` (matching
/// `"raw_buffer"`).
pub(crate) fn chains(plain: FilterChain, tls: Option<Termination>) -> Vec<FilterChain> {
    let Some(tls) = tls else {
        return vec![plain];
    };
    if !tls.permissive {
        return vec![FilterChain {
            transport_socket: Some(tls.socket),
            ..plain
        }];
    }
    let with_protocol = |chain: &FilterChain, protocol: &str| {
        let mut m = chain.filter_chain_match.clone().unwrap_or_default();
        m.transport_protocol = protocol.to_string();
        Some(m)
    };
    let secure = FilterChain {
        name: if plain.name.is_empty() {
            "tls".into()
        } else {
            format!("{}_tls", plain.name)
        },
        filter_chain_match: with_protocol(&plain, "tls"),
        transport_socket: Some(tls.socket),
        ..plain.clone()
    };
    let plain = FilterChain {
        filter_chain_match: with_protocol(&plain, "raw_buffer"),
        ..plain
    };
    vec![secure, plain]
}

/// The `tls_inspector` listener filter when one of `chains` matches on the transport
/// protocol (a `PERMISSIVE` listener), which only it can tell.
pub(crate) fn inspector(chains: &[FilterChain]) -> Option<ListenerFilter> {
    let needed = chains.iter().any(|c| {
        c.filter_chain_match
            .as_ref()
            .is_some_and(|m: &FilterChainMatch| !m.transport_protocol.is_empty())
    });
    needed.then(|| ListenerFilter {
        name: "envoy.filters.listener.tls_inspector".into(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(
            TlsInspector::default().to_any(),
        )),
        ..Default::default()
    })
}

/// The TLS a proxy originates to backend node listener `server`, reached as virtual service
/// `service` under client policy `policy` (the backend's, else the defaults'), when the node
/// is discovered by `discovered_as`; none for plaintext. See the module documentation.
pub(crate) fn origination<'a>(
    policy: Option<&'a ClientPolicyTls>,
    server: &ApiListener,
    service: &str,
    discovered_as: Option<&'a str>,
) -> Option<TransportSocket> {
    let (port, protocol) = (server.port_mapping.port, server.port_mapping.protocol);
    let server_tls = termination(server.tls.as_ref(), protocol).is_some();
    // ACM Private CA trust is unsupported: such a policy is left out.
    let trusted = |p: &'a ClientPolicyTls| {
        let trust = match &p.validation.trust {
            TlsValidationContextTrust::File(f) => Trust::File(&f.certificate_chain),
            TlsValidationContextTrust::Sds(s) => Trust::Sds(&s.secret_name),
            TlsValidationContextTrust::Acm(_) => return None,
        };
        Some((p, trust))
    };
    let policy = policy.and_then(trusted).filter(|(p, _)| {
        let covers = p
            .ports
            .as_deref()
            .is_none_or(|ports| ports.is_empty() || ports.contains(&port));
        covers && (p.enforce.unwrap_or(true) || server_tls)
    });
    let common = match policy {
        Some((p, trust)) => {
            let mut sans = names(p.validation.subject_alternative_names.as_ref());
            if sans.is_empty() {
                sans.extend(discovered_as);
            }
            common(
                p.certificate.as_ref().map(Certificate::of_client),
                Some((trust, sans)),
                upstream_alpn(protocol),
            )
        }
        None if server_tls => common(None, None, upstream_alpn(protocol)),
        None => return None,
    };
    let context = UpstreamTlsContext {
        common_tls_context: Some(common),
        sni: service.to_string(),
        ..Default::default()
    };
    Some(socket(context.to_any()))
}

/// The protocol the client asks the server's listener for: the cluster speaks HTTP/2 to
/// HTTP/2 and gRPC listeners.
fn upstream_alpn(protocol: PortProtocol) -> &'static [&'static str] {
    match protocol {
        PortProtocol::Http2 | PortProtocol::Grpc => &["h2"],
        PortProtocol::Http => &["http/1.1"],
        PortProtocol::Tcp => &[],
    }
}

fn names(sans: Option<&SubjectAlternativeNames>) -> Vec<&str> {
    sans.map(|s| s.r#match.exact.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The context both sides share: the proxy's own certificate, how it validates its peer's
/// (trust and accepted names), and the ALPN protocols it offers.
fn common(
    certificate: Option<Certificate<'_>>,
    validation: Option<(Trust<'_>, Vec<&str>)>,
    alpn: &[&str],
) -> CommonTlsContext {
    let mut c = CommonTlsContext {
        alpn_protocols: alpn.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    };
    match certificate {
        Some(Certificate::File { chain, key }) => c.tls_certificates.push(TlsCertificate {
            certificate_chain: Some(file(chain)),
            private_key: Some(file(key)),
            ..Default::default()
        }),
        Some(Certificate::Sds(name)) => c.tls_certificate_sds_secret_configs.push(sds(name)),
        None => {}
    }
    if let Some((trust, sans)) = validation {
        let matchers = sans.into_iter().map(san).collect();
        use common_tls_context::ValidationContextType as V;
        c.validation_context_type = Some(match trust {
            Trust::File(path) => V::ValidationContext(CertificateValidationContext {
                trusted_ca: Some(file(path)),
                match_typed_subject_alt_names: matchers,
                ..Default::default()
            }),
            // The names stay ours; the trusted bundle comes from the secret.
            Trust::Sds(name) => V::CombinedValidationContext(
                common_tls_context::CombinedCertificateValidationContext {
                    default_validation_context: Some(CertificateValidationContext {
                        match_typed_subject_alt_names: matchers,
                        ..Default::default()
                    }),
                    validation_context_sds_secret_config: Some(sds(name)),
                    ..Default::default()
                },
            ),
        });
    }
    c
}

/// An exact subject alternative name: URI when it has a scheme, else DNS.
fn san(name: &str) -> SubjectAltNameMatcher {
    let kind = if name.contains(':') {
        subject_alt_name_matcher::SanType::Uri
    } else {
        subject_alt_name_matcher::SanType::Dns
    };
    SubjectAltNameMatcher {
        san_type: kind as i32,
        matcher: Some(envoy::string_match(string_matcher::MatchPattern::Exact(
            name.to_string(),
        ))),
        ..Default::default()
    }
}

/// The bootstrap cluster of the local SDS server, named as the `aws-appmesh-envoy` image
/// names it.
pub const SDS_CLUSTER: &str = "static_cluster_sds_unix_socket";

/// A secret the proxy fetches from the local SDS server.
fn sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_string(),
        sds_config: Some(envoy::grpc_source(SDS_CLUSTER)),
    }
}

fn file(path: &str) -> DataSource {
    DataSource {
        specifier: Some(data_source::Specifier::Filename(path.to_string())),
        ..Default::default()
    }
}

fn socket(context: envoy_types::pb::google::protobuf::Any) -> TransportSocket {
    TransportSocket {
        name: "envoy.transport_sockets.tls".into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(context)),
    }
}
