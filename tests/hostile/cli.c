/*
 * cli.c: describe-only opens (pk_open_opts.describe_only, used by
 * `plugkit inspect`): no code of the plugin runs, and a hostile ELF
 * descriptor is refused, never followed out of the file.
 *
 * Arguments (a "-" for what this build lacks):
 *   0 cli_plugin.so   (its constructor and init create $PK_CLI_MARK.ctor
 *                      and $PK_CLI_MARK.init)
 *   1 cli_plugin.c    (the same, as a source plugin)
 *   2 cli_plugin_exe  (the same, an executable plugin with the serve loop)
 *   3 nodesc_exe      (an executable without a descriptor; creates
 *                      $PK_CLI_MARK.exe when run)
 *   4 fx_conformance.so  5 conformance.wasm  6 conformance.lua
 *   7 conformance.c      8 fx_proc_conformance (executable)
 *   9 hang_init.wasm  10 hang_init.lua  11 hang_chunk.lua
 *  12 conformance.py
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugkit_plugin.h"
#include "test.h"

static const char *arg_or_skip(int i) {
  const char *a = pkt_arg(i);
  if (strcmp(a, "-") == 0)
    pkt_skip("argument %d not built here", i);
  return a;
}

/* The process backend is what would run an executable or a script. */
static void need_process(void) {
  const char *const *b = pk_backends();
  while (*b != NULL && strcmp(*b, "process") != 0)
    b++;
  if (*b == NULL)
    pkt_skip("the process backend is not built: nothing here runs "
             "executables or scripts");
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static char mark_buf[1024];

/* Point the fixtures' marks at a fresh temp path; returns "<base><sfx>". */
static const char *mark(const char *sfx) {
  static char out[1100];
  if (mark_buf[0] == '\0') {
    snprintf(mark_buf, sizeof mark_buf, "%s", pkt_tmp("mark"));
    setenv("PK_CLI_MARK", mark_buf, 1);
  }
  snprintf(out, sizeof out, "%s%s", mark_buf, sfx);
  return out;
}

static int open_describe(pk_host *h, const char *path, pk_plugin **p) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.describe_only = 1;
  return pk_plugin_open(h, path, &o, p);
}

/* The describe-only open and the normal open of `path` report the same
   name, version, ABI and exports (same order, same signatures). */
static void same_as_normal_open(const char *path) {
  pk_host *h = test_host();
  pk_plugin *d = NULL, *n = NULL;
  pk_plugin_info di = PK_PLUGIN_INFO_INIT, ni = PK_PLUGIN_INFO_INIT;
  size_t i;
  PKT_RC(h, open_describe(h, path, &d), PK_OK);
  PKT_RC(h, pk_plugin_open(h, path, NULL, &n), PK_OK);
  PKT_RC(h, pk_plugin_info_get(d, &di), PK_OK);
  PKT_RC(h, pk_plugin_info_get(n, &ni), PK_OK);
  PKT_STR_EQ(di.name, ni.name);
  PKT_STR_EQ(di.version, ni.version);
  PKT_EQ_INT(di.abi_major, ni.abi_major);
  PKT_EQ_INT(di.abi_minor, ni.abi_minor);
  PKT_EQ_INT(di.nexports, ni.nexports);
  PKT_ASSERT(di.nexports > 0);
  for (i = 0; i < di.nexports; i++) {
    const char *dn, *ds, *nn, *ns;
    PKT_RC(h, pk_plugin_export(d, i, &dn, &ds), PK_OK);
    PKT_RC(h, pk_plugin_export(n, i, &nn, &ns), PK_OK);
    PKT_STR_EQ(dn, nn);
    PKT_STR_EQ(ds, ns);
  }
  pk_host_destroy(h);
}

/* ---- no plugin code runs ----------------------------------------------- */

/* A .so's constructor and init both create a file on a normal open (the
   second half proves the fixture would); describe-only creates none. */
