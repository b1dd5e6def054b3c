/* Snapshots (eve.h, EVE_TXN_SNAPSHOT; src/snapshot.c): read transactions
 * that a binding keeps as long as a value object.  Many per process on one
 * shared slot, handed between threads, referenced and released, surviving
 * the thread that took them, killed with their process, refused in a
 * forked child; and every version a snapshot loaded stays intact while
 * writers churn, with reclamation exact afterwards. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* ---- versions ------------------------------------------------------------------
 * The atom "m" holds {:n n, :s "version n ...", :v [n ...]}: each swap builds
 * a whole new map (so the old one is retired as a whole) whose parts all
 * name n, and reading a version checks that they agree. */

static int next_version(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  int64_t n = 0;
  if (old != EVE_V_NIL) {
    eve_val v;
    int rc = eve_map_get_text(t, old, EVE_KEYWORD, "n", 1, &v);
    if (!rc) rc = eve_int_get(t, v, &n);
    if (rc) return rc;
  }
  n++;
  char text[256];
  int len = snprintf(text, sizeof text,
                     "{:n %lld :s \"version %lld, long enough to be a block\" :v [%lld %lld %lld]}",
                     (long long)n, (long long)n, (long long)n, (long long)n + 1, (long long)n + 2);
  return eve_read_edn(t, text, (size_t)len, out, NULL);
}

static void swaps(eve_domain *d, eve_atom *a, int n) {
  for (int i = 0; i < n; i++) {
    eve_txn *t = t_wtxn(d);
    EVE_OK(eve_swap(t, a, next_version, NULL, NULL));
    EVE_OK(eve_txn_end(t));
  }
}

/* The version n of v, or -1 if its parts disagree or cannot be read. */
static int64_t version_of(eve_txn *t, eve_val m) {
  eve_val v, s, x;
  int64_t n, k;
  if (eve_map_get_text(t, m, EVE_KEYWORD, "n", 1, &v) || eve_int_get(t, v, &n)) return -1;
  if (eve_map_get_text(t, m, EVE_KEYWORD, "s", 1, &s)) return -1;
  const char *text;
  size_t len;
  char want[128];
  snprintf(want, sizeof want, "version %lld, long enough to be a block", (long long)n);
  if (eve_text_get(t, &s, &text, &len) || len != strlen(want) || memcmp(text, want, len)) return -1;
  if (eve_map_get_text(t, m, EVE_KEYWORD, "v", 1, &v)) return -1;
  for (int i = 0; i < 3; i++)
    if (eve_vec_nth(t, v, (uint64_t)i, &x) || eve_int_get(t, x, &k) || k != n + i) return -1;
  return n;
}

static eve_atom *atom_m(eve_domain *d) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "m", EVE_ATOM_CREATE, &a));
  return a;
}

/* A file domain; a modest reservation, which ThreadSanitizer's address
 * space also has room for. */
static eve_domain *open_file(const char *path) {
  eve_domain *d = NULL;
  eve_options o = {.max_size = 1ull << 30};
  EVE_OK(eve_open(path, &o, &d));
  return d;
}

static eve_txn *snapshot(eve_domain *d) {
  eve_txn *t = NULL;
  EVE_OK(eve_txn_begin(d, EVE_TXN_SNAPSHOT, &t));
  return t;
}

static eve_stats stats(eve_domain *d) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  return st;
}

/* Every snapshot has ended: after a few more swaps nothing is pinned,
 * nothing waits to be freed and the check is exact; then a and d close. */
