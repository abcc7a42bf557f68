"""The service guide's canonical scenario, driven through the real AWS CLI (v1).

mesh `apps` -> VS serviceb.apps.local (empty spec) -> VNs serviceB, serviceBv2, serviceA ->
VR serviceB -> route serviceB-route (75/25, then 0/100) -> VS providers -> virtual gateway
ingress-gw -> gateway route gr-a; then negative probes and a dependency-ordered teardown.
"""

from __future__ import annotations

import pytest

from e2e_support import (
    ACCOUNT_ID,
    ARN_GWR,
    ARN_MESH,
    ARN_ROUTE,
    ARN_VGW,
    ARN_VN,
    ARN_VR,
    ARN_VS,
    GATEWAY_ROUTE_SPEC,
    GATEWAY_SPEC,
    GWR,
    MESH,
    MESH_SPEC,
    NODE_SPECS,
    ROUTE_B,
    ROUTER_SPEC,
    VGW,
    VN_A,
    VN_B,
    VN_B2,
    VR_B,
    VS_A,
    VS_B,
    VS_A_SPEC,
    VS_B_SPEC_ROUTER,
    AwsCli,
    assert_contains,
    assert_epoch_seconds,
    assert_iso_timestamp,
    j,
    make_client,
    route_spec,
)

M = ("--mesh-name", MESH)


def assert_metadata(md: dict, arn: str, version: int) -> None:
    assert md["arn"] == arn
    assert type(md["version"]) is int and md["version"] == version, f"{arn}: expected version {version}, got {md['version']!r}"
    assert md["meshOwner"] == ACCOUNT_ID
    assert md["resourceOwner"] == ACCOUNT_ID
    assert isinstance(md["uid"], str) and md["uid"], md
    created = assert_epoch_seconds(md["createdAt"], f"{arn} createdAt")
    updated = assert_epoch_seconds(md["lastUpdatedAt"], f"{arn} lastUpdatedAt")
    assert updated >= created, md


def assert_ref(item: dict, arn: str, version: int) -> None:
    """A list item (XxxRef): metadata fields inline, no uid/spec/status."""
    assert item["arn"] == arn
    assert item["version"] == version, item
    assert item["meshOwner"] == ACCOUNT_ID
    assert item["resourceOwner"] == ACCOUNT_ID
    assert_epoch_seconds(item["createdAt"], f"{arn} createdAt")
    assert_epoch_seconds(item["lastUpdatedAt"], f"{arn} lastUpdatedAt")
    for forbidden in ("uid", "spec", "status", "metadata"):
        assert forbidden not in item, f"list item has {forbidden!r}: {item}"


def build_scenario(cli: AwsCli) -> dict[str, dict]:
    """Runs the creation half of the scenario; returns the create outputs by resource."""
    out: dict[str, dict] = {}
    out["mesh"] = cli(
        "create-mesh", *M, "--spec", j(MESH_SPEC), "--tags", "key=team,value=core"
    )["mesh"]
    out["vs_b"] = cli(
        "create-virtual-service", *M, "--virtual-service-name", VS_B, "--spec", "{}"
    )["virtualService"]
    for name in (VN_B, VN_B2, VN_A):
        out[f"vn_{name}"] = cli(
            "create-virtual-node", *M, "--virtual-node-name", name, "--spec", j(NODE_SPECS[name])
        )["virtualNode"]
    out["vr"] = cli(
        "create-virtual-router", *M, "--virtual-router-name", VR_B, "--spec", j(ROUTER_SPEC)
    )["virtualRouter"]
    out["route"] = cli(
        "create-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B,
        "--spec", j(route_spec(75, 25)),
    )["route"]
    out["route_v2"] = cli(
        "update-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B,
        "--spec", j(route_spec(0, 100)),
    )["route"]
    out["vs_b_v2"] = cli(
        "update-virtual-service", *M, "--virtual-service-name", VS_B,
        "--spec", j(VS_B_SPEC_ROUTER),
    )["virtualService"]
    out["vs_a"] = cli(
        "create-virtual-service", *M, "--virtual-service-name", VS_A, "--spec", j(VS_A_SPEC)
    )["virtualService"]
    out["vgw"] = cli(
        "create-virtual-gateway", *M, "--virtual-gateway-name", VGW, "--spec", j(GATEWAY_SPEC)
    )["virtualGateway"]
    out["gwr"] = cli(
        "create-gateway-route", *M, "--virtual-gateway-name", VGW, "--gateway-route-name", GWR,
        "--spec", j(GATEWAY_ROUTE_SPEC),
    )["gatewayRoute"]
    return out


