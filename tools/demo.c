/* demo.c — `eve demo`: several processes share one value through a file.
 *
 * The parent creates a domain and an atom "shop" holding a small shop:
 *
 *   {:orders 0, :stock {"apple" 500 ...}, :sold {"apple" 0 ...},
 *    :restock {"apple" 0 ...}, :workers {0 0, 1 0 ...}, :recent {0 [] ...},
 *    :status :running}
 *
 * then closes it and forks N workers and a watcher.  Each child opens the
 * file itself (eve_open on the path: nothing is inherited).  A worker places
 * orders for a few seconds: each order is one swap that takes stock (topping
 * it up by 100 when it runs short), counts the units sold, the order and the
 * worker's own orders, and appends the order id to the worker's last-8
 * vector.  The watcher sleeps on the atom's futex and prints what it sees,
 * at most about once a second.  The parent draws a progress line from
 * counters the workers keep in a shared anonymous page (instrumentation
 * only: the data itself goes through the domain file).
 *
 * At the end the parent checks that nothing was lost or counted twice:
 * :orders equals the swaps the workers report, per worker too; each item's
 * stock + sold equals 500 + what was restocked; the units sold equal the
 * units the workers ordered; each :recent vector ends with its worker's last
 * order; and eve_check finds the domain sound.  Any mismatch exits 1.
 *
 * Conflicts are counted by wrapping the swap function: it counts its own
 * calls, and calls - 1 per swap are retries after losing a race. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "shop.h"

#define ATOM "shop"
#define MAX_WORKERS 64
#define HIST_BUCKETS 512 /* 64 powers of two x 8 steps */

const char demo_usage[] =
    "\n  DB            domain file to use (default: a new file in a temporary directory,\n"
    "                removed afterwards)\n"
    "  --workers N   worker processes (default 4, at most 64)\n"
    "  --seconds S   how long the workers run (default 3, at most 600)\n"
    "  --keep        keep the temporary domain file and print its path\n";

/* Per-worker counters in a MAP_SHARED anonymous page.  Only the worker
 * writes its entry; the parent reads them live (relaxed) for the progress
 * line and exactly after waitpid. */
typedef struct wstat {
  _Atomic uint64_t swaps;
  _Atomic uint64_t calls;
  uint64_t units;
  int64_t last_id;
  uint64_t hist[HIST_BUCKETS];
} wstat;

/* ---- small utilities ------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* 1234567 -> "1,234,567" (buf of 32). */
static const char *commas(uint64_t v, char *buf) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), j = 0;
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) buf[j++] = ',';
    buf[j++] = tmp[i];
  }
  buf[j] = 0;
  return buf;
}

static const char *human_bytes(uint64_t b, char *buf) {
  if (b >= 1u << 20) snprintf(buf, 32, "%.1f MiB", b / 1048576.0);
  else if (b >= 1u << 10) snprintf(buf, 32, "%.1f KiB", b / 1024.0);
  else snprintf(buf, 32, "%" PRIu64 " B", b);
  return buf;
}

static const char *human_ns(double ns, char *buf) {
  if (ns >= 1e6) snprintf(buf, 32, "%.1f ms", ns / 1e6);
  else if (ns >= 1e3) snprintf(buf, 32, "%.1f us", ns / 1e3);
  else snprintf(buf, 32, "%.0f ns", ns);
  return buf;
}

/* Log-scale histogram: bucket = 8 * floor(log2 ns) + the next 3 bits. */
static unsigned hist_bucket(uint64_t ns) {
  if (ns < 8) return (unsigned)ns;
  unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
  return msb * 8 + (unsigned)((ns >> (msb - 3)) & 7);
}

static double hist_value(unsigned b) { /* middle of the bucket */
  if (b < 8) return b;
  unsigned msb = b / 8, sub = b % 8;
  double lo = (double)(1ull << msb) * (1.0 + sub / 8.0);
  return lo + (double)(1ull << msb) / 16.0;
}

static double hist_quantile(const uint64_t *h, uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (unsigned b = 0; b < HIST_BUCKETS; b++)
    if ((seen += h[b]) > want) return hist_value(b);
  return 0;
}

/* ---- the worker ------------------------------------------------------------ */

