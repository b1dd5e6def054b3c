/*
 * eve_node.c — the Node-API addon behind the npm package eve-atoms.
 *
 * Written against the public C API only (eve.h) and Node-API only (one
 * binary for every Node version with Node-API 8).  The JavaScript-facing
 * classes (the views Map/Vector/Set/List, Keyword, Sym, Uuid, the error
 * classes, Domain and Atom) are defined in index.js, which hands the view
 * classes and a few helpers to _init() once per environment (the main
 * thread and every worker: the addon is context-aware, its state lives in
 * per-environment instance data).
 *
 * Lifetimes (as in the Python binding, python/eve/_eve.c):
 *  - A view outside a swap rests on a snapshot (EVE_TXN_SNAPSHOT) and holds
 *    one reference on it: a child view retains it (eve_txn_retain), the
 *    finalizer of every view drops one (eve_txn_end).  So a view stays
 *    readable as long as JavaScript keeps it, whatever happens to its atom.
 *  - Inside a swap function, views rest on the swap's write transaction
 *    through a scope, closed when the function returns: such a view that
 *    escapes throws EVE_ETXN instead of reading freed memory.
 *  - A domain handle (shared_dom) is reference-counted across threads:
 *    every Domain object (the one eve.open made, and every eve.join of its
 *    handle in a worker), atom and view holds a reference, and eve_close
 *    runs when the last one is dropped.  close() stops new operations
 *    through that Domain object at once.
 *
 * Every eve error becomes a JavaScript exception (index.js makes it: an
 * EveError subclass with .code = the EVE_E* name); nothing here aborts or
 * prints.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eve.h"

/* A code of our own: a JavaScript exception is pending. */
#define JS_ABORT (-1000)
/* from_js in a read transaction met a value that needs allocating. */
#define NEEDS_WRITE (-1001)

static const napi_type_tag VIEW_TAG = {0x6576652d6e6f6465ULL, 0x766965772d746167ULL};

/* ---- shared domain handles ---------------------------------------------- */

typedef struct shared_dom {
  int refs; /* under reg_mu */
  eve_domain *d;
  uint64_t id;
  struct shared_dom *next;
} shared_dom;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_dom *reg_head;
static uint64_t reg_next_id = 1;

static shared_dom *shared_new(eve_domain *d) {
  shared_dom *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->d = d;
  s->refs = 1;
  pthread_mutex_lock(&reg_mu);
  s->id = reg_next_id++;
  s->next = reg_head;
  reg_head = s;
  pthread_mutex_unlock(&reg_mu);
  return s;
}

static shared_dom *shared_join(uint64_t id) {
  pthread_mutex_lock(&reg_mu);
  shared_dom *s = reg_head;
  while (s && s->id != id) s = s->next;
  if (s) s->refs++;
  pthread_mutex_unlock(&reg_mu);
  return s;
}

static void shared_unref(shared_dom *s) {
  pthread_mutex_lock(&reg_mu);
  int last = --s->refs == 0;
  if (last) {
    shared_dom **p = &reg_head;
    while (*p && *p != s) p = &(*p)->next;
    if (*p) *p = s->next;
  }
  pthread_mutex_unlock(&reg_mu);
  if (!last) return;
  /* Nothing of ours is open on it any more; EVE_EBUSY could only come from
   * a transaction leaked elsewhere, and then the handle stays mapped. */
  eve_close(s->d);
  free(s);
}

/* One Domain object's hold on a shared handle (env-local). */
typedef struct dref {
  int refs;   /* the Domain object, its atoms and views */
  int closed; /* close() was called on the Domain object */
  shared_dom *s;
} dref;

static void dref_unref(dref *r) {
  if (--r->refs) return;
  shared_unref(r->s);
  free(r);
}

typedef struct domobj {
  dref *dr;
  int released;
} domobj;

/* ---- per-environment state --------------------------------------------------- */

#define MAX_NESTED_SWAPS 64
struct view;
typedef struct envdata {
  napi_ref ctor[4]; /* view classes: map, vector, set, list */
  napi_ref keyword, symbol, uuid, edn;
  napi_ref make_error, make_keyword, make_map, make_set, map_entries, set_values;
  napi_ref object_proto, map_ctor, set_ctor;
  int ready;
  struct view *pending; /* the view the View constructor is to wrap */
  struct {
    shared_dom *s;
    const char *name;
  } swaps[MAX_NESTED_SWAPS];
  int nswaps;
  struct conv *swap_conv; /* the innermost running swap's: snapshots that
                             its builds met are kept there until its commit */
} envdata;

static envdata *get_env(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

/* ---- errors -------------------------------------------------------------- */

static int exc_pending(napi_env env) {
  bool b = false;
  napi_is_exception_pending(env, &b);
  return b;
}

/* Throw the EveError subclass for code, "what: message". */
static void throw_eve(napi_env env, int code, const char *what) {
  if (code == JS_ABORT || exc_pending(env)) return;
  envdata *e = get_env(env);
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, eve_strerror(code));
  napi_value fn, argv[3], err;
  if (e && e->ready && napi_get_reference_value(env, e->make_error, &fn) == napi_ok &&
      napi_create_int32(env, code, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env, eve_err_name(code), NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &argv[2]) == napi_ok) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    if (napi_call_function(env, undef, fn, 3, argv, &err) == napi_ok) {
      napi_throw(env, err);
      return;
    }
    if (exc_pending(env)) return;
  }
  napi_throw_error(env, eve_err_name(code), msg);
}

static void throw_type(napi_env env, const char *msg) {
  if (!exc_pending(env)) napi_throw_type_error(env, NULL, msg);
}
static void throw_range(napi_env env, const char *msg) {
  if (!exc_pending(env)) napi_throw_range_error(env, NULL, msg);
}

/* A Node-API call that failed: its exception, or a generic one. */
#define NC(call)                                                                    \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: Node-API call failed"); \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)
/* The same inside functions returning an int code. */
#define NCI(call)                                                                   \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: Node-API call failed"); \
      return JS_ABORT;                                                              \
    }                                                                               \
  } while (0)

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* `this` only. */
#define THIS()                                                            \
  napi_value self;                                                        \
  NC(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));

/* The arguments (n > 0), missing ones undefined. */
#define ARGS(n)                                                           \
  size_t argc = (n);                                                      \
  napi_value argv[n];                                                     \
  napi_value self;                                                        \
  NC(napi_get_cb_info(env, info, &argc, argv, &self, NULL));              \
  for (size_t i_ = argc; i_ < (size_t)(n); i_++) argv[i_] = undefined(env);

/* ---- scopes and views ------------------------------------------------------ */

typedef struct scope {
  int refs;
  eve_txn *t; /* NULL once the swap attempt is over */
} scope;

static void scope_unref(scope *s) {
  if (--s->refs == 0) free(s);
}

typedef struct view {
  dref *dr;
  eve_txn *snap; /* the snapshot (one reference held), or NULL */
  scope *sc;     /* NULL for a snapshot view */
  eve_val v;
  eve_type ty;
} view;

/* Where values are read (and, with a scope, built). */
typedef struct ctx {
  dref *dr;
  eve_txn *t;
  scope *sc; /* NULL: t is a snapshot (or a plain transaction of ours) */
} ctx;

static void view_release(view *v) {
  if (v->snap) eve_txn_end(v->snap);
  if (v->sc) scope_unref(v->sc);
  dref_unref(v->dr);
  free(v);
}

/* A snapshot view holds back the reclamation of everything retired since
 * its snapshot began, in every process: tell V8 it costs memory, so that
 * it collects dropped views (and ends their snapshots) soon. */
#define SNAPSHOT_COST 16384

static void view_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  view *v = data;
  int64_t ignored;
  if (v->snap) napi_adjust_external_memory(env, -SNAPSHOT_COST, &ignored);
  view_release(v);
}

/* The View constructor: only eve makes views. */
static napi_value View_ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  NC(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  envdata *e = get_env(env);
  view *v = e ? e->pending : NULL;
  if (!v) {
    throw_type(env, "eve views are made by eve (deref, swap), not constructed");
    return NULL;
  }
  e->pending = NULL;
  if (napi_wrap(env, self, v, view_finalize, NULL, NULL) != napi_ok) {
    view_release(v);
    if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: cannot wrap a view");
    return NULL;
  }
  napi_type_tag_object(env, self, &VIEW_TAG);
  int64_t ignored;
  if (v->snap) napi_adjust_external_memory(env, SNAPSHOT_COST, &ignored);
  return self;
}

static int ctor_index(eve_type ty) {
  switch (ty) {
  case EVE_MAP: return 0;
  case EVE_VECTOR: return 1;
  case EVE_SET: return 2;
  default: return 3;
  }
}

static napi_value view_new(napi_env env, const ctx *c, eve_val w, eve_type ty) {
  envdata *e = get_env(env);
  if (!e || !e->ready) {
    napi_throw_error(env, NULL, "eve: not initialised");
    return NULL;
  }
  view *v = malloc(sizeof *v);
  if (!v) {
    throw_eve(env, EVE_ENOMEM, "view");
    return NULL;
  }
  if (!c->sc) {
    int rc = eve_txn_retain(c->t);
    if (rc) {
      free(v);
      throw_eve(env, rc, "retain snapshot");
      return NULL;
    }
    v->snap = c->t;
    v->sc = NULL;
  } else {
    v->snap = NULL;
    v->sc = c->sc;
    c->sc->refs++;
  }
  v->dr = c->dr;
  c->dr->refs++;
  v->v = w;
  v->ty = ty;
  napi_value cls, obj;
  e->pending = v;
  napi_status st = napi_get_reference_value(env, e->ctor[ctor_index(ty)], &cls);
  if (st == napi_ok) st = napi_new_instance(env, cls, 0, NULL, &obj);
  if (e->pending == v) { /* the constructor never ran */
    e->pending = NULL;
    view_release(v);
    if (st == napi_ok) st = napi_generic_failure;
  }
  if (st != napi_ok) {
    if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: cannot make a view");
    return NULL;
  }
  return obj;
}

