/* test_reclaim.c — the failure scenarios of RECLAMATION.md, replayed
 * deterministically (docs/DESIGN.md, "Test oracles").
 *
 * Each test builds a small block graph with real maps, vectors and lists in
 * an in-memory domain and runs 2-3 worker threads through scripts of eve
 * calls.  A small step scheduler stops them at the commit's test pause
 * points (commit.h: after the count, after each doom or adopt CAS, just
 * before and after the root CAS) or at points of their own (a reader holding
 * its transaction open, a swap function half-way), so that the interleaving
 * that broke the draft protocol happens in exactly that order.
 *
 * The oracle is the checker.  After every step that completes a commit it
 * must find no problem: no reachable block free or waiting to be freed,
 * SHARED counts equal to in-degrees, and every other reachable block with
 * exactly one incoming word (root words included).  Counts raised by an
 * adopter paused before its root CAS are the only tolerated difference.  At
 * the end each test drains reclamation, allocates a batch of blocks of every
 * small size class over whatever was freed, reads every atom back against
 * its expected EDN, and asserts that nothing leaked: reclamation is exact. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "atom.h"
#include "commit.h"
#include "epoch.h"
#include "map.h"
#include "support.h"
#include "value.h"

/* ==== the step scheduler =================================================
 *
 * A worker is a thread running one script (script_swap, script_reader, ...)
 * described by its job.  The test arms a one-shot breakpoint (a commit pause
 * point, optionally at one block, or one of the scripts' own points), and
 * the worker stops there inside the commit's pause hook until the test
 * releases it:
 *
 *     w_start_to(p1, PAUSE_AFTER_DOOM, O);   start p1, wait until it has doomed O
 *     w_run(p2);                             run p2 from start to end
 *     w_step(p1, PAUSE_BEFORE_CAS, 0);       let p1 go on to its next stop
 *     w_finish(p1);                          let p1 finish; join it
 *
 * Every wait is bounded both ways: the test fails after WAIT_MS rather than
 * hang, and a stopped worker gives up after HOLD_MS.  Workers never assert
 * (Criterion's asserts belong to the test thread): they record results in
 * their job and the test checks them after joining. */

enum {
  WAIT_MS = 10000,  /* the test gives up waiting for a worker after this     */
  HOLD_MS = 30000,  /* a stopped worker gives up waiting for its release     */
  MAX_WORKERS = 4,
  MAX_INFLIGHT = 64,
};

/* Points of the scripts' own, beside the commit's enum commit_pause. */
enum {
  P_HOLD = 100, /* a reader holds its txn open on the values it read      */
  P_IN_FN,      /* inside a swap function, on its first call, before return */
};

typedef enum op_kind {
  OP_ASSOC,      /* assoc key (edn)                                           */
  OP_DISSOC,     /* dissoc key                                                */
  OP_SNAP,       /* assoc key @src                                            */
  OP_SNAP_IN,    /* assoc key (get @src key2): an interior value of src       */
  OP_ASSOC_IN,   /* assoc-in [key key2] (edn)                                 */
  OP_TWICE,      /* v = (edn); assoc key v, then key2 v                       */
  OP_VEC_TWICE,  /* v = (edn); [v v]                                          */
  OP_S2C,        /* (-> old (assoc key2 1) (assoc key3 (get old key)))        */
  OP_LET,        /* finding 8: m1 = assoc key, m2 = assoc key2, assoc key3 m1 */
  OP_NESTED,     /* finding 7: nested txn + deref inside the swap function    */
  OP_REST,       /* list rest                                                 */
  OP_POP,        /* vector pop                                                */
  OP_CONS,       /* cons (edn) onto a list                                    */
  OP_WRAP,       /* [old]                                                     */
  OP_WRAP2,      /* [old old]                                                 */
  OP_UNWRAP,     /* (nth old 0)                                               */
  OP_PREV,       /* {key old}                                                 */
  OP_GET,        /* (get old key)                                             */
  OP_MERGE,      /* merge old @src                                            */
  OP_CONST,      /* (edn)                                                     */
  OP_REST_OF,    /* (rest @src)                                               */
} op_kind;

/* What a script does and what it found. */
typedef struct job {
  op_kind op;
  eve_atom *a;       /* the atom the script changes                         */
  eve_atom *src;     /* the atom it reads                                   */
  eve_val key, key2, key3; /* immediates                                    */
  const char *edn;   /* a value to build in the worker's txn                */
  const char *want;  /* what a held (or old) value must still read as       */
  int stop_in_fn;    /* stop at P_IN_FN on the first call of the function   */
  /* results, read by the test after the worker finished */
  int calls;         /* swap function calls: 1 + retries                     */
  int equal;         /* the held / old value still equalled `want`           */
  int inner_rc;      /* OP_NESTED: the refused self-swap                     */
  uint64_t pin_epoch;/* the epoch the script's txn pinned                    */
  eve_val held;      /* a reader's value (valid while it holds)              */
} job;

typedef struct worker worker;
typedef int (*script_fn)(worker *w);

struct worker {
  const char *name;
  eve_domain *d;
  script_fn script;
  job j;
  pthread_t th;
  int running;       /* started and not yet joined (test thread only)      */
  /* guarded by g_mu */
  int bp_point;
  uint64_t bp_off;   /* stop only at this block (0: any)                    */
  int paused, release, done, rc, timed_out;
  int at_point, at_won;
  uint64_t at_off;
  int cas_won, cas_lost;
  uint64_t inflight[MAX_INFLIGHT]; /* counts raised, root CAS not yet done  */
  int ninflight;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static worker g_w[MAX_WORKERS]; /* static: a failed test may leave them running */
static __thread worker *tls_w;  /* the worker this thread runs, NULL in the test */

static const char *point_name(int p) {
  switch (p) {
  case PAUSE_AFTER_COUNT: return "AFTER_COUNT";
  case PAUSE_AFTER_DOOM: return "AFTER_DOOM";
  case PAUSE_AFTER_ADOPT: return "AFTER_ADOPT";
  case PAUSE_BEFORE_CAS: return "BEFORE_CAS";
  case PAUSE_AFTER_CAS: return "AFTER_CAS";
  case PAUSE_BEFORE_DROP: return "BEFORE_DROP";
  case P_HOLD: return "HOLD";
  case P_IN_FN: return "IN_FN";
  default: return "?";
  }
}

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* Worker side, g_mu held: does this point match the armed breakpoint? */
static int bp_hit(worker *w, int point, uint64_t off) {
  if (w->bp_point != point || (w->bp_off && w->bp_off != off)) return 0;
  w->bp_point = 0; /* one shot: the test arms the next one */
  return 1;
}

/* Worker side, g_mu held: stop until the test releases us.  A bounded wait,
 * so a broken test cannot hang the suite (it has failed by then). */
static void stop_here(worker *w, int point, uint64_t off, int won) {
  w->paused = 1;
  w->at_point = point;
  w->at_off = off;
  w->at_won = won;
  pthread_cond_broadcast(&g_cv);
  struct timespec ts;
  deadline_in(&ts, HOLD_MS);
  while (!w->release)
    if (pthread_cond_timedwait(&g_cv, &g_mu, &ts) == ETIMEDOUT) {
      w->timed_out = 1;
      break;
    }
  w->release = 0;
  w->paused = 0;
}

/* The commit's pause hook: runs in every committing thread; only workers stop. */
static void pause_hook(enum commit_pause p, uint64_t off, int won, void *ctx) {
  (void)ctx;
  worker *w = tls_w;
  if (!w) return;
  pthread_mutex_lock(&g_mu);
  switch (p) {
  case PAUSE_AFTER_COUNT: w->ninflight = 0; break; /* a new attempt: the last one rolled back */
  case PAUSE_AFTER_ADOPT:
    if (w->ninflight < MAX_INFLIGHT) w->inflight[w->ninflight++] = off;
    break;
  case PAUSE_AFTER_CAS:
    if (won) w->cas_won++;
    else w->cas_lost++;
    break;
  default: break;
  }
  if (bp_hit(w, (int)p, off)) stop_here(w, (int)p, off, won);
  if (p == PAUSE_AFTER_CAS) w->ninflight = 0; /* published, or rolled back next */
  pthread_mutex_unlock(&g_mu);
}

/* A point of the script's own (no-op outside a worker). */
static void w_point(int point) {
  worker *w = tls_w;
  if (!w) return;
  pthread_mutex_lock(&g_mu);
  if (bp_hit(w, point, 0)) stop_here(w, point, 0, 0);
  pthread_mutex_unlock(&g_mu);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  tls_w = w;
  int rc = w->script(w);
  tls_w = NULL;
  pthread_mutex_lock(&g_mu);
  w->rc = rc;
  w->done = 1;
  w->ninflight = 0;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return NULL;
}

static worker *w_new(int i, const char *name, eve_domain *d, script_fn script) {
  worker *w = &g_w[i];
  cr_assert(!w->running, "worker slot %d still running", i);
  memset(w, 0, sizeof *w);
  w->name = name;
  w->d = d;
  w->script = script;
  return w;
}

/* Arm a one-shot breakpoint: stop at `point` (at block `off`, 0 = any). */
static void w_break(worker *w, int point, uint64_t off) {
  pthread_mutex_lock(&g_mu);
  w->bp_point = point;
  w->bp_off = off;
  pthread_mutex_unlock(&g_mu);
}

static void w_start(worker *w) {
  cr_assert_eq(pthread_create(&w->th, NULL, worker_main, w), 0);
  w->running = 1;
}

/* Wait until w stops at `point`; fails if it finishes or hangs instead. */
static void w_wait(worker *w, int point) {
  struct timespec ts;
  deadline_in(&ts, WAIT_MS);
  pthread_mutex_lock(&g_mu);
  int tmo = 0;
  while (!(w->paused && w->at_point == point) && !w->done && !tmo)
    tmo = pthread_cond_timedwait(&g_cv, &g_mu, &ts) == ETIMEDOUT;
  int ok = w->paused && w->at_point == point, done = w->done, rc = w->rc;
  pthread_mutex_unlock(&g_mu);
  cr_assert(ok, "%s never stopped at %s (%s)", w->name, point_name(point),
            done ? eve_err_name(rc) : "timed out");
}

static void w_release(worker *w) {
  pthread_mutex_lock(&g_mu);
  if (w->paused) {
    w->paused = 0;
    w->release = 1;
    pthread_cond_broadcast(&g_cv);
  }
  pthread_mutex_unlock(&g_mu);
}

/* Release w and run it to its next stop at `point` (block `off`). */
static void w_step(worker *w, int point, uint64_t off) {
  w_break(w, point, off);
  w_release(w);
  w_wait(w, point);
}

/* Release w, let it run to the end of its script, join it; its rc. */
static int w_finish(worker *w) {
  w_break(w, 0, 0);
  w_release(w);
  struct timespec ts;
  deadline_in(&ts, WAIT_MS);
  pthread_mutex_lock(&g_mu);
  int tmo = 0;
  while (!w->done && !tmo) tmo = pthread_cond_timedwait(&g_cv, &g_mu, &ts) == ETIMEDOUT;
  int done = w->done, timed_out = w->timed_out;
  pthread_mutex_unlock(&g_mu);
  cr_assert(done, "%s did not finish", w->name);
  pthread_join(w->th, NULL); /* its retire buffer becomes visible to the test thread */
  w->running = 0;
  cr_assert(!timed_out, "%s waited too long at a stop", w->name);
  return w->rc;
}

static int w_run(worker *w) {
  w_start(w);
  return w_finish(w);
}

/* Start w and wait for its first stop. */
static void w_start_to(worker *w, int point, uint64_t off) {
  w_break(w, point, off);
  w_start(w);
  w_wait(w, point);
}

/* ==== text helpers ========================================================= */

static char g_text[96][2048];
static int g_ntext;

/* printf into a buffer that lives as long as the test (workers read them). */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...) {
  cr_assert_lt(g_ntext, 96, "text arena full");
  char *s = g_text[g_ntext++];
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(s, sizeof g_text[0], f, ap);
  va_end(ap);
  cr_assert(n > 0 && n < (int)sizeof g_text[0]);
  return s;
}

/* EVE_TEST_NO_PAIRING=1 runs every scenario with the commit's pair fast
 * path switched off (CTest runs the suite both ways): both must pass. */
static int pairing_on(void) {
  const char *e = getenv("EVE_TEST_NO_PAIRING");
  return !(e && *e && strcmp(e, "0") != 0);
}

static void setup(void) {
  g_ntext = 0;
  eve__test_set_commit_pause(pause_hook, NULL);
  eve__test_set_commit_pairing(pairing_on());
}

static void teardown(void) { eve__test_set_commit_pause(NULL, NULL); }

TestSuite(reclaim, .init = setup, .fini = teardown);

/* ==== oracles ============================================================== */

/* Counts raised by workers stopped before their root CAS, and the blocks
 * below them: an adopter's pending root word will justify them (or its
 * rollback undo them), so until then the checker may see a SHARED count
 * above the in-degree there, and only there. */
static uint64_t g_tol[1024];
static size_t g_ntol;

static int tolerated(uint64_t off) {
  for (size_t i = 0; i < g_ntol; i++)
    if (g_tol[i] == off) return 1;
  return 0;
}

static void tol_add(void *ctx, const uint64_t *slot) {
  (void)ctx;
  if (VAL_IS_BLOCK(*slot) && !tolerated(*slot) && g_ntol < 1024) g_tol[g_ntol++] = *slot;
}

static void collect_tolerated(eve_domain *d) {
  g_ntol = 0;
  for (int i = 0; i < MAX_WORKERS; i++)
    for (int k = 0; k < g_w[i].ninflight; k++) tol_add(NULL, &g_w[i].inflight[k]);
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  for (size_t i = 0; i < g_ntol; i++) blk_for_each_child(t, g_tol[i], tol_add, NULL);
  EVE_OK(eve_txn_end(t));
}

typedef struct problems {
  int bad, tolerated;
  char first[3][256];
} problems;

static void on_problem(void *ctx, const char *msg) {
  problems *p = ctx;
  unsigned long long off;
  unsigned count, indeg;
  /* an adopter stopped before its root CAS has raised counts that its CAS
   * will justify (or its rollback undo): the only tolerated difference,
   * which the checker reports as a leak, not a problem */
  if (sscanf(msg, "leak: block %llx: SHARED count %u but %u incoming words", &off, &count,
             &indeg) == 3 &&
      count > indeg && tolerated(off)) {
    p->tolerated++;
    return;
  }
  if (p->bad < 3) snprintf(p->first[p->bad], sizeof p->first[0], "%s", msg);
  p->bad++;
}

typedef struct retired_set {
  uint64_t *off;
  size_t n, cap;
  int dup;
  uint64_t dup_off;
} retired_set;

static void collect_retired(retire_buf *rb, void *ctx) {
  retired_set *s = ctx;
  for (size_t i = 0; i < rb->n; i++) {
    for (size_t k = 0; k < s->n; k++)
      if (s->off[k] == rb->e[i].off) {
        s->dup = 1;
        s->dup_off = rb->e[i].off;
      }
    if (s->n == s->cap) {
      s->cap = s->cap ? 2 * s->cap : 64;
      s->off = realloc(s->off, s->cap * sizeof *s->off);
    }
    s->off[s->n++] = rb->e[i].off;
  }
}

/* No block waits twice in the retire buffers this thread can see (its own
 * and those of finished workers): S2b's double free, caught before it runs. */
static void assert_no_double_retire(eve_domain *d, const char *when) {
  retired_set s = {0};
  alloc_for_each_retire_buf(d, 0, collect_retired, &s);
  free(s.off);
  cr_assert(!s.dup, "%s: block %#llx retired twice", when, (unsigned long long)s.dup_off);
}

/* Every started worker is stopped at a point where the graph is checkable:
 * before its root CAS (its dooms are flags on still-live blocks and its
 * raised counts are tolerated) or outside a commit. */
