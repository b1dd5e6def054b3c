/* peers_redis.c — Redis over loopback, the coordination server eve removes.
 *
 * The bench starts its own redis-server on a free port of 127.0.0.1 (no
 * persistence: --save "" --appendonly no), talks to it with hiredis (which
 * sets TCP_NODELAY) and stops it at the end, or at exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum { LOAD_BATCH = 1000 };

struct rd_conn {
  redisContext *c;
};

static pid_t g_pid;
static int g_port;
static char g_version[64] = "not run";

int rd_available(void) { return g_pid > 0; }
const char *rd_version(void) { return g_version; }

const char *rd_client_version(void) {
  static char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
  return v;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
      !getsockname(fd, (struct sockaddr *)&a, &len))
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static pid_t spawn(const char *work_dir, int port) {
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  if (chdir(work_dir)) _exit(126);
  execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", (char *)NULL);
  _exit(127);
}

static redisReply *cmd(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  return r;
}

static void read_version(redisContext *c) {
  redisReply *r = cmd(c, "INFO server");
  const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
  if (v) sscanf(v + 14, "%63[^\r\n]", g_version);
  if (r) freeReplyObject(r);
}

/* Wait up to 10 s for PING to answer. */
static int wait_ready(void) {
  for (int i = 0; i < 1000; i++) {
    int st;
    if (waitpid(g_pid, &st, WNOHANG) == g_pid) return -1;
    redisContext *c = redisConnect("127.0.0.1", g_port);
    redisReply *r = c && !c->err ? cmd(c, "PING") : NULL;
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    if (ok) read_version(c);
    if (c) redisFree(c);
    if (ok) return 0;
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  return -1;
}

int rd_server_start(const char *work_dir) {
  for (int attempt = 0; attempt < 3; attempt++) {
    g_port = free_port();
    if (g_port <= 0) return -1;
    g_pid = spawn(work_dir, g_port);
    if (g_pid < 0) return g_pid = 0, -1;
    if (!wait_ready()) {
      atexit(rd_server_stop);
      return 0;
    }
    rd_server_stop(); /* the port was taken meanwhile, or no redis-server */
  }
  return -1;
}

void rd_server_stop(void) {
  if (g_pid <= 0) return;
  kill(g_pid, SIGTERM);
  waitpid(g_pid, NULL, 0);
  g_pid = 0;
}

int rd_connect(rd_conn **out) {
  rd_conn *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->c = redisConnect("127.0.0.1", g_port);
  if (!c->c || c->c->err) {
    if (c->c) redisFree(c->c);
    free(c);
    return -1;
  }
  *out = c;
  return 0;
}

void rd_disconnect(rd_conn *c) {
  if (!c) return;
  redisFree(c->c);
  free(c);
}

/* 0 when the reply exists and is not an error; frees it. */
static int ok(redisReply *r) {
  int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
  if (r) freeReplyObject(r);
  return rc;
}

int rd_flush(rd_conn *c) { return ok(cmd(c->c, "FLUSHALL")); }

int rd_load(rd_conn *c, const char *hash, uint64_t n) {
  enum { ARGS = 2 + 2 * LOAD_BATCH };
  static char keys[LOAD_BATCH][KEY_MAX], vals[LOAD_BATCH][VAL_LEN + 1];
  static const char *argv[ARGS];
  static size_t lens[ARGS];
  argv[0] = "HSET", lens[0] = 4;
  argv[1] = hash, lens[1] = strlen(hash);
  for (uint64_t first = 0; first < n; first += LOAD_BATCH) {
    int argc = 2;
    for (uint64_t i = first; i < n && i < first + LOAD_BATCH; i++) {
      size_t j = (size_t)(i - first);
      lens[argc] = key_text(i, keys[j]);
      argv[argc++] = keys[j];
      val_text(i, 0, vals[j]);
      lens[argc] = VAL_LEN;
      argv[argc++] = vals[j];
    }
    if (ok(redisCommandArgv(c->c, argc, argv, lens))) return -1;
  }
  return 0;
}

int rd_hset(rd_conn *c, const char *hash, uint64_t i, uint64_t gen) {
  char kb[KEY_MAX], vb[VAL_LEN + 1];
  size_t kn = key_text(i, kb);
  val_text(i, gen, vb);
  return ok(cmd(c->c, "HSET %s %b %b", hash, kb, kn, vb, (size_t)VAL_LEN));
}

static int copy_string(redisReply *r, char out[VAL_LEN + 1]) {
  int rc = r && r->type == REDIS_REPLY_STRING ? 0 : -1;
  if (!rc) {
    size_t n = r->len > VAL_LEN ? VAL_LEN : r->len;
    memcpy(out, r->str, n);
    out[n] = 0;
  }
  if (r) freeReplyObject(r);
  return rc;
}

int rd_hget(rd_conn *c, const char *hash, uint64_t i, char out[VAL_LEN + 1]) {
  char kb[KEY_MAX];
  size_t kn = key_text(i, kb);
  return copy_string(cmd(c->c, "HGET %s %b", hash, kb, kn), out);
}

/* MULTI, HSET, EXEC pipelined: 1 when EXEC ran, 0 when WATCH aborted it. */
static int exec_hset(rd_conn *c, const char *hash, const char *kb, size_t kn, const char *vb) {
  redisAppendCommand(c->c, "MULTI");
  redisAppendCommand(c->c, "HSET %s %b %b", hash, kb, kn, vb, (size_t)VAL_LEN);
  redisAppendCommand(c->c, "EXEC");
  void *r[3] = {0};
  int rc = 0;
  for (int j = 0; j < 3; j++)
    if (redisGetReply(c->c, &r[j]) != REDIS_OK) rc = -1;
  redisReply *e = r[2];
  if (!rc) rc = !e || e->type == REDIS_REPLY_ERROR ? -1 : e->type == REDIS_REPLY_ARRAY;
  for (int j = 0; j < 3; j++)
    if (r[j]) freeReplyObject(r[j]);
  return rc;
}

int rd_hset_rmw(rd_conn *c, const char *hash, uint64_t i, uint64_t gen, uint64_t *attempts) {
  char kb[KEY_MAX], vb[VAL_LEN + 1], old[VAL_LEN + 1];
  size_t kn = key_text(i, kb);
  val_text(i, gen, vb);
  for (;;) {
    if (attempts) (*attempts)++;
    if (ok(cmd(c->c, "WATCH %s", hash))) return -1;
    if (copy_string(cmd(c->c, "HGET %s %b", hash, kb, kn), old)) return -1;
    int rc = exec_hset(c, hash, kb, kn, vb);
    if (rc) return rc < 0 ? -1 : 0;
  }
}

int rd_incr(rd_conn *c, const char *key) { return ok(cmd(c->c, "INCR %s", key)); }

int rd_get_int(rd_conn *c, const char *key, int64_t *out) {
  redisReply *r = cmd(c->c, "GET %s", key);
  int rc = r && r->type == REDIS_REPLY_STRING ? 0 : -1;
  if (!rc) *out = strtoll(r->str, NULL, 10);
  if (r) freeReplyObject(r);
  return rc;
}

int rd_memory(rd_conn *c, uint64_t *used_bytes) {
  redisReply *r = cmd(c->c, "INFO memory");
  const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
  int rc = v ? 0 : -1;
  if (v) *used_bytes = strtoull(v + 12, NULL, 10);
  if (r) freeReplyObject(r);
  return rc;
}
