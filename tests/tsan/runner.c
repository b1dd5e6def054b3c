/* runner.c — a minimal runner for Criterion test files under
 * ThreadSanitizer (Criterion's own runner cannot start under TSan:
 * Snaipe/Criterion#274).  Every registered test runs in a forked child, in
 * name order; the last line is "N passed, M failed".  See criterion.h
 * beside this file for the subset of the API it provides. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct t { const char *suite, *name; void (*fn)(void); } t;
static t tests[512];
static int ntests;
static struct { const char *name; void (*init)(void), (*fini)(void); } suites[16];
static int nsuites;

void crshim_register(const char *suite, const char *name, void (*fn)(void)) {
  tests[ntests++] = (t){suite, name, fn};
}
void crshim_suite(const char *suite, void (*init)(void), void (*fini)(void)) {
  suites[nsuites].name = suite; suites[nsuites].init = init; suites[nsuites].fini = fini; nsuites++;
}
void crshim_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
  fprintf(stderr, "  %s:%d: assertion failed: %s\n  ", file, line, expr);
  va_list ap; va_start(ap, fmt); vfprintf(stderr, fmt, ap); va_end(ap);
  fputc('\n', stderr);
  exit(1);
}
static int by_name(const void *a, const void *b) { return strcmp(((const t *)a)->name, ((const t *)b)->name); }

int main(int argc, char **argv) {
  qsort(tests, ntests, sizeof *tests, by_name);
  int failed = 0, ran = 0;
  for (int i = 0; i < ntests; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    void (*init)(void) = NULL, (*fini)(void) = NULL;
    for (int s = 0; s < nsuites; s++)
      if (!strcmp(suites[s].name, tests[i].suite)) { init = suites[s].init; fini = suites[s].fini; }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      if (init) init();
      tests[i].fn();
      if (fini) fini();
      exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    ran++;
    failed += !ok;
    printf("[%s] %s::%s%s\n", ok ? "PASS" : "FAIL", tests[i].suite, tests[i].name,
           WIFSIGNALED(st) ? " (signal)" : "");
  }
  printf("%d passed, %d failed\n", ran - failed, failed);
  return failed != 0;
}
