/* durable.c — eve_sync and recovery after a power cut.
 *
 * What a power cut does to a domain
 * ---------------------------------
 * A process crash loses nothing: the pages it wrote are in the kernel's
 * page cache, and the survivors (or the next opener) repair what it left
 * half-done.  A power cut or a kernel crash loses the page cache: the file
 * then holds, for every page written since it was last synced, the old
 * content or the new, in any mix (and, on most disks, each 512-byte sector
 * of a page independently).  Atom cells, owner counts, free lists, the
 * bump pointer: all of it may be torn, so nothing but what was synced can
 * be trusted.
 *
 * Checkpoints
 * -----------
 * eve_sync makes a checkpoint: a map {atom name -> value} of every atom's
 * current value, built in a write transaction and published in one of two
 * system atoms (atom.h: names no user can reach, skipped by the listings),
 * alternately.  Publishing it is what keeps it intact: every block the map
 * reaches is then owned by the system atom, so none of them is freed, let
 * alone reused, until the sync after next replaces that atom's value — by
 * which time the next checkpoint is durable.  (This is LMDB's rule, "never
 * reuse a page freed after the last durable meta page", by eve's own
 * ownership: no new mechanism in the reclamation path, and nothing held
 * when no one syncs.)  Then:
 *
 *   1. fdatasync: the map and every block it reaches are on the disk;
 *   2. the header's checkpoint record of that slot gets {seq, the map's
 *      word, the heap's end, a checksum}, in one 512-byte sector;
 *   3. fdatasync again: the record is on the disk.  eve_sync returns.
 *
 * A cut before 3 completes leaves the older record (the other slot) valid,
 * and its map intact: its system atom was not touched by this sync.  The
 * record that wins is the valid one with the highest seq.
 *
 * What a checkpoint costs: the versions it holds, like a held snapshot
 * (the values replaced since the last sync stay until the next one), and
 * two fdatasyncs.  A domain that is never synced holds nothing.
 *
 * Recovery
 * --------
 * The header records the boot it was last opened in (the kernel's boot
 * id).  A read-write eve_open that finds another boot there, and a valid
 * checkpoint, cannot know whether the machine went down cleanly: it
 * restores the checkpoint (compact.c, compact_restore) into a new file,
 * checked, and renames it over the old one, so the domain reopens as the
 * last completed sync left it, with a fresh heap.  EVE_OPEN_RECOVER asks
 * for the same on any open (a file restored from a backup or a VM image, or
 * the power-cut tests).  Without a checkpoint the boot change only updates
 * the record: there is nothing better to go back to.  A read-only open
 * never recovers: where a recovery is due it returns EVE_ECORRUPT.
 *
 * eve_close of a read-write handle syncs a domain that has a checkpoint
 * (best effort), so a clean shutdown loses nothing at the next boot. */
#define _GNU_SOURCE
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL /* header-only, as in hash.c: no libxxhash at run time */
#include <xxhash.h>

#include "atom.h"
#include "guard.h"
#include "txn.h"

/* The system atoms that own the two checkpoints' maps. */
static const char *const ckpt_atom[2] = {"\0checkpoint-0", "\0checkpoint-1"};
#define CKPT_ATOM_LEN 13u

/* OFD lock byte that serializes syncs and recoveries across processes
 * (inside the header page, where no other lock is taken). */
#define SYNC_LOCK_BYTE 8

static uint64_t checkpoint_checksum(const eve_checkpoint *c) {
  return XXH64(c, offsetof(eve_checkpoint, checksum), 0x6576652d636b7074ull);
}

/* A copy of checkpoint i as it is in the header (the page is shared:
 * copy it before judging it). */
static eve_checkpoint checkpoint_load(eve_domain *d, int i) {
  eve_checkpoint c;
  memcpy(&c, (const void *)&d->hdr->checkpoints[i], sizeof c);
  return c;
}

static int checkpoint_valid(eve_domain *d, const eve_checkpoint *c) {
  return c->magic == EVE_CHECKPOINT_MAGIC && c->checksum == checkpoint_checksum(c) &&
         c->seq > 0 && c->bump >= d->heap_start && c->bump <= d->max_size &&
         c->root < c->bump;
}

int durable_newest(eve_domain *d, eve_checkpoint *out) {
  int best = -1;
  for (int i = 0; i < 2; i++) {
    eve_checkpoint c = checkpoint_load(d, i);
    if (checkpoint_valid(d, &c) && (best < 0 || c.seq > out->seq)) {
      *out = c;
      best = i;
    }
  }
  return best;
}

/* ---- the boot ---------------------------------------------------------------- */

static uint8_t g_boot[16];
static int g_boot_known;
static pthread_once_t g_boot_once = PTHREAD_ONCE_INIT;

static int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* The kernel's boot id (a uuid that changes at every boot), as 16 bytes. */
static void read_boot_id(void) {
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[64];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  int got = 0;
  for (ssize_t i = 0; i < n && got < 32; i++) {
    int v = hex_digit(text[i]);
    if (v < 0) continue;
    g_boot[got / 2] = (uint8_t)(g_boot[got / 2] << 4 | v);
    got++;
  }
  g_boot_known = got == 32;
}

static int boot_known(void) {
  pthread_once(&g_boot_once, read_boot_id);
  return g_boot_known;
}

/* ---- eve_sync ---------------------------------------------------------------- */

