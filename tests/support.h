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
