/* order.c — the total order of values (eve_compare).
 *
 * Types rank first (ints and floats share a rank and compare numerically,
 * exactly); within a rank scalars compare here, lists and vectors element
 * by element, sets and maps by count and then by their entries in sorted
 * order.  What the words and headers decide alone is decided here
 * (val_compare_shallow); walk.c walks the elements, without recursion.
 */
#define _GNU_SOURCE
#include "order.h"

#include <math.h>
#include <string.h>

#include "value.h"
#include "walk.h"

/* Rank of each type in the order; ints and floats share one rank. */
static int type_rank(eve_type ty) {
  switch (ty) {
  case EVE_NIL: return 0;
  case EVE_BOOL: return 1;
  case EVE_INT: case EVE_FLOAT: return 2;
  case EVE_CHAR: return 3;
  case EVE_STRING: return 4;
  case EVE_KEYWORD: return 5;
  case EVE_SYMBOL: return 6;
  case EVE_UUID: return 7;
  case EVE_INST: return 8;
  case EVE_BYTES: return 9;
  case EVE_LIST: case EVE_VECTOR: return 10;
  case EVE_SET: return 11;
  case EVE_MAP: return 12;
  }
  return 13;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* Floats: -Inf < ... < -0.0 < 0.0 < ... < +Inf < NaN (a total order). */
static int cmp_double(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
  if (a != b) return a < b ? -1 : 1;
  return signbit(b) - signbit(a); /* -0.0 before 0.0 */
}

/* An int and a float, exactly (no rounding through double): numerically,
 * and an int before an equal float. */
static int cmp_int_double(int64_t i, double f) {
  if (isnan(f)) return -1;
  if (f < -9223372036854775808.0) return 1;
  if (f >= 9223372036854775808.0) return -1;
  double tr = trunc(f);
  int64_t fi = (int64_t)tr;
  if (i != fi) return i < fi ? -1 : 1;
  if (f > tr) return -1;
  if (f < tr) return 1;
  return -1;
}

static int cmp_numbers(eve_txn *t, eve_val a, eve_val b, eve_type ta, eve_type tb) {
  int64_t i, j;
  double f, g;
  if (ta == EVE_INT && tb == EVE_INT) {
    eve_int_get(t, a, &i);
    eve_int_get(t, b, &j);
    return cmp_i64(i, j);
  }
  if (ta == EVE_FLOAT && tb == EVE_FLOAT) {
    eve_float_get(t, a, &f);
    eve_float_get(t, b, &g);
    return cmp_double(f, g);
  }
  if (ta == EVE_INT) {
    eve_int_get(t, a, &i);
    eve_float_get(t, b, &g);
    return cmp_int_double(i, g);
  }
  return -cmp_numbers(t, b, a, tb, ta);
}

static int cmp_bytes(const void *p, size_t n, const void *q, size_t m) {
  int c = memcmp(p, q, n < m ? n : m);
  return c ? (c > 0) - (c < 0) : cmp_u64(n, m);
}

static int cmp_text(eve_txn *t, eve_val a, eve_val b) {
  const char *p, *q;
  size_t n, m;
  if (eve_text_get(t, &a, &p, &n) || eve_text_get(t, &b, &q, &m)) return 0;
  return cmp_bytes(p, n, q, m);
}

static int cmp_same_rank(eve_txn *t, eve_val a, eve_val b, eve_type ta, eve_type tb) {
  switch (ta) {
  case EVE_NIL: return 0;
  case EVE_BOOL: return (a == EVE_V_TRUE) - (b == EVE_V_TRUE);
  case EVE_INT: case EVE_FLOAT: return cmp_numbers(t, a, b, ta, tb);
  case EVE_CHAR: return cmp_u64(a >> 8, b >> 8);
  case EVE_STRING: case EVE_KEYWORD: case EVE_SYMBOL: return cmp_text(t, a, b);
  case EVE_UUID: {
    uint8_t x[16], y[16];
    if (eve_uuid_get(t, a, x) || eve_uuid_get(t, b, y)) return 0;
    return cmp_bytes(x, 16, y, 16);
  }
  case EVE_INST: {
    int64_t x, y;
    if (eve_inst_get(t, a, &x) || eve_inst_get(t, b, &y)) return 0;
    return cmp_i64(x, y);
  }
  case EVE_BYTES: {
    const uint8_t *p, *q;
    size_t n, m;
    if (eve_bytes_get(t, &a, &p, &n) || eve_bytes_get(t, &b, &q, &m)) return 0;
    return cmp_bytes(p, n, q, m);
  }
  default: return 0; /* collections: val_compare_shallow */
  }
}

/* Sets and maps are ordered by count, then by their entries in sorted
 * order (walk.c); equal ones compare 0 before any of that. */
static int unordered_shallow(eve_txn *t, eve_val a, eve_val b, int *c) {
  uint64_t n, m;
  if (eve_count(t, a, &n) || eve_count(t, b, &m)) return 1;
  if (n != m) {
    *c = cmp_u64(n, m);
    return 1;
  }
  return val_equal(t, a, b);
}

int val_compare_shallow(eve_txn *t, eve_val a, eve_val b, int *c, eve_type *type) {
  *c = 0;
  if (a == b || t->err) return 1;
  eve_type ta = val_type(t, a), tb = val_type(t, b);
  int ra = type_rank(ta), rb = type_rank(tb);
  if (ra != rb) {
    *c = ra < rb ? -1 : 1;
    return 1;
  }
  *type = ta;
  switch (ta) {
  case EVE_LIST: case EVE_VECTOR: return 0; /* element by element */
  case EVE_SET: case EVE_MAP: return unordered_shallow(t, a, b, c);
  default: *c = cmp_same_rank(t, a, b, ta, tb); return 1;
  }
}

int val_compare(eve_txn *t, eve_val a, eve_val b) {
  int c;
  eve_type type;
  if (val_compare_shallow(t, a, b, &c, &type)) return c;
  return walk_compare(t, a, b, type);
}

int eve_compare(eve_txn *t, eve_val a, eve_val b, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  *out = val_compare(t, a, b);
  return t->err;
}

