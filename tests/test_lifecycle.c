/* test_lifecycle.c — threads and the handle: eve_gc and eve_close beside
 * other threads of the same process, transactions left open by exiting
 * threads, calls on a closed handle.  Threads are ordered with pipes and
 * barriers; the checker is the oracle.  (Criterion asserts only in the
 * test's own thread: helper threads report what they saw.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atom.h"
#include "collect.h"
#include "region.h"
#include "support.h"

static void assert_exact(eve_domain *d, const char *when) { t_assert_exact(d, when); }

static eve_atom *atom(eve_domain *d, const char *name) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  return a;
}

/* A map of 64 counters; each swap increments one (boxed keys, so every
 * swap allocates and retires blocks: what a collection must not lose). */
static int bump_counter(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  uint64_t *seed = arg;
  char key[32];
  int n = snprintf(key, sizeof key, "counter-key-%02d", (int)(t_rand(seed) % 64));
  eve_val k, cur, v;
  int64_t c = 0;
  int rc = eve_string(t, key, (size_t)n, &k);
  if (rc) return rc;
  if (old != EVE_V_NIL && eve_map_get(t, old, k, &cur) == 0 && (rc = eve_int_get(t, cur, &c)))
    return rc;
  if ((rc = eve_int(t, c + 1, &v))) return rc;
  return eve_map_assoc(t, old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, k, v, out);
}

static int64_t counter_sum(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m, k, v;
  EVE_OK(eve_deref(t, a, &m));
  int64_t sum = 0, x;
  eve_iter it;
  if (m != EVE_V_NIL) {
    EVE_OK(eve_iter_init(t, m, &it));
    int rc;
    while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
      EVE_OK(eve_int_get(t, v, &x));
      sum += x;
    }
    EVE_ERR(rc, EVE_END);
  }
  EVE_OK(eve_txn_end(t));
  return sum;
}

static void one_swap(eve_domain *d, eve_atom *a, uint64_t *seed) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_swap(t, a, bump_counter, seed, NULL));
  EVE_OK(eve_txn_end(t));
}

/* ---- RELIABILITY.md finding 15: eve_gc beside a writer thread -------------- */

typedef struct begin_probe {
  eve_domain *d;
  int rc;
} begin_probe;

static void *try_begin(void *arg) {
  begin_probe *p = arg;
  eve_txn *t;
  p->rc = eve_txn_begin(p->d, EVE_TXN_WRITE, &t);
  if (p->rc == 0) eve_txn_end(t);
  return NULL;
}

/* In the middle of the collection (exclusive, marked, not yet swept):
 * another thread's begin must not get in.  It waits for the collection,
 * which waits for it here, so it gives up with EVE_EBUSY. */
static void begin_during_gc(void *ctx) {
  begin_probe *p = ctx;
  pthread_t th;
  pthread_create(&th, NULL, try_begin, p);
  pthread_join(th, NULL);
}

Test(lifecycle, no_transaction_begins_while_a_collection_runs, .timeout = 60) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom(d, "m");
  uint64_t seed = 1;
  for (int i = 0; i < 50; i++) one_swap(d, a, &seed);
  begin_probe p = {d, 12345};
  eve__test_set_gc_pause(begin_during_gc, &p);
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  eve__test_set_gc_pause(NULL, NULL);
  EVE_ERR(p.rc, EVE_EBUSY); /* the old code let it begin (and swap) mid-sweep */
  /* after the collection, begins work again, and nothing was lost */
  one_swap(d, a, &seed);
  cr_assert_eq(counter_sum(d, a), 51);
  assert_exact(d, "after gc");
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

typedef struct holder {
  eve_domain *d;
  int fds_ready[2], fds_release[2];
  unsigned flags;
  int rc;
  int64_t tid;
} holder;

static void signal_fd(int fd) {
  char c = 1;
  cr_assert_eq(write(fd, &c, 1), 1);
}

static void await_fd(int fd) {
  char c;
  cr_assert_eq(read(fd, &c, 1), 1);
}

