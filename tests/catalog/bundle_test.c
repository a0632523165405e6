/*
 * bundle_test.c: one-file bundles (.pkb): the strict tar reader against
 * hostile archives (each refused with its code and a message naming the
 * file, the phase and the cause), and pk_bundle_pack.
 */
#include "test.h"
#include "bundle_tar.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char man[] = "[plugin]\nname = demo\nversion = 1.0.0\n";

/* Write t to NAME.pkb in the test's folder and expect the open to fail
   with `want`, the message containing `why`. */
static void expect(tarbuf *t, int want, const char *why) {
  const char *path = pkt_tmp("hostile.pkb");
  pkt_write_file(path, t->b, t->n);
  pkt_expect_open_error(path, NULL, want, "bundle", why);
}

PK_TEST(dotdot_refused) {
  static tarbuf t;
  struct stat st;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "../escaped.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member '../escaped.so' has a '..' component");
  /* Nothing was written beside the test's folder. */
  PKT_ASSERT(stat(pkt_tmp("../escaped.so"), &st) != 0);
}

PK_TEST(absolute_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "/tmp/evil.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member '/tmp/evil.so' has an absolute path");
}

PK_TEST(folder_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "lib/x.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'lib/x.so' is in a folder");
}

PK_TEST(prefix_dotdot_refused) {
  /* ustar's prefix field joins the name: ../ hidden there is caught. */
  static tarbuf t;
  size_t at;
  tar_file(&t, "demo.plugkit", man);
  at = tar_add(&t, "x.so", '0', NULL, "x", 1, 1);
  memcpy(t.b + at + 345, "..", 2);
  tar_sum(&t, at);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member '../x.so' has a '..' component");
}

PK_TEST(full_prefix_and_name_refused) {
  /* Both fields full, neither NUL-terminated: 155 + '/' + 100 bytes and
     the NUL after them. The reader joins them without writing past its
     buffer (ASan saw a stack-buffer-overflow here), then refuses the
     folder. */
  static tarbuf t;
  char name[101];
  size_t at;
  memset(name, 'n', 100);
  name[100] = '\0';
  tar_file(&t, "demo.plugkit", man);
  at = tar_add(&t, name, '0', NULL, "x", 1, 1);
  memset(t.b + at + 345, 'p', 155);
  tar_sum(&t, at);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "nnnnnnnnnn' is in a folder");
}

PK_TEST(symlink_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "x.so", '2', "/etc/passwd", NULL, 0, 0);
  tar_end(&t);
  expect(&t, PK_EFORMAT,
         "member 'x.so' is a symbolic link (to '/etc/passwd')");
}

PK_TEST(hardlink_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "x.so", '1', "demo.plugkit", NULL, 0, 0);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'x.so' is a hard link (to 'demo.plugkit')");
}

PK_TEST(directory_refused) {
  static tarbuf t;
  tar_add(&t, "sub", '5', NULL, NULL, 0, 0);
  tar_file(&t, "demo.plugkit", man);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'sub' is a directory (type '5')");
}

PK_TEST(device_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "zero", '3', NULL, NULL, 0, 0);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'zero' is a character device");
}

PK_TEST(fifo_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "pipe", '6', NULL, NULL, 0, 0);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'pipe' is a FIFO");
}

PK_TEST(pax_header_refused) {
  /* A pax header could rename the next member (path=../x): never read. */
  static tarbuf t;
  static const char pax[] = "20 path=../evil.so\n";
  tar_add(&t, "PaxHeader", 'x', NULL, pax, sizeof pax - 1, sizeof pax - 1);
  tar_file(&t, "x.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'PaxHeader' is a pax extended header");
}

PK_TEST(size_claim_refused) {
  /* 8 GiB - 1 claimed in a 2 KiB file: refused before any allocation. */
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "big.so", '0', NULL, "x", 1, 077777777777ull);
  tar_end(&t);
  expect(&t, PK_ELIMIT, "member 'big.so' claims 8589934591 bytes, more "
                        "than the 67108864 a bundle member may have");
}

PK_TEST(base256_size_refused) {
  static tarbuf t;
  size_t at;
  tar_file(&t, "demo.plugkit", man);
  at = tar_add(&t, "big.so", '0', NULL, "x", 1, 1);
  memset(t.b + at + 124, 0xff, 12); /* GNU base-256: 2^95-ish */
  tar_sum(&t, at);
  tar_end(&t);
  expect(&t, PK_ELIMIT, "member 'big.so' has a size field that is not a "
                        "plain octal number");
}

