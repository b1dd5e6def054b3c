/* atom.c — named atoms: the registry, cells, swap / reset / compare-and-set,
 * deref and wait.
 *
 * The registry is a persistent map in the domain, name (string) -> [cell
 * generation] (a vector of two integers), whose root word is the header's
 * `root`.  It changes through the same commit as any atom, so it has no
 * fixed size and costs O(log32 n) per change.  Its edges to cells are plain
 * integers, not block words: the commit never walks into a cell, and cells
 * are never counted as owned (docs/RECLAMATION.md, F11).
 *
 * Cells and removal
 * -----------------
 * Cells live in pages that only ever hold cells, so a handle can keep a
 * cell's offset forever: the memory stays a cell.  Every operation on a
 * handle runs in a pinned transaction and checks the cell's generation
 * against the handle's first.  Removal CASes a tombstone into the root (a
 * racing swap then fails its CAS and sees the tombstone), bumps the
 * generation, drops the registry entry, and retires the cell through the
 * epochs: the cell is reused only once no transaction that could have
 * passed the generation check is still pinned.  That closes the ABA of a
 * reused cell whose new atom's root is again 0 or nil (docs/RECLAMATION.md,
 * F11).
 */
#define _GNU_SOURCE
#include "atom.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "epoch.h"
#include "value.h"

#define NAME_MAX_BYTES 4096u
#define WAIT_SLICE_MS 100 /* futex sleeps are bounded: a writer killed before
                             its wake must not strand waiters
                             (docs/RECLAMATION.md, F14: lost wake-up) */

struct eve_atom {
  eve_domain *d;
  uint64_t cell;
  uint64_t generation;
};

/* ---- transactions of the atom layer ----------------------------------------- */

static int txn_usable(eve_txn *t, eve_domain *d) {
  if (!t) return EVE_EINVAL;
  if (t->fork_gen != region_fork_gen()) return EVE_EFORKED;
  if (t->d != d) return EVE_ETXN;
  return t->err;
}

/* The transaction of a call that has entered the guard already. */
static int with_txn(eve_domain *d, unsigned flags, eve_txn **t) {
  return txn_begin_internal(d, flags, t);
}

/* ---- the registry ------------------------------------------------------------- */

static int name_value(eve_txn *t, const char *name, size_t n, eve_val *out) {
  if (n == 0 || n > NAME_MAX_BYTES) return EVE_EINVAL;
  return eve_string(t, name, n, out); /* EVE_EINVAL if not UTF-8 */
}

/* A system atom's name begins with a NUL byte, which no name a user can
 * pass (NUL-terminated) does. */
static int is_system_name(const char *s, size_t n) { return n > 0 && s[0] == '\0'; }

/* The cell and generation an entry [cell gen] names. */
static int registry_entry(eve_txn *t, eve_val entry, uint64_t *cell, uint64_t *gen) {
  eve_val c, g;
  int64_t ci, gi;
  int rc;
  if ((rc = eve_vec_nth(t, entry, 0, &c)) || (rc = eve_vec_nth(t, entry, 1, &g)) ||
      (rc = eve_int_get(t, c, &ci)) || (rc = eve_int_get(t, g, &gi)))
    return rc == EVE_ETYPE || rc == EVE_ERANGE ? txn_fail(t, EVE_ECORRUPT) : rc;
  if (ci <= 0 || ci % 64 || !region_contains(t->d, (uint64_t)ci, sizeof(atom_cell)))
    return txn_fail(t, EVE_ECORRUPT);
  *cell = (uint64_t)ci;
  *gen = (uint64_t)gi;
  return 0;
}

/* The registry entry for key: its cell and generation; EVE_ENOTFOUND. */
static int registry_lookup(eve_txn *t, eve_val reg, eve_val key, uint64_t *cell, uint64_t *gen) {
  if (reg == EVE_V_NIL) return EVE_ENOTFOUND;
  eve_val entry;
  int rc = eve_map_get(t, reg, key, &entry);
  return rc ? rc : registry_entry(t, entry, cell, gen);
}

