/* domain.c — a domain handle: eve_open, eve_close, and what they set going.
 *
 * region.c knows the file (creation, validation, mapping, growth); this
 * module puts a handle together from it and takes it apart again, in the
 * order the modules above the file need: the SIGBUS watch (fault.c) before
 * the first access through the mapping, the handle's guard (guard.c), and
 * at close the detach (epoch.c), with the collection the last process to
 * detach runs (collect.c), and the allocator's caches (alloc.c).  It also
 * owns the fork handlers, which let each of those modules drop what a
 * child inherits.  Nothing below calls up into it.
 */
#define _GNU_SOURCE
#include "region.h"

#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "collect.h"
#include "durable.h"
#include "commit.h"
#include "epoch.h"
#include "fault.h"
#include "guard.h"
#include "snapshot.h"

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static void init_process(void);

static uint64_t round_up(uint64_t x, uint64_t q) { return (x + q - 1) / q * q; }

/* ---- the mapping, watched ------------------------------------------------- */

static int map_domain(eve_domain *d, int rdonly) {
  int rc = region_map(d, rdonly);
  if (rc) return rc;
  fault_watch(d, !rdonly); /* before the first access through the mapping */
  atomic_store_explicit(&d->known_size, atomic_load(&d->hdr->size), memory_order_relaxed);
  return 0;
}

static void unmap_domain(eve_domain *d) {
  fault_unwatch(d);
  region_unmap(d);
}

/* ---- open / close ---------------------------------------------------------- */

static void teardown(eve_domain *d);

/* ---- handles are never freed ----------------------------------------------
 * A call that races eve_close (another thread's eve_txn_begin on the handle
 * being closed) must find the handle's memory still there, saying "closed".
 * So closed handles are kept, and reused by eve_open only once more than
 * HUSKS_KEPT of them wait (oldest first): memory stays bounded by the
 * handles open at once, and a closed handle keeps answering EVE_EINVAL
 * until HUSKS_KEPT more handles have been closed after it. */
#define HUSKS_KEPT 8
static eve_domain *g_husks, *g_husks_tail; /* under the open-list lock */
static unsigned g_nhusks;

/* A handle to open, marked closed until eve_open is done with it. */
static eve_domain *handle_get(void) {
  region_lock_open_list();
  eve_domain *d = NULL;
  if (g_nhusks > HUSKS_KEPT) {
    d = g_husks;
    g_husks = d->next_husk;
    if (!g_husks) g_husks_tail = NULL;
    g_nhusks--;
  }
  region_unlock_open_list();
  if (d) {
    memset(d, 0, EVE_DOMAIN_RESET_BYTES);
    d->next_husk = NULL;
  } else {
    if (!(d = calloc(1, sizeof *d))) return NULL;
    fault_add_handle(d);
  }
  atomic_store(&d->guard, GUARD_CLOSED);
  return d;
}

/* A closed (or never opened) handle joins the queue for reuse. */
static void handle_put(eve_domain *d) {
  atomic_fetch_or(&d->guard, GUARD_CLOSED);
  region_lock_open_list();
  if (g_husks_tail) g_husks_tail->next_husk = d;
  else g_husks = d;
  g_husks_tail = d;
  g_nhusks++;
  region_unlock_open_list();
}

/* The caller's options with defaults filled in, or 0 when they ask for
 * something eve_open refuses (eve.h: an unknown bit, mode 3, RDONLY with
 * NEW or without a file, a size out of range, a non-zero reserved word). */
static int options_resolve(const char *path, const eve_options *opts, eve_options *o) {
  *o = opts ? *opts : (eve_options){0};
  if (!o->max_size) o->max_size = EVE_DEFAULT_MAX;
  if (!o->initial_size) o->initial_size = EVE_DEFAULT_INITIAL;
  o->max_size = round_up(o->max_size, EVE_PAGE);
  unsigned mode = o->flags & EVE_OPEN_MODE_MASK;
  int rdonly = (o->flags & EVE_OPEN_RDONLY) != 0;
  if (o->max_size > (1ull << 46) || o->max_size < (1ull << 20)) return 0;
  if (o->flags & ~(unsigned)(EVE_OPEN_MODE_MASK | EVE_OPEN_RDONLY | EVE_OPEN_RECOVER)) return 0;
  if (mode > EVE_OPEN_NEW) return 0;
  if (rdonly && (mode == EVE_OPEN_NEW || !path)) return 0;
  if ((o->flags & EVE_OPEN_RECOVER) && (rdonly || mode != EVE_OPEN_EXISTING || !path)) return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i]) return 0;
  return 1;
}

