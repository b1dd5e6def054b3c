/* alloc.c — the lock-free size-class allocator inside a domain.
 *
 * Size classes
 * ------------
 * Classes 0..62 are 32..1024 bytes in 16-byte steps: CHAMP nodes, cons
 * cells, vector nodes and short strings all land here.  Classes 63.. are
 * geometric, four per doubling (1280, 1536, 1792, 2048, 2560, ...), up to
 * ~1 TiB, so internal waste above 1 KiB stays under 25% and a single
 * free-list head per class suffices (no first-fit search, nothing to lock).
 *
 * Free lists and the ABA defence
 * ------------------------------
 * Each class has a Treiber stack in the file header whose head is
 * {offset, tag}, replaced as a unit by a 128-bit CAS (cmpxchg16b).  Every
 * successful push or pop increments the 64-bit tag, so a popper that read
 * head {A, t} and was descheduled while A was popped, reused and pushed
 * back finds {A, t+2} and retries instead of installing A's stale `next`.
 * A 64-bit tag cannot wrap in the life of a machine; a 16-24 bit tag packed
 * beside a 40-bit offset wraps in seconds under load.  The link word of a
 * free block is its first body word (offset 16).
 *
 * Reading `next` of a block that another thread has just popped and is
 * filling in is a benign race on mapped memory: the value read may be
 * garbage, but then the head's tag has changed and the CAS fails.  The
 * offset is still bounds-checked before it is read, and a chain that is
 * bad while the head is unchanged (a corrupt file) is cut short rather
 * than followed.
 *
 * Thread caches
 * -------------
 * Each thread keeps, per domain, up to TC_CAP free blocks of each small
 * class and a private chunk carved from the shared bump pointer.  Refill
 * pops up to TC_BATCH blocks with one CAS; flushing pushes TC_BATCH blocks
 * as one pre-linked chain with one CAS.  So the common allocation and free
 * touch no shared cache line.  A cache whose thread exited is kept by the
 * domain and adopted by the next thread that needs one; eve_close flushes
 * them all.  A crashed process loses its caches (a bounded leak that the
 * collector returns: docs/RECLAMATION.md, "Repairing a dead process").
 *
 * Punched blocks: space back to the file system
 * ---------------------------------------------
 * The pages of a free block that hold neither its header nor its link word
 * (its *interior*: from the first page boundary past byte 32 to the last
 * one before its end) can go back to the file system with
 * fallocate(PUNCH_HOLE | KEEP_SIZE): on-disk bytes fall, the file keeps its
 * size, and the pages read as zeros.  Such a block carries BLK_PUNCHED in
 * its meta.  The invariant: a hole in the heap lies only in the interior of
 * a free block marked punched (or of one a process popped and died with).
 * Nothing reads a free block past its link word, so zeros there are never
 * mistaken for data; and because a store into a hole on a full disk is a
 * SIGBUS (docs/RECLAMATION.md, F15), every path that writes a punched block
 * backs it first with fallocate (KEEP_SIZE): allocating it, carving a chunk
 * out of it, and writing the headers of the blocks it is cut into.  If that fails
 * the block goes back to its list, still punched, and the allocation is
 * EVE_ENOSPC.  Punching pays only where space stays free: on this 2-core VM
 * a punch, the fallocate that backs the pages again and the page faults of
 * writing them cost about 30 us per page on tmpfs and 1-3 ms per call on
 * ext4 (mounted with discard), against 0.2 us per page to write a page that
 * stays backed.  So only blocks with at least PUNCH_MIN bytes of whole pages
 * are punched, and only (a) the collector's long gaps, cut into large
 * blocks, and (b) a freed large block whose class already has a spare
 * waiting on its list: the spare serves the next allocation, this one is
 * surplus.  A block freed into an empty list stays backed (a value replaced
 * again and again reuses it at no cost) until eve_gc.  Small allocations
 * carve chunks out of punched blocks before they grow the file, so the
 * collector's gaps serve every class.
 *
 * Fork: a child gets private copies of the parent's caches.  If both used
 * them, parent and child would hand out the same block twice.  The child
 * handler therefore drops every inherited cache without flushing it (the
 * leak is bounded) and bumps a fork generation that invalidates the
 * thread-local pointers.
 */
#define _GNU_SOURCE
#include "alloc.h"
#include "inject.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cas128.h"

#define NSMALL 63
#define TC_CAP 64
#define TC_BATCH 32
#define TLS_SLOTS 4

_Static_assert(NSMALL + 121 == EVE_NCLASSES, "class table size");

/* ---- size classes ------------------------------------------------------- */

/* Class c's size: 32 + 16c up to 1 KiB, then (1024 << k) * (5 + m) / 4. */
#define SMALL(c) (BLK_MIN + 16ull * (c))
#define LARGE(j) ((1024ull << ((j) / 4)) * (5 + (j) % 4) / 4)
#define S4(c) SMALL(c), SMALL(c + 1), SMALL(c + 2), SMALL(c + 3)
#define L4(j) LARGE(j), LARGE(j + 1), LARGE(j + 2), LARGE(j + 3)
#define L16(j) L4(j), L4(j + 4), L4(j + 8), L4(j + 12)
const uint64_t alloc_class_sizes[EVE_NCLASSES + 1] = {
  S4(0), S4(4), S4(8), S4(12), S4(16), S4(20), S4(24), S4(28), S4(32), S4(36), S4(40),
  S4(44), S4(48), S4(52), S4(56), SMALL(60), SMALL(61), SMALL(62),
  L16(0), L16(16), L16(32), L16(48), L16(64), L16(80), L16(96), L4(112), L4(116), LARGE(120),
  0 /* past the last class */
};
_Static_assert(NSMALL == 63, "the table above lists 63 small classes");

