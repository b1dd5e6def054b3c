/* peers_lmdb.c — LMDB as a user would pick it instead of eve: an mmap'd
 * B+tree, MDB_NOSYNC | MDB_WRITEMAP, one write transaction per update,
 * reads in a read-only transaction (reset and renewed between reads, as
 * lmdb.h recommends for repeated short reads). */
#define _GNU_SOURCE
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "shop.h" /* tools/: the demo's constants */

enum { LOAD_BATCH = 10000 };
static const size_t MAP_SIZE = (size_t)32 << 30; /* reserved, sparse */

struct lm_store {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *rtxn;  /* kept reset between reads */
  char dir[512];
};

const char *lm_version(void) { return mdb_version(NULL, NULL, NULL); }

int lm_open(lm_store **out, const char *dir) {
  lm_store *s = calloc(1, sizeof *s);
  if (!s) return ENOMEM;
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  mkdir(dir, 0700);
  MDB_txn *t;
  int rc = mdb_env_create(&s->env);
  if (!rc) rc = mdb_env_set_mapsize(s->env, MAP_SIZE);
  if (!rc) rc = mdb_env_open(s->env, dir, MDB_NOSYNC | MDB_WRITEMAP, 0600);
  if (!rc) rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (!rc) {
    rc = mdb_dbi_open(t, NULL, 0, &s->dbi);
    rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
  }
  if (rc) {
    if (s->env) mdb_env_close(s->env);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void lm_close(lm_store *s) {
  if (!s) return;
  if (s->rtxn) mdb_txn_abort(s->rtxn);
  mdb_env_close(s->env);
  free(s);
}

static int put_pair(MDB_txn *t, MDB_dbi dbi, uint64_t i, uint64_t gen) {
  char kb[KEY_MAX], vb[VAL_LEN + 1];
  MDB_val k = {key_text(i, kb), kb}, v = {VAL_LEN, vb};
  val_text(i, gen, vb);
  return mdb_put(t, dbi, &k, &v, 0);
}

int lm_load(lm_store *s, uint64_t n) {
  for (uint64_t first = 0; first < n; first += LOAD_BATCH) {
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) return rc;
    for (uint64_t i = first; i < n && i < first + LOAD_BATCH && !rc; i++)
      rc = put_pair(t, s->dbi, i, 0);
    rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    if (rc) return rc;
  }
  return 0;
}

int lm_update(lm_store *s, uint64_t i, uint64_t gen) {
  MDB_txn *t;
  int rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (rc) return rc;
  rc = put_pair(t, s->dbi, i, gen);
  return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}

static int get_in(MDB_txn *t, MDB_dbi dbi, uint64_t i, char out[VAL_LEN + 1]) {
  char kb[KEY_MAX];
  MDB_val k = {key_text(i, kb), kb}, v;
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc) return rc;
  size_t n = v.mv_size > VAL_LEN ? VAL_LEN : v.mv_size;
  memcpy(out, v.mv_data, n);
  out[n] = 0;
  return 0;
}

static int read_begin(lm_store *s) {
  if (s->rtxn) return mdb_txn_renew(s->rtxn);
  return mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
}

int lm_read(lm_store *s, uint64_t i, char out[VAL_LEN + 1]) {
  int rc = read_begin(s);
  if (rc) return rc;
  rc = get_in(s->rtxn, s->dbi, i, out);
  mdb_txn_reset(s->rtxn);
  return rc;
}

int lm_read_batch_txn(lm_store *s, rng *r, uint64_t nkeys, samples *lat, size_t n) {
  char out[VAL_LEN + 1];
  int rc = read_begin(s);
  for (size_t j = 0; j < n && !rc; j++) {
    uint64_t i = rng_below(r, nkeys), t0 = lat ? now_ns() : 0;
    rc = get_in(s->rtxn, s->dbi, i, out);
    if (lat) samples_add(lat, now_ns() - t0);
  }
  mdb_txn_reset(s->rtxn);
  return rc;
}

