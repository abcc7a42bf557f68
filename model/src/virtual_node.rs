//! Virtual nodes: a logical pointer to a group of tasks or pods and their proxy.

use crate::common::{
    ClientPolicy, Duration, HealthCheckPolicy, IpPreference, ListenerTls, Logging, PortMapping,
    HOSTNAME, VIRTUAL_SERVICE_NAME,
};
use crate::shape::{int, text, Shape, Text, TextRule};
use crate::{enumeration, structure, union};

structure! {
    /// The connection pool of an HTTP/1.1 listener.
    VirtualNodeHttpConnectionPool {
        /// The most upstream connections at once; 1 or more.
        max_connections: i32 = &int(1, i32::MAX as i64),
        /// The most requests queued beyond those connections; 1 or more.
        max_pending_requests: Option<i32> = &int(1, i32::MAX as i64),
    }
}

structure! {
    /// The connection pool of an HTTP/2 listener.
    VirtualNodeHttp2ConnectionPool {
        /// The most requests in flight at once; 1 or more.
        max_requests: i32 = &int(1, i32::MAX as i64),
    }
}

structure! {
    /// The connection pool of a gRPC listener.
    VirtualNodeGrpcConnectionPool {
        /// The most requests in flight at once; 1 or more.
        max_requests: i32 = &int(1, i32::MAX as i64),
    }
}

structure! {
    /// The connection pool of a TCP listener.
    VirtualNodeTcpConnectionPool {
        /// The most upstream connections at once; 1 or more.
        max_connections: i32 = &int(1, i32::MAX as i64),
    }
}

union! {
    /// A listener's connection pool; its kind must match the listener's protocol.
    VirtualNodeConnectionPool {
        /// For a gRPC listener.
        Grpc(VirtualNodeGrpcConnectionPool),
        /// For an HTTP/1.1 listener.
        Http(VirtualNodeHttpConnectionPool),
        /// For an HTTP/2 listener.
        Http2(VirtualNodeHttp2ConnectionPool),
        /// For a TCP listener.
        Tcp(VirtualNodeTcpConnectionPool),
    }
}

structure! {
    /// Passive health checking: eject endpoints that keep failing.
    OutlierDetection {
        /// How long an endpoint stays ejected, at the least.
        base_ejection_duration: Duration,
        /// How often ejection is evaluated.
        interval: Duration,
        /// The largest share of endpoints that may be ejected, 0 to 100 percent.
        max_ejection_percent: i32 = &int(0, 100),
        /// Server errors in a row that eject an endpoint; 1 or more.
        max_server_errors: i64 = &int(1, i64::MAX),
    }
}

structure! {
    /// Timeouts of a gRPC listener or route.
    GrpcTimeout {
        /// How long a connection may stay idle.
        idle: Option<Duration>,
        /// How long one request may take; 15 seconds by default.
        per_request: Option<Duration>,
    }
}

structure! {
    /// Timeouts of an HTTP/1.1 or HTTP/2 listener or route.
    HttpTimeout {
        /// How long a connection may stay idle.
        idle: Option<Duration>,
        /// How long one request may take; 15 seconds by default.
        per_request: Option<Duration>,
    }
}

structure! {
    /// Timeouts of a TCP listener or route.
    TcpTimeout {
        /// How long a connection may stay idle.
        idle: Option<Duration>,
    }
}

union! {
    /// A listener's timeouts, by protocol.
    ListenerTimeout {
        /// For a gRPC listener.
        Grpc(GrpcTimeout),
        /// For an HTTP/1.1 listener.
        Http(HttpTimeout),
        /// For an HTTP/2 listener.
        Http2(HttpTimeout),
        /// For a TCP listener.
        Tcp(TcpTimeout),
    }
}

