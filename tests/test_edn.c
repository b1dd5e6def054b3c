/* test_edn.c — the EDN reader and printer. */
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
  int rc = eve_read_edn(t, copy, n, v, e);
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

/* Print v; the caller frees.  Checks the length and that it is one line. */
static char *pr(eve_txn *t, eve_val v) {
  char *out = NULL;
  size_t len = 0;
  EVE_OK(eve_print_edn(t, v, &out, &len));
  cr_assert_eq(strlen(out), len, "length excludes the NUL");
  cr_assert_null(strchr(out, '\n'), "one line: %s", out);
  return out;
}

/* read `in`, print, expect `want` */
static void expect_print(eve_txn *t, const char *in, const char *want) {
  char *out = pr(t, rd_ok(t, in));
  cr_assert_str_eq(out, want, "read %s printed %s, wanted %s", in, out, want);
  eve_free(out);
}

static void expect_same(eve_txn *t, const char *in) { expect_print(t, in, in); }

static void expect_err(eve_txn *t, const char *in, int code, int line, int col) {
  eve_val v;
  eve_parse_error e;
  int rc = rd(t, in, &v, &e);
  cr_assert_eq(rc, code, "read \"%s\" -> %s, wanted %s", in, eve_err_name(rc), eve_err_name(code));
  cr_assert(e.line == line && e.column == col, "read \"%s\": error at %d:%d (%s), wanted %d:%d", in,
            e.line, e.column, e.message, line, col);
  cr_assert(e.message[0], "message for \"%s\"", in);
}

static void expect_msg(eve_txn *t, const char *in, const char *fragment) {
  eve_val v;
  eve_parse_error e;
  EVE_ERR(rd(t, in, &v, &e), EVE_EPARSE);
  cr_assert(strstr(e.message, fragment), "\"%s\": message \"%s\" lacks \"%s\"", in, e.message, fragment);
}

static int64_t get_i(eve_txn *t, eve_val v) {
  int64_t i;
  EVE_OK(eve_int_get(t, v, &i));
  return i;
}

static double get_f(eve_txn *t, eve_val v) {
  double f;
  EVE_OK(eve_float_get(t, v, &f));
  return f;
}

static eve_type type_of(eve_txn *t, eve_val v) {
  eve_type ty;
  EVE_OK(eve_type_get(t, v, &ty));
  return ty;
}

static void expect_text(eve_txn *t, const char *in, eve_type ty, const char *want, size_t wn) {
  eve_val v = rd_ok(t, in);
  cr_assert_eq(type_of(t, v), ty, "%s is a %s", in, eve_type_name(type_of(t, v)));
  const char *s;
  size_t n;
  EVE_OK(eve_text_get(t, &v, &s, &n));
  cr_assert(n == wn && !memcmp(s, want, n), "%s: text of %zu bytes", in, n);
}

static int equal(eve_txn *t, eve_val a, eve_val b) {
  int eq;
  EVE_OK(eve_equal(t, a, b, &eq));
  return eq;
}

static uint64_t count(eve_txn *t, eve_val c) {
  uint64_t n;
  EVE_OK(eve_count(t, c, &n));
  return n;
}

#define OPEN()                      \
  eve_domain *d = t_open_mem();     \
  eve_txn *t = t_wtxn(d)
#define CLOSE()         \
  eve_txn_end(t);     \
  eve_close(d)

/* ---- scalars ------------------------------------------------------------ */

Test(edn, nil_and_booleans) {
  OPEN();
  cr_assert_eq(rd_ok(t, "nil"), EVE_V_NIL);
  cr_assert_eq(rd_ok(t, "true"), EVE_V_TRUE);
  cr_assert_eq(rd_ok(t, " false "), EVE_V_FALSE);
  expect_same(t, "nil");
  expect_same(t, "true");
  expect_same(t, "false");
  /* only exact tokens: these are symbols */
  cr_assert_eq(type_of(t, rd_ok(t, "nil?")), EVE_SYMBOL);
  cr_assert_eq(type_of(t, rd_ok(t, "truex")), EVE_SYMBOL);
  CLOSE();
}

Test(edn, integers_and_limits) {
  OPEN();
  cr_assert_eq(get_i(t, rd_ok(t, "0")), 0);
  cr_assert_eq(get_i(t, rd_ok(t, "-0")), 0);
  cr_assert_eq(get_i(t, rd_ok(t, "+5")), 5);
  cr_assert_eq(get_i(t, rd_ok(t, "-17")), -17);
  cr_assert_eq(get_i(t, rd_ok(t, "42N")), 42);
  cr_assert_eq(get_i(t, rd_ok(t, "9223372036854775807")), INT64_MAX);
  cr_assert_eq(get_i(t, rd_ok(t, "-9223372036854775808")), INT64_MIN);
  cr_assert_eq(get_i(t, rd_ok(t, "9223372036854775807N")), INT64_MAX);
  cr_assert_eq(type_of(t, rd_ok(t, "12")), EVE_INT);
  expect_same(t, "9223372036854775807");
  expect_same(t, "-9223372036854775808");
  expect_print(t, "+5", "5");
  expect_print(t, "42N", "42");
  /* both sides of the immediate/boxed boundary (61-bit payload) */
  expect_same(t, "1152921504606846975");
  expect_same(t, "1152921504606846976");
  expect_same(t, "-1152921504606846976");
  expect_same(t, "-1152921504606846977");
  expect_err(t, "9223372036854775808", EVE_EPARSE, 1, 1);
  expect_err(t, "-9223372036854775809", EVE_EPARSE, 1, 1);
  expect_err(t, "[1 99999999999999999999]", EVE_EPARSE, 1, 4);
  expect_err(t, "9223372036854775808N", EVE_EPARSE, 1, 1);
  expect_msg(t, "9223372036854775808", "integer out of range");
  expect_err(t, "007", EVE_EPARSE, 1, 1);
  expect_err(t, "-01", EVE_EPARSE, 1, 2);
  expect_err(t, "1/2", EVE_EPARSE, 1, 2);
  expect_err(t, "0x10", EVE_EPARSE, 1, 2);
  expect_err(t, "12a", EVE_EPARSE, 1, 3);
  expect_err(t, "1N2", EVE_EPARSE, 1, 2);
  CLOSE();
}

static void float_roundtrip(eve_txn *t, double f, const char *want) {
  eve_val v;
  EVE_OK(eve_float(t, f, &v));
  char *out = pr(t, v);
  if (want) cr_assert_str_eq(out, want, "%.17g printed %s, wanted %s", f, out, want);
  if (!isnan(f) && !isinf(f))
    cr_assert(strpbrk(out, ".e") != NULL, "%s reads back as a float", out);
  double g = get_f(t, rd_ok(t, out));
  if (isnan(f)) cr_assert(isnan(g), "%s", out);
  else cr_assert(memcmp(&f, &g, sizeof f) == 0, "%.17g -> %s -> %.17g", f, out, g);
  eve_free(out);
}

