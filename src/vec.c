/* vec.c — persistent vector: Clojure's 32-way trie plus tail.
 *
 * How it works
 * ------------
 * A vector of n elements keeps its last 1..32 elements in a *tail* leaf and
 * the rest, [0, tailoff) with tailoff = (n-1) & ~31, in a trie of 32-way
 * nodes whose leaves hold 32 value words each.  Element i < tailoff is found
 * by reading 5 bits of i per level, from bit `shift` down to bit 5; the
 * leaf's slot is i & 31.  conj writes into a copy of the tail until it is
 * full (O(1) amortised: one trie path is copied every 32 conjs); a full tail
 * is pushed into the trie as its next leaf.  pop does the reverse: when the
 * tail would become empty, the trie's last leaf becomes the tail.
 *
 * The trie is always *left-packed*: every leaf full, every node full except
 * those on the rightmost path, and no node has an empty slot.  So a count
 * determines the whole shape, and the shift is the smallest one whose trie
 * holds tailoff elements: a trie with root shift s holds 2^(s+5) elements
 * (shift 5: 1,024; shift 10: 32,768; ...).  When a conj overflows the root, a
 * new root with the old one as its first child is added (shift += 5); when a
 * pop leaves the root with one child at shift > 5, that child becomes the
 * root (shift -= 5).
 *
 * Updates never write a published block: they copy the root-to-leaf path
 * they change ("path copy") and share everything else with the old version.
 * Blocks allocated and then superseded within an operation are left alone:
 * the commit decides what is garbage.
 *
 * Layout (little-endian, offsets from the start of the domain)
 * ------------------------------------------------------------
 *   T_VEC root, 48 bytes:
 *     header    16 bytes, aux = shift (5, 10, ..., 60) | depth bound << 8
 *               (the bound of every collection root, value.h)
 *     count     u64, >= 1 (the empty vector is the immediate EVE_V_EMPTY_VECTOR)
 *     hash      u64, raw sequence hash: sum of hash(x_i) * P^(count-1-i)
 *     root      u64, offset of the trie's T_VEC_NODE, 0 when count <= 32
 *     tail      u64, offset of the tail T_VEC_LEAF (count - tailoff words)
 *   T_VEC_NODE, 16 + 8*k bytes: header (aux = k, 1..32), k child offsets;
 *     children are T_VEC_NODEs, or T_VEC_LEAFs at shift 5.
 *   T_VEC_LEAF, 16 + 8*k bytes: header (aux = k, 1..32), k value words; every
 *     leaf inside the trie has k = 32.  A full tail is moved into the trie
 *     as is, and the trie's last leaf becomes the tail after a pop.
 *
 * Reading a corrupt or hostile file never loops or crashes: the shift is
 * bounded (<= 60, so at most 12 levels), every slot count is checked against
 * the block's capacity and against the shape the count implies, and any
 * mismatch sets the transaction's sticky EVE_ECORRUPT.
 */
#include "vec.h"

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define VEC_BITS 5u
#define VEC_WIDTH 32u
#define VEC_MASK 31u
#define VEC_MAX_SHIFT 60u
#define VEC_MAX_LEVELS (VEC_MAX_SHIFT / VEC_BITS) /* 12 */

typedef struct blk_vec {
  blk h;         /* aux: shift | depth bound << 8 */
  uint64_t count;
  uint64_t hash; /* raw (unfinished) sequence hash */
  uint64_t root; /* T_VEC_NODE or 0 */
  uint64_t tail; /* T_VEC_LEAF */
} blk_vec;
_Static_assert(sizeof(blk_vec) == 48, "vector root is 48 bytes");
_Static_assert(offsetof(blk_vec, tail) == offsetof(blk_vec, root) + 8, "root and tail adjacent");

/* Nodes and leaves: aux slots of 64-bit words after the header. */
typedef struct blk_slots {
  blk h;
  uint64_t w[];
} blk_slots;

_Static_assert(VEC_MAX_LEVELS + 4 <= ITER_DEPTH, "iterator stack holds a path");

