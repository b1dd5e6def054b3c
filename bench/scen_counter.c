/* scen_counter.c — scenario 3: one counter.
 *
 * Single process: latency of one increment (eve: a write txn and a swap of
 * an immediate integer, which allocates nothing), against a bare CAS loop
 * on shared memory (the physical floor), LMDB (get+put in a write txn) and
 * Redis INCR.  Then 1, 2, 4, 8 processes incrementing one counter: the
 * throughput, the retry rate and whether the final count is exact. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "measure.h"

enum { SYS_EVE, SYS_CAS, SYS_LMDB, SYS_REDIS, NSYS };
static const char *const SYS_NAME[NSYS] = {"eve", "bare CAS", "LMDB", "Redis INCR"};
static const int PROCS[] = {1, 2, 4, 8};
enum { NPROCS = 4, BATCH = 64, TXN_BATCH = 1000 };

typedef struct cnt_cfg {
  size_t lat, lat_slow, warm;     /* single-process samples            */
  uint64_t per_proc[NSYS];        /* increments per worker             */
} cnt_cfg;

static cnt_cfg cnt_cfg_for(const bench_cfg *cfg) {
  if (cfg->quick) return (cnt_cfg){20000, 3000, 1000, {20000, 200000, 5000, 2000}};
  return (cnt_cfg){200000, 30000, 10000, {300000, 3000000, 60000, 20000}};
}

/* ---- adapters ------------------------------------------------------------ */

static int op_ev_inc(void *c, uint64_t i, uint64_t g) { (void)i, (void)g; return ev_inc(c, NULL); }
static int op_cas_inc(void *c, uint64_t i, uint64_t g) { (void)i, (void)g; cas_inc(c); return 0; }
static int op_lm_inc(void *c, uint64_t i, uint64_t g) { (void)i, (void)g; return lm_inc(c); }
static int op_rd_inc(void *c, uint64_t i, uint64_t g) { (void)i, (void)g; return rd_incr(c, "counter"); }

/* Samples of BATCH consecutive ops: amortises the clock for ops that cost
 * about as much as reading it.  Percentiles are per op (batch / BATCH). */
static summary measure_batched(op_fn fn, void *ctx, size_t n, int *err) {
  samples s;
  *err = 0;
  if (samples_init(&s, n / BATCH + 1)) return NO_SUMMARY;
  uint64_t start = now_ns();
  for (size_t j = 0; j + BATCH <= n && !*err; j += BATCH) {
    uint64_t t0 = now_ns();
    for (int b = 0; b < BATCH && !*err; b++) *err = fn(ctx, 0, 0);
    samples_add(&s, now_ns() - t0);
  }
  double wall = (double)(now_ns() - start) / 1e9;
  summary out = *err ? NO_SUMMARY : summarize(&s);
  if (!*err) {
    out.p50_us /= BATCH, out.p99_us /= BATCH, out.mean_us /= BATCH;
    out.ops_per_s = (double)(s.n * BATCH) / wall;
  }
  samples_free(&s);
  return out;
}

static summary ev_txn_batches(ev_store *s, size_t n, int *err) {
  samples lat;
  *err = 0;
  if (samples_init(&lat, n)) return NO_SUMMARY;
  uint64_t t0 = now_ns();
  for (size_t done = 0; done < n && !*err; done += TXN_BATCH)
    *err = ev_inc_batch_txn(s, &lat, n - done < TXN_BATCH ? n - done : TXN_BATCH);
  double wall = (double)(now_ns() - t0) / 1e9;
  summary out = *err ? NO_SUMMARY : summarize(&lat);
  if (!*err) out.ops_per_s = (double)lat.n / wall;
  samples_free(&lat);
  return out;
}

/* ---- single process ----------------------------------------------------- */

typedef struct single {
  summary ev, ev_txn, ev_batch, cas, cas_batch, lm, rd;
} single;

