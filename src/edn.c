/* edn.c — EDN reader and printer (https://github.com/edn-format/edn).
 *
 * The reader is a loop over tokens with an explicit stack of frames, so
 * hostile nesting costs heap (bounded by EVE_MAX_NESTING), never C stack.
 * A frame is an open collection, a pending tag (#inst awaiting its string)
 * or the top level, which accepts exactly one value.  "#_" increments the
 * innermost frame's discard counter; the next value finished in that frame
 * is dropped instead of delivered.  That handles "#_ #_ a b", "#_ [..]" and
 * "#inst #_ x \"...\"" alike without a frame per discard.  A frame opened
 * for a value that will be dropped (or inside one) is marked `dropped`: no
 * tag handler runs there, so "#_ #my/tag x" reads even though eve knows no
 * #my/tag (the spec: a discarded element is read, not interpreted).
 *
 * Collections are built as elements arrive (vectors by conj, maps by assoc,
 * sets by conj) so duplicate keys are reported at the duplicate itself;
 * list elements wait on a value stack and are consed back to front when
 * the list closes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"
#include "text.h"
#include "txn.h"

/* ======================================================================
 * Reader
 * ==================================================================== */

enum frame_kind { F_TOP, F_LIST, F_VEC, F_SET, F_MAP, F_TAG };
enum tag_kind { TAG_UUID, TAG_INST, TAG_BYTES, TAG_OTHER /* only in a dropped frame */ };

typedef struct frame {
  unsigned char kind;   /* enum frame_kind */
  unsigned char tag;    /* F_TAG: enum tag_kind */
  unsigned char full;   /* F_TOP: has its value; F_MAP: holds a key */
  unsigned char dropped; /* this frame's value will be discarded */
  size_t discard;       /* pending "#_" */
  size_t open;          /* offset of the opening delimiter or tag */
  size_t base;          /* F_LIST: first element on the value stack */
  size_t key_pos;       /* F_MAP: offset of the pending key */
  eve_val coll;         /* collection so far; F_TOP: the value */
  eve_val key;          /* F_MAP: the pending key */
} frame;

typedef struct reader {
  eve_txn *t;
  const char *s;
  size_t n, pos;
  eve_parse_error *err;
  frame *fr;
  size_t nfr, capfr;
  int ncoll, ntag;      /* open collections and pending tags */
  eve_val *vals;        /* list elements awaiting cons */
  size_t nvals, capvals;
  tbuf scratch;         /* decoded string literals */
} reader;

static const char *const tag_names[] = {"uuid", "inst", "eve/bytes"};
static const char closer_of[] = {[F_LIST] = ')', [F_VEC] = ']', [F_SET] = '}', [F_MAP] = '}'};

#define FAIL(r, at, ...) text_error((r)->err, (r)->s, (at), EVE_EPARSE, __VA_ARGS__)

/* An eve_* call failed (no space, read-only txn...): pass its code on,
 * with the position for the caller's convenience. */
static int fail_rc(reader *r, size_t at, int rc) {
  return text_error(r->err, r->s, at, rc, "%s", eve_strerror(rc));
}

static int is_ws(int c) { return text_is_space(c) || c == ',' || c == '\f' || c == '\v'; }

