/*
 * hello_host.c: a host program. Usage: example_host PLUGIN
 * (build/examples/hello_plugin.so, or any plugin with the same exports).
 */
#include <stdio.h>
#include <time.h>

#include <plugkit.h>

static void log_sink(void *ud, int level, const char *plugin, const char *msg,
                     size_t len) {
  (void)ud;
  fprintf(stderr, "[%s:%d] %.*s\n", plugin, level, (int)len, msg);
}

/* A host function: "()->i64", milliseconds of process CPU time. */
static int now_ms(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  (void)args;
  results[0].i64 = (int64_t)(clock() * 1000.0 / CLOCKS_PER_SEC);
  return PK_OK;
}

int main(int argc, char **argv) {
  static const char *const config[] = {"greeting", "howdy", NULL};
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host *host;
  pk_plugin *p;
  pk_func *sum, *greet, *uptime;
  pk_val in[2] = {PK_I32(5), PK_I32(37)}, out;
  int rc;

  if (argc != 2) {
    fprintf(stderr, "usage: %s PLUGIN\n", argv[0]);
    return 2;
  }
  ho.log = log_sink;
  if (pk_host_create(&ho, &host) < 0)
    return 1;
  pk_host_define(host, "now_ms", "()->i64", now_ms, NULL);
  o.grants = "now_ms";
  o.config = config;
  if ((rc = pk_plugin_open(host, argv[1], &o, &p)) < 0 ||
      (rc = pk_plugin_func(p, "sum", "(i32,i32)->i32", &sum)) < 0 ||
      (rc = pk_plugin_func(p, "greet", "(str)->str", &greet)) < 0 ||
      (rc = pk_plugin_func(p, "uptime", "()->i64", &uptime)) < 0 ||
      (rc = pk_func_call(sum, in, 2, &out, 1)) < 0)
    goto fail;
  printf("sum(5, 37) = %d\n", out.i32);
  in[0] = PK_STR("world", 5);
  if ((rc = pk_func_call(greet, in, 1, &out, 1)) < 0)
    goto fail;
  printf("greet(\"world\") = \"%.*s\"\n", PK_STR_FMT(out.str));
  if ((rc = pk_func_call(uptime, NULL, 0, &out, 1)) < 0)
    goto fail;
  printf("uptime() = %lld ms of CPU\n", (long long)out.i64);
  pk_host_destroy(host); /* closes the plugin */
  return 0;
fail:
  fprintf(stderr, "%s (%s)\n", pk_host_errmsg(host), pk_errname(rc));
  pk_host_destroy(host);
  return 1;
}
