#!/bin/sh
# The ELF readers' fuzz smoke test: runs the libFuzzer binary built by
# tests/hostile/core.cmake for a bounded time over seeds (the malformed
# ELF files of the hostile suite and real shared objects).
# usage: core_fuzz_elf.sh FUZZER OUT_DIR SECONDS SEED_FILE...
set -u
bin=$1 out=$2 secs=$3
shift 3
mkdir -p "$out/corpus" "$out/seeds"
for f in "$@"; do
  [ -f "$f" ] && cp "$f" "$out/seeds/$(basename "$f")"
done
exec "$bin" -max_total_time="$secs" -timeout=10 -artifact_prefix="$out/" \
  -rss_limit_mb=1024 -max_len=8192 -print_final_stats=1 "$out/corpus" \
  "$out/seeds"
