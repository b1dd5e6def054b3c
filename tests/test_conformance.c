/* test_conformance.c — the EDN and JSON readers against external suites.
 *
 * The suites live outside the repository, in a directory "conformance"
 * (see README.md, "Text formats: conformance and limits"):
 *   JSONTestSuite/test_parsing/   y_*.json must be accepted, n_*.json
 *                                 rejected, i_*.json either way (reported)
 *   JSONTestSuite/test_transform/ no verdict (reported)
 *   edn-spec/{valid,invalid,ext}/ and edn-spec/expected/
 *   tools.reader/{valid,ext}/     and tools.reader/expected/
 * A valid case must be read, and its printed form must read back equal
 * (eve_equal) and print the same again; where expected/NAME exists, the
 * case must equal the value read from it.  An invalid case must be refused
 * with EVE_EPARSE or EVE_EDEPTH and a message and position, without a crash
 * or leak (the ASan build runs the same tests; each test ends with an
 * eve_check of the domain).
 *
 * The directory: $EVE_CONFORMANCE_DIR if set (the tests fail if it is not
 * a suite directory); else shared/conformance beside an ancestor of the
 * current directory or of this file (the repository's parent); else
 * /work/shared/conformance.  When none exists the tests are skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

/* ---- exclusions ----------------------------------------------------------
 * Cases with a verdict that eve deliberately does not follow.  Each one is
 * checked the other way round: if an excluded case starts to behave as its
 * suite says, the test fails, so the entry can be removed. */
typedef struct exclusion {
  const char *suite; /* e.g. "edn-spec/valid" */
  const char *name;
  const char *reason;
} exclusion;

static const exclusion exclusions[] = {
    /* eve has no arbitrary-precision integers: N must fit int64 (EVE_EPARSE
     * beyond, never a wrapped value). */
    {"edn-spec/valid", "int-N-arbitrary-precision.edn", "N integer beyond int64"},
    /* eve keeps no tagged literal it does not know (#uuid, #inst,
     * #eve/bytes): an unknown tag is refused unless it is discarded. */
    {"edn-spec/valid", "tag-user-unknown.edn", "unknown tag #myapp/Person"},
    {"tools.reader/valid", "tagged_unknown_default_handler.edn", "unknown tag #foo"},
    /* M decimals are kept as doubles, so an M that a double cannot hold
     * exactly is refused rather than rounded (42.23 has no exact double). */
    {"tools.reader/valid", "float_42dot23M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_minus42dot23M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_plus42dot23M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_1dot0eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_1eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_minus1dot0eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_minus1eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_plus1dot0eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_plus1eminus1M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_minus42dot2eminus3M.edn", "M decimal not exact as a double"},
    {"tools.reader/valid", "float_minus9223372036854775809M.edn", "M decimal not exact as a double"},
};

static const exclusion *excluded(const char *suite, const char *name) {
  for (size_t i = 0; i < sizeof exclusions / sizeof *exclusions; i++)
    if (!strcmp(exclusions[i].suite, suite) && !strcmp(exclusions[i].name, name)) return &exclusions[i];
  return NULL;
}

/* ---- locating the suites -------------------------------------------------- */

/* snprintf into a path buffer; a path that does not fit is an error. */
static void pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  cr_assert(k >= 0 && (size_t)k < cap, "path too long: %s", out);
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_suite(const char *dir) {
  char p[4096];
  pathf(p, sizeof p, "%s/JSONTestSuite/test_parsing", dir);
  if (!is_dir(p)) return 0;
  pathf(p, sizeof p, "%s/edn-spec/valid", dir);
  return is_dir(p);
}

/* shared/conformance beside `start` or one of its ancestors. */
static int search_up(const char *start, char *out, size_t cap) {
  char dir[4096];
  if (!start || !realpath(start, dir)) return 0;
  for (;;) {
    pathf(out, cap, "%s/shared/conformance", strcmp(dir, "/") ? dir : "");
    if (is_suite(out)) return 1;
    char *slash = strrchr(dir, '/');
    if (!slash || dir[1] == 0) return 0;
    if (slash == dir) slash[1] = 0; /* "/x" -> "/" */
    else *slash = 0;
  }
}

