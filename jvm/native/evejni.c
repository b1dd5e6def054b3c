/*
 * evejni.c — the JNI layer behind the eve Java package (class eve.Native).
 *
 * Written against the public C API only (eve.h).  Every native method is a
 * thin wrapper of one eve call (or of a few, for the conversions of eve
 * values into Java objects); the lifetimes, the locking and the Clojure
 * interfaces live in Java.
 *
 * Handles cross the boundary as jlong: eve_domain*, eve_atom*, eve_txn*
 * pointers, and eve_val words.  Java keeps them valid: a transaction is
 * used only while open (eve.Ctx), a domain handle only while no close is
 * in flight (eve.Domain's lock).
 *
 * Errors: every eve error becomes an eve.EveException (the EVE_E* name as
 * its code) thrown into Java; after any JNI call that may raise, the
 * pending exception is checked and the function returns at once.  Nothing
 * here aborts the JVM.
 */
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eve.h"

/* A code of our own that the swap trampoline returns when the Java
 * function threw: eve_swap hands it back and the exception stays pending. */
#define JAVA_ABORT (-1000)

#define P(x) ((void *)(intptr_t)(x))
#define J(x) ((jlong)(intptr_t)(x))

static jclass cls_eve_exception, cls_long, cls_double, cls_char, cls_boolean, cls_conv, cls_object,
  cls_string;
static jmethodID m_exc_init, m_long_valueof, m_double_valueof, m_char_valueof, m_conv_str,
  m_conv_kw, m_conv_sym, m_conv_uuid, m_conv_inst, m_conv_view, m_swapfn_call;
static jobject obj_true, obj_false;

/* ---- errors ----------------------------------------------------------------- */

static void throw_eve(JNIEnv *env, int rc, const char *what) {
  if ((*env)->ExceptionCheck(env)) return;
  jstring code = (*env)->NewStringUTF(env, eve_err_name(rc));
  if (!code) return;
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, eve_strerror(rc));
  jstring jmsg = (*env)->NewStringUTF(env, msg);
  if (!jmsg) return;
  jobject e = (*env)->NewObject(env, cls_eve_exception, m_exc_init, code, (jint)rc, jmsg);
  if (e) (*env)->Throw(env, (jthrowable)e);
}

/* rc != 0: throw and return 1. */
static int fail(JNIEnv *env, int rc, const char *what) {
  if (rc == 0) return 0;
  throw_eve(env, rc, what);
  return 1;
}

/* ---- load ------------------------------------------------------------------- */

static jclass global_class(JNIEnv *env, const char *name) {
  jclass c = (*env)->FindClass(env, name);
  if (!c) return NULL;
  jclass g = (*env)->NewGlobalRef(env, c);
  (*env)->DeleteLocalRef(env, c);
  return g;
}

