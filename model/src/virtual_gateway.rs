//! Virtual gateways: a standalone proxy that lets traffic from outside the mesh in.
//!
//! Most gateway shapes have the same wire form as the virtual node's; those are aliases of the
//! shared types, so each model shape name still exists. The ones that differ (no TCP) are
//! declared here.

use crate::common::{
    ClientPolicyTls, ClientTlsCertificate, ListenerTls, ListenerTlsAcmCertificate,
    ListenerTlsCertificate, ListenerTlsFileCertificate, ListenerTlsSdsCertificate,
    ListenerTlsValidationContext, ListenerTlsValidationContextTrust, Logging, TlsValidationContext,
    TlsValidationContextAcmTrust, TlsValidationContextFileTrust, TlsValidationContextSdsTrust,
    TlsValidationContextTrust, HEALTH_CHECK_PATH, PORT_NUMBER,
};
use crate::shape::int;
use crate::{enumeration, structure, union};

enumeration! {
    /// The protocol a gateway listener speaks (no TCP).
    VirtualGatewayPortProtocol {
        /// HTTP/1.1.
        Http = "http",
        /// HTTP/2.
        Http2 = "http2",
        /// gRPC.
        Grpc = "grpc",
    }
}

structure! {
    /// A gateway port and the protocol spoken on it.
    VirtualGatewayPortMapping {
        /// The port number.
        port: i32 = PORT_NUMBER,
        /// The protocol spoken on the port.
        protocol: VirtualGatewayPortProtocol,
    }
}

structure! {
    /// Active health checking of a gateway listener.
    VirtualGatewayHealthCheckPolicy {
        /// Successes in a row before the gateway counts as healthy, 2 to 10.
        healthy_threshold: i32 = &int(2, 10),
        /// Milliseconds between checks, 5000 to 300000.
        interval_millis: i64 = &int(5000, 300_000),
        /// The path requested, for http and http2 checks.
        path: Option<String> = HEALTH_CHECK_PATH,
        /// The port checked; the listener's port when left out.
        port: Option<i32> = PORT_NUMBER,
        /// The protocol of the check.
        protocol: VirtualGatewayPortProtocol,
        /// Milliseconds to wait for an answer, 2000 to 60000.
        timeout_millis: i64 = &int(2000, 60_000),
        /// Failures in a row before the gateway counts as unhealthy, 2 to 10.
        unhealthy_threshold: i32 = &int(2, 10),
    }
}

structure! {
    /// The connection pool of an HTTP/1.1 gateway listener.
    VirtualGatewayHttpConnectionPool {
        /// The most upstream connections at once; 1 or more.
        max_connections: i32 = &int(1, i32::MAX as i64),
        /// The most requests queued beyond those connections; 1 or more.
        max_pending_requests: Option<i32> = &int(1, i32::MAX as i64),
    }
}

structure! {
    /// The connection pool of an HTTP/2 gateway listener.
    VirtualGatewayHttp2ConnectionPool {
        /// The most requests in flight at once; 1 or more.
        max_requests: i32 = &int(1, i32::MAX as i64),
    }
}

structure! {
    /// The connection pool of a gRPC gateway listener.
    VirtualGatewayGrpcConnectionPool {
        /// The most requests in flight at once; 1 or more.
        max_requests: i32 = &int(1, i32::MAX as i64),
    }
}

union! {
    /// A gateway listener's connection pool; its kind must match the listener's protocol.
    VirtualGatewayConnectionPool {
        /// For a gRPC listener.
        Grpc(VirtualGatewayGrpcConnectionPool),
        /// For an HTTP/1.1 listener.
        Http(VirtualGatewayHttpConnectionPool),
        /// For an HTTP/2 listener.
        Http2(VirtualGatewayHttp2ConnectionPool),
    }
}

structure! {
    /// A port a virtual gateway receives traffic on, with its policies.
    VirtualGatewayListener {
        /// The connection pool.
        connection_pool: Option<VirtualGatewayConnectionPool>,
        /// Active health checking.
        health_check: Option<VirtualGatewayHealthCheckPolicy>,
        /// The port and its protocol.
        port_mapping: VirtualGatewayPortMapping,
        /// TLS termination.
        tls: Option<ListenerTls>,
    }
}

structure! {
    /// How a gateway talks to the virtual services it forwards to.
    VirtualGatewayClientPolicy {
        /// TLS towards the services.
        tls: Option<ClientPolicyTls>,
    }
}

structure! {
    /// Policies applied to every service a gateway forwards to.
    VirtualGatewayBackendDefaults {
        /// How the gateway talks to the services.
        client_policy: Option<VirtualGatewayClientPolicy>,
    }
}

structure! {
    /// The specification of a virtual gateway.
    VirtualGatewaySpec {
        /// Policies for every service the gateway forwards to.
        backend_defaults: Option<VirtualGatewayBackendDefaults>,
        /// The ports the gateway receives traffic on.
        listeners: Vec<VirtualGatewayListener>,
        /// Access logging.
        logging: Option<Logging>,
    }
}

/// The gateway's TLS termination settings (same wire form as a node listener's).
pub type VirtualGatewayListenerTls = ListenerTls;
/// The gateway's listener certificate source.
pub type VirtualGatewayListenerTlsCertificate = ListenerTlsCertificate;
/// An ACM listener certificate.
pub type VirtualGatewayListenerTlsAcmCertificate = ListenerTlsAcmCertificate;
/// A file listener certificate.
pub type VirtualGatewayListenerTlsFileCertificate = ListenerTlsFileCertificate;
/// An SDS listener certificate.
pub type VirtualGatewayListenerTlsSdsCertificate = ListenerTlsSdsCertificate;
/// Client certificate validation on a gateway listener.
pub type VirtualGatewayListenerTlsValidationContext = ListenerTlsValidationContext;
/// Trust for client certificates on a gateway listener.
pub type VirtualGatewayListenerTlsValidationContextTrust = ListenerTlsValidationContextTrust;
/// TLS the gateway originates.
pub type VirtualGatewayClientPolicyTls = ClientPolicyTls;
/// The gateway's client certificate source.
pub type VirtualGatewayClientTlsCertificate = ClientTlsCertificate;
/// How the gateway validates the services' certificates.
pub type VirtualGatewayTlsValidationContext = TlsValidationContext;
/// The authorities the gateway trusts.
pub type VirtualGatewayTlsValidationContextTrust = TlsValidationContextTrust;
/// ACM Private CA trust.
pub type VirtualGatewayTlsValidationContextAcmTrust = TlsValidationContextAcmTrust;
/// File trust.
pub type VirtualGatewayTlsValidationContextFileTrust = TlsValidationContextFileTrust;
/// SDS trust.
pub type VirtualGatewayTlsValidationContextSdsTrust = TlsValidationContextSdsTrust;
/// The gateway's logging settings.
pub type VirtualGatewayLogging = Logging;