/* Bytes that end a token (a symbol, number, keyword or character name). */
static int is_term(int c) {
  return is_ws(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' ||
         c == '"' || c == ';' || c == '\\';
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static size_t token_end(const reader *r, size_t i) {
  while (i < r->n && !is_term((unsigned char)r->s[i])) i++;
  return i;
}

static void skip_ws(reader *r) {
  while (r->pos < r->n) {
    unsigned char c = (unsigned char)r->s[r->pos];
    if (c == ';') {
      while (r->pos < r->n && r->s[r->pos] != '\n') r->pos++;
    } else if (is_ws(c)) {
      r->pos++;
    } else {
      break;
    }
  }
}

static frame *top(reader *r) { return &r->fr[r->nfr - 1]; }

static int push(reader *r, size_t at, unsigned char kind, eve_val coll) {
  if (text_grow((void **)&r->fr, &r->capfr, r->nfr + 1, sizeof *r->fr)) return fail_rc(r, at, EVE_ENOMEM);
  /* the next value the parent finishes is this frame's: dropped if the
   * parent has a "#_" pending or is dropped itself */
  unsigned char dropped = r->nfr && (top(r)->dropped || top(r)->discard);
  r->fr[r->nfr++] = (frame){.kind = kind, .dropped = dropped, .open = at, .base = r->nvals, .coll = coll};
  return 0;
}

/* A new value starts at `at`: only allowed if some frame will take it. */
static int begin_value(reader *r, size_t at) {
  frame *f = top(r);
  if (f->kind == F_TOP && f->full && !f->discard)
    return FAIL(r, at, "unexpected text after the value");
  return 0;
}

/* ---- tokens ------------------------------------------------------------ */

/* Check the prefix or name part of a symbol or keyword.  Returns the
 * offset of the first bad byte or -1. */
static long check_part(const char *s, size_t n, int digit_first_ok) {
  if (n == 0) return 0;
  unsigned char c0 = (unsigned char)s[0];
  if (c0 == ':' || c0 == '#' || (!digit_first_ok && is_digit(c0))) return 0;
  /* "-1" would be a number; a keyword's ":-1" is not ambiguous */
  if (!digit_first_ok && (c0 == '+' || c0 == '-' || c0 == '.') && n > 1 &&
      is_digit((unsigned char)s[1]))
    return 1;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      uint32_t cp;
      size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
      if (!len) return (long)i;
      i += len;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && !(c && strchr(".*+!-_?$%&=<>:#", c))) return (long)i;
    i++;
  }
  return -1;
}

/* A symbol is "/", "name" or "prefix/name".  digit_first_ok (keywords)
 * applies to the first part only.  Returns the bad offset or -1. */
static long check_symbol(const char *s, size_t n, int digit_first_ok) {
  if (n == 1 && s[0] == '/') return -1;
  const char *slash = memchr(s, '/', n);
  if (!slash) return check_part(s, n, digit_first_ok);
  size_t k = (size_t)(slash - s);
  if (k == 0 || k + 1 == n) return (long)k;
  const char *second = memchr(slash + 1, '/', n - k - 1);
  if (second) return (long)(second - s);
  long bad = check_part(s, k, digit_first_ok);
  if (bad >= 0) return bad;
  bad = check_part(slash + 1, n - k - 1, 0);
  return bad >= 0 ? bad + (long)k + 1 : -1;
}

/* The significant digits of a decimal, without leading or trailing zeros,
 * and the power of ten of the last one: the value is digits * 10^exp10. */
typedef struct decimal {
  tbuf digits;
  int64_t exp10;
} decimal;

/* From the text s[0..n): [sign] digits [. digits] [e|E [sign] digits], or
 * from printf's "%e" output, whose decimal point may be any non-digit.
 * Returns 0 or EVE_ENOMEM. */
static int decimal_of(const char *s, size_t n, decimal *d) {
  size_t i = 0;
  int64_t frac = 0, zeros = 0; /* digits after the point; trailing zeros held back */
  int point = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
    if (!is_digit((unsigned char)s[i])) {
      point = 1;
      continue;
    }
    frac += point;
    if (s[i] == '0') {
      if (d->digits.len) zeros++;
      continue;
    }
    for (; zeros; zeros--) tbuf_putc(&d->digits, '0');
    tbuf_putc(&d->digits, s[i]);
  }
  int64_t e = 0;
  int eneg = 0;
  if (i < n) i++; /* the 'e' */
  if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
  for (; i < n; i++) /* saturate: such exponents never match a double's */
    if (e < INT64_C(1) << 50) e = e * 10 + (s[i] - '0');
  d->exp10 = (eneg ? -e : e) - frac + zeros;
  return d->digits.err;
}

/* Whether the decimal text s[0..n) is exactly the double f it parsed to.
 * Returns 1, 0, or EVE_ENOMEM. */
static int decimal_is_exact(const char *s, size_t n, double f) {
  /* a double's exact decimal expansion has at most 767 significant digits */
  char buf[1100];
  int k = snprintf(buf, sizeof buf, "%.800e", fabs(f));
  if (k < 0 || (size_t)k >= sizeof buf) return 0;
  decimal a = {0}, b = {0};
  int rc = decimal_of(s, n, &a);
  if (!rc) rc = decimal_of(buf, (size_t)k, &b);
  if (!rc) {
    int zero = !a.digits.len && !b.digits.len;
    rc = zero || (a.digits.len == b.digits.len && a.exp10 == b.exp10 &&
                  !memcmp(tbuf_data(&a.digits), tbuf_data(&b.digits), a.digits.len));
  }
  tbuf_free(&a.digits);
  tbuf_free(&b.digits);
  return rc;
}

