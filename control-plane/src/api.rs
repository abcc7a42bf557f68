//! The HTTP surface: the 38 operations' methods and URIs, request parsing and JSON answers.
//!
//! [`app`] is the only wiring; tests drive it in memory or over a socket. Handlers parse the
//! URI, query and body, run the [`Service`] call on a blocking thread (storage waits on
//! fsync), and render either the JSON answer or the [`ApiError`].
//!
//! Beside the App Mesh operations it serves the operator's endpoints: `GET /healthz`,
//! `GET /metrics` (Prometheus text) and `GET /v1/proxies` (the proxies connected to the xDS
//! server), reading the [`Telemetry`] the gate was given.

use std::sync::Arc;

use appmesh_model::{Kind, ResourceKey};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Extension, Router};
use serde_json::Value;

use crate::access::Identity;
use crate::error::{ApiError, ErrorKind};
use crate::gate::{Gate, Operation};
use crate::metrics::Telemetry;
use crate::service::{action_name, mesh_space, Container, Query, Service, Verb};

const PREFIX: &str = "/v20190125";

/// The complete API as a router over `service`, behind `gate`.
pub fn app(service: Service, gate: Arc<Gate>) -> Router {
    let telemetry = gate.telemetry_handle().clone();
    let for_metrics = telemetry.clone();
    let mut router = Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route(
            "/metrics",
            only(MethodFilter::GET, move |s: State<Service>| {
                metrics(for_metrics.clone(), s)
            }),
        )
        .route(
            "/v1/proxies",
            only(MethodFilter::GET, move |c: Caller| {
                list_proxies(telemetry.clone(), c)
            }),
        )
        .route(
            &format!("{PREFIX}/tags"),
            only(MethodFilter::GET, list_tags),
        )
        .route(
            &format!("{PREFIX}/tag"),
            only(MethodFilter::PUT, tag_resource),
        )
        .route(
            &format!("{PREFIX}/untag"),
            only(MethodFilter::PUT, untag_resource),
        );
    for kind in Kind::ALL {
        let (collection, item) = uris(kind);
        router = router
            .route(
                &collection,
                on(
                    MethodFilter::GET,
                    move |s: State<Service>, c: Caller, p: Params, q: RawQuery| {
                        list(kind, s, c, p, q)
                    },
                )
                .on(
                    MethodFilter::PUT,
                    move |s: State<Service>, c: Caller, p: Params, q: RawQuery, b: Bytes| {
                        create(kind, s, c, p, q, b)
                    },
                )
                .fallback(method_not_allowed),
            )
            .route(
                &item,
                on(
                    MethodFilter::GET,
                    move |s: State<Service>, c: Caller, p: Params, q: RawQuery| {
                        describe(kind, s, c, p, q)
                    },
                )
                .on(
                    MethodFilter::PUT,
                    move |s: State<Service>, c: Caller, p: Params, q: RawQuery, b: Bytes| {
                        update(kind, s, c, p, q, b)
                    },
                )
                .on(
                    MethodFilter::DELETE,
                    move |s: State<Service>, c: Caller, p: Params, q: RawQuery| {
                        delete(kind, s, c, p, q)
                    },
                )
                .fallback(method_not_allowed),
            );
    }
    router
        .fallback(unknown_operation)
        .with_state(service)
        .layer(middleware::from_fn_with_state(gate, crate::gate::gate))
        // Outermost: every 4xx/5xx, an axum rejection included, leaves with the API's shape.
        .layer(middleware::map_response(crate::error::shape_errors))
}

/// The identity the gate verified.
type Caller = Extension<Arc<Identity>>;

/// The collection and item URIs of a kind, in axum's `:param` syntax.
fn uris(kind: Kind) -> (String, String) {
    let container = match kind {
        Kind::Mesh => PREFIX.to_owned(),
        Kind::Route => format!("{PREFIX}/meshes/:mesh/virtualRouter/:parent"),
        Kind::GatewayRoute => format!("{PREFIX}/meshes/:mesh/virtualGateway/:parent"),
        _ => format!("{PREFIX}/meshes/:mesh"),
    };
    let collection = format!("{container}/{}", kind.collection());
    // matchit wants one parameter name per position, so the mesh item reuses `:mesh`.
    let item = match kind {
        Kind::Mesh => format!("{collection}/:mesh"),
        _ => format!("{collection}/:name"),
    };
    (collection, item)
}

fn only<H, T>(filter: MethodFilter, handler: H) -> MethodRouter<Service>
where
    H: axum::handler::Handler<T, Service>,
    T: 'static,
{
    on(filter, handler).fallback(method_not_allowed)
}

type Params = Result<Path<Vec<(String, String)>>, axum::extract::rejection::PathRejection>;

