/* ops.c — the operations of `eve swap DB ATOM OP ARG...`.
 *
 * Each op is a pure function old -> new built with the collection API.  An
 * op is called from inside a swap function, possibly several times (once
 * per retry), so it must not do anything but build values and describe its
 * failure in the caller's message buffer.
 *
 * Semantics follow Clojure where it has an answer: nil counts as 0 for
 * numbers, {} for maps and [] for conj; `get` on something that is not a
 * collection is nil; assoc on a vector takes an index in [0, count]. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Longest key path accepted: each key enters one collection, and no value
 * nests deeper than EVE_MAX_NESTING. */
#define OPS_MAX_PATH EVE_MAX_NESTING

typedef int (*op_fn)(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg,
                     size_t msgsz);

typedef struct op {
  const char *name;
  int nargs;           /* values after the name; -1 for update-in (KS OP ARG...) */
  int has_path;        /* first argument is a key path                          */
  const char *usage;
  op_fn fn;
} op;

struct op_call {
  const op *op;
  eve_val arg[2];      /* the op's value arguments (after the path, if any)   */
  eve_val *ks;         /* key path, for assoc-in and update-in                */
  size_t nks;
  op_call *sub;        /* update-in: the op applied at the path               */
};

/* ---- helpers --------------------------------------------------------------- */

static int say(char *msg, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t n, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return rc;
}

/* The type of v, or an error code (a corrupt value) as a negative int. */
static int type_of(eve_txn *t, eve_val v, eve_type *ty) { return eve_type_get(t, v, ty); }

static const char *tname(eve_txn *t, eve_val v) {
  eve_type ty;
  return type_of(t, v, &ty) ? "corrupt value" : eve_type_name(ty);
}

/* A vector index from key: an integer in [0, count) (or [0, count] when
 * the index may append). */
static int vec_index(eve_txn *t, const char *opn, eve_val vec, eve_val key, int may_append,
                     uint64_t *out, char *msg, size_t msgsz) {
  eve_type ty;
  int rc = type_of(t, key, &ty);
  if (rc) return rc;
  if (ty != EVE_INT)
    return say(msg, msgsz, EVE_ETYPE, "%s: a vector index must be an integer, got %s", opn,
               eve_type_name(ty));
  int64_t i;
  uint64_t n;
  if ((rc = eve_int_get(t, key, &i)) || (rc = eve_count(t, vec, &n))) return rc;
  if (i < 0 || (uint64_t)i > n || ((uint64_t)i == n && !may_append))
    return say(msg, msgsz, EVE_ERANGE, "%s: index %" PRId64 " is out of range for a vector of %" PRIu64,
               opn, i, n);
  *out = (uint64_t)i;
  return 0;
}

/* Clojure's get: the value under key, nil when absent or when coll is not
 * a collection that has keys. */
static int get_at(eve_txn *t, eve_val coll, eve_val key, eve_val *out) {
  eve_type ty, kt;
  int rc = type_of(t, coll, &ty);
  if (rc) return rc;
  *out = EVE_V_NIL;
  switch (ty) {
  case EVE_MAP:
    rc = eve_map_get(t, coll, key, out);
    if (rc == EVE_ENOTFOUND) *out = EVE_V_NIL, rc = 0;
    return rc;
  case EVE_SET: {
    int has = 0;
    if ((rc = eve_set_contains(t, coll, key, &has))) return rc;
    if (has) *out = key;
    return 0;
  }
  case EVE_VECTOR: {
    int64_t i;
    uint64_t n;
    if ((rc = type_of(t, key, &kt)) || kt != EVE_INT) return rc;
    if ((rc = eve_int_get(t, key, &i)) || (rc = eve_count(t, coll, &n))) return rc;
    if (i >= 0 && (uint64_t)i < n) rc = eve_vec_nth(t, coll, (uint64_t)i, out);
    return rc;
  }
  default:
    return 0;
  }
}

/* assoc into a map (nil counts as {}) or, by index, into a vector. */
static int assoc_at(eve_txn *t, const char *opn, eve_val coll, eve_val key, eve_val v,
                    eve_val *out, char *msg, size_t msgsz) {
  eve_type ty;
  int rc = type_of(t, coll, &ty);
  if (rc) return rc;
  if (ty == EVE_NIL || ty == EVE_MAP) return eve_map_assoc(t, coll, key, v, out);
  if (ty == EVE_VECTOR) {
    uint64_t i = 0;
    if ((rc = vec_index(t, opn, coll, key, 1, &i, msg, msgsz))) return rc;
    return eve_vec_assoc(t, coll, i, v, out);
  }
  return say(msg, msgsz, EVE_ETYPE, "%s: cannot associate a key in a %s (maps and vectors only)",
             opn, eve_type_name(ty));
}

