//! App Mesh routes as Envoy routes: matches, weighted targets, retries and timeouts.
//!
//! App Mesh's documented behaviour, where it is not in the API (`landscape.md` §2.4):
//! - A route's request timeout is 15 s unless the route sets `perRequest`.
//! - Without a retry policy, a request is retried up to twice on HTTP 503, on a reset, on a
//!   refused stream and on a connection failure (and gRPC `unavailable` on gRPC routes).
//! - A user's retry policy keeps `reset` among the retried events, tries another host first
//!   (`previous_hosts`, up to 5 host selections), and names status codes for its events:
//!   `server-error` 500–511 but 509, `gateway-error` 502–504, `client-error` 409.

use appmesh_model::common::{
    HeaderMatchMethod, HttpMethod, HttpPathMatch, HttpQueryParameter, MatchRange,
};
use appmesh_model::route::{
    GrpcRetryPolicy, GrpcRetryPolicyEvent, GrpcRouteMatch, GrpcRouteMetadataMatchMethod,
    HttpRetryPolicy, HttpRouteMatch, HttpScheme, TcpRetryPolicyEvent,
};
use envoy_types::pb::envoy::config::route::v3::{
    header_matcher, query_parameter_matcher, retry_policy, route_match, HeaderMatcher,
    QueryParameterMatcher, RetryPolicy, RouteMatch,
};
use envoy_types::pb::envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::v3::Int64Range;
use envoy_types::pb::google::protobuf::Duration;

use crate::envoy::{self, Typed};

/// App Mesh's request timeout when a route sets none.
pub const DEFAULT_REQUEST_TIMEOUT_MS: i64 = 15_000;

/// Retries of App Mesh's default policy.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

impl Typed for PreviousHostsPredicate {
    const TYPE_URL: &'static str =
        "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";
}

/// The Envoy match of an HTTP or HTTP/2 route.
pub fn http_match(m: &HttpRouteMatch) -> RouteMatch {
    let headers = m.headers.iter().flatten().map(|h| {
        header(
            &h.name,
            h.invert.unwrap_or(false),
            h.r#match.as_ref().map(Method::from),
        )
    });
    HttpMatch {
        prefix: m.prefix.as_deref(),
        path: m.path.as_ref(),
        method: m.method,
        scheme: m.scheme,
        query: m.query_parameters.as_deref().unwrap_or_default(),
    }
    .build(headers)
}

/// The parts of an HTTP match that routes and gateway routes share.
pub struct HttpMatch<'a> {
    /// The path prefix (`/` when neither it nor a path is given).
    pub prefix: Option<&'a str>,
    /// An exact or regular-expression path.
    pub path: Option<&'a HttpPathMatch>,
    /// The request method.
    pub method: Option<HttpMethod>,
    /// The scheme (routes only).
    pub scheme: Option<HttpScheme>,
    /// Query parameters.
    pub query: &'a [HttpQueryParameter],
}

impl HttpMatch<'_> {
    /// The Envoy match, with `extra` header matchers after the method and scheme.
    pub fn build(self, extra: impl IntoIterator<Item = HeaderMatcher>) -> RouteMatch {
        let path = if let Some(exact) = self.path.and_then(|p| p.exact.as_ref()) {
            route_match::PathSpecifier::Path(exact.clone())
        } else if let Some(re) = self.path.and_then(|p| p.regex.as_ref()) {
            route_match::PathSpecifier::SafeRegex(envoy::regex(re))
        } else {
            route_match::PathSpecifier::Prefix(self.prefix.unwrap_or("/").to_string())
        };
        let mut headers: Vec<HeaderMatcher> = Vec::new();
        if let Some(method) = self.method {
            headers.push(exact_header(":method", method_name(method)));
        }
        if let Some(scheme) = self.scheme {
            let scheme = match scheme {
                HttpScheme::Http => "http",
                HttpScheme::Https => "https",
            };
            headers.push(exact_header(":scheme", scheme));
        }
        headers.extend(extra);
        let query_parameters = self
            .query
            .iter()
            .map(|q| {
                use query_parameter_matcher::QueryParameterMatchSpecifier as Q;
                let specifier = match q.r#match.as_ref().and_then(|m| m.exact.as_ref()) {
                    Some(exact) => {
                        Q::StringMatch(envoy::string_match(MatchPattern::Exact(exact.clone())))
                    }
                    None => Q::PresentMatch(true),
                };
                QueryParameterMatcher {
                    name: q.name.clone(),
                    query_parameter_match_specifier: Some(specifier),
                }
            })
            .collect();
        RouteMatch {
            path_specifier: Some(path),
            headers,
            query_parameters,
            ..Default::default()
        }
    }
}

