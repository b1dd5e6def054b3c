/* test_vec.c — persistent vectors: unit tests at every size boundary and a
 * model-based randomised test against a plain C array. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "txn.h"
#include "value.h"

/* ---- helpers ------------------------------------------------------------ */

static eve_val ival(eve_txn *t, int64_t i) {
  eve_val v;
  EVE_OK(eve_int(t, i, &v));
  return v;
}

/* A random value of a random type: immediates, boxed scalars, and boxed
 * strings drawn from few texts so that equal values with different words
 * occur (assoc must treat them as "no change"). */
static eve_val rand_val(eve_txn *t, uint64_t *rng) {
  eve_val v = EVE_V_NIL;
  char buf[64];
  uint64_t r = t_rand(rng);
  switch (r % 10) {
  case 0: EVE_OK(eve_int(t, (int64_t)(r >> 8) % 1000 - 500, &v)); break;
  case 1: EVE_OK(eve_int(t, INT64_MAX - (int64_t)(r >> 40), &v)); break; /* boxed */
  case 2: {
    int n = snprintf(buf, sizeof buf, "s%u", (unsigned)(r >> 16) % 1000);
    EVE_OK(eve_string(t, buf, (size_t)n, &v));
    break;
  }
  case 3: {
    int n = snprintf(buf, sizeof buf, "a longer string, number %u", (unsigned)(r >> 16) % 40);
    EVE_OK(eve_string(t, buf, (size_t)n, &v));
    break;
  }
  case 4: {
    int n = snprintf(buf, sizeof buf, "ns/keyword-%u", (unsigned)(r >> 16) % 100);
    EVE_OK(eve_keyword(t, buf, (size_t)n, &v));
    break;
  }
  case 5: EVE_OK(eve_float(t, (double)(r >> 11) / 1024.0, &v)); break;
  case 6: EVE_OK(eve_char((uint32_t)(r >> 16) % 0xD000, &v)); break;
  case 7: v = (r >> 8) & 1 ? EVE_V_TRUE : EVE_V_FALSE; break;
  case 8: v = (r >> 8) & 1 ? EVE_V_NIL : EVE_V_EMPTY_MAP; break;
  default: { /* a small nested vector */
    v = EVE_V_EMPTY_VECTOR;
    for (unsigned k = (unsigned)(r >> 8) % 4; k; k--) EVE_OK(eve_vec_conj(t, v, ival(t, k), &v));
  }
  }
  return v;
}

static uint64_t count_of(eve_txn *t, eve_val v) {
  uint64_t n;
  EVE_OK(eve_count(t, v, &n));
  return n;
}

static eve_val nth(eve_txn *t, eve_val v, uint64_t i) {
  eve_val x;
  EVE_OK(eve_vec_nth(t, v, i, &x));
  return x;
}

static eve_val vec_of(eve_txn *t, const eve_val *xs, uint64_t n) {
  eve_val v = EVE_V_EMPTY_VECTOR;
  for (uint64_t i = 0; i < n; i++) EVE_OK(eve_vec_conj(t, v, xs[i], &v));
  return v;
}

static eve_val list_of(eve_txn *t, const eve_val *xs, uint64_t n) {
  eve_val l = EVE_V_EMPTY_LIST;
  for (uint64_t i = n; i-- > 0;) EVE_OK(eve_list_cons(t, xs[i], l, &l));
  return l;
}

static uint64_t hash_of(eve_txn *t, eve_val v) {
  uint64_t h;
  EVE_OK(eve_hash(t, v, &h));
  return h;
}

/* The hash a sequence of these elements must have, from the definition. */
static uint64_t seq_hash(eve_txn *t, const eve_val *xs, uint64_t n) {
  uint64_t raw = 0;
  for (uint64_t i = 0; i < n; i++) raw = raw * HASH_P + val_hash(t, xs[i]);
  return hash_finish(raw, n, HK_SEQ);
}

/* The root block's shift (aux's low byte), to check the trie's depth. */
static unsigned shift_of(eve_txn *t, eve_val v) {
  const blk *b = txn_read(t, v, T_VEC);
  cr_assert_eq(eve_txn_error(t), 0);
  return b->aux & DEPTH_TYPE_MASK;
}

/* The canonical shift of an n-element vector: the smallest whose trie holds
 * the n - (tail) elements, 2^(shift+5) of them. */
static unsigned expected_shift(uint64_t n) {
  uint64_t tailoff = n ? (n - 1) & ~31ull : 0;
  unsigned s = 5;
  while (tailoff > (1ull << (s + 5))) s += 5;
  return s;
}

