/* atom_worker.c — an unrelated process for tests/test_procs.c.
 *
 * The test execs this program, so it shares nothing with the test process
 * but the domain file: no inherited mapping, descriptors or fork handlers.
 *
 *   atom_worker DB inc ATOM N            N increments of a boxed counter
 *   atom_worker DB assoc-in ATOM N SEED ID
 *                                        N steps of atom_worker.h on the
 *                                        nested map, as worker ID
 *   atom_worker DB read ATOM N           N snapshots of the nested map (0:
 *                                        until SIGTERM, then one more), each
 *                                        checked
 *   atom_worker DB hold ATOM             pin a read txn until SIGTERM
 *   atom_worker DB churn ATOM N          N resets of ATOM to a fresh value,
 *                                        then report this process's stats
 *   atom_worker DB gc                    try a full collection, report it
 *
 * Output on stdout, one line per event, flushed at once so that a parent
 * which SIGKILLs us knows exactly what was acknowledged: "open" once the
 * domain and atom are open, then per acknowledged swap the value published
 * (inc: the counter minus AW_COUNTER_BASE; assoc-in: the number of steps
 * this worker has completed).  SIGTERM stops the loop after the current
 * iteration; the worker then closes the domain cleanly and prints "end".
 *
 * Exit codes: 0 done, 1 a snapshot broke the invariant, 2 a library call
 * failed, 3 usage.  Diagnostics go to stderr. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atom_worker.h"
#include "eve.h"

static volatile sig_atomic_t g_stop;
static const char *g_mode = "?";

static void on_term(int sig) {
  (void)sig;
  g_stop = 1;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "atom_worker %s [%d]: %s -> %s\n", g_mode, (int)getpid(), what,
          eve_strerror(rc));
  exit(2);
}

#define CHECK(expr)                 \
  do {                              \
    int check_rc_ = (expr);         \
    if (check_rc_) die(#expr, check_rc_); \
  } while (0)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout); /* one write per line: the ack is out before the next swap */
}

static uint64_t arg_u64(const char *s) { return strtoull(s, NULL, 0); }

/* ---- inc ------------------------------------------------------------------ */

static int inc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  int64_t n = AW_COUNTER_BASE;
  if (old != EVE_V_NIL) {
    int rc = eve_int_get(t, old, &n);
    if (rc) return rc;
  }
  return eve_int(t, n + 1, out);
}

static int run_inc(eve_domain *d, eve_atom *a, uint64_t n) {
  say("open\n");
  for (uint64_t i = 0; i < n && !g_stop; i++) {
    eve_txn *t;
    eve_val v;
    int64_t x;
    CHECK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
    CHECK(eve_swap(t, a, inc_fn, NULL, &v));
    CHECK(eve_int_get(t, v, &x));
    CHECK(eve_txn_end(t));
    say("%lld\n", (long long)(x - AW_COUNTER_BASE));
  }
  return 0;
}

/* ---- assoc-in --------------------------------------------------------------- */

typedef struct keys {
  eve_val total, n, items;
} keys;

static int make_keys(eve_txn *t, keys *k) {
  int rc;
  if ((rc = eve_keyword(t, "total", 5, &k->total)) || (rc = eve_keyword(t, "n", 1, &k->n)) ||
      (rc = eve_keyword(t, "items", 5, &k->items)))
    return rc;
  return 0;
}

/* m[k] as an int, 0 when absent. */
static int field_int(eve_txn *t, eve_val m, eve_val k, int64_t *out) {
  eve_val v;
  int rc = eve_map_get(t, m, k, &v);
  if (rc == EVE_ENOTFOUND) {
    *out = 0;
    return 0;
  }
  return rc ? rc : eve_int_get(t, v, out);
}

/* m[k] as a map, the empty map when absent. */
static int field_map(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  int rc = eve_map_get(t, m, k, out);
  if (rc == EVE_ENOTFOUND) {
    *out = EVE_V_EMPTY_MAP;
    return 0;
  }
  return rc;
}

typedef struct step_arg {
  keys k;
  eve_val wkey, ikey;
  int64_t val;
} step_arg;