static void assert_released_then_close(eve_domain *d, eve_atom *a, const char *when) {
  swaps(d, a, 100); /* passes run as these writers end their transactions */
  eve_stats st = stats(d);
  cr_assert_eq(st.readers, 0, "%s: %llu readers", when, (unsigned long long)st.readers);
  cr_assert_eq(st.retired_bytes, 0, "%s: reclamation resumed, yet %llu bytes still retired", when,
               (unsigned long long)st.retired_bytes);
  t_assert_exact(d, when);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

/* ---- many snapshots, one slot ----------------------------------------------------
 * 100,000 snapshots (far more than the domain's 128 reader slots), each
 * holding the version that was current when it was taken, with writers in
 * between: every one still reads its own version, intact; they take one
 * slot; released in random order, reclamation is exact. */
Test(snapshot, a_hundred_thousand_snapshots_share_one_slot) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  size_t n = (size_t)t_scale(100000);
  eve_txn **snaps = malloc(n * sizeof *snaps);
  eve_val *vals = malloc(n * sizeof *vals);
  int64_t *want = malloc(n * sizeof *want);
  cr_assert(snaps && vals && want);
  swaps(d, a, 1);
  for (size_t i = 0; i < n; i++) {
    if (i % 97 == 0) swaps(d, a, 1 + (int)(i % 3)); /* new versions, retirements */
    snaps[i] = snapshot(d);
    EVE_OK(eve_deref(snaps[i], a, &vals[i]));
    want[i] = version_of(snaps[i], vals[i]);
    cr_assert_gt(want[i], 0, "snapshot %zu reads a whole version", i);
  }
  eve_stats st = stats(d);
  cr_assert_eq(st.readers, 1, "%zu snapshots pin one slot, not %llu", n, (unsigned long long)st.readers);
  cr_assert_eq(st.snapshots, n, "eve_stats counts %zu snapshots: %llu", n, (unsigned long long)st.snapshots);
  swaps(d, a, 300);
  uint64_t seed = t_seed(7), rng = seed;
  for (size_t i = n; i > 1; i--) { /* release in random order */
    size_t j = (size_t)t_below(&rng, i);
    eve_txn *ts = snaps[i - 1];
    eve_val tv = vals[i - 1];
    int64_t tw = want[i - 1];
    snaps[i - 1] = snaps[j], vals[i - 1] = vals[j], want[i - 1] = want[j];
    snaps[j] = ts, vals[j] = tv, want[j] = tw;
  }
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(version_of(snaps[i], vals[i]), want[i], "snapshot %zu still reads version %lld (seed %llu)",
                 i, (long long)want[i], (unsigned long long)seed);
    EVE_OK(eve_txn_end(snaps[i]));
    if (i % 1000 == 0) swaps(d, a, 1);
  }
  swaps(d, a, 200); /* passes run as writers end their transactions */
  st = stats(d);
  cr_assert_eq(st.readers, 0);
  cr_assert_eq(st.snapshots, 0);
  cr_assert_eq(st.retired_bytes, 0, "%llu bytes still retired", (unsigned long long)st.retired_bytes);
  t_assert_exact(d, "after 100,000 snapshots");
  free(snaps), free(vals), free(want);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

/* The same number of plain read transactions does not fit: that is what
 * snapshots are for. */
Test(snapshot, plain_read_transactions_run_out_of_slots_where_snapshots_do_not) {
  eve_domain *d = t_open_mem();
  enum { MANY = 4096 };
  static eve_txn *ts[MANY];
  size_t n = 0;
  int rc = 0;
  while (n < MANY && (rc = eve_txn_begin(d, EVE_TXN_READ, &ts[n])) == 0) n++;
  EVE_ERR(rc, EVE_ESLOTS);
  cr_assert_lt(n, MANY);
  eve_txn *s;
  /* the process's first snapshot needs a slot for them all: none is left */
  EVE_ERR(eve_txn_begin(d, EVE_TXN_SNAPSHOT, &s), EVE_ESLOTS);
  EVE_OK(eve_txn_end(ts[--n]));
  static eve_txn *snaps[MANY];
  for (size_t i = 0; i < MANY; i++) EVE_OK(eve_txn_begin(d, EVE_TXN_SNAPSHOT, &snaps[i]));
  /* still no slot for another plain transaction */
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &ts[n]), EVE_ESLOTS);
  for (size_t i = 0; i < MANY; i++) EVE_OK(eve_txn_end(snaps[i]));
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &ts[n++])); /* the pool's slot is free again */
  while (n) EVE_OK(eve_txn_end(ts[--n]));
  cr_assert_eq(stats(d).readers, 0);
  EVE_OK(eve_close(d));
}

/* ---- references ------------------------------------------------------------------ */

Test(snapshot, retain_and_end_count_references) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  swaps(d, a, 1);
  eve_txn *s = snapshot(d);
  eve_val v;
  EVE_OK(eve_deref(s, a, &v));
  EVE_OK(eve_txn_retain(s));
  EVE_OK(eve_txn_retain(s));
  EVE_OK(eve_txn_end(s));
  EVE_OK(eve_txn_end(s));
  cr_assert_eq(stats(d).readers, 1, "one reference left: still pinned");
  swaps(d, a, 200);
  cr_assert_eq(version_of(s, v), 1, "the version read is intact while a reference lives");
  cr_assert_gt(stats(d).retired_bytes, 0, "and holds back what was retired since");
  EVE_OK(eve_txn_end(s));
  assert_released_then_close(d, a, "after the last reference");
}