/* The view wrapped by o, or NULL (no exception) if o is not a view. */
static view *as_view(napi_env env, napi_value o) {
  napi_valuetype t;
  if (napi_typeof(env, o, &t) != napi_ok || t != napi_object) return NULL;
  bool tagged = false;
  if (napi_check_object_type_tag(env, o, &VIEW_TAG, &tagged) != napi_ok || !tagged) return NULL;
  void *p = NULL;
  if (napi_unwrap(env, o, &p) != napi_ok) return NULL;
  return p;
}

/* The view's context, or -1 (EVE_ETXN thrown) for a view of a swap attempt
 * that is over. */
static int view_ctx(napi_env env, view *v, ctx *c) {
  c->dr = v->dr;
  c->sc = v->sc;
  c->t = v->sc ? v->sc->t : v->snap;
  if (!c->t) {
    throw_eve(env, EVE_ETXN, "a view of a swap function used after the function returned");
    return -1;
  }
  return 0;
}

/* `this` as a view */
static view *this_view(napi_env env, napi_value self, ctx *c) {
  view *v = as_view(env, self);
  if (!v) {
    throw_type(env, "not an eve view");
    return NULL;
  }
  if (c && view_ctx(env, v, c)) return NULL;
  return v;
}

/* ---- eve -> JavaScript ------------------------------------------------------ */

static napi_value new_of(napi_env env, napi_ref cls_ref, napi_value arg) {
  napi_value cls, obj;
  NC(napi_get_reference_value(env, cls_ref, &cls));
  NC(napi_new_instance(env, cls, 1, &arg, &obj));
  return obj;
}

static napi_value call_helper(napi_env env, napi_ref fn_ref, napi_value arg) {
  napi_value fn, res;
  NC(napi_get_reference_value(env, fn_ref, &fn));
  NC(napi_call_function(env, undefined(env), fn, 1, &arg, &res));
  return res;
}

static size_t utf8_encode(uint32_t cp, char *b) {
  if (cp < 0x80) return b[0] = (char)cp, 1;
  if (cp < 0x800) return b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000) {
    b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

#define MAX_SAFE 9007199254740991LL

/* Scalars become JavaScript values; collections views in c. */
static napi_value to_js(napi_env env, const ctx *c, eve_val w) {
  eve_type ty;
  int rc = eve_type_get(c->t, w, &ty);
  if (rc) return throw_eve(env, rc, "read value"), NULL;
  napi_value r;
  envdata *e = get_env(env);
  switch (ty) {
  case EVE_NIL: NC(napi_get_null(env, &r)); return r;
  case EVE_BOOL: {
    int b = 0;
    eve_bool_get(c->t, w, &b);
    NC(napi_get_boolean(env, b, &r));
    return r;
  }
  case EVE_INT: {
    int64_t i;
    if ((rc = eve_int_get(c->t, w, &i))) break;
    if (i >= -MAX_SAFE && i <= MAX_SAFE) NC(napi_create_double(env, (double)i, &r));
    else NC(napi_create_bigint_int64(env, i, &r));
    return r;
  }
  case EVE_FLOAT: {
    double f;
    if ((rc = eve_float_get(c->t, w, &f))) break;
    NC(napi_create_double(env, f, &r));
    return r;
  }
  case EVE_CHAR: {
    uint32_t cp;
    if ((rc = eve_char_get(c->t, w, &cp))) break;
    char b[4];
    NC(napi_create_string_utf8(env, b, utf8_encode(cp, b), &r));
    return r;
  }
  case EVE_STRING:
  case EVE_KEYWORD:
  case EVE_SYMBOL: {
    const char *s;
    size_t n;
    if ((rc = eve_text_get(c->t, &w, &s, &n))) break;
    NC(napi_create_string_utf8(env, s, n, &r));
    if (ty == EVE_STRING) return r;
    return ty == EVE_KEYWORD ? call_helper(env, e->make_keyword, r) : new_of(env, e->symbol, r);
  }
  case EVE_UUID: {
    uint8_t u[16];
    if ((rc = eve_uuid_get(c->t, w, u))) break;
    char s[37];
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) s[k++] = '-';
      s[k++] = hex[u[i] >> 4];
      s[k++] = hex[u[i] & 15];
    }
    NC(napi_create_string_utf8(env, s, 36, &r));
    return new_of(env, e->uuid, r);
  }
  case EVE_INST: {
    int64_t ms;
    if ((rc = eve_inst_get(c->t, w, &ms))) break;
    NC(napi_create_date(env, (double)ms, &r));
    return r;
  }
  case EVE_BYTES: {
    const uint8_t *p;
    size_t n;
    if ((rc = eve_bytes_get(c->t, &w, &p, &n))) break;
    void *data;
    napi_value ab;
    NC(napi_create_arraybuffer(env, n, &data, &ab));
    if (n) memcpy(data, p, n);
    NC(napi_create_typedarray(env, napi_uint8_array, n, ab, 0, &r));
    return r;
  }
  default: return view_new(env, c, w, ty);
  }
  throw_eve(env, rc, "read value");
  return NULL;
}

/* Deep copy into plain JavaScript values: maps whose keys are all strings
 * become plain objects, other maps Maps; sets Sets; vectors and lists
 * arrays. */
static napi_value deep_js(napi_env env, const ctx *c, eve_val w) {
  eve_type ty;
  int rc = eve_type_get(c->t, w, &ty);
  if (rc) return throw_eve(env, rc, "read value"), NULL;
  if (ty < EVE_LIST) return to_js(env, c, w);
  envdata *e = get_env(env);
  eve_iter it;
  eve_val k, v;
  uint64_t n = 0;
  if ((rc = eve_count(c->t, w, &n)) || (rc = eve_iter_init(c->t, w, &it)))
    return throw_eve(env, rc, "read collection"), NULL;
  napi_value r;
  if (ty == EVE_MAP) {
    int plain = 1;
    eve_iter probe = it;
    while ((rc = eve_iter_next(&probe, &k, &v)) == 0) {
      eve_type kt;
      if ((rc = eve_type_get(c->t, k, &kt))) break;
      if (kt != EVE_STRING) {
        plain = 0;
        rc = EVE_END;
        break;
      }
    }
    if (rc != EVE_END) return throw_eve(env, rc, "read map"), NULL;
    if (plain) NC(napi_create_object(env, &r));
    else NC(napi_create_array_with_length(env, (size_t)n * 2, &r));
    uint32_t i = 0;
    while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
      napi_value jk = deep_js(env, c, k), jv = jk ? deep_js(env, c, v) : NULL;
      if (!jv) return NULL;
      if (plain) NC(napi_set_property(env, r, jk, jv));
      else {
        NC(napi_set_element(env, r, i++, jk));
        NC(napi_set_element(env, r, i++, jv));
      }
    }
    if (rc != EVE_END) return throw_eve(env, rc, "read map"), NULL;
    return plain ? r : call_helper(env, e->make_map, r);
  }
  NC(napi_create_array_with_length(env, (size_t)n, &r));
  uint32_t i = 0;
  while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
    napi_value jk = deep_js(env, c, k);
    if (!jk) return NULL;
    NC(napi_set_element(env, r, i++, jk));
  }
  if (rc != EVE_END) return throw_eve(env, rc, "read collection"), NULL;
  return ty == EVE_SET ? call_helper(env, e->make_set, r) : r;
}

/* ---- JavaScript -> eve ---------------------------------------------------- */

/* Conversion into t.  With needs_write_ok, a value that would have to be
 * allocated in a read transaction returns NEEDS_WRITE (nothing thrown).
 * keep: snapshots retained for the length of a swap (a snapshot view's
 * word built into a swap's value must stay readable until the commit). */
typedef struct conv {
  ctx c;
  int needs_write_ok;
  eve_txn **keep;
  size_t nkeep, capkeep;
} conv;

static int from_js(napi_env env, conv *cv, napi_value o, eve_val *out, int depth);

static int eve_rc(napi_env env, conv *cv, int rc, const char *what) {
  if (rc == 0) return 0;
  if (rc == EVE_ETXN && cv->needs_write_ok) return NEEDS_WRITE;
  throw_eve(env, rc, what);
  return JS_ABORT;
}

/* The UTF-8 text of a JS string, in buf (of cap bytes) or malloc'ed
 * (*heap set: free it). */
static int js_text(napi_env env, napi_value s, char *buf, size_t cap, char **text, size_t *n,
                   int *heap) {
  size_t len;
  NCI(napi_get_value_string_utf8(env, s, NULL, 0, &len));
  *heap = 0;
  char *p = buf;
  if (len + 1 > cap) {
    p = malloc(len + 1);
    if (!p) return throw_eve(env, EVE_ENOMEM, "text"), JS_ABORT;
    *heap = 1;
  }
  if (napi_get_value_string_utf8(env, s, p, len + 1, &len) != napi_ok) {
    if (*heap) free(p);
    if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: cannot read a string");
    return JS_ABORT;
  }
  *text = p;
  *n = len;
  return 0;
}

static int text_from_js(napi_env env, conv *cv, napi_value s, eve_type kind, eve_val *out) {
  char buf[256], *p;
  size_t n;
  int heap;
  int rc = js_text(env, s, buf, sizeof buf, &p, &n, &heap);
  if (rc) return rc;
  rc = kind == EVE_KEYWORD ? eve_keyword(cv->c.t, p, n, out)
       : kind == EVE_SYMBOL ? eve_symbol(cv->c.t, p, n, out)
                            : eve_string(cv->c.t, p, n, out);
  if (heap) free(p);
  return eve_rc(env, cv, rc, "store text");
}