/* A validated copy of a root block's fields.  Copying once means later
 * decisions cannot be fooled by bytes that change under us. */
typedef struct vec_hdr {
  uint64_t count, hash, root, tail, tailoff;
  unsigned shift;
  uint32_t depth;  /* the depth bound (0 for the empty vector) */
} vec_hdr;

static uint64_t tail_offset(uint64_t count) { return count ? (count - 1) & ~(uint64_t)VEC_MASK : 0; }
static unsigned tail_len(const vec_hdr *h) { return (unsigned)(h->count - h->tailoff); }

/* Does a trie with root shift `shift` hold n elements? */
static int trie_holds(unsigned shift, uint64_t n) {
  return shift + VEC_BITS >= 64 || n <= (UINT64_C(1) << (shift + VEC_BITS));
}

static int corrupt(eve_txn *t) { return txn_fail(t, EVE_ECORRUPT); }

/* ---- reading ------------------------------------------------------------ */

/* Load the vector word v.  nil and the empty vector give count 0. */
static int vec_load(eve_txn *t, eve_val v, vec_hdr *h) {
  memset(h, 0, sizeof *h);
  h->shift = VEC_BITS;
  if (v == EVE_V_NIL || v == EVE_V_EMPTY_VECTOR) return 0;
  if (!VAL_IS_BLOCK(v)) return EVE_ETYPE;
  const blk *b = txn_read_any(t, v);
  if (txn_status(t)) return t->err;
  if (b->type != T_VEC) return EVE_ETYPE;
  if (!txn_fits(t, b, sizeof(blk_vec))) return t->err;
  const blk_vec *r = (const blk_vec *)b;
  h->count = r->count;
  h->hash = r->hash;
  h->root = r->root;
  h->tail = r->tail;
  h->shift = b->aux & DEPTH_TYPE_MASK;
  h->depth = root_depth(b);
  h->tailoff = tail_offset(h->count);
  if (h->count == 0 || h->tail == 0 || h->shift < VEC_BITS || h->shift > VEC_MAX_SHIFT ||
      h->shift % VEC_BITS || (h->root == 0) != (h->tailoff == 0) ||
      !trie_holds(h->shift, h->tailoff))
    return corrupt(t);
  return 0;
}

/* Read a node or leaf block; its slot count goes to *n.  A leaf must hold
 * exactly `want` words (0: any count 1..32).  NULL (t->err set) if not. */
static const uint64_t *slots_read(eve_txn *t, uint64_t off, unsigned type, unsigned want,
                                  unsigned *n) {
  const blk *b = txn_read(t, off, type);
  if (t->err) return NULL;
  unsigned k = b->aux;
  if (k == 0 || k > VEC_WIDTH || (want && k != want)) {
    corrupt(t);
    return NULL;
  }
  if (!txn_fits(t, b, sizeof(blk) + 8u * k)) return NULL;
  *n = k;
  return ((const blk_slots *)b)->w;
}

static const uint64_t *node_read(eve_txn *t, uint64_t off, unsigned *n) {
  return slots_read(t, off, T_VEC_NODE, 0, n);
}

static const uint64_t *leaf_read(eve_txn *t, uint64_t off, unsigned len) {
  unsigned n;
  return slots_read(t, off, T_VEC_LEAF, len, &n);
}

/* Child `sub` of a node; 0 (corrupt) when the node has no such slot. */
static uint64_t node_child(eve_txn *t, uint64_t off, unsigned sub) {
  unsigned n;
  const uint64_t *kids = node_read(t, off, &n);
  if (!kids) return 0;
  if (sub >= n) {
    corrupt(t);
    return 0;
  }
  return kids[sub];
}

/* Offset of the trie leaf holding element i < tailoff; 0 on error. */
static uint64_t trie_leaf(eve_txn *t, const vec_hdr *h, uint64_t i) {
  uint64_t off = h->root;
  for (unsigned level = h->shift; level > 0 && off; level -= VEC_BITS)
    off = node_child(t, off, (unsigned)(i >> level) & VEC_MASK);
  return off;
}

