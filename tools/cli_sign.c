/*
 * cli_sign.c: plugkit keygen, sign and verify (docs/manifest.md).
 *
 *   plugkit keygen [-o BASE] [--password-stdin]  BASE.pub, BASE.key (0600)
 *   plugkit sign -k KEY [-t COMMENT] [--password-stdin] FILE.plugkit
 *   plugkit verify -p PUB FILE.plugkit|FILE.pkb
 *
 * Exit status: 0 done (verify: the signature and every artifact's hash
 * check out); 1 an error (message on stderr); 2 a usage error; 5 verify
 * found the manifest untrusted, its signature bad, or an artifact not
 * matching its hash.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_BAD = 5 };

static void usage_sign(void) {
  fputs("usage: plugkit keygen [-o BASE] [--password-stdin]\n"
        "       plugkit sign -k KEY [-t COMMENT] [--password-stdin] "
        "FILE.plugkit\n"
        "       plugkit verify -p PUB FILE.plugkit|FILE.pkb\n",
        stderr);
}

char *cli_read_key(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  if (f == NULL) {
    fprintf(stderr, "plugkit: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  buf = malloc(4097);
  n = buf ? fread(buf, 1, 4096, f) : 0;
  if (buf != NULL && (n == 4096 || ferror(f))) {
    fprintf(stderr, "plugkit: %s: not a key file (unreadable, or above "
                    "4 KiB)\n", path);
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf != NULL)
    buf[n] = '\0';
  return buf;
}

/* Write `text` to a new file (never over an existing one) with `mode`. */
static int write_new(const char *path, const char *text, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
  size_t n = strlen(text);
  if (fd < 0) {
    fprintf(stderr, "plugkit: %s: %s%s\n", path, strerror(errno),
            errno == EEXIST ? " (keygen never replaces a key)" : "");
    return -1;
  }
  if (write(fd, text, n) != (ssize_t)n || close(fd) != 0) {
    fprintf(stderr, "plugkit: %s: cannot write\n", path);
    return -1;
  }
  return 0;
}

static pk_host *host(void) {
  pk_host *h = NULL;
  if (pk_host_create(NULL, &h) < 0) {
    fprintf(stderr, "plugkit: out of memory\n");
    return NULL;
  }
  return h;
}

/* The first line of stdin, without its newline, into pw. */
static int read_password(char *pw, size_t cap) {
  if (fgets(pw, (int)cap, stdin) == NULL) {
    fprintf(stderr, "plugkit: no password on stdin\n");
    return -1;
  }
  pw[strcspn(pw, "\r\n")] = '\0';
  return 0;
}

static int keygen(int argc, char **argv) {
  const char *base = "plugkit";
  char pub[PK_KEY_TEXT_MAX], sec[PK_KEY_TEXT_MAX], pp[4096], kp[4096];
  char pw[1024];
  pk_host *h;
  int i, rc, status = 0, pw_stdin = 0;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else if (strcmp(argv[i], "--password-stdin") == 0) {
      pw_stdin = 1;
    } else {
      usage_sign();
      return EXIT_USAGE;
    }
  }
  if (snprintf(pp, sizeof pp, "%s.pub", base) >= (int)sizeof pp ||
      snprintf(kp, sizeof kp, "%s.key", base) >= (int)sizeof kp) {
    fprintf(stderr, "plugkit: keygen: -o path too long\n");
    return EXIT_USAGE;
  }
  if (pw_stdin && read_password(pw, sizeof pw) < 0)
    return EXIT_USAGE;
  if ((h = host()) == NULL)
    return EXIT_ERR;
  rc = pk_keygen(h, pw_stdin ? pw : NULL, pub, sizeof pub, sec, sizeof sec);
  memset(pw, 0, sizeof pw);
  if (rc < 0) {
    fprintf(stderr, "plugkit: %s (%s)\n", pk_host_errmsg(h), pk_errname(rc));
    pk_host_destroy(h);
    return EXIT_ERR;
  }
  pk_host_destroy(h);
  /* The secret first, so a failure leaves no public key without it. */
  if (write_new(kp, sec, 0600) < 0)
    status = EXIT_ERR;
  else if (write_new(pp, pub, 0644) < 0) {
    remove(kp);
    status = EXIT_ERR;
  } else
    printf("wrote %s (public) and %s (secret: keep it so)\n", pp, kp);
  memset(sec, 0, sizeof sec);
  return status;
}

