/* epoch.c — reader slots, epochs, process liveness and retirement.
 *
 * The grace-period argument
 * -------------------------
 * The domain has a 64-bit global epoch E that only grows.  A transaction
 * *pins* by claiming a reader slot and announcing an epoch in it:
 *
 *     do { e = E; slot.epoch = e; } while (E != e);      (all seq_cst)
 *
 * so when it starts reading, its slot shows p and E was p after the slot
 * was written.  A committer that unlinks blocks with a root CAS reads the
 * retire tag t = E *after* its seq_cst CAS.  Claim: any transaction that
 * can still reach an unlinked block has a slot showing p <= t.  It reached
 * the block through the old root, which it loaded before the CAS; its
 * re-check of E == p came before that load, and E only grows, so p <= t.
 * Therefore a retired block is freed only once every live pinned slot shows
 * an epoch > t (or none is pinned): then nobody can reach it.  The reclaimer
 * increments E before scanning, so transactions that pin afterwards show
 * epochs > every tag already in its buffer, and a slot read as unpinned
 * during the scan belongs to a pin that is ordered after the increment (the
 * seq_cst total order on E and the slot words).  Tagging with the
 * committer's own pinned epoch instead would be wrong: E may move on between
 * its pin and its CAS, and a reader pinned in between would be ignored
 * (RECLAMATION.md finding 4).
 *
 * A slot showing 0 is unpinned, so the global epoch starts at 1 and a pin
 * never announces 0 (a domain whose first pins announced 0 would free what
 * those readers were reading: found by the threaded stress test).
 *
 * Pins belong to transactions, not threads: each transaction claims its
 * own slot, so nesting and handing a transaction to another thread need no
 * counters (RECLAMATION.md findings 7 and 16).
 *
 * Liveness from the kernel
 * ------------------------
 * Each attached process holds an OFD write lock on its own byte of the
 * liveness page, through a descriptor it opened itself (O_CLOEXEC).  The
 * kernel drops the lock when the process dies, across pid namespaces too.
 * A slot whose owner's lock is gone is ignored by reclamation and may be
 * claimed again by CAS; nobody but its claimer ever writes it, so a
 * reclaimer cannot race a new claimer (finding 5c).  Probes use a second
 * descriptor that holds no locks, because F_OFD_GETLK through the locking
 * descriptor reports our own locks as free (5a); we never probe our own
 * process, and only probe slots that hold reclamation back.
 *
 * Fork: the child inherits the parent's descriptors.  Unlocking through
 * them would drop the parent's locks, so the child only closes them (the
 * parent's reference keeps the locks) and attaches again with descriptors
 * of its own, as a new process (finding 6).
 */
#define _GNU_SOURCE
#include "epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atom.h"
#include "check.h"

#define RECLAIM_EVERY 64   /* retirements between reclamation passes ...   */
#define RECLAIM_IN_TXN 1024 /* ... or, inside one long transaction, these   */

static eve_slot *slot_at(eve_domain *d, uint32_t i) {
  return (eve_slot *)region_ptr(d, d->hdr->slots_off + (uint64_t)i * EVE_SLOT_BYTES);
}

static uint64_t live_page(eve_domain *d) {
  return d->hdr->slots_off + EVE_SLOT_COUNT * EVE_SLOT_BYTES;
}

static eve_proc *proc_at(eve_domain *d, uint32_t i) {
  return (eve_proc *)region_ptr(d, live_page(d) + (uint64_t)i * sizeof(eve_proc));
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- OFD byte locks ------------------------------------------------------- */

static int ofd_lock(int fd, short type, uint64_t at) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)at, .l_len = 1};
  return fcntl(fd, F_OFD_SETLK, &fl);
}

/* 1 if some other open file description holds a lock on byte `at`. */
static int ofd_locked(int fd, uint64_t at) {
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)at, .l_len = 1};
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return 1; /* cannot tell: assume alive */
  return fl.l_type != F_UNLCK;
}

