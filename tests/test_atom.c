/* test_atom.c — atoms: open/remove/list, swap/reset/compare-and-set, wait,
 * exact counts across threads, and exact reclamation checked by the
 * checker's ownership invariant and leak accounting. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "commit.h"
#include "inject.h"
#include "support.h"

/* The checker must find no problem and, with everything quiet, no leak. */
static void assert_exact(eve_domain *d, const char *when) { t_assert_exact(d, when); }

static void print_problem(void *ctx, const char *msg) {
  (void)ctx;
  cr_log_error("%s", msg);
}

static void assert_sound(eve_domain *d, const char *when) {
  eve_check_report r;
  int rc = eve_check(d, &r, print_problem, NULL);
  cr_assert_eq(rc, 0, "%s: check: %s (%llu problems)", when, eve_strerror(rc),
               (unsigned long long)r.problems);
}

/* eve_atom_names as EDN text, e.g. ["a" "b"] (static buffer). */
static const char *names_edn(eve_txn *t) {
  static char buf[4096];
  eve_val names[64];
  size_t n = 0, len = 0;
  EVE_OK(eve_atom_names(t, names, 64, &n));
  cr_assert_leq(n, 64);
  len += (size_t)snprintf(buf, sizeof buf, "[");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", t_edn(t, names[i]));
  snprintf(buf + len, sizeof buf - len, "]");
  return buf;
}

static int inc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  int64_t n = 0;
  if (old != EVE_V_NIL) {
    int rc = eve_int_get(t, old, &n);
    if (rc) return rc;
  }
  return eve_int(t, n + 1, out);
}

static int64_t deref_int(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v;
  int64_t n = -1;
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_int_get(t, v, &n));
  EVE_OK(eve_txn_end(t));
  return n;
}

Test(atom, open_create_remove_names) {
  eve_domain *d = t_open_mem();
  eve_atom *a, *b, *c;
  EVE_ERR(eve_atom_open(d, "missing", 0, &a), EVE_ENOTFOUND);
  EVE_ERR(eve_atom_open(d, "", EVE_ATOM_CREATE, &a), EVE_EINVAL);
  EVE_ERR(eve_atom_open(d, "\xff", EVE_ATOM_CREATE, &a), EVE_EINVAL);
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b));
  EVE_OK(eve_atom_open(d, "a-rather-long-atom-name", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_atom_open(d, "b", 0, &c)); /* the same atom */
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_deref(t, b, &v));
  cr_assert_eq(v, EVE_V_NIL, "a new atom holds nil");
  EVE_OK(eve_int(t, 42, &v));
  EVE_OK(eve_reset(t, b, v));
  EVE_OK(eve_deref(t, c, &v));
  int64_t n;
  EVE_OK(eve_int_get(t, v, &n));
  cr_assert_eq(n, 42, "two handles, one atom");
  cr_assert_str_eq(names_edn(t), "[\"a-rather-long-atom-name\" \"b\"]");
  EVE_OK(eve_txn_end(t));

  EVE_OK(eve_atom_remove(d, "b"));
  EVE_ERR(eve_atom_remove(d, "b"), EVE_ENOTFOUND);
  t = t_wtxn(d);
  EVE_ERR(eve_deref(t, c, &v), EVE_EREMOVED);
  EVE_ERR(eve_reset(t, b, EVE_V_TRUE), EVE_EREMOVED);
  uint64_t version;
  EVE_ERR(eve_atom_version_get(c, &version), EVE_EREMOVED);
  cr_assert_str_eq(names_edn(t), "[\"a-rather-long-atom-name\"]");
  EVE_OK(eve_txn_end(t));
  /* a new atom of the same name starts afresh; the old handles stay dead */
  eve_atom *b2;
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b2));
  t = t_wtxn(d);
  EVE_OK(eve_deref(t, b2, &v));
  cr_assert_eq(v, EVE_V_NIL);
  EVE_ERR(eve_deref(t, b, &v), EVE_EREMOVED);
  EVE_ERR(eve_atom_version_get(b, &version), EVE_EREMOVED); /* its cell may be b2's now */
  EVE_OK(eve_atom_version_get(b2, &version));
  EVE_OK(eve_txn_end(t));
  eve_atom_close(a);
  eve_atom_close(b);
  eve_atom_close(b2);
  eve_atom_close(c);
  assert_exact(d, "after removals");
  EVE_OK(eve_close(d));
}

Test(atom, swap_reset_compare_and_set) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "n", EVE_ATOM_CREATE, &a));
  uint64_t v0, v1;
  EVE_OK(eve_atom_version_get(a, &v0));
  eve_txn *t = t_wtxn(d);
  eve_val out, old;
  EVE_OK(eve_swap(t, a, inc_fn, NULL, &out));
  EVE_OK(eve_swap(t, a, inc_fn, NULL, &out));
  cr_assert_str_eq(t_edn(t, out), "2");
  EVE_OK(eve_atom_version_get(a, &v1));
  cr_assert_eq(v1, v0 + 2);
  EVE_OK(eve_deref(t, a, &old));
  eve_val seven;
  EVE_OK(eve_int(t, 7, &seven));
  EVE_ERR(eve_compare_and_set(t, a, EVE_V_NIL, seven), EVE_ECONFLICT);
  EVE_OK(eve_compare_and_set(t, a, old, seven));
  EVE_OK(eve_deref(t, a, &out));
  cr_assert_eq(out, seven);
  /* a swap that returns the same value publishes nothing */
  EVE_OK(eve_atom_version_get(a, &v0));
  EVE_OK(eve_reset(t, a, seven));
  EVE_OK(eve_atom_version_get(a, &v1));
  cr_assert_eq(v0, v1);
  EVE_OK(eve_txn_end(t));
  /* a read txn cannot change an atom */
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_ERR(eve_reset(t, a, EVE_V_NIL), EVE_ETXN);
  EVE_OK(eve_txn_end(t));
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

