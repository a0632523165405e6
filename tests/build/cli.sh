#!/bin/sh
# cli.sh CASE CLI SO LUA [EXE]: one behaviour of the plugkit CLI per CASE.
# SO is tests/build/fixtures/cli_plugin.c built as a .so, LUA is
# tests/fixtures/lua/limits.lua, EXE an executable without a descriptor
# that creates $PK_CLI_MARK.exe when run
# (tests/hostile/fixtures/cli/nodesc_exe.c). Expected outputs and exit statuses are
# written here, from the CLI's documented behaviour.
case_=$1 cli=$2 so=$3 lua=$4 exe=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pk_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# run CMD...: sets $status, $out (stdout), $err (stderr)
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"; status=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}
die() {
  echo "FAIL: $*"; echo "exit: $status"; echo "stdout: $out"; echo "stderr: $err"
  exit 1
}
want_status() { [ "$status" -eq "$1" ] || die "exit status $status, want $1"; }
want_out() { [ "$out" = "$1" ] || die "stdout is not '$1'"; }
out_has() { case "$out" in *"$1"*) ;; *) die "stdout lacks '$1'";; esac; }
err_has() { case "$err" in *"$1"*) ;; *) die "stderr lacks '$1'";; esac; }
err_lines() {
  n=$(printf '%s\n' "$err" | grep -c .)
  [ "$n" -eq "$1" ] || die "stderr has $n lines, want $1"
}

case $case_ in
call_grant_echo_log)
  run "$cli" call --grant echo,log "$so" via_host "hi there"
  want_status 0; want_out "hi there"; err_has "[cli_plugin] hi there";;
call_grant_all_now)
  run "$cli" call --grant '*' "$so" now_ok
  want_status 0; want_out 1;;
call_ungranted)
  run "$cli" call --grant now "$so" via_host x
  want_status 1; err_has "host echo failed with code -"; err_lines 1;;
call_grant_unknown)
  run "$cli" call --grant nosuch "$so" sum 1 2
  want_status 1; err_has "grant 'nosuch' names no host function";;
call_log)
  run "$cli" call --log "$so" say hello
  want_status 0; want_out ""; err_has "[cli_plugin] warn: hello"
  run "$cli" call "$so" say hello
  want_status 0; [ -z "$err" ] || die "log lines printed without --log";;
call_crash_in_process)
  run "$cli" call "$so" crash
  want_status 3; err_has "cli_plugin.so: the plugin crashed this process (SIGSEGV)"
  err_has "--isolate"; err_lines 1;;
call_crash_isolated)
  run "$cli" call --isolate "$so" crash
  want_status 3; err_has "(ECRASH)"; err_lines 1
  out_has ""; [ -z "$out" ] || die "stdout not empty";;
call_timeout_native_isolates)
  run "$cli" call --timeout 200 "$so" spin
  want_status 4; err_has "running it in a child process"; err_has "(ETIMEOUT)"
  err_lines 2;;
call_timeout_native_result)
  # isolated for the timeout, the call still works
  run "$cli" call --timeout 5000 "$so" sum 40 2
  want_status 0; want_out 42;;
call_timeout_lua)
  run "$cli" call --timeout 100 "$lua" spin
  want_status 4; err_has "(ETIMEOUT)"; err_lines 1;;
call_fuel_lua)
  run "$cli" call --fuel 10000 "$lua" spin
  want_status 4; err_has "(ELIMIT)"; err_lines 1;;
call_max_memory_lua)
  run "$cli" call --max-memory 8000000 "$lua" hog 64
  want_status 4; err_has "memory limit"; err_has "(ELIMIT)";;
call_fs_root_refused_native)
  run "$cli" call --fs-root "$tmp" "$so" sum 1 2
  want_status 1; err_has "fs_root cannot be enforced on native"; err_has "(ENOSYS)";;
call_json_ok)
  run "$cli" call --json "$so" sum 2 3
  want_status 0; want_out '{"ok": true, "results": [5]}'
  run "$cli" call --json --grant echo,log "$so" via_host 'a"b'
  want_status 0; want_out '{"ok": true, "results": ["a\"b"]}';;
call_json_error)
  run "$cli" call --json "$so" via_host x
  want_status 1
  case "$out" in '{"ok": false, "error": "EPLUGIN", "message": "'*"host echo failed"*'"}') ;;
    *) die "stdout is not the JSON error";; esac;;
call_bad_option_value)
  run "$cli" call --timeout soon "$so" sum 1 2
  want_status 2; err_has "--timeout wants a non-negative integer, not 'soon'";;