static int worker_main(const char *path, int w, uint64_t deadline, wstat *st) {
  eve_domain *d;
  eve_atom *a;
  eve_options o;
  memset(&o, 0, sizeof o);
  o.flags = EVE_OPEN_EXISTING;
  int rc = eve_open(path, &o, &d);
  if (rc) return cli_fail_rc(rc, "demo worker %d: %s", w, path);
  if ((rc = eve_atom_open(d, ATOM, 0, &a))) {
    eve_close(d);
    return cli_fail_rc(rc, "demo worker %d: atom %s", w, ATOM);
  }
  uint64_t seed = 0x5eed0000u + (uint64_t)w, seq = 0;
  shop_order ord;
  memset(&ord, 0, sizeof ord);
  ord.worker = w;
  while (now_ns() < deadline) {
    eve_txn *t;
    uint64_t r = rng_next(&seed);
    ord.item = (int)(r % SHOP_NITEMS);
    ord.qty = 1 + (int64_t)((r >> 8) % 3);
    ord.id = (int64_t)w * 1000000000 + (int64_t)++seq;
    uint64_t t0 = now_ns();
    if ((rc = eve_txn_begin(d, EVE_TXN_WRITE, &t))) break;
    rc = eve_swap(t, a, shop_place_order, &ord, NULL);
    eve_txn_end(t); /* ends the txn; what the swap published stays */
    if (rc) break;
    st->hist[hist_bucket(now_ns() - t0)]++;
    st->units += (uint64_t)ord.qty;
    st->last_id = ord.id;
    atomic_store_explicit(&st->calls, ord.calls, memory_order_relaxed);
    atomic_store_explicit(&st->swaps, seq, memory_order_relaxed);
  }
  if (rc) cli_fail_rc(rc, "demo worker %d: swap", w);
  eve_atom_close(a);
  eve_close(d);
  return rc ? CLI_FAIL : 0;
}

/* ---- the watcher ----------------------------------------------------------- */

/* Print what the atom holds now; *done when the parent marked it :done. */
static int watcher_print(eve_domain *d, eve_atom *a, uint64_t version, int *done) {
  eve_txn *t;
  eve_val shop, stock, status;
  int64_t orders = 0;
  char *text = NULL, buf[32];
  int rc = eve_txn_begin(d, EVE_TXN_READ, &t);
  if (rc) return rc;
  if (!(rc = eve_deref(t, a, &shop)) && !(rc = shop_get_int(t, shop, shop_kw(t, "orders"), &orders)) &&
      !(rc = shop_get_map(t, shop, shop_kw(t, "stock"), &stock)) &&
      !(rc = shop_get_map(t, shop, shop_kw(t, "status"), &status)) &&
      !(rc = eve_print_edn(t, stock, &text, NULL))) {
    *done = status == shop_kw(t, "done");
    printf("%s  watcher: version %-8" PRIu64 " orders %-11s stock %s%s\n",
           isatty(STDOUT_FILENO) ? "\r\033[K" : "", version, commas((uint64_t)orders, buf), text,
           *done ? "  (done)" : "");
    fflush(stdout);
    eve_free(text);
  }
  eve_txn_end(t);
  return rc;
}

/* Sleep on the atom's futex; print at most about once a second so that
 * hundreds of thousands of changes make a few lines.  Gives up on its own
 * a while after the deadline should the parent never mark the end. */
static int watcher_main(const char *path, uint64_t give_up) {
  eve_domain *d;
  eve_atom *a;
  eve_options o;
  memset(&o, 0, sizeof o);
  o.flags = EVE_OPEN_EXISTING;
  int rc = eve_open(path, &o, &d), done = 0;
  if (rc) return cli_fail_rc(rc, "demo watcher: %s", path);
  if ((rc = eve_atom_open(d, ATOM, 0, &a))) {
    eve_close(d);
    return cli_fail_rc(rc, "demo watcher: atom %s", ATOM);
  }
  uint64_t seen = 0;
  rc = eve_atom_version_get(a, &seen);
  while (!rc && !done) {
    rc = eve_wait(a, seen, 1000, &seen);
    if (rc == EVE_ETIMEDOUT) {
      rc = now_ns() < give_up ? 0 : EVE_ETIMEDOUT;
      continue;
    }
    if (!rc) rc = watcher_print(d, a, seen, &done);
    if (!rc && !done) { /* rate limit: a few lines, not a flood.  The parent's
                           SIGUSR1 at the end cuts the nap short. */
      struct timespec nap = {1, 0};
      nanosleep(&nap, NULL);
    }
  }
  if (rc) cli_fail_rc(rc, "demo watcher");
  eve_atom_close(a);
  eve_close(d);
  return rc ? CLI_FAIL : 0;
}

