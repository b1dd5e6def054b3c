/* test_set.c — the CHAMP set: unit tests, canonical shape, and model-based
 * randomised tests (also under truncated hashes that force collisions). */
#define _GNU_SOURCE
#include "champ_support.h"

/* ---- helpers ------------------------------------------------------------- */

static eve_val sconj(eve_txn *t, eve_val s, eve_val x) {
  eve_val out;
  EVE_OK(eve_set_conj(t, s, x, &out));
  return out;
}

static eve_val sdisj(eve_txn *t, eve_val s, eve_val x) {
  eve_val out;
  EVE_OK(eve_set_disj(t, s, x, &out));
  return out;
}

static int contains(eve_txn *t, eve_val s, eve_val x) {
  int c = -1;
  EVE_OK(eve_set_contains(t, s, x, &c));
  cr_assert(c == 0 || c == 1);
  return c;
}

static eve_val elem_of(eve_txn *t, uint64_t id) { return mixed_value(t, id, "elem"); }

static int same_shape(eve_txn *t, uint64_t a, uint64_t b, unsigned level, uint64_t *nodes) {
  return champ_same_shape(t, &champ_set_kind, a, b, level, nodes);
}

/* ---- unit tests ------------------------------------------------------------ */

Test(set, empty_and_nil) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val x = KW(t, "a");
  cr_assert_eq(count_of(t, EVE_V_EMPTY_SET), 0);
  cr_assert_not(contains(t, EVE_V_EMPTY_SET, x));
  cr_assert_not(contains(t, EVE_V_NIL, x));
  cr_assert_eq(sdisj(t, EVE_V_EMPTY_SET, x), EVE_V_EMPTY_SET);
  cr_assert_eq(sdisj(t, EVE_V_NIL, x), EVE_V_NIL);
  eve_val s = sconj(t, EVE_V_NIL, x);
  eve_type ty;
  EVE_OK(eve_type_get(t, s, &ty));
  cr_assert_eq(ty, EVE_SET);
  cr_assert_eq(count_of(t, s), 1);
  cr_assert(contains(t, s, x));
  cr_assert_eq(sdisj(t, s, x), EVE_V_EMPTY_SET);
  eve_iter it;
  EVE_OK(eve_iter_init(t, EVE_V_EMPTY_SET, &it));
  EVE_ERR(eve_iter_next(&it, NULL, NULL), EVE_END);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, conj_contains_disj) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val xs[] = {I(t, 1), I(t, -7), I(t, BIG), S(t, "short"), S(t, "a longer string elem"),
                  KW(t, "kw"), KW(t, "some.ns/long-keyword"), EVE_V_NIL, EVE_V_TRUE,
                  EVE_V_FALSE, EVE_V_EMPTY_SET, EVE_V_EMPTY_MAP};
  size_t n = sizeof xs / sizeof *xs;
  eve_val s = EVE_V_EMPTY_SET;
  for (size_t i = 0; i < n; i++) {
    s = sconj(t, s, xs[i]);
    cr_assert_eq(count_of(t, s), i + 1);
    EVE_OK(set_check(t, s));
  }
  for (size_t i = 0; i < n; i++) cr_assert(contains(t, s, xs[i]));
  cr_assert(contains(t, s, S(t, "a longer string elem")));
  cr_assert(contains(t, s, I(t, BIG)));
  cr_assert_not(contains(t, s, I(t, 2)));
  cr_assert_not(contains(t, s, S(t, "shor")));
  eve_val f;
  EVE_OK(eve_float(t, 1.0, &f));
  cr_assert_not(contains(t, s, f));
  for (size_t i = 0; i < n; i++) {
    s = sdisj(t, s, xs[i]);
    cr_assert_eq(count_of(t, s), n - i - 1);
    cr_assert_not(contains(t, s, xs[i]));
    for (size_t j = i + 1; j < n; j++) cr_assert(contains(t, s, xs[j]));
    EVE_OK(set_check(t, s));
  }
  cr_assert_eq(s, EVE_V_EMPTY_SET);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, no_change_returns_same_word_without_allocating) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val s = EVE_V_EMPTY_SET;
  for (uint64_t i = 0; i < 2000; i++) s = sconj(t, s, elem_of(t, i));
  for (uint64_t i = 0; i < 2000; i += 7) {
    eve_val x = elem_of(t, i), absent = elem_of(t, i + 100000);
    size_t before = t->nfresh;
    cr_assert_eq(sconj(t, s, x), s, "conj of a member changed the set");
    cr_assert_eq(sdisj(t, s, absent), s, "disj of a non-member changed the set");
    cr_assert_eq(t->nfresh, before, "a no-op allocated %zu blocks", t->nfresh - before);
  }
  eve_txn_end(t);
  eve_close(d);
}

