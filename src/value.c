/* value.c — value words, scalars, equality, and the dispatch from generic
 * operations (count, iteration, child enumeration) to the collection
 * modules.  Hashing is hash.c's, the total order order.c's, UTF-8 utf8.c's. */
#define _GNU_SOURCE
#include "value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "utf8.h"
#include "vec.h"
#include "walk.h"

/* ---- types ---------------------------------------------------------------- */

static const char *const type_names[] = {
  [EVE_NIL] = "nil", [EVE_BOOL] = "boolean", [EVE_INT] = "integer", [EVE_FLOAT] = "float",
  [EVE_CHAR] = "char", [EVE_STRING] = "string", [EVE_KEYWORD] = "keyword",
  [EVE_SYMBOL] = "symbol", [EVE_UUID] = "uuid", [EVE_INST] = "inst", [EVE_BYTES] = "bytes",
  [EVE_LIST] = "list", [EVE_VECTOR] = "vector", [EVE_SET] = "set", [EVE_MAP] = "map",
};

const char *eve_type_name(eve_type type) {
  return (unsigned)type < sizeof type_names / sizeof *type_names ? type_names[type] : "unknown";
}

static eve_type block_type(unsigned t) {
  switch (t) {
  case T_INT: return EVE_INT;
  case T_FLOAT: return EVE_FLOAT;
  case T_STRING: return EVE_STRING;
  case T_KEYWORD: return EVE_KEYWORD;
  case T_SYMBOL: return EVE_SYMBOL;
  case T_UUID: return EVE_UUID;
  case T_INST: return EVE_INST;
  case T_BYTES: return EVE_BYTES;
  case T_MAP: return EVE_MAP;
  case T_SET: return EVE_SET;
  case T_VEC: return EVE_VECTOR;
  case T_LIST: return EVE_LIST;
  default: return EVE_NIL; /* an inner node is never a value */
  }
}

/* Block type of a value word, or T_FREE (with t->err set) if corrupt. */
static unsigned value_block_type(eve_txn *t, eve_val v) {
  const blk *b = txn_read_any(t, v);
  if (b != &txn_dummy.h && block_type(b->type) == EVE_NIL) {
    txn_fail(t, EVE_ECORRUPT);
    return T_FREE;
  }
  return b->type;
}

eve_type val_type(eve_txn *t, eve_val v) {
  switch (VAL_TAG(v)) {
  case TAG_PTR: return v ? block_type(value_block_type(t, v)) : EVE_NIL;
  case TAG_INT: return EVE_INT;
  case TAG_STR: return EVE_STRING;
  case TAG_KW: return EVE_KEYWORD;
  case TAG_SYM: return EVE_SYMBOL;
  case TAG_SPECIAL:
    switch ((v >> 3) & 31) {
    case SK_FALSE: case SK_TRUE: return EVE_BOOL;
    case SK_CHAR: return EVE_CHAR;
    case SK_EMPTY_MAP: return EVE_MAP;
    case SK_EMPTY_SET: return EVE_SET;
    case SK_EMPTY_VEC: return EVE_VECTOR;
    case SK_EMPTY_LIST: return EVE_LIST;
    }
  }
  txn_fail(t, EVE_ECORRUPT); /* tags 6, 7 and unknown specials are never written */
  return EVE_NIL;
}

int eve_type_get(eve_txn *t, eve_val v, eve_type *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  *out = val_type(t, v);
  return t->err;
}

/* ---- constructors ----------------------------------------------------------- */

int eve_bool(int b, eve_val *out) {
  if (!out) return EVE_EINVAL;
  *out = b ? EVE_V_TRUE : EVE_V_FALSE;
  return 0;
}

int eve_char(uint32_t cp, eve_val *out) {
  if (!out) return EVE_EINVAL;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return EVE_ERANGE;
  *out = ((eve_val)cp << 8) | VAL_SPECIAL(SK_CHAR);
  return 0;
}

