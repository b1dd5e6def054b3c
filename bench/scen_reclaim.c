/* scen_reclaim.c — scenarios 7 (a stalled reader) and 8 (oversubscribed
 * writers): the space reclamation leaves behind, eve beside LMDB.
 *
 * 7: a process holds a read transaction (a snapshot) open for --s7-hold
 *    seconds while another updates random keys of an N-key map flat out,
 *    one transaction per update; N = 10^5 and 10^6.  Then the reader ends,
 *    the writer makes a few more updates and the space is measured again.
 * 8: 8 writer processes run the demo's workload (shop.c) for --s8-seconds
 *    while an observer process samples the space 5 times a second.
 *
 * Everything is measured from outside the library: eve_stats_get and
 * stat() of the file.  Issue 11's targets are printed beside the figures;
 * nothing is asserted.  The figures can be written to, and compared with,
 * a baseline file (--baseline): the "before" of the reclamation work. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "eve.h"

enum { SYS_EVE, SYS_LMDB, NSYS };
static const char *const SYS_NAME[NSYS] = {"eve", "LMDB"};
enum { CATCHUP = 1000, REUSE = 20000, S8_PROCS = 8, SAMPLE_MS = 200 };
#define MIB (1024.0 * 1024.0)

/* ---- stores and their space ----------------------------------------------- */

typedef struct space {
  int ok;
  uint64_t file;     /* eve: eve_stats.file_bytes; LMDB: (last page + 1) x page size */
  uint64_t size;     /* st_size of the file                                        */
  uint64_t disk;     /* st_blocks x 512                                            */
  uint64_t live;     /* eve: live_bytes; LMDB: the B-tree's pages                  */
  uint64_t free;     /* eve: free_bytes; LMDB: the freelist's pages                */
  uint64_t retired;  /* eve: retired_bytes, waiting for readers; LMDB: the freelist
                        pages freed since the oldest reader's snapshot           */
  uint64_t readers, pin_ms;
  uint64_t reach;    /* eve: eve_check's reachable_bytes; LMDB: the B-tree's pages;
                        0 unless measured with check */
} space;

typedef struct store {
  int sys;
  const char *atom;
  char path[600];  /* eve file or LMDB directory */
  char file[640];  /* the file to stat */
  ev_store ev;
  lm_store *lm;
} store;

static void st_init(store *s, const bench_cfg *cfg, int sys, const char *name, const char *atom) {
  memset(s, 0, sizeof *s);
  s->sys = sys;
  s->atom = atom;
  scratch(cfg, name, s->path, sizeof s->path);
  if (sys == SYS_EVE) snprintf(s->file, sizeof s->file, "%s", s->path);
  else snprintf(s->file, sizeof s->file, "%s/data.mdb", s->path);
}

static int st_open(store *s) {
  if (s->sys == SYS_EVE) return ev_open(&s->ev, s->path, s->atom);
  s->lm = NULL;
  return lm_open(&s->lm, s->path);
}

static void st_close(store *s) {
  if (s->sys == SYS_EVE) ev_close(&s->ev);
  else lm_close(s->lm), s->lm = NULL;
}

/* check: also the reachable bytes (eve_check: a walk of everything
 * reachable, so only where the value is small or the domain quiet). */
static int st_measure_check(store *s, space *sp, int check) {
  memset(sp, 0, sizeof *sp);
  int rc;
  if (s->sys == SYS_EVE) {
    eve_stats st;
    rc = eve_stats_get(s->ev.d, &st);
    if (rc) return rc;
    *sp = (space){1, st.file_bytes, 0, 0, st.live_bytes, st.free_bytes, st.retired_bytes, st.readers,
                  st.oldest_pin_ms, 0};
    eve_check_report cr;
    if (check && !(rc = eve_check(s->ev.d, &cr, NULL, NULL))) sp->reach = cr.reachable_bytes;
    if (rc) return rc;
  } else {
    uint64_t used, size, disk, tree, fr, wait;
    rc = lm_footprint(s->lm, &used, &size, &disk);
    if (!rc) rc = lm_space(s->lm, &tree, &fr, &wait);
    if (rc) return rc;
    *sp = (space){1, used, 0, 0, tree, fr, wait, 0, 0, tree};
  }
  sp->size = file_bytes_of(s->file);
  sp->disk = disk_bytes_of(s->file);
  return 0;
}

static int st_measure(store *s, space *sp) { return st_measure_check(s, sp, 0); }

/* ---- shared control pages and waiting --------------------------------------- */

static void *shared_page(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static void nap_s(double s) {
  uint64_t end = now_ns() + (uint64_t)(s * 1e9);
  for (uint64_t t; (t = now_ns()) < end;) nap_ms((long)((end - t) / 1000000 + 1));
}

/* In a child: until *v >= want, or the parent is gone (then exit). */
static void child_wait(_Atomic int *v, int want, pid_t parent) {
  while (atomic_load(v) < want) {
    if (getppid() != parent) _exit(1);
    nap_ms(1);
  }
}

/* In the parent: until *v >= want (0), *v < 0 or the timeout (-1). */
static int parent_wait(_Atomic int *v, int want, double timeout_s) {
  uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);
  int x;
  while ((x = atomic_load(v)) < want && x >= 0 && now_ns() < end) nap_ms(1);
  return x >= want ? 0 : -1;
}

