//! Tests of the description, the validator and the rules against the wire format.

use serde_json::{json, Value};

use crate::{Kind, Path, Spec};

fn problems(kind: Kind, spec: Value) -> Vec<String> {
    match Spec::parse(kind, &spec, &Path::root().key("spec")) {
        Ok(_) => Vec::new(),
        Err(v) => v.iter().map(ToString::to_string).collect(),
    }
}

fn node(listener: Value) -> Value {
    json!({"listeners": [listener], "serviceDiscovery": {"dns": {"hostname": "b.apps.local"}}})
}

#[test]
fn the_guide_examples_are_accepted_and_round_trip() {
    let cases = [
        (Kind::Mesh, json!({})),
        (
            Kind::Mesh,
            json!({"egressFilter": {"type": "ALLOW_ALL"}, "serviceDiscovery": {"ipPreference": "IPv6_PREFERRED"}}),
        ),
        (Kind::VirtualService, json!({})),
        (
            Kind::VirtualService,
            json!({"provider": {"virtualRouter": {"virtualRouterName": "serviceB"}}}),
        ),
        (
            Kind::VirtualNode,
            json!({
                "backends": [{"virtualService": {"virtualServiceName": "serviceb.apps.local"}}],
                "listeners": [{"portMapping": {"port": 80, "protocol": "http2"}}],
                "serviceDiscovery": {"dns": {"hostname": "servicea.apps.local"}},
                "logging": {"accessLog": {"file": {"path": "/dev/stdout", "format": {"json": [{"key": "code", "value": "%RESPONSE_CODE%"}]}}}}
            }),
        ),
        (
            Kind::VirtualRouter,
            json!({"listeners": [{"portMapping": {"port": 80, "protocol": "http2"}}]}),
        ),
        // An httpRoute on an http2 router and weights that do not add up to 100 are both fine.
        (
            Kind::Route,
            json!({"httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNode": "serviceB", "weight": 1}]}}}),
        ),
        (
            Kind::Route,
            json!({"grpcRoute": {
            "action": {"weightedTargets": [{"virtualNode": "nodeName", "weight": 100}]},
            "match": {"metadata": [{"invert": false, "match": {"prefix": "123"}, "name": "myMetadata"}],
                      "methodName": "nameOfmethod", "serviceName": "serviceA.svc.cluster.local"},
            "retryPolicy": {"grpcRetryEvents": ["deadline-exceeded"], "httpRetryEvents": ["server-error", "gateway-error"],
                            "maxRetries": 3, "perRetryTimeout": {"unit": "s", "value": 15}, "tcpRetryEvents": ["connection-error"]}},
            "priority": 100}),
        ),
        (
            Kind::VirtualGateway,
            json!({"listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}]}),
        ),
        (
            Kind::GatewayRoute,
            json!({"httpRoute": {"match": {"prefix": "/"}, "action": {"target": {"virtualService": {"virtualServiceName": "serviceA.svc.cluster.local"}}}}}),
        ),
    ];
    for (kind, value) in cases {
        let spec = Spec::parse(kind, &value, &Path::root().key("spec"))
            .unwrap_or_else(|v| panic!("{kind}: {v:?}"));
        assert_eq!(spec.to_value(), value, "{kind} round trip");
    }
}

