//! A small blocking client for the control plane's App Mesh REST API, used for
//! out-of-band checks (what did the provider really send?) and out-of-band changes
//! (delete an object behind Terraform's back).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;

/// An error answer from the API (any non-2xx status).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The `x-amzn-ErrorType` header, e.g. `NotFoundException`.
    pub error_type: Option<String>,
    /// The response body (normally `{"message": ...}`).
    pub body: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.status,
            self.error_type
                .as_deref()
                .unwrap_or("(no x-amzn-ErrorType)"),
            self.body
        )
    }
}

impl std::error::Error for ApiError {}

/// A REST client bound to one control plane, signing as one access key.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: Client,
    key: (String, String),
}

impl Api {
    /// A client for the control plane at `endpoint` (`http://127.0.0.1:PORT`), signing with
    /// the test key ([`crate::ACCESS_KEY`]).
    pub fn new(endpoint: &str) -> Api {
        Api::signing_as(endpoint, crate::ACCESS_KEY, crate::SECRET_KEY)
    }

    /// A client signing with another key.
    pub fn signing_as(endpoint: &str, access_key: &str, secret: &str) -> Api {
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client");
        Api {
            base: endpoint.trim_end_matches('/').to_owned(),
            http,
            key: (access_key.to_owned(), secret.to_owned()),
        }
    }

    /// Adds the SigV4 headers for `request` (region us-east-1, service appmesh).
    fn sign(&self, request: &mut reqwest::blocking::Request) {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let identity = aws_credential_types::Credentials::new(
            &self.key.0,
            &self.key.1,
            None,
            None,
            "acceptance",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(crate::checks::REGION)
            .name("appmesh")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing parameters")
            .into();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default()
            .to_vec();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let url = request.url().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )
        .expect("a signable request");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        for (name, value) in instructions.headers() {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                reqwest::header::HeaderValue::from_str(value).expect("header value"),
            );
        }
    }

    /// The control plane's base URL.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// Sends one request; `path` starts with `/v20190125/`.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url).query(query);
        if let Some(body) = body {
            req = req.json(body);
        }
        let mut request = req
            .build()
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        self.sign(&mut request);
        let resp = self
            .http
            .execute(request)
            .unwrap_or_else(|e| panic!("{method} {url}: transport error: {e}"));
        let status = resp.status();
        let error_type = resp
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp
            .text()
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        if !status.is_success() {
            return Err(ApiError {
                status: status.as_u16(),
                error_type,
                body: text,
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {url}: body is not JSON ({e}): {text}")))
    }

    /// `GET path`; panics unless the answer is 2xx.
    pub fn get(&self, path: &str) -> Value {
        self.request(Method::GET, path, &[], None)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET path`, `None` on a 404 `NotFoundException`; panics on any other error.
    pub fn try_get(&self, path: &str) -> Option<Value> {
        match self.request(Method::GET, path, &[], None) {
            Ok(v) => Some(v),
            Err(e) if e.status == 404 => None,
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// `DELETE path`; panics unless the answer is 2xx.
    pub fn delete(&self, path: &str) -> Value {
        self.request(Method::DELETE, path, &[], None)
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// `PUT path` with a JSON body; panics unless the answer is 2xx.
    pub fn put(&self, path: &str, body: &Value) -> Value {
        self.request(Method::PUT, path, &[], Some(body))
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    /// The tags on `arn` (ListTagsForResource, all pages) as a map.
    pub fn tags(&self, arn: &str) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("resourceArn", arn)];
            if let Some(t) = &token {
                query.push(("nextToken", t.as_str()));
            }
            let page = self
                .request(Method::GET, "/v20190125/tags", &query, None)
                .unwrap_or_else(|e| panic!("ListTagsForResource {arn}: {e}"));
            for tag in page["tags"].as_array().into_iter().flatten() {
                tags.insert(
                    tag["key"].as_str().unwrap_or_default().to_owned(),
                    tag["value"].as_str().unwrap_or_default().to_owned(),
                );
            }
            match page["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return tags,
            }
        }
    }

    /// The names of all meshes (ListMeshes, all pages).
    pub fn mesh_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = Vec::new();
            if let Some(t) = &token {
                query.push(("nextToken", t.as_str()));
            }
            let page = self
                .request(Method::GET, "/v20190125/meshes", &query, None)
                .unwrap_or_else(|e| panic!("ListMeshes: {e}"));
            for mesh in page["meshes"].as_array().into_iter().flatten() {
                names.push(mesh["meshName"].as_str().unwrap_or_default().to_owned());
            }
            match page["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return names,
            }
        }
    }
}

/// API paths of the seven resource kinds (Describe/Update/Delete URIs).
pub mod paths {
    /// `/v20190125/meshes/{mesh}`
    pub fn mesh(mesh: &str) -> String {
        format!("/v20190125/meshes/{mesh}")
    }

    /// `/v20190125/meshes/{mesh}/virtualServices/{name}`
    pub fn virtual_service(mesh: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualServices/{name}")
    }

    /// `/v20190125/meshes/{mesh}/virtualNodes/{name}`
    pub fn virtual_node(mesh: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualNodes/{name}")
    }

    /// `/v20190125/meshes/{mesh}/virtualRouters/{name}`
    pub fn virtual_router(mesh: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualRouters/{name}")
    }

    /// `/v20190125/meshes/{mesh}/virtualRouter/{router}/routes/{name}` (singular segment).
    pub fn route(mesh: &str, router: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualRouter/{router}/routes/{name}")
    }

    /// `/v20190125/meshes/{mesh}/virtualGateways/{name}`
    pub fn virtual_gateway(mesh: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualGateways/{name}")
    }

    /// `/v20190125/meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes/{name}` (singular segment).
    pub fn gateway_route(mesh: &str, gateway: &str, name: &str) -> String {
        format!("/v20190125/meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes/{name}")
    }
}