/* The words of the leaf holding element i < count. */
static const uint64_t *leaf_for(eve_txn *t, const vec_hdr *h, uint64_t i) {
  if (i >= h->tailoff) return leaf_read(t, h->tail, tail_len(h));
  uint64_t off = trie_leaf(t, h, i);
  return off ? leaf_read(t, off, VEC_WIDTH) : NULL;
}

static int vec_nth(eve_txn *t, const vec_hdr *h, uint64_t i, eve_val *x) {
  if (i >= h->count) return EVE_ERANGE;
  const uint64_t *leaf = leaf_for(t, h, i);
  if (!leaf) return t->err;
  *x = leaf[i & VEC_MASK];
  return 0;
}

/* ---- building blocks ---------------------------------------------------- */

/* A fresh node or leaf with n slots (contents to be written). */
static uint64_t *slots_new(eve_txn *t, unsigned type, unsigned n, uint64_t *off) {
  blk *b = txn_alloc(t, sizeof(blk) + 8u * n, type, off);
  if (!b) return NULL;
  b->aux = n;
  return ((blk_slots *)b)->w;
}

/* A fresh block of type with the n words src[0..n) and, if extra, one more
 * word x appended. */
static uint64_t slots_copy(eve_txn *t, unsigned type, const uint64_t *src, unsigned n, int extra,
                           uint64_t x) {
  uint64_t off;
  uint64_t *w = slots_new(t, type, n + (extra ? 1u : 0u), &off);
  if (!w) return 0;
  if (n) memcpy(w, src, 8u * n);
  if (extra) w[n] = x;
  return off;
}

/* The same, with slot i replaced by x. */
static uint64_t slots_replace(eve_txn *t, unsigned type, const uint64_t *src, unsigned n,
                              unsigned i, uint64_t x) {
  uint64_t off;
  uint64_t *w = slots_new(t, type, n, &off);
  if (!w) return 0;
  memcpy(w, src, 8u * n);
  w[i] = x;
  return off;
}

static int vec_make(eve_txn *t, uint64_t count, unsigned shift, uint32_t depth, uint64_t hash,
                    uint64_t root, uint64_t tail, eve_val *out) {
  uint64_t off;
  blk_vec *r = txn_alloc(t, sizeof *r, T_VEC, &off);
  if (!r) return t->err;
  r->h.aux = shift;
  root_set_depth(&r->h, depth);
  r->count = count;
  r->hash = hash;
  r->root = root;
  r->tail = tail;
  *out = off;
  return 0;
}

/* A chain of single-child nodes from `level` down to `leaf`. */
static uint64_t new_path(eve_txn *t, unsigned level, uint64_t leaf) {
  uint64_t off = leaf;
  for (unsigned l = VEC_BITS; l <= level && off; l += VEC_BITS)
    off = slots_copy(t, T_VEC_NODE, &off, 1, 0, 0);
  return off;
}

/* ---- conj --------------------------------------------------------------- */

/* Copy of `node` (0: an empty node) at `level` with the full tail `leaf`
 * appended as the trie's next leaf; count is the old element count, whose
 * last element is in that tail.  Left-packed: the slot taken is the node's
 * last child (descend) or the one after it (new). */
static uint64_t push_tail(eve_txn *t, uint64_t count, unsigned level, uint64_t node,
                          uint64_t leaf) {
  unsigned n = 0;
  const uint64_t *kids = NULL;
  if (node && !(kids = node_read(t, node, &n))) return 0;
  unsigned sub = (unsigned)((count - 1) >> level) & VEC_MASK;
  if (sub > n || sub + 1 < n || (level == VEC_BITS && sub < n)) {
    corrupt(t);
    return 0;
  }
  uint64_t ins = sub < n ? push_tail(t, count, level - VEC_BITS, kids[sub], leaf)
                         : new_path(t, level - VEC_BITS, leaf);
  if (!ins) return 0;
  return sub < n ? slots_replace(t, T_VEC_NODE, kids, n, sub, ins)
                 : slots_copy(t, T_VEC_NODE, kids, n, 1, ins);
}

