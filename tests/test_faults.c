/* test_faults.c — the environment failing under a domain: a full disk,
 * every reader slot taken, a reader that never lets go (or dies holding
 * its pin), the file overwritten by another program while mapped,
 * permissions, and a file from a future version.
 *
 * What each test proves is stated above it; docs/RELIABILITY.md maps the
 * guarantees of eve.h and the design to these tests.  Tests that need root
 * (a tmpfs mount, switching to an unprivileged user) skip with a message
 * saying so when they cannot have it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz/exercise.h"
#include "region.h"
#include "support.h"

/* ---- helpers ------------------------------------------------------------------ */

static eve_domain *open_path(const char *path) {
  eve_domain *d = NULL;
  EVE_OK(eve_open(path, NULL, &d));
  return d;
}

static eve_atom *atom(eve_domain *d, const char *name) {
  eve_atom *a = NULL;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  return a;
}

static eve_val edn(eve_txn *t, const char *text) {
  eve_val v;
  EVE_OK(eve_read_edn(t, text, strlen(text), &v, NULL));
  return v;
}

/* Set atom `name` to the EDN text, in a transaction of its own. */
static void set_edn(eve_domain *d, const char *name, const char *text) {
  eve_atom *a = atom(d, name);
  eve_txn *t = t_wtxn(d);
  EVE_OK(eve_reset(t, a, edn(t, text)));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_atom_close(a));
}

/* The EDN text of atom `name` (malloc'd), or NULL with *rc set. */
static char *get_edn(eve_domain *d, const char *name, int *rc) {
  eve_atom *a = NULL;
  eve_txn *t = NULL;
  eve_val v;
  char *s = NULL;
  *rc = eve_atom_open(d, name, 0, &a);
  if (!*rc) *rc = eve_txn_begin(d, EVE_TXN_READ, &t);
  if (!*rc) *rc = eve_deref(t, a, &v);
  if (!*rc) *rc = eve_print_edn(t, v, &s, NULL);
  if (t) eve_txn_end(t);
  if (a) eve_atom_close(a);
  return s;
}

static void write_file(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, p, n), (ssize_t)n);
  close(fd);
}

/* The eve CLI built beside this test binary, or NULL. */
static const char *cli_path(void) {
  static char path[PATH_MAX];
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return NULL;
  self[n] = 0;
  snprintf(path, sizeof path, "%.*s/eve", (int)(sizeof path - 8), dirname(self));
  return access(path, X_OK) == 0 ? path : NULL;
}

typedef struct cli_run {
  int status;       /* exit status, or 128 + signal */
  char out[4096], err[4096];
} cli_run;

static void read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY);
  ssize_t got = fd >= 0 ? read(fd, buf, n - 1) : 0;
  buf[got > 0 ? got : 0] = 0;
  if (fd >= 0) close(fd);
}

/* Run the CLI with argv (NULL-terminated, argv[0] ignored), output captured
 * in files of scratch directory dir. */
static void run_cli(const char *cli, const char *dir, char *const argv[], cli_run *r) {
  char *out = strdup(t_path(dir, "cli.out")), *err = strdup(t_path(dir, "cli.err"));
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
    alarm(60); /* survives exec: a hung CLI is killed */
    execv(cli, argv);
    _exit(127);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  read_small(out, r->out, sizeof r->out);
  read_small(err, r->err, sizeof r->err);
  free(out);
  free(err);
}

/* The CLI's error convention (cli.h): exit 1, exactly one line on stderr
 * starting "eve: ", and it names the cause. */
static void expect_cli_error(const cli_run *r, const char *what, const char *cause) {
  size_t len = strlen(r->err);
  cr_assert_eq(r->status, 1, "%s: exit %d, stderr '%s'", what, r->status, r->err);
  cr_assert(strncmp(r->err, "eve: ", 5) == 0, "%s: stderr '%s'", what, r->err);
  cr_assert(len > 0 && r->err[len - 1] == '\n' && !memchr(r->err, '\n', len - 1),
            "%s: one line on stderr: '%s'", what, r->err);
  cr_assert_not_null(strstr(r->err, cause), "%s: '%s' does not name %s", what, r->err, cause);
}

/* ---- a full disk ------------------------------------------------------------------ */

#define FILL_ATOMS 6
#define FILL_TEXT 3000 /* bytes per string: blocks of a large size class */

