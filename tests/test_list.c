/* test_list.c — persistent lists: unit tests and a model-based randomised
 * test against a plain C array used as a stack. */
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

/* A random value of a random type (immediate and boxed). */
static eve_val rand_val(eve_txn *t, uint64_t *rng) {
  eve_val v = EVE_V_NIL;
  char buf[64];
  uint64_t r = t_rand(rng);
  switch (r % 8) {
  case 0: EVE_OK(eve_int(t, (int64_t)(r >> 8) % 1000 - 500, &v)); break;
  case 1: EVE_OK(eve_int(t, INT64_MIN + (int64_t)(r >> 40), &v)); break; /* boxed */
  case 2: {
    int n = snprintf(buf, sizeof buf, "k%u", (unsigned)(r >> 16) % 1000);
    EVE_OK(eve_keyword(t, buf, (size_t)n, &v));
    break;
  }
  case 3: {
    int n = snprintf(buf, sizeof buf, "a string too long to be inline %u", (unsigned)(r >> 16) % 50);
    EVE_OK(eve_string(t, buf, (size_t)n, &v));
    break;
  }
  case 4: EVE_OK(eve_float(t, (double)(int64_t)(r >> 12) / 3.0, &v)); break;
  case 5: v = (r >> 8) & 1 ? EVE_V_NIL : EVE_V_TRUE; break;
  case 6: v = (r >> 8) & 1 ? EVE_V_EMPTY_LIST : EVE_V_EMPTY_VECTOR; break;
  default: EVE_OK(eve_list_cons(t, ival(t, (int64_t)(r >> 8) % 10), EVE_V_EMPTY_LIST, &v)); break;
  }
  return v;
}

static uint64_t count_of(eve_txn *t, eve_val v) {
  uint64_t n;
  EVE_OK(eve_count(t, v, &n));
  return n;
}

static uint64_t hash_of(eve_txn *t, eve_val v) {
  uint64_t h;
  EVE_OK(eve_hash(t, v, &h));
  return h;
}

static eve_val first(eve_txn *t, eve_val l) {
  eve_val x;
  EVE_OK(eve_list_first(t, l, &x));
  return x;
}

static eve_val rest(eve_txn *t, eve_val l) {
  eve_val x;
  EVE_OK(eve_list_rest(t, l, &x));
  return x;
}

/* The list (xs[n-1] xs[n-2] ... xs[0]): the array is a stack whose top is
 * the list's head. */
static eve_val list_of_stack(eve_txn *t, const eve_val *xs, uint64_t n) {
  eve_val l = EVE_V_EMPTY_LIST;
  for (uint64_t i = 0; i < n; i++) EVE_OK(eve_list_cons(t, xs[i], l, &l));
  return l;
}

/* The hash of the list of stack xs[0..n), from the definition. */
static uint64_t stack_hash(eve_txn *t, const eve_val *xs, uint64_t n) {
  uint64_t raw = 0;
  for (uint64_t i = n; i-- > 0;) raw = raw * HASH_P + val_hash(t, xs[i]);
  return hash_finish(raw, n, HK_SEQ);
}

/* l is the list of stack xs[0..n): count, iteration, rest chain, hash. */
static void check_list(eve_txn *t, eve_val l, const eve_val *xs, uint64_t n, uint64_t seed) {
  cr_assert_eq(count_of(t, l), n, "seed %#llx: count", (unsigned long long)seed);
  if (n == 0) cr_assert_eq(l, EVE_V_EMPTY_LIST, "seed %#llx: empty is the immediate",
                           (unsigned long long)seed);
  eve_iter it;
  EVE_OK(eve_iter_init(t, l, &it));
  eve_val x, y;
  for (uint64_t i = n; i-- > 0;) {
    EVE_OK(eve_iter_next(&it, &x, &y));
    cr_assert_eq(x, xs[i], "seed %#llx: element %llu from the head of %llu",
                 (unsigned long long)seed, (unsigned long long)(n - 1 - i), (unsigned long long)n);
    cr_assert_eq(y, EVE_V_NIL);
  }
  EVE_ERR(eve_iter_next(&it, &x, &y), EVE_END);
  cr_assert_eq(hash_of(t, l), stack_hash(t, xs, n), "seed %#llx: hash of %llu elements",
               (unsigned long long)seed, (unsigned long long)n);
}

