//! What every request passes through before an operation sees it, and after: a request id,
//! the body size limit, SigV4 authentication, the per-principal rate limit, the request log
//! line, the request metrics and the audit record.
//!
//! The gate reads the whole body (up to [`MAX_BODY_BYTES`]) before answering, so no answer is
//! lost to a reset of a connection whose request body was left unread; the body is needed for
//! the payload hash anyway. The verified [`Identity`] travels to the handlers as a request
//! extension; handlers leave an [`Operation`] on the response for the audit log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access::{AccessHandle, Identity, Rate};
use crate::audit::{AuditLog, AuditRecord};
use crate::error::{ApiError, ErrorKind};
use crate::metrics::{Telemetry, NO_OPERATION};
use crate::sigv4::{self, Incoming, KeySecret};
use crate::sts::{self, StsKey};

/// The largest request body accepted. App Mesh's largest legitimate bodies (a virtual node
/// with 50 listeners and 50 backends) are a few tens of kilobytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a client may take to send its request body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The service name requests are signed for.
pub const SERVICE: &str = "appmesh";

/// The operation a handler ran, left on its response for the audit log.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The action, e.g. `CreateVirtualNode`.
    pub action: String,
    /// The resource ARN, when the request named one well enough to tell.
    pub resource: Option<String>,
    /// Whether the action changes state (and so is audited).
    pub mutating: bool,
}

