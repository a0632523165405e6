/*
 * minisign.c: minisign's key and signature formats (docs/manifest.md),
 * with libsodium's Ed25519, BLAKE2b and scrypt. The formats are parsed
 * here, strictly and bounded, whether libsodium is built in or not; only
 * the cryptography needs it (PK_ENOSYS without).
 *
 * Layouts (all binary fields base64 on one line):
 *   public key  "Ed" | key id (8) | Ed25519 public key (32)
 *   secret key  "Ed" | kdf "Sc" or 0 0 | "B2" | salt (32) | opslimit (8,
 *               LE) | memlimit (8, LE) | key id (8) | secret key (64) |
 *               checksum (32): BLAKE2b-256 of "Ed" | key id | secret key;
 *               with "Sc", key id..checksum are XORed with scrypt's
 *               output for the password.
 *   signature   "ED" (signs BLAKE2b-512 of the file) or "Ed" (signs the
 *               file) | key id (8) | signature (64); then the trusted
 *               comment line and the global signature (64) over
 *               signature | trusted comment.
 */
#include "minisign.h"

#include "plugkit_types.h"

#include <stdio.h>
#include <string.h>

#ifdef PK_HAVE_SODIUM
#include <sodium.h>
#endif

#define UNTRUSTED "untrusted comment: "
#define TRUSTED "trusted comment: "

static int fail(char *why, size_t cap, int code, const char *msg) {
  if (why != NULL && cap > 0)
    snprintf(why, cap, "%s", msg);
  return code;
}

/* ---- base64 ------------------------------------------------------------ */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = B64[(v >> 6) & 63];
    out[o++] = B64[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

static int b64_val(char c) {
  const char *p = c != '\0' ? strchr(B64, c) : NULL;
  return p ? (int)(p - B64) : -1;
}

/* Strict: exactly `want` bytes, canonical padding. 0 or -1. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t want) {
  size_t i, o = 0;
  if (n % 4 != 0 || n / 4 * 3 < want || n / 4 * 3 > want + 2)
    return -1;
  for (i = 0; i < n; i += 4) {
    int v[4], k, pad = 0;
    for (k = 0; k < 4; k++) {
      if (s[i + k] == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        pad++;
      } else if (pad > 0 || (v[k] = b64_val(s[i + k])) < 0) {
        return -1;
      }
    }
    {
      uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                   (uint32_t)v[2] << 6 | (uint32_t)v[3];
      uint8_t b[3] = {(uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
      for (k = 0; k < 3 - pad; k++) {
        if (o == want)
          return -1;
        out[o++] = b[k];
      }
      if ((pad == 1 && b[2] != 0) || (pad == 2 && (b[1] | b[2]) != 0))
        return -1; /* bits past the data: not canonical */
    }
  }
  return o == want ? 0 : -1;
}

/* ---- lines ------------------------------------------------------------- */

/* The next line of text (CR LF or LF; the last may lack its newline):
   its start and length, and where the one after starts. 0 at the end. */
static int next_line(const char *t, size_t n, size_t *pos, const char **line,
                     size_t *len) {
  size_t s = *pos, e;
  if (s >= n)
    return 0;
  for (e = s; e < n && t[e] != '\n'; e++)
    ;
  *pos = e < n ? e + 1 : n;
  *line = t + s;
  *len = e - s;
  if (*len > 0 && t[s + *len - 1] == '\r')
    (*len)--;
  return 1;
}

static int has_nul(const char *t, size_t n) { return memchr(t, 0, n) != NULL; }

static int starts(const char *l, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(l, prefix, k) == 0;
}

/* The key's base64 line: after an optional comment line. */
static int key_line(const char *t, size_t n, size_t max_comment,
                    const char **line, size_t *len) {
  size_t pos = 0;
  if (has_nul(t, n))
    return -1;
  if (!next_line(t, n, &pos, line, len))
    return -1;
  if (starts(*line, *len, UNTRUSTED)) {
    if (*len > max_comment || !next_line(t, n, &pos, line, len))
      return -1;
  }
  {
    const char *rest;
    size_t rn;
    while (next_line(t, n, &pos, &rest, &rn)) /* only blank lines after */
      if (rn != 0)
        return -1;
  }
  while (*len > 0 && (*line)[*len - 1] == ' ')
    (*len)--;
  return 0;
}

