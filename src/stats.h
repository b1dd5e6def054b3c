/* stats.h — statistics (stats.c); eve_stats_get is declared in eve.h. */
#ifndef EVE_STATS_H
#define EVE_STATS_H

#include <stdint.h>

#include "region.h"

/* Bytes retired and not yet freed: every process's retire logs and the
 * shared batches (beside live processes a snapshot that may be off by what
 * they retire and free meanwhile).  The checker's leak accounting uses it
 * too. */
uint64_t stats_retired_bytes(eve_domain *d);

#endif