Test(edn, floats_read) {
  OPEN();
  cr_assert_eq(get_f(t, rd_ok(t, "1.5")), 1.5);
  cr_assert_eq(get_f(t, rd_ok(t, "-2.25")), -2.25);
  cr_assert_eq(get_f(t, rd_ok(t, "+2.0")), 2.0);
  cr_assert_eq(get_f(t, rd_ok(t, "1e10")), 1e10);
  cr_assert_eq(get_f(t, rd_ok(t, "1E-3")), 1e-3);
  cr_assert_eq(get_f(t, rd_ok(t, "1.5e+3")), 1500.0);
  cr_assert_eq(get_f(t, rd_ok(t, "2.5M")), 2.5);
  cr_assert_eq(get_f(t, rd_ok(t, "3M")), 3.0);
  cr_assert_eq(get_f(t, rd_ok(t, "1.")), 1.0);
  cr_assert_eq(get_f(t, rd_ok(t, "0.0")), 0.0);
  cr_assert(signbit(get_f(t, rd_ok(t, "-0.0"))));
  cr_assert(isinf(get_f(t, rd_ok(t, "##Inf"))) && get_f(t, rd_ok(t, "##Inf")) > 0);
  cr_assert(isinf(get_f(t, rd_ok(t, "##-Inf"))) && get_f(t, rd_ok(t, "##-Inf")) < 0);
  cr_assert(isnan(get_f(t, rd_ok(t, "##NaN"))));
  cr_assert_eq(get_f(t, rd_ok(t, "4.9406564584124654e-324")), 5e-324);
  cr_assert_eq(type_of(t, rd_ok(t, "1.0")), EVE_FLOAT);
  int eq;
  EVE_OK(eve_equal(t, rd_ok(t, "1"), rd_ok(t, "1.0"), &eq));
  cr_assert(!eq, "1 and 1.0 differ");
  expect_err(t, "1e400", EVE_EPARSE, 1, 1);
  expect_err(t, "1.5e", EVE_EPARSE, 1, 5);
  expect_err(t, "1.5x", EVE_EPARSE, 1, 4);
  expect_err(t, "1.5MM", EVE_EPARSE, 1, 5);
  expect_err(t, "1.5N", EVE_EPARSE, 1, 4);
  expect_err(t, "00.5", EVE_EPARSE, 1, 1);
  expect_err(t, "##Foo", EVE_EPARSE, 1, 1);
  expect_err(t, "##", EVE_EPARSE, 1, 1);
  expect_err(t, ".5", EVE_EPARSE, 1, 2);
  CLOSE();
}

Test(edn, floats_print_shortest_and_roundtrip) {
  OPEN();
  float_roundtrip(t, 0.1, "0.1");
  float_roundtrip(t, 1.0, "1.0");
  float_roundtrip(t, -0.0, "-0.0");
  float_roundtrip(t, 0.0, "0.0");
  float_roundtrip(t, 100.0, "100.0");
  float_roundtrip(t, 1.5, "1.5");
  float_roundtrip(t, 0.001, "0.001");
  float_roundtrip(t, 1e-7, "1e-7");
  float_roundtrip(t, 1e-320, "1e-320");
  float_roundtrip(t, 5e-324, "5e-324");
  float_roundtrip(t, DBL_MAX, "1.7976931348623157e+308");
  float_roundtrip(t, -DBL_MAX, "-1.7976931348623157e+308");
  float_roundtrip(t, DBL_MIN, "2.2250738585072014e-308");
  float_roundtrip(t, 1e21, "1e+21");
  float_roundtrip(t, 1e20, "100000000000000000000.0");
  float_roundtrip(t, 123456789012345680.0, "123456789012345680.0");
  float_roundtrip(t, 1.0 / 3, "0.3333333333333333");
  float_roundtrip(t, 2.0 / 3, "0.6666666666666666");
  float_roundtrip(t, 9007199254740993.0, "9007199254740992.0");
  float_roundtrip(t, 1e100, "1e+100");
  float_roundtrip(t, INFINITY, "##Inf");
  float_roundtrip(t, -INFINITY, "##-Inf");
  float_roundtrip(t, NAN, "##NaN");
  /* random bit patterns: every finite double reads back bit-exactly */
  uint64_t seed = t_seed(0xF10A7), r = seed;
  for (uint64_t i = 0; i < t_scale(20000); i++) {
    uint64_t bits = t_rand(&r);
    double f;
    memcpy(&f, &bits, sizeof f);
    eve_val v;
    EVE_OK(eve_float(t, f, &v));
    char *out = pr(t, v);
    double g = get_f(t, rd_ok(t, out));
    cr_assert(isnan(f) ? isnan(g) : memcmp(&f, &g, sizeof f) == 0, "seed %llu: %a -> %s",
              (unsigned long long)seed, f, out);
    eve_free(out);
    if (i % 2000 == 1999) { /* keep the txn small */
      eve_txn_end(t);
      t = t_wtxn(d);
    }
  }
  CLOSE();
}