/* A new open file description of the domain's file, owned by this process. */
static int reopen(eve_domain *d) {
  if (d->path) return open(d->path, O_RDWR | O_CLOEXEC);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", d->fd);
  return open(p, O_RDWR | O_CLOEXEC);
}

/* ---- attachment ------------------------------------------------------------ */

/* The first process byte nobody holds is ours.  An entry that still names
 * an incarnation belonged to a process that died attached (a clean detach
 * clears it): whatever it held in its caches and retire buffers is lost
 * until the collector runs, so say so. */
static int claim_process_index(eve_domain *d) {
  for (uint32_t i = 0; i < EVE_PROC_COUNT; i++)
    if (ofd_lock(d->lock_fd, F_WRLCK, live_page(d) + i) == 0) {
      d->proc_index = i;
      if (atomic_load(&proc_at(d, i)->incarnation) != 0)
        atomic_fetch_or(&d->hdr->flags, EVE_HF_CRASH_SEEN);
      return 0;
    }
  return EVE_ESLOTS;
}

/* Shared lock on the attach byte; a recoverer holding it exclusively makes
 * us wait, but only for a while (a stopped recoverer must not hang us). */
static int take_attach_shared(eve_domain *d) {
  for (int i = 0; i < 2000; i++) {
    if (ofd_lock(d->lock_fd, F_RDLCK, live_page(d) + EVE_ATTACH_BYTE) == 0) return 0;
    if (errno != EAGAIN && errno != EACCES) return EVE_EIO;
    usleep(1000);
  }
  return EVE_EBUSY;
}

static int attach_locked(eve_domain *d) {
  if (d->read_only) return EVE_ETXN;
  d->lock_fd = reopen(d);
  d->probe_fd = reopen(d);
  if (d->lock_fd < 0 || d->probe_fd < 0) goto fail_io;
  int rc = take_attach_shared(d);
  if (!rc) rc = claim_process_index(d);
  if (rc) goto fail;
  d->incarnation = atomic_fetch_add(&d->hdr->next_incarnation, 1) + 1;
  eve_proc *p = proc_at(d, d->proc_index);
  d->pid = (uint64_t)getpid();
  atomic_store(&p->pid, d->pid);
  atomic_store(&p->incarnation, d->incarnation);
  d->attach_fork_gen = region_fork_gen();
  d->attached = 1;
  return 0;
fail_io:
  rc = EVE_EIO;
fail:
  if (d->lock_fd >= 0) close(d->lock_fd);
  if (d->probe_fd >= 0) close(d->probe_fd);
  d->lock_fd = d->probe_fd = -1;
  return rc;
}

int epoch_attach(eve_domain *d) {
  if (d->attached) return 0;
  pthread_mutex_lock(&d->attach_lock);
  int rc = d->attached ? 0 : attach_locked(d);
  pthread_mutex_unlock(&d->attach_lock);
  return rc;
}

void epoch_after_fork(eve_domain *d) {
  pthread_mutex_init(&d->attach_lock, NULL);
  /* close, never unlock: the parent's reference keeps its locks */
  if (d->lock_fd >= 0) close(d->lock_fd);
  if (d->probe_fd >= 0) close(d->probe_fd);
  d->lock_fd = d->probe_fd = -1;
  d->attached = 0;
}

int epoch_proc_alive(eve_domain *d, uint32_t p, uint64_t inc) {
  if (p >= EVE_PROC_COUNT) return 0;
  if (d->attached && p == d->proc_index) return inc == d->incarnation;
  int alive = atomic_load(&proc_at(d, p)->incarnation) == inc &&
              ofd_locked(d->probe_fd, live_page(d) + p);
  if (!alive) atomic_fetch_or(&d->hdr->flags, EVE_HF_CRASH_SEEN);
  return alive;
}

