//! Property tests of the model's validation and the control plane's request parsing:
//!
//! - arbitrary JSON, and JSON generated from the model's shapes (mostly valid, sometimes
//!   not), through `validate::validate` and `Spec::parse`: never a panic; what passes the shape
//!   deserialises (never "is malformed"); what parses round-trips;
//! - arbitrary names: `rules::validate_name` agrees with what the control plane answers for the
//!   same name in a URI (mesh, parent, item) and in a Create body;
//! - arbitrary bytes as request bodies and query values: never a 5xx, every error in the API's
//!   shape.
//!
//! Case counts are fixed (a few hundred per property) so the file runs in seconds;
//! `PROPTEST_CASES` raises them for a longer local run.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use appmesh_control_plane::access::{Access, AccessHandle};
use appmesh_control_plane::config::Settings;
use appmesh_control_plane::gate::Gate;
use appmesh_control_plane::service::Service;
use appmesh_model::shape::Shape;
use appmesh_model::{rules, validate, Kind, Path, Spec};
use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;

fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // A failure is reported with its minimal input; no regression files in the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

// === generators ===

/// Strings that the rules care about, next to ordinary ones.
fn arb_text(max: usize) -> BoxedStrategy<String> {
    let specials = [
        "",
        ".",
        "..",
        "/",
        "/a",
        "a/b",
        "\u{0}",
        " ",
        "(?=a)",
        "a++",
        "[",
        "*.local",
        "spiffe://sweep/ns/a",
        "aws.app-mesh.x",
        "/aws-appmesh",
        "server-error",
        "stream-error",
        "serviceb.apps.local",
    ];
    prop_oneof![
        6 => "[a-z][a-z0-9.-]{0,12}",
        2 => "/[a-z0-9./*-]{0,12}",
        2 => prop::sample::select(specials.to_vec()).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => Just("x".repeat(max + 1)),
    ]
    .boxed()
}

/// A value of the wrong kind for almost any shape.
fn arb_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ]
    .boxed()
}

fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

/// JSON shaped like `shape`: mostly well-formed, with missing members, wrong types, values
/// out of range and unknown members mixed in.
fn arb_for(shape: &'static Shape) -> BoxedStrategy<Value> {
    let typed: BoxedStrategy<Value> = match shape {
        Shape::Structure(_) => {
            let members: Vec<BoxedStrategy<Option<(String, Value)>>> = shape
                .members()
                .iter()
                .map(|m| {
                    let name = m.wire_name().into_owned();
                    let present = if m.required { 0.9 } else { 0.4 };
                    prop::option::weighted(present, arb_for(m.shape))
                        .prop_map(move |v| v.map(|v| (name.clone(), v)))
                        .boxed()
                })
                .collect();
            let unknown = prop::option::weighted(0.05, ("[a-z]{1,8}", arb_leaf()));
            (members, unknown)
                .prop_map(|(pairs, unknown)| object(pairs.into_iter().flatten().chain(unknown)))
                .boxed()
        }
        Shape::Union(_) => {
            let alternatives: Vec<BoxedStrategy<Value>> = shape
                .members()
                .iter()
                .map(|m| {
                    let name = m.wire_name().into_owned();
                    arb_for(m.shape)
                        .prop_map(move |v| object([(name.clone(), v)]))
                        .boxed()
                })
                .collect();
            let one = prop::strategy::Union::new(alternatives);
            prop_oneof![
                9 => one.clone().boxed(),
                1 => (one.clone(), one).prop_map(|(a, b)| {
                    let (Value::Object(mut a), Value::Object(b)) = (a, b) else { unreachable!() };
                    a.extend(b);
                    Value::Object(a)
                }).boxed(),
                1 => Just(json!({})).boxed(),
            ]
            .boxed()
        }
        Shape::List(l) => {
            let most = l.max.map_or(3, |max| max.min(3));
            prop::collection::vec(arb_for(l.item), 0..=most)
                .prop_map(Value::Array)
                .boxed()
        }
        Shape::String(t) => arb_text(t.max.unwrap_or(64).min(4096))
            .prop_map(Value::String)
            .boxed(),
        Shape::Enum(e) => {
            let values: Vec<&'static str> = e.values.iter().map(|(v, _)| *v).collect();
            prop_oneof![
                9 => prop::sample::select(values).prop_map(|v| json!(v)),
                1 => Just(json!("NOT_A_VALUE")),
            ]
            .boxed()
        }
        Shape::Integer(i) => {
            let (min, max) = (i.min, i.max);
            prop_oneof![
                6 => (min..=max).prop_map(|n| json!(n)),
                1 => Just(json!(min)),
                1 => Just(json!(max)),
                1 => Just(json!(min.saturating_sub(1))),
                1 => Just(json!(max.saturating_add(1))),
                1 => Just(json!(1.5)),
            ]
            .boxed()
        }
        Shape::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Shape::Timestamp => (0.0..2e9f64).prop_map(|f| json!(f)).boxed(),
    };
    prop_oneof![19 => typed, 1 => arb_leaf()].boxed()
}

