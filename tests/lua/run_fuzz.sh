#!/bin/sh
# Fuzz smoke test of the lua backend's loader: builds fuzz_loader.c with
# the library's core and lua sources under clang's libFuzzer (the main
# build may use gcc) and runs it for a bounded time over the Lua fixtures.
# usage: run_fuzz.sh SRC_ROOT LUA_INCLUDE LUA_LIBRARY OUT_DIR SECONDS
# CMake registers it only when clang links -fsanitize=fuzzer (checked at
# configure time).
set -u
root=$1 luainc=$2 lualib=$3 out=$4 secs=$5
CLANG=${CLANG:-clang}
mkdir -p "$out/corpus" "$out/seeds"
bin=$out/pk_fuzz_lua
newest=$(ls -t "$root"/src/core/*.c "$root"/src/core/*.h "$root"/src/catalog/*.[ch] \
  "$root"/src/lua/*.c \
  "$root"/src/lua/*.h "$root"/src/os/posix/*.c "$root"/tests/lua/fuzz_loader.c |
  head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
  if ! "$CLANG" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -DPK_HAVE_LUA=1 -D_POSIX_C_SOURCE=200809L \
      -I"$root/include" -I"$root/src" -I"$luainc" \
      "$root"/src/core/*.c "$root"/src/catalog/*.c "$root"/src/os/posix/os_posix.c \
      "$root"/src/os/posix/os_aot.c \
      "$root"/src/lua/*.c \
      "$root/tests/lua/fuzz_loader.c" "$lualib" -ldl -lpthread -lm \
      -o "$bin" 2>"$out/build.log"; then
    cat "$out/build.log"
    exit 1
  fi
fi
for f in "$root"/tests/fixtures/conformance.lua "$root"/tests/fixtures/lua/*.lua \
    "$root"/tests/hostile/fixtures/lua/*.lua; do
  [ -f "$f" ] && ln -sf "$f" "$out/seeds/$(basename "$f")"
done
echo "fuzzing for ${secs}s with $(ls "$out/seeds" | wc -l) seeds"
PK_FUZZ_DIR=$out exec "$bin" -max_total_time="$secs" -timeout=10 -artifact_prefix="$out/" \
  -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
  "$out/corpus" "$out/seeds"
