/*
 * pk_serve_main.c: main() for an executable plugin linked with the
 * installed libplugkit_serve.a. It is its own object in the archive so
 * that a plugin with its own main() (calling pk_serve_desc or
 * pk_serve_run) does not get a second one; pk_serve.c, built into the
 * library with PK_SERVE_NO_MAIN, holds the rest.
 */
#include "pk_serve.h"

extern const pk_plugin_desc pk_plugin_descriptor;

int main(void) { return pk_serve_desc(&pk_plugin_descriptor); }