Test(snapshot, bad_uses_are_refused) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  eve_txn *t = NULL;
  EVE_ERR(eve_txn_begin(d, EVE_TXN_SNAPSHOT | EVE_TXN_WRITE, &t), EVE_EINVAL);
  EVE_ERR(eve_txn_begin(d, 4, &t), EVE_EINVAL);
  EVE_ERR(eve_txn_retain(NULL), EVE_EINVAL);
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_ERR(eve_txn_retain(t), EVE_EINVAL); /* a plain transaction belongs to its thread */
  EVE_OK(eve_txn_end(t));
  eve_txn *s = snapshot(d);
  EVE_ERR(eve_swap(s, a, next_version, NULL, NULL), EVE_ETXN); /* read only */
  eve_val v;
  EVE_ERR(eve_int(s, 1ll << 62, &v), EVE_ETXN);
  EVE_ERR(eve_gc(d, NULL), EVE_EBUSY);
  eve_gc_report rep;
  EVE_ERR(eve_gc(d, &rep), EVE_EBUSY);
  EVE_OK(eve_atom_close(a));
  EVE_ERR(eve_close(d), EVE_EBUSY); /* a live snapshot keeps the handle busy */
  EVE_OK(eve_txn_end(s));
  EVE_OK(eve_gc(d, &rep));
  EVE_OK(eve_close(d));
}

/* ---- the pin moves forward as the oldest goes ------------------------------------ */

Test(snapshot, ending_the_oldest_frees_what_only_it_held) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  swaps(d, a, 1);
  eve_txn *old = snapshot(d);
  eve_val vo;
  EVE_OK(eve_deref(old, a, &vo));
  swaps(d, a, 400); /* several reclamation passes: the epoch moves on */
  eve_txn *young = snapshot(d);
  eve_val vy;
  EVE_OK(eve_deref(young, a, &vy));
  int64_t ny = version_of(young, vy);
  swaps(d, a, 400);
  uint64_t both = stats(d).retired_bytes;
  EVE_OK(eve_txn_end(old));
  uint64_t young_only = stats(d).retired_bytes;
  cr_assert_gt(young_only, 0, "the young snapshot still holds what was retired after it");
  cr_assert_lt(young_only, both, "ending the old one frees what only it held: %llu -> %llu bytes",
               (unsigned long long)both, (unsigned long long)young_only);
  cr_assert_eq(version_of(young, vy), ny, "the young snapshot's version is intact");
  cr_assert_eq(stats(d).readers, 1);
  EVE_OK(eve_txn_end(young));
  assert_released_then_close(d, a, "after both snapshots");
}

/* A snapshot that derefs again later sees the newer version, and both the
 * versions it loaded stay readable. */
Test(snapshot, a_later_deref_sees_a_later_version_and_keeps_both) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  swaps(d, a, 1);
  eve_txn *s = snapshot(d);
  eve_val first, later;
  EVE_OK(eve_deref(s, a, &first));
  swaps(d, a, 300);
  EVE_OK(eve_deref(s, a, &later));
  swaps(d, a, 300);
  cr_assert_eq(version_of(s, first), 1);
  cr_assert_eq(version_of(s, later), 301);
  EVE_OK(eve_txn_end(s));
  assert_released_then_close(d, a, "after the snapshot");
}

/* ---- threads ---------------------------------------------------------------------
 * A plain transaction left open by an exiting thread is ended with it
 * (eve.h); a snapshot is not: it lives until its last reference ends, on
 * whichever thread. */
typedef struct taker {
  eve_domain *d;
  eve_atom *a;
  eve_txn *s;
  eve_val v;
  int64_t n;
} taker;

static void *take_and_exit(void *arg) {
  taker *k = arg;
  if (eve_txn_begin(k->d, EVE_TXN_SNAPSHOT, &k->s) == 0 && eve_deref(k->s, k->a, &k->v) == 0)
    k->n = version_of(k->s, k->v);
  return NULL;
}