/* v holds exactly xs[0..n): count, every nth, iteration, nth(n) fails. */
static void check_vec(eve_txn *t, eve_val v, const eve_val *xs, uint64_t n, uint64_t seed) {
  cr_assert_eq(count_of(t, v), n, "seed %#llx: count", (unsigned long long)seed);
  if (n == 0) cr_assert_eq(v, EVE_V_EMPTY_VECTOR, "seed %#llx: empty is the immediate",
                           (unsigned long long)seed);
  else cr_assert_eq(shift_of(t, v), expected_shift(n), "seed %#llx: canonical shift for %llu",
                    (unsigned long long)seed, (unsigned long long)n);
  eve_iter it;
  EVE_OK(eve_iter_init(t, v, &it));
  eve_val x, y;
  for (uint64_t i = 0; i < n; i++) {
    EVE_OK(eve_iter_next(&it, &x, &y));
    cr_assert_eq(x, xs[i], "seed %#llx: element %llu of %llu by iteration",
                 (unsigned long long)seed, (unsigned long long)i, (unsigned long long)n);
    cr_assert_eq(y, EVE_V_NIL);
  }
  EVE_ERR(eve_iter_next(&it, &x, &y), EVE_END);
  eve_val z;
  EVE_ERR(eve_vec_nth(t, v, n, &z), EVE_ERANGE);
  cr_assert_eq(hash_of(t, v), seq_hash(t, xs, n), "seed %#llx: hash of %llu elements",
               (unsigned long long)seed, (unsigned long long)n);
}

/* ---- empty, nil, wrong types, read transactions ------------------------- */

Test(vec, empty_and_nil) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val x = ival(t, 7), v;
  for (int k = 0; k < 2; k++) {
    eve_val e = k ? EVE_V_NIL : EVE_V_EMPTY_VECTOR;
    EVE_ERR(eve_vec_nth(t, e, 0, &v), EVE_ERANGE);
    EVE_ERR(eve_vec_pop(t, e, &v), EVE_ERANGE);
    EVE_ERR(eve_vec_assoc(t, e, 1, x, &v), EVE_ERANGE);
    EVE_ERR(eve_vec_slice(t, e, 0, 1, &v), EVE_ERANGE);
    EVE_ERR(eve_vec_slice(t, e, 1, 0, &v), EVE_ERANGE);
    EVE_OK(eve_vec_slice(t, e, 0, 0, &v));
    cr_assert_eq(v, EVE_V_EMPTY_VECTOR);
    EVE_OK(eve_vec_conj(t, e, x, &v));
    cr_assert_eq(count_of(t, v), 1);
    cr_assert_eq(nth(t, v, 0), x);
    eve_type ty;
    EVE_OK(eve_type_get(t, v, &ty));
    cr_assert_eq(ty, EVE_VECTOR);
    EVE_OK(eve_vec_assoc(t, e, 0, x, &v));
    cr_assert_eq(count_of(t, v), 1);
    cr_assert_eq(nth(t, v, 0), x);
    EVE_OK(eve_vec_pop(t, v, &v));
    cr_assert_eq(v, EVE_V_EMPTY_VECTOR, "popping the last element gives the immediate");
  }
  cr_assert_eq(count_of(t, EVE_V_EMPTY_VECTOR), 0);
  eve_iter it;
  eve_val k, val;
  EVE_OK(eve_iter_init(t, EVE_V_EMPTY_VECTOR, &it));
  EVE_ERR(eve_iter_next(&it, &k, &val), EVE_END);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, wrong_types) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val s, l, big, out;
  EVE_OK(eve_string(t, "long enough to be a block", 25, &s));
  EVE_OK(eve_int(t, INT64_MAX, &big));
  EVE_OK(eve_list_cons(t, ival(t, 1), EVE_V_EMPTY_LIST, &l));
  eve_val bad[] = {ival(t, 3), EVE_V_TRUE, EVE_V_EMPTY_MAP, EVE_V_EMPTY_SET, EVE_V_EMPTY_LIST,
                   s, big, l};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    EVE_ERR(eve_vec_nth(t, bad[k], 0, &out), EVE_ETYPE);
    EVE_ERR(eve_vec_conj(t, bad[k], s, &out), EVE_ETYPE);
    EVE_ERR(eve_vec_assoc(t, bad[k], 0, s, &out), EVE_ETYPE);
    EVE_ERR(eve_vec_pop(t, bad[k], &out), EVE_ETYPE);
    EVE_ERR(eve_vec_slice(t, bad[k], 0, 0, &out), EVE_ETYPE);
  }
  cr_assert_eq(eve_txn_error(t), 0, "a wrong type is not a sticky error");
  EVE_ERR(eve_vec_nth(NULL, EVE_V_EMPTY_VECTOR, 0, &out), EVE_EINVAL);
  EVE_ERR(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, s, NULL), EVE_EINVAL);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, read_txn_refuses_updates) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val xs[40], v, out;
  for (int i = 0; i < 40; i++) xs[i] = ival(t, i);
  v = vec_of(t, xs, 40);
  t_publish(d, t, "v", v);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  v = t_deref(d, t, "v");
  check_vec(t, v, xs, 40, 0);
  EVE_ERR(eve_vec_conj(t, v, xs[0], &out), EVE_ETXN);
  EVE_ERR(eve_vec_assoc(t, v, 0, xs[1], &out), EVE_ETXN);
  EVE_ERR(eve_vec_pop(t, v, &out), EVE_ETXN);
  EVE_ERR(eve_vec_slice(t, v, 1, 2, &out), EVE_ETXN);
  EVE_ERR(eve_vec_conj(t, EVE_V_NIL, xs[0], &out), EVE_ETXN);
  cr_assert_eq(nth(t, v, 39), xs[39], "reads still work");
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* ---- size boundaries ---------------------------------------------------- */

