# Warning flags for every target we compile (docs/contributing.md).
add_library(pk_warnings INTERFACE)
target_compile_options(pk_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wwrite-strings -Wno-unused-parameter)
if(PK_WERROR)
  target_compile_options(pk_warnings INTERFACE -Werror)
endif()