/* ---- the parent ------------------------------------------------------------ */

typedef struct demo_opts {
  const char *db;
  int workers;
  int seconds;
  int keep;
} demo_opts;

static int parse_int_opt(const char *name, const char *v, int lo, int hi, int *out) {
  char *end;
  long n;
  errno = 0;
  n = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || end == v || *end || n < lo || n > hi)
    return cli_fail(CLI_USAGE, "demo: %s takes an integer from %d to %d", name, lo, hi);
  *out = (int)n;
  return 0;
}

static int parse_demo_args(int argc, char **argv, demo_opts *o) {
  o->workers = 4;
  o->seconds = 3;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i], *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : strlen(s);
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
    int rc = 0;
    if (len == 9 && !strncmp(s, "--workers", 9)) {
      rc = parse_int_opt("--workers", val, 1, MAX_WORKERS, &o->workers);
      i += !eq;
    } else if (len == 9 && !strncmp(s, "--seconds", 9)) {
      rc = parse_int_opt("--seconds", val, 1, 600, &o->seconds);
      i += !eq;
    } else if (!strcmp(s, "--keep")) {
      o->keep = 1;
    } else if (!strcmp(s, "--help")) {
      printf("usage: eve demo [DB] [--workers N] [--seconds S] [--keep]\n%s", demo_usage);
      return -1;
    } else if (!strncmp(s, "--", 2) || o->db) {
      return cli_fail(CLI_USAGE, "demo: unexpected argument %s: usage: eve demo [DB] "
                                 "[--workers N] [--seconds S] [--keep]", s);
    } else {
      o->db = s;
    }
    if (rc) return rc;
  }
  return 0;
}

/* Create the domain (if needed) and reset the atom to the initial shop. */
static int setup(const char *path, int workers) {
  eve_domain *d;
  eve_atom *a = NULL;
  eve_txn *t = NULL;
  eve_val v;
  char *text = shop_initial_text(workers);
  if (!text) return cli_fail(CLI_FAIL, "out of memory");
  int rc = cli_open(path, OPEN_CREATE, &d, NULL);
  if (rc) {
    free(text);
    return rc;
  }
  if ((rc = eve_txn_begin(d, EVE_TXN_WRITE, &t))) rc = cli_fail_rc(rc, "demo");
  if (!rc) rc = cli_read_edn(t, text, strlen(text), "the initial value", &v);
  if (!rc && (rc = eve_atom_open(d, ATOM, EVE_ATOM_CREATE, &a))) rc = cli_fail_rc(rc, "demo: atom");
  if (!rc && (rc = eve_reset(t, a, v))) rc = cli_fail_rc(rc, "demo: reset");
  if (t) eve_txn_end(t);
  if (a) eve_atom_close(a);
  eve_close(d);
  free(text);
  return rc;
}

/* Mark the shop :done (the watcher's cue to finish). */
static int mark_done(eve_domain *d, eve_atom *a) {
  eve_txn *t;
  int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val shop;
  if (!(rc = eve_deref(t, a, &shop)) &&
      !(rc = eve_map_assoc(t, shop, shop_kw(t, "status"), shop_kw(t, "done"), &shop)))
    rc = eve_reset(t, a, shop);
  eve_txn_end(t);
  return rc;
}

typedef struct totals {
  uint64_t swaps, calls, units;
  uint64_t hist[HIST_BUCKETS];
} totals;

static void sum_stats(const wstat *st, int n, totals *tot, int with_hist) {
  memset(tot, 0, sizeof *tot);
  for (int w = 0; w < n; w++) {
    tot->swaps += atomic_load_explicit(&st[w].swaps, memory_order_relaxed);
    tot->calls += atomic_load_explicit(&st[w].calls, memory_order_relaxed);
    tot->units += st[w].units;
    if (with_hist)
      for (int b = 0; b < HIST_BUCKETS; b++) tot->hist[b] += st[w].hist[b];
  }
}

