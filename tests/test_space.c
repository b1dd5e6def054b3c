/* test_space.c — space goes back to the file system (issue 11): free runs
 * of whole pages are punched (fallocate PUNCH_HOLE), so a domain's on-disk
 * bytes fall after a burst of garbage while its file size stays; punched
 * space is backed again before it is written, so reusing it on a full disk
 * is EVE_ENOSPC, never a SIGBUS (docs/RECLAMATION.md, F15).
 *
 * docs/DESIGN.md, "Space back to the file system", says where space goes
 * back; docs/RELIABILITY.md maps the guarantees to these tests.  The
 * full-disk tests mount a small tmpfs and skip without root. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define BURST_KEYS 30000u  /* ~10 MB of map: entries with 256-byte strings */
#define TEXT_BYTES 256u
#define MIB (1ull << 20)

/* ---- helpers ------------------------------------------------------------------ */

static eve_stats stats(eve_domain *d) {
  eve_stats st;
  EVE_OK(eve_stats_get(d, &st)); /* reclaims what no reader holds back */
  EVE_OK(eve_stats_get(d, &st));
  return st;
}

static uint64_t bump(eve_domain *d) {
  eve_domain_info info;
  EVE_OK(eve_domain_info_get(d, &info));
  return info.bump;
}

/* The text of entry i of burst `gen`: both are in it. */
static void burst_text(char *buf, unsigned gen, unsigned i) {
  memset(buf, 'a' + (char)((gen + i) % 26), TEXT_BYTES);
  int n = snprintf(buf, TEXT_BYTES, "burst %u entry %u:", gen, i);
  buf[n] = ' ';
}

/* A map of `keys` entries i -> burst_text(gen, i), published in atom `name`. */
static void build_burst(eve_domain *d, const char *name, unsigned gen, unsigned keys) {
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP;
  char buf[TEXT_BYTES];
  for (unsigned i = 0; i < keys; i++) {
    eve_val k, v;
    burst_text(buf, gen, i);
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_string(t, buf, sizeof buf, &v));
    EVE_OK(eve_map_assoc(t, m, k, v, &m));
  }
  t_publish(d, t, name, m);
  EVE_OK(eve_txn_end(t));
}

/* Every entry of the burst reads back byte for byte. */
static void verify_burst(eve_domain *d, const char *name, unsigned gen, unsigned keys) {
  eve_txn *t;
  char want[TEXT_BYTES];
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m = t_deref(d, t, name);
  uint64_t n;
  EVE_OK(eve_count(t, m, &n));
  cr_assert_eq(n, keys, "%s: %llu entries, want %u", name, (unsigned long long)n, keys);
  for (unsigned i = 0; i < keys; i++) {
    eve_val k, v;
    const char *p;
    size_t len;
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_map_get(t, m, k, &v));
    EVE_OK(eve_text_get(t, &v, &p, &len));
    burst_text(want, gen, i);
    cr_assert(len == TEXT_BYTES && memcmp(p, want, len) == 0, "%s: entry %u differs", name, i);
  }
  EVE_OK(eve_txn_end(t));
}

/* Atom `name` := a string of `bytes` bytes of `fill`. */
static void set_blob(eve_domain *d, const char *name, size_t bytes, char fill) {
  char *buf = malloc(bytes);
  cr_assert_not_null(buf);
  memset(buf, fill, bytes);
  eve_txn *t = t_wtxn(d);
  eve_val v;
  EVE_OK(eve_string(t, buf, bytes, &v));
  t_publish(d, t, name, v);
  EVE_OK(eve_txn_end(t));
  free(buf);
}

static void set_nil(eve_domain *d, const char *name) {
  eve_txn *t = t_wtxn(d);
  t_publish(d, t, name, EVE_V_NIL);
  EVE_OK(eve_txn_end(t));
}

static void verify_blob(eve_domain *d, const char *name, size_t bytes, char fill) {
  eve_txn *t;
  const char *p;
  size_t len;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v = t_deref(d, t, name);
  EVE_OK(eve_text_get(t, &v, &p, &len));
  cr_assert_eq(len, bytes, "%s: %zu bytes, want %zu", name, len, bytes);
  for (size_t i = 0; i < len; i++)
    cr_assert_eq(p[i], fill, "%s: byte %zu is %d, want %d", name, i, p[i], fill);
  EVE_OK(eve_txn_end(t));
}

