"""The example ``examples/scenarios/canary-envoy`` as a user runs it: applied with the real
``terraform`` CLI and this repository's provider, its three applications on 127.0.0.1, and
serviceA's Envoy sidecar configured by the control plane over xDS.

Shared by the Terraform-through-Envoy test (``test_terraform_envoy.py``) and ``scripts/demo``.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from e2e_support import server_binary
from envoy_support import Envoy, Upstream, bootstrap, free_port, split

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "scenarios" / "canary-envoy"
VS_B = "serviceb.apps.local"
APPS = ("serviceA", "serviceB", "serviceBv2")
TERRAFORM_TIMEOUT_S = 300


class Terraform:
    """The ``terraform`` CLI in a copy of an example directory, with this repository's
    provider installed through a ``dev_overrides`` CLI configuration (no ``init`` needed)."""

    def __init__(self, source: Path, workdir: Path, provider_dir: Path,
                 variables: Mapping[str, object]):
        self.dir = workdir / "tf"
        self.dir.mkdir(parents=True)
        for tf in source.glob("*.tf"):
            shutil.copy(tf, self.dir)
        rc = workdir / "dev.tfrc"
        rc.write_text(
            'provider_installation {\n'
            f'  dev_overrides {{ "appmesh-community/appmesh" = "{provider_dir}" }}\n'
            '  direct {}\n'
            '}\n'
        )
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1",
                        CHECKPOINT_DISABLE="1")
        self.variables = dict(variables)

    def run(self, *args: str, variables: Mapping[str, object] | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """``terraform <args> -no-color`` with the variables (maps as JSON, which HCL reads)."""
        argv = ["terraform", f"-chdir={self.dir}", *args, "-no-color"]
        if args[0] in ("apply", "plan", "destroy"):
            for name, value in {**self.variables, **(variables or {})}.items():
                text = value if isinstance(value, str) else json.dumps(value)
                argv += ["-var", f"{name}={text}"]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=TERRAFORM_TIMEOUT_S)
        if check and done.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed (rc={done.returncode})\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def apply(self, **variables: object) -> str:
        return self.run("apply", "-auto-approve", variables=variables).stdout

    def plan_is_empty(self, **variables: object) -> bool:
        """``terraform plan -detailed-exitcode``: 0 means nothing to change."""
        done = self.run("plan", "-detailed-exitcode", variables=variables, check=False)
        if done.returncode not in (0, 2):
            raise AssertionError(f"terraform plan failed\n{done.stdout}\n{done.stderr}")
        return done.returncode == 0

    def output(self, name: str) -> object:
        return json.loads(self.run("output", "-json", name).stdout)


def provider_dir() -> Path:
    """Where ``terraform-provider-appmesh`` was built: ``$APPMESH_PROVIDER_DIR``, else beside the
    control-plane binary (``cargo build`` puts both in ``target/debug``)."""
    return Path(os.environ.get("APPMESH_PROVIDER_DIR") or server_binary().parent)


class CanaryThroughEnvoy:
    """Starts the applications serviceA, serviceB and serviceBv2 (each answers its name),
    applies the example at ``weights`` with Terraform, and starts serviceA's Envoy from a
    bootstrap naming the node's ARN (the ``proxy_node_id`` output) and ``xds_address``.
    A context manager; on entry Envoy's egress listener is up and Envoy is ready."""

    def __init__(self, endpoint: str, xds_address: str, workdir: Path,
                 weights: Mapping[str, int] | None = None):
        self.endpoint = endpoint
        self.xds_address = xds_address
        self.workdir = Path(workdir)
        self.weights = dict(weights or {"serviceB": 75, "serviceBv2": 25})
        self.apps: dict[str, Upstream] = {}
        self.envoy: Envoy | None = None
        self.terraform: Terraform | None = None
        self.ingress_port = free_port()
        self.egress_port = free_port()
        self.first_apply = ""

    def __enter__(self) -> "CanaryThroughEnvoy":
        try:
            for name in APPS:
                self.apps[name] = Upstream(name)
            ports = {name: app.port for name, app in self.apps.items()}
            self.terraform = Terraform(EXAMPLE, self.workdir, provider_dir(),
                                       {"endpoint": self.endpoint, "app_ports": ports})
            self.first_apply = self.terraform.apply(weights=self.weights)
            node_id = self.terraform.output("proxy_node_id")
            config = bootstrap(str(node_id), self.xds_address, ingress_port=self.ingress_port,
                               egress_port=self.egress_port)
            self.envoy = Envoy(config)
            self.envoy.wait_for_listener(f"lds_egress_0.0.0.0_{self.egress_port}", timeout=15)
            self.envoy.wait_ready(timeout=15)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def set_weights(self, weights: Mapping[str, int]) -> str:
        """``terraform apply`` with new weights; its output."""
        assert self.terraform is not None
        self.weights = dict(weights)
        return self.terraform.apply(weights=self.weights)

    def split(self, n: int) -> collections.Counter:
        """``n`` requests for serviceb.apps.local through Envoy's egress listener: which
        application answered how often (errors as ``"<STATUS> ..."`` or ``"error"``)."""
        return split(self.egress_port, VS_B, n)

    def __exit__(self, *exc) -> None:
        if self.envoy is not None:
            self.envoy.__exit__(*exc)
            self.envoy = None
        for app in self.apps.values():
            app.close()
        self.apps.clear()