unsigned alloc_size_class(uint64_t n) {
  if (n <= BLK_MIN) return 0;
  if (n <= BLK_SMALL_MAX) return (unsigned)((n - BLK_MIN + 15) / 16);
  unsigned k = 63 - (unsigned)__builtin_clzll((n - 1) >> 10);
  uint64_t base = 1024ull << k;
  unsigned m = (unsigned)((n - 1) * 4 / base) - 4;
  unsigned c = NSMALL + 4 * k + m;
  return c < EVE_NCLASSES ? c : EVE_NCLASSES;
}

/* ---- block headers ------------------------------------------------------ */

static blk *blk_at(eve_domain *d, uint64_t off) { return region_ptr(d, off); }

static uint64_t *link_word(eve_domain *d, uint64_t off) {
  return (uint64_t *)region_ptr(d, off + sizeof(blk));
}

/* A block on a free list: state FREE, generation bumped (meta is only ever
 * written by CAS-free code paths that own the block exclusively here). */
static void mark_free(eve_domain *d, uint64_t off, unsigned cls) {
  blk *b = blk_at(d, off);
  uint64_t gen = META_GEN(atomic_load_explicit(&b->meta, memory_order_relaxed));
  atomic_store_explicit(&b->meta, META_MAKE(gen + 1, 0, 0, BLK_FREE), memory_order_relaxed);
  b->magic = BLK_MAGIC;
  b->type = T_FREE;
  b->cls = (uint8_t)cls;
}

static void mark_live(eve_domain *d, uint64_t off, unsigned cls, unsigned type) {
  blk *b = blk_at(d, off);
  uint64_t gen = META_GEN(atomic_load_explicit(&b->meta, memory_order_relaxed));
  atomic_store_explicit(&b->meta, META_MAKE(gen, 0, 0, BLK_LIVE), memory_order_relaxed);
  b->magic = BLK_MAGIC;
  b->type = (uint8_t)type;
  b->cls = (uint8_t)cls;
  b->pad = 0;
  b->aux = 0;
}

/* Is off a plausible free-list entry of class cls?  Guards against a
 * corrupt file sending the allocator outside the heap. */
static int valid_free_entry(eve_domain *d, uint64_t off, unsigned cls) {
  return off % BLK_ALIGN == 0 && region_contains(d, off, alloc_class_size(cls));
}

/* Does the block at off (inside the heap) look free, of class cls?  A
 * damaged list could otherwise hand out a block that is in use.  (A block
 * popped and reused by another thread meanwhile can fail this too; then
 * the popper's CAS fails anyway, so only damage ever cuts a list.) */
static int looks_free(eve_domain *d, uint64_t off, unsigned cls) {
  const blk *b = blk_at(d, off);
  return b->magic == BLK_MAGIC && b->type == T_FREE && b->cls == cls &&
         META_STATE(atomic_load_explicit(&b->meta, memory_order_relaxed)) == BLK_FREE;
}

/* ---- punched blocks (see the top of the file) ---------------------------- */

#define PUNCH_MIN (16u << 10)          /* whole interior pages worth a punch  */
#define RELEASE_LARGE_MIN (32u << 10)  /* gaps this long are cut into large
                                          blocks, every one of them punchable */

static uint64_t page_up(uint64_t x) { return (x + EVE_PAGE - 1) / EVE_PAGE * EVE_PAGE; }
static uint64_t page_down(uint64_t x) { return x / EVE_PAGE * EVE_PAGE; }

/* The interior of a block of `size` bytes at off: [*s, *e), the whole pages
 * past its header and link word.  Returns its length if it is worth a
 * punch (at least PUNCH_MIN), else 0. */
static uint64_t punch_span(uint64_t off, uint64_t size, uint64_t *s, uint64_t *e) {
  *s = page_up(off + BLK_MIN);
  *e = page_down(off + size);
  return *e > *s && *e - *s >= PUNCH_MIN ? *e - *s : 0;
}

static int is_punched(eve_domain *d, uint64_t off) {
  return (atomic_load_explicit(&blk_at(d, off)->meta, memory_order_relaxed) & BLK_PUNCHED) != 0;
}

/* Mark a free block that nobody else can see yet (not on a list) punched. */
static void set_punched(eve_domain *d, uint64_t off) {
  atomic_fetch_or_explicit(&blk_at(d, off)->meta, BLK_PUNCHED, memory_order_relaxed);
}

/* Punch the interior of a free block of class cls that nobody else can see
 * yet and mark it; a block too small, or a file system that cannot punch,
 * leaves it as it was.  Returns whether it is punched. */
static int punch_block(eve_domain *d, uint64_t off, unsigned cls) {
  uint64_t s, e;
  if (!punch_span(off, alloc_class_size(cls), &s, &e) || region_punch(d, s, e - s) != 0) return 0;
  set_punched(d, off);
  return 1;
}

/* Back the interior of a popped block again if it is punched, before it is
 * written (F15).  0, or EVE_ENOSPC / EVE_EIO: then nothing may write it. */
static int back_block(eve_domain *d, uint64_t off, unsigned cls) {
  uint64_t s, e;
  if (!is_punched(d, off) || !punch_span(off, alloc_class_size(cls), &s, &e)) return 0;
  return region_back(d, s, e - s);
}