static jobject static_field_object(JNIEnv *env, jclass c, const char *name, const char *sig) {
  jfieldID f = (*env)->GetStaticFieldID(env, c, name, sig);
  if (!f) return NULL;
  jobject o = (*env)->GetStaticObjectField(env, c, f);
  if (!o) return NULL;
  jobject g = (*env)->NewGlobalRef(env, o);
  (*env)->DeleteLocalRef(env, o);
  return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
  (void)reserved;
  JNIEnv *env;
  if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
  if (!(cls_eve_exception = global_class(env, "eve/EveException")) ||
      !(cls_long = global_class(env, "java/lang/Long")) ||
      !(cls_double = global_class(env, "java/lang/Double")) ||
      !(cls_char = global_class(env, "java/lang/Character")) ||
      !(cls_boolean = global_class(env, "java/lang/Boolean")) ||
      !(cls_object = global_class(env, "java/lang/Object")) ||
      !(cls_string = global_class(env, "java/lang/String")) ||
      !(cls_conv = global_class(env, "eve/Conv")))
    return JNI_ERR;
  jclass swapfn = (*env)->FindClass(env, "eve/Native$SwapFn");
  if (!swapfn) return JNI_ERR;
  if (!(m_swapfn_call = (*env)->GetMethodID(env, swapfn, "call", "(JJ)J"))) return JNI_ERR;
  (*env)->DeleteLocalRef(env, swapfn);
  if (!(m_exc_init = (*env)->GetMethodID(env, cls_eve_exception, "<init>",
                                         "(Ljava/lang/String;ILjava/lang/String;)V")) ||
      !(m_long_valueof = (*env)->GetStaticMethodID(env, cls_long, "valueOf", "(J)Ljava/lang/Long;")) ||
      !(m_double_valueof =
          (*env)->GetStaticMethodID(env, cls_double, "valueOf", "(D)Ljava/lang/Double;")) ||
      !(m_char_valueof =
          (*env)->GetStaticMethodID(env, cls_char, "valueOf", "(C)Ljava/lang/Character;")) ||
      !(m_conv_str = (*env)->GetStaticMethodID(env, cls_conv, "str", "([B)Ljava/lang/String;")) ||
      !(m_conv_kw = (*env)->GetStaticMethodID(env, cls_conv, "kw", "([B)Ljava/lang/Object;")) ||
      !(m_conv_sym = (*env)->GetStaticMethodID(env, cls_conv, "sym", "([B)Ljava/lang/Object;")) ||
      !(m_conv_uuid = (*env)->GetStaticMethodID(env, cls_conv, "uuid", "(JJ)Ljava/lang/Object;")) ||
      !(m_conv_inst = (*env)->GetStaticMethodID(env, cls_conv, "inst", "(J)Ljava/lang/Object;")) ||
      !(m_conv_view = (*env)->GetStaticMethodID(env, cls_conv, "view",
                                                "(Leve/Ctx;IJ)Ljava/lang/Object;")))
    return JNI_ERR;
  if (!(obj_true = static_field_object(env, cls_boolean, "TRUE", "Ljava/lang/Boolean;")) ||
      !(obj_false = static_field_object(env, cls_boolean, "FALSE", "Ljava/lang/Boolean;")))
    return JNI_ERR;
  return JNI_VERSION_1_8;
}

/* ---- eve -> Java ------------------------------------------------------------ */

static jbyteArray bytes_of(JNIEnv *env, const void *p, size_t n) {
  if (n > (size_t)INT32_MAX) {
    throw_eve(env, EVE_ERANGE, "value too large for a Java array");
    return NULL;
  }
  jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
  if (a && n) (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)p);
  return (*env)->ExceptionCheck(env) ? NULL : a;
}

/* The Java object for w read in t: scalars become Java values, collections
 * views of ctx (Conv.view).  NULL with an exception pending on failure
 * (NULL without one is nil). */