/// Arbitrary JSON whose keys are often the model's member names.
fn arb_json() -> BoxedStrategy<Value> {
    let keys = prop_oneof![
        prop::sample::select(vec![
            "spec",
            "listeners",
            "portMapping",
            "port",
            "protocol",
            "httpRoute",
            "match",
            "prefix",
            "action",
            "weightedTargets",
            "virtualNode",
            "weight",
            "meshName",
            "virtualNodeName",
            "tags",
            "key",
            "value",
            "serviceDiscovery",
            "dns",
            "hostname",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ];
    arb_leaf()
        .prop_recursive(6, 96, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(object),
            ]
        })
        .boxed()
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

// === the model ===

/// What a shape accepts deserialises, and what parses round-trips.
fn check_spec(kind: Kind, value: &Value) -> Result<(), TestCaseError> {
    let path = Path::root().key("spec");
    let shape_ok = validate::validate(kind.spec_shape(), value, &path).is_empty();
    match Spec::parse(kind, value, &path) {
        Ok(spec) => {
            prop_assert!(shape_ok);
            let again = Spec::parse(kind, &spec.to_value(), &path);
            prop_assert_eq!(again.as_ref().ok(), Some(&spec), "{} round trip", kind);
        }
        Err(violations) => {
            prop_assert!(!violations.is_empty());
            for v in &violations {
                prop_assert!(
                    !v.problem.starts_with("is malformed"),
                    "{}: shape-valid JSON failed to deserialise: {}",
                    kind,
                    v
                );
            }
        }
    }
    Ok(())
}

#[test]
fn specs_from_the_shapes_validate_parse_and_round_trip() {
    let mut runner = TestRunner::new(config(512));
    let strategy = arb_kind().prop_flat_map(|k| (Just(k), arb_for(k.spec_shape())));
    runner
        .run(&strategy, |(kind, value)| check_spec(kind, &value))
        .unwrap();
}

#[test]
fn arbitrary_json_never_panics_the_validator() {
    let mut runner = TestRunner::new(config(512));
    runner
        .run(&(arb_kind(), arb_json()), |(kind, value)| {
            for shape in [kind.create_shape(), kind.update_shape(), kind.spec_shape()] {
                let _ = validate::validate(shape, &value, &Path::root());
            }
            check_spec(kind, &value)?;
            if let Some(spec) = value.get("spec") {
                check_spec(kind, spec)?;
            }
            Ok(())
        })
        .unwrap();
}

// === the control plane, in process ===

struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

/// Status, `x-amzn-ErrorType`, and the message of an error body.
struct Answer {
    status: u16,
    error: Option<String>,
    message: Option<String>,
    json_error: bool,
}

impl Api {
    /// The router over a fresh store, with signatures not checked (`--insecure-dev`): the
    /// properties are about parsing, not authentication.
    fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::default();
        let store = common::open_store(dir.path(), &settings.account_id);
        let access = Arc::new(AccessHandle::fixed(Access::default()));
        let gate = Gate::new(access.clone(), &settings.region, &settings.account_id).insecure(true);
        let service = Service::new(store, settings, access);
        let router = appmesh_control_plane::api::app(service, Arc::new(gate));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Api {
            runtime,
            router,
            _dir: dir,
        }
    }

    fn call(&self, method: Method, uri: &str, body: Vec<u8>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let error = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let json_type = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/json");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
            Answer {
                status,
                error,
                json_error: json_type && message.is_some(),
                message,
            }
        })
    }
}

