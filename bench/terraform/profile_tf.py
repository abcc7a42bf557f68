"""Where a `terraform plan` of the appmesh configuration spends its time, for bench.py.

Two instrumented runs of the same plan (with the resources of the benchmark in state):

1. `TF_LOG=trace`: the provider-protocol calls Terraform made (each `GRPCProvider.v6: X`
   line is one call), the provider processes it started and when each graph walk began.
   Trace logging slows Terraform, so only the counts and the order are used.
2. `perf record -g` (software cpu-clock, 999 Hz) of Terraform and the provider processes it
   starts, for both configurations: CPU samples by process, Terraform's by Go package and by
   the subsystems in their call chains (Go keeps frame pointers), the provider's by symbol.
   The released terraform is stripped; `gosyms` names its functions from `.gopclntab`.

Python stdlib only. Returns Markdown; every section is skipped with a note when its tool is
missing.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess

import gosyms

# Subsystems of Terraform, matched against every frame of a sample's call chain (a sample
# counts once per subsystem whose pattern occurs anywhere in its chain; they overlap).
SUBSYSTEMS = [
    ("provider protocol client (plugin6.GRPCProvider, all methods)", r"internal/plugin6\.\(\*GRPCProvider\)\."),
    ("  PlanResourceChange", r"internal/plugin6\.\(\*GRPCProvider\)\.PlanResourceChange"),
    ("  ReadResource", r"internal/plugin6\.\(\*GRPCProvider\)\.ReadResource"),
    ("  UpgradeResourceState", r"internal/plugin6\.\(\*GRPCProvider\)\.UpgradeResourceState"),
    ("  ApplyResourceChange", r"internal/plugin6\.\(\*GRPCProvider\)\.ApplyResourceChange"),
    ("  GetProviderSchema", r"internal/plugin6\.\(\*GRPCProvider\)\.GetProviderSchema"),
    ("  ValidateResourceConfig", r"internal/plugin6\.\(\*GRPCProvider\)\.ValidateResourceConfig"),
    ("schema -> cty type (configschema.Block.ImpliedType, rebuilt on every call)",
     r"configschema\.\(\*Block\)\.(ImpliedType|specType)|hcldec\.ImpliedType|cty\.Type\.WithoutOptionalAttributesDeep"),
    ("msgpack encode/decode of values (go-cty msgpack)", r"go-cty/cty/msgpack\."),
    ("protobuf (de)serialisation", r"google\.golang\.org/protobuf/"),
    ("gRPC/HTTP2 transport", r"google\.golang\.org/grpc/"),
    ("TLS records (go-plugin AutoMTLS)", r"^crypto/tls\.\(\*Conn\)\.(Read|Write)"),
    ("TLS handshakes and plugin certificates (ECDSA P-521 keys)", r"^crypto/tls\.\(\*Conn\)\.(Handshake|handshake)|hashicorp/go-plugin.*generateCert|^crypto/ecdsa\.GenerateKey"),
    ("schema conversion (plugin6/convert)", r"internal/plugin6/convert\."),
    ("objchange (ProposedNew, plan/apply validity checks)", r"internal/plans/objchange\."),
    ("configschema (block types, defaults, coercion)", r"internal/configs/configschema\."),
    ("HCL decoding (hcldec/gohcl)", r"hashicorp/hcl/v2/(hcldec|gohcl)"),
    ("state (states, statefile, JSON encode/decode)", r"internal/states"),
    ("plan changes (plans, encoding)", r"internal/plans\.|internal/plans/planfile"),
    ("rendering (command/jsonformat, views)", r"internal/command/(jsonformat|views|format)"),
    ("built-in terraform provider (terraform_data)", r"internal/builtin/providers/terraform"),
    ("go-cty value operations", r"zclconf/go-cty/cty\.|zclconf/go-cty/cty/convert"),
    ("graph building and walking (dag, terraform)", r"internal/dag\."),
    ("garbage collector (background marking)", r"^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)"),
    ("memory allocation (mallocgc, incl. GC assists)", r"^runtime\.mallocgc"),
]

# The same samples, each given to the first of these (in this order) found in its call chain,
# so that the rows add up and the difference between the configurations splits cleanly.
EXCLUSIVE = [
    ("schema -> cty type (configschema.Block.ImpliedType)",
     r"configschema\.\(\*Block\)\.(ImpliedType|specType)|hcldec\.ImpliedType|cty\.Type\.WithoutOptionalAttributesDeep"),
    ("plugin start: TLS handshake, certificates", r"^crypto/tls\.\(\*Conn\)\.(Handshake|handshake)|hashicorp/go-plugin.*generateCert|^crypto/ecdsa\.GenerateKey"),
    ("plugin protocol: gRPC, HTTP/2, TLS records, protobuf", r"google\.golang\.org/(grpc|protobuf)/|^crypto/tls\."),
    ("plugin protocol: schema conversion", r"internal/plugin6/convert\."),
    ("values: msgpack encode/decode", r"go-cty/cty/msgpack\."),
    ("objchange (ProposedNew, validity checks, legacy normalisation)", r"internal/plans/objchange\."),
    ("state (read, write, deep copies)", r"internal/states"),
    ("plan: changes, JSON plan, rendering", r"internal/plans|internal/command/"),
    ("built-in terraform provider (terraform_data)", r"internal/builtin/providers/terraform"),
    ("configuration: HCL, expressions", r"hashicorp/hcl/v2|internal/lang\.|internal/configs"),
    ("garbage collector (background)", r"^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)"),
]


def trace_profile(bench, n: int, d: str, plan_args: list[str]) -> str:
    log = os.path.join(bench.work, f"trace-{n}.log")
    plugin_logs = os.path.join(bench.work, f"plugin-logs-{n}")
    os.makedirs(plugin_logs, exist_ok=True)
    env = dict(bench.env, TF_LOG="trace", TF_LOG_PATH=log, TFBENCH_PLUGIN_LOG_DIR=plugin_logs)
    r = bench.run(d, "plan-trace", plan_args, env=env)
    # What the provider processes served, from tf-provider's own trace logs.
    served: collections.Counter = collections.Counter()
    rpc = re.compile(r"uri=\S*/(?:tfplugin6\.Provider|plugin\.\w+)/(\w+) .*started processing request")
    for name in sorted(os.listdir(plugin_logs)):
        with open(os.path.join(plugin_logs, name), errors="replace") as f:
            for line in f:
                m = rpc.search(line)
                if m:
                    served[m.group(1)] += 1
    calls: collections.Counter = collections.Counter()
    cached = starts = 0
    walks: list[tuple[str, str]] = []
    first = last = None
    ts_re = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)")
    with open(log, errors="replace") as f:
        for line in f:
            m = ts_re.match(line)
            if m:
                first = first or m.group(1)
                last = m.group(1)
            if "returning cached schema" in line:
                cached += 1
                continue
            m = re.search(r"GRPCProvider(?:\.v6)?: (\w+)\s*$", line)
            if m:
                calls[m.group(1)] += 1
            if "starting plugin: path=" in line and "terraform-provider-appmesh" in line:
                starts += 1
            m = re.search(r"Starting graph walk: (\w+)", line)
            if m and ts_re.match(line):
                walks.append((m.group(1), ts_re.match(line).group(1)))
    rows = ["| call | Terraform's `GRPCProvider` method calls | RPCs the provider served |", "|---|---:|---:|"]
    for k in sorted(set(calls) | set(served), key=lambda k: (-max(calls[k], served[k]), k)):
        rows.append(f"| {k} | {calls[k]:,} | {served[k]:,} |")
    rows.append(f"| (schema from Terraform's global cache) | {cached:,} | |")
    walk_text = ", ".join(w for w, _ in walks)
    return "\n".join([
        f"### Provider-protocol calls of one `terraform plan`, N = {n:,}",
        "",
        f"From `TF_LOG=trace` (exit code {r['rc']}) and the provider's own trace log "
        f"(`PLUGIN_LOG_FILE`); {starts} provider process(es) started; graph walks: "
        f"{walk_text or '?'}. Terraform logs each `GRPCProvider` method call; "
        "`GetProviderSchema` is mostly answered from the provider instance's copy, so the "
        "RPCs actually sent are in the last column.",
        "",
        *rows,
        "",
    ])


def perf_ok() -> bool:
    perf = shutil.which("perf")
    if not perf:
        return False
    p = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                       capture_output=True)
    return p.returncode == 0


def samples(data: str):
    """(pid, [(ip, sym, dso)] leaf first) per sample of `perf script`."""
    p = subprocess.Popen(["perf", "script", "-i", data, "-F", "pid,tid,ip,sym,dso"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="replace")
    assert p.stdout is not None
    pid, chain = None, []
    frame = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\(([^()]*)\)\s*$")
    for line in p.stdout:
        if not line.strip():
            if pid is not None:
                yield pid, chain
            pid, chain = None, []
            continue
        header = re.match(r"^\s*(\d+)/\d+\s*$", line)
        if header:  # "  PID/TID", right-aligned
            pid = int(header.group(1))
            chain = []
            continue
        m = frame.match(line)
        if m:
            chain.append((int(m.group(1), 16), m.group(2), m.group(3)))
    if pid is not None:
        yield pid, chain
    p.wait()


def crate(symbol: str) -> str:
    s = symbol.lstrip("<&*")
    s = re.sub(r"^(dyn |mut )", "", s)
    head = re.split(r"::|[ <>(]", s, maxsplit=1)[0]
    return head or symbol


def analyse(data: str, provider_pids: set[int], terraform: str, syms: gosyms.GoSymbols) -> dict:
    tf_real = os.path.realpath(terraform)
    out = {"terraform": 0, "provider": 0, "other": 0, "tf_kernel": 0,
           "tf_pkg": collections.Counter(), "tf_sub": collections.Counter(), "tf_func": collections.Counter(),
           "pv_sym": collections.Counter(), "pv_crate": collections.Counter(), "pv_kernel": 0}
    compiled = [(label, re.compile(rx)) for label, rx in SUBSYSTEMS]
    exclusive = [(label, re.compile(rx)) for label, rx in EXCLUSIVE]
    out["tf_excl"] = collections.Counter()
    for pid, chain in samples(data):
        if pid in provider_pids:
            out["provider"] += 1
            user = [f for f in chain if not f[2].startswith("[kernel")]
            if len(user) < len(chain) and chain and chain[0][2].startswith("[kernel"):
                out["pv_kernel"] += 1
            leaf = user[0][1] if user else "[kernel]"
            if leaf == "[unknown]" and user:
                leaf = f"[unknown in {os.path.basename(user[0][2])}]"
            out["pv_sym"][leaf] += 1
            out["pv_crate"][crate(leaf) if user else "[kernel]"] += 1
            continue
        if not any(os.path.realpath(f[2]) == tf_real for f in chain if f[2].startswith("/")):
            out["other"] += 1
            continue
        out["terraform"] += 1
        funcs = []
        for ip, _sym, dso in chain:
            if dso.startswith("/") and os.path.realpath(dso) == tf_real:
                name = syms.lookup_offset(ip)
                if name:
                    funcs.append(name)
        if chain and chain[0][2].startswith("[kernel"):
            out["tf_kernel"] += 1
        if funcs:
            out["tf_pkg"][gosyms.package(funcs[0])] += 1
            out["tf_func"][funcs[0]] += 1
        for label, rx in exclusive:
            if any(rx.search(fn) for fn in funcs):
                out["tf_excl"][label] += 1
                break
        else:
            out["tf_excl"]["everything else in Terraform"] += 1
        seen = set()
        for label, rx in compiled:
            if label not in seen and any(rx.search(fn) for fn in funcs):
                out["tf_sub"][label] += 1
                seen.add(label)
    return out


def pct(x: float, total: float) -> str:
    return f"{100 * x / total:.0f}%" if total else "–"


def perf_profile(bench, n: int, dirs: dict[str, str], plan_args: list[str]) -> str:
    if not perf_ok():
        return "### CPU profile\n\n`perf` is missing or may not record here; skipped.\n"
    try:
        syms = gosyms.GoSymbols(bench.terraform)
    except (OSError, ValueError) as e:
        return f"### CPU profile\n\nCannot read Terraform's function table ({e}); skipped.\n"
    runs = {}
    for cfg, d in dirs.items():
        data = os.path.join(bench.work, f"perf-{cfg}-{n}.data")
        prefix = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "--"]
        r = bench.run(d, "plan-perf", plan_args, prefix=prefix)
        runs[cfg] = {"data": data, "wall": r["wall"], "provider_pids": r["provider_pids"]}
    sizes = {"appmesh_virtual_node": schema_size(bench, dirs["appmesh"], "appmesh_virtual_node"),
             "terraform_data": schema_size(bench, dirs["terraform_data"], "terraform_data")}
    with open(os.path.join(bench.work, f"perf-{n}.json"), "w") as f:
        json.dump({"runs": runs, "sizes": sizes}, f)
    return render_perf(n, runs, bench.terraform, syms, sizes)


def schema_size(bench, d: str, type_name: str) -> tuple[int, int] | None:
    """(attributes, nested block types) of a resource type's schema, all levels."""
    p = subprocess.run([bench.terraform, f"-chdir={d}", "providers", "schema", "-json"],
                       capture_output=True, text=True, env=bench.env)
    try:
        schemas = json.loads(p.stdout)["provider_schemas"]
    except (ValueError, KeyError):
        return None

    def count(block: dict) -> tuple[int, int]:
        a, b = len(block.get("attributes", {})), len(block.get("block_types", {}))
        for nested in block.get("block_types", {}).values():
            x, y = count(nested["block"])
            a, b = a + x, b + y
        return a, b

    for provider in schemas.values():
        if type_name in provider.get("resource_schemas", {}):
            return count(provider["resource_schemas"][type_name]["block"])
    return None