static void log_stats(const char *when, const eve_stats *st) {
  cr_log_info("%s: file %llu, disk %llu, live %llu, free %llu, punched %llu", when,
              (unsigned long long)st->file_bytes, (unsigned long long)st->disk_bytes,
              (unsigned long long)st->live_bytes, (unsigned long long)st->free_bytes,
              (unsigned long long)st->punched_bytes);
}

/* ---- a burst, collected ---------------------------------------------------------- */

/* What stays on disk besides live data: the space the file reserved past
 * the bump pointer (growth runs ahead by up to an eighth, and stays backed:
 * F15), the pages a free block's header or a live block share with free
 * space, and the short gaps, which are not worth a punch.  2 MiB covers the
 * last two for this heap with room to spare; punching nothing leaves the
 * whole burst (~40 MB with its garbage) on disk. */
static void assert_space_back(eve_domain *d, const eve_stats *peak, const eve_stats *st) {
  uint64_t reserved = st->file_bytes - bump(d);
  cr_assert_geq(st->file_bytes, peak->file_bytes, "the file never shrinks");
  cr_assert_leq(st->disk_bytes, st->live_bytes + reserved + 2 * MIB,
                "disk %llu bytes for %llu live and %llu reserved: the burst did not go back",
                (unsigned long long)st->disk_bytes, (unsigned long long)st->live_bytes,
                (unsigned long long)reserved);
  cr_assert_lt(st->disk_bytes, peak->disk_bytes / 3, "disk %llu of a peak of %llu",
               (unsigned long long)st->disk_bytes, (unsigned long long)peak->disk_bytes);
  cr_assert_geq(st->punched_bytes, peak->disk_bytes / 2, "punched %llu of a peak of %llu",
                (unsigned long long)st->punched_bytes, (unsigned long long)peak->disk_bytes);
  cr_assert_leq(st->punched_bytes, st->free_bytes, "punched space is free space");
}

/* A burst: build a large map, replace it, collect.  Then the same again
 * into the punched space: the data round-trips, the file does not grow
 * for it, and the disk comes back up. */
static void burst_case(eve_domain *d) {
  set_blob(d, "keep", 3000, 'k');
  build_burst(d, "big", 1, BURST_KEYS);
  eve_stats peak = stats(d);
  log_stats("burst built", &peak);
  cr_assert_gt(peak.disk_bytes, 12 * MIB, "the burst is on disk (%llu bytes)",
               (unsigned long long)peak.disk_bytes);
  build_burst(d, "big", 2, 100); /* the burst becomes garbage */
  eve_gc_report rep;
  EVE_OK(eve_gc(d, &rep));
  eve_stats st = stats(d);
  log_stats("after eve_gc", &st);
  assert_space_back(d, &peak, &st);
  verify_blob(d, "keep", 3000, 'k');
  verify_burst(d, "big", 2, 100);
  t_assert_exact(d, "after the burst was collected");

  /* the same burst again: it lands in the punched space, backed first */
  build_burst(d, "big", 3, BURST_KEYS);
  eve_stats again = stats(d);
  log_stats("burst rebuilt", &again);
  cr_assert_leq(again.file_bytes, peak.file_bytes + peak.file_bytes / 8,
                "the rebuilt burst reused the punched space (file %llu, was %llu)",
                (unsigned long long)again.file_bytes, (unsigned long long)peak.file_bytes);
  cr_assert_gt(again.disk_bytes, st.disk_bytes + 10 * MIB, "the new burst is on disk");
  verify_burst(d, "big", 3, BURST_KEYS);
  verify_blob(d, "keep", 3000, 'k');
  t_assert_exact(d, "after the burst was rebuilt in punched space");
}

/* A file domain: disk bytes fall back near live bytes after a burst is
 * collected, the file keeps its size, everything reads back, the check
 * is exact, and the space is reused. */