static jobject to_java(JNIEnv *env, jobject ctx, eve_txn *t, eve_val w) {
  eve_type ty;
  int rc = eve_type_get(t, w, &ty);
  if (fail(env, rc, "read value")) return NULL;
  switch (ty) {
  case EVE_NIL: return NULL;
  case EVE_BOOL: {
    int b;
    if (fail(env, eve_bool_get(t, w, &b), "read bool")) return NULL;
    return (*env)->NewLocalRef(env, b ? obj_true : obj_false);
  }
  case EVE_INT: {
    int64_t i;
    if (fail(env, eve_int_get(t, w, &i), "read int")) return NULL;
    return (*env)->CallStaticObjectMethod(env, cls_long, m_long_valueof, (jlong)i);
  }
  case EVE_FLOAT: {
    double f;
    if (fail(env, eve_float_get(t, w, &f), "read float")) return NULL;
    return (*env)->CallStaticObjectMethod(env, cls_double, m_double_valueof, (jdouble)f);
  }
  case EVE_CHAR: {
    uint32_t c;
    if (fail(env, eve_char_get(t, w, &c), "read char")) return NULL;
    if (c > 0xFFFF) { /* outside the BMP: a Java char cannot hold it */
      jchar pair[2] = {(jchar)(0xD800 + ((c - 0x10000) >> 10)), (jchar)(0xDC00 + ((c - 0x10000) & 0x3FF))};
      return (*env)->NewString(env, pair, 2);
    }
    return (*env)->CallStaticObjectMethod(env, cls_char, m_char_valueof, (jchar)c);
  }
  case EVE_STRING:
  case EVE_KEYWORD:
  case EVE_SYMBOL: {
    const char *s;
    size_t n;
    if (fail(env, eve_text_get(t, &w, &s, &n), "read text")) return NULL;
    jbyteArray b = bytes_of(env, s, n);
    if (!b) return NULL;
    jmethodID m = ty == EVE_STRING ? m_conv_str : ty == EVE_KEYWORD ? m_conv_kw : m_conv_sym;
    jobject r = (*env)->CallStaticObjectMethod(env, cls_conv, m, b);
    (*env)->DeleteLocalRef(env, b);
    return r;
  }
  case EVE_UUID: {
    uint8_t u[16];
    if (fail(env, eve_uuid_get(t, w, u), "read uuid")) return NULL;
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) hi = hi << 8 | u[i];
    for (int i = 8; i < 16; i++) lo = lo << 8 | u[i];
    return (*env)->CallStaticObjectMethod(env, cls_conv, m_conv_uuid, (jlong)hi, (jlong)lo);
  }
  case EVE_INST: {
    int64_t ms;
    if (fail(env, eve_inst_get(t, w, &ms), "read inst")) return NULL;
    return (*env)->CallStaticObjectMethod(env, cls_conv, m_conv_inst, (jlong)ms);
  }
  case EVE_BYTES: {
    const uint8_t *p;
    size_t n;
    if (fail(env, eve_bytes_get(t, &w, &p, &n), "read bytes")) return NULL;
    return bytes_of(env, p, n);
  }
  case EVE_LIST:
  case EVE_VECTOR:
  case EVE_SET:
  case EVE_MAP:
    return (*env)->CallStaticObjectMethod(env, cls_conv, m_conv_view, ctx, (jint)ty, (jlong)w);
  }
  throw_eve(env, EVE_ECORRUPT, "unknown value type");
  return NULL;
}

/* ---- domains ------------------------------------------------------------------ */

/* A NUL-terminated copy of a Java byte[] (UTF-8 text), from malloc; NULL
 * with an exception pending.  EVE_EINVAL for text containing NUL. */
static char *cstr(JNIEnv *env, jbyteArray b, const char *what) {
  jsize n = (*env)->GetArrayLength(env, b);
  char *s = malloc((size_t)n + 1);
  if (!s) return throw_eve(env, EVE_ENOMEM, what), NULL;
  (*env)->GetByteArrayRegion(env, b, 0, n, (jbyte *)s);
  if ((*env)->ExceptionCheck(env)) return free(s), NULL;
  s[n] = 0;
  if ((jsize)strlen(s) != n) return free(s), throw_eve(env, EVE_EINVAL, what), NULL;
  return s;
}

JNIEXPORT jlong JNICALL Java_eve_Native_open(JNIEnv *env, jclass c, jbyteArray path, jint flags,
                                             jlong max_size, jlong initial_size) {
  (void)c;
  char *p = NULL;
  if (path && !(p = cstr(env, path, "open"))) return 0;
  eve_options o;
  memset(&o, 0, sizeof o);
  o.flags = (unsigned)flags;
  o.max_size = (uint64_t)max_size;
  o.initial_size = (uint64_t)initial_size;
  eve_domain *d = NULL;
  int rc = eve_open(p, &o, &d);
  free(p);
  if (fail(env, rc, "open")) return 0;
  return J(d);
}

/* 0, or EVE_EBUSY (Java retries); any other error is thrown. */
JNIEXPORT jint JNICALL Java_eve_Native_close(JNIEnv *env, jclass c, jlong d) {
  (void)c;
  int rc = eve_close(P(d));
  if (rc && rc != EVE_EBUSY) fail(env, rc, "close");
  return rc;
}

JNIEXPORT jlongArray JNICALL Java_eve_Native_stats(JNIEnv *env, jclass c, jlong d) {
  (void)c;
  eve_stats s;
  if (fail(env, eve_stats_get(P(d), &s), "stats")) return NULL;
  jlong v[8] = {(jlong)s.file_bytes, (jlong)s.live_bytes, (jlong)s.free_bytes, (jlong)s.retired_bytes,
                (jlong)s.atoms, (jlong)s.readers, (jlong)s.snapshots, (jlong)s.disk_bytes};
  jlongArray a = (*env)->NewLongArray(env, 8);
  if (a) (*env)->SetLongArrayRegion(env, a, 0, 8, v);
  return a;
}

