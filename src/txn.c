/* txn.c — transactions: fresh-block tracking, checked block reads, the end.
 *
 * A transaction ends one way: it frees what it built and did not publish
 * --------------------------------------------------------------------------
 * Collection operations never free anything: a value built earlier in a
 * transaction may still be used by the code that built it (docs/RECLAMATION.md
 * F8).  So the blocks a transaction allocates are recorded ("fresh")
 * and decided once, when it ends: each commit that publishes a value
 * (eve_swap, eve_reset, eve_compare_and_set) takes the ones the value
 * reaches out of the list (they now have their owner in the graph), and
 * eve_txn_end frees every other one.  There is no way to end a
 * transaction keeping a fresh block that no atom reaches: such a block would
 * have an owner the ownership invariant cannot see (no word in the file
 * points at it), so the checker would call it leaked, the collector would
 * free it, and a later commit would miscount the blocks it shares with
 * published values.  A value that must outlive its transaction is published
 * in an atom.
 */
#define _GNU_SOURCE
#include "txn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "snapshot.h"

const union dummy_block txn_dummy;

/* Each thread keeps the last transaction it ended, with its fresh list, for
 * the next one: most transactions are one swap, and a begin/end pair then
 * costs no malloc.  Freed at the thread's exit. */
static __thread eve_txn *tls_spare;
static __thread int tls_spare_registered;
static __thread int tls_exiting; /* ending transactions at thread exit */
static pthread_key_t g_spare_key;
static pthread_once_t g_spare_once = PTHREAD_ONCE_INIT;

static void spare_exit(void *unused) {
  (void)unused;
  if (tls_spare) free(tls_spare->fresh);
  free(tls_spare);
  tls_spare = NULL;
}

static void spare_key_init(void) { pthread_key_create(&g_spare_key, spare_exit); }

static eve_txn *txn_new(void) {
  eve_txn *t = tls_spare;
  if (!t) return calloc(1, sizeof *t);
  tls_spare = NULL;
  uint64_t *fresh = t->fresh;
  size_t cap = t->capfresh;
  memset(t, 0, sizeof *t);
  t->fresh = fresh;
  t->capfresh = cap;
  return t;
}

static void txn_release(eve_txn *t) {
  if (!tls_spare && t->capfresh <= 4096 && !tls_exiting) {
    if (!tls_spare_registered) {
      pthread_once(&g_spare_once, spare_key_init);
      pthread_setspecific(g_spare_key, (void *)1);
      tls_spare_registered = 1;
    }
    tls_spare = t;
    return;
  }
  free(t->fresh);
  free(t);
}

/* Every transaction pins the epoch (epoch.c) for its whole life, so what it
 * reads stays valid until it ends.  A read-only domain cannot write a slot:
 * its transactions do not pin (eve.h says what that means). */
static int txn_start(eve_txn *t, eve_domain *d, unsigned flags) {
  if ((flags & EVE_TXN_WRITE) && d->read_only) return EVE_ETXN;
  t->d = d;
  t->flags = flags;
  t->fork_gen = region_fork_gen();
  if (!d->read_only) {
    int rc = epoch_pin(d, &t->slot);
    if (rc) return rc;
    t->pinned = 1;
  }
  return 0;
}

int txn_begin_internal(eve_domain *d, unsigned flags, eve_txn **out) {
  eve_txn *t = txn_new();
  if (!t) return EVE_ENOMEM;
  int rc = txn_start(t, d, flags);
  if (rc) {
    txn_release(t);
    return rc;
  }
  *out = t;
  return 0;
}

/* The thread that began t is exiting with t open (guard.c): end it as an
 * abort would, so its pin stops holding reclamation back. */
static void txn_end_at_thread_exit(guard_node *n) {
  eve_txn *t = (eve_txn *)(void *)((char *)n - offsetof(eve_txn, node));
  tls_exiting = 1; /* the thread's spare may be gone already: free t outright */
  eve_txn_end(t);
  tls_exiting = 0;
}

/* A snapshot is not on any thread's guard record and has no slot of its
 * own: the process's snapshots share both (snapshot.c). */
static int snapshot_begin(eve_domain *d, eve_txn **out) {
  eve_txn *t = txn_new();
  if (!t) return EVE_ENOMEM;
  int rc = snapshot_take(d, &t->snap_epoch);
  if (rc) {
    txn_release(t);
    return rc;
  }
  t->d = d;
  t->flags = EVE_TXN_SNAPSHOT;
  t->fork_gen = region_fork_gen();
  atomic_store(&t->refs, 1);
  *out = t;
  return 0;
}