Test(snapshot, a_snapshot_outlives_the_thread_that_took_it) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  swaps(d, a, 5);
  taker k = {.d = d, .a = a, .n = -1};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, take_and_exit, &k), 0);
  pthread_join(th, NULL);
  cr_assert_eq(k.n, 5, "the thread took a snapshot of version 5");
  swaps(d, a, 500);
  cr_assert_eq(stats(d).readers, 1, "still pinned after its thread exited");
  cr_assert_eq(version_of(k.s, k.v), 5, "and its version is intact");
  EVE_OK(eve_txn_end(k.s)); /* ended by another thread */
  assert_released_then_close(d, a, "after the handed-over snapshot");
}

/* Readers take snapshots and hand each to the next reader through a
 * mailbox, which checks it and ends it, while writers swap: every version
 * read is whole, the final version counts every swap, and reclamation is
 * exact at the end. */
#define HAND_READERS 3
#define HAND_WRITERS 2

typedef struct mailbox {
  pthread_mutex_t lock;
  eve_txn *s[HAND_READERS];
  eve_val v[HAND_READERS];
  int64_t n[HAND_READERS];
} mailbox;

typedef struct hand_job {
  eve_domain *d;
  eve_atom *a;
  mailbox *box;
  int id, rounds;
  const char *failed;
} hand_job;

static const char *check_and_end(eve_txn *s, eve_val v, int64_t n) {
  if (!s) return NULL;
  const char *why = version_of(s, v) == n ? NULL : "a handed-over version changed";
  if (eve_txn_end(s)) why = "eve_txn_end failed";
  return why;
}

static void *hand_reader(void *arg) {
  hand_job *j = arg;
  for (int i = 0; i < j->rounds && !j->failed; i++) {
    eve_txn *s;
    eve_val v;
    if (eve_txn_begin(j->d, EVE_TXN_SNAPSHOT, &s) || eve_deref(s, j->a, &v)) {
      j->failed = "snapshot or deref failed";
      break;
    }
    int64_t n = version_of(s, v);
    if (n < 0) j->failed = "a torn version";
    if (i % 2 && eve_txn_retain(s) == 0) eve_txn_end(s); /* a reference taken and given */
    int next = (j->id + 1) % HAND_READERS;
    pthread_mutex_lock(&j->box->lock);
    eve_txn *prev = j->box->s[next];
    eve_val pv = j->box->v[next];
    int64_t pn = j->box->n[next];
    j->box->s[next] = s, j->box->v[next] = v, j->box->n[next] = n;
    pthread_mutex_unlock(&j->box->lock);
    const char *why = check_and_end(prev, pv, pn); /* someone else's snapshot */
    if (why) j->failed = why;
  }
  return NULL;
}

static void *hand_writer(void *arg) {
  hand_job *j = arg;
  for (int i = 0; i < j->rounds && !j->failed; i++) {
    eve_txn *t;
    if (eve_txn_begin(j->d, EVE_TXN_WRITE, &t)) {
      j->failed = "txn_begin failed";
      break;
    }
    if (eve_swap(t, j->a, next_version, NULL, NULL)) j->failed = "swap failed";
    eve_txn_end(t);
  }
  return NULL;
}

Test(snapshot, snapshots_handed_between_threads_under_writers) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom_m(d);
  swaps(d, a, 1);
  static mailbox box = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hand_job jobs[HAND_READERS + HAND_WRITERS];
  pthread_t th[HAND_READERS + HAND_WRITERS];
  int rounds = (int)t_scale(4000);
  for (int i = 0; i < HAND_READERS + HAND_WRITERS; i++) {
    jobs[i] = (hand_job){d, a, &box, i, rounds, NULL};
    cr_assert_eq(pthread_create(&th[i], NULL, i < HAND_READERS ? hand_reader : hand_writer, &jobs[i]), 0);
  }
  for (int i = 0; i < HAND_READERS + HAND_WRITERS; i++) {
    pthread_join(th[i], NULL);
    cr_assert_null(jobs[i].failed, "thread %d: %s", i, jobs[i].failed);
  }
  for (int i = 0; i < HAND_READERS; i++) {
    cr_assert_null(check_and_end(box.s[i], box.v[i], box.n[i]), "mailbox %d", i);
    box.s[i] = NULL;
  }
  eve_txn *t;
  eve_val v;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_deref(t, a, &v));
  cr_assert_eq(version_of(t, v), 1 + (int64_t)HAND_WRITERS * rounds, "every swap counted");
  EVE_OK(eve_txn_end(t));
  assert_released_then_close(d, a, "after the hand-overs");
}