/* Allocate a scalar block of `bytes`; NULL with the error in *rc. */
static void *new_scalar(eve_txn *t, uint64_t bytes, unsigned type, eve_val *out, int *rc) {
  if ((*rc = txn_writable(t)) != 0) return NULL;
  void *p = txn_alloc(t, bytes, type, out);
  if (!p) *rc = t->err;
  return p;
}

int eve_int(eve_txn *t, int64_t i, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  if (i >= INT_IMM_MIN && i <= INT_IMM_MAX) {
    *out = ((uint64_t)i << 3) | TAG_INT;
    return 0;
  }
  int rc;
  blk_int *b = new_scalar(t, sizeof *b, T_INT, out, &rc);
  if (b) b->i = i;
  return rc;
}

int eve_float(eve_txn *t, double f, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  if (isnan(f)) f = NAN; /* one NaN: equality and hashing stay consistent */
  int rc;
  blk_float *b = new_scalar(t, sizeof *b, T_FLOAT, out, &rc);
  if (b) b->f = f;
  return rc;
}

static int new_text(eve_txn *t, const char *s, size_t n, unsigned tag, unsigned type,
                    unsigned seed, eve_val *out) {
  if (!t || !out || (n && !s)) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  if (type != T_BYTES && !utf8_valid(s, n)) return EVE_EINVAL;
  if (tag != TAG_PTR && n <= TEXT_INLINE_MAX) {
    eve_val w = tag | (n << 3);
    memcpy((char *)&w + 1, s, n);
    *out = w;
    return 0;
  }
  if (n > TEXT_MAX) return EVE_ERANGE;
  int rc, hashed = n >= TEXT_HASHED_MIN;
  blk *b = new_scalar(t, sizeof(blk) + (hashed ? 8 : 0) + n, type, out, &rc);
  if (!b) return rc;
  b->aux = (uint32_t)n;
  char *body = (char *)(b + 1);
  if (hashed) {
    uint64_t h = hash_bytes(s, n, seed);
    memcpy(body, &h, 8);
    body += 8;
  }
  if (n) memcpy(body, s, n);
  return 0;
}

int eve_string(eve_txn *t, const char *s, size_t n, eve_val *out) {
  return new_text(t, s, n, TAG_STR, T_STRING, SEED_STRING, out);
}

int eve_keyword(eve_txn *t, const char *s, size_t n, eve_val *out) {
  if (n == 0) return EVE_EINVAL;
  return new_text(t, s, n, TAG_KW, T_KEYWORD, SEED_KEYWORD, out);
}

int eve_symbol(eve_txn *t, const char *s, size_t n, eve_val *out) {
  if (n == 0) return EVE_EINVAL;
  return new_text(t, s, n, TAG_SYM, T_SYMBOL, SEED_SYMBOL, out);
}

int eve_bytes(eve_txn *t, const void *p, size_t n, eve_val *out) {
  return new_text(t, p, n, TAG_PTR, T_BYTES, SEED_BYTES, out);
}

int eve_uuid(eve_txn *t, const uint8_t bytes[16], eve_val *out) {
  if (!t || !out || !bytes) return EVE_EINVAL;
  int rc;
  blk_uuid *b = new_scalar(t, sizeof *b, T_UUID, out, &rc);
  if (b) memcpy(b->b, bytes, 16);
  return rc;
}

int eve_inst(eve_txn *t, int64_t ms, eve_val *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc;
  blk_inst *b = new_scalar(t, sizeof *b, T_INST, out, &rc);
  if (b) b->ms = ms;
  return rc;
}

/* ---- accessors ------------------------------------------------------------- */

/* Read v as a block of the given type, or fail with EVE_ETYPE. */
static const blk *typed_block(eve_txn *t, eve_val v, unsigned type, int *rc) {
  if ((*rc = txn_status(t)) != 0) return NULL;
  if (!VAL_IS_BLOCK(v) || value_block_type(t, v) != type) {
    *rc = t->err ? t->err : EVE_ETYPE;
    return NULL;
  }
  return txn_read(t, v, type);
}