static int self_swap_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  *out = old;
  return eve_swap(t, arg, inc_fn, NULL, NULL);
}

Test(atom, swap_function_changing_its_own_atom_is_refused) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "x", EVE_ATOM_CREATE, &a));
  eve_txn *t = t_wtxn(d);
  EVE_ERR(eve_swap(t, a, self_swap_fn, a, NULL), EVE_EREENTRY);
  EVE_OK(eve_txn_end(t));
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* ---- threads -------------------------------------------------------------- */

typedef struct counter_job {
  eve_domain *d;
  eve_atom *a;
  int n;
  int failed;
} counter_job;

static void *count_up(void *arg) {
  counter_job *j = arg;
  for (int i = 0; i < j->n; i++) {
    eve_txn *t;
    if (eve_txn_begin(j->d, EVE_TXN_WRITE, &t) != 0) { j->failed = 1; return NULL; }
    if (eve_swap(t, j->a, inc_fn, NULL, NULL) != 0) j->failed = 2;
    eve_txn_end(t);
  }
  return NULL;
}

Test(atom, threads_increment_one_counter_exactly) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "counter", EVE_ATOM_CREATE, &a));
  enum { T = 8 };
  int per = (int)t_scale(100000);
  pthread_t th[T];
  counter_job jobs[T];
  for (int i = 0; i < T; i++) {
    jobs[i] = (counter_job){d, a, per, 0};
    pthread_create(&th[i], NULL, count_up, &jobs[i]);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(jobs[i].failed, 0, "thread %d", i);
  }
  cr_assert_eq(deref_int(d, a), (int64_t)T * per);
  eve_atom_close(a);
  assert_exact(d, "after the counter");
  EVE_OK(eve_close(d));
}

/* ---- exact reclamation of nested updates ------------------------------------ */

typedef struct upd { eve_val path[3]; int depth; eve_val val; int dissoc; } upd;

/* assoc-in / dissoc-in on nested maps, creating maps along the way */
static int assoc_in(eve_txn *t, eve_val m, const eve_val *ks, int n, eve_val v, int dissoc,
                    eve_val *out) {
  if (m == EVE_V_NIL) m = EVE_V_EMPTY_MAP;
  if (n == 1) return dissoc ? eve_map_dissoc(t, m, ks[0], out) : eve_map_assoc(t, m, ks[0], v, out);
  eve_val inner = EVE_V_NIL, updated;
  int rc = eve_map_get(t, m, ks[0], &inner);
  if (rc && rc != EVE_ENOTFOUND) return rc;
  eve_type ty;
  if (inner != EVE_V_NIL && (eve_type_get(t, inner, &ty) || ty != EVE_MAP)) inner = EVE_V_NIL;
  if ((rc = assoc_in(t, inner, ks + 1, n - 1, v, dissoc, &updated))) return rc;
  return eve_map_assoc(t, m, ks[0], updated, out);
}

static int upd_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  upd *u = arg;
  return assoc_in(t, old, u->path, u->depth, u->val, u->dissoc, out);
}

Test(atom, nested_updates_reclaim_exactly) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "m", EVE_ATOM_CREATE, &a));
  uint64_t rng = t_seed(77);
  size_t keys = t_scale(100000), ops = t_scale(1000000);
  eve_txn *t;
  /* load, one transaction per swap (a transaction holds every version its
   * own swaps replace until it ends) */
  for (size_t i = 0; i < keys; i++) {
    t = t_wtxn(d);
    upd u = {.depth = 1};
    EVE_OK(eve_int(t, (int64_t)i, &u.path[0]));
    EVE_OK(eve_string(t, "an initial value string", 23, &u.val));
    EVE_OK(eve_swap(t, a, upd_fn, &u, NULL));
    EVE_OK(eve_txn_end(t));
  }
  assert_exact(d, "after load");
  eve_domain_info loaded, later;
  EVE_OK(eve_domain_info_get(d, &loaded));
  for (size_t i = 0; i < ops; i++) {
    t = t_wtxn(d);
    upd u = {.depth = 1 + (int)t_below(&rng, 3), .dissoc = t_below(&rng, 5) == 0};
    for (int k = 0; k < u.depth; k++) EVE_OK(eve_int(t, (int64_t)t_below(&rng, k ? 8 : keys), &u.path[k]));
    switch (t_below(&rng, 4)) {
    case 0: EVE_OK(eve_int(t, (int64_t)t_rand(&rng), &u.val)); break;
    case 1: EVE_OK(eve_string(t, "a replacement value that is boxed", 33, &u.val)); break;
    case 2: EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, EVE_V_TRUE, &u.val)); break;
    default: u.val = EVE_V_NIL; break;
    }
    EVE_OK(eve_swap(t, a, upd_fn, &u, NULL));
    EVE_OK(eve_txn_end(t));
  }
  assert_exact(d, "after random nested updates");
  EVE_OK(eve_domain_info_get(d, &later));
  /* steady state: replace top-level values by values of one size; once the
   * free lists hold every size in use, the heap must stop growing at all */
  eve_domain_info half, full;
  size_t steady = t_scale(100000);
  for (size_t i = 0; i < 2 * steady; i++) {
    if (i == steady) EVE_OK(eve_domain_info_get(d, &half));
    t = t_wtxn(d);
    upd u = {.depth = 1};
    EVE_OK(eve_int(t, (int64_t)t_below(&rng, keys), &u.path[0]));
    EVE_OK(eve_string(t, "a steady-state value string", 27, &u.val));
    EVE_OK(eve_swap(t, a, upd_fn, &u, NULL));
    EVE_OK(eve_txn_end(t));
  }
  EVE_OK(eve_domain_info_get(d, &full));
  assert_exact(d, "after the steady phase");
  cr_assert_eq(full.bump, half.bump, "the heap grew in steady state: %llu -> %llu bytes",
               (unsigned long long)half.bump, (unsigned long long)full.bump);
  cr_log_info("exactness: %zu keys, %zu nested updates: file %llu bytes after load, "
              "%llu after the updates, %llu in steady state (heap %llu then %llu)",
              keys, ops, (unsigned long long)loaded.file_bytes,
              (unsigned long long)later.file_bytes, (unsigned long long)full.file_bytes,
              (unsigned long long)(half.bump - half.heap_start),
              (unsigned long long)(full.bump - full.heap_start));
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* ---- sharing: values in two places ------------------------------------------- */

