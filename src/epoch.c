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
 * (docs/RECLAMATION.md, F4).
 *
 * A slot showing 0 is unpinned, so the global epoch starts at 1 and a pin
 * never announces 0 (a domain whose first pins announced 0 would free what
 * those readers were reading: found by the threaded stress test).
 *
 * Pins belong to transactions, not threads: each transaction claims its
 * own slot, so nesting and handing a transaction to another thread need no
 * counters (docs/RECLAMATION.md, R4 and F7).
 *
 * Liveness from the kernel
 * ------------------------
 * Each attached process holds an OFD write lock on its own byte of the
 * liveness page, through a descriptor it opened itself (O_CLOEXEC).  The
 * kernel drops the lock when the process dies, across pid namespaces too.
 * A slot whose owner's lock is gone is ignored by reclamation and may be
 * claimed again by CAS; nobody but its claimer ever writes it, so a
 * reclaimer cannot race a new claimer (docs/RECLAMATION.md, R5 and F5).
 * Probes use a second descriptor that holds no locks, because F_OFD_GETLK
 * through the locking descriptor reports our own locks as free (F5); we
 * never probe our own
 * process, and only probe slots that hold reclamation back.
 *
 * Fork: the child inherits the parent's descriptors.  Unlocking through
 * them would drop the parent's locks, so the child only closes them (the
 * parent's reference keeps the locks) and attaches again with descriptors
 * of its own, as a new process (docs/RECLAMATION.md, F6).
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

#include "cas128.h"
#include "cell.h"

#define RECLAIM_EVERY 64   /* retirements between reclamation passes ...   */
#define RECLAIM_IN_TXN 1024 /* ... or, inside one long transaction, these   */
/* ... or this many bytes retired, whatever their number.  Counting
 * retirements alone let 64 large values pile up before a pass (a 10 MB
 * string replaced 100 times: an 802 MB file for 12 MB live).  A pass costs
 * a scan of the slots, nothing next to writing a megabyte, so after one
 * per MiB the garbage a quiet domain holds stays under a MiB plus one
 * value.  Small nodes still reach RECLAIM_EVERY first. */
#define RECLAIM_BYTES (1u << 20)

static eve_slot *slot_at(eve_domain *d, uint32_t i) {
  return (eve_slot *)region_ptr(d, d->hdr->slots_off + (uint64_t)i * EVE_SLOT_BYTES);
}

