/* test_procs.c — several processes on one domain file.
 *
 *   - forked writers and exec'd (unrelated) writers, with exact final state;
 *   - readers in other processes that check an invariant in every snapshot;
 *   - SIGKILL at random instants: no acknowledged swap lost, nothing
 *     corrupt, every leak recovered;
 *   - readers (killed, live, behind a fork) against reclamation;
 *   - the fork rules of docs/RECLAMATION.md, F6;
 *   - reader-slot exhaustion; a copied file.
 *
 * Every assertion is an exact count or state, never a timing.  Child
 * processes are tracked and killed after every test, passed or failed (the
 * suite's fini), and die with the test process (PR_SET_PDEATHSIG). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"  /* block sizes, for exact leak accounting */
#include "atom_worker.h"
#include "region.h" /* EVE_SLOT_COUNT, the header's skipped-retirement count */
#include "support.h"

#ifndef ATOM_WORKER
#error "CMake passes the worker's path as ATOM_WORKER"
#endif

#define WAIT_LIMIT_MS 120000 /* a hung child fails the test instead of hanging it */

/* ---- children: tracked, and killed after every test ------------------------ */

#define MAX_KIDS 64
static pid_t g_kids[MAX_KIDS];
static char g_dir[64]; /* the test's temporary directory, removed at the end */
#define MAX_ATOMS 16
static eve_atom *g_atoms[MAX_ATOMS]; /* handles still open when a test fails */

static void track(pid_t pid) {
  for (int i = 0; i < MAX_KIDS; i++)
    if (!g_kids[i]) {
      g_kids[i] = pid;
      return;
    }
  kill(pid, SIGKILL);
  cr_assert_fail("more than %d children", MAX_KIDS);
}

static void untrack(pid_t pid) {
  for (int i = 0; i < MAX_KIDS; i++)
    if (g_kids[i] == pid) g_kids[i] = 0;
}

/* Runs after every test, failed or not: no child outlives its test. */
static void cleanup(void) {
  for (int i = 0; i < MAX_KIDS; i++)
    if (g_kids[i] > 0) {
      kill(g_kids[i], SIGKILL);
      waitpid(g_kids[i], NULL, 0); /* ECHILD for a grandchild: fine */
      g_kids[i] = 0;
    }
  for (int i = 0; i < MAX_ATOMS; i++)
    if (g_atoms[i]) {
      eve_atom_close(g_atoms[i]);
      g_atoms[i] = NULL;
    }
  if (g_dir[0]) t_rmdir(g_dir);
  g_dir[0] = 0;
}

TestSuite(procs, .fini = cleanup);

static const char *test_dir(void) {
  snprintf(g_dir, sizeof g_dir, "%s", t_tmpdir());
  return g_dir;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *describe(int status) {
  static char buf[64];
  if (WIFEXITED(status)) snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d", WTERMSIG(status));
  else snprintf(buf, sizeof buf, "status %#x", status);
  return buf;
}

/* Wait for a child, bounded: one that hangs is killed and fails the test. */
static int reap(pid_t pid) {
  int status = 0;
  int64_t deadline = now_ms() + WAIT_LIMIT_MS;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    cr_assert_eq(r, 0, "waitpid(%d): %s", (int)pid, strerror(errno));
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      untrack(pid);
      cr_assert_fail("child %d did not finish within %d ms", (int)pid, WAIT_LIMIT_MS);
    }
    usleep(500);
  }
  untrack(pid);
  return status;
}

static void assert_exited_ok(int status, const char *who) {
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s", who, describe(status));
}

/* Fork a child that runs fn(arg) and exits with its result.  It dies with
 * us (PDEATHSIG), so a crashed test leaves nothing running. */
static pid_t fork_child(int (*fn)(void *), void *arg) {
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    _exit(fn(arg));
  }
  track(pid);
  return pid;
}

/* Exec atom_worker with args (NULL-terminated), stdout on out_fd. */
static pid_t spawn_worker(int out_fd, const char *const *args) {
  const char *argv[16] = {"atom_worker"};
  int n = 1;
  while (args[n - 1] && n < 15) argv[n] = args[n - 1], n++;
  argv[n] = NULL;
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    if (out_fd >= 0 && out_fd != STDOUT_FILENO) dup2(out_fd, STDOUT_FILENO);
    execv(ATOM_WORKER, (char *const *)argv);
    _exit(127);
  }
  track(pid);
  return pid;
}

static int out_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
  return fd;
}

/* The next line from a pipe (without its newline), waiting a bounded time. */
static void read_line(int fd, char *buf, size_t cap, const char *who) {
  size_t n = 0;
  int64_t deadline = now_ms() + WAIT_LIMIT_MS;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t left = deadline - now_ms();
    cr_assert_gt(left, 0, "%s: no line within %d ms", who, WAIT_LIMIT_MS);
    if (poll(&p, 1, (int)left) <= 0) continue;
    char c;
    ssize_t r = read(fd, &c, 1);
    cr_assert_eq(r, 1, "%s: closed its output before a full line (%zu bytes)", who, n);
    if (c == '\n') break;
    if (n + 1 < cap) buf[n++] = c;
  }
  buf[n] = 0;
}

static void make_pipe(int fds[2]) {
  cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
}

/* ---- domain helpers ----------------------------------------------------------- */

/* Problems are errors; leaks ("leak: ...", excess owners: an adopter in
 * flight beside live writers, or a killed one) are the caller's business. */
static void print_problem(void *ctx, const char *msg) {
  (void)ctx;
  if (strncmp(msg, "leak: ", 6) == 0) return;
  cr_log_error("check: %s", msg);
}

/* eve_check must find no problem; returns its report (leaks are the
 * caller's business: what is expected depends on who was killed). */
static eve_check_report assert_sound(eve_domain *d, const char *when) {
  eve_check_report r;
  int rc = eve_check(d, &r, print_problem, NULL);
  cr_assert_eq(rc, 0, "%s: check: %s (%llu problems)", when, eve_strerror(rc),
               (unsigned long long)r.problems);
  return r;
}

static void assert_exact(eve_domain *d, const char *when) {
  eve_check_report r = assert_sound(d, when);
  cr_assert(r.settled && r.excess_owners == 0, "%s: counts %s, %llu excess owners", when,
            r.settled ? "verified" : "not verified", (unsigned long long)r.excess_owners);
  cr_assert_eq(r.leaked_bytes, 0, "%s: %llu bytes leaked (allocated %llu, reachable %llu)", when,
               (unsigned long long)r.leaked_bytes, (unsigned long long)r.allocated_bytes,
               (unsigned long long)r.reachable_bytes);
}

static eve_domain *open_path(const char *path) {
  eve_domain *d = NULL;
  EVE_OK(eve_open(path, NULL, &d));
  return d;
}

/* Atom handles are tracked so that a failed test leaves no leak for the
 * sanitizers to report: they should only ever point at the library. */
static eve_atom *open_atom(eve_domain *d, const char *name) {
  eve_atom *a = NULL;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  for (int i = 0; i < MAX_ATOMS; i++)
    if (!g_atoms[i]) {
      g_atoms[i] = a;
      return a;
    }
  cr_assert_fail("more than %d atom handles", MAX_ATOMS);
  return NULL;
}

static void close_atom(eve_atom *a) {
  for (int i = 0; i < MAX_ATOMS; i++)
    if (g_atoms[i] == a) g_atoms[i] = NULL;
  eve_atom_close(a);
}

static eve_stats stats(eve_domain *d) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  return st;
}

/* The counter's value: the boxed int minus AW_COUNTER_BASE (nil is 0). */
static int64_t read_counter(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  eve_val v;
  int64_t n = AW_COUNTER_BASE;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_deref(t, a, &v));
  if (v != EVE_V_NIL) EVE_OK(eve_int_get(t, v, &n));
  EVE_OK(eve_txn_end(t));
  return n - AW_COUNTER_BASE;
}

