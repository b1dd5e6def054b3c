/* test_value.c — scalars at their limits, canonical forms, and the laws
 * tying equality, hashing and order together on random nested values. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "value.h"

Test(value, immediates_need_no_transaction) {
  eve_val v;
  EVE_OK(eve_bool(1, &v));
  cr_assert_eq(v, EVE_V_TRUE);
  EVE_OK(eve_bool(0, &v));
  cr_assert_eq(v, EVE_V_FALSE);
  EVE_OK(eve_char('x', &v));
  EVE_OK(eve_char(0x10FFFF, &v));
  EVE_ERR(eve_char(0x110000, &v), EVE_ERANGE);
  EVE_ERR(eve_char(0xD800, &v), EVE_ERANGE);
  cr_assert_eq(EVE_V_NIL, 0);
}

Test(value, integers_at_the_immediate_boundary) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  int64_t cases[] = {0, 1, -1, INT_IMM_MAX, INT_IMM_MAX + 1, INT_IMM_MIN, INT_IMM_MIN - 1,
                     INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    eve_val v;
    EVE_OK(eve_int(t, cases[i], &v));
    int boxed = cases[i] > INT_IMM_MAX || cases[i] < INT_IMM_MIN;
    cr_assert_eq(VAL_IS_BLOCK(v), boxed, "%lld boxed=%d", (long long)cases[i], boxed);
    int64_t back;
    EVE_OK(eve_int_get(t, v, &back));
    cr_assert_eq(back, cases[i]);
    eve_type ty;
    EVE_OK(eve_type_get(t, v, &ty));
    cr_assert_eq(ty, EVE_INT);
    eve_val again;
    EVE_OK(eve_int(t, cases[i], &again));
    int eq;
    EVE_OK(eve_equal(t, v, again, &eq));
    cr_assert(eq);
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, read_txn_refuses_to_allocate_but_not_immediates) {
  eve_domain *d = t_open_mem();
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v;
  EVE_OK(eve_int(t, 5, &v));
  EVE_OK(eve_string(t, "short", 5, &v));
  EVE_ERR(eve_int(t, INT64_MAX, &v), EVE_ETXN);
  EVE_ERR(eve_string(t, "a longer string", 15, &v), EVE_ETXN);
  EVE_ERR(eve_float(t, 1.5, &v), EVE_ETXN);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, texts_inline_up_to_seven_bytes_and_keep_nuls) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  const char text[] = "ab\0cdefghij";
  for (size_t n = 0; n <= 11; n++) {
    eve_val s, k, y;
    EVE_OK(eve_string(t, text, n, &s));
    cr_assert_eq(VAL_IS_BLOCK(s), n > 7, "length %zu", n);
    const char *p;
    size_t m;
    EVE_OK(eve_text_get(t, &s, &p, &m));
    cr_assert_eq(m, n);
    cr_assert_eq(memcmp(p, text, n), 0);
    if (n == 0) continue;
    EVE_OK(eve_keyword(t, text, n, &k));
    EVE_OK(eve_symbol(t, text, n, &y));
    int eq;
    EVE_OK(eve_equal(t, s, k, &eq));
    cr_assert(!eq, "a string never equals a keyword with the same text");
    EVE_OK(eve_equal(t, k, y, &eq));
    cr_assert(!eq);
    eve_type ty;
    EVE_OK(eve_type_get(t, k, &ty));
    cr_assert_eq(ty, EVE_KEYWORD);
    EVE_OK(eve_type_get(t, y, &ty));
    cr_assert_eq(ty, EVE_SYMBOL);
  }
  eve_val v;
  EVE_ERR(eve_string(t, "\xff", 1, &v), EVE_EINVAL);
  EVE_ERR(eve_string(t, "\xc0\x80", 2, &v), EVE_EINVAL);       /* overlong NUL */
  EVE_ERR(eve_string(t, "\xed\xa0\x80", 3, &v), EVE_EINVAL);   /* surrogate */
  EVE_ERR(eve_string(t, "\xf4\x90\x80\x80", 4, &v), EVE_EINVAL); /* past U+10FFFF */
  EVE_ERR(eve_string(t, "abc\xe2\x82", 5, &v), EVE_EINVAL);    /* truncated */
  EVE_OK(eve_string(t, "\xe2\x82\xac\xf0\x9f\x98\x80", 7, &v)); /* euro + emoji */
  EVE_ERR(eve_keyword(t, "", 0, &v), EVE_EINVAL);
  EVE_OK(eve_bytes(t, "\xff\x00\xfe", 3, &v));             /* bytes: anything */
  const uint8_t *bp;
  size_t bn;
  EVE_OK(eve_bytes_get(t, &v, &bp, &bn));
  cr_assert_eq(bn, 3);
  cr_assert_eq(bp[2], 0xfe);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, floats_keep_their_bits_and_one_nan) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val pz, nz, n1, n2, one, i1;
  EVE_OK(eve_float(t, 0.0, &pz));
  EVE_OK(eve_float(t, -0.0, &nz));
  EVE_OK(eve_float(t, NAN, &n1));
  EVE_OK(eve_float(t, -NAN, &n2));
  EVE_OK(eve_float(t, 1.0, &one));
  EVE_OK(eve_int(t, 1, &i1));
  int eq, c;
  EVE_OK(eve_equal(t, pz, nz, &eq));
  cr_assert(!eq, "0.0 and -0.0 are different values");
  EVE_OK(eve_compare(t, nz, pz, &c));
  cr_assert_lt(c, 0);
  EVE_OK(eve_equal(t, n1, n2, &eq));
  cr_assert(eq, "every NaN is the one NaN");
  EVE_OK(eve_equal(t, one, i1, &eq));
  cr_assert(!eq, "1 and 1.0 are different values");
  EVE_OK(eve_compare(t, i1, one, &c));
  cr_assert_lt(c, 0, "an int sorts before an equal float");
  double f;
  EVE_OK(eve_float_get(t, nz, &f));
  cr_assert(signbit(f));
  EVE_ERR(eve_int_get(t, one, &(int64_t){0}), EVE_ETYPE);
  EVE_ERR(eve_float_get(t, i1, &f), EVE_ETYPE);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, int_float_order_is_exact) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  struct { int64_t i; double f; int want; } cases[] = {
    {INT64_MAX, 9223372036854775808.0, -1},  /* 2^63 > INT64_MAX */
    {INT64_MIN, -9223372036854775808.0, -1}, /* equal: int first */
    {(INT64_C(1) << 53) + 1, 9007199254740992.0, 1}, /* not rounded through double */
    {-3, -2.5, -1}, {-2, -2.5, 1}, {2, 2.5, -1}, {3, 2.5, 1},
    {0, -0.0, -1}, {5, INFINITY, -1}, {5, -INFINITY, 1}, {5, NAN, -1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    eve_val a, b;
    EVE_OK(eve_int(t, cases[k].i, &a));
    EVE_OK(eve_float(t, cases[k].f, &b));
    int c, r;
    EVE_OK(eve_compare(t, a, b, &c));
    EVE_OK(eve_compare(t, b, a, &r));
    cr_assert_eq(c, cases[k].want, "case %zu", k);
    cr_assert_eq(r, -cases[k].want, "case %zu reversed", k);
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, uuid_inst_types) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint8_t u[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, back[16];
  eve_val uv, iv;
  EVE_OK(eve_uuid(t, u, &uv));
  EVE_OK(eve_uuid_get(t, uv, back));
  cr_assert_eq(memcmp(u, back, 16), 0);
  EVE_OK(eve_inst(t, -86400000, &iv));
  int64_t ms;
  EVE_OK(eve_inst_get(t, iv, &ms));
  cr_assert_eq(ms, -86400000);
  EVE_ERR(eve_inst_get(t, uv, &ms), EVE_ETYPE);
  eve_type ty;
  EVE_OK(eve_type_get(t, uv, &ty));
  cr_assert_str_eq(eve_type_name(ty), "uuid");
  EVE_OK(eve_type_get(t, EVE_V_EMPTY_MAP, &ty));
  cr_assert_eq(ty, EVE_MAP);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, corrupt_words_give_errors_not_crashes) {
  eve_domain *d = t_open_mem();
  eve_txn *t;
  uint64_t bad[] = {0x10, 0xfffffff0, 0x7ffffffffff0ull, 0x6, 0x7, 0x4000, 16384 + 8};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
    eve_type ty;
    uint64_t n, h;
    int rc1 = eve_type_get(t, bad[i], &ty);
    int rc2 = eve_count(t, bad[i], &n);
    int rc3 = eve_hash(t, bad[i], &h);
    cr_assert(rc1 < 0 || rc2 < 0 || rc3 < 0, "word %llx", (unsigned long long)bad[i]);
    EVE_OK(eve_txn_end(t));
  }
  EVE_OK(eve_close(d));
}