static void holder_init(holder *h, eve_domain *d, unsigned flags) {
  memset(h, 0, sizeof *h);
  h->d = d;
  h->flags = flags;
  cr_assert_eq(pipe(h->fds_ready), 0);
  cr_assert_eq(pipe(h->fds_release), 0);
}

static void holder_close(holder *h) {
  close(h->fds_ready[0]);
  close(h->fds_ready[1]);
  close(h->fds_release[0]);
  close(h->fds_release[1]);
}

/* Begin a transaction, say so, hold it until released, end it. */
static void *hold_txn(void *arg) {
  holder *h = arg;
  eve_txn *t;
  h->tid = (int64_t)syscall(SYS_gettid);
  h->rc = eve_txn_begin(h->d, h->flags, &t);
  char c = 1;
  if (write(h->fds_ready[1], &c, 1) != 1) return NULL;
  if (read(h->fds_release[0], &c, 1) != 1) return NULL;
  if (h->rc == 0) h->rc = eve_txn_end(t);
  return NULL;
}

Test(lifecycle, gc_is_busy_while_another_thread_holds_a_transaction) {
  eve_domain *d = t_open_mem();
  holder h;
  holder_init(&h, d, EVE_TXN_READ);
  pthread_t th;
  pthread_create(&th, NULL, hold_txn, &h);
  await_fd(h.fds_ready[0]);
  EVE_OK(h.rc);
  eve_gc_report g;
  EVE_ERR(eve_gc(d, &g), EVE_EBUSY);
  signal_fd(h.fds_release[1]);
  pthread_join(th, NULL);
  EVE_OK(h.rc);
  EVE_OK(eve_gc(d, &g));
  holder_close(&h);
  EVE_OK(eve_close(d));
}

/* The reproducer's workload: a writer thread swaps while this thread
 * collects in a loop.  Every acknowledged increment must be there, and the
 * domain must stay sound (the old code lost increments and left malformed
 * maps within a second). */
typedef struct writer {
  eve_domain *d;
  eve_atom *a;
  atomic_int stop;
  atomic_long swaps;
  int rc;
} writer;

static void *write_counters(void *arg) {
  writer *w = arg;
  uint64_t seed = 7;
  while (!atomic_load(&w->stop) && !w->rc) {
    eve_txn *t;
    int rc = eve_txn_begin(w->d, EVE_TXN_WRITE, &t);
    if (rc == EVE_EBUSY) continue; /* a long collection: try again */
    if (rc) {
      w->rc = rc;
      break;
    }
    rc = eve_swap(t, w->a, bump_counter, &seed, NULL);
    int crc = eve_txn_end(t);
    if (rc || crc) w->rc = rc ? rc : crc;
    else atomic_fetch_add(&w->swaps, 1);
  }
  return NULL;
}

Test(lifecycle, gc_loop_beside_a_writer_thread_loses_nothing, .timeout = 120) {
  eve_domain *d = t_open_mem();
  writer w = {.d = d, .a = atom(d, "m")};
  pthread_t th;
  pthread_create(&th, NULL, write_counters, &w);
  long ok = 0, busy = 0, want = (long)t_scale(4000);
  while ((atomic_load(&w.swaps) < want || ok < want) && !w.rc) {
    eve_gc_report g;
    int rc = eve_gc(d, &g);
    if (rc == 0) ok++;
    else if (rc == EVE_EBUSY) busy++;
    else cr_assert_fail("eve_gc: %s", eve_strerror(rc));
    sched_yield(); /* collections back to back would starve the writer */
  }
  atomic_store(&w.stop, 1);
  pthread_join(th, NULL);
  EVE_OK(w.rc);
  long swaps = atomic_load(&w.swaps);
  cr_log_info("%ld swaps, %ld collections, %ld busy", swaps, ok, busy);
  cr_assert_eq(counter_sum(d, w.a), swaps, "acknowledged increments lost");
  assert_exact(d, "after the race");
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  EVE_OK(eve_atom_close(w.a));
  EVE_OK(eve_close(d));
}

