/* shop.c — the workload of `eve demo` (see shop.h). */
#define _GNU_SOURCE
#include "shop.h"

#include <stdio.h>
#include <stdlib.h>

const char *const shop_items[SHOP_NITEMS] = {"apple", "pear", "plum", "fig"};

/* m[k] += delta for a map of counters. */
static int bump(eve_txn *t, eve_val m, eve_val k, int64_t delta, eve_val *out) {
  int64_t n;
  eve_val v;
  int rc = shop_get_int(t, m, k, &n);
  if (!rc) rc = eve_int(t, n + delta, &v);
  if (!rc) rc = eve_map_assoc(t, m, k, v, out);
  return rc;
}

int shop_place_order(eve_txn *t, eve_val shop, void *arg, eve_val *out) {
  shop_order *o = arg;
  o->calls++;
  eve_val k_stock = shop_kw(t, "stock"), k_sold = shop_kw(t, "sold");
  eve_val k_restock = shop_kw(t, "restock"), k_orders = shop_kw(t, "orders");
  eve_val k_workers = shop_kw(t, "workers"), k_recent = shop_kw(t, "recent");
  eve_val item, w = shop_int(t, o->worker), stock, sold, restock, workers, recent, mine, id;
  int64_t have;
  uint64_t n;
  const char *name = shop_items[o->item];
  int rc = eve_string(t, name, strlen(name), &item);
  if (!rc) rc = shop_get_map(t, shop, k_stock, &stock);
  if (!rc) rc = shop_get_int(t, stock, item, &have);
  if (rc) return rc;
  if (have < o->qty) { /* running short: top up first */
    if ((rc = shop_get_map(t, shop, k_restock, &restock)) ||
        (rc = bump(t, restock, item, SHOP_RESTOCK, &restock)) ||
        (rc = eve_map_assoc(t, shop, k_restock, restock, &shop)))
      return rc;
    have += SHOP_RESTOCK;
  }
  if ((rc = eve_map_assoc(t, stock, item, shop_int(t, have - o->qty), &stock)) ||
      (rc = eve_map_assoc(t, shop, k_stock, stock, &shop)) ||
      (rc = shop_get_map(t, shop, k_sold, &sold)) || (rc = bump(t, sold, item, o->qty, &sold)) ||
      (rc = eve_map_assoc(t, shop, k_sold, sold, &shop)) ||
      (rc = bump(t, shop, k_orders, 1, &shop)) ||
      (rc = shop_get_map(t, shop, k_workers, &workers)) || (rc = bump(t, workers, w, 1, &workers)) ||
      (rc = eve_map_assoc(t, shop, k_workers, workers, &shop)) ||
      (rc = shop_get_map(t, shop, k_recent, &recent)) || (rc = shop_get_map(t, recent, w, &mine)))
    return rc;
  if (mine == EVE_V_NIL) mine = EVE_V_EMPTY_VECTOR;
  if ((rc = eve_int(t, o->id, &id)) || (rc = eve_vec_conj(t, mine, id, &mine)) ||
      (rc = eve_count(t, mine, &n)))
    return rc;
  if (n > SHOP_RECENT && (rc = eve_vec_slice(t, mine, n - SHOP_RECENT, n, &mine))) return rc;
  if (!(rc = eve_map_assoc(t, recent, w, mine, &recent)))
    rc = eve_map_assoc(t, shop, k_recent, recent, out);
  return rc;
}

char *shop_initial_text(int workers) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return NULL;
  fputs("{:orders 0, :status :running, :stock {", f);
  for (int i = 0; i < SHOP_NITEMS; i++) fprintf(f, "\"%s\" %d ", shop_items[i], SHOP_INITIAL_STOCK);
  fputs("}, :sold {", f);
  for (int i = 0; i < SHOP_NITEMS; i++) fprintf(f, "\"%s\" 0 ", shop_items[i]);
  fputs("}, :restock {", f);
  for (int i = 0; i < SHOP_NITEMS; i++) fprintf(f, "\"%s\" 0 ", shop_items[i]);
  fputs("}, :workers {", f);
  for (int w = 0; w < workers; w++) fprintf(f, "%d 0 ", w);
  fputs("}, :recent {", f);
  for (int w = 0; w < workers; w++) fprintf(f, "%d [] ", w);
  fputs("}}", f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}
