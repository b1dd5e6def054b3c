/* eve.c — the `eve` command-line tool: one table of commands, each a small
 * function that opens the domain, calls the library and prints.
 *
 * Exit codes: 0 success, 2 usage or unparsable input, 1 anything else; on
 * failure exactly one line on stderr starting "eve: " (cli.h explains how
 * the functions pass codes up instead of exiting, so that transactions are
 * always ended and domains closed). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- errors and printing --------------------------------------------------- */

int cli_fail(int code, const char *fmt, ...) {
  va_list ap;
  fflush(stdout); /* keep stdout lines before the error when both are a tty */
  fputs("eve: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}

int cli_fail_rc(int rc, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("eve: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, ": %s\n", eve_strerror(rc));
  return CLI_FAIL;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if it is not one:
 * the same rule as the library's decoder (no overlongs, no surrogates,
 * nothing past U+10FFFF), which the CLI cannot link (it is internal).  The
 * lead byte fixes the range of the second byte (RFC 3629, section 4). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2
             : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (c == 0xE0) lo = 0xA0;      /* shorter forms are overlong */
  else if (c == 0xED) hi = 0x9F; /* U+D800..DFFF are surrogates */
  else if (c == 0xF0) lo = 0x90;
  else if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
  if (len == 0 || len > n) return 0;
  if (len > 1 && (s[1] < lo || s[1] > hi)) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

/* User text (a value, an atom name) for a one-line message: quoted, cut
 * short, control characters as spaces and bytes that are not UTF-8 as '?'
 * (so that the message stays one line of text). */
static const char *quoted(const char *text, size_t n, char *buf, size_t bufsz) {
  const unsigned char *u = (const unsigned char *)text;
  size_t max = bufsz - 6, j = 0, i = 0;
  buf[j++] = '\'';
  while (i < n && j < max) {
    size_t len = utf8_len(u + i, n - i);
    if (len == 0) {
      buf[j++] = '?';
      i++;
    } else if (j + len > max) {
      break; /* no room for the whole character */
    } else if (len == 1) {
      buf[j++] = (u[i] < 0x20 || u[i] == 0x7f) ? ' ' : (char)u[i];
      i++;
    } else {
      memcpy(buf + j, u + i, len);
      j += len;
      i += len;
    }
  }
  if (i < n) buf[j++] = '.', buf[j++] = '.', buf[j++] = '.';
  buf[j++] = '\'';
  buf[j] = 0;
  return buf;
}

int cli_read_edn(eve_txn *t, const char *text, size_t n, const char *what, eve_val *out) {
  eve_parse_error perr;
  memset(&perr, 0, sizeof perr);
  int rc = eve_read_edn(t, text, n, out, &perr);
  if (!rc) return 0;
  char buf[80];
  if (!what) what = quoted(text, n, buf, sizeof buf);
  if (rc == EVE_EPARSE)
    return cli_fail(CLI_USAGE, "cannot parse %s: %s at line %d column %d", what, perr.message,
                    perr.line, perr.column);
  if (rc == EVE_EDEPTH || rc == EVE_EINVAL) /* too deep, bad UTF-8: still bad input */
    return cli_fail(CLI_USAGE, "cannot parse %s: %s", what, eve_strerror(rc));
  return cli_fail_rc(rc, "cannot read %s", what);
}

/* Render v as one line of EDN or JSON into a malloc'd string (eve_free). */
static int render(eve_txn *t, eve_val v, int json, char **text) {
  int rc = json ? eve_print_json(t, v, text, NULL) : eve_print_edn(t, v, text, NULL);
  if (rc == EVE_ETYPE && json)
    return cli_fail(CLI_FAIL, "cannot print as JSON: the value holds NaN or an infinity, "
                              "which JSON cannot represent (print it as EDN)");
  if (rc) return cli_fail_rc(rc, "cannot print the value");
  return 0;
}

int cli_print(eve_txn *t, eve_val v, int json) {
  char *text;
  int rc = render(t, v, json, &text);
  if (rc) return rc;
  fputs(text, stdout);
  fputc('\n', stdout);
  eve_free(text);
  return 0;
}

/* ---- opening --------------------------------------------------------------- */

int cli_open(const char *path, enum cli_open how, eve_domain **out, int *read_only) {
  eve_options o;
  memset(&o, 0, sizeof o);
  /* Readers open read-write too: only then do their transactions pin the
   * epoch, so that what they read cannot be freed under them by a
   * concurrent writer. */
  o.flags = how == OPEN_CREATE ? EVE_OPEN_CREATE : EVE_OPEN_EXISTING;
  int rc = eve_open(path, &o, out);
  if (rc == EVE_EACCESS && how == OPEN_READ) {
    /* No write permission: read unpinned, which is safe when nobody can
     * write the file (the usual reason for its mode). */
    o.flags = EVE_OPEN_EXISTING | EVE_OPEN_RDONLY;
    rc = eve_open(path, &o, out);
  }
  if (read_only) *read_only = !rc && (o.flags & EVE_OPEN_RDONLY);
  if (rc == EVE_ENOENT && how != OPEN_CREATE)
    return cli_fail(CLI_FAIL, "%s: no such domain (eve init creates one)", path);
  if (rc) return cli_fail_rc(rc, "%s", path);
  return 0;
}

/* Everything a command may hold open; end_session releases what is set. */
typedef struct session {
  eve_domain *d;
  eve_txn *t;
  eve_atom *a;
  int read_only; /* opened EVE_OPEN_RDONLY (no write permission) */
} session;

/* --sync: the command's change is made durable before it exits (eve_sync). */
static int g_sync_at_end;

static int end_session(session *s, int code) {
  if (s->t) eve_txn_end(s->t);
  s->t = NULL;
  int rc;
  if (code == 0 && g_sync_at_end && s->d && (rc = eve_sync(s->d)) != 0)
    code = cli_fail_rc(rc, "sync");
  if (s->a) eve_atom_close(s->a);
  if (s->d) eve_close(s->d);
  memset(s, 0, sizeof *s);
  return code;
}

static int check_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 4096)
    return cli_fail(CLI_USAGE, "an atom name has 1 to 4096 bytes (got %zu)", n);
  return 0;
}

/* Report a failed eve_atom_open.  "no such atom: NAME" prints the name as
 * given (scripts match it); the other messages quote it safely. */
static int atom_err(int rc, const char *name) {
  char buf[80];
  if (rc == EVE_ENOTFOUND) return cli_fail(CLI_FAIL, "no such atom: %s", name);
  quoted(name, strlen(name), buf, sizeof buf);
  if (rc == EVE_EINVAL) return cli_fail(CLI_USAGE, "invalid atom name (not UTF-8?): %s", buf);
  return cli_fail_rc(rc, "atom %s", buf);
}

static int open_atom(eve_domain *d, const char *name, unsigned flags, eve_atom **out) {
  int rc = eve_atom_open(d, name, flags, out);
  if (rc) *out = NULL;
  if (rc) return atom_err(rc, name);
  return 0;
}

/* A transaction for a command that only reads but builds scratch values
 * (a parsed key path): a write transaction whose
 * values are never published and are freed by the abort.  Read-only domains
 * get a read transaction, in which building values fails with EVE_ETXN. */
static int begin(session *s, unsigned flags);
static int begin_scratch(session *s) {
  return begin(s, s->read_only ? EVE_TXN_READ : EVE_TXN_WRITE);
}

static int begin(session *s, unsigned flags) {
  int rc = eve_txn_begin(s->d, flags, &s->t);
  if (rc) {
    s->t = NULL;
    return cli_fail_rc(rc, "cannot begin a transaction");
  }
  return 0;
}

/* ---- arguments ------------------------------------------------------------- */

enum { OPT_JSON = 1, OPT_COUNT = 2, OPT_SYNC = 4 };

typedef struct cli_args {
  char **pos;   /* positional arguments (DB first, for most commands) */
  int npos;
  int json;
  long count;   /* --count; -1 when not given */
  char **raw;   /* everything after the command name (for demo) */
  int nraw;
} cli_args;

typedef struct command {
  const char *name;
  int min, max;     /* positional arguments; max -1: any number */
  unsigned opts;    /* OPT_* accepted */
  int (*run)(const cli_args *);
  const char *usage;
  const char *help;
} command;

static const command *find_command(const char *name);
static void print_usage(FILE *f);
static void print_command_help(FILE *f, const command *c);

static int parse_count(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1)
    return cli_fail(CLI_USAGE, "--count takes a positive integer, got '%s'", s);
  *out = v;
  return 0;
}

