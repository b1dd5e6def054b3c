/* map.c — the CHAMP hash trie behind maps and sets, and the public map API.
 *
 * How it works
 * ------------
 * CHAMP (Steindorfer & Vinju, "Optimizing Hash-Array Mapped Tries for Fast
 * and Lean Immutable JVM Collections", OOPSLA 2015) is a 32-way hash trie.
 * A key's 64-bit hash (val_hash) is cut into 5-bit fragments from the low
 * bits up: level 0 uses bits 0-4, level 1 bits 5-9, ..., level 12 bits 60-63
 * (only 4 bits are left, so a level-12 node uses slots 0..15).  Each of a
 * node's 32 slots is empty, holds one entry inline, or holds a child node
 * for the keys that share this prefix.  Two bitmaps say which: `datamap`
 * (inline entries) and `nodemap` (children); they never overlap.  Entries
 * and children are stored densely, each group in slot order, so the index of
 * slot s in a group is popcount(map & ((1 << s) - 1)).
 *
 * Keys whose 64-bit hashes are all equal cannot be told apart by any level:
 * they meet at level 13 in a *collision node*, an unordered array scanned
 * linearly with val_equal.  Collision nodes exist only at level 13, so a
 * path from the root has at most 14 nodes (13 bitmap nodes + 1 collision),
 * which bounds every walk below on any input, corrupt or not.
 *
 * The same code serves maps (entries of 2 words: key, value) and sets
 * (1 word: the element); a champ_kind says which (stride, block types, the
 * empty word, hash kind).  set.c is a thin layer over the functions here.
 *
 * Layout (every node is a block, see alloc.h; all fields little-endian)
 * ------
 *   offset  size  field
 *        0    16  blk header: type T_MAP/T_SET for the root,
 *                 T_MAP_NODE/T_SET_NODE for inner nodes (levels 1..12),
 *                 T_MAP_COLL/T_SET_COLL for collision nodes (level 13);
 *                 aux: the root's depth bound << 8 (value.h), 0 in other
 *                 nodes
 *       16     4  datamap (bitmap node) | ncoll, the entry count (collision)
 *       20     4  nodemap (bitmap node) | 0 (collision)
 *       24     8  count: elements in this subtree
 *       32     8  hash: raw hash sum of this subtree, mod 2^64
 *       40   ...  entries, `stride` words each (map: key, value; set: elem),
 *                 popcount(datamap) of them in slot order (ncoll of them,
 *                 in no particular order, in a collision node)
 *        …   ...  child offsets, popcount(nodemap) words, in slot order
 *
 * A map value is the immediate EVE_V_EMPTY_MAP or the offset of its root;
 * a set likewise with EVE_V_EMPTY_SET.  The root carries the count and the
 * raw hash of the whole collection (maps: sum of hash_entry(hash(k),
 * hash(v)); sets: sum of hash(x)), so count and hash are O(1); every inner
 * node carries the same for its subtree, which lets an update fix the sums
 * on its copied path without looking at any sibling, and lets equality and
 * the checker compare subtrees before descending.
 *
 * Canonical shape
 * ---------------
 * The shape of the trie is a function of the set of keys alone, never of
 * the order of insertions and deletions.  Take the keys S_p whose hashes
 * share the fragments of a slot's path p:
 *
 *   |S_p| == 0  the slot is empty
 *   |S_p| == 1  the slot holds that entry inline (in the highest node that
 *               can tell it apart from every other key)
 *   |S_p| >= 2  the slot holds a child node for S_p (at level 13: a
 *               collision node)
 *
 * Equivalently: every node except the root holds at least 2 elements in its
 * subtree.  Insertion keeps this: an entry moves down into a new node only
 * when a second key lands in its slot (make_pair builds the chain of
 * single-child nodes down to the level where their hashes part).  Deletion
 * keeps it by *compaction*: when removing a key leaves a subtree with one
 * element, that subtree reports the element (RM_SINGLE) instead of a node,
 * and the parent stores it inline in the slot that held the child.  This
 * repeats upwards, so a chain of single-child nodes collapses entirely, and
 * a collision node left with one entry is inlined like any other.  The
 * root is the exception: it may hold a single entry, and when it would
 * become empty the operation returns the immediate empty word instead.
 *
 * Why bother: equal maps then have identical tries (up to the order inside
 * collision nodes), so equality compares node by node and skips subtrees
 * that are the same block (two versions of one map share most of them);
 * the commit's diff can match a copied node with its source slot by slot;
 * and the checker can verify the shape exactly.
 *
 * Updates path-copy: the nodes from the root to the changed slot are copied
 * into fresh blocks (txn_alloc), everything else is shared.  Nothing is ever
 * written in place and nothing is freed here: a value built earlier in the
 * transaction may still be in use, and the commit decides what is garbage.
 * An update that changes nothing (assoc of an equal value, dissoc of an
 * absent key, conj of a present element) returns the same word and
 * allocates nothing.
 *
 * Limitations
 * -----------
 * Collision nodes are scanned linearly and copied whole on update: fine for
 * real 64-bit hashes, quadratic when hashes are truncated on purpose (the
 * test hook).  Merge inserts the smaller map's entries one by one into the
 * larger one; a node-by-node union would share more.
 *
 * Reading never trusts the file: every node is read with txn_read (offset,
 * magic, type for its level) and txn_fits (the size its bitmaps imply);
 * any failure leaves the sticky EVE_ECORRUPT in the txn and a zeroed dummy
 * node, which looks empty, so walks stop. */
