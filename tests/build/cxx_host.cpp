// A C++ host: plugkit.h and the value constructors compile as C++11 and
// later with -Wall -Wextra -Wpedantic -Werror (tests/build/CMakeLists.txt).
#include <plugkit.h>

#include <cstdio>

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0] = PK_I32(args[0].i32 * 3);
  return PK_OK;
}

int main(int argc, char **argv) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_open_opts oo = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_host *host = NULL;
  pk_plugin *plug = NULL;
  pk_func *f = NULL;
  pk_val args[2] = {PK_I32(40), PK_I32(2)}, res[1];
  pk_val more[4] = {PK_I64(1), PK_F32(1.5f), PK_F64(2.5),
                    PK_STR("abc", 3)};
  (void)more;
  if (argc < 2 || pk_host_create(&ho, &host) != PK_OK)
    return 2;
  if (pk_host_define(host, "triple", "(i32)->i32", triple, NULL) != PK_OK ||
      pk_plugin_open(host, argv[1], &oo, &plug) != PK_OK ||
      pk_plugin_info_get(plug, &info) != PK_OK ||
      pk_plugin_func(plug, "sum", "(i32,i32)->i32", &f) != PK_OK ||
      pk_func_call(f, args, 2, res, 1) != PK_OK) {
    std::fprintf(stderr, "%s\n", pk_host_errmsg(host));
    return 1;
  }
  std::printf("%s %s: sum = %d\n", info.name, info.backend, (int)res[0].i32);
  pk_plugin_close(plug);
  pk_host_destroy(host);
  return 0;
}
