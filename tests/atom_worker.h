/* atom_worker.h — what tests/atom_worker.c and tests/test_procs.c agree on.
 *
 * The worker and the test generate the same step sequence from a seed, so
 * the test computes the exact final state of the nested map itself instead
 * of trusting anything a worker reports.
 *
 * The nested map:  {:total S, :n N, :items {"w<id>" {"worker-<id>/item-<k>" v}}}
 *   S == the sum of every v (the invariant readers check in each snapshot),
 *   N == the number of steps applied by all workers together.
 * Each worker owns the keys under its own "w<id>", so the final contents do
 * not depend on how the workers' swaps interleave. */
#ifndef EVE_TEST_ATOM_WORKER_H
#define EVE_TEST_ATOM_WORKER_H

#include <stdint.h>
#include <stdio.h>

/* Keys per worker: enough that the item maps have interior CHAMP nodes. */
#define AW_ITEMS 48u

/* The counter's values start here: outside the 61-bit immediate range, so
 * every increment allocates a boxed int and retires the previous one. */
#define AW_COUNTER_BASE ((int64_t)1 << 62)

/* splitmix64, the same generator as support.c's t_rand. */
static inline uint64_t aw_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* One step: set item `item` of this worker to `val`, or remove it when val
 * is 0 (one step in eight: removals exercise CHAMP compaction). */
typedef struct aw_step {
  unsigned item;
  int64_t val;
} aw_step;

static inline aw_step aw_next_step(uint64_t *s) {
  uint64_t r = aw_rand(s);
  aw_step st = {(unsigned)(r % AW_ITEMS), 0};
  if ((r >> 20) % 8 != 0) st.val = 1 + (int64_t)((r >> 32) % 999);
  return st;
}

/* Item keys are long enough to be boxed strings (blocks, not immediates). */
static inline int aw_item_key(char *buf, size_t n, unsigned worker, unsigned item) {
  return snprintf(buf, n, "worker-%u/item-%03u", worker, item);
}

static inline int aw_worker_key(char *buf, size_t n, unsigned worker) {
  return snprintf(buf, n, "w%u", worker);
}

#endif