static int reap(pid_t pid) {
  int st = 0;
  if (pid <= 0) return -1;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

static void kill_reap(pid_t pid) {
  if (pid > 0) kill(pid, SIGKILL), reap(pid);
}

/* ---- scenario 7 ---------------------------------------------------------------- */

enum { PH_SETUP, PH_GO, PH_STOP, PH_RELEASE, PH_CATCHUP };

typedef struct s7_ctl {
  _Atomic int phase;   /* the parent's */
  _Atomic int reader;  /* 1 holding, 2 released; -1 failed */
  _Atomic int writer;  /* 1 ready, 2 measured at the end of the hold, 3 done; -1 failed */
  int reader_rc, writer_rc;
  uint64_t swaps;          /* updates during the hold */
  double swap_secs;        /* the writer's time updating during the hold */
  double hold_secs;        /* the reader's transaction, begin to end */
  int capped;              /* the writer stopped at the size cap */
  double capped_at;        /* ... after this many seconds */
  space held, after, trimmed, reuse;
} s7_ctl;

typedef struct s7_result {
  int ok, sys;
  uint64_t n;
  double load_s;
  space load;
  s7_ctl c;
} s7_result;

static int st_update(store *s, uint64_t i, uint64_t gen) {
  return s->sys == SYS_EVE ? ev_update(&s->ev, i, gen, NULL) : lm_update(s->lm, i, gen);
}

static void s7_reader(store *s, s7_ctl *c, pid_t parent) {
  eve_txn *t = NULL;
  int rc = st_open(s);
  if (!rc) rc = s->sys == SYS_EVE ? ev_snapshot_begin(&s->ev, &t) : lm_snapshot_begin(s->lm);
  uint64_t t0 = now_ns();
  c->reader_rc = rc;
  atomic_store(&c->reader, rc ? -1 : 1);
  if (!rc) {
    child_wait(&c->phase, PH_RELEASE, parent);
    if (s->sys == SYS_EVE) eve_txn_end(t);
    else lm_snapshot_end(s->lm);
    c->hold_secs = (double)(now_ns() - t0) / 1e9;
    atomic_store(&c->reader, 2);
  }
  st_close(s);
  _exit(0);
}

static void s7_writer(store *s, const bench_cfg *cfg, uint64_t n, s7_ctl *c, pid_t parent) {
  int rc = st_open(s);
  rng r = rng_make(n * 13 + 7);
  uint64_t gen = 1, k = 0;
  atomic_store(&c->writer, rc ? -1 : 1);
  if (rc) _exit(0);
  child_wait(&c->phase, PH_GO, parent);
  uint64_t t0 = now_ns();
  while (!rc && atomic_load(&c->phase) == PH_GO) {
    rc = st_update(s, rng_below(&r, n), gen++);
    if (!rc && (++k & 1023) == 0 && disk_bytes_of(s->file) >= cfg->s7_cap) {
      c->capped = 1;
      c->capped_at = (double)(now_ns() - t0) / 1e9;
      break;
    }
  }
  c->swaps = k;
  c->swap_secs = (double)(now_ns() - t0) / 1e9;
  child_wait(&c->phase, PH_STOP, parent);
  if (!rc) rc = st_measure(s, &c->held);
  c->writer_rc = rc;
  atomic_store(&c->writer, rc ? -1 : 2);
  if (rc) _exit(0);
  child_wait(&c->phase, PH_CATCHUP, parent);
  for (int j = 0; j < CATCHUP && !rc; j++) rc = st_update(s, rng_below(&r, n), gen++);
  if (!rc) rc = st_measure(s, &c->after);
  /* eve_trim gives the reader's garbage back online (LMDB has no such call) */
  if (!rc && s->sys == SYS_EVE && (rc = ev_trim(&s->ev)) == 0) rc = st_measure(s, &c->trimmed);
  for (int j = 0; j < REUSE && !rc; j++) rc = st_update(s, rng_below(&r, n), gen++);
  if (!rc) rc = st_measure(s, &c->reuse);
  c->writer_rc = rc;
  atomic_store(&c->writer, rc ? -1 : 3);
  st_close(s);
  _exit(0);
}

static int s7_load(store *s, uint64_t n, s7_result *res) {
  int rc = st_open(s);
  uint64_t t0 = now_ns();
  if (!rc) rc = s->sys == SYS_EVE ? ev_load(&s->ev, n) : lm_load(s->lm, n);
  res->load_s = (double)(now_ns() - t0) / 1e9;
  if (!rc) rc = st_measure(s, &res->load);
  st_close(s);
  return rc;
}

static void s7_one(const bench_cfg *cfg, int sys, uint64_t n, s7_result *res) {
  char name[64];
  store s;
  memset(res, 0, sizeof *res);
  res->sys = sys;
  res->n = n;
  snprintf(name, sizeof name, sys == SYS_EVE ? "s7-%llu.eve" : "s7-lmdb-%llu", (unsigned long long)n);
  st_init(&s, cfg, sys, name, "map");
  say("S7 stalled reader: %s, N=%llu: loading", SYS_NAME[sys], (unsigned long long)n);
  int rc = s7_load(&s, n, res);
  s7_ctl *c = shared_page(sizeof *c);
  if (rc || !c) {
    say("S7 %s N=%llu: load failed (%d)", SYS_NAME[sys], (unsigned long long)n, rc);
    if (c) munmap(c, sizeof *c);
    remove_tree(s.path);
    return;
  }
  memset(c, 0, sizeof *c);
  pid_t parent = getpid(), rd = -1, wr = -1;
  const char *fail = NULL;
  fflush(NULL);
  if ((rd = fork()) == 0) s7_reader(&s, c, parent);
  if (rd < 0 || parent_wait(&c->reader, 1, 60)) fail = "the reader did not begin";
  if (!fail && (wr = fork()) == 0) s7_writer(&s, cfg, n, c, parent);
  if (!fail && (wr < 0 || parent_wait(&c->writer, 1, 60))) fail = "the writer did not start";
  if (!fail) {
    say("S7 %s N=%llu: reader holds, writer updates for %g s", SYS_NAME[sys], (unsigned long long)n,
        cfg->s7_hold);
    atomic_store(&c->phase, PH_GO);
    nap_s(cfg->s7_hold);
    atomic_store(&c->phase, PH_STOP);
    if (parent_wait(&c->writer, 2, 120)) fail = "the writer failed during the hold";
  }
  if (!fail) {
    atomic_store(&c->phase, PH_RELEASE);
    if (parent_wait(&c->reader, 2, 60) || reap(rd)) fail = "the reader did not end";
    else rd = -1;
  }
  if (!fail) {
    atomic_store(&c->phase, PH_CATCHUP);
    if (parent_wait(&c->writer, 3, 300) || reap(wr)) fail = "the writer failed after the hold";
    else wr = -1;
  }
  if (fail)
    say("S7 %s N=%llu: %s (reader rc %d, writer rc %d)", SYS_NAME[sys], (unsigned long long)n, fail,
        c->reader_rc, c->writer_rc);
  kill_reap(rd);
  kill_reap(wr);
  res->c = *c;
  res->ok = !fail;
  munmap(c, sizeof *c);
  remove_tree(s.path);
}

/* ---- scenario 8 ---------------------------------------------------------------- */

typedef struct s8_ctl {
  _Atomic int stop;    /* the parent's: 1 when the writers have finished */
  _Atomic int state;   /* the observer's: 1 sampling, 2 done; -1 failed */
  int rc;
  uint64_t samples;
  space first;         /* before the writers start */
  space peak;          /* the sample with the largest file */
  double peak_at;      /* seconds after the first sample */
  uint64_t max_live, max_disk;
  space end;           /* after the writers have exited */
} s8_ctl;

typedef struct s8_result {
  int ok, sys;
  double secs;
  group_result g;
  s8_ctl c;
} s8_result;

typedef struct s8_job {
  store *s;
  double secs;
} s8_job;

static int s8_setup(int id, void *arg, void **state) {
  (void)id;
  s8_job *j = arg;
  store *s = malloc(sizeof *s);
  if (!(*state = s)) return -1;
  *s = *j->s;
  return st_open(s);
}

static int s8_run(int id, void *arg, void *state, worker_result *r) {
  s8_job *j = arg;
  store *s = state;
  rng g = rng_make(0x5eed0000u + (uint64_t)id);
  int rc = 0;
  r->t_start = now_ns();
  uint64_t end = r->t_start + (uint64_t)(j->secs * 1e9);
  for (int64_t seq = 1; !rc && now_ns() < end; seq++) {
    if (s->sys == SYS_EVE) rc = ev_shop_order(&s->ev, id, &g, seq, &r->attempts);
    else rc = lm_shop_order(s->lm, id, &g, seq), r->attempts++;
    r->ops += !rc;
  }
  r->t_end = now_ns();
  return rc;
}

static void s8_teardown(void *state) {
  st_close(state);
  free(state);
}

static const worker_ops S8_OPS = {s8_setup, s8_run, s8_teardown};

static void s8_observer(store *s, s8_ctl *c, pid_t parent) {
  int rc = st_open(s);
  space sp;
  if (!rc) rc = st_measure_check(s, &c->first, 1);
  c->rc = rc;
  atomic_store(&c->state, rc ? -1 : 1);
  if (rc) _exit(0);
  c->peak = c->first;
  uint64_t t0 = now_ns();
  while (!rc && !atomic_load(&c->stop)) {
    if (getppid() != parent) _exit(1);
    nap_ms(SAMPLE_MS);
    if ((rc = st_measure(s, &sp))) break;
    c->samples++;
    if (sp.file > c->peak.file) c->peak = sp, c->peak_at = (double)(now_ns() - t0) / 1e9;
    if (sp.live > c->max_live) c->max_live = sp.live;
    if (sp.disk > c->max_disk) c->max_disk = sp.disk;
  }
  /* the writers have exited: give reclamation a moment, then measure */
  nap_ms(300);
  if (!rc) rc = st_measure(s, &sp);
  nap_ms(300);
  if (!rc) rc = st_measure_check(s, &c->end, 1);
  c->rc = rc;
  atomic_store(&c->state, rc ? -1 : 2);
  st_close(s);
  _exit(0);
}

static void s8_one(const bench_cfg *cfg, int sys, double secs, s8_result *res) {
  store s;
  memset(res, 0, sizeof *res);
  res->sys = sys;
  res->secs = secs;
  st_init(&s, cfg, sys, sys == SYS_EVE ? "s8.eve" : "s8-lmdb", "shop");
  int rc = st_open(&s);
  if (!rc) rc = sys == SYS_EVE ? ev_shop_init(&s.ev, S8_PROCS) : lm_shop_init(s.lm, S8_PROCS);
  st_close(&s);
  s8_ctl *c = shared_page(sizeof *c);
  if (rc || !c) {
    say("S8 %s: setup failed (%d)", SYS_NAME[sys], rc);
    if (c) munmap(c, sizeof *c);
    remove_tree(s.path);
    return;
  }
  memset(c, 0, sizeof *c);
  pid_t parent = getpid(), obs;
  fflush(NULL);
  if ((obs = fork()) == 0) s8_observer(&s, c, parent);
  const char *fail = NULL;
  if (obs < 0 || parent_wait(&c->state, 1, 60)) fail = "the observer did not start";
  if (!fail) {
    say("S8 oversubscribed: %s, %d writer processes for %g s", SYS_NAME[sys], S8_PROCS, secs);
    s8_job j = {&s, secs};
    res->g = run_workers(S8_PROCS, &S8_OPS, &j);
    if (res->g.failed) fail = "a writer failed";
  }
  atomic_store(&c->stop, 1);
  if (!fail && (parent_wait(&c->state, 2, 60) || reap(obs))) fail = "the observer failed";
  else if (!fail) obs = -1;
  if (fail) say("S8 %s: %s (observer rc %d)", SYS_NAME[sys], fail, c->rc);
  kill_reap(obs);
  res->c = *c;
  res->ok = !fail;
  munmap(c, sizeof *c);
  remove_tree(s.path);
}

/* ---- the baseline file: "key value" lines ---------------------------------------- */

enum { MAX_KV = 256 };
typedef struct kv {
  char key[64];
  double v;
} kv;
static kv g_base[MAX_KV], g_now[MAX_KV];
static int g_nbase, g_nnow;
static char g_base_what[200];

static void kv_put(const char *key, double v) {
  if (g_nnow == MAX_KV) return;
  snprintf(g_now[g_nnow].key, sizeof g_now[0].key, "%s", key);
  g_now[g_nnow++].v = v;
}

/* The baseline's path as the report names it: from the repository's docs/. */
static const char *base_name(const char *path) {
  const char *d = strstr(path, "/docs/");
  return d ? d + 1 : path;
}

static double kv_base(const char *key) {
  for (int i = 0; i < g_nbase; i++)
    if (!strcmp(g_base[i].key, key)) return g_base[i].v;
  return -1;
}

static int base_read(const char *path) {
  FILE *f = path ? fopen(path, "r") : NULL;
  char line[256];
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') {
      if (!g_base_what[0]) {
        snprintf(g_base_what, sizeof g_base_what, "%s", line + 1 + (line[1] == ' '));
        g_base_what[strcspn(g_base_what, "\n")] = 0;
      }
      continue;
    }
    if (g_nbase < MAX_KV && sscanf(line, "%63s %lf", g_base[g_nbase].key, &g_base[g_nbase].v) == 2)
      g_nbase++;
  }
  fclose(f);
  return g_nbase > 0;
}

