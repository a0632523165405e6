/*
 * bundle.c: one-file bundles (.pkb). A strict reader of the ustar tar
 * format for pk_plugin_open and the catalog, and the writer behind
 * pk_bundle_pack (`plugkit pack`).
 *
 * Why tar, uncompressed, read by our own code: ordinary tools list and
 * unpack it (`tar tvf`), and it has no compression, so a member's size is
 * what it occupies in the file: there is no expansion bomb, only claims,
 * and every claim is checked against the file's size and fixed caps before
 * anything is allocated. Our reader accepts a small, exact subset (flat
 * regular members, ustar or GNU headers without extensions) and refuses
 * everything else by name, rather than interpreting what a general tar
 * library would (pax path overrides, links, sparse files).
 */
#include "bundle.h"
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512u

int pk__bundle_is(const unsigned char *head, size_t n) {
  return n >= 263 && memcmp(head + 257, "ustar", 5) == 0;
}

/* An octal header field of w bytes: optional leading spaces, digits, then
   NUL or space padding to the end. -1 for anything else, including
   GNU's base-256 form (high bit set), which only sizes beyond 8 GiB
   need. */
static int octal(const unsigned char *f, size_t w, uint64_t *out) {
  size_t i = 0;
  uint64_t v = 0;
  int digits = 0;
  while (i < w && f[i] == ' ')
    i++;
  for (; i < w && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
    if (v > (UINT64_MAX >> 3))
      return -1;
    v = (v << 3) | (uint64_t)(f[i] - '0');
  }
  for (; i < w; i++)
    if (f[i] != '\0' && f[i] != ' ')
      return -1;
  if (digits == 0)
    return -1;
  *out = v;
  return 0;
}

/* Length of a header field of at most w bytes, NUL-terminated or full. */
static size_t field_len(const unsigned char *f, size_t w) {
  size_t i = 0;
  while (i < w && f[i] != '\0')
    i++;
  return i;
}

static int zero_block(const unsigned char *b) {
  size_t i;
  for (i = 0; i < BLOCK; i++)
    if (b[i] != 0)
      return 0;
  return 1;
}

/* The kind of a non-regular member, for the message. */
static const char *kind_name(unsigned char t) {
  switch (t) {
  case '1':
    return "a hard link";
  case '2':
    return "a symbolic link";
  case '3':
    return "a character device";
  case '4':
    return "a block device";
  case '5':
    return "a directory";
  case '6':
    return "a FIFO";
  case '7':
    return "a contiguous file";
  case 'x':
  case 'g':
    return "a pax extended header";
  case 'L':
  case 'K':
    return "a GNU long-name header";
  case 'S':
    return "a GNU sparse file";
  default:
    return "a member of unknown type";
  }
}

/* Printable copy of a header name for messages (n bytes, NUL-ended). */
static void printable(char *dst, size_t cap, const unsigned char *src,
                      size_t n) {
  size_t i, k = 0;
  for (i = 0; i < n && src[i] != '\0' && k + 5 < cap; i++) {
    unsigned char c = src[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      dst[k++] = (char)c;
    } else {
      snprintf(dst + k, cap - k, "\\x%02x", c);
      k += 4;
    }
  }
  dst[k] = '\0';
}

/* Check a member's name (already NUL-terminated in `name`, printable copy
   in `shown`): PK_OK or the error. */
static int check_name(pk_host *h, const char *path, const char *name,
                      const char *shown, uint64_t off) {
  const char *s;
  if (*name == '\0')
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "the member at offset %llu has an empty name",
                   (unsigned long long)off);
  if (*name == '/')
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '%s' has an absolute path: a bundle's members "
                   "are plain file names",
                   shown);
  for (s = name; *s != '\0';) {
    size_t k = strcspn(s, "/");
    if (k == 2 && s[0] == '.' && s[1] == '.')
      return pk__err(h, PK_EFORMAT, path, "bundle",
                     "member '%s' has a '..' component, which would leave "
                     "the bundle",
                     shown);
    s += k;
    if (*s == '/')
      s++;
  }
  if (strchr(name, '/') != NULL)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '%s' is in a folder: a bundle's members are "
                   "plain file names (make it with plugkit pack)",
                   shown);
  if (strcmp(name, ".") == 0)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '.' is not a file name");
  for (s = name; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
          c == '+'))
      return pk__err(h, PK_EFORMAT, path, "bundle",
                     "member '%s' has a character other than letters, "
                     "digits and . _ - + in its name",
                     shown);
  }
  return PK_OK;
}