/* Sizes where the shape changes: tail full, first leaf in the trie, root
 * full at shift 5 (1056 = 32*32 + 32), at shift 10 (32^3 + 32). */
static const uint64_t boundaries[] = {1, 2, 31, 32, 33, 63, 64, 65, 1055, 1056, 1057, 1088, 1089,
                                      32799, 32800, 32801, 32832, 32833};

Test(vec, conj_pop_across_boundaries, .timeout = 120) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  const uint64_t n = 32833;
  eve_val *xs = malloc(n * sizeof *xs);
  eve_val *vs = malloc((n + 1) * sizeof *vs); /* every version */
  vs[0] = EVE_V_EMPTY_VECTOR;
  for (uint64_t i = 0; i < n; i++) {
    xs[i] = ival(t, (int64_t)i * 3 - 1000);
    EVE_OK(eve_vec_conj(t, vs[i], xs[i], &vs[i + 1]));
  }
  for (size_t b = 0; b < sizeof boundaries / sizeof boundaries[0]; b++) {
    uint64_t k = boundaries[b];
    eve_val v = vs[k], z;
    cr_assert_eq(count_of(t, v), k);
    cr_assert_eq(nth(t, v, 0), xs[0]);
    cr_assert_eq(nth(t, v, k - 1), xs[k - 1], "last of %llu", (unsigned long long)k);
    EVE_ERR(eve_vec_nth(t, v, k, &z), EVE_ERANGE);
    EVE_ERR(eve_vec_nth(t, v, UINT64_MAX, &z), EVE_ERANGE);
    cr_assert_eq(shift_of(t, v), expected_shift(k), "shift at %llu", (unsigned long long)k);
    for (uint64_t i = k >= 40 ? k - 40 : 0; i < k; i++) cr_assert_eq(nth(t, v, i), xs[i]);
  }
  cr_assert_eq(shift_of(t, vs[1056]), 5);
  cr_assert_eq(shift_of(t, vs[1057]), 10, "root overflow adds a level");
  cr_assert_eq(shift_of(t, vs[32800]), 10);
  cr_assert_eq(shift_of(t, vs[32801]), 15);
  check_vec(t, vs[n], xs, n, 0);
  check_vec(t, vs[32801], xs, 32801, 0);
  check_vec(t, vs[1057], xs, 1057, 0);

  /* Pop all the way down: each result equals the conj-built version of
   * the same size (hash, shape, elements). */
  eve_val v = vs[n];
  for (uint64_t k = n; k > 0; k--) {
    EVE_OK(eve_vec_pop(t, v, &v));
    if (k - 1 == 0) break;
    cr_assert_eq(count_of(t, v), k - 1);
    cr_assert_eq(nth(t, v, k - 2), xs[k - 2]);
    cr_assert_eq(shift_of(t, v), expected_shift(k - 1), "shift after pop to %llu",
                 (unsigned long long)(k - 1));
    cr_assert_eq(hash_of(t, v), hash_of(t, vs[k - 1]), "hash after pop to %llu",
                 (unsigned long long)(k - 1));
  }
  cr_assert_eq(v, EVE_V_EMPTY_VECTOR);
  /* Old versions are untouched by all of that. */
  check_vec(t, vs[n], xs, n, 0);
  check_vec(t, vs[33], xs, 33, 0);
  free(xs);
  free(vs);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, assoc_at_boundaries) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  const uint64_t n = 32833;
  eve_val *xs = malloc((n + 1) * sizeof *xs);
  eve_val v = EVE_V_EMPTY_VECTOR, w, z, y = ival(t, -1);
  for (uint64_t i = 0; i < n; i++) {
    xs[i] = ival(t, (int64_t)i);
    EVE_OK(eve_vec_conj(t, v, xs[i], &v));
  }
  /* Replace the first and first-past value at every boundary. */
  for (size_t b = 0; b < sizeof boundaries / sizeof boundaries[0]; b++) {
    for (uint64_t i = boundaries[b] - 1; i <= boundaries[b] && i < n; i++) {
      EVE_OK(eve_vec_assoc(t, v, i, y, &w));
      cr_assert_neq(w, v);
      cr_assert_eq(count_of(t, w), n);
      cr_assert_eq(nth(t, w, i), y);
      if (i) cr_assert_eq(nth(t, w, i - 1), xs[i - 1]);
      if (i + 1 < n) cr_assert_eq(nth(t, w, i + 1), xs[i + 1]);
      cr_assert_eq(nth(t, v, i), xs[i], "the old version is unchanged");
      xs[i] = y;
      cr_assert_eq(hash_of(t, w), seq_hash(t, xs, n), "incremental hash after assoc %llu",
                   (unsigned long long)i);
      /* and back again gives the original hash */
      xs[i] = ival(t, (int64_t)i);
      EVE_OK(eve_vec_assoc(t, w, i, xs[i], &z));
      cr_assert_eq(hash_of(t, z), hash_of(t, v));
    }
  }
  /* assoc at count appends; past it is out of range. */
  EVE_OK(eve_vec_assoc(t, v, n, y, &w));
  cr_assert_eq(count_of(t, w), n + 1);
  cr_assert_eq(nth(t, w, n), y);
  EVE_ERR(eve_vec_assoc(t, v, n + 1, y, &z), EVE_ERANGE);
  EVE_ERR(eve_vec_assoc(t, v, UINT64_MAX, y, &z), EVE_ERANGE);
  free(xs);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, assoc_of_equal_value_is_free) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  const char *text = "a text long enough to live in a block";
  eve_val a, b, v = EVE_V_EMPTY_VECTOR, w;
  EVE_OK(eve_string(t, text, strlen(text), &a));
  EVE_OK(eve_string(t, text, strlen(text), &b));
  for (int i = 0; i < 100; i++) EVE_OK(eve_vec_conj(t, v, i == 50 || i == 99 ? a : ival(t, i), &v));
  size_t before = t->nfresh;
  EVE_OK(eve_vec_assoc(t, v, 3, ival(t, 3), &w));
  cr_assert_eq(w, v, "same word: same vector");
  if (a != b) { /* an equal value in another block: still no change */
    EVE_OK(eve_vec_assoc(t, v, 50, b, &w));
    cr_assert_eq(w, v);
    EVE_OK(eve_vec_assoc(t, v, 99, b, &w));
    cr_assert_eq(w, v);
  }
  cr_assert_eq(t->nfresh, before, "nothing allocated");
  EVE_OK(eve_vec_slice(t, v, 0, 100, &w));
  cr_assert_eq(w, v, "the whole slice is the vector itself");
  cr_assert_eq(t->nfresh, before, "nothing allocated");
  EVE_OK(eve_vec_assoc(t, v, 50, ival(t, 50), &w));
  cr_assert_neq(w, v);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, persistence) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val xs[2000], v1, v2, v3, v4, v5, y = ival(t, -5);
  for (int i = 0; i < 2000; i++) xs[i] = ival(t, i);
  v1 = vec_of(t, xs, 1100);
  EVE_OK(eve_vec_conj(t, v1, y, &v2));
  EVE_OK(eve_vec_assoc(t, v1, 10, y, &v3));
  EVE_OK(eve_vec_pop(t, v1, &v4));
  EVE_OK(eve_vec_slice(t, v1, 3, 1000, &v5));
  check_vec(t, v1, xs, 1100, 0);
  check_vec(t, v4, xs, 1099, 0);
  check_vec(t, v5, xs + 3, 997, 0);
  xs[1100] = y;
  check_vec(t, v2, xs, 1101, 0);
  xs[10] = y;
  check_vec(t, v3, xs, 1100, 0);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* ---- slices ------------------------------------------------------------- */