int eve_bool_get(eve_txn *t, eve_val v, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  if (v != EVE_V_TRUE && v != EVE_V_FALSE) return EVE_ETYPE;
  *out = v == EVE_V_TRUE;
  return 0;
}

int eve_int_get(eve_txn *t, eve_val v, int64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (VAL_TAG(v) == TAG_INT) {
    *out = (int64_t)v >> 3; /* arithmetic shift restores the sign */
    return txn_status(t);
  }
  int rc;
  const blk_int *b = (const blk_int *)typed_block(t, v, T_INT, &rc);
  if (b) *out = b->i;
  return rc;
}

int eve_float_get(eve_txn *t, eve_val v, double *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc;
  const blk_float *b = (const blk_float *)typed_block(t, v, T_FLOAT, &rc);
  if (b) *out = b->f;
  return rc;
}

int eve_char_get(eve_txn *t, eve_val v, uint32_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  if ((v & 0xFF) != VAL_SPECIAL(SK_CHAR)) return EVE_ETYPE;
  *out = (uint32_t)(v >> 8);
  return 0;
}

int eve_uuid_get(eve_txn *t, eve_val v, uint8_t out[16]) {
  if (!t || !out) return EVE_EINVAL;
  int rc;
  const blk_uuid *b = (const blk_uuid *)typed_block(t, v, T_UUID, &rc);
  if (b) memcpy(out, b->b, 16);
  return rc;
}

int eve_inst_get(eve_txn *t, eve_val v, int64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  int rc;
  const blk_inst *b = (const blk_inst *)typed_block(t, v, T_INST, &rc);
  if (b) *out = b->ms;
  return rc;
}

int eve_text_get(eve_txn *t, const eve_val *v, const char **s, size_t *n) {
  if (!t || !v || !s || !n) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  unsigned tag = VAL_TAG(*v);
  if (tag == TAG_STR || tag == TAG_KW || tag == TAG_SYM) {
    *s = (const char *)v + 1;
    *n = (*v >> 3) & 7;
    return 0;
  }
  if (!VAL_IS_BLOCK(*v)) return EVE_ETYPE;
  unsigned type = value_block_type(t, *v);
  if (type != T_STRING && type != T_KEYWORD && type != T_SYMBOL) return t->err ? t->err : EVE_ETYPE;
  val_text x = val_text_load(t, *v);
  *s = x.s;
  *n = x.len;
  return t->err;
}

/* A text's probe under its block type and seed; tag is its inline tag
 * (TAG_PTR for bytes, which are never inline). */
static int probe_text(const char *s, size_t n, unsigned tag, unsigned btype, unsigned seed,
                      key_probe *p) {
  if ((n && !s) || n > TEXT_MAX || (btype != T_BYTES && !utf8_valid(s, n))) return EVE_EINVAL;
  *p = (key_probe){0};
  if (tag != TAG_PTR && n <= TEXT_INLINE_MAX) { /* canonical: the stored key is this word */
    p->word = tag | (n << 3);
    if (n) memcpy((char *)&p->word + 1, s, n);
    return 0;
  }
  p->s = s;
  p->n = n;
  p->type = btype;
  p->hash = hash_mask(hash_bytes(s, n, seed));
  return 0;
}

int key_probe_text(eve_type type, const char *s, size_t n, key_probe *p) {
  switch (type) {
  case EVE_STRING: return probe_text(s, n, TAG_STR, T_STRING, SEED_STRING, p);
  case EVE_KEYWORD: return n ? probe_text(s, n, TAG_KW, T_KEYWORD, SEED_KEYWORD, p) : EVE_EINVAL;
  case EVE_SYMBOL: return n ? probe_text(s, n, TAG_SYM, T_SYMBOL, SEED_SYMBOL, p) : EVE_EINVAL;
  default: return EVE_EINVAL;
  }
}