def test_canonical_scenario_create_describe_list_update_delete(cli: AwsCli):
    created = build_scenario(cli)

    # ---- create outputs -------------------------------------------------------------------
    mesh = created["mesh"]
    assert mesh["meshName"] == MESH
    assert_contains(mesh["spec"], MESH_SPEC)
    assert mesh["status"]["status"] == "ACTIVE"
    assert_metadata(mesh["metadata"], ARN_MESH, 1)

    vs_b = created["vs_b"]
    assert (vs_b["meshName"], vs_b["virtualServiceName"]) == (MESH, VS_B)
    assert "provider" not in vs_b["spec"], vs_b["spec"]
    assert vs_b["status"]["status"] == "ACTIVE"
    assert_metadata(vs_b["metadata"], ARN_VS[VS_B], 1)

    for name in (VN_B, VN_B2, VN_A):
        vn = created[f"vn_{name}"]
        assert (vn["meshName"], vn["virtualNodeName"]) == (MESH, name)
        assert_contains(vn["spec"], NODE_SPECS[name])
        assert vn["status"]["status"] == "ACTIVE"
        assert_metadata(vn["metadata"], ARN_VN[name], 1)

    vr = created["vr"]
    assert (vr["meshName"], vr["virtualRouterName"]) == (MESH, VR_B)
    assert_contains(vr["spec"], ROUTER_SPEC)
    assert_metadata(vr["metadata"], ARN_VR, 1)

    route = created["route"]
    assert (route["meshName"], route["virtualRouterName"], route["routeName"]) == (MESH, VR_B, ROUTE_B)
    assert_contains(route["spec"], route_spec(75, 25))
    assert_metadata(route["metadata"], ARN_ROUTE, 1)

    # update-route: version 1 -> 2, weights exactly as sent, including the 0.
    route2 = created["route_v2"]
    assert_contains(route2["spec"], route_spec(0, 100))
    assert_metadata(route2["metadata"], ARN_ROUTE, 2)
    assert route2["metadata"]["uid"] == route["metadata"]["uid"]
    assert route2["metadata"]["createdAt"] == route["metadata"]["createdAt"]
    assert route2["metadata"]["lastUpdatedAt"] >= route["metadata"]["lastUpdatedAt"]

    vs_b2 = created["vs_b_v2"]
    assert_contains(vs_b2["spec"], VS_B_SPEC_ROUTER)
    assert_metadata(vs_b2["metadata"], ARN_VS[VS_B], 2)

    assert_contains(created["vs_a"]["spec"], VS_A_SPEC)
    assert_metadata(created["vs_a"]["metadata"], ARN_VS[VS_A], 1)

    vgw = created["vgw"]
    assert (vgw["meshName"], vgw["virtualGatewayName"]) == (MESH, VGW)
    assert_contains(vgw["spec"], GATEWAY_SPEC)
    assert_metadata(vgw["metadata"], ARN_VGW, 1)

    gwr = created["gwr"]
    assert (gwr["meshName"], gwr["virtualGatewayName"], gwr["gatewayRouteName"]) == (MESH, VGW, GWR)
    assert_contains(gwr["spec"], GATEWAY_ROUTE_SPEC)
    assert_metadata(gwr["metadata"], ARN_GWR, 1)

    # Every resource has its own uid (moto famously hands out one uid for everything).
    uids = [r["metadata"]["uid"] for k, r in created.items() if k not in ("route_v2", "vs_b_v2")]
    assert len(set(uids)) == len(uids), uids

    # ---- describe everything ------------------------------------------------------------
    d = cli("describe-mesh", *M)["mesh"]
    assert d["meshName"] == MESH and d["status"]["status"] == "ACTIVE"
    assert_contains(d["spec"], MESH_SPEC)
    assert d["metadata"] == mesh["metadata"], "describe must return the stored metadata unchanged"

    for name in (VN_B, VN_B2, VN_A):
        d = cli("describe-virtual-node", *M, "--virtual-node-name", name)["virtualNode"]
        assert d["virtualNodeName"] == name and d["status"]["status"] == "ACTIVE"
        assert_contains(d["spec"], NODE_SPECS[name])
        assert d["metadata"] == created[f"vn_{name}"]["metadata"]

    d = cli("describe-virtual-router", *M, "--virtual-router-name", VR_B)["virtualRouter"]
    assert d["status"]["status"] == "ACTIVE"
    assert_contains(d["spec"], ROUTER_SPEC)
    assert_metadata(d["metadata"], ARN_VR, 1)

    d = cli("describe-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B)["route"]
    assert d["status"]["status"] == "ACTIVE"
    weights = [(t["virtualNode"], t["weight"]) for t in d["spec"]["http2Route"]["action"]["weightedTargets"]]
    assert weights == [(VN_B, 0), (VN_B2, 100)]
    assert_contains(d["spec"], route_spec(0, 100))
    assert d["metadata"] == route2["metadata"]

    d = cli("describe-virtual-service", *M, "--virtual-service-name", VS_B)["virtualService"]
    assert d["spec"]["provider"] == {"virtualRouter": {"virtualRouterName": VR_B}}
    assert d["status"]["status"] == "ACTIVE"
    assert_metadata(d["metadata"], ARN_VS[VS_B], 2)

    d = cli("describe-virtual-service", *M, "--virtual-service-name", VS_A)["virtualService"]
    assert d["spec"]["provider"] == {"virtualNode": {"virtualNodeName": VN_A}}
    assert_metadata(d["metadata"], ARN_VS[VS_A], 1)

    d = cli("describe-virtual-gateway", *M, "--virtual-gateway-name", VGW)["virtualGateway"]
    assert_contains(d["spec"], GATEWAY_SPEC)
    assert d["status"]["status"] == "ACTIVE"
    assert_metadata(d["metadata"], ARN_VGW, 1)

    d = cli(
        "describe-gateway-route", *M, "--virtual-gateway-name", VGW, "--gateway-route-name", GWR
    )["gatewayRoute"]
    assert_contains(d["spec"], GATEWAY_ROUTE_SPEC)
    assert d["status"]["status"] == "ACTIVE"
    assert_metadata(d["metadata"], ARN_GWR, 1)

    # ---- list everything ----------------------------------------------------------------
    meshes = cli("list-meshes")["meshes"]
    assert [m["meshName"] for m in meshes] == [MESH]
    assert_ref(meshes[0], ARN_MESH, 1)

    nodes = cli("list-virtual-nodes", *M)["virtualNodes"]
    assert sorted(n["virtualNodeName"] for n in nodes) == sorted([VN_A, VN_B, VN_B2])
    for n in nodes:
        assert n["meshName"] == MESH
        assert_ref(n, ARN_VN[n["virtualNodeName"]], 1)

    routers = cli("list-virtual-routers", *M)["virtualRouters"]
    assert [r["virtualRouterName"] for r in routers] == [VR_B]
    assert_ref(routers[0], ARN_VR, 1)

    routes = cli("list-routes", *M, "--virtual-router-name", VR_B)["routes"]
    assert [(r["virtualRouterName"], r["routeName"]) for r in routes] == [(VR_B, ROUTE_B)]
    assert_ref(routes[0], ARN_ROUTE, 2)

    services = cli("list-virtual-services", *M)["virtualServices"]
    assert sorted(s["virtualServiceName"] for s in services) == sorted([VS_A, VS_B])
    versions = {s["virtualServiceName"]: s["version"] for s in services}
    assert versions == {VS_B: 2, VS_A: 1}
    for s in services:
        assert_ref(s, ARN_VS[s["virtualServiceName"]], versions[s["virtualServiceName"]])

    gateways = cli("list-virtual-gateways", *M)["virtualGateways"]
    assert [g["virtualGatewayName"] for g in gateways] == [VGW]
    assert_ref(gateways[0], ARN_VGW, 1)

    gw_routes = cli("list-gateway-routes", *M, "--virtual-gateway-name", VGW)["gatewayRoutes"]
    assert [(g["virtualGatewayName"], g["gatewayRouteName"]) for g in gw_routes] == [(VGW, GWR)]
    assert_ref(gw_routes[0], ARN_GWR, 1)

    tags = cli("list-tags-for-resource", "--resource-arn", ARN_MESH)["tags"]
    assert tags == [{"key": "team", "value": "core"}]

    # ---- update the mesh: version bump, spec replaced ---------------------------------------
    upd = cli("update-mesh", *M, "--spec", j({"egressFilter": {"type": "DROP_ALL"}}))["mesh"]
    assert upd["spec"]["egressFilter"] == {"type": "DROP_ALL"}
    assert_metadata(upd["metadata"], ARN_MESH, 2)
    assert upd["metadata"]["uid"] == mesh["metadata"]["uid"]
    assert upd["metadata"]["createdAt"] == mesh["metadata"]["createdAt"]
    assert cli("describe-mesh", *M)["mesh"]["metadata"]["version"] == 2

    # ---- teardown in dependency order -----------------------------------------------------
    teardown = [
        (("delete-gateway-route", *M, "--virtual-gateway-name", VGW, "--gateway-route-name", GWR),
         "gatewayRoute", "gatewayRouteName", GWR),
        (("delete-virtual-gateway", *M, "--virtual-gateway-name", VGW),
         "virtualGateway", "virtualGatewayName", VGW),
        (("delete-virtual-service", *M, "--virtual-service-name", VS_A),
         "virtualService", "virtualServiceName", VS_A),
        (("delete-virtual-node", *M, "--virtual-node-name", VN_A),
         "virtualNode", "virtualNodeName", VN_A),
        (("delete-virtual-service", *M, "--virtual-service-name", VS_B),
         "virtualService", "virtualServiceName", VS_B),
        (("delete-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B),
         "route", "routeName", ROUTE_B),
        (("delete-virtual-router", *M, "--virtual-router-name", VR_B),
         "virtualRouter", "virtualRouterName", VR_B),
        (("delete-virtual-node", *M, "--virtual-node-name", VN_B2),
         "virtualNode", "virtualNodeName", VN_B2),
        (("delete-virtual-node", *M, "--virtual-node-name", VN_B),
         "virtualNode", "virtualNodeName", VN_B),
        (("delete-mesh", *M), "mesh", "meshName", MESH),
    ]
    for args, key, name_field, name in teardown:
        res = cli(*args)
        assert key in res, f"{args[0]}: expected top-level {key!r}, got {res}"
        assert res[key][name_field] == name
        assert res[key]["status"]["status"] == "DELETED", f"{args[0]} {name}: {res[key]['status']}"

    # The deleted resources are gone.
    cli.fail("describe-mesh", *M, code="NotFoundException")
    assert cli("list-meshes") == {"meshes": []}


def test_delete_blocked_by_dependants(cli: AwsCli):
    build_scenario(cli)

    probes = [
        # (delete command, what blocks it)
        (("delete-virtual-node", *M, "--virtual-node-name", VN_B), "route targets serviceB (weight 0)"),
        (("delete-virtual-node", *M, "--virtual-node-name", VN_B2), "route targets serviceBv2"),
        (("delete-virtual-node", *M, "--virtual-node-name", VN_A), "VS servicea.apps.local provider"),
        (("delete-virtual-router", *M, "--virtual-router-name", VR_B), "router has a route"),
        (("delete-virtual-gateway", *M, "--virtual-gateway-name", VGW), "gateway has a gateway route"),
        (("delete-virtual-service", *M, "--virtual-service-name", VS_A), "gateway route targets it"),
        # last, so a server that cascades does not mask the probes above
        (("delete-mesh", *M), "mesh still has resources"),
    ]
    errors = cli.expect_all("ResourceInUseException", [args for args, _why in probes])
    assert all(e.message for e in errors), [e.stderr for e in errors]

    # Nothing was deleted and nothing changed.
    assert cli("describe-mesh", *M)["mesh"]["status"]["status"] == "ACTIVE"
    nodes = cli("list-virtual-nodes", *M)["virtualNodes"]
    assert sorted(n["virtualNodeName"] for n in nodes) == sorted([VN_A, VN_B, VN_B2])
    assert all(n["version"] == 1 for n in nodes), nodes
    assert [r["virtualRouterName"] for r in cli("list-virtual-routers", *M)["virtualRouters"]] == [VR_B]
    assert [g["virtualGatewayName"] for g in cli("list-virtual-gateways", *M)["virtualGateways"]] == [VGW]
    assert sorted(s["virtualServiceName"] for s in cli("list-virtual-services", *M)["virtualServices"]) == sorted([VS_A, VS_B])

    # Removing the route frees the targets, but the router is still a VS provider.
    cli("delete-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B)
    cli.fail("delete-virtual-router", *M, "--virtual-router-name", VR_B, code="ResourceInUseException")
    assert cli("delete-virtual-node", *M, "--virtual-node-name", VN_B2)["virtualNode"]["status"]["status"] == "DELETED"


def test_describe_missing_is_not_found(cli: AwsCli):
    build_scenario(cli)
    probes = [
        ("describe-mesh", "--mesh-name", "nope"),
        ("describe-virtual-node", *M, "--virtual-node-name", "nope"),
        ("describe-virtual-node", "--mesh-name", "nope", "--virtual-node-name", VN_B),
        ("describe-virtual-router", *M, "--virtual-router-name", "nope"),
        ("describe-route", *M, "--virtual-router-name", VR_B, "--route-name", "nope"),
        ("describe-route", *M, "--virtual-router-name", "nope", "--route-name", ROUTE_B),
        ("describe-virtual-service", *M, "--virtual-service-name", "nope.apps.local"),
        ("describe-virtual-gateway", *M, "--virtual-gateway-name", "nope"),
        ("describe-gateway-route", *M, "--virtual-gateway-name", VGW, "--gateway-route-name", "nope"),
        ("list-virtual-nodes", "--mesh-name", "nope"),
        ("list-routes", *M, "--virtual-router-name", "nope"),
        ("delete-virtual-node", *M, "--virtual-node-name", "nope"),
        ("update-virtual-router", *M, "--virtual-router-name", "nope", "--spec", j(ROUTER_SPEC)),
        ("list-tags-for-resource", "--resource-arn", ARN_MESH + "/virtualNode/nope"),
    ]
    cli.expect_all("NotFoundException", probes)


def test_duplicate_create_is_conflict_and_keeps_original(cli: AwsCli):
    build_scenario(cli)
    probes = [
        ("create-mesh", *M, "--spec", j(MESH_SPEC)),
        ("create-virtual-node", *M, "--virtual-node-name", VN_B, "--spec", j(NODE_SPECS[VN_B])),
        ("create-virtual-router", *M, "--virtual-router-name", VR_B, "--spec", j(ROUTER_SPEC)),
        ("create-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B,
         "--spec", j(route_spec(50, 50))),
        ("create-virtual-service", *M, "--virtual-service-name", VS_A, "--spec", j(VS_A_SPEC)),
        ("create-virtual-gateway", *M, "--virtual-gateway-name", VGW, "--spec", j(GATEWAY_SPEC)),
        ("create-gateway-route", *M, "--virtual-gateway-name", VGW, "--gateway-route-name", GWR,
         "--spec", j(GATEWAY_ROUTE_SPEC)),
    ]
    cli.expect_all("ConflictException", probes)

    # The originals are untouched: spec, tags, version and children survive.
    mesh = cli("describe-mesh", *M)["mesh"]
    assert_contains(mesh["spec"], MESH_SPEC)
    assert mesh["metadata"]["version"] == 1
    assert cli("list-tags-for-resource", "--resource-arn", ARN_MESH)["tags"] == [
        {"key": "team", "value": "core"}
    ]
    assert len(cli("list-virtual-nodes", *M)["virtualNodes"]) == 3
    route = cli("describe-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B)["route"]
    assert_contains(route["spec"], route_spec(0, 100))
    assert route["metadata"]["version"] == 2


# ---- server-side validation: constraints botocore does not check client-side -----------------

LONG_NAME = "n" * 256


def _setup_for_validation(endpoint: str) -> None:
    c = make_client(endpoint)
    c.create_mesh(meshName=MESH)
    for name in (VN_B, VN_B2):
        c.create_virtual_node(meshName=MESH, virtualNodeName=name, spec=NODE_SPECS[name])
    c.create_virtual_router(meshName=MESH, virtualRouterName=VR_B, spec=ROUTER_SPEC)
    c.create_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B, spec=route_spec(75, 25))
    c.create_virtual_gateway(meshName=MESH, virtualGatewayName=VGW, spec=GATEWAY_SPEC)


def _node(port=80, protocol="http2") -> str:
    return j({
        "listeners": [{"portMapping": {"port": port, "protocol": protocol}}],
        "serviceDiscovery": {"dns": {"hostname": "bad.apps.local"}},
    })


VALIDATION_CASES = {
    "vn-port-70000": (
        ("create-virtual-node", *M, "--virtual-node-name", "bad", "--spec", _node(port=70000)),
        "port",
    ),
    "vn-protocol-https": (
        ("create-virtual-node", *M, "--virtual-node-name", "bad", "--spec", _node(protocol="https")),
        "protocol",
    ),
    "vn-name-256-chars": (
        ("create-virtual-node", *M, "--virtual-node-name", LONG_NAME, "--spec", _node()),
        "virtualNodeName",
    ),
    "mesh-name-256-chars": (("create-mesh", "--mesh-name", LONG_NAME), "meshName"),
    "vr-port-70000": (
        ("create-virtual-router", *M, "--virtual-router-name", "bad",
         "--spec", j({"listeners": [{"portMapping": {"port": 70000, "protocol": "http2"}}]})),
        "port",
    ),
    "vgw-protocol-tcp": (
        ("create-virtual-gateway", *M, "--virtual-gateway-name", "bad",
         "--spec", j({"listeners": [{"portMapping": {"port": 8080, "protocol": "tcp"}}]})),
        "protocol",
    ),
    "create-route-weight-101": (
        ("create-route", *M, "--virtual-router-name", VR_B, "--route-name", "bad",
         "--spec", j(route_spec(101, 0))),
        "weight",
    ),
    "update-route-weight-101": (
        ("update-route", *M, "--virtual-router-name", VR_B, "--route-name", ROUTE_B,
         "--spec", j(route_spec(0, 101))),
        "weight",
    ),
}


@pytest.mark.parametrize("case", list(VALIDATION_CASES), ids=list(VALIDATION_CASES))
def test_invalid_input_is_bad_request_naming_the_field(cli: AwsCli, endpoint: str, case: str):
    _setup_for_validation(endpoint)
    args, field = VALIDATION_CASES[case]
    err = cli.fail(*args)
    assert err.code == "BadRequestException", err.stderr
    assert field in err.message, f"message does not name {field!r}: {err.message!r}"

    # Nothing was created or changed by the rejected request.
    c = make_client(endpoint)
    assert [m["meshName"] for m in c.list_meshes()["meshes"]] == [MESH]
    assert sorted(n["virtualNodeName"] for n in c.list_virtual_nodes(meshName=MESH)["virtualNodes"]) == [VN_B, VN_B2]
    assert [r["virtualRouterName"] for r in c.list_virtual_routers(meshName=MESH)["virtualRouters"]] == [VR_B]
    assert [g["virtualGatewayName"] for g in c.list_virtual_gateways(meshName=MESH)["virtualGateways"]] == [VGW]
    routes = c.list_routes(meshName=MESH, virtualRouterName=VR_B)["routes"]
    assert [(r["routeName"], r["version"]) for r in routes] == [(ROUTE_B, 1)]
    route = c.describe_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B)["route"]
    assert_contains(route["spec"], route_spec(75, 25))


def test_cli_iso8601_timestamps_parse(cli_iso: AwsCli):
    """With cli_timestamp_format=iso8601 the CLI must be able to parse and re-render the
    server's timestamps (it cannot if they are not valid epoch numbers)."""
    created = cli_iso("create-mesh", *M, "--spec", j(MESH_SPEC))["mesh"]["metadata"]
    created_at = assert_iso_timestamp(created["createdAt"], "createdAt")
    assert_iso_timestamp(created["lastUpdatedAt"], "lastUpdatedAt")
    listed = cli_iso("list-meshes")["meshes"][0]
    assert assert_iso_timestamp(listed["createdAt"]) == created_at
    node = cli_iso(
        "create-virtual-node", *M, "--virtual-node-name", VN_B, "--spec", j(NODE_SPECS[VN_B])
    )["virtualNode"]["metadata"]
    assert assert_iso_timestamp(node["createdAt"]) >= created_at


def test_cli_pagination_flags(cli: AwsCli, endpoint: str):
    c = make_client(endpoint)
    c.create_mesh(meshName=MESH)
    names = [f"vn-{i}" for i in range(5)]
    for n in names:
        c.create_virtual_node(meshName=MESH, virtualNodeName=n, spec=NODE_SPECS[VN_B])

    # --page-size 1: the CLI follows nextToken itself and merges the pages
    merged = cli("list-virtual-nodes", *M, "--page-size", "1")
    assert sorted(n["virtualNodeName"] for n in merged["virtualNodes"]) == names
    assert "NextToken" not in merged and "nextToken" not in merged

    # --max-items / --starting-token: resumable walk, every item exactly once
    seen: list[str] = []
    args = ["list-virtual-nodes", *M, "--max-items", "2", "--page-size", "1"]
    for _ in range(10):
        out = cli(*args)
        assert len(out["virtualNodes"]) <= 2
        seen += [n["virtualNodeName"] for n in out["virtualNodes"]]
        if "NextToken" not in out:
            break
        args = ["list-virtual-nodes", *M, "--max-items", "2", "--page-size", "1",
                "--starting-token", out["NextToken"]]
    assert sorted(seen) == names and len(seen) == len(names), seen
