/* list.c — persistent list: counted cons cells.
 *
 * A list is the immediate EVE_V_EMPTY_LIST or a T_LIST cell:
 *
 *   T_LIST, 48 bytes (little-endian):
 *     header  16 bytes, aux = depth bound << 8 (value.h)
 *     count   u64, >= 1: elements in this list, this cell included
 *     hash    u64, raw sequence hash: sum of hash(x_i) * P^(count-1-i)
 *     first   u64, the element word
 *     rest    u64, a T_LIST cell of count-1 elements, or EVE_V_EMPTY_LIST
 *             when count == 1
 *
 * cons is O(1) and shares the whole old list; rest returns the existing
 * tail cell and allocates nothing.  Because every cell carries its count,
 * a walk checks that each rest holds exactly one element less: a corrupt
 * file whose cells form a cycle ends in EVE_ECORRUPT instead of a hang.
 */
#include "vec.h"

#include <stddef.h>
#include <string.h>

typedef struct blk_list {
  blk h;
  uint64_t count;
  uint64_t hash;  /* raw (unfinished) sequence hash */
  eve_val first;
  eve_val rest;
} blk_list;
_Static_assert(sizeof(blk_list) == 48, "cons cell is 48 bytes");
_Static_assert(offsetof(blk_list, rest) == offsetof(blk_list, first) + 8, "first and rest adjacent");

/* A validated copy of one cell (count 0 for the empty list). */
typedef struct cell {
  uint64_t count, hash;
  eve_val first, rest;
  uint32_t depth;  /* the depth bound (1 for the empty list) */
} cell;

static int corrupt(eve_txn *t) { return txn_fail(t, EVE_ECORRUPT); }

/* Load the list word l; nil and the empty list give count 0. */
static int cell_load(eve_txn *t, eve_val l, cell *c) {
  memset(c, 0, sizeof *c);
  c->rest = EVE_V_EMPTY_LIST;
  c->depth = 1;
  if (l == EVE_V_NIL || l == EVE_V_EMPTY_LIST) return 0;
  if (!VAL_IS_BLOCK(l)) return EVE_ETYPE;
  const blk *b = txn_read_any(t, l);
  if (txn_status(t)) return t->err;
  if (b->type != T_LIST) return EVE_ETYPE;
  if (!txn_fits(t, b, sizeof(blk_list))) return t->err;
  const blk_list *p = (const blk_list *)b;
  c->count = p->count;
  c->hash = p->hash;
  c->first = p->first;
  c->rest = p->rest;
  c->depth = root_depth(b);
  /* The shape of rest must match the count; its own count is checked when
   * it is loaded (cell_rest). */
  if (c->count == 0 || (c->count == 1 ? c->rest != EVE_V_EMPTY_LIST : !VAL_IS_BLOCK(c->rest)))
    return corrupt(t);
  return 0;
}

/* Load the cell after c, which must hold exactly c->count - 1 elements. */
static int cell_rest(eve_txn *t, const cell *c, cell *next) {
  int rc = cell_load(t, c->rest, next);
  if (rc == EVE_ETYPE || (!rc && next->count + 1 != c->count)) return corrupt(t);
  return rc;
}

static int list_cons(eve_txn *t, eve_val x, eve_val l, eve_val *out) {
  cell c;
  int rc = cell_load(t, l, &c);
  if (rc) return rc;
  uint32_t depth = c.depth, dx;
  uint64_t hx = val_hash_depth(t, x, &dx);
  if (txn_status(t)) return t->err;
  if ((rc = depth_add(t, x, dx, &depth))) return rc; /* refused before building */
  if (c.count == UINT64_MAX) return EVE_ERANGE;
  uint64_t off;
  blk_list *p = txn_alloc(t, sizeof *p, T_LIST, &off);
  if (!p) return t->err;
  p->count = c.count + 1;
  p->hash = hx * hash_pow(c.count) + c.hash;
  p->first = x;
  p->rest = c.count ? l : EVE_V_EMPTY_LIST; /* nil becomes the empty list */
  root_set_depth(&p->h, depth);
  *out = off;
  return 0;
}

