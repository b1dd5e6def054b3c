/* region.c — the domain file: create, open, validate, map, grow.
 *
 * How a file comes to exist
 * -------------------------
 * A new domain is written completely (header, first fallocate) under a
 * temporary name in the same directory and then link()ed to its real name.
 * link() fails if the name exists, so two processes racing to create the
 * same domain cannot both win, and no process can ever open a half-written
 * header: the name appears with a valid header or not at all.  The loser
 * of the race simply opens the winner's file.
 *
 * How a file grows
 * ----------------
 * The whole reserved range (max_size) is mapped once; pages past the end of
 * the file are legal to map and become usable when the file is extended.
 * Growth is fallocate() first — it never shrinks a file, is idempotent and
 * reserves real blocks, so a full disk shows up here as EVE_ENOSPC rather
 * than as SIGBUS on a later store into a hole — and then a CAS of the
 * header's size to the maximum of the old and new values.  No lock: racing
 * growers each make the file at least as big as they need, and a crash
 * between the two steps leaves a file larger than the header says, which
 * is harmless (the size is never trusted beyond what fallocate backed).
 */
#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Every open domain of this process, so the fork handler and thread-exit
 * destructors can tell live domains from closed ones. */
static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static eve_domain *g_open;
static uint64_t g_next_id = 1;
unsigned region_fork_generation; /* region.h: region_fork_gen() */

int errno_to_eve(int e) {
  switch (e) {
  case ENOENT: case ENOTDIR: return EVE_ENOENT;
  case EACCES: case EPERM: case EROFS: return EVE_EACCESS;
  case EEXIST: return EVE_EEXIST;
  case ENOSPC: case EDQUOT: return EVE_ENOSPC;
  case EFBIG: return EVE_EFULL;
  case ENOMEM: return EVE_ENOMEM;
  case EISDIR: return EVE_ENOTDOMAIN;
  case EINVAL: return EVE_EINVAL;
  default: return EVE_EIO;
  }
}

static uint64_t round_up(uint64_t x, uint64_t q) { return (x + q - 1) / q * q; }

static uint64_t header_checksum(const eve_file_header *h) {
  return XXH64(h, EVE_CHECKSUMMED_BYTES, 0x6576652d68647221ull);
}

/* The fixed part of the layout: header page, reader slots, liveness bytes,
 * then the heap.  All page aligned. */
static void layout_header(eve_file_header *h, uint64_t max_size) {
  memset(h, 0, sizeof *h);
  memcpy(h->magic, EVE_MAGIC, 8);
  h->format_version = EVE_FORMAT_VERSION;
  h->header_bytes = EVE_HEADER_BYTES;
  h->layout = EVE_LAYOUT_WORD;
  h->max_size = max_size;
  h->slots_off = EVE_HEADER_BYTES;
  h->slots_count = EVE_SLOT_COUNT;
  uint64_t slots_end = h->slots_off + EVE_SLOT_COUNT * EVE_SLOT_BYTES;
  uint64_t live_bytes_end = slots_end + round_up(EVE_SLOT_COUNT, EVE_PAGE);
  h->heap_start = round_up(live_bytes_end, EVE_PAGE);
  h->features = 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  h->created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  h->checksum = header_checksum(h);
}

/* Reserve file blocks for [0, target).  fallocate where supported, else
 * posix_fallocate (which writes zeros: slower, equally safe). */
static int reserve_blocks(int fd, uint64_t target) {
  for (;;) {
    if (fallocate(fd, 0, 0, (off_t)target) == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EOPNOTSUPP) return errno_to_eve(errno);
    int rc = posix_fallocate(fd, 0, (off_t)target);
    return rc ? errno_to_eve(rc) : 0;
  }
}

int region_grow(eve_domain *d, uint64_t end) {
  int damage = region_damage(d); /* the mapping is zeros: never write the file */
  if (damage) return damage;
  uint64_t size = atomic_load_explicit(&d->hdr->size, memory_order_acquire);
  if (end <= size) return 0;
  if (end > d->max_size) return EVE_EFULL;
  /* Grow geometrically so the number of fallocate calls stays logarithmic
   * while small domains stay small: by an eighth (at most 256 MiB at a
   * time), so a file is never more than ~12% larger than what it needed
   * (a step of a half left a steady-state domain 50% larger than its data
   * for want of a few blocks). */
  uint64_t step = size / 8;
  if (step > (256ull << 20)) step = 256ull << 20;
  uint64_t target = round_up(end > size + step ? end : size + step, EVE_GROW_QUANTUM);
  if (target > d->max_size) target = d->max_size;
  int rc = reserve_blocks(d->fd, target);
  if (rc == EVE_ENOSPC && target > end) /* take only what is needed */
    rc = reserve_blocks(d->fd, target = round_up(end, EVE_PAGE) < d->max_size
                                            ? round_up(end, EVE_PAGE) : d->max_size);
  if (rc) return rc;
  /* publish: CAS the size up to the maximum (release: the blocks exist) */
  uint64_t cur = atomic_load_explicit(&d->hdr->size, memory_order_relaxed);
  while (cur < target &&
         !atomic_compare_exchange_weak_explicit(&d->hdr->size, &cur, target,
                                                memory_order_release, memory_order_relaxed))
    ;
  return 0;
}