/* One header at `off`: fill *m, or return the error. */
static int read_member(pk_host *h, const char *path, pk__bundle *b,
                       const unsigned char *hd, uint64_t off,
                       pk__bmember *m) {
  uint64_t sum = 0, want, size;
  /* prefix (155) '/' name (100) NUL: both fields may be full, without
     their NUL. */
  char shown[512], name[257];
  size_t i, nl, pl;
  unsigned char t = hd[156];
  int gnu = memcmp(hd + 257, "ustar  \0", 8) == 0;

  if (memcmp(hd + 257, "ustar\0" "00", 8) != 0 && !gnu)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "the header at offset %llu is not a ustar header (no "
                   "'ustar' magic): a truncated or corrupt archive",
                   (unsigned long long)off);
  for (i = 0; i < BLOCK; i++)
    sum += (i >= 148 && i < 156) ? (unsigned)' ' : hd[i];
  if (octal(hd + 148, 8, &want) != 0 || want != sum)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "the header at offset %llu has a bad checksum: a corrupt "
                   "archive",
                   (unsigned long long)off);
  /* name[100], then (ustar) prefix[155]: joined with '/'. */
  nl = field_len(hd, 100);
  pl = gnu ? 0 : field_len(hd + 345, 155);
  if (pl > 0) {
    memcpy(name, hd + 345, pl);
    name[pl] = '/';
    memcpy(name + pl + 1, hd, nl);
    name[pl + 1 + nl] = '\0';
  } else {
    memcpy(name, hd, nl);
    name[nl] = '\0';
  }
  printable(shown, sizeof shown, (const unsigned char *)name, strlen(name));
  if (t == '1' || t == '2') {
    char target[512];
    printable(target, sizeof target, hd + 157, field_len(hd + 157, 100));
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '%s' is %s (to '%s'): a bundle holds regular "
                   "files only",
                   shown, kind_name(t), target);
  }
  if (t != '0' && t != '\0')
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '%s' is %s (type '%c'): a bundle holds regular "
                   "files only",
                   shown, kind_name(t), t >= 0x20 && t < 0x7f ? t : '?');
  {
    int rc = check_name(h, path, name, shown, off);
    if (rc < 0)
      return rc;
  }
  if (strlen(name) > 100)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "member '%s': name longer than 100 bytes", shown);
  if (octal(hd + 124, 12, &size) != 0)
    return pk__err(h, PK_ELIMIT, path, "bundle",
                   "member '%s' has a size field that is not a plain octal "
                   "number (a base-256 size beyond 8 GiB?), more than the "
                   "%llu bytes a member may have",
                   shown, (unsigned long long)PK__BUNDLE_MAX_MEMBER);
  if (size > PK__BUNDLE_MAX_MEMBER)
    return pk__err(h, PK_ELIMIT, path, "bundle",
                   "member '%s' claims %llu bytes, more than the %llu a "
                   "bundle member may have",
                   shown, (unsigned long long)size,
                   (unsigned long long)PK__BUNDLE_MAX_MEMBER);
  if (off + BLOCK > b->st.size || size > b->st.size - off - BLOCK)
    return pk__err(h, PK_EFORMAT, path, "bundle",
                   "truncated: member '%s' claims %llu bytes at offset "
                   "%llu, past the end of the %llu-byte file",
                   shown, (unsigned long long)size,
                   (unsigned long long)(off + BLOCK),
                   (unsigned long long)b->st.size);
  for (i = 0; i < b->n; i++)
    if (strcmp(b->m[i].name, name) == 0)
      return pk__err(h, PK_EFORMAT, path, "bundle",
                     "member '%s' appears twice (members #%zu and #%zu): "
                     "which one is meant is ambiguous",
                     shown, i + 1, b->n + 1);
  memcpy(m->name, name, strlen(name) + 1);
  m->off = off + BLOCK;
  m->size = size;
  return PK_OK;
}

/* n bytes at off: from the head when it holds them all, else read. The
   same codes as pk__os_pread. */
static int bread(const pk__bundle *b, void *dst, size_t n, uint64_t off,
                 size_t *got) {
  if (off <= b->nhead && n <= b->nhead - off) {
    memcpy(dst, b->head + off, n);
    *got = n;
    return PK_OK;
  }
  return pk__os_pread(b->fd, dst, n, off, got);
}