Test(set, persistence) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 3000 };
  eve_val versions[N + 1];
  versions[0] = EVE_V_EMPTY_SET;
  for (int i = 0; i < N; i++) versions[i + 1] = sconj(t, versions[i], I(t, i));
  eve_val s = versions[N];
  for (int i = 1; i < N; i += 3) s = sdisj(t, s, I(t, i));
  for (int i = N; i < N + 500; i++) s = sconj(t, s, I(t, i));
  for (int v = 0; v <= N; v += 97) {
    cr_assert_eq(count_of(t, versions[v]), (uint64_t)v);
    for (int i = 0; i < N + 500; i++) cr_assert_eq(contains(t, versions[v], I(t, i)), i < v);
    EVE_OK(set_check(t, versions[v]));
  }
  cr_assert_eq(count_of(t, s), N - N / 3 + 500);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, wrong_type) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val x = KW(t, "a"), out, map, s = sconj(t, EVE_V_EMPTY_SET, x);
  int c;
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, x, x, &map));
  eve_val bad[] = {I(t, 5), I(t, BIG), EVE_V_TRUE, EVE_V_EMPTY_MAP, EVE_V_EMPTY_VECTOR,
                   EVE_V_EMPTY_LIST, S(t, "str"), S(t, "a long string, boxed"), KW(t, "kw"),
                   map};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    EVE_ERR(eve_set_contains(t, bad[i], x, &c), EVE_ETYPE);
    EVE_ERR(eve_set_conj(t, bad[i], x, &out), EVE_ETYPE);
    EVE_ERR(eve_set_disj(t, bad[i], x, &out), EVE_ETYPE);
    /* and a set is not a map */
    EVE_ERR(eve_map_get(t, s, x, &out), EVE_ETYPE);
  }
  cr_assert_eq(eve_txn_error(t), 0);
  cr_assert(contains(t, s, x));
  EVE_ERR(eve_set_contains(t, s, x, NULL), EVE_EINVAL);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, read_only_txn) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val s = EVE_V_EMPTY_SET, out;
  /* even ids give immediate elements: a read txn cannot box new ones */
  for (uint64_t i = 0; i < 100; i++) s = sconj(t, s, elem_of(t, 2 * i));
  t_publish(d, t, "s", s);
  EVE_OK(eve_txn_end(t));
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  s = t_deref(d, r, "s");
  EVE_ERR(eve_set_conj(r, s, I(r, 1000), &out), EVE_ETXN);
  EVE_ERR(eve_set_conj(r, EVE_V_EMPTY_SET, I(r, 1000), &out), EVE_ETXN);
  EVE_ERR(eve_set_conj(r, s, I(r, 0), &out), EVE_ETXN);
  EVE_ERR(eve_set_disj(r, s, I(r, 0), &out), EVE_ETXN);
  cr_assert_eq(count_of(r, s), 100);
  for (uint64_t i = 0; i < 100; i++) cr_assert(contains(r, s, elem_of(r, 2 * i)));
  EVE_OK(set_check(r, s));
  eve_txn_end(r);
  eve_close(d);
}