/* The suite directory, or NULL after skipping the test (or failing it when
 * $EVE_CONFORMANCE_DIR names something else). */
static const char *suite_root(void) {
  static char root[4096];
  const char *env = getenv("EVE_CONFORMANCE_DIR");
  if (env && *env) {
    if (!is_suite(env))
      cr_assert_fail("EVE_CONFORMANCE_DIR=%s has no JSONTestSuite/test_parsing and edn-spec/valid", env);
    pathf(root, sizeof root, "%s", env);
    return root;
  }
  char cwd[4096], here[4096];
  pathf(here, sizeof here, "%s", __FILE__);
  char *slash = strrchr(here, '/');
  if (slash) *slash = 0;
  else pathf(here, sizeof here, ".");
  if ((getcwd(cwd, sizeof cwd) && search_up(cwd, root, sizeof root)) ||
      search_up(here, root, sizeof root))
    return root;
  pathf(root, sizeof root, "/work/shared/conformance");
  if (is_suite(root)) return root;
  cr_skip_test("conformance suites not found (set EVE_CONFORMANCE_DIR, or put them in "
               "shared/conformance beside the repository)");
  return NULL;
}

/* ---- cases --------------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in root/sub with the given prefix and suffix, sorted; *n set.
 * A missing directory has no names. */
static char **list_cases(const char *root, const char *sub, const char *prefix, const char *suffix,
                         size_t *n) {
  char p[4096];
  pathf(p, sizeof p, "%s/%s", root, sub);
  char **names = NULL;
  size_t cnt = 0, cap = 0;
  DIR *d = opendir(p);
  *n = 0;
  if (!d) return NULL;
  struct dirent *e;
  size_t lp = strlen(prefix), ls = strlen(suffix);
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < lp + ls || strncmp(e->d_name, prefix, lp) || strcmp(e->d_name + l - ls, suffix)) continue;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      names = realloc(names, cap * sizeof *names);
      cr_assert_not_null(names);
    }
    names[cnt++] = strdup(e->d_name);
  }
  closedir(d);
  if (cnt) qsort(names, cnt, sizeof *names, by_name);
  *n = cnt;
  return names;
}

static void free_cases(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The whole file in an exact-size heap block (no NUL, so ASan reports a
 * read past the end); NULL if it does not exist. */
static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  cr_assert_geq(len, 0);
  rewind(f);
  char *buf = malloc(len ? (size_t)len : 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len, "reading %s", path);
  fclose(f);
  *n = (size_t)len;
  return buf;
}

enum fmt { EDN, JSON };

static int read_as(enum fmt fm, eve_txn *t, const char *s, size_t n, eve_val *v, eve_parse_error *e) {
  return fm == EDN ? eve_read_edn(t, s, n, v, e) : eve_read_json(t, s, n, v, e);
}

static int print_as(enum fmt fm, eve_txn *t, eve_val v, char **out, size_t *len) {
  return fm == EDN ? eve_print_edn(t, v, out, len) : eve_print_json(t, v, out, len);
}

/* One run over a directory of cases. */
typedef struct run {
  const char *root;
  const char *suite;  /* "edn-spec/valid"... */
  const char *expect; /* directory of expected values, or NULL */
  enum fmt fm;
  eve_domain *d;
  eve_txn *t;
  size_t total, accepted, rejected, failed, excluded;
} run;

#define BAD(r, name, ...)                                     \
  do {                                                        \
    (r)->failed++;                                            \
    fprintf(stderr, "FAIL %s/%s: ", (r)->suite, (name));      \
    fprintf(stderr, __VA_ARGS__);                             \
    fputc('\n', stderr);                                      \
  } while (0)