eve_slot *epoch_slot(eve_domain *d, uint32_t i) { return slot_at(d, i); }

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
  /* first an entry left clean; then one a dead process left unrepaired (its
   * leftovers are abandoned to the collector: nobody else can repair it
   * once we hold its byte, and with every entry in use we would not attach) */
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t i = 0; i < EVE_PROC_COUNT; i++) {
      if (ofd_lock(d->lock_fd, F_WRLCK, live_page(d) + i) != 0) continue;
      eve_proc *p = proc_at(d, i);
      if (atomic_load(&p->incarnation) != 0) {
        if (pass == 0) { /* dead, not yet repaired: leave it to a repairer */
          ofd_lock(d->lock_fd, F_UNLCK, live_page(d) + i);
          continue;
        }
        atomic_fetch_or(&d->hdr->flags, EVE_HF_CRASH_SEEN);
        atomic_store(&p->logs, 0);
        atomic_store(&p->held, 0);
      }
      d->proc_index = i;
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
    /* an automatic recovery holds it: ask it to give way (it stops marking
     * and lets go; an explicit eve_gc does not) */
    if (i == 0) atomic_fetch_or(&d->hdr->flags, EVE_HF_ATTACH_WANTED);
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
  int fresh = !d->attached;
  int rc = fresh ? attach_locked(d) : 0;
  pthread_mutex_unlock(&d->attach_lock);
  /* a process killed while alone leaves its work to the next to attach */
  if (!rc && fresh) epoch_repair_dead(d, 1);
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

/* The owner pair {owner_proc, owner_inc}: the first 16 bytes of the slot,
 * which is cache-line aligned. */
static int cas_owner(eve_slot *s, uint64_t proc, uint64_t inc, uint64_t nproc, uint64_t ninc) {
  return cas128(&s->owner_proc, proc, inc, nproc, ninc);
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
  /* first pass: free slots; second: slots whose owner died (a probe) are
   * repaired, which frees them (or, a dead earlier holder of our own process
   * index, whose leftovers nobody can repair, taken as they are); third:
   * free slots again */
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t k = 0; k < EVE_SLOT_COUNT; k++) {
      uint32_t i = (tls_slot_hint + k) % EVE_SLOT_COUNT;
      eve_slot *s = slot_at(d, i);
      uint64_t inc = atomic_load_explicit(&s->owner_inc, memory_order_acquire);
      uint64_t proc = atomic_load_explicit(&s->owner_proc, memory_order_acquire);
      if (proc != 0) {
        if (pass != 1 || epoch_proc_alive(d, (uint32_t)(proc - 1), inc)) continue;
        /* dead: while its process entry still names it, its journal may
         * hold a commit in flight, and repairing the process frees it */
        if (proc != me && proc <= EVE_PROC_COUNT &&
            atomic_load(&proc_at(d, (uint32_t)(proc - 1))->incarnation) == inc) {
          epoch_repair_dead(d, 1);
          continue;
        }
      }
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

uint64_t epoch_pinned(eve_domain *d, uint32_t slot) {
  return atomic_load(&slot_at(d, slot)->epoch);
}

/* Moving a pin forward only lets reclamation free more, so a plain store
 * does: a reclaimer that reads the old epoch is merely cautious.  pin_ns
 * first, so that statistics never pair the new epoch with an older age. */
void epoch_repin(eve_domain *d, uint32_t slot, uint64_t epoch, uint64_t pin_ns) {
  eve_slot *s = slot_at(d, slot);
  atomic_store_explicit(&s->pin_ns, pin_ns, memory_order_relaxed);
  atomic_store_explicit(&s->epoch, epoch, memory_order_release);
}

uint64_t epoch_now_ns(void) { return now_ns(); }

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
  if (rb && (rb->n >= RECLAIM_EVERY || rb->bytes_since_pass >= RECLAIM_BYTES))
    reclaim_pass(d, rb);
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
  if (r->off & 1) cell_release(d, r->off & ~1ull, r->gen);
  else alloc_free_retired(d, r->off, r->gen);
}

/* ---- retire logs -----------------------------------------------------------
 * A thread's retirements wait in a log block in the domain rather than in
 * private memory, and the process lists its logs in its liveness entry
 * (eve_proc.logs).  When a process dies, whoever repairs it moves what waits
 * there to the shared batches (epoch_repair_dead), so a kill loses no
 * retirement.  Only the owning process writes its logs, and its list only
 * under d->lock.  An entry is written before the count that covers it
 * (release), so a reader of a dead process's log sees whole entries.
 * Compaction rewrites entries below n before lowering n: a process killed
 * half-way leaves entries that still wait or stale copies of entries, and
 * stale copies are harmless because every free is idempotent (a free CASes
 * {generation, RETIRED}; a cell's release CASes its generation). */

#define LOG_FIRST_CAP 128

static retire_log *log_at(eve_domain *d, uint64_t off) { return region_ptr(d, off); }

/* A log offset read from the file, checked before it is followed. */
static retire_log *valid_log(eve_domain *d, uint64_t off) {
  if (!off || off % BLK_ALIGN || !region_contains(d, off, sizeof(retire_log))) return NULL;
  retire_log *l = log_at(d, off);
  if (l->h.magic != BLK_MAGIC || l->h.type != T_LOG || l->h.cls >= EVE_NCLASSES) return NULL;
  uint64_t cap = l->cap, n = atomic_load_explicit(&l->n, memory_order_acquire);
  if (n > cap || sizeof(retire_log) + cap * sizeof(retire_entry) > alloc_class_size(l->h.cls) ||
      !region_contains(d, off, alloc_class_size(l->h.cls)))
    return NULL;
  return l;
}

static void log_sync(eve_domain *d, retire_buf *rb) {
  if (rb->log) atomic_store_explicit(&log_at(d, rb->log)->n, rb->n, memory_order_release);
}

static _Atomic uint64_t *logs_head(eve_domain *d, uint32_t p) { return &proc_at(d, p)->logs; }

/* Take log `off` out of the list that starts at *head (d->lock held). */
static void unlist_log(eve_domain *d, _Atomic uint64_t *head, uint64_t off) {
  _Atomic uint64_t *link = head;
  for (unsigned steps = 0; steps < (1u << 20); steps++) {
    uint64_t cur = atomic_load(link);
    if (!cur) return;
    if (cur == off) {
      atomic_store(link, atomic_load(&log_at(d, off)->next));
      return;
    }
    link = &log_at(d, cur)->next;
  }
}

/* Move rb's entries to a new log of `cap` entries: listed before the old
 * log is unlisted and freed (in between, the entries are in both: a process
 * killed there leaves duplicates, not losses). */
static int log_move(eve_domain *d, retire_buf *rb, uint64_t cap) {
  uint64_t off;
  int rc = alloc_block(d, sizeof(retire_log) + cap * sizeof(retire_entry), T_LOG, &off);
  if (rc) return rc;
  retire_log *l = log_at(d, off);
  l->cap = cap;
  if (rb->n) memcpy(l->e, rb->e, rb->n * sizeof *rb->e);
  atomic_store_explicit(&l->n, rb->n, memory_order_release);
  uint64_t old = rb->log;
  pthread_mutex_lock(&d->lock);
  _Atomic uint64_t *head = logs_head(d, d->proc_index);
  atomic_store(&l->next, atomic_load(head));
  atomic_store(head, off);
  if (old) unlist_log(d, head, old);
  pthread_mutex_unlock(&d->lock);
  rb->log = off;
  rb->e = l->e;
  rb->cap = cap;
  if (old) alloc_free(d, old);
  return 0;
}

/* Room for one more entry: a log twice the size. */
static int log_reserve(eve_domain *d, retire_buf *rb) {
  if (rb->n < rb->cap) return 0;
  return log_move(d, rb, rb->cap ? rb->cap * 2 : LOG_FIRST_CAP);
}

/* After a pass: a log that one burst grew and that now holds little goes
 * back to a small one, so a thread keeps in the file only what it uses. */
static void log_shrink(eve_domain *d, retire_buf *rb) {
  if (rb->cap <= LOG_FIRST_CAP * 8 || rb->n > rb->cap / 8) return;
  uint64_t cap = LOG_FIRST_CAP;
  while (cap < rb->n * 2) cap *= 2;
  log_move(d, rb, cap); /* no memory: keep the big one */
}

static int log_append(eve_domain *d, retire_buf *rb, retire_entry e) {
  int rc = log_reserve(d, rb);
  if (rc) return rc;
  rb->e[rb->n++] = e;
  log_sync(d, rb);
  return 0;
}

/* At a clean detach, once the logs are empty: unlist and free them. */
static void free_log(retire_buf *rb, void *ctx) {
  eve_domain *d = ctx;
  if (rb->log) alloc_free(d, rb->log);
  *rb = (retire_buf){0};
}

/* Exclusive (the collector): every other process entry belongs to a dead
 * process, whose leftovers the sweep returns: its entry is cleared and its
 * slots released.  Our own logs and every slot's journal stay (the checker
 * counts them as in use), emptied by alloc_reset and the commits. */
void epoch_forget_dead(eve_domain *d) {
  for (uint32_t p = 0; p < EVE_PROC_COUNT; p++) {
    if (d->attached && p == d->proc_index) continue;
    eve_proc *pr = proc_at(d, p);
    atomic_store(&pr->logs, 0);
    atomic_store(&pr->held, 0);
    atomic_store(&pr->incarnation, 0);
  }
  uint64_t me = d->attached ? d->proc_index + 1ull : 0;
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++) {
    eve_slot *s = slot_at(d, i);
    if (atomic_load(&s->owner_proc) == me && atomic_load(&s->owner_inc) == d->incarnation) continue;
    atomic_store(&s->epoch, 0);
    atomic_store(&s->owner_proc, 0);
  }
}