static int base_write(const bench_cfg *cfg) {
  FILE *f = fopen(cfg->baseline, "w");
  if (!f) return -1;
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# scenarios 7 and 8, run of %s, source revision %s (before reclamation v2)\n", date,
          cfg->revision ? cfg->revision : "unknown");
  fprintf(f, "# written by eve-bench (bench/scen_reclaim.c); reproduce: %s\n",
          cfg->command ? cfg->command : "make bench");
  for (int i = 0; i < g_nnow; i++) fprintf(f, "%s %.17g\n", g_now[i].key, g_now[i].v);
  return fclose(f);
}

/* ---- tables ----------------------------------------------------------------------- */

enum kind { K_BYTES, K_RATIO, K_COUNT, K_SECS, K_RATE, K_PER, K_NUM };

static void cell(FILE *f, enum kind k, double v) {
  char b[32];
  if (v < 0) {
    fputs(" — |", f);
    return;
  }
  switch (k) {
  case K_BYTES: fprintf(f, " %s |", fmt_bytes(b, v)); break;
  case K_RATIO: fprintf(f, " %.2f× |", v); break;
  case K_COUNT: fprintf(f, " %.0f |", v); break;
  case K_SECS: fprintf(f, " %.1f s |", v); break;
  case K_RATE: fprintf(f, " %s |", fmt_rate(b, v)); break;
  case K_PER: fprintf(f, " %.0f B |", v); break;
  case K_NUM: fprintf(f, " %.3f |", v); break;
  }
}