/* ---- unit tests --------------------------------------------------------- */

Test(list, empty_and_nil) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val x = ival(t, 9), l;
  for (int k = 0; k < 2; k++) {
    eve_val e = k ? EVE_V_NIL : EVE_V_EMPTY_LIST;
    cr_assert_eq(first(t, e), EVE_V_NIL, "first of the empty list is nil");
    cr_assert_eq(rest(t, e), EVE_V_EMPTY_LIST, "rest of the empty list is the empty list");
    EVE_OK(eve_list_cons(t, x, e, &l));
    cr_assert_eq(count_of(t, l), 1);
    cr_assert_eq(first(t, l), x);
    cr_assert_eq(rest(t, l), EVE_V_EMPTY_LIST, "rest of one element is the empty list");
    eve_type ty;
    EVE_OK(eve_type_get(t, l, &ty));
    cr_assert_eq(ty, EVE_LIST);
  }
  cr_assert_eq(count_of(t, EVE_V_EMPTY_LIST), 0);
  /* nil as an element is a value like any other */
  EVE_OK(eve_list_cons(t, EVE_V_NIL, EVE_V_NIL, &l));
  cr_assert_eq(count_of(t, l), 1);
  cr_assert_eq(first(t, l), EVE_V_NIL);
  eve_iter it;
  eve_val k, v;
  EVE_OK(eve_iter_init(t, EVE_V_EMPTY_LIST, &it));
  EVE_ERR(eve_iter_next(&it, &k, &v), EVE_END);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(list, wrong_types_and_read_txn) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val s, vec, big, out, x = ival(t, 1);
  EVE_OK(eve_string(t, "long enough to be a block", 25, &s));
  EVE_OK(eve_int(t, INT64_MAX, &big));
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, x, &vec));
  eve_val bad[] = {x, EVE_V_FALSE, EVE_V_EMPTY_MAP, EVE_V_EMPTY_VECTOR, s, big, vec};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    EVE_ERR(eve_list_cons(t, x, bad[k], &out), EVE_ETYPE);
    EVE_ERR(eve_list_first(t, bad[k], &out), EVE_ETYPE);
    EVE_ERR(eve_list_rest(t, bad[k], &out), EVE_ETYPE);
  }
  cr_assert_eq(eve_txn_error(t), 0, "a wrong type is not a sticky error");
  EVE_ERR(eve_list_cons(NULL, x, EVE_V_EMPTY_LIST, &out), EVE_EINVAL);
  EVE_ERR(eve_list_first(t, EVE_V_EMPTY_LIST, NULL), EVE_EINVAL);
  eve_val l;
  EVE_OK(eve_list_cons(t, s, EVE_V_EMPTY_LIST, &l));
  EVE_OK(eve_list_cons(t, x, l, &l));
  t_publish(d, t, "l", l);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  l = t_deref(d, t, "l");
  EVE_ERR(eve_list_cons(t, x, l, &out), EVE_ETXN);
  EVE_ERR(eve_list_cons(t, x, EVE_V_NIL, &out), EVE_ETXN);
  cr_assert_eq(first(t, l), x, "reads work in a read txn");
  cr_assert_eq(first(t, rest(t, l)), s);
  cr_assert_eq(count_of(t, l), 2);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(list, cons_first_rest_share_structure) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  eve_val xs[100], l = EVE_V_EMPTY_LIST, ls[101];
  ls[0] = l;
  for (int i = 0; i < 100; i++) {
    xs[i] = ival(t, i * 7);
    EVE_OK(eve_list_cons(t, xs[i], l, &l));
    ls[i + 1] = l;
    cr_assert_eq(count_of(t, l), (uint64_t)i + 1);
    cr_assert_eq(first(t, l), xs[i]);
  }
  size_t before = t->nfresh;
  for (int i = 100; i > 0; i--) {
    cr_assert_eq(rest(t, ls[i]), ls[i - 1], "rest is the existing tail cell");
  }
  cr_assert_eq(t->nfresh, before, "rest allocates nothing");
  /* persistence: two lists sharing a tail, both intact */
  eve_val a, b;
  EVE_OK(eve_list_cons(t, ival(t, -1), ls[50], &a));
  EVE_OK(eve_list_cons(t, ival(t, -2), ls[50], &b));
  cr_assert_eq(rest(t, a), ls[50]);
  cr_assert_eq(rest(t, b), ls[50]);
  check_list(t, ls[100], xs, 100, 0);
  check_list(t, ls[50], xs, 50, 0);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(list, hash_and_equality_match_vectors) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = t_seed(0x115);
  eve_val xs[1200];
  for (int i = 0; i < 1200; i++) xs[i] = rand_val(t, &rng);
  const uint64_t sizes[] = {0, 1, 2, 3, 32, 33, 1056, 1057, 1200};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint64_t n = sizes[k];
    /* the list of stack xs[0..n) reads xs[n-1] ... xs[0]; build the vector
     * in that order */
    eve_val l = list_of_stack(t, xs, n), v = EVE_V_EMPTY_VECTOR;
    for (uint64_t i = n; i-- > 0;) EVE_OK(eve_vec_conj(t, v, xs[i], &v));
    cr_assert_eq(hash_of(t, l), hash_of(t, v), "list and vector of %llu", (unsigned long long)n);
    cr_assert_eq(hash_of(t, l), stack_hash(t, xs, n));
    int eq = 0;
    EVE_OK(eve_equal(t, l, v, &eq));
    cr_assert(eq, "list equals vector of %llu", (unsigned long long)n);
    if (n) {
      EVE_OK(eve_equal(t, rest(t, l), v, &eq));
      cr_assert(!eq);
      /* rest's stored hash agrees with a fresh build of the shorter list */
      cr_assert_eq(hash_of(t, rest(t, l)), hash_of(t, list_of_stack(t, xs, n - 1)));
    }
  }
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(list, long_list_and_an_inner_rest_kept_in_atoms) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  uint64_t rng = t_seed(0x10ad);
  const uint64_t n = 20000;
  eve_val *xs = malloc(n * sizeof *xs), l = EVE_V_NIL, mid = 0;
  for (uint64_t i = 0; i < n; i++) {
    xs[i] = rand_val(t, &rng);
    EVE_OK(eve_list_cons(t, xs[i], l, &l));
    if (i == n / 2 - 1) mid = l;
  }
  /* two atoms: the whole list, and its inner half (shared with the first) */
  t_publish(d, t, "l", l);
  t_publish(d, t, "mid", mid);
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  eve_val junk = EVE_V_EMPTY_LIST; /* reuses whatever the end of the txn freed */
  for (uint64_t i = 0; i < n; i++) EVE_OK(eve_list_cons(t, rand_val(t, &rng), junk, &junk));
  check_list(t, t_deref(d, t, "l"), xs, n, rng);
  check_list(t, t_deref(d, t, "mid"), xs, n / 2, rng);
  EVE_OK(eve_txn_end(t));
  /* dropping the whole list leaves the inner half intact */
  t = t_wtxn(d);
  t_publish(d, t, "l", EVE_V_NIL);
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  junk = EVE_V_EMPTY_LIST; /* reuses the blocks of the dropped outer half */
  for (uint64_t i = 0; i < n; i++) EVE_OK(eve_list_cons(t, rand_val(t, &rng), junk, &junk));
  check_list(t, t_deref(d, t, "mid"), xs, n / 2, rng);
  free(xs);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* Mirror of the documented T_LIST layout (list.c). */