/* ---- laws on random nested values -------------------------------------------- */

/* A random value; `small` keeps the key space small so equal values recur. */
static eve_val rand_value(eve_txn *t, uint64_t *rng, int depth, int small) {
  eve_val v = EVE_V_NIL, x, y;
  unsigned kind = (unsigned)t_below(rng, depth > 0 ? 14 : 9);
  char buf[32];
  switch (kind) {
  case 0: return EVE_V_NIL;
  case 1: eve_bool((int)t_below(rng, 2), &v); return v;
  case 2: eve_int(t, (int64_t)t_below(rng, small ? 5 : 1000) - 2, &v); return v;
  case 3: eve_int(t, INT64_MAX - (int64_t)t_below(rng, 3), &v); return v;
  case 4: eve_float(t, (double)t_below(rng, small ? 4 : 1000) / 2, &v); return v;
  case 5: {
    int n = (int)t_below(rng, small ? 2 : 20);
    for (int i = 0; i < n; i++) buf[i] = (char)('a' + t_below(rng, 3));
    eve_string(t, buf, (size_t)n, &v);
    return v;
  }
  case 6: buf[0] = (char)('a' + t_below(rng, 3)); eve_keyword(t, buf, 1, &v); return v;
  case 7: eve_char((uint32_t)('a' + t_below(rng, 3)), &v); return v;
  case 8: eve_inst(t, (int64_t)t_below(rng, 3), &v); return v;
  case 9: case 10: { /* vector or list */
    int n = (int)t_below(rng, 4);
    v = kind == 9 ? EVE_V_EMPTY_VECTOR : EVE_V_EMPTY_LIST;
    for (int i = 0; i < n; i++) {
      x = rand_value(t, rng, depth - 1, small);
      if (kind == 9) eve_vec_conj(t, v, x, &v);
      else eve_list_cons(t, x, v, &v);
    }
    return v;
  }
  case 11: {
    int n = (int)t_below(rng, 4);
    v = EVE_V_EMPTY_SET;
    for (int i = 0; i < n; i++) eve_set_conj(t, v, rand_value(t, rng, depth - 1, small), &v);
    return v;
  }
  default: {
    int n = (int)t_below(rng, 4);
    v = EVE_V_EMPTY_MAP;
    for (int i = 0; i < n; i++) {
      x = rand_value(t, rng, depth - 1, small);
      y = rand_value(t, rng, depth - 1, small);
      eve_map_assoc(t, v, x, y, &v);
    }
    return v;
  }
  }
}

