/* vec.h — persistent vector (32-way trie plus tail) and list (counted cons
 * cells).  Internal interface used by value.c. */
#ifndef EVE_VEC_H
#define EVE_VEC_H

#include "value.h"

/* Count and finalized hash (kind HK_SEQ) of a non-empty vector / list block. */
uint64_t vec_count(eve_txn *t, eve_val v);
uint64_t vec_hash(eve_txn *t, eve_val v);
uint64_t list_count(eve_txn *t, eve_val l);
uint64_t list_hash(eve_txn *t, eve_val l);
/* The checker's O(1) test of one list cell (list.c). */
int list_cell_check(eve_txn *t, eve_val l, int *depth_ok);

void vec_iter_init(iter_state *it);
int vec_iter_next(iter_state *it, eve_val *x);
void list_iter_init(iter_state *it);
int list_iter_next(iter_state *it, eve_val *x);

/* Child words of T_VEC*, T_LIST blocks (see blk_child_words). */
const uint64_t *vec_child_words(eve_txn *t, const blk *b, size_t *n);
const uint64_t *list_child_words(eve_txn *t, const blk *b, size_t *n);

#endif
