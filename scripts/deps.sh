#!/bin/sh
# deps.sh: make sure the Debian packages in scripts/packages.txt are there.
# As root: install what is missing (quietly; idempotent). Otherwise: name
# the missing packages and go on (the parts needing them are skipped).
here=$(dirname "$0")
pkgs=$(sed -e 's/#.*//' "$here/packages.txt" | tr -s ' \n' ' ')
command -v dpkg-query >/dev/null 2>&1 || exit 0   # not Debian: nothing to do
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing$missing"
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1
    if ! apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1; then
      tail -n 20 "$log"
      echo "deps: could not install$missing; the parts needing them are skipped"
      rm -f "$log"
      exit 0
    fi
  fi
  rm -f "$log"
else
  echo "deps: missing Debian packages:$missing"
  echo "deps: the parts needing them are skipped; as root, install them with:"
  echo "  apt-get install --no-install-recommends$missing"
fi
exit 0
