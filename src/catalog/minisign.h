/*
 * minisign.h: Ed25519 signatures in minisign's formats (public key,
 * secret key with or without scrypt encryption, signature file with a
 * trusted comment). Internal. docs/manifest.md describes the formats; the
 * cryptography is libsodium's: built without it, every function that
 * needs it returns PK_ENOSYS and says so.
 */
#ifndef PK_CATALOG_MINISIGN_H
#define PK_CATALOG_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

typedef struct pk__ms_pub {
  uint8_t id[8]; /* the key id, as stored (little-endian) */
  uint8_t pk[32];
} pk__ms_pub;

typedef struct pk__ms_sec {
  uint8_t id[8];
  uint8_t sk[64]; /* libsodium's: seed then public key */
} pk__ms_sec;

/* A signature file's lines, bounded: minisign's own caps. */
#define PK__MS_COMMENT_MAX 1024u
#define PK__MS_TRUSTED_MAX 8192u
#define PK__MS_SIGFILE_MAX (PK__MS_COMMENT_MAX + PK__MS_TRUSTED_MAX + 256u)
/* The text of a key file (comment line and base64 line). */
#define PK__MS_KEYTEXT_MAX 512u

/* Is libsodium built in? 1 or 0. */
int pk__ms_available(void);

/* The key id as minisign prints it: 16 uppercase hex digits of the id
   read as a little-endian number. */
void pk__ms_keyid(const uint8_t id[8], char out[17]);

/*
 * A public key: the text of a .pub file (an "untrusted comment:" line then
 * the key line) or the base64 key line alone, `n` bytes. PK_OK, or
 * PK_EINVAL with the reason in `why` (`cap` bytes).
 */
int pk__ms_pub_parse(const char *text, size_t n, pk__ms_pub *out, char *why,
                     size_t cap);

/*
 * A secret key file's text. An encrypted key (kdf "Sc") needs `password`
 * (NULL: PK_EINVAL saying so); a wrong one fails its checksum (PK_EINVAL).
 * PK_ENOSYS without libsodium.
 */
int pk__ms_sec_parse(const char *text, size_t n, const char *password,
                     pk__ms_sec *out, char *why, size_t cap);

/* A new key pair: PK_OK or PK_ENOSYS. */
int pk__ms_keygen(pk__ms_pub *pub, pk__ms_sec *sec);

/* Key files' text (NUL-terminated, at most PK__MS_KEYTEXT_MAX bytes).
   The secret key is encrypted when `password` is not NULL: scrypt with
   PK__MS_SCRYPT_OPS and PK__MS_SCRYPT_MEM (minisign reads any). */
#define PK__MS_SCRYPT_OPS 2097152u
#define PK__MS_SCRYPT_MEM ((size_t)64 << 20)
void pk__ms_pub_format(const pk__ms_pub *pub, char *out);
int pk__ms_sec_format(const pk__ms_sec *sec, const char *password,
                      char *out);

/*
 * Sign `n` bytes (prehashed: the "ED" algorithm, BLAKE2b-512 of the data)
 * and write the signature file's text into out (PK__MS_SIGFILE_MAX bytes,
 * NUL-terminated). `trusted` is one line (no CR or LF), at most
 * PK__MS_TRUSTED_MAX - 20 bytes. PK_OK, PK_EINVAL (bad comment), PK_ENOSYS.
 */
int pk__ms_sign(const pk__ms_sec *sec, const void *data, size_t n,
                const char *trusted, char *out, char *why, size_t cap);

/*
 * Check a signature file's text `sig` (`nsig` bytes) over `n` bytes of
 * data with the first of `keys` (`nkeys`) whose id it names: both the
 * signature ("ED" prehashed or legacy "Ed") and the global signature over
 * the trusted comment. PK_OK (*out_key: the index of the key), or
 * PK_EBADSIG (malformed or truncated file, unknown algorithm, a signature
 * or comment that does not verify), PK_EUNTRUSTED (no key with its id),
 * PK_ENOSYS; `why` says which, `keyid` (17 bytes, may be NULL) gets the
 * signature's key id when the file is readable that far ("" otherwise).
 * `trusted` (may be NULL, PK__MS_TRUSTED_MAX bytes) gets the trusted
 * comment.
 */
int pk__ms_verify(const pk__ms_pub *keys, size_t nkeys, const void *data,
                  size_t n, const char *sig, size_t nsig, size_t *out_key,
                  char *keyid, char *trusted, char *why, size_t cap);

#endif /* PK_CATALOG_MINISIGN_H */
