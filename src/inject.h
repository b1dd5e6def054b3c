/* inject.h — allocation failures on demand, for tests (only in the
 * tests' build, EVE_TEST_HOOKS; release builds compile the checks away).
 *
 * The code that runs after a root CAS has won must not fail (the swap has
 * happened; a caller told otherwise would apply it twice), yet it can need
 * memory: the stack of a dead subtree's children, a longer retire log.
 * Those allocations go through inject_alloc_fails(), so a test can make
 * them fail at exactly that moment and check that the swap still reports
 * success.  Armed per thread; off, it costs one thread-local load. */
#ifndef EVE_INJECT_H
#define EVE_INJECT_H

#include <stdint.h>

/* 1 when the calling thread has armed failures: the caller then behaves as
 * if its allocation had failed (and the failure is counted). */
#ifdef EVE_TEST_HOOKS
int inject_alloc_fails(void);

/* Test-only: arm (on != 0) or disarm failures in the calling thread; the
 * number injected since the last arming. */
void eve__test_fail_allocs(int on);
uint64_t eve__test_injected_allocs(void);
#else /* release: never fails, costs nothing */
static inline int inject_alloc_fails(void) { return 0; }
#endif

#endif
