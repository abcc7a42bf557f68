"""Wire-level checks with plain, unsigned HTTP: body shapes, headers, and the 400s that
botocore would never let through (malformed JSON, bad limits, bad tokens, enum values).
None of these may ever produce a 500.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from e2e_support import (
    ACCOUNT_ID,
    ARN_MESH,
    MESH,
    MESH_SPEC,
    NODE_SPECS,
    READY_RE,
    VN_B,
    HttpResult,
    assert_epoch_seconds,
    http_request,
)

MESHES = "/v20190125/meshes"
NODES = f"/v20190125/meshes/{MESH}/virtualNodes"


def content_type(r: HttpResult) -> str:
    return (r.header("Content-Type") or "").split(";")[0].strip().lower()


def error_type(r: HttpResult) -> str | None:
    value = r.header("x-amzn-ErrorType")
    return value.split(":")[0] if value is not None else None


def assert_error(r: HttpResult, status: int, shape: str, mentions: str | None = None) -> str:
    assert r.status != 500, f"server error: {r!r}"
    assert r.status == status, f"expected {status} {shape}, got {r!r}"
    assert error_type(r) == shape, f"x-amzn-ErrorType: {r.header('x-amzn-ErrorType')!r} (expected {shape})"
    assert content_type(r) == "application/json", r.header("Content-Type")
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], body
    if mentions is not None:
        assert mentions in body["message"], f"message does not mention {mentions!r}: {body['message']!r}"
    return body["message"]


def assert_ok_json(r: HttpResult) -> dict:
    assert r.status == 200, f"expected 200, got {r!r}"
    assert content_type(r) == "application/json", r.header("Content-Type")
    return r.json()


def create_mesh(endpoint: str, name: str = MESH, spec: dict | None = None) -> dict:
    body: dict = {"meshName": name}
    if spec is not None:
        body["spec"] = spec
    return assert_ok_json(http_request(endpoint, "PUT", MESHES, body))


def create_node(endpoint: str, name: str = VN_B, spec: dict | None = None) -> HttpResult:
    return http_request(
        endpoint, "PUT", NODES, {"virtualNodeName": name, "spec": spec or NODE_SPECS[VN_B]}
    )


# ---- process contract ------------------------------------------------------------------------


def test_healthz_shows_the_revision_each_change_advances(endpoint):
    r = http_request(endpoint, "GET", "/healthz")
    assert r.status == 200, r
    before = r.json()["revision"]
    create_mesh(endpoint, "healthz-rev")
    http_request(endpoint, "GET", f"{MESHES}/healthz-rev")  # a read takes no revision
    assert http_request(endpoint, "DELETE", f"{MESHES}/healthz-rev").status == 200
    after = http_request(endpoint, "GET", "/healthz").json()
    assert after == {"status": "ok", "revision": before + 2}, after


def test_ready_line_then_quiet_stdout(server):
    assert READY_RE.match(server.ready_line), server.ready_line
    assert server.endpoint == f"http://127.0.0.1:{server.port}" and server.port > 0
    create_mesh(server.endpoint)
    http_request(server.endpoint, "GET", f"{MESHES}/nope")
    server.stop()
    assert server.extra_stdout == [], f"stdout after the ready line: {server.extra_stdout}"


# ---- success body shapes ---------------------------------------------------------------------


def test_create_and_describe_bodies_are_bare_data(endpoint):
    created = create_mesh(endpoint, spec=MESH_SPEC)
    assert set(created) == {"meshName", "metadata", "spec", "status"}, created
    assert created["meshName"] == MESH
    assert created["spec"]["egressFilter"] == {"type": "ALLOW_ALL"}
    assert created["status"] == {"status": "ACTIVE"}
    md = created["metadata"]
    assert set(md) == {"arn", "createdAt", "lastUpdatedAt", "meshOwner", "resourceOwner", "uid", "version"}, md
    assert md["arn"] == ARN_MESH
    assert md["meshOwner"] == md["resourceOwner"] == ACCOUNT_ID
    assert type(md["version"]) is int and md["version"] == 1, md
    assert_epoch_seconds(md["createdAt"], "createdAt")
    assert_epoch_seconds(md["lastUpdatedAt"], "lastUpdatedAt")

    described = assert_ok_json(http_request(endpoint, "GET", f"{MESHES}/{MESH}"))
    assert described == created

    node = create_node(endpoint)
    node_body = assert_ok_json(node)
    assert set(node_body) == {"meshName", "virtualNodeName", "metadata", "spec", "status"}, node_body
    assert node_body["metadata"]["arn"] == f"{ARN_MESH}/virtualNode/{VN_B}"

    updated = assert_ok_json(
        http_request(endpoint, "PUT", f"{MESHES}/{MESH}", {"spec": {"egressFilter": {"type": "DROP_ALL"}}})
    )
    assert "mesh" not in updated and updated["metadata"]["version"] == 2

    http_request(endpoint, "DELETE", f"{NODES}/{VN_B}")
    deleted = assert_ok_json(http_request(endpoint, "DELETE", f"{MESHES}/{MESH}"))
    assert set(deleted) == {"meshName", "metadata", "spec", "status"}, deleted
    assert deleted["status"] == {"status": "DELETED"}


def test_list_bodies(endpoint):
    create_mesh(endpoint)
    create_mesh(endpoint, "other")
    body = assert_ok_json(http_request(endpoint, "GET", MESHES))
    assert set(body) == {"meshes"}, f"complete list must omit nextToken (not null): {body}"
    assert sorted(m["meshName"] for m in body["meshes"]) == [MESH, "other"]
    for item in body["meshes"]:
        assert set(item) == {"meshName", "arn", "createdAt", "lastUpdatedAt", "meshOwner", "resourceOwner", "version"}, item
        assert_epoch_seconds(item["createdAt"])
        assert type(item["version"]) is int, item

    page = assert_ok_json(http_request(endpoint, "GET", f"{MESHES}?limit=1"))
    assert len(page["meshes"]) == 1 and isinstance(page.get("nextToken"), str) and page["nextToken"]
    last = assert_ok_json(http_request(endpoint, "GET", f"{MESHES}?limit=1&nextToken={quote(page['nextToken'], safe='')}"))
    assert len(last["meshes"]) == 1 and "nextToken" not in last, last
    assert last["meshes"][0]["meshName"] != page["meshes"][0]["meshName"]

    assert create_node(endpoint).status == 200
    nodes = assert_ok_json(http_request(endpoint, "GET", NODES))
    assert set(nodes) == {"virtualNodes"}
    assert [n["virtualNodeName"] for n in nodes["virtualNodes"]] == [VN_B]
    assert not {"uid", "spec", "status"} & set(nodes["virtualNodes"][0])


def test_tag_resource_returns_empty_object(endpoint):
    create_mesh(endpoint)
    r = http_request(endpoint, "PUT", f"/v20190125/tag?resourceArn={quote(ARN_MESH, safe='')}",
                     {"tags": [{"key": "a", "value": "b"}]})
    assert assert_ok_json(r) == {}
    r = http_request(endpoint, "GET", f"/v20190125/tags?resourceArn={quote(ARN_MESH, safe='')}")
    assert assert_ok_json(r) == {"tags": [{"key": "a", "value": "b"}]}


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"meshName": "x",',
        b"not json at all",
        b'{"meshName": "x"} trailing',
        b"[]",
        b'"apps"',
        b'{"meshName": 5}',
        b'{"meshName": "x", "spec": "ALLOW_ALL"}',
        b'{"meshName": "x", "tags": {"team": "core"}}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["truncated", "not-json", "trailing", "array", "string", "name-number", "spec-string",
         "tags-map", "binary"],
)
def test_malformed_create_mesh_body_is_bad_request(endpoint, body):
    r = http_request(endpoint, "PUT", MESHES, body)
    assert_error(r, 400, "BadRequestException")
    assert assert_ok_json(http_request(endpoint, "GET", MESHES)) == {"meshes": []}


def test_missing_required_members_are_named(endpoint):
    assert_error(http_request(endpoint, "PUT", MESHES, {}), 400, "BadRequestException", "meshName")
    create_mesh(endpoint)
    r = http_request(endpoint, "PUT", NODES, {"virtualNodeName": "n"})
    assert_error(r, 400, "BadRequestException", "spec")
    r = http_request(endpoint, "PUT", NODES, {"spec": NODE_SPECS[VN_B]})
    assert_error(r, 400, "BadRequestException", "virtualNodeName")
    r = http_request(endpoint, "PUT", NODES, {"virtualNodeName": "n", "spec": {"listeners": [{}]}})
    assert_error(r, 400, "BadRequestException", "portMapping")


@pytest.mark.parametrize("limit", ["abc", "0", "101", "-1", "1.5"])
@pytest.mark.parametrize("path", [MESHES, NODES], ids=["meshes", "virtualNodes"])
def test_bad_limit_is_bad_request(endpoint, path, limit):
    create_mesh(endpoint)
    r = http_request(endpoint, "GET", f"{path}?limit={limit}")
    assert_error(r, 400, "BadRequestException", "limit")


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(endpoint, limit):
    create_mesh(endpoint)
    assert_ok_json(http_request(endpoint, "GET", f"{MESHES}?limit={limit}"))


@pytest.mark.parametrize(
    "token",
    ["garbage", "AAAA", base64.urlsafe_b64encode(b'{"offset": 1}').decode(), "%00%01", "x" * 2000],
    ids=["word", "b64-zeros", "b64-json", "control-chars", "long"],
)
def test_bogus_next_token_is_bad_request(endpoint, token):
    create_mesh(endpoint)
    assert create_node(endpoint).status == 200
    # Encoded as a client encodes a query value (base64's "=" as %3D; the control-chars case is
    # already encoded), so the signature matches and the token itself is what is judged.
    for path in (MESHES, NODES):
        r = http_request(endpoint, "GET", f"{path}?nextToken={quote(token, safe='%')}")
        assert_error(r, 400, "BadRequestException")


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"listeners": [{"portMapping": {"port": 80, "protocol": "https"}}]}, "protocol"),
        ({"listeners": [{"portMapping": {"port": 70000, "protocol": "http"}}]}, "port"),
        ({"listeners": [{"portMapping": {"port": 0, "protocol": "http"}}]}, "port"),
        ({"listeners": [{"portMapping": {"port": "80", "protocol": "http"}}]}, "port"),
        ({"serviceDiscovery": {"dns": {"hostname": "a.local", "responseType": "SOMETIMES"}}}, "responseType"),
    ],
    ids=["protocol-https", "port-70000", "port-0", "port-string", "responseType"],
)
def test_invalid_virtual_node_spec_names_field(endpoint, spec, field):
    create_mesh(endpoint)
    r = create_node(endpoint, "bad", spec)
    assert_error(r, 400, "BadRequestException", field)
    assert assert_ok_json(http_request(endpoint, "GET", NODES)) == {"virtualNodes": []}


def test_unknown_egress_filter_type_is_bad_request(endpoint):
    r = http_request(endpoint, "PUT", MESHES, {"meshName": MESH, "spec": {"egressFilter": {"type": "SOMETIMES"}}})
    assert_error(r, 400, "BadRequestException", "type")


def test_not_found_and_conflict_on_the_wire(endpoint):
    assert_error(http_request(endpoint, "GET", f"{MESHES}/nope"), 404, "NotFoundException")
    assert_error(http_request(endpoint, "GET", "/v20190125/meshes/nope/virtualNodes"), 404, "NotFoundException")
    create_mesh(endpoint)
    assert_error(http_request(endpoint, "PUT", MESHES, {"meshName": MESH}), 409, "ConflictException")
    assert create_node(endpoint).status == 200
    assert_error(http_request(endpoint, "DELETE", f"{MESHES}/{MESH}"), 409, "ResourceInUseException")


def test_mesh_name_too_long_is_bad_request(endpoint):
    r = http_request(endpoint, "PUT", MESHES, {"meshName": "m" * 256})
    assert_error(r, 400, "BadRequestException", "meshName")
    assert create_mesh(endpoint, "m" * 255)["meshName"] == "m" * 255


def test_client_token_replay_ignores_json_key_order_and_whitespace(endpoint):
    first = http_request(endpoint, "PUT", MESHES,
                         b'{"meshName":"m","clientToken":"tok-1","spec":{"egressFilter":{"type":"DROP_ALL"}}}')
    replay = http_request(endpoint, "PUT", MESHES,
                          b'{ "spec" : {"egressFilter": {"type": "DROP_ALL"}},\n "clientToken": "tok-1", "meshName": "m" }')
    assert assert_ok_json(replay) == assert_ok_json(first)
    different = http_request(endpoint, "PUT", MESHES,
                             b'{"meshName":"m","clientToken":"tok-1","spec":{"egressFilter":{"type":"ALLOW_ALL"}}}')
    assert_error(different, 409, "ConflictException")


def test_tags_go_away_with_their_resource(endpoint):
    create_mesh(endpoint)
    arn = quote(ARN_MESH, safe="")
    assert http_request(endpoint, "PUT", f"/v20190125/tag?resourceArn={arn}",
                        {"tags": [{"key": "a", "value": "b"}]}).status == 200
    assert_ok_json(http_request(endpoint, "DELETE", f"{MESHES}/{MESH}"))
    assert_error(http_request(endpoint, "GET", f"/v20190125/tags?resourceArn={arn}"), 404, "NotFoundException")
    assert_error(http_request(endpoint, "PUT", f"/v20190125/untag?resourceArn={arn}", {"tagKeys": ["a"]}),
                 404, "NotFoundException")
    create_mesh(endpoint)
    assert assert_ok_json(http_request(endpoint, "GET", f"/v20190125/tags?resourceArn={arn}")) == {"tags": []}
