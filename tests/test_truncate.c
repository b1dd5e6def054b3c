/* test_truncate.c — another process truncates the domain file under a
 * reader and a writer: clean errors (EVE_ETRUNC, sticky), never SIGBUS;
 * no swap acknowledged that did not reach the file; nothing more written
 * to it; a reopen refused cleanly.  In-memory domains cannot be shrunk.
 * SIGBUS outside a domain still reaches the program's own handler.
 *
 * The truncating child is waited for before the parent goes on, so every
 * test is deterministic. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commit.h"
#include "region.h"
#include "support.h"

#define KEYS 20000 /* a map of some megabytes: most of it far past page 1 */

static eve_atom *atom(eve_domain *d, const char *name) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  return a;
}

static void key_text(char *buf, size_t n, int i) { snprintf(buf, n, "key-number-%d", i); }

/* A domain file holding a big map in atom "a". */
static eve_domain *big_domain(const char *path, eve_atom **a) {
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  *a = atom(d, "a");
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  for (int i = 0; i < KEYS; i++) {
    char key[32];
    key_text(key, sizeof key, i);
    EVE_OK(eve_string(t, key, strlen(key), &k));
    EVE_OK(eve_int(t, i, &v));
    EVE_OK(eve_map_assoc(t, m, k, v, &m));
  }
  EVE_OK(eve_reset(t, *a, m));
  EVE_OK(eve_txn_end(t));
  return d;
}

/* Another process cuts the file to `size` bytes; returns once it has. */
static void truncate_elsewhere(const char *path, off_t size) {
  pid_t p = fork();
  cr_assert_neq(p, -1);
  if (p == 0) _exit(truncate(path, size) == 0 ? 0 : 1);
  int st;
  cr_assert_eq(waitpid(p, &st, 0), p);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "truncate failed");
}

static off_t file_size(const char *path) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  return st.st_size;
}

/* Every call on a damaged handle says EVE_ETRUNC; closing it works. */
static void assert_sticky_etrunc(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  eve_stats st;
  eve_check_report r;
  eve_gc_report g;
  eve_domain_info info;
  eve_atom *b;
  uint64_t version;
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &t), EVE_ETRUNC);
  EVE_ERR(eve_txn_begin(d, EVE_TXN_WRITE, &t), EVE_ETRUNC);
  EVE_ERR(eve_stats_get(d, &st), EVE_ETRUNC);
  EVE_ERR(eve_check(d, &r, NULL, NULL), EVE_ETRUNC);
  EVE_ERR(eve_gc(d, &g), EVE_ETRUNC);
  EVE_ERR(eve_domain_info_get(d, &info), EVE_ETRUNC);
  EVE_ERR(eve_atom_open(d, "a", 0, &b), EVE_ETRUNC);
  EVE_ERR(eve_atom_open(d, "new", EVE_ATOM_CREATE, &b), EVE_ETRUNC);
  EVE_ERR(eve_atom_remove(d, "a"), EVE_ETRUNC);
  EVE_ERR(eve_atom_version_get(a, &version), EVE_ETRUNC);
  EVE_ERR(eve_wait(a, 0, 10, &version), EVE_ETRUNC);
}

static void reopen_refused(const char *path, int want) {
  eve_domain *d;
  eve_options o = {.flags = EVE_OPEN_EXISTING};
  EVE_ERR(eve_open(path, &o, &d), want);
}

Test(truncate, reader_inside_a_transaction_gets_etrunc_not_sigbus) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "r.eve");
  eve_atom *a;
  eve_domain *d = big_domain(path, &a);
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m, x;
  EVE_OK(eve_deref(t, a, &m));
  EVE_OK(eve_map_get_text(t, m, EVE_STRING, "key-number-7", 12, &x));
  truncate_elsewhere(path, 0); /* everything, header included */
  int rc = 0;
  for (int i = 0; i < KEYS && !rc; i += 97) { /* the first cut page faults */
    char key[32];
    key_text(key, sizeof key, i);
    rc = eve_map_get_text(t, m, EVE_STRING, key, strlen(key), &x);
  }
  EVE_ERR(rc, EVE_ETRUNC);
  EVE_ERR(eve_txn_error(t), EVE_ETRUNC); /* sticky in the transaction */
  EVE_ERR(eve_map_get_text(t, m, EVE_STRING, "key-number-7", 12, &x), EVE_ETRUNC);
  EVE_ERR(eve_txn_end(t), EVE_ETRUNC); /* ended; the domain is gone */
  assert_sticky_etrunc(d, a);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
  cr_assert_eq(file_size(path), 0, "nothing written to the file after the cut");
  reopen_refused(path, EVE_ENOTDOMAIN); /* an empty file is no domain */
  t_rmdir(dir);
}

/* A swap whose root CAS runs after the cut: the atom holds nil (word 0),
 * so the CAS into the zero page that replaced the cell *succeeds*; it
 * published nothing, and the swap must say so. */
static const char *g_cut_path;
static int g_cut_done;

static void cut_before_cas(enum commit_pause point, uint64_t off, int won, void *ctx) {
  (void)off;
  (void)won;
  (void)ctx;
  if (point != PAUSE_BEFORE_CAS || g_cut_done) return;
  g_cut_done = 1;
  truncate_elsewhere(g_cut_path, EVE_HEADER_BYTES); /* the header page survives */
}