PK_TEST(truncated_member_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_add(&t, "x.so", '0', NULL, "x", 1, 4096); /* 1 block of 8 there */
  expect(&t, PK_EFORMAT, "truncated: member 'x.so' claims 4096 bytes");
}

PK_TEST(truncated_end_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "x.so", "x");
  t.n -= 100; /* the last data block cut short, no end blocks */
  expect(&t, PK_EFORMAT, "truncated: the archive ends at byte");
}

PK_TEST(too_many_members_refused) {
  static tarbuf t;
  char name[32];
  int i;
  tar_file(&t, "demo.plugkit", man);
  for (i = 0; i < 64; i++) {
    snprintf(name, sizeof name, "m%d", i);
    tar_add(&t, name, '0', NULL, NULL, 0, 0);
  }
  tar_end(&t);
  expect(&t, PK_ELIMIT, "more than 64 members");
}

PK_TEST(duplicate_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "x.so", "a");
  tar_file(&t, "x.so", "b");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'x.so' appears twice (members #2 and #3)");
}

PK_TEST(bad_checksum_refused) {
  static tarbuf t;
  size_t at;
  tar_file(&t, "demo.plugkit", man);
  at = tar_add(&t, "x.so", '0', NULL, "x", 1, 1);
  t.b[at + 1] ^= 1; /* one bit of the name flipped after the sum */
  tar_end(&t);
  expect(&t, PK_EFORMAT, "bad checksum");
}

PK_TEST(no_manifest_refused) {
  static tarbuf t;
  tar_file(&t, "x.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "without a NAME.plugkit manifest");
}

PK_TEST(two_manifests_refused) {
  static tarbuf t;
  tar_file(&t, "a.plugkit", man);
  tar_file(&t, "b.plugkit", man);
  tar_end(&t);
  expect(&t, PK_EFORMAT, "two manifests, 'a.plugkit' and 'b.plugkit'");
}

PK_TEST(odd_name_refused) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit", man);
  tar_file(&t, "x\n.so", "x");
  tar_end(&t);
  expect(&t, PK_EFORMAT, "member 'x\\x0a.so' has a character other than");
}

/* ---- pk_bundle_pack ---------------------------------------------------- */

static const char packman[] =
    "[plugin]\nname = demo\nversion = 1.0.0\n"
    "[artifact wasm]\npath = a.wasm\nsha256 = "
    "cd5d4935a48c0672cb06407bb443bc0087aff947c6b864bac886982c73b3027f\n"
    "[artifact lua]\npath = b.lua\nsha256 = "
    "7df8f0cd9e1cd0b204a760783671c0ccca4a3258dc7c51f59e9e2295c6c25315\n";

static void make_dir(const char *name) {
  PKT_ASSERT(mkdir(pkt_tmp(name), 0755) == 0);
}

PK_TEST(pack_tar_lists_it) {
  pk_host *h = test_host();
  char cmd[2048], line[256], got[512] = "";
  FILE *f;
  make_dir("src");
  /* sha256 of "return {}" and of "\0asm", by sha256sum. */
  pkt_write_file(pkt_tmp("src/demo.plugkit"), packman, strlen(packman));
  pkt_write_file(pkt_tmp("src/b.lua"), "return {}", 9);
  pkt_write_file(pkt_tmp("src/a.wasm"), "\0asm", 4);
  pkt_write_file(pkt_tmp("src/notes.txt"), "left out", 8);
  pkt_write_file(pkt_tmp("src/.plugkit-cache"), "junk", 4);
  {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
    PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("demo.pkb")), PK_OK);
  }
  if (system("tar --version >/dev/null 2>&1") != 0) {
    pk_host_destroy(h);
    pkt_skip("no tar program to list the bundle with");
  }
  snprintf(cmd, sizeof cmd, "tar tf '%s'", pkt_tmp("demo.pkb"));
  PKT_ASSERT((f = popen(cmd, "r")) != NULL);
  while (fgets(line, sizeof line, f) != NULL)
    strncat(got, line, sizeof got - strlen(got) - 1);
  PKT_EQ_INT(pclose(f), 0);
  /* The manifest first, the rest sorted, hidden files left out. */
  PKT_STR_EQ(got, "demo.plugkit\na.wasm\nb.lua\n");
  pk_host_destroy(h);
}