/* A boxed 8-byte scalar (T_INT, T_FLOAT, T_INST): its body is `bits`. */
static void probe_fixed(unsigned btype, uint64_t bits, unsigned seed, key_probe *p) {
  *p = (key_probe){0};
  p->bits = bits;
  p->s = &p->bits;
  p->n = 8;
  p->type = btype;
  p->hash = hash_mask(hash_scalar(bits, seed));
}

int key_probe_scalar(const eve_scalar *k, key_probe *p) {
  if (!k || !p) return EVE_EINVAL;
  *p = (key_probe){0};
  switch (k->type) {
  case EVE_NIL: p->word = EVE_V_NIL; return 0;
  case EVE_BOOL: p->word = k->as.b ? EVE_V_TRUE : EVE_V_FALSE; return 0;
  case EVE_CHAR: return eve_char(k->as.c, &p->word) ? EVE_EINVAL : 0;
  case EVE_INT:
    if (k->as.i >= INT_IMM_MIN && k->as.i <= INT_IMM_MAX) {
      p->word = ((uint64_t)k->as.i << 3) | TAG_INT;
      return 0;
    }
    probe_fixed(T_INT, (uint64_t)k->as.i, SEED_INT, p);
    return 0;
  case EVE_FLOAT: {
    double f = isnan(k->as.f) ? NAN : k->as.f; /* as eve_float stores it */
    uint64_t bits;
    memcpy(&bits, &f, 8);
    probe_fixed(T_FLOAT, bits, SEED_FLOAT, p);
    return 0;
  }
  case EVE_INST: probe_fixed(T_INST, (uint64_t)k->as.ms, SEED_INST, p); return 0;
  case EVE_UUID:
    p->s = k->as.uuid;
    p->n = 16;
    p->type = T_UUID;
    p->hash = hash_mask(hash_bytes(k->as.uuid, 16, SEED_UUID));
    return 0;
  case EVE_STRING: case EVE_KEYWORD: case EVE_SYMBOL:
    return key_probe_text(k->type, k->as.text.s, k->as.text.n, p);
  case EVE_BYTES: return probe_text(k->as.text.s, k->as.text.n, TAG_PTR, T_BYTES, SEED_BYTES, p);
  default: return EVE_EINVAL; /* collections are not scalars */
  }
}

uint64_t key_probe_hash(eve_txn *t, const key_probe *p) {
  return p->s ? p->hash : val_hash(t, p->word);
}

int key_probe_equal(eve_txn *t, eve_val stored, const key_probe *p) {
  if (!p->s) return val_equal(t, stored, p->word);
  if (!VAL_IS_BLOCK(stored) || value_block_type(t, stored) != p->type) return 0;
  switch (p->type) {
  case T_INT: case T_FLOAT: case T_INST: case T_UUID: /* the body follows the header */
    return memcmp(txn_read_any(t, stored) + 1, p->s, p->n) == 0;
  default: {
    val_text x = val_text_load(t, stored);
    return x.len == p->n && memcmp(x.s, p->s, p->n) == 0;
  }
  }
}

int eve_bytes_get(eve_txn *t, const eve_val *v, const uint8_t **p, size_t *n) {
  if (!t || !v || !p || !n) return EVE_EINVAL;
  int rc;
  if (!typed_block(t, *v, T_BYTES, &rc)) return rc;
  val_text x = val_text_load(t, *v);
  *p = (const uint8_t *)x.s;
  *n = x.len;
  return t->err;
}

/* ---- collections: generic count and iteration ------------------------------- */

static int is_empty_coll(eve_val v) {
  return v == EVE_V_EMPTY_MAP || v == EVE_V_EMPTY_SET || v == EVE_V_EMPTY_VECTOR ||
         v == EVE_V_EMPTY_LIST;
}