static int build_map(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)old;
  (void)arg;
  eve_val k, v;
  int rc = eve_string(t, "a key long enough to be boxed", 29, &k);
  if (!rc) rc = eve_int(t, 42, &v);
  if (!rc) rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, k, v, out);
  return rc;
}

Test(truncate, swap_whose_cas_lands_after_the_cut_is_not_acknowledged) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "w.eve");
  eve_atom *big;
  eve_domain *d = big_domain(path, &big);
  eve_atom *a = atom(d, "fresh"); /* holds nil */
  eve_txn *t = t_wtxn(d);
  g_cut_path = path;
  g_cut_done = 0;
  eve__test_set_commit_pause(cut_before_cas, NULL);
  int rc = eve_swap(t, a, build_map, NULL, NULL);
  eve__test_set_commit_pause(NULL, NULL);
  cr_assert(g_cut_done);
  EVE_ERR(rc, EVE_ETRUNC); /* the old code died of SIGBUS; without the check: 0 */
  EVE_ERR(eve_txn_end(t), EVE_ETRUNC);
  assert_sticky_etrunc(d, a);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_atom_close(big));
  EVE_OK(eve_close(d));
  cr_assert_eq(file_size(path), EVE_HEADER_BYTES, "the file was written after the cut");
  reopen_refused(path, EVE_ETRUNC);
  t_rmdir(dir);
}

/* The reproducer's writer: swaps in a loop while the file is cut. */
static int assoc_one(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  int *i = arg;
  char key[32];
  key_text(key, sizeof key, *i % KEYS);
  eve_val k, v;
  int rc = eve_string(t, key, strlen(key), &k);
  if (!rc) rc = eve_int(t, *i, &v);
  if (!rc) rc = eve_map_assoc(t, old, k, v, out);
  return rc;
}

Test(truncate, writer_swapping_in_a_loop_stops_with_etrunc) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "l.eve");
  eve_atom *a;
  eve_domain *d = big_domain(path, &a);
  int rc = 0, i;
  for (i = 0; i < 100 && !rc; i++) {
    if (i == 50) truncate_elsewhere(path, 1 << 20); /* keeps a megabyte */
    eve_txn *t;
    rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
    if (rc) break;
    rc = eve_swap(t, a, assoc_one, &i, NULL);
    int crc = eve_txn_end(t);
    if (!rc) rc = crc;
  }
  cr_assert_gt(i, 50, "swaps before the cut work");
  EVE_ERR(rc, EVE_ETRUNC);
  assert_sticky_etrunc(d, a);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
  cr_assert_eq(file_size(path), 1 << 20);
  reopen_refused(path, EVE_ETRUNC);
  t_rmdir(dir);
}

/* ---- in-memory domains ----------------------------------------------------- */

Test(truncate, in_memory_domain_cannot_be_shrunk_through_proc) {
  eve_domain *d = t_open_mem();
  eve_atom *a = atom(d, "a");
  eve_txn *t = t_wtxn(d);
  eve_val s;
  EVE_OK(eve_string(t, "a string long enough to be boxed", 32, &s));
  EVE_OK(eve_reset(t, a, s));
  EVE_OK(eve_txn_end(t));
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%d/fd/%d", (int)getpid(), d->fd);
  pid_t p = fork();
  if (p == 0) { /* another process, through /proc, as a stray tool would */
    int fd = open(proc, O_RDWR);
    if (fd < 0) _exit(2);
    _exit(ftruncate(fd, 0) == 0 ? 1 : 0);
  }
  int st;
  cr_assert_eq(waitpid(p, &st, 0), p);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the memfd could be shrunk (status %#x)", st);
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v;
  const char *text;
  size_t n;
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_text_get(t, &v, &text, &n));
  cr_assert_eq(n, 32);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
}

/* ---- SIGBUS that is not ours ------------------------------------------------- */

static sigjmp_buf g_jump;
static volatile sig_atomic_t g_caught;

static void own_handler(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  g_caught = si->si_code > 0 ? 2 : 1; /* a fault, or a kill */
  if (si->si_code > 0) siglongjmp(g_jump, 1); /* returning would fault again */
}

Test(truncate, sigbus_outside_a_domain_reaches_the_programs_own_handler) {
  struct sigaction sa = {0};
  sa.sa_sigaction = own_handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  cr_assert_eq(sigaction(SIGBUS, &sa, NULL), 0);
  eve_domain *d = t_open_mem(); /* installs the library's handler on top */
  raise(SIGBUS);
  cr_assert_eq(g_caught, 1, "a raised SIGBUS was not passed on");
  /* a real fault on a mapping of our own, cut short */
  char *dir = t_tmpdir();
  char *path = t_path(dir, "mine");
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  cr_assert(fd >= 0);
  cr_assert_eq(ftruncate(fd, 2 * 4096), 0);
  volatile char *p = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  cr_assert_neq((void *)p, MAP_FAILED);
  cr_assert_eq(ftruncate(fd, 0), 0);
  g_caught = 0;
  if (sigsetjmp(g_jump, 1) == 0) (void)p[4096];
  cr_assert_eq(g_caught, 2, "a fault outside every domain was not passed on");
  munmap((void *)p, 2 * 4096);
  close(fd);
  t_rmdir(dir);
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st)); /* the domain did not notice */
  EVE_OK(eve_close(d));
}