static int vec_conj(eve_txn *t, const vec_hdr *h, eve_val x, eve_val *out) {
  uint32_t depth = h->depth, dx;
  uint64_t hx = val_hash_depth(t, x, &dx);
  if (txn_status(t)) return t->err;
  int rc = depth_add(t, x, dx, &depth); /* refused before building */
  if (rc) return rc;
  if (h->count == UINT64_MAX) return EVE_ERANGE;
  uint64_t hash = h->hash * HASH_P + hx;
  unsigned tlen = tail_len(h);
  if (h->count == 0 || tlen < VEC_WIDTH) { /* room in the tail */
    const uint64_t *old = NULL;
    if (h->count && !(old = leaf_read(t, h->tail, tlen))) return t->err;
    uint64_t tail = slots_copy(t, T_VEC_LEAF, old, h->count ? tlen : 0, 1, x);
    if (!tail) return t->err;
    return vec_make(t, h->count + 1, h->shift, depth, hash, h->root, tail, out);
  }
  if (!leaf_read(t, h->tail, VEC_WIDTH)) return t->err; /* it goes into the trie */
  uint64_t tail = slots_copy(t, T_VEC_LEAF, NULL, 0, 1, x);
  if (!tail) return t->err;
  unsigned shift = h->shift;
  uint64_t root;
  if (trie_holds(shift, h->count)) {
    root = push_tail(t, h->count, shift, h->root, h->tail);
  } else { /* root overflow: the old trie becomes the first child */
    uint64_t kids[2] = {h->root, new_path(t, shift, h->tail)};
    root = kids[1] ? slots_copy(t, T_VEC_NODE, kids, 2, 0, 0) : 0;
    shift += VEC_BITS;
  }
  if (!root) return t->err;
  return vec_make(t, h->count + 1, shift, depth, hash, root, tail, out);
}

/* ---- pop ---------------------------------------------------------------- */

/* Copy of `node` at `level` without the trie's last leaf (the one holding
 * element count-2, count being the old count).  *out = 0 when the node
 * becomes empty; *nkids is the new node's child count. */
static int pop_tail(eve_txn *t, uint64_t count, unsigned level, uint64_t node, uint64_t *out,
                    unsigned *nkids) {
  unsigned n;
  const uint64_t *kids = node_read(t, node, &n);
  if (!kids) return t->err;
  unsigned sub = (unsigned)((count - 2) >> level) & VEC_MASK;
  if (sub + 1 != n) return corrupt(t); /* left-packed: the last child */
  uint64_t child = 0;
  if (level > VEC_BITS) {
    unsigned k;
    int rc = pop_tail(t, count, level - VEC_BITS, kids[sub], &child, &k);
    if (rc) return rc;
  }
  *nkids = child ? n : sub;
  if (*nkids == 0) {
    *out = 0;
    return 0;
  }
  *out = child ? slots_replace(t, T_VEC_NODE, kids, n, sub, child)
               : slots_copy(t, T_VEC_NODE, kids, sub, 0, 0);
  return *out ? 0 : t->err;
}

/* The depth bound stays as it was: a removal may leave it loose (value.h). */
static int vec_pop(eve_txn *t, const vec_hdr *h, eve_val *out) {
  if (h->count == 0) return EVE_ERANGE;
  if (h->count == 1) {
    *out = EVE_V_EMPTY_VECTOR;
    return 0;
  }
  unsigned tlen = tail_len(h);
  const uint64_t *tail = leaf_read(t, h->tail, tlen);
  if (!tail) return t->err;
  uint64_t hlast = val_hash(t, tail[tlen - 1]);
  if (txn_status(t)) return t->err;
  uint64_t hash = (h->hash - hlast) * HASH_P_INV;
  if (tlen > 1) {
    uint64_t nt = slots_copy(t, T_VEC_LEAF, tail, tlen - 1, 0, 0);
    if (!nt) return t->err;
    return vec_make(t, h->count - 1, h->shift, h->depth, hash, h->root, nt, out);
  }
  /* The tail empties: the trie's last leaf becomes the tail. */
  uint64_t nt = trie_leaf(t, h, h->count - 2);
  if (!nt || !leaf_read(t, nt, VEC_WIDTH)) return t->err ? t->err : corrupt(t);
  uint64_t root;
  unsigned n = 0, shift = h->shift;
  int rc = pop_tail(t, h->count, shift, h->root, &root, &n);
  if (rc) return rc;
  if (!root) {
    shift = VEC_BITS;
  } else if (shift > VEC_BITS && n == 1) { /* the root has one child: drop a level */
    if (!(root = node_child(t, root, 0))) return t->err;
    shift -= VEC_BITS;
  }
  return vec_make(t, h->count - 1, shift, h->depth, hash, root, nt, out);
}

