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

/* An indexed bundle: plain data, no allocation (the caller embeds it). */
typedef struct pk__bundle {
  int fd;
  pk__os_stat st;
  size_t n;
  pk__bmember m[PK__BUNDLE_MAX_MEMBERS];
  const pk__bmember *manifest; /* the one member named *.plugkit */
} pk__bundle;

/* Does a file starting with these n bytes look like a tar archive (the
   ustar magic at offset 257)? Then pk_plugin_open hands it here. */
int pk__bundle_is(const unsigned char *head, size_t n);

/* Open and index the bundle at `path`: every header checked, nothing
   allocated. On failure the host's message names the file, the phase
   ("bundle") and the cause, and b holds nothing to close. */
int pk__bundle_index(pk_host *h, const char *path, pk__bundle *b);
/* A member by name, or NULL. */
const pk__bmember *pk__bundle_find(const pk__bundle *b, const char *name);
/* Read member m whole into a block from the host's allocator (NUL
   added after it), the caller's to pk__free. */
int pk__bundle_read(pk_host *h, const char *path, const pk__bundle *b,
                    const pk__bmember *m, unsigned char **out);
void pk__bundle_close(pk__bundle *b);

/* pk_plugin_open of a bundle: pick the artifact, check its hash, open it
   from a private in-memory copy; the plugin's path is the bundle's. */
int pk__bundle_open(pk_host *h, const char *path, const pk_open_opts *o,
                    pk_plugin **out_plugin);

/* The manifest of an indexed bundle, its signature checked under
   `policy` (a pk_trust other than DEFAULT): parsed, the caller's to
   pk__manifest_free. Messages name "<bundle>!<manifest>:<line>". */
struct pk__manifest;
struct pk__artifact;
/* Compare the SHA-256 of an artifact's n bytes at data with its pin:
   PK_OK or PK_EHASH naming both hashes. */
int pk__bundle_check_hash(pk_host *h, const char *path,
                          const struct pk__artifact *a,
                          const unsigned char *data, size_t n);
int pk__bundle_manifest(pk_host *h, const char *path, pk__bundle *b,
                        int policy, struct pk__manifest **out);

#endif /* PK_CATALOG_BUNDLE_H */
