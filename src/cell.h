/* cell.h — atom cells and their pool (cell.c).
 *
 * An atom's root word lives in a cell, not in a block that values own: the
 * registry (atom.c) names cells by offset and generation, the commit CASes
 * their root words, the epochs (epoch.c) return retired cells to the pool,
 * and the checker and the collector walk the pages of cells.  Cells are
 * type-stable (docs/RECLAMATION.md, F11): a page of cells only ever holds
 * cells. */
#ifndef EVE_CELL_H
#define EVE_CELL_H

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

static inline atom_cell *cell_at(eve_domain *d, uint64_t off) { return region_ptr(d, off); }

/* A cell for a new atom: from the free-cell stack, or the first of a new
 * page of cells.  0, or the allocator's error. */
int cell_get(eve_domain *d, uint64_t *cell);
/* Put a cell no atom ever used back on the free-cell stack at once (an
 * atom creation that failed before publishing it). */
void cell_push(eve_domain *d, uint64_t cell);
/* Return a cell to the pool (called by epoch.c after its grace period).
 * `gen` is the generation the cell had when it was retired: the release
 * moves it on by CAS, so a second release of the same retirement (a
 * repaired process's log entry seen twice) does nothing. */
void cell_release(eve_domain *d, uint64_t cell, uint64_t gen);

/* Visit every cell page (for the checker and the collector). */
void cell_for_each_page(eve_domain *d, void (*fn)(void *ctx, uint64_t page), void *ctx);
/* The cells of a page: first offset and count. */
void cell_page_cells(uint64_t page, uint64_t *first, unsigned *count);

#endif