/* ---- Treiber stacks with a 128-bit {offset, tag} head ------------------- */

static void load_head(eve_stack_head *h, uint64_t *off, uint64_t *tag) {
#if EVE_TSAN
  /* ThreadSanitizer cannot relate 64-bit loads to the 128-bit CAS that
   * wrote the head (mixed-size atomics), so it would miss the ordering
   * they give: read the pair with a 128-bit CAS instead. */
  cas128_read(h, off, tag);
#else
  /* Two plain atomic loads; a torn pair only makes the CAS below fail. */
  *tag = __atomic_load_n(&h->tag, __ATOMIC_ACQUIRE);
  *off = __atomic_load_n(&h->off, __ATOMIC_ACQUIRE);
#endif
}

static int cas_head(eve_stack_head *h, uint64_t off, uint64_t tag, uint64_t noff, uint64_t ntag) {
  return cas128(h, off, tag, noff, ntag);
}

/* Push the chain first..last (already linked, last's link set here). */
static void stack_push_chain(eve_domain *d, unsigned cls, uint64_t first, uint64_t last) {
  eve_stack_head *h = &d->hdr->free_heads[cls];
  uint64_t off, tag;
  do {
    load_head(h, &off, &tag);
    __atomic_store_n(link_word(d, last), off, __ATOMIC_RELAXED);
  } while (!cas_head(h, off, tag, first, tag + 1));
}

/* Pop up to max blocks of class cls into out[]; returns how many. */
static unsigned stack_pop_batch(eve_domain *d, unsigned cls, uint64_t *out, unsigned max) {
  eve_stack_head *h = &d->hdr->free_heads[cls];
  for (;;) {
    uint64_t off, tag;
    load_head(h, &off, &tag);
    if (off == 0) return 0;
    if (!valid_free_entry(d, off, cls) || !looks_free(d, off, cls)) {
      /* a bad head: drop the whole list (a leak) rather than follow it */
      if (cas_head(h, off, tag, 0, tag + 1)) return 0;
      continue;
    }
    unsigned n = 0;
    uint64_t cur = off;
    while (n < max && cur) {
      out[n++] = cur;
      uint64_t next = __atomic_load_n(link_word(d, cur), __ATOMIC_RELAXED);
      if (next && (!valid_free_entry(d, next, cls) || !looks_free(d, next, cls)))
        next = 0; /* cut a damaged chain (the rest leaks until the collector runs) */
      cur = next;
    }
    if (cas_head(h, off, tag, cur, tag + 1)) return n;
  }
}

/* ---- the bump pointer --------------------------------------------------- */

/* Claim n fresh bytes at the end of the heap, growing the file first. */
static int bump_claim(eve_domain *d, uint64_t n, uint64_t *off) {
  uint64_t b = atomic_load_explicit(&d->hdr->bump, memory_order_relaxed);
  for (;;) {
    uint64_t end = b + n;
    if (end < b || end > d->max_size) return EVE_EFULL;
    int rc = region_grow(d, end);
    if (rc) return rc;
    if (atomic_compare_exchange_weak_explicit(&d->hdr->bump, &b, end, memory_order_acq_rel,
                                              memory_order_relaxed)) {
      *off = b;
      return 0;
    }
  }
}

/* The class of the first block a free range of len bytes is cut into:
 * while the range is long, the largest class that fits (every such block
 * is punchable: at least 28 KiB); then the largest small class.  Never
 * leaves 16 bytes, which could not be a block. */
static unsigned next_piece(uint64_t len) {
  if (len >= RELEASE_LARGE_MIN) {
    unsigned cls = alloc_size_class(len);
    if (cls >= EVE_NCLASSES) cls = EVE_NCLASSES - 1;
    if (alloc_class_size(cls) > len) cls--;
    if (len - alloc_class_size(cls) == BLK_ALIGN) cls--;
    return cls;
  }
  uint64_t take = len >= BLK_SMALL_MAX ? BLK_SMALL_MAX : len / 16 * 16;
  if (len - take == BLK_ALIGN) take -= BLK_ALIGN; /* never leave 16 bytes */
  unsigned cls = alloc_size_class(take);
  if (alloc_class_size(cls) > take) cls--;
  return cls;
}

/* How release_range treats a range. */
enum {
  REL_BACK = 1,   /* it may hold holes: back what gets written first        */
  REL_HOLES = 2,  /* it may hold holes: a punchable block is marked punched
                     whether or not this punch works                         */
  REL_PUNCH = 4,  /* punch every punchable block                             */
};

/* Back what writing the block of class cls at off needs: the pages of its
 * header and link word if it will be marked punched, else all its pages
 * (a block not marked punched holds no hole).  Backing more than the range
 * (a page shared with a neighbour) changes nothing. */
static int piece_back(eve_domain *d, uint64_t off, unsigned cls, unsigned how) {
  uint64_t s, e, size = alloc_class_size(cls);
  if (!(how & REL_BACK)) return 0;
  uint64_t first = page_down(off);
  if (punch_span(off, size, &s, &e)) return region_back(d, first, s - first);
  return region_back(d, first, page_up(off + size) - first);
}

/* Write the free block of class cls at off, punch it if asked, push it. */
static void piece_put(eve_domain *d, uint64_t off, unsigned cls, unsigned how) {
  uint64_t s, e;
  mark_free(d, off, cls);
  if (punch_span(off, alloc_class_size(cls), &s, &e)) {
    int punched = (how & REL_PUNCH) && punch_block(d, off, cls);
    if (!punched && (how & REL_HOLES)) set_punched(d, off);
  }
  stack_push_chain(d, cls, off, off);
}