/* Compare one count; print and count a mismatch. */
static int expect(int *bad, const char *what, int64_t got, int64_t want) {
  if (got != want) {
    (*bad)++;
    fprintf(stderr, "  mismatch: %s is %" PRId64 ", expected %" PRId64 "\n", what, got, want);
  }
  return got == want;
}

/* Check the final value against what the workers report. */
static int verify_value(eve_domain *d, eve_atom *a, const wstat *st, int workers, int *bad) {
  eve_txn *t;
  eve_val shop, stock, sold, restock, wmap, recent, mine, last, status;
  totals tot;
  char what[96];
  int64_t n, s, r, units = 0;
  sum_stats(st, workers, &tot, 0);
  int rc = eve_txn_begin(d, EVE_TXN_READ, &t);
  if (rc) return rc;
  if ((rc = eve_deref(t, a, &shop)) || (rc = shop_get_int(t, shop, shop_kw(t, "orders"), &n)) ||
      (rc = shop_get_map(t, shop, shop_kw(t, "stock"), &stock)) || (rc = shop_get_map(t, shop, shop_kw(t, "sold"), &sold)) ||
      (rc = shop_get_map(t, shop, shop_kw(t, "restock"), &restock)) ||
      (rc = shop_get_map(t, shop, shop_kw(t, "workers"), &wmap)) ||
      (rc = shop_get_map(t, shop, shop_kw(t, "recent"), &recent)) ||
      (rc = shop_get_map(t, shop, shop_kw(t, "status"), &status)))
    goto out;
  expect(bad, ":orders", n, (int64_t)tot.swaps);
  expect(bad, ":status :done", status == shop_kw(t, "done"), 1);
  for (int i = 0; i < SHOP_NITEMS; i++) {
    eve_val item;
    if ((rc = eve_string(t, shop_items[i], strlen(shop_items[i]), &item)) || (rc = shop_get_int(t, stock, item, &n)) ||
        (rc = shop_get_int(t, sold, item, &s)) || (rc = shop_get_int(t, restock, item, &r)))
      goto out;
    snprintf(what, sizeof what, "stock + sold of \"%s\"", shop_items[i]);
    expect(bad, what, n + s, SHOP_INITIAL_STOCK + r);
    units += s;
  }
  expect(bad, "units sold", units, (int64_t)tot.units);
  for (int w = 0; w < workers; w++) {
    uint64_t swaps = atomic_load(&st[w].swaps), cnt = 0;
    snprintf(what, sizeof what, ":workers %d", w);
    if ((rc = shop_get_int(t, wmap, shop_int(t, w), &n))) goto out;
    expect(bad, what, n, (int64_t)swaps);
    if ((rc = shop_get_map(t, recent, shop_int(t, w), &mine)) || (rc = eve_count(t, mine, &cnt))) goto out;
    snprintf(what, sizeof what, "length of :recent %d", w);
    expect(bad, what, (int64_t)cnt, swaps < SHOP_RECENT ? (int64_t)swaps : SHOP_RECENT);
    if (cnt) {
      if ((rc = eve_vec_nth(t, mine, cnt - 1, &last)) || (rc = eve_int_get(t, last, &n))) goto out;
      snprintf(what, sizeof what, "last of :recent %d", w);
      expect(bad, what, n, st[w].last_id);
    }
  }
out:
  eve_txn_end(t);
  return rc;
}

static void problem_line(void *ctx, const char *msg) {
  int *bad = ctx;
  (*bad)++;
  fprintf(stderr, "  check: %s\n", msg);
}

