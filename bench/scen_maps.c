/* scen_maps.c — scenarios 1 (swap latency), 2 (point reads) and 5
 * (footprint) over maps of N = 10^3 .. 10^max_exp string keys.
 *
 * For each N: load eve, LMDB and Redis with the same keys and values, then
 * time the same sequence of random keys on each.  The map of big_n() keys
 * (10^6; 10^5 in --quick) is kept for scenarios 4 and 6 after scenario 5
 * has run its updates on it. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/stat.h>

#include "measure.h"

enum { MAX_SIZES = 8, READ_BATCH = 1000, SWAP_BATCH = 1000 };

typedef struct counts {
  size_t swaps, warm, reads, rd_reads, batch_lat, batch_rate, updates;
} counts;

typedef struct size_result {
  uint64_t n;
  double load_ev, load_lm, load_rd;  /* seconds, -1 if not run */
  uint64_t ev_file, lm_disk;
  summary sw_ev, sw_ev_txn, sw_lm, sw_rd;
  summary rd_ev, rd_lm, rd_rd, rdm_ev, rdm_lm;
} size_result;

typedef struct footprint {
  int done;
  uint64_t n, updates;
  uint64_t ev_file[2], ev_live[2], ev_disk[2];
  uint64_t lm_used[2], lm_file[2], lm_disk[2];
  uint64_t rd_mem;
  double ev_rate, lm_rate;
  summary sw_ev, sw_lm;  /* scenario 1's measurement again, after the updates */
} footprint;

typedef struct stores {
  ev_store ev;
  lm_store *lm;
  rd_conn *rd;
} stores;

static counts counts_for(const bench_cfg *cfg) {
  if (cfg->quick) return (counts){3000, 500, 5000, 2000, 10, 100, 100000};
  return (counts){20000, 2000, 50000, 20000, 50, 1000, 10000000};
}

uint64_t big_n(const bench_cfg *cfg) { return cfg->quick ? 100000 : 1000000; }

static uint64_t pow10u(int e) {
  uint64_t n = 1;
  while (e-- > 0) n *= 10;
  return n;
}

void store_paths(const bench_cfg *cfg, uint64_t n, char *ev, char *lm, size_t len) {
  snprintf(ev, len, "%s/map-%llu.eve", cfg->work_dir, (unsigned long long)n);
  snprintf(lm, len, "%s/lmdb-%llu", cfg->work_dir, (unsigned long long)n);
}

static int wants_maps(const bench_cfg *cfg) { return bench_wants(cfg, '1') || bench_wants(cfg, '2'); }

/* ---- loading ------------------------------------------------------------ */

static double load_eve(ev_store *s, const char *path, uint64_t n) {
  remove_tree(path);
  int rc = ev_open(s, path, "map");
  uint64_t t0 = now_ns();
  if (!rc) rc = ev_load(s, n);
  if (rc) say("eve load of %llu keys: %s", (unsigned long long)n, ev_err(rc));
  return rc ? -1 : (double)(now_ns() - t0) / 1e9;
}

static double load_lmdb(lm_store **s, const char *dir, uint64_t n) {
  remove_tree(dir);
  int rc = lm_open(s, dir);
  uint64_t t0 = now_ns();
  if (!rc) rc = lm_load(*s, n);
  if (rc) say("LMDB load of %llu keys: error %d", (unsigned long long)n, rc);
  return rc ? -1 : (double)(now_ns() - t0) / 1e9;
}

static double load_redis(rd_conn **c, uint64_t n) {
  if (!rd_available() || rd_connect(c)) return *c = NULL, -1;
  uint64_t t0 = now_ns();
  if (rd_flush(*c) || rd_load(*c, "map", n)) {
    say("Redis load of %llu keys failed", (unsigned long long)n);
    rd_disconnect(*c);
    return *c = NULL, -1;
  }
  return (double)(now_ns() - t0) / 1e9;
}