/* print v, read it back, compare, print again: 0 if all well */
static int roundtrip(run *r, const char *name, enum fmt fm, eve_val v) {
  char *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  eve_val back;
  eve_parse_error e;
  int eq = 0, rc = print_as(fm, r->t, v, &a, &na);
  if (rc) {
    BAD(r, name, "printing as %s: %s", fm == EDN ? "EDN" : "JSON", eve_err_name(rc));
    return -1;
  }
  if ((rc = read_as(fm, r->t, a, na, &back, &e))) {
    BAD(r, name, "printed %s does not read back: %s at %d:%d (%s): %.200s", fm == EDN ? "EDN" : "JSON",
        eve_err_name(rc), e.line, e.column, e.message, a);
  } else if ((rc = eve_equal(r->t, v, back, &eq)) || !eq) {
    BAD(r, name, "printed %s reads back different: %.200s", fm == EDN ? "EDN" : "JSON", a);
    rc = -1;
  } else if ((rc = print_as(fm, r->t, back, &b, &nb)) || na != nb || memcmp(a, b, na)) {
    BAD(r, name, "printing is not stable: %.200s", a);
    rc = -1;
  }
  eve_free(a);
  eve_free(b);
  return rc ? -1 : 0;
}

/* A case that must be read.  Returns 1 if it was, 0 if refused. */
static int must_accept(run *r, const char *name, const char *s, size_t n, int quiet) {
  eve_val v;
  eve_parse_error e;
  int rc = read_as(r->fm, r->t, s, n, &v, &e);
  if (rc) {
    if (!quiet)
      BAD(r, name, "refused: %s at %d:%d (%s)", eve_err_name(rc), e.line, e.column, e.message);
    return 0;
  }
  if (quiet) return 1;
  if (roundtrip(r, name, r->fm, v)) return 1;
  /* JSON values go through EDN too: eve's own text must carry them */
  if (r->fm == JSON && roundtrip(r, name, EDN, v)) return 1;
  if (r->expect) {
    char p[4096];
    size_t en;
    pathf(p, sizeof p, "%s/%s/%s", r->root, r->expect, name);
    char *es = slurp(p, &en);
    if (es) {
      eve_val want;
      int eq = 0;
      if ((rc = read_as(r->fm, r->t, es, en, &want, &e)))
        BAD(r, name, "expected value does not read: %s (%s)", eve_err_name(rc), e.message);
      else if ((rc = eve_equal(r->t, v, want, &eq)) || !eq)
        BAD(r, name, "read %s, expected %.*s", t_edn(r->t, v), (int)(en > 200 ? 200 : en), es);
      free(es);
    }
  }
  return 1;
}

/* A case that must be refused.  Returns 1 if it was. */
static int must_reject(run *r, const char *name, const char *s, size_t n, int quiet) {
  eve_val v;
  eve_parse_error e;
  int rc = read_as(r->fm, r->t, s, n, &v, &e);
  if (!rc) {
    if (!quiet) BAD(r, name, "accepted as %s", t_edn(r->t, v));
    return 0;
  }
  if (rc != EVE_EPARSE && rc != EVE_EDEPTH)
    BAD(r, name, "refused with %s, not EVE_EPARSE or EVE_EDEPTH", eve_err_name(rc));
  else if (!e.message[0] || e.line < 1 || e.column < 1)
    BAD(r, name, "refused without a message or position (%d:%d)", e.line, e.column);
  return 1;
}

enum verdict { ACCEPT, REJECT, EITHER };