static void progress(const wstat *st, int workers, eve_domain *d, uint64_t start, uint64_t *prev_n,
                     uint64_t *prev_t, int tty) {
  totals tot;
  eve_domain_info info;
  char b1[32], b2[32], b3[32], b4[32];
  uint64_t now = now_ns();
  sum_stats(st, workers, &tot, 0);
  memset(&info, 0, sizeof info);
  if (d) eve_domain_info_get(d, &info);
  double dt = (double)(now - *prev_t) / 1e9;
  double rate = dt > 0 ? (double)(tot.swaps - *prev_n) / dt : 0;
  printf("%s  %4.1fs  swaps %-11s %9s/s   conflicts retried %-9s file %s%s",
         tty ? "\r\033[K" : "", (double)(now - start) / 1e9, commas(tot.swaps, b1),
         commas((uint64_t)rate, b4), commas(tot.calls - tot.swaps, b2),
         human_bytes(info.file_bytes, b3), tty ? "" : "\n");
  fflush(stdout);
  *prev_n = tot.swaps;
  *prev_t = now;
}

static void wake_up(int sig) { (void)sig; }

/* Fork one child running fn; returns its pid or -1. */
static pid_t spawn(int (*fn)(const char *, int, uint64_t, wstat *), const char *path, int w,
                   uint64_t deadline, wstat *st) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) _exit(fn(path, w, deadline, st));
  return pid;
}

/* spawn()'s signature; the watcher has no index and no counters */
static int watcher_entry(const char *path, int w, uint64_t give_up, wstat *st) {
  (void)w;
  (void)st;
  return watcher_main(path, give_up);
}

/* Wait for pid up to ms milliseconds; kill it after.  Returns its exit
 * status (0 when it exited 0). */