/* Back, for all of [off, off+len), what release_range(.., REL_BACK) would
 * back, without writing anything: so that a caller can fail before it has
 * changed a block. */
static int release_back(eve_domain *d, uint64_t off, uint64_t len) {
  while (len >= BLK_MIN) {
    unsigned cls = next_piece(len);
    int rc = piece_back(d, off, cls, REL_BACK);
    if (rc) return rc;
    off += alloc_class_size(cls);
    len -= alloc_class_size(cls);
  }
  return 0;
}

/* Hand a range [off, off+len) that nobody uses to the free lists, cut into
 * blocks as next_piece says.  A block whose pages cannot be backed (REL_BACK
 * on a full disk) is left out, a leak until the next collection: returns
 * the first such error, else 0. */
static int release_range(eve_domain *d, uint64_t off, uint64_t len, unsigned how) {
  int err = 0;
  while (len >= BLK_MIN) {
    unsigned cls = next_piece(len);
    int rc = piece_back(d, off, cls, how);
    if (!rc) piece_put(d, off, cls, how);
    else if (!err) err = rc;
    off += alloc_class_size(cls);
    len -= alloc_class_size(cls);
  }
  return err;
}

/* ---- thread caches ------------------------------------------------------ */

struct tcache {
  eve_domain *d;
  retire_buf retire;         /* this thread's retired blocks (epoch.c)       */
  int owned;                 /* a live thread uses it (under d->lock)        */
  uint64_t chunk_cur, chunk_end;
  uint32_t n[NSMALL];
  uint64_t slot[NSMALL][TC_CAP];
  struct tcache *next;
};

static __thread struct tls_entry {
  uint64_t domain_id;
  unsigned fork_gen;
  struct tcache *tc;
} tls_cache[TLS_SLOTS];
static __thread unsigned tls_next;

static pthread_key_t g_exit_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Thread exit: hand this thread's caches back to their domains (if still
 * open) for adoption by another thread. */
static void thread_exit(void *unused) {
  (void)unused;
  region_lock_open_list();
  for (unsigned i = 0; i < TLS_SLOTS; i++) {
    struct tls_entry *e = &tls_cache[i];
    if (!e->tc || e->fork_gen != region_fork_gen()) continue;
    for (eve_domain *d = region_open_list(); d; d = d->next_open)
      if (d->id == e->domain_id) {
        pthread_mutex_lock(&d->lock);
        e->tc->owned = 0;
        pthread_mutex_unlock(&d->lock);
      }
    e->tc = NULL;
  }
  region_unlock_open_list();
}

/* After fork, in the child: drop the inherited caches and retire buffers
 * without flushing them (the parent may hand out the same blocks; a
 * bounded leak that recovery returns).  TLS entries die with the fork
 * generation. */
void alloc_after_fork(eve_domain *d) {
  struct tcache *tc = d->caches;
  while (tc) {
    struct tcache *next = tc->next;
    free(tc); /* its retire log is the parent's, in the file: not ours to touch */
    tc = next;
  }
  d->caches = NULL;
}

static void init_once(void) { pthread_key_create(&g_exit_key, thread_exit); }

/* The slow path: find an orphaned cache of d or make one. */
static struct tcache *tc_attach(eve_domain *d) {
  pthread_once(&g_once, init_once);
  pthread_mutex_lock(&d->lock);
  struct tcache *tc = d->caches;
  while (tc && tc->owned) tc = tc->next;
  if (!tc) {
    tc = calloc(1, sizeof *tc);
    if (tc) {
      tc->d = d;
      tc->next = d->caches;
      d->caches = tc;
    }
  }
  if (tc) tc->owned = 1;
  pthread_mutex_unlock(&d->lock);
  if (!tc) return NULL;
  struct tls_entry *e = &tls_cache[tls_next++ % TLS_SLOTS];
  if (e->tc && e->fork_gen == region_fork_gen()) { /* evicted entry: release it */
    region_lock_open_list();
    for (eve_domain *o = region_open_list(); o; o = o->next_open)
      if (o->id == e->domain_id) {
        pthread_mutex_lock(&o->lock);
        e->tc->owned = 0;
        pthread_mutex_unlock(&o->lock);
      }
    region_unlock_open_list();
  }
  e->domain_id = d->id;
  e->fork_gen = region_fork_gen();
  e->tc = tc;
  pthread_setspecific(g_exit_key, (void *)1);
  return tc;
}

static struct tcache *tc_peek(eve_domain *d);

static struct tcache *tc_get(eve_domain *d) {
  struct tcache *tc = tc_peek(d);
  return tc ? tc : tc_attach(d);
}

/* Push TC_BATCH blocks of class c from the cache to the shared list as one
 * pre-linked chain. */
static void tc_flush(struct tcache *tc, unsigned c, unsigned count) {
  eve_domain *d = tc->d;
  if (count > tc->n[c]) count = tc->n[c];
  if (!count) return;
  uint64_t *s = &tc->slot[c][tc->n[c] - count];
  for (unsigned i = 0; i + 1 < count; i++)
    __atomic_store_n(link_word(d, s[i]), s[i + 1], __ATOMIC_RELAXED);
  stack_push_chain(d, c, s[0], s[count - 1]);
  tc->n[c] -= count;
}

