/* test_repair.c — a process killed in the middle of a commit, while another
 * process stays attached: the survivor finishes or undoes what the dead one
 * left half-done (epoch.c, "repairing dead processes"; commit.c,
 * "journals"), with no exclusive collection.
 *
 * Each test forks a child that opens the domain itself and runs one swap;
 * the commit's test pause hook stops it at a chosen point, the child tells
 * the parent through a pipe, and the parent kills it with SIGKILL.  The
 * parent stayed attached all along (so no recovery by a last detacher can
 * run) and then checks: the atom holds the old or the new value as the
 * kill point decides, the checker finds no problem and no excess owner
 * (counts raised by the dead commit were given back, owners it still had
 * to take were taken), and what the dead commit retired is freed. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "commit.h"
#include "support.h"

static char g_dir[64];
static pid_t g_child;

static void cleanup(void) {
  if (g_child > 0) {
    kill(g_child, SIGKILL);
    waitpid(g_child, NULL, 0);
    g_child = 0;
  }
  if (g_dir[0]) t_rmdir(g_dir);
  g_dir[0] = 0;
}

TestSuite(repair, .fini = cleanup);

static const char *domain_path(void) {
  if (!g_dir[0]) snprintf(g_dir, sizeof g_dir, "%s", t_tmpdir());
  return t_path(g_dir, "repair.eve");
}

/* ---- the child -------------------------------------------------------------- */

typedef struct stop_at {
  enum commit_pause point;
  int nth;      /* stop at the nth time the point is reached (1 = first) */
  int fd;       /* tell the parent here, then wait to be killed */
} stop_at;

static stop_at g_stop;
static int g_seen;

static void stop_hook(enum commit_pause p, uint64_t off, int won, void *ctx) {
  (void)off;
  (void)won;
  (void)ctx;
  if (p != g_stop.point || ++g_seen != g_stop.nth) return;
  char c = 'k';
  if (write(g_stop.fd, &c, 1) != 1) _exit(90);
  for (;;) pause(); /* the parent's SIGKILL lands here, mid-commit */
}

typedef enum op { OP_SNAP, OP_REPLACE } op;

static int snap_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)old;
  eve_atom *src = arg;
  eve_val v, k;
  int rc;
  if ((rc = eve_deref(t, src, &v)) || (rc = eve_keyword(t, "snap", 4, &k))) return rc;
  return eve_map_assoc(t, EVE_V_EMPTY_MAP, k, v, out);
}

static int replace_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)old;
  const char *edn = arg;
  return eve_read_edn(t, edn, strlen(edn), out, NULL);
}

typedef struct job {
  const char *path;
  op what;
  stop_at stop;
} job;

/* In the child: swap b (snapshot a into it, or replace it), stopping where
 * told.  Returns only if the stop point was never reached. */
static int child_main(const job *j) {
  eve_domain *d;
  eve_atom *a, *b;
  if (eve_open(j->path, NULL, &d) || eve_atom_open(d, "a", 0, &a) || eve_atom_open(d, "b", 0, &b))
    return 10;
  g_stop = j->stop;
  eve__test_set_commit_pause(stop_hook, NULL);
  eve_txn *t;
  if (eve_txn_begin(d, EVE_TXN_WRITE, &t)) return 11;
  int rc = j->what == OP_SNAP ? eve_swap(t, b, snap_fn, a, NULL)
                              : eve_swap(t, b, replace_fn, (void *)"{:new \"b's new value\"}", NULL);
  return rc ? 12 : 13; /* finished: the stop was never reached */
}

