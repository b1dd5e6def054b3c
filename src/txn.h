/* txn.h — transactions: the context every value operation runs in.
 *
 * A transaction records the blocks it allocates ("fresh" blocks) so that
 * its end (eve_txn_end) can free the ones no swap published.  Errors
 * inside a transaction are sticky: the first corrupt block or allocation
 * failure is remembered in t->err, and every later public call returns it.  Internal readers therefore never crash on a bad offset: they
 * get a zeroed dummy block (counts 0, no children) and set t->err. */
#ifndef EVE_TXN_H
#define EVE_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "eve.h"
#include "guard.h"
#include <stdatomic.h>

struct eve_txn {
  eve_domain *d;
  unsigned flags;     /* enum eve_txn_flags                                  */
  int err;            /* sticky error, 0 if none                             */
  uint64_t *fresh;    /* offsets allocated in this txn and not yet published;
                         0 marks an entry published by a commit             */
  size_t nfresh, capfresh;
  uint32_t slot;      /* reader slot pinned by this txn                      */
  int pinned;
  unsigned fork_gen;  /* a txn inherited across fork() is refused            */
  int swap_depth;     /* swaps in progress in this txn (nested by swap fns)  */
  uint64_t swapping[8]; /* their atom cells, to refuse re-entry             */
  guard_node node;    /* on its thread's record while open (guard.c)        */
  int guarded;        /* begun by eve_txn_begin (not internally)            */
  _Atomic uint64_t refs; /* a snapshot's references (eve_txn_retain)       */
  uint64_t snap_epoch; /* the epoch a snapshot took (snapshot.c)             */
  int equal_kinds;    /* val_same is comparing: a list never equals a vector */
};

/* Record err as the txn's sticky error (the first one wins); returns
 * t->err.  Once the domain is damaged (fault.c), whatever went wrong is
 * reported as the damage. */
static inline int txn_fail(eve_txn *t, int err) {
  if (!t->err) t->err = region_error(t->d, err);
  return t->err;
}

/* What a call on t must return before it reads: the sticky error, or
 * EVE_EFORKED (made sticky) for a transaction inherited across fork().  In
 * the child, what it reads is pinned only by the parent's slot, which the
 * parent may release at any moment. */
static inline int txn_status(eve_txn *t) {
  if (__builtin_expect(t->err != 0, 0)) return t->err;
  if (__builtin_expect(t->fork_gen != region_fork_gen(), 0)) return t->err = EVE_EFORKED;
  return 0;
}

/* A transaction begun inside a call that already holds the domain (an
 * eve_check, eve_atom_open...) or holds it exclusively (the collector):
 * not entered in the guard again, so a collector trying to start cannot
 * make it fail half-way. */
int txn_begin_internal(eve_domain *d, unsigned flags, eve_txn **out);

/* Check that t may create values. */
static inline int txn_writable(eve_txn *t) {
  if (txn_status(t)) return t->err;
  if (!(t->flags & EVE_TXN_WRITE)) return EVE_ETXN;
  return 0;
}

/* A zeroed, read-only block returned for any invalid offset. */
extern const union dummy_block {
  blk h;
  uint8_t bytes[8192];
  uint64_t words[1024];
} txn_dummy;

/* Resolve a block offset for reading.  Checks alignment, bounds (header
 * and the whole capacity of its class), magic and, if type != T_FREE, the
 * type.  On any failure sets t->err = EVE_ECORRUPT and returns &txn_dummy.h.
 * Use txn_read_any() when several types are acceptable.  Inline: every
 * block access goes through it. */
static inline const blk *txn_read(eve_txn *t, uint64_t off, unsigned type) {
  eve_domain *d = t->d;
  if (__builtin_expect(off % BLK_ALIGN == 0 && region_contains(d, off, sizeof(blk)), 1)) {
    const blk *b = region_ptr(d, off); /* only once off is known to be inside */
    if (__builtin_expect(b->magic == BLK_MAGIC && b->cls < EVE_NCLASSES &&
                             (type != T_FREE ? b->type == type
                                             : (b->type != T_FREE && b->type < T_LIMIT)) &&
                             region_contains(d, off, alloc_class_size(b->cls)),
                         1))
      return b;
  }
  txn_fail(t, EVE_ECORRUPT);
  return &txn_dummy.h;
}
static inline const blk *txn_read_any(eve_txn *t, uint64_t off) {
  return txn_read(t, off, T_FREE);
}

/* Allocate a fresh block of `bytes` (header included) of `type`; returns a
 * writable pointer and its offset, or NULL (t->err set) on failure. */
void *txn_alloc(eve_txn *t, uint64_t bytes, unsigned type, uint64_t *off);

/* Drop the entries commits have published (zeroed) from t->fresh.  Only
 * when no swap is in progress: an enclosing swap holds an index into it. */
void txn_compact_fresh(eve_txn *t);

/* Capacity in bytes of a block's class (header included). */
static inline uint64_t blk_capacity(const blk *b) { return alloc_class_size(b->cls); }

/* Check that a block read with txn_read has room for `need` bytes (header
 * included); if not, marks the txn corrupt.  Returns 1 when it fits. */
static inline int txn_fits(eve_txn *t, const blk *b, uint64_t need) {
  if (b == &txn_dummy.h) return need <= sizeof txn_dummy;
  if (need <= blk_capacity(b)) return 1;
  txn_fail(t, EVE_ECORRUPT);
  return 0;
}

#endif
