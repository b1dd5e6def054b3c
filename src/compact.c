/* compact.c — eve_compact: a minimal copy of a domain file (`mdb_copy -c`).
 *
 * What the copy holds
 * -------------------
 * Every atom with its current value, and nothing else: no free, retired or
 * unreachable block, no free list, no retire log.  Blocks are copied, not
 * values rebuilt: each reachable block of the source is copied once, in
 * the same size class, with its child words relocated through a memo table
 * (source offset -> copy offset).  So structural sharing survives exactly —
 * a value held by two atoms, under two keys or twice in one node is one
 * block in the copy as in the source — and the copy's live data is never
 * larger than the source's.  A value-by-value deep copy would store a
 * shared value once per path to it.
 *
 * How ownership comes out right
 * -----------------------------
 * The copies are allocated with txn_alloc, so they are the destination
 * transaction's fresh blocks, and each atom is published with eve_reset.
 * The commit then does the owner accounting itself (docs/RECLAMATION.md):
 * a fresh block reached by two words is born SHARED with that count (R6),
 * and a block an earlier atom's commit already published gains its owner
 * by adoption.  Nothing here writes a meta word: the copy's header gets
 * the allocator's fresh meta, the source's SHARED count is never carried
 * over.  One commit per atom, right after its value is copied, keeps each
 * commit's fresh set to that atom's new blocks.
 *
 * The walk
 * --------
 * Depth first with an explicit stack on the heap: values nest up to
 * EVE_MAX_NESTING deep and a list is a chain of blocks as long as the
 * list, so the C stack must not grow with either.  A block is allocated,
 * copied and entered in the memo when first met (flagged "open" while it
 * is on the stack), so its parent's word is relocated at once; its own
 * child words are relocated when its frame comes to them.  Meeting an open
 * block again means the source has a cycle, which only damage makes:
 * EVE_ECORRUPT, so the copy of a damaged file can never loop or hold a
 * cycle.
 *
 * Trust
 * -----
 * Every source block is read through txn_read (offset, alignment, magic,
 * type, capacity inside the file); a type that is no value (cells, retire
 * machinery, a free block) is EVE_ECORRUPT.  Content damage that keeps the
 * shape (a flipped byte in a key, so its hash no longer matches) would be
 * copied faithfully, so the finished copy is verified with eve_check before
 * it takes its name: a copy with problems is EVE_ECORRUPT and is removed.
 *
 * The file
 * --------
 * The copy is written under a temporary name in DST's directory
 * (DST.compact-PID-N), synced, and linked to DST only when it is complete
 * and checked; link() refuses a DST that appeared meanwhile (EVE_EEXIST).
 * On any failure the temporary file is removed, so DST either does not
 * exist or is the whole, checked copy.
 *
 * The source is opened read-write when the caller may write it, as the
 * CLI's readers are: only then does the copy's read transaction pin, so
 * that every version it walks stays intact however writers change the
 * atoms meanwhile (each atom is copied as one of its versions; atoms are
 * independent, as everywhere in eve).  Nothing of the source's values is
 * written.  A source the caller may only read is opened EVE_OPEN_RDONLY,
 * whose reads do not pin: it must then not change while it is copied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "value.h"

/* ---- the memo: source block offset -> copy offset -------------------------- */

/* Copy offsets are 16-aligned: bit 0 flags a block still on the walk's
 * stack ("open"). */
#define MEMO_OPEN 1u

typedef struct memo_ent { uint64_t src, dst; } memo_ent;
typedef struct memo {
  memo_ent *tab;
  size_t cap, used;
} memo;

static size_t memo_slot(const memo *m, uint64_t src) {
  size_t i = (size_t)(hash_mix(src) & (m->cap - 1));
  while (m->tab[i].src && m->tab[i].src != src) i = (i + 1) & (m->cap - 1);
  return i;
}

/* The entry of src (src == 0 when absent), or NULL when the table is empty. */
static memo_ent *memo_find(memo *m, uint64_t src) {
  return m->cap ? &m->tab[memo_slot(m, src)] : NULL;
}

