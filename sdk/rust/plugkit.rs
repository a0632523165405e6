//! plugkit: write a plugkit plugin in Rust, for wasm32-unknown-unknown,
//! with no crates. The glue of docs/wasm-abi.md (descriptor, marker,
//! cabi_realloc, result memory, host imports, the pk_val layout, config)
//! lives here; a plugin is its functions and one `plugkit::plugin!`:
//!
//! ```ignore
//! fn sum(a: i32, b: i32) -> i32 { a.wrapping_add(b) }
//! fn greet(name: &str) -> Result<String, String> {
//!     if name.is_empty() { return Err("greet: empty name".into()); }
//!     let hello = plugkit::config("greeting").unwrap_or("hello".into());
//!     Ok(format!("{}, {}", hello, name))
//! }
//! plugkit::plugin! {
//!     name: "hello", version: "0.1.0",
//!     exports: { sum(i32, i32) -> i32, greet(str) -> str }
//! }
//! ```
//!
//! Signature types are plugkit's: i32 i64 f32 f64 (the Rust types of the
//! same names), str (the function takes `&str`, returns `String` or
//! `&str`), bytes (`&[u8]`, returns `Vec<u8>` or `&[u8]`); no `->` for no
//! result. A function may return `Result<T, E>` with `E: Display`: `Err`
//! fails the call with that message (PK_EPLUGIN). Optional `init: f,` and
//! `fini: f,` before `exports` run at open (an `Err` fails the open) and
//! at close.
//!
//! plugkit_add_plugin(NAME SOURCES plugin.rs TARGETS wasm) builds this
//! file as an rlib and the plugin against it; by hand:
//!
//! ```text
//! rustc --target wasm32-unknown-unknown -O --edition 2021 \
//!       --crate-type=rlib --crate-name plugkit plugkit.rs
//! rustc --target wasm32-unknown-unknown -O --edition 2021 \
//!       --crate-type=cdylib --extern plugkit=libplugkit.rlib plugin.rs
//! ```
use std::alloc::{alloc, realloc, Layout};
use std::fmt;

#[link(wasm_import_module = "plugkit")]
extern "C" {
    fn fail(msg: *const u8, len: usize);
    #[link_name = "log"]
    fn pk_log(level: i32, msg: *const u8, len: usize);
    #[link_name = "config"]
    fn pk_config(key: *const u8, key_len: usize, out: *mut u32) -> i32;
    #[link_name = "host_find"]
    fn pk_host_find(name: *const u8, name_len: usize, sig: *const u8, sig_len: usize,
                 out: *mut i32) -> i32;
    fn host_call(index: i32, args: *const RawVal, nargs: usize,
                 results: *mut RawVal, nresults: usize) -> i32;
}

/// Log levels (the host clamps them to its sink's).
#[derive(Clone, Copy, Debug)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

/// A line for the host's log sink.
pub fn log(level: Level, msg: &str) {
    unsafe { pk_log(level as i32, msg.as_ptr(), msg.len()) }
}

/// The host's config value for `key`, if it set one.
pub fn config(key: &str) -> Option<String> {
    let mut out = [0u32; 2];
    unsafe {
        if pk_config(key.as_ptr(), key.len(), out.as_mut_ptr()) != 0 {
            return None;
        }
        Some(rt::take_string(out[0] as *mut u8, out[1] as usize))
    }
}

/// A failed host call (or host_find): the PK_E* code, negative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Error {
    pub code: i32,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // include/plugkit_types.h's codes, -1 down.
        const NAMES: [&str; 22] = [
            "EINVAL", "ENOMEM", "ENOENT", "EIO", "EFORMAT", "EARCH", "ENODESC",
            "EABI", "ENOSYM", "ESIG", "ETYPE", "EINIT", "EPLUGIN", "EDENIED",
            "ENOSYS", "ETRAP", "ECRASH", "ETIMEOUT", "ELIMIT", "EPROTO", "EHOST",
            "EBUSY",
        ];
        match NAMES.get((-1 - self.code) as usize) {
            Some(n) => write!(f, "host call failed ({})", n),
            None => write!(f, "host call failed (code {})", self.code),
        }
    }
}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// An argument to a host function.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
}

