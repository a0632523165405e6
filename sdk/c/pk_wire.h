/*
 * pk_wire.h: the plugin protocol's frames and transport (docs/protocol.md),
 * shared by the host (src/process/) and the plugin side (pk_serve.c,
 * plugkit-runner). Internal to plugkit: the names are pk__wire_* and
 * pk__chan_*, compiled into each side with hidden visibility.
 *
 * A frame is a little-endian u32 length, then `length` bytes of body: a
 * u8 frame type and its payload. Frames travel over a stream socket, or,
 * once both sides agreed in the handshake, through a shared-memory slot
 * whose ownership alternates between the two sides (the protocol is
 * strictly request/reply, so exactly one side may write at any time).
 */
#ifndef PK_SDK_WIRE_H
#define PK_SDK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "plugkit_types.h"

#define PK__WIRE_VERSION 1
/* Largest frame body either side accepts: 64 MiB. */
#define PK__WIRE_MAX_FRAME (64u << 20)
/* The environment variable and value that tell a plugin it runs under a
   host (as go-plugin's magic cookie); and where its descriptors are. */
#define PK__WIRE_COOKIE_ENV "PLUGKIT_PLUGIN"
#define PK__WIRE_COOKIE "plugkit-plugin-protocol-1"
#define PK__WIRE_FD_ENV "PLUGKIT_FD"
#define PK__WIRE_SHM_ENV "PLUGKIT_SHM_FD"
#define PK__WIRE_SPIN_ENV "PLUGKIT_SPIN_NS"

/* Frame types. Numbers are part of the protocol: append only. */
enum {
  PK__F_HELLO = 1,    /* host: version range, flags, config, grants */
  PK__F_READY = 2,    /* plugin: version, flags, name, exports */
  PK__F_CALL = 3,     /* host: export index, arguments */
  PK__F_RESULT = 4,   /* plugin: results of the innermost call */
  PK__F_ERROR = 5,    /* plugin: code and message (a call or init failed) */
  PK__F_HOSTCALL = 6, /* plugin: grant index, arguments */
  PK__F_HOSTRET = 7,  /* host: code, results or message */
  PK__F_LOG = 8,      /* plugin: level, line; the host answers ACK */
  PK__F_ACK = 9,      /* host: a LOG was delivered */
  PK__F_SHUTDOWN = 10, /* host: run fini and exit */
  PK__F_BYE = 11      /* plugin: fini ran, exiting */
};

/* HELLO and READY flags. */
#define PK__WIRE_F_SHM 1u /* shared-memory slot offered / accepted */
/* READY only: a `str tier` follows the exports (plugkit-runner serving a
   wasm plugin: the execution tier its open chose). */
#define PK__WIRE_F_TIER 2u

/* ---- encoding ---------------------------------------------------------- */

/* A growable output buffer; `grow` is realloc-shaped. */
typedef struct pk__wbuf {
  uint8_t *p;
  size_t len, cap;
  int oom;     /* 1: out of memory; 2: over PK__WIRE_MAX_FRAME */
  size_t over; /* oom 2: the body size the frame would have had */
  void *(*grow)(void *ud, void *p, size_t n);
  void *ud;
} pk__wbuf;

void pk__wire_begin(pk__wbuf *w, int type);
void pk__wire_u8(pk__wbuf *w, uint32_t v);
void pk__wire_u16(pk__wbuf *w, uint32_t v);
void pk__wire_u32(pk__wbuf *w, uint32_t v);
void pk__wire_u64(pk__wbuf *w, uint64_t v);
void pk__wire_bytes(pk__wbuf *w, const void *p, size_t n); /* u32 + bytes */
void pk__wire_cstr(pk__wbuf *w, const char *s);
/* One value: u8 type, then its payload. */
void pk__wire_val(pk__wbuf *w, const pk_val *v);
/* u8 count, then the values. */
void pk__wire_vals(pk__wbuf *w, const pk_val *v, size_t n);
/* Patch the length. PK_OK, PK_ENOMEM or PK_EPROTO (frame too large: its
   body size is in w->over). */
int pk__wire_end(pk__wbuf *w);

/* ---- decoding ---------------------------------------------------------- */

/* Reads a frame body; any overrun sets `bad` and reads zeros. */
typedef struct pk__rd {
  const uint8_t *p, *end;
  int bad;
} pk__rd;