int pk__bundle_index(pk_host *h, const char *path, pk__bundle *b) {
  unsigned char hd[BLOCK];
  uint64_t off = 0;
  size_t got, i;
  int rc;

  memset(b, 0, sizeof *b);
  b->fd = -1;
  b->h = h;
  rc = pk__os_open_file(path, &b->fd, &b->st);
  if (rc == PK_ENOENT)
    return pk__err(h, rc, path, "bundle", "no such file");
  if (rc == PK_EFORMAT)
    return pk__err(h, rc, path, "bundle", "not a regular file");
  if (rc < 0)
    return pk__err(h, PK_EIO, path, "bundle", "cannot open the file");
  /* One read for the head; a file that shrank since fstat keeps the part
     that is there (the header reads then find it truncated). */
  b->nhead = b->st.size < PK__BUNDLE_HEAD ? (size_t)b->st.size
                                          : PK__BUNDLE_HEAD;
  if ((b->head = pk__alloc(h, b->nhead > 0 ? b->nhead : 1)) == NULL) {
    rc = pk__err(h, PK_ENOMEM, path, "bundle", "out of memory");
    goto fail;
  }
  rc = pk__os_pread(b->fd, b->head, b->nhead, 0, &got);
  if (rc == PK_EIO) {
    rc = pk__err(h, PK_EIO, path, "bundle", "cannot read the file");
    goto fail;
  }
  b->nhead = got;
  for (;;) {
    rc = bread(b, hd, BLOCK, off, &got);
    if (rc == PK_EFORMAT) {
      rc = pk__err(h, PK_EFORMAT, path, "bundle",
                   "truncated: the archive ends at byte %llu without its "
                   "end-of-archive blocks",
                   (unsigned long long)(off + got));
      goto fail;
    }
    if (rc < 0) {
      rc = pk__err(h, PK_EIO, path, "bundle", "cannot read the file");
      goto fail;
    }
    if (zero_block(hd))
      break; /* end of archive: what follows is padding */
    if (b->n == PK__BUNDLE_MAX_MEMBERS) {
      rc = pk__err(h, PK_ELIMIT, path, "bundle",
                   "more than %d members: a bundle holds a manifest and "
                   "a few artifacts",
                   PK__BUNDLE_MAX_MEMBERS);
      goto fail;
    }
    if ((rc = read_member(h, path, b, hd, off, &b->m[b->n])) < 0)
      goto fail;
    /* size <= the file's size - off: no wrap, even rounded up. */
    off = b->m[b->n].off + ((b->m[b->n].size + BLOCK - 1) / BLOCK) * BLOCK;
    b->n++;
  }
  for (i = 0; i < b->n; i++) {
    size_t k = strlen(b->m[i].name);
    if (k > 8 && strcmp(b->m[i].name + k - 8, ".plugkit") == 0) {
      if (b->manifest != NULL) {
        rc = pk__err(h, PK_EFORMAT, path, "bundle",
                     "two manifests, '%s' and '%s': a bundle holds one "
                     "plugin",
                     b->manifest->name, b->m[i].name);
        goto fail;
      }
      b->manifest = &b->m[i];
    }
  }
  if (b->manifest == NULL) {
    rc = pk__err(h, PK_EFORMAT, path, "bundle",
                 "a tar archive without a NAME.plugkit manifest: not a "
                 "plugkit bundle");
    goto fail;
  }
  if (b->manifest->size > PK__BUNDLE_MAX_MANIFEST) {
    rc = pk__err(h, PK_ELIMIT, path, "bundle",
                 "manifest '%s' is %llu bytes, more than the %zu a "
                 "manifest may have",
                 b->manifest->name, (unsigned long long)b->manifest->size,
                 PK__BUNDLE_MAX_MANIFEST);
    goto fail;
  }
  return PK_OK;
fail:
  pk__bundle_close(b);
  return rc;
}

const pk__bmember *pk__bundle_find(const pk__bundle *b, const char *name) {
  size_t i;
  for (i = 0; i < b->n; i++)
    if (strcmp(b->m[i].name, name) == 0)
      return &b->m[i];
  return NULL;
}

int pk__bundle_read(pk_host *h, const char *path, const pk__bundle *b,
                    const pk__bmember *m, unsigned char **out) {
  unsigned char *buf;
  size_t got;
  int rc;
  /* m->size <= PK__BUNDLE_MAX_MEMBER (checked in the index): fits. */
  if ((buf = pk__alloc(h, (size_t)m->size + 1)) == NULL)
    return pk__err(h, PK_ENOMEM, path, "bundle",
                   "out of memory for member '%s' (%llu bytes)", m->name,
                   (unsigned long long)m->size);
  rc = bread(b, buf, (size_t)m->size, m->off, &got);
  if (rc < 0) {
    pk__free(h, buf);
    /* The file shrank since it was indexed. */
    return pk__err(h, rc == PK_EFORMAT ? PK_EFORMAT : PK_EIO, path, "bundle",
                   "cannot read member '%s': %s", m->name,
                   rc == PK_EFORMAT ? "the file is shorter than indexed"
                                    : "read error");
  }
  buf[m->size] = '\0';
  *out = buf;
  return PK_OK;
}

void pk__bundle_close(pk__bundle *b) {
  if (b->fd >= 0)
    pk__os_close(b->fd);
  b->fd = -1;
  if (b->head != NULL)
    pk__free(b->h, b->head);
  b->head = NULL;
  b->nhead = 0;
}

/* ---- writing: pk_bundle_pack -------------------------------------------- */

static void put_octal(unsigned char *f, size_t w, uint64_t v) {
  /* w - 1 digits, zero-padded, then NUL. */
  size_t i = w - 1;
  f[i] = '\0';
  while (i-- > 0) {
    f[i] = (unsigned char)('0' + (v & 7));
    v >>= 3;
  }
}

/* A ustar header for a regular file: mode 0644, owner 0, time 0, so the
   same inputs make the same bundle byte for byte. */
static void make_header(unsigned char *hd, const char *name, uint64_t size) {
  uint64_t sum = 0;
  size_t i;
  memset(hd, 0, BLOCK);
  memcpy(hd, name, strlen(name));
  put_octal(hd + 100, 8, 0644);
  put_octal(hd + 108, 8, 0);
  put_octal(hd + 116, 8, 0);
  put_octal(hd + 124, 12, size);
  put_octal(hd + 136, 12, 0);
  hd[156] = '0';
  memcpy(hd + 257, "ustar\0" "00", 8);
  memcpy(hd + 265, "root", 4);
  memcpy(hd + 297, "root", 4);
  memset(hd + 148, ' ', 8);
  for (i = 0; i < BLOCK; i++)
    sum += hd[i];
  put_octal(hd + 148, 7, sum);
  hd[155] = ' ';
}

typedef struct pack_file {
  char *name;
  unsigned char *data;
  size_t n;
} pack_file;

static void *pack_alloc(void *ud, size_t n) {
  return pk__alloc((pk_host *)ud, n);
}