void epoch_for_each_logged(eve_domain *d,
                           void (*fn)(void *ctx, const retire_entry *e, uint64_t log_off),
                           void *ctx) {
  for (uint32_t p = 0; p < EVE_PROC_COUNT; p++) {
    if (!atomic_load(&proc_at(d, p)->incarnation)) continue;
    uint64_t off = atomic_load(logs_head(d, p));
    for (unsigned steps = 0; off && steps < (1u << 16); steps++) {
      retire_log *l = valid_log(d, off);
      if (!l) break; /* relocated under us, or damage */
      fn(ctx, NULL, off);
      uint64_t n = atomic_load_explicit(&l->n, memory_order_acquire);
      for (uint64_t i = 0; i < n && i < l->cap; i++) fn(ctx, &l->e[i], off);
      off = atomic_load(&l->next);
    }
  }
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
  log_sync(d, rb);
}

/* ---- shared retire batches ------------------------------------------------
 * A thread keeps its retirements in a private buffer, which is cheap; when
 * a transaction ends with RECLAIM_EVERY retirements or RECLAIM_BYTES bytes
 * retired since the last pass (or inside a long one, at RECLAIM_IN_TXN
 * retirements) it frees what the grace period allows and moves
 * the rest into batch blocks on a shared Treiber list (128-bit {offset, tag}
 * head, as for free lists).  A reclaimer takes the whole list with one CAS,
 * so no two processes ever free the same batch; it frees the batches whose
 * tags every live pin has passed and pushes the others back.  A process that
 * dies holding the list loses it until the collector runs (it is then
 * unreachable garbage like any other), and its private buffer likewise; a
 * process that exits cleanly leaves its waiting blocks here for others. */