static void single_process(const bench_cfg *cfg, const cnt_cfg *k, single *r, cas_cell *cell) {
  char path[600], dir[600];
  int err;
  ev_store ev;
  lm_store *lm = NULL;
  rd_conn *rd = NULL;
  *r = (single){NO_SUMMARY, NO_SUMMARY, NO_SUMMARY, NO_SUMMARY, NO_SUMMARY, NO_SUMMARY, NO_SUMMARY};
  say("S3 counter, single process");
  if (!ev_open(&ev, scratch(cfg, "counter.eve", path, sizeof path), "counter")) {
    r->ev = measure_ops(op_ev_inc, &ev, 1, 1, k->warm, k->lat, &err);
    r->ev_txn = ev_txn_batches(&ev, k->lat, &err);
    r->ev_batch = measure_batched(op_ev_inc, &ev, k->lat, &err);
    ev_close(&ev);
  }
  cas_reset(cell);
  r->cas = measure_ops(op_cas_inc, cell, 1, 1, k->warm, k->lat, &err);
  r->cas_batch = measure_batched(op_cas_inc, cell, k->lat, &err);
  if (!lm_open(&lm, scratch(cfg, "counter-lmdb", dir, sizeof dir))) {
    r->lm = measure_ops(op_lm_inc, lm, 1, 1, k->warm, k->lat_slow, &err);
    lm_close(lm);
  }
  if (rd_available() && !rd_connect(&rd)) {
    r->rd = measure_ops(op_rd_inc, rd, 1, 1, k->warm / 4, k->lat_slow, &err);
    rd_disconnect(rd);
  }
  remove_tree(path);
  remove_tree(dir);
}

/* ---- workers --------------------------------------------------------------- */

typedef struct cnt_job {
  int sys;
  uint64_t count;
  char path[600];
  cas_cell *cell;
} cnt_job;

typedef struct cnt_state {
  int sys;
  ev_store ev;
  lm_store *lm;
  rd_conn *rd;
} cnt_state;

static int cnt_setup(int id, void *arg, void **state) {
  (void)id;
  cnt_job *j = arg;
  cnt_state *s = calloc(1, sizeof *s);
  if (!(*state = s)) return -1;
  s->sys = j->sys;
  if (j->sys == SYS_EVE) return ev_open(&s->ev, j->path, "counter");
  if (j->sys == SYS_LMDB) return lm_open(&s->lm, j->path);
  if (j->sys == SYS_REDIS) return rd_connect(&s->rd);
  return 0;
}

static int cnt_run(int id, void *arg, void *state, worker_result *r) {
  (void)id;
  cnt_job *j = arg;
  cnt_state *s = state;
  int rc = 0;
  r->t_start = now_ns();
  for (uint64_t n = 0; n < j->count && !rc; n++) {
    switch (j->sys) {
    case SYS_EVE: rc = ev_inc(&s->ev, &r->attempts); break;
    case SYS_CAS: r->attempts += cas_inc(j->cell); break;
    case SYS_LMDB: rc = lm_inc(s->lm), r->attempts++; break;
    default: rc = rd_incr(s->rd, "counter"), r->attempts++; break;
    }
    r->ops += !rc;
  }
  r->t_end = now_ns();
  return rc;
}

static void cnt_teardown(void *state) {
  cnt_state *s = state;
  if (s->sys == SYS_EVE) ev_close(&s->ev);
  if (s->lm) lm_close(s->lm);
  if (s->rd) rd_disconnect(s->rd);
  free(s);
}

static const worker_ops CNT_OPS = {cnt_setup, cnt_run, cnt_teardown};

/* Prepare a fresh counter, run, read the final value. */
static int64_t final_value(cnt_job *j) {
  int64_t v = -1;
  if (j->sys == SYS_EVE) {
    ev_store s;
    if (!ev_open(&s, j->path, "counter")) ev_counter_value(&s, &v), ev_close(&s);
  } else if (j->sys == SYS_CAS) {
    v = (int64_t)cas_value(j->cell);
  } else if (j->sys == SYS_LMDB) {
    lm_store *s;
    if (!lm_open(&s, j->path)) lm_counter_value(s, &v), lm_close(s);
  } else {
    rd_conn *c;
    if (!rd_connect(&c)) rd_get_int(c, "counter", &v), rd_disconnect(c);
  }
  return v;
}

