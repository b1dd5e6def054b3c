/* snapshot.h — the pins of a process's snapshots (snapshot.c).
 *
 * A snapshot is a read transaction that a language binding ties to the
 * lifetime of a value object (eve.h, EVE_TXN_SNAPSHOT): any number of them,
 * held for as long as the host keeps the object, handed between threads.
 * They do not claim a reader slot each.  A process's snapshots of a handle
 * share one slot, which shows the oldest epoch any of them took, and one
 * guard node on the record of no thread (guard.h). */
#ifndef EVE_SNAPSHOT_H
#define EVE_SNAPSHOT_H

#include <stdint.h>

#include "region.h"

/* Take a snapshot's pin: afterwards nothing reachable from a root loaded
 * later is freed until snapshot_release(d, *epoch).  Errors: those of
 * guard_enter and epoch_pin (EVE_EINVAL for a closed handle, EVE_EBUSY,
 * EVE_ESLOTS when the process has no snapshot yet and every slot is held),
 * EVE_ENOMEM. */
int snapshot_take(eve_domain *d, uint64_t *epoch);

/* Give back the pin of a snapshot taken at epoch. */
void snapshot_release(eve_domain *d, uint64_t epoch);

/* Live snapshots of this process in d (for statistics). */
uint64_t snapshot_count(eve_domain *d);

/* eve_open / eve_close (no snapshot is live by then: they hold the guard). */
void snapshot_open(eve_domain *d);
void snapshot_close(eve_domain *d);
/* In a forked child: the parent's snapshots are forgotten. */
void snapshot_after_fork(eve_domain *d);

#endif