static double ratio(double a, double b) { return a >= 0 && b > 0 ? a / b : -1; }

/* Scenario 7's rows; v(res, row) is the value (-1: none). */
typedef struct row {
  const char *key, *label;
  enum kind kind;
} row;

static const row S7_ROWS[] = {
    {"load.file", "after the load: file", K_BYTES},
    {"load.disk", "after the load: on disk", K_BYTES},
    {"load.live", "after the load: live (= the version the reader holds)", K_BYTES},
    {"hold", "reader's transaction held", K_SECS},
    {"pin", "oldest pin at the end (eve_stats.oldest_pin_ms)", K_SECS},
    {"swaps", "updates during the hold", K_COUNT},
    {"rate", "update rate during the hold", K_RATE},
    {"capped", "writer stopped early at the size cap, after", K_SECS},
    {"held.file", "**end of the hold: file**", K_BYTES},
    {"held.disk", "end of the hold: on disk", K_BYTES},
    {"held.live", "end of the hold: live", K_BYTES},
    {"held.retired", "end of the hold: retired, waiting for the reader (LMDB: freelist pages it cannot reuse yet)", K_BYTES},
    {"held.free", "end of the hold: free (LMDB: the whole freelist)", K_BYTES},
    {"held.file_live", "end of the hold: file / live", K_RATIO},
    {"held.disk_live", "end of the hold: on disk / live", K_RATIO},
    {"held.file_target", "**end of the hold: file / (live + held version)** (target ≤ 1.5×)", K_RATIO},
    {"growth", "file growth per update during the hold", K_PER},
    {"after.file", "reader ended, 1000 more updates: file", K_BYTES},
    {"after.disk", "reader ended, 1000 more updates: on disk", K_BYTES},
    {"after.live", "reader ended, 1000 more updates: live", K_BYTES},
    {"after.free", "reader ended, 1000 more updates: free", K_BYTES},
    {"after.disk_live", "**reader ended: on disk / live** (target ≤ 1.2×)", K_RATIO},
    {"after.disk_fell", "on disk fell by (end of hold → reader ended)", K_BYTES},
    {"reuse.growth", "file growth over 20000 further updates", K_BYTES},
    {"trim.disk", "then eve_trim (online): on disk", K_BYTES},
    {"trim.disk_live", "**then eve_trim: on disk / live** (target ≤ 1.2×)", K_RATIO},
};
enum { S7_NROWS = sizeof S7_ROWS / sizeof S7_ROWS[0] };