Test(space, burst_goes_back_to_the_file_system, .timeout = 120) {
  char *dir = t_tmpdir();
  eve_domain *d = NULL;
  EVE_OK(eve_open(t_path(dir, "burst.eve"), NULL, &d));
  burst_case(d);
  EVE_OK(eve_close(d));
  /* a fresh process's view: the holes read as free space, nothing else */
  EVE_OK(eve_open(t_path(dir, "burst.eve"), NULL, &d));
  verify_burst(d, "big", 3, BURST_KEYS);
  t_assert_exact(d, "reopened");
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

/* The same in memory: tmpfs punches too, and gives the RAM back. */
Test(space, burst_goes_back_in_memory, .timeout = 120) {
  eve_domain *d = t_open_mem();
  burst_case(d);
  EVE_OK(eve_close(d));
}

/* ---- large blocks, without a collection ------------------------------------------ */

#define BLOBS 4u
#define BLOB_BYTES (1u << 20)

static void blobs_freed(eve_domain *d, eve_stats *before, eve_stats *after) {
  char name[16];
  for (unsigned i = 0; i < BLOBS; i++) {
    snprintf(name, sizeof name, "blob%u", i);
    set_blob(d, name, BLOB_BYTES, (char)('A' + i));
  }
  *before = stats(d);
  for (unsigned i = 0; i < BLOBS; i++) {
    snprintf(name, sizeof name, "blob%u", i);
    set_nil(d, name);
  }
  *after = stats(d);
}

/* Large blocks freed while a spare of their class already waits are
 * surplus: their pages go back at once, no eve_gc needed.  The first one
 * freed stays backed (the next value of its class reuses it for free).
 * Allocating a punched block backs it again, and the data round-trips. */
Test(space, surplus_large_blocks_go_back_when_freed, .timeout = 60) {
  char *dir = t_tmpdir();
  eve_domain *d = NULL;
  EVE_OK(eve_open(t_path(dir, "blobs.eve"), NULL, &d));
  eve_stats before, after;
  blobs_freed(d, &before, &after);
  log_stats("blobs live", &before);
  log_stats("blobs freed", &after);
  cr_assert_eq(after.retired_bytes, 0, "every blob was freed");
  uint64_t want = (BLOBS - 1) * (uint64_t)(BLOB_BYTES - 2 * 4096);
  cr_assert_geq(after.punched_bytes, want, "punched %llu, want at least %llu",
                (unsigned long long)after.punched_bytes, (unsigned long long)want);
  cr_assert_lt(after.punched_bytes, BLOBS * (uint64_t)BLOB_BYTES, "the first one stays backed");
  cr_assert_leq(after.disk_bytes + want, before.disk_bytes, "disk %llu, was %llu",
                (unsigned long long)after.disk_bytes, (unsigned long long)before.disk_bytes);
  cr_assert_eq(after.file_bytes, before.file_bytes);
  t_assert_exact(d, "blobs freed");
  /* every blob again: the punched blocks are backed and reused */
  char name[16];
  for (unsigned i = 0; i < BLOBS; i++) {
    snprintf(name, sizeof name, "blob%u", i);
    set_blob(d, name, BLOB_BYTES, (char)('a' + i));
  }
  eve_stats again = stats(d);
  log_stats("blobs again", &again);
  cr_assert_eq(again.file_bytes, before.file_bytes, "the blobs reused their blocks");
  cr_assert_eq(again.punched_bytes, 0);
  for (unsigned i = 0; i < BLOBS; i++) {
    snprintf(name, sizeof name, "blob%u", i);
    verify_blob(d, name, BLOB_BYTES, (char)('a' + i));
  }
  t_assert_exact(d, "blobs again");
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

/* A read-only handle never punches (nor frees): its stats still show the
 * holes the writer made. */
Test(space, read_only_handles_see_the_holes) {
  char *dir = t_tmpdir();
  char *path = t_path(dir, "ro.eve");
  eve_domain *d = NULL, *ro = NULL;
  EVE_OK(eve_open(path, NULL, &d));
  eve_stats before, after;
  blobs_freed(d, &before, &after);
  EVE_OK(eve_close(d));
  eve_options o = {.flags = EVE_OPEN_EXISTING | EVE_OPEN_RDONLY};
  EVE_OK(eve_open(path, &o, &ro));
  eve_stats st;
  EVE_OK(eve_stats_get(ro, &st));
  cr_assert_eq(st.punched_bytes, after.punched_bytes);
  cr_assert_lt(st.disk_bytes, st.file_bytes);
  EVE_OK(eve_close(ro));
  t_rmdir(dir);
}

/* ---- a full disk ---------------------------------------------------------------- */

static char g_mounted[64];

static void unmount_small_disk(void) {
  if (g_mounted[0] && umount2(g_mounted, MNT_DETACH) == 0) t_rmdir(g_mounted);
  g_mounted[0] = 0;
}

static char *mount_small_disk(const char *size) {
  char *dir = t_tmpdir();
  char opts[32];
  snprintf(opts, sizeof opts, "size=%s", size);
  if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
    int e = errno;
    t_rmdir(dir);
    cr_skip_test("cannot mount a %s tmpfs (%s): the full-disk test needs root", size, strerror(e));
  }
  snprintf(g_mounted, sizeof g_mounted, "%s", dir);
  return dir;
}

/* Fill the file system with another file until it is full. */
static void fill_disk(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert_geq(fd, 0);
  static char buf[64 << 10];
  memset(buf, 'x', sizeof buf);
  while (write(fd, buf, sizeof buf) > 0) {
  }
  while (write(fd, buf, 4096) > 0) {
  }
  cr_assert_eq(errno, ENOSPC, "the filler stopped with %s", strerror(errno));
  close(fd);
}

/* Commit small strings, one per transaction, into atom "fill" (a vector)
 * until the API reports an error; returns how many were committed. */
static unsigned fill_small(eve_domain *d, unsigned start, int *last_rc) {
  char buf[200];
  for (unsigned i = start;; i++) {
    eve_txn *t = t_wtxn(d);
    eve_val old = t_deref(d, t, "fill"), s, v;
    snprintf(buf, sizeof buf, "small string number %u, long enough to be a block", i);
    int rc = eve_string(t, buf, strlen(buf), &s);
    if (!rc) rc = eve_vec_conj(t, old, s, &v);
    if (!rc) {
      eve_atom *a = NULL;
      rc = eve_atom_open(d, "fill", 0, &a);
      if (!rc) rc = eve_reset(t, a, v);
      if (a) EVE_OK(eve_atom_close(a));
    }
    int crc = eve_txn_end(t);
    if (rc || crc) {
      *last_rc = rc ? rc : crc;
      return i - start;
    }
    cr_assert_lt(i - start, 1000000u, "never ran out of space");
  }
}

/* Commit exactly `count` more small strings (there is room). */
static unsigned fill_small_count(eve_domain *d, unsigned start, unsigned count) {
  char buf[200];
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "fill", 0, &a));
  for (unsigned i = start; i < start + count; i++) {
    eve_txn *t = t_wtxn(d);
    eve_val old = t_deref(d, t, "fill"), s, v;
    snprintf(buf, sizeof buf, "small string number %u, long enough to be a block", i);
    EVE_OK(eve_string(t, buf, strlen(buf), &s));
    EVE_OK(eve_vec_conj(t, old, s, &v));
    EVE_OK(eve_reset(t, a, v));
    EVE_OK(eve_txn_end(t));
  }
  EVE_OK(eve_atom_close(a));
  return count;
}