/* One step: the item and the total change together in one new version. */
static int step_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  const step_arg *s = arg;
  eve_val m = old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, items, wmap, x;
  int64_t total, n, prev;
  int rc;
  if ((rc = field_int(t, m, s->k.total, &total)) || (rc = field_int(t, m, s->k.n, &n)) ||
      (rc = field_map(t, m, s->k.items, &items)) || (rc = field_map(t, items, s->wkey, &wmap)) ||
      (rc = field_int(t, wmap, s->ikey, &prev)))
    return rc;
  if (s->val) {
    if ((rc = eve_int(t, s->val, &x)) || (rc = eve_map_assoc(t, wmap, s->ikey, x, &wmap)))
      return rc;
  } else if ((rc = eve_map_dissoc(t, wmap, s->ikey, &wmap))) {
    return rc;
  }
  if ((rc = eve_map_assoc(t, items, s->wkey, wmap, &items)) ||
      (rc = eve_map_assoc(t, m, s->k.items, items, &m)) ||
      (rc = eve_int(t, total - prev + s->val, &x)) ||
      (rc = eve_map_assoc(t, m, s->k.total, x, &m)) || (rc = eve_int(t, n + 1, &x)) ||
      (rc = eve_map_assoc(t, m, s->k.n, x, out)))
    return rc;
  return 0;
}

static int run_assoc_in(eve_domain *d, eve_atom *a, uint64_t n, uint64_t seed, unsigned id) {
  say("open\n");
  uint64_t rng = seed;
  char wk[32], ik[64];
  aw_worker_key(wk, sizeof wk, id);
  for (uint64_t i = 0; i < n && !g_stop; i++) {
    aw_step st = aw_next_step(&rng);
    aw_item_key(ik, sizeof ik, id, st.item);
    eve_txn *t;
    step_arg s = {.val = st.val};
    CHECK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
    CHECK(make_keys(t, &s.k));
    CHECK(eve_string(t, wk, strlen(wk), &s.wkey));
    CHECK(eve_string(t, ik, strlen(ik), &s.ikey));
    CHECK(eve_swap(t, a, step_fn, &s, NULL));
    CHECK(eve_txn_end(t));
    say("%llu\n", (unsigned long long)(i + 1));
  }
  return 0;
}

/* ---- read ------------------------------------------------------------------- */

/* Check one snapshot: :total equals the sum of every item.  Returns 0, 1 on
 * a broken invariant (printed), or a library error. */
static int check_snapshot(eve_txn *t, eve_val m, const keys *k, int64_t *n_out) {
  int64_t total, n, sum = 0, x;
  eve_val items, wkey, wmap, ikey, v;
  eve_iter it, jt;
  int rc;
  if (m == EVE_V_NIL) m = EVE_V_EMPTY_MAP;
  if ((rc = field_int(t, m, k->total, &total)) || (rc = field_int(t, m, k->n, &n)) ||
      (rc = field_map(t, m, k->items, &items)) || (rc = eve_iter_init(t, items, &it)))
    return rc;
  while ((rc = eve_iter_next(&it, &wkey, &wmap)) == 0) {
    if ((rc = eve_iter_init(t, wmap, &jt)) != 0) return rc;
    while ((rc = eve_iter_next(&jt, &ikey, &v)) == 0) {
      if ((rc = eve_int_get(t, v, &x)) != 0) return rc;
      if (x < 1 || x > 999) {
        fprintf(stderr, "atom_worker read: item value %lld out of range\n", (long long)x);
        return 1;
      }
      sum += x;
    }
    if (rc != EVE_END) return rc;
  }
  if (rc != EVE_END) return rc;
  if (sum != total) {
    fprintf(stderr, "atom_worker read: snapshot n=%lld has total %lld but its items sum to %lld\n",
            (long long)n, (long long)total, (long long)sum);
    return 1;
  }
  *n_out = n;
  return 0;
}