/* The string appended to atom i in round r: its content names both. */
static void fill_text(char *buf, unsigned i, unsigned r) {
  memset(buf, 'a' + (char)(r % 26), FILL_TEXT);
  snprintf(buf, 40, "atom %u round %u:", i, r);
  buf[strlen(buf)] = ' ';
}

typedef struct fill_arg { unsigned atom, round; } fill_arg;

static int append_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  const fill_arg *f = arg;
  char buf[FILL_TEXT];
  eve_val s;
  fill_text(buf, f->atom, f->round);
  int rc = eve_string(t, buf, sizeof buf, &s);
  if (!rc) rc = eve_vec_conj(t, old == EVE_V_NIL ? EVE_V_EMPTY_VECTOR : old, s, out);
  return rc;
}

/* Swap-append to the atoms round-robin until the API reports a full disk.
 * Returns the number of committed rounds; rounds[i] counts atom i's. */
static unsigned fill_until_enospc(eve_domain *d, unsigned *rounds, int *last_rc) {
  eve_atom *a[FILL_ATOMS];
  char name[16];
  for (unsigned i = 0; i < FILL_ATOMS; i++) {
    snprintf(name, sizeof name, "a%u", i);
    a[i] = atom(d, name);
  }
  unsigned done = 0;
  for (unsigned r = 0;; r++) {
    unsigned i = r % FILL_ATOMS;
    fill_arg f = {i, rounds[i]};
    eve_txn *t = t_wtxn(d);
    int rc = eve_swap(t, a[i], append_fn, &f, NULL);
    int crc = eve_txn_end(t);
    if (rc || crc) {
      *last_rc = rc ? rc : crc;
      break;
    }
    rounds[i]++;
    done++;
    cr_assert_lt(done, 100000, "16 MiB never filled up");
  }
  for (unsigned i = 0; i < FILL_ATOMS; i++) EVE_OK(eve_atom_close(a[i]));
  return done;
}

/* Every committed round is there, in order, byte for byte. */
static void verify_fill(eve_domain *d, const unsigned *rounds) {
  char name[16], want[FILL_TEXT];
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  for (unsigned i = 0; i < FILL_ATOMS; i++) {
    eve_atom *a;
    eve_val v, s;
    uint64_t n;
    snprintf(name, sizeof name, "a%u", i);
    EVE_OK(eve_atom_open(d, name, 0, &a));
    EVE_OK(eve_deref(t, a, &v));
    EVE_OK(eve_count(t, v, &n));
    cr_assert_eq(n, rounds[i], "atom %s: %llu strings, %u committed", name, (unsigned long long)n, rounds[i]);
    for (unsigned r = 0; r < rounds[i]; r++) {
      const char *p;
      size_t len;
      EVE_OK(eve_vec_nth(t, v, r, &s));
      EVE_OK(eve_text_get(t, &s, &p, &len));
      fill_text(want, i, r);
      cr_assert(len == FILL_TEXT && memcmp(p, want, len) == 0, "atom %s round %u differs", name, r);
    }
    EVE_OK(eve_atom_close(a));
  }
  EVE_OK(eve_txn_end(t));
}

static void cli_on_full_disk(const char *path) {
  const char *cli = cli_path();
  if (!cli) {
    cr_log_info("disk full: no CLI beside the test binary; its part is skipped");
    return;
  }
  char *scratch = t_tmpdir(); /* not on the full tmpfs */
  char *big = strdup(t_path(scratch, "big.edn"));
  size_t n = 4u << 20;
  char *text = malloc(n + 32);
  cr_assert_not_null(text);
  strcpy(text, "{\"huge\" \"");
  memset(text + 9, 'z', n);
  strcpy(text + 9 + n, "\"}");
  write_file(big, text, strlen(text));
  free(text);
  cli_run r;
  char *imp[] = {"eve", "import", (char *)path, big, NULL};
  run_cli(cli, scratch, imp, &r);
  expect_cli_error(&r, "eve import on a full disk", "EVE_ENOSPC");
  char *get[] = {"eve", "get", (char *)path, "a0", NULL};
  run_cli(cli, scratch, get, &r);
  cr_assert_eq(r.status, 0, "eve get on a full disk: exit %d: %s", r.status, r.err);
  char *chk[] = {"eve", "check", (char *)path, NULL};
  run_cli(cli, scratch, chk, &r);
  cr_assert_eq(r.status, 0, "eve check on a full disk: exit %d: %s %s", r.status, r.out, r.err);
  free(big);
  t_rmdir(scratch);
}