JNIEXPORT jlong JNICALL Java_eve_Native_check(JNIEnv *env, jclass c, jlong d) {
  (void)c;
  eve_check_report r;
  int rc = eve_check(P(d), &r, NULL, NULL);
  if (rc && rc != EVE_ECORRUPT) return fail(env, rc, "check"), 0;
  return (jlong)r.problems;
}

/* ---- atoms -------------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_eve_Native_atomOpen(JNIEnv *env, jclass c, jlong d, jbyteArray name,
                                                 jboolean create) {
  (void)c;
  char *s = cstr(env, name, "atom");
  if (!s) return 0;
  eve_atom *a = NULL;
  int rc = eve_atom_open(P(d), s, create ? EVE_ATOM_CREATE : 0, &a);
  free(s);
  if (fail(env, rc, "atom")) return 0;
  return J(a);
}

JNIEXPORT void JNICALL Java_eve_Native_atomClose(JNIEnv *env, jclass c, jlong a) {
  (void)env, (void)c;
  eve_atom_close(P(a));
}

JNIEXPORT void JNICALL Java_eve_Native_atomRemove(JNIEnv *env, jclass c, jlong d, jbyteArray name) {
  (void)c;
  char *s = cstr(env, name, "remove atom");
  if (!s) return;
  int rc = eve_atom_remove(P(d), s);
  free(s);
  fail(env, rc, "remove atom");
}

typedef struct {
  JNIEnv *env;
  jobjectArray arr;
  size_t i, cap;
} names_ctx;

static int add_name(void *ctx, const char *name, size_t n) {
  names_ctx *st = ctx;
  JNIEnv *env = st->env;
  if (st->i >= st->cap) return EVE_ECONFLICT; /* an atom was added meanwhile: retry */
  jbyteArray b = bytes_of(env, name, n);
  if (!b) return JAVA_ABORT;
  jobject s = (*env)->CallStaticObjectMethod(env, cls_conv, m_conv_str, b);
  (*env)->DeleteLocalRef(env, b);
  if (!s) return JAVA_ABORT;
  (*env)->SetObjectArrayElement(env, st->arr, (jsize)st->i++, s);
  (*env)->DeleteLocalRef(env, s);
  return (*env)->ExceptionCheck(env) ? JAVA_ABORT : 0;
}

/* The atom names (in eve's stable order; Java sorts them). */
JNIEXPORT jobjectArray JNICALL Java_eve_Native_atomNames(JNIEnv *env, jclass c, jlong d) {
  (void)c;
  for (int attempt = 0;; attempt++) {
    eve_txn *t;
    if (fail(env, eve_txn_begin(P(d), EVE_TXN_READ, &t), "atom names")) return NULL;
    size_t count = 0;
    int rc = eve_atom_names(t, NULL, 0, &count);
    names_ctx st = {env, NULL, 0, count};
    if (!rc && count > (size_t)INT32_MAX) rc = EVE_ERANGE;
    if (!rc && !(st.arr = (*env)->NewObjectArray(env, (jsize)count, cls_string, NULL))) rc = JAVA_ABORT;
    if (!rc) rc = eve_atom_names_each(t, add_name, &st);
    if (!rc && st.i != count) rc = EVE_ECONFLICT; /* one was removed meanwhile */
    eve_txn_end(t);
    if ((*env)->ExceptionCheck(env)) return NULL;
    if (rc == EVE_ECONFLICT && attempt < 100) {
      if (st.arr) (*env)->DeleteLocalRef(env, st.arr);
      continue;
    }
    if (fail(env, rc, "atom names")) return NULL;
    return st.arr;
  }
}

JNIEXPORT jlong JNICALL Java_eve_Native_version(JNIEnv *env, jclass c, jlong a) {
  (void)c;
  uint64_t v = 0;
  if (fail(env, eve_atom_version_get(P(a), &v), "version")) return 0;
  return (jlong)v;
}