/* The open file is still the one at path (a recovery renames a restored
 * file over it). */
static int still_at_path(eve_domain *d) {
  struct stat a, b;
  return fstat(d->fd, &a) == 0 && stat(d->path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

/* After a power cut (durable.c): under the recovery lock, restore the last
 * checkpoint where one is due.  Returns 0 to go on opening d, 1 when d
 * must be closed and the path opened again (restored, or replaced by
 * another process's restore meanwhile), or an error. */
static int recover_if_due(eve_domain *d, unsigned flags) {
  if (d->in_memory) return 0;
  int rc = durable_lock(d);
  if (rc) return rc;
  eve_checkpoint c;
  if (!still_at_path(d)) rc = 1;
  else if ((rc = durable_open_check(d, flags, &c)) == 1)
    rc = compact_restore(d->path, c.root, c.bump) ? : 1; /* restored: open it again */
  durable_unlock(d);
  return rc;
}

static int domain_open(const char *path, const eve_options *o, int may_recover, eve_domain **out);

int eve_open(const char *path, const eve_options *opts, eve_domain **out) {
  if (!out) return EVE_EINVAL;
  *out = NULL;
  eve_options o;
  if (!options_resolve(path, opts, &o)) return EVE_EINVAL;
  for (int tries = 0;; tries++) {
    int rc = domain_open(path, &o, 1, out);
    if (rc != 1) return rc;
    /* restored (once is enough: a restored file records this boot) or
     * replaced by another opener: open what is at path now */
    o.flags &= ~(unsigned)EVE_OPEN_RECOVER;
    if (tries > 8) return EVE_EBUSY;
  }
}

/* eve_open of resolved options; 1: open again (see recover_if_due).
 * may_recover: 1 for eve_open, -1 for the source of a restore (neither
 * restored nor judged by its mutable header words). */
int domain_open_for_restore(const char *path, eve_domain **out) {
  eve_options o;
  eve_options rd = {.flags = EVE_OPEN_EXISTING | EVE_OPEN_RDONLY};
  if (!options_resolve(path, &rd, &o)) return EVE_EINVAL;
  return domain_open(path, &o, -1, out);
}

static int domain_open(const char *path, const eve_options *opts, int may_recover,
                       eve_domain **out) {
  eve_options o = *opts;
  int rc = fault_install();
  if (rc) return rc;
  eve_domain *d = handle_get();
  if (!d) return EVE_ENOMEM;
  d->fd = -1;
  d->in_memory = path == NULL;
  rc = path ? region_open_file(path, &o, &d->fd) : region_open_memory(&o, &d->fd);
  if (!rc) rc = map_domain(d, (o.flags & EVE_OPEN_RDONLY) != 0);
  /* Mutable words that do not add up (EVE_EBADHDR, EVE_ETRUNC) may be what
   * a power cut left: the restore decides (a restore's own source is read
   * below its checkpoint's end only, and is not judged by them). */
  int torn = 0;
  if (!rc && may_recover >= 0) {
    int v = region_error(d, region_validate_mapped(d));
    if (v == EVE_EBADHDR || v == EVE_ETRUNC) torn = v;
    else rc = v;
    if (rc) unmap_domain(d);
  }
  if (rc) {
    if (d->fd >= 0) close(d->fd);
    handle_put(d);
    return rc;
  }
  d->read_only = (o.flags & EVE_OPEN_RDONLY) != 0;
  d->path = path ? strdup(path) : NULL;
  if (path && !d->path) rc = EVE_ENOMEM;
  if (!rc && may_recover > 0) rc = recover_if_due(d, o.flags);
  if (!rc && torn) rc = torn; /* nothing restored: refused as before */
  if (rc) {
    unmap_domain(d);
    close(d->fd);
    free(d->path);
    d->path = NULL;
    handle_put(d);
    return rc;
  }
  d->lock_fd = d->probe_fd = -1;
  pthread_mutex_init(&d->lock, NULL);
  pthread_mutex_init(&d->attach_lock, NULL);
  pthread_mutex_init(&d->sync_lock, NULL);
  snapshot_open(d);
  pthread_once(&g_init_once, init_process);
  region_list_add(d); /* before any allocation: thread caches are keyed by its id */
  /* no collection here: what a dead process left is repaired online when
   * we attach (epoch.c), and its private leftovers wait for the last
   * process to detach, so an open never waits for a heap-sized pass */
  /* open for calls, unless the file was cut off under us meanwhile */
  unsigned closed = GUARD_CLOSED;
  if (!atomic_compare_exchange_strong(&d->guard, &closed, 0)) {
    rc = region_damage(d);
    teardown(d);
    return rc ? rc : EVE_EIO;
  }
  *out = d;
  return 0;
}

/* Only once no thread is inside the handle (guard.c): a transaction still
 * open or a call in flight makes it EVE_EBUSY, and the handle stays open.
 * A damaged handle closes without touching the domain. */
int eve_close(eve_domain *d) {
  if (!d) return EVE_EINVAL;
  durable_sync_at_close(d);
  int rc = guard_exclusive_begin(d, GUARD_DAMAGE);
  if (rc) return rc;
  teardown(d);
  return 0;
}

/* Detach, unmap, close; the handle becomes a husk (closed for good). */
static void teardown(eve_domain *d) {
  region_list_remove(d);
  /* last use of the slots: frees what it can, counts the rest, and the last
   * process to detach collects what crashes and drops left */
  epoch_detach(d, collect_recover_if_needed);
  if (!d->read_only) alloc_close(d);
  unmap_domain(d);
  close(d->fd);
  pthread_mutex_destroy(&d->lock);
  pthread_mutex_destroy(&d->attach_lock);
  pthread_mutex_destroy(&d->sync_lock);
  snapshot_close(d);
  free(d->path);
  d->path = NULL;
  guard_exclusive_end(d, 1);
  handle_put(d);
}

int eve_domain_info_get(eve_domain *d, eve_domain_info *out) {
  if (!d || !out) return EVE_EINVAL;
  memset(out, 0, sizeof *out);
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  out->file_bytes = atomic_load(&d->hdr->size);
  out->max_bytes = d->max_size;
  out->heap_start = d->heap_start;
  out->bump = atomic_load(&d->hdr->bump);
  out->format_version = d->hdr->format_version;
  guard_leave(&call);
  return region_damage(d);
}

/* ---- fork ------------------------------------------------------------------ */

/* fork(): hold the list lock across it so the child's copy is consistent;
 * in the child, reset locks and let each module drop what it inherited. */
static void fork_prepare(void) {
  region_lock_open_list();
  guard_fork_prepare();
}
static void fork_parent(void) {
  guard_fork_parent();
  region_unlock_open_list();
}
static void fork_child(void) {
  guard_fork_child();
  region_fork_child();
  for (eve_domain *d = region_open_list(); d; d = d->next_open) {
    /* a collection or close running in another of the parent's threads is
     * not running here */
    atomic_fetch_and(&d->guard, ~GUARD_EXCLUSIVE);
    pthread_mutex_init(&d->lock, NULL);
    alloc_after_fork(d);
    epoch_after_fork(d);
    snapshot_after_fork(d);
  }
}

/* Once per process, as the first domain opens (before it is attached):
 * the fork handlers, and the commit's part of repairing a dead process, which epoch.c calls
 * through a hook (epoch.h) because the commit is a module above it. */
static void init_process(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  epoch_set_journal_repair(commit_repair_journal);
}
