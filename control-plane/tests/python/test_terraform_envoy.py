"""Through Terraform to real traffic: ``examples/scenarios/canary-envoy`` applied with the
terraform CLI and the provider against the control plane, serviceA's Envoy configured over
xDS, the 75/25 split measured, then 0/100 applied while requests flow, and measured again."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from canary_envoy import CanaryThroughEnvoy
from envoy_support import requires_envoy

REQUESTS = 2000
TOLERANCE_PP = 3.0

pytestmark = requires_envoy


def test_terraform_apply_moves_envoy_traffic(xds_server, tmp_path):
    with CanaryThroughEnvoy(xds_server.endpoint, xds_server.xds_address, tmp_path) as canary:
        assert "Apply complete! Resources: 7 added" in canary.first_apply, canary.first_apply
        assert canary.terraform.plan_is_empty(weights=canary.weights)

        counts = canary.split(REQUESTS)
        assert counts["serviceB"] + counts["serviceBv2"] == REQUESTS, counts
        assert abs(100.0 * counts["serviceB"] / REQUESTS - 75.0) <= TOLERANCE_PP, counts

        # 0/100 while one client keeps sending: no request fails during the switch.
        during: list[str] = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                during.extend(canary.split(20).elements())

        sender = threading.Thread(target=traffic)
        sender.start()
        try:
            out = canary.set_weights({"serviceB": 0, "serviceBv2": 100})
            applied_at = time.monotonic()
            assert "1 changed" in out, out
            switched = None
            while time.monotonic() - applied_at < 2:
                if canary.split(20) == {"serviceBv2": 20}:
                    switched = time.monotonic() - applied_at
                    break
            time.sleep(0.2)
        finally:
            stop.set()
            sender.join()
        assert switched is not None, "traffic had not moved to serviceBv2 2 s after the apply"
        assert set(during) <= {"serviceB", "serviceBv2"}, collections.Counter(during)

        assert canary.split(400) == {"serviceBv2": 400}
        assert canary.envoy.nacks() == 0, canary.envoy.nack_stats()
        weights = dict(_weighted_clusters(canary.envoy.config_dump("dynamic_route_configs")))
        assert weights.get(f"cds_egress_canary_serviceBv2_http_{canary.apps['serviceBv2'].port}") == 100, weights
        assert sum(weights.values()) == 100, weights


def _weighted_clusters(dump: Any):
    """(cluster name, weight) of every weighted cluster anywhere in a config dump."""
    if isinstance(dump, dict):
        for cluster in dump.get("weighted_clusters", {}).get("clusters", []):
            yield cluster["name"], int(cluster.get("weight", 0))
        for value in dump.values():
            yield from _weighted_clusters(value)
    elif isinstance(dump, list):
        for value in dump:
            yield from _weighted_clusters(value)
