//! In-process tests of the HTTP surface: the router driven as a tower service over a real
//! SQLite store in a temporary directory (or a schema of the test PostgreSQL). They cover the rules the AWS clients cannot reach
//! (botocore checks some inputs before sending) and the exact wire details.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use appmesh_control_plane::access::{Access, AccessHandle};
use appmesh_control_plane::config::Settings;
use appmesh_control_plane::gate::Gate;
use appmesh_control_plane::service::Service;
use appmesh_control_plane::sigv4::Signer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt as _;

const KEY: &str = "AKIDINPROCESS";
const SECRET: &str = "in-process-secret";

struct Api {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

/// A response: status, error type header, JSON body.
struct Answer {
    status: StatusCode,
    error: Option<String>,
    body: Value,
}

impl Api {
    fn new() -> Self {
        Self::with(Settings::default())
    }

    fn with(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = common::open_store(dir.path(), &settings.account_id);
        let keys = format!(
            "[[keys]]\naccess_key_id = \"{KEY}\"\nsecret_access_key = \"{SECRET}\"\naccount = \"{}\"\nprincipal = \"tests\"\n",
            settings.account_id
        );
        let access = Arc::new(AccessHandle::fixed(
            Access::parse(&keys, std::path::Path::new(".")).unwrap(),
        ));
        let gate = Gate::new(access.clone(), &settings.region, &settings.account_id);
        let service = Service::new(store, settings, access);
        let router = appmesh_control_plane::api::app(service, Arc::new(gate));
        Api { router, _dir: dir }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<&str>) -> Answer {
        let body = body.unwrap_or("").to_owned();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut headers = vec![
            ("host".to_owned(), "localhost".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Signer {
            access_key_id: KEY,
            secret: SECRET,
            session_token: None,
            region: "us-east-1",
            service: "appmesh",
        }
        .sign(
            method.as_str(),
            path,
            query,
            &mut headers,
            body.as_bytes(),
            now,
        );
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let request = request.body(Body::from(body)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let error = response
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(response.headers()["content-type"], "application/json");
        let request_id = response.headers()["x-amzn-requestid"].to_str().unwrap();
        assert_eq!(
            request_id.len(),
            36,
            "a fresh uuid per answer: {request_id:?}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            error,
            body,
        }
    }

    async fn put(&self, uri: &str, body: Value) -> Answer {
        self.call(Method::PUT, uri, Some(&body.to_string())).await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, None).await
    }

    async fn delete(&self, uri: &str) -> Answer {
        self.call(Method::DELETE, uri, None).await
    }

    async fn ok(&self, answer: Answer) -> Value {
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body
    }

    /// Mesh `apps` with nodes `a` (one listener) and `b` (two listeners) and a router `r`.
    async fn seed(&self) {
        self.ok(self
            .put("/v20190125/meshes", json!({"meshName": "apps"}))
            .await)
            .await;
        let one = json!({"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]});
        let two = json!({"listeners": [{"portMapping": {"port": 80, "protocol": "http"}},
                                       {"portMapping": {"port": 81, "protocol": "http"}}]});
        self.ok(self
            .put(
                "/v20190125/meshes/apps/virtualNodes",
                json!({"virtualNodeName": "a", "spec": one}),
            )
            .await)
            .await;
        self.ok(self
            .put(
                "/v20190125/meshes/apps/virtualNodes",
                json!({"virtualNodeName": "b", "spec": two}),
            )
            .await)
            .await;
        self.ok(self
            .put(
                "/v20190125/meshes/apps/virtualRouters",
                json!({"virtualRouterName": "r", "spec": one}),
            )
            .await)
            .await;
    }
}

fn assert_error(answer: &Answer, status: u16, code: &str, mentions: &str) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    assert_eq!(answer.error.as_deref(), Some(code), "{:?}", answer.body);
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains(mentions),
        "message {message:?} should mention {mentions:?}"
    );
}

fn route(targets: Value) -> Value {
    json!({"httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": targets}}})
}

#[tokio::test]
async fn bodies_are_bare_data_and_lists_are_refs() {
    let api = Api::new();
    let mesh = api
        .ok(api
            .put("/v20190125/meshes", json!({"meshName": "apps"}))
            .await)
        .await;
    assert_eq!(mesh["meshName"], "apps");
    assert_eq!(mesh["spec"], json!({}));
    assert_eq!(mesh["status"], json!({"status": "ACTIVE"}));
    let meta = &mesh["metadata"];
    assert_eq!(
        meta["arn"],
        "arn:aws:appmesh:us-east-1:123456789012:mesh/apps"
    );
    assert_eq!(meta["version"], 1);
    assert!(meta["createdAt"].is_f64() || meta["createdAt"].is_u64());
    assert_eq!(
        (meta["meshOwner"].as_str(), meta["resourceOwner"].as_str()),
        (Some("123456789012"), Some("123456789012"))
    );
    let list = api.ok(api.get("/v20190125/meshes").await).await;
    let item = &list["meshes"][0];
    assert_eq!(item["arn"], meta["arn"]);
    assert!(
        item.get("uid").is_none() && item.get("spec").is_none() && item.get("status").is_none()
    );
    assert!(list.get("nextToken").is_none());
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_field() {
    let api = Api::new();
    api.seed().await;
    let cases = [
        (api.call(Method::PUT, "/v20190125/meshes", Some("{\"meshName\": ")).await, "not valid JSON"),
        (api.put("/v20190125/meshes", json!({"meshName": "x".repeat(256)})).await, "meshName must have between 1 and 255 characters"),
        (api.put("/v20190125/meshes", json!({})).await, "meshName is required"),
        (api.put("/v20190125/meshes", json!({"meshName": "m", "spec": {"egressFilter": {"type": "SOME"}}})).await, "spec.egressFilter.type must be one of ALLOW_ALL, DROP_ALL"),
        (api.get("/v20190125/meshes?limit=abc").await, "limit"),
        (api.get("/v20190125/meshes?limit=0").await, "limit"),
        (api.get("/v20190125/meshes?limit=101").await, "limit"),
        (api.get("/v20190125/meshes?nextToken=garbage").await, "nextToken"),
        (api.get("/v20190125/meshes/apps?meshOwner=12").await, "meshOwner"),
        (api.put("/v20190125/meshes/apps/virtualRouters", json!({"virtualRouterName": "a.b", "spec": {}})).await, "virtualRouterName must contain only"),
        (api.put("/v20190125/meshes/apps/virtualRouter/r/routes", json!({"routeName": "x", "spec": route(json!([{"virtualNode": "a", "weight": 101}]))})).await, "weight must be between 0 and 100"),
        (api.put("/v20190125/meshes/apps/virtualNodes", json!({"virtualNodeName": "n", "spec": {"listeners": [{"portMapping": {"port": 80, "protocol": "https"}}]}})).await, "protocol must be one of"),
        (api.put("/v20190125/meshes/apps/virtualNodes/a", json!({"spec": {"listeners": [{"portMapping": {"port": 70000, "protocol": "http"}}]}})).await, "spec.listeners[0].portMapping.port"),
        (api.get(&format!("/v20190125/meshes/apps/virtualNodes/{}", "n".repeat(256))).await, "virtualNodeName"),
        (api.put("/v20190125/tag?resourceArn=nope", json!({"tags": []})).await, "resourceArn"),
    ];
    for (answer, mentions) in &cases {
        assert_error(answer, 400, "BadRequestException", mentions);
    }
}

#[tokio::test]
async fn missing_things_are_404_and_duplicates_409() {
    let api = Api::new();
    assert_error(
        &api.get("/v20190125/meshes/nope").await,
        404,
        "NotFoundException",
        "mesh nope not found",
    );
    assert_error(
        &api.get("/v20190125/meshes/nope/virtualNodes").await,
        404,
        "NotFoundException",
        "mesh nope",
    );
    api.seed().await;
    assert_error(
        &api.get("/v20190125/meshes/apps/virtualRouter/zz/routes")
            .await,
        404,
        "NotFoundException",
        "virtual router zz",
    );
    assert_error(
        &api.delete("/v20190125/meshes/apps/virtualNodes/zz").await,
        404,
        "NotFoundException",
        "virtual node zz",
    );
    assert_error(
        &api.get("/v20190125/meshes/apps?meshOwner=111111111111")
            .await,
        404,
        "NotFoundException",
        "111111111111",
    );
    assert_error(
        &api.put("/v20190125/meshes", json!({"meshName": "apps"}))
            .await,
        409,
        "ConflictException",
        "mesh apps already exists",
    );
    let route_to_ghost =
        json!({"routeName": "x", "spec": route(json!([{"virtualNode": "ghost", "weight": 1}]))});
    assert_error(
        &api.put(
            "/v20190125/meshes/apps/virtualRouter/r/routes",
            route_to_ghost,
        )
        .await,
        404,
        "NotFoundException",
        "weightedTargets[0].virtualNode",
    );
    let unknown = api
        .call(Method::POST, "/v20190125/meshes", Some("{}"))
        .await;
    assert_eq!(unknown.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        api.get("/v20190125/nothing").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deletes_refuse_while_something_depends_on_the_resource() {
    let api = Api::new();
    api.seed().await;
    let r = "/v20190125/meshes/apps/virtualRouter/r/routes";
    api.ok(api
        .put(
            r,
            json!({"routeName": "x", "spec": route(json!([{"virtualNode": "a", "weight": 100}]))}),
        )
        .await)
        .await;
    api.ok(api.put("/v20190125/meshes/apps/virtualServices", json!({"virtualServiceName": "s.apps.local", "spec": {"provider": {"virtualRouter": {"virtualRouterName": "r"}}}})).await).await;
    api.ok(api.put("/v20190125/meshes/apps/virtualGateways", json!({"virtualGatewayName": "gw", "spec": {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}})).await).await;
    api.ok(api.put("/v20190125/meshes/apps/virtualGateway/gw/gatewayRoutes", json!({"gatewayRouteName": "g", "spec": {"httpRoute": {"match": {"prefix": "/"}, "action": {"target": {"virtualService": {"virtualServiceName": "s.apps.local"}}}}}})).await).await;

    assert_error(
        &api.delete("/v20190125/meshes/apps").await,
        409,
        "ResourceInUseException",
        "mesh apps is in use",
    );
    assert_error(
        &api.delete("/v20190125/meshes/apps/virtualNodes/a").await,
        409,
        "ResourceInUseException",
        "route x of virtual router r",
    );
    assert_error(
        &api.delete("/v20190125/meshes/apps/virtualRouters/r").await,
        409,
        "ResourceInUseException",
        "route x",
    );
    assert_error(
        &api.delete("/v20190125/meshes/apps/virtualServices/s.apps.local")
            .await,
        409,
        "ResourceInUseException",
        "gateway route g",
    );
    assert_error(
        &api.delete("/v20190125/meshes/apps/virtualGateways/gw")
            .await,
        409,
        "ResourceInUseException",
        "gateway route g",
    );

    // Re-pointing the route frees node a; the references follow updates.
    api.ok(api
        .put(
            &format!("{r}/x"),
            json!({"spec": route(json!([{"virtualNode": "b", "weight": 1, "port": 81}]))}),
        )
        .await)
        .await;
    let deleted = api
        .ok(api.delete("/v20190125/meshes/apps/virtualNodes/a").await)
        .await;
    assert_eq!(deleted["status"]["status"], "DELETED");
    assert_eq!(deleted["metadata"]["version"], 1);

    for uri in [
        "/v20190125/meshes/apps/virtualGateway/gw/gatewayRoutes/g",
        "/v20190125/meshes/apps/virtualGateways/gw",
        "/v20190125/meshes/apps/virtualServices/s.apps.local",
        "/v20190125/meshes/apps/virtualRouter/r/routes/x",
        "/v20190125/meshes/apps/virtualRouters/r",
        "/v20190125/meshes/apps/virtualNodes/b",
        "/v20190125/meshes/apps",
    ] {
        api.ok(api.delete(uri).await).await;
    }
    assert_eq!(
        api.ok(api.get("/v20190125/meshes").await).await,
        json!({"meshes": []})
    );
}

#[tokio::test]
async fn several_listeners_demand_ports() {
    let api = Api::new();
    api.seed().await;
    let r = "/v20190125/meshes/apps/virtualRouter/r/routes";
    // Node b has two listeners: a target on it needs a port, and the port must exist.
    assert_error(
        &api.put(
            r,
            json!({"routeName": "x", "spec": route(json!([{"virtualNode": "b", "weight": 1}]))}),
        )
        .await,
        400,
        "BadRequestException",
        "weightedTargets[0].port is required because virtual node b in mesh apps has 2 listeners",
    );
    assert_error(&api.put(r, json!({"routeName": "x", "spec": route(json!([{"virtualNode": "b", "weight": 1, "port": 82}]))})).await,
        400, "BadRequestException", "82 is not a listener port");
    api.ok(api.put(r, json!({"routeName": "x", "spec": route(json!([{"virtualNode": "b", "weight": 1, "port": 81}]))})).await).await;
    // A router with two listeners needs a port match.
    let two = json!({"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}, {"portMapping": {"port": 81, "protocol": "http"}}]});
    api.ok(api
        .put(
            "/v20190125/meshes/apps/virtualRouters",
            json!({"virtualRouterName": "r2", "spec": two}),
        )
        .await)
        .await;
    assert_error(
        &api.put(
            "/v20190125/meshes/apps/virtualRouter/r2/routes",
            json!({"routeName": "y", "spec": route(json!([{"virtualNode": "a", "weight": 1}]))}),
        )
        .await,
        400,
        "BadRequestException",
        "spec.httpRoute.match.port is required because virtual router r2",
    );
}

#[tokio::test]
async fn versions_tokens_and_updates() {
    let api = Api::new();
    let create = json!({"meshName": "apps", "clientToken": "t-1"});
    let first = api
        .ok(api.put("/v20190125/meshes", create.clone()).await)
        .await;
    let again = api.ok(api.put("/v20190125/meshes", create).await).await;
    assert_eq!(first, again, "a retried create answers the same");
    assert_error(
        &api.put(
            "/v20190125/meshes",
            json!({"meshName": "other", "clientToken": "t-1"}),
        )
        .await,
        409,
        "ConflictException",
        "clientToken",
    );

    let update = json!({"spec": {"egressFilter": {"type": "ALLOW_ALL"}}, "clientToken": "u-1"});
    let v2 = api
        .ok(api.put("/v20190125/meshes/apps", update.clone()).await)
        .await;
    let v2_again = api
        .ok(api.put("/v20190125/meshes/apps", update).await)
        .await;
    assert_eq!(v2["metadata"]["version"], 2);
    assert_eq!(
        v2_again["metadata"]["version"], 2,
        "a retried update does not bump the version"
    );
    let v3 = api
        .ok(api.put("/v20190125/meshes/apps", json!({"spec": {}})).await)
        .await;
    assert_eq!(v3["metadata"]["version"], 3);
    assert_eq!(v3["metadata"]["uid"], first["metadata"]["uid"]);
    assert!(v3["metadata"]["lastUpdatedAt"].as_f64() >= v3["metadata"]["createdAt"].as_f64());
}

#[tokio::test]
async fn lists_page_with_opaque_tokens() {
    let api = Api::new();
    api.seed().await;
    for i in 0..7 {
        api.ok(api
            .put(
                "/v20190125/meshes/apps/virtualNodes",
                json!({"virtualNodeName": format!("n{i}"), "spec": {}}),
            )
            .await)
            .await;
    }
    let mut seen = Vec::new();
    let mut uri = "/v20190125/meshes/apps/virtualNodes?limit=1".to_owned();
    loop {
        let page = api.ok(api.get(&uri).await).await;
        let items = page["virtualNodes"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(
            items
                .iter()
                .map(|i| i["virtualNodeName"].as_str().unwrap().to_owned()),
        );
        match page.get("nextToken").and_then(Value::as_str) {
            Some(token) => {
                uri = format!("/v20190125/meshes/apps/virtualNodes?limit=1&nextToken={token}")
            }
            None => break,
        }
    }
    let expected: Vec<String> = ["a", "b", "n0", "n1", "n2", "n3", "n4", "n5", "n6"]
        .map(String::from)
        .into();
    assert_eq!(seen, expected);
    // A token from one list is refused by another.
    let page = api
        .ok(api.get("/v20190125/meshes/apps/virtualNodes?limit=1").await)
        .await;
    let token = page["nextToken"].as_str().unwrap();
    assert_error(
        &api.get(&format!(
            "/v20190125/meshes/apps/virtualRouters?nextToken={token}"
        ))
        .await,
        400,
        "BadRequestException",
        "nextToken",
    );
}

#[tokio::test]
async fn tags_and_quotas() {
    let mut settings = Settings::default();
    settings.quotas.meshes = 1;
    settings.quotas.backends_per_virtual_node = 1;
    let api = Api::with(settings);
    api.ok(api.put("/v20190125/meshes", json!({"meshName": "apps", "tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]})).await).await;
    assert_error(
        &api.put("/v20190125/meshes", json!({"meshName": "two"}))
            .await,
        400,
        "LimitExceededException",
        "meshes quota of 1",
    );
    let backends = json!([{"virtualService": {"virtualServiceName": "x"}}, {"virtualService": {"virtualServiceName": "y"}}]);
    assert_error(
        &api.put(
            "/v20190125/meshes/apps/virtualNodes",
            json!({"virtualNodeName": "n", "spec": {"backends": backends}}),
        )
        .await,
        400,
        "LimitExceededException",
        "backends-per-virtual-node",
    );

    let arn = "arn:aws:appmesh:us-east-1:123456789012:mesh/apps";
    let tags = |q: &str| format!("/v20190125/tags?resourceArn={arn}{q}");
    assert_eq!(
        api.ok(api.get(&tags("")).await).await,
        json!({"tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]})
    );
    api.ok(api
        .put(
            &format!("/v20190125/tag?resourceArn={arn}"),
            json!({"tags": [{"key": "a", "value": "one"}, {"key": "c", "value": ""}]}),
        )
        .await)
        .await;
    let page = api.ok(api.get(&tags("&limit=2")).await).await;
    assert_eq!(
        page["tags"],
        json!([{"key": "a", "value": "one"}, {"key": "b", "value": "2"}])
    );
    let next = api
        .ok(api
            .get(&tags(&format!(
                "&limit=2&nextToken={}",
                page["nextToken"].as_str().unwrap()
            )))
            .await)
        .await;
    assert_eq!(next, json!({"tags": [{"key": "c", "value": ""}]}));
    api.ok(api
        .put(
            &format!("/v20190125/untag?resourceArn={arn}"),
            json!({"tagKeys": ["a", "zzz"]}),
        )
        .await)
        .await;
    assert_eq!(
        api.ok(api.get(&tags("")).await).await["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let many: Vec<Value> = (0..49)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    assert_error(
        &api.put(
            &format!("/v20190125/tag?resourceArn={arn}"),
            json!({"tags": many}),
        )
        .await,
        400,
        "TooManyTagsException",
        "limit is 50",
    );
    assert_eq!(
        api.ok(api.get(&tags("")).await).await["tags"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "none applied"
    );
    let foreign = "arn:aws:appmesh:eu-west-1:123456789012:mesh/apps";
    assert_error(
        &api.get(&format!("/v20190125/tags?resourceArn={foreign}"))
            .await,
        404,
        "NotFoundException",
        "eu-west-1",
    );
    // Tagging does not change the version.
    assert_eq!(
        api.ok(api.get("/v20190125/meshes/apps").await).await["metadata"]["version"],
        1
    );
}
