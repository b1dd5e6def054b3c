/* text.c — helpers shared by the EDN and JSON readers and printers. */
#define _GNU_SOURCE /* newlocale, strtod_l */
#include "text.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h" /* VAL_IS_BLOCK, and txn.h */

/* ======================================================================
 * Output buffer
 * ==================================================================== */

int text_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) {
    if (c > SIZE_MAX / 2) return EVE_ENOMEM;
    c *= 2;
  }
  if (c > SIZE_MAX / elem) return EVE_ENOMEM;
  void *q = realloc(*p, c * elem);
  if (!q) return EVE_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

void tbuf_put(tbuf *b, const void *s, size_t n) {
  if (b->err || n == 0) return;
  /* +1 keeps room for the terminating NUL added by tbuf_finish */
  if (n > SIZE_MAX - b->len - 1 || text_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) {
    b->err = EVE_ENOMEM;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

void tbuf_putc(tbuf *b, char c) { tbuf_put(b, &c, 1); }
void tbuf_puts(tbuf *b, const char *s) { tbuf_put(b, s, strlen(s)); }

int tbuf_finish(tbuf *b, char **out, size_t *len) {
  if (!b->err && text_grow((void **)&b->p, &b->cap, b->len + 1, 1)) b->err = EVE_ENOMEM;
  if (b->err) {
    int rc = b->err;
    tbuf_free(b);
    return rc;
  }
  b->p[b->len] = '\0';
  *out = b->p;
  if (len) *len = b->len;
  b->p = NULL;
  b->len = b->cap = 0;
  return 0;
}

void tbuf_free(tbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ======================================================================
 * Numbers.  printf and strtod follow LC_NUMERIC, which a host program
 * (or a language binding) may have changed; parsing goes through a private
 * "C" locale and formatting only takes digits and the exponent from printf.
 * ==================================================================== */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double strtod_c(const char *s, char **end) {
  pthread_once(&c_locale_once, c_locale_init);
  if (c_locale) return strtod_l(s, end, c_locale);
  return strtod(s, end); /* no C locale object: best effort */
}

int text_to_double(const char *s, size_t n, double *out) {
  char small[64];
  char *buf = n < sizeof small ? small : malloc(n + 1);
  if (!buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  double f = strtod_c(buf, &end);
  int ok = end == buf + n && !isinf(f);
  if (buf != small) free(buf);
  if (!ok) return -1;
  *out = f;
  return 0;
}

int text_digits_to_int64(const char *s, size_t n, int neg, int64_t *out) {
  const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (limit - d) / 10) return -1;
    v = v * 10 + d;
  }
  /* negate in unsigned arithmetic: -(2^63) has no positive int64 */
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

void text_put_int(tbuf *b, int64_t i) {
  char buf[24], *p = buf + sizeof buf;
  /* magnitude in unsigned arithmetic: INT64_MIN has no positive int64 */
  uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
  do *--p = (char)('0' + u % 10); while (u /= 10);
  if (i < 0) *--p = '-';
  tbuf_put(b, p, (size_t)(buf + sizeof buf - p));
}

/* The decimal digits (without trailing zeros) and exponent of f printed
 * with p significant digits: f ~ 0.d1d2..dk * 10^(exp+1).  Returns k. */
static int sig_digits(double f, int p, char digits[24], int *exp) {
  char buf[48];
  snprintf(buf, sizeof buf, "%.*e", p - 1, f);
  int k = 0;
  const char *c = buf;
  if (*c == '-') c++;
  for (; *c && *c != 'e'; c++)
    if (*c >= '0' && *c <= '9') digits[k++] = *c; /* skips the radix char */
  *exp = *c ? atoi(c + 1) : 0;
  while (k > 1 && digits[k - 1] == '0') k--;
  digits[k] = '\0';
  return k;
}

static int round_trips(double f, const char *digits, int exp) {
  char buf[48];
  snprintf(buf, sizeof buf, "%s%c.%se%d", f < 0 ? "-" : "", digits[0], digits + 1, exp);
  return strtod_c(buf, NULL) == f;
}

/* Shortest round-trip digits of a finite, non-zero f.  For a normal f,
 * any decimal of at most 15 digits survives decimal -> double -> 15-digit
 * decimal (DBL_DIG), so if the 15-digit form reads back, stripping its
 * zeros gives the shortest; else 16, else 17 digits (always enough).
 * Subnormals have fewer significant bits: search every precision. */
static int shortest_digits(double f, char digits[24], int *exp) {
  int p = fabs(f) < DBL_MIN ? 1 : 15;
  for (; p < 17; p++) {
    int k = sig_digits(f, p, digits, exp);
    if (round_trips(f, digits, *exp)) return k;
  }
  return sig_digits(f, 17, digits, exp);
}

/* Fixed notation for exponents -7 < e < 21, scientific otherwise (the
 * JavaScript rule): "100.0", "0.001", "1e+21", "1.5e-07" -> "1.5e-7". */
void text_put_double(tbuf *b, double f) {
  if (f == 0) {
    tbuf_puts(b, signbit(f) ? "-0.0" : "0.0");
    return;
  }
  char d[24], out[64];
  int e, k = shortest_digits(f, d, &e), o = 0;
  if (f < 0) out[o++] = '-';
  if (e >= 0 && e < 21) {
    for (int i = 0; i <= e; i++) out[o++] = i < k ? d[i] : '0';
    out[o++] = '.';
    if (k <= e + 1) out[o++] = '0';
    for (int i = e + 1; i < k; i++) out[o++] = d[i];
  } else if (e < 0 && e > -7) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = -1; i > e; i--) out[o++] = '0';
    for (int i = 0; i < k; i++) out[o++] = d[i];
  } else {
    out[o++] = d[0];
    if (k > 1) {
      out[o++] = '.';
      for (int i = 1; i < k; i++) out[o++] = d[i];
    }
    o += snprintf(out + o, sizeof out - (size_t)o, "e%+d", e);
  }
  tbuf_put(b, out, (size_t)o);
}

/* ======================================================================
 * Strings
 * ==================================================================== */

static const char hexdig[] = "0123456789abcdef";

void text_put_string(tbuf *b, const char *s, size_t n) {
  tbuf_putc(b, '"');
  size_t run = 0; /* start of the pending run of bytes copied as is */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\t': esc = "\\t"; break;
    case '\r': esc = "\\r"; break;
    default:
      if (c >= 0x20 && c != 0x7F) continue;
      memcpy(u, "\\u00", 4);
      u[4] = hexdig[c >> 4];
      u[5] = hexdig[c & 15];
    }
    tbuf_put(b, s + run, i - run);
    if (esc) tbuf_puts(b, esc);
    else tbuf_put(b, u, 6);
    run = i + 1;
  }
  tbuf_put(b, s + run, n - run);
  tbuf_putc(b, '"');
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at s[i..]; -1 if absent or malformed (*bad = offset). */
static long hex4(const char *s, size_t n, size_t i, size_t *bad) {
  long v = 0;
  for (size_t k = i; k < i + 4; k++) {
    int h = k < n ? hexval((unsigned char)s[k]) : -1;
    if (h < 0) { *bad = k < n ? k : n; return -1; }
    v = v * 16 + h;
  }
  return v;
}