/* Fork the child, wait until it stops at its point, kill it there. */
static void kill_child_at(const job *j) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  fflush(NULL);
  pid_t parent = getpid();
  g_child = fork();
  cr_assert_neq(g_child, -1);
  if (g_child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    close(p[0]);
    job mine = *j;
    mine.stop.fd = p[1];
    _exit(child_main(&mine));
  }
  close(p[1]);
  char c;
  ssize_t n = read(p[0], &c, 1);
  close(p[0]);
  int status;
  if (n != 1) {
    waitpid(g_child, &status, 0);
    g_child = 0;
    cr_assert_fail("the child never stopped (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  kill(g_child, SIGKILL);
  waitpid(g_child, &status, 0);
  g_child = 0;
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- the parent's view ------------------------------------------------------ */

#define A_EDN "{:a \"a's value, long enough to be a block\" :v [1 2 3]}"
#define B_EDN "{:old \"b's old value, long enough to be a block\"}"

typedef struct world {
  eve_domain *d;
  eve_atom *a, *b;
  eve_val a_root, b_root;
} world;

static eve_val set_edn(eve_domain *d, eve_atom *x, const char *edn) {
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_read_edn(t, edn, strlen(edn), &v, NULL));
  EVE_OK(eve_reset(t, x, v));
  EVE_OK(eve_deref(t, x, &v));
  EVE_OK(eve_txn_end(t));
  return v;
}

/* A holds A_EDN; B holds B_EDN, or @A when b_shares (A's value then has two
 * owners). */
static world world_new(int b_shares) {
  world w;
  EVE_OK(eve_open(domain_path(), NULL, &w.d));
  EVE_OK(eve_atom_open(w.d, "a", EVE_ATOM_CREATE, &w.a));
  EVE_OK(eve_atom_open(w.d, "b", EVE_ATOM_CREATE, &w.b));
  w.a_root = set_edn(w.d, w.a, A_EDN);
  if (b_shares) {
    eve_txn *t = t_wtxn(w.d);
    EVE_OK(eve_reset(t, w.b, w.a_root));
    EVE_OK(eve_txn_end(t));
    w.b_root = w.a_root;
  } else {
    w.b_root = set_edn(w.d, w.b, B_EDN);
  }
  return w;
}

static void world_close(world *w) {
  eve_atom_close(w->a);
  eve_atom_close(w->b);
  EVE_OK(eve_close(w->d));
}

static uint64_t meta_of(world *w, uint64_t off) {
  return atomic_load(&((blk *)((uint8_t *)w->d->hdr + off))->meta);
}

static void print_finding(void *ctx, const char *msg) {
  (void)ctx;
  cr_log_error("%s", msg);
}

/* The survivor's view after the kill: a check (which repairs dead processes
 * first) finds the domain sound, with verified counts and no excess owner. */
static void assert_repaired(world *w, const char *when) {
  eve_stats st;
  EVE_OK(eve_stats_get(w->d, &st)); /* repairs, then frees what it may */
  EVE_OK(eve_stats_get(w->d, &st));
  eve_check_report r;
  int rc = eve_check(w->d, &r, print_finding, NULL);
  cr_assert_eq(rc, 0, "%s: check: %s (%llu problems)", when, eve_strerror(rc),
               (unsigned long long)r.problems);
  cr_assert(r.settled, "%s: counts not verified", when);
  cr_assert_eq(r.excess_owners, 0, "%s: %llu blocks count owners they do not have", when,
               (unsigned long long)r.excess_owners);
}

static void assert_holds(world *w, eve_atom *x, const char *edn, const char *when) {
  eve_txn *t = t_wtxn(w->d);
  eve_val got, want;
  int eq = 0;
  EVE_OK(eve_deref(t, x, &got));
  EVE_OK(eve_read_edn(t, edn, strlen(edn), &want, NULL));
  EVE_OK(eve_equal(t, got, want, &eq));
  cr_assert(eq, "%s: holds %s, expected %s", when, t_edn(t, got), edn);
  EVE_OK(eve_txn_end(t));
}

/* After the survivor closes, the last detacher's collection may return the
 * dead child's private leftovers; reopened, the domain is exact. */
static void assert_exact_after_reopen(world *w) {
  world_close(w);
  eve_domain *d;
  EVE_OK(eve_open(domain_path(), NULL, &d));
  eve_check_report r;
  EVE_OK(eve_check(d, &r, print_finding, NULL));
  cr_assert(r.settled && r.excess_owners == 0 && r.leaked_bytes == 0,
            "reopened: %llu excess owners, %llu bytes leaked", (unsigned long long)r.excess_owners,
            (unsigned long long)r.leaked_bytes);
  EVE_OK(eve_close(d));
}

/* ---- the kill points -------------------------------------------------------- */

/* Killed right after adopting A's value into B's new version (its count
 * raised), before the root CAS: nothing was published, so the survivor
 * gives the owner back. */
Test(repair, killed_after_an_adoption_gives_the_owner_back) {
  world w = world_new(0);
  job j = {domain_path(), OP_SNAP, {PAUSE_AFTER_ADOPT, 1, -1}};
  kill_child_at(&j);
  cr_assert(META_SHARED(meta_of(&w, w.a_root)) && META_COUNT(meta_of(&w, w.a_root)) == 2,
            "the dead commit raised A's value to two owners");
  assert_repaired(&w, "killed after an adoption");
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 1, "the raised owner was given back");
  assert_holds(&w, w.b, B_EDN, "B is unchanged");
  assert_exact_after_reopen(&w);
}

