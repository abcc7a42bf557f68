//! The App Mesh service guide's canonical lifecycle (mesh `apps`, services A and B, a weighted
//! route shifted from 75/25 to 0/100, an ingress gateway) driven through the strict Rust
//! `aws-sdk-appmesh` client against a freshly started control plane. It checks shapes,
//! ARNs, owners, versions, statuses, timestamps, typed errors, tags, pagination and the
//! dependency-ordered tear-down. A second test checks `clientToken` idempotency of creates
//! and updates.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use aws_sdk_appmesh::error::ProvideErrorMetadata;
use aws_sdk_appmesh::types::{
    Backend, DnsServiceDiscovery, EgressFilter, EgressFilterType, GatewayRouteSpec,
    GatewayRouteTarget, GatewayRouteVirtualService, HttpGatewayRoute, HttpGatewayRouteAction,
    HttpGatewayRouteMatch, Listener, MeshSpec, PortMapping, PortProtocol, RouteSpec,
    ServiceDiscovery, VirtualNodeSpec, VirtualRouterListener, VirtualRouterSpec,
    VirtualServiceBackend, VirtualServiceProvider, VirtualServiceSpec,
};
use common::{
    check_meta, gateway_spec, ok, route_spec, router_provider, service_error, tag, tags_of, Server,
};

const MESH: &str = "apps";

fn listener(port: i32) -> Listener {
    Listener::builder()
        .port_mapping(
            PortMapping::builder()
                .port(port)
                .protocol(PortProtocol::Http2)
                .build()
                .unwrap(),
        )
        .build()
}

fn node_spec(hostname: &str, backend: Option<&str>) -> VirtualNodeSpec {
    let mut spec = VirtualNodeSpec::builder()
        .listeners(listener(80))
        .service_discovery(ServiceDiscovery::Dns(
            DnsServiceDiscovery::builder()
                .hostname(hostname)
                .build()
                .unwrap(),
        ));
    if let Some(vs) = backend {
        spec = spec.backends(Backend::VirtualService(
            VirtualServiceBackend::builder()
                .virtual_service_name(vs)
                .build()
                .unwrap(),
        ));
    }
    spec.build()
}

fn node_provider(node: &str) -> VirtualServiceSpec {
    VirtualServiceSpec::builder()
        .provider(VirtualServiceProvider::VirtualNode(
            aws_sdk_appmesh::types::VirtualNodeServiceProvider::builder()
                .virtual_node_name(node)
                .build()
                .unwrap(),
        ))
        .build()
}