static int sync_file(eve_domain *d) {
  while (fdatasync(d->fd) != 0)
    if (errno != EINTR) return errno_to_eve(errno);
  return 0;
}

static int sync_lock(eve_domain *d, short type) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = SYNC_LOCK_BYTE, .l_len = 1};
  while (fcntl(d->fd, F_OFD_SETLKW, &fl) != 0)
    if (errno != EINTR) return errno_to_eve(errno);
  return 0;
}

typedef struct builder {
  eve_domain *d;
  eve_txn *t;
  eve_val map;
} builder;

/* One atom's current value into the checkpoint map.  An atom removed since
 * it was listed is not in the checkpoint. */
static int add_atom(void *ctx, const char *name, size_t n) {
  builder *b = ctx;
  char *cname = strndup(name, n); /* atom names hold no NUL */
  if (!cname) return EVE_ENOMEM;
  eve_atom *a;
  eve_val v, key;
  int rc = eve_atom_open(b->d, cname, 0, &a);
  free(cname);
  if (rc == EVE_ENOTFOUND) return 0;
  if (rc) return rc;
  rc = eve_deref(b->t, a, &v);
  eve_atom_close(a);
  if (rc == EVE_EREMOVED) return 0;
  if (!rc) rc = eve_string(b->t, name, n, &key);
  if (!rc) rc = eve_map_assoc(b->t, b->map, key, v, &b->map);
  return rc;
}

/* Build the checkpoint map and publish it in system atom `slot`; *root
 * receives its word (valid while that atom holds it: until the sync after
 * next, which is serialized behind this one). */
static int checkpoint_build(eve_domain *d, int slot, eve_val *root) {
  eve_atom *h;
  int rc = atom_open_system(d, ckpt_atom[slot], CKPT_ATOM_LEN, &h);
  if (rc) return rc;
  builder b = {d, NULL, EVE_V_EMPTY_MAP};
  rc = eve_txn_begin(d, EVE_TXN_WRITE, &b.t);
  if (!rc) {
    rc = eve_atom_names_each(b.t, add_atom, &b);
    if (!rc) rc = eve_reset(b.t, h, b.map);
    if (!rc) rc = eve_deref(b.t, h, root);
    int end = eve_txn_end(b.t);
    if (!rc) rc = end;
  }
  eve_atom_close(h);
  return rc;
}

static uint64_t unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Steps 1-3 of the top of the file, under both sync locks. */
static int checkpoint_take(eve_domain *d) {
  eve_checkpoint cur;
  int k = durable_newest(d, &cur);
  int slot = k < 0 ? 0 : k ^ 1;
  eve_val root;
  int rc = checkpoint_build(d, slot, &root);
  if (!rc) rc = sync_file(d);
  if (rc) return rc;
  eve_checkpoint c = {
      .magic = EVE_CHECKPOINT_MAGIC,
      .seq = k < 0 ? 1 : cur.seq + 1,
      .root = root,
      .bump = atomic_load(&d->hdr->bump),
      .unix_ns = unix_ns(),
  };
  c.checksum = checkpoint_checksum(&c);
  memcpy((void *)&d->hdr->checkpoints[slot], &c, sizeof c);
  return sync_file(d);
}

int durable_sync(eve_domain *d) {
  if (d->in_memory) return 0; /* nothing of it outlives the machine anyway */
  if (d->read_only) return EVE_ETXN;
  pthread_mutex_lock(&d->sync_lock);
  int rc = sync_lock(d, F_WRLCK);
  if (!rc) {
    rc = checkpoint_take(d);
    sync_lock(d, F_UNLCK);
  }
  pthread_mutex_unlock(&d->sync_lock);
  return rc;
}

int eve_sync(eve_domain *d) {
  if (!d) return EVE_EINVAL;
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, durable_sync(d));
  guard_leave(&call);
  return rc;
}

void durable_sync_at_close(eve_domain *d) {
  guard_node call = {0};
  if (guard_enter(d, &call)) return; /* closed or damaged: eve_close says so */
  eve_checkpoint c;
  if (!d->read_only && !d->in_memory && durable_newest(d, &c) >= 0) (void)durable_sync(d);
  guard_leave(&call);
}

/* ---- at open ------------------------------------------------------------------ */

int durable_open_check(eve_domain *d, unsigned flags, eve_checkpoint *restore) {
  if (d->in_memory) return 0;
  int forced = (flags & EVE_OPEN_RECOVER) != 0;
  int rebooted = boot_known() && memcmp((const void *)d->hdr->boot_id, g_boot, 16) != 0;
  if (!forced && !rebooted) return 0;
  int have = durable_newest(d, restore) >= 0;
  if (d->read_only) return have ? EVE_ECORRUPT : 0; /* cannot restore, must not trust */
  if (have) return 1;
  if (forced) return EVE_ENOENT; /* nothing to recover to */
  if (boot_known()) memcpy((void *)d->hdr->boot_id, g_boot, 16); /* unsynced: nothing better */
  return 0;
}

void durable_mark_boot(eve_domain *d) {
  if (!d->in_memory && !d->read_only && boot_known())
    memcpy((void *)d->hdr->boot_id, g_boot, 16);
}

/* A read-only handle cannot take (nor needs) the write lock: it only
 * waits for a recovery that runs. */
int durable_lock(eve_domain *d) { return sync_lock(d, d->read_only ? F_RDLCK : F_WRLCK); }
void durable_unlock(eve_domain *d) { sync_lock(d, F_UNLCK); }