static void fresh_counter(const bench_cfg *cfg, cnt_job *j) {
  if (j->sys == SYS_EVE) scratch(cfg, "counter.eve", j->path, sizeof j->path);
  if (j->sys == SYS_LMDB) scratch(cfg, "counter-lmdb", j->path, sizeof j->path);
  if (j->sys == SYS_CAS) cas_reset(j->cell);
  rd_conn *c;
  if (j->sys == SYS_REDIS && !rd_connect(&c)) rd_flush(c), rd_disconnect(c);
}

typedef struct multi {
  group_result g[NSYS][NPROCS];
  int exact[NSYS][NPROCS];  /* 1 exact, 0 wrong, -1 not run */
} multi;

static void multi_process(const bench_cfg *cfg, const cnt_cfg *k, multi *m, cas_cell *cell) {
  for (int s = 0; s < NSYS; s++)
    for (int p = 0; p < NPROCS; p++) {
      m->exact[s][p] = -1;
      m->g[s][p] = (group_result){.ops_per_s = -1};
      if (s == SYS_REDIS && !rd_available()) continue;
      cnt_job j = {s, k->per_proc[s], "", cell};
      fresh_counter(cfg, &j);
      say("S3 counter: %s, %d processes", SYS_NAME[s], PROCS[p]);
      m->g[s][p] = run_workers(PROCS[p], &CNT_OPS, &j);
      int64_t v = final_value(&j), want = (int64_t)j.count * PROCS[p];
      m->exact[s][p] = !m->g[s][p].failed && v == want;
      if (v != want) say("%s: final count %lld, expected %lld", SYS_NAME[s], (long long)v, (long long)want);
      if (m->g[s][p].failed) m->g[s][p].ops_per_s = -1;
      if (s != SYS_CAS) remove_tree(j.path);
    }
}

/* ---- the report ------------------------------------------------------------ */

static void table_single(FILE *f, const single *r) {
  double e = r->ev.p50_us, eb = r->ev_batch.p50_us;
  fprintf(f, "## 3. Counter atom\n\n"
             "### Single process: latency of one increment\n\n"
             "eve: `eve_txn_begin(WRITE)`, `eve_swap` with a function that reads the integer and "
             "builds n+1 (an immediate: nothing is allocated), `eve_txn_end`. The bare CAS is "
             "a load and a `compare_exchange_weak` loop on a word of shared memory. An "
             "increment costs about as much as the clock, so the rows \"%d per sample\" time "
             "%d consecutive increments and divide: those are the fair comparison with the CAS "
             "floor. Ratios: eve's p50 over the row's, in the same timing mode.\n\n"
             "| mode | system | p50 | p99 | throughput | eve p50 / this p50 |\n"
             "|---|---|---|---|---|---|\n",
          BATCH, BATCH);
  row_latency(f, "per op", "**eve**, one txn per swap", &r->ev, -1);
  row_latency(f, "per op", "eve, one txn for 1000 swaps", &r->ev_txn, e);
  row_latency(f, "per op", "bare CAS loop", &r->cas, e);
  row_latency(f, "per op", "LMDB get+put, one txn", &r->lm, e);
  row_latency(f, "per op", "Redis INCR", &r->rd, e);
  row_latency(f, "64 per sample", "**eve**, one txn per swap", &r->ev_batch, -1);
  row_latency(f, "64 per sample", "bare CAS loop", &r->cas_batch, eb);
  fputc('\n', f);
}

static const char *exact_mark(int e) { return e < 0 ? "—" : e ? "exact" : "**WRONG**"; }