/* ---- assoc -------------------------------------------------------------- */

/* Copy of the path from `node` at `level` to the leaf of element i, with
 * that element replaced by x. */
static uint64_t assoc_path(eve_txn *t, unsigned level, uint64_t node, uint64_t i, eve_val x) {
  unsigned n;
  const uint64_t *kids = node_read(t, node, &n);
  if (!kids) return 0;
  unsigned sub = (unsigned)(i >> level) & VEC_MASK;
  if (sub >= n) {
    corrupt(t);
    return 0;
  }
  uint64_t child;
  if (level == VEC_BITS) {
    const uint64_t *leaf = leaf_read(t, kids[sub], VEC_WIDTH);
    child = leaf ? slots_replace(t, T_VEC_LEAF, leaf, VEC_WIDTH, (unsigned)i & VEC_MASK, x) : 0;
  } else {
    child = assoc_path(t, level - VEC_BITS, kids[sub], i, x);
  }
  return child ? slots_replace(t, T_VEC_NODE, kids, n, sub, child) : 0;
}

static int vec_assoc(eve_txn *t, eve_val v, const vec_hdr *h, uint64_t i, eve_val x,
                     eve_val *out) {
  if (i == h->count) return vec_conj(t, h, x, out);
  uint32_t depth = h->depth, dx; /* the old element's depth stays in the bound */
  uint64_t hnew = val_hash_depth(t, x, &dx);
  if (txn_status(t)) return t->err;
  int rc = depth_add(t, x, dx, &depth);
  if (rc) return rc;
  eve_val old = EVE_V_NIL;
  if ((rc = vec_nth(t, h, i, &old))) return rc;
  if (val_same(t, old, x)) { /* nothing changes: same vector */
    *out = v;
    return t->err;
  }
  uint64_t hold = val_hash(t, old);
  if (txn_status(t)) return t->err;
  uint64_t hash = h->hash + (hnew - hold) * hash_pow(h->count - 1 - i);
  if (i >= h->tailoff) {
    const uint64_t *tail = leaf_read(t, h->tail, tail_len(h));
    uint64_t nt = tail ? slots_replace(t, T_VEC_LEAF, tail, tail_len(h),
                                       (unsigned)(i - h->tailoff), x)
                       : 0;
    if (!nt) return t->err;
    return vec_make(t, h->count, h->shift, depth, hash, h->root, nt, out);
  }
  uint64_t root = assoc_path(t, h->shift, h->root, i, x);
  if (!root) return t->err;
  return vec_make(t, h->count, h->shift, depth, hash, root, h->tail, out);
}

/* ---- cursor (iteration) ------------------------------------------------- *
 * An eve_iter over a vector keeps:
 *   pos, end        next index, count
 *   idx[0], idx[1]  shift, tail length
 *   stack[0..11]    pointers to the trie nodes on the path to the current
 *                   leaf (stack[0] = root), valid while the txn lives
 *   stack[12..15]   tail offset, tailoff, 1 + index of the first element of
 *                   the leaf the path leads to (0: no path yet), current
 *                   leaf offset
 *   aux             pointer to the current leaf's words (0: none)
 * Moving to the next leaf re-reads only the nodes whose subtree changes:
 * amortised O(1) node reads per leaf, O(1) per element. */
