//! Gateway routes: how a virtual gateway matches requests and picks a virtual service.

use crate::common::{
    HttpMethod, HttpPathMatch, HttpQueryParameter, GRPC_SERVICE_NAME, HEADER_NAME, PATH_PREFIX,
    PORT_NUMBER, VIRTUAL_SERVICE_NAME,
};
use crate::route::GrpcRouteMetadataMatchMethod;
use crate::shape::{int, list, text};
use crate::{enumeration, structure};

structure! {
    /// The virtual service a gateway route sends traffic to.
    GatewayRouteVirtualService {
        /// The virtual service's name.
        virtual_service_name: String = VIRTUAL_SERVICE_NAME,
    }
}

structure! {
    /// Where a gateway route sends traffic.
    GatewayRouteTarget {
        /// The provider's listener port; needed when the provider has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The virtual service.
        virtual_service: GatewayRouteVirtualService,
    }
}

structure! {
    /// How the request's host name is matched.
    GatewayRouteHostnameMatch {
        /// The host name equals this, 1 to 253 characters.
        exact: Option<String> = &text(1, 253),
        /// The host name ends with this, 1 to 253 characters.
        suffix: Option<String> = &text(1, 253),
    }
}

enumeration! {
    /// Whether a default rewrite is applied.
    DefaultGatewayRouteRewrite {
        /// Rewrite.
        Enabled = "ENABLED",
        /// Leave as received.
        Disabled = "DISABLED",
    }
}

structure! {
    /// Whether the host name is rewritten to the target service's name.
    GatewayRouteHostnameRewrite {
        /// `ENABLED` (the default) or `DISABLED`.
        default_target_hostname: Option<DefaultGatewayRouteRewrite>,
    }
}

structure! {
    /// A gRPC metadata entry a request must (or, inverted, must not) carry.
    GrpcGatewayRouteMetadata {
        /// Match requests that do not satisfy `match`.
        invert: Option<bool>,
        /// How the value is matched; presence alone when left out.
        r#match: Option<GrpcRouteMetadataMatchMethod>,
        /// The metadata key.
        name: String = HEADER_NAME,
    }
}

structure! {
    /// The request criteria of a gRPC gateway route.
    GrpcGatewayRouteMatch {
        /// How the host name is matched.
        hostname: Option<GatewayRouteHostnameMatch>,
        /// Metadata the request must carry.
        metadata: Option<Vec<GrpcGatewayRouteMetadata>> = &list(GrpcGatewayRouteMetadata::SHAPE, 1, 10),
        /// The gateway listener port; needed when the gateway has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The fully qualified gRPC service name.
        service_name: Option<String> = GRPC_SERVICE_NAME,
    }
}

structure! {
    /// Rewrites applied to gRPC requests.
    GrpcGatewayRouteRewrite {
        /// The host name rewrite.
        hostname: Option<GatewayRouteHostnameRewrite>,
    }
}

structure! {
    /// What a gRPC gateway route does with a matched request.
    GrpcGatewayRouteAction {
        /// Rewrites.
        rewrite: Option<GrpcGatewayRouteRewrite>,
        /// The destination.
        target: GatewayRouteTarget,
    }
}

structure! {
    /// A gRPC gateway route.
    GrpcGatewayRoute {
        /// Where matched requests go.
        action: GrpcGatewayRouteAction,
        /// Which requests the route takes.
        r#match: GrpcGatewayRouteMatch,
    }
}

structure! {
    /// A header a request must (or, inverted, must not) carry.
    HttpGatewayRouteHeader {
        /// Match requests that do not satisfy `match`.
        invert: Option<bool>,
        /// How the value is matched; presence alone when left out.
        r#match: Option<crate::common::HeaderMatchMethod>,
        /// The header's name.
        name: String = HEADER_NAME,
    }
}

structure! {
    /// The request criteria of an HTTP gateway route.
    HttpGatewayRouteMatch {
        /// Headers the request must carry.
        headers: Option<Vec<HttpGatewayRouteHeader>> = &list(HttpGatewayRouteHeader::SHAPE, 1, 10),
        /// How the host name is matched.
        hostname: Option<GatewayRouteHostnameMatch>,
        /// The request method.
        method: Option<HttpMethod>,
        /// How the path is matched.
        path: Option<HttpPathMatch>,
        /// The gateway listener port; needed when the gateway has several listeners.
        port: Option<i32> = PORT_NUMBER,
        /// The path prefix; must start with `/`.
        prefix: Option<String> = PATH_PREFIX,
        /// Query parameters the request must carry.
        query_parameters: Option<Vec<HttpQueryParameter>> = &list(HttpQueryParameter::SHAPE, 1, 10),
    }
}

structure! {
    /// Replaces an exactly matched path.
    HttpGatewayRoutePathRewrite {
        /// The new path, 1 to 255 characters.
        exact: Option<String> = &text(1, 255),
    }
}

structure! {
    /// Replaces a matched prefix.
    HttpGatewayRoutePrefixRewrite {
        /// `ENABLED` (the default) replaces the prefix with `/`; `DISABLED` keeps it.
        default_prefix: Option<DefaultGatewayRouteRewrite>,
        /// The replacement prefix, 1 to 255 characters.
        value: Option<String> = &text(1, 255),
    }
}

structure! {
    /// Rewrites applied to HTTP requests.
    HttpGatewayRouteRewrite {
        /// The host name rewrite.
        hostname: Option<GatewayRouteHostnameRewrite>,
        /// The path rewrite, for exact or regex path matches.
        path: Option<HttpGatewayRoutePathRewrite>,
        /// The prefix rewrite, for prefix matches.
        prefix: Option<HttpGatewayRoutePrefixRewrite>,
    }
}

structure! {
    /// What an HTTP gateway route does with a matched request.
    HttpGatewayRouteAction {
        /// Rewrites.
        rewrite: Option<HttpGatewayRouteRewrite>,
        /// The destination.
        target: GatewayRouteTarget,
    }
}

structure! {
    /// An HTTP/1.1 or HTTP/2 gateway route.
    HttpGatewayRoute {
        /// Where matched requests go.
        action: HttpGatewayRouteAction,
        /// Which requests the route takes.
        r#match: HttpGatewayRouteMatch,
    }
}

structure! {
    /// The specification of a gateway route: exactly one route kind, and a priority.
    GatewayRouteSpec {
        /// A gRPC gateway route.
        grpc_route: Option<GrpcGatewayRoute>,
        /// An HTTP/2 gateway route.
        http2_route: Option<HttpGatewayRoute>,
        /// An HTTP/1.1 gateway route.
        http_route: Option<HttpGatewayRoute>,
        /// The order gateway routes are tried in, 0 (first) to 1000.
        priority: Option<i32> = &int(0, 1000),
    }
}

impl GatewayRouteSpec {
    /// The route's target, whichever kind it is.
    pub fn target(&self) -> Option<&GatewayRouteTarget> {
        if let Some(r) = &self.http_route {
            Some(&r.action.target)
        } else if let Some(r) = &self.http2_route {
            Some(&r.action.target)
        } else {
            self.grpc_route.as_ref().map(|r| &r.action.target)
        }
    }
}