static void verify_small(eve_domain *d, unsigned n) {
  eve_txn *t;
  char want[200];
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val v = t_deref(d, t, "fill");
  uint64_t count;
  EVE_OK(eve_count(t, v, &count));
  cr_assert_eq(count, n, "fill: %llu strings, %u committed", (unsigned long long)count, n);
  for (unsigned i = 0; i < n; i++) {
    eve_val s;
    const char *p;
    size_t len;
    EVE_OK(eve_vec_nth(t, v, i, &s));
    EVE_OK(eve_text_get(t, &s, &p, &len));
    snprintf(want, sizeof want, "small string number %u, long enough to be a block", i);
    cr_assert(len == strlen(want) && memcmp(p, want, len) == 0, "fill: string %u differs", i);
  }
  EVE_OK(eve_txn_end(t));
}

/* Small allocations carve chunks out of the punched gaps eve_gc left.  On a
 * full disk backing such a chunk fails: the allocation is EVE_ENOSPC while
 * punched space remains (it went back to its list), nothing committed is
 * lost, the handle is not damaged (a store into a hole would have been a
 * SIGBUS, EVE_EIO); once there is room again the same space serves. */
Test(space, punched_space_on_a_full_disk_is_enospc, .timeout = 120, .fini = unmount_small_disk) {
  char *dir = mount_small_disk("24m");
  char *path = t_path(dir, "full.eve");
  eve_domain *d = NULL;
  EVE_OK(eve_open(path, NULL, &d));
  build_burst(d, "big", 1, BURST_KEYS / 4);
  build_burst(d, "big", 2, 10);
  EVE_OK(eve_gc(d, NULL));
  eve_stats st = stats(d);
  log_stats("burst collected", &st);
  cr_assert_gt(st.punched_bytes, 3 * MIB);
  {
    eve_txn *t = t_wtxn(d);
    t_publish(d, t, "fill", EVE_V_EMPTY_VECTOR);
    EVE_OK(eve_txn_end(t));
  }
  fill_disk(t_path(dir, "filler"));
  int rc = 0;
  unsigned n = fill_small(d, 0, &rc);
  eve_stats full = stats(d);
  log_stats("disk full", &full);
  cr_assert_eq(rc, EVE_ENOSPC, "filling stopped with %s after %u commits", eve_err_name(rc), n);
  cr_assert_gt(full.punched_bytes, 2 * MIB, "punched space remained: it could not be backed");
  verify_small(d, n);
  verify_burst(d, "big", 2, 10);
  t_assert_exact(d, "disk full");
  /* room again: the same allocations go into the punched space */
  cr_assert_eq(unlink(t_path(dir, "filler")), 0);
  unsigned more = 0;
  eve_stats now = full;
  while (now.punched_bytes >= full.punched_bytes && more < 100000) {
    unsigned got = fill_small_count(d, n + more, 500);
    more += got;
    now = stats(d);
  }
  log_stats("room again", &now);
  cr_assert_lt(now.punched_bytes, full.punched_bytes, "the punched space served again");
  n += more;
  verify_small(d, n);
  EVE_OK(eve_close(d));
  EVE_OK(eve_open(path, NULL, &d));
  verify_small(d, n);
  t_assert_exact(d, "reopened after the full disk");
  EVE_OK(eve_close(d));
  cr_assert_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
  g_mounted[0] = 0;
  t_rmdir(dir);
}

