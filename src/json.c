/* json.c — JSON (RFC 8259) reader and printer.
 *
 * The reader is a loop with an explicit stack of open arrays and objects,
 * each in one state of the grammar (what may come next), so nesting costs
 * heap bounded by EVE_MAX_NESTING, never C stack.  Objects become maps with
 * string keys (a repeated key: the last one wins), arrays vectors.
 *
 * The printer shares the walk in text.c; JSON has fewer types than eve, so
 * keywords, symbols, chars, uuids, insts and bytes print as strings, and
 * lists and sets as arrays.  NaN and infinities have no JSON form.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"
#include "text.h"
#include "txn.h"

/* ======================================================================
 * Reader
 * ==================================================================== */

enum jkind { J_TOP, J_ARR, J_OBJ };

/* What the innermost frame accepts next. */
enum jstate {
  S_VALUE,        /* a value (top level, after '[' ... ',', after ':')  */
  S_VALUE_OR_END, /* right after '['                                     */
  S_KEY_OR_END,   /* right after '{'                                     */
  S_KEY,          /* after ',' in an object                              */
  S_COLON,        /* after a key                                         */
  S_NEXT,         /* after a value in a collection: ',' or the closer    */
  S_DONE,         /* top level after its value: only whitespace          */
};

typedef struct jframe {
  unsigned char kind, state;
  eve_val coll, key;
  size_t key_pos;
} jframe;

typedef struct jreader {
  eve_txn *t;
  const char *s;
  size_t n, pos;
  eve_parse_error *err;
  jframe *fr;
  size_t nfr, capfr;
  tbuf scratch;
} jreader;

#define JFAIL(r, at, ...) text_error((r)->err, (r)->s, (at), EVE_EPARSE, __VA_ARGS__)

static int jfail_rc(jreader *r, size_t at, int rc) {
  return text_error(r->err, r->s, at, rc, "%s", eve_strerror(rc));
}

static int jdigit(const jreader *r, size_t i) { return i < r->n && r->s[i] >= '0' && r->s[i] <= '9'; }