static int store_twice_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  eve_val v = *(eve_val *)arg, k1, k2, m;
  int rc;
  if ((rc = eve_keyword(t, "a", 1, &k1)) || (rc = eve_keyword(t, "b", 1, &k2)) ||
      (rc = eve_map_assoc(t, old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, k1, v, &m)) ||
      (rc = eve_map_assoc(t, m, k2, v, out)))
    return rc;
  return 0;
}

static int dissoc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  eve_val k;
  int rc = eve_keyword(t, arg, strlen(arg), &k);
  return rc ? rc : eve_map_dissoc(t, old, k, out);
}

Test(atom, sharing_workloads_are_exact) {
  eve_domain *d = t_open_mem();
  eve_atom *a, *b;
  EVE_OK(eve_atom_open(d, "a", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b));
  eve_txn *t = t_wtxn(d);
  /* one fresh value stored under two keys (S2), then one key dropped */
  eve_val v;
  EVE_OK(eve_read_edn(t, "[1 2 \"a string long enough\" {:x 1}]", 35, &v, NULL));
  EVE_OK(eve_swap(t, a, store_twice_fn, &v, NULL));
  EVE_OK(eve_txn_end(t));
  assert_sound(d, "a value under two keys");
  t = t_wtxn(d);
  EVE_OK(eve_swap(t, a, dissoc_fn, "a", NULL));
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "one of the two keys dropped");

  /* snapshot a into b, change a, then reset b to an old version of a */
  t = t_wtxn(d);
  eve_val snap;
  EVE_OK(eve_deref(t, a, &snap));
  EVE_OK(eve_reset(t, b, snap));
  EVE_OK(eve_swap(t, a, store_twice_fn, &snap, NULL)); /* a holds its old self twice */
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "snapshot into another atom");
  t = t_wtxn(d);
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_reset(t, b, v)); /* move: b takes a's value, a is emptied */
  EVE_OK(eve_reset(t, a, EVE_V_NIL));
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "value moved between atoms");
  t = t_wtxn(d);
  EVE_OK(eve_reset(t, b, EVE_V_NIL));
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "everything dropped");
  eve_check_report r;
  EVE_OK(eve_check(d, &r, NULL, NULL));
  cr_assert_eq(r.blocks, 1 + (r.blocks - 1), "only the registry remains");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ---- a value outlives its transaction only in an atom --------------------
 *
 * eve_txn_commit(t, keep, n) used to end a transaction keeping values no
 * atom held.  Their owner was invisible in the file: one built by assoc on
 * an atom's value read EVE_ECORRUPT once that atom dropped the version
 * (nothing counted it as an owner of the nodes they shared), and one
 * published later was counted SHARED 2 with one incoming word.  It is gone;
 * this is the supported form of the same programs. */

enum { KEPT_N = 2000 };
static const char KEPT_VAL[] = "a value string of some length";

static eve_val kept_key(eve_txn *t, const char *fmt, int i) {
  char k[32];
  int n = snprintf(k, sizeof k, fmt, i);
  eve_val v;
  EVE_OK(eve_string(t, k, (size_t)n, &v));
  return v;
}

/* Reclamation drained: each call runs a pass over what waits. */
static void drain(eve_domain *d) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  EVE_OK(eve_stats_get(d, &st));
}

/* The atom holds the KEPT_N keys with KEPT_VAL, and the extra key if asked. */
static void expect_kept(eve_domain *d, eve_atom *a, int extra, const char *when) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m, v;
  EVE_OK(eve_deref(t, a, &m));
  uint64_t n = 0;
  EVE_OK(eve_count(t, m, &n));
  cr_assert_eq(n, (uint64_t)KEPT_N + (extra != 0), "%s: count %llu", when, (unsigned long long)n);
  char k[32];
  for (int i = 0; i < KEPT_N; i++) {
    int len = snprintf(k, sizeof k, "key-number-%d", i);
    int rc = eve_map_get_text(t, m, EVE_STRING, k, (size_t)len, &v);
    cr_assert_eq(rc, 0, "%s: %s -> %s", when, k, eve_err_name(rc));
    const char *p;
    size_t plen;
    EVE_OK(eve_text_get(t, &v, &p, &plen));
    cr_assert(plen == sizeof KEPT_VAL - 1 && !memcmp(p, KEPT_VAL, plen), "%s: %s's value", when, k);
  }
  int rc = eve_map_get_text(t, m, EVE_STRING, "extra-key-xyz", 13, &v);
  if (extra) {
    cr_assert_eq(rc, 0, "%s: the extra key -> %s", when, eve_err_name(rc));
    cr_assert_eq(v, EVE_V_TRUE, "%s: the extra key's value", when);
  } else {
    cr_assert_eq(rc, EVE_ENOTFOUND, "%s: the extra key -> %s", when, eve_err_name(rc));
  }
  cr_assert_eq(eve_txn_error(t), 0, "%s: %s", when, eve_err_name(eve_txn_error(t)));
  EVE_OK(eve_txn_end(t));
}

/* Fill the atom with an unrelated map, so freed blocks are reused. */
static void churn(eve_domain *d, eve_atom *a) {
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, v;
  for (int i = 0; i < KEPT_N; i++) {
    EVE_OK(eve_string(t, KEPT_VAL, sizeof KEPT_VAL - 1, &v));
    EVE_OK(eve_map_assoc(t, m, kept_key(t, "other-%d", i), v, &m));
  }
  EVE_OK(eve_reset(t, a, m));
  EVE_OK(eve_txn_end(t));
  drain(d);
}

