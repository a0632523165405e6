/*
 * plugkit new NAME [--lang c|rust|lua|python] [--dir DIR]: write a ready
 * plugin project into DIR (default ./NAME): the plugin, a README, a
 * test.sh calling it through `plugkit call`, and for C and Rust a
 * CMakeLists.txt building it with the installed package's
 * plugkit_add_plugin and registering the test with ctest.
 *
 * Every template exports the same two functions, so one test fits all:
 * sum (i32,i32)->i32 and greet (str)->str (reads the config key
 * "greeting", fails on an empty name). The templates are compiled in;
 * "@NAME@" stands for the plugin's name.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* ---- the templates -------------------------------------------------------- */

static const char c_source[] =
    "/* @NAME@: a plugkit plugin (README.md says how to build and test it). */\n"
    "#include <plugkit_plugin.h>\n"
    "\n"
    "/* A plain typed function: exported as (i32,i32)->i32. */\n"
    "static int32_t sum(int32_t a, int32_t b) { return a + b; }\n"
    "\n"
    "/* Taking the context: config, errors, memory for the result. */\n"
    "static pk_str greet(pk_ctx *c, pk_str name) {\n"
    "  pk_str greeting;\n"
    "  if (name.len == 0) {\n"
    "    pk_fail(c, \"greet: empty name\");\n"
    "    return PK_STR_NONE;\n"
    "  }\n"
    "  if (pk_config(c, \"greeting\", &greeting) != 0)\n"
    "    greeting = PK_STR_LIT(\"hello\");\n"
    "  return pk_str_printf(c, \"%.*s, %.*s\", PK_STR_FMT(greeting),\n"
    "                       PK_STR_FMT(name));\n"
    "}\n"
    "\n"
    "/* PK_THREADSAFE: these exports share no state, so hosts may run\n"
    "   calls from several threads at once. Remove it if you add globals\n"
    "   without locks (plugkit's docs/threads.md). */\n"
    "PK_PLUGIN(\"@NAME@\", \"0.1.0\",\n"
    "          PK_EXPORT(sum, i32, (i32, i32)),\n"
    "          PK_EXPORT_CTX(greet, str, (str)),\n"
    "          PK_THREADSAFE);\n";

static const char rust_source[] =
    "//! @NAME@: a plugkit plugin (README.md says how to build and test it).\n"
    "\n"
    "fn sum(a: i32, b: i32) -> i32 {\n"
    "    a.wrapping_add(b)\n"
    "}\n"
    "\n"
    "fn greet(name: &str) -> Result<String, String> {\n"
    "    if name.is_empty() {\n"
    "        return Err(\"greet: empty name\".into());\n"
    "    }\n"
    "    let greeting = plugkit::config(\"greeting\").unwrap_or(\"hello\".into());\n"
    "    Ok(format!(\"{}, {}\", greeting, name))\n"
    "}\n"
    "\n"
    "plugkit::plugin! {\n"
    "    name: \"@NAME@\", version: \"0.1.0\",\n"
    "    exports: { sum(i32, i32) -> i32, greet(str) -> str }\n"
    "}\n";

static const char lua_source[] =
    "-- @NAME@: a plugkit plugin (README.md says how to test it).\n"
    "local function greet(name)\n"
    "  if name == \"\" then\n"
    "    error(\"greet: empty name\", 0)\n"
    "  end\n"
    "  return (config.greeting or \"hello\") .. \", \" .. name\n"
    "end\n"
    "\n"
    "return {\n"
    "  name = \"@NAME@\",\n"
    "  version = \"0.1.0\",\n"
    "  exports = {\n"
    "    sum = {sig = \"(i32,i32)->i32\", fn = function(a, b) return a + b "
    "end},\n"
    "    greet = {sig = \"(str)->str\", fn = greet},\n"
    "  },\n"
    "}\n";