static int inc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  int64_t n = AW_COUNTER_BASE;
  if (old != EVE_V_NIL) {
    int rc = eve_int_get(t, old, &n);
    if (rc) return rc;
  }
  return eve_int(t, n + 1, out);
}

/* Bytes of one boxed int (header + int64): the only block a counter
 * increment allocates, so leaks of a counter workload are multiples of it. */
static uint64_t boxed_int_bytes(void) {
  return alloc_class_size(alloc_size_class(sizeof(blk) + sizeof(int64_t)));
}

/* ---- the nested map's model (atom_worker.h) ------------------------------------- */

#define MAX_WORKERS 4

typedef struct model {
  int64_t v[MAX_WORKERS][AW_ITEMS]; /* 0: absent */
  int64_t n;                        /* steps applied */
} model;

/* Apply the first `steps` steps of worker `w`'s sequence from `seed`. */
static void model_apply(model *m, unsigned w, uint64_t seed, uint64_t steps) {
  uint64_t rng = seed;
  for (uint64_t i = 0; i < steps; i++) {
    aw_step st = aw_next_step(&rng);
    m->v[w][st.item] = st.val;
  }
  m->n += (int64_t)steps;
}

static eve_val text(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_string(t, s, strlen(s), &v));
  return v;
}

static eve_val kw(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_keyword(t, s, strlen(s), &v));
  return v;
}

static int64_t get_int_or0(eve_txn *t, eve_val m, eve_val k) {
  eve_val v;
  int64_t x = 0;
  int rc = eve_map_get(t, m, k, &v);
  if (rc == EVE_ENOTFOUND) return 0;
  EVE_OK(rc);
  EVE_OK(eve_int_get(t, v, &x));
  return x;
}

/* The domain's nested map must equal the model exactly: every item of
 * every worker, :total and :n. */
static void assert_map_matches(eve_domain *d, eve_atom *a, const model *m, unsigned workers,
                               const char *when) {
  eve_txn *t; /* a write txn: the boxed key strings are built to look up */
  eve_val root, items = EVE_V_EMPTY_MAP, wmap, v;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_deref(t, a, &root));
  if (root == EVE_V_NIL) root = EVE_V_EMPTY_MAP;
  int rc = eve_map_get(t, root, kw(t, "items"), &items);
  cr_assert(rc == 0 || rc == EVE_ENOTFOUND, "%s: :items -> %s", when, eve_err_name(rc));
  int64_t sum = 0;
  for (unsigned w = 0; w < workers; w++) {
    char wk[32], ik[64];
    aw_worker_key(wk, sizeof wk, w);
    wmap = EVE_V_EMPTY_MAP;
    rc = eve_map_get(t, items, text(t, wk), &wmap);
    cr_assert(rc == 0 || rc == EVE_ENOTFOUND, "%s: %s -> %s", when, wk, eve_err_name(rc));
    uint64_t present = 0, count = 0;
    for (unsigned i = 0; i < AW_ITEMS; i++) {
      aw_item_key(ik, sizeof ik, w, i);
      rc = eve_map_get(t, wmap, text(t, ik), &v);
      if (!m->v[w][i]) {
        cr_assert_eq(rc, EVE_ENOTFOUND, "%s: %s should be absent (%s)", when, ik, eve_err_name(rc));
        continue;
      }
      int64_t x = -1;
      cr_assert_eq(rc, 0, "%s: %s missing (%s)", when, ik, eve_err_name(rc));
      EVE_OK(eve_int_get(t, v, &x));
      cr_assert_eq(x, m->v[w][i], "%s: %s is %lld, expected %lld", when, ik, (long long)x,
                   (long long)m->v[w][i]);
      present++;
      sum += x;
    }
    EVE_OK(eve_count(t, wmap, &count));
    cr_assert_eq(count, present, "%s: %s has %llu items, expected %llu", when, wk,
                 (unsigned long long)count, (unsigned long long)present);
  }
  cr_assert_eq(get_int_or0(t, root, kw(t, "total")), sum, "%s: :total", when);
  cr_assert_eq(get_int_or0(t, root, kw(t, "n")), m->n, "%s: :n", when);
  EVE_OK(eve_txn_end(t));
}

/* ---- worker output -------------------------------------------------------------- */

/* What an inc or assoc-in worker acknowledged: complete lines only (a line
 * cut short by SIGKILL was never acknowledged). */
typedef struct acks {
  uint64_t lines;   /* acknowledged swaps */
  int64_t max;      /* largest value acknowledged (-1: none) */
  int opened, ended;
} acks;

static acks read_acks(const char *path) {
  acks a = {0, -1, 0, 0};
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s: %s", path, strerror(errno));
  char line[128];
  while (fgets(line, sizeof line, f)) {
    if (!strchr(line, '\n')) break; /* an unfinished last line */
    if (!strcmp(line, "open\n")) a.opened = 1;
    else if (!strcmp(line, "end\n")) a.ended = 1;
    else {
      long long x = strtoll(line, NULL, 10);
      a.lines++;
      if (x > a.max) a.max = x;
    }
  }
  fclose(f);
  return a;
}

/* Wait until a worker's output file says "open" (the worker is attached and
 * about to swap); fails if the worker exits first. */
static void wait_opened(pid_t pid, const char *path) {
  int64_t deadline = now_ms() + WAIT_LIMIT_MS;
  while (!read_acks(path).opened) {
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "worker %d ended before opening: %s",
                 (int)pid, describe(status));
    cr_assert_lt(now_ms(), deadline, "worker %d did not open within %d ms", (int)pid,
                 WAIT_LIMIT_MS);
    usleep(200);
  }
}

/* ======================================================================= */
/* 0. A pin in a brand-new domain.                                         */
/* ======================================================================= */

static eve_val payload(eve_txn *t, const char *who, int round);
static void set_payload(eve_domain *d, eve_atom *a, const char *who, int round);

/* 0 in a slot means "not pinned", so a txn that pins while the global
 * epoch is still 0 (a brand-new file, before any reclamation pass moved
 * it) was invisible to reclaimers: what it read was freed and reused under
 * it.  It must protect what it reads: replace that value many times (same
 * block sizes, so freed blocks are reused) and read it again. */
