/* epoch.h — reader slots, epochs, process liveness, retirement.
 * The argument for each rule is at the top of epoch.c. */
#ifndef EVE_EPOCH_H
#define EVE_EPOCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "alloc.h"
#include "region.h"

/* A reader slot: one cache line in the file.  Claimed by CAS of the owner
 * pair {process index + 1, incarnation}; written only by its claimer. */
typedef struct eve_slot {
  _Atomic uint64_t owner_proc;  /* process index + 1; 0 = free               */
  _Atomic uint64_t owner_inc;   /* the owner's 64-bit incarnation            */
  _Atomic uint64_t epoch;       /* epoch pinned, 0 = not pinned              */
  _Atomic uint64_t pid;         /* for eve stats                             */
  _Atomic uint64_t pin_ns;      /* CLOCK_MONOTONIC at the pin, for stats     */
  _Atomic uint64_t journal;     /* the slot's commit journal (commit.h), 0 if
                                   none yet: kept across claimers             */
  _Atomic uint64_t tid;         /* thread that began the transaction (stats) */
  uint64_t reserved[1];
} __attribute__((aligned(64))) eve_slot;
_Static_assert(sizeof(eve_slot) == EVE_SLOT_BYTES, "slot is one cache line");

/* A process entry in the liveness page.  The process holds an OFD write
 * lock on byte (liveness page + index) for as long as it is attached. */
typedef struct eve_proc {
  _Atomic uint64_t incarnation;
  _Atomic uint64_t pid;
  _Atomic uint64_t logs;   /* the process's retire logs, a list (epoch.c)     */
  _Atomic uint64_t held;   /* retire batches it has taken off the shared list */
} eve_proc;
#define EVE_PROC_COUNT EVE_SLOT_COUNT
#define EVE_ATTACH_BYTE (EVE_PAGE - 1) /* in the liveness page: shared by all attached */

/* A retire batch: retired blocks moved out of a thread's private buffer
 * into the domain, on a shared list, so that any process can free them
 * (a process that exits with blocks still waiting for other processes'
 * readers leaves them here, not leaked). */
#define T_BATCH 10
#define T_LOG 11
#define BATCH_ENTRIES 61
typedef struct retire_batch {
  blk h;
  _Atomic uint64_t next;   /* link in the shared list                      */
  uint64_t max_tag;        /* freeable when every live pin shows more      */
  uint64_t n;
  struct { uint64_t off, gen; } e[BATCH_ENTRIES];
} retire_batch;
_Static_assert(sizeof(retire_batch) <= 1024, "a batch is a small block");

/* Visit every block (and every batch block) waiting in the shared retire
 * batches: for the checker and statistics, on a quiet domain. */
void epoch_for_each_batched(eve_domain *d,
                            void (*fn)(void *ctx, uint64_t off, uint64_t gen, int is_batch),
                            void *ctx);

/* Reader slot i (for the commit's journal and the checker). */
eve_slot *epoch_slot(eve_domain *d, uint32_t i);

/* Attach this process to the domain (lazily called by pin). */
int epoch_attach(eve_domain *d);
/* At close: reclaim what can be, count the rest as skipped, let go.
 * `before_release` (may be NULL) runs once the handover is done, while this
 * process is still attached and before its entry is marked clean: domain.c
 * passes the collector's recovery (collect.h), which the last process to
 * detach runs.  Not called when there is nothing attached to hand over. */
void epoch_detach(eve_domain *d, void (*before_release)(eve_domain *d));
/* In a forked child: forget the parent's attachment without unlocking. */
void epoch_after_fork(eve_domain *d);

/* Claim a slot and announce the current epoch in it.  EVE_ESLOTS when
 * every slot is held by a live transaction. */
int epoch_pin(eve_domain *d, uint32_t *slot);
void epoch_unpin(eve_domain *d, uint32_t slot);
/* The epoch a slot of ours shows; move it forward to `epoch` (never back:
 * the caller guarantees nothing read under the pin needs an older one),
 * with pin_ns (CLOCK_MONOTONIC) as the pin's age for statistics. */
