/* region.h — the domain file: header layout, mapping, growth, bounds checks.
 *
 * A domain is one file (or memfd).  It is mapped once over a reserved range
 * of max_size bytes (MAP_SHARED | MAP_NORESERVE); growth extends the file
 * with fallocate and nobody remaps.  Everything stored is an offset from
 * the start of the file, never a pointer.  See docs/FORMAT.md. */
#ifndef EVE_REGION_H
#define EVE_REGION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "eve.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the domain format is little-endian; a big-endian port needs byte swaps");

#define EVE_MAGIC "EVEDOMN\x01"
#define EVE_FORMAT_VERSION 1u
#define EVE_PAGE 4096u
#define EVE_CACHE_LINE 64u
#define EVE_HEADER_BYTES 4096u
#define EVE_SLOT_BYTES 64u
#define EVE_SLOT_COUNT 128u          /* reader slots: docs/DESIGN.md, "One reader
                                        slot per transaction" */
#define EVE_DEFAULT_MAX (1ull << 40) /* 1 TiB of address space            */
#define EVE_DEFAULT_INITIAL (64u * 1024u)
#define EVE_GROW_QUANTUM (64u * 1024u)

/* Allocator size classes (alloc.c explains them).  Declared here because
 * their free-list heads live in the file header. */
#define EVE_NCLASSES 184

/* "The layout word": the sizes every offset computation depends on.  A file
 * written with other sizes is refused before any offset is trusted. */
#define EVE_LAYOUT_WORD                                                        \
  ((uint64_t)8 | ((uint64_t)EVE_SLOT_BYTES << 8) |                             \
   ((uint64_t)EVE_CACHE_LINE << 16) | ((uint64_t)EVE_PAGE << 24) |             \
   ((uint64_t)EVE_NCLASSES << 40))

/* A Treiber-stack head: {offset, tag} swapped together by a 128-bit CAS,
 * so a stale head can never be mistaken for the current one (ABA). */
typedef struct eve_stack_head {
  uint64_t off;
  uint64_t tag;
} __attribute__((aligned(16))) eve_stack_head;

/* A durable checkpoint (durable.c, docs/FORMAT.md): what eve_sync made
 * survive a power cut.  Two alternate in the header; each is written whole
 * in one 512-byte sector, after everything it reaches was synced, and the
 * newest one whose checksum holds is the one a recovery restores. */
typedef struct eve_checkpoint {
  uint64_t magic;          /* EVE_CHECKPOINT_MAGIC                            */
  uint64_t seq;            /* 1, 2, ...: eve_sync's count                      */
  uint64_t root;           /* the map {atom name -> value} it restores          */
  uint64_t bump;           /* the heap's end then: every block it reaches is below */
  uint64_t unix_ns;        /* when it was taken                                */
  uint64_t reserved[2];
  uint64_t checksum;       /* XXH64 of the bytes before this field             */
} eve_checkpoint;
#define EVE_CHECKPOINT_MAGIC 0x544e504b43657665ull /* "eveCKPNT" */

typedef struct eve_file_header {
  /* --- immutable after creation, covered by checksum --- */
  char magic[8];
  uint32_t format_version;
  uint32_t header_bytes;
  uint64_t layout;
  uint64_t max_size;
  uint64_t slots_off;      /* reader-slot table (epoch.h)                   */
  uint64_t slots_count;
  uint64_t heap_start;     /* first block                                  */
  uint64_t features;       /* must be 0 in format 1                        */
  uint64_t created_unix_ns;
  uint8_t reserved0[40];
  uint64_t checksum;       /* XXH64 of the bytes before this field          */
  /* --- mutable, each hot word on its own cache line --- */
  _Alignas(64) _Atomic uint64_t size;  /* file bytes backed by fallocate     */
  _Alignas(64) _Atomic uint64_t bump;  /* next never-allocated byte          */
  _Alignas(64) _Atomic uint64_t root;  /* atom registry root: a map          */
  _Atomic uint64_t flags;              /* EVE_HF_* (sticky)                  */
  _Atomic uint64_t next_incarnation;   /* process incarnations, never reused */
  _Atomic uint64_t skipped_retires;    /* retirements dropped (leaks)        */
  _Atomic uint64_t cell_pages;         /* first page of atom cells (a list)  */
  _Alignas(16) eve_stack_head cell_free; /* free atom cells                  */
  _Alignas(16) eve_stack_head batches;   /* retire batches (epoch.c)         */
  _Alignas(64) _Atomic uint64_t epoch; /* global epoch (epoch.c)             */
  _Alignas(64) eve_stack_head free_heads[EVE_NCLASSES];
  /* --- durability (durable.c): written by eve_sync and at open --- */
  _Alignas(64) eve_checkpoint checkpoints[2]; /* the newest valid one counts */
  uint8_t boot_id[16];                 /* the boot the domain was last opened in */
} eve_file_header;

