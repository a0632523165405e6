//! A plugkit plugin in Rust, for wasm32-unknown-unknown, with no crates:
//! the glue of docs/wasm-abi.md written by hand. (A plugin need not: the
//! installed `plugkit` guest module, sdk/rust/plugkit.rs, holds this glue,
//! and `plugkit new NAME --lang rust` makes a project using it.)
//!
//!   /usr/bin/rustc --target wasm32-unknown-unknown -O --crate-type=cdylib \
//!         -C strip=symbols plugin.rs -o rust_plugin.wasm
//!
//! Debian's rustc needs libstd-rust-dev-wasm32; a rustup rustc first on
//! PATH needs `rustup target add wasm32-unknown-unknown` (else "can't find
//! crate for std").
//!
//! `sum` is a plain wasm function, exactly as the public Go benchmark's
//! Rust module exports it; `greet` takes and returns a string through the
//! canonical ABI: the host writes the argument into memory it gets from
//! `cabi_realloc`, `greet` returns a pointer to (ptr, len), and
//! `cabi_post_greet` frees the result once the host is done with it.

use std::alloc::{alloc, dealloc, realloc, Layout};

#[no_mangle]
pub extern "C" fn sum(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

/// The ABI marker: its presence says "plugkit ABI v1".
#[no_mangle]
pub extern "C" fn plugkit_abi_v1() {}

/// Name, version, then (export, signature) pairs, each NUL-terminated,
/// and an empty string to end the list.
static DESCRIPTOR: &[u8] = b"rust\0\
0.1.0\0\
sum\0(i32,i32)->i32\0\
greet\0(str)->str\0\
\0";

#[no_mangle]
pub extern "C" fn plugkit_describe() -> *const u8 {
    DESCRIPTOR.as_ptr()
}

/// The host allocates arguments in our memory with this.
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
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

/// The return area: (pointer, length) of the last string result.
static mut RET: [usize; 2] = [0, 0];

#[no_mangle]
pub unsafe extern "C" fn greet(ptr: *mut u8, len: usize) -> *const usize {
    let name = if len == 0 {
        String::new()
    } else {
        // The argument is ours: take it back and free it after use.
        let bytes = Vec::from_raw_parts(ptr, len, len);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let out = format!("hello, {}", name).into_bytes().into_boxed_slice();
    RET[1] = out.len();
    RET[0] = Box::into_raw(out) as *mut u8 as usize;
    RET.as_ptr()
}

#[no_mangle]
pub unsafe extern "C" fn cabi_post_greet(ret: *const usize) {
    let (p, n) = (*ret as *mut u8, *ret.add(1));
    if n > 0 {
        dealloc(p, Layout::from_size_align_unchecked(n, 1));
    }
}