#include "map.h"

#include <string.h>

const champ_kind champ_map_kind = {
    .stride = 2, .root_type = T_MAP, .node_type = T_MAP_NODE,
    .coll_type = T_MAP_COLL, .empty = EVE_V_EMPTY_MAP, .hk = HK_MAP,
};

static const champ_node *const dummy_node = (const champ_node *)&txn_dummy;

/* ---- small helpers ----------------------------------------------------- */

static inline unsigned popc(uint32_t m) { return (unsigned)__builtin_popcount(m); }

/* Index of slot `bit` among the set bits of map. */
static inline unsigned slot(uint32_t map, uint32_t bit) { return popc(map & (bit - 1)); }

/* The slot bit of hash h at a bitmap level (0..12). */
static inline uint32_t hbit(uint64_t h, unsigned level) {
  return 1u << ((h >> (CHAMP_BITS * level)) & 31u);
}

static unsigned type_at(const champ_kind *k, unsigned level) {
  if (level == 0) return k->root_type;
  return level < CHAMP_COLL_LEVEL ? k->node_type : k->coll_type;
}

/* Words after the node header: entries then children. */
static uint64_t node_words(const champ_kind *k, const champ_node *n, unsigned level) {
  if (level == CHAMP_COLL_LEVEL) return (uint64_t)n->ncoll * k->stride;
  return (uint64_t)popc(n->datamap) * k->stride + popc(n->nodemap);
}

static inline const eve_val *entry_at(const champ_kind *k, const champ_node *n, uint32_t bit) {
  return n->w + (size_t)k->stride * slot(n->datamap, bit);
}

static inline uint64_t child_at(const champ_kind *k, const champ_node *n, uint32_t bit) {
  return n->w[(size_t)k->stride * popc(n->datamap) + slot(n->nodemap, bit)];
}

/* Hash of an entry for the raw sum, given its key's hash. */
static uint64_t entry_hash(eve_txn *t, const champ_kind *k, const eve_val *e, uint64_t kh) {
  return k->stride == 2 ? hash_entry(kh, val_hash(t, e[1])) : kh;
}

/* Check a node block read at `level` against what its bitmaps imply: the
 * bitmaps must not overlap (else an index would name two things) and the
 * block must be big enough for the words they count.  Returns the node or
 * the dummy (t->err set). */
static const champ_node *node_check(eve_txn *t, const champ_kind *k, const blk *b,
                                    unsigned level) {
  const champ_node *n = (const champ_node *)b;
  if (t->err) return dummy_node;
  if (level == CHAMP_COLL_LEVEL ? n->nodemap != 0 : (n->datamap & n->nodemap) != 0) {
    txn_fail(t, EVE_ECORRUPT);
    return dummy_node;
  }
  if (!txn_fits(t, b, sizeof *n + 8 * node_words(k, n, level))) return dummy_node;
  return n;
}

static const champ_node *node_read(eve_txn *t, const champ_kind *k, uint64_t off,
                                   unsigned level) {
  return node_check(t, k, txn_read(t, off, type_at(k, level)), level);
}

/* Classify a collection word: *root = 0 for nil or the empty word, else the
 * root block's offset.  EVE_ETYPE for anything that is not this kind.
 * *depth (may be NULL) gets the collection's depth bound, 0 when empty. */
static inline __attribute__((always_inline)) int
coll_root_depth(eve_txn *t, const champ_kind *k, eve_val v, uint64_t *root, uint32_t *depth) {
  *root = 0;
  if (depth) *depth = 0;
  if (v == EVE_V_NIL || v == k->empty) return 0;
  if (!VAL_IS_BLOCK(v)) return EVE_ETYPE;
  const blk *b = txn_read_any(t, v);
  if (txn_status(t)) return t->err;
  if (b->type != k->root_type) return EVE_ETYPE;
  *root = v;
  if (depth) *depth = root_depth(b);
  return 0;
}

static int coll_root(eve_txn *t, const champ_kind *k, eve_val v, uint64_t *root) {
  return coll_root_depth(t, k, v, root, NULL);
}

/* ---- building nodes ---------------------------------------------------- */

/* Write a bitmap node for `level` with slots (datamap, nodemap).  Slot `bit`
 * takes `entry` (if in datamap) or `child` (if in nodemap); every other slot
 * is copied from `old`, which must hold it in the same group.  One routine
 * covers every edit: replace, insert, remove, and moving a slot between the
 * entry and child groups. */