/// The request id, available to handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// How requests are admitted.
pub struct Gate {
    access: Arc<AccessHandle>,
    region: String,
    default_account: String,
    insecure: bool,
    audit: Option<Arc<AuditLog>>,
    sts: StsKey,
    buckets: Mutex<HashMap<String, Bucket>>,
    telemetry: Telemetry,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Gate {
    /// A gate verifying signatures against `access` for `region`.
    pub fn new(access: Arc<AccessHandle>, region: &str, default_account: &str) -> Gate {
        Gate {
            access,
            region: region.to_owned(),
            default_account: default_account.to_owned(),
            insecure: false,
            audit: None,
            sts: StsKey::random(),
            buckets: Mutex::new(HashMap::new()),
            telemetry: Telemetry::default(),
        }
    }

    /// Records requests in `telemetry` (by default a fresh one of its own), which the
    /// operator endpoints (`/metrics`, `/v1/proxies`) then show.
    pub fn telemetry(mut self, telemetry: Telemetry) -> Gate {
        self.telemetry = telemetry;
        self
    }

    /// What the gate records requests in.
    pub fn telemetry_handle(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Seals STS sessions with `key` (by default a random key, so sessions end with the
    /// process).
    pub fn sts_key(mut self, key: StsKey) -> Gate {
        self.sts = key;
        self
    }

    /// With `--insecure-dev`: any signature, or none, is accepted.
    pub fn insecure(mut self, insecure: bool) -> Gate {
        self.insecure = insecure;
        self
    }

    /// Writes audit records to `log`.
    pub fn audit(mut self, log: Option<Arc<AuditLog>>) -> Gate {
        self.audit = log;
        self
    }

    /// The identity a request acts as, or the refusal to answer with.
    fn authenticate(
        &self,
        parts: &axum::http::request::Parts,
        body: &[u8],
    ) -> Result<(Arc<Identity>, Option<String>), ApiError> {
        let access = self.access.current();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if self.insecure {
            // Whoever the request says it is, if the key is known; else the default account.
            let claimed = headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .and_then(|(_, v)| v.split("Credential=").nth(1))
                .and_then(|c| c.split('/').next())
                .map(str::to_owned);
            let identity = claimed
                .as_deref()
                .and_then(|k| access.key(k))
                .map(|k| k.identity.clone())
                .unwrap_or_else(|| Arc::new(Identity::root(&self.default_account)));
            return Ok((identity, claimed));
        }
        let service = if is_sts(parts) { "sts" } else { SERVICE };
        let token = parts
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let incoming = Incoming {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        // Long-term keys from the file; otherwise session credentials this server's STS
        // issued, recognised by their sealed token.
        let mut session: Option<Identity> = None;
        let mut expired = false;
        let verified = sigv4::verify(&incoming, &self.region, service, now, |id| {
            if let Some(k) = access.key(id) {
                return Some(KeySecret {
                    secret: k.secret.clone(),
                    session_token: None,
                });
            }
            let token = token.as_deref()?;
            match sts::session_identity(&self.sts, &access, id, token, now) {
                Ok((identity, secret)) => {
                    session = Some(identity);
                    Some(KeySecret {
                        secret,
                        session_token: Some(token.to_owned()),
                    })
                }
                Err(is_expired) => {
                    expired = is_expired;
                    None
                }
            }
        })
        .map_err(|r| match r {
            sigv4::Refusal::UnknownKey if expired => {
                let r = sigv4::Refusal::ExpiredToken;
                ApiError::refused(r.code(), r.message())
            }
            r => ApiError::refused(r.code(), r.message()),
        })?;
        let identity = match session {
            Some(identity) => Arc::new(identity),
            None => access
                .key(&verified.access_key_id)
                .map(|k| k.identity.clone())
                .ok_or_else(|| {
                    ApiError::refused(
                        "UnrecognizedClientException",
                        sigv4::Refusal::UnknownKey.message(),
                    )
                })?,
        };
        Ok((identity, Some(verified.access_key_id)))
    }

    /// Takes one token from the principal's bucket, or says how long to wait.
    fn admit(&self, identity: &Identity) -> Result<(), ApiError> {
        let Some(Rate { per_second, burst }) = identity.rate else {
            return Ok(());
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(identity.arn.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorKind::TooManyRequests,
                format!(
                    "Rate exceeded: {} may make {per_second} requests per second (bursts of {burst}); retry with backoff",
                    identity.arn
                ),
            ))
        }
    }
}

/// The middleware: everything in the module documentation, in order.
pub async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut identity: Option<Arc<Identity>> = None;
    let mut access_key = None;
    let sts_call = is_sts(&parts);
    let mut response = match admit(&gate, parts, body, &request_id).await {
        Ok((request, who, key)) if sts_call => {
            let answer = answer_sts(&gate, &who, request, &request_id).await;
            identity = Some(who);
            access_key = key;
            answer
        }
        Ok((request, who, key)) => {
            identity = Some(who);
            access_key = key;
            next.run(request).await
        }
        Err(response) => response,
    };
    let status = response.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    let error = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = identity.as_ref().map_or("-", |i| i.arn.as_str());
    let elapsed = started.elapsed();
    let millis = elapsed.as_secs_f64() * 1000.0;
    match &error {
        None => tracing::info!(%method, %path, status, millis, %request_id, principal, "request"),
        Some(error) if status >= 500 => {
            tracing::error!(%method, %path, status, error, millis, %request_id, principal, "request")
        }
        Some(error) => {
            tracing::info!(%method, %path, status, error, millis, %request_id, principal, "request")
        }
    }
    let operation = match response.extensions().get::<Operation>() {
        Some(op) => op.action.as_str(),
        None if sts_call => "Sts",
        None => match path.as_str() {
            "/healthz" => "Healthz",
            "/metrics" => "Metrics",
            _ => NO_OPERATION,
        },
    };
    gate.telemetry
        .metrics
        .record_request(operation, status, elapsed);
    if gate.insecure && !is_open(&path) {
        tracing::warn!(%request_id, "--insecure-dev: this request was not authenticated");
    }

    if let Some(log) = &gate.audit {
        let op = response.extensions().get::<Operation>().cloned();
        let mutating = op
            .as_ref()
            .map_or(method == Method::PUT || method == Method::DELETE, |o| {
                o.mutating
            });
        if mutating {
            log.write(&AuditRecord {
                request_id: &request_id,
                identity: identity.as_deref(),
                access_key_id: access_key.as_deref(),
                action: op.as_ref().map(|o| o.action.as_str()),
                resource: op.as_ref().and_then(|o| o.resource.as_deref()),
                region: &gate.region,
                source: source.as_deref(),
                user_agent: user_agent.as_deref(),
                status,
                error_code: error.as_deref(),
                error_message: None,
            });
        }
    }
    response
}

/// Reads the body, authenticates and rate-limits; the request to run, or the answer refusing it.
async fn admit(
    gate: &Gate,
    mut parts: axum::http::request::Parts,
    body: Body,
    request_id: &str,
) -> Result<(Request, Arc<Identity>, Option<String>), Response> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let mut r = ApiError::new(
            ErrorKind::RequestEntityTooLarge,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
        // The rest of the body is not read; the connection cannot be reused.
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let unreadable = |why: String| {
        let mut r = ApiError::bad_request(why).into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r
    };
    // A GET or DELETE has no body to wait for: no timer, no read.
    let read = if axum::body::HttpBody::is_end_stream(&body) {
        Ok(Ok(Bytes::new()))
    } else {
        tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES)).await
    };
    let bytes: Bytes = match read {
        Ok(Ok(b)) => b,
        // `to_bytes` says so when the limit is what stopped it; anything else is a body that
        // could not be read (a bad chunk, fewer bytes than Content-Length promised).
        Ok(Err(e)) if format!("{e:#}").contains("length limit exceeded") => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(unreadable(format!(
                "the request body could not be read: {e}"
            )))
        }
        Err(_) => {
            return Err(unreadable(format!(
                "the request body did not arrive within {} seconds",
                BODY_TIMEOUT.as_secs()
            )))
        }
    };
    if is_open(parts.uri.path()) {
        let root = Arc::new(Identity::root(&gate.default_account));
        return Ok((Request::from_parts(parts, Body::from(bytes)), root, None));
    }
    let (identity, key) = gate
        .authenticate(&parts, &bytes)
        .map_err(IntoResponse::into_response)?;
    gate.admit(&identity).map_err(IntoResponse::into_response)?;
    parts.extensions.insert(identity.clone());
    parts.extensions.insert(RequestId(request_id.to_owned()));
    Ok((Request::from_parts(parts, Body::from(bytes)), identity, key))
}