Test(set, iteration_yields_every_element_once) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 5000 };
  eve_val s = EVE_V_EMPTY_SET, x, v;
  for (uint64_t i = 0; i < N; i++) s = sconj(t, s, elem_of(t, i));
  static unsigned char seen[N];
  eve_iter it;
  uint64_t n = 0;
  int rc;
  EVE_OK(eve_iter_init(t, s, &it));
  while ((rc = eve_iter_next(&it, &x, &v)) == 0) {
    uint64_t id = id_of(t, x);
    cr_assert_lt(id, N);
    cr_assert_not(seen[id], "element %" PRIu64 " seen twice", id);
    cr_assert_eq(v, EVE_V_NIL);
    seen[id] = 1;
    n++;
  }
  EVE_ERR(rc, EVE_END);
  cr_assert_eq(n, N);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, nested_and_equality) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  enum { N = 4000 };
  eve_val a = EVE_V_EMPTY_SET, b = EVE_V_EMPTY_SET;
  for (uint64_t i = 0; i < N; i++) a = sconj(t, a, elem_of(t, i));
  for (uint64_t i = N; i-- > 0;) b = sconj(t, b, elem_of(t, (i * 7919) % N));
  for (uint64_t i = N; i < N + 500; i++) b = sconj(t, b, elem_of(t, i));
  for (uint64_t i = N; i < N + 500; i++) b = sdisj(t, b, elem_of(t, i));
  cr_assert_neq(a, b);
  cr_assert(equal(t, a, b));
  cr_assert_eq(hash_of(t, a), hash_of(t, b));
  uint64_t nodes = 0;
  cr_assert(same_shape(t, a, b, 0, &nodes));
  eve_val c = sdisj(t, b, elem_of(t, 17));
  cr_assert_not(equal(t, a, c));
  cr_assert_neq(hash_of(t, a), hash_of(t, c));
  cr_assert_not(equal(t, a, sconj(t, c, elem_of(t, N + 1))));
  /* sets as elements of sets and as map keys */
  eve_val outer = sconj(t, sconj(t, EVE_V_EMPTY_SET, a), EVE_V_EMPTY_SET);
  cr_assert(contains(t, outer, b));
  cr_assert(contains(t, outer, EVE_V_EMPTY_SET));
  cr_assert_not(contains(t, outer, c));
  cr_assert_eq(sconj(t, outer, b), outer);
  eve_val m, out;
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, a, I(t, 1), &m));
  EVE_OK(eve_map_get(t, m, b, &out));
  cr_assert_eq(out, I(t, 1));
  EVE_OK(set_check(t, outer));
  /* a set of x is not a vector-ish or map-ish thing with x */
  eve_val m1;
  EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, I(t, 1), EVE_V_NIL, &m1));
  cr_assert_not(equal(t, sconj(t, EVE_V_EMPTY_SET, I(t, 1)), m1));
  eve_txn_end(t);
  eve_close(d);
}

static void canonical_shape_run(uint64_t n, uint64_t seed) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = seed;
  unsigned char *keep = calloc(n, 1);
  eve_val a = EVE_V_EMPTY_SET, b = EVE_V_EMPTY_SET;
  for (uint64_t i = 0; i < n; i++) a = sconj(t, a, elem_of(t, i));
  for (uint64_t i = 0; i < n; i++) keep[i] = t_below(&rng, 10) < 3;
  for (uint64_t i = 0; i < n; i++)
    if (!keep[i]) a = sdisj(t, a, elem_of(t, i));
  for (uint64_t i = n; i-- > 0;)
    if (keep[i]) b = sconj(t, b, elem_of(t, i));
  EVE_OK(set_check(t, a));
  EVE_OK(set_check(t, b));
  uint64_t na = 0, nb = 0;
  cr_assert(same_shape(t, a, b, 0, &na), "seed %" PRIu64 ": shapes differ", seed);
  cr_assert(same_shape(t, b, a, 0, &nb));
  cr_assert_eq(na, nb);
  cr_assert(equal(t, a, b));
  for (uint64_t i = 0; i < n; i++) a = sdisj(t, a, elem_of(t, i));
  cr_assert_eq(a, EVE_V_EMPTY_SET);
  free(keep);
  eve_txn_end(t);
  eve_close(d);
}

Test(set, canonical_shape) { canonical_shape_run(t_scale(20000), t_seed(44)); }

Test(set, canonical_shape_deep_chains) {
  eve__test_set_hash_mask(0x3FF);
  canonical_shape_run(t_scale(4000), t_seed(45));
  eve__test_set_hash_mask(~0ull);
}

/* ---- model-based randomised test ------------------------------------------ */

