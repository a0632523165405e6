/* host.c: hosts and host functions. */
#include "core.h"
#include "../os/os.h"

#include <stdio.h>
#include <string.h>

int pk_host_create(const pk_host_opts *opts, pk_host **out_host) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h;
  pk_host tmp;

  if (out_host == NULL)
    return PK_EINVAL;
  if (opts != NULL) {
    /* Size-versioned: read what the caller has, zeros for the rest. */
    if (opts->size < offsetof(pk_host_opts, alloc) + sizeof opts->alloc)
      return PK_EINVAL;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    o.size = sizeof o;
  }
  memset(&tmp, 0, sizeof tmp);
  tmp.alloc = o.alloc;
  tmp.alloc_ud = o.alloc_ud;
  if ((h = pk__alloc(&tmp, sizeof *h)) == NULL)
    return PK_ENOMEM;
  memset(h, 0, sizeof *h);
  h->alloc = o.alloc;
  h->alloc_ud = o.alloc_ud;
  h->log = o.log;
  h->log_ud = o.log_ud;
  h->serial = pk__serial_next();
  if (pk__os_mutex_init(&h->mu) < 0) {
    pk__free(h, h);
    return PK_ENOMEM;
  }
  h->trust = o.trust;
  *out_host = h;
  return PK_OK;
}

void pk_host_destroy(pk_host *h) {
  size_t i;
  if (h == NULL)
    return;
  /* A plugin closed from inside its own call is still listed, closed:
     its second close finishes it. */
  while (h->plugins != NULL)
    pk_plugin_close(h->plugins);
  pk_host_reclaim(h);
  for (i = 0; i < h->nfns; i++) {
    pk__free(h, h->fns[i].name);
    pk__free(h, h->fns[i].sigtext);
  }
  pk__free(h, h->fns);
  for (i = 0; i < PK__SPARE_N; i++)
    pk__free(h, h->spare[i].p);
  pk__os_mutex_destroy(&h->mu);
  pk__free(h, h);
}

const char *pk_host_errmsg(const pk_host *h) {
  return h != NULL ? pk__thread_errmsg_get(h) : "no host";
}

static int valid_name(const char *s) {
  size_t n = 0;
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s; s++, n++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.'))
      return 0;
  }
  return n <= 63;
}

int pk_host_define(pk_host *h, const char *name, const char *sig,
                   pk_host_fn fn, void *ud) {
  char why[160], text[PK__SIG_MAX];
  pk__hostfn f;
  size_t i;

  if (h == NULL)
    return PK_EINVAL;
  if (!valid_name(name))
    return pk__err(h, PK_EINVAL, NULL, "define",
                   "host function name '%s' is not an identifier of at "
                   "most 63 characters",
                   name ? name : "(null)");
  if (fn == NULL)
    return pk__err(h, PK_EINVAL, NULL, "define",
                   "host function '%s': the callback is NULL", name);
  if (pk__sig_parse(sig, &f.sig, why, sizeof why) < 0)
    return pk__err(h, PK_EINVAL, NULL, "define",
                   "host function '%s': bad signature '%s': %s", name,
                   sig ? sig : "(null)", why);
  for (i = 0; i < h->nfns; i++)
    if (strcmp(h->fns[i].name, name) == 0)
      return pk__err(h, PK_EINVAL, NULL, "define",
                     "host function '%s' is already defined", name);
  if (h->nfns == h->capfns) {
    size_t cap = h->capfns ? h->capfns * 2 : 8;
    pk__hostfn *nf = pk__realloc(h, h->fns, cap * sizeof *nf);
    if (nf == NULL)
      return pk__err(h, PK_ENOMEM, NULL, "define", "out of memory");
    h->fns = nf;
    h->capfns = cap;
  }
  pk__sig_format(&f.sig, text);
  f.name = pk__strdup(h, name);
  f.sigtext = pk__strdup(h, text);
  if (f.name == NULL || f.sigtext == NULL) {
    pk__free(h, f.name);
    pk__free(h, f.sigtext);
    return pk__err(h, PK_ENOMEM, NULL, "define", "out of memory");
  }
  f.fn = fn;
  f.ud = ud;
  h->fns[h->nfns++] = f;
  return PK_OK;
}

/* ---- host functions as plugins see them --------------------------------- */

