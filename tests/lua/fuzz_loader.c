/*
 * libFuzzer target for the lua backend's loader: the input is a script.
 * It is opened as a plugin under small limits (fuel, max_memory, a
 * deadline) and each export is called with zero or empty arguments.
 * Whatever the script does, the host must see an error code, never a
 * crash, a leak or a hang. Built and run by run_fuzz.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[4096];

/* The script file goes with the run: nothing is left in the folder. */
static void drop_script(void) {
  if (path[0] != '\0')
    remove(path);
}

/* host.echo(s): back into the plugin's own export "cb" when there is one,
   so nested calls are fuzzed too. */
static int echo(void *ud, pk_plugin *caller, const pk_val *args,
                pk_val *results) {
  pk_func *f;
  (void)ud;
  results[0] = args[0];
  if (pk_plugin_func(caller, "cb", "(str)->str", &f) == PK_OK)
    return pk_func_call(f, args, 1, results, 1);
  return PK_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pk_host *h = NULL;
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  FILE *fp;
  size_t i;

  if (path[0] == '\0') {
    /* run_fuzz.sh names its output folder; else $TMPDIR */
    const char *dir = getenv("PK_FUZZ_DIR");
    if (dir == NULL || *dir == '\0')
      dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
      dir = "/tmp";
    snprintf(path, sizeof path, "%s/pk_fuzz_lua_%ld.lua", dir, (long)getpid());
    atexit(drop_script);
  }
  if ((fp = fopen(path, "wb")) == NULL)
    return 0;
  fwrite(data, 1, size, fp);
  fclose(fp);
  if (pk_host_create(NULL, &h) != PK_OK)
    return 0;
  pk_host_define(h, "echo", "(str)->str", echo, NULL);
  o.backend = "lua";
  o.grants = "*";
  o.fuel = 200000;
  o.max_memory = 8u << 20;
  o.call_timeout_ms = 1000;
  if (pk_plugin_open(h, path, &o, &p) == PK_OK) {
    pk_plugin_info_get(p, &info);
    for (i = 0; i < info.nexports && i < 64; i++) {
      const char *name;
      pk_func *f;
      pk_val args[PK_MAX_PARAMS], res[PK_MAX_RESULTS];
      size_t k, np;
      if (pk_plugin_export(p, i, &name, NULL) != PK_OK ||
          pk_plugin_func(p, name, NULL, &f) != PK_OK)
        continue;
      np = pk_func_nparams(f);
      for (k = 0; k < np; k++) {
        memset(&args[k], 0, sizeof args[k]);
        args[k].type = (uint32_t)pk_func_param_type(f, k);
        if (args[k].type == PK_T_STR)
          args[k].str.ptr = "";
      }
      pk_func_call(f, args, np, res, PK_MAX_RESULTS);
    }
    pk_plugin_close(p);
  }
  pk_host_destroy(h);
  return 0;
}