/* The transaction enters the guard first (guard.c): while it is open,
 * eve_gc and eve_close of this handle return EVE_EBUSY, and while one of
 * them runs this waits for it (then EVE_EBUSY, after about 2 s). */
int eve_txn_begin(eve_domain *d, unsigned flags, eve_txn **out) {
  if (!d || !out || (flags & ~(unsigned)(EVE_TXN_WRITE | EVE_TXN_SNAPSHOT)) ||
      flags == (EVE_TXN_WRITE | EVE_TXN_SNAPSHOT))
    return EVE_EINVAL;
  if (flags & EVE_TXN_SNAPSHOT) return snapshot_begin(d, out);
  eve_txn *t = txn_new();
  if (!t) return EVE_ENOMEM;
  t->node.at_thread_exit = txn_end_at_thread_exit;
  int rc = guard_enter(d, &t->node);
  if (!rc) {
    t->guarded = 1;
    rc = txn_start(t, d, flags);
    if (rc) guard_leave(&t->node);
  }
  if (rc) {
    txn_release(t);
    return rc;
  }
  *out = t;
  return 0;
}

int eve_txn_error(const eve_txn *t) { return t ? t->err : EVE_EINVAL; }

/* A txn inherited across fork() belongs to the parent: its slot and its
 * fresh blocks are the parent's business, so the child only forgets it. */
static int txn_forked(const eve_txn *t) { return t->fork_gen != region_fork_gen(); }

/* Leaving the guard comes last: from then on eve_close may unmap. */
static void txn_free(eve_txn *t) {
  int forked = txn_forked(t);
  if (t->pinned && !forked) epoch_unpin(t->d, t->slot);
  if (t->guarded && !forked) guard_leave(&t->node);
  txn_release(t);
}

int eve_txn_retain(eve_txn *t) {
  if (!t || !(t->flags & EVE_TXN_SNAPSHOT)) return EVE_EINVAL;
  if (txn_forked(t)) return EVE_EFORKED;
  atomic_fetch_add(&t->refs, 1);
  return 0;
}

/* The last reference gives the snapshot's pin back; the others only count.
 * In a forked child every end says EVE_EFORKED, and the last one only
 * frees the memory: the pin is the parent's. */
static int snapshot_end(eve_txn *t) {
  int forked = txn_forked(t);
  if (atomic_fetch_sub(&t->refs, 1) > 1) return forked ? EVE_EFORKED : 0;
  eve_domain *d = t->d;
  if (!forked) snapshot_release(d, t->snap_epoch);
  txn_release(t);
  return forked ? EVE_EFORKED : region_damage(d);
}

int eve_txn_end(eve_txn *t) {
  if (!t) return EVE_EINVAL;
  if (t->flags & EVE_TXN_SNAPSHOT) return snapshot_end(t);
  if (txn_forked(t)) {
    txn_free(t);
    return EVE_EFORKED;
  }
  eve_domain *d = t->d;
  for (size_t i = 0; i < t->nfresh; i++)
    if (t->fresh[i]) alloc_free(d, t->fresh[i]);
  txn_free(t);
  return region_damage(d); /* ended, but say that the domain is gone */
}

/* ---- checked reads and fresh allocation ---------------------------------- */

void txn_compact_fresh(eve_txn *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->nfresh; i++)
    if (t->fresh[i]) t->fresh[n++] = t->fresh[i];
  t->nfresh = n;
}

static int fresh_push(eve_txn *t, uint64_t off) {
  if (t->nfresh == t->capfresh) {
    size_t cap = t->capfresh ? t->capfresh * 2 : 64;
    uint64_t *p = realloc(t->fresh, cap * sizeof *p);
    if (!p) return EVE_ENOMEM;
    t->fresh = p;
    t->capfresh = cap;
  }
  t->fresh[t->nfresh++] = off;
  return 0;
}

void *txn_alloc(eve_txn *t, uint64_t bytes, unsigned type, uint64_t *off) {
  int rc = txn_writable(t);
  if (!rc) rc = alloc_block(t->d, bytes, type, off);
  if (!rc && (rc = fresh_push(t, *off)) != 0) alloc_free(t->d, *off);
  if (rc) {
    txn_fail(t, rc);
    return NULL;
  }
  return region_ptr(t->d, *off);
}
