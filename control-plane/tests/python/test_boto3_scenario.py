"""The canonical lifecycle through boto3, plus pagination, clientToken idempotency, tagging,
quotas, meshOwner checks and restart durability.

Errors are caught with the typed ``client.exceptions.XxxException`` classes: botocore maps a
response onto those only when ``x-amzn-ErrorType`` carries exactly the model's shape name.
"""

from __future__ import annotations

import uuid

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
    MESH_TAGS,
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
    assert_contains,
    assert_datetime,
    make_client,
    route_spec,
)

DROP_ALL = {"egressFilter": {"type": "DROP_ALL"}}


def error_of(excinfo) -> tuple[str, int, str]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def check_metadata(md: dict, arn: str, version: int) -> None:
    assert md["arn"] == arn
    assert md["version"] == version, f"{arn}: version {md['version']} != {version}"
    assert md["meshOwner"] == ACCOUNT_ID and md["resourceOwner"] == ACCOUNT_ID, md
    assert md["uid"]
    created = assert_datetime(md["createdAt"], "createdAt")
    updated = assert_datetime(md["lastUpdatedAt"], "lastUpdatedAt")
    assert updated >= created


def build_scenario(c) -> dict:
    out = {}
    out["mesh"] = c.create_mesh(meshName=MESH, spec=MESH_SPEC, tags=MESH_TAGS)["mesh"]
    out["vs_b"] = c.create_virtual_service(meshName=MESH, virtualServiceName=VS_B, spec={})["virtualService"]
    for name in (VN_B, VN_B2, VN_A):
        out[name] = c.create_virtual_node(meshName=MESH, virtualNodeName=name, spec=NODE_SPECS[name])["virtualNode"]
    out["vr"] = c.create_virtual_router(meshName=MESH, virtualRouterName=VR_B, spec=ROUTER_SPEC)["virtualRouter"]
    out["route"] = c.create_route(
        meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B, spec=route_spec(75, 25)
    )["route"]
    out["route2"] = c.update_route(
        meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B, spec=route_spec(0, 100)
    )["route"]
    out["vs_b2"] = c.update_virtual_service(
        meshName=MESH, virtualServiceName=VS_B, spec=VS_B_SPEC_ROUTER
    )["virtualService"]
    out["vs_a"] = c.create_virtual_service(meshName=MESH, virtualServiceName=VS_A, spec=VS_A_SPEC)["virtualService"]
    out["vgw"] = c.create_virtual_gateway(meshName=MESH, virtualGatewayName=VGW, spec=GATEWAY_SPEC)["virtualGateway"]
    out["gwr"] = c.create_gateway_route(
        meshName=MESH, virtualGatewayName=VGW, gatewayRouteName=GWR, spec=GATEWAY_ROUTE_SPEC
    )["gatewayRoute"]
    return out


