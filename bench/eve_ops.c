/* eve_ops.c — eve as a user drives it: one write transaction per update,
 * a swap function that assocs one key, reads in their own read-only
 * transaction (eve_map_get_text looks the key up by its bytes, so a read
 * allocates nothing). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "eve.h"

enum { LOAD_BATCH = 10 };  /* keys assoc'ed per swap while loading (fastest of 1, 10, 100, 1000 here) */

const char *ev_err(int rc) { return eve_strerror(rc); }

int ev_open(ev_store *s, const char *path, const char *atom) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  eve_options o = {.flags = EVE_OPEN_CREATE};
  /* valgrind cannot reserve the default 1 TiB: EVE_BENCH_MAX_SIZE=4294967296 */
  const char *max = getenv("EVE_BENCH_MAX_SIZE");
  if (max) o.max_size = strtoull(max, NULL, 10);
  int rc = eve_open(path, &o, &s->d);
  if (rc) return rc;
  rc = eve_atom_open(s->d, atom, EVE_ATOM_CREATE, &s->a);
  if (rc) {
    eve_close(s->d);
    s->d = NULL;
  }
  return rc;
}

void ev_close(ev_store *s) {
  if (s->a) eve_atom_close(s->a);
  if (s->d) eve_close(s->d);
  s->a = NULL;
  s->d = NULL;
}

/* ---- map updates ------------------------------------------------------ */

typedef struct assoc_arg {
  eve_val k, v;
  uint64_t calls;
} assoc_arg;

static int assoc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  assoc_arg *u = arg;
  u->calls++;
  return eve_map_assoc(t, old, u->k, u->v, out);
}

static int make_pair(eve_txn *t, uint64_t i, uint64_t gen, eve_val *k, eve_val *v) {
  char kb[KEY_MAX], vb[VAL_LEN + 1];
  size_t kn = key_text(i, kb);
  val_text(i, gen, vb);
  int rc = eve_string(t, kb, kn, k);
  return rc ? rc : eve_string(t, vb, VAL_LEN, v);
}

/* One update inside t: build the key and value, swap them in. */
static int update_in(eve_txn *t, eve_atom *a, uint64_t i, uint64_t gen, uint64_t *attempts) {
  assoc_arg u = {0};
  int rc = make_pair(t, i, gen, &u.k, &u.v);
  if (!rc) rc = eve_swap(t, a, assoc_fn, &u, NULL);
  if (attempts) *attempts += u.calls;
  return rc;
}

int ev_update(ev_store *s, uint64_t i, uint64_t gen, uint64_t *attempts) {
  eve_txn *t;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  rc = update_in(t, s->a, i, gen, attempts);
  int rc2 = eve_txn_end(t);
  return rc ? rc : rc2;
}

int ev_update_batch_txn(ev_store *s, rng *r, uint64_t nkeys, uint64_t gen, samples *lat,
                        size_t n) {
  eve_txn *t = NULL;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  for (size_t j = 0; j < n && !rc; j++) {
    uint64_t i = rng_below(r, nkeys), t0 = now_ns();
    rc = update_in(t, s->a, i, gen, NULL);
    if (lat) samples_add(lat, now_ns() - t0);
  }
  if (t) {
    int rc2 = eve_txn_end(t);
    if (!rc) rc = rc2;
  }
  return rc;
}

/* ---- loading: LOAD_BATCH keys per swap, one txn per swap ---------------- */

typedef struct load_arg {
  uint64_t first, n;
} load_arg;

static int load_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  const load_arg *l = arg;
  eve_val m = old == EVE_V_NIL ? EVE_V_EMPTY_MAP : old;
  for (uint64_t i = l->first; i < l->first + l->n; i++) {
    eve_val k, v;
    int rc = make_pair(t, i, 0, &k, &v);
    if (!rc) rc = eve_map_assoc(t, m, k, v, &m);
    if (rc) return rc;
  }
  *out = m;
  return 0;
}

int ev_load(ev_store *s, uint64_t n) {
  for (uint64_t first = 0; first < n; first += LOAD_BATCH) {
    load_arg l = {first, n - first < LOAD_BATCH ? n - first : LOAD_BATCH};
    eve_txn *t;
    int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
    if (rc) return rc;
    rc = eve_swap(t, s->a, load_fn, &l, NULL);
    int rc2 = eve_txn_end(t);
    if (rc || rc2) return rc ? rc : rc2;
  }
  return 0;
}

