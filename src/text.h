/* text.h — pieces shared by the EDN and JSON readers and printers.
 *
 *  - tbuf: a growable output buffer with a sticky out-of-memory flag, so a
 *    printer can append freely and check once at the end;
 *  - UTF-8 decoding/encoding: utf8.h, included here (strict: no overlongs,
 *    no surrogates, nothing past U+10FFFF);
 *  - number formatting and parsing independent of the process locale;
 *  - string literals (both formats use the same escapes, with small
 *    differences chosen by a flag), uuid, inst and base64 text forms;
 *  - the parse-error report (line/column from a byte offset);
 *  - one iterative printer walk driven by a per-format style table.
 */
#ifndef EVE_TEXT_H
#define EVE_TEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "eve.h"
#include "utf8.h"

/* ---- output buffer ---------------------------------------------------- */
typedef struct tbuf {
  char *p;
  size_t len, cap;
  int err;          /* EVE_ENOMEM once any growth failed; appends then no-op */
} tbuf;

/* The contents so far: never NULL, even before the first append (the
 * constructors treat a NULL pointer as an error even with length 0). */
static inline const char *tbuf_data(const tbuf *b) { return b->p ? b->p : ""; }

void tbuf_put(tbuf *b, const void *s, size_t n);
void tbuf_putc(tbuf *b, char c);
void tbuf_puts(tbuf *b, const char *s);
/* Hand the NUL-terminated text to the caller (*out, *len) or free it and
 * return the buffer's error. */
int tbuf_finish(tbuf *b, char **out, size_t *len);
void tbuf_free(tbuf *b);

/* Grow an array *p of *cap elements of size elem to hold at least need.
 * Returns 0 or EVE_ENOMEM (the array is unchanged on failure). */
int text_grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---- UTF-8: utf8.h (the readers and printers decode and encode with it) - */

/* ---- numbers ------------------------------------------------------------ */
/* Append a finite double in the shortest form that reads back bit-exactly,
 * always with a '.' or an exponent ("1.0", "-0.0", "1e+21", "5e-324"). */
void text_put_double(tbuf *b, double f);
void text_put_int(tbuf *b, int64_t i);
/* Parse n decimal digits (no sign) as a magnitude, negated when neg.
 * Returns 0, or -1 when the result is outside int64. */
int text_digits_to_int64(const char *s, size_t n, int neg, int64_t *out);
/* Parse a C-syntax float of n bytes (no NUL needed) in the "C" locale.
 * Returns 0, or -1 when it overflows to infinity or is malformed. */
int text_to_double(const char *s, size_t n, double *out);

/* ---- strings ------------------------------------------------------------ */
/* Append s as a double-quoted literal valid in both EDN and JSON: escapes
 * \" \\ \n \t \r, other control characters as \u00XX; the rest as is. */
void text_put_string(tbuf *b, const char *s, size_t n);

enum { TEXT_STR_EDN = 0, TEXT_STR_JSON = 1 };
/* Read the string literal whose opening quote is at s[*pos] into out
 * (cleared first).  On success *pos is just past the closing quote.  On
 * failure returns a static message and sets *pos to the offending byte. */
const char *text_read_string(const char *s, size_t n, size_t *pos, int flavor, tbuf *out);

/* ---- uuid, inst, base64 ------------------------------------------------ */
void text_put_uuid(tbuf *b, const uint8_t u[16]);
int text_parse_uuid(const char *s, size_t n, uint8_t u[16]);  /* 0 or -1 */

/* RFC 3339 with millisecond precision, UTC, ending in `zone` ("Z" or
 * "-00:00").  Years outside 0000..9999 get a sign and more digits, which
 * text_parse_inst accepts, so every int64 reads back exactly. */
void text_put_inst(tbuf *b, int64_t ms, const char *zone);
/* Parse RFC 3339 (and the shorter forms Clojure's #inst reads: "1985",
 * "1985-04-12", ...).  Returns NULL or a static error message. */
const char *text_parse_inst(const char *s, size_t n, int64_t *ms);

void text_put_base64(tbuf *b, const uint8_t *p, size_t n);
/* Strict standard base64 with padding, decoded into out (cleared first).
 * Returns 0, -1 when malformed, or EVE_ENOMEM. */
int text_parse_base64(const char *s, size_t n, tbuf *out);

/* ---- parse errors ------------------------------------------------------- */
/* Fill err (if not NULL) with the 1-based line and byte column of byte
 * offset pos in s and the formatted message; returns code. */
int text_error(eve_parse_error *err, const char *s, size_t pos, int code,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Insignificant bytes of both formats (EDN adds ',' and comments). */
static inline int text_is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- printing walk ----------------------------------------------------- */
/* A format's printer: the walk handles collections (iteratively; more than
 * EVE_MAX_NESTING open is a cycle in a damaged file: EVE_ECORRUPT); the
 * style prints everything else. */
typedef struct text_style {
  /* Print a non-collection value of the given type. */
  int (*scalar)(eve_txn *t, tbuf *b, eve_val v, eve_type type);
  /* Print a map key; NULL prints keys like any value. */
  int (*key)(eve_txn *t, tbuf *b, eve_val k);
  /* Delimiters indexed by coll_index(): list, vector, set, map. */
  const char *open[4], *close[4];
  const char *sep;       /* between elements                              */
  const char *map_sep;   /* between map entries                           */
  const char *kv_sep;    /* between a key and its value                   */
} text_style;

int text_print(eve_txn *t, eve_val v, const text_style *st, tbuf *b);
/* The same, into a fresh malloc'd NUL-terminated buffer. */
int text_print_alloc(eve_txn *t, eve_val v, const text_style *st, char **out, size_t *len);

#endif
