# The wasm backend: WebAssembly plugins on the built-in engine.
if(TARGET pk_wasm_engine)
  list(APPEND PK_SOURCES wasm/wasm.c wasm/wabi.c wasm/wentry.c wasm/wimports.c
    wasm/wasi.c wasm/wfmt.c wasm/aot.c)
  list(APPEND PK_DEFS PK_HAVE_WASM=1)
  list(APPEND PK_OBJECT_LIBS pk_wasm_engine)
  list(APPEND PK_BACKENDS_BUILT wasm)
endif()