typedef struct raw_cell { blk h; uint64_t count, hash, first, rest; } raw_cell;

static uint64_t raw_cell_new(eve_txn *t, uint64_t count, eve_val first_, eve_val rest_) {
  uint64_t off;
  raw_cell *c = txn_alloc(t, sizeof *c, T_LIST, &off);
  cr_assert_not_null(c);
  c->count = count;
  c->hash = 0;
  c->first = first_;
  c->rest = rest_;
  return off;
}

static raw_cell *raw_at(eve_txn *t, uint64_t off) { return region_ptr(t->d, off); }

Test(list, corrupt_cells_are_reported) {
  eve_domain *d = t_open_mem();
  for (int c = 0; c < 6; c++) {
    eve_txn *t = t_wtxn(d);
    eve_val x = ival(t, 1), out, k, v;
    uint64_t a = raw_cell_new(t, 3, x, EVE_V_EMPTY_LIST);
    uint64_t b = raw_cell_new(t, 2, x, a);
    int rc = 0;
    eve_iter it;
    switch (c) {
    case 0: /* a two-cell cycle: a(3) -> b(2) -> a(3) */
      raw_at(t, a)->rest = b;
      rc = eve_iter_init(t, a, &it);
      while (!rc) rc = eve_iter_next(&it, &k, &v);
      break;
    case 1: /* rest of b is a, whose count is not 1 */
      raw_at(t, a)->rest = b;
      rc = eve_list_rest(t, b, &out);
      break;
    case 2: /* a cell that is its own rest */
      raw_at(t, a)->rest = a;
      rc = eve_list_rest(t, a, &out);
      break;
    case 3: /* count 0 */
      raw_at(t, a)->count = 0;
      rc = eve_list_first(t, a, &out);
      break;
    case 4: /* count 1 but a rest */
      raw_at(t, a)->count = 1;
      raw_at(t, a)->rest = b;
      rc = eve_list_cons(t, x, a, &out);
      break;
    default: /* rest is not a list */
      raw_at(t, a)->rest = x;
      rc = eve_list_first(t, a, &out);
      break;
    }
    cr_assert_eq(rc, EVE_ECORRUPT, "case %d -> %s", c, eve_err_name(rc));
    EVE_ERR(eve_list_first(t, EVE_V_EMPTY_LIST, &out), EVE_ECORRUPT); /* sticky */
    EVE_OK(eve_txn_end(t));
  }
  EVE_OK(eve_close(d));
}

