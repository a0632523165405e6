#!/bin/sh
# fuzz-diff-fault.sh: shows that the differential test can fail. Copies
# the wasm engine to a temporary folder, injects one fault, builds a
# pkw_exec from the copy and runs tests/diff/fuzz_diff.py on it: the run
# must report a divergence. The repository's engine is not touched.
# The fixed module of wasm_diff_drivers is checked too (reported, not
# required: it covers few operand values).
#
# usage: scripts/fuzz-diff-fault.sh [FAULT] [N] [SEED]
#   FAULT  i32-add   i32.add is off by one when both operands have bit 31
#                    set (the plain register form; constant and address
#                    forms stay right)
#          div-zero  integer division and remainder by zero return 0
#                    instead of trapping
#          trap-kind division by zero traps as "integer overflow"
#          aot-i32-add  i32.add as i32-add, in the C the compiled tiers
#                    get (cgen.c) instead of the interpreter: the aot tier
#                    (pkw_exec -A, the system compiler) must differ from
#                    the interpreter
#          (default i32-add; N default 100 modules, SEED default 1)
# The copy is built without the jit tier (no libtcc: pkw_exec -J exits 3
# and the jit is not compared), so an aot fault is the aot tier's.
# Exit 0 when the fault was caught, 1 when it was not, 77 without the
# tools (as fuzz_diff.py).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
fault=${1:-i32-add} n=${2:-100} seed=${3:-1}
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkdiff-fault.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/src/wasm/engine" "$tmp/engine"
exec_c=$tmp/engine/exec.c
file=exec.c
case $fault in
  i32-add)
    old='BIN_(I32_ADD, (uint32_t)(U32(2) + U32(3)))'
    new='BIN_(I32_ADD, (uint32_t)(U32(2) + U32(3) + ((U32(2) \& U32(3)) >> 31)))'
    ;;
  div-zero)
    old='TRAP(DIVIDE_BY_ZERO);'
    new='{ SLOT(1) = 0; NEXT(4); }'
    ;;
  trap-kind)
    old='TRAP(DIVIDE_BY_ZERO);'
    new='TRAP(INTEGER_OVERFLOW);'
    ;;
  aot-i32-add)
    file=cgen.c
    exec_c=$tmp/engine/cgen.c
    old='CMP_(I32_ADD, "(u32)(U32(%u) + U32(%u))")'
    new='CMP_(I32_ADD, "({ u32 x_ = U32(%u), y_ = U32(%u); (u32)(x_ + y_ + ((x_ \& y_) >> 31)); })")'
    ;;
  *) echo "fuzz-diff-fault: unknown fault '$fault' (i32-add, div-zero, trap-kind, aot-i32-add)" >&2
     exit 64 ;;
esac
grep -qF "$old" "$exec_c" || {
  echo "fuzz-diff-fault: '$old' not found in $file: update this script" >&2
  exit 1
}
# sed with a fixed-string pattern: escape the regex characters of $old.
pat=$(printf '%s' "$old" | sed 's/[][\.*^$/]/\\&/g')
sed -i "s/$pat/$new/g" "$exec_c"
echo "fault $fault injected:"
diff -u "$here/src/wasm/engine/$file" "$exec_c" | sed -n '3,$p' | grep '^[-+]' || true
rm -f "$tmp/engine/jit.c" # jit_none.c instead: no libtcc to link
"$CC" -std=c11 -O1 -g -I"$tmp/engine" -I"$here/tests/wasm" "$tmp"/engine/*.c \
  "$here/tests/diff/pkw_exec.c" "$here/tests/wasm/aot_cc.c" -lm -ldl \
  -o "$tmp/pkw_exec"
set +e
# The fixed module first (wasm_diff_drivers): it has one case of each trap.
if python3 "$here/tests/diff/fuzz_diff.py" --pkw-exec "$tmp/pkw_exec" \
    --module "$here/tests/diff/drivers.wat" \
    --expect "$here/tests/diff/drivers.expected" >"$tmp/drivers.log"; then
  echo "drivers.wat: not caught"
else
  echo "drivers.wat: caught:"; grep '^FAIL' "$tmp/drivers.log"
fi
# Then generated modules.
python3 "$here/tests/diff/fuzz_diff.py" --pkw-exec "$tmp/pkw_exec" \
  --out "$tmp/out" --count "$n" --seed "$seed" --max-failures 1
rc=$?
set -e
case $rc in
  1) echo "caught: the first divergence found:"
     first=$(ls -d "$tmp"/out/fail-* | head -1)
     head -3 "$first/problem.txt"
     exit 0 ;;
  77) exit 77 ;;
  0) echo "NOT CAUGHT: no divergence in $n modules with fault $fault"
     exit 1 ;;
  *) exit "$rc" ;;
esac