static int batches_cas(eve_domain *d, uint64_t off, uint64_t tag, uint64_t noff, uint64_t ntag) {
  return cas128(&d->hdr->batches, off, tag, noff, ntag);
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

/* Batches taken off the shared list are in this process's custody until
 * they are freed or pushed back: the list still to be walked is noted in
 * the process's liveness entry (eve_proc.held), so that if the process dies
 * the repairer pushes it back instead of losing it.  Custody is noted after
 * the take and cleared before the push (a process killed in between loses
 * the batches, a leak, but no batch is ever on two lists). */
static _Atomic uint64_t *held_word(eve_domain *d) { return &proc_at(d, d->proc_index)->held; }

static uint64_t take_all_batches(eve_domain *d) {
  uint64_t off, tag;
  do {
    tag = __atomic_load_n(&d->hdr->batches.tag, __ATOMIC_ACQUIRE);
    off = __atomic_load_n(&d->hdr->batches.off, __ATOMIC_ACQUIRE);
    if (!off) return 0;
  } while (!batches_cas(d, off, tag, 0, tag + 1));
  if (d->attached) atomic_store(held_word(d), off);
  return off;
}

static void custody_moves_to(eve_domain *d, uint64_t rest) {
  if (d->attached) atomic_store(held_word(d), rest);
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
    push_batches(d, off, off);
    rb->n -= k; /* after the push: a kill in between duplicates, never loses */
    log_sync(d, rb);
  }
}

