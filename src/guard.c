/* guard.c — who is inside a domain handle, in this process.
 *
 * The argument is in guard.h.  Why slots on per-thread records, and not a
 * counter per handle: a counter shared by every thread of the process
 * would be one more contended cache line written twice per transaction.
 * A thread's record is written by that thread, except when a transaction
 * it began is ended by another thread (a hand-over).  Only the thread
 * claims its slots, so entering costs one seq_cst store (the exchange the
 * argument needs) and leaving one release store.  The exclusive takers are
 * rare (eve_gc, eve_close) and pay for the look: every slot of every
 * thread, under the lock of the list of records.
 *
 * A record is a chain of chunks of SLOTS slots; a thread inside more than
 * SLOTS calls and transactions at once (nested swaps, many readers) adds a
 * chunk, kept until the thread exits.  A slot names the handle, for
 * takers, and the node, for the thread's own exit.
 *
 * Thread exit.  A transaction belongs to the thread that began it.  It may
 * be handed to other threads meanwhile, but when the thread that began it
 * exits, the transactions it left open are ended (as eve_txn_end), so
 * they stop holding reclamation back and do not keep eve_close busy
 * forever.  The library cannot know whether another thread would still use
 * one; the rule in eve.h says it must not.
 */
#define _GNU_SOURCE
#include "guard.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "region.h"

#define SLOTS 16

typedef struct guard_chunk {
  _Atomic(eve_domain *) domain[SLOTS]; /* NULL: free                       */
  _Atomic(guard_node *) node[SLOTS];
  _Atomic(struct guard_chunk *) next;
} guard_chunk;

typedef struct guard_owner {
  guard_chunk first;
  struct guard_owner *prev, *next; /* every live record, under g_owners_lock */
} guard_owner;

/* The record of no thread: for what lives in a handle beyond any thread
 * (snapshots, snapshot.c).  Its slots are filled under g_detached_lock, the
 * one rule that differs from a thread's record (there, only the thread
 * fills them).  It is always on the list and never exits, so nothing ends
 * what it holds but its owner. */
static guard_owner g_detached;
static pthread_mutex_t g_detached_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t g_owners_lock = PTHREAD_MUTEX_INITIALIZER;
static guard_owner *g_owners = &g_detached;
static pthread_key_t g_owner_key;
static pthread_once_t g_owner_once = PTHREAD_ONCE_INIT;
static __thread guard_owner *tls_owner;

/* ---- records ---------------------------------------------------------------- */

static void empty_slot(guard_chunk *c, unsigned i) {
  atomic_store_explicit(&c->node[i], NULL, memory_order_relaxed);
  atomic_store_explicit(&c->domain[i], NULL, memory_order_release);
}

static void free_chunks(guard_owner *o) {
  guard_chunk *c = atomic_load_explicit(&o->first.next, memory_order_relaxed);
  while (c) {
    guard_chunk *next = atomic_load_explicit(&c->next, memory_order_relaxed);
    free(c);
    c = next;
  }
}

/* Thread exit: end what the thread left open, then drop its record.  A
 * transaction's slot stays taken until it has ended (eve_close must stay
 * busy meanwhile); ending it empties the slot. */
static void owner_exit(void *arg) {
  guard_owner *o = arg;
  for (guard_chunk *c = &o->first; c; c = atomic_load(&c->next))
    for (unsigned i = 0; i < SLOTS; i++) {
      if (!atomic_load(&c->domain[i])) continue;
      guard_node *n = atomic_load(&c->node[i]);
      if (n && n->at_thread_exit) n->at_thread_exit(n);
      else empty_slot(c, i); /* a call left by pthread_exit: forget it */
    }
  pthread_mutex_lock(&g_owners_lock);
  if (o->prev) o->prev->next = o->next;
  else g_owners = o->next;
  if (o->next) o->next->prev = o->prev;
  pthread_mutex_unlock(&g_owners_lock);
  tls_owner = NULL;
  free_chunks(o);
  free(o);
}

static void owner_key_init(void) { pthread_key_create(&g_owner_key, owner_exit); }

static guard_owner *my_owner(void) {
  if (__builtin_expect(tls_owner != NULL, 1)) return tls_owner;
  pthread_once(&g_owner_once, owner_key_init);
  guard_owner *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  pthread_mutex_lock(&g_owners_lock);
  o->next = g_owners;
  if (g_owners) g_owners->prev = o;
  g_owners = o;
  pthread_mutex_unlock(&g_owners_lock);
  pthread_setspecific(g_owner_key, o);
  return tls_owner = o;
}

/* A free slot of this thread's record (only this thread fills slots). */
static int free_slot(guard_owner *o, guard_chunk **out, unsigned *index) {
  guard_chunk *c = &o->first;
  for (;;) {
    for (unsigned i = 0; i < SLOTS; i++)
      if (!atomic_load_explicit(&c->domain[i], memory_order_acquire)) {
        *out = c;
        *index = i;
        return 0;
      }
    guard_chunk *next = atomic_load_explicit(&c->next, memory_order_relaxed);
    if (!next) {
      if (!(next = calloc(1, sizeof *next))) return EVE_ENOMEM;
      atomic_store_explicit(&c->next, next, memory_order_release); /* takers walk it */
    }
    c = next;
  }
}