static const char python_source[] =
    "#!/usr/bin/env python3\n"
    "\"\"\"@NAME@: a plugkit plugin (README.md says how to test it).\"\"\"\n"
    "from plugkit_plugin import Plugin\n"
    "\n"
    "plugin = Plugin(\"@NAME@\", \"0.1.0\")\n"
    "\n"
    "\n"
    "@plugin.export(\"(i32,i32)->i32\", name=\"sum\")\n"
    "def sum_(ctx, a, b):\n"
    "    return a + b\n"
    "\n"
    "\n"
    "@plugin.export(\"(str)->str\")\n"
    "def greet(ctx, name):\n"
    "    if not name:\n"
    "        ctx.fail(\"greet: empty name\")\n"
    "    return \"%s, %s\" % (ctx.config(\"greeting\") or \"hello\", name)\n"
    "\n"
    "\n"
    "plugin.serve()\n";

/* The ctest part of a C or Rust project's CMakeLists.txt: a test per
   built artifact whose backend this plugkit has. */
static const char cmake_tests[] =
    "\n"
    "# `ctest`: test.sh on each artifact whose backend the installed plugkit\n"
    "# has (`plugkit version` lists them).\n"
    "enable_testing()\n"
    "execute_process(COMMAND ${PLUGKIT_CLI} version OUTPUT_VARIABLE "
    "_pk_version)\n"
    "foreach(kind native wasm process source)\n"
    "  if(NOT TARGET @NAME@_${kind})\n"
    "    continue()\n"
    "  elseif(_pk_version MATCHES \"backends:[^\\n]* ${kind}\")\n"
    "    add_test(NAME @NAME@_${kind} COMMAND sh "
    "${CMAKE_CURRENT_SOURCE_DIR}/test.sh\n"
    "             $<TARGET_PROPERTY:@NAME@_${kind},PLUGKIT_FILE>)\n"
    "    set_tests_properties(@NAME@_${kind} PROPERTIES\n"
    "      ENVIRONMENT PLUGKIT=${PLUGKIT_CLI} SKIP_RETURN_CODE 77)\n"
    "  else()\n"
    "    message(STATUS \"@NAME@: the ${kind} plugin is not tested: this "
    "plugkit has no ${kind} backend\")\n"
    "  endif()\n"
    "endforeach()\n";

static const char c_cmake[] =
    "cmake_minimum_required(VERSION 3.16)\n"
    "project(@NAME@ C)\n"
    "\n"
    "# The installed plugkit (-DCMAKE_PREFIX_PATH=<prefix> when it is not in a\n"
    "# standard place): plugkit_add_plugin, plugkit::serve, PLUGKIT_CLI.\n"
    "find_package(plugkit REQUIRED)\n"
    "\n"
    "# One source, every target: @NAME@.so (native), @NAME@.wasm (left out\n"
    "# with a warning when clang cannot build wasm32-wasi here), the\n"
    "# executable @NAME@ (process) and a copy of @NAME@.c (source).\n"
    "plugkit_add_plugin(@NAME@ SOURCES @NAME@.c\n"
    "                   TARGETS native wasm process source)\n";

static const char rust_cmake[] =
    "cmake_minimum_required(VERSION 3.16)\n"
    "project(@NAME@ NONE)\n"
    "\n"
    "# The installed plugkit (-DCMAKE_PREFIX_PATH=<prefix> when it is not in a\n"
    "# standard place): plugkit_add_plugin, the Rust guest module, PLUGKIT_CLI.\n"
    "find_package(plugkit REQUIRED)\n"
    "\n"
    "# @NAME@.wasm, with rustc --target wasm32-unknown-unknown (Debian's\n"
    "# /usr/bin/rustc first) against the installed plugkit.rs. Left out with\n"
    "# a warning when rustc cannot build wasm32 here.\n"
    "plugkit_add_plugin(@NAME@ SOURCES @NAME@.rs TARGETS wasm)\n";

/* test.sh: the same checks for every language; LANG_ARGS says what runs
   without arguments and how. */