/* Header flags: evidence that recovery is needed, kept until it has run. */
#define EVE_HF_CRASH_SEEN 1u  /* a dead process still held a reader slot */
#define EVE_HF_SKIPPED 2u     /* retirements were dropped at detach      */
#define EVE_HF_ATTACH_WANTED 4u /* a process waits to attach: an automatic
                                   collection gives way (check.c)        */

#define EVE_CHECKSUMMED_BYTES offsetof(eve_file_header, checksum)
_Static_assert(sizeof(eve_file_header) <= EVE_HEADER_BYTES, "header fits its page");
/* The format (docs/FORMAT.md) fixes these offsets. */
_Static_assert(offsetof(eve_file_header, checksum) == 112, "format 1 layout");
_Static_assert(offsetof(eve_file_header, size) == 128, "format 1 layout");
_Static_assert(offsetof(eve_file_header, bump) == 192, "format 1 layout");
_Static_assert(offsetof(eve_file_header, root) == 256, "format 1 layout");
_Static_assert(offsetof(eve_file_header, cell_free) == 304, "format 1 layout");
_Static_assert(offsetof(eve_file_header, batches) == 320, "format 1 layout");
_Static_assert(offsetof(eve_file_header, epoch) == 384, "format 1 layout");
_Static_assert(offsetof(eve_file_header, free_heads) == 448, "format 1 layout");
_Static_assert(offsetof(eve_file_header, checkpoints) == 3392, "format 1 layout");
_Static_assert(offsetof(eve_file_header, boot_id) == 3520, "format 1 layout");
_Static_assert(sizeof(eve_checkpoint) == 64, "a checkpoint is 64 bytes");
/* Both checkpoints in one 512-byte sector (3072..3583): a torn write of
 * the header page leaves each of them old or new, never half of one. */
_Static_assert(3392 / 512 == (3520 - 1) / 512, "checkpoints share a sector");

/* Bits of eve_domain.guard, the handle's state word (guard.c sets and
 * reads the first two, fault.c sets the damage bits). */
enum {
  GUARD_EXCLUSIVE = 1u,     /* a collection or a close is running          */
  GUARD_CLOSED = 2u,        /* eve_close returned: the handle is a husk     */
  GUARD_TRUNCATED = 4u,     /* a page of the mapping was cut off: EVE_ETRUNC */
  GUARD_IO_ERROR = 8u,      /* a page could not be read: EVE_EIO            */
};
#define GUARD_DAMAGE (GUARD_TRUNCATED | GUARD_IO_ERROR)

struct alloc_shared;

struct eve_domain {
  uint8_t *base;           /* start of the reserved mapping                  */
  eve_file_header *hdr;    /* == (eve_file_header *)base                     */
  uint64_t max_size;       /* length of the mapping                          */
  uint64_t heap_start;
  uint64_t id;             /* process-unique, never reused: keys thread caches */
  int fd;
  int in_memory;
  int read_only;
  _Atomic uint64_t known_size; /* last size seen; refreshed on a bounds miss */
  pthread_mutex_t lock;    /* guards the list of thread caches (alloc.c)     */
  struct tcache *caches;
  struct eve_domain *next_open; /* global list of open domains (fork handler) */
  char *path;              /* NULL for in-memory domains                     */
  /* attachment (epoch.c): this process's identity in the domain           */
  pthread_mutex_t attach_lock;
  int attached;            /* proc_index/incarnation valid                   */
  unsigned attach_fork_gen;
  int lock_fd;             /* our own OFD: holds our liveness + attach locks */
  int probe_fd;            /* an OFD with no locks, for probing others       */
  uint32_t proc_index;
  uint64_t incarnation;
  uint64_t pid;            /* getpid() at attach: written into slots we claim */
  _Atomic uint64_t batches_blocked_at; /* oldest pin at a fruitless batch pass */
  _Atomic uint64_t next_repair_ns; /* when to look for dead processes again   */
  _Atomic int repairing;   /* a thread of ours is repairing a dead process   */
  uint32_t slot_high;      /* slots ever used by this process (scan bound)   */
  /* snapshots (snapshot.c): what this process's live snapshots pin */
  pthread_mutex_t sync_lock; /* one eve_sync of the handle at a time (durable.c) */
  pthread_mutex_t snap_lock;
  struct snap_pool *snaps; /* NULL until the first snapshot                  */
  /* --- kept across close and reuse of the handle (domain.c): a call that
   *     races eve_close, and the SIGBUS handler, may read these at any time */
  _Atomic unsigned guard;  /* GUARD_* (above): exclusive, closed, damaged   */
  _Atomic uintptr_t watch_base; /* the mapping as fault.c sees it (0: none)  */
  _Atomic uint64_t watch_len;
  _Atomic int watch_prot, watch_fd;
  struct eve_domain *next_handle; /* every handle ever allocated (fault.c)   */
  struct eve_domain *next_husk;   /* closed handles waiting for reuse        */
};
/* The fields a reused handle starts with zeroed: everything before `guard`. */
#define EVE_DOMAIN_RESET_BYTES offsetof(struct eve_domain, guard)

