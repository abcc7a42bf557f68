//! Durability of the control plane's storage across restarts.
//!
//! Each test creates 100 resources of every kind through the Rust SDK (some tagged, some
//! updated so that versions differ), records what every acknowledged write returned, stops
//! the server and starts a new one on the same data directory, then checks that every
//! resource is there with the same uid, version, ARN, timestamps, spec and tags, that the
//! lists show exactly those resources (deleted ones stay deleted), and that the restarted
//! server keeps working: names stay taken, references still block deletes, and a replayed
//! create with the original client token returns the existing resource.
//!
//! * `sigterm_restart_keeps_every_resource`: graceful stop (SIGTERM, exit 0).
//! * `sigkill_right_after_ack_keeps_every_resource`: SIGKILL immediately after the last
//!   write was acknowledged; acknowledged writes must survive a crash.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_appmesh::types::{
    DnsServiceDiscovery, EgressFilter, EgressFilterType, GatewayRouteSpec, GatewayRouteTarget,
    GatewayRouteVirtualService, HttpGatewayRoute, HttpGatewayRouteAction, HttpGatewayRouteMatch,
    Listener, MeshSpec, PortMapping, PortProtocol, ResourceMetadata, ServiceDiscovery,
    VirtualNodeSpec, VirtualRouterListener, VirtualRouterSpec, VirtualServiceSpec,
};
use aws_sdk_appmesh::Client;
use common::{gateway_spec, ok, route_spec, router_provider, service_error, tag, tags_of, Server};

/// One resource, by kind and names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Res {
    Mesh(String),
    Node(String, String),
    Router(String, String),
    Route(String, String, String),
    Service(String, String),
    Gateway(String, String),
    GatewayRoute(String, String, String),
}

/// What the acknowledged writes say about a resource.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    meta: ResourceMetadata,
    spec: String,
    tags: BTreeMap<String, String>,
}

/// What a describe returns: metadata, status and the spec rendered with `Debug`.
struct Described {
    meta: ResourceMetadata,
    status: String,
    spec: String,
}

fn mesh_arn_path(r: &Res) -> String {
    match r {
        Res::Mesh(m) => format!("mesh/{m}"),
        Res::Node(m, n) => format!("mesh/{m}/virtualNode/{n}"),
        Res::Router(m, n) => format!("mesh/{m}/virtualRouter/{n}"),
        Res::Route(m, vr, n) => format!("mesh/{m}/virtualRouter/{vr}/route/{n}"),
        Res::Service(m, n) => format!("mesh/{m}/virtualService/{n}"),
        Res::Gateway(m, n) => format!("mesh/{m}/virtualGateway/{n}"),
        Res::GatewayRoute(m, g, n) => format!("mesh/{m}/virtualGateway/{g}/gatewayRoute/{n}"),
    }
}

fn port_mapping(port: i32) -> PortMapping {
    PortMapping::builder()
        .port(port)
        .protocol(PortProtocol::Http)
        .build()
        .unwrap()
}

fn node_spec(host: &str, port: i32) -> VirtualNodeSpec {
    VirtualNodeSpec::builder()
        .listeners(Listener::builder().port_mapping(port_mapping(port)).build())
        .service_discovery(ServiceDiscovery::Dns(
            DnsServiceDiscovery::builder()
                .hostname(host)
                .build()
                .unwrap(),
        ))
        .build()
}

fn router_spec(port: i32) -> VirtualRouterSpec {
    VirtualRouterSpec::builder()
        .listeners(
            VirtualRouterListener::builder()
                .port_mapping(port_mapping(port))
                .build(),
        )
        .build()
}

