/*
 * test_manifest.c: the manifest parser through pk_plugin_open: every kind
 * of bad manifest fails with its code and a message naming the file, the
 * line and the cause. None of these reaches an artifact.
 */
#include "test.h"

#include <stdarg.h>

/* A valid manifest's first lines, for tests that break one thing. */
#define HEAD "[plugin]\nname = hello\nversion = 1.0.0\n"
#define ART                                                                 \
  "[artifact wasm]\npath = hello.wasm\nsha256 = "                           \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"

/* Open `text` (n bytes) saved as x.plugkit; expect `code` and a message
   containing `want`. */
static void expect_n(const char *text, size_t n, int code, const char *want) {
  const char *path = pkt_tmp("x.plugkit");
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)(uintptr_t)1;
  pkt_write_file(path, text, n);
  PKT_RC(h, pk_plugin_open(h, path, NULL, &p), code);
  PKT_ASSERT(p == (pk_plugin *)(uintptr_t)1);
  PKT_CONTAINS(pk_host_errmsg(h), want);
  pk_host_destroy(h);
}

static void expect(const char *text, int code, const char *want) {
  expect_n(text, strlen(text), code, want);
}

PK_TEST(err_unknown_key) {
  expect(HEAD "colour = blue\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: unknown key 'colour' in [plugin]");
}

PK_TEST(err_unknown_artifact_key) {
  expect(HEAD ART "size = 3\n", PK_EFORMAT,
         "x.plugkit:7: manifest: unknown key 'size' in [artifact]");
}

PK_TEST(err_duplicate_key) {
  expect(HEAD "version = 1.0.1\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: duplicate key 'version'");
}

PK_TEST(err_duplicate_artifact_key) {
  expect(HEAD ART "path = other.wasm\n", PK_EFORMAT,
         "x.plugkit:7: manifest: duplicate key 'path'");
}

PK_TEST(err_bad_section) {
  expect(HEAD "[plugins]\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: bad section [plugins]");
}

PK_TEST(err_unclosed_section) {
  expect(HEAD "[artifact wasm\n", PK_EFORMAT,
         "x.plugkit:4: manifest: bad section header: no closing ']'");
}

PK_TEST(err_duplicate_section) {
  expect(HEAD ART "[plugin]\n", PK_EFORMAT,
         "x.plugkit:7: manifest: duplicate section [plugin] (first at line "
         "1)");
}

PK_TEST(err_duplicate_artifact) {
  expect(HEAD ART ART, PK_EFORMAT,
         "x.plugkit:7: manifest: duplicate section [artifact wasm] (first at "
         "line 4)");
}

PK_TEST(err_unknown_backend) {
  expect(HEAD "[artifact jvm]\n", PK_EFORMAT,
         "x.plugkit:4: manifest: bad section [artifact jvm]: unknown backend "
         "'jvm'");
}

PK_TEST(err_native_needs_target) {
  expect(HEAD "[artifact native]\n", PK_EFORMAT,
         "x.plugkit:4: manifest: bad section [artifact native]: a native "
         "artifact names its target");
}

PK_TEST(err_wasm_has_no_target) {
  expect(HEAD "[artifact wasm x86_64-linux]\n", PK_EFORMAT,
         "x.plugkit:4: manifest: bad section [artifact wasm x86_64-linux]: a "
         "wasm artifact runs on any target");
}

PK_TEST(err_bad_target) {
  expect(HEAD "[artifact native X86/linux]\n", PK_EFORMAT,
         "x.plugkit:4: manifest: bad section [artifact native X86/linux]: "
         "target 'X86/linux' is not ARCH-OS");
}

PK_TEST(err_bad_semver) {
  expect("[plugin]\nname = hello\nversion = 1.02.0\n" ART, PK_EFORMAT,
         "x.plugkit:3: manifest: bad version '1.02.0'");
}

PK_TEST(err_partial_version) {
  expect("[plugin]\nname = hello\nversion = 1.0\n" ART, PK_EFORMAT,
         "x.plugkit:3: manifest: bad version '1.0' (want MAJOR.MINOR.PATCH)");
}

PK_TEST(err_bad_prerelease) {
  expect("[plugin]\nname = hello\nversion = 1.0.0-rc..1\n" ART, PK_EFORMAT,
         "x.plugkit:3: manifest: bad pre-release in version '1.0.0-rc..1'");
}

PK_TEST(err_bad_abi_range) {
  expect(HEAD "abi = >=1.0, <<2\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: abi: bad version '<2'");
}

PK_TEST(err_bad_dependency_range) {
  expect(HEAD ART "[dependencies]\nbase = >=1.0,\n", PK_EFORMAT,
         "x.plugkit:8: manifest: dependency 'base': empty comparator in range "
         "'>=1.0,'");
}

PK_TEST(err_duplicate_dependency) {
  expect(HEAD ART "[dependencies]\nbase = 1\nbase = 2\n", PK_EFORMAT,
         "x.plugkit:9: manifest: duplicate key 'base' (dependency first at "
         "line 8)");
}