uint64_t epoch_pinned(eve_domain *d, uint32_t slot);
void epoch_repin(eve_domain *d, uint32_t slot, uint64_t epoch, uint64_t pin_ns);
uint64_t epoch_now_ns(void);

/* The retire tag: the global epoch, read after a successful root CAS. */
uint64_t epoch_tag(eve_domain *d);

/* Retire a block (or an atom cell: off | 1) retired with tag; it is freed
 * once every live pinned slot shows a later epoch. */
int epoch_retire(eve_domain *d, uint64_t off, uint64_t gen, uint64_t tag);

/* A block doomed by a commit that has not published yet waits in the
 * thread's log with a pending tag naming the commit (its slot and journal
 * sequence), so that if the process dies, whoever repairs it knows whose
 * outcome decides the block's fate.  *start is the log index of the
 * commit's first pending entry (set by the first call: pass SIZE_MAX).
 * After the root CAS the committer gives them the real tag (won) or takes
 * them out again (lost: the blocks live on, doomed). */
#define TAG_PENDING_BIT (1ull << 63)
static inline uint64_t tag_pending(uint32_t slot, uint64_t seq) {
  return TAG_PENDING_BIT | ((uint64_t)slot << 40) | (seq & ((1ull << 40) - 1));
}
int epoch_retire_pending(eve_domain *d, uint64_t off, uint64_t gen, uint64_t pending,
                         size_t *start);
void epoch_pending_publish(eve_domain *d, size_t start, uint64_t tag);
void epoch_pending_drop(eve_domain *d, size_t start);

/* What became of the commit a dead process's slot had in flight, as its
 * journal tells (commit.c, "journals"). */
enum commit_outcome {
  COMMIT_NONE = 0,        /* no commit in flight                           */
  COMMIT_PUBLISHED,       /* its root CAS won: owners it still had to take
                             are taken, its doomed blocks are garbage       */
  COMMIT_NOT_PUBLISHED,   /* it never won: owners it raised are given back */
  COMMIT_UNKNOWN,         /* cannot tell: both left as they are (a leak)   */
};
/* Settling such a commit is the commit's business, a module above this
 * one: domain.c registers commit_repair_journal here before any domain is
 * opened.  fn(d, journal, &seq) settles the commit recorded in journal
 * block `journal` and gives its journal sequence in seq.  Without a hook
 * every such commit counts as COMMIT_UNKNOWN (a leak, never an early free). */
typedef int (*epoch_journal_repair_fn)(eve_domain *d, uint64_t journal, uint64_t *seq);
void epoch_set_journal_repair(epoch_journal_repair_fn fn);

/* Repair what dead processes left half-done (their commits in flight, their
 * retire logs, the batches they held), while everyone else stays attached.
 * `force` skips the rate limit.  A syscall per attached process: never on
 * the hot path. */
void epoch_repair_dead(eve_domain *d, int force);

/* Visit the retire logs of every process (for the checker and statistics:
 * racy beside live processes, exact on a quiet domain): fn on each log
 * block, then on each entry. */
void epoch_for_each_logged(eve_domain *d, void (*fn)(void *ctx, const retire_entry *e,
                                                      uint64_t log_off),
                           void *ctx);
/* For the collector (exclusive): forget what dead processes left (their
 * logs are swept with the rest of the unreachable blocks). */
void epoch_forget_dead(eve_domain *d);
/* Free what the grace period allows, in this thread's buffer and in those
 * of exited threads.  Returns how many entries still wait. */
uint64_t epoch_reclaim(eve_domain *d);

typedef struct epoch_stats {
  uint64_t readers, oldest_pin_ms;
  int64_t oldest_pin_pid, oldest_pin_tid;
} epoch_stats;
void epoch_stats_get(eve_domain *d, epoch_stats *out);

/* Is process index p with incarnation inc alive?  (A syscall: never on
 * the hot path.)  Marks the domain crash-seen when it finds a dead owner. */
int epoch_proc_alive(eve_domain *d, uint32_t p, uint64_t inc);

/* Try to become the only attached process (for recovery): 0 or EVE_EBUSY.
 * epoch_exclusive_end returns to shared attachment. */
int epoch_exclusive_begin(eve_domain *d);
void epoch_exclusive_end(eve_domain *d);

#endif
