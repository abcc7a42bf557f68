"""The operator view of the xDS server with real Envoy: ``GET /v1/proxies`` shows a connected
proxy with the versions Envoy acknowledged for every type (the ones in Envoy's own
``config_dump``), a proxy naming an unknown resource with its status, and ``GET /metrics``
counts the pushes. (NACKs are provoked by a fake ADS client in ``tests/operator.rs``.)
"""

from __future__ import annotations

import time

import pytest

from e2e_support import ControlPlane, http_request, make_client
from envoy_support import Envoy, Upstream, bootstrap, free_port, requires_envoy

MESH = "apps"
TYPES = ("CDS", "EDS", "LDS", "RDS")

pytestmark = requires_envoy


def _proxies(cp: ControlPlane) -> list[dict]:
    answer = http_request(cp.endpoint, "GET", "/v1/proxies", sign=None)
    assert answer.status == 200, answer
    assert answer.header("Content-Type") == "application/json"
    return answer.json()["proxies"]


def _wait_proxies(cp: ControlPlane, ready, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        proxies = _proxies(cp)
        if ready(proxies):
            return proxies
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {proxies}"
        time.sleep(0.05)


def _metrics(cp: ControlPlane) -> dict[str, float]:
    """``GET /metrics`` as {series: value} (series as written, labels included)."""
    answer = http_request(cp.endpoint, "GET", "/metrics", sign=None)
    assert answer.status == 200, answer
    assert answer.header("Content-Type").startswith("text/plain; version=0.0.4")
    out: dict[str, float] = {}
    for line in answer.body.decode().splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def _envoy_versions(envoy: Envoy) -> dict[str, set[str]]:
    """The version_info of every dynamic resource in Envoy's config_dump, by xDS type."""
    dump = envoy.config_dump(include_eds=True)
    sections = {s.get("@type", "").rsplit(".", 1)[-1]: s for s in dump.get("configs", [])}
    clusters = sections.get("ClustersConfigDump", {})
    listeners = sections.get("ListenersConfigDump", {})
    routes = sections.get("RoutesConfigDump", {})
    return {
        "CDS": {clusters.get("version_info")}
        | {c.get("version_info") for c in clusters.get("dynamic_active_clusters", [])},
        "LDS": {listeners.get("version_info")}
        | {l.get("active_state", {}).get("version_info") for l in listeners.get("dynamic_listeners", [])},
        "RDS": {r.get("version_info") for r in routes.get("dynamic_route_configs", [])},
        # config_dump leaves EDS versions out; the per-cluster version_text readout has them.
        "EDS": {line.split(": ", 1)[1].strip('"') for line in envoy.admin("/stats?filter=version_text")[1].splitlines()
                if line.startswith("cluster.") and ".version_text: " in line} - {""},
    }


def test_a_connected_envoy_is_listed_with_its_acked_versions(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("front") as app:
        client.create_mesh(meshName=MESH)
        # A Cloud Map backend: its cluster's endpoints come over EDS, so Envoy subscribes to
        # all four types.
        client.create_virtual_node(meshName=MESH, virtualNodeName="backend", spec={
            "listeners": [{"portMapping": {"port": 9000, "protocol": "http"}}],
            "serviceDiscovery": {"awsCloudMap": {"namespaceName": "apps.local", "serviceName": "backend"}},
        })
        client.create_virtual_service(meshName=MESH, virtualServiceName="backend.apps.local", spec={
            "provider": {"virtualNode": {"virtualNodeName": "backend"}}})
        client.create_virtual_node(meshName=MESH, virtualNodeName="front", spec={
            "listeners": [{"portMapping": {"port": app.port, "protocol": "http"}}],
            "serviceDiscovery": {"dns": {"hostname": "127.0.0.1"}},
            "backends": [{"virtualService": {"virtualServiceName": "backend.apps.local"}}],
        })
        assert _proxies(cp) == []

        ingress, egress = free_port(), free_port()
        arn = f"arn:aws:appmesh:us-east-1:123456789012:mesh/{MESH}/virtualNode/front"
        with Envoy(bootstrap(arn, cp.xds_address, ingress, egress)) as envoy:
            envoy.wait_for_listener(f"lds_egress_0.0.0.0_{egress}", timeout=10)
            envoy.wait_ready(timeout=10)

            def settled(proxies: list[dict]) -> bool:
                return len(proxies) == 1 and all(
                    proxies[0]["types"][t]["lastAnswer"] == "ACK"
                    and proxies[0]["types"][t]["pendingNonce"] is None for t in TYPES)

            [proxy] = _wait_proxies(cp, settled)
            assert proxy["nodeId"] == arn
            assert proxy["arn"] == arn
            assert (proxy["account"], proxy["mesh"], proxy["kind"], proxy["name"]) == (
                "123456789012", MESH, "virtualNode", "front")
            assert proxy["status"] == "SERVING" and proxy["statusMessage"] is None
            assert proxy["peer"].startswith("127.0.0.1:")
            assert abs(proxy["connectedAt"] - time.time()) < 120
            assert sorted(proxy["types"]) == sorted(TYPES)

            in_envoy = _envoy_versions(envoy)
            for t in TYPES:
                entry = proxy["types"][t]
                assert entry["subscribed"] is True, (t, entry)
                assert entry["versionAcked"] == entry["versionSent"], (t, entry)
                assert entry["lastNack"] is None, (t, entry)
                assert entry["pushes"] >= 1, (t, entry)
                assert in_envoy[t] == {entry["versionAcked"]}, (t, in_envoy[t], entry)
            assert envoy.nacks() == 0, envoy.nack_stats()

            metrics = _metrics(cp)
            assert metrics["appmesh_xds_connected_proxies"] == 1
            for t in TYPES:
                assert metrics[f'appmesh_xds_pushes_total{{type="{t}"}}'] >= 1
                assert metrics[f'appmesh_xds_nacks_total{{type="{t}"}}'] == 0
            assert metrics['appmesh_api_requests_total{operation="CreateVirtualNode",status="200"}'] == 2
            assert metrics['appmesh_api_requests_total{operation="ListProxies",status="200"}'] >= 2

        # The stream ended with Envoy: the proxy leaves the list and the gauge.
        _wait_proxies(cp, lambda proxies: proxies == [])
        assert _metrics(cp)["appmesh_xds_connected_proxies"] == 0


def test_a_proxy_for_an_unknown_resource_is_listed_with_its_status(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    client.create_mesh(meshName=MESH)
    config = bootstrap(f"mesh/{MESH}/virtualNode/ghost", cp.xds_address, free_port(), free_port())
    with Envoy(config):
        [proxy] = _wait_proxies(cp, lambda p: len(p) == 1 and p[0]["status"] != "PENDING")
        assert proxy["status"] == "UNKNOWN_RESOURCE", proxy
        assert "ghost" in proxy["statusMessage"]
        assert proxy["arn"] == f"arn:aws:appmesh:us-east-1:123456789012:mesh/{MESH}/virtualNode/ghost"
        assert proxy["types"]["CDS"]["subscribed"] is True
        assert all(proxy["types"][t]["versionSent"] is None for t in TYPES), proxy
        client.delete_mesh(meshName=MESH)
        # With the mesh gone too, the status says so once the proxy's stream reloads.
        [proxy] = _wait_proxies(cp, lambda p: p[0]["status"] == "UNKNOWN_MESH")
        assert MESH in proxy["statusMessage"]
