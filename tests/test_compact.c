/* test_compact.c — eve_compact: the copy holds every atom's value and
 * nothing else, keeps structural sharing, checks exact, and bad input
 * leaves no DST behind.
 *
 * The main test is model-based: a random workload on a file domain (atoms
 * set to random nested values, values shared between atoms and under
 * several keys, versions replaced, atoms removed), with the model being
 * the set of atoms that should exist.  After the compaction the copy has
 * exactly those atoms, each printing (EDN) and hashing as its source
 * value; eve_check of the copy is exact; the copy's live bytes are at most
 * the source's and its file is smaller than the churned source's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "value.h"

#define NATOMS 12
#define MAX_DEPTH 4

/* ---- helpers ------------------------------------------------------------------ */

static eve_domain *open_file(const char *path) {
  eve_domain *d = NULL;
  eve_options o = {.max_size = 1ull << 32};
  EVE_OK(eve_open(path, &o, &d));
  return d;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* Files in dir other than the ones named (a temporary copy left behind). */
static int stray_files(const char *dir, const char *keep1, const char *keep2) {
  DIR *dd = opendir(dir);
  cr_assert_not_null(dd);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dd)))
    if (e->d_name[0] != '.' && strcmp(e->d_name, keep1) && (!keep2 || strcmp(e->d_name, keep2))) n++;
  closedir(dd);
  return n;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  return (uint64_t)st.st_size;
}

static uint64_t disk_bytes(const char *path) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  return (uint64_t)st.st_blocks * 512;
}

static eve_val kw(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_keyword(t, s, strlen(s), &v));
  return v;
}

static eve_val str(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_string(t, s, strlen(s), &v));
  return v;
}

/* ---- random values ------------------------------------------------------------- */

typedef struct gen {
  eve_txn *t;
  uint64_t rng;
  eve_val pool[16]; /* values to embed more than once (sharing) */
  int pool_level[16];
  size_t npool;
  int level;        /* 1 + the highest level embedded, 0 for none */
} gen;

static eve_val gen_scalar(gen *g) {
  eve_txn *t = g->t;
  eve_val v;
  char buf[96];
  switch (t_below(&g->rng, 9)) {
  case 0: EVE_OK(eve_int(t, (int64_t)t_below(&g->rng, 1000) - 500, &v)); break;
  case 1: EVE_OK(eve_int(t, INT64_MAX - (int64_t)t_below(&g->rng, 1000), &v)); break; /* boxed */
  case 2: EVE_OK(eve_float(t, (double)t_below(&g->rng, 1u << 20) / 7.0, &v)); break;
  case 3:
    snprintf(buf, sizeof buf, "s%llu", (unsigned long long)t_below(&g->rng, 100));
    v = str(t, buf);
    break;
  case 4: /* long enough to be boxed and to keep its hash */
    snprintf(buf, sizeof buf, "a longer string that is stored in a block #%llu",
             (unsigned long long)t_rand(&g->rng));
    v = str(t, buf);
    break;
  case 5:
    snprintf(buf, sizeof buf, "ns/key-%llu", (unsigned long long)t_below(&g->rng, 50));
    v = kw(t, buf);
    break;
  case 6: {
    uint8_t u[16];
    for (int i = 0; i < 16; i++) u[i] = (uint8_t)t_rand(&g->rng);
    EVE_OK(eve_uuid(t, u, &v));
    break;
  }
  case 7: EVE_OK(eve_inst(t, (int64_t)t_below(&g->rng, 1ull << 40), &v)); break;
  default: {
    uint8_t b[40];
    size_t n = t_below(&g->rng, sizeof b);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)t_rand(&g->rng);
    EVE_OK(eve_bytes(t, b, n, &v));
    break;
  }
  }
  return v;
}

static eve_val gen_value(gen *g, int depth);

static eve_val gen_element(gen *g, int depth) {
  if (g->npool && t_below(&g->rng, 5) == 0) {
    size_t i = t_below(&g->rng, g->npool);
    if (g->pool_level[i] + 1 > g->level) g->level = g->pool_level[i] + 1;
    return g->pool[i];
  }
  return gen_value(g, depth + 1);
}

