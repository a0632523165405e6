#!/bin/sh
# expect_fail.sh MESSAGE CMD...: CMD must exit non-zero and print exactly
# one line on stderr containing MESSAGE.
want=$1; shift
err=$("$@" 2>&1 >/dev/null); status=$?
if [ "$status" -eq 0 ]; then echo "expected failure, got exit 0"; exit 1; fi
case "$err" in *"$want"*) ;; *) echo "stderr: $err"; echo "missing: $want"; exit 1;; esac
lines=$(printf '%s\n' "$err" | wc -l)
if [ "$lines" -ne 1 ] && ! printf '%s' "$err" | grep -q '^usage'; then
  echo "expected one line, got $lines: $err"; exit 1
fi
echo "ok: exit $status: $err"
