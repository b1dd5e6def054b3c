/* mark.c — the marker, shared by the checker (check.c) and the collector
 * (collect.c).
 *
 * It marks everything reachable from the registry and the atoms' root
 * words, counting for each block the words that point at it (its
 * in-degree, root words included), and checks the well-formedness of every
 * block it reaches (offset, magic, type, capacity; maps and sets re-hash
 * every key against its trie path; vectors and lists recompute counts and
 * hashes; every collection's recorded depth bound covers its depth).  It
 * also enters in its table what is in use though no value reaches it: the
 * pages of atom cells and the blocks of the reclamation machinery (retire
 * logs, commit journals).  Marking runs in a pinned read transaction, so
 * every version it walks stays intact whatever writers do (check.c says
 * what that means for the counts it compares).  For each atom it notes the
 * version before it loads the root: check.c, "Beside live writers".
 */
#define _GNU_SOURCE
#include "mark.h"

#include <stdio.h>
#include <stdlib.h>

#include "cell.h"
#include "epoch.h"
#include "map.h"
#include "vec.h"

/* ---- the table of blocks -------------------------------------------------- */

size_t mark_slot_of(const chk *c, uint64_t off) {
  size_t i = (size_t)(hash_mix(off) & (c->cap - 1));
  while (c->tab[i].off && c->tab[i].off != off) i = (i + 1) & (c->cap - 1);
  return i;
}

cent *mark_lookup(chk *c, uint64_t off, int create) {
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
      if (old[i].off) c->tab[mark_slot_of(c, old[i].off)] = old[i];
    free(old);
  }
  if (!c->cap) return NULL;
  size_t i = mark_slot_of(c, off);
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

void mark_say(chk *c, const char *fmt, va_list ap) {
  if (!c->on_problem) return;
  char msg[256];
  vsnprintf(msg, sizeof msg, fmt, ap);
  c->on_problem(c->ctx, msg);
}

void mark_problem(chk *c, const char *fmt, ...) {
  c->rep.problems++;
  va_list ap;
  va_start(ap, fmt);
  mark_say(c, fmt, ap);
  va_end(ap);
}

/* ---- marking ----------------------------------------------------------------- */

/* One incoming word to `word` (a root word, or a word in a reachable block). */
static void edge(chk *c, uint64_t word) {
  if (!VAL_IS_BLOCK(word) || c->oom) return;
  cent *e = mark_lookup(c, word, 1);
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
    mark_problem(c, "%s at %#llx: count %llu / hash disagree with its %llu elements",
            type == T_VEC ? "vector" : "list", (unsigned long long)off,
            (unsigned long long)count, (unsigned long long)n);
}

/* A collection root's recorded depth bound must cover its depth. */
static void check_depth(chk *c, uint64_t off) {
  if (val_depth_check(c->t, off) == EVE_ECORRUPT)
    mark_problem(c, "%s at %#llx: recorded depth bound %u is below its depth or past %d",
            eve_type_name(val_type(c->t, off)), (unsigned long long)off,
            ((const blk *)region_ptr(c->d, off))->aux >> DEPTH_SHIFT, EVE_MAX_NESTING);
}

/* A list cell against the cell after it (list_cell_check): linear in the
 * list's length in all, where check_sequence and the depth walk from
 * every cell were quadratic.  The depth is walked only when the local rule
 * cannot decide. */
static void check_list(chk *c, uint64_t off) {
  int depth_ok;
  int rc = list_cell_check(c->t, off, &depth_ok);
  if (rc == EVE_ECORRUPT && !c->t->err)
    mark_problem(c, "list at %#llx: count / hash disagree with the cell after it",
                 (unsigned long long)off);
  if (!rc && !depth_ok) check_depth(c, off);
}

/* Deep checks of one reachable value root (collections check their nodes). */
static void check_block(chk *c, uint64_t off) {
  eve_txn *t = c->t;
  const blk *b = txn_read_any(t, off);
  if (t->err) return;
  if (blk_is_coll_root(b->type) && b->type != T_LIST) check_depth(c, off);
  switch (b->type) {
  case T_MAP:
    if (map_check(t, off) != 0) mark_problem(c, "map at %#llx is malformed", (unsigned long long)off);
    break;
  case T_SET:
    if (set_check(t, off) != 0) mark_problem(c, "set at %#llx is malformed", (unsigned long long)off);
    break;
  case T_VEC: check_sequence(c, off, b->type); break;
  case T_LIST: check_list(c, off); break;
  case T_CELLS: case T_FREE: mark_problem(c, "block %#llx of type %u is referenced as a value",
                                     (unsigned long long)off, b->type); break;
  default:
    if (b->type < T_MAP && val_check_scalar(t, off) == EVE_ECORRUPT)
      mark_problem(c, "%s at %#llx: content does not match its hash or form",
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
      mark_problem(c, "block %#llx: %s", (unsigned long long)off, eve_strerror(t->err));
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
      mark_problem(c, "registry entry %s is malformed", t->err ? eve_strerror(t->err) : "");
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

/* ---- accounting ----------------------------------------------------------------- */

static void add_page(void *ctx, uint64_t page) {
  chk *c = ctx;
  c->rep.reachable_bytes += ATOM_PAGE_BYTES;
  cent *e = mark_lookup(c, page, 1);
  if (e) e->flags |= C_SEEN;
}

/* The blocks of the reclamation machinery itself, in use though no value
 * reaches them: retire logs and commit journals. */
static void add_system_block(chk *c, uint64_t off) {
  if (!off || off % BLK_ALIGN || !region_contains(c->d, off, sizeof(blk))) return;
  const blk *b = region_ptr(c->d, off);
  if (b->magic != BLK_MAGIC || b->cls >= EVE_NCLASSES) return;
  cent *e = mark_lookup(c, off, 1);
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

void mark_free(chk *c) {
  free(c->tab);
  free(c->stack);
  free(c->cells);
  free(c->versions);
}

/* Mark everything reachable, in a read txn that pins the epoch. */
int mark_run(chk *c, eve_domain *d) {
  c->d = d;
  int rc = txn_begin_internal(d, EVE_TXN_READ, &c->t); /* the caller holds the guard */
  if (rc) return rc;
  if (!d->read_only) epoch_reclaim(d); /* free what may be, so it is not counted as waiting */
  mark_roots(c);
  cell_for_each_page(d, add_page, c);
  add_machinery(c);
  return c->oom ? EVE_ENOMEM : 0;
}