static int sign(int argc, char **argv) {
  const char *keyfile = NULL, *comment = NULL, *file = NULL;
  char pw[1024], *key;
  int i, rc, pw_stdin = 0;
  pk_host *h;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-k") == 0 && i + 1 < argc)
      keyfile = argv[++i];
    else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
      comment = argv[++i];
    else if (strcmp(argv[i], "--password-stdin") == 0)
      pw_stdin = 1;
    else if (argv[i][0] != '-' && file == NULL)
      file = argv[i];
    else
      file = NULL, i = argc + 1;
  }
  if (keyfile == NULL || file == NULL || i > argc) {
    usage_sign();
    return EXIT_USAGE;
  }
  pw[0] = '\0';
  if (pw_stdin && read_password(pw, sizeof pw) < 0)
    return EXIT_USAGE;
  if ((key = cli_read_key(keyfile)) == NULL)
    return EXIT_ERR;
  if ((h = host()) == NULL) {
    free(key);
    return EXIT_ERR;
  }
  rc = pk_manifest_sign(h, file, key, pw_stdin ? pw : NULL, comment);
  memset(key, 0, strlen(key));
  memset(pw, 0, sizeof pw);
  free(key);
  if (rc < 0)
    fprintf(stderr, "plugkit: %s (%s)\n", pk_host_errmsg(h), pk_errname(rc));
  pk_host_destroy(h);
  return rc < 0 ? EXIT_ERR : 0;
}

/* Is `path` a bundle (a tar archive: "ustar" at offset 257)? */
static int is_bundle(const char *path) {
  unsigned char head[263];
  FILE *f = fopen(path, "rb");
  size_t n;
  if (f == NULL)
    return 0;
  n = fread(head, 1, sizeof head, f);
  fclose(f);
  return n == sizeof head && memcmp(head + 257, "ustar", 5) == 0;
}

static int verify(int argc, char **argv) {
  const char *pubfile = NULL, *file = NULL;
  char *pub;
  int i, rc;
  pk_host *h;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
      pubfile = argv[++i];
    else if (argv[i][0] != '-' && file == NULL)
      file = argv[i];
    else
      file = NULL, i = argc + 1;
  }
  if (pubfile == NULL || file == NULL || i > argc) {
    usage_sign();
    return EXIT_USAGE;
  }
  if ((pub = cli_read_key(pubfile)) == NULL)
    return EXIT_ERR;
  if ((h = host()) == NULL) {
    free(pub);
    return EXIT_ERR;
  }
  rc = is_bundle(file) ? pk_bundle_verify(h, file, pub)
                       : pk_manifest_verify(h, file, pub);
  free(pub);
  if (rc < 0)
    fprintf(stderr, "plugkit: %s (%s)\n", pk_host_errmsg(h), pk_errname(rc));
  else
    printf("%s: signature and artifact hashes verified\n", file);
  pk_host_destroy(h);
  if (rc == PK_EBADSIG || rc == PK_EUNTRUSTED || rc == PK_EHASH)
    return EXIT_BAD;
  return rc < 0 ? EXIT_ERR : 0;
}

int cli_sign(const char *cmd, int argc, char **argv) {
  if (strcmp(cmd, "keygen") == 0)
    return keygen(argc, argv);
  if (strcmp(cmd, "sign") == 0)
    return sign(argc, argv);
  return verify(argc, argv);
}