/// Every byte percent-encoded but unreserved ASCII.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn check_error_shape(what: &str, a: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(a.status < 500, "{}: a server error {}", what, a.status);
    if a.status >= 400 {
        prop_assert!(
            a.error.is_some(),
            "{}: {} without x-amzn-ErrorType",
            what,
            a.status
        );
        prop_assert!(
            a.json_error,
            "{}: {} without a JSON message",
            what,
            a.status
        );
    }
    Ok(())
}

/// The control plane's answer for a name agrees with `rules::validate_name`: a 400 naming the
/// member if the model refuses it, and otherwise the 404 of a name that does not exist.
fn agrees(
    api: &Api,
    kind: Kind,
    member: &str,
    name: &str,
    a: &Answer,
) -> Result<(), TestCaseError> {
    check_error_shape(member, a)?;
    let refused = !rules::validate_name(kind, name, &Path::root().key(member)).is_empty();
    if refused {
        prop_assert_eq!(
            a.status,
            400,
            "{} {:?} is refused by the model",
            member,
            name
        );
        let message = a.message.as_deref().unwrap_or_default();
        prop_assert!(
            message.contains(member),
            "{} {:?}: {}",
            member,
            name,
            message
        );
    } else {
        prop_assert_eq!(
            (a.status, a.error.as_deref()),
            (404, Some("NotFoundException")),
            "{} {:?} is a valid name: {:?}",
            member,
            name,
            a.message
        );
    }
    let _ = api;
    Ok(())
}

fn arb_name() -> BoxedStrategy<String> {
    let odd = prop_oneof![
        Just('\u{0}'),
        Just('\u{7f}'),
        Just('\u{85}'),
        Just('\u{a0}'),
        Just('\u{2028}'),
        Just('\u{200b}'),
        Just(' '),
        Just('\t'),
        Just('/'),
        Just('.'),
        Just('-'),
        Just('_'),
        Just('é'),
        any::<char>(),
    ];
    let plain = prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::char::range('0', '9')
    ];
    let mixed = prop::collection::vec(prop_oneof![8 => plain, 2 => odd], 1..40)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    prop_oneof![
        4 => "[a-zA-Z0-9][a-zA-Z0-9._-]{0,30}",
        4 => mixed,
        1 => prop::sample::select(vec![".", "..", "...", ".a", "a.", " ", "a b"]).prop_map(str::to_owned),
        1 => (250usize..=260).prop_map(|n| "n".repeat(n)),
        1 => any::<String>().prop_filter("a name", |s| !s.is_empty()),
    ]
    .boxed()
}

