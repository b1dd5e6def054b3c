/* test_json.c — the JSON reader and printer. */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- helpers ------------------------------------------------------------ */

/* Read n bytes through an exact-size heap copy without a NUL, so ASan
 * reports any read past the end. */
static int rd_n(eve_txn *t, const char *s, size_t n, eve_val *v, eve_parse_error *e) {
  char *copy = malloc(n ? n : 1);
  cr_assert_not_null(copy);
  memcpy(copy, s, n);
  int rc = eve_read_json(t, copy, n, v, e);
  free(copy);
  return rc;
}

static int rd(eve_txn *t, const char *s, eve_val *v, eve_parse_error *e) {
  return rd_n(t, s, strlen(s), v, e);
}

static eve_val rd_ok(eve_txn *t, const char *s) {
  eve_val v = 0;
  eve_parse_error e;
  int rc = rd(t, s, &v, &e);
  cr_assert_eq(rc, 0, "read %s -> %s (%d:%d %s)", s, eve_err_name(rc), e.line, e.column, e.message);
  return v;
}

static eve_val edn(eve_txn *t, const char *s) {
  eve_val v = 0;
  eve_parse_error e;
  int rc = eve_read_edn(t, s, strlen(s), &v, &e);
  cr_assert_eq(rc, 0, "read EDN %s -> %s (%s)", s, eve_err_name(rc), e.message);
  return v;
}

static char *pr(eve_txn *t, eve_val v) {
  char *out = NULL;
  size_t len = 0;
  EVE_OK(eve_print_json(t, v, &out, &len));
  cr_assert_eq(strlen(out), len, "length excludes the NUL");
  return out;
}

/* print v as JSON, expect want */
static void expect_json(eve_txn *t, eve_val v, const char *want) {
  char *out = pr(t, v);
  cr_assert_str_eq(out, want, "printed %s, wanted %s", out, want);
  eve_free(out);
}

/* EDN in, JSON out */
static void expect_edn_json(eve_txn *t, const char *in, const char *want) { expect_json(t, edn(t, in), want); }

/* JSON in, JSON out */
static void expect_print(eve_txn *t, const char *in, const char *want) { expect_json(t, rd_ok(t, in), want); }
static void expect_same(eve_txn *t, const char *in) { expect_print(t, in, in); }

static int equal(eve_txn *t, eve_val a, eve_val b) {
  int eq;
  EVE_OK(eve_equal(t, a, b, &eq));
  return eq;
}

/* JSON in equals EDN */
static void expect_value(eve_txn *t, const char *in, const char *edn_text) {
  eve_val a = rd_ok(t, in), b = edn(t, edn_text);
  cr_assert(equal(t, a, b), "JSON %s is not %s", in, edn_text);
  eve_type ta, tb;
  EVE_OK(eve_type_get(t, a, &ta));
  EVE_OK(eve_type_get(t, b, &tb));
  cr_assert_eq(ta, tb, "JSON %s is a %s, not a %s", in, eve_type_name(ta), eve_type_name(tb));
}

static void expect_err(eve_txn *t, const char *in, int code, int line, int col) {
  eve_val v;
  eve_parse_error e;
  int rc = rd(t, in, &v, &e);
  cr_assert_eq(rc, code, "read '%s' -> %s, wanted %s", in, eve_err_name(rc), eve_err_name(code));
  cr_assert(e.line == line && e.column == col, "read '%s': error at %d:%d (%s), wanted %d:%d", in,
            e.line, e.column, e.message, line, col);
  cr_assert(e.message[0], "message for '%s'", in);
}

#define OPEN()                  \
  eve_domain *d = t_open_mem(); \
  eve_txn *t = t_wtxn(d)
#define CLOSE()     \
  eve_txn_end(t); \
  eve_close(d)

/* ---- reading -------------------------------------------------------------- */