/* The \uXXXX escape at s[i] (pointing at the backslash), joining a
 * surrogate pair; advances *i past it.  Returns NULL or a message. */
static const char *read_u_escape(const char *s, size_t n, size_t *i, uint32_t *cp) {
  size_t bad = 0; /* set by hex4 when it fails (gcc cannot see that) */
  long hi = hex4(s, n, *i + 2, &bad);
  if (hi < 0) { *i = bad; return bad == n ? "unterminated string" : "invalid \\u escape"; }
  if (hi >= 0xDC00 && hi <= 0xDFFF) return "unpaired surrogate in \\u escape";
  if (hi < 0xD800 || hi > 0xDBFF) { *cp = (uint32_t)hi; *i += 6; return NULL; }
  size_t j = *i + 6;
  if (j + 1 >= n || s[j] != '\\' || s[j + 1] != 'u') return "unpaired surrogate in \\u escape";
  long lo = hex4(s, n, j + 2, &bad);
  if (lo < 0) { *i = bad; return bad == n ? "unterminated string" : "invalid \\u escape"; }
  if (lo < 0xDC00 || lo > 0xDFFF) return "unpaired surrogate in \\u escape";
  *cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
  *i = j + 6;
  return NULL;
}

/* One escape sequence at s[*i] (the backslash). */
static const char *read_escape(const char *s, size_t n, size_t *i, int flavor, tbuf *out) {
  if (*i + 1 >= n) { *i = n; return "unterminated string"; }
  char c;
  switch (s[*i + 1]) {
  case '"': c = '"'; break;
  case '\\': c = '\\'; break;
  case 'n': c = '\n'; break;
  case 't': c = '\t'; break;
  case 'r': c = '\r'; break;
  case 'b': c = '\b'; break;
  case 'f': c = '\f'; break;
  case '/':
    if (flavor != TEXT_STR_JSON) return "invalid escape in string";
    c = '/';
    break;
  case 'u': {
    uint32_t cp;
    const char *msg = read_u_escape(s, n, i, &cp);
    if (msg) return msg;
    char u8[4];
    tbuf_put(out, u8, utf8_encode(cp, u8));
    return NULL;
  }
  default: return "invalid escape in string";
  }
  tbuf_putc(out, c);
  *i += 2;
  return NULL;
}