structure! {
    /// A port a virtual node receives traffic on, with its policies.
    Listener {
        /// The connection pool.
        connection_pool: Option<VirtualNodeConnectionPool>,
        /// Active health checking.
        health_check: Option<HealthCheckPolicy>,
        /// Passive health checking.
        outlier_detection: Option<OutlierDetection>,
        /// The port and its protocol.
        port_mapping: PortMapping,
        /// Timeouts.
        timeout: Option<ListenerTimeout>,
        /// TLS termination.
        tls: Option<ListenerTls>,
    }
}

structure! {
    /// A virtual service a virtual node sends traffic to.
    VirtualServiceBackend {
        /// How the node talks to this backend; overrides the node's defaults.
        client_policy: Option<ClientPolicy>,
        /// The virtual service's name.
        virtual_service_name: String = VIRTUAL_SERVICE_NAME,
    }
}

union! {
    /// A destination a virtual node sends traffic to.
    Backend {
        /// A virtual service.
        VirtualService(VirtualServiceBackend),
    }
}

structure! {
    /// Policies applied to every backend of a virtual node.
    BackendDefaults {
        /// How the node talks to its backends.
        client_policy: Option<ClientPolicy>,
    }
}

enumeration! {
    /// What a DNS lookup for a virtual node returns.
    DnsResponseType {
        /// One load-balanced address.
        LoadBalancer = "LOADBALANCER",
        /// Every endpoint's address.
        Endpoints = "ENDPOINTS",
    }
}

structure! {
    /// Discovery of a virtual node's endpoints through DNS.
    DnsServiceDiscovery {
        /// The name looked up.
        hostname: String = HOSTNAME,
        /// The IP family preferred; overrides the mesh setting.
        ip_preference: Option<IpPreference>,
        /// What the lookup returns; `LOADBALANCER` by default.
        response_type: Option<DnsResponseType>,
    }
}

static CLOUD_MAP_KEY: TextRule = TextRule {
    requirement: "contain only printable ASCII characters other than space",
    check: |s| s.chars().all(|c| ('!'..='~').contains(&c)),
};

static CLOUD_MAP_VALUE: TextRule = TextRule {
    requirement: "contain only printable ASCII characters and not start or end with a space",
    check: |s| {
        s.chars().all(|c| (' '..='~').contains(&c)) && !s.starts_with(' ') && !s.ends_with(' ')
    },
};

structure! {
    /// A Cloud Map instance attribute an endpoint must carry.
    AwsCloudMapInstanceAttribute {
        /// The attribute's name.
        key: String = &Shape::String(Text { min: 1, max: Some(255), rule: Some(&CLOUD_MAP_KEY) }),
        /// The attribute's value.
        value: String = &Shape::String(Text { min: 1, max: Some(1024), rule: Some(&CLOUD_MAP_VALUE) }),
    }
}

structure! {
    /// Discovery of a virtual node's endpoints through AWS Cloud Map.
    AwsCloudMapServiceDiscovery {
        /// Only instances carrying all of these attributes are used.
        attributes: Option<Vec<AwsCloudMapInstanceAttribute>>,
        /// The IP family preferred; overrides the mesh setting.
        ip_preference: Option<IpPreference>,
        /// The Cloud Map namespace.
        namespace_name: String = &text(1, 1024),
        /// The Cloud Map service.
        service_name: String = &text(1, 1024),
    }
}

union! {
    /// How a virtual node's endpoints are found.
    ServiceDiscovery {
        /// AWS Cloud Map.
        AwsCloudMap(AwsCloudMapServiceDiscovery),
        /// DNS.
        Dns(DnsServiceDiscovery),
    }
}

structure! {
    /// The specification of a virtual node.
    VirtualNodeSpec {
        /// Policies for every backend.
        backend_defaults: Option<BackendDefaults>,
        /// The virtual services the node sends traffic to.
        backends: Option<Vec<Backend>>,
        /// The ports the node receives traffic on.
        listeners: Option<Vec<Listener>>,
        /// Access logging.
        logging: Option<Logging>,
        /// How the node's endpoints are found; needed when it has listeners.
        service_discovery: Option<ServiceDiscovery>,
    }
}