static size_t skip_digits(const jreader *r, size_t i) {
  while (jdigit(r, i)) i++;
  return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int read_number(jreader *r, eve_val *out) {
  size_t start = r->pos, i = start;
  int neg = r->s[i] == '-';
  i += neg;
  size_t d0 = i;
  if (!jdigit(r, i)) return JFAIL(r, i, "invalid number");
  i = r->s[i] == '0' ? i + 1 : skip_digits(r, i);
  if (jdigit(r, i)) return JFAIL(r, i, "number with a leading zero");
  size_t dend = i;
  int is_float = 0;
  if (i < r->n && r->s[i] == '.') {
    if (!jdigit(r, ++i)) return JFAIL(r, i, "invalid number: digit expected after '.'");
    i = skip_digits(r, i);
    is_float = 1;
  }
  if (i < r->n && (r->s[i] == 'e' || r->s[i] == 'E')) {
    i++;
    if (i < r->n && (r->s[i] == '+' || r->s[i] == '-')) i++;
    if (!jdigit(r, i)) return JFAIL(r, i, "invalid number: digit expected in exponent");
    i = skip_digits(r, i);
    is_float = 1;
  }
  r->pos = i;
  int64_t v;
  int rc;
  /* integral and in range: an int; a huge integer degrades to a float */
  if (!is_float && !text_digits_to_int64(r->s + d0, dend - d0, neg, &v)) {
    rc = eve_int(r->t, v, out);
  } else {
    double f;
    if (text_to_double(r->s + start, i - start, &f)) return JFAIL(r, start, "number out of range");
    rc = eve_float(r->t, f, out);
  }
  return rc ? jfail_rc(r, start, rc) : 0;
}

static int read_string(jreader *r, eve_val *out) {
  size_t start = r->pos;
  const char *msg = text_read_string(r->s, r->n, &r->pos, TEXT_STR_JSON, &r->scratch);
  if (msg) return JFAIL(r, r->pos, "%s", msg);
  if (r->scratch.err) return jfail_rc(r, start, r->scratch.err);
  int rc = eve_string(r->t, tbuf_data(&r->scratch), r->scratch.len, out);
  return rc ? jfail_rc(r, start, rc) : 0;
}

static int read_literal(jreader *r, eve_val *out) {
  static const struct { const char *text; eve_val v; } lits[] = {
      {"true", EVE_V_TRUE}, {"false", EVE_V_FALSE}, {"null", EVE_V_NIL}};
  for (size_t k = 0; k < 3; k++) {
    size_t len = strlen(lits[k].text);
    if (r->n - r->pos >= len && !memcmp(r->s + r->pos, lits[k].text, len)) {
      r->pos += len;
      *out = lits[k].v;
      return 0;
    }
  }
  return JFAIL(r, r->pos, "invalid literal (expected a value)");
}

static jframe *jtop(jreader *r) { return &r->fr[r->nfr - 1]; }

static int jpush(jreader *r, unsigned char kind, unsigned char state, eve_val coll) {
  if (text_grow((void **)&r->fr, &r->capfr, r->nfr + 1, sizeof *r->fr))
    return jfail_rc(r, r->pos, EVE_ENOMEM);
  r->fr[r->nfr++] = (jframe){.kind = kind, .state = state, .coll = coll};
  return 0;
}

/* A finished value (it started at `at`) goes to the innermost frame. */
static int jdeliver(jreader *r, eve_val v, size_t at) {
  jframe *f = jtop(r);
  int rc = 0;
  if (f->kind == J_TOP) {
    f->coll = v;
    f->state = S_DONE;
    return 0;
  }
  if (f->kind == J_ARR) rc = eve_vec_conj(r->t, f->coll, v, &f->coll);
  else rc = eve_map_assoc(r->t, f->coll, f->key, v, &f->coll);
  f->state = S_NEXT;
  return rc ? jfail_rc(r, at, rc) : 0;
}

/* A value starting at r->pos (an opening bracket pushes a frame). */
static int read_value(jreader *r) {
  size_t at = r->pos;
  unsigned char c = (unsigned char)r->s[at];
  if (c == '[' || c == '{') {
    if (r->nfr > EVE_MAX_NESTING) /* frame 0 is the top level */
      return text_error(r->err, r->s, at, EVE_EDEPTH, "nesting deeper than %d", EVE_MAX_NESTING);
    r->pos++;
    return c == '[' ? jpush(r, J_ARR, S_VALUE_OR_END, EVE_V_EMPTY_VECTOR)
                    : jpush(r, J_OBJ, S_KEY_OR_END, EVE_V_EMPTY_MAP);
  }
  eve_val v;
  int rc;
  if (c == '"') rc = read_string(r, &v);
  else if (c == '-' || (c >= '0' && c <= '9')) rc = read_number(r, &v);
  else rc = read_literal(r, &v);
  return rc ? rc : jdeliver(r, v, at);
}

static int read_key(jreader *r) {
  jframe *f = jtop(r);
  size_t at = r->pos;
  if (r->s[at] != '"') return JFAIL(r, at, "expected a string key");
  int rc = read_string(r, &f->key);
  if (rc) return rc;
  f->key_pos = at;
  f->state = S_COLON;
  return 0;
}

static int close_frame(jreader *r) {
  eve_val v = jtop(r)->coll;
  r->nfr--;
  r->pos++;
  /* the value's position only matters for allocation errors: use the closer */
  return jdeliver(r, v, r->pos - 1);
}

/* One step of the grammar at the non-space byte r->s[r->pos]. */
static int jstep(jreader *r) {
  jframe *f = jtop(r);
  char c = r->s[r->pos], closer = f->kind == J_ARR ? ']' : '}';
  switch (f->state) {
  case S_VALUE: return read_value(r);
  case S_VALUE_OR_END: return c == ']' ? close_frame(r) : read_value(r);
  case S_KEY_OR_END: return c == '}' ? close_frame(r) : read_key(r);
  case S_KEY: return read_key(r);
  case S_COLON:
    if (c != ':') return JFAIL(r, r->pos, "expected ':'");
    r->pos++;
    f->state = S_VALUE;
    return 0;
  case S_NEXT:
    if (c == closer) return close_frame(r);
    if (c != ',') return JFAIL(r, r->pos, "expected ',' or '%c'", closer);
    r->pos++;
    f->state = f->kind == J_ARR ? S_VALUE : S_KEY;
    return 0;
  default: return JFAIL(r, r->pos, "unexpected text after the value");
  }
}

static int jread_all(jreader *r, eve_val *out) {
  int rc = jpush(r, J_TOP, S_VALUE, EVE_V_NIL);
  while (!rc) {
    while (r->pos < r->n && text_is_space((unsigned char)r->s[r->pos])) r->pos++;
    if (r->pos < r->n) {
      rc = jstep(r);
      continue;
    }
    if (r->nfr > 1 || jtop(r)->state != S_DONE) return JFAIL(r, r->n, "unexpected end of input");
    *out = jtop(r)->coll;
    return 0;
  }
  return rc;
}

int eve_read_json(eve_txn *t, const char *text, size_t n, eve_val *out, eve_parse_error *err) {
  if (err) memset(err, 0, sizeof *err);
  if (!t || !out || (!text && n)) return EVE_EINVAL;
  int rc = txn_writable(t); /* reading may allocate */
  if (rc) return rc;
  jreader r = {.t = t, .s = text ? text : "", .n = n, .err = err};
  rc = jread_all(&r, out);
  free(r.fr);
  tbuf_free(&r.scratch);
  return rc;
}

/* ======================================================================
 * Printer
 * ==================================================================== */

static int json_scalar(eve_txn *t, tbuf *b, eve_val v, eve_type ty) {
  int rc = 0, bl;
  int64_t i;
  double f;
  uint32_t cp;
  uint8_t u[16];
  char u8[4];
  const char *s;
  const uint8_t *p;
  size_t n;
  switch (ty) {
  case EVE_NIL: tbuf_puts(b, "null"); break;
  case EVE_BOOL: if (!(rc = eve_bool_get(t, v, &bl))) tbuf_puts(b, bl ? "true" : "false"); break;
  case EVE_INT: if (!(rc = eve_int_get(t, v, &i))) text_put_int(b, i); break;
  case EVE_FLOAT:
    if (!(rc = eve_float_get(t, v, &f))) {
      if (!isfinite(f)) return EVE_ETYPE; /* JSON has no NaN or infinity */
      text_put_double(b, f);
    }
    break;
  case EVE_CHAR: if (!(rc = eve_char_get(t, v, &cp))) text_put_string(b, u8, utf8_encode(cp, u8)); break;
  case EVE_STRING:
  case EVE_KEYWORD:
  case EVE_SYMBOL: if (!(rc = eve_text_get(t, &v, &s, &n))) text_put_string(b, s, n); break;
  case EVE_UUID:
    if (!(rc = eve_uuid_get(t, v, u))) {
      tbuf_putc(b, '"');
      text_put_uuid(b, u);
      tbuf_putc(b, '"');
    }
    break;
  case EVE_INST:
    if (!(rc = eve_inst_get(t, v, &i))) {
      tbuf_putc(b, '"');
      text_put_inst(b, i, "Z");
      tbuf_putc(b, '"');
    }
    break;
  case EVE_BYTES:
    if (!(rc = eve_bytes_get(t, &v, &p, &n))) {
      tbuf_putc(b, '"');
      text_put_base64(b, p, n);
      tbuf_putc(b, '"');
    }
    break;
  default: rc = EVE_ETYPE;
  }
  return rc;
}

/* Object keys are strings: texts as themselves, anything else as its EDN. */
static int json_key(eve_txn *t, tbuf *b, eve_val k) {
  eve_type ty;
  int rc = eve_type_get(t, k, &ty);
  if (rc) return rc;
  if (ty == EVE_STRING || ty == EVE_KEYWORD || ty == EVE_SYMBOL) return json_scalar(t, b, k, ty);
  char *edn;
  size_t n;
  if ((rc = eve_print_edn(t, k, &edn, &n))) return rc;
  text_put_string(b, edn, n);
  eve_free(edn);
  return 0;
}

static const text_style json_style = {
    .scalar = json_scalar,
    .key = json_key,
    .open = {"[", "[", "[", "{"},
    .close = {"]", "]", "]", "}"},
    .sep = ",",
    .map_sep = ",",
    .kv_sep = ":",
};

int eve_print_json(eve_txn *t, eve_val v, char **out, size_t *len) {
  return text_print_alloc(t, v, &json_style, out, len);
}