/* Load keys 0..n-1 into eve and LMDB (the files stay), report the time. */
int ensure_big(const bench_cfg *cfg, char *ev_path, char *lm_dir, size_t len) {
  uint64_t n = big_n(cfg);
  store_paths(cfg, n, ev_path, lm_dir, len);
  if (file_bytes_of(ev_path) && disk_bytes_of(lm_dir)) return 0;
  ev_store ev;
  lm_store *lm = NULL;
  say("loading the %llu-key map", (unsigned long long)n);
  double a = load_eve(&ev, ev_path, n), b = load_lmdb(&lm, lm_dir, n);
  ev_close(&ev);
  lm_close(lm);
  return a < 0 || b < 0 ? -1 : 0;
}

/* ---- scenario 1 and 2 on one size --------------------------------------- */

static summary swap_batches(ev_store *s, uint64_t n, const counts *k, int *err) {
  samples lat;
  rng r = rng_make(n * 7 + 3);
  if (samples_init(&lat, k->swaps)) return NO_SUMMARY;
  uint64_t t0 = now_ns();
  *err = 0;
  for (size_t done = 0; done < k->swaps && !*err; done += SWAP_BATCH) {
    size_t m = k->swaps - done < SWAP_BATCH ? k->swaps - done : SWAP_BATCH;
    uint64_t gen = next_gen();
    for (size_t j = 1; j < m; j++) next_gen(); /* the batch uses gen .. gen+m-1 */
    *err = ev_update_batch_txn(s, &r, n, gen, &lat, m);
  }
  double wall = (double)(now_ns() - t0) / 1e9;
  summary out = *err ? NO_SUMMARY : summarize(&lat);
  if (!*err) out.ops_per_s = (double)lat.n / wall;
  samples_free(&lat);
  return out;
}

static void report_err(const char *what, uint64_t n, int err) {
  if (err) say("%s at N=%llu failed: %d", what, (unsigned long long)n, err);
}

static void scenario1(stores *st, size_result *r, const counts *k) {
  int err;
  uint64_t n = r->n, seed = n * 31 + 1;
  say("S1 swap latency, N=%llu", (unsigned long long)n);
  r->sw_ev = measure_ops(op_ev_update, &st->ev, n, seed, k->warm, k->swaps, &err);
  report_err("eve swap", n, err);
  r->sw_ev_txn = swap_batches(&st->ev, n, k, &err);
  report_err("eve swaps in one txn", n, err);
  r->sw_lm = measure_ops(op_lm_update, st->lm, n, seed, k->warm, k->swaps, &err);
  report_err("LMDB put", n, err);
  r->sw_rd = NO_SUMMARY;
  if (st->rd) r->sw_rd = measure_ops(op_rd_hset, st->rd, n, seed, k->warm / 4, k->swaps, &err);
  report_err("Redis HSET", n, err);
}

typedef int (*batch_fn)(void *s, rng *r, uint64_t n, samples *lat, size_t m);

static int ev_batch(void *s, rng *r, uint64_t n, samples *lat, size_t m) {
  return ev_read_batch_txn(s, r, n, lat, m);
}

static int lm_batch(void *s, rng *r, uint64_t n, samples *lat, size_t m) {
  return lm_read_batch_txn(s, r, n, lat, m);
}

/* Many reads per transaction: latency of each read (timed), then the
 * throughput of an untimed run. */
static summary read_batches(batch_fn fn, void *s, uint64_t n, const counts *k, int *err) {
  samples lat;
  rng r = rng_make(n * 11 + 5);
  if (samples_init(&lat, k->batch_lat * READ_BATCH)) return NO_SUMMARY;
  *err = 0;
  for (size_t b = 0; b < k->batch_lat && !*err; b++) *err = fn(s, &r, n, &lat, READ_BATCH);
  summary out = *err ? NO_SUMMARY : summarize(&lat);
  samples_free(&lat);
  uint64_t t0 = now_ns();
  for (size_t b = 0; b < k->batch_rate && !*err; b++) *err = fn(s, &r, n, NULL, READ_BATCH);
  if (!*err) out.ops_per_s = (double)(k->batch_rate * READ_BATCH) / ((double)(now_ns() - t0) / 1e9);
  return *err ? NO_SUMMARY : out;
}