def test_lifecycle_with_typed_errors(appmesh):
    c = appmesh
    out = build_scenario(c)

    check_metadata(out["mesh"]["metadata"], ARN_MESH, 1)
    assert out["mesh"]["status"]["status"] == "ACTIVE"
    assert_contains(out["mesh"]["spec"], MESH_SPEC)
    for name in (VN_B, VN_B2, VN_A):
        check_metadata(out[name]["metadata"], ARN_VN[name], 1)
        assert_contains(out[name]["spec"], NODE_SPECS[name])
    check_metadata(out["vr"]["metadata"], ARN_VR, 1)
    check_metadata(out["route"]["metadata"], ARN_ROUTE, 1)
    check_metadata(out["route2"]["metadata"], ARN_ROUTE, 2)
    assert [t["weight"] for t in out["route2"]["spec"]["http2Route"]["action"]["weightedTargets"]] == [0, 100]
    check_metadata(out["vs_b"]["metadata"], ARN_VS[VS_B], 1)
    check_metadata(out["vs_b2"]["metadata"], ARN_VS[VS_B], 2)
    check_metadata(out["vs_a"]["metadata"], ARN_VS[VS_A], 1)
    check_metadata(out["vgw"]["metadata"], ARN_VGW, 1)
    check_metadata(out["gwr"]["metadata"], ARN_GWR, 1)

    # describe round-trips
    r = c.describe_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B)["route"]
    assert r == out["route2"]
    assert c.describe_virtual_service(meshName=MESH, virtualServiceName=VS_B)["virtualService"] == out["vs_b2"]
    assert c.describe_gateway_route(meshName=MESH, virtualGatewayName=VGW, gatewayRouteName=GWR)["gatewayRoute"] == out["gwr"]
    assert c.describe_mesh(meshName=MESH)["mesh"] == out["mesh"]

    # typed errors: NotFound (404)
    with pytest.raises(c.exceptions.NotFoundException) as ei:
        c.describe_virtual_node(meshName=MESH, virtualNodeName="missing")
    code, status, msg = error_of(ei)
    assert (code, status) == ("NotFoundException", 404) and msg
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_mesh(meshName="missing")
    with pytest.raises(c.exceptions.NotFoundException):
        c.create_virtual_node(meshName="missing", virtualNodeName="x", spec=NODE_SPECS[VN_B])
    with pytest.raises(c.exceptions.NotFoundException):
        c.create_route(meshName=MESH, virtualRouterName="missing", routeName="r", spec=route_spec(50, 50))

    # Conflict (409) on duplicate create
    with pytest.raises(c.exceptions.ConflictException) as ei:
        c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B])
    assert error_of(ei)[:2] == ("ConflictException", 409)
    with pytest.raises(c.exceptions.ConflictException):
        c.create_mesh(meshName=MESH)
    assert c.describe_mesh(meshName=MESH)["mesh"] == out["mesh"], "a rejected duplicate must not replace the mesh"

    # ResourceInUse (409) on deletes blocked by dependants
    with pytest.raises(c.exceptions.ResourceInUseException) as ei:
        c.delete_mesh(meshName=MESH)
    assert error_of(ei)[:2] == ("ResourceInUseException", 409)
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_B)
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_router(meshName=MESH, virtualRouterName=VR_B)

    # BadRequest (400) naming the field
    with pytest.raises(c.exceptions.BadRequestException) as ei:
        c.create_virtual_node(
            meshName=MESH, virtualNodeName="bad",
            spec={"listeners": [{"portMapping": {"port": 70000, "protocol": "http"}}]},
        )
    code, status, msg = error_of(ei)
    assert (code, status) == ("BadRequestException", 400) and "port" in msg, msg
    with pytest.raises(c.exceptions.BadRequestException) as ei:
        c.update_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B, spec=route_spec(101, 0))
    assert "weight" in error_of(ei)[2]

    # teardown in dependency order; each delete returns the resource as DELETED
    deletes = [
        (lambda: c.delete_gateway_route(meshName=MESH, virtualGatewayName=VGW, gatewayRouteName=GWR), "gatewayRoute", 1),
        (lambda: c.delete_virtual_gateway(meshName=MESH, virtualGatewayName=VGW), "virtualGateway", 1),
        (lambda: c.delete_virtual_service(meshName=MESH, virtualServiceName=VS_A), "virtualService", 1),
        (lambda: c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_A), "virtualNode", 1),
        (lambda: c.delete_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B), "route", 2),
    ]
    for fn, key, version in deletes:
        res = fn()[key]
        assert res["status"]["status"] == "DELETED", res
        assert res["metadata"]["version"] >= version

    # Route gone, but VS serviceb.apps.local still names the router as provider.
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_router(meshName=MESH, virtualRouterName=VR_B)
    assert c.delete_virtual_service(meshName=MESH, virtualServiceName=VS_B)["virtualService"]["status"]["status"] == "DELETED"
    assert c.delete_virtual_router(meshName=MESH, virtualRouterName=VR_B)["virtualRouter"]["status"]["status"] == "DELETED"
    for name in (VN_B2, VN_B):
        assert c.delete_virtual_node(meshName=MESH, virtualNodeName=name)["virtualNode"]["status"]["status"] == "DELETED"
    deleted = c.delete_mesh(meshName=MESH)["mesh"]
    assert deleted["status"]["status"] == "DELETED"
    assert deleted["meshName"] == MESH and deleted["metadata"]["arn"] == ARN_MESH

    # gone for good
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_mesh(meshName=MESH)
    with pytest.raises(c.exceptions.NotFoundException):
        c.delete_mesh(meshName=MESH)
    assert c.list_meshes()["meshes"] == []
    # The name is free again, and the new mesh is a new resource.
    again = c.create_mesh(meshName=MESH)["mesh"]
    assert again["metadata"]["version"] == 1
    assert again["metadata"]["uid"] != out["mesh"]["metadata"]["uid"]


# ---- pagination ------------------------------------------------------------------------------