static int build_node(eve_txn *t, const champ_kind *k, unsigned level, const champ_node *old,
                      uint32_t datamap, uint32_t nodemap, uint32_t bit, const eve_val *entry,
                      uint64_t child, uint64_t count, uint64_t hash, uint64_t *out) {
  unsigned s = k->stride;
  uint64_t words = (uint64_t)popc(datamap) * s + popc(nodemap);
  champ_node *n = txn_alloc(t, sizeof *n + 8 * words, type_at(k, level), out);
  if (!n) return t->err;
  n->datamap = datamap;
  n->nodemap = nodemap;
  n->count = count;
  n->hash = hash;
  uint64_t *w = n->w;
  for (uint32_t m = datamap; m; m &= m - 1) {
    uint32_t b = m & -m;
    const eve_val *e = b == bit ? entry : entry_at(k, old, b);
    w[0] = e[0]; /* one or two words: stores, not a memcpy call per entry */
    if (s == 2) w[1] = e[1];
    w += s;
  }
  for (uint32_t m = nodemap; m; m &= m - 1) {
    uint32_t b = m & -m;
    *w++ = b == bit ? child : child_at(k, old, b);
  }
  return 0;
}

/* Write a collision node: old's entries except index `skip` (none if out of
 * range), then `add` written at index `at` (overwriting a copied entry, or
 * appended when at == the number copied).  old may be NULL with nold == 0. */
static int build_coll(eve_txn *t, const champ_kind *k, const eve_val *old, uint32_t nold,
                      uint32_t skip, const eve_val *add, uint32_t at, uint64_t hash,
                      uint64_t *out) {
  unsigned s = k->stride;
  uint32_t kept = nold - (skip < nold);
  uint32_t n = kept + (add && at == kept);
  champ_node *c = txn_alloc(t, sizeof *c + 8 * (uint64_t)n * s, k->coll_type, out);
  if (!c) return t->err;
  c->ncoll = n;
  c->nodemap = 0;
  c->count = n;
  c->hash = hash;
  uint64_t *w = c->w;
  for (uint32_t i = 0; i < nold; i++)
    if (i != skip) {
      memcpy(w, old + (size_t)i * s, 8 * (size_t)s);
      w += s;
    }
  if (add) memcpy(c->w + (size_t)at * s, add, 8 * (size_t)s);
  return 0;
}

/* A fresh subtree at `level` (>= 1) holding two entries a and b with key
 * hashes ha, hb and raw hash sum `hash`: single-child nodes down to the
 * level where the hashes part, or a collision node at level 13 when they
 * never do.  The canonical form of a two-element subtree. */
static int make_pair(eve_txn *t, const champ_kind *k, unsigned level, const eve_val *a,
                     uint64_t ha, const eve_val *b, uint64_t hb, uint64_t hash,
                     uint64_t *out) {
  if (level == CHAMP_COLL_LEVEL) return build_coll(t, k, a, 1, UINT32_MAX, b, 1, hash, out);
  uint32_t ba = hbit(ha, level), bb = hbit(hb, level);
  if (ba == bb) {
    uint64_t c;
    int rc = make_pair(t, k, level + 1, a, ha, b, hb, hash, &c);
    if (rc) return rc;
    return build_node(t, k, level, NULL, 0, ba, ba, NULL, c, 2, hash, out);
  }
  unsigned s = k->stride;
  champ_node *n = txn_alloc(t, sizeof *n + 16 * (uint64_t)s, k->node_type, out);
  if (!n) return t->err;
  n->datamap = ba | bb;
  n->nodemap = 0;
  n->count = 2;
  n->hash = hash;
  memcpy(n->w + (ba < bb ? 0 : s), a, 8 * (size_t)s);
  memcpy(n->w + (ba < bb ? s : 0), b, 8 * (size_t)s);
  return 0;
}

/* ---- lookup ------------------------------------------------------------ */

/* The entry for key (hash kh) under root, or NULL.  At most 14 reads. */
/* Start loading the first NODE_PREFETCH bytes of a node as soon as its
 * offset is known.  The slot a lookup needs lies anywhere in a wide node;
 * asked for only once the header has arrived (to count the bitmap), it is a
 * second cache miss per level.  Prefetches never fault; the bounds check
 * keeps the address arithmetic inside the mapping. */
#define NODE_PREFETCH 512
static inline void node_prefetch(eve_txn *t, uint64_t off) {
  if (!region_contains(t->d, off, NODE_PREFETCH)) return;
  const char *p = region_ptr(t->d, off);
  for (unsigned i = 0; i < NODE_PREFETCH; i += 64) __builtin_prefetch(p + i);
}

static const eve_val *find(eve_txn *t, const champ_kind *k, uint64_t root, const key_probe *key,
                           uint64_t kh) {
  uint64_t off = root;
  for (unsigned level = 0; level < CHAMP_COLL_LEVEL; level++) {
    const champ_node *n = node_read(t, k, off, level);
    if (t->err) return NULL;
    uint32_t bit = hbit(kh, level);
    if (n->datamap & bit) {
      const eve_val *e = entry_at(k, n, bit);
      if (k->stride == 2) val_prefetch(t, e[1]);
      return key_probe_equal(t, e[0], key) ? e : NULL;
    }
    if (!(n->nodemap & bit)) return NULL;
    off = child_at(k, n, bit);
    node_prefetch(t, off);
  }
  const champ_node *c = node_read(t, k, off, CHAMP_COLL_LEVEL);
  for (uint32_t i = 0; i < c->ncoll && !t->err; i++) {
    const eve_val *e = c->w + (size_t)i * k->stride;
    if (key_probe_equal(t, e[0], key)) return e;
  }
  return NULL;
}

