/*
 * _eve.c — the CPython extension behind `import eve`.
 *
 * Written against the public C API only (eve.h).  The Python-facing
 * classes (eve.Map, eve.Vector, eve.Set, eve.List, eve.Keyword, eve.Symbol,
 * the eve.Error hierarchy) are defined in eve/__init__.py; this module
 * provides the base type of the views (_View) and is handed those classes
 * once, by _init_types(), so that C can create and recognise them.
 *
 * Lifetimes (the reason for most of the structure here):
 *  - A view outside a swap rests on a snapshot (EVE_TXN_SNAPSHOT) and holds
 *    one reference on it: a child view retains it (eve_txn_retain), every
 *    view's dealloc drops one (eve_txn_end).  So a view stays readable as
 *    long as Python keeps it, whatever happens to its atom.
 *  - Inside a swap function, views rest on the swap's write transaction
 *    through a Scope.  The scope is closed when the function returns
 *    (values built in a failed attempt are freed by the retry), so such a
 *    view that escapes raises eve.TxnError instead of reading freed memory.
 *  - eve_close fails (EVE_EBUSY) while snapshots live, so Domain.close()
 *    only stops new operations when views remain; the handle is closed when
 *    the last of them is gone (Domain's dealloc: every view and atom holds a
 *    reference on its Domain).
 *
 * Every call here runs with the GIL held, which also gives each snapshot
 * the one-thread-at-a-time use eve.h asks for; the GIL is released only
 * around calls that may block or take long (eve_open, eve_close, eve_wait,
 * eve_check) and touch no Python object or snapshot meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "eve.h"

/* A code of our own that a swap callback returns when the Python function
 * raised: eve_swap hands it back, and the pending exception is raised. */
#define PY_ABORT (-1000)

/* ---- classes handed over by eve/__init__.py ------------------------------- */

static PyTypeObject *cls_map, *cls_vector, *cls_set, *cls_list, *cls_atom;
static PyObject *cls_keyword, *cls_symbol;
static PyObject *error_classes; /* dict: code -> exception class          */
static PyObject *error_base;    /* eve.Error, for codes not in the dict     */
static PyObject *cls_uuid, *cls_datetime, *epoch, *one_ms; /* from the stdlib */
static PyObject *abc_kinds[3]; /* collections.abc Mapping, Set, Sequence */

/* ---- errors ------------------------------------------------------------------ */

/* Raise the eve.Error subclass for code, with `what` (the operation) in
 * the message; the exception carries .code and .name.  Returns NULL. */
static PyObject *raise_eve(int code, const char *what) {
  if (code == PY_ABORT) return NULL; /* the Python exception is already set */
  PyObject *key = PyLong_FromLong(code);
  if (!key) return NULL;
  PyObject *cls = error_classes ? PyDict_GetItemWithError(error_classes, key) : NULL;
  Py_DECREF(key);
  if (!cls) {
    if (PyErr_Occurred()) return NULL;
    cls = error_base ? error_base : PyExc_RuntimeError;
  }
  PyObject *exc = PyObject_CallFunction(cls, "s", "");
  if (!exc) return NULL;
  PyObject *msg = PyUnicode_FromFormat("%s: %s", what, eve_strerror(code));
  PyObject *num = PyLong_FromLong(code);
  PyObject *name = PyUnicode_FromString(eve_err_name(code));
  if (msg && num && name) {
    /* set args after construction: OSError subclasses would otherwise read
     * (msg, code) as (errno, strerror) */
    PyObject *args = PyTuple_Pack(1, msg);
    if (args) {
      PyObject_SetAttrString(exc, "args", args);
      Py_DECREF(args);
    }
    PyObject_SetAttrString(exc, "code", num);
    PyObject_SetAttrString(exc, "name", name);
  }
  Py_XDECREF(msg);
  Py_XDECREF(num);
  Py_XDECREF(name);
  if (!PyErr_Occurred()) PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
  return NULL;
}

/* raise_eve for functions returning int (-1 on error). */
static int fail_eve(int code, const char *what) {
  raise_eve(code, what);
  return -1;
}

/* ---- fork ------------------------------------------------------------------ */

/* Bumped in every forked child (pthread_atfork).  A snapshot belongs to the
 * process that began it: eve refuses inherited ones in its atom calls and
 * in eve_txn_retain/eve_txn_end, but its plain reads (eve_count,
 * eve_iter_next...) do not check, and in the child the parent may free
 * what they read.  So every view records the generation it was made in
 * and refuses to read in another one. */
static unsigned long fork_gen;
static void on_fork_child(void) { fork_gen++; }

/* ---- Domain ------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  eve_domain *d;   /* NULL once eve_close succeeded                         */
  int closed;      /* close() was called: no new atoms or operations        */
  PyObject *path;  /* str or None                                           */
} DomainObject;

static PyTypeObject Domain_Type;

/* The handle for a new operation: NULL (eve.Error raised) once closed. */
static eve_domain *domain_handle(DomainObject *dom) {
  if (dom->closed || !dom->d) {
    raise_eve(EVE_EINVAL, "domain is closed");
    return NULL;
  }
  return dom->d;
}

/* Close the handle if nothing holds it; EVE_EBUSY leaves it for later. */
static int domain_try_close(DomainObject *dom) {
  if (!dom->d) return 0;
  int rc;
  eve_domain *d = dom->d;
  Py_BEGIN_ALLOW_THREADS
  rc = eve_close(d);
  Py_END_ALLOW_THREADS
  if (rc == 0) dom->d = NULL;
  return rc;
}

static void Domain_dealloc(DomainObject *self) {
  /* every view and atom holds a reference: nothing of ours is open now */
  if (self->d) domain_try_close(self);
  Py_XDECREF(self->path);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- Scope: a swap attempt's write transaction -------------------------------- */

typedef struct {
  PyObject_HEAD
  eve_txn *t;       /* NULL once the attempt is over                       */
  PyObject *keep;   /* borrowed: the swap's list of snapshot views whose
                       words went into its values (NULL outside a swap)    */
} ScopeObject;

static PyTypeObject Scope_Type;

static ScopeObject *scope_new(eve_txn *t, PyObject *keep) {
  ScopeObject *s = PyObject_New(ScopeObject, &Scope_Type);
  if (s) {
    s->t = t;
    s->keep = keep;
  }
  return s;
}

static void Scope_dealloc(ScopeObject *self) { PyObject_Free(self); }

/* ---- views ---------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  DomainObject *dom;
  eve_txn *t;         /* the snapshot (one reference held), or scope's txn  */
  ScopeObject *scope; /* NULL for a snapshot view                           */
  eve_val v;
  eve_type type;
  unsigned long fork_gen; /* the process generation it was made in */
} ViewObject;

static PyTypeObject View_Type;

/* Where values are read (and, with a scope, built). */
typedef struct {
  DomainObject *dom;
  eve_txn *t;
  ScopeObject *scope; /* NULL: t is a snapshot; else a write transaction  */
} ctx;

static int is_view(PyObject *o) { return PyObject_TypeCheck(o, &View_Type); }

/* The view's transaction, or NULL (eve.TxnError) for a view of a swap
 * attempt that is over. */
static eve_txn *view_txn(ViewObject *v) {
  if (v->fork_gen != fork_gen) {
    raise_eve(EVE_EFORKED, "view obtained before fork() used in the child");
    return NULL;
  }
  if (v->scope && !v->scope->t) {
    raise_eve(EVE_ETXN, "view of a swap function used after it returned");
    return NULL;
  }
  return v->t;
}

static int view_ctx(ViewObject *v, ctx *c) {
  c->dom = v->dom;
  c->scope = v->scope;
  c->t = view_txn(v);
  return c->t ? 0 : -1;
}

static PyTypeObject *class_for(eve_type ty) {
  switch (ty) {
  case EVE_MAP: return cls_map;
  case EVE_VECTOR: return cls_vector;
  case EVE_SET: return cls_set;
  default: return cls_list;
  }
}

/* A view of collection w in c.  A snapshot view takes a reference. */
static PyObject *view_new(const ctx *c, eve_val w, eve_type ty) {
  PyTypeObject *cls = class_for(ty);
  if (!cls) return PyErr_Format(PyExc_RuntimeError, "eve: classes not initialised");
  if (!c->scope) {
    int rc = eve_txn_retain(c->t);
    if (rc) return raise_eve(rc, "retain snapshot");
  }
  ViewObject *v = (ViewObject *)cls->tp_alloc(cls, 0);
  if (!v) {
    if (!c->scope) eve_txn_end(c->t);
    return NULL;
  }
  Py_INCREF(c->dom);
  v->dom = c->dom;
  v->t = c->t;
  Py_XINCREF(c->scope);
  v->scope = c->scope;
  v->v = w;
  v->type = ty;
  v->fork_gen = fork_gen;
  return (PyObject *)v;
}

