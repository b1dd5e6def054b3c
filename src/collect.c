/* collect.c — the tracing collector: eve_gc, and the recovery the last
 * process to detach runs.
 *
 * The collector needs the domain to itself (the exclusive attach lock; other
 * processes' caches, in-flight blocks and retire buffers are invisible, so
 * sweeping beside them would hand blocks out twice: docs/RECLAMATION.md
 * F10).  It marks (mark.c), then rebuilds every free list from the gaps between
 * reachable blocks, recomputes SHARED counts from in-degrees, and ignores
 * retire buffers (nothing is pinned, so everything unreachable is free).  It
 * writes only free space and meta words of reachable blocks, so a crash
 * half-way leaves a domain that the next collection repairs.
 *
 * The automatic one (collect_recover_if_needed) gives way: an opener that
 * finds it running asks it to stop, and it does before writing anything.
 */
#define _GNU_SOURCE
#include "collect.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cell.h"
#include "epoch.h"
#include "guard.h"
#include "mark.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Reachable blocks (and cell pages) in address order. */
static uint64_t *sorted_live(chk *c, size_t *n) {
  uint64_t *v = malloc((c->used + 1) * sizeof *v);
  if (!v) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < c->cap; i++)
    if (c->tab[i].off) v[k++] = c->tab[i].off;
  qsort(v, k, sizeof *v, cmp_u64);
  *n = k;
  return v;
}

/* Meta from in-degree: SHARED exactly when there are several owners. */
static void recount(chk *c) {
  for (size_t i = 0; i < c->cap; i++) {
    cent *e = &c->tab[i];
    if (!e->off || (e->flags & C_SEEN)) continue; /* cell pages keep theirs */
    blk *b = region_ptr(c->d, e->off);
    uint64_t gen = META_GEN(atomic_load(&b->meta));
    atomic_store(&b->meta, META_MAKE(gen, e->indeg >= 2 ? e->indeg : 0, e->indeg >= 2, BLK_LIVE));
  }
}

/* Cells that no registry entry names go back to the free-cell stack. */
static void rebuild_cells(chk *c) {
  eve_stack_head *h = &c->d->hdr->cell_free;
  __atomic_store_n(&h->off, 0, __ATOMIC_RELEASE);
  if (c->ncells) qsort(c->cells, c->ncells, sizeof *c->cells, cmp_u64);
  for (size_t i = 0; i < c->cap; i++) {
    if (!c->tab[i].off || !(c->tab[i].flags & C_SEEN)) continue;
    uint64_t first;
    unsigned n;
    cell_page_cells(c->tab[i].off, &first, &n);
    for (unsigned k = 0; k < n; k++) {
      uint64_t cell = first + k * sizeof(atom_cell);
      if (!c->ncells || !bsearch(&cell, c->cells, c->ncells, sizeof cell, cmp_u64))
        cell_release(c->d, cell, atomic_load(&((atom_cell *)region_ptr(c->d, cell))->generation));
    }
  }
}

/* Every gap becomes free blocks; the long ones go back to the file system
 * (alloc.c, "punched blocks"), the last one too: the file keeps its size
 * and bump stays (docs/DESIGN.md, "Space back to the file system").
 * Returns 0, or the first error backing a page for a new header (a full
 * disk): that piece stays a leak until the next collection. */
static int sweep(chk *c, const uint64_t *live, size_t n, eve_gc_report *rep) {
  eve_domain *d = c->d;
  uint64_t at = d->heap_start, end = atomic_load(&d->hdr->bump);
  int err = 0;
  for (size_t i = 0; i <= n; i++) {
    uint64_t next = i < n ? live[i] : end;
    if (next > at) {
      rep->reclaimed_bytes += next - at;
      int rc = alloc_release_range(d, at, next - at);
      if (rc && !err) err = rc;
    }
    if (i < n) {
      const blk *b = region_ptr(d, live[i]);
      uint64_t size = (c->tab[mark_slot_of(c, live[i])].flags & C_SEEN) ? ATOM_PAGE_BYTES
                                                                   : alloc_class_size(b->cls);
      rep->live_bytes += size;
      if (live[i] + size > at) at = live[i] + size;
    }
  }
  return err;
}

#ifdef EVE_TEST_HOOKS
static void (*g_gc_pause)(void *);
static void *g_gc_pause_ctx;