/* ---- space back to the file system, and backed again ------------------- */

/* Is [off, off+len) inside the heap as the file has it backed?  A range
 * computed from a damaged block must never reach fallocate. */
static int in_heap(eve_domain *d, uint64_t off, uint64_t len) {
  uint64_t end = off + len;
  return end >= off && off >= d->heap_start && end <= atomic_load(&d->hdr->size);
}

int region_punch(eve_domain *d, uint64_t off, uint64_t len) {
  if (d->read_only) return EVE_EACCESS; /* never: its mapping cannot even free */
  int damage = region_damage(d);        /* the mapping is zeros: never touch the file */
  if (damage) return damage;
  if (!len) return 0;
  if (!in_heap(d, off, len)) return EVE_ECORRUPT;
  for (;;) {
    if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
      return 0;
    if (errno != EINTR) return errno_to_eve(errno);
  }
}

int region_back(eve_domain *d, uint64_t off, uint64_t len) {
  int damage = region_damage(d);
  if (damage) return damage;
  if (!len) return 0;
  if (!in_heap(d, off, len)) return EVE_ECORRUPT;
  for (;;) {
    /* KEEP_SIZE: backing never makes the file longer, whatever it is asked */
    if (fallocate(d->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) return 0;
    if (errno == EINTR) continue;
    /* No fallocate, hence no F15 guarantee on this file system at all
     * (growth falls back to posix_fallocate), and it punched nothing
     * either: region_punch fails there first. */
    if (errno == EOPNOTSUPP) return 0;
    return errno_to_eve(errno);
  }
}

uint64_t region_disk_bytes(eve_domain *d) {
  struct stat st;
  if (fstat(d->fd, &st) != 0) return 0;
  return (uint64_t)st.st_blocks * 512u;
}

/* ---- validation of an existing file ------------------------------------ */

/* The immutable part of the header, read with pread before anything is
 * mapped.  The mutable words (size, bump) are checked after mapping, where
 * they can be loaded atomically in the right order (validate_mapped): a
 * pread racing another process's growth could see them torn. */
static int validate_header(const eve_file_header *h, uint64_t file_bytes) {
  if (file_bytes < 8 || memcmp(h->magic, EVE_MAGIC, 8) != 0) return EVE_ENOTDOMAIN;
  if (file_bytes < EVE_HEADER_BYTES) return EVE_ETRUNC;
  if (h->format_version != EVE_FORMAT_VERSION) return EVE_EVERSION;
  if (h->checksum != header_checksum(h)) return EVE_EBADHDR;
  if (h->header_bytes != EVE_HEADER_BYTES || h->layout != EVE_LAYOUT_WORD || h->features != 0)
    return EVE_EBADHDR;
  /* the checksum vouches for these, but a forged file could still lie */
  if (h->max_size < h->heap_start || h->max_size > (1ull << 46) ||
      h->heap_start < EVE_HEADER_BYTES || h->heap_start % EVE_PAGE != 0 ||
      h->slots_off != EVE_HEADER_BYTES || h->slots_count != EVE_SLOT_COUNT)
    return EVE_EBADHDR;
  return 0;
}

static int read_and_validate(int fd) {
  eve_file_header h;
  memset(&h, 0, sizeof h);
  ssize_t got = pread(fd, &h, sizeof h, 0);
  if (got < 0) return errno_to_eve(errno);
  struct stat st; /* after the read: the file only grows */
  if (fstat(fd, &st) != 0) return errno_to_eve(errno);
  if (!S_ISREG(st.st_mode)) return EVE_ENOTDOMAIN;
  if ((size_t)got < sizeof h) /* short file: judge magic on what exists */
    return (got >= 8 && memcmp(h.magic, EVE_MAGIC, 8) == 0) ? EVE_ETRUNC : EVE_ENOTDOMAIN;
  return validate_header(&h, (uint64_t)st.st_size);
}

/* The mutable words, once mapped: bump is loaded before size (a grower
 * publishes size before anyone moves bump past it), and the file's length
 * after both (it only grows), so a consistent domain always passes. */
int region_validate_mapped(eve_domain *d) {
  uint64_t bump = atomic_load(&d->hdr->bump);
  uint64_t size = atomic_load(&d->hdr->size);
  struct stat st;
  if (fstat(d->fd, &st) != 0) return errno_to_eve(errno);
  if (size < d->heap_start || size > d->max_size || bump < d->heap_start || bump > size ||
      bump % 16 != 0 || size % EVE_PAGE != 0)
    return EVE_EBADHDR;
  if ((uint64_t)st.st_size < size) return EVE_ETRUNC;
  return 0;
}

/* ---- creation -------------------------------------------------------------- */

static int init_new_file(int fd, uint64_t max_size, uint64_t initial) {
  eve_file_header h;
  layout_header(&h, max_size);
  if (initial < h.heap_start + EVE_GROW_QUANTUM) initial = h.heap_start + EVE_GROW_QUANTUM;
  initial = round_up(initial, EVE_GROW_QUANTUM);
  if (initial > max_size) return EVE_EINVAL;
  int rc = reserve_blocks(fd, initial);
  if (rc) return rc;
  atomic_store_explicit(&h.size, initial, memory_order_relaxed);
  atomic_store_explicit(&h.bump, h.heap_start, memory_order_relaxed);
  /* a slot showing epoch 0 is unpinned, so epochs start at 1 */
  atomic_store_explicit(&h.epoch, 1, memory_order_relaxed);
  if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return errno_to_eve(errno ? errno : EIO);
  return 0;
}

/* Create `path` atomically: write it under a temporary name, then link().
 * Returns the open fd in *fd_out, or EVE_EEXIST if someone else created it. */
static int create_file(const char *path, unsigned mode, uint64_t max_size, uint64_t initial,
                       int *fd_out) {
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.creating-XXXXXX", path) < 0) return EVE_ENOMEM;
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int rc = errno_to_eve(errno);
    free(tmp);
    return rc;
  }
  int rc = fchmod(fd, mode) == 0 ? 0 : errno_to_eve(errno);
  if (!rc) rc = init_new_file(fd, max_size, initial);
  if (!rc && link(tmp, path) != 0) rc = errno_to_eve(errno);
  unlink(tmp);
  free(tmp);
  if (rc) {
    close(fd);
    return rc;
  }
  *fd_out = fd;
  return 0;
}