static double s7_value(const s7_result *r, int i) {
  const s7_ctl *c = &r->c;
  if (!r->ok) return i < 3 && r->load.ok ? (double[]){(double)r->load.file, (double)r->load.disk,
                                                      (double)r->load.live}[i]
                                         : -1;
  double held = (double)r->load.live, eve = r->sys == SYS_EVE;
  switch (i) {
  case 0: return (double)r->load.file;
  case 1: return (double)r->load.disk;
  case 2: return held;
  case 3: return c->hold_secs;
  case 4: return eve ? (double)c->held.pin_ms / 1000 : -1;
  case 5: return (double)c->swaps;
  case 6: return c->swap_secs > 0 ? (double)c->swaps / c->swap_secs : -1;
  case 7: return c->capped ? c->capped_at : -1;
  case 8: return (double)c->held.file;
  case 9: return (double)c->held.disk;
  case 10: return (double)c->held.live;
  case 11: return (double)c->held.retired;
  case 12: return (double)c->held.free;
  case 13: return ratio((double)c->held.file, (double)c->held.live);
  case 14: return ratio((double)c->held.disk, (double)c->held.live);
  case 15: return ratio((double)c->held.file, (double)c->held.live + held);
  case 16: return c->swaps ? ((double)c->held.file - (double)r->load.file) / (double)c->swaps : -1;
  case 17: return (double)c->after.file;
  case 18: return (double)c->after.disk;
  case 19: return (double)c->after.live;
  case 20: return (double)c->after.free;
  case 21: return ratio((double)c->after.disk, (double)c->after.live);
  case 22: return (double)c->held.disk - (double)c->after.disk; /* may be negative: it grew */
  case 23: return (double)c->reuse.file - (double)c->after.file;
  case 24: return eve ? (double)c->trimmed.disk : -1;
  case 25: return eve ? ratio((double)c->trimmed.disk, (double)c->trimmed.live) : -1;
  }
  return -1;
}

static const char *exp_label(char *b, uint64_t n) {
  int e = 0;
  for (uint64_t m = n; m >= 10; m /= 10) e++;
  snprintf(b, 16, "10^%d", e);
  return b;
}

