"""Terraform overhead: N generated appmesh resources against the same N `terraform_data`.

For each N (default 100 and 1,000) the driver writes two root modules: one `appmesh_mesh`
plus N `appmesh_virtual_node` (count; an HTTP listener, DNS service discovery, tags on every
tenth) talking to a fresh `appmesh-control-plane`, and one `terraform_data` plus N
`terraform_data` whose `input` is an object of the same values. Both run the same phases,
interleaved (ours, then terraform_data, phase by phase), with the same Terraform binary:

    create          terraform apply               (rev = 0)
    plan            terraform plan                (refresh; no changes expected) x repeat
    plan-norefresh  terraform plan -refresh=false (no changes expected)          x repeat
    update          terraform apply               (rev = 1: every listener port changes)
    destroy         terraform destroy

Measured per phase: wall time; Terraform's CPU time (user+sys, from wait4, which includes
the provider processes it reaped) and peak RSS (VmHWM, sampled); the provider's CPU time,
peak RSS and number of starts (a wrapper in the dev_overrides directory runs the real
provider and logs its rusage); API calls, counted from the control plane's JSON request log;
the control plane's CPU time. With --profile (the default), one more instrumented plan of the
largest N per configuration: the gRPC calls Terraform made (TF_LOG=trace) and a `perf`
profile of Terraform and the provider (symbolised with the Go function table, since the
released terraform binary is stripped).

Usage: python3 bench/terraform/bench.py --bin-dir target/release [--n 100,1000]
       [--repeat 3] [--out docs/benchmarks/terraform.md] [--no-profile] [--keep]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import profile_tf  # noqa: E402  (beside this file)

KEY_ID, SECRET = "AKIDBENCH", "bench-secret"
ACCESS = f"""[[keys]]
access_key_id = "{KEY_ID}"
secret_access_key = "{SECRET}"
account = "123456789012"
principal = "bench"
requests_per_second = 1000000
burst = 1000000
"""
PROVIDER_SOURCE = "appmesh-community/appmesh"
CONFIGS = ("appmesh", "terraform_data")


# ---------------------------------------------------------------------------------------
# Configurations


def hcl_appmesh(n: int, endpoint: str) -> str:
    return f"""terraform {{
  required_providers {{
    appmesh = {{
      source = "{PROVIDER_SOURCE}"
    }}
  }}
}}

variable "rev" {{
  type    = number
  default = 0
}}

provider "appmesh" {{
  endpoint                = "{endpoint}"
  region                  = "us-east-1"
  access_key              = "{KEY_ID}"
  secret_key              = "{SECRET}"
  skip_metadata_api_check = true
}}

resource "appmesh_mesh" "bench" {{
  name = "tfbench-{n}"
}}

resource "appmesh_virtual_node" "node" {{
  count     = {n}
  name      = "node-${{count.index}}"
  mesh_name = appmesh_mesh.bench.id

  spec {{
    listener {{
      port_mapping {{
        port     = 8080 + var.rev
        protocol = "http"
      }}
    }}
    service_discovery {{
      dns {{
        hostname = "node-${{count.index}}.bench.local"
      }}
    }}
  }}

  tags = count.index % 10 == 0 ? {{ team = "bench", index = tostring(count.index) }} : null
}}
"""


def hcl_terraform_data(n: int) -> str:
    return f"""variable "rev" {{
  type    = number
  default = 0
}}

resource "terraform_data" "mesh" {{
  input = {{
    name = "tfbench-{n}"
  }}
}}