static int reap(pid_t pid, long ms) {
  int status = 0;
  for (long waited = 0;; waited += 20) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (waited >= ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    sleep_ms(20);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(const demo_opts *o, const char *path) {
  int workers = o->workers, bad = 0, rc;
  char b1[32], b2[32], b3[32], b4[32], b5[32];
  if ((rc = setup(path, workers))) return rc;
  printf("eve demo: %d workers for %d s on %s\n", workers, o->seconds, path);

  size_t shsz = sizeof(wstat) * (size_t)workers;
  wstat *st = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (st == MAP_FAILED) return cli_fail(CLI_FAIL, "demo: mmap: %s", strerror(errno));

  uint64_t start = now_ns(), deadline = start + (uint64_t)o->seconds * 1000000000u;
  pid_t pids[MAX_WORKERS], watcher;
  int started = 0;
  /* A no-op SIGUSR1 handler, inherited by the watcher from before its fork
   * (no window where the signal would kill it): it only cuts the watcher's
   * nap short, since nanosleep is never restarted (SA_RESTART keeps any
   * other call it lands in going). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = wake_up;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  watcher = spawn(watcher_entry, path, -1, deadline + 30000000000u, NULL);
  for (; started < workers; started++)
    if ((pids[started] = spawn(worker_main, path, started, deadline, &st[started])) < 0) break;
  if (started < workers) {
    bad++;
    fprintf(stderr, "eve: demo: fork: %s\n", strerror(errno));
  }

  /* Open our own handle only now: the children never inherit one. */
  eve_domain *d = NULL;
  eve_atom *a = NULL;
  eve_options oo;
  memset(&oo, 0, sizeof oo);
  oo.flags = EVE_OPEN_EXISTING;
  if ((rc = eve_open(path, &oo, &d)) || (rc = eve_atom_open(d, ATOM, 0, &a))) {
    bad++;
    cli_fail_rc(rc, "demo: %s", path);
  }

  int tty = isatty(STDOUT_FILENO), running = started, failed_children = 0;
  uint64_t prev_n = 0, prev_t = start, last_draw = start;
  int exited[MAX_WORKERS] = {0};
  while (running > 0) {
    sleep_ms(tty ? 200 : 100);
    for (int w = 0; w < started; w++) {
      int status;
      if (exited[w] || waitpid(pids[w], &status, WNOHANG) != pids[w]) continue;
      exited[w] = 1;
      running--;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed_children++;
    }
    if (tty || now_ns() - last_draw >= 1000000000u) {
      progress(st, workers, d, start, &prev_n, &prev_t, tty);
      last_draw = now_ns();
    }
  }
  if (tty) putchar('\n');
  uint64_t elapsed = now_ns() - start;
  if (failed_children) {
    bad++;
    fprintf(stderr, "eve: demo: %d worker(s) failed\n", failed_children);
  }

  /* End the show: the watcher prints the final state and exits. */
  rc = a ? mark_done(d, a) : 0;
  if (watcher > 0) kill(watcher, SIGUSR1);
  if (rc) {
    bad++;
    cli_fail_rc(rc, "demo: marking the end");
  }
  if (watcher > 0 && reap(watcher, 5000) != 0) {
    bad++;
    fprintf(stderr, "eve: demo: the watcher failed\n");
  }

  /* Verify. */
  totals tot;
  eve_check_report cr;
  eve_stats sts;
  memset(&cr, 0, sizeof cr);
  memset(&sts, 0, sizeof sts);
  sum_stats(st, workers, &tot, 1);
  int check_bad = 0, check_rc = -1;
  if (a) {
    if ((rc = verify_value(d, a, st, workers, &bad))) {
      bad++;
      cli_fail_rc(rc, "demo: reading the result");
    }
  }
  if (a) eve_atom_close(a);
  if (d) eve_close(d);
  /* Check and measure with a new handle: every other process has detached
   * by now, and the last one out reclaims what exited workers left waiting
   * for a grace period, so live bytes should equal the reachable ones. */
  if ((rc = eve_open(path, &oo, &d)) == 0) {
    check_rc = eve_check(d, &cr, problem_line, &check_bad);
    if (check_rc || cr.problems) bad++;
    if ((rc = eve_stats_get(d, &sts))) cli_fail_rc(rc, "demo: stats");
    eve_close(d);
  } else {
    bad++;
    cli_fail_rc(rc, "demo: reopening %s", path);
  }

  double secs = (double)elapsed / 1e9;
  printf("\nresult\n");
  printf("  swaps       %s in %.1f s (%s/s) by %d processes\n", commas(tot.swaps, b1), secs,
         commas((uint64_t)((double)tot.swaps / secs), b2), workers);
  printf("  conflicts   %s retried (%.2f per 100 swaps)\n", commas(tot.calls - tot.swaps, b1),
         tot.swaps ? 100.0 * (double)(tot.calls - tot.swaps) / (double)tot.swaps : 0.0);
  printf("  latency     p50 %s, p99 %s (txn begin, swap, end)\n",
         human_ns(hist_quantile(tot.hist, tot.swaps, 0.50), b1),
         human_ns(hist_quantile(tot.hist, tot.swaps, 0.99), b2));
  printf("  bytes       live %s (reachable %s in %s blocks), free %s; file %s\n",
         human_bytes(sts.live_bytes, b1), human_bytes(cr.reachable_bytes, b2),
         commas(cr.blocks, b3), human_bytes(sts.free_bytes, b4), human_bytes(sts.file_bytes, b5));
  if (check_rc == 0 && cr.problems == 0)
    printf("  check       sound; %s bytes allocated but unreachable\n", commas(cr.leaked_bytes, b1));
  else if (check_rc != -1)
    printf("  check       %s problem(s): %s\n", commas(cr.problems, b1), eve_strerror(check_rc));
  printf("  totals      %s\n", bad ? "MISMATCH" : "exact (orders, per-worker counts, stock + sold, "
                                                  "units, last order ids)");
  munmap(st, shsz);
  if (bad) return cli_fail(CLI_FAIL, "demo: verification failed");
  printf("OK\n");
  return 0;
}

int demo_main(int argc, char **argv) {
  demo_opts o;
  memset(&o, 0, sizeof o);
  int rc = parse_demo_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  if (o.db) return run(&o, o.db);

  const char *tmp = getenv("TMPDIR");
  char dirbuf[PATH_MAX];
  if (!tmp || !*tmp || strlen(tmp) > PATH_MAX - 32) tmp = "/tmp";
  snprintf(dirbuf, sizeof dirbuf, "%s/eve-demo-XXXXXX", tmp);
  if (!mkdtemp(dirbuf)) return cli_fail(CLI_FAIL, "demo: mkdtemp: %s", strerror(errno));
  char *file = NULL;
  if (asprintf(&file, "%s/demo.eve", dirbuf) < 0) return cli_fail(CLI_FAIL, "out of memory");
  rc = run(&o, file);
  if (o.keep) {
    printf("kept %s\n", file);
  } else {
    unlink(file);
    rmdir(dirbuf);
  }
  free(file);
  return rc;
}
