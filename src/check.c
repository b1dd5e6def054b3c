/* check.c — verification (eve check), statistics, and the tracing collector
 * (eve gc and automatic recovery).
 *
 * The checker is the test oracle of the reclamation protocol.  It marks
 * everything reachable from the registry and the atoms' root words,
 * counting for each block the words that point at it (its in-degree, root
 * words included), and then checks the ownership invariant of commit.c:
 *
 *   - a reachable block that is not SHARED has in-degree exactly 1;
 *   - a SHARED block's count is at least its in-degree (above it is a
 *     leak, not damage: see "excess owners" below);
 *   - no reachable block is free, on a free list, or waiting in one of this
 *     process's retire buffers or the shared batches;
 *
 * plus the well-formedness of every block (offset, magic, type, capacity;
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
 * The collector needs the domain to itself (the exclusive attach lock; other
 * processes' caches, in-flight blocks and retire buffers are invisible, so
 * sweeping beside them would hand blocks out twice: docs/RECLAMATION.md
 * F10).  It marks, then rebuilds every free list from the gaps between
 * reachable blocks, recomputes SHARED counts from in-degrees, and ignores
 * retire buffers (nothing is pinned, so everything unreachable is free).  It
 * writes only free space and meta words of reachable blocks, so a crash
 * half-way leaves a domain that the next collection repairs.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom.h"
#include "check.h"
#include "epoch.h"
#include "map.h"
#include "value.h"
#include "vec.h"

enum { C_SEEN = 1, C_FREE_LISTED = 2, C_RETIRING = 4, C_SYSTEM = 8 };

typedef struct cent {
  uint64_t off;
  uint32_t indeg;
  uint32_t flags;
} cent;

typedef struct chk {
  eve_txn *t;
  eve_domain *d;
  cent *tab;
  size_t cap, used;
  uint64_t *stack;
  size_t nstack, capstack;
  uint64_t *cells;           /* live atom cells (from the registry)       */
  size_t ncells, capcells;
  uint64_t *versions;        /* each cell's version before its root was read */
  size_t nversions, capversions;
  eve_val registry;          /* the registry root word the marker read    */
  int judge_counts;          /* settled: ownership counts are compared    */
  eve_check_report rep;
  void (*on_problem)(void *, const char *);
  void *ctx;
  int oom;
  int yielding;              /* an automatic recovery: give way to openers */
  int gave_way;              /* ... and it did: marking stopped            */
  uint64_t steps;
} chk;

/* ---- the table of blocks -------------------------------------------------- */

static size_t slot_of(const chk *c, uint64_t off) {
  size_t i = (size_t)(hash_mix(off) & (c->cap - 1));
  while (c->tab[i].off && c->tab[i].off != off) i = (i + 1) & (c->cap - 1);
  return i;
}

static cent *lookup(chk *c, uint64_t off, int create) {
  if (create && (c->used + 1) * 2 > c->cap) {
    size_t ocap = c->cap;
    cent *old = c->tab;
    c->cap = ocap ? ocap * 2 : 1024;
    c->tab = calloc(c->cap, sizeof *c->tab);
    if (!c->tab) {
      c->tab = old;
      c->cap = ocap;
      c->oom = 1;
      return NULL;
    }
    for (size_t i = 0; i < ocap; i++)
      if (old[i].off) c->tab[slot_of(c, old[i].off)] = old[i];
    free(old);
  }
  if (!c->cap) return NULL;
  size_t i = slot_of(c, off);
  if (!c->tab[i].off) {
    if (!create) return NULL;
    c->tab[i].off = off;
    c->used++;
  }
  return &c->tab[i];
}

static int grow_array(chk *c, uint64_t **a, size_t *n, size_t *cap, uint64_t x) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    uint64_t *p = realloc(*a, nc * sizeof *p);
    if (!p) return c->oom = 1;
    *a = p;
    *cap = nc;
  }
  (*a)[(*n)++] = x;
  return 0;
}

