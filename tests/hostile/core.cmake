# The core's hostile cases (test_hostile_core, tests/hostile/core.c):
# malformed ELF headers read by the probe and the native backend (BUG 8),
# export lists beyond the cap or with a name declared twice (BUG 10),
# log levels out of range, files that are not regular files and files
# too large to read (the CLI hangs), libtcc's leaks on failed compiles
# (BUG 19). Also the ELF readers' fuzz smoke test.

# The malformed ELF files, written at build time by the generator.
find_program(PK_PYTHON3 NAMES python3)
set(_pkh_core ${CMAKE_CURRENT_BINARY_DIR}/core)
set(_pkh_core_fx ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/core)
set(_pkh_elfs elf_phent1.so elf_phent1_interp.so elf_phoff_wrap.so
  elf_load_wrap.so elf32_phent1.so)
list(TRANSFORM _pkh_elfs PREPEND ${_pkh_core}/ OUTPUT_VARIABLE _pkh_elf_paths)
if(PK_PYTHON3)
  add_custom_command(OUTPUT ${_pkh_elf_paths}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_pkh_core}
    COMMAND ${PK_PYTHON3} ${_pkh_core_fx}/gen_bad_elf.py ${_pkh_core}
    DEPENDS ${_pkh_core_fx}/gen_bad_elf.py VERBATIM)
  add_custom_target(pkh_core_elfs ALL DEPENDS ${_pkh_elf_paths})
else()
  message(STATUS "hostile suite: core ELF cases skipped (needs python3)")
endif()

# Native fixtures: built as plugin authors build them.
function(pkh_core_fixture name source)
  add_library(${name} MODULE ${source})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PRIVATE pk_warnings)
  set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
    SUFFIX ".so" LIBRARY_OUTPUT_DIRECTORY ${_pkh_core})
  if(ARGN)
    target_compile_definitions(${name} PRIVATE ${ARGN})
  endif()
endfunction()
pkh_core_fixture(pkh_exports_cap ${_pkh_core_fx}/many_exports.c
  N_EXPORTS=65536)
pkh_core_fixture(pkh_exports_over ${_pkh_core_fx}/many_exports.c
  N_EXPORTS=65537)
pkh_core_fixture(pkh_exports_dup ${_pkh_core_fx}/many_exports.c
  N_EXPORTS=65536 DUP_LAST=1)
pkh_core_fixture(pkh_log_level ${_pkh_core_fx}/log_level.c)

add_executable(test_hostile_core ${CMAKE_CURRENT_SOURCE_DIR}/core.c)
target_link_libraries(test_hostile_core PRIVATE pk_test_harness pk_warnings)
target_compile_definitions(test_hostile_core PRIVATE _POSIX_C_SOURCE=200809L)
add_dependencies(test_hostile_core pkh_exports_cap pkh_exports_over
  pkh_exports_dup pkh_log_level fx_conformance)
# The native conformance fixture, whose config export fails with the key.
target_compile_definitions(test_hostile_core PRIVATE
  PKH_CONFORMANCE="$<TARGET_FILE:fx_conformance>")
if(TARGET pkh_core_elfs)
  add_dependencies(test_hostile_core pkh_core_elfs)
endif()
pk_add_tests(test_hostile_core hostile_core ${CMAKE_CURRENT_SOURCE_DIR}/core.c
  ${_pkh_core} ${_pkh_core_fx})
# Counts the C library's heap in use (mallinfo2): without the per-thread
# cache, whose content varies, a freed block stops counting at once.
set_tests_properties(hostile_core_source_failed_compiles_leak_nothing
  PROPERTIES ENVIRONMENT "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")

# The ELF readers under libFuzzer, built with clang whatever the main
# compiler is, when clang links -fsanitize=fuzzer (cmake/PkFuzz.cmake).
if(PK_LIBFUZZER)
  set(_src ${PROJECT_SOURCE_DIR}/src)
  set(_fuzz ${_pkh_core}/fuzz_elf)
  add_custom_command(OUTPUT ${_fuzz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_pkh_core}
    COMMAND ${PK_FUZZ_CLANG} -std=c11 -g -O1
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -I${_src} -I${PROJECT_SOURCE_DIR}/include
      ${CMAKE_CURRENT_SOURCE_DIR}/core_fuzz_elf.c ${_src}/core/elf.c
      ${_src}/native/elf.c -o ${_fuzz}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/core_fuzz_elf.c ${_src}/core/elf.c
      ${_src}/native/elf.c ${_src}/core/core.h ${_src}/native/native.h
    VERBATIM)
  add_custom_target(pkh_core_fuzz_elf ALL DEPENDS ${_fuzz})
  add_test(NAME hostile_core_elf_fuzz_smoke
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/core_fuzz_elf.sh ${_fuzz}
      ${_pkh_core}/fuzz-out 5 ${_pkh_elf_paths}
      $<TARGET_FILE:fx_conformance> $<TARGET_FILE:pkh_log_level>)
  set_tests_properties(hostile_core_elf_fuzz_smoke PROPERTIES TIMEOUT 120)
else()
  pk_fuzz_skipped(hostile_core_elf_fuzz_smoke)
endif()

# The CLI on paths that used to hang it (the review's "strange CLI
# arguments"): a FIFO (the probe's open waited for a writer) and
# /dev/zero read as a wasm module (read for ever).
set(_pkh_fail sh ${PROJECT_SOURCE_DIR}/tests/build/expect_fail.sh)
add_test(NAME hostile_core_cli_inspect_fifo
  COMMAND sh -c "d=$(mktemp -d) && mkfifo \"$d/p.wasm\" && \"$0\" \"$@\" \"$d/p.wasm\"; rc=$?; rm -rf \"$d\"; exit $rc"
    ${_pkh_fail} "not a regular file or a directory"
    $<TARGET_FILE:plugkit_cli> inspect)
add_test(NAME hostile_core_cli_inspect_dev_zero
  COMMAND ${_pkh_fail} "not a regular file or a directory"
    $<TARGET_FILE:plugkit_cli> inspect --backend wasm /dev/zero)
set_tests_properties(hostile_core_cli_inspect_fifo
  hostile_core_cli_inspect_dev_zero PROPERTIES TIMEOUT 60)
