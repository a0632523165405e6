#!/bin/sh
# fuzz-diff.sh: a long run of the wasm engine's differential test
# (tests/diff/README.md): N random `wasm-opt -ttf` modules run on the
# engine (eager and lazy) and on V8, outputs compared.
#
# usage: scripts/fuzz-diff.sh N [SEED] [JOBS]
#   N     modules to generate; SEED default 1; JOBS parallel cases, default 1
#   BUILD=build-san scripts/fuzz-diff.sh ...   runs the engine under the
#         sanitizers of that build tree (configured with PK_SANITIZE)
# Builds pkw_exec in $BUILD (default build; configure it first), writes
# divergences to $BUILD/wasm-diff-long/fail-SEED-INDEX/. Exit 0 when none,
# 1 on a divergence, 77 when a tool (binaryen, wabt, node) is missing.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 64; }
n=$1 seed=${2:-1} jobs=${3:-1}
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
[ -f "$build/CMakeCache.txt" ] || {
  echo "fuzz-diff: $build is not a configured build tree (cmake -S . -B $build)" >&2
  exit 2
}
cmake --build "$build" --target pkw_exec -j2 >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec python3 "$root/tests/diff/fuzz_diff.py" \
  --pkw-exec "$build/tests/diff/pkw_exec" --out "$build/wasm-diff-long" \
  --count "$n" --seed "$seed" --jobs "$jobs" --progress 200
