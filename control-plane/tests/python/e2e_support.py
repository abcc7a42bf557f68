"""Support code for the end-to-end tests of the App Mesh control plane (see conftest.py).

Every test gets its own server process (fresh temporary data directory, port chosen by the
OS). Clients are the real AWS CLI (v1, run as a subprocess from this interpreter's venv) and
boto3, pointed at the server with an explicit endpoint URL and the access keys the server is
started with (``OWNER`` and ``CONSUMER``, two accounts).

The server binary is taken from ``APPMESH_CONTROL_PLANE_BIN`` if set, otherwise from
``<repo>/target/debug/appmesh-control-plane``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping

import boto3
import botocore.config
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "appmesh-control-plane"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
CONSUMER_ACCOUNT_ID = "210987654321"

# (access key id, secret) of the two principals every test server knows.
OWNER = ("AKIDPYOWNER", "owner-secret-key")
CONSUMER = ("AKIDPYCONSUMER", "consumer-secret-key")


def access_file_text(extra: str = "") -> str:
    """The access file test servers start with: the two keys, then ``extra`` TOML."""
    return f"""
[[keys]]
access_key_id = "{OWNER[0]}"
secret_access_key = "{OWNER[1]}"
account = "{ACCOUNT_ID}"
principal = "owner"