int epoch_exclusive_begin(eve_domain *d) {
  int rc = epoch_attach(d);
  if (rc) return rc;
  if (ofd_lock(d->lock_fd, F_WRLCK, live_page(d) + EVE_ATTACH_BYTE) == 0) return 0;
  return EVE_EBUSY;
}

void epoch_exclusive_end(eve_domain *d) {
  ofd_lock(d->lock_fd, F_RDLCK, live_page(d) + EVE_ATTACH_BYTE);
}

/* ---- pins ------------------------------------------------------------------- */

typedef unsigned __int128 u128;

static int cas_owner(eve_slot *s, uint64_t proc, uint64_t inc, uint64_t nproc, uint64_t ninc) {
  return __sync_bool_compare_and_swap((u128 *)&s->owner_proc,
                                      (u128)proc | ((u128)inc << 64),
                                      (u128)nproc | ((u128)ninc << 64));
}

static __thread uint32_t tls_slot_hint;
static __thread uint64_t tls_tid;
static __thread unsigned tls_tid_fork_gen;

/* This thread's id, for eve stats (cached: gettid is a system call). */
static uint64_t my_tid(void) {
  if (!tls_tid || tls_tid_fork_gen != region_fork_gen()) {
    tls_tid = (uint64_t)syscall(SYS_gettid);
    tls_tid_fork_gen = region_fork_gen();
  }
  return tls_tid;
}

static int claim_slot(eve_domain *d, uint32_t *out) {
  uint64_t me = d->proc_index + 1ull;
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t k = 0; k < EVE_SLOT_COUNT; k++) {
      uint32_t i = (tls_slot_hint + k) % EVE_SLOT_COUNT;
      eve_slot *s = slot_at(d, i);
      uint64_t inc = atomic_load_explicit(&s->owner_inc, memory_order_acquire);
      uint64_t proc = atomic_load_explicit(&s->owner_proc, memory_order_acquire);
      /* first pass: free slots; second: slots whose owner died (a probe) */
      if (proc != 0 && (pass == 0 || epoch_proc_alive(d, (uint32_t)(proc - 1), inc))) continue;
      if (!cas_owner(s, proc, inc, me, d->incarnation)) continue;
      atomic_store_explicit(&s->pid, d->pid, memory_order_relaxed);
      atomic_store_explicit(&s->tid, my_tid(), memory_order_relaxed);
      tls_slot_hint = i;
      *out = i;
      return 0;
    }
  return EVE_ESLOTS;
}

int epoch_pin(eve_domain *d, uint32_t *slot) {
  int rc = epoch_attach(d);
  if (rc) return rc;
  if ((rc = claim_slot(d, slot)) != 0) return rc;
  eve_slot *s = slot_at(d, *slot);
  atomic_store_explicit(&s->pin_ns, now_ns(), memory_order_relaxed);
  /* announce, then re-check: seq_cst store and load order the announcement
   * before every read of the data it protects (see the argument above) */
  uint64_t e = atomic_load(&d->hdr->epoch);
  if (e == 0) { /* 0 means "not pinned": a damaged header cannot make us invisible */
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&d->hdr->epoch, &zero, 1);
    e = atomic_load(&d->hdr->epoch);
  }
  for (;;) {
    atomic_store(&s->epoch, e);
    uint64_t again = atomic_load(&d->hdr->epoch);
    if (again == e) return 0;
    e = again;
  }
}

static void reclaim_pass(eve_domain *d, retire_buf *rb);

/* The end of a transaction is when to reclaim: a commit retires blocks
 * while its own transaction still pins the epoch they were retired in, so
 * a pass inside it could free none of them, and would move them all to the
 * shared batches.  Here, unless the thread has another transaction open,
 * nothing of its own holds them back. */
void epoch_unpin(eve_domain *d, uint32_t slot) {
  eve_slot *s = slot_at(d, slot);
  atomic_store_explicit(&s->epoch, 0, memory_order_release);
  atomic_store_explicit(&s->owner_proc, 0, memory_order_release);
  retire_buf *rb = alloc_retire_buf_peek(d);
  if (rb && rb->n >= RECLAIM_EVERY) reclaim_pass(d, rb);
}