/// A host function's result.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Str(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn i32(&self) -> i32 {
        if let Value::I32(v) = self { *v } else { 0 }
    }
    pub fn i64(&self) -> i64 {
        if let Value::I64(v) = self { *v } else { 0 }
    }
    pub fn f64(&self) -> f64 {
        if let Value::F64(v) = self { *v } else { 0.0 }
    }
    pub fn str(&self) -> &str {
        if let Value::Str(s) = self { s } else { "" }
    }
}

/// pk_val in guest memory: u32 type at 0, payload at 8 (str/bytes: u32
/// pointer at 8, u32 length at 12).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawVal {
    ty: u32,
    pad: u32,
    bits: u64,
}

/// A granted host function, found by name and signature.
#[derive(Clone, Copy, Debug)]
pub struct HostFn {
    index: i32,
    nresults: usize,
}

/// Find host function `name` with signature `sig` ("(str)->()"); an
/// Error with PK_EDENIED (-14) when the host did not grant it.
pub fn host_find(name: &str, sig: &str) -> Result<HostFn, Error> {
    let mut index = 0;
    let rc = unsafe { pk_host_find(name.as_ptr(), name.len(), sig.as_ptr(), sig.len(), &mut index) };
    if rc != 0 {
        return Err(Error { code: rc });
    }
    let res = sig.rsplit("->").next().unwrap_or("").trim();
    let res = res.trim_start_matches('(').trim_end_matches(')');
    let nresults = res.split(',').filter(|t| !t.trim().is_empty()).count();
    Ok(HostFn { index, nresults })
}

impl HostFn {
    /// Call it; its results (str/bytes copied into owned values).
    pub fn call(&self, args: &[Val]) -> Result<Vec<Value>, Error> {
        let raw: Vec<RawVal> = args.iter().map(|a| {
            let (ty, bits) = match *a {
                Val::I32(v) => (1, v as u32 as u64),
                Val::I64(v) => (2, v as u64),
                Val::F32(v) => (3, v.to_bits() as u64),
                Val::F64(v) => (4, v.to_bits()),
                Val::Str(s) => (5, s.as_ptr() as u32 as u64 | (s.len() as u64) << 32),
                Val::Bytes(b) => (6, b.as_ptr() as u32 as u64 | (b.len() as u64) << 32),
            };
            RawVal { ty, pad: 0, bits }
        }).collect();
        let mut out = vec![RawVal { ty: 0, pad: 0, bits: 0 }; self.nresults];
        let rc = unsafe {
            host_call(self.index, raw.as_ptr(), raw.len(), out.as_mut_ptr(), out.len())
        };
        if rc != 0 {
            return Err(Error { code: rc });
        }
        Ok(out.iter().map(|r| {
            let (p, n) = (r.bits as u32 as *mut u8, (r.bits >> 32) as usize);
            match r.ty {
                1 => Value::I32(r.bits as u32 as i32),
                2 => Value::I64(r.bits as i64),
                3 => Value::F32(f32::from_bits(r.bits as u32)),
                4 => Value::F64(f64::from_bits(r.bits)),
                5 => Value::Str(unsafe { rt::take_string(p, n) }),
                _ => Value::Bytes(unsafe { rt::take_bytes(p, n) }),
            }
        }).collect())
    }
}

/// What an export may return for a signature's result type `A` (i32 ...,
/// String for str, Vec<u8> for bytes, () for none): the value itself, or
/// a Result whose Err fails the call.
pub trait IntoRet<A> {
    fn into_ret(self) -> Result<A, String>;
}

macro_rules! plain_ret {
    ($($t:ty),*) => { $(impl IntoRet<$t> for $t {
        fn into_ret(self) -> Result<$t, String> { Ok(self) }
    })* };
}
plain_ret!((), i32, i64, f32, f64, String, Vec<u8>);

impl IntoRet<String> for &str {
    fn into_ret(self) -> Result<String, String> {
        Ok(self.to_string())
    }
}

