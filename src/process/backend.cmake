# The process backend: plugins in a child process (POSIX, Linux futexes).
# Its wire code is the SDK's (sdk/c/pk_wire.c), compiled in hidden.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND PK_SOURCES process/process.c ../sdk/c/pk_wire.c)
  # The runner: the build tree's while the library runs from there, else
  # the install's, relative to the library.
  file(RELATIVE_PATH _pk_runner_from_lib ${CMAKE_INSTALL_FULL_LIBDIR}
       ${CMAKE_INSTALL_FULL_BINDIR}/plugkit-runner)
  file(RELATIVE_PATH _pk_python_from_lib ${CMAKE_INSTALL_FULL_LIBDIR}
       ${CMAKE_INSTALL_FULL_DATADIR}/plugkit/python)
  list(APPEND PK_DEFS PK_HAVE_PROCESS=1
    PK_RUNNER_PATH="${PROJECT_BINARY_DIR}/tools/plugkit-runner"
    PK_RUNNER_FROM_LIB="${_pk_runner_from_lib}"
    PK_RUNNER_INSTALL_PATH="${CMAKE_INSTALL_FULL_BINDIR}/plugkit-runner"
    # Python plugins: where the SDK's plugkit_plugin.py is (sdk/CMakeLists.txt).
    PK_PYTHON_SDK_PATH="${PROJECT_SOURCE_DIR}/sdk/python"
    PK_PYTHON_FROM_LIB="${_pk_python_from_lib}"
    PK_PYTHON_INSTALL_PATH="${CMAKE_INSTALL_FULL_DATADIR}/plugkit/python")
  list(APPEND PK_PRIVATE_INCLUDES ${PROJECT_SOURCE_DIR}/sdk/c)
  list(APPEND PK_LIBS ${CMAKE_DL_LIBS})
  list(APPEND PK_BACKENDS_BUILT process)
else()
  message(STATUS "plugkit: process backend left out (needs Linux)")
endif()
