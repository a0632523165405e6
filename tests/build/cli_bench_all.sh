#!/bin/sh
# cli_bench_all.sh DIR CLI SO WASM: put the same plugin's artifacts side
# by side and check that `plugkit bench --all-backends` measures each,
# in process and in plugkit-runner, each row naming its file.
set -e
dir=$1 cli=$2 so=$3 wasm=$4
rm -rf "$dir"; mkdir -p "$dir"
cp "$so" "$dir/plug.so"
cp "$wasm" "$dir/plug.wasm"
out=$("$cli" bench --all-backends --runs 1 "$dir/plug.so" sum 1 2)
echo "$out"
echo "$out" | grep -Eq '^CFuncNoInline +[0-9.]+ '
echo "$out" | grep -Eq "^sum/native +[0-9.]+ +[0-9.]+ +[0-9.]+x +0 +0\.00  $dir/plug.so\$"
echo "$out" | grep -Eq "^sum/wasm +[0-9.]+ +[0-9.]+ +[0-9.]+x +0 +0\.00  $dir/plug.wasm\$"
echo "$out" | grep -Eq "^sum/process:native +[0-9.]+ .*  $dir/plug.so\$"
echo "$out" | grep -Eq "^sum/process:wasm +[0-9.]+ .*  $dir/plug.wasm\$"