/* Rebuild v from scratch in a different order (lists/vectors keep order;
 * sets and maps are rebuilt in reverse iteration order), so the copy shares
 * no block with v yet must be equal to it. */
static eve_val rebuild(eve_txn *t, eve_val v) {
  eve_type ty;
  EVE_OK(eve_type_get(t, v, &ty));
  uint64_t n = 0;
  if (ty == EVE_LIST || ty == EVE_VECTOR || ty == EVE_SET || ty == EVE_MAP)
    EVE_OK(eve_count(t, v, &n));
  else
    return v; /* scalars: equality of fresh copies is covered elsewhere */
  eve_val *ks = malloc((n + 1) * sizeof *ks), *vs = malloc((n + 1) * sizeof *vs);
  eve_iter it;
  EVE_OK(eve_iter_init(t, v, &it));
  uint64_t i = 0;
  while (eve_iter_next(&it, &ks[i], &vs[i]) == 0) i++;
  cr_assert_eq(i, n);
  eve_val out = ty == EVE_MAP ? EVE_V_EMPTY_MAP : ty == EVE_SET ? EVE_V_EMPTY_SET
              : ty == EVE_VECTOR ? EVE_V_EMPTY_VECTOR : EVE_V_EMPTY_LIST;
  for (uint64_t j = 0; j < n; j++) {
    uint64_t k = ty == EVE_LIST ? n - 1 - j : ty == EVE_VECTOR ? j : n - 1 - j;
    eve_val kk = rebuild(t, ks[k]);
    switch (ty) {
    case EVE_MAP: EVE_OK(eve_map_assoc(t, out, kk, rebuild(t, vs[k]), &out)); break;
    case EVE_SET: EVE_OK(eve_set_conj(t, out, kk, &out)); break;
    case EVE_VECTOR: EVE_OK(eve_vec_conj(t, out, kk, &out)); break;
    default: EVE_OK(eve_list_cons(t, kk, out, &out)); break;
    }
  }
  free(ks);
  free(vs);
  return out;
}