Test(atom, a_value_built_from_an_atoms_value_outlives_it_in_another_atom) {
  eve_domain *d = t_open_mem();
  eve_atom *a, *b;
  EVE_OK(eve_atom_open(d, "a", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b));
  /* txn 1 (kept2.c): a gets the map, b the map plus a key: it shares a's nodes */
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, v, m1;
  for (int i = 0; i < KEPT_N; i++) {
    EVE_OK(eve_string(t, KEPT_VAL, sizeof KEPT_VAL - 1, &v));
    EVE_OK(eve_map_assoc(t, m, kept_key(t, "key-number-%d", i), v, &m));
  }
  EVE_OK(eve_reset(t, a, m));
  EVE_OK(eve_deref(t, a, &m));
  EVE_OK(eve_string(t, "extra-key-xyz", 13, &v));
  EVE_OK(eve_map_assoc(t, m, v, EVE_V_TRUE, &m1));
  EVE_OK(eve_reset(t, b, m1));
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "a and b published");
  /* a's version is replaced, reclaimed, its blocks reused: b owns its share */
  churn(d, a);
  expect_kept(d, b, 1, "after a dropped the shared version");
  assert_exact(d, "after a dropped the shared version");

  /* kept.c: a value that exists already, published in a second atom in a
   * later txn, gets its second owner counted; dropping either leaves the
   * other intact */
  eve_atom *c;
  EVE_OK(eve_atom_open(d, "c", EVE_ATOM_CREATE, &c));
  t = t_wtxn(d);
  EVE_OK(eve_deref(t, b, &v));
  EVE_OK(eve_reset(t, c, v));
  EVE_OK(eve_txn_end(t));
  assert_exact(d, "b's value also in c");
  t = t_wtxn(d);
  EVE_OK(eve_reset(t, b, EVE_V_NIL));
  EVE_OK(eve_txn_end(t));
  drain(d);
  churn(d, a);
  expect_kept(d, c, 1, "after b dropped it");
  assert_exact(d, "after b dropped it");
  t = t_wtxn(d);
  EVE_OK(eve_reset(t, c, EVE_V_NIL));
  EVE_OK(eve_reset(t, a, EVE_V_NIL));
  EVE_OK(eve_txn_end(t));
  drain(d);
  assert_exact(d, "everything dropped");
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_lt(st.live_bytes, 64 * 1024, "only the registry is live: %llu bytes",
               (unsigned long long)st.live_bytes);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_atom_close(b));
  EVE_OK(eve_atom_close(c));
  EVE_OK(eve_close(d));
}

/* Regression: the global epoch used to start at 0, which a slot also uses
 * for "not pinned", so readers that pinned before the first reclamation
 * pass were invisible and their values were freed under them. */
Test(atom, readers_pinned_in_a_new_domain_keep_their_values) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "v", EVE_ATOM_CREATE, &a));
  eve_txn *w = t_wtxn(d);
  const char *first_text = "[\"first value, boxed\" {:k \"another boxed string\"}]";
  const char *next_text = "[\"a replacement, also boxed\" {:k \"and its boxed string\"}]";
  eve_val first;
  EVE_OK(eve_read_edn(w, first_text, strlen(first_text), &first, NULL));
  EVE_OK(eve_reset(w, a, first));
  EVE_OK(eve_txn_end(w));
  eve_txn *r;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r)); /* pinned in the domain's first epoch */
  eve_val seen;
  EVE_OK(eve_deref(r, a, &seen));
  for (int i = 0; i < 1000; i++) { /* many retirements: reclamation runs */
    w = t_wtxn(d);
    eve_val v;
    EVE_OK(eve_read_edn(w, next_text, strlen(next_text), &v, NULL));
    EVE_OK(eve_reset(w, a, v));
    EVE_OK(eve_txn_end(w));
  }
  cr_assert_str_eq(t_edn(r, seen), first_text, "a pinned reader's value was freed under it");
  EVE_OK(eve_txn_end(r));
  eve_atom_close(a);
  assert_exact(d, "after the reader ended");
  EVE_OK(eve_close(d));
}

/* ---- wait ------------------------------------------------------------------ */

typedef struct waiter {
  eve_atom *a;
  uint64_t seen, now;
  int rc;
} waiter;

static void *wait_for_change(void *arg) {
  waiter *w = arg;
  w->rc = eve_wait(w->a, w->seen, 10000, &w->now);
  return NULL;
}

Test(atom, wait_times_out_wakes_on_change_and_sees_removal) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "w", EVE_ATOM_CREATE, &a));
  uint64_t v, now = 0;
  EVE_OK(eve_atom_version_get(a, &v));
  EVE_ERR(eve_wait(a, v, 20, &now), EVE_ETIMEDOUT);
  EVE_OK(eve_wait(a, v + 7, 0, &now)); /* already different: returns at once */
  cr_assert_eq(now, v);

  waiter w = {.a = a, .seen = v};
  pthread_t th;
  pthread_create(&th, NULL, wait_for_change, &w);
  usleep(20000); /* let it sleep on the futex (the test holds either way) */
  eve_txn *t = t_wtxn(d);
  EVE_OK(eve_swap(t, a, inc_fn, NULL, NULL));
  EVE_OK(eve_txn_end(t));
  pthread_join(th, NULL);
  EVE_OK(w.rc);
  cr_assert_eq(w.now, v + 1, "the waiter saw exactly the one change");

  /* a change that publishes nothing does not wake anyone */
  EVE_OK(eve_atom_version_get(a, &v));
  t = t_wtxn(d);
  eve_val cur;
  EVE_OK(eve_deref(t, a, &cur));
  EVE_OK(eve_reset(t, a, cur));
  EVE_OK(eve_txn_end(t));
  EVE_ERR(eve_wait(a, v, 10, &now), EVE_ETIMEDOUT);

  w = (waiter){.a = a, .seen = v};
  pthread_create(&th, NULL, wait_for_change, &w);
  usleep(20000);
  EVE_OK(eve_atom_remove(d, "w"));
  pthread_join(th, NULL);
  cr_assert(w.rc == EVE_EREMOVED || w.rc == 0, "removal ends the wait: %s", eve_err_name(w.rc));
  EVE_ERR(eve_wait(a, 0, 10, &now), EVE_EREMOVED);
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* Regression: a commit that met damage in the old value (here a block
 * marked free) reported a lost race instead of the error, so swap retried
 * forever.  It must fail with EVE_ECORRUPT and change nothing. */
