#!/bin/sh
# install.sh BUILD SRC OUT CC [CFLAGS]: install into OUT/prefix, then build
# the README example against the installed tree, through pkg-config and
# through the CMake package, and run the installed CLI.
set -e
build=$1 src=$2 out=$3 cc=$4 extra=${5:-}
rm -rf "$out"; mkdir -p "$out"
prefix="$out/prefix"
cmake --install "$build" --prefix "$prefix" > "$out/install.log"
for f in include/plugkit.h include/plugkit_plugin.h include/plugkit_types.h \
         bin/plugkit; do
  [ -e "$prefix/$f" ] || { echo "missing $f"; exit 1; }
done
libdir=$(dirname "$(find "$prefix" -name libplugkit.so | head -n 1)")
[ -e "$libdir/libplugkit.a" ] || { echo "missing libplugkit.a"; exit 1; }
pc="$libdir/pkgconfig/plugkit.pc"
[ -e "$pc" ] || { echo "missing plugkit.pc"; exit 1; }
[ -e "$libdir/cmake/plugkit/plugkitConfig.cmake" ] || { echo "missing CMake package"; exit 1; }
"$prefix/bin/plugkit" version | grep -q '^plugkit '
# pkg-config, if present; else read the .pc by hand.
if command -v pkg-config >/dev/null 2>&1; then
  cflags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags plugkit)
  libs=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --libs plugkit)
else
  cflags="-I$prefix/include"; libs="-L$libdir -lplugkit"
fi
awk '/<!-- example: host -->/{f=1;next} f&&/^```c/{g=1;next} g&&/^```/{exit} g{print}' \
  "$src/README.md" > "$out/host.c"
$cc -std=c11 $extra $cflags -o "$out/host_pc" "$out/host.c" $libs -Wl,-rpath,"$libdir"
# The CMake package.
mkdir -p "$out/cm"
cat > "$out/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(user C)
find_package(plugkit REQUIRED)
add_executable(host_cmake ../host.c)
target_link_libraries(host_cmake plugkit::plugkit)
add_executable(host_static ../host.c)
target_link_libraries(host_static plugkit::plugkit_static)
CM
cmake -S "$out/cm" -B "$out/cm/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$extra" > "$out/cm.log" 2>&1 ||
  { cat "$out/cm.log"; exit 1; }
cmake --build "$out/cm/build" > "$out/cm-build.log" 2>&1 ||
  { cat "$out/cm-build.log"; exit 1; }
echo "installed and used: pkg-config and CMake package (shared, static)"