/* Chunk size for carving: a fraction of the file, between 4 KiB and 64 KiB,
 * so tiny domains stay tiny and the bump pointer is touched once per
 * hundreds of allocations; no more, because a process that dies loses its
 * chunk until the collector runs. */
static uint64_t chunk_size(eve_domain *d) {
  uint64_t s = atomic_load_explicit(&d->hdr->size, memory_order_relaxed) / 16;
  if (s < 4096) s = 4096;
  if (s > (64u << 10)) s = 64u << 10;
  return s / BLK_ALIGN * BLK_ALIGN;
}

/* Would carving `size` bytes out of `left` leave a tail that cannot be a
 * block?  Every class is a multiple of 16 and at least BLK_MIN (32), so
 * the only such tail is 16 bytes.  It would be lost to the free lists and
 * to the accounting (exact leak checks count every byte) until eve_gc. */
static int leaves_a_hole(uint64_t left, uint64_t size) {
  return left > size && left - size < BLK_MIN;
}

/* Replace the chunk by [start, end), returning what was left of the old one. */
static void chunk_replace(struct tcache *tc, uint64_t start, uint64_t end) {
  (void)release_range(tc->d, tc->chunk_cur, tc->chunk_end - tc->chunk_cur, 0); /* backed */
  tc->chunk_cur = start;
  tc->chunk_end = end;
}

/* Chunk remainders and the collector's gaps come back as free blocks of the
 * largest small class; carve from one of those before growing the heap, or
 * short-lived processes would grow the file forever.  A request that would
 * leave a 16-byte tail of it (1008 bytes) gets the whole 1024-byte block as
 * what it is, class and all: 16 bytes of internal waste, counted as the
 * block's capacity, instead of 16 bytes nobody can ever allocate.  Returns
 * 1 with *off (and maybe *c) set, or 0 if there is no such block. */
static int carve_from_free_max_block(struct tcache *tc, unsigned *c, uint64_t *off) {
  uint64_t start;
  if (stack_pop_batch(tc->d, NSMALL - 1, &start, 1) != 1) return 0;
  uint64_t size = alloc_class_size(*c);
  if (leaves_a_hole(BLK_SMALL_MAX, size)) { /* the chunk stays as it is */
    *c = NSMALL - 1;
    *off = start;
    return 1;
  }
  chunk_replace(tc, start, start + BLK_SMALL_MAX);
  *off = tc->chunk_cur;
  tc->chunk_cur += size;
  return 1;
}

/* The first class whose blocks can be punched: no smaller one is looked at
 * for punched blocks. */
static unsigned first_punchable_class(void) {
  static unsigned first;
  unsigned c = __atomic_load_n(&first, __ATOMIC_RELAXED);
  if (!c) {
    c = alloc_size_class(PUNCH_MIN + BLK_MIN);
    __atomic_store_n(&first, c, __ATOMIC_RELAXED);
  }
  return c;
}

/* Pop a punched block of the smallest class that has one on top of its
 * list, into *off with its class in *cls; 0 if there is none.  A block
 * that is not punched is pushed back: it serves its own class. */
static int pop_punched(eve_domain *d, uint64_t *off, unsigned *cls) {
  for (unsigned k = first_punchable_class(); k < EVE_NCLASSES; k++) {
    if (!__atomic_load_n(&d->hdr->free_heads[k].off, __ATOMIC_ACQUIRE)) continue;
    if (stack_pop_batch(d, k, off, 1) != 1) continue;
    if (is_punched(d, *off)) {
      *cls = k;
      return 1;
    }
    stack_push_chain(d, k, *off, *off);
  }
  return 0;
}

/* The collector's long gaps, and surplus large blocks, are punched large
 * blocks that only their own class would ever reuse: carve a chunk from
 * the front of one (backed first, F15) and cut the rest into free blocks
 * again, still punched, before growing the file.  The rest needs only its
 * new headers backed, and that is done before anything is written, so a
 * full disk leaves the block as it was, on its list.  Returns 1 with the
 * chunk replaced, 0 if there is no such block or no room to back it. */
static int carve_from_punched(struct tcache *tc) {
  eve_domain *d = tc->d;
  uint64_t b;
  unsigned k;
  if (!pop_punched(d, &b, &k)) return 0;
  uint64_t size = alloc_class_size(k), len = chunk_size(d);
  if (size < len + BLK_MIN) len = size; /* no rest worth a block: take it all */
  int rc = region_back(d, b, len);
  if (!rc) rc = release_back(d, b + len, size - len);
  if (rc) {
    stack_push_chain(d, k, b, b); /* still punched: the pages backed are harmless */
    return 0;
  }
  (void)release_range(d, b + len, size - len, REL_HOLES); /* backed just now */
  chunk_replace(tc, b, b + len);
  return 1;
}

/* Carve a block of class *c from this thread's chunk, refilling the chunk
 * when it is too small or would be left with a hole.  The chunk therefore
 * never holds a 16-byte remainder, and release_range never meets one. */
static int tc_carve(struct tcache *tc, unsigned *c, uint64_t *off) {
  uint64_t size = alloc_class_size(*c);
  uint64_t left = tc->chunk_end - tc->chunk_cur;
  if (left < size || leaves_a_hole(left, size)) {
    if (size < BLK_SMALL_MAX && carve_from_free_max_block(tc, c, off)) return 0;
    if (carve_from_punched(tc)) {
      *off = tc->chunk_cur;
      tc->chunk_cur += size;
      return 0;
    }
    uint64_t start;
    uint64_t len = chunk_size(tc->d);
    int rc = bump_claim(tc->d, len, &start);
    if (rc) { /* the file cannot grow by a chunk: try just this block */
      if (bump_claim(tc->d, size, &start) != 0) return rc;
      *off = start;
      return 0;
    }
    chunk_replace(tc, start, start + len);
  }
  *off = tc->chunk_cur;
  tc->chunk_cur += size;
  return 0;
}