int champ_lookup_probe(eve_txn *t, const champ_kind *k, eve_val coll, const key_probe *key,
                       const eve_val **entry) {
  if (!t || !entry) return EVE_EINVAL;
  *entry = NULL;
  if (txn_status(t)) return t->err;
  uint64_t root;
  int rc = coll_root(t, k, coll, &root);
  if (rc || !root) return rc;
  uint64_t kh = key_probe_hash(t, key);
  if (txn_status(t)) return t->err;
  const eve_val *e = find(t, k, root, key, kh);
  if (txn_status(t)) return t->err;
  *entry = e;
  return 0;
}

int champ_lookup(eve_txn *t, const champ_kind *k, eve_val coll, eve_val key,
                 const eve_val **entry) {
  key_probe p = {.word = key};
  return champ_lookup_probe(t, k, coll, &p, entry);
}

/* ---- insertion --------------------------------------------------------- */

/* One insertion or removal in flight. */
typedef struct champ_op {
  eve_txn *t;
  const champ_kind *k;
  const eve_val *e;   /* put: the entry (stride words); remove: the key      */
  uint64_t kh;        /* hash of the key                                     */
  uint64_t eh;        /* put: hash of the entry; remove: of the removed one  */
  int keep;           /* put: an existing key keeps its value                */
  int64_t dcount;     /* put: change of the subtree count (0 or 1)           */
  uint64_t dhash;     /* put: change of the subtree raw hash                 */
} champ_op;

static int put_at(champ_op *op, uint64_t off, unsigned level, uint64_t *out);

/* The key is already in a collision node or an inline slot as `cur`: keep
 * it (same word back, nothing allocated) unless the value changes. */
static int put_same_key(champ_op *op, const eve_val *cur, int *unchanged) {
  eve_txn *t = op->t;
  *unchanged = op->k->stride == 1 || op->keep || val_same(t, cur[1], op->e[1]);
  if (!*unchanged) {
    op->dcount = 0;
    op->dhash = op->eh - entry_hash(t, op->k, cur, op->kh);
  }
  return t->err;
}

static int put_coll(champ_op *op, uint64_t off, uint64_t *out) {
  eve_txn *t = op->t;
  const champ_kind *k = op->k;
  const champ_node *c = node_read(t, k, off, CHAMP_COLL_LEVEL);
  if (txn_status(t)) return t->err;
  for (uint32_t i = 0; i < c->ncoll; i++) {
    const eve_val *cur = c->w + (size_t)i * k->stride;
    int same = val_equal(t, cur[0], op->e[0]);
    if (txn_status(t)) return t->err;
    if (!same) continue;
    int unchanged, rc = put_same_key(op, cur, &unchanged);
    if (rc) return rc;
    if (unchanged) {
      *out = off;
      return 0;
    }
    return build_coll(t, k, c->w, c->ncoll, UINT32_MAX, op->e, i, c->hash + op->dhash, out);
  }
  op->dcount = 1;
  op->dhash = op->eh;
  return build_coll(t, k, c->w, c->ncoll, UINT32_MAX, op->e, c->ncoll, c->hash + op->eh, out);
}

static int put_node(champ_op *op, uint64_t off, unsigned level, uint64_t *out) {
  eve_txn *t = op->t;
  const champ_kind *k = op->k;
  const champ_node *n = node_read(t, k, off, level);
  if (txn_status(t)) return t->err;
  uint32_t bit = hbit(op->kh, level);
  if (n->datamap & bit) {
    const eve_val *cur = entry_at(k, n, bit);
    if (k->stride == 2) val_prefetch(t, cur[1]); /* read next if the key matches */
    int same = val_equal(t, cur[0], op->e[0]);
    if (txn_status(t)) return t->err;
    if (same) {
      int unchanged, rc = put_same_key(op, cur, &unchanged);
      if (rc) return rc;
      if (unchanged) {
        *out = off;
        return 0;
      }
      return build_node(t, k, level, n, n->datamap, n->nodemap, bit, op->e, 0, n->count,
                        n->hash + op->dhash, out);
    }
    /* A second key in this slot: both move down into a new subtree. */
    uint64_t h2 = val_hash(t, cur[0]);
    uint64_t eh2 = entry_hash(t, k, cur, h2);
    if (txn_status(t)) return t->err;
    uint64_t sub;
    int rc = make_pair(t, k, level + 1, cur, h2, op->e, op->kh, eh2 + op->eh, &sub);
    if (rc) return rc;
    op->dcount = 1;
    op->dhash = op->eh;
    return build_node(t, k, level, n, n->datamap & ~bit, n->nodemap | bit, bit, NULL, sub,
                      n->count + 1, n->hash + op->eh, out);
  }
  if (n->nodemap & bit) {
    uint64_t c = child_at(k, n, bit), nc;
    node_prefetch(t, c);
    int rc = put_at(op, c, level + 1, &nc);
    if (rc) return rc;
    if (nc == c) {
      *out = off;
      return 0;
    }
    return build_node(t, k, level, n, n->datamap, n->nodemap, bit, NULL, nc,
                      n->count + (uint64_t)op->dcount, n->hash + op->dhash, out);
  }
  op->dcount = 1;
  op->dhash = op->eh;
  return build_node(t, k, level, n, n->datamap | bit, n->nodemap, bit, op->e, 0,
                    n->count + 1, n->hash + op->eh, out);
}

