/* stress_threads.c — the threaded workloads, as a plain program so they can
 * run under ThreadSanitizer (Criterion's runner does not survive TSan's
 * runtime).  Each check prints one line; the last line is
 * "N passed, M failed" and the exit status is non-zero on any failure.
 *
 *   stress_threads [scale-divisor]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"

static int passed, failed;
static long scale = 1;

static void report(int ok, const char *what, const char *detail) {
  printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what, detail ? ": " : "", detail ? detail : "");
  fflush(stdout);
  if (ok) passed++;
  else failed++;
}

static int exact(eve_domain *d, char *why, size_t n) {
  eve_check_report r;
  int rc = eve_check(d, &r, NULL, NULL);
  snprintf(why, n, "check %s, %llu problems, %llu bytes leaked, %llu excess owners%s",
           eve_err_name(rc), (unsigned long long)r.problems, (unsigned long long)r.leaked_bytes,
           (unsigned long long)r.excess_owners, r.settled ? "" : ", counts not verified");
  return rc == 0 && r.leaked_bytes == 0 && r.excess_owners == 0 && r.settled;
}

/* An in-memory domain and one atom in it, or exit: nothing else can run. */
static void open_atom(eve_domain **d, eve_atom **a, const char *name) {
  /* 1 GiB, not the default 1 TiB: TSan's address-space layout may refuse
   * a terabyte reservation */
  eve_options o = {.max_size = 1ull << 30};
  int rc = eve_open(NULL, &o, d);
  if (!rc) rc = eve_atom_open(*d, name, EVE_ATOM_CREATE, a);
  if (rc) {
    printf("FAIL open: %s\n0 passed, 1 failed\n", eve_strerror(rc));
    exit(1);
  }
}

/* ---- counter ------------------------------------------------------------- */

static int inc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  int64_t n = 0;
  if (old != EVE_V_NIL && eve_int_get(t, old, &n)) return EVE_ETYPE;
  return eve_int(t, n + 1, out);
}

typedef struct job {
  eve_domain *d;
  eve_atom *a;
  long n;
  unsigned seed;
  atomic_int *bad;
} job;

static void *count_up(void *arg) {
  job *j = arg;
  for (long i = 0; i < j->n; i++) {
    eve_txn *t;
    if (eve_txn_begin(j->d, EVE_TXN_WRITE, &t)) { atomic_fetch_add(j->bad, 1); return NULL; }
    int rc = eve_swap(t, j->a, inc_fn, NULL, NULL);
    if (rc) {
      fprintf(stderr, "swap: %s\n", eve_strerror(rc));
      atomic_fetch_add(j->bad, 1);
    }
    eve_txn_end(t);
  }
  return NULL;
}

static void counter(void) {
  enum { T = 8 };
  eve_domain *d;
  eve_atom *a;
  atomic_int bad = 0;
  open_atom(&d, &a, "c");
  pthread_t th[T];
  job jobs[T];
  long per = 100000 / scale;
  for (int i = 0; i < T; i++) {
    jobs[i] = (job){d, a, per, (unsigned)i, &bad};
    pthread_create(&th[i], NULL, count_up, &jobs[i]);
  }
  for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
  eve_txn *t;
  eve_val v;
  int64_t n = -1;
  eve_txn_begin(d, EVE_TXN_READ, &t);
  eve_deref(t, a, &v);
  eve_int_get(t, v, &n);
  eve_txn_end(t);
  char why[160];
  snprintf(why, sizeof why, "%lld of %ld, %d errors", (long long)n, T * per, atomic_load(&bad));
  report(n == T * per && !bad, "8 threads increment one counter exactly", why);
  report(exact(d, why, sizeof why), "counter: reclamation exact", why);
  eve_atom_close(a);
  eve_close(d);
}

/* ---- a shared map: writers keep an invariant, readers check it ------------------ */

/* The value is {:total S, k0 v0, k1 v1, ...} with S == the sum of the v.
 * A writer moves `amount` from one key to another and leaves S alone; a
 * reader that ever sees a sum different from S saw a torn version. */