/* ---- processes ---------------------------------------------------------------------
 * A process killed (kill -9) while it holds snapshots stops holding back
 * reclamation: its slot is released through the liveness lock, as for a
 * plain reader (docs/RECLAMATION.md, R5). */
Test(snapshot, a_killed_process_holding_snapshots_releases_reclamation) {
  char *dir = t_tmpdir(), *path = t_path(dir, "snap.eve");
  eve_domain *d = open_file(path);
  eve_atom *a = atom_m(d);
  swaps(d, a, 1);
  int ready[2];
  cr_assert_eq(pipe(ready), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    eve_domain *cd;
    eve_atom *ca;
    eve_options o = {.max_size = 1ull << 30};
    if (eve_open(path, &o, &cd) || eve_atom_open(cd, "m", 0, &ca)) _exit(1);
    for (int i = 0; i < 1000; i++) {
      eve_txn *s;
      eve_val v;
      if (eve_txn_begin(cd, EVE_TXN_SNAPSHOT, &s) || eve_deref(s, ca, &v)) _exit(2);
    }
    if (write(ready[1], "x", 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  char c;
  cr_assert_eq(read(ready[0], &c, 1), 1, "the child took its snapshots");
  swaps(d, a, 400);
  eve_stats st = stats(d);
  cr_assert_eq(st.readers, 1, "1000 snapshots of the child: one slot");
  cr_assert_eq(st.oldest_pin_pid, pid);
  cr_assert_gt(st.retired_bytes, 0, "held back by the child's snapshots");
  kill(pid, SIGKILL);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  assert_released_then_close(d, a, "after the kill");
  close(ready[0]), close(ready[1]);
  t_rmdir(dir);
}

/* A forked child refuses the snapshots it inherited (they hold the
 * parent's slot) and can take its own; the parent's stay intact. */
Test(snapshot, a_forked_child_refuses_inherited_snapshots_and_takes_its_own) {
  char *dir = t_tmpdir(), *path = t_path(dir, "fork.eve");
  eve_domain *d = open_file(path);
  eve_atom *a = atom_m(d);
  swaps(d, a, 3);
  eve_txn *s = snapshot(d);
  eve_val v;
  EVE_OK(eve_deref(s, a, &v));
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    /* every read through it is refused: what it reads is pinned by the
     * parent's slot, which the parent may release at any moment */
    uint64_t cnt;
    eve_val x;
    char *text = NULL;
    int64_t i64;
    if (eve_count(s, v, &cnt) != EVE_EFORKED) _exit(10);
    if (eve_map_get_text(s, v, EVE_KEYWORD, "n", 1, &x) != EVE_EFORKED) _exit(11);
    if (eve_print_edn(s, v, &text, NULL) != EVE_EFORKED) _exit(12);
    if (eve_int_get(s, EVE_V_NIL, &i64) != EVE_EFORKED) _exit(13);
    if (eve_deref(s, a, &x) != EVE_EFORKED) _exit(14);
    if (eve_txn_retain(s) != EVE_EFORKED) _exit(1);
    if (eve_txn_end(s) != EVE_EFORKED) _exit(2);
    eve_txn *mine;
    eve_val mv;
    if (eve_txn_begin(d, EVE_TXN_SNAPSHOT, &mine) || eve_deref(mine, a, &mv)) _exit(3);
    if (version_of(mine, mv) != 3) _exit(4);
    eve_txn *t;
    if (eve_txn_begin(d, EVE_TXN_WRITE, &t) || eve_swap(t, a, next_version, NULL, NULL)) _exit(5);
    eve_txn_end(t);
    if (version_of(mine, mv) != 3) _exit(6);
    if (eve_txn_end(mine)) _exit(7);
    /* a child that wrote closes what it inherited, as a well-behaved
     * process does: its allocator's caches go back (else they wait for the
     * last process to detach, docs/RECLAMATION.md) */
    if (eve_atom_close(a) || eve_close(d)) _exit(8);
    _exit(0);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: exit %d", WEXITSTATUS(status));
  cr_assert_eq(version_of(s, v), 3, "the parent's snapshot is intact");
  cr_assert_eq(stats(d).readers, 1);
  EVE_OK(eve_txn_end(s));
  assert_released_then_close(d, a, "after the fork");
  t_rmdir(dir);
}
