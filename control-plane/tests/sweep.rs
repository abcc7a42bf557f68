//! A generated sweep of hostile input over all 38 operations, against the real binary over a
//! socket: raw HTTP/1.1 on a `TcpStream`, so malformed bytes reach the server too.
//!
//! For every operation the sweep walks the model's input shapes (`Kind::create_shape()`,
//! `Kind::update_shape()`, the tag bodies) alongside valid bodies and generates cases: each
//! member missing, null, wrong-typed, out of range, oversized, empty where it must not be,
//! invalid characters where a character rule applies, unknown members, too many or too few
//! items; bodies that are not JSON (truncated, invalid UTF-8, 10,000 nested arrays, ...);
//! bad `limit`, `nextToken` and `meshOwner`; odd path segments (`..`, `.`, `%2F`, `%00`, very
//! long); unknown methods; and requests hyper's HTTP/1 parser refuses (NUL in the request
//! line, bad headers, bad `Content-Length`).
//!
//! Whatever the input: never a 5xx, never a hang (every request has a deadline), and every
//! rejection is a 4xx with `x-amzn-ErrorType` and a JSON `{"message": ...}` body, whose
//! message names the member when one member was made invalid.
//!
//! Every request goes through [`Sweep::send`], the one place that frames and signs requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use appmesh_model::resource::{TagResourceBody, UntagResourceBody};
use appmesh_model::shape::{Described, Shape};
use appmesh_model::validate::Step;
use appmesh_model::{Kind, Path};
use serde_json::{json, Map, Value};

/// How long one request may take, from connecting to the last byte of the answer.
const DEADLINE: Duration = Duration::from_secs(15);
const PREFIX: &str = "/v20190125";

// === requests and answers ===

/// One request. `verbatim` requests are sent byte for byte (they are malformed on purpose and
/// never signed); the others are framed, and signed, by [`Sweep::send`].
#[derive(Debug, Clone)]
struct Raw {
    method: String,
    /// Path and query, exactly as they go on the request line.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    verbatim: Option<Vec<u8>>,
    /// Close our sending side after the request (for a body shorter than announced).
    half_close: bool,
}

impl Raw {
    fn new(method: &str, target: impl Into<String>) -> Raw {
        Raw {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            verbatim: None,
            half_close: false,
        }
    }

    fn json(method: &str, target: impl Into<String>, body: &Value) -> Raw {
        Raw::new(method, target).body(body.to_string().into_bytes())
    }

    fn body(mut self, body: Vec<u8>) -> Raw {
        self.body = body;
        self
    }

    fn verbatim(bytes: impl Into<Vec<u8>>) -> Raw {
        Raw {
            verbatim: Some(bytes.into()),
            ..Raw::new("", "")
        }
    }
}

/// An answer: status, headers (names lowercased) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(300).collect();
        format!(
            "{} {:?} {body}",
            self.status,
            self.header("x-amzn-errortype")
        )
    }
}

/// What a case must get back.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Anything but a 5xx; an error has the API's shape.
    Any,
    /// A 4xx with the API's shape.
    Rejected,
    /// A 4xx with the API's shape whose message names this member (an API path such as
    /// `spec.listeners[0].portMapping.port`, or a URI member such as `meshName`).
    Names(String),
    /// A 4xx with the API's shape, or the connection closed without an answer (what an HTTP/1
    /// server does with an HTTP/2 preface or a body that never comes).
    RejectedOrClosed,
}

struct Case {
    what: String,
    raw: Raw,
    expect: Expect,
}

/// Checks an answer against what the case expects; the problem, if any.
fn judge(expect: &Expect, reply: &Result<Reply, String>) -> Option<String> {
    let reply = match (reply, expect) {
        (Err(e), Expect::RejectedOrClosed) if e.starts_with("closed") => return None,
        (Err(e), _) => return Some(e.clone()),
        (Ok(r), _) => r,
    };
    if reply.status >= 500 {
        return Some(format!("a server error: {}", reply.describe()));
    }
    if reply.status < 400 {
        return match expect {
            Expect::Any => None,
            _ => Some(format!("accepted: {}", reply.describe())),
        };
    }
    // Every error has the API's shape.
    let error_type = reply.header("x-amzn-errortype").unwrap_or_default();
    if error_type.is_empty() {
        return Some(format!("no x-amzn-ErrorType: {}", reply.describe()));
    }
    if reply.header("content-type") != Some("application/json") {
        return Some(format!("content-type is not JSON: {}", reply.describe()));
    }
    // An answer is never much larger than the request: no echo of huge values, no list of
    // half a million violations.
    if reply.body.len() > 64 * 1024 {
        return Some(format!(
            "an error body of {} bytes: {}",
            reply.body.len(),
            reply.describe()
        ));
    }
    let Some(message) = reply
        .json()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
    else {
        return Some(format!("no JSON message: {}", reply.describe()));
    };
    match expect {
        Expect::Names(member) if !message.contains(member.as_str()) => Some(format!(
            "the message does not name {member}: {}",
            reply.describe()
        )),
        _ => None,
    }
}

struct Sweep {
    server: common::Server,
    addr: String,
    sent: usize,
}