Test(procs, a_pin_in_a_new_domain_protects_what_it_read) {
  const char *path = t_path(test_dir(), "new.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "a");
  set_payload(d, a, "first", 0);
  eve_txn *r;
  eve_val seen;
  char *before = NULL, *after = NULL;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  EVE_OK(eve_deref(r, a, &seen));
  EVE_OK(eve_print_edn(r, seen, &before, NULL));
  uint64_t pinned_at = atomic_load(&d->hdr->epoch);
  eve_stats st = stats(d);
  for (int i = 1; i <= 100; i++) set_payload(d, a, "later", i);
  int rc = eve_print_edn(r, seen, &after, NULL);
  cr_log_info("new domain: pinned at global epoch %llu; stats saw %llu readers",
              (unsigned long long)pinned_at, (unsigned long long)st.readers);
  cr_expect_eq(rc, 0, "reading the pinned value again: %s", eve_strerror(rc));
  if (!rc) cr_expect_str_eq(after, before, "the value read in the pinned txn changed under it");
  cr_expect_geq(st.readers, 1, "the pinned txn is not counted as a reader");
  eve_free(before);
  eve_free(after);
  EVE_OK(eve_txn_end(r));
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 1. Forked processes increment one counter: exact count, exact leaks.    */
/* ======================================================================= */

/* In a child: say what failed (stderr reaches the test's output) and
 * return the exit code that names the step. */
static int child_failed(const char *what, int rc, int code) {
  fprintf(stderr, "child %d: %s -> %s\n", (int)getpid(), what, eve_err_name(rc));
  return code;
}

typedef struct count_job {
  const char *path;
  uint64_t n;
} count_job;

/* In a forked child: open the domain ourselves and count.  Exit codes say
 * which step failed (the parent prints them). */
static int count_child(void *arg) {
  const count_job *j = arg;
  eve_domain *d;
  eve_atom *a;
  if (eve_open(j->path, NULL, &d)) return 10;
  if (eve_atom_open(d, "counter", 0, &a)) return 11;
  for (uint64_t i = 0; i < j->n; i++) {
    eve_txn *t;
    int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
    if (rc) return child_failed("eve_txn_begin", rc, 12);
    if ((rc = eve_swap(t, a, inc_fn, NULL, NULL))) return child_failed("eve_swap", rc, 13);
    if ((rc = eve_txn_end(t))) return child_failed("eve_txn_end", rc, 14);
  }
  eve_atom_close(a);
  return eve_close(d) ? 15 : 0;
}

Test(procs, forked_writers_count_exactly) {
  enum { P = 4 };
  const char *path = t_path(test_dir(), "count.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "counter");
  eve_txn *t;
  eve_val v;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_int(t, AW_COUNTER_BASE, &v));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_txn_end(t));

  count_job job = {path, t_scale(100000)};
  int64_t t0 = now_ms();
  pid_t kids[P];
  for (int i = 0; i < P; i++) kids[i] = fork_child(count_child, &job);
  for (int i = 0; i < P; i++) assert_exited_ok(reap(kids[i]), "counting child");
  int64_t elapsed = now_ms() - t0;

  cr_assert_eq(read_counter(d, a), (int64_t)(P * job.n), "every increment counted once");
  /* We stayed attached, so no child could run recovery when it detached:
   * the only leak allowed is what children dropped at detach because one of
   * them was still pinned (counted in the header), boxed ints all. */
  eve_check_report r = assert_sound(d, "after the children");
  uint64_t skipped = atomic_load(&d->hdr->skipped_retires);
  cr_log_info("forked counter: %d x %llu increments in %lld ms; checker: leaked %llu bytes, "
              "skipped retirements %llu",
              P, (unsigned long long)job.n, (long long)elapsed,
              (unsigned long long)r.leaked_bytes, (unsigned long long)skipped);
  cr_assert_eq(r.leaked_bytes, skipped * boxed_int_bytes(),
               "leaked %llu bytes, but %llu skipped retirements explain %llu",
               (unsigned long long)r.leaked_bytes, (unsigned long long)skipped,
               (unsigned long long)(skipped * boxed_int_bytes()));
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  cr_assert_eq(g.reclaimed_bytes, r.leaked_bytes, "the collector returns exactly the leak");
  assert_exact(d, "after eve_gc");
  cr_assert_eq(read_counter(d, a), (int64_t)(P * job.n));
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* docs/RELIABILITY.md, finding 13: eve_stats_get and eve_check beside
 * writer processes walked retire batches that others were freeing (SIGBUS)
 * and judged ownership counts while commits moved them (EVE_ECORRUPT on a
 * sound domain in about 1% of checks).  Writers replace keys of one map,
 * and copy it into an atom of their own (so blocks are SHARED and dropped by
 * racing commits); the parent checks and takes statistics all the while:
 * never a signal, never a problem, and once the writers stop, an exact
 * domain with verified counts. */
typedef struct churn_job {
  const char *path;
  int64_t ms;
  unsigned who;
} churn_job;

static int churn_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  uint64_t *rng = arg;
  char k[32], s[48];
  snprintf(k, sizeof k, "key-number-%05d", (int)t_below(rng, 2000));
  snprintf(s, sizeof s, "value %llu, long enough to be a block", (unsigned long long)t_rand(rng));
  eve_val key = text(t, k), v = text(t, s);
  return eve_map_assoc(t, old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, key, v, out);
}

static int churn_child(void *arg) {
  const churn_job *j = arg;
  eve_domain *d;
  eve_atom *m, *copy;
  char name[16];
  snprintf(name, sizeof name, "copy%u", j->who);
  if (eve_open(j->path, NULL, &d)) return 10;
  if (eve_atom_open(d, "m", EVE_ATOM_CREATE, &m) || eve_atom_open(d, name, EVE_ATOM_CREATE, &copy))
    return 11;
  uint64_t rng = 77 + j->who;
  for (int64_t end = now_ms() + j->ms; now_ms() < end;) {
    eve_txn *t;
    eve_val v;
    int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
    if (rc) return child_failed("eve_txn_begin", rc, 12);
    if ((rc = eve_swap(t, m, churn_fn, &rng, &v))) return child_failed("eve_swap", rc, 13);
    if (t_below(&rng, 4) == 0 && (rc = eve_reset(t, copy, v)))
      return child_failed("eve_reset", rc, 14);
    eve_txn_end(t);
  }
  eve_atom_close(m);
  eve_atom_close(copy);
  return eve_close(d) ? 15 : 0;
}

Test(procs, check_and_stats_beside_writer_processes) {
  enum { P = 3 };
  const char *path = t_path(test_dir(), "churn.eve");
  eve_domain *d = open_path(path);
  churn_job jobs[P];
  pid_t kids[P];
  int64_t ms = (int64_t)t_scale(6000);
  for (unsigned i = 0; i < P; i++) {
    jobs[i] = (churn_job){path, ms, i};
    kids[i] = fork_child(churn_child, &jobs[i]);
  }
  uint64_t checks = 0, settled = 0, stats_calls = 0;
  for (int64_t end = now_ms() + ms; now_ms() < end;) {
    eve_stats st;
    EVE_OK(eve_stats_get(d, &st));
    stats_calls++;
    if (stats_calls % 10) continue;
    eve_check_report r = assert_sound(d, "beside the writers");
    checks++;
    settled += r.settled;
  }
  for (int i = 0; i < P; i++) assert_exited_ok(reap(kids[i]), "writer");
  cr_log_info("beside %d writer processes: %llu stats, %llu checks (%llu with counts verified)", P,
              (unsigned long long)stats_calls, (unsigned long long)checks,
              (unsigned long long)settled);
  cr_assert_gt(checks, 0);
  /* the writers detached while we were attached: what they left waiting
   * for our pins is in the batches, freed by the next passes */
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  EVE_OK(eve_stats_get(d, &st));
  eve_check_report r = assert_sound(d, "after the writers");
  cr_assert(r.settled && r.excess_owners == 0, "quiet: counts verified, no excess owners");
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 2. Unrelated (exec'd) writers on a nested map, readers checking it.     */
/* ======================================================================= */

Test(procs, exec_workers_nested_map_exact) {
  enum { W = 4, R = 2 };
  const char *dir = test_dir(), *path = t_path(dir, "nested.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "m");
  close_atom(a);
  EVE_OK(eve_close(d)); /* the workers are alone: the last one may recover */

  uint64_t n = t_scale(50000), seed = t_seed(0x5eed);
  char nbuf[32], sbuf[W][32], ibuf[W][8];
  snprintf(nbuf, sizeof nbuf, "%llu", (unsigned long long)n);

  /* readers first, and wait until each has checked a snapshot, so they
   * overlap the whole write phase */
  int rp[R][2];
  pid_t readers[R];
  char line[256];
  for (int i = 0; i < R; i++) {
    make_pipe(rp[i]);
    const char *args[] = {path, "read", "m", "0", NULL};
    readers[i] = spawn_worker(rp[i][1], args);
    close(rp[i][1]);
    read_line(rp[i][0], line, sizeof line, "reader");
    cr_assert_str_eq(line, "ready");
  }
  int64_t t0 = now_ms();
  pid_t writers[W];
  for (int i = 0; i < W; i++) {
    snprintf(sbuf[i], sizeof sbuf[i], "%llu", (unsigned long long)(seed + (uint64_t)i));
    snprintf(ibuf[i], sizeof ibuf[i], "%d", i);
    int fd = out_file(t_path(dir, ibuf[i]));
    const char *args[] = {path, "assoc-in", "m", nbuf, sbuf[i], ibuf[i], NULL};
    writers[i] = spawn_worker(fd, args);
    close(fd);
  }
  for (int i = 0; i < W; i++) {
    assert_exited_ok(reap(writers[i]), "assoc-in writer");
    acks k = read_acks(t_path(dir, ibuf[i]));
    cr_assert(k.lines == n && k.max == (int64_t)n && k.ended, "writer %d acknowledged %llu of %llu",
              i, (unsigned long long)k.lines, (unsigned long long)n);
  }
  int64_t elapsed = now_ms() - t0;
  for (int i = 0; i < R; i++) {
    kill(readers[i], SIGTERM);
    assert_exited_ok(reap(readers[i]), "reader (1 = it saw a broken invariant)");
    unsigned long long snaps = 0, versions = 0;
    long long last = 0;
    read_line(rp[i][0], line, sizeof line, "reader");
    cr_assert_eq(sscanf(line, "snapshots %llu versions %llu last %lld", &snaps, &versions, &last),
                 3, "reader said: %s", line);
    close(rp[i][0]);
    cr_log_info("reader %d: %llu snapshots, %llu versions, last n %lld", i, snaps, versions, last);
    /* its first snapshot saw the empty map, its last (taken after SIGTERM,
     * so after the writers) everything */
    cr_assert_geq(versions, 2, "reader %d saw a single version", i);
    cr_assert_eq(last, (long long)(W * n), "reader %d's last snapshot", i);
  }

  model m = {0};
  for (unsigned w = 0; w < W; w++) model_apply(&m, w, seed + w, n);
  d = open_path(path);
  a = open_atom(d, "m");
  assert_map_matches(d, a, &m, W, "after the writers");
  eve_check_report r = assert_sound(d, "after the writers");
  cr_log_info("exec'd nested map: %d writers x %llu steps in %lld ms, leaked %llu after reopen", W,
              (unsigned long long)n, (long long)elapsed, (unsigned long long)r.leaked_bytes);
  cr_assert_eq(r.leaked_bytes, 0, "every process detached (or the open recovered): no leak");
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 3. SIGKILL torture.                                                     */
/* ======================================================================= */

typedef struct torture {
  const char *dir, *path;
  uint64_t rng, seed;
  int64_t counter;      /* the counter's value, checked after each round */
  model m;              /* the nested map, worker 0 only */
  uint64_t kills, kills_after_open, unacked, rounds, leaky_rounds, max_leak;
} torture;

enum { MAXW = 3 };

typedef struct round {
  int k;                /* workers: 2 or 3 */
  int map_worker;       /* worker 0 runs assoc-in on the nested map */
  uint64_t seed;        /* its step sequence */
  pid_t pids[MAXW];
  int killed[MAXW];
  acks acked[MAXW];
  char files[MAXW][4096];
} kill_round;

/* Start 2-3 workers; on odd rounds the first works on the nested map. */
static void round_start(torture *s, kill_round *r) {
  char sbuf[32];
  r->k = 2 + (int)t_below(&s->rng, 2);
  r->map_worker = s->rounds % 2 == 1;
  r->seed = s->seed + s->rounds;
  snprintf(sbuf, sizeof sbuf, "%llu", (unsigned long long)r->seed);
  for (int i = 0; i < r->k; i++) {
    snprintf(r->files[i], sizeof r->files[i], "%s/r%d", s->dir, i);
    int fd = out_file(r->files[i]);
    const char *inc[] = {s->path, "inc", "counter", "1000000000", NULL};
    const char *map[] = {s->path, "assoc-in", "m", "1000000000", sbuf, "0", NULL};
    r->pids[i] = spawn_worker(fd, i == 0 && r->map_worker ? map : inc);
    close(fd);
  }
}

/* At a random instant, SIGKILL all workers or one of them; the others stop
 * cleanly.  Then collect what each acknowledged. */
static void round_kill(torture *s, kill_round *r) {
  if (t_below(&s->rng, 2))
    for (int i = 0; i < r->k; i++) wait_opened(r->pids[i], r->files[i]);
  /* one round in four kills within 2 ms: during exec, open, attach or the
   * recovery an open runs after earlier kills */
  usleep((useconds_t)t_below(&s->rng, t_below(&s->rng, 4) ? 20001 : 2001));
  int kill_all = (int)t_below(&s->rng, 2), victim = (int)t_below(&s->rng, (uint64_t)r->k);
  for (int i = 0; i < r->k; i++) {
    r->killed[i] = kill_all || i == victim;
    if (r->killed[i]) kill(r->pids[i], SIGKILL);
  }
  /* SIGTERM only once a worker has its handler (it says "open" after) */
  for (int i = 0; i < r->k; i++)
    if (!r->killed[i]) {
      wait_opened(r->pids[i], r->files[i]);
      kill(r->pids[i], SIGTERM);
    }
  for (int i = 0; i < r->k; i++) {
    int status = reap(r->pids[i]);
    r->acked[i] = read_acks(r->files[i]);
    if (r->killed[i]) {
      cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "killed worker: %s",
                describe(status));
      s->kills++;
      s->kills_after_open += r->acked[i].opened;
    } else {
      assert_exited_ok(status, "worker stopped by SIGTERM");
      cr_assert(r->acked[i].ended, "a worker stopped cleanly says so");
    }
  }
}

/* Every acknowledged increment landed, and at most one more per killed
 * worker (killed between its swap and its acknowledgement). */
static void verify_counter(torture *s, const kill_round *r, eve_domain *d, eve_atom *c) {
  uint64_t acked = 0, killed = 0;
  int64_t max = -1;
  for (int i = r->map_worker; i < r->k; i++) {
    acked += r->acked[i].lines;
    killed += (uint64_t)r->killed[i];
    if (r->acked[i].max > max) max = r->acked[i].max;
  }
  int64_t now = read_counter(d, c), landed = now - s->counter;
  cr_assert_geq(now, max, "round %llu: the counter (%lld) is below an acknowledged value %lld",
                (unsigned long long)s->rounds, (long long)now, (long long)max);
  cr_assert(landed >= (int64_t)acked && landed <= (int64_t)(acked + killed),
            "round %llu: %lld increments landed, %llu acknowledged by %llu killed workers",
            (unsigned long long)s->rounds, (long long)landed, (unsigned long long)acked,
            (unsigned long long)killed);
  s->unacked += (uint64_t)landed - acked;
  s->counter = now;
}

/* The map worker's steps landed in order: exactly the first L of its
 * sequence, L its acknowledgements (+1 if it was killed), nothing torn. */
static void verify_map(torture *s, const kill_round *r, eve_domain *d, eve_atom *m) {
  eve_txn *t;
  eve_val root;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_deref(t, m, &root));
  int64_t n = root == EVE_V_NIL ? 0 : get_int_or0(t, root, kw(t, "n"));
  EVE_OK(eve_txn_end(t));
  int64_t steps = n - s->m.n, acked = (int64_t)r->acked[0].lines;
  cr_assert(steps >= acked && steps <= acked + r->killed[0],
            "round %llu: %lld map steps landed, %lld acknowledged", (unsigned long long)s->rounds,
            (long long)steps, (long long)acked);
  s->unacked += (uint64_t)(steps - acked);
  model_apply(&s->m, 0, r->seed, (uint64_t)steps);
  assert_map_matches(d, m, &s->m, 1, "after a killed map worker");
}

static void round_verify(torture *s, const kill_round *r) {
  eve_domain *d = open_path(s->path);
  eve_atom *c = open_atom(d, "counter"), *m = open_atom(d, "m");
  verify_counter(s, r, d, c);
  if (r->map_worker) verify_map(s, r, d, m);
  eve_check_report rep = assert_sound(d, "after a round of kills");
  if (rep.leaked_bytes) s->leaky_rounds++;
  if (rep.leaked_bytes > s->max_leak) s->max_leak = rep.leaked_bytes;
  close_atom(c);
  close_atom(m);
  EVE_OK(eve_close(d));
  s->rounds++;
}

Test(procs, sigkill_torture) {
  torture s = {.dir = test_dir(), .rng = t_seed(0xC0FFEE), .seed = t_seed(0xC0FFEE) * 7};
  s.path = t_path(s.dir, "torture.eve");
  cr_log_info("sigkill torture: seed %#llx", (unsigned long long)t_seed(0xC0FFEE));
  eve_domain *d = open_path(s.path);
  close_atom(open_atom(d, "counter"));
  close_atom(open_atom(d, "m"));
  EVE_OK(eve_close(d));

  uint64_t target = t_scale(500);
  if (target < 20) target = 20;
  int64_t t0 = now_ms();
  while (s.kills < target) {
    kill_round r;
    round_start(&s, &r);
    round_kill(&s, &r);
    round_verify(&s, &r);
  }
  int64_t elapsed = now_ms() - t0;

  /* nobody is attached now: what does the checker say, and does a full
   * collection make the domain exact? */
  d = open_path(s.path);
  eve_atom *c = open_atom(d, "counter");
  eve_check_report before = assert_sound(d, "after the torture");
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  assert_exact(d, "after the torture and eve_gc");
  cr_assert_eq(read_counter(d, c), s.counter, "the collector changes no value");
  eve_domain_info info;
  EVE_OK(eve_domain_info_get(d, &info));
  cr_log_info("sigkill torture: %llu kills (%llu after the worker had opened) in %llu rounds, "
              "%lld ms; counter %lld, %llu swaps landed unacknowledged; rounds with leaks %llu "
              "(max %llu bytes); at the end the checker saw %llu leaked bytes, gc reclaimed %llu; "
              "file %llu bytes",
              (unsigned long long)s.kills, (unsigned long long)s.kills_after_open,
              (unsigned long long)s.rounds, (long long)elapsed, (long long)s.counter,
              (unsigned long long)s.unacked, (unsigned long long)s.leaky_rounds,
              (unsigned long long)s.max_leak, (unsigned long long)before.leaked_bytes,
              (unsigned long long)g.reclaimed_bytes, (unsigned long long)info.file_bytes);
  close_atom(c);
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 4. Readers against reclamation: a killed one, a live one.               */
/* ======================================================================= */

/* A large value: 512 boxed strings in a vector (~60 KiB of blocks). */
static void replace_big(eve_domain *d, eve_atom *a, uint64_t round) {
  eve_txn *t;
  eve_val v = EVE_V_EMPTY_VECTOR, s;
  char buf[96];
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  for (int i = 0; i < 512; i++) {
    int len = snprintf(buf, sizeof buf, "round %llu, element %03d: a string long enough to box",
                       (unsigned long long)round, i);
    EVE_OK(eve_string(t, buf, (size_t)len, &s));
    EVE_OK(eve_vec_conj(t, v, s, &v));
  }
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_txn_end(t));
}

/* Start `atom_worker hold` on atom and wait until it is pinned. */
static pid_t start_holder(const char *path, const char *atom, int *out_fd) {
  int p[2];
  make_pipe(p);
  const char *args[] = {path, "hold", atom, NULL};
  pid_t pid = spawn_worker(p[1], args);
  close(p[1]);
  char line[64];
  int said = 0;
  read_line(p[0], line, sizeof line, "holder");
  cr_assert_eq(sscanf(line, "pinned %d", &said), 1, "holder said: %s", line);
  cr_assert_eq(said, pid);
  *out_fd = p[0];
  return pid;
}

Test(procs, killed_reader_does_not_stop_reclamation) {
  enum { K = 40 };
  const char *path = t_path(test_dir(), "killed.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "big");
  replace_big(d, a, 0);
  int fd;
  pid_t holder = start_holder(path, "big", &fd);
  kill(holder, SIGKILL);
  int status = reap(holder);
  cr_assert(WIFSIGNALED(status), "holder: %s", describe(status));
  close(fd);

  eve_stats at_k = {0}, at_2k = {0};
  for (uint64_t r = 1; r <= 2 * K; r++) {
    replace_big(d, a, r);
    if (r == K) at_k = stats(d);
    if (r == 2 * K) at_2k = stats(d);
  }
  cr_log_info("killed reader: file %llu bytes after %d rounds, %llu after %d; retired %llu / %llu",
              (unsigned long long)at_k.file_bytes, K, (unsigned long long)at_2k.file_bytes, 2 * K,
              (unsigned long long)at_k.retired_bytes, (unsigned long long)at_2k.retired_bytes);
  /* the dead reader's pin is ignored: with nobody else pinned, a stats call
   * (which reclaims first) finds nothing waiting */
  cr_assert_eq(at_k.readers, 0, "a dead process's pin is not a reader");
  cr_assert_eq(at_k.retired_bytes, 0);
  cr_assert_eq(at_2k.retired_bytes, 0);
  cr_assert_eq(at_2k.file_bytes, at_k.file_bytes, "the file stopped growing");
  assert_exact(d, "after the killed reader");
  close_atom(a);
  EVE_OK(eve_close(d));
}

Test(procs, live_reader_holds_reclamation_until_it_ends) {
  enum { K = 20 };
  const char *path = t_path(test_dir(), "live.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "big");
  replace_big(d, a, 0);
  int fd;
  pid_t holder = start_holder(path, "big", &fd);
  usleep(20000); /* so that the pin's age is at least one clock tick */

  eve_stats at_k = {0}, at_2k = {0};
  for (uint64_t r = 1; r <= 2 * K; r++) {
    replace_big(d, a, r);
    if (r == K) at_k = stats(d);
    if (r == 2 * K) at_2k = stats(d);
  }
  cr_log_info("live reader: retired %llu after %d rounds, %llu after %d; file %llu / %llu; "
              "oldest pin %llu ms",
              (unsigned long long)at_k.retired_bytes, K, (unsigned long long)at_2k.retired_bytes,
              2 * K, (unsigned long long)at_k.file_bytes, (unsigned long long)at_2k.file_bytes,
              (unsigned long long)at_2k.oldest_pin_ms);
  /* everything replaced since the pin waits for it */
  cr_assert_gt(at_k.retired_bytes, 0);
  cr_assert_gt(at_2k.retired_bytes, at_k.retired_bytes);
  cr_assert_gt(at_2k.file_bytes, at_k.file_bytes, "held garbage makes the file grow");
  cr_assert_geq(at_2k.readers, 1);
  cr_assert_eq(at_2k.oldest_pin_pid, holder, "the oldest pin is the holder's");
  cr_assert_gt(at_2k.oldest_pin_ms, 0);

  kill(holder, SIGTERM); /* it ends its txn and detaches cleanly */
  assert_exited_ok(reap(holder), "holder");
  close(fd);
  replace_big(d, a, 2 * K + 1);
  eve_stats released = stats(d);
  cr_assert_eq(released.retired_bytes, 0, "reclamation resumed when the reader ended");
  cr_assert_eq(released.readers, 0);
  for (uint64_t r = 2 * K + 2; r <= 4 * K; r++) replace_big(d, a, r);
  eve_stats after = stats(d);
  cr_assert_eq(after.retired_bytes, 0);
  cr_assert_eq(after.file_bytes, released.file_bytes, "the freed space is reused: no growth");
  assert_exact(d, "after the live reader");
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 5. Fork rules (docs/RECLAMATION.md, F6).                                */
/* ======================================================================= */

/* A map of 32 boxed strings; `who` and `round` make each version distinct
 * while keeping block sizes equal, so freed blocks get reused.  Returns an
 * error instead of asserting: forked children build it too. */
static int build_payload(eve_txn *t, const char *who, int round, eve_val *out) {
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  char kb[32], vb[96];
  for (int i = 0; i < 32; i++) {
    snprintf(kb, sizeof kb, "key-%02d", i);
    snprintf(vb, sizeof vb, "%s payload, round %04d, item %02d", who, round, i);
    int rc;
    if ((rc = eve_string(t, kb, strlen(kb), &k)) || (rc = eve_string(t, vb, strlen(vb), &v)) ||
        (rc = eve_map_assoc(t, m, k, v, &m)))
      return rc;
  }
  *out = m;
  return 0;
}

static eve_val payload(eve_txn *t, const char *who, int round) {
  eve_val m;
  EVE_OK(build_payload(t, who, round, &m));
  return m;
}

static void set_payload(eve_domain *d, eve_atom *a, const char *who, int round) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_reset(t, a, payload(t, who, round)));
  EVE_OK(eve_txn_end(t));
}

/* Is the atom's value equal to payload(who, round)? */
static int holds_payload(eve_domain *d, eve_atom *a, const char *who, int round) {
  eve_txn *t;
  eve_val v;
  int eq = 0;
  if (eve_txn_begin(d, EVE_TXN_WRITE, &t)) return -1;
  if (eve_deref(t, a, &v) == 0) eve_equal(t, v, payload(t, who, round), &eq);
  eve_txn_end(t);
  return eq;
}

typedef struct fork_job {
  eve_domain *d;
  eve_atom *a, *b;
  eve_txn *inherited;
  int rounds;
} fork_job;

/* The child of a parent that forked inside a read txn with warm caches.
 * Exit codes say which rule broke. */
static int forked_child(void *arg) {
  fork_job *j = arg;
  eve_val v;
  if (eve_deref(j->inherited, j->a, &v) != EVE_EFORKED) return 20;
  for (int r = 0; r < j->rounds; r++) {
    eve_txn *t;
    eve_val p;
    int rc = eve_txn_begin(j->d, EVE_TXN_WRITE, &t);
    if (rc) return child_failed("eve_txn_begin", rc, 21);
    if ((rc = build_payload(t, "child", r, &p))) return child_failed("build_payload", rc, 22);
    if ((rc = eve_reset(t, j->b, p))) return child_failed("eve_reset", rc, 23);
    if ((rc = eve_txn_end(t))) return child_failed("eve_txn_end", rc, 24);
  }
  /* ending the inherited txn is refused and must leave the parent's pin */
  if (eve_txn_end(j->inherited) != EVE_EFORKED) return 25;
  return eve_close(j->d) ? 26 : 0;
}

/* Run `atom_worker DB churn ATOM N` or `gc` and return its one line. */
static void run_worker_line(const char *const *args, char *line, size_t cap) {
  int p[2];
  make_pipe(p);
  pid_t pid = spawn_worker(p[1], args);
  close(p[1]);
  read_line(p[0], line, cap, args[1]);
  assert_exited_ok(reap(pid), args[1]);
  close(p[0]);
}

Test(procs, fork_inside_a_read_txn) {
  enum { ROUNDS = 50 };
  const char *path = t_path(test_dir(), "fork.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "a"), *b = open_atom(d, "b");
  set_payload(d, a, "parent", 0);
  /* warm this thread's allocator cache with blocks of the payload's sizes */
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  for (int i = 0; i < 4; i++) payload(t, "warm", i);
  EVE_OK(eve_txn_end(t));

  eve_txn *r;
  eve_val seen;
  char *before = NULL;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &r));
  EVE_OK(eve_deref(r, a, &seen));
  EVE_OK(eve_print_edn(r, seen, &before, NULL));

  fork_job job = {d, a, b, r, ROUNDS};
  pid_t kid = fork_child(forked_child, &job);
  /* meanwhile the parent allocates from its warm cache and publishes too */
  for (int i = 1; i <= ROUNDS; i++) set_payload(d, a, "parent", i);
  assert_exited_ok(reap(kid), "forked child (20s: which fork rule broke)");

  cr_assert_eq(holds_payload(d, a, "parent", ROUNDS), 1, "the parent's value is intact");
  cr_assert_eq(holds_payload(d, b, "child", ROUNDS - 1), 1, "the child's value is intact");
  /* (a) the child's exit did not clear our pin: replaced values wait for it */
  for (int i = ROUNDS + 1; i <= 2 * ROUNDS; i++) set_payload(d, a, "parent", i);
  eve_stats st = stats(d);
  cr_assert_gt(st.retired_bytes, 0, "our pinned txn still holds reclamation back");
  char *again = NULL;
  EVE_OK(eve_print_edn(r, seen, &again, NULL));
  cr_assert_str_eq(again, before, "what the pinned txn read is unchanged");
  eve_free(again);

  /* (b) another process sees us alive: our pin holds its reclamation back,
   * and it cannot collect beside us */
  char line[128];
  unsigned long long retired = 0, readers = 0;
  long long pin_pid = 0;
  const char *churn[] = {path, "churn", "c", "20", NULL};
  run_worker_line(churn, line, sizeof line);
  cr_assert_eq(sscanf(line, "retired %llu readers %llu pin_pid %lld", &retired, &readers, &pin_pid),
               3, "churn said: %s", line);
  cr_assert_gt(retired, 0, "our pin holds another process's reclamation back");
  cr_assert_geq(readers, 1);
  cr_assert_eq(pin_pid, getpid(), "and it names us as the oldest pin");
  const char *gc[] = {path, "gc", NULL};
  run_worker_line(gc, line, sizeof line);
  cr_assert(!strncmp(line, "gc EVE_EBUSY", 12), "a collection beside us: %s", line);

  EVE_OK(eve_txn_end(r));
  run_worker_line(churn, line, sizeof line);
  cr_assert_eq(sscanf(line, "retired %llu readers %llu pin_pid %lld", &retired, &readers, &pin_pid),
               3, "churn said: %s", line);
  cr_assert_eq(retired, 0, "once we unpin, the other process reclaims everything");
  cr_assert_eq(readers, 0);
  cr_assert_eq(stats(d).retired_bytes, 0);
  eve_free(before);

  /* the child's retirements that waited for our pin were dropped at its
   * detach (counted); the collector returns them */
  eve_check_report rep = assert_sound(d, "after the fork");
  cr_log_info("fork inside a read txn: checker leaked %llu bytes, skipped retirements %llu",
              (unsigned long long)rep.leaked_bytes,
              (unsigned long long)atomic_load(&d->hdr->skipped_retires));
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  assert_exact(d, "after eve_gc");
  close_atom(a);
  close_atom(b);
  EVE_OK(eve_close(d));
}

/* (c) grandparent -> parent (pins, forks a sleeping child) -> kill -9 parent. */

typedef struct pin_job {
  eve_domain *d;
  eve_atom *a;
  int out;
} pin_job;

/* Children that wait to be killed. */
static void sleep_forever(void) __attribute__((noreturn));
static void sleep_forever(void) {
  alarm(300); /* a safety net: the test kills us long before */
  for (;;) pause();
}

/* The middle process: pin (through the inherited domain handle, so it
 * attaches as itself), fork a child that sleeps, report, wait to be killed. */
static int pinning_parent(void *arg) {
  pin_job *j = arg;
  eve_txn *t;
  eve_val v;
  if (eve_txn_begin(j->d, EVE_TXN_READ, &t) || eve_deref(t, j->a, &v)) return 30;
  fflush(NULL);
  pid_t c = fork(); /* no PDEATHSIG: it must outlive us */
  if (c < 0) return 31;
  if (c == 0) sleep_forever();
  dprintf(j->out, "pinned %d\n", (int)c);
  sleep_forever();
}

Test(procs, killed_parent_does_not_live_on_in_its_forked_child) {
  enum { K = 10 };
  cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0, "subreaper: %s", strerror(errno));
  const char *path = t_path(test_dir(), "grand.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = open_atom(d, "big");
  replace_big(d, a, 0);
  int p[2];
  make_pipe(p);
  pin_job job = {d, a, p[1]};
  pid_t parent = fork_child(pinning_parent, &job);
  close(p[1]);
  char line[64];
  int child = 0;
  read_line(p[0], line, sizeof line, "pinning parent");
  cr_assert_eq(sscanf(line, "pinned %d", &child), 1, "parent said: %s", line);
  track(child);
  close(p[0]);

  for (int r = 1; r <= K; r++) replace_big(d, a, (uint64_t)r);
  eve_stats held = stats(d);
  cr_assert_gt(held.retired_bytes, 0, "the live parent's pin holds reclamation back");
  cr_assert_eq(held.oldest_pin_pid, parent);

  kill(parent, SIGKILL);
  int status = reap(parent);
  cr_assert(WIFSIGNALED(status), "parent: %s", describe(status));
  /* we are the subreaper: the grandchild is ours now, and still running */
  cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "the grandchild lives on");

  for (int r = K + 1; r <= 2 * K; r++) replace_big(d, a, (uint64_t)r);
  eve_stats freed = stats(d);
  cr_log_info("killed parent, live child: retired %llu bytes while the parent lived, %llu after",
              (unsigned long long)held.retired_bytes, (unsigned long long)freed.retired_bytes);
  cr_assert_eq(freed.readers, 0, "the dead parent's pin is not kept alive by its child");
  cr_assert_eq(freed.retired_bytes, 0, "reclamation resumed although the child lives");
  cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "the grandchild still lives");
  assert_sound(d, "after the killed parent");

  kill(child, SIGKILL);
  reap(child);
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 6. Reader slots: exhaustion, in one process and across processes.       */
/* ======================================================================= */

/* Begin read txns until the domain refuses; returns how many began. */
static int pin_all(eve_domain *d, eve_txn **txns, int cap, int *last_rc) {
  int n = 0;
  while (n < cap && (*last_rc = eve_txn_begin(d, EVE_TXN_READ, &txns[n])) == 0) n++;
  return n;
}

typedef struct slot_job {
  const char *path;
  int out;
} slot_job;

static int slot_hog(void *arg) {
  slot_job *j = arg;
  eve_domain *d;
  static eve_txn *txns[EVE_SLOT_COUNT + 1];
  int rc = 0;
  if (eve_open(j->path, NULL, &d)) return 40;
  int n = pin_all(d, txns, EVE_SLOT_COUNT + 1, &rc);
  dprintf(j->out, "%d %d\n", n, rc);
  sleep_forever();
}

Test(procs, reader_slots_exhaust_and_recover) {
  enum { S = EVE_SLOT_COUNT };
  const char *path = t_path(test_dir(), "slots.eve");
  eve_domain *d = open_path(path);
  static eve_txn *txns[S + 1];
  eve_txn *t;
  int rc = 0;
  int n = pin_all(d, txns, S + 1, &rc);
  cr_assert_eq(n, S, "every slot can be pinned, and no more");
  cr_assert_eq(rc, EVE_ESLOTS, "then: %s", eve_err_name(rc));
  EVE_ERR(eve_txn_begin(d, EVE_TXN_WRITE, &t), EVE_ESLOTS);
  EVE_OK(eve_txn_end(txns[S / 2]));
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &txns[S / 2]));
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &t), EVE_ESLOTS);
  for (int i = 0; i < S; i++) EVE_OK(eve_txn_end(txns[i]));

  /* another process takes every slot: ours are refused while it lives and
   * come back when it is killed (its slots' owner is dead) */
  int p[2];
  make_pipe(p);
  slot_job job = {path, p[1]};
  pid_t hog = fork_child(slot_hog, &job);
  close(p[1]);
  char line[64];
  int got = 0, hog_rc = 0;
  read_line(p[0], line, sizeof line, "slot hog");
  close(p[0]);
  cr_assert_eq(sscanf(line, "%d %d", &got, &hog_rc), 2, "hog said: %s", line);
  cr_assert_eq(got, S, "the other process pinned every slot");
  cr_assert_eq(hog_rc, EVE_ESLOTS);
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &t), EVE_ESLOTS);
  kill(hog, SIGKILL);
  reap(hog);
  n = pin_all(d, txns, S + 1, &rc);
  cr_assert_eq(n, S, "a dead process's slots are all claimed again");
  cr_assert_eq(rc, EVE_ESLOTS);
  for (int i = 0; i < S; i++) EVE_OK(eve_txn_end(txns[i]));
  assert_exact(d, "after slot exhaustion");
  EVE_OK(eve_close(d));
}

