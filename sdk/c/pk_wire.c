/*
 * pk_wire.c: frame encoding, decoding and the two transports (socket and
 * shared slot). See pk_wire.h and docs/protocol.md.
 *
 * The slot handshake, in one paragraph: `turn` says which side owns the
 * slot (PK__CHAN_HOST or PK__CHAN_PLUGIN). The owner writes a frame into
 * `data` (or, when it does not fit, sets `len` to PK__SLOT_ON_SOCKET and
 * writes it to the socket), then hands the slot over with a release store
 * of `turn`. The other side spins on `turn` for up to spin_ns, then
 * announces itself in `sleeping[side]` and sleeps on the futex. Both the
 * store of `turn` and of `sleeping` are sequentially consistent, so a
 * sender either sees the sleeper's flag (and wakes it) or the sleeper sees
 * the new turn before it sleeps. Sleeps are sliced: between slices the
 * waiter polls the socket, whose hang-up is how a dead peer shows.
 */
#define _GNU_SOURCE
#include "pk_wire.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#define PK__SLOT_ON_SOCKET 0xffffffffu

struct pk__shm {
  _Atomic uint32_t turn;        /* the futex word: who owns the slot */
  _Atomic uint32_t sleeping[2]; /* side i sleeps (or is about to) */
  uint32_t len;                 /* body length in data, or ON_SOCKET */
  uint8_t pad[48];              /* keep data off the control line */
  uint8_t data[];
};

/* ---- encoding ---------------------------------------------------------- */

static int wreserve(pk__wbuf *w, size_t n) {
  size_t cap;
  uint8_t *np;
  if (w->oom)
    return -1;
  if (w->cap - w->len >= n)
    return 0;
  if (n > (size_t)PK__WIRE_MAX_FRAME * 2 - w->len) {
    w->oom = 2; /* too large: no allocation attempted */
    w->over = w->len - 4;
    return -1;
  }
  cap = w->cap ? w->cap : 256;
  while (cap - w->len < n)
    cap *= 2;
  if ((np = w->grow(w->ud, w->p, cap)) == NULL) {
    w->oom = 1;
    return -1;
  }
  w->p = np;
  w->cap = cap;
  return 0;
}

static void wput(pk__wbuf *w, const void *p, size_t n) {
  if (wreserve(w, n) < 0) {
    if (w->oom == 2) /* keep counting, for the message */
      w->over += n;
    return;
  }
  if (n > 0)
    memcpy(w->p + w->len, p, n);
  w->len += n;
}

void pk__wire_begin(pk__wbuf *w, int type) {
  w->len = 0;
  w->oom = 0;
  w->over = 0;
  if (wreserve(w, 5) < 0)
    return;
  memset(w->p, 0, 4);
  w->p[4] = (uint8_t)type;
  w->len = 5;
}

void pk__wire_u8(pk__wbuf *w, uint32_t v) {
  uint8_t b = (uint8_t)v;
  wput(w, &b, 1);
}

void pk__wire_u16(pk__wbuf *w, uint32_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  wput(w, b, 2);
}

void pk__wire_u32(pk__wbuf *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  wput(w, b, 4);
}

void pk__wire_u64(pk__wbuf *w, uint64_t v) {
  pk__wire_u32(w, (uint32_t)v);
  pk__wire_u32(w, (uint32_t)(v >> 32));
}

void pk__wire_bytes(pk__wbuf *w, const void *p, size_t n) {
  if (n > PK__WIRE_MAX_FRAME) {
    if (w->oom == 0) {
      w->oom = 2;
      w->over = w->len - 4;
    }
    if (w->oom == 2)
      w->over += 4 + n;
    return;
  }
  pk__wire_u32(w, (uint32_t)n);
  wput(w, p, n);
}