Test(json, literals_and_numbers) {
  OPEN();
  cr_assert_eq(rd_ok(t, "null"), EVE_V_NIL);
  cr_assert_eq(rd_ok(t, "true"), EVE_V_TRUE);
  cr_assert_eq(rd_ok(t, " \t\r\nfalse\n"), EVE_V_FALSE);
  expect_value(t, "0", "0");
  expect_value(t, "-0", "0");
  expect_value(t, "42", "42");
  expect_value(t, "-17", "-17");
  expect_value(t, "9223372036854775807", "9223372036854775807");
  expect_value(t, "-9223372036854775808", "-9223372036854775808");
  /* integral but past int64: a float */
  expect_value(t, "9223372036854775808", "9223372036854775808.0");
  expect_value(t, "-9223372036854775809", "-9223372036854775809.0");
  expect_value(t, "100000000000000000000000", "1e23");
  /* a '.', 'e' or 'E' makes a float */
  expect_value(t, "1.0", "1.0");
  expect_value(t, "-0.0", "-0.0");
  expect_value(t, "1e2", "100.0");
  expect_value(t, "1E+2", "100.0");
  expect_value(t, "-1.5e-3", "-0.0015");
  expect_value(t, "0.1", "0.1");
  expect_value(t, "5e-324", "5e-324");
  expect_value(t, "1.7976931348623157e308", "1.7976931348623157e308");
  expect_value(t, "1e-400", "0.0");
  CLOSE();
}

Test(json, number_errors) {
  OPEN();
  expect_err(t, "01", EVE_EPARSE, 1, 2);
  expect_err(t, "-01", EVE_EPARSE, 1, 3);
  expect_err(t, "+1", EVE_EPARSE, 1, 1);
  expect_err(t, "1.", EVE_EPARSE, 1, 3);
  expect_err(t, "1.e5", EVE_EPARSE, 1, 3);
  expect_err(t, ".5", EVE_EPARSE, 1, 1);
  expect_err(t, "1e", EVE_EPARSE, 1, 3);
  expect_err(t, "1e+", EVE_EPARSE, 1, 4);
  expect_err(t, "-", EVE_EPARSE, 1, 2);
  expect_err(t, "- 1", EVE_EPARSE, 1, 2);
  expect_err(t, "NaN", EVE_EPARSE, 1, 1);
  expect_err(t, "Infinity", EVE_EPARSE, 1, 1);
  expect_err(t, "-Infinity", EVE_EPARSE, 1, 2);
  expect_err(t, "0x10", EVE_EPARSE, 1, 2);
  expect_err(t, "1e400", EVE_EPARSE, 1, 1);
  expect_err(t, "[1, -1e999]", EVE_EPARSE, 1, 5);
  expect_err(t, "12a", EVE_EPARSE, 1, 3);
  expect_err(t, "1N", EVE_EPARSE, 1, 2);
  expect_err(t, "1.5M", EVE_EPARSE, 1, 4);
  CLOSE();
}

static void expect_str(eve_txn *t, const char *in, const char *want, size_t wn) {
  eve_val v = rd_ok(t, in);
  const char *s;
  size_t n;
  EVE_OK(eve_text_get(t, &v, &s, &n));
  cr_assert(n == wn && !memcmp(s, want, n), "%s: %zu bytes", in, n);
}

