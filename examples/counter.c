/* counter.c — a C process that increments an integer atom N times, one
 * swap per write transaction.  The smallest writer in C, and the C side of
 * the cross-language tests: the CLI, this program and the Python, Node and
 * JVM bindings swap one counter at once, and the final count must be exact.
 *
 *   eve-counter DOMAIN-FILE ATOM N
 *
 * The atom is created (nil) if absent; nil counts as 0.  Exits 0 when all N
 * increments were published, 1 with a message on stderr otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"

/* v + 1 (nil as 0); anything but an integer aborts the swap. */
static int increment(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)arg;
  eve_type type;
  int rc = eve_type_get(t, old, &type);
  if (rc) return rc;
  int64_t n = 0;
  if (type != EVE_NIL && (rc = eve_int_get(t, old, &n)) != 0) return rc;
  if (n == INT64_MAX) return EVE_ERANGE;
  return eve_int(t, n + 1, out);
}

static int increment_n(eve_domain *d, eve_atom *a, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    eve_txn *t;
    int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
    if (rc) return rc;
    rc = eve_swap(t, a, increment, NULL, NULL);
    int end = eve_txn_end(t);
    if (rc || end) return rc ? rc : end;
  }
  return 0;
}

static int parse_count(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return -1;
  *out = n;
  return 0;
}

int main(int argc, char **argv) {
  uint64_t n;
  if (argc != 4 || parse_count(argv[3], &n) != 0) {
    fprintf(stderr, "usage: eve-counter DOMAIN-FILE ATOM N\n");
    return 2;
  }
  eve_domain *d;
  int rc = eve_open(argv[1], NULL, &d);
  if (rc) {
    fprintf(stderr, "eve-counter: %s: %s\n", argv[1], eve_strerror(rc));
    return 1;
  }
  eve_atom *a;
  if ((rc = eve_atom_open(d, argv[2], EVE_ATOM_CREATE, &a)) == 0) {
    rc = increment_n(d, a, n);
    eve_atom_close(a);
  }
  int closed = eve_close(d);
  if (rc || closed) {
    fprintf(stderr, "eve-counter: %s: %s\n", argv[2], eve_strerror(rc ? rc : closed));
    return 1;
  }
  return 0;
}
