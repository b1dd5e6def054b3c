/* order.h — the total order of values (order.c).  val_compare, the
 * whole order, is declared with hashing and equality in value.h, and
 * eve_compare in eve.h; this is the step walk.c builds on. */
#ifndef EVE_ORDER_H
#define EVE_ORDER_H

#include "txn.h"

/* 1 with *c (-1, 0, 1) when the words decide; 0 when a and b are both
 * sequences, or sets or maps of one kind and count that are not equal:
 * then *type is a's type (EVE_LIST, EVE_VECTOR, EVE_SET or EVE_MAP). */
int val_compare_shallow(eve_txn *t, eve_val a, eve_val b, int *c, eve_type *type);

#endif