def test_pagination_manual_and_paginator(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH)
    names = [f"vn-{i}" for i in range(7)]
    for n in names:
        c.create_virtual_node(meshName=MESH, virtualNodeName=n, spec=NODE_SPECS[VN_B])

    # manual walk, limit=1
    seen: list[str] = []
    kwargs = {"meshName": MESH, "limit": 1}
    pages = 0
    while True:
        page = c.list_virtual_nodes(**kwargs)
        pages += 1
        assert pages <= 8, "pagination does not terminate"
        items = page["virtualNodes"]
        assert len(items) <= 1, f"limit=1 returned {len(items)} items"
        seen += [i["virtualNodeName"] for i in items]
        if "nextToken" not in page:
            break
        assert isinstance(page["nextToken"], str) and page["nextToken"]
        assert len(items) == 1, "a page with a nextToken must not be empty"
        kwargs["nextToken"] = page["nextToken"]
    assert sorted(seen) == sorted(names), f"items missing or repeated: {seen}"
    assert len(seen) == len(set(seen))

    # boto3 paginator, page size 3
    paginator = c.get_paginator("list_virtual_nodes")
    pages = list(paginator.paginate(meshName=MESH, PaginationConfig={"PageSize": 3}))
    sizes = [len(p["virtualNodes"]) for p in pages]
    assert all(s <= 3 for s in sizes), sizes
    assert "nextToken" not in pages[-1]
    via_paginator = [i["virtualNodeName"] for p in pages for i in p["virtualNodes"]]
    assert sorted(via_paginator) == sorted(names) and len(via_paginator) == 7
    assert len(pages) >= 3, f"7 items at page size 3 need at least 3 pages, got sizes {sizes}"

    # no limit: everything on one page, no nextToken
    full = c.list_virtual_nodes(meshName=MESH)
    assert sorted(i["virtualNodeName"] for i in full["virtualNodes"]) == sorted(names)
    assert "nextToken" not in full

    # list items are refs: no uid/spec/status
    for item in full["virtualNodes"]:
        assert set(item) >= {"meshName", "virtualNodeName", "arn", "createdAt", "lastUpdatedAt",
                             "meshOwner", "resourceOwner", "version"}
        assert not {"uid", "spec", "status"} & set(item), item


def test_pagination_of_meshes_with_cli_style_max_items(appmesh):
    c = appmesh
    names = [f"mesh-{i}" for i in range(4)]
    for n in names:
        c.create_mesh(meshName=n)
    paginator = c.get_paginator("list_meshes")
    first = paginator.paginate(PaginationConfig={"MaxItems": 2, "PageSize": 1}).build_full_result()
    assert len(first["meshes"]) == 2 and "NextToken" in first
    rest = paginator.paginate(
        PaginationConfig={"PageSize": 1, "StartingToken": first["NextToken"]}
    ).build_full_result()
    got = [m["meshName"] for m in first["meshes"] + rest["meshes"]]
    assert sorted(got) == names and len(got) == 4


# ---- clientToken idempotency -----------------------------------------------------------------


def test_client_token_idempotency_mesh(appmesh):
    c = appmesh
    token = str(uuid.uuid4())
    r1 = c.create_mesh(meshName="idem", spec=MESH_SPEC, clientToken=token)["mesh"]
    r2 = c.create_mesh(meshName="idem", spec=MESH_SPEC, clientToken=token)["mesh"]
    assert r2["metadata"]["uid"] == r1["metadata"]["uid"]
    assert r2["metadata"]["version"] == 1
    assert r2 == r1, "a replayed create must return the same response"
    assert [m["meshName"] for m in c.list_meshes()["meshes"]] == ["idem"]

    with pytest.raises(c.exceptions.ConflictException):
        c.create_mesh(meshName="idem", spec=DROP_ALL, clientToken=token)
    assert c.describe_mesh(meshName="idem")["mesh"] == r1

    up_token = str(uuid.uuid4())
    u1 = c.update_mesh(meshName="idem", spec=DROP_ALL, clientToken=up_token)["mesh"]
    u2 = c.update_mesh(meshName="idem", spec=DROP_ALL, clientToken=up_token)["mesh"]
    assert u1["metadata"]["version"] == 2
    assert u2["metadata"]["version"] == 2, "a replayed update must not bump the version again"
    assert u2 == u1
    assert c.describe_mesh(meshName="idem")["mesh"]["metadata"]["version"] == 2

    with pytest.raises(c.exceptions.ConflictException):
        c.update_mesh(meshName="idem", spec=MESH_SPEC, clientToken=up_token)
    after = c.describe_mesh(meshName="idem")["mesh"]
    assert after["metadata"]["version"] == 2
    assert after["spec"]["egressFilter"] == {"type": "DROP_ALL"}

    # a fresh token is a new request
    u3 = c.update_mesh(meshName="idem", spec=MESH_SPEC, clientToken=str(uuid.uuid4()))["mesh"]
    assert u3["metadata"]["version"] == 3
    assert u3["spec"]["egressFilter"] == {"type": "ALLOW_ALL"}