Test(vec, slice_edges, .timeout = 120) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  const uint64_t n = 1200;
  eve_val xs[1200], v, s, z;
  uint64_t rng = t_seed(0x511ce);
  for (uint64_t i = 0; i < n; i++) xs[i] = rand_val(t, &rng);
  v = vec_of(t, xs, n);
  EVE_ERR(eve_vec_slice(t, v, 5, 4, &z), EVE_ERANGE);
  EVE_ERR(eve_vec_slice(t, v, 0, n + 1, &z), EVE_ERANGE);
  EVE_ERR(eve_vec_slice(t, v, n + 1, n + 1, &z), EVE_ERANGE);
  EVE_OK(eve_vec_slice(t, v, n, n, &s));
  cr_assert_eq(s, EVE_V_EMPTY_VECTOR);
  EVE_OK(eve_vec_slice(t, v, 17, 17, &s));
  cr_assert_eq(s, EVE_V_EMPTY_VECTOR);
  /* Every aligned and unaligned start, ends around every boundary. */
  const uint64_t froms[] = {0, 1, 31, 32, 33, 64, 100, 143, 160, 1023, 1024, 1056, 1199};
  const uint64_t lens[] = {1, 2, 31, 32, 33, 64, 65, 1024, 1025, 1056, 1057};
  for (size_t a = 0; a < sizeof froms / sizeof froms[0]; a++)
    for (size_t b = 0; b < sizeof lens / sizeof lens[0]; b++) {
      uint64_t from = froms[a], to = from + lens[b];
      if (to > n) to = n;
      if (to <= from) continue;
      EVE_OK(eve_vec_slice(t, v, from, to, &s));
      check_vec(t, s, xs + from, to - from, rng);
      cr_assert_eq(shift_of(t, s), expected_shift(to - from));
      /* a slice hashes like the same vector built by conj */
      cr_assert_eq(hash_of(t, s), hash_of(t, vec_of(t, xs + from, to - from)));
      /* and can be updated like any vector */
      EVE_OK(eve_vec_conj(t, s, xs[0], &z));
      cr_assert_eq(nth(t, z, to - from), xs[0]);
      EVE_OK(eve_vec_pop(t, s, &z));
      if (to - from > 1) cr_assert_eq(count_of(t, z), to - from - 1);
    }
  /* a slice of a slice */
  EVE_OK(eve_vec_slice(t, v, 40, 1150, &s));
  EVE_OK(eve_vec_slice(t, s, 33, 1100, &s));
  check_vec(t, s, xs + 73, 1067, rng);
  check_vec(t, v, xs, n, rng);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* ---- hashing and equality against lists --------------------------------- */

