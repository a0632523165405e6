/* cli.h: shared by the plugkit CLI's source files (tools/ only). */
#ifndef PK_TOOLS_CLI_H
#define PK_TOOLS_CLI_H

#include "plugkit.h"

/* Parse `s` as a value of `type` into *v; bytes (hex) go into *buf, which
   the caller frees. Returns 0, or -1 with a reason in why. */
int cli_parse_arg(const char *s, int type, pk_val *v, unsigned char **buf,
                  char *why, size_t cap);

/* plugkit bench [--all-backends] [--runs N] FILE FN [ARG...] */
int cli_bench(int argc, char **argv);

/* plugkit new NAME [--lang c|rust|lua|python] [--dir DIR] (cli_new.c) */
int cli_new(int argc, char **argv);

/* plugkit scan [--json] [--probe] [--no-cache] DIR... (cli_scan.c) */
int cli_scan(int argc, char **argv);
/* plugkit pack DIR -o NAME.pkb (cli_scan.c) */
int cli_pack(int argc, char **argv);

/* The text of a key file (at most 4 KiB), NUL-terminated, the caller's
   to free; NULL (message on stderr) when it cannot be read. */
char *cli_read_key(const char *path);

/* plugkit keygen|sign|verify ... (cli_sign.c); `cmd` is one of those. */
int cli_sign(const char *cmd, int argc, char **argv);

#endif /* PK_TOOLS_CLI_H */
