//! Shapes shared by several resource kinds: names, ports, durations, metadata, tags, TLS,
//! logging, health checks and match methods.

use crate::shape::{int, list, text, Absent, Described, Shape, Text, TextRule};
use crate::{enumeration, structure, union};

/// A resource name: 1 to 255 characters, without whitespace or control characters, and
/// neither `.` nor `..` (such a name would be a path step in the resource's URI).
pub const RESOURCE_NAME: &Shape = &Shape::String(Text {
    min: 1,
    max: Some(255),
    rule: Some(&NAME),
});
/// A virtual service name, usually the DNS name clients call (`serviceb.apps.local`): the
/// same rules as [`RESOURCE_NAME`], 1 to 255 characters as App Mesh allows.
pub const VIRTUAL_SERVICE_NAME: &Shape = &Shape::String(Text {
    min: 1,
    max: Some(255),
    rule: Some(&NAME),
});
/// An Amazon Resource Name: at most 2048 characters, the longest ARN AWS APIs accept.
pub const ARN: &Shape = &text(0, 2048);
/// A DNS host name: at most 253 characters, the longest DNS name.
pub const HOSTNAME: &Shape = &text(0, 253);
/// A request path prefix a route matches: at most 255 characters, like an exact path.
pub const PATH_PREFIX: &Shape = &text(0, 255);
/// The request path of a health check: at most 255 characters, like a route's exact path.
pub const HEALTH_CHECK_PATH: &Shape = &text(0, 255);
/// The name of a Secret Discovery Service secret: at most 255 characters.
pub const SDS_SECRET_NAME: &Shape = &text(0, 255);
/// A fully qualified gRPC service name: at most 255 characters.
pub const GRPC_SERVICE_NAME: &Shape = &text(0, 255);
/// A query parameter's name or the value it is matched against: at most 255 characters.
pub const QUERY_PARAMETER: &Shape = &text(0, 255);
/// A client token that makes retries safe (the SDKs send a UUID): at most 255 characters.
pub const CLIENT_TOKEN: &Shape = &text(0, 255);
/// A resource's unique id as the service reports it: at most 255 characters.
pub const UID: &Shape = &text(0, 255);
/// A TCP port: 1 to 65535.
pub const PORT_NUMBER: &Shape = &int(1, 65535);
/// A path on the proxy's file system: 1 to 255 characters.
pub const FILE_PATH: &Shape = &text(1, 255);
/// A header or metadata name: 1 to 50 characters.
pub const HEADER_NAME: &Shape = &text(1, 50);
/// A value a header or metadata entry is matched against: 1 to 255 characters.
pub const HEADER_MATCH: &Shape = &text(1, 255);
/// A 12-digit AWS account id.
pub const ACCOUNT_ID: &Shape = &Shape::String(Text {
    min: 12,
    max: Some(12),
    rule: Some(&DIGITS),
});
/// A list of ACM Private CA ARNs: 1 to 3 of them.
pub const CERTIFICATE_AUTHORITY_ARNS: &Shape = &list(ARN, 1, 3);
/// A list of TLS ports.
pub const PORT_LIST: &Shape = &Shape::List(crate::shape::List {
    item: PORT_NUMBER,
    min: 0,
    max: None,
});

static DIGITS: TextRule = TextRule {
    requirement: "contain only digits",
    check: |s| s.bytes().all(|b| b.is_ascii_digit()),
};

static NAME: TextRule = TextRule {
    requirement: "contain no whitespace or control characters and not be . or ..",
    check: is_plain_name,
};