static void View_dealloc(ViewObject *self) {
  /* EVE_EFORKED in a forked child: the snapshot is forgotten there, the
   * parent's reader slot untouched */
  if (!self->scope && self->t) eve_txn_end(self->t);
  Py_XDECREF(self->scope);
  Py_XDECREF(self->dom);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- eve -> Python --------------------------------------------------------------- */

static PyObject *text_to_py(ctx *c, eve_val w, eve_type ty) {
  const char *s;
  size_t n;
  int rc = eve_text_get(c->t, &w, &s, &n);
  if (rc) return raise_eve(rc, "read text");
  PyObject *str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
  if (!str || ty == EVE_STRING) return str;
  PyObject *r = PyObject_CallOneArg(ty == EVE_KEYWORD ? cls_keyword : cls_symbol, str);
  Py_DECREF(str);
  return r;
}

static PyObject *uuid_to_py(ctx *c, eve_val w) {
  uint8_t b[16];
  int rc = eve_uuid_get(c->t, w, b);
  if (rc) return raise_eve(rc, "read uuid");
  PyObject *bytes = PyBytes_FromStringAndSize((const char *)b, 16);
  if (!bytes) return NULL;
  PyObject *args = PyTuple_New(0);
  PyObject *kw = Py_BuildValue("{sO}", "bytes", bytes);
  PyObject *r = args && kw ? PyObject_Call(cls_uuid, args, kw) : NULL;
  Py_XDECREF(args);
  Py_XDECREF(kw);
  Py_DECREF(bytes);
  return r;
}

/* #inst: epoch + ms milliseconds, an aware datetime in UTC */
static PyObject *inst_to_py(ctx *c, eve_val w) {
  int64_t ms;
  int rc = eve_inst_get(c->t, w, &ms);
  if (rc) return raise_eve(rc, "read inst");
  PyObject *n = PyLong_FromLongLong(ms);
  PyObject *delta = n ? PyNumber_Multiply(one_ms, n) : NULL;
  PyObject *r = delta ? PyNumber_Add(epoch, delta) : NULL;
  Py_XDECREF(n);
  Py_XDECREF(delta);
  return r;
}

/* Scalars become Python objects; collections become views in c. */
static PyObject *to_py(ctx *c, eve_val w) {
  eve_type ty;
  int rc = eve_type_get(c->t, w, &ty);
  if (rc) return raise_eve(rc, "read value");
  switch (ty) {
  case EVE_NIL: Py_RETURN_NONE;
  case EVE_BOOL: {
    int b;
    if ((rc = eve_bool_get(c->t, w, &b))) return raise_eve(rc, "read bool");
    return PyBool_FromLong(b);
  }
  case EVE_INT: {
    int64_t i;
    if ((rc = eve_int_get(c->t, w, &i))) return raise_eve(rc, "read int");
    return PyLong_FromLongLong(i);
  }
  case EVE_FLOAT: {
    double f;
    if ((rc = eve_float_get(c->t, w, &f))) return raise_eve(rc, "read float");
    return PyFloat_FromDouble(f);
  }
  case EVE_CHAR: {
    uint32_t cp;
    if ((rc = eve_char_get(c->t, w, &cp))) return raise_eve(rc, "read char");
    return PyUnicode_FromOrdinal((int)cp);
  }
  case EVE_STRING:
  case EVE_KEYWORD:
  case EVE_SYMBOL: return text_to_py(c, w, ty);
  case EVE_UUID: return uuid_to_py(c, w);
  case EVE_INST: return inst_to_py(c, w);
  case EVE_BYTES: {
    const uint8_t *p;
    size_t n;
    if ((rc = eve_bytes_get(c->t, &w, &p, &n))) return raise_eve(rc, "read bytes");
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
  }
  default: return view_new(c, w, ty);
  }
}

/* Deep copy into plain Python objects.  In a hashable position (a map key,
 * a set element) vectors and lists become tuples and sets frozensets; maps
 * have no hashable plain form, so a snapshot keeps them as views (which
 * hash) and anything else is a TypeError. */
static PyObject *deep_py(ctx *c, eve_val w, int hashable);

static PyObject *deep_coll(ctx *c, eve_val w, eve_type ty, int hashable) {
  if (ty == EVE_MAP && hashable) {
    if (!c->scope) return view_new(c, w, ty);
    return PyErr_Format(PyExc_TypeError, "a map used as a key has no plain Python form");
  }
  PyObject *out;
  if (ty == EVE_MAP) out = PyDict_New();
  else if (ty == EVE_SET) out = hashable ? PyFrozenSet_New(NULL) : PySet_New(NULL);
  else out = PyList_New(0);
  if (!out) return NULL;
  eve_iter it;
  eve_val k, v;
  int rc = eve_iter_init(c->t, w, &it);
  while (rc == 0 && (rc = eve_iter_next(&it, &k, &v)) == 0) {
    PyObject *pk = deep_py(c, k, hashable || ty == EVE_MAP || ty == EVE_SET);
    if (!pk) goto fail;
    int bad;
    if (ty == EVE_MAP) {
      PyObject *pv = deep_py(c, v, 0);
      bad = !pv || PyDict_SetItem(out, pk, pv) < 0;
      Py_XDECREF(pv);
    } else if (ty == EVE_SET) {
      bad = PySet_Add(out, pk) < 0;
    } else {
      bad = PyList_Append(out, pk) < 0;
    }
    Py_DECREF(pk);
    if (bad) goto fail;
  }
  if (rc != EVE_END) {
    raise_eve(rc, "iterate");
    goto fail;
  }
  if (hashable && ty != EVE_SET) {
    PyObject *tup = PyList_AsTuple(out);
    Py_DECREF(out);
    return tup;
  }
  return out;
fail:
  Py_DECREF(out);
  return NULL;
}

static PyObject *deep_py(ctx *c, eve_val w, int hashable) {
  eve_type ty;
  int rc = eve_type_get(c->t, w, &ty);
  if (rc) return raise_eve(rc, "read value");
  if (ty < EVE_LIST) return to_py(c, w);
  if (Py_EnterRecursiveCall(" in eve to_python")) return NULL;
  PyObject *r = deep_coll(c, w, ty, hashable);
  Py_LeaveRecursiveCall();
  return r;
}

/* ---- Python -> eve ------------------------------------------------------------ */

/* Conversion into c->t.  *needs_write (may be NULL) is set, and no
 * exception raised, when c->t is a read transaction and the value would
 * have to be allocated: the caller retries in a write transaction. */
typedef struct {
  ctx c;
  int *needs_write;
} conv;

static int from_py(conv *cv, PyObject *o, eve_val *out);

/* An eve constructor's result: ETXN in a read transaction means "needs a
 * write" when the caller asked to know. */
static int eve_rc(conv *cv, int rc, const char *what) {
  if (rc == 0) return 0;
  if (rc == EVE_ETXN && cv->needs_write) {
    *cv->needs_write = 1;
    return -1;
  }
  return fail_eve(rc, what);
}

/* ---- scalars: Python -> eve_scalar -> eve ---------------------------------------
 * A Python scalar is first described as an eve_scalar (no transaction):
 * a lookup uses that description as it is (eve_map_get_scalar allocates
 * nothing, so it works in a snapshot and a read-only domain), a build
 * turns it into a value with the constructors. */

/* A text (str, or a Keyword's or Symbol's name) as the scalar's bytes;
 * *hold keeps the object that owns them. */
static int text_scalar(PyObject *s, eve_type type, eve_scalar *sc, PyObject **hold) {
  if (!PyUnicode_Check(s)) return PyErr_SetString(PyExc_TypeError, "name must be a str"), -1;
  Py_ssize_t n;
  const char *p = PyUnicode_AsUTF8AndSize(s, &n);
  if (!p) return -1;
  Py_INCREF(s);
  *hold = s;
  sc->type = type;
  sc->as.text.s = p;
  sc->as.text.n = (size_t)n;
  return 1;
}

/* Keyword and Symbol keep their text in .name */
static int named_scalar(PyObject *o, eve_type type, eve_scalar *sc, PyObject **hold) {
  PyObject *name = PyObject_GetAttrString(o, "name");
  if (!name) return -1;
  int r = text_scalar(name, type, sc, hold);
  Py_DECREF(name); /* *hold has its own reference */
  return r;
}

static int uuid_scalar(PyObject *o, eve_scalar *sc) {
  PyObject *b = PyObject_GetAttrString(o, "bytes");
  if (!b) return -1;
  int r = -1;
  if (PyBytes_Check(b) && PyBytes_GET_SIZE(b) == 16) {
    sc->type = EVE_UUID;
    memcpy(sc->as.uuid, PyBytes_AS_STRING(b), 16);
    r = 1;
  } else {
    PyErr_SetString(PyExc_TypeError, "UUID.bytes is not 16 bytes");
  }
  Py_DECREF(b);
  return r;
}

/* An aware datetime as ms since the epoch (floor); naive ones are refused,
 * since #inst is an instant. */
static int inst_scalar(PyObject *o, eve_scalar *sc) {
  PyObject *tz = PyObject_GetAttrString(o, "tzinfo");
  if (!tz) return -1;
  int naive = tz == Py_None;
  Py_DECREF(tz);
  if (naive) {
    PyErr_SetString(PyExc_TypeError, "eve stores only aware datetimes (#inst is an instant)");
    return -1;
  }
  PyObject *delta = PyNumber_Subtract(o, epoch);
  PyObject *ms = delta ? PyNumber_FloorDivide(delta, one_ms) : NULL;
  Py_XDECREF(delta);
  if (!ms) return -1;
  int overflow;
  long long i = PyLong_AsLongLongAndOverflow(ms, &overflow);
  Py_DECREF(ms);
  if (i == -1 && PyErr_Occurred()) return -1;
  sc->type = EVE_INST;
  sc->as.ms = i;
  return 1;
}

static int int_scalar(PyObject *o, eve_scalar *sc) {
  int overflow;
  long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow) {
    PyErr_Format(PyExc_OverflowError, "int %R does not fit in 64 bits (eve ints are int64)", o);
    return -1;
  }
  if (i == -1 && PyErr_Occurred()) return -1;
  sc->type = EVE_INT;
  sc->as.i = i;
  return 1;
}

/* o as a scalar: 1 (*sc set; *hold, if set, owns its bytes: release it
 * when done with *sc), 0 when o is no scalar eve stores, -1 with an
 * exception (an int outside 64 bits, a naive datetime). */
static int scalar_of_py(PyObject *o, eve_scalar *sc, PyObject **hold) {
  *hold = NULL;
  memset(sc, 0, sizeof *sc);
  if (o == Py_None) return sc->type = EVE_NIL, 1;
  if (PyBool_Check(o)) return sc->type = EVE_BOOL, sc->as.b = o == Py_True, 1;
  if (PyLong_Check(o)) return int_scalar(o, sc);
  if (PyFloat_Check(o)) return sc->type = EVE_FLOAT, sc->as.f = PyFloat_AS_DOUBLE(o), 1;
  if (PyUnicode_Check(o)) return text_scalar(o, EVE_STRING, sc, hold);
  if (PyBytes_Check(o)) {
    sc->type = EVE_BYTES;
    sc->as.text.s = PyBytes_AS_STRING(o);
    sc->as.text.n = (size_t)PyBytes_GET_SIZE(o);
    return 1; /* the caller holds o */
  }
  int r;
  if ((r = PyObject_IsInstance(o, cls_keyword))) return r < 0 ? -1 : named_scalar(o, EVE_KEYWORD, sc, hold);
  if ((r = PyObject_IsInstance(o, cls_symbol))) return r < 0 ? -1 : named_scalar(o, EVE_SYMBOL, sc, hold);
  if ((r = PyObject_IsInstance(o, cls_uuid))) return r < 0 ? -1 : uuid_scalar(o, sc);
  if ((r = PyObject_IsInstance(o, cls_datetime))) return r < 0 ? -1 : inst_scalar(o, sc);
  return 0;
}

