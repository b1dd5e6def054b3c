#define _GNU_SOURCE
#include "support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 4 GiB of address space, not the default 1 TiB: ThreadSanitizer's memory
 * layout cannot reserve a terabyte, and no test needs one. */
eve_domain *t_open_mem(void) {
  eve_domain *d = NULL;
  eve_options o = {.max_size = 1ull << 32};
  EVE_OK(eve_open(NULL, &o, &d));
  return d;
}

eve_txn *t_wtxn(eve_domain *d) {
  eve_txn *t = NULL;
  EVE_OK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  return t;
}

void t_publish(eve_domain *d, eve_txn *t, const char *name, eve_val v) {
  eve_atom *a = NULL;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_atom_close(a));
}

eve_val t_deref(eve_domain *d, eve_txn *t, const char *name) {
  eve_atom *a = NULL;
  eve_val v = EVE_V_NIL;
  EVE_OK(eve_atom_open(d, name, 0, &a));
  EVE_OK(eve_deref(t, a, &v));
  EVE_OK(eve_atom_close(a));
  return v;
}

eve_txn *t_carry(eve_domain *d, eve_txn *t, const char *name, eve_val *vals, size_t n) {
  eve_val vec = EVE_V_EMPTY_VECTOR;
  for (size_t i = 0; i < n; i++) EVE_OK(eve_vec_conj(t, vec, vals[i], &vec));
  t_publish(d, t, name, vec);
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  vec = t_deref(d, t, name);
  uint64_t c = 0;
  EVE_OK(eve_count(t, vec, &c));
  cr_assert_eq(c, n, "atom %s: %llu values carried, %llu read back", name,
               (unsigned long long)n, (unsigned long long)c);
  for (size_t i = 0; i < n; i++) EVE_OK(eve_vec_nth(t, vec, i, &vals[i]));
  return t;
}

void t_assert_exact(eve_domain *d, const char *when) {
  eve_check_report r;
  int rc = eve_check(d, &r, NULL, NULL);
  cr_assert_eq(rc, 0, "%s: check: %s (%llu problems)", when, eve_strerror(rc),
               (unsigned long long)r.problems);
  cr_assert_eq(r.problems, 0, "%s: %llu problems", when, (unsigned long long)r.problems);
  cr_assert_eq(r.leaked_bytes, 0, "%s: %llu bytes leaked (allocated %llu, reachable %llu)", when,
               (unsigned long long)r.leaked_bytes, (unsigned long long)r.allocated_bytes,
               (unsigned long long)r.reachable_bytes);
  cr_assert(r.settled, "%s: the counts were not verified", when);
  cr_assert_eq(r.excess_owners, 0, "%s: %llu blocks count owners they do not have", when,
               (unsigned long long)r.excess_owners);
}

char *t_tmpdir(void) {
  static char ring[8][64];
  static unsigned next;
  char *dir = ring[next++ % 8];
  strcpy(dir, "/tmp/eve-test-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  return dir;
}

/* Paths come from a small ring of static buffers: nothing to free. */
char *t_path(const char *dir, const char *name) {
  static char ring[16][4096];
  static unsigned next;
  char *p = ring[next++ % 16];
  cr_assert_lt(snprintf(p, sizeof ring[0], "%s/%s", dir, name), (int)sizeof ring[0]);
  return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

void t_rmdir(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

uint64_t t_scale(uint64_t n) {
  const char *s = getenv("EVE_TEST_SCALE");
  uint64_t k = s ? strtoull(s, NULL, 10) : 1;
  if (k < 1) k = 1;
  uint64_t r = n / k;
  return r ? r : 1;
}

uint64_t t_seed(uint64_t dflt) {
  const char *s = getenv("EVE_TEST_SEED");
  return s ? strtoull(s, NULL, 0) : dflt;
}

uint64_t t_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const char *t_edn(eve_txn *t, eve_val v) {
  static char buf[512];
  char *s = NULL;
  if (eve_print_edn(t, v, &s, NULL) != 0) {
    snprintf(buf, sizeof buf, "<unprintable 0x%llx>", (unsigned long long)v);
    return buf;
  }
  snprintf(buf, sizeof buf, "%s", s);
  eve_free(s);
  return buf;
}
