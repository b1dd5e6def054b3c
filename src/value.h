/* value.h — value words, scalar blocks, hashing, equality and order
 * (value.c; the hash of a value is hash.c's, the total order order.c's).
 *
 * A value is a 64-bit word.  The low 3 bits are its tag:
 *
 *   tag 0  block offset (16-byte aligned); the word 0 is nil
 *   tag 1  integer: a signed 61-bit payload in bits 3..63
 *   tag 2  special: bits 3..7 kind (false, true, char, empty collections),
 *          bits 8..31 a character's code point
 *   tag 3  string of 0..7 bytes stored inline    \  bits 3..5 length,
 *   tag 4  keyword of 0..7 bytes stored inline    > bytes 1..7 the text,
 *   tag 5  symbol of 0..7 bytes stored inline    /  zero padded
 *
 * Representations are canonical — an integer that fits in 61 bits is always
 * immediate, a text of at most 7 bytes always inline, an empty collection
 * always the immediate — so two immediate words are equal values exactly
 * when the words are equal, and an immediate never equals a block. */
#ifndef EVE_VALUE_H
#define EVE_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "txn.h"
#include "utf8.h" /* texts are UTF-8: utf8_valid */

/* The state behind an eve_iter (whose public face is reserved words):
 * which walk it is, and where it stands.  may_alias: it is read and
 * written through the caller's eve_iter. */
#define ITER_DEPTH 16
typedef struct iter_state {
  eve_txn *txn;
  eve_val coll;
  int kind;
  int depth;
  uint64_t pos;
  uint64_t end;
  uint64_t stack[ITER_DEPTH];
  uint32_t idx[ITER_DEPTH];
  uint64_t aux;
} __attribute__((may_alias)) iter_state;
_Static_assert(sizeof(iter_state) <= sizeof(eve_iter), "eve_iter reserves room for its state");

static inline iter_state *iter_of(eve_iter *it) { return (iter_state *)(void *)it; }

enum val_tag { TAG_PTR = 0, TAG_INT = 1, TAG_SPECIAL = 2, TAG_STR = 3, TAG_KW = 4, TAG_SYM = 5 };
enum special_kind { SK_FALSE = 1, SK_TRUE = 2, SK_CHAR = 3, SK_EMPTY_MAP = 4,
                    SK_EMPTY_SET = 5, SK_EMPTY_VEC = 6, SK_EMPTY_LIST = 7 };

#define VAL_TAG(v) ((unsigned)((v) & 7u))
#define VAL_IS_BLOCK(v) (VAL_TAG(v) == TAG_PTR && (v) != 0)
#define VAL_SPECIAL(kind) ((eve_val)(((kind) << 3) | TAG_SPECIAL))
#define INT_IMM_MIN (-(INT64_C(1) << 60))
#define INT_IMM_MAX ((INT64_C(1) << 60) - 1)
#define TEXT_INLINE_MAX 7u

_Static_assert(VAL_SPECIAL(SK_FALSE) == EVE_V_FALSE, "false word");
_Static_assert(VAL_SPECIAL(SK_TRUE) == EVE_V_TRUE, "true word");
_Static_assert(VAL_SPECIAL(SK_EMPTY_MAP) == EVE_V_EMPTY_MAP, "empty map word");
_Static_assert(VAL_SPECIAL(SK_EMPTY_SET) == EVE_V_EMPTY_SET, "empty set word");
_Static_assert(VAL_SPECIAL(SK_EMPTY_VEC) == EVE_V_EMPTY_VECTOR, "empty vector word");
_Static_assert(VAL_SPECIAL(SK_EMPTY_LIST) == EVE_V_EMPTY_LIST, "empty list word");

/* Scalar block bodies. */
typedef struct blk_int { blk h; int64_t i; } blk_int;
typedef struct blk_float { blk h; double f; } blk_float;
typedef struct blk_inst { blk h; int64_t ms; } blk_inst;
typedef struct blk_uuid { blk h; uint8_t b[16]; } blk_uuid;
/* Strings, keywords, symbols and bytes: the header's aux is the length;
 * a text of TEXT_HASHED_MIN bytes or more keeps its hash (computed at
 * construction) in the first body word, before the bytes.  Shorter texts
 * are hashed on demand: hashing a few bytes costs less than the 8 bytes
 * per block, which matter most for the short keys and values that fill
 * large maps. */
#define TEXT_HASHED_MIN 32u
#define TEXT_MAX UINT32_MAX