/* The value *sc describes, built in cv's transaction. */
static int scalar_build(conv *cv, const eve_scalar *sc, eve_val *out) {
  eve_txn *t = cv->c.t;
  const char *p = sc->as.text.s;
  size_t n = sc->as.text.n;
  switch (sc->type) {
  case EVE_NIL: *out = EVE_V_NIL; return 0;
  case EVE_BOOL: *out = sc->as.b ? EVE_V_TRUE : EVE_V_FALSE; return 0;
  case EVE_INT: return eve_rc(cv, eve_int(t, sc->as.i, out), "store int");
  case EVE_FLOAT: return eve_rc(cv, eve_float(t, sc->as.f, out), "store float");
  case EVE_STRING: return eve_rc(cv, eve_string(t, p, n, out), "store text");
  case EVE_KEYWORD: return eve_rc(cv, eve_keyword(t, p, n, out), "store text");
  case EVE_SYMBOL: return eve_rc(cv, eve_symbol(t, p, n, out), "store text");
  case EVE_BYTES: return eve_rc(cv, eve_bytes(t, p, n, out), "store bytes");
  case EVE_UUID: return eve_rc(cv, eve_uuid(t, sc->as.uuid, out), "store uuid");
  case EVE_INST: return eve_rc(cv, eve_inst(t, sc->as.ms, out), "store inst");
  default: return fail_eve(EVE_EINVAL, "store scalar");
  }
}

static int map_from_py(conv *cv, PyObject *o, eve_val *out) {
  eve_val m = EVE_V_EMPTY_MAP, k, v;
  Py_ssize_t pos = 0;
  PyObject *pk, *pv;
  while (PyDict_Next(o, &pos, &pk, &pv)) {
    if (from_py(cv, pk, &k) || from_py(cv, pv, &v)) return -1;
    if (eve_rc(cv, eve_map_assoc(cv->c.t, m, k, v, &m), "build map")) return -1;
  }
  *out = m;
  return 0;
}

/* list/tuple -> vector, set/frozenset -> set: one element at a time */
static int seq_from_py(conv *cv, PyObject *o, int is_set, eve_val *out) {
  eve_val acc = is_set ? EVE_V_EMPTY_SET : EVE_V_EMPTY_VECTOR, x;
  PyObject *it = PyObject_GetIter(o), *item;
  if (!it) return -1;
  while ((item = PyIter_Next(it))) {
    int rc = from_py(cv, item, &x);
    Py_DECREF(item);
    if (!rc) rc = eve_rc(cv, is_set ? eve_set_conj(cv->c.t, acc, x, &acc)
                                    : eve_vec_conj(cv->c.t, acc, x, &acc),
                         "build collection");
    if (rc) {
      Py_DECREF(it);
      return -1;
    }
  }
  Py_DECREF(it);
  if (PyErr_Occurred()) return -1;
  *out = acc;
  return 0;
}

/* A view: its own word when it belongs to this domain (valid here: its
 * snapshot or scope keeps it readable, and the caller keeps the view alive
 * until the commit is done); a copy through Python otherwise. */
static int view_from_py(conv *cv, ViewObject *v, eve_val *out) {
  eve_txn *vt = view_txn(v);
  if (!vt) return -1;
  if (v->dom == cv->c.dom) {
    if (v->scope && v->scope != cv->c.scope) {
      raise_eve(EVE_ETXN, "view of another swap used");
      return -1;
    }
    /* A snapshot's word built into a swap's value must stay readable until
     * the commit has adopted it (or copied it, if it was retired): keep
     * the view, and so its snapshot, until the swap is over, even if the
     * function drops it. */
    if (!v->scope && cv->c.scope && cv->c.scope->keep &&
        PyList_Append(cv->c.scope->keep, (PyObject *)v) < 0)
      return -1;
    *out = v->v;
    return 0;
  }
  ctx src = {v->dom, vt, v->scope};
  PyObject *copy = deep_py(&src, v->v, 0);
  if (!copy) return -1;
  int rc = from_py(cv, copy, out);
  Py_DECREF(copy);
  return rc;
}

static int from_py_inner(conv *cv, PyObject *o, eve_val *out) {
  if (is_view(o)) return view_from_py(cv, (ViewObject *)o, out);
  if (PyDict_Check(o)) return map_from_py(cv, o, out);
  if (PyList_Check(o) || PyTuple_Check(o)) return seq_from_py(cv, o, 0, out);
  if (PyAnySet_Check(o)) return seq_from_py(cv, o, 1, out);
  eve_scalar sc;
  PyObject *hold;
  int r = scalar_of_py(o, &sc, &hold);
  if (r > 0) r = scalar_build(cv, &sc, out);
  else if (r == 0)
    r = (PyErr_Format(PyExc_TypeError, "eve cannot store a value of type '%.200s'",
                      Py_TYPE(o)->tp_name), -1);
  Py_XDECREF(hold);
  return r;
}

static int from_py(conv *cv, PyObject *o, eve_val *out) {
  if (Py_EnterRecursiveCall(" while converting to eve")) return -1;
  int rc = from_py_inner(cv, o, out);
  Py_LeaveRecursiveCall();
  return rc;
}

/* ---- lookups with Python keys ------------------------------------------------ */

/* A lookup: fn(t, coll, key, &result) with eve's codes. */
typedef int (*lookup_fn)(eve_txn *t, eve_val coll, eve_val key, eve_val *out);

static int map_get(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  return eve_map_get(t, m, k, out);
}
static int set_has(eve_txn *t, eve_val s, eve_val k, eve_val *out) {
  int yes;
  int rc = eve_set_contains(t, s, k, &yes);
  *out = yes ? EVE_V_TRUE : EVE_V_FALSE;
  return rc;
}

/* Look key up in the view.  A scalar key goes by its description, which
 * allocates nothing (so it works in a snapshot and in a read-only domain);
 * a collection key is converted in the view's transaction, or, when that
 * would allocate in a snapshot, in a short write transaction of the domain
 * (the view's snapshot keeps its value readable there).  A key no
 * constructor would accept (an empty keyword) is in no collection.
 * Returns 0, EVE_ENOTFOUND, another eve code, or LOOKUP_PYERR with a Python
 * exception set. */
#define LOOKUP_PYERR (-2000)
static int scalar_lookup(ViewObject *self, eve_txn *t, const eve_scalar *sc, eve_val *out) {
  int rc;
  if (self->type == EVE_MAP) {
    rc = eve_map_get_scalar(t, self->v, sc, out);
  } else {
    int yes = 0;
    rc = eve_set_contains_scalar(t, self->v, sc, &yes);
    *out = yes ? EVE_V_TRUE : EVE_V_FALSE;
  }
  return rc == EVE_EINVAL ? EVE_ENOTFOUND : rc;
}

static int view_lookup(ViewObject *self, PyObject *key, lookup_fn fn, eve_val *out) {
  ctx c;
  if (view_ctx(self, &c)) return LOOKUP_PYERR;
  if (self->type == EVE_MAP && PyUnicode_CheckExact(key)) { /* the common case, first */
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(key, &n);
    if (!p) return LOOKUP_PYERR;
    int rc = eve_map_get_text(c.t, self->v, EVE_STRING, p, (size_t)n, out);
    return rc == EVE_EINVAL ? EVE_ENOTFOUND : rc;
  }
  if (!is_view(key)) {
    eve_scalar sc;
    PyObject *hold;
    int r = scalar_of_py(key, &sc, &hold);
    int rc = r > 0 ? scalar_lookup(self, c.t, &sc, out) : LOOKUP_PYERR;
    Py_XDECREF(hold);
    if (r != 0) return rc;
  }
  int needs_write = 0;
  conv cv = {c, &needs_write};
  eve_val k;
  if (from_py(&cv, key, &k) == 0) return fn(c.t, self->v, k, out);
  if (!needs_write) return LOOKUP_PYERR;
  if (!self->dom->d) return fail_eve(EVE_EINVAL, "domain is closed"), LOOKUP_PYERR;
  eve_txn *w;
  int rc = eve_txn_begin(self->dom->d, EVE_TXN_WRITE, &w);
  if (rc) return fail_eve(rc, "begin lookup"), LOOKUP_PYERR;
  conv wv = {{self->dom, w, NULL}, NULL};
  rc = from_py(&wv, key, &k) ? LOOKUP_PYERR : fn(w, self->v, k, out);
  eve_txn_end(w); /* *out is a word of self->v, which the snapshot keeps */
  return rc;
}

/* ---- the view protocol ------------------------------------------------------ */

static Py_ssize_t View_len(ViewObject *self) {
  eve_txn *t = view_txn(self);
  if (!t) return -1;
  uint64_t n;
  int rc = eve_count(t, self->v, &n);
  if (rc) return fail_eve(rc, "len");
  return (Py_ssize_t)n;
}

/* The i-th element of a list, by walking it. */
static int list_nth(eve_txn *t, eve_val l, uint64_t i, eve_val *out) {
  eve_iter it;
  eve_val k, v;
  int rc = eve_iter_init(t, l, &it);
  while (rc == 0 && (rc = eve_iter_next(&it, &k, &v)) == 0)
    if (i-- == 0) return *out = k, 0;
  return rc == EVE_END ? EVE_ERANGE : rc;
}