/// Paths answered without authentication: health and metrics, which reveal no resource,
/// account or secret, and whose callers (load balancers, Prometheus) do not sign requests.
fn is_open(path: &str) -> bool {
    path == "/healthz" || path == "/metrics"
}

/// STS's query protocol arrives as a form-encoded `POST /`.
fn is_sts(parts: &axum::http::request::Parts) -> bool {
    parts.method == Method::POST && parts.uri.path() == "/"
}

/// Answers an STS call (`AssumeRole`, `GetCallerIdentity`) in STS's XML.
async fn answer_sts(
    gate: &Gate,
    caller: &Identity,
    request: Request,
    request_id: &str,
) -> Response {
    let xml = |status: u16, body: String| {
        let mut r = (
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            body,
        )
            .into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        r
    };
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let action = form
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match action {
        Some("AssumeRole") => {
            match sts::assume_role(&gate.sts, &gate.access.current(), caller, &form, now) {
                Ok(session) => {
                    tracing::info!(role_session = %session.assumed_role_arn, by = %caller.arn, "sts:AssumeRole");
                    xml(200, sts::response_xml(&session, request_id))
                }
                Err((status, code, message)) => {
                    let mut r = xml(status, sts::error_xml(code, &message, request_id));
                    r.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(code));
                    r
                }
            }
        }
        Some("GetCallerIdentity") => xml(
            200,
            format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                caller.arn, caller.name, caller.account
            ),
        ),
        other => xml(
            400,
            sts::error_xml(
                "InvalidAction",
                &format!("this control plane's STS answers AssumeRole and GetCallerIdentity, not {}", other.unwrap_or("(no Action)")),
                request_id,
            ),
        ),
    }
}
