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
# Relocatable: the install moved elsewhere (as if built for another
# prefix) still finds its runner and SDK headers relative to the library,
# and static links name only installed files.
# (Outside the build tree, which a library loaded from would use instead.)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
moved="$tmp/elsewhere"
mv "$prefix" "$moved"
libdir=$(dirname "$(find "$moved" -name libplugkit.so | head -n 1)")
export PKG_CONFIG_PATH="$libdir/pkgconfig"
if command -v pkg-config >/dev/null 2>&1; then
  $cc -std=c11 $extra $(pkg-config --cflags plugkit) -o "$tmp/iso" "$src/tests/build/fixtures/try_host.c" \
    $(pkg-config --libs plugkit) -Wl,-rpath,"$libdir"
  # Static: libplugkit.a and Libs.private name only installed files.
  $cc -std=c11 $extra $(pkg-config --cflags plugkit) -o "$tmp/iso_static" \
    "$src/tests/build/fixtures/try_host.c" "$libdir/libplugkit.a" \
    $(pkg-config --static --libs-only-l plugkit | sed 's/-lplugkit//')
  grep -q "$build" "$libdir/pkgconfig/plugkit.pc" &&
    { echo "plugkit.pc names the build tree"; exit 1; }
  grep -q "$build" "$libdir/cmake/plugkit/"*.cmake &&
    { echo "the CMake package names the build tree"; exit 1; }
  cp "$build/tests/fixtures/fx_conformance.so" "$src/tests/fixtures/conformance.c" "$tmp/"
  has_source=0 modes='""'
  "$moved/bin/plugkit" version | grep -q source && has_source=1
  "$moved/bin/plugkit" version | grep -q process && modes='"" isolate'
  cat > "$tmp/check.sh" <<CHECK
set -e
for mode in $modes; do
  r=\$("$tmp/iso" "$tmp/fx_conformance.so" \$mode) && [ "\$r" = "42 hello, world" ] ||
    { echo "moved install: native \$mode: \$r"; exit 1; }
done
r=\$("$tmp/iso_static" "$tmp/fx_conformance.so") && [ "\$r" = "42 hello, world" ] ||
  { echo "moved install: static host: \$r"; exit 1; }
if [ $has_source = 1 ]; then
  # The SDK header comes from the moved install.
  r=\$("$tmp/iso" "$tmp/conformance.c") && [ "\$r" = "42 hello, world" ] ||
    { echo "moved install: source: \$r"; exit 1; }
fi
CHECK
  # The source and build trees hidden (as if deleted), where this user may
  # make a mount namespace; else with them in place.
  empty="$tmp/empty"; mkdir "$empty"
  if unshare -m true 2>/dev/null; then
    unshare -m sh -c "mount --bind '$empty' '$build' && mount --bind '$empty' '$src' && sh '$tmp/check.sh'"
    echo "moved install, source and build trees hidden: native, native in the runner, static host and source plugins work"
  else
    sh "$tmp/check.sh"
    echo "moved install (trees in place: no mount namespace here): plugins work"
  fi
fi
echo "installed and used: pkg-config and CMake package (shared, static)"