/* ---- entering and leaving ------------------------------------------------------ */

/* How long an entering thread waits for an exclusive holder: about as
 * long as attaching waits for another process's recovery (epoch.c).  A
 * collection usually takes milliseconds; one that takes longer makes the
 * caller see EVE_EBUSY rather than hang. */
#define WAIT_YIELDS 64
#define WAIT_SLEEPS 2000 /* of 1 ms */

static void wait_a_little(unsigned round) {
  if (round < WAIT_YIELDS) sched_yield();
  else usleep(1000);
}

int guard_refusal(unsigned st) {
  if (st & GUARD_CLOSED) return EVE_EINVAL;
  if (st & GUARD_TRUNCATED) return EVE_ETRUNC;
  if (st & GUARD_IO_ERROR) return EVE_EIO;
  return EVE_EBUSY;
}

static int enter_on(guard_owner *o, eve_domain *d, guard_node *n) {
  guard_chunk *c;
  unsigned i;
  if (free_slot(o, &c, &i)) return EVE_ENOMEM;
  atomic_store_explicit(&c->node[i], n, memory_order_relaxed);
  for (unsigned round = 0;; round++) {
    /* store, then load, both seq_cst: see guard.h */
    atomic_store(&c->domain[i], d);
    unsigned st = atomic_load(&d->guard);
    if (__builtin_expect(!st, 1)) {
      n->chunk = c;
      n->index = i;
      return 0;
    }
    atomic_store_explicit(&c->domain[i], NULL, memory_order_release);
    if (st != GUARD_EXCLUSIVE || round >= WAIT_YIELDS + WAIT_SLEEPS) {
      atomic_store_explicit(&c->node[i], NULL, memory_order_relaxed);
      return guard_refusal(st);
    }
    wait_a_little(round); /* a collection or a close: wait for its end */
  }
}

int guard_enter(eve_domain *d, guard_node *n) {
  guard_owner *o = my_owner();
  if (!o) return EVE_ENOMEM;
  return enter_on(o, d, n);
}

int guard_enter_detached(eve_domain *d, guard_node *n) {
  pthread_mutex_lock(&g_detached_lock);
  n->at_thread_exit = NULL;
  int rc = enter_on(&g_detached, d, n);
  pthread_mutex_unlock(&g_detached_lock);
  return rc;
}

void guard_leave(guard_node *n) {
  guard_chunk *c = n->chunk;
  if (!c) return;
  n->chunk = NULL;
  empty_slot(c, n->index);
}

/* ---- exclusive access ------------------------------------------------------------ */

/* Is any thread of this process inside d? */
static int inside(eve_domain *d) {
  int found = 0;
  pthread_mutex_lock(&g_owners_lock);
  for (guard_owner *o = g_owners; o && !found; o = o->next)
    for (guard_chunk *c = &o->first; c && !found;
         c = atomic_load_explicit(&c->next, memory_order_acquire))
      for (unsigned i = 0; i < SLOTS && !found; i++) found = atomic_load(&c->domain[i]) == d;
  pthread_mutex_unlock(&g_owners_lock);
  return found;
}

int guard_exclusive_begin(eve_domain *d, unsigned allow) {
  unsigned st = atomic_load(&d->guard);
  do
    if (st & ~allow) return guard_refusal(st & ~allow);
  while (!atomic_compare_exchange_weak(&d->guard, &st, st | GUARD_EXCLUSIVE));
  if (!inside(d)) return 0;
  atomic_fetch_and(&d->guard, ~GUARD_EXCLUSIVE);
  return EVE_EBUSY;
}

void guard_exclusive_end(eve_domain *d, int closed) {
  if (closed) atomic_fetch_or(&d->guard, GUARD_CLOSED);
  atomic_fetch_and(&d->guard, ~GUARD_EXCLUSIVE);
}

/* ---- fork ------------------------------------------------------------------------- */

void guard_fork_prepare(void) { pthread_mutex_lock(&g_owners_lock); }
void guard_fork_parent(void) { pthread_mutex_unlock(&g_owners_lock); }

/* Other threads' records are left behind: those threads do not exist
 * here, and what they were inside is the parent's business. */
void guard_fork_child(void) {
  pthread_mutex_init(&g_owners_lock, NULL);
  /* the parent's snapshots are not the child's either: the record of no
   * thread stays on the list, emptied */
  pthread_mutex_init(&g_detached_lock, NULL);
  for (guard_chunk *c = &g_detached.first; c; c = atomic_load(&c->next))
    for (unsigned i = 0; i < SLOTS; i++) empty_slot(c, i);
  g_detached.prev = g_detached.next = NULL;
  g_owners = &g_detached;
  if (!tls_owner) return;
  tls_owner->prev = NULL;
  tls_owner->next = &g_detached;
  g_detached.prev = tls_owner;
  g_owners = tls_owner;
  for (guard_chunk *c = &tls_owner->first; c; c = atomic_load(&c->next))
    for (unsigned i = 0; i < SLOTS; i++) empty_slot(c, i);
}
