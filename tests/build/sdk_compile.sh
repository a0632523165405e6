#!/bin/sh
# sdk_compile.sh MODE SRC CC: compile-time checks of plugkit_plugin.h.
#   mismatch: a plugin whose C types contradict its declared signature
#             must not compile, and the error must say why.
#   wasm32:   the conformance fixture compiles for wasm32-wasi with clang
#             (exit 77, skipped, when clang or the wasi sysroot is absent).
#   names:    exports named like the generated code's own identifiers
#             (tests/fixtures/short_names.c) compile, natively and, when
#             clang has the wasi sysroot, for wasm32-wasi.
mode=$1 src=$2 cc=$3
case $mode in
mismatch)
  out=$($cc -std=c11 -fsyntax-only -I"$src/include" \
        "$src/tests/fixtures/bad/wrong_signature.c" 2>&1) &&
    { echo "wrong_signature.c compiled"; exit 1; }
  echo "$out" | grep -q "type of .*sum.* does not match the signature" ||
    { echo "unexpected diagnostics: $out"; exit 1; }
  echo "refused at compile time, as it should";;
wasm32)
  command -v clang >/dev/null 2>&1 || { echo "no clang: skipped"; exit 77; }
  # The probe comes from standard input: no file in a shared folder.
  echo 'int main(void){return 0;}' |
    clang --target=wasm32-wasi -x c -c -o /dev/null - 2>/dev/null ||
    { echo "no wasm32-wasi sysroot (wasi-libc): skipped"; exit 77; }
  clang --target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Werror \
    -I"$src/include" -c -o /dev/null "$src/tests/fixtures/conformance.c" &&
    echo "conformance.c compiles for wasm32-wasi";;
names)
  fx="$src/tests/fixtures/short_names.c"
  $cc -std=c11 -Wall -Wextra -Wshadow -Werror -fsyntax-only -I"$src/include" \
    "$fx" || exit 1
  echo "short_names.c compiles natively"
  if command -v clang >/dev/null 2>&1 &&
     echo 'int main(void){return 0;}' |
       clang --target=wasm32-wasi -x c -c -o /dev/null - 2>/dev/null; then
    clang --target=wasm32-wasi -O2 -std=c11 -Wall -Wextra -Wshadow -Werror \
      -I"$src/include" -c -o /dev/null "$fx" || exit 1
    echo "short_names.c compiles for wasm32-wasi"
  fi;;
esac