static void s7_table(FILE *f, const bench_cfg *cfg, const s7_result *r, int nr) {
  char b[32], key[64];
  int base = g_nbase > 0;
  fprintf(f, "## 7. A stalled reader\n\n"
             "One process begins a read transaction and holds it open for %g s (eve: "
             "`eve_txn_begin(READ)`, `eve_deref`, one `eve_map_get_text`; LMDB: "
             "`mdb_txn_begin(MDB_RDONLY)`, one `mdb_get`), while a writer process updates random "
             "keys of an N-key map flat out, one transaction per update (eve: scenario 1's swap; "
             "LMDB: one `mdb_put` per txn). Each system and N starts from a freshly loaded map. "
             "At the end of the hold the writer stops and measures; then the reader ends its "
             "transaction and exits, the writer makes %d more updates (so reclamation catches "
             "up) and measures again, then %d more (is the freed space reused?). A writer stops "
             "early if the file reaches %s on disk (the machine's disk is shared).\n\n"
             "eve's figures are `eve_stats_get` in the writer process (the only one that "
             "allocates; \"retired\": replaced blocks waiting for the reader); on disk is `st_blocks` × 512 of the domain file (stat, from "
             "outside: the API has no such figure). LMDB: \"file\" is the used part, (last page "
             "+ 1) × page size (data.mdb itself is as large as the map size, sparse, under "
             "MDB_WRITEMAP); \"live\" the B-tree's pages (branch + leaf + overflow); \"free\" the "
             "pages on its freelist, and \"retired, waiting\" those of them freed by "
             "transactions no older than the oldest reader's (`mdb_reader_list`), which LMDB "
             "cannot reuse yet; on disk is data.mdb's `st_blocks` × 512. The held version "
             "is the live bytes when the reader began (the whole map it holds). Issue 11's "
             "targets: file ≤ 1.5 × (live + the held version) at the end of the hold; on disk "
             "≤ 1.2 × live once the reader has ended.\n\n",
          cfg->s7_hold, CATCHUP, REUSE, fmt_bytes(b, (double)cfg->s7_cap));
  if (base) fprintf(f, "\"before\": %s (`%s`).\n\n", g_base_what, base_name(cfg->baseline));
  fputs("| |", f);
  for (int i = 0; i < nr; i++) {
    fprintf(f, " %s %s |", r[i].sys == SYS_EVE ? "**eve**" : "LMDB", exp_label(b, r[i].n));
    if (base && r[i].sys == SYS_EVE) fprintf(f, " eve %s before |", exp_label(b, r[i].n));
  }
  fputs("\n|---|", f);
  for (int i = 0; i < nr; i++) fputs(base && r[i].sys == SYS_EVE ? "---|---|" : "---|", f);
  fputc('\n', f);
  for (int k = 0; k < S7_NROWS; k++) {
    fprintf(f, "| %s |", S7_ROWS[k].label);
    for (int i = 0; i < nr; i++) {
      double v = s7_value(&r[i], k);
      int signed_row = k == 22 || k == 23;
      if (signed_row && r[i].ok && v < 0) fprintf(f, " grew by %s |", fmt_bytes(b, -v));
      else if (signed_row && r[i].ok && v == 0) fputs(" 0 |", f);
      else cell(f, S7_ROWS[k].kind, v);
      if (base && r[i].sys == SYS_EVE) {
        snprintf(key, sizeof key, "s7.eve.%llu.%s", (unsigned long long)r[i].n, S7_ROWS[k].key);
        cell(f, S7_ROWS[k].kind, kv_base(key));
      }
    }
    fputc('\n', f);
  }
  fputc('\n', f);
}

static const row S8_ROWS[] = {
    {"orders", "orders (all writers)", K_COUNT},
    {"rate", "orders per second", K_RATE},
    {"retries", "retries per order", K_NUM},
    {"samples", "observer samples", K_COUNT},
    {"first.file", "before the writers: file", K_BYTES},
    {"first.reach", "before the writers: reachable (eve_check)", K_BYTES},
    {"peak.file", "**peak file**", K_BYTES},
    {"peak.live", "eve_stats live at the peak sample", K_BYTES},
    {"max_live", "largest eve_stats live of any sample", K_BYTES},
    {"max_disk", "largest on disk of any sample", K_BYTES},
    {"end.reach", "live: reachable after the writers (eve_check)", K_BYTES},
    {"bound", "2 × live + 4 MiB", K_BYTES},
    {"peak_bound", "**peak file / (2 × live + 4 MiB)** (target ≤ 1)", K_RATIO},
    {"end.file", "writers exited: file", K_BYTES},
    {"end.disk", "writers exited: on disk", K_BYTES},
    {"end.live", "writers exited: eve_stats live", K_BYTES},
    {"end.free", "writers exited: free", K_BYTES},
    {"end.retired", "writers exited: retired, waiting (LMDB: freelist pages not reusable yet)", K_BYTES},
    {"end.disk_live", "**writers exited: on disk / live** (target ≤ 1.2×)", K_RATIO},
    {"end.disk_first", "writers exited: on disk / on disk before the writers", K_RATIO},
};
enum { S8_NROWS = sizeof S8_ROWS / sizeof S8_ROWS[0] };

static double s8_value(const s8_result *r, int i) {
  const s8_ctl *c = &r->c;
  if (!r->ok) return -1;
  double live = (double)c->end.reach, bound = 2.0 * live + 4 * MIB, eve = r->sys == SYS_EVE;
  switch (i) {
  case 0: return (double)r->g.ops;
  case 1: return r->g.ops_per_s;
  case 2: return eve ? r->g.retry_rate : -1;
  case 3: return (double)c->samples;
  case 4: return (double)c->first.file;
  case 5: return (double)c->first.reach;
  case 6: return (double)c->peak.file;
  case 7: return (double)c->peak.live;
  case 8: return (double)c->max_live;
  case 9: return (double)c->max_disk;
  case 10: return live;
  case 11: return bound;
  case 12: return ratio((double)c->peak.file, bound);
  case 13: return (double)c->end.file;
  case 14: return (double)c->end.disk;
  case 15: return (double)c->end.live;
  case 16: return (double)c->end.free;
  case 17: return (double)c->end.retired;
  case 18: return ratio((double)c->end.disk, live);
  case 19: return ratio((double)c->end.disk, (double)c->first.disk);
  }
  return -1;
}