/* Write the archive of files[0..n) (files[0] the manifest) to out. */
static int write_archive(pk_host *h, const char *out, const pack_file *f,
                         size_t n) {
  size_t total = 2 * BLOCK, i, at = 0;
  unsigned char *buf;
  char err[256];
  int rc;
  for (i = 0; i < n; i++)
    total += BLOCK + ((f[i].n + BLOCK - 1) / BLOCK) * BLOCK;
  if ((buf = pk__alloc(h, total)) == NULL)
    return pk__err(h, PK_ENOMEM, out, "pack", "out of memory (%zu bytes)",
                   total);
  memset(buf, 0, total);
  for (i = 0; i < n; i++) {
    make_header(buf + at, f[i].name, f[i].n);
    at += BLOCK;
    if (f[i].n > 0)
      memcpy(buf + at, f[i].data, f[i].n);
    at += ((f[i].n + BLOCK - 1) / BLOCK) * BLOCK;
  }
  rc = pk__os_write_file(out, buf, total, err, sizeof err);
  pk__free(h, buf);
  if (rc < 0)
    return pk__err(h, PK_EIO, out, "pack", "%s", err);
  return PK_OK;
}

static int cmp_pack(const void *a, const void *b) {
  return strcmp(((const pack_file *)a)->name, ((const pack_file *)b)->name);
}

typedef struct pack_list {
  pk_host *h;
  const char *dir;
  pack_file f[PK__BUNDLE_MAX_MEMBERS];
  size_t n;
  int rc;
} pack_list;

static int pack_each(void *ud, const char *name) {
  pack_list *l = ud;
  size_t k = strlen(name);
  if (name[0] == '.' || (k > 4 && strcmp(name + k - 4, ".pkb") == 0))
    return 0; /* hidden files (the catalog's cache) and other bundles */
  if (l->n == PK__BUNDLE_MAX_MEMBERS) {
    l->rc = pk__err(l->h, PK_ELIMIT, l->dir, "pack",
                    "more than %d files: a bundle holds a manifest and a "
                    "few artifacts",
                    PK__BUNDLE_MAX_MEMBERS);
    return 1;
  }
  if ((l->f[l->n].name = pk__strdup(l->h, name)) == NULL) {
    l->rc = pk__err(l->h, PK_ENOMEM, l->dir, "pack", "out of memory");
    return 1;
  }
  l->n++;
  return 0;
}

int pk_bundle_pack(pk_host *h, const char *dir, const char *out) {
  pack_list *l;
  char path[4096], shown[512];
  size_t i, manifest = (size_t)-1;
  int rc;

  if (h == NULL)
    return PK_EINVAL;
  if (dir == NULL || out == NULL)
    return pk__err(h, PK_EINVAL, dir ? dir : "(null)", "pack",
                   "dir and out must not be NULL");
  if ((l = pk__alloc(h, sizeof *l)) == NULL)
    return pk__err(h, PK_ENOMEM, dir, "pack", "out of memory");
  memset(l, 0, sizeof *l);
  l->h = h;
  l->dir = dir;
  rc = pk__os_list_dir(dir, pack_each, l);
  if (l->rc < 0) {
    rc = l->rc;
    goto done;
  }
  if (rc != 0) {
    rc = pk__err(h, rc == PK_ENOENT ? PK_ENOENT : PK_EIO, dir, "pack",
                 "cannot list the folder");
    goto done;
  }
  qsort(l->f, l->n, sizeof l->f[0], cmp_pack);
  for (i = 0; i < l->n; i++) {
    pack_file *f = &l->f[i];
    size_t k = strlen(f->name), got = 0;
    pk__os_stat st;
    int islink, isreg, isexec;
    printable(shown, sizeof shown, (const unsigned char *)f->name, k);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >=
        sizeof path) {
      rc = pk__err(h, PK_EINVAL, dir, "pack", "path of '%s' too long", shown);
      goto done;
    }
    if ((rc = pk__os_lstat(path, &st, &islink, &isreg, &isexec)) < 0 ||
        islink || !isreg) {
      rc = pk__err(h, PK_EFORMAT, dir, "pack",
                   "'%s' is %s: a bundle holds regular files only", shown,
                   rc < 0 ? "unreadable" : islink ? "a symbolic link"
                                                  : "not a regular file");
      goto done;
    }
    if ((rc = check_name(h, dir, f->name, shown, 0)) < 0)
      goto done;
    /* The header's name field holds 100 bytes: a longer name would be
       cut short into another member's name (a second "x.plugkit"). */
    if (k > 100) {
      rc = pk__err(h, PK_EFORMAT, dir, "pack",
                   "'%s' has a name of %zu bytes, more than the 100 a "
                   "bundle member may have",
                   shown, k);
      goto done;
    }
    if (k > 8 && strcmp(f->name + k - 8, ".plugkit") == 0) {
      if (manifest != (size_t)-1) {
        rc = pk__err(h, PK_EFORMAT, dir, "pack",
                     "two manifests, '%s' and '%s': a bundle holds one "
                     "plugin",
                     l->f[manifest].name, f->name);
        goto done;
      }
      manifest = i;
    }
    rc = pk__os_read_file(path, (size_t)PK__BUNDLE_MAX_MEMBER, pack_alloc, h,
                          &f->data, &got);
    if (rc < 0) {
      rc = pk__err(h, rc, dir, "pack", "cannot read '%s'%s", shown,
                   rc == PK_ELIMIT ? ": larger than a bundle member may be"
                                   : "");
      goto done;
    }
    f->n = got;
  }
  if (manifest == (size_t)-1) {
    rc = pk__err(h, PK_ENOENT, dir, "pack",
                 "no NAME.plugkit manifest in the folder");
    goto done;
  }
  {
    /* The manifest must parse, and pins what goes in: its artifacts
       (each a plain name, present, matching its hash) and its signature
       NAME.plugkit.minisig if there is one; nothing else. */
    pk__manifest *mf = NULL;
    char mpath[4096], signame[128];
    pack_file keep[PK__BUNDLE_MAX_MEMBERS];
    size_t nkeep = 0, j;
    snprintf(mpath, sizeof mpath, "%s/%s", dir, l->f[manifest].name);
    if ((rc = pk__manifest_parse(h, mpath, (const char *)l->f[manifest].data,
                                 l->f[manifest].n, &mf)) < 0)
      goto done;
    snprintf(signame, sizeof signame, "%s.minisig", l->f[manifest].name);
    keep[nkeep++] = l->f[manifest];
    for (j = 0; j < mf->nart && rc >= 0; j++) {
      const pk__artifact *a = &mf->art[j];
      for (i = 0; i < l->n; i++)
        if (strcmp(l->f[i].name, a->path) == 0)
          break;
      if (strchr(a->path, '/') != NULL)
        rc = pk__err(h, PK_EFORMAT, mpath, "pack",
                     "artifact %s is in a subfolder: a bundle is flat, so "
                     "artifacts sit beside the manifest",
                     a->path);
      else if (i == l->n)
        rc = pk__err(h, PK_ENOENT, mpath, "pack",
                     "artifact %s is not in the folder", a->path);
      else if ((rc = pk__bundle_check_hash(h, mpath, a, l->f[i].data,
                                           l->f[i].n)) >= 0) {
        size_t k;
        for (k = 0; k < nkeep; k++) /* two artifacts, one file */
          if (keep[k].name == l->f[i].name)
            break;
        if (k == nkeep)
          keep[nkeep++] = l->f[i];
      }
    }
    pk__manifest_free(h, mf);
    if (rc < 0)
      goto done;
    for (i = 0; i < l->n; i++)
      if (strcmp(l->f[i].name, signame) == 0 && nkeep < PK__BUNDLE_MAX_MEMBERS)
        keep[nkeep++] = l->f[i];
    rc = write_archive(h, out, keep, nkeep);
  }