/* The new version, or -1 when timeout_ms passed first. */
JNIEXPORT jlong JNICALL Java_eve_Native_await(JNIEnv *env, jclass c, jlong a, jlong seen,
                                              jlong timeout_ms) {
  (void)c;
  uint64_t now = 0;
  int rc = eve_wait(P(a), (uint64_t)seen, (int64_t)timeout_ms, &now);
  if (rc == EVE_ETIMEDOUT) return -1;
  if (fail(env, rc, "await")) return 0;
  return (jlong)now;
}

/* ---- transactions ------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_eve_Native_txnBegin(JNIEnv *env, jclass c, jlong d, jint flags) {
  (void)c;
  eve_txn *t = NULL;
  if (fail(env, eve_txn_begin(P(d), (unsigned)flags, &t), "begin transaction")) return 0;
  return J(t);
}

JNIEXPORT void JNICALL Java_eve_Native_txnEnd(JNIEnv *env, jclass c, jlong t) {
  (void)env, (void)c;
  eve_txn_end(P(t));
}

JNIEXPORT jlong JNICALL Java_eve_Native_deref(JNIEnv *env, jclass c, jlong t, jlong a) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_deref(P(t), P(a), &v), "deref")) return 0;
  return (jlong)v;
}

typedef struct {
  JNIEnv *env;
  jobject fn;
} swap_arg;

/* eve_swap_fn: the Java function (Native.SwapFn.call) builds the new value
 * in t from old; a Java exception aborts the swap and stays pending. */
static int swap_cb(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  swap_arg *s = arg;
  JNIEnv *env = s->env;
  jlong r = (*env)->CallLongMethod(env, s->fn, m_swapfn_call, J(t), (jlong)old);
  if ((*env)->ExceptionCheck(env)) return JAVA_ABORT;
  *out = (eve_val)r;
  return 0;
}

/* The value published; oldout[0] (if oldout is not null) the value fn was
 * given on the attempt that won.  Both valid as long as t. */
JNIEXPORT jlong JNICALL Java_eve_Native_swap(JNIEnv *env, jclass c, jlong t, jlong a, jobject fn,
                                             jlongArray oldout) {
  (void)c;
  swap_arg s = {env, fn};
  eve_val old = 0, out = 0;
  int rc = eve_swap_vals(P(t), P(a), swap_cb, &s, &old, &out);
  if (rc == JAVA_ABORT && (*env)->ExceptionCheck(env)) return 0;
  if (fail(env, rc, "swap")) return 0;
  if (oldout) {
    jlong o = (jlong)old;
    (*env)->SetLongArrayRegion(env, oldout, 0, 1, &o);
  }
  return (jlong)out;
}

JNIEXPORT void JNICALL Java_eve_Native_reset(JNIEnv *env, jclass c, jlong t, jlong a, jlong v) {
  (void)c;
  fail(env, eve_reset(P(t), P(a), (eve_val)v), "reset");
}

JNIEXPORT jboolean JNICALL Java_eve_Native_cas(JNIEnv *env, jclass c, jlong t, jlong a, jlong expected,
                                               jlong v) {
  (void)c;
  int rc = eve_compare_and_set(P(t), P(a), (eve_val)expected, (eve_val)v);
  if (rc == EVE_ECONFLICT) return JNI_FALSE;
  if (fail(env, rc, "compare-and-set")) return JNI_FALSE;
  return JNI_TRUE;
}

/* ---- reading values ----------------------------------------------------------- */

JNIEXPORT jobject JNICALL Java_eve_Native_get(JNIEnv *env, jclass c, jobject ctx, jlong t, jlong w) {
  (void)c;
  return to_java(env, ctx, P(t), (eve_val)w);
}

JNIEXPORT jint JNICALL Java_eve_Native_type(JNIEnv *env, jclass c, jlong t, jlong w) {
  (void)c;
  eve_type ty = EVE_NIL;
  if (fail(env, eve_type_get(P(t), (eve_val)w, &ty), "read value")) return -1;
  return (jint)ty;
}

JNIEXPORT jlong JNICALL Java_eve_Native_count(JNIEnv *env, jclass c, jlong t, jlong w) {
  (void)c;
  uint64_t n = 0;
  if (fail(env, eve_count(P(t), (eve_val)w, &n), "count")) return 0;
  return (jlong)n;
}