static eve_val gen_coll(gen *g, int depth) {
  eve_txn *t = g->t;
  unsigned kind = (unsigned)t_below(&g->rng, 4);
  size_t n = t_below(&g->rng, depth == 0 ? 40 : 8);
  eve_val c = kind == 0 ? EVE_V_EMPTY_MAP : kind == 1 ? EVE_V_EMPTY_VECTOR
            : kind == 2 ? EVE_V_EMPTY_SET : EVE_V_EMPTY_LIST;
  for (size_t i = 0; i < n; i++) {
    eve_val x = gen_element(g, depth);
    switch (kind) {
    case 0: EVE_OK(eve_map_assoc(t, c, gen_scalar(g), x, &c)); break;
    case 1: EVE_OK(eve_vec_conj(t, c, x, &c)); break;
    case 2: EVE_OK(eve_set_conj(t, c, x, &c)); break;
    default: EVE_OK(eve_list_cons(t, x, c, &c)); break;
    }
  }
  return c;
}

static eve_val gen_value(gen *g, int depth) {
  if (depth >= MAX_DEPTH || t_below(&g->rng, 3) == 0) return gen_scalar(g);
  return gen_coll(g, depth);
}

/* ---- comparing the copy with its source ------------------------------------------ */

static char *edn_of(eve_txn *t, eve_val v) {
  char *s = NULL;
  EVE_OK(eve_print_edn(t, v, &s, NULL));
  return s;
}

/* The atoms of d, sorted (static ring of one). */
static size_t names_of(eve_txn *t, char names[][16], size_t cap) {
  eve_val nv[64];
  size_t n = 0;
  EVE_OK(eve_atom_names(t, nv, 64, &n));
  cr_assert_leq(n, cap);
  for (size_t i = 0; i < n; i++) {
    const char *p;
    size_t len;
    EVE_OK(eve_text_get(t, &nv[i], &p, &len));
    cr_assert_lt(len, 16);
    memcpy(names[i], p, len);
    names[i][len] = 0;
  }
  return n;
}

/* dst has exactly src's atoms, each equal (same EDN, same hash). */
static void assert_same_atoms(eve_domain *src, eve_domain *dst) {
  eve_txn *st, *dt;
  EVE_OK(eve_txn_begin(src, EVE_TXN_READ, &st));
  EVE_OK(eve_txn_begin(dst, EVE_TXN_READ, &dt));
  char sn[64][16], dn[64][16];
  size_t ns = names_of(st, sn, 64), nd = names_of(dt, dn, 64);
  cr_assert_eq(nd, ns, "the copy has %zu atoms, the source %zu", nd, ns);
  for (size_t i = 0; i < ns; i++) {
    cr_assert_str_eq(dn[i], sn[i]);
    eve_val a = t_deref(src, st, sn[i]), b = t_deref(dst, dt, dn[i]);
    char *ea = edn_of(st, a), *eb = edn_of(dt, b);
    cr_assert_str_eq(eb, ea, "atom %s differs in the copy", sn[i]);
    uint64_t ha, hb;
    EVE_OK(eve_hash(st, a, &ha));
    EVE_OK(eve_hash(dt, b, &hb));
    cr_assert_eq(ha, hb, "atom %s hashes differently in the copy", sn[i]);
    eve_free(ea);
    eve_free(eb);
  }
  EVE_OK(eve_txn_end(dt));
  EVE_OK(eve_txn_end(st));
}

static eve_stats stats_of(eve_domain *d) {
  eve_stats s;
  EVE_OK(eve_stats_get(d, &s));
  return s;
}

/* ---- the randomised workload --------------------------------------------------------- */

static void set_atom(eve_domain *d, eve_txn *t, int i, eve_val v) {
  char name[16];
  snprintf(name, sizeof name, "a%02d", i);
  t_publish(d, t, name, v);
}

/* One step of the workload, in its own write transaction.  present[i]
 * models whether atom i exists; level[i] how deeply its value embeds other
 * atoms' values (kept low: printed, a value that embeds values that embed
 * values grows exponentially, though it is stored once). */