/* Split args into options and positionals.  "--" ends options; anything
 * not starting with "--" (such as -7 or -1.5) is a positional value. */
static int parse_args(const command *c, int argc, char **argv, cli_args *a) {
  a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
  if (!a->pos) return cli_fail(CLI_FAIL, "out of memory");
  a->count = -1;
  int opts_done = 0;
  for (int i = 0; i < argc; i++) {
    char *s = argv[i];
    if (opts_done || strncmp(s, "--", 2) != 0) {
      a->pos[a->npos++] = s;
      continue;
    }
    if (strcmp(s, "--") == 0) {
      opts_done = 1;
      continue;
    }
    const char *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : strlen(s);
    if (len == 6 && !strncmp(s, "--json", 6) && !eq && (c->opts & OPT_JSON)) {
      a->json = 1;
    } else if (len == 7 && !strncmp(s, "--count", 7) && (c->opts & OPT_COUNT)) {
      const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) return cli_fail(CLI_USAGE, "--count needs a value: usage: eve %s", c->usage);
      int rc = parse_count(v, &a->count);
      if (rc) return rc;
    } else if (len == 6 && !strncmp(s, "--sync", 6) && !eq && (c->opts & OPT_SYNC)) {
      g_sync_at_end = 1;
    } else if (len == 6 && !strncmp(s, "--help", 6)) {
      print_command_help(stdout, c);
      return -1; /* handled: exit 0 */
    } else {
      return cli_fail(CLI_USAGE, "unknown option %s for %s: usage: eve %s", s, c->name, c->usage);
    }
  }
  if (a->npos < c->min || (c->max >= 0 && a->npos > c->max))
    return cli_fail(CLI_USAGE, "wrong number of arguments: usage: eve %s", c->usage);
  return 0;
}

