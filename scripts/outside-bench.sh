#!/bin/sh
# outside-bench.sh: a compute benchmark nobody here wrote, CoreMark, run
# natively and on each wasm tier; prints the times and the ratios to
# native (docs/backends/wasm.md, "Execution tiers").
#
# usage: scripts/outside-bench.sh COREMARK_DIR [ITERATIONS] [RUNS]
#   COREMARK_DIR  a CoreMark checkout (or any C with its entry points):
#                 coremark.h, core_main.c, core_list_join.c,
#                 core_matrix.c, core_state.c, core_util.c
#   ITERATIONS    CoreMark iterations per call, default 2000
#   RUNS          timed calls per tier (the median is reported), default 5
#   BUILD=DIR     the build tree whose plugkit runs it (default build)
# The same sources are built twice, natively with gcc -O2 (a plugkit
# native plugin) and for wasm32 with clang -O2 (a wasm plugin), each with
# a port layer this script writes (no I/O, no clock; CoreMark's main runs
# as a function `run(i32 iterations) -> i32` returning the final CRC, -1
# when CoreMark's own check of its known CRCs fails). Every tier must
# return the native CRC. Timed with `plugkit bench --runs RUNS` (one call
# per run: open and compile are not timed). Exit 0 with the table, 1 when
# a tier disagrees or fails, 77 when a tool is missing.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 64; }
cm=$(cd "$1" && pwd)
iters=${2:-2000}
runs=${3:-5}
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
plugkit=$build/tools/plugkit
for f in coremark.h core_main.c core_list_join.c core_matrix.c \
         core_state.c core_util.c; do
  [ -f "$cm/$f" ] || { echo "outside-bench: $cm/$f is missing" >&2; exit 2; }
done
[ -x "$plugkit" ] || {
  echo "outside-bench: $plugkit not built (cmake --build $build)" >&2
  exit 2
}
for t in gcc clang; do
  command -v $t >/dev/null 2>&1 || {
    echo "outside-bench: skipped: $t not found" >&2
    exit 77
  }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The port layer: CoreMark's porting header, for both builds.
cat >"$tmp/core_portme.h" <<'EOF'
#ifndef CORE_PORTME_H
#define CORE_PORTME_H
#include <stddef.h>
#include <stdint.h>
#define HAS_FLOAT 0
#define HAS_TIME_H 0
#define USE_CLOCK 0
#define HAS_STDIO 0
#define HAS_PRINTF 0
#define SEED_METHOD SEED_VOLATILE
#define MEM_METHOD MEM_STATIC
#define MULTITHREAD 1
#define MAIN_HAS_NOARGC 1
#define MAIN_HAS_NORETURN 0
#define CORE_DEBUG 0
#define COMPILER_REQUIRES_SORT_RETURN 0
#define COMPILER_VERSION "plugkit outside-bench"
#define COMPILER_FLAGS "-O2"
#define MEM_LOCATION "static"
/* 8 bytes per pointer of a list item whatever the pointer size, so the
   64-bit native and the wasm32 builds walk lists of the same length. */
#define POINTER_SPACE 8
typedef signed short ee_s16;
typedef unsigned short ee_u16;
typedef signed int ee_s32;
typedef double ee_f32;
typedef unsigned char ee_u8;
typedef unsigned int ee_u32;
typedef uintptr_t ee_ptr_int;
typedef size_t ee_size_t;
typedef ee_u32 CORE_TICKS;
#define align_mem(x) (void *)(4 + (((ee_ptr_int)(x) - 1) & ~3))
typedef struct { ee_u8 portable_id; } core_portable;
void portable_init(core_portable *p, int *argc, char *argv[]);
void portable_fini(core_portable *p);
extern ee_u32 default_num_contexts;
int ee_printf(const char *fmt, ...);
/* The benchmark's main becomes a function of the plugin. */
#define main coremark_main
#endif
EOF

# The plugin around it: run(iterations) is one whole CoreMark run.
cat >"$tmp/cm_plugin.c" <<'EOF'
#include <plugkit_plugin.h>
#include <stdarg.h>
#include <string.h>
#include "coremark.h"

/* CoreMark's performance run: seeds 0, 0, 0x66; seed 4 the iterations. */
volatile ee_s32 seed1_volatile = 0, seed2_volatile = 0,
                seed3_volatile = 0x66, seed4_volatile = 1, seed5_volatile = 0;
ee_u32 default_num_contexts = 1;
static int cm_crc = -1, cm_bad;
int coremark_main(void);

