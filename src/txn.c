/* txn.c — transactions: fresh-block tracking, checked block reads, commit.
 *
 * Commit keeps what the caller's values reach and frees the rest
 * ----------------------------------------------------------------
 * Collection operations never free anything: a value built earlier in a
 * transaction may still be used by the code that built it (RECLAMATION.md
 * finding 8).  So what is garbage is decided once, at commit: the fresh
 * blocks reachable from the kept values survive, every other fresh block
 * (the intermediate versions) is freed.  The walk only enters fresh blocks:
 * a block that existed before the transaction cannot point at a fresh one,
 * so its subtree holds nothing to decide.
 */
#define _GNU_SOURCE
#include "txn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "value.h"

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

/* The transaction enters the guard first (guard.c): while it is open,
 * eve_gc and eve_close of this handle return EVE_EBUSY, and while one of
 * them runs this waits for it (then EVE_EBUSY, after about 2 s). */
int eve_txn_begin(eve_domain *d, unsigned flags, eve_txn **out) {
  if (!d || !out || (flags & ~(unsigned)EVE_TXN_WRITE)) return EVE_EINVAL;
  eve_txn *t = txn_new();
  if (!t) return EVE_ENOMEM;
  t->node.is_txn = 1;
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

int eve_txn_abort(eve_txn *t) {
  if (!t) return EVE_EINVAL;
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

/* The thread that began t is exiting with t open (guard.c): end it as an
 * abort would, so its pin stops holding reclamation back. */
void txn_end_at_thread_exit(guard_node *n) {
  eve_txn *t = (eve_txn *)(void *)((char *)n - offsetof(eve_txn, node));
  tls_exiting = 1; /* the thread's spare may be gone already: free t outright */
  eve_txn_abort(t);
  tls_exiting = 0;
}

/* ---- the reachability walk over fresh blocks ----------------------------- */

/* Open-addressed set of fresh offsets with a "reached" bit per entry. */
typedef struct fresh_set {
  uint64_t *keys;   /* offset | 1 when reached (offsets are 16-aligned) */
  size_t mask;
  uint64_t *stack;  /* fresh blocks reached but not yet expanded */
  size_t nstack;
} fresh_set;

static size_t fresh_slot(const fresh_set *s, uint64_t off) {
  size_t i = (size_t)(hash_mix(off) & s->mask);
  while (s->keys[i] && (s->keys[i] & ~1ull) != off) i = (i + 1) & s->mask;
  return i;
}

static void visit_word(void *ctx, const uint64_t *slot) {
  fresh_set *s = ctx;
  uint64_t word = *slot;
  if (!VAL_IS_BLOCK(word)) return;
  size_t i = fresh_slot(s, word);
  if (!s->keys[i] || (s->keys[i] & 1)) return; /* not fresh, or done */
  s->keys[i] |= 1;
  s->stack[s->nstack++] = word;
}

static int commit_sweep(eve_txn *t, const eve_val *keep, size_t nkeep) {
  fresh_set s = {0};
  size_t cap = 16;
  while (cap < t->nfresh * 2) cap *= 2;
  s.keys = calloc(cap, sizeof *s.keys);
  s.stack = malloc(t->nfresh * sizeof *s.stack);
  if (!s.keys || !s.stack) {
    free(s.keys);
    free(s.stack);
    return EVE_ENOMEM;
  }
  s.mask = cap - 1;
  for (size_t i = 0; i < t->nfresh; i++)
    if (t->fresh[i]) s.keys[fresh_slot(&s, t->fresh[i])] = t->fresh[i];
  for (size_t i = 0; i < nkeep; i++) visit_word(&s, &keep[i]);
  while (s.nstack && !t->err) blk_for_each_child(t, s.stack[--s.nstack], visit_word, &s);
  if (!t->err)
    for (size_t i = 0; i < t->nfresh; i++)
      if (t->fresh[i] && !(s.keys[fresh_slot(&s, t->fresh[i])] & 1)) alloc_free(t->d, t->fresh[i]);
  free(s.keys);
  free(s.stack);
  return t->err;
}

int eve_txn_commit(eve_txn *t, const eve_val *keep, size_t nkeep) {
  if (!t || (nkeep && !keep)) return EVE_EINVAL;
  if (txn_forked(t)) {
    txn_free(t);
    return EVE_EFORKED;
  }
  eve_domain *d = t->d;
  int rc = t->err;
  if (!rc && t->nfresh) rc = commit_sweep(t, keep, nkeep);
  txn_free(t);
  return region_error(d, rc);
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