enum { CUR_TAIL = VEC_MAX_LEVELS, CUR_TAILOFF, CUR_PATH, CUR_LEAF };

static void cur_init(iter_state *it, const vec_hdr *h, uint64_t pos) {
  memset(it->stack, 0, sizeof it->stack);
  memset(it->idx, 0, sizeof it->idx);
  it->depth = 0;
  it->pos = pos;
  it->end = h->count;
  it->aux = 0;
  it->idx[0] = h->shift;
  it->idx[1] = tail_len(h);
  it->stack[CUR_TAIL] = h->tail;
  it->stack[CUR_TAILOFF] = h->tailoff;
  if (h->root) {
    unsigned n;
    it->stack[0] = (uintptr_t)node_read(it->txn, h->root, &n);
  }
}

/* Child `sub` of the cached node at depth d (its slot count is re-derived
 * from the block header just before the words). */
static uint64_t cur_child(iter_state *it, unsigned d, unsigned sub) {
  const uint64_t *kids = (const uint64_t *)(uintptr_t)it->stack[d];
  if (!kids) return 0;
  const blk *b = (const blk *)kids - 1;
  if (sub >= b->aux) {
    corrupt(it->txn);
    return 0;
  }
  return kids[sub];
}

/* Point it->aux at the trie leaf starting at index i (i % 32 == 0, i <
 * tailoff), reusing the cached path above the nodes that change. */
static int cur_trie_leaf(iter_state *it, uint64_t i) {
  eve_txn *t = it->txn;
  unsigned shift = it->idx[0], levels = shift / VEC_BITS;
  unsigned d = 1; /* shallowest depth whose node must be re-read */
  if (it->stack[CUR_PATH] && it->stack[CUR_PATH] - 1 == i - VEC_WIDTH) {
    d = levels;
    /* The node at depth d-1 is the same when i and i-32 agree above its span. */
    while (d > 1 && (i >> (shift - VEC_BITS * (d - 2))) != ((i - VEC_WIDTH) >> (shift - VEC_BITS * (d - 2))))
      d--;
  }
  for (; d < levels; d++) {
    uint64_t off = cur_child(it, d - 1, (unsigned)(i >> (shift - VEC_BITS * (d - 1))) & VEC_MASK);
    unsigned n;
    const uint64_t *kids = off ? node_read(t, off, &n) : NULL;
    if (!kids) return t->err ? t->err : corrupt(t);
    it->stack[d] = (uintptr_t)kids;
  }
  uint64_t leaf = cur_child(it, levels - 1, (unsigned)(i >> VEC_BITS) & VEC_MASK);
  const uint64_t *w = leaf ? leaf_read(t, leaf, VEC_WIDTH) : NULL;
  if (!w) return t->err ? t->err : corrupt(t);
  it->stack[CUR_PATH] = i + 1;
  it->stack[CUR_LEAF] = leaf;
  it->aux = (uintptr_t)w;
  return 0;
}

/* Make it->aux the leaf holding element it->pos < end. */
static int cur_leaf(iter_state *it) {
  uint64_t i = it->pos & ~(uint64_t)VEC_MASK;
  if (i < it->stack[CUR_TAILOFF]) return cur_trie_leaf(it, i);
  const uint64_t *w = leaf_read(it->txn, it->stack[CUR_TAIL], it->idx[1]);
  if (!w) return it->txn->err;
  it->stack[CUR_LEAF] = it->stack[CUR_TAIL];
  it->aux = (uintptr_t)w;
  return 0;
}

/* Copy the next k elements (k <= end - pos) into dst. */
static int cur_take(iter_state *it, uint64_t *dst, unsigned k) {
  while (k) {
    if (!it->aux || (it->pos & VEC_MASK) == 0) {
      int rc = cur_leaf(it);
      if (rc) return rc;
    }
    unsigned at = (unsigned)(it->pos & VEC_MASK), run = VEC_WIDTH - at;
    if (run > k) run = k;
    memcpy(dst, (const uint64_t *)(uintptr_t)it->aux + at, 8u * run);
    dst += run;
    k -= run;
    it->pos += run;
  }
  return 0;
}