/* ---- RELIABILITY.md finding 16: threads that exit with transactions open ---- */

static void *exit_with_txns_open(void *arg) {
  eve_domain *d = arg;
  eve_txn *r, *w;
  eve_val v;
  if (eve_txn_begin(d, EVE_TXN_READ, &r) || eve_txn_begin(d, EVE_TXN_WRITE, &w)) return arg;
  /* a fresh block that nothing publishes: the end of the txn frees it */
  if (eve_string(w, "a string long enough to be boxed", 32, &v)) return arg;
  return NULL; /* both left open */
}

Test(lifecycle, a_thread_exiting_with_open_transactions_releases_their_pins) {
  eve_domain *d = t_open_mem();
  for (int i = 0; i < 5; i++) {
    pthread_t th;
    void *failed;
    pthread_create(&th, NULL, exit_with_txns_open, d);
    pthread_join(th, &failed);
    cr_assert_null(failed, "could not begin");
  }
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_eq(st.readers, 0, "%llu pins left by exited threads", (unsigned long long)st.readers);
  assert_exact(d, "after the threads exited"); /* their fresh blocks were freed */
  EVE_OK(eve_close(d)); /* and nothing keeps the handle busy */
}

/* A transaction may be ended by another thread than the one that began it,
 * while that one lives; the exit of the first thread then ends nothing
 * twice.  eve stats names the thread holding the oldest pin. */
typedef struct handover {
  eve_txn *t;
  int rc;
} handover;

static void *end_elsewhere(void *arg) {
  handover *h = arg;
  eve_val v;
  h->rc = eve_string(h->t, "built in another thread", 23, &v);
  if (!h->rc) h->rc = eve_txn_end(h->t);
  return NULL;
}

static void *begin_and_hand_over(void *arg) {
  eve_domain *d = arg;
  handover h = {0};
  if (eve_txn_begin(d, EVE_TXN_WRITE, &h.t)) return arg;
  pthread_t th;
  pthread_create(&th, NULL, end_elsewhere, &h);
  pthread_join(th, NULL);
  return h.rc ? arg : NULL;
}

Test(lifecycle, a_transaction_handed_over_is_ended_once_and_stats_name_the_holder) {
  eve_domain *d = t_open_mem();
  pthread_t th;
  void *failed;
  pthread_create(&th, NULL, begin_and_hand_over, d);
  pthread_join(th, &failed);
  cr_assert_null(failed);
  holder h;
  holder_init(&h, d, EVE_TXN_READ);
  pthread_create(&th, NULL, hold_txn, &h);
  await_fd(h.fds_ready[0]);
  EVE_OK(h.rc);
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_eq(st.readers, 1);
  cr_assert_eq(st.oldest_pin_pid, getpid());
  cr_assert_eq(st.oldest_pin_tid, h.tid, "holder %lld, thread %lld", (long long)st.oldest_pin_tid,
               (long long)h.tid);
  signal_fd(h.fds_release[1]);
  pthread_join(th, NULL);
  EVE_OK(h.rc);
  holder_close(&h);
  assert_exact(d, "after hand-over");
  EVE_OK(eve_close(d));
}

/* ---- RELIABILITY.md finding 17: eve_close while another thread is inside ---- */

Test(lifecycle, close_is_busy_while_another_thread_holds_a_transaction) {
  eve_domain *d = t_open_mem();
  holder h;
  holder_init(&h, d, EVE_TXN_WRITE);
  pthread_t th;
  pthread_create(&th, NULL, hold_txn, &h);
  await_fd(h.fds_ready[0]);
  EVE_OK(h.rc);
  EVE_ERR(eve_close(d), EVE_EBUSY); /* the old code unmapped under the thread */
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st)); /* still open and usable */
  cr_assert_eq(st.readers, 1);
  signal_fd(h.fds_release[1]);
  pthread_join(th, NULL);
  EVE_OK(h.rc);
  holder_close(&h);
  EVE_OK(eve_close(d));
}

typedef struct waiter {
  eve_atom *a;
  int rc;
} waiter;