[[keys]]
access_key_id = "{CONSUMER[0]}"
secret_access_key = "{CONSUMER[1]}"
account = "{CONSUMER_ACCOUNT_ID}"
principal = "consumer"
{extra}"""
ARN_PREFIX = f"arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:"

READY_RE = re.compile(r"^appmesh-control-plane listening on (https?://127\.0\.0\.1:(\d+))$")
READY_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0

# "An error occurred (NotFoundException) when calling the DescribeMesh operation: <message>"
CLI_ERROR_RE = re.compile(
    r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<op>\w+) operation(?: \(reached max retries: \d+\))?: (?P<message>.*)",
    re.DOTALL,
)


def server_binary() -> Path:
    return Path(os.environ.get("APPMESH_CONTROL_PLANE_BIN") or DEFAULT_BIN)


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------


class ControlPlane:
    """One running `appmesh-control-plane serve` process."""

    def __init__(
        self,
        quotas: Mapping[str, int] | None = None,
        extra_args: Iterable[str] = (),
        data_dir: Path | None = None,
    ):
        binary = server_binary()
        if not binary.is_file():
            pytest.fail(
                f"control-plane binary not found at {binary}; build it with "
                "`cargo build -p appmesh-control-plane` or set APPMESH_CONTROL_PLANE_BIN",
                pytrace=False,
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="appmesh-e2e-")
        if data_dir is None:
            data_dir = Path(self._tmp.name) / "data"
            data_dir.mkdir()
        self.data_dir = Path(data_dir)
        self.stderr_path = Path(self._tmp.name) / "server.stderr.log"
        args = [
            str(binary),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(self.data_dir),
            "--region",
            REGION,
            "--account-id",
            ACCOUNT_ID,
        ]
        for name, value in (quotas or {}).items():
            args += ["--quota", f"{name}={value}"]
        postgres = os.environ.get("APPMESH_TEST_POSTGRES")
        if postgres:
            # The data directory's own schema in the test PostgreSQL (a restart on the same
            # directory finds the same data).
            schema = "t_" + hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            args += ["--database", postgres, "--database-schema", schema]
        extra_args = list(extra_args)
        if "--access-file" not in extra_args and "--insecure-dev" not in extra_args:
            self.access_file = Path(self._tmp.name) / "access.toml"
            self.access_file.write_text(access_file_text())
            self.access_file.chmod(0o600)
            args += ["--access-file", str(self.access_file)]
        args += extra_args
        self.args = args
        self.stopped_by_test = False
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            env=server_env(),
        )
        self._lines: "queue.Queue[str | None]" = queue.Queue()
        self.extra_stdout: list[str] = []
        reader = threading.Thread(target=self._read_stdout, daemon=True)
        reader.start()
        self.ready_line, self.endpoint = self._wait_ready()
        self.port = int(READY_RE.match(self.ready_line).group(2))

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        first = True
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if first:
                self._lines.put(line)
                first = False
            else:
                self.extra_stdout.append(line)
        if first:
            self._lines.put(None)

    def _wait_ready(self) -> tuple[str, str]:
        try:
            line = self._lines.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            pytest.fail(
                f"server printed no ready line within {READY_TIMEOUT_S}s\n{self.stderr_tail()}",
                pytrace=False,
            )
        if line is None:
            self.stop()
            pytest.fail(
                f"server exited (rc={self.proc.returncode}) before printing its ready line\n"
                f"{self.stderr_tail()}",
                pytrace=False,
            )
        m = READY_RE.match(line)
        if not m:
            self.stop()
            pytest.fail(
                f"unexpected first stdout line {line!r}; expected "
                "'appmesh-control-plane listening on http://127.0.0.1:PORT'\n"
                f"{self.stderr_tail()}",
                pytrace=False,
            )
        return line, m.group(1)

    def stdout_line(self, prefix: str, timeout: float = 5.0) -> str:
        """The first line after the ready line that starts with ``prefix`` (e.g. the xDS
        server's ``xds listening on ...``), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.extra_stdout):
                if line.startswith(prefix):
                    return line
            time.sleep(0.01)
        pytest.fail(f"server printed no line starting {prefix!r}\n{self.stderr_tail()}", pytrace=False)

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            if not self._stderr_file.closed:
                self._stderr_file.flush()
            text = self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return "(no server stderr)"
        tail = text.splitlines()[-lines:]
        return "---- server stderr (tail) ----\n" + "\n".join(tail)

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if it does not exit within 15 s. Returns the exit code."""
        self.stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if not self._stderr_file.closed:
            self._stderr_file.close()
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        self._tmp.cleanup()


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.setdefault("RUST_LOG", "info")
    return env


# --------------------------------------------------------------------------------------------
# boto3
# --------------------------------------------------------------------------------------------


def make_client(endpoint_url: str, key: tuple[str, str] = OWNER, **config):
    """A boto3 App Mesh client for the given endpoint, signing with ``key``, no retries.

    botocore's legacy ``max_attempts`` counts *retries*; ``total_max_attempts=1`` means exactly
    one attempt, so a 500 or a dropped connection surfaces immediately instead of being retried.
    """
    session = boto3.session.Session(
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name=REGION,
    )
    settings = {
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 30,
    }
    settings.update(config)
    return session.client("appmesh", endpoint_url=endpoint_url, config=botocore.config.Config(**settings))


# --------------------------------------------------------------------------------------------
# AWS CLI
# --------------------------------------------------------------------------------------------


class CliError(AssertionError):
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str):
        self.cmd = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        m = CLI_ERROR_RE.search(stderr)
        self.code = m.group("code") if m else None
        self.operation = m.group("op") if m else None
        self.message = m.group("message").strip() if m else None
        super().__init__(
            f"aws {' '.join(args)} exited {returncode}\nstdout: {stdout}\nstderr: {stderr}"
        )


def aws_cli_path() -> Path:
    """`aws` from the same venv as the running interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("aws", "aws.cmd"):
        candidate = bindir / name
        if candidate.exists():
            return candidate
    pytest.fail(f"`aws` not found next to {sys.executable}; pip install -r requirements.txt", pytrace=False)


class AwsCli:
    """Runs ``aws appmesh <args> --endpoint-url EP --output json`` and parses the JSON."""

    def __init__(self, endpoint_url: str, workdir: Path, timestamp_format: str = "wire"):
        self.endpoint_url = endpoint_url
        self.exe = str(aws_cli_path())
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / f"aws-config-{timestamp_format}"
        config.write_text(
            "[default]\n"
            f"region = {REGION}\n"
            f"cli_timestamp_format = {timestamp_format}\n"
            "max_attempts = 1\n"
            "retry_mode = standard\n"
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            {
                "AWS_ACCESS_KEY_ID": OWNER[0],
                "AWS_SECRET_ACCESS_KEY": OWNER[1],
                "AWS_DEFAULT_REGION": REGION,
                "AWS_PAGER": "",
                "AWS_CONFIG_FILE": str(config),
                "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-credentials"),
                "AWS_MAX_ATTEMPTS": "1",
                "AWS_RETRY_MODE": "standard",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [self.exe, "appmesh", *args, "--endpoint-url", self.endpoint_url, "--output", "json"]
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
        )

    def __call__(self, *args: str) -> dict[str, Any]:
        """Run a command that must succeed; returns the parsed JSON output ({} if empty)."""
        cp = self.run(*args)
        if cp.returncode != 0:
            raise CliError(list(args), cp.returncode, cp.stdout, cp.stderr)
        out = cp.stdout.strip()
        return json.loads(out) if out else {}

    def expect_all(self, code: str, probes: Iterable[tuple[str, ...]]) -> list[CliError]:
        """Runs every probe and asserts each fails with ``code``; reports all mismatches at once."""
        problems: list[str] = []
        errors: list[CliError] = []
        for args in probes:
            cp = self.run(*args)
            shown = "aws appmesh " + " ".join(a if len(a) < 80 else a[:77] + "..." for a in args)
            if cp.returncode == 0:
                problems.append(f"{shown}\n    succeeded, expected {code}")
                continue
            err = CliError(list(args), cp.returncode, cp.stdout, cp.stderr)
            errors.append(err)
            if err.code != code:
                problems.append(f"{shown}\n    expected {code}, got: {cp.stderr.strip()}")
        assert not problems, f"{len(problems)} probe(s) misbehaved:\n" + "\n".join(problems)
        return errors

    def fail(self, *args: str, code: str | None = None) -> CliError:
        """Run a command that must fail with a service error; returns the parsed error."""
        cp = self.run(*args)
        assert cp.returncode != 0, (
            f"expected `aws appmesh {' '.join(args)}` to fail"
            + (f" with {code}" if code else "")
            + f", but it succeeded:\n{cp.stdout}"
        )
        err = CliError(list(args), cp.returncode, cp.stdout, cp.stderr)
        assert err.code is not None, f"no service error code in CLI stderr:\n{cp.stderr}"
        if code is not None:
            assert err.code == code, f"expected {code}, got {err.code}:\n{cp.stderr}"
        return err


# --------------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------------


class HttpResult:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        return f"<HTTP {self.status} {dict(self.headers)!r} {self.body[:500]!r}>"


def throwaway_ca(directory: Path) -> tuple[Path, Path, Path]:
    """``scripts/test-ca``: a throw-away CA and a server certificate it signed for 127.0.0.1
    and localhost: (CA certificate, server certificate, server key)."""
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "test-ca"), str(directory)],
                   check=True, capture_output=True, timeout=60)
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


