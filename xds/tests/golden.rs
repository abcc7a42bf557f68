//! Golden tests of the translation: each directory under `tests/golden/` holds a mesh as the
//! API takes it (`mesh.json`: the specs of every resource, the proxy's `node.id`, and
//! optionally `cloudMap`, the Cloud Map instances the control plane is given) and the
//! Envoy resources that proxy must get (`expected.json`, the proto3 JSON of Envoy's own
//! `config_dump`).
//!
//! After a deliberate change, `UPDATE_GOLDEN=1 cargo test -p appmesh-xds --test golden`
//! rewrites the expected files; review the diff like code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use appmesh_model::{Kind, Path as ApiPath, Spec};
use appmesh_xds::envoy::Typed;
use appmesh_xds::{translate, CloudMap, MeshSnapshot, Proxy, Resources};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{json, Map, Value};

fn pool() -> DescriptorPool {
    let path = env!("APPMESH_XDS_DESCRIPTORS");
    assert!(
        !path.is_empty(),
        "the descriptor set of envoy-types 0.5.6 (src/generated/types.bin) was not found in \
         CARGO_HOME's registry; set APPMESH_XDS_DESCRIPTORS to its path"
    );
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    DescriptorPool::decode(bytes.as_slice()).expect("envoy-types' descriptor set decodes")
}

/// A message as Envoy's `config_dump` prints it, `Any` expanded, defaults left out.
fn to_json<M: Typed>(pool: &DescriptorPool, m: &M) -> Value {
    let name = M::TYPE_URL.trim_start_matches("type.googleapis.com/");
    let desc = pool
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} is in the descriptor set"));
    let dynamic = DynamicMessage::decode(desc, m.encode_to_vec().as_slice()).expect("decodes");
    let options = SerializeOptions::new().skip_default_fields(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .expect("serialises")
}

fn render(pool: &DescriptorPool, r: &Resources) -> Value {
    json!({
        "listeners": r.listeners.iter().map(|m| to_json(pool, m)).collect::<Vec<_>>(),
        "clusters": r.clusters.iter().map(|m| to_json(pool, m)).collect::<Vec<_>>(),
        "routes": r.routes.iter().map(|m| to_json(pool, m)).collect::<Vec<_>>(),
        "endpoints": r.endpoints.iter().map(|m| to_json(pool, m)).collect::<Vec<_>>(),
    })
}

fn spec(kind: Kind, value: &Value, at: &str) -> Spec {
    Spec::parse(kind, value, &ApiPath::root().key(at))
        .unwrap_or_else(|v| panic!("{at} is not a valid {kind} spec: {v:?}"))
}

fn specs<T>(
    input: &Value,
    member: &str,
    kind: Kind,
    pick: fn(Spec) -> Option<T>,
) -> BTreeMap<String, T> {
    let empty = Map::new();
    input[member]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(name, value)| {
            let s = spec(kind, value, &format!("{member}.{name}"));
            (name.clone(), pick(s).expect("the kind asked for"))
        })
        .collect()
}

/// Routes or gateway routes: `{"<parent>": {"<name>": spec}}`.
fn children<T>(
    input: &Value,
    member: &str,
    kind: Kind,
    pick: fn(Spec) -> Option<T>,
) -> BTreeMap<String, BTreeMap<String, T>> {
    let empty = Map::new();
    input[member]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(parent, by_name)| {
            let by_name = by_name
                .as_object()
                .unwrap_or_else(|| panic!("{member}.{parent} is an object"))
                .iter()
                .map(|(name, value)| {
                    let s = spec(kind, value, &format!("{member}.{parent}.{name}"));
                    (name.clone(), pick(s).expect("the kind asked for"))
                })
                .collect();
            (parent.clone(), by_name)
        })
        .collect()
}

