#!/usr/bin/env python3
"""Differential test of plugkit's wasm engine against V8 (Node).

Each case: random bytes -> `wasm-opt -ttf` (binaryen's fuzzer, with the
engine's feature set, sometimes followed by optimization passes) ->
`wasm-validate` (wabt) -> run on pkw_exec (eager), pkw_exec -L (lazy),
pkw_exec -J (the jit tier), pkw_exec -A (the aot tier) and v8_exec.js ->
compare the lines (see pkw_exec.c for the format).

Compared: every export call in order, the values logged through
fuzzing-support.log-*, results bit for bit (a NaN only as "NaN": payloads
are nondeterministic by the spec), trap or no trap, and the trap kind where
the two engines' kinds can be matched. Eager, lazy, jit and aot must
agree exactly.
A mismatch that survives is re-checked on a `wasm-opt --denan` copy: if
that copy agrees, the case counts as NaN-only (a NaN's bits reached memory
and then hashMemory), else it is a divergence. A module that wabt rejects
must be rejected by the engine too.

Every case is reproducible from (seed, index). A divergence writes the
module, the input bytes, the commands and the three outputs to
OUT/fail-<seed>-<index>/ and makes the run fail (exit 1).

usage: fuzz_diff.py --pkw-exec PATH [--out DIR] [--count N] [--seed S]
                    [--budget SECONDS] [--jobs J] [--max-failures K]
                    [--aot-every N] [--keep-nan] [--v8-exec PATH]
       fuzz_diff.py --pkw-exec PATH --module M.wasm|M.wat [--expect FILE]
Exit: 0 no divergence, 1 divergence(s), 77 a tool is missing (ctest SKIP).
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

# The engine's proposals (src/wasm/engine/wasm.h) that binaryen 108 can
# generate and Node 20 runs. SIMD, threads, GC, EH, memory64 are off.
BASE_FEATURES = ["--enable-sign-ext", "--enable-mutable-globals",
                 "--enable-nontrapping-float-to-int", "--enable-bulk-memory",
                 "--enable-multivalue", "--enable-tail-call",
                 "--enable-extended-const"]
REFTYPES = ["--enable-reference-types"]
PASSES = ["-O1", "-O2", "-O3", "-O4", "-Os", "-Oz", "--fuzz-passes"]
# wabt enables sign-ext, sat-float-to-int, multi-value, bulk memory and
# reference types by default.
VALIDATE_FLAGS = ["--enable-tail-call", "--enable-extended-const"]
NODE_FLAGS = ["--experimental-wasm-extended-const", "--stack-size=4000"]
TIMEOUT = 120

# V8's trap messages -> the engine's codes that mean the same trap. V8
# merges some kinds the engine keeps apart (and the spec names apart):
# one message for a float->int conversion of NaN and of a too large value;
# one for a null table entry and a signature mismatch; one for an index
# past the table in call_indirect and in table.get/set/fill/copy/init.
# Each entry is checked by tests/diff/drivers.wat (wasm_diff_drivers); a
# message not listed fails the comparison ("unknown V8 trap message").
V8_TRAPS = {
    "unreachable": {"TRAP_UNREACHABLE"},
    "memory access out of bounds": {"TRAP_MEMORY_OOB"},
    "divide by zero": {"TRAP_DIVIDE_BY_ZERO"},
    "remainder by zero": {"TRAP_DIVIDE_BY_ZERO"},
    "divide result unrepresentable": {"TRAP_INTEGER_OVERFLOW"},
    "float unrepresentable in integer range": {"TRAP_INTEGER_OVERFLOW",
                                               "TRAP_INVALID_CONVERSION"},
    "table index is out of bounds": {"TRAP_UNDEFINED_ELEMENT",
                                     "TRAP_TABLE_OOB"},
    "null function or function signature mismatch": {
        "TRAP_UNINITIALIZED_ELEMENT", "TRAP_INDIRECT_CALL_TYPE"},
}
# Limits one side has and the other has not (fuel, stack depth): after
# them the rest of a module is not comparable. A ttf module with a hang
# limit (the hangLimitInitializer export) runs at most a few loop
# iterations and calls per export call, far below both engines' limits:
# there, hitting one is a divergence.
PKW_LIMIT_TRAPS = {"TRAP_OUT_OF_FUEL", "TRAP_STACK_EXHAUSTED"}


def nan_free(line):
    """The line with a NaN's bits replaced by 'nan'."""
    parts = line.split(" ")
    if len(parts) == 3 and parts[0] in ("log", "result"):
        t, v = parts[1], parts[2]
        if t == "f32":
            b = int(v, 16)
            if (b & 0x7f800000) == 0x7f800000 and (b & 0x7fffff):
                return "%s f32 nan" % parts[0]
        elif t == "f64":
            b = int(v, 16)
            if ((b & 0x7ff0000000000000) == 0x7ff0000000000000
                    and (b & 0xfffffffffffff)):
                return "%s f64 nan" % parts[0]
    return line


