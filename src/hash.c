/* hash.c — hashing: the primitives (hash.h) and the hash of a value.
 *
 * A scalar hashes its bits or bytes under its type's seed; a collection
 * reports the hash it keeps up to date at construction (hash.h says how),
 * which the collection modules compute: the hash of a value dispatches to
 * them, as value.c's generic operations do.  Every hash goes through
 * hash_mask, the test hook that forces collisions.
 */
#define _GNU_SOURCE
#include "hash.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "map.h"
#include "value.h"
#include "vec.h"

/* ---- the primitives ------------------------------------------------------ */

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

uint64_t hash_scalar(uint64_t bits, unsigned seed) {
  return hash_mix(bits ^ (seed * 0xd6e8feb86659fd93ull));
}

uint64_t hash_bytes(const void *p, size_t n, unsigned seed) {
  return XXH3_64bits_withSeed(p, n, seed);
}

unsigned val_text_seed(unsigned type) {
  return type == T_STRING ? SEED_STRING : type == T_KEYWORD ? SEED_KEYWORD
       : type == T_SYMBOL ? SEED_SYMBOL : SEED_BYTES;
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
    val_text x = val_text_load(t, v);
    return val_text_hash(&x);
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
  if (txn_status(t)) return t->err;
  *out = val_hash(t, v);
  return t->err;
}

