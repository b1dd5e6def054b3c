/* test_share.c — two processes map one domain: what one builds, the other
 * reads in place (file domains opened independently, and in-memory domains
 * shared with a forked child). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static const char *const DOC =
    "{:inventory {\"apple\" 12, \"pear\" 7, \"plum\" 0},"
    " :orders [{:id 1, :items [\"apple\" \"apple\"], :total 2.5}"
    "          {:id 2, :items (\"pear\"), :tags #{:rush :gift}}],"
    " :owner #uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\","
    " :since #inst \"2024-01-02T03:04:05.678-00:00\","
    " \"a string key that is long enough to be boxed\" -9223372036854775808}";

/* Build DOC in d and publish it in the atom `name` (a value outlives its
 * transaction only in an atom); return its word. */
static eve_val build(eve_domain *d, const char *name) {
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_read_edn(t, DOC, strlen(DOC), &v, NULL));
  t_publish(d, t, name, v);
  EVE_OK(eve_txn_end(t));
  return v;
}

/* 1 if the atom `name` of d holds the word v (the same word in every
 * process) and v equals DOC read afresh.  No asserts: children call it. */
static int matches_doc(eve_domain *d, const char *name, eve_val v) {
  eve_atom *a;
  if (eve_atom_open(d, name, 0, &a) != 0) return 0;
  eve_txn *t;
  eve_val got = 0, want;
  int eq = 0;
  if (eve_txn_begin(d, EVE_TXN_WRITE, &t) == 0) {
    if (eve_deref(t, a, &got) == 0 && got == v &&
        eve_read_edn(t, DOC, strlen(DOC), &want, NULL) == 0 && eve_equal(t, v, want, &eq) != 0)
      eq = 0;
    eve_txn_end(t);
  }
  eve_atom_close(a);
  return got == v && eq;
}

static void send_word(int fd, eve_val v) { cr_assert_eq(write(fd, &v, sizeof v), (ssize_t)sizeof v); }

static eve_val recv_word(int fd) {
  eve_val v = 0;
  cr_assert_eq(read(fd, &v, sizeof v), (ssize_t)sizeof v);
  return v;
}

static void wait_ok(pid_t pid) {
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exit status %d", st);
}

Test(share, child_reads_what_parent_built_in_a_file) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "shared.eve");
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_val v = build(d, "doc");
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) { /* the child opens the file itself, as an unrelated process would */
    eve_domain *cd;
    if (eve_open(path, NULL, &cd) != 0) _exit(2);
    eve_val w;
    if (read(fds[0], &w, sizeof w) != sizeof w) _exit(3);
    _exit(matches_doc(cd, "doc", w) ? 0 : 1);
  }
  send_word(fds[1], v);
  wait_ok(pid);
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

Test(share, parent_reads_what_child_built_in_a_file) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "shared.eve");
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    eve_domain *cd;
    if (eve_open(path, NULL, &cd) != 0) _exit(2);
    eve_val w = build(cd, "doc");
    if (write(fds[1], &w, sizeof w) != sizeof w) _exit(3);
    eve_close(cd);
    _exit(0);
  }
  eve_val v = recv_word(fds[0]);
  wait_ok(pid);
  /* the child grew the file; this process sees the new bytes without remapping */
  cr_assert(matches_doc(d, "doc", v));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

Test(share, forked_child_of_an_in_memory_domain) {
  eve_domain *d = t_open_mem();
  /* warm the parent's allocator caches before forking */
  eve_val before = build(d, "before");
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) { /* inherits the memfd mapping; builds with fresh caches */
    eve_val w = build(d, "theirs");
    if (write(fds[1], &w, sizeof w) != sizeof w) _exit(3);
    _exit(matches_doc(d, "before", before) ? 0 : 1);
  }
  eve_val mine = build(d, "mine"); /* allocate concurrently with the child */
  eve_val theirs = recv_word(fds[0]);
  wait_ok(pid);
  cr_assert_neq(mine, theirs, "parent and child never get the same block");
  cr_assert(matches_doc(d, "theirs", theirs));
  cr_assert(matches_doc(d, "mine", mine));
  cr_assert(matches_doc(d, "before", before));
  EVE_OK(eve_close(d));
}

Test(share, values_survive_close_and_reopen) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "persist.eve");
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_val v = build(d, "doc");
  EVE_OK(eve_close(d));
  EVE_OK(eve_open(path, NULL, &d));
  cr_assert(matches_doc(d, "doc", v));
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}