/* ---- commands -------------------------------------------------------------- */

static int cmd_init(const cli_args *a) {
  session s = {0};
  int rc = cli_open(a->pos[0], OPEN_CREATE, &s.d, NULL);
  return end_session(&s, rc);
}

/* The atoms' names sorted by bytes: string values valid until s->t ends,
 * in an array from malloc.  Asks for the count, then for the names, again
 * if atoms were created in between. */
static int list_names(session *s, eve_val **out, size_t *n) {
  eve_val *names = NULL;
  size_t cap = 0;
  for (;;) {
    int rc = eve_atom_names(s->t, names, cap, n);
    if (rc || *n <= cap) {
      if (rc) free(names);
      else *out = names;
      return rc;
    }
    free(names);
    cap = *n + 16;
    if (!(names = malloc(cap * sizeof *names))) return EVE_ENOMEM;
  }
}

static int cmd_ls(const cli_args *a) {
  session s = {0};
  eve_val *names = NULL;
  size_t count = 0;
  int rc = cli_open(a->pos[0], OPEN_READ, &s.d, &s.read_only);
  if (!rc) rc = begin(&s, EVE_TXN_READ);
  if (rc) return end_session(&s, rc);
  if ((rc = list_names(&s, &names, &count)))
    return end_session(&s, cli_fail_rc(rc, "cannot list atoms"));
  for (size_t i = 0; i < count && !rc; i++) {
    const char *p;
    size_t n;
    if ((rc = eve_text_get(s.t, &names[i], &p, &n))) break;
    fwrite(p, 1, n, stdout);
    fputc('\n', stdout);
  }
  free(names);
  if (rc) return end_session(&s, cli_fail_rc(rc, "cannot list atoms"));
  return end_session(&s, 0);
}

/* Open DB and ATOM (must exist) and begin a transaction (a scratch one
 * when the command builds values). */
static int open_for_read(session *s, const char *db, const char *name, int scratch) {
  int rc = check_name(name);
  if (!rc) rc = cli_open(db, OPEN_READ, &s->d, &s->read_only);
  if (!rc) rc = open_atom(s->d, name, 0, &s->a);
  if (!rc) rc = scratch ? begin_scratch(s) : begin(s, EVE_TXN_READ);
  return rc;
}

static int cmd_get(const cli_args *a) {
  session s = {0};
  eve_val v;
  int rc = open_for_read(&s, a->pos[0], a->pos[1], 0);
  if (rc) return end_session(&s, rc);
  if ((rc = eve_deref(s.t, s.a, &v))) return end_session(&s, cli_fail_rc(rc, "get %s", a->pos[1]));
  return end_session(&s, cli_print(s.t, v, a->json));
}

/* The key path is parsed into the domain, hence the scratch transaction. */
static int cmd_get_in(const cli_args *a) {
  session s = {0};
  eve_val v, ks;
  int rc = open_for_read(&s, a->pos[0], a->pos[1], 1);
  if (!rc) rc = cli_read_edn(s.t, a->pos[2], strlen(a->pos[2]), NULL, &ks);
  if (rc) return end_session(&s, rc);
  if ((rc = eve_deref(s.t, s.a, &v))) return end_session(&s, cli_fail_rc(rc, "get-in %s", a->pos[1]));
  rc = ops_get_in(s.t, v, ks, &v);
  if (rc == EVE_ETYPE) return end_session(&s, cli_fail(CLI_USAGE, "get-in: KS must be a vector of keys"));
  if (rc) return end_session(&s, cli_fail_rc(rc, "get-in %s", a->pos[1]));
  return end_session(&s, cli_print(s.t, v, a->json));
}