#[test]
fn names_get_the_same_answer_in_the_model_and_in_every_uri() {
    let api = Api::new();
    let created = api.call(
        Method::PUT,
        "/v20190125/meshes",
        json!({"meshName": "m"}).to_string().into_bytes(),
    );
    assert_eq!(created.status, 200, "{:?}", created.message);
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&arb_name(), |name| {
            // The one name that exists.
            prop_assume!(name != "m");
            let n = encode(&name);
            let get = |uri: String| api.call(Method::GET, &uri, Vec::new());
            agrees(
                &api,
                Kind::Mesh,
                "meshName",
                &name,
                &get(format!("/v20190125/meshes/{n}")),
            )?;
            agrees(
                &api,
                Kind::VirtualNode,
                "virtualNodeName",
                &name,
                &get(format!("/v20190125/meshes/m/virtualNodes/{n}")),
            )?;
            agrees(
                &api,
                Kind::VirtualService,
                "virtualServiceName",
                &name,
                &get(format!("/v20190125/meshes/m/virtualServices/{n}")),
            )?;
            agrees(
                &api,
                Kind::VirtualRouter,
                "virtualRouterName",
                &name,
                &get(format!("/v20190125/meshes/m/virtualRouter/{n}/routes")),
            )?;
            agrees(
                &api,
                Kind::Mesh,
                "meshName",
                &name,
                &get(format!("/v20190125/meshes/{n}/virtualGateways")),
            )?;
            // In a Create body (in a mesh that does not exist, so nothing is written).
            for kind in [Kind::VirtualNode, Kind::VirtualRouter, Kind::VirtualService] {
                let body = json!({kind.name_member(): name, "spec": {}});
                let uri = format!("/v20190125/meshes/nomesh/{}", kind.collection());
                let a = api.call(Method::PUT, &uri, body.to_string().into_bytes());
                agrees(&api, kind, kind.name_member(), &name, &a)?;
            }
            // The model agrees with itself: the CreateMesh body's shape and `check_name` (what
            // `Service::create` runs) refuse exactly these names.
            let in_body = validate::validate(
                Kind::Mesh.create_shape(),
                &json!({"meshName": name}),
                &Path::root(),
            );
            let in_body = in_body.is_empty()
                && rules::check_name(Kind::Mesh, &name, &Path::root().key("meshName")).is_empty();
            let by_rule = rules::validate_name(Kind::Mesh, &name, &Path::root().key("meshName"));
            prop_assert_eq!(in_body, by_rule.is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bodies_and_queries_get_an_api_error_or_an_answer() {
    let api = Api::new();
    let bodies = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..512),
        3 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        3 => arb_for(Kind::VirtualNode.create_shape()).prop_map(|v| v.to_string().into_bytes()),
        2 => (arb_for(Kind::Route.update_shape()), any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(v, at, byte)| {
                let mut bytes = v.to_string().into_bytes();
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
                bytes
            }),
    ];
    let mut runner = TestRunner::new(config(256));
    runner
        .run(
            &(bodies, any::<String>(), any::<String>()),
            |(body, limit, token)| {
                // Meshes that do not exist: whatever passes validation is a 404, nothing is written.
                for (method, uri) in [
                    (
                        Method::PUT,
                        "/v20190125/meshes/nomesh/virtualNodes".to_owned(),
                    ),
                    (
                        Method::PUT,
                        "/v20190125/meshes/nomesh/virtualRouter/r/routes/x".to_owned(),
                    ),
                    (Method::PUT, "/v20190125/meshes/nomesh".to_owned()),
                    (
                        Method::PUT,
                        format!(
                            "/v20190125/tag?resourceArn={}",
                            encode("arn:aws:appmesh:us-east-1:123456789012:mesh/nomesh")
                        ),
                    ),
                ] {
                    let a = api.call(method, &uri, body.clone());
                    check_error_shape(&uri, &a)?;
                }
                let uri = format!(
                    "/v20190125/meshes?limit={}&nextToken={}",
                    encode(&limit),
                    encode(&token)
                );
                let a = api.call(Method::GET, &uri, Vec::new());
                check_error_shape(&uri, &a)?;
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn plain_rejections_get_the_api_error_shape() {
    use appmesh_control_plane::error::shape_errors;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let shaped = |status: StatusCode, text: &'static str| {
        runtime.block_on(async {
            let response = shape_errors((status, text).into_response()).await;
            let status = response.status().as_u16();
            let error = response
                .headers()
                .get("x-amzn-errortype")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, error, serde_json::from_slice::<Value>(&bytes).ok())
        })
    };
    let (status, error, body) = shaped(StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded");
    assert_eq!(status, 413);
    assert_eq!(error.as_deref(), Some("RequestEntityTooLargeException"));
    assert_eq!(body.unwrap()["message"], "length limit exceeded");
    let (status, error, body) = shaped(StatusCode::UNSUPPORTED_MEDIA_TYPE, "");
    assert_eq!(
        (status, error.as_deref()),
        (415, Some("BadRequestException"))
    );
    assert_eq!(body.unwrap()["message"], "Unsupported Media Type");
    // A server error's own text is not sent.
    let (status, error, body) = shaped(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Missing request extension: secret",
    );
    assert_eq!(
        (status, error.as_deref()),
        (500, Some("InternalServerErrorException"))
    );
    assert_eq!(
        body.unwrap()["message"],
        "The server failed to process the request."
    );
    // Successes and answers that already have the shape are left alone.
    let (status, error, _) = shaped(StatusCode::OK, "fine");
    assert_eq!((status, error), (200, None));
    let conflict = appmesh_control_plane::error::ApiError::new(
        appmesh_control_plane::error::ErrorKind::Conflict,
        "taken",
    );
    let kept = runtime.block_on(shape_errors(conflict.into_response()));
    assert_eq!(kept.status(), StatusCode::CONFLICT);
    assert_eq!(kept.headers()["x-amzn-errortype"], "ConflictException");
}
