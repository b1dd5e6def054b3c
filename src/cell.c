/* cell.c — the pool of atom cells.
 *
 * Cells live in pages (blocks of type T_CELLS) that only ever hold cells,
 * linked from the header's `cell_pages`; free cells are on a Treiber stack
 * whose head is the header's `cell_free`, an {offset, tag} pair swapped by
 * one 128-bit CAS (cas128.h), so a stale head is never mistaken for the
 * current one.  A cell is released by CAS of its generation, so releasing
 * the same retirement twice does nothing.  Why cells exist and how removal
 * uses the generation: atom.c.
 */
#include "cell.h"

#include <string.h>

#include "alloc.h"
#include "cas128.h"

void cell_page_cells(uint64_t page, uint64_t *first, unsigned *count) {
  /* body word 0 links the pages; cells start on the next cache line */
  uint64_t start = (page + sizeof(blk) + 8 + 63) / 64 * 64;
  *first = start;
  *count = (unsigned)((page + ATOM_PAGE_BYTES - start) / sizeof(atom_cell));
}

void cell_push(eve_domain *d, uint64_t cell) {
  eve_stack_head *h = &d->hdr->cell_free;
  uint64_t off, tag;
  do {
    tag = __atomic_load_n(&h->tag, __ATOMIC_ACQUIRE);
    off = __atomic_load_n(&h->off, __ATOMIC_ACQUIRE);
    atomic_store(&cell_at(d, cell)->next_free, off);
  } while (!cas128(h, off, tag, cell, tag + 1));
}

static uint64_t cell_pop(eve_domain *d) {
  eve_stack_head *h = &d->hdr->cell_free;
  for (;;) {
    uint64_t tag = __atomic_load_n(&h->tag, __ATOMIC_ACQUIRE);
    uint64_t off = __atomic_load_n(&h->off, __ATOMIC_ACQUIRE);
    if (!off) return 0;
    if (off % 64 || !region_contains(d, off, sizeof(atom_cell))) return 0; /* corrupt */
    uint64_t next = atomic_load(&cell_at(d, off)->next_free);
    if (cas128(h, off, tag, next, tag + 1)) return off;
  }
}

/* A new page of cells: all but the first go to the free stack. */
static int cell_page_new(eve_domain *d, uint64_t *cell) {
  uint64_t page;
  int rc = alloc_block(d, ATOM_PAGE_BYTES, T_CELLS, &page);
  if (rc) return rc;
  memset((uint8_t *)region_ptr(d, page) + sizeof(blk), 0, ATOM_PAGE_BYTES - sizeof(blk));
  uint64_t first;
  unsigned n;
  cell_page_cells(page, &first, &n);
  for (unsigned i = 1; i < n; i++) cell_push(d, first + i * sizeof(atom_cell));
  /* link the page into the list of pages */
  _Atomic uint64_t *link = (_Atomic uint64_t *)region_ptr(d, page + sizeof(blk));
  uint64_t head = atomic_load(&d->hdr->cell_pages);
  do atomic_store(link, head);
  while (!atomic_compare_exchange_weak(&d->hdr->cell_pages, &head, page));
  *cell = first;
  return 0;
}

int cell_get(eve_domain *d, uint64_t *cell) {
  *cell = cell_pop(d);
  return *cell ? 0 : cell_page_new(d, cell);
}

void cell_release(eve_domain *d, uint64_t cell, uint64_t gen) {
  if (cell % 64 || !region_contains(d, cell, sizeof(atom_cell))) return; /* damage */
  if (!atomic_compare_exchange_strong(&cell_at(d, cell)->generation, &gen, gen + 1)) return;
  cell_push(d, cell);
}

void cell_for_each_page(eve_domain *d, void (*fn)(void *ctx, uint64_t page), void *ctx) {
  uint64_t page = atomic_load(&d->hdr->cell_pages);
  for (uint64_t n = 0; page && n < (1u << 24); n++) {
    if (page % 16 || !region_contains(d, page, ATOM_PAGE_BYTES)) return;
    fn(ctx, page);
    page = atomic_load((_Atomic uint64_t *)region_ptr(d, page + sizeof(blk)));
  }
}

