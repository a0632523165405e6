/*
 * catalog.h: what scan.c (the walk and the cache) and catalog.c (what
 * each file is, the entries, dependencies) share. Private.
 */
#ifndef PK_CATALOG_CATALOG_H
#define PK_CATALOG_CATALOG_H

#include "../core/core.h"
#include "../os/os.h"

/* What a file is. */
enum {
  PK__CAT_NONE = 0, /* nothing of ours: not listed (but cached) */
  PK__CAT_MANIFEST = 1,
  PK__CAT_BUNDLE = 2,
  PK__CAT_ARTIFACT = 3,
  PK__CAT_KIND_MAX = 3
};

/* The library's version string: a cache written by another one is
   ignored (what it knows may differ). */
#define PK__CAT_VERSION "0.1.0"

/* A record: what one file (or folder) is; the cache's line and, for a
   plugin, the catalog entry's data. Strings are owned (host allocator). */
typedef struct pk__cat_rec {
  char *rel; /* path beneath the scanned folder: "x.so", "sub/x.so" */
  int folder;
  /* The key. ctime too: its owner can restore a rewritten file's size
     and mtime, but any change sets its ctime to the clock. */
  uint64_t size, mtime, ctime, ino;
  int kind, status, error;
  uint32_t abi_major, abi_minor;
  char *name, *version, *backends, *grants, *deps, *reason;
  char *watch; /* a manifest's or bundle's: pk__cat_watch; else "" */
} pk__cat_rec;

typedef struct pk__cat_cache {
  pk__cat_rec *v;
  size_t n, cap;
  int bad; /* there was a cache and it was unreadable or malformed */
} pk__cat_cache;

typedef struct pk__cat_buf {
  pk_host *h;
  char *p;
  size_t n, cap;
} pk__cat_buf;
int pk__cat_buf_put(pk__cat_buf *b, const char *s, size_t n);

void pk__cat_rec_free(pk_host *h, pk__cat_rec *r);
int pk__cat_rec_set(pk_host *h, pk__cat_rec *r, const char *name,
                    const char *version, const char *backends,
                    const char *grants, const char *deps,
                    const char *reason);
void pk__cat_cache_free(pk_host *h, pk__cat_cache *c);

/* Fill r's kind, status and strings for the file at `path` (r->rel and the
   key are set). PK_OK (a bad plugin is a status, not an error) or
   PK_ENOMEM. */
int pk__cat_manifest(pk_host *h, const char *path, const pk_scan_opts *o,
                     pk__cat_rec *r);
int pk__cat_bundle(pk_host *h, const char *path, const pk_scan_opts *o,
                   pk__cat_rec *r);
int pk__cat_artifact(pk_host *h, const char *path, const pk_scan_opts *o,
                     pk__cat_rec *r);

/* What the verdict on a manifest or bundle rests on besides the file's
   own bytes, as 64 hex digits into out: the host's trust policy and
   trusted keys and, for a manifest, the status (size, mtime, ctime,
   inode) of each artifact file and, when signatures are checked, of its
   signature file. A cached verdict stands only while this is the same.
   Any other kind: "". */
void pk__cat_watch(pk_host *h, const char *path, int kind, char out[65]);

typedef struct pk__cat_entry {
  pk_catalog_entry e;
  char *path; /* root/rel */
  pk__cat_rec r;
} pk__cat_entry;

struct pk_catalog {
  pk_host *h;
  pk__cat_entry *v;
  size_t n, cap;
  size_t *order;
  size_t norder;
};

/* Add the plugins among the records of one scanned folder (moved out of
   c) as entries. */
int pk__cat_add(pk_catalog *cat, const char *root, pk__cat_cache *c);
/* Duplicates, dependencies and the load order. */
int pk__cat_resolve(pk_catalog *cat);

#endif /* PK_CATALOG_CATALOG_H */