static int is_instance(napi_env env, napi_value o, napi_ref cls_ref) {
  napi_value cls;
  bool b = false;
  if (napi_get_reference_value(env, cls_ref, &cls) != napi_ok) return 0;
  if (napi_instanceof(env, o, cls, &b) != napi_ok) return 0;
  return b;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static int uuid_from_js(napi_env env, conv *cv, napi_value o, eve_val *out) {
  napi_value s;
  NCI(napi_get_named_property(env, o, "value", &s));
  char buf[64];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, s, buf, sizeof buf, &n) != napi_ok) {
    throw_type(env, "Uuid.value must be a string");
    return JS_ABORT;
  }
  uint8_t u[16];
  size_t k = 0;
  for (size_t i = 0; i < n && k < 32; i++) {
    if (buf[i] == '-') continue;
    int h = hexval(buf[i]);
    if (h < 0) break;
    if (k % 2 == 0) u[k / 2] = (uint8_t)(h << 4);
    else u[k / 2] |= (uint8_t)h;
    k++;
  }
  if (k != 32 || n != 36) {
    throw_type(env, "Uuid.value is not a uuid (8-4-4-4-12 hex digits)");
    return JS_ABORT;
  }
  return eve_rc(env, cv, eve_uuid(cv->c.t, u, out), "store uuid");
}

/* eve.edn(text): the value the EDN text reads as, built in place */
static int edn_from_js(napi_env env, conv *cv, napi_value o, eve_val *out) {
  napi_value s;
  napi_valuetype t;
  NCI(napi_get_named_property(env, o, "text", &s));
  NCI(napi_typeof(env, s, &t));
  if (t != napi_string) return throw_type(env, "Edn.text must be a string"), JS_ABORT;
  char buf[256], *p;
  size_t n;
  int heap;
  int rc = js_text(env, s, buf, sizeof buf, &p, &n, &heap);
  if (rc) return rc;
  eve_parse_error pe;
  rc = eve_read_edn(cv->c.t, p, n, out, &pe);
  if (heap) free(p);
  if (rc == EVE_EPARSE || rc == EVE_EDEPTH) {
    char what[200];
    snprintf(what, sizeof what, "edn at line %d, column %d: %s", pe.line, pe.column, pe.message);
    throw_eve(env, rc, what);
    return JS_ABORT;
  }
  return eve_rc(env, cv, rc, "edn");
}

static int keep_snapshot(napi_env env, conv *cv, eve_txn *snap) {
  if (cv->nkeep == cv->capkeep) {
    size_t cap = cv->capkeep ? cv->capkeep * 2 : 8;
    eve_txn **k = realloc(cv->keep, cap * sizeof *k);
    if (!k) return throw_eve(env, EVE_ENOMEM, "swap"), JS_ABORT;
    cv->keep = k;
    cv->capkeep = cap;
  }
  int rc = eve_txn_retain(snap);
  if (rc) return throw_eve(env, rc, "retain snapshot"), JS_ABORT;
  cv->keep[cv->nkeep++] = snap;
  return 0;
}

static void keep_release(conv *cv) {
  for (size_t i = 0; i < cv->nkeep; i++) eve_txn_end(cv->keep[i]);
  free(cv->keep);
  cv->keep = NULL;
  cv->nkeep = cv->capkeep = 0;
}

/* A view: its own word when it belongs to the same domain handle; a copy
 * (through EDN) from another domain. */
static int view_from_js(napi_env env, conv *cv, view *v, eve_val *out) {
  ctx src;
  if (view_ctx(env, v, &src)) return JS_ABORT;
  if (v->dr->s == cv->c.dr->s) {
    if (v->sc && v->sc != cv->c.sc) {
      throw_eve(env, EVE_ETXN, "a view of another swap used");
      return JS_ABORT;
    }
    if (!v->sc && cv->c.sc) {
      int rc = keep_snapshot(env, cv, v->snap);
      if (rc) return rc;
    }
    *out = v->v;
    return 0;
  }
  char *text;
  size_t n;
  int rc = eve_print_edn(src.t, v->v, &text, &n);
  if (rc) return throw_eve(env, rc, "copy between domains"), JS_ABORT;
  rc = eve_read_edn(cv->c.t, text, n, out, NULL);
  eve_free(text);
  return eve_rc(env, cv, rc, "copy between domains");
}

static int seq_from_js(napi_env env, conv *cv, napi_value arr, int is_set, eve_val *out,
                       int depth) {
  uint32_t n;
  NCI(napi_get_array_length(env, arr, &n));
  eve_val acc = is_set ? EVE_V_EMPTY_SET : EVE_V_EMPTY_VECTOR, x;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    NCI(napi_get_element(env, arr, i, &el));
    int rc = from_js(env, cv, el, &x, depth + 1);
    if (rc) return rc;
    rc = eve_rc(env, cv, is_set ? eve_set_conj(cv->c.t, acc, x, &acc) : eve_vec_conj(cv->c.t, acc, x, &acc),
                "build collection");
    if (rc) return rc;
  }
  *out = acc;
  return 0;
}

/* flat [k0, v0, k1, v1, ...] -> map */
static int pairs_from_js(napi_env env, conv *cv, napi_value arr, eve_val *out, int depth) {
  uint32_t n;
  NCI(napi_get_array_length(env, arr, &n));
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  for (uint32_t i = 0; i + 1 < n; i += 2) {
    napi_value jk, jv;
    NCI(napi_get_element(env, arr, i, &jk));
    NCI(napi_get_element(env, arr, i + 1, &jv));
    int rc = from_js(env, cv, jk, &k, depth + 1);
    if (!rc) rc = from_js(env, cv, jv, &v, depth + 1);
    if (!rc) rc = eve_rc(env, cv, eve_map_assoc(cv->c.t, m, k, v, &m), "build map");
    if (rc) return rc;
  }
  *out = m;
  return 0;
}

static int object_from_js(napi_env env, conv *cv, napi_value o, eve_val *out, int depth) {
  napi_value keys;
  NCI(napi_get_all_property_names(env, o, napi_key_own_only,
                                  napi_key_enumerable | napi_key_skip_symbols,
                                  napi_key_numbers_to_strings, &keys));
  uint32_t n;
  NCI(napi_get_array_length(env, keys, &n));
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  for (uint32_t i = 0; i < n; i++) {
    napi_value jk, jv;
    NCI(napi_get_element(env, keys, i, &jk));
    NCI(napi_get_property(env, o, jk, &jv));
    int rc = text_from_js(env, cv, jk, EVE_STRING, &k);
    if (!rc) rc = from_js(env, cv, jv, &v, depth + 1);
    if (!rc) rc = eve_rc(env, cv, eve_map_assoc(cv->c.t, m, k, v, &m), "build map");
    if (rc) return rc;
  }
  *out = m;
  return 0;
}

static int type_error_for(napi_env env, napi_value o, const char *kind) {
  char msg[200], name[96] = "";
  if (!strcmp(kind, "object")) {
    napi_value ctor, nm;
    napi_valuetype t;
    size_t n;
    if (napi_get_named_property(env, o, "constructor", &ctor) == napi_ok &&
        napi_typeof(env, ctor, &t) == napi_ok && t == napi_function &&
        napi_get_named_property(env, ctor, "name", &nm) == napi_ok &&
        napi_typeof(env, nm, &t) == napi_ok && t == napi_string)
      napi_get_value_string_utf8(env, nm, name, sizeof name, &n);
    if (exc_pending(env)) return JS_ABORT;
  }
  snprintf(msg, sizeof msg, "eve cannot store a value of type %s%s%s", kind, *name ? " " : "",
           name);
  throw_type(env, msg);
  return JS_ABORT;
}

static int from_js(napi_env env, conv *cv, napi_value o, eve_val *out, int depth) {
  if (depth >= EVE_MAX_NESTING) {
    throw_eve(env, EVE_EDEPTH, "store value (a cycle, or nested too deep)");
    return JS_ABORT;
  }
  envdata *e = get_env(env);
  napi_valuetype t;
  NCI(napi_typeof(env, o, &t));
  switch (t) {
  case napi_undefined:
  case napi_null: *out = EVE_V_NIL; return 0;
  case napi_boolean: {
    bool b;
    NCI(napi_get_value_bool(env, o, &b));
    return eve_bool(b, out) ? JS_ABORT : 0;
  }
  case napi_number: {
    double d;
    NCI(napi_get_value_double(env, o, &d));
    if (isfinite(d) && d == floor(d) && fabs(d) <= (double)MAX_SAFE && !(d == 0 && signbit(d)))
      return eve_rc(env, cv, eve_int(cv->c.t, (int64_t)d, out), "store int");
    return eve_rc(env, cv, eve_float(cv->c.t, d, out), "store float");
  }
  case napi_bigint: {
    int64_t i;
    bool lossless;
    NCI(napi_get_value_bigint_int64(env, o, &i, &lossless));
    if (!lossless) {
      throw_range(env, "BigInt outside int64 (eve ints are 64-bit signed)");
      return JS_ABORT;
    }
    return eve_rc(env, cv, eve_int(cv->c.t, i, out), "store int");
  }
  case napi_string: return text_from_js(env, cv, o, EVE_STRING, out);
  case napi_symbol: return type_error_for(env, o, "symbol");
  case napi_function: return type_error_for(env, o, "function");
  case napi_external: return type_error_for(env, o, "external");
  case napi_object: break;
  }
  view *v = as_view(env, o);
  if (v) return view_from_js(env, cv, v, out);
  bool b;
  NCI(napi_is_array(env, o, &b));
  if (b) return seq_from_js(env, cv, o, 0, out, depth);
  NCI(napi_is_typedarray(env, o, &b));
  if (b) {
    napi_typedarray_type tt;
    size_t len, off;
    void *data;
    napi_value ab;
    NCI(napi_get_typedarray_info(env, o, &tt, &len, &data, &ab, &off));
    if (tt != napi_uint8_array) return type_error_for(env, o, "object");
    return eve_rc(env, cv, eve_bytes(cv->c.t, len ? data : "", len, out), "store bytes");
  }
  NCI(napi_is_date(env, o, &b));
  if (b) {
    double ms;
    NCI(napi_get_date_value(env, o, &ms));
    if (!isfinite(ms)) {
      throw_range(env, "eve cannot store an invalid Date");
      return JS_ABORT;
    }
    return eve_rc(env, cv, eve_inst(cv->c.t, (int64_t)floor(ms), out), "store inst");
  }
  if (is_instance(env, o, e->keyword) || is_instance(env, o, e->symbol)) {
    napi_value nm;
    NCI(napi_get_named_property(env, o, "name", &nm));
    NCI(napi_typeof(env, nm, &t));
    if (t != napi_string) return throw_type(env, "keyword/symbol name must be a string"), JS_ABORT;
    return text_from_js(env, cv, nm, is_instance(env, o, e->keyword) ? EVE_KEYWORD : EVE_SYMBOL,
                        out);
  }
  if (is_instance(env, o, e->uuid)) return uuid_from_js(env, cv, o, out);
  if (is_instance(env, o, e->edn)) return edn_from_js(env, cv, o, out);
  if (is_instance(env, o, e->map_ctor)) {
    napi_value flat = call_helper(env, e->map_entries, o);
    return flat ? pairs_from_js(env, cv, flat, out, depth) : JS_ABORT;
  }
  if (is_instance(env, o, e->set_ctor)) {
    napi_value arr = call_helper(env, e->set_values, o);
    return arr ? seq_from_js(env, cv, arr, 1, out, depth) : JS_ABORT;
  }
  napi_value proto, objproto;
  NCI(napi_get_prototype(env, o, &proto));
  NCI(napi_get_reference_value(env, e->object_proto, &objproto));
  napi_valuetype pt;
  NCI(napi_typeof(env, proto, &pt));
  NCI(napi_strict_equals(env, proto, objproto, &b));
  if (b || pt == napi_null) return object_from_js(env, cv, o, out, depth);
  return type_error_for(env, o, "object");
}

