/*
 * hello_plugin.c: a plugin. Build it as a shared object:
 *   cc -shared -fPIC -I include -o hello_plugin.so examples/hello_plugin.c
 * It never links against libplugkit: the host hands it what it needs.
 */
#include <plugkit_plugin.h>

/* A plain typed function: exported as "(i32,i32)->i32". */
static int32_t sum(int32_t a, int32_t b) { return a + b; }

/* A function taking the context: it allocates its result through it. */
static pk_str greet(pk_ctx *c, pk_str name) {
  pk_str greeting;
  if (pk_config(c, "greeting", &greeting) != 0)
    greeting = PK_STR_LIT("hello");
  return pk_str_printf(c, "%.*s, %.*s", PK_STR_FMT(greeting),
                       PK_STR_FMT(name));
}

/* Calls the host function "now_ms", if the host granted it. */
static int64_t uptime(pk_ctx *c) {
  pk_val out;
  int32_t now;
  if (pk_host_find(c, "now_ms", "()->i64", &now) != 0 ||
      pk_host_call(c, now, NULL, 0, &out, 1) != 0) {
    pk_fail(c, "the host did not grant now_ms");
    return 0;
  }
  return out.i64;
}

static int init(pk_ctx *c) {
  pk_log(c, PK_LOG_INFO, "hello plugin loaded");
  return 0;
}

PK_PLUGIN("hello", "1.0.0",
          PK_EXPORT(sum, i32, (i32, i32)),
          PK_EXPORT_CTX(greet, str, (str)),
          PK_EXPORT_CTX(uptime, i64, (void)),
          PK_INIT(init));