Test(vec, hash_and_equality_match_lists) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = t_seed(0x4a54);
  const uint64_t sizes[] = {0, 1, 2, 5, 32, 33, 100, 1056, 1057, 1500};
  eve_val xs[1500];
  for (int i = 0; i < 1500; i++) xs[i] = rand_val(t, &rng);
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint64_t n = sizes[k];
    eve_val v = vec_of(t, xs, n), l = list_of(t, xs, n);
    cr_assert_eq(hash_of(t, v), hash_of(t, l), "vector and list of %llu", (unsigned long long)n);
    cr_assert_eq(hash_of(t, v), seq_hash(t, xs, n));
    int eq = 0;
    EVE_OK(eve_equal(t, v, l, &eq));
    cr_assert(eq, "vector equals list of %llu", (unsigned long long)n);
    EVE_OK(eve_equal(t, l, v, &eq));
    cr_assert(eq);
    if (n) {
      eve_val w;
      EVE_OK(eve_vec_assoc(t, v, n - 1, ival(t, 123456), &w));
      EVE_OK(eve_equal(t, w, l, &eq));
      cr_assert(!eq || xs[n - 1] == ival(t, 123456));
      EVE_OK(eve_vec_pop(t, v, &w));
      EVE_OK(eve_equal(t, w, l, &eq));
      cr_assert(!eq);
    }
  }
  /* a vector nested in a vector hashes by content too */
  eve_val a = vec_of(t, xs, 40), b = vec_of(t, xs, 40), va, vb;
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, a, &va));
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, b, &vb));
  cr_assert_eq(hash_of(t, va), hash_of(t, vb));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(vec, incremental_hash_equals_fresh_build) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = t_seed(0x1a5);
  eve_val xs[1100], v;
  for (int i = 0; i < 1100; i++) xs[i] = rand_val(t, &rng);
  v = vec_of(t, xs, 1100);
  for (int step = 0; step < 300; step++) {
    uint64_t n = count_of(t, v);
    if (n && step % 3 == 0) {
      EVE_OK(eve_vec_pop(t, v, &v));
      n--;
    } else {
      uint64_t i = t_below(&rng, n + 1);
      eve_val x = rand_val(t, &rng), w;
      EVE_OK(eve_vec_assoc(t, v, i, x, &w));
      if (w != v) xs[i] = x; /* unchanged when x equals the old value */
      v = w;
      if (i == n) n++;
    }
    cr_assert_eq(hash_of(t, v), hash_of(t, vec_of(t, xs, n)), "step %d", step);
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* ---- the end of a txn keeps exactly what its atoms reach ----------------- */

Test(vec, abort_keeps_the_published_vector_and_frees_the_rest) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = t_seed(0xc0);
  const uint64_t n = 5000;
  eve_val *xs = malloc(n * sizeof *xs), v = EVE_V_EMPTY_VECTOR;
  for (uint64_t i = 0; i < n; i++) {
    xs[i] = rand_val(t, &rng);
    EVE_OK(eve_vec_conj(t, v, xs[i], &v));
  }
  t_publish(d, t, "v", v);
  EVE_OK(eve_txn_end(t)); /* frees every intermediate version */
  t_assert_exact(d, "after the build");
  t = t_wtxn(d);
  /* New allocations reuse the freed blocks; the published vector must not
   * be among them. */
  eve_val w = EVE_V_EMPTY_VECTOR;
  for (uint64_t i = 0; i < n; i++) EVE_OK(eve_vec_conj(t, w, ival(t, -(int64_t)i), &w));
  v = t_deref(d, t, "v");
  check_vec(t, v, xs, n, rng);
  free(xs);
  EVE_OK(eve_txn_end(t));
  t_assert_exact(d, "after the churn");
  EVE_OK(eve_close(d));
}

