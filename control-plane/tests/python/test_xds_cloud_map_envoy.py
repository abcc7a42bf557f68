"""Cloud Map endpoints and outlier detection with real Envoy.

AWS Cloud Map is gone, so the control plane reads the instances from ``--cloud-map-file``
(``aws servicediscovery discover-instances`` output). serviceB is discovered through Cloud
Map; its instances are applications on 127.0.0.2, .3 and .4 at the listener's port, as App
Mesh sent them (the instance's address, the listener's port). Registering instances in the
file reaches Envoy as new endpoints; when one instance starts failing, the listener's
outlier detection ejects it and every request goes to the others. (Three instances, not
two: with one of two ejected, Envoy's 50 % panic threshold would balance over both again.)
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from e2e_support import make_client, server_binary
from envoy_support import Envoy, Upstream, bootstrap, free_port, requires_envoy, split

MESH = "apps"
VS_B = "serviceb.apps.local"

pytestmark = requires_envoy


def _instances(path: Path, *addresses: str) -> None:
    """Writes a discover-instances answer listing serviceb at ``addresses``."""
    answer = {
        "Instances": [
            {
                "InstanceId": f"serviceb-{n}",
                "NamespaceName": "apps.local",
                "ServiceName": "serviceb",
                "HealthStatus": "HEALTHY",
                "Attributes": {"AWS_INSTANCE_IPV4": address, "stage": "live"},
            }
            for n, address in enumerate(addresses, 1)
        ]
        + [
            # Not carrying the node's attribute: never an endpoint.
            {
                "InstanceId": "serviceb-canary",
                "NamespaceName": "apps.local",
                "ServiceName": "serviceb",
                "Attributes": {"AWS_INSTANCE_IPV4": "127.0.0.9", "stage": "canary"},
            }
        ],
        "InstancesRevision": len(addresses),
    }
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps(answer))
    staged.replace(path)


def _port_free_on(*hosts: str) -> int:
    """A port that is free on each of ``hosts`` (loopback addresses)."""
    for _ in range(20):
        port = free_port()
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise AssertionError(f"no port free on all of {hosts}")


def test_cloud_map_instances_become_endpoints_and_a_failing_one_is_ejected(start_server, tmp_path):
    instances = tmp_path / "instances.json"
    port = _port_free_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
    _instances(instances, "127.0.0.2")
    cp = start_server(extra_args=["--insecure-dev", "--xds-listen", "127.0.0.1:0",
                                  "--cloud-map-file", str(instances)])
    xds = cp.stdout_line("xds listening on ").removeprefix("xds listening on ")
    client = make_client(cp.endpoint)
    client.create_mesh(meshName=MESH, spec={"egressFilter": {"type": "DROP_ALL"}})
    client.create_virtual_node(meshName=MESH, virtualNodeName="serviceB", spec={
        "listeners": [{
            "portMapping": {"port": port, "protocol": "http"},
            "outlierDetection": {
                "maxServerErrors": 3,
                "interval": {"unit": "s", "value": 1},
                "baseEjectionDuration": {"unit": "s", "value": 60},
                "maxEjectionPercent": 50,
            },
        }],
        "serviceDiscovery": {"awsCloudMap": {
            "namespaceName": "apps.local", "serviceName": "serviceb",
            "attributes": [{"key": "stage", "value": "live"}]}},
    })
    client.create_virtual_service(meshName=MESH, virtualServiceName=VS_B, spec={
        "provider": {"virtualNode": {"virtualNodeName": "serviceB"}}})
    client.create_virtual_node(meshName=MESH, virtualNodeName="client", spec={
        "backends": [{"virtualService": {"virtualServiceName": VS_B}}]})

    cluster = f"cds_egress_{MESH}_serviceB_http_{port}"
    egress = free_port()
    config = bootstrap(f"mesh/{MESH}/virtualNode/client", xds, free_port(), egress)
    with Upstream("first", host="127.0.0.2", port=port), \
            Upstream("second", host="127.0.0.3", port=port) as second, \
            Upstream("third", host="127.0.0.4", port=port), Envoy(config) as envoy:
        envoy.wait_for_listener(f"lds_egress_0.0.0.0_{egress}", timeout=10)
        envoy.wait_ready(timeout=10)
        status = envoy.wait_for_cluster(cluster, min_hosts=1)
        assert len(status["host_statuses"]) == 1, status
        assert split(egress, VS_B, 20) == {"first": 20}

        # Two more instances registered: the file changes, Envoy gets the endpoints.
        _instances(instances, "127.0.0.2", "127.0.0.3", "127.0.0.4")
        envoy.wait_for_cluster(cluster, min_hosts=3, timeout=10)
        spread = split(egress, VS_B, 150)
        assert sum(spread[n] for n in ("first", "second", "third")) == 150, spread
        assert min(spread[n] for n in ("first", "second", "third")) >= 20, spread

        # The second starts failing: after 3 errors in a row it is ejected, and the
        # default retry policy (503 is retried) hides its failures from the client.
        second.fail_next(10_000)
        split(egress, VS_B, 30)
        envoy.wait_for(lambda: envoy.stat(f"cluster.{cluster}.outlier_detection.ejections_enforced_total"),
                       timeout=5, what="an ejection")
        # Envoy takes an ejected EDS host out of its load balancer at the detector's next
        # interval (1 s here), not at once: wait until a batch no longer reaches it.
        def skipped() -> bool:
            before = second.requests
            answers = split(egress, VS_B, 20)
            assert set(answers) <= {"first", "third"}, answers
            return second.requests == before

        envoy.wait_for(skipped, timeout=5, what="the ejected instance left out")
        answered_by_second = second.requests
        after = split(egress, VS_B, 100)
        assert after["first"] + after["third"] == 100, after
        assert second.requests == answered_by_second, "the ejected instance still got requests"
        assert envoy.nacks() == 0, envoy.nack_stats()



def test_a_bad_cloud_map_file_stops_the_server_at_start_naming_the_member(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text(json.dumps({"Instances": [{
        "InstanceId": "b-1", "NamespaceName": "apps.local", "ServiceName": "serviceb",
        "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0"}}]}))
    done = subprocess.run(
        [str(server_binary()), "serve", "--insecure-dev", "--listen", "127.0.0.1:0",
         "--data-dir", str(tmp_path / "data"), "--cloud-map-file", str(bad)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "listening on" not in done.stdout
    assert 'Instances[0].Attributes.AWS_INSTANCE_IPV4: "10.0.0" is not an IPv4 address' in done.stderr, done.stderr
