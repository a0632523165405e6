#!/bin/sh
# readme_example.sh SRC OUT CC LIB [CFLAGS]: extract the plugin and host
# examples from README.md, build them as a user would and run them.
set -e
src=$1 out=$2 cc=$3 lib=$4 extra=${5:-}
mkdir -p "$out"
extract() {
  awk -v tag="<!-- example: $1 -->" '
    index($0, tag) { f = 1; next }
    f && /^```c/ { g = 1; next }
    g && /^```/ { exit }
    g { print }' "$src/README.md"
}
extract plugin > "$out/greeter.c"
extract host > "$out/host.c"
[ -s "$out/greeter.c" ] || { echo "no plugin example in README.md"; exit 1; }
[ -s "$out/host.c" ] || { echo "no host example in README.md"; exit 1; }
$cc -std=c11 -Wall -Wextra -Werror $extra -shared -fPIC -I"$src/include" \
  -o "$out/greeter.so" "$out/greeter.c"
$cc -std=c11 -Wall -Wextra -Werror $extra -I"$src/include" -o "$out/host" \
  "$out/host.c" "$lib" -Wl,-rpath,"$(dirname "$lib")"
"$out/host" "$out/greeter.so" > "$out/output.txt"
cat "$out/output.txt"
grep -qx "5 + 37 = 42" "$out/output.txt"
grep -qx "hello, reader" "$out/output.txt"
