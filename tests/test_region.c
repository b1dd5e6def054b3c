/* test_region.c — creating, opening, validating and growing domain files. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "region.h"
#include "support.h"

static void write_bytes(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, p, n), (ssize_t)n);
  close(fd);
}

static void *read_all(const char *path, size_t *n) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  void *p = malloc((size_t)st.st_size + 1);
  int fd = open(path, O_RDONLY);
  cr_assert_eq(read(fd, p, (size_t)st.st_size), st.st_size);
  close(fd);
  *n = (size_t)st.st_size;
  return p;
}

/* A small real domain file with one value in it, in the atom "s". */
static char *make_domain(const char *dir, eve_val *kept) {
  char *path = t_path(dir, "real.eve");
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_txn *t = t_wtxn(d);
  eve_val s;
  EVE_OK(eve_string(t, "a string long enough to be boxed", 32, &s));
  t_publish(d, t, "s", s);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  if (kept) *kept = s;
  return path;
}

Test(region, create_then_reopen_keeps_values) {
  char *dir = t_tmpdir();
  eve_val s;
  char *path = make_domain(dir, &s);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600, "new files are 0600");
  cr_assert_lt(st.st_size, 256 * 1024, "a new domain starts at kilobytes, not megabytes");

  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v = t_deref(d, t, "s");
  cr_assert_eq(v, s, "the same word after a reopen");
  const char *p;
  size_t n;
  EVE_OK(eve_text_get(t, &v, &p, &n));
  cr_assert_eq(n, 32);
  cr_assert_eq(memcmp(p, "a string long enough to be boxed", 32), 0);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

Test(region, mode_option_is_honoured) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "m.eve");
  eve_options o = {.flags = EVE_OPEN_CREATE, .mode = 0640};
  eve_domain *d;
  EVE_OK(eve_open(path, &o, &d));
  EVE_OK(eve_close(d));
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640);
  t_rmdir(dir);
}

Test(region, open_flags) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "f.eve");
  eve_domain *d;
  eve_options ro = {.flags = EVE_OPEN_RDONLY};
  EVE_ERR(eve_open(path, &ro, &d), EVE_ENOENT);
  eve_options existing = {.flags = EVE_OPEN_EXISTING};
  EVE_ERR(eve_open(path, &existing, &d), EVE_ENOENT);
  cr_assert_neq(access(path, F_OK), 0, "nothing was created");
  eve_options excl = {.flags = EVE_OPEN_NEW};
  EVE_OK(eve_open(path, &excl, &d));
  EVE_OK(eve_close(d));
  EVE_ERR(eve_open(path, &excl, &d), EVE_EEXIST);
  EVE_OK(eve_open(path, &existing, &d)); /* now it exists */
  EVE_OK(eve_close(d));
  /* read-only open refuses write transactions */
  EVE_OK(eve_open(path, &ro, &d));
  eve_txn *t;
  EVE_ERR(eve_txn_begin(d, EVE_TXN_WRITE, &t), EVE_ETXN);
  EVE_OK(eve_close(d));
  EVE_ERR(eve_open(NULL, NULL, NULL), EVE_EINVAL);
  EVE_ERR(eve_open(dir, NULL, &d), EVE_ENOTDOMAIN);
  /* the default mode opens what exists and creates what does not */
  eve_options dflt = {.flags = EVE_OPEN_CREATE};
  EVE_OK(eve_open(path, &dflt, &d));
  EVE_OK(eve_close(d));
  char *other = t_path(dir, "g.eve");
  EVE_OK(eve_open(other, &dflt, &d));
  EVE_OK(eve_close(d));
  cr_assert_eq(access(other, F_OK), 0, "created");
  /* read-only with EXISTING is the same as read-only alone */
  eve_options ro_existing = {.flags = EVE_OPEN_EXISTING | EVE_OPEN_RDONLY};
  EVE_OK(eve_open(path, &ro_existing, &d));
  EVE_OK(eve_close(d));
  /* what is refused, before anything is created or opened */
  char *none = t_path(dir, "none.eve");
  eve_options bad[] = {
      {.flags = EVE_OPEN_NEW | EVE_OPEN_RDONLY}, /* read-only never creates   */
      {.flags = EVE_OPEN_MODE_MASK},             /* no mode 3                 */
      {.flags = 1u << 5},                        /* an unknown bit            */
      {.reserved = {0, 0, 1, 0}},                /* reserved words not zero   */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    d = NULL;
    EVE_ERR(eve_open(none, &bad[i], &d), EVE_EINVAL);
    cr_assert_null(d);
    cr_assert_neq(access(none, F_OK), 0, "case %zu created nothing", i);
  }
  EVE_ERR(eve_open(NULL, &ro, &d), EVE_EINVAL); /* no read-only memory domain */
  t_rmdir(dir);
}

static void expect_refused(const char *path, const void *bytes, size_t n, int want) {
  write_bytes(path, bytes, n);
  eve_domain *d = NULL;
  EVE_ERR(eve_open(path, NULL, &d), want);
  cr_assert_null(d);
  size_t m;
  void *after = read_all(path, &m);
  cr_assert_eq(m, n, "a refused file is left unchanged");
  cr_assert(n == 0 || memcmp(after, bytes, n) == 0, "a refused file is left unchanged");
  free(after);
}

Test(region, refuses_files_that_are_not_domains) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "bad.eve");
  expect_refused(path, "", 0, EVE_ENOTDOMAIN);
  expect_refused(path, "hello, world\n", 13, EVE_ENOTDOMAIN);
  uint8_t noise[8192];
  uint64_t rng = t_seed(42);
  for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)t_rand(&rng);
  expect_refused(path, noise, sizeof noise, EVE_ENOTDOMAIN);
  /* SQLite's magic, as a foreign format */
  char sqlite[4096] = "SQLite format 3";
  expect_refused(path, sqlite, sizeof sqlite, EVE_ENOTDOMAIN);
  t_rmdir(dir);
}

