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
 * worker's last-8 vector: tools/shop.c's swap function, the demo's own
 * (compiled into the harness by bench/Makefile).
 *
 * LMDB: the same state as separate keys ("stock/apple", "sold/apple",
 * "restock/apple", "orders", "workers/W", "recent/W" = up to 8 int64), one
 * write transaction per order doing the same reads and writes. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "eve.h"
#include "shop.h" /* tools/ */

/* ---- eve ------------------------------------------------------------------ */

int ev_shop_init(ev_store *s, int workers) {
  char *text = shop_initial_text(workers);
  if (!text) return EVE_ENOMEM;
  eve_txn *t;
  eve_val v;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (!rc) {
    rc = eve_read_edn(t, text, strlen(text), &v, NULL);
    if (!rc) rc = eve_reset(t, s->a, v);
    int rc2 = eve_txn_end(t);
    if (!rc) rc = rc2;
  }
  free(text);
  return rc;
}

/* One order of worker w, sequence number seq, item and quantity from *seed. */
int ev_shop_order(ev_store *s, int w, rng *r, int64_t seq, uint64_t *attempts) {
  uint64_t x = rng_next(r);
  shop_order o = {.worker = w, .id = (int64_t)w * 1000000000 + seq,
                  .item = (int)(x % SHOP_NITEMS), .qty = 1 + (int64_t)((x >> 8) % 3)};
  eve_txn *t;
  int rc = eve_txn_begin(s->d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  rc = eve_swap(t, s->a, shop_place_order, &o, NULL);
  int rc2 = eve_txn_end(t);
  if (attempts) *attempts += o.calls;
  return rc ? rc : rc2;
}

/* ---- LMDB: see peers_lmdb.c (lm_shop_init, lm_shop_order) ------------------ */

const char *shop_item(int i) { return shop_items[i % SHOP_NITEMS]; }
int shop_nitems(void) { return SHOP_NITEMS; }
