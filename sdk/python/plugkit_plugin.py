"""plugkit_plugin: write a plugkit plugin in Python (standard library only).

    from plugkit_plugin import Plugin
    plugin = Plugin("demo", "1.0.0")

    @plugin.export("(i32,i32)->i32")
    def sum(ctx, a, b):
        return a + b

    plugin.serve()

Each exported function gets a Context first: ctx.fail(msg) fails the call,
ctx.log(level, msg) logs, ctx.config(key) reads the host's config (None
when absent), ctx.host_call(name, *args) calls a granted host function.
The wire format is docs/protocol.md (socket transport, version 1).

Installed as <prefix>/share/plugkit/python/plugkit_plugin.py; the process
backend puts that folder on a plugin's PYTHONPATH, so a plugin imports it
as is. Run by hand, a plugin needs PYTHONPATH=<prefix>/share/plugkit/python.
"""
import os
import socket
import struct
import sys

COOKIE_ENV, COOKIE = "PLUGKIT_PLUGIN", "plugkit-plugin-protocol-1"
HELLO, READY, CALL, RESULT, ERROR, HOSTCALL, HOSTRET, LOG, ACK, SHUTDOWN, BYE = range(1, 12)
TYPES = {"i32": 1, "i64": 2, "f32": 3, "f64": 4, "str": 5, "bytes": 6}
SCALAR = {1: "<i", 2: "<q", 3: "<f", 4: "<d"}
EPLUGIN, EDENIED = -13, -14
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3


class PluginError(Exception):
    """Raised by Context.fail: the call fails with this message."""


class HostError(Exception):
    """A host call failed; .code is the PK_E* code."""

    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code


def parse_sig(sig):
    """'(i32,str)->i32' -> ([1, 5], [1])"""
    return tuple([TYPES[t] for t in part.strip().strip("()").replace(" ", "").split(",") if t]
                 for part in sig.split("->"))


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0]

    def blob(self):
        n = self.take("<I")
        b = self.data[self.pos:self.pos + n]
        if len(b) != n:
            raise ValueError("truncated")
        self.pos += n
        return b

    def vals(self):
        out = []
        for _ in range(self.take("<B")):
            t = self.take("<B")
            if t not in (1, 2, 3, 4, 5, 6):
                raise ValueError("bad value type %d" % t)
            v = self.take(SCALAR[t]) if t in SCALAR else self.blob()
            out.append(v.decode("utf-8", "replace") if t == 5 else bytes(v) if t == 6 else v)
        return out


def _blob(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def _vals(types, values):
    out = [struct.pack("<B", len(types))]
    for t, v in zip(types, values):
        out.append(struct.pack("<B", t))
        if t == 1:
            v = (int(v) + 2**31) % 2**32 - 2**31  # wraps like C
        elif t == 2:
            v = (int(v) + 2**63) % 2**64 - 2**63
        out.append(struct.pack(SCALAR[t], v) if t in SCALAR else _blob(v or b""))
    return b"".join(out)


class Context:
    def __init__(self, plugin):
        self._p = plugin

    def fail(self, msg):
        raise PluginError(msg)

    def log(self, level, msg):
        self._p._send(LOG, struct.pack("<I", level) + _blob(msg))
        kind, _ = self._p._recv()
        if kind != ACK:
            raise SystemExit(3)

    def config(self, key):
        return self._p.config.get(key)

    def host_call(self, name, *args):
        """Call a granted host function; returns None, a value or a tuple."""
        p = self._p
        if name not in p.grants:
            raise HostError(EDENIED, "host function '%s' is not granted" % name)
        index, (ptypes, rtypes) = p.grants[name]
        p._send(HOSTCALL, struct.pack("<I", index) + _vals(ptypes, args))
        while True:
            kind, r = p._recv()
            if kind == CALL:  # the host calls back into us: serve it
                p._serve_call(r)
            elif kind == HOSTRET:
                rc = r.take("<i")
                if rc != 0:
                    raise HostError(rc, r.blob().decode("utf-8", "replace"))
                res = r.vals()
                return None if not res else res[0] if len(res) == 1 else tuple(res)
            else:
                raise SystemExit(3)


class Plugin:
    def __init__(self, name, version):
        self.name, self.version = name, version
        self.exports, self.config, self.grants = [], {}, {}
        self._init = self._fini = None
        self.ctx = Context(self)

    def export(self, sig, name=None):
        def wrap(fn):
            self.exports.append((name or fn.__name__, sig, fn, parse_sig(sig)))
            return fn
        return wrap

    def init(self, fn):  # decorator: fn(ctx) runs before the first call
        self._init = fn
        return fn

    def fini(self, fn):  # decorator: fn(ctx) runs at close
        self._fini = fn
        return fn

    def _send(self, kind, payload=b""):
        self.sock.sendall(struct.pack("<IB", len(payload) + 1, kind) + payload)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit(0 if not buf else 3)
            buf += chunk
        return buf

    def _recv(self):
        (n,) = struct.unpack("<I", self._read(4))
        if n == 0 or n > 64 << 20:
            raise SystemExit(3)
        r = _Reader(self._read(n))
        return r.take("<B"), r

    def _serve_call(self, r):
        index = r.take("<I")
        args = r.vals()
        name, sig, fn, (_, rtypes) = self.exports[index]
        try:
            res = fn(self.ctx, *args)
            res = [] if not rtypes else [res] if len(rtypes) == 1 else list(res)
            self._send(RESULT, _vals(rtypes, res))
        except Exception as e:  # ctx.fail, a failed host call, or any error
            if isinstance(e, (PluginError, HostError)):
                msg = str(e)
            else:  # "MemoryError", not "MemoryError: " when it says nothing
                msg = type(e).__name__ + (": %s" % e if str(e) else "")
            self._send(ERROR, struct.pack("<i", EPLUGIN) + _blob(msg))

    def serve(self):
        if os.environ.get(COOKIE_ENV) != COOKIE:
            sys.stderr.write("This is a plugkit plugin. It is not meant to be run "
                             "directly:\na program using plugkit loads it.\n")
            sys.exit(2)
        self.sock = socket.socket(fileno=int(os.environ.get("PLUGKIT_FD", "3")))
        kind, r = self._recv()
        if kind != HELLO:
            sys.exit(3)
        vmin, vmax, _flags, _shm = r.take("<H"), r.take("<H"), r.take("<I"), r.take("<I")
        for _ in range(r.take("<I")):
            k = r.blob().decode()
            self.config[k] = r.blob().decode()
        for i in range(r.take("<I")):
            name, sig = r.blob().decode(), r.blob().decode()
            self.grants[name] = (i, parse_sig(sig))
        if not vmin <= 1 <= vmax:
            self._send(ERROR, struct.pack("<i", -8) + _blob("protocol version 1 unsupported"))
            sys.exit(1)
        if self._init is not None:
            try:
                self._init(self.ctx)
            except Exception as e:
                self._send(ERROR, struct.pack("<i", -12) + _blob(str(e)))
                sys.exit(1)
        out = [struct.pack("<HI", 1, 0), _blob(self.name), _blob(self.version),
               struct.pack("<III", 1, 0, len(self.exports))]
        out += [_blob(n) + _blob(s) for n, s, _, _ in self.exports]
        self._send(READY, b"".join(out))
        while True:
            kind, r = self._recv()
            if kind == CALL:
                self._serve_call(r)
            elif kind == SHUTDOWN:
                if self._fini is not None:
                    self._fini(self.ctx)
                self._send(BYE)
                sys.exit(0)
            else:
                sys.exit(3)