/* The same lookup by the name's bytes: builds no key, so it allocates
 * nothing and works in a read transaction. */
static int registry_find(eve_txn *t, eve_val reg, const char *name, size_t n, uint64_t *cell,
                         uint64_t *gen) {
  if (reg == EVE_V_NIL) return EVE_ENOTFOUND;
  eve_val entry;
  int rc = eve_map_get_text(t, reg, EVE_STRING, name, n, &entry);
  return rc ? rc : registry_entry(t, entry, cell, gen);
}

/* Replace the registry by f(registry) with a commit, retrying on conflict. */
typedef int (*registry_fn)(eve_txn *t, eve_val reg, void *arg, eve_val *out);

static int registry_swap(eve_txn *t, registry_fn fn, void *arg) {
  _Atomic uint64_t *root = &t->d->hdr->root;
  for (;;) {
    size_t mark = t->nfresh;
    eve_val reg = atomic_load(root), next;
    int rc = fn(t, reg, arg, &next);
    int won = 0;
    if (!rc) rc = commit_publish(t, root, NULL, reg, &next, mark, &won);
    if (rc || won) return rc;
    sched_yield();
  }
}

typedef struct reg_arg { eve_val key, entry; } reg_arg;

static int reg_assoc(eve_txn *t, eve_val reg, void *arg, eve_val *out) {
  reg_arg *a = arg;
  return eve_map_assoc(t, reg, a->key, a->entry, out);
}

/* ---- open / close / remove ------------------------------------------------------ */

static int make_entry(eve_txn *t, uint64_t cell, uint64_t gen, eve_val *out) {
  eve_val c, g;
  int rc;
  if ((rc = eve_int(t, (int64_t)cell, &c)) || (rc = eve_int(t, (int64_t)gen, &g)) ||
      (rc = eve_vec_conj(t, EVE_V_EMPTY_VECTOR, c, out)) || (rc = eve_vec_conj(t, *out, g, out)))
    return rc;
  return 0;
}

/* Create the atom: a fresh cell, published by adding it to the registry.
 * Returns EVE_EEXIST if another process created it first (caller retries). */
static int create_atom(eve_txn *t, eve_val key, uint64_t *cell, uint64_t *gen) {
  eve_domain *d = t->d;
  int rc = cell_get(d, cell);
  if (rc) return rc;
  atom_cell *c = cell_at(d, *cell);
  *gen = atomic_load(&c->generation) + 1;
  atomic_store(&c->root, EVE_V_NIL);
  atomic_store(&c->version, 0);
  atomic_store(&c->seq, 0);
  atomic_store(&c->generation, *gen);
  _Atomic uint64_t *root = &d->hdr->root;
  for (;;) {
    size_t mark = t->nfresh;
    eve_val reg = atomic_load(root), next;
    uint64_t other, og;
    rc = registry_lookup(t, reg, key, &other, &og);
    if (rc == 0) rc = EVE_EEXIST; /* lost the race: the unpublished cell goes back */
    if (rc != EVE_ENOTFOUND) break;
    reg_arg a = {key, 0};
    int won = 0;
    if ((rc = make_entry(t, *cell, *gen, &a.entry)) || (rc = reg_assoc(t, reg, &a, &next)) ||
        (rc = commit_publish(t, root, NULL, reg, &next, mark, &won)))
      break;
    if (won) return 0;
  }
  cell_push(d, *cell);
  return rc;
}

/* The futex word: the low half of the version, so the commit's one atomic
 * add both publishes the change and moves the word a sleeper compares. */
static uint32_t *futex_word(atom_cell *c) {
  _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "low half first");
  return (uint32_t *)(void *)&c->version;
}

/* After a change: wake sleepers if there are any.  The version was bumped
 * by the commit (seq_cst, so ordered before the load of waiters here). */
