"""Self-test of the Envoy harness (envoy_support.py), without any xDS server.

A static bootstrap routes 75/25 to two local upstreams; the ADS bootstrap is checked with
``envoy --mode validate`` and by starting Envoy against an xDS address nobody listens on.
"""

from __future__ import annotations

import time

import pytest

from envoy_support import (
    Envoy,
    Upstream,
    bootstrap,
    free_port,
    requires_envoy,
    send,
    split,
    static_bootstrap,
    validate_bootstrap,
)

REQUESTS = 2000
TOLERANCE_PP = 3.0


def test_upstream_answers_records_fails_and_delays():
    with Upstream("alpha") as up:
        assert send(up.port, "/x?y=1", host="svc.local", headers={"X-Test": "1"}) == (200, "alpha")
        up.fail_next(2)
        assert send(up.port)[0] == 503
        assert send(up.port)[0] == 503
        assert send(up.port) == (200, "alpha")
        assert up.requests == 4 and up.failed == 2
        assert up.paths[0] == "/x?y=1"
        assert up.headers[0]["host"] == "svc.local" and up.headers[0]["x-test"] == "1"
        # Keep-alive: one connection, several requests.
        assert split(up.port, "svc.local", 5) == {"alpha": 5}
        up.set_delay(0.3)
        started = time.monotonic()
        assert send(up.port) == (200, "alpha")
        assert time.monotonic() - started >= 0.3


@requires_envoy
def test_weighted_split_through_static_envoy():
    with Upstream("blue") as blue, Upstream("green") as green:
        port = free_port()
        config = static_bootstrap(port, [(blue, 75), (green, 25)], listener_name="ingress")
        with Envoy(config) as envoy:
            envoy.wait_ready(timeout=10)
            status = envoy.wait_for_listener("ingress", timeout=10)
            assert status["local_address"]["socket_address"]["port_value"] == port
            envoy.wait_for_cluster("blue", min_hosts=1)
            envoy.wait_for_cluster("green", min_hosts=1)
            assert "ingress" in envoy.listener_names()

            counts = split(port, "anything.local", REQUESTS)
            assert sum(counts.values()) == REQUESTS
            assert set(counts) <= {"blue", "green"}, f"unexpected answers: {counts}"
            blue_pct = 100.0 * counts["blue"] / REQUESTS
            assert abs(blue_pct - 75.0) <= TOLERANCE_PP, f"split {counts} ({blue_pct:.1f}% blue)"
            assert blue.requests + green.requests == REQUESTS
            assert blue.headers[0]["host"] == "anything.local"

            assert envoy.nacks() == 0, envoy.nack_stats()
            stats = envoy.stats()
            assert stats["http.ingress.downstream_rq_2xx"] == REQUESTS
            assert stats["cluster.blue.upstream_rq_total"] == counts["blue"]


@requires_envoy
@pytest.mark.parametrize("xds", ["127.0.0.1:18000", "unix:///tmp/appmesh-xds.sock"])
def test_ads_bootstrap_is_valid(xds):
    config = bootstrap("mesh/apps/virtualNode/serviceA", xds, ingress_port=15000, egress_port=15001)
    valid, output = validate_bootstrap(config)
    assert valid, output


@requires_envoy
def test_ads_bootstrap_without_a_server():
    """Envoy starts, shows the node as given and waits (not LIVE) for CDS/LDS."""
    node = "mesh/apps/virtualNode/serviceA"
    config = bootstrap(node, f"127.0.0.1:{free_port()}", ingress_port=15000, egress_port=15001)
    with Envoy(config) as envoy:
        assert envoy.admin_port > 0
        dumped = envoy.config_of("BootstrapConfigDump")["bootstrap"]
        assert dumped["node"]["id"] == node
        assert dumped["node"]["cluster"] == node
        assert dumped["node"]["metadata"] == {"ingress_port": 15000, "egress_port": 15001}
        assert envoy.server_state() in ("PRE_INITIALIZING", "INITIALIZING")
        assert "xds_cluster" in envoy.cluster_names()
        assert envoy.nacks() == 0
        with pytest.raises(AssertionError, match="timed out"):
            envoy.wait_ready(timeout=0.5)