static PyObject *seq_item(ViewObject *self, PyObject *key) {
  ctx c;
  if (view_ctx(self, &c)) return NULL;
  Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
  if (i == -1 && PyErr_Occurred()) return NULL;
  if (i < 0) {
    Py_ssize_t n = View_len(self);
    if (n < 0) return NULL;
    i += n;
    if (i < 0) return PyErr_Format(PyExc_IndexError, "index out of range");
  }
  eve_val x;
  int rc = self->type == EVE_VECTOR ? eve_vec_nth(c.t, self->v, (uint64_t)i, &x)
                                    : list_nth(c.t, self->v, (uint64_t)i, &x);
  if (rc == EVE_ERANGE) return PyErr_Format(PyExc_IndexError, "index out of range");
  if (rc) return raise_eve(rc, "index");
  return to_py(&c, x);
}

/* A slice of a vector or list: a plain list of its elements (views for
 * collections). */
static PyObject *seq_slice(ViewObject *self, PyObject *slice) {
  Py_ssize_t n = View_len(self), start, stop, step;
  if (n < 0) return NULL;
  if (PySlice_Unpack(slice, &start, &stop, &step) < 0) return NULL;
  Py_ssize_t len = PySlice_AdjustIndices(n, &start, &stop, step);
  PyObject *out = PyList_New(len);
  if (!out) return NULL;
  for (Py_ssize_t j = 0; j < len; j++) {
    PyObject *idx = PyLong_FromSsize_t(start + j * step);
    PyObject *x = idx ? seq_item(self, idx) : NULL;
    Py_XDECREF(idx);
    if (!x) {
      Py_DECREF(out);
      return NULL;
    }
    PyList_SET_ITEM(out, j, x);
  }
  return out;
}

static PyObject *View_subscript(ViewObject *self, PyObject *key) {
  if (self->type == EVE_MAP) {
    eve_val x;
    int rc = view_lookup(self, key, map_get, &x);
    if (rc == LOOKUP_PYERR) return NULL;
    if (rc == EVE_ENOTFOUND) {
      PyErr_SetObject(PyExc_KeyError, key);
      return NULL;
    }
    if (rc) return raise_eve(rc, "lookup");
    ctx c;
    if (view_ctx(self, &c)) return NULL;
    return to_py(&c, x);
  }
  if (self->type == EVE_SET) return PyErr_Format(PyExc_TypeError, "eve.Set is not subscriptable");
  if (PySlice_Check(key)) return seq_slice(self, key);
  return seq_item(self, key);
}

/* Membership: keys of a map, elements of a set; for vectors and lists,
 * Python's sequence rule (an element equal to x). */
static int View_contains(ViewObject *self, PyObject *x) {
  if (self->type == EVE_MAP || self->type == EVE_SET) {
    eve_val r;
    int rc = view_lookup(self, x, self->type == EVE_MAP ? map_get : set_has, &r);
    if (rc == LOOKUP_PYERR) {
      if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -1;
      PyErr_Clear(); /* a value eve cannot hold is in no eve collection */
      return 0;
    }
    if (rc == EVE_ENOTFOUND) return 0;
    if (rc) return fail_eve(rc, "contains");
    return self->type == EVE_MAP || r == EVE_V_TRUE;
  }
  PyObject *it = PyObject_GetIter((PyObject *)self), *item;
  if (!it) return -1;
  int found = 0;
  while (!found && (item = PyIter_Next(it))) {
    found = PyObject_RichCompareBool(item, x, Py_EQ);
    Py_DECREF(item);
  }
  Py_DECREF(it);
  return PyErr_Occurred() ? -1 : found;
}

/* ---- iteration -------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  ViewObject *view; /* keeps the snapshot, and so the iterator, valid */
  eve_iter it;
  int mode;         /* 0 keys/elements, 1 values, 2 (key, value) pairs */
} IterObject;

static PyTypeObject Iter_Type;

static PyObject *iter_new(ViewObject *self, int mode) {
  ctx c;
  if (view_ctx(self, &c)) return NULL;
  IterObject *io = PyObject_New(IterObject, &Iter_Type);
  if (!io) return NULL;
  Py_INCREF(self);
  io->view = self;
  io->mode = mode;
  int rc = eve_iter_init(c.t, self->v, &io->it);
  if (rc) {
    Py_DECREF(io);
    return raise_eve(rc, "iterate");
  }
  return (PyObject *)io;
}

static PyObject *View_iter(ViewObject *self) { return iter_new(self, 0); }

static void Iter_dealloc(IterObject *self) {
  Py_XDECREF(self->view);
  PyObject_Free(self);
}

static PyObject *Iter_next(IterObject *self) {
  ctx c;
  if (view_ctx(self->view, &c)) return NULL;
  eve_val k, v;
  int rc = eve_iter_next(&self->it, &k, &v);
  if (rc == EVE_END) return NULL; /* StopIteration */
  if (rc) return raise_eve(rc, "iterate");
  if (self->mode == 0) return to_py(&c, k);
  if (self->mode == 1) return to_py(&c, v);
  PyObject *pk = to_py(&c, k);
  PyObject *pv = pk ? to_py(&c, v) : NULL;
  PyObject *r = pv ? PyTuple_Pack(2, pk, pv) : NULL;
  Py_XDECREF(pk);
  Py_XDECREF(pv);
  return r;
}

/* ---- equality and hashing --------------------------------------------------- */

/* A view against a plain Python value, by Python's rules element by
 * element (so 1 == 1.0 here, unlike eve's own equality between views). */
static int eq_plain(ViewObject *self, PyObject *other) {
  int kind = self->type == EVE_MAP ? 0 : self->type == EVE_SET ? 1 : 2;
  if (kind == 2 && !PyList_Check(other) && !PyTuple_Check(other) && !is_view(other)) return 0;
  int ok = PyObject_IsInstance(other, abc_kinds[kind]);
  if (ok <= 0) return ok;
  Py_ssize_t n = View_len(self), m = PyObject_Size(other);
  if (n < 0 || m < 0) return -1;
  if (n != m) return 0;
  PyObject *it = PyObject_GetIter(kind == 2 ? (PyObject *)self : other), *x;
  if (!it) return -1;
  Py_ssize_t i = 0;
  int eq = 1;
  while (eq == 1 && (x = PyIter_Next(it))) {
    if (kind == 1) {
      eq = View_contains(self, x);
    } else if (kind == 0) {
      eq = View_contains(self, x);
      if (eq == 1) {
        PyObject *a = View_subscript(self, x), *b = a ? PyObject_GetItem(other, x) : NULL;
        eq = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
      }
    } else {
      PyObject *b = PySequence_GetItem(other, i++);
      eq = b ? PyObject_RichCompareBool(x, b, Py_EQ) : -1;
      Py_XDECREF(b);
    }
    Py_DECREF(x);
  }
  Py_DECREF(it);
  return PyErr_Occurred() ? -1 : eq;
}

static int view_equal(ViewObject *self, PyObject *other) {
  if (is_view(other) && ((ViewObject *)other)->dom == self->dom) {
    ViewObject *o = (ViewObject *)other;
    eve_txn *t = view_txn(self);
    if (!t || !view_txn(o)) return -1;
    int eq, rc = eve_equal(t, self->v, o->v, &eq);
    return rc ? fail_eve(rc, "compare") : eq;
  }
  return eq_plain(self, other);
}