int pk__hostfn_find(pk_plugin *p, const char *name, const char *sig,
                    int32_t *out_index) {
  pk_host *h = p->host;
  size_t i;
  for (i = 0; i < p->ngrants; i++) {
    const pk__hostfn *f = &h->fns[p->grants[i]];
    if (strcmp(f->name, name) != 0)
      continue;
    if (sig != NULL) {
      pk__sig want;
      char why[160];
      if (pk__sig_parse(sig, &want, why, sizeof why) < 0)
        return pk__perr(p, PK_EINVAL,
                        "host function '%s': bad signature '%s': %s", name,
                        sig, why);
      if (!pk__sig_equal(&want, &f->sig))
        return pk__perr(p, PK_ESIG,
                        "host function '%s' is %s, plugin expects %s", name,
                        f->sigtext, sig);
    }
    *out_index = (int32_t)i;
    return PK_OK;
  }
  for (i = 0; i < h->nfns; i++)
    if (strcmp(h->fns[i].name, name) == 0)
      return pk__perr(p, PK_EDENIED,
                      "host function '%s' is not granted to this plugin",
                      name);
  return pk__perr(p, PK_ENOENT, "no host function '%s'", name);
}

int pk__hostfn_check(pk_plugin *p, int32_t index, const pk_val *args,
                     size_t nargs, const pk_val *results, size_t nresults) {
  const pk__hostfn *f;
  size_t i;
  if (index < 0 || (size_t)index >= p->ngrants)
    return pk__perr(p, PK_EINVAL, "host call: no host function #%d",
                    (int)index);
  f = &p->host->fns[p->grants[index]];
  if (nargs != f->sig.nparams || nresults < f->sig.nresults ||
      (nargs > 0 && args == NULL) || (f->sig.nresults > 0 && results == NULL))
    return pk__perr(p, PK_EINVAL,
                    "host call '%s': %zu arguments and room for %zu results, "
                    "signature is %s",
                    f->name, nargs, nresults, f->sigtext);
  for (i = 0; i < nargs; i++)
    if (args[i].type != f->sig.params[i])
      return pk__perr(p, PK_ETYPE,
                      "host call '%s': argument %zu is %s, signature %s", f->name,
                      i + 1, pk_type_name((int)args[i].type), f->sigtext);
  return PK_OK;
}

int pk__hostfn_call(pk__lane *l, int32_t index, const pk_val *args,
                    size_t nargs, pk_val *results, size_t nresults) {
  pk_plugin *p = l->plugin;
  const pk__hostfn *f, *saved;
  const pk_func *saved_cur;
  size_t i;
  int rc, saved_status, *nesting;

  if ((rc = pk__hostfn_check(p, index, args, nargs, results, nresults)) < 0)
    return rc;
  f = &p->host->fns[p->grants[index]];
  nesting = pk__thread_nesting();
  if (PK__UNLIKELY(*nesting >= PK__MAX_NESTING))
    return pk__perr(p, PK_ELIMIT,
                    "host call '%s': nesting depth %d exceeds the limit of "
                    "%d (a host function calling into a plugin that calls a "
                    "host function ...)",
                    f->name, *nesting + 1, PK__MAX_NESTING);
  /* The callback may call back into the plugin: keep what a nested call
     changes (the current function, the failure flag) for the outer one. */
  saved = l->cur_hostfn;
  saved_cur = l->cur;
  saved_status = l->ctx.status;
  l->cur_hostfn = f;
  l->hostfn_msg = 0;
  l->in_host++;
  (*nesting)++;
  rc = f->fn(f->ud, p, args, results);
  (*nesting)--;
  l->in_host--;
  l->cur_hostfn = saved;
  l->cur = saved_cur;
  l->ctx.status = saved_status;
  if (rc < 0) {
    if (!l->hostfn_msg)
      pk__perr(p, rc, "host function '%s' failed: %s", f->name,
               pk_strerror(rc));
    l->hostfn_msg = 0;
    return rc;
  }
  for (i = 0; i < f->sig.nresults; i++)
    results[i].type = f->sig.results[i];
  return PK_OK;
}

/* ---- where plugkit's own files are -------------------------------------- */

int pk__install_path(const char *build, const char *rel, char *buf,
                     size_t cap) {
  char self[4096];
  const char *slash;
  int n;
  if (pk__os_self_path(self, sizeof self) < 0)
    return -1;
#ifdef PK_BUILD_DIR
  if (build != NULL &&
      strncmp(self, PK_BUILD_DIR "/", sizeof PK_BUILD_DIR) == 0) {
    n = snprintf(buf, cap, "%s", build);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
  }
#else
  (void)build;
#endif
  slash = strrchr(self, '/');
  n = snprintf(buf, cap, "%.*s/%s", (int)(slash - self), self, rel);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

#if !defined(PK_HAVE_WASM)
/* The aot tier is the wasm backend's (src/wasm/aot.c). */
int pk_wasm_compile(pk_host *host, const char *path, const char *out_path,
                    char *written, size_t cap) {
  (void)out_path;
  (void)written;
  (void)cap;
  if (host == NULL || path == NULL)
    return PK_EINVAL;
  return pk__err(host, PK_ENOSYS, path, "compile",
                 "this build has no wasm backend");
}
#endif