def http_request(
    endpoint_url: str,
    method: str,
    path: str,
    body: bytes | str | dict | None = None,
    headers: Mapping[str, str] | None = None,
    sign: tuple[str, str] | None = OWNER,
) -> HttpResult:
    """One plain HTTP request, SigV4-signed with ``sign`` (a key pair; ``None`` sends it
    unsigned); never raises on HTTP error statuses."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs = {"Accept": "application/json"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    if sign is not None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        signed = AWSRequest(method=method, url=endpoint_url + path, data=body or b"", headers=hdrs)
        SigV4Auth(Credentials(*sign), "appmesh", REGION).add_auth(signed)
        hdrs = dict(signed.headers.items())
    req = urllib.request.Request(endpoint_url + path, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return HttpResult(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.headers, e.read())


# --------------------------------------------------------------------------------------------
# Assertions shared by the suites
# --------------------------------------------------------------------------------------------


def assert_contains(actual: Any, expected: Any, path: str = "$") -> None:
    """Recursively check that ``expected`` is contained in ``actual``.

    Dicts: every expected key must be present with a contained value (extra keys allowed, so
    server-side defaults don't break the check). Lists: same length, element-wise containment,
    in order. Scalars: equality, with bool and int kept distinct (0 != False).
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing key {key!r} in {actual!r}"
            assert_contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: expected {len(expected)} items, got {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_contains(a, e, f"{path}[{i}]")
    else:
        assert type(actual) is type(expected) or (
            isinstance(actual, (int, float))
            and isinstance(expected, (int, float))
            and not isinstance(actual, bool)
            and not isinstance(expected, bool)
        ), f"{path}: expected {expected!r} ({type(expected).__name__}), got {actual!r}"
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"


def is_epoch_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_epoch_seconds(value: Any, what: str = "timestamp") -> float:
    """A JSON number of seconds since the epoch, plausibly 'now' (not millis, not 0)."""
    assert is_epoch_number(value), f"{what}: expected epoch seconds as a JSON number, got {value!r}"
    now = _dt.datetime.now(_dt.timezone.utc).timestamp()
    assert now - 86400 < value < now + 86400, f"{what}: {value!r} is not epoch seconds near now"
    return float(value)


def assert_iso_timestamp(value: Any, what: str = "timestamp") -> _dt.datetime:
    assert isinstance(value, str), f"{what}: expected an ISO-8601 string, got {value!r}"
    parsed = _dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{what}: {value!r} has no timezone"
    now = _dt.datetime.now(_dt.timezone.utc)
    assert abs((now - parsed).total_seconds()) < 86400, f"{what}: {value!r} is not near now"
    return parsed


def assert_datetime(value: Any, what: str = "timestamp") -> _dt.datetime:
    """boto3 parses timestamps into aware datetimes."""
    assert isinstance(value, _dt.datetime), f"{what}: expected datetime, got {value!r}"
    assert value.tzinfo is not None, f"{what}: naive datetime {value!r}"
    now = _dt.datetime.now(_dt.timezone.utc)
    assert abs((now - value).total_seconds()) < 86400, f"{what}: {value!r} is not near now"
    return value



# --------------------------------------------------------------------------------------------
# The service guide's canonical scenario (api-wire-and-peers.md Appendix B)
# --------------------------------------------------------------------------------------------

MESH = "apps"
MESH_SPEC = {"egressFilter": {"type": "ALLOW_ALL"}}
MESH_TAGS = [{"key": "team", "value": "core"}]

VS_B = "serviceb.apps.local"
VS_A = "servicea.apps.local"
VN_B = "serviceB"
VN_B2 = "serviceBv2"
VN_A = "serviceA"
VR_B = "serviceB"
ROUTE_B = "serviceB-route"
VGW = "ingress-gw"
GWR = "gr-a"


def node_spec(hostname: str, backends: list[str] | None = None) -> dict:
    spec: dict = {
        "listeners": [{"portMapping": {"port": 80, "protocol": "http2"}}],
        "serviceDiscovery": {"dns": {"hostname": hostname}},
    }
    if backends:
        spec["backends"] = [{"virtualService": {"virtualServiceName": b}} for b in backends]
    return spec


NODE_SPECS = {
    VN_B: node_spec("serviceb.apps.local"),
    VN_B2: node_spec("servicebv2.apps.local"),
    VN_A: node_spec("servicea.apps.local", backends=[VS_B]),
}
ROUTER_SPEC = {"listeners": [{"portMapping": {"port": 80, "protocol": "http2"}}]}


def route_spec(weight_b: int, weight_b2: int) -> dict:
    return {
        "http2Route": {
            "match": {"prefix": "/"},
            "action": {
                "weightedTargets": [
                    {"virtualNode": VN_B, "weight": weight_b},
                    {"virtualNode": VN_B2, "weight": weight_b2},
                ]
            },
        }
    }


VS_B_SPEC_ROUTER = {"provider": {"virtualRouter": {"virtualRouterName": VR_B}}}
VS_A_SPEC = {"provider": {"virtualNode": {"virtualNodeName": VN_A}}}
GATEWAY_SPEC = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
GATEWAY_ROUTE_SPEC = {
    "httpRoute": {
        "match": {"prefix": "/"},
        "action": {"target": {"virtualService": {"virtualServiceName": VS_A}}},
    }
}

ARN_MESH = f"{ARN_PREFIX}mesh/{MESH}"
ARN_VN = {name: f"{ARN_MESH}/virtualNode/{name}" for name in NODE_SPECS}
ARN_VR = f"{ARN_MESH}/virtualRouter/{VR_B}"
ARN_ROUTE = f"{ARN_VR}/route/{ROUTE_B}"
ARN_VS = {name: f"{ARN_MESH}/virtualService/{name}" for name in (VS_B, VS_A)}
ARN_VGW = f"{ARN_MESH}/virtualGateway/{VGW}"
ARN_GWR = f"{ARN_VGW}/gatewayRoute/{GWR}"


def j(value: Any) -> str:
    """Compact JSON for a CLI argument."""
    return json.dumps(value, separators=(",", ":"))
