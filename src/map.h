/* map.h — CHAMP hash trie (map.c) and the set on top of it (set.c).
 * Internal interface used by value.c (count, hash, equality helpers,
 * iteration dispatch, child enumeration), by set.c, and later by the
 * checker.  map.c's opening comment explains the trie and its layout. */
#ifndef EVE_MAP_H
#define EVE_MAP_H

#include "value.h"

/* Count and finalized hash of a non-empty map (T_MAP) or set (T_SET) block.
 * (An empty map/set word or nil gives 0 and the hash of the empty map/set.) */
uint64_t map_count(eve_txn *t, eve_val m);
uint64_t map_hash(eve_txn *t, eve_val m);
uint64_t set_count(eve_txn *t, eve_val s);
uint64_t set_hash(eve_txn *t, eve_val s);

/* Iteration (called by eve_iter_init/eve_iter_next in value.c with
 * it->coll already set to a non-empty map or set). */
void map_iter_init(iter_state *it);
int map_iter_next(iter_state *it, eve_val *k, eve_val *v);
void set_iter_init(iter_state *it);
int set_iter_next(iter_state *it, eve_val *x);

/* Child words of a T_MAP*, T_SET* block (see blk_child_words): every entry
 * word (immediates included), then every child offset. */
const uint64_t *map_child_words(eve_txn *t, const blk *b, size_t *n);

/* Deep validation of a map (set): node types per level, bitmaps, sizes,
 * every key's hash against its trie path, counts and hash sums, the
 * canonical shape (no non-root node with fewer than 2 elements), no
 * duplicate keys in collision nodes.  Returns 0, EVE_ECORRUPT (not made
 * sticky: the caller reports it), EVE_ETYPE, or the txn's sticky error.
 * For tests and the checker; O(n). */
int map_check(eve_txn *t, eve_val m);
int set_check(eve_txn *t, eve_val s);

/* ---- the trie, generic over the entry width (map.c) -------------------- */

#define CHAMP_BITS 5u
#define CHAMP_COLL_LEVEL 13u   /* levels 0..12 are bitmap nodes; 13 collisions */
#define CHAMP_MAX_DEPTH 14u    /* nodes on the longest root-to-leaf path */
_Static_assert(CHAMP_BITS * (CHAMP_COLL_LEVEL - 1) < 64 &&
                   CHAMP_BITS * CHAMP_COLL_LEVEL >= 64,
               "level 12 takes the last bits of a 64-bit hash");
_Static_assert(CHAMP_MAX_DEPTH <= ITER_DEPTH, "iterator stack holds a path");

/* Every node of the trie.  A bitmap node (root T_MAP/T_SET, inner
 * T_MAP_NODE/T_SET_NODE) holds popcount(datamap) inline entries of `stride`
 * words, then popcount(nodemap) child offsets.  A collision node
 * (T_MAP_COLL/T_SET_COLL) keeps its entry count in `ncoll` (nodemap is 0)
 * and holds ncoll entries. */
typedef struct champ_node {
  blk h;                 /* aux: root: depth bound << 8 (value.h); else 0   */
  union {
    uint32_t datamap;    /* bitmap node: slots holding an inline entry      */
    uint32_t ncoll;      /* collision node: number of entries               */
  };
  uint32_t nodemap;      /* bitmap node: slots holding a child; collision: 0 */
  uint64_t count;        /* elements in this subtree                        */
  uint64_t hash;         /* raw hash sum of this subtree (mod 2^64)         */
  uint64_t w[];          /* entries, then children                          */
} champ_node;
_Static_assert(sizeof(champ_node) == 40, "node header is 40 bytes");

/* What differs between the map and the set. */
typedef struct champ_kind {
  unsigned stride;                         /* words per entry: 2 map, 1 set */
  unsigned root_type, node_type, coll_type;
  eve_val empty;                           /* the canonical empty value     */
  enum hash_kind hk;
} champ_kind;

extern const champ_kind champ_map_kind;   /* map.c */
extern const champ_kind champ_set_kind;   /* set.c */

/* Equality of two maps (sets) uses the canonical shape: equal collections
 * have identical tries, except for the order inside collision nodes.  The
 * iterative walk in walk.c compares them node by node and skips a subtree
 * that is the same block in both (two versions of one map share most), with
 * a champ_pair for each pair of nodes on its path:
 *   bitmap nodes: words[0..nwords) of a and b must be equal pairwise (the
 *     entries), then children a->w[nwords + i], b->w[nwords + i] for i <
 *     nchildren are compared as node pairs at level + 1;
 *   collision nodes: each of a's nentries entries (stride words) must equal
 *     some entry of b's (as many), key by key. */
typedef struct champ_pair {
  const champ_kind *k;
  const eve_val *a, *b;   /* the two nodes' words: entries, then children */
  uint32_t nwords;        /* bitmap node: entry words; collision: 0        */
  uint32_t nchildren;     /* bitmap node: children; collision: 0           */
  uint32_t nentries;      /* collision node: entries; bitmap: 0            */
  unsigned level;
} champ_pair;

/* Read nodes a and b of kind k at `level` into *p.  Returns 1 when they may
 * be equal (same counts and hash sums, and same bitmaps or entry counts),
 * 0 when they differ or are damaged (t->err set). */
int champ_pair_open(eve_txn *t, const champ_kind *k, uint64_t a, uint64_t b, unsigned level,
                    champ_pair *p);

/* The generic operations behind the public map and set functions; coll may
 * be nil or the kind's empty word (else EVE_ETYPE unless a root block).
 * champ_lookup sets *entry to the entry's words inside the domain (valid
 * until the txn ends) or NULL when absent.  champ_put inserts the entry
 * (stride words); with keep != 0 an existing key keeps its value. */
int champ_lookup(eve_txn *t, const champ_kind *k, eve_val coll, eve_val key,
                 const eve_val **entry);
int champ_lookup_probe(eve_txn *t, const champ_kind *k, eve_val coll, const key_probe *key,
                       const eve_val **entry);
int champ_put(eve_txn *t, const champ_kind *k, eve_val coll, const eve_val *entry,
              int keep, eve_val *out);
int champ_remove(eve_txn *t, const champ_kind *k, eve_val coll, eve_val key,
                 eve_val *out);
uint64_t champ_count(eve_txn *t, const champ_kind *k, eve_val coll);
uint64_t champ_hash(eve_txn *t, const champ_kind *k, eve_val coll);
void champ_iter_init(iter_state *it, const champ_kind *k);
int champ_iter_next(iter_state *it, const champ_kind *k, const eve_val **entry);
int champ_check(eve_txn *t, const champ_kind *k, eve_val coll);

#endif