void pk__rd_init(pk__rd *r, const uint8_t *body, size_t len);
uint32_t pk__rd_u8(pk__rd *r);
uint32_t pk__rd_u16(pk__rd *r);
uint32_t pk__rd_u32(pk__rd *r);
uint64_t pk__rd_u64(pk__rd *r);
/* A u32-prefixed byte string, borrowed from the frame. */
const uint8_t *pk__rd_bytes(pk__rd *r, size_t *out_n);
/* One value (sets bad on an unknown type); str/bytes borrow the frame. */
void pk__rd_val(pk__rd *r, pk_val *v);
/* u8 count (at most `cap`, else bad) and the values; returns the count. */
size_t pk__rd_vals(pk__rd *r, pk_val *v, size_t cap);
/* Everything read and nothing left over? */
int pk__rd_done(const pk__rd *r);

/*
 * Check a whole frame body against the grammar of its type (the fuzz
 * target's entry point, and a cheap guard). PK_OK or PK_EPROTO.
 */
int pk__wire_validate(const uint8_t *body, size_t len);

/* ---- transport --------------------------------------------------------- */

/* The shared slot: a header and `cap` bytes of frame body. */
typedef struct pk__shm pk__shm;

/* Bytes to map for a slot carrying bodies of up to `cap` bytes. */
size_t pk__shm_size(size_t cap);
/* Prepare a freshly mapped slot (the host does this, before the child). */
void pk__shm_init(void *mem);
/* The body capacity of a mapping of `size` bytes. */
size_t pk__shm_cap(size_t size);

#define PK__CHAN_HOST 0
#define PK__CHAN_PLUGIN 1
/* pk__chan_recv: the extra descriptor is readable (not an error). */
#define PK__CHAN_EXTRA 1

typedef struct pk__chan {
  int fd;        /* the stream socket */
  int extra_fd;  /* polled with fd in waits (-1: none); the host's stderr */
  int side;      /* PK__CHAN_HOST or PK__CHAN_PLUGIN */
  pk__shm *shm;  /* NULL: socket only */
  size_t shm_cap;
  long spin_ns;  /* the spin budget before sleeping on the futex */
  long spin_cur; /* the adaptive budget: halves when spinning failed */
  unsigned spin_probe; /* sleeps since spinning was given up */
  pk__wbuf out;  /* the frame being built (header included) */
  uint8_t *rbuf; /* the last frame received (body) */
  size_t rcap;
  /* Socket read progress, so that a timed-out wait can resume. */
  uint8_t hdr[4];
  size_t rhave;
  uint32_t rlen;
  int on_socket; /* the slot said the frame is on the socket */
  /* Sends on a non-blocking fd give up at this time (pk__wire_now_ns,
     0: never) with PK_ETIMEOUT: a peer that stops reading cannot hold
     the sender past its deadline. A blocking fd never waits here. */
  uint64_t send_deadline;
  char why[96];  /* what was wrong with a bad frame */
} pk__chan;

/* Set up `c` around socket `fd`; buffers grow through `grow`. */
void pk__chan_init(pk__chan *c, int fd, int side,
                   void *(*grow)(void *ud, void *p, size_t n), void *ud);
void pk__chan_fini(pk__chan *c); /* frees buffers; closes nothing */
/* Start using the shared slot (after the handshake). */
void pk__chan_use_shm(pk__chan *c, void *mem, size_t size, long spin_ns);

/*
 * Send the frame in c->out (built by pk__wire_begin, then the pk__wire_* writers and pk__wire_end).
 * PK_OK, PK_ECRASH when the peer is gone, or PK_ETIMEOUT when the peer
 * did not take it by c->send_deadline.
 */
int pk__chan_send(pk__chan *c);

/*
 * Wait up to `timeout_ms` (negative: forever) for the next frame. On
 * PK_OK, *body and *len give the frame body, valid until the next recv.
 * Returns PK_ETIMEOUT, PK_ECRASH (peer closed at a frame boundary),
 * PK_EPROTO (bad length, truncated frame: c->why says which), PK_ENOMEM,
 * or PK__CHAN_EXTRA when extra_fd became readable first.
 */
int pk__chan_recv(pk__chan *c, int timeout_ms, const uint8_t **body,
                  size_t *len);

/* Tests only: send `n` raw bytes as if they were a frame (in slot mode the
   slot announces a socket frame first). */
int pk__chan_send_raw(pk__chan *c, const void *bytes, size_t n);

/* Default spin budget in ns: 0 when this process may use only one CPU. */
long pk__chan_default_spin(void);

/* Monotonic clock in ns. */
uint64_t pk__wire_now_ns(void);

#endif /* PK_SDK_WIRE_H */