/* ---- the scratch domain (EDN of plain values) -------------------------------- */

static pthread_mutex_t scratch_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_dom *scratch;

static shared_dom *scratch_get(napi_env env) {
  pthread_mutex_lock(&scratch_mu);
  if (!scratch) {
    eve_options o;
    memset(&o, 0, sizeof o);
    o.max_size = 256u << 20;
    eve_domain *d;
    int rc = eve_open(NULL, &o, &d);
    if (rc) {
      pthread_mutex_unlock(&scratch_mu);
      throw_eve(env, rc, "open scratch domain");
      return NULL;
    }
    scratch = shared_new(d);
    if (!scratch) eve_close(d);
  }
  shared_dom *s = scratch;
  pthread_mutex_unlock(&scratch_mu);
  if (!s) throw_eve(env, EVE_ENOMEM, "open scratch domain");
  return s;
}

/* ---- externals: domains and atoms ------------------------------------------ */

static void domobj_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  domobj *o = data;
  if (!o->released) dref_unref(o->dr);
  free(o);
}

static napi_value domobj_new(napi_env env, shared_dom *s) {
  dref *r = calloc(1, sizeof *r);
  domobj *o = calloc(1, sizeof *o);
  if (!r || !o) {
    free(r);
    free(o);
    shared_unref(s);
    throw_eve(env, EVE_ENOMEM, "open");
    return NULL;
  }
  r->refs = 1;
  r->s = s;
  o->dr = r;
  napi_value ext;
  if (napi_create_external(env, o, domobj_finalize, NULL, &ext) != napi_ok) {
    dref_unref(r);
    free(o);
    if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: cannot make a domain");
    return NULL;
  }
  return ext;
}

static domobj *get_domobj(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &p) != napi_ok || !p) {
    throw_type(env, "not an eve domain");
    return NULL;
  }
  return p;
}

/* The handle for a new operation, or NULL (EVE_EINVAL thrown) once closed. */
static dref *open_dref(napi_env env, napi_value v) {
  domobj *o = get_domobj(env, v);
  if (!o) return NULL;
  if (o->released || o->dr->closed) {
    throw_eve(env, EVE_EINVAL, "domain is closed");
    return NULL;
  }
  return o->dr;
}

typedef struct atomh {
  int refs;
  dref *dr;
  eve_atom *a;
  char *name;
  napi_env env;
  /* The view the last deref made (a weak reference) and the atom's version
   * read before it: while the version is unchanged, deref returns that same
   * (immutable) view again instead of making a new one. */
  napi_ref cached;
  uint64_t cached_version;
} atomh;

static void atomh_unref(atomh *h) {
  if (--h->refs) return;
  if (h->cached) napi_delete_reference(h->env, h->cached);
  eve_atom_close(h->a);
  dref_unref(h->dr);
  free(h->name);
  free(h);
}

static void atomh_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  atomh_unref(data);
}

static atomh *get_atom(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &p) != napi_ok || !p) {
    throw_type(env, "not an eve atom");
    return NULL;
  }
  atomh *h = p;
  if (h->dr->closed) {
    throw_eve(env, EVE_EINVAL, "domain is closed");
    return NULL;
  }
  return h;
}

static int get_u64_opt(napi_env env, napi_value opts, const char *key, uint64_t *out) {
  bool has = false;
  if (napi_has_named_property(env, opts, key, &has) != napi_ok || !has) return 0;
  napi_value v;
  napi_valuetype t;
  NCI(napi_get_named_property(env, opts, key, &v));
  NCI(napi_typeof(env, v, &t));
  if (t == napi_undefined) return 0;
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) ||
      d != floor(d) || d > 1.8e19) {
    char msg[96];
    snprintf(msg, sizeof msg, "open: option %s must be a non-negative integer", key);
    throw_type(env, msg);
    return JS_ABORT;
  }
  *out = (uint64_t)d;
  return 0;
}

/* open(path | null, {maxSize, initialSize, mode, flags}) -> domain external */
static napi_value js_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  napi_valuetype t;
  NC(napi_typeof(env, argv[0], &t));
  char buf[1024], *path = NULL;
  size_t n;
  int heap = 0;
  if (t == napi_string) {
    if (js_text(env, argv[0], buf, sizeof buf, &path, &n, &heap)) return NULL;
  } else if (t != napi_undefined && t != napi_null) {
    throw_type(env, "open: path must be a string (or nothing, for an in-memory domain)");
    return NULL;
  }
  eve_options o;
  memset(&o, 0, sizeof o);
  NC(napi_typeof(env, argv[1], &t));
  uint64_t flags = 0, mode = 0;
  if (t == napi_object &&
      (get_u64_opt(env, argv[1], "maxSize", &o.max_size) ||
       get_u64_opt(env, argv[1], "initialSize", &o.initial_size) ||
       get_u64_opt(env, argv[1], "mode", &mode) || get_u64_opt(env, argv[1], "flags", &flags))) {
    if (heap) free(path);
    return NULL;
  }
  o.flags = (unsigned)flags;
  o.mode = (unsigned)mode;
  eve_domain *d;
  int rc = eve_open(path, &o, &d);
  if (heap) free(path);
  if (rc) return throw_eve(env, rc, "open"), NULL;
  shared_dom *s = shared_new(d);
  if (!s) {
    eve_close(d);
    return throw_eve(env, EVE_ENOMEM, "open"), NULL;
  }
  return domobj_new(env, s);
}

