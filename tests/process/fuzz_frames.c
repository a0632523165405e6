/*
 * libFuzzer target for the process protocol's frame decoder: any bytes,
 * as a frame body, must be accepted or rejected by pk__wire_validate
 * without reading out of bounds, and a frame that validates must decode
 * the same way through the readers the host and plugin use.
 */
#include <stddef.h>
#include <stdint.h>

#include "pk_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pk_val v[PK_MAX_PARAMS];
  pk__rd r;
  if (size == 0 || pk__wire_validate(data, size) != PK_OK)
    return 0;
  if (data[0] == PK__F_CALL || data[0] == PK__F_HOSTCALL) {
    pk__rd_init(&r, data + 1, size - 1);
    pk__rd_u32(&r);
    pk__rd_vals(&r, v, PK_MAX_PARAMS);
    if (!pk__rd_done(&r))
      __builtin_trap(); /* validate and the readers disagree */
  }
  return 0;
}
