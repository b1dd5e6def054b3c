/* support.h — small helpers shared by the Criterion test programs. */
#ifndef EVE_TEST_SUPPORT_H
#define EVE_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>

#include "eve.h"

/* Assert that an eve call returned 0; prints the error name otherwise. */
#define EVE_OK(expr)                                                          \
  do {                                                                        \
    int eve_ok_rc_ = (expr);                                                  \
    cr_assert_eq(eve_ok_rc_, 0, "%s -> %s", #expr, eve_strerror(eve_ok_rc_)); \
  } while (0)

/* Assert that an eve call returned the error code want. */
#define EVE_ERR(expr, want)                                                   \
  do {                                                                        \
    int eve_err_rc_ = (expr);                                                 \
    cr_assert_eq(eve_err_rc_, (want), "%s -> %s, wanted %s", #expr,           \
                 eve_err_name(eve_err_rc_), eve_err_name(want));              \
  } while (0)

/* A fresh in-memory domain. */
eve_domain *t_open_mem(void);
/* A write transaction on d. */
eve_txn *t_wtxn(eve_domain *d);
/* Keep v (built or read in t) beyond t: publish it in the atom `name`
 * (created if absent).  A transaction ends only with eve_txn_end, which
 * frees whatever no atom holds, so this is how a test carries a value into
 * a later transaction or another process. */
void t_publish(eve_domain *d, eve_txn *t, const char *name, eve_val v);
/* The value of the atom `name` (which must exist), valid until t ends. */
eve_val t_deref(eve_domain *d, eve_txn *t, const char *name);

/* Carry vals[0..n) from t into the next write transaction: publish them as
 * one vector in the atom `name` (one commit, so none of them is retired by
 * another's publication), end t, begin the next write txn, and read them
 * back into vals from the atom.  Returns the new txn. */
eve_txn *t_carry(eve_domain *d, eve_txn *t, const char *name, eve_val *vals, size_t n);

/* eve_check on a quiet domain finds no problem and no leak. */
void t_assert_exact(eve_domain *d, const char *when);

/* A fresh temporary directory (removed with t_rmdir) and a path inside it.
 * Both return static buffers from small rings: nothing to free. */
char *t_tmpdir(void);
char *t_path(const char *dir, const char *name);
void t_rmdir(const char *dir);

/* Work scale for long randomized tests: n divided by $EVE_TEST_SCALE
 * (the sanitizer build sets it so the same tests stay within CI time). */
uint64_t t_scale(uint64_t n);

/* Deterministic PRNG (splitmix64); seed from $EVE_TEST_SEED or the given
 * default, printed on failure by the tests that use it. */
uint64_t t_seed(uint64_t dflt);
uint64_t t_rand(uint64_t *state);
static inline uint64_t t_below(uint64_t *state, uint64_t n) { return n ? t_rand(state) % n : 0; }

/* EDN text of v (for failure messages); static buffer, truncated. */
const char *t_edn(eve_txn *t, eve_val v);

#endif