/* The mount, undone even when an assertion ends the test early. */
static char g_mounted[64];

static void unmount_full_disk(void) {
  if (g_mounted[0] && umount2(g_mounted, MNT_DETACH) == 0) t_rmdir(g_mounted);
  g_mounted[0] = 0;
}

/* docs/RELIABILITY.md, "The domain file" and "Errors": growth reserves
 * real blocks with fallocate, so a full disk is EVE_ENOSPC from the call
 * that needed the space — no SIGBUS later (this process would die) — and nothing committed is lost. */
Test(faults, disk_full_is_enospc_and_keeps_committed_values, .timeout = 300,
     .fini = unmount_full_disk) {
  char *dir = t_tmpdir();
  if (mount("tmpfs", dir, "tmpfs", 0, "size=16m") != 0) {
    int e = errno;
    t_rmdir(dir);
    cr_skip_test("cannot mount a 16 MiB tmpfs (%s): the full-disk test needs root", strerror(e));
  }
  snprintf(g_mounted, sizeof g_mounted, "%s", dir);
  char *path = t_path(dir, "full.eve");
  eve_domain *d = open_path(path);
  unsigned rounds[FILL_ATOMS] = {0};
  int rc = 0;
  unsigned done = fill_until_enospc(d, rounds, &rc);
  cr_assert_eq(rc, EVE_ENOSPC, "filling stopped with %s after %u commits", eve_err_name(rc), done);
  cr_assert_gt(done, 1000, "16 MiB holds more than %u strings of %d bytes", done, FILL_TEXT);
  /* still full: the same request fails the same way, and reads still work */
  unsigned again[FILL_ATOMS];
  memcpy(again, rounds, sizeof again);
  cr_assert_eq(fill_until_enospc(d, again, &rc), 0);
  cr_assert_eq(rc, EVE_ENOSPC);
  verify_fill(d, rounds);
  EVE_OK(eve_close(d));
  /* a fresh process's view: reopen, every committed value intact, sound */
  d = open_path(path);
  verify_fill(d, rounds);
  eve_check_report rep;
  EVE_OK(eve_check(d, &rep, NULL, NULL));
  cr_log_info("disk full: %u commits of %d-byte strings before EVE_ENOSPC; check: %llu blocks, "
              "leaked %llu bytes", done, FILL_TEXT, (unsigned long long)rep.blocks,
              (unsigned long long)rep.leaked_bytes);
  EVE_OK(eve_close(d));
  cli_on_full_disk(path);
  cr_assert_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
  g_mounted[0] = 0;
  t_rmdir(dir);
}

/* ---- reader slots -------------------------------------------------------------------- */

#define SLOTS 128 /* eve.h: 128 per domain */

/* eve.h: EVE_ESLOTS when every slot holds a live transaction; a slot is
 * usable again as soon as one ends. */
Test(faults, reader_slots_exhaust_then_recover) {
  char *dir = t_tmpdir();
  eve_domain *d = open_path(t_path(dir, "slots.eve"));
  eve_txn *t[SLOTS], *extra;
  for (int i = 0; i < SLOTS; i++) EVE_OK(eve_txn_begin(d, i % 2 ? EVE_TXN_WRITE : EVE_TXN_READ, &t[i]));
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &extra), EVE_ESLOTS);
  EVE_ERR(eve_txn_begin(d, EVE_TXN_WRITE, &extra), EVE_ESLOTS);
  /* stats are what a user runs to see who holds the slots: they must not
   * need one themselves */
  eve_stats st;
  int src = eve_stats_get(d, &st);
  cr_expect_eq(src, 0, "eve_stats_get with every slot taken -> %s", eve_err_name(src));
  cr_expect(src || st.readers == SLOTS, "readers %llu", (unsigned long long)st.readers);
  eve_atom *a;
  EVE_ERR(eve_atom_open(d, "x", EVE_ATOM_CREATE, &a), EVE_ESLOTS); /* an atom open needs one */
  EVE_OK(eve_txn_end(t[17]));
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t[17]));
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &extra), EVE_ESLOTS);
  for (int i = 0; i < SLOTS; i++) EVE_OK(eve_txn_end(t[i]));
  set_edn(d, "x", "[1 2 3]"); /* everything works again */
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_eq(st.readers, 0);
  EVE_OK(eve_check(d, NULL, NULL, NULL));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

