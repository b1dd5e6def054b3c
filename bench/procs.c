/* procs.c — forked workers that start together.
 *
 * Each worker sets itself up after the fork (opens its own domain, LMDB
 * environment or Redis connection: nothing is inherited), reports ready on
 * one pipe, then blocks reading a second pipe whose write end the parent
 * closes once every worker is ready: they all see EOF at the same moment.
 * Results come back as fixed-size records on a third pipe (one write each,
 * smaller than PIPE_BUF, so records never interleave). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static ssize_t read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static void child(int id, const worker_ops *ops, void *arg, int ready, int go, int res) {
  worker_result r = {.id = id};
  void *state = NULL;
  r.rc = ops->setup ? ops->setup(id, arg, &state) : 0;
  char byte = 1;
  write_all(ready, &byte, 1);
  close(ready);
  read_full(go, &byte, 1); /* EOF: everyone is ready */
  if (!r.rc) r.rc = ops->run(id, arg, state, &r);
  if (ops->teardown && state) ops->teardown(state);
  write_all(res, &r, sizeof r);
  _exit(0);
}

static void merge(group_result *g, const worker_result *r, uint64_t *t0, uint64_t *t1) {
  if (r->rc) g->failed = 1;
  g->ops += r->ops;
  g->attempts += r->attempts;
  if (!*t0 || r->t_start < *t0) *t0 = r->t_start;
  if (r->t_end > *t1) *t1 = r->t_end;
}

static int reap(pid_t *pids, int n) {
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int st = 0;
    if (pids[i] > 0 && (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
      failed = 1;
  }
  return failed;
}

group_result run_workers(int n, const worker_ops *ops, void *arg) {
  group_result g = {.nprocs = n};
  int ready[2], go[2], res[2];
  if (pipe(ready) || pipe(go) || pipe(res)) {
    g.failed = 1;
    return g;
  }
  pid_t *pids = calloc((size_t)n, sizeof *pids);
  fflush(NULL);
  for (int i = 0; i < n; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      close(ready[0]);
      close(go[1]);
      close(res[0]);
      child(i, ops, arg, ready[1], go[0], res[1]);
    }
    if (pids[i] < 0) g.failed = 1;
  }
  close(ready[1]);
  close(go[0]);
  close(res[1]);
  char byte;
  for (int i = 0; i < n; i++)
    if (read_full(ready[0], &byte, 1) != 1) g.failed = 1;
  close(go[1]); /* the barrier opens */
  uint64_t t0 = 0, t1 = 0;
  int got = 0;
  worker_result r;
  while (got < n && read_full(res[0], &r, sizeof r) == (ssize_t)sizeof r) {
    merge(&g, &r, &t0, &t1);
    got++;
  }
  if (got < n) g.failed = 1;
  close(ready[0]);
  close(res[0]);
  if (reap(pids, n)) g.failed = 1;
  free(pids);
  g.seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
  g.ops_per_s = g.seconds > 0 ? (double)g.ops / g.seconds : -1;
  g.retry_rate = g.ops ? (double)(g.attempts - g.ops) / (double)g.ops : 0;
  return g;
}