/// The snapshot and the proxy described by a case's `mesh.json`.
fn load(input: &Value) -> (MeshSnapshot, Proxy) {
    let mesh_name = input["mesh"]["name"]
        .as_str()
        .expect("mesh.name")
        .to_string();
    let Spec::Mesh(mesh_spec) = spec(Kind::Mesh, &input["mesh"]["spec"], "mesh.spec") else {
        unreachable!()
    };
    let routes = children(input, "routes", Kind::Route, |s| match s {
        Spec::Route(r) => Some(r),
        _ => None,
    });
    let gateway_routes = children(input, "gatewayRoutes", Kind::GatewayRoute, |s| match s {
        Spec::GatewayRoute(r) => Some(r),
        _ => None,
    });
    let snapshot = MeshSnapshot {
        name: mesh_name,
        spec: mesh_spec,
        virtual_services: specs(
            input,
            "virtualServices",
            Kind::VirtualService,
            |s| match s {
                Spec::VirtualService(v) => Some(v),
                _ => None,
            },
        ),
        virtual_nodes: specs(input, "virtualNodes", Kind::VirtualNode, |s| match s {
            Spec::VirtualNode(v) => Some(v),
            _ => None,
        }),
        virtual_routers: specs(input, "virtualRouters", Kind::VirtualRouter, |s| match s {
            Spec::VirtualRouter(v) => Some(v),
            _ => None,
        }),
        routes,
        virtual_gateways: specs(
            input,
            "virtualGateways",
            Kind::VirtualGateway,
            |s| match s {
                Spec::VirtualGateway(v) => Some(v),
                _ => None,
            },
        ),
        gateway_routes,
        cloud_map: std::sync::Arc::new(match input.get("cloudMap") {
            Some(file) => CloudMap::parse(&file.to_string())
                .unwrap_or_else(|e| panic!("cloudMap is not a valid instance list: {e}")),
            None => CloudMap::default(),
        }),
    };
    let mut proxy = Proxy::from_node_id(input["proxy"]["nodeId"].as_str().expect("proxy.nodeId"))
        .expect("a valid node id");
    if let Some(port) = input["proxy"]["ingressPort"].as_u64() {
        proxy.ingress_port = port as u32;
    }
    if let Some(port) = input["proxy"]["egressPort"].as_u64() {
        proxy.egress_port = port as u32;
    }
    (snapshot, proxy)
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/golden exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("mesh.json").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no golden cases under {}", root.display());
    dirs
}

#[test]
fn every_case_translates_to_its_golden_file() {
    let pool = pool();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for dir in cases() {
        let input: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("mesh.json")).expect("mesh.json reads"),
        )
        .expect("mesh.json is JSON");
        let (snapshot, proxy) = load(&input);
        let resources = translate(&snapshot, &proxy).expect("the proxy is served");
        // The translation is pure: the same input gives the same bytes.
        assert_eq!(resources, translate(&snapshot, &proxy).expect("again"));
        let got = render(&pool, &resources);
        let text = serde_json::to_string_pretty(&got).expect("prints") + "\n";
        let expected_path = dir.join("expected.json");
        if update {
            std::fs::write(&expected_path, &text).expect("writes expected.json");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            let actual = dir.join("actual.json");
            std::fs::write(&actual, &text).expect("writes actual.json");
            failures.push(format!(
                "{}: differs from expected.json (got {}; diff them, or rerun with UPDATE_GOLDEN=1)",
                dir.display(),
                actual.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unknown_node_or_mesh_is_not_served() {
    let input = json!({"mesh": {"name": "apps", "spec": {}}, "proxy": {"nodeId": "mesh/apps/virtualNode/ghost"}});
    let (snapshot, proxy) = load(&input);
    let err = translate(&snapshot, &proxy).expect_err("no such node");
    assert_eq!(
        err.to_string(),
        "mesh \"apps\" has no virtual node named \"ghost\""
    );

    let other = Proxy::from_node_id("mesh/other/virtualNode/web").expect("valid");
    let err = translate(&snapshot, &other).expect_err("no such mesh");
    assert_eq!(err.to_string(), "mesh \"other\" does not exist");
}