/* ======================================================================= */
/* 7. A copied file is a complete domain.                                  */
/* ======================================================================= */

static void copy_file(const char *from, const char *to) {
  const char *argv[] = {"cp", from, to, NULL};
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    execvp("cp", (char *const *)argv);
    _exit(127);
  }
  track(pid);
  assert_exited_ok(reap(pid), "cp");
}

/* Every atom's EDN text, "name=value\n" in name order (malloc'd). */
static char *dump(eve_domain *d) {
  eve_txn *t;
  eve_val names[256], name, v;
  size_t n = 0;
  size_t cap = 1 << 16, len = 0;
  char *out = calloc(1, cap);
  cr_assert_not_null(out);
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_atom_names(t, names, 256, &n));
  cr_assert_leq(n, 256);
  for (size_t i = 0; i < n; i++) {
    const char *s;
    size_t sn;
    char nm[64];
    eve_atom *a;
    char *edn = NULL;
    name = names[i];
    EVE_OK(eve_text_get(t, &name, &s, &sn));
    snprintf(nm, sizeof nm, "%.*s", (int)sn, s);
    EVE_OK(eve_atom_open(d, nm, 0, &a));
    EVE_OK(eve_deref(t, a, &v));
    EVE_OK(eve_print_edn(t, v, &edn, NULL));
    int w = snprintf(out + len, cap - len, "%s=%s\n", nm, edn);
    cr_assert_lt((size_t)w, cap - len, "dump too large");
    len += (size_t)w;
    eve_free(edn);
    eve_atom_close(a);
  }
  EVE_OK(eve_txn_end(t));
  return out;
}

