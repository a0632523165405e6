# The catalog: manifests, hashes, signatures (src/catalog). Always built;
# the signature checks need libsodium (Debian: libsodium-dev) and without
# it fail with PK_ENOSYS, naming it.
list(APPEND PK_SOURCES catalog/semver.c catalog/sha256.c catalog/manifest.c
  catalog/open.c catalog/minisign.c catalog/sign.c)
option(PK_WITH_SODIUM "Check manifest signatures with libsodium when found" ON)
set(PK_HAVE_SODIUM OFF)
if(PK_WITH_SODIUM)
  find_path(PK_SODIUM_INCLUDE sodium.h)
  find_library(PK_SODIUM_LIB sodium)
  if(PK_SODIUM_INCLUDE AND PK_SODIUM_LIB)
    set(PK_HAVE_SODIUM ON)
    list(APPEND PK_DEFS PK_HAVE_SODIUM=1)
    list(APPEND PK_LIBS ${PK_SODIUM_LIB})
    list(APPEND PK_PRIVATE_INCLUDES ${PK_SODIUM_INCLUDE})
    message(STATUS "catalog: manifest signatures with libsodium (${PK_SODIUM_LIB})")
  else()
    message(STATUS "catalog: manifest signatures not built: missing libsodium "
      "(Debian: libsodium-dev); signature checks fail with PK_ENOSYS")
  endif()
else()
  message(STATUS "catalog: manifest signatures disabled (PK_WITH_SODIUM=OFF)")
endif()
set(PK_HAVE_SODIUM ${PK_HAVE_SODIUM} PARENT_SCOPE)
