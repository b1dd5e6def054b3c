/* test_map.c — the CHAMP map: unit tests, canonical shape, and model-based
 * randomised tests (also under truncated hashes that force collisions). */
#define _GNU_SOURCE
#include <math.h>

#include "champ_support.h"

/* ---- helpers ------------------------------------------------------------- */

static int64_t geti(eve_txn *t, eve_val v) {
  int64_t i;
  EVE_OK(eve_int_get(t, v, &i));
  return i;
}

static eve_val assoc(eve_txn *t, eve_val m, eve_val k, eve_val v) {
  eve_val out;
  EVE_OK(eve_map_assoc(t, m, k, v, &out));
  return out;
}

static eve_val dissoc(eve_txn *t, eve_val m, eve_val k) {
  eve_val out;
  EVE_OK(eve_map_dissoc(t, m, k, &out));
  return out;
}

static eve_val get(eve_txn *t, eve_val m, eve_val k) {
  eve_val out;
  EVE_OK(eve_map_get(t, m, k, &out));
  return out;
}

static eve_val key_of(eve_txn *t, uint64_t id) { return mixed_value(t, id, "key"); }

static const champ_node *node_at(eve_txn *t, uint64_t off, unsigned level) {
  return champ_node_at(t, &champ_map_kind, off, level);
}

static int same_shape(eve_txn *t, uint64_t a, uint64_t b, unsigned level, uint64_t *nodes) {
  return champ_same_shape(t, &champ_map_kind, a, b, level, nodes);
}

static uint64_t max_depth(eve_txn *t, uint64_t off, unsigned level) {
  const champ_node *x = node_at(t, off, level);
  uint64_t d = level;
  if (level == CHAMP_COLL_LEVEL) return d;
  size_t ne = 2 * (size_t)__builtin_popcount(x->datamap);
  for (int i = 0; i < __builtin_popcount(x->nodemap); i++) {
    uint64_t c = max_depth(t, x->w[ne + i], level + 1);
    if (c > d) d = c;
  }
  return d;
}

/* ---- unit tests ------------------------------------------------------------ */

Test(map, empty_and_nil) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val out, k = KW(t, "a");
  cr_assert_eq(count_of(t, EVE_V_EMPTY_MAP), 0);
  EVE_ERR(eve_map_get(t, EVE_V_EMPTY_MAP, k, &out), EVE_ENOTFOUND);
  EVE_ERR(eve_map_get(t, EVE_V_NIL, k, &out), EVE_ENOTFOUND);
  cr_assert_eq(dissoc(t, EVE_V_EMPTY_MAP, k), EVE_V_EMPTY_MAP);
  cr_assert_eq(dissoc(t, EVE_V_NIL, k), EVE_V_NIL);
  eve_val m = assoc(t, EVE_V_NIL, k, I(t, 1));
  cr_assert(VAL_IS_BLOCK(m));
  eve_type ty;
  EVE_OK(eve_type_get(t, m, &ty));
  cr_assert_eq(ty, EVE_MAP);
  cr_assert_eq(count_of(t, m), 1);
  cr_assert_eq(geti(t, get(t, m, k)), 1);
  /* removing the last key gives the canonical empty map, never an empty block */
  cr_assert_eq(dissoc(t, m, k), EVE_V_EMPTY_MAP);
  cr_assert_eq(hash_of(t, EVE_V_EMPTY_MAP), hash_of(t, dissoc(t, m, k)));
  /* merge with empties */
  EVE_OK(eve_map_merge(t, EVE_V_NIL, EVE_V_NIL, &out));
  cr_assert_eq(out, EVE_V_NIL);
  EVE_OK(eve_map_merge(t, EVE_V_NIL, m, &out));
  cr_assert_eq(out, m);
  EVE_OK(eve_map_merge(t, m, EVE_V_EMPTY_MAP, &out));
  cr_assert_eq(out, m);
  EVE_OK(eve_map_merge(t, EVE_V_EMPTY_MAP, EVE_V_NIL, &out));
  cr_assert_eq(out, EVE_V_EMPTY_MAP);
  /* iterating the empty map yields nothing */
  eve_iter it;
  EVE_OK(eve_iter_init(t, EVE_V_EMPTY_MAP, &it));
  EVE_ERR(eve_iter_next(&it, NULL, NULL), EVE_END);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, assoc_get_dissoc) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val keys[] = {I(t, 1), I(t, -7), I(t, BIG), S(t, "short"), S(t, "a longer string key"),
                    KW(t, "kw"), KW(t, "some.ns/long-keyword"), EVE_V_NIL, EVE_V_TRUE,
                    EVE_V_FALSE, EVE_V_EMPTY_MAP, EVE_V_EMPTY_VECTOR};
  size_t n = sizeof keys / sizeof *keys;
  eve_val m = EVE_V_EMPTY_MAP, out;
  for (size_t i = 0; i < n; i++) {
    m = assoc(t, m, keys[i], I(t, (int64_t)i * 10));
    cr_assert_eq(count_of(t, m), i + 1);
    EVE_OK(map_check(t, m));
  }
  for (size_t i = 0; i < n; i++) cr_assert_eq(geti(t, get(t, m, keys[i])), (int64_t)i * 10);
  /* equal keys given as different words find the same entry */
  cr_assert_eq(geti(t, get(t, m, S(t, "a longer string key"))), 40);
  cr_assert_eq(geti(t, get(t, m, I(t, BIG))), 20);
  EVE_ERR(eve_map_get(t, m, I(t, 2), &out), EVE_ENOTFOUND);
  EVE_ERR(eve_map_get(t, m, S(t, "shor"), &out), EVE_ENOTFOUND);
  /* 1 and 1.0 are different keys */
  eve_val f;
  EVE_OK(eve_float(t, 1.0, &f));
  EVE_ERR(eve_map_get(t, m, f, &out), EVE_ENOTFOUND);
  /* replacing a value keeps the count */
  m = assoc(t, m, KW(t, "kw"), S(t, "replaced"));
  cr_assert_eq(count_of(t, m), n);
  cr_assert(equal(t, get(t, m, KW(t, "kw")), S(t, "replaced")));
  for (size_t i = 0; i < n; i++) {
    m = dissoc(t, m, keys[i]);
    cr_assert_eq(count_of(t, m), n - i - 1);
    EVE_ERR(eve_map_get(t, m, keys[i], &out), EVE_ENOTFOUND);
    for (size_t j = i + 1; j < n; j++) EVE_OK(eve_map_get(t, m, keys[j], &out));
    EVE_OK(map_check(t, m));
  }
  cr_assert_eq(m, EVE_V_EMPTY_MAP);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, no_change_returns_same_word_without_allocating) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < 2000; i++) m = assoc(t, m, key_of(t, i), I(t, (int64_t)i));
  for (uint64_t i = 0; i < 2000; i += 7) {
    eve_val k = key_of(t, i), v = I(t, (int64_t)i), absent = key_of(t, i + 100000);
    size_t before = t->nfresh;
    cr_assert_eq(assoc(t, m, k, v), m, "assoc of an equal value changed the map");
    cr_assert_eq(t->nfresh, before, "a no-op assoc allocated %zu blocks", t->nfresh - before);
    cr_assert_eq(dissoc(t, m, absent), m, "dissoc of an absent key changed the map");
    cr_assert_eq(t->nfresh, before, "a no-op dissoc allocated %zu blocks (key %" PRIu64 ")",
                 t->nfresh - before, i);
    if (i < 50) {
      eve_val out;
      EVE_OK(eve_map_merge(t, m, m, &out));
      cr_assert_eq(out, m, "merge with itself changed the map");
    }
    cr_assert_eq(t->nfresh, before, "a no-op allocated %zu blocks", t->nfresh - before);
  }
  /* a boxed value equal to the bound one is also no change */
  eve_val m2 = assoc(t, m, I(t, 0), I(t, BIG + 5)), big = I(t, BIG + 5);
  size_t before = t->nfresh;
  cr_assert_eq(assoc(t, m2, I(t, 0), big), m2);
  cr_assert_eq(t->nfresh, before);
  eve_txn_end(t);
  eve_close(d);
}