/* Start loading the first line of block v, if it is one inside the file.
 * A lookup that reaches an entry calls it for the value before comparing
 * the key, so the two cache misses overlap instead of following each other. */
static inline void val_prefetch(eve_txn *t, eve_val v) {
  if (VAL_IS_BLOCK(v) && region_contains(t->d, v, sizeof(blk)))
    __builtin_prefetch(region_ptr(t->d, v));
}

/* The type of v; corrupt blocks set t->err and report EVE_NIL. */
eve_type val_type(eve_txn *t, eve_val v);

/* A boxed text (string, keyword, symbol, bytes), checked against its
 * block's capacity: a damaged one reads as "" with t->err set. */
typedef struct val_text {
  const char *s;
  uint64_t len;
  const blk *b;
} val_text;

static inline val_text val_text_load(eve_txn *t, eve_val v) {
  const blk *b = txn_read_any(t, v);
  uint64_t len = b->aux, skip = len >= TEXT_HASHED_MIN ? 8 : 0;
  if (!txn_fits(t, b, sizeof(blk) + skip + len)) return (val_text){"", 0, &txn_dummy.h};
  return (val_text){(const char *)(b + 1) + skip, len, b};
}

/* The hash seed of a boxed text's block type (hash.c). */
unsigned val_text_seed(unsigned type);

/* The hash of a boxed text: stored for long texts, computed for short. */
static inline uint64_t val_text_hash(const val_text *x) {
  if (x->len >= TEXT_HASHED_MIN) {
    uint64_t h;
    memcpy(&h, x->b + 1, 8);
    return h;
  }
  return hash_bytes(x->s, x->len, val_text_seed(x->b->type));
}

/* Hash, equality and order of values (errors are sticky in t).  Equality
 * and order walk nested values iteratively (walk.c): their C stack use does
 * not grow with the nesting. */
uint64_t val_hash(eve_txn *t, eve_val v);
int val_equal(eve_txn *t, eve_val a, eve_val b);
/* Equal, and indistinguishable: equal with every sequence of the same
 * kind at every depth ([1] and (1) are equal values, not the same one).
 * An update keeps the old word only for the same value (Clojure's assoc
 * of an equal list over a vector stores the list). */
int val_same(eve_txn *t, eve_val a, eve_val b);
int val_compare(eve_txn *t, eve_val a, eve_val b);

/* ---- nesting depth -------------------------------------------------------
 * The depth of a value is 0 for a scalar, 1 for an empty collection, and
 * 1 + the depth of its deepest element (map keys count) for any other
 * collection.  No value is deeper than EVE_MAX_NESTING: the constructors
 * refuse to put an element of depth EVE_MAX_NESTING into a collection, as
 * the readers refuse deeper text.  So a walk that finds itself deeper has
 * met a damaged file (a cycle), and stops with EVE_ECORRUPT.
 *
 * To refuse in O(1), every collection root records an upper bound of its
 * depth in bits 8..31 of its header's aux word (bits 0..7 stay the type's
 * own: a vector's shift, 0 for the others).  Adding an element raises the
 * bound exactly; removing one leaves it (a bound may be loose, never low).
 * Only when a bound says an element may be too deep is the element walked
 * to decide (depth_admit).  0 means "not recorded" (files written
 * before bounds were kept) and reads as EVE_MAX_NESTING. */
#define DEPTH_SHIFT 8u
#define DEPTH_TYPE_MASK 0xFFu

static inline int blk_is_coll_root(unsigned type) {
  return type == T_MAP || type == T_SET || type == T_VEC || type == T_LIST;
}

/* The bound recorded in a collection root's header. */
static inline uint32_t root_depth(const blk *b) {
  uint32_t d = b->aux >> DEPTH_SHIFT;
  return d ? d : EVE_MAX_NESTING;
}

/* Record depth bound d (1..EVE_MAX_NESTING) in a fresh collection root. */
static inline void root_set_depth(blk *b, uint32_t d) {
  b->aux = (b->aux & DEPTH_TYPE_MASK) | d << DEPTH_SHIFT;
}

/* The recorded depth bound of any value word (0 for scalars; a corrupt
 * block sets t->err and gives 0). */
static inline uint32_t val_depth(eve_txn *t, eve_val v) {
  if (!VAL_IS_BLOCK(v)) { /* the empty collections are the specials 4..7 */
    unsigned kind = (v >> 3) & 31;
    return VAL_TAG(v) == TAG_SPECIAL && kind >= SK_EMPTY_MAP && kind <= SK_EMPTY_LIST;
  }
  const blk *b = txn_read_any(t, v);
  return blk_is_coll_root(b->type) ? root_depth(b) : 0;
}