/// The URI's mesh, parent and name parameters.
fn params(p: Params) -> Result<(Container, Option<String>), ApiError> {
    let Path(pairs) = p.map_err(|e| ApiError::bad_request(format!("invalid URI: {e}")))?;
    let mut container = Container::default();
    let mut name = None;
    for (k, v) in pairs {
        match k.as_str() {
            "mesh" => container.mesh = Some(v),
            "parent" => container.parent = Some(v),
            _ => name = Some(v),
        }
    }
    Ok((container, name))
}

fn item_key(kind: Kind, p: Params) -> Result<ResourceKey, ApiError> {
    let (container, name) = params(p)?;
    Ok(match kind {
        Kind::Mesh => ResourceKey::mesh(container.mesh.unwrap_or_default()),
        _ => ResourceKey {
            kind,
            mesh: container.mesh.unwrap_or_default(),
            parent: container.parent,
            name: name.unwrap_or_default(),
        },
    })
}

/// The query parameters the operations read; others are ignored.
fn query(raw: Option<String>) -> (Query, Option<String>) {
    let mut q = Query::default();
    let mut arn = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "meshOwner" => q.mesh_owner = Some(v),
            "limit" => q.limit = Some(v),
            "nextToken" => q.next_token = Some(v),
            "resourceArn" => arn = Some(v),
            _ => {}
        }
    }
    (q, arn)
}

