/* commit.h — publishing a new root: ownership accounting, doom, CAS, retire.
 * The protocol and the argument for each rule are at the top of commit.c. */
#ifndef EVE_COMMIT_H
#define EVE_COMMIT_H

#include <stdatomic.h>

#include "txn.h"

/* Publish *new in place of old in the root word *root (an atom's root or the
 * registry).  `mark` is the index in t->fresh where this attempt's blocks
 * begin: they are freed if the attempt loses or does not reach them.
 *
 * Returns 0 with *won = 1 when *new is published (*new may have been
 * replaced by a copy, see commit.c), 0 with *won = 0 when the root CAS lost
 * a race (every effect undone except dooms; retry from a fresh load), or an
 * error (nothing published).  new == old publishes nothing and wins. */
int commit_publish(eve_txn *t, _Atomic uint64_t *root, eve_val old, eve_val *new, size_t mark,
                   int *won);

/* The old value of a root word is unlinked by someone else's means (atom
 * removal replaces it with a tombstone through commit_publish; this is for
 * the collector's bookkeeping): nothing to declare here yet. */

#endif