JNIEXPORT jobject JNICALL Java_eve_Native_mapGet(JNIEnv *env, jclass c, jobject ctx, jlong t, jlong m,
                                                 jlong k, jobject nf) {
  (void)c;
  eve_val v;
  int rc = eve_map_get(P(t), (eve_val)m, (eve_val)k, &v);
  if (rc == EVE_ENOTFOUND) return nf;
  if (fail(env, rc, "get")) return NULL;
  return to_java(env, ctx, P(t), v);
}

JNIEXPORT jobject JNICALL Java_eve_Native_mapGetText(JNIEnv *env, jclass c, jobject ctx, jlong t,
                                                     jlong m, jint type, jbyteArray key, jobject nf) {
  (void)c;
  jsize n = (*env)->GetArrayLength(env, key);
  jbyte *p = (*env)->GetByteArrayElements(env, key, NULL);
  if (!p) return NULL;
  eve_val v;
  int rc = eve_map_get_text(P(t), (eve_val)m, (eve_type)type, (const char *)p, (size_t)n, &v);
  (*env)->ReleaseByteArrayElements(env, key, p, JNI_ABORT);
  if (rc == EVE_ENOTFOUND || rc == EVE_EINVAL) return nf; /* EINVAL: text eve would refuse */
  if (fail(env, rc, "get")) return NULL;
  return to_java(env, ctx, P(t), v);
}