static int memo_grow(memo *m) {
  size_t ocap = m->cap, ncap = ocap ? ocap * 2 : 1024;
  memo_ent *old = m->tab, *tab = calloc(ncap, sizeof *tab);
  if (!tab) return EVE_ENOMEM;
  m->tab = tab;
  m->cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].src) m->tab[memo_slot(m, old[i].src)] = old[i];
  free(old);
  return 0;
}

static int memo_put(memo *m, uint64_t src, uint64_t dst) {
  if ((m->used + 1) * 2 > m->cap) {
    int rc = memo_grow(m);
    if (rc) return rc;
  }
  memo_ent *e = &m->tab[memo_slot(m, src)];
  if (!e->src) m->used++;
  e->src = src;
  e->dst = dst;
  return 0;
}

/* ---- the walk ---------------------------------------------------------------- */

/* A copied block whose child words are being relocated: they are the
 * words [at, at + n) of both blocks, next is the next one to look at. */
typedef struct frame {
  uint64_t src, dst;
  uint32_t at, n, next;
} frame;

typedef struct copier {
  eve_txn *st, *dt;      /* source (read) and destination (write) txns */
  memo m;
  frame *stack;
  size_t nstack, capstack;
  uint64_t blocks;       /* blocks copied */
} copier;

/* Block types that may be reached from a value: scalars and collection
 * nodes (atom cells, retire batches and logs, journals and free blocks
 * never are). */
static int is_value_block(unsigned type) {
  return (type >= T_INT && type <= T_BYTES) || (type >= T_MAP && type <= T_SET_COLL) ||
         (type >= T_VEC && type <= T_VEC_LEAF) || type == T_LIST;
}

static int push_frame(copier *c, uint64_t src, uint64_t dst) {
  if (c->nstack == c->capstack) {
    size_t cap = c->capstack ? c->capstack * 2 : 64;
    frame *s = realloc(c->stack, cap * sizeof *s);
    if (!s) return EVE_ENOMEM;
    c->stack = s;
    c->capstack = cap;
  }
  size_t n;
  const uint64_t *w = blk_child_words(c->st, src, &n); /* validates the node */
  if (c->st->err) return c->st->err;
  const uint64_t *base = region_ptr(c->st->d, src);
  c->stack[c->nstack++] = (frame){src, dst, w ? (uint32_t)(w - base) : 0, (uint32_t)n, 0};
  return 0;
}

/* Copy block src into the destination: same class, same bytes, the
 * allocator's fresh meta word.  Its child words still hold source offsets
 * until its frame relocates them. */
static int copy_block(copier *c, uint64_t src, uint64_t *dst) {
  const blk *b = txn_read_any(c->st, src);
  if (c->st->err) return c->st->err;
  uint64_t meta = atomic_load(&((blk *)b)->meta);
  if (!is_value_block(b->type) || META_STATE(meta) == BLK_FREE) return txn_fail(c->st, EVE_ECORRUPT);
  uint64_t cap = blk_capacity(b);
  blk *nb = txn_alloc(c->dt, cap, b->type, dst);
  if (!nb) return c->dt->err;
  if (nb->cls != b->cls) return txn_fail(c->dt, EVE_ECORRUPT); /* classes are exact sizes */
  memcpy(nb + 1, b + 1, cap - sizeof(blk));
  nb->pad = b->pad;
  nb->aux = b->aux; /* type fields and the recorded depth bound */
  c->blocks++;
  int rc = memo_put(&c->m, src, *dst | MEMO_OPEN);
  return rc ? rc : push_frame(c, src, *dst);
}

/* The copy's word for source word w: immediates stay, blocks are copied
 * on first sight. */
static int relocate(copier *c, uint64_t w, uint64_t *out) {
  if (!VAL_IS_BLOCK(w)) {
    *out = w;
    return 0;
  }
  memo_ent *e = memo_find(&c->m, w);
  if (e && e->src) {
    if (e->dst & MEMO_OPEN) return txn_fail(c->st, EVE_ECORRUPT); /* a cycle */
    *out = e->dst;
    return 0;
  }
  return copy_block(c, w, out);
}