typedef struct model {
  eve_txn *t;
  uint64_t seed, rng, op;
  const char *phase;
  uint64_t space;
  uint32_t *live, *pos;    /* live[pos[id]] == id for members */
  uint64_t nlive;
  uint32_t *seen, stamp;
  eve_val s;
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

static uint64_t pick_live(model *M) { return M->live[t_below(&M->rng, M->nlive)]; }

static uint64_t pick_absent(model *M) {
  uint64_t id = t_below(&M->rng, M->space);
  for (int i = 0; i < 64 && has(M, id); i++) id = t_below(&M->rng, M->space);
  return id;
}

static void do_conj(model *M, uint64_t id) {
  eve_txn *t = M->t;
  eve_val x = elem_of(t, id), out;
  size_t before = t->nfresh;
  cr_assert_eq(eve_set_conj(t, M->s, x, &out), 0, MSG, MARGS);
  if (has(M, id)) {
    cr_assert_eq(out, M->s, MSG ": conj of a member changed the set", MARGS);
    cr_assert_eq(t->nfresh, before, MSG ": no-op conj allocated", MARGS);
  } else {
    cr_assert_neq(out, M->s, MSG, MARGS);
    M->pos[id] = (uint32_t)M->nlive;
    M->live[M->nlive++] = (uint32_t)id;
  }
  M->s = out;
}

static void do_disj(model *M, uint64_t id) {
  eve_txn *t = M->t;
  eve_val x = elem_of(t, id), out;
  size_t before = t->nfresh;
  cr_assert_eq(eve_set_disj(t, M->s, x, &out), 0, MSG, MARGS);
  if (!has(M, id)) {
    cr_assert_eq(out, M->s, MSG ": disj of a non-member changed the set", MARGS);
    cr_assert_eq(t->nfresh, before, MSG ": no-op disj allocated", MARGS);
  } else {
    cr_assert_neq(out, M->s, MSG, MARGS);
    uint32_t p = M->pos[id], last = M->live[--M->nlive];
    M->live[p] = last;
    M->pos[last] = p;
    M->pos[id] = UINT32_MAX;
    if (M->nlive == 0) cr_assert_eq(out, EVE_V_EMPTY_SET, MSG, MARGS);
  }
  M->s = out;
}

static void do_contains(model *M, uint64_t id) {
  int c;
  cr_assert_eq(eve_set_contains(M->t, M->s, elem_of(M->t, id), &c), 0, MSG, MARGS);
  cr_assert_eq(c, has(M, id), MSG ": element %" PRIu64, MARGS, id);
}

static void full_compare(model *M) {
  eve_txn *t = M->t;
  eve_iter it;
  eve_val x;
  uint64_t n = 0;
  int rc;
  M->stamp++;
  EVE_OK(eve_iter_init(t, M->s, &it));
  while ((rc = eve_iter_next(&it, &x, NULL)) == 0) {
    uint64_t id = id_of(t, x);
    CHECK(id < M->space && has(M, id), MSG ": stray element %" PRIu64, MARGS, id);
    CHECK(M->seen[id] != M->stamp, MSG ": element %" PRIu64 " twice", MARGS, id);
    M->seen[id] = M->stamp;
    n++;
  }
  cr_assert_eq(rc, EVE_END, MSG ": %s", MARGS, eve_err_name(rc));
  cr_assert_eq(n, M->nlive, MSG ": iterated %" PRIu64 " of %" PRIu64, MARGS, n, M->nlive);
}

typedef struct snapshot {
  eve_val s;
  uint64_t n;
  uint32_t *ids;
} snapshot;

static void snap_take(model *M, snapshot *s) {
  free(s->ids);
  s->s = M->s;
  s->n = M->nlive;
  s->ids = malloc((M->nlive + 1) * sizeof *s->ids);
  memcpy(s->ids, M->live, M->nlive * sizeof *s->ids);
}

static void snap_verify(model *M, const snapshot *s) {
  if (!s->ids) return;
  cr_assert_eq(count_of(M->t, s->s), s->n, MSG ": old version's count changed", MARGS);
  for (uint64_t i = 0; i < s->n; i++)
    cr_assert(contains(M->t, s->s, elem_of(M->t, s->ids[i])), MSG ": old version changed", MARGS);
  cr_assert_eq(set_check(M->t, s->s), 0, MSG, MARGS);
}

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
  eve_val fresh = EVE_V_EMPTY_SET;
  for (uint64_t i = 0; i < M->nlive; i++) fresh = sconj(t, fresh, elem_of(t, order[i]));
  free(order);
  cr_assert(equal(t, fresh, M->s), MSG ": rebuilt set not equal", MARGS);
  cr_assert_eq(hash_of(t, fresh), hash_of(t, M->s), MSG, MARGS);
  if (M->nlive) {
    uint64_t nodes = 0;
    cr_assert(same_shape(t, fresh, M->s, 0, &nodes), MSG ": shape depends on history", MARGS);
  }
}