/* Free the shared batches that every live pin has passed. */
static void reclaim_batches(eve_domain *d) {
  uint64_t oldest = oldest_live_pin(d, UINT64_MAX);
  /* a long reader holds everything back: while the oldest pin has not
   * moved since a pass that freed nothing, another pass would free nothing
   * either (walking a list that only grows) */
  if (oldest != UINT64_MAX && oldest == atomic_load(&d->batches_blocked_at)) return;
  uint64_t first = take_all_batches(d);
  if (!first) return;
  /* Freed batches are spliced out of the taken chain in place, so the chain
   * in custody is always the kept ones followed by the rest still to see. */
  uint64_t prev = 0, last = 0, freed = 0, cur = first;
  for (uint64_t steps = 0; cur && steps < (1u << 26); steps++) {
    retire_batch *b = batch_at(d, cur);
    if (!b) { /* damaged: drop the rest (a leak the collector returns) */
      if (prev) atomic_store(&batch_at(d, prev)->next, 0);
      else first = 0;
      break;
    }
    uint64_t next = atomic_load(&b->next);
    if (b->max_tag < oldest) {
      for (uint64_t i = 0; i < b->n; i++)
        free_entry(d, &(retire_entry){b->e[i].off, b->e[i].gen, 0});
      if (prev) atomic_store(&batch_at(d, prev)->next, next);
      else custody_moves_to(d, first = next);
      alloc_free(d, cur);
      freed++;
    } else {
      prev = last = cur;
    }
    cur = next;
  }
  custody_moves_to(d, 0);
  if (first && last) push_batches(d, first, last);
  atomic_store(&d->batches_blocked_at, freed ? 0 : oldest);
}

/* The batches are taken off the shared list for the walk and pushed back
 * after it: a batch on the list may be freed by any reclaimer at any moment,
 * so walking it in place would read freed (and reused) blocks.  Meanwhile
 * reclaimers find fewer batches, which only delays them. */
void epoch_for_each_batched(eve_domain *d,
                            void (*fn)(void *ctx, uint64_t off, uint64_t gen, int is_batch),
                            void *ctx) {
  /* a read-only mapping cannot take the list: walk it in place (the walk is
   * bounded and every batch checked, so a race costs accuracy, not safety) */
  uint64_t first = d->read_only ? __atomic_load_n(&d->hdr->batches.off, __ATOMIC_ACQUIRE)
                                : take_all_batches(d);
  uint64_t list = first, last = 0;
  for (uint64_t steps = 0; list && steps < (1u << 26); steps++) {
    retire_batch *b = batch_at(d, list);
    if (!b) break; /* damaged: the rest is dropped (a leak the collector returns) */
    fn(ctx, list, 0, 1);
    for (uint64_t i = 0; i < b->n && i < BATCH_ENTRIES; i++) fn(ctx, b->e[i].off, b->e[i].gen, 0);
    last = list;
    list = atomic_load(&b->next);
  }
  if (d->read_only) return;
  custody_moves_to(d, 0);
  if (last) push_batches(d, first, last);
}

static void count_waiting(retire_buf *rb, void *ctx) { *(uint64_t *)ctx += rb->n; }

uint64_t epoch_reclaim(eve_domain *d) {
  epoch_repair_dead(d, 1);
  /* move the epoch on first, so that later pins show more than our tags */
  atomic_fetch_add(&d->hdr->epoch, 1);
  alloc_for_each_retire_buf(d, 0, reclaim_buf, d);
  retire_buf *mine = alloc_retire_buf_peek(d);
  if (mine) log_shrink(d, mine); /* outside d->lock: a move takes it */
  reclaim_batches(d);
  uint64_t waiting = 0;
  alloc_for_each_retire_buf(d, 0, count_waiting, &waiting);
  return waiting;
}

/* Advance the epoch, free what the grace period allows, move what still
 * waits (a long reader somewhere) to the shared batches, and free the
 * batches whose grace period has passed. */
static void reclaim_pass(eve_domain *d, retire_buf *rb) {
  /* since-the-last-pass, not still-waiting: bytes a long reader holds back
   * must not make every later transaction end with a pass */
  rb->bytes_since_pass = 0;
  epoch_repair_dead(d, 0); /* rate-limited */
  atomic_fetch_add(&d->hdr->epoch, 1);
  reclaim_buf(rb, d);
  if (rb->n >= RECLAIM_EVERY / 2) flush_to_batches(d, rb);
  log_shrink(d, rb);
  reclaim_batches(d);
}

