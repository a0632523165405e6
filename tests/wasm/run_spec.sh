#!/bin/sh
# Converts the spec suite with wast2json (into the build tree) and runs it.
# usage: run_spec.sh RUNNER SUITE_DIR OUT_DIR SUMMARY_FILE [RUNNER FLAGS...]
# Exit 77 (ctest SKIP_RETURN_CODE) when wast2json is missing.
set -u
runner=$1 suite=$2 out=$3 summary=$4
shift 4
if ! command -v wast2json >/dev/null 2>&1; then
  echo "SKIP: wast2json not found (install Debian package 'wabt'); wasm spec suite not run"
  echo "wasm-spec: skipped (wast2json missing)" > "$summary"
  exit 77
fi
if [ ! -d "$suite/core" ]; then
  echo "SKIP: spec suite not found at $suite"
  echo "wasm-spec: skipped (suite missing at $suite)" > "$summary"
  exit 77
fi
mkdir -p "$out/core" "$out/tail-call" "$out/extended-const"
conv() { # flags src dst
  if [ ! -f "$3" ] || [ "$2" -nt "$3" ]; then
    wast2json $1 "$2" -o "$3" >/dev/null 2>&1 || { echo "wast2json failed on $2"; return 1; }
  fi
}
jsons=""
for f in "$suite"/core/*.wast; do
  b=$(basename "$f" .wast)
  case $b in simd_*) continue ;; esac
  conv "" "$f" "$out/core/$b.json" || exit 1
  jsons="$jsons $out/core/$b.json"
done
for f in "$suite"/proposals/tail-call/*.wast; do
  b=$(basename "$f" .wast)
  conv --enable-tail-call "$f" "$out/tail-call/$b.json" || exit 1
  jsons="$jsons $out/tail-call/$b.json"
done
for f in "$suite"/proposals/extended-const/*.wast; do
  b=$(basename "$f" .wast)
  conv --enable-extended-const "$f" "$out/extended-const/$b.json" || exit 1
  jsons="$jsons $out/extended-const/$b.json"
done
# shellcheck disable=SC2086
exec "$runner" "$@" -r "$summary.tsv" -s "$summary" -k "$suite/counts.tsv" $jsons
