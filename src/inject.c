/* inject.c — allocation failures on demand, for tests (see inject.h). */
#include "inject.h"

#ifdef EVE_TEST_HOOKS

static __thread int tls_armed;
static __thread uint64_t tls_injected;

int inject_alloc_fails(void) {
  if (__builtin_expect(!tls_armed, 1)) return 0;
  tls_injected++;
  return 1;
}

void eve__test_fail_allocs(int on) {
  tls_armed = on != 0;
  if (on) tls_injected = 0;
}

uint64_t eve__test_injected_allocs(void) { return tls_injected; }
#endif