resource "terraform_data" "node" {{
  count = {n}
  input = {{
    name      = "node-${{count.index}}"
    mesh_name = terraform_data.mesh.output.name
    spec = {{
      listener          = [{{ port_mapping = [{{ port = 8080 + var.rev, protocol = "http" }}] }}]
      service_discovery = [{{ dns = [{{ hostname = "node-${{count.index}}.bench.local" }}] }}]
    }}
    tags = count.index % 10 == 0 ? {{ team = "bench", index = tostring(count.index) }} : null
  }}
}}
"""


COMMON = ["-input=false", "-no-color"]
# (phase, terraform arguments, repeated?)
PHASES = [
    ("create", ["apply", "-auto-approve", "-var", "rev=0"], False),
    ("plan", ["plan", "-detailed-exitcode", "-var", "rev=0"], True),
    ("plan-norefresh", ["plan", "-refresh=false", "-detailed-exitcode", "-var", "rev=0"], True),
    ("update", ["apply", "-auto-approve", "-var", "rev=1"], False),
    ("destroy", ["destroy", "-auto-approve", "-var", "rev=1"], False),
]


# ---------------------------------------------------------------------------------------
# The control plane


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ControlPlane:
    def __init__(self, binary: str, work: str):
        self.data = os.path.join(work, "cp-data")
        os.makedirs(self.data)
        self.access = os.path.join(work, "access.toml")
        with open(self.access, "w") as f:
            f.write(ACCESS)
        os.chmod(self.access, 0o600)
        self.log = os.path.join(work, "control-plane.stderr")
        self.err = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data,
             "--access-file", self.access, "--quota", "virtual-nodes-per-mesh=5000",
             "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.endpoint = self._wait_ready(time.time() + 30)
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_ready(self, deadline: float) -> str:
        found: list[str] = []

        def reader() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                m = re.search(r"listening on (https?://\S+)", line)
                if m:
                    found.append(m.group(1))
                    return

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(max(0.0, deadline - time.time()))
        if not found:
            self.stop()
            with open(self.log, errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"the control plane did not start:\n{tail}")
        return found[0]

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def offset(self) -> int:
        self.err.flush()
        return os.path.getsize(self.log)

    def settle(self) -> int:
        """The log's size once it stops growing (the last request lines are written)."""
        size = self.offset()
        for _ in range(50):
            time.sleep(0.05)
            now = self.offset()
            if now == size:
                return now
            size = now
        return size

    def requests(self, start: int, end: int) -> list[dict]:
        with open(self.log, "rb") as f:
            f.seek(start)
            chunk = f.read(end - start)
        out = []
        for line in chunk.splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            fields = d.get("fields") if isinstance(d.get("fields"), dict) else {}
            method = d.get("method", fields.get("method"))
            path = d.get("path", fields.get("path"))
            status = d.get("status", fields.get("status"))
            if method and path:
                out.append({"method": method, "path": path, "status": int(status or 0)})
        return out

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# ---------------------------------------------------------------------------------------
# The provider wrapper


def build_wrapper(plugin_dir: str) -> str:
    """Puts `terraform-provider-appmesh` (the rusage wrapper) in `plugin_dir`."""
    os.makedirs(plugin_dir, exist_ok=True)
    target = os.path.join(plugin_dir, "terraform-provider-appmesh")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        subprocess.run([cc, "-O2", "-o", target, os.path.join(HERE, "rusage_wrapper.c")], check=True)
        return "in C, built with `cc -O2`"
    with open(target, "w") as f:
        f.write(PY_WRAPPER.replace("PYTHON", sys.executable))
    os.chmod(target, 0o755)
    return "in Python, for want of a C compiler"