/// Whether `name` keeps the character rules of every resource name: no whitespace, no control
/// characters (NUL and DEL included) and not `.` or `..`. Lengths and the rules of single
/// kinds are checked elsewhere (the name shapes and [`crate::rules::check_name`]).
pub fn is_plain_name(name: &str) -> bool {
    name != "." && name != ".." && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Seconds since the Unix epoch, with a fraction; the model's `timestamp`.
pub type Timestamp = f64;

impl Described for f64 {
    const SHAPE: &'static Shape = &Shape::Timestamp;
}
impl Absent for f64 {}

enumeration! {
    /// The protocol a listener or port mapping speaks.
    PortProtocol {
        /// HTTP/1.1.
        Http = "http",
        /// Plain TCP.
        Tcp = "tcp",
        /// HTTP/2.
        Http2 = "http2",
        /// gRPC.
        Grpc = "grpc",
    }
}

structure! {
    /// A port and the protocol spoken on it.
    PortMapping {
        /// The port number.
        port: i32 = PORT_NUMBER,
        /// The protocol spoken on the port.
        protocol: PortProtocol,
    }
}

enumeration! {
    /// The unit of a [`Duration`].
    DurationUnit {
        /// Seconds.
        S = "s",
        /// Milliseconds.
        Ms = "ms",
    }
}

structure! {
    /// A length of time.
    Duration {
        /// The unit of `value`.
        unit: Option<DurationUnit>,
        /// The number of units; zero or more.
        value: Option<i64> = &int(0, i64::MAX),
    }
}

enumeration! {
    /// Which IP address family a proxy prefers when it resolves names.
    IpPreference {
        /// IPv6 first, then IPv4.
        Ipv6Preferred = "IPv6_PREFERRED",
        /// IPv4 first, then IPv6.
        Ipv4Preferred = "IPv4_PREFERRED",
        /// IPv4 addresses only.
        Ipv4Only = "IPv4_ONLY",
        /// IPv6 addresses only.
        Ipv6Only = "IPv6_ONLY",
    }
}

enumeration! {
    /// The lifecycle state of a resource.
    StatusCode {
        /// The resource is in use.
        Active = "ACTIVE",
        /// The resource is not in use.
        Inactive = "INACTIVE",
        /// The resource has been deleted.
        Deleted = "DELETED",
    }
}

structure! {
    /// The lifecycle state of a resource, as every `XxxData` reports it.
    ResourceStatus {
        /// The state.
        status: StatusCode,
    }
}

structure! {
    /// What the service records about every resource.
    ResourceMetadata {
        /// The resource's Amazon Resource Name.
        arn: String = ARN,
        /// When the resource was created.
        created_at: Timestamp,
        /// When the resource was last changed.
        last_updated_at: Timestamp,
        /// The account that owns the mesh the resource is in.
        mesh_owner: String = ACCOUNT_ID,
        /// The account that owns the resource.
        resource_owner: String = ACCOUNT_ID,
        /// A unique id, stable for the resource's life.
        uid: String = UID,
        /// Starts at 1 and grows by one with every update.
        version: i64,
    }
}

structure! {
    /// A tag: a key and a value.
    TagRef {
        /// The tag's key, 1 to 128 characters.
        key: String = &text(1, 128),
        /// The tag's value, up to 256 characters.
        value: String = &text(0, 256),
    }
}

/// The tags given to a create call: at most 50.
pub const TAG_LIST: &Shape = &list(TagRef::SHAPE, 0, 50);

// === TLS ===

structure! {
    /// A certificate and private key held in files on the proxy's file system.
    ListenerTlsFileCertificate {
        /// The path of the certificate chain file.
        certificate_chain: String = FILE_PATH,
        /// The path of the private key file.
        private_key: String = FILE_PATH,
    }
}

structure! {
    /// A certificate served by the Secret Discovery Service.
    ListenerTlsSdsCertificate {
        /// The name of the SDS secret.
        secret_name: String = SDS_SECRET_NAME,
    }
}

structure! {
    /// A certificate issued through AWS Certificate Manager.
    ListenerTlsAcmCertificate {
        /// The ARN of the ACM certificate.
        certificate_arn: String = ARN,
    }
}

union! {
    /// Where a listener's TLS certificate comes from.
    ListenerTlsCertificate {
        /// An ACM certificate.
        Acm(ListenerTlsAcmCertificate),
        /// Files on the proxy's file system.
        File(ListenerTlsFileCertificate),
        /// A Secret Discovery Service secret.
        Sds(ListenerTlsSdsCertificate),
    }
}

union! {
    /// Where the client certificate for mutual TLS comes from.
    ClientTlsCertificate {
        /// Files on the proxy's file system.
        File(ListenerTlsFileCertificate),
        /// A Secret Discovery Service secret.
        Sds(ListenerTlsSdsCertificate),
    }
}

structure! {
    /// Subject alternative names that must match exactly.
    SubjectAlternativeNameMatchers {
        /// The accepted names, each 1 to 254 characters.
        exact: Vec<String> = &Shape::List(crate::shape::List { item: &text(1, 254), min: 0, max: None }),
    }
}

structure! {
    /// The subject alternative names a peer certificate must carry.
    SubjectAlternativeNames {
        /// How the names are matched.
        r#match: SubjectAlternativeNameMatchers,
    }
}

structure! {
    /// Trust in certificate authorities from ACM Private CA.
    TlsValidationContextAcmTrust {
        /// The ARNs of 1 to 3 certificate authorities.
        certificate_authority_arns: Vec<String> = CERTIFICATE_AUTHORITY_ARNS,
    }
}

structure! {
    /// Trust in a certificate chain held in a file.
    TlsValidationContextFileTrust {
        /// The path of the trusted certificate chain file.
        certificate_chain: String = FILE_PATH,
    }
}

structure! {
    /// Trust in a certificate bundle served by the Secret Discovery Service.
    TlsValidationContextSdsTrust {
        /// The name of the SDS secret holding the trusted bundle.
        secret_name: String = SDS_SECRET_NAME,
    }
}

union! {
    /// The certificate authorities a client trusts.
    TlsValidationContextTrust {
        /// ACM Private CA authorities.
        Acm(TlsValidationContextAcmTrust),
        /// A certificate chain file.
        File(TlsValidationContextFileTrust),
        /// A Secret Discovery Service bundle.
        Sds(TlsValidationContextSdsTrust),
    }
}

structure! {
    /// How a client validates the certificate its peer presents.
    TlsValidationContext {
        /// The names the peer certificate must carry.
        subject_alternative_names: Option<SubjectAlternativeNames>,
        /// The authorities the peer certificate must chain to.
        trust: TlsValidationContextTrust,
    }
}

union! {
    /// The certificate authorities a listener trusts for client certificates.
    ListenerTlsValidationContextTrust {
        /// A certificate chain file.
        File(TlsValidationContextFileTrust),
        /// A Secret Discovery Service bundle.
        Sds(TlsValidationContextSdsTrust),
    }
}

structure! {
    /// How a listener validates client certificates (mutual TLS).
    ListenerTlsValidationContext {
        /// The names a client certificate must carry.
        subject_alternative_names: Option<SubjectAlternativeNames>,
        /// The authorities client certificates must chain to.
        trust: ListenerTlsValidationContextTrust,
    }
}

enumeration! {
    /// Whether a listener accepts TLS, plaintext or both.
    ListenerTlsMode {
        /// Only TLS connections.
        Strict = "STRICT",
        /// Both TLS and plaintext connections.
        Permissive = "PERMISSIVE",
        /// Only plaintext connections.
        Disabled = "DISABLED",
    }
}

structure! {
    /// TLS termination on a listener.
    ListenerTls {
        /// The certificate the listener presents.
        certificate: ListenerTlsCertificate,
        /// Which connections the listener accepts.
        mode: ListenerTlsMode,
        /// Client certificate validation, for mutual TLS.
        validation: Option<ListenerTlsValidationContext>,
    }
}

structure! {
    /// TLS a proxy originates towards a backend.
    ClientPolicyTls {
        /// The client certificate to present, for mutual TLS.
        certificate: Option<ClientTlsCertificate>,
        /// Whether TLS is required; true when left out.
        enforce: Option<bool>,
        /// The backend ports TLS applies to; all ports when left out.
        ports: Option<Vec<i32>> = PORT_LIST,
        /// How the backend's certificate is validated.
        validation: TlsValidationContext,
    }
}

structure! {
    /// How a proxy talks to a backend.
    ClientPolicy {
        /// TLS towards the backend.
        tls: Option<ClientPolicyTls>,
    }
}

// === Logging ===

structure! {
    /// One key of a JSON access-log line and the value pattern it holds.
    JsonFormatRef {
        /// The key, 1 to 100 characters.
        key: String = &text(1, 100),
        /// The value pattern, 1 to 100 characters.
        value: String = &text(1, 100),
    }
}

union! {
    /// The format of access-log lines.
    LoggingFormat {
        /// JSON lines with the given keys.
        Json(Vec<JsonFormatRef>),
        /// A text pattern, 1 to 1000 characters.
        Text(String) = &text(1, 1000),
    }
}

structure! {
    /// An access log written to a file.
    FileAccessLog {
        /// The line format; Envoy's default when left out.
        format: Option<LoggingFormat>,
        /// The file path, such as `/dev/stdout`.
        path: String = FILE_PATH,
    }
}

union! {
    /// Where access logs go.
    AccessLog {
        /// A file.
        File(FileAccessLog),
    }
}

structure! {
    /// Logging settings.
    Logging {
        /// The access log.
        access_log: Option<AccessLog>,
    }
}

// === Health checks ===

structure! {
    /// Active health checking of a listener's endpoints.
    HealthCheckPolicy {
        /// Successes in a row before an endpoint counts as healthy, 2 to 10.
        healthy_threshold: i32 = &int(2, 10),
        /// Milliseconds between checks, 5000 to 300000.
        interval_millis: i64 = &int(5000, 300_000),
        /// The path requested, for http and http2 checks.
        path: Option<String> = HEALTH_CHECK_PATH,
        /// The port checked; the listener's port when left out.
        port: Option<i32> = PORT_NUMBER,
        /// The protocol of the check.
        protocol: PortProtocol,
        /// Milliseconds to wait for an answer, 2000 to 60000.
        timeout_millis: i64 = &int(2000, 60_000),
        /// Failures in a row before an endpoint counts as unhealthy, 2 to 10.
        unhealthy_threshold: i32 = &int(2, 10),
    }
}

// === Matching ===

structure! {
    /// A range of whole numbers: `start` inclusive, `end` exclusive.
    MatchRange {
        /// The end of the range (exclusive).
        end: i64,
        /// The start of the range (inclusive).
        start: i64,
    }
}

union! {
    /// How a header or metadata value is matched.
    HeaderMatchMethod {
        /// The value equals this.
        Exact(String) = HEADER_MATCH,
        /// The value starts with this.
        Prefix(String) = HEADER_MATCH,
        /// The value is a number in this range.
        Range(MatchRange),
        /// The value matches this RE2 regular expression.
        Regex(String) = HEADER_MATCH,
        /// The value ends with this.
        Suffix(String) = HEADER_MATCH,
    }
}

enumeration! {
    /// An HTTP request method.
    HttpMethod {
        /// GET.
        Get = "GET",
        /// HEAD.
        Head = "HEAD",
        /// POST.
        Post = "POST",
        /// PUT.
        Put = "PUT",
        /// DELETE.
        Delete = "DELETE",
        /// CONNECT.
        Connect = "CONNECT",
        /// OPTIONS.
        Options = "OPTIONS",
        /// TRACE.
        Trace = "TRACE",
        /// PATCH.
        Patch = "PATCH",
    }
}

structure! {
    /// How the request path is matched.
    HttpPathMatch {
        /// The path equals this, 1 to 255 characters.
        exact: Option<String> = &text(1, 255),
        /// The path matches this RE2 regular expression, 1 to 255 characters.
        regex: Option<String> = &text(1, 255),
    }
}

structure! {
    /// How a query parameter's value is matched.
    QueryParameterMatch {
        /// The value equals this.
        exact: Option<String> = QUERY_PARAMETER,
    }
}

structure! {
    /// A query parameter a request must carry.
    HttpQueryParameter {
        /// How the value is matched; presence alone when left out.
        r#match: Option<QueryParameterMatch>,
        /// The parameter's name.
        name: String = QUERY_PARAMETER,
    }
}