/* The counter: one int64 under "counter", read-modify-write in one txn. */
int lm_inc(lm_store *s) {
  MDB_txn *t;
  MDB_val k = {7, "counter"}, v;
  int64_t n = 0;
  int rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (rc) return rc;
  rc = mdb_get(t, s->dbi, &k, &v);
  if (!rc && v.mv_size == sizeof n) memcpy(&n, v.mv_data, sizeof n);
  n++;
  v = (MDB_val){sizeof n, &n};
  rc = (rc && rc != MDB_NOTFOUND) ? rc : mdb_put(t, s->dbi, &k, &v, 0);
  return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}

int lm_counter_value(lm_store *s, int64_t *out) {
  MDB_txn *t;
  MDB_val k = {7, "counter"}, v;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc) return rc;
  rc = mdb_get(t, s->dbi, &k, &v);
  *out = 0;
  if (!rc && v.mv_size == sizeof *out) memcpy(out, v.mv_data, sizeof *out);
  mdb_txn_abort(t);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int lm_footprint(lm_store *s, uint64_t *used_bytes, uint64_t *file_bytes, uint64_t *disk_bytes) {
  MDB_envinfo info;
  MDB_stat st;
  int rc = mdb_env_info(s->env, &info);
  if (!rc) rc = mdb_env_stat(s->env, &st);
  if (rc) return rc;
  char path[600];
  snprintf(path, sizeof path, "%s/data.mdb", s->dir);
  *used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
  *file_bytes = file_bytes_of(path);
  *disk_bytes = disk_bytes_of(path);
  return 0;
}

/* ---- space and snapshots (scenarios 7 and 8) -------------------------------- */

/* mdb_reader_list's lines are "pid thread txnid" ("-" for a slot not in a
 * transaction): keep the smallest txnid. */
static int oldest_reader(const char *msg, void *ctx) {
  size_t *oldest = ctx, txnid;
  int pid;
  unsigned long long thr;
  if (sscanf(msg, "%d %llx %zu", &pid, &thr, &txnid) == 3 && txnid < *oldest) *oldest = txnid;
  return 0;
}

/* The B-tree's pages (branch + leaf + overflow of the main DB: LMDB's
 * "live" bytes), the pages on its freelist (the sum of the free-DB
 * records' page counts, as `mdb_stat -f` counts them) and, of those, the
 * pages freed by transactions no older than the oldest reader's snapshot
 * (LMDB cannot reuse them yet), in a short read transaction (whose own
 * snapshot is the newest, so it holds nothing back). */