Test(edn, strings_and_escapes) {
  OPEN();
  expect_text(t, "\"\"", EVE_STRING, "", 0);
  expect_text(t, "\"hello\"", EVE_STRING, "hello", 5);
  expect_text(t, "\"a\\tb\\rc\\nd\\\\e\\\"f\\bg\\fh\"", EVE_STRING, "a\tb\rc\nd\\e\"f\bg\fh", 15);
  expect_text(t, "\"\\u00e9\\u00E9\"", EVE_STRING, "\xc3\xa9\xc3\xa9", 4);
  expect_text(t, "\"\\u20ac\"", EVE_STRING, "\xe2\x82\xac", 3);
  expect_text(t, "\"\\ud83d\\ude00\"", EVE_STRING, "\xf0\x9f\x98\x80", 4);
  expect_text(t, "\"\\u0000x\"", EVE_STRING, "\0x", 2);
  expect_text(t, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", EVE_STRING, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
  expect_text(t, "\"line\nbreak\"", EVE_STRING, "line\nbreak", 10); /* raw newline is fine */
  expect_text(t, "\"a long string of more than seven bytes\"", EVE_STRING,
              "a long string of more than seven bytes", 38);
  /* printing escapes \" \\ \n \t \r, other controls as \u00XX */
  expect_print(t, "\"a\\tb\\rc\\nd\\\\e\\\"f\\bg\\fh\"", "\"a\\tb\\rc\\nd\\\\e\\\"f\\u0008g\\u000ch\"");
  expect_print(t, "\"\\u0000\\u0001\\u001f\\u007f\"", "\"\\u0000\\u0001\\u001f\\u007f\"");
  expect_print(t, "\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"");
  expect_same(t, "\"\xe2\x80\xa8 \xef\xbb\xbf \xf4\x8f\xbf\xbf\"");
  /* errors point at the offending byte */
  expect_err(t, "\"ab\xff\"", EVE_EPARSE, 1, 4);
  expect_err(t, "\"\xc0\x80\"", EVE_EPARSE, 1, 2);         /* overlong */
  expect_err(t, "\"\xed\xa0\x80\"", EVE_EPARSE, 1, 2);     /* encoded surrogate */
  expect_err(t, "\"\xf4\x90\x80\x80\"", EVE_EPARSE, 1, 2); /* past U+10FFFF */
  expect_err(t, "\"\xe2\x82\"", EVE_EPARSE, 1, 2);         /* truncated sequence */
  expect_err(t, "\"a\\qb\"", EVE_EPARSE, 1, 3);
  expect_err(t, "\"a\\/b\"", EVE_EPARSE, 1, 3); /* JSON only */
  expect_err(t, "\"\\u12\"", EVE_EPARSE, 1, 6);
  expect_err(t, "\"\\ud800\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\udc00\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"\\ud800\\u0041\"", EVE_EPARSE, 1, 2);
  expect_err(t, "\"abc", EVE_EPARSE, 1, 5);
  expect_err(t, "\"abc\\", EVE_EPARSE, 1, 6);
  expect_err(t, "[\"a\"\n \"b", EVE_EPARSE, 2, 4);
  expect_msg(t, "\"\xff\"", "UTF-8");
  CLOSE();
}

static void expect_char(eve_txn *t, const char *in, uint32_t cp) {
  uint32_t got;
  EVE_OK(eve_char_get(t, rd_ok(t, in), &got));
  cr_assert_eq(got, cp, "%s read U+%04X, wanted U+%04X", in, got, cp);
}

static void print_char(eve_txn *t, uint32_t cp, const char *want) {
  eve_val v;
  EVE_OK(eve_char(cp, &v));
  char *out = pr(t, v);
  cr_assert_str_eq(out, want, "U+%04X printed %s", cp, out);
  expect_char(t, out, cp);
  eve_free(out);
}

Test(edn, characters) {
  OPEN();
  expect_char(t, "\\a", 'a');
  expect_char(t, "\\newline", '\n');
  expect_char(t, "\\space", ' ');
  expect_char(t, "\\tab", '\t');
  expect_char(t, "\\return", '\r');
  expect_char(t, "\\backspace", '\b');
  expect_char(t, "\\formfeed", '\f');
  expect_char(t, "\\u00e9", 0xE9);
  expect_char(t, "\\u00E9", 0xE9);
  expect_char(t, "\\u", 'u');
  expect_char(t, "\\n", 'n');
  expect_char(t, "\\\xc3\xa9", 0xE9);
  expect_char(t, "\\\xf0\x9f\x98\x80", 0x1F600);
  expect_char(t, "\\(", '(');
  expect_char(t, "\\\\", '\\');
  expect_char(t, "\\\"", '"');
  expect_char(t, "\\,", ',');
  expect_char(t, "\\;", ';');
  eve_val v = rd_ok(t, "[\\a\\b \\c]");
  cr_assert_eq(count(t, v), 3);
  print_char(t, 'a', "\\a");
  print_char(t, '\n', "\\newline");
  print_char(t, ' ', "\\space");
  print_char(t, '\t', "\\tab");
  print_char(t, '\r', "\\return");
  print_char(t, '\b', "\\backspace");
  print_char(t, '\f', "\\formfeed");
  print_char(t, 0, "\\u0000");
  print_char(t, 1, "\\u0001");
  print_char(t, 0x7F, "\\u007f");
  print_char(t, 0x85, "\\u0085");
  print_char(t, 0xE9, "\\\xc3\xa9");
  print_char(t, 0x1F600, "\\\xf0\x9f\x98\x80");
  print_char(t, '(', "\\(");
  print_char(t, ',', "\\,");
  print_char(t, '\\', "\\\\");
  expect_err(t, "\\foo", EVE_EPARSE, 1, 1);
  expect_err(t, "\\uD800", EVE_EPARSE, 1, 1);
  expect_err(t, "\\u12345", EVE_EPARSE, 1, 1);
  expect_err(t, "\\ ", EVE_EPARSE, 1, 2);
  expect_err(t, "\\", EVE_EPARSE, 1, 2);
  expect_err(t, "\\\xff", EVE_EPARSE, 1, 2);
  expect_err(t, "[\\ab]", EVE_EPARSE, 1, 2);
  CLOSE();
}

Test(edn, keywords_and_symbols) {
  OPEN();
  static const char *kws[] = {":a", ":ns/name", ":a.b/c-d?", ":<=>", ":a:b", ":a#", ":1", ":-1", ":1/a", ":*"};
  for (size_t i = 0; i < sizeof kws / sizeof *kws; i++) {
    expect_text(t, kws[i], EVE_KEYWORD, kws[i] + 1, strlen(kws[i]) - 1);
    expect_same(t, kws[i]);
  }
  static const char *syms[] = {"a", "/", "ns/name", "+", "-", ".", "..", "a.b", "-foo", "+a",
                               ".a", "<=>", "a:b", "a#", "*ns*/x?", "nil?", "very-long-symbol-name",
                               "\xc3\xa9t\xc3\xa9"};
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    expect_text(t, syms[i], EVE_SYMBOL, syms[i], strlen(syms[i]));
    expect_same(t, syms[i]);
  }
  expect_err(t, ":", EVE_EPARSE, 1, 1);
  expect_err(t, "::a", EVE_EPARSE, 1, 2);
  /* the name after '/' follows the symbol rules even in a keyword */
  expect_err(t, ":/", EVE_EPARSE, 1, 2);
  expect_err(t, ":a/1", EVE_EPARSE, 1, 4);
  expect_err(t, ":a/-1", EVE_EPARSE, 1, 5);
  expect_err(t, "a/", EVE_EPARSE, 1, 2);
  expect_err(t, "/a", EVE_EPARSE, 1, 1);
  expect_err(t, "a/b/c", EVE_EPARSE, 1, 4);
  expect_err(t, "a@b", EVE_EPARSE, 1, 2);
  expect_err(t, "-1a", EVE_EPARSE, 1, 3);
  expect_err(t, "a/1b", EVE_EPARSE, 1, 3);
  expect_err(t, "a\xff", EVE_EPARSE, 1, 2);
  expect_err(t, "[1 ^a]", EVE_EPARSE, 1, 4);
  CLOSE();
}

/* ---- collections -------------------------------------------------------- */

Test(edn, collections) {
  OPEN();
  cr_assert_eq(rd_ok(t, "()"), EVE_V_EMPTY_LIST);
  cr_assert_eq(rd_ok(t, "[]"), EVE_V_EMPTY_VECTOR);
  cr_assert_eq(rd_ok(t, "{}"), EVE_V_EMPTY_MAP);
  cr_assert_eq(rd_ok(t, "#{}"), EVE_V_EMPTY_SET);
  expect_same(t, "()");
  expect_same(t, "[]");
  expect_same(t, "{}");
  expect_same(t, "#{}");
  expect_same(t, "(1 2 3)");
  expect_same(t, "[1 [2 (3 [])] \"x\" :k]");
  expect_same(t, "{:a 1}");
  expect_same(t, "#{1}");
  expect_same(t, "{[1 2] #{:x}}");
  expect_print(t, " ( 1 , 2 ,, 3 ) ", "(1 2 3)");
  expect_print(t, "[1,2,,3]", "[1 2 3]");
  cr_assert_eq(type_of(t, rd_ok(t, "(1)")), EVE_LIST);
  cr_assert_eq(type_of(t, rd_ok(t, "[1]")), EVE_VECTOR);
  cr_assert_eq(type_of(t, rd_ok(t, "#{1}")), EVE_SET);
  cr_assert_eq(type_of(t, rd_ok(t, "{1 2}")), EVE_MAP);

  /* a list keeps its order; (1 2) equals [1 2] */
  eve_val l = rd_ok(t, "(1 2 3)"), x;
  EVE_OK(eve_list_first(t, l, &x));
  cr_assert_eq(get_i(t, x), 1);
  cr_assert(equal(t, l, rd_ok(t, "[1 2 3]")));

  /* maps: ", " between entries in some order */
  eve_val m = rd_ok(t, "{:a 1 :b 2}");
  cr_assert_eq(count(t, m), 2);
  char *out = pr(t, m);
  cr_assert(!strcmp(out, "{:a 1, :b 2}") || !strcmp(out, "{:b 2, :a 1}"), "%s", out);
  cr_assert(equal(t, rd_ok(t, out), m));
  eve_free(out);
  EVE_OK(eve_map_get(t, m, rd_ok(t, ":b"), &x));
  cr_assert_eq(get_i(t, x), 2);
  eve_val s = rd_ok(t, "#{1 2 3 1.0 \"1\" :1 \\1}");
  cr_assert_eq(count(t, s), 7, "1, 1.0, \"1\", :1 and \\1 are distinct");
  cr_assert(equal(t, rd_ok(t, "{:a 1 :b 2}"), rd_ok(t, "{:b 2 :a 1}")));
  cr_assert(equal(t, rd_ok(t, "#{1 2 3}"), rd_ok(t, "#{3 1 2}")));

  /* a large collection of each kind */
  char *big = malloc(200000);
  for (int kind = 0; kind < 4; kind++) {
    size_t o = (size_t)sprintf(big, "%s", kind == 0 ? "(" : kind == 1 ? "[" : kind == 2 ? "#{" : "{");
    for (int i = 0; i < 5000; i++)
      o += (size_t)sprintf(big + o, kind == 3 ? "%d \"v%d\" " : "%d ", i, i);
    sprintf(big + o, "%s", kind == 0 ? ")" : kind == 1 ? "]" : "}");
    eve_val v = rd_ok(t, big);
    cr_assert_eq(count(t, v), 5000);
    char *p = pr(t, v);
    cr_assert(equal(t, rd_ok(t, p), v));
    if (kind < 2) cr_assert_eq(strncmp(p + 1, "0 1 2 3", 7), 0, "order kept: %.20s", p);
    eve_free(p);
  }
  free(big);

  /* structure errors */
  expect_err(t, "{:a 1 :a 2}", EVE_EPARSE, 1, 7);
  expect_msg(t, "{:a 1 :a 2}", "duplicate key");
  expect_err(t, "{[1 2] 1 (1 2) 2}", EVE_EPARSE, 1, 10); /* equal as values */
  expect_err(t, "#{1 2 1}", EVE_EPARSE, 1, 7);
  expect_msg(t, "#{1 1}", "duplicate element");
  expect_err(t, "{:a}", EVE_EPARSE, 1, 4);
  expect_err(t, "{:a 1 :b}", EVE_EPARSE, 1, 9);
  expect_err(t, "[1 2)", EVE_EPARSE, 1, 5);
  expect_err(t, "(1 2]", EVE_EPARSE, 1, 5);
  expect_err(t, "#{1 2]", EVE_EPARSE, 1, 6);
  expect_err(t, "{1 2)", EVE_EPARSE, 1, 5);
  expect_err(t, "[1 2\n  }", EVE_EPARSE, 2, 3);
  expect_err(t, "]", EVE_EPARSE, 1, 1);
  expect_err(t, "[1] ]", EVE_EPARSE, 1, 5);
  expect_err(t, "[1 2", EVE_EPARSE, 1, 5);
  expect_err(t, "{:a [1 2}", EVE_EPARSE, 1, 9);
  CLOSE();
}

/* ---- tags --------------------------------------------------------------- */

static int64_t inst_ms(eve_txn *t, const char *in) {
  int64_t ms;
  eve_val v = rd_ok(t, in);
  EVE_OK(eve_inst_get(t, v, &ms));
  return ms;
}

static void inst_roundtrip(eve_txn *t, int64_t ms, const char *want) {
  eve_val v;
  EVE_OK(eve_inst(t, ms, &v));
  char *out = pr(t, v);
  if (want) cr_assert_str_eq(out, want, "%lld printed %s", (long long)ms, out);
  cr_assert_eq(inst_ms(t, out), ms, "%s", out);
  eve_free(out);
}

Test(edn, uuid) {
  OPEN();
  static const uint8_t want[16] = {0xf8, 0x1d, 0x4f, 0xae, 0x7d, 0xec, 0x11, 0xd0,
                                   0xa7, 0x65, 0x00, 0xa0, 0xc9, 0x1e, 0x6b, 0xf6};
  uint8_t got[16];
  eve_val v = rd_ok(t, "#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"");
  cr_assert_eq(type_of(t, v), EVE_UUID);
  EVE_OK(eve_uuid_get(t, v, got));
  cr_assert_arr_eq(got, want, 16);
  expect_same(t, "#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"");
  expect_print(t, "#uuid \"F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6\"",
               "#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"");
  expect_print(t, "#uuid\"00000000-0000-0000-0000-000000000000\"",
               "#uuid \"00000000-0000-0000-0000-000000000000\"");
  expect_err(t, "#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#uuid \"f81d4fae7dec-11d0-a765-00a0c91e6bf6x\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#uuid \"g81d4fae-7dec-11d0-a765-00a0c91e6bf6\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#uuid 12", EVE_EPARSE, 1, 7);
  expect_err(t, "#uuid", EVE_EPARSE, 1, 6);
  expect_err(t, "[#uuid]", EVE_EPARSE, 1, 7);
  CLOSE();
}

Test(edn, inst) {
  OPEN();
  cr_assert_eq(inst_ms(t, "#inst \"1985-04-12T23:20:50.52Z\""), INT64_C(482196050520));
  cr_assert_eq(inst_ms(t, "#inst \"1985-04-12T23:20:50.520-00:00\""), INT64_C(482196050520));
  cr_assert_eq(inst_ms(t, "#inst \"1985-04-12T23:20:50.5209999Z\""), INT64_C(482196050520));
  cr_assert_eq(inst_ms(t, "#inst \"1996-12-19T16:39:57-08:00\""), INT64_C(851042397000));
  cr_assert_eq(inst_ms(t, "#inst \"1937-01-01T12:00:27.87+00:20\""), INT64_C(-1041337172130));
  cr_assert_eq(inst_ms(t, "#inst \"1990-12-31T23:59:60Z\""), INT64_C(662688000000));
  cr_assert_eq(inst_ms(t, "#inst \"1970-01-01T00:00:00Z\""), 0);
  cr_assert_eq(inst_ms(t, "#inst \"1970\""), 0);
  cr_assert_eq(inst_ms(t, "#inst \"2000-02-29\""), INT64_C(951782400000));
  cr_assert_eq(inst_ms(t, "#inst \"2000-03\""), INT64_C(951868800000));
  cr_assert_eq(inst_ms(t, "#inst \"1969-12-31T23:59:59.999Z\""), -1);
  cr_assert_eq(inst_ms(t, "#inst \"0001-01-01T00:00:00Z\""), INT64_C(-62135596800000));
  cr_assert_eq(inst_ms(t, "#inst \"9999-12-31T23:59:59.999Z\""), INT64_C(253402300799999));
  inst_roundtrip(t, INT64_C(482196050520), "#inst \"1985-04-12T23:20:50.520-00:00\"");
  inst_roundtrip(t, 0, "#inst \"1970-01-01T00:00:00.000-00:00\"");
  inst_roundtrip(t, -1, "#inst \"1969-12-31T23:59:59.999-00:00\"");
  inst_roundtrip(t, INT64_C(-62135596800000), "#inst \"0001-01-01T00:00:00.000-00:00\"");
  inst_roundtrip(t, INT64_C(-62135596800001), "#inst \"0000-12-31T23:59:59.999-00:00\"");
  inst_roundtrip(t, INT64_C(-62167219200001), "#inst \"-0001-12-31T23:59:59.999-00:00\"");
  inst_roundtrip(t, INT64_C(253402300800000), "#inst \"+10000-01-01T00:00:00.000-00:00\"");
  inst_roundtrip(t, INT64_MAX, NULL);
  inst_roundtrip(t, INT64_MIN, NULL);
  inst_roundtrip(t, INT64_MIN + 1, NULL);
  uint64_t seed = t_seed(0x1257), r = seed;
  for (int i = 0; i < 2000; i++) {
    int64_t ms = (int64_t)t_rand(&r) >> (t_rand(&r) % 64);
    inst_roundtrip(t, ms, NULL);
  }
  expect_err(t, "#inst \"1985-13-01\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-02-29\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12T24:00:00Z\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12T23:20:60Z\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12T23:20:50+24:00\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"85-04-12\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12T23\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12T23:20:50.Z\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"1985-04-12 23:20:50Z\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst 1985", EVE_EPARSE, 1, 7);
  expect_err(t, "#inst \"+999999999999-01-01\"", EVE_EPARSE, 1, 7);
  expect_msg(t, "#inst \"1985-13-01\"", "#inst");
  cr_assert_eq(inst_ms(t, "#inst \"1985-04-12T23:20\""), INT64_C(482196000000));
  CLOSE();
}

Test(edn, bytes) {
  OPEN();
  eve_val v = rd_ok(t, "#eve/bytes \"AAEC/w==\"");
  cr_assert_eq(type_of(t, v), EVE_BYTES);
  const uint8_t *p;
  size_t n;
  EVE_OK(eve_bytes_get(t, &v, &p, &n));
  cr_assert(n == 4 && p[0] == 0 && p[1] == 1 && p[2] == 2 && p[3] == 0xff);
  expect_same(t, "#eve/bytes \"AAEC/w==\"");
  expect_same(t, "#eve/bytes \"\"");
  expect_same(t, "#eve/bytes \"QQ==\"");
  expect_same(t, "#eve/bytes \"QUI=\"");
  expect_same(t, "#eve/bytes \"QUJD\"");
  expect_same(t, "#eve/bytes \"+/+/\"");
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  for (size_t len = 0; len < 256; len += 17) {
    EVE_OK(eve_bytes(t, all, len, &v));
    char *out = pr(t, v);
    cr_assert(equal(t, rd_ok(t, out), v), "%s", out);
    eve_free(out);
  }
  expect_err(t, "#eve/bytes \"QQ\"", EVE_EPARSE, 1, 12);   /* unpadded */
  expect_err(t, "#eve/bytes \"QR==\"", EVE_EPARSE, 1, 12); /* stray low bits */
  expect_err(t, "#eve/bytes \"Q===\"", EVE_EPARSE, 1, 12);
  expect_err(t, "#eve/bytes \"QQ==QQ==\"", EVE_EPARSE, 1, 12);
  expect_err(t, "#eve/bytes \"QU I\"", EVE_EPARSE, 1, 12);
  expect_err(t, "#eve/bytes :a", EVE_EPARSE, 1, 12);
  CLOSE();
}

Test(edn, unknown_and_nested_tags) {
  OPEN();
  expect_err(t, "#foo 1", EVE_EPARSE, 1, 1);
  expect_msg(t, "#foo 1", "unknown tag #foo");
  expect_msg(t, "[1 #my/tag {:a 1}]", "unknown tag #my/tag");
  expect_err(t, "[1 #my/tag {:a 1}]", EVE_EPARSE, 1, 4);
  expect_err(t, "#eve/bytesx \"\"", EVE_EPARSE, 1, 1);
  expect_err(t, "#inst #inst \"1970\"", EVE_EPARSE, 1, 7);
  expect_err(t, "#\"re\"", EVE_EPARSE, 1, 2);
  expect_err(t, "#(inc %)", EVE_EPARSE, 1, 2);
  expect_err(t, "#", EVE_EPARSE, 1, 2);
  expect_err(t, "#:a{:b 1}", EVE_EPARSE, 1, 2);
  eve_val v = rd_ok(t, "[#inst \"1970\" #uuid \"00000000-0000-0000-0000-000000000001\" #eve/bytes \"\"]");
  cr_assert_eq(count(t, v), 3);
  v = rd_ok(t, "{#inst \"1970\" #{#eve/bytes \"AA==\"}}");
  cr_assert_eq(count(t, v), 1);
  CLOSE();
}

Test(edn, comments_and_discard) {
  OPEN();
  cr_assert_eq(get_i(t, rd_ok(t, "; comment\n 1 ; trailing")), 1);
  cr_assert_eq(get_i(t, rd_ok(t, "1;no newline at the end")), 1);
  cr_assert_eq(get_i(t, rd_ok(t, "#_ #_ 1 2 3")), 3);
  cr_assert_eq(get_i(t, rd_ok(t, "#_[1 2 #_ 3] 4")), 4);
  cr_assert_eq(get_i(t, rd_ok(t, "#_#_#_1 2 3 4")), 4);
  cr_assert_eq(get_i(t, rd_ok(t, "1 #_ 2")), 1);
  cr_assert_eq(get_i(t, rd_ok(t, "1 #_ #_ 2 3 ;c")), 1);
  expect_print(t, "[1 #_ 2 3]", "[1 3]");
  expect_print(t, "[1 #_ #_ 2 3 4]", "[1 4]");
  expect_print(t, "(1 #_ (2 3) 4)", "(1 4)");
  expect_print(t, "{:a #_ :b 1}", "{:a 1}");
  expect_print(t, "{:a 1 #_ :b}", "{:a 1}");
  expect_print(t, "#{1 #_ 1}", "#{1}");
  expect_print(t, "[1 ; two\n 3]", "[1 3]");
  expect_err(t, "[1 #_ (2 3] 4]", EVE_EPARSE, 1, 11); /* a discarded form still has to read */
  expect_print(t, "#inst #_ 1 \"1970\"", "#inst \"1970-01-01T00:00:00.000-00:00\"");
  expect_print(t, "#_ #inst \"1970\" 5", "5");
  expect_err(t, "#_", EVE_EPARSE, 1, 3);
  expect_err(t, "#_ 1", EVE_EPARSE, 1, 5);
  expect_err(t, "[#_]", EVE_EPARSE, 1, 4);
  expect_err(t, "[1 #_ ]", EVE_EPARSE, 1, 7);
  expect_err(t, "1 #_", EVE_EPARSE, 1, 5);
  expect_err(t, "#_ #_ 1", EVE_EPARSE, 1, 8);
  CLOSE();
}

Test(edn, error_positions) {
  OPEN();
  static const struct { const char *in; int line, col; } cases[] = {
      {"", 1, 1},
      {"   ", 1, 4},
      {"; only a comment", 1, 17},
      {"1 2", 1, 3},
      {"1 [", 1, 3},
      {"[1 2\n  }", 2, 3},
      {"\n\n  @", 3, 3},
      {"[1\n 2\n 3", 3, 3},
      {"{:a 1\n :b 2\n :a 3}", 3, 2},
      {"(\"a\"\r\n \"\\x\")", 2, 3},
      {"[\"\xc3\xa9\" \"\xc3\"]", 1, 8},
      {"[1 2 3] x", 1, 9},
      {"#{[1] [1]}", 1, 7},
      {"~", 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    expect_err(t, cases[i].in, EVE_EPARSE, cases[i].line, cases[i].col);
  /* err may be NULL */
  eve_val v;
  EVE_ERR(eve_read_edn(t, "[1", 2, &v, NULL), EVE_EPARSE);
  /* the length is respected: a NUL or garbage past n is never seen */
  EVE_OK(eve_read_edn(t, "12 garbage", 2, &v, NULL));
  cr_assert_eq(get_i(t, v), 12);
  EVE_OK(eve_read_edn(t, "\"a\0b\"", 5, &v, NULL));
  const char *s;
  size_t n;
  EVE_OK(eve_text_get(t, &v, &s, &n));
  cr_assert(n == 3 && !memcmp(s, "a\0b", 3));
  CLOSE();
}

Test(edn, bad_arguments_and_txns) {
  OPEN();
  eve_val v;
  eve_parse_error e;
  EVE_ERR(eve_read_edn(NULL, "1", 1, &v, &e), EVE_EINVAL);
  EVE_ERR(eve_read_edn(t, "1", 1, NULL, &e), EVE_EINVAL);
  EVE_ERR(eve_read_edn(t, NULL, 1, &v, &e), EVE_EINVAL);
  EVE_ERR(eve_read_edn(t, NULL, 0, &v, &e), EVE_EPARSE); /* empty input */
  char *out;
  EVE_ERR(eve_print_edn(NULL, EVE_V_NIL, &out, NULL), EVE_EINVAL);
  EVE_ERR(eve_print_edn(t, EVE_V_NIL, NULL, NULL), EVE_EINVAL);
  EVE_OK(eve_print_edn(t, EVE_V_NIL, &out, NULL)); /* len may be NULL */
  cr_assert_str_eq(out, "nil");
  eve_free(out);
  eve_free(NULL);

  /* a value built by one txn and published prints in a read txn, which
   * cannot read */
  eve_val kept = rd_ok(t, "[1 \"a string of some length\" {:k #{2.5}}]");
  t_publish(d, t, "kept", kept);
  EVE_OK(eve_txn_end(t));
  eve_txn *rt;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &rt));
  EVE_OK(eve_print_edn(rt, t_deref(d, rt, "kept"), &out, NULL));
  cr_assert_str_eq(out, "[1 \"a string of some length\" {:k #{2.5}}]");
  eve_free(out);
  EVE_ERR(eve_read_edn(rt, "[1 2]", 5, &v, &e), EVE_ETXN);
  EVE_ERR(eve_read_edn(rt, "nil", 3, &v, &e), EVE_ETXN);
  eve_txn_end(rt);
  eve_close(d);
}

/* n levels of open (each 1 byte) around "1" */
static char *nested(int levels, const char *open, const char *close) {
  size_t lo = strlen(open), lc = strlen(close);
  char *s = malloc((size_t)levels * (lo + lc) + 2), *p = s;
  for (int i = 0; i < levels; i++) p = memcpy(p, open, lo), p += lo;
  *p++ = '1';
  for (int i = 0; i < levels; i++) p = memcpy(p, close, lc), p += lc;
  *p = '\0';
  return s;
}

Test(edn, nesting_limit) {
  OPEN();
  static const char *opens[] = {"[", "(", "#{", "{1 "}, *closes[] = {"]", ")", "}", "}"};
  for (int k = 0; k < 4; k++) {
    char *ok = nested(EVE_MAX_NESTING, opens[k], closes[k]);
    eve_val v = rd_ok(t, ok);
    char *out = pr(t, v);
    cr_assert_str_eq(out, ok, "deepest accepted nesting prints back");
    eve_free(out);
    free(ok);
    char *deep = nested(EVE_MAX_NESTING + 1, opens[k], closes[k]);
    expect_err(t, deep, EVE_EDEPTH, 1, (int)(EVE_MAX_NESTING * strlen(opens[k]) + 1));
    free(deep);
  }
  /* hostile depth: an early, clean failure */
  char *hostile = nested(1000000, "[", "");
  expect_err(t, hostile, EVE_EDEPTH, 1, EVE_MAX_NESTING + 1);
  free(hostile);
  hostile = nested(100000, "#inst ", "");
  eve_val v;
  EVE_ERR(rd(t, hostile, &v, NULL), EVE_EDEPTH);
  free(hostile);
  /* discards do not nest: any number is fine */
  char *many = nested(100000, "#_ ", "");
  EVE_ERR(rd(t, many, &v, NULL), EVE_EPARSE);
  free(many);
  CLOSE();
}

/* The readers and the constructors agree: a value nests at most
 * EVE_MAX_NESTING deep, whichever way it is built, and prints back. */
Test(edn, readers_and_constructors_share_the_nesting_limit) {
  OPEN();
  eve_val v = EVE_V_EMPTY_VECTOR, deeper; /* depth 1 */
  for (int i = 1; i < EVE_MAX_NESTING; i++) EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &v));
  char *out = pr(t, v);
  cr_assert_eq(strlen(out), 2 * (size_t)EVE_MAX_NESTING);
  char text[2 * EVE_MAX_NESTING + 1];
  memset(text, '[', EVE_MAX_NESTING);
  memset(text + EVE_MAX_NESTING, ']', EVE_MAX_NESTING);
  text[2 * EVE_MAX_NESTING] = '\0';
  cr_assert_str_eq(out, text);
  eve_val back = rd_ok(t, out);
  cr_assert(equal(t, back, v), "the deepest value reads back equal");
  eve_free(out);
  /* one level more: refused by the constructor as by the reader */
  EVE_ERR(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, v, &deeper), EVE_EDEPTH);
  EVE_ERR(eve_list_cons(t, v, EVE_V_EMPTY_LIST, &deeper), EVE_EDEPTH);
  EVE_OK(eve_txn_error(t)); /* not sticky */
  char *deep = nested(EVE_MAX_NESTING + 1, "[", "]");
  expect_err(t, deep, EVE_EDEPTH, 1, EVE_MAX_NESTING + 1);
  free(deep);
  CLOSE();
}

static const char doc[] =
    "{:scalars [nil true false 0 -42 9223372036854775807 1.5 -0.0 ##Inf ##NaN 1e-320]\n"
    " :text (\"str\\t\\\"esc\\\"\\u00e9\\ud83d\\ude00 caf\xc3\xa9\" \\a \\newline \\u00e9 :kw :ns/kw sym ns/sym)\n"
    " :tags #{#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\" #inst \"1985-04-12T23:20:50.52Z\"\n"
    "         #eve/bytes \"AAEC/w==\"} ; comment\n"
    " \"nested\" {[1 2] #{(3 4) {:x 5}}, #_ :discarded :k \"v\"}}";

Test(edn, every_prefix_fails_cleanly) {
  OPEN();
  size_t n = sizeof doc - 1;
  eve_val full = rd_ok(t, doc), v;
  cr_assert_eq(count(t, full), 4);
  for (size_t len = 0; len < n; len++) {
    eve_parse_error e;
    int rc = rd_n(t, doc, len, &v, &e);
    cr_assert_eq(rc, EVE_EPARSE, "prefix of %zu bytes -> %s", len, eve_err_name(rc));
    cr_assert(e.line >= 1 && e.column >= 1 && e.message[0]);
  }
  CLOSE();
}

Test(edn, mutated_documents_never_crash) {
  OPEN();
  uint64_t seed = t_seed(0xED5EED), r = seed;
  size_t n = sizeof doc - 1;
  char *buf = malloc(n + 16);
  static const char alphabet[] = "()[]{}#_\"\\:;, \n0123456789.eE+-NMaz/\xc3\xa9\xff";
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
    if (rc == 0) { /* whatever was read prints and reads back equal */
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

/* ---- round-trip property on random values --------------------------------- */

static const uint32_t interesting_cps[] = {
    0,    1,    '\b', '\t', '\n', '\f', '\r', 0x1f,   '"',    '\\',    ' ',     '/',
    0x7f, 0x80, 0x9f, 0xa0, 0xe9, 0x7ff, 0x800, 0x2028, 0xfeff, 0xfffd, 0xffff, 0x10000,
    0x1f600, 0x10ffff};

static uint32_t rand_cp(uint64_t *r) {
  switch (t_below(r, 4)) {
  case 0: return interesting_cps[t_below(r, sizeof interesting_cps / sizeof *interesting_cps)];
  case 1: return 0x20 + (uint32_t)t_below(r, 0x5f);
  case 2: {
    uint32_t cp = (uint32_t)t_below(r, 0x10000);
    return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp;
  }
  default: return 0x10000 + (uint32_t)t_below(r, 0x100000);
  }
}

static size_t rand_utf8(uint64_t *r, char *buf, size_t max_cps) {
  size_t n = 0;
  for (size_t k = t_below(r, max_cps + 1); k > 0; k--) {
    uint32_t cp = rand_cp(r);
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

/* A valid EDN symbol or keyword name, optionally with a namespace; never
 * nil/true/false (those would read back as themselves). */
static size_t rand_name(uint64_t *r, char *buf) {
  static const char first[] = "abcdefghijklmnopqrstuvwxyzABCXYZ*!_?$%&=<>";
  static const char rest[] = "abcxyzABCXYZ0123456789.*+!-_?$%&=<>:#";
  size_t n = 0;
  if (t_below(r, 10) == 0) return buf[0] = '+', 1;
  for (int part = t_below(r, 3) == 0 ? 2 : 1; part > 0; part--) {
    buf[n++] = first[t_below(r, sizeof first - 1)];
    for (size_t k = t_below(r, 12); k > 0; k--) buf[n++] = rest[t_below(r, sizeof rest - 1)];
    if (part == 2) buf[n++] = '/';
  }
  if ((n == 3 && !memcmp(buf, "nil", 3)) || (n == 4 && !memcmp(buf, "true", 4)) ||
      (n == 5 && !memcmp(buf, "false", 5)))
    buf[0] = 'X';
  return n;
}

static double rand_double(uint64_t *r) {
  static const double special[] = {0.0, -0.0, 0.1, 1.0, -1.0, 1e-320, 5e-324, DBL_MAX, DBL_MIN,
                                   1e21, 1e22, 123456789012345680.0, INFINITY, -INFINITY, NAN};
  switch (t_below(r, 3)) {
  case 0: return special[t_below(r, sizeof special / sizeof *special)];
  case 1: return (double)((int64_t)t_rand(r) >> t_below(r, 64)) / (double)(1 << t_below(r, 20));
  default: {
    uint64_t bits = t_rand(r);
    double f;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  }
}

static eve_val rand_scalar(eve_txn *t, uint64_t *r) {
  eve_val v = EVE_V_NIL;
  char buf[128];
  uint8_t u[16];
  int64_t i;
  switch (t_below(r, 11)) {
  case 0: break;
  case 1: EVE_OK(eve_bool((int)t_below(r, 2), &v)); break;
  case 2:
    i = (int64_t)t_rand(r) >> t_below(r, 64);
    if (t_below(r, 8) == 0) i = t_below(r, 2) ? INT64_MIN : INT64_MAX;
    EVE_OK(eve_int(t, i, &v));
    break;
  case 3: EVE_OK(eve_float(t, rand_double(r), &v)); break;
  case 4: EVE_OK(eve_string(t, buf, rand_utf8(r, buf, 24), &v)); break;
  case 5: EVE_OK(eve_keyword(t, buf, rand_name(r, buf), &v)); break;
  case 6: EVE_OK(eve_symbol(t, buf, rand_name(r, buf), &v)); break;
  case 7: EVE_OK(eve_char(rand_cp(r), &v)); break;
  case 8:
    for (int k = 0; k < 16; k++) u[k] = (uint8_t)t_rand(r);
    EVE_OK(eve_uuid(t, u, &v));
    break;
  case 9:
    i = (int64_t)t_rand(r) >> t_below(r, 64);
    EVE_OK(eve_inst(t, i, &v));
    break;
  default:
    for (int k = 0; k < 40; k++) buf[k] = (char)t_rand(r);
    EVE_OK(eve_bytes(t, buf, t_below(r, 41), &v));
  }
  return v;
}

static eve_val rand_value(eve_txn *t, uint64_t *r, int depth, int force_coll) {
  if (!force_coll && (depth >= 6 || t_below(r, 10) < 6)) return rand_scalar(t, r);
  int kind = (int)t_below(r, 4);
  size_t n = t_below(r, depth == 0 ? 9 : 6);
  eve_val c = kind == 0 ? EVE_V_EMPTY_LIST : kind == 1 ? EVE_V_EMPTY_VECTOR
            : kind == 2 ? EVE_V_EMPTY_SET : EVE_V_EMPTY_MAP;
  for (size_t k = 0; k < n; k++) {
    eve_val x = rand_value(t, r, depth + 1, 0);
    switch (kind) {
    case 0: EVE_OK(eve_list_cons(t, x, c, &c)); break;
    case 1: EVE_OK(eve_vec_conj(t, c, x, &c)); break;
    case 2: EVE_OK(eve_set_conj(t, c, x, &c)); break;
    default: EVE_OK(eve_map_assoc(t, c, x, rand_value(t, r, depth + 1, 0), &c));
    }
  }
  return c;
}

Test(edn, random_roundtrip) {
  OPEN();
  uint64_t seed = t_seed(0xED17), r = seed;
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

/* ---- conformance fixes (tests/test_conformance.c runs the suites) -------- */

/* No tag handler runs on a discarded element, so a tag eve does not know is
 * fine there, at any depth and after stacked discards. */
Test(edn, discard_unknown_tag) {
  OPEN();
  expect_print(t, "[1 #_ #foo/bar 2 3]", "[1 3]");
  expect_print(t, "[#_ #_ #x a #y/z b c]", "[c]");
  expect_print(t, "[#_ #foo #_ x y z]", "[z]");
  expect_print(t, "#_ [#foo 1 {:a #bar/baz 2}] 5", "5");
  expect_print(t, "[#_ #foo #inst \"not a date\" 1]", "[1]");
  expect_print(t, "#inst #_ #foo 1 \"1970\"", "#inst \"1970-01-01T00:00:00.000-00:00\"");
  expect_print(t, "#_ #_ a b c", "c");
  /* still refused when kept, and a discarded tag still needs its element */
  expect_msg(t, "[#foo/bar 1]", "unknown tag #foo/bar");
  expect_msg(t, "[#foo #_ 1 2]", "unknown tag #foo");
  expect_err(t, "[#_ #foo]", EVE_EPARSE, 1, 9);
  expect_msg(t, "[#_ #foo]", "#foo needs a value");
  expect_err(t, "#_ #foo", EVE_EPARSE, 1, 8);
  expect_msg(t, "#_ #foo", "after #foo");
  expect_err(t, "#_ #a@b 1 2", EVE_EPARSE, 1, 6);
  CLOSE();
}

/* M decimals are doubles: exact ones are read, others refused, never rounded. */
Test(edn, decimal_m_exact_only) {
  OPEN();
  cr_assert_eq(get_f(t, rd_ok(t, "1.5M")), 1.5);
  cr_assert_eq(get_f(t, rd_ok(t, "1e10M")), 1e10);
  cr_assert_eq(get_f(t, rd_ok(t, "-2.50000M")), -2.5);
  cr_assert_eq(get_f(t, rd_ok(t, "0.0078125M")), 0.0078125);
  cr_assert_eq(get_f(t, rd_ok(t, "9007199254740992M")), 9007199254740992.0);
  cr_assert_eq(get_f(t, rd_ok(t, "9223372036854775808M")), 9223372036854775808.0);
  cr_assert(signbit(get_f(t, rd_ok(t, "-0.000M"))));
  static const char *inexact[] = {"1.1M", "0.1M", "-42.23M", "9007199254740993M", "5e-324M",
                                  "1e-400M", "1.000000000000000000001M"};
  for (size_t i = 0; i < sizeof inexact / sizeof *inexact; i++) {
    expect_err(t, inexact[i], EVE_EPARSE, 1, 1);
    expect_msg(t, inexact[i], "cannot hold exactly");
  }
  cr_assert_eq(get_f(t, rd_ok(t, "1.1")), 1.1); /* without M: the nearest double */
  expect_msg(t, "1e400M", "float out of range");
  CLOSE();
}

/* N integers must fit int64: beyond it is an error, never a wrapped value. */
Test(edn, integer_n_int64_only) {
  OPEN();
  cr_assert_eq(get_i(t, rd_ok(t, "9223372036854775807N")), INT64_MAX);
  cr_assert_eq(get_i(t, rd_ok(t, "-9223372036854775808N")), INT64_MIN);
  cr_assert_eq(get_i(t, rd_ok(t, "+0N")), 0);
  static const char *big[] = {"9223372036854775808N", "-9223372036854775809N", "18446744073709551616N",
                              "123456789012345678901234567890N", "9223372036854775808"};
  for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
    expect_err(t, big[i], EVE_EPARSE, 1, 1);
    expect_msg(t, big[i], "integer out of range");
  }
  CLOSE();
}