/* Killed just before the root CAS (the journal ARMED, the fresh root marked
 * UNCONFIRMED and not the root word): decided not published. */
Test(repair, killed_before_the_root_cas_is_not_published) {
  world w = world_new(0);
  job j = {domain_path(), OP_SNAP, {PAUSE_BEFORE_CAS, 1, -1}};
  kill_child_at(&j);
  assert_repaired(&w, "killed before the root CAS");
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 1);
  assert_holds(&w, w.b, B_EDN, "B is unchanged");
  assert_exact_after_reopen(&w);
}

/* Killed just after a winning root CAS, before it wrote WON: the fresh root
 * is still marked and is the root word, so it was published; B's old value,
 * doomed and pending in the dead process's log, is retired by the survivor
 * and freed. */
Test(repair, killed_after_the_root_cas_is_published_and_its_garbage_freed) {
  world w = world_new(0);
  job j = {domain_path(), OP_SNAP, {PAUSE_AFTER_CAS, 1, -1}};
  kill_child_at(&j);
  assert_repaired(&w, "killed after the root CAS");
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 2, "A's value is in B's new version too");
  assert_holds(&w, w.b, "{:snap " A_EDN "}", "B holds the snapshot");
  cr_assert_eq(META_STATE(meta_of(&w, w.b_root)), BLK_FREE, "B's old value was freed");
  assert_exact_after_reopen(&w);
}

/* Killed after winning, before taking the owner it dropped (A and B shared
 * one value; B is replaced): the survivor takes it. */
Test(repair, killed_before_its_drops_the_survivor_takes_the_owner) {
  world w = world_new(1);
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 2);
  job j = {domain_path(), OP_REPLACE, {PAUSE_BEFORE_DROP, 1, -1}};
  kill_child_at(&j);
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 2, "the dead commit had not taken its owner");
  assert_repaired(&w, "killed before its drops");
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 1, "the survivor took B's owner");
  assert_holds(&w, w.b, "{:new \"b's new value\"}", "B holds the new value");
  assert_holds(&w, w.a, A_EDN, "A is intact");
  assert_exact_after_reopen(&w);
}

/* Killed after dooming B's old value, before the CAS: its doom stays (a
 * doomed block that lives only costs an adopter a copy), its pending
 * retirement is dropped, and B's old value stays readable. */
Test(repair, killed_after_a_doom_keeps_the_doomed_value) {
  world w = world_new(0);
  job j = {domain_path(), OP_REPLACE, {PAUSE_AFTER_DOOM, 1, -1}};
  kill_child_at(&j);
  assert_repaired(&w, "killed after a doom");
  assert_holds(&w, w.b, B_EDN, "B still holds its old value");
  /* a later swap of B by the survivor retires it for real */
  set_edn(w.d, w.b, "{:later 1}");
  assert_repaired(&w, "B replaced by the survivor");
  cr_assert_eq(META_STATE(meta_of(&w, w.b_root)), BLK_FREE, "B's old value was freed");
  assert_exact_after_reopen(&w);
}

/* Finding 6 of the report: after a lone writer was killed, the next open
 * ran no recovery (and an open that did ran a whole collection, blocking
 * other processes).  Here nobody else is attached when the child dies in
 * the middle of an adoption; the next process to open repairs it as it
 * attaches, online, and eve_open itself runs no collection. */
Test(repair, a_lone_writer_killed_is_repaired_by_the_next_opener) {
  world w = world_new(0);
  eve_val a_root = w.a_root;
  world_close(&w); /* nobody attached while the child works and dies */
  job j = {domain_path(), OP_SNAP, {PAUSE_AFTER_ADOPT, 1, -1}};
  kill_child_at(&j);
  EVE_OK(eve_open(domain_path(), NULL, &w.d));
  EVE_OK(eve_atom_open(w.d, "a", 0, &w.a));
  EVE_OK(eve_atom_open(w.d, "b", 0, &w.b));
  w.a_root = a_root;
  assert_repaired(&w, "the next opener");
  cr_assert_eq(META_COUNT(meta_of(&w, w.a_root)), 1, "the dead commit's owner was given back");
  assert_holds(&w, w.b, B_EDN, "B is unchanged");
  /* the child's private leftovers (its chunk, its fresh blocks) are still
   * there: the repair was online, no collection ran in eve_open */
  eve_check_report r;
  EVE_OK(eve_check(w.d, &r, NULL, NULL));
  cr_assert_gt(r.leaked_bytes, 0, "eve_open ran a collection");
  assert_exact_after_reopen(&w);
}