static void churn_step(eve_domain *d, uint64_t *rng, int *present, int *level) {
  gen g = {.t = t_wtxn(d), .rng = t_rand(rng)};
  char name[16];
  for (int i = 0; i < NATOMS; i++) /* what exists can be embedded again */
    if (present[i] && level[i] < 2 && g.npool < 16) {
      snprintf(name, sizeof name, "a%02d", i);
      g.pool_level[g.npool] = level[i];
      g.pool[g.npool++] = t_deref(d, g.t, name);
    }
  int i = (int)t_below(rng, NATOMS), old = level[i];
  snprintf(name, sizeof name, "a%02d", i);
  switch (t_below(rng, 6)) {
  case 0: /* remove */
    if (present[i]) EVE_OK(eve_atom_remove(d, name));
    present[i] = 0;
    break;
  case 1: /* the same value as another atom */
    if (g.npool) {
      size_t j = t_below(rng, g.npool);
      set_atom(d, g.t, i, g.pool[j]);
      g.level = g.pool_level[j];
      present[i] = 1;
      break;
    }
    /* fall through */
  case 2: { /* a value under two keys, one of them also in another atom */
    eve_val big = gen_coll(&g, 0), m = EVE_V_EMPTY_MAP;
    EVE_OK(eve_map_assoc(g.t, m, kw(g.t, "x"), big, &m));
    EVE_OK(eve_map_assoc(g.t, m, kw(g.t, "y"), big, &m));
    set_atom(d, g.t, i, m);
    present[i] = 1;
    break;
  }
  case 3: /* a version replaced by an update of it */
    if (present[i]) {
      eve_val v = t_deref(d, g.t, name);
      eve_type ty;
      EVE_OK(eve_type_get(g.t, v, &ty));
      if (ty == EVE_MAP) EVE_OK(eve_map_assoc(g.t, v, gen_scalar(&g), gen_element(&g, 1), &v));
      else if (ty == EVE_VECTOR) EVE_OK(eve_vec_conj(g.t, v, gen_element(&g, 1), &v));
      else old = 0, v = gen_value(&g, 0);
      if (old > g.level) g.level = old;
      set_atom(d, g.t, i, v);
      break;
    }
    /* fall through */
  default: /* a fresh random value (the old one becomes garbage) */
    set_atom(d, g.t, i, gen_value(&g, 0));
    present[i] = 1;
    break;
  }
  level[i] = g.level;
  EVE_OK(eve_txn_end(g.t));
}

/* A big value set and dropped: space the source keeps (free lists) and
 * the copy must not. */
static void bloat(eve_domain *d) {
  eve_txn *t = t_wtxn(d);
  eve_val v = EVE_V_EMPTY_VECTOR;
  for (int i = 0; i < 20000; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "garbage string number %d, long enough to be boxed", i);
    EVE_OK(eve_vec_conj(t, v, str(t, buf), &v));
  }
  t_publish(d, t, "garbage", v);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_atom_remove(d, "garbage"));
}

static void churn_and_compact(uint64_t seed, int steps) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  eve_domain *d = open_file(src);
  uint64_t rng = seed;
  int present[NATOMS] = {0}, level[NATOMS] = {0};
  bloat(d);
  for (int s = 0; s < steps; s++) churn_step(d, &rng, present, level);
  eve_stats ss = stats_of(d);
  EVE_OK(eve_close(d)); /* eve_compact wants a quiet source */

  eve_compact_report r;
  EVE_OK(eve_compact(src, dst, NULL, &r));
  cr_assert_eq(stray_files(dir, "src.eve", "dst.eve"), 0, "a temporary file was left behind");
  int want = 0;
  for (int i = 0; i < NATOMS; i++) want += present[i];
  cr_assert_eq(r.atoms, (uint64_t)want, "seed %llu: %llu atoms copied, %d exist",
               (unsigned long long)seed, (unsigned long long)r.atoms, want);

  d = open_file(src);
  eve_domain *c = open_file(dst);
  assert_same_atoms(d, c);
  t_assert_exact(c, "the copy");
  eve_stats cs = stats_of(c);
  cr_assert_eq(cs.live_bytes, r.live_bytes, "live %llu, reported %llu (free %llu retired %llu)",
               (unsigned long long)cs.live_bytes, (unsigned long long)r.live_bytes,
               (unsigned long long)cs.free_bytes, (unsigned long long)cs.retired_bytes);
  cr_assert_eq(cs.file_bytes, r.file_bytes);
  cr_assert_leq(cs.live_bytes, ss.live_bytes, "seed %llu: copy live %llu > source live %llu",
                (unsigned long long)seed, (unsigned long long)cs.live_bytes,
                (unsigned long long)ss.live_bytes);
  cr_assert_lt(file_size(dst), file_size(src), "seed %llu: copy %llu bytes, source %llu",
               (unsigned long long)seed, (unsigned long long)file_size(dst),
               (unsigned long long)file_size(src));
  cr_assert_lt(disk_bytes(dst), disk_bytes(src));
  /* free: only the registry's versions before its last atom, and the
   * allocator's last chunk */
  cr_assert_lt(cs.free_bytes, 64 * 1024, "the copy has %llu free bytes",
               (unsigned long long)cs.free_bytes);
  cr_assert_eq(cs.retired_bytes, 0);
  /* the copy is a working domain: change it */
  eve_txn *t = t_wtxn(c);
  set_atom(c, t, 0, str(t, "after the copy"));
  EVE_OK(eve_txn_end(t));
  t_assert_exact(c, "the copy, changed");
  EVE_OK(eve_close(c));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

