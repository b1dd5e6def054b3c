/* bench.h — the benchmark harness of eve: shared declarations.
 *
 * The harness runs every scenario for eve and for its peers (LMDB, Redis
 * over loopback, a bare CAS loop on shared memory) back to back in one
 * invocation, with the same deterministic keys and values, and writes a
 * markdown report plus data files for gnuplot.  Only include/eve.h is used
 * from the library. */
#ifndef EVE_BENCH_H
#define EVE_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- configuration ---------------------------------------------------- */

typedef struct bench_cfg {
  int quick;              /* --quick: small sizes and counts, smoke test   */
  const char *work_dir;   /* scratch files (domains, LMDB envs)           */
  const char *data_dir;   /* .dat files for gnuplot                       */
  const char *out_md;     /* the markdown report                          */
  const char *command;    /* the command that reproduces this run         */
  const char *revision;   /* the library's source revision (git describe) */
  const char *only;       /* run only these scenarios, e.g. "78" (or NULL) */
  int max_exp;            /* largest map size is 10^max_exp               */
  const char *profile;    /* --profile N:M (see bench.c)                  */
  double s7_hold;         /* scenario 7: seconds the reader holds (10)     */
  double s8_seconds;      /* scenario 8: seconds the writers run (60)      */
  uint64_t s7_cap;        /* scenario 7: a writer stops at this file size  */
  const char *baseline;   /* scenarios 7, 8: the "before" figures file     */
} bench_cfg;

int bench_wants(const bench_cfg *cfg, char scenario);

/* ---- time, randomness, keys ------------------------------------------- */

uint64_t now_ns(void);
/* Median cost of one now_ns() pair, measured once. */
uint64_t clock_overhead_ns(void);

typedef struct rng { uint64_t s; } rng;
rng rng_make(uint64_t seed);
uint64_t rng_next(rng *r);
uint64_t rng_below(rng *r, uint64_t n);

#define KEY_MAX 24
#define VAL_LEN 16
/* "key:0000042": the text of key i (NUL-terminated); returns its length. */
size_t key_text(uint64_t i, char buf[KEY_MAX]);
/* A 16-byte value text "v:" + 14 digits derived from (i, gen). */
void val_text(uint64_t i, uint64_t gen, char buf[VAL_LEN + 1]);

/* ---- samples and percentiles ------------------------------------------ */

typedef struct samples {
  uint64_t *v;   /* nanoseconds */
  size_t n, cap;
} samples;

int samples_init(samples *s, size_t cap);
void samples_free(samples *s);
static inline void samples_add(samples *s, uint64_t ns) {
  if (s->n < s->cap) s->v[s->n++] = ns;
}

typedef struct summary {
  size_t n;
  double p50_us, p99_us, mean_us;
  double ops_per_s;   /* throughput, when the caller sets it */
} summary;

/* Sorts the samples; percentiles by nearest rank. */
summary summarize(samples *s);
#define NO_SUMMARY ((summary){0, -1, -1, -1, -1})
static inline int summary_ok(const summary *s) { return s->n > 0; }

/* ---- worker processes -------------------------------------------------- */

typedef struct worker_result {
  int rc;              /* 0 on success, else a code (reported)            */
  int id;
  uint64_t ops;        /* completed operations                            */
  uint64_t attempts;   /* operation attempts, retries included            */
  uint64_t t_start;    /* now_ns() after the barrier                       */
  uint64_t t_end;      /* now_ns() after the last operation                */
} worker_result;

/* Setup runs after fork (open the domain/env/connection), then the worker
 * waits at the barrier and runs.  Both return 0 or an error code. */
typedef struct worker_ops {
  int (*setup)(int id, void *arg, void **state);
  int (*run)(int id, void *arg, void *state, worker_result *res);
  void (*teardown)(void *state);
} worker_ops;