done:
  for (i = 0; i < l->n; i++) {
    pk__free(h, l->f[i].name);
    pk__free(h, l->f[i].data);
  }
  pk__free(h, l);
  return rc;
}

/* ---- opening a bundle's artifact ---------------------------------------- */

/* Replace "<where>: " at the start of the host's message with
   "<shown>: ", so a failure inside the artifact names it as the host
   knows it, not by its private copy. */
static void rename_msg(pk_host *h, const char *where, const char *shown) {
  char buf[PK__ERRMSG_MAX];
  char *msg = pk__thread_errmsg(h); /* the calling thread's */
  size_t k = strlen(where);
  if (msg == NULL || strncmp(msg, where, k) != 0 || msg[k] != ':')
    return;
  /* A longer message is cut at the buffer, as every message is (the
     result is tested only to say so to the compiler). */
  if (snprintf(buf, sizeof buf, "%s%s", shown, msg + k) < 0)
    return;
  memcpy(msg, buf, sizeof buf);
}

/* The message of a hash that differs from the artifact's pin. */
static int hash_mismatch(pk_host *h, const char *path, const pk__artifact *a,
                         const uint8_t got[32]) {
  char want_hex[65], got_hex[65];
  pk__hex(a->sha256, 32, want_hex);
  pk__hex(got, 32, got_hex);
  return pk__err(h, PK_EHASH, path, "hash",
                 "artifact %s [%s%s%s] does not match its manifest: sha256 "
                 "expected %s, actual %s",
                 a->path, a->backend, a->target ? " " : "",
                 a->target ? a->target : "", want_hex, got_hex);
}

/* The chunk a member beyond the head is copied through: small enough to
   stay in the cache between the hash and the write. */
#define CHUNK ((size_t)256 << 10)

/*
 * Copy member m into fd (empty, open for writing), hashing it on the way:
 * one pass, and the file gets exactly the bytes that were hashed. Then
 * compare the hash with a's pin. The member's first bytes (up to cap) go
 * to `first`. PK_OK, or the error with the message set (fd stays the
 * caller's either way).
 */