/* A block of small class *c; *c may come back one larger (see above). */
static int alloc_small(eve_domain *d, unsigned *c, uint64_t *off) {
  struct tcache *tc = tc_get(d);
  if (!tc) return EVE_ENOMEM;
  if (tc->n[*c] == 0) tc->n[*c] = stack_pop_batch(d, *c, tc->slot[*c], TC_BATCH);
  if (tc->n[*c] > 0) {
    *off = tc->slot[*c][--tc->n[*c]];
    return 0;
  }
  return tc_carve(tc, c, off);
}

/* Backing the punched block on top of class c's list failed (a full
 * disk): look a few blocks deeper for one that stayed backed (the spare
 * the surplus blocks were punched on top of).  Returns 1 with *off set;
 * every other block goes back, in its order. */
static int pop_backed(eve_domain *d, unsigned c, uint64_t *off) {
  uint64_t b[8];
  unsigned n = stack_pop_batch(d, c, b, 8), pick = n;
  for (unsigned i = 0; i < n && pick == n; i++)
    if (!is_punched(d, b[i])) pick = i;
  for (unsigned i = n; i-- > 0;)
    if (i != pick) stack_push_chain(d, c, b[i], b[i]);
  if (pick == n) return 0;
  *off = b[pick];
  return 1;
}

/* A large block: from its class's list (backed again first if punched),
 * else from the bump pointer.  A punched block that cannot be backed (a
 * full disk) goes back to its list; a backed block a little deeper in the
 * list serves instead, else the space the file already reserved past the
 * bump pointer; if that fails too it is EVE_ENOSPC, never a SIGBUS later. */
static int alloc_large(eve_domain *d, unsigned c, uint64_t *off) {
  if (stack_pop_batch(d, c, off, 1) != 1) return bump_claim(d, alloc_class_size(c), off);
  int rc = back_block(d, *off, c);
  if (!rc) return 0;
  uint64_t punched = *off;
  int found = pop_backed(d, c, off);
  stack_push_chain(d, c, punched, punched);
  if (found) return 0;
  return bump_claim(d, alloc_class_size(c), off) ? rc : 0;
}

int alloc_block(eve_domain *d, uint64_t bytes, unsigned type, uint64_t *off) {
  unsigned c = alloc_size_class(bytes);
  if (c >= EVE_NCLASSES) return EVE_EFULL;
  if (inject_alloc_fails()) return EVE_ENOSPC;
  int rc = c < NSMALL ? alloc_small(d, &c, off) : alloc_large(d, c, off);
  if (rc) return rc;
  mark_live(d, *off, c, type);
  return 0;
}

/* Put a block already marked FREE on this thread's cache or a shared list. */
static void push_free(eve_domain *d, uint64_t off, unsigned c) {
  struct tcache *tc = c < NSMALL ? tc_get(d) : NULL;
  if (!tc) { /* large, or no cache memory: straight to the shared list */
    /* a spare of this class waits already: this one is surplus, and its
     * pages go back to the file system (racy by design: only a heuristic) */
    if (c >= NSMALL && __atomic_load_n(&d->hdr->free_heads[c].off, __ATOMIC_RELAXED))
      punch_block(d, off, c);
    stack_push_chain(d, c, off, off);
    return;
  }
  if (tc->n[c] == TC_CAP) tc_flush(tc, c, TC_BATCH);
  tc->slot[c][tc->n[c]++] = off;
}

/* A block offset a free may touch: aligned, inside the heap, whole. */
static int freeable(eve_domain *d, uint64_t off) {
  if (off % BLK_ALIGN || !region_contains(d, off, sizeof(blk))) return 0;
  const blk *b = blk_at(d, off);
  return b->magic == BLK_MAGIC && b->cls < EVE_NCLASSES &&
         region_contains(d, off, alloc_class_size(b->cls));
}

void alloc_free(eve_domain *d, uint64_t off) {
  if (!freeable(d, off)) return; /* damage: leave it (a leak), never scribble */
  blk *b = blk_at(d, off);
  if (b->type == T_FREE) return;
  if (META_STATE(atomic_load_explicit(&b->meta, memory_order_relaxed)) == BLK_FREE) return;
  mark_free(d, off, b->cls);
  push_free(d, off, b->cls);
}

void alloc_close(eve_domain *d) {
  pthread_mutex_lock(&d->lock);
  struct tcache *tc = d->caches;
  d->caches = NULL;
  pthread_mutex_unlock(&d->lock);
  while (tc) {
    for (unsigned c = 0; c < NSMALL; c++)
      while (tc->n[c]) tc_flush(tc, c, TC_BATCH);
    (void)release_range(d, tc->chunk_cur, tc->chunk_end - tc->chunk_cur, 0); /* backed */
    struct tcache *next = tc->next;
    free(tc); /* epoch_detach emptied and freed its retire log */
    tc = next;
  }
}

/* This thread's cache of d if it has one (never creates one). */
static struct tcache *tc_peek(eve_domain *d) {
  unsigned gen = region_fork_gen();
  for (unsigned i = 0; i < TLS_SLOTS; i++)
    if (tls_cache[i].domain_id == d->id && tls_cache[i].tc && tls_cache[i].fork_gen == gen)
      return tls_cache[i].tc;
  return NULL;
}