/* An equal value of another kind is a change: (1) and [1] are equal, but
 * assoc of one over the other stores it (as Clojure's assoc does), also
 * nested, also for the empty ones; in vectors too.  The key stays. */
Test(map, an_equal_sequence_of_another_kind_is_stored) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  static const char *const pairs[][2] = {
      {"[1 2]", "(1 2)"}, {"[]", "()"}, {"{:a [[1]]}", "{:a [(1)]}"}, {"#{[1]}", "#{(1)}"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    eve_val a, b, m, m2, k = I(t, 7), got, vec, vec2;
    EVE_OK(eve_read_edn(t, pairs[i][0], strlen(pairs[i][0]), &a, NULL));
    EVE_OK(eve_read_edn(t, pairs[i][1], strlen(pairs[i][1]), &b, NULL));
    int eq;
    EVE_OK(eve_equal(t, a, b, &eq));
    cr_assert(eq, "%s = %s", pairs[i][0], pairs[i][1]);
    m = assoc(t, EVE_V_EMPTY_MAP, k, a);
    m2 = assoc(t, m, k, b);
    cr_assert_neq(m2, m, "assoc of %s over %s kept the map", pairs[i][1], pairs[i][0]);
    got = get(t, m2, k);
    cr_assert_str_eq(t_edn(t, got), pairs[i][1]);
    cr_assert_eq(assoc(t, m2, k, b), m2, "the same value again: no change");
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, a, &vec));
    EVE_OK(eve_vec_assoc(t, vec, 0, b, &vec2));
    cr_assert_neq(vec2, vec, "vector assoc of %s over %s", pairs[i][1], pairs[i][0]);
    EVE_OK(eve_vec_nth(t, vec2, 0, &got));
    cr_assert_str_eq(t_edn(t, got), pairs[i][1]);
  }
  eve_txn_end(t);
  eve_close(d);
}

Test(map, persistence) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 3000 };
  eve_val versions[N + 1];
  versions[0] = EVE_V_EMPTY_MAP;
  for (int i = 0; i < N; i++) versions[i + 1] = assoc(t, versions[i], I(t, i), I(t, i * 2));
  /* updates and removals on the last version leave every older one intact */
  eve_val m = versions[N];
  for (int i = 0; i < N; i += 2) m = assoc(t, m, I(t, i), I(t, -1));
  for (int i = 1; i < N; i += 4) m = dissoc(t, m, I(t, i));
  for (int v = 0; v <= N; v += 97) {
    cr_assert_eq(count_of(t, versions[v]), (uint64_t)v);
    for (int i = 0; i < N; i++) {
      eve_val out;
      int rc = eve_map_get(t, versions[v], I(t, i), &out);
      if (i < v) {
        cr_assert_eq(rc, 0);
        cr_assert_eq(geti(t, out), i * 2);
      } else {
        cr_assert_eq(rc, EVE_ENOTFOUND);
      }
    }
    EVE_OK(map_check(t, versions[v]));
  }
  cr_assert_eq(count_of(t, m), N - N / 4);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, wrong_type) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val k = KW(t, "a"), out, set, m = assoc(t, EVE_V_EMPTY_MAP, k, I(t, 1));
  EVE_OK(eve_set_conj(t, EVE_V_EMPTY_SET, k, &set));
  eve_val bad[] = {I(t, 5), I(t, BIG), EVE_V_TRUE, EVE_V_EMPTY_SET, EVE_V_EMPTY_VECTOR,
                   EVE_V_EMPTY_LIST, S(t, "str"), S(t, "a long string, boxed"), KW(t, "kw"),
                   set};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    EVE_ERR(eve_map_get(t, bad[i], k, &out), EVE_ETYPE);
    EVE_ERR(eve_map_assoc(t, bad[i], k, k, &out), EVE_ETYPE);
    EVE_ERR(eve_map_dissoc(t, bad[i], k, &out), EVE_ETYPE);
    EVE_ERR(eve_map_merge(t, bad[i], m, &out), EVE_ETYPE);
    EVE_ERR(eve_map_merge(t, m, bad[i], &out), EVE_ETYPE);
  }
  /* a type error is not sticky */
  cr_assert_eq(eve_txn_error(t), 0);
  cr_assert_eq(geti(t, get(t, m, k)), 1);
  EVE_ERR(eve_map_get(t, m, k, NULL), EVE_EINVAL);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, read_only_txn) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP;
  /* even ids give immediate keys: a read txn cannot box new ones */
  for (int i = 0; i < 100; i++) m = assoc(t, m, key_of(t, 2 * (uint64_t)i), I(t, i));
  t_publish(d, t, "m", m);
  EVE_OK(eve_txn_end(t));
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  m = t_deref(d, r, "m");
  eve_val out;
  EVE_ERR(eve_map_assoc(r, m, I(r, 1000), I(r, 1), &out), EVE_ETXN);
  EVE_ERR(eve_map_assoc(r, EVE_V_EMPTY_MAP, I(r, 1000), I(r, 1), &out), EVE_ETXN);
  EVE_ERR(eve_map_assoc(r, m, I(r, 0), I(r, 0), &out), EVE_ETXN); /* even a no-op */
  EVE_ERR(eve_map_dissoc(r, m, I(r, 0), &out), EVE_ETXN);
  EVE_ERR(eve_map_merge(r, m, m, &out), EVE_ETXN);
  /* reading works, and the published map is intact */
  cr_assert_eq(count_of(r, m), 100);
  for (int i = 0; i < 100; i++) cr_assert_eq(geti(r, get(r, m, key_of(r, 2 * (uint64_t)i))), i);
  EVE_OK(map_check(r, m));
  eve_txn_end(r);
  eve_close(d);
}

