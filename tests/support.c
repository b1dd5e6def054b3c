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
