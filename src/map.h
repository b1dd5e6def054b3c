/* map.h — CHAMP hash trie (map.c) and the set on top of it (set.c).
 * Internal interface used by value.c (count, hash, equality helpers,
 * iteration dispatch, child enumeration). */
#ifndef EVE_MAP_H
#define EVE_MAP_H

#include "value.h"

/* Count and finalized hash of a non-empty map (T_MAP) or set (T_SET) block. */
uint64_t map_count(eve_txn *t, eve_val m);
uint64_t map_hash(eve_txn *t, eve_val m);
uint64_t set_count(eve_txn *t, eve_val s);
uint64_t set_hash(eve_txn *t, eve_val s);

/* Iteration (called by eve_iter_init/eve_iter_next in value.c with
 * it->coll already set to a non-empty map or set). */
void map_iter_init(eve_iter *it);
int map_iter_next(eve_iter *it, eve_val *k, eve_val *v);
void set_iter_init(eve_iter *it);
int set_iter_next(eve_iter *it, eve_val *x);

/* Child words of a T_MAP*, T_SET* block (see blk_for_each_child). */
void map_children(eve_txn *t, const blk *b, blk_visit_fn fn, void *ctx);

#endif