/* ---- reads -------------------------------------------------------------- */

static int read_in(eve_txn *t, eve_val m, uint64_t i, char out[VAL_LEN + 1]) {
  char kb[KEY_MAX];
  size_t kn = key_text(i, kb);
  eve_val v;
  const char *p;
  size_t n;
  int rc = eve_map_get_text(t, m, EVE_STRING, kb, kn, &v);
  if (!rc) rc = eve_text_get(t, &v, &p, &n);
  if (rc) return rc;
  if (n > VAL_LEN) n = VAL_LEN;
  memcpy(out, p, n);
  out[n] = 0;
  return 0;
}

int ev_read(ev_store *s, uint64_t i, char out[VAL_LEN + 1]) {
  eve_txn *t;
  eve_val m;
  int rc = eve_txn_begin(s->d, EVE_TXN_READ, &t);
  if (rc) return rc;
  rc = eve_deref(t, s->a, &m);
  if (!rc) rc = read_in(t, m, i, out);
  int rc2 = eve_txn_end(t);
  return rc ? rc : rc2;
}

int ev_read_batch_txn(ev_store *s, rng *r, uint64_t nkeys, samples *lat, size_t n) {
  eve_txn *t;
  eve_val m;
  char out[VAL_LEN + 1];
  int rc = eve_txn_begin(s->d, EVE_TXN_READ, &t);
  if (rc) return rc;
  rc = eve_deref(t, s->a, &m);
  for (size_t j = 0; j < n && !rc; j++) {
    uint64_t i = rng_below(r, nkeys), t0 = lat ? now_ns() : 0;
    rc = read_in(t, m, i, out);
    if (lat) samples_add(lat, now_ns() - t0);
  }
  int rc2 = eve_txn_end(t);
  return rc ? rc : rc2;
}

/* ---- the counter --------------------------------------------------------- */

static int inc_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  uint64_t *calls = arg;
  int64_t n = 0;
  (*calls)++;
  if (old != EVE_V_NIL) {
    int rc = eve_int_get(t, old, &n);
    if (rc) return rc;
  }
  return eve_int(t, n + 1, out);
}

int ev_inc(ev_store *s, uint64_t *attempts) {
  eve_txn *t;
  uint64_t calls = 0;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  rc = eve_swap(t, s->a, inc_fn, &calls, NULL);
  int rc2 = eve_txn_end(t);
  if (attempts) *attempts += calls;
  return rc ? rc : rc2;
}

int ev_inc_batch_txn(ev_store *s, samples *lat, size_t n) {
  eve_txn *t;
  uint64_t calls = 0;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  for (size_t j = 0; j < n && !rc; j++) {
    uint64_t t0 = now_ns();
    rc = eve_swap(t, s->a, inc_fn, &calls, NULL);
    if (lat) samples_add(lat, now_ns() - t0);
  }
  int rc2 = eve_txn_end(t);
  return rc ? rc : rc2;
}

int ev_counter_value(ev_store *s, int64_t *out) {
  eve_txn *t;
  eve_val v;
  int rc = eve_txn_begin(s->d, EVE_TXN_READ, &t);
  if (rc) return rc;
  rc = eve_deref(t, s->a, &v);
  if (!rc) rc = v == EVE_V_NIL ? (*out = 0, 0) : eve_int_get(t, v, out);
  eve_txn_end(t);
  return rc;
}

/* ---- footprint -------------------------------------------------------- */

int ev_footprint(ev_store *s, uint64_t *file_bytes, uint64_t *live_bytes, uint64_t *disk_bytes) {
  eve_stats st;
  int rc = eve_stats_get(s->d, &st);
  if (rc) return rc;
  *file_bytes = st.file_bytes;
  *live_bytes = st.live_bytes;
  *disk_bytes = disk_bytes_of(s->path);
  return 0;
}

/* Free pages back to the file system, online (eve_trim). */
int ev_trim(ev_store *s) { return eve_trim(s->d, NULL); }

/* ---- a held snapshot (scenario 7) ---------------------------------------- */

int ev_snapshot_begin(ev_store *s, eve_txn **t) {
  eve_val m;
  char out[VAL_LEN + 1];
  int rc = eve_txn_begin(s->d, EVE_TXN_READ, t);
  if (rc) return rc;
  rc = eve_deref(*t, s->a, &m);
  if (!rc) rc = read_in(*t, m, 0, out);
  if (rc) eve_txn_end(*t);
  return rc;
}