static int copy_member(pk_host *h, const char *path, const pk__bundle *b,
                       const pk__bmember *m, const pk__artifact *a, int fd,
                       unsigned char *first, size_t cap, size_t *out_nfirst) {
  char err[256];
  uint8_t got[32];
  pk__sha256 s;
  unsigned char *chunk = NULL;
  uint64_t done = 0;
  size_t k;
  int rc = PK_OK;

  pk__sha256_init(&s);
  if (m->off <= b->nhead && m->size <= b->nhead - m->off) {
    /* All in the head (a small bundle): one write. */
    const unsigned char *data = b->head + m->off;
    pk__sha256_update(&s, data, (size_t)m->size);
    *out_nfirst = (size_t)m->size < cap ? (size_t)m->size : cap;
    memcpy(first, data, *out_nfirst);
    if (pk__os_write_all(fd, data, (size_t)m->size, err, sizeof err) < 0)
      return pk__err(h, PK_EIO, path, "bundle", "%s", err);
  } else {
    if ((chunk = pk__alloc(h, CHUNK)) == NULL)
      return pk__err(h, PK_ENOMEM, path, "bundle", "out of memory");
    *out_nfirst = 0;
    while (done < m->size) {
      size_t want = m->size - done < CHUNK ? (size_t)(m->size - done) : CHUNK;
      if ((rc = bread(b, chunk, want, m->off + done, &k)) < 0) {
        /* The file shrank since it was indexed. */
        rc = pk__err(h, rc == PK_EFORMAT ? PK_EFORMAT : PK_EIO, path,
                     "bundle", "cannot read member '%s': %s", m->name,
                     rc == PK_EFORMAT ? "the file is shorter than indexed"
                                      : "read error");
        break;
      }
      pk__sha256_update(&s, chunk, want);
      if (done == 0) {
        *out_nfirst = want < cap ? want : cap;
        memcpy(first, chunk, *out_nfirst);
      }
      if (pk__os_write_all(fd, chunk, want, err, sizeof err) < 0) {
        rc = pk__err(h, PK_EIO, path, "bundle", "%s", err);
        break;
      }
      done += want;
    }
    pk__free(h, chunk);
    if (rc < 0)
      return rc;
  }
  pk__sha256_final(&s, got);
  if (memcmp(got, a->sha256, 32) != 0)
    return hash_mismatch(h, path, a, got);
  return PK_OK;
}

/* pk__artifact_fill for a bundle's member. */
typedef struct member_ctx {
  const char *path;
  const pk__bundle *b;
  const pk__bmember *m;
  const pk__artifact *a;
} member_ctx;

static int fill_member(pk_host *h, void *ctx, int fd, unsigned char *first,
                       size_t cap, size_t *out_nfirst, uint64_t *out_size) {
  const member_ctx *c = ctx;
  int rc = copy_member(h, c->path, c->b, c->m, c->a, fd, first, cap,
                       out_nfirst);
  *out_size = c->m->size;
  return rc;
}

/*
 * Where a private copy goes. A backend that runs the file in a child
 * (process isolation, or an artifact of the process backend: an
 * executable or a script) names it by path, on restarts too, and some
 * by extension: a private file, in a folder of mode 0700 of its own,
 * under the artifact's own file name ("x.py"). The plugin removes it
 * when it closes (pk_plugin.private_file), after its child is gone; a
 * restart of the child finds it there. Anything else: an anonymous file
 * (a memfd), which the native backend loads as it is and keeps.
 */
static int wants_named_file(const pk__artifact *a, const pk_open_opts *o) {
  return o->isolation == PK_ISOLATE_PROCESS ||
         strcmp(a->backend, "process") == 0;
}

int pk__artifact_open_copy(pk_host *h, const char *shown, const char *name,
                           const pk__artifact *a, const pk_open_opts *o,
                           pk__artifact_fill fill, void *ctx,
                           pk_plugin **out) {
  char file[4096], err[256];
  unsigned char first[4096];
  size_t nfirst = 0;
  pk_open_opts inner = *o;
  pk__src src;
  pk_plugin *p = NULL;
  int fd, rc, named = wants_named_file(a, o);

  if (named)
    fd = pk__os_private_file(name, file, sizeof file, err, sizeof err);
  else {
    char mname[128];
    snprintf(mname, sizeof mname, "plugkit:%s", name);
    fd = pk__os_anon_file(mname, NULL, 0, file, sizeof file, err,
                          sizeof err);
  }
  if (fd < 0)
    return pk__err(h, PK_EIO, shown, "open", "%s", err);
  src.size = 0;
  rc = fill(h, ctx, fd, first, sizeof first, &nfirst, &src.size);
  if (named) {
    pk__os_close(fd);
    fd = -1; /* a named file: nothing for a backend to keep */
  }
  if (rc < 0)
    goto fail;
  src.head = first;
  src.nhead = nfirst;
  src.fd = fd;
  src.name = shown;
  /* Under process isolation an executable runs as it is; anything else
     through plugkit-runner, with the artifact's backend. */
  inner.backend = a->backend;
  if (o->isolation == PK_ISOLATE_PROCESS && strcmp(a->backend, "process") == 0)
    inner.backend = NULL;
  rc = pk__plugin_open_src(h, file, &inner, &src, &p);
  if (src.fd >= 0)
    pk__os_close(src.fd); /* the backend did not keep it */
  fd = -1;
  if (rc < 0) {
    rename_msg(h, file, shown);
    goto fail;
  }
  /* info.artifact: what the host knows the artifact by, not the copy. */
  pk__free(h, p->path);
  if ((p->path = pk__strdup(h, shown)) == NULL ||
      (named && (p->private_file = pk__strdup(h, file)) == NULL)) {
    rc = pk__err(h, PK_ENOMEM, shown, "open", "out of memory");
    pk_plugin_close(p);
    goto fail;
  }
  *out = p;
  return PK_OK;
fail:
  if (fd >= 0)
    pk__os_close(fd);
  if (named)
    pk__os_private_file_remove(file);
  return rc;
}

/*
 * The manifest's signature: member NAME.plugkit.minisig of the bundle,
 * against keys[0..nkeys). PK_OK or the code with the message set.
 */