Test(value, equality_hash_and_order_laws) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t seed = t_seed(2024), rng = seed;
  enum { N = 300 };
  eve_val vals[N];
  size_t rounds = t_scale(20);
  for (size_t round = 0; round < rounds; round++) {
    for (int i = 0; i < N; i++) vals[i] = rand_value(t, &rng, 3, 1);
    EVE_OK(eve_txn_error(t));
    for (int i = 0; i < N; i++) {
      int eq;
      uint64_t h1, h2;
      eve_val copy = rebuild(t, vals[i]);
      EVE_OK(eve_equal(t, vals[i], copy, &eq));
      cr_assert(eq, "seed %llu: a rebuilt copy is equal: %s", (unsigned long long)seed,
                t_edn(t, vals[i]));
      EVE_OK(eve_hash(t, vals[i], &h1));
      EVE_OK(eve_hash(t, copy, &h2));
      cr_assert_eq(h1, h2, "seed %llu: equal values hash equal", (unsigned long long)seed);
      int c;
      EVE_OK(eve_compare(t, vals[i], copy, &c));
      cr_assert_eq(c, 0);
      for (int j = 0; j < 8; j++) {
        eve_val a = vals[i], b = vals[t_below(&rng, N)], cc = vals[t_below(&rng, N)];
        int ab, ba, bc, ac;
        EVE_OK(eve_equal(t, a, b, &eq));
        EVE_OK(eve_compare(t, a, b, &ab));
        EVE_OK(eve_compare(t, b, a, &ba));
        cr_assert_eq(ab, -ba, "seed %llu: antisymmetry", (unsigned long long)seed);
        cr_assert_eq(eq, ab == 0, "seed %llu: compare 0 iff equal: %s vs %s",
                     (unsigned long long)seed, t_edn(t, a), t_edn(t, b));
        if (eq) {
          EVE_OK(eve_hash(t, a, &h1));
          EVE_OK(eve_hash(t, b, &h2));
          cr_assert_eq(h1, h2);
        }
        EVE_OK(eve_compare(t, b, cc, &bc));
        EVE_OK(eve_compare(t, a, cc, &ac));
        if (ab <= 0 && bc <= 0) cr_assert_leq(ac, 0, "seed %llu: transitivity", (unsigned long long)seed);
      }
    }
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(value, vector_and_list_with_equal_elements_are_equal) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val v = EVE_V_EMPTY_VECTOR, l = EVE_V_EMPTY_LIST, x;
  for (int i = 0; i < 100; i++) {
    EVE_OK(eve_int(t, i, &x));
    EVE_OK(eve_vec_conj(t, v, x, &v));
  }
  for (int i = 99; i >= 0; i--) {
    EVE_OK(eve_int(t, i, &x));
    EVE_OK(eve_list_cons(t, x, l, &l));
  }
  int eq;
  uint64_t h1, h2;
  EVE_OK(eve_equal(t, v, l, &eq));
  cr_assert(eq);
  EVE_OK(eve_hash(t, v, &h1));
  EVE_OK(eve_hash(t, l, &h2));
  cr_assert_eq(h1, h2);
  EVE_OK(eve_equal(t, EVE_V_EMPTY_VECTOR, EVE_V_EMPTY_LIST, &eq));
  cr_assert(eq);
  EVE_OK(eve_equal(t, EVE_V_EMPTY_VECTOR, EVE_V_NIL, &eq));
  cr_assert(!eq, "nil is not an empty collection");
  EVE_OK(eve_equal(t, EVE_V_EMPTY_MAP, EVE_V_EMPTY_SET, &eq));
  cr_assert(!eq);
  /* a vector as a map key finds the equal list's entry */
  eve_val m;
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, v, EVE_V_TRUE, &m));
  eve_val got;
  EVE_OK(eve_map_get(t, m, l, &got));
  cr_assert_eq(got, EVE_V_TRUE);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* the end of a txn keeps what its atom reaches and frees the intermediate
 * versions */
Test(value, abort_frees_only_unpublished_fresh_blocks) {
  eve_domain *d = t_open_mem();
  eve_domain_info i0, i1, i2;
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  for (int i = 0; i < 2000; i++) {
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_string(t, "value string that is boxed", 26, &v));
    EVE_OK(eve_map_assoc(t, m, k, v, &m));
  }
  t_publish(d, t, "m", m);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_domain_info_get(d, &i0));
  /* a build on top of the published map, repeatedly, then dropped: the file
   * must stop growing because each end frees its intermediates (and only
   * them: the versions share the published map's nodes) */
  for (int round = 0; round < 5; round++) {
    t = t_wtxn(d);
    eve_val m2 = t_deref(d, t, "m");
    for (int i = 0; i < 2000; i++) {
      EVE_OK(eve_int(t, i, &k));
      EVE_OK(eve_int(t, round, &v));
      EVE_OK(eve_map_assoc(t, m2, k, v, &m2));
    }
    EVE_OK(eve_txn_end(t)); /* publishes nothing: all it built is freed */
    EVE_OK(eve_domain_info_get(d, round == 0 ? &i1 : &i2));
  }
  cr_assert_eq(i2.bump, i1.bump, "freed blocks are reused: bump %llu then %llu",
               (unsigned long long)i1.bump, (unsigned long long)i2.bump);
  /* the published map is intact, and nothing leaked */
  t_assert_exact(d, "after the rounds");
  t = t_wtxn(d);
  m = t_deref(d, t, "m");
  uint64_t n;
  EVE_OK(eve_count(t, m, &n));
  cr_assert_eq(n, 2000);
  for (int i = 0; i < 2000; i += 97) {
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_map_get(t, m, k, &v));
    const char *p;
    size_t len;
    EVE_OK(eve_text_get(t, &v, &p, &len));
    cr_assert_eq(len, 26);
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* ---- deep values on a small stack --------------------------------------------- *
 * Language bindings run eve on worker threads with small stacks (musl's
 * default is 128 KiB).  Every walk over a value must work at the deepest
 * nesting a value can have, on such a stack. */

#include <pthread.h>

enum { SMALL_STACK = 128 * 1024, DEEPEST = 4096 };

/* A value nested `depth` collections deep around the boxed string `leaf`:
 * from the inside, layers are a vector [x], a map {:in x, :n 1}, a list (x)
 * and a set #{x} in turn. */
