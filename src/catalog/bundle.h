/*
 * bundle.h: one-file plugin bundles (.pkb), private to the library.
 *
 * A bundle is an uncompressed POSIX tar (ustar) archive holding one
 * manifest (NAME.plugkit) and the artifacts it names, each a flat member
 * (no folders). `tar tvf x.pkb` lists it. The reader is strict and treats
 * the archive as hostile: see docs/catalog.md for every rule and the
 * error each breach gets.
 */
#ifndef PK_CATALOG_BUNDLE_H
#define PK_CATALOG_BUNDLE_H

#include "../core/core.h"
#include "../os/os.h"

/* The most members a bundle may hold, the largest member, and the largest
   manifest: a hostile header cannot make the reader allocate more. */
#define PK__BUNDLE_MAX_MEMBERS 64
#define PK__BUNDLE_MAX_MEMBER ((uint64_t)64 << 20)
#define PK__BUNDLE_MAX_MANIFEST ((size_t)64 << 10)

typedef struct pk__bmember {
  char name[101]; /* flat: [A-Za-z0-9._+-], never "." or ".." */
  uint64_t off;   /* of the data in the archive */
  uint64_t size;
} pk__bmember;

/* What the index reads of a bundle in one go: a small bundle (a manifest
   and a .so of a few dozen KiB) is then read with one system call, its
   headers, manifest and artifact served from memory. */
#define PK__BUNDLE_HEAD ((size_t)64 << 10)

/* An indexed bundle (the caller embeds it). */
typedef struct pk__bundle {
  int fd;
  pk__os_stat st;
  pk_host *h;          /* whose allocator `head` is from */
  unsigned char *head; /* the file's first nhead bytes */
  size_t nhead;        /* min(size, PK__BUNDLE_HEAD) */
  size_t n;
  pk__bmember m[PK__BUNDLE_MAX_MEMBERS];
  const pk__bmember *manifest; /* the one member named *.plugkit */
} pk__bundle;

/* Does a file starting with these n bytes look like a tar archive (the
   ustar magic at offset 257)? Then pk_plugin_open hands it here. */
int pk__bundle_is(const unsigned char *head, size_t n);

/* Open and index the bundle at `path`: every header checked; the file's
   head is read (the only allocation, freed by pk__bundle_close). On
   failure the host's message names the file, the phase
   ("bundle") and the cause, and b holds nothing to close. */
int pk__bundle_index(pk_host *h, const char *path, pk__bundle *b);
/* A member by name, or NULL. */
const pk__bmember *pk__bundle_find(const pk__bundle *b, const char *name);
/* Read member m whole into a block from the host's allocator (NUL
   added after it), the caller's to pk__free. From the head when it holds
   the member, else with one read. */
int pk__bundle_read(pk_host *h, const char *path, const pk__bundle *b,
                    const pk__bmember *m, unsigned char **out);
void pk__bundle_close(pk__bundle *b);

/*
 * Opening an artifact from a private copy of it, so that the code loaded
 * is exactly the bytes whose hash was checked (bundles and manifests on
 * disk alike). `fill` writes the artifact into fd (a new, empty private
 * file), hashing it on the way, and checks the hash against the pin; it
 * puts the first bytes (up to cap) at `first`, their count in
 * *out_nfirst and the size written in *out_size. PK_OK, or the error
 * with the message set (fd stays the caller's either way).
 */
struct pk__artifact;
typedef int (*pk__artifact_fill)(pk_host *h, void *ctx, int fd,
                                 unsigned char *first, size_t cap,
                                 size_t *out_nfirst, uint64_t *out_size);
/* Make the private copy (a memfd; a file of its own, named `name`, in a
   new folder of mode 0700, under process isolation or for the process
   backend: the child runs it by path), fill it, and open it with o, the
   backend forced to a's. The plugin's path and any message from inside
   the artifact name it `shown`; a named copy is removed when the plugin
   closes, or at once on failure. */
int pk__artifact_open_copy(pk_host *h, const char *shown, const char *name,
                           const struct pk__artifact *a,
                           const pk_open_opts *o, pk__artifact_fill fill,
                           void *ctx, pk_plugin **out);

/* The SHA-256 of member m, read in chunks (from the head when it holds
   it): PK_OK, or the error with the message set. */
int pk__bundle_hash_member(pk_host *h, const char *path, const pk__bundle *b,
                           const pk__bmember *m, uint8_t out[32]);
/* Member m's hash against artifact a's pin: PK_OK, PK_EHASH naming both
   hashes, or a read error. */
int pk__bundle_check_member(pk_host *h, const char *path,
                            const pk__bundle *b, const pk__bmember *m,
                            const struct pk__artifact *a);

/* pk_plugin_open of a bundle: pick the artifact, copy it to a private
   file while checking its hash, and open it from there
   (pk__artifact_open_copy: native code loads from that file as is, no
   second copy); info.path is the bundle, info.artifact BUNDLE!MEMBER. */
int pk__bundle_open(pk_host *h, const char *path, const pk_open_opts *o,
                    pk_plugin **out_plugin);

/* The manifest of an indexed bundle, its signature checked under
   `policy` (a pk_trust other than DEFAULT): parsed, the caller's to
   pk__manifest_free. Messages name "<bundle>!<manifest>:<line>". */
struct pk__manifest;
/* Compare the SHA-256 of an artifact's n bytes at data with its pin:
   PK_OK or PK_EHASH naming both hashes. */
int pk__bundle_check_hash(pk_host *h, const char *path,
                          const struct pk__artifact *a,
                          const unsigned char *data, size_t n);
int pk__bundle_manifest(pk_host *h, const char *path, pk__bundle *b,
                        int policy, struct pk__manifest **out);
/* The signature of an indexed bundle's manifest against the host's
   trusted keys, whatever its policy: PK_OK, or PK_EUNTRUSTED,
   PK_EBADSIG, PK_ENOSYS, a read error, with the message set. */
int pk__bundle_check_sig(pk_host *h, const char *path, const pk__bundle *b);

#endif /* PK_CATALOG_BUNDLE_H */