retire_buf *alloc_retire_buf_peek(eve_domain *d) {
  struct tcache *tc = tc_peek(d);
  return tc ? &tc->retire : NULL;
}

retire_buf *alloc_retire_buf(eve_domain *d) {
  struct tcache *tc = tc_get(d);
  return tc ? &tc->retire : NULL;
}


void alloc_for_each_retire_buf(eve_domain *d, int all, void (*fn)(retire_buf *, void *),
                               void *ctx) {
  /* make sure this thread has its cache before taking the lock: fn may
   * free or allocate blocks, which must not need the lock again */
  struct tcache *mine = tc_get(d);
  pthread_mutex_lock(&d->lock);
  /* another live thread's buffer is its own business: it pushes without a lock */
  for (struct tcache *tc = d->caches; tc; tc = tc->next)
    if (all || tc == mine || !tc->owned) fn(&tc->retire, ctx);
  pthread_mutex_unlock(&d->lock);
}

int alloc_free_retired(eve_domain *d, uint64_t off, uint64_t gen) {
  if (!freeable(d, off)) return EVE_ECORRUPT;
  blk *b = blk_at(d, off);
  uint64_t m = atomic_load_explicit(&b->meta, memory_order_acquire);
  /* {gen, RETIRED} -> {gen + 1, FREE} by CAS: a second free of the same
   * retirement, or of a block since reused, finds another meta and does
   * nothing, so frees are idempotent and double frees are caught. */
  if (META_GEN(m) != gen || META_STATE(m) != BLK_RETIRED || b->cls >= EVE_NCLASSES)
    return EVE_ECORRUPT;
  if (!atomic_compare_exchange_strong(&b->meta, &m, META_MAKE(gen + 1, 0, 0, BLK_FREE)))
    return EVE_ECORRUPT;
  b->type = T_FREE;
  push_free(d, off, b->cls);
  return 0;
}

/* Walks of the shared lists race with pops by other threads and processes:
 * a block popped meanwhile no longer looks free, and its link word may be
 * anything, so a walk stops there (what it saw is then a lower bound). */
static int walkable(eve_domain *d, uint64_t off, unsigned c) {
  return valid_free_entry(d, off, c) && looks_free(d, off, c);
}

void alloc_for_each_free(eve_domain *d, void (*fn)(void *ctx, uint64_t off), void *ctx) {
  uint64_t limit = atomic_load(&d->hdr->bump) / BLK_MIN + 1; /* cycle guard */
  for (unsigned c = 0; c < EVE_NCLASSES; c++) {
    uint64_t off = __atomic_load_n(&d->hdr->free_heads[c].off, __ATOMIC_ACQUIRE);
    for (uint64_t steps = 0; off && steps <= limit && walkable(d, off, c); steps++) {
      fn(ctx, off);
      off = __atomic_load_n(link_word(d, off), __ATOMIC_RELAXED);
    }
  }
  struct tcache *mine = tc_peek(d);
  if (!mine) return;
  for (unsigned c = 0; c < NSMALL; c++)
    for (unsigned i = 0; i < mine->n[c]; i++) fn(ctx, mine->slot[c][i]);
}

/* A gap shorter than PUNCH_MIN holds no hole: a hole lies inside a
 * punched block, which is longer, and free blocks lie inside gaps.  So
 * only long gaps pay for backing the pages their new headers go in. */
int alloc_release_range(eve_domain *d, uint64_t off, uint64_t len) {
  unsigned how = len >= PUNCH_MIN ? REL_BACK | REL_HOLES | REL_PUNCH : 0;
  return release_range(d, off, len, how);
}

/* ---- trimming: free lists coalesced, whole pages given back ------------------
 * A burst of garbage reclaimed online (a long reader ends) leaves its space
 * as small free blocks scattered over the size-class lists: free, but never
 * a whole page the file system can take back, and eve_gc, which rebuilds
 * the lists from the gaps, needs every other process detached.  Trimming
 * does online what the collector's sweep does: it takes every shared list
 * whole (one CAS each; allocations meanwhile are served by thread caches
 * and the bump pointer), sorts the blocks by offset, merges neighbours into
 * runs and cuts each run of several blocks again (release_range: long runs
 * into punched large blocks).  Only the free blocks are touched, and they
 * are this thread's from the take to the push: nothing reachable moves.
 * The run's header pages are backed before any is written (F15), so a full
 * disk puts the run's blocks back as they were. */

typedef struct trim_blk { uint64_t off; unsigned cls; } trim_blk;

static int cmp_trim_blk(const void *a, const void *b) {
  uint64_t x = ((const trim_blk *)a)->off, y = ((const trim_blk *)b)->off;
  return (x > y) - (x < y);
}

/* Take class cls's whole list: its first block, or 0. */
static uint64_t stack_take_all(eve_domain *d, unsigned cls) {
  eve_stack_head *h = &d->hdr->free_heads[cls];
  uint64_t off, tag;
  do load_head(h, &off, &tag);
  while (off && !cas_head(h, off, tag, 0, tag + 1));
  return off;
}

typedef struct trim_set { trim_blk *v; size_t n, cap; } trim_set;

static int trim_add(trim_set *t, uint64_t off, unsigned cls) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4096;
    trim_blk *v = realloc(t->v, cap * sizeof *v);
    if (!v) return EVE_ENOMEM;
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n++] = (trim_blk){off, cls};
  return 0;
}

