/* peers_cas.c — the physical floor of the counter scenario: a load and a
 * compare-and-swap loop on one 64-bit word of MAP_SHARED memory, shared
 * with the forked workers, on its own cache line. */
#define _GNU_SOURCE
#include <stdalign.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "bench.h"

struct cas_cell {
  alignas(64) _Atomic uint64_t word;
};

cas_cell *cas_map(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void cas_unmap(cas_cell *c) {
  if (c) munmap(c, 4096);
}

uint64_t cas_inc(cas_cell *c) {
  uint64_t old = atomic_load_explicit(&c->word, memory_order_relaxed), tries = 1;
  while (!atomic_compare_exchange_weak_explicit(&c->word, &old, old + 1, memory_order_acq_rel,
                                                memory_order_relaxed))
    tries++;
  return tries;
}

uint64_t cas_value(cas_cell *c) { return atomic_load(&c->word); }
void cas_reset(cas_cell *c) { atomic_store(&c->word, 0); }