const char *text_read_string(const char *s, size_t n, size_t *pos, int flavor, tbuf *out) {
  size_t i = *pos + 1;
  out->len = 0;
  for (;;) {
    size_t run = i;
    /* bytes that need no attention are copied in one go */
    while (i < n) {
      unsigned char c = (unsigned char)s[i];
      if (c == '"' || c == '\\' || c >= 0x80 || (c < 0x20 && flavor == TEXT_STR_JSON)) break;
      i++;
    }
    tbuf_put(out, s + run, i - run);
    if (i >= n) { *pos = n; return "unterminated string"; }
    unsigned char c = (unsigned char)s[i];
    const char *msg = NULL;
    if (c == '"') {
      *pos = i + 1;
      return NULL;
    } else if (c == '\\') {
      msg = read_escape(s, n, &i, flavor, out);
    } else if (c < 0x20) {
      msg = "control character in string (JSON needs an escape)";
    } else {
      uint32_t cp;
      size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
      if (!len) msg = "invalid UTF-8 in string";
      tbuf_put(out, s + i, len);
      i += len;
    }
    if (msg) { *pos = i; return msg; }
  }
}

/* ======================================================================
 * uuid
 * ==================================================================== */

void text_put_uuid(tbuf *b, const uint8_t u[16]) {
  char out[36];
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hexdig[u[i] >> 4];
    out[o++] = hexdig[u[i] & 15];
  }
  tbuf_put(b, out, sizeof out);
}

int text_parse_uuid(const char *s, size_t n, uint8_t u[16]) {
  if (n != 36) return -1;
  int k = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-') return -1;
      continue;
    }
    int h = hexval((unsigned char)s[i]), l = hexval((unsigned char)s[i + 1]);
    if (h < 0 || l < 0) return -1;
    u[k++] = (uint8_t)(h * 16 + l);
    i += 2;
  }
  return 0;
}

/* ======================================================================
 * inst: int64 milliseconds since the epoch <-> RFC 3339.  Calendar maths
 * from Howard Hinnant's days_from_civil / civil_from_days (proleptic
 * Gregorian), exact over the whole int64 range.
 * ==================================================================== */

#define MS_PER_DAY INT64_C(86400000)

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