/* Relocate the next child word of the top frame, or close the frame. */
static int step(copier *c) {
  frame *f = &c->stack[c->nstack - 1];
  if (f->next == f->n) {
    memo_find(&c->m, f->src)->dst = f->dst; /* closed: shared from now on */
    c->nstack--;
    return 0;
  }
  uint32_t i = f->at + f->next++;
  uint64_t src = f->src, dst = f->dst, w = ((const uint64_t *)region_ptr(c->st->d, src))[i];
  uint64_t nw;
  int rc = relocate(c, w, &nw); /* may push (and move c->stack): f is stale after */
  if (!rc) ((uint64_t *)region_ptr(c->dt->d, dst))[i] = nw;
  return rc;
}

/* The copy of value v (a root word of the source) in the destination. */
static int copy_value(copier *c, eve_val v, eve_val *out) {
  int rc = relocate(c, v, out);
  while (!rc && c->nstack) rc = step(c);
  c->nstack = 0;
  return rc;
}

/* ---- atoms ------------------------------------------------------------------- */

typedef struct compaction {
  eve_domain *src, *dst;
  eve_txn *st;
  copier c;
  uint64_t atoms;
} compaction;

/* Copy one atom's value v into a destination transaction of its own,
 * then publish it there with eve_reset (whose commit counts the owners).
 * On failure the transaction's end frees the copies; the caller gives up
 * on the whole compaction, memo and all. */
static int copy_atom(compaction *k, const char *name, eve_val v) {
  eve_val nv;
  eve_atom *da = NULL;
  eve_txn *dt = NULL;
  /* The atom first, outside dt: its creation's commit then runs in the
   * reader slot dt will use, and every slot that commits keeps a journal
   * block in the file (commit.c), which the copy need not hold twice. */
  int rc = eve_atom_open(k->dst, name, EVE_ATOM_CREATE, &da);
  if (!rc) rc = eve_txn_begin(k->dst, EVE_TXN_WRITE, &dt);
  if (rc) {
    if (da) eve_atom_close(da);
    return rc;
  }
  k->c.dt = dt;
  rc = copy_value(&k->c, v, &nv);
  if (!rc) rc = eve_reset(dt, da, nv);
  eve_atom_close(da);
  int end = eve_txn_end(dt);
  k->c.dt = NULL;
  if (!rc) k->atoms++;
  return rc ? rc : end;
}

/* An atom being removed (no longer found, or removed since it was
 * listed) is not part of the copy. */
static int each_atom(void *ctx, const char *name, size_t n) {
  compaction *k = ctx;
  char *cname = strndup(name, n); /* atom names hold no NUL */
  if (!cname) return EVE_ENOMEM;
  eve_atom *sa;
  eve_val v;
  int rc = eve_atom_open(k->src, cname, 0, &sa);
  if (!rc) {
    rc = eve_deref(k->st, sa, &v);
    eve_atom_close(sa);
    if (!rc) rc = copy_atom(k, cname, v);
    else if (rc == EVE_EREMOVED) rc = 0;
  } else if (rc == EVE_ENOTFOUND) {
    rc = 0;
  }
  free(cname);
  return rc;
}

/* The finished copy must check sound: it is what the source held, and a
 * source with damage the walk could not see would pass it on. */
static int verify(eve_domain *dst) {
  eve_check_report r;
  int rc = eve_check(dst, &r, NULL, NULL);
  if (!rc && (r.problems || r.leaked_bytes)) rc = EVE_ECORRUPT;
  return rc;
}

static int copy_atoms(compaction *k) {
  int rc = eve_txn_begin(k->src, EVE_TXN_READ, &k->st);
  if (rc) return rc;
  k->c.st = k->st;
  rc = eve_atom_names_each(k->st, each_atom, k);
  int end = eve_txn_end(k->st);
  k->st = NULL;
  return rc ? rc : end;
}