PK_TEST(err_bad_hash_length) {
  expect(HEAD "[artifact wasm]\npath = a.wasm\nsha256 = abc123\n", PK_EFORMAT,
         "x.plugkit:6: manifest: sha256 is 6 characters: want 64 hex digits");
}

PK_TEST(err_bad_hash_digit) {
  expect(HEAD "[artifact wasm]\npath = a.wasm\nsha256 = "
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8g5"
              "\n",
         PK_EFORMAT,
         "x.plugkit:6: manifest: sha256 has 'g' at character 63");
}

PK_TEST(err_missing_name) {
  expect("[plugin]\nversion = 1.0.0\n" ART, PK_EFORMAT,
         "x.plugkit:1: manifest: missing required key 'name' in [plugin]");
}

PK_TEST(err_missing_version) {
  expect("[plugin]\nname = hello\n" ART, PK_EFORMAT,
         "x.plugkit:1: manifest: missing required key 'version' in [plugin]");
}

PK_TEST(err_missing_plugin_section) {
  expect(ART, PK_EFORMAT, "x.plugkit: manifest: missing section [plugin]");
}

PK_TEST(err_missing_sha256) {
  expect(HEAD "[artifact wasm]\npath = a.wasm\n[dependencies]\n", PK_EFORMAT,
         "x.plugkit:4: manifest: missing required key 'sha256' in [artifact "
         "wasm]");
}

PK_TEST(err_missing_path_at_end) {
  expect(HEAD "[artifact native x86_64-linux]\nsha256 = "
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         PK_EFORMAT,
         "x.plugkit:4: manifest: missing required key 'path' in [artifact "
         "native x86_64-linux]");
}

PK_TEST(err_no_artifact) {
  expect(HEAD, PK_EFORMAT, "x.plugkit: manifest: no [artifact] section");
}

PK_TEST(err_path_dotdot) {
  expect(HEAD "[artifact wasm]\npath = lib/../../etc/x.wasm\n", PK_EFORMAT,
         "x.plugkit:5: manifest: artifact path 'lib/../../etc/x.wasm' has a "
         "'..' part");
}

PK_TEST(err_path_absolute) {
  expect(HEAD "[artifact wasm]\npath = /usr/lib/x.wasm\n", PK_EFORMAT,
         "x.plugkit:5: manifest: artifact path '/usr/lib/x.wasm' is "
         "absolute");
}

PK_TEST(err_path_empty_part) {
  expect(HEAD "[artifact wasm]\npath = lib//x.wasm\n", PK_EFORMAT,
         "x.plugkit:5: manifest: artifact path 'lib//x.wasm' has an empty "
         "part");
}

PK_TEST(err_path_backslash) {
  expect(HEAD "[artifact wasm]\npath = ..\\x.wasm\n", PK_EFORMAT,
         "x.plugkit:5: manifest: artifact path '..\\x.wasm' has a '\\'");
}

PK_TEST(err_overlong_line) {
  char buf[2048];
  int n = snprintf(buf, sizeof buf, "%sdescription = ", HEAD);
  memset(buf + n, 'a', 1100);
  memcpy(buf + n + 1100, "\n", 2);
  expect(buf, PK_ELIMIT,
         "x.plugkit:4: manifest: line is 1114 bytes, longer than the limit "
         "of 1024");
}

PK_TEST(err_file_too_large) {
  size_t n = 64 * 1024 + 1;
  char *buf = malloc(n);
  PKT_ASSERT(buf != NULL);
  memset(buf, '#', n);
  expect_n(buf, n, PK_ELIMIT,
           "x.plugkit: manifest: the file is 65537 bytes, more than the limit "
           "of 65536");
  free(buf);
}

PK_TEST(err_nul_byte) {
  static const char text[] = HEAD "description = a\0b\n" ART;
  expect_n(text, sizeof text - 1, PK_EFORMAT,
           "x.plugkit:4: manifest: NUL byte at column 16");
}

PK_TEST(err_control_char) {
  expect(HEAD "description = a\033[31mred\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: control character 0x1b at column 16");
}

PK_TEST(err_bad_utf8) {
  expect(HEAD "description = caf\xc3\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: invalid UTF-8 at column 18");
}

PK_TEST(err_overlong_utf8) {
  expect(HEAD "description = \xc0\xaf\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: invalid UTF-8 at column 15");
}

PK_TEST(err_key_outside_section) {
  expect("name = hello\n" HEAD ART, PK_EFORMAT,
         "x.plugkit:1: manifest: key 'name' outside a section");
}

PK_TEST(err_no_equals) {
  expect(HEAD "just words\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: expected 'key = value', a [section] or a # "
         "comment");
}

PK_TEST(err_empty_value) {
  expect(HEAD "description =\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: key 'description' has no value");
}

PK_TEST(err_bad_key) {
  expect(HEAD "ver sion = 1\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: bad key 'ver sion'");
}