/* Atom `name` := a string of `bytes` bytes of `fill`; the error, if any. */
static int try_blob(eve_domain *d, const char *name, size_t bytes, char fill) {
  char *buf = malloc(bytes);
  cr_assert_not_null(buf);
  memset(buf, fill, bytes);
  eve_txn *t = t_wtxn(d);
  eve_atom *a = NULL;
  eve_val v;
  int rc = eve_string(t, buf, bytes, &v);
  if (!rc) rc = eve_atom_open(d, name, EVE_ATOM_CREATE, &a);
  if (!rc) rc = eve_reset(t, a, v);
  if (a) EVE_OK(eve_atom_close(a));
  int crc = eve_txn_end(t);
  free(buf);
  return rc ? rc : crc;
}

/* A large allocation pops a punched block of its class; on a full disk
 * backing it fails, the block goes back to its list, the backed spare
 * under it serves instead, and once none is left (and the space reserved
 * past the bump pointer is used up too) the allocation is EVE_ENOSPC.  Committed blobs are intact; with room again the punched blocks
 * serve. */
Test(space, punched_large_block_on_a_full_disk_is_enospc, .timeout = 120,
     .fini = unmount_small_disk) {
  char *dir = mount_small_disk("24m");
  char *path = t_path(dir, "blobs.eve");
  eve_domain *d = NULL;
  EVE_OK(eve_open(path, NULL, &d));
  eve_stats before, after;
  blobs_freed(d, &before, &after);
  cr_assert_gt(after.punched_bytes, 2 * MIB);
  fill_disk(t_path(dir, "filler"));
  char name[16];
  unsigned n = 0;
  int rc = 0;
  for (; n < 64; n++) {
    snprintf(name, sizeof name, "new%u", n);
    if ((rc = try_blob(d, name, BLOB_BYTES, (char)('0' + n % 10))) != 0) break;
  }
  eve_stats full = stats(d);
  log_stats("disk full", &full);
  cr_assert_eq(rc, EVE_ENOSPC, "stopped with %s after %u blobs", eve_err_name(rc), n);
  cr_assert_geq(n, 1, "the spare that stayed backed served first");
  cr_assert_gt(full.punched_bytes, 0, "a punched block remained: it could not be backed");
  for (unsigned i = 0; i < n; i++) {
    snprintf(name, sizeof name, "new%u", i);
    verify_blob(d, name, BLOB_BYTES, (char)('0' + i % 10));
  }
  t_assert_exact(d, "disk full");
  cr_assert_eq(unlink(t_path(dir, "filler")), 0);
  snprintf(name, sizeof name, "new%u", n);
  EVE_OK(try_blob(d, name, BLOB_BYTES, 'z'));
  eve_stats room = stats(d);
  log_stats("room again", &room);
  cr_assert_lt(room.punched_bytes, full.punched_bytes, "the punched block served");
  cr_assert_eq(room.file_bytes, full.file_bytes, "without growing the file");
  verify_blob(d, name, BLOB_BYTES, 'z');
  EVE_OK(eve_close(d));
  EVE_OK(eve_open(path, NULL, &d));
  for (unsigned i = 0; i < n; i++) {
    snprintf(name, sizeof name, "new%u", i);
    verify_blob(d, name, BLOB_BYTES, (char)('0' + i % 10));
  }
  t_assert_exact(d, "reopened after the full disk");
  EVE_OK(eve_close(d));
  cr_assert_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
  g_mounted[0] = 0;
  t_rmdir(dir);
}