impl IntoRet<Vec<u8>> for &[u8] {
    fn into_ret(self) -> Result<Vec<u8>, String> {
        Ok(self.to_vec())
    }
}

impl<A, T: IntoRet<A>, E: fmt::Display> IntoRet<A> for Result<T, E> {
    fn into_ret(self) -> Result<A, String> {
        match self {
            Ok(v) => v.into_ret(),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The guest's side of the ABI: used by plugin!, not by plugins.
#[doc(hidden)]
pub mod rt {
    use super::*;

    /// Calls from the host now running (nested host -> plugin calls count).
    static mut DEPTH: u32 = 0;
    /// The results of finished calls, freed at the next entry from the
    /// host when no call is running (plugkit_auto_post).
    static mut PENDING: Vec<Vec<u8>> = Vec::new();
    /// The return area of a str/bytes result: pointer, length.
    static mut RET: [u32; 2] = [0, 0];

    static mut HOOKED: bool = false;

    /// A panic traps the call (PK_ETRAP, "unreachable executed"); its
    /// message goes to the host's log first, at error level.
    fn hook_panics() {
        unsafe {
            if !HOOKED {
                HOOKED = true;
                std::panic::set_hook(Box::new(|info| {
                    log(Level::Error, &format!("panic: {}", info));
                }));
            }
        }
    }

    pub struct Call;

    pub fn enter() -> Call {
        unsafe {
            hook_panics();
            if DEPTH == 0 {
                PENDING.clear();
            }
            DEPTH += 1;
        }
        Call
    }

    impl Drop for Call {
        fn drop(&mut self) {
            unsafe { DEPTH -= 1 }
        }
    }

    pub fn fail_with(msg: &str) {
        unsafe { fail(msg.as_ptr(), msg.len()) }
    }

    /// Memory the host filled through cabi_realloc(0, 0, 1, n): ours now.
    pub unsafe fn take_bytes(p: *mut u8, n: usize) -> Vec<u8> {
        if n == 0 { Vec::new() } else { Vec::from_raw_parts(p, n, n) }
    }

    pub unsafe fn take_string(p: *mut u8, n: usize) -> String {
        match String::from_utf8(take_bytes(p, n)) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    pub fn scalar<A: Default>(r: Result<A, String>) -> A {
        r.unwrap_or_else(|m| {
            fail_with(&m);
            A::default()
        })
    }

    pub fn unit(r: Result<(), String>) {
        if let Err(m) = r {
            fail_with(&m);
        }
    }

    pub fn blob(r: Result<Vec<u8>, String>) -> *const u32 {
        let v = r.unwrap_or_else(|m| {
            fail_with(&m);
            Vec::new()
        });
        unsafe {
            RET = [v.as_ptr() as u32, v.len() as u32];
            PENDING.push(v);
            RET.as_ptr()
        }
    }

    pub fn init(r: impl FnOnce() -> Result<(), String>) -> i32 {
        hook_panics();
        let r = r();
        match r {
            Ok(()) => 0,
            Err(m) => {
                fail_with(&m);
                1
            }
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn cabi_realloc(old: *mut u8, old_size: usize, align: usize,
                                          new_size: usize) -> *mut u8 {
        if DEPTH == 0 {
            PENDING.clear();
        }
        let align = align.max(1);
        if new_size == 0 {
            return align as *mut u8;
        }
        let layout = Layout::from_size_align_unchecked(new_size, align);
        if old.is_null() || old_size == 0 {
            alloc(layout)
        } else {
            realloc(old, Layout::from_size_align_unchecked(old_size, align), new_size)
        }
    }

    /// After a trap cut calls short: none is running any more.
    #[no_mangle]
    pub unsafe extern "C" fn plugkit_unwind() {
        DEPTH = 0;
    }

    #[no_mangle]
    pub extern "C" fn plugkit_abi_v1() {}

    #[no_mangle]
    pub extern "C" fn plugkit_auto_post() {}
}

/// Define the plugin: name, version, optional init/fini, and its exports
/// with their plugkit signatures (see the module's documentation).
#[macro_export]
macro_rules! plugin {
    (name: $name:literal, version: $ver:literal,
     $(init: $init:path,)? $(fini: $fini:path,)?
     exports: { $($f:ident ( $($t:ident),* ) $(-> $r:ident)?),* $(,)? } $(,)?) => {
        #[no_mangle]
        pub extern "C" fn plugkit_describe() -> *const u8 {
            concat!($name, "\0", $ver, "\0",
                    $(stringify!($f), "\0",
                      "(", $crate::__pk_join!($($t),*), ")->",
                      $crate::__pk_res!($($r)?), "\0",)* "\0").as_ptr()
        }
        $(#[no_mangle]
        pub extern "C" fn plugkit_init() -> i32 {
            $crate::rt::init(|| $crate::IntoRet::<()>::into_ret($init()))
        })?
        $(#[no_mangle]
        pub extern "C" fn plugkit_fini() {
            $fini()
        })?
        #[doc(hidden)]
        mod __plugkit_exports {
            $($crate::__pk_export!(@go $f [$($t)*] [] [] [$($r)?]);)*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __pk_join {
    () => { "" };
    ($a:ident $(, $b:ident)*) => { concat!(stringify!($a) $(, ",", stringify!($b))*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __pk_res {
    () => { "()" };
    ($r:ident) => { stringify!($r) };
}

/// One export's wasm function: each step lowers one parameter (its names
/// are this step's own, by macro hygiene), the last emits the function.
#[doc(hidden)]
#[macro_export]
macro_rules! __pk_export {
    (@go $f:ident [] [$($p:tt)*] [$($a:tt)*] []) => {
        #[no_mangle]
        pub unsafe extern "C" fn $f($($p)*) {
            let _call = $crate::rt::enter();
            $crate::rt::unit($crate::IntoRet::<()>::into_ret(super::$f($($a)*)))
        }
    };
    (@go $f:ident [] [$($p:tt)*] [$($a:tt)*] [str]) => {
        $crate::__pk_export!(@blob $f [$($p)*] [$($a)*] String);
    };
    (@go $f:ident [] [$($p:tt)*] [$($a:tt)*] [bytes]) => {
        $crate::__pk_export!(@blob $f [$($p)*] [$($a)*] Vec<u8>);
    };
    (@go $f:ident [] [$($p:tt)*] [$($a:tt)*] [$r:ident]) => {
        #[no_mangle]
        pub unsafe extern "C" fn $f($($p)*) -> $r {
            let _call = $crate::rt::enter();
            $crate::rt::scalar($crate::IntoRet::<$r>::into_ret(super::$f($($a)*)))
        }
    };
    (@blob $f:ident [$($p:tt)*] [$($a:tt)*] $ty:ty) => {
        #[no_mangle]
        pub unsafe extern "C" fn $f($($p)*) -> *const u32 {
            let _call = $crate::rt::enter();
            $crate::rt::blob($crate::IntoRet::<$ty>::into_ret(super::$f($($a)*))
                             .map(|v| v.into()))
        }
    };
    (@go $f:ident [str $($rest:ident)*] [$($p:tt)*] [$($a:tt)*] $r:tt) => {
        $crate::__pk_export!(@go $f [$($rest)*] [$($p)* p: *mut u8, n: usize,]
                             [$($a)* &*$crate::rt::take_string(p, n),] $r);
    };
    (@go $f:ident [bytes $($rest:ident)*] [$($p:tt)*] [$($a:tt)*] $r:tt) => {
        $crate::__pk_export!(@go $f [$($rest)*] [$($p)* p: *mut u8, n: usize,]
                             [$($a)* &*$crate::rt::take_bytes(p, n),] $r);
    };
    (@go $f:ident [$t:ident $($rest:ident)*] [$($p:tt)*] [$($a:tt)*] $r:tt) => {
        $crate::__pk_export!(@go $f [$($rest)*] [$($p)* x: $t,] [$($a)* x,] $r);
    };
}