void pk__wire_cstr(pk__wbuf *w, const char *s) {
  pk__wire_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

void pk__wire_val(pk__wbuf *w, const pk_val *v) {
  uint32_t u32;
  uint64_t u64;
  pk__wire_u8(w, v->type);
  switch (v->type) {
  case PK_T_I32:
    pk__wire_u32(w, (uint32_t)v->i32);
    break;
  case PK_T_I64:
    pk__wire_u64(w, (uint64_t)v->i64);
    break;
  case PK_T_F32:
    memcpy(&u32, &v->f32, 4);
    pk__wire_u32(w, u32);
    break;
  case PK_T_F64:
    memcpy(&u64, &v->f64, 8);
    pk__wire_u64(w, u64);
    break;
  case PK_T_STR:
    pk__wire_bytes(w, v->str.ptr, v->str.len);
    break;
  case PK_T_BYTES:
    pk__wire_bytes(w, v->bytes.ptr, v->bytes.len);
    break;
  default:
    w->oom = 2; /* cannot happen: callers pass checked values */
    break;
  }
}

void pk__wire_vals(pk__wbuf *w, const pk_val *v, size_t n) {
  size_t i;
  pk__wire_u8(w, (uint32_t)n);
  for (i = 0; i < n; i++)
    pk__wire_val(w, &v[i]);
}

int pk__wire_end(pk__wbuf *w) {
  size_t body;
  if (w->oom == 1)
    return PK_ENOMEM;
  if (w->oom == 0 && w->len - 4 > PK__WIRE_MAX_FRAME) {
    w->oom = 2;
    w->over = w->len - 4;
  }
  if (w->oom || w->len < 5)
    return PK_EPROTO;
  body = w->len - 4;
  w->p[0] = (uint8_t)body;
  w->p[1] = (uint8_t)(body >> 8);
  w->p[2] = (uint8_t)(body >> 16);
  w->p[3] = (uint8_t)(body >> 24);
  return PK_OK;
}

/* ---- decoding ---------------------------------------------------------- */

void pk__rd_init(pk__rd *r, const uint8_t *body, size_t len) {
  r->p = body;
  r->end = body + len;
  r->bad = 0;
}

static const uint8_t *rtake(pk__rd *r, size_t n) {
  const uint8_t *p = r->p;
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  r->p += n;
  return p;
}

uint32_t pk__rd_u8(pk__rd *r) {
  const uint8_t *p = rtake(r, 1);
  return p ? p[0] : 0;
}

uint32_t pk__rd_u16(pk__rd *r) {
  const uint8_t *p = rtake(r, 2);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : 0;
}

uint32_t pk__rd_u32(pk__rd *r) {
  const uint8_t *p = rtake(r, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24
           : 0;
}

uint64_t pk__rd_u64(pk__rd *r) {
  uint64_t lo = pk__rd_u32(r);
  return lo | (uint64_t)pk__rd_u32(r) << 32;
}

const uint8_t *pk__rd_bytes(pk__rd *r, size_t *out_n) {
  size_t n = pk__rd_u32(r);
  const uint8_t *p = rtake(r, n);
  *out_n = p ? n : 0;
  return p;
}

void pk__rd_val(pk__rd *r, pk_val *v) {
  uint32_t u32;
  uint64_t u64;
  size_t n;
  memset(v, 0, sizeof *v);
  v->type = pk__rd_u8(r);
  switch (v->type) {
  case PK_T_I32:
    v->i32 = (int32_t)pk__rd_u32(r);
    break;
  case PK_T_I64:
    v->i64 = (int64_t)pk__rd_u64(r);
    break;
  case PK_T_F32:
    u32 = pk__rd_u32(r);
    memcpy(&v->f32, &u32, 4);
    break;
  case PK_T_F64:
    u64 = pk__rd_u64(r);
    memcpy(&v->f64, &u64, 8);
    break;
  case PK_T_STR:
    v->str.ptr = (const char *)pk__rd_bytes(r, &n);
    v->str.len = n;
    break;
  case PK_T_BYTES:
    v->bytes.ptr = pk__rd_bytes(r, &n);
    v->bytes.len = n;
    break;
  default:
    r->bad = 1;
    break;
  }
}

size_t pk__rd_vals(pk__rd *r, pk_val *v, size_t cap) {
  size_t n = pk__rd_u8(r), i;
  if (n > cap) {
    r->bad = 1;
    return 0;
  }
  for (i = 0; i < n && !r->bad; i++)
    pk__rd_val(r, &v[i]);
  return r->bad ? 0 : n;
}

int pk__rd_done(const pk__rd *r) { return !r->bad && r->p == r->end; }

int pk__wire_validate(const uint8_t *body, size_t len) {
  pk_val v[PK_MAX_PARAMS];
  pk__rd r;
  size_t n, i, k, z;
  pk__rd_init(&r, body, len);
  switch (pk__rd_u8(&r)) {
  case PK__F_HELLO:
    pk__rd_u16(&r);
    pk__rd_u16(&r);
    pk__rd_u32(&r);
    pk__rd_u32(&r);
    for (k = 0; k < 2; k++) /* config pairs, then grant pairs */
      for (i = 0, n = pk__rd_u32(&r); i < n && !r.bad; i++) {
        pk__rd_bytes(&r, &z);
        pk__rd_bytes(&r, &z);
      }
    break;
  case PK__F_READY: {
    uint32_t flags;
    pk__rd_u16(&r);
    flags = pk__rd_u32(&r);
    pk__rd_bytes(&r, &z);
    pk__rd_bytes(&r, &z);
    pk__rd_u32(&r);
    pk__rd_u32(&r);
    for (i = 0, n = pk__rd_u32(&r); i < n && !r.bad; i++) {
      pk__rd_bytes(&r, &z);
      pk__rd_bytes(&r, &z);
    }
    if (flags & PK__WIRE_F_TIER)
      pk__rd_bytes(&r, &z);
    break;
  }
  case PK__F_CALL:
  case PK__F_HOSTCALL:
    pk__rd_u32(&r);
    pk__rd_vals(&r, v, PK_MAX_PARAMS);
    break;
  case PK__F_RESULT:
    pk__rd_vals(&r, v, PK_MAX_RESULTS);
    break;
  case PK__F_ERROR:
    pk__rd_u32(&r);
    pk__rd_bytes(&r, &z);
    break;
  case PK__F_HOSTRET:
    if (pk__rd_u32(&r) == 0)
      pk__rd_vals(&r, v, PK_MAX_RESULTS);
    else
      pk__rd_bytes(&r, &z);
    break;
  case PK__F_LOG:
    pk__rd_u32(&r);
    pk__rd_bytes(&r, &z);
    break;
  case PK__F_ACK:
  case PK__F_SHUTDOWN:
  case PK__F_BYE:
    break;
  default:
    return PK_EPROTO;
  }
  return pk__rd_done(&r) ? PK_OK : PK_EPROTO;
}

/* ---- transport --------------------------------------------------------- */

size_t pk__shm_size(size_t cap) { return sizeof(pk__shm) + cap; }

size_t pk__shm_cap(size_t size) {
  return size > sizeof(pk__shm) ? size - sizeof(pk__shm) : 0;
}

void pk__shm_init(void *mem) {
  pk__shm *s = mem;
  atomic_init(&s->turn, PK__CHAN_HOST);
  atomic_init(&s->sleeping[0], 0);
  atomic_init(&s->sleeping[1], 0);
  s->len = 0;
}

uint64_t pk__wire_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long pk__chan_default_spin(void) {
  cpu_set_t set;
  /* Spinning while the peer needs our only CPU just delays it: measured
     (issue 5) a 20 us budget kept calls near 110 ns with two CPUs, while
     2 us was too short to bridge the peer's scheduling latency. */
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < 2)
    return 0;
  return 20000;
}

void pk__chan_init(pk__chan *c, int fd, int side,
                   void *(*grow)(void *ud, void *p, size_t n), void *ud) {
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->extra_fd = -1;
  c->side = side;
  c->out.grow = grow;
  c->out.ud = ud;
}

void pk__chan_fini(pk__chan *c) {
  if (c->out.p != NULL)
    c->out.grow(c->out.ud, c->out.p, 0);
  if (c->rbuf != NULL)
    c->out.grow(c->out.ud, c->rbuf, 0);
  c->out.p = c->rbuf = NULL;
  c->out.cap = c->rcap = 0;
}

void pk__chan_use_shm(pk__chan *c, void *mem, size_t size, long spin_ns) {
  c->shm = mem;
  c->shm_cap = pk__shm_cap(size);
  c->spin_ns = c->spin_cur = spin_ns;
}

static int ms_left(uint64_t deadline);

/* On a non-blocking fd (the host's), a peer that does not read makes
   send fail with EAGAIN: wait for room until the send deadline. */
static int write_all(pk__chan *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        struct pollfd pf = {c->fd, POLLOUT, 0};
        int ms = c->send_deadline != 0 ? ms_left(c->send_deadline) : 1000;
        if (ms == 0)
          return PK_ETIMEOUT;
        if (poll(&pf, 1, ms) < 0 && errno != EINTR)
          return PK_ECRASH;
        continue;
      }
      return PK_ECRASH;
    }
    p += k;
    n -= (size_t)k;
  }
  return PK_OK;
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int pk__chan_send(pk__chan *c) {
  pk__shm *s = c->shm;
  size_t body = c->out.len - 4;
  int rc;
  if (s == NULL)
    return write_all(c, c->out.p, c->out.len);
  if (body <= c->shm_cap) {
    memcpy(s->data, c->out.p + 4, body);
    s->len = (uint32_t)body;
  } else {
    s->len = PK__SLOT_ON_SOCKET;
  }
  atomic_store(&s->turn, (uint32_t)!c->side);
  if (atomic_load(&s->sleeping[!c->side]))
    futex_wake(&s->turn);
  if (body > c->shm_cap && (rc = write_all(c, c->out.p, c->out.len)) < 0)
    return rc;
  return PK_OK;
}