static int deep_value(eve_txn *t, int depth, const char *leaf, eve_val *out) {
  eve_val v, in, n, m;
  int rc = eve_string(t, leaf, strlen(leaf), &v);
  if (!rc) rc = eve_keyword(t, "in", 2, &in);
  if (!rc) rc = eve_keyword(t, "n", 1, &n);
  for (int i = 0; i < depth && !rc; i++) {
    switch (i % 4) {
    case 0: rc = eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &v); break;
    case 1:
      rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, n, (eve_val)(1 << 3 | 1), &m);
      if (!rc) rc = eve_map_assoc(t, m, in, v, &v);
      break;
    case 2: rc = eve_list_cons(t, v, EVE_V_EMPTY_LIST, &v); break;
    default: rc = eve_set_conj(t, EVE_V_EMPTY_SET, v, &v); break;
    }
  }
  *out = v;
  return rc;
}

/* What a walk on the small-stack thread saw; asserted on the test's thread
 * (Criterion's assertions cannot leave another thread). */
typedef struct deep_job {
  eve_domain *d;
  int depth;
  int rc;                       /* first failing call, 0 if none            */
  const char *failed;           /* its name                                  */
  int eq_same, eq_diff;         /* equal(a, b), equal(a, c)                  */
  int cmp_same, cmp_ac, cmp_ca; /* compare(a, b), (a, c), (c, a)             */
  uint64_t ha, hb;
  size_t edn_len;
  int edn_reads_back_equal;
  int json_ok;
  uint64_t keys_after_two_assocs; /* assoc a' then the equal b' as a key: 1 */
  int set_finds_equal;
  int as_key_rc;                /* assoc with a itself as the key            */
} deep_job;

#define DEEP_CALL(j, call)                  \
  do {                                      \
    if (!(j)->rc && ((j)->rc = (call)) != 0) \
      (j)->failed = #call;                  \
  } while (0)

static void *deep_walks(void *arg) {
  deep_job *j = arg;
  eve_txn *t;
  if ((j->rc = eve_txn_begin(j->d, EVE_TXN_WRITE, &t)) != 0) {
    j->failed = "eve_txn_begin";
    return NULL;
  }
  eve_val a = 0, b = 0, c = 0, back = 0, m = EVE_V_EMPTY_MAP, s = EVE_V_EMPTY_SET;
  eve_val a1 = 0, b1 = 0; /* one level less: a map holding them is as deep as a */
  char *edn = NULL, *json = NULL;
  DEEP_CALL(j, deep_value(t, j->depth, "the innermost leaf A", &a));
  DEEP_CALL(j, deep_value(t, j->depth, "the innermost leaf A", &b));
  DEEP_CALL(j, deep_value(t, j->depth, "the innermost leaf B", &c));
  DEEP_CALL(j, eve_equal(t, a, b, &j->eq_same));
  DEEP_CALL(j, eve_equal(t, a, c, &j->eq_diff));
  DEEP_CALL(j, eve_compare(t, a, b, &j->cmp_same));
  DEEP_CALL(j, eve_compare(t, a, c, &j->cmp_ac));
  DEEP_CALL(j, eve_compare(t, c, a, &j->cmp_ca));
  DEEP_CALL(j, eve_hash(t, a, &j->ha));
  DEEP_CALL(j, eve_hash(t, b, &j->hb));
  DEEP_CALL(j, eve_print_edn(t, a, &edn, &j->edn_len));
  DEEP_CALL(j, eve_read_edn(t, edn, j->edn_len, &back, NULL));
  DEEP_CALL(j, eve_equal(t, a, back, &j->edn_reads_back_equal));
  DEEP_CALL(j, eve_print_json(t, a, &json, NULL));
  j->json_ok = json != NULL;
  DEEP_CALL(j, deep_value(t, j->depth - 1, "the innermost leaf A", &a1));
  DEEP_CALL(j, deep_value(t, j->depth - 1, "the innermost leaf A", &b1));
  DEEP_CALL(j, eve_map_assoc(t, m, a1, EVE_V_TRUE, &m));
  DEEP_CALL(j, eve_map_assoc(t, m, b1, EVE_V_FALSE, &m));
  DEEP_CALL(j, eve_count(t, m, &j->keys_after_two_assocs));
  DEEP_CALL(j, eve_set_conj(t, s, a1, &s));
  DEEP_CALL(j, eve_set_contains(t, s, b1, &j->set_finds_equal));
  eve_val m2;
  j->as_key_rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, a, EVE_V_TRUE, &m2);
  DEEP_CALL(j, eve_txn_error(t));
  eve_free(edn);
  eve_free(json);
  eve_txn_end(t);
  return NULL;
}