void vec_iter_init(iter_state *it) {
  vec_hdr h;
  if (vec_load(it->txn, it->coll, &h)) h.count = 0;
  cur_init(it, &h, 0);
}

int vec_iter_next(iter_state *it, eve_val *x) {
  if (it->txn->err) return it->txn->err;
  if (it->pos >= it->end) return EVE_END;
  if (!it->aux || (it->pos & VEC_MASK) == 0) {
    int rc = cur_leaf(it);
    if (rc) return rc;
  }
  *x = ((const uint64_t *)(uintptr_t)it->aux)[it->pos++ & VEC_MASK];
  return 0;
}

/* ---- slice -------------------------------------------------------------- *
 * A slice is built bottom-up in one pass, leaf by leaf, into a left-packed
 * trie of the right shift.  When `from` is a multiple of 32 the new leaves
 * coincide with the old ones, which are shared instead of copied. */
typedef struct vec_builder {
  eve_txn *t;
  unsigned top;                               /* root level: shift / 5 */
  unsigned n[VEC_MAX_LEVELS + 1];             /* children gathered per level */
  uint64_t kids[VEC_MAX_LEVELS + 1][VEC_WIDTH];
} vec_builder;

/* Add a child to the node being gathered at `level` (1: children are
 * leaves); a full node below the root moves up as one child. */
static int bld_push(vec_builder *b, unsigned level, uint64_t off) {
  b->kids[level][b->n[level]++] = off;
  if (level == b->top || b->n[level] < VEC_WIDTH) return 0;
  uint64_t node = slots_copy(b->t, T_VEC_NODE, b->kids[level], VEC_WIDTH, 0, 0);
  if (!node) return b->t->err;
  b->n[level] = 0;
  return bld_push(b, level + 1, node);
}

/* Close the partial nodes of the rightmost path; the root's offset. */
static uint64_t bld_finish(vec_builder *b) {
  for (unsigned level = 1; level < b->top; level++) {
    if (!b->n[level]) continue;
    uint64_t node = slots_copy(b->t, T_VEC_NODE, b->kids[level], b->n[level], 0, 0);
    if (!node || bld_push(b, level + 1, node)) return 0;
  }
  return slots_copy(b->t, T_VEC_NODE, b->kids[b->top], b->n[b->top], 0, 0);
}

static uint64_t seq_hash_add(eve_txn *t, uint64_t raw, const uint64_t *w, unsigned n) {
  for (unsigned j = 0; j < n; j++) raw = raw * HASH_P + val_hash(t, w[j]);
  return raw;
}

/* The next leaf of the slice: k words from the cursor, shared when the
 * cursor sits at the start of an old leaf of exactly k words. */
static uint64_t slice_leaf(iter_state *cur, unsigned k, uint64_t *hash) {
  eve_txn *t = cur->txn;
  uint64_t words[VEC_WIDTH];
  if ((cur->pos & VEC_MASK) == 0) {
    if (cur_leaf(cur)) return 0;
    unsigned have = cur->pos >= cur->stack[CUR_TAILOFF] ? cur->idx[1] : VEC_WIDTH;
    if (have == k) {
      *hash = seq_hash_add(t, *hash, (const uint64_t *)(uintptr_t)cur->aux, k);
      cur->pos += k;
      cur->aux = 0;
      return cur->stack[CUR_LEAF];
    }
  }
  if (cur_take(cur, words, k)) return 0;
  *hash = seq_hash_add(t, *hash, words, k);
  return slots_copy(t, T_VEC_LEAF, words, k, 0, 0);
}

