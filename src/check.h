/* check.h — recovery hook of the collector (check.c). */
#ifndef EVE_CHECK_H
#define EVE_CHECK_H

#include "region.h"

/* If the domain carries crash or skipped-retirement evidence and this
 * process can take it exclusively, run a full collection.  Quietly does
 * nothing otherwise (another process will, when it is last). */
void check_recover_if_needed(eve_domain *d);

/* Test-only: a collection calls fn(ctx) once it has marked and before it
 * sweeps, holding the domain exclusively, so a test can act in the middle
 * of it.  NULL (the default) turns it off. */
#ifdef EVE_TEST_HOOKS /* only in the tests' build (eve_internal) */
void eve__test_set_gc_pause(void (*fn)(void *ctx), void *ctx);
#endif

#endif