int region_open_file(const char *path, const eve_options *o, int *fd_out) {
  unsigned mode = o->flags & EVE_OPEN_MODE_MASK;
  int read_only = (o->flags & EVE_OPEN_RDONLY) != 0;
  int may_open = mode != EVE_OPEN_NEW;
  int may_create = mode != EVE_OPEN_EXISTING && !read_only; /* read-only never creates */
  int oflags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  for (int attempt = 0; attempt < 8; attempt++) {
    if (may_open) {
      int fd = open(path, oflags);
      if (fd >= 0) {
        int rc = read_and_validate(fd);
        if (rc) {
          close(fd);
          return rc;
        }
        *fd_out = fd;
        return 0;
      }
      if (errno != ENOENT || !may_create) return errno_to_eve(errno);
    }
    int rc = create_file(path, o->mode ? o->mode : 0600, o->max_size, o->initial_size, fd_out);
    if (rc != EVE_EEXIST || !may_open) return rc;
    /* lost a creation race: open the winner's file */
  }
  return EVE_EIO;
}

/* An in-memory domain is sealed against shrinking: nobody, not even a
 * process that reopens it through /proc/PID/fd, can cut pages from under
 * the mapping (growth stays allowed).  Without sealing support the SIGBUS
 * handler (fault.c) still turns a truncation into EVE_ETRUNC. */
int region_open_memory(const eve_options *o, int *fd_out) {
  int fd = memfd_create("eve-domain", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("eve-domain", MFD_CLOEXEC);
  if (fd < 0) return errno_to_eve(errno);
  int rc = init_new_file(fd, o->max_size, o->initial_size);
  if (rc) {
    close(fd);
    return rc;
  }
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK); /* best effort, see above */
  *fd_out = fd;
  return 0;
}

/* ---- the mapping ----------------------------------------------------------- */

/* Map the whole reserved range; nothing is read through it yet (the caller
 * lets fault.c watch it first). */
int region_map(eve_domain *d, int rdonly) {
  eve_file_header h;
  if (pread(d->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return EVE_EIO;
  int prot = PROT_READ | (rdonly ? 0 : PROT_WRITE);
  void *base = mmap(NULL, h.max_size, prot, MAP_SHARED | MAP_NORESERVE, d->fd, 0);
  if (base == MAP_FAILED) return errno_to_eve(errno);
  d->base = base;
  d->hdr = base;
  d->max_size = h.max_size;
  d->heap_start = h.heap_start;
  return 0;
}

void region_unmap(eve_domain *d) { munmap(d->base, d->max_size); }

/* ---- the open-domain list, for alloc.c's thread-exit and fork handlers ---- */

void region_lock_open_list(void) { pthread_mutex_lock(&g_open_lock); }
void region_unlock_open_list(void) { pthread_mutex_unlock(&g_open_lock); }
eve_domain *region_open_list(void) { return g_open; }

void region_list_add(eve_domain *d) {
  pthread_mutex_lock(&g_open_lock);
  d->id = g_next_id++; /* before any allocation: thread caches are keyed by it */
  d->next_open = g_open;
  g_open = d;
  pthread_mutex_unlock(&g_open_lock);
}

void region_list_remove(eve_domain *d) {
  pthread_mutex_lock(&g_open_lock);
  for (eve_domain **p = &g_open; *p; p = &(*p)->next_open)
    if (*p == d) {
      *p = d->next_open;
      break;
    }
  pthread_mutex_unlock(&g_open_lock);
}

void region_fork_child(void) {
  pthread_mutex_init(&g_open_lock, NULL);
  region_fork_generation++;
}
