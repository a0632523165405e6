/* aot_cc.c: see aot_cc.h. */
#define _GNU_SOURCE 1
#include "aot_cc.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void *aot_sym(void *ud, const char *name) { return dlsym(ud, name); }
static void aot_close(void *ud) { dlclose(ud); }

static void free_c(const pkw_alloc *a, char *c) {
  if (a != NULL && a->realloc_fn != NULL)
    a->realloc_fn(a->ud, c, 0);
  else
    free(c);
}

/* Runs cc with the aot flags on src into out: 0, PKWT_AOT_NO_CC, or -1
   (it failed). */
static int run_cc(const char *src, const char *out) {
  static const char *const flags[] = {
#define F_(x) x,
      PKW_AOT_CFLAGS(F_)
#undef F_
      NULL};
  const char *argv[64];
  size_t i, k = 0;
  pid_t pid;
  int st;
  argv[k++] = "cc";
  for (i = 0; flags[i] != NULL; i++)
    argv[k++] = flags[i];
  argv[k++] = "-o";
  argv[k++] = out;
  argv[k++] = src;
  argv[k] = NULL;
  if (posix_spawnp(&pid, "cc", NULL, NULL, (char *const *)argv, environ) !=
      0)
    return PKWT_AOT_NO_CC;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return -1;
  return 0;
}

/* FNV-1a of the C and the flags: the cached object's name. */
static uint64_t c_hash(const char *c, size_t n) {
  static const char *const flags[] = {
#define F_(x) x,
      PKW_AOT_CFLAGS(F_)
#undef F_
      NULL};
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i, k;
  for (i = 0; i < n; i++)
    h = (h ^ (uint8_t)c[i]) * 0x100000001b3ull;
  for (i = 0; flags[i] != NULL; i++)
    for (k = 0; flags[i][k] != '\0'; k++)
      h = (h ^ (uint8_t)flags[i][k]) * 0x100000001b3ull;
  return h;
}

int pkwt_aot_bind(pkw_module *m, const pkw_alloc *a, const char *dir,
                  int cache, int *built, char *err, size_t errlen) {
  char tdir[512], src[1100], so[1100], tmp[1200];
  char *c = NULL;
  size_t clen = 0;
  void *lib;
  FILE *f;
  int rc;
  if ((rc = pkw_module_cgen_ex(m, PKW_CGEN_AOT, &c, &clen, err, errlen)) !=
      PKW_OK)
    return rc;
  if (cache) {
    uint64_t h = c_hash(c, clen);
    snprintf(so, sizeof so, "%.900s/%016" PRIx64 "-%zu.so", dir, h, clen);
    snprintf(src, sizeof src, "%.900s/%016" PRIx64 "-%zu.%ld.c", dir, h,
             clen, (long)getpid());
  } else {
    snprintf(tdir, sizeof tdir, "%.400s/pkw_aot.XXXXXX", dir);
    if (mkdtemp(tdir) == NULL) {
      free_c(a, c);
      snprintf(err, errlen, "mkdtemp %.400s: %s", tdir, strerror(errno));
      return PKW_EUNSUPPORTED;
    }
    snprintf(so, sizeof so, "%s/m.so", tdir);
    snprintf(src, sizeof src, "%s/m.c", tdir);
  }
  /* Built under a name of its own, then renamed: a parallel test never
     loads a half-written object. */
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", so, (long)getpid());
  if (built != NULL)
    *built = 0;
  if (!cache || access(so, R_OK) != 0) {
    if (built != NULL)
      *built = 1;
    if ((f = fopen(src, "w")) == NULL || fwrite(c, 1, clen, f) != clen) {
      if (f != NULL)
        fclose(f);
      free_c(a, c);
      snprintf(err, errlen, "cannot write %.400s", src);
      rc = PKW_EUNSUPPORTED;
      goto out;
    }
    fclose(f);
    rc = run_cc(src, tmp);
    if (rc == 0 && rename(tmp, so) != 0)
      rc = -1;
    if (rc != 0) {
      free_c(a, c);
      if (rc == PKWT_AOT_NO_CC)
        snprintf(err, errlen, "no C compiler: cannot start cc");
      else
        snprintf(err, errlen, "cc failed on the generated C (%.400s)", src);
      remove(tmp);
      if (!cache)
        remove(src);
      rc = rc == PKWT_AOT_NO_CC ? rc : PKW_EUNSUPPORTED;
      goto out;
    }
    remove(src);
  }
  free_c(a, c);
  if ((lib = dlopen(so, RTLD_NOW | RTLD_LOCAL)) == NULL) {
    snprintf(err, errlen, "dlopen: %.300s", dlerror());
    rc = PKW_EUNSUPPORTED;
    goto out;
  }
  rc = pkw_module_bind_aot(m, aot_sym, aot_close, lib, err, errlen);
  if (rc != PKW_OK)
    dlclose(lib);
out:
  if (!cache) {
    remove(so);
    rmdir(tdir);
  }
  return rc;
}
