//! Routes: how a virtual router matches requests and spreads them over virtual nodes.

use crate::common::{
    Duration, HeaderMatchMethod, HttpMethod, HttpPathMatch, HttpQueryParameter, GRPC_SERVICE_NAME,
    HEADER_MATCH, HEADER_NAME, PATH_PREFIX, PORT_NUMBER, RESOURCE_NAME,
};
use crate::shape::{int, list, text, Described, Shape};
use crate::virtual_node::{GrpcTimeout, HttpTimeout, TcpTimeout};
use crate::{enumeration, structure, union};

structure! {
    /// A virtual node that receives a share of a route's traffic.
    WeightedTarget {
        /// The target's listener port; needed when the node has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The virtual node's name.
        virtual_node: String = RESOURCE_NAME,
        /// The relative weight, 0 to 100.
        weight: i32 = &int(0, 100),
    }
}

/// The targets of a route: 1 to 10.
pub const WEIGHTED_TARGETS: &Shape = &list(WeightedTarget::SHAPE, 1, 10);
/// Header or metadata matches on a route: 1 to 10.
const HEADERS: usize = 10;

structure! {
    /// What an HTTP route does with a matched request.
    HttpRouteAction {
        /// The virtual nodes that receive the traffic.
        weighted_targets: Vec<WeightedTarget> = WEIGHTED_TARGETS,
    }
}

structure! {
    /// What a gRPC route does with a matched request.
    GrpcRouteAction {
        /// The virtual nodes that receive the traffic.
        weighted_targets: Vec<WeightedTarget> = WEIGHTED_TARGETS,
    }
}

structure! {
    /// What a TCP route does with a connection.
    TcpRouteAction {
        /// The virtual nodes that receive the traffic.
        weighted_targets: Vec<WeightedTarget> = WEIGHTED_TARGETS,
    }
}

structure! {
    /// A header a request must (or, inverted, must not) carry.
    HttpRouteHeader {
        /// Match requests that do not satisfy `match`.
        invert: Option<bool>,
        /// How the value is matched; presence alone when left out.
        r#match: Option<HeaderMatchMethod>,
        /// The header's name.
        name: String = HEADER_NAME,
    }
}

enumeration! {
    /// The URL scheme of a request.
    HttpScheme {
        /// Plain HTTP.
        Http = "http",
        /// HTTPS.
        Https = "https",
    }
}

structure! {
    /// The request criteria of an HTTP route; all given criteria must match.
    HttpRouteMatch {
        /// Headers the request must carry.
        headers: Option<Vec<HttpRouteHeader>> = &list(HttpRouteHeader::SHAPE, 1, HEADERS),
        /// The request method.
        method: Option<HttpMethod>,
        /// How the path is matched.
        path: Option<HttpPathMatch>,
        /// The router listener port; needed when the router has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The path prefix; must start with `/`.
        prefix: Option<String> = PATH_PREFIX,
        /// Query parameters the request must carry.
        query_parameters: Option<Vec<HttpQueryParameter>> = &list(HttpQueryParameter::SHAPE, 1, 10),
        /// The URL scheme.
        scheme: Option<HttpScheme>,
    }
}

enumeration! {
    /// A TCP failure that triggers a retry.
    TcpRetryPolicyEvent {
        /// The connection failed or was reset.
        ConnectionError = "connection-error",
    }
}

enumeration! {
    /// A gRPC status that triggers a retry.
    GrpcRetryPolicyEvent {
        /// CANCELLED.
        Cancelled = "cancelled",
        /// DEADLINE_EXCEEDED.
        DeadlineExceeded = "deadline-exceeded",
        /// INTERNAL.
        Internal = "internal",
        /// RESOURCE_EXHAUSTED.
        ResourceExhausted = "resource-exhausted",
        /// UNAVAILABLE.
        Unavailable = "unavailable",
    }
}

/// HTTP retry events: 1 to 25 names, each 1 to 25 characters.
const HTTP_RETRY_EVENTS: &Shape = &list(&text(1, 25), 1, 25);
/// TCP retry events: exactly one.
const TCP_RETRY_EVENTS: &Shape = &list(TcpRetryPolicyEvent::SHAPE, 1, 1);

structure! {
    /// When and how often an HTTP request is retried.
    HttpRetryPolicy {
        /// HTTP outcomes that trigger a retry: `server-error`, `gateway-error`, `client-error`,
        /// `stream-error`.
        http_retry_events: Option<Vec<String>> = HTTP_RETRY_EVENTS,
        /// The most retries; zero or more.
        max_retries: i64 = &int(0, i64::MAX),
        /// The time allowed for each attempt, the first included.
        per_retry_timeout: Duration,
        /// TCP failures that trigger a retry.
        tcp_retry_events: Option<Vec<TcpRetryPolicyEvent>> = TCP_RETRY_EVENTS,
    }
}