void pk__ms_keyid(const uint8_t id[8], char out[17]) {
  static const char digits[] = "0123456789ABCDEF";
  int i;
  for (i = 0; i < 8; i++) { /* most significant byte (the last) first */
    out[2 * i] = digits[id[7 - i] >> 4];
    out[2 * i + 1] = digits[id[7 - i] & 15];
  }
  out[16] = '\0';
}

int pk__ms_pub_parse(const char *text, size_t n, pk__ms_pub *out, char *why,
                     size_t cap) {
  const char *l;
  size_t len;
  uint8_t raw[42];
  if (text == NULL || key_line(text, n, PK__MS_COMMENT_MAX, &l, &len) < 0)
    return fail(why, cap, PK_EINVAL,
                "not a minisign public key (an 'untrusted comment:' line and "
                "a base64 line, or the base64 line alone)");
  if (b64_decode(l, len, raw, sizeof raw) < 0)
    return fail(why, cap, PK_EINVAL,
                "not a minisign public key: the key line is not 42 bytes of "
                "base64");
  if (memcmp(raw, "Ed", 2) != 0)
    return fail(why, cap, PK_EINVAL,
                "unsupported public key algorithm (minisign keys are 'Ed')");
  memcpy(out->id, raw + 2, 8);
  memcpy(out->pk, raw + 10, 32);
  return PK_OK;
}

void pk__ms_pub_format(const pk__ms_pub *pub, char *out) {
  uint8_t raw[42];
  char id[17];
  int k;
  memcpy(raw, "Ed", 2);
  memcpy(raw + 2, pub->id, 8);
  memcpy(raw + 10, pub->pk, 32);
  pk__ms_keyid(pub->id, id);
  k = snprintf(out, PK__MS_KEYTEXT_MAX, UNTRUSTED "minisign public key %s\n",
               id);
  k += (int)b64_encode(raw, sizeof raw, out + k);
  out[k++] = '\n';
  out[k] = '\0';
}

#ifdef PK_HAVE_SODIUM

int pk__ms_available(void) { return sodium_init() >= 0; }