static int check_sig_keys(pk_host *h, const char *path, const pk__bundle *b,
                          const unsigned char *man, size_t n,
                          const pk__ms_pub *keys, size_t nkeys) {
  char signame[128], why[256], keyid[17] = "";
  const pk__bmember *sm;
  unsigned char *sig = NULL;
  size_t which;
  int rc;
  if (!pk__ms_available())
    return pk__err(h, PK_ENOSYS, path, "signature",
                   "signatures are checked with libsodium, which this build "
                   "of plugkit lacks (install libsodium-dev and rebuild)");
  if (nkeys == 0)
    return pk__err(h, PK_EUNTRUSTED, path, "signature",
                   "no trusted keys on this host (pk_host_trust_key)");
  snprintf(signame, sizeof signame, "%s.minisig", b->manifest->name);
  if ((sm = pk__bundle_find(b, signame)) == NULL)
    return pk__err(h, PK_EUNTRUSTED, path, "signature",
                   "not signed: no member %s in the bundle", signame);
  if (sm->size > PK__MS_SIGFILE_MAX)
    return pk__err(h, PK_EBADSIG, path, "signature",
                   "member %s is %llu bytes, more than %u", signame,
                   (unsigned long long)sm->size, PK__MS_SIGFILE_MAX);
  if ((rc = pk__bundle_read(h, path, b, sm, &sig)) < 0)
    return rc;
  rc = pk__ms_verify(keys, nkeys, man, n, (const char *)sig,
                     (size_t)sm->size, &which, keyid, NULL, why, sizeof why);
  pk__free(h, sig);
  if (rc < 0)
    return pk__err(h, rc, path, "signature", "%s (key id %s, in %s)", why,
                   keyid[0] ? keyid : "unreadable", signame);
  return PK_OK;
}

/* The same against the host's trusted keys. */
static int check_sig(pk_host *h, const char *path, const pk__bundle *b,
                     const unsigned char *man, size_t n) {
  pk__ms_pub keys[PK__MAX_KEYS];
  size_t i;
  for (i = 0; i < h->nkeys; i++) {
    memcpy(keys[i].id, h->keys[i].id, 8);
    memcpy(keys[i].pk, h->keys[i].pk, 32);
  }
  return check_sig_keys(h, path, b, man, n, keys, h->nkeys);
}

int pk__bundle_hash_member(pk_host *h, const char *path, const pk__bundle *b,
                           const pk__bmember *m, uint8_t out[32]) {
  pk__sha256 s;
  unsigned char *chunk;
  uint64_t done = 0;
  size_t k;
  int rc;
  if (m->off <= b->nhead && m->size <= b->nhead - m->off) {
    pk__sha256_buf(b->head + m->off, (size_t)m->size, out);
    return PK_OK;
  }
  if ((chunk = pk__alloc(h, CHUNK)) == NULL)
    return pk__err(h, PK_ENOMEM, path, "bundle", "out of memory");
  pk__sha256_init(&s);
  while (done < m->size) {
    size_t want = m->size - done < CHUNK ? (size_t)(m->size - done) : CHUNK;
    if ((rc = bread(b, chunk, want, m->off + done, &k)) < 0) {
      pk__free(h, chunk);
      return pk__err(h, rc == PK_EFORMAT ? PK_EFORMAT : PK_EIO, path,
                     "bundle", "cannot read member '%s': %s", m->name,
                     rc == PK_EFORMAT ? "the file is shorter than indexed"
                                      : "read error");
    }
    pk__sha256_update(&s, chunk, want);
    done += want;
  }
  pk__free(h, chunk);
  pk__sha256_final(&s, out);
  return PK_OK;
}

int pk__bundle_check_member(pk_host *h, const char *path,
                            const pk__bundle *b, const pk__bmember *m,
                            const pk__artifact *a) {
  uint8_t got[32];
  int rc = pk__bundle_hash_member(h, path, b, m, got);
  if (rc < 0)
    return rc;
  return memcmp(got, a->sha256, 32) == 0 ? PK_OK
                                         : hash_mismatch(h, path, a, got);
}

int pk_bundle_verify(pk_host *h, const char *path, const char *pubkey) {
  pk__ms_pub keys[PK__MAX_KEYS];
  size_t nkeys = 0, i;
  pk__bundle b;
  pk__manifest *m = NULL;
  unsigned char *man = NULL;
  char file[4096], why[200];
  int rc;

  if (h == NULL)
    return PK_EINVAL;
  if (path == NULL)
    return pk__err(h, PK_EINVAL, "(null)", "verify", "path is NULL");
  if (pubkey != NULL) {
    if (pk__ms_pub_parse(pubkey, strlen(pubkey), &keys[0], why,
                         sizeof why) < 0)
      return pk__err(h, PK_EINVAL, path, "verify", "%s", why);
    nkeys = 1;
  } else {
    for (i = 0; i < h->nkeys; i++) {
      memcpy(keys[i].id, h->keys[i].id, 8);
      memcpy(keys[i].pk, h->keys[i].pk, 32);
    }
    nkeys = h->nkeys;
  }
  if ((rc = pk__bundle_index(h, path, &b)) < 0)
    return rc;
  if ((rc = pk__bundle_read(h, path, &b, b.manifest, &man)) < 0)
    goto done;
  /* The signature first: nothing of an unsigned bundle is trusted. */
  if ((rc = check_sig_keys(h, path, &b, man, (size_t)b.manifest->size, keys,
                           nkeys)) < 0)
    goto done;
  snprintf(file, sizeof file, "%s!%s", path, b.manifest->name);
  if ((rc = pk__manifest_parse(h, file, (const char *)man,
                               (size_t)b.manifest->size, &m)) < 0)
    goto done;
  for (i = 0; i < m->nart; i++) {
    const pk__artifact *a = &m->art[i];
    const pk__bmember *am = pk__bundle_find(&b, a->path);
    if (am == NULL) {
      rc = pk__err(h, PK_ENOENT, path, "bundle",
                   "artifact %s [%s] of the manifest is not in the bundle",
                   a->path, a->backend);
      goto done;
    }
    if ((rc = pk__bundle_check_member(h, path, &b, am, a)) < 0)
      goto done;
  }
  rc = PK_OK;
done:
  pk__manifest_free(h, m);
  pk__free(h, man);
  pk__bundle_close(&b);
  return rc;
}