fn gateway_route_spec(prefix: &str, service: &str) -> GatewayRouteSpec {
    GatewayRouteSpec::builder()
        .http_route(
            HttpGatewayRoute::builder()
                .r#match(HttpGatewayRouteMatch::builder().prefix(prefix).build())
                .action(
                    HttpGatewayRouteAction::builder()
                        .target(
                            GatewayRouteTarget::builder()
                                .virtual_service(
                                    GatewayRouteVirtualService::builder()
                                        .virtual_service_name(service)
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}

fn mesh_spec(egress: EgressFilterType) -> MeshSpec {
    MeshSpec::builder()
        .egress_filter(EgressFilter::builder().r#type(egress).build().unwrap())
        .build()
}

/// Records an acknowledged create or update in `state`, keeping any tags already recorded.
fn record(
    state: &mut BTreeMap<Res, Expected>,
    res: Res,
    meta: Option<&ResourceMetadata>,
    spec: String,
    create_tags: &[(&str, &str)],
) {
    let meta = meta
        .unwrap_or_else(|| panic!("{res:?}: write response without metadata"))
        .clone();
    assert_eq!(
        meta.arn(),
        common::arn(&mesh_arn_path(&res)),
        "{res:?}: arn"
    );
    let entry = state.entry(res).or_insert_with(|| Expected {
        meta: meta.clone(),
        spec: String::new(),
        tags: BTreeMap::new(),
    });
    entry.meta = meta;
    entry.spec = spec;
    for (k, v) in create_tags {
        entry.tags.insert((*k).to_owned(), (*v).to_owned());
    }
}

/// The client token mesh `dur-b` is created with; replayed after the restart.
const DUR_B_TOKEN: &str = "dur-b-create-token";

async fn create_mesh(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    name: &str,
    tags: &[(&str, &str)],
) {
    let mut req = c
        .create_mesh()
        .mesh_name(name)
        .client_token(format!("{name}-create-token"))
        .spec(mesh_spec(EgressFilterType::AllowAll));
    for (k, v) in tags {
        req = req.tags(tag(k, v));
    }
    let out = ok(req.send().await, "create mesh");
    let d = out.mesh().unwrap();
    record(
        state,
        Res::Mesh(name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        tags,
    );
}

async fn create_node(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    mesh: &str,
    name: &str,
    tags: &[(&str, &str)],
) {
    let mut req = c
        .create_virtual_node()
        .mesh_name(mesh)
        .virtual_node_name(name)
        .spec(node_spec(
            &format!("{}.{mesh}.local", name.to_lowercase()),
            80,
        ));
    for (k, v) in tags {
        req = req.tags(tag(k, v));
    }
    let out = ok(req.send().await, &format!("create VN {mesh}/{name}"));
    let d = out.virtual_node().unwrap();
    record(
        state,
        Res::Node(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        tags,
    );
}

async fn update_node(c: &Client, state: &mut BTreeMap<Res, Expected>, mesh: &str, name: &str) {
    let prev = state[&Res::Node(mesh.into(), name.into())].meta.version();
    let port = 9000 + i32::try_from(prev).unwrap();
    let out = ok(
        c.update_virtual_node()
            .mesh_name(mesh)
            .virtual_node_name(name)
            .spec(node_spec(
                &format!("{}.{mesh}.local", name.to_lowercase()),
                port,
            ))
            .send()
            .await,
        &format!("update VN {mesh}/{name}"),
    );
    let d = out.virtual_node().unwrap();
    assert_eq!(
        d.metadata().unwrap().version(),
        prev + 1,
        "update bumps version"
    );
    record(
        state,
        Res::Node(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn create_router(c: &Client, state: &mut BTreeMap<Res, Expected>, mesh: &str, name: &str) {
    let out = ok(
        c.create_virtual_router()
            .mesh_name(mesh)
            .virtual_router_name(name)
            .spec(router_spec(80))
            .send()
            .await,
        &format!("create VR {mesh}/{name}"),
    );
    let d = out.virtual_router().unwrap();
    record(
        state,
        Res::Router(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn update_router(c: &Client, state: &mut BTreeMap<Res, Expected>, mesh: &str, name: &str) {
    let out = ok(
        c.update_virtual_router()
            .mesh_name(mesh)
            .virtual_router_name(name)
            .spec(router_spec(8081))
            .send()
            .await,
        &format!("update VR {mesh}/{name}"),
    );
    let d = out.virtual_router().unwrap();
    record(
        state,
        Res::Router(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn put_route(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    mesh: &str,
    router: &str,
    name: &str,
    targets: &[(&str, i32)],
    create: bool,
) {
    let res = if create {
        ok(
            c.create_route()
                .mesh_name(mesh)
                .virtual_router_name(router)
                .route_name(name)
                .spec(route_spec(targets))
                .send()
                .await,
            &format!("create route {mesh}/{router}/{name}"),
        )
        .route
    } else {
        ok(
            c.update_route()
                .mesh_name(mesh)
                .virtual_router_name(router)
                .route_name(name)
                .spec(route_spec(targets))
                .send()
                .await,
            &format!("update route {mesh}/{router}/{name}"),
        )
        .route
    };
    let d = res.unwrap();
    record(
        state,
        Res::Route(mesh.into(), router.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn create_service(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    mesh: &str,
    name: &str,
    router: Option<&str>,
) {
    let spec = match router {
        Some(r) => router_provider(r),
        None => VirtualServiceSpec::builder().build(),
    };
    let out = ok(
        c.create_virtual_service()
            .mesh_name(mesh)
            .virtual_service_name(name)
            .spec(spec)
            .send()
            .await,
        &format!("create VS {mesh}/{name}"),
    );
    let d = out.virtual_service().unwrap();
    record(
        state,
        Res::Service(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn update_service(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    mesh: &str,
    name: &str,
    router: &str,
) {
    let out = ok(
        c.update_virtual_service()
            .mesh_name(mesh)
            .virtual_service_name(name)
            .spec(router_provider(router))
            .send()
            .await,
        &format!("update VS {mesh}/{name}"),
    );
    let d = out.virtual_service().unwrap();
    record(
        state,
        Res::Service(mesh.into(), name.into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
}

async fn tag_res(
    c: &Client,
    state: &mut BTreeMap<Res, Expected>,
    res: &Res,
    tags: &[(&str, &str)],
) {
    let mut req = c
        .tag_resource()
        .resource_arn(common::arn(&mesh_arn_path(res)));
    for (k, v) in tags {
        req = req.tags(tag(k, v));
    }
    ok(req.send().await, &format!("tag {res:?}"));
    let e = state.get_mut(res).unwrap();
    for (k, v) in tags {
        e.tags.insert((*k).to_owned(), (*v).to_owned());
    }
}

async fn untag_res(c: &Client, state: &mut BTreeMap<Res, Expected>, res: &Res, key: &str) {
    ok(
        c.untag_resource()
            .resource_arn(common::arn(&mesh_arn_path(res)))
            .tag_keys(key)
            .send()
            .await,
        &format!("untag {res:?}"),
    );
    state.get_mut(res).unwrap().tags.remove(key);
}

/// Creates 100 resources (2 meshes, 50 nodes, 15 routers, 15 routes, 15 services,
/// 1 gateway, 2 gateway routes), then updates and tags some of them. The last write is an
/// update, so its acknowledgement is the last thing before the caller stops the server.
async fn populate(c: &Client) -> BTreeMap<Res, Expected> {
    let mut st = BTreeMap::new();
    create_mesh(c, &mut st, "dur-a", &[("team", "core"), ("env", "test")]).await;
    create_mesh(c, &mut st, "dur-b", &[]).await;

    for i in 0..50 {
        let mesh = if i < 35 { "dur-a" } else { "dur-b" };
        let name = format!("node-{i:02}");
        let tags: &[(&str, &str)] = if i % 5 == 0 {
            &[("created", "yes")]
        } else {
            &[]
        };
        create_node(c, &mut st, mesh, &name, tags).await;
    }
    for i in 0..15 {
        let mesh = if i < 10 { "dur-a" } else { "dur-b" };
        let router = format!("router-{i:02}");
        create_router(c, &mut st, mesh, &router).await;
        let base = if i < 10 { 0 } else { 35 };
        let n1 = format!("node-{:02}", base + i % 10);
        let n2 = format!("node-{:02}", base + (i + 1) % 10);
        put_route(
            c,
            &mut st,
            mesh,
            &router,
            "route",
            &[(&n1, 60), (&n2, 40)],
            true,
        )
        .await;
        let provider = if i % 3 == 0 {
            None
        } else {
            Some(router.as_str())
        };
        create_service(
            c,
            &mut st,
            mesh,
            &format!("svc-{i:02}.{mesh}.local"),
            provider,
        )
        .await;
    }

    // One gateway with two gateway routes in dur-a.
    let out = ok(
        c.create_virtual_gateway()
            .mesh_name("dur-a")
            .virtual_gateway_name("gw")
            .spec(gateway_spec())
            .tags(tag("edge", "true"))
            .send()
            .await,
        "create VG",
    );
    let d = out.virtual_gateway().unwrap();
    record(
        &mut st,
        Res::Gateway("dur-a".into(), "gw".into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[("edge", "true")],
    );
    for (name, prefix, svc) in [
        ("gr-1", "/one", "svc-01.dur-a.local"),
        ("gr-2", "/two", "svc-02.dur-a.local"),
    ] {
        let out = ok(
            c.create_gateway_route()
                .mesh_name("dur-a")
                .virtual_gateway_name("gw")
                .gateway_route_name(name)
                .spec(gateway_route_spec(prefix, svc))
                .send()
                .await,
            "create GR",
        );
        let d = out.gateway_route().unwrap();
        record(
            &mut st,
            Res::GatewayRoute("dur-a".into(), "gw".into(), name.into()),
            d.metadata(),
            format!("{:?}", d.spec()),
            &[],
        );
    }
    assert_eq!(st.len(), 100, "populate creates 100 resources");

    // Updates, so that versions differ: mesh dur-a once, ten nodes (some twice), five
    // routers, five routes, the services without a provider get one.
    let out = ok(
        c.update_mesh()
            .mesh_name("dur-a")
            .spec(mesh_spec(EgressFilterType::DropAll))
            .send()
            .await,
        "update mesh",
    );
    let d = out.mesh().unwrap();
    record(
        &mut st,
        Res::Mesh("dur-a".into()),
        d.metadata(),
        format!("{:?}", d.spec()),
        &[],
    );
    for i in (0..50).step_by(5) {
        let mesh = if i < 35 { "dur-a" } else { "dur-b" };
        update_node(c, &mut st, mesh, &format!("node-{i:02}")).await;
        if i % 10 == 0 {
            update_node(c, &mut st, mesh, &format!("node-{i:02}")).await;
        }
    }
    for i in (0..15).step_by(3) {
        let mesh = if i < 10 { "dur-a" } else { "dur-b" };
        let router = format!("router-{i:02}");
        update_router(c, &mut st, mesh, &router).await;
        update_service(
            c,
            &mut st,
            mesh,
            &format!("svc-{i:02}.{mesh}.local"),
            &router,
        )
        .await;
    }

    // Tags on various kinds; one untag.
    for i in (1..50).step_by(7) {
        let mesh = if i < 35 { "dur-a" } else { "dur-b" };
        let res = Res::Node(mesh.into(), format!("node-{i:02}"));
        tag_res(c, &mut st, &res, &[("k1", "v1"), ("k2", &format!("n{i}"))]).await;
    }
    tag_res(
        c,
        &mut st,
        &Res::Route("dur-a".into(), "router-04".into(), "route".into()),
        &[("route-tag", "r")],
    )
    .await;
    tag_res(
        c,
        &mut st,
        &Res::Service("dur-b".into(), "svc-11.dur-b.local".into()),
        &[("svc-tag", "")],
    )
    .await;
    tag_res(c, &mut st, &Res::Mesh("dur-b".into()), &[("owner", "ops")]).await;
    untag_res(c, &mut st, &Res::Mesh("dur-a".into()), "env").await;

    // Resources that are created, tagged and deleted must stay deleted.
    for i in 0..3 {
        let name = format!("doomed-{i}");
        create_node(c, &mut st, "dur-b", &name, &[("doomed", "yes")]).await;
        let out = ok(
            c.delete_virtual_node()
                .mesh_name("dur-b")
                .virtual_node_name(&name)
                .send()
                .await,
            "delete doomed VN",
        );
        let d = out.virtual_node().unwrap();
        assert_eq!(d.status().unwrap().status().as_str(), "DELETED");
        st.remove(&Res::Node("dur-b".into(), name));
    }

    // Last writes: route weight shifts. Their acknowledgements come right before the stop.
    for i in (1..10).step_by(2) {
        let router = format!("router-{i:02}");
        let n1 = format!("node-{:02}", i % 10);
        let n2 = format!("node-{:02}", (i + 1) % 10);
        put_route(
            c,
            &mut st,
            "dur-a",
            &router,
            "route",
            &[(&n1, 0), (&n2, 100)],
            false,
        )
        .await;
    }
    let versions: BTreeSet<i64> = st.values().map(|e| e.meta.version()).collect();
    assert_eq!(
        versions,
        BTreeSet::from([1, 2, 3]),
        "versions after updates"
    );
    st
}

async fn describe(c: &Client, res: &Res) -> Described {
    macro_rules! described {
        ($data:expr) => {{
            let d = $data.unwrap_or_else(|| panic!("{res:?}: describe body missing"));
            Described {
                meta: d
                    .metadata()
                    .unwrap_or_else(|| panic!("{res:?}: no metadata"))
                    .clone(),
                status: format!("{:?}", d.status()),
                spec: format!("{:?}", d.spec()),
            }
        }};
    }
    let what = format!("describe {res:?}");
    match res {
        Res::Mesh(m) => {
            let out = ok(c.describe_mesh().mesh_name(m).send().await, &what);
            let d = out.mesh().unwrap();
            let status = d
                .status()
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_owned());
            assert_eq!(status.as_deref(), Some("ACTIVE"), "{what}");
            described!(out.mesh())
        }
        Res::Node(m, n) => {
            let out = ok(
                c.describe_virtual_node()
                    .mesh_name(m)
                    .virtual_node_name(n)
                    .send()
                    .await,
                &what,
            );
            assert_eq!(out.virtual_node().unwrap().virtual_node_name(), n);
            described!(out.virtual_node())
        }
        Res::Router(m, n) => {
            let out = ok(
                c.describe_virtual_router()
                    .mesh_name(m)
                    .virtual_router_name(n)
                    .send()
                    .await,
                &what,
            );
            described!(out.virtual_router())
        }
        Res::Route(m, vr, n) => {
            let out = ok(
                c.describe_route()
                    .mesh_name(m)
                    .virtual_router_name(vr)
                    .route_name(n)
                    .send()
                    .await,
                &what,
            );
            described!(out.route())
        }
        Res::Service(m, n) => {
            let out = ok(
                c.describe_virtual_service()
                    .mesh_name(m)
                    .virtual_service_name(n)
                    .send()
                    .await,
                &what,
            );
            described!(out.virtual_service())
        }
        Res::Gateway(m, n) => {
            let out = ok(
                c.describe_virtual_gateway()
                    .mesh_name(m)
                    .virtual_gateway_name(n)
                    .send()
                    .await,
                &what,
            );
            described!(out.virtual_gateway())
        }
        Res::GatewayRoute(m, g, n) => {
            let out = ok(
                c.describe_gateway_route()
                    .mesh_name(m)
                    .virtual_gateway_name(g)
                    .gateway_route_name(n)
                    .send()
                    .await,
                &what,
            );
            described!(out.gateway_route())
        }
    }
}

/// Every resource the list operations show, as `Res` keys with their ARN and version.
async fn list_everything(c: &Client) -> BTreeMap<Res, (String, i64)> {
    let mut all = BTreeMap::new();
    let mut put = |res: Res, arn: &str, version: i64| {
        let prev = all.insert(res.clone(), (arn.to_owned(), version));
        assert!(prev.is_none(), "{res:?} listed twice");
    };
    let meshes = ok(c.list_meshes().send().await, "list meshes");
    assert!(meshes.next_token().is_none());
    for m in meshes.meshes() {
        let mesh = m.mesh_name().to_owned();
        put(Res::Mesh(mesh.clone()), m.arn(), m.version());

        let out = ok(
            c.list_virtual_nodes()
                .mesh_name(&mesh)
                .limit(100)
                .send()
                .await,
            "list VNs",
        );
        assert!(out.next_token().is_none());
        for r in out.virtual_nodes() {
            put(
                Res::Node(mesh.clone(), r.virtual_node_name().into()),
                r.arn(),
                r.version(),
            );
        }
        let out = ok(
            c.list_virtual_routers().mesh_name(&mesh).send().await,
            "list VRs",
        );
        for r in out.virtual_routers() {
            let router = r.virtual_router_name().to_owned();
            put(
                Res::Router(mesh.clone(), router.clone()),
                r.arn(),
                r.version(),
            );
            let routes = ok(
                c.list_routes()
                    .mesh_name(&mesh)
                    .virtual_router_name(&router)
                    .send()
                    .await,
                "list routes",
            );
            for rt in routes.routes() {
                put(
                    Res::Route(mesh.clone(), router.clone(), rt.route_name().into()),
                    rt.arn(),
                    rt.version(),
                );
            }
        }
        let out = ok(
            c.list_virtual_services().mesh_name(&mesh).send().await,
            "list VSs",
        );
        for r in out.virtual_services() {
            put(
                Res::Service(mesh.clone(), r.virtual_service_name().into()),
                r.arn(),
                r.version(),
            );
        }
        let out = ok(
            c.list_virtual_gateways().mesh_name(&mesh).send().await,
            "list VGs",
        );
        for g in out.virtual_gateways() {
            let gw = g.virtual_gateway_name().to_owned();
            put(Res::Gateway(mesh.clone(), gw.clone()), g.arn(), g.version());
            let grs = ok(
                c.list_gateway_routes()
                    .mesh_name(&mesh)
                    .virtual_gateway_name(&gw)
                    .send()
                    .await,
                "list GRs",
            );
            for gr in grs.gateway_routes() {
                put(
                    Res::GatewayRoute(mesh.clone(), gw.clone(), gr.gateway_route_name().into()),
                    gr.arn(),
                    gr.version(),
                );
            }
        }
    }
    all
}

/// Asserts the server behind `c` holds exactly `expected`.
async fn verify(c: &Client, expected: &BTreeMap<Res, Expected>, when: &str) {
    for (res, exp) in expected {
        let d = describe(c, res).await;
        assert_eq!(d.meta, exp.meta, "{when}: {res:?} metadata");
        assert_eq!(d.spec, exp.spec, "{when}: {res:?} spec");
        if !matches!(res, Res::Mesh(_)) {
            assert!(
                d.status.contains("Active"),
                "{when}: {res:?} status {}",
                d.status
            );
        }
        assert_eq!(
            tags_of(c, &common::arn(&mesh_arn_path(res))).await,
            exp.tags,
            "{when}: {res:?} tags"
        );
    }
    let listed = list_everything(c).await;
    let want: BTreeMap<Res, (String, i64)> = expected
        .iter()
        .map(|(r, e)| (r.clone(), (e.meta.arn().to_owned(), e.meta.version())))
        .collect();
    assert_eq!(listed, want, "{when}: list operations");
}

/// After a restart: the server still takes writes and still knows existing names.
async fn still_works(c: &Client, expected: &BTreeMap<Res, Expected>) {
    let e = service_error(
        c.create_virtual_node()
            .mesh_name("dur-a")
            .virtual_node_name("node-00")
            .spec(node_spec("x.local", 80))
            .send()
            .await,
        "duplicate VN after restart",
    );
    assert!(e.is_conflict_exception(), "{e:?}");
    let out = ok(
        c.create_virtual_node()
            .mesh_name("dur-a")
            .virtual_node_name("after-restart")
            .spec(node_spec("after.local", 80))
            .send()
            .await,
        "create VN after restart",
    );
    let meta = out.virtual_node().unwrap().metadata().unwrap();
    assert_eq!(meta.version(), 1);
    common::check_meta(
        "VN after restart",
        Some(meta),
        "mesh/dur-a/virtualNode/after-restart",
        1,
    );
    let e = service_error(
        c.delete_virtual_node()
            .mesh_name("dur-a")
            .virtual_node_name("node-00")
            .send()
            .await,
        "delete a route target after restart",
    );
    assert!(e.is_resource_in_use_exception(), "{e:?}");

    // A node deleted before the restart can be created again, fresh and untagged.
    let out = ok(
        c.create_virtual_node()
            .mesh_name("dur-b")
            .virtual_node_name("doomed-0")
            .spec(node_spec("doomed.local", 80))
            .send()
            .await,
        "re-create a VN deleted before the restart",
    );
    assert_eq!(out.virtual_node().unwrap().metadata().unwrap().version(), 1);
    let doomed = Res::Node("dur-b".into(), "doomed-0".into());
    assert!(tags_of(c, &common::arn(&mesh_arn_path(&doomed)))
        .await
        .is_empty());

    // Replaying the create of mesh dur-b with its client token (what an SDK retry does)
    // returns the existing mesh rather than a conflict.
    let out = ok(
        c.create_mesh()
            .mesh_name("dur-b")
            .client_token(DUR_B_TOKEN)
            .spec(mesh_spec(EgressFilterType::AllowAll))
            .send()
            .await,
        "replay create mesh dur-b with its client token after restart",
    );
    let replay = out.mesh().unwrap().metadata().unwrap();
    assert_eq!(
        replay.uid(),
        expected[&Res::Mesh("dur-b".into())].meta.uid()
    );
    assert_eq!(replay.version(), 1);
}

#[tokio::test]
async fn sigterm_restart_keeps_every_resource() {
    let dir = common::data_dir();
    let server = Server::start(dir.path());
    let c = server.client();
    let expected = populate(&c).await;
    verify(&c, &expected, "before restart").await;
    server.terminate();

    let server = Server::start(dir.path());
    let c = server.client();
    verify(&c, &expected, "after SIGTERM restart").await;
    still_works(&c, &expected).await;
    server.terminate();

    // A second restart still has everything, including the post-restart write.
    let server = Server::start(dir.path());
    let c = server.client();
    let out = ok(
        c.describe_virtual_node()
            .mesh_name("dur-a")
            .virtual_node_name("after-restart")
            .send()
            .await,
        "describe VN created after the first restart",
    );
    assert_eq!(out.virtual_node().unwrap().metadata().unwrap().version(), 1);
    server.terminate();
}

#[tokio::test]
async fn sigkill_right_after_ack_keeps_every_resource() {
    let dir = common::data_dir();
    let server = Server::start(dir.path());
    let c = server.client();
    let expected = populate(&c).await;
    // The last update's response has just arrived: crash now.
    server.kill();

    let server = Server::start(dir.path());
    let c = server.client();
    verify(&c, &expected, "after SIGKILL restart").await;
    still_works(&c, &expected).await;
    server.kill();

    let server = Server::start(dir.path());
    let c = server.client();
    let out = ok(
        c.describe_virtual_node()
            .mesh_name("dur-a")
            .virtual_node_name("after-restart")
            .send()
            .await,
        "describe VN created before the second SIGKILL",
    );
    assert_eq!(out.virtual_node().unwrap().metadata().unwrap().version(), 1);
    server.terminate();
}