static void checkpoint(model *M) {
  cr_assert_eq(count_of(M->t, M->s), M->nlive, MSG, MARGS);
  if (M->op % 1000 == 0) full_compare(M);
  if (M->op % 25000 == 0) cr_assert_eq(set_check(M->t, M->s), 0, MSG, MARGS);
}

/* One random operation; weights in percent: conj new, conj member,
 * disj member, disj non-member, the rest contains. */
static void step(model *M, int w_new, int w_dup, int w_del, int w_del_absent) {
  int r = (int)t_below(&M->rng, 100);
  M->op++;
  if (r < w_new || M->nlive == 0) {
    if (r < w_new) do_conj(M, pick_absent(M));
    else do_contains(M, pick_absent(M));
  } else if ((r -= w_new) < w_dup) {
    do_conj(M, pick_live(M));
  } else if ((r -= w_dup) < w_del) {
    do_disj(M, pick_live(M));
  } else if ((r -= w_del) < w_del_absent) {
    do_disj(M, pick_absent(M));
  } else {
    do_contains(M, t_below(&M->rng, 2) ? pick_live(M) : pick_absent(M));
  }
  checkpoint(M);
}

static void model_run(uint64_t n, uint64_t churn, uint64_t seed) {
  eve_domain *d = t_open_mem();
  model M0 = {.t = t_wtxn(d), .seed = seed, .rng = seed, .space = 2 * n + 16,
              .s = EVE_V_EMPTY_SET};
  model *M = &M0;
  M->live = calloc(M->space, sizeof *M->live);
  M->pos = malloc(M->space * sizeof *M->pos);
  M->seen = calloc(M->space, sizeof *M->seen);
  memset(M->pos, 0xff, M->space * sizeof *M->pos);
  snapshot snaps[4] = {{0}};
  unsigned nsnap = 0;

  M->phase = "grow";
  while (M->nlive < n) {
    step(M, 70, 5, 5, 2);
    if (M->op % (n / 3 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  uint64_t peak = M->nlive;
  full_compare(M);
  cr_assert_eq(set_check(M->t, M->s), 0, MSG, MARGS);
  rebuild_compare(M);

  M->phase = "churn";
  for (uint64_t i = 0; i < churn; i++) {
    step(M, 30, 10, 30, 5);
    if (i % (churn / 3 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  full_compare(M);
  rebuild_compare(M);

  M->phase = "shrink";
  while (M->nlive > 0) {
    step(M, 5, 5, 65, 5);
    if (M->op % (n / 2 + 1) == 0) snap_take(M, &snaps[nsnap++ % 4]);
  }
  full_compare(M);
  cr_assert_eq(M->s, EVE_V_EMPTY_SET, MSG, MARGS);

  M->phase = "old versions";
  for (unsigned i = 0; i < 4; i++) snap_verify(M, &snaps[i]);
  cr_log_info("set model: seed %" PRIu64 ", %" PRIu64 " ops, peak %" PRIu64 " elements", seed,
              M->op, peak);
  cr_assert_geq(peak, n);
  for (unsigned i = 0; i < 4; i++) free(snaps[i].ids);
  free(M->live);
  free(M->pos);
  free(M->seen);
  eve_txn_end(M->t);
  eve_close(d);
}

Test(set_model, random_ops_100k, .timeout = 600) {
  model_run(t_scale(100000), t_scale(60000), t_seed(0x736574));
}

Test(set_model, hash_mask_fff, .timeout = 600) {
  eve__test_set_hash_mask(0xFFF);
  model_run(t_scale(2000), t_scale(4000), t_seed(0xfff));
  eve__test_set_hash_mask(~0ull);
}

Test(set_model, hash_mask_3, .timeout = 600) {
  eve__test_set_hash_mask(0x3);
  model_run(t_scale(1000), t_scale(2000), t_seed(3));
  eve__test_set_hash_mask(~0ull);
}

Test(set_model, hash_mask_0, .timeout = 600) {
  eve__test_set_hash_mask(0);
  model_run(300, 600, t_seed(0));
  eve__test_set_hash_mask(~0ull);
}