static void say(chk *c, const char *fmt, va_list ap) {
  if (!c->on_problem) return;
  char msg[256];
  vsnprintf(msg, sizeof msg, fmt, ap);
  c->on_problem(c->ctx, msg);
}

static void problem(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(chk *c, const char *fmt, ...) {
  c->rep.problems++;
  va_list ap;
  va_start(ap, fmt);
  say(c, fmt, ap);
  va_end(ap);
}

/* A finding that is a leak, not damage (see "Excess owners"). */
static void excess(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void excess(chk *c, const char *fmt, ...) {
  c->rep.excess_owners++;
  va_list ap;
  va_start(ap, fmt);
  say(c, fmt, ap);
  va_end(ap);
}

/* ---- marking ----------------------------------------------------------------- */

/* One incoming word to `word` (a root word, or a word in a reachable block). */
static void edge(chk *c, uint64_t word) {
  if (!VAL_IS_BLOCK(word) || c->oom) return;
  cent *e = lookup(c, word, 1);
  if (!e) return;
  if (e->indeg++ == 0) grow_array(c, &c->stack, &c->nstack, &c->capstack, word);
}

static void edge_slot(void *ctx, const uint64_t *slot) { edge(ctx, *slot); }

/* Sequences: recompute count and hash by iteration and compare. */
static void check_sequence(chk *c, uint64_t off, unsigned type) {
  eve_txn *t = c->t;
  uint64_t n = 0, raw = 0, count = 0;
  eve_iter it;
  eve_val x;
  if (eve_iter_init(t, off, &it) == 0)
    while (eve_iter_next(&it, &x, NULL) == 0) {
      raw = raw * HASH_P + val_hash(t, x);
      n++;
    }
  eve_count(t, off, &count);
  uint64_t want = type == T_VEC ? vec_hash(t, off) : list_hash(t, off);
  if (!t->err && (n != count || hash_finish(raw, n, HK_SEQ) != want))
    problem(c, "%s at %#llx: count %llu / hash disagree with its %llu elements",
            type == T_VEC ? "vector" : "list", (unsigned long long)off,
            (unsigned long long)count, (unsigned long long)n);
}

/* A collection root's recorded depth bound must cover its depth. */
static void check_depth(chk *c, uint64_t off) {
  if (val_depth_check(c->t, off) == EVE_ECORRUPT)
    problem(c, "%s at %#llx: recorded depth bound %u is below its depth or past %d",
            eve_type_name(val_type(c->t, off)), (unsigned long long)off,
            ((const blk *)region_ptr(c->d, off))->aux >> DEPTH_SHIFT, EVE_MAX_NESTING);
}

/* Deep checks of one reachable value root (collections check their nodes). */
static void check_block(chk *c, uint64_t off) {
  eve_txn *t = c->t;
  const blk *b = txn_read_any(t, off);
  if (t->err) return;
  if (blk_is_coll_root(b->type)) check_depth(c, off);
  switch (b->type) {
  case T_MAP:
    if (map_check(t, off) != 0) problem(c, "map at %#llx is malformed", (unsigned long long)off);
    break;
  case T_SET:
    if (set_check(t, off) != 0) problem(c, "set at %#llx is malformed", (unsigned long long)off);
    break;
  case T_VEC: case T_LIST: check_sequence(c, off, b->type); break;
  case T_CELLS: case T_FREE: problem(c, "block %#llx of type %u is referenced as a value",
                                     (unsigned long long)off, b->type); break;
  default:
    if (b->type < T_MAP && val_check_scalar(t, off) == EVE_ECORRUPT)
      problem(c, "%s at %#llx: content does not match its hash or form",
              eve_type_name(val_type(t, off)), (unsigned long long)off);
    break;
  }
}

/* An automatic recovery must not make other processes wait for it: marking
 * (which writes nothing) stops when one asks to attach. */
static int should_give_way(chk *c) {
  if (!c->yielding || (++c->steps & 4095)) return 0;
  if (atomic_load(&c->d->hdr->flags) & EVE_HF_ATTACH_WANTED) c->gave_way = 1;
  return c->gave_way;
}

static void mark(chk *c) {
  eve_txn *t = c->t;
  while (c->nstack && !c->oom && !c->gave_way && !should_give_way(c)) {
    uint64_t off = c->stack[--c->nstack];
    int before = t->err;
    check_block(c, off);
    if (!t->err) blk_for_each_child(t, off, edge_slot, c);
    if (t->err && !before) {
      problem(c, "block %#llx: %s", (unsigned long long)off, eve_strerror(t->err));
      t->err = 0; /* keep checking the rest */
    }
  }
}

/* Roots: the registry's root word and every live atom's root word. */
static void mark_roots(chk *c) {
  eve_txn *t = c->t;
  eve_val reg = c->registry = atomic_load(&c->d->hdr->root);
  edge(c, reg);
  mark(c);
  eve_iter it;
  eve_val name, entry, cv, gv;
  if (reg == EVE_V_NIL || eve_iter_init(t, reg, &it) != 0) return;
  while (eve_iter_next(&it, &name, &entry) == 0) {
    int64_t cell, gen;
    if (eve_vec_nth(t, entry, 0, &cv) || eve_vec_nth(t, entry, 1, &gv) ||
        eve_int_get(t, cv, &cell) || eve_int_get(t, gv, &gen) || cell <= 0 || cell % 64 ||
        !region_contains(c->d, (uint64_t)cell, sizeof(atom_cell))) {
      problem(c, "registry entry %s is malformed", t->err ? eve_strerror(t->err) : "");
      t->err = 0;
      continue;
    }
    atom_cell *ac = region_ptr(c->d, (uint64_t)cell);
    if (atomic_load(&ac->generation) != (uint64_t)gen) continue; /* being removed */
    grow_array(c, &c->cells, &c->ncells, &c->capcells, (uint64_t)cell);
    grow_array(c, &c->versions, &c->nversions, &c->capversions, atomic_load(&ac->version));
    eve_val root = atomic_load(&ac->root); /* after the version: see "Beside live writers" */
    if (root != ATOM_TOMBSTONE) edge(c, root);
    mark(c);
  }
}

/* ---- the invariant -------------------------------------------------------------- */

static void flag_free(void *ctx, uint64_t off) {
  chk *c = ctx;
  cent *e = lookup(c, off, 0);
  if (e) e->flags |= C_FREE_LISTED;
}

/* A reachable block waits to be freed if an entry names it with the
 * generation it still has (an entry with another generation is a stale copy,
 * harmless: freeing it would do nothing). */
static void flag_waiting(chk *c, uint64_t off, uint64_t gen) {
  if (off & 1) return; /* an atom cell */
  cent *e = lookup(c, off, 0);
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
    if (META_STATE(m) == BLK_FREE) problem(c, "reachable block %#llx is free", off);
    if (META_SHARED(m)) c->rep.shared_blocks++;
    if (!c->judge_counts) continue;
    if (e->flags & C_FREE_LISTED) problem(c, "reachable block %#llx is on a free list", off);
    if (e->flags & C_RETIRING) problem(c, "reachable block %#llx is waiting to be freed", off);
    if (META_SHARED(m)) {
      if (META_COUNT(m) < e->indeg)
        problem(c, "block %#llx: SHARED count %u but %u incoming words", off, META_COUNT(m), e->indeg);
      else if (META_COUNT(m) > e->indeg)
        excess(c, "leak: block %#llx: SHARED count %u but %u incoming words", off, META_COUNT(m),
               e->indeg);
    } else if (e->indeg != 1) {
      problem(c, "block %#llx is not SHARED but has %u incoming words", off, e->indeg);
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

static void add_page(void *ctx, uint64_t page) {
  chk *c = ctx;
  c->rep.reachable_bytes += ATOM_PAGE_BYTES;
  cent *e = lookup(c, page, 1);
  if (e) e->flags |= C_SEEN;
}

/* The blocks of the reclamation machinery itself, in use though no value
 * reaches them: retire logs and commit journals. */
static void add_system_block(chk *c, uint64_t off) {
  if (!off || off % BLK_ALIGN || !region_contains(c->d, off, sizeof(blk))) return;
  const blk *b = region_ptr(c->d, off);
  if (b->magic != BLK_MAGIC || b->cls >= EVE_NCLASSES) return;
  cent *e = lookup(c, off, 1);
  if (!e || (e->flags & C_SYSTEM)) return;
  e->flags |= C_SYSTEM;
  c->rep.reachable_bytes += alloc_class_size(b->cls);
}

static void add_log(void *ctx, const retire_entry *r, uint64_t log_off) {
  if (!r) add_system_block(ctx, log_off);
}

static void add_machinery(chk *c) {
  epoch_for_each_logged(c->d, add_log, c);
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++)
    add_system_block(c, atomic_load(&epoch_slot(c->d, i)->journal));
}

typedef struct waiting { eve_domain *d; uint64_t bytes; } waiting;

static void add_waiting(waiting *w, uint64_t off) {
  if (!(off & 1) && region_contains(w->d, off, sizeof(blk)))
    w->bytes += alloc_class_size(((const blk *)region_ptr(w->d, off))->cls);
}

static void sum_logged(void *ctx, const retire_entry *r, uint64_t log_off) {
  (void)log_off;
  if (r && !pending(r)) add_waiting(ctx, r->off);
}

static void sum_batched(void *ctx, uint64_t off, uint64_t gen, int is_batch) {
  (void)gen;
  (void)is_batch; /* batch blocks and their entries alike wait to be freed */
  add_waiting(ctx, off);
}

/* Bytes retired and not yet freed: every process's retire logs and the
 * shared batches (beside live processes a snapshot that may be off by what
 * they retire and free meanwhile). */
static uint64_t retired_bytes(eve_domain *d) {
  waiting w = {d, 0};
  epoch_for_each_logged(d, sum_logged, &w);
  epoch_for_each_batched(d, sum_batched, &w);
  return w.bytes;
}

static void account(chk *c, uint64_t *free_bytes, uint64_t *retired) {
  alloc_stats st;
  alloc_stats_get(c->d, &st);
  uint64_t used = atomic_load(&c->d->hdr->bump) - c->d->heap_start;
  *free_bytes = st.free_bytes;
  *retired = retired_bytes(c->d);
  uint64_t gone = st.free_bytes + *retired;
  c->rep.allocated_bytes = used > gone ? used - gone : 0;
  c->rep.leaked_bytes = c->rep.allocated_bytes > c->rep.reachable_bytes
                            ? c->rep.allocated_bytes - c->rep.reachable_bytes : 0;
}

static void chk_free(chk *c) {
  free(c->tab);
  free(c->stack);
  free(c->cells);
  free(c->versions);
}

/* Mark everything reachable, in a read txn that pins the epoch. */
static int chk_run(chk *c, eve_domain *d) {
  c->d = d;
  int rc = txn_begin_internal(d, EVE_TXN_READ, &c->t); /* the caller holds the guard */
  if (rc) return rc;
  if (!d->read_only) epoch_reclaim(d); /* free what may be, so it is not counted as waiting */
  mark_roots(c);
  atom_for_each_page(d, add_page, c);
  add_machinery(c);
  return c->oom ? EVE_ENOMEM : 0;
}

#define CHECK_ATTEMPTS 4 /* markings tried before giving up on a still moment */

/* One marking and comparison.  Returns 0 or an error; *settled says whether
 * the counts were judged. */
static int check_once(eve_domain *d, eve_check_report *rep, int judge,
                      void (*on_problem)(void *ctx, const char *msg), void *ctx, int *settled) {
  chk c = {.on_problem = on_problem, .ctx = ctx, .judge_counts = judge};
  int rc = chk_run(&c, d);
  if (!rc) {
    uint64_t free_bytes, retired;
    check_invariant(&c);
    account(&c, &free_bytes, &retired);
    *settled = judge && still_settled(&c);
  }
  if (c.t) eve_txn_end(c.t);
  *rep = c.rep;
  chk_free(&c);
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

static int stats_get(eve_domain *d, eve_stats *out) {
  epoch_stats es;
  if (!d->read_only) epoch_reclaim(d);
  epoch_stats_get(d, &es);
  alloc_stats st;
  int rc = alloc_stats_get(d, &st);
  if (rc) return rc;
  out->file_bytes = atomic_load(&d->hdr->size);
  out->free_bytes = st.free_bytes;
  out->retired_bytes = retired_bytes(d);
  uint64_t used = atomic_load(&d->hdr->bump) - d->heap_start;
  uint64_t gone = st.free_bytes + out->retired_bytes;
  out->live_bytes = used > gone ? used - gone : 0;
  out->readers = es.readers;
  out->oldest_pin_ms = es.oldest_pin_ms;
  out->oldest_pin_pid = es.oldest_pin_pid;
  out->oldest_pin_tid = es.oldest_pin_tid;
  eve_txn *t;
  rc = txn_begin_internal(d, EVE_TXN_READ, &t);
  if (rc == EVE_ESLOTS) {
    /* Every slot is taken, and showing who holds them is what stats are
     * for: read the registry's count unpinned.  The root node may be
     * replaced meanwhile; its count word is then merely stale (reads are
     * checked, so never a crash). */
    eve_txn bare = {.d = d, .flags = EVE_TXN_READ, .fork_gen = region_fork_gen()};
    rc = eve_count(&bare, atomic_load(&d->hdr->root), &out->atoms);
    return rc;
  }
  if (rc) return rc;
  rc = eve_count(t, atomic_load(&d->hdr->root), &out->atoms);
  eve_txn_end(t);
  return rc;
}

int eve_stats_get(eve_domain *d, eve_stats *out) {
  if (!d || !out) return EVE_EINVAL;
  memset(out, 0, sizeof *out);
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, stats_get(d, out));
  guard_leave(&call);
  return rc;
}

/* ---- the collector ------------------------------------------------------------------- */

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
    atom_page_cells(c->tab[i].off, &first, &n);
    for (unsigned k = 0; k < n; k++) {
      uint64_t cell = first + k * sizeof(atom_cell);
      if (!c->ncells || !bsearch(&cell, c->cells, c->ncells, sizeof cell, cmp_u64))
        atom_cell_release(c->d, cell, atomic_load(&((atom_cell *)region_ptr(c->d, cell))->generation));
    }
  }
}

static void sweep(chk *c, const uint64_t *live, size_t n, eve_gc_report *rep) {
  eve_domain *d = c->d;
  uint64_t at = d->heap_start, end = atomic_load(&d->hdr->bump);
  for (size_t i = 0; i <= n; i++) {
    uint64_t next = i < n ? live[i] : end;
    if (next > at) {
      rep->reclaimed_bytes += next - at;
      alloc_release_range(d, at, next - at);
    }
    if (i < n) {
      const blk *b = region_ptr(d, live[i]);
      uint64_t size = (c->tab[slot_of(c, live[i])].flags & C_SEEN) ? ATOM_PAGE_BYTES
                                                                   : alloc_class_size(b->cls);
      rep->live_bytes += size;
      if (live[i] + size > at) at = live[i] + size;
    }
  }
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
  int rc = chk_run(&c, d); /* repairs dead processes first (epoch_reclaim) */
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
      sweep(&c, live, n, rep);
      rebuild_cells(&c);
      rep->reclaimed_bytes = rep->reclaimed_bytes > before.free_bytes
                                 ? rep->reclaimed_bytes - before.free_bytes : 0;
      atomic_store(&d->hdr->skipped_retires, 0);
      atomic_fetch_and(&d->hdr->flags, ~(uint64_t)(EVE_HF_CRASH_SEEN | EVE_HF_SKIPPED));
      free(live);
    }
  }
  if (c.t) eve_txn_end(c.t);
  chk_free(&c);
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

/* Called where no other thread can be inside the handle: by eve_open
 * before it returns the handle, by eve_close once it holds it exclusively. */
void check_recover_if_needed(eve_domain *d) {
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