static void deep_walks_on_a_small_stack(int depth) {
  deep_job j = {.d = t_open_mem(), .depth = depth};
  pthread_attr_t attr;
  pthread_t th;
  cr_assert_eq(pthread_attr_init(&attr), 0);
  cr_assert_eq(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
  cr_assert_eq(pthread_create(&th, &attr, deep_walks, &j), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);
  pthread_attr_destroy(&attr);
  cr_assert_eq(j.rc, 0, "depth %d: %s -> %s", depth, j.failed, eve_err_name(j.rc));
  cr_assert(j.eq_same, "equal deep values are equal");
  cr_assert(!j.eq_diff, "deep values differing at the leaf are not equal");
  cr_assert_eq(j.cmp_same, 0);
  cr_assert_lt(j.cmp_ac, 0, "the order is decided by the leaf, \"...A\" before \"...B\"");
  cr_assert_gt(j.cmp_ca, 0);
  cr_assert_eq(j.ha, j.hb, "equal deep values hash equal");
  cr_assert(j.edn_len > (size_t)depth, "the EDN text holds every level");
  cr_assert(j.edn_reads_back_equal, "the EDN text reads back equal");
  cr_assert(j.json_ok);
  cr_assert_eq(j.keys_after_two_assocs, 1, "an equal deep key replaces the first");
  cr_assert(j.set_finds_equal);
  cr_assert_eq(j.as_key_rc, depth < EVE_MAX_NESTING ? 0 : EVE_EDEPTH,
               "a value of depth %d as a key: %s", depth, eve_err_name(j.as_key_rc));
  EVE_OK(eve_close(j.d));
}

Test(value, deep_values_walk_on_a_small_stack_512) { deep_walks_on_a_small_stack(512); }
Test(value, deep_values_walk_on_a_small_stack_deepest) { deep_walks_on_a_small_stack(DEEPEST); }

/* ---- the nesting limit at construction ------------------------------------------ */

/* Every constructor that puts a value into a collection: the value at
 * depth EVE_MAX_NESTING - 1 goes in (the collection is as deep as a value
 * may be), the one at EVE_MAX_NESTING is refused with EVE_EDEPTH, which
 * leaves the transaction usable. */
Test(value, nesting_limit_is_kept_by_every_constructor) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val fits, deepest, out, one = (eve_val)(1 << 3 | 1), v1;
  EVE_OK(deep_value(t, EVE_MAX_NESTING - 1, "the innermost leaf", &fits));
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, fits, &deepest));
  cr_assert_eq(val_depth(t, fits), EVE_MAX_NESTING - 1, "the bound is exact when only built up");
  cr_assert_eq(val_depth(t, deepest), EVE_MAX_NESTING);
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, one, &v1));
  for (int past = 0; past < 2; past++) {
    eve_val x = past ? deepest : fits;
    int want = past ? EVE_EDEPTH : 0;
    EVE_ERR(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, x, &out), want);
    EVE_ERR(eve_vec_conj(t, v1, x, &out), want);
    EVE_ERR(eve_vec_assoc(t, v1, 0, x, &out), want);
    EVE_ERR(eve_vec_assoc(t, v1, 1, x, &out), want);
    EVE_ERR(eve_list_cons(t, x, EVE_V_EMPTY_LIST, &out), want);
    EVE_ERR(eve_map_assoc(t, EVE_V_EMPTY_MAP, one, x, &out), want);
    EVE_ERR(eve_map_assoc(t, EVE_V_EMPTY_MAP, x, one, &out), want);
    EVE_ERR(eve_set_conj(t, EVE_V_EMPTY_SET, x, &out), want);
    EVE_OK(eve_txn_error(t));
  }
  /* the depth of a collection is its deepest element's, whatever the
   * others: a shallow element beside the deepest one is fine */
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, one, fits, &out));
  EVE_OK(eve_map_assoc(t, out, EVE_V_TRUE, one, &out));
  cr_assert_eq(val_depth(t, out), EVE_MAX_NESTING);
  EVE_ERR(eve_map_assoc(t, out, EVE_V_FALSE, deepest, &out), EVE_EDEPTH);
  EVE_OK(eve_txn_error(t));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* Removing the deepest element leaves a loose bound; the rule still
 * follows the real depth, and the bound of what is built on top tightens
 * again (the element is examined once instead of trusted). */
Test(value, a_loose_bound_never_refuses_a_shallow_value) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val deep, m, v, kin, one = (eve_val)(1 << 3 | 1);
  EVE_OK(deep_value(t, EVE_MAX_NESTING - 1, "the innermost leaf", &deep));
  EVE_OK(eve_keyword(t, "in", 2, &kin));
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, kin, deep, &m));
  EVE_OK(eve_map_assoc(t, m, one, one, &m));
  EVE_OK(eve_map_dissoc(t, m, kin, &m)); /* {1 1}: depth 1 */
  cr_assert_eq(val_depth(t, m), EVE_MAX_NESTING, "a removal leaves the bound");
  v = m;
  for (int i = 1; i < EVE_MAX_NESTING; i++) EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &v));
  cr_assert_eq(val_depth(t, v), EVE_MAX_NESTING, "[[...{1 1}...]] is as deep as a value may be");
  EVE_ERR(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &v), EVE_EDEPTH);
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, m, &v));
  cr_assert_eq(val_depth(t, v), 2, "the bound of [{1 1}] is tight again");
  /* the same through a vector's assoc and pop, and a list */
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, deep, &v));
  EVE_OK(eve_vec_conj(t, v, one, &v));
  EVE_OK(eve_vec_assoc(t, v, 0, one, &v)); /* [1 1] */
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &v));
  cr_assert_eq(val_depth(t, v), 2);
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, one, &v));
  EVE_OK(eve_vec_conj(t, v, deep, &v));
  EVE_OK(eve_vec_pop(t, v, &v)); /* [1] */
  EVE_OK(eve_list_cons(t, v, EVE_V_EMPTY_LIST, &v));
  cr_assert_eq(val_depth(t, v), 2);
  EVE_OK(eve_txn_error(t));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* The real depth, by recursion (test values are shallow). */