/* The bytes a retirement gives back when freed: the block's capacity (the
 * block is valid until then), or an atom cell's. */
static uint64_t retired_capacity(eve_domain *d, uint64_t off) {
  if (off & 1) return sizeof(atom_cell);
  if (!region_contains(d, off, sizeof(blk))) return 0; /* damage: freeing will refuse it */
  return alloc_class_size(((const blk *)region_ptr(d, off))->cls);
}

int epoch_retire(eve_domain *d, uint64_t off, uint64_t gen, uint64_t tag) {
  retire_buf *rb = alloc_retire_buf(d);
  if (!rb) return EVE_ENOMEM;
  int rc = log_append(d, rb, (retire_entry){off, gen, tag});
  if (rc) return rc; /* the block leaks; recovery returns it */
  rb->bytes_since_pass += retired_capacity(d, off);
  if (rb->n >= RECLAIM_IN_TXN) reclaim_pass(d, rb);
  return 0;
}

/* Pending entries never run a pass: a pass compacts the log, and the
 * committer finds its pending entries by index. */
int epoch_retire_pending(eve_domain *d, uint64_t off, uint64_t gen, uint64_t pending,
                         size_t *start) {
  retire_buf *rb = alloc_retire_buf(d);
  if (!rb) return EVE_ENOMEM;
  size_t at = rb->n;
  int rc = log_append(d, rb, (retire_entry){off, gen, pending});
  if (rc) return rc;
  if (*start == SIZE_MAX) *start = at;
  return 0;
}

void epoch_pending_publish(eve_domain *d, size_t start, uint64_t tag) {
  retire_buf *rb = alloc_retire_buf_peek(d);
  if (!rb || start == SIZE_MAX) return;
  for (size_t i = start; i < rb->n; i++) {
    if (!(rb->e[i].tag & TAG_PENDING_BIT)) continue;
    rb->e[i].tag = tag;
    rb->bytes_since_pass += retired_capacity(d, rb->e[i].off);
  }
}

void epoch_pending_drop(eve_domain *d, size_t start) {
  retire_buf *rb = alloc_retire_buf_peek(d);
  if (!rb || start == SIZE_MAX || start > rb->n) return;
  rb->n = start;
  log_sync(d, rb);
}

static void flush_buf(retire_buf *rb, void *ctx) { flush_to_batches(ctx, rb); }

static void drop_waiting(retire_buf *rb, void *ctx) {
  eve_domain *d = ctx;
  if (rb->n) { /* no space even for a batch: counted, the collector returns them */
    atomic_fetch_add(&d->hdr->skipped_retires, rb->n);
    atomic_fetch_or(&d->hdr->flags, EVE_HF_SKIPPED);
  }
  rb->n = 0;
  log_sync(d, rb);
}

/* Let go of the liveness and attach locks (the kernel drops them with our
 * last reference to the descriptor). */
static void release_attachment(eve_domain *d) {
  close(d->lock_fd);
  close(d->probe_fd);
  d->lock_fd = d->probe_fd = -1;
  d->attached = 0;
}

void epoch_detach(eve_domain *d, void (*before_release)(eve_domain *d)) {
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
  atomic_store(logs_head(d, d->proc_index), 0); /* empty now: unlist, then free */
  alloc_for_each_retire_buf(d, 1, free_log, d);
  /* the last process to detach repairs what crashes and drops left */
  if (before_release) before_release(d);
  atomic_store(&proc_at(d, d->proc_index)->incarnation, 0); /* a clean detach */
  release_attachment(d);
}