def test_client_token_idempotency_virtual_node(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH)
    token = str(uuid.uuid4())
    kw = dict(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B], clientToken=token)
    n1 = c.create_virtual_node(**kw)["virtualNode"]
    n2 = c.create_virtual_node(**kw)["virtualNode"]
    assert n2 == n1
    assert len(c.list_virtual_nodes(meshName=MESH)["virtualNodes"]) == 1
    with pytest.raises(c.exceptions.ConflictException):
        c.create_virtual_node(**{**kw, "spec": NODE_SPECS[VN_B2]})

    up = dict(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B2], clientToken=str(uuid.uuid4()))
    v1 = c.update_virtual_node(**up)["virtualNode"]
    v2 = c.update_virtual_node(**up)["virtualNode"]
    assert v1["metadata"]["version"] == 2 and v2["metadata"]["version"] == 2
    assert c.describe_virtual_node(meshName=MESH, virtualNodeName=VN_B)["virtualNode"]["metadata"]["version"] == 2
    with pytest.raises(c.exceptions.ConflictException):
        c.update_virtual_node(**{**up, "spec": NODE_SPECS[VN_B]})


def test_botocore_autofilled_tokens_do_not_collide(appmesh):
    """Without an explicit clientToken botocore sends a fresh UUID each time: two updates are
    two versions, and a second create of the same name is a plain conflict."""
    c = appmesh
    c.create_mesh(meshName=MESH)
    assert c.update_mesh(meshName=MESH, spec=DROP_ALL)["mesh"]["metadata"]["version"] == 2
    assert c.update_mesh(meshName=MESH, spec=DROP_ALL)["mesh"]["metadata"]["version"] == 3
    with pytest.raises(c.exceptions.ConflictException):
        c.create_mesh(meshName=MESH)


# ---- tags ------------------------------------------------------------------------------------


def _all_tags(c, arn: str, limit: int | None = None) -> list[dict]:
    tags: list[dict] = []
    kwargs: dict = {"resourceArn": arn}
    if limit:
        kwargs["limit"] = limit
    for _ in range(200):
        page = c.list_tags_for_resource(**kwargs)
        if limit:
            assert len(page["tags"]) <= limit
        tags += page["tags"]
        if "nextToken" not in page:
            return tags
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError("tag pagination does not terminate")


def _as_dict(tags: list[dict]) -> dict:
    d = {t["key"]: t["value"] for t in tags}
    assert len(d) == len(tags), f"duplicate tag keys: {tags}"
    return d


def test_tags_tag_list_untag_and_limits(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH, spec=MESH_SPEC, tags=MESH_TAGS)
    assert _as_dict(_all_tags(c, ARN_MESH)) == {"team": "core"}

    res = c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": "env", "value": "dev"}, {"key": "owner", "value": "alice"}])
    assert set(res) == {"ResponseMetadata"}, res

    paged = _all_tags(c, ARN_MESH, limit=1)
    assert _as_dict(paged) == {"team": "core", "env": "dev", "owner": "alice"}
    first = c.list_tags_for_resource(resourceArn=ARN_MESH, limit=1)
    assert len(first["tags"]) == 1 and "nextToken" in first
    via_paginator = [t for p in c.get_paginator("list_tags_for_resource").paginate(
        resourceArn=ARN_MESH, PaginationConfig={"PageSize": 2}) for t in p["tags"]]
    assert _as_dict(via_paginator) == _as_dict(paged)

    # tagging an existing key overwrites it (no duplicate key)
    c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": "team", "value": "platform"}])
    assert _as_dict(_all_tags(c, ARN_MESH)) == {"team": "platform", "env": "dev", "owner": "alice"}

    assert set(c.untag_resource(resourceArn=ARN_MESH, tagKeys=["env"])) == {"ResponseMetadata"}
    assert _as_dict(_all_tags(c, ARN_MESH)) == {"team": "platform", "owner": "alice"}

    # tags do not touch the resource version
    assert c.describe_mesh(meshName=MESH)["mesh"]["metadata"]["version"] == 1

    # fill up to exactly 50, then one more new key is too many
    c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": f"k{i:02d}", "value": str(i)} for i in range(48)])
    assert len(_all_tags(c, ARN_MESH)) == 50
    with pytest.raises(c.exceptions.TooManyTagsException) as ei:
        c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": "one-too-many", "value": "x"}])
    assert error_of(ei)[:2] == ("TooManyTagsException", 400)
    after = _as_dict(_all_tags(c, ARN_MESH, limit=50))
    assert len(after) == 50 and "one-too-many" not in after
    # overwriting an existing key at the limit is fine
    c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": "k00", "value": "changed"}])
    assert _as_dict(_all_tags(c, ARN_MESH))["k00"] == "changed"


