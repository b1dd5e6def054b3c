/* stats.c — time, deterministic keys and values, percentiles. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

uint64_t clock_overhead_ns(void) {
  static uint64_t cached;
  if (cached) return cached;
  enum { N = 10001 };
  static uint64_t v[N];
  for (int i = 0; i < N; i++) {
    uint64_t t0 = now_ns();
    v[i] = now_ns() - t0;
  }
  qsort(v, N, sizeof v[0], cmp_u64);
  cached = v[N / 2] ? v[N / 2] : 1;
  return cached;
}

/* splitmix64: deterministic, fast, good enough for key choice */
rng rng_make(uint64_t seed) { return (rng){seed * 0x9E3779B97F4A7C15ull + 1}; }

uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rng_below(rng *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Fixed-width decimal, right to left. */
static void digits(char *p, size_t width, uint64_t v) {
  for (size_t k = width; k-- > 0; v /= 10) p[k] = (char)('0' + v % 10);
}

size_t key_text(uint64_t i, char buf[KEY_MAX]) {
  memcpy(buf, "key:", 4);
  digits(buf + 4, 7, i % 10000000ull);
  if (i >= 10000000ull) { /* not used by the scenarios; stays unique */
    digits(buf + 11, 8, i / 10000000ull);
    buf[19] = 0;
    return 19;
  }
  buf[11] = 0;
  return 11;
}

void val_text(uint64_t i, uint64_t gen, char buf[VAL_LEN + 1]) {
  rng r = rng_make(i * 1000003ull + gen);
  memcpy(buf, "v:", 2);
  digits(buf + 2, VAL_LEN - 2, rng_next(&r) % 100000000000000ull);
  buf[VAL_LEN] = 0;
}

int samples_init(samples *s, size_t cap) {
  s->n = 0;
  s->cap = cap;
  s->v = malloc((cap ? cap : 1) * sizeof *s->v);
  return s->v ? 0 : -1;
}

void samples_free(samples *s) {
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

static double rank(const samples *s, double q) {
  size_t k = (size_t)(q * (double)s->n);
  if (k >= s->n) k = s->n - 1;
  return (double)s->v[k] / 1000.0;
}

summary summarize(samples *s) {
  if (!s->n) return NO_SUMMARY;
  qsort(s->v, s->n, sizeof s->v[0], cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < s->n; i++) sum += (double)s->v[i];
  summary r = {s->n, rank(s, 0.50), rank(s, 0.99), sum / (double)s->n / 1000.0, -1};
  return r;
}
