/* value.c — value words, scalars, hashing, equality, total order, and the
 * dispatch from generic operations (count, iteration, child enumeration)
 * to the collection modules. */
#define _GNU_SOURCE
#include "value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "map.h"
#include "vec.h"
#include "walk.h"

/* ---- hashing ------------------------------------------------------------ */

#ifdef EVE_TEST_HOOKS
static uint64_t g_hash_mask = ~0ull;

void eve__test_set_hash_mask(uint64_t mask) { g_hash_mask = mask; }

uint64_t hash_mask(uint64_t h) { return h & g_hash_mask; }
#endif

/* splitmix64's finaliser: a bijection, so distinct inputs stay distinct. */
uint64_t hash_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Not symmetric in k and v, so {a b} and {b a} hash apart. */
uint64_t hash_entry(uint64_t hk, uint64_t hv) {
  return hash_mix(hk ^ (hv * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
}

uint64_t hash_finish(uint64_t raw, uint64_t count, enum hash_kind kind) {
  return hash_mask(hash_mix(raw + hash_mix(count * 0x9e3779b97f4a7c15ull + kind)));
}

static uint64_t pow_u64(uint64_t b, uint64_t n) {
  uint64_t r = 1;
  while (n) {
    if (n & 1) r *= b;
    b *= b;
    n >>= 1;
  }
  return r;
}

uint64_t hash_pow(uint64_t n) { return pow_u64(HASH_P, n); }
uint64_t hash_pow_inv(uint64_t n) { return pow_u64(HASH_P_INV, n); }
_Static_assert((HASH_P * HASH_P_INV) == 1, "HASH_P_INV is the inverse of HASH_P mod 2^64");

enum { SEED_NIL = 1, SEED_BOOL, SEED_INT, SEED_FLOAT, SEED_CHAR, SEED_STRING, SEED_KEYWORD,
       SEED_SYMBOL, SEED_UUID, SEED_INST, SEED_BYTES };

static uint64_t hash_scalar(uint64_t bits, unsigned seed) {
  return hash_mix(bits ^ (seed * 0xd6e8feb86659fd93ull));
}

static uint64_t hash_bytes(const void *p, size_t n, unsigned seed) {
  return XXH3_64bits_withSeed(p, n, seed);
}

/* ---- UTF-8 --------------------------------------------------------------- */

int utf8_valid(const char *s, size_t n) {
  if (n == 0) return 1;
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    unsigned need, min;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) need = 1, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) need = 2, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) need = 3, min = 0x10000, cp = c & 0x07;
    else return 0;
    if ((size_t)(end - p) < need) return 0;
    for (unsigned i = 0; i < need; i++) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (p[i] & 0x3F);
    }
    p += need;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  }
  return 1;
}

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
  if (t->err) return t->err;
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
  if (t->err) return t->err;
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
  if (t->err) return t->err;
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
  *rc = 0;
  if (t->err) { *rc = t->err; return NULL; }
  if (!VAL_IS_BLOCK(v) || value_block_type(t, v) != type) {
    *rc = t->err ? t->err : EVE_ETYPE;
    return NULL;
  }
  return txn_read(t, v, type);
}

int eve_bool_get(eve_txn *t, eve_val v, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (t->err) return t->err;
  if (v != EVE_V_TRUE && v != EVE_V_FALSE) return EVE_ETYPE;
  *out = v == EVE_V_TRUE;
  return 0;
}

