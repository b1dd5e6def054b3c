/* atom.h — atom cells and the registry (atom.c). */
#ifndef EVE_ATOM_H
#define EVE_ATOM_H

#include <stdatomic.h>
#include <stdint.h>

#include "region.h"

/* An atom cell: one cache line in a page of cells.  Cells are type-stable:
 * they never leave the cell pool, so a handle may cache a cell's offset
 * across transactions; the generation tells a handle that its atom was
 * removed (and the cell perhaps reused). */
typedef struct atom_cell {
  _Atomic uint64_t root;        /* the value word, or ATOM_TOMBSTONE          */
  _Atomic uint64_t generation;  /* bumped by removal; also in the registry    */
  _Atomic uint64_t version;     /* bumped by every change; its low 32 bits
                                   (the first 4 bytes: little-endian) are the
                                   futex word eve_wait sleeps on              */
  _Atomic uint32_t seq;         /* unused, zero                               */
  _Atomic uint32_t waiters;     /* sleepers in eve_wait                       */
  _Atomic uint64_t next_free;   /* link in the free-cell stack                */
  uint64_t reserved[3];
} atom_cell;
_Static_assert(sizeof(atom_cell) == 64, "a cell is one cache line");

/* Never a value: a special immediate of a kind no constructor makes. */
#define ATOM_TOMBSTONE ((uint64_t)((8u << 3) | 2u))
/* Block type of a page of cells (never a value, holds no references). */
#define T_CELLS 9
#define ATOM_PAGE_BYTES 4096u

/* Return a cell to the pool (called by epoch.c after its grace period).
 * `gen` is the generation the cell had when it was retired: the release
 * moves it on by CAS, so a second release of the same retirement (a
 * repaired process's log entry seen twice) does nothing. */
void atom_cell_release(eve_domain *d, uint64_t cell, uint64_t gen);

/* Visit every cell page (for the checker and the collector). */
void atom_for_each_page(eve_domain *d, void (*fn)(void *ctx, uint64_t page), void *ctx);
/* The cells of a page: first offset and count. */
void atom_page_cells(uint64_t page, uint64_t *first, unsigned *count);

#endif