static int vec_slice(eve_txn *t, eve_val v, const vec_hdr *h, uint64_t from, uint64_t to,
                     eve_val *out) {
  if (from > to || to > h->count) return EVE_ERANGE;
  if (from == to) {
    *out = EVE_V_EMPTY_VECTOR;
    return 0;
  }
  if (from == 0 && to == h->count) {
    *out = v;
    return 0;
  }
  uint64_t count = to - from, tailoff = tail_offset(count), hash = 0;
  vec_builder b = {.t = t};
  unsigned shift = VEC_BITS;
  while (!trie_holds(shift, tailoff)) shift += VEC_BITS;
  b.top = shift / VEC_BITS;
  iter_state cur = {.txn = t};
  cur_init(&cur, h, from);
  for (uint64_t j = 0; j < tailoff; j += VEC_WIDTH) {
    uint64_t leaf = slice_leaf(&cur, VEC_WIDTH, &hash);
    if (!leaf || bld_push(&b, 1, leaf)) return t->err;
  }
  uint64_t root = tailoff ? bld_finish(&b) : 0;
  uint64_t tail = slice_leaf(&cur, (unsigned)(count - tailoff), &hash);
  if (txn_status(t)) return t->err;
  return vec_make(t, count, shift, h->depth, hash, root, tail, out); /* the source's bound */
}

/* ---- internal interface (vec.h) ----------------------------------------- */

uint64_t vec_count(eve_txn *t, eve_val v) {
  vec_hdr h;
  return vec_load(t, v, &h) ? 0 : h.count;
}

uint64_t vec_hash(eve_txn *t, eve_val v) {
  vec_hdr h;
  if (vec_load(t, v, &h)) return 0;
  return hash_finish(h.hash, h.count, HK_SEQ);
}

const uint64_t *vec_child_words(eve_txn *t, const blk *b, size_t *n) {
  *n = 0;
  if (b->type == T_VEC) {
    if (!txn_fits(t, b, sizeof(blk_vec))) return NULL;
    *n = 2; /* root, then tail: adjacent */
    return &((const blk_vec *)b)->root;
  }
  if (b->type != T_VEC_NODE && b->type != T_VEC_LEAF) return NULL;
  if (b->aux > VEC_WIDTH) {
    corrupt(t);
    return NULL;
  }
  if (!txn_fits(t, b, sizeof(blk) + 8u * b->aux)) return NULL;
  *n = b->aux;
  return ((const blk_slots *)b)->w;
}

/* ---- public API --------------------------------------------------------- */

/* Store r in *out if the operation and the transaction both succeeded. */
static int done(eve_txn *t, int rc, eve_val r, eve_val *out) {
  if (!rc) rc = t->err;
  if (!rc) *out = r;
  return rc;
}

int eve_vec_nth(eve_txn *t, eve_val v, uint64_t i, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  vec_hdr h;
  eve_val r = EVE_V_NIL;
  int rc = vec_load(t, v, &h);
  if (!rc) rc = vec_nth(t, &h, i, &r);
  return done(t, rc, r, out);
}

int eve_vec_assoc(eve_txn *t, eve_val v, uint64_t i, eve_val x, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  vec_hdr h;
  eve_val r = EVE_V_NIL;
  rc = vec_load(t, v, &h);
  if (!rc) rc = i > h.count ? EVE_ERANGE : vec_assoc(t, v, &h, i, x, &r);
  return done(t, rc, r, out);
}

int eve_vec_conj(eve_txn *t, eve_val v, eve_val x, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  vec_hdr h;
  eve_val r = EVE_V_NIL;
  rc = vec_load(t, v, &h);
  if (!rc) rc = vec_conj(t, &h, x, &r);
  return done(t, rc, r, out);
}

int eve_vec_pop(eve_txn *t, eve_val v, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  vec_hdr h;
  eve_val r = EVE_V_NIL;
  rc = vec_load(t, v, &h);
  if (!rc) rc = vec_pop(t, &h, &r);
  return done(t, rc, r, out);
}

int eve_vec_slice(eve_txn *t, eve_val v, uint64_t from, uint64_t to, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  vec_hdr h;
  eve_val r = EVE_V_NIL;
  rc = vec_load(t, v, &h);
  if (!rc) rc = vec_slice(t, v, &h, from, to, &r);
  return done(t, rc, r, out);
}