static int run_read(eve_domain *d, eve_atom *a, uint64_t n) {
  uint64_t snaps = 0, versions = 0;
  int64_t last = -1;
  for (int final = 0; !final;) {
    /* with n == 0, the snapshot taken after SIGTERM is the last: it sees
     * everything the writers did before the parent stopped us */
    final = n == 0 ? g_stop : snaps + 1 >= n;
    eve_txn *t;
    eve_val m;
    keys k;
    int64_t seen = 0;
    CHECK(eve_txn_begin(d, EVE_TXN_READ, &t));
    CHECK(make_keys(t, &k));
    CHECK(eve_deref(t, a, &m));
    int rc = check_snapshot(t, m, &k, &seen);
    if (rc == 1) exit(1);
    if (rc) die("check_snapshot", rc);
    CHECK(eve_txn_end(t));
    if (seen < last) { /* a reader must never see an older version later */
      fprintf(stderr, "atom_worker read: n went back from %lld to %lld\n", (long long)last,
              (long long)seen);
      exit(1);
    }
    versions += seen != last;
    last = seen;
    if (snaps++ == 0) say("ready\n");
  }
  say("snapshots %llu versions %llu last %lld\n", (unsigned long long)snaps,
      (unsigned long long)versions, (long long)last);
  return 0;
}

/* ---- hold, churn, gc ------------------------------------------------------------ */

/* Pin a read txn and keep it until SIGTERM (or SIGKILL, which is the point). */
static int run_hold(eve_domain *d, eve_atom *a) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old); /* no lost wake-up between test and sleep */
  eve_txn *t;
  eve_val v;
  CHECK(eve_txn_begin(d, EVE_TXN_READ, &t));
  CHECK(eve_deref(t, a, &v));
  say("pinned %d\n", (int)getpid());
  while (!g_stop) sigsuspend(&old);
  CHECK(eve_txn_end(t));
  return 0;
}

/* A fresh value of 64 boxed strings: every reset retires the previous one. */
static int churn_value(eve_txn *t, uint64_t round, eve_val *out) {
  eve_val v = EVE_V_EMPTY_VECTOR, s;
  char buf[64];
  for (int i = 0; i < 64; i++) {
    int len = snprintf(buf, sizeof buf, "churn value %llu/%02d, boxed",
                       (unsigned long long)round, i);
    int rc;
    if ((rc = eve_string(t, buf, (size_t)len, &s)) || (rc = eve_vec_conj(t, v, s, &v))) return rc;
  }
  *out = v;
  return 0;
}

static int run_churn(eve_domain *d, eve_atom *a, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    eve_txn *t;
    eve_val v;
    CHECK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
    CHECK(churn_value(t, i, &v));
    CHECK(eve_reset(t, a, v));
    CHECK(eve_txn_end(t));
  }
  eve_stats st;
  CHECK(eve_stats_get(d, &st));
  say("retired %llu readers %llu pin_pid %lld\n", (unsigned long long)st.retired_bytes,
      (unsigned long long)st.readers, (long long)st.oldest_pin_pid);
  return 0;
}

static int run_gc(eve_domain *d) {
  eve_gc_report r = {0};
  int rc = eve_gc(d, &r);
  say("gc %s reclaimed %llu\n", eve_err_name(rc), (unsigned long long)r.reclaimed_bytes);
  return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static int usage(void) {
  fprintf(stderr, "usage: atom_worker DB inc|assoc-in|read|hold|churn|gc [ATOM ARGS...]\n");
  return 3;
}

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  g_mode = argv[2];
  struct sigaction sa = {.sa_handler = on_term};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);

  eve_domain *d;
  CHECK(eve_open(argv[1], NULL, &d));
  int rc;
  if (!strcmp(g_mode, "gc")) {
    rc = run_gc(d);
  } else {
    if (argc < 4) return usage();
    eve_atom *a;
    CHECK(eve_atom_open(d, argv[3], EVE_ATOM_CREATE, &a));
    if (!strcmp(g_mode, "inc") && argc == 5) rc = run_inc(d, a, arg_u64(argv[4]));
    else if (!strcmp(g_mode, "assoc-in") && argc == 7)
      rc = run_assoc_in(d, a, arg_u64(argv[4]), arg_u64(argv[5]), (unsigned)arg_u64(argv[6]));
    else if (!strcmp(g_mode, "read") && argc == 5) rc = run_read(d, a, arg_u64(argv[4]));
    else if (!strcmp(g_mode, "hold") && argc == 4) rc = run_hold(d, a);
    else if (!strcmp(g_mode, "churn") && argc == 5) rc = run_churn(d, a, arg_u64(argv[4]));
    else return usage();
    eve_atom_close(a);
  }
  CHECK(eve_close(d));
  say("end\n");
  return rc;
}