static const char test_head[] =
    "#!/bin/sh\n"
    "# test.sh [PLUGIN...]: call @NAME@ through `plugkit call` and check the\n"
    "# answers. PLUGKIT names the plugkit command (default: the one on PATH).\n"
    "# Exit 0 when every check passes, 1 on a failure, 77 when skipped.\n"
    "set -e\n"
    "pk=${PLUGKIT:-plugkit}\n"
    "here=$(cd \"$(dirname \"$0\")\" && pwd)\n";

static const char test_c[] =
    "[ $# -gt 0 ] || { echo \"usage: test.sh PLUGIN... (ctest runs it on "
    "each artifact)\"; exit 2; }\n"
    "opts=\n";

static const char test_lua[] =
    "\"$pk\" version | grep -q '^backends:.* lua' ||\n"
    "  { echo \"SKIP: this plugkit has no lua backend\"; exit 77; }\n"
    "[ $# -gt 0 ] || set -- \"$here/@NAME@.lua\"\n"
    "opts=\n";

static const char test_python[] =
    "command -v python3 >/dev/null 2>&1 ||\n"
    "  { echo \"SKIP: no python3 on PATH\"; exit 77; }\n"
    "\"$pk\" version | grep -q '^backends:.* process' ||\n"
    "  { echo \"SKIP: this plugkit has no process backend\"; exit 77; }\n"
    "[ $# -gt 0 ] || set -- \"$here/@NAME@.py\"\n"
    "# A Python plugin runs in a child process (python3 @NAME@.py); the\n"
    "# process backend puts the installed plugkit_plugin module on its\n"
    "# PYTHONPATH.\n"
    "opts=\"--backend process\"\n";

static const char test_body[] =
    "check() { # WANT ARGS...: plugkit call ARGS... prints WANT\n"
    "  want=$1; shift\n"
    "  got=$(\"$pk\" call $opts \"$@\") ||\n"
    "    { echo \"FAIL: plugkit call $opts $*\"; exit 1; }\n"
    "  [ \"$got\" = \"$want\" ] ||\n"
    "    { echo \"FAIL: plugkit call $opts $*: '$got', expected '$want'\"; "
    "exit 1; }\n"
    "}\n"
    "for p in \"$@\"; do\n"
    "  check 42 \"$p\" sum 40 2\n"
    "  check \"hello, world\" \"$p\" greet world\n"
    "  check \"hi, world\" --config greeting=hi \"$p\" greet world\n"
    "  err=$(\"$pk\" call $opts \"$p\" greet \"\" 2>&1) &&\n"
    "    { echo \"FAIL: greet '' succeeded\"; exit 1; }\n"
    "  case $err in\n"
    "  *\"greet: empty name\"*) ;;\n"
    "  *) echo \"FAIL: greet '': $err\"; exit 1 ;;\n"
    "  esac\n"
    "  echo \"ok: $p\"\n"
    "done\n";

/* README.md: a head per language, then the common part. */
static const char readme_c[] =
    "# @NAME@\n"
    "\n"
    "A plugkit plugin in C, made by `plugkit new`. `@NAME@.c` is the whole\n"
    "plugin; one source builds for every backend.\n"
    "\n"
    "    cmake -S . -B build -DCMAKE_PREFIX_PATH=<plugkit prefix>\n"
    "    cmake --build build\n"
    "    ctest --test-dir build --output-on-failure\n"
    "\n"
    "`build/` then holds `@NAME@.so` (native), `@NAME@.wasm` (wasm; needs\n"
    "clang for wasm32-wasi: Debian's clang, lld, wasi-libc and\n"
    "libclang-rt-14-dev-wasm32), `@NAME@` (an executable for the process\n"
    "backend, linked with `plugkit::serve`) and `@NAME@.c` (the source\n"
    "backend compiles it at open). Try one:\n"
    "\n"
    "    plugkit call build/@NAME@.so greet world\n"
    "    plugkit call --config greeting=hi build/@NAME@.wasm greet world\n"
    "\n"
    "Without CMake: `cc -shared -fPIC $(pkg-config --cflags plugkit) -o\n"
    "@NAME@.so @NAME@.c`, or `cc @NAME@.c $(pkg-config --cflags --libs\n"
    "plugkit-serve)` for the executable.\n";

