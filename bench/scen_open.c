/* scen_open.c — scenario 6: the time for a new process to open an existing
 * big-map domain (10^6 keys) and read from it, with nobody else attached
 * ("open") and while another process holds it open ("join").  Each sample
 * is a freshly forked process; the page cache is warm (the files were just
 * used), so this is the cost of the library's open path, not of the disk. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measure.h"

enum { SYS_EVE, SYS_LMDB, NSYS };

typedef struct open_sample {
  int rc;
  uint64_t open_ns, read_ns, close_ns;
} open_sample;

/* In the child: open, first read, close, each timed. */
static open_sample open_once(int sys, const char *path) {
  open_sample s = {0};
  char v[VAL_LEN + 1];
  ev_store ev;
  lm_store *lm = NULL;
  uint64_t t0 = now_ns();
  s.rc = sys == SYS_EVE ? ev_open(&ev, path, "map") : lm_open(&lm, path);
  uint64_t t1 = now_ns();
  if (s.rc) return s;
  s.rc = sys == SYS_EVE ? ev_read(&ev, 42, v) : lm_read(lm, 42, v);
  uint64_t t2 = now_ns();
  if (sys == SYS_EVE) ev_close(&ev);
  else lm_close(lm);
  uint64_t t3 = now_ns();
  s.open_ns = t1 - t0, s.read_ns = t2 - t1, s.close_ns = t3 - t2;
  return s;
}

static open_sample sample_in_child(int sys, const char *path) {
  int fd[2];
  open_sample s = {.rc = -1};
  if (pipe(fd)) return s;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    s = open_once(sys, path);
    ssize_t w = write(fd[1], &s, sizeof s);
    _exit(w == (ssize_t)sizeof s ? 0 : 1);
  }
  close(fd[1]);
  if (pid > 0 && read(fd[0], &s, sizeof s) != (ssize_t)sizeof s) s.rc = -1;
  close(fd[0]);
  if (pid > 0) waitpid(pid, NULL, 0);
  return s;
}

/* A process that holds the store open until its pipe closes. */
static pid_t start_holder(int sys, const char *path, int *release) {
  int ready[2], hold[2];
  if (pipe(ready) || pipe(hold)) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]), close(hold[1]);
    ev_store ev;
    lm_store *lm = NULL;
    int rc = sys == SYS_EVE ? ev_open(&ev, path, "map") : lm_open(&lm, path);
    char b = (char)(rc == 0);
    if (write(ready[1], &b, 1) != 1 || read(hold[0], &b, 1) < 0) rc = -1;
    if (sys == SYS_EVE) ev_close(&ev);
    else lm_close(lm);
    _exit(rc ? 1 : 0);
  }
  close(ready[1]), close(hold[0]);
  char b = 0;
  if (pid < 0 || read(ready[0], &b, 1) != 1 || !b) {
    close(hold[1]);
    close(ready[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return -1;
  }
  close(ready[0]);
  *release = hold[1];
  return pid;
}

typedef struct open_result {
  summary open, read, close;
} open_result;

static summary to_summary(samples *s) { return s->n ? summarize(s) : NO_SUMMARY; }

static open_result measure(int sys, const char *path, int joined, int reps) {
  samples o, r, c;
  open_result out = {NO_SUMMARY, NO_SUMMARY, NO_SUMMARY};
  int release = -1;
  pid_t holder = joined ? start_holder(sys, path, &release) : 0;
  if (holder < 0 || samples_init(&o, (size_t)reps) || samples_init(&r, (size_t)reps) ||
      samples_init(&c, (size_t)reps))
    return out;
  for (int i = 0; i < reps; i++) {
    open_sample s = sample_in_child(sys, path);
    if (s.rc) {
      say("S6: open/read failed: %d", s.rc);
      break;
    }
    samples_add(&o, s.open_ns), samples_add(&r, s.read_ns), samples_add(&c, s.close_ns);
  }
  out.open = to_summary(&o), out.read = to_summary(&r), out.close = to_summary(&c);
  samples_free(&o), samples_free(&r), samples_free(&c);
  if (holder > 0) {
    close(release);
    waitpid(holder, NULL, 0);
  }
  return out;
}

static void row(FILE *f, const char *label, const open_result *r, double eve_open) {
  char a[32], b[32], c[32], d[32], e[32];
  fprintf(f, "| %s | %s | %s | %s | %s | %s |\n", label, fmt_us(a, r->open.p50_us),
          fmt_us(b, r->open.p99_us), fmt_us(c, r->read.p50_us), fmt_us(d, r->close.p50_us),
          eve_open < 0 ? "" : fmt_ratio(e, eve_open, r->open.p50_us));
}

void scen_open(const bench_cfg *cfg) {
  char ev_path[600], lm_dir[600], n[32];
  int reps = cfg->quick ? 5 : 30;
  if (ensure_big(cfg, ev_path, lm_dir, sizeof ev_path)) return;
  say("S6 open/join");
  open_result eo = measure(SYS_EVE, ev_path, 0, reps), ej = measure(SYS_EVE, ev_path, 1, reps);
  open_result lo = measure(SYS_LMDB, lm_dir, 0, reps), lj = measure(SYS_LMDB, lm_dir, 1, reps);
  FILE *f = report_section(6);
  snprintf(n, sizeof n, "%llu", (unsigned long long)big_n(cfg));
  fprintf(f, "## 6. Open / join an existing %s-key domain\n\n"
             "Each sample is a freshly forked process (%d per row) that opens the store "
             "(eve: `eve_open` + `eve_atom_open`; LMDB: `mdb_env_create`, `mdb_env_open`, "
             "`mdb_dbi_open` in a txn), reads one key in its own transaction, and closes. "
             "\"open\": nobody else has the store open; \"join\": another process holds it open. "
             "Warm page cache. Ratio: eve's open p50 over the row's.\n\n"
             "| | open p50 | open p99 | first read p50 | close p50 | eve open p50 / this |\n"
             "|---|---|---|---|---|---|\n",
          n, reps);
  row(f, "**eve**, open", &eo, -1);
  row(f, "**eve**, join", &ej, -1);
  row(f, "LMDB, open", &lo, eo.open.p50_us);
  row(f, "LMDB, join", &lj, ej.open.p50_us);
  fputc('\n', f);
}