static void assert_workers_quiet(const char *when) {
  pthread_mutex_lock(&g_mu);
  const char *busy = NULL;
  for (int i = 0; i < MAX_WORKERS; i++)
    if (g_w[i].running && !g_w[i].done && (!g_w[i].paused || g_w[i].at_point == PAUSE_AFTER_CAS ||
                                            g_w[i].at_point == PAUSE_BEFORE_DROP))
      busy = g_w[i].name;
  pthread_mutex_unlock(&g_mu);
  cr_assert(!busy, "%s: test bug: %s is not stopped at a checkable point", when, busy);
}

/* The checker finds the ownership invariant intact. */
static void check_now(eve_domain *d, const char *when) {
  assert_workers_quiet(when);
  assert_no_double_retire(d, when);
  problems p = {0};
  eve_check_report r;
  pthread_mutex_lock(&g_mu); /* the workers' in-flight counts */
  collect_tolerated(d);
  pthread_mutex_unlock(&g_mu);
  int rc = eve_check(d, &r, on_problem, &p);
  cr_assert_eq(p.bad, 0, "%s: %d problems: %s | %s | %s", when, p.bad, p.first[0], p.first[1],
               p.first[2]);
  cr_assert_eq(rc, 0, "%s: check: %s", when, eve_strerror(rc));
  cr_assert(r.settled, "%s: the counts were not verified", when);
  cr_assert_eq(r.excess_owners, (uint64_t)p.tolerated, "%s: %llu excess owners, %d tolerated", when,
               (unsigned long long)r.excess_owners, p.tolerated);
}

/* Free everything that waits for a grace period: no txn may be pinned. */
static void drain(eve_domain *d) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st)); /* reclaims with no pin in its way */
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_eq(st.retired_bytes, 0, "%llu bytes still wait after draining",
               (unsigned long long)st.retired_bytes);
}

/* Allocate blocks of every small size class and fill them with a pattern, so
 * that whatever reclamation freed is overwritten before the atoms are read
 * back.  The caller aborts the returned txn when done. */
static eve_txn *reuse_batch(eve_domain *d) {
  static unsigned char junk[1024];
  memset(junk, 0xA5, sizeof junk);
  eve_txn *t = t_wtxn(d);
  eve_val v;
  for (int round = 0; round < 48; round++)
    for (size_t n = 0; n <= 992; n += 16) EVE_OK(eve_bytes(t, junk, n, &v));
  return t;
}

/* The atom holds a value equal to `edn`. */
static void assert_atom_edn(eve_domain *d, eve_atom *a, const char *edn, const char *when) {
  eve_txn *t = t_wtxn(d);
  eve_val got, want;
  int eq = 0;
  EVE_OK(eve_deref(t, a, &got));
  EVE_OK(eve_read_edn(t, edn, strlen(edn), &want, NULL));
  EVE_OK(eve_equal(t, got, want, &eq));
  if (!eq) {
    char got_s[512];
    snprintf(got_s, sizeof got_s, "%s", t_edn(t, got));
    cr_assert_fail("%s: atom holds %s, expected %s", when, got_s, edn);
  }
  EVE_OK(eve_txn_end(t));
}

typedef struct expect {
  eve_atom *a;
  const char *edn;
} expect;

static void assert_no_leak(eve_domain *d, const char *when) {
  eve_check_report r;
  EVE_OK(eve_check(d, &r, NULL, NULL));
  cr_assert_eq(r.leaked_bytes, 0, "%s: %llu bytes leaked (allocated %llu, reachable %llu)", when,
               (unsigned long long)r.leaked_bytes, (unsigned long long)r.allocated_bytes,
               (unsigned long long)r.reachable_bytes);
}

/* The end of every scenario: everything joined and quiet, reclamation
 * drained, freed memory reused, every atom reads back as expected, nothing
 * leaked. */
static void finish_exact(eve_domain *d, const expect *ex, size_t n, const char *when) {
  check_now(d, when);
  drain(d);
  eve_txn *junk = reuse_batch(d);
  for (size_t i = 0; i < n; i++) assert_atom_edn(d, ex[i].a, ex[i].edn, when);
  EVE_OK(eve_txn_end(junk));
  check_now(d, when);
  assert_no_leak(d, when);
}

/* ==== building graphs ====================================================== */

/* An in-memory domain.  A 1 GiB reservation instead of the default 1 TiB:
 * ThreadSanitizer's address-space layout has no room for 1 TiB mappings. */
static eve_domain *open_mem(void) {
  eve_options o = {.max_size = 1ull << 30};
  eve_domain *d = NULL;
  EVE_OK(eve_open(NULL, &o, &d));
  return d;
}

static eve_val ival(int64_t i) { return ((uint64_t)i << 3) | TAG_INT; }

/* A keyword of at most 7 bytes: an immediate, usable in any txn of d. */
static eve_val kw(eve_domain *d, const char *s) {
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_keyword(t, s, strlen(s), &v));
  EVE_OK(eve_txn_end(t));
  cr_assert(!VAL_IS_BLOCK(v), "keyword %s is not inline", s);
  return v;
}

/* The smallest integer key whose hash has `prefix` in its low `bits` bits:
 * bits 0-4 choose the root slot, 5-9 the level-1 slot, 10-14 level 2.  So a
 * test places keys in the CHAMP node it needs without changing the hash. */
static int64_t key_where(eve_domain *d, unsigned bits, uint64_t prefix) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  uint64_t mask = (1ull << bits) - 1;
  for (int64_t k = 1; k < (INT64_C(1) << 24); k++)
    if ((val_hash(t, ival(k)) & mask) == prefix) {
      EVE_OK(eve_txn_end(t));
      return k;
    }
  cr_assert_fail("no key with hash prefix %#llx", (unsigned long long)prefix);
  return 0;
}

static uint64_t slots(unsigned s0, unsigned s1) { return s0 | (uint64_t)s1 << 5; }

static eve_atom *atom_with(eve_domain *d, const char *name, const char *edn) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  if (edn) {
    eve_txn *t = t_wtxn(d);
    eve_val v;
    EVE_OK(eve_read_edn(t, edn, strlen(edn), &v, NULL));
    EVE_OK(eve_reset(t, a, v));
    EVE_OK(eve_txn_end(t));
  }
  return a;
}

/* The atom's root word (a block offset: names a block for breakpoints). */
static eve_val root_of(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  eve_val v;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_txn_end(t));
  return v;
}

/* The value word under key in map m. */
static eve_val get_word(eve_domain *d, eve_val m, eve_val key) {
  eve_txn *t;
  eve_val v;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_map_get(t, m, key, &v));
  EVE_OK(eve_txn_end(t));
  return v;
}

/* The child node in slot s of a map node. */
static uint64_t node_child(eve_domain *d, uint64_t node, unsigned s) {
  const champ_node *n = region_ptr(d, node);
  uint32_t bit = 1u << s;
  cr_assert(n->nodemap & bit, "node %#llx has no child in slot %u", (unsigned long long)node, s);
  return n->w[2u * (unsigned)__builtin_popcount(n->datamap) +
              (unsigned)__builtin_popcount(n->nodemap & (bit - 1))];
}

static uint64_t meta_of(eve_domain *d, uint64_t off) {
  return atomic_load(&((blk *)region_ptr(d, off))->meta);
}

static int is_shared(eve_domain *d, uint64_t off) { return META_SHARED(meta_of(d, off)); }
static unsigned count_of(eve_domain *d, uint64_t off) { return META_COUNT(meta_of(d, off)); }
static int is_doomed(eve_domain *d, uint64_t off) {
  return META_STATE(meta_of(d, off)) == BLK_RETIRED;
}

static uint64_t global_epoch(eve_domain *d) { return atomic_load(&d->hdr->epoch); }

/* ==== scripts ============================================================== */

static int read_edn(eve_txn *t, const char *edn, eve_val *out) {
  return eve_read_edn(t, edn, strlen(edn), out, NULL);
}

/* `v` still equals the EDN `want` (0 on any error). */
static int still_equal(eve_txn *t, eve_val v, const char *want) {
  eve_val w;
  int eq = 0;
  if (read_edn(t, want, &w) || eve_equal(t, v, w, &eq)) return 0;
  return eq;
}

static int job_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  job *j = arg;
  int first = j->calls++ == 0;
  eve_val v, m1, m2;
  int rc = 0;
  switch (j->op) {
  case OP_ASSOC:
    if (!(rc = read_edn(t, j->edn, &v))) rc = eve_map_assoc(t, old, j->key, v, out);
    break;
  case OP_DISSOC: rc = eve_map_dissoc(t, old, j->key, out); break;
  case OP_SNAP:
    if (!(rc = eve_deref(t, j->src, &v))) rc = eve_map_assoc(t, old, j->key, v, out);
    break;
  case OP_SNAP_IN:
    if (!(rc = eve_deref(t, j->src, &m1)) && !(rc = eve_map_get(t, m1, j->key2, &v)))
      rc = eve_map_assoc(t, old, j->key, v, out);
    break;
  case OP_ASSOC_IN:
    if (!(rc = read_edn(t, j->edn, &v)) && !(rc = eve_map_get(t, old, j->key, &m1)) &&
        !(rc = eve_map_assoc(t, m1, j->key2, v, &m2)))
      rc = eve_map_assoc(t, old, j->key, m2, out);
    break;
  case OP_TWICE:
    if (!(rc = read_edn(t, j->edn, &v)) && !(rc = eve_map_assoc(t, old, j->key, v, &m1)))
      rc = eve_map_assoc(t, m1, j->key2, v, out);
    break;
  case OP_VEC_TWICE:
    if (!(rc = read_edn(t, j->edn, &v)) && !(rc = eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &m1)))
      rc = eve_vec_conj(t, m1, v, out);
    break;
  case OP_S2C:
    if (!(rc = eve_map_assoc(t, old, j->key2, ival(1), &m1)) &&
        !(rc = eve_map_get(t, old, j->key, &v)))
      rc = eve_map_assoc(t, m1, j->key3, v, out);
    break;
  case OP_LET: /* (let [m1 (assoc m :a "...") m2 (assoc m1 :b "...")] (assoc m2 :c m1)) */
    if ((rc = read_edn(t, "\"the string under :a\"", &v)) ||
        (rc = eve_map_assoc(t, old, j->key, v, &m1)) ||
        (rc = read_edn(t, "\"the string under :b\"", &v)) ||
        (rc = eve_map_assoc(t, m1, j->key2, v, &m2)))
      break;
    if (first && j->stop_in_fn) w_point(P_IN_FN);
    /* m1 is used after m2 was built from it: nothing may have freed or
     * edited it in place meanwhile (finding 8) */
    if (first) j->equal = still_equal(t, m1, j->want);
    rc = eve_map_assoc(t, m2, j->key3, m1, out);
    break;
  case OP_NESTED: {
    /* a nested txn on the same thread pins and unpins; a deref in this txn
     * must not end the outer swap's protection (finding 7) */
    eve_txn *inner;
    if ((rc = eve_txn_begin(tls_w->d, EVE_TXN_READ, &inner))) break;
    rc = eve_deref(inner, j->src, &v);
    eve_txn_end(inner);
    if (rc || (rc = eve_deref(t, j->src, &v))) break;
    j->inner_rc = eve_swap(t, j->a, job_fn, j, NULL); /* its own atom: refused */
    if (first && j->stop_in_fn) w_point(P_IN_FN);
    if (first) j->equal = still_equal(t, old, j->want);
    rc = eve_map_assoc(t, old, j->key, v, out);
    break;
  }
  case OP_REST: rc = eve_list_rest(t, old, out); break;
  case OP_POP: rc = eve_vec_pop(t, old, out); break;
  case OP_CONS:
    if (!(rc = read_edn(t, j->edn, &v))) rc = eve_list_cons(t, v, old, out);
    break;
  case OP_WRAP: rc = eve_vec_conj(t, EVE_V_EMPTY_VECTOR, old, out); break;
  case OP_WRAP2:
    if (!(rc = eve_vec_conj(t, EVE_V_EMPTY_VECTOR, old, &m1))) rc = eve_vec_conj(t, m1, old, out);
    break;
  case OP_UNWRAP: rc = eve_vec_nth(t, old, 0, out); break;
  case OP_PREV: rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, j->key, old, out); break;
  case OP_GET: rc = eve_map_get(t, old, j->key, out); break;
  case OP_MERGE:
    if (!(rc = eve_deref(t, j->src, &v))) rc = eve_map_merge(t, old, v, out);
    break;
  case OP_CONST: rc = read_edn(t, j->edn, out); break;
  case OP_REST_OF:
    if (!(rc = eve_deref(t, j->src, &v))) rc = eve_list_rest(t, v, out);
    break;
  }
  if (!rc && first && j->stop_in_fn && j->op != OP_LET && j->op != OP_NESTED) w_point(P_IN_FN);
  return rc;
}

static void note_pin(worker *w, eve_txn *t) {
  const eve_slot *s =
      region_ptr(w->d, w->d->hdr->slots_off + (uint64_t)t->slot * EVE_SLOT_BYTES);
  w->j.pin_epoch = atomic_load(&s->epoch);
}

