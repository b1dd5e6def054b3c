/* cas128.h — the one 128-bit compare-and-swap: a pair of 64-bit words
 * {lo, hi}, 16-byte aligned, swapped together.
 *
 * Every tagged head in the domain is such a pair: the Treiber stacks of
 * free blocks (alloc.c), of free atom cells (cell.c) and of retire batches
 * (epoch.c), all {offset, tag}, where the tag moves on with every change so
 * that a stale head is never mistaken for the current one (ABA); and a
 * reader slot's owner pair {process + 1, incarnation} (epoch.c).
 *
 * The __sync builtins, not __atomic: with -mcx16 GCC and clang inline
 * __sync_bool_compare_and_swap on 16 bytes as one `lock cmpxchg16b`, while
 * GCC sends a 16-byte __atomic_compare_exchange to libatomic.  A __sync
 * compare-and-swap is a full barrier (sequentially consistent), whether it
 * succeeds or fails, at every call site. */
#ifndef EVE_CAS128_H
#define EVE_CAS128_H

#include <stdint.h>

typedef unsigned __int128 cas128_word;

static inline cas128_word cas128_pack(uint64_t lo, uint64_t hi) {
  return (cas128_word)lo | ((cas128_word)hi << 64);
}

/* If the pair at p is {lo, hi}, make it {nlo, nhi}: 1 if it did.  p must
 * be 16-byte aligned.  Full barrier. */
static inline int cas128(void *p, uint64_t lo, uint64_t hi, uint64_t nlo, uint64_t nhi) {
  return __sync_bool_compare_and_swap((cas128_word *)p, cas128_pack(lo, hi),
                                      cas128_pack(nlo, nhi));
}

/* Read the pair at p in one step, by a compare-and-swap of {0, 0} with
 * itself (it writes nothing it did not find).  Full barrier.  Only where
 * a reader must be seen to read both words at once (alloc.c, under
 * ThreadSanitizer); elsewhere two loads do, and a torn pair only makes
 * the next cas128 fail. */
static inline void cas128_read(void *p, uint64_t *lo, uint64_t *hi) {
  cas128_word v = __sync_val_compare_and_swap((cas128_word *)p, 0, 0);
  *lo = (uint64_t)v;
  *hi = (uint64_t)(v >> 64);
}

#endif