static void scenario2(stores *st, size_result *r, const counts *k) {
  int err;
  uint64_t n = r->n, seed = n * 17 + 2;
  say("S2 point reads, N=%llu", (unsigned long long)n);
  r->rd_ev = measure_ops(op_ev_read, &st->ev, n, seed, k->warm, k->reads, &err);
  report_err("eve read", n, err);
  r->rd_lm = measure_ops(op_lm_read, st->lm, n, seed, k->warm, k->reads, &err);
  report_err("LMDB read", n, err);
  r->rd_rd = NO_SUMMARY;
  if (st->rd) r->rd_rd = measure_ops(op_rd_hget, st->rd, n, seed, k->warm / 4, k->rd_reads, &err);
  report_err("Redis HGET", n, err);
  r->rdm_ev = read_batches(ev_batch, &st->ev, n, k, &err);
  report_err("eve reads in one txn", n, err);
  r->rdm_lm = read_batches(lm_batch, st->lm, n, k, &err);
  report_err("LMDB reads in one txn", n, err);
}

/* ---- scenario 5 ------------------------------------------------------------ */

static void take_footprint(stores *st, footprint *fp, int when) {
  uint64_t tmp;
  if (ev_footprint(&st->ev, &fp->ev_file[when], &fp->ev_live[when], &fp->ev_disk[when]))
    say("eve stats failed");
  if (lm_footprint(st->lm, &fp->lm_used[when], &fp->lm_file[when], &fp->lm_disk[when]))
    say("LMDB stats failed");
  if (when == 0 && st->rd && !rd_memory(st->rd, &tmp)) fp->rd_mem = tmp;
}

static void scenario5_updates(stores *st, footprint *fp, const counts *k) {
  int err;
  say("S5 %zu random updates (eve, then LMDB)", k->updates);
  summary a = measure_rate(op_ev_update, &st->ev, fp->n, 555, k->updates, &err);
  report_err("eve steady-state updates", fp->n, err);
  summary b = measure_rate(op_lm_update, st->lm, fp->n, 555, k->updates, &err);
  report_err("LMDB steady-state updates", fp->n, err);
  fp->ev_rate = a.ops_per_s;
  fp->lm_rate = b.ops_per_s;
  fp->updates = k->updates;
  take_footprint(st, fp, 1);
  fp->done = 1;
  say("S1 again on the updated map (steady state)");
  fp->sw_ev = measure_ops(op_ev_update, &st->ev, fp->n, 4242, k->warm, k->swaps, &err);
  fp->sw_lm = measure_ops(op_lm_update, st->lm, fp->n, 4242, k->warm, k->swaps, &err);
}

/* ---- one size ---------------------------------------------------------------- */

static void run_size(const bench_cfg *cfg, size_result *r, footprint *fp) {
  char ev_path[600], lm_dir[600];
  counts k = counts_for(cfg);
  stores st = {0};
  int big = r->n == big_n(cfg);
  store_paths(cfg, r->n, ev_path, lm_dir, sizeof ev_path);
  say("loading N=%llu (eve, LMDB, Redis)", (unsigned long long)r->n);
  r->load_ev = load_eve(&st.ev, ev_path, r->n);
  r->load_lm = load_lmdb(&st.lm, lm_dir, r->n);
  r->load_rd = load_redis(&st.rd, r->n);
  if (r->load_ev >= 0 && r->load_lm >= 0) {
    uint64_t live, used, file;
    ev_footprint(&st.ev, &r->ev_file, &live, &used);
    lm_footprint(st.lm, &used, &file, &r->lm_disk);
    if (big && bench_wants(cfg, '5')) fp->n = r->n, take_footprint(&st, fp, 0);
    if (bench_wants(cfg, '1')) scenario1(&st, r, &k);
    if (bench_wants(cfg, '2')) scenario2(&st, r, &k);
    if (big && bench_wants(cfg, '5')) scenario5_updates(&st, fp, &k);
  }
  ev_close(&st.ev);
  lm_close(st.lm);
  rd_disconnect(st.rd);
  if (!big) {
    remove_tree(ev_path);
    remove_tree(lm_dir);
  }
}

