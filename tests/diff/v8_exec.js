// v8_exec.js: the V8 side of the differential test. Runs a wasm module
// the way pkw_exec.c runs it on plugkit's engine and prints the same
// lines (see pkw_exec.c for the format), so fuzz_diff.py can compare them.
//
// usage: node v8_exec.js MODULE.wasm
//
// Exports are called with zero arguments of their parameter types (0, 0n,
// null), which needs the types: the JS API does not expose them, so the
// type, import, function and export sections are read here.
'use strict';
const fs = require('fs');

const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c;
const FUNCREF = 0x70, EXTERNREF = 0x6f;
const TYPE_NAMES = { [I32]: 'i32', [I64]: 'i64', [F32]: 'f32', [F64]: 'f64',
                     [FUNCREF]: 'funcref', [EXTERNREF]: 'externref' };

// Reads what the driver needs from the binary: the type of every
// function (imports first) and the exports in order.
function readModule(b) {
  let p = 8;
  const u32 = () => {
    let r = 0, shift = 0, c;
    do {
      c = b[p++];
      r += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return r;
  };
  const skipLimits = () => { const f = b[p++]; u32(); if (f & 1) u32(); };
  const name = () => { const n = u32(); const s = b.subarray(p, p + n); p += n; return s; };
  const types = [], funcs = [], exports = [];
  while (p < b.length) {
    const id = b[p++], size = u32(), end = p + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        if (b[p++] !== 0x60) throw new Error('unsupported type form');
        const params = [], results = [];
        for (let k = u32(); k > 0; k--) params.push(b[p++]);
        for (let k = u32(); k > 0; k--) results.push(b[p++]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        name(); name();
        const kind = b[p++];
        if (kind === 0) funcs.push(types[u32()]);
        else if (kind === 1) { p++; skipLimits(); }
        else if (kind === 2) skipLimits();
        else if (kind === 3) p += 2;
        else throw new Error('unsupported import kind ' + kind);
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcs.push(types[u32()]);
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const nm = name(), kind = b[p++], index = u32();
        exports.push({ name: nm, kind, index });
      }
    }
    p = end;
  }
  return { funcs, exports };
}

const f32 = new Float32Array(1), u32v = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1), u64v = new BigUint64Array(f64.buffer);
const hex = (v, n) => v.toString(16).padStart(n, '0');

function bits(t, v) {
  switch (t) {
  case I32: return 'i32 0x' + hex(v >>> 0, 8);
  case I64: return 'i64 0x' + hex(BigInt.asUintN(64, v), 16);
  case F32: f32[0] = v; return 'f32 0x' + hex(u32v[0], 8);
  case F64: f64[0] = v; return 'f64 0x' + hex(u64v[0], 16);
  case FUNCREF: case EXTERNREF:
    return TYPE_NAMES[t] + (v === null ? ' null' : ' nonnull');
  default: return 'type0x' + hex(t, 2) + ' ' + String(v);
  }
}

const zero = (t) => (t === I64 ? 0n : (t === FUNCREF || t === EXTERNREF) ? null : 0);

function nameLine(bytes) {
  let s = 'call ';
  for (const c of bytes)
    s += (c > 0x20 && c < 0x7f && c !== 0x5c) ? String.fromCharCode(c)
                                               : '\\x' + hex(c, 2);
  return s;
}

// A thrown value as a line: traps keep V8's message (the driver maps it).
function failLine(e) {
  if (e instanceof WebAssembly.RuntimeError) return 'trap ' + e.message;
  if (e instanceof RangeError) return 'trap stack: ' + e.message;
  return 'error JS ' + String(e && e.message || e).split('\n')[0];
}

function main() {
  const out = [];
  const flush = () => fs.writeSync(1, out.length ? out.join('\n') + '\n' : '');
  const bytes = fs.readFileSync(process.argv[2]);
  let mod, info;
  try {
    mod = new WebAssembly.Module(bytes);
    info = readModule(bytes);
  } catch (e) {
    process.stderr.write('v8_exec: compile: ' + e.message + '\n');
    process.exit(2);
  }
  const logger = (t) => (v) => { out.push('log ' + bits(t, v)); };
  const imports = { 'fuzzing-support': {
    'log-i32': logger(I32), 'log-i64': logger(I64),
    'log-f32': logger(F32), 'log-f64': logger(F64) } };
  let inst;
  try {
    inst = new WebAssembly.Instance(mod, imports);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      out.push('instantiate ' + failLine(e));
      flush();
      return;
    }
    process.stderr.write('v8_exec: instantiate: ' + e.message + '\n');
    process.exit(2);
  }
  out.push('instantiate ok');
  const hangInit = inst.exports.hangLimitInitializer;
  const hangOk = typeof hangInit === 'function';
  for (const ex of info.exports) {
    if (ex.kind !== 0) continue;
    const key = Buffer.from(ex.name).toString('utf8');
    const fn = inst.exports[key];
    const type = info.funcs[ex.index];
    if (hangOk) {
      try { hangInit(); } catch (e) { out.push('hang-limit init ' + failLine(e)); continue; }
    }
    out.push(nameLine(ex.name));
    try {
      const r = fn(...type.params.map(zero));
      const rs = type.results.length === 1 ? [r] : type.results.length ? r : [];
      type.results.forEach((t, i) => out.push('result ' + bits(t, rs[i])));
    } catch (e) {
      out.push(failLine(e));
    }
  }
  flush();
}

main();