static int cmd_set(const cli_args *a) {
  session s = {0};
  eve_val v;
  const char *name = a->pos[1], *text = a->pos[2];
  int rc = check_name(name);
  if (!rc) rc = cli_open(a->pos[0], OPEN_CREATE, &s.d, NULL);
  if (!rc) rc = begin(&s, EVE_TXN_WRITE);
  if (!rc) rc = cli_read_edn(s.t, text, strlen(text), NULL, &v);
  if (!rc) rc = open_atom(s.d, name, EVE_ATOM_CREATE, &s.a);
  if (!rc && (rc = eve_reset(s.t, s.a, v))) rc = cli_fail_rc(rc, "set %s", name);
  return end_session(&s, rc);
}

/* The swap function: apply the parsed op, keeping its failure message for
 * the caller (the only state it writes besides the values it builds). */
typedef struct swap_ctx {
  const op_call *call;
  char msg[512];
} swap_ctx;

static int swap_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  swap_ctx *c = arg;
  return ops_apply(t, c->call, old, out, c->msg, sizeof c->msg);
}

static int cmd_swap(const cli_args *a) {
  session s = {0};
  op_call *call = NULL;
  swap_ctx ctx;
  eve_val v;
  const char *name = a->pos[1];
  memset(&ctx, 0, sizeof ctx);
  /* names and arities first: a typo must not create the domain */
  int rc = check_name(name);
  if (!rc) rc = ops_check(a->npos - 2, a->pos + 2);
  if (!rc) rc = cli_open(a->pos[0], OPEN_CREATE, &s.d, NULL);
  if (!rc) rc = begin(&s, EVE_TXN_WRITE);
  if (!rc) rc = ops_parse(s.t, a->npos - 2, a->pos + 2, &call);
  if (rc) return end_session(&s, rc);
  ctx.call = call;
  rc = eve_atom_open(s.d, name, 0, &s.a);
  if (rc == EVE_ENOTFOUND) {
    /* A missing atom starts as nil; try the op on nil first so that a
     * failing swap does not leave a new atom behind. */
    if ((rc = swap_fn(s.t, EVE_V_NIL, &ctx, &v)) != 0) goto failed;
    rc = eve_atom_open(s.d, name, EVE_ATOM_CREATE, &s.a);
  }
  if (rc) {
    s.a = NULL;
    ops_free(call);
    return end_session(&s, atom_err(rc, name));
  }
  if ((rc = eve_swap(s.t, s.a, swap_fn, &ctx, &v)) != 0) goto failed;
  rc = cli_print(s.t, v, 0);
  ops_free(call);
  return end_session(&s, rc);
failed:
  ops_free(call);
  if (ctx.msg[0]) return end_session(&s, cli_fail(CLI_FAIL, "%s", ctx.msg));
  return end_session(&s, cli_fail_rc(rc, "swap %s", name));
}

static int cmd_rm(const cli_args *a) {
  session s = {0};
  const char *name = a->pos[1];
  int rc = check_name(name);
  if (!rc) rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (rc) return end_session(&s, rc);
  rc = eve_atom_remove(s.d, name);
  if (rc == EVE_ENOTFOUND) rc = cli_fail(CLI_FAIL, "no such atom: %s", name);
  else if (rc) rc = cli_fail_rc(rc, "rm %s", name);
  return end_session(&s, rc);
}

/* The atom's current value as text, read in a short read transaction (a
 * watcher must not pin the domain while it sleeps). */
static int current_text(session *s, int json, char **text) {
  eve_val v;
  int rc = begin(s, EVE_TXN_READ);
  if (rc) return rc;
  if ((rc = eve_deref(s->t, s->a, &v))) rc = cli_fail_rc(rc, "watch");
  else rc = render(s->t, v, json, text);
  eve_txn_end(s->t);
  s->t = NULL;
  return rc;
}

/* Print now, then after each change.  The version is read before the value:
 * a change that lands in between is printed now and its wake-up finds the
 * same text again, which is skipped, so no change is missed or repeated. */
