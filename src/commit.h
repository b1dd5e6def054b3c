/* commit.h — publishing a new root: ownership accounting, doom, CAS, retire.
 * The protocol and the argument for each rule are at the top of commit.c. */
#ifndef EVE_COMMIT_H
#define EVE_COMMIT_H

#include <stdatomic.h>
#include <stdint.h>

#include "txn.h"

/* Publish *new in place of old in the root word *root (an atom's root or the
 * registry).  `version` (NULL for none) is the atom's change counter: a
 * winning commit that changes the root bumps it right after the root CAS,
 * before anything is retired or any owner taken, so a reader that sees an
 * unchanged version before and after a walk knows no commit won meanwhile
 * (the checker relies on it, check.c).  `mark` is the index in t->fresh where this attempt's blocks
 * begin: they are freed if the attempt loses or does not reach them.
 *
 * Returns 0 with *won = 1 when *new is published (*new may have been
 * replaced by a copy, see commit.c), 0 with *won = 0 when the root CAS lost
 * a race (every effect undone except dooms; retry from a fresh load), or an
 * error (nothing published).  new == old publishes nothing and wins. */
int commit_publish(eve_txn *t, _Atomic uint64_t *root, _Atomic uint64_t *version, eve_val old,
                   eve_val *new, size_t mark, int *won);

/* Journals (commit.c): each reader slot keeps, in the domain, a record of
 * the commit its transaction has in flight, so that if the process dies
 * another can finish or undo it (epoch.c, "repairing dead processes").
 * commit_repair_journal settles the commit recorded in journal block `off`
 * of a dead process's slot: it returns what became of it, and its journal
 * sequence in *seq (the pending retirements in the dead process's logs name
 * it). */
#define T_JOURNAL 12
/* (The outcomes, enum commit_outcome, are epoch.h's: epoch.c calls this
 * through the hook domain.c registers there.) */
int commit_repair_journal(eve_domain *d, uint64_t off, uint64_t *seq);

/* Test-only pause points: when a hook is set, every commit calls it at
 * these points, so a test can stop a committer there and interleave others
 * step by step (the scenarios of docs/RECLAMATION.md).  `off` names the block
 * just doomed or adopted (0 elsewhere).  The hook runs in the committing
 * thread; a NULL hook (the default) costs one predictable branch. */
enum commit_pause {
  PAUSE_AFTER_COUNT = 1,  /* new version counted, nothing written yet     */
  PAUSE_AFTER_DOOM,       /* a block was doomed (CAS LIVE -> RETIRED)      */
  PAUSE_AFTER_ADOPT,      /* a block's owner count was raised by CAS       */
  PAUSE_BEFORE_CAS,       /* about to CAS the root                         */
  PAUSE_AFTER_CAS,        /* root CAS done (won or lost), nothing retired  */
  PAUSE_BEFORE_DROP,      /* won: dooms retired, owners of SHARED blocks
                             not yet taken (or, lost: counts not rolled back) */
};
typedef void (*commit_pause_fn)(enum commit_pause point, uint64_t off, int won, void *ctx);
#ifdef EVE_TEST_HOOKS /* test hooks: only in the tests' build (eve_internal) */
void eve__test_set_commit_pause(commit_pause_fn fn, void *ctx);
#endif

/* Test-only: the pair fast path (commit.c, "pairs") can be switched off, so
 * a suite can run both ways and compare, and it counts what it did while
 * counting is on (eve__test_commit_pair_counts(&c, 1) resets and turns
 * counting on; the default is off, which costs one predictable branch). */
typedef struct commit_pair_counts {
  uint64_t formed;     /* pairs formed by the count                        */
  uint64_t unpaired;   /* pairs whose old side did not die: counted after  */
  uint64_t repointed;  /* matched words moved to a copy of their block     */
} commit_pair_counts;
#ifdef EVE_TEST_HOOKS
void eve__test_set_commit_pairing(int on);
void eve__test_commit_pair_counts(commit_pair_counts *out, int reset);
#endif

#endif