/// The weighted targets of a route's http2Route, as (node, weight) pairs.
fn weights_of(spec: Option<&RouteSpec>) -> Vec<(String, i32)> {
    let spec = spec.expect("route spec");
    assert!(spec.http_route().is_none(), "route grew an httpRoute");
    spec.http2_route()
        .and_then(|r| r.action())
        .expect("http2Route.action")
        .weighted_targets()
        .iter()
        .map(|t| (t.virtual_node().to_owned(), t.weight()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn canonical_lifecycle_through_the_rust_sdk() {
    let dir = common::data_dir();
    let server = Server::start(dir.path());
    let c = server.client();

    // ---- mesh -------------------------------------------------------------------------
    let mesh_spec = MeshSpec::builder()
        .egress_filter(
            EgressFilter::builder()
                .r#type(EgressFilterType::AllowAll)
                .build()
                .unwrap(),
        )
        .build();
    let out = ok(
        c.create_mesh()
            .mesh_name(MESH)
            .spec(mesh_spec.clone())
            .tags(tag("team", "core"))
            .send()
            .await,
        "create mesh",
    );
    let mesh = out.mesh().expect("mesh in body");
    assert_eq!(mesh.mesh_name(), MESH);
    let mesh_meta = check_meta("create mesh", mesh.metadata(), "mesh/apps", 1);
    assert_eq!(
        mesh.status().and_then(|s| s.status()).map(|s| s.as_str()),
        Some("ACTIVE")
    );
    assert_eq!(
        mesh.spec()
            .and_then(|s| s.egress_filter())
            .map(|f| f.r#type().as_str()),
        Some("ALLOW_ALL")
    );

    let err = service_error(
        c.create_mesh().mesh_name(MESH).send().await,
        "duplicate mesh",
    );
    assert!(err.is_conflict_exception(), "duplicate mesh: {err:?}");
    let err = service_error(
        c.describe_mesh().mesh_name("no-such-mesh").send().await,
        "describe missing mesh",
    );
    assert!(
        err.is_not_found_exception(),
        "describe missing mesh: {err:?}"
    );

    // ---- virtual service serviceb (empty spec) ----------------------------------------
    let out = ok(
        c.create_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("serviceb.apps.local")
            .spec(VirtualServiceSpec::builder().build())
            .send()
            .await,
        "create VS serviceb",
    );
    let vs = out.virtual_service().expect("VS in body");
    assert_eq!(vs.mesh_name(), MESH);
    assert_eq!(vs.virtual_service_name(), "serviceb.apps.local");
    let vsb_meta = check_meta(
        "create VS serviceb",
        vs.metadata(),
        "mesh/apps/virtualService/serviceb.apps.local",
        1,
    );
    assert_eq!(vs.status().unwrap().status().as_str(), "ACTIVE");
    assert!(vs.spec().and_then(|s| s.provider()).is_none());

    // ---- virtual nodes ----------------------------------------------------------------
    let mut node_meta = BTreeMap::new();
    for (name, host, backend) in [
        ("serviceB", "serviceb.apps.local", None),
        ("serviceBv2", "servicebv2.apps.local", None),
        (
            "serviceA",
            "servicea.apps.local",
            Some("serviceb.apps.local"),
        ),
    ] {
        let out = ok(
            c.create_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(name)
                .spec(node_spec(host, backend))
                .send()
                .await,
            &format!("create VN {name}"),
        );
        let vn = out.virtual_node().expect("VN in body");
        assert_eq!(vn.mesh_name(), MESH);
        assert_eq!(vn.virtual_node_name(), name);
        assert_eq!(vn.status().unwrap().status().as_str(), "ACTIVE");
        let meta = check_meta(
            &format!("create VN {name}"),
            vn.metadata(),
            &format!("mesh/apps/virtualNode/{name}"),
            1,
        );
        let spec = vn.spec().expect("VN spec");
        let pm = spec.listeners()[0].port_mapping().expect("portMapping");
        assert_eq!((pm.port(), pm.protocol().as_str()), (80, "http2"));
        assert_eq!(
            spec.service_discovery()
                .and_then(|d| d.as_dns().ok())
                .map(|d| d.hostname()),
            Some(host)
        );
        let backends: Vec<&str> = spec
            .backends()
            .iter()
            .map(|b| b.as_virtual_service().unwrap().virtual_service_name())
            .collect();
        assert_eq!(backends, backend.into_iter().collect::<Vec<_>>());
        node_meta.insert(name, meta);
    }

    let err = service_error(
        c.create_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceB")
            .spec(node_spec("serviceb.apps.local", None))
            .send()
            .await,
        "duplicate VN",
    );
    assert!(err.is_conflict_exception(), "duplicate VN: {err:?}");

    let err = service_error(
        c.create_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("bad-port")
            .spec(
                VirtualNodeSpec::builder()
                    .listeners(listener(70000))
                    .service_discovery(ServiceDiscovery::Dns(
                        DnsServiceDiscovery::builder()
                            .hostname("bad.apps.local")
                            .build()
                            .unwrap(),
                    ))
                    .build(),
            )
            .send()
            .await,
        "VN with port 70000",
    );
    assert!(err.is_bad_request_exception(), "port 70000: {err:?}");
    let msg = err.message().unwrap_or_default();
    assert!(
        msg.to_lowercase().contains("port"),
        "port 70000: message does not mention the port: {msg:?}"
    );
    let err = service_error(
        c.describe_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("bad-port")
            .send()
            .await,
        "describe rejected VN",
    );
    assert!(err.is_not_found_exception(), "rejected VN exists: {err:?}");

    // ---- virtual router and route -----------------------------------------------------
    let out = ok(
        c.create_virtual_router()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .spec(
                VirtualRouterSpec::builder()
                    .listeners(
                        VirtualRouterListener::builder()
                            .port_mapping(
                                PortMapping::builder()
                                    .port(80)
                                    .protocol(PortProtocol::Http2)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await,
        "create VR serviceB",
    );
    let vr = out.virtual_router().expect("VR in body");
    assert_eq!(vr.virtual_router_name(), "serviceB");
    assert_eq!(vr.status().unwrap().status().as_str(), "ACTIVE");
    let vr_meta = check_meta(
        "create VR",
        vr.metadata(),
        "mesh/apps/virtualRouter/serviceB",
        1,
    );
    let pm = vr.spec().unwrap().listeners()[0].port_mapping().unwrap();
    assert_eq!((pm.port(), pm.protocol().as_str()), (80, "http2"));

    let route_path = "mesh/apps/virtualRouter/serviceB/route/serviceB-route";
    let out = ok(
        c.create_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("serviceB-route")
            .spec(route_spec(&[("serviceB", 75), ("serviceBv2", 25)]))
            .send()
            .await,
        "create route",
    );
    let route = out.route().expect("route in body");
    assert_eq!(route.mesh_name(), MESH);
    assert_eq!(route.virtual_router_name(), "serviceB");
    assert_eq!(route.route_name(), "serviceB-route");
    assert_eq!(route.status().unwrap().status().as_str(), "ACTIVE");
    let route_created = check_meta("create route", route.metadata(), route_path, 1);
    assert_eq!(
        weights_of(route.spec()),
        vec![("serviceB".to_owned(), 75), ("serviceBv2".to_owned(), 25)]
    );

    let err = service_error(
        c.create_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("serviceB-route")
            .spec(route_spec(&[("serviceB", 100)]))
            .send()
            .await,
        "duplicate route",
    );
    assert!(err.is_conflict_exception(), "duplicate route: {err:?}");

    let out = ok(
        c.update_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("serviceB-route")
            .spec(route_spec(&[("serviceB", 0), ("serviceBv2", 100)]))
            .send()
            .await,
        "update route",
    );
    let route = out.route().expect("route in body");
    let route_meta = check_meta("update route", route.metadata(), route_path, 2);
    assert_eq!(
        route_meta.uid(),
        route_created.uid(),
        "uid changed on update"
    );
    assert_eq!(route_meta.created_at(), route_created.created_at());
    assert!(route_meta.last_updated_at() >= route_created.last_updated_at());
    assert_eq!(
        weights_of(route.spec()),
        vec![("serviceB".to_owned(), 0), ("serviceBv2".to_owned(), 100)]
    );

    // ---- virtual services with providers ----------------------------------------------
    let out = ok(
        c.update_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("serviceb.apps.local")
            .spec(router_provider("serviceB"))
            .send()
            .await,
        "update VS serviceb",
    );
    let vs = out.virtual_service().unwrap();
    let vsb_meta2 = check_meta(
        "update VS serviceb",
        vs.metadata(),
        "mesh/apps/virtualService/serviceb.apps.local",
        2,
    );
    assert_eq!(vsb_meta2.uid(), vsb_meta.uid());
    assert_eq!(
        vs.spec()
            .and_then(|s| s.provider())
            .and_then(|p| p.as_virtual_router().ok())
            .map(|r| r.virtual_router_name()),
        Some("serviceB")
    );

    let out = ok(
        c.create_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("servicea.apps.local")
            .spec(node_provider("serviceA"))
            .send()
            .await,
        "create VS servicea",
    );
    let vs = out.virtual_service().unwrap();
    let vsa_meta = check_meta(
        "create VS servicea",
        vs.metadata(),
        "mesh/apps/virtualService/servicea.apps.local",
        1,
    );
    assert_eq!(
        vs.spec()
            .and_then(|s| s.provider())
            .and_then(|p| p.as_virtual_node().ok())
            .map(|n| n.virtual_node_name()),
        Some("serviceA")
    );

    // ---- virtual gateway and gateway route --------------------------------------------
    let out = ok(
        c.create_virtual_gateway()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .spec(gateway_spec())
            .send()
            .await,
        "create VG",
    );
    let vg = out.virtual_gateway().unwrap();
    assert_eq!(vg.virtual_gateway_name(), "ingress-gw");
    assert_eq!(vg.status().unwrap().status().as_str(), "ACTIVE");
    let vg_meta = check_meta(
        "create VG",
        vg.metadata(),
        "mesh/apps/virtualGateway/ingress-gw",
        1,
    );
    let pm = vg.spec().unwrap().listeners()[0].port_mapping().unwrap();
    assert_eq!((pm.port(), pm.protocol().as_str()), (8080, "http"));

    let gr_path = "mesh/apps/virtualGateway/ingress-gw/gatewayRoute/gr-a";
    let out = ok(
        c.create_gateway_route()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .gateway_route_name("gr-a")
            .spec(
                GatewayRouteSpec::builder()
                    .http_route(
                        HttpGatewayRoute::builder()
                            .r#match(HttpGatewayRouteMatch::builder().prefix("/").build())
                            .action(
                                HttpGatewayRouteAction::builder()
                                    .target(
                                        GatewayRouteTarget::builder()
                                            .virtual_service(
                                                GatewayRouteVirtualService::builder()
                                                    .virtual_service_name("servicea.apps.local")
                                                    .build()
                                                    .unwrap(),
                                            )
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await,
        "create GR",
    );
    let gr = out.gateway_route().unwrap();
    assert_eq!(gr.mesh_name(), MESH);
    assert_eq!(gr.virtual_gateway_name(), "ingress-gw");
    assert_eq!(gr.gateway_route_name(), "gr-a");
    assert_eq!(gr.status().unwrap().status().as_str(), "ACTIVE");
    let gr_meta = check_meta("create GR", gr.metadata(), gr_path, 1);
    let http = gr.spec().and_then(|s| s.http_route()).expect("httpRoute");
    assert_eq!(http.r#match().and_then(|m| m.prefix()), Some("/"));
    assert_eq!(
        http.action()
            .and_then(|a| a.target())
            .and_then(|t| t.virtual_service())
            .map(|v| v.virtual_service_name()),
        Some("servicea.apps.local")
    );

    // ---- describe every kind ----------------------------------------------------------
    let out = ok(
        c.describe_mesh().mesh_name(MESH).send().await,
        "describe mesh",
    );
    let m = out.mesh().unwrap();
    let meta = check_meta("describe mesh", m.metadata(), "mesh/apps", 1);
    assert_eq!(meta.uid(), mesh_meta.uid());
    assert_eq!(meta.created_at(), mesh_meta.created_at());
    assert_eq!(
        m.status().and_then(|s| s.status()).map(|s| s.as_str()),
        Some("ACTIVE")
    );
    assert_eq!(m.spec(), Some(&mesh_spec));

    for (name, created) in &node_meta {
        let out = ok(
            c.describe_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(*name)
                .send()
                .await,
            "describe VN",
        );
        let vn = out.virtual_node().unwrap();
        assert_eq!(vn.virtual_node_name(), *name);
        assert_eq!(vn.status().unwrap().status().as_str(), "ACTIVE");
        let meta = check_meta(
            "describe VN",
            vn.metadata(),
            &format!("mesh/apps/virtualNode/{name}"),
            1,
        );
        assert_eq!(&meta, created);
    }

    let out = ok(
        c.describe_virtual_router()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .send()
            .await,
        "describe VR",
    );
    let vr = out.virtual_router().unwrap();
    assert_eq!(vr.status().unwrap().status().as_str(), "ACTIVE");
    let meta = check_meta(
        "describe VR",
        vr.metadata(),
        "mesh/apps/virtualRouter/serviceB",
        1,
    );
    assert_eq!(meta, vr_meta);

    let out = ok(
        c.describe_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("serviceB-route")
            .send()
            .await,
        "describe route",
    );
    let r = out.route().unwrap();
    assert_eq!(r.status().unwrap().status().as_str(), "ACTIVE");
    assert_eq!(
        check_meta("describe route", r.metadata(), route_path, 2),
        route_meta
    );
    assert_eq!(
        weights_of(r.spec()),
        vec![("serviceB".to_owned(), 0), ("serviceBv2".to_owned(), 100)]
    );

    for (name, version, expected, provider) in [
        ("serviceb.apps.local", 2, &vsb_meta2, "router:serviceB"),
        ("servicea.apps.local", 1, &vsa_meta, "node:serviceA"),
    ] {
        let out = ok(
            c.describe_virtual_service()
                .mesh_name(MESH)
                .virtual_service_name(name)
                .send()
                .await,
            "describe VS",
        );
        let vs = out.virtual_service().unwrap();
        assert_eq!(vs.virtual_service_name(), name);
        assert_eq!(vs.status().unwrap().status().as_str(), "ACTIVE");
        let meta = check_meta(
            "describe VS",
            vs.metadata(),
            &format!("mesh/apps/virtualService/{name}"),
            version,
        );
        assert_eq!(&meta, expected);
        let got = match vs.spec().and_then(|s| s.provider()) {
            Some(VirtualServiceProvider::VirtualRouter(r)) => {
                format!("router:{}", r.virtual_router_name())
            }
            Some(VirtualServiceProvider::VirtualNode(n)) => {
                format!("node:{}", n.virtual_node_name())
            }
            other => format!("{other:?}"),
        };
        assert_eq!(got, provider);
    }

    let out = ok(
        c.describe_virtual_gateway()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .send()
            .await,
        "describe VG",
    );
    let vg = out.virtual_gateway().unwrap();
    assert_eq!(vg.status().unwrap().status().as_str(), "ACTIVE");
    assert_eq!(
        check_meta(
            "describe VG",
            vg.metadata(),
            "mesh/apps/virtualGateway/ingress-gw",
            1
        ),
        vg_meta
    );

    let out = ok(
        c.describe_gateway_route()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .gateway_route_name("gr-a")
            .send()
            .await,
        "describe GR",
    );
    let gr = out.gateway_route().unwrap();
    assert_eq!(gr.status().unwrap().status().as_str(), "ACTIVE");
    assert_eq!(
        check_meta("describe GR", gr.metadata(), gr_path, 1),
        gr_meta
    );

    // ---- list every kind --------------------------------------------------------------
    let out = ok(c.list_meshes().send().await, "list meshes");
    assert_eq!(out.meshes().len(), 1, "meshes: {:?}", out.meshes());
    let mr = &out.meshes()[0];
    assert_eq!(mr.mesh_name(), MESH);
    ref_common!(mr).check("list meshes", "mesh/apps", 1);
    assert_eq!(mr.created_at(), mesh_meta.created_at());
    assert!(out.next_token().is_none());

    let out = ok(
        c.list_virtual_nodes().mesh_name(MESH).send().await,
        "list VNs",
    );
    let mut names: Vec<&str> = out
        .virtual_nodes()
        .iter()
        .map(|r| r.virtual_node_name())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["serviceA", "serviceB", "serviceBv2"]);
    for r in out.virtual_nodes() {
        assert_eq!(r.mesh_name(), MESH);
        let name = r.virtual_node_name();
        ref_common!(r).check("list VNs", &format!("mesh/apps/virtualNode/{name}"), 1);
        assert_eq!(r.created_at(), node_meta[name].created_at());
    }

    let out = ok(
        c.list_virtual_routers().mesh_name(MESH).send().await,
        "list VRs",
    );
    assert_eq!(out.virtual_routers().len(), 1);
    let r = &out.virtual_routers()[0];
    assert_eq!((r.mesh_name(), r.virtual_router_name()), (MESH, "serviceB"));
    ref_common!(r).check("list VRs", "mesh/apps/virtualRouter/serviceB", 1);

    let out = ok(
        c.list_routes()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .send()
            .await,
        "list routes",
    );
    assert_eq!(out.routes().len(), 1);
    let r = &out.routes()[0];
    assert_eq!(
        (r.mesh_name(), r.virtual_router_name(), r.route_name()),
        (MESH, "serviceB", "serviceB-route")
    );
    ref_common!(r).check("list routes", route_path, 2);
    assert_eq!(r.last_updated_at(), route_meta.last_updated_at());

    let out = ok(
        c.list_virtual_services().mesh_name(MESH).send().await,
        "list VSs",
    );
    let mut vss: Vec<(&str, i64)> = out
        .virtual_services()
        .iter()
        .map(|r| (r.virtual_service_name(), r.version()))
        .collect();
    vss.sort_unstable();
    assert_eq!(
        vss,
        [("servicea.apps.local", 1), ("serviceb.apps.local", 2)]
    );
    for r in out.virtual_services() {
        let name = r.virtual_service_name();
        ref_common!(r).check(
            "list VSs",
            &format!("mesh/apps/virtualService/{name}"),
            r.version(),
        );
    }

    let out = ok(
        c.list_virtual_gateways().mesh_name(MESH).send().await,
        "list VGs",
    );
    assert_eq!(out.virtual_gateways().len(), 1);
    let r = &out.virtual_gateways()[0];
    assert_eq!(r.virtual_gateway_name(), "ingress-gw");
    ref_common!(r).check("list VGs", "mesh/apps/virtualGateway/ingress-gw", 1);

    let out = ok(
        c.list_gateway_routes()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .send()
            .await,
        "list GRs",
    );
    assert_eq!(out.gateway_routes().len(), 1);
    let r = &out.gateway_routes()[0];
    assert_eq!(
        (r.virtual_gateway_name(), r.gateway_route_name()),
        ("ingress-gw", "gr-a")
    );
    ref_common!(r).check("list GRs", gr_path, 1);

    // ---- typed not-found errors for every kind ------------------------------------------
    let e = service_error(
        c.describe_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("nope")
            .send()
            .await,
        "describe missing VN",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_virtual_node()
            .mesh_name("no-such-mesh")
            .virtual_node_name("serviceB")
            .send()
            .await,
        "describe VN in missing mesh",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_virtual_router()
            .mesh_name(MESH)
            .virtual_router_name("nope")
            .send()
            .await,
        "describe missing VR",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("nope")
            .send()
            .await,
        "describe missing route",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("nope.apps.local")
            .send()
            .await,
        "describe missing VS",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_virtual_gateway()
            .mesh_name(MESH)
            .virtual_gateway_name("nope")
            .send()
            .await,
        "describe missing VG",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.describe_gateway_route()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .gateway_route_name("nope")
            .send()
            .await,
        "describe missing GR",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = service_error(
        c.list_virtual_nodes()
            .mesh_name("no-such-mesh")
            .send()
            .await,
        "list VNs of missing mesh",
    );
    assert!(e.is_not_found_exception(), "{e:?}");

    // ---- referential integrity: resource in use ---------------------------------------
    let e = service_error(
        c.delete_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceB")
            .send()
            .await,
        "delete VN serviceB while a route targets it",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");
    let e = service_error(
        c.delete_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceA")
            .send()
            .await,
        "delete VN serviceA while VS servicea names it as provider",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");
    let e = service_error(
        c.delete_virtual_router()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .send()
            .await,
        "delete VR serviceB while it has a route",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");
    let e = service_error(
        c.delete_virtual_gateway()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .send()
            .await,
        "delete VG while it has a gateway route",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");
    let e = service_error(
        c.delete_mesh().mesh_name(MESH).send().await,
        "delete non-empty mesh",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");
    // The refused deletes changed nothing.
    let out = ok(
        c.describe_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceB")
            .send()
            .await,
        "describe VN serviceB after refused delete",
    );
    let vn = out.virtual_node().unwrap();
    assert_eq!(vn.status().unwrap().status().as_str(), "ACTIVE");
    assert_eq!(vn.metadata().unwrap().version(), 1);

    // ---- tags -------------------------------------------------------------------------
    let mesh_arn = common::arn("mesh/apps");
    assert_eq!(
        tags_of(&c, &mesh_arn).await,
        pairs(&[("team", "core")]),
        "mesh creation tags"
    );
    let vn_arn = common::arn("mesh/apps/virtualNode/serviceA");
    assert!(tags_of(&c, &vn_arn).await.is_empty());
    ok(
        c.tag_resource()
            .resource_arn(&vn_arn)
            .tags(tag("env", "test"))
            .tags(tag("tier", "front"))
            .send()
            .await,
        "tag VN serviceA",
    );
    assert_eq!(
        tags_of(&c, &vn_arn).await,
        pairs(&[("env", "test"), ("tier", "front")])
    );
    // Re-tagging an existing key overwrites its value.
    ok(
        c.tag_resource()
            .resource_arn(&vn_arn)
            .tags(tag("env", "prod"))
            .send()
            .await,
        "re-tag VN serviceA",
    );
    assert_eq!(
        tags_of(&c, &vn_arn).await,
        pairs(&[("env", "prod"), ("tier", "front")])
    );
    ok(
        c.untag_resource()
            .resource_arn(&vn_arn)
            .tag_keys("tier")
            .send()
            .await,
        "untag VN serviceA",
    );
    assert_eq!(tags_of(&c, &vn_arn).await, pairs(&[("env", "prod")]));
    let route_arn = common::arn(route_path);
    ok(
        c.tag_resource()
            .resource_arn(&route_arn)
            .tags(tag("owner", "b-team"))
            .send()
            .await,
        "tag route",
    );
    assert_eq!(tags_of(&c, &route_arn).await, pairs(&[("owner", "b-team")]));
    let e = service_error(
        c.list_tags_for_resource()
            .resource_arn(common::arn("mesh/apps/virtualNode/nope"))
            .send()
            .await,
        "list tags of a missing resource",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    // Tagging does not change a resource's version.
    let out = ok(
        c.describe_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceA")
            .send()
            .await,
        "describe VN serviceA after tagging",
    );
    assert_eq!(out.virtual_node().unwrap().metadata().unwrap().version(), 1);

    // ---- pagination -------------------------------------------------------------------
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for page in 0.. {
        assert!(page < 10, "pagination does not terminate");
        let out = ok(
            c.list_virtual_nodes()
                .mesh_name(MESH)
                .limit(1)
                .set_next_token(token.take())
                .send()
                .await,
            "list VNs page",
        );
        assert!(
            out.virtual_nodes().len() <= 1,
            "limit 1 returned {} items",
            out.virtual_nodes().len()
        );
        seen.extend(
            out.virtual_nodes()
                .iter()
                .map(|r| r.virtual_node_name().to_owned()),
        );
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, ["serviceA", "serviceB", "serviceBv2"]);

    // ---- tear-down in dependency order --------------------------------------------------
    let out = ok(
        c.delete_gateway_route()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .gateway_route_name("gr-a")
            .send()
            .await,
        "delete GR",
    );
    let gr = out.gateway_route().unwrap();
    assert_eq!(gr.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(gr.metadata().unwrap().version(), 1);
    assert_eq!(gr.metadata().unwrap().uid(), gr_meta.uid());

    let out = ok(
        c.delete_virtual_gateway()
            .mesh_name(MESH)
            .virtual_gateway_name("ingress-gw")
            .send()
            .await,
        "delete VG",
    );
    let vg = out.virtual_gateway().unwrap();
    assert_eq!(vg.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(vg.metadata().unwrap().version(), 1);

    let out = ok(
        c.delete_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("servicea.apps.local")
            .send()
            .await,
        "delete VS servicea",
    );
    let vs = out.virtual_service().unwrap();
    assert_eq!(vs.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(vs.metadata().unwrap().version(), 1);

    let out = ok(
        c.delete_virtual_node()
            .mesh_name(MESH)
            .virtual_node_name("serviceA")
            .send()
            .await,
        "delete VN serviceA",
    );
    let vn = out.virtual_node().unwrap();
    assert_eq!(vn.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(vn.metadata().unwrap().version(), 1);
    assert_eq!(vn.virtual_node_name(), "serviceA");

    let out = ok(
        c.delete_virtual_service()
            .mesh_name(MESH)
            .virtual_service_name("serviceb.apps.local")
            .send()
            .await,
        "delete VS serviceb",
    );
    let vs = out.virtual_service().unwrap();
    assert_eq!(vs.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(vs.metadata().unwrap().version(), 2);

    let out = ok(
        c.delete_route()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .route_name("serviceB-route")
            .send()
            .await,
        "delete route",
    );
    let r = out.route().unwrap();
    assert_eq!(r.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(r.metadata().unwrap().version(), 2);

    let out = ok(
        c.delete_virtual_router()
            .mesh_name(MESH)
            .virtual_router_name("serviceB")
            .send()
            .await,
        "delete VR",
    );
    let vr = out.virtual_router().unwrap();
    assert_eq!(vr.status().unwrap().status().as_str(), "DELETED");
    assert_eq!(vr.metadata().unwrap().version(), 1);

    for name in ["serviceBv2", "serviceB"] {
        let out = ok(
            c.delete_virtual_node()
                .mesh_name(MESH)
                .virtual_node_name(name)
                .send()
                .await,
            &format!("delete VN {name}"),
        );
        let vn = out.virtual_node().unwrap();
        assert_eq!(vn.status().unwrap().status().as_str(), "DELETED");
        assert_eq!(vn.metadata().unwrap().version(), 1);
    }

    let out = ok(c.delete_mesh().mesh_name(MESH).send().await, "delete mesh");
    let m = out.mesh().unwrap();
    assert_eq!(
        m.status().and_then(|s| s.status()).map(|s| s.as_str()),
        Some("DELETED")
    );
    assert_eq!(m.metadata().unwrap().version(), 1);
    assert_eq!(m.metadata().unwrap().uid(), mesh_meta.uid());

    let e = service_error(
        c.describe_mesh().mesh_name(MESH).send().await,
        "describe deleted mesh",
    );
    assert!(e.is_not_found_exception(), "{e:?}");
    let out = ok(c.list_meshes().send().await, "final list meshes");
    assert!(out.meshes().is_empty(), "meshes left: {:?}", out.meshes());

    server.terminate();
}

#[tokio::test]
async fn client_token_makes_writes_idempotent() {
    let dir = common::data_dir();
    let server = Server::start(dir.path());
    let c = server.client();

    let first = ok(
        c.create_mesh()
            .mesh_name("idem")
            .client_token("token-create-mesh")
            .send()
            .await,
        "create mesh idem",
    );
    let again = ok(
        c.create_mesh()
            .mesh_name("idem")
            .client_token("token-create-mesh")
            .send()
            .await,
        "replay create mesh idem",
    );
    let (m1, m2) = (
        first.mesh().unwrap().metadata().unwrap(),
        again.mesh().unwrap().metadata().unwrap(),
    );
    assert_eq!(m1.uid(), m2.uid());
    assert_eq!(m2.version(), 1);
    // Same token, different request: conflict.
    let e = service_error(
        c.create_mesh()
            .mesh_name("idem")
            .client_token("token-create-mesh")
            .spec(
                MeshSpec::builder()
                    .egress_filter(
                        EgressFilter::builder()
                            .r#type(EgressFilterType::DropAll)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await,
        "reuse a create token for a different request",
    );
    assert!(e.is_conflict_exception(), "{e:?}");
    // Without a token the SDK generates a fresh one, so a second create is a duplicate.
    let e = service_error(
        c.create_mesh().mesh_name("idem").send().await,
        "duplicate create without token",
    );
    assert!(e.is_conflict_exception(), "{e:?}");

    let create_node = || {
        c.create_virtual_node()
            .mesh_name("idem")
            .virtual_node_name("n")
            .client_token("token-create-node")
            .spec(node_spec("n.idem.local", None))
            .send()
    };
    let n1 = ok(create_node().await, "create VN");
    let n2 = ok(create_node().await, "replay create VN");
    assert_eq!(
        n1.virtual_node().unwrap().metadata().unwrap().uid(),
        n2.virtual_node().unwrap().metadata().unwrap().uid()
    );

    // A replayed update does not bump the version a second time.
    let update_node = || {
        c.update_virtual_node()
            .mesh_name("idem")
            .virtual_node_name("n")
            .client_token("token-update-node")
            .spec(node_spec("n2.idem.local", None))
            .send()
    };
    let u1 = ok(update_node().await, "update VN");
    let u2 = ok(update_node().await, "replay update VN");
    assert_eq!(u1.virtual_node().unwrap().metadata().unwrap().version(), 2);
    assert_eq!(u2.virtual_node().unwrap().metadata().unwrap().version(), 2);
    let out = ok(
        c.describe_virtual_node()
            .mesh_name("idem")
            .virtual_node_name("n")
            .send()
            .await,
        "describe VN after replayed update",
    );
    assert_eq!(out.virtual_node().unwrap().metadata().unwrap().version(), 2);

    server.terminate();
}