/* ---- tables ------------------------------------------------------------------ */

static const char *size_label(char *buf, uint64_t n) {
  int e = 0;
  uint64_t m = n;
  while (m >= 10 && m % 10 == 0) m /= 10, e++;
  if (m == 1) snprintf(buf, 16, "10^%d", e);
  else snprintf(buf, 16, "%llu", (unsigned long long)n);
  return buf;
}

static void table_loads(FILE *f, const size_result *r, int nr) {
  char a[32], b[32], c[32], d[32], e[32], g[16];
  fprintf(f, "Loading (not a target; eve: 10 keys per swap, one txn each, LMDB: 10000 puts per txn, "
             "Redis: 1000 fields per HSET):\n\n"
             "| N | eve load | LMDB load | Redis load | eve file | LMDB data.mdb on disk |\n"
             "|---|---|---|---|---|---|\n");
  for (int i = 0; i < nr; i++)
    fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", size_label(g, r[i].n),
            fmt_us(a, r[i].load_ev < 0 ? -1 : r[i].load_ev * 1e6),
            fmt_us(b, r[i].load_lm < 0 ? -1 : r[i].load_lm * 1e6),
            fmt_us(c, r[i].load_rd < 0 ? -1 : r[i].load_rd * 1e6), fmt_bytes(d, (double)r[i].ev_file),
            fmt_bytes(e, (double)r[i].lm_disk));
  fputc('\n', f);
}

static void table_swaps(FILE *f, const size_result *r, int nr) {
  char g[16];
  fprintf(f, "## 1. Swap latency: one key of an N-key map\n\n"
             "Each eve sample is a whole user-level update: `eve_txn_begin(WRITE)`, build the "
             "key and the 16-byte value strings, `eve_swap` with a function that `eve_map_assoc`s "
             "them, `eve_txn_end`. LMDB: `mdb_txn_begin`, `mdb_put`, `mdb_txn_commit` "
             "(MDB_NOSYNC | MDB_WRITEMAP). Redis: one `HSET` round trip over loopback. Keys are "
             "drawn uniformly at random, the same sequence for every system. The last column is "
             "eve's p50 (txn per swap) divided by the row's p50: below 1 means eve is faster.\n\n"
             "![swap latency vs. N](bench/swap_latency.png)\n\n"
             "| N | system | p50 | p99 | throughput (1 writer) | eve p50 / this p50 |\n"
             "|---|---|---|---|---|---|\n");
  for (int i = 0; i < nr; i++) {
    const char *lab = size_label(g, r[i].n);
    double e = r[i].sw_ev.p50_us;
    row_latency(f, lab, "**eve**, one txn per swap", &r[i].sw_ev, -1);
    row_latency(f, lab, "eve, one txn for 1000 swaps", &r[i].sw_ev_txn, e);
    row_latency(f, lab, "LMDB, one txn per put", &r[i].sw_lm, e);
    row_latency(f, lab, "Redis HSET", &r[i].sw_rd, e);
  }
  fputc('\n', f);
  table_loads(f, r, nr);
}