Test(region, refuses_truncated_damaged_and_future_files) {
  char *dir = t_tmpdir();
  char *real = make_domain(dir, NULL);
  size_t n;
  uint8_t *img = read_all(real, &n);
  char *path = t_path(dir, "copy.eve");

  expect_refused(path, img, 100, EVE_ETRUNC);        /* header cut short */
  expect_refused(path, img, 4096, EVE_ETRUNC);       /* header only */
  expect_refused(path, img, n / 2, EVE_ETRUNC);      /* heap cut short */

  eve_file_header *h = (eve_file_header *)img;
  h->format_version = 99; /* a file from a future version */
  expect_refused(path, img, n, EVE_EVERSION);
  h->format_version = EVE_FORMAT_VERSION;

  img[offsetof(eve_file_header, max_size)] ^= 0x10; /* checksum mismatch */
  expect_refused(path, img, n, EVE_EBADHDR);
  img[offsetof(eve_file_header, max_size)] ^= 0x10;

  /* bump past size (mutable fields are outside the checksum) */
  uint64_t saved = atomic_load(&h->bump);
  atomic_store(&h->bump, atomic_load(&h->size) + 4096);
  expect_refused(path, img, n, EVE_EBADHDR);
  atomic_store(&h->bump, saved);

  write_bytes(path, img, n); /* the intact copy opens */
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  EVE_OK(eve_close(d));
  free(img);
  t_rmdir(dir);
}

/* Every prefix length and many single-byte corruptions of the header are
 * refused or opened, never a crash. */
Test(region, header_corruption_never_crashes) {
  char *dir = t_tmpdir();
  char *real = make_domain(dir, NULL);
  size_t n;
  uint8_t *img = read_all(real, &n);
  char *path = t_path(dir, "c.eve");
  uint64_t rng = t_seed(7);
  for (int i = 0; i < 300; i++) {
    uint8_t *copy = malloc(n);
    memcpy(copy, img, n);
    size_t at = t_below(&rng, 4096);
    copy[at] ^= (uint8_t)(1 + t_below(&rng, 255));
    write_bytes(path, copy, n);
    eve_domain *d = NULL;
    int rc = eve_open(path, NULL, &d);
    if (rc == 0) EVE_OK(eve_close(d));
    else cr_assert_lt(rc, 0);
    free(copy);
  }
  free(img);
  t_rmdir(dir);
}

Test(region, grows_in_place_and_values_survive) {
  eve_domain *d = t_open_mem();
  eve_domain_info before, after;
  EVE_OK(eve_domain_info_get(d, &before));
  eve_txn *t = t_wtxn(d);
  eve_val first;
  char big[4000];
  memset(big, 'x', sizeof big);
  EVE_OK(eve_string(t, big, sizeof big, &first));
  const char *p0;
  size_t n0;
  EVE_OK(eve_text_get(t, &first, &p0, &n0));
  for (int i = 0; i < 2000; i++) {
    eve_val s;
    big[0] = (char)('a' + i % 26);
    EVE_OK(eve_string(t, big, sizeof big, &s));
  }
  EVE_OK(eve_domain_info_get(d, &after));
  cr_assert_gt(after.file_bytes, before.file_bytes + 2000 * 4000);
  const char *p1;
  size_t n1;
  EVE_OK(eve_text_get(t, &first, &p1, &n1));
  cr_assert_eq(p0, p1, "growth never remaps");
  cr_assert_eq(p1[0], 'x');
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

Test(region, full_reservation_is_a_clean_error) {
  eve_options o = {.max_size = 1 << 20};
  eve_domain *d;
  EVE_OK(eve_open(NULL, &o, &d));
  eve_txn *t = t_wtxn(d);
  char big[60000];
  memset(big, 'y', sizeof big);
  int rc = 0;
  int made = 0;
  while (made < 100) {
    eve_val s;
    if ((rc = eve_string(t, big, sizeof big, &s)) != 0) break;
    made++;
  }
  cr_assert_eq(rc, EVE_EFULL, "got %s", eve_err_name(rc));
  cr_assert_gt(made, 5);
  EVE_ERR(eve_txn_error(t), EVE_EFULL);
  EVE_OK(eve_txn_end(t));
  /* space freed by the abort is usable again */
  t = t_wtxn(d);
  eve_val s;
  EVE_OK(eve_string(t, big, sizeof big, &s));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
}

/* Several processes racing to create the same file all end up in one
 * domain, and each sees a valid header. */
Test(region, creation_race) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "race.eve");
  enum { N = 6 };
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      eve_domain *d;
      int rc = eve_open(path, NULL, &d);
      if (rc == 0) eve_close(d);
      _exit(rc == 0 ? 0 : 1);
    }
  }
  for (int i = 0; i < N; i++) {
    int st;
    waitpid(pids[i], &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "opener %d failed", i);
  }
  t_rmdir(dir);
}

Test(region, errors_have_names_and_messages) {
  cr_assert_str_eq(eve_err_name(EVE_ENOSPC), "EVE_ENOSPC");
  cr_assert(strncmp(eve_strerror(EVE_ENOSPC), "EVE_ENOSPC: ", 12) == 0);
  cr_assert_str_eq(eve_err_name(12345), "EVE_UNKNOWN");
  cr_assert_str_eq(eve_err_name(0), "EVE_OK");
  cr_assert_eq(EVE_END, EVE_END);
}