/* ---- internal interface (vec.h) ----------------------------------------- */

uint64_t list_count(eve_txn *t, eve_val l) {
  cell c;
  return cell_load(t, l, &c) ? 0 : c.count;
}

uint64_t list_hash(eve_txn *t, eve_val l) {
  cell c;
  if (cell_load(t, l, &c)) return 0;
  return hash_finish(c.hash, c.count, HK_SEQ);
}

/* The checker's test of one cons cell (mark.c): its count is one more
 * than the next cell's and its raw hash extends the next cell's by its
 * first element (the rule list_cons builds by).  Every cell of a reachable
 * list is reachable and checked in turn, so by induction this verifies the
 * count and hash of every cell against its elements in O(1) per cell;
 * iterating the whole list from every cell was O(n^2).  *depth_ok: the
 * recorded depth bound covers the next cell's bound and the first
 * element's plus one, which (those bounds being checked in turn) covers
 * the cell's depth; when it does not, the caller decides by walking
 * (val_depth_check), since a bound may be loose.  0, EVE_ECORRUPT, or the
 * transaction's sticky error. */
int list_cell_check(eve_txn *t, eve_val l, int *depth_ok) {
  cell c, next;
  *depth_ok = 0;
  int rc = cell_load(t, l, &c);
  if (!rc) rc = cell_rest(t, &c, &next);
  if (rc) return rc == EVE_ETYPE ? corrupt(t) : rc;
  uint32_t dx;
  uint64_t hx = val_hash_depth(t, c.first, &dx);
  if (txn_status(t)) return t->err;
  if (c.hash != hx * hash_pow(next.count) + next.hash) return EVE_ECORRUPT;
  *depth_ok = c.depth <= EVE_MAX_NESTING && c.depth >= next.depth && c.depth > dx;
  return 0;
}

/* Iterator state: pos/end count the elements yielded/in the list, aux is
 * the next cell's word. */
void list_iter_init(iter_state *it) {
  cell c;
  it->pos = 0;
  it->end = cell_load(it->txn, it->coll, &c) ? 0 : c.count;
  it->aux = it->coll;
}

int list_iter_next(iter_state *it, eve_val *x) {
  eve_txn *t = it->txn;
  if (txn_status(t)) return t->err;
  if (it->pos >= it->end) return EVE_END;
  cell c;
  int rc = cell_load(t, it->aux, &c);
  if (rc || c.count != it->end - it->pos) return rc && rc != EVE_ETYPE ? rc : corrupt(t);
  *x = c.first;
  it->aux = c.rest;
  it->pos++;
  return 0;
}

const uint64_t *list_child_words(eve_txn *t, const blk *b, size_t *n) {
  *n = 0;
  if (b->type != T_LIST || !txn_fits(t, b, sizeof(blk_list))) return NULL;
  *n = 2; /* first, then rest: adjacent */
  return &((const blk_list *)b)->first;
}

/* ---- public API --------------------------------------------------------- */

int eve_list_cons(eve_txn *t, eve_val x, eve_val list, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  eve_val r = EVE_V_NIL;
  rc = list_cons(t, x, list, &r);
  if (!rc) rc = t->err;
  if (!rc) *out = r;
  return rc;
}

int eve_list_first(eve_txn *t, eve_val list, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  cell c;
  int rc = cell_load(t, list, &c);
  if (!rc) rc = t->err;
  if (!rc) *out = c.first; /* nil for the empty list */
  return rc;
}

int eve_list_rest(eve_txn *t, eve_val list, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  cell c, next;
  int rc = cell_load(t, list, &c);
  if (!rc && c.count > 1) rc = cell_rest(t, &c, &next);
  if (!rc) rc = t->err;
  if (!rc) *out = c.rest; /* the empty list when empty or on one element */
  return rc;
}
