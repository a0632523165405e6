/* The jit tier of a build without libtcc: not available. */
#include "internal.h"

int pkw_module_jit(pkw_module *m, char *errbuf, size_t errlen) {
  if (m == NULL)
    return PKW_EINVAL;
  pkw__errf(errbuf, errlen, "the jit tier is not built (libtcc-dev missing)");
  return PKW_EUNSUPPORTED;
}