/* ---- trimming: a stalled reader's garbage goes back online ------------------------
 * A snapshot held while a writer updates random keys of a map keeps every
 * replaced version; once it ends, reclamation frees them into the free
 * lists, scattered among the live blocks, and the disk stays full.
 * eve_trim, with another writer running beside it, merges the free
 * neighbours and returns the whole pages: disk bytes fall near the live
 * bytes, the map reads back, and the check is exact. */
#define TRIM_KEYS 2000u

typedef struct trim_writer {
  eve_domain *d;
  unsigned gen, rounds;
  const char *failed;
} trim_writer;

/* Update key (i * 7919) % TRIM_KEYS of atom a to burst_text(gen, key), or
 * with `churn`, to a text that differs on every call (an equal value would
 * change nothing and retire nothing). */
static const char *update_one(eve_domain *d, eve_atom *a, unsigned gen, unsigned i, int churn) {
  eve_txn *t;
  if (eve_txn_begin(d, EVE_TXN_WRITE, &t)) return "txn_begin";
  char buf[TEXT_BYTES];
  unsigned key = (i * 7919u) % TRIM_KEYS;
  burst_text(buf, churn ? gen * 1000000u + i : gen, key);
  eve_val m, k, v;
  const char *why = NULL;
  if (eve_deref(t, a, &m) || eve_int(t, key, &k) || eve_string(t, buf, sizeof buf, &v) ||
      eve_map_assoc(t, m, k, v, &m) || eve_reset(t, a, m))
    why = "update";
  eve_txn_end(t);
  return why;
}

static void *trim_writer_run(void *arg) {
  trim_writer *w = arg;
  eve_atom *a;
  if (eve_atom_open(w->d, "other", EVE_ATOM_CREATE, &a)) {
    w->failed = "atom_open";
    return NULL;
  }
  for (unsigned i = 0; i < w->rounds && !w->failed; i++) w->failed = update_one(w->d, a, w->gen, i, 1);
  eve_atom_close(a);
  return NULL;
}

