#!/bin/sh
# check_exports.sh LIB: every dynamic symbol the library defines must be
# part of the public API (pk_ and no pk__).
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^pk_' ; printf '%s\n' "$syms" | grep '^pk__')
if [ -n "$bad" ]; then echo "non-public exports:"; echo "$bad"; exit 1; fi
for need in pk_host_create pk_plugin_open pk_func_call pk_errname; do
  printf '%s\n' "$syms" | grep -qx "$need" || { echo "missing export $need"; exit 1; }
done
echo "$(printf '%s\n' "$syms" | wc -l) exports, all public"