/// The JSON body; an empty body is an empty object.
fn body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Runs a service call on what the request parsed into, off the async threads (storage
/// waits on fsync), and renders its answer; a parse failure is answered as it is. Reads of
/// a store whose reads are local run in place: handing them to a blocking thread and back
/// cost more than the read. The operation is left on the response for the audit log.
async fn run<T, A, F>(
    service: Service,
    op: Operation,
    parsed: Result<T, ApiError>,
    call: F,
) -> Response
where
    T: Send + 'static,
    A: Into<JsonText> + Send + 'static,
    F: FnOnce(&Service, T) -> Result<A, ApiError> + Send + 'static,
{
    let mut response = match parsed {
        Ok(input) => {
            let answer = if !op.mutating && service.reads_are_local() {
                call(&service, input)
            } else {
                tokio::task::spawn_blocking(move || call(&service, input))
                    .await
                    .unwrap_or_else(|e| {
                        Err(ApiError::internal(format_args!("request task failed: {e}")))
                    })
            };
            match answer {
                Ok(answer) => json_response(StatusCode::OK, answer.into().0),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(op);
    response
}

/// An answer's body: a JSON value rendered, or JSON text the service already holds.
struct JsonText(Bytes);

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        JsonText(Bytes::from(value.to_string()))
    }
}

impl From<Bytes> for JsonText {
    fn from(text: Bytes) -> Self {
        JsonText(text)
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The operation and the ARN it addresses (in the mesh owner's account).
fn operation(
    s: &Service,
    caller: &Identity,
    q: &Query,
    verb: Verb,
    kind: Kind,
    key: Option<&ResourceKey>,
) -> Operation {
    let own_only = kind == Kind::Mesh && matches!(verb, Verb::Create | Verb::List);
    let space = mesh_space(caller, q, own_only);
    Operation {
        action: action_name(verb, kind),
        resource: key.map(|k| s.arn(space, k)),
        mutating: matches!(verb, Verb::Create | Verb::Update | Verb::Delete),
    }
}

// === handlers: parse, then one service call ===

async fn create(
    kind: Kind,
    State(s): State<Service>,
    Extension(caller): Caller,
    p: Params,
    RawQuery(raw): RawQuery,
    b: Bytes,
) -> Response {
    let (q, _) = query(raw);
    let parsed = params(p).and_then(|(container, _)| Ok((container, body(&b)?)));
    let key = parsed.as_ref().ok().map(|(container, body)| {
        let name = body[kind.name_member()].as_str().unwrap_or_default();
        container.key_of(kind, name)
    });
    let op = operation(&s, &caller, &q, Verb::Create, kind, key.as_ref());
    run(s, op, parsed, move |s, (container, body)| {
        s.create(&caller, kind, &container, &q, &body)
    })
    .await
}

async fn describe(
    kind: Kind,
    State(s): State<Service>,
    Extension(caller): Caller,
    p: Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let (q, _) = query(raw);
    let key = item_key(kind, p);
    let op = operation(&s, &caller, &q, Verb::Describe, kind, key.as_ref().ok());
    run(s, op, key, move |s, key| s.describe(&caller, &key, &q)).await
}

async fn update(
    kind: Kind,
    State(s): State<Service>,
    Extension(caller): Caller,
    p: Params,
    RawQuery(raw): RawQuery,
    b: Bytes,
) -> Response {
    let (q, _) = query(raw);
    let parsed = item_key(kind, p).and_then(|key| Ok((key, body(&b)?)));
    let key = parsed.as_ref().ok().map(|(k, _)| k);
    let op = operation(&s, &caller, &q, Verb::Update, kind, key);
    run(s, op, parsed, move |s, (key, body)| {
        s.update(&caller, &key, &q, &body)
    })
    .await
}

async fn delete(
    kind: Kind,
    State(s): State<Service>,
    Extension(caller): Caller,
    p: Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let (q, _) = query(raw);
    let key = item_key(kind, p);
    let op = operation(&s, &caller, &q, Verb::Delete, kind, key.as_ref().ok());
    run(s, op, key, move |s, key| s.delete(&caller, &key, &q)).await
}

async fn list(
    kind: Kind,
    State(s): State<Service>,
    Extension(caller): Caller,
    p: Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let (q, _) = query(raw);
    let op = operation(&s, &caller, &q, Verb::List, kind, None);
    run(s, op, params(p), move |s, (container, _)| {
        s.list(&caller, kind, &container, &q)
    })
    .await
}

/// The operation of a tagging call on `arn`.
fn tag_operation(action: &str, arn: Option<&str>, mutating: bool) -> Operation {
    Operation {
        action: action.to_owned(),
        resource: arn.map(str::to_owned),
        mutating,
    }
}

async fn tag_resource(
    State(s): State<Service>,
    Extension(caller): Caller,
    RawQuery(raw): RawQuery,
    b: Bytes,
) -> Response {
    let (_, arn) = query(raw);
    let op = tag_operation("TagResource", arn.as_deref(), true);
    run(s, op, body(&b), move |s, body| {
        s.tag_resource(&caller, arn.as_deref(), &body)
    })
    .await
}

async fn untag_resource(
    State(s): State<Service>,
    Extension(caller): Caller,
    RawQuery(raw): RawQuery,
    b: Bytes,
) -> Response {
    let (_, arn) = query(raw);
    let op = tag_operation("UntagResource", arn.as_deref(), true);
    run(s, op, body(&b), move |s, body| {
        s.untag_resource(&caller, arn.as_deref(), &body)
    })
    .await
}

async fn list_tags(
    State(s): State<Service>,
    Extension(caller): Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let (q, arn) = query(raw);
    let op = tag_operation("ListTagsForResource", arn.as_deref(), false);
    run(s, op, Ok(()), move |s, ()| {
        s.list_tags(&caller, arn.as_deref(), &q)
    })
    .await
}

/// `GET /healthz`: whether the storage answers, and its newest committed revision (which
/// grows by one with every transaction that changes a resource).
async fn healthz(State(s): State<Service>) -> Response {
    let revision = s.revision();
    let healthy = tokio::task::spawn_blocking(move || s.healthy())
        .await
        .unwrap_or(false);
    if healthy {
        json_response(
            StatusCode::OK,
            format!(r#"{{"status":"ok","revision":{revision}}}"#),
        )
    } else {
        ApiError::new(ErrorKind::ServiceUnavailable, "storage is not answering").into_response()
    }
}

/// `GET /metrics`: every metric in Prometheus' text format (see [`crate::metrics`]).
async fn metrics(telemetry: Telemetry, State(s): State<Service>) -> Response {
    let mut r = (StatusCode::OK, telemetry.metrics.render(s.revision())).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    r
}

/// `GET /v1/proxies`: the proxies connected to the xDS server in the caller's account, those
/// whose resource its policies allow `appmesh:ListProxies` on (all of them without
/// policies), as `{"proxies": [ProxyEntry...]}`.
async fn list_proxies(telemetry: Telemetry, Extension(caller): Caller) -> Response {
    let visible: Vec<_> = telemetry
        .proxies
        .list()
        .into_iter()
        .filter(|p| p.account == caller.account)
        .filter(|p| {
            caller.policies.as_ref().is_none_or(|policies| {
                crate::policy::evaluate(policies, "appmesh:ListProxies", &p.arn)
                    == crate::policy::Decision::Allow
            })
        })
        .collect();
    let mut r = match serde_json::to_string(&serde_json::json!({ "proxies": visible })) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => ApiError::internal(format_args!("rendering the proxies: {e}")).into_response(),
    };
    r.extensions_mut().insert(Operation {
        action: "ListProxies".to_owned(),
        resource: None,
        mutating: false,
    });
    r
}

async fn method_not_allowed(method: Method) -> Response {
    let mut r = ApiError::new(
        ErrorKind::UnknownOperation,
        format!("no operation answers {method} on this URI"),
    )
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

async fn unknown_operation(method: Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        ErrorKind::UnknownOperation,
        format!("no operation answers {method} {}", uri.path()),
    )
    .into_response()
}
