# libFuzzer: the fuzz smoke tests are built with clang whatever the main
# compiler is. Whether clang links -fsanitize=fuzzer is probed once, here,
# at configure time: PK_LIBFUZZER says whether it can, PK_LIBFUZZER_WHY why
# not (each fuzz test that is left out prints it at configure time).
find_program(PK_FUZZ_CLANG NAMES clang clang-19 clang-18 clang-17 clang-16
  clang-15 clang-14)
set(PK_LIBFUZZER OFF)
set(PK_LIBFUZZER_WHY "clang not found")
if(PK_FUZZ_CLANG)
  if(NOT PK_FUZZ_CLANG_CHECKED STREQUAL PK_FUZZ_CLANG)
    set(_probe ${CMAKE_BINARY_DIR}/pk_fuzz_probe)
    file(WRITE ${_probe}.c "#include <stddef.h>\n#include <stdint.h>\n"
      "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
      "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) "
      "{ (void)d; (void)n; return 0; }\n")
    execute_process(COMMAND ${PK_FUZZ_CLANG} -fsanitize=fuzzer,address,undefined
        ${_probe}.c -o ${_probe}
      RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_VARIABLE _err)
    if(_rc EQUAL 0)
      set(PK_FUZZ_CLANG_WORKS ON CACHE INTERNAL "clang links libFuzzer")
    else()
      set(PK_FUZZ_CLANG_WORKS OFF CACHE INTERNAL "clang links libFuzzer")
      string(REGEX REPLACE "\n.*" "" _err "${_err}")
      string(REPLACE "'" "" _err "${_err}")
      set(PK_FUZZ_CLANG_ERR "${_err}" CACHE INTERNAL "why not")
    endif()
    set(PK_FUZZ_CLANG_CHECKED "${PK_FUZZ_CLANG}" CACHE INTERNAL "checked")
  endif()
  if(PK_FUZZ_CLANG_WORKS)
    set(PK_LIBFUZZER ON)
    set(PK_LIBFUZZER_WHY "")
  else()
    set(PK_LIBFUZZER_WHY "${PK_FUZZ_CLANG} cannot link -fsanitize=fuzzer: the libFuzzer runtime is missing (Debian: libclang-rt-14-dev): ${PK_FUZZ_CLANG_ERR}")
  endif()
endif()
if(NOT PK_LIBFUZZER)
  message(STATUS "libFuzzer smoke tests: left out (${PK_LIBFUZZER_WHY})")
endif()

# pk_fuzz_skipped(NAME): where libFuzzer is missing, the fuzz test NAME is
# still listed, as Skipped with the reason (nothing is compiled for it).
function(pk_fuzz_skipped name)
  add_test(NAME ${name} COMMAND sh -c "echo 'skipped: ${PK_LIBFUZZER_WHY}'; exit 77")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()