static uint32_t real_depth(eve_txn *t, eve_val v) {
  eve_type ty;
  EVE_OK(eve_type_get(t, v, &ty));
  if (ty != EVE_LIST && ty != EVE_VECTOR && ty != EVE_SET && ty != EVE_MAP) return 0;
  uint32_t d = 0;
  eve_iter it;
  eve_val k, x;
  EVE_OK(eve_iter_init(t, v, &it));
  while (eve_iter_next(&it, &k, &x) == 0) {
    uint32_t dk = real_depth(t, k), dx = ty == EVE_MAP ? real_depth(t, x) : 0;
    if (dk > d) d = dk;
    if (dx > d) d = dx;
  }
  return d + 1;
}

/* After random updates (removals included), every bound covers the real
 * depth, and the checker agrees with every bound it finds. */
static void check_problem(void *ctx, const char *msg) {
  (void)ctx;
  cr_log_error("%s", msg);
}

Test(value, depth_bounds_cover_the_real_depth) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t seed = t_seed(77), rng = seed;
  eve_val all = EVE_V_EMPTY_VECTOR;
  for (int round = 0; round < (int)t_scale(400); round++) {
    eve_val v = rand_value(t, &rng, 4, 1), x = rand_value(t, &rng, 3, 1), y;
    eve_type ty;
    uint64_t n = 0;
    EVE_OK(eve_type_get(t, v, &ty));
    if (ty == EVE_MAP || ty == EVE_SET || ty == EVE_VECTOR || ty == EVE_LIST) EVE_OK(eve_count(t, v, &n));
    eve_iter it;
    eve_val k = EVE_V_NIL;
    if (n) { /* some element of v, to remove or replace */
      EVE_OK(eve_iter_init(t, v, &it));
      for (uint64_t i = t_below(&rng, n) + 1; i; i--) EVE_OK(eve_iter_next(&it, &k, &y));
    }
    switch (ty) {
    case EVE_MAP: EVE_OK(t_below(&rng, 2) ? eve_map_dissoc(t, v, k, &v) : eve_map_assoc(t, v, k, x, &v)); break;
    case EVE_SET: EVE_OK(eve_set_disj(t, v, k, &v)); break;
    case EVE_VECTOR:
      if (n) EVE_OK(t_below(&rng, 2) ? eve_vec_pop(t, v, &v) : eve_vec_assoc(t, v, t_below(&rng, n), x, &v));
      if (n > 1 && t_below(&rng, 2)) EVE_OK(eve_vec_slice(t, v, 1, n - 1, &v));
      break;
    case EVE_LIST: EVE_OK(eve_list_rest(t, v, &v)); break;
    default: break;
    }
    uint32_t real = real_depth(t, v), bound = val_depth(t, v);
    cr_assert(bound >= real && bound <= EVE_MAX_NESTING, "seed %llu: bound %u, depth %u of %s",
              (unsigned long long)seed, bound, real, t_edn(t, v));
    EVE_OK(eve_vec_conj(t, all, v, &all));
  }
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "all", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_reset(t, a, all));
  EVE_OK(eve_txn_end(t));
  eve_check_report rep;
  EVE_OK(eve_check(d, &rep, check_problem, NULL));
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

/* ---- the order, against its definition ------------------------------------------- *
 * The definition the walk implements without sorting: sequences element by
 * element; sets and maps by count, then their entries sorted (key, then
 * value) and compared in turn.  Here literally, by recursion and qsort. */

static int ref_compare(eve_txn *t, eve_val a, eve_val b);

typedef struct ref_entry { eve_val k, v; } ref_entry;

static int ref_cmp_entry(const void *x, const void *y, void *t) {
  const ref_entry *p = x, *q = y;
  int c = ref_compare(t, p->k, q->k);
  return c ? c : ref_compare(t, p->v, q->v);
}

static ref_entry *ref_sorted(eve_txn *t, eve_val coll, uint64_t n) {
  ref_entry *e = malloc((n + 1) * sizeof *e);
  eve_iter it;
  uint64_t i = 0;
  EVE_OK(eve_iter_init(t, coll, &it));
  while (eve_iter_next(&it, &e[i].k, &e[i].v) == 0) i++;
  cr_assert_eq(i, n);
  qsort_r(e, n, sizeof *e, ref_cmp_entry, t);
  return e;
}