/* One swap of j.a by job_fn, in a txn of its own. */
static int script_swap(worker *w) {
  eve_txn *t;
  int rc = eve_txn_begin(w->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  note_pin(w, t);
  rc = eve_swap(t, w->j.a, job_fn, &w->j, NULL);
  eve_txn_end(t);
  return rc;
}

/* compare-and-set j.a from its current value to job_fn(current). */
static int script_cas(worker *w) {
  eve_txn *t;
  int rc = eve_txn_begin(w->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val cur, next;
  if (!(rc = eve_deref(t, w->j.a, &cur)) && !(rc = job_fn(t, cur, &w->j, &next)))
    rc = eve_compare_and_set(t, w->j.a, cur, next);
  eve_txn_end(t);
  return rc;
}

/* A reader: deref j.src, hold the txn open at P_HOLD, then check that the
 * value still reads as j.want and, if j.a is set, reset j.a to it (to
 * {j.key it} when j.key is not nil): a snapshot taken from an old pin. */
static int script_reader(worker *w) {
  job *j = &w->j;
  eve_txn *t;
  int rc = eve_txn_begin(w->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  note_pin(w, t);
  if ((rc = eve_deref(t, j->src, &j->held)) == 0) {
    w_point(P_HOLD);
    j->equal = j->want ? still_equal(t, j->held, j->want) : 1;
    if (j->a) {
      eve_val v = j->held;
      if (j->key != EVE_V_NIL) rc = eve_map_assoc(t, EVE_V_NIL, j->key, j->held, &v);
      if (!rc) rc = eve_reset(t, j->a, v);
    }
  }
  eve_txn_end(t);
  return rc;
}

/* eve_atom_remove of the atom named by j.edn. */
static int script_remove(worker *w) { return eve_atom_remove(w->d, w->j.edn); }

/* Configure a worker's job in one expression. */
static worker *swapper(int i, const char *name, eve_domain *d, op_kind op, eve_atom *a) {
  worker *w = w_new(i, name, d, script_swap);
  w->j.op = op;
  w->j.a = a;
  return w;
}

static worker *reader(int i, const char *name, eve_domain *d, eve_atom *src, const char *want) {
  worker *w = w_new(i, name, d, script_reader);
  w->j.src = src;
  w->j.want = want;
  return w;
}

/* ==== S1, S4, S8: two child nodes under A's root ============================ */

#define V1B_OLD "v1b: the first string"
#define V5B_OLD "v5b: the first string"
#define V1B_NEW "v1b: the second string"
#define V5B_NEW "v5b: the second string"

/* A's root O holds two child nodes: c1 (root slot 1) and c5 (slot 5).  Each
 * holds a vector (l1, l5) and a string (v1b, v5b).  B starts empty. */
typedef struct quad {
  eve_domain *d;
  eve_atom *a, *b;
  int64_t k1a, k1b, k5a, k5b;
  uint64_t O, c1, c5, l1, l5, v1b, v5b;
} quad;

static const char *quad_edn(const quad *q, const char *v1b, const char *v5b) {
  return fmt("{%lld [1 \"l1 is a vector\"] %lld \"%s\" %lld [5 \"l5 is a vector\"] %lld \"%s\"}",
             (long long)q->k1a, (long long)q->k1b, v1b, (long long)q->k5a, (long long)q->k5b, v5b);
}

static void quad_build(quad *q) {
  eve_domain *d = q->d = open_mem();
  q->k1a = key_where(d, 10, slots(1, 3));
  q->k1b = key_where(d, 10, slots(1, 7));
  q->k5a = key_where(d, 10, slots(5, 3));
  q->k5b = key_where(d, 10, slots(5, 7));
  q->a = atom_with(d, "a", quad_edn(q, V1B_OLD, V5B_OLD));
  q->b = atom_with(d, "b", NULL);
  q->O = root_of(d, q->a);
  q->c1 = node_child(d, q->O, 1);
  q->c5 = node_child(d, q->O, 5);
  q->l1 = get_word(d, q->O, ival(q->k1a));
  q->v1b = get_word(d, q->O, ival(q->k1b));
  q->l5 = get_word(d, q->O, ival(q->k5a));
  q->v5b = get_word(d, q->O, ival(q->k5b));
  check_now(d, "graph built");
}

static void quad_close(quad *q) {
  eve_atom_close(q->a);
  eve_atom_close(q->b);
  EVE_OK(eve_close(q->d));
}

/* P1: swap(A, assoc k5b "..."), a path copy of O and c5: O, c5 and v5b die,
 * c1 and l5 are transferred. */
static worker *quad_p1(quad *q) {
  worker *w = swapper(0, "P1 (A: update under c5)", q->d, OP_ASSOC, q->a);
  w->j.key = ival(q->k5b);
  w->j.edn = "\"" V5B_NEW "\"";
  return w;
}

/* P2: swap(B, #(assoc % :snap @A)), an adopter of A's root. */
static worker *quad_p2(quad *q) {
  worker *w = swapper(1, "P2 (B: assoc :snap @A)", q->d, OP_SNAP, q->b);
  w->j.src = q->a;
  w->j.key = kw(q->d, "snap");
  return w;
}

/* P3: swap(A, assoc k1b "..."), a path copy of A's root and c1. */
static worker *quad_p3(quad *q) {
  worker *w = swapper(2, "P3 (A: update under c1)", q->d, OP_ASSOC, q->a);
  w->j.key = ival(q->k1b);
  w->j.edn = "\"" V1B_NEW "\"";
  return w;
}

static eve_val snap_of(quad *q) { return get_word(q->d, root_of(q->d, q->b), kw(q->d, "snap")); }

/* P3 runs, then everything is checked against the expected values. */
static void quad_end(quad *q, const char *b_edn, const char *when) {
  EVE_OK(w_run(quad_p3(q)));
  check_now(q->d, "P3 (update under c1) published");
  expect ex[] = {{q->a, quad_edn(q, V1B_NEW, V5B_NEW)}, {q->b, b_edn}};
  finish_exact(q->d, ex, 2, when);
  quad_close(q);
}

/* S1: "P1 path-copies A; P2 stores A's root into B; P3 path-copies A again".
 * The draft's order: P1 has counted (c1 looks transferred) when P2 sets
 * SHARED on O and publishes B -> O.  P1's doom of O must now find SHARED, so
 * O lives and c1 gains an owner instead of being transferred unflagged;
 * otherwise P3 later retires c1 while B -> O -> c1 still uses it. */
Test(reclaim, s1_adopter_resurrects_transferred_child) {
  quad q;
  quad_build(&q);
  worker *p1 = quad_p1(&q);
  w_start_to(p1, PAUSE_AFTER_COUNT, 0);
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert(is_shared(q.d, q.O) && count_of(q.d, q.O) == 2, "P2 adopted O");
  check_now(q.d, "P2 published B -> O while P1 sits between count and doom");
  w_step(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(!is_doomed(q.d, q.O), "P1's doom of O must fail on SHARED");
  cr_assert(is_shared(q.d, q.c1), "c1 gained an owner (B -> O -> c1 and N -> c1)");
  check_now(q.d, "P1 before its root CAS");
  EVE_OK(w_finish(p1));
  cr_assert_eq(count_of(q.d, q.O), 1, "O lost A's owner");
  cr_assert_eq(count_of(q.d, q.c1), 2);
  check_now(q.d, "P1 published");
  quad_end(&q, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD)), "S1");
}

/* S1, the other order: P1 dooms O first; P2 then finds O RETIRED and must
 * copy it (a resurrection copy), which gives c1 and c5 one more owner each. */
Test(reclaim, s1_adopter_copies_a_doomed_root) {
  quad q;
  quad_build(&q);
  worker *p1 = quad_p1(&q);
  w_start_to(p1, PAUSE_AFTER_DOOM, q.O);
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert_neq(snap_of(&q), q.O, "P2 copied the doomed O");
  cr_assert(is_shared(q.d, q.c1) && is_shared(q.d, q.c5), "O's copy owns c1 and c5 too");
  check_now(q.d, "P2 published a copy of O while P1 is doomed O only");
  EVE_OK(w_finish(p1));
  check_now(q.d, "P1 published");
  quad_end(&q, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD)), "S1 doom first");
}

/* S1 with P1's whole spine doomed (O, c5 and the replaced v5b): P2 copies
 * O, c5 and v5b, and adopts c1 and l5. */
Test(reclaim, s1_adopter_copies_the_doomed_spine) {
  quad q;
  quad_build(&q);
  worker *p1 = quad_p1(&q);
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(q.d, q.O) && is_doomed(q.d, q.c5) && is_doomed(q.d, q.v5b));
  cr_assert(!is_doomed(q.d, q.c1) && !is_doomed(q.d, q.l5), "transferred blocks are not doomed");
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert(is_shared(q.d, q.c1) && is_shared(q.d, q.l5));
  check_now(q.d, "P2 published copies of the doomed spine");
  EVE_OK(w_finish(p1));
  check_now(q.d, "P1 published");
  quad_end(&q, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD)), "S1 spine doomed");
}

/* S1, "P2's step after P1's root CAS but before P1's RETIRED(O), by a reader
 * that pinned before the CAS": R reads O, P1 wins its CAS and stops before
 * retiring anything, then R stores {:snap O} into B. */
Test(reclaim, s1_late_reader_adopts_after_the_cas) {
  quad q;
  quad_build(&q);
  const char *orig = quad_edn(&q, V1B_OLD, V5B_OLD);
  worker *r = reader(1, "R (reads A, later B <- {:snap it})", q.d, q.a, orig);
  r->j.a = q.b;
  r->j.key = kw(q.d, "snap");
  w_start_to(r, P_HOLD, 0);
  worker *p1 = quad_p1(&q);
  w_start_to(p1, PAUSE_AFTER_CAS, 0);
  cr_assert(p1->at_won, "P1 won its root CAS");
  EVE_OK(w_finish(r)); /* adopts O, doomed before P1's CAS: a copy */
  cr_assert(r->j.equal, "R's old value was intact");
  EVE_OK(w_finish(p1));
  check_now(q.d, "R and P1 published");
  quad_end(&q, fmt("{:snap %s}", orig), "S1 late reader");
}

/* S1 with the adopter's root CAS last: P2 raised O's count, then P1 ran
 * entirely (its doom found SHARED), then P2 published. */
Test(reclaim, s1_adopter_publishes_after_the_path_copy) {
  quad q;
  quad_build(&q);
  worker *p2 = quad_p2(&q);
  w_start_to(p2, PAUSE_AFTER_ADOPT, q.O);
  check_now(q.d, "P2 raised O's count (tolerated until its CAS)");
  EVE_OK(w_run(quad_p1(&q)));
  check_now(q.d, "P1 published while P2 waits before its CAS");
  EVE_OK(w_finish(p2));
  check_now(q.d, "P2 published");
  quad_end(&q, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD)), "S1 adopter last");
}

/* A worker that resets `a` to the EDN value `edn`. */
static worker *resetter(int i, const char *name, eve_domain *d, eve_atom *a, const char *edn) {
  worker *w = swapper(i, name, d, OP_CONST, a);
  w->j.edn = edn;
  return w;
}

/* S4: "two racing path-copies on A + an adopter".  P1 and P3 both load O
 * and doom their spines: P3 finds O already RETIRED (success) and dooms c1,
 * which P1 transfers.  P1 wins; P3's doom of c1 is never undone, so the
 * live N1 -> c1 is RETIRED.  P2 then adopts N1 into B; P3 retries on N1,
 * finds it SHARED and must neither retire N1 nor c1 below it.  Dropping B at
 * the end must free N1 and c1 exactly once. */
Test(reclaim, s4_racing_path_copies_and_an_adopter) {
  quad q;
  quad_build(&q);
  worker *p1 = quad_p1(&q), *p3 = quad_p3(&q);
  w_start_to(p1, PAUSE_AFTER_COUNT, 0);
  w_start_to(p3, PAUSE_AFTER_COUNT, 0);
  w_step(p1, PAUSE_BEFORE_CAS, 0);
  w_step(p3, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(q.d, q.c1) && is_doomed(q.d, q.v1b), "P3 doomed its spine below O");
  check_now(q.d, "both path copies doomed, neither published");
  EVE_OK(w_finish(p1));
  check_now(q.d, "P1 won");
  uint64_t n1 = root_of(q.d, q.a);
  cr_assert(is_doomed(q.d, q.c1), "a doom is never cleared: N1 -> c1 is live and RETIRED");
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert(is_shared(q.d, n1), "P2 adopted N1");
  check_now(q.d, "P2 published B -> N1");
  w_step(p3, PAUSE_AFTER_CAS, 0);
  cr_assert(!p3->at_won, "P3's first root CAS loses to P1");
  EVE_OK(w_finish(p3));
  cr_assert_eq(p3->j.calls, 2, "P3 retried once");
  cr_assert(is_shared(q.d, n1) && count_of(q.d, n1) == 1, "N1 lives on in B only");
  check_now(q.d, "P3 published on its retry");
  const char *b_edn = fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_NEW));
  expect ex[] = {{q.a, quad_edn(&q, V1B_NEW, V5B_NEW)}, {q.b, b_edn}};
  finish_exact(q.d, ex, 2, "S4");
  EVE_OK(w_run(resetter(1, "P4 (B <- nil)", q.d, q.b, "nil")));
  ex[1].edn = "nil";
  finish_exact(q.d, ex, 2, "S4, B dropped: N1 and the RETIRED c1 freed once");
  quad_close(&q);
}

/* S4 with the adopter between both path copies' dooms and either root CAS:
 * O, c1, c5, v1b and v5b are all RETIRED, so P2 copies every one of them
 * and adopts l1 and l5; then P1 wins and P3 retries. */
Test(reclaim, s4_adopter_between_two_dooming_path_copies) {
  quad q;
  quad_build(&q);
  worker *p1 = quad_p1(&q), *p3 = quad_p3(&q);
  w_start_to(p1, PAUSE_AFTER_COUNT, 0);
  w_start_to(p3, PAUSE_AFTER_COUNT, 0);
  w_step(p1, PAUSE_BEFORE_CAS, 0);
  w_step(p3, PAUSE_BEFORE_CAS, 0);
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert(is_shared(q.d, q.l1) && is_shared(q.d, q.l5), "P2 adopted the live leaves");
  check_now(q.d, "P2 published copies of both doomed spines");
  EVE_OK(w_finish(p1));
  check_now(q.d, "P1 won");
  EVE_OK(w_finish(p3));
  cr_assert_eq(p3->j.calls, 2);
  check_now(q.d, "P3 published on its retry");
  expect ex[] = {{q.a, quad_edn(&q, V1B_NEW, V5B_NEW)},
                 {q.b, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD))}};
  finish_exact(q.d, ex, 2, "S4 adopter in the middle");
  quad_close(&q);
}

/* S8: "B reset to an old snapshot of A during two path copies".  R pins and
 * reads O; P1 path-copies A (O, c5, v5b retired, held back by R's pin); P3
 * path-copies again and has doomed N1, c1 and v1b; then R resets B to O.
 * The root word B -> O is an owner edge: O, c1, c5, v1b and v5b are all
 * RETIRED and must be copied, l1 and l5 adopted. */
Test(reclaim, s8_reset_to_an_old_snapshot_during_two_path_copies) {
  quad q;
  quad_build(&q);
  const char *orig = quad_edn(&q, V1B_OLD, V5B_OLD);
  worker *r = reader(1, "R (reads A, later B <- it)", q.d, q.a, orig);
  r->j.a = q.b; /* key nil: B's root word itself points at the snapshot */
  w_start_to(r, P_HOLD, 0);
  EVE_OK(w_run(quad_p1(&q)));
  check_now(q.d, "P1 published while R holds O");
  worker *p3 = quad_p3(&q);
  w_start_to(p3, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(q.d, q.c1));
  EVE_OK(w_finish(r));
  cr_assert(r->j.equal, "R's snapshot was intact when it reset B");
  cr_assert_neq(root_of(q.d, q.b), q.O, "B holds a copy of the retired O");
  check_now(q.d, "R reset B to its old snapshot");
  EVE_OK(w_finish(p3));
  check_now(q.d, "P3 published");
  expect ex[] = {{q.a, quad_edn(&q, V1B_NEW, V5B_NEW)}, {q.b, orig}};
  finish_exact(q.d, ex, 2, "S8");
  quad_close(&q);
}

/* S8, the reset lands before P3 dooms c1: R copies O (retired by P1) and
 * adopts the live c1, so P3's doom of c1 finds SHARED and c1 lives on. */
Test(reclaim, s8_reset_to_an_old_snapshot_before_the_second_doom) {
  quad q;
  quad_build(&q);
  const char *orig = quad_edn(&q, V1B_OLD, V5B_OLD);
  worker *r = reader(1, "R (reads A, later B <- it)", q.d, q.a, orig);
  r->j.a = q.b;
  w_start_to(r, P_HOLD, 0);
  EVE_OK(w_run(quad_p1(&q)));
  worker *p3 = quad_p3(&q);
  w_start_to(p3, PAUSE_AFTER_COUNT, 0);
  EVE_OK(w_finish(r));
  cr_assert(r->j.equal);
  cr_assert(is_shared(q.d, q.c1), "R's copy of O adopted c1");
  check_now(q.d, "R reset B to its old snapshot");
  w_step(p3, PAUSE_BEFORE_CAS, 0);
  cr_assert(!is_doomed(q.d, q.c1), "P3's doom of c1 found SHARED");
  EVE_OK(w_finish(p3));
  check_now(q.d, "P3 published");
  expect ex[] = {{q.a, quad_edn(&q, V1B_NEW, V5B_NEW)}, {q.b, orig}};
  finish_exact(q.d, ex, 2, "S8 reset first");
  quad_close(&q);
}

/* ==== S5 / S10: an adopter takes an interior value ========================== */

#define M_OLD "{:p [1 \"p is a vector\"] :q \"q: the first string\"}"
#define NEST_OLD "{:x " M_OLD " :y \"y: the first string\"}"
#define M_NEW "{:p [1 \"p is a vector\"] :q \"q: the second string\"}"

/* A = {:x M :y "..."} with M = {:p L :q Q}; B starts empty. */
typedef struct nest {
  eve_domain *d;
  eve_atom *a, *b;
  uint64_t O, M, L, Q;
} nest;

static void nest_build(nest *n) {
  eve_domain *d = n->d = open_mem();
  n->a = atom_with(d, "a", NEST_OLD);
  n->b = atom_with(d, "b", NULL);
  n->O = root_of(d, n->a);
  n->M = get_word(d, n->O, kw(d, "x"));
  n->L = get_word(d, n->M, kw(d, "p"));
  n->Q = get_word(d, n->M, kw(d, "q"));
  check_now(d, "graph built");
}

/* P2: swap(B, #(assoc % :snap (:x @A))): adopts M, an interior value of A. */
static worker *nest_p2(nest *n) {
  worker *w = swapper(1, "P2 (B: assoc :snap (:x @A))", n->d, OP_SNAP_IN, n->b);
  w->j.src = n->a;
  w->j.key = kw(n->d, "snap");
  w->j.key2 = kw(n->d, "x");
  return w;
}

