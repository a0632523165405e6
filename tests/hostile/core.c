/*
 * core.c: the hostile suite's core cases (and the native and source
 * backends'). Arguments: the build folder of the core fixtures (generated
 * ELF files, fixture plugins), then the source folder of them.
 *
 * Malformed ELF headers (BUG 8): the probe (pk__elf_executable, on every
 * open without opts.backend) and the native backend's checks used to read
 * program header fields past the head buffer (e_phentsize below an
 * entry's size) or before it (e_phoff + n * e_phentsize wrapping). Under
 * the sanitizers those were stack-buffer-overflows; here each file must
 * also get the error that names the bad field.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char path_buf[1024];

static const char *fx(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", pkt_arg(0), name);
  return path_buf;
}

static int built(const char *backend) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, backend) == 0)
      return 1;
  return 0;
}

/* e_phentsize = 1: the native checks refuse the header; nothing reads
   past the 4 KiB head (the entries' fields used to). */
PK_TEST(elf_phentsize_too_small) {
  pkt_expect_open_error(fx("elf_phent1.so"), NULL, PK_EFORMAT, "open",
                        "program header entries of 1 bytes, 64-bit ELF "
                        "needs at least 56");
}

/* The same, with bytes the probe used to take for a PT_INTERP entry (the
   1-byte entries overlap): it is not an executable, so the native
   backend gets it, not the process backend. */
PK_TEST(elf_probe_overlapping_entries) {
  pkt_expect_open_error(fx("elf_phent1_interp.so"), NULL, PK_EFORMAT,
                        "open", "program header entries of 1 bytes");
}

/* e_phoff = 2^64 - 32: the sum wrapped to 32 and entry 0 was read from
   32 bytes before the head buffer. */
PK_TEST(elf_phoff_wraps) {
  pkt_expect_open_error(fx("elf_phoff_wrap.so"), NULL, PK_EFORMAT, "open",
                        "program headers (2 of 56 bytes) at offset "
                        "18446744073709551584 do not fit");
}

/* A PT_LOAD whose p_offset + p_filesz wraps into the file. */
PK_TEST(elf_segment_wraps) {
  pkt_expect_open_error(fx("elf_load_wrap.so"), NULL, PK_EFORMAT, "open",
                        "a loadable segment of 8192 bytes at offset "
                        "18446744073709547520 does not fit");
}

/* A 32-bit header with e_phentsize = 1: the probe walks it whatever the
   host's class (past its 512-byte head, before the fix); the native
   backend then names the class. */
PK_TEST(elf32_probe_phentsize_too_small) {
  pkt_expect_open_error(fx("elf32_phent1.so"), NULL,
                        sizeof(void *) == 8 ? PK_EARCH : PK_EFORMAT, "open",
                        sizeof(void *) == 8 ? "32-bit ELF file"
                                            : "program header entries");
}

/* ---- export lists (BUG 10) -------------------------------------------- */

/* One more than the cap: refused before the host allocates the exports
   (65537 of them would take about 19 MB). */
PK_TEST(exports_over_cap) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  size_t before = pkt_bytes;
  PKT_RC(h, pk_plugin_open(h, fx("pkh_exports_over.so"), NULL, &p),
         PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(h), "65537 exports declared, more than the "
                                  "65536 a plugin may have");
  PKT_ASSERT(pkt_bytes - before < 1024 * 1024);
  pk_host_destroy(h);
}