static void trim_case(eve_domain *d) {
  build_burst(d, "m", 1, TRIM_KEYS);
  build_burst(d, "other", 1, TRIM_KEYS);
  eve_atom *a;
  EVE_OK(eve_atom_open(d, "m", 0, &a));
  eve_txn *stalled;
  EVE_OK(eve_txn_begin(d, EVE_TXN_SNAPSHOT, &stalled));
  unsigned rounds = 60000; /* not scaled: the share given back depends on it */
  for (unsigned i = 0; i < rounds; i++) cr_assert_null(update_one(d, a, 2, i, 1));
  eve_stats held = stats(d);
  log_stats("while a snapshot is held", &held);
  EVE_OK(eve_txn_end(stalled));
  for (unsigned i = 0; i < 200; i++) cr_assert_null(update_one(d, a, 2, rounds + i, 1));
  eve_stats freed = stats(d);
  log_stats("snapshot ended, garbage freed", &freed);
  cr_assert_gt(freed.free_bytes, held.live_bytes, "the held garbage is free now");

  trim_writer w = {d, 3, (unsigned)t_scale(3000), NULL};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, trim_writer_run, &w), 0);
  uint64_t back;
  EVE_OK(eve_trim(d, &back));
  pthread_join(th, NULL);
  cr_assert_null(w.failed, "the writer beside the trim: %s", w.failed);
  eve_stats st = stats(d);
  log_stats("after eve_trim", &st);
  cr_log_info("eve_trim: disk fell by %llu bytes", (unsigned long long)back);
  /* What stays: the live blocks, the reserved tail, and runs shorter than
   * a punchable block (32 KiB) between live blocks: about 8% of the garbage
   * here.  Without eve_trim the disk does not fall at all. */
  cr_assert_geq(back, freed.free_bytes / 10 * 8, "eve_trim gave back %llu of %llu free bytes",
                (unsigned long long)back, (unsigned long long)freed.free_bytes);
  cr_assert_leq(st.disk_bytes, freed.disk_bytes / 4, "disk %llu, was %llu",
                (unsigned long long)st.disk_bytes, (unsigned long long)freed.disk_bytes);
  cr_assert_geq(st.file_bytes, held.file_bytes, "the file keeps its size");
  t_assert_exact(d, "after eve_trim beside a writer");
  /* the space serves again: more updates, and every entry reads back */
  for (unsigned i = 0; i < TRIM_KEYS; i++) cr_assert_null(update_one(d, a, 4, i, 0));
  eve_txn *t;
  EVE_OK(eve_txn_begin(d, EVE_TXN_READ, &t));
  eve_val m = t_deref(d, t, "m");
  char want[TEXT_BYTES];
  for (unsigned i = 0; i < TRIM_KEYS; i++) {
    eve_val k, v;
    const char *p;
    size_t len;
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_map_get(t, m, k, &v));
    EVE_OK(eve_text_get(t, &v, &p, &len));
    burst_text(want, 4, i);
    cr_assert(len == TEXT_BYTES && memcmp(p, want, len) == 0, "entry %u differs", i);
  }
  EVE_OK(eve_txn_end(t));
  cr_assert_leq(stats(d).file_bytes, st.file_bytes + st.file_bytes / 8, "reused the trimmed space");
  t_assert_exact(d, "after reuse");
  EVE_OK(eve_atom_close(a));
}

Test(space, trim_gives_a_stalled_readers_garbage_back_online, .timeout = 120) {
  char *dir = t_tmpdir();
  eve_domain *d = NULL;
  eve_options o = {.max_size = 1ull << 30};
  EVE_OK(eve_open(t_path(dir, "trim.eve"), &o, &d));
  trim_case(d);
  EVE_OK(eve_close(d));
  t_rmdir(dir);
}

Test(space, trim_in_memory_and_its_errors) {
  eve_domain *d = t_open_mem();
  trim_case(d);
  EVE_ERR(eve_trim(NULL, NULL), EVE_EINVAL);
  EVE_OK(eve_trim(d, NULL));
  EVE_OK(eve_close(d));
}