PK_TEST(pack_symlink_refused) {
  pk_host *h = test_host();
  char dir[1024];
  make_dir("src");
  pkt_write_file(pkt_tmp("src/demo.plugkit"), man, sizeof man - 1);
  PKT_ASSERT(symlink("/etc/passwd", pkt_tmp("src/x.so")) == 0);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("demo.pkb")), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "'x.so' is a symbolic link");
  PKT_CONTAINS(pk_host_errmsg(h), ": pack: ");
  pk_host_destroy(h);
}

PK_TEST(pack_no_manifest_refused) {
  pk_host *h = test_host();
  char dir[1024];
  make_dir("src");
  pkt_write_file(pkt_tmp("src/x.so"), "x", 1);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("demo.pkb")), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(h), "no NAME.plugkit manifest");
  pk_host_destroy(h);
}

/* A name a tar header cannot hold (over 100 bytes; ustar's prefix field
   is for folders, and a bundle is flat) is refused, not cut short into a
   member the reader would not find, or would take for a second
   manifest. */
PK_TEST(pack_long_name_refused) {
  pk_host *h = test_host();
  char dir[1024], name[160], text[1024], path[256];
  memset(name, 'a', 110);
  memcpy(name + 110, ".wasm", 6);
  make_dir("src");
  snprintf(text, sizeof text,
           "[plugin]\nname = demo\nversion = 1.0.0\n[artifact wasm]\n"
           "path = %s\nsha256 = "
           "cd5d4935a48c0672cb06407bb443bc0087aff947c6b864bac886982c73b3027f\n",
           name);
  pkt_write_file(pkt_tmp("src/demo.plugkit"), text, strlen(text));
  snprintf(path, sizeof path, "src/%s", name);
  pkt_write_file(pkt_tmp(path), "\0asm", 4);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("demo.pkb")), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), ": pack: ");
  PKT_CONTAINS(pk_host_errmsg(h), "aaaa.wasm' has a name of 115 bytes, more "
                                  "than the 100 a bundle member may have");
  pk_host_destroy(h);
}

/* ---- opening a bundle ------------------------------------------------ */

#if defined(__x86_64__)
#define TARGET "x86_64-linux"
#elif defined(__aarch64__)
#define TARGET "aarch64-linux"
#else
#define TARGET "unknown-target"
#endif

/* The SHA-256 of a file by sha256sum (coreutils), not by the library
   under test; skips the test without it. */
static void sha256_of(const char *path, char out[65]) {
  char cmd[2048];
  FILE *f;
  snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
  if ((f = popen(cmd, "r")) == NULL || fread(out, 1, 64, f) != 64) {
    if (f != NULL)
      pclose(f);
    pkt_skip("no sha256sum to hash the fixture with");
  }
  out[64] = '\0';
  pclose(f);
}

/* A folder "src" with conformance.so and a manifest pinning it (or a
   wrong hash when `bad`), packed into demo.pkb; returns its path. */
static const char *make_bundle(int bad) {
  static char pkb[1024];
  char so[1024], hash[65], text[1024], dir[1024];
  size_t n;
  unsigned char *d;
  pk_host *h = test_host();
  snprintf(so, sizeof so, "%s/fx_conformance.so", pkt_arg(0));
  make_dir("src");
  d = pkt_read_file(so, &n);
  pkt_write_file(pkt_tmp("src/conformance.so"), d, n);
  free(d);
  sha256_of(pkt_tmp("src/conformance.so"), hash);
  if (bad)
    hash[0] = hash[0] == '0' ? '1' : '0';
  snprintf(text, sizeof text,
           "[plugin]\nname = conformance\nversion = 1.0.0\n"
           "[artifact native " TARGET "]\npath = conformance.so\n"
           "sha256 = %s\n",
           hash);
  pkt_write_file(pkt_tmp("src/conformance.plugkit"), text, strlen(text));
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("demo.pkb"));
  if (bad) {
    /* pk_bundle_pack refuses it; build it by hand, as an attacker would. */
    static tarbuf t;
    d = pkt_read_file(pkt_tmp("src/conformance.so"), &n);
    PKT_ASSERT(n + 4096 < sizeof t.b);
    tar_file(&t, "conformance.plugkit", text);
    tar_add(&t, "conformance.so", '0', NULL, d, n, n);
    tar_end(&t);
    free(d);
    pkt_write_file(pkb, t.b, t.n);
  } else {
    PKT_RC(h, pk_bundle_pack(h, dir, pkb), PK_OK);
  }
  pk_host_destroy(h);
  return pkb;
}