typedef struct move { int64_t from, to, amount; } move;

static int get_int_or0(eve_txn *t, eve_val m, eve_val k, int64_t *out) {
  eve_val v;
  *out = 0;
  int rc = eve_map_get(t, m, k, &v);
  if (rc == EVE_ENOTFOUND) return 0;
  return rc ? rc : eve_int_get(t, v, out);
}

static int move_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  move *mv = arg;
  eve_val m = old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, kf, kt, vf, vt;
  int64_t a, b;
  int rc;
  if ((rc = eve_int(t, mv->from, &kf)) || (rc = eve_int(t, mv->to, &kt)) ||
      (rc = get_int_or0(t, m, kf, &a)) || (rc = eve_int(t, a - mv->amount, &vf)) ||
      (rc = eve_map_assoc(t, m, kf, vf, &m)) || (rc = get_int_or0(t, m, kt, &b)) ||
      (rc = eve_int(t, b + mv->amount, &vt)) || (rc = eve_map_assoc(t, m, kt, vt, out)))
    return rc;
  return 0;
}

static void *mover(void *arg) {
  job *j = arg;
  unsigned s = j->seed;
  for (long i = 0; i < j->n; i++) {
    move mv = {rand_r(&s) % 5000, rand_r(&s) % 5000, rand_r(&s) % 100};
    eve_txn *t;
    if (eve_txn_begin(j->d, EVE_TXN_WRITE, &t)) { atomic_fetch_add(j->bad, 1); return NULL; }
    int rc = eve_swap(t, j->a, move_fn, &mv, NULL);
    if (rc) {
      fprintf(stderr, "move: %s\n", eve_strerror(rc));
      atomic_fetch_add(j->bad, 1);
    }
    eve_txn_end(t);
  }
  return NULL;
}

static void *sum_checker(void *arg) {
  job *j = arg;
  for (long i = 0; i < j->n; i++) {
    eve_txn *t;
    if (eve_txn_begin(j->d, EVE_TXN_READ, &t)) { atomic_fetch_add(j->bad, 1); return NULL; }
    eve_val m, k, v;
    int64_t sum = 0, x;
    eve_iter it;
    int rc = eve_deref(t, j->a, &m);
    if (!rc) rc = eve_iter_init(t, m, &it);
    while (!rc && (rc = eve_iter_next(&it, &k, &v)) == 0)
      if (eve_int_get(t, v, &x) == 0) sum += x;
    if (rc != EVE_END || sum != 0) { /* moves conserve the total 0 */
      fprintf(stderr, "reader: %s, sum %lld\n", eve_strerror(rc), (long long)sum);
      atomic_fetch_add(j->bad, 1);
    }
    eve_txn_end(t);
  }
  return NULL;
}

static void invariant_map(void) {
  enum { W = 3, R = 2 };
  eve_domain *d;
  eve_atom *a;
  atomic_int bad = 0;
  open_atom(&d, &a, "m");
  pthread_t th[W + R];
  job jobs[W + R];
  for (int i = 0; i < W + R; i++) {
    jobs[i] = (job){d, a, i < W ? 20000 / scale : 400 / scale, (unsigned)i * 7919u, &bad};
    pthread_create(&th[i], NULL, i < W ? mover : sum_checker, &jobs[i]);
  }
  for (int i = 0; i < W + R; i++) pthread_join(th[i], NULL);
  char why[160];
  snprintf(why, sizeof why, "%d errors or torn snapshots", atomic_load(&bad));
  report(!bad, "writers and readers of one map: every snapshot whole", why);
  report(exact(d, why, sizeof why), "shared map: reclamation exact", why);
  eve_atom_close(a);
  eve_close(d);
}

int main(int argc, char **argv) {
  if (argc > 1) scale = atol(argv[1]) > 0 ? atol(argv[1]) : 1;
  counter();
  invariant_map();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