PY_WRAPPER = """#!PYTHON -SE
import json, os, resource, signal, sys, time
real, log = os.environ["TFBENCH_PROVIDER"], os.environ.get("TFBENCH_RUSAGE")
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    if os.environ.get("TFBENCH_PLUGIN_LOG_DIR"):
        os.environ["PLUGIN_LOG_FILE"] = os.path.join(os.environ["TFBENCH_PLUGIN_LOG_DIR"], f"provider-{os.getpid()}.log")
    os.execv(real, [real] + sys.argv[1:])
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, lambda sig, _f: os.kill(pid, sig))
while True:
    try:
        _, status, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
me = resource.getrusage(resource.RUSAGE_SELF)
if log:
    with open(log, "a") as f:
        f.write(json.dumps({"pid": pid, "utime": ru.ru_utime, "stime": ru.ru_stime,
            "maxrss_kb": ru.ru_maxrss, "wall": time.monotonic() - t0, "status": status,
            "wrapper_cpu": me.ru_utime + me.ru_stime}) + "\\n")
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def read_rusage(path: str, start: int) -> tuple[list[dict], int]:
    if not os.path.exists(path):
        return [], start
    with open(path, "rb") as f:
        f.seek(start)
        chunk = f.read()
    return [json.loads(line) for line in chunk.splitlines() if line.strip()], start + len(chunk)


# ---------------------------------------------------------------------------------------
# Running terraform


class Bench:
    def __init__(self, args: argparse.Namespace, work: str):
        self.args, self.work = args, work
        self.terraform = args.terraform
        self.plugins = os.path.join(work, "plugins")
        self.wrapper_kind = build_wrapper(self.plugins)
        self.rusage_log = os.path.join(work, "provider-rusage.jsonl")
        self.rusage_off = 0
        self.cli_config = os.path.join(work, "terraformrc")
        with open(self.cli_config, "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "{PROVIDER_SOURCE}" = "{self.plugins}"\n  }}\n  direct {{}}\n}}\n')
        self.provider = os.path.abspath(os.path.join(args.bin_dir, "terraform-provider-appmesh"))
        self.cp = ControlPlane(os.path.abspath(os.path.join(args.bin_dir, "appmesh-control-plane")), work)
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("TF_") or k.startswith("AWS_") or k.startswith("PLUGIN_"))}
        env.update({
            "TF_CLI_CONFIG_FILE": self.cli_config,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TFBENCH_PROVIDER": self.provider,
            "TFBENCH_RUSAGE": self.rusage_log,
        })
        self.env = env
        self.errors: list[str] = []

    def dirs(self, n: int) -> dict[str, str]:
        out = {}
        for cfg in CONFIGS:
            d = os.path.join(self.work, f"{cfg}-{n}")
            if not os.path.isdir(d):
                os.makedirs(d)
                text = hcl_appmesh(n, self.cp.endpoint) if cfg == "appmesh" else hcl_terraform_data(n)
                with open(os.path.join(d, "main.tf"), "w") as f:
                    f.write(text)
            out[cfg] = d
        return out

    def terraform_cmd(self, d: str, tf_args: list[str]) -> list[str]:
        return [self.terraform, f"-chdir={d}", tf_args[0], *COMMON, *tf_args[1:]]

    def run(self, d: str, label: str, tf_args: list[str], env: dict | None = None,
            prefix: list[str] | None = None) -> dict:
        """One terraform command, measured."""
        cp_start, cp_cpu0 = self.cp.offset(), self.cp.cpu()
        _, self.rusage_off = read_rusage(self.rusage_log, self.rusage_off)
        out_path = os.path.join(d, f"{label}.out")
        hwm = [0]
        with open(out_path, "wb") as out:
            t0 = time.perf_counter()
            p = subprocess.Popen([*(prefix or []), *self.terraform_cmd(d, tf_args)],
                                 stdout=out, stderr=subprocess.STDOUT, env=env or self.env)
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    try:
                        with open(f"/proc/{p.pid}/status") as f:
                            for line in f:
                                if line.startswith("VmHWM:"):
                                    hwm[0] = max(hwm[0], int(line.split()[1]))
                    except (OSError, ValueError):
                        pass
                    done.wait(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            done.set()
            sampler.join()
            p.returncode = os.waitstatus_to_exitcode(status)
        cp_end = self.cp.settle()
        time.sleep(0.05)
        starts, self.rusage_off = read_rusage(self.rusage_log, self.rusage_off)
        reqs = self.cp.requests(cp_start, cp_end)
        provider_cpu = sum(s["utime"] + s["stime"] for s in starts)
        wrapper_cpu = sum(s.get("wrapper_cpu", 0.0) for s in starts)
        tf_cpu = ru.ru_utime + ru.ru_stime
        return {
            "rc": p.returncode,
            "out": out_path,
            "wall": wall,
            "tf_cpu_total": tf_cpu,
            # wait4 reports terraform with the descendants it reaped: the wrappers and, through
            # them, the providers.
            "core_cpu": max(0.0, tf_cpu - provider_cpu - wrapper_cpu),
            "tf_hwm_mb": hwm[0] / 1024,
            "provider_cpu": provider_cpu,
            "provider_rss_mb": max((s["maxrss_kb"] for s in starts), default=0) / 1024,
            "provider_starts": len(starts),
            "provider_pids": [s["pid"] for s in starts],
            "api": len(reqs),
            "api_reads": sum(1 for r in reqs if r["method"] == "GET"),
            "api_writes": sum(1 for r in reqs if r["method"] != "GET"),
            "api_throttled": sum(1 for r in reqs if r["status"] == 429),
            "api_errors": sum(1 for r in reqs if r["status"] >= 400 and r["status"] != 404),
            "api_by_op": dict(collections.Counter(f"{r['method']} {op_name(r['path'])}" for r in reqs)),
            "cp_cpu": self.cp.cpu() - cp_cpu0,
        }

    def phase(self, n: int, cfg: str, d: str, name: str, tf_args: list[str], repeat: int) -> dict:
        runs = []
        for i in range(repeat):
            label = name if repeat == 1 else f"{name}-{i + 1}"
            r = self.run(d, label, tf_args)
            ok = r["rc"] == 0
            if not ok:
                with open(r["out"], errors="replace") as f:
                    tail = f.read()[-3000:]
                what = "planned changes (a perpetual diff)" if r["rc"] == 2 else f"exit code {r['rc']}"
                self.errors.append(f"N={n} {cfg} {name}: {what}; see {r['out']}\n{tail}")
            if r["api_throttled"]:
                self.errors.append(f"N={n} {cfg} {name}: {r['api_throttled']} requests throttled (429)")
            runs.append(r)
            print(f"  N={n:<5} {cfg:<15} {label:<17} {r['wall']:7.2f}s  core {r['core_cpu']:6.2f}s  "
                  f"provider {r['provider_cpu']:5.2f}s/{r['provider_rss_mb']:5.1f}MB x{r['provider_starts']}  "
                  f"api {r['api']:5d}  rc {r['rc']}", flush=True)
            if not ok and name in ("create", "update"):
                break
        if len(runs) == 1:
            return runs[0]
        # The median of each figure over the repeats.
        merged = dict(runs[0])
        for k, v in runs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "rc":
                merged[k] = statistics.median(r[k] for r in runs)
        merged["rc"] = max(r["rc"] for r in runs)
        merged["walls"] = [r["wall"] for r in runs]
        return merged


def op_name(path: str) -> str:
    """A request path as its operation's shape: ids replaced by placeholders."""
    parts = path.split("?")[0].strip("/").split("/")
    out = []
    for i, p in enumerate(parts):
        prev = parts[i - 1] if i else ""
        if prev in ("meshes", "virtualNodes", "virtualServices", "virtualRouters", "routes",
                    "virtualGateways", "gatewayRoutes", "virtualRouter", "virtualGateway"):
            out.append("{name}")
        else:
            out.append(p)
    return "/" + "/".join(out)