impl Sweep {
    /// Sends one request on a fresh connection and reads the whole answer. The only function
    /// that puts requests on the wire.
    fn send(&mut self, raw: &Raw) -> Result<Reply, String> {
        for _ in 0..50 {
            let reply = self.send_once(raw)?;
            // A rate limit is not what the sweep is about: wait and send the case again.
            if reply.status == 429 {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            return Ok(reply);
        }
        Err("still throttled after 50 tries".to_owned())
    }

    fn send_once(&mut self, raw: &Raw) -> Result<Reply, String> {
        self.sent += 1;
        let bytes = match &raw.verbatim {
            Some(bytes) => bytes.clone(),
            None => {
                let mut headers: Vec<(String, String)> = vec![
                    ("host".into(), self.addr.clone()),
                    ("content-type".into(), "application/json".into()),
                    ("content-length".into(), raw.body.len().to_string()),
                    ("connection".into(), "close".into()),
                ];
                for (k, v) in &raw.headers {
                    headers.retain(|(have, _)| !have.eq_ignore_ascii_case(k));
                    headers.push((k.clone(), v.clone()));
                }
                // Every well-formed request is signed (SigV4, the test servers' key).
                // Verbatim requests stay unsigned: hyper refuses them before any
                // authentication.
                common::sign_headers(&raw.method, &raw.target, &mut headers, &raw.body);
                let mut out = format!("{} {} HTTP/1.1\r\n", raw.method, raw.target).into_bytes();
                for (k, v) in &headers {
                    out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&raw.body);
                out
            }
        };
        let started = Instant::now();
        let addr = self
            .addr
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let mut stream =
            TcpStream::connect_timeout(&addr, DEADLINE).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_write_timeout(Some(DEADLINE))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).ok();
        // Written from another thread while this one reads: the server may answer (and
        // close) before it has read everything, e.g. after a parse error or a body over the
        // limit, and the answer must be read before the reset that follows. A failed write is
        // no failure as long as an answer arrives.
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let half_close = raw.half_close;
        let writing = std::thread::spawn(move || {
            let _ = writer.write_all(&bytes);
            if half_close {
                let _ = writer.shutdown(Shutdown::Write);
            }
        });
        let answer = read_answer(&mut stream, started);
        let _ = stream.shutdown(Shutdown::Both);
        let _ = writing.join();
        answer
    }

    /// Sends a request that must succeed and returns its JSON answer.
    fn ok(&mut self, raw: Raw) -> Value {
        let what = format!("{} {}", raw.method, raw.target);
        let reply = self.send(&raw).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(reply.status, 200, "{what}: {}", reply.describe());
        reply.json().unwrap_or_else(|| panic!("{what}: not JSON"))
    }
}

/// Reads one answer from `stream`, by the deadline counted from `started`.
fn read_answer(stream: &mut TcpStream, started: Instant) -> Result<Reply, String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!("no complete answer within {DEADLINE:?} (a hang)"));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if let Some(reply) = parse_reply(&got, false)? {
                    return Ok(reply);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no complete answer within {DEADLINE:?} (a hang)"));
            }
            // A reset after the answer was sent still leaves the answer to read.
            Err(_) => break,
        }
    }
    match parse_reply(&got, true)? {
        Some(reply) => Ok(reply),
        None if got.is_empty() => Err("closed without an answer".to_owned()),
        None => Err(format!(
            "closed in the middle of an answer: {:?}",
            String::from_utf8_lossy(&got[..got.len().min(300)])
        )),
    }
}

/// A complete HTTP/1.1 answer at the start of `got`, if one has arrived (`eof`: nothing more
/// will).
fn parse_reply(got: &[u8], eof: bool) -> Result<Option<Reply>, String> {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &got[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length {len:?}"))?;
        if rest.len() < len {
            return Ok(None);
        }
        rest[..len].to_vec()
    } else if find("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        match dechunk(rest) {
            Some(body) => body,
            None => return Ok(None),
        }
    } else if eof {
        // Delimited by the close.
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Reply {
        status,
        headers,
        body,
    }))
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

// === the operations ===

/// A path segment: literal, or a URI member with the fixture's value.
#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    Param(&'static str, String),
}

struct Op {
    name: String,
    method: &'static str,
    segments: Vec<Seg>,
    /// The query every request of the operation carries (`resourceArn=...`).
    query: Option<String>,
    /// The body's shape and valid bodies to mutate.
    body: Option<(&'static Shape, Vec<Value>)>,
    /// The body member holding the new resource's name (Create).
    name_member: Option<&'static str>,
    /// Whether it pages (`limit`, `nextToken`).
    pages: bool,
}

impl Op {
    fn path(&self, replace: Option<(usize, &str)>) -> String {
        let mut out = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            out.push('/');
            match (seg, replace) {
                (_, Some((at, raw))) if at == i => out.push_str(raw),
                (Seg::Lit(s), _) | (Seg::Param(_, s), _) => out.push_str(&encode(s)),
            }
        }
        out
    }

    fn target(&self, replace: Option<(usize, &str)>, extra_query: Option<&str>) -> String {
        let mut t = self.path(replace);
        let query: Vec<&str> = self
            .query
            .as_deref()
            .into_iter()
            .chain(extra_query)
            .collect();
        if !query.is_empty() {
            t.push('?');
            t.push_str(&query.join("&"));
        }
        t
    }
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const MESH: &str = "sweep";
const SERVICE: &str = "svc.sweep.local";
const NODE: &str = "node";
const ROUTER: &str = "router";
const ROUTE: &str = "route";
const GATEWAY: &str = "gw";
const GATEWAY_ROUTE: &str = "gwr";

fn fixture_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Mesh => MESH,
        Kind::VirtualService => SERVICE,
        Kind::VirtualNode => NODE,
        Kind::VirtualRouter => ROUTER,
        Kind::Route => ROUTE,
        Kind::VirtualGateway => GATEWAY,
        Kind::GatewayRoute => GATEWAY_ROUTE,
    }
}

/// The segments of a kind's collection URI.
fn collection(kind: Kind) -> Vec<Seg> {
    let mut segs = vec![Seg::Lit(PREFIX[1..].to_owned())];
    if kind != Kind::Mesh {
        segs.push(Seg::Lit("meshes".into()));
        segs.push(Seg::Param("meshName", MESH.into()));
    }
    match kind {
        Kind::Route => {
            segs.push(Seg::Lit("virtualRouter".into()));
            segs.push(Seg::Param("virtualRouterName", ROUTER.into()));
        }
        Kind::GatewayRoute => {
            segs.push(Seg::Lit("virtualGateway".into()));
            segs.push(Seg::Param("virtualGatewayName", GATEWAY.into()));
        }
        _ => {}
    }
    segs.push(Seg::Lit(kind.collection().into()));
    segs
}

fn item(kind: Kind) -> Vec<Seg> {
    let mut segs = collection(kind);
    segs.push(Seg::Param(kind.name_member(), fixture_name(kind).into()));
    segs
}