/* 0, or the sticky error of a domain whose file was cut off under its
 * mapping (EVE_ETRUNC) or could not be read (EVE_EIO): see fault.c. */
static inline int region_damage(eve_domain *d) {
  unsigned st = atomic_load_explicit(&d->guard, memory_order_acquire);
  if (__builtin_expect(!(st & GUARD_DAMAGE), 1)) return 0;
  return st & GUARD_TRUNCATED ? EVE_ETRUNC : EVE_EIO;
}

/* err, unless the domain is damaged: then the damage explains it. */
static inline int region_error(eve_domain *d, int err) {
  int damage = region_damage(d);
  return damage ? damage : err;
}

/* Bounds check: is [off, off+len) inside the file?  Cheap on the common path:
 * compares with a cached size and re-reads the header only on a miss. */
static inline int region_contains(eve_domain *d, uint64_t off, uint64_t len) {
  uint64_t end = off + len;
  if (end < off) return 0;
  if (end <= atomic_load_explicit(&d->known_size, memory_order_relaxed))
    return off >= d->heap_start;
  uint64_t size = atomic_load_explicit(&d->hdr->size, memory_order_acquire);
  if (size > d->max_size) size = d->max_size;
  atomic_store_explicit(&d->known_size, size, memory_order_relaxed);
  return off >= d->heap_start && end <= size;
}

static inline void *region_ptr(eve_domain *d, uint64_t off) { return d->base + off; }

/* Make sure the file is at least `end` bytes long (fallocate first, then
 * publish the size by CAS-to-maximum: no lock, nothing unbacked trusted).
 * Returns 0, EVE_ENOSPC, EVE_EFULL or EVE_EIO. */
int region_grow(eve_domain *d, uint64_t end);

/* Give the pages [off, off+len) (page aligned, inside the file, free
 * space) back to the file system: fallocate(PUNCH_HOLE | KEEP_SIZE).  The
 * file keeps its size; the pages read as zeros and cost no disk until
 * written.  0, or an error (a read-only or damaged handle, a file system
 * that cannot punch): then nothing changed. */
int region_punch(eve_domain *d, uint64_t off, uint64_t len);
/* Back [off, off+len) (inside the file) with real blocks again before it is
 * written, as growth does (docs/RECLAMATION.md, F15): a store into a hole on
 * a full disk would be SIGBUS.  Never changes data.  0, EVE_ENOSPC, EVE_EIO
 * or the damage. */
int region_back(eve_domain *d, uint64_t off, uint64_t len);
/* Bytes the file occupies on its file system (st_blocks * 512; for an
 * in-memory domain, the memory), or 0 if fstat fails. */
uint64_t region_disk_bytes(eve_domain *d);

/* Open the file at `path` as o->flags ask (creating it atomically where
 * allowed), or create an in-memory domain, and validate its header; the
 * descriptor in *fd_out.  Map it (nothing read through the mapping yet:
 * domain.c lets fault.c watch it first), check the mutable header words
 * once mapped, and unmap. */
int region_open_file(const char *path, const eve_options *o, int *fd_out);
int region_open_memory(const eve_options *o, int *fd_out);
int region_map(eve_domain *d, int rdonly);
int region_validate_mapped(eve_domain *d);

/* The eve code for an errno from a file operation (EVE_EIO for the rest). */
int errno_to_eve(int e);
void region_unmap(eve_domain *d);

/* The process-wide list of open domains (guarded by its lock, which also
 * guards domain.c's closed handles).  alloc.c uses it to tell live domains
 * from closed ones at thread exit and after fork.  region_list_add gives d
 * its process-unique id. */
void region_lock_open_list(void);
void region_unlock_open_list(void);
eve_domain *region_open_list(void);
void region_list_add(eve_domain *d);
void region_list_remove(eve_domain *d);
/* Bumped in a forked child: thread-local state keyed by it dies.  Read on
 * every public call that takes a transaction (txn_status), so inline. */
extern unsigned region_fork_generation;
static inline unsigned region_fork_gen(void) { return region_fork_generation; }
/* In a forked child (domain.c's fork handler): a fresh list lock, and the
 * next fork generation. */
void region_fork_child(void);

#endif