Test(compact, random_workloads_copy_every_atom_exactly, .timeout = 120) {
  uint64_t seed = t_seed(11);
  for (int round = 0; round < 6; round++) churn_and_compact(seed + (uint64_t)round, (int)t_scale(300));
}

/* ---- sharing ---------------------------------------------------------------------------- */

static eve_val big_value(eve_txn *t, int n) {
  eve_val v = EVE_V_EMPTY_MAP;
  for (int i = 0; i < n; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "value %d of a big shared map, boxed", i);
    eve_val k;
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_map_assoc(t, v, k, str(t, buf), &v));
  }
  return v;
}

/* Compact a domain whose atoms are given by fill; the report. */
static eve_compact_report compact_of(void (*fill)(eve_domain *, eve_txn *)) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  eve_domain *d = open_file(src);
  eve_txn *t = t_wtxn(d);
  fill(d, t);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  eve_compact_report r;
  EVE_OK(eve_compact(src, dst, NULL, &r));
  d = open_file(src);
  eve_domain *c = open_file(dst);
  assert_same_atoms(d, c);
  t_assert_exact(c, "the copy");
  EVE_OK(eve_close(c));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
  return r;
}

static void one_atom(eve_domain *d, eve_txn *t) { t_publish(d, t, "a", big_value(t, 5000)); }
static void two_atoms(eve_domain *d, eve_txn *t) {
  eve_val v = big_value(t, 5000);
  t_publish(d, t, "a", v);
  t_publish(d, t, "b", v);
}
static void two_keys(eve_domain *d, eve_txn *t) {
  eve_val v = big_value(t, 5000), m = EVE_V_EMPTY_MAP;
  EVE_OK(eve_map_assoc(t, m, kw(t, "x"), v, &m));
  EVE_OK(eve_map_assoc(t, m, kw(t, "y"), v, &m));
  t_publish(d, t, "a", m);
}
/* Atom b holds a new version of a's value: one entry changed, the rest
 * of the trie shared between the two. */
static void two_versions(eve_domain *d, eve_txn *t) {
  eve_val v = big_value(t, 5000), w;
  t_publish(d, t, "a", v);
  EVE_OK(eve_map_assoc(t, v, kw(t, "new"), kw(t, "entry"), &w));
  t_publish(d, t, "b", w);
}

Test(compact, a_value_shared_by_atoms_or_keys_is_copied_once) {
  eve_compact_report one = compact_of(one_atom), atoms = compact_of(two_atoms),
                     keys = compact_of(two_keys), versions = compact_of(two_versions);
  cr_assert_eq(atoms.blocks, one.blocks, "two atoms holding one value: %llu blocks, one: %llu",
               (unsigned long long)atoms.blocks, (unsigned long long)one.blocks);
  cr_assert_eq(keys.blocks, one.blocks + 1, "one value under two keys: %llu blocks, alone %llu",
               (unsigned long long)keys.blocks, (unsigned long long)one.blocks);
  /* path copying: the new version adds its copied spine only */
  cr_assert_lt(versions.blocks, one.blocks + 16, "two versions sharing their trie: %llu blocks, one %llu",
               (unsigned long long)versions.blocks, (unsigned long long)one.blocks);
  cr_assert_lt(atoms.live_bytes, one.live_bytes + 8192);
  cr_assert_lt(keys.live_bytes, one.live_bytes + 8192);
}

/* ---- deep and long values, on a small stack ------------------------------------------------ */