static void s8_table(FILE *f, const s8_result *r) {
  char key[64], b[32];
  int base = g_nbase > 0;
  fprintf(f, "## 8. Oversubscribed writers\n\n"
             "%d writer processes on %ld cores run the workload of `eve demo` (tools/demo.c: one "
             "atom holding a small shop map; each order is one write txn and one swap that "
             "updates stock, sold, the order count, the worker's count and its last-8 vector; "
             "bench/shop.c copies its swap function) for %g s (eve) and %g s (LMDB: the same "
             "reads and writes on separate keys, one write txn per order; its writers "
             "serialise on its mutex). A writer preempted inside its transaction keeps its "
             "epoch pinned meanwhile. An observer process samples the space every %d ms (eve: "
             "`eve_stats_get`, which itself begins and ends a short read transaction; LMDB: "
             "`mdb_env_info`, `mdb_stat` and the freelist in a short read txn) and stats the "
             "file; the peak is the sample with the largest file.\n\n"
             "\"Live\" for the targets is what is reachable: `eve_check`'s reachable bytes "
             "(LMDB: the B-tree's pages), measured by the observer once the writers have exited "
             "(the shop's size is bounded: it is as large during the run). `eve_stats`' "
             "live_bytes seen by the observer during the run is not that: it is the heap minus "
             "the free lists and the retired blocks, so the blocks in other processes' "
             "allocator caches and the fresh blocks of their open transactions count as live "
             "there. \"Writers exited\": the observer, still attached, measures 0.6 s after "
             "the last writer exited. Issue 11's targets: peak file ≤ 2 × live + 4 MiB; on "
             "disk ≤ 1.2 × live after the writers stop. A new domain's file is %s before any "
             "value (the header, the reader slots, the liveness page), so with a value this "
             "small the second target cannot be met by any file eve can have; the last row "
             "shows the growth instead.\n\n",
          S8_PROCS, sysconf(_SC_NPROCESSORS_ONLN), r[SYS_EVE].secs, r[SYS_LMDB].secs, SAMPLE_MS,
          fmt_bytes(b, r[SYS_EVE].ok ? (double)r[SYS_EVE].c.first.disk : -1));
  if (base) fprintf(f, "\"before\": %s.\n\n", g_base_what);
  fprintf(f, "| | **eve** |%s LMDB |\n|---|---|%s---|\n", base ? " eve before |" : "",
          base ? "---|" : "");
  for (int k = 0; k < S8_NROWS; k++) {
    fprintf(f, "| %s |", S8_ROWS[k].label);
    cell(f, S8_ROWS[k].kind, s8_value(&r[SYS_EVE], k));
    if (base) {
      snprintf(key, sizeof key, "s8.eve.%s", S8_ROWS[k].key);
      cell(f, S8_ROWS[k].kind, kv_base(key));
    }
    cell(f, S8_ROWS[k].kind, s8_value(&r[SYS_LMDB], k));
    fputc('\n', f);
  }
  fputc('\n', f);
}

/* ---- targets ----------------------------------------------------------------------- */

static void s7_targets(const s7_result *r, int nr) {
  char a[32], b[32], c[32], d[32], e[32], l[16];
  for (int i = 0; i < nr; i++) {
    if (r[i].sys != SYS_EVE) continue;
    const s7_result *lm = i + 1 < nr && r[i + 1].sys == SYS_LMDB ? &r[i + 1] : NULL;
    double x = s7_value(&r[i], 15), y = s7_value(&r[i], 21);
    double lx = lm ? s7_value(lm, 15) : -1, ly = lm ? s7_value(lm, 21) : -1;
    char t1[160], t2[160];
    snprintf(t1, sizeof t1, "N=%s, reader held %.0f s: file ≤ 1.5 × (live + the held version)",
             exp_label(l, r[i].n), r[i].ok ? r[i].c.hold_secs : -1.0);
    snprintf(t2, sizeof t2, "N=%s, after the reader ends: on disk ≤ 1.2 × live", exp_label(l, r[i].n));
    report_target("7", t1, x < 0 ? -1 : x <= 1.5,
                  "%s (file %s, live %s, held %s; LMDB's used part / (tree + held): %s)",
                  x < 0 ? "—" : (snprintf(a, sizeof a, "%.2f×", x), a),
                  fmt_bytes(b, r[i].ok ? (double)r[i].c.held.file : -1),
                  fmt_bytes(c, r[i].ok ? (double)r[i].c.held.live : -1),
                  fmt_bytes(d, r[i].load.ok ? (double)r[i].load.live : -1),
                  lx < 0 ? "—" : (snprintf(e, sizeof e, "%.2f×", lx), e));
    report_target("7", t2, y < 0 ? -1 : y <= 1.2,
                  "%s (on disk %s, live %s; LMDB: %s)", y < 0 ? "—" : (snprintf(a, sizeof a, "%.2f×", y), a),
                  fmt_bytes(b, r[i].ok ? (double)r[i].c.after.disk : -1),
                  fmt_bytes(c, r[i].ok ? (double)r[i].c.after.live : -1),
                  ly < 0 ? "—" : (snprintf(e, sizeof e, "%.2f×", ly), e));
    double z = s7_value(&r[i], 25);
    snprintf(t2, sizeof t2, "N=%s, after the reader ends and eve_trim: on disk ≤ 1.2 × live",
             exp_label(l, r[i].n));
    report_target("7", t2, z < 0 ? -1 : z <= 1.2, "%s (on disk %s, live %s)",
                  z < 0 ? "—" : (snprintf(a, sizeof a, "%.2f×", z), a),
                  fmt_bytes(b, r[i].ok ? (double)r[i].c.trimmed.disk : -1),
                  fmt_bytes(c, r[i].ok ? (double)r[i].c.trimmed.live : -1));
  }
}