def test_tags_51_at_once_and_on_child_resources(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH)
    c.create_virtual_node(
        meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B], tags=[{"key": "app", "value": "b"}]
    )
    assert _as_dict(_all_tags(c, ARN_VN[VN_B])) == {"app": "b"}
    # 51 in one request: the model's TagList has max 50, so a shape-level BadRequestException is
    # as valid as TooManyTagsException; either way nothing may be applied.
    with pytest.raises((c.exceptions.TooManyTagsException, c.exceptions.BadRequestException)) as ei:
        c.tag_resource(resourceArn=ARN_MESH, tags=[{"key": f"t{i}", "value": "v"} for i in range(51)])
    assert error_of(ei)[1] == 400
    assert _all_tags(c, ARN_MESH) == []
    with pytest.raises(c.exceptions.NotFoundException):
        c.tag_resource(resourceArn=ARN_MESH + "/virtualNode/missing", tags=[{"key": "a", "value": "b"}])
    with pytest.raises(c.exceptions.NotFoundException):
        c.list_tags_for_resource(resourceArn=f"arn:aws:appmesh:us-east-1:{ACCOUNT_ID}:mesh/missing")

    # Deleting and re-creating a resource does not resurrect its old tags.
    c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_B)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B])
    assert _all_tags(c, ARN_VN[VN_B]) == []


# ---- quotas ----------------------------------------------------------------------------------


def test_mesh_quota_limit_exceeded(start_server):
    srv = start_server(quotas={"meshes": 2})
    c = make_client(srv.endpoint)
    c.create_mesh(meshName="m1")
    c.create_mesh(meshName="m2")
    with pytest.raises(c.exceptions.LimitExceededException) as ei:
        c.create_mesh(meshName="m3")
    code, status, msg = error_of(ei)
    assert (code, status) == ("LimitExceededException", 400) and msg
    assert sorted(m["meshName"] for m in c.list_meshes()["meshes"]) == ["m1", "m2"]
    # freeing a slot makes room again
    c.delete_mesh(meshName="m1")
    c.create_mesh(meshName="m3")
    assert sorted(m["meshName"] for m in c.list_meshes()["meshes"]) == ["m2", "m3"]


def test_virtual_nodes_per_mesh_quota(start_server):
    srv = start_server(quotas={"virtual-nodes-per-mesh": 2})
    c = make_client(srv.endpoint)
    for mesh in ("a", "b"):
        c.create_mesh(meshName=mesh)
    for name in ("n1", "n2"):
        c.create_virtual_node(meshName="a", virtualNodeName=name, spec=NODE_SPECS[VN_B])
    with pytest.raises(c.exceptions.LimitExceededException):
        c.create_virtual_node(meshName="a", virtualNodeName="n3", spec=NODE_SPECS[VN_B])
    # the quota is per mesh
    c.create_virtual_node(meshName="b", virtualNodeName="n3", spec=NODE_SPECS[VN_B])
    assert len(c.list_virtual_nodes(meshName="a")["virtualNodes"]) == 2


def test_default_server_allows_more_than_two_meshes(appmesh):
    """Guards the quota test above against a server that rejects everything past two."""
    for i in range(3):
        appmesh.create_mesh(meshName=f"m{i}")
    assert len(appmesh.list_meshes()["meshes"]) == 3


# ---- meshOwner -------------------------------------------------------------------------------


def test_wrong_mesh_owner_is_not_found(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B])
    other = "111111111111"
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_mesh(meshName=MESH, meshOwner=other)
    with pytest.raises(c.exceptions.NotFoundException):
        c.describe_virtual_node(meshName=MESH, virtualNodeName=VN_B, meshOwner=other)
    with pytest.raises(c.exceptions.NotFoundException):
        c.list_virtual_nodes(meshName=MESH, meshOwner=other)
    # the right owner (and no owner) work
    assert c.describe_mesh(meshName=MESH, meshOwner=ACCOUNT_ID)["mesh"]["meshName"] == MESH
    vn = c.describe_virtual_node(meshName=MESH, virtualNodeName=VN_B, meshOwner=ACCOUNT_ID)["virtualNode"]
    assert vn["metadata"]["meshOwner"] == ACCOUNT_ID


# ---- durability ------------------------------------------------------------------------------


def test_data_survives_restart(start_server):
    first = start_server()
    c = make_client(first.endpoint)
    out = build_scenario(c)
    c.tag_resource(resourceArn=ARN_VR, tags=[{"key": "x", "value": "y"}])
    data_dir = first.data_dir
    first.stop()

    second = start_server(data_dir=data_dir)
    c2 = make_client(second.endpoint)
    assert c2.describe_mesh(meshName=MESH)["mesh"] == out["mesh"]
    assert c2.describe_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B)["route"] == out["route2"]
    assert c2.describe_gateway_route(meshName=MESH, virtualGatewayName=VGW, gatewayRouteName=GWR)["gatewayRoute"] == out["gwr"]
    assert _as_dict(_all_tags(c2, ARN_VR)) == {"x": "y"}
    assert _as_dict(_all_tags(c2, ARN_MESH)) == {"team": "core"}
    # version counters continue
    upd = c2.update_virtual_router(meshName=MESH, virtualRouterName=VR_B, spec=ROUTER_SPEC)["virtualRouter"]
    assert upd["metadata"]["version"] == 2
    # referential integrity is still enforced after restart
    with pytest.raises(c2.exceptions.ResourceInUseException):
        c2.delete_mesh(meshName=MESH)