structure! {
    /// When and how often a gRPC request is retried.
    GrpcRetryPolicy {
        /// gRPC statuses that trigger a retry.
        grpc_retry_events: Option<Vec<GrpcRetryPolicyEvent>> = &list(GrpcRetryPolicyEvent::SHAPE, 1, 5),
        /// HTTP outcomes that trigger a retry.
        http_retry_events: Option<Vec<String>> = HTTP_RETRY_EVENTS,
        /// The most retries; zero or more.
        max_retries: i64 = &int(0, i64::MAX),
        /// The time allowed for each attempt, the first included.
        per_retry_timeout: Duration,
        /// TCP failures that trigger a retry.
        tcp_retry_events: Option<Vec<TcpRetryPolicyEvent>> = TCP_RETRY_EVENTS,
    }
}

structure! {
    /// An HTTP/1.1 or HTTP/2 route.
    HttpRoute {
        /// Where matched requests go.
        action: HttpRouteAction,
        /// Which requests the route takes.
        r#match: HttpRouteMatch,
        /// Retries.
        retry_policy: Option<HttpRetryPolicy>,
        /// Timeouts.
        timeout: Option<HttpTimeout>,
    }
}

union! {
    /// How a gRPC metadata value is matched.
    GrpcRouteMetadataMatchMethod {
        /// The value equals this.
        Exact(String) = HEADER_MATCH,
        /// The value starts with this.
        Prefix(String) = HEADER_MATCH,
        /// The value is a number in this range.
        Range(crate::common::MatchRange),
        /// The value matches this RE2 regular expression.
        Regex(String) = HEADER_MATCH,
        /// The value ends with this.
        Suffix(String) = HEADER_MATCH,
    }
}

structure! {
    /// A metadata entry a gRPC request must (or, inverted, must not) carry.
    GrpcRouteMetadata {
        /// Match requests that do not satisfy `match`.
        invert: Option<bool>,
        /// How the value is matched; presence alone when left out.
        r#match: Option<GrpcRouteMetadataMatchMethod>,
        /// The metadata key.
        name: String = HEADER_NAME,
    }
}

structure! {
    /// The request criteria of a gRPC route; all given criteria must match.
    GrpcRouteMatch {
        /// Metadata the request must carry.
        metadata: Option<Vec<GrpcRouteMetadata>> = &list(GrpcRouteMetadata::SHAPE, 1, HEADERS),
        /// The method name; needs `serviceName`.
        method_name: Option<String> = &text(1, 50),
        /// The router listener port; needed when the router has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The fully qualified gRPC service name; any service when left out.
        service_name: Option<String> = GRPC_SERVICE_NAME,
    }
}

structure! {
    /// A gRPC route.
    GrpcRoute {
        /// Where matched requests go.
        action: GrpcRouteAction,
        /// Which requests the route takes.
        r#match: GrpcRouteMatch,
        /// Retries.
        retry_policy: Option<GrpcRetryPolicy>,
        /// Timeouts.
        timeout: Option<GrpcTimeout>,
    }
}

structure! {
    /// The connection criteria of a TCP route.
    TcpRouteMatch {
        /// The router listener port; needed when the router has several listeners.
        port: Option<i32> = PORT_NUMBER,
    }
}

structure! {
    /// A TCP route.
    TcpRoute {
        /// Where connections go.
        action: TcpRouteAction,
        /// Which connections the route takes.
        r#match: Option<TcpRouteMatch>,
        /// Timeouts.
        timeout: Option<TcpTimeout>,
    }
}

structure! {
    /// The specification of a route: exactly one route kind, and a priority.
    RouteSpec {
        /// A gRPC route.
        grpc_route: Option<GrpcRoute>,
        /// An HTTP/2 route.
        http2_route: Option<HttpRoute>,
        /// An HTTP/1.1 route.
        http_route: Option<HttpRoute>,
        /// The order routes are tried in, 0 (first) to 1000.
        priority: Option<i32> = &int(0, 1000),
        /// A TCP route.
        tcp_route: Option<TcpRoute>,
    }
}

impl RouteSpec {
    /// The route's weighted targets, whichever kind it is.
    pub fn weighted_targets(&self) -> &[WeightedTarget] {
        if let Some(r) = &self.http_route {
            &r.action.weighted_targets
        } else if let Some(r) = &self.http2_route {
            &r.action.weighted_targets
        } else if let Some(r) = &self.grpc_route {
            &r.action.weighted_targets
        } else if let Some(r) = &self.tcp_route {
            &r.action.weighted_targets
        } else {
            &[]
        }
    }
}