static void fill_domain(eve_domain *d) {
  eve_atom *c = open_atom(d, "counter"), *m = open_atom(d, "m"), *p = open_atom(d, "payload");
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  for (int i = 0; i < 100; i++) EVE_OK(eve_swap(t, c, inc_fn, NULL, NULL));
  EVE_OK(eve_reset(t, p, payload(t, "copied", 1)));
  eve_val s;
  const char *edn = "{:items {\"w0\" {\"worker-0/item-001\" 5}} :total 5 :n 1 :tags #{:a :b}}";
  EVE_OK(eve_read_edn(t, edn, strlen(edn), &s, NULL));
  EVE_OK(eve_reset(t, m, s));
  EVE_OK(eve_txn_end(t));
  close_atom(c);
  close_atom(m);
  close_atom(p);
}

static void check_copy(const char *path, const char *want, const char *when) {
  eve_domain *d = open_path(path);
  char *got = dump(d);
  cr_assert_str_eq(got, want, "%s: the copy holds the same values", when);
  free(got);
  eve_check_report r = assert_sound(d, when);
  cr_log_info("%s: the copy's checker sees %llu leaked bytes", when,
              (unsigned long long)r.leaked_bytes);
  /* the copy works: it can change and reclaim like the original */
  eve_atom *c = open_atom(d, "counter");
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  for (int i = 0; i < 10; i++) EVE_OK(eve_swap(t, c, inc_fn, NULL, NULL));
  EVE_OK(eve_txn_end(t));
  eve_stats st = stats(d);
  cr_assert_eq(st.readers, 0, "%s: no pin of the original's processes holds the copy", when);
  cr_assert_eq(st.retired_bytes, 0, "%s", when);
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  assert_exact(d, when);
  close_atom(c);
  EVE_OK(eve_close(d));
}