/* Build a text key of type ty from a deterministic string of n bytes (ASCII
 * with a 2-byte character when there is room, so UTF-8 is exercised). */
static size_t text_key(uint64_t id, size_t n, char *buf) {
  for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (id + i * 7) % 26);
  if (n >= 4) memcpy(buf + n / 2 - 1, "\xc3\xa9", 2); /* é */
  return n;
}

static int make_text(eve_txn *t, eve_type ty, const char *s, size_t n, eve_val *out) {
  return ty == EVE_STRING ? eve_string(t, s, n, out)
       : ty == EVE_KEYWORD ? eve_keyword(t, s, n, out) : eve_symbol(t, s, n, out);
}

/* eve_map_get_text finds exactly what eve_map_get finds for the boxed key,
 * inline and boxed, hashed (>= 32 bytes) and not, across collisions, and
 * tells a string from a keyword or symbol with the same bytes. */
static void get_text_run(void) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  static const eve_type types[3] = {EVE_STRING, EVE_KEYWORD, EVE_SYMBOL};
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  char buf[80];
  for (uint64_t id = 0; id < 600; id++) {
    size_t n = text_key(id, 1 + id % 70, buf);
    if (id % 5 == 4) continue; /* absent keys, looked up below */
    EVE_OK(make_text(t, types[id % 3], buf, n, &k));
    m = assoc(t, m, k, I(t, (int64_t)id));
  }
  t_publish(d, t, "m", m);
  EVE_OK(eve_txn_end(t));
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r)); /* no allocation needed */
  m = t_deref(d, r, "m");
  for (uint64_t id = 0; id < 600; id++) {
    size_t n = text_key(id, 1 + id % 70, buf);
    for (int ty = 0; ty < 3; ty++) {
      int rc = eve_map_get_text(r, m, types[ty], buf, n, &v);
      if (id % 5 != 4 && ty == (int)(id % 3)) {
        cr_assert_eq(rc, 0, "key %llu (%zu bytes, type %d): %s", (unsigned long long)id, n, ty,
                     eve_err_name(rc));
        cr_assert_eq(geti(r, v), (int64_t)id);
      } else {
        cr_assert_eq(rc, EVE_ENOTFOUND, "key %llu as type %d: %s", (unsigned long long)id, ty,
                     eve_err_name(rc));
      }
    }
  }
  EVE_OK(eve_txn_end(r));
  eve_close(d);
}

Test(map, get_text_without_boxing) { get_text_run(); }

Test(map, get_text_under_collisions) {
  eve__test_set_hash_mask(0x3);
  get_text_run();
  eve__test_set_hash_mask(~0ull);
}

Test(map, get_text_refuses_what_a_constructor_refuses) {
  eve_domain *d = t_open_mem();
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  eve_val v, m = EVE_V_EMPTY_MAP;
  EVE_ERR(eve_map_get_text(r, m, EVE_STRING, "a", 1, &v), EVE_ENOTFOUND);
  EVE_ERR(eve_map_get_text(r, EVE_V_NIL, EVE_STRING, "", 0, &v), EVE_ENOTFOUND);
  EVE_ERR(eve_map_get_text(r, m, EVE_INT, "1", 1, &v), EVE_EINVAL);
  EVE_ERR(eve_map_get_text(r, m, EVE_KEYWORD, "", 0, &v), EVE_EINVAL);
  EVE_ERR(eve_map_get_text(r, m, EVE_STRING, "bad \xff utf-8", 13, &v), EVE_EINVAL);
  EVE_ERR(eve_map_get_text(r, m, EVE_STRING, NULL, 3, &v), EVE_EINVAL);
  EVE_ERR(eve_map_get_text(r, m, EVE_STRING, "a", 1, NULL), EVE_EINVAL);
  EVE_ERR(eve_map_get_text(r, EVE_V_EMPTY_VECTOR, EVE_STRING, "a", 1, &v), EVE_ETYPE);
  EVE_OK(eve_txn_end(r));
  eve_close(d);
}

/* A random scalar of every kind eve_scalar describes, with the edges that
 * matter for a probe: integers on both sides of the immediate range, NaN
 * and -0.0, texts inline and boxed (hashed or not), empty bytes. */
static void random_scalar(uint64_t *rng, char *buf, eve_scalar *k) {
  static const int64_t ints[] = {0, -1, (INT64_C(1) << 60) - 1, -(INT64_C(1) << 60),
                                 INT64_C(1) << 60, -(INT64_C(1) << 60) - 1, INT64_MAX, INT64_MIN};
  static const double floats[] = {0.0, -0.0, 1.5, -2.25, 1e300};
  memset(k, 0, sizeof *k);
  k->type = (eve_type)t_below(rng, EVE_BYTES + 1);
  switch (k->type) {
  case EVE_BOOL: k->as.b = (int)t_below(rng, 2); break;
  case EVE_INT:
    if (t_below(rng, 2)) { /* near an edge, wrapping past INT64_MAX / MIN */
      uint64_t step = t_below(rng, 3);
      k->as.i = (int64_t)((uint64_t)ints[t_below(rng, 8)] + (t_below(rng, 2) ? step : -step));
    } else {
      k->as.i = (int64_t)t_rand(rng);
    }
    break;
  case EVE_FLOAT:
    k->as.f = t_below(rng, 4) == 0 ? NAN : t_below(rng, 2) ? floats[t_below(rng, 5)]
                                        : (double)(int64_t)t_rand(rng) / 1024.0;
    break;
  case EVE_CHAR: k->as.c = (uint32_t)t_below(rng, 0xD000); break;
  case EVE_UUID: for (int i = 0; i < 16; i++) k->as.uuid[i] = (uint8_t)(t_below(rng, 3)); break;
  case EVE_INST: k->as.ms = (int64_t)t_rand(rng) >> t_below(rng, 60); break;
  case EVE_STRING: case EVE_KEYWORD: case EVE_SYMBOL: case EVE_BYTES: {
    size_t n = (size_t)t_below(rng, 3) == 0 ? 1 + t_below(rng, 7) : t_below(rng, 70);
    if (n == 0 && k->type != EVE_STRING && k->type != EVE_BYTES) n = 1;
    k->as.text.s = buf;
    k->as.text.n = text_key(t_below(rng, 5), n, buf);
    break;
  }
  default: break; /* nil */
  }
}