/* handle(domain) -> "eve-domain:<pid>:<id>" */
static napi_value js_handle(napi_env env, napi_callback_info info) {
  ARGS(1);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  char s[64];
  snprintf(s, sizeof s, "eve-domain:%ld:%llu", (long)getpid(), (unsigned long long)r->s->id);
  napi_value out;
  NC(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value js_join(napi_env env, napi_callback_info info) {
  ARGS(1);
  char s[96];
  size_t n = 0;
  napi_valuetype t;
  NC(napi_typeof(env, argv[0], &t));
  if (t != napi_string) return throw_type(env, "join: the handle must be a string"), NULL;
  NC(napi_get_value_string_utf8(env, argv[0], s, sizeof s, &n));
  long pid;
  unsigned long long id;
  int used = 0;
  if (sscanf(s, "eve-domain:%ld:%llu%n", &pid, &id, &used) != 2 || (size_t)used != n) {
    throw_eve(env, EVE_EINVAL, "join: not a domain handle");
    return NULL;
  }
  if (pid != (long)getpid()) {
    throw_eve(env, EVE_EINVAL, "join: a handle of another process (open a file domain by path)");
    return NULL;
  }
  shared_dom *sd = shared_join(id);
  if (!sd) {
    throw_eve(env, EVE_ENOTFOUND, "join: that domain is closed");
    return NULL;
  }
  return domobj_new(env, sd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  domobj *o = get_domobj(env, argv[0]);
  if (!o) return NULL;
  if (!o->released) {
    o->released = 1;
    o->dr->closed = 1;
    dref_unref(o->dr);
  }
  return undefined(env);
}

static napi_value js_atom(napi_env env, napi_callback_info info) {
  ARGS(3);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  char buf[256], *name;
  size_t n;
  int heap;
  napi_valuetype t;
  NC(napi_typeof(env, argv[1], &t));
  if (t != napi_string) return throw_type(env, "atom: the name must be a string"), NULL;
  if (js_text(env, argv[1], buf, sizeof buf, &name, &n, &heap)) return NULL;
  bool create = true;
  NC(napi_typeof(env, argv[2], &t));
  if (t == napi_boolean) NC(napi_get_value_bool(env, argv[2], &create));
  atomh *h = calloc(1, sizeof *h);
  char *copy = h && strlen(name) == n ? strdup(name) : NULL;
  if (heap) free(name);
  if (!copy) {
    free(h);
    throw_eve(env, h ? EVE_EINVAL : EVE_ENOMEM, "atom: a name with NUL");
    return NULL;
  }
  int rc = eve_atom_open(r->s->d, copy, create ? EVE_ATOM_CREATE : 0, &h->a);
  if (rc) {
    free(copy);
    free(h);
    throw_eve(env, rc, "atom");
    return NULL;
  }
  h->refs = 1;
  h->dr = r;
  r->refs++;
  h->name = copy;
  h->env = env;
  napi_value ext;
  if (napi_create_external(env, h, atomh_finalize, NULL, &ext) != napi_ok) {
    atomh_unref(h);
    if (!exc_pending(env)) napi_throw_error(env, NULL, "eve: cannot make an atom");
    return NULL;
  }
  return ext;
}

static napi_value js_remove_atom(napi_env env, napi_callback_info info) {
  ARGS(2);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  char buf[256], *name;
  size_t n;
  int heap;
  napi_valuetype t;
  NC(napi_typeof(env, argv[1], &t));
  if (t != napi_string) return throw_type(env, "removeAtom: the name must be a string"), NULL;
  if (js_text(env, argv[1], buf, sizeof buf, &name, &n, &heap)) return NULL;
  int rc = strlen(name) == n ? eve_atom_remove(r->s->d, name) : EVE_EINVAL;
  if (heap) free(name);
  if (rc) return throw_eve(env, rc, "removeAtom"), NULL;
  return undefined(env);
}

typedef struct names_ctx {
  napi_env env;
  napi_value arr;
  uint32_t i;
} names_ctx;

static int add_name(void *arg, const char *name, size_t n) {
  names_ctx *c = arg;
  napi_value s;
  if (napi_create_string_utf8(c->env, name, n, &s) != napi_ok ||
      napi_set_element(c->env, c->arr, c->i++, s) != napi_ok)
    return JS_ABORT;
  return 0;
}

static napi_value js_atoms(napi_env env, napi_callback_info info) {
  ARGS(1);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  eve_txn *t;
  int rc = eve_txn_begin(r->s->d, EVE_TXN_READ, &t);
  if (rc) return throw_eve(env, rc, "atoms"), NULL;
  names_ctx c = {env, NULL, 0};
  if (napi_create_array(env, &c.arr) != napi_ok) rc = JS_ABORT;
  else rc = eve_atom_names_each(t, add_name, &c);
  eve_txn_end(t);
  if (rc) {
    if (rc == JS_ABORT && !exc_pending(env)) napi_throw_error(env, NULL, "eve: atoms");
    throw_eve(env, rc, "atoms");
    return NULL;
  }
  return c.arr;
}

static int set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value x;
  NCI(napi_create_double(env, v, &x));
  NCI(napi_set_named_property(env, o, k, x));
  return 0;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  ARGS(1);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  eve_stats s;
  int rc = eve_stats_get(r->s->d, &s);
  if (rc) return throw_eve(env, rc, "stats"), NULL;
  napi_value o;
  NC(napi_create_object(env, &o));
  if (set_num(env, o, "fileBytes", (double)s.file_bytes) ||
      set_num(env, o, "liveBytes", (double)s.live_bytes) ||
      set_num(env, o, "freeBytes", (double)s.free_bytes) ||
      set_num(env, o, "retiredBytes", (double)s.retired_bytes) ||
      set_num(env, o, "atoms", (double)s.atoms) || set_num(env, o, "readers", (double)s.readers) ||
      set_num(env, o, "oldestPinMs", (double)s.oldest_pin_ms) ||
      set_num(env, o, "oldestPinPid", (double)s.oldest_pin_pid) ||
      set_num(env, o, "diskBytes", (double)s.disk_bytes) ||
      set_num(env, o, "snapshots", (double)s.snapshots))
    return NULL;
  return o;
}

static napi_value js_check(napi_env env, napi_callback_info info) {
  ARGS(1);
  dref *r = open_dref(env, argv[0]);
  if (!r) return NULL;
  eve_check_report rep;
  int rc = eve_check(r->s->d, &rep, NULL, NULL);
  if (rc && rc != EVE_ECORRUPT) return throw_eve(env, rc, "check"), NULL;
  napi_value o;
  NC(napi_create_object(env, &o));
  if (set_num(env, o, "blocks", (double)rep.blocks) ||
      set_num(env, o, "reachableBytes", (double)rep.reachable_bytes) ||
      set_num(env, o, "leakedBytes", (double)rep.leaked_bytes) ||
      set_num(env, o, "problems", (double)rep.problems))
    return NULL;
  napi_value ok;
  NC(napi_get_boolean(env, rc == 0, &ok));
  NC(napi_set_named_property(env, o, "ok", ok));
  return o;
}

/* ---- atoms ------------------------------------------------------------------ */

static int check_reentry(napi_env env, atomh *h) {
  envdata *e = get_env(env);
  for (int i = 0; i < e->nswaps; i++)
    if (e->swaps[i].s == h->dr->s && !strcmp(e->swaps[i].name, h->name)) {
      throw_eve(env, EVE_EREENTRY, "change inside its own swap");
      return -1;
    }
  return 0;
}

static napi_value js_deref(napi_env env, napi_callback_info info) {
  ARGS(1);
  atomh *h = get_atom(env, argv[0]);
  if (!h) return NULL;
  uint64_t ver = 0;
  int vrc = eve_atom_version_get(h->a, &ver);
  if (vrc == 0 && h->cached && ver == h->cached_version) {
    napi_value cached = NULL;
    if (napi_get_reference_value(env, h->cached, &cached) == napi_ok && cached) return cached;
  }
  eve_txn *s;
  int rc = eve_txn_begin(h->dr->s->d, EVE_TXN_SNAPSHOT, &s);
  if (rc) return throw_eve(env, rc, "deref"), NULL;
  eve_val v;
  napi_value r = NULL;
  rc = eve_deref(s, h->a, &v);
  if (rc) throw_eve(env, rc, "deref");
  else {
    ctx c = {h->dr, s, NULL};
    r = to_js(env, &c, v);
  }
  eve_txn_end(s); /* a view holds its own reference */
  if (r && vrc == 0 && as_view(env, r)) {
    if (h->cached) napi_delete_reference(env, h->cached);
    h->cached = NULL;
    if (napi_create_reference(env, r, 0, &h->cached) == napi_ok) h->cached_version = ver;
    else h->cached = NULL;
  }
  return r;
}

static napi_value js_reset(napi_env env, napi_callback_info info) {
  ARGS(2);
  atomh *h = get_atom(env, argv[0]);
  if (!h || check_reentry(env, h)) return NULL;
  eve_txn *w;
  int rc = eve_txn_begin(h->dr->s->d, EVE_TXN_WRITE, &w);
  if (rc) return throw_eve(env, rc, "reset"), NULL;
  conv cv = {{h->dr, w, NULL}, 0, NULL, 0, 0};
  eve_val v;
  rc = from_js(env, &cv, argv[1], &v, 0);
  if (!rc) rc = eve_reset(w, h->a, v);
  eve_txn_end(w);
  keep_release(&cv);
  if (rc) return throw_eve(env, rc, "reset"), NULL;
  return undefined(env);
}

static napi_value js_cas(napi_env env, napi_callback_info info) {
  ARGS(3);
  atomh *h = get_atom(env, argv[0]);
  if (!h || check_reentry(env, h)) return NULL;
  eve_txn *w;
  int rc = eve_txn_begin(h->dr->s->d, EVE_TXN_WRITE, &w);
  if (rc) return throw_eve(env, rc, "compareAndSet"), NULL;
  conv cv = {{h->dr, w, NULL}, 0, NULL, 0, 0};
  eve_val o, n;
  rc = from_js(env, &cv, argv[1], &o, 0);
  if (!rc) rc = from_js(env, &cv, argv[2], &n, 0);
  if (!rc) rc = eve_compare_and_set(w, h->a, o, n);
  eve_txn_end(w);
  keep_release(&cv);
  if (rc == EVE_ECONFLICT) rc = 1;
  else if (rc) return throw_eve(env, rc, "compareAndSet"), NULL;
  napi_value r;
  NC(napi_get_boolean(env, rc == 0, &r));
  return r;
}

typedef struct swapctx {
  napi_env env;
  atomh *h;
  napi_value fn;
  napi_value *argv; /* [view, ...args] */
  size_t argc;
  conv cv;
} swapctx;

/* eve_swap_fn: call the JS function on a view of old (a view of this
 * attempt, closed when it returns) and convert what it returns. */
static int swap_cb(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  swapctx *s = arg;
  napi_env env = s->env;
  scope *sc = malloc(sizeof *sc);
  if (!sc) return EVE_ENOMEM;
  sc->refs = 1;
  sc->t = t;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) {
    free(sc);
    return JS_ABORT;
  }
  s->cv.c.t = t;
  s->cv.c.sc = sc;
  int rc = JS_ABORT;
  napi_value v = to_js(env, &s->cv.c, old), res;
  if (v) {
    s->argv[0] = v;
    if (napi_call_function(env, undefined(env), s->fn, s->argc, s->argv, &res) == napi_ok)
      rc = from_js(env, &s->cv, res, out, 0);
  }
  if (rc == NEEDS_WRITE) rc = EVE_ETXN; /* cannot happen in a write txn */
  napi_close_handle_scope(env, hs);
  sc->t = NULL; /* this attempt's values end with it */
  scope_unref(sc);
  s->cv.c.sc = NULL;
  return rc;
}

/* swap(atom, fn, argsArray, mode) -> new, [old, new] (mode 1) or nothing
 * (mode 2): values
 * of a snapshot begun before the write, so both stay readable. */
static napi_value js_swap(napi_env env, napi_callback_info info) {
  ARGS(4);
  atomh *h = get_atom(env, argv[0]);
  if (!h || check_reentry(env, h)) return NULL;
  napi_valuetype t;
  NC(napi_typeof(env, argv[1], &t));
  if (t != napi_function) return throw_type(env, "swap: fn must be a function"), NULL;
  /* mode: 0 the new value, 1 [old, new], 2 nothing (no snapshot: the
   * swap pins nothing once it returns) */
  int32_t mode = 0;
  bool isarr = false;
  NC(napi_get_value_int32(env, argv[3], &mode));
  NC(napi_is_array(env, argv[2], &isarr));
  uint32_t nargs = 0;
  if (isarr) NC(napi_get_array_length(env, argv[2], &nargs));
  envdata *e = get_env(env);
  if (e->nswaps == MAX_NESTED_SWAPS) {
    throw_range(env, "eve: swaps nested too deep");
    return NULL;
  }
  swapctx sc = {env, h, argv[1], NULL, (size_t)nargs + 1, {{h->dr, NULL, NULL}, 0, NULL, 0, 0}};
  sc.argv = malloc(sc.argc * sizeof *sc.argv);
  if (!sc.argv) return throw_eve(env, EVE_ENOMEM, "swap"), NULL;
  for (uint32_t i = 0; i < nargs; i++)
    if (napi_get_element(env, argv[2], i, &sc.argv[i + 1]) != napi_ok) {
      free(sc.argv);
      NC(napi_generic_failure);
    }
  eve_txn *s = NULL, *w = NULL;
  int rc = mode == 2 ? 0 : eve_txn_begin(h->dr->s->d, EVE_TXN_SNAPSHOT, &s);
  if (!rc && (rc = eve_txn_begin(h->dr->s->d, EVE_TXN_WRITE, &w)) && s) {
    eve_txn_end(s);
    s = NULL;
  }
  napi_value r = NULL;
  if (!rc) {
    e->swaps[e->nswaps].s = h->dr->s;
    e->swaps[e->nswaps].name = h->name;
    e->nswaps++;
    struct conv *outer = e->swap_conv;
    e->swap_conv = &sc.cv;
    eve_val old, nw;
    rc = eve_swap_vals(w, h->a, swap_cb, &sc, &old, &nw);
    e->swap_conv = outer;
    e->nswaps--;
    if (!rc && mode == 2) {
      r = undefined(env);
    } else if (!rc) {
      ctx c = {h->dr, s, NULL};
      if (mode == 0) r = to_js(env, &c, nw);
      else {
        napi_value po = to_js(env, &c, old), pn = po ? to_js(env, &c, nw) : NULL;
        if (pn && napi_create_array_with_length(env, 2, &r) == napi_ok) {
          napi_set_element(env, r, 0, po);
          napi_set_element(env, r, 1, pn);
        }
      }
    }
    eve_txn_end(w);
    if (s) eve_txn_end(s);
  }
  keep_release(&sc.cv);
  free(sc.argv);
  if (rc) throw_eve(env, rc, "swap");
  return rc ? NULL : r;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  ARGS(1);
  atomh *h = get_atom(env, argv[0]);
  if (!h) return NULL;
  uint64_t v;
  int rc = eve_atom_version_get(h->a, &v);
  if (rc) return throw_eve(env, rc, "version"), NULL;
  napi_value r;
  NC(napi_create_double(env, (double)v, &r));
  return r;
}

/* wait(atom, seen, timeoutMs) -> Promise<version | null>: eve_wait on a
 * libuv worker thread, never on the event loop. */
typedef struct waitwork {
  atomh *h;
  uint64_t seen, now;
  int64_t timeout;
  int rc;
  napi_deferred def;
  napi_async_work work;
} waitwork;

static void wait_exec(napi_env env, void *data) {
  (void)env;
  waitwork *w = data;
  w->rc = eve_wait(w->h->a, w->seen, w->timeout, &w->now);
}

static void wait_done(napi_env env, napi_status status, void *data) {
  waitwork *w = data;
  napi_value v;
  if (status == napi_ok && (w->rc == 0 || w->rc == EVE_ETIMEDOUT)) {
    if (w->rc == 0) napi_create_double(env, (double)w->now, &v);
    else napi_get_null(env, &v);
    napi_resolve_deferred(env, w->def, v);
  } else {
    int code = status == napi_ok ? w->rc : EVE_EINVAL;
    throw_eve(env, code, "watch");
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) != napi_ok) napi_get_null(env, &err);
    napi_reject_deferred(env, w->def, err);
  }
  napi_delete_async_work(env, w->work);
  atomh_unref(w->h);
  free(w);
}

