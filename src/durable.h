/* durable.h — checkpoints, eve_sync and recovery after a power cut
 * (durable.c explains the protocol; docs/FORMAT.md the records). */
#ifndef EVE_DURABLE_H
#define EVE_DURABLE_H

#include "region.h"

/* The newest valid checkpoint of d's header into *out: its slot (0 or 1),
 * or -1 when there is none. */
int durable_newest(eve_domain *d, eve_checkpoint *out);

/* eve_sync inside the guard. */
int durable_sync(eve_domain *d);

/* eve_close's first step: sync a read-write domain that has a checkpoint
 * (errors ignored: the close goes on). */
void durable_sync_at_close(eve_domain *d);

/* At open, on a mapped and validated file: 1 when the domain must be
 * restored from *restore (the machine rebooted since the domain was last
 * opened, or EVE_OPEN_RECOVER, and a checkpoint exists), 0 when it opens
 * as it is (recording the boot where it changed and there is nothing to
 * restore), or an error: EVE_ECORRUPT read-only where a restore is due,
 * EVE_ENOENT for EVE_OPEN_RECOVER with no checkpoint. */
int durable_open_check(eve_domain *d, unsigned flags, eve_checkpoint *restore);

/* Record this boot in the header (a new or restored file). */
void durable_mark_boot(eve_domain *d);

/* The cross-process lock syncs and recoveries take (an OFD lock on d->fd):
 * durable_lock waits for it. */
int durable_lock(eve_domain *d);
void durable_unlock(eve_domain *d);

/* domain.c: open the file at path read-only, as it is, for a restore
 * (no recovery check: the caller is the recovery). */
int domain_open_for_restore(const char *path, eve_domain **out);

/* compact.c: restore the checkpoint map `root` of the domain file at path
 * (the caller holds its durable_lock on an open file of it), whose blocks
 * all lie below `end`, into a new file, checked and synced with a
 * checkpoint of its own, renamed over path.  EVE_ETRUNC when the file is
 * shorter than end. */
int compact_restore(const char *path, eve_val root, uint64_t end);

#endif
