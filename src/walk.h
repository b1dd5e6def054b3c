/* walk.h — the iterative walks over nested values (walk.c) and the
 * single-step decisions they take from value.c.
 *
 * Equality and order split in two: value.c decides a pair from the words
 * and block headers alone (scalars, types, counts, hashes) and leaves open
 * a pair of collections whose elements must decide; walk.c compares those
 * elements with an explicit stack of frames instead of recursion. */
#ifndef EVE_WALK_H
#define EVE_WALK_H

#include "order.h"
#include "value.h"

/* val_equal_shallow's verdict when the elements must decide. */
#define EQ_OPEN (-1)

/* 1 equal, 0 not (or t->err set), EQ_OPEN when a and b are collections of
 * one kind (vectors and lists are one) with equal counts and hashes; then
 * *type is a's block type (T_VEC, T_LIST, T_SET or T_MAP). */
int val_equal_shallow(eve_txn *t, eve_val a, eve_val b, unsigned *type);

/* The element-by-element halves, for pairs the shallow steps left open. */
int walk_equal(eve_txn *t, eve_val a, eve_val b, unsigned type);
int walk_compare(eve_txn *t, eve_val a, eve_val b, eve_type type);

#endif
