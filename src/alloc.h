/* alloc.h — blocks and the lock-free size-class allocator inside a domain.
 *
 * Every stored object other than an immediate value is a *block*: a 16-byte
 * header followed by its body, 16-byte aligned, at least 32 bytes long. */
#ifndef EVE_ALLOC_H
#define EVE_ALLOC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define BLK_MAGIC 0xE5
#define BLK_ALIGN 16u
#define BLK_MIN 32u
#define BLK_SMALL_MAX 1024u

/* Block types.  Ranges are owned by modules: scalars value.c, 16..23
 * map.c/set.c, 24..27 vec.c, 28..31 list.c. */
enum blk_type {
  T_FREE = 0,
  T_INT = 1,      /* boxed int64 outside the immediate range */
  T_FLOAT = 2,
  T_STRING = 3,
  T_KEYWORD = 4,
  T_SYMBOL = 5,
  T_UUID = 6,
  T_INST = 7,
  T_BYTES = 8,
  T_MAP = 16,     /* CHAMP root of a map                     */
  T_MAP_NODE = 17,
  T_MAP_COLL = 18,
  T_SET = 19,     /* CHAMP root of a set                     */
  T_SET_NODE = 20,
  T_SET_COLL = 21,
  T_VEC = 24,
  T_VEC_NODE = 25,
  T_VEC_LEAF = 26,
  T_LIST = 28,
  T_LIMIT = 32,
};

/* Block states in the low byte of `meta`.  The reclamation protocol (atoms
 * issue) adds SHARED counts and RETIRED; `meta` is written only by CAS. */
enum blk_state { BLK_FREE = 0, BLK_LIVE = 1 };

typedef struct blk {
  _Atomic uint64_t meta;  /* generation << 32 | count << 8 | state          */
  uint8_t magic;          /* BLK_MAGIC                                       */
  uint8_t type;           /* enum blk_type                                   */
  uint8_t cls;            /* size class: the block's capacity                */
  uint8_t pad;
  uint32_t aux;           /* type-specific small field                       */
} blk;
_Static_assert(sizeof(blk) == 16, "block header is 16 bytes");

/* Capacity in bytes (header included) of size class c. */
uint64_t alloc_class_size(unsigned c);
/* Smallest class holding n bytes (header included); EVE_NCLASSES if none. */
unsigned alloc_size_class(uint64_t n);

/* Allocate a block of at least `bytes` (header included), set its header
 * (magic, type, class, state LIVE, aux 0) and return its offset in *off.
 * The body is NOT zeroed.  Returns 0, EVE_ENOSPC, EVE_EFULL, EVE_ENOMEM. */
int alloc_block(eve_domain *d, uint64_t bytes, unsigned type, uint64_t *off);

/* Return a block to the allocator.  The caller guarantees nobody can reach it. */
void alloc_free(eve_domain *d, uint64_t off);

/* Flush and forget every thread cache of d (called by eve_close). */
void alloc_close(eve_domain *d);

/* Statistics from the free lists (walks them: for tests and stats only). */
typedef struct alloc_stats {
  uint64_t free_blocks, free_bytes;  /* on shared free lists and in caches  */
} alloc_stats;
int alloc_stats_get(eve_domain *d, alloc_stats *out);

#endif