uint64_t epoch_tag(eve_domain *d) { return atomic_load(&d->hdr->epoch); }

/* ---- reclamation --------------------------------------------------------------- */

/* The smallest epoch shown by a live pinned slot, or UINT64_MAX.  Slots at
 * or above `below` cannot hold anything back, so they are not probed. */
static uint64_t oldest_live_pin(eve_domain *d, uint64_t below) {
  uint64_t min = UINT64_MAX;
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++) {
    eve_slot *s = slot_at(d, i);
    uint64_t e = atomic_load(&s->epoch);
    if (e == 0 || e >= min || e > below) continue;
    uint64_t inc = atomic_load(&s->owner_inc), proc = atomic_load(&s->owner_proc);
    if (proc == 0) continue; /* released since we read the epoch */
    if (!epoch_proc_alive(d, (uint32_t)(proc - 1), inc)) continue; /* dead: ignore */
    min = e;
  }
  return min;
}

static void free_entry(eve_domain *d, const retire_entry *r) {
  if (r->off & 1) atom_cell_release(d, r->off & ~1ull);
  else alloc_free_retired(d, r->off, r->gen);
}

/* Free the entries of rb whose tag is below every live pin. */
static void reclaim_buf(retire_buf *rb, void *ctx) {
  eve_domain *d = ctx;
  if (!rb->n) return;
  uint64_t max_tag = 0;
  for (size_t i = 0; i < rb->n; i++)
    if (rb->e[i].tag > max_tag) max_tag = rb->e[i].tag;
  uint64_t oldest = oldest_live_pin(d, max_tag);
  size_t keep = 0;
  for (size_t i = 0; i < rb->n; i++) {
    if (rb->e[i].tag < oldest) free_entry(d, &rb->e[i]);
    else rb->e[keep++] = rb->e[i];
  }
  rb->n = keep;
}

/* ---- shared retire batches ------------------------------------------------
 * A thread keeps its retirements in a private buffer, which is cheap; when
 * a transaction ends with RECLAIM_EVERY retirements waiting (or inside a
 * long one, at RECLAIM_IN_TXN) it frees what the grace period allows and moves
 * the rest into batch blocks on a shared Treiber list (128-bit {offset, tag}
 * head, as for free lists).  A reclaimer takes the whole list with one CAS,
 * so no two processes ever free the same batch; it frees the batches whose
 * tags every live pin has passed and pushes the others back.  A process that
 * dies holding the list loses it until the collector runs (it is then
 * unreachable garbage like any other), and its private buffer likewise; a
 * process that exits cleanly leaves its waiting blocks here for others. */

typedef unsigned __int128 u128;

static int batches_cas(eve_domain *d, uint64_t off, uint64_t tag, uint64_t noff, uint64_t ntag) {
  return __sync_bool_compare_and_swap((u128 *)&d->hdr->batches, (u128)off | ((u128)tag << 64),
                                      (u128)noff | ((u128)ntag << 64));
}

/* A batch block read from the list, or NULL if the offset is damaged. */
static retire_batch *batch_at(eve_domain *d, uint64_t off) {
  if (off % BLK_ALIGN || !region_contains(d, off, sizeof(retire_batch))) return NULL;
  retire_batch *b = region_ptr(d, off);
  if (b->h.magic != BLK_MAGIC || b->h.type != T_BATCH || b->n > BATCH_ENTRIES) return NULL;
  return b;
}

static void push_batches(eve_domain *d, uint64_t first, uint64_t last) {
  uint64_t off, tag;
  do {
    tag = __atomic_load_n(&d->hdr->batches.tag, __ATOMIC_ACQUIRE);
    off = __atomic_load_n(&d->hdr->batches.off, __ATOMIC_ACQUIRE);
    atomic_store(&((retire_batch *)region_ptr(d, last))->next, off);
  } while (!batches_cas(d, off, tag, first, tag + 1));
}

