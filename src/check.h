/* check.h — recovery hook of the collector (check.c). */
#ifndef EVE_CHECK_H
#define EVE_CHECK_H

#include "region.h"

/* If the domain carries crash or skipped-retirement evidence and this
 * process can take it exclusively, run a full collection.  Quietly does
 * nothing otherwise (another process will, when it is last). */
void check_recover_if_needed(eve_domain *d);

#endif
