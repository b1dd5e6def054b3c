/* shop.h — the workload of `eve demo`: a shop value and one order as a
 * swap function.  Shared by the demo (tools/demo.c) and scenario 8 of the
 * benchmark (bench/shop.c), so that both run the same swap.
 *
 * The atom holds
 *
 *   {:orders 0, :stock {"apple" 500 ...}, :sold {"apple" 0 ...},
 *    :restock {"apple" 0 ...}, :workers {0 0, 1 0 ...}, :recent {0 [] ...},
 *    :status :running}
 *
 * and one order takes stock (topping it up by SHOP_RESTOCK when it runs
 * short), counts the units sold, the order and the worker's own orders,
 * and appends the order id to the worker's last-SHOP_RECENT vector. */
#ifndef EVE_TOOLS_SHOP_H
#define EVE_TOOLS_SHOP_H

#include <stdint.h>
#include <string.h>

#include "eve.h"

#define SHOP_NITEMS 4
#define SHOP_INITIAL_STOCK 500
#define SHOP_RESTOCK 100
#define SHOP_RECENT 8

extern const char *const shop_items[SHOP_NITEMS];

typedef struct shop_order {
  int worker;
  int64_t id;       /* worker * 1e9 + sequence number */
  int item;         /* index into shop_items */
  int64_t qty;
  uint64_t calls;   /* incremented by every call of the swap function */
} shop_order;

/* The swap function of one order (arg: a shop_order).  Called again on
 * each retry, with no side effects besides building values and counting
 * its calls. */
int shop_place_order(eve_txn *t, eve_val shop, void *arg, eve_val *out);

/* The initial shop for `workers` workers, as EDN text (malloc'd; NULL when
 * out of memory). */
char *shop_initial_text(int workers);

/* Small readers of the shop value, for the demo's checks as well. */
static inline eve_val shop_kw(eve_txn *t, const char *s) {
  eve_val v = EVE_V_NIL;
  eve_keyword(t, s, strlen(s), &v); /* at most 7 bytes: an immediate, cannot fail */
  return v;
}

static inline eve_val shop_int(eve_txn *t, int64_t i) {
  eve_val v = EVE_V_NIL;
  eve_int(t, i, &v); /* small: an immediate */
  return v;
}

/* m[k] as an integer; nil or absent counts as 0. */
static inline int shop_get_int(eve_txn *t, eve_val m, eve_val k, int64_t *out) {
  eve_val v;
  *out = 0;
  int rc = eve_map_get(t, m, k, &v);
  if (rc == EVE_ENOTFOUND || (!rc && v == EVE_V_NIL)) return 0;
  return rc ? rc : eve_int_get(t, v, out);
}

/* m[k], nil if absent. */
static inline int shop_get_map(eve_txn *t, eve_val m, eve_val k, eve_val *out) {
  int rc = eve_map_get(t, m, k, out);
  if (rc == EVE_ENOTFOUND) *out = EVE_V_NIL, rc = 0;
  return rc;
}

#endif
