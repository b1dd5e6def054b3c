/* roundtrip.h — the properties fuzz_edn.c and fuzz_json.c check on every
 * input that parses (eve.h, "Text: EDN and JSON"):
 *
 *   - the reader returns 0 or a table code, and a parse error has a
 *     1-based position;
 *   - a value read from EDN prints as EDN that reads back equal (same
 *     hash, compare 0): the documented exceptions are symbols/keywords
 *     whose text is not valid EDN, which the EDN reader never produces;
 *   - printed JSON is valid JSON (our own reader accepts it), and a value
 *     read from JSON survives print -> read unchanged (JSON-native values
 *     round-trip: an integral float must not come back as an int);
 *   - printing never fails on a value the reader built, except JSON's
 *     EVE_ETYPE for NaN and infinities.
 *
 * One in-memory domain serves every input; each input's transaction is
 * aborted, so nothing accumulates. */
#ifndef EVE_FUZZ_ROUNDTRIP_H
#define EVE_FUZZ_ROUNDTRIP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"

typedef int (*rt_reader)(eve_txn *t, const char *text, size_t n, eve_val *out,
                         eve_parse_error *err);
typedef int (*rt_printer)(eve_txn *t, eve_val v, char **out, size_t *len);

static eve_domain *g_domain;

/* 256 MiB of reservation: a huge input is EVE_EFULL, not an OOM kill. */
static EX_UNUSED void rt_init(void) {
  eve_options o;
  memset(&o, 0, sizeof o);
  o.max_size = 256u << 20;
  if (eve_open(NULL, &o, &g_domain) != 0) ex_die("cannot open an in-memory domain");
}

/* Read text with the reader; a parse error must carry a position. */
static EX_UNUSED int rt_read(eve_txn *t, rt_reader rd, const char *text, size_t n, eve_val *out) {
  eve_parse_error e;
  memset(&e, 0x55, sizeof e); /* must be set on every return */
  int rc = EX_RC(rd(t, text, n, out, &e));
  if ((rc == EVE_EPARSE || rc == EVE_EDEPTH) && (e.line < 1 || e.column < 1))
    ex_die("parse error without a position: %d:%d", e.line, e.column);
  if (rc == EVE_EPARSE && !memchr(e.message, 0, sizeof e.message))
    ex_die("parse error message is not NUL-terminated");
  if (rc == 0 && (e.line != 0 || e.column != 0)) ex_die("*err not zeroed on success");
  return rc;
}

/* a and b are equal, hash equal and compare 0. */
static EX_UNUSED void rt_same(eve_txn *t, eve_val a, eve_val b, const char *what, const char *text) {
  int eq = 0, cmp = 1;
  uint64_t ha = 0, hb = 1;
  if (EX_RC(eve_equal(t, a, b, &eq)) || !eq) ex_die("%s: not equal after the round trip: %s", what, text);
  if (EX_RC(eve_hash(t, a, &ha)) || EX_RC(eve_hash(t, b, &hb)) || ha != hb)
    ex_die("%s: equal values hash differently: %s", what, text);
  if (EX_RC(eve_compare(t, a, b, &cmp)) || cmp != 0) ex_die("%s: equal values compare %d: %s", what, cmp, text);
}

/* Print v with pr and read it back with rd: must succeed and be equal. */
static EX_UNUSED void rt_cycle(eve_txn *t, eve_val v, rt_printer pr, rt_reader rd, const char *what) {
  char *text = NULL;
  size_t len = 0;
  eve_val back;
  int rc = EX_RC(pr(t, v, &text, &len));
  if (rc == EVE_ETYPE && pr == eve_print_json) return; /* NaN or an infinity */
  if (rc) ex_die("%s: cannot print a value the reader built: %s", what, eve_err_name(rc));
  if (strlen(text) != len) ex_die("%s: printed length %zu, strlen %zu", what, len, strlen(text));
  if (memchr(text, '\n', len)) ex_die("%s: printed text is not one line: %s", what, text);
  rc = rt_read(t, rd, text, len, &back);
  if (rc) ex_die("%s: printed text does not read back (%s): %s", what, eve_err_name(rc), text);
  rt_same(t, v, back, what, text);
  eve_free(text);
}

/* The whole check for one input, read with `rd`. */
static EX_UNUSED void rt_input(const uint8_t *data, size_t size, rt_reader rd, int from_json) {
  eve_txn *t = NULL;
  eve_val v, j;
  char *json = NULL;
  if (EX_RC(eve_txn_begin(g_domain, EVE_TXN_WRITE, &t))) ex_die("cannot begin");
  /* an exact-size heap copy without a NUL: ASan sees any read past the end */
  char *copy = malloc(size ? size : 1);
  if (!copy) ex_die("out of memory");
  memcpy(copy, data, size);
  int rc = rt_read(t, rd, copy, size, &v);
  free(copy);
  if (rc == 0) {
    ex_walk w = {t, EX_WALK_BUDGET};
    if (EX_RC(ex_value(&w, v, 0))) ex_die("walking a value the reader built failed");
    rt_cycle(t, v, eve_print_edn, eve_read_edn, "edn");
    if (from_json) rt_cycle(t, v, eve_print_json, eve_read_json, "json");
    /* any value's JSON is valid JSON, and JSON-native values round-trip */
    rc = EX_RC(eve_print_json(t, v, &json, NULL));
    if (rc == 0) {
      if (rt_read(t, eve_read_json, json, strlen(json), &j))
        ex_die("printed JSON does not read back: %s", json);
      rt_cycle(t, j, eve_print_json, eve_read_json, "json of the json");
      rt_cycle(t, j, eve_print_edn, eve_read_edn, "edn of the json");
    } else if (rc != EVE_ETYPE) {
      ex_die("print_json failed: %s", eve_err_name(rc));
    }
    eve_free(json);
  }
  EX_RC(eve_txn_end(t));
}

#endif
