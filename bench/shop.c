/* shop.c — the workload of `eve demo` (tools/demo.c) for scenario 8, in
 * eve and in LMDB.
 *
 * eve: an atom "shop" holds
 *
 *   {:orders 0, :stock {"apple" 500 ...}, :sold {"apple" 0 ...},
 *    :restock {"apple" 0 ...}, :workers {0 0, 1 0 ...}, :recent {0 [] ...},
 *    :status :running}
 *
 * and one order is one write transaction with one swap that takes stock
 * (topping it up by 100 when it runs short), counts the units sold, the
 * order and the worker's own orders, and appends the order id to the
 * worker's last-8 vector.  place_order is tools/demo.c's swap function,
 * copied (the tools are not linked into the harness).
 *
 * LMDB: the same state as separate keys ("stock/apple", "sold/apple",
 * "restock/apple", "orders", "workers/W", "recent/W" = up to 8 int64), one
 * write transaction per order doing the same reads and writes. */
#define _GNU_SOURCE
#include <string.h>

#include "bench.h"
#include "eve.h"

#define NITEMS 4
#define INITIAL_STOCK 500
#define RESTOCK 100
#define RECENT 8

static const char *const ITEMS[NITEMS] = {"apple", "pear", "plum", "fig"};

/* ---- eve ------------------------------------------------------------------ */

typedef struct order {
  int worker;
  int64_t id;
  int item;
  int64_t qty;
  uint64_t calls;
} order;

static eve_val kw(eve_txn *t, const char *s) {
  eve_val v = EVE_V_NIL;
  eve_keyword(t, s, strlen(s), &v); /* at most 7 bytes: an immediate, cannot fail */
  return v;
}

static eve_val int_val(eve_txn *t, int64_t i) {
  eve_val v = EVE_V_NIL;
  eve_int(t, i, &v); /* small: an immediate */
  return v;
}

static int get_int(eve_txn *t, eve_val m, eve_val k, int64_t *out) {
  eve_val v;
  *out = 0;
  int rc = eve_map_get(t, m, k, &v);
  if (rc == EVE_ENOTFOUND || (!rc && v == EVE_V_NIL)) return 0;
  return rc ? rc : eve_int_get(t, v, out);
}

static int get_map(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  int rc = eve_map_get(t, m, k, out);
  if (rc == EVE_ENOTFOUND) *out = EVE_V_NIL, rc = 0;
  return rc;
}

static int bump(eve_txn *t, eve_val m, eve_val k, int64_t delta, eve_val *out) {
  int64_t n;
  eve_val v;
  int rc = get_int(t, m, k, &n);
  if (!rc) rc = eve_int(t, n + delta, &v);
  if (!rc) rc = eve_map_assoc(t, m, k, v, out);
  return rc;
}

static int place_order(eve_txn *t, eve_val shop, void *arg, eve_val *out) {
  order *o = arg;
  o->calls++;
  eve_val k_stock = kw(t, "stock"), k_sold = kw(t, "sold"), k_restock = kw(t, "restock");
  eve_val k_orders = kw(t, "orders"), k_workers = kw(t, "workers"), k_recent = kw(t, "recent");
  eve_val item, w = int_val(t, o->worker), stock, sold, restock, workers, recent, mine, id;
  int64_t have;
  uint64_t n;
  int rc = eve_string(t, ITEMS[o->item], strlen(ITEMS[o->item]), &item);
  if (!rc) rc = get_map(t, shop, k_stock, &stock);
  if (!rc) rc = get_int(t, stock, item, &have);
  if (rc) return rc;
  if (have < o->qty) {
    if ((rc = get_map(t, shop, k_restock, &restock)) || (rc = bump(t, restock, item, RESTOCK, &restock)) ||
        (rc = eve_map_assoc(t, shop, k_restock, restock, &shop)))
      return rc;
    have += RESTOCK;
  }
  if ((rc = eve_map_assoc(t, stock, item, int_val(t, have - o->qty), &stock)) ||
      (rc = eve_map_assoc(t, shop, k_stock, stock, &shop)) ||
      (rc = get_map(t, shop, k_sold, &sold)) || (rc = bump(t, sold, item, o->qty, &sold)) ||
      (rc = eve_map_assoc(t, shop, k_sold, sold, &shop)) ||
      (rc = bump(t, shop, k_orders, 1, &shop)) ||
      (rc = get_map(t, shop, k_workers, &workers)) || (rc = bump(t, workers, w, 1, &workers)) ||
      (rc = eve_map_assoc(t, shop, k_workers, workers, &shop)) ||
      (rc = get_map(t, shop, k_recent, &recent)) || (rc = get_map(t, recent, w, &mine)))
    return rc;
  if (mine == EVE_V_NIL) mine = EVE_V_EMPTY_VECTOR;
  if ((rc = eve_int(t, o->id, &id)) || (rc = eve_vec_conj(t, mine, id, &mine)) ||
      (rc = eve_count(t, mine, &n)))
    return rc;
  if (n > RECENT && (rc = eve_vec_slice(t, mine, n - RECENT, n, &mine))) return rc;
  if ((rc = eve_map_assoc(t, recent, w, mine, &recent)) ||
      (rc = eve_map_assoc(t, shop, k_recent, recent, out)))
    return rc;
  return 0;
}

int ev_shop_init(ev_store *s, int workers) {
  char buf[2048];
  size_t n = 0;
  n += (size_t)snprintf(buf + n, sizeof buf - n, "{:orders 0, :status :running, :stock {");
  for (int i = 0; i < NITEMS; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%s\" %d ", ITEMS[i], INITIAL_STOCK);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}, :sold {");
  for (int i = 0; i < NITEMS; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%s\" 0 ", ITEMS[i]);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}, :restock {");
  for (int i = 0; i < NITEMS; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%s\" 0 ", ITEMS[i]);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}, :workers {");
  for (int w = 0; w < workers; w++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%d 0 ", w);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}, :recent {");
  for (int w = 0; w < workers; w++) n += (size_t)snprintf(buf + n, sizeof buf - n, "%d [] ", w);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "}}");
  eve_txn *t;
  eve_val v;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  rc = eve_read_edn(t, buf, n, &v, NULL);
  if (!rc) rc = eve_reset(t, s->a, v);
  int rc2 = eve_txn_end(t);
  return rc ? rc : rc2;
}

/* One order of worker w, sequence number seq, item and quantity from *seed. */
int ev_shop_order(ev_store *s, int w, rng *r, int64_t seq, uint64_t *attempts) {
  uint64_t x = rng_next(r);
  order o = {.worker = w, .id = (int64_t)w * 1000000000 + seq, .item = (int)(x % NITEMS),
             .qty = 1 + (int64_t)((x >> 8) % 3)};
  eve_txn *t;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  rc = eve_swap(t, s->a, place_order, &o, NULL);
  int rc2 = eve_txn_end(t);
  if (attempts) *attempts += o.calls;
  return rc ? rc : rc2;
}

/* ---- LMDB: see peers_lmdb.c (lm_shop_init, lm_shop_order) ------------------ */

const char *shop_item(int i) { return ITEMS[i % NITEMS]; }
int shop_nitems(void) { return NITEMS; }