# ---------------------------------------------------------------------------------------
# Report


def machine() -> dict:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    tf = subprocess.run([shutil.which("terraform") or "terraform", "version"], capture_output=True, text=True,
                        env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null"})
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "terraform": tf.stdout.splitlines()[0] if tf.stdout else "?",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fmt_s(x: float) -> str:
    return f"{x:.2f}"


def tables(results: dict, ns: list[int]) -> str:
    lines = []
    for n in ns:
        res = results[n]
        per = n + 1  # the mesh (or its terraform_data twin) and N nodes
        lines.append(f"### N = {n:,} ({per:,} resources per configuration)\n")
        lines.append("| phase | terraform_data | appmesh | ratio | API calls / resource (reads + writes) |")
        lines.append("|---|---:|---:|---:|---|")
        for name, _, _ in PHASES:
            ours, data = res["appmesh"].get(name), res["terraform_data"].get(name)
            if not ours or not data:
                continue
            ratio = ours["wall"] / data["wall"] if data["wall"] else float("nan")
            flag = "" if ours["rc"] == 0 else f" (exit {ours['rc']:.0f})"
            lines.append(
                f"| {name} | {fmt_s(data['wall'])} s | {fmt_s(ours['wall'])} s{flag} | {ratio:.2f}× | "
                f"{ours['api'] / per:.2f} ({ours['api_reads'] / per:.2f} + {ours['api_writes'] / per:.2f}) |")
        lines.append("")
        lines.append("| phase | Terraform CPU, terraform_data | Terraform CPU, appmesh (core + provider) | "
                     "provider starts | provider peak RSS | Terraform peak RSS (data / appmesh) | control plane CPU |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for name, _, _ in PHASES:
            ours, data = res["appmesh"].get(name), res["terraform_data"].get(name)
            if not ours or not data:
                continue
            lines.append(
                f"| {name} | {fmt_s(data['core_cpu'])} s | {fmt_s(ours['core_cpu'] + ours['provider_cpu'])} s "
                f"({fmt_s(ours['core_cpu'])} + {fmt_s(ours['provider_cpu'])}) | {ours['provider_starts']:.0f} | "
                f"{ours['provider_rss_mb']:.1f} MB | {data['tf_hwm_mb']:.0f} / {ours['tf_hwm_mb']:.0f} MB | "
                f"{fmt_s(ours['cp_cpu'])} s |")
        lines.append("")
    return "\n".join(lines)


def summary(results: dict, ns: list[int]) -> str:
    out = []
    n = max(ns)
    ours, data = results[n]["appmesh"], results[n]["terraform_data"]
    if "plan" in ours and "plan" in data:
        p, q = ours["plan"], data["plan"]
        out.append(f"- `terraform plan` of {n:,}: {fmt_s(p['wall'])} s against {fmt_s(q['wall'])} s for "
                   f"terraform_data, **{p['wall'] / q['wall']:.2f}×** (target ≤ 1.5×). Of the appmesh plan's "
                   f"CPU, the provider used {fmt_s(p['provider_cpu'])} s "
                   f"({100 * p['provider_cpu'] / max(1e-9, p['provider_cpu'] + p['core_cpu']):.0f}%) and "
                   f"Terraform core {fmt_s(p['core_cpu'])} s ({fmt_s(q['core_cpu'])} s for terraform_data).")
    if "plan-norefresh" in ours and "plan-norefresh" in data:
        p, q = ours["plan-norefresh"], data["plan-norefresh"]
        out.append(f"- `terraform plan -refresh=false` of {n:,}: {fmt_s(p['wall'])} s against {fmt_s(q['wall'])} s, "
                   f"{p['wall'] / q['wall']:.2f}×.")
    rss = max((r["provider_rss_mb"] for nn in ns for r in results[nn]["appmesh"].values()), default=0)
    out.append(f"- Provider peak RSS over every phase and N: **{rss:.1f} MB** (target < 50 MB).")
    per = n + 1
    if "create" in ours:
        out.append(f"- API calls per resource: create {ours['create']['api'] / per:.2f} (target 1)"
                   + (f", refresh (plan) {ours['plan']['api'] / per:.2f} (target ≤ 2)" if "plan" in ours else "")
                   + (f", update {ours['update']['api'] / per:.2f} (its refresh included)" if "update" in ours else "")
                   + (f", destroy {ours['destroy']['api'] / per:.2f} (its refresh included)" if "destroy" in ours else "")
                   + ".")
    return "\n".join(out)


def api_breakdown(results: dict, n: int) -> str:
    lines = ["| phase | requests by operation (appmesh, N = %s) |" % f"{n:,}", "|---|---|"]
    for name, _, _ in PHASES:
        r = results[n]["appmesh"].get(name)
        if r:
            ops = ", ".join(f"`{k}` {v:.0f}" for k, v in sorted(r["api_by_op"].items(), key=lambda kv: -kv[1]))
            lines.append(f"| {name} | {ops} |")
    return "\n".join(lines) + "\n"


def report(mach: dict, args: argparse.Namespace, results: dict, ns: list[int], wrapper: str,
           profile_md: str, errors: list[str]) -> str:
    cmd = "scripts/bench-terraform --n " + ",".join(str(n) for n in ns)
    if args.repeat != 3:
        cmd += f" --repeat {args.repeat}"
    if args.phases != ",".join(p[0] for p in PHASES):
        cmd += f" --phases {args.phases}"
    if not args.profile:
        cmd += " --no-profile"
    parts = [
        "# Terraform overhead: appmesh resources against `terraform_data`",
        "",
        f"Generated by `{cmd}` (bench/terraform/bench.py); do not edit, run it again.",
        "",
        "## Machine",
        "",
        f"- {mach['nproc']} CPUs ({mach['cpu']}), Linux {mach['kernel']}, load average {mach['load']} at the start",
        f"- {mach['terraform']}; provider and control plane: release builds of this tree",
        f"- {mach['date']}",
        "",
        "## Method",
        "",
        "One run measures both configurations with the same Terraform, phase by phase and "
        "interleaved (appmesh, then terraform_data), each in its own directory with local state:",
        "",
        "- **appmesh**: one `appmesh_mesh` and N `appmesh_virtual_node` (`count`; an HTTP "
        "listener, DNS service discovery, two tags on every tenth node) against a fresh "
        "`appmesh-control-plane` on loopback (SQLite in a temporary directory, no rate limit "
        "in effect).",
        "- **terraform_data**: one `terraform_data` and N `terraform_data` whose `input` is an "
        "object with the same values (Terraform's built-in provider: no plugin process, no API).",
        "",
        "Phases: `create` (`apply`), `plan` (refreshes every resource; must find no changes), "
        "`plan-norefresh` (`plan -refresh=false`), `update` (`apply` with every node's listener "
        "port changed; includes its refresh), `destroy` (includes its refresh). `plan` phases "
        f"run {args.repeat} times; the tables show medians. Terraform's default parallelism "
        "(10). No `terraform init`: the provider comes from a `dev_overrides` directory.",
        "",
        "Wall time is the whole command. *Terraform CPU* is user+system time from `wait4`, "
        "which includes the descendants Terraform reaped; the provider's share is logged by a "
        f"wrapper ({wrapper}) that stands in for the provider binary in the `dev_overrides` "
        "directory, runs the real one as a child with the same stdin/stdout/stderr, and "
        "appends its rusage (`ru_utime`, `ru_stime`, `ru_maxrss`) to a file: *core* is "
        "Terraform's CPU less the provider's. *Provider starts* counts provider processes per "
        "command; their CPU is summed and their peak RSS is the largest. Terraform's peak RSS "
        "is VmHWM sampled every 20 ms. API calls are counted from the control plane's "
        "request log (one JSON line per request) and divided by N + 1; none may be throttled.",
        "",
        "The machine is shared, so wall times carry noise; CPU times are steadier.",
        "",
        "## Summary",
        "",
        summary(results, ns),
        "",
        "## Results",
        "",
        tables(results, ns),
        "### API requests",
        "",
        api_breakdown(results, max(ns)),
    ]
    if profile_md:
        parts += [profile_md]
    if errors:
        parts += ["## Problems", "", *[f"- {e.splitlines()[0]}" for e in errors], ""]
    return "\n".join(parts).rstrip() + "\n"


# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True, help="directory of the release binaries")
    ap.add_argument("--n", default="100,1000", help="comma-separated resource counts")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each plan phase (median)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks", "terraform.md"))
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--terraform", default=shutil.which("terraform") or "/usr/local/bin/terraform")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--phases", default=",".join(p[0] for p in PHASES),
                    help="comma-separated subset of the phases, for development (default: all)")
    args = ap.parse_args()
    ns = sorted({int(x) for x in args.n.split(",") if x.strip()})
    wanted = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = wanted - {p[0] for p in PHASES}
    if unknown or "create" not in wanted:
        ap.error(f"--phases: unknown {sorted(unknown)}" if unknown else "--phases must include create")

    mach = machine()
    work = tempfile.mkdtemp(prefix="tfbench-")
    print(f"working directory {work}", flush=True)
    bench = Bench(args, work)
    results: dict = {}
    profile_md = ""
    try:
        for n in ns:
            dirs = bench.dirs(n)
            results[n] = {cfg: {} for cfg in CONFIGS}
            for name, tf_args, repeated in PHASES:
                if name == "update" and args.profile and n == max(ns):
                    profile_md = profile_tf.profile(bench, n, dirs, PHASES[1][1])
                if name not in wanted:
                    continue
                for cfg in CONFIGS:
                    results[n][cfg][name] = bench.phase(n, cfg, dirs[cfg], name, tf_args,
                                                         args.repeat if repeated else 1)
    finally:
        bench.cp.stop()
    text = report(mach, args, results, ns, bench.wrapper_kind, profile_md, bench.errors)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({str(k): v for k, v in results.items()}, f, indent=1, default=str)
    print()
    print(text)
    print(f"written to {args.out}")
    if bench.errors:
        print("\nPROBLEMS:", *bench.errors, sep="\n", file=sys.stderr)
    if args.keep or bench.errors:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