static napi_value js_wait(napi_env env, napi_callback_info info) {
  ARGS(3);
  atomh *h = get_atom(env, argv[0]);
  if (!h) return NULL;
  double seen, tmo;
  NC(napi_get_value_double(env, argv[1], &seen));
  NC(napi_get_value_double(env, argv[2], &tmo));
  waitwork *w = calloc(1, sizeof *w);
  if (!w) return throw_eve(env, EVE_ENOMEM, "watch"), NULL;
  w->h = h;
  w->seen = (uint64_t)seen;
  w->timeout = (int64_t)tmo;
  napi_value promise, name;
  if (napi_create_promise(env, &w->def, &promise) != napi_ok ||
      napi_create_string_utf8(env, "eve.wait", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, wait_exec, wait_done, w, &w->work) != napi_ok) {
    free(w);
    NC(napi_generic_failure);
  }
  h->refs++;
  if (napi_queue_async_work(env, w->work) != napi_ok) {
    h->refs--;
    napi_delete_async_work(env, w->work);
    free(w);
    NC(napi_generic_failure);
  }
  return promise;
}

/* ---- view methods ----------------------------------------------------------- */

static napi_value View_type(napi_env env, napi_callback_info info) {
  THIS();
  view *v = this_view(env, self, NULL);
  if (!v) return NULL;
  napi_value r;
  NC(napi_create_string_utf8(env, eve_type_name(v->ty), NAPI_AUTO_LENGTH, &r));
  return r;
}

static napi_value View_count(napi_env env, napi_callback_info info) {
  THIS();
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  uint64_t n;
  int rc = eve_count(c.t, v->v, &n);
  if (rc) return throw_eve(env, rc, "count"), NULL;
  napi_value r;
  NC(napi_create_double(env, (double)n, &r));
  return r;
}

typedef int (*lookup_fn)(eve_txn *t, eve_val coll, eve_val key, eve_val *out);

static int map_get(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  return eve_map_get(t, m, k, out);
}
static int set_has(eve_txn *t, eve_val s, eve_val k, eve_val *out) {
  int yes = 0;
  int rc = eve_set_contains(t, s, k, &yes);
  *out = yes ? EVE_V_TRUE : EVE_V_FALSE;
  return rc ? rc : yes ? 0 : EVE_ENOTFOUND;
}

/* Look key up with fn: text keys of maps by their bytes (no allocation);
 * other keys converted in the view's transaction, or, when that would
 * allocate in a snapshot, in a short write transaction of the domain (the
 * snapshot keeps the view's value readable there).  Returns 0,
 * EVE_ENOTFOUND, or JS_ABORT (thrown). */
static int view_lookup(napi_env env, view *self, ctx *c, napi_value key, lookup_fn fn,
                       eve_val *out) {
  napi_valuetype t;
  NCI(napi_typeof(env, key, &t));
  int rc;
  if (self->ty == EVE_MAP && t == napi_string) {
    char buf[256], *p;
    size_t n;
    int heap;
    if ((rc = js_text(env, key, buf, sizeof buf, &p, &n, &heap))) return rc;
    rc = eve_map_get_text(c->t, self->v, EVE_STRING, p, n, out);
    if (heap) free(p);
    if (rc == EVE_EINVAL) rc = EVE_ENOTFOUND;
    if (rc && rc != EVE_ENOTFOUND) throw_eve(env, rc, "get"), rc = JS_ABORT;
    return rc;
  }
  conv cv = {*c, 1, NULL, 0, 0};
  eve_val k;
  rc = from_js(env, &cv, key, &k, 0);
  if (rc == 0) rc = fn(c->t, self->v, k, out);
  else if (rc == NEEDS_WRITE) {
    eve_txn *w;
    rc = eve_txn_begin(self->dr->s->d, EVE_TXN_WRITE, &w);
    if (rc) return throw_eve(env, rc, "lookup"), JS_ABORT;
    conv wv = {{self->dr, w, NULL}, 0, NULL, 0, 0};
    rc = from_js(env, &wv, key, &k, 0);
    if (!rc) rc = fn(w, self->v, k, out);
    eve_txn_end(w); /* *out is a word of self->v, which the snapshot keeps */
  }
  keep_release(&cv);
  if (rc && rc != EVE_ENOTFOUND && rc != JS_ABORT) throw_eve(env, rc, "lookup"), rc = JS_ABORT;
  return rc;
}

static int list_nth(eve_txn *t, eve_val l, uint64_t i, eve_val *out) {
  eve_iter it;
  eve_val k, v;
  int rc = eve_iter_init(t, l, &it);
  while (rc == 0 && (rc = eve_iter_next(&it, &k, &v)) == 0)
    if (i-- == 0) return *out = k, 0;
  return rc == EVE_END ? EVE_ERANGE : rc;
}

/* _get(key, dflt): map value, set element (the key given), vector/list
 * element at an integer index; dflt when absent. */
static napi_value View_get(napi_env env, napi_callback_info info) {
  ARGS(2);
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  eve_val out;
  int rc;
  if (v->ty == EVE_MAP || v->ty == EVE_SET) {
    rc = view_lookup(env, v, &c, argv[0], v->ty == EVE_MAP ? map_get : set_has, &out);
    if (rc == JS_ABORT) return NULL;
    if (rc) return argv[1];
    return v->ty == EVE_MAP ? to_js(env, &c, out) : argv[0];
  }
  napi_valuetype t;
  NC(napi_typeof(env, argv[0], &t));
  double d;
  if (t != napi_number || napi_get_value_double(env, argv[0], &d) != napi_ok || d < 0 ||
      d != floor(d) || d > 1.8e19)
    return argv[1];
  rc = v->ty == EVE_VECTOR ? eve_vec_nth(c.t, v->v, (uint64_t)d, &out)
                           : list_nth(c.t, v->v, (uint64_t)d, &out);
  if (rc == EVE_ERANGE) return argv[1];
  if (rc) return throw_eve(env, rc, "nth"), NULL;
  return to_js(env, &c, out);
}

/* _has(key): a map's key, a set's element, a vector's or list's element
 * (eve equality). */