call_help_lists_grants)
  run "$cli" --help
  want_status 0
  for w in "--grant NAMES" "log  (str)->()" "now  ()->i64" "echo (str)->str" \
           "--isolate" "--timeout MS" "--fuel N" "--max-memory BYTES" \
           "--fs-root DIR" "--log" "--json" "3 the plugin crashed"; do
    out_has "$w"
  done;;
inspect_runs_no_code)
  # the .so's constructor and init would create these files
  PK_CLI_MARK=$tmp/mark run "$cli" inspect "$so"
  want_status 0; out_has "name:     cli_plugin"; out_has "via_host"
  [ ! -e "$tmp/mark.ctor" ] || die "inspect ran the constructor"
  [ ! -e "$tmp/mark.init" ] || die "inspect ran init";;
inspect_stray_executable_refused)
  PK_CLI_MARK=$tmp/mark run "$cli" inspect "$exe"
  want_status 1; err_has "no symbol 'pk_plugin_descriptor' in the file"
  err_has "(ENODESC)"; err_lines 1
  [ ! -e "$tmp/mark.exe" ] || die "inspect ran the executable";;
py_detected)
  # LUA is tests/fixtures/process/conformance.py here
  run "$cli" call "$lua" sum 2 3
  want_status 0; want_out 5;;
py_shebang_detected)
  # no .py extension: the #! line names python
  cp "$lua" "$tmp/plugin"; chmod +x "$tmp/plugin"
  sed -i "s|os.path.dirname(os.path.abspath(__file__))|'$(dirname "$lua")'|" "$tmp/plugin"
  run "$cli" call "$tmp/plugin" sum 2 3
  want_status 0; want_out 5;;
py_marker_detected)
  # no #! line: the helper's import in a .py file
  sed '1d' "$lua" > "$tmp/plugin.py"
  sed -i "s|os.path.dirname(os.path.abspath(__file__))|'$(dirname "$lua")'|" "$tmp/plugin.py"
  run "$cli" call "$tmp/plugin.py" sum 2 3
  want_status 0; want_out 5;;
py_without_marker_not_detected)
  printf 'print("hi")\n' > "$tmp/other.py"
  run "$cli" call "$tmp/other.py" sum 2 3
  want_status 1; err_has "not a plugin any built-in backend reads"
  err_has "--backend"; err_has '"process" for a script or a .py file'
  err_lines 1;;
undetected_suggests_backend)
  printf 'hello\n' > "$tmp/text.txt"
  run "$cli" inspect "$tmp/text.txt"
  want_status 1; err_has "(6 bytes starting 68 65 6c 6c; built: "
  err_has "name its backend: opts.backend, or --backend in the CLI"; err_lines 1
  : > "$tmp/empty"
  run "$cli" inspect "$tmp/empty"
  want_status 1; err_has "(an empty file; built: "; err_lines 1;;
bench_names_file)
  run "$cli" bench --runs 1 "$so" sum 1 2
  want_status 0
  printf '%s\n' "$out" | grep -Eq "^sum/native +[0-9.]+ +[0-9.]+ +[0-9.]+x +0 +0\.00  $so\$" ||
    die "no row 'sum/native ... $so'";;
bench_backend_flag)
  # a Lua plugin under a name no probe reads: --backend names it
  cp "$lua" "$tmp/plugin.txt"
  run "$cli" bench --backend lua --runs 1 "$tmp/plugin.txt" sum 1 2
  want_status 0
  printf '%s\n' "$out" | grep -Eq "^sum/lua +[0-9.]+ .*  $tmp/plugin.txt\$" ||
    die "no row 'sum/lua ... plugin.txt'";;
bench_all_includes_file)
  # the file given (a .lua) is measured along with its siblings (a .so)
  cp "$lua" "$tmp/plug.lua"; cp "$so" "$tmp/plug.so"
  run "$cli" bench --all-backends --runs 1 "$tmp/plug.lua" sum 1 2
  want_status 0
  printf '%s\n' "$out" | sed -n 3p | grep -Eq "^sum/lua +[0-9.]+ .*  $tmp/plug.lua\$" ||
    die "the first row is not 'sum/lua ... plug.lua'"
  printf '%s\n' "$out" | grep -Eq "^sum/native +[0-9.]+ .*  $tmp/plug.so\$" ||
    die "no row 'sum/native ... plug.so'";;
*)
  echo "unknown case $case_"; exit 1;;
esac
echo "ok: $case_"