static void deep_and_long(eve_domain *d, eve_txn *t) {
  eve_val v = EVE_V_EMPTY_VECTOR;
  for (int i = 1; i < EVE_MAX_NESTING; i++) { /* the deepest value there may be */
    eve_val w;
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &w));
    v = w;
  }
  t_publish(d, t, "deep", v);
  eve_val l = EVE_V_EMPTY_LIST;
  for (int i = 0; i < 200000; i++) {
    eve_val x;
    EVE_OK(eve_int(t, i, &x));
    EVE_OK(eve_list_cons(t, x, l, &l));
  }
  t_publish(d, t, "long", l);
}

typedef struct compact_job { const char *src, *dst; int rc; } compact_job;

static void *run_compact(void *arg) {
  compact_job *j = arg;
  j->rc = eve_compact(j->src, j->dst, NULL, NULL);
  return NULL;
}

Test(compact, deep_and_long_values_copy_on_a_small_stack, .timeout = 120) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  eve_domain *d = open_file(src);
  eve_txn *t = t_wtxn(d);
  deep_and_long(d, t);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  pthread_attr_t attr;
  pthread_t th;
  compact_job j = {src, dst, 1};
  cr_assert_eq(pthread_attr_init(&attr), 0);
  cr_assert_eq(pthread_attr_setstacksize(&attr, 128 * 1024), 0);
  cr_assert_eq(pthread_create(&th, &attr, run_compact, &j), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);
  pthread_attr_destroy(&attr);
  EVE_OK(j.rc);
  d = open_file(src);
  eve_domain *c = open_file(dst);
  assert_same_atoms(d, c);
  t_assert_exact(c, "the copy");
  EVE_OK(eve_close(c));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void small_domain(const char *path) {
  eve_domain *d = open_file(path);
  eve_txn *t = t_wtxn(d);
  eve_val v;
  const char *edn = "{:name \"a string long enough to be stored in a block\", :v [1 2.5 #{:a :b}],"
                    " :l (1 2 3), :u #uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"}";
  EVE_OK(eve_read_edn(t, edn, strlen(edn), &v, NULL));
  t_publish(d, t, "x", v);
  t_publish(d, t, "y", v);
  EVE_OK(eve_read_edn(t, "[\"another long string, stored in its own block\" 7]", 50, &v, NULL));
  t_publish(d, t, "z", v);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(compact, errors_leave_no_destination) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  char *text = t_path(dir, "text"), *missing = t_path(dir, "missing.eve");
  small_domain(src);

  EVE_ERR(eve_compact(missing, dst, NULL, NULL), EVE_ENOENT);
  cr_assert(!exists(dst));
  /* an in-memory domain has no path; neither may the copy be in memory */
  EVE_ERR(eve_compact(NULL, dst, NULL, NULL), EVE_EINVAL);
  EVE_ERR(eve_compact(src, NULL, NULL, NULL), EVE_EINVAL);
  EVE_ERR(eve_compact(src, src, NULL, NULL), EVE_EEXIST);

  FILE *f = fopen(text, "w");
  cr_assert_not_null(f);
  for (int i = 0; i < 1000; i++) fputs("this is not a domain\n", f);
  fclose(f);
  EVE_ERR(eve_compact(text, dst, NULL, NULL), EVE_ENOTDOMAIN);
  cr_assert(!exists(dst));

  eve_options bad = {.flags = EVE_OPEN_NEW | EVE_OPEN_RDONLY};
  EVE_ERR(eve_compact(src, dst, &bad, NULL), EVE_EINVAL);
  bad.flags = EVE_OPEN_EXISTING;
  EVE_ERR(eve_compact(src, dst, &bad, NULL), EVE_EINVAL);
  eve_options tiny = {.max_size = 128 * 1024}; /* the data does not fit */
  int rc = eve_compact(src, dst, &tiny, NULL);
  cr_assert(rc == EVE_EFULL || rc == EVE_EINVAL, "%s", eve_err_name(rc));
  cr_assert(!exists(dst));
  EVE_ERR(eve_compact(src, t_path(dir, "no/such/dir.eve"), NULL, NULL), EVE_ENOENT);
  cr_assert_eq(stray_files(dir, "src.eve", "text"), 0, "a temporary file was left behind");

  /* an existing destination is refused and left as it was */
  f = fopen(dst, "w");
  cr_assert_not_null(f);
  fputs("keep me", f);
  fclose(f);
  EVE_ERR(eve_compact(src, dst, NULL, NULL), EVE_EEXIST);
  cr_assert_eq(file_size(dst), 7);
  unlink(dst);

  /* the options are used: a chosen file mode */
  eve_options o = {.mode = 0640, .max_size = 1ull << 30};
  EVE_OK(eve_compact(src, dst, &o, NULL));
  struct stat st;
  cr_assert_eq(stat(dst, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640);
  eve_domain *c = open_file(dst);
  eve_domain_info info;
  EVE_OK(eve_domain_info_get(c, &info));
  cr_assert_eq(info.max_bytes, 1ull << 30);
  EVE_OK(eve_close(c));
  t_rmdir(dir);
}