/* ---- files ------------------------------------------------------------------- */

/* Make the copy durable before it takes its name: the file, then (after
 * the link) its directory.  The directory sync is best effort. */
static int sync_path(const char *path, int is_dir) {
  int fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return is_dir ? 0 : errno_to_eve(errno);
  int rc = fsync(fd) == 0 || is_dir ? 0 : errno_to_eve(errno);
  close(fd);
  return rc;
}

static void sync_dir_of(const char *path) {
  char *copy = strdup(path);
  if (!copy) return;
  sync_path(dirname(copy), 1);
  free(copy);
}

/* The destination's options: the caller's, or the source's reserved size
 * and file mode.  Always a new file. */
static int dst_options(const char *src_path, eve_domain *src, const eve_options *given,
                       eve_options *o) {
  if (given) {
    unsigned mode = given->flags & EVE_OPEN_MODE_MASK;
    if ((given->flags & ~(unsigned)EVE_OPEN_MODE_MASK) || (mode != EVE_OPEN_CREATE && mode != EVE_OPEN_NEW))
      return EVE_EINVAL;
    *o = *given;
  } else {
    eve_domain_info info;
    struct stat st;
    int rc = eve_domain_info_get(src, &info);
    if (rc) return rc;
    if (stat(src_path, &st) != 0) return errno_to_eve(errno);
    memset(o, 0, sizeof *o);
    o->max_size = info.max_bytes;
    o->mode = st.st_mode & 0777;
  }
  o->flags = EVE_OPEN_NEW;
  return 0;
}

/* Create the destination domain under a fresh temporary name beside
 * dst_path; *tmp (malloc) receives the name. */
static int create_tmp(const char *dst_path, const eve_options *o, eve_domain **out, char **tmp) {
  static _Atomic unsigned seq;
  int rc = EVE_EEXIST;
  for (int tries = 0; tries < 16 && rc == EVE_EEXIST; tries++) {
    if (asprintf(tmp, "%s.compact-%ld-%u", dst_path, (long)getpid(), atomic_fetch_add(&seq, 1)) < 0)
      return EVE_ENOMEM;
    rc = eve_open(*tmp, o, out);
    if (rc) {
      free(*tmp);
      *tmp = NULL;
    }
  }
  return rc;
}

/* Fill the report from the finished copy, reopened: its numbers are then
 * what anyone opening it sees (eve_stats_get), without this process's
 * retire log and allocator caches, which closing released. */
static int report(const char *tmp, const compaction *k, eve_compact_report *out) {
  if (!out) return 0;
  eve_options o;
  memset(&o, 0, sizeof o);
  o.flags = EVE_OPEN_EXISTING;
  eve_domain *d;
  eve_stats st;
  int rc = eve_open(tmp, &o, &d);
  if (rc) return rc;
  rc = eve_stats_get(d, &st);
  int closed = eve_close(d);
  if (rc || closed) return rc ? rc : closed;
  memset(out, 0, sizeof *out);
  out->atoms = k->atoms;
  out->blocks = k->c.blocks;
  out->live_bytes = st.live_bytes;
  out->file_bytes = st.file_bytes;
  return 0;
}

/* Copy, check and close the destination (already created as k->dst). */
static int fill_dst(compaction *k, const char *tmp, eve_compact_report *out) {
  int rc = copy_atoms(k);
  if (!rc) rc = verify(k->dst);
  int closed = eve_close(k->dst);
  k->dst = NULL;
  if (!rc) rc = closed;
  return rc ? rc : report(tmp, k, out);
}