/* The value an eve_scalar describes, built with the constructors. */
static int build_scalar(eve_txn *t, const eve_scalar *k, eve_val *out) {
  switch (k->type) {
  case EVE_NIL: *out = EVE_V_NIL; return 0;
  case EVE_BOOL: return eve_bool(k->as.b, out);
  case EVE_INT: return eve_int(t, k->as.i, out);
  case EVE_FLOAT: return eve_float(t, k->as.f, out);
  case EVE_CHAR: return eve_char(k->as.c, out);
  case EVE_UUID: return eve_uuid(t, k->as.uuid, out);
  case EVE_INST: return eve_inst(t, k->as.ms, out);
  case EVE_BYTES: return eve_bytes(t, k->as.text.s, k->as.text.n, out);
  default: return make_text(t, k->type, k->as.text.s, k->as.text.n, out);
  }
}

/* eve_map_get_scalar and eve_set_contains_scalar, in a read transaction,
 * answer exactly what eve_map_get and eve_set_contains answer for the
 * built value (which the test builds in a write transaction beside it),
 * for present and absent keys of every scalar type. */
static void get_scalar_run(uint64_t seed) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = seed;
  eve_val m = EVE_V_EMPTY_MAP, s = EVE_V_EMPTY_SET, k;
  char buf[80];
  for (int i = 0; i < 400; i++) {
    eve_scalar sc;
    random_scalar(&rng, buf, &sc);
    EVE_OK(build_scalar(t, &sc, &k));
    m = assoc(t, m, k, I(t, i));
    EVE_OK(eve_set_conj(t, s, k, &s));
  }
  eve_val both[2] = {m, s};
  t = t_carry(d, t, "both", both, 2);
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r)); /* allocates nothing */
  eve_val rm = t_deref(d, r, "both"), rs;
  EVE_OK(eve_vec_nth(r, rm, 1, &rs));
  EVE_OK(eve_vec_nth(r, rm, 0, &rm));
  rng = seed; /* the same keys again, then as many others */
  for (int i = 0; i < 800; i++) {
    eve_scalar sc;
    random_scalar(&rng, buf, &sc);
    eve_val want, got;
    EVE_OK(build_scalar(t, &sc, &k));
    int want_rc = eve_map_get(t, both[0], k, &want), got_rc = eve_map_get_scalar(r, rm, &sc, &got);
    cr_assert_eq(got_rc, want_rc, "key %d (%s): %s, wanted %s", i, eve_type_name(sc.type),
                 eve_err_name(got_rc), eve_err_name(want_rc));
    if (i < 400) cr_assert_eq(got_rc, 0, "key %d (%s) was put", i, eve_type_name(sc.type));
    if (!got_rc) cr_assert_eq(geti(r, got), geti(t, want));
    int in_set, want_in;
    EVE_OK(eve_set_contains_scalar(r, rs, &sc, &in_set));
    EVE_OK(eve_set_contains(t, both[1], k, &want_in));
    cr_assert_eq(in_set, want_in, "element %d (%s)", i, eve_type_name(sc.type));
  }
  EVE_OK(eve_txn_end(r));
  EVE_OK(eve_txn_end(t));
  eve_close(d);
}

Test(map, get_scalar_without_boxing) { get_scalar_run(t_seed(7)); }

Test(map, get_scalar_under_collisions) {
  eve__test_set_hash_mask(0x7);
  get_scalar_run(t_seed(8));
  eve__test_set_hash_mask(~0ull);
}

Test(map, get_scalar_refuses_what_a_constructor_refuses) {
  eve_domain *d = t_open_mem();
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  eve_val v, m = EVE_V_EMPTY_MAP;
  int in;
  eve_scalar k = {.type = EVE_MAP};
  EVE_ERR(eve_map_get_scalar(r, m, &k, &v), EVE_EINVAL);
  EVE_ERR(eve_set_contains_scalar(r, EVE_V_EMPTY_SET, &k, &in), EVE_EINVAL);
  k = (eve_scalar){.type = EVE_CHAR, .as.c = 0xD800};
  EVE_ERR(eve_map_get_scalar(r, m, &k, &v), EVE_EINVAL);
  k = (eve_scalar){.type = EVE_KEYWORD, .as.text = {"", 0}};
  EVE_ERR(eve_map_get_scalar(r, m, &k, &v), EVE_EINVAL);
  k = (eve_scalar){.type = EVE_STRING, .as.text = {"bad \xff utf-8", 13}};
  EVE_ERR(eve_map_get_scalar(r, m, &k, &v), EVE_EINVAL);
  k = (eve_scalar){.type = EVE_BYTES, .as.text = {"\xff", 1}}; /* bytes need no UTF-8 */
  EVE_ERR(eve_map_get_scalar(r, m, &k, &v), EVE_ENOTFOUND);
  EVE_ERR(eve_map_get_scalar(r, m, NULL, &v), EVE_EINVAL);
  EVE_ERR(eve_map_get_scalar(r, m, &k, NULL), EVE_EINVAL);
  EVE_ERR(eve_map_get_scalar(r, EVE_V_EMPTY_VECTOR, &k, &v), EVE_ETYPE);
  EVE_ERR(eve_set_contains_scalar(r, m, &k, &in), EVE_ETYPE);
  EVE_OK(eve_txn_end(r));
  eve_close(d);
}

Test(map, corrupt_word_is_sticky) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val one = I(t, 1), m = assoc(t, EVE_V_EMPTY_MAP, one, I(t, 2)), out;
  EVE_ERR(eve_map_get(t, (eve_val)1 << 40, one, &out), EVE_ECORRUPT);
  EVE_ERR(eve_map_get(t, m, one, &out), EVE_ECORRUPT);
  EVE_ERR(eve_map_assoc(t, m, one, one, &out), EVE_ECORRUPT);
  EVE_ERR(eve_map_get(t, m, (eve_val)1 << 40, &out), EVE_ECORRUPT);
  eve_txn_end(t);
  eve_close(d);
}

/* Damage a published map's nodes in place (a test may: it owns the domain)
 * and check that readers report EVE_ECORRUPT instead of crashing or
 * looping, and that map_check finds what readers cannot see. */