static int cmd_watch(const cli_args *a) {
  session s = {0};
  const char *name = a->pos[1];
  char *last = NULL, *text;
  uint64_t seen = 0;
  long printed = 0;
  int rc = check_name(name);
  /* read-write: eve_wait announces itself in the atom's cell (a waiter
   * count), which an EVE_OPEN_RDONLY mapping cannot take (it faults) */
  if (!rc) rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (!rc) rc = open_atom(s.d, name, 0, &s.a);
  if (!rc && (rc = eve_atom_version_get(s.a, &seen))) rc = cli_fail_rc(rc, "watch %s", name);
  while (!rc) {
    if ((rc = current_text(&s, a->json, &text))) break;
    if (!last || strcmp(text, last) != 0) {
      puts(text);
      if (fflush(stdout) != 0) rc = cli_fail(CLI_FAIL, "write error: %s", strerror(errno));
      printed++;
    }
    eve_free(last);
    last = text;
    if (rc || (a->count > 0 && printed >= a->count)) break;
    rc = eve_wait(s.a, seen, -1, &seen);
    if (rc == EVE_EREMOVED) rc = cli_fail(CLI_FAIL, "atom removed: %s", name);
    else if (rc) rc = cli_fail_rc(rc, "watch %s", name);
  }
  eve_free(last);
  return end_session(&s, rc);
}

static int cmd_stats(const cli_args *a) {
  session s = {0};
  eve_stats st;
  int rc = cli_open(a->pos[0], OPEN_READ, &s.d, &s.read_only);
  if (rc) return end_session(&s, rc);
  if ((rc = eve_stats_get(s.d, &st))) return end_session(&s, cli_fail_rc(rc, "stats"));
  const struct { const char *k; uint64_t v; int is_signed; } f[] = {
    {"file-bytes", st.file_bytes, 0},       {"disk-bytes", st.disk_bytes, 0},
    {"live-bytes", st.live_bytes, 0},       {"free-bytes", st.free_bytes, 0},
    {"punched-bytes", st.punched_bytes, 0}, {"retired-bytes", st.retired_bytes, 0},
    {"atoms", st.atoms, 0},                 {"readers", st.readers, 0},
    {"oldest-pin-ms", st.oldest_pin_ms, 0},
    {"oldest-pin-pid", (uint64_t)st.oldest_pin_pid, 1}, /* a pid and a tid are signed */
    {"oldest-pin-tid", (uint64_t)st.oldest_pin_tid, 1},
  };
  fputc('{', stdout);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    const char *sep = i ? (a->json ? "," : ", ") : "";
    if (f[i].is_signed)
      printf(a->json ? "%s\"%s\":%" PRId64 : "%s:%s %" PRId64, sep, f[i].k, (int64_t)f[i].v);
    else
      printf(a->json ? "%s\"%s\":%" PRIu64 : "%s:%s %" PRIu64, sep, f[i].k, f[i].v);
  }
  puts("}");
  return end_session(&s, 0);
}

/* Findings that are leaks (they start "leak: ") are printed as they are;
 * problems are counted too. */
static void print_problem(void *ctx, const char *msg) {
  uint64_t *n = ctx;
  if (strncmp(msg, "leak: ", 6) == 0) {
    printf("%s\n", msg);
    return;
  }
  (*n)++;
  printf("problem: %s\n", msg);
}

static int cmd_check(const cli_args *a) {
  session s = {0};
  eve_check_report r;
  uint64_t printed = 0;
  memset(&r, 0, sizeof r);
  /* Not OPEN_READ: eve_check on an EVE_OPEN_RDONLY domain writes the header's
   * epoch (SIGSEGV on the read-only mapping). */
  int rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (rc) return end_session(&s, rc);
  rc = eve_check(s.d, &r, print_problem, &printed);
  if (rc && rc != EVE_ECORRUPT) return end_session(&s, cli_fail_rc(rc, "check"));
  printf("{:ok %s, :blocks %" PRIu64 ", :reachable-bytes %" PRIu64 ", :allocated-bytes %" PRIu64
         ", :leaked-bytes %" PRIu64 ", :shared-blocks %" PRIu64 ", :excess-owners %" PRIu64
         ", :counts-verified %s, :problems %" PRIu64 "}\n",
         rc ? "false" : "true", r.blocks, r.reachable_bytes, r.allocated_bytes, r.leaked_bytes,
         r.shared_blocks, r.excess_owners, r.settled ? "true" : "false", r.problems);
  if (rc || r.problems)
    return end_session(&s, cli_fail(CLI_FAIL, "check: %s: %" PRIu64 " problem(s) found",
                                    a->pos[0], r.problems > printed ? r.problems : printed));
  return end_session(&s, 0);
}