static int put_at(champ_op *op, uint64_t off, unsigned level, uint64_t *out) {
  return level == CHAMP_COLL_LEVEL ? put_coll(op, off, out) : put_node(op, off, level, out);
}

int champ_put(eve_txn *t, const champ_kind *k, eve_val coll, const eve_val *entry, int keep,
              eve_val *out) {
  if (!t || !entry || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  uint64_t root;
  uint32_t depth;
  if ((rc = coll_root_depth(t, k, coll, &root, &depth))) return rc;
  champ_op op = {.t = t, .k = k, .e = entry, .keep = keep};
  uint32_t dk, dv = 0;
  op.kh = val_hash_depth(t, entry[0], &dk);
  op.eh = k->stride == 2 ? hash_entry(op.kh, val_hash_depth(t, entry[1], &dv)) : op.kh;
  if (txn_status(t)) return t->err;
  if ((rc = depth_add(t, entry[0], dk, &depth))) return rc; /* refused before building */
  if (k->stride == 2 && (rc = depth_add(t, entry[1], dv, &depth))) return rc;
  uint64_t res;
  if (!root) {
    uint32_t bit = hbit(op.kh, 0);
    rc = build_node(t, k, 0, NULL, bit, 0, bit, entry, 0, 1, op.eh, &res);
  } else {
    rc = put_at(&op, root, 0, &res);
  }
  if (rc) return rc;
  if (txn_status(t)) return t->err;
  if (res != root) root_set_depth(region_ptr(t->d, res), depth); /* a fresh root */
  *out = res == root ? coll : res;
  return 0;
}

/* ---- removal ----------------------------------------------------------- */

/* What a subtree became after a removal.  RM_SINGLE is the compaction
 * signal: the subtree is down to one element, which the parent inlines. */
enum rm_kind { RM_ABSENT, RM_EMPTY, RM_SINGLE, RM_NODE };
typedef struct rm_res {
  enum rm_kind kind;
  uint64_t off;       /* RM_NODE: the new subtree      */
  eve_val e[2];       /* RM_SINGLE: its only entry     */
} rm_res;

static int rm_at(champ_op *op, uint64_t off, unsigned level, rm_res *res);

/* Finish a removal in bitmap node `old` at `level`: its slots become
 * (dm, nm), slot `bit` taking `entry` or `child` (see build_node).  Decides
 * between an empty subtree, a single element to inline, and a new node;
 * the root (level 0) is never reported single. */
static int rm_finish(champ_op *op, const champ_node *old, unsigned level, uint32_t dm,
                     uint32_t nm, uint32_t bit, const eve_val *entry, uint64_t child,
                     rm_res *res) {
  const champ_kind *k = op->k;
  if (!dm && !nm) {
    res->kind = RM_EMPTY;
    return 0;
  }
  if (level > 0 && !nm && popc(dm) == 1) {
    const eve_val *only = dm == bit ? entry : entry_at(k, old, dm);
    memcpy(res->e, only, 8 * (size_t)k->stride);
    res->kind = RM_SINGLE;
    return 0;
  }
  res->kind = RM_NODE;
  return build_node(op->t, k, level, old, dm, nm, bit, entry, child, old->count - 1,
                    old->hash - op->eh, &res->off);
}

static int rm_coll(champ_op *op, uint64_t off, rm_res *res) {
  eve_txn *t = op->t;
  const champ_kind *k = op->k;
  unsigned s = k->stride;
  const champ_node *c = node_read(t, k, off, CHAMP_COLL_LEVEL);
  res->kind = RM_ABSENT;
  if (txn_status(t)) return t->err;
  for (uint32_t i = 0; i < c->ncoll; i++) {
    const eve_val *cur = c->w + (size_t)i * s;
    int same = val_equal(t, cur[0], op->e[0]);
    if (txn_status(t)) return t->err;
    if (!same) continue;
    op->eh = entry_hash(t, k, cur, op->kh);
    if (txn_status(t)) return t->err;
    if (c->ncoll == 2) {
      memcpy(res->e, c->w + (size_t)(1 - i) * s, 8 * (size_t)s);
      res->kind = RM_SINGLE;
      return 0;
    }
    if (c->ncoll < 2) {  /* not canonical, but removing still works */
      res->kind = RM_EMPTY;
      return 0;
    }
    res->kind = RM_NODE;
    return build_coll(t, k, c->w, c->ncoll, i, NULL, 0, c->hash - op->eh, &res->off);
  }
  return 0;
}

static int rm_node(champ_op *op, uint64_t off, unsigned level, rm_res *res) {
  eve_txn *t = op->t;
  const champ_kind *k = op->k;
  const champ_node *n = node_read(t, k, off, level);
  res->kind = RM_ABSENT;
  if (txn_status(t)) return t->err;
  uint32_t bit = hbit(op->kh, level);
  if (n->datamap & bit) {
    const eve_val *cur = entry_at(k, n, bit);
    if (k->stride == 2) val_prefetch(t, cur[1]); /* read next if the key matches */
    int same = val_equal(t, cur[0], op->e[0]);
    if (!same || t->err) return t->err;
    op->eh = entry_hash(t, k, cur, op->kh);
    if (txn_status(t)) return t->err;
    return rm_finish(op, n, level, n->datamap & ~bit, n->nodemap, bit, NULL, 0, res);
  }
  if (!(n->nodemap & bit)) return 0;
  rm_res sub;
  int rc = rm_at(op, child_at(k, n, bit), level + 1, &sub);
  if (rc) return rc;
  switch (sub.kind) {
  case RM_ABSENT:
    return 0;
  case RM_EMPTY:
    return rm_finish(op, n, level, n->datamap, n->nodemap & ~bit, bit, NULL, 0, res);
  case RM_SINGLE: /* compaction: the child's last element moves up here */
    return rm_finish(op, n, level, n->datamap | bit, n->nodemap & ~bit, bit, sub.e, 0, res);
  case RM_NODE:
    return rm_finish(op, n, level, n->datamap, n->nodemap, bit, NULL, sub.off, res);
  }
  return txn_fail(t, EVE_ECORRUPT);  /* unreachable */
}

static int rm_at(champ_op *op, uint64_t off, unsigned level, rm_res *res) {
  return level == CHAMP_COLL_LEVEL ? rm_coll(op, off, res) : rm_node(op, off, level, res);
}

int champ_remove(eve_txn *t, const champ_kind *k, eve_val coll, eve_val key, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  uint64_t root;
  uint32_t depth;
  if ((rc = coll_root_depth(t, k, coll, &root, &depth))) return rc;
  if (!root) {
    *out = coll;
    return 0;
  }
  champ_op op = {.t = t, .k = k, .e = &key};
  op.kh = val_hash(t, key);
  if (txn_status(t)) return t->err;
  rm_res r;
  if ((rc = rm_at(&op, root, 0, &r))) return rc;
  if (txn_status(t)) return t->err;
  switch (r.kind) {
  case RM_ABSENT: *out = coll; break;
  case RM_EMPTY: *out = k->empty; break;
  case RM_NODE: /* a fresh root; the bound stays (it may now be loose) */
    root_set_depth(region_ptr(t->d, r.off), depth);
    *out = r.off;
    break;
  case RM_SINGLE: return txn_fail(t, EVE_ECORRUPT);  /* the root never reports it */
  }
  return 0;
}

/* ---- count, hash ------------------------------------------------------- */

uint64_t champ_count(eve_txn *t, const champ_kind *k, eve_val coll) {
  if (!VAL_IS_BLOCK(coll)) return 0;
  return node_read(t, k, coll, 0)->count;
}

uint64_t champ_hash(eve_txn *t, const champ_kind *k, eve_val coll) {
  if (!VAL_IS_BLOCK(coll)) return hash_finish(0, 0, k->hk);
  const champ_node *n = node_read(t, k, coll, 0);
  return hash_finish(n->hash, n->count, k->hk);
}

/* ---- iteration --------------------------------------------------------- *
 * Depth-first, entries of a node before its children.  it->stack[d] is the
 * node at depth d (depth == level), it->idx[d] the next position in it
 * (entries first, then children), it->depth the current depth (-1: done),
 * it->pos the items yielded and it->end the root's count, checked at the
 * end so a count that disagrees with the trie is reported as corruption.
 * Nodes are re-read on every call: the iterator holds offsets, not
 * pointers, and every read is checked. */

void champ_iter_init(iter_state *it, const champ_kind *k) {
  it->pos = 0;
  it->aux = 0;
  it->depth = -1;
  it->end = 0;
  if (!VAL_IS_BLOCK(it->coll)) return;
  it->depth = 0;
  it->stack[0] = it->coll;
  it->idx[0] = 0;
  it->end = champ_count(it->txn, k, it->coll);
}

int champ_iter_next(iter_state *it, const champ_kind *k, const eve_val **entry) {
  eve_txn *t = it->txn;
  if (txn_status(t)) return t->err;
  while (it->depth >= 0) {
    unsigned d = (unsigned)it->depth;
    if (d > CHAMP_COLL_LEVEL) return txn_fail(t, EVE_ECORRUPT);
    const champ_node *n = node_read(t, k, it->stack[d], d);
    if (txn_status(t)) return t->err;
    uint32_t i = it->idx[d];
    uint32_t ne = d == CHAMP_COLL_LEVEL ? n->ncoll : popc(n->datamap);
    uint32_t nc = d == CHAMP_COLL_LEVEL ? 0 : popc(n->nodemap);
    if (i < ne) {
      it->idx[d] = i + 1;
      it->pos++;
      *entry = n->w + (size_t)i * k->stride;
      return 0;
    }
    if (i < ne + nc) {  /* nc > 0 only below level 13, so d + 1 <= 13 */
      it->idx[d] = i + 1;
      it->stack[d + 1] = n->w[(size_t)ne * k->stride + (i - ne)];
      it->idx[d + 1] = 0;
      it->depth = (int)d + 1;
      continue;
    }
    it->depth = (int)d - 1;
  }
  if (it->pos != it->end) return txn_fail(t, EVE_ECORRUPT);
  return EVE_END;
}

/* ---- children (reachability) ------------------------------------------- */

const uint64_t *map_child_words(eve_txn *t, const blk *b, size_t *n) {
  const champ_kind *k = b->type <= T_MAP_COLL ? &champ_map_kind : &champ_set_kind;
  unsigned level;
  *n = 0;
  switch (b->type) {
  case T_MAP: case T_SET: level = 0; break;
  case T_MAP_NODE: case T_SET_NODE: level = 1; break;
  case T_MAP_COLL: case T_SET_COLL: level = CHAMP_COLL_LEVEL; break;
  default: txn_fail(t, EVE_ECORRUPT); return NULL;
  }
  const champ_node *nd = node_check(t, k, b, level);
  if (t->err) return NULL;
  *n = node_words(k, nd, level);
  return nd->w;
}

/* ---- equality (the walk is walk.c's; see champ_pair in map.h) --------- */

int champ_pair_open(eve_txn *t, const champ_kind *k, uint64_t a, uint64_t b, unsigned level,
                    champ_pair *p) {
  const champ_node *na = node_read(t, k, a, level);
  const champ_node *nb = node_read(t, k, b, level);
  *p = (champ_pair){.k = k, .a = na->w, .b = nb->w, .level = level};
  if (t->err || na->count != nb->count || na->hash != nb->hash) return 0;
  if (level == CHAMP_COLL_LEVEL) {
    p->nentries = na->ncoll;
    return na->ncoll == nb->ncoll;
  }
  if (na->datamap != nb->datamap || na->nodemap != nb->nodemap) return 0;
  p->nwords = popc(na->datamap) * k->stride;
  p->nchildren = popc(na->nodemap);
  return 1;
}

/* ---- deep check -------------------------------------------------------- */

typedef struct chk {
  eve_txn *t;
  const champ_kind *k;
  uint64_t count, hash;   /* sums over the subtree just checked */
} chk;

static int check_at(chk *c, uint64_t off, unsigned level, uint64_t prefix);

/* Check one entry: its key's hash must follow the path (prefix holds the
 * fragments of levels < level; at level 13 it is the whole hash). */
static int check_entry(chk *c, const eve_val *e, unsigned level, uint64_t prefix,
                       uint64_t *sum) {
  uint64_t kh = val_hash(c->t, e[0]);
  uint64_t eh = entry_hash(c->t, c->k, e, kh);
  if (c->t->err) return c->t->err;
  unsigned bits = CHAMP_BITS * level;
  uint64_t mask = bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
  if ((kh & mask) != prefix) return EVE_ECORRUPT;
  *sum += eh;
  return 0;
}

static int check_coll(chk *c, const champ_node *n, uint64_t prefix) {
  unsigned s = c->k->stride;
  uint64_t sum = 0;
  if (n->ncoll < 2) return EVE_ECORRUPT;
  for (uint32_t i = 0; i < n->ncoll; i++) {
    const eve_val *e = n->w + (size_t)i * s;
    int rc = check_entry(c, e, CHAMP_COLL_LEVEL, prefix, &sum);
    if (rc) return rc;
    for (uint32_t j = 0; j < i; j++)
      if (val_equal(c->t, e[0], n->w[(size_t)j * s])) return EVE_ECORRUPT;
  }
  if (n->count != n->ncoll || n->hash != sum) return EVE_ECORRUPT;
  c->count = n->ncoll;
  c->hash = sum;
  return c->t->err;
}

static int check_node(chk *c, const champ_node *n, unsigned level, uint64_t prefix) {
  unsigned s = c->k->stride;
  uint64_t count = 0, sum = 0;
  if (level == CHAMP_COLL_LEVEL - 1 && ((n->datamap | n->nodemap) >> 16))
    return EVE_ECORRUPT;  /* level 12 has only 4 hash bits */
  for (uint32_t m = n->datamap; m; m &= m - 1) {
    uint32_t b = m & -m;
    uint64_t p = prefix | (uint64_t)__builtin_ctz(b) << (CHAMP_BITS * level);
    int rc = check_entry(c, entry_at(c->k, n, b), level + 1, p, &sum);
    if (rc) return rc;
    count++;
  }
  size_t ne = (size_t)popc(n->datamap) * s;
  for (uint32_t m = n->nodemap, i = 0; m; m &= m - 1, i++) {
    uint32_t b = m & -m;
    uint64_t p = prefix | (uint64_t)__builtin_ctz(b) << (CHAMP_BITS * level);
    int rc = check_at(c, n->w[ne + i], level + 1, p);
    if (rc) return rc;
    if (c->count < 2) return EVE_ECORRUPT;  /* should have been inlined */
    count += c->count;
    sum += c->hash;
  }
  if (n->count != count || n->hash != sum || count == 0) return EVE_ECORRUPT;
  c->count = count;
  c->hash = sum;
  return 0;
}

static int check_at(chk *c, uint64_t off, unsigned level, uint64_t prefix) {
  const champ_node *n = node_read(c->t, c->k, off, level);
  if (c->t->err) return c->t->err;
  return level == CHAMP_COLL_LEVEL ? check_coll(c, n, prefix) : check_node(c, n, level, prefix);
}

int champ_check(eve_txn *t, const champ_kind *k, eve_val coll) {
  if (!t) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  uint64_t root;
  int rc = coll_root(t, k, coll, &root);
  if (rc || !root) return rc;
  chk c = {.t = t, .k = k};
  rc = check_at(&c, root, 0, 0);
  return t->err ? t->err : rc;
}

/* ---- the public map API ------------------------------------------------ */

int eve_map_get(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  if (!out) return EVE_EINVAL;
  const eve_val *e;
  int rc = champ_lookup(t, &champ_map_kind, m, k, &e);
  if (rc) return rc;
  if (!e) return EVE_ENOTFOUND;
  *out = e[1];
  return 0;
}

int eve_map_get_text(eve_txn *t, eve_val m, eve_type type, const char *key, size_t n,
                     eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  key_probe p;
  int rc = key_probe_text(type, key, n, &p);
  const eve_val *e;
  if (!rc) rc = champ_lookup_probe(t, &champ_map_kind, m, &p, &e);
  if (rc) return rc;
  if (!e) return EVE_ENOTFOUND;
  *out = e[1];
  return 0;
}

int eve_map_get_scalar(eve_txn *t, eve_val m, const eve_scalar *key, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  key_probe p;
  int rc = key_probe_scalar(key, &p);
  const eve_val *e;
  if (!rc) rc = champ_lookup_probe(t, &champ_map_kind, m, &p, &e);
  if (rc) return rc;
  if (!e) return EVE_ENOTFOUND;
  *out = e[1];
  return 0;
}

int eve_map_assoc(eve_txn *t, eve_val m, eve_val k, eve_val v, eve_val *out) {
  eve_val e[2] = {k, v};
  return champ_put(t, &champ_map_kind, m, e, 0, out);
}

int eve_map_dissoc(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  return champ_remove(t, &champ_map_kind, m, k, out);
}

/* Insert every entry of src into acc (keep: acc's existing keys win). */
static int merge_into(eve_txn *t, eve_val acc, eve_val src, int keep, eve_val *out) {
  iter_state it = {.txn = t, .coll = src};
  champ_iter_init(&it, &champ_map_kind);
  const eve_val *e;
  int rc;
  while ((rc = champ_iter_next(&it, &champ_map_kind, &e)) == 0) {
    eve_val kv[2] = {e[0], e[1]};  /* e points into the domain: copy first */
    if ((rc = champ_put(t, &champ_map_kind, acc, kv, keep, &acc))) return rc;
  }
  if (rc != EVE_END) return rc;
  *out = acc;
  return 0;
}

/* b's entries win.  The smaller map is inserted into the larger one: into
 * a with b's values replacing, or into b keeping b's values. */
int eve_map_merge(eve_txn *t, eve_val a, eve_val b, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc = txn_writable(t);
  if (rc) return rc;
  uint64_t ra, rb;
  if ((rc = coll_root(t, &champ_map_kind, a, &ra))) return rc;
  if ((rc = coll_root(t, &champ_map_kind, b, &rb))) return rc;
  if (!rb || !ra) {
    *out = rb ? b : a;
    return 0;
  }
  if (champ_count(t, &champ_map_kind, a) >= champ_count(t, &champ_map_kind, b))
    rc = merge_into(t, a, b, 0, out);
  else
    rc = merge_into(t, b, a, 1, out);
  return rc ? rc : t->err;
}

/* ---- internal map interface (map.h) ------------------------------------ */

uint64_t map_count(eve_txn *t, eve_val m) { return champ_count(t, &champ_map_kind, m); }
uint64_t map_hash(eve_txn *t, eve_val m) { return champ_hash(t, &champ_map_kind, m); }
void map_iter_init(iter_state *it) { champ_iter_init(it, &champ_map_kind); }

int map_iter_next(iter_state *it, eve_val *k, eve_val *v) {
  const eve_val *e;
  int rc = champ_iter_next(it, &champ_map_kind, &e);
  if (rc) return rc;
  if (k) *k = e[0];
  if (v) *v = e[1];
  return 0;
}

int map_check(eve_txn *t, eve_val m) { return champ_check(t, &champ_map_kind, m); }