PK_TEST(open_native_from_bundle) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  char want[1100];
  const char *pkb = make_bundle(0);
  PKT_RC(h, pk_plugin_open(h, pkb, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "conformance");
  PKT_STR_EQ(info.backend, "native");
  PKT_STR_EQ(info.path, pkb);
  snprintf(want, sizeof want, "%s!conformance.so", pkb);
  PKT_STR_EQ(info.artifact, want);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(open_hash_mismatch) {
  const char *pkb = make_bundle(1);
  pkt_expect_open_error(pkb, NULL, PK_EHASH, "hash",
                        "artifact conformance.so [native " TARGET
                        "] does not match its manifest: sha256 expected ");
}

PK_TEST(open_sandboxed_never_native) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *pkb = make_bundle(0);
  o.artifacts = PK_ARTIFACTS_SANDBOXED;
  pkt_expect_open_error(pkb, &o, PK_EARCH, "", "native");
}

PK_TEST(open_artifact_not_in_bundle) {
  static tarbuf t;
  tar_file(&t, "demo.plugkit",
           "[plugin]\nname = demo\nversion = 1.0.0\n[artifact native " TARGET
           "]\npath = gone.so\nsha256 = "
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
           "\n");
  tar_end(&t);
  expect(&t, PK_ENOENT, "artifact gone.so [native] of the manifest is not "
                        "in the bundle");
}

PK_TEST(open_bad_manifest_names_member) {
  static tarbuf t;
  const char *path = pkt_tmp("hostile.pkb");
  tar_file(&t, "demo.plugkit", "[plugin]\nname = demo\ncolour = blue\n");
  tar_end(&t);
  pkt_write_file(path, t.b, t.n);
  pkt_expect_open_error(path, NULL, PK_EFORMAT, "manifest",
                        "hostile.pkb!demo.plugkit:3: manifest: unknown key "
                        "'colour'");
}

PK_TEST(pack_hash_mismatch_refused) {
  pk_host *h = test_host();
  char dir[1024];
  make_dir("src");
  pkt_write_file(pkt_tmp("src/a.wasm"), "\0asm", 4);
  static const char bad[] =
      "[plugin]\nname = demo\nversion = 1.0.0\n[artifact wasm]\n"
      "path = a.wasm\nsha256 = "
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
  pkt_write_file(pkt_tmp("src/demo.plugkit"), bad, sizeof bad - 1);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("demo.pkb")), PK_EHASH);
  PKT_CONTAINS(pk_host_errmsg(h), "artifact a.wasm [wasm] does not match");
  pk_host_destroy(h);
}

/* A bundle made by hand at `out`: the manifest pinning `art` (n bytes)
   as conformance.so (with a wrong hash when `bad`), then a member of
   `pad` bytes the manifest does not name (none when 0), then the
   artifact. The pad puts the artifact beyond what the reader reads in
   its first go (PK__BUNDLE_HEAD, 64 KiB), so it is read in chunks. */
static void hand_bundle(const char *out, size_t pad, const void *art,
                        size_t n, int bad) {
  static tarbuf t;
  static unsigned char zeros[80000];
  char hash[65], text[1024];
  const char *f = pkt_tmp("artifact.bin");
  pkt_write_file(f, art, n);
  sha256_of(f, hash);
  if (bad)
    hash[63] = hash[63] == '0' ? '1' : '0';
  snprintf(text, sizeof text,
           "[plugin]\nname = conformance\nversion = 1.0.0\n"
           "[artifact native " TARGET "]\npath = conformance.so\n"
           "sha256 = %s\n",
           hash);
  PKT_ASSERT(pad <= sizeof zeros && n + pad + 8192 < sizeof t.b);
  t.n = 0;
  tar_file(&t, "conformance.plugkit", text);
  if (pad > 0)
    tar_add(&t, "pad.bin", '0', NULL, zeros, pad, pad);
  tar_add(&t, "conformance.so", '0', NULL, art, n, n);
  tar_end(&t);
  pkt_write_file(out, t.b, t.n);
}