/* P1: swap(A, assoc-in [:x :q] "..."): path-copies O and M; Q dies, L moves. */
static worker *nest_p1_at(nest *n, int i) {
  worker *w = swapper(i, "P1 (A: assoc-in [:x :q])", n->d, OP_ASSOC_IN, n->a);
  w->j.key = kw(n->d, "x");
  w->j.key2 = kw(n->d, "q");
  w->j.edn = "\"q: the second string\"";
  return w;
}

static worker *nest_p1(nest *n) { return nest_p1_at(n, 0); }

static void nest_end(nest *n, const char *a_edn, const char *when) {
  expect ex[] = {{n->a, a_edn}, {n->b, "{:snap " M_OLD "}"}};
  finish_exact(n->d, ex, 2, when);
  eve_atom_close(n->a);
  eve_atom_close(n->b);
  EVE_OK(eve_close(n->d));
}

/* S5: "an adopter takes an interior node of A during a path copy".  P1 has
 * doomed O but not yet reached M when P2 adopts M: P1's doom of M must find
 * SHARED, keep M (and Q below it) alive and give L an owner. */
Test(reclaim, s5_adopter_takes_interior_value_before_its_doom) {
  nest n;
  nest_build(&n);
  worker *p1 = nest_p1(&n);
  w_start_to(p1, PAUSE_AFTER_DOOM, n.O);
  EVE_OK(w_run(nest_p2(&n)));
  cr_assert(is_shared(n.d, n.M));
  check_now(n.d, "P2 published B -> M while P1 is half-way through its dooms");
  w_step(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(!is_doomed(n.d, n.M) && !is_doomed(n.d, n.Q), "M lives, and so does Q below it");
  cr_assert(is_shared(n.d, n.L), "L has two owners: M and M'");
  EVE_OK(w_finish(p1));
  check_now(n.d, "P1 published");
  nest_end(&n, "{:x " M_NEW " :y \"y: the first string\"}", "S5");
}

/* S5, the other order: P1 has doomed M (not yet Q) when P2 wants it: P2
 * copies M and adopts L and Q; P1's doom of Q then finds SHARED. */
Test(reclaim, s5_adopter_copies_a_doomed_interior_value) {
  nest n;
  nest_build(&n);
  worker *p1 = nest_p1(&n);
  w_start_to(p1, PAUSE_AFTER_DOOM, n.M);
  EVE_OK(w_run(nest_p2(&n)));
  cr_assert_neq(get_word(n.d, root_of(n.d, n.b), kw(n.d, "snap")), n.M, "P2 copied M");
  check_now(n.d, "P2 published a copy of M");
  EVE_OK(w_finish(p1));
  cr_assert(!is_doomed(n.d, n.Q) && is_shared(n.d, n.Q), "Q lives in P2's copy");
  check_now(n.d, "P1 published");
  nest_end(&n, "{:x " M_NEW " :y \"y: the first string\"}", "S5 doom first");
}

/* S10: the adopter takes an interior value that the path copy *transfers*
 * (P1 changes :y; M moves from O to N).  P2 adopts M between P1's count and
 * P1's root CAS: M ends with two owners, N and B's map, and nothing dies. */
Test(reclaim, s10_adopter_takes_a_transferred_interior_value) {
  nest n;
  nest_build(&n);
  worker *p1 = swapper(0, "P1 (A: assoc :y)", n.d, OP_ASSOC, n.a);
  p1->j.key = kw(n.d, "y");
  p1->j.edn = "\"y: the second string\"";
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(!is_doomed(n.d, n.M), "M is transferred, not doomed");
  EVE_OK(w_run(nest_p2(&n)));
  check_now(n.d, "P2 published B -> M before P1's root CAS");
  EVE_OK(w_finish(p1));
  cr_assert_eq(count_of(n.d, n.M), 2, "M: owned by N and by B's map");
  check_now(n.d, "P1 published");
  nest_end(&n, "{:x " M_OLD " :y \"y: the second string\"}", "S10");
}

/* S10 with the adopter's CAS last: P2 raised M's count, P1 ran entirely
 * (M transferred), then P2 published. */
Test(reclaim, s10_adopter_of_a_transferred_value_publishes_last) {
  nest n;
  nest_build(&n);
  worker *p2 = nest_p2(&n);
  w_start_to(p2, PAUSE_AFTER_ADOPT, n.M);
  worker *p1 = swapper(0, "P1 (A: assoc :y)", n.d, OP_ASSOC, n.a);
  p1->j.key = kw(n.d, "y");
  p1->j.edn = "\"y: the second string\"";
  EVE_OK(w_run(p1));
  check_now(n.d, "P1 published while P2 waits before its CAS");
  EVE_OK(w_finish(p2));
  check_now(n.d, "P2 published");
  nest_end(&n, "{:x " M_OLD " :y \"y: the second string\"}", "S10 adopter last");
}

/* ==== S9: CHAMP compaction pulls an entry up a level ========================= */

/* A's root O holds an entry (k0) and a child node c1 (root slot 1) holding
 * k1a -> l1 (a vector) and k1b -> v1b (a string).  Dissoc k1b leaves c1 with
 * one entry, so compaction pulls k1a -> l1 up into the new root N: l1's
 * incoming word moves up a level, where no positional compare can find it. */
typedef struct pull {
  eve_domain *d;
  eve_atom *a, *b;
  int64_t k0, k1a, k1b;
  uint64_t O, c1, l1, v1b;
  const char *orig, *after;
} pull;

static void pull_build(pull *p) {
  eve_domain *d = p->d = open_mem();
  p->k0 = key_where(d, 5, 0);
  p->k1a = key_where(d, 10, slots(1, 3));
  p->k1b = key_where(d, 10, slots(1, 7));
  p->orig = fmt("{%lld \"k0: a root entry\" %lld [1 \"l1 is a vector\"] %lld \"v1b: a string\"}",
                (long long)p->k0, (long long)p->k1a, (long long)p->k1b);
  p->after = fmt("{%lld \"k0: a root entry\" %lld [1 \"l1 is a vector\"]}", (long long)p->k0,
                 (long long)p->k1a);
  p->a = atom_with(d, "a", p->orig);
  p->b = atom_with(d, "b", NULL);
  p->O = root_of(d, p->a);
  p->c1 = node_child(d, p->O, 1);
  p->l1 = get_word(d, p->O, ival(p->k1a));
  p->v1b = get_word(d, p->O, ival(p->k1b));
  check_now(d, "graph built");
}

static worker *pull_p1(pull *p) {
  worker *w = swapper(0, "P1 (A: dissoc k1b, compaction)", p->d, OP_DISSOC, p->a);
  w->j.key = ival(p->k1b);
  return w;
}

static worker *pull_p2(pull *p) {
  worker *w = swapper(1, "P2 (B: assoc :snap @A)", p->d, OP_SNAP, p->b);
  w->j.src = p->a;
  w->j.key = kw(p->d, "snap");
  return w;
}

static void pull_end(pull *p, const char *when) {
  uint64_t n = root_of(p->d, p->a);
  const champ_node *node = region_ptr(p->d, n);
  cr_assert(!(node->nodemap & 2u), "%s: c1 was compacted away", when);
  cr_assert_eq(get_word(p->d, n, ival(p->k1a)), p->l1, "%s: l1 moved up, not copied", when);
  expect ex[] = {{p->a, p->after}, {p->b, fmt("{:snap %s}", p->orig)}};
  finish_exact(p->d, ex, 2, when);
  eve_atom_close(p->a);
  eve_atom_close(p->b);
  EVE_OK(eve_close(p->d));
}

/* S9: "entry pulled up a level (CHAMP compaction) + adopter".  P1 has doomed
 * O when P2 adopts A's root: P2 copies O and adopts c1.  P1's doom of c1
 * then finds SHARED, so l1 (pulled up into N) gains an owner: c1 and N. */
Test(reclaim, s9_compaction_pulls_an_entry_up_past_an_adopter) {
  pull p;
  pull_build(&p);
  worker *p1 = pull_p1(&p);
  w_start_to(p1, PAUSE_AFTER_DOOM, p.O);
  EVE_OK(w_run(pull_p2(&p)));
  cr_assert(is_shared(p.d, p.c1), "P2's copy of O adopted c1");
  check_now(p.d, "P2 published a copy of the doomed root");
  EVE_OK(w_finish(p1));
  cr_assert(is_shared(p.d, p.l1) && count_of(p.d, p.l1) == 2, "l1: owned by c1 and by N");
  check_now(p.d, "P1 published the compacted root");
  pull_end(&p, "S9");
}

/* S9 with c1 doomed too: P2 copies O and c1, and adopts l1 and v1b (v1b not
 * yet doomed); P1's doom of v1b then finds SHARED. */
Test(reclaim, s9_compaction_with_the_collapsed_node_doomed) {
  pull p;
  pull_build(&p);
  worker *p1 = pull_p1(&p);
  w_start_to(p1, PAUSE_AFTER_DOOM, p.c1);
  EVE_OK(w_run(pull_p2(&p)));
  check_now(p.d, "P2 published copies of O and c1");
  EVE_OK(w_finish(p1));
  cr_assert(is_shared(p.d, p.l1) && count_of(p.d, p.l1) == 2, "l1: owned by c1's copy and N");
  cr_assert(!is_doomed(p.d, p.v1b), "v1b lives in P2's copy of c1");
  check_now(p.d, "P1 published the compacted root");
  pull_end(&p, "S9 collapsed node doomed");
}

/* S9 with the adopter first: P2 raised O's count before P1 even loaded A. */
Test(reclaim, s9_compaction_after_the_root_was_adopted) {
  pull p;
  pull_build(&p);
  worker *p2 = pull_p2(&p);
  w_start_to(p2, PAUSE_AFTER_ADOPT, p.O);
  worker *p1 = pull_p1(&p);
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(!is_doomed(p.d, p.O) && !is_doomed(p.d, p.c1), "O lives, so c1 is never entered");
  check_now(p.d, "P2 and P1 both before their root CAS");
  EVE_OK(w_finish(p1));
  check_now(p.d, "P1 published while P2 waits before its CAS");
  EVE_OK(w_finish(p2));
  cr_assert(count_of(p.d, p.l1) == 2);
  check_now(p.d, "P2 published");
  pull_end(&p, "S9 adopter first");
}

/* ==== helpers for the remaining scenarios =================================== */

/* A reader that holds old versions is let go only after reclamation ran
 * and a batch of blocks was allocated over whatever it freed: its values
 * must still read as before. */
static void release_after_reuse(eve_domain *d, worker *r) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st)); /* frees what the pins allow, no more */
  eve_txn *junk = reuse_batch(d);
  EVE_OK(w_finish(r));
  EVE_OK(eve_txn_end(junk));
  cr_assert(r->j.equal, "%s: a value it held was freed or overwritten", r->name);
}

typedef struct count_ctx {
  uint64_t off;
  int n;
} count_ctx;

static void count_entry(retire_buf *rb, void *ctx) {
  count_ctx *c = ctx;
  for (size_t i = 0; i < rb->n; i++)
    if (rb->e[i].off == c->off) c->n++;
}

/* How many times `off` waits in the retire buffers this thread can see. */
static int times_retired(eve_domain *d, uint64_t off) {
  count_ctx c = {off, 0};
  alloc_for_each_retire_buf(d, 0, count_entry, &c);
  return c.n;
}

static eve_check_report report_of(eve_domain *d) {
  eve_check_report r;
  EVE_OK(eve_check(d, &r, NULL, NULL));
  return r;
}

/* ==== S2: multiplicity counts words, fresh targets included ================== */

#define TWICE_V "[1 2 \"a vector stored twice\"]"

/* S2a: "a fresh value stored under two keys, then one dropped".  v is fresh
 * and stored under ka1 (node c1) and kb1 (node c5): it is born SHARED with
 * count 2.  Dropping ka1 then takes one owner; the draft retired v here
 * while c5 still pointed at it. */
Test(reclaim, s2a_fresh_value_under_two_keys_then_one_dropped) {
  eve_domain *d = open_mem();
  int64_t ka1 = key_where(d, 10, slots(1, 3)), ka2 = key_where(d, 10, slots(1, 7));
  int64_t kb1 = key_where(d, 10, slots(5, 3)), kb2 = key_where(d, 10, slots(5, 7));
  eve_atom *a = atom_with(d, "a", fmt("{%lld \"a1: a string\" %lld \"a2: a string\" %lld \"b1: a "
                                      "string\" %lld \"b2: a string\"}",
                                      (long long)ka1, (long long)ka2, (long long)kb1,
                                      (long long)kb2));
  const char *twice = fmt("{%lld %s %lld \"a2: a string\" %lld %s %lld \"b2: a string\"}",
                          (long long)ka1, TWICE_V, (long long)ka2, (long long)kb1, TWICE_V,
                          (long long)kb2);
  worker *p1 = swapper(0, "P1 (A: v under ka1 and kb1)", d, OP_TWICE, a);
  p1->j.key = ival(ka1);
  p1->j.key2 = ival(kb1);
  p1->j.edn = TWICE_V;
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  check_now(d, "P1 before its root CAS");
  EVE_OK(w_finish(p1));
  uint64_t v = get_word(d, root_of(d, a), ival(ka1));
  cr_assert_eq(v, get_word(d, root_of(d, a), ival(kb1)), "one block under two keys");
  cr_assert(is_shared(d, v) && count_of(d, v) == 2, "a fresh block with 2 words is born SHARED");
  check_now(d, "P1 published v twice");
  worker *r = reader(1, "R (holds A with v twice)", d, a, twice);
  w_start_to(r, P_HOLD, 0);
  worker *p2 = swapper(2, "P2 (A: dissoc ka1)", d, OP_DISSOC, a);
  p2->j.key = ival(ka1);
  EVE_OK(w_run(p2));
  cr_assert(is_shared(d, v) && count_of(d, v) == 1, "v lost one owner, not both");
  check_now(d, "P2 dropped ka1");
  release_after_reuse(d, r);
  const char *after = fmt("{%lld \"a2: a string\" %lld %s %lld \"b2: a string\"}", (long long)ka2,
                          (long long)kb1, TWICE_V, (long long)kb2);
  expect ex[] = {{a, after}};
  finish_exact(d, ex, 1, "S2a, one key dropped");
  worker *p3 = swapper(2, "P3 (A: dissoc kb1)", d, OP_DISSOC, a);
  p3->j.key = ival(kb1);
  EVE_OK(w_run(p3));
  ex[0].edn = fmt("{%lld \"a2: a string\" %lld \"b2: a string\"}", (long long)ka2, (long long)kb2);
  finish_exact(d, ex, 1, "S2a, both keys dropped: v freed");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* S2b: "the same value twice in one node, node dropped".  {ka v, kb v} with
 * both entries in the root node, and [v v] in one vector leaf: when the
 * node is dropped the walk reaches v twice, and must retire it once. */
Test(reclaim, s2b_same_value_twice_in_one_node_is_retired_once) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", NULL), *b = atom_with(d, "b", NULL);
  int64_t ka = key_where(d, 5, 1), kb = key_where(d, 5, 5);
  worker *p1 = swapper(0, "P1 (A <- {ka v kb v})", d, OP_TWICE, a);
  p1->j.key = ival(ka);
  p1->j.key2 = ival(kb);
  p1->j.edn = TWICE_V;
  EVE_OK(w_run(p1));
  check_now(d, "A <- {ka v kb v}");
  worker *p2 = swapper(1, "P2 (B <- [w w])", d, OP_VEC_TWICE, b);
  p2->j.edn = TWICE_V;
  EVE_OK(w_run(p2));
  uint64_t ra = root_of(d, a), v = get_word(d, ra, ival(ka)), w = 0;
  const champ_node *root = region_ptr(d, ra);
  cr_assert_eq(root->nodemap, 0, "both entries sit in the root node");
  eve_txn *t = t_wtxn(d);
  EVE_OK(eve_vec_nth(t, root_of(d, b), 1, &w));
  EVE_OK(eve_txn_end(t));
  cr_assert(count_of(d, v) == 2 && count_of(d, w) == 2, "two words from one node: count 2");
  check_now(d, "v twice in a map node, w twice in a vector leaf");
  const char *a_edn = fmt("{%lld %s %lld %s}", (long long)ka, TWICE_V, (long long)kb, TWICE_V);
  worker *r = reader(2, "R (holds A)", d, a, a_edn);
  w_start_to(r, P_HOLD, 0); /* keeps what the drops retire waiting, to count it */
  EVE_OK(w_run(resetter(0, "P3 (A <- nil)", d, a, "nil")));
  cr_assert_eq(times_retired(d, v), 1, "v is retired exactly once");
  check_now(d, "A's node dropped");
  EVE_OK(w_run(resetter(1, "P4 (B <- nil)", d, b, "nil")));
  cr_assert_eq(times_retired(d, w), 1, "w is retired exactly once");
  check_now(d, "both nodes dropped");
  release_after_reuse(d, r);
  expect ex[] = {{a, "nil"}, {b, "nil"}};
  finish_exact(d, ex, 2, "S2b");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* S2c: "(-> m (assoc :a2 1) (assoc :z (get m :a))), with :a and :a2 in the
 * same leaf".  v keeps its slot in the copied leaf c1' (the positional
 * compare finds its dying edge) and is also inserted under :z: owners after
 * = 1 - 1 + 2 = 2.  The positional hit must not short-circuit the count. */