static napi_value View_has(napi_env env, napi_callback_info info) {
  ARGS(1);
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  int rc, found = 0;
  eve_val out;
  if (v->ty == EVE_MAP || v->ty == EVE_SET) {
    rc = view_lookup(env, v, &c, argv[0], v->ty == EVE_MAP ? map_get : set_has, &out);
    if (rc == JS_ABORT) return NULL;
    found = rc == 0;
  } else {
    conv cv = {c, 1, NULL, 0, 0};
    eve_val x;
    eve_txn *w = NULL;
    rc = from_js(env, &cv, argv[0], &x, 0);
    if (rc == NEEDS_WRITE) {
      if ((rc = eve_txn_begin(v->dr->s->d, EVE_TXN_WRITE, &w))) return throw_eve(env, rc, "has"), NULL;
      conv wv = {{v->dr, w, NULL}, 0, NULL, 0, 0};
      rc = from_js(env, &wv, argv[0], &x, 0);
    }
    keep_release(&cv);
    eve_txn *rt = w ? w : c.t;
    eve_iter it;
    eve_val k, val;
    if (!rc) rc = eve_iter_init(rt, v->v, &it);
    while (!rc && !found && (rc = eve_iter_next(&it, &k, &val)) == 0) rc = eve_equal(rt, k, x, &found);
    if (w) eve_txn_end(w);
    if (rc == EVE_END) rc = 0;
    if (rc) return throw_eve(env, rc, "has"), NULL;
  }
  napi_value r;
  NC(napi_get_boolean(env, found, &r));
  return r;
}

/* _items(mode): an array of keys/elements (0), values (1) or [key, value]
 * pairs (2). */
static napi_value View_items(napi_env env, napi_callback_info info) {
  ARGS(1);
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  int32_t mode = 0;
  napi_get_value_int32(env, argv[0], &mode);
  uint64_t n;
  eve_iter it;
  int rc = eve_count(c.t, v->v, &n);
  if (!rc) rc = eve_iter_init(c.t, v->v, &it);
  if (rc) return throw_eve(env, rc, "iterate"), NULL;
  napi_value arr;
  NC(napi_create_array_with_length(env, (size_t)n, &arr));
  eve_val k, val;
  uint32_t i = 0;
  while ((rc = eve_iter_next(&it, &k, &val)) == 0) {
    napi_value x;
    if (mode == 2) {
      napi_value jk = to_js(env, &c, k), jv = jk ? to_js(env, &c, val) : NULL;
      if (!jv) return NULL;
      NC(napi_create_array_with_length(env, 2, &x));
      NC(napi_set_element(env, x, 0, jk));
      NC(napi_set_element(env, x, 1, jv));
    } else if (!(x = to_js(env, &c, mode == 1 ? val : k)))
      return NULL;
    NC(napi_set_element(env, arr, i++, x));
  }
  if (rc != EVE_END) return throw_eve(env, rc, "iterate"), NULL;
  return arr;
}

static napi_value View_toJS(napi_env env, napi_callback_info info) {
  THIS();
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  return deep_js(env, &c, v->v);
}

static napi_value View_equals(napi_env env, napi_callback_info info) {
  ARGS(1);
  ctx c;
  view *v = this_view(env, self, &c);
  if (!v) return NULL;
  view *o = as_view(env, argv[0]);
  int eq = 0, rc;
  if (o && o->dr->s == v->dr->s) {
    ctx oc;
    if (view_ctx(env, o, &oc)) return NULL;
    rc = eve_equal(c.t, v->v, o->v, &eq);
  } else {
    conv cv = {c, 1, NULL, 0, 0};
    eve_val x;
    eve_txn *w = NULL;
    rc = from_js(env, &cv, argv[0], &x, 0);
    if (rc == NEEDS_WRITE) {
      if ((rc = eve_txn_begin(v->dr->s->d, EVE_TXN_WRITE, &w))) return throw_eve(env, rc, "equals"), NULL;
      conv wv = {{v->dr, w, NULL}, 0, NULL, 0, 0};
      rc = from_js(env, &wv, argv[0], &x, 0);
    }
    keep_release(&cv);
    if (rc == JS_ABORT) {
      if (w) eve_txn_end(w);
      /* a value eve cannot hold equals no view */
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_value r;
      NC(napi_get_boolean(env, 0, &r));
      return r;
    }
    if (!rc) rc = eve_equal(w ? w : c.t, v->v, x, &eq);
    if (w) eve_txn_end(w);
  }
  if (rc) return throw_eve(env, rc, "equals"), NULL;
  napi_value r;
  NC(napi_get_boolean(env, eq, &r));
  return r;
}

static napi_value print_val(napi_env env, eve_txn *t, eve_val v, int json) {
  char *s;
  size_t n;
  int rc = json ? eve_print_json(t, v, &s, &n) : eve_print_edn(t, v, &s, &n);
  if (rc) return throw_eve(env, rc, json ? "toJSON" : "toEDN"), NULL;
  napi_value r;
  napi_status st = napi_create_string_utf8(env, s, n, &r);
  eve_free(s);
  NC(st);
  return r;
}

/* toEDN(value, json): a view in its own transaction; anything else
 * converted in the scratch domain. */
static napi_value js_print(napi_env env, napi_callback_info info) {
  ARGS(2);
  bool json = false;
  napi_get_value_bool(env, argv[1], &json);
  view *v = as_view(env, argv[0]);
  if (v) {
    ctx c;
    if (view_ctx(env, v, &c)) return NULL;
    return print_val(env, c.t, v->v, json);
  }
  shared_dom *s = scratch_get(env);
  if (!s) return NULL;
  eve_txn *w;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &w);
  if (rc) return throw_eve(env, rc, "toEDN"), NULL;
  dref tmp = {1, 0, s};
  conv cv = {{&tmp, w, NULL}, 0, NULL, 0, 0};
  eve_val x;
  rc = from_js(env, &cv, argv[0], &x, 0);
  napi_value r = rc ? NULL : print_val(env, w, x, json);
  eve_txn_end(w);
  keep_release(&cv);
  return r;
}

/* fromEDN(text, json): plain JS values (nothing is published). */
static napi_value js_parse(napi_env env, napi_callback_info info) {
  ARGS(2);
  bool json = false;
  napi_get_value_bool(env, argv[1], &json);
  napi_valuetype t;
  NC(napi_typeof(env, argv[0], &t));
  if (t != napi_string) return throw_type(env, "fromEDN: the text must be a string"), NULL;
  shared_dom *s = scratch_get(env);
  if (!s) return NULL;
  char buf[256], *p;
  size_t n;
  int heap;
  if (js_text(env, argv[0], buf, sizeof buf, &p, &n, &heap)) return NULL;
  eve_txn *w;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &w);
  if (rc) {
    if (heap) free(p);
    return throw_eve(env, rc, "fromEDN"), NULL;
  }
  eve_val x;
  eve_parse_error pe;
  rc = json ? eve_read_json(w, p, n, &x, &pe) : eve_read_edn(w, p, n, &x, &pe);
  if (heap) free(p);
  napi_value r = NULL;
  if (rc) {
    char what[200];
    snprintf(what, sizeof what, "%s at line %d, column %d: %s", json ? "fromJSON" : "fromEDN",
             pe.line, pe.column, pe.message);
    throw_eve(env, rc, what);
  } else {
    dref tmp = {1, 0, s};
    ctx c = {&tmp, w, NULL};
    r = deep_js(env, &c, x);
  }
  eve_txn_end(w);
  return r;
}

/* ---- building inside a swap function ----------------------------------------- */

static view *build_view(napi_env env, napi_value self, conv *cv, const char *what) {
  view *v = this_view(env, self, &cv->c);
  if (!v) return NULL;
  if (!v->sc) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "%s: a view outside a swap is read-only (build values in the function given to swap, "
             "or with plain JS values)", what);
    throw_eve(env, EVE_ETXN, msg);
    return NULL;
  }
  cv->needs_write_ok = 0;
  cv->keep = NULL;
  cv->nkeep = cv->capkeep = 0;
  return v;
}

static napi_value built(napi_env env, conv *cv, int rc, eve_val out, const char *what) {
  if (cv->nkeep) {
    /* move the retained snapshots to the running swap (released after its
     * commit) */
    conv *sw = get_env(env)->swap_conv;
    if (sw) {
      for (size_t i = 0; i < cv->nkeep; i++) {
        if (keep_snapshot(env, sw, cv->keep[i])) {
          keep_release(cv);
          return NULL;
        }
      }
    }
    keep_release(cv);
  }
  if (rc) {
    if (rc == EVE_ERANGE) throw_range(env, "eve: index out of range");
    else throw_eve(env, rc, what);
    return NULL;
  }
  return to_js(env, &cv->c, out);
}

static napi_value View_assoc(napi_env env, napi_callback_info info) {
  ARGS(2);
  conv cv;
  view *v = build_view(env, self, &cv, "assoc");
  if (!v) return NULL;
  eve_val k, x, out = 0;
  int rc;
  if (v->ty == EVE_VECTOR) {
    double d;
    napi_valuetype t;
    NC(napi_typeof(env, argv[0], &t));
    if (t != napi_number || napi_get_value_double(env, argv[0], &d) != napi_ok || d < 0 ||
        d != floor(d))
      return throw_range(env, "assoc: a vector index must be a non-negative integer"), NULL;
    rc = from_js(env, &cv, argv[1], &x, 0);
    if (!rc) rc = eve_vec_assoc(cv.c.t, v->v, (uint64_t)d, x, &out);
  } else if (v->ty == EVE_MAP) {
    rc = from_js(env, &cv, argv[0], &k, 0);
    if (!rc) rc = from_js(env, &cv, argv[1], &x, 0);
    if (!rc) rc = eve_map_assoc(cv.c.t, v->v, k, x, &out);
  } else rc = EVE_ETYPE;
  return built(env, &cv, rc, out, "assoc");
}