/* The checker verifies each cell against the next (mark.c, check_list):
 * a published list whose middle cell lies about its hash, its count or
 * its depth bound is reported, and a long list checks in linear time. */
Test(list, the_checker_finds_a_damaged_cell_in_a_long_list, .timeout = 60) {
  for (int c = 0; c < 3; c++) {
    eve_domain *d = t_open_mem();
    eve_txn *t = t_wtxn(d);
    eve_val l = EVE_V_EMPTY_LIST, mid = 0, inner;
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, EVE_V_EMPTY_VECTOR, &inner)); /* depth 2 */
    for (int i = 0; i < 100000; i++) {
      EVE_OK(eve_list_cons(t, i == 50000 ? inner : ival(t, i), l, &l));
      if (i == 50000) mid = l;
    }
    t_publish(d, t, "l", l);
    EVE_OK(eve_txn_end(t));
    t_assert_exact(d, "a long list"); /* quadratic, this took minutes */
    t = t_wtxn(d);
    raw_cell *m = raw_at(t, mid);
    if (c == 0) m->hash ^= 1;
    else if (c == 1) m->count++;
    else m->h.aux = (m->h.aux & 0xFFu) | 2u << 8; /* bound 2 < depth 3 */
    EVE_OK(eve_txn_end(t));
    eve_check_report r;
    EVE_ERR(eve_check(d, &r, NULL, NULL), EVE_ECORRUPT);
    cr_assert_gt(r.problems, 0, "case %d", c);
    EVE_OK(eve_close(d));
  }
}

/* ---- model-based randomised test ---------------------------------------- */

#define SNAPS 6

typedef struct snap {
  eve_val l;
  eve_val *xs;
  uint64_t n;
} snap;

typedef struct model {
  eve_txn *t;
  uint64_t seed, rng, ops;
  eve_val l;
  eve_val *xs; /* stack: xs[n-1] is the head */
  uint64_t n, cap;
  snap snaps[SNAPS];
} model;

#define MSG "seed %#llx op %llu (n %llu)", (unsigned long long)m->seed, \
            (unsigned long long)m->ops, (unsigned long long)m->n

static void op_cons(model *m) {
  eve_val x = rand_val(m->t, &m->rng), w;
  EVE_OK(eve_list_cons(m->t, x, m->l, &w));
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 1024;
    m->xs = realloc(m->xs, m->cap * sizeof *m->xs);
    cr_assert_not_null(m->xs);
  }
  m->xs[m->n++] = x;
  cr_assert_eq(rest(m->t, w), m->l, MSG);
  m->l = w;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  cr_assert_eq(first(m->t, w), x, MSG);
}