int pk__chan_send_raw(pk__chan *c, const void *bytes, size_t n) {
  if (c->shm != NULL) {
    c->shm->len = PK__SLOT_ON_SOCKET;
    atomic_store(&c->shm->turn, (uint32_t)!c->side);
    if (atomic_load(&c->shm->sleeping[!c->side]))
      futex_wake(&c->shm->turn);
  }
  return write_all(c, bytes, n);
}

static int grow_rbuf(pk__chan *c, size_t n) {
  uint8_t *p;
  size_t cap = c->rcap ? c->rcap : 256;
  if (n <= c->rcap)
    return PK_OK;
  while (cap < n)
    cap *= 2;
  if ((p = c->out.grow(c->out.ud, c->rbuf, cap)) == NULL)
    return PK_ENOMEM;
  c->rbuf = p;
  c->rcap = cap;
  return PK_OK;
}

/* Milliseconds left until `deadline` (0: none), for poll. */
static int ms_left(uint64_t deadline) {
  uint64_t now;
  if (deadline == 0)
    return -1;
  now = pk__wire_now_ns();
  if (now >= deadline)
    return 0;
  return (int)((deadline - now + 999999) / 1000000);
}

/* Wait for fd (and extra_fd) up to `ms`: 1 fd readable, PK__CHAN_EXTRA,
   0 on timeout. */