/* A child takes every slot, then is killed (SIGKILL: no cleanup).  Its
 * slots are reclaimed once the kernel has dropped its liveness lock. */
Test(faults, slots_of_a_killed_process_are_reclaimed) {
  char *dir = t_tmpdir(), *path = t_path(dir, "dead.eve");
  eve_domain *d = open_path(path);
  set_edn(d, "x", "{:a 1}");
  int ready[2];
  cr_assert_eq(pipe(ready), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    eve_domain *cd;
    eve_txn *t;
    int n = 0;
    alarm(120); /* never outlive a failed test */
    if (eve_open(path, NULL, &cd) == 0)
      while (eve_txn_begin(cd, EVE_TXN_READ, &t) == 0) n++;
    if (write(ready[1], &n, sizeof n) != sizeof n) _exit(1);
    pause();
    _exit(0);
  }
  int n = 0;
  cr_assert_eq(read(ready[0], &n, sizeof n), (ssize_t)sizeof n);
  cr_assert_eq(n, SLOTS, "the child took %d slots", n);
  eve_txn *t;
  EVE_ERR(eve_txn_begin(d, EVE_TXN_READ, &t), EVE_ESLOTS);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  EVE_OK(eve_txn_end(t));
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st));
  cr_assert_eq(st.readers, 0, "a dead process's pins are not counted (%llu)", (unsigned long long)st.readers);
  set_edn(d, "x", "{:a 2}");
  EVE_OK(eve_check(d, NULL, NULL, NULL));
  EVE_OK(eve_close(d));
  close(ready[0]);
  close(ready[1]);
  t_rmdir(dir);
}

/* ---- a long-pinned reader -------------------------------------------------------------------- */

/* A child pins the domain (a read transaction holding atom m's value) and
 * waits for a byte on `release`; it signals `ready` once pinned. */
static pid_t pinned_reader(const char *path, const int ready[2], const int release[2]) {
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid != 0) return pid;
  alarm(120); /* never outlive a failed test */
  close(ready[0]);
  close(release[1]); /* so that the parent's exit is an EOF here */
  eve_domain *d;
  eve_txn *t;
  eve_atom *a;
  eve_val v;
  char c = 1;
  if (eve_open(path, NULL, &d) || eve_txn_begin(d, EVE_TXN_READ, &t) ||
      eve_atom_open(d, "m", 0, &a) || eve_deref(t, a, &v))
    _exit(2);
  if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) != 1) _exit(3);
  eve_txn_end(t);
  eve_atom_close(a);
  eve_close(d);
  _exit(0);
}

typedef struct key_arg { int64_t k; } key_arg;

static int assoc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  eve_val k;
  int rc = eve_int(t, ((const key_arg *)arg)->k, &k);
  return rc ? rc : eve_map_assoc(t, old, k, k, out);
}

static void swaps(eve_domain *d, eve_atom *a, int64_t from, int64_t n) {
  for (int64_t i = from; i < from + n; i++) {
    key_arg k = {i};
    eve_txn *t = t_wtxn(d);
    EVE_OK(eve_swap(t, a, assoc_fn, &k, NULL));
    EVE_OK(eve_txn_end(t));
  }
}

