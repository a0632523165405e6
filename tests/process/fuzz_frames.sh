#!/bin/sh
# Build the frame decoder's libFuzzer target with clang and run it for a
# bounded time. Exit 77 (skipped) without a clang that has libFuzzer.
# Usage: fuzz_frames.sh FUZZ_SOURCE SDK_DIR INCLUDE_DIR WORK_DIR
src=$1 sdk=$2 inc=$3 work=$4
command -v clang >/dev/null 2>&1 || { echo "SKIP: no clang"; exit 77; }
mkdir -p "$work/fuzz_corpus" || exit 1
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$sdk" -I"$inc" \
    "$src" "$sdk/pk_wire.c" -o "$work/fuzz_frames" 2>"$work/fuzz_build.log"; then
  if grep -q "fuzzer" "$work/fuzz_build.log"; then
    echo "SKIP: clang without libFuzzer"; cat "$work/fuzz_build.log"; exit 77
  fi
  cat "$work/fuzz_build.log"; exit 1
fi
# Seeds: a CALL with two i32s and a str, a RESULT, a HELLO.
printf '\003\000\000\000\000\002\001\005\000\000\000\005\002\000\000\000hi' \
  >"$work/fuzz_corpus/call"
printf '\004\001\001\052\000\000\000' >"$work/fuzz_corpus/result"
printf '\001\001\000\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' \
  >"$work/fuzz_corpus/hello"
exec "$work/fuzz_frames" -max_total_time=20 -max_len=4096 \
  "$work/fuzz_corpus"