/* Compare data's SHA-256 with the artifact's pin. */
int pk__bundle_check_hash(pk_host *h, const char *path,
                          const pk__artifact *a, const unsigned char *data,
                          size_t n) {
  uint8_t got[32];
  pk__sha256_buf(data, n, got);
  if (memcmp(got, a->sha256, 32) == 0)
    return PK_OK;
  return hash_mismatch(h, path, a, got);
}

int pk__bundle_check_sig(pk_host *h, const char *path, const pk__bundle *b) {
  unsigned char *man = NULL;
  int rc;
  if ((rc = pk__bundle_read(h, path, b, b->manifest, &man)) < 0)
    return rc;
  rc = check_sig(h, path, b, man, (size_t)b->manifest->size);
  pk__free(h, man);
  return rc;
}

int pk__bundle_manifest(pk_host *h, const char *path, pk__bundle *b,
                        int policy, pk__manifest **out) {
  unsigned char *man = NULL;
  char file[4096];
  int rc;
  if ((rc = pk__bundle_read(h, path, b, b->manifest, &man)) < 0)
    return rc;
  if (policy != PK_TRUST_OFF) {
    rc = check_sig(h, path, b, man, (size_t)b->manifest->size);
    if (rc < 0 && policy == PK_TRUST_REQUIRE)
      goto done;
    if (rc < 0 && h->log != NULL)
      h->log(h->log_ud, PK_LOG_WARN, "plugkit", pk_host_errmsg(h),
             strlen(pk_host_errmsg(h)));
  }
  snprintf(file, sizeof file, "%s!%s", path, b->manifest->name);
  rc = pk__manifest_parse(h, file, (const char *)man,
                          (size_t)b->manifest->size, out);
done:
  pk__free(h, man);
  return rc;
}

int pk__bundle_open(pk_host *h, const char *path, const pk_open_opts *o,
                    pk_plugin **out_plugin) {
  pk__bundle b;
  pk__manifest *m = NULL;
  const pk__artifact *a;
  const pk__bmember *am;
  member_ctx mc;
  pk_plugin *p = NULL;
  char shown[4096];
  int rc, policy = o->trust != 0 ? o->trust : h->trust;

  if (policy == PK_TRUST_DEFAULT)
    policy = PK_TRUST_OFF;
  if (policy < PK_TRUST_OFF || policy > PK_TRUST_REQUIRE)
    return pk__err(h, PK_EINVAL, path, "open",
                   "unknown trust policy %d (a pk_trust)", policy);
  if ((rc = pk__bundle_index(h, path, &b)) < 0)
    return rc;
  if ((rc = pk__bundle_manifest(h, path, &b, policy, &m)) < 0)
    goto done;
  if ((rc = pk__manifest_check_abi(h, m, path)) < 0)
    goto done;
  if ((rc = pk__manifest_pick(h, m, o->backend, o->artifacts, &a)) < 0)
    goto done;
  if ((am = pk__bundle_find(&b, a->path)) == NULL) {
    rc = pk__err(h, PK_ENOENT, path, "bundle",
                 "artifact %s [%s] of the manifest is not in the bundle",
                 a->path, a->backend);
    goto done;
  }
  /* info.path: the bundle; info.artifact: "<bundle>!<member>". */
  snprintf(shown, sizeof shown, "%s!%s", path, am->name);
  mc.path = path;
  mc.b = &b;
  mc.m = am;
  mc.a = a;
  if ((rc = pk__artifact_open_copy(h, shown, am->name, a, o, fill_member,
                                   &mc, &p)) < 0)
    goto done;
  if (p->name == NULL || strcmp(p->name, m->name) != 0 ||
      p->version == NULL || strcmp(p->version, m->version_text) != 0) {
    rc = pk__err(h, PK_EFORMAT, path, "manifest",
                 "the manifest names %s %s, but artifact %s declares %s %s",
                 m->name, m->version_text, a->path, p->name ? p->name : "?",
                 p->version ? p->version : "?");
    pk_plugin_close(p);
    goto done;
  }
  if ((p->manifest = pk__strdup(h, path)) == NULL) {
    rc = pk__err(h, PK_ENOMEM, path, "bundle", "out of memory");
    pk_plugin_close(p);
    goto done;
  }
  *out_plugin = p;
  rc = PK_OK;
done:
  pk__manifest_free(h, m);
  pk__bundle_close(&b);
  return rc;
}