static int cmd_gc(const cli_args *a) {
  session s = {0};
  eve_gc_report r;
  memset(&r, 0, sizeof r);
  int rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (rc) return end_session(&s, rc);
  rc = eve_gc(s.d, &r);
  if (rc == EVE_EBUSY)
    return end_session(&s, cli_fail(CLI_FAIL, "gc: %s is open in another process (gc needs "
                                              "exclusive access): %s", a->pos[0], eve_strerror(rc)));
  if (rc) return end_session(&s, cli_fail_rc(rc, "gc"));
  printf("{:reclaimed-bytes %" PRIu64 ", :live-bytes %" PRIu64 "}\n", r.reclaimed_bytes,
         r.live_bytes);
  return end_session(&s, 0);
}

/* A checkpoint: what the domain holds now survives a power cut. */
static int cmd_sync(const cli_args *a) {
  session s = {0};
  int rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (rc) return end_session(&s, rc);
  if ((rc = eve_sync(s.d)) != 0) return end_session(&s, cli_fail_rc(rc, "sync"));
  return end_session(&s, 0);
}

/* Online, beside other processes: unlike gc it needs no exclusive access. */
static int cmd_trim(const cli_args *a) {
  session s = {0};
  uint64_t back = 0;
  int rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (rc) return end_session(&s, rc);
  if ((rc = eve_trim(s.d, &back)) != 0) return end_session(&s, cli_fail_rc(rc, "trim"));
  eve_stats st;
  if ((rc = eve_stats_get(s.d, &st)) != 0) return end_session(&s, cli_fail_rc(rc, "trim"));
  printf("{:disk-freed %" PRIu64 ", :disk-bytes %" PRIu64 ", :file-bytes %" PRIu64 "}\n", back,
         st.disk_bytes, st.file_bytes);
  return end_session(&s, 0);
}

/* One map {"name" value ...}, printed piece by piece: a read transaction
 * cannot build the map, and it need not be built to be printed. */
static int cmd_export(const cli_args *a) {
  session s = {0};
  eve_val *names = NULL, name, v;
  size_t count = 0;
  char *buf = NULL;
  size_t bufsz = 0;
  int rc = cli_open(a->pos[0], OPEN_READ, &s.d, &s.read_only);
  if (!rc) rc = begin(&s, EVE_TXN_READ);
  if (rc) return end_session(&s, rc);
  FILE *out = open_memstream(&buf, &bufsz);
  if (!out) return end_session(&s, cli_fail(CLI_FAIL, "out of memory"));
  if ((rc = list_names(&s, &names, &count))) rc = cli_fail_rc(rc, "cannot list atoms");
  fputc('{', out);
  int n = 0;
  for (size_t i = 0; !rc && i < count; i++) {
    name = names[i];
    const char *p;
    size_t len;
    char *key = NULL, *val = NULL, *cname;
    eve_atom *atom;
    if ((rc = eve_text_get(s.t, &name, &p, &len))) break;
    if (!(cname = strndup(p, len))) {
      rc = cli_fail(CLI_FAIL, "out of memory");
      break;
    }
    rc = eve_atom_open(s.d, cname, 0, &atom);
    if (rc == EVE_ENOTFOUND) { /* removed since the listing */
      free(cname);
      rc = 0;
      continue;
    }
    if (!rc) {
      rc = eve_deref(s.t, atom, &v);
      eve_atom_close(atom);
    }
    if (rc) rc = cli_fail_rc(rc, "export %s", cname);
    free(cname);
    if (!rc) rc = render(s.t, name, a->json, &key);
    if (!rc) rc = render(s.t, v, a->json, &val);
    if (!rc) /* separators as the library's printers use them */
      fprintf(out, "%s%s%s%s", n++ ? (a->json ? "," : ", ") : "", key, a->json ? ":" : " ", val);
    eve_free(key);
    eve_free(val);
  }
  fputc('}', out);
  fclose(out);
  free(names);
  /* rc is 0, an unreported EVE_E* (< 0) or an already reported CLI code */
  if (rc < 0) rc = cli_fail_rc(rc, "export");
  if (!rc) puts(buf);
  free(buf);
  return end_session(&s, rc);
}