int eve_count(eve_txn *t, eve_val coll, uint64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  *out = 0;
  if (coll == EVE_V_NIL || is_empty_coll(coll)) return 0;
  if (!VAL_IS_BLOCK(coll)) return EVE_ETYPE;
  switch (value_block_type(t, coll)) {
  case T_MAP: *out = map_count(t, coll); break;
  case T_SET: *out = set_count(t, coll); break;
  case T_VEC: *out = vec_count(t, coll); break;
  case T_LIST: *out = list_count(t, coll); break;
  default: return t->err ? t->err : EVE_ETYPE;
  }
  return t->err;
}

int eve_iter_init(eve_txn *t, eve_val coll, eve_iter *pub) {
  if (!t || !pub) return EVE_EINVAL;
  memset(pub, 0, sizeof *pub);
  iter_state *it = iter_of(pub);
  it->txn = t;
  it->coll = coll;
  if (txn_status(t)) return t->err;
  if (coll == EVE_V_NIL || is_empty_coll(coll)) return 0; /* kind 0: nothing to yield */
  if (!VAL_IS_BLOCK(coll)) return EVE_ETYPE;
  it->kind = (int)value_block_type(t, coll);
  switch (it->kind) {
  case T_MAP: map_iter_init(it); break;
  case T_SET: set_iter_init(it); break;
  case T_VEC: vec_iter_init(it); break;
  case T_LIST: list_iter_init(it); break;
  default: it->kind = 0; return t->err ? t->err : EVE_ETYPE;
  }
  return t->err;
}

int eve_iter_next(eve_iter *pub, eve_val *key, eve_val *val) {
  if (!pub) return EVE_EINVAL;
  iter_state *it = iter_of(pub);
  if (!it->txn) return EVE_EINVAL;
  eve_txn *t = it->txn;
  if (txn_status(t)) return t->err;
  eve_val k = EVE_V_NIL, v = EVE_V_NIL;
  int rc;
  switch (it->kind) {
  case T_MAP: rc = map_iter_next(it, &k, &v); break;
  case T_SET: rc = set_iter_next(it, &k); break;
  case T_VEC: rc = vec_iter_next(it, &k); break;
  case T_LIST: rc = list_iter_next(it, &k); break;
  default: return EVE_END;
  }
  if (txn_status(t)) return t->err;
  if (rc) return rc;
  if (key) *key = k;
  if (val) *val = v;
  return 0;
}

const uint64_t *blk_child_words(eve_txn *t, uint64_t off, size_t *n) {
  const blk *b = txn_read_any(t, off);
  *n = 0;
  switch (b->type) {
  case T_MAP: case T_MAP_NODE: case T_MAP_COLL:
  case T_SET: case T_SET_NODE: case T_SET_COLL: return map_child_words(t, b, n);
  case T_VEC: case T_VEC_NODE: case T_VEC_LEAF: return vec_child_words(t, b, n);
  case T_LIST: return list_child_words(t, b, n);
  default: return NULL; /* scalars hold no references */
  }
}

void blk_for_each_child(eve_txn *t, uint64_t off, blk_visit_fn fn, void *ctx) {
  size_t n;
  const uint64_t *w = blk_child_words(t, off, &n);
  for (size_t i = 0; i < n; i++) fn(ctx, &w[i]);
}

/* ---- equality ----------------------------------------------------------------- *
 * What the words and headers decide alone; walk.c compares elements. */

static int scalar_block_equal(eve_txn *t, eve_val a, eve_val b, unsigned type) {
  const blk *x = txn_read_any(t, a), *y = txn_read_any(t, b);
  switch (type) {
  case T_INT: return ((const blk_int *)x)->i == ((const blk_int *)y)->i;
  case T_FLOAT:
    return memcmp(&((const blk_float *)x)->f, &((const blk_float *)y)->f, 8) == 0;
  case T_INST: return ((const blk_inst *)x)->ms == ((const blk_inst *)y)->ms;
  case T_UUID: return memcmp(((const blk_uuid *)x)->b, ((const blk_uuid *)y)->b, 16) == 0;
  default: {
    val_text p = val_text_load(t, a), q = val_text_load(t, b);
    if (p.len != q.len) return 0;
    if (p.len >= TEXT_HASHED_MIN && val_text_hash(&p) != val_text_hash(&q)) return 0;
    return memcmp(p.s, q.s, p.len) == 0;
  }
  }
}

