//! A thin App Mesh REST client: builds URIs, signs with SigV4, retries throttling and server
//! errors with backoff, and turns error answers into [`ApiError`]s that keep the exception
//! name.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use appmesh_model::{Kind, ResourceKey};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;

use crate::provider::credentials::CachedCredentials;

/// An error from the API or from getting there.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an exception.
    #[error("{code}: {message}")]
    Service {
        /// HTTP status.
        status: u16,
        /// The exception name, e.g. `NotFoundException`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The request did not get an answer.
    #[error("{0}")]
    Transport(String),
    /// No valid credentials to sign the request with (a refresh failed); not retried here,
    /// the credential sources retry on their own.
    #[error("{0}")]
    Credentials(String),
}

impl ApiError {
    /// Whether the service said the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Service { code, .. } if code == "NotFoundException")
    }

    fn retryable(&self) -> bool {
        match self {
            ApiError::Service { status, code, .. } => {
                *status == 429
                    || *status >= 500
                    || code == "TooManyRequestsException"
                    || code == "ThrottlingException"
            }
            ApiError::Transport(_) => true,
            ApiError::Credentials(_) => false,
        }
    }
}

/// A configured client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    credentials: CachedCredentials,
    max_retries: u32,
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The collection URI path of a kind inside a container (`key.name` is ignored).
pub fn collection_path(key: &ResourceKey) -> String {
    let base = "/v20190125/meshes";
    match (key.kind, key.kind.parent(), &key.parent) {
        (Kind::Mesh, _, _) => base.to_owned(),
        (kind, Some(pk), Some(parent)) => format!(
            "{base}/{}/{}/{}/{}",
            encode(&key.mesh),
            pk.arn_segment(),
            encode(parent),
            kind.collection()
        ),
        (kind, _, _) => format!("{base}/{}/{}", encode(&key.mesh), kind.collection()),
    }
}

/// The body of a Create request for `key`: a fresh client token (retries of this request
/// are then idempotent), the name, the spec and the tags (left out when there are none).
pub fn create_body(key: &ResourceKey, spec: Value, tags: &BTreeMap<String, String>) -> Value {
    let mut body = serde_json::json!({
        "clientToken": uuid::Uuid::new_v4().to_string(),
        "spec": spec,
    });
    body[key.kind.name_member()] = Value::String(key.name.clone());
    if !tags.is_empty() {
        body["tags"] = tag_list(tags);
    }
    body
}

/// Tags as the API lists them: `[{"key": ..., "value": ...}]`.
pub fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect(),
    )
}

/// The item URI path of a resource.
pub fn item_path(key: &ResourceKey) -> String {
    format!("{}/{}", collection_path(key), encode(&key.name))
}