Test(json, strings) {
  OPEN();
  expect_str(t, "\"\"", "", 0);
  expect_str(t, "\"abc\"", "abc", 3);
  expect_str(t, "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
  expect_str(t, "\"\\u0000\"", "\0", 1);
  expect_str(t, "\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9", 4);
  expect_str(t, "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
  expect_str(t, "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
  expect_str(t, "\"caf\xc3\xa9\"", "caf\xc3\xa9", 5);
  expect_str(t, "\"\x7f\"", "\x7f", 1); /* DEL needs no escape */
  expect_err(t, "\"a\tb\"", EVE_EPARSE, 1, 3);   /* raw control character */
  expect_err(t, "\"a\nb\"", EVE_EPARSE, 1, 3);
  expect_err(t, "\"\\ud800\"", EVE_EPARSE, 1, 2);  /* lone high surrogate */
  expect_err(t, "\"\\udc00\"", EVE_EPARSE, 1, 2);  /* lone low surrogate */
  expect_err(t, "\"\\ud800\\u0041\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\ud800\\ud800\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\ud800x\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\x\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\'\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\u12g4\"", EVE_EPARSE, 1, 6);
  expect_err(t, "\"\\u12", EVE_EPARSE, 1, 6);
  expect_err(t, "\"\xff\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\xc0\xaf\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\xed\xbf\xbf\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"abc", EVE_EPARSE, 1, 5);
  expect_err(t, "'abc'", EVE_EPARSE, 1, 1);
  CLOSE();
}

Test(json, arrays_and_objects) {
  OPEN();
  cr_assert_eq(rd_ok(t, "[]"), EVE_V_EMPTY_VECTOR);
  cr_assert_eq(rd_ok(t, "{}"), EVE_V_EMPTY_MAP);
  cr_assert_eq(rd_ok(t, " [ ] "), EVE_V_EMPTY_VECTOR);
  expect_value(t, "[1,[2,[3]],\"x\",null,true]", "[1 [2 [3]] \"x\" nil true]");
  expect_value(t, "{\"a\":1,\"b\":[true,null],\"c\":{}}", "{\"a\" 1 \"b\" [true nil] \"c\" {}}");
  expect_value(t, " { \"a\" : 1 , \"b\" : 2 } ", "{\"a\" 1 \"b\" 2}");
  /* duplicate keys: the last one wins */
  expect_value(t, "{\"a\":1,\"a\":2}", "{\"a\" 2}");
  expect_value(t, "{\"a\":1,\"b\":3,\"a\":{\"x\":[]}}", "{\"a\" {\"x\" []} \"b\" 3}");
  /* order of arrays is kept */
  char big[40000];
  size_t o = (size_t)sprintf(big, "[");
  for (int i = 0; i < 3000; i++) o += (size_t)sprintf(big + o, i ? ",%d" : "%d", i);
  sprintf(big + o, "]");
  expect_same(t, big);
  CLOSE();
}

Test(json, structure_errors) {
  OPEN();
  static const struct { const char *in; int line, col; } cases[] = {
      {"", 1, 1},
      {"  \n ", 2, 2},
      {"[1,]", 1, 4},
      {"[,1]", 1, 2},
      {"[1 2]", 1, 4},
      {"[1}", 1, 3},
      {"{\"a\" 1}", 1, 6},
      {"{\"a\":}", 1, 6},
      {"{1:2}", 1, 2},
      {"{a:2}", 1, 2},
      {"{\"a\":1,}", 1, 8},
      {"{\"a\":1 \"b\":2}", 1, 8},
      {"{\"a\":1]", 1, 7},
      {"]", 1, 1},
      {"}", 1, 1},
      {"1 2", 1, 3},
      {"[1] [2]", 1, 5},
      {"truex", 1, 5},
      {"tru", 1, 1},
      {"nul", 1, 1},
      {"True", 1, 1},
      {"[1,\n  }", 2, 3},
      {"[1\n,\n2\n", 4, 1},
      {"\f1", 1, 1},
      {"\xef\xbb\xbf{}", 1, 1}, /* no BOM */
      {"// c\n1", 1, 1},
      {"[\"a\",\n \"\\u00e9\", \"\\q\"]", 2, 13},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    expect_err(t, cases[i].in, EVE_EPARSE, cases[i].line, cases[i].col);
  eve_val v;
  EVE_ERR(eve_read_json(t, "[1", 2, &v, NULL), EVE_EPARSE);
  EVE_OK(eve_read_json(t, "12 garbage", 2, &v, NULL)); /* only n bytes are read */
  cr_assert(equal(t, v, edn(t, "12")));
  CLOSE();
}

static char *nested(int levels, const char *open, const char *close) {
  size_t lo = strlen(open), lc = strlen(close);
  char *s = malloc((size_t)levels * (lo + lc) + 2), *p = s;
  for (int i = 0; i < levels; i++) p = memcpy(p, open, lo), p += lo;
  *p++ = '1';
  for (int i = 0; i < levels; i++) p = memcpy(p, close, lc), p += lc;
  *p = '\0';
  return s;
}

Test(json, nesting_limit) {
  OPEN();
  static const char *opens[] = {"[", "{\"k\":"}, *closes[] = {"]", "}"};
  for (int k = 0; k < 2; k++) {
    char *ok = nested(EVE_MAX_NESTING, opens[k], closes[k]);
    char *out = pr(t, rd_ok(t, ok));
    cr_assert_str_eq(out, ok);
    eve_free(out);
    free(ok);
    char *deep = nested(EVE_MAX_NESTING + 1, opens[k], closes[k]);
    expect_err(t, deep, EVE_EDEPTH, 1, (int)(EVE_MAX_NESTING * strlen(opens[k]) + 1));
    free(deep);
  }
  char *hostile = nested(1000000, "[", "");
  expect_err(t, hostile, EVE_EDEPTH, 1, EVE_MAX_NESTING + 1);
  free(hostile);
  CLOSE();
}

static const char doc[] =
    "{\"scalars\": [null, true, false, 0, -42, 9223372036854775807, 1.5, -0.0, 1e-320, 2E+3],\n"
    " \"text\": [\"str\\t\\\"esc\\\"\\u00e9\\ud83d\\ude00\\/ caf\xc3\xa9\", \"\"],\n"
    " \"nested\": {\"a\": [[], {}, [{\"b\": [1, 2]}]], \"c\": -0.5e-5}}";

Test(json, every_prefix_fails_cleanly) {
  OPEN();
  size_t n = sizeof doc - 1;
  eve_val v = rd_ok(t, doc);
  uint64_t c;
  EVE_OK(eve_count(t, v, &c));
  cr_assert_eq(c, 3);
  for (size_t len = 0; len < n; len++) {
    eve_parse_error e;
    int rc = rd_n(t, doc, len, &v, &e);
    cr_assert_eq(rc, EVE_EPARSE, "prefix of %zu bytes -> %s", len, eve_err_name(rc));
    cr_assert(e.line >= 1 && e.column >= 1 && e.message[0]);
  }
  CLOSE();
}

Test(json, mutated_documents_never_crash) {
  OPEN();
  uint64_t seed = t_seed(0x15EED), r = seed;
  size_t n = sizeof doc - 1;
  char *buf = malloc(n + 16);
  static const char alphabet[] = "[]{}:,\"\\ \n0123456789.eE+-utrfn/\xc3\xa9\xff";
  for (uint64_t it = 0; it < t_scale(30000); it++) {
    size_t m = n;
    memcpy(buf, doc, n);
    for (int k = 1 + (int)t_below(&r, 4); k > 0; k--) {
      size_t at = t_below(&r, m);
      char c = alphabet[t_below(&r, sizeof alphabet - 1)];
      switch (t_below(&r, 3)) {
      case 0: buf[at] = c; break;
      case 1: memmove(buf + at, buf + at + 1, m - at - 1), m--; break;
      default:
        if (m < n + 15) memmove(buf + at + 1, buf + at, m - at), buf[at] = c, m++;
      }
    }
    eve_val v;
    eve_parse_error e;
    int rc = rd_n(t, buf, m, &v, &e);
    cr_assert(rc == 0 || rc == EVE_EPARSE, "seed %llu it %llu: %s", (unsigned long long)seed,
              (unsigned long long)it, eve_err_name(rc));
    if (rc == 0) {
      char *out = pr(t, v);
      cr_assert(equal(t, rd_ok(t, out), v), "seed %llu: %s", (unsigned long long)seed, out);
      eve_free(out);
    } else {
      cr_assert(e.line >= 1 && e.column >= 1);
    }
    if (it % 500 == 499) {
      eve_txn_end(t);
      t = t_wtxn(d);
    }
  }
  free(buf);
  CLOSE();
}

Test(json, needs_a_write_txn) {
  OPEN();
  eve_val v;
  eve_parse_error e;
  EVE_ERR(eve_read_json(NULL, "1", 1, &v, &e), EVE_EINVAL);
  EVE_ERR(eve_read_json(t, "1", 1, NULL, &e), EVE_EINVAL);
  EVE_ERR(eve_read_json(t, NULL, 1, &v, &e), EVE_EINVAL);
  char *out;
  EVE_ERR(eve_print_json(t, EVE_V_NIL, NULL, NULL), EVE_EINVAL);
  eve_val kept = rd_ok(t, "{\"a\":[1,2.5,\"a longer string value\"]}");
  t_publish(d, t, "kept", kept);
  EVE_OK(eve_txn_end(t));
  eve_txn *rt;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &rt));
  EVE_OK(eve_print_json(rt, t_deref(d, rt, "kept"), &out, NULL));
  cr_assert_str_eq(out, "{\"a\":[1,2.5,\"a longer string value\"]}");
  eve_free(out);
  EVE_ERR(eve_read_json(rt, "null", 4, &v, &e), EVE_ETXN);
  eve_txn_end(rt);
  eve_close(d);
}

/* ---- printing ------------------------------------------------------------- */

Test(json, print_scalars) {
  OPEN();
  expect_edn_json(t, "nil", "null");
  expect_edn_json(t, "true", "true");
  expect_edn_json(t, "false", "false");
  expect_edn_json(t, "-9223372036854775808", "-9223372036854775808");
  expect_edn_json(t, "1.0", "1.0");
  expect_edn_json(t, "-0.0", "-0.0");
  expect_edn_json(t, "100.0", "100.0");
  expect_edn_json(t, "0.1", "0.1");
  expect_edn_json(t, "1e21", "1e+21");
  expect_edn_json(t, "1e-7", "1e-7");
  expect_edn_json(t, "5e-324", "5e-324");
  expect_edn_json(t, "123456789012345680.0", "123456789012345680.0");
  expect_edn_json(t, "\"a\\\"b\\\\c\\nd\\te\\rf\\bg\\u0001\"", "\"a\\\"b\\\\c\\nd\\te\\rf\\u0008g\\u0001\"");
  expect_edn_json(t, "\"caf\xc3\xa9 \xf0\x9f\x98\x80 /\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80 /\"");
  expect_edn_json(t, ":kw", "\"kw\"");
  expect_edn_json(t, ":ns/kw", "\"ns/kw\"");
  expect_edn_json(t, "sym", "\"sym\"");
  expect_edn_json(t, "\\a", "\"a\"");
  expect_edn_json(t, "\\\"", "\"\\\"\"");
  expect_edn_json(t, "\\newline", "\"\\n\"");
  expect_edn_json(t, "\\\xc3\xa9", "\"\xc3\xa9\"");
  expect_edn_json(t, "#uuid \"F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6\"",
                  "\"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"");
  expect_edn_json(t, "#inst \"1985-04-12T23:20:50.52Z\"", "\"1985-04-12T23:20:50.520Z\"");
  expect_edn_json(t, "#inst \"1969-12-31T23:59:59.999Z\"", "\"1969-12-31T23:59:59.999Z\"");
  expect_edn_json(t, "#eve/bytes \"AAEC/w==\"", "\"AAEC/w==\"");
  expect_edn_json(t, "#eve/bytes \"\"", "\"\"");
  CLOSE();
}

Test(json, print_collections) {
  OPEN();
  expect_edn_json(t, "[]", "[]");
  expect_edn_json(t, "()", "[]");
  expect_edn_json(t, "#{}", "[]");
  expect_edn_json(t, "{}", "{}");
  expect_edn_json(t, "[1 [2 (3)] #{4}]", "[1,[2,[3]],[4]]");
  expect_edn_json(t, "(1 \"a\" nil)", "[1,\"a\",null]");
  expect_edn_json(t, "{\"s\" 1}", "{\"s\":1}");
  expect_edn_json(t, "{:a 1}", "{\"a\":1}");
  expect_edn_json(t, "{:ns/a [1]}", "{\"ns/a\":[1]}");
  expect_edn_json(t, "{sym {}}", "{\"sym\":{}}");
  expect_edn_json(t, "{1 2}", "{\"1\":2}");
  expect_edn_json(t, "{1.5 2}", "{\"1.5\":2}");
  expect_edn_json(t, "{nil 2}", "{\"nil\":2}");
  expect_edn_json(t, "{\\a 2}", "{\"\\\\a\":2}");
  expect_edn_json(t, "{[1 \"x\"] 3}", "{\"[1 \\\"x\\\"]\":3}");
  expect_edn_json(t, "{#inst \"1970\" 0}", "{\"#inst \\\"1970-01-01T00:00:00.000-00:00\\\"\":0}");
  expect_edn_json(t, "{##NaN 1}", "{\"##NaN\":1}"); /* a key is text: fine */
  eve_val m = edn(t, "{:a 1 :b {:c [true]}}");
  char *out = pr(t, m);
  cr_assert(!strcmp(out, "{\"a\":1,\"b\":{\"c\":[true]}}") || !strcmp(out, "{\"b\":{\"c\":[true]},\"a\":1}"),
            "%s", out);
  cr_assert(equal(t, rd_ok(t, out), edn(t, "{\"a\" 1 \"b\" {\"c\" [true]}}")));
  eve_free(out);
  CLOSE();
}

Test(json, nan_and_infinity_are_type_errors) {
  OPEN();
  static const char *bad[] = {"##NaN", "##Inf", "##-Inf", "[1 ##NaN]", "{:a [2 {:b ##Inf}]}",
                              "#{(##-Inf)}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *out = (char *)"untouched";
    EVE_ERR(eve_print_json(t, edn(t, bad[i]), &out, NULL), EVE_ETYPE);
  }
  /* the txn is still usable after a failed print */
  expect_edn_json(t, "[1.5]", "[1.5]");
  CLOSE();
}

/* ---- round-trip property on random JSON-representable values --------------- */

static size_t rand_utf8(uint64_t *r, char *buf, size_t max_cps) {
  static const uint32_t odd[] = {0, 1, '\b', '\t', '\n', '\f', '\r', 0x1f, '"', '\\', '/', 0x7f,
                                 0x80, 0xe9, 0x7ff, 0x800, 0x2028, 0xfeff, 0xffff, 0x10000, 0x10ffff};
  size_t n = 0;
  for (size_t k = t_below(r, max_cps + 1); k > 0; k--) {
    uint32_t cp;
    switch (t_below(r, 4)) {
    case 0: cp = odd[t_below(r, sizeof odd / sizeof *odd)]; break;
    case 1: cp = 0x20 + (uint32_t)t_below(r, 0x5f); break;
    case 2:
      cp = (uint32_t)t_below(r, 0x10000);
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800;
      break;
    default: cp = 0x10000 + (uint32_t)t_below(r, 0x100000);
    }
    if (cp < 0x80) buf[n++] = (char)cp;
    else if (cp < 0x800) buf[n++] = (char)(0xc0 | cp >> 6), buf[n++] = (char)(0x80 | (cp & 63));
    else if (cp < 0x10000)
      buf[n++] = (char)(0xe0 | cp >> 12), buf[n++] = (char)(0x80 | (cp >> 6 & 63)),
      buf[n++] = (char)(0x80 | (cp & 63));
    else
      buf[n++] = (char)(0xf0 | cp >> 18), buf[n++] = (char)(0x80 | (cp >> 12 & 63)),
      buf[n++] = (char)(0x80 | (cp >> 6 & 63)), buf[n++] = (char)(0x80 | (cp & 63));
  }
  return n;
}

static double rand_finite(uint64_t *r) {
  static const double special[] = {0.0, -0.0, 0.1, 1.0, -1.0, 1e-320, 5e-324, DBL_MAX,
                                   DBL_MIN, 1e21, 1e22, 123456789012345680.0, 9007199254740993.0};
  double f;
  switch (t_below(r, 3)) {
  case 0: return special[t_below(r, sizeof special / sizeof *special)];
  case 1: return (double)((int64_t)t_rand(r) >> t_below(r, 64)) / (double)(1 << t_below(r, 20));
  default:
    do {
      uint64_t bits = t_rand(r);
      memcpy(&f, &bits, sizeof f);
    } while (!isfinite(f));
    return f;
  }
}

static eve_val rand_scalar(eve_txn *t, uint64_t *r) {
  eve_val v = EVE_V_NIL;
  char buf[128];
  int64_t i;
  switch (t_below(r, 5)) {
  case 0: break;
  case 1: EVE_OK(eve_bool((int)t_below(r, 2), &v)); break;
  case 2:
    i = (int64_t)t_rand(r) >> t_below(r, 64);
    if (t_below(r, 8) == 0) i = t_below(r, 2) ? INT64_MIN : INT64_MAX;
    EVE_OK(eve_int(t, i, &v));
    break;
  case 3: EVE_OK(eve_float(t, rand_finite(r), &v)); break;
  default: EVE_OK(eve_string(t, buf, rand_utf8(r, buf, 24), &v));
  }
  return v;
}

/* Vectors, lists (they equal the vectors they read back as) and maps with
 * string keys. */
static eve_val rand_value(eve_txn *t, uint64_t *r, int depth, int force_coll) {
  if (!force_coll && (depth >= 6 || t_below(r, 10) < 6)) return rand_scalar(t, r);
  int kind = (int)t_below(r, 3);
  size_t n = t_below(r, depth == 0 ? 9 : 6);
  eve_val c = kind == 0 ? EVE_V_EMPTY_LIST : kind == 1 ? EVE_V_EMPTY_VECTOR : EVE_V_EMPTY_MAP;
  char buf[128];
  for (size_t k = 0; k < n; k++) {
    eve_val x = rand_value(t, r, depth + 1, 0), key;
    switch (kind) {
    case 0: EVE_OK(eve_list_cons(t, x, c, &c)); break;
    case 1: EVE_OK(eve_vec_conj(t, c, x, &c)); break;
    default:
      EVE_OK(eve_string(t, buf, rand_utf8(r, buf, 6), &key));
      EVE_OK(eve_map_assoc(t, c, key, x, &c));
    }
  }
  return c;
}

Test(json, random_roundtrip) {
  OPEN();
  uint64_t seed = t_seed(0x150E), r = seed;
  uint64_t total = t_scale(10000);
  for (uint64_t it = 0; it < total; it++) {
    eve_val v = rand_value(t, &r, 0, it % 4 != 0);
    char *a = pr(t, v);
    eve_val back;
    eve_parse_error e;
    int rc = rd(t, a, &back, &e);
    cr_assert_eq(rc, 0, "seed %llu it %llu: %s at %d:%d (%s) reading\n%s", (unsigned long long)seed,
                 (unsigned long long)it, eve_err_name(rc), e.line, e.column, e.message, a);
    cr_assert(equal(t, v, back), "seed %llu it %llu: not equal after\n%s", (unsigned long long)seed,
              (unsigned long long)it, a);
    char *b = pr(t, back);
    cr_assert_str_eq(a, b, "seed %llu it %llu: printing is not stable", (unsigned long long)seed,
                     (unsigned long long)it);
    eve_free(a);
    eve_free(b);
    if (it % 250 == 249) {
      eve_txn_end(t);
      t = t_wtxn(d);
    }
  }
  CLOSE();
}