int lm_space(lm_store *s, uint64_t *tree_bytes, uint64_t *free_bytes, uint64_t *waiting_bytes) {
  MDB_txn *t;
  MDB_stat st;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  size_t oldest = (size_t)-1;
  mdb_reader_list(s->env, oldest_reader, &oldest);
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc) return rc;
  rc = mdb_stat(t, s->dbi, &st);
  if (!rc)
    *tree_bytes = (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
  uint64_t pages = 0, waiting = 0;
  if (!rc) rc = mdb_cursor_open(t, 0, &c); /* dbi 0: the freelist, keyed by the freeing txnid */
  while (!rc && !(rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
    size_t n = v.mv_size >= sizeof(size_t) ? *(const size_t *)v.mv_data : 0, id = 0;
    if (k.mv_size == sizeof id) memcpy(&id, k.mv_data, sizeof id);
    pages += n;
    if (id >= oldest) waiting += n;
  }
  if (rc == MDB_NOTFOUND) rc = 0;
  if (c) mdb_cursor_close(c);
  if (!rc) *free_bytes = pages * st.ms_psize, *waiting_bytes = waiting * st.ms_psize;
  mdb_txn_abort(t);
  return rc;
}

/* Begin a read transaction and read key 0 in it; it stays open (the
 * snapshot is held) until lm_snapshot_end. */
int lm_snapshot_begin(lm_store *s) {
  char out[VAL_LEN + 1];
  int rc = read_begin(s);
  return rc ? rc : get_in(s->rtxn, s->dbi, 0, out);
}

void lm_snapshot_end(lm_store *s) { mdb_txn_reset(s->rtxn); }

/* ---- the demo's shop (scenario 8; see shop.c) ---------------------------- */

static int shop_get(MDB_txn *t, MDB_dbi dbi, const char *key, void *val, size_t *len, size_t cap) {
  MDB_val k = {strlen(key), (void *)key}, v;
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return *len = 0, 0;
  if (rc) return rc;
  *len = v.mv_size < cap ? v.mv_size : cap;
  memcpy(val, v.mv_data, *len);
  return 0;
}

static int shop_put(MDB_txn *t, MDB_dbi dbi, const char *key, const void *val, size_t len) {
  MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
  return mdb_put(t, dbi, &k, &v, 0);
}

static int shop_bump(MDB_txn *t, MDB_dbi dbi, const char *key, int64_t delta, int64_t *now) {
  int64_t n = 0;
  size_t len;
  int rc = shop_get(t, dbi, key, &n, &len, sizeof n);
  if (!rc && len != sizeof n) n = 0;
  n += delta;
  if (now) *now = n;
  return rc ? rc : shop_put(t, dbi, key, &n, sizeof n);
}

int lm_shop_init(lm_store *s, int workers) {
  MDB_txn *t;
  char key[64];
  int64_t stock = SHOP_INITIAL_STOCK, zero = 0;
  int rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (rc) return rc;
  for (int i = 0; i < shop_nitems() && !rc; i++) {
    snprintf(key, sizeof key, "stock/%s", shop_item(i));
    rc = shop_put(t, s->dbi, key, &stock, sizeof stock);
    snprintf(key, sizeof key, "sold/%s", shop_item(i));
    if (!rc) rc = shop_put(t, s->dbi, key, &zero, sizeof zero);
    snprintf(key, sizeof key, "restock/%s", shop_item(i));
    if (!rc) rc = shop_put(t, s->dbi, key, &zero, sizeof zero);
  }
  if (!rc) rc = shop_put(t, s->dbi, "orders", &zero, sizeof zero);
  for (int w = 0; w < workers && !rc; w++) {
    snprintf(key, sizeof key, "workers/%d", w);
    rc = shop_put(t, s->dbi, key, &zero, sizeof zero);
    snprintf(key, sizeof key, "recent/%d", w);
    if (!rc) rc = shop_put(t, s->dbi, key, &zero, 0);
  }
  return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}

/* One order, the reads and writes of shop.c's place_order, in one write txn. */
int lm_shop_order(lm_store *s, int w, rng *r, int64_t seq) {
  uint64_t x = rng_next(r);
  int item = (int)(x % (uint64_t)shop_nitems());
  int64_t qty = 1 + (int64_t)((x >> 8) % 3), have = 0, recent[SHOP_RECENT + 1];
  char key[64];
  size_t len;
  MDB_txn *t;
  int rc = mdb_txn_begin(s->env, NULL, 0, &t);
  if (rc) return rc;
  snprintf(key, sizeof key, "stock/%s", shop_item(item));
  rc = shop_get(t, s->dbi, key, &have, &len, sizeof have);
  if (!rc && have < qty) {
    snprintf(key, sizeof key, "restock/%s", shop_item(item));
    rc = shop_bump(t, s->dbi, key, SHOP_RESTOCK, NULL);
    have += SHOP_RESTOCK;
  }
  have -= qty;
  snprintf(key, sizeof key, "stock/%s", shop_item(item));
  if (!rc) rc = shop_put(t, s->dbi, key, &have, sizeof have);
  snprintf(key, sizeof key, "sold/%s", shop_item(item));
  if (!rc) rc = shop_bump(t, s->dbi, key, qty, NULL);
  if (!rc) rc = shop_bump(t, s->dbi, "orders", 1, NULL);
  snprintf(key, sizeof key, "workers/%d", w);
  if (!rc) rc = shop_bump(t, s->dbi, key, 1, NULL);
  snprintf(key, sizeof key, "recent/%d", w);
  if (!rc) rc = shop_get(t, s->dbi, key, recent, &len, SHOP_RECENT * sizeof recent[0]);
  size_t n = len / sizeof recent[0];
  recent[n++] = (int64_t)w * 1000000000 + seq;
  if (!rc) rc = shop_put(t, s->dbi, key, n > SHOP_RECENT ? recent + 1 : recent,
                           (n > SHOP_RECENT ? SHOP_RECENT : n) * sizeof recent[0]);
  return rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
}