Test(atom, damage_in_the_old_value_fails_the_swap_instead_of_retrying) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "a", EVE_ATOM_CREATE, &a));
  eve_txn *t = t_wtxn(d);
  const char *text = "{:k [\"a boxed string value\"]}";
  eve_val v, inner, k;
  EVE_OK(eve_read_edn(t, text, strlen(text), &v, NULL));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_keyword(t, "k", 1, &k));
  EVE_OK(eve_map_get(t, v, k, &inner));
  EVE_OK(eve_txn_end(t));
  /* damage: mark the inner vector free in place */
  blk *b = region_ptr(d, inner);
  atomic_store(&b->meta, META_MAKE(META_GEN(atomic_load(&b->meta)), 0, 0, BLK_FREE));
  t = t_wtxn(d);
  EVE_ERR(eve_reset(t, a, EVE_V_NIL), EVE_ECORRUPT);
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  eve_val now;
  EVE_OK(eve_deref(t, a, &now));
  cr_assert_eq(now, v, "nothing was published");
  EVE_OK(eve_txn_end(t));
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* Regression: publishing a fresh value that holds a RETIRED block copies
 * the block and repoints the fresh value at the copy.  If that attempt's
 * root CAS then lost, the copy was freed but the caller's value still
 * pointed at it, and the retry read freed memory. */
typedef struct interfere {
  eve_domain *d;
  eve_atom *b;
  int done, busy;
} interfere;

static void make_cas_lose_once(enum commit_pause point, uint64_t off, int won, void *ctx) {
  (void)off;
  (void)won;
  interfere *f = ctx;
  if (point != PAUSE_BEFORE_CAS || f->done || f->busy) return;
  f->busy = 1; /* the reset below commits too, and passes through here */
  eve_txn *t;
  EVE_OK(eve_txn_begin(f->d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_reset(t, f->b, EVE_V_TRUE));
  EVE_OK(eve_txn_end(t));
  f->busy = 0;
  f->done = 1;
}

Test(atom, a_lost_cas_after_copying_a_retired_block_leaves_the_value_intact) {
  eve_domain *d = t_open_mem();
  eve_atom *a, *b;
  EVE_OK(eve_atom_open(d, "a", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b));
  const char *text = "[{:k \"a boxed string value\"}]";
  eve_txn *t = t_wtxn(d);
  eve_val v, x, fresh;
  EVE_OK(eve_read_edn(t, text, strlen(text), &v, NULL));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_vec_nth(t, v, 0, &x));
  /* x is live but RETIRED, as a committer that doomed it and lost leaves it */
  blk *bx = region_ptr(d, x);
  uint64_t m = atomic_load(&bx->meta);
  atomic_store(&bx->meta, (m & ~(uint64_t)BLK_STATE_MASK) | BLK_RETIRED);
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, x, &fresh)); /* the caller's value holds x */
  interfere f = {.d = d, .b = b};
  eve__test_set_commit_pause(make_cas_lose_once, &f);
  EVE_OK(eve_reset(t, b, fresh)); /* attempt 1 copies x and loses; attempt 2 wins */
  eve__test_set_commit_pause(NULL, NULL);
  cr_assert(f.done, "the first attempt was made to lose");
  eve_val now;
  EVE_OK(eve_deref(t, b, &now));
  cr_assert_str_eq(t_edn(t, now), text);
  EVE_OK(eve_txn_end(t));
  assert_sound(d, "after the retried reset");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ---- random swaps, with and without the commit's pair fast path --------------
 * Two domains run the same random swaps: maps, nested maps, a vector and a
 * list, values shared between atoms and under two keys, whole atoms stored
 * in others, several changes in one swap.  The first commits with pairing
 * (commit.c, "pairs"), the second with the general count only.  After every
 * step both must hold the same values; the checker must find the ownership
 * invariant intact in both; at the end nothing may leak. */

#define RS_ATOMS 4 /* 0, 1: maps; 2: a vector; 3: a list */

typedef struct rs_step {
  eve_atom **atoms;
  int self;
  uint64_t seed;
} rs_step;

static eve_val rs_value(eve_txn *t, uint64_t *r) {
  static const char *longs[] = {"a string of more than thirty-two bytes, hashed",
                                "another long string, stored with its hash"};
  eve_val v, x;
  switch (t_below(r, 7)) {
  case 0: EVE_OK(eve_int(t, (int64_t)t_below(r, 100), &v)); break;
  case 1: EVE_OK(eve_int(t, INT64_C(1) << 62, &v)); break; /* boxed */
  case 2: EVE_OK(eve_string(t, "short", 5, &v)); break;
  case 3: {
    const char *l = longs[t_below(r, 2)];
    EVE_OK(eve_string(t, l, strlen(l), &v));
    break;
  }
  case 4:
    v = EVE_V_EMPTY_VECTOR;
    for (uint64_t i = 0, n = 1 + t_below(r, 3); i < n; i++) {
      EVE_OK(eve_string(t, "an element string", 17, &x));
      EVE_OK(eve_vec_conj(t, v, x, &v));
    }
    break;
  case 5:
    EVE_OK(eve_string(t, "a nested value string", 21, &x));
    EVE_OK(eve_map_assoc(t, EVE_V_EMPTY_MAP, EVE_V_TRUE, x, &v));
    break;
  default: v = EVE_V_NIL; break;
  }
  return v;
}

