/* tests/install/app.c — a program built against an installed eve (see
 * run.sh): it opens an in-memory domain, swaps a map into an atom, reads it
 * back, and checks that the library it runs with is the version its header
 * names.  Exits nonzero on any mismatch. */
#include <eve.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Names the library uses internally: with only eve_* exported (libeve.so)
 * and internal symbols made local (libeve.a), a program may define its own.
 * Linking this program statically fails if they leak. */
int hash_mix(int x);
int utf8_valid(void);
int alloc_block(void);
int hash_mix(int x) { return x + 1; }
int utf8_valid(void) { return 7; }
int alloc_block(void) { return 9; }

#define CHECK(call)                                                               \
  do {                                                                            \
    int rc_ = (call);                                                             \
    if (rc_) {                                                                    \
      fprintf(stderr, "app: %s: %s (%s)\n", #call, eve_err_name(rc_), eve_strerror(rc_)); \
      return 1;                                                                   \
    }                                                                             \
  } while (0)

static int put(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  eve_val k, v;
  int rc = eve_string(t, "a key longer than seven bytes", 29, &k);
  if (!rc) rc = eve_int(t, *(const int64_t *)arg, &v);
  if (!rc) rc = eve_map_assoc(t, old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old, k, v, out);
  return rc;
}

int main(void) {
  if (strcmp(eve_version(), EVE_VERSION_STRING) != 0) {
    fprintf(stderr, "app: library %s, header %s\n", eve_version(), EVE_VERSION_STRING);
    return 1;
  }
  char want_version[32];
  snprintf(want_version, sizeof want_version, "%d.%d.%d", EVE_VERSION_MAJOR, EVE_VERSION_MINOR,
           EVE_VERSION_PATCH);
  if (strcmp(want_version, EVE_VERSION_STRING) != 0) {
    fprintf(stderr, "app: EVE_VERSION_STRING %s, numbers %s\n", EVE_VERSION_STRING, want_version);
    return 1;
  }
  if (hash_mix(1) != 2 || utf8_valid() != 7 || alloc_block() != 9) {
    fprintf(stderr, "app: the program's own functions were replaced\n");
    return 1;
  }

  eve_domain *d;
  CHECK(eve_open(NULL, NULL, &d));
  eve_atom *a;
  CHECK(eve_atom_open(d, "counter", EVE_ATOM_CREATE, &a));
  eve_txn *t;
  CHECK(eve_txn_begin(d, EVE_TXN_WRITE, &t));
  int64_t n = 4242424242424;
  eve_val now;
  CHECK(eve_swap(t, a, put, &n, &now));
  CHECK(eve_txn_end(t));

  CHECK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m, v;
  CHECK(eve_deref(t, a, &m));
  CHECK(eve_map_get_text(t, m, EVE_STRING, "a key longer than seven bytes", 29, &v));
  int64_t got;
  CHECK(eve_int_get(t, v, &got));
  char *edn;
  CHECK(eve_print_edn(t, m, &edn, NULL));
  int ok = got == n && strcmp(edn, "{\"a key longer than seven bytes\" 4242424242424}") == 0;
  if (!ok) fprintf(stderr, "app: read back %lld, %s\n", (long long)got, edn);
  eve_free(edn);
  CHECK(eve_txn_end(t));
  CHECK(eve_atom_close(a));
  CHECK(eve_close(d));
  if (!ok) return 1;
  printf("ok: eve %s\n", eve_version());
  return 0;
}