/* The caller may hold the source open (quiet) in the same process. */
Test(compact, the_source_may_be_open_in_this_process) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  small_domain(src);
  eve_domain *d = open_file(src);
  eve_compact_report r;
  EVE_OK(eve_compact(src, dst, NULL, &r));
  cr_assert_eq(r.atoms, 3);
  eve_domain *c = open_file(dst);
  assert_same_atoms(d, c);
  t_assert_exact(c, "the copy");
  t_assert_exact(d, "the source after its compaction");
  EVE_OK(eve_close(c));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

/* ---- beside a live writer --------------------------------------------------------------------- */

typedef struct writer {
  const char *path;
  _Atomic int stop;
  _Atomic long versions;
} writer;

static void version_text(char *buf, size_t n, long i) {
  snprintf(buf, n, "element of version %ld, long enough to be stored in a block", i);
}

/* Atoms v and w: version i is [i s s ... s], s naming i; every version
 * replaces the last, so its blocks are freed and reused at once. */
static void *write_versions(void *arg) {
  writer *w = arg;
  eve_domain *d = open_file(w->path);
  for (long i = 1; !atomic_load(&w->stop); i++) {
    eve_txn *t = t_wtxn(d);
    eve_val v = EVE_V_EMPTY_VECTOR, x;
    char buf[96];
    version_text(buf, sizeof buf, i);
    EVE_OK(eve_int(t, i, &x));
    EVE_OK(eve_vec_conj(t, v, x, &v));
    for (int k = 0; k < 40; k++) EVE_OK(eve_vec_conj(t, v, str(t, buf), &v));
    t_publish(d, t, i % 2 ? "v" : "w", v);
    EVE_OK(eve_txn_end(t));
    atomic_store(&w->versions, i);
  }
  EVE_OK(eve_close(d));
  return NULL;
}

/* The copy's atom holds one whole version. */
static void assert_one_version(eve_domain *c, const char *name) {
  eve_txn *t;
  EVE_OK(eve_txn_begin(c, EVE_TXN_READ, &t));
  eve_val v = t_deref(c, t, name), x;
  uint64_t n;
  int64_t i;
  EVE_OK(eve_count(t, v, &n));
  cr_assert_eq(n, 41);
  EVE_OK(eve_vec_nth(t, v, 0, &x));
  EVE_OK(eve_int_get(t, x, &i));
  char want[96];
  version_text(want, sizeof want, (long)i);
  for (uint64_t k = 1; k < n; k++) {
    const char *p;
    size_t len;
    EVE_OK(eve_vec_nth(t, v, k, &x));
    EVE_OK(eve_text_get(t, &x, &p, &len));
    cr_assert(len == strlen(want) && !memcmp(p, want, len), "atom %s, version %lld: element %llu is %.*s",
              name, (long long)i, (unsigned long long)k, (int)len, p);
  }
  EVE_OK(eve_txn_end(t));
}

Test(compact, a_source_being_written_gives_one_whole_version_per_atom, .timeout = 120) {
  char *dir = t_tmpdir(), src[256];
  snprintf(src, sizeof src, "%s", t_path(dir, "src.eve")); /* t_path's ring is reused below */
  eve_domain *d = open_file(src);
  EVE_OK(eve_close(d));
  writer w = {.path = src};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, write_versions, &w), 0);
  while (atomic_load(&w.versions) < 2) usleep(1000);
  for (int round = 0; round < 20; round++) {
    char name[32];
    snprintf(name, sizeof name, "dst-%d.eve", round);
    char *dst = t_path(dir, name);
    EVE_OK(eve_compact(src, dst, NULL, NULL));
    eve_domain *c = open_file(dst);
    t_assert_exact(c, "a copy made beside a writer");
    assert_one_version(c, "v");
    assert_one_version(c, "w");
    EVE_OK(eve_close(c));
    unlink(dst);
  }
  atomic_store(&w.stop, 1);
  cr_assert_eq(pthread_join(th, NULL), 0);
  cr_log_info("the writer published %ld versions meanwhile", atomic_load(&w.versions));
  t_rmdir(dir);
}

