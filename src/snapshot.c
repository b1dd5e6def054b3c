/* snapshot.c — the pins of a process's snapshots.
 *
 * Why one slot per process, not one per snapshot
 * ----------------------------------------------
 * A binding keeps a snapshot for as long as the host language keeps a
 * value object: there can be a hundred thousand of them, for hours, moving
 * between threads.  Reader slots are shared by every process of the domain
 * and few (EVE_SLOT_COUNT), so a snapshot cannot hold one.  Under the
 * epoch rule (docs/RECLAMATION.md, R1, R2) a block retired with tag T is
 * freed once every live slot shows an epoch above T, so what a set of
 * snapshots needs is exactly what one slot showing the smallest of their
 * epochs gives: the pool below keeps that slot, and counts its snapshots
 * per epoch in a queue ordered by epoch.
 *
 * Why a later snapshot needs no announcement of its own.  The first
 * snapshot pins as every transaction does (announce, re-check: R1).  A
 * later one reads the global epoch E (seq_cst) while the slot already
 * shows m <= E, and only then loads roots.  A committer that replaces a
 * root the snapshot loaded does so after that load and reads its retire
 * tag T after its CAS; all of these are seq_cst, so T >= E >= m, and the
 * slot (which shows at most the smallest epoch of the live snapshots)
 * keeps the block.  Releasing the oldest moves the slot forward to the
 * next oldest epoch: no live snapshot took an epoch below it.
 *
 * The queue.  Epochs are taken in non-decreasing order (E only grows), so
 * a snapshot joins the last run or appends one; a release finds its run by
 * binary search.  Runs emptied in the middle stay until they reach the
 * front, and are squeezed out once they are more than half of the queue,
 * so its length stays within twice the number of distinct live epochs.
 */
#define _GNU_SOURCE
#include "snapshot.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "guard.h"

typedef struct snap_run {
  uint64_t epoch;   /* taken by every snapshot of the run                */
  uint64_t count;   /* live snapshots of it                              */
  uint64_t pin_ns;  /* when its first snapshot was taken (for the age)   */
} snap_run;

struct snap_pool {
  snap_run *runs;   /* runs[head, head + n), epochs strictly increasing   */
  size_t head, n, cap;
  size_t empty;     /* runs in the queue with count 0                    */
  uint64_t live;    /* live snapshots                                    */
  uint32_t slot;    /* the pool's reader slot, while pinned              */
  int pinned;
  guard_node node;  /* inside the handle while any snapshot lives        */
};

/* ---- the queue -------------------------------------------------------------- */

static snap_run *front(struct snap_pool *p) { return &p->runs[p->head]; }
static snap_run *back(struct snap_pool *p) { return &p->runs[p->head + p->n - 1]; }

static void squeeze(struct snap_pool *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->runs[p->head + i].count) p->runs[k++] = p->runs[p->head + i];
  p->head = 0;
  p->n = k;
  p->empty = 0;
}

static int make_room(struct snap_pool *p) {
  if (p->head + p->n < p->cap) return 0;
  if (p->head) { /* slide the queue down before growing it */
    memmove(p->runs, p->runs + p->head, p->n * sizeof *p->runs);
    p->head = 0;
    return 0;
  }
  size_t cap = p->cap ? p->cap * 2 : 16;
  snap_run *r = realloc(p->runs, cap * sizeof *r);
  if (!r) return EVE_ENOMEM;
  p->runs = r;
  p->cap = cap;
  return 0;
}

static int join(struct snap_pool *p, uint64_t epoch) {
  if (p->n && back(p)->epoch == epoch) {
    if (!back(p)->count++) p->empty--;
    return 0;
  }
  if (p->n && !back(p)->count) { /* nobody needs the last epoch: take it over */
    *back(p) = (snap_run){epoch, 1, epoch_now_ns()};
    p->empty--;
    return 0;
  }
  int rc = make_room(p);
  if (rc) return rc;
  p->runs[p->head + p->n++] = (snap_run){epoch, 1, epoch_now_ns()};
  return 0;
}