static void pinned_reader_case(int kill_it) {
  char *dir = t_tmpdir(), *path = t_path(dir, "pin.eve");
  eve_domain *d = open_path(path);
  eve_atom *a = atom(d, "m");
  swaps(d, a, 0, 200); /* a map of 200 keys: each swap copies a path */
  int ready[2], release[2];
  cr_assert(pipe(ready) == 0 && pipe(release) == 0);
  pid_t pid = pinned_reader(path, ready, release);
  char c;
  cr_assert_eq(read(ready[0], &c, 1), 1, "the reader pinned");
  usleep(50 * 1000); /* the pin's age is measured with a coarse clock */
  eve_stats st0, st1, st2;
  swaps(d, a, 200, 20);
  EVE_OK(eve_stats_get(d, &st0));
  swaps(d, a, 220, 400);
  EVE_OK(eve_stats_get(d, &st1));
  cr_assert_geq(st1.readers, 1);
  cr_assert_geq(st1.oldest_pin_ms, 25, "oldest pin %llu ms", (unsigned long long)st1.oldest_pin_ms);
  cr_assert_eq(st1.oldest_pin_pid, pid, "the oldest pin is the reader's (%lld)", (long long)st1.oldest_pin_pid);
  cr_assert_gt(st0.retired_bytes, 0, "retired bytes wait for the reader");
  cr_assert_gt(st1.retired_bytes, st0.retired_bytes + 100 * 64,
               "retired bytes grow while the reader holds its pin: %llu then %llu",
               (unsigned long long)st0.retired_bytes, (unsigned long long)st1.retired_bytes);
  if (kill_it) kill(pid, SIGKILL);
  else cr_assert_eq(write(release[1], "x", 1), 1);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(kill_it || (WIFEXITED(status) && WEXITSTATUS(status) == 0), "the reader failed");
  EVE_OK(eve_stats_get(d, &st2)); /* reclaims what the grace period allows */
  cr_assert_eq(st2.readers, 0);
  cr_assert_eq(st2.retired_bytes, 0, "reclamation resumed: %llu bytes still retired",
               (unsigned long long)st2.retired_bytes);
  eve_check_report rep;
  EVE_OK(eve_check(d, &rep, NULL, NULL));
  cr_assert_eq(rep.leaked_bytes, 0, "reclamation is exact: %llu bytes leaked", (unsigned long long)rep.leaked_bytes);
  cr_log_info("pinned reader (%s): retired bytes %llu after 20 swaps, %llu after 420, %llu once it "
              "%s; oldest pin %llu ms", kill_it ? "killed" : "released",
              (unsigned long long)st0.retired_bytes, (unsigned long long)st1.retired_bytes,
              (unsigned long long)st2.retired_bytes, kill_it ? "died" : "ended",
              (unsigned long long)st1.oldest_pin_ms);
  EVE_OK(eve_atom_close(a));
  EVE_OK(eve_close(d));
  for (int i = 0; i < 2; i++) close(ready[i]), close(release[i]);
  t_rmdir(dir);
}

/* eve.h: a long transaction holds back reclamation for everyone, and
 * eve_stats_get shows it (readers, oldest pin's age and process); when it
 * ends, reclamation resumes and is exact. */
Test(faults, long_pinned_reader_holds_back_then_releases_reclamation) { pinned_reader_case(0); }

/* The same reader killed while pinned: its pin stops counting (liveness
 * from the kernel's lock, docs/RELIABILITY.md, "Reclamation and readers"). */
Test(faults, killed_pinned_reader_releases_reclamation) { pinned_reader_case(1); }

/* ---- the file overwritten by another program while mapped ------------------------------ */

static void build_for_overwrite(eve_domain *d) {
  eve_atom *a = atom(d, "m");
  swaps(d, a, 0, 300);
  EVE_OK(eve_atom_close(a));
  set_edn(d, "v", "[1 2 3 [4 5 [6 7 \"a string longer than seven\"]] #{:a :b} (1 2 3) {:k [1.5 2.5]}]");
  set_edn(d, "s", "#{\"one string of some length\" \"two strings of some length\" 3 4 5 6 7 8 9}");
  set_edn(d, "l", "(1 (2 (3 (4 (5)))) \"x\" :y z)");
}

/* Another process (a child that opens the file itself) writes random bytes
 * over the heap, in place: pwrite, same size, no truncation. */
static void overwrite_heap(const char *path, uint64_t seed, int whole) {
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int fd = open(path, O_WRONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) _exit(1);
    uint64_t rng = seed;
    uint8_t buf[4096];
    uint64_t start = 16384, end = (uint64_t)st.st_size; /* heap_start of format 1 */
    for (int k = 0; whole ? start < end : k < 24; k++) {
      uint64_t at = whole ? start : start + t_below(&rng, end - start);
      size_t len = (size_t)(whole ? sizeof buf : 1 + t_below(&rng, sizeof buf));
      if (at + len > end) len = (size_t)(end - at);
      for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)t_rand(&rng);
      if (pwrite(fd, buf, len, (off_t)at) != (ssize_t)len) _exit(2);
      start += whole ? len : 0;
    }
    close(fd);
    _exit(0);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the overwriting child failed");
}

