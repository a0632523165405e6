#!/bin/sh
# cxx.sh MODE SRC CXX [LIB OUT SANFLAG FIXTURE]: plugkit from C++.
#   mismatch: a plugin whose C++ types contradict its declared signature
#             must not compile, and the error must say why.
#   host:     a C++ host (tests/build/cxx_host.cpp) compiles with
#             -Wall -Wextra -Wpedantic -Werror as C++11 and C++20, links
#             against LIB and calls the C fixture FIXTURE.
#   compile:  the same host only compiled (a sanitizer build of the library
#             needs the sanitizer runtime of the compiler that built it).
#   none:     no C++ compiler was found at configure time (skipped).
mode=$1 src=$2 cxx=$3
case $mode in
none)
  echo "no C++ compiler (g++ or clang++) found at configure time: skipped"
  exit 77;;
mismatch)
  out=$($cxx -std=c++11 -fsyntax-only -x c++ -I"$src/include" \
        "$src/tests/fixtures/bad/wrong_signature.c" 2>&1) &&
    { echo "wrong_signature.c compiled as C++"; exit 1; }
  echo "$out" | grep -q "type of .*sum.* does not match the signature" ||
    { echo "unexpected diagnostics: $out"; exit 1; }
  echo "refused at compile time, as it should";;
compile)
  for std in c++11 c++20; do
    $cxx -std=$std -Wall -Wextra -Wpedantic -Werror -I"$src/include" \
      -c -o /dev/null "$src/tests/build/cxx_host.cpp" || exit 1
  done
  echo "C++ host compiles (not linked: the library was built with another" \
       "compiler's sanitizers)";;
host)
  lib=$4 out=$5 san=$6 fixture=$7
  mkdir -p "$out" || exit 1
  for std in c++11 c++20; do
    # shellcheck disable=SC2086 # $san is empty or one flag
    $cxx -std=$std -Wall -Wextra -Wpedantic -Werror $san \
      -I"$src/include" -o "$out/cxx_host_$std" "$src/tests/build/cxx_host.cpp" \
      "$lib" -Wl,-rpath,"$(dirname "$lib")" || exit 1
    got=$("$out/cxx_host_$std" "$fixture") || exit 1
    [ "$got" = "conformance native: sum = 42" ] ||
      { echo "$std: unexpected output: $got"; exit 1; }
  done
  echo "C++ host works";;
esac