static PyObject *View_richcompare(ViewObject *self, PyObject *other, int op) {
  if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
  int eq = view_equal(self, other);
  if (eq < 0) return NULL;
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t View_hash(ViewObject *self) {
  eve_txn *t = view_txn(self);
  if (!t) return -1;
  uint64_t h;
  int rc = eve_hash(t, self->v, &h);
  if (rc) return fail_eve(rc, "hash");
  Py_hash_t r = (Py_hash_t)h;
  return r == -1 ? -2 : r;
}

/* ---- building inside a swap function ---------------------------------------- */

/* The view's write context, or NULL: only views of a running swap
 * function can build (a snapshot is read-only).  eve/__init__.py checks
 * _writable first and builds plain Python values otherwise. */
static int build_ctx(ViewObject *self, conv *cv) {
  cv->needs_write = NULL;
  if (view_ctx(self, &cv->c)) return -1;
  if (!self->scope) return fail_eve(EVE_ETXN, "views outside a swap function are read-only");
  return 0;
}

/* Finish a build: the new collection as a view of the same swap. */
static PyObject *built(conv *cv, int rc, const eve_val *out, const char *what) {
  if (rc == EVE_ERANGE) return PyErr_Format(PyExc_IndexError, "%s: index out of range", what);
  if (rc) return raise_eve(rc, what);
  return to_py(&cv->c, *out); /* by address: read after the call that sets it */
}

static PyObject *View_assoc(ViewObject *self, PyObject *args) {
  PyObject *pk, *pv;
  if (!PyArg_ParseTuple(args, "OO", &pk, &pv)) return NULL;
  conv cv;
  eve_val v, out;
  if (build_ctx(self, &cv) || from_py(&cv, pv, &v)) return NULL;
  if (self->type == EVE_VECTOR) {
    Py_ssize_t i = PyNumber_AsSsize_t(pk, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0) return PyErr_Format(PyExc_IndexError, "assoc: index out of range");
    return built(&cv, eve_vec_assoc(cv.c.t, self->v, (uint64_t)i, v, &out), &out, "assoc");
  }
  eve_val k;
  if (from_py(&cv, pk, &k)) return NULL;
  return built(&cv, eve_map_assoc(cv.c.t, self->v, k, v, &out), &out, "assoc");
}

static PyObject *View_dissoc(ViewObject *self, PyObject *pk) {
  conv cv;
  eve_val k, out;
  if (build_ctx(self, &cv) || from_py(&cv, pk, &k)) return NULL;
  return built(&cv, eve_map_dissoc(cv.c.t, self->v, k, &out), &out, "dissoc");
}

/* conj: vectors append, sets add, lists prepend (as in Clojure) */
static PyObject *View_conj(ViewObject *self, PyObject *px) {
  conv cv;
  eve_val x, out;
  if (build_ctx(self, &cv) || from_py(&cv, px, &x)) return NULL;
  int rc = self->type == EVE_VECTOR ? eve_vec_conj(cv.c.t, self->v, x, &out)
           : self->type == EVE_SET  ? eve_set_conj(cv.c.t, self->v, x, &out)
                                    : eve_list_cons(cv.c.t, x, self->v, &out);
  return built(&cv, rc, &out, "conj");
}

static PyObject *View_disj(ViewObject *self, PyObject *px) {
  conv cv;
  eve_val x, out;
  if (build_ctx(self, &cv) || from_py(&cv, px, &x)) return NULL;
  return built(&cv, eve_set_disj(cv.c.t, self->v, x, &out), &out, "disj");
}

static PyObject *View_pop(ViewObject *self, PyObject *Py_UNUSED(unused)) {
  conv cv;
  eve_val out;
  if (build_ctx(self, &cv)) return NULL;
  int rc = self->type == EVE_VECTOR ? eve_vec_pop(cv.c.t, self->v, &out)
                                    : eve_list_rest(cv.c.t, self->v, &out);
  if (rc == EVE_ERANGE) return PyErr_Format(PyExc_IndexError, "pop from an empty vector");
  return built(&cv, rc, &out, "pop");
}

/* _slice(from, to): the elements [from, to) as a new vector */
static PyObject *View_slice(ViewObject *self, PyObject *args) {
  unsigned long long from, to;
  if (!PyArg_ParseTuple(args, "KK:slice", &from, &to)) return NULL;
  conv cv;
  eve_val out;
  if (build_ctx(self, &cv)) return NULL;
  return built(&cv, eve_vec_slice(cv.c.t, self->v, from, to, &out), &out, "slice");
}

static PyObject *View_merge(ViewObject *self, PyObject *pother) {
  conv cv;
  eve_val o, out;
  if (build_ctx(self, &cv) || from_py(&cv, pother, &o)) return NULL;
  return built(&cv, eve_map_merge(cv.c.t, self->v, o, &out), &out, "merge");
}

/* ---- other view methods ---------------------------------------------------- */

static PyObject *View_to_python(ViewObject *self, PyObject *Py_UNUSED(unused)) {
  ctx c;
  if (view_ctx(self, &c)) return NULL;
  return deep_py(&c, self->v, 0);
}

static PyObject *View_get(ViewObject *self, PyObject *args) {
  PyObject *key, *dflt = Py_None;
  if (!PyArg_ParseTuple(args, "O|O", &key, &dflt)) return NULL;
  if (self->type != EVE_MAP) return PyErr_Format(PyExc_TypeError, "get: not a map");
  eve_val x;
  int rc = view_lookup(self, key, map_get, &x);
  if (rc == LOOKUP_PYERR) {
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) return NULL;
    PyErr_Clear(); /* a key eve cannot hold is absent */
    rc = EVE_ENOTFOUND;
  }
  if (rc == EVE_ENOTFOUND) return Py_NewRef(dflt);
  if (rc) return raise_eve(rc, "get");
  ctx c;
  if (view_ctx(self, &c)) return NULL;
  return to_py(&c, x);
}

static PyObject *View_values(ViewObject *self, PyObject *Py_UNUSED(unused)) { return iter_new(self, 1); }
static PyObject *View_items(ViewObject *self, PyObject *Py_UNUSED(unused)) { return iter_new(self, 2); }

static PyObject *View_writable(ViewObject *self, void *Py_UNUSED(unused)) {
  return PyBool_FromLong(self->scope && self->scope->t);
}

static PyObject *View_domain(ViewObject *self, void *Py_UNUSED(unused)) {
  return Py_NewRef((PyObject *)self->dom);
}

static PyObject *View_repr(ViewObject *self) {
  eve_txn *t = view_txn(self);
  if (!t) {
    PyErr_Clear();
    return PyUnicode_FromFormat("<%s of a finished swap>", Py_TYPE(self)->tp_name);
  }
  char *text;
  size_t n;
  int rc = eve_print_edn(t, self->v, &text, &n);
  if (rc) return raise_eve(rc, "print");
  PyObject *r = PyUnicode_FromFormat("%s(%s)", Py_TYPE(self)->tp_name, text);
  eve_free(text);
  return r;
}

static PyMethodDef View_methods[] = {
  {"to_python", (PyCFunction)View_to_python, METH_NOARGS,
   "A deep copy as plain Python objects (dict, list, set; tuples and frozensets where a "
   "hashable value is needed)."},
  {"_get", (PyCFunction)View_get, METH_VARARGS, NULL},
  {"_iter_values", (PyCFunction)View_values, METH_NOARGS, NULL},
  {"_iter_items", (PyCFunction)View_items, METH_NOARGS, NULL},
  {"_assoc", (PyCFunction)View_assoc, METH_VARARGS, NULL},
  {"_dissoc", (PyCFunction)View_dissoc, METH_O, NULL},
  {"_conj", (PyCFunction)View_conj, METH_O, NULL},
  {"_disj", (PyCFunction)View_disj, METH_O, NULL},
  {"_pop", (PyCFunction)View_pop, METH_NOARGS, NULL},
  {"_merge", (PyCFunction)View_merge, METH_O, NULL},
  {"_slice", (PyCFunction)View_slice, METH_VARARGS, NULL},
  {NULL, NULL, 0, NULL},
};

static PyGetSetDef View_getset[] = {
  {"_writable", (getter)View_writable, NULL, "True inside the swap function that made it", NULL},
  {"domain", (getter)View_domain, NULL, "The Domain the view belongs to.", NULL},
  {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods View_as_sequence = {
  .sq_length = (lenfunc)View_len,
  .sq_contains = (objobjproc)View_contains,
};

static PyMappingMethods View_as_mapping = {
  .mp_length = (lenfunc)View_len,
  .mp_subscript = (binaryfunc)View_subscript,
};

static PyObject *View_new_refused(PyTypeObject *type, PyObject *Py_UNUSED(args),
                                  PyObject *Py_UNUSED(kw)) {
  return PyErr_Format(PyExc_TypeError, "views come from Atom.deref() or swap(), not from %s()",
                      type->tp_name);
}

static PyTypeObject View_Type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eve._eve._View",
  .tp_basicsize = sizeof(ViewObject),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
  .tp_doc = "Base of eve.Map, eve.Vector, eve.Set and eve.List: a zero-copy view of a value.",
  .tp_dealloc = (destructor)View_dealloc,
  .tp_repr = (reprfunc)View_repr,
  .tp_as_sequence = &View_as_sequence,
  .tp_as_mapping = &View_as_mapping,
  .tp_hash = (hashfunc)View_hash,
  .tp_richcompare = (richcmpfunc)View_richcompare,
  .tp_iter = (getiterfunc)View_iter,
  .tp_methods = View_methods,
  .tp_getset = View_getset,
  .tp_new = View_new_refused,
};

static PyTypeObject Iter_Type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eve._eve._Iter",
  .tp_basicsize = sizeof(IterObject),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_dealloc = (destructor)Iter_dealloc,
  .tp_iter = PyObject_SelfIter,
  .tp_iternext = (iternextfunc)Iter_next,
};

static PyTypeObject Scope_Type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eve._eve._Scope",
  .tp_basicsize = sizeof(ScopeObject),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_dealloc = (destructor)Scope_dealloc,
};

/* ---- Atom ------------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  DomainObject *dom;
  eve_atom *a;
  PyObject *name;
} AtomObject;

static PyTypeObject Atom_Type;

static void Atom_dealloc(AtomObject *self) {
  if (self->a) eve_atom_close(self->a);
  Py_XDECREF(self->name);
  Py_XDECREF(self->dom);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A snapshot of the atom's domain, begun before anything the caller then
 * reads or publishes: what it reads later stays readable in it. */
static eve_txn *begin(AtomObject *self, unsigned flags, const char *what) {
  eve_domain *d = domain_handle(self->dom);
  if (!d) return NULL;
  eve_txn *t;
  int rc = eve_txn_begin(d, flags, &t);
  if (rc) return raise_eve(rc, what), NULL;
  return t;
}

PyDoc_STRVAR(deref_doc, "deref()\n--\n\nThe atom's current value: a view for a collection "
                        "(valid as long as you keep it), a Python object for a scalar.");
static PyObject *Atom_deref(AtomObject *self, PyObject *Py_UNUSED(unused)) {
  eve_txn *s = begin(self, EVE_TXN_SNAPSHOT, "deref");
  if (!s) return NULL;
  eve_val v;
  int rc = eve_deref(s, self->a, &v);
  ctx c = {self->dom, s, NULL};
  PyObject *r = rc ? raise_eve(rc, "deref") : to_py(&c, v);
  eve_txn_end(s); /* the view, if any, holds its own reference */
  return r;
}

/* The swaps running in this process, innermost last: eve detects a swap
 * function changing its own atom only within the swap's transaction, and
 * reset/swap/compare_and_set each begin their own, so the binding checks
 * (same domain, same name, same thread) itself. */
#define MAX_NESTED_SWAPS 64
static struct {
  DomainObject *dom;
  PyObject *name;
  unsigned long thread;
} swaps[MAX_NESTED_SWAPS];
static int nswaps;

static int check_reentry(AtomObject *self) {
  unsigned long me = PyThread_get_thread_ident();
  for (int i = 0; i < nswaps; i++) {
    if (swaps[i].dom != self->dom || swaps[i].thread != me) continue;
    int same = PyObject_RichCompareBool(swaps[i].name, self->name, Py_EQ);
    if (same) return same < 0 ? -1 : fail_eve(EVE_EREENTRY, "change inside its own swap");
  }
  return 0;
}

static int push_swap(AtomObject *self) {
  if (check_reentry(self)) return -1;
  if (nswaps == MAX_NESTED_SWAPS) {
    PyErr_SetString(PyExc_RecursionError, "eve: swaps nested too deep");
    return -1;
  }
  swaps[nswaps].dom = self->dom;
  swaps[nswaps].name = self->name;
  swaps[nswaps].thread = PyThread_get_thread_ident();
  nswaps++;
  return 0;
}

