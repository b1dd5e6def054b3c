/* hash.h — hashing (hash.c): the primitives every collection keeps its
 * hash with, and the seeds that keep the types apart.  The hash of a value
 * (val_hash, value.h) is hash.c's too.
 */
#ifndef EVE_HASH_H
#define EVE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Every hash goes through hash_mask(), so a test can truncate hashes to a
 * few bits and force collisions everywhere (test hook below).
 *
 * Collections keep their raw hash up to date at construction:
 *   maps:  raw = sum over entries of hash_entry(hash(k), hash(v))
 *   sets:  raw = sum over elements of hash(x)
 *   lists, vectors: raw = sum over i of hash(x_i) * P^(n-1-i)  (mod 2^64)
 *          so conj appends with raw*P + h, cons prepends with h*P^n + raw,
 *          assoc adds (h_new - h_old) * P^(n-1-i), pop is (raw - h) * P^-1.
 * and report hash_finish(raw, count, kind) as the value's hash.  Lists and
 * vectors use the same kind, so equal sequences hash equal. */
enum hash_kind { HK_MAP = 1, HK_SET = 2, HK_SEQ = 3 };
#define HASH_P UINT64_C(0x100000001b3)        /* odd: invertible mod 2^64 */
#define HASH_P_INV UINT64_C(0xce965057aff6957b)

uint64_t hash_mix(uint64_t x);
#ifdef EVE_TEST_HOOKS
uint64_t hash_mask(uint64_t h);
#else
static inline uint64_t hash_mask(uint64_t h) { return h; } /* no test hook */
#endif
uint64_t hash_entry(uint64_t hk, uint64_t hv);
uint64_t hash_finish(uint64_t raw, uint64_t count, enum hash_kind kind);
uint64_t hash_pow(uint64_t n);      /* P^n mod 2^64  */
uint64_t hash_pow_inv(uint64_t n);  /* P^-n mod 2^64 */

/* Seeds: a value of one type never hashes like one of another by design. */
enum { SEED_NIL = 1, SEED_BOOL, SEED_INT, SEED_FLOAT, SEED_CHAR, SEED_STRING, SEED_KEYWORD,
       SEED_SYMBOL, SEED_UUID, SEED_INST, SEED_BYTES };

/* The hash of n bytes under a seed (XXH3), before hash_mask. */
uint64_t hash_bytes(const void *p, size_t n, unsigned seed);
/* The hash of a fixed-size scalar's bits under a seed, before hash_mask. */
uint64_t hash_scalar(uint64_t bits, unsigned seed);

/* Test hook: hashes keep only the bits in mask (default all).  Set it before
 * building any values; a domain built under one mask is unreadable under
 * another. */
#ifdef EVE_TEST_HOOKS /* only in the tests' build (eve_internal) */
void eve__test_set_hash_mask(uint64_t mask);
#endif

#endif