/* ---- numbers --------------------------------------------------------------- */

typedef struct num {
  int is_float;
  int64_t i;
  double f;
} num;

/* Read a number; nil counts as 0.  what says which value it is, for the
 * message ("" for the atom's value). */
static int get_num(eve_txn *t, const char *opn, const char *what, eve_val v, num *n, char *msg,
                   size_t msgsz) {
  eve_type ty;
  int rc = type_of(t, v, &ty);
  if (rc) return rc;
  memset(n, 0, sizeof *n);
  switch (ty) {
  case EVE_NIL: return 0;
  case EVE_INT: return eve_int_get(t, v, &n->i);
  case EVE_FLOAT: n->is_float = 1; return eve_float_get(t, v, &n->f);
  default:
    return say(msg, msgsz, EVE_ETYPE, "%s: %s must be a number, got %s", opn, what,
               eve_type_name(ty));
  }
}

/* old + delta; integers never wrap: overflow is an error.  An integer plus
 * a float is a float, as in Clojure. */
static int add_nums(eve_txn *t, const char *opn, eve_val old, num delta, eve_val *out, char *msg,
                    size_t msgsz) {
  num a;
  int rc = get_num(t, opn, "the value", old, &a, msg, msgsz);
  if (rc) return rc;
  if (!a.is_float && !delta.is_float) {
    int64_t r;
    if (__builtin_add_overflow(a.i, delta.i, &r))
      return say(msg, msgsz, EVE_ERANGE,
                 "%s: integer overflow (%" PRId64 " %c %" PRIu64 " does not fit in 64 bits)", opn,
                 a.i, delta.i < 0 ? '-' : '+',
                 delta.i < 0 ? -(uint64_t)delta.i : (uint64_t)delta.i);
    return eve_int(t, r, out);
  }
  double x = a.is_float ? a.f : (double)a.i;
  double y = delta.is_float ? delta.f : (double)delta.i;
  return eve_float(t, x + y, out);
}

static int op_inc(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  (void)c;
  return add_nums(t, "inc", old, (num){0, 1, 0}, out, msg, n);
}

static int op_dec(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  (void)c;
  return add_nums(t, "dec", old, (num){0, -1, 0}, out, msg, n);
}

static int op_add(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  num delta;
  eve_type ty;
  int rc = type_of(t, c->arg[0], &ty);
  if (rc) return rc;
  if (ty == EVE_NIL) /* nil counts as 0 for the value, not for the argument */
    return say(msg, n, EVE_ETYPE, "add: N must be a number, got nil");
  if ((rc = get_num(t, "add", "N", c->arg[0], &delta, msg, n))) return rc;
  return add_nums(t, "add", old, delta, out, msg, n);
}

/* ---- maps and collections -------------------------------------------------- */

static int op_assoc(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  return assoc_at(t, "assoc", old, c->arg[0], c->arg[1], out, msg, n);
}

static int op_dissoc(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg,
                     size_t n) {
  eve_type ty;
  int rc = type_of(t, old, &ty);
  if (rc) return rc;
  if (ty != EVE_NIL && ty != EVE_MAP)
    return say(msg, n, EVE_ETYPE, "dissoc: expected a map, got %s", eve_type_name(ty));
  return eve_map_dissoc(t, old, c->arg[0], out);
}

static int op_merge(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg,
                    size_t n) {
  eve_type a, b;
  int rc;
  if ((rc = type_of(t, old, &a)) || (rc = type_of(t, c->arg[0], &b))) return rc;
  if (a != EVE_NIL && a != EVE_MAP)
    return say(msg, n, EVE_ETYPE, "merge: expected a map, got %s", eve_type_name(a));
  if (b != EVE_NIL && b != EVE_MAP)
    return say(msg, n, EVE_ETYPE, "merge: M must be a map, got %s", eve_type_name(b));
  return eve_map_merge(t, old, c->arg[0], out);
}

/* conj into a map takes an entry [k v] (or a map, merged), as in Clojure. */
static int conj_map(eve_txn *t, eve_val m, eve_val x, eve_val *out, char *msg, size_t n) {
  eve_type ty;
  uint64_t cnt = 0;
  int rc = type_of(t, x, &ty);
  if (rc) return rc;
  if (ty == EVE_MAP || ty == EVE_NIL) return eve_map_merge(t, m, x, out);
  if (ty == EVE_VECTOR && !(rc = eve_count(t, x, &cnt)) && cnt == 2) {
    eve_val k, v;
    if ((rc = eve_vec_nth(t, x, 0, &k)) || (rc = eve_vec_nth(t, x, 1, &v))) return rc;
    return eve_map_assoc(t, m, k, v, out);
  }
  if (rc) return rc;
  return say(msg, n, EVE_ETYPE, "conj: conj onto a map takes a [key value] vector, got %s",
             ty == EVE_VECTOR ? "a vector of another length" : eve_type_name(ty));
}