def compare(pkw, v8):
    """Compares pkw_exec's lines with v8_exec.js's.

    Returns (problem or None, export calls compared, inconclusive flag)."""
    calls = 0
    hang_limited = "call hangLimitInitializer" in pkw
    for i in range(max(len(pkw), len(v8))):
        a = pkw[i] if i < len(pkw) else "<end>"
        b = v8[i] if i < len(v8) else "<end>"
        a_trap = re.match(r"^(instantiate )?trap (\S+)$", a)
        b_trap = re.match(r"^(instantiate )?trap (.*)$", b)
        a_limit = a_trap and a_trap.group(2) in PKW_LIMIT_TRAPS
        b_limit = b_trap and b_trap.group(2).startswith("stack:")
        both_stack = (a_limit and b_limit
                      and a_trap.group(2) == "TRAP_STACK_EXHAUSTED")
        if (a_limit or b_limit) and (not hang_limited or both_stack):
            return None, calls, True
        if a_limit or b_limit:
            return ("line %d: a limit hit on a hang-limited module: "
                    "plugkit %r, V8 %r" % (i + 1, a, b)), calls, False
        if a_trap and b_trap and bool(a_trap.group(1)) == bool(b_trap.group(1)):
            allowed = V8_TRAPS.get(b_trap.group(2))
            if allowed is None:
                return ("line %d: unknown V8 trap message %r (add it to "
                        "V8_TRAPS)" % (i + 1, b_trap.group(2))), calls, False
            if a_trap.group(2) not in allowed:
                return ("line %d: trap kinds differ: plugkit %s, V8 %r"
                        % (i + 1, a_trap.group(2), b_trap.group(2))), \
                    calls, False
            continue
        if nan_free(a) != nan_free(b):
            return ("line %d: plugkit %r, V8 %r" % (i + 1, a, b)), calls, False
        if a.startswith("call "):
            calls += 1
    return None, calls, False


class Stats:
    KEYS = ["generated", "gen_failed", "valid", "invalid", "v8_refused",
            "compared", "calls", "inconclusive", "nan_only", "divergences",
            "jit", "aot"]

    def __init__(self):
        self.lock = threading.Lock()
        self.n = dict.fromkeys(self.KEYS, 0)
        self.traps = {}
        self.missing = {}

    def tier_missing(self, tier, why):
        """A compiled tier that cannot run here: its reason, printed once."""
        with self.lock:
            if tier not in self.missing:
                self.missing[tier] = why
                print("fuzz_diff: the %s tier is not compared: %s"
                      % (tier, why.splitlines()[-1] if why else "?"),
                      flush=True)

    def add(self, key, k=1):
        with self.lock:
            self.n[key] += k

    def add_traps(self, lines):
        with self.lock:
            for line in lines:
                m = re.match(r"^(?:instantiate )?trap (\S+)$", line)
                if m:
                    self.traps[m.group(1)] = self.traps.get(m.group(1), 0) + 1

    def line(self):
        return ", ".join("%s %d" % (k, self.n[k]) for k in self.KEYS)

    def trap_line(self):
        return "plugkit traps seen: " + (", ".join(
            "%s %d" % kv for kv in sorted(self.traps.items())) or "none")


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, **kw)