static const char readme_rust[] =
    "# @NAME@\n"
    "\n"
    "A plugkit plugin in Rust, made by `plugkit new`, built for wasm (no\n"
    "crates: the installed `plugkit` guest module holds the ABI glue; its\n"
    "documentation is at the top of `<prefix>/share/plugkit/rust/plugkit.rs`).\n"
    "\n"
    "    cmake -S . -B build -DCMAKE_PREFIX_PATH=<plugkit prefix>\n"
    "    cmake --build build\n"
    "    ctest --test-dir build --output-on-failure\n"
    "\n"
    "This needs rustc with the wasm32 standard library (Debian: rustc and\n"
    "libstd-rust-dev-wasm32). Then:\n"
    "\n"
    "    plugkit call build/@NAME@.wasm greet world\n";

static const char readme_lua[] =
    "# @NAME@\n"
    "\n"
    "A plugkit plugin in Lua, made by `plugkit new`. Nothing to build:\n"
    "hosts open `@NAME@.lua` directly (with a plugkit built with the lua\n"
    "backend; `plugkit version` lists the backends).\n"
    "\n"
    "    plugkit call @NAME@.lua greet world\n"
    "    sh test.sh\n";

static const char readme_python[] =
    "# @NAME@\n"
    "\n"
    "A plugkit plugin in Python, made by `plugkit new`. Nothing to build: it\n"
    "runs as a child process (the process backend starts `python3 @NAME@.py`\n"
    "and puts the installed `plugkit_plugin` module, from\n"
    "`<prefix>/share/plugkit/python`, on its PYTHONPATH; to run it by hand,\n"
    "set PYTHONPATH to that folder).\n"
    "\n"
    "    plugkit call --backend process @NAME@.py greet world\n"
    "    sh test.sh\n";

static const char readme_tail[] =
    "\n"
    "## Exports\n"
    "\n"
    "| name | signature | does |\n"
    "|---|---|---|\n"
    "| `sum` | `(i32,i32)->i32` | adds |\n"
    "| `greet` | `(str)->str` | `<greeting>, <name>`: config key `greeting`"
    " (default `hello`); an empty name fails the call |\n"
    "\n"
    "`test.sh` calls them through `plugkit call` and checks the answers.\n"
    "Add your own exports beside them, and their checks to `test.sh`.\n";

typedef struct tfile {
  const char *name; /* "@NAME@" replaced */
  const char *parts[4];
  int exec;
} tfile;

typedef struct lang {
  const char *name;
  tfile files[4];
} lang;

static const lang langs[] = {
    {"c",
     {{"@NAME@.c", {c_source}, 0},
      {"CMakeLists.txt", {c_cmake, cmake_tests}, 0},
      {"README.md", {readme_c, readme_tail}, 0},
      {"test.sh", {test_head, test_c, test_body}, 1}}},
    {"rust",
     {{"@NAME@.rs", {rust_source}, 0},
      {"CMakeLists.txt", {rust_cmake, cmake_tests}, 0},
      {"README.md", {readme_rust, readme_tail}, 0},
      {"test.sh", {test_head, test_c, test_body}, 1}}},
    {"lua",
     {{"@NAME@.lua", {lua_source}, 0},
      {"README.md", {readme_lua, readme_tail}, 0},
      {"test.sh", {test_head, test_lua, test_body}, 1}}},
    {"python",
     {{"@NAME@.py", {python_source}, 1},
      {"README.md", {readme_python, readme_tail}, 0},
      {"test.sh", {test_head, test_python, test_body}, 1}}},
};

/* ---- writing them ---------------------------------------------------------- */

