"""The translation's golden files (xds/tests/golden/*/expected.json) are configuration that
real Envoy 1.40 accepts: each case's listeners (with their route configurations inlined in
place of RDS) and clusters, as static resources, pass ``envoy --mode validate``.

Envoy reads TLS certificate files while it validates, so the golden cases name them under
``/etc/envoy/tls/``; the test points those names at a certificate it generates (``*.key.pem``
at its key, anything else at the certificate, which is its own CA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envoy_support import issue_certificate, make_ca, requires_envoy, validate_bootstrap

GOLDEN = Path(__file__).resolve().parents[3] / "xds" / "tests" / "golden"
CASES = sorted(p.parent.name for p in GOLDEN.glob("*/expected.json"))
CERT_DIR = "/etc/envoy/tls/"


def _local_certificates(value, certificate: Path, key: Path) -> None:
    """Points every ``filename`` under ``CERT_DIR`` at ``certificate`` or ``key``."""
    if isinstance(value, dict):
        name = value.get("filename")
        if isinstance(name, str) and name.startswith(CERT_DIR):
            value["filename"] = str(key if name.endswith(".key.pem") else certificate)
        for v in value.values():
            _local_certificates(v, certificate, key)
    elif isinstance(value, list):
        for v in value:
            _local_certificates(v, certificate, key)


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
def test_golden_configuration_is_valid_envoy_configuration(case, tmp_path):
    text = (GOLDEN / case / "expected.json").read_text()
    resources = json.loads(text)
    if CERT_DIR in text:
        ca = make_ca(tmp_path, "golden-ca")
        certificate, key = issue_certificate(tmp_path, ca, "golden", ["DNS:golden.apps.local"])
        # The chain file doubles as the trusted bundle: make it hold the CA too.
        certificate.write_text(certificate.read_text() + ca[0].read_text())
        _local_certificates(resources, certificate, key)
    routes = {r["name"]: r for r in resources["routes"]}
    listeners = resources["listeners"]
    _inline_routes(listeners, routes)
    # EDS clusters need a config source Envoy can name: the ADS one of a real bootstrap; SDS
    # secrets need the local SDS server's cluster.
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
                },
                # Where SDS secrets come from, as the aws-appmesh-envoy bootstrap names it.
                {
                    "name": "static_cluster_sds_unix_socket",
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": "static_cluster_sds_unix_socket",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                            "pipe": {"path": str(tmp_path / "sds.sock")}}}}]}],
                    },
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                },
            ],
        },
    }
    ok, output = validate_bootstrap(config)
    assert ok, f"Envoy refused the {case} golden configuration:\n{output}"
    assert len(listeners) >= 1 and len(resources["clusters"]) >= 1