/* Every block of every shared list, into t.  A damaged chain is cut (the
 * rest leaks until the collector runs), as a pop would; out of memory, what
 * was taken and not recorded goes back as it was. */
static int trim_take(eve_domain *d, trim_set *t) {
  uint64_t limit = atomic_load(&d->hdr->bump) / BLK_MIN + 1; /* cycle guard */
  for (unsigned c = 0; c < EVE_NCLASSES; c++) {
    uint64_t off = stack_take_all(d, c), steps = 0;
    while (off && steps++ <= limit && valid_free_entry(d, off, c) && looks_free(d, off, c)) {
      uint64_t next = __atomic_load_n(link_word(d, off), __ATOMIC_RELAXED);
      if (trim_add(t, off, c)) {
        uint64_t last = off;
        while (next && valid_free_entry(d, next, c) && looks_free(d, next, c) && steps++ <= limit)
          last = next, next = __atomic_load_n(link_word(d, next), __ATOMIC_RELAXED);
        __atomic_store_n(link_word(d, last), 0, __ATOMIC_RELAXED);
        stack_push_chain(d, c, off, last);
        return EVE_ENOMEM;
      }
      off = next;
    }
  }
  return 0;
}

static void trim_put_back(eve_domain *d, const trim_blk *v, size_t n) {
  for (size_t i = 0; i < n; i++) stack_push_chain(d, v[i].cls, v[i].off, v[i].off);
}

/* Re-cut the run v[0..n) (neighbours, in address order) if that merges
 * anything; else put its one block back. */
static void trim_run(eve_domain *d, const trim_blk *v, size_t n, uint64_t *merged) {
  uint64_t off = v[0].off, len = v[n - 1].off + alloc_class_size(v[n - 1].cls) - off;
  if (n == 1) {
    trim_put_back(d, v, 1);
    return;
  }
  /* a run holds holes only inside punched blocks, which are long */
  unsigned how = len >= PUNCH_MIN ? REL_HOLES | REL_PUNCH : 0;
  if (how && release_back(d, off, len) != 0) { /* a full disk: leave it as it was */
    trim_put_back(d, v, n);
    return;
  }
  (void)release_range(d, off, len, how); /* backed just now: cannot fail */
  *merged += len;
}

int alloc_trim(eve_domain *d, uint64_t *merged_bytes) {
  trim_set t = {0};
  *merged_bytes = 0;
  int rc = trim_take(d, &t);
  if (rc) {
    trim_put_back(d, t.v, t.n);
    free(t.v);
    return rc;
  }
  if (t.n) qsort(t.v, t.n, sizeof *t.v, cmp_trim_blk);
  for (size_t i = 0, j; i < t.n; i = j) {
    for (j = i + 1; j < t.n && t.v[j - 1].off + alloc_class_size(t.v[j - 1].cls) == t.v[j].off; j++) {}
    trim_run(d, t.v + i, j - i, merged_bytes);
  }
  free(t.v);
  return 0;
}

void alloc_reset(eve_domain *d) {
  pthread_mutex_lock(&d->lock);
  for (struct tcache *tc = d->caches; tc; tc = tc->next) {
    memset(tc->n, 0, sizeof tc->n);
    tc->chunk_cur = tc->chunk_end = 0;
    tc->retire.n = 0; /* the log stays ours, empty: nothing waits any more */
    tc->retire.bytes_since_pass = 0;
    if (tc->retire.log)
      atomic_store(&((retire_log *)region_ptr(d, tc->retire.log))->n, 0);
  }
  pthread_mutex_unlock(&d->lock);
  for (unsigned c = 0; c < EVE_NCLASSES; c++) {
    eve_stack_head *h = &d->hdr->free_heads[c];
    __atomic_store_n(&h->off, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&h->tag, 1, __ATOMIC_RELEASE);
  }
  /* retire batches too: nothing is pinned, what they hold is unreachable */
  __atomic_store_n(&d->hdr->batches.off, 0, __ATOMIC_RELEASE);
  __atomic_fetch_add(&d->hdr->batches.tag, 1, __ATOMIC_RELEASE);
}

int alloc_stats_get(eve_domain *d, alloc_stats *out) {
  memset(out, 0, sizeof *out);
  uint64_t limit = atomic_load(&d->hdr->bump) / BLK_MIN + 1; /* cycle guard */
  for (unsigned c = 0; c < EVE_NCLASSES; c++) {
    uint64_t off = __atomic_load_n(&d->hdr->free_heads[c].off, __ATOMIC_ACQUIRE);
    for (uint64_t steps = 0; off && steps <= limit && walkable(d, off, c); steps++) {
      uint64_t s, e;
      out->free_blocks++;
      out->free_bytes += alloc_class_size(c);
      if (is_punched(d, off)) out->punched_bytes += punch_span(off, alloc_class_size(c), &s, &e);
      off = __atomic_load_n(link_word(d, off), __ATOMIC_RELAXED);
    }
  }
  pthread_mutex_lock(&d->lock);
  for (struct tcache *tc = d->caches; tc; tc = tc->next) {
    for (unsigned c = 0; c < NSMALL; c++) {
      out->free_blocks += tc->n[c];
      out->free_bytes += tc->n[c] * alloc_class_size(c);
    }
    out->free_bytes += tc->chunk_end - tc->chunk_cur;
  }
  pthread_mutex_unlock(&d->lock);
  return 0;
}
