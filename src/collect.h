/* collect.h — the tracing collector (collect.c); eve_gc is declared in
 * eve.h. */
#ifndef EVE_COLLECT_H
#define EVE_COLLECT_H

#include "region.h"

/* If the domain carries crash or skipped-retirement evidence and this
 * process can take it exclusively, run a full collection.  Quietly does
 * nothing otherwise (another process will, when it is last).  Called by
 * eve_close (domain.c, through epoch_detach) once it holds the handle
 * exclusively, so no other thread is inside it. */
void collect_recover_if_needed(eve_domain *d);

/* Test-only: a collection calls fn(ctx) once it has marked and before it
 * sweeps, holding the domain exclusively, so a test can act in the middle
 * of it.  NULL (the default) turns it off. */
#ifdef EVE_TEST_HOOKS /* only in the tests' build (eve_internal) */
void eve__test_set_gc_pause(void (*fn)(void *ctx), void *ctx);
#endif

#endif