static int read_number(reader *r, size_t start, size_t end, eve_val *out) {
  const char *s = r->s;
  size_t i = start;
  int neg = 0;
  if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
  size_t d0 = i;
  while (i < end && is_digit((unsigned char)s[i])) i++;
  if (i - d0 > 1 && s[d0] == '0') return FAIL(r, d0, "number with a leading zero");
  if (i == end || (s[i] == 'N' && i + 1 == end)) {
    int64_t v;
    if (text_digits_to_int64(s + d0, i - d0, neg, &v)) return FAIL(r, start, "integer out of range");
    int rc = eve_int(r->t, v, out);
    return rc ? fail_rc(r, start, rc) : 0;
  }
  if (s[i] == '.')
    for (i++; i < end && is_digit((unsigned char)s[i]);) i++;
  if (i < end && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < end && (s[i] == '+' || s[i] == '-')) i++;
    if (i == end || !is_digit((unsigned char)s[i])) return FAIL(r, i, "invalid number");
    while (i < end && is_digit((unsigned char)s[i])) i++;
  }
  size_t mant = i; /* the float's text, without the M suffix */
  if (i < end && s[i] == 'M') i++;
  if (i != end) return FAIL(r, i, "invalid number");
  double f;
  if (text_to_double(s + start, mant - start, &f)) return FAIL(r, start, "float out of range");
  if (mant != end) {
    /* eve has no big decimals: an M number is kept as a double, so only
     * one that a double holds exactly (1.5M, 1e10M), never a rounded one */
    int exact = decimal_is_exact(s + start, mant - start, f);
    if (exact < 0) return fail_rc(r, start, exact);
    if (!exact) return FAIL(r, start, "M decimal that a double cannot hold exactly");
  }
  int rc = eve_float(r->t, f, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

/* A symbol, number, nil, true or false starting at r->pos. */
static int read_token(reader *r, eve_val *out) {
  size_t start = r->pos, end = token_end(r, start), len = end - start;
  const char *s = r->s + start;
  r->pos = end;
  if (is_digit((unsigned char)s[0]) ||
      ((s[0] == '+' || s[0] == '-') && len > 1 && is_digit((unsigned char)s[1])))
    return read_number(r, start, end, out);
  if (len == 3 && !memcmp(s, "nil", 3)) return *out = EVE_V_NIL, 0;
  if (len == 4 && !memcmp(s, "true", 4)) return *out = EVE_V_TRUE, 0;
  if (len == 5 && !memcmp(s, "false", 5)) return *out = EVE_V_FALSE, 0;
  long bad = check_symbol(s, len, 0);
  if (bad >= 0) return FAIL(r, start + (size_t)bad, "invalid character in symbol");
  int rc = eve_symbol(r->t, s, len, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

static int read_keyword(reader *r, eve_val *out) {
  size_t start = r->pos, end = token_end(r, start + 1), len = end - start - 1;
  const char *s = r->s + start + 1;
  r->pos = end;
  if (len == 0) return FAIL(r, start, "empty keyword");
  if (s[0] == ':') return FAIL(r, start + 1, "'::' keywords are not EDN");
  /* like Clojure, :1 and :1/a are read; the name after a '/' follows the
   * symbol rules (:a/1 is not a keyword), and so does a lone "/" */
  if (len == 1 && s[0] == '/') return FAIL(r, start + 1, "':/' is not a keyword");
  long bad = check_symbol(s, len, 1);
  if (bad >= 0) return FAIL(r, start + 1 + (size_t)bad, "invalid character in keyword");
  int rc = eve_keyword(r->t, s, len, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

static int named_char(const char *s, size_t n, uint32_t *cp) {
  static const struct { const char *name; uint32_t cp; } names[] = {
      {"newline", '\n'}, {"space", ' '},      {"tab", '\t'},
      {"return", '\r'},  {"backspace", '\b'}, {"formfeed", '\f'},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].name) == n && !memcmp(names[i].name, s, n)) return *cp = names[i].cp, 0;
  if (n != 5 || s[0] != 'u') return -1;
  uint32_t v = 0;
  for (size_t i = 1; i < 5; i++) {
    int c = (unsigned char)s[i], h = is_digit(c) ? c - '0'
                                   : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
    if (h < 0) return -1;
    v = v * 16 + (uint32_t)h;
  }
  if (v >= 0xD800 && v <= 0xDFFF) return -1;
  *cp = v;
  return 0;
}

/* \c, \newline, \uXXXX...  The first code point after the backslash is
 * taken whatever it is (so \( and \\ work); a longer token is a name. */
static int read_char(reader *r, eve_val *out) {
  size_t start = r->pos, i = start + 1;
  if (i >= r->n) return FAIL(r, i, "unexpected end of input after \\");
  unsigned char c = (unsigned char)r->s[i];
  if (is_ws(c) && c != ',') return FAIL(r, i, "whitespace after \\");
  uint32_t cp;
  size_t len = utf8_decode((const unsigned char *)r->s + i, r->n - i, &cp);
  if (!len) return FAIL(r, i, "invalid UTF-8 in character");
  size_t end = token_end(r, i + len);
  r->pos = end;
  if (end != i + len && named_char(r->s + i, end - i, &cp))
    return FAIL(r, start, "unsupported character \\%.*s", (int)(end - i > 40 ? 40 : end - i), r->s + i);
  int rc = eve_char(cp, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

static int read_string(reader *r, eve_val *out) {
  size_t start = r->pos;
  const char *msg = text_read_string(r->s, r->n, &r->pos, TEXT_STR_EDN, &r->scratch);
  if (msg) return FAIL(r, r->pos, "%s", msg);
  if (r->scratch.err) return fail_rc(r, start, r->scratch.err);
  int rc = eve_string(r->t, tbuf_data(&r->scratch), r->scratch.len, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

/* ##Inf, ##-Inf, ##NaN */
static int read_symbolic(reader *r, eve_val *out) {
  size_t start = r->pos, end = token_end(r, start + 2), len = end - start - 2;
  const char *s = r->s + start + 2;
  double f;
  if (len == 3 && !memcmp(s, "Inf", 3)) f = INFINITY;
  else if (len == 4 && !memcmp(s, "-Inf", 4)) f = -INFINITY;
  else if (len == 3 && !memcmp(s, "NaN", 3)) f = NAN;
  else return FAIL(r, start, "unknown symbolic value ##%.*s", (int)(len > 40 ? 40 : len), s);
  r->pos = end;
  int rc = eve_float(r->t, f, out);
  return rc ? fail_rc(r, start, rc) : 0;
}

/* ---- delivering values to frames --------------------------------------- */

/* A tag frame's name as written, for messages: "#%.*s", TAG_NAME(r, f). */
static int tag_len(const reader *r, const frame *f) {
  size_t len = token_end(r, f->open + 1) - f->open - 1;
  return (int)(len > 64 ? 64 : len);
}
#define TAG_NAME(r, f) tag_len((r), (f)), (r)->s + (f)->open + 1

/* The value of a finished tag frame f, from its string v. */
static int apply_tag(reader *r, const frame *f, eve_val v, size_t at, eve_val *out) {
  eve_type ty;
  int rc = eve_type_get(r->t, v, &ty);
  if (rc) return fail_rc(r, at, rc);
  if (ty != EVE_STRING) return FAIL(r, at, "#%s needs a string", tag_names[f->tag]);
  const char *s;
  size_t n;
  if ((rc = eve_text_get(r->t, &v, &s, &n))) return fail_rc(r, at, rc);
  if (f->tag == TAG_UUID) {
    uint8_t u[16];
    if (text_parse_uuid(s, n, u)) return FAIL(r, at, "invalid #uuid");
    rc = eve_uuid(r->t, u, out);
  } else if (f->tag == TAG_INST) {
    int64_t ms;
    const char *msg = text_parse_inst(s, n, &ms);
    if (msg) return FAIL(r, at, "invalid #inst: %s", msg);
    rc = eve_inst(r->t, ms, out);
  } else {
    rc = text_parse_base64(s, n, &r->scratch);
    if (rc == -1) return FAIL(r, at, "invalid base64 in #eve/bytes");
    if (!rc) rc = eve_bytes(r->t, tbuf_data(&r->scratch), r->scratch.len, out);
  }
  return rc ? fail_rc(r, at, rc) : 0;
}

static int add_to_set(reader *r, frame *f, eve_val v, size_t at) {
  int has, rc = eve_set_contains(r->t, f->coll, v, &has);
  if (!rc && has) return FAIL(r, at, "duplicate element in set");
  if (!rc) rc = eve_set_conj(r->t, f->coll, v, &f->coll);
  return rc ? fail_rc(r, at, rc) : 0;
}

static int add_to_map(reader *r, frame *f, eve_val v, size_t at) {
  int rc;
  if (f->full) {
    f->full = 0;
    rc = eve_map_assoc(r->t, f->coll, f->key, v, &f->coll);
    return rc ? fail_rc(r, f->key_pos, rc) : 0;
  }
  eve_val old;
  rc = eve_map_get(r->t, f->coll, v, &old);
  if (rc == 0) return FAIL(r, at, "duplicate key in map");
  if (rc != EVE_ENOTFOUND) return fail_rc(r, at, rc);
  f->key = v;
  f->key_pos = at;
  f->full = 1;
  return 0;
}

/* Hand a finished value (which started at offset `at`) to the innermost
 * frame; a tag frame converts it and passes the result further out. */
static int deliver(reader *r, eve_val v, size_t at) {
  for (;;) {
    frame *f = top(r);
    if (f->discard) {
      f->discard--;
      return 0;
    }
    int rc;
    switch (f->kind) {
    case F_TOP:
      f->coll = v;
      f->full = 1;
      return 0;
    case F_LIST:
      if (text_grow((void **)&r->vals, &r->capvals, r->nvals + 1, sizeof *r->vals))
        return fail_rc(r, at, EVE_ENOMEM);
      r->vals[r->nvals++] = v;
      return 0;
    case F_VEC:
      rc = eve_vec_conj(r->t, f->coll, v, &f->coll);
      return rc ? fail_rc(r, at, rc) : 0;
    case F_SET: return add_to_set(r, f, v, at);
    case F_MAP: return add_to_map(r, f, v, at);
    default: /* F_TAG; in a dropped frame v passes through to be dropped */
      if (!f->dropped && (rc = apply_tag(r, f, v, at, &v))) return rc;
      at = f->open;
      r->nfr--;
      r->ntag--;
    }
  }
}

/* ---- structure ---------------------------------------------------------- */

static int open_coll(reader *r, size_t at, size_t len, unsigned char kind) {
  static const eve_val empty[] = {[F_LIST] = EVE_V_EMPTY_LIST, [F_VEC] = EVE_V_EMPTY_VECTOR,
                                  [F_SET] = EVE_V_EMPTY_SET, [F_MAP] = EVE_V_EMPTY_MAP};
  int rc = begin_value(r, at);
  if (rc) return rc;
  if (r->ncoll >= EVE_MAX_NESTING)
    return text_error(r->err, r->s, at, EVE_EDEPTH, "nesting deeper than %d", EVE_MAX_NESTING);
  if ((rc = push(r, at, kind, empty[kind]))) return rc;
  r->ncoll++;
  r->pos = at + len;
  return 0;
}

static int close_coll(reader *r, size_t at) {
  frame *f = top(r);
  char c = r->s[at];
  if (f->kind == F_TOP) return FAIL(r, at, "unmatched '%c'", c);
  if (f->kind == F_TAG) return FAIL(r, at, "#%.*s needs a value before '%c'", TAG_NAME(r, f), c);
  if (closer_of[f->kind] != c)
    return FAIL(r, at, "unexpected '%c', expected '%c'", c, closer_of[f->kind]);
  if (f->discard) return FAIL(r, at, "#_ needs a form before '%c'", c);
  if (f->kind == F_MAP && f->full) return FAIL(r, at, "map literal needs a value for its last key");
  eve_val v = f->coll;
  if (f->kind == F_LIST) {
    v = EVE_V_EMPTY_LIST;
    for (size_t i = r->nvals; i > f->base; i--) {
      int rc = eve_list_cons(r->t, r->vals[i - 1], v, &v);
      if (rc) return fail_rc(r, f->open, rc);
    }
    r->nvals = f->base;
  }
  size_t open = f->open;
  r->nfr--;
  r->ncoll--;
  r->pos = at + 1;
  return deliver(r, v, open);
}

static int open_tag(reader *r, size_t at) {
  size_t end = token_end(r, at + 1), len = end - at - 1;
  const char *name = r->s + at + 1;
  int rc;
  unsigned char tag = 0;
  while (tag < TAG_OTHER && !(strlen(tag_names[tag]) == len && !memcmp(tag_names[tag], name, len))) tag++;
  if (tag == TAG_OTHER) {
    /* a tag eve does not know is only acceptable on a discarded element */
    long bad = check_symbol(name, len, 0);
    if (bad >= 0) return FAIL(r, at + 1 + (size_t)bad, "invalid character in tag");
    if (!top(r)->dropped && !top(r)->discard)
      return FAIL(r, at, "unknown tag #%.*s", (int)(len > 64 ? 64 : len), name);
  }
  if (r->ntag >= EVE_MAX_NESTING)
    return text_error(r->err, r->s, at, EVE_EDEPTH, "tags nested deeper than %d", EVE_MAX_NESTING);
  if ((rc = push(r, at, F_TAG, EVE_V_NIL))) return rc;
  top(r)->tag = tag;
  r->ntag++;
  r->pos = end;
  return 0;
}

/* Everything that starts with '#'. */
static int read_dispatch(reader *r) {
  size_t at = r->pos;
  if (at + 1 >= r->n) return FAIL(r, at + 1, "unexpected end of input after #");
  unsigned char c = (unsigned char)r->s[at + 1];
  if (c == '{') return open_coll(r, at, 2, F_SET);
  if (c == '_') {
    top(r)->discard++;
    r->pos = at + 2;
    return 0;
  }
  int rc = begin_value(r, at);
  if (rc) return rc;
  if (c == '#') {
    eve_val v;
    return (rc = read_symbolic(r, &v)) ? rc : deliver(r, v, at);
  }
  if (is_alpha(c)) return open_tag(r, at);
  return FAIL(r, at + 1, "invalid dispatch character after #");
}

static int read_scalar(reader *r) {
  size_t at = r->pos;
  int rc = begin_value(r, at);
  if (rc) return rc;
  eve_val v;
  switch (r->s[at]) {
  case '"': rc = read_string(r, &v); break;
  case '\\': rc = read_char(r, &v); break;
  case ':': rc = read_keyword(r, &v); break;
  default: rc = read_token(r, &v);
  }
  return rc ? rc : deliver(r, v, at);
}

/* End of input: only a complete top-level value is acceptable. */
static int finish(reader *r, eve_val *out) {
  frame *f = top(r);
  if (f->kind == F_TAG) return FAIL(r, r->n, "unexpected end of input after #%.*s", TAG_NAME(r, f));
  if (f->kind != F_TOP)
    return FAIL(r, r->n, "unexpected end of input: '%c' is not closed", closer_of[f->kind]);
  if (f->discard) return FAIL(r, r->n, "unexpected end of input after #_");
  if (!f->full) return FAIL(r, r->n, "unexpected end of input");
  *out = f->coll;
  return 0;
}

static int read_all(reader *r, eve_val *out) {
  int rc = push(r, 0, F_TOP, EVE_V_NIL);
  while (!rc) {
    skip_ws(r);
    if (r->pos >= r->n) return finish(r, out);
    switch (r->s[r->pos]) {
    case '(': rc = open_coll(r, r->pos, 1, F_LIST); break;
    case '[': rc = open_coll(r, r->pos, 1, F_VEC); break;
    case '{': rc = open_coll(r, r->pos, 1, F_MAP); break;
    case ')': case ']': case '}': rc = close_coll(r, r->pos); break;
    case '#': rc = read_dispatch(r); break;
    default: rc = read_scalar(r);
    }
  }
  return rc;
}

int eve_read_edn(eve_txn *t, const char *text, size_t n, eve_val *out, eve_parse_error *err) {
  if (err) memset(err, 0, sizeof *err);
  if (!t || !out || (!text && n)) return EVE_EINVAL;
  /* reading may allocate, so it needs a write txn even for "nil" */
  int rc = txn_writable(t);
  if (rc) return rc;
  reader r = {.t = t, .s = text ? text : "", .n = n, .err = err};
  rc = read_all(&r, out);
  free(r.fr);
  free(r.vals);
  tbuf_free(&r.scratch);
  return rc;
}

/* ======================================================================
 * Printer
 * ==================================================================== */

static void put_text(tbuf *b, const char *prefix, const char *s, size_t n, const char *suffix) {
  tbuf_puts(b, prefix);
  tbuf_put(b, s, n);
  tbuf_puts(b, suffix);
}

static void put_char(tbuf *b, uint32_t cp) {
  static const char *const names[] = {['\n'] = "newline", [' '] = "space", ['\t'] = "tab",
                                      ['\r'] = "return", ['\b'] = "backspace", ['\f'] = "formfeed"};
  tbuf_putc(b, '\\');
  if (cp <= ' ' && names[cp]) {
    tbuf_puts(b, names[cp]);
  } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
    /* control characters would be invisible or ambiguous as themselves */
    static const char hex[] = "0123456789abcdef";
    char u[5] = {'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
    tbuf_put(b, u, 5);
  } else {
    char u8[4];
    tbuf_put(b, u8, utf8_encode(cp, u8));
  }
}

static void put_float(tbuf *b, double f) {
  if (isnan(f)) tbuf_puts(b, "##NaN");
  else if (isinf(f)) tbuf_puts(b, f > 0 ? "##Inf" : "##-Inf");
  else text_put_double(b, f);
}

static int edn_scalar(eve_txn *t, tbuf *b, eve_val v, eve_type ty) {
  int rc = 0, bl;
  int64_t i;
  double f;
  uint32_t cp;
  uint8_t u[16];
  const char *s;
  const uint8_t *p;
  size_t n;
  switch (ty) {
  case EVE_NIL: tbuf_puts(b, "nil"); break;
  case EVE_BOOL: if (!(rc = eve_bool_get(t, v, &bl))) tbuf_puts(b, bl ? "true" : "false"); break;
  case EVE_INT: if (!(rc = eve_int_get(t, v, &i))) text_put_int(b, i); break;
  case EVE_FLOAT: if (!(rc = eve_float_get(t, v, &f))) put_float(b, f); break;
  case EVE_CHAR: if (!(rc = eve_char_get(t, v, &cp))) put_char(b, cp); break;
  case EVE_STRING: if (!(rc = eve_text_get(t, &v, &s, &n))) text_put_string(b, s, n); break;
  case EVE_KEYWORD: if (!(rc = eve_text_get(t, &v, &s, &n))) put_text(b, ":", s, n, ""); break;
  case EVE_SYMBOL: if (!(rc = eve_text_get(t, &v, &s, &n))) put_text(b, "", s, n, ""); break;
  case EVE_UUID:
    if (!(rc = eve_uuid_get(t, v, u))) {
      tbuf_puts(b, "#uuid \"");
      text_put_uuid(b, u);
      tbuf_putc(b, '"');
    }
    break;
  case EVE_INST:
    if (!(rc = eve_inst_get(t, v, &i))) {
      tbuf_puts(b, "#inst \"");
      text_put_inst(b, i, "-00:00");
      tbuf_putc(b, '"');
    }
    break;
  case EVE_BYTES:
    if (!(rc = eve_bytes_get(t, &v, &p, &n))) {
      tbuf_puts(b, "#eve/bytes \"");
      text_put_base64(b, p, n);
      tbuf_putc(b, '"');
    }
    break;
  default: rc = EVE_ETYPE; /* collections are the walk's business */
  }
  return rc;
}

static const text_style edn_style = {
    .scalar = edn_scalar,
    .key = NULL,
    .open = {"(", "[", "#{", "{"},
    .close = {")", "]", "}", "}"},
    .sep = " ",
    .map_sep = ", ",
    .kv_sep = " ",
};

int eve_print_edn(eve_txn *t, eve_val v, char **out, size_t *len) {
  return text_print_alloc(t, v, &edn_style, out, len);
}

void eve_free(void *p) { free(p); }
