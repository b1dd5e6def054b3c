/* measure.c — timing loops and the per-system operation adapters. */
#define _GNU_SOURCE
#include <string.h>

#include "measure.h"

static uint64_t g_gen = 1;
uint64_t next_gen(void) { return g_gen++; }

summary measure_ops(op_fn fn, void *ctx, uint64_t nkeys, uint64_t seed, size_t warm, size_t n,
                    int *err) {
  rng w = rng_make(seed ^ 1), r = rng_make(seed);
  samples s;
  *err = 0;
  for (size_t j = 0; j < warm && !*err; j++) *err = fn(ctx, rng_below(&w, nkeys), next_gen());
  if (*err || samples_init(&s, n)) return NO_SUMMARY;
  uint64_t start = now_ns();
  for (size_t j = 0; j < n && !*err; j++) {
    uint64_t i = rng_below(&r, nkeys), gen = next_gen(), t0 = now_ns();
    *err = fn(ctx, i, gen);
    samples_add(&s, now_ns() - t0);
  }
  double wall = (double)(now_ns() - start) / 1e9;
  summary out = *err ? NO_SUMMARY : summarize(&s);
  if (!*err) out.ops_per_s = (double)n / wall;
  samples_free(&s);
  return out;
}

summary measure_rate(op_fn fn, void *ctx, uint64_t nkeys, uint64_t seed, size_t n, int *err) {
  rng r = rng_make(seed);
  *err = 0;
  uint64_t start = now_ns();
  for (size_t j = 0; j < n && !*err; j++) *err = fn(ctx, rng_below(&r, nkeys), next_gen());
  double wall = (double)(now_ns() - start) / 1e9;
  summary out = {n, -1, -1, -1, (double)n / wall};
  return *err ? NO_SUMMARY : out;
}

/* ---- adapters ----------------------------------------------------------- */

int op_ev_update(void *ctx, uint64_t i, uint64_t gen) { return ev_update(ctx, i, gen, NULL); }

/* Reads check what they got: a value text of the right shape. */
static int check_val(int rc, const char *v) {
  return rc ? rc : (v[0] == 'v' && v[1] == ':' && strlen(v) == VAL_LEN) ? 0 : -1000;
}

int op_ev_read(void *ctx, uint64_t i, uint64_t gen) {
  (void)gen;
  char v[VAL_LEN + 1];
  return check_val(ev_read(ctx, i, v), v);
}

int op_lm_update(void *ctx, uint64_t i, uint64_t gen) { return lm_update(ctx, i, gen); }

int op_lm_read(void *ctx, uint64_t i, uint64_t gen) {
  (void)gen;
  char v[VAL_LEN + 1];
  return check_val(lm_read(ctx, i, v), v);
}

int op_rd_hset(void *ctx, uint64_t i, uint64_t gen) { return rd_hset(ctx, "map", i, gen); }

int op_rd_hget(void *ctx, uint64_t i, uint64_t gen) {
  (void)gen;
  char v[VAL_LEN + 1];
  return check_val(rd_hget(ctx, "map", i, v), v);
}

/* ---- table rows ----------------------------------------------------------- */

void row_latency(FILE *f, const char *first, const char *label, const summary *s, double eve_p50) {
  char a[32], b[32], c[32], d[32];
  if (!summary_ok(s)) {
    fprintf(f, "| %s | %s | — | — | — | — |\n", first, label);
    return;
  }
  fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", first, label, fmt_us(a, s->p50_us),
          fmt_us(b, s->p99_us), fmt_rate(c, s->ops_per_s),
          eve_p50 < 0 ? "" : fmt_ratio(d, eve_p50, s->p50_us));
}