static int ref_compare(eve_txn *t, eve_val a, eve_val b) {
  eve_type ta, tb;
  EVE_OK(eve_type_get(t, a, &ta));
  EVE_OK(eve_type_get(t, b, &tb));
  int sa = ta == EVE_LIST || ta == EVE_VECTOR, sb = tb == EVE_LIST || tb == EVE_VECTOR;
  int ua = ta == EVE_SET || ta == EVE_MAP;
  int c;
  if (!(sa && sb) && !(ua && ta == tb)) { /* scalars, or different ranks: one step */
    EVE_OK(eve_compare(t, a, b, &c));
    return c;
  }
  eve_iter ia, ib;
  eve_val x, y, k;
  if (sa) {
    EVE_OK(eve_iter_init(t, a, &ia));
    EVE_OK(eve_iter_init(t, b, &ib));
    for (;;) {
      int ra = eve_iter_next(&ia, &x, &k), rb = eve_iter_next(&ib, &y, &k);
      if (ra || rb) return (rb != 0) - (ra != 0);
      if ((c = ref_compare(t, x, y))) return c;
    }
  }
  uint64_t n, m;
  EVE_OK(eve_count(t, a, &n));
  EVE_OK(eve_count(t, b, &m));
  if (n != m) return (n > m) - (n < m);
  ref_entry *p = ref_sorted(t, a, n), *q = ref_sorted(t, b, m);
  c = 0;
  for (uint64_t i = 0; i < n && !c; i++) c = ref_cmp_entry(&p[i], &q[i], t);
  free(p);
  free(q);
  return c;
}

static int sign(int c) { return (c > 0) - (c < 0); }

/* Random pairs against the definition; every value also equals, and
 * compares 0 with, a copy rebuilt in another order. */
static void order_against_definition(uint64_t hash_mask, uint64_t seed) {
  eve__test_set_hash_mask(hash_mask); /* before the domain holds any value */
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = seed;
  enum { N = 200 };
  eve_val vals[N];
  for (size_t round = 0; round < t_scale(10); round++) {
    /* small key spaces, so maps and sets of one count differ in a few
     * entries, keys collide with different values, and nesting repeats */
    for (int i = 0; i < N; i++) vals[i] = rand_value(t, &rng, 3, 1);
    for (int i = 0; i < N; i++) {
      int eq, c;
      eve_val copy = rebuild(t, vals[i]);
      EVE_OK(eve_equal(t, vals[i], copy, &eq));
      EVE_OK(eve_compare(t, vals[i], copy, &c));
      cr_assert(eq && c == 0, "seed %llu mask %#llx: a rebuilt copy: %s",
                (unsigned long long)seed, (unsigned long long)hash_mask, t_edn(t, vals[i]));
      for (int j = 0; j < 20; j++) {
        eve_val a = vals[i], b = vals[t_below(&rng, N)];
        EVE_OK(eve_compare(t, a, b, &c));
        cr_assert_eq(sign(c), sign(ref_compare(t, a, b)), "seed %llu mask %#llx: %s vs %s",
                     (unsigned long long)seed, (unsigned long long)hash_mask, t_edn(t, a),
                     t_edn(t, b));
      }
    }
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  eve__test_set_hash_mask(~0ull);
}

Test(value, order_matches_its_sorting_definition) { order_against_definition(~0ull, t_seed(99)); }

/* 3-bit hashes: nested keys meet in collision nodes, whose entries equality
 * matches by search and in any order. */
Test(value, equality_and_order_with_colliding_hashes) {
  order_against_definition(0x7, t_seed(101));
}

/* The checker verifies recorded bounds: one below the real depth, or past
 * the limit, is a problem; an unrecorded one (0: an older file) is not. */
Test(value, checker_verifies_depth_bounds) {
  uint32_t cases[] = {1, EVE_MAX_NESTING + 1, 0, 2, EVE_MAX_NESTING};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    eve_domain *d = t_open_mem();
    eve_txn *t = t_wtxn(d);
    eve_val inner, outer;
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, (eve_val)(1 << 3 | 1), &inner));
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, inner, &outer)); /* [[1]]: depth 2 */
    eve_atom *a;
    EVE_OK(eve_atom_open(d, "v", EVE_ATOM_CREATE, &a));
    EVE_OK(eve_reset(t, a, outer));
    blk *b = region_ptr(t->d, outer);
    b->aux = (b->aux & DEPTH_TYPE_MASK) | cases[i] << DEPTH_SHIFT; /* damage */
    EVE_OK(eve_txn_end(t));
    eve_check_report rep;
    int bad = cases[i] == 1 || cases[i] > EVE_MAX_NESTING;
    EVE_ERR(eve_check(d, &rep, NULL, NULL), bad ? EVE_ECORRUPT : 0);
    cr_assert_eq(rep.problems, (uint64_t)bad, "bound %u", cases[i]);
    EVE_OK(eve_atom_close(a));
    EVE_OK(eve_close(d));
  }
}