static void sec_chk(const uint8_t id[8], const uint8_t sk[64],
                    uint8_t out[32]) {
  crypto_generichash_state s;
  crypto_generichash_init(&s, NULL, 0, 32);
  crypto_generichash_update(&s, (const uint8_t *)"Ed", 2);
  crypto_generichash_update(&s, id, 8);
  crypto_generichash_update(&s, sk, 64);
  crypto_generichash_final(&s, out, 32);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

int pk__ms_sec_parse(const char *text, size_t n, const char *password,
                     pk__ms_sec *out, char *why, size_t cap) {
  static const uint8_t zero[32];
  const char *l;
  size_t len;
  uint8_t raw[158], chk[32], pk[32], seed_sk[64];
  uint8_t *keynum = raw + 54; /* id | sk | checksum: 104 bytes */
  int rc = PK_OK;

  if (!pk__ms_available())
    return fail(why, cap, PK_ENOSYS,
                "secret keys need libsodium, which this build lacks");
  if (text == NULL || key_line(text, n, PK__MS_COMMENT_MAX, &l, &len) < 0 ||
      b64_decode(l, len, raw, sizeof raw) < 0)
    return fail(why, cap, PK_EINVAL,
                "not a minisign secret key (an 'untrusted comment:' line and "
                "158 bytes of base64)");
  if (memcmp(raw, "Ed", 2) != 0 || memcmp(raw + 4, "B2", 2) != 0)
    return fail(why, cap, PK_EINVAL,
                "unsupported secret key algorithms (want Ed25519 and a "
                "BLAKE2b checksum)");
  if (memcmp(raw + 2, "Sc", 2) == 0) {
    uint64_t ops = le64(raw + 38), mem = le64(raw + 46);
    uint8_t stream[104];
    size_t i;
    if (password == NULL) {
      rc = fail(why, cap, PK_EINVAL,
                "the secret key is encrypted: a password is needed");
      goto done;
    }
    /* Hostile parameters: bounded near what minisign itself writes (1 GiB,
       2^25 operations), so that a key file cannot make us work for hours. */
    if (mem > ((uint64_t)1 << 30) || ops > ((uint64_t)1 << 26) || ops == 0 ||
        mem == 0) {
      rc = fail(why, cap, PK_EINVAL,
                "the secret key's scrypt parameters are out of range");
      goto done;
    }
    if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, password,
                                           strlen(password), raw + 6,
                                           (unsigned long long)ops,
                                           (size_t)mem) != 0) {
      rc = fail(why, cap, PK_EINVAL,
                "scrypt failed deriving the key (out of memory?)");
      goto done;
    }
    for (i = 0; i < sizeof stream; i++)
      keynum[i] ^= stream[i];
    sodium_memzero(stream, sizeof stream);
    sec_chk(keynum, keynum + 8, chk);
    if (sodium_memcmp(chk, keynum + 72, 32) != 0) {
      rc = fail(why, cap, PK_EINVAL,
                "wrong password for the secret key (its checksum fails)");
      goto done;
    }
  } else if (raw[2] == 0 && raw[3] == 0) {
    /* Unencrypted (minisign -W): the checksum may be left zero. */
    sec_chk(keynum, keynum + 8, chk);
    if (sodium_memcmp(keynum + 72, zero, 32) != 0 &&
        sodium_memcmp(chk, keynum + 72, 32) != 0) {
      rc = fail(why, cap, PK_EINVAL, "the secret key's checksum fails");
      goto done;
    }
  } else {
    rc = fail(why, cap, PK_EINVAL,
              "unsupported key derivation for the secret key (want 'Sc' or "
              "none)");
    goto done;
  }
  /* The key's two halves must agree, or signatures would not verify. */
  crypto_sign_seed_keypair(pk, seed_sk, keynum + 8);
  if (sodium_memcmp(pk, keynum + 8 + 32, 32) != 0) {
    rc = fail(why, cap, PK_EINVAL,
              "the secret key is inconsistent (its public half does not "
              "match its seed)");
    goto done;
  }
  memcpy(out->id, keynum, 8);
  memcpy(out->sk, keynum + 8, 64);
done:
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(seed_sk, sizeof seed_sk);
  return rc;
}

int pk__ms_keygen(pk__ms_pub *pub, pk__ms_sec *sec) {
  if (!pk__ms_available())
    return PK_ENOSYS;
  randombytes_buf(sec->id, sizeof sec->id);
  crypto_sign_keypair(pub->pk, sec->sk);
  memcpy(pub->id, sec->id, 8);
  return PK_OK;
}

static void le64_put(uint8_t *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

int pk__ms_sec_format(const pk__ms_sec *sec, const char *password,
                      char *out) {
  uint8_t raw[158];
  int k;
  if (!pk__ms_available())
    return PK_ENOSYS;
  memset(raw, 0, sizeof raw);
  memcpy(raw, "Ed", 2);
  memcpy(raw + 4, "B2", 2);
  memcpy(raw + 54, sec->id, 8);
  memcpy(raw + 62, sec->sk, 64);
  sec_chk(sec->id, sec->sk, raw + 126);
  if (password != NULL) {
    uint8_t stream[104];
    size_t i;
    memcpy(raw + 2, "Sc", 2);
    randombytes_buf(raw + 6, 32);
    le64_put(raw + 38, PK__MS_SCRYPT_OPS);
    le64_put(raw + 46, PK__MS_SCRYPT_MEM);
    if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, password,
                                           strlen(password), raw + 6,
                                           PK__MS_SCRYPT_OPS,
                                           PK__MS_SCRYPT_MEM) != 0) {
      sodium_memzero(raw, sizeof raw);
      return PK_ENOMEM;
    }
    for (i = 0; i < sizeof stream; i++)
      raw[54 + i] ^= stream[i];
    sodium_memzero(stream, sizeof stream);
  }
  k = snprintf(out, PK__MS_KEYTEXT_MAX,
               UNTRUSTED "plugkit secret key%s\n",
               password != NULL ? "" : " (unencrypted)");
  k += (int)b64_encode(raw, sizeof raw, out + k);
  out[k++] = '\n';
  out[k] = '\0';
  sodium_memzero(raw, sizeof raw);
  return PK_OK;
}