/* `s` with each "@NAME@" replaced by `name`, to `f`. */
static void put_subst(FILE *f, const char *s, const char *name) {
  const char *at;
  while ((at = strstr(s, "@NAME@")) != NULL) {
    fwrite(s, 1, (size_t)(at - s), f);
    fputs(name, f);
    s = at + 6;
  }
  fputs(s, f);
}

static int write_file(const char *dir, const tfile *t, const char *name) {
  char path[4096];
  const char *at = strstr(t->name, "@NAME@");
  FILE *f;
  size_t i;
  /* File names hold "@NAME@" at most once, at the start. */
  snprintf(path, sizeof path, "%s/%s%s", dir, at ? name : "",
           at ? at + 6 : t->name);
  if ((f = fopen(path, "wx")) == NULL) {
    fprintf(stderr, "plugkit: new: cannot create %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  for (i = 0; i < 4 && t->parts[i] != NULL; i++)
    put_subst(f, t->parts[i], name);
  if (fclose(f) != 0 || (t->exec && chmod(path, 0755) != 0)) {
    fprintf(stderr, "plugkit: new: cannot write %s: %s\n", path,
            strerror(errno));
    return -1;
  }
  printf("  %s\n", path);
  return 0;
}

static void new_usage(FILE *f) {
  fputs("usage: plugkit new NAME [--lang c|rust|lua|python] [--dir DIR]\n"
        "Writes a plugin project into DIR (default ./NAME): the plugin, a\n"
        "README.md, a test.sh calling it through `plugkit call`, and for C\n"
        "and Rust a CMakeLists.txt using the installed package's\n"
        "plugkit_add_plugin. NAME is a C identifier.\n",
        f);
}

int cli_new(int argc, char **argv) {
  const char *name = NULL, *dir = NULL, *lname = "c";
  const lang *l = NULL;
  size_t i;
  int a;
  for (a = 0; a < argc; a++) {
    if (strcmp(argv[a], "--lang") == 0 && a + 1 < argc) {
      lname = argv[++a];
    } else if (strncmp(argv[a], "--lang=", 7) == 0) {
      lname = argv[a] + 7;
    } else if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc) {
      dir = argv[++a];
    } else if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
      new_usage(stdout);
      return 0;
    } else if (argv[a][0] == '-' || name != NULL) {
      fprintf(stderr, "plugkit: new: unexpected argument '%s'\n", argv[a]);
      new_usage(stderr);
      return 2;
    } else {
      name = argv[a];
    }
  }
  if (name == NULL) {
    new_usage(stderr);
    return 2;
  }
  /* The name becomes PK_PLUGIN's name, file names and CMake targets. */
  for (i = 0; name[i] != '\0'; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
          (i > 0 && ch >= '0' && ch <= '9')) ||
        i >= 64) {
      fprintf(stderr,
              "plugkit: new: '%s' is not a valid plugin name (a C "
              "identifier of at most 64 characters: letters, digits, _)\n",
              name);
      return 2;
    }
  }
  if (i == 0) {
    new_usage(stderr);
    return 2;
  }
  for (i = 0; i < sizeof langs / sizeof langs[0]; i++)
    if (strcmp(langs[i].name, lname) == 0)
      l = &langs[i];
  if (l == NULL) {
    fprintf(stderr, "plugkit: new: unknown language '%s' (c, rust, lua, "
                    "python)\n", lname);
    return 2;
  }
  if (dir == NULL)
    dir = name;
  if (mkdir(dir, 0777) != 0) {
    fprintf(stderr, "plugkit: new: cannot create %s: %s\n", dir,
            strerror(errno));
    return 1;
  }
  printf("plugkit: new %s plugin '%s':\n", l->name, name);
  for (i = 0; i < 4 && l->files[i].name != NULL; i++)
    if (write_file(dir, &l->files[i], name) != 0)
      return 1;
  printf("next: see %s/README.md\n", dir);
  return 0;
}