PK_TEST(err_bad_name) {
  expect("[plugin]\nname = ../evil\nversion = 1.0.0\n" ART, PK_EFORMAT,
         "x.plugkit:2: manifest: bad name '../evil'");
}

PK_TEST(err_bad_grant) {
  expect(HEAD "grants = log, rm -rf\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: grant 'rm -rf' is not a host function name");
}

PK_TEST(err_too_many_artifacts) {
  char buf[16384];
  int n = snprintf(buf, sizeof buf, "%s", HEAD), i;
  for (i = 0; i < 33; i++)
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "[artifact native a%d-linux]\npath = a%d.so\nsha256 = "
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b78"
                  "52b855\n",
                  i, i);
  /* The 33rd header is on line 3 + 32 * 3 + 1. */
  expect(buf, PK_ELIMIT, "x.plugkit:100: manifest: more than 32 artifacts");
}

PK_TEST(err_too_many_dependencies) {
  char buf[8192];
  int n = snprintf(buf, sizeof buf, "%s[dependencies]\n", HEAD), i;
  for (i = 0; i < 65; i++)
    n += snprintf(buf + n, sizeof buf - (size_t)n, "d%d = 1\n", i);
  expect(buf, PK_ELIMIT, "x.plugkit:69: manifest: more than 64 dependencies");
}

PK_TEST(err_too_many_range_comparators) {
  expect(HEAD "abi = ^1, ^1, ^1, ^1, ^1\n" ART, PK_EFORMAT,
         "x.plugkit:4: manifest: abi: range '^1, ^1, ^1, ^1, ^1' has more "
         "than 8 comparators");
}

/* A manifest that parses: the failure is only that its artifact is
   missing, which proves comments, blank lines, CRLF, extension keys,
   grants and dependencies were all accepted. */
PK_TEST(good_manifest_parses) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL && strcmp(*b, "wasm") != 0; b++)
    ;
  if (*b == NULL) /* the manifest's one artifact is a .wasm */
    pkt_skip("the wasm backend is not built");
  expect("# a comment\r\n\r\n[plugin]\r\n  name = hello \r\nversion = "
         "1.0.0-rc.1+build.5\r\ndescription = Says héllo # not a comment\r\n"
         "abi = >=1.0, <2\r\ngrants = log , now\r\nx-homepage = "
         "https://example.invalid\r\n"
         "[artifact wasm]\r\npath = lib/hello.wasm\r\nsha256 = "
         "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\r\n"
         "[dependencies]\r\nbase = ^1.2\r\nutil = >=0.3.1, <0.5\r\n",
         PK_ENOENT, "lib/hello.wasm: hash: no such artifact file");
}

/* Without the .plugkit suffix, a file whose first line is [plugin] is
   still read as a manifest. */
PK_TEST(detect_by_content) {
  const char *path = pkt_tmp("manifest.txt");
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  static const char text[] = "# hello\n[plugin]\nname = hello\n";
  pkt_write_file(path, text, sizeof text - 1);
  PKT_RC(h, pk_plugin_open(h, path, NULL, &p), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h),
               "manifest.txt:2: manifest: missing required key 'version'");
  pk_host_destroy(h);
}

/* Random damage to a valid manifest (a fixed seed: reproducible): every
   variant is refused with a manifest error or reaches the (missing)
   artifact, never crashes or leaks (run under ASan too). */
PK_TEST(fuzz_mutations) {
  static const char good[] =
      "# hello\n[plugin]\nname = hello\nversion = 1.0.0-rc.1\n"
      "abi = >=1.0, <2\ngrants = log, now\ndescription = hi\n"
      "[artifact wasm]\npath = lib/hello.wasm\nsha256 = "
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "[artifact native x86_64-linux]\npath = hello.so\nsha256 = "
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "[dependencies]\nbase = ^1.2\nutil = ~0.3\n";
  static const char bytes[] = "[]=#,.-^~<>/\\\n\r\t \0\x80\xff" "09azAZ";
  const char *path = pkt_tmp("f.plugkit");
  char buf[sizeof good + 8];
  uint32_t seed = 12345;
  int i, k;
  pk_host *h = test_host();
  for (i = 0; i < 3000; i++) {
    size_t n = sizeof good - 1;
    pk_plugin *p = NULL;
    int rc;
    memcpy(buf, good, n);
    for (k = 0; k < 1 + i % 3; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % n;
      seed = seed * 1103515245u + 12345u;
      buf[at] = bytes[(seed >> 8) % (sizeof bytes - 1)];
    }
    pkt_write_file(path, buf, n);
    rc = pk_plugin_open(h, path, NULL, &p);
    if (rc == PK_OK) /* cannot happen: no artifact exists */
      pkt_fail(__FILE__, __LINE__, "variant %d opened", i);
    if (rc != PK_EFORMAT && rc != PK_ELIMIT && rc != PK_ENOENT &&
        rc != PK_EARCH)
      pkt_fail(__FILE__, __LINE__, "variant %d: %s (%s)", i, pk_errname(rc),
               pk_host_errmsg(h));
  }
  pk_host_destroy(h);
}