# ---- references are recomputed on update ------------------------------------------------------


def test_references_follow_updates(appmesh):
    """Blocking references come from the *current* specs: retargeting frees the old target."""
    c = appmesh
    build_scenario(c)

    # route now targets only serviceBv2 -> serviceB is free
    c.update_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B, spec={
        "http2Route": {"match": {"prefix": "/"},
                       "action": {"weightedTargets": [{"virtualNode": VN_B2, "weight": 100}]}}})
    assert c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_B)["virtualNode"]["status"]["status"] == "DELETED"
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_B2)

    # gateway route now targets serviceb.apps.local -> servicea.apps.local is free
    c.update_gateway_route(meshName=MESH, virtualGatewayName=VGW, gatewayRouteName=GWR, spec={
        "httpRoute": {"match": {"prefix": "/"},
                      "action": {"target": {"virtualService": {"virtualServiceName": VS_B}}}}})
    assert c.delete_virtual_service(meshName=MESH, virtualServiceName=VS_A)["virtualService"]["status"]["status"] == "DELETED"
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_service(meshName=MESH, virtualServiceName=VS_B)

    # VS serviceb.apps.local now provided by node serviceA -> router is free once its route is gone
    c.update_virtual_service(meshName=MESH, virtualServiceName=VS_B,
                             spec={"provider": {"virtualNode": {"virtualNodeName": VN_A}}})
    c.delete_route(meshName=MESH, virtualRouterName=VR_B, routeName=ROUTE_B)
    assert c.delete_virtual_router(meshName=MESH, virtualRouterName=VR_B)["virtualRouter"]["status"]["status"] == "DELETED"
    with pytest.raises(c.exceptions.ResourceInUseException):
        c.delete_virtual_node(meshName=MESH, virtualNodeName=VN_A)

    # references to things that do not exist are rejected
    with pytest.raises(c.exceptions.NotFoundException):
        c.update_virtual_service(meshName=MESH, virtualServiceName=VS_B,
                                 spec={"provider": {"virtualRouter": {"virtualRouterName": "missing"}}})
    assert c.describe_virtual_service(meshName=MESH, virtualServiceName=VS_B)["virtualService"]["spec"]["provider"] == {
        "virtualNode": {"virtualNodeName": VN_A}}


# ---- all quotas ------------------------------------------------------------------------------

NODE = NODE_SPECS[VN_B]


def _quota_meshes(c):
    c.create_mesh(meshName="a")
    return lambda: c.create_mesh(meshName="b")


