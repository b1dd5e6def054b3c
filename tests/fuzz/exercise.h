/* exercise.h — run every public entry point over a domain file that may be
 * damaged, and insist that each returns 0 or a code from the error table.
 *
 * Shared by the libFuzzer target fuzz_domain.c and the Criterion test
 * test_corrupt.c (header-only, so that CMake's one-source-per-test rule and
 * the fuzz build script both pick it up without a library of its own).
 *
 * The contract being tested (eve.h; docs/RELIABILITY.md, "The domain file"): a corrupt or
 * hostile file gives an error, never a crash, a hang or an out-of-table
 * return code.  What is *not* checked here is that the values read are the
 * ones written: payload bytes carry no checksum, so a flipped byte inside
 * a string is a different, well-formed string.  Callers that know the
 * original values compare them through the on_value callback.
 *
 * A contract violation calls abort() after printing what happened: under
 * libFuzzer that is a crash report with the input, under test_corrupt the
 * forked child's death is reported with the seed of the corruption. */
#ifndef EVE_FUZZ_EXERCISE_H
#define EVE_FUZZ_EXERCISE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eve.h"

#define EX_UNUSED __attribute__((unused))

/* Items a value walk may visit: a corrupt pointer graph can make a value
 * look astronomically large (a node whose children all point back at an
 * ancestor), and the library only promises to end each call, not to make
 * such a value small.  The walk stops quietly when the budget runs out. */
#define EX_WALK_BUDGET 200000
#define EX_WALK_DEPTH 64

/* What happened, step by step (0 or an EVE_E* code each). */
typedef struct ex_result {
  int open_rc, info_rc, stats_rc, check_rc, names_rc, swap_rc, create_rc, remove_rc;
  int gc_rc, recheck_rc, close_rc, compact_rc;
  uint64_t problems;        /* eve_check's count on the (maybe damaged) file */
  unsigned atoms_listed;    /* names eve_atom_names returned                  */
  unsigned values_ok;       /* atoms whose value was walked and printed       */
  unsigned values_err;      /* atoms whose open, deref, walk or print failed  */
} ex_result;

/* Called for each atom read: rc is 0 with the value's EDN text, else the
 * error met.  ctx is the caller's. */
typedef void (*ex_value_fn)(void *ctx, const char *name, int rc, const char *edn);

typedef struct ex_options {
  const char *const *names; /* extra names to look up (the originals), or NULL */
  size_t nnames;
  ex_value_fn on_value;
  void *ctx;
  int no_writes;            /* skip swap, create, remove and gc              */
  int no_remove;            /* skip eve_atom_remove (to hunt past a known hang) */
  int no_print;             /* skip the printers (likewise)                  */
} ex_options;