/* ---- corrupt blocks end in EVE_ECORRUPT, never a hang or a crash -------- */

/* Mirror of the documented T_VEC layout (vec.c). */
typedef struct raw_vec { blk h; uint64_t count, hash, root, tail; } raw_vec;

static eve_val raw_root(eve_txn *t, unsigned shift, uint64_t count, uint64_t root, uint64_t tail) {
  uint64_t off;
  raw_vec *r = txn_alloc(t, sizeof *r, T_VEC, &off);
  cr_assert_not_null(r);
  r->h.aux = shift;
  r->count = count;
  r->hash = 0;
  r->root = root;
  r->tail = tail;
  return off;
}

static uint64_t raw_slots(eve_txn *t, unsigned type, unsigned n, const uint64_t *w) {
  uint64_t off;
  blk *b = txn_alloc(t, sizeof(blk) + 8u * n, type, &off);
  cr_assert_not_null(b);
  b->aux = n;
  memcpy(b + 1, w, 8u * n);
  return off;
}

Test(vec, corrupt_blocks_are_reported) {
  eve_domain *d = t_open_mem();
  for (int c = 0; c < 8; c++) {
    eve_txn *t = t_wtxn(d);
    uint64_t w[32];
    for (int i = 0; i < 32; i++) w[i] = ival(t, i);
    uint64_t leaf = raw_slots(t, T_VEC_LEAF, 32, w), tail = raw_slots(t, T_VEC_LEAF, 1, w);
    uint64_t node, self;
    eve_val v = 0, x;
    switch (c) {
    case 0: v = raw_root(t, 65, 33, leaf, tail); break;      /* shift too large */
    case 1: v = raw_root(t, 7, 33, leaf, tail); break;       /* shift not a multiple of 5 */
    case 2: v = raw_root(t, 5, 33, leaf, tail); break;       /* root is a leaf, not a node */
    case 3: /* a trie leaf with 31 words */
      node = raw_slots(t, T_VEC_LEAF, 31, w);
      v = raw_root(t, 5, 33, raw_slots(t, T_VEC_NODE, 1, &node), tail);
      break;
    case 4: /* a node that is its own child: depth is bounded by the shift */
      self = raw_slots(t, T_VEC_NODE, 1, &leaf);
      ((uint64_t *)((blk *)region_ptr(t->d, self) + 1))[0] = self;
      v = raw_root(t, 60, 33, self, tail);
      break;
    case 5: node = raw_slots(t, T_VEC_NODE, 0, w); v = raw_root(t, 5, 33, node, tail); break;
    case 6: v = raw_root(t, 5, 33, 0, tail); break;          /* trie missing */
    default: /* count 34 needs a 2-word tail */
      v = raw_root(t, 5, 34, raw_slots(t, T_VEC_NODE, 1, &leaf), tail);
      break;
    }
    int rc = eve_vec_nth(t, v, c == 7 ? 33 : 0, &x);
    cr_assert(rc == EVE_ECORRUPT, "case %d: nth -> %s", c, eve_err_name(rc));
    EVE_ERR(eve_vec_nth(t, EVE_V_EMPTY_VECTOR, 0, &x), EVE_ECORRUPT); /* sticky */
    EVE_OK(eve_txn_end(t));
  }
  /* The same shapes through iteration and updates. */
  for (int op = 0; op < 4; op++) {
    eve_txn *t = t_wtxn(d);
    uint64_t w[32];
    for (int i = 0; i < 32; i++) w[i] = ival(t, i);
    uint64_t tail = raw_slots(t, T_VEC_LEAF, 1, w);
    uint64_t self = raw_slots(t, T_VEC_NODE, 1, w);
    ((uint64_t *)((blk *)region_ptr(t->d, self) + 1))[0] = self;
    eve_val v = raw_root(t, 60, 33, self, tail), x, k, val;
    eve_iter it;
    int rc = 0;
    switch (op) {
    case 0:
      rc = eve_iter_init(t, v, &it);
      while (!rc) rc = eve_iter_next(&it, &k, &val);
      break;
    case 1: rc = eve_vec_pop(t, v, &x); break;
    case 2: rc = eve_vec_assoc(t, v, 0, w[5], &x); break;
    default: rc = eve_vec_slice(t, v, 1, 33, &x); break;
    }
    cr_assert_eq(rc, EVE_ECORRUPT, "op %d -> %s", op, eve_err_name(rc));
    EVE_OK(eve_txn_end(t));
  }
  EVE_OK(eve_close(d));
}

