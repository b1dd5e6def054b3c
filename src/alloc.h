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

/* Built with ThreadSanitizer?  (Some lock-free reads take a form it can
 * follow.) */
#if defined(__SANITIZE_THREAD__)
#define EVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVE_TSAN 1
#endif
#endif
#ifndef EVE_TSAN
#define EVE_TSAN 0
#endif

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
  /* 9: a page of atom cells (cell.h); 10: a retire batch, 11: a retire
   * log (epoch.h); 12: a commit journal (commit.h).  Never values. */
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

/* The meta word: generation << 32 | count << 8 | SHARED | state.
 *   state   FREE (on a free list), LIVE, RETIRED (doomed: garbage once the
 *           commit that doomed it publishes; never cleared)
 *   SHARED  the block may have several owners; count says how many
 * A block that is not SHARED has exactly one incoming word in the live
 * graph (commit.c).  Once a block is published, meta is written only by
 * CAS. */
enum blk_state { BLK_FREE = 0, BLK_LIVE = 1, BLK_RETIRED = 2 };
#define BLK_STATE_MASK 3u
#define BLK_SHARED 4u
#define BLK_UNCONFIRMED 8u /* a fresh new root whose commit is about to CAS
                              (commit.c, "journals"); cleared by whoever
                              next finds the block published */
#define BLK_PUNCHED 16u    /* a FREE block whose interior pages may be holes
                              (alloc.c, "punched blocks"): backed again
                              before the block or a chunk of it is used */
#define BLK_COUNT_SHIFT 8
#define BLK_COUNT_MAX 0xFFFFFFu
#define META_STATE(m) ((unsigned)((m) & BLK_STATE_MASK))
#define META_SHARED(m) (((m) & BLK_SHARED) != 0)
#define META_COUNT(m) ((uint32_t)(((m) >> BLK_COUNT_SHIFT) & BLK_COUNT_MAX))
#define META_GEN(m) ((m) >> 32)
#define META_MAKE(gen, count, shared, state)                                   \
  (((uint64_t)(gen) << 32) | ((uint64_t)(count) << BLK_COUNT_SHIFT) |          \
   ((shared) ? BLK_SHARED : 0u) | (state))

typedef struct blk {
  _Atomic uint64_t meta;  /* generation << 32 | count << 8 | state          */
  uint8_t magic;          /* BLK_MAGIC                                       */
  uint8_t type;           /* enum blk_type                                   */
  uint8_t cls;            /* size class: the block's capacity                */
  uint8_t pad;
  uint32_t aux;           /* type-specific small field                       */
} blk;
_Static_assert(sizeof(blk) == 16, "block header is 16 bytes");

/* Capacity in bytes (header included) of size class c (0 past the last). */
extern const uint64_t alloc_class_sizes[EVE_NCLASSES + 1];
static inline uint64_t alloc_class_size(unsigned c) {
  return alloc_class_sizes[c < EVE_NCLASSES ? c : EVE_NCLASSES];
}
/* Smallest class holding n bytes (header included); EVE_NCLASSES if none. */
unsigned alloc_size_class(uint64_t n);

/* Allocate a block of at least `bytes` (header included), set its header
 * (magic, type, class, state LIVE, aux 0) and return its offset in *off.
 * The body is NOT zeroed.  Returns 0, EVE_ENOSPC, EVE_EFULL, EVE_ENOMEM. */
int alloc_block(eve_domain *d, uint64_t bytes, unsigned type, uint64_t *off);

/* Return a block to the allocator.  The caller guarantees nobody can reach it. */
void alloc_free(eve_domain *d, uint64_t off);

/* Free a retired block: CAS {gen, RETIRED} -> FREE, then onto a free list.
 * EVE_ECORRUPT (and nothing done) if the block is not that retirement:
 * frees are idempotent, and a double free is detected, not executed. */
int alloc_free_retired(eve_domain *d, uint64_t off, uint64_t gen);

/* Flush and forget every thread cache of d (called by eve_close). */
void alloc_close(eve_domain *d);
/* In a forked child: drop inherited caches without flushing them. */
void alloc_after_fork(eve_domain *d);

/* Retired blocks waiting for their grace period, per thread (epoch.c owns
 * their meaning; they live beside the thread's allocator cache).  The
 * entries themselves are in the domain, in a retire log block that the
 * process lists in its liveness entry, so that if the process dies another
 * can finish its work (epoch.c, "retire logs"). */
typedef struct retire_entry {
  uint64_t off;   /* block offset, or cell offset | 1 for an atom cell */
  uint64_t gen;   /* the block's (or cell's) generation when retired   */
  uint64_t tag;   /* global epoch read after the publishing root CAS,
                     or TAG_PENDING(...) while its commit is undecided  */
} retire_entry;
typedef struct retire_log {
  blk h;                  /* type T_LOG                                      */
  _Atomic uint64_t next;  /* the next log of the same process                */
  _Atomic uint64_t n;     /* entries in use, e[0, n): written after them      */
  uint64_t cap;
  retire_entry e[];
} retire_log;
typedef struct retire_buf {
  retire_entry *e;        /* the log's entries, in the mapped file           */
  size_t n, cap;          /* n is copied to the log's n after every change   */
  uint64_t log;           /* the log block's offset, 0 before the first one  */
  uint64_t bytes_since_pass; /* capacity retired since the last reclamation pass */
} retire_buf;
/* This thread's retire buffer for d (NULL if out of memory). */
retire_buf *alloc_retire_buf(eve_domain *d);
/* The same, or NULL if this thread has no cache of d yet (never creates one). */
retire_buf *alloc_retire_buf_peek(eve_domain *d);
/* Call fn, under d's lock, on this thread's retire buffer and those of
 * exited threads, or (all != 0: only when no other thread uses d, as at
 * close) on every retire buffer of d in this process. */
void alloc_for_each_retire_buf(eve_domain *d, int all, void (*fn)(retire_buf *, void *),
                               void *ctx);

/* Visit every block on the shared free lists and in this thread's cache. */
void alloc_for_each_free(eve_domain *d, void (*fn)(void *ctx, uint64_t off), void *ctx);
/* For the collector, with the domain held exclusively: forget every free
 * list, cache, chunk and retire buffer; then hand unused ranges back. */
void alloc_reset(eve_domain *d);
/* The collector's gaps: cut into free blocks, the long ones large and
 * punched.  0, or the first error backing a page it had to write (a full
 * disk): that piece stays out of the free lists (a leak until the next
 * collection), the others are free. */
int alloc_release_range(eve_domain *d, uint64_t off, uint64_t len);

/* Coalesce the shared free lists online: neighbouring free blocks merge
 * into runs, cut again, long ones into punched large blocks (alloc.c,
 * "trimming").  *merged_bytes: the bytes of the runs re-cut.  0, or
 * EVE_ENOMEM (then every list is as it was). */
int alloc_trim(eve_domain *d, uint64_t *merged_bytes);

/* Statistics from the free lists (walks them: for tests and stats only). */
typedef struct alloc_stats {
  uint64_t free_blocks, free_bytes;  /* on shared free lists and in caches  */
  uint64_t punched_bytes;            /* of those, pages given back (holes)  */
} alloc_stats;
int alloc_stats_get(eve_domain *d, alloc_stats *out);

#endif
