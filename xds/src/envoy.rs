//! Small constructors for the Envoy messages the translation builds again and again, and the
//! type URLs of the messages it packs into `Any`.
//!
//! `envoy-types` does not implement `prost::Name`, so [`Typed`] records each type URL once.

use envoy_types::pb::envoy::config::core::v3::{
    address, api_config_source, config_source, grpc_service, socket_address, Address,
    AggregatedConfigSource, ApiConfigSource, ApiVersion, ConfigSource, GrpcService,
    Http2ProtocolOptions, SocketAddress,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::original_dst::v3::OriginalDst;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    http_protocol_options, HttpProtocolOptions,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{string_matcher, RegexMatcher, StringMatcher};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};
use prost::Message;

/// A message Envoy finds by type URL inside an `Any`.
pub trait Typed: Message + Sized {
    /// `type.googleapis.com/<full name>`.
    const TYPE_URL: &'static str;

    /// The message packed into an `Any`.
    fn to_any(&self) -> Any {
        Any {
            type_url: Self::TYPE_URL.to_string(),
            value: self.encode_to_vec(),
        }
    }
}

macro_rules! typed {
    ($($ty:ty => $name:literal,)*) => {
        $(impl Typed for $ty {
            const TYPE_URL: &'static str = concat!("type.googleapis.com/", $name);
        })*
    };
}

typed! {
    envoy_types::pb::envoy::config::listener::v3::Listener => "envoy.config.listener.v3.Listener",
    envoy_types::pb::envoy::config::cluster::v3::Cluster => "envoy.config.cluster.v3.Cluster",
    envoy_types::pb::envoy::config::route::v3::RouteConfiguration => "envoy.config.route.v3.RouteConfiguration",
    envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment => "envoy.config.endpoint.v3.ClusterLoadAssignment",
    HttpConnectionManager => "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    TcpProxy => "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    Router => "envoy.extensions.filters.http.router.v3.Router",
    OriginalDst => "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
    HttpProtocolOptions => "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext => "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext => "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector => "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
    envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog => "envoy.extensions.access_loggers.file.v3.FileAccessLog",
}

/// A duration of `ms` milliseconds.
pub fn millis(ms: i64) -> Duration {
    Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// A duration as the API gives it (`value` in `unit`, milliseconds when the unit is absent
/// and zero when the value is).
pub fn api_duration(d: &appmesh_model::common::Duration) -> Duration {
    use appmesh_model::common::DurationUnit;
    let value = d.value.unwrap_or(0);
    match d.unit {
        Some(DurationUnit::S) => Duration {
            seconds: value,
            nanos: 0,
        },
        Some(DurationUnit::Ms) | None => millis(value),
    }
}

/// A `UInt32Value`.
pub fn uint32(value: u32) -> Option<UInt32Value> {
    Some(UInt32Value { value })
}

/// `address:port` over TCP.
pub fn socket(address: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: address.to_string(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

/// Fetched over the proxy's ADS stream, in the v3 API.
pub fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource {},
        )),
        resource_api_version: ApiVersion::V3 as i32,
        ..Default::default()
    }
}

/// Fetched over gRPC from the bootstrap's cluster `cluster`, in the v3 API.
pub fn grpc_source(cluster: &str) -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::ApiConfigSource(
            ApiConfigSource {
                api_type: api_config_source::ApiType::Grpc as i32,
                transport_api_version: ApiVersion::V3 as i32,
                grpc_services: vec![GrpcService {
                    target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                        grpc_service::EnvoyGrpc {
                            cluster_name: cluster.to_string(),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )),
        resource_api_version: ApiVersion::V3 as i32,
        ..Default::default()
    }
}

/// Upstream protocol options that speak HTTP/2 to the cluster's endpoints.
pub fn http2_upstream() -> Any {
    HttpProtocolOptions {
        upstream_protocol_options: Some(
            http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
                http_protocol_options::ExplicitHttpConfig {
                    protocol_config: Some(
                        http_protocol_options::explicit_http_config::ProtocolConfig::Http2ProtocolOptions(
                            Http2ProtocolOptions::default(),
                        ),
                    ),
                },
            ),
        ),
        ..Default::default()
    }
    .to_any()
}

/// A string matcher of one kind.
pub fn string_match(pattern: string_matcher::MatchPattern) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(pattern),
        ignore_case: false,
    }
}

/// An RE2 regular expression matcher (Envoy's only engine).
pub fn regex(expression: &str) -> RegexMatcher {
    RegexMatcher {
        regex: expression.to_string(),
        ..Default::default()
    }
}