static void table_reads(FILE *f, const size_result *r, int nr) {
  char g[16];
  fprintf(f, "## 2. Point reads\n\n"
             "One read per transaction: eve `eve_txn_begin(READ)`, `eve_deref`, "
             "`eve_map_get_text` (the key by its bytes: nothing is allocated), `eve_text_get` "
             "(copy the 16 bytes), `eve_txn_end`. LMDB: `mdb_txn_renew`, "
             "`mdb_get`, copy, `mdb_txn_reset` on a reused read-only txn. Redis: one `HGET`. "
             "Many reads per transaction: 1000 random keys per txn; p50/p99 time each read, the "
             "throughput comes from a separate untimed run. Ratios: eve / LMDB in the same mode, "
             "eve (one read per txn) / Redis.\n\n"
             "![read latency vs. N](bench/read_latency.png)\n\n"
             "| N | system | p50 | p99 | throughput (1 reader) | eve p50 / this p50 |\n"
             "|---|---|---|---|---|---|\n");
  for (int i = 0; i < nr; i++) {
    const char *lab = size_label(g, r[i].n);
    row_latency(f, lab, "**eve**, one read per txn", &r[i].rd_ev, -1);
    row_latency(f, lab, "LMDB, one read per txn", &r[i].rd_lm, r[i].rd_ev.p50_us);
    row_latency(f, lab, "Redis HGET", &r[i].rd_rd, r[i].rd_ev.p50_us);
    row_latency(f, lab, "**eve**, 1000 reads per txn", &r[i].rdm_ev, -1);
    row_latency(f, lab, "LMDB, 1000 reads per txn", &r[i].rdm_lm, r[i].rdm_ev.p50_us);
  }
  fputc('\n', f);
}

static void table_footprint(FILE *f, const footprint *fp) {
  char a[32], b[32], c[32], d[32], g[16];
  fprintf(f, "## 5. Footprint\n\n"
             "%s keys loaded, then %llu random one-key updates, each in its own transaction "
             "(steady state; over that run eve made %s updates, LMDB %s). \"On disk\" is "
             "the file's allocated blocks (`st_blocks` × 512). eve's file size is what it has "
             "grown to; LMDB's `data.mdb` is sparse and as large as its map size under "
             "MDB_WRITEMAP, so its used size is (last page + 1) × page size.\n\n",
          size_label(g, fp->n), (unsigned long long)fp->updates, fmt_rate(a, fp->ev_rate),
          fmt_rate(b, fp->lm_rate));
  fprintf(f, "| | after load | steady state | steady / load |\n|---|---|---|---|\n");
  fprintf(f, "| eve file size | %s | %s | %s |\n", fmt_bytes(a, (double)fp->ev_file[0]),
          fmt_bytes(b, (double)fp->ev_file[1]),
          fmt_ratio(c, (double)fp->ev_file[1], (double)fp->ev_file[0]));
  fprintf(f, "| eve on disk | %s | %s | %s |\n", fmt_bytes(a, (double)fp->ev_disk[0]),
          fmt_bytes(b, (double)fp->ev_disk[1]),
          fmt_ratio(c, (double)fp->ev_disk[1], (double)fp->ev_disk[0]));
  fprintf(f, "| eve live bytes (eve_stats) | %s | %s | %s |\n", fmt_bytes(a, (double)fp->ev_live[0]),
          fmt_bytes(b, (double)fp->ev_live[1]),
          fmt_ratio(c, (double)fp->ev_live[1], (double)fp->ev_live[0]));
  fprintf(f, "| LMDB data.mdb on disk | %s | %s | %s |\n", fmt_bytes(a, (double)fp->lm_disk[0]),
          fmt_bytes(b, (double)fp->lm_disk[1]),
          fmt_ratio(c, (double)fp->lm_disk[1], (double)fp->lm_disk[0]));
  fprintf(f, "| LMDB used pages | %s | %s | %s |\n", fmt_bytes(a, (double)fp->lm_used[0]),
          fmt_bytes(b, (double)fp->lm_used[1]),
          fmt_ratio(c, (double)fp->lm_used[1], (double)fp->lm_used[0]));
  fprintf(f, "| eve on disk / LMDB on disk | %s | %s | |\n",
          fmt_ratio(a, (double)fp->ev_disk[0], (double)fp->lm_disk[0]),
          fmt_ratio(b, (double)fp->ev_disk[1], (double)fp->lm_disk[1]));
  if (fp->rd_mem)
    fprintf(f, "| Redis used_memory (context, RAM) | %s | | |\n", fmt_bytes(d, (double)fp->rd_mem));
  fprintf(f, "\nScenario 1's measurement repeated on this map after the updates (steady "
             "state):\n\n"
             "| N | system | p50 | p99 | throughput (1 writer) | eve p50 / this p50 |\n"
             "|---|---|---|---|---|---|\n");
  row_latency(f, size_label(g, fp->n), "**eve**, one txn per swap", &fp->sw_ev, -1);
  row_latency(f, size_label(g, fp->n), "LMDB, one txn per put", &fp->sw_lm, fp->sw_ev.p50_us);
  fputc('\n', f);
}

