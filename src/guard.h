/* guard.h — the in-process guard on a domain handle (guard.c).
 *
 * A thread is *inside* a domain handle while it runs a public call on it
 * (eve_atom_open, eve_check, eve_wait...) or holds one of its transactions
 * open.  Each of these occupies a slot on the thread's own record, which
 * names the handle.  Three things need the handle to themselves, with no
 * thread of this process inside it: the collector (eve_gc), the recovery
 * that eve_open and eve_close may run, and eve_close's teardown.  They take
 * it *exclusively*: set GUARD_EXCLUSIVE, then look at every thread's slots
 * for the handle; finding it, they clear the bit again and return
 * EVE_EBUSY.
 *
 * Entering stores the handle into a slot and then loads the handle's state;
 * the taker sets its bit and then loads the slots; all four are seq_cst, so
 * (the store-buffering case of the memory model) at least one of the two
 * sees the other: the taker sees the slot, or the entering thread sees the
 * bit, empties its slot and waits for the taker to finish (up to about
 * 2 s, then EVE_EBUSY).  The state word also says CLOSED, for good (the
 * handle's memory is kept, so a late call gets EVE_EINVAL, not freed
 * memory), and carries the damage bits set by the SIGBUS handler
 * (fault.c), sticky too. */
#ifndef EVE_GUARD_H
#define EVE_GUARD_H

#include <stdatomic.h>

#include "eve.h"

struct eve_domain;
struct guard_chunk;

typedef struct guard_node guard_node;
struct guard_node {
  struct guard_chunk *chunk;  /* where its slot is; NULL when not inside  */
  unsigned index;
  /* What a thread that exits inside d still owes this node: set by txn.c
   * for the node embedded in an eve_txn (end the transaction), NULL for a
   * call (forgotten).  A function pointer, so the guard needs nothing of
   * the module above it. */
  void (*at_thread_exit)(guard_node *n);
};

/* The bits of eve_domain.guard (GUARD_*) are in region.h: the handle
 * carries them, and region_damage() reads them. */

/* The error a call gets from a handle in state st (st != 0). */
int guard_refusal(unsigned st);

/* Enter d with node n (at_thread_exit set by the caller): 0, or EVE_EINVAL once
 * closed, EVE_ETRUNC / EVE_EIO once damaged (fault.c), EVE_ENOMEM.  While d is held exclusively it waits (about 2 s at
 * most, then EVE_EBUSY).  Leave with guard_leave (a no-op on a node that
 * is not inside), from any thread. */
int guard_enter(struct eve_domain *d, guard_node *n);
void guard_leave(guard_node *n);
/* Enter d on the record of no thread, for what outlives the thread that
 * made it (a snapshot pool, snapshot.c): a thread's exit does not end it,
 * and eve_gc / eve_close stay busy until it leaves.  n->at_thread_exit is
 * set to NULL.  Errors as guard_enter. */
int guard_enter_detached(struct eve_domain *d, guard_node *n);

/* Take d exclusively.  `allow` are state bits that do not refuse (eve_close
 * proceeds on a damaged handle; the collector does not).  0, or the
 * refusal of the state, or EVE_EBUSY when a thread is inside d. */
int guard_exclusive_begin(struct eve_domain *d, unsigned allow);
/* Give it back; with `closed`, mark the handle closed for good. */
void guard_exclusive_end(struct eve_domain *d, int closed);

/* fork(): hold the record list across it; in the child keep only the
 * calling thread's record, emptied (the parent's transactions are not the
 * child's: txn.c forgets them). */
void guard_fork_prepare(void);
void guard_fork_parent(void);
void guard_fork_child(void);

#endif