static uint64_t take_all_batches(eve_domain *d) {
  uint64_t off, tag;
  do {
    tag = __atomic_load_n(&d->hdr->batches.tag, __ATOMIC_ACQUIRE);
    off = __atomic_load_n(&d->hdr->batches.off, __ATOMIC_ACQUIRE);
    if (!off) return 0;
  } while (!batches_cas(d, off, tag, 0, tag + 1));
  return off;
}

/* Move every entry of rb into batches on the shared list (what cannot be
 * moved for want of space stays in rb). */
static void flush_to_batches(eve_domain *d, retire_buf *rb) {
  while (rb->n) {
    uint64_t off;
    if (alloc_block(d, sizeof(retire_batch), T_BATCH, &off) != 0) return;
    retire_batch *b = region_ptr(d, off);
    size_t k = rb->n < BATCH_ENTRIES ? rb->n : BATCH_ENTRIES;
    b->max_tag = 0;
    for (size_t i = 0; i < k; i++) {
      const retire_entry *r = &rb->e[rb->n - 1 - i];
      b->e[i].off = r->off;
      b->e[i].gen = r->gen;
      if (r->tag > b->max_tag) b->max_tag = r->tag;
    }
    b->n = k;
    rb->n -= k;
    push_batches(d, off, off);
  }
}

/* Free the shared batches that every live pin has passed. */
static void reclaim_batches(eve_domain *d) {
  uint64_t oldest = oldest_live_pin(d, UINT64_MAX);
  /* a long reader holds everything back: while the oldest pin has not
   * moved since a pass that freed nothing, another pass would free nothing
   * either (walking a list that only grows) */
  if (oldest != UINT64_MAX && oldest == atomic_load(&d->batches_blocked_at)) return;
  uint64_t list = take_all_batches(d);
  if (!list) return;
  uint64_t keep_first = 0, keep_last = 0, freed = 0;
  for (uint64_t steps = 0; list && steps < (1u << 26); steps++) {
    retire_batch *b = batch_at(d, list);
    if (!b) break; /* damaged: drop the rest (a leak the collector returns) */
    uint64_t next = atomic_load(&b->next);
    if (b->max_tag < oldest) {
      for (uint64_t i = 0; i < b->n; i++)
        free_entry(d, &(retire_entry){b->e[i].off, b->e[i].gen, 0});
      alloc_free(d, list);
      freed++;
    } else {
      atomic_store(&b->next, keep_first);
      if (!keep_first) keep_last = list;
      keep_first = list;
    }
    list = next;
  }
  if (keep_first) push_batches(d, keep_first, keep_last);
  atomic_store(&d->batches_blocked_at, freed ? 0 : oldest);
}

void epoch_for_each_batched(eve_domain *d, void (*fn)(void *ctx, uint64_t off, int is_batch),
                            void *ctx) {
  uint64_t list = __atomic_load_n(&d->hdr->batches.off, __ATOMIC_ACQUIRE);
  for (uint64_t steps = 0; list && steps < (1u << 26); steps++) {
    retire_batch *b = batch_at(d, list);
    if (!b) return;
    fn(ctx, list, 1);
    for (uint64_t i = 0; i < b->n; i++) fn(ctx, b->e[i].off, 0);
    list = atomic_load(&b->next);
  }
}

static void count_waiting(retire_buf *rb, void *ctx) { *(uint64_t *)ctx += rb->n; }

uint64_t epoch_reclaim(eve_domain *d) {
  /* move the epoch on first, so that later pins show more than our tags */
  atomic_fetch_add(&d->hdr->epoch, 1);
  alloc_for_each_retire_buf(d, 0, reclaim_buf, d);
  reclaim_batches(d);
  uint64_t waiting = 0;
  alloc_for_each_retire_buf(d, 0, count_waiting, &waiting);
  return waiting;
}

