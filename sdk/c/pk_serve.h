/*
 * pk_serve.h: the plugin side of the process protocol, for C.
 *
 * Most plugins never include this: link the plugin's source with
 * pk_serve.c and pk_wire.c (no libplugkit needed) and the result is an
 * executable that serves the plugin's PK_PLUGIN(...) exports to a host.
 * pk_serve.c supplies main() unless compiled with PK_SERVE_NO_MAIN; run by
 * a person rather than a host, that main() explains itself and exits 2.
 *
 * Programs that serve something other than one compiled-in descriptor
 * (plugkit-runner serves any plugin libplugkit can open) implement
 * pk_serve_ops and call pk_serve_run themselves.
 */
#ifndef PK_SDK_SERVE_H
#define PK_SDK_SERVE_H

#include "plugkit_plugin.h"

typedef struct pk_serve pk_serve;

typedef struct pk_serve_ops {
  /* After the host's HELLO: load the plugin and run its init. Describe it
     with pk_serve_describe and pk_serve_export. Return 0, or a negative
     PK_E* code after pk_serve_fail. */
  int (*open)(pk_serve *s, void *ud);
  /* Call export `index`: `nargs` checked-by-the-host values; write the
     results with their type tags and set *nresults. Return 0, or a code
     after pk_serve_fail. */
  int (*call)(pk_serve *s, void *ud, uint32_t index, const pk_val *args,
              size_t nargs, pk_val *results, size_t *nresults);
  /* On SHUTDOWN: run fini. May log. */
  void (*close)(pk_serve *s, void *ud);
} pk_serve_ops;

/* Serve until the host shuts us down. Returns the exit status. */
int pk_serve_run(const pk_serve_ops *ops, void *ud);

/* Serve a plugin built with PK_PLUGIN (what the default main() does). */
int pk_serve_desc(const pk_plugin_desc *d);

/* What ops->open reports. Strings are copied. */
int pk_serve_describe(pk_serve *s, const char *name, const char *version,
                      uint32_t abi_major, uint32_t abi_minor);
int pk_serve_export(pk_serve *s, const char *name, const char *sig);
/* plugkit-runner serving a wasm plugin: the execution tier its open chose
   ("interp", "jit", "aot"), sent in READY (PK__WIRE_F_TIER) for the
   host's pk_plugin_info.tier. Copied; NULL: none (the default). */
int pk_serve_tier(pk_serve *s, const char *tier);

/* The host's config (count, and the i-th pair) and grants. Borrowed. */
size_t pk_serve_nconfig(const pk_serve *s);
void pk_serve_config_at(const pk_serve *s, size_t i, pk_str *key,
                        pk_str *val);
int pk_serve_config(const pk_serve *s, const char *key, size_t keylen,
                    pk_str *out);
size_t pk_serve_ngrants(const pk_serve *s);
void pk_serve_grant_at(const pk_serve *s, size_t i, const char **name,
                       const char **sig);

/* Fail the current call or open with `code` and a message. */
void pk_serve_fail(pk_serve *s, int code, const char *msg, size_t len);
/* Send a line to the host's log sink (waits for the host's ACK). */
void pk_serve_log(pk_serve *s, int level, const char *msg, size_t len);
/* Memory for results, valid until the outermost call's reply is sent. */
void *pk_serve_alloc(pk_serve *s, size_t n);
/* Call granted host function `index` (0-based position in the grants).
   Nested calls from the host are served while waiting. */
int pk_serve_host_call(pk_serve *s, int32_t index, const pk_val *args,
                       size_t nargs, pk_val *results, size_t nresults);

/*
 * For fault-injection tests only: write `n` raw bytes to the host as if
 * they were a frame (in shared-memory mode the slot announces a frame on
 * the socket first). Never used by real plugins.
 */
void pk_serve_test_raw(pk_serve *s, const void *bytes, size_t n);
/* The engine behind a pk_ctx given to a descriptor plugin's functions. */
pk_serve *pk_serve_from_ctx(pk_ctx *c);

#endif /* PK_SDK_SERVE_H */