Test(procs, copied_file_is_a_complete_domain) {
  const char *dir = test_dir();
  const char *orig = t_path(dir, "orig.eve"), *closed = t_path(dir, "copy-closed.eve"),
             *open_copy = t_path(dir, "copy-open.eve");
  eve_domain *d = open_path(orig);
  fill_domain(d);
  char *want = dump(d);
  /* copied while the original is open and a read txn is pinned (quiet: no
   * writer), then changed: the copy keeps its snapshot */
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  copy_file(orig, open_copy);
  EVE_OK(eve_txn_end(t));
  eve_atom *c = open_atom(d, "counter");
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  EVE_OK(eve_swap(t, c, inc_fn, NULL, NULL));
  EVE_OK(eve_txn_end(t));
  close_atom(c);
  EVE_OK(eve_close(d));
  check_copy(open_copy, want, "copied while open");

  /* copied after a clean close: complete and exact as it is */
  d = open_path(orig);
  free(want);
  want = dump(d);
  EVE_OK(eve_close(d));
  copy_file(orig, closed);
  d = open_path(closed);
  assert_exact(d, "copied after close, before anything else");
  EVE_OK(eve_close(d));
  check_copy(closed, want, "copied after close");
  free(want);
}

/* ======================================================================= */
/* 8. Short-lived writers: the same work, repeated, must reuse space.      */
/* ======================================================================= */