/* The words of block off of d (a file domain open read-write). */
static uint64_t *words_of(eve_domain *d, uint64_t off) { return region_ptr(d, off); }

/* A list whose last cell's rest points back at its head: only damage
 * makes a cycle, and the copy must refuse it rather than loop or copy it. */
Test(compact, a_cycle_in_the_source_is_corrupt) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *dst = t_path(dir, "dst.eve");
  eve_domain *d = open_file(src);
  eve_txn *t = t_wtxn(d);
  eve_val l;
  EVE_OK(eve_read_edn(t, "(1 2 3)", 7, &l, NULL));
  t_publish(d, t, "l", l);
  EVE_OK(eve_txn_end(t));
  t = t_wtxn(d);
  l = t_deref(d, t, "l");
  uint64_t cell = l;
  size_t n;
  const uint64_t *w = blk_child_words(t, cell, &n); /* first, rest */
  cr_assert_eq(n, 2);
  while (VAL_IS_BLOCK(w[1])) {
    cell = w[1];
    w = blk_child_words(t, cell, &n);
  }
  words_of(d, cell)[(size_t)(w - words_of(d, cell)) + 1] = l; /* rest of the last cell: the head */
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  EVE_ERR(eve_compact(src, dst, NULL, NULL), EVE_ECORRUPT);
  cr_assert(!exists(dst));
  cr_assert_eq(stray_files(dir, "src.eve", NULL), 0, "a temporary file was left behind");
  t_rmdir(dir);
}

/* Random damage to the heap: an error and no destination, or a copy that
 * checks exact; never a crash, a hang or a stray file. */
Test(compact, damaged_sources_give_an_error_or_a_sound_copy, .timeout = 120) {
  char *dir = t_tmpdir();
  char *src = t_path(dir, "src.eve"), *bad = t_path(dir, "bad.eve"), *dst = t_path(dir, "dst.eve");
  small_domain(src);
  FILE *f = fopen(src, "rb");
  cr_assert_not_null(f);
  size_t n = (size_t)file_size(src);
  uint8_t *img = malloc(n), *copy = malloc(n);
  cr_assert(img && copy);
  cr_assert_eq(fread(img, 1, n, f), n);
  fclose(f);
  eve_domain *d = open_file(src);
  eve_domain_info info;
  EVE_OK(eve_domain_info_get(d, &info));
  EVE_OK(eve_close(d));
  uint64_t rng = t_seed(5), failed = 0, copied = 0;
  int rounds = (int)t_scale(300);
  for (int i = 0; i < rounds; i++) {
    memcpy(copy, img, n);
    int k = 1 + (int)t_below(&rng, 4);
    for (int j = 0; j < k; j++) /* bytes in the heap (the header has a checksum) */
      copy[info.heap_start + t_below(&rng, info.bump - info.heap_start)] ^= (uint8_t)(1 + t_below(&rng, 255));
    f = fopen(bad, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(copy, 1, n, f), n);
    fclose(f);
    int rc = eve_compact(bad, dst, NULL, NULL);
    if (rc) {
      failed++;
      cr_assert(!exists(dst), "round %d: %s and a destination", i, eve_err_name(rc));
    } else {
      copied++;
      eve_domain *c = open_file(dst);
      t_assert_exact(c, "the copy of a damaged file");
      EVE_OK(eve_close(c));
      unlink(dst);
    }
    cr_assert_eq(stray_files(dir, "src.eve", "bad.eve"), 0, "round %d: a stray file", i);
  }
  cr_log_info("damaged sources: %llu refused, %llu copied", (unsigned long long)failed,
              (unsigned long long)copied);
  cr_assert_gt(failed, 0);
  free(img);
  free(copy);
  t_rmdir(dir);
}