static int read_file(const char *path, char **text, size_t *n) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return cli_fail(CLI_FAIL, "%s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0, got;
  do {
    if (cap - len < 65536) {
      char *p = realloc(buf, cap = cap * 2 + 65536);
      if (!p) {
        free(buf);
        if (f != stdin) fclose(f);
        return cli_fail(CLI_FAIL, "%s: out of memory", path);
      }
      buf = p;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  int err = ferror(f);
  if (f != stdin) fclose(f);
  if (err) {
    free(buf);
    return cli_fail(CLI_FAIL, "%s: read error", path);
  }
  *text = buf;
  *n = len;
  return 0;
}

/* Check the whole map before resetting anything: a bad entry changes no atom. */
static int import_check(eve_txn *t, eve_val m, const char *path, size_t *count) {
  eve_type ty;
  eve_iter it;
  eve_val k, v;
  int rc = eve_type_get(t, m, &ty);
  if (rc) return cli_fail_rc(rc, "%s", path);
  if (ty != EVE_MAP)
    return cli_fail(CLI_FAIL, "%s: expected a map of atom name (string) to value, got %s", path,
                    eve_type_name(ty));
  if ((rc = eve_iter_init(t, m, &it))) return cli_fail_rc(rc, "%s", path);
  *count = 0;
  while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
    const char *p;
    size_t n;
    if ((rc = eve_type_get(t, k, &ty))) break;
    if (ty != EVE_STRING)
      return cli_fail(CLI_FAIL, "%s: atom names must be strings, got a %s", path, eve_type_name(ty));
    if ((rc = eve_text_get(t, &k, &p, &n))) break;
    if (n == 0 || n > 4096 || memchr(p, 0, n))
      return cli_fail(CLI_FAIL, "%s: invalid atom name (1 to 4096 bytes, no NUL)", path);
    (*count)++;
  }
  return rc == EVE_END ? 0 : cli_fail_rc(rc, "%s", path);
}

static int cmd_import(const cli_args *a) {
  session s = {0};
  const char *path = a->pos[1];
  char *text = NULL;
  size_t n = 0, count = 0;
  eve_val m, k, v;
  eve_iter it;
  int rc = read_file(path, &text, &n);
  if (!rc) rc = cli_open(a->pos[0], OPEN_EXISTING, &s.d, NULL);
  if (!rc) rc = begin(&s, EVE_TXN_WRITE);
  if (!rc) rc = cli_read_edn(s.t, text, n, path, &m);
  free(text);
  if (!rc) rc = import_check(s.t, m, path, &count);
  if (!rc && (rc = eve_iter_init(s.t, m, &it))) rc = cli_fail_rc(rc, "%s", path);
  while (!rc && (rc = eve_iter_next(&it, &k, &v)) == 0) {
    const char *p;
    size_t len;
    char *name;
    eve_atom *atom;
    if ((rc = eve_text_get(s.t, &k, &p, &len))) break;
    if (!(name = strndup(p, len))) {
      rc = cli_fail(CLI_FAIL, "out of memory");
      break;
    }
    rc = eve_atom_open(s.d, name, EVE_ATOM_CREATE, &atom);
    if (!rc) {
      rc = eve_reset(s.t, atom, v);
      eve_atom_close(atom);
    }
    if (rc) rc = cli_fail_rc(rc, "import %s", name);
    free(name);
  }
  if (rc == EVE_END) rc = 0; /* as in cmd_export */
  else if (rc < 0) rc = cli_fail_rc(rc, "import");
  return end_session(&s, rc);
}

/* A minimal copy of the domain (eve_compact does the work). */
static int cmd_compact(const cli_args *a) {
  const char *src = a->pos[0], *dst = a->pos[1];
  eve_compact_report r;
  int rc = eve_compact(src, dst, NULL, &r);
  if (rc == EVE_ENOENT && access(src, F_OK) != 0)
    return cli_fail(CLI_FAIL, "%s: no such domain (eve init creates one)", src);
  if (rc == EVE_EEXIST)
    return cli_fail(CLI_FAIL, "compact: %s exists (the copy is always a new file): %s", dst,
                    eve_strerror(rc));
  if (rc) return cli_fail_rc(rc, "compact %s to %s", src, dst);
  printf("{:atoms %" PRIu64 ", :blocks %" PRIu64 ", :live-bytes %" PRIu64 ", :file-bytes %" PRIu64
         "}\n", r.atoms, r.blocks, r.live_bytes, r.file_bytes);
  return 0;
}

static int cmd_demo(const cli_args *a) { return demo_main(a->nraw, a->raw); }

static int cmd_help(const cli_args *a) {
  if (a->npos == 0) {
    print_usage(stdout);
    return 0;
  }
  const command *c = find_command(a->pos[0]);
  if (!c) return cli_fail(CLI_USAGE, "unknown command: %s (try: eve help)", a->pos[0]);
  print_command_help(stdout, c);
  return 0;
}

/* ---- the table ------------------------------------------------------------- */

static const command COMMANDS[] = {
  {"init", 1, 1, OPT_SYNC, cmd_init, "init DB [--sync]", "create the domain if absent"},
  {"ls", 1, 1, 0, cmd_ls, "ls DB", "atom names, one per line, sorted by bytes"},
  {"get", 2, 2, OPT_JSON, cmd_get, "get DB ATOM [--json]", "the atom's value"},
  {"get-in", 3, 3, OPT_JSON, cmd_get_in, "get-in DB ATOM KS [--json]",
   "the value at key path KS (an EDN vector); nil when absent"},
  {"set", 3, 3, OPT_SYNC, cmd_set, "set DB ATOM VALUE [--sync]", "reset the atom to VALUE (creates it)"},
  {"swap", 3, -1, OPT_SYNC, cmd_swap, "swap DB ATOM OP ARG... [--sync]",
   "one atomic swap; prints the new value (a missing atom starts as nil)"},
  {"rm", 2, 2, OPT_SYNC, cmd_rm, "rm DB ATOM [--sync]", "remove the atom"},
  {"watch", 2, 2, OPT_COUNT | OPT_JSON, cmd_watch, "watch DB ATOM [--count N] [--json]",
   "print the value now, then once after each change (N lines in all)"},
  {"stats", 1, 1, OPT_JSON, cmd_stats, "stats DB [--json]",
   "sizes (file, live, free, retired bytes), atoms, readers"},
  {"check", 1, 1, 0, cmd_check, "check DB",
   "full verification; exit 0 when sound, 1 with the problems printed"},
  {"gc", 1, 1, 0, cmd_gc, "gc DB", "full collection (needs exclusive access); prints what it reclaimed"},
  {"sync", 1, 1, 0, cmd_sync, "sync DB",
   "make what DB holds survive a power cut (a checkpoint; later opens after a crash restore it)"},
  {"trim", 1, 1, 0, cmd_trim, "trim DB", "give free pages back to the file system, online; prints how far on-disk bytes fell"},
  {"export", 1, 1, OPT_JSON, cmd_export, "export DB [--json]", "every atom as one map {\"name\" value ...}"},
  {"import", 2, 2, OPT_SYNC, cmd_import, "import DB FILE [--sync]",
   "reset each atom named in FILE, a map {\"name\" value ...} (FILE - is stdin)"},
  {"compact", 2, 2, 0, cmd_compact, "compact DB COPY",
   "write a minimal copy of DB to the new file COPY (no free or retired space; sharing kept)"},
  {"demo", 0, -1, 0, cmd_demo, "demo [DB] [--workers N] [--seconds S]",
   "forked workers swapping one shared value, with live progress and a verified report"},
  {"help", 0, 1, 0, cmd_help, "help [COMMAND]", "usage"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const command *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
  return NULL;
}

static void print_usage(FILE *f) {
  fprintf(f, "eve %s — shared-memory persistent data structures\n\nusage:\n", EVE_VERSION_STRING);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  eve %-36s %s\n", COMMANDS[i].usage, COMMANDS[i].help);
  fprintf(f, "  eve --version\n\nswap ops:\n%s\n", ops_usage);
  fputs("DB is a domain file; ATOM a name; values and arguments are EDN (-7 is a value).\n"
        "Exit status: 0 success, 2 usage or unparsable input, 1 any other failure.\n", f);
}

static void print_command_help(FILE *f, const command *c) {
  fprintf(f, "usage: eve %s\n  %s\n", c->usage, c->help);
  if (c->run == cmd_swap) fprintf(f, "\nops:\n%s", ops_usage);
  if (c->run == cmd_demo) fputs(demo_usage, f);
}

int main(int argc, char **argv) {
  /* A closed pipe must be a write error (exit 1), not a signal. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return cli_fail(CLI_USAGE, "missing command (try: eve help)");
  const char *name = argv[1];
  if (!strcmp(name, "--version") || !strcmp(name, "version")) {
    printf("eve %s\n", EVE_VERSION_STRING);
    return fflush(stdout) ? CLI_FAIL : 0;
  }
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
  const command *c = find_command(name);
  if (!c) return cli_fail(CLI_USAGE, "unknown command: %s (try: eve help)", name);

  cli_args a;
  memset(&a, 0, sizeof a);
  a.raw = argv + 2;
  a.nraw = argc - 2;
  int rc = c->run == cmd_demo ? 0 : parse_args(c, argc - 2, argv + 2, &a);
  if (rc == 0) rc = c->run(&a);
  else if (rc < 0) rc = 0; /* --help was printed */
  free(a.pos);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    if (rc == 0) rc = cli_fail(CLI_FAIL, "write error: %s", strerror(e ? e : EIO));
  }
  return rc;
}
