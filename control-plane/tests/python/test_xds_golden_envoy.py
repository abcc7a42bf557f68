"""The translation's golden files (xds/tests/golden/*/expected.json) are configuration that
real Envoy 1.40 accepts: each case's listeners (with their route configurations inlined in
place of RDS) and clusters, as static resources, pass ``envoy --mode validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envoy_support import requires_envoy, validate_bootstrap

GOLDEN = Path(__file__).resolve().parents[3] / "xds" / "tests" / "golden"
CASES = sorted(p.parent.name for p in GOLDEN.glob("*/expected.json"))


def _inline_routes(value, routes: dict) -> None:
    if isinstance(value, dict):
        rds = value.get("rds")
        if isinstance(rds, dict) and "routeConfigName" in rds:
            del value["rds"]
            value["routeConfig"] = routes[rds["routeConfigName"]]
        for v in value.values():
            _inline_routes(v, routes)
    elif isinstance(value, list):
        for v in value:
            _inline_routes(v, routes)


@requires_envoy
@pytest.mark.parametrize("case", CASES)
def test_golden_configuration_is_valid_envoy_configuration(case):
    resources = json.loads((GOLDEN / case / "expected.json").read_text())
    routes = {r["name"]: r for r in resources["routes"]}
    listeners = resources["listeners"]
    _inline_routes(listeners, routes)
    # EDS clusters need a config source Envoy can name: the ADS one of a real bootstrap.
    config = {
        "node": {"id": f"mesh/golden/virtualNode/{case}", "cluster": case},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds_cluster"}}],
            }
        },
        "static_resources": {
            "listeners": listeners,
            "clusters": resources["clusters"]
            + [
                {
                    "name": "xds_cluster",
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": "xds_cluster",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                            "socket_address": {"address": "127.0.0.1", "port_value": 1}}}}]}],
                    },
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                }
            ],
        },
    }
    ok, output = validate_bootstrap(config)
    assert ok, f"Envoy refused the {case} golden configuration:\n{output}"
    assert len(listeners) >= 1 and len(resources["clusters"]) >= 1
