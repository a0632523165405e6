/* The libtcc lock a program linking the engine's jit tier provides (see
 * src/wasm/engine/jit.c); plugkit's is in src/source/source.c. */
#include <threads.h>

void pk__tcc_lock(void);
void pk__tcc_unlock(void);

static mtx_t lock;
static once_flag once = ONCE_FLAG_INIT;

static void init(void) { (void)mtx_init(&lock, mtx_plain); }

void pk__tcc_lock(void) {
  call_once(&once, init);
  (void)mtx_lock(&lock);
}

void pk__tcc_unlock(void) { (void)mtx_unlock(&lock); }