def render_perf(n: int, runs: dict, terraform: str, syms: gosyms.GoSymbols,
                sizes: dict | None = None) -> str:
    res = {cfg: ({"wall": r["wall"]}, analyse(r["data"], set(r["provider_pids"]), terraform, syms))
           for cfg, r in runs.items()}
    ours, data = res["appmesh"][1], res["terraform_data"][1]
    extra = ours["terraform"] - data["terraform"]
    excl = {label: ours["tf_excl"][label] - data["tf_excl"][label]
            for label in [lbl for lbl, _ in EXCLUSIVE] + ["everything else in Terraform"]}
    schema_type = excl[EXCLUSIVE[0][0]]
    protocol = sum(excl[label] for label, _ in EXCLUSIVE[1:4])
    total = ours["terraform"] + ours["provider"]
    lines = [
        f"### CPU profile of one `terraform plan`, N = {n:,}",
        "",
        f"- The appmesh plan used {total:,} samples of CPU against {data['terraform']:,} for "
        f"terraform_data: Terraform itself {ours['terraform']:,} ({extra:+,}) and the provider "
        f"processes {ours['provider']:,} ({pct(ours['provider'], total)} of the total).",
        f"- Of Terraform's extra {extra:,}: {schema_type:+,} ({pct(schema_type, extra)}) rebuild the "
        "cty type of the resource schema (`configschema.Block.ImpliedType`, which Terraform "
        "does not cache and calls from more than a dozen places per resource instance: "
        "UpgradeResourceState, ReadResource, PlanResourceChange, ValidateResourceConfig, state "
        "reads and writes, legacy-SDK normalisation, plan validity checks, drift and plan "
        "encoding); "
        f"{excl['garbage collector (background)']:+,} are the garbage collector and "
        f"{excl['configuration: HCL, expressions']:+,} decoding the configuration against the "
        f"schema; {protocol:+,} ({pct(protocol, extra)}) are the plugin protocol itself "
        "(gRPC, HTTP/2, TLS, protobuf, plugin start-up).",
    ]
    lines += [
    ]
    node, tfdata = (sizes or {}).get("appmesh_virtual_node"), (sizes or {}).get("terraform_data")
    if node and tfdata:
        lines.append(
            f"- The `appmesh_virtual_node` schema has {node[0]} attributes in {node[1]} nested block "
            f"types (`terraform_data`: {tfdata[0]} attributes, {tfdata[1]} blocks); the values are "
            "small (most blocks empty), so this cost follows the schema, not the data.")
    lines += [
        "",
        "`perf record -g -e cpu-clock -F 999` (one sample ≈ 1 ms of CPU) of Terraform and "
        "everything it started; the control plane is not included.",
        "",
        "| samples | terraform_data | appmesh |",
        "|---|---:|---:|",
        f"| Terraform | {data['terraform']:,} | {ours['terraform']:,} |",
        f"| … of which in the kernel (syscalls, page faults) | {data['tf_kernel']:,} | {ours['tf_kernel']:,} |",
        f"| provider processes | – | {ours['provider']:,} |",
        f"| other (wrapper, perf) | {data['other']:,} | {ours['other']:,} |",
        f"| wall time under perf | {res['terraform_data'][0]['wall']:.2f} s | {res['appmesh'][0]['wall']:.2f} s |",
        "",
        "Terraform's samples, each counted once: in the first of these found in its call chain "
        "(top to bottom), so the rows add up:",
        "",
        "| in the call chain (first match) | terraform_data | appmesh | appmesh − terraform_data |",
        "|---|---:|---:|---:|",
    ]
    for label in [lbl for lbl, _ in EXCLUSIVE] + ["everything else in Terraform"]:
        a, b = data["tf_excl"][label], ours["tf_excl"][label]
        lines.append(f"| {label} | {a:,} | {b:,} | {b - a:+,} |")
    lines.append(f"| **Terraform, total** | {data['terraform']:,} | {ours['terraform']:,} | "
                 f"{ours['terraform'] - data['terraform']:+,} |")
    lines.append(f"| provider processes | – | {ours['provider']:,} | {ours['provider']:+,} |")
    lines += [
        "",
        "Terraform's samples by subsystem, counting each sample once for every subsystem in its "
        "call chain (so rows overlap and do not add up):",
        "",
        "| subsystem (in the call chain) | terraform_data | appmesh | appmesh − terraform_data |",
        "|---|---:|---:|---:|",
    ]
    for label, _ in SUBSYSTEMS:
        a, b = data["tf_sub"][label], ours["tf_sub"][label]
        if a or b:
            lines.append(f"| {label} | {a:,} ({pct(a, data['terraform'])}) | {b:,} ({pct(b, ours['terraform'])}) "
                         f"| {b - a:+,} |")
    lines += ["", "Terraform's samples by the Go package of the running function (self time, top 15):", "",
              "| package | terraform_data | appmesh |", "|---|---:|---:|"]
    for pkg, b in ours["tf_pkg"].most_common(15):
        a = data["tf_pkg"][pkg]
        lines.append(f"| `{pkg}` | {a:,} | {b:,} |")
    lines += ["", "Terraform's hottest functions for appmesh (self, top 12):", "",
              "| function | samples |", "|---|---:|"]
    for fn, b in ours["tf_func"].most_common(12):
        lines.append(f"| `{fn}` | {b:,} |")
    total_pv = ours["provider"]
    lines += ["", f"The provider's samples ({total_pv:,}, {ours['pv_kernel']:,} in the kernel) by crate "
              "(or C library function) of the running function (self time, top 10) and its hottest "
              "symbols (top 12):", "",
              "| crate or function | samples |", "|---|---:|"]
    for c, v in ours["pv_crate"].most_common(10):
        lines.append(f"| `{c}` | {v:,} ({pct(v, total_pv)}) |")
    lines += ["", "| symbol | samples |", "|---|---:|"]
    for s, v in ours["pv_sym"].most_common(12):
        s = s if len(s) <= 110 else s[:107] + "..."
        lines.append(f"| `{s}` | {v:,} |")
    lines.append("")
    return "\n".join(lines)


def profile(bench, n: int, dirs: dict[str, str], plan_args: list[str]) -> str:
    print(f"  profiling the plan of N={n}", flush=True)
    parts = ["## Where the time goes", ""]
    try:
        parts.append(trace_profile(bench, n, dirs["appmesh"], plan_args))
    except Exception as e:  # a report, not a failure
        parts.append(f"Trace profile failed: {e}\n")
    try:
        parts.append(perf_profile(bench, n, dirs, plan_args))
    except Exception as e:
        parts.append(f"CPU profile failed: {e}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    # Re-renders the CPU profile of a kept working directory: profile_tf.py WORKDIR N
    import sys

    work, n = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(work, f"perf-{n}.json")) as f:
        saved = json.load(f)
    runs, sizes = (saved["runs"], saved.get("sizes")) if "runs" in saved else (saved, None)
    tf = shutil.which("terraform") or "/usr/local/bin/terraform"
    print(render_perf(n, runs, tf, gosyms.GoSymbols(tf), sizes))