/* Read everything reachable from the atoms, in the txn t that was open
 * before the overwrite, then in new ones.  Errors are fine; a crash is not
 * (this process would die), nor is a code outside the table. */
static unsigned read_after_overwrite(eve_domain *d, eve_txn *t, eve_iter *it, eve_atom **as, size_t n) {
  unsigned errors = 0;
  eve_val k, v;
  int rc;
  while ((rc = EX_RC(eve_iter_next(it, &k, &v))) == 0) {} /* the iteration in progress */
  errors += rc != EVE_END;
  for (size_t i = 0; i < n; i++) {
    char *text = NULL;
    rc = EX_RC(eve_deref(t, as[i], &v));
    if (!rc) rc = ex_read_value(t, v, &text, 0);
    eve_free(text);
    errors += rc != 0;
  }
  eve_stats st;
  eve_check_report rep;
  errors += EX_RC(eve_stats_get(d, &st)) != 0;
  errors += EX_RC(eve_check(d, &rep, NULL, NULL)) != 0;
  return errors;
}

/* docs/RELIABILITY.md, "The domain file": every offset read from the file
 * is bounds-checked and every block's magic, type and capacity are checked, so a file
 * changed under a reader gives errors, never a crash — even with the
 * reader's transaction and iterator live across the change. */
Test(faults, file_overwritten_in_place_while_mapped, .timeout = 300) {
  char *dir = t_tmpdir(), *path = t_path(dir, "over.eve");
  static const char *const names[] = {"m", "v", "s", "l"};
  uint64_t seed = t_seed(0x0badf11e);
  unsigned rounds = (unsigned)t_scale(24), errors = 0;
  for (unsigned r = 0; r < rounds; r++) {
    unlink(path);
    eve_domain *d = open_path(path);
    build_for_overwrite(d);
    eve_atom *as[4];
    eve_txn *t;
    eve_iter it;
    eve_val m, k, v;
    for (int i = 0; i < 4; i++) EVE_OK(eve_atom_open(d, names[i], 0, &as[i]));
    EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
    EVE_OK(eve_deref(t, as[0], &m));
    EVE_OK(eve_iter_init(t, m, &it));
    for (int i = 0; i < 50; i++) EVE_OK(eve_iter_next(&it, &k, &v)); /* half-way through */
    overwrite_heap(path, seed + r, r % 3 == 0);
    errors += read_after_overwrite(d, t, &it, as, 4);
    EX_RC(eve_txn_end(t));
    /* writers on top of the noise: errors again, never a crash */
    ex_result res;
    for (int i = 0; i < 4; i++) EVE_OK(eve_atom_close(as[i]));
    EVE_OK(eve_close(d));
    ex_domain(path, NULL, &res);
  }
  cr_log_info("overwritten in place: %u rounds, %u reads answered with an error, no crash", rounds, errors);
  cr_assert_gt(errors, 0, "random bytes over the heap were noticed");
  t_rmdir(dir);
}

/* ---- permissions ------------------------------------------------------------------------ */

enum { P_FILE000, P_FILE000_RDONLY, P_FILE644_RW, P_FILE644_RDONLY, P_CREATE_IN_RO_DIR, P_N };
static const char *const P_NAMES[] = {"mode 000, read-write", "mode 000, EVE_OPEN_RDONLY",
                                      "mode 644 of another user, read-write",
                                      "mode 644 of another user, EVE_OPEN_RDONLY",
                                      "create in a directory we cannot write"};

static int try_open(const char *path, unsigned flags) {
  eve_options o = {.flags = flags};
  eve_domain *d;
  int rc = eve_open(path, &o, &d);
  if (!rc) eve_close(d);
  return rc;
}

/* In a child that dropped to nobody: each case's eve_open result. */
static void permission_child(const char *dir, int fd) {
  int rc[P_N];
  rc[P_FILE000] = try_open(t_path(dir, "p000.eve"), EVE_OPEN_EXISTING);
  rc[P_FILE000_RDONLY] = try_open(t_path(dir, "p000.eve"), EVE_OPEN_RDONLY);
  rc[P_FILE644_RW] = try_open(t_path(dir, "p644.eve"), EVE_OPEN_EXISTING);
  rc[P_FILE644_RDONLY] = try_open(t_path(dir, "p644.eve"), EVE_OPEN_RDONLY);
  rc[P_CREATE_IN_RO_DIR] = try_open(t_path(dir, "new.eve"), EVE_OPEN_CREATE);
  if (write(fd, rc, sizeof rc) != sizeof rc) _exit(1);
  _exit(0);
}