static void table_multi(FILE *f, const multi *m, const cnt_cfg *k) {
  char a[32], b[32], c[32], d[32], x[32], y[32], z[32];
  fprintf(f, "### 1, 2, 4, 8 processes incrementing one counter\n\n"
             "Increments per process: eve %llu, CAS %llu, LMDB %llu, Redis %llu. Each eve "
             "increment is its own write transaction. Retries: extra attempts per completed "
             "increment (eve: swap-function calls beyond the first; CAS: failed CASes). "
             "\"exact\": the final value equals processes × increments.\n\n"
             "![counter throughput vs. processes](bench/counter_throughput.png)\n\n"
             "| processes | eve | eve retries | eve count | bare CAS | CAS retries | LMDB | Redis INCR "
             "| counts (CAS, LMDB, Redis) | eve / CAS | eve / LMDB | eve / Redis |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
          (unsigned long long)k->per_proc[SYS_EVE], (unsigned long long)k->per_proc[SYS_CAS],
          (unsigned long long)k->per_proc[SYS_LMDB], (unsigned long long)k->per_proc[SYS_REDIS]);
  for (int p = 0; p < NPROCS; p++) {
    const group_result *g = m->g[0] + p, *cs = m->g[SYS_CAS] + p, *l = m->g[SYS_LMDB] + p,
                       *r = m->g[SYS_REDIS] + p;
    fprintf(f, "| %d | %s | %.3f | %s | %s | %.3f | %s | %s | %s, %s, %s | %s | %s | %s |\n",
            PROCS[p], fmt_rate(a, g->ops_per_s), g->retry_rate, exact_mark(m->exact[0][p]),
            fmt_rate(b, cs->ops_per_s), cs->retry_rate, fmt_rate(c, l->ops_per_s),
            fmt_rate(d, r->ops_per_s), exact_mark(m->exact[SYS_CAS][p]),
            exact_mark(m->exact[SYS_LMDB][p]), exact_mark(m->exact[SYS_REDIS][p]),
            fmt_ratio(x, g->ops_per_s, cs->ops_per_s), fmt_ratio(y, g->ops_per_s, l->ops_per_s),
            fmt_ratio(z, g->ops_per_s, r->ops_per_s));
  }
  fputc('\n', f);
}

static void write_dat(const bench_cfg *cfg, const multi *m) {
  FILE *f = data_file(cfg, "counter.dat");
  if (!f) return;
  fprintf(f, "# procs eve cas lmdb redis (ops/s)\n");
  for (int p = 0; p < NPROCS; p++) {
    fprintf(f, "%d", PROCS[p]);
    for (int s = 0; s < NSYS; s++) dat_num(f, m->g[s][p].ops_per_s);
    fputc('\n', f);
  }
  fclose(f);
}

static void targets(const single *r, const multi *m) {
  char a[32], b[32], c[32];
  int exact = 1;
  double q = r->ev_batch.p50_us / r->cas_batch.p50_us;
  report_target("3", "single-process p50 ≤ 4 × bare CAS loop", summary_ok(&r->ev_batch) ? q <= 4 : -1,
                "%s (eve %.0f ns, CAS %.1f ns, %d ops per sample; timed per op: %.0f vs %.0f ns)",
                fmt_ratio(a, r->ev_batch.p50_us, r->cas_batch.p50_us), r->ev_batch.p50_us * 1e3,
                r->cas_batch.p50_us * 1e3, BATCH, r->ev.p50_us * 1e3, r->cas.p50_us * 1e3);
  const group_result *e4 = &m->g[SYS_EVE][2], *r4 = &m->g[SYS_REDIS][2];
  if (r4->ops_per_s > 0 && e4->ops_per_s > 0)
    report_target("3", "4-process throughput ≥ 20 × Redis INCR (4 clients)",
                  e4->ops_per_s >= 20 * r4->ops_per_s, "%s (eve %s, Redis %s)",
                  fmt_ratio(a, e4->ops_per_s, r4->ops_per_s), fmt_rate(b, e4->ops_per_s),
                  fmt_rate(c, r4->ops_per_s));
  else
    report_target("3", "4-process throughput ≥ 20 × Redis INCR (4 clients)", -1, "not run");
  for (int p = 0; p < NPROCS; p++) exact &= m->exact[SYS_EVE][p] == 1;
  report_target("3", "final counts exact (eve, 1/2/4/8 processes)", exact,
                exact ? "exact in every run" : "a run was not exact (see scenario 3)");
}

void scen_counter(const bench_cfg *cfg) {
  cnt_cfg k = cnt_cfg_for(cfg);
  cas_cell *cell = cas_map();
  static single s;
  static multi m;
  if (!cell) {
    say("mmap failed");
    return;
  }
  single_process(cfg, &k, &s, cell);
  multi_process(cfg, &k, &m, cell);
  FILE *f = report_section(3);
  table_single(f, &s);
  table_multi(f, &m, &k);
  write_dat(cfg, &m);
  targets(&s, &m);
  cas_unmap(cell);
}