int eve_int_get(eve_txn *t, eve_val v, int64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (VAL_TAG(v) == TAG_INT) {
    *out = (int64_t)v >> 3; /* arithmetic shift restores the sign */
    return t->err;
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
  if (t->err) return t->err;
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

/* A boxed text, checked against its block's capacity. */
typedef struct text {
  const char *s;
  uint64_t len;
  const blk *b;
} text;

static text text_load(eve_txn *t, eve_val v) {
  const blk *b = txn_read_any(t, v);
  uint64_t len = b->aux, skip = len >= TEXT_HASHED_MIN ? 8 : 0;
  if (!txn_fits(t, b, sizeof(blk) + skip + len)) return (text){"", 0, &txn_dummy.h};
  return (text){(const char *)(b + 1) + skip, len, b};
}

static unsigned seed_of_type(unsigned type) {
  return type == T_STRING ? SEED_STRING : type == T_KEYWORD ? SEED_KEYWORD
       : type == T_SYMBOL ? SEED_SYMBOL : SEED_BYTES;
}

/* The hash of a boxed text: stored for long texts, computed for short. */
static uint64_t text_hash(const text *x) {
  if (x->len >= TEXT_HASHED_MIN) {
    uint64_t h;
    memcpy(&h, x->b + 1, 8);
    return h;
  }
  return hash_bytes(x->s, x->len, seed_of_type(x->b->type));
}

int eve_text_get(eve_txn *t, const eve_val *v, const char **s, size_t *n) {
  if (!t || !v || !s || !n) return EVE_EINVAL;
  if (t->err) return t->err;
  unsigned tag = VAL_TAG(*v);
  if (tag == TAG_STR || tag == TAG_KW || tag == TAG_SYM) {
    *s = (const char *)v + 1;
    *n = (*v >> 3) & 7;
    return 0;
  }
  if (!VAL_IS_BLOCK(*v)) return EVE_ETYPE;
  unsigned type = value_block_type(t, *v);
  if (type != T_STRING && type != T_KEYWORD && type != T_SYMBOL) return t->err ? t->err : EVE_ETYPE;
  text x = text_load(t, *v);
  *s = x.s;
  *n = x.len;
  return t->err;
}

int key_probe_text(eve_type type, const char *s, size_t n, key_probe *p) {
  unsigned tag, btype, seed;
  switch (type) {
  case EVE_STRING: tag = TAG_STR, btype = T_STRING, seed = SEED_STRING; break;
  case EVE_KEYWORD: tag = TAG_KW, btype = T_KEYWORD, seed = SEED_KEYWORD; break;
  case EVE_SYMBOL: tag = TAG_SYM, btype = T_SYMBOL, seed = SEED_SYMBOL; break;
  default: return EVE_EINVAL;
  }
  if ((n && !s) || (n == 0 && type != EVE_STRING) || n > TEXT_MAX || !utf8_valid(s, n))
    return EVE_EINVAL;
  *p = (key_probe){0};
  if (n <= TEXT_INLINE_MAX) { /* canonical: the stored key is this very word */
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

uint64_t key_probe_hash(eve_txn *t, const key_probe *p) {
  return p->s ? p->hash : val_hash(t, p->word);
}

int key_probe_equal(eve_txn *t, eve_val stored, const key_probe *p) {
  if (!p->s) return val_equal(t, stored, p->word);
  if (!VAL_IS_BLOCK(stored) || value_block_type(t, stored) != p->type) return 0;
  text x = text_load(t, stored);
  return x.len == p->n && memcmp(x.s, p->s, p->n) == 0;
}

int eve_bytes_get(eve_txn *t, const eve_val *v, const uint8_t **p, size_t *n) {
  if (!t || !v || !p || !n) return EVE_EINVAL;
  int rc;
  if (!typed_block(t, *v, T_BYTES, &rc)) return rc;
  text x = text_load(t, *v);
  *p = (const uint8_t *)x.s;
  *n = x.len;
  return t->err;
}

/* ---- hashing of values -------------------------------------------------------- */

/* The hash seed of an inline text, by tag (the same as its boxed type's). */
static unsigned text_seed(unsigned tag) {
  return tag == TAG_STR ? SEED_STRING : tag == TAG_KW ? SEED_KEYWORD : SEED_SYMBOL;
}

/* depth (may be NULL): also the value's depth bound, from the same read.
 * Inlined into val_hash and val_hash_depth, so a lookup's hash pays
 * nothing for it. */
static inline __attribute__((always_inline)) uint64_t hash_block(eve_txn *t, eve_val v,
                                                                 uint32_t *depth) {
  const blk *b = txn_read_any(t, v);
  if (depth) *depth = blk_is_coll_root(b->type) ? root_depth(b) : 0;
  switch (b->type) {
  case T_INT: return hash_scalar((uint64_t)((const blk_int *)b)->i, SEED_INT);
  case T_FLOAT: {
    uint64_t bits;
    memcpy(&bits, &((const blk_float *)b)->f, 8);
    return hash_scalar(bits, SEED_FLOAT);
  }
  case T_STRING: case T_KEYWORD: case T_SYMBOL: case T_BYTES: {
    text x = text_load(t, v);
    return text_hash(&x);
  }
  case T_UUID: return hash_bytes(((const blk_uuid *)b)->b, 16, SEED_UUID);
  case T_INST: return hash_scalar((uint64_t)((const blk_inst *)b)->ms, SEED_INST);
  case T_MAP: return map_hash(t, v);
  case T_SET: return set_hash(t, v);
  case T_VEC: return vec_hash(t, v);
  case T_LIST: return list_hash(t, v);
  default: txn_fail(t, EVE_ECORRUPT); return 0;
  }
}

static inline __attribute__((always_inline)) uint64_t hash_value(eve_txn *t, eve_val v,
                                                                 uint32_t *depth) {
  if (depth && !VAL_IS_BLOCK(v)) *depth = val_depth(t, v); /* no read */
  uint64_t h;
  switch (VAL_TAG(v)) {
  case TAG_PTR: h = v ? hash_block(t, v, depth) : hash_scalar(0, SEED_NIL); break;
  case TAG_INT: h = hash_scalar((uint64_t)((int64_t)v >> 3), SEED_INT); break;
  case TAG_STR: case TAG_KW: case TAG_SYM:
    h = hash_bytes((const char *)&v + 1, (v >> 3) & 7, text_seed(VAL_TAG(v)));
    break;
  default:
    switch ((v >> 3) & 31) {
    case SK_CHAR: h = hash_scalar(v >> 8, SEED_CHAR); break;
    case SK_EMPTY_MAP: h = hash_finish(0, 0, HK_MAP); break;
    case SK_EMPTY_SET: h = hash_finish(0, 0, HK_SET); break;
    case SK_EMPTY_VEC: case SK_EMPTY_LIST: h = hash_finish(0, 0, HK_SEQ); break;
    default: h = hash_scalar(v, SEED_BOOL); break;
    }
  }
  return hash_mask(h);
}

uint64_t val_hash(eve_txn *t, eve_val v) { return hash_value(t, v, NULL); }

uint64_t val_hash_depth(eve_txn *t, eve_val v, uint32_t *depth) {
  return hash_value(t, v, depth);
}

int eve_hash(eve_txn *t, eve_val v, uint64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (t->err) return t->err;
  *out = val_hash(t, v);
  return t->err;
}

/* ---- collections: generic count and iteration ------------------------------- */

static int is_empty_coll(eve_val v) {
  return v == EVE_V_EMPTY_MAP || v == EVE_V_EMPTY_SET || v == EVE_V_EMPTY_VECTOR ||
         v == EVE_V_EMPTY_LIST;
}

int eve_count(eve_txn *t, eve_val coll, uint64_t *out) {
  if (!t || !out) return EVE_EINVAL;
  if (t->err) return t->err;
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

int eve_iter_init(eve_txn *t, eve_val coll, eve_iter *it) {
  if (!t || !it) return EVE_EINVAL;
  memset(it, 0, sizeof *it);
  it->txn = t;
  it->coll = coll;
  if (t->err) return t->err;
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

int eve_iter_next(eve_iter *it, eve_val *key, eve_val *val) {
  if (!it || !it->txn) return EVE_EINVAL;
  eve_txn *t = it->txn;
  if (t->err) return t->err;
  eve_val k = EVE_V_NIL, v = EVE_V_NIL;
  int rc;
  switch (it->kind) {
  case T_MAP: rc = map_iter_next(it, &k, &v); break;
  case T_SET: rc = set_iter_next(it, &k); break;
  case T_VEC: rc = vec_iter_next(it, &k); break;
  case T_LIST: rc = list_iter_next(it, &k); break;
  default: return EVE_END;
  }
  if (t->err) return t->err;
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
    text p = text_load(t, a), q = text_load(t, b);
    if (p.len != q.len) return 0;
    if (p.len >= TEXT_HASHED_MIN && text_hash(&p) != text_hash(&q)) return 0;
    return memcmp(p.s, q.s, p.len) == 0;
  }
  }
}

/* Two blocks: scalars compare here; collections of one kind (vectors and
 * lists are one) with equal counts and hashes are left open. */
static int blocks_equal_shallow(eve_txn *t, eve_val a, eve_val b, unsigned *type) {
  unsigned ta = value_block_type(t, a), tb = value_block_type(t, b);
  if (t->err) return 0;
  int seq = (ta == T_VEC || ta == T_LIST) && (tb == T_VEC || tb == T_LIST);
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
           (b == EVE_V_EMPTY_VECTOR || b == EVE_V_EMPTY_LIST);
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

int eve_equal(eve_txn *t, eve_val a, eve_val b, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (t->err) return t->err;
  *out = val_equal(t, a, b);
  return t->err;
}

/* ---- total order --------------------------------------------------------------- */

/* Rank of each type in the order; ints and floats share one rank. */
static int type_rank(eve_type ty) {
  switch (ty) {
  case EVE_NIL: return 0;
  case EVE_BOOL: return 1;
  case EVE_INT: case EVE_FLOAT: return 2;
  case EVE_CHAR: return 3;
  case EVE_STRING: return 4;
  case EVE_KEYWORD: return 5;
  case EVE_SYMBOL: return 6;
  case EVE_UUID: return 7;
  case EVE_INST: return 8;
  case EVE_BYTES: return 9;
  case EVE_LIST: case EVE_VECTOR: return 10;
  case EVE_SET: return 11;
  case EVE_MAP: return 12;
  }
  return 13;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* Floats: -Inf < ... < -0.0 < 0.0 < ... < +Inf < NaN (a total order). */
static int cmp_double(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
  if (a != b) return a < b ? -1 : 1;
  return signbit(b) - signbit(a); /* -0.0 before 0.0 */
}

/* An int and a float, exactly (no rounding through double): numerically,
 * and an int before an equal float. */
static int cmp_int_double(int64_t i, double f) {
  if (isnan(f)) return -1;
  if (f < -9223372036854775808.0) return 1;
  if (f >= 9223372036854775808.0) return -1;
  double tr = trunc(f);
  int64_t fi = (int64_t)tr;
  if (i != fi) return i < fi ? -1 : 1;
  if (f > tr) return -1;
  if (f < tr) return 1;
  return -1;
}

static int cmp_numbers(eve_txn *t, eve_val a, eve_val b, eve_type ta, eve_type tb) {
  int64_t i, j;
  double f, g;
  if (ta == EVE_INT && tb == EVE_INT) {
    eve_int_get(t, a, &i);
    eve_int_get(t, b, &j);
    return cmp_i64(i, j);
  }
  if (ta == EVE_FLOAT && tb == EVE_FLOAT) {
    eve_float_get(t, a, &f);
    eve_float_get(t, b, &g);
    return cmp_double(f, g);
  }
  if (ta == EVE_INT) {
    eve_int_get(t, a, &i);
    eve_float_get(t, b, &g);
    return cmp_int_double(i, g);
  }
  return -cmp_numbers(t, b, a, tb, ta);
}

static int cmp_bytes(const void *p, size_t n, const void *q, size_t m) {
  int c = memcmp(p, q, n < m ? n : m);
  return c ? (c > 0) - (c < 0) : cmp_u64(n, m);
}

static int cmp_text(eve_txn *t, eve_val a, eve_val b) {
  const char *p, *q;
  size_t n, m;
  if (eve_text_get(t, &a, &p, &n) || eve_text_get(t, &b, &q, &m)) return 0;
  return cmp_bytes(p, n, q, m);
}

static int cmp_same_rank(eve_txn *t, eve_val a, eve_val b, eve_type ta, eve_type tb) {
  switch (ta) {
  case EVE_NIL: return 0;
  case EVE_BOOL: return (a == EVE_V_TRUE) - (b == EVE_V_TRUE);
  case EVE_INT: case EVE_FLOAT: return cmp_numbers(t, a, b, ta, tb);
  case EVE_CHAR: return cmp_u64(a >> 8, b >> 8);
  case EVE_STRING: case EVE_KEYWORD: case EVE_SYMBOL: return cmp_text(t, a, b);
  case EVE_UUID: {
    uint8_t x[16], y[16];
    if (eve_uuid_get(t, a, x) || eve_uuid_get(t, b, y)) return 0;
    return cmp_bytes(x, 16, y, 16);
  }
  case EVE_INST: {
    int64_t x, y;
    if (eve_inst_get(t, a, &x) || eve_inst_get(t, b, &y)) return 0;
    return cmp_i64(x, y);
  }
  case EVE_BYTES: {
    const uint8_t *p, *q;
    size_t n, m;
    if (eve_bytes_get(t, &a, &p, &n) || eve_bytes_get(t, &b, &q, &m)) return 0;
    return cmp_bytes(p, n, q, m);
  }
  default: return 0; /* collections: val_compare_shallow */
  }
}

/* Sets and maps are ordered by count, then by their entries in sorted
 * order (walk.c); equal ones compare 0 before any of that. */
static int unordered_shallow(eve_txn *t, eve_val a, eve_val b, int *c) {
  uint64_t n, m;
  if (eve_count(t, a, &n) || eve_count(t, b, &m)) return 1;
  if (n != m) {
    *c = cmp_u64(n, m);
    return 1;
  }
  return val_equal(t, a, b);
}

int val_compare_shallow(eve_txn *t, eve_val a, eve_val b, int *c, eve_type *type) {
  *c = 0;
  if (a == b || t->err) return 1;
  eve_type ta = val_type(t, a), tb = val_type(t, b);
  int ra = type_rank(ta), rb = type_rank(tb);
  if (ra != rb) {
    *c = ra < rb ? -1 : 1;
    return 1;
  }
  *type = ta;
  switch (ta) {
  case EVE_LIST: case EVE_VECTOR: return 0; /* element by element */
  case EVE_SET: case EVE_MAP: return unordered_shallow(t, a, b, c);
  default: *c = cmp_same_rank(t, a, b, ta, tb); return 1;
  }
}

int val_compare(eve_txn *t, eve_val a, eve_val b) {
  int c;
  eve_type type;
  if (val_compare_shallow(t, a, b, &c, &type)) return c;
  return walk_compare(t, a, b, type);
}

int eve_compare(eve_txn *t, eve_val a, eve_val b, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (t->err) return t->err;
  *out = val_compare(t, a, b);
  return t->err;
}

/* ---- deep validation of scalar blocks (for the checker) -------------------- */

int val_check_scalar(eve_txn *t, uint64_t off) {
  const blk *b = txn_read_any(t, off);
  if (t->err) return t->err;
  switch (b->type) {
  case T_STRING: case T_KEYWORD: case T_SYMBOL: case T_BYTES: {
    text x = text_load(t, off);
    if (t->err) return t->err;
    if (x.len >= TEXT_HASHED_MIN && text_hash(&x) != hash_bytes(x.s, x.len, seed_of_type(b->type)))
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
