"""Fixtures for the end-to-end tests of the App Mesh control plane.

Every test gets its own server process (fresh temporary data directory, port 0 so the OS picks
one). The helpers behind these fixtures live in ``e2e_support.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import pytest

from e2e_support import AwsCli, ControlPlane, make_client


@pytest.fixture
def start_server():
    """Factory: ``start_server(quotas={"meshes": 2})`` starts an isolated server.

    Every server started through it is stopped (SIGTERM, then wait) at teardown. A server that
    died during the test (crash, panic) turns the test into an error.
    """
    started: list[ControlPlane] = []

    def _start(
        quotas: Mapping[str, int] | None = None,
        extra_args: Iterable[str] = (),
        data_dir: Path | None = None,
    ) -> ControlPlane:
        cp = ControlPlane(quotas=quotas, extra_args=extra_args, data_dir=data_dir)
        started.append(cp)
        return cp

    yield _start

    died = []
    # Newest first: a restarted server may share the data dir of an earlier one.
    for cp in reversed(started):
        if cp.proc.poll() is not None and not cp.stopped_by_test:
            died.append(f"server {cp.endpoint} exited unexpectedly with rc={cp.proc.returncode}")
        # pytest shows captured output only for failing tests.
        print(cp.stderr_tail())
        cp.cleanup()
    if died:
        pytest.fail("\n".join(died), pytrace=False)


@pytest.fixture
def server(start_server) -> ControlPlane:
    """A fresh server with default quotas."""
    return start_server()


@pytest.fixture
def xds_server(start_server) -> ControlPlane:
    """A fresh server that also serves Envoy over ADS on TCP (``--insecure-dev``):
    ``xds_server.xds_address`` is ``127.0.0.1:PORT`` from its ``xds listening on`` line."""
    cp = start_server(extra_args=["--insecure-dev", "--xds-listen", "127.0.0.1:0"])
    line = cp.stdout_line("xds listening on ")
    cp.xds_address = line.removeprefix("xds listening on ")
    return cp


@pytest.fixture
def endpoint(server: ControlPlane) -> str:
    """``http://127.0.0.1:PORT`` of the fresh server."""
    return server.endpoint


@pytest.fixture
def appmesh(endpoint: str):
    """boto3 App Mesh client for the fresh server (dummy credentials, no retries)."""
    return make_client(endpoint)


@pytest.fixture
def cli(endpoint: str, tmp_path: Path) -> AwsCli:
    """AWS CLI runner; timestamps printed as they come over the wire."""
    return AwsCli(endpoint, tmp_path / "awscli")


@pytest.fixture
def cli_iso(endpoint: str, tmp_path: Path) -> AwsCli:
    """AWS CLI runner with ``cli_timestamp_format = iso8601``."""
    return AwsCli(endpoint, tmp_path / "awscli", timestamp_format="iso8601")