/* At the cap: opens; lookups find the first, the last and no other. */
PK_TEST(exports_at_cap) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_val r;
  PKT_RC(h, pk_plugin_open(h, fx("pkh_exports_cap.so"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_EQ_INT(info.nexports, 65536);
  PKT_RC(h, pk_plugin_func(p, "f0", "()->i32", &f), PK_OK);
  PKT_STR_EQ(pk_func_name(f), "f0");
  PKT_RC(h, pk_plugin_func(p, "f65535", NULL, &f), PK_OK);
  PKT_STR_EQ(pk_func_name(f), "f65535");
  PKT_RC(h, pk_plugin_func(p, "f40000", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &r, 1), PK_OK);
  PKT_EQ_INT(r.i32, 1);
  PKT_RC(h, pk_plugin_func(p, "f65536", NULL, &f), PK_ENOSYM);
  PKT_RC(h, pk_plugin_func(p, "f", NULL, &f), PK_ENOSYM);
  PKT_RC(h, pk_plugin_func(p, "f0", "()->i64", &f), PK_ESIG);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* A name declared twice, the second time as the very last export: found
   (by sorting once all are named), and both places named. */
PK_TEST(exports_duplicate_last) {
  pkt_expect_open_error(fx("pkh_exports_dup.so"), NULL, PK_EFORMAT, "open",
                        "export 'f7' is declared twice (exports #7 and "
                        "#65535)");
}

/* ---- log levels ------------------------------------------------------- */

/* A native plugin calls the log entry of the host table with any int:
   the sink gets a level in PK_LOG_ERROR..PK_LOG_DEBUG. */
PK_TEST(log_level_clamped_native) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_val a = {PK_T_I32, {0}};
  PKT_RC(h, pk_plugin_open(h, fx("pkh_log_level.so"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "say", "(i32)->()", &f), PK_OK);
  pkt_log_buf[0] = '\0';
  a.i32 = 99;
  PKT_RC(h, pk_func_call(f, &a, 1, NULL, 0), PK_OK);
  a.i32 = -5;
  PKT_RC(h, pk_func_call(f, &a, 1, NULL, 0), PK_OK);
  a.i32 = INT32_MIN;
  PKT_RC(h, pk_func_call(f, &a, 1, NULL, 0), PK_OK);
  a.i32 = PK_LOG_WARN;
  PKT_RC(h, pk_func_call(f, &a, 1, NULL, 0), PK_OK);
  PKT_STR_EQ(pkt_log_buf, "[3 log_level] x\n[0 log_level] x\n"
                          "[0 log_level] x\n[1 log_level] x\n");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* ---- files that are not plugin files (the CLI hangs) -------------------- */

/* A FIFO: opening it for reading used to wait for a writer for ever (the
   probe's open); now refused without opening. */
PK_TEST(open_fifo_refused) {
  const char *fifo = pkt_tmp("plugin.fifo");
  unlink(fifo); /* a temp folder left by an earlier run of this pid */
  PKT_EQ_INT(mkfifo(fifo, 0600), 0);
  pkt_expect_open_error(fifo, NULL, PK_EFORMAT, "open",
                        "not a regular file or a directory");
  unlink(fifo);
}

/* The same for each backend named explicitly (skipping the probe's
   choice): no backend reads it. */
PK_TEST(open_fifo_refused_every_backend) {
  const char *fifo = pkt_tmp("plugin.fifo");
  const char *const *b;
  unlink(fifo);
  PKT_EQ_INT(mkfifo(fifo, 0600), 0);
  for (b = pk_backends(); *b != NULL; b++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    o.backend = *b;
    pkt_expect_open_error(fifo, &o, PK_EFORMAT, "open",
                          "not a regular file or a directory");
  }
  unlink(fifo);
}

/* /dev/zero never ends: the wasm backend used to read it until memory
   ran out. Every backend refuses a device. */
PK_TEST(open_device_refused_every_backend) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    o.backend = *b;
    pkt_expect_open_error("/dev/zero", &o, PK_EFORMAT, "open",
                          "not a regular file or a directory");
  }
  pkt_expect_open_error("/dev/zero", NULL, PK_EFORMAT, "open",
                        "not a regular file or a directory");
}

/* Make a sparse file of `size` bytes (no disk used) at a temp path. */
static const char *sparse(const char *name, off_t size) {
  const char *t = pkt_tmp(name);
  int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  PKT_ASSERT(fd >= 0);
  PKT_EQ_INT(ftruncate(fd, size), 0);
  close(fd);
  return t;
}

/* A file above the 256 MiB a backend reads whole: refused by its size,
   before anything is read or allocated (the wasm backend used to read
   it all, the Lua and source backends hand it to their compilers). */
PK_TEST(open_huge_file_refused) {
  static const char *const names[][2] = {
      {"wasm", "huge.wasm"}, {"lua", "huge.lua"}, {"source", "huge.c"}};
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    const char *t;
    if (!built(names[i][0]))
      continue;
    t = sparse(names[i][1], ((off_t)256 << 20) + 1);
    o.backend = names[i][0];
    pkt_expect_open_error(t, &o, PK_ELIMIT, "open",
                          "the file is 268435457 bytes, more than the "
                          "268435456 a plugin file may have");
    unlink(t);
  }
}

/* A directory plugin of the source backend holding a FIFO named x.c:
   refused by name, never opened. */
PK_TEST(source_dir_with_fifo_refused) {
  char dir[512], file[600];
  if (!built("source"))
    return;
  snprintf(dir, sizeof dir, "%s", pkt_tmp("srcdir"));
  snprintf(file, sizeof file, "%s/a.c", dir);
  unlink(file);
  rmdir(dir);
  PKT_EQ_INT(mkdir(dir, 0700), 0);
  PKT_EQ_INT(mkfifo(file, 0600), 0);
  pkt_expect_open_error(dir, NULL, PK_EFORMAT, "open",
                        "a.c: not a regular file or a directory");
  unlink(file);
  rmdir(dir);
}

/* ---- the source backend's compiler (BUG 19) ------------------------------ */

static char src_path[1024];

static const char *src_fx(const char *name) {
  snprintf(src_path, sizeof src_path, "%s/%s", pkt_arg(1), name);
  return src_path;
}

/* Failed compiles leave nothing behind: libtcc's error paths used to leak
   65 bytes to 2 KiB per open, which a host reopening a plugin while its
   author edits it piles up. Counted with the C library's heap statistics
   (libtcc allocates with malloc, not through the host); under the
   sanitizers, LeakSanitizer checks the same at exit. */
PK_TEST(source_failed_compiles_leak_nothing) {
  struct mallinfo2 before, after;
  const char *path;
  int i;
  if (!built("source"))
    return;
  path = src_fx("source_tcc_leak.c");
  /* libtcc's and the C library's first-use state, and the thread's
     message buffers (one per host, for the last 8 hosts: each open here
     makes a host) */
  for (i = 0; i < 10; i++)
    pkt_expect_open_error(path, NULL, PK_EFORMAT, "open", "compile failed");
  before = mallinfo2();
  for (i = 0; i < 300; i++)
    pkt_expect_open_error(path, NULL, PK_EFORMAT, "open", "compile failed");
  after = mallinfo2();
  /* 300 leaks of 65 bytes would be 19500; a few bytes of slack for the
     C library's own bookkeeping. */
  if (after.uordblks > before.uordblks + 1024)
    pkt_fail(__FILE__, __LINE__, "heap in use grew by %zu bytes over 300 "
             "failed compiles", after.uordblks - before.uordblks);
}

/* ---- plugin text in host messages ---------------------------------------- */

/* A native plugin's fail message is copied into pk_host_errmsg: a newline
   in it (here from the config key the fixture names) made a two-line
   message, a log line the plugin wrote for the host. Control characters
   are escapes now; the host's own part of the message is unchanged. */
PK_TEST(fail_message_one_line) {
  char want[1200];
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_func *f = NULL;
  pk_val in, out;
  PKT_RC(h, pk_plugin_open(h, PKH_CONFORMANCE, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "config", NULL, &f), PK_OK);
  in.type = PK_T_STR;
  in.str.ptr = "a\nINFO forged\r\t\033[2J\177";
  in.str.len = strlen(in.str.ptr);
  PKT_RC(h, pk_func_call(f, &in, 1, &out, 1), PK_EPLUGIN);
  snprintf(want, sizeof want,
           "%s: call 'config': no config key "
           "'a\\nINFO forged\\r\\t\\x1b[2J\\x7f'",
           PKH_CONFORMANCE);
  PKT_STR_EQ(pk_host_errmsg(h), want);
  pk_plugin_close(p);
  pk_host_destroy(h);
}