/* Two blocks: scalars compare here; collections of one kind (vectors and
 * lists are one) with equal counts and hashes are left open. */
static int blocks_equal_shallow(eve_txn *t, eve_val a, eve_val b, unsigned *type) {
  unsigned ta = value_block_type(t, a), tb = value_block_type(t, b);
  if (t->err) return 0;
  int seq = (ta == T_VEC || ta == T_LIST) && (tb == T_VEC || tb == T_LIST) && !t->equal_kinds;
  if (ta != tb && !seq) return 0;
  if (ta < T_MAP) return scalar_block_equal(t, a, b, ta);
  uint64_t ca, cb;
  if (eve_count(t, a, &ca) || eve_count(t, b, &cb) || ca != cb) return 0;
  if (val_hash(t, a) != val_hash(t, b)) return 0;
  *type = ta;
  return EQ_OPEN;
}

/* Inlined into val_equal: a lookup compares keys with no call in between. */
static inline __attribute__((always_inline)) int equal_shallow(eve_txn *t, eve_val a, eve_val b,
                                                               unsigned *type) {
  if (a == b) return 1;
  /* canonical immediates: an immediate equals only itself, except that the
   * empty vector and the empty list are equal sequences */
  if (!VAL_IS_BLOCK(a) || !VAL_IS_BLOCK(b))
    return (a == EVE_V_EMPTY_VECTOR || a == EVE_V_EMPTY_LIST) &&
           (b == EVE_V_EMPTY_VECTOR || b == EVE_V_EMPTY_LIST) && !t->equal_kinds;
  return blocks_equal_shallow(t, a, b, type);
}

int val_equal_shallow(eve_txn *t, eve_val a, eve_val b, unsigned *type) {
  return equal_shallow(t, a, b, type);
}

int val_equal(eve_txn *t, eve_val a, eve_val b) {
  unsigned type;
  int eq = equal_shallow(t, a, b, &type);
  if (eq == EQ_OPEN) eq = walk_equal(t, a, b, type);
  return eq && !t->err;
}

int val_same(eve_txn *t, eve_val a, eve_val b) {
  if (a == b) return 1;
  t->equal_kinds = 1;
  int same = val_equal(t, a, b);
  t->equal_kinds = 0;
  return same;
}

int eve_equal(eve_txn *t, eve_val a, eve_val b, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  *out = val_equal(t, a, b);
  return t->err;
}

/* ---- deep validation of scalar blocks (for the checker) -------------------- */

int val_check_scalar(eve_txn *t, uint64_t off) {
  const blk *b = txn_read_any(t, off);
  if (txn_status(t)) return t->err;
  switch (b->type) {
  case T_STRING: case T_KEYWORD: case T_SYMBOL: case T_BYTES: {
    val_text x = val_text_load(t, off);
    if (txn_status(t)) return t->err;
    if (x.len >= TEXT_HASHED_MIN && val_text_hash(&x) != hash_bytes(x.s, x.len, val_text_seed(b->type)))
      return EVE_ECORRUPT; /* content changed under its stored hash */
    if (b->type != T_BYTES && (x.len <= TEXT_INLINE_MAX || !utf8_valid(x.s, x.len)))
      return EVE_ECORRUPT; /* short texts are always inline; texts are UTF-8 */
    return 0;
  }
  case T_INT: {
    int64_t i = ((const blk_int *)b)->i;
    return i >= INT_IMM_MIN && i <= INT_IMM_MAX ? EVE_ECORRUPT : 0; /* must be immediate */
  }
  case T_FLOAT: {
    double f = ((const blk_float *)b)->f;
    uint64_t bits, nan = 0x7ff8000000000000ull;
    memcpy(&bits, &f, 8);
    return isnan(f) && bits != nan ? EVE_ECORRUPT : 0; /* one NaN */
  }
  default: return 0;
  }
}
