/* A minimal stand-in for Criterion's API, for running Criterion test files
 * under ThreadSanitizer (Criterion's runner cannot map its arena under TSan:
 * Snaipe/Criterion#274).  Only what eve's tests use.  Each test runs in a
 * forked child; a failed assertion prints and exits the child. */
#ifndef CRSHIM_CRITERION_H
#define CRSHIM_CRITERION_H
#include <stdio.h>
#include <string.h>

struct cr_suite_opts { void (*init)(void); void (*fini)(void); };
void crshim_register(const char *suite, const char *name, void (*fn)(void));
void crshim_suite(const char *suite, void (*init)(void), void (*fini)(void));
void crshim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#define Test(suite, name, ...)                                                      \
  static void suite##_##name(void);                                                 \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {             \
    crshim_register(#suite, #name, suite##_##name);                                 \
  }                                                                                 \
  static void suite##_##name(void)
#define TestSuite(suite, ...)                                                       \
  __attribute__((constructor)) static void suite##_suite_reg(void) {                \
    struct cr_suite_opts o = {__VA_ARGS__};                                         \
    crshim_suite(#suite, o.init, o.fini);                                           \
  }

#define cr_assert(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond)) crshim_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);            \
  } while (0)
#define cr_assert_fail(...) crshim_fail(__FILE__, __LINE__, "fail", "" __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_log_error(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#endif
