# The source backend: C source compiled at load time by libtcc (Debian
# libtcc-dev). Included by src/CMakeLists.txt; see its comment.
find_path(PK_LIBTCC_INCLUDE libtcc.h)
find_library(PK_LIBTCC_LIBRARY NAMES tcc libtcc)
if(NOT PK_LIBTCC_INCLUDE OR NOT PK_LIBTCC_LIBRARY)
  message(STATUS "source backend: disabled (libtcc-dev not found)")
  return()
endif()

# tcc's directory: its freestanding headers (stdarg.h, stddef.h) and its
# runtime libtcc1.a (va_arg and a few arithmetic helpers). The tcc
# package installs them; without it, plugkit's own minimal headers and an
# empty runtime archive stand in (then va_arg is unavailable to plugins).
find_file(PK_LIBTCC1 libtcc1.a
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/tcc /usr/lib/tcc
        /usr/local/lib/tcc
  NO_DEFAULT_PATH)
file(RELATIVE_PATH _pk_sdk_from_lib ${CMAKE_INSTALL_FULL_LIBDIR}
     ${CMAKE_INSTALL_FULL_INCLUDEDIR})
if(PK_LIBTCC1)
  get_filename_component(_pk_tccdir ${PK_LIBTCC1} DIRECTORY)
  list(APPEND PK_DEFS PK_SOURCE_TCC_DIR_SYSTEM="${_pk_tccdir}")
  set(_pk_tccrt "tcc's runtime in ${_pk_tccdir}")
else()
  # Used from the source tree while the library runs from the build
  # tree, else from the install, relative to the library.
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/source/tcc/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/plugkit/tcc)
  file(RELATIVE_PATH _pk_tcc_from_lib ${CMAKE_INSTALL_FULL_LIBDIR}
       ${CMAKE_INSTALL_FULL_DATADIR}/plugkit/tcc)
  list(APPEND PK_DEFS
    PK_SOURCE_TCC_DIR="${CMAKE_CURRENT_SOURCE_DIR}/source/tcc"
    PK_SOURCE_TCC_FROM_LIB="${_pk_tcc_from_lib}"
    PK_SOURCE_TCC_INSTALLED="${CMAKE_INSTALL_FULL_DATADIR}/plugkit/tcc")
  set(_pk_tccrt "plugkit's minimal runtime (va_arg needs Debian's tcc package)")
endif()

# libtcc.a is not position-independent code: it reaches glibc's stdout,
# stderr and environ PC-relative, which a shared object cannot do. A copy
# with those three renamed links into libplugkit; source.c defines the
# renamed ones (hidden) and points them at the real ones.
# The same copy renames libtcc's calls to the C library's allocator
# (malloc, calloc, realloc, free: all it calls, `nm -u libtcc.a`) to
# source.c's, which track every block a compiler state allocates, so
# closing it frees what libtcc's error paths forget (tcc_delete does not).
set(_pk_tcclib ${CMAKE_CURRENT_BINARY_DIR}/libpktcc.a)
execute_process(
  COMMAND ${CMAKE_OBJCOPY}
    --redefine-sym stdout=pk__tcc_stdout --redefine-sym stderr=pk__tcc_stderr
    --redefine-sym environ=pk__tcc_environ
    --redefine-sym malloc=pk__tcc_malloc --redefine-sym calloc=pk__tcc_calloc
    --redefine-sym realloc=pk__tcc_realloc --redefine-sym free=pk__tcc_free
    ${PK_LIBTCC_LIBRARY} ${_pk_tcclib}.new
  RESULT_VARIABLE _pk_objcopy_rc)
# Replaced only when it changed: `make` configures every time, and a new
# archive would relink everything that links libplugkit.
if(_pk_objcopy_rc EQUAL 0)
  execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different
    ${_pk_tcclib}.new ${_pk_tcclib})
  file(REMOVE ${_pk_tcclib}.new)
endif()
if(NOT _pk_objcopy_rc EQUAL 0)
  message(STATUS "source backend: disabled (objcopy could not adapt ${PK_LIBTCC_LIBRARY})")
  return()
endif()

list(APPEND PK_SOURCES source/source.c)
list(APPEND PK_DEFS PK_HAVE_SOURCE=1
  PK_SOURCE_SDK_DIR="${PROJECT_SOURCE_DIR}/include"
  PK_SOURCE_SDK_FROM_LIB="${_pk_sdk_from_lib}"
  PK_SOURCE_SDK_INSTALLED="${CMAKE_INSTALL_FULL_INCLUDEDIR}")
list(APPEND PK_PRIVATE_INCLUDES ${PK_LIBTCC_INCLUDE})
# libtcc exports its API: hide it inside libplugkit.so, which exports only
# the public API. libplugkit.a carries libtcc's objects itself (extracted
# here; replaced only when they changed), so a static user links only
# installed files.
list(APPEND PK_SHARED_ONLY_LIBS ${_pk_tcclib} -Wl,--exclude-libs,libpktcc.a)
set(_pk_tccobj ${CMAKE_CURRENT_BINARY_DIR}/pktcc-objs)
file(REMOVE_RECURSE ${_pk_tccobj}.new)
file(MAKE_DIRECTORY ${_pk_tccobj}.new ${_pk_tccobj})
execute_process(COMMAND ${CMAKE_AR} x ${_pk_tcclib}
  WORKING_DIRECTORY ${_pk_tccobj}.new)
file(GLOB _pk_tccobjs RELATIVE ${_pk_tccobj}.new ${_pk_tccobj}.new/*.o)
foreach(o ${_pk_tccobjs})
  execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different
    ${_pk_tccobj}.new/${o} ${_pk_tccobj}/pktcc_${o})
  list(APPEND PK_STATIC_OBJECTS ${_pk_tccobj}/pktcc_${o})
endforeach()
file(REMOVE_RECURSE ${_pk_tccobj}.new)
list(APPEND PK_LIBS ${CMAKE_DL_LIBS} m)
list(APPEND PK_BACKENDS_BUILT source)
message(STATUS "source backend: enabled (libtcc: ${PK_LIBTCC_LIBRARY}; ${_pk_tccrt})")