/* ---- model-based randomised test ---------------------------------------- */

#define SNAPS 6

typedef struct snap {
  eve_val v;
  eve_val *xs;
  uint64_t n;
} snap;

typedef struct model {
  eve_txn *t;
  uint64_t seed, rng, ops;
  eve_val v;
  eve_val *xs;
  uint64_t n, cap;
  snap snaps[SNAPS];
} model;

static void model_reserve(model *m, uint64_t n) {
  if (n <= m->cap) return;
  m->cap = n * 2;
  m->xs = realloc(m->xs, m->cap * sizeof *m->xs);
  cr_assert_not_null(m->xs);
}

#define MSG "seed %#llx op %llu (n %llu)", (unsigned long long)m->seed, \
            (unsigned long long)m->ops, (unsigned long long)m->n

static void op_conj(model *m) {
  eve_val x = rand_val(m->t, &m->rng), w;
  EVE_OK(eve_vec_conj(m->t, m->v, x, &w));
  model_reserve(m, m->n + 1);
  m->xs[m->n++] = x;
  m->v = w;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  cr_assert_eq(nth(m->t, w, m->n - 1), x, MSG);
}

static void op_pop(model *m) {
  eve_val w;
  if (m->n == 0) {
    EVE_ERR(eve_vec_pop(m->t, m->v, &w), EVE_ERANGE);
    return;
  }
  EVE_OK(eve_vec_pop(m->t, m->v, &w));
  m->v = w;
  m->n--;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  if (m->n) cr_assert_eq(nth(m->t, w, m->n - 1), m->xs[m->n - 1], MSG);
  else cr_assert_eq(w, EVE_V_EMPTY_VECTOR, MSG);
}

static void op_assoc(model *m) {
  /* mostly near the end (tail and its neighbours), sometimes anywhere,
   * sometimes at count (append) */
  uint64_t r = t_below(&m->rng, 20);
  uint64_t i = r == 0 ? m->n : r < 8 ? m->n - t_below(&m->rng, m->n < 70 ? m->n + 1 : 70)
                                    : t_below(&m->rng, m->n + 1);
  if (i > m->n) i = m->n;
  eve_val x = rand_val(m->t, &m->rng), w, z;
  EVE_OK(eve_vec_assoc(m->t, m->v, i, x, &w));
  if (i == m->n) {
    model_reserve(m, m->n + 1);
    m->xs[m->n++] = x;
  } else if (w == m->v) {
    int eq = 0;
    EVE_OK(eve_equal(m->t, m->xs[i], x, &eq));
    cr_assert(eq, "same vector returned for a different value; " MSG);
  } else {
    m->xs[i] = x;
  }
  m->v = w;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  cr_assert_eq(nth(m->t, w, i), m->xs[i], MSG);
  EVE_ERR(eve_vec_assoc(m->t, w, m->n + 1 + t_below(&m->rng, 5), x, &z), EVE_ERANGE);
}

static void op_nth(model *m) {
  eve_val x;
  uint64_t i = t_below(&m->rng, m->n + 2);
  if (i >= m->n) {
    EVE_ERR(eve_vec_nth(m->t, m->v, i, &x), EVE_ERANGE);
    return;
  }
  cr_assert_eq(nth(m->t, m->v, i), m->xs[i], "nth %llu; " MSG, (unsigned long long)i);
}