PK_TEST(describe_native_runs_no_constructor_or_init) {
  const char *so = pkt_arg(0);
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char ctor[1100], init[1100];
  snprintf(ctor, sizeof ctor, "%s", mark(".ctor"));
  snprintf(init, sizeof init, "%s", mark(".init"));
  PKT_RC(h, open_describe(h, so, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "cli_plugin");
  PKT_STR_EQ(info.version, "2.1.0");
  PKT_STR_EQ(info.backend, "native");
  PKT_EQ_INT(info.nexports, 6);
  pk_plugin_close(p);
  PKT_ASSERT(!exists(ctor));
  PKT_ASSERT(!exists(init));
  PKT_RC(h, pk_plugin_open(h, so, NULL, &p), PK_OK);
  PKT_ASSERT(exists(ctor));
  PKT_ASSERT(exists(init));
  pk_host_destroy(h);
}

/* The same plugin as C source: compiled, no constructor, no init. */
PK_TEST(describe_source_runs_no_constructor_or_init) {
  const char *c = arg_or_skip(1);
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  char ctor[1100], init[1100];
  snprintf(ctor, sizeof ctor, "%s", mark(".ctor"));
  snprintf(init, sizeof init, "%s", mark(".init"));
  PKT_RC(h, open_describe(h, c, &p), PK_OK);
  pk_plugin_close(p);
  PKT_ASSERT(!exists(ctor));
  PKT_ASSERT(!exists(init));
  PKT_RC(h, pk_plugin_open(h, c, NULL, &p), PK_OK);
  PKT_ASSERT(exists(init));
  pk_host_destroy(h);
}

/* An executable plugin is described from its file: not started. */
PK_TEST(describe_executable_is_not_run) {
  const char *exe = arg_or_skip(2);
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char ctor[1100];
  snprintf(ctor, sizeof ctor, "%s", mark(".ctor"));
  PKT_RC(h, open_describe(h, exe, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "cli_plugin");
  PKT_EQ_INT(info.nexports, 6);
  pk_plugin_close(p);
  PKT_ASSERT(!exists(ctor));
  pk_host_destroy(h);
}

/* A stray executable (no descriptor) is refused and never run; a normal
   open would run it (the second half shows the mark it makes). */
PK_TEST(describe_executable_without_descriptor_refused) {
  const char *exe = arg_or_skip(3);
  need_process();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char ran[1100];
  snprintf(ran, sizeof ran, "%s", mark(".exe"));
  o.describe_only = 1;
  pkt_expect_open_error(exe, &o, PK_ENODESC, "open",
                        "no symbol 'pk_plugin_descriptor' in the file");
  PKT_ASSERT(!exists(ran));
  /* The same with the process backend forced. */
  o.backend = "process";
  pkt_expect_open_error(exe, &o, PK_ENODESC, "open", "it was not run");
  PKT_ASSERT(!exists(ran));
  o.describe_only = 0;
  o.backend = NULL;
  {
    pk_host *h = test_host();
    pk_plugin *p = NULL;
    PKT_ASSERT(pk_plugin_open(h, exe, &o, &p) < 0);
    pk_host_destroy(h);
  }
  PKT_ASSERT(exists(ran));
}

/* A describe-only plugin lists its exports, but calling one fails. */
PK_TEST(describe_call_fails_clearly) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_func *f = NULL;
  pk_val args[2] = {PK_I32(1), PK_I32(2)}, r;
  PKT_RC(h, open_describe(h, pkt_arg(0), &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_ASSERT(pk_func_raw(f) == NULL);
  PKT_RC(h, pk_func_call(f, args, 2, &r, 1), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "cli_plugin.so: call: 'sum' cannot be "
                                  "called: the plugin was opened "
                                  "describe-only");
  pk_host_destroy(h);
}

/* wasm: no constructor (_initialize), no start, no init: all three would
   spin forever here; the normal open runs them (fuel stops it). */
PK_TEST(describe_wasm_runs_no_init) {
  const char *w = arg_or_skip(9);
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_RC(h, open_describe(h, w, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "hang_init");
  PKT_EQ_INT(info.nexports, 1);
  pk_plugin_close(p);
  o.fuel = 100000;
  PKT_RC(h, pk_plugin_open(h, w, &o, &p), PK_ELIMIT);
  pk_host_destroy(h);
}

/* lua: the chunk makes the table (it runs, sandboxed); init does not. */
PK_TEST(describe_lua_runs_no_init) {
  const char *l = arg_or_skip(10);
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_RC(h, open_describe(h, l, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "hang_init");
  pk_plugin_close(p);
  o.fuel = 100000;
  PKT_RC(h, pk_plugin_open(h, l, &o, &p), PK_ELIMIT);
  pk_host_destroy(h);
}

/* lua: a chunk that never returns is stopped by the describe budget. */
PK_TEST(describe_lua_chunk_budget) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.describe_only = 1;
  pkt_expect_open_error(arg_or_skip(11), &o, PK_ELIMIT, "open",
                        "instruction budget");
}

/* A Python plugin says what it is only by running: refused. */
PK_TEST(describe_script_refused) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  need_process();
  o.describe_only = 1;
  o.backend = "process";
  pkt_expect_open_error(arg_or_skip(12), &o, PK_ENOSYS, "open",
                        "cannot be described without running it");
}

/* ---- the same answer as a normal open, per backend --------------------- */

PK_TEST(describe_matches_open_native) { same_as_normal_open(pkt_arg(4)); }
PK_TEST(describe_matches_open_wasm) { same_as_normal_open(arg_or_skip(5)); }
PK_TEST(describe_matches_open_lua) { same_as_normal_open(arg_or_skip(6)); }
PK_TEST(describe_matches_open_source) { same_as_normal_open(arg_or_skip(7)); }
PK_TEST(describe_matches_open_executable) {
  same_as_normal_open(arg_or_skip(8));
}

/* ---- hostile descriptors ------------------------------------------------ */

/* The offset of the descriptor in the .so (its magic, then ABI 1). */
static size_t desc_offset(const unsigned char *b, size_t n) {
  size_t i;
  for (i = 0; i + 8 <= n; i++)
    if (memcmp(b + i, "PKD1", 4) == 0 && b[i + 4] == PK_ABI_MAJOR &&
        b[i + 5] == 0)
      return i;
  pkt_fail(__FILE__, __LINE__, "no descriptor in the fixture");
  return 0;
}

static void put32(unsigned char *b, uint32_t v) { memcpy(b, &v, 4); }

/* A copy of cli_plugin.so with a 32-bit field of the descriptor set. */
static void expect_patched(size_t field, uint32_t value, int want,
                           const char *why) {
  size_t n;
  unsigned char *b = pkt_read_file(pkt_arg(0), &n);
  const char *path = pkt_tmp("patched.so");
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  put32(b + desc_offset(b, n) + field, value);
  pkt_write_file(path, b, n);
  free(b);
  o.describe_only = 1;
  pkt_expect_open_error(path, &o, want, "open", why);
}

PK_TEST(describe_elf_export_table_outside_file) {
  expect_patched(offsetof(pk_plugin_desc, export_size), 0x10000000u,
                 PK_EFORMAT, "the export table lies outside the file");
}

PK_TEST(describe_elf_export_count_outside_file) {
  expect_patched(offsetof(pk_plugin_desc, nexports), 60000u, PK_EFORMAT,
                 "the export table lies outside the file");
}

PK_TEST(describe_elf_export_count_over_cap) {
  expect_patched(offsetof(pk_plugin_desc, nexports), 0xffffffffu, PK_ELIMIT,
                 "exports declared");
}

PK_TEST(describe_elf_hook_table_outside_file) {
  expect_patched(offsetof(pk_plugin_desc, nhooks), 0xffffffffu, PK_EFORMAT,
                 "the hook table lies outside the file");
}

PK_TEST(describe_elf_bad_magic) {
  expect_patched(offsetof(pk_plugin_desc, magic), 0x12345678u, PK_ENODESC,
                 "descriptor magic is 0x12345678");
}

/* Cut right after the descriptor's head: the section headers (at the
   end of the file) and the descriptor's pointers are gone. */
PK_TEST(describe_elf_truncated) {
  size_t n;
  unsigned char *b = pkt_read_file(pkt_arg(0), &n);
  const char *path = pkt_tmp("cut.so");
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pkt_write_file(path, b, desc_offset(b, n) + 16);
  free(b);
  o.describe_only = 1;
  o.backend = "native";
  pkt_expect_open_error(path, &o, PK_EFORMAT, "open", "");
}

/* Bytes of the file inverted one at a time: each open succeeds or fails
   with a code, never reads outside the file (the sanitizers watch) and
   never leaks (the test host counts). Every byte of what the reader uses
   (the first 4 KiB: ELF and program headers, .dynsym, .dynstr,
   .rela.dyn; 1 KiB around the descriptor; the last 6 KiB: .symtab,
   .strtab, section headers), every 16th elsewhere (code, debug info). */
PK_TEST(describe_elf_every_byte_flipped) {
  size_t n, i, d;
  unsigned char *b = pkt_read_file(pkt_arg(0), &n);
  const char *path = pkt_tmp("flip.so");
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host *h = test_host();
  int ok = 0, failed = 0, fd;
  o.describe_only = 1;
  o.backend = "native";
  pkt_write_file(path, b, n);
  /* One byte rewritten in place per case: rewriting the whole file each
     time is slow on some file systems. */
  PKT_ASSERT((fd = open(path, O_RDWR)) >= 0);
  d = desc_offset(b, n);
  for (i = 0; i < n; i++) {
    pk_plugin *p = NULL;
    unsigned char x = (unsigned char)(b[i] ^ 0xff);
    int rc;
    if (i >= 4096 && i + 6144 < n && (i + 512 < d || i > d + 512) &&
        i % 16 != 0)
      continue;
    PKT_ASSERT(pwrite(fd, &x, 1, (off_t)i) == 1);
    rc = pk_plugin_open(h, path, &o, &p);
    PKT_ASSERT(pwrite(fd, &b[i], 1, (off_t)i) == 1);
    if (rc == PK_OK) {
      ok++;
      pk_plugin_close(p);
    } else {
      PKT_ASSERT(rc < 0 && p == NULL);
      failed++;
    }
  }
  close(fd);
  free(b);
  PKT_ASSERT(ok > 0 && failed > 0);
  pk_host_destroy(h);
}