/* Advance the epoch, free what the grace period allows, move what still
 * waits (a long reader somewhere) to the shared batches, and free the
 * batches whose grace period has passed. */
static void reclaim_pass(eve_domain *d, retire_buf *rb) {
  atomic_fetch_add(&d->hdr->epoch, 1);
  reclaim_buf(rb, d);
  if (rb->n >= RECLAIM_EVERY / 2) flush_to_batches(d, rb);
  reclaim_batches(d);
}

int epoch_retire(eve_domain *d, uint64_t off, uint64_t gen, uint64_t tag) {
  retire_buf *rb = alloc_retire_buf(d);
  if (!rb) return EVE_ENOMEM;
  if (rb->n == rb->cap) {
    size_t cap = rb->cap ? rb->cap * 2 : 256;
    retire_entry *e = realloc(rb->e, cap * sizeof *e);
    if (!e) return EVE_ENOMEM; /* the block leaks; recovery returns it */
    rb->e = e;
    rb->cap = cap;
  }
  rb->e[rb->n++] = (retire_entry){off, gen, tag};
  if (rb->n >= RECLAIM_IN_TXN) reclaim_pass(d, rb);
  return 0;
}

static void flush_buf(retire_buf *rb, void *ctx) { flush_to_batches(ctx, rb); }

static void drop_waiting(retire_buf *rb, void *ctx) {
  eve_domain *d = ctx;
  if (rb->n) { /* no space even for a batch: counted, the collector returns them */
    atomic_fetch_add(&d->hdr->skipped_retires, rb->n);
    atomic_fetch_or(&d->hdr->flags, EVE_HF_SKIPPED);
  }
  rb->n = 0;
}

/* Let go of the liveness and attach locks (the kernel drops them with our
 * last reference to the descriptor). */
static void release_attachment(eve_domain *d) {
  close(d->lock_fd);
  close(d->probe_fd);
  d->lock_fd = d->probe_fd = -1;
  d->attached = 0;
}

void epoch_detach(eve_domain *d) {
  if (!d->attached || d->attach_fork_gen != region_fork_gen()) return;
  if (region_damage(d)) { /* the mapping is zeros now (fault.c): nothing to hand over */
    release_attachment(d);
    return;
  }
  atomic_fetch_add(&d->hdr->epoch, 1);
  alloc_for_each_retire_buf(d, 1, reclaim_buf, d);
  reclaim_batches(d);
  /* what still waits for other processes' readers goes to shared batches,
   * which they free; only what finds no space is dropped and counted */
  alloc_for_each_retire_buf(d, 1, flush_buf, d);
  alloc_for_each_retire_buf(d, 1, drop_waiting, d);
  /* the last process to detach repairs what crashes and drops left */
  check_recover_if_needed(d);
  atomic_store(&proc_at(d, d->proc_index)->incarnation, 0); /* a clean detach */
  release_attachment(d);
}

/* ---- statistics ------------------------------------------------------------------ */

void epoch_stats_get(eve_domain *d, epoch_stats *out) {
  memset(out, 0, sizeof *out);
  uint64_t now = now_ns(), oldest = UINT64_MAX;
  if (!d->read_only) epoch_attach(d);
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++) {
    eve_slot *s = slot_at(d, i);
    uint64_t e = atomic_load(&s->epoch), proc = atomic_load(&s->owner_proc);
    if (e == 0 || proc == 0) continue;
    if (d->attached && !epoch_proc_alive(d, (uint32_t)(proc - 1), atomic_load(&s->owner_inc)))
      continue;
    out->readers++;
    uint64_t at = atomic_load(&s->pin_ns);
    if (at < oldest) {
      oldest = at;
      out->oldest_pin_pid = (int64_t)atomic_load(&s->pid);
      out->oldest_pin_tid = (int64_t)atomic_load(&s->tid);
    }
  }
  if (oldest != UINT64_MAX && now > oldest) out->oldest_pin_ms = (now - oldest) / 1000000;
}