#[test]
fn shape_violations_name_the_member() {
    let p = problems(
        Kind::VirtualNode,
        node(json!({"portMapping": {"port": 70000, "protocol": "http"}})),
    );
    assert_eq!(
        p,
        ["spec.listeners[0].portMapping.port must be between 1 and 65535 (found 70000)"]
    );

    let p = problems(
        Kind::VirtualNode,
        node(json!({"portMapping": {"port": 80, "protocol": "https"}})),
    );
    assert_eq!(
        p,
        [
            r#"spec.listeners[0].portMapping.protocol must be one of http, tcp, http2, grpc (found "https")"#
        ]
    );

    let p = problems(
        Kind::Route,
        json!({"tcpRoute": {"action": {"weightedTargets": [{"virtualNode": "a", "weight": 101}]}}}),
    );
    assert_eq!(
        p,
        ["spec.tcpRoute.action.weightedTargets[0].weight must be between 0 and 100 (found 101)"]
    );

    let p = problems(
        Kind::VirtualNode,
        json!({"serviceDiscovery": {"dns": {"hostname": "a"}, "awsCloudMap": {"namespaceName": "n", "serviceName": "s"}}}),
    );
    assert_eq!(p, ["spec.serviceDiscovery.dns cannot be set together with awsCloudMap (set exactly one of awsCloudMap, dns)"]);

    let p = problems(
        Kind::VirtualRouter,
        json!({"listeners": [{"portMapping": {"port": 80}}], "colour": 1}),
    );
    assert!(
        p.contains(&"spec.listeners[0].portMapping.protocol is required".to_owned()),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("spec.colour is not a member of VirtualRouterSpec")),
        "{p:?}"
    );

    let p = problems(
        Kind::VirtualRouter,
        json!({"listeners": [{"portMapping": {"port": 8.5, "protocol": "http"}}]}),
    );
    assert_eq!(
        p,
        ["spec.listeners[0].portMapping.port must be a whole number (found a fractional number)"]
    );

    let targets: Vec<Value> = (0..11)
        .map(|i| json!({"virtualNode": format!("n{i}"), "weight": 1}))
        .collect();
    let p = problems(
        Kind::Route,
        json!({"tcpRoute": {"action": {"weightedTargets": targets}}}),
    );
    assert_eq!(
        p,
        ["spec.tcpRoute.action.weightedTargets must have between 1 and 10 items (found 11)"]
    );
}

