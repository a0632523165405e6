/*
 * desc.c: the descriptor of in-process plugins (native shared objects and
 * C source compiled at load), as PK_PLUGIN lays it out.
 */
#include "core.h"

#include <string.h>

static const pk_hook_desc *hook_at(const pk_plugin_desc *d, uint32_t i) {
  return (const pk_hook_desc *)(const void *)((const char *)d->hooks +
                                              (size_t)i * d->hook_size);
}

int pk__desc_load(pk_plugin *p, const pk_plugin_desc *d) {
  uint32_t i;
  int rc;

  if (d->magic != PK_DESC_MAGIC)
    return pk__perr(p, PK_ENODESC,
                    "descriptor magic is 0x%08x, expected 0x%08x: the "
                    "symbol is not a plugkit descriptor",
                    d->magic, PK_DESC_MAGIC);
  if (d->abi_major != PK_ABI_MAJOR)
    return pk__perr(p, PK_EABI,
                    "plugin built for plugkit ABI %u.%u, host implements "
                    "%u.%u: abi_major differs (plugin too %s); rebuild it "
                    "against this plugkit",
                    d->abi_major, d->abi_minor, PK_ABI_MAJOR, PK_ABI_MINOR,
                    d->abi_major > PK_ABI_MAJOR ? "new" : "old");
  if (d->abi_minor > PK_ABI_MINOR)
    return pk__perr(p, PK_EABI,
                    "plugin built for plugkit ABI %u.%u, host implements "
                    "%u.%u: abi_minor is newer (plugin too new); upgrade "
                    "the host",
                    d->abi_major, d->abi_minor, PK_ABI_MAJOR, PK_ABI_MINOR);
  if (d->size < sizeof *d)
    return pk__perr(p, PK_EABI,
                    "descriptor size is %u bytes, ABI %u.%u needs at least "
                    "%zu",
                    d->size, d->abi_major, d->abi_minor, sizeof *d);
  if (d->export_size < sizeof(pk_export_desc))
    return pk__perr(p, PK_EABI,
                    "export entry size is %u bytes, ABI %u.%u needs at "
                    "least %zu",
                    d->export_size, d->abi_major, d->abi_minor,
                    sizeof(pk_export_desc));
  if (d->hook_size < sizeof(pk_hook_desc))
    return pk__perr(p, PK_EABI,
                    "hook entry size is %u bytes, ABI %u.%u needs at least "
                    "%zu",
                    d->hook_size, d->abi_major, d->abi_minor,
                    sizeof(pk_hook_desc));
  if (d->name == NULL || d->version == NULL ||
      (d->nexports > 0 && d->exports == NULL) ||
      (d->nhooks > 0 && d->hooks == NULL))
    return pk__perr(p, PK_EFORMAT, "descriptor has a NULL name, version, "
                                   "export table or hook table");
  for (i = 0; i < d->nhooks; i++) {
    const pk_hook_desc *k = hook_at(d, i);
    if (k->kind == PK_HOOK_THREADSAFE) {
      p->flags &= ~PK__PF_SERIAL;
      continue;
    }
    if ((k->kind != PK_HOOK_INIT && k->kind != PK_HOOK_FINI) || !k->fn)
      return pk__perr(p, PK_EFORMAT, "hook #%u is invalid (kind %u)", i,
                      k->kind);
  }
  p->abi_major = d->abi_major;
  p->abi_minor = d->abi_minor;
  if ((p->name = pk__plugin_strdup(p, d->name)) == NULL ||
      (p->version = pk__plugin_strdup(p, d->version)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  if ((rc = pk__plugin_exports(p, d->nexports)) < 0)
    return rc;
  for (i = 0; i < d->nexports; i++) {
    const pk_export_desc *e =
        (const pk_export_desc *)(const void *)((const char *)d->exports +
                                               (size_t)i * d->export_size);
    pk_func *f = &p->funcs[i];
    if ((rc = pk__func_init(p, f, e->name, e->sig)) < 0)
      return rc;
    if (e->thunk == NULL)
      return pk__perr(p, PK_EFORMAT, "export '%s' has no entry point",
                      e->name);
    if (f->sig.nresults > 1)
      return pk__perr(p, PK_EFORMAT,
                      "export '%s' (%s): C exports have at most one result",
                      e->name, f->sigtext);
    f->thunk = e->thunk;
    f->raw = (e->flags & PK_EXPORT_F_CTX) ? NULL : (pk_raw_fn)e->fn;
  }
  return PK_OK;
}

int pk__desc_init(pk_plugin *p, const pk_plugin_desc *d) {
  uint32_t i;
  for (i = 0; i < d->nhooks; i++) {
    const pk_hook_desc *k = hook_at(d, i);
    if (k->kind == PK_HOOK_INIT) {
      int (*init)(pk_ctx *) = (int (*)(pk_ctx *))k->fn;
      int rc;
      pk__lane *l = p->olane;
      p->phase = "init";
      l->ctx.status = 0;
      rc = init(&l->ctx);
      if (rc != 0 || l->ctx.status) {
        int code = l->ctx.status == PK_ENOMEM ? PK_ENOMEM : PK_EINIT;
        if (!l->ctx.status)
          pk__perr(p, PK_EINIT, "init hook returned %d", rc);
        l->ctx.status = 0;
        return code;
      }
      p->phase = "open";
    }
  }
  return PK_OK;
}

void pk__desc_fini(pk_plugin *p, const pk_plugin_desc *d) {
  uint32_t i;
  for (i = 0; i < d->nhooks; i++) {
    const pk_hook_desc *k = hook_at(d, i);
    if (k->kind == PK_HOOK_FINI) {
      void (*fini)(pk_ctx *) = (void (*)(pk_ctx *))k->fn;
      p->phase = "fini";
      fini(&p->olane->ctx);
    }
  }
}
