/*
 * native.c: plugins as shared objects, loaded with the platform's dynamic
 * loader. Trusted code in the host's address space: the fastest backend,
 * and the one that cannot protect the host from its plugin.
 *
 * Each open loads a private copy of the file (see pk__os_lib_open), so two
 * opens of one file are two instances, and a file rebuilt in place loads
 * its new code on the next open even while the old one is still open. A
 * bundle's artifact (p->src) is such a copy already: it loads as it is.
 */
#include "native.h"

#include <string.h>

#include "../os/os.h"

typedef struct native_state {
  pk__os_lib lib;
  const pk_plugin_desc *desc;
  int inited; /* init ran and succeeded: fini must run */
} native_state;

static int native_probe(const unsigned char *h, size_t n, const char *path,
                        int isdir) {
  (void)path;
  if (isdir || n < 4 || memcmp(h, "\177ELF", 4) != 0)
    return 0;
  /* An executable is the process backend's (it outbids this); a shared
     object is ours. */
  return pk__elf_executable(h, n) ? 10 : 100;
}

static int native_open(pk_plugin *p) {
  unsigned char head[4096];
  char err[512];
  size_t n = 0;
  uint64_t size = 0;
  int isdir = 0, rc;
  native_state *st;

  if (p->src != NULL) { /* the opener has read it */
    n = p->src->nhead < sizeof head ? p->src->nhead : sizeof head;
    memcpy(head, p->src->head, n);
    size = p->src->size;
  } else if ((rc = pk__os_read_head(p->path, head, sizeof head, &n,
                                    &isdir)) < 0 ||
             (rc = pk__os_file_size(p->path, &size)) < 0)
    return pk__perr(p, rc, "cannot read the file");
  if ((rc = pk__elf_check(p, head, n, size)) < 0)
    return rc;
  if (p->describe_only) /* from the file: no constructor, no init runs */
    return pk__elf_describe(p);
  if ((st = pk__alloc(p->host, sizeof *st)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(st, 0, sizeof *st);
  st->lib.fd = -1;
  p->bstate = st;
  if (p->src != NULL && p->src->fd >= 0) {
    /* Private already: load it as it is and keep its fd while loaded. */
    rc = pk__os_lib_open_fd(p->path, p->src->fd, &st->lib, err, sizeof err);
    if (rc >= 0)
      p->src->fd = -1;
  } else
    rc = pk__os_lib_open(p->path, 1, &st->lib, err, sizeof err);
  if (rc < 0)
    return pk__perr(p, rc, "the dynamic loader refused it: %s", err);
  st->desc = pk__os_lib_sym(&st->lib, PK_DESCRIPTOR_SYMBOL);
  if (st->desc == NULL)
    return pk__perr(p, PK_ENODESC,
                    "no symbol '%s': not a plugkit plugin (a shared object "
                    "without PK_PLUGIN(...))",
                    PK_DESCRIPTOR_SYMBOL);
  if ((rc = pk__desc_load(p, st->desc)) < 0)
    return rc;
  if ((rc = pk__desc_init(p, st->desc)) < 0)
    return rc;
  st->inited = 1;
  return PK_OK;
}

static void native_close(pk_plugin *p) {
  native_state *st = p->bstate;
  if (st == NULL)
    return;
  if (st->inited)
    pk__desc_fini(p, st->desc);
  pk__os_lib_close(&st->lib);
  pk__free(p->host, st);
  p->bstate = NULL;
}

const pk__backend pk__backend_native = {
    "native", native_probe, native_open, native_close, PK__LIM_DESCRIBE,
    NULL,     NULL,         NULL,        NULL};