int eve_compact(const char *src_path, const char *dst_path, const eve_options *dst_opts,
                eve_compact_report *out) {
  if (!src_path || !dst_path) return EVE_EINVAL; /* an in-memory domain has no path */
  if (access(dst_path, F_OK) == 0) return EVE_EEXIST; /* early: before any work */
  compaction k;
  memset(&k, 0, sizeof k);
  eve_options so, dopt;
  memset(&so, 0, sizeof so);
  so.flags = EVE_OPEN_EXISTING; /* read-write, to pin: see the top */
  int rc = eve_open(src_path, &so, &k.src);
  if (rc == EVE_EACCESS) {
    so.flags = EVE_OPEN_EXISTING | EVE_OPEN_RDONLY;
    rc = eve_open(src_path, &so, &k.src);
  }
  if (rc) return rc;
  char *tmp = NULL;
  rc = dst_options(src_path, k.src, dst_opts, &dopt);
  if (!rc) rc = create_tmp(dst_path, &dopt, &k.dst, &tmp);
  if (!rc) rc = fill_dst(&k, tmp, out);
  if (k.dst) eve_close(k.dst);
  eve_close(k.src);
  free(k.c.m.tab);
  free(k.c.stack);
  if (!rc) rc = sync_path(tmp, 0);
  if (!rc && link(tmp, dst_path) != 0) rc = errno_to_eve(errno); /* EEXIST: DST appeared */
  if (tmp) unlink(tmp);
  if (!rc) sync_dir_of(dst_path);
  free(tmp);
  return rc;
}

/* ---- restoring a checkpoint (durable.c) ------------------------------------------- */

/* Copy every entry {name -> value} of the checkpoint map `root` as an atom.
 * The map was built by eve_sync: string keys, one per atom. */
static int copy_checkpoint(compaction *k, eve_val root) {
  int rc = eve_txn_begin(k->src, EVE_TXN_READ, &k->st);
  if (rc) return rc;
  k->c.st = k->st;
  eve_type type;
  eve_iter it;
  eve_val key, v;
  if ((rc = eve_type_get(k->st, root, &type)) == 0 && type != EVE_MAP) rc = EVE_ECORRUPT;
  if (!rc) rc = eve_iter_init(k->st, root, &it);
  while (!rc && (rc = eve_iter_next(&it, &key, &v)) == 0) {
    const char *s;
    size_t n;
    char *name = NULL;
    if ((rc = eve_text_get(k->st, &key, &s, &n)) == EVE_ETYPE) rc = EVE_ECORRUPT;
    if (!rc && (n == 0 || memchr(s, 0, n))) rc = EVE_ECORRUPT; /* eve_sync wrote no such name */
    if (!rc && !(name = strndup(s, n))) rc = EVE_ENOMEM;
    if (!rc) rc = copy_atom(k, name, v);
    free(name);
  }
  if (rc == EVE_END) rc = 0;
  int end = eve_txn_end(k->st);
  k->st = NULL;
  return rc ? rc : end;
}

int compact_restore(const char *path, eve_val root, uint64_t end) {
  compaction k;
  memset(&k, 0, sizeof k);
  int rc = domain_open_for_restore(path, &k.src);
  if (rc) return rc;
  struct stat st; /* everything the checkpoint reaches lies below end */
  if (fstat(k.src->fd, &st) != 0 || (uint64_t)st.st_size < end) {
    eve_close(k.src);
    return EVE_ETRUNC;
  }
  eve_options dopt;
  char *tmp = NULL;
  rc = dst_options(path, k.src, NULL, &dopt);
  if (!rc) rc = create_tmp(path, &dopt, &k.dst, &tmp);
  if (!rc) rc = copy_checkpoint(&k, root);
  if (!rc) rc = verify(k.dst);
  if (!rc) rc = eve_sync(k.dst); /* the restored file has a checkpoint of its own */
  if (k.dst) {
    int closed = eve_close(k.dst);
    if (!rc) rc = closed;
  }
  eve_close(k.src);
  free(k.c.m.tab);
  free(k.c.stack);
  if (!rc) rc = sync_path(tmp, 0);
  if (!rc && rename(tmp, path) != 0) rc = errno_to_eve(errno);
  if (rc && tmp) unlink(tmp);
  if (!rc) sync_dir_of(path);
  free(tmp);
  return rc;
}