/* Swaps of other threads may have been pushed since: remove ours. */
static void pop_swap(AtomObject *self) {
  unsigned long me = PyThread_get_thread_ident();
  for (int i = nswaps - 1; i >= 0; i--) {
    if (swaps[i].dom == self->dom && swaps[i].name == self->name && swaps[i].thread == me) {
      memmove(&swaps[i], &swaps[i + 1], (size_t)(nswaps - i - 1) * sizeof swaps[0]);
      nswaps--;
      return;
    }
  }
}

typedef struct {
  AtomObject *atom;
  PyObject *fn, *args;
  PyObject *last; /* the last result: keeps views it holds alive until the commit */
  PyObject *keep; /* snapshot views whose words the attempts used (see view_from_py) */
} swap_ctx;

/* eve_swap_fn: call the Python function on a view of old (a view of this
 * attempt, closed when it returns), and convert what it returns. */
static int swap_cb(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  swap_ctx *s = arg;
  ScopeObject *scope = scope_new(t, s->keep);
  if (!scope) return PY_ABORT;
  conv cv = {{s->atom->dom, t, scope}, NULL};
  int rc = PY_ABORT;
  PyObject *view = to_py(&cv.c, old);
  if (view) {
    PyObject *argv = PyTuple_New(PyTuple_GET_SIZE(s->args) + 1);
    if (argv) {
      PyTuple_SET_ITEM(argv, 0, view); /* steals */
      view = NULL;
      for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(s->args); i++)
        PyTuple_SET_ITEM(argv, i + 1, Py_NewRef(PyTuple_GET_ITEM(s->args, i)));
      PyObject *res = PyObject_Call(s->fn, argv, NULL);
      Py_DECREF(argv);
      if (res) {
        Py_XSETREF(s->last, res);
        if (from_py(&cv, res, out) == 0) rc = 0;
      }
    }
    Py_XDECREF(view);
  }
  scope->t = NULL; /* this attempt's values end with it (or with the txn) */
  Py_DECREF(scope);
  return rc;
}

/* swap and swap_vals: (old, new) as Python values of a snapshot begun
 * before the write, so both stay readable as long as they are kept. */
static PyObject *do_swap(AtomObject *self, PyObject *args, int vals) {
  Py_ssize_t n = PyTuple_GET_SIZE(args);
  if (n < 1) return PyErr_Format(PyExc_TypeError, "swap needs a function");
  swap_ctx sc = {self, PyTuple_GET_ITEM(args, 0), NULL, NULL, NULL};
  if (!PyCallable_Check(sc.fn)) return PyErr_Format(PyExc_TypeError, "swap: fn is not callable");
  sc.args = PyTuple_GetSlice(args, 1, n);
  sc.keep = sc.args ? PyList_New(0) : NULL;
  if (!sc.keep || push_swap(self)) {
    Py_XDECREF(sc.args);
    Py_XDECREF(sc.keep);
    return NULL;
  }
  PyObject *r = NULL;
  eve_txn *s = begin(self, EVE_TXN_SNAPSHOT, "swap");
  eve_txn *w = s ? begin(self, EVE_TXN_WRITE, "swap") : NULL;
  if (w) {
    eve_val old, out;
    int rc = eve_swap_vals(w, self->a, swap_cb, &sc, &old, &out);
    ctx c = {self->dom, s, NULL};
    if (rc) {
      raise_eve(rc, "swap");
    } else if (!vals) {
      r = to_py(&c, out);
    } else {
      PyObject *po = to_py(&c, old), *pn = po ? to_py(&c, out) : NULL;
      r = pn ? PyTuple_Pack(2, po, pn) : NULL;
      Py_XDECREF(po);
      Py_XDECREF(pn);
    }
    eve_txn_end(w);
  }
  if (s) eve_txn_end(s);
  pop_swap(self);
  Py_XDECREF(sc.last);
  Py_DECREF(sc.keep); /* after eve_txn_end(w): the commit is over */
  Py_DECREF(sc.args);
  return r;
}

PyDoc_STRVAR(swap_doc,
  "swap(fn, *args)\n--\n\nAtomically replace the value v with fn(v, *args), retrying on "
  "conflict (so fn may run more than once and must have no side effects).  fn gets a view "
  "whose assoc/dissoc/conj/... build eve values with structural sharing; it returns a view or "
  "any convertible Python value.  An exception in fn aborts the swap (nothing is published) "
  "and propagates.  Returns the value published.");
static PyObject *Atom_swap(AtomObject *self, PyObject *args) { return do_swap(self, args, 0); }
PyDoc_STRVAR(swap_vals_doc, "swap_vals(fn, *args)\n--\n\nAs swap, but returns (old, new): the "
                            "value fn was given on the attempt that won, and the value published.");
static PyObject *Atom_swap_vals(AtomObject *self, PyObject *args) { return do_swap(self, args, 1); }

PyDoc_STRVAR(reset_doc, "reset(value)\n--\n\nSet the atom to value (a view or a convertible "
                        "Python value).  Returns None.");
static PyObject *Atom_reset(AtomObject *self, PyObject *value) {
  if (check_reentry(self)) return NULL;
  eve_txn *w = begin(self, EVE_TXN_WRITE, "reset");
  if (!w) return NULL;
  conv cv = {{self->dom, w, NULL}, NULL};
  eve_val v;
  int rc = from_py(&cv, value, &v) ? PY_ABORT : eve_reset(w, self->a, v);
  eve_txn_end(w);
  if (rc) return raise_eve(rc, "reset");
  Py_RETURN_NONE;
}

PyDoc_STRVAR(cas_doc,
  "compare_and_set(old, new)\n--\n\nSet the atom to new only if it still holds old, and say "
  "whether it did.  As in Clojure, 'holds' is identity: old must be the value read by deref() "
  "or swap() (a view), or an immediate (None, a bool, a small int, a short str...).");
static PyObject *Atom_compare_and_set(AtomObject *self, PyObject *args) {
  PyObject *po, *pn;
  if (!PyArg_ParseTuple(args, "OO:compare_and_set", &po, &pn) || check_reentry(self)) return NULL;
  eve_txn *w = begin(self, EVE_TXN_WRITE, "compare_and_set");
  if (!w) return NULL;
  conv cv = {{self->dom, w, NULL}, NULL};
  eve_val o, n;
  int rc = from_py(&cv, po, &o) || from_py(&cv, pn, &n) ? PY_ABORT
                                                        : eve_compare_and_set(w, self->a, o, n);
  eve_txn_end(w);
  if (rc == EVE_ECONFLICT) Py_RETURN_FALSE;
  if (rc) return raise_eve(rc, "compare_and_set");
  Py_RETURN_TRUE;
}

static PyObject *Atom_version(AtomObject *self, void *Py_UNUSED(unused)) {
  if (!domain_handle(self->dom)) return NULL;
  uint64_t v;
  int rc = eve_atom_version_get(self->a, &v);
  if (rc) return raise_eve(rc, "version");
  return PyLong_FromUnsignedLongLong(v);
}

/* Sleep in eve_wait with the GIL released, in slices so that signals
 * (Ctrl-C) are seen between them. */
PyDoc_STRVAR(wait_doc, "wait(seen, timeout=None)\n--\n\nBlock until the atom's version differs "
                       "from seen and return the new version; None after timeout seconds.");
static PyObject *Atom_wait(AtomObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"seen", "timeout", NULL};
  unsigned long long seen;
  PyObject *pto = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "K|O:wait", kwlist, &seen, &pto)) return NULL;
  double left = -1;
  if (pto != Py_None && (left = PyFloat_AsDouble(pto)) < 0) {
    if (PyErr_Occurred()) return NULL;
    left = 0;
  }
  for (;;) {
    eve_domain *d = domain_handle(self->dom);
    if (!d) return NULL;
    int64_t slice = left < 0 || left > 0.2 ? 200 : (int64_t)(left * 1000);
    uint64_t now;
    int rc;
    eve_atom *a = self->a;
    Py_BEGIN_ALLOW_THREADS
    rc = eve_wait(a, seen, slice, &now);
    Py_END_ALLOW_THREADS
    if (rc == 0) return PyLong_FromUnsignedLongLong(now);
    if (rc != EVE_ETIMEDOUT) return raise_eve(rc, "wait");
    if (left >= 0 && (left -= slice / 1000.0) <= 0) Py_RETURN_NONE;
    if (PyErr_CheckSignals()) return NULL;
  }
}

static PyObject *Atom_get_name(AtomObject *self, void *Py_UNUSED(unused)) { return Py_NewRef(self->name); }

static PyObject *Atom_repr(AtomObject *self) {
  return PyUnicode_FromFormat("<eve.Atom %R>", self->name);
}

static PyMethodDef Atom_methods[] = {
  {"deref", (PyCFunction)Atom_deref, METH_NOARGS, deref_doc},
  {"swap", (PyCFunction)Atom_swap, METH_VARARGS, swap_doc},
  {"swap_vals", (PyCFunction)Atom_swap_vals, METH_VARARGS, swap_vals_doc},
  {"reset", (PyCFunction)Atom_reset, METH_O, reset_doc},
  {"compare_and_set", (PyCFunction)Atom_compare_and_set, METH_VARARGS, cas_doc},
  {"wait", (PyCFunction)(void (*)(void))Atom_wait, METH_VARARGS | METH_KEYWORDS, wait_doc},
  {NULL, NULL, 0, NULL},
};