class Case:
    def __init__(self, args, index, stats):
        self.a, self.index, self.stats = args, index, stats
        self.rng = random.Random("%d:%d" % (args.seed, index))
        self.log = []
        self.v8_refused = None

    def aot_here(self):
        """The aot tier runs the system C compiler on every module (about
        10x the time of the other runs): every --aot-every'th case, all of
        them with --module."""
        n = self.a.aot_every
        return n > 0 and self.index % n == 0

    def gen(self, d):
        r = self.rng
        data = bytes(r.getrandbits(8) for _ in range(r.randint(256, 6000)))
        roll = r.random()
        if roll < 0.25:
            feats = ["--mvp-features"] + BASE_FEATURES + REFTYPES
        elif roll < 0.35:
            feats = ["--mvp-features"]
        else:
            feats = ["--mvp-features"] + BASE_FEATURES
        passes = [r.choice(PASSES)] if r.random() < 0.5 else []
        self.feats = feats
        raw = os.path.join(d, "input.bin")
        wasm = os.path.join(d, "module.wasm")
        with open(raw, "wb") as f:
            f.write(data)
        cmd = [self.a.wasm_opt, raw, "-ttf"] + feats + passes + ["-o", wasm]
        self.log.append(" ".join(cmd))
        p = run(cmd)
        if p.returncode != 0 or not os.path.exists(wasm):
            msg = p.stderr.decode("utf-8", "replace").strip()
            self.gen_err = msg.splitlines()[-1] if msg else "?"
            return None
        return wasm

    def outputs(self, wasm):
        """Runs the three executors; returns {name: (rc, lines, stderr)}."""
        res = {}
        cmds = {
            "pkw": [self.a.pkw_exec, wasm],
            "pkw_lazy": [self.a.pkw_exec, "-L", wasm],
            "pkw_jit": [self.a.pkw_exec, "-J", wasm],
            "v8": [self.a.node] + NODE_FLAGS + [self.a.v8_exec, wasm],
        }
        if self.aot_here():
            cmds["pkw_aot"] = [self.a.pkw_exec, "-A", wasm]
        for name, cmd in cmds.items():
            self.log.append(" ".join(cmd))
            try:
                p = run(cmd)
                out = p.stdout.decode("utf-8", "replace").splitlines()
                res[name] = (p.returncode, out,
                             p.stderr.decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                res[name] = (-999, [], "timeout after %d s" % TIMEOUT)
        return res

    def check(self, wasm):
        """Returns (problem or None, outputs, calls, inconclusive)."""
        o = self.outputs(wasm)
        for name in ("pkw", "pkw_lazy"):
            rc, _, err = o[name]
            if rc != 0:
                return ("%s exited %d on a valid module: %s"
                        % (name, rc, err.strip()[-2000:])), o, 0, False
        rc, _, err = o["v8"]
        if rc != 0:
            # V8 refusing a module wabt accepts is V8's or the driver's
            # business, not the engine's: counted, not compared.
            self.v8_refused = err.strip()
            return None, o, 0, True
        if o["pkw"][1] != o["pkw_lazy"][1]:
            prob, _, _ = compare(o["pkw"][1], o["pkw_lazy"][1])
            return ("eager and lazy decoding differ"
                    + (": " + prob if prob else "")), o, 0, False
        # The compiled tiers must give the interpreter's output exactly,
        # traps and their kinds included. Exit 3: the tier cannot run here
        # (no jit in this build, no C compiler for aot): said once, not a
        # divergence.
        for tier in ("jit", "aot"):
            if "pkw_" + tier not in o:
                continue
            rc, out, err = o["pkw_" + tier]
            if rc == 3:
                self.stats.tier_missing(tier, err.strip())
                continue
            if rc != 0:
                return ("pkw_%s exited %d on a valid module: %s"
                        % (tier, rc, err.strip()[-2000:])), o, 0, False
            if out != o["pkw"][1]:
                prob, _, _ = compare(o["pkw"][1], out)
                return ("the %s tier and the interpreter differ" % tier
                        + (": " + prob if prob else "")), o, 0, False
            self.stats.add(tier)
        prob, calls, inconc = compare(o["pkw"][1], o["v8"][1])
        return prob, o, calls, inconc

    def save(self, kind, problem, outputs, d):
        dest = os.path.join(self.a.out, "%s-%d-%d" % (kind, self.a.seed,
                                                       self.index))
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(d, dest)
        with open(os.path.join(dest, "problem.txt"), "w") as f:
            f.write(problem + "\n\ncommands:\n" + "\n".join(self.log) + "\n")
        for name, (rc, lines, err) in (outputs or {}).items():
            with open(os.path.join(dest, name + ".txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
                if rc != 0 or err:
                    f.write("# exit %d\n# stderr: %s\n" % (rc, err))
        return dest

    def go(self):
        st = self.stats
        with tempfile.TemporaryDirectory(prefix="pkdiff") as d:
            wasm = self.gen(d)
            if wasm is None:
                st.add("gen_failed")
                if self.a.verbose:
                    print("case %d: wasm-opt failed: %s" % (self.index,
                          self.gen_err), flush=True)
                return None
            st.add("generated")
            cmd = [self.a.wasm_validate] + VALIDATE_FLAGS + [wasm]
            self.log.append(" ".join(cmd))
            pv = run(cmd)
            if pv.returncode != 0:
                st.add("invalid")
                if self.a.verbose:
                    msg = pv.stderr.decode("utf-8", "replace").strip()
                    print("case %d: invalid: %s" % (self.index,
                          msg.splitlines()[0] if msg else "?"), flush=True)
                # The engine must refuse what wabt refuses.
                p = run([self.a.pkw_exec, wasm])
                if p.returncode == 0:
                    dest = self.save("fail", "wasm-validate rejects the "
                                     "module, plugkit runs it", None, d)
                    st.add("divergences")
                    return dest
                return None
            st.add("valid")
            prob, o, calls, inconc = self.check(wasm)
            if self.v8_refused is not None:
                st.add("v8_refused")
                if self.a.verbose:
                    print("case %d: V8 refused the module: %s"
                          % (self.index, self.v8_refused), flush=True)
                return None
            if prob is None:
                st.add("compared")
                st.add("calls", calls)
                st.add_traps(o["pkw"][1])
                if inconc:
                    st.add("inconclusive")
                return None
            # Re-check on a --denan copy: NaN bits differ between engines
            # (allowed) and reach results through memory hashes.
            den = os.path.join(d, "denan.wasm")
            cmd = [self.a.wasm_opt, wasm] + self.feats + ["--denan", "-o", den]
            self.log.append(" ".join(cmd))
            if run(cmd).returncode == 0:
                prob2, o2, calls2, inconc2 = self.check(den)
                if prob2 is None:
                    st.add("compared")
                    st.add("calls", calls2)
                    st.add("nan_only")
                    if self.a.keep_nan:
                        self.save("nan", prob, o, d)
                    return None
            st.add("divergences")
            return self.save("fail", prob, o, d)


def check_one(a, path, expect):
    """--module: runs one module (a .wat is converted with wat2wasm) through
    the same comparison, and checks pkw_exec's output against the lines of
    the file expect (a NaN written "nan"). Returns the exit code."""
    with tempfile.TemporaryDirectory(prefix="pkdiff") as d:
        wasm = path
        if path.endswith(".wat"):
            wat2wasm = shutil.which("wat2wasm")
            if not wat2wasm:
                print("SKIP: wat2wasm (wabt) not found")
                return SKIP
            wasm = os.path.join(d, "module.wasm")
            p = run([wat2wasm, "--enable-tail-call", "--enable-extended-const",
                     path, "-o", wasm])
            if p.returncode != 0:
                print(p.stderr.decode("utf-8", "replace"))
                return 2
        case = Case(a, 0, Stats())
        prob, o, calls, inconc = case.check(wasm)
        bad = []
        if prob:
            bad.append(prob)
        if inconc:
            bad.append("inconclusive (a limit was hit or V8 refused it)")
        if expect:
            with open(expect) as f:
                want = f.read().splitlines()
            got = [nan_free(x) for x in o["pkw"][1]]
            for i in range(max(len(got), len(want))):
                g = got[i] if i < len(got) else "<end>"
                w = want[i] if i < len(want) else "<end>"
                if g != w:
                    bad.append("%s line %d: pkw_exec printed %r, expected %r"
                               % (expect, i + 1, g, w))
                    break
        for name, (rc, lines, err) in o.items():
            print("== %s (exit %d)%s" % (name, rc, (": " + err.strip())
                                          if err.strip() else ""))
            print("\n".join(lines))
        print("%d export calls compared" % calls)
        for b in bad:
            print("FAIL: " + b)
        return 1 if bad else 0


def find_tool(explicit, name):
    if explicit:
        return explicit if os.path.exists(explicit) else None
    return shutil.which(name)


# Tiny modules that need one proposal each: a return_call, and a global
# initialised with i32.add (extended-const).
PROBES = {
    "--enable-tail-call": (
        "--experimental-wasm-return-call",
        b"\0asm\1\0\0\0\1\4\1\x60\0\0\3\2\1\0\n\6\1\4\0\x12\0\x0b"),
    "--enable-extended-const": (
        "--experimental-wasm-extended-const",
        b"\0asm\1\0\0\0\6\x09\1\x7f\0\x41\1\x41\2\x6a\x0b"),
}


def node_features(node):
    """Which of the proposals V8 runs in this node, with which flags: Node
    20 runs tail calls by default and extended-const behind a flag; Node
    18 (Debian 12's) needs a flag for both. A proposal node cannot run is
    left out of the generated modules rather than counted as a
    divergence."""
    global NODE_FLAGS, BASE_FEATURES
    flags = [f for f in NODE_FLAGS if f.startswith("--stack")]
    keep = []
    for feat in BASE_FEATURES:
        if feat not in PROBES:
            keep.append(feat)
            continue
        flag, wasm = PROBES[feat]
        code = ("new WebAssembly.Module(new Uint8Array([%s]))"
                % ",".join(str(b) for b in wasm))
        for extra in ([], [flag]):
            if run([node] + flags + extra + ["-e", code]).returncode == 0:
                flags += extra
                keep.append(feat)
                break
        else:
            print("fuzz_diff: node cannot run %s modules: left out"
                  % feat[len("--enable-"):])
    NODE_FLAGS, BASE_FEATURES = flags, keep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pkw-exec", required=True)
    ap.add_argument("--v8-exec", default=os.path.join(HERE, "v8_exec.js"))
    ap.add_argument("--node")
    ap.add_argument("--wasm-opt")
    ap.add_argument("--wasm-validate")
    ap.add_argument("--out", default="diff-out")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0,
                    help="stop starting cases after this many seconds")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--max-failures", type=int, default=0,
                    help="stop after this many divergences (0: no limit)")
    ap.add_argument("--module",
                    help="compare this one .wasm/.wat instead of generating")
    ap.add_argument("--expect",
                    help="with --module: pkw_exec's expected output")
    ap.add_argument("--progress", type=int, default=0,
                    help="print the counts every this many cases")
    ap.add_argument("--verbose", action="store_true",
                    help="say why a case was not compared")
    ap.add_argument("--aot-every", type=int, default=1,
                    help="run the aot tier on every N-th case (0: never)")
    ap.add_argument("--keep-nan", action="store_true",
                    help="also save the NaN-only cases (OUT/nan-*)")
    a = ap.parse_args()

    a.node = find_tool(a.node, "node")
    a.wasm_opt = find_tool(a.wasm_opt, "wasm-opt")
    a.wasm_validate = find_tool(a.wasm_validate, "wasm-validate")
    for tool, what in ((a.wasm_opt, "wasm-opt (binaryen)"),
                       (a.wasm_validate, "wasm-validate (wabt)"),
                       (a.node, "node (V8)")):
        if not tool:
            print("SKIP: %s not found; the differential test needs "
                  "binaryen, wabt and node" % what)
            return SKIP
    if not os.access(a.pkw_exec, os.X_OK):
        print("fuzz_diff: pkw_exec not found: %s" % a.pkw_exec)
        return 2
    p = run([a.node, "-e", "process.exit(typeof BigInt64Array === "
             "'function' ? 0 : 1)"])
    if p.returncode != 0:
        print("SKIP: node is too old (needs BigInt <-> i64)")
        return SKIP
    node_features(a.node)
    if a.module:
        return check_one(a, a.module, a.expect)
    os.makedirs(a.out, exist_ok=True)

    stats = Stats()
    t0 = time.monotonic()
    stop = threading.Event()
    failures = []

    def one(i):
        if stop.is_set():
            return
        if a.budget and time.monotonic() - t0 > a.budget:
            stop.set()
            return
        dest = Case(a, i, stats).go()
        if a.progress and (i + 1) % a.progress == 0:
            print("[%.0f s] %s" % (time.monotonic() - t0, stats.line()),
                  flush=True)
        if dest:
            failures.append(dest)
            if a.max_failures and len(failures) >= a.max_failures:
                stop.set()
            print("DIVERGENCE case %d (seed %d): see %s" % (i, a.seed, dest),
                  flush=True)

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        list(ex.map(one, range(a.count)))
    done = stats.n["generated"] + stats.n["gen_failed"]
    print("seed %d: %d of %d cases in %.1f s%s" % (
        a.seed, done, a.count, time.monotonic() - t0,
        " (stopped early)" if stop.is_set() else ""))
    print(stats.line())
    print(stats.trap_line())
    if failures:
        print("FAIL: %d divergence(s):\n  %s" % (len(failures),
                                                 "\n  ".join(failures)))
        return 1
    if stats.n["compared"] == 0:
        print("FAIL: no module was compared")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
