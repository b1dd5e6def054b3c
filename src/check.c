/* check.c — verification: eve_check.
 *
 * The checker is the test oracle of the reclamation protocol.  The marker
 * (mark.c) marks everything reachable from the registry and the atoms'
 * root words, counting for each block the words that point at it (its
 * in-degree, root words included), and the checker then checks the
 * ownership invariant of commit.c:
 *
 *   - a reachable block that is not SHARED has in-degree exactly 1;
 *   - a SHARED block's count is at least its in-degree (above it is a
 *     leak, not damage: see "excess owners" below);
 *   - no reachable block is free, on a free list, or waiting in one of this
 *     process's retire buffers or the shared batches;
 *
 * plus the well-formedness of every block, which the marker checks (offset, magic, type, capacity;
 * maps and sets re-hash every key against its trie path; vectors and lists
 * recompute counts and hashes; every collection's recorded depth bound
 * covers its depth).  Leaks are what is allocated (heap bytes neither free
 * nor retired) and not reachable.
 *
 * Beside live writers
 * -------------------
 * Marking runs in a pinned read transaction, so every version it walks
 * stays intact: the structural checks hold whatever writers do.  The
 * ownership counts do not: a commit that wins while the marker walks the
 * version it replaced takes owners the marker still counts.  So the checker
 * notes each atom's version (bumped by every winning commit right after its
 * root CAS, commit.h) before loading its root, and reads them all again
 * after the counts are compared: if none moved and the registry root is the
 * same word, no commit won during the check and the counts are judged
 * (report.settled = 1).  Otherwise it tries again, a few times, and then
 * reports only what holds regardless of writers.
 *
 * Excess owners: a SHARED count above the in-degree is what an adopter in
 * flight (its count raised before its root CAS) or a process killed there
 * leaves.  It keeps a block alive one owner too long, which is a leak, and
 * never frees anything early; the checker reports it (excess_owners, and a
 * finding that starts "leak: ") but not as a problem, and the collector
 * recomputes counts from in-degrees.
 *
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cell.h"
#include "epoch.h"
#include "mark.h"
#include "stats.h"

/* A finding that is a leak, not damage (see "Excess owners"). */
static void excess(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void excess(chk *c, const char *fmt, ...) {
  c->rep.excess_owners++;
  va_list ap;
  va_start(ap, fmt);
  mark_say(c, fmt, ap);
  va_end(ap);
}

/* ---- the invariant -------------------------------------------------------------- */

static void flag_free(void *ctx, uint64_t off) {
  chk *c = ctx;
  cent *e = mark_lookup(c, off, 0);
  if (e) e->flags |= C_FREE_LISTED;
}

/* A reachable block waits to be freed if an entry names it with the
 * generation it still has (an entry with another generation is a stale copy,
 * harmless: freeing it would do nothing). */
static void flag_waiting(chk *c, uint64_t off, uint64_t gen) {
  if (off & 1) return; /* an atom cell */
  cent *e = mark_lookup(c, off, 0);
  if (e && META_GEN(atomic_load(&((const blk *)region_ptr(c->d, off))->meta)) == gen)
    e->flags |= C_RETIRING;
}

/* A pending entry is no retirement yet: its commit has not decided (if it
 * loses, the block lives on, doomed). */
static int pending(const retire_entry *r) { return (r->tag & TAG_PENDING_BIT) != 0; }

static void flag_logged(void *ctx, const retire_entry *r, uint64_t log_off) {
  (void)log_off;
  if (r && !pending(r)) flag_waiting(ctx, r->off, r->gen);
}

static void flag_batched(void *ctx, uint64_t off, uint64_t gen, int is_batch) {
  if (!is_batch) flag_waiting(ctx, off, gen);
}

static void check_invariant(chk *c) {
  alloc_for_each_free(c->d, flag_free, c);
  epoch_for_each_logged(c->d, flag_logged, c);
  epoch_for_each_batched(c->d, flag_batched, c);
  for (size_t i = 0; i < c->cap; i++) {
    cent *e = &c->tab[i];
    if (!e->off || (e->flags & (C_SEEN | C_SYSTEM))) continue; /* not values */
    if (e->off % BLK_ALIGN || !region_contains(c->d, e->off, sizeof(blk))) continue; /* reported */
    const blk *b = region_ptr(c->d, e->off);
    if (b->magic != BLK_MAGIC) continue; /* reported */
    uint64_t m = atomic_load(&b->meta);
    c->rep.blocks++;
    c->rep.reachable_bytes += alloc_class_size(b->cls);
    unsigned long long off = e->off;
    /* the marker's pin keeps what it reached from being freed: never transient */
    if (META_STATE(m) == BLK_FREE) mark_problem(c, "reachable block %#llx is free", off);
    if (META_SHARED(m)) c->rep.shared_blocks++;
    if (!c->judge_counts) continue;
    if (e->flags & C_FREE_LISTED) mark_problem(c, "reachable block %#llx is on a free list", off);
    if (e->flags & C_RETIRING) mark_problem(c, "reachable block %#llx is waiting to be freed", off);
    if (META_SHARED(m)) {
      if (META_COUNT(m) < e->indeg)
        mark_problem(c, "block %#llx: SHARED count %u but %u incoming words", off, META_COUNT(m), e->indeg);
      else if (META_COUNT(m) > e->indeg)
        excess(c, "leak: block %#llx: SHARED count %u but %u incoming words", off, META_COUNT(m),
               e->indeg);
    } else if (e->indeg != 1) {
      mark_problem(c, "block %#llx is not SHARED but has %u incoming words", off, e->indeg);
    }
  }
}

/* No commit won since the marker noted the versions: the counts it
 * compared were the counts of the versions it walked. */
static int still_settled(chk *c) {
  if (atomic_load(&c->d->hdr->root) != c->registry) return 0;
  for (size_t i = 0; i < c->ncells && i < c->nversions; i++) {
    const atom_cell *ac = region_ptr(c->d, c->cells[i]);
    if (atomic_load(&ac->version) != c->versions[i]) return 0;
  }
  return c->ncells == c->nversions;
}

/* ---- accounting ----------------------------------------------------------------- */

static void account(chk *c, uint64_t *free_bytes, uint64_t *retired) {
  alloc_stats st;
  alloc_stats_get(c->d, &st);
  uint64_t used = atomic_load(&c->d->hdr->bump) - c->d->heap_start;
  *free_bytes = st.free_bytes;
  *retired = stats_retired_bytes(c->d);
  uint64_t gone = st.free_bytes + *retired;
  c->rep.allocated_bytes = used > gone ? used - gone : 0;
  c->rep.leaked_bytes = c->rep.allocated_bytes > c->rep.reachable_bytes
                            ? c->rep.allocated_bytes - c->rep.reachable_bytes : 0;
}

#define CHECK_ATTEMPTS 4 /* markings tried before giving up on a still moment */

/* One marking and comparison.  Returns 0 or an error; *settled says whether
 * the counts were judged. */
static int check_once(eve_domain *d, eve_check_report *rep, int judge,
                      void (*on_problem)(void *ctx, const char *msg), void *ctx, int *settled) {
  chk c = {.on_problem = on_problem, .ctx = ctx, .judge_counts = judge};
  int rc = mark_run(&c, d);
  if (!rc) {
    uint64_t free_bytes, retired;
    check_invariant(&c);
    account(&c, &free_bytes, &retired);
    *settled = judge && still_settled(&c);
  }
  if (c.t) eve_txn_end(c.t);
  *rep = c.rep;
  mark_free(&c);
  return rc;
}

/* Findings of an attempt whose counts turn out unsettled are dropped, so
 * the attempts before the last collect them privately. */
typedef struct held_findings {
  char (*msg)[256];
  size_t n, cap;
} held_findings;

static void hold_finding(void *ctx, const char *msg) {
  held_findings *h = ctx;
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    char (*m)[256] = realloc(h->msg, cap * sizeof *m);
    if (!m) return;
    h->msg = m;
    h->cap = cap;
  }
  snprintf(h->msg[h->n++], 256, "%s", msg);
}

static int check_domain(eve_domain *d, eve_check_report *out,
                        void (*on_problem)(void *ctx, const char *msg), void *ctx) {
  eve_check_report rep = {0};
  int rc = 0, settled = 0;
  for (int attempt = 0; attempt < CHECK_ATTEMPTS && !settled; attempt++) {
    held_findings h = {0};
    rc = check_once(d, &rep, 1, hold_finding, &h, &settled);
    if (!rc && settled && on_problem)
      for (size_t i = 0; i < h.n; i++) on_problem(ctx, h.msg[i]);
    free(h.msg);
    if (rc) break;
  }
  if (!rc && !settled) /* writers never stood still: what holds regardless */
    rc = check_once(d, &rep, 0, on_problem, ctx, &settled);
  rep.settled = (uint64_t)settled;
  if (out) *out = rep;
  if (rc) return rc;
  return rep.problems ? EVE_ECORRUPT : 0;
}

int eve_check(eve_domain *d, eve_check_report *out,
              void (*on_problem)(void *ctx, const char *msg), void *ctx) {
  if (!d) return EVE_EINVAL;
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, check_domain(d, out, on_problem, ctx));
  guard_leave(&call);
  return rc;
}