static void wake_waiters(atom_cell *c) {
  if (atomic_load(&c->waiters))
    syscall(SYS_futex, futex_word(c), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A change that is no commit (removal's generation bump): bump and wake. */
static void notify(atom_cell *c) {
  atomic_fetch_add(&c->version, 1);
  wake_waiters(c);
}

/* ---- removal, a protocol anyone can finish ---------------------------------
 *
 * Removing an atom takes three steps: (1) CAS the tombstone into the root,
 * through the commit, which retires the value; (2) CAS the generation from
 * g to g + 1, so handles see the atom gone; (3) drop the registry entry
 * [cell g], through a registry commit, whose winner retires the cell.  A
 * remover can stop (or die) between any two steps.  Whoever meets a
 * tombstoned cell — another remover, an open — finishes steps 2 and 3
 * instead of waiting for it: each step is a CAS or a commit that succeeds
 * once, so the helper and a remover that resumes cannot both do one.  A
 * cell whose generation disagrees with its entry while its root is no
 * tombstone is damage, not a removal: EVE_ECORRUPT, and nothing removed. */

typedef struct drop_arg {
  eve_val key;
  uint64_t cell, gen;
  int dropped;  /* this commit removed the entry: it retires the cell */
} drop_arg;

/* Remove the entry only if it still names this cell and generation: the
 * name may already have been removed, or re-created with another cell. */
static int reg_drop_entry(eve_txn *t, eve_val reg, void *arg, eve_val *out) {
  drop_arg *a = arg;
  uint64_t cell, gen;
  a->dropped = 0;
  *out = reg;
  int rc = registry_lookup(t, reg, a->key, &cell, &gen);
  if (rc == EVE_ENOTFOUND || (!rc && (cell != a->cell || gen != a->gen))) return 0;
  if (rc) return rc;
  a->dropped = 1;
  return eve_map_dissoc(t, reg, a->key, out);
}

/* Steps 2 and 3 for the entry [cell gen] whose cell holds a tombstone. */
static int finish_removal(eve_txn *t, eve_val key, uint64_t cell, uint64_t gen) {
  atom_cell *c = cell_at(t->d, cell);
  uint64_t g = gen;
  if (atomic_compare_exchange_strong(&c->generation, &g, gen + 1)) notify(c);
  else if (g != gen + 1) return txn_fail(t, EVE_ECORRUPT);
  drop_arg a = {key, cell, gen, 0};
  int rc = registry_swap(t, reg_drop_entry, &a);
  if (!rc && a.dropped) rc = epoch_retire(t->d, cell | 1, gen + 1, epoch_tag(t->d));
  return rc;
}

/* What the cell of entry [cell gen] says about its atom: 0 live, 1 being
 * removed (tombstoned), or EVE_ECORRUPT. */
static int cell_state(eve_domain *d, uint64_t cell, uint64_t gen) {
  atom_cell *c = cell_at(d, cell);
  uint64_t g = atomic_load(&c->generation);
  int tomb = atomic_load(&c->root) == ATOM_TOMBSTONE;
  if (g == gen && !tomb) return 0;
  if (tomb && (g == gen || g == gen + 1)) return 1;
  return EVE_ECORRUPT;
}

static int new_handle(eve_domain *d, uint64_t cell, uint64_t gen, eve_atom **out) {
  eve_atom *a = malloc(sizeof *a);
  if (!a) return EVE_ENOMEM;
  *a = (eve_atom){d, cell, gen};
  *out = a;
  return 0;
}

/* Open an existing atom: a read transaction and a lookup by the name's
 * bytes, so it allocates nothing in the domain and works read-only.  An
 * atom being removed (its cell tombstoned) is gone: EVE_ENOTFOUND (its
 * remover, or the next writer to meet it, finishes the removal). */
static int atom_find(eve_domain *d, const char *name, size_t n, eve_atom **out) {
  eve_txn *t;
  int rc = with_txn(d, EVE_TXN_READ, &t);
  if (rc) return rc;
  uint64_t cell = 0, gen = 0;
  rc = registry_find(t, atomic_load(&d->hdr->root), name, n, &cell, &gen);
  if (!rc) {
    int state = cell_state(d, cell, gen);
    rc = state < 0 ? txn_fail(t, state) : state == 1 ? EVE_ENOTFOUND : 0;
  }
  if (!rc) rc = new_handle(d, cell, gen, out);
  eve_txn_end(t);
  return rc;
}

/* Open or create: a write transaction, since creating builds the key and
 * the registry entry (nothing is published unless the atom is created). */
static int atom_open_or_create(eve_domain *d, const char *name, size_t n, eve_atom **out) {
  eve_txn *t;
  int rc = with_txn(d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val key = EVE_V_NIL;
  uint64_t cell = 0, gen = 0;
  if ((rc = name_value(t, name, n, &key)) != 0) goto out;
  for (int spins = 0;; spins++) {
    rc = registry_lookup(t, atomic_load(&d->hdr->root), key, &cell, &gen);
    if (rc == 0) {
      int state = cell_state(d, cell, gen);
      if (state == 0) break;
      if (state < 0) {
        rc = txn_fail(t, state);
        goto out;
      }
      /* being removed: finish the removal, then look again */
      if ((rc = finish_removal(t, key, cell, gen)) != 0) goto out;
      rc = EVE_EBUSY;
    } else if (rc == EVE_ENOTFOUND) {
      rc = create_atom(t, key, &cell, &gen);
      if (rc == 0) break;
      if (rc != EVE_EEXIST) goto out;
    } else {
      goto out;
    }
    if (spins > 100000) goto out; /* a remover stopped half-way: EVE_EBUSY */
    sched_yield();
  }
  rc = new_handle(d, cell, gen, out);
out:
  eve_txn_end(t);
  return rc;
}

static int atom_open(eve_domain *d, const char *name, unsigned flags, eve_atom **out) {
  size_t n = strnlen(name, NAME_MAX_BYTES + 1);
  if (n == 0 || n > NAME_MAX_BYTES) return EVE_EINVAL;
  int rc = atom_find(d, name, n, out);
  if (rc != EVE_ENOTFOUND || !(flags & EVE_ATOM_CREATE)) return rc;
  if (d->read_only) return EVE_ETXN;
  return atom_open_or_create(d, name, n, out);
}

int atom_open_system(eve_domain *d, const char *name, size_t n, eve_atom **out) {
  if (!is_system_name(name, n)) return EVE_EINVAL;
  *out = NULL;
  int rc = atom_find(d, name, n, out);
  if (rc != EVE_ENOTFOUND) return rc;
  if (d->read_only) return EVE_ETXN;
  return atom_open_or_create(d, name, n, out);
}

int eve_atom_open(eve_domain *d, const char *name, unsigned flags, eve_atom **out) {
  if (!d || !name || !out || (flags & ~(unsigned)EVE_ATOM_CREATE)) return EVE_EINVAL;
  *out = NULL;
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, atom_open(d, name, flags, out));
  if (rc && *out) { /* found in a domain that was cut off meanwhile */
    free(*out);
    *out = NULL;
  }
  guard_leave(&call);
  return rc;
}

int eve_atom_close(eve_atom *a) {
  if (!a) return EVE_EINVAL;
  free(a);
  return 0;
}

static int atom_remove(eve_domain *d, const char *name) {
  if (d->read_only) return EVE_ETXN;
  eve_txn *t;
  int rc = with_txn(d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val key;
  uint64_t cell, gen;
  if ((rc = name_value(t, name, strnlen(name, NAME_MAX_BYTES + 1), &key)) != 0) goto out;
  for (;;) {
    if ((rc = registry_lookup(t, atomic_load(&d->hdr->root), key, &cell, &gen)) != 0) goto out;
    int state = cell_state(d, cell, gen);
    if (state < 0) {
      rc = txn_fail(t, state);
      goto out;
    }
    if (state == 1) { /* someone else's removal: finish it; the atom is gone */
      if ((rc = finish_removal(t, key, cell, gen)) == 0) rc = EVE_ENOTFOUND;
      goto out;
    }
    atom_cell *c = cell_at(d, cell);
    eve_val old = atomic_load(&c->root), tomb = ATOM_TOMBSTONE;
    int won = 0;
    if ((rc = commit_publish(t, &c->root, &c->version, old, &tomb, t->nfresh, &won)) != 0) goto out;
    if (won) break;
  }
  rc = finish_removal(t, key, cell, gen);
out:
  eve_txn_end(t);
  return rc;
}

int eve_atom_remove(eve_domain *d, const char *name) {
  if (!d || !name) return EVE_EINVAL;
  guard_node call = {0};
  int rc = guard_enter(d, &call);
  if (rc) return rc;
  rc = region_error(d, atom_remove(d, name));
  guard_leave(&call);
  return rc;
}

/* Names come sorted by bytes, in place: a heapsort, which needs no memory
 * (qsort may allocate). */
static void sift_down(eve_txn *t, eve_val *v, size_t i, size_t n) {
  for (;;) {
    size_t big = i, l = 2 * i + 1, r = l + 1;
    if (l < n && val_compare(t, v[l], v[big]) > 0) big = l;
    if (r < n && val_compare(t, v[r], v[big]) > 0) big = r;
    if (big == i) return;
    eve_val x = v[i];
    v[i] = v[big];
    v[big] = x;
    i = big;
  }
}

static void sort_names(eve_txn *t, eve_val *v, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(t, v, i, n);
  for (size_t end = n; end > 1; end--) {
    eve_val x = v[0];
    v[0] = v[end - 1];
    v[end - 1] = x;
    sift_down(t, v, 0, end - 1);
  }
}

/* Calls fn(ctx, key) for every key of the registry; a non-zero return
 * stops the walk and is returned.  A key that is not a string is damage. */
static int each_registry_key(eve_txn *t, int (*fn)(void *ctx, eve_txn *t, eve_val key),
                             void *ctx) {
  int rc = txn_usable(t, t->d);
  if (rc) return rc;
  eve_val reg = atomic_load(&t->d->hdr->root), key;
  if (reg == EVE_V_NIL) return 0;
  eve_iter it;
  if ((rc = eve_iter_init(t, reg, &it)) != 0) return rc == EVE_ETYPE ? txn_fail(t, EVE_ECORRUPT) : rc;
  while ((rc = eve_iter_next(&it, &key, NULL)) == 0) {
    eve_type type;
    if ((rc = eve_type_get(t, key, &type)) != 0) return rc;
    if (type != EVE_STRING) return txn_fail(t, EVE_ECORRUPT);
    const char *s;
    size_t n;
    if ((rc = eve_text_get(t, &key, &s, &n)) != 0) return rc;
    if (is_system_name(s, n)) continue; /* not the user's: see atom_open_system */
    if ((rc = fn(ctx, t, key)) != 0) return rc;
  }
  return rc == EVE_END ? t->err : rc;
}

typedef struct names_out {
  eve_val *names;
  size_t cap, count;
} names_out;

static int collect_name(void *ctx, eve_txn *t, eve_val key) {
  (void)t;
  names_out *o = ctx;
  if (o->count < o->cap) o->names[o->count] = key;
  o->count++;
  return 0;
}

int eve_atom_names(eve_txn *t, eve_val *names, size_t cap, size_t *count) {
  if (!t || !count || (cap && !names)) return EVE_EINVAL;
  names_out o = {names, cap, 0};
  int rc = each_registry_key(t, collect_name, &o);
  if (rc) return rc;
  if (o.count <= cap) sort_names(t, names, o.count);
  *count = o.count;
  return t->err;
}

typedef struct each_name {
  eve_name_fn fn;
  void *ctx;
} each_name;

static int call_with_text(void *ctx, eve_txn *t, eve_val key) {
  each_name *e = ctx;
  const char *s;
  size_t n;
  int rc = eve_text_get(t, &key, &s, &n);
  return rc ? rc : e->fn(e->ctx, s, n);
}

int eve_atom_names_each(eve_txn *t, eve_name_fn fn, void *ctx) {
  if (!t || !fn) return EVE_EINVAL;
  each_name e = {fn, ctx};
  return each_registry_key(t, call_with_text, &e);
}

/* ---- reading and changing ------------------------------------------------------------ */

/* The handle's cell, after checking that its atom still exists.  The txn
 * is pinned, so a cell that passes this check is not reused meanwhile. */
static int live_cell(eve_txn *t, eve_atom *a, atom_cell **out) {
  if (!a) return EVE_EINVAL;
  int rc = txn_usable(t, a->d);
  if (rc) return rc;
  atom_cell *c = cell_at(a->d, a->cell);
  /* a generation of zeros: the file was cut off, not the atom removed */
  if (atomic_load(&c->generation) != a->generation) return region_error(a->d, EVE_EREMOVED);
  *out = c;
  return 0;
}

int eve_deref(eve_txn *t, eve_atom *a, eve_val *out) {
  atom_cell *c;
  if (!out) return EVE_EINVAL;
  int rc = live_cell(t, a, &c);
  if (rc) return rc;
  eve_val v = atomic_load(&c->root);
  if (v == ATOM_TOMBSTONE) return EVE_EREMOVED;
  *out = v;
  return 0;
}

int eve_atom_version_get(eve_atom *a, uint64_t *out) {
  if (!a || !out) return EVE_EINVAL;
  guard_node call = {0};
  int rc = guard_enter(a->d, &call);
  if (rc) return rc;
  atom_cell *c = cell_at(a->d, a->cell);
  /* removed: tombstoned, or its cell released (another generation) */
  int removed = atomic_load(&c->generation) != a->generation ||
                atomic_load(&c->root) == ATOM_TOMBSTONE;
  *out = atomic_load(&c->version);
  guard_leave(&call);
  rc = region_damage(a->d);
  return rc ? rc : removed ? EVE_EREMOVED : 0;
}

/* Jittered exponential backoff between retries: spin, then yield, then sleep. */
static void backoff(unsigned attempt, uint64_t *rng) {
  *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
  unsigned spread = attempt < 10 ? 1u << attempt : 1024u;
  unsigned r = (unsigned)(*rng >> 33) % spread;
  if (attempt < 4) {
    for (volatile unsigned i = 0; i < r * 16; i++) {}
  } else if (attempt < 12) {
    sched_yield();
  } else {
    struct timespec ts = {0, (long)(r + 1) * 1000};
    nanosleep(&ts, NULL);
  }
}

static int enter_swap(eve_txn *t, uint64_t cell) {
  for (int i = 0; i < t->swap_depth && i < 8; i++)
    if (t->swapping[i] == cell) return EVE_EREENTRY;
  if (t->swap_depth >= 8) return EVE_EDEPTH;
  t->swapping[t->swap_depth++] = cell;
  return 0;
}

/* One swap: the loop shared by swap, reset and compare-and-set.  With
 * expected != NULL, a single attempt that fails unless the root holds it. */
static int swap_loop(eve_txn *t, eve_atom *a, eve_swap_fn fn, void *arg, const eve_val *expected,
                     eve_val *old_out, eve_val *out) {
  atom_cell *c;
  int rc = live_cell(t, a, &c);
  if (rc) return rc;
  if ((rc = txn_writable(t)) != 0) return rc;
  if ((rc = enter_swap(t, a->cell)) != 0) return rc;
  uint64_t rng = (uint64_t)(uintptr_t)t ^ a->cell;
  for (unsigned attempt = 0;; attempt++) {
    size_t mark = t->nfresh;
    eve_val old = atomic_load(&c->root), next;
    if (old == ATOM_TOMBSTONE || atomic_load(&c->generation) != a->generation) {
      rc = EVE_EREMOVED;
      break;
    }
    if (expected && old != *expected) {
      rc = EVE_ECONFLICT;
      break;
    }
    int won = 0;
    rc = fn(t, old, arg, &next);
    if (!rc && t->err) rc = t->err;
    if (!rc) rc = commit_publish(t, &c->root, &c->version, old, &next, mark, &won);
    else { /* the function failed: drop what this attempt built */
      eve_val same = old;
      int ignored;
      commit_publish(t, &c->root, NULL, old, &same, mark, &ignored);
    }
    if (rc) break;
    if (won) {
      if (next != old) wake_waiters(c);
      if (old_out) *old_out = old;
      if (out) *out = next;
      break;
    }
    if (expected) {
      rc = EVE_ECONFLICT;
      break;
    }
    backoff(attempt, &rng);
  }
  if (--t->swap_depth == 0) txn_compact_fresh(t);
  return rc;
}

int eve_swap(eve_txn *t, eve_atom *a, eve_swap_fn fn, void *arg, eve_val *out) {
  if (!fn) return EVE_EINVAL;
  return swap_loop(t, a, fn, arg, NULL, NULL, out);
}

int eve_swap_vals(eve_txn *t, eve_atom *a, eve_swap_fn fn, void *arg, eve_val *old,
                  eve_val *out) {
  if (!fn) return EVE_EINVAL;
  return swap_loop(t, a, fn, arg, NULL, old, out);
}

static int constant_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  (void)t;
  (void)old;
  *out = *(const eve_val *)arg;
  return 0;
}

int eve_reset(eve_txn *t, eve_atom *a, eve_val v) {
  return swap_loop(t, a, constant_fn, &v, NULL, NULL, NULL);
}

int eve_compare_and_set(eve_txn *t, eve_atom *a, eve_val expected, eve_val v) {
  return swap_loop(t, a, constant_fn, &v, &expected, NULL, NULL);
}

/* ---- waiting ------------------------------------------------------------------------ */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_version(eve_atom *a, uint64_t seen, int64_t timeout_ms, uint64_t *now) {
  atom_cell *c = cell_at(a->d, a->cell);
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
  for (;;) {
    if (atomic_load(&c->generation) != a->generation) return EVE_EREMOVED;
    uint64_t v = atomic_load(&c->version);
    if (v != seen) {
      if (now) *now = v;
      return 0;
    }
    int64_t left = deadline == INT64_MAX ? WAIT_SLICE_MS : deadline - mono_ms();
    if (left <= 0) return EVE_ETIMEDOUT;
    if (left > WAIT_SLICE_MS) left = WAIT_SLICE_MS;
    if (a->d->read_only) { /* cannot announce itself: writers won't wake it */
      struct timespec ts = {0, 20 * 1000000};
      nanosleep(&ts, NULL);
      continue;
    }
    /* announce, then re-check the version before sleeping on its low half:
     * a writer bumps the version, then wakes if it sees a waiter; the kernel
     * refuses to sleep if the word moved since our check */
    atomic_fetch_add(&c->waiters, 1);
    if (atomic_load(&c->version) == seen) {
      struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000};
      syscall(SYS_futex, futex_word(c), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0); /* shared */
    }
    atomic_fetch_sub(&c->waiters, 1);
  }
}

/* In the guard for its whole sleep: eve_close of the handle is EVE_EBUSY
 * while a thread waits on one of its atoms. */
int eve_wait(eve_atom *a, uint64_t seen, int64_t timeout_ms, uint64_t *now) {
  if (!a) return EVE_EINVAL;
  guard_node call = {0};
  int rc = guard_enter(a->d, &call);
  if (rc) return rc;
  rc = region_error(a->d, wait_version(a, seen, timeout_ms, now));
  guard_leave(&call);
  return rc;
}