void eve__test_set_gc_pause(void (*fn)(void *ctx), void *ctx) {
  g_gc_pause_ctx = ctx;
  g_gc_pause = fn;
}
#define GC_PAUSE() (g_gc_pause ? g_gc_pause(g_gc_pause_ctx) : (void)0)
#else
#define GC_PAUSE() ((void)0)
#endif

static int gc_locked(eve_domain *d, eve_gc_report *rep, int yielding) {
  memset(rep, 0, sizeof *rep);
  epoch_stats es;
  epoch_stats_get(d, &es);
  if (es.readers) return EVE_EBUSY; /* a transaction of this process is live */
  chk c = {.yielding = yielding};
  int rc = mark_run(&c, d); /* repairs dead processes first (epoch_reclaim) */
  if (!rc && c.gave_way) rc = EVE_EBUSY; /* nothing written yet */
  /* Never sweep a damaged domain: a block that only looks unreachable
   * because a pointer to it was damaged would be freed and handed out. */
  if (!rc && c.rep.problems) rc = EVE_ECORRUPT;
  if (!rc) GC_PAUSE();
  if (!rc) {
    eve_txn_end(c.t); /* nobody else is attached: marking is complete */
    c.t = NULL;
    /* what dead processes left and repair could not reach is swept with
     * everything else unreachable: nobody else is attached */
    epoch_forget_dead(d);
    alloc_stats before;
    alloc_stats_get(d, &before);
    size_t n = 0;
    uint64_t *live = sorted_live(&c, &n);
    if (!live) rc = EVE_ENOMEM;
    else {
      alloc_reset(d);
      recount(&c);
      rc = sweep(&c, live, n, rep); /* an error here: a leak, nothing lost */
      rebuild_cells(&c);
      rep->reclaimed_bytes = rep->reclaimed_bytes > before.free_bytes
                                 ? rep->reclaimed_bytes - before.free_bytes : 0;
      atomic_store(&d->hdr->skipped_retires, 0);
      atomic_fetch_and(&d->hdr->flags, ~(uint64_t)(EVE_HF_CRASH_SEEN | EVE_HF_SKIPPED));
      free(live);
    }
  }
  if (c.t) eve_txn_end(c.t);
  mark_free(&c);
  return rc;
}

/* Exclusive twice over: within this process (the guard: no thread inside
 * the handle, none may enter until it is done), then among processes (the
 * attach lock: no other process attached). */
int eve_gc(eve_domain *d, eve_gc_report *out) {
  if (!d) return EVE_EINVAL;
  int rc = guard_exclusive_begin(d, 0);
  if (rc) return rc;
  eve_gc_report rep;
  if (d->read_only) rc = EVE_ETXN;
  else if ((rc = epoch_exclusive_begin(d)) == 0) {
    rc = gc_locked(d, &rep, 0);
    epoch_exclusive_end(d);
  }
  rc = region_error(d, rc);
  guard_exclusive_end(d, 0);
  if (!rc && out) *out = rep;
  return rc;
}

/* Not the collector: only free blocks are touched (alloc.c, "trimming"),
 * so it needs no exclusive access, only the handle held like any call. */
int eve_trim(eve_domain *d, uint64_t *disk_freed) {
  if (!d) return EVE_EINVAL;
  if (disk_freed) *disk_freed = 0;
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  if (d->read_only) rc = EVE_ETXN;
  else {
    epoch_reclaim(d);
    uint64_t before = region_disk_bytes(d), merged;
    rc = alloc_trim(d, &merged);
    uint64_t after = region_disk_bytes(d);
    if (!rc && disk_freed) *disk_freed = before > after ? before - after : 0;
  }
  rc = region_error(d, rc);
  guard_leave(&call);
  return rc;
}

/* Called where no other thread can be inside the handle: by eve_close once
 * it holds it exclusively (domain.c, through epoch_detach). */
void collect_recover_if_needed(eve_domain *d) {
  if (d->read_only || region_damage(d)) return;
  uint64_t flags = atomic_load(&d->hdr->flags);
  if (!(flags & (EVE_HF_CRASH_SEEN | EVE_HF_SKIPPED)) && !atomic_load(&d->hdr->skipped_retires))
    return;
  if (epoch_exclusive_begin(d) != 0) return; /* others attached: the last one will */
  atomic_fetch_and(&d->hdr->flags, ~(uint64_t)EVE_HF_ATTACH_WANTED);
  eve_gc_report rep;
  gc_locked(d, &rep, 1); /* gives way to an opener: the flags stay for the next */
  epoch_exclusive_end(d);
}