static int op_conj(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  eve_type ty;
  int rc = type_of(t, old, &ty);
  if (rc) return rc;
  eve_val x = c->arg[0];
  switch (ty) {
  case EVE_NIL: return eve_vec_conj(t, EVE_V_EMPTY_VECTOR, x, out);
  case EVE_VECTOR: return eve_vec_conj(t, old, x, out);
  case EVE_SET: return eve_set_conj(t, old, x, out);
  case EVE_LIST: return eve_list_cons(t, x, old, out);
  case EVE_MAP: return conj_map(t, old, x, out, msg, n);
  default:
    return say(msg, n, EVE_ETYPE, "conj: expected a vector, set, list or map, got %s",
               eve_type_name(ty));
  }
}

static int op_disj(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  eve_type ty;
  int rc = type_of(t, old, &ty);
  if (rc) return rc;
  if (ty == EVE_NIL) { /* (disj nil x) is nil */
    *out = EVE_V_NIL;
    return 0;
  }
  if (ty != EVE_SET)
    return say(msg, n, EVE_ETYPE, "disj: expected a set, got %s", eve_type_name(ty));
  return eve_set_disj(t, old, c->arg[0], out);
}

static int op_pop(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t n) {
  (void)c;
  eve_type ty;
  uint64_t cnt = 0;
  int rc = type_of(t, old, &ty);
  if (rc) return rc;
  if (ty == EVE_NIL) { /* (pop nil) is nil */
    *out = EVE_V_NIL;
    return 0;
  }
  if (ty != EVE_VECTOR && ty != EVE_LIST)
    return say(msg, n, EVE_ETYPE, "pop: expected a vector or a list, got %s", eve_type_name(ty));
  if ((rc = eve_count(t, old, &cnt))) return rc;
  if (cnt == 0) return say(msg, n, EVE_ERANGE, "pop: cannot pop an empty %s", eve_type_name(ty));
  return ty == EVE_VECTOR ? eve_vec_pop(t, old, out) : eve_list_rest(t, old, out);
}

/* ---- key paths ------------------------------------------------------------- */

/* assoc-in: rebuild the spine from the leaf up, creating maps for absent
 * (nil) levels.  Recursion depth is bounded by OPS_MAX_PATH. */
static int assoc_in(eve_txn *t, const char *opn, eve_val coll, const eve_val *ks, size_t nks,
                    const op_call *leaf, eve_val v, eve_val *out, char *msg, size_t n) {
  if (nks == 0) {
    if (!leaf) {
      *out = v;
      return 0;
    }
    return ops_apply(t, leaf, coll, out, msg, n);
  }
  eve_val child, nchild;
  int rc = get_at(t, coll, ks[0], &child);
  if (!rc) rc = assoc_in(t, opn, child, ks + 1, nks - 1, leaf, v, &nchild, msg, n);
  if (!rc) rc = assoc_at(t, opn, coll, ks[0], nchild, out, msg, n);
  return rc;
}

static int op_assoc_in(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg,
                       size_t n) {
  return assoc_in(t, "assoc-in", old, c->ks, c->nks, NULL, c->arg[0], out, msg, n);
}

static int op_update_in(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg,
                        size_t n) {
  return assoc_in(t, "update-in", old, c->ks, c->nks, c->sub, EVE_V_NIL, out, msg, n);
}

int ops_get_in(eve_txn *t, eve_val v, eve_val ks, eve_val *out) {
  eve_type ty;
  int rc = type_of(t, ks, &ty);
  if (rc) return rc;
  if (ty != EVE_VECTOR && ty != EVE_LIST) return EVE_ETYPE;
  eve_iter it;
  eve_val k, unused;
  if ((rc = eve_iter_init(t, ks, &it))) return rc;
  while ((rc = eve_iter_next(&it, &k, &unused)) == 0)
    if ((rc = get_at(t, v, k, &v))) return rc;
  if (rc != EVE_END) return rc;
  *out = v;
  return 0;
}

/* ---- the table ------------------------------------------------------------- */