static void s8_targets(const s8_result *r) {
  char a[32], b[32], c[32], d[32], e[32];
  double x = s8_value(&r[SYS_EVE], 12), y = s8_value(&r[SYS_EVE], 18);
  double lx = s8_value(&r[SYS_LMDB], 12), ly = s8_value(&r[SYS_LMDB], 18);
  report_target("8", "8 writer processes: peak file ≤ 2 × live + 4 MiB", x < 0 ? -1 : x <= 1,
                "peak %s vs bound %s = %s (live %s; LMDB: %s)", fmt_bytes(a, s8_value(&r[SYS_EVE], 6)),
                fmt_bytes(b, s8_value(&r[SYS_EVE], 11)), x < 0 ? "—" : (snprintf(c, sizeof c, "%.2f×", x), c),
                fmt_bytes(d, s8_value(&r[SYS_EVE], 10)), lx < 0 ? "—" : (snprintf(e, sizeof e, "%.2f×", lx), e));
  report_target("8", "after the writers stop: on disk ≤ 1.2 × live", y < 0 ? -1 : y <= 1.2,
                "%s (on disk %s, live %s; LMDB: %s)", y < 0 ? "—" : (snprintf(a, sizeof a, "%.2f×", y), a),
                fmt_bytes(b, s8_value(&r[SYS_EVE], 14)), fmt_bytes(c, s8_value(&r[SYS_EVE], 10)),
                ly < 0 ? "—" : (snprintf(e, sizeof e, "%.2f×", ly), e));
}

/* ---- the scenarios ------------------------------------------------------------------ */

void scen_reclaim(const bench_cfg *cfg) {
  static s7_result r7[4];
  static s8_result r8[NSYS];
  int want7 = bench_wants(cfg, '7'), want8 = bench_wants(cfg, '8'), nr = 0;
  if (!want7 && !want8) return;
  int have_base = base_read(cfg->baseline);
  if (want7) {
    uint64_t sizes[2] = {100000, 1000000};
    int nsizes = cfg->quick ? 1 : 2;
    for (int k = 0; k < nsizes; k++)
      for (int sys = 0; sys < NSYS; sys++) s7_one(cfg, sys, sizes[k], &r7[nr++]);
    s7_table(report_section(7), cfg, r7, nr);
    s7_targets(r7, nr);
  }
  if (want8) {
    s8_one(cfg, SYS_EVE, cfg->s8_seconds, &r8[SYS_EVE]);
    double lsecs = cfg->s8_seconds / 4 < 1 ? 1 : cfg->s8_seconds / 4;
    s8_one(cfg, SYS_LMDB, lsecs, &r8[SYS_LMDB]);
    s8_table(report_section(8), r8);
    s8_targets(r8);
  }
  char capb[32];
  report_note("Scenarios 7 and 8 alone: `make bench SCEN=S7,S8` (or SCEN=S7, SCEN=S8; the "
              "report then goes to build-bench/only/); `S7_HOLD=10` and `S8_SECONDS=60` set the "
              "reader's hold and the writers' run time (`--s7-hold`, `--s8-seconds` of "
              "eve-bench). This run: %g s and %g s.", cfg->s7_hold, cfg->s8_seconds);
  report_note("Scenarios 7 and 8 measure eve from outside the library: `eve_stats_get`, "
              "`eve_check` (reachable bytes) and `stat` of the file (on disk = `st_blocks` × 512: "
              "the API has no such figure). Scenario 8's LMDB run is a quarter of eve's time, to "
              "keep the run short (its footprint settles within seconds). Scenario 7's writers "
              "stop at %s on disk: the machine and its disk are shared. Nothing is asserted.",
              fmt_bytes(capb, (double)cfg->s7_cap));
  /* the figures, as a baseline: written by a full run of both scenarios when
   * there is none yet */
  char key[64];
  int all_ok = want7 && want8 && r8[SYS_EVE].ok;
  for (int i = 0; i < nr; i++) {
    if (r7[i].sys != SYS_EVE) continue;
    all_ok &= r7[i].ok;
    for (int k = 0; k < S7_NROWS; k++) {
      snprintf(key, sizeof key, "s7.eve.%llu.%s", (unsigned long long)r7[i].n, S7_ROWS[k].key);
      kv_put(key, s7_value(&r7[i], k));
    }
  }
  if (want8)
    for (int k = 0; k < S8_NROWS; k++) {
      snprintf(key, sizeof key, "s8.eve.%s", S8_ROWS[k].key);
      kv_put(key, s8_value(&r8[SYS_EVE], k));
    }
  if (cfg->baseline && !have_base && !cfg->quick && !cfg->only && all_ok) {
    if (base_write(cfg)) say("cannot write %s", cfg->baseline);
    else report_note("Scenarios 7 and 8: there was no baseline yet, so this run's eve figures "
                     "were written to `%s` as the \"before\" of the reclamation work (issue 11); "
                     "later runs print them beside their own.", base_name(cfg->baseline));
  }
}