static unsigned char *fixture_so(size_t *n) {
  char so[1024];
  snprintf(so, sizeof so, "%s/fx_conformance.so", pkt_arg(0));
  return pkt_read_file(so, n);
}

PK_TEST(open_native_beyond_head) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  size_t n;
  unsigned char *so = fixture_so(&n);
  char pkb[1024];
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("far.pkb")); /* pkt_tmp: static */
  hand_bundle(pkb, 70000, so, n, 0);
  free(so);
  PKT_RC(h, pk_plugin_open(h, pkb, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(open_hash_mismatch_beyond_head) {
  size_t n;
  unsigned char *so = fixture_so(&n);
  char pkb[1024];
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("far.pkb"));
  hand_bundle(pkb, 70000, so, n, 1);
  free(so);
  pkt_expect_open_error(pkb, NULL, PK_EHASH, "hash",
                        "artifact conformance.so [native " TARGET
                        "] does not match its manifest: sha256 expected ");
}

/* An artifact that is itself a bundle (pinned by its right hash) is not
   opened as one: no bundle inside a bundle, however deep. */
PK_TEST(open_nested_bundle_refused) {
  size_t n;
  const char *inner = make_bundle(0);
  unsigned char *d = pkt_read_file(inner, &n);
  char pkb[1024];
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("outer.pkb"));
  hand_bundle(pkb, 0, d, n, 0);
  free(d);
  pkt_expect_open_error(pkb, NULL, PK_EFORMAT, "open",
                        "outer.pkb!conformance.so: open: not a shared "
                        "object: no ELF header");
}

/* ---- pk_bundle_verify ---------------------------------------------------- */

/* A signed bundle: the fixture .so pinned by a manifest signed with a new
   key (its public key text into pub), packed into signed.pkb, whose path
   is returned. The artifact's bytes are flipped after signing when
   `tamper`: the bundle is then made by hand, as an attacker would. */
static const char *signed_bundle(char pub[PK_KEY_TEXT_MAX], int tamper) {
  static char pkb[1024];
  char sec[PK_KEY_TEXT_MAX], dir[1024], mf[1024];
  pk_host *h = test_host();
  const char *built = make_bundle(0); /* src/ holds the folder */
  (void)built;
  if (pk_keygen(h, NULL, pub, PK_KEY_TEXT_MAX, sec, sizeof sec) ==
      PK_ENOSYS) {
    pk_host_destroy(h);
    pkt_skip("built without libsodium: no signatures");
  }
  snprintf(mf, sizeof mf, "%s", pkt_tmp("src/conformance.plugkit"));
  PKT_RC(h, pk_manifest_sign(h, mf, sec, NULL, NULL), PK_OK);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("src"));
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("signed.pkb"));
  if (!tamper) {
    PKT_RC(h, pk_bundle_pack(h, dir, pkb), PK_OK);
  } else {
    static tarbuf t;
    size_t nm, ns, nso;
    unsigned char *m = pkt_read_file(mf, &nm), *sig, *so;
    char sigpath[1100];
    snprintf(sigpath, sizeof sigpath, "%s.minisig", mf);
    sig = pkt_read_file(sigpath, &ns);
    so = pkt_read_file(pkt_tmp("src/conformance.so"), &nso);
    so[nso / 2] ^= 1;
    t.n = 0;
    tar_add(&t, "conformance.plugkit", '0', NULL, m, nm, nm);
    tar_add(&t, "conformance.plugkit.minisig", '0', NULL, sig, ns, ns);
    tar_add(&t, "conformance.so", '0', NULL, so, nso, nso);
    tar_end(&t);
    pkt_write_file(pkb, t.b, t.n);
    free(m);
    free(sig);
    free(so);
  }
  pk_host_destroy(h);
  return pkb;
}

PK_TEST(verify_signed_bundle) {
  char pub[PK_KEY_TEXT_MAX];
  const char *pkb = signed_bundle(pub, 0);
  pk_host *h = test_host();
  PKT_RC(h, pk_bundle_verify(h, pkb, pub), PK_OK);
  /* And with the host's trusted keys. */
  PKT_RC(h, pk_host_trust_key(h, pub), PK_OK);
  PKT_RC(h, pk_bundle_verify(h, pkb, NULL), PK_OK);
  pk_host_destroy(h);
}