/* ---- data files and targets ------------------------------------------------- */

static void write_dat(const bench_cfg *cfg, const size_result *r, int nr) {
  FILE *s = data_file(cfg, "swap.dat"), *q = data_file(cfg, "read.dat");
  if (s) fprintf(s, "# N eve_p50 eve_p99 eve_txn_p50 lmdb_p50 lmdb_p99 redis_p50 redis_p99 (us)\n");
  if (q) fprintf(q, "# N eve_p50 eve_p99 lmdb_p50 lmdb_p99 redis_p50 redis_p99 evem_p50 lmdbm_p50\n");
  for (int i = 0; i < nr; i++) {
    const summary *a[] = {&r[i].sw_ev, &r[i].sw_ev_txn, &r[i].sw_lm, &r[i].sw_rd};
    const summary *b[] = {&r[i].rd_ev, &r[i].rd_lm, &r[i].rd_rd, &r[i].rdm_ev, &r[i].rdm_lm};
    if (s) {
      fprintf(s, "%llu", (unsigned long long)r[i].n);
      dat_num(s, a[0]->p50_us), dat_num(s, a[0]->p99_us), dat_num(s, a[1]->p50_us);
      dat_num(s, a[2]->p50_us), dat_num(s, a[2]->p99_us), dat_num(s, a[3]->p50_us);
      dat_num(s, a[3]->p99_us), fputc('\n', s);
    }
    if (q) {
      fprintf(q, "%llu", (unsigned long long)r[i].n);
      for (int j = 0; j < 3; j++) dat_num(q, b[j]->p50_us), dat_num(q, b[j]->p99_us);
      dat_num(q, b[3]->p50_us), dat_num(q, b[4]->p50_us), fputc('\n', q);
    }
  }
  if (s) fclose(s);
  if (q) fclose(q);
}

static const size_result *find_size(const size_result *r, int nr, uint64_t n) {
  for (int i = 0; i < nr; i++)
    if (r[i].n == n && summary_ok(&r[i].sw_ev)) return &r[i];
  return NULL;
}

static void targets_1_2(const size_result *r, int nr, const footprint *fp) {
  const size_result *m = find_size(r, nr, 1000000), *lo = find_size(r, nr, 1000),
                    *hi = find_size(r, nr, 10000000);
  char a[32];
  if (m) report_context("swap p50, one key of a 10^6-key map (scenario 1)", "%.1f µs", m->sw_ev.p50_us);
  if (m && summary_ok(&m->sw_lm)) {
    double q = m->sw_ev.p50_us / m->sw_lm.p50_us;
    char b[32];
    report_target("1", "swap p50 at N=10^6 ≤ 0.5 × LMDB p50", q <= 0.5,
                  "%s (eve %.2f µs, LMDB %.2f µs; after scenario 5's updates: %s)",
                  fmt_ratio(a, m->sw_ev.p50_us, m->sw_lm.p50_us), m->sw_ev.p50_us, m->sw_lm.p50_us,
                  fp->done && fp->n == 1000000 ? fmt_ratio(b, fp->sw_ev.p50_us, fp->sw_lm.p50_us) : "—");
  } else {
    report_target("1", "swap p50 at N=10^6 ≤ 0.5 × LMDB p50", -1, "not run (N=10^6 not measured)");
  }
  if (lo && hi)
    report_target("1", "swap p50 at N=10^7 ≤ 2 × p50 at N=10^3", hi->sw_ev.p50_us <= 2 * lo->sw_ev.p50_us,
                  "%s (%.2f µs vs %.2f µs)", fmt_ratio(a, hi->sw_ev.p50_us, lo->sw_ev.p50_us),
                  hi->sw_ev.p50_us, lo->sw_ev.p50_us);
  else
    report_target("1", "swap p50 at N=10^7 ≤ 2 × p50 at N=10^3", -1, "not run (N=10^7 not measured)");
  if (m && summary_ok(&m->rd_ev) && summary_ok(&m->rd_lm)) {
    double q = m->rd_ev.p50_us / m->rd_lm.p50_us;
    report_target("2", "read p50 at N=10^6 ≤ 0.7 × LMDB p50 (one read per txn)", q <= 0.7,
                  "%s (eve %.2f µs, LMDB %.2f µs; 1000 reads/txn: %.2f vs %.2f µs)",
                  fmt_ratio(a, m->rd_ev.p50_us, m->rd_lm.p50_us), m->rd_ev.p50_us, m->rd_lm.p50_us,
                  m->rdm_ev.p50_us, m->rdm_lm.p50_us);
  } else {
    report_target("2", "read p50 at N=10^6 ≤ 0.7 × LMDB p50", -1, "not run");
  }
}

