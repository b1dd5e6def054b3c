/* measure.h — timing loops shared by the scenarios. */
#ifndef EVE_BENCH_MEASURE_H
#define EVE_BENCH_MEASURE_H

#include "bench.h"

/* One operation on key i (gen: a fresh generation for writes). */
typedef int (*op_fn)(void *ctx, uint64_t i, uint64_t gen);

/* warm untimed ops (keys from seed ^ 1), then n ops each timed, keys drawn
 * uniformly below nkeys from seed; ops_per_s is n over the loop's wall time
 * (timing included).  On error: n = 0 and *err set. */
summary measure_ops(op_fn fn, void *ctx, uint64_t nkeys, uint64_t seed, size_t warm, size_t n,
                    int *err);
/* n untimed ops: throughput only (summary n = n, percentiles -1). */
summary measure_rate(op_fn fn, void *ctx, uint64_t nkeys, uint64_t seed, size_t n, int *err);

/* A fresh generation for each write, shared by all systems. */
uint64_t next_gen(void);

/* Adapters: ctx is an ev_store *, lm_store * or rd_conn *. */
int op_ev_update(void *ctx, uint64_t i, uint64_t gen);
int op_ev_read(void *ctx, uint64_t i, uint64_t gen);
int op_lm_update(void *ctx, uint64_t i, uint64_t gen);
int op_lm_read(void *ctx, uint64_t i, uint64_t gen);
int op_rd_hset(void *ctx, uint64_t i, uint64_t gen);
int op_rd_hget(void *ctx, uint64_t i, uint64_t gen);

/* Markdown: "| label | p50 | p99 | throughput | ratio |" where ratio is
 * eve_p50 / s.p50 (pass eve_p50 < 0 for none). */
void row_latency(FILE *f, const char *first, const char *label, const summary *s, double eve_p50);

#endif