/* val_hash(v) and val_depth(v) from one read of v's header: a constructor
 * needs both of every element it adds. */
uint64_t val_hash_depth(eve_txn *t, eve_val v, uint32_t *depth);

uint32_t val_element_depth_slow(eve_txn *t, eve_val x, int *rc);

/* x, whose recorded bound *d was just read (val_depth, val_hash_depth), is
 * about to become an element of a collection: makes *d a bound of its
 * depth at most EVE_MAX_NESTING - 1, so the collection's bound is max(its
 * old bound, 1 + *d).  Returns 0; EVE_EDEPTH when x is too deep to be an
 * element (nothing is made sticky: the caller just refuses); or the txn's
 * sticky error. */
static inline int depth_admit(eve_txn *t, eve_val x, uint32_t *d) {
  if (__builtin_expect(*d < EVE_MAX_NESTING, 1)) return t->err;
  int rc;
  *d = val_element_depth_slow(t, x, &rc);
  return rc;
}

/* Raise *depth, a collection's bound, to hold x of recorded bound dx (see
 * depth_admit; EVE_EDEPTH leaves *depth alone). */
static inline int depth_add(eve_txn *t, eve_val x, uint32_t dx, uint32_t *depth) {
  int rc = depth_admit(t, x, &dx);
  if (!rc && dx + 1 > *depth) *depth = dx + 1;
  return rc;
}

/* The checker's test of a collection root's recorded bound: 0 when it is
 * unrecorded or at least the value's depth and at most EVE_MAX_NESTING,
 * EVE_ECORRUPT (not sticky) when not, or the txn's sticky error. */
int val_depth_check(eve_txn *t, eve_val coll);

/* A map or set key to look up: a value word, or a scalar that would be
 * boxed, given by its bytes, so that a lookup allocates nothing
 * (eve_map_get_text, eve_map_get_scalar).  An immediate (a short text, a
 * 61-bit integer, nil, a boolean, a character) is its word; a boxed one
 * keeps its block type, body bytes and hash. */
typedef struct key_probe {
  eve_val word;     /* the key, when it is a word (s == NULL)                */
  const void *s;    /* else a scalar that would be boxed: its body bytes ... */
  size_t n;         /* ... (a text's bytes; 8 or 16 for the fixed scalars)   */
  unsigned type;    /* ... its block type (T_STRING .. T_BYTES, T_INT ...)   */
  uint64_t hash;    /* ... and its hash, as val_hash would give it           */
  uint64_t bits;    /* a fixed 8-byte scalar's body, which s points at       */
} key_probe;

/* The probe of a text of type EVE_STRING, EVE_KEYWORD or EVE_SYMBOL:
 * 0, or EVE_EINVAL (another type, bad UTF-8, an empty keyword or symbol). */
int key_probe_text(eve_type type, const char *s, size_t n, key_probe *p);
/* The probe of any scalar: 0, or EVE_EINVAL (a collection type, or a value
 * the constructors refuse).  p may point into *k (texts, uuids): use it
 * while *k lives, and do not copy it (a fixed scalar's s points at p). */
int key_probe_scalar(const eve_scalar *k, key_probe *p);
/* The probe's hash (val_hash of the key), and whether a stored key equals it. */
uint64_t key_probe_hash(eve_txn *t, const key_probe *p);
int key_probe_equal(eve_txn *t, eve_val stored, const key_probe *p);

/* Call fn(ctx, slot) for every word of block `off` that may reference
 * another block (value words and child offsets), passing the word's address
 * in the mapped block (read it with *slot; the commit patches fresh blocks
 * through it).  Dispatches on the block type; used by the commit, the
 * checker and the collector. */
typedef void (*blk_visit_fn)(void *ctx, const uint64_t *slot);
void blk_for_each_child(eve_txn *t, uint64_t off, blk_visit_fn fn, void *ctx);

/* The same words as one array inside the mapped block (every block type
 * keeps them contiguous): *n words, or NULL with *n = 0 for a scalar block
 * or a damaged one (t->err set). */
const uint64_t *blk_child_words(eve_txn *t, uint64_t off, size_t *n);

/* Deep check of a scalar block: stored hash matches the content, canonical
 * form (short texts inline, small ints immediate, one NaN), UTF-8.  0 or
 * EVE_ECORRUPT (not sticky), or the txn's sticky error.  For the checker. */
int val_check_scalar(eve_txn *t, uint64_t off);

#endif
