/* scen_writers.c — scenario 4: 1, 2, 4, 8 processes updating random keys of
 * the big map (10^6 keys; 10^5 in --quick).
 *
 * eve: each update is a write txn and a swap of the whole map atom, so
 * concurrent writers conflict on the root and retry.  LMDB: one write txn
 * per put; its writers serialise on the environment's mutex.  Redis: the
 * read-modify-write a client needs for the same guarantee, WATCH map / HGET
 * / MULTI HSET EXEC, retried when EXEC aborts. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "measure.h"

enum { SYS_EVE, SYS_LMDB, SYS_REDIS, NSYS };
static const char *const SYS_NAME[NSYS] = {"eve", "LMDB", "Redis WATCH/MULTI/EXEC"};
static const int PROCS[] = {1, 2, 4, 8};
enum { NPROCS = 4 };

typedef struct wr_job {
  int sys, nprocs;
  uint64_t count, nkeys;
  const char *path;
} wr_job;

typedef struct wr_state {
  ev_store ev;
  lm_store *lm;
  rd_conn *rd;
} wr_state;

static int wr_setup(int id, void *arg, void **state) {
  (void)id;
  wr_job *j = arg;
  wr_state *s = calloc(1, sizeof *s);
  if (!(*state = s)) return -1;
  if (j->sys == SYS_EVE) return ev_open(&s->ev, j->path, "map");
  if (j->sys == SYS_LMDB) return lm_open(&s->lm, j->path);
  return rd_connect(&s->rd);
}

static int wr_one(const wr_job *j, wr_state *s, uint64_t i, uint64_t gen, uint64_t *attempts) {
  if (j->sys == SYS_EVE) return ev_update(&s->ev, i, gen, attempts);
  if (j->sys == SYS_LMDB) return ++*attempts, lm_update(s->lm, i, gen);
  return rd_hset_rmw(s->rd, "map", i, gen, attempts);
}

static int wr_run(int id, void *arg, void *state, worker_result *r) {
  wr_job *j = arg;
  rng g = rng_make((uint64_t)j->nprocs * 1000 + (uint64_t)id);
  int rc = 0;
  r->t_start = now_ns();
  for (uint64_t n = 0; n < j->count && !rc; n++) {
    uint64_t gen = ((uint64_t)(id + 1) << 40) + ((uint64_t)j->nprocs << 32) + n;
    rc = wr_one(j, state, rng_below(&g, j->nkeys), gen, &r->attempts);
    r->ops += !rc;
  }
  r->t_end = now_ns();
  return rc;
}

static void wr_teardown(void *state) {
  wr_state *s = state;
  ev_close(&s->ev);
  lm_close(s->lm);
  rd_disconnect(s->rd);
  free(s);
}

static const worker_ops WR_OPS = {wr_setup, wr_run, wr_teardown};

static uint64_t per_proc(const bench_cfg *cfg, int sys) {
  static const uint64_t full[NSYS] = {40000, 40000, 4000}, quick[NSYS] = {4000, 4000, 500};
  return cfg->quick ? quick[sys] : full[sys];
}

static int redis_load(uint64_t n) {
  rd_conn *c;
  if (!rd_available() || rd_connect(&c)) return -1;
  int rc = rd_flush(c) || rd_load(c, "map", n);
  rd_disconnect(c);
  return rc ? -1 : 0;
}

static void table(FILE *f, const bench_cfg *cfg, group_result g[NSYS][NPROCS]) {
  char a[32], b[32], c[32], x[32], y[32], n[32];
  snprintf(n, sizeof n, "%llu", (unsigned long long)big_n(cfg));
  fprintf(f, "## 4. Map updates from 1, 2, 4, 8 processes\n\n"
             "Random keys of a %s-key map (the map of scenario 5, after its updates). "
             "Updates per process: eve %llu, LMDB %llu, Redis %llu. eve: one write txn and one "
             "`eve_swap` per update, so every writer conflicts on the map's root and retries "
             "(the swap function runs again); LMDB: one write txn per `mdb_put`, writers "
             "serialised by its mutex (4 writers = 4 processes); Redis: `WATCH map`, `HGET`, "
             "then `MULTI`/`HSET`/`EXEC` pipelined, retried when EXEC aborts. Retries: extra "
             "attempts per completed update.\n\n"
             "![map update throughput vs. processes](bench/map_throughput.png)\n\n"
             "| processes | eve | eve retries | LMDB | Redis RMW | Redis retries | eve / LMDB | eve / Redis |\n"
             "|---|---|---|---|---|---|---|---|\n",
          n, (unsigned long long)per_proc(cfg, SYS_EVE), (unsigned long long)per_proc(cfg, SYS_LMDB),
          (unsigned long long)per_proc(cfg, SYS_REDIS));
  for (int p = 0; p < NPROCS; p++)
    fprintf(f, "| %d | %s | %.3f | %s | %s | %.3f | %s | %s |\n", PROCS[p],
            fmt_rate(a, g[SYS_EVE][p].ops_per_s), g[SYS_EVE][p].retry_rate,
            fmt_rate(b, g[SYS_LMDB][p].ops_per_s), fmt_rate(c, g[SYS_REDIS][p].ops_per_s),
            g[SYS_REDIS][p].retry_rate, fmt_ratio(x, g[SYS_EVE][p].ops_per_s, g[SYS_LMDB][p].ops_per_s),
            fmt_ratio(y, g[SYS_EVE][p].ops_per_s, g[SYS_REDIS][p].ops_per_s));
  fputc('\n', f);
}

static void write_dat(const bench_cfg *cfg, group_result g[NSYS][NPROCS]) {
  FILE *f = data_file(cfg, "map.dat");
  if (!f) return;
  fprintf(f, "# procs eve lmdb redis_rmw (updates/s)\n");
  for (int p = 0; p < NPROCS; p++) {
    fprintf(f, "%d", PROCS[p]);
    for (int s = 0; s < NSYS; s++) dat_num(f, g[s][p].ops_per_s);
    fputc('\n', f);
  }
  fclose(f);
}

void scen_writers(const bench_cfg *cfg) {
  static group_result g[NSYS][NPROCS];
  char ev_path[600], lm_dir[600];
  uint64_t n = big_n(cfg);
  int have = !ensure_big(cfg, ev_path, lm_dir, sizeof ev_path);
  int redis = !redis_load(n);
  for (int s = 0; s < NSYS; s++)
    for (int p = 0; p < NPROCS; p++) {
      g[s][p] = (group_result){.ops_per_s = -1};
      if ((s == SYS_REDIS && !redis) || (s != SYS_REDIS && !have)) continue;
      wr_job j = {s, PROCS[p], per_proc(cfg, s), n, s == SYS_EVE ? ev_path : lm_dir};
      say("S4 map updates: %s, %d processes", SYS_NAME[s], PROCS[p]);
      g[s][p] = run_workers(PROCS[p], &WR_OPS, &j);
      if (g[s][p].failed) {
        say("S4 %s with %d processes: a worker failed", SYS_NAME[s], PROCS[p]);
        g[s][p].ops_per_s = -1;
      }
    }
  table(report_section(4), cfg, g);
  write_dat(cfg, g);
  char a[32], b[32], c[32];
  if (g[SYS_EVE][3].ops_per_s > 0)
    report_context("8 concurrent writer processes, one map (scenario 4)", "%s swaps",
                   fmt_rate(a, g[SYS_EVE][3].ops_per_s));
  double e = g[SYS_EVE][2].ops_per_s, l = g[SYS_LMDB][2].ops_per_s;
  report_target("4", "4-process map update throughput ≥ 2 × LMDB (4 writer processes)",
                e > 0 && l > 0 ? e >= 2 * l : -1, "%s (eve %s, LMDB %s; eve retries %.2f per update)",
                fmt_ratio(a, e, l), fmt_rate(b, e), fmt_rate(c, l), g[SYS_EVE][2].retry_rate);
}
