/* stats.c — eve_stats_get: what the file holds, what is free, what waits
 * to be freed, and who holds reclamation back.  The byte counts come from
 * the free lists (alloc.c) and the retire logs and batches (epoch.c);
 * beside live processes they are a snapshot that may be off by what they
 * allocate, retire and free meanwhile.
 */
#define _GNU_SOURCE
#include "stats.h"

#include <string.h>

#include "epoch.h"
#include "snapshot.h"
#include "value.h"

/* New fields take reserved words: the struct keeps its size (the ABI). */
_Static_assert(sizeof(eve_stats) == 17 * sizeof(uint64_t), "eve_stats keeps its size");

/* A pending entry is no retirement yet: its commit has not decided (if it
 * loses, the block lives on, doomed). */
static int pending(const retire_entry *r) { return (r->tag & TAG_PENDING_BIT) != 0; }

typedef struct waiting { eve_domain *d; uint64_t bytes; } waiting;

static void add_waiting(waiting *w, uint64_t off) {
  if (!(off & 1) && region_contains(w->d, off, sizeof(blk)))
    w->bytes += alloc_class_size(((const blk *)region_ptr(w->d, off))->cls);
}

static void sum_logged(void *ctx, const retire_entry *r, uint64_t log_off) {
  (void)log_off;
  if (r && !pending(r)) add_waiting(ctx, r->off);
}

static void sum_batched(void *ctx, uint64_t off, uint64_t gen, int is_batch) {
  (void)gen;
  (void)is_batch; /* batch blocks and their entries alike wait to be freed */
  add_waiting(ctx, off);
}

/* Bytes retired and not yet freed: every process's retire logs and the
 * shared batches (beside live processes a snapshot that may be off by what
 * they retire and free meanwhile). */
uint64_t stats_retired_bytes(eve_domain *d) {
  waiting w = {d, 0};
  epoch_for_each_logged(d, sum_logged, &w);
  epoch_for_each_batched(d, sum_batched, &w);
  return w.bytes;
}


static int stats_get(eve_domain *d, eve_stats *out) {
  epoch_stats es;
  if (!d->read_only) epoch_reclaim(d);
  epoch_stats_get(d, &es);
  alloc_stats st;
  int rc = alloc_stats_get(d, &st);
  if (rc) return rc;
  out->file_bytes = atomic_load(&d->hdr->size);
  out->disk_bytes = region_disk_bytes(d);
  out->free_bytes = st.free_bytes;
  out->punched_bytes = st.punched_bytes;
  out->retired_bytes = stats_retired_bytes(d);
  uint64_t used = atomic_load(&d->hdr->bump) - d->heap_start;
  uint64_t gone = st.free_bytes + out->retired_bytes;
  out->live_bytes = used > gone ? used - gone : 0;
  out->readers = es.readers;
  out->oldest_pin_ms = es.oldest_pin_ms;
  out->oldest_pin_pid = es.oldest_pin_pid;
  out->oldest_pin_tid = es.oldest_pin_tid;
  out->snapshots = snapshot_count(d);
  eve_txn *t;
  rc = txn_begin_internal(d, EVE_TXN_READ, &t);
  if (rc == EVE_ESLOTS) {
    /* Every slot is taken, and showing who holds them is what stats are
     * for: read the registry's count unpinned.  The root node may be
     * replaced meanwhile; its count word is then merely stale (reads are
     * checked, so never a crash). */
    eve_txn bare = {.d = d, .flags = EVE_TXN_READ, .fork_gen = region_fork_gen()};
    rc = eve_count(&bare, atomic_load(&d->hdr->root), &out->atoms);
    return rc;
  }
  if (rc) return rc;
  rc = eve_count(t, atomic_load(&d->hdr->root), &out->atoms);
  eve_txn_end(t);
  return rc;
}

int eve_stats_get(eve_domain *d, eve_stats *out) {
  if (!d || !out) return EVE_EINVAL;
  memset(out, 0, sizeof *out);
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, stats_get(d, out));
  guard_leave(&call);
  return rc;
}