static PyGetSetDef Atom_getset[] = {
  {"name", (getter)Atom_get_name, NULL, "The atom's name.", NULL},
  {"version", (getter)Atom_version, NULL, "A counter bumped by every change of the atom.", NULL},
  {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Atom_Type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eve._eve._Atom",
  .tp_basicsize = sizeof(AtomObject),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
  .tp_doc = "A named root of a domain: deref, reset, swap, swap_vals, compare_and_set, wait.",
  .tp_dealloc = (destructor)Atom_dealloc,
  .tp_repr = (reprfunc)Atom_repr,
  .tp_methods = Atom_methods,
  .tp_getset = Atom_getset,
  .tp_new = View_new_refused,
};

/* ---- Domain methods --------------------------------------------------------- */

PyDoc_STRVAR(atom_doc, "atom(name)\n--\n\nThe atom called name, created (holding None) if absent.");
static PyObject *Domain_atom(DomainObject *self, PyObject *pname) {
  eve_domain *d = domain_handle(self);
  if (!d) return NULL;
  const char *name = PyUnicode_AsUTF8(pname);
  if (!name) return NULL;
  eve_atom *a;
  int rc = eve_atom_open(d, name, EVE_ATOM_CREATE, &a);
  if (rc) return raise_eve(rc, "atom");
  AtomObject *ao = cls_atom ? (AtomObject *)cls_atom->tp_alloc(cls_atom, 0) : NULL;
  if (!ao) {
    eve_atom_close(a);
    return NULL;
  }
  ao->a = a;
  Py_INCREF(self);
  ao->dom = self;
  Py_INCREF(pname);
  ao->name = pname;
  return (PyObject *)ao;
}

PyDoc_STRVAR(remove_doc, "remove_atom(name)\n--\n\nRemove the atom; its handles raise "
                         "eve.RemovedError from then on.  KeyError if there is none.");
static PyObject *Domain_remove_atom(DomainObject *self, PyObject *pname) {
  eve_domain *d = domain_handle(self);
  const char *name = d ? PyUnicode_AsUTF8(pname) : NULL;
  if (!name) return NULL;
  int rc = eve_atom_remove(d, name);
  if (rc == EVE_ENOTFOUND) return PyErr_SetObject(PyExc_KeyError, pname), NULL;
  if (rc) return raise_eve(rc, "remove_atom");
  Py_RETURN_NONE;
}

static int add_name(void *arg, const char *name, size_t n) {
  PyObject *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)n, "strict");
  int rc = s ? PyList_Append((PyObject *)arg, s) : -1;
  Py_XDECREF(s);
  return rc ? PY_ABORT : 0;
}

PyDoc_STRVAR(atoms_doc, "atoms()\n--\n\nThe names of the atoms, sorted.");
static PyObject *Domain_atoms(DomainObject *self, PyObject *Py_UNUSED(unused)) {
  eve_domain *d = domain_handle(self);
  if (!d) return NULL;
  eve_txn *t;
  int rc = eve_txn_begin(d, EVE_TXN_READ, &t);
  if (rc) return raise_eve(rc, "atoms");
  PyObject *names = PyList_New(0);
  rc = names ? eve_atom_names_each(t, add_name, names) : PY_ABORT;
  eve_txn_end(t);
  if (rc) {
    Py_XDECREF(names);
    return raise_eve(rc, "atoms");
  }
  if (PyList_Sort(names) < 0) Py_CLEAR(names);
  return names;
}

#define PUT(dict, field, value)                                                  \
  do {                                                                           \
    PyObject *x_ = (value);                                                      \
    if (!x_ || PyDict_SetItemString(dict, field, x_) < 0) {                      \
      Py_XDECREF(x_);                                                            \
      Py_DECREF(dict);                                                           \
      return NULL;                                                               \
    }                                                                            \
    Py_DECREF(x_);                                                               \
  } while (0)

PyDoc_STRVAR(stats_doc, "stats()\n--\n\nSpace and readers of the domain (eve_stats_get): a dict "
                        "with file_bytes, live_bytes, free_bytes, retired_bytes, atoms, readers, "
                        "oldest_pin_ms, oldest_pin_pid, oldest_pin_tid.");
static PyObject *Domain_stats(DomainObject *self, PyObject *Py_UNUSED(unused)) {
  eve_domain *d = domain_handle(self);
  if (!d) return NULL;
  eve_stats st;
  int rc = eve_stats_get(d, &st);
  if (rc) return raise_eve(rc, "stats");
  PyObject *r = PyDict_New();
  if (!r) return NULL;
  PUT(r, "file_bytes", PyLong_FromUnsignedLongLong(st.file_bytes));
  PUT(r, "live_bytes", PyLong_FromUnsignedLongLong(st.live_bytes));
  PUT(r, "free_bytes", PyLong_FromUnsignedLongLong(st.free_bytes));
  PUT(r, "retired_bytes", PyLong_FromUnsignedLongLong(st.retired_bytes));
  PUT(r, "atoms", PyLong_FromUnsignedLongLong(st.atoms));
  PUT(r, "readers", PyLong_FromUnsignedLongLong(st.readers));
  PUT(r, "oldest_pin_ms", PyLong_FromUnsignedLongLong(st.oldest_pin_ms));
  PUT(r, "oldest_pin_pid", PyLong_FromLongLong(st.oldest_pin_pid));
  PUT(r, "oldest_pin_tid", PyLong_FromLongLong(st.oldest_pin_tid));
  return r;
}

PyDoc_STRVAR(check_doc, "check()\n--\n\nVerify the whole domain (eve_check): a dict with blocks, "
                        "reachable_bytes, allocated_bytes, leaked_bytes, problems, settled.  "
                        "eve.CorruptError if problems were found.");
static PyObject *Domain_check(DomainObject *self, PyObject *Py_UNUSED(unused)) {
  eve_domain *d = domain_handle(self);
  if (!d) return NULL;
  eve_check_report rep;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = eve_check(d, &rep, NULL, NULL);
  Py_END_ALLOW_THREADS
  if (rc) return raise_eve(rc, "check");
  PyObject *r = PyDict_New();
  if (!r) return NULL;
  PUT(r, "blocks", PyLong_FromUnsignedLongLong(rep.blocks));
  PUT(r, "reachable_bytes", PyLong_FromUnsignedLongLong(rep.reachable_bytes));
  PUT(r, "allocated_bytes", PyLong_FromUnsignedLongLong(rep.allocated_bytes));
  PUT(r, "leaked_bytes", PyLong_FromUnsignedLongLong(rep.leaked_bytes));
  PUT(r, "problems", PyLong_FromUnsignedLongLong(rep.problems));
  PUT(r, "settled", PyBool_FromLong((long)rep.settled));
  return r;
}

PyDoc_STRVAR(close_doc, "close()\n--\n\nClose the domain: no new atoms or operations.  The "
                        "file stays mapped until the last view of it is gone.");
static PyObject *Domain_close(DomainObject *self, PyObject *Py_UNUSED(unused)) {
  self->closed = 1;
  int rc = domain_try_close(self);
  if (rc && rc != EVE_EBUSY) return raise_eve(rc, "close");
  Py_RETURN_NONE; /* EVE_EBUSY: views still live; Domain_dealloc closes */
}

static PyObject *Domain_enter(DomainObject *self, PyObject *Py_UNUSED(unused)) {
  if (!domain_handle(self)) return NULL;
  return Py_NewRef((PyObject *)self);
}

static PyObject *Domain_exit(DomainObject *self, PyObject *Py_UNUSED(args)) {
  return Domain_close(self, NULL);
}

/* Values of this domain as EDN (views print in place; the rest is stored
 * in a write transaction that ends unpublished). */
static PyObject *Domain_dumps_edn(DomainObject *self, PyObject *value) {
  eve_txn *t;
  eve_val v;
  int rc;
  if (is_view(value) && ((ViewObject *)value)->dom == self) {
    ViewObject *vo = (ViewObject *)value;
    if (!(t = view_txn(vo))) return NULL;
    v = vo->v;
    rc = 0;
  } else {
    eve_domain *d = domain_handle(self);
    if (!d) return NULL;
    if ((rc = eve_txn_begin(d, EVE_TXN_WRITE, &t))) return raise_eve(rc, "dumps_edn");
    conv cv = {{self, t, NULL}, NULL};
    if (from_py(&cv, value, &v)) rc = PY_ABORT;
  }
  char *text = NULL;
  size_t n = 0;
  if (!rc) rc = eve_print_edn(t, v, &text, &n);
  if (!is_view(value) || ((ViewObject *)value)->dom != self) eve_txn_end(t);
  if (rc) return raise_eve(rc, "dumps_edn");
  PyObject *r = PyUnicode_DecodeUTF8(text, (Py_ssize_t)n, "replace");
  eve_free(text);
  return r;
}

static PyObject *parse_error(int rc, const eve_parse_error *pe) {
  raise_eve(rc, "loads_edn");
  PyObject *type, *val, *tb;
  PyErr_Fetch(&type, &val, &tb);
  PyErr_NormalizeException(&type, &val, &tb);
  if (val && rc == EVE_EPARSE) {
    PyObject *line = PyLong_FromLong(pe->line), *col = PyLong_FromLong(pe->column);
    PyObject *msg = PyUnicode_FromFormat("EDN parse error at line %d, column %d: %s", pe->line,
                                         pe->column, pe->message);
    PyObject *args = msg ? PyTuple_Pack(1, msg) : NULL;
    if (line) PyObject_SetAttrString(val, "line", line);
    if (col) PyObject_SetAttrString(val, "column", col);
    if (args) PyObject_SetAttrString(val, "args", args);
    Py_XDECREF(line);
    Py_XDECREF(col);
    Py_XDECREF(msg);
    Py_XDECREF(args);
  }
  PyErr_Restore(type, val, tb);
  return NULL;
}

/* EDN text to plain Python: read in a write transaction, copied out, and
 * the transaction ended (nothing published). */
static PyObject *Domain_loads_edn(DomainObject *self, PyObject *text) {
  Py_ssize_t n;
  const char *p = PyUnicode_AsUTF8AndSize(text, &n);
  eve_domain *d = p ? domain_handle(self) : NULL;
  if (!d) return NULL;
  eve_txn *t;
  int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
  if (rc) return raise_eve(rc, "loads_edn");
  eve_val v;
  eve_parse_error pe;
  rc = eve_read_edn(t, p, (size_t)n, &v, &pe);
  PyObject *r;
  if (rc) {
    r = parse_error(rc, &pe);
  } else {
    ScopeObject *scope = scope_new(t, NULL); /* nothing here outlives t */
    ctx c = {self, t, scope};
    r = scope ? deep_py(&c, v, 0) : NULL;
    if (scope) {
      scope->t = NULL;
      Py_DECREF(scope);
    }
  }
  eve_txn_end(t);
  return r;
}