void text_put_inst(tbuf *b, int64_t ms, const char *zone) {
  /* floor division without forming days*MS_PER_DAY (it can overflow) */
  int64_t rem = ms % MS_PER_DAY;
  if (rem < 0) rem += MS_PER_DAY;
  int64_t days = ms / MS_PER_DAY - (ms % MS_PER_DAY < 0);
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  char out[80];
  int o = (y >= 0 && y <= 9999) ? snprintf(out, sizeof out, "%04lld", (long long)y)
                                 : snprintf(out, sizeof out, "%+05lld", (long long)y);
  o += snprintf(out + o, sizeof out - (size_t)o, "-%02d-%02dT%02d:%02d:%02d.%03d%s", m, d,
                (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                (int)(rem % 1000), zone);
  tbuf_put(b, out, (size_t)o);
}

/* exactly `width` digits at s[*i] */
static int take_digits(const char *s, size_t n, size_t *i, int width, int *out) {
  int v = 0;
  for (int k = 0; k < width; k++, (*i)++) {
    if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
    v = v * 10 + (s[*i] - '0');
  }
  *out = v;
  return 0;
}

static int days_in_month(int64_t y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 ? 28 + leap : dm[m - 1];
}

/* YYYY, or more digits and an optional sign for years outside 0000..9999
 * (the form text_put_inst writes for them). */
static const char *parse_year(const char *s, size_t n, size_t *i, int64_t *y) {
  int neg = 0;
  if (*i < n && (s[*i] == '+' || s[*i] == '-')) neg = s[(*i)++] == '-';
  size_t start = *i;
  int64_t v = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9' && *i - start < 12) v = v * 10 + (s[(*i)++] - '0');
  if (*i - start < 4) return "inst: year needs 4 digits";
  *y = neg ? -v : v;
  return NULL;
}

/* The optional parts after the year, each present only if the previous
 * one is: -MM -DD THH:MM :SS .fff */
static const char *parse_date_time(const char *s, size_t n, size_t *i, int *f) {
  /* f: month, day, hour, minute, second, millisecond */
  if (*i >= n || s[*i] != '-') return NULL;
  (*i)++;
  if (take_digits(s, n, i, 2, &f[0])) return "inst: bad month";
  if (*i >= n || s[*i] != '-') return NULL;
  (*i)++;
  if (take_digits(s, n, i, 2, &f[1])) return "inst: bad day";
  if (*i >= n || (s[*i] != 'T' && s[*i] != 't')) return NULL;
  (*i)++;
  if (take_digits(s, n, i, 2, &f[2]) || *i >= n || s[(*i)++] != ':' ||
      take_digits(s, n, i, 2, &f[3]))
    return "inst: bad time";
  if (*i >= n || s[*i] != ':') return NULL;
  (*i)++;
  if (take_digits(s, n, i, 2, &f[4])) return "inst: bad seconds";
  if (*i >= n || s[*i] != '.') return NULL;
  (*i)++;
  size_t start = *i;
  /* milliseconds: the first three digits; finer digits are truncated */
  for (int k = 0; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++, k++)
    if (k < 3) f[5] = f[5] * 10 + (s[*i] - '0');
  if (*i == start) return "inst: bad fraction";
  for (size_t k = *i - start; k < 3; k++) f[5] *= 10;
  return NULL;
}

/* Z, or +hh:mm / -hh:mm, or nothing (UTC); sets the offset in minutes. */
static const char *parse_zone(const char *s, size_t n, size_t *i, int *minutes) {
  *minutes = 0;
  if (*i >= n) return NULL;
  if (s[*i] == 'Z' || s[*i] == 'z') { (*i)++; return NULL; }
  if (s[*i] != '+' && s[*i] != '-') return "inst: bad time zone";
  int sign = s[(*i)++] == '-' ? -1 : 1, hh, mm;
  if (take_digits(s, n, i, 2, &hh) || *i >= n || s[(*i)++] != ':' ||
      take_digits(s, n, i, 2, &mm) || hh > 23 || mm > 59)
    return "inst: bad time zone";
  *minutes = sign * (hh * 60 + mm);
  return NULL;
}

const char *text_parse_inst(const char *s, size_t n, int64_t *ms) {
  size_t i = 0;
  int64_t y;
  int f[6] = {1, 1, 0, 0, 0, 0}, zone;
  const char *msg = parse_year(s, n, &i, &y);
  if (!msg) msg = parse_date_time(s, n, &i, f);
  if (!msg) msg = parse_zone(s, n, &i, &zone);
  if (msg) return msg;
  if (i != n) return "inst: unexpected text";
  if (f[0] < 1 || f[0] > 12 || f[1] < 1 || f[1] > days_in_month(y, f[0])) return "inst: bad date";
  /* a leap second only at the end of a minute, as Clojure's #inst allows */
  if (f[2] > 23 || f[3] > 59 || f[4] > (f[3] == 59 ? 60 : 59)) return "inst: bad time";
  int64_t day_ms = ((int64_t)f[2] * 3600 + f[3] * 60 + f[4]) * 1000 + f[5] - (int64_t)zone * 60000;
  /* 128 bits: the start of INT64_MIN's day is itself below INT64_MIN */
  __int128 r = (__int128)days_from_civil(y, f[0], f[1]) * MS_PER_DAY + day_ms;
  if (r < INT64_MIN || r > INT64_MAX) return "inst out of range";
  *ms = (int64_t)r;
  return NULL;
}

/* ======================================================================
 * base64 (RFC 4648, standard alphabet, padded)
 * ==================================================================== */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void text_put_base64(tbuf *b, const uint8_t *p, size_t n) {
  char q[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    q[0] = b64[v >> 18];
    q[1] = b64[(v >> 12) & 63];
    q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? b64[v & 63] : '=';
    tbuf_put(b, q, 4);
  }
}

static int b64val(int c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

int text_parse_base64(const char *s, size_t n, tbuf *out) {
  out->len = 0;
  if (n % 4) return -1;
  for (size_t i = 0; i < n; i += 4) {
    int last = i + 4 == n;
    /* padding only at the very end: "xx==" or "xxx=" */
    int pad = last && s[i + 3] == '=' ? (s[i + 2] == '=' ? 2 : 1) : 0;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
      int d = k < 4 - pad ? b64val((unsigned char)s[i + k]) : 0;
      if (d < 0) return -1;
      v = v << 6 | (uint32_t)d;
    }
    /* the unused low bits must be zero, so each byte string has one text */
    if ((pad == 2 && (v & 0xFFFF)) || (pad == 1 && (v & 0xFF))) return -1;
    uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tbuf_put(out, bytes, (size_t)(3 - pad));
  }
  return out->err ? EVE_ENOMEM : 0;
}

/* ======================================================================
 * Parse errors
 * ==================================================================== */

int text_error(eve_parse_error *err, const char *s, size_t pos, int code, const char *fmt, ...) {
  if (!err) return code;
  size_t line = 1, bol = 0;
  for (size_t i = 0; i < pos; i++)
    if (s[i] == '\n') line++, bol = i + 1;
  err->line = line > INT32_MAX ? INT32_MAX : (int)line;
  err->column = pos - bol + 1 > INT32_MAX ? INT32_MAX : (int)(pos - bol + 1);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

/* ======================================================================
 * Printing walk.  Iterative, so depth never exhausts the C stack.  No value
 * nests deeper than EVE_MAX_NESTING (the constructors refuse), so a walk
 * with more collections open than that is in a damaged file: a cycle.
 * ==================================================================== */

enum { CI_LIST, CI_VEC, CI_SET, CI_MAP };

typedef struct plevel {
  eve_iter it;
  eve_val pending;     /* a map entry's value, printed after its key */
  int has_pending;
  int kind;            /* CI_* */
  uint64_t n;          /* items printed so far */
} plevel;

typedef struct pwalk {
  eve_txn *t;
  const text_style *st;
  tbuf *b;
  plevel *lv;
  size_t depth, cap;
} pwalk;

static int coll_index(eve_type ty) {
  switch (ty) {
  case EVE_LIST: return CI_LIST;
  case EVE_VECTOR: return CI_VEC;
  case EVE_SET: return CI_SET;
  case EVE_MAP: return CI_MAP;
  default: return -1;
  }
}

/* Print a scalar, or open a collection and push its level. */
static int emit(pwalk *w, eve_val v) {
  eve_type ty;
  int rc = eve_type_get(w->t, v, &ty);
  if (rc) return rc;
  int ci = coll_index(ty);
  if (ci < 0) return w->st->scalar(w->t, w->b, v, ty);
  /* a collection inside itself is damage (values are trees of immutable
   * blocks); without this check a cycle would be printed again at every
   * level down to the depth limit: depth x size work before failing */
  for (size_t i = 0; i < w->depth && VAL_IS_BLOCK(v); i++) /* (empty ones are words) */
    if (iter_of(&w->lv[i].it)->coll == v) return txn_fail(w->t, EVE_ECORRUPT);
  if (w->depth >= EVE_MAX_NESTING) return txn_fail(w->t, EVE_ECORRUPT);
  rc = text_grow((void **)&w->lv, &w->cap, w->depth + 1, sizeof *w->lv);
  plevel *l = rc ? NULL : &w->lv[w->depth];
  if (l) rc = eve_iter_init(w->t, v, &l->it);
  if (rc) return rc;
  l->has_pending = 0;
  l->kind = ci;
  l->n = 0;
  w->depth++;
  tbuf_puts(w->b, w->st->open[ci]);
  return 0;
}

/* Advance the innermost open collection by one step. */
static int step(pwalk *w) {
  plevel *l = &w->lv[w->depth - 1];
  const text_style *st = w->st;
  if (l->has_pending) {
    l->has_pending = 0;
    tbuf_puts(w->b, st->kv_sep);
    return emit(w, l->pending);
  }
  eve_val k, v;
  int rc = eve_iter_next(&l->it, &k, &v);
  if (rc == EVE_END) {
    tbuf_puts(w->b, st->close[l->kind]);
    w->depth--;
    return 0;
  }
  if (rc) return rc;
  if (l->n++) tbuf_puts(w->b, l->kind == CI_MAP ? st->map_sep : st->sep);
  if (l->kind != CI_MAP) return emit(w, k);
  l->pending = v;
  l->has_pending = 1;
  return st->key ? st->key(w->t, w->b, k) : emit(w, k);
}

int text_print(eve_txn *t, eve_val v, const text_style *st, tbuf *b) {
  pwalk w = {.t = t, .st = st, .b = b};
  int rc = emit(&w, v);
  while (!rc && w.depth) rc = step(&w);
  free(w.lv);
  return rc ? rc : b->err;
}

int text_print_alloc(eve_txn *t, eve_val v, const text_style *st, char **out, size_t *len) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  tbuf b = {0};
  int rc = text_print(t, v, st, &b);
  if (rc) {
    tbuf_free(&b);
    return rc;
  }
  return tbuf_finish(&b, out, len);
}