static eve_val rs_key(eve_txn *t, uint64_t *r) {
  eve_val k;
  EVE_OK(eve_int(t, (int64_t)t_below(r, 48), &k));
  return k;
}

static eve_type rs_type(eve_txn *t, eve_val v) {
  eve_type ty = EVE_NIL;
  EVE_OK(eve_type_get(t, v, &ty));
  return ty;
}

static int rs_is(eve_txn *t, eve_val v, eve_type ty) { return rs_type(t, v) == ty; }

static int rs_map_fn(eve_txn *t, eve_val m, rs_step *s, uint64_t *r, eve_val *out) {
  eve_val k = rs_key(t, r), k2 = rs_key(t, r), v, inner, other;
  if (m == EVE_V_NIL || !rs_is(t, m, EVE_MAP)) m = EVE_V_EMPTY_MAP;
  int o = (s->self + 1 + (int)t_below(r, RS_ATOMS - 1)) % RS_ATOMS;
  switch (t_below(r, 9)) {
  case 0: case 1: return eve_map_assoc(t, m, k, rs_value(t, r), out);
  case 2: return eve_map_dissoc(t, m, k, out);
  case 3: /* assoc-in */
    if (eve_map_get(t, m, k, &inner) || !rs_is(t, inner, EVE_MAP)) inner = EVE_V_EMPTY_MAP;
    EVE_OK(eve_map_assoc(t, inner, k2, rs_value(t, r), &inner));
    return eve_map_assoc(t, m, k, inner, out);
  case 4: /* another atom's whole value, stored here */
    EVE_OK(eve_deref(t, s->atoms[o], &other));
    return eve_map_assoc(t, m, k, other, out);
  case 5: /* a value inside another atom, shared */
    EVE_OK(eve_deref(t, s->atoms[o], &other));
    if (!rs_is(t, other, EVE_MAP) || eve_map_get(t, other, k2, &v)) v = EVE_V_FALSE;
    return eve_map_assoc(t, m, k, v, out);
  case 6: /* one fresh value under two keys, and a key dropped, in one swap */
    v = rs_value(t, r);
    EVE_OK(eve_map_assoc(t, m, k, v, &m));
    EVE_OK(eve_map_assoc(t, m, k2, v, &m));
    return eve_map_dissoc(t, m, rs_key(t, r), out);
  case 7: /* this atom's own old value under a key of its new one */
    return eve_map_assoc(t, m, k, m, out);
  default: /* become another atom's value */
    EVE_OK(eve_deref(t, s->atoms[o], &other));
    *out = t_below(r, 4) ? other : EVE_V_NIL;
    return 0;
  }
}

static int rs_vec_fn(eve_txn *t, eve_val v, rs_step *s, uint64_t *r, eve_val *out) {
  uint64_t n = 0;
  if (v == EVE_V_NIL || !rs_is(t, v, EVE_VECTOR)) v = EVE_V_EMPTY_VECTOR;
  EVE_OK(eve_count(t, v, &n));
  eve_val other;
  switch (t_below(r, 5)) {
  case 0: case 1: return eve_vec_conj(t, v, rs_value(t, r), out);
  case 2: if (n) return eve_vec_pop(t, v, out); return eve_vec_conj(t, v, EVE_V_TRUE, out);
  case 3: return eve_vec_assoc(t, v, t_below(r, n + 1), rs_value(t, r), out);
  default:
    EVE_OK(eve_deref(t, s->atoms[t_below(r, 2)], &other));
    return eve_vec_conj(t, v, other, out);
  }
}

static int rs_list_fn(eve_txn *t, eve_val l, rs_step *s, uint64_t *r, eve_val *out) {
  if (!rs_is(t, l, EVE_LIST)) l = EVE_V_EMPTY_LIST;
  eve_val other;
  switch (t_below(r, 4)) {
  case 0: return eve_list_cons(t, rs_value(t, r), l, out);
  case 1: return eve_list_rest(t, l, out);
  case 2:
    EVE_OK(eve_deref(t, s->atoms[2], &other));
    return eve_list_cons(t, other, l, out);
  default: /* two cells at once, the first dropped again */
    EVE_OK(eve_list_cons(t, rs_value(t, r), l, &l));
    EVE_OK(eve_list_cons(t, rs_value(t, r), l, &l));
    return eve_list_rest(t, l, out);
  }
}

static int rs_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  rs_step *s = arg;
  uint64_t r = s->seed; /* the same choices on every call and in both domains */
  if (s->self < 2) return rs_map_fn(t, old, s, &r, out);
  return s->self == 2 ? rs_vec_fn(t, old, s, &r, out) : rs_list_fn(t, old, s, &r, out);
}

/* What the two domains must agree on: type, count and hash of the value.
 * (Values hold each other, so printing them could take exponential time;
 * the hash covers the whole value and costs nothing: collections keep it.) */
typedef struct rs_sum {
  eve_type type;
  uint64_t count, hash;
} rs_sum;

static rs_sum rs_summary(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  eve_val v;
  rs_sum s = {0};
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_deref(t, a, &v));
  s.type = rs_type(t, v);
  if (s.type >= EVE_LIST) EVE_OK(eve_count(t, v, &s.count));
  EVE_OK(eve_hash(t, v, &s.hash));
  EVE_OK(eve_txn_end(t));
  return s;
}