/// Valid specs of each kind, rich enough that most members appear somewhere.
fn specs(kind: Kind) -> Vec<Value> {
    let duration = json!({"unit": "s", "value": 10});
    let file_cert = json!({"certificateChain": "/certs/chain.pem", "privateKey": "/certs/key.pem"});
    let acm_trust = json!({"certificateAuthorityArns": ["arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca"]});
    let sans = json!({"match": {"exact": ["svc.sweep.local", "spiffe://sweep/ns/a"]}});
    let health = json!({"healthyThreshold": 2, "intervalMillis": 5000, "path": "/ping", "port": 8080,
        "protocol": "http", "timeoutMillis": 2000, "unhealthyThreshold": 2});
    let logging = json!({"accessLog": {"file": {"path": "/dev/stdout",
        "format": {"json": [{"key": "code", "value": "%RESPONSE_CODE%"}]}}}});
    let header_match =
        json!({"name": "x-h", "invert": false, "match": {"range": {"start": 1, "end": 5}}});
    match kind {
        Kind::Mesh => vec![
            json!({"egressFilter": {"type": "ALLOW_ALL"}, "serviceDiscovery": {"ipPreference": "IPv4_ONLY"}}),
        ],
        Kind::VirtualService => vec![
            json!({"provider": {"virtualRouter": {"virtualRouterName": ROUTER}}}),
            json!({"provider": {"virtualNode": {"virtualNodeName": NODE}}}),
        ],
        Kind::VirtualNode => vec![
            json!({
                "backendDefaults": {"clientPolicy": {"tls": {
                    "certificate": {"file": file_cert}, "enforce": false, "ports": [8080],
                    "validation": {"subjectAlternativeNames": sans, "trust": {"file": {"certificateChain": "/certs/ca.pem"}}}}}},
                "backends": [{"virtualService": {"virtualServiceName": SERVICE,
                    "clientPolicy": {"tls": {"certificate": {"sds": {"secretName": "client"}},
                        "validation": {"trust": {"acm": acm_trust}}}}}}],
                "listeners": [{
                    "portMapping": {"port": 8080, "protocol": "http"},
                    "connectionPool": {"http": {"maxConnections": 10, "maxPendingRequests": 5}},
                    "healthCheck": health,
                    "outlierDetection": {"baseEjectionDuration": duration, "interval": duration,
                        "maxEjectionPercent": 10, "maxServerErrors": 5},
                    "timeout": {"http": {"idle": duration, "perRequest": duration}},
                    "tls": {"certificate": {"sds": {"secretName": "server"}}, "mode": "STRICT",
                        "validation": {"subjectAlternativeNames": sans, "trust": {"sds": {"secretName": "trust"}}}}
                }],
                "logging": logging,
                "serviceDiscovery": {"awsCloudMap": {"namespaceName": "ns", "serviceName": "svc",
                    "attributes": [{"key": "stage", "value": "prod"}], "ipPreference": "IPv4_ONLY"}}
            }),
            json!({
                "listeners": [{"portMapping": {"port": 8080, "protocol": "http"},
                    "tls": {"certificate": {"acm": {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/c"}},
                        "mode": "PERMISSIVE"}}],
                "serviceDiscovery": {"dns": {"hostname": "node.sweep.local", "ipPreference": "IPv6_PREFERRED",
                    "responseType": "ENDPOINTS"}},
                "logging": {"accessLog": {"file": {"path": "/dev/stdout", "format": {"text": "%START_TIME%"}}}}
            }),
        ],
        Kind::VirtualRouter => {
            vec![json!({"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]})]
        }
        Kind::Route => vec![
            json!({"priority": 1, "httpRoute": {
                "match": {"prefix": "/", "method": "GET", "scheme": "http", "port": 8080,
                    "headers": [{"name": "x-h", "invert": false, "match": {"exact": "v"}}],
                    "queryParameters": [{"name": "q", "match": {"exact": "v"}}]},
                "action": {"weightedTargets": [{"virtualNode": NODE, "weight": 1, "port": 8080}]},
                "retryPolicy": {"httpRetryEvents": ["server-error"], "maxRetries": 1,
                    "perRetryTimeout": {"unit": "ms", "value": 100}, "tcpRetryEvents": ["connection-error"]},
                "timeout": {"idle": duration, "perRequest": duration}}}),
            json!({"http2Route": {
                "match": {"path": {"regex": "/a.*"}, "headers": [header_match]},
                "action": {"weightedTargets": [{"virtualNode": NODE, "weight": 100}]}}}),
            json!({"grpcRoute": {
                "match": {"serviceName": "pkg.Svc", "methodName": "Get", "port": 8080,
                    "metadata": [{"name": "m", "invert": true, "match": {"suffix": "x"}}]},
                "action": {"weightedTargets": [{"virtualNode": NODE, "weight": 1}]},
                "retryPolicy": {"grpcRetryEvents": ["cancelled"], "maxRetries": 2,
                    "perRetryTimeout": duration},
                "timeout": {"idle": duration, "perRequest": duration}}}),
            json!({"tcpRoute": {"match": {"port": 8080},
                "action": {"weightedTargets": [{"virtualNode": NODE, "weight": 1}]},
                "timeout": {"idle": duration}}}),
        ],
        Kind::VirtualGateway => vec![json!({
            "backendDefaults": {"clientPolicy": {"tls": {"enforce": true, "ports": [8080],
                "certificate": {"file": file_cert},
                "validation": {"subjectAlternativeNames": {"match": {"exact": ["svc.sweep.local"]}},
                    "trust": {"acm": acm_trust}}}}},
            "listeners": [{"portMapping": {"port": 8080, "protocol": "http"},
                "connectionPool": {"http": {"maxConnections": 1, "maxPendingRequests": 1}},
                "healthCheck": health,
                "tls": {"certificate": {"file": file_cert}, "mode": "STRICT",
                    "validation": {"subjectAlternativeNames": sans, "trust": {"file": {"certificateChain": "/certs/ca.pem"}}}}}],
            "logging": logging
        })],
        Kind::GatewayRoute => vec![
            json!({"priority": 1, "httpRoute": {
                "match": {"prefix": "/app", "hostname": {"exact": "www.sweep.local"}, "method": "GET", "port": 8080,
                    "headers": [{"name": "x-h", "invert": false, "match": {"prefix": "v"}}],
                    "queryParameters": [{"name": "q", "match": {"exact": "v"}}]},
                "action": {"target": {"virtualService": {"virtualServiceName": SERVICE}, "port": 8080},
                    "rewrite": {"hostname": {"defaultTargetHostname": "ENABLED"},
                        "prefix": {"defaultPrefix": "DISABLED"}}}}}),
            json!({"http2Route": {
                "match": {"path": {"exact": "/exact"}},
                "action": {"target": {"virtualService": {"virtualServiceName": SERVICE}},
                    "rewrite": {"path": {"exact": "/new"}}}}}),
            json!({"grpcRoute": {
                "match": {"serviceName": "pkg.Svc", "hostname": {"suffix": ".sweep.local"},
                    "metadata": [{"name": "m", "invert": false, "match": {"regex": "a+"}}]},
                "action": {"target": {"virtualService": {"virtualServiceName": SERVICE}},
                    "rewrite": {"hostname": {"defaultTargetHostname": "DISABLED"}}}}}),
        ],
    }
}

/// All 38 operations, with valid bodies for those that take one.
fn operations(mesh_arn: &str) -> Vec<Op> {
    let mut ops = Vec::new();
    for kind in Kind::ALL {
        let api = kind.api_name();
        let name = fixture_name(kind);
        let creates: Vec<Value> = specs(kind)
            .into_iter()
            .map(|spec| {
                json!({kind.name_member(): name, "clientToken": "sweep-token", "spec": spec,
                       "tags": [{"key": "team", "value": "sweep"}]})
            })
            .collect();
        let updates: Vec<Value> = specs(kind)
            .into_iter()
            .map(|spec| json!({"spec": spec}))
            .collect();
        let plural = if api.ends_with('h') { "es" } else { "s" };
        ops.extend([
            Op {
                name: format!("Create{api}"),
                method: "PUT",
                segments: collection(kind),
                query: None,
                body: Some((kind.create_shape(), creates)),
                name_member: Some(kind.name_member()),
                pages: false,
            },
            Op {
                name: format!("Describe{api}"),
                method: "GET",
                segments: item(kind),
                query: None,
                body: None,
                name_member: None,
                pages: false,
            },
            Op {
                name: format!("Update{api}"),
                method: "PUT",
                segments: item(kind),
                query: None,
                body: Some((kind.update_shape(), updates)),
                name_member: None,
                pages: false,
            },
            Op {
                name: format!("Delete{api}"),
                method: "DELETE",
                segments: item(kind),
                query: None,
                body: None,
                name_member: None,
                pages: false,
            },
            Op {
                name: format!("List{api}{plural}"),
                method: "GET",
                segments: collection(kind),
                query: None,
                body: None,
                name_member: None,
                pages: true,
            },
        ]);
    }
    let arn = format!("resourceArn={}", encode(mesh_arn));
    let tags = |name: &str, method, seg: &str, body: Option<(&'static Shape, Vec<Value>)>| Op {
        name: name.to_owned(),
        method,
        segments: vec![Seg::Lit(PREFIX[1..].to_owned()), Seg::Lit(seg.to_owned())],
        query: Some(arn.clone()),
        body,
        name_member: None,
        pages: seg == "tags",
    };
    ops.push(tags(
        "TagResource",
        "PUT",
        "tag",
        Some((
            TagResourceBody::SHAPE,
            vec![json!({"tags": [{"key": "a", "value": "1"}, {"key": "b", "value": ""}]})],
        )),
    ));
    ops.push(tags(
        "UntagResource",
        "PUT",
        "untag",
        Some((UntagResourceBody::SHAPE, vec![json!({"tagKeys": ["zz"]})])),
    ));
    ops.push(tags("ListTagsForResource", "GET", "tags", None));
    assert_eq!(ops.len(), 38, "the API has 38 operations");
    ops
}

// === generated cases ===

/// A change to one member of a valid body.
enum Change {
    Remove,
    Set(Value),
}

/// One generated change: where, what, and what the answer must say.
struct Mutation {
    at: Path,
    what: String,
    change: Change,
    expect: Expect,
}

fn names(p: &Path) -> Expect {
    Expect::Names(p.to_string())
}

/// A value of the wrong JSON type for `shape`.
fn wrong_type(shape: &Shape) -> Value {
    match shape {
        Shape::Structure(_) | Shape::Union(_) | Shape::String(_) | Shape::Enum(_) => json!(42),
        Shape::List(_) => json!({"not": "a list"}),
        Shape::Integer(_) => json!("7"),
        Shape::Boolean => json!("true"),
        Shape::Timestamp => json!("yesterday"),
    }
}

/// Changes to the members of the object `value` of `shape` at `at`.
fn member_mutations(
    shape: &'static Shape,
    obj: &Map<String, Value>,
    at: &Path,
    out: &mut Vec<Mutation>,
) {
    let is_union = matches!(shape, Shape::Union(_));
    let set = shape
        .members()
        .iter()
        .filter(|m| {
            obj.get(m.wire_name().as_ref())
                .is_some_and(|v| !v.is_null())
        })
        .count();
    for m in shape.members() {
        let wire = m.wire_name();
        let p = at.key(wire.as_ref());
        match obj.get(wire.as_ref()) {
            Some(v) => {
                let missing = if m.required {
                    names(&p)
                } else if is_union && set == 1 {
                    // The only alternative gone: the union itself is what is wrong.
                    names(at)
                } else {
                    Expect::Any
                };
                // Null is the same as missing to the API; worth a case where it is refused.
                if missing != Expect::Any {
                    out.push(Mutation {
                        at: p.clone(),
                        what: "null".into(),
                        change: Change::Set(Value::Null),
                        expect: missing.clone(),
                    });
                }
                out.push(Mutation {
                    at: p.clone(),
                    what: "missing".into(),
                    change: Change::Remove,
                    expect: missing,
                });
                value_mutations(m.shape, v, &p, out);
            }
            None => out.push(Mutation {
                at: p.clone(),
                what: "absent member set to a wrong type".into(),
                change: Change::Set(wrong_type(m.shape)),
                expect: names(&p),
            }),
        }
    }
    let unknown = at.key("zzUnknownMember");
    out.push(Mutation {
        at: unknown.clone(),
        what: "unknown member".into(),
        change: Change::Set(json!(1)),
        expect: names(&unknown),
    });
}

/// Changes to the value `v` of `shape` at `p`, and to what it holds.
fn value_mutations(shape: &'static Shape, v: &Value, p: &Path, out: &mut Vec<Mutation>) {
    let mut bad = |what: &str, value: Value| {
        out.push(Mutation {
            at: p.clone(),
            what: what.to_owned(),
            change: Change::Set(value),
            expect: names(p),
        });
    };
    bad("wrong type", wrong_type(shape));
    match shape {
        Shape::Structure(_) | Shape::Union(_) => {
            if let Some(obj) = v.as_object() {
                member_mutations(shape, obj, p, out);
            }
        }
        Shape::List(l) => {
            let sample = v
                .as_array()
                .and_then(|a| a.first())
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(max) = l.max {
                bad("too many items", Value::Array(vec![sample; max + 1]));
            } else {
                bad(
                    "a thousand items of the wrong type",
                    Value::Array(vec![json!(true); 1000]),
                );
            }
            if l.min > 0 {
                bad("too few items", json!([]));
            }
            bad("an item of the wrong type", json!([wrong_type(l.item)]));
            if let Some(first) = v.as_array().and_then(|a| a.first()) {
                value_mutations(l.item, first, &p.index(0), out);
            }
        }
        Shape::String(t) => {
            if let Some(max) = t.max {
                bad("one character too long", json!("x".repeat(max + 1)));
            }
            if t.min > 0 {
                bad("empty", json!(""));
            }
            if t.rule.is_some() {
                bad("a NUL character", json!("a\u{0}b"));
            }
        }
        Shape::Enum(_) => {
            bad("not one of the values", json!("NOT_A_VALUE"));
        }
        Shape::Integer(i) => {
            if i.min > i64::MIN {
                bad("below the minimum", json!(i.min - 1));
            }
            if i.max < i64::MAX {
                bad("above the maximum", json!(i.max + 1));
            }
            bad("beyond 64 bits", json!(u64::MAX));
            bad("a fraction", json!(1.5));
        }
        Shape::Boolean => bad("a number", json!(1)),
        Shape::Timestamp => {}
    }
}

fn apply(base: &Value, m: &Mutation) -> Value {
    let mut out = base.clone();
    let steps = m.at.steps();
    let Some((last, parents)) = steps.split_last() else {
        return match &m.change {
            Change::Remove => Value::Null,
            Change::Set(v) => v.clone(),
        };
    };
    let mut cur = &mut out;
    for step in parents {
        cur = match step {
            Step::Key(k) => &mut cur[k.as_str()],
            Step::Index(i) => &mut cur[*i],
        };
    }
    match (last, &m.change) {
        (Step::Key(k), Change::Remove) => {
            if let Some(obj) = cur.as_object_mut() {
                obj.remove(k);
            }
        }
        (Step::Key(k), Change::Set(v)) => cur[k.as_str()] = v.clone(),
        (Step::Index(i), Change::Remove) => {
            if let Some(a) = cur.as_array_mut() {
                a.remove(*i);
            }
        }
        (Step::Index(i), Change::Set(v)) => cur[*i] = v.clone(),
    }
    out
}

/// Bodies that are not JSON objects, or not JSON at all.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep_spec = format!("{{\"spec\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        ("truncated JSON", b"{\"spec\": ".to_vec()),
        ("trailing garbage", b"{} trailing".to_vec()),
        ("a missing value", b"{\"spec\":}".to_vec()),
        (
            "invalid UTF-8 in a string",
            b"{\"clientToken\": \"\xff\xfe\"}".to_vec(),
        ),
        ("invalid UTF-8 outside strings", b"\xc3\x28".to_vec()),
        (
            "an overlong UTF-8 encoding",
            b"{\"clientToken\": \"\xc0\xaf\"}".to_vec(),
        ),
        (
            "a lone surrogate escape",
            b"{\"clientToken\": \"\\ud800\"}".to_vec(),
        ),
        ("a byte-order mark", b"\xef\xbb\xbf{}".to_vec()),
        ("UTF-16", b"\xff\xfe{\x00}\x00".to_vec()),
        ("10,000 nested arrays", deep_arrays.into_bytes()),
        ("10,000 nested objects", deep_objects.into_bytes()),
        ("10,000 nested arrays in spec", deep_spec.into_bytes()),
        (
            "a number too large for a double",
            b"{\"spec\": 1e400}".to_vec(),
        ),
        ("a list", b"[]".to_vec()),
        ("a string", b"\"spec\"".to_vec()),
        ("a number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("true", b"true".to_vec()),
        ("a NUL byte", b"\x00".to_vec()),
        (
            "control characters",
            b"{\"clientToken\": \"\x01\"}".to_vec(),
        ),
    ]
}

/// Odd path segments, raw (already percent-encoded) as they go in the URI, and whether each
/// must be refused naming the member.
fn odd_segments() -> Vec<(String, bool)> {
    vec![
        ("..".into(), true),
        (".".into(), true),
        ("%2E%2E".into(), true),
        ("%2F".into(), true),
        ("a%2Fb".into(), true),
        ("..%2F..%2Fetc".into(), true),
        ("%00".into(), true),
        ("a%00b".into(), true),
        ("%20".into(), true),
        ("a%20b".into(), true),
        ("%0D%0A".into(), true),
        ("a%7F".into(), true),
        ("a%C2%85b".into(), true),
        ("x".repeat(256), true),
        ("x".repeat(10_000), true),
        // Bytes that do not decode to UTF-8, a zero-width space, a dotted name, an empty
        // segment and a URI longer than hyper reads: refused somehow, or not found.
        ("%FF".into(), false),
        ("a%E2%80%8Bb".into(), false),
        ("a.b".into(), false),
        ("".into(), false),
        ("x".repeat(70_000), false),
    ]
}

fn cases(ops: &[Op]) -> Vec<Case> {
    let mut out = Vec::new();
    for op in ops {
        let target = op.target(None, None);
        // Bodies: every member of every valid body, changed one at a time.
        if let Some((shape, bases)) = &op.body {
            for (b, base) in bases.iter().enumerate() {
                let mut mutations = Vec::new();
                if let Some(obj) = base.as_object() {
                    member_mutations(shape, obj, &Path::root(), &mut mutations);
                }
                for m in &mutations {
                    let body = apply(base, m);
                    out.push(Case {
                        what: format!("{} body {b}: {} {}", op.name, m.at, m.what),
                        raw: Raw::json(op.method, target.clone(), &body),
                        expect: m.expect.clone(),
                    });
                }
            }
            if let Some(member) = op.name_member {
                let huge = "n".repeat(1_000_000);
                let long = "n".repeat(256);
                let bad_names = [
                    "", ".", "..", "a b", " a", "a\u{0}b", "\u{0}", "a\u{7f}", "a\tb", "a\nb",
                    "a\u{85}b", "a\u{a0}b", "a/b", &long, &huge,
                ];
                for name in bad_names {
                    let mut body = bases[0].clone();
                    body[member] = json!(name);
                    out.push(Case {
                        what: format!("{} {member} {:?}", op.name, name.get(..20).unwrap_or(name)),
                        raw: Raw::json(op.method, target.clone(), &body),
                        expect: Expect::Names(member.to_owned()),
                    });
                }
            }
            for (what, body) in bad_bodies() {
                out.push(Case {
                    what: format!("{} body: {what}", op.name),
                    raw: Raw::new(op.method, target.clone()).body(body),
                    expect: Expect::Rejected,
                });
            }
            // Whatever the content type says, the body is read as JSON.
            let mut text = Raw::json(op.method, target.clone(), &bases[0]);
            text.headers
                .push(("content-type".into(), "text/plain; charset=latin1".into()));
            out.push(Case {
                what: format!("{} body as text/plain", op.name),
                raw: text,
                expect: Expect::Any,
            });
            // A body the API's size limit refuses.
            out.push(Case {
                what: format!("{} body: 2 MiB", op.name),
                raw: Raw::new(op.method, target.clone())
                    .body(format!("{{\"clientToken\": \"{}\"}}", "x".repeat(2 << 20)).into_bytes()),
                expect: Expect::Rejected,
            });
            // An empty body is an empty object: the first required member is missing.
            let first_required = shape
                .members()
                .iter()
                .find(|m| m.required)
                .map(|m| m.wire_name().into_owned());
            out.push(Case {
                what: format!("{} body: empty", op.name),
                raw: Raw::new(op.method, target.clone()),
                expect: first_required.map_or(Expect::Any, Expect::Names),
            });
        }
        // Path segments: each URI member, made odd one at a time.
        for (i, seg) in op.segments.iter().enumerate() {
            let Seg::Param(member, _) = seg else { continue };
            for (raw, named) in odd_segments() {
                // The odd segments never name a fixture, so a Delete never deletes one.
                let expect = if named {
                    Expect::Names((*member).to_owned())
                } else {
                    Expect::Any
                };
                let body = op.body.as_ref().map(|(_, bases)| bases[0].clone());
                let target = op.target(Some((i, &raw)), None);
                let shown: String = raw.chars().take(24).collect();
                let raw = match &body {
                    Some(b) => Raw::json(op.method, target, b),
                    None => Raw::new(op.method, target),
                };
                out.push(Case {
                    what: format!("{} {member} segment {shown:?}", op.name),
                    raw,
                    expect,
                });
            }
        }
        // Query parameters. CreateMesh, ListMeshes and the tag operations take no meshOwner
        // (the API ignores parameters an operation does not have).
        let takes_owner =
            !(op.name == "CreateMesh" || op.name == "ListMeshes" || op.query.is_some());
        let owner = || {
            if takes_owner {
                Expect::Names("meshOwner".into())
            } else {
                Expect::Any
            }
        };
        let mut queries: Vec<(String, Expect)> = vec![
            ("meshOwner=12".into(), owner()),
            (
                "meshOwner=%00%00%00%00%00%00%00%00%00%00%00%00".into(),
                owner(),
            ),
            (format!("meshOwner={}", "1".repeat(5000)), owner()),
            ("meshOwner=999999999999".into(), Expect::Any),
            ("meshOwner=".into(), Expect::Any),
            ("unknownParameter=%00".into(), Expect::Any),
            ("%ZZ=%ZZ&&&=".into(), Expect::Any),
        ];
        if op.pages {
            for bad in [
                "0",
                "101",
                "-1",
                "abc",
                "1.5",
                "99999999999999999999999",
                "",
                "%00",
                "1%00",
            ] {
                queries.push((format!("limit={bad}"), Expect::Names("limit".into())));
            }
            let foreign = base64_url(br#"{"v":1,"kind":"Mesh","scope":"elsewhere","after":"a"}"#);
            for bad in [
                "garbage",
                "%00",
                "AAAA",
                &"x".repeat(5000),
                &foreign,
                "eyJ2IjoxfQ",
            ] {
                queries.push((
                    format!("nextToken={bad}"),
                    Expect::Names("nextToken".into()),
                ));
            }
        }
        for (q, expect) in queries {
            // A Delete that the query does not stop would delete a fixture: not a case.
            if op.method == "DELETE" && expect == Expect::Any {
                continue;
            }
            let body = op.body.as_ref().map(|(_, bases)| bases[0].clone());
            let target = op.target(None, Some(&q));
            let raw = match &body {
                Some(b) => Raw::json(op.method, target, b),
                None => Raw::new(op.method, target),
            };
            out.push(Case {
                what: format!(
                    "{} query {:?}",
                    op.name,
                    q.chars().take(40).collect::<String>()
                ),
                raw,
                expect,
            });
        }
        // Methods no operation answers on this URI.
        for method in ["POST", "PATCH", "OPTIONS", "FOO", "get", "TRACE"] {
            out.push(Case {
                what: format!("{} as {method}", op.name),
                raw: Raw::new(method, target.clone()),
                expect: Expect::Rejected,
            });
        }
    }
    // resourceArn values.
    for op in ops.iter().filter(|o| o.query.is_some()) {
        let body = op.body.as_ref().map(|(_, bases)| bases[0].clone());
        let arns: Vec<(String, Expect)> = vec![
            (String::new(), Expect::Names("resourceArn".into())),
            ("nope".into(), Expect::Names("resourceArn".into())),
            (
                encode(&common::arn("mesh/..")),
                Expect::Names("meshName".into()),
            ),
            (
                encode(&common::arn("mesh/a\u{0}b")),
                Expect::Names("meshName".into()),
            ),
            (
                encode(&common::arn("mesh/a b")),
                Expect::Names("meshName".into()),
            ),
            (
                encode(&common::arn(&format!("mesh/{}", "m".repeat(3000)))),
                Expect::Names("meshName".into()),
            ),
            (
                encode(&common::arn("mesh/sweep/virtualRouter/a.b")),
                Expect::Names("virtualRouterName".into()),
            ),
            (
                encode(&common::arn("mesh/sweep/virtualNode/.")),
                Expect::Names("virtualNodeName".into()),
            ),
            (
                encode(&common::arn("mesh/sweep/virtualNode")),
                Expect::Names("resourceArn".into()),
            ),
            (
                "arn%3Aaws%3Aappmesh%3A%3A%3Amesh%2Fsweep".into(),
                Expect::Rejected,
            ),
            (
                encode(&common::arn(&format!("mesh/{}", "m".repeat(255)))),
                Expect::Rejected,
            ),
            ("%FF%FE".into(), Expect::Rejected),
        ];
        for (arn, expect) in arns {
            let target = format!("{}?resourceArn={arn}", op.path(None));
            let raw = match &body {
                Some(b) => Raw::json(op.method, target, b),
                None => Raw::new(op.method, target),
            };
            out.push(Case {
                what: format!(
                    "{} resourceArn {:?}",
                    op.name,
                    arn.chars().take(40).collect::<String>()
                ),
                raw,
                expect,
            });
        }
        out.push(Case {
            what: format!("{} without resourceArn", op.name),
            raw: match &body {
                Some(b) => Raw::json(op.method, op.path(None), b),
                None => Raw::new(op.method, op.path(None)),
            },
            expect: Expect::Names("resourceArn".into()),
        });
    }
    // Half a million wrong list items in one 1 MiB body: refused, in a message of bounded
    // size.
    let items = vec!["1"; (1 << 20) / 2 - 64].join(",");
    out.push(Case {
        what: "CreateVirtualNode body: 500,000 wrong list items".into(),
        raw: Raw::new("PUT", format!("{PREFIX}/meshes/{MESH}/virtualNodes")).body(
            format!("{{\"virtualNodeName\":\"n\",\"spec\":{{\"listeners\":[{items}]}}}}")
                .into_bytes(),
        ),
        expect: Expect::Names("spec.listeners[0]".into()),
    });
    out.extend(malformed_http());
    out
}

fn base64_url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Requests hyper's HTTP/1 parser, or the body reader, refuses before any handler runs.
fn malformed_http() -> Vec<Case> {
    let head = |line: &str, headers: &str| -> Vec<u8> {
        format!("{line}\r\nhost: 127.0.0.1\r\n{headers}connection: close\r\n\r\n").into_bytes()
    };
    let rejected = |what: &str, bytes: Vec<u8>| Case {
        what: format!("HTTP: {what}"),
        raw: Raw::verbatim(bytes),
        expect: Expect::Rejected,
    };
    let many_headers: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    let mut cases = vec![
        rejected(
            "a NUL in the request line",
            head("GET /v20190125/meshes/a\0b HTTP/1.1", ""),
        ),
        rejected(
            "a NUL in the method",
            head("G\0T /v20190125/meshes HTTP/1.1", ""),
        ),
        rejected(
            "a space in the path",
            head("GET /v20190125/meshes/a b HTTP/1.1", ""),
        ),
        rejected(
            "a control byte in the path",
            head("GET /v20190125/meshes/a\x01b HTTP/1.1", ""),
        ),
        rejected(
            "a DEL in the path",
            head("GET /v20190125/meshes/a\x7fb HTTP/1.1", ""),
        ),
        rejected(
            "a raw non-ASCII byte in the path",
            head("GET /v20190125/meshes/\u{ff} HTTP/1.1", ""),
        ),
        rejected(
            "an invalid method token",
            head("G@T /v20190125/meshes HTTP/1.1", ""),
        ),
        rejected("no version", head("GET /v20190125/meshes", "")),
        rejected(
            "HTTP/2.0 on the request line",
            head("GET /v20190125/meshes HTTP/2.0", ""),
        ),
        rejected("HTTP/9.9", head("GET /v20190125/meshes HTTP/9.9", "")),
        rejected("an empty request line", b"\r\n\r\n\r\nfoo\r\n\r\n".to_vec()),
        rejected(
            "a header without a colon",
            head("GET /v20190125/meshes HTTP/1.1", "no-colon-here\r\n"),
        ),
        rejected(
            "a space in a header name",
            head("GET /v20190125/meshes HTTP/1.1", "bad header: x\r\n"),
        ),
        rejected(
            "a NUL in a header value",
            head("GET /v20190125/meshes HTTP/1.1", "x-a: a\0b\r\n"),
        ),
        rejected(
            "a NUL in a header name",
            head("GET /v20190125/meshes HTTP/1.1", "x-\0: b\r\n"),
        ),
        rejected(
            "an obsolete folded header",
            head("GET /v20190125/meshes HTTP/1.1", "x-a: a\r\n folded\r\n"),
        ),
        rejected(
            "a bare CR in a header",
            head("GET /v20190125/meshes HTTP/1.1", "x-a: a\rb\r\n"),
        ),
        rejected(
            "Content-Length: abc",
            head("PUT /v20190125/meshes HTTP/1.1", "content-length: abc\r\n"),
        ),
        rejected(
            "Content-Length: -1",
            head("PUT /v20190125/meshes HTTP/1.1", "content-length: -1\r\n"),
        ),
        rejected(
            "two different Content-Lengths",
            head(
                "PUT /v20190125/meshes HTTP/1.1",
                "content-length: 1\r\ncontent-length: 2\r\n",
            ),
        ),
        rejected(
            "Content-Length: 1, 2",
            head("PUT /v20190125/meshes HTTP/1.1", "content-length: 1, 2\r\n"),
        ),
        rejected(
            "a Content-Length beyond 64 bits",
            head(
                "PUT /v20190125/meshes HTTP/1.1",
                "content-length: 99999999999999999999999\r\n",
            ),
        ),
        rejected(
            "Transfer-Encoding: gzip",
            head(
                "PUT /v20190125/meshes HTTP/1.1",
                "transfer-encoding: gzip\r\n",
            ),
        ),
        rejected(
            "Transfer-Encoding and Content-Length",
            [
                head(
                    "PUT /v20190125/meshes HTTP/1.1",
                    "transfer-encoding: chunked\r\ncontent-length: 5\r\n",
                ),
                b"0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        rejected(
            "a 100 KiB header",
            head(
                "GET /v20190125/meshes HTTP/1.1",
                &format!("x-big: {}\r\n", "a".repeat(100 * 1024)),
            ),
        ),
        rejected(
            "a 1 MiB header",
            head(
                "GET /v20190125/meshes HTTP/1.1",
                &format!("x-big: {}\r\n", "a".repeat(1 << 20)),
            ),
        ),
        rejected(
            "200 headers",
            head("GET /v20190125/meshes HTTP/1.1", &many_headers),
        ),
        rejected(
            "a 70,000-byte URI",
            head(
                &format!("GET /v20190125/meshes/{} HTTP/1.1", "x".repeat(70_000)),
                "",
            ),
        ),
        rejected(
            "a TLS ClientHello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
        ),
        rejected("random binary", (0u8..=255).cycle().take(4096).collect()),
    ];
    // Framing the body reader refuses (after the head parsed), and bodies that never come.
    let chunked = |body: &str| -> Vec<u8> {
        let mut b = head(
            "PUT /v20190125/meshes HTTP/1.1",
            "content-type: application/json\r\ntransfer-encoding: chunked\r\n",
        );
        b.extend_from_slice(body.as_bytes());
        b
    };
    cases.push(rejected(
        "a chunk size that is not hex",
        chunked("zz\r\n{}\r\n0\r\n\r\n"),
    ));
    cases.push(rejected(
        "a chunk size beyond 64 bits",
        chunked("fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
    ));
    cases.push(Case {
        what: "HTTP: a body shorter than its Content-Length".into(),
        raw: Raw {
            half_close: true,
            ..Raw::verbatim(
                [
                    head("PUT /v20190125/meshes HTTP/1.1", "content-length: 100\r\n"),
                    b"{}".to_vec(),
                ]
                .concat(),
            )
        },
        expect: Expect::RejectedOrClosed,
    });
    cases.push(Case {
        what: "HTTP: an HTTP/2 preface".into(),
        raw: Raw::verbatim(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        expect: Expect::RejectedOrClosed,
    });
    cases
}

// === the sweep ===

fn setup(sweep: &mut Sweep) -> String {
    let put = |path: String, body: Value| Raw::json("PUT", path, &body);
    let mesh = sweep.ok(put(format!("{PREFIX}/meshes"), json!({"meshName": MESH})));
    let m = format!("{PREFIX}/meshes/{MESH}");
    let listener = json!({"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]});
    sweep.ok(put(
        format!("{m}/virtualNodes"),
        json!({"virtualNodeName": NODE, "spec": {
        "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
        "serviceDiscovery": {"dns": {"hostname": "node.sweep.local"}}}}),
    ));
    sweep.ok(put(
        format!("{m}/virtualRouters"),
        json!({"virtualRouterName": ROUTER, "spec": listener}),
    ));
    sweep.ok(put(
        format!("{m}/virtualRouter/{ROUTER}/routes"),
        json!({"routeName": ROUTE, "spec": specs(Kind::Route)[0]}),
    ));
    sweep.ok(put(
        format!("{m}/virtualServices"),
        json!({"virtualServiceName": SERVICE, "spec": specs(Kind::VirtualService)[0]}),
    ));
    sweep.ok(put(
        format!("{m}/virtualGateways"),
        json!({"virtualGatewayName": GATEWAY, "spec": listener}),
    ));
    sweep.ok(put(
        format!("{m}/virtualGateway/{GATEWAY}/gatewayRoutes"),
        json!({"gatewayRouteName": GATEWAY_ROUTE, "spec": specs(Kind::GatewayRoute)[0]}),
    ));
    mesh["metadata"]["arn"]
        .as_str()
        .expect("CreateMesh answers with an ARN")
        .to_owned()
}

#[test]
fn hostile_input_never_breaks_the_error_contract() {
    let dir = common::data_dir();
    let server = common::Server::start(dir.path());
    let addr = server.endpoint().trim_start_matches("http://").to_owned();
    let mut sweep = Sweep {
        server,
        addr,
        sent: 0,
    };
    let mesh_arn = setup(&mut sweep);
    let ops = operations(&mesh_arn);
    let cases = cases(&ops);
    // `SWEEP_DUMP=FILE` writes the list of cases, one per line, to look at what is covered.
    if let Ok(path) = std::env::var("SWEEP_DUMP") {
        let all: Vec<&str> = cases.iter().map(|c| c.what.as_str()).collect();
        std::fs::write(path, all.join("\n")).unwrap();
    }
    assert!(
        cases.len() > 2000 && cases.len() < 10_000,
        "{} cases",
        cases.len()
    );

    let started = Instant::now();
    let mut failures = Vec::new();
    for case in &cases {
        let reply = sweep.send(&case.raw);
        if let Some(problem) = judge(&case.expect, &reply) {
            failures.push(format!("{}: {problem}", case.what));
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "sweep: {} cases ({} requests) in {:.1}s, {} failures",
        cases.len(),
        sweep.sent,
        elapsed.as_secs_f64(),
        failures.len()
    );
    // The server is still there and still answers.
    sweep.ok(Raw::new("GET", format!("{PREFIX}/meshes")));
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(60).map(String::as_str).collect();
        panic!(
            "{} of {} cases broke the error contract:\n{}\n--- server log ---\n{}",
            failures.len(),
            cases.len(),
            shown.join("\n"),
            sweep
                .server
                .logs()
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
