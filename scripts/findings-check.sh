#!/bin/bash
# findings-check.sh [BUILD]: runs the reproduction of every finding of
# ../shared/findings/hostile-plugins.md against BUILD (default build-san,
# a `make test SAN=address,undefined` build) with the reviewers' test host,
# and prints one line per case: the exit status, whether it hung (killed
# after 20 s) or a sanitizer spoke, and the first line of its output. A
# developer's check that the reports' cases stay fixed; the regression
# tests themselves are in tests/hostile.
set -u
cd "$(dirname "$0")/.."
B=${1:-build-san}
[ -d ../shared/findings/hostile-cases ] ||
  { echo "no ../shared/findings/hostile-cases: the findings are in ../shared"; exit 77; }
F=$(cd ../shared/findings/hostile-cases && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
san=""
grep -q "^PK_SANITIZE:STRING=." "$B/CMakeCache.txt" 2>/dev/null && san="-fsanitize=address,undefined"
cc -O1 -g $san -I include "$F/tools/pkhost.c" -L "$B/src" -lplugkit \
   -Wl,-rpath,"$PWD/$B/src" -o "$T/pkhost" || exit 1
B=$PWD/$B
for w in "$F"/*.wat; do
  wat2wasm --enable-tail-call "$w" -o "$T/$(basename "${w%.wat}").wasm" 2>/dev/null
done
cc -O1 -g -I include -I sdk/c "$F/evil.c" sdk/c/pk_serve.c sdk/c/pk_wire.c -o "$T/evil"
cc -shared -fPIC -I include "$F/seccomp_thread.c" -o "$T/st.so" -lpthread
python3 "$F/gen_brtable_bomb.py" 2000 40000 "$T/brt.wasm" > /dev/null
python3 "$F/gen_many_exports.py" 80000 "$T/exports.wasm" > /dev/null
python3 "$F/gen_many_exports.py" 20000 "$T/exports_d.wasm" --describe > /dev/null
(cd "$T" && python3 "$F/gen_bad_elf.py" > /dev/null)
mkdir -p "$T/fsroot" && mkfifo "$T/fsroot/fifo"
H="$T/pkhost"
pass=0 fail=0
run() { # run NAME EXPECT COMMAND...: EXPECT is a regex the output must match
  local name=$1 want=$2; shift 2
  out=$(cd "$T" && timeout 20 "$@" 2>&1 < /dev/null); rc=$?
  flag=ok
  if [ $rc -eq 124 ]; then flag=HANG
  elif echo "$out" | grep -q "Sanitizer\|runtime error"; then flag=SANITIZER
  elif ! echo "$out" | grep -Eq "$want"; then flag=UNEXPECTED
  fi
  [ $flag = ok ] && pass=$((pass + 1)) || fail=$((fail + 1))
  printf '%-10s %-28s rc=%-3s %s\n' "$flag" "$name" "$rc" \
    "$( (echo "$out" | grep -E "^call|: (E[A-Z]+|OK)" | grep -v "^open: OK"; echo "$out") |
        grep -v '^$' | head -n 1 | cut -c1-110)"
}
W=$PWD/build/tests/wasm_backend
run "BUG1 echo realloc" "OK|ELIMIT|EPLUGIN" $H --grants echo "$T/echo_realloc_uaf.wasm" go
run "BUG1 host arg nested" "OK|ETRAP|EPLUGIN" $H --grants cbecho "$T/hostarg_uaf.wasm" go
run "BUG2 lua names uaf" "EFORMAT|OK" $H "$F/lua_names_uaf.lua"
run "BUG3 seccomp thread" "ECRASH|EPLUGIN|-[0-9]|ENOSYS" $H --isolate --harden 7 "$T/st.so" go:1
run "BUG4 raw recurse" "OK|ELIMIT|EPLUGIN" $H --backend process --grants callback --timeout 5000 "$F/raw_recurse.py" cb:1
run "BUG5 start loop" "ELIMIT|ETIMEOUT" $H --fuel 1000 --timeout 100 "$T/start_loop.wasm" sum:1,2
run "BUG6 unwind loop" "ETRAP|ELIMIT|ETIMEOUT" $H --fuel 1000 --timeout 100 "$T/unwind_loop.wasm" boom
run "BUG6 post loop" "ELIMIT|ETIMEOUT" $H --timeout 100 "$T/post_loop.wasm" get get
run "BUG6 post loop close" "ELIMIT|ETIMEOUT|OK" $H --timeout 100 "$T/post_loop_close.wasm" get
run "BUG6 realloc loop" "ELIMIT|ETIMEOUT" $H --timeout 100 "$T/realloc_loop.wasm" put:abc
run "BUG7 nested once" "ETIMEOUT" $H --grants callback --timeout 200 "$T/nested_limits.wasm" spin_once:1
run "BUG7 nested each" "ELIMIT" $H --grants callback --fuel 100000 "$T/nested_limits.wasm" spin_each:1
run "BUG8 phentsize" "EFORMAT|EARCH" $H "$T/elf_phent1.so"
run "BUG8 phoff wrap" "EFORMAT|EARCH" $H "$T/elf_phoff_wrap.so"
run "BUG9 br_table bomb" "OK|ELIMIT|ETIMEOUT" $H --fuel 100 --timeout 100 "$T/brt.wasm" run:1
run "BUG9 br_table all" "OK|ELIMIT" $H --validate-all "$T/brt.wasm"
run "BUG10 80k exports" "OK|ELIMIT" $H "$T/exports.wasm"
run "BUG10 20k describe" "OK|ELIMIT" $H "$T/exports_d.wasm"
run "BUG10 lua 40k exports" "OK|ELIMIT" $H --config n=40000 "$F/lua_many_exports.lua"
run "BUG10 READY 40k" "OK|ELIMIT" $H --backend process --config n=40000 "$F/raw_ready.py"
run "BUG10 READY 4M" "ELIMIT|EPROTO" $H --backend process --config n=4000000 --config empty=1 "$F/raw_ready.py"
run "BUG11 table bomb" "ELIMIT" $H --maxmem 65536 --fuel 1000 --timeout 1000 "$T/table_bomb.wasm"
run "BUG12 stat fifo" "OK|-|ENOENT|EACCES" $H --fsroot "$T/fsroot" --timeout 500 --fuel 100000 "$T/wasi_escape.wasm" stat:fifo
run "BUG12 open fifo" "OK|-|ENOENT|EACCES" $H --fsroot "$T/fsroot" --timeout 500 --fuel 100000 "$T/wasi_escape.wasm" open:fifo
run "BUG13 vformat" "ELIMIT|ETIMEOUT|EPLUGIN" $H --fuel 100000 --timeout 100 "$T/vformat_slow.wasm" run:1000
run "BUG14 rep" "OK|ELIMIT|ETIMEOUT" $H --config lua.instructions=1000000 "$F/lua_hangs.lua" rep:9223372036854775807
run "BUG14 move" "ELIMIT|ETIMEOUT" $H --config lua.instructions=1000000 "$F/lua_hangs.lua" move:9223372036854775806
run "BUG14 pattern" "ELIMIT|ETIMEOUT" $H --config lua.instructions=1000000 "$F/lua_hangs.lua" pat:25,8
run "BUG15 log flood" "ETIMEOUT" $H --timeout 300 "$T/evil" log_flood:50
run "BUG16 process on wasm" "EFORMAT" $H --backend process $W/conformance.wasm sum:1,2
run "BUG17 lazy invalid" "EFORMAT" $H --repeat 2000 "$F/lazy_invalid_leak.wasm" bad
run "BUG18 lua budget" "ELIMIT" $H --grants callback --config lua.instructions=100000 "$F/lua_budget_reset.lua" spin:100000
run "BUG19 tcc leak" "EFORMAT" $H "$F/source_tcc_leak.c"
run "BUG21 harden exe" "ENOSYS" $H --harden 7 "$T/evil" escape
echo "findings-check: $pass passed, $fail failed"
[ $fail = 0 ]
