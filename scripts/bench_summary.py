#!/usr/bin/env python3
"""bench_summary.py [latest.json [--write FILE...]]: the per-backend
summary table that docs/choosing.md and the README show, from a make bench
run (Markdown). Ratios are to CFuncNoInline of the same run. With
--write, the table (from its header line to its "Ratios:" line) is
replaced in each FILE instead of printed: `make bench-docs` does that."""
import json
import sys

args = sys.argv[1:]
write = []
if "--write" in args:
    write = args[args.index("--write") + 1:]
    args = args[:args.index("--write")]
path = args[0] if args else "bench/results/latest.json"
rows = {r["name"]: r for r in json.load(open(path))}
ref = rows["CFuncNoInline"]["ns_per_op"]


def cell(name, base=None):
    """Time of row `name`, with its ratio to CFuncNoInline or to `base`."""
    r = rows.get(name)
    if r is None or "ns_per_op" not in r:
        return "n/a"
    ns = r["ns_per_op"]
    div = rows[base]["ns_per_op"] if base in rows else ref
    if ns >= 1e6:
        t = "%.2f ms" % (ns / 1e6)
    elif ns >= 1e3:
        t = "%.1f us" % (ns / 1e3)
    else:
        t = "%.3g ns" % ns
    x = ns / div
    return "%s (%s%s)" % (t, "%.0f" % x if x >= 100 else "%.1f" % x,
                          "x native" if base else "x")


def mem(name):
    r = rows.get(name)
    return "%.0f KiB" % (r["bytes_per_instance"] / 1024) if r else "n/a"


backends = [
    ("native", "NativePlugin", "NativeGreet", "HostCall_native", "Fib_native", "Bulk_native", "LoadNative", "Mem_native"),
    ("wasm", "WasmCSum", "WasmGreet", "HostCall_wasm", "Fib_wasm", "Bulk_wasm", "LoadWasm", "Mem_wasm"),
    ("source", "SourcePlugin", "SourceGreet", "HostCall_source", "Fib_source", "Bulk_source", "LoadSource", "Mem_source"),
    ("lua", "LuaPlugin", "LuaGreet", "HostCall_lua", "Fib_lua", "Bulk_lua", "LoadLua", "Mem_lua"),
    ("process", "ProcessPlugin", "ProcessGreet", "HostCall_process", "Fib_process", "Bulk_process", "LoadProcess", "Mem_process"),
]
HEAD = ("| backend | sum call | 16-byte string | host callback | fib(20) "
        "| 1 MiB in+out | load + call + close | memory/instance |")
out = [HEAD, "|---|---|---|---|---|---|---|---|"]
for b in backends:
    cols = [cell(b[1]), cell(b[2]), cell(b[3]), cell(b[4], "Fib_native"),
            cell(b[5], "Bulk_native"), cell(b[6]), mem(b[7])]
    out.append("| %s | %s |" % (b[0], " | ".join(cols)))
out.append("")
out.append("Ratios: to CFuncNoInline (%.2f ns, a direct call of a noinline C "
           "function in the same run), or to the native row for fib and "
           "bytes." % ref)
table = "\n".join(out)
if not write:
    print(table)
for f in write:
    lines = open(f).read().split("\n")
    try:
        a = lines.index(HEAD)
        b = next(i for i in range(a, len(lines))
                 if lines[i].startswith("Ratios: to CFuncNoInline"))
    except (ValueError, StopIteration):
        sys.exit("bench_summary.py: no figures table in %s" % f)
    lines[a:b + 1] = out
    open(f, "w").write("\n".join(lines))
    print("bench_summary.py: figures in %s updated" % f)