Test(reclaim, s2c_positional_hit_does_not_replace_the_count) {
  eve_domain *d = open_mem();
  int64_t ka = key_where(d, 10, slots(1, 3)), kx = key_where(d, 10, slots(1, 9));
  int64_t ka2 = key_where(d, 10, slots(1, 5)), kz = key_where(d, 5, 5), ky = key_where(d, 5, 9);
  eve_atom *a = atom_with(d, "a", fmt("{%lld [7 \"v is a vector\"] %lld \"x: a string\" %lld \"y: "
                                      "a string\"}",
                                      (long long)ka, (long long)kx, (long long)ky));
  uint64_t v = get_word(d, root_of(d, a), ival(ka));
  worker *p1 = swapper(0, "P1 (A: assoc a2, assoc z (get m a))", d, OP_S2C, a);
  p1->j.key = ival(ka);
  p1->j.key2 = ival(ka2);
  p1->j.key3 = ival(kz);
  w_start_to(p1, PAUSE_AFTER_ADOPT, v);
  cr_assert(is_shared(d, v) && count_of(d, v) == 2, "v adopted: count 2 before the CAS");
  check_now(d, "P1 raised v's count (tolerated until its CAS)");
  EVE_OK(w_finish(p1));
  check_now(d, "P1 published v under a and z");
  worker *p2 = swapper(1, "P2 (A: dissoc a)", d, OP_DISSOC, a);
  p2->j.key = ival(ka);
  EVE_OK(w_run(p2));
  cr_assert_eq(count_of(d, v), 1);
  check_now(d, "P2 dropped a");
  expect ex[] = {{a, fmt("{%lld 1 %lld \"x: a string\" %lld \"y: a string\" %lld [7 \"v is a "
                         "vector\"]}",
                         (long long)ka2, (long long)kx, (long long)ky, (long long)kz)}};
  finish_exact(d, ex, 1, "S2c");
  worker *p3 = swapper(1, "P3 (A: dissoc z)", d, OP_DISSOC, a);
  p3->j.key = ival(kz);
  EVE_OK(w_run(p3));
  ex[0].edn = fmt("{%lld 1 %lld \"x: a string\" %lld \"y: a string\"}", (long long)ka2,
                  (long long)kx, (long long)ky);
  finish_exact(d, ex, 1, "S2c, v dropped everywhere");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* ==== S3: the root word is an owner edge ==================================== */

#define LIST3 "(\"l1: the first element\" \"l2: the second element\" \"l3: the third element\")"
#define LIST2 "(\"l2: the second element\" \"l3: the third element\")"
#define LIST1 "(\"l3: the third element\")"

/* S3: "`rest`/`pop` (new root = old child, no fresh block), root word not
 * counted".  swap(A, rest) publishes no fresh block: the new root word is
 * the only thing that keeps cell2 alive.  Meanwhile P2 makes cell2 B's root
 * too (reset B to (rest @A)): two root words, count 2. */
Test(reclaim, s3_rest_publishes_an_old_child) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", LIST3), *b = atom_with(d, "b", NULL);
  uint64_t cell1 = root_of(d, a), cell2;
  eve_txn *t = t_wtxn(d);
  EVE_OK(eve_list_rest(t, cell1, &cell2));
  EVE_OK(eve_txn_end(t));
  check_now(d, "graph built");
  worker *r = reader(2, "R (holds A)", d, a, LIST3);
  w_start_to(r, P_HOLD, 0);
  worker *p1 = swapper(0, "P1 (A: rest)", d, OP_REST, a);
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(d, cell1) && !is_doomed(d, cell2), "only the old head dies");
  worker *p2 = swapper(1, "P2 (B <- (rest @A))", d, OP_REST_OF, b);
  p2->j.src = a;
  EVE_OK(w_run(p2));
  cr_assert(is_shared(d, cell2) && count_of(d, cell2) == 2, "B's root word adopted cell2");
  check_now(d, "P2 published B -> cell2 before P1's root CAS");
  EVE_OK(w_finish(p1));
  cr_assert_eq(count_of(d, cell2), 2, "A's root word replaced cell1's word: still 2");
  check_now(d, "P1 published A -> cell2");
  release_after_reuse(d, r);
  expect ex[] = {{a, LIST2}, {b, LIST2}};
  finish_exact(d, ex, 2, "S3 rest");
  EVE_OK(w_run(swapper(0, "P3 (A: rest)", d, OP_REST, a)));
  cr_assert_eq(count_of(d, cell2), 1, "cell2 keeps B's root word only");
  ex[0].edn = LIST1;
  finish_exact(d, ex, 2, "S3 rest again");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* The EDN of a vector of n boxed strings. */
static const char *string_vec(int n) {
  char buf[2048] = "[";
  for (int i = 0; i < n; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "\"element %02d of the vector\" ", i);
  return fmt("%s]", buf);
}

/* S3 for the other ways to publish an old block as a root: vector pop (the
 * trie's last leaf becomes the tail), swap(B, :inner), reset C to B's root
 * block, and compare_and_set C to a block inside it.  After each step the
 * checker finds exactly one owner word per plain block, root words
 * included, and a count on every block two roots share. */
Test(reclaim, s3_pop_unwrap_reset_and_cas_publish_old_blocks) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", string_vec(33));
  eve_atom *b = atom_with(d, "b", "{:inner {:p [1 \"p is a vector\"]} :other \"other: a string\"}");
  eve_atom *c = atom_with(d, "c", NULL);
  check_now(d, "graph built");
  worker *r = reader(2, "R (holds A)", d, a, string_vec(33));
  w_start_to(r, P_HOLD, 0);
  EVE_OK(w_run(swapper(0, "P1 (A: pop)", d, OP_POP, a)));
  check_now(d, "P1 popped A: its old trie leaf is the new tail");
  release_after_reuse(d, r);
  worker *p2 = swapper(0, "P2 (B: (:inner B))", d, OP_GET, b);
  p2->j.key = kw(d, "inner");
  EVE_OK(w_run(p2));
  uint64_t m = root_of(d, b);
  cr_assert(!is_shared(d, m), "B's root word replaced the word in B's old root");
  check_now(d, "P2 unwrapped B");
  worker *r2 = reader(1, "R2 (C <- @B)", d, b, "{:p [1 \"p is a vector\"]}");
  r2->j.a = c; /* key nil: C's root word points at B's root block */
  EVE_OK(w_run(r2));
  cr_assert(is_shared(d, m) && count_of(d, m) == 2, "two root words on one block");
  check_now(d, "C reset to B's root block");
  worker *p3 = w_new(0, "P3 (C: compare_and_set @C -> (:p @C))", d, script_cas);
  p3->j.op = OP_GET;
  p3->j.a = c;
  p3->j.key = kw(d, "p");
  EVE_OK(w_run(p3));
  uint64_t l = root_of(d, c);
  cr_assert(count_of(d, m) == 1 && is_shared(d, l) && count_of(d, l) == 2,
            "C's root word moved from M to L, inside M");
  check_now(d, "P3 compare_and_set C to a block inside it");
  expect ex[] = {
      {a, string_vec(32)}, {b, "{:p [1 \"p is a vector\"]}"}, {c, "[1 \"p is a vector\"]"}};
  finish_exact(d, ex, 3, "S3 pop/unwrap/reset/cas");
  EVE_OK(w_run(resetter(0, "P4 (B <- nil)", d, b, "nil")));
  check_now(d, "B dropped");
  EVE_OK(w_run(resetter(1, "P5 (C <- nil)", d, c, "nil")));
  EVE_OK(w_run(resetter(0, "P6 (A <- nil)", d, a, "nil")));
  expect none[] = {{a, "nil"}, {b, "nil"}, {c, "nil"}};
  finish_exact(d, none, 3, "S3 everything dropped");
  eve_atom_close(a);
  eve_atom_close(b);
  eve_atom_close(c);
  EVE_OK(eve_close(d));
}

/* Exact and unshared after every step: the converse leaks of S3. */
static void assert_exact_unshared(eve_domain *d, const char *when) {
  check_now(d, when);
  drain(d);
  eve_check_report r = report_of(d);
  cr_assert_eq(r.leaked_bytes, 0, "%s: %llu bytes leaked", when,
               (unsigned long long)r.leaked_bytes);
  cr_assert_eq(r.shared_blocks, 0, "%s: %llu blocks flagged SHARED with one owner", when,
               (unsigned long long)r.shared_blocks);
}

/* S3's converse leaks: "(conj list x): the old root sits in the boundary,
 * but its parent is the root word ... so it is flagged SHARED, and every
 * later pop leaks it"; "{:prev old} behaves the same way".  With the old
 * root word counted as a dying edge, the old root is transferred: nothing
 * is ever flagged, and popping everything back leaks nothing. */
Test(reclaim, s3_converse_leaks_of_cons_and_prev) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", NULL), *b = atom_with(d, "b", "\"the first value of b\"");
  for (int i = 0; i < 6; i++) {
    worker *w = swapper(0, "P (A: cons)", d, OP_CONS, a);
    w->j.edn = fmt("\"element %d of the list\"", i);
    EVE_OK(w_run(w));
    assert_exact_unshared(d, fmt("after cons %d", i));
    worker *v = swapper(1, "P (B: {:prev old})", d, OP_PREV, b);
    v->j.key = kw(d, "prev");
    EVE_OK(w_run(v));
    assert_exact_unshared(d, fmt("after wrap %d", i));
  }
  for (int i = 0; i < 6; i++) {
    EVE_OK(w_run(swapper(0, "P (A: rest)", d, OP_REST, a)));
    assert_exact_unshared(d, fmt("after rest %d", i));
    worker *v = swapper(1, "P (B: (:prev old))", d, OP_GET, b);
    v->j.key = kw(d, "prev");
    EVE_OK(w_run(v));
    assert_exact_unshared(d, fmt("after unwrap %d", i));
  }
  expect ex[] = {{a, "()"}, {b, "\"the first value of b\""}};
  finish_exact(d, ex, 2, "S3 converse");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ==== S6: wrap/unwrap ABA on the root word ================================== */

#define X_OLD "{:k \"k: the first string\" :v [1 \"v is a vector\"]}"
#define X_NEW "{:k \"k: the second string\" :v [1 \"v is a vector\"]}"

static worker *x_updater(eve_domain *d, eve_atom *a) {
  worker *w = swapper(0, "P (A: assoc :k)", d, OP_ASSOC, a);
  w->j.key = kw(d, "k");
  w->j.edn = "\"k: the second string\"";
  return w;
}

/* S6: "wrap/unwrap root ABA".  P loads X and dooms it; P2 wraps (A: X ->
 * [X]) and P3 unwraps (A: [X] -> X), both transferring the RETIRED X through
 * their own root words; P's root CAS then succeeds on the same word X.  That
 * is sound: X's content never changed, and only P, the winner, retires it. */
Test(reclaim, s6_wrap_unwrap_root_aba) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", X_OLD);
  uint64_t x = root_of(d, a);
  check_now(d, "graph built");
  worker *p = x_updater(d, a);
  w_start_to(p, PAUSE_AFTER_DOOM, x);
  EVE_OK(w_run(swapper(1, "P2 (A: wrap)", d, OP_WRAP, a)));
  cr_assert(is_doomed(d, x) && !is_shared(d, x), "the wrap transferred the doomed X");
  check_now(d, "A -> [X] with X doomed by P");
  EVE_OK(w_run(swapper(2, "P3 (A: unwrap)", d, OP_UNWRAP, a)));
  cr_assert_eq(root_of(d, a), x, "A -> X again: the ABA");
  check_now(d, "A -> X again");
  EVE_OK(w_finish(p));
  cr_assert(p->j.calls == 1 && p->cas_won == 1 && p->cas_lost == 0, "P's first CAS won");
  check_now(d, "P published over the ABA");
  expect ex[] = {{a, X_NEW}};
  finish_exact(d, ex, 1, "S6");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* S6 with an adopter in the middle: B adopts the wrapper W = [X] (X is
 * RETIRED by P), so P3's unwrap keeps W, finds X RETIRED and not its own
 * version's, and copies X.  P's CAS then fails (A holds the copy) and P
 * retries; X stays live and RETIRED under B -> W until B is dropped. */