int pk__ms_sign(const pk__ms_sec *sec, const void *data, size_t n,
                const char *trusted, char *out, char *why, size_t cap) {
  uint8_t hash[64], sigs[74], global[64];
  uint8_t *both;
  size_t tn = strlen(trusted), k;
  if (!pk__ms_available())
    return fail(why, cap, PK_ENOSYS,
                "signing needs libsodium, which this build lacks");
  if (tn > PK__MS_TRUSTED_MAX - sizeof TRUSTED - 2 ||
      strpbrk(trusted, "\r\n") != NULL)
    return fail(why, cap, PK_EINVAL,
                "the trusted comment must be one line of at most 8000 bytes");
  crypto_generichash(hash, sizeof hash, data, n, NULL, 0);
  memcpy(sigs, "ED", 2);
  memcpy(sigs + 2, sec->id, 8);
  crypto_sign_detached(sigs + 10, NULL, hash, sizeof hash, sec->sk);
  /* The global signature covers the signature and the trusted comment. */
  {
    uint8_t buf[64 + PK__MS_TRUSTED_MAX];
    both = buf;
    memcpy(both, sigs + 10, 64);
    memcpy(both + 64, trusted, tn);
    crypto_sign_detached(global, NULL, both, 64 + tn, sec->sk);
  }
  k = (size_t)snprintf(out, PK__MS_SIGFILE_MAX,
                       UNTRUSTED "signature from plugkit secret key\n");
  k += b64_encode(sigs, sizeof sigs, out + k);
  k += (size_t)snprintf(out + k, PK__MS_SIGFILE_MAX - k, "\n" TRUSTED "%s\n",
                        trusted);
  k += b64_encode(global, sizeof global, out + k);
  out[k++] = '\n';
  out[k] = '\0';
  return PK_OK;
}