/// The Envoy match of a gRPC route: the service and method are the request path
/// (`/<service>/<method>`), metadata are headers.
pub fn grpc_match(m: &GrpcRouteMatch) -> RouteMatch {
    let path = match (&m.service_name, &m.method_name) {
        (Some(service), Some(method)) => {
            route_match::PathSpecifier::Path(format!("/{service}/{method}"))
        }
        (Some(service), None) => route_match::PathSpecifier::Prefix(format!("/{service}/")),
        (None, _) => route_match::PathSpecifier::Prefix("/".into()),
    };
    let headers = m
        .metadata
        .iter()
        .flatten()
        .map(|md| {
            header(
                &md.name,
                md.invert.unwrap_or(false),
                md.r#match.as_ref().map(Method::from),
            )
        })
        .collect();
    RouteMatch {
        path_specifier: Some(path),
        headers,
        grpc: Some(route_match::GrpcRouteMatchOptions {}),
        ..Default::default()
    }
}

/// HTTP header and gRPC metadata matches have the same five kinds.
pub enum Method<'a> {
    /// Equal to.
    Exact(&'a str),
    /// Starts with.
    Prefix(&'a str),
    /// Ends with.
    Suffix(&'a str),
    /// Matches an RE2 expression.
    Regex(&'a str),
    /// A number in [start, end).
    Range(&'a MatchRange),
}

impl<'a> From<&'a HeaderMatchMethod> for Method<'a> {
    fn from(m: &'a HeaderMatchMethod) -> Self {
        match m {
            HeaderMatchMethod::Exact(s) => Method::Exact(s),
            HeaderMatchMethod::Prefix(s) => Method::Prefix(s),
            HeaderMatchMethod::Suffix(s) => Method::Suffix(s),
            HeaderMatchMethod::Regex(s) => Method::Regex(s),
            HeaderMatchMethod::Range(r) => Method::Range(r),
        }
    }
}

impl<'a> From<&'a GrpcRouteMetadataMatchMethod> for Method<'a> {
    fn from(m: &'a GrpcRouteMetadataMatchMethod) -> Self {
        match m {
            GrpcRouteMetadataMatchMethod::Exact(s) => Method::Exact(s),
            GrpcRouteMetadataMatchMethod::Prefix(s) => Method::Prefix(s),
            GrpcRouteMetadataMatchMethod::Suffix(s) => Method::Suffix(s),
            GrpcRouteMetadataMatchMethod::Regex(s) => Method::Regex(s),
            GrpcRouteMetadataMatchMethod::Range(r) => Method::Range(r),
        }
    }
}

/// A header that must (or, inverted, must not) match; with no method, be present.
pub fn header(name: &str, invert: bool, method: Option<Method<'_>>) -> HeaderMatcher {
    use header_matcher::HeaderMatchSpecifier as S;
    let specifier = match method {
        None => S::PresentMatch(true),
        Some(Method::Exact(s)) => {
            S::StringMatch(envoy::string_match(MatchPattern::Exact(s.into())))
        }
        Some(Method::Prefix(s)) => {
            S::StringMatch(envoy::string_match(MatchPattern::Prefix(s.into())))
        }
        Some(Method::Suffix(s)) => {
            S::StringMatch(envoy::string_match(MatchPattern::Suffix(s.into())))
        }
        Some(Method::Regex(s)) => S::StringMatch(envoy::string_match(MatchPattern::SafeRegex(
            envoy::regex(s),
        ))),
        // App Mesh's range is [start, end), as Envoy's.
        Some(Method::Range(r)) => S::RangeMatch(Int64Range {
            start: r.start,
            end: r.end,
        }),
    };
    HeaderMatcher {
        name: name.to_string(),
        invert_match: invert,
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

fn exact_header(name: &str, value: &str) -> HeaderMatcher {
    header(name, false, Some(Method::Exact(value)))
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Connect => "CONNECT",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
        HttpMethod::Patch => "PATCH",
    }
}

/// App Mesh's retry policy for a route that sets none.
pub fn default_retry(grpc: bool) -> RetryPolicy {
    let mut on = vec![
        "connect-failure",
        "refused-stream",
        "reset",
        "retriable-status-codes",
    ];
    if grpc {
        on.push("unavailable");
    }
    RetryPolicy {
        retry_on: on.join(","),
        num_retries: envoy::uint32(DEFAULT_MAX_RETRIES),
        retriable_status_codes: vec![503],
        ..Default::default()
    }
}

/// A user's HTTP retry policy.
pub fn http_retry(p: &HttpRetryPolicy) -> RetryPolicy {
    retry(
        p.max_retries,
        &p.per_retry_timeout,
        p.http_retry_events.as_deref().unwrap_or_default(),
        p.tcp_retry_events.as_deref().unwrap_or_default(),
        &[],
    )
}

/// A user's gRPC retry policy.
pub fn grpc_retry(p: &GrpcRetryPolicy) -> RetryPolicy {
    retry(
        p.max_retries,
        &p.per_retry_timeout,
        p.http_retry_events.as_deref().unwrap_or_default(),
        p.tcp_retry_events.as_deref().unwrap_or_default(),
        p.grpc_retry_events.as_deref().unwrap_or_default(),
    )
}

fn retry(
    max_retries: i64,
    per_retry_timeout: &appmesh_model::common::Duration,
    http: &[String],
    tcp: &[TcpRetryPolicyEvent],
    grpc: &[GrpcRetryPolicyEvent],
) -> RetryPolicy {
    let mut on: Vec<&str> = vec!["reset"];
    let mut codes: Vec<u32> = Vec::new();
    for event in http {
        match event.as_str() {
            "server-error" => codes.extend((500..=511).filter(|c| *c != 509)),
            "gateway-error" => codes.extend([502, 503, 504]),
            "client-error" => codes.push(409),
            "stream-error" => on.push("refused-stream"),
            // The API accepts any event name of 1 to 25 characters; Envoy's own names pass
            // through.
            other => on.push(other),
        }
    }
    for event in tcp {
        match event {
            TcpRetryPolicyEvent::ConnectionError => on.push("connect-failure"),
        }
    }
    for event in grpc {
        on.push(match event {
            GrpcRetryPolicyEvent::Cancelled => "cancelled",
            GrpcRetryPolicyEvent::DeadlineExceeded => "deadline-exceeded",
            GrpcRetryPolicyEvent::Internal => "internal",
            GrpcRetryPolicyEvent::ResourceExhausted => "resource-exhausted",
            GrpcRetryPolicyEvent::Unavailable => "unavailable",
        });
    }
    codes.sort_unstable();
    codes.dedup();
    if !codes.is_empty() {
        on.push("retriable-status-codes");
    }
    on.sort_unstable();
    on.dedup();
    RetryPolicy {
        retry_on: on.join(","),
        num_retries: envoy::uint32(u32::try_from(max_retries).unwrap_or(u32::MAX)),
        per_try_timeout: Some(envoy::api_duration(per_retry_timeout)),
        retriable_status_codes: codes,
        retry_host_predicate: vec![retry_policy::RetryHostPredicate {
            name: "envoy.retry_host_predicates.previous_hosts".into(),
            config_type: Some(retry_policy::retry_host_predicate::ConfigType::TypedConfig(
                PreviousHostsPredicate {}.to_any(),
            )),
        }],
        host_selection_retry_max_attempts: 5,
        ..Default::default()
    }
}

/// A route's request timeout: its own, or App Mesh's 15 s.
pub fn request_timeout(per_request: Option<&appmesh_model::common::Duration>) -> Duration {
    per_request.map_or_else(
        || envoy::millis(DEFAULT_REQUEST_TIMEOUT_MS),
        envoy::api_duration,
    )
}