PK_TEST(verify_wrong_key) {
  char pub[PK_KEY_TEXT_MAX], other[PK_KEY_TEXT_MAX], sec[PK_KEY_TEXT_MAX];
  const char *pkb = signed_bundle(pub, 0);
  pk_host *h = test_host();
  PKT_RC(h, pk_keygen(h, NULL, other, sizeof other, sec, sizeof sec), PK_OK);
  PKT_RC(h, pk_bundle_verify(h, pkb, other), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "signed.pkb: signature: ");
  PKT_CONTAINS(pk_host_errmsg(h), "key id ");
  PKT_CONTAINS(pk_host_errmsg(h), "conformance.plugkit.minisig");
  pk_host_destroy(h);
}

PK_TEST(verify_unsigned) {
  char pub[PK_KEY_TEXT_MAX], sec[PK_KEY_TEXT_MAX];
  const char *pkb = make_bundle(0);
  pk_host *h = test_host();
  if (pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec) == PK_ENOSYS) {
    pk_host_destroy(h);
    pkt_skip("built without libsodium: no signatures");
  }
  PKT_RC(h, pk_bundle_verify(h, pkb, pub), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h),
               "not signed: no member conformance.plugkit.minisig");
  /* No key given and none trusted. */
  PKT_RC(h, pk_bundle_verify(h, pkb, NULL), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "no trusted keys");
  pk_host_destroy(h);
}

/* The signature holds, the artifact was changed after signing. */
PK_TEST(verify_tampered_artifact) {
  char pub[PK_KEY_TEXT_MAX];
  const char *pkb = signed_bundle(pub, 1);
  pk_host *h = test_host();
  PKT_RC(h, pk_bundle_verify(h, pkb, pub), PK_EHASH);
  PKT_CONTAINS(pk_host_errmsg(h), "signed.pkb: hash: artifact conformance.so");
  pk_host_destroy(h);
}

/* The manifest changed after signing: one byte of its version. */
PK_TEST(verify_tampered_manifest) {
  char pub[PK_KEY_TEXT_MAX];
  const char *pkb = signed_bundle(pub, 0);
  size_t n, i;
  unsigned char *d = pkt_read_file(pkb, &n);
  pk_host *h = test_host();
  for (i = 512; i + 5 < n; i++)
    if (memcmp(d + i, "1.0.0", 5) == 0) {
      d[i] = '2';
      break;
    }
  PKT_ASSERT(i + 5 < n);
  pkt_write_file(pkb, d, n);
  free(d);
  PKT_RC(h, pk_bundle_verify(h, pkb, pub), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h), "signed.pkb: signature: ");
  pk_host_destroy(h);
}

PK_TEST(verify_not_a_bundle) {
  pk_host *h = test_host();
  const char *path = pkt_tmp("x.pkb");
  pkt_write_file(path, "hello", 5);
  PKT_RC(h, pk_bundle_verify(h, path, NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "x.pkb: bundle: truncated");
  PKT_RC(h, pk_bundle_verify(h, pkt_tmp("none.pkb"), NULL), PK_ENOENT);
  PKT_RC(h, pk_bundle_verify(h, NULL, NULL), PK_EINVAL);
  PKT_RC(h, pk_bundle_verify(h, path, "not a key"), PK_EINVAL);
  pk_host_destroy(h);
}

/* The exit status of a shell command. */
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  int st;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* plugkit verify reads a bundle: 0 when it holds, 5 when not. */
PK_TEST(verify_cli) {
  char pub[PK_KEY_TEXT_MAX], pkb[1024], pubf[1024];
  snprintf(pkb, sizeof pkb, "%s", signed_bundle(pub, 0));
  snprintf(pubf, sizeof pubf, "%s", pkt_tmp("key.pub"));
  pkt_write_file(pubf, pub, strlen(pub));
  PKT_EQ_INT(sh("'%s' verify -p '%s' '%s' >/dev/null", pkt_arg(1), pubf, pkb),
             0);
  {
    /* One bit of the artifact, the bulk of the file, flipped. */
    size_t n;
    unsigned char *d = pkt_read_file(pkb, &n);
    d[n / 2] ^= 1;
    pkt_write_file(pkb, d, n);
    free(d);
  }
  PKT_EQ_INT(sh("'%s' verify -p '%s' '%s' 2>/dev/null", pkt_arg(1), pubf, pkb),
             5);
}

/* ---- process isolation ------------------------------------------------- */

static int built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

/* Entries of folder `dir` but . and ..; the first one's name to `first`. */
static int count_entries(const char *dir, char *first, size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  PKT_ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      if (n++ == 0 && first != NULL)
        snprintf(first, cap, "%s", e->d_name);
    }
  closedir(d);
  return n;
}