static void run_dir(run *r, const char *sub, const char *prefix, const char *suffix, enum verdict vd) {
  size_t n;
  char **names = list_cases(r->root, sub, prefix, suffix, &n);
  cr_assert_gt(n, 0, "no %s%s cases in %s/%s", prefix, suffix, r->root, sub);
  for (size_t i = 0; i < n; i++) {
    char p[4096];
    size_t len;
    pathf(p, sizeof p, "%s/%s/%s", r->root, sub, names[i]);
    char *s = slurp(p, &len);
    cr_assert_not_null(s, "cannot read %s", p);
    const exclusion *x = excluded(r->suite, names[i]);
    r->total++;
    if (vd == EITHER) {
      eve_val v;
      eve_parse_error e;
      int rc = read_as(r->fm, r->t, s, len, &v, &e);
      if (rc) r->rejected++;
      else r->accepted++;
      if (rc && rc != EVE_EPARSE && rc != EVE_EDEPTH)
        BAD(r, names[i], "refused with %s, not EVE_EPARSE or EVE_EDEPTH", eve_err_name(rc));
      else if (!rc && roundtrip(r, names[i], r->fm, v) == 0 && r->fm == JSON)
        roundtrip(r, names[i], EDN, v);
      cr_log_info("%s/%s: %s%s%s", r->suite, names[i], rc ? "rejected" : "accepted",
                  rc ? ": " : "", rc ? e.message : "");
    } else if (x) {
      /* expected to go the other way; fail if it no longer does */
      r->excluded++;
      int ok = vd == ACCEPT ? must_accept(r, names[i], s, len, 1) : must_reject(r, names[i], s, len, 1);
      if (ok) BAD(r, names[i], "excluded (%s) but now passes: remove the exclusion", x->reason);
      if (vd == ACCEPT) r->rejected++;
      else r->accepted++;
    } else if (vd == ACCEPT) {
      if (must_accept(r, names[i], s, len, 0)) r->accepted++;
      else r->rejected++;
    } else {
      if (must_reject(r, names[i], s, len, 0)) r->rejected++;
      else r->accepted++;
    }
    free(s);
    /* a fresh transaction per case: whatever it read is freed */
    EVE_OK(eve_txn_end(r->t));
    r->t = t_wtxn(r->d);
  }
  free_cases(names, n);
}

static void run_suite(const char *suite, const char *sub, const char *prefix, const char *suffix,
                      const char *expect, enum fmt fm, enum verdict vd) {
  const char *root = suite_root();
  if (!root) return;
  run r = {.root = root, .suite = suite, .expect = expect, .fm = fm};
  r.d = t_open_mem();
  r.t = t_wtxn(r.d);
  run_dir(&r, sub, prefix, suffix, vd);
  EVE_OK(eve_txn_end(r.t));
  t_assert_exact(r.d, suite);
  eve_close(r.d);
  /* stderr, not cr_log_info: ctest shows it without --verbose */
  fprintf(stderr, "%s (%s*%s): %zu cases, %zu accepted, %zu rejected, %zu excluded, %zu failed\n", suite,
          prefix, suffix, r.total, r.accepted, r.rejected, r.excluded, r.failed);
  cr_assert_eq(r.failed, 0, "%s: %zu of %zu cases failed (listed above)", suite, r.failed, r.total);
}

/* ---- JSONTestSuite ------------------------------------------------------- */

Test(conformance, json_y_accepted) {
  run_suite("JSONTestSuite/y", "JSONTestSuite/test_parsing", "y_", ".json", NULL, JSON, ACCEPT);
}

Test(conformance, json_n_rejected) {
  run_suite("JSONTestSuite/n", "JSONTestSuite/test_parsing", "n_", ".json", NULL, JSON, REJECT);
}

Test(conformance, json_i_reported) {
  run_suite("JSONTestSuite/i", "JSONTestSuite/test_parsing", "i_", ".json", NULL, JSON, EITHER);
}

Test(conformance, json_transform_reported) {
  run_suite("JSONTestSuite/transform", "JSONTestSuite/test_transform", "", ".json", NULL, JSON, EITHER);
}

/* ---- EDN ------------------------------------------------------------------ */

Test(conformance, edn_spec_valid) {
  run_suite("edn-spec/valid", "edn-spec/valid", "", ".edn", "edn-spec/expected", EDN, ACCEPT);
}

Test(conformance, edn_spec_invalid) {
  run_suite("edn-spec/invalid", "edn-spec/invalid", "", ".edn", NULL, EDN, REJECT);
}

Test(conformance, edn_spec_ext_reported) {
  run_suite("edn-spec/ext", "edn-spec/ext", "", ".edn", NULL, EDN, EITHER);
}

Test(conformance, tools_reader_valid) {
  run_suite("tools.reader/valid", "tools.reader/valid", "", ".edn", "tools.reader/expected", EDN, ACCEPT);
}

Test(conformance, tools_reader_ext_reported) {
  run_suite("tools.reader/ext", "tools.reader/ext", "", ".edn", NULL, EDN, EITHER);
}