/* shrink: keep a random half or more; otherwise trim a little at the ends */
static void op_slice(model *m, int shrink) {
  uint64_t n = m->n, from, to;
  if (shrink) {
    from = t_below(&m->rng, n / 4 + 1);
    to = n - t_below(&m->rng, n / 4 + 1);
  } else {
    from = t_below(&m->rng, n < 65 ? n + 1 : 65);
    to = n - t_below(&m->rng, n - from < 65 ? n - from + 1 : 65);
  }
  if (t_rand(&m->rng) & 1) from &= ~31ull; /* aligned: leaves are shared */
  eve_val w;
  EVE_OK(eve_vec_slice(m->t, m->v, from, to, &w));
  memmove(m->xs, m->xs + from, (to - from) * sizeof *m->xs);
  m->n = to - from;
  m->v = w;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  if (m->n) {
    cr_assert_eq(nth(m->t, w, 0), m->xs[0], MSG);
    cr_assert_eq(nth(m->t, w, m->n - 1), m->xs[m->n - 1], MSG);
    uint64_t i = t_below(&m->rng, m->n);
    cr_assert_eq(nth(m->t, w, i), m->xs[i], MSG);
  } else {
    cr_assert_eq(w, EVE_V_EMPTY_VECTOR, MSG);
  }
}

static void snap_take(model *m, int k) {
  snap *s = &m->snaps[k];
  free(s->xs);
  s->xs = malloc((m->n + 1) * sizeof *s->xs);
  memcpy(s->xs, m->xs, m->n * sizeof *s->xs);
  s->n = m->n;
  s->v = m->v;
}

static void snaps_check(model *m) {
  for (int k = 0; k < SNAPS; k++)
    if (m->snaps[k].xs) check_vec(m->t, m->snaps[k].v, m->snaps[k].xs, m->snaps[k].n, m->seed);
}

/* End the txn and begin the next one, keeping the current vector and the
 * snapshots in an atom (a value outlives its txn only in an atom): their
 * intermediate versions are freed and reused by what follows, and the next
 * txn reads the versions back from the atom. */
static void model_next_txn(model *m, eve_domain *d) {
  eve_val keep[SNAPS + 1];
  keep[0] = m->v;
  for (int k = 0; k < SNAPS; k++) keep[k + 1] = m->snaps[k].xs ? m->snaps[k].v : EVE_V_NIL;
  m->t = t_carry(d, m->t, "model", keep, SNAPS + 1);
  m->v = keep[0];
  for (int k = 0; k < SNAPS; k++) m->snaps[k].v = keep[k + 1];
}

Test(vec_model, random_ops_against_array, .timeout = 600) {
  eve_domain *d = t_open_mem();
  model m = {.t = t_wtxn(d), .v = EVE_V_EMPTY_VECTOR};
  m.seed = m.rng = t_seed(0x7ec70a);
  const uint64_t total = t_scale(300000), target = t_scale(100000) + 500;
  uint64_t peak = 0, phases = 0;
  int grow = 1;
  for (m.ops = 0; m.ops < total; m.ops++) {
    uint64_t r = t_below(&m.rng, 1000);
    if (grow) {  /* net growth ~ +0.6 per op */
      if (r < 700) op_conj(&m);
      else if (r < 780) op_pop(&m);
      else if (r < 880) op_assoc(&m);
      else if (r < 997) op_nth(&m);
      else op_slice(&m, 0);
    } else {     /* net shrink */
      if (r < 600) op_pop(&m);
      else if (r < 700) op_conj(&m);
      else if (r < 840) op_assoc(&m);
      else if (r < 996) op_nth(&m);
      else op_slice(&m, 1);
    }
    if (m.n > peak) peak = m.n;
    if (grow && m.n >= target) grow = 0, phases++;
    else if (!grow && m.n == 0) grow = 1, phases++;
    if (m.ops % 1000 == 999) check_vec(m.t, m.v, m.xs, m.n, m.seed);
    if (m.ops % 15000 == 7) snap_take(&m, (int)t_below(&m.rng, SNAPS));
    if (m.ops % 10000 == 9999) snaps_check(&m);
    if (m.ops % 4096 == 4095) model_next_txn(&m, d);
  }
  check_vec(m.t, m.v, m.xs, m.n, m.seed);
  snaps_check(&m);
  cr_assert_geq(peak, target, "seed %#llx: the vector reached %llu elements",
                (unsigned long long)m.seed, (unsigned long long)peak);
  cr_assert_geq(phases, 2, "seed %#llx: grew and shrank back", (unsigned long long)m.seed);
  for (int k = 0; k < SNAPS; k++) free(m.snaps[k].xs);
  free(m.xs);
  EVE_OK(eve_txn_end(m.t));
  t_assert_exact(d, "after the model run"); /* the atoms own exactly what they reach */
  EVE_OK(eve_close(d));
}