static EX_UNUSED void ex_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static EX_UNUSED void ex_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("exercise: contract violated: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* Every public function returns 0 or a negative code from the table; a
 * positive or unknown code is a bug however damaged the file is. */
static EX_UNUSED int ex_rc(int rc, const char *what, int line) {
  if (rc > 0 || (rc < 0 && strcmp(eve_err_name(rc), "EVE_UNKNOWN") == 0))
    ex_die("%s returned %d, not a code of the error table (exercise.h:%d)", what, rc, line);
  return rc;
}
#define EX_RC(expr) ex_rc((expr), #expr, __LINE__)

typedef struct ex_walk {
  eve_txn *t;
  long budget;
} ex_walk;

static int ex_value(ex_walk *w, eve_val v, int depth);

/* Every byte of a text or byte string is read into this: a length that
 * lies must not send the reader off the mapping unnoticed. */
static EX_UNUSED volatile unsigned ex_sink;

/* Scalars: the accessor of the type must succeed (the type was read). */
static EX_UNUSED int ex_scalar(ex_walk *w, eve_val v, eve_type ty) {
  eve_txn *t = w->t;
  int b;
  int64_t i;
  double f;
  uint32_t c;
  uint8_t u[16];
  const char *s;
  const uint8_t *p;
  size_t n;
  switch (ty) {
  case EVE_BOOL: return EX_RC(eve_bool_get(t, v, &b));
  case EVE_INT: return EX_RC(eve_int_get(t, v, &i));
  case EVE_FLOAT: return EX_RC(eve_float_get(t, v, &f));
  case EVE_CHAR: return EX_RC(eve_char_get(t, v, &c));
  case EVE_UUID: return EX_RC(eve_uuid_get(t, v, u));
  case EVE_INST: return EX_RC(eve_inst_get(t, v, &i));
  case EVE_STRING: case EVE_KEYWORD: case EVE_SYMBOL: {
    int rc = EX_RC(eve_text_get(t, &v, &s, &n));
    for (size_t k = 0; !rc && k < n; k++) ex_sink += (unsigned char)s[k];
    return rc;
  }
  case EVE_BYTES: {
    int rc = EX_RC(eve_bytes_get(t, &v, &p, &n));
    for (size_t k = 0; !rc && k < n; k++) ex_sink += p[k];
    return rc;
  }
  default: return 0;
  }
}

/* Positional reads of sequences: first / rest, nth at both ends and past. */
static EX_UNUSED int ex_sequence(ex_walk *w, eve_val v, eve_type ty, uint64_t count) {
  eve_txn *t = w->t;
  eve_val x;
  int rc;
  if (ty == EVE_LIST) {
    if ((rc = EX_RC(eve_list_first(t, v, &x)))) return rc;
    return EX_RC(eve_list_rest(t, v, &x));
  }
  if (count && ((rc = EX_RC(eve_vec_nth(t, v, 0, &x))) || (rc = EX_RC(eve_vec_nth(t, v, count - 1, &x)))))
    return rc;
  rc = EX_RC(eve_vec_nth(t, v, count, &x));
  if (rc == 0) ex_die("eve_vec_nth(count = %llu) succeeded", (unsigned long long)count);
  return rc == EVE_ERANGE ? 0 : rc;
}

/* Iterate a collection, walking keys and values; lookups of map keys and
 * set members that the iteration yielded. */
static EX_UNUSED int ex_collection(ex_walk *w, eve_val v, eve_type ty, int depth) {
  eve_txn *t = w->t;
  uint64_t count = 0;
  int rc = EX_RC(eve_count(t, v, &count));
  if (rc) return rc;
  if ((ty == EVE_VECTOR || ty == EVE_LIST) && (rc = ex_sequence(w, v, ty, count))) return rc;
  eve_iter it;
  if ((rc = EX_RC(eve_iter_init(t, v, &it)))) return rc;
  eve_val k, x, got;
  int has;
  while (w->budget > 0 && (rc = EX_RC(eve_iter_next(&it, &k, &x))) == 0) {
    w->budget--;
    if (ty == EVE_MAP) rc = EX_RC(eve_map_get(t, v, k, &got));
    if (ty == EVE_SET) rc = EX_RC(eve_set_contains(t, v, k, &has));
    if (rc && rc != EVE_ENOTFOUND) return rc; /* not found: a damaged trie path */
    if (depth < EX_WALK_DEPTH && (rc = ex_value(w, k, depth + 1))) return rc;
    if (ty == EVE_MAP && depth < EX_WALK_DEPTH && (rc = ex_value(w, x, depth + 1))) return rc;
  }
  return rc == EVE_END ? 0 : rc;
}

/* Walk one value: type, hash, reflexive equality and order, then the
 * accessors of its type. */
static int ex_value(ex_walk *w, eve_val v, int depth) {
  eve_txn *t = w->t;
  eve_type ty;
  uint64_t h;
  int eq = 0, cmp = 1;
  int rc = EX_RC(eve_type_get(t, v, &ty));
  if (rc || w->budget-- <= 0) return rc;
  if ((rc = EX_RC(eve_hash(t, v, &h)))) return rc;
  if ((rc = EX_RC(eve_equal(t, v, v, &eq)))) return rc;
  if (!eq) ex_die("a value is not equal to itself");
  if ((rc = EX_RC(eve_compare(t, v, v, &cmp)))) return rc;
  if (cmp) ex_die("a value does not compare 0 with itself");
  if (ty >= EVE_LIST) return ex_collection(w, v, ty, depth);
  return ex_scalar(w, v, ty);
}

/* Walk and print v; on success *edn gets the EDN text (eve_free it). */
static EX_UNUSED int ex_read_value(eve_txn *t, eve_val v, char **edn, int no_print) {
  ex_walk w = {t, EX_WALK_BUDGET};
  char *json = NULL;
  *edn = NULL;
  int rc = ex_value(&w, v, 0);
  if (no_print) return rc;
  if (!rc) rc = EX_RC(eve_print_edn(t, v, edn, NULL));
  if (!rc) {
    int jrc = EX_RC(eve_print_json(t, v, &json, NULL));
    eve_free(json);
    if (jrc && jrc != EVE_ETYPE) rc = jrc; /* ETYPE: a NaN or infinity */
  }
  if (rc) {
    eve_free(*edn);
    *edn = NULL;
  }
  return rc;
}

/* Open atom `name` and read its value (version and a zero-time wait too). */
static EX_UNUSED int ex_atom(eve_domain *d, eve_txn *t, const char *name, const ex_options *o) {
  eve_atom *a = NULL;
  eve_val v;
  uint64_t ver = 0, now;
  char *edn = NULL;
  int rc = EX_RC(eve_atom_open(d, name, 0, &a));
  if (!rc) rc = EX_RC(eve_atom_version_get(a, &ver));
  if (!rc) {
    int wrc = EX_RC(eve_wait(a, ver, 0, &now));
    if (wrc && wrc != EVE_ETIMEDOUT && wrc != EVE_EREMOVED) rc = wrc;
  }
  if (!rc) rc = EX_RC(eve_deref(t, a, &v));
  if (!rc) rc = ex_read_value(t, v, &edn, o->no_print);
  if (a) EX_RC(eve_atom_close(a));
  if (o->on_value) o->on_value(o->ctx, name, rc, edn);
  eve_free(edn);
  return rc;
}

/* Read one atom in a transaction of its own (a damaged value makes its
 * transaction's error sticky; the next atom must not inherit it). */
static EX_UNUSED void ex_atom_txn(eve_domain *d, const char *name, const ex_options *o,
                                  ex_result *r) {
  eve_txn *t = NULL;
  int rc = EX_RC(eve_txn_begin(d, EVE_TXN_READ, &t));
  if (!rc) rc = ex_atom(d, t, name, o);
  if (t) EX_RC(eve_txn_end(t));
  if (rc) r->values_err++;
  else r->values_ok++;
}

#define EX_MAX_NAMES 4096

/* The names eve_atom_names_each lists, copied out (at most EX_MAX_NAMES). */
typedef struct ex_names_ctx {
  char **out;
  size_t n;
} ex_names_ctx;

static EX_UNUSED int ex_copy_name(void *ctx, const char *name, size_t len) {
  ex_names_ctx *c = ctx;
  if (c->n >= EX_MAX_NAMES) return 1; /* enough */
  if (!(c->out[c->n++] = strndup(name, len))) ex_die("out of memory");
  return 0;
}

static EX_UNUSED size_t ex_names(eve_domain *d, char **out, ex_result *r) {
  eve_txn *t = NULL;
  ex_names_ctx c = {out, 0};
  r->names_rc = EX_RC(eve_txn_begin(d, EVE_TXN_READ, &t));
  if (r->names_rc) return 0;
  int rc = eve_atom_names_each(t, ex_copy_name, &c);
  r->names_rc = EX_RC(rc == 1 ? 0 : rc);
  EX_RC(eve_txn_end(t));
  return c.n;
}

/* Every atom eve_atom_names lists, then the caller's names.  Returns the
 * first listed name (malloc'd, for the swap) or NULL. */
static EX_UNUSED char *ex_atoms(eve_domain *d, const ex_options *o, ex_result *r) {
  char **names = calloc(EX_MAX_NAMES, sizeof *names);
  if (!names) ex_die("out of memory");
  size_t n = ex_names(d, names, r);
  r->atoms_listed = (unsigned)n;
  for (size_t i = 0; i < n; i++) ex_atom_txn(d, names[i], o, r);
  for (size_t i = 0; i < o->nnames; i++) { /* the caller's names that were not listed */
    size_t k = 0;
    while (k < n && strcmp(names[k], o->names[i])) k++;
    if (k == n) ex_atom_txn(d, o->names[i], o, r);
  }
  char *first = n ? names[0] : NULL;
  for (size_t i = 1; i < n; i++) free(names[i]);
  free(names);
  return first;
}

/* The swap: grow whatever the atom holds by one element. */
static EX_UNUSED int ex_grow(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  eve_type ty;
  int rc = eve_type_get(t, old, &ty);
  if (rc) return rc;
  switch (ty) {
  case EVE_NIL: case EVE_MAP: return eve_map_assoc(t, old, EVE_V_TRUE, EVE_V_FALSE, out);
  case EVE_VECTOR: return eve_vec_conj(t, old, EVE_V_TRUE, out);
  case EVE_SET: return eve_set_conj(t, old, EVE_V_TRUE, out);
  case EVE_LIST: return eve_list_cons(t, EVE_V_TRUE, old, out);
  default: return eve_vec_conj(t, EVE_V_EMPTY_VECTOR, old, out);
  }
}

static EX_UNUSED int ex_swap(eve_domain *d, const char *name) {
  eve_txn *t = NULL;
  eve_atom *a = NULL;
  eve_val v;
  int rc = EX_RC(eve_atom_open(d, name, 0, &a));
  if (!rc) rc = EX_RC(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  if (!rc) rc = EX_RC(eve_swap(t, a, ex_grow, NULL, &v));
  if (t) {
    int crc = EX_RC(eve_txn_end(t));
    if (!rc) rc = crc;
  }
  if (a) EX_RC(eve_atom_close(a));
  return rc;
}

/* A new atom holding a fresh map: allocation and registry commit on top of
 * whatever state the free lists and the registry are in. */
static EX_UNUSED int ex_create(eve_domain *d) {
  eve_txn *t = NULL;
  eve_atom *a = NULL;
  eve_val k, m;
  int rc = EX_RC(eve_atom_open(d, "exercise/new-atom", EVE_ATOM_CREATE, &a));
  if (!rc) rc = EX_RC(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  if (!rc) rc = EX_RC(eve_keyword(t, "created-by-exercise", 19, &k));
  if (!rc) rc = EX_RC(eve_map_assoc(t, EVE_V_EMPTY_MAP, k, EVE_V_TRUE, &m));
  if (!rc) rc = EX_RC(eve_reset(t, a, m));
  if (t) {
    int crc = EX_RC(eve_txn_end(t));
    if (!rc) rc = crc;
  }
  if (a) EX_RC(eve_atom_close(a));
  return rc;
}

/* Compact the (maybe damaged) file at path into path.compacted: an error
 * and no copy, or a copy that checks sound (eve_compact verifies it
 * before it takes its name); the copy is removed again. */
static EX_UNUSED int ex_compact(const char *path) {
  char copy[4200];
  if ((size_t)snprintf(copy, sizeof copy, "%s.compacted", path) >= sizeof copy) return 0;
  unlink(copy);
  int rc = EX_RC(eve_compact(path, copy, NULL, NULL));
  if (rc) {
    if (access(copy, F_OK) == 0) ex_die("eve_compact failed (%d) and left its copy", rc);
    return rc;
  }
  eve_options eo;
  eve_domain *d = NULL;
  eve_check_report rep;
  memset(&eo, 0, sizeof eo);
  eo.flags = EVE_OPEN_EXISTING;
  if (EX_RC(eve_open(copy, &eo, &d))) ex_die("the compacted copy does not open");
  if (EX_RC(eve_check(d, &rep, NULL, NULL)) || rep.problems || rep.leaked_bytes)
    ex_die("the compacted copy does not check exact");
  EX_RC(eve_close(d));
  unlink(copy);
  return 0;
}

/* Open the domain at path (it must exist) and run everything.  Returns
 * r->open_rc; the other steps are recorded in *r. */
static EX_UNUSED int ex_domain(const char *path, const ex_options *opt, ex_result *r) {
  static const ex_options none;
  const ex_options *o = opt ? opt : &none;
  eve_options eo;
  eve_domain *d = NULL;
  eve_domain_info info;
  eve_stats st;
  eve_check_report rep;
  eve_gc_report gr;
  memset(r, 0, sizeof *r);
  memset(&eo, 0, sizeof eo);
  r->compact_rc = ex_compact(path); /* first: it reads the file as it was given */
  eo.flags = EVE_OPEN_EXISTING; /* open an existing file read-write */
  if ((r->open_rc = EX_RC(eve_open(path, &eo, &d)))) return r->open_rc;
  r->info_rc = EX_RC(eve_domain_info_get(d, &info));
  r->stats_rc = EX_RC(eve_stats_get(d, &st));
  r->check_rc = EX_RC(eve_check(d, &rep, NULL, NULL));
  r->problems = rep.problems;
  char *first = ex_atoms(d, o, r);
  if (!o->no_writes) {
    if (first) r->swap_rc = ex_swap(d, first);
    r->create_rc = ex_create(d);
    if (first && !o->no_remove) r->remove_rc = EX_RC(eve_atom_remove(d, first));
    r->gc_rc = EX_RC(eve_gc(d, &gr));
    r->recheck_rc = EX_RC(eve_check(d, &rep, NULL, NULL));
    EX_RC(eve_stats_get(d, &st));
  }
  free(first);
  r->close_rc = EX_RC(eve_close(d));
  return 0;
}

#endif