static int as_nobody(const char *dir, int rc[P_N]) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(p[0]);
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
      _exit(77); /* cannot drop privileges here */
    permission_child(dir, p[1]);
  }
  close(p[1]);
  ssize_t got = read(p[0], rc, sizeof(int) * P_N);
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  return got == (ssize_t)(sizeof(int) * P_N) ? 0 : -1;
}

/* eve.h: eve_open reports EVE_EACCESS for a file or directory we may not
 * use; a file we may read but not write opens with EVE_OPEN_RDONLY. */
Test(faults, permission_denied_is_eaccess) {
  char *dir = t_tmpdir();
  cr_assert_eq(chmod(dir, 0755), 0); /* others may enter, not write */
  eve_domain *d;
  eve_options o644 = {.flags = EVE_OPEN_CREATE, .mode = 0644};
  EVE_OK(eve_open(t_path(dir, "p000.eve"), NULL, &d));
  EVE_OK(eve_close(d));
  EVE_OK(eve_open(t_path(dir, "p644.eve"), &o644, &d));
  set_edn(d, "x", "[1 2 3]");
  EVE_OK(eve_close(d));
  cr_assert_eq(chmod(t_path(dir, "p000.eve"), 0), 0);
  int rc[P_N];
  if (as_nobody(dir, rc) != 0) {
    t_rmdir(dir);
    cr_skip_test("cannot run as an unprivileged user (setuid to nobody failed)");
  }
  int want[P_N] = {EVE_EACCESS, EVE_EACCESS, EVE_EACCESS, 0, EVE_EACCESS};
  for (int i = 0; i < P_N; i++)
    cr_expect_eq(rc[i], want[i], "%s: %s, wanted %s", P_NAMES[i], eve_err_name(rc[i]), eve_err_name(want[i]));
  cr_assert_neq(access(t_path(dir, "new.eve"), F_OK), 0, "nothing was created");
  t_rmdir(dir);
}

/* ---- a future format version -------------------------------------------------------------- */

/* docs/RELIABILITY.md, "The domain file": opening refuses unknown versions
 * with a clear message — also when the file is otherwise perfect (valid checksum). */
Test(faults, future_format_version_is_eversion) {
  char *dir = t_tmpdir(), *path = t_path(dir, "future.eve");
  eve_domain *d = open_path(path);
  set_edn(d, "x", "{:from :the-future}");
  EVE_OK(eve_close(d));
  int fd = open(path, O_RDWR);
  cr_assert_geq(fd, 0);
  eve_file_header h;
  cr_assert_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
  const uint32_t versions[] = {EVE_FORMAT_VERSION + 1, 0, 0xffffffffu};
  const char *cli = cli_path();
  char *scratch = t_tmpdir();
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
    h.format_version = versions[i];
    h.checksum = XXH64(&h, EVE_CHECKSUMMED_BYTES, 0x6576652d68647221ull);
    cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    eve_options ro = {.flags = EVE_OPEN_RDONLY};
    EVE_ERR(eve_open(path, NULL, &d), EVE_EVERSION);
    EVE_ERR(eve_open(path, &ro, &d), EVE_EVERSION);
    cr_assert(strstr(eve_strerror(EVE_EVERSION), "version"), "the message says what is wrong");
    if (cli) {
      cli_run r;
      char *get[] = {"eve", "get", (char *)path, "x", NULL};
      run_cli(cli, scratch, get, &r);
      expect_cli_error(&r, "eve get on a future file", "EVE_EVERSION");
    }
  }
  /* the refused file was not touched: restored, it opens and reads */
  h.format_version = EVE_FORMAT_VERSION;
  h.checksum = XXH64(&h, EVE_CHECKSUMMED_BYTES, 0x6576652d68647221ull);
  cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
  close(fd);
  d = open_path(path);
  int rc;
  char *s = get_edn(d, "x", &rc);
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(s, "{:from :the-future}");
  eve_free(s);
  EVE_OK(eve_close(d));
  t_rmdir(scratch);
  t_rmdir(dir);
}