Test(atom, random_swaps_agree_with_and_without_pairs, .timeout = 600) {
  eve_domain *d[2];
  eve_atom *atoms[2][RS_ATOMS];
  static const char *names[RS_ATOMS] = {"m0", "m1", "vec", "list"};
  for (int w = 0; w < 2; w++) {
    d[w] = t_open_mem();
    for (int i = 0; i < RS_ATOMS; i++) EVE_OK(eve_atom_open(d[w], names[i], EVE_ATOM_CREATE, &atoms[w][i]));
  }
  uint64_t rng = t_seed(2026);
  size_t steps = t_scale(6000);
  commit_pair_counts pc;
  eve__test_commit_pair_counts(NULL, 1);
  for (size_t i = 0; i < steps; i++) {
    rs_step s = {.self = (int)t_below(&rng, RS_ATOMS), .seed = t_rand(&rng)};
    for (int w = 0; w < 2; w++) {
      eve__test_set_commit_pairing(w == 0);
      s.atoms = atoms[w];
      eve_txn *t = t_wtxn(d[w]);
      EVE_OK(eve_swap(t, atoms[w][s.self], rs_fn, &s, NULL));
      EVE_OK(eve_txn_end(t));
    }
    for (int a = 0; a < RS_ATOMS; a++) {
      rs_sum x = rs_summary(d[0], atoms[0][a]), y = rs_summary(d[1], atoms[1][a]);
      cr_assert(x.type == y.type && x.count == y.count && x.hash == y.hash,
                "step %zu, atom %s differs: type %d/%d, count %llu/%llu", i, names[a], x.type,
                y.type, (unsigned long long)x.count, (unsigned long long)y.count);
    }
    if (i % 25 == 0 || i + 1 == steps)
      for (int w = 0; w < 2; w++) assert_sound(d[w], w ? "general count" : "pairs");
  }
  eve__test_set_commit_pairing(1);
  eve__test_commit_pair_counts(&pc, 0);
  cr_log_info("random swaps: %zu steps, %llu pairs formed, %llu undone", steps,
              (unsigned long long)pc.formed, (unsigned long long)pc.unpaired);
  cr_assert_gt(pc.formed, steps, "pairs carried most swaps");
  cr_assert_gt(pc.unpaired, 0, "some pairs were undone (their old side lived on)");
  for (int w = 0; w < 2; w++) {
    assert_exact(d[w], w ? "general count, end" : "pairs, end");
    for (int i = 0; i < RS_ATOMS; i++) eve_atom_close(atoms[w][i]);
    EVE_OK(eve_close(d[w]));
  }
}

/* ---- after the root CAS, nothing fails --------------------------------------
 * The swap below wins its CAS and then has to free a dead subtree: a value
 * the atom held alone after another atom let go of it.  Every allocation
 * from the CAS on is made to fail.  The swap must still report success
 * (a caller told it failed would apply it again), bump the version once
 * and wake a waiter; what could not be recorded is counted as skipped, and
 * a full collection returns it. */
static void fail_allocs_after_a_won_cas(enum commit_pause point, uint64_t off, int won,
                                        void *ctx) {
  (void)off;
  (void)ctx;
  if (point == PAUSE_AFTER_CAS && won) eve__test_fail_allocs(1);
}

static int to_text_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)old;
  return eve_read_edn(t, arg, strlen(arg), out, NULL);
}

Test(atom, a_swap_whose_cleanup_runs_out_of_memory_after_the_cas_still_succeeds) {
  eve_domain *d = t_open_mem();
  eve_atom *a, *b;
  EVE_OK(eve_atom_open(d, "a", EVE_ATOM_CREATE, &a));
  EVE_OK(eve_atom_open(d, "b", EVE_ATOM_CREATE, &b));
  const char *text = "{:x \"a boxed string value\" :y [\"another boxed string\" 1 2 3]}";
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_read_edn(t, text, strlen(text), &v, NULL));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_reset(t, b, v)); /* shared: two owners */
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  EVE_OK(eve_reset(t, a, EVE_V_NIL)); /* b is its only owner now */
  EVE_OK(eve_txn_end(t));

  uint64_t before, skipped_before = atomic_load(&d->hdr->skipped_retires);
  EVE_OK(eve_atom_version_get(b, &before));
  waiter w = {.a = b, .seen = before};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, wait_for_change, &w), 0);
  usleep(20000); /* let it sleep on the futex (the test holds either way) */

  const char *next = "[:replaced]";
  eve_val out;
  t = t_wtxn(d);
  eve__test_set_commit_pause(fail_allocs_after_a_won_cas, NULL);
  int rc = eve_swap(t, b, to_text_fn, (void *)next, &out);
  eve__test_set_commit_pause(NULL, NULL);
  uint64_t injected = eve__test_injected_allocs();
  eve__test_fail_allocs(0);
  cr_assert_eq(rc, 0, "the swap reports success: %s", eve_strerror(rc));
  cr_assert_gt(injected, 0, "an allocation after the CAS was made to fail");
  cr_assert_str_eq(t_edn(t, out), next);
  eve_val now;
  EVE_OK(eve_deref(t, b, &now));
  cr_assert_str_eq(t_edn(t, now), next);
  EVE_OK(eve_txn_end(t));

  uint64_t after;
  EVE_OK(eve_atom_version_get(b, &after));
  cr_assert_eq(after, before + 1, "the version moved once");
  pthread_join(th, NULL);
  cr_assert_eq(w.rc, 0, "the waiter woke: %s", eve_strerror(w.rc));
  cr_assert_eq(w.now, after);
  cr_assert_gt(atomic_load(&d->hdr->skipped_retires), skipped_before,
               "what could not be retired is counted");

  eve_gc_report g;
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_gc(d, &g));
  cr_assert_gt(g.reclaimed_bytes, 0, "the collection returns the skipped blocks");
  assert_exact(d, "after the collection");
  EVE_OK(eve_close(d));
}

/* ---- listing and opening in a read transaction ------------------------------ */

typedef struct seen_names {
  char text[8][64];
  size_t n;
  int stop_after;
} seen_names;

static int note_name(void *ctx, const char *name, size_t n) {
  seen_names *s = ctx;
  cr_assert_lt(s->n, 8);
  snprintf(s->text[s->n++], 64, "%.*s", (int)n, name);
  return s->stop_after && (int)s->n == s->stop_after ? 7 : 0;
}

static int by_text(const void *a, const void *b) { return strcmp(a, b); }