static void targets_5(const footprint *fp) {
  char a[32], b[32], c[32];
  if (!fp->done) {
    report_target("5", "steady-state bytes ≤ 1.2 × bytes after load", -1, "not run");
    report_target("5", "steady-state bytes ≤ LMDB's data file", -1, "not run");
    return;
  }
  double grow = (double)fp->ev_disk[1] / (double)fp->ev_disk[0];
  report_target("5", "steady-state bytes ≤ 1.2 × bytes after load", grow <= 1.2,
                "%s (%s → %s on disk, %llu updates)", fmt_ratio(a, (double)fp->ev_disk[1], (double)fp->ev_disk[0]),
                fmt_bytes(b, (double)fp->ev_disk[0]), fmt_bytes(c, (double)fp->ev_disk[1]),
                (unsigned long long)fp->updates);
  report_target("5", "steady-state bytes ≤ LMDB's data file", fp->ev_disk[1] <= fp->lm_disk[1],
                "%s (eve %s, LMDB %s on disk)", fmt_ratio(a, (double)fp->ev_disk[1], (double)fp->lm_disk[1]),
                fmt_bytes(b, (double)fp->ev_disk[1]), fmt_bytes(c, (double)fp->lm_disk[1]));
}

static void note_big_loads(const size_result *r, int nr) {
  char a[32], b[32], c[32];
  for (int i = 0; i < nr; i++)
    if (r[i].n == 10000000 && r[i].load_ev >= 0)
      report_note("N = 10^7 was loaded and measured in full: eve's load took %s (LMDB %s, Redis "
                  "%s), the largest part of the run's time.",
                  fmt_us(a, r[i].load_ev * 1e6), fmt_us(b, r[i].load_lm * 1e6),
                  fmt_us(c, r[i].load_rd * 1e6));
}

void scen_maps(const bench_cfg *cfg) {
  static size_result res[MAX_SIZES];
  static footprint fp;
  int nr = 0;
  if (!wants_maps(cfg) && !bench_wants(cfg, '5')) return;
  for (int e = 3; e <= cfg->max_exp && nr < MAX_SIZES; e++) {
    uint64_t n = pow10u(e);
    if (!wants_maps(cfg) && n != big_n(cfg)) continue;
    res[nr] = (size_result){.n = n};
    run_size(cfg, &res[nr++], &fp);
  }
  if (wants_maps(cfg)) {
    table_swaps(report_section(1), res, nr);
    table_reads(report_section(2), res, nr);
    write_dat(cfg, res, nr);
    targets_1_2(res, nr, &fp);
    note_big_loads(res, nr);
  }
  if (bench_wants(cfg, '5')) {
    table_footprint(report_section(5), &fp);
    targets_5(&fp);
  }
}
