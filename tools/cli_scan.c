/*
 * cli_scan.c: `plugkit scan [--json] [--probe] [--no-cache] DIR...` prints
 * the catalog pk_catalog_scan makes, and `plugkit pack DIR -o NAME.pkb`
 * makes a bundle. Clients of the public API only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* A JSON string: quotes, backslashes and control bytes escaped; bytes
   from a plugin's file are printed as they are otherwise. */
static void json_s(const char *s) {
  putchar('"');
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

/* A plugin's text on a terminal: no control bytes. */
static void plain_s(const char *s) {
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    putchar(c < 0x20 || c == 0x7f ? '?' : c);
  }
}

static void print_json(const pk_catalog *c) {
  const size_t *order;
  size_t n = pk_catalog_order(c, &order), i;
  printf("{\"plugins\": [");
  for (i = 0; i < pk_catalog_count(c); i++) {
    const pk_catalog_entry *e = pk_catalog_get(c, i);
    printf("%s\n  {\"name\": ", i ? "," : "");
    json_s(e->name);
    printf(", \"version\": ");
    json_s(e->version);
    printf(", \"path\": ");
    json_s(e->path);
    printf(", \"kind\": ");
    json_s(e->kind);
    printf(", \"backends\": ");
    json_s(e->backends);
    printf(", \"grants\": ");
    json_s(e->grants);
    printf(", \"deps\": ");
    json_s(e->deps);
    printf(", \"abi\": \"%u.%u\", \"status\": ", e->abi_major, e->abi_minor);
    json_s(pk_catalog_status_name(e->status));
    if (e->status != PK_CATALOG_OK) {
      printf(", \"error\": ");
      json_s(pk_errname(e->error));
      printf(", \"reason\": ");
      json_s(e->reason);
    }
    printf("}");
  }
  printf("\n], \"order\": [");
  for (i = 0; i < n; i++) {
    printf("%s", i ? ", " : "");
    json_s(pk_catalog_get(c, order[i])->name);
  }
  printf("]}\n");
}

static void print_text(const pk_catalog *c) {
  const size_t *order;
  size_t n = pk_catalog_order(c, &order), i;
  for (i = 0; i < pk_catalog_count(c); i++) {
    const pk_catalog_entry *e = pk_catalog_get(c, i);
    plain_s(e->name);
    putchar(' ');
    plain_s(*e->version ? e->version : "-");
    printf("  %s  %s  %s\n", pk_catalog_status_name(e->status), e->kind,
           e->path);
    if (*e->backends)
      printf("    backends: %s\n", e->backends);
    if (*e->grants) {
      printf("    grants: ");
      plain_s(e->grants);
      putchar('\n');
    }
    if (*e->deps) {
      printf("    deps: ");
      plain_s(e->deps);
      putchar('\n');
    }
    if (e->status != PK_CATALOG_OK) {
      printf("    %s: ", pk_errname(e->error));
      plain_s(e->reason);
      putchar('\n');
    }
  }
  printf("load order:");
  for (i = 0; i < n; i++) {
    putchar(' ');
    plain_s(pk_catalog_get(c, order[i])->name);
  }
  printf("\n");
}

int cli_scan(int argc, char **argv) {
  pk_scan_opts o = PK_SCAN_OPTS_INIT;
  const char *dirs[256];
  int json = 0, i, n = 0, rc;
  pk_host *h = NULL;
  pk_catalog *c = NULL;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--probe") == 0)
      o.probe = 1;
    else if (strcmp(argv[i], "--no-cache") == 0)
      o.no_cache = 1;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "plugkit scan: unknown option '%s'\n", argv[i]);
      return 2;
    } else if (n < 255)
      dirs[n++] = argv[i];
  }
  if (n == 0) {
    fprintf(stderr,
            "usage: plugkit scan [--json] [--probe] [--no-cache] DIR...\n");
    return 2;
  }
  dirs[n] = NULL;
  if ((rc = pk_host_create(NULL, &h)) < 0 ||
      (rc = pk_catalog_scan(h, dirs, &o, &c)) < 0) {
    fprintf(stderr, "plugkit: %s\n",
            h ? pk_host_errmsg(h) : pk_strerror(rc));
    pk_host_destroy(h);
    return 1;
  }
  if (json)
    print_json(c);
  else
    print_text(c);
  pk_catalog_free(c);
  pk_host_destroy(h);
  return 0;
}

int cli_pack(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  pk_host *h = NULL;
  int i, rc;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] != '-' && dir == NULL)
      dir = argv[i];
    else {
      dir = NULL;
      break;
    }
  }
  if (dir == NULL || out == NULL) {
    fprintf(stderr, "usage: plugkit pack DIR -o NAME.pkb\n");
    return 2;
  }
  if ((rc = pk_host_create(NULL, &h)) < 0 ||
      (rc = pk_bundle_pack(h, dir, out)) < 0) {
    fprintf(stderr, "plugkit: %s\n",
            h ? pk_host_errmsg(h) : pk_strerror(rc));
    pk_host_destroy(h);
    return 1;
  }
  pk_host_destroy(h);
  return 0;
}
