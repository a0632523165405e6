#!/bin/sh
# Fuzz smoke test: builds the libFuzzer target with clang (the main build
# may use gcc) and runs it for a bounded time over a seed corpus taken
# from the converted spec modules.
# usage: run_fuzz.sh ENGINE_SRC_DIR FUZZ_SRC OUT_DIR SPEC_DIR SECONDS
#        run_fuzz.sh --build ENGINE_SRC_DIR FUZZ_SRC OUT_DIR
# --build only builds the target (its own ctest test: the sanitized clang
# build of the whole engine takes minutes on a busy machine, which must
# not eat the fuzzing run's time limit); the run builds it if missing.
# Exit 77 (ctest SKIP_RETURN_CODE) when clang or libFuzzer is missing.
set -u
build_only=0
if [ "$1" = "--build" ]; then
  build_only=1
  shift
fi
src=$1 fuzz=$2 out=$3 spec=${4:-} secs=${5:-0}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "SKIP: clang not found; the wasm fuzz smoke test needs clang with libFuzzer"
  exit 77
fi
mkdir -p "$out/corpus" "$out/seeds"
bin=$out/pkw_fuzz
newest=$(ls -t "$src"/*.c "$src"/*.h "$fuzz" | head -1)
# The engine without its libtcc glue (jit.c): jit_none.c stands in.
srcs=$(ls "$src"/*.c | grep -v '/jit\.c$')
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
  if ! "$CLANG" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -I"$src" $srcs "$fuzz" -lm \
      -o "$bin" 2>"$out/build.log"; then
    if grep -q "fuzzer" "$out/build.log"; then
      echo "SKIP: clang cannot link -fsanitize=fuzzer (libFuzzer missing):"
      head -3 "$out/build.log"
      exit 77
    fi
    cat "$out/build.log"
    exit 1
  fi
fi
if [ $build_only = 1 ]; then
  echo "built $bin"
  exit 0
fi
# Seeds: every 4th spec module (kept small so the run stays bounded), plus
# a minimal module so the corpus is never empty.
printf '\000asm\001\000\000\000' > "$out/seeds/empty.wasm"
if [ -d "$spec" ]; then
  i=0
  for f in "$spec"/core/*.wasm "$spec"/tail-call/*.wasm; do
    [ -f "$f" ] || continue
    i=$((i + 1))
    [ $((i % 4)) -eq 0 ] || continue
    ln -sf "$f" "$out/seeds/$(basename "$f")"
  done
fi
echo "fuzzing for ${secs}s with $(ls "$out/seeds" | wc -l) seeds"
# A module of at most 64 KiB may translate to 4 MiB of code (16 words a
# byte): any single allocation past 256 MiB is an amplification bug.
exec "$bin" -max_total_time="$secs" -timeout=10 -artifact_prefix="$out/" -rss_limit_mb=2048 \
  -malloc_limit_mb=256 -max_len=65536 -print_final_stats=1 "$out/corpus" "$out/seeds"
