/*
 * test_semver.c: versions, ranges and SHA-256, called directly (this test
 * compiles src/catalog/semver.c and sha256.c in: they depend on nothing
 * else). Expected values are from semver.org 2.0 and FIPS 180-4.
 */
#include "test.h"

#include "catalog/manifest.h"

static pk__semver ver(const char *s) {
  pk__semver v;
  char why[160];
  if (pk__semver_parse(s, strlen(s), &v, why, sizeof why) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "'%s' does not parse: %s", s, why);
  return v;
}

static int matches(const char *range, const char *v) {
  pk__range r;
  pk__semver x = ver(v);
  char why[160];
  if (pk__range_parse(range, strlen(range), &r, why, sizeof why) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "range '%s' does not parse: %s", range, why);
  return pk__range_match(&r, &x);
}

PK_TEST(semver_parse) {
  pk__semver v = ver("12.0.345-rc.1+build.7");
  PKT_EQ_INT(v.major, 12);
  PKT_EQ_INT(v.minor, 0);
  PKT_EQ_INT(v.patch, 345);
  PKT_STRN_EQ(v.pre, v.npre, "rc.1");
  v = ver("2147483647.0.0");
  PKT_EQ_INT(v.major, 2147483647);
  PKT_ASSERT(ver("1.0.0+x").pre == NULL);
}

PK_TEST(semver_bad) {
  static const char *const bad[] = {
      "", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.0-", "1.0.0-rc..1",
      "1.0.0-01", "1.0.0+", "1.0.0+a..b", "v1.0.0", "1.0.0 ", "-1.0.0",
      "2147483648.0.0", "1.0.0-ré", "99999999999999999999.0.0", NULL};
  size_t i;
  pk__semver v;
  char why[160];
  for (i = 0; bad[i] != NULL; i++)
    if (pk__semver_parse(bad[i], strlen(bad[i]), &v, why, sizeof why) !=
        PK_EFORMAT)
      pkt_fail(__FILE__, __LINE__, "'%s' parsed", bad[i]);
}

/* semver.org 2.0, item 11: each sorts before the next. */
PK_TEST(semver_precedence) {
  static const char *const order[] = {
      "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
      "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
      "1.1.0", "2.0.0", "10.0.0", NULL};
  size_t i, j;
  for (i = 0; order[i] != NULL; i++)
    for (j = 0; order[j] != NULL; j++) {
      pk__semver a = ver(order[i]), b = ver(order[j]);
      int c = pk__semver_cmp(&a, &b), want = i < j ? -1 : i > j;
      if (c != want)
        pkt_fail(__FILE__, __LINE__, "cmp(%s, %s) = %d, want %d", order[i],
                 order[j], c, want);
    }
  {
    pk__semver a = ver("1.0.0+a"), b = ver("1.0.0+b");
    PKT_EQ_INT(pk__semver_cmp(&a, &b), 0); /* build metadata: no order */
  }
}

PK_TEST(range_match) {
  static const struct {
    const char *range, *v;
    int want;
  } t[] = {
      {">=1.2, <2", "1.2.0", 1},     {">=1.2, <2", "1.9.9", 1},
      {">=1.2, <2", "2.0.0", 0},     {">=1.2, <2", "1.1.9", 0},
      {">=1.2,<2", "1.5.0", 1},      {"*", "0.0.1", 1},
      {"1.2.3", "1.2.3", 1},         {"1.2.3", "1.2.4", 0},
      {"=1.2.3", "1.2.3", 1},        {"1.2", "1.2.9", 1},
      {"1.2", "1.3.0", 0},           {"1", "1.9.0", 1},
      {"1", "2.0.0", 0},             {"^1.2.3", "1.9.0", 1},
      {"^1.2.3", "1.2.2", 0},        {"^1.2.3", "2.0.0", 0},
      {"^0.2.3", "0.2.9", 1},        {"^0.2.3", "0.3.0", 0},
      {"^0.0.3", "0.0.3", 1},        {"^0.0.3", "0.0.4", 0},
      {"^0", "0.9.0", 1},            {"^0", "1.0.0", 0},
      {"~1.2.3", "1.2.9", 1},        {"~1.2.3", "1.3.0", 0},
      {"~1", "1.9.0", 1},            {"~1", "2.0.0", 0},
      {">1.2.3", "1.2.3", 0},        {">1.2.3", "1.2.4", 1},
      {"<=1.4", "1.4.0", 1},         {"<=1.4", "1.4.1", 0},
      {">=1.0.0", "1.0.0-rc.1", 0},  {">=0.9", "1.0.0-rc.1", 1},
      {"< 2", "1.0.0", 1},           {" >= 1.0 , < 1.5 ", "1.4.0", 1},
  };
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++)
    if (matches(t[i].range, t[i].v) != t[i].want)
      pkt_fail(__FILE__, __LINE__, "'%s' matching %s: want %d", t[i].range,
               t[i].v, t[i].want);
}

PK_TEST(range_bad) {
  static const char *const bad[] = {
      "", " ", ">=", ">=1.0,", ",>=1.0", "1.0.0 - 2.0.0", "=>1.0", "<<2",
      ">=01", "1.x", "**", "^1, ^1, ^1, ^1, ^1", "~2147483647.2147483647",
      "^2147483647", NULL};
  size_t i;
  pk__range r;
  char why[160];
  for (i = 0; bad[i] != NULL; i++)
    if (pk__range_parse(bad[i], strlen(bad[i]), &r, why, sizeof why) !=
        PK_EFORMAT)
      pkt_fail(__FILE__, __LINE__, "range '%s' parsed", bad[i]);
}

static void sha_is(const void *data, size_t n, const char *want) {
  uint8_t d[32];
  char hex[65];
  pk__sha256_buf(data, n, d);
  pk__hex(d, 32, hex);
  PKT_STR_EQ(hex, want);
}

/* FIPS 180-4's examples (and their well-known digests). */
PK_TEST(sha256_vectors) {
  sha_is("", 0,
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_is("abc", 3,
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* A million 'a', fed in uneven pieces: the block buffering. */
PK_TEST(sha256_streamed) {
  static char a[1100]; /* steps go up to 1059 bytes */
  pk__sha256 s;
  uint8_t d[32];
  char hex[65];
  size_t done = 0, step = 1;
  memset(a, 'a', sizeof a);
  pk__sha256_init(&s);
  while (done < 1000000) {
    size_t k = 1000000 - done < step ? 1000000 - done : step;
    pk__sha256_update(&s, a, k);
    done += k;
    step = step % 997 + 63;
  }
  pk__sha256_final(&s, d);
  pk__hex(d, 32, hex);
  PKT_STR_EQ(hex,
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