static napi_value View_dissoc(napi_env env, napi_callback_info info) {
  ARGS(1);
  conv cv;
  view *v = build_view(env, self, &cv, "dissoc");
  if (!v) return NULL;
  eve_val k, out = 0;
  int rc = from_js(env, &cv, argv[0], &k, 0);
  if (!rc) rc = v->ty == EVE_MAP ? eve_map_dissoc(cv.c.t, v->v, k, &out)
              : v->ty == EVE_SET ? eve_set_disj(cv.c.t, v->v, k, &out)
                                 : EVE_ETYPE;
  return built(env, &cv, rc, out, "dissoc");
}

/* conj: vectors append, sets add, lists prepend (as in Clojure) */
static napi_value View_conj(napi_env env, napi_callback_info info) {
  ARGS(1);
  conv cv;
  view *v = build_view(env, self, &cv, "conj");
  if (!v) return NULL;
  eve_val x, out = 0;
  int rc = from_js(env, &cv, argv[0], &x, 0);
  if (!rc) rc = v->ty == EVE_VECTOR ? eve_vec_conj(cv.c.t, v->v, x, &out)
              : v->ty == EVE_SET    ? eve_set_conj(cv.c.t, v->v, x, &out)
              : v->ty == EVE_LIST   ? eve_list_cons(cv.c.t, x, v->v, &out)
                                    : EVE_ETYPE;
  return built(env, &cv, rc, out, "conj");
}

static napi_value View_pop(napi_env env, napi_callback_info info) {
  THIS();
  conv cv;
  view *v = build_view(env, self, &cv, "pop");
  if (!v) return NULL;
  eve_val out = 0;
  int rc = v->ty == EVE_VECTOR ? eve_vec_pop(cv.c.t, v->v, &out)
           : v->ty == EVE_LIST ? eve_list_rest(cv.c.t, v->v, &out)
                               : EVE_ETYPE;
  return built(env, &cv, rc, out, "pop");
}

static napi_value View_slice(napi_env env, napi_callback_info info) {
  ARGS(2);
  conv cv;
  view *v = build_view(env, self, &cv, "slice");
  if (!v) return NULL;
  double a, b;
  NC(napi_get_value_double(env, argv[0], &a));
  NC(napi_get_value_double(env, argv[1], &b));
  eve_val out = 0;
  int rc = v->ty != EVE_VECTOR ? EVE_ETYPE
           : a < 0 || b < a    ? EVE_ERANGE
                               : eve_vec_slice(cv.c.t, v->v, (uint64_t)a, (uint64_t)b, &out);
  return built(env, &cv, rc, out, "slice");
}

static napi_value View_merge(napi_env env, napi_callback_info info) {
  ARGS(1);
  conv cv;
  view *v = build_view(env, self, &cv, "merge");
  if (!v) return NULL;
  eve_val x, out = 0;
  int rc = from_js(env, &cv, argv[0], &x, 0);
  if (!rc) rc = v->ty == EVE_MAP ? eve_map_merge(cv.c.t, v->v, x, &out) : EVE_ETYPE;
  return built(env, &cv, rc, out, "merge");
}

static napi_value View_writable(napi_env env, napi_callback_info info) {
  THIS();
  view *v = this_view(env, self, NULL);
  if (!v) return NULL;
  napi_value r;
  NC(napi_get_boolean(env, v->sc && v->sc->t, &r));
  return r;
}

/* ---- module -------------------------------------------------------------------- */

static void envdata_free(napi_env env, void *data, void *hint) {
  (void)hint;
  envdata *e = data;
  if (e->ready) {
    napi_ref *refs[] = {&e->ctor[0], &e->ctor[1], &e->ctor[2], &e->ctor[3], &e->keyword,
                        &e->symbol, &e->uuid, &e->edn, &e->make_error, &e->make_keyword, &e->make_map,
                        &e->make_set, &e->map_entries, &e->set_values, &e->object_proto, &e->map_ctor,
                        &e->set_ctor};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) napi_delete_reference(env, *refs[i]);
  }
  free(e);
}

/* _init({Map, Vector, Set, List, Keyword, Sym, Uuid, makeError, makeMap,
 *        makeSet, mapEntries, setValues}) */
static napi_value js_init(napi_env env, napi_callback_info info) {
  ARGS(1);
  envdata *e = get_env(env);
  if (!e) return throw_type(env, "eve: no instance data"), NULL;
  if (e->ready) return undefined(env);
  static const char *names[] = {"Map", "Vector", "Set", "List", "Keyword", "Sym",
                                "Uuid", "Edn", "makeError", "makeKeyword", "makeMap", "makeSet", "mapEntries", "setValues"};
  napi_ref *dst[] = {&e->ctor[0], &e->ctor[1], &e->ctor[2], &e->ctor[3], &e->keyword, &e->symbol,
                     &e->uuid, &e->edn, &e->make_error, &e->make_keyword, &e->make_map, &e->make_set,
                     &e->map_entries,
                     &e->set_values};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    napi_value v;
    NC(napi_get_named_property(env, argv[0], names[i], &v));
    NC(napi_create_reference(env, v, 1, dst[i]));
  }
  napi_value global, objc, proto, mapc, setc;
  NC(napi_get_global(env, &global));
  NC(napi_get_named_property(env, global, "Object", &objc));
  NC(napi_get_named_property(env, objc, "prototype", &proto));
  NC(napi_create_reference(env, proto, 1, &e->object_proto));
  NC(napi_get_named_property(env, global, "Map", &mapc));
  NC(napi_create_reference(env, mapc, 1, &e->map_ctor));
  NC(napi_get_named_property(env, global, "Set", &setc));
  NC(napi_create_reference(env, setc, 1, &e->set_ctor));
  e->ready = 1;
  return undefined(env);
}

static napi_value js_is_view(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value r;
  NC(napi_get_boolean(env, as_view(env, argv[0]) != NULL, &r));
  return r;
}

static napi_value js_err_name(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t code = 0;
  napi_get_value_int32(env, argv[0], &code);
  napi_value r;
  NC(napi_create_string_utf8(env, eve_err_name(code), NAPI_AUTO_LENGTH, &r));
  return r;
}

/* the macro defines functions the headers do not declare */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  envdata *e = calloc(1, sizeof *e);
  if (!e || napi_set_instance_data(env, e, envdata_free, NULL) != napi_ok) {
    free(e);
    napi_throw_error(env, NULL, "eve: cannot initialise");
    return NULL;
  }
  napi_property_descriptor vp[] = {
      {"_type", NULL, View_type, NULL, NULL, NULL, napi_default_method, NULL},
      {"_count", NULL, View_count, NULL, NULL, NULL, napi_default_method, NULL},
      {"_get", NULL, View_get, NULL, NULL, NULL, napi_default_method, NULL},
      {"_has", NULL, View_has, NULL, NULL, NULL, napi_default_method, NULL},
      {"_items", NULL, View_items, NULL, NULL, NULL, napi_default_method, NULL},
      {"_toJS", NULL, View_toJS, NULL, NULL, NULL, napi_default_method, NULL},
      {"_equals", NULL, View_equals, NULL, NULL, NULL, napi_default_method, NULL},
      {"_assoc", NULL, View_assoc, NULL, NULL, NULL, napi_default_method, NULL},
      {"_dissoc", NULL, View_dissoc, NULL, NULL, NULL, napi_default_method, NULL},
      {"_conj", NULL, View_conj, NULL, NULL, NULL, napi_default_method, NULL},
      {"_pop", NULL, View_pop, NULL, NULL, NULL, napi_default_method, NULL},
      {"_slice", NULL, View_slice, NULL, NULL, NULL, napi_default_method, NULL},
      {"_merge", NULL, View_merge, NULL, NULL, NULL, napi_default_method, NULL},
      {"_writable", NULL, View_writable, NULL, NULL, NULL, napi_default_method, NULL},
  };
  /* one native class per collection type (index.js gives them their
   * JavaScript methods and a common parent): a view is made by one native
   * constructor call, with no JavaScript constructor chain */
  napi_value cls[4];
  static const char *cls_names[4] = {"EveMap", "EveVector", "EveSet", "EveList"};
  for (int i = 0; i < 4; i++)
    NC(napi_define_class(env, cls_names[i], NAPI_AUTO_LENGTH, View_ctor, NULL,
                         sizeof vp / sizeof vp[0], vp, &cls[i]));
  napi_property_descriptor fp[] = {
      {"MapView", NULL, NULL, NULL, NULL, cls[0], napi_enumerable, NULL},
      {"VectorView", NULL, NULL, NULL, NULL, cls[1], napi_enumerable, NULL},
      {"SetView", NULL, NULL, NULL, NULL, cls[2], napi_enumerable, NULL},
      {"ListView", NULL, NULL, NULL, NULL, cls[3], napi_enumerable, NULL},
      {"isView", NULL, js_is_view, NULL, NULL, NULL, napi_enumerable, NULL},
      {"_init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"join", NULL, js_join, NULL, NULL, NULL, napi_enumerable, NULL},
      {"handle", NULL, js_handle, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"atom", NULL, js_atom, NULL, NULL, NULL, napi_enumerable, NULL},
      {"removeAtom", NULL, js_remove_atom, NULL, NULL, NULL, napi_enumerable, NULL},
      {"atoms", NULL, js_atoms, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"check", NULL, js_check, NULL, NULL, NULL, napi_enumerable, NULL},
      {"deref", NULL, js_deref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reset", NULL, js_reset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swap", NULL, js_swap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compareAndSet", NULL, js_cas, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, js_version, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wait", NULL, js_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"print", NULL, js_print, NULL, NULL, NULL, napi_enumerable, NULL},
      {"parse", NULL, js_parse, NULL, NULL, NULL, napi_enumerable, NULL},
      {"errName", NULL, js_err_name, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NC(napi_define_properties(env, exports, sizeof fp / sizeof fp[0], fp));
  napi_value ver;
  NC(napi_create_string_utf8(env, eve_version(), NAPI_AUTO_LENGTH, &ver));
  NC(napi_set_named_property(env, exports, "version", ver));
  return exports;
}