void portable_init(core_portable *p, int *argc, char *argv[]) {
  (void)argc;
  (void)argv;
  p->portable_id = 1;
}
void portable_fini(core_portable *p) { p->portable_id = 0; }
void start_time(void) {}
void stop_time(void) {}
CORE_TICKS get_time(void) { return 0; }
/* The host times the call: report enough seconds for CoreMark's check
   of a valid run's length. */
secs_ret time_in_secs(CORE_TICKS t) {
  (void)t;
  return 100;
}

/* CoreMark's report: keep the final CRC and whether its check passed. */
int ee_printf(const char *fmt, ...) {
  va_list ap;
  if (strncmp(fmt, "[%d]crcfinal", 12) == 0) {
    va_start(ap, fmt);
    (void)va_arg(ap, int);
    cm_crc = va_arg(ap, int);
    va_end(ap);
  } else if (strncmp(fmt, "Errors detected", 15) == 0 ||
             strncmp(fmt, "Cannot validate", 15) == 0) {
    cm_bad = 1;
  }
  return 0;
}

static int32_t run(int32_t iterations) {
  seed4_volatile = iterations;
  cm_crc = -1;
  cm_bad = 0;
  coremark_main();
  return cm_bad ? -1 : cm_crc;
}

PK_PLUGIN("coremark", "1.0.0", PK_EXPORT(run, i32, (i32)));
EOF

srcs="$cm/core_list_join.c $cm/core_main.c $cm/core_matrix.c $cm/core_state.c
      $cm/core_util.c $tmp/cm_plugin.c"
inc="-I$tmp -I$cm -I$root/include"
# shellcheck disable=SC2086
gcc -O2 -fPIC -shared -w $inc -o "$tmp/coremark.so" $srcs
# shellcheck disable=SC2086
clang --target=wasm32-wasi -O2 -mexec-model=reactor -mbulk-memory \
  -ftls-model=local-exec -Wl,--strip-debug -w $inc \
  -o "$tmp/coremark.wasm" $srcs 2>"$tmp/clang.err" || {
  cat "$tmp/clang.err" >&2
  echo "outside-bench: skipped: clang cannot build wasm32-wasi (needs" \
       "clang, lld, wasi-libc, libclang-rt-14-dev-wasm32)" >&2
  exit 77
}
# The aot artifact, in a cache of this run only.
export XDG_CACHE_HOME="$tmp/cache"
aot=yes
"$plugkit" compile --cache "$tmp/coremark.wasm" >"$tmp/compile.out" 2>&1 ||
  { aot=; echo "outside-bench: no aot tier: $(cat "$tmp/compile.out")" >&2; }

# name file tier: the CRC of one run, then the median and minimum ns.
want=
status=0
printf '%-8s %12s %12s %8s  %s\n' tier "median ms" "min ms" ratio crc
native=
for row in "native .so" "interp .wasm" "jit .wasm" "aot .wasm"; do
  set -- $row
  tier=$1
  file=$tmp/coremark$2
  topt=
  [ "$tier" = native ] || topt="--tier $tier"
  if [ "$tier" = aot ] && [ -z "$aot" ]; then
    printf '%-8s skipped: no artifact\n' "$tier"
    continue
  fi
  # shellcheck disable=SC2086
  if ! crc=$("$plugkit" call $topt "$file" run "$iters" 2>"$tmp/err"); then
    printf '%-8s failed: %s\n' "$tier" "$(cat "$tmp/err")"
    [ "$tier" = jit ] && grep -q "not built" "$tmp/err" || status=1
    continue
  fi
  [ -n "$want" ] || want=$crc
  if [ "$crc" = "-1" ] || [ "$crc" != "$want" ]; then
    printf '%-8s wrong result: CRC %s, native %s\n' "$tier" "$crc" "$want"
    status=1
    continue
  fi
  # shellcheck disable=SC2086
  line=$("$plugkit" bench --runs "$runs" $topt "$file" run "$iters" |
         grep "^run/")
  med=$(echo "$line" | awk '{print $2}')
  min=$(echo "$line" | awk '{print $3}')
  case $med in ''|*[!0-9.]*)
    printf '%-8s failed: %s\n' "$tier" "$line"; status=1; continue ;;
  esac
  [ -n "$native" ] || native=$med
  awk -v t="$tier" -v m="$med" -v n="$min" -v b="$native" -v c="$crc" \
    'BEGIN { printf "%-8s %12.1f %12.1f %7.2fx  %s\n", t, m / 1e6, n / 1e6,
             m / b, c }'
done
echo "CoreMark $iters iterations per call, median of $runs calls;" \
     "native: gcc -O2, wasm: clang -O2 --target=wasm32-wasi"
exit $status