static snap_run *find(struct snap_pool *p, uint64_t epoch) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t e = p->runs[p->head + mid].epoch;
    if (e == epoch) return &p->runs[p->head + mid];
    if (e < epoch) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* ---- the pin ----------------------------------------------------------------- */

static int pool_open(eve_domain *d, struct snap_pool *p, uint64_t *epoch) {
  int rc = guard_enter_detached(d, &p->node);
  if (rc) return rc;
  *epoch = 0; /* a read-only handle does not pin (eve.h) */
  if (!d->read_only) {
    if ((rc = epoch_pin(d, &p->slot)) != 0) {
      guard_leave(&p->node);
      return rc;
    }
    p->pinned = 1;
    *epoch = epoch_pinned(d, p->slot);
  }
  return 0;
}

static void pool_close(eve_domain *d, struct snap_pool *p) {
  p->head = p->n = p->empty = 0;
  if (p->pinned) epoch_unpin(d, p->slot);
  p->pinned = 0;
  guard_leave(&p->node); /* last: from then on eve_close may proceed */
}

static int take_locked(eve_domain *d, uint64_t *epoch) {
  struct snap_pool *p = d->snaps;
  if (!p && !(p = d->snaps = calloc(1, sizeof *p))) return EVE_ENOMEM;
  int rc;
  if (!p->live) rc = pool_open(d, p, epoch);
  else *epoch = p->pinned ? epoch_tag(d) : 0, rc = 0;
  if (rc) return rc;
  if ((rc = join(p, *epoch)) != 0) {
    if (!p->live) pool_close(d, p);
    return rc;
  }
  p->live++;
  return 0;
}

int snapshot_take(eve_domain *d, uint64_t *epoch) {
  pthread_mutex_lock(&d->snap_lock);
  int rc = take_locked(d, epoch);
  pthread_mutex_unlock(&d->snap_lock);
  return rc;
}

static void release_locked(eve_domain *d, uint64_t epoch) {
  struct snap_pool *p = d->snaps;
  snap_run *r = p ? find(p, epoch) : NULL;
  if (!r || !r->count) return; /* not ours: eve_txn_end guards against it */
  p->live--;
  if (--r->count) return;
  if (!p->live) {
    pool_close(d, p);
    return;
  }
  p->empty++;
  if (r != front(p)) {
    if (p->n > 32 && p->empty * 2 > p->n) squeeze(p);
    return;
  }
  while (!front(p)->count) p->head++, p->n--, p->empty--;
  if (p->pinned) epoch_repin(d, p->slot, front(p)->epoch, front(p)->pin_ns);
}

void snapshot_release(eve_domain *d, uint64_t epoch) {
  pthread_mutex_lock(&d->snap_lock);
  release_locked(d, epoch);
  pthread_mutex_unlock(&d->snap_lock);
}

uint64_t snapshot_count(eve_domain *d) {
  pthread_mutex_lock(&d->snap_lock);
  uint64_t n = d->snaps ? d->snaps->live : 0;
  pthread_mutex_unlock(&d->snap_lock);
  return n;
}

/* ---- lifetime ------------------------------------------------------------------ */

void snapshot_open(eve_domain *d) {
  pthread_mutex_init(&d->snap_lock, NULL);
  d->snaps = NULL;
}

void snapshot_close(eve_domain *d) {
  if (d->snaps) free(d->snaps->runs);
  free(d->snaps);
  d->snaps = NULL;
  pthread_mutex_destroy(&d->snap_lock);
}

/* The parent's snapshots hold the parent's slot; here they are refused
 * (eve_txn_end forgets them), so the child starts with none. */
void snapshot_after_fork(eve_domain *d) {
  pthread_mutex_init(&d->snap_lock, NULL);
  if (d->snaps) {
    free(d->snaps->runs);
    memset(d->snaps, 0, sizeof *d->snaps);
  }
}