static int iterate_all(eve_txn *t, eve_val m) {
  eve_iter it;
  int rc = eve_iter_init(t, m, &it);
  for (int i = 0; rc == 0 && i < 100000; i++) rc = eve_iter_next(&it, NULL, NULL);
  return rc;
}

static int get_all(eve_txn *t, eve_val m, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    eve_val out;
    int rc = eve_map_get(t, m, I(t, (int64_t)i), &out);
    if (rc) return rc;
  }
  return 0;
}

Test(map, corrupt_nodes_detected) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 200 };
  eve_val m = EVE_V_EMPTY_MAP, str = S(t, "a boxed string, not a node");
  for (int i = 0; i < N; i++) m = assoc(t, m, I(t, i), I(t, i));
  /* published in place: the atoms keep the words m and str valid after t */
  t_publish(d, t, "m", m);
  t_publish(d, t, "str", str);
  EVE_OK(eve_txn_end(t));
  champ_node *root = region_ptr(d, m);
  cr_assert_gt(__builtin_popcount(root->nodemap), 1);
  champ_node saved = *root;
  size_t kids = 2 * (size_t)__builtin_popcount(root->datamap);
  uint64_t child0 = root->w[kids], child1 = root->w[kids + 1];
  eve_txn *r;

  /* intact */
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  cr_assert_eq(t_deref(d, r, "m"), m);
  cr_assert_eq(t_deref(d, r, "str"), str);
  EVE_ERR(iterate_all(r, m), EVE_END);
  EVE_OK(get_all(r, m, N));
  EVE_OK(map_check(r, m));
  eve_txn_end(r);

  /* a count that disagrees with the trie */
  root->count++;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  EVE_ERR(map_check(r, m), EVE_ECORRUPT);
  EVE_ERR(iterate_all(r, m), EVE_ECORRUPT);
  eve_txn_end(r);
  *root = saved;

  /* overlapping bitmaps */
  root->datamap |= root->nodemap & -root->nodemap;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  eve_val zero = I(r, 0), out;
  EVE_ERR(get_all(r, m, N), EVE_ECORRUPT);
  EVE_ERR(eve_map_get(r, m, zero, &out), EVE_ECORRUPT); /* sticky */
  eve_txn_end(r);
  *root = saved;

  /* a child that is not a node, one that is the root itself (a cycle), a
   * misaligned one, one past the end of the domain */
  uint64_t bad[] = {str, m, child0 + 8, (uint64_t)1 << 39};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    root->w[kids] = bad[i];
    EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
    EVE_ERR(iterate_all(r, m), EVE_ECORRUPT);
    eve_txn_end(r);
    EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
    EVE_ERR(get_all(r, m, N), EVE_ECORRUPT);
    eve_txn_end(r);
    EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
    EVE_ERR(map_check(r, m), EVE_ECORRUPT);
    eve_txn_end(r);
  }
  /* two children swapped: readers cannot tell, the checker can */
  root->w[kids] = child1;
  root->w[kids + 1] = child0;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  EVE_ERR(map_check(r, m), EVE_ECORRUPT);
  EVE_ERR(iterate_all(r, m), EVE_END);
  eve_txn_end(r);
  root->w[kids] = child0;
  root->w[kids + 1] = child1;

  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  EVE_OK(map_check(r, m));
  eve_txn_end(r);
  eve_close(d);
}

Test(map, iteration_yields_every_entry_once) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 5000 };
  eve_val m = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < N; i++) m = assoc(t, m, key_of(t, i), I(t, (int64_t)i * 3));
  static unsigned char seen[N];
  eve_iter it;
  eve_val k, v;
  uint64_t n = 0;
  int rc;
  EVE_OK(eve_iter_init(t, m, &it));
  while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
    uint64_t id = id_of(t, k);
    cr_assert_lt(id, N);
    cr_assert_not(seen[id], "key %" PRIu64 " seen twice", id);
    seen[id] = 1;
    cr_assert_eq(geti(t, v), (int64_t)id * 3);
    n++;
  }
  EVE_ERR(rc, EVE_END);
  EVE_ERR(eve_iter_next(&it, &k, &v), EVE_END); /* stays at the end */
  cr_assert_eq(n, N);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, merge) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val a = EVE_V_EMPTY_MAP, b = EVE_V_EMPTY_MAP, out;
  for (int i = 0; i < 300; i++) a = assoc(t, a, I(t, i), S(t, "a"));
  for (int i = 250; i < 270; i++) b = assoc(t, b, I(t, i), S(t, "b"));
  /* big a, small b, and the reverse: b's entries win either way */
  for (int pass = 0; pass < 2; pass++) {
    eve_val x = pass ? b : a, y = pass ? a : b;
    EVE_OK(eve_map_merge(t, x, y, &out));
    EVE_OK(map_check(t, out));
    cr_assert_eq(count_of(t, out), 300);
    for (int i = 0; i < 300; i++) {
      const char *want = !pass && i >= 250 && i < 270 ? "b" : "a";
      cr_assert(equal(t, get(t, out, I(t, i)), S(t, want)), "pass %d key %d", pass, i);
    }
  }
  /* disjoint maps */
  eve_val c = assoc(t, assoc(t, EVE_V_EMPTY_MAP, KW(t, "x"), I(t, 1)), KW(t, "y"), I(t, 2));
  EVE_OK(eve_map_merge(t, c, a, &out));
  cr_assert_eq(count_of(t, out), 302);
  cr_assert_eq(geti(t, get(t, out, KW(t, "y"))), 2);
  /* merging a sub-map with equal values changes nothing */
  eve_val sub = EVE_V_EMPTY_MAP;
  for (int i = 0; i < 10; i++) sub = assoc(t, sub, I(t, i), S(t, "a"));
  EVE_OK(eve_map_merge(t, a, sub, &out));
  cr_assert_eq(out, a);
  EVE_OK(eve_map_merge(t, sub, a, &out));
  cr_assert(equal(t, out, a));
  eve_txn_end(t);
  eve_close(d);
}