static int wait_fds(pk__chan *c, int ms) {
  struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {c->extra_fd, POLLIN, 0}};
  int n = c->extra_fd >= 0 ? 2 : 1, k;
  do
    k = poll(pf, (nfds_t)n, ms);
  while (k < 0 && errno == EINTR);
  if (k <= 0)
    return 0;
  if (pf[0].revents)
    return 1;
  return PK__CHAN_EXTRA;
}

/* Read one frame from the socket, resuming a partial one. */
static int recv_socket(pk__chan *c, uint64_t deadline) {
  for (;;) {
    uint8_t *dst;
    size_t want;
    ssize_t k;
    int w;
    if (c->rhave < 4) {
      dst = c->hdr + c->rhave;
      want = 4 - c->rhave;
    } else {
      dst = c->rbuf + (c->rhave - 4);
      want = c->rlen - (c->rhave - 4);
    }
    if (want == 0)
      break;
    k = recv(c->fd, dst, want, MSG_DONTWAIT);
    if (k == 0) {
      if (c->rhave == 0)
        return PK_ECRASH;
      snprintf(c->why, sizeof c->why,
               "truncated frame: the peer closed after %zu of %zu bytes",
               c->rhave, (size_t)c->rlen + 4);
      return PK_EPROTO;
    }
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        return PK_ECRASH;
      if ((w = wait_fds(c, ms_left(deadline))) == 0)
        return PK_ETIMEOUT;
      if (w == PK__CHAN_EXTRA)
        return PK__CHAN_EXTRA;
      continue;
    }
    c->rhave += (size_t)k;
    if (c->rhave == 4) {
      c->rlen = (uint32_t)c->hdr[0] | (uint32_t)c->hdr[1] << 8 |
                (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 24;
      if (c->rlen == 0) {
        snprintf(c->why, sizeof c->why, "frame of length 0");
        return PK_EPROTO;
      }
      if (c->rlen > PK__WIRE_MAX_FRAME) {
        snprintf(c->why, sizeof c->why,
                 "frame of %u bytes exceeds the protocol's %u MiB limit",
                 c->rlen, PK__WIRE_MAX_FRAME >> 20);
        return PK_EPROTO;
      }
      if (grow_rbuf(c, c->rlen) < 0)
        return PK_ENOMEM;
    }
  }
  c->rhave = 0;
  c->on_socket = 0;
  return PK_OK;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Has the peer closed the socket? (Only EOF counts: data may be the
   oversized frame announced by the slot.) */
static int peer_gone(pk__chan *c, int *extra) {
  struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {c->extra_fd, POLLIN, 0}};
  int n = c->extra_fd >= 0 ? 2 : 1;
  uint8_t b;
  *extra = 0;
  if (poll(pf, (nfds_t)n, 0) <= 0)
    return 0;
  if (n == 2 && (pf[1].revents & (POLLIN | POLLHUP)))
    *extra = 1;
  if (pf[0].revents & (POLLHUP | POLLERR))
    return 1;
  if (pf[0].revents & POLLIN)
    return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  return 0;
}