#[test]
fn service_rules_are_enforced() {
    let target = json!({"weightedTargets": [{"virtualNode": "a", "weight": 1}]});
    let cases = [
        (Kind::Route, json!({}), "spec must set exactly one of grpcRoute, http2Route, httpRoute, tcpRoute"),
        (Kind::Route, json!({"httpRoute": {"match": {"prefix": "/"}, "action": target}, "tcpRoute": {"action": target}}),
            "spec.tcpRoute cannot be set together with httpRoute (set exactly one of grpcRoute, http2Route, httpRoute, tcpRoute)"),
        (Kind::Route, json!({"httpRoute": {"match": {"prefix": "api"}, "action": target}}), "spec.httpRoute.match.prefix must start with /"),
        (Kind::Route, json!({"grpcRoute": {"match": {"methodName": "Get"}, "action": target}}), "spec.grpcRoute.match.serviceName is required when methodName is set"),
        (Kind::Route, json!({"httpRoute": {"match": {"headers": [{"name": "x", "match": {"regex": "^a(?!b)"}}]}, "action": target}}),
            "spec.httpRoute.match.headers[0].match.regex is not a valid RE2 regular expression"),
        (Kind::Route, json!({"httpRoute": {"match": {"prefix": "/"}, "action": target, "retryPolicy": {"maxRetries": 1, "perRetryTimeout": {"unit": "s", "value": 1}, "httpRetryEvents": ["503"]}}}),
            "spec.httpRoute.retryPolicy.httpRetryEvents[0] must be one of server-error"),
        (Kind::Route, json!({"httpRoute": {"match": {"prefix": "/"}, "action": target, "retryPolicy": {"maxRetries": 1, "perRetryTimeout": {"value": 1}}}}),
            "spec.httpRoute.retryPolicy.perRetryTimeout.unit is required"),
        (Kind::GatewayRoute, json!({"httpRoute": {"match": {"prefix": "/aws-appmesh/x"}, "action": {"target": {"virtualService": {"virtualServiceName": "s"}}}}}),
            "spec.httpRoute.match.prefix is reserved"),
        (Kind::GatewayRoute, json!({"grpcRoute": {"match": {"serviceName": "aws.appmesh.Foo"}, "action": {"target": {"virtualService": {"virtualServiceName": "s"}}}}}),
            "spec.grpcRoute.match.serviceName is reserved"),
        (Kind::GatewayRoute, json!({"httpRoute": {"match": {"path": {"exact": "/a"}}, "action": {"target": {"virtualService": {"virtualServiceName": "s"}}, "rewrite": {"prefix": {"value": "/b"}}}}}),
            "spec.httpRoute.action.rewrite.prefix needs a prefix match"),
        (Kind::VirtualNode, node(json!({"portMapping": {"port": 80, "protocol": "http"}, "connectionPool": {"tcp": {"maxConnections": 1}}})),
            "spec.listeners[0].connectionPool.tcp does not fit the listener's protocol http"),
        (Kind::VirtualNode, json!({"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}, {"portMapping": {"port": 80, "protocol": "tcp"}}]}),
            "spec.listeners[1].portMapping.port repeats port 80"),
        (Kind::VirtualNode, json!({"backendDefaults": {"clientPolicy": {"tls": {"validation": {"trust": {"file": {"certificateChain": "/c"}}, "subjectAlternativeNames": {"match": {"exact": ["*.apps.local"]}}}}}}}),
            "spec.backendDefaults.clientPolicy.tls.validation.subjectAlternativeNames.match.exact[0] cannot hold a wildcard"),
    ];
    for (kind, spec, expected) in cases {
        let p = problems(kind, spec);
        assert!(
            p.iter().any(|m| m.starts_with(expected)),
            "{kind}: expected {expected:?}, got {p:?}"
        );
    }
    // A wildcard is fine when the policy does not enforce TLS.
    assert!(problems(Kind::VirtualNode, json!({"backendDefaults": {"clientPolicy": {"tls": {"enforce": false,
        "validation": {"trust": {"file": {"certificateChain": "/c"}}, "subjectAlternativeNames": {"match": {"exact": ["*.apps.local", "spiffe://apps/b"]}}}}}}})).is_empty());
}

#[test]
fn router_names_allow_only_letters_digits_hyphens_underscores() {
    let path = Path::root().key("virtualRouterName");
    assert!(crate::rules::check_name(Kind::VirtualRouter, "my-router_apps", &path).is_empty());
    assert_eq!(
        crate::rules::check_name(Kind::VirtualRouter, "a.b", &path).len(),
        1
    );
    assert!(crate::rules::check_name(Kind::VirtualService, "a.b", &path).is_empty());
    for kind in Kind::ALL {
        assert_eq!(
            crate::rules::check_name(kind, "a/virtualNode/x", &path).len(),
            1,
            "{kind}"
        );
    }
}

#[test]
fn names_refuse_control_characters_whitespace_and_path_steps() {
    use crate::rules::validate_name;
    let long = "n".repeat(255);
    let good = [
        "serviceb.apps.local",
        "my-mesh",
        "serviceB",
        "a",
        "servicea.simpleapp.local",
        "..a",
        "a..b",
        ".hidden",
        "tf-acc-3f9c01ab",
        "ünïcødé",
        long.as_str(),
    ];
    for kind in Kind::ALL {
        let path = Path::root().key(kind.name_member());
        for name in good {
            // Virtual router names keep their own, narrower character rule.
            if kind == Kind::VirtualRouter
                && name.contains(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            {
                continue;
            }
            assert!(
                validate_name(kind, name, &path).is_empty(),
                "{kind} {name:?}"
            );
        }
        let huge = "v".repeat(1 << 20);
        let bad = [
            "",
            ".",
            "..",
            "a b",
            " a",
            "a\tb",
            "a\nb",
            "a\0b",
            "\0",
            "a\u{7f}",
            "a\u{85}b",
            "a\u{a0}b",
            "a\u{2028}b",
            "a\u{9b}b",
            "a/b",
            "a/virtualNode/x",
        ];
        for name in bad.iter().copied().chain([&*"n".repeat(256), &*huge]) {
            let v = validate_name(kind, name, &path);
            assert_eq!(
                v.len(),
                1,
                "{kind} {:?}: {v:?}",
                name.get(..40).unwrap_or(name)
            );
            assert!(v[0].to_string().starts_with(kind.name_member()), "{v:?}");
        }
    }
    // The message says what is wrong.
    let v = validate_name(
        Kind::VirtualService,
        "a\0b",
        &Path::root().key("virtualServiceName"),
    );
    assert_eq!(
        v[0].to_string(),
        "virtualServiceName must contain no whitespace or control characters and not be . or .."
    );
    let v = validate_name(
        Kind::Mesh,
        &"m".repeat(1 << 20),
        &Path::root().key("meshName"),
    );
    assert!(
        v[0].to_string()
            .starts_with("meshName must have between 1 and 255 characters"),
        "{v:?}"
    );
}

#[test]
fn names_in_specs_follow_the_name_rules() {
    let cases = [
        (
            Kind::VirtualService,
            json!({"provider": {"virtualNode": {"virtualNodeName": ".."}}}),
            "spec.provider.virtualNode.virtualNodeName must contain no whitespace",
        ),
        (
            Kind::VirtualNode,
            json!({"backends": [{"virtualService": {"virtualServiceName": "a b"}}]}),
            "spec.backends[0].virtualService.virtualServiceName must contain no whitespace",
        ),
        (
            Kind::VirtualNode,
            json!({"backends": [{"virtualService": {"virtualServiceName": "s".repeat(256)}}]}),
            "spec.backends[0].virtualService.virtualServiceName must have between 1 and 255",
        ),
        (
            Kind::Route,
            json!({"httpRoute": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"virtualNode": "a\u{0}", "weight": 1}]}}}),
            "spec.httpRoute.action.weightedTargets[0].virtualNode must contain no whitespace",
        ),
    ];
    for (kind, spec, expected) in cases {
        let p = problems(kind, spec);
        assert!(
            p.iter().any(|m| m.starts_with(expected)),
            "{kind}: expected {expected:?}, got {p:?}"
        );
    }
}