Test(map, nested_maps_as_values_and_keys) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val m1 = EVE_V_EMPTY_MAP, m2 = EVE_V_EMPTY_MAP;
  for (int i = 0; i < 40; i++) m1 = assoc(t, m1, key_of(t, (uint64_t)i), I(t, i));
  for (int i = 39; i >= 0; i--) m2 = assoc(t, m2, key_of(t, (uint64_t)i), I(t, i));
  cr_assert_neq(m1, m2);
  cr_assert(equal(t, m1, m2));
  /* a map as a key: an equal map built elsewhere finds it */
  eve_val outer = assoc(t, EVE_V_EMPTY_MAP, m1, S(t, "found"));
  outer = assoc(t, outer, EVE_V_EMPTY_MAP, S(t, "empty"));
  cr_assert(equal(t, get(t, outer, m2), S(t, "found")));
  cr_assert(equal(t, get(t, outer, EVE_V_EMPTY_MAP), S(t, "empty")));
  cr_assert_eq(assoc(t, outer, m2, S(t, "found")), outer);
  eve_val m3 = assoc(t, m2, KW(t, "extra"), I(t, 0)), out;
  EVE_ERR(eve_map_get(t, outer, m3, &out), EVE_ENOTFOUND);
  /* a map as a value */
  eve_val o1 = assoc(t, assoc(t, EVE_V_EMPTY_MAP, KW(t, "inner"), m1), KW(t, "n"), I(t, 1));
  eve_val o2 = assoc(t, assoc(t, EVE_V_EMPTY_MAP, KW(t, "n"), I(t, 1)), KW(t, "inner"), m2);
  cr_assert_eq(get(t, o1, KW(t, "inner")), m1);
  cr_assert(equal(t, o1, o2));
  cr_assert_eq(hash_of(t, o1), hash_of(t, o2));
  cr_assert_eq(assoc(t, o1, KW(t, "inner"), m2), o1); /* equal value: no change */
  eve_val o3 = assoc(t, o1, KW(t, "inner"), m3);
  cr_assert_not(equal(t, o1, o3));
  cr_assert(equal(t, get(t, o3, KW(t, "inner")), m3));
  cr_assert_neq(hash_of(t, o1), hash_of(t, o3));
  EVE_OK(map_check(t, outer));
  EVE_OK(map_check(t, o3));
  eve_txn_end(t);
  eve_close(d);
}

Test(map, equality_and_hash_ignore_history) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 4000 };
  eve_val a = EVE_V_EMPTY_MAP, b = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < N; i++) a = assoc(t, a, key_of(t, i), I(t, (int64_t)i));
  for (uint64_t i = N; i-- > 0;) b = assoc(t, b, key_of(t, (i * 7919) % N), I(t, (int64_t)((i * 7919) % N)));
  /* detours: add extra keys to b and take them out again */
  for (uint64_t i = N; i < N + 500; i++) b = assoc(t, b, key_of(t, i), I(t, 0));
  for (uint64_t i = N; i < N + 500; i++) b = dissoc(t, b, key_of(t, i));
  cr_assert_neq(a, b);
  cr_assert(equal(t, a, b));
  cr_assert_eq(hash_of(t, a), hash_of(t, b));
  uint64_t nodes = 0;
  cr_assert(same_shape(t, a, b, 0, &nodes));
  /* one value differs: not equal, hash differs */
  eve_val c = assoc(t, b, key_of(t, 17), I(t, -1));
  cr_assert_not(equal(t, a, c));
  cr_assert_neq(hash_of(t, a), hash_of(t, c));
  /* one key fewer */
  cr_assert_not(equal(t, a, dissoc(t, b, key_of(t, 17))));
  /* a map is not a set of the same keys, and {k v} is not {v k} */
  eve_val s = EVE_V_EMPTY_SET;
  for (uint64_t i = 0; i < 10; i++) EVE_OK(eve_set_conj(t, s, key_of(t, i), &s));
  eve_val m10 = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < 10; i++) m10 = assoc(t, m10, key_of(t, i), key_of(t, i));
  cr_assert_not(equal(t, s, m10));
  eve_val kv = assoc(t, EVE_V_EMPTY_MAP, I(t, 1), I(t, 2));
  eve_val vk = assoc(t, EVE_V_EMPTY_MAP, I(t, 2), I(t, 1));
  cr_assert_not(equal(t, kv, vk));
  cr_assert_neq(hash_of(t, kv), hash_of(t, vk));
  eve_txn_end(t);
  eve_close(d);
}

/* Insert keys, delete some: the trie must be the one built from the
 * remaining keys alone. */
static void canonical_shape_run(uint64_t n, uint64_t seed) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = seed;
  unsigned char *keep = calloc(n, 1);
  eve_val a = EVE_V_EMPTY_MAP, b = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < n; i++) a = assoc(t, a, key_of(t, i), I(t, (int64_t)i));
  for (uint64_t i = 0; i < n; i++) keep[i] = t_below(&rng, 10) < 3;
  for (uint64_t i = 0; i < n; i++)
    if (!keep[i]) a = dissoc(t, a, key_of(t, i));
  for (uint64_t i = n; i-- > 0;)
    if (keep[i]) b = assoc(t, b, key_of(t, i), I(t, (int64_t)i));
  EVE_OK(map_check(t, a));
  EVE_OK(map_check(t, b));
  uint64_t na = 0, nb = 0;
  cr_assert(same_shape(t, a, b, 0, &na), "seed %" PRIu64 ": shapes differ", seed);
  cr_assert(same_shape(t, b, a, 0, &nb));
  cr_assert_eq(na, nb);
  cr_assert(equal(t, a, b));
  /* and deleting everything gives the empty map */
  for (uint64_t i = 0; i < n; i++) a = dissoc(t, a, key_of(t, i));
  cr_assert_eq(a, EVE_V_EMPTY_MAP);
  free(keep);
  eve_txn_end(t);
  eve_close(d);
}

Test(map, canonical_shape) { canonical_shape_run(t_scale(20000), t_seed(42)); }

Test(map, canonical_shape_deep_chains) {
  /* 10-bit hashes: many keys share their whole hash, so deletions must
   * collapse chains of single-child nodes and collision nodes */
  eve__test_set_hash_mask(0x3FF);
  canonical_shape_run(t_scale(4000), t_seed(43));
  eve__test_set_hash_mask(~0ull);
}