/* Each round the same thing happens: we pin a read txn, an exec'd writer
 * counts n times and exits (its retirements wait for our pin, so it drops
 * them at detach), we unpin and close (the last detacher recovers them).
 * Every round allocates and frees exactly the same, nothing live grows, so
 * after the first rounds the file must stop growing: the space of earlier
 * rounds is free and must be reused. */
Test(procs, short_lived_writers_reuse_space) {
  enum { ROUNDS = 12 };
  const char *path = t_path(test_dir(), "churn.eve");
  eve_domain *d = open_path(path);
  close_atom(open_atom(d, "counter"));
  EVE_OK(eve_close(d));
  uint64_t n = t_scale(3000), size[ROUNDS + 1] = {0};
  char nbuf[32], sizes[512];
  size_t len = 0;
  snprintf(nbuf, sizeof nbuf, "%llu", (unsigned long long)n);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  cr_assert_geq(devnull, 0);
  for (int r = 1; r <= ROUNDS; r++) {
    eve_txn *t;
    eve_domain_info info;
    d = open_path(path);
    EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
    const char *args[] = {path, "inc", "counter", nbuf, NULL};
    assert_exited_ok(reap(spawn_worker(devnull, args)), "inc worker");
    EVE_OK(eve_txn_end(t));
    EVE_OK(eve_domain_info_get(d, &info));
    EVE_OK(eve_close(d));
    size[r] = info.file_bytes;
    len += (size_t)snprintf(sizes + len, sizeof sizes - len, " %llu", (unsigned long long)size[r]);
  }
  close(devnull);
  d = open_path(path);
  eve_atom *a = open_atom(d, "counter");
  cr_assert_eq(read_counter(d, a), (int64_t)(ROUNDS * n));
  eve_stats st = stats(d);
  assert_exact(d, "after the short-lived writers");
  cr_log_info("short-lived writers (%llu increments each), file bytes after each round:%s; "
              "then live %llu, free %llu",
              (unsigned long long)n, sizes, (unsigned long long)st.live_bytes,
              (unsigned long long)st.free_bytes);
  cr_assert_eq(size[ROUNDS], size[ROUNDS / 2], "the file grew from %llu to %llu bytes between "
               "rounds %d and %d", (unsigned long long)size[ROUNDS / 2],
               (unsigned long long)size[ROUNDS], ROUNDS / 2, ROUNDS);
  close_atom(a);
  EVE_OK(eve_close(d));
}

