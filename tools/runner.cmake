# plugkit-runner: serves a plugin libplugkit opens (.so, .wasm, ...) in a
# child process, for the process backend. Installed with the library.
if(TARGET plugkit AND "process" IN_LIST PK_BACKENDS_BUILT)
  add_executable(plugkit_runner runner.c
    ${PROJECT_SOURCE_DIR}/sdk/c/pk_serve.c ${PROJECT_SOURCE_DIR}/sdk/c/pk_wire.c)
  set_target_properties(plugkit_runner PROPERTIES OUTPUT_NAME plugkit-runner)
  target_include_directories(plugkit_runner PRIVATE ${PROJECT_SOURCE_DIR}/sdk/c)
  target_compile_definitions(plugkit_runner PRIVATE PK_SERVE_NO_MAIN=1)
  target_link_libraries(plugkit_runner PRIVATE plugkit pk_warnings)
  find_library(PK_SECCOMP_LIB seccomp)
  find_path(PK_SECCOMP_INC seccomp.h)
  if(PK_SECCOMP_LIB AND PK_SECCOMP_INC)
    target_compile_definitions(plugkit_runner PRIVATE PK_HAVE_SECCOMP=1)
    target_link_libraries(plugkit_runner PRIVATE ${PK_SECCOMP_LIB})
  else()
    message(STATUS "plugkit-runner: no libseccomp (libseccomp-dev): the "
                   "seccomp hardening option is unavailable")
  endif()
  # Installed, it finds libplugkit relative to itself.
  file(RELATIVE_PATH _pk_lib_from_bin ${CMAKE_INSTALL_FULL_BINDIR}
       ${CMAKE_INSTALL_FULL_LIBDIR})
  set_target_properties(plugkit_runner PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_pk_lib_from_bin}")
  install(TARGETS plugkit_runner RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