Test(map, all_hashes_collide) {
  eve__test_set_hash_mask(0);
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 300 };
  eve_val m = EVE_V_EMPTY_MAP, out;
  for (uint64_t i = 0; i < N; i++) {
    m = assoc(t, m, key_of(t, i), I(t, (int64_t)i));
    cr_assert_eq(count_of(t, m), i + 1);
  }
  EVE_OK(map_check(t, m));
  /* a chain of 13 single-child nodes ending in one collision node */
  cr_assert_eq(max_depth(t, m, 0), CHAMP_COLL_LEVEL);
  for (uint64_t i = 0; i < N; i++) cr_assert_eq(geti(t, get(t, m, key_of(t, i))), (int64_t)i);
  EVE_ERR(eve_map_get(t, m, key_of(t, N), &out), EVE_ENOTFOUND);
  m = assoc(t, m, key_of(t, 5), I(t, -5));
  cr_assert_eq(geti(t, get(t, m, key_of(t, 5))), -5);
  cr_assert_eq(assoc(t, m, key_of(t, 5), I(t, -5)), m);
  cr_assert_eq(dissoc(t, m, key_of(t, N)), m);
  uint64_t rng = t_seed(7);
  uint64_t order[N];
  for (uint64_t i = 0; i < N; i++) order[i] = i;
  for (uint64_t i = N - 1; i > 0; i--) {
    uint64_t j = t_below(&rng, i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  for (uint64_t i = 0; i < N; i++) {
    m = dissoc(t, m, key_of(t, order[i]));
    cr_assert_eq(count_of(t, m), N - i - 1);
    if (i % 37 == 0) EVE_OK(map_check(t, m));
    if (i == N - 2) {
      /* one key left: inlined all the way up into the root */
      const champ_node *root = node_at(t, m, 0);
      cr_assert_eq(root->nodemap, 0);
      cr_assert_eq(__builtin_popcount(root->datamap), 1);
      cr_assert_eq(geti(t, get(t, m, key_of(t, order[N - 1]))), order[N - 1] == 5 ? -5 : (int64_t)order[N - 1]);
    }
  }
  cr_assert_eq(m, EVE_V_EMPTY_MAP);
  eve_txn_end(t);
  eve_close(d);
  eve__test_set_hash_mask(~0ull);
}

/* ---- model-based randomised test ------------------------------------------ */

/* The reference: a direct table id -> value plus the dense list of live ids
 * (for picking a present key in O(1)). */
typedef struct model {
  eve_txn *t;
  uint64_t seed, rng, op;
  const char *phase;
  uint64_t space;          /* ids are in [0, space)                 */
  int64_t *val;
  uint32_t *live, *pos;    /* live[pos[id]] == id for present ids   */
  uint64_t nlive;
  uint32_t *seen, stamp;   /* for the full comparisons              */
  eve_val m;
} model;

#define MSG "seed %" PRIu64 " op %" PRIu64 " (%s)"
/* An assertion without Criterion's per-pass bookkeeping, for hot loops. */
#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond)) cr_assert_fail(__VA_ARGS__);                                 \
  } while (0)
#define MARGS M->seed, M->op, M->phase

static int has(const model *M, uint64_t id) {
  return M->pos[id] < M->nlive && M->live[M->pos[id]] == id;
}

static void ref_put(model *M, uint64_t id, int64_t v) {
  if (!has(M, id)) {
    M->pos[id] = (uint32_t)M->nlive;
    M->live[M->nlive++] = (uint32_t)id;
  }
  M->val[id] = v;
}

static void ref_del(model *M, uint64_t id) {
  uint32_t p = M->pos[id], last = M->live[--M->nlive];
  M->live[p] = last;
  M->pos[last] = p;
  M->pos[id] = UINT32_MAX;
}

static uint64_t pick_live(model *M) { return M->live[t_below(&M->rng, M->nlive)]; }

static uint64_t pick_absent(model *M) {
  uint64_t id = t_below(&M->rng, M->space);
  for (int i = 0; i < 64 && has(M, id); i++) id = t_below(&M->rng, M->space);
  return id;
}

static int64_t random_value(model *M) {
  uint64_t r = t_rand(&M->rng);
  return r & 1 ? (int64_t)(r >> 44) : (int64_t)r; /* immediate or (mostly) boxed */
}

static void do_assoc(model *M, uint64_t id, int64_t v) {
  eve_txn *t = M->t;
  eve_val k = key_of(t, id), val = I(t, v), out;
  size_t before = t->nfresh;
  int same = has(M, id) && M->val[id] == v;
  cr_assert_eq(eve_map_assoc(t, M->m, k, val, &out), 0, MSG, MARGS);
  if (same) {
    cr_assert_eq(out, M->m, MSG ": assoc of the bound value changed the map", MARGS);
    cr_assert_eq(t->nfresh, before, MSG ": no-op assoc allocated", MARGS);
  } else {
    cr_assert_neq(out, M->m, MSG, MARGS);
    ref_put(M, id, v);
  }
  M->m = out;
}

static void do_dissoc(model *M, uint64_t id) {
  eve_txn *t = M->t;
  eve_val k = key_of(t, id), out;
  size_t before = t->nfresh;
  cr_assert_eq(eve_map_dissoc(t, M->m, k, &out), 0, MSG, MARGS);
  if (!has(M, id)) {
    cr_assert_eq(out, M->m, MSG ": dissoc of an absent key changed the map", MARGS);
    cr_assert_eq(t->nfresh, before, MSG ": no-op dissoc allocated", MARGS);
  } else {
    cr_assert_neq(out, M->m, MSG, MARGS);
    ref_del(M, id);
    if (M->nlive == 0) cr_assert_eq(out, EVE_V_EMPTY_MAP, MSG, MARGS);
  }
  M->m = out;
}

static void do_get(model *M, uint64_t id) {
  eve_txn *t = M->t;
  eve_val out;
  int rc = eve_map_get(t, M->m, key_of(t, id), &out);
  if (has(M, id)) {
    cr_assert_eq(rc, 0, MSG ": key %" PRIu64 " missing", MARGS, id);
    cr_assert_eq(geti(t, out), M->val[id], MSG ": key %" PRIu64 " wrong value", MARGS, id);
  } else {
    cr_assert_eq(rc, EVE_ENOTFOUND, MSG ": key %" PRIu64 " present", MARGS, id);
  }
}

/* Iterate the whole map and compare with the reference. */
static void full_compare(model *M) {
  eve_txn *t = M->t;
  eve_iter it;
  eve_val k, v;
  uint64_t n = 0;
  int rc;
  M->stamp++;
  EVE_OK(eve_iter_init(t, M->m, &it));
  while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
    uint64_t id = id_of(t, k);
    CHECK(id < M->space && has(M, id), MSG ": stray key %" PRIu64, MARGS, id);
    CHECK(M->seen[id] != M->stamp, MSG ": key %" PRIu64 " twice", MARGS, id);
    M->seen[id] = M->stamp;
    CHECK(geti(t, v) == M->val[id], MSG ": key %" PRIu64 " wrong value", MARGS, id);
    n++;
  }
  cr_assert_eq(rc, EVE_END, MSG ": %s", MARGS, eve_err_name(rc));
  cr_assert_eq(n, M->nlive, MSG ": iterated %" PRIu64 " of %" PRIu64, MARGS, n, M->nlive);
}

/* A kept old version and the reference contents it had. */
typedef struct snapshot {
  eve_val m;
  uint64_t n;
  uint32_t *ids;
  int64_t *vals;
} snapshot;