/* A copy on read-only storage: opened with EVE_OPEN_RDONLY it reads its values,
 * refuses writes, and can be checked (docs/DESIGN.md, "Read-only domains
 * do not pin"). */
Test(procs, read_only_copy_reads_and_checks) {
  const char *dir = test_dir();
  const char *orig = t_path(dir, "orig.eve"), *ro = t_path(dir, "read-only.eve");
  eve_domain *d = open_path(orig);
  fill_domain(d);
  EVE_OK(eve_close(d));
  copy_file(orig, ro);
  cr_assert_eq(chmod(ro, 0400), 0, "chmod: %s", strerror(errno));
  eve_options o = {.flags = EVE_OPEN_RDONLY};
  eve_atom *c;
  eve_txn *t;
  EVE_OK(eve_open(ro, &o, &d));
  EVE_OK(eve_atom_open(d, "counter", 0, &c));
  cr_assert_eq(read_counter(d, c), 100);
  EVE_ERR(eve_txn_begin(d, EVE_TXN_WRITE, &t), EVE_ETXN);
  eve_atom_close(c);
  eve_check_report r;
  int rc = eve_check(d, &r, print_problem, NULL);
  cr_assert_eq(rc, 0, "read-only check: %s", eve_strerror(rc));
  cr_assert_eq(r.leaked_bytes, 0);
  EVE_OK(eve_close(d));
}

/* ---- SIGKILL torture on an in-memory domain shared with forked children ---- */

/* A child of the test process: it inherits the memfd mapping, increments the
 * counter for ever, and writes each value it published to its pipe. */
static void memfd_incrementer(eve_domain *d, eve_atom *a, int fd) {
  for (;;) {
    eve_txn *t;
    eve_val v;
    int64_t n;
    if (eve_txn_begin(d, EVE_TXN_WRITE, &t) != 0) _exit(2);
    if (eve_swap(t, a, inc_fn, NULL, &v) != 0 || eve_int_get(t, v, &n) != 0) _exit(3);
    eve_txn_end(t);
    if (write(fd, &n, sizeof n) != sizeof n) _exit(4);
  }
}

/* Read every value the (now dead) child acknowledged; return the largest. */
static int64_t drain_acks(int fd, uint64_t *count) {
  int64_t n, max = 0;
  while (read(fd, &n, sizeof n) == (ssize_t)sizeof n) {
    if (n > max) max = n;
    (*count)++;
  }
  return max;
}

Test(procs, sigkill_torture_in_memory_shared_with_children) {
  eve_domain *d = t_open_mem();
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "c", EVE_ATOM_CREATE, &a));
  uint64_t rng = t_seed(0xfeed), kills = 0, acked = 0, target = t_scale(200);
  int64_t max_acked = 0;
  while (kills < target) {
    enum { K = 2 };
    pid_t pid[K];
    int fds[K][2];
    for (int k = 0; k < K; k++) {
      cr_assert_eq(pipe(fds[k]), 0);
      pid[k] = fork();
      if (pid[k] == 0) {
        close(fds[k][0]);
        memfd_incrementer(d, a, fds[k][1]);
      }
      track(pid[k]);
      close(fds[k][1]);
    }
    struct timespec nap = {0, (long)(t_below(&rng, 3000) * 1000)}; /* 0-3 ms */
    nanosleep(&nap, NULL);
    for (int k = 0; k < K; k++) { /* kill at a random instant, mid-swap or not */
      kill(pid[k], SIGKILL);
      waitpid(pid[k], NULL, 0);
      untrack(pid[k]);
      int64_t m = drain_acks(fds[k][0], &acked);
      if (m > max_acked) max_acked = m;
      close(fds[k][0]);
      kills++;
    }
    /* no acknowledged swap lost; at most one unacknowledged per killed child */
    eve_txn *t = t_wtxn(d);
    eve_val v;
    int64_t now;
    EVE_OK(eve_deref(t, a, &v));
    if (v != EVE_V_NIL) EVE_OK(eve_int_get(t, v, &now));
    else now = AW_COUNTER_BASE;
    EVE_OK(eve_txn_end(t));
    cr_assert_geq(now, max_acked, "an acknowledged swap was lost");
    cr_assert_leq(now - AW_COUNTER_BASE, (int64_t)(acked + kills),
                  "more swaps landed than were made");
    eve_check_report r;
    EVE_OK(eve_check(d, &r, NULL, NULL));
  }
  /* the dead children's caches and buffers are leaks; the collector (we are
   * the only process attached) returns them */
  eve_gc_report g;
  EVE_OK(eve_gc(d, &g));
  eve_check_report r;
  EVE_OK(eve_check(d, &r, NULL, NULL));
  cr_assert_eq(r.leaked_bytes, 0, "%llu bytes leaked after gc", (unsigned long long)r.leaked_bytes);
  cr_log_info("in-memory torture: %llu kills of forked children, %llu swaps acknowledged, "
              "gc reclaimed %llu bytes",
              (unsigned long long)kills, (unsigned long long)acked,
              (unsigned long long)g.reclaimed_bytes);
  eve_atom_close(a);
  EVE_OK(eve_close(d));
}