/// Every string shape a request or an answer can carry, with the path of the first member
/// that reaches it.
fn strings(
    shape: &'static crate::shape::Shape,
    path: String,
    out: &mut Vec<(String, &'static crate::shape::Text)>,
    seen: &mut Vec<*const crate::shape::Shape>,
) {
    use crate::shape::Shape;
    if seen.contains(&(shape as *const Shape)) {
        return;
    }
    seen.push(shape);
    match shape {
        Shape::Structure(_) | Shape::Union(_) => {
            for m in shape.members() {
                strings(m.shape, format!("{path}.{}", m.wire_name()), out, seen);
            }
        }
        Shape::List(l) => strings(l.item, format!("{path}[]"), out, seen),
        Shape::String(t) => out.push((path, t)),
        _ => {}
    }
}

#[test]
fn every_string_in_the_model_is_bounded() {
    use crate::resource::*;
    use crate::shape::Described;
    let mut roots: Vec<(String, &'static crate::shape::Shape)> = Vec::new();
    for kind in Kind::ALL {
        roots.push((format!("Create{}", kind.api_name()), kind.create_shape()));
        roots.push((format!("Update{}", kind.api_name()), kind.update_shape()));
        roots.push((format!("{}Name", kind.api_name()), kind.name_shape()));
    }
    roots.extend([
        ("TagResource".to_owned(), TagResourceBody::SHAPE),
        ("UntagResource".to_owned(), UntagResourceBody::SHAPE),
        ("MeshData".to_owned(), MeshData::SHAPE),
        ("VirtualServiceData".to_owned(), VirtualServiceData::SHAPE),
        ("VirtualNodeData".to_owned(), VirtualNodeData::SHAPE),
        ("VirtualRouterData".to_owned(), VirtualRouterData::SHAPE),
        ("RouteData".to_owned(), RouteData::SHAPE),
        ("VirtualGatewayData".to_owned(), VirtualGatewayData::SHAPE),
        ("GatewayRouteData".to_owned(), GatewayRouteData::SHAPE),
        ("ResourceRef".to_owned(), ResourceRef::SHAPE),
    ]);
    let mut found = Vec::new();
    let mut seen = Vec::new();
    for (name, shape) in roots {
        strings(shape, name, &mut found, &mut seen);
    }
    assert!(found.len() > 30, "{}", found.len());
    let unbounded: Vec<&str> = found
        .iter()
        .filter(|(_, t)| t.max.is_none_or(|max| max > 2048))
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        unbounded.is_empty(),
        "strings without a sensible maximum: {unbounded:?}"
    );
}

#[test]
fn null_members_are_absent_in_unions_too() {
    // The validator treats a null member as left out; deserialising must agree.
    let spec =
        json!({"provider": {"virtualNode": null, "virtualRouter": {"virtualRouterName": "r"}}});
    assert!(problems(Kind::VirtualService, spec).is_empty());
    let spec = json!({"serviceDiscovery": {"awsCloudMap": null, "dns": {"hostname": "a.local", "responseType": null}}});
    assert!(problems(Kind::VirtualNode, spec).is_empty());
}