/* ---- repairing dead processes -----------------------------------------------
 * A process killed while attached leaves work half-done: a commit in flight
 * (owners raised on blocks before its root CAS, blocks doomed, owners still
 * to take after it), retirements waiting in its logs, batches it had taken
 * off the shared list.  Any attached process finishes that work, without
 * stopping anyone: it takes the dead process's liveness byte (the same OFD
 * lock an attaching process takes, so the repairer owns the entry while it
 * works, and a new process cannot attach there meanwhile), then
 *   1. settles each commit the dead process had in flight from the slot's
 *      journal (commit.c, "journals"): published, it takes the owners the
 *      commit still had to take; not published, it gives back the owners the
 *      commit had raised; undecidable, it leaves both (a leak, never an
 *      early free);
 *   2. moves every entry of its logs to the shared batches, giving pending
 *      entries of a published commit a tag read now (after that commit's
 *      root CAS) and dropping those of commits that did not publish (their
 *      blocks live on);
 *   3. pushes back the batches it held;
 *   4. frees its logs, releases its slots and marks the entry clean.
 * Each step only ever duplicates work (harmless: frees are idempotent) or
 * drops it (a leak) if the repairer dies in turn; the next repairer starts
 * over from what is left.  What stays lost is what the dead process held in
 * private memory: its allocator caches and chunk, and the fresh blocks of
 * its transactions, a bounded leak the collector returns. */

#define REPAIR_EVERY_NS (200ull * 1000000ull)

static _Atomic(epoch_journal_repair_fn) g_journal_repair;

void epoch_set_journal_repair(epoch_journal_repair_fn fn) { atomic_store(&g_journal_repair, fn); }

static int repair_journal(eve_domain *d, uint64_t journal, uint64_t *seq) {
  epoch_journal_repair_fn fn = atomic_load(&g_journal_repair);
  if (fn) return fn(d, journal, seq);
  *seq = 0;
  return COMMIT_UNKNOWN;
}

typedef struct repair_ctx {
  eve_domain *d;
  uint64_t seq[EVE_SLOT_COUNT];    /* each slot's journal sequence ...     */
  int outcome[EVE_SLOT_COUNT];     /* ... and what became of its commit    */
  uint64_t tag;                    /* for pending entries of published ones */
  uint64_t batch;                  /* the batch being filled, 0 if none     */
} repair_ctx;

static void repair_flush_batch(repair_ctx *r) {
  if (!r->batch) return;
  push_batches(r->d, r->batch, r->batch);
  r->batch = 0;
}

/* One waiting entry into a batch of the shared list (what finds no memory
 * for a batch is left: a leak, counted). */
static void repair_keep_entry(repair_ctx *r, const retire_entry *e) {
  if (!r->batch) {
    if (alloc_block(r->d, sizeof(retire_batch), T_BATCH, &r->batch) != 0) {
      r->batch = 0;
      atomic_fetch_add(&r->d->hdr->skipped_retires, 1);
      atomic_fetch_or(&r->d->hdr->flags, EVE_HF_SKIPPED);
      return;
    }
    retire_batch *fresh = region_ptr(r->d, r->batch); /* bodies are not zeroed */
    fresh->n = 0;
    fresh->max_tag = 0;
  }
  retire_batch *b = region_ptr(r->d, r->batch);
  b->e[b->n].off = e->off;
  b->e[b->n].gen = e->gen;
  if (e->tag > b->max_tag) b->max_tag = e->tag;
  if (++b->n == BATCH_ENTRIES) repair_flush_batch(r);
}

static void repair_logs(repair_ctx *r, uint64_t first) {
  eve_domain *d = r->d;
  for (uint64_t off = first, steps = 0; off && steps < (1u << 16); steps++) {
    retire_log *l = valid_log(d, off);
    if (!l) break; /* damage: what it held leaks (the collector returns it) */
    uint64_t n = atomic_load(&l->n);
    for (uint64_t i = 0; i < n; i++) {
      retire_entry *e = &l->e[i];
      if (e->tag & TAG_PENDING_BIT) {
        uint64_t slot = (e->tag >> 40) & 0x7FFFFF, seq = e->tag & ((1ull << 40) - 1);
        if (slot >= EVE_SLOT_COUNT || r->outcome[slot] != COMMIT_PUBLISHED ||
            (r->seq[slot] & ((1ull << 40) - 1)) != seq)
          continue; /* its commit did not publish: the block lives on */
        e->tag = r->tag; /* in place, for a repairer that starts over */
      }
      repair_keep_entry(r, e);
    }
    off = atomic_load(&l->next);
  }
  repair_flush_batch(r);
}