Test(atom, names_and_open_work_in_a_read_transaction_and_allocate_nothing) {
  eve_domain *d = t_open_mem();
  const char *want[] = {"zeta", "alpha", "a-name-longer-than-a-word", "b"};
  for (int i = 0; i < 4; i++) {
    eve_atom *a;
    EVE_OK(eve_atom_open(d, want[i], EVE_ATOM_CREATE, &a));
    eve_atom_close(a);
  }
  eve_stats before, after;
  EVE_OK(eve_stats_get(d, &before));
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val names[4];
  size_t n = 0;
  EVE_OK(eve_atom_names(t, NULL, 0, &n));
  cr_assert_eq(n, 4, "cap 0 counts");
  EVE_OK(eve_atom_names(t, names, 2, &n));
  cr_assert_eq(n, 4, "a short buffer still gets the count");
  EVE_OK(eve_atom_names(t, names, 4, &n));
  cr_assert_str_eq(names_edn(t), "[\"a-name-longer-than-a-word\" \"alpha\" \"b\" \"zeta\"]");
  EVE_ERR(eve_atom_names(t, NULL, 3, &n), EVE_EINVAL);

  seen_names s = {0};
  EVE_OK(eve_atom_names_each(t, note_name, &s));
  cr_assert_eq(s.n, 4);
  qsort(s.text, s.n, sizeof s.text[0], by_text);
  cr_assert_str_eq(s.text[0], "a-name-longer-than-a-word");
  cr_assert_str_eq(s.text[3], "zeta");
  seen_names stop = {.stop_after = 2};
  EVE_ERR(eve_atom_names_each(t, note_name, &stop), 7);
  cr_assert_eq(stop.n, 2, "a non-zero return stops the walk");

  eve_atom *a;
  EVE_OK(eve_atom_open(d, "a-name-longer-than-a-word", 0, &a));
  eve_val v;
  EVE_OK(eve_deref(t, a, &v));
  cr_assert_eq(v, EVE_V_NIL);
  eve_atom_close(a);
  EVE_ERR(eve_atom_open(d, "a-name-that-is-not-there", 0, &a), EVE_ENOTFOUND);
  EVE_ERR(eve_atom_open(d, "", 0, &a), EVE_EINVAL);
  EVE_ERR(eve_atom_open(d, "\xff\xfe", 0, &a), EVE_EINVAL);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_stats_get(d, &after));
  cr_assert_eq(after.live_bytes, before.live_bytes, "nothing was allocated in the domain");
  cr_assert_eq(after.retired_bytes, before.retired_bytes, "nor built and freed");
  assert_exact(d, "after listing");
  EVE_OK(eve_close(d));
}

/* ---- swap-vals: the value replaced ---------------------------------------------
 * Two threads increment one counter with eve_swap_vals.  Every (old, new)
 * pair must be (k, k + 1), and the olds of all swaps together must be
 * exactly 0 .. N-1, each once: the old value is the one the winning
 * attempt was given, never one from a lost attempt. */
#define SV_EACH 500

typedef struct sv_job {
  eve_domain *d;
  int64_t olds[SV_EACH];
  const char *failed; /* what went wrong, asserted by the main thread */
} sv_job;

/* Criterion's asserts belong to the test's own thread: a worker records
 * its first failure and stops. */
static const char *swap_vals_once(sv_job *j, eve_atom *a, int i) {
  eve_txn *t;
  if (eve_txn_begin(j->d, EVE_TXN_WRITE, &t)) return "txn_begin failed";
  eve_val old, now;
  int64_t o = 0, n = -1;
  const char *why = NULL;
  if (eve_swap_vals(t, a, inc_fn, NULL, &old, &now)) why = "eve_swap_vals failed";
  else if (old != EVE_V_NIL && eve_int_get(t, old, &o)) why = "old is not an int";
  else if (eve_int_get(t, now, &n)) why = "new is not an int";
  else if (n != o + 1) why = "new is not old + 1";
  j->olds[i] = o;
  eve_txn_end(t);
  return why;
}

static void *swap_vals_up(void *arg) {
  sv_job *j = arg;
  eve_atom *a;
  if (eve_atom_open(j->d, "sv", 0, &a)) {
    j->failed = "atom_open failed";
    return NULL;
  }
  for (int i = 0; i < SV_EACH && !j->failed; i++) j->failed = swap_vals_once(j, a, i);
  eve_atom_close(a);
  return NULL;
}

Test(atom, swap_vals_returns_the_value_each_swap_replaced) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "sv", EVE_ATOM_CREATE, &a));
  static sv_job jobs[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    jobs[i].d = d;
    cr_assert_eq(pthread_create(&th[i], NULL, swap_vals_up, &jobs[i]), 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    cr_assert_null(jobs[i].failed, "thread %d: %s", i, jobs[i].failed);
  }
  static unsigned char seen[2 * SV_EACH];
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < SV_EACH; k++) {
      int64_t o = jobs[i].olds[k];
      cr_assert(o >= 0 && o < 2 * SV_EACH, "old %lld in range", (long long)o);
      cr_assert_eq(seen[o], 0, "old %lld seen once", (long long)o);
      seen[o] = 1;
    }
  cr_assert_eq(deref_int(d, a), 2 * SV_EACH);
  eve_txn *t = t_wtxn(d);
  EVE_ERR(eve_swap_vals(t, a, NULL, NULL, NULL, NULL), EVE_EINVAL);
  eve_val old = EVE_V_TRUE;
  EVE_OK(eve_swap_vals(t, a, inc_fn, NULL, &old, NULL)); /* out may be NULL */
  int64_t o;
  EVE_OK(eve_int_get(t, old, &o));
  cr_assert_eq(o, 2 * SV_EACH);
  EVE_OK(eve_txn_end(t));
  eve_atom_close(a);
  assert_exact(d, "after the swaps");
  EVE_OK(eve_close(d));
}