def _quota_virtual_services(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_service(meshName=MESH, virtualServiceName="a.local", spec={})
    return lambda: c.create_virtual_service(meshName=MESH, virtualServiceName="b.local", spec={})


def _quota_virtual_nodes(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_node(meshName=MESH, virtualNodeName="a", spec=NODE)
    return lambda: c.create_virtual_node(meshName=MESH, virtualNodeName="b", spec=NODE)


def _quota_virtual_routers(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_router(meshName=MESH, virtualRouterName="a", spec=ROUTER_SPEC)
    return lambda: c.create_virtual_router(meshName=MESH, virtualRouterName="b", spec=ROUTER_SPEC)


def _quota_routes(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B2, spec=NODE)
    for r in ("r1", "r2"):
        c.create_virtual_router(meshName=MESH, virtualRouterName=r, spec=ROUTER_SPEC)
    c.create_route(meshName=MESH, virtualRouterName="r1", routeName="a", spec=route_spec(50, 50))
    # per router: another router still has room
    c.create_route(meshName=MESH, virtualRouterName="r2", routeName="a", spec=route_spec(50, 50))
    return lambda: c.create_route(meshName=MESH, virtualRouterName="r1", routeName="b", spec=route_spec(50, 50))


def _quota_virtual_gateways(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_gateway(meshName=MESH, virtualGatewayName="a", spec=GATEWAY_SPEC)
    return lambda: c.create_virtual_gateway(meshName=MESH, virtualGatewayName="b", spec=GATEWAY_SPEC)


def _quota_gateway_routes(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_service(meshName=MESH, virtualServiceName=VS_A, spec={})
    c.create_virtual_gateway(meshName=MESH, virtualGatewayName="g", spec=GATEWAY_SPEC)
    c.create_gateway_route(meshName=MESH, virtualGatewayName="g", gatewayRouteName="a", spec=GATEWAY_ROUTE_SPEC)
    return lambda: c.create_gateway_route(meshName=MESH, virtualGatewayName="g", gatewayRouteName="b", spec=GATEWAY_ROUTE_SPEC)


def _quota_backends(c):
    c.create_mesh(meshName=MESH)
    one = {**NODE, "backends": [{"virtualService": {"virtualServiceName": "a.local"}}]}
    two = {**NODE, "backends": [{"virtualService": {"virtualServiceName": n}} for n in ("a.local", "b.local")]}
    c.create_virtual_node(meshName=MESH, virtualNodeName="a", spec=one)
    with pytest.raises(c.exceptions.LimitExceededException):
        c.update_virtual_node(meshName=MESH, virtualNodeName="a", spec=two)
    return lambda: c.create_virtual_node(meshName=MESH, virtualNodeName="b", spec=two)


QUOTA_CASES = {
    "meshes": _quota_meshes,
    "virtual-services-per-mesh": _quota_virtual_services,
    "virtual-nodes-per-mesh": _quota_virtual_nodes,
    "virtual-routers-per-mesh": _quota_virtual_routers,
    "routes-per-virtual-router": _quota_routes,
    "virtual-gateways-per-mesh": _quota_virtual_gateways,
    "gateway-routes-per-virtual-gateway": _quota_gateway_routes,
    "backends-per-virtual-node": _quota_backends,
}


@pytest.mark.parametrize("quota", list(QUOTA_CASES))
def test_every_quota_is_enforced(start_server, quota):
    srv = start_server(quotas={quota: 1})
    c = make_client(srv.endpoint)
    over_quota = QUOTA_CASES[quota](c)
    with pytest.raises(c.exceptions.LimitExceededException) as ei:
        over_quota()
    code, status, msg = error_of(ei)
    assert (code, status) == ("LimitExceededException", 400) and msg


# ---- concurrency -----------------------------------------------------------------------------


def _run_parallel(n: int, fn) -> list:
    import threading

    results: list = [None] * n
    barrier = threading.Barrier(n)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = ("ok", fn(i))
        except Exception as e:  # noqa: BLE001 - we classify below
            results[i] = ("err", e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _code(e: Exception) -> str | None:
    return getattr(e, "response", {}).get("Error", {}).get("Code")


def test_concurrent_creates_of_one_name_have_one_winner(endpoint):
    c = make_client(endpoint)
    c.create_mesh(meshName=MESH)
    clients = [make_client(endpoint) for _ in range(12)]
    results = _run_parallel(12, lambda i: clients[i].create_virtual_node(
        meshName=MESH, virtualNodeName="same", spec=NODE)["virtualNode"])
    winners = [r for kind, r in results if kind == "ok"]
    losers = [r for kind, r in results if kind == "err"]
    assert len(winners) == 1, results
    # each client has its own exception classes, so compare codes
    assert all(_code(e) == "ConflictException" for e in losers), losers
    assert c.describe_virtual_node(meshName=MESH, virtualNodeName="same")["virtualNode"] == winners[0]


def test_concurrent_updates_get_distinct_versions(endpoint):
    c = make_client(endpoint)
    c.create_mesh(meshName=MESH)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE)
    clients = [make_client(endpoint) for _ in range(12)]
    results = _run_parallel(12, lambda i: clients[i].update_virtual_node(
        meshName=MESH, virtualNodeName=VN_B, spec=NODE)["virtualNode"]["metadata"]["version"])
    assert all(kind == "ok" for kind, _ in results), results
    assert sorted(v for _, v in results) == list(range(2, 14))
    assert c.describe_virtual_node(meshName=MESH, virtualNodeName=VN_B)["virtualNode"]["metadata"]["version"] == 13


def test_concurrent_creates_respect_quota(start_server):
    srv = start_server(quotas={"virtual-nodes-per-mesh": 3})
    c = make_client(srv.endpoint)
    c.create_mesh(meshName=MESH)
    clients = [make_client(srv.endpoint) for _ in range(10)]
    results = _run_parallel(10, lambda i: clients[i].create_virtual_node(
        meshName=MESH, virtualNodeName=f"n{i}", spec=NODE))
    ok = [r for kind, r in results if kind == "ok"]
    errs = [r for kind, r in results if kind == "err"]
    assert len(ok) == 3, results
    assert all(_code(e) == "LimitExceededException" for e in errs), errs
    assert len(c.list_virtual_nodes(meshName=MESH)["virtualNodes"]) == 3


# ---- more pagination and durability -----------------------------------------------------------


def test_pagination_survives_deletes_and_rejects_foreign_tokens(appmesh):
    c = appmesh
    c.create_mesh(meshName=MESH)
    c.create_mesh(meshName="other")
    names = [f"vn-{i}" for i in range(7)]
    for n in names:
        c.create_virtual_node(meshName=MESH, virtualNodeName=n, spec=NODE)
    first = c.list_virtual_nodes(meshName=MESH, limit=2)
    first_names = [n["virtualNodeName"] for n in first["virtualNodes"]]
    # deleting an item already returned must not make the walk skip one that was not
    c.delete_virtual_node(meshName=MESH, virtualNodeName=first_names[0])
    rest: list[str] = []
    token = first["nextToken"]
    while token:
        page = c.list_virtual_nodes(meshName=MESH, limit=2, nextToken=token)
        rest += [n["virtualNodeName"] for n in page["virtualNodes"]]
        token = page.get("nextToken")
    assert sorted(first_names + rest) == sorted(names), (first_names, rest)

    # a token is only valid for the list that minted it
    with pytest.raises(c.exceptions.BadRequestException):
        c.list_virtual_nodes(meshName="other", nextToken=first["nextToken"])
    with pytest.raises(c.exceptions.BadRequestException):
        c.list_meshes(nextToken=first["nextToken"])


def test_acknowledged_writes_survive_sigkill(start_server):
    import signal as _signal

    first = start_server()
    c = make_client(first.endpoint)
    c.create_mesh(meshName=MESH, tags=MESH_TAGS)
    c.create_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE)
    last = c.update_virtual_node(meshName=MESH, virtualNodeName=VN_B, spec=NODE_SPECS[VN_B2])["virtualNode"]
    first.proc.send_signal(_signal.SIGKILL)
    first.proc.wait(timeout=10)
    first.stopped_by_test = True

    second = start_server(data_dir=first.data_dir)
    c2 = make_client(second.endpoint)
    assert c2.describe_virtual_node(meshName=MESH, virtualNodeName=VN_B)["virtualNode"] == last
    assert _as_dict(_all_tags(c2, ARN_MESH)) == {"team": "core"}


def _collide_mesh_with_node(c):
    c.create_mesh(meshName="a")
    victim = c.create_virtual_node(meshName="a", virtualNodeName="x", spec=NODE)["virtualNode"]
    return victim["metadata"]["arn"], "meshName", lambda: c.create_mesh(meshName="a/virtualNode/x")["mesh"]


def _collide_gateway_with_gateway_route(c):
    c.create_mesh(meshName=MESH)
    c.create_virtual_service(meshName=MESH, virtualServiceName=VS_A, spec={})
    c.create_virtual_gateway(meshName=MESH, virtualGatewayName="g", spec=GATEWAY_SPEC)
    victim = c.create_gateway_route(
        meshName=MESH, virtualGatewayName="g", gatewayRouteName="gr", spec=GATEWAY_ROUTE_SPEC
    )["gatewayRoute"]
    return victim["metadata"]["arn"], "virtualGatewayName", lambda: c.create_virtual_gateway(
        meshName=MESH, virtualGatewayName="g/gatewayRoute/gr", spec=GATEWAY_SPEC)["virtualGateway"]


@pytest.mark.parametrize("case", [_collide_mesh_with_node, _collide_gateway_with_gateway_route],
                         ids=["mesh-vs-virtual-node", "virtual-gateway-vs-gateway-route"])
def test_arns_stay_unique_when_names_contain_slashes(appmesh, case):
    """ARNs identify resources for the tagging API, so no two live resources may share one.
    A mesh named "a/virtualNode/x" would otherwise collide with virtual node x of mesh a (and a
    gateway named "g/gatewayRoute/gr" with gateway route gr of gateway g). The server may reject
    such names (400 BadRequest naming the field) or keep the ARNs apart, but two resources must
    never share an ARN, and so their tags."""
    c = appmesh
    victim_arn, field, create_colliding = case(c)
    try:
        other = create_colliding()
    except c.exceptions.BadRequestException as e:
        message = e.response["Error"].get("Message", "")
        assert field in message, message
        return
    assert other["metadata"]["arn"] != victim_arn, f"two resources share the ARN {victim_arn}"
    c.tag_resource(resourceArn=other["metadata"]["arn"], tags=[{"key": "owner", "value": "other"}])
    assert _all_tags(c, victim_arn) == []


def test_update_moves_last_updated_at_but_not_created_at(appmesh):
    import time

    c = appmesh
    created = c.create_virtual_router(
        meshName=c.create_mesh(meshName=MESH)["mesh"]["meshName"], virtualRouterName=VR_B, spec=ROUTER_SPEC
    )["virtualRouter"]["metadata"]
    time.sleep(1.1)  # more than the coarsest (whole-second) timestamp resolution
    updated = c.update_virtual_router(meshName=MESH, virtualRouterName=VR_B, spec=ROUTER_SPEC)["virtualRouter"]["metadata"]
    assert updated["createdAt"] == created["createdAt"]
    assert updated["lastUpdatedAt"] > created["lastUpdatedAt"], (created, updated)
    assert updated["uid"] == created["uid"] and updated["version"] == 2