static void snap_take(model *M, snapshot *s) {
  free(s->ids);
  free(s->vals);
  s->m = M->m;
  s->n = M->nlive;
  s->ids = malloc((M->nlive + 1) * sizeof *s->ids);
  s->vals = malloc((M->nlive + 1) * sizeof *s->vals);
  for (uint64_t i = 0; i < M->nlive; i++) {
    s->ids[i] = M->live[i];
    s->vals[i] = M->val[M->live[i]];
  }
}

static void snap_verify(model *M, const snapshot *s) {
  eve_txn *t = M->t;
  if (!s->ids) return;
  cr_assert_eq(count_of(t, s->m), s->n, MSG ": old version's count changed", MARGS);
  for (uint64_t i = 0; i < s->n; i++) {
    eve_val out;
    cr_assert_eq(eve_map_get(t, s->m, key_of(t, s->ids[i]), &out), 0, MSG, MARGS);
    cr_assert_eq(geti(t, out), s->vals[i], MSG ": old version changed", MARGS);
  }
  cr_assert_eq(map_check(t, s->m), 0, MSG, MARGS);
}

/* Rebuild the current contents from scratch in a random order: it must be
 * equal, hash equal, and have exactly the same trie. */
static void rebuild_compare(model *M) {
  eve_txn *t = M->t;
  uint32_t *order = malloc((M->nlive + 1) * sizeof *order);
  memcpy(order, M->live, M->nlive * sizeof *order);
  for (uint64_t i = M->nlive; i > 1; i--) {
    uint64_t j = t_below(&M->rng, i);
    uint32_t x = order[i - 1];
    order[i - 1] = order[j];
    order[j] = x;
  }
  eve_val fresh = EVE_V_EMPTY_MAP;
  for (uint64_t i = 0; i < M->nlive; i++)
    fresh = assoc(t, fresh, key_of(t, order[i]), I(t, M->val[order[i]]));
  free(order);
  cr_assert(equal(t, fresh, M->m), MSG ": rebuilt map not equal", MARGS);
  cr_assert_eq(hash_of(t, fresh), hash_of(t, M->m), MSG, MARGS);
  if (M->nlive) {
    uint64_t nodes = 0;
    cr_assert(same_shape(t, fresh, M->m, 0, &nodes), MSG ": shape depends on history", MARGS);
  }
}

static void checkpoint(model *M) {
  cr_assert_eq(count_of(M->t, M->m), M->nlive, MSG, MARGS);
  if (M->op % 1000 == 0) full_compare(M);
  if (M->op % 25000 == 0) cr_assert_eq(map_check(M->t, M->m), 0, MSG, MARGS);
}

/* One random operation; weights in percent: new key, update (or re-assoc
 * of the same value), remove present, remove absent, get. */
static void step(model *M, int w_new, int w_upd, int w_del, int w_del_absent) {
  int r = (int)t_below(&M->rng, 100);
  M->op++;
  if (r < w_new || M->nlive == 0) {
    if (r < w_new) do_assoc(M, pick_absent(M), random_value(M));
    else do_get(M, pick_absent(M));
  } else if ((r -= w_new) < w_upd) {
    uint64_t id = pick_live(M);
    do_assoc(M, id, t_below(&M->rng, 3) ? random_value(M) : M->val[id]);
  } else if ((r -= w_upd) < w_del) {
    do_dissoc(M, pick_live(M));
  } else if ((r -= w_del) < w_del_absent) {
    do_dissoc(M, pick_absent(M));
  } else {
    do_get(M, t_below(&M->rng, 2) ? pick_live(M) : pick_absent(M));
  }
  checkpoint(M);
}

static void model_run(uint64_t n, uint64_t churn, uint64_t seed) {
  eve_domain *d = t_open_mem();
  model M0 = {.t = t_wtxn(d), .seed = seed, .rng = seed, .space = 2 * n + 16,
              .m = EVE_V_EMPTY_MAP};
  model *M = &M0;
  M->val = calloc(M->space, sizeof *M->val);
  M->live = calloc(M->space, sizeof *M->live);
  M->pos = malloc(M->space * sizeof *M->pos);
  M->seen = calloc(M->space, sizeof *M->seen);
  memset(M->pos, 0xff, M->space * sizeof *M->pos);
  snapshot snaps[4] = {{0}};
  unsigned nsnap = 0;

  M->phase = "grow";
  while (M->nlive < n) {
    step(M, 70, 10, 5, 2);
    if (M->op % (n / 3 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  uint64_t peak = M->nlive;
  full_compare(M);
  cr_assert_eq(map_check(M->t, M->m), 0, MSG, MARGS);
  rebuild_compare(M);

  M->phase = "churn";
  for (uint64_t i = 0; i < churn; i++) {
    step(M, 25, 20, 25, 5);
    if (i % (churn / 3 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  full_compare(M);
  rebuild_compare(M);

  M->phase = "shrink";
  while (M->nlive > 0) {
    step(M, 5, 10, 65, 5);
    if (M->op % (n / 2 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  full_compare(M);
  cr_assert_eq(M->m, EVE_V_EMPTY_MAP, MSG, MARGS);

  M->phase = "old versions";
  for (unsigned i = 0; i < 4; i++) snap_verify(M, &snaps[i]);
  cr_log_info("map model: seed %" PRIu64 ", %" PRIu64 " ops, peak %" PRIu64 " keys", seed,
              M->op, peak);
  cr_assert_geq(peak, n);
  for (unsigned i = 0; i < 4; i++) {
    free(snaps[i].ids);
    free(snaps[i].vals);
  }
  free(M->val);
  free(M->live);
  free(M->pos);
  free(M->seen);
  eve_txn_end(M->t);
  eve_close(d);
}

Test(map_model, random_ops_100k, .timeout = 600) {
  model_run(t_scale(100000), t_scale(60000), t_seed(0x6d6170));
}

Test(map_model, hash_mask_fff, .timeout = 600) {
  eve__test_set_hash_mask(0xFFF);
  model_run(t_scale(2000), t_scale(4000), t_seed(0xfff));
  eve__test_set_hash_mask(~0ull);
}

Test(map_model, hash_mask_3, .timeout = 600) {
  eve__test_set_hash_mask(0x3);
  model_run(t_scale(1000), t_scale(2000), t_seed(3));
  eve__test_set_hash_mask(~0ull);
}

Test(map_model, hash_mask_0, .timeout = 600) {
  eve__test_set_hash_mask(0);
  model_run(300, 600, t_seed(0));
  eve__test_set_hash_mask(~0ull);
}