/// The HTTP client requests go through, trusting `ca_bundle` (PEM) besides the system's roots.
fn http_client(ca_bundle: Option<&[u8]>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!(
            "terraform-provider-appmesh/",
            env!("CARGO_PKG_VERSION")
        ));
    if let Some(pem) = ca_bundle {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| anyhow::anyhow!("custom_ca_bundle is not a PEM bundle: {e}"))?;
        if certificates.is_empty() {
            anyhow::bail!("custom_ca_bundle holds no PEM certificate");
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

impl Client {
    /// A client for `endpoint` (scheme, host and port) that signs with fixed credentials.
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: Credentials,
        max_retries: u32,
    ) -> anyhow::Result<Self> {
        Self::with_credentials(
            endpoint,
            region,
            CachedCredentials::fixed(credentials),
            max_retries,
        )
    }

    /// A client that signs each request with the current credentials of `credentials`
    /// (cached, refreshed before they expire).
    pub fn with_credentials(
        endpoint: &str,
        region: &str,
        credentials: CachedCredentials,
        max_retries: u32,
    ) -> anyhow::Result<Self> {
        Ok(Client {
            http: http_client(None)?,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            credentials,
            max_retries,
        })
    }

    /// The same client trusting the PEM certificates of `ca_bundle` besides the system's
    /// (`custom_ca_bundle`, for a control plane serving HTTPS with a private CA).
    pub fn trusting(mut self, ca_bundle: &[u8]) -> anyhow::Result<Self> {
        self.http = http_client(Some(ca_bundle))?;
        Ok(self)
    }

    /// Sends one operation, retrying throttling, server errors and lost connections.
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut attempt = 0;
        loop {
            match self.send(method.clone(), path, query, body).await {
                Err(e) if e.retryable() && attempt < self.max_retries => {
                    attempt += 1;
                    let backoff = Duration::from_millis(100 * 2u64.pow(attempt.min(6)));
                    tracing::debug!(%e, attempt, ?backoff, "retrying");
                    tokio::time::sleep(backoff).await;
                }
                Err(ApiError::Transport(why)) if attempt > 0 => {
                    let tries = attempt + 1;
                    return Err(ApiError::Transport(format!("{why}; tried {tries} times")));
                }
                other => return other,
            }
        }
    }

    async fn send(
        &self,
        method: http::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut url = format!("{}{path}", self.endpoint);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        let payload = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .body(payload)
            .map_err(|e| ApiError::Transport(format!("building the request: {e}")))?;
        let credentials = self
            .credentials
            .get()
            .await
            .map_err(ApiError::Credentials)?;
        self.sign(&mut request, credentials)?;
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
            .map_err(|e| ApiError::Transport(format!("building the request: {e}")))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| ApiError::Transport(self.unreachable(&e)))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let text = response
            .text()
            .await
            .map_err(|e| ApiError::Transport(format!("{e:#}")))?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(json);
        }
        let message = json
            .get("message")
            .or_else(|| json.get("Message"))
            .and_then(Value::as_str)
            .map_or_else(|| json.to_string(), str::to_owned);
        let code = error_type
            .or_else(|| {
                json.get("__type")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(ApiError::Service {
            status,
            code,
            message,
        })
    }

    /// Why a request got no answer, in words a user can act on: the endpoint and the
    /// innermost causes (connection refused, a DNS failure, a TLS certificate problem, a
    /// timeout) rather than reqwest's "error sending request".
    fn unreachable(&self, e: &reqwest::Error) -> String {
        let mut causes: Vec<String> = Vec::new();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            let text = cause.to_string();
            source = cause.source();
            // hyper's "client error (Connect)" only says which stage failed.
            if text.starts_with("client error (") {
                continue;
            }
            // Wrappers often repeat their cause's text; keep the most specific words.
            causes.retain(|c| !text.contains(c.as_str()));
            if !causes.iter().any(|c| c.contains(&text)) {
                causes.push(text);
            }
        }
        let why = if causes.is_empty() {
            e.to_string()
        } else {
            causes.join(": ")
        };
        let what = if e.is_timeout() {
            "no answer in time from"
        } else if e.is_connect() {
            "cannot connect to"
        } else {
            "lost the connection to"
        };
        format!("{what} the App Mesh API at {} ({why})", self.endpoint)
    }

    fn sign(
        &self,
        request: &mut http::Request<Vec<u8>>,
        credentials: Credentials,
    ) -> Result<(), ApiError> {
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("appmesh")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ApiError::Transport(format!("signing: {e}")))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(request.body()),
        )
        .map_err(|e| ApiError::Transport(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| ApiError::Transport(format!("signing: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection-per-answer HTTP server on 127.0.0.1:0 that answers from a script and
    /// hands back every request it saw.
    async fn scripted(
        answers: Vec<(u16, &'static str, &'static str)>,
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for (status, error_type, body) in answers {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0u8; 16 * 1024];
                let n = socket.read(&mut buf).await.expect("read");
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let extra = if error_type.is_empty() {
                    String::new()
                } else {
                    format!("x-amzn-ErrorType: {error_type}\r\n")
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(reply.as_bytes()).await.expect("write");
            }
            seen
        });
        (endpoint, task)
    }

    fn client(endpoint: &str, retries: u32) -> Client {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        Client::new(endpoint, "eu-west-3", creds, retries).expect("client")
    }

    #[tokio::test]
    async fn requests_are_sigv4_signed_for_appmesh() {
        let (endpoint, server) = scripted(vec![(200, "", r#"{"meshes":[]}"#)]).await;
        let answer = client(&endpoint, 0)
            .call(
                http::Method::GET,
                "/v20190125/meshes",
                &[("limit", "5")],
                None,
            )
            .await;
        assert_eq!(answer.expect("ok"), serde_json::json!({"meshes": []}));
        let request = server.await.expect("server").remove(0).to_ascii_lowercase();
        assert!(
            request.starts_with("get /v20190125/meshes?limit=5 http/1.1"),
            "{request}"
        );
        assert!(
            request.contains("authorization: aws4-hmac-sha256 credential=akidexample/"),
            "{request}"
        );
        assert!(
            request.contains("/eu-west-3/appmesh/aws4_request"),
            "{request}"
        );
        assert!(request.contains("x-amz-date:"), "{request}");
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_then_reported() {
        let (endpoint, server) = scripted(vec![
            (
                429,
                "TooManyRequestsException",
                r#"{"message":"slow down"}"#,
            ),
            (503, "ServiceUnavailableException", r#"{"message":"later"}"#),
            (200, "", r#"{"ok":true}"#),
        ])
        .await;
        let answer = client(&endpoint, 3)
            .call(http::Method::GET, "/x", &[], None)
            .await;
        assert_eq!(
            answer.expect("third time lucky"),
            serde_json::json!({"ok": true})
        );
        assert_eq!(server.await.expect("server").len(), 3);

        let (endpoint, _server) = scripted(vec![(
            404,
            "NotFoundException",
            r#"{"message":"mesh x not found"}"#,
        )])
        .await;
        let err = client(&endpoint, 3)
            .call(http::Method::GET, "/x", &[], None)
            .await
            .expect_err("404");
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), "NotFoundException: mesh x not found");

        let (endpoint, server) = scripted(vec![
            (500, "InternalServerErrorException", "{}"),
            (
                500,
                "InternalServerErrorException",
                r#"{"message":"still"}"#,
            ),
        ])
        .await;
        let err = client(&endpoint, 1)
            .call(http::Method::GET, "/x", &[], None)
            .await
            .expect_err("gives up");
        assert_eq!(err.to_string(), "InternalServerErrorException: still");
        assert_eq!(server.await.expect("server").len(), 2);
    }

    #[test]
    fn paths_follow_the_api_model() {
        let route = ResourceKey {
            kind: Kind::Route,
            mesh: "apps".into(),
            parent: Some("r".into()),
            name: "x y".into(),
        };
        assert_eq!(
            item_path(&route),
            "/v20190125/meshes/apps/virtualRouter/r/routes/x%20y"
        );
        let gr = ResourceKey {
            kind: Kind::GatewayRoute,
            mesh: "apps".into(),
            parent: Some("gw".into()),
            name: "g".into(),
        };
        assert_eq!(
            collection_path(&gr),
            "/v20190125/meshes/apps/virtualGateway/gw/gatewayRoutes"
        );
        assert_eq!(
            item_path(&ResourceKey::mesh("apps")),
            "/v20190125/meshes/apps"
        );
        let vs = ResourceKey::in_mesh(Kind::VirtualService, "apps", "b.apps.local");
        assert_eq!(
            item_path(&vs),
            "/v20190125/meshes/apps/virtualServices/b.apps.local"
        );
    }
}