/* Whether set s holds x. */
JNIEXPORT jboolean JNICALL Java_eve_Native_setContains(JNIEnv *env, jclass c, jlong t, jlong s, jlong x) {
  (void)c;
  int yes = 0;
  if (fail(env, eve_set_contains(P(t), (eve_val)s, (eve_val)x, &yes), "contains")) return JNI_FALSE;
  return yes ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jobject JNICALL Java_eve_Native_vecNth(JNIEnv *env, jclass c, jobject ctx, jlong t, jlong v,
                                                 jlong i) {
  (void)c;
  eve_val x;
  if (fail(env, eve_vec_nth(P(t), (eve_val)v, (uint64_t)i, &x), "nth")) return NULL;
  return to_java(env, ctx, P(t), x);
}

JNIEXPORT jlong JNICALL Java_eve_Native_vecNthWord(JNIEnv *env, jclass c, jlong t, jlong v, jlong i) {
  (void)c;
  eve_val x = 0;
  if (fail(env, eve_vec_nth(P(t), (eve_val)v, (uint64_t)i, &x), "nth")) return 0;
  return (jlong)x;
}

JNIEXPORT jobject JNICALL Java_eve_Native_listFirst(JNIEnv *env, jclass c, jobject ctx, jlong t, jlong l) {
  (void)c;
  eve_val x;
  if (fail(env, eve_list_first(P(t), (eve_val)l, &x), "first")) return NULL;
  return to_java(env, ctx, P(t), x);
}

JNIEXPORT jlong JNICALL Java_eve_Native_listRest(JNIEnv *env, jclass c, jlong t, jlong l) {
  (void)c;
  eve_val x = 0;
  if (fail(env, eve_list_rest(P(t), (eve_val)l, &x), "rest")) return 0;
  return (jlong)x;
}

/* Every item of coll as Java objects: elements, or (pairs) keys and values
 * interleaved. */
JNIEXPORT jobjectArray JNICALL Java_eve_Native_items(JNIEnv *env, jclass c, jobject ctx, jlong t,
                                                     jlong coll, jboolean pairs) {
  (void)c;
  uint64_t n;
  if (fail(env, eve_count(P(t), (eve_val)coll, &n), "count")) return NULL;
  uint64_t len = pairs ? 2 * n : n;
  if (len > (uint64_t)INT32_MAX) return fail(env, EVE_ERANGE, "collection too large for Java"), NULL;
  jobjectArray arr = (*env)->NewObjectArray(env, (jsize)len, cls_object, NULL);
  if (!arr) return NULL;
  eve_iter it;
  int rc = eve_iter_init(P(t), (eve_val)coll, &it);
  if (fail(env, rc, "iterate")) return NULL;
  eve_val k, v;
  jsize i = 0;
  while ((rc = eve_iter_next(&it, &k, &v)) == 0) {
    if ((uint64_t)i + (pairs ? 2 : 1) > len) return fail(env, EVE_ECORRUPT, "iterate"), NULL;
    jobject jk = to_java(env, ctx, P(t), k);
    if ((*env)->ExceptionCheck(env)) return NULL;
    (*env)->SetObjectArrayElement(env, arr, i++, jk);
    if (jk) (*env)->DeleteLocalRef(env, jk);
    if (pairs) {
      jobject jv = to_java(env, ctx, P(t), v);
      if ((*env)->ExceptionCheck(env)) return NULL;
      (*env)->SetObjectArrayElement(env, arr, i++, jv);
      if (jv) (*env)->DeleteLocalRef(env, jv);
    }
    if ((*env)->ExceptionCheck(env)) return NULL;
  }
  if (rc != EVE_END) return fail(env, rc, "iterate"), NULL;
  if ((uint64_t)i != len) return fail(env, EVE_ECORRUPT, "iterate"), NULL;
  return arr;
}

JNIEXPORT jboolean JNICALL Java_eve_Native_equal(JNIEnv *env, jclass c, jlong t, jlong a, jlong b) {
  (void)c;
  int eq = 0;
  if (fail(env, eve_equal(P(t), (eve_val)a, (eve_val)b, &eq), "equal")) return JNI_FALSE;
  return eq ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jstring JNICALL Java_eve_Native_printEdn(JNIEnv *env, jclass c, jlong t, jlong v) {
  (void)c;
  char *s = NULL;
  size_t n = 0;
  if (fail(env, eve_print_edn(P(t), (eve_val)v, &s, &n), "print")) return NULL;
  jbyteArray b = bytes_of(env, s, n);
  eve_free(s);
  if (!b) return NULL;
  jobject r = (*env)->CallStaticObjectMethod(env, cls_conv, m_conv_str, b);
  (*env)->DeleteLocalRef(env, b);
  return (jstring)r;
}

/* ---- building values ----------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_eve_Native_mkInt(JNIEnv *env, jclass c, jlong t, jlong i) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_int(P(t), (int64_t)i, &v), "store int")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mkFloat(JNIEnv *env, jclass c, jlong t, jdouble f) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_float(P(t), (double)f, &v), "store float")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mkChar(JNIEnv *env, jclass c, jint cp) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_char((uint32_t)cp, &v), "store char")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mkText(JNIEnv *env, jclass c, jlong t, jint type, jbyteArray b) {
  (void)c;
  jsize n = (*env)->GetArrayLength(env, b);
  jbyte *p = (*env)->GetByteArrayElements(env, b, NULL);
  if (!p) return 0;
  eve_val v = 0;
  int rc = type == EVE_KEYWORD ? eve_keyword(P(t), (const char *)p, (size_t)n, &v)
         : type == EVE_SYMBOL  ? eve_symbol(P(t), (const char *)p, (size_t)n, &v)
         : type == EVE_BYTES   ? eve_bytes(P(t), p, (size_t)n, &v)
                               : eve_string(P(t), (const char *)p, (size_t)n, &v);
  (*env)->ReleaseByteArrayElements(env, b, p, JNI_ABORT);
  if (fail(env, rc, "store text")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mkUuid(JNIEnv *env, jclass c, jlong t, jlong hi, jlong lo) {
  (void)c;
  uint8_t u[16];
  for (int i = 0; i < 8; i++) u[i] = (uint8_t)((uint64_t)hi >> (56 - 8 * i));
  for (int i = 0; i < 8; i++) u[8 + i] = (uint8_t)((uint64_t)lo >> (56 - 8 * i));
  eve_val v = 0;
  if (fail(env, eve_uuid(P(t), u, &v), "store uuid")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mkInst(JNIEnv *env, jclass c, jlong t, jlong ms) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_inst(P(t), (int64_t)ms, &v), "store inst")) return 0;
  return (jlong)v;
}

#define BUILD3(jname, call, what)                                                             \
  JNIEXPORT jlong JNICALL Java_eve_Native_##jname(JNIEnv *env, jclass c, jlong t, jlong a,       \
                                                  jlong b) {                                     \
    (void)c;                                                                                     \
    eve_val v = 0;                                                                               \
    if (fail(env, call(P(t), (eve_val)a, (eve_val)b, &v), what)) return 0;                      \
    return (jlong)v;                                                                             \
  }

BUILD3(mapDissoc, eve_map_dissoc, "dissoc")
BUILD3(setConj, eve_set_conj, "conj")
BUILD3(setDisj, eve_set_disj, "disj")
BUILD3(vecConj, eve_vec_conj, "conj")
BUILD3(listCons, eve_list_cons, "cons")
BUILD3(mapMerge, eve_map_merge, "merge")

/* Whether a and b print the same: eve_equal holds a list and a vector with
 * equal elements equal, at any depth, and Clojure's = does too, but
 * Clojure's assoc still stores the new value where eve's keeps the old
 * word ("an update that changes nothing").  *same = 0 when they differ in
 * representation. */
static int same_text(eve_txn *t, eve_val a, eve_val b, int *same) {
  char *pa = NULL, *pb = NULL;
  size_t na = 0, nb = 0;
  int rc = eve_print_edn(t, a, &pa, &na);
  if (!rc) rc = eve_print_edn(t, b, &pb, &nb);
  if (!rc) *same = na == nb && memcmp(pa, pb, na) == 0;
  eve_free(pa);
  eve_free(pb);
  return rc;
}

/* eve_map_assoc, storing v as given even when the old value is equal to it
 * but differs in representation (a list for a vector), as Clojure does. */
static int map_assoc_exact(eve_txn *t, eve_val m, eve_val k, eve_val v, eve_val *out) {
  int rc = eve_map_assoc(t, m, k, v, out);
  if (rc || *out != m) return rc;
  eve_val old;
  if (eve_map_get(t, m, k, &old) != 0 || old == v) return 0;
  int same = 1;
  if ((rc = same_text(t, old, v, &same)) != 0 || same) return rc;
  eve_val without;
  if ((rc = eve_map_dissoc(t, m, k, &without)) != 0) return rc;
  return eve_map_assoc(t, without, k, v, out);
}

static int vec_assoc_exact(eve_txn *t, eve_val vec, uint64_t i, eve_val x, eve_val *out) {
  int rc = eve_vec_assoc(t, vec, i, x, out);
  if (rc || *out != vec) return rc;
  eve_val old;
  if (eve_vec_nth(t, vec, i, &old) != 0 || old == x) return 0;
  int same = 1;
  if ((rc = same_text(t, old, x, &same)) != 0 || same) return rc;
  /* rebuild: the elements before i, x, the elements after */
  eve_val acc;
  uint64_t n;
  if ((rc = eve_count(t, vec, &n)) != 0 || (rc = eve_vec_slice(t, vec, 0, i, &acc)) != 0 ||
      (rc = eve_vec_conj(t, acc, x, &acc)) != 0)
    return rc;
  for (uint64_t j = i + 1; j < n; j++) {
    eve_val y;
    if ((rc = eve_vec_nth(t, vec, j, &y)) != 0 || (rc = eve_vec_conj(t, acc, y, &acc)) != 0) return rc;
  }
  *out = acc;
  return 0;
}

JNIEXPORT jlong JNICALL Java_eve_Native_mapAssoc(JNIEnv *env, jclass c, jlong t, jlong m, jlong k,
                                                 jlong x) {
  (void)c;
  eve_val v = 0;
  if (fail(env, map_assoc_exact(P(t), (eve_val)m, (eve_val)k, (eve_val)x, &v), "assoc")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_vecAssoc(JNIEnv *env, jclass c, jlong t, jlong vec, jlong i,
                                                 jlong x) {
  (void)c;
  eve_val v = 0;
  if (fail(env, vec_assoc_exact(P(t), (eve_val)vec, (uint64_t)i, (eve_val)x, &v), "assoc")) return 0;
  return (jlong)v;
}

JNIEXPORT jlong JNICALL Java_eve_Native_vecPop(JNIEnv *env, jclass c, jlong t, jlong vec) {
  (void)c;
  eve_val v = 0;
  if (fail(env, eve_vec_pop(P(t), (eve_val)vec, &v), "pop")) return 0;
  return (jlong)v;
}