/* The runtime folder the private files go to: a fresh one of the test's
   (XDG_RUNTIME_DIR), so what is made and removed there can be seen. */
static const char *runtime_dir(void) {
  static char rt[1024];
  if (!built("process"))
    pkt_skip("the process backend is not built");
  snprintf(rt, sizeof rt, "%s", pkt_tmp("runtime"));
  PKT_ASSERT(mkdir(rt, 0700) == 0);
  PKT_ASSERT(setenv("XDG_RUNTIME_DIR", rt, 1) == 0);
  return rt;
}

/* A bundle's native artifact runs in a child: it is copied to a private
   file (a 0700 folder of its own under XDG_RUNTIME_DIR) that the child
   loads, removed when the plugin closes. */
PK_TEST(isolated_native_from_bundle) {
  pk_host *h;
  pk_plugin *p;
  pk_func *f;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  char rt[1024], sub[256], inner[1400], want[1100], pkb[1024];
  struct stat st;
  snprintf(rt, sizeof rt, "%s", runtime_dir());
  snprintf(pkb, sizeof pkb, "%s", make_bundle(0));
  h = test_host();
  o.isolation = PK_ISOLATE_PROCESS;
  PKT_RC(h, pk_plugin_open(h, pkb, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "process:native");
  PKT_STR_EQ(info.path, pkb);
  snprintf(want, sizeof want, "%s!conformance.so", pkb);
  PKT_STR_EQ(info.artifact, want);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  /* While open: one private folder, 0700, holding the artifact. */
  PKT_EQ_INT(count_entries(rt, sub, sizeof sub), 1);
  PKT_ASSERT(strncmp(sub, "plugkit-", 8) == 0);
  snprintf(inner, sizeof inner, "%s/%s", rt, sub);
  PKT_ASSERT(stat(inner, &st) == 0);
  PKT_EQ_INT(st.st_mode & 0777, 0700);
  PKT_EQ_INT(count_entries(inner, want, sizeof want), 1);
  PKT_STR_EQ(want, "conformance.so");
  pk_plugin_close(p);
  PKT_EQ_INT(count_entries(rt, NULL, 0), 0);
  pk_host_destroy(h);
}

/* A bad artifact under process isolation: refused before any child
   starts, and nothing left behind. */
PK_TEST(isolated_hash_mismatch_leaves_nothing) {
  pk_host *h;
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char rt[1024], pkb[1024];
  snprintf(rt, sizeof rt, "%s", runtime_dir());
  snprintf(pkb, sizeof pkb, "%s", make_bundle(1));
  h = test_host();
  o.isolation = PK_ISOLATE_PROCESS;
  PKT_RC(h, pk_plugin_open(h, pkb, &o, &p), PK_EHASH);
  PKT_CONTAINS(pk_host_errmsg(h), "demo.pkb: hash: artifact conformance.so");
  PKT_EQ_INT(count_entries(rt, NULL, 0), 0);
  pk_host_destroy(h);
}

/* An artifact the child cannot load: the error names the bundle and the
   member (not the private file), and the private file is gone. */
PK_TEST(isolated_child_refuses) {
  pk_host *h;
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char rt[1024], pkb[1024];
  static const char junk[] = "\177ELF but not really an ELF file at all";
  snprintf(rt, sizeof rt, "%s", runtime_dir());
  snprintf(pkb, sizeof pkb, "%s", pkt_tmp("junk.pkb"));
  hand_bundle(pkb, 0, junk, sizeof junk - 1, 0);
  h = test_host();
  o.isolation = PK_ISOLATE_PROCESS;
  PKT_ASSERT(pk_plugin_open(h, pkb, &o, &p) < 0);
  PKT_CONTAINS(pk_host_errmsg(h), "junk.pkb!conformance.so");
  PKT_ASSERT(strstr(pk_host_errmsg(h), "/runtime/plugkit-") == NULL);
  PKT_EQ_INT(count_entries(rt, NULL, 0), 0);
  pk_host_destroy(h);
}