static PyObject *Domain_repr(DomainObject *self) {
  return PyUnicode_FromFormat("<eve.Domain %R%s>", self->path, self->closed ? " closed" : "");
}

static PyObject *Domain_get_path(DomainObject *self, void *Py_UNUSED(unused)) { return Py_NewRef(self->path); }
static PyObject *Domain_get_closed(DomainObject *self, void *Py_UNUSED(unused)) {
  return PyBool_FromLong(self->closed);
}

static PyMethodDef Domain_methods[] = {
  {"atom", (PyCFunction)Domain_atom, METH_O, atom_doc},
  {"remove_atom", (PyCFunction)Domain_remove_atom, METH_O, remove_doc},
  {"atoms", (PyCFunction)Domain_atoms, METH_NOARGS, atoms_doc},
  {"stats", (PyCFunction)Domain_stats, METH_NOARGS, stats_doc},
  {"check", (PyCFunction)Domain_check, METH_NOARGS, check_doc},
  {"close", (PyCFunction)Domain_close, METH_NOARGS, close_doc},
  {"dumps_edn", (PyCFunction)Domain_dumps_edn, METH_O,
   "dumps_edn(value)\n--\n\nvalue (a view or a convertible Python value) as one line of EDN."},
  {"loads_edn", (PyCFunction)Domain_loads_edn, METH_O,
   "loads_edn(text)\n--\n\nOne EDN value as plain Python objects; eve.ParseError if malformed."},
  {"__enter__", (PyCFunction)Domain_enter, METH_NOARGS, NULL},
  {"__exit__", (PyCFunction)Domain_exit, METH_VARARGS, NULL},
  {NULL, NULL, 0, NULL},
};

static PyGetSetDef Domain_getset[] = {
  {"path", (getter)Domain_get_path, NULL, "The file, or None for an in-memory domain.", NULL},
  {"closed", (getter)Domain_get_closed, NULL, "True once close() was called.", NULL},
  {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Domain_Type = {
  PyVarObject_HEAD_INIT(NULL, 0).tp_name = "eve.Domain",
  .tp_basicsize = sizeof(DomainObject),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "An open eve domain (from eve.open): atoms, stats, check, close; a context manager.",
  .tp_dealloc = (destructor)Domain_dealloc,
  .tp_repr = (reprfunc)Domain_repr,
  .tp_methods = Domain_methods,
  .tp_getset = Domain_getset,
};

/* ---- module functions --------------------------------------------------------- */

static PyObject *mod_open(PyObject *Py_UNUSED(mod), PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path", "flags", "max_size", "initial_size", "file_mode", NULL};
  PyObject *path = Py_None;
  unsigned flags = 0, file_mode = 0;
  unsigned long long max_size = 0, initial_size = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|OIKKI:open", kwlist, &path, &flags, &max_size,
                                   &initial_size, &file_mode))
    return NULL;
  PyObject *bytes = NULL;
  if (path != Py_None && !PyUnicode_FSConverter(path, &bytes)) return NULL;
  eve_options o = {0};
  o.flags = flags;
  o.mode = file_mode;
  o.max_size = max_size;
  o.initial_size = initial_size;
  const char *p = bytes ? PyBytes_AS_STRING(bytes) : NULL;
  eve_domain *d;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = eve_open(p, &o, &d);
  Py_END_ALLOW_THREADS
  Py_XDECREF(bytes);
  if (rc) return raise_eve(rc, "open");
  DomainObject *dom = PyObject_New(DomainObject, &Domain_Type);
  if (!dom) {
    eve_close(d);
    return NULL;
  }
  dom->d = d;
  dom->closed = 0;
  dom->path = path == Py_None ? Py_NewRef(Py_None) : PyObject_Str(path);
  if (!dom->path) Py_CLEAR(dom);
  return (PyObject *)dom;
}

/* Handed the Python-side classes by eve/__init__.py, once. */
static PyObject *mod_init_types(PyObject *Py_UNUSED(mod), PyObject *args) {
  PyObject *m, *v, *s, *l, *kw, *sym, *errs, *base, *atom;
  if (!PyArg_ParseTuple(args, "OOOOOOO!OO!", &m, &v, &s, &l, &kw, &sym, &PyDict_Type, &errs, &base,
                        &PyType_Type, &atom))
    return NULL;
  if (!PyType_IsSubtype((PyTypeObject *)atom, &Atom_Type))
    return PyErr_Format(PyExc_TypeError, "the atom class must derive from _Atom");
  Py_XSETREF(cls_atom, (PyTypeObject *)Py_NewRef(atom));
  PyObject *all[] = {m, v, s, l};
  for (int i = 0; i < 4; i++)
    if (!PyType_Check(all[i]) || !PyType_IsSubtype((PyTypeObject *)all[i], &View_Type))
      return PyErr_Format(PyExc_TypeError, "view classes must derive from _View");
  Py_XSETREF(cls_map, (PyTypeObject *)Py_NewRef(m));
  Py_XSETREF(cls_vector, (PyTypeObject *)Py_NewRef(v));
  Py_XSETREF(cls_set, (PyTypeObject *)Py_NewRef(s));
  Py_XSETREF(cls_list, (PyTypeObject *)Py_NewRef(l));
  Py_XSETREF(cls_keyword, Py_NewRef(kw));
  Py_XSETREF(cls_symbol, Py_NewRef(sym));
  Py_XSETREF(error_classes, Py_NewRef(errs));
  Py_XSETREF(error_base, Py_NewRef(base));
  Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *Py_UNUSED(mod), PyObject *arg) {
  int code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  return PyUnicode_FromString(eve_strerror(code));
}

static PyObject *mod_err_name(PyObject *Py_UNUSED(mod), PyObject *arg) {
  int code = PyLong_AsLong(arg);
  if (code == -1 && PyErr_Occurred()) return NULL;
  return PyUnicode_FromString(eve_err_name(code));
}

static PyMethodDef mod_methods[] = {
  {"open", (PyCFunction)(void (*)(void))mod_open, METH_VARARGS | METH_KEYWORDS,
   "open(path=None, flags=0, max_size=0, initial_size=0, file_mode=0)\n--\n\n"
   "Open (or create) the domain at path; None: an in-memory domain."},
  {"_init_types", mod_init_types, METH_VARARGS, NULL},
  {"strerror", mod_strerror, METH_O, "strerror(code)\n--\n\neve_strerror(code)."},
  {"err_name", mod_err_name, METH_O, "err_name(code)\n--\n\neve_err_name(code)."},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef eve_module = {
  PyModuleDef_HEAD_INIT, "eve._eve", "The C core of the eve package (see eve).", -1, mod_methods,
  NULL, NULL, NULL, NULL,
};

/* stdlib objects the conversions need: uuid.UUID, datetime, the epoch */
static int import_stdlib(void) {
  PyObject *uuid = PyImport_ImportModule("uuid");
  if (!uuid) return -1;
  cls_uuid = PyObject_GetAttrString(uuid, "UUID");
  Py_DECREF(uuid);
  PyObject *dt = PyImport_ImportModule("datetime");
  if (!dt) return -1;
  cls_datetime = PyObject_GetAttrString(dt, "datetime");
  PyObject *tz = PyObject_GetAttrString(dt, "timezone");
  PyObject *utc = tz ? PyObject_GetAttrString(tz, "utc") : NULL;
  PyObject *td = PyObject_GetAttrString(dt, "timedelta");
  Py_DECREF(dt);
  if (cls_datetime && utc) epoch = PyObject_CallFunction(cls_datetime, "iiiiiiiO", 1970, 1, 1, 0, 0, 0, 0, utc);
  if (td) one_ms = PyObject_CallFunction(td, "iii", 0, 0, 1000);
  Py_XDECREF(tz);
  Py_XDECREF(utc);
  Py_XDECREF(td);
  PyObject *abc = PyImport_ImportModule("collections.abc");
  if (!abc) return -1;
  abc_kinds[0] = PyObject_GetAttrString(abc, "Mapping");
  abc_kinds[1] = PyObject_GetAttrString(abc, "Set");
  abc_kinds[2] = PyObject_GetAttrString(abc, "Sequence");
  Py_DECREF(abc);
  return cls_uuid && cls_datetime && epoch && one_ms && abc_kinds[0] && abc_kinds[1] &&
                 abc_kinds[2]
             ? 0
             : -1;
}

PyMODINIT_FUNC PyInit__eve(void); /* the one exported name */
PyMODINIT_FUNC PyInit__eve(void) {
  if (PyType_Ready(&View_Type) < 0 || PyType_Ready(&Iter_Type) < 0 ||
      PyType_Ready(&Scope_Type) < 0 || PyType_Ready(&Atom_Type) < 0 ||
      PyType_Ready(&Domain_Type) < 0 || import_stdlib() < 0)
    return NULL;
  PyObject *m = PyModule_Create(&eve_module);
  if (!m) return NULL;
  pthread_atfork(NULL, NULL, on_fork_child);
  if (PyModule_AddObjectRef(m, "_View", (PyObject *)&View_Type) < 0 ||
      PyModule_AddObjectRef(m, "_Atom", (PyObject *)&Atom_Type) < 0 ||
      PyModule_AddObjectRef(m, "Domain", (PyObject *)&Domain_Type) < 0 ||
      PyModule_AddStringConstant(m, "library_version", eve_version()) < 0 ||
      PyModule_AddIntConstant(m, "OPEN_CREATE", EVE_OPEN_CREATE) < 0 ||
      PyModule_AddIntConstant(m, "OPEN_EXISTING", EVE_OPEN_EXISTING) < 0 ||
      PyModule_AddIntConstant(m, "OPEN_NEW", EVE_OPEN_NEW) < 0 ||
      PyModule_AddIntConstant(m, "OPEN_RDONLY", EVE_OPEN_RDONLY) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