static const op OPS[] = {
  {"inc", 0, 0, "inc", op_inc},
  {"dec", 0, 0, "dec", op_dec},
  {"add", 1, 0, "add N", op_add},
  {"assoc", 2, 0, "assoc K V", op_assoc},
  {"dissoc", 1, 0, "dissoc K", op_dissoc},
  {"assoc-in", 1, 1, "assoc-in KS V", op_assoc_in},
  {"update-in", -1, 1, "update-in KS OP ARG...", op_update_in},
  {"conj", 1, 0, "conj X", op_conj},
  {"disj", 1, 0, "disj X", op_disj},
  {"merge", 1, 0, "merge M", op_merge},
  {"pop", 0, 0, "pop", op_pop},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

const char ops_usage[] =
    "  inc | dec | add N        numbers (nil counts as 0)\n"
    "  assoc K V | dissoc K     maps (nil counts as {}); assoc on a vector takes an index K\n"
    "  assoc-in KS V            nested, creating maps along the way\n"
    "  update-in KS OP ARG...   apply OP (any op in this list) at key path KS\n"
    "  conj X | disj X          vectors (append), sets, lists (prepend); nil counts as []\n"
    "  merge M                  maps\n"
    "  pop                      vectors (last), lists (first)\n";

static const op *find_op(const char *name) {
  for (size_t i = 0; i < NOPS; i++)
    if (strcmp(OPS[i].name, name) == 0) return &OPS[i];
  return NULL;
}

int ops_check(int argc, char **argv) {
  if (argc < 1)
    return cli_fail(CLI_USAGE, "swap needs an op: inc dec add assoc dissoc assoc-in update-in "
                               "conj disj merge pop");
  const op *o = find_op(argv[0]);
  if (!o)
    return cli_fail(CLI_USAGE, "unknown op: %s (ops: inc dec add assoc dissoc assoc-in "
                               "update-in conj disj merge pop)", argv[0]);
  int given = argc - 1 - (o->has_path ? 1 : 0);
  if (o->nargs < 0) { /* update-in KS OP ARG... */
    if (argc < 3) return cli_fail(CLI_USAGE, "wrong number of arguments: usage: %s", o->usage);
    return ops_check(argc - 2, argv + 2);
  }
  if (given != o->nargs)
    return cli_fail(CLI_USAGE, "wrong number of arguments for %s (%d given): usage: %s", o->name,
                    argc - 1, o->usage);
  return 0;
}

/* Copy the key path into an array (so each apply walks it without
 * iterators). */
static int parse_path(eve_txn *t, const char *text, op_call *c) {
  eve_val ks;
  eve_type ty;
  uint64_t n = 0;
  int rc = cli_read_edn(t, text, strlen(text), NULL, &ks);
  if (rc) return rc;
  if ((rc = type_of(t, ks, &ty))) return cli_fail_rc(rc, "key path");
  if (ty != EVE_VECTOR && ty != EVE_LIST)
    return cli_fail(CLI_USAGE, "%s: KS must be a vector of keys, got %s", c->op->name,
                    eve_type_name(ty));
  if ((rc = eve_count(t, ks, &n))) return cli_fail_rc(rc, "key path");
  if (n > OPS_MAX_PATH)
    return cli_fail(CLI_USAGE, "%s: key path too long (%" PRIu64 " keys, at most %d)",
                    c->op->name, n, OPS_MAX_PATH);
  c->ks = calloc(n ? n : 1, sizeof *c->ks);
  if (!c->ks) return cli_fail(CLI_FAIL, "out of memory");
  eve_iter it;
  eve_val k, unused;
  if ((rc = eve_iter_init(t, ks, &it))) return cli_fail_rc(rc, "key path");
  while (c->nks < n && (rc = eve_iter_next(&it, &k, &unused)) == 0) c->ks[c->nks++] = k;
  if (rc && rc != EVE_END) return cli_fail_rc(rc, "key path");
  return 0;
}

int ops_parse(eve_txn *t, int argc, char **argv, op_call **out) {
  int rc = ops_check(argc, argv);
  if (rc) return rc;
  const op *o = find_op(argv[0]); /* found: ops_check looked it up */
  op_call *c = o ? calloc(1, sizeof *c) : NULL;
  if (!c) return cli_fail(CLI_FAIL, "out of memory");
  c->op = o;
  int first = 1;
  if (c->op->has_path) {
    if ((rc = parse_path(t, argv[1], c))) goto fail;
    first = 2;
  }
  if (c->op->nargs < 0) {
    if ((rc = ops_parse(t, argc - 2, argv + 2, &c->sub))) goto fail;
  } else {
    for (int i = 0; i < c->op->nargs; i++) {
      const char *a = argv[first + i];
      if ((rc = cli_read_edn(t, a, strlen(a), NULL, &c->arg[i]))) goto fail;
    }
  }
  *out = c;
  return 0;
fail:
  ops_free(c);
  return rc;
}

void ops_free(op_call *c) {
  if (!c) return;
  ops_free(c->sub);
  free(c->ks);
  free(c);
}

int ops_apply(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t msgsz) {
  if (msgsz) msg[0] = 0;
  int rc = c->op->fn(t, c, old, out, msg, msgsz);
  if (rc && msgsz && !msg[0])
    say(msg, msgsz, rc, "%s on a %s: %s", c->op->name, tname(t, old), eve_strerror(rc));
  return rc;
}