static void repair_held(eve_domain *d, _Atomic uint64_t *held) {
  uint64_t first = atomic_load(held), last = 0;
  for (uint64_t cur = first, steps = 0; cur && steps < (1u << 26); steps++) {
    retire_batch *b = batch_at(d, cur);
    if (!b) break;
    last = cur;
    cur = atomic_load(&b->next);
  }
  atomic_store(held, 0); /* cleared before the push: never on two lists */
  if (last) push_batches(d, first, last); /* (a damaged tail is cut off) */
}

static void repair_free_logs(eve_domain *d, uint64_t first) {
  for (uint64_t off = first, steps = 0; off && steps < (1u << 16); steps++) {
    retire_log *l = valid_log(d, off);
    if (!l) break;
    uint64_t next = atomic_load(&l->next);
    alloc_free(d, off);
    off = next;
  }
}

/* Finish the work of process p (incarnation inc), dead; we hold its byte. */
static void repair_process(eve_domain *d, uint32_t p, uint64_t inc) {
  eve_proc *pr = proc_at(d, p);
  repair_ctx r = {.d = d};
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++) {
    eve_slot *s = slot_at(d, i);
    r.outcome[i] = COMMIT_NONE;
    if (atomic_load(&s->owner_proc) == p + 1ull && atomic_load(&s->owner_inc) == inc)
      r.outcome[i] = repair_journal(d, atomic_load(&s->journal), &r.seq[i]);
  }
  r.tag = epoch_tag(d); /* after every published commit's root CAS */
  uint64_t logs = atomic_load(&pr->logs);
  repair_logs(&r, logs);
  repair_held(d, &pr->held);
  atomic_store(&pr->logs, 0);
  repair_free_logs(d, logs);
  for (uint32_t i = 0; i < EVE_SLOT_COUNT; i++) {
    eve_slot *s = slot_at(d, i);
    if (atomic_load(&s->owner_proc) != p + 1ull || atomic_load(&s->owner_inc) != inc) continue;
    atomic_store(&s->epoch, 0);
    cas_owner(s, p + 1ull, inc, 0, 0);
  }
  /* what it held in private memory (caches, chunk, fresh blocks) is for
   * the collector: say so, for the last process to detach */
  atomic_fetch_or(&d->hdr->flags, EVE_HF_CRASH_SEEN);
  atomic_store(&pr->incarnation, 0); /* clean: nothing else of it is left to do */
}

void epoch_repair_dead(eve_domain *d, int force) {
  if (d->read_only || !d->attached || d->attach_fork_gen != region_fork_gen()) return;
  uint64_t now = now_ns();
  if (!force && now < atomic_load_explicit(&d->next_repair_ns, memory_order_relaxed)) return;
  atomic_store_explicit(&d->next_repair_ns, now + REPAIR_EVERY_NS, memory_order_relaxed);
  int idle = 0;
  /* one thread of ours at a time: our OFD lets us take a byte twice */
  if (!atomic_compare_exchange_strong(&d->repairing, &idle, 1)) return;
  for (uint32_t p = 0; p < EVE_PROC_COUNT; p++) {
    if (p == d->proc_index || !atomic_load(&proc_at(d, p)->incarnation)) continue;
    uint64_t at = live_page(d) + p;
    if (ofd_lock(d->lock_fd, F_WRLCK, at) != 0) continue; /* alive, or someone repairs it */
    uint64_t inc = atomic_load(&proc_at(d, p)->incarnation);
    if (inc) repair_process(d, p, inc);
    ofd_lock(d->lock_fd, F_UNLCK, at);
  }
  atomic_store(&d->repairing, 0);
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