static void op_rest(model *m) {
  eve_val w = rest(m->t, m->l);
  if (m->n) m->n--;
  m->l = w;
  cr_assert_eq(count_of(m->t, w), m->n, MSG);
  cr_assert_eq(first(m->t, w), m->n ? m->xs[m->n - 1] : EVE_V_NIL, MSG);
  if (!m->n) cr_assert_eq(w, EVE_V_EMPTY_LIST, MSG);
}

/* first, and a short walk down the rests */
static void op_first(model *m) {
  eve_val l = m->l;
  uint64_t steps = t_below(&m->rng, 40);
  for (uint64_t j = 0; j <= steps && j < m->n; j++) {
    cr_assert_eq(first(m->t, l), m->xs[m->n - 1 - j], "walk %llu; " MSG, (unsigned long long)j);
    l = rest(m->t, l);
  }
}

static void snap_take(model *m, int k) {
  snap *s = &m->snaps[k];
  free(s->xs);
  s->xs = malloc((m->n + 1) * sizeof *s->xs);
  memcpy(s->xs, m->xs, m->n * sizeof *s->xs);
  s->n = m->n;
  s->l = m->l;
}

static void snaps_check(model *m) {
  for (int k = 0; k < SNAPS; k++)
    if (m->snaps[k].xs) check_list(m->t, m->snaps[k].l, m->snaps[k].xs, m->snaps[k].n, m->seed);
}

/* End the txn and begin the next one, keeping the current list and the
 * snapshots in an atom (a value outlives its txn only in an atom): their
 * intermediate versions are freed and reused by what follows, and the next
 * txn reads the versions back from the atom. */
static void model_next_txn(model *m, eve_domain *d) {
  eve_val keep[SNAPS + 1];
  keep[0] = m->l;
  for (int k = 0; k < SNAPS; k++) keep[k + 1] = m->snaps[k].xs ? m->snaps[k].l : EVE_V_NIL;
  m->t = t_carry(d, m->t, "model", keep, SNAPS + 1);
  m->l = keep[0];
  for (int k = 0; k < SNAPS; k++) m->snaps[k].l = keep[k + 1];
}

Test(list_model, random_ops_against_array, .timeout = 600) {
  eve_domain *d = t_open_mem();
  model m = {.t = t_wtxn(d), .l = EVE_V_EMPTY_LIST};
  m.seed = m.rng = t_seed(0x1157a);
  const uint64_t total = t_scale(320000), target = t_scale(100000) + 500;
  uint64_t peak = 0, phases = 0;
  int grow = 1;
  for (m.ops = 0; m.ops < total; m.ops++) {
    uint64_t r = t_below(&m.rng, 100);
    if (grow) {
      if (r < 80) op_cons(&m);
      else if (r < 88) op_rest(&m);
      else op_first(&m);
    } else {
      if (r < 80) op_rest(&m);
      else if (r < 88) op_cons(&m);
      else op_first(&m);
    }
    if (m.n > peak) peak = m.n;
    if (grow && m.n >= target) grow = 0, phases++;
    else if (!grow && m.n == 0) grow = 1, phases++;
    if (m.ops % 1000 == 999) check_list(m.t, m.l, m.xs, m.n, m.seed);
    if (m.ops % 15000 == 7) snap_take(&m, (int)t_below(&m.rng, SNAPS));
    if (m.ops % 10000 == 9999) snaps_check(&m);
    if (m.ops % 4096 == 4095) model_next_txn(&m, d);
  }
  check_list(m.t, m.l, m.xs, m.n, m.seed);
  snaps_check(&m);
  cr_assert_geq(peak, target, "seed %#llx: the list reached %llu elements",
                (unsigned long long)m.seed, (unsigned long long)peak);
  cr_assert_geq(phases, 2, "seed %#llx: grew and shrank back", (unsigned long long)m.seed);
  for (int k = 0; k < SNAPS; k++) free(m.snaps[k].xs);
  free(m.xs);
  EVE_OK(eve_txn_end(m.t));
  EVE_OK(eve_close(d));
}