typedef struct group_result {
  int nprocs;
  int failed;          /* a worker failed (rc != 0 or crashed)             */
  uint64_t ops, attempts;
  double seconds;      /* from the first start to the last end             */
  double ops_per_s;
  double retry_rate;   /* (attempts - ops) / ops                           */
} group_result;

/* Fork n workers that set up, meet at a barrier (a pipe), run, report
 * through a pipe and exit. */
group_result run_workers(int n, const worker_ops *ops, void *arg);

/* ---- the report ------------------------------------------------------- */

/* Sections are appended to an in-memory stream; report_write assembles the
 * file: header, target summary, sections, context and method. */
void report_init(const bench_cfg *cfg);
FILE *report_section(int scenario); /* markdown for scenario 1..8 */
/* One row of the target table: met is 1 (met), 0 (missed) or -1 (not
 * measured); the measured text is printf-formatted. */
void report_target(const char *scenario, const char *target, int met, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A row under the published figures: the nearest figure of this run. */
void report_context(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int report_write(const bench_cfg *cfg);
FILE *data_file(const bench_cfg *cfg, const char *name); /* in data_dir */

/* Formatting helpers for tables ("—" for missing values). */
const char *fmt_us(char *buf, double us);
const char *fmt_rate(char *buf, double per_s);
const char *fmt_ratio(char *buf, double num, double den);
const char *fmt_bytes(char *buf, double bytes);
void dat_num(FILE *f, double v); /* "?" when v < 0 */

/* Progress lines on stderr, with the elapsed time. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- eve --------------------------------------------------------------- */

typedef struct eve_domain eve_domain;
typedef struct eve_atom eve_atom;

typedef struct ev_store {
  eve_domain *d;
  eve_atom *a;
  char path[512];
} ev_store;

int ev_open(ev_store *s, const char *path, const char *atom);
void ev_close(ev_store *s);
int ev_load(ev_store *s, uint64_t n);                     /* keys 0..n-1, gen 0 */
/* One update: a write txn, one swap that assocs key i -> val(i, gen). */
int ev_update(ev_store *s, uint64_t i, uint64_t gen, uint64_t *attempts);
/* One read in its own txn: key i's value copied into out (16 bytes). */
int ev_read(ev_store *s, uint64_t i, char out[VAL_LEN + 1]);
/* Counter increments: one txn each. */
int ev_inc(ev_store *s, uint64_t *attempts);
int ev_counter_value(ev_store *s, int64_t *out);
int ev_footprint(ev_store *s, uint64_t *file_bytes, uint64_t *live_bytes, uint64_t *disk_bytes);
int ev_trim(ev_store *s);
/* Long-lived transaction variants: n operations in one txn. */
int ev_update_batch_txn(ev_store *s, rng *r, uint64_t nkeys, uint64_t gen, samples *lat,
                        size_t n);
int ev_inc_batch_txn(ev_store *s, samples *lat, size_t n);
/* n reads (random keys) in one txn, each timed into lat (may be NULL). */
int ev_read_batch_txn(ev_store *s, rng *r, uint64_t nkeys, samples *lat, size_t n);
const char *ev_err(int rc);
/* The workload of `eve demo` (shop.c): atom "shop", one txn per order. */
int ev_shop_init(ev_store *s, int workers);
int ev_shop_order(ev_store *s, int w, rng *r, int64_t seq, uint64_t *attempts);
const char *shop_item(int i);
int shop_nitems(void);
/* A read transaction that derefs the atom, reads key 0 and stays open. */
typedef struct eve_txn eve_txn;
int ev_snapshot_begin(ev_store *s, eve_txn **t);

/* ---- LMDB -------------------------------------------------------------- */

typedef struct lm_store lm_store;
int lm_open(lm_store **s, const char *dir);
void lm_close(lm_store *s);
int lm_load(lm_store *s, uint64_t n);
int lm_update(lm_store *s, uint64_t i, uint64_t gen);
int lm_read(lm_store *s, uint64_t i, char out[VAL_LEN + 1]);
int lm_read_batch_txn(lm_store *s, rng *r, uint64_t nkeys, samples *lat, size_t n);
int lm_inc(lm_store *s);
int lm_counter_value(lm_store *s, int64_t *out);
/* Pages in use (last_pgno + 1) * page size, and the file's allocated bytes. */
int lm_footprint(lm_store *s, uint64_t *used_bytes, uint64_t *file_bytes, uint64_t *disk_bytes);
const char *lm_version(void);
/* B-tree pages (LMDB's live bytes), freelist pages and those of them that
 * wait for the oldest reader, in bytes. */
int lm_space(lm_store *s, uint64_t *tree_bytes, uint64_t *free_bytes, uint64_t *waiting_bytes);
/* A read transaction that stays open (key 0 read in it) until _end. */
int lm_snapshot_begin(lm_store *s);
void lm_snapshot_end(lm_store *s);
/* The demo's shop (scenario 8): one write txn per order. */
int lm_shop_init(lm_store *s, int workers);
int lm_shop_order(lm_store *s, int w, rng *r, int64_t seq);

/* ---- Redis ------------------------------------------------------------- */

typedef struct rd_conn rd_conn;
int rd_server_start(const char *work_dir);  /* 0, or -1 when unavailable */
void rd_server_stop(void);
int rd_available(void);
const char *rd_version(void);
const char *rd_client_version(void);
int rd_connect(rd_conn **c);
void rd_disconnect(rd_conn *c);
int rd_flush(rd_conn *c);
int rd_load(rd_conn *c, const char *hash, uint64_t n);
int rd_hset(rd_conn *c, const char *hash, uint64_t i, uint64_t gen);
int rd_hget(rd_conn *c, const char *hash, uint64_t i, char out[VAL_LEN + 1]);
/* WATCH/HGET/MULTI/HSET/EXEC until EXEC succeeds; *attempts counts tries. */
int rd_hset_rmw(rd_conn *c, const char *hash, uint64_t i, uint64_t gen, uint64_t *attempts);
int rd_incr(rd_conn *c, const char *key);
int rd_get_int(rd_conn *c, const char *key, int64_t *out);
int rd_memory(rd_conn *c, uint64_t *used_bytes);

/* ---- bare CAS on shared memory ---------------------------------------- */

typedef struct cas_cell cas_cell;
cas_cell *cas_map(void);                    /* MAP_SHARED, survives fork */
void cas_unmap(cas_cell *c);
uint64_t cas_inc(cas_cell *c);              /* returns attempts */
uint64_t cas_value(cas_cell *c);
void cas_reset(cas_cell *c);

/* ---- scenarios --------------------------------------------------------- */

void scen_maps(const bench_cfg *cfg);     /* 1, 2 and 5 */
void scen_counter(const bench_cfg *cfg);  /* 3 */
void scen_writers(const bench_cfg *cfg);  /* 4 */
void scen_open(const bench_cfg *cfg);     /* 6 */
void scen_reclaim(const bench_cfg *cfg);  /* 7 and 8 */

/* The big map (10^6 keys; 10^5 in --quick) of scenarios 4, 5 and 6. */
uint64_t big_n(const bench_cfg *cfg);
void store_paths(const bench_cfg *cfg, uint64_t n, char *ev, char *lm, size_t len);
/* Load the big map into eve and LMDB unless its files exist. */
int ensure_big(const bench_cfg *cfg, char *ev_path, char *lm_dir, size_t len);

/* Shared by the scenarios: path of a scratch file/dir, removed first. */
const char *scratch(const bench_cfg *cfg, const char *name, char *buf, size_t len);
void remove_tree(const char *path);
uint64_t disk_bytes_of(const char *path);    /* st_blocks * 512 */
uint64_t file_bytes_of(const char *path);    /* st_size */

#endif