Test(reclaim, s6_wrap_unwrap_with_an_adopter_of_the_wrapper) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", X_OLD), *b = atom_with(d, "b", NULL);
  uint64_t x = root_of(d, a);
  check_now(d, "graph built");
  worker *p = x_updater(d, a);
  w_start_to(p, PAUSE_AFTER_DOOM, x);
  EVE_OK(w_run(swapper(1, "P2 (A: wrap)", d, OP_WRAP, a)));
  worker *p4 = swapper(3, "P4 (B: assoc :snap @A)", d, OP_SNAP, b);
  p4->j.src = a;
  p4->j.key = kw(d, "snap");
  EVE_OK(w_run(p4));
  check_now(d, "B -> W -> X");
  EVE_OK(w_run(swapper(2, "P3 (A: unwrap)", d, OP_UNWRAP, a)));
  cr_assert_neq(root_of(d, a), x, "P3 copied the RETIRED X");
  check_now(d, "P3 unwrapped into a copy of X");
  EVE_OK(w_finish(p));
  cr_assert_eq(p->j.calls, 2, "P's CAS failed once");
  check_now(d, "P published on its retry");
  expect ex[] = {{a, X_NEW}, {b, "{:snap [" X_OLD "]}"}};
  finish_exact(d, ex, 2, "S6 with adopter");
  EVE_OK(w_run(resetter(1, "P5 (B <- nil)", d, b, "nil")));
  ex[1].edn = "nil";
  finish_exact(d, ex, 2, "S6, B dropped: W and the RETIRED X freed");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* S6, the ABA after the doomed root gained owners.  P loads X, dooms it and
 * stops before its CAS.  Q stores X twice (A: X -> [X X]): X is RETIRED, but
 * Q found X's dying edge itself (the old root word), so commit.c's
 * own-version rule lets Q raise X's count instead of copying it: X becomes
 * SHARED 2 and stays RETIRED.  R adopts the wrapper W into B; S unwraps
 * (A: W -> X), adopting X again (count 3).  A's root word is X once more, so
 * P's root CAS succeeds, and P retires the X it doomed at the start, while
 * B -> W -> X still uses it.  Either Q must copy X (then S publishes a copy
 * and P's CAS fails) or P must not retire what it doomed. */
Test(reclaim, s6_aba_after_the_doomed_root_gained_owners) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", X_OLD), *b = atom_with(d, "b", NULL);
  uint64_t x = root_of(d, a);
  check_now(d, "graph built");
  worker *p = x_updater(d, a);
  w_start_to(p, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(d, x));
  worker *q = swapper(1, "Q (A: [x x])", d, OP_WRAP2, a);
  EVE_OK(w_run(q));
  check_now(d, "A -> W -> [X X] with X doomed by P");
  worker *r = swapper(2, "R (B: assoc :snap @A)", d, OP_SNAP, b);
  r->j.src = a;
  r->j.key = kw(d, "snap");
  EVE_OK(w_run(r));
  check_now(d, "B -> W");
  EVE_OK(w_run(swapper(3, "S (A: unwrap)", d, OP_UNWRAP, a)));
  check_now(d, "A's root word back on the block P doomed, or on a copy of it");
  EVE_OK(w_finish(p));
  check_now(d, "P published (its CAS won only if A held X itself)");
  expect ex[] = {{a, X_NEW}, {b, "{:snap [" X_OLD " " X_OLD "]}"}};
  finish_exact(d, ex, 2, "S6 ABA after the doomed root gained owners");
  EVE_OK(w_run(resetter(1, "P (B <- nil)", d, b, "nil")));
  ex[1].edn = "nil";
  finish_exact(d, ex, 2, "S6 ABA, B dropped");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ==== S7: atom removal + adopters =========================================== */

static worker *remover(int i, eve_domain *d, const char *name) {
  worker *w = w_new(i, fmt("remover of %s", name), d, script_remove);
  w->j.edn = name;
  return w;
}

static void assert_removed(eve_domain *d, eve_atom *a) {
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_ERR(eve_deref(t, a, &v), EVE_EREMOVED);
  EVE_OK(eve_txn_end(t));
}

/* S7: "atom removal + adopters".  P2 adopts A's value O (count raised, B not
 * yet published); A is removed meanwhile: its tombstone commit finds O
 * SHARED, keeps it and takes one owner.  P2 then publishes B -> O. */
Test(reclaim, s7_remove_while_an_adopter_takes_the_value) {
  nest n;
  nest_build(&n);
  worker *p2 = swapper(1, "P2 (B: assoc :snap @A)", n.d, OP_SNAP, n.b);
  p2->j.src = n.a;
  p2->j.key = kw(n.d, "snap");
  w_start_to(p2, PAUSE_AFTER_ADOPT, n.O);
  EVE_OK(w_run(remover(0, n.d, "a")));
  assert_removed(n.d, n.a);
  check_now(n.d, "A removed while P2 waits before its CAS");
  EVE_OK(w_finish(p2));
  cr_assert(is_shared(n.d, n.O) && count_of(n.d, n.O) == 1);
  check_now(n.d, "P2 published B -> O");
  expect ex[] = {{n.b, "{:snap " NEST_OLD "}"}};
  finish_exact(n.d, ex, 1, "S7 adopter");
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* S7, the remover first: its tombstone commit has doomed all of A's value
 * when P2 adopts it, so P2 copies every block. */
Test(reclaim, s7_adopter_copies_a_value_doomed_by_removal) {
  nest n;
  nest_build(&n);
  worker *rm = remover(0, n.d, "a");
  w_start_to(rm, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(n.d, n.O) && is_doomed(n.d, n.M) && is_doomed(n.d, n.L));
  worker *p2 = swapper(1, "P2 (B: assoc :snap @A)", n.d, OP_SNAP, n.b);
  p2->j.src = n.a;
  p2->j.key = kw(n.d, "snap");
  EVE_OK(w_run(p2));
  check_now(n.d, "P2 published copies of A's doomed value");
  EVE_OK(w_finish(rm));
  assert_removed(n.d, n.a);
  check_now(n.d, "A removed");
  expect ex[] = {{n.b, "{:snap " NEST_OLD "}"}};
  finish_exact(n.d, ex, 1, "S7 remover first");
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* S7, a swap racing the removal: P1 has doomed its spine and waits before
 * its CAS; A is removed; P1's CAS fails on the tombstone and its swap ends
 * with EVE_EREMOVED, its fresh blocks freed.  A reader pinned before the
 * removal still reads A's old value after reclamation and reuse. */
Test(reclaim, s7_swap_racing_a_removal_fails_cleanly) {
  nest n;
  nest_build(&n);
  worker *r = reader(2, "R (holds A)", n.d, n.a, NEST_OLD);
  w_start_to(r, P_HOLD, 0);
  worker *p1 = nest_p1(&n);
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  EVE_OK(w_run(remover(1, n.d, "a")));
  check_now(n.d, "A removed while P1 waits before its CAS");
  EVE_ERR(w_finish(p1), EVE_EREMOVED);
  cr_assert_eq(p1->j.calls, 1);
  check_now(n.d, "P1 gave up");
  release_after_reuse(n.d, r);
  expect ex[] = {{n.b, "nil"}};
  finish_exact(n.d, ex, 1, "S7 racing swap");
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* ==== finding 4: the retire tag is read after the root CAS ================== */

typedef struct tag_ctx {
  uint64_t min_tag;
  size_t n;
} tag_ctx;

static void min_tag(retire_buf *rb, void *ctx) {
  tag_ctx *c = ctx;
  for (size_t i = 0; i < rb->n; i++) {
    c->n++;
    if (rb->e[i].tag < c->min_tag) c->min_tag = rb->e[i].tag;
  }
}

/* Finding 4: "the retire-epoch tag must be read after the root CAS".
 * C pins at e and stops before its CAS; the epoch moves to e+1; R pins at
 * e+1 and reads A's old value; C wins and retires it.  Tagged with C's own
 * e, it would be freed once the epoch passed e+1 while R still reads it.
 * The tag is the epoch after the CAS (>= R's pin), so it waits for R. */
Test(reclaim, f4_retire_tag_is_read_after_the_root_cas) {
  nest n;
  nest_build(&n);
  worker *c = nest_p1(&n);
  w_start_to(c, PAUSE_BEFORE_CAS, 0);
  uint64_t e = c->j.pin_epoch;
  eve_stats st;
  EVE_OK(eve_stats_get(n.d, &st)); /* legal: C shows e, the epoch may pass it */
  cr_assert_gt(global_epoch(n.d), e);
  worker *r = reader(2, "R (pins after the epoch moved)", n.d, n.a, NEST_OLD);
  w_start_to(r, P_HOLD, 0);
  cr_assert_gt(r->j.pin_epoch, e, "R pinned at a later epoch than C");
  EVE_OK(w_finish(c));
  check_now(n.d, "C published while R holds the old value");
  tag_ctx tc = {UINT64_MAX, 0};
  alloc_for_each_retire_buf(n.d, 0, min_tag, &tc);
  cr_assert(tc.n > 0, "C retired its garbage");
  cr_assert_geq(tc.min_tag, r->j.pin_epoch, "tag %llu below R's pin %llu: C used its own epoch",
                (unsigned long long)tc.min_tag, (unsigned long long)r->j.pin_epoch);
  EVE_OK(eve_stats_get(n.d, &st)); /* the epoch passes R's pin: e + 2 */
  cr_assert_gt(st.retired_bytes, 0, "C's garbage waits for R");
  release_after_reuse(n.d, r);
  expect ex[] = {{n.a, "{:x " M_NEW " :y \"y: the first string\"}"}, {n.b, "nil"}};
  finish_exact(n.d, ex, 2, "finding 4");
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* Finding 4's grace period from the very start of a domain.  A fresh domain's
 * global epoch is 0, and 0 is also what an unpinned slot shows: R pins
 * before anything has moved the epoch, P1 replaces A's value, reclamation
 * runs.  R's pin must hold P1's garbage back like any other pin. */
Test(reclaim, f4_pin_before_the_first_epoch_advance_protects) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", X_OLD);
  worker *r = reader(1, "R (pins in a fresh domain)", d, a, X_OLD);
  w_start_to(r, P_HOLD, 0);
  EVE_OK(w_run(x_updater(d, a)));
  check_now(d, "A replaced while R holds the old value");
  release_after_reuse(d, r);
  cr_assert_neq(r->j.pin_epoch, 0, "R's slot shows epoch 0, which reads as 'not pinned'");
  expect ex[] = {{a, X_NEW}};
  finish_exact(d, ex, 1, "pin at epoch 0");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* The tag of a count that reaches zero (docs/RECLAMATION.md, R3).  V is shared
 * by the root words of A and B (SHARED, count 2).  P1 replaces A's value,
 * wins its root CAS and stops before taking V's owner.  The epoch moves on;
 * R pins later than P1's root CAS and reads V through B; P2 replaces B's
 * value and takes an owner (2 -> 1).  Only then does P1 take the last one
 * (1 -> 0) and retire V.  Tagged with the epoch P1 read after its own root
 * CAS, V would be freed while R, pinned later, still reads it (the sharing
 * use-after-free of share_stress and stale_tag): the tag must be read after
 * the decrement that made V garbage. */
Test(reclaim, drop_to_zero_is_tagged_after_the_last_decrement) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", X_OLD);
  eve_atom *b = atom_with(d, "b", NULL);
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_reset(t, b, v));
  EVE_OK(eve_txn_end(t));
  cr_assert(is_shared(d, v) && count_of(d, v) == 2, "A and B own V");
  check_now(d, "B = @A");
  worker *p1 = swapper(0, "P1 (A: replaced)", d, OP_CONST, a);
  p1->j.edn = X_NEW;
  w_start_to(p1, PAUSE_BEFORE_DROP, 0);
  cr_assert_eq(count_of(d, v), 2, "P1 has not taken its owner yet");
  eve_stats st;
  uint64_t before = global_epoch(d);
  EVE_OK(eve_stats_get(d, &st)); /* moves the epoch past P1's root CAS */
  cr_assert_gt(global_epoch(d), before);
  worker *r = reader(1, "R (pins after P1's root CAS, reads B)", d, b, X_OLD);
  w_start_to(r, P_HOLD, 0);
  worker *p2 = swapper(2, "P2 (B: replaced)", d, OP_CONST, b);
  p2->j.edn = "nil";
  EVE_OK(w_run(p2));
  cr_assert_eq(count_of(d, v), 1, "P2 took B's owner");
  EVE_OK(w_finish(p1));
  cr_assert(is_doomed(d, v), "P1 took the last owner and retired V");
  check_now(d, "both owners gone while R holds V");
  release_after_reuse(d, r);
  expect ex[] = {{a, X_NEW}, {b, "nil"}};
  finish_exact(d, ex, 2, "drop to zero");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ==== finding 7: nested pins, and a swap function that reads ================= */

/* Finding 7: "a swap function that calls deref, another swap, or a read on
 * the same thread pins and unpins".  P1's swap function opens and ends a
 * nested read txn, derefs B in its own txn, and tries to swap its own atom
 * (refused: EVE_EREENTRY), then stops.  P2 replaces A's value meanwhile and
 * reclamation runs: the nested unpin must not have ended the outer swap's
 * protection, so P1's `old` still reads as before; P1's CAS then fails and
 * it retries on P2's value. */
Test(reclaim, f7_nested_pins_protect_the_outer_swap) {
  nest n;
  nest_build(&n);
  eve_atom *c = atom_with(n.d, "c", "{:c \"c: a value to read\"}");
  worker *p1 = swapper(0, "P1 (A: swap fn that reads C, nested)", n.d, OP_NESTED, n.a);
  p1->j.src = c;
  p1->j.key = kw(n.d, "from-c");
  p1->j.want = NEST_OLD;
  p1->j.stop_in_fn = 1;
  w_start_to(p1, P_IN_FN, 0);
  EVE_OK(w_run(nest_p1_at(&n, 1)));
  check_now(n.d, "P2 replaced A under P1's swap function");
  release_after_reuse(n.d, p1); /* P1's old value was overwritten if its pin ended */
  cr_assert_eq(p1->j.inner_rc, EVE_EREENTRY, "swapping its own atom is refused");
  cr_assert_eq(p1->j.calls, 2, "P1 lost its first CAS and retried");
  check_now(n.d, "P1 published on its retry");
  cr_assert(is_shared(n.d, root_of(n.d, c)), "C's value is now A's too");
  expect ex[] = {{n.a, "{:x " M_NEW " :y \"y: the first string\""
                       " :from-c {:c \"c: a value to read\"}}"},
                 {c, "{:c \"c: a value to read\"}"}};
  finish_exact(n.d, ex, 2, "finding 7");
  eve_atom_close(c);
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* ==== finding 8: intermediate values are decided at commit ================== */

#define BASE "{:base \"base: a string value\"}"

/* Finding 8: "(let [m1 (assoc m :a 1) m2 (assoc m1 :b 2)] (assoc m2 :c m1))":
 * m1 is used after m2 was built from it.  P1 stops between the two; P2
 * changes A; a batch of blocks is allocated.  m1 must be intact (nothing
 * freed or edited in place during the function); P1's first attempt then
 * loses its CAS, its fresh blocks are freed, and the retry publishes. */
Test(reclaim, f8_intermediate_values_survive_until_commit) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", BASE);
  check_now(d, "graph built");
  worker *p1 = swapper(0, "P1 (A: let m1 m2, assoc :c m1)", d, OP_LET, a);
  p1->j.key = kw(d, "a");
  p1->j.key2 = kw(d, "b");
  p1->j.key3 = kw(d, "c");
  p1->j.want = "{:base \"base: a string value\" :a \"the string under :a\"}";
  p1->j.stop_in_fn = 1;
  w_start_to(p1, P_IN_FN, 0);
  worker *p2 = swapper(1, "P2 (A: assoc :d)", d, OP_ASSOC, a);
  p2->j.key = kw(d, "d");
  p2->j.edn = "\"d: a string value\"";
  EVE_OK(w_run(p2));
  check_now(d, "P2 changed A under P1's swap function");
  release_after_reuse(d, p1);
  cr_assert_eq(p1->j.calls, 2);
  uint64_t sa = get_word(d, root_of(d, a), kw(d, "a"));
  cr_assert(is_shared(d, sa) && count_of(d, sa) == 2, "the :a string: in m1 and in the result");
  check_now(d, "P1 published on its retry");
  const char *m1 =
      "{:base \"base: a string value\" :d \"d: a string value\" :a \"the string under :a\"}";
  expect ex[] = {{a, fmt("{:base \"base: a string value\" :d \"d: a string value\" :a \"the string "
                         "under :a\" :b \"the string under :b\" :c %s}",
                         m1)}};
  finish_exact(d, ex, 1, "finding 8");
  worker *p3 = swapper(1, "P3 (A: dissoc :c)", d, OP_DISSOC, a);
  p3->j.key = kw(d, "c");
  EVE_OK(w_run(p3));
  cr_assert_eq(count_of(d, sa), 1);
  check_now(d, "m1 dropped from under :c");
  EVE_OK(w_run(resetter(1, "P4 (A <- nil)", d, a, "nil")));
  ex[0].edn = "nil";
  finish_exact(d, ex, 1, "finding 8, all dropped");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* ==== finding 11: atom cells are reused only after a grace period ============ */

/* The cell and generation the registry names for `name`; 0 if absent. */
static uint64_t cell_of(eve_domain *d, const char *name, uint64_t *gen) {
  eve_txn *t = t_wtxn(d);
  eve_val key, entry, cv, gv;
  int64_t ci = 0, gi = 0;
  EVE_OK(eve_string(t, name, strlen(name), &key));
  int rc = eve_map_get(t, atomic_load(&d->hdr->root), key, &entry);
  if (rc == 0) {
    EVE_OK(eve_vec_nth(t, entry, 0, &cv));
    EVE_OK(eve_vec_nth(t, entry, 1, &gv));
    EVE_OK(eve_int_get(t, cv, &ci));
    EVE_OK(eve_int_get(t, gv, &gi));
  } else {
    EVE_ERR(rc, EVE_ENOTFOUND);
  }
  EVE_OK(eve_txn_end(t));
  if (gen) *gen = (uint64_t)gi;
  return (uint64_t)ci;
}

static eve_atom *open_atom(eve_domain *d, const char *name) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  return a;
}

/* Every operation through a stale handle fails cleanly and changes nothing. */
static void assert_stale(eve_domain *d, eve_atom *stale) {
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_ERR(eve_deref(t, stale, &v), EVE_EREMOVED);
  EVE_ERR(eve_compare_and_set(t, stale, EVE_V_NIL, ival(1)), EVE_EREMOVED);
  EVE_ERR(eve_reset(t, stale, ival(2)), EVE_EREMOVED);
  EVE_OK(eve_txn_end(t));
}

/* Finding 11: "reuse of atom cells: ABA with immediate values".  P1's swap
 * of x (root nil) stops before its CAS; x is removed and new atoms are
 * created: none may get x's cell while P1 is pinned, and P1's CAS fails
 * (EVE_EREMOVED) instead of landing in another atom.  After the grace
 * period the cell is reused by y, also nil: the stale handle must not reach
 * y.  Then the second form: `open` racing a removal, with the remover
 * stopped after its tombstone CAS and again after bumping the generation,
 * must not hand out the cell's next life. */
Test(reclaim, f11_atom_cells_and_stale_handles) {
  eve_domain *d = open_mem();
  eve_atom *keep = atom_with(d, "keep", BASE), *x = open_atom(d, "x");
  uint64_t cx = cell_of(d, "x", NULL);
  check_now(d, "graph built");
  worker *p1 = resetter(0, "P1 (x <- 1)", d, x, "1");
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  EVE_OK(eve_atom_remove(d, "x"));
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  eve_atom *x2 = open_atom(d, "x2"), *x3 = open_atom(d, "x3");
  cr_assert(cell_of(d, "x2", NULL) != cx && cell_of(d, "x3", NULL) != cx,
            "x's cell is reused while P1 may still CAS it");
  check_now(d, "x removed, x2 and x3 created while P1 waits");
  EVE_ERR(w_finish(p1), EVE_EREMOVED);
  check_now(d, "P1's stale swap refused");
  drain(d);
  eve_atom *y = open_atom(d, "y");
  cr_assert_eq(cell_of(d, "y", NULL), cx, "after the grace period y reuses x's cell");
  assert_stale(d, x);
  assert_atom_edn(d, y, "nil", "y untouched by the stale handle");
  check_now(d, "stale handle refused");

  /* open racing remove: the remover stops after its tombstone CAS.  An open
   * that meets the tombstone finishes the removal itself (generation bump,
   * registry entry, cell retirement) rather than wait for a remover that
   * may be dead; the remover then finds its work done. */
  uint64_t gy;
  cell_of(d, "y", &gy);
  worker *rm = remover(1, d, "y");
  w_start_to(rm, PAUSE_AFTER_CAS, 0);
  cr_assert(rm->at_won);
  eve_atom *h = NULL;
  EVE_ERR(eve_atom_open(d, "y", 0, &h), EVE_ENOTFOUND);
  EVE_OK(w_finish(rm));
  EVE_ERR(eve_atom_open(d, "y", 0, &h), EVE_ENOTFOUND);
  eve_atom *y2 = open_atom(d, "y");
  uint64_t g2;
  cell_of(d, "y", &g2);
  cr_assert(g2 != gy, "a new life of the name, not the old atom");
  assert_stale(d, y);
  assert_stale(d, x);
  expect ex[] = {{keep, BASE}, {x2, "nil"}, {x3, "nil"}, {y2, "nil"}};
  finish_exact(d, ex, 4, "finding 11");
  eve_atom *all[] = {keep, x, x2, x3, y, y2};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eve_atom_close(all[i]);
  EVE_OK(eve_close(d));
}

/* ==== finding 12: readers never write block headers ========================== */

typedef struct snap {
  eve_domain *d;
  uint64_t off[256];
  unsigned char *bytes[256];
  size_t size[256];
  size_t n;
} snap;

static void snap_add(void *ctx, const uint64_t *slot) {
  snap *s = ctx;
  uint64_t off = *slot;
  if (!VAL_IS_BLOCK(off)) return;
  for (size_t i = 0; i < s->n; i++)
    if (s->off[i] == off) return;
  cr_assert_lt(s->n, 256);
  const blk *b = region_ptr(s->d, off);
  s->off[s->n] = off;
  s->size[s->n] = alloc_class_size(b->cls);
  s->bytes[s->n] = malloc(s->size[s->n]);
  memcpy(s->bytes[s->n], b, s->size[s->n]);
  s->n++;
}

/* A copy of every block reachable from v. */
static void snap_take(snap *s, eve_domain *d, eve_val v) {
  s->d = d;
  s->n = 0;
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  snap_add(s, &v);
  for (size_t i = 0; i < s->n; i++) blk_for_each_child(t, s->off[i], snap_add, s);
  EVE_OK(eve_txn_end(t));
}

/* Every block is byte-for-byte as copied, except that the meta word of
 * `adopted` may have gained SHARED with count `count` (nothing else). */
static void snap_compare(const snap *s, uint64_t adopted, unsigned count, const char *when) {
  for (size_t i = 0; i < s->n; i++) {
    const unsigned char *now = region_ptr(s->d, s->off[i]);
    uint64_t m0, m1;
    memcpy(&m0, s->bytes[i], 8);
    memcpy(&m1, now, 8);
    if (s->off[i] == adopted) {
      cr_assert_eq(m1, META_MAKE(META_GEN(m0), count, 1, META_STATE(m0)),
                   "%s: meta of the adopted block: %#llx -> %#llx", when, (unsigned long long)m0,
                   (unsigned long long)m1);
    } else {
      cr_assert_eq(m1, m0, "%s: meta of %#llx changed: %#llx -> %#llx", when,
                   (unsigned long long)s->off[i], (unsigned long long)m0, (unsigned long long)m1);
    }
    cr_assert(memcmp(now + 8, s->bytes[i] + 8, s->size[i] - 8) == 0,
              "%s: block %#llx (type %u) changed beyond its meta word", when,
              (unsigned long long)s->off[i], ((const blk *)now)->type);
  }
}

static void snap_free(snap *s) {
  for (size_t i = 0; i < s->n; i++) free(s->bytes[i]);
  s->n = 0;
}

/* Hash, compare, print, use as a key and iterate j.src's value, many times. */
static int script_hasher(worker *w) {
  eve_txn *t;
  int rc = eve_txn_begin(w->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val v, m, s, k;
  uint64_t h0 = 0, h, n;
  int eq;
  w->j.equal = 1;
  if ((rc = eve_deref(t, w->j.src, &v))) goto out;
  for (int i = 0; i < 50 && !rc; i++) {
    char *txt = NULL;
    eve_iter it;
    if ((rc = eve_hash(t, v, &h)) || (rc = eve_equal(t, v, v, &eq)) ||
        (rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, v, ival(i), &m)) ||
        (rc = eve_set_conj(t, EVE_V_EMPTY_SET, v, &s)) || (rc = eve_count(t, v, &n)) ||
        (rc = eve_iter_init(t, v, &it)) || (rc = eve_print_edn(t, v, &txt, NULL)))
      break;
    uint64_t hk;
    while (eve_iter_next(&it, &k, NULL) == 0) eve_hash(t, k, &hk);
    eve_free(txt);
    if (i == 0) h0 = h;
    if (h != h0 || !eq) w->j.equal = 0;
    h0 = h;
  }
out:
  eve_txn_end(t);
  return rc;
}

/* Finding 12: "the header word holds both the mutable flags and the cached
 * hash": a lazily cached hash written into it could overwrite a concurrent
 * SHARED CAS.  Two threads hash, compare, print and use A's value as a key
 * (every way to need its hash) while an adopter CASes SHARED onto its root.
 * Afterwards every block is byte-for-byte unchanged, except the root's meta
 * word, which changed exactly by the adopter's SHARED count. */
Test(reclaim, f12_readers_never_write_block_headers) {
  eve_domain *d = open_mem();
  char edn[4096] = "{";
  for (int i = 0; i < 40; i++)
    snprintf(edn + strlen(edn), sizeof edn - strlen(edn),
             "\"key number %02d\" %s ", i,
             i % 4 == 0 ? "[1 \"a vector in the map\"]"
             : i % 4 == 1 ? "#{\"a set element\" 2}"
             : i % 4 == 2 ? "{:nested \"a nested map value\"}" : "\"a plain string value\"");
  strcat(edn, "}");
  eve_atom *a = atom_with(d, "a", edn), *b = atom_with(d, "b", NULL);
  uint64_t o = root_of(d, a);
  check_now(d, "graph built");
  snap s;
  snap_take(&s, d, o);
  worker *h1 = w_new(0, "H1 (hashes A)", d, script_hasher), *h2;
  h1->j.src = a;
  h2 = w_new(1, "H2 (hashes A)", d, script_hasher);
  h2->j.src = a;
  w_start(h1);
  w_start(h2);
  EVE_OK(w_finish(h1));
  EVE_OK(w_finish(h2));
  cr_assert(h1->j.equal && h2->j.equal, "hashes are stable");
  snap_compare(&s, 0, 0, "after hashing");
  worker *p = swapper(2, "P (B: assoc :snap @A)", d, OP_SNAP, b);
  p->j.src = a;
  p->j.key = kw(d, "snap");
  w_break(p, PAUSE_AFTER_ADOPT, o);
  h1 = w_new(0, "H1 (hashes A)", d, script_hasher);
  h1->j.src = a;
  h2 = w_new(1, "H2 (hashes A)", d, script_hasher);
  h2->j.src = a;
  w_start(h1);
  w_start(p); /* adopts while H1 and H2 hash */
  w_start(h2);
  w_wait(p, PAUSE_AFTER_ADOPT);
  EVE_OK(w_finish(h1));
  EVE_OK(w_finish(h2));
  EVE_OK(w_finish(p));
  snap_compare(&s, o, 2, "after hashing beside an adopter");
  snap_free(&s);
  check_now(d, "P published");
  expect ex[] = {{a, edn}, {b, fmt("{:snap %s}", edn)}};
  finish_exact(d, ex, 2, "finding 12");
  eve_atom_close(a);
  eve_atom_close(b);
  EVE_OK(eve_close(d));
}

/* ==== finding 13: SHARED is a count ======================================== */

/* Nothing leaked, without the collector; then the collector agrees. */
static void assert_exact_without_gc(eve_domain *d, const char *when) {
  check_now(d, when);
  drain(d);
  assert_no_leak(d, when);
}

static void assert_gc_finds_nothing(eve_domain *d, const char *when) {
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  cr_assert_eq(g.reclaimed_bytes, 0, "%s: the collector found %llu leaked bytes", when,
               (unsigned long long)g.reclaimed_bytes);
  check_now(d, when);
  assert_no_leak(d, when);
}

/* Finding 13 (i): "values moved between atoms" and "snapshot or backup
 * atoms" left SHARED blocks that no one ever freed while processes stayed
 * attached.  With counted SHARED, B <- @A, A <- nil, B <- nil frees the
 * value exactly, and repeated snapshots of a changing A leak nothing. */
Test(reclaim, f13_moved_and_snapshot_values_are_freed_exactly) {
  nest n;
  nest_build(&n);
  worker *mv = reader(1, "R (B <- @A)", n.d, n.a, NEST_OLD);
  mv->j.a = n.b;
  EVE_OK(w_run(mv));
  cr_assert_eq(count_of(n.d, n.O), 2);
  check_now(n.d, "B <- @A");
  EVE_OK(w_run(resetter(0, "P (A <- nil)", n.d, n.a, "nil")));
  cr_assert(is_shared(n.d, n.O) && count_of(n.d, n.O) == 1, "one owner left: B");
  assert_exact_without_gc(n.d, "A dropped: O moved to B");
  EVE_OK(w_run(resetter(0, "P (B <- nil)", n.d, n.b, "nil")));
  assert_exact_without_gc(n.d, "B dropped: O freed at count 0");

  eve_atom *c = atom_with(n.d, "c", NULL);
  EVE_OK(w_run(resetter(0, "P (A <- value)", n.d, n.a, NEST_OLD)));
  for (int i = 0; i < 5; i++) {
    worker *s1 = reader(1, "R (B <- @A)", n.d, n.a, NULL), *s2;
    s1->j.a = n.b;
    EVE_OK(w_run(s1));
    check_now(n.d, "B <- @A");
    s2 = reader(2, "R (C <- {:backup @A})", n.d, n.a, NULL);
    s2->j.a = c;
    s2->j.key = kw(n.d, "backup");
    EVE_OK(w_run(s2));
    check_now(n.d, "C <- {:backup @A}");
    worker *p = swapper(0, "P (A: assoc-in [:x :q])", n.d, OP_ASSOC_IN, n.a);
    p->j.key = kw(n.d, "x");
    p->j.key2 = kw(n.d, "q");
    p->j.edn = fmt("\"q: version %d of the string\"", i);
    EVE_OK(w_run(p)); /* path-copies a SHARED root: its children gain owners */
    assert_exact_without_gc(n.d, fmt("snapshot round %d", i));
  }
  EVE_OK(w_run(resetter(0, "P (A <- nil)", n.d, n.a, "nil")));
  EVE_OK(w_run(resetter(1, "P (B <- nil)", n.d, n.b, "nil")));
  assert_exact_without_gc(n.d, "A and B dropped, C's backup remains");
  EVE_OK(w_run(resetter(2, "P (C <- nil)", n.d, c, "nil")));
  assert_exact_without_gc(n.d, "everything dropped");
  assert_gc_finds_nothing(n.d, "finding 13 (i)");
  eve_atom_close(c);
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* Finding 13 (ii): "an adopter whose root CAS fails rolls its +1 back".
 * P2's compare_and_set(B, _, {:snap @A}) raises O's count and stops before
 * its CAS; P3 changes B; P2's CAS fails (EVE_ECONFLICT) and must take the
 * owner back, else O leaks once A drops it.  Then the same with a swap,
 * which retries and adopts again. */
Test(reclaim, f13_failed_cas_after_adoption_rolls_back) {
  nest n;
  nest_build(&n);
  worker *p2 = w_new(1, "P2 (B: compare_and_set to {:snap @A})", n.d, script_cas);
  p2->j.op = OP_SNAP;
  p2->j.a = n.b;
  p2->j.src = n.a;
  p2->j.key = kw(n.d, "snap");
  w_start_to(p2, PAUSE_AFTER_ADOPT, n.O);
  cr_assert_eq(count_of(n.d, n.O), 2);
  EVE_OK(w_run(resetter(2, "P3 (B <- {:other ...})", n.d, n.b, "{:other \"other: a string\"}")));
  check_now(n.d, "P3 changed B under P2");
  w_step(p2, PAUSE_AFTER_CAS, 0);
  cr_assert(!p2->at_won);
  EVE_ERR(w_finish(p2), EVE_ECONFLICT);
  cr_assert_eq(count_of(n.d, n.O), 1, "the +1 is rolled back");
  assert_exact_without_gc(n.d, "P2's compare_and_set failed");

  worker *p4 = swapper(1, "P4 (B: assoc :snap @A)", n.d, OP_SNAP, n.b);
  p4->j.src = n.a;
  p4->j.key = kw(n.d, "snap");
  w_start_to(p4, PAUSE_AFTER_ADOPT, n.O);
  EVE_OK(w_run(resetter(2, "P5 (B <- {:other ...})", n.d, n.b, "{:other \"other: again\"}")));
  check_now(n.d, "P5 changed B under P4");
  EVE_OK(w_finish(p4));
  cr_assert(p4->j.calls == 2 && p4->cas_lost == 1, "P4 lost once and retried");
  cr_assert_eq(count_of(n.d, n.O), 2, "rolled back once, adopted once");
  check_now(n.d, "P4 published on its retry");
  expect ex[] = {{n.a, NEST_OLD}, {n.b, "{:other \"other: again\" :snap " NEST_OLD "}"}};
  finish_exact(n.d, ex, 2, "finding 13 (ii)");
  EVE_OK(w_run(resetter(0, "P (A <- nil)", n.d, n.a, "nil")));
  EVE_OK(w_run(resetter(1, "P (B <- nil)", n.d, n.b, "nil")));
  assert_exact_without_gc(n.d, "everything dropped");
  assert_gc_finds_nothing(n.d, "finding 13 (ii)");
  eve_atom_close(n.a);
  eve_atom_close(n.b);
  EVE_OK(eve_close(n.d));
}

/* Finding 13 (iii): "merge of another atom's values", "any value stored
 * twice" and "every resurrection copy": B merges A's values (each adopted),
 * then S1's resurrection copy is replayed; dropping everything afterwards
 * leaves nothing for the collector. */
Test(reclaim, f13_merged_values_and_resurrection_copies_do_not_leak) {
  quad q;
  quad_build(&q);
  eve_atom *c = atom_with(q.d, "c", "{:own \"own: a string value\"}");
  worker *m = swapper(0, "P (C: merge @C @A)", q.d, OP_MERGE, c);
  m->j.src = q.a;
  EVE_OK(w_run(m));
  cr_assert(is_shared(q.d, q.c1) && is_shared(q.d, q.c5), "the merge shares A's nodes: adopted");
  check_now(q.d, "C merged A's values");
  worker *p1 = quad_p1(&q);
  w_start_to(p1, PAUSE_AFTER_DOOM, q.O);
  EVE_OK(w_run(quad_p2(&q))); /* copies the doomed O */
  check_now(q.d, "B <- {:snap copy of O}");
  EVE_OK(w_finish(p1));
  check_now(q.d, "resurrection copy published");
  EVE_OK(w_run(resetter(0, "P (A <- nil)", q.d, q.a, "nil")));
  assert_exact_without_gc(q.d, "A dropped");
  EVE_OK(w_run(resetter(1, "P (B <- nil)", q.d, q.b, "nil")));
  assert_exact_without_gc(q.d, "B dropped");
  EVE_OK(w_run(resetter(2, "P (C <- nil)", q.d, c, "nil")));
  assert_exact_without_gc(q.d, "C dropped");
  assert_gc_finds_nothing(q.d, "finding 13 (iii)");
  eve_atom_close(c);
  quad_close(&q);
}

/* ==== finding 16: positional compare by bitmap slot ========================== */

/* Node c sits under root slot 3.  It holds entries at level-1 slots 9 (e9)
 * and, after the first update, 1 (e1), and child nodes g20 and g25 (two keys
 * each, parted at level 2). */
typedef struct slots16 {
  eve_domain *d;
  eve_atom *a, *b;
  int64_t k0, e1, e9, g20a, g20b, g25a, g25b;
  uint64_t O, c, g20, g25;
} slots16;

static int64_t key3(eve_domain *d, unsigned s1, unsigned s2) {
  return key_where(d, 15, slots(3, s1) | (uint64_t)s2 << 10);
}

static const char *slots16_edn(const slots16 *s, int with_e1, int with_g20a) {
  return fmt("{%lld \"k0: a root entry\" %s%lld \"e9: an entry of c\" %s%lld \"g20b: below c\" "
             "%lld [25 \"g25a: a vector\"] %lld \"g25b: below c\"}",
             (long long)s->k0, with_e1 ? fmt("%lld \"e1: a new entry\" ", (long long)s->e1) : "",
             (long long)s->e9,
             with_g20a ? fmt("%lld [20 \"g20a: a vector\"] ", (long long)s->g20a) : "",
             (long long)s->g20b, (long long)s->g25a, (long long)s->g25b);
}

static void slots16_build(slots16 *s) {
  eve_domain *d = s->d = open_mem();
  s->k0 = key_where(d, 5, 0);
  s->e1 = key3(d, 1, 0);
  s->e9 = key3(d, 9, 0);
  s->g20a = key3(d, 20, 1);
  s->g20b = key3(d, 20, 2);
  s->g25a = key3(d, 25, 1);
  s->g25b = key3(d, 25, 2);
  s->a = atom_with(d, "a", slots16_edn(s, 0, 1));
  s->b = atom_with(d, "b", NULL);
  s->O = root_of(d, s->a);
  s->c = node_child(d, s->O, 3);
  s->g20 = node_child(d, s->c, 20);
  s->g25 = node_child(d, s->c, 25);
  check_now(d, "graph built");
}

/* Finding 16: "compare children by CHAMP bitmap slot, not array index".
 * Inserting e1 below every other slot of c shifts c's arrays; removing g20a
 * collapses g20 and pulls g20b up into c (compaction), moving g25's index
 * again.  Without an adopter every sibling is transferred and stays plain;
 * with an adopter holding the old root every sibling gains exactly one
 * owner, by count. */
Test(reclaim, f16_positional_compare_by_bitmap_slot) {
  slots16 s;
  slots16_build(&s);
  worker *p1 = swapper(0, "P1 (A: assoc e1: arrays shift)", s.d, OP_ASSOC, s.a);
  p1->j.key = ival(s.e1);
  p1->j.edn = "\"e1: a new entry\"";
  EVE_OK(w_run(p1));
  cr_assert(!is_shared(s.d, s.g20) && !is_shared(s.d, s.g25), "shifted siblings are transferred");
  check_now(s.d, "e1 inserted");
  worker *p2 = swapper(1, "P2 (A: dissoc g20a: compaction)", s.d, OP_DISSOC, s.a);
  p2->j.key = ival(s.g20a);
  EVE_OK(w_run(p2));
  cr_assert(!is_shared(s.d, s.g25), "g25 moved index again, still transferred");
  check_now(s.d, "g20 collapsed into c");
  expect ex[] = {{s.a, slots16_edn(&s, 1, 0)}, {s.b, "nil"}};
  finish_exact(s.d, ex, 2, "finding 16 without adopter");

  /* again, with B adopting the old root before each path copy's doom */
  EVE_OK(w_run(resetter(0, "P (A <- original)", s.d, s.a, slots16_edn(&s, 0, 1))));
  check_now(s.d, "A reset to the original");
  s.O = root_of(s.d, s.a);
  s.c = node_child(s.d, s.O, 3);
  s.g25 = node_child(s.d, s.c, 25);
  worker *p3 = swapper(1, "P3 (B: assoc :snap @A)", s.d, OP_SNAP, s.b);
  p3->j.src = s.a;
  p3->j.key = kw(s.d, "snap");
  w_start_to(p3, PAUSE_AFTER_ADOPT, s.O);
  p1 = swapper(0, "P1 (A: assoc e1: arrays shift)", s.d, OP_ASSOC, s.a);
  p1->j.key = ival(s.e1);
  p1->j.edn = "\"e1: a new entry\"";
  EVE_OK(w_run(p1));
  check_now(s.d, "e1 inserted while P3 waits before its CAS");
  EVE_OK(w_finish(p3));
  cr_assert(!is_doomed(s.d, s.c) && !is_shared(s.d, s.c), "c lives under the adopted O only");
  cr_assert(count_of(s.d, s.g25) == 2, "c's children gained c' as a second owner");
  check_now(s.d, "e1 inserted beside an adopter");
  p2 = swapper(2, "P2 (A: dissoc g20a: compaction)", s.d, OP_DISSOC, s.a);
  p2->j.key = ival(s.g20a);
  EVE_OK(w_run(p2));
  check_now(s.d, "g20 collapsed beside an adopter");
  ex[1].edn = fmt("{:snap %s}", slots16_edn(&s, 0, 1));
  finish_exact(s.d, ex, 2, "finding 16 with adopter");
  EVE_OK(w_run(resetter(1, "P (B <- nil)", s.d, s.b, "nil")));
  ex[1].edn = "nil";
  finish_exact(s.d, ex, 2, "finding 16, adopter dropped");
  eve_atom_close(s.a);
  eve_atom_close(s.b);
  EVE_OK(eve_close(s.d));
}

/* ==== finding 9: a retired block is freed once ============================== */

typedef struct first_entry {
  retire_entry e;
  int found;
} first_entry;

static void grab_first(retire_buf *rb, void *ctx) {
  first_entry *f = ctx;
  if (!f->found && rb->n) {
    f->e = rb->e[0];
    f->found = 1;
  }
}

/* Finding 9: "make each free idempotent anyway": a free is CAS({g, RETIRED}
 * -> {g, FREE}), so freeing the same retirement again (a batch taken over
 * after its owner died half-way) is refused and frees nothing twice. */
Test(reclaim, f9_a_retirement_is_freed_once) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", "\"a string that is a block\"");
  check_now(d, "graph built");
  worker *r = reader(1, "R (holds A)", d, a, "\"a string that is a block\"");
  w_start_to(r, P_HOLD, 0);
  EVE_OK(w_run(resetter(0, "P (A <- nil)", d, a, "nil")));
  check_now(d, "A dropped while R holds the string");
  first_entry f = {0};
  alloc_for_each_retire_buf(d, 0, grab_first, &f);
  cr_assert(f.found, "the string waits for R");
  release_after_reuse(d, r);
  drain(d); /* freed: {g, RETIRED} -> {g + 1, FREE} */
  EVE_ERR(alloc_free_retired(d, f.e.off, f.e.gen), EVE_ECORRUPT);
  eve_txn *t = t_wtxn(d);
  eve_val s1, s2;
  EVE_OK(eve_string(t, "a string that is a block", 24, &s1));
  EVE_OK(eve_string(t, "a string that is a block", 24, &s2));
  cr_assert_neq(s1, s2, "the block was not put on a free list twice");
  EVE_OK(eve_txn_end(t));
  expect ex[] = {{a, "nil"}};
  finish_exact(d, ex, 1, "finding 9");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* ==== the pair fast path (commit.c, "pairs") ================================ */

/* A one-key swap of a 3,000-key map: the commit pairs each copied node with
 * the node it replaces and counts only the words that differ.  The checker
 * then finds every transferred sibling with its single owner. */
Test(reclaim, pairs_carry_a_one_key_swap_of_a_large_map) {
  eve_domain *d = open_mem();
  eve_atom *a = atom_with(d, "a", NULL);
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, v;
  for (int64_t k = 0; k < 3000; k++) {
    EVE_OK(eve_string(t, "a value of 16 b.", 16, &v));
    EVE_OK(eve_map_assoc(t, m, ival(k), v, &m));
  }
  EVE_OK(eve_reset(t, a, m));
  EVE_OK(eve_txn_end(t));
  check_now(d, "3,000 keys");
  commit_pair_counts pc;
  eve__test_commit_pair_counts(NULL, 1);
  worker *w = swapper(0, "P (A: assoc 777)", d, OP_ASSOC, a);
  w->j.key = ival(777);
  w->j.edn = "\"the new value\"";
  EVE_OK(w_run(w));
  eve__test_commit_pair_counts(&pc, 0);
  if (pairing_on()) {
    cr_assert_geq(pc.formed, 2, "the root and the level-1 node paired (%llu)",
                  (unsigned long long)pc.formed);
    cr_assert_eq(pc.unpaired, 0, "every old side died");
  } else {
    cr_assert_eq(pc.formed, 0, "the switch turns pairing off");
  }
  check_now(d, "one key swapped");
  t = t_wtxn(d);
  eve_val got;
  uint64_t n;
  EVE_OK(eve_deref(t, a, &m));
  EVE_OK(eve_count(t, m, &n));
  cr_assert_eq(n, 3000);
  EVE_OK(eve_map_get(t, m, ival(777), &got));
  cr_assert_str_eq(t_edn(t, got), "\"the new value\"");
  EVE_OK(eve_map_get(t, m, ival(778), &got));
  cr_assert_str_eq(t_edn(t, got), "\"a value of 16 b.\"");
  EVE_OK(eve_txn_end(t));
  drain(d);
  assert_no_leak(d, "one key swapped");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}

/* A pair whose old side lives on: B holds A's root O (SHARED), so when P3
 * path-copies A, O is not doomed and the words the root pair matched are new
 * owners after all (unpair_survivors): c5 must end up with two owners. */
Test(reclaim, pairs_whose_old_side_is_shared_are_counted_in_full) {
  quad q;
  quad_build(&q);
  EVE_OK(w_run(quad_p2(&q)));
  cr_assert(is_shared(q.d, q.O), "B adopted O");
  eve__test_commit_pair_counts(NULL, 1);
  EVE_OK(w_run(quad_p3(&q)));
  commit_pair_counts pc;
  eve__test_commit_pair_counts(&pc, 0);
  if (pairing_on()) cr_assert_geq(pc.unpaired, 1, "the root pair was undone");
  cr_assert(is_shared(q.d, q.c5) && count_of(q.d, q.c5) == 2, "c5: O's word and A's new root's");
  check_now(q.d, "P3 published beside B -> O");
  expect ex[] = {{q.a, quad_edn(&q, V1B_NEW, V5B_OLD)},
                 {q.b, fmt("{:snap %s}", quad_edn(&q, V1B_OLD, V5B_OLD))}};
  finish_exact(q.d, ex, 2, "pairs with a shared old side");
  quad_close(&q);
}

/* A matched word whose block must be copied.  P1 replaces V under k1 and
 * stops before its root CAS: V is doomed (RETIRED) but P3 wins first, and
 * its root pair transfers V, live and RETIRED, into A.  P4 then stores V
 * under a second key: V cannot gain an owner, so it is copied, and the copy
 * takes both words, the new one and the one the root pair matched.  V must
 * then lose that word (it dies) instead of keeping a phantom owner. */
Test(reclaim, pairs_move_a_matched_word_to_a_copy) {
  eve_domain *d = open_mem();
  int64_t k1 = key_where(d, 5, 1), k2 = key_where(d, 5, 2);
  int64_t kx = key_where(d, 5, 3), ky = key_where(d, 5, 4);
  const char *V = "[1 2 \"V is a vector\"]";
  eve_atom *a = atom_with(d, "a", fmt("{%lld %s %lld \"two\"}", (long long)k1, V, (long long)k2));
  uint64_t vblk = get_word(d, root_of(d, a), ival(k1));
  worker *p1 = swapper(0, "P1 (A: assoc k1)", d, OP_ASSOC, a);
  p1->j.key = ival(k1);
  p1->j.edn = "\"one\"";
  w_start_to(p1, PAUSE_BEFORE_CAS, 0);
  cr_assert(is_doomed(d, vblk), "P1 doomed V");
  worker *p3 = swapper(1, "P3 (A: assoc k2)", d, OP_ASSOC, a);
  p3->j.key = ival(k2);
  p3->j.edn = "\"deux\"";
  EVE_OK(w_run(p3));
  cr_assert_eq(get_word(d, root_of(d, a), ival(k1)), vblk, "V transferred, RETIRED");
  check_now(d, "P3 won over P1's doom");
  eve__test_commit_pair_counts(NULL, 1);
  worker *p4 = swapper(2, "P4 (A: assoc kx 1, ky (get k1))", d, OP_S2C, a);
  p4->j.key = ival(k1);
  p4->j.key2 = ival(kx);
  p4->j.key3 = ival(ky);
  EVE_OK(w_run(p4));
  commit_pair_counts pc;
  eve__test_commit_pair_counts(&pc, 0);
  if (pairing_on()) cr_assert_eq(pc.repointed, 1, "the matched word moved to the copy");
  eve_val v1 = get_word(d, root_of(d, a), ival(k1)), vy = get_word(d, root_of(d, a), ival(ky));
  cr_assert(v1 == vy && v1 != vblk, "both keys hold one copy of V");
  cr_assert(is_shared(d, v1) && count_of(d, v1) == 2);
  check_now(d, "P4 published");
  EVE_OK(w_finish(p1));
  cr_assert_eq(p1->j.calls, 2, "P1 retried once");
  check_now(d, "P1 published on its retry");
  expect ex[] = {{a, fmt("{%lld \"one\" %lld \"deux\" %lld 1 %lld %s}", (long long)k1,
                         (long long)k2, (long long)kx, (long long)ky, V)}};
  finish_exact(d, ex, 1, "a matched word moved to a copy");
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}