static void *wait_for_change(void *arg) {
  waiter *w = arg;
  uint64_t now;
  w->rc = eve_wait(w->a, 0, -1, &now);
  return NULL;
}

Test(lifecycle, close_is_busy_while_another_thread_waits_on_an_atom, .timeout = 60) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom(d, "a");
  waiter w = {a, 12345};
  pthread_t th;
  pthread_create(&th, NULL, wait_for_change, &w);
  /* the waiter announces itself in the cell before it sleeps */
  eve_txn *t;
  uint64_t first, page = atomic_load(&d->hdr->cell_pages);
  unsigned n;
  cr_assert_neq(page, 0);
  cell_page_cells(page, &first, &n);
  atom_cell *cell = region_ptr(d, first); /* the first atom has the first cell */
  while (atomic_load(&cell->waiters) == 0) sched_yield();
  EVE_ERR(eve_close(d), EVE_EBUSY);
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_reset(t, a, EVE_V_TRUE));
  EVE_OK(eve_txn_end(t));
  pthread_join(th, NULL);
  EVE_OK(w.rc);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

/* The reproducer's loop: a reader thread begins, reads and ends as fast as
 * it can while this thread closes the handle.  eve_close says EVE_EBUSY
 * until it catches the reader between transactions; from then on the
 * reader's begin says EVE_EINVAL (the handle's memory is kept), never a
 * crash. */
typedef struct racer {
  eve_domain *d;
  eve_atom *a;
  long reads;
  int last_rc;
  pthread_barrier_t started;
} racer;

static void *read_until_closed(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(&r->started);
  for (;;) {
    eve_txn *t;
    int rc = eve_txn_begin(r->d, EVE_TXN_READ, &t);
    if (rc == EVE_EBUSY) continue; /* closing: the close may still fail */
    if (rc) {
      r->last_rc = rc;
      return NULL;
    }
    eve_val v;
    uint64_t n;
    if (eve_deref(t, r->a, &v) == 0) eve_count(t, v, &n);
    eve_txn_end(t);
    r->reads++;
  }
}

Test(lifecycle, close_racing_a_reader_thread_never_frees_the_handle_under_it, .timeout = 60) {
  for (int round = 0; round < 20; round++) {
    eve_domain *d = t_open_mem();
    racer r = {.d = d, .a = atom(d, "a")};
    eve_txn *t = NULL;
    EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
    eve_val m = EVE_V_EMPTY_MAP, k;
    for (int i = 0; i < 100; i++) {
      EVE_OK(eve_int(t, i, &k));
      EVE_OK(eve_map_assoc(t, m, k, k, &m));
    }
    EVE_OK(eve_reset(t, r.a, m));
    EVE_OK(eve_txn_end(t));
    pthread_barrier_init(&r.started, NULL, 2);
    pthread_t th;
    pthread_create(&th, NULL, read_until_closed, &r);
    pthread_barrier_wait(&r.started);
    long busy = 0;
    int rc;
    while ((rc = eve_close(d)) == EVE_EBUSY) busy++;
    EVE_OK(rc);
    pthread_join(th, NULL);
    EVE_ERR(r.last_rc, EVE_EINVAL);
    pthread_barrier_destroy(&r.started);
    EVE_OK(eve_atom_close(r.a)); /* plain memory: fine after the domain is gone */
  }
}

Test(lifecycle, a_closed_handle_answers_einval) {
  eve_domain *d = t_open_mem();
  EVE_OK(eve_close(d));
  eve_txn *t;
  eve_stats st;
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &t), EVE_EINVAL);
  EVE_ERR(eve_stats_get(d, &st), EVE_EINVAL);
  EVE_ERR(eve_close(d), EVE_EINVAL);
}

Test(lifecycle, close_with_own_transaction_open_is_busy) {
  eve_domain *d = t_open_mem();
  eve_txn *t = t_wtxn(d);
  EVE_ERR(eve_close(d), EVE_EBUSY);
  eve_gc_report g;
  EVE_ERR(eve_gc(d, &g), EVE_EBUSY);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}