int pk__ms_verify(const pk__ms_pub *keys, size_t nkeys, const void *data,
                  size_t n, const char *sig, size_t nsig, size_t *out_key,
                  char *keyid, char *trusted, char *why, size_t cap) {
  const char *l[4];
  size_t len[4], pos = 0, i, tn;
  uint8_t sigs[74], global[64], hash[64];
  uint8_t buf[64 + PK__MS_TRUSTED_MAX];
  const pk__ms_pub *key = NULL;
  int hashed;

  if (keyid != NULL)
    keyid[0] = '\0';
  if (!pk__ms_available())
    return fail(why, cap, PK_ENOSYS,
                "signatures are checked with libsodium, which this build "
                "lacks");
  if (has_nul(sig, nsig))
    return fail(why, cap, PK_EBADSIG, "malformed signature: a NUL byte");
  for (i = 0; i < 4; i++)
    if (!next_line(sig, nsig, &pos, &l[i], &len[i]))
      return fail(why, cap, PK_EBADSIG,
                  "truncated signature file (minisign's four lines: "
                  "untrusted comment, signature, trusted comment, global "
                  "signature)");
  if (!starts(l[0], len[0], UNTRUSTED) || len[0] > PK__MS_COMMENT_MAX)
    return fail(why, cap, PK_EBADSIG,
                "malformed signature: the first line is not an "
                "'untrusted comment:' of at most 1024 bytes");
  if (b64_decode(l[1], len[1], sigs, sizeof sigs) < 0)
    return fail(why, cap, PK_EBADSIG,
                "malformed signature: the signature line is not 74 bytes of "
                "base64");
  if (keyid != NULL)
    pk__ms_keyid(sigs + 2, keyid);
  if (memcmp(sigs, "ED", 2) == 0)
    hashed = 1;
  else if (memcmp(sigs, "Ed", 2) == 0)
    hashed = 0;
  else
    return fail(why, cap, PK_EBADSIG,
                "unsupported signature algorithm (want 'ED' or 'Ed')");
  if (!starts(l[2], len[2], TRUSTED) ||
      len[2] - (sizeof TRUSTED - 1) > PK__MS_TRUSTED_MAX - sizeof TRUSTED - 2)
    return fail(why, cap, PK_EBADSIG,
                "malformed signature: the third line is not a 'trusted "
                "comment:' of at most 8192 bytes");
  if (b64_decode(l[3], len[3], global, sizeof global) < 0)
    return fail(why, cap, PK_EBADSIG,
                "malformed signature: the global signature line is not 64 "
                "bytes of base64");
  {
    const char *rest;
    size_t rn;
    while (next_line(sig, nsig, &pos, &rest, &rn))
      if (rn != 0)
        return fail(why, cap, PK_EBADSIG,
                    "malformed signature: text after the fourth line");
  }
  for (i = 0; i < nkeys && key == NULL; i++)
    if (memcmp(keys[i].id, sigs + 2, 8) == 0)
      key = &keys[i];
  if (key == NULL)
    return fail(why, cap, PK_EUNTRUSTED,
                "signed by a key that is not trusted");
  if (hashed)
    crypto_generichash(hash, sizeof hash, data, n, NULL, 0);
  if (crypto_sign_verify_detached(sigs + 10, hashed ? hash : data,
                                  hashed ? sizeof hash : n, key->pk) != 0)
    return fail(why, cap, PK_EBADSIG,
                "the signature does not verify: the file was changed after "
                "it was signed, or the signature is damaged");
  tn = len[2] - (sizeof TRUSTED - 1);
  memcpy(buf, sigs + 10, 64);
  memcpy(buf + 64, l[2] + sizeof TRUSTED - 1, tn);
  if (crypto_sign_verify_detached(global, buf, 64 + tn, key->pk) != 0)
    return fail(why, cap, PK_EBADSIG,
                "the trusted comment's signature does not verify: the "
                "comment was changed");
  if (trusted != NULL) {
    memcpy(trusted, l[2] + sizeof TRUSTED - 1, tn);
    trusted[tn] = '\0';
  }
  *out_key = (size_t)(key - keys);
  return PK_OK;
}

#else /* no libsodium: the formats parse, nothing is signed or checked */

static const char nosodium[] =
    "signatures need libsodium, which this build of plugkit lacks (install "
    "libsodium-dev and rebuild)";

int pk__ms_available(void) { return 0; }

int pk__ms_sec_parse(const char *text, size_t n, const char *password,
                     pk__ms_sec *out, char *why, size_t cap) {
  (void)text, (void)n, (void)password, (void)out;
  return fail(why, cap, PK_ENOSYS, nosodium);
}

int pk__ms_keygen(pk__ms_pub *pub, pk__ms_sec *sec) {
  (void)pub, (void)sec;
  return PK_ENOSYS;
}

int pk__ms_sec_format(const pk__ms_sec *sec, const char *password,
                      char *out) {
  (void)sec, (void)password, (void)out;
  return PK_ENOSYS;
}

int pk__ms_sign(const pk__ms_sec *sec, const void *data, size_t n,
                const char *trusted, char *out, char *why, size_t cap) {
  (void)sec, (void)data, (void)n, (void)trusted, (void)out;
  return fail(why, cap, PK_ENOSYS, nosodium);
}

int pk__ms_verify(const pk__ms_pub *keys, size_t nkeys, const void *data,
                  size_t n, const char *sig, size_t nsig, size_t *out_key,
                  char *keyid, char *trusted, char *why, size_t cap) {
  (void)keys, (void)nkeys, (void)data, (void)n, (void)sig, (void)nsig;
  (void)out_key, (void)trusted;
  if (keyid != NULL)
    keyid[0] = '\0';
  return fail(why, cap, PK_ENOSYS, nosodium);
}

#endif