/* Wait until the slot is ours. */
static int wait_turn(pk__chan *c, uint64_t deadline) {
  pk__shm *s = c->shm;
  uint32_t me = (uint32_t)c->side;
  uint64_t spin_end, slice_ns = 1000000; /* 1 ms, doubling to 32 ms */
  int extra;
  unsigned i;

  long budget = c->spin_cur;

  if (atomic_load_explicit(&s->turn, memory_order_acquire) == me)
    return PK_OK;
  /* Adaptive: a spin that ends in a sleep anyway only took the CPU from
     the peer (on a loaded machine, the peer may be waiting for one), so
     each such failure halves the budget, down to none; a success restores
     it, and every 64th sleep without spinning probes with the full one. */
  if (budget == 0 && c->spin_ns > 0 && ++c->spin_probe >= 64) {
    c->spin_probe = 0;
    budget = c->spin_ns;
  }
  if (budget > 0) {
    spin_end = pk__wire_now_ns() + (uint64_t)budget;
    for (;;) {
      for (i = 0; i < 64; i++) {
        if (atomic_load_explicit(&s->turn, memory_order_acquire) == me) {
          c->spin_cur = c->spin_ns;
          return PK_OK;
        }
        cpu_relax();
      }
      if (pk__wire_now_ns() >= spin_end)
        break;
    }
    c->spin_cur = budget / 2 >= 1000 ? budget / 2 : 0;
  }
  for (;;) {
    struct timespec ts;
    uint64_t ns = slice_ns, now;
    if (deadline != 0) {
      now = pk__wire_now_ns();
      if (now >= deadline)
        return PK_ETIMEOUT;
      if (deadline - now < ns)
        ns = deadline - now;
    }
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    atomic_store(&s->sleeping[me], 1);
    if (atomic_load(&s->turn) != me)
      syscall(SYS_futex, &s->turn, FUTEX_WAIT, !me, &ts, NULL, 0);
    atomic_store(&s->sleeping[me], 0);
    if (atomic_load_explicit(&s->turn, memory_order_acquire) == me)
      return PK_OK;
    if (peer_gone(c, &extra))
      return PK_ECRASH;
    if (extra)
      return PK__CHAN_EXTRA;
    if (slice_ns < 32000000)
      slice_ns *= 2;
  }
}

int pk__chan_recv(pk__chan *c, int timeout_ms, const uint8_t **body,
                  size_t *len) {
  uint64_t deadline = 0;
  int rc;
  if (timeout_ms >= 0)
    deadline = pk__wire_now_ns() + (uint64_t)timeout_ms * 1000000u + 1;
  if (c->shm != NULL && !c->on_socket) {
    uint32_t n;
    if ((rc = wait_turn(c, deadline)) != PK_OK)
      return rc;
    n = c->shm->len;
    if (n == PK__SLOT_ON_SOCKET) {
      c->on_socket = 1;
    } else {
      if (n == 0 || n > c->shm_cap) {
        snprintf(c->why, sizeof c->why,
                 "slot frame length %u is outside 1..%zu", n, c->shm_cap);
        return PK_EPROTO;
      }
      /* Copy out: the slot is the peer's again as soon as we answer, and
         a nested call may reuse it while this frame is still in use. */
      if (grow_rbuf(c, n) < 0)
        return PK_ENOMEM;
      memcpy(c->rbuf, c->shm->data, n);
      *body = c->rbuf;
      *len = n;
      return PK_OK;
    }
  }
  if ((rc = recv_socket(c, deadline)) != PK_OK)
    return rc;
  *body = c->rbuf;
  *len = c->rlen;
  return PK_OK;
}
