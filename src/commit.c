/* commit.c — the commit: how a new version is published and the old one
 * reclaimed, exactly, without touching the siblings of copied nodes.
 *
 * The ownership invariant
 * -----------------------
 * A block that is not SHARED has exactly one incoming word in the live
 * graph, where an atom's root word counts as an incoming word.  A SHARED
 * block carries the number of its incoming words (its owners) in its meta
 * word.  Only shared blocks pay for a count; the edges of exclusively owned
 * blocks are implicit.  The checker verifies this invariant directly.
 *
 * What one commit does (swap, reset, compare-and-set, atom removal, the
 * registry: all come here)
 * -----------------------------------------------------------------------
 * 1. COUNT.  Walk the fresh blocks reachable from the new root (only fresh
 *    blocks: an old block cannot point at a fresh one) and count, for every
 *    block, the incoming words from them, plus 1 for the new root word
 *    itself.  Words are counted, not parent blocks: a value stored twice in
 *    one node has two owners (docs/RECLAMATION.md, F2).  The root word
 *    counts, so `rest`, `pop` and reset-to-an-old-value, which publish no
 *    fresh block at all, are accounted like everything else (F3, R7).
 *    Words a copied node shares with the node it replaces are not counted
 *    at all when that node dies: see "pairs" below; they change nothing.
 *
 * 2. DOOM, top-down, before publishing.  The old root word dies.  Walk from
 *    the old root through the blocks whose (sole) incoming word dies:
 *      - a block the new version references (count > 0) is on the boundary:
 *        record that one of its incoming words dies, do not enter it;
 *      - a SHARED block loses one owner (applied after the CAS), not entered;
 *      - any other block is garbage: CAS it from LIVE to RETIRED ("doom")
 *        and only then enter it, because its children's fate depends on it
 *        staying dead.  A doom that finds SHARED (an adopter got there
 *        first) means the block lives: treat it as SHARED.  A block already
 *        RETIRED by a racing committer counts as doomed.
 *    Dooming before the CAS is what defeats F1 (R8): an adopter that
 *    wants to share a block of this version CASes SHARED onto it unless it
 *    is RETIRED, else copies it.  Either the adopter's CAS comes first (the
 *    doom fails, we see SHARED, the block lives and its boundary children
 *    gain owners instead of being transferred) or the doom comes first (the
 *    adopter copies).  The same CAS on the same word orders the two.
 *    A doom is never undone, even if our root CAS then fails: a live
 *    RETIRED block only costs a future adopter a copy.
 *    This walk dooms all garbage, the dropped values included (the
 *    "doom all garbage" rule R8 of docs/RECLAMATION.md, which passes
 *    every scenario); dropping a large value costs time proportional to it.  The
 *    lazier variant S1 (doom only the copied spine, expand dropped subtrees
 *    at free time) is a later optimisation (docs/DESIGN.md, "Doom all
 *    garbage, not only the copied spine").
 *
 * 3. ADOPT.  For every block on the boundary, owners_after = owners_before
 *    − dying + new.
 *      - fresh, new >= 2: born SHARED with that count (a plain store: it is
 *        not published yet);
 *      - old, not SHARED, owners_after == 1: transferred, nothing to write
 *        (this is the common case: the siblings of every copied node);
 *      - old, owners_after >= 2, or SHARED with more owners than before:
 *        raise the count by CAS.  A block that is RETIRED cannot be
 *        adopted: it may be garbage of a commit that wins, and be freed.
 *        Copy it instead, which gives each of its children one more owner
 *        in turn.  This holds even for a RETIRED block whose dying edge we
 *        found in our own garbage walk: after a root ABA (the root returns
 *        to the very word its doomer loaded) the doomer's CAS can still win
 *        and retire it (test_reclaim's s6_aba_after_the_doomed_root_gained_
 *        owners; an earlier version adopted such blocks and freed one under
 *        a live atom).  A SHARED block whose count is 0 is being freed: copy.
 *        So a RETIRED block never gains owners, and a block is never both
 *        SHARED with a count above 0 and RETIRED.
 *
 * 4. CAS the root (seq_cst).  On failure: roll back the counts we raised,
 *    free this attempt's fresh blocks, retry from a fresh load.  On success:
 *    read the retire tag (epoch.c explains why after the CAS), retire every
 *    block we doomed, and take one owner from each SHARED block that lost
 *    incoming words; a count that reaches 0 makes that block garbage, which
 *    is retired and whose children lose an owner in turn ("expand").
 *
 * Nothing here trusts the file: every block is validated (offset, magic,
 * type, capacity) before its meta is CASed, and the walks keep a visited
 * set, so a corrupt cycle ends the commit with EVE_ECORRUPT instead of
 * dooming or freeing arbitrary memory.
 */
#define _GNU_SOURCE
#include "commit.h"

#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "inject.h"
#include "value.h"

enum {
  F_FRESH = 1,     /* allocated in this txn, unpublished               */
  F_REACHED = 4,   /* fresh and reachable from the new root            */
  F_VISITED = 8,   /* met by the garbage walk                          */
  F_DOOMED = 16,   /* garbage: doomed by us or already RETIRED         */
  F_SHARED_DROP = 32, /* SHARED block met by the garbage walk          */
  F_PAIRED = 64,   /* one side of a pair (see "pairs" above)             */
  F_PAIR_DONE = 128, /* old side of a pair, doomed and entered         */
};

typedef struct cent {
  uint64_t off;      /* key; 0 = empty slot                            */
  uint64_t gen;      /* generation when doomed                         */
  uint32_t newcnt;   /* incoming words from the new version            */
  uint32_t dying;    /* incoming words that die with the old version   */
  uint32_t applied;  /* owners we added by CAS before the root CAS     */
  uint32_t flags;
  uint32_t die_at;   /* old side of a pair: its unmatched words are     */
  uint64_t pair;     /* the other side of a pair, 0 if none             */
  uint32_t die_n;    /* ... unmatched.v[die_at, die_at + die_n)          */
  uint32_t pad;
} cent;
_Static_assert(sizeof(cent) == 56, "compact table entries");

typedef struct vec64 {
  uint64_t *v;
  size_t n, cap;
} vec64;

typedef struct commit_ctx {
  eve_txn *t;
  eve_domain *d;
  cent *tab;
  size_t cap, used;
  vec64 slots;       /* indices of the used table entries               */
  vec64 stack;       /* worklist of offsets                           */
  vec64 adopt;       /* offsets whose adoption must be (re)decided    */
  vec64 copies;      /* pairs {original, copy} made by this attempt   */
  vec64 pairs;       /* old sides of the pairs formed by the count    */
  vec64 unmatched;   /* block words of those old sides, not matched   */
  eve_val *new_root;
  struct commit_journal *j; /* this slot's journal (see "journals")     */
  uint64_t seq;            /* this attempt's journal sequence            */
  size_t pending_start;    /* the log index of its first pending doom    */
  int adopting;      /* in phase 3: new edges to old blocks need deciding */
  int from_tls;      /* buffers borrowed from the thread's scratch       */
  int err;
} commit_ctx;

/* ---- test pause points ----------------------------------------------------- */

#ifdef EVE_TEST_HOOKS /* the hooks below exist only in the tests' build */
static commit_pause_fn g_pause;
static void *g_pause_ctx;

void eve__test_set_commit_pause(commit_pause_fn fn, void *ctx) {
  g_pause_ctx = ctx;
  g_pause = fn;
}

#define PAUSE(point, off, won)                                                  \
  do {                                                                         \
    if (__builtin_expect(g_pause != NULL, 0)) g_pause((point), (off), (won), g_pause_ctx); \
  } while (0)

/* ---- test switch and counts for the pair fast path ------------------------------- */

static _Atomic int g_no_pairing;
static _Atomic int g_pair_counting;
static _Atomic uint64_t g_pair_counts[3];
enum { PC_FORMED, PC_UNPAIRED, PC_REPOINTED };

void eve__test_set_commit_pairing(int on) { atomic_store(&g_no_pairing, !on); }

void eve__test_commit_pair_counts(commit_pair_counts *out, int reset) {
  if (out) {
    out->formed = atomic_load(&g_pair_counts[PC_FORMED]);
    out->unpaired = atomic_load(&g_pair_counts[PC_UNPAIRED]);
    out->repointed = atomic_load(&g_pair_counts[PC_REPOINTED]);
  }
  if (reset) {
    for (int i = 0; i < 3; i++) atomic_store(&g_pair_counts[i], 0);
    atomic_store(&g_pair_counting, 1);
  }
}

static void pair_count(int which, uint64_t n) {
  if (__builtin_expect(atomic_load_explicit(&g_pair_counting, memory_order_relaxed), 0))
    atomic_fetch_add(&g_pair_counts[which], n);
}
#define PAIRING_OFF() atomic_load_explicit(&g_no_pairing, memory_order_relaxed)
#else /* release: no pauses, pairs always on, nothing counted */
#define PAUSE(point, off, won) do { (void)(off); (void)(won); } while (0)
#define pair_count(which, n) ((void)0)
#define PAIRING_OFF() 0
#endif

/* ---- small containers -------------------------------------------------- */

static int push(commit_ctx *c, vec64 *s, uint64_t x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return c->err = EVE_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
  return 0;
}

/* Fibonacci hashing of the offset (16-aligned: drop the zero bits). */
static size_t probe(const commit_ctx *c, uint64_t off) {
  size_t i = (size_t)(((off >> 4) * 0x9e3779b97f4a7c15ull) >> 32) & (c->cap - 1);
  while (c->tab[i].off && c->tab[i].off != off) i = (i + 1) & (c->cap - 1);
  return i;
}

static int grow(commit_ctx *c) {
  size_t old_cap = c->cap;
  cent *old = c->tab;
  c->cap = old_cap ? old_cap * 2 : 256;
  c->tab = calloc(c->cap, sizeof *c->tab);
  if (!c->tab) {
    c->tab = old;
    c->cap = old_cap;
    return c->err = EVE_ENOMEM;
  }
  c->slots.n = 0;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].off) {
      size_t j = probe(c, old[i].off);
      c->tab[j] = old[i];
      if (push(c, &c->slots, j)) break;
    }
  free(old);
  return c->err;
}

/* The entry for off, created if absent.  Pointers into the table are valid
 * only until the next call (the table may grow). */
static cent *entry(commit_ctx *c, uint64_t off) {
  if ((c->used + 1) * 2 > c->cap && grow(c)) return NULL;
  size_t i = probe(c, off);
  if (!c->tab[i].off) {
    if (push(c, &c->slots, i)) return NULL;
    c->tab[i].off = off;
    c->used++;
  }
  return &c->tab[i];
}

static cent *find(commit_ctx *c, uint64_t off) {
  if (!c->cap) return NULL;
  size_t i = probe(c, off);
  return c->tab[i].off ? &c->tab[i] : NULL;
}

static blk *blk_of(commit_ctx *c, uint64_t off) { return region_ptr(c->d, off); }

/* Validate an old block before any CAS on its meta. */
static int valid_old(commit_ctx *c, uint64_t off) {
  txn_read_any(c->t, off);
  if (c->t->err) c->err = c->t->err;
  return !c->err;
}

/* ---- journals ------------------------------------------------------------------
 * What a commit in flight has done to blocks that are not its own is
 * recorded, in the domain, in its slot's journal, so that if the process is
 * killed another process can finish or undo it (epoch.c, "repairing dead
 * processes"):
 *   - every owner count raised by an adoption, written right after its CAS
 *     (a kill before the write leaves the count one too high: a leak);
 *   - every owner to take after the root CAS, written before the CAS;
 *   - the doomed blocks, as pending entries in the thread's retire log;
 *   - the phase: BUILDING, ARMED (about to CAS), WON, LOST.
 * An entry is marked DONE before its effect is applied, so a repairer never
 * applies one twice (a kill in between leaves a count too high, a leak).
 * The repairer must know whether the root CAS won.  WON and LOST say so;
 * BUILDING means it never ran.  ARMED is decided by the new root: a fresh
 * root block is marked UNCONFIRMED before the CAS, and every commit that
 * replaces a root word clears that mark on the block it replaces before its
 * own CAS (it found the block published).  So in ARMED: a fresh root still
 * marked and still the root word was published by the dead commit; still
 * marked and not the root word, it never was (whoever replaced it would
 * have cleared the mark); unmarked, or freed since (its generation moved),
 * it was.  A root that is not fresh (reset to an existing value, `rest`)
 * cannot be decided that way: such a commit killed between ARMED and WON
 * is left as it is, a leak. */

#define J_FIRST_CAP 32
#define NO_GEN UINT64_MAX
enum { J_IDLE = 0, J_BUILDING, J_ARMED, J_WON, J_LOST };
enum { JE_ADOPTED = 1, JE_DROP = 2, JE_DONE = 0x80 };

typedef struct jentry {
  uint64_t off;
  _Atomic uint64_t what;   /* owners << 8 | kind (| JE_DONE)              */
} jentry;

typedef struct commit_journal {
  blk h;                   /* type T_JOURNAL                               */
  _Atomic uint64_t state;  /* sequence << 8 | phase                        */
  uint64_t root;           /* offset of the root word in the file          */
  uint64_t old_root, new_root;
  uint64_t new_gen;        /* the fresh new root's generation, or NO_GEN   */
  _Atomic uint64_t n;      /* entries in use                               */
  uint64_t cap;
  jentry e[];
} commit_journal;

static commit_journal *valid_journal(eve_domain *d, uint64_t off) {
  if (!off || off % BLK_ALIGN || !region_contains(d, off, sizeof(commit_journal))) return NULL;
  commit_journal *j = region_ptr(d, off);
  if (j->h.magic != BLK_MAGIC || j->h.type != T_JOURNAL || j->h.cls >= EVE_NCLASSES ||
      sizeof(commit_journal) + j->cap * sizeof(jentry) > alloc_class_size(j->h.cls) ||
      !region_contains(d, off, alloc_class_size(j->h.cls)) || atomic_load(&j->n) > j->cap)
    return NULL;
  return j;
}

static void journal_phase(commit_ctx *c, unsigned phase) {
  if (c->j) atomic_store(&c->j->state, c->seq << 8 | phase); /* seq_cst: before the root CAS */
}

/* A journal of `cap` entries for this slot, with the old one's header and
 * entries carried over; the slot points at it before the old one is freed. */
static commit_journal *journal_alloc(commit_ctx *c, commit_journal *old, uint64_t cap) {
  uint64_t off;
  int rc = alloc_block(c->d, sizeof(commit_journal) + cap * sizeof(jentry), T_JOURNAL, &off);
  if (rc) {
    c->err = rc;
    return NULL;
  }
  commit_journal *j = region_ptr(c->d, off);
  uint64_t n = old ? atomic_load(&old->n) : 0;
  j->root = old ? old->root : 0;
  j->old_root = old ? old->old_root : 0;
  j->new_root = old ? old->new_root : 0;
  j->new_gen = old ? old->new_gen : NO_GEN;
  j->cap = cap;
  for (uint64_t i = 0; i < n; i++) {
    j->e[i].off = old->e[i].off;
    atomic_store(&j->e[i].what, atomic_load(&old->e[i].what));
  }
  atomic_store(&j->n, n);
  atomic_store(&j->state, old ? atomic_load(&old->state) : 0);
  eve_slot *s = epoch_slot(c->d, c->t->slot);
  uint64_t old_off = atomic_load(&s->journal);
  atomic_store(&s->journal, off);
  if (old) alloc_free(c->d, old_off);
  return j;
}

static int journal_open(commit_ctx *c, _Atomic uint64_t *root, eve_val old) {
  commit_journal *j = valid_journal(c->d, atomic_load(&epoch_slot(c->d, c->t->slot)->journal));
  if (!j && !(j = journal_alloc(c, NULL, J_FIRST_CAP))) return c->err;
  c->j = j;
  c->seq = (atomic_load(&j->state) >> 8) + 1;
  c->pending_start = SIZE_MAX;
  j->root = (uint64_t)((uint8_t *)root - c->d->base);
  j->old_root = old;
  j->new_root = 0;
  j->new_gen = NO_GEN;
  atomic_store(&j->n, 0);
  atomic_store_explicit(&j->state, c->seq << 8 | J_BUILDING, memory_order_release);
  return 0;
}

/* Room for one more entry, made before the effect it will record, so that
 * recording it afterwards cannot fail. */
static int journal_reserve(commit_ctx *c) {
  commit_journal *j = c->j;
  if (atomic_load(&j->n) < j->cap) return 0;
  return (c->j = journal_alloc(c, j, j->cap * 2)) ? 0 : c->err;
}

static void journal_record(commit_ctx *c, uint64_t off, uint64_t owners, unsigned kind) {
  commit_journal *j = c->j;
  uint64_t n = atomic_load(&j->n);
  j->e[n].off = off;
  atomic_store(&j->e[n].what, owners << 8 | kind);
  atomic_store_explicit(&j->n, n + 1, memory_order_release);
}

static void drop_owners(eve_txn *t, uint64_t off, uint32_t k);

/* Apply the journal's entries of one kind not yet done: take the owners a
 * won commit still owes (JE_DROP), or give back those a commit that did not
 * publish raised (JE_ADOPTED).  Each is marked DONE first. */
static void journal_settle(eve_txn *t, commit_journal *j, unsigned kind) {
  uint64_t n = atomic_load(&j->n);
  for (uint64_t i = 0; i < n && i < j->cap; i++) {
    uint64_t what = atomic_load(&j->e[i].what);
    if ((what & 0xFF) != kind) continue; /* another kind, or done */
    atomic_store(&j->e[i].what, what | JE_DONE);
    uint64_t owners = what >> 8;
    if (owners && owners <= BLK_COUNT_MAX) drop_owners(t, j->e[i].off, (uint32_t)owners);
  }
}

/* Whether a commit killed in ARMED published (see above). */
static int armed_outcome(eve_domain *d, const commit_journal *j) {
  uint64_t n = j->new_root;
  if (j->new_gen == NO_GEN || !VAL_IS_BLOCK(n) || n % BLK_ALIGN || !region_contains(d, n, sizeof(blk)))
    return COMMIT_UNKNOWN;
  uint64_t m = atomic_load(&((blk *)region_ptr(d, n))->meta);
  if (META_GEN(m) != j->new_gen || !(m & BLK_UNCONFIRMED)) return COMMIT_PUBLISHED;
  /* the root word is an atom cell's (in the heap) or the registry's */
  int registry = j->root == (uint64_t)offsetof(eve_file_header, root);
  if (!registry && (j->root % 8 || !region_contains(d, j->root, 8))) return COMMIT_UNKNOWN;
  uint64_t now = atomic_load((_Atomic uint64_t *)region_ptr(d, j->root));
  return now == n ? COMMIT_PUBLISHED : COMMIT_NOT_PUBLISHED;
}

int commit_repair_journal(eve_domain *d, uint64_t off, uint64_t *seq) {
  commit_journal *j = valid_journal(d, off);
  *seq = 0;
  if (!j) return COMMIT_NONE;
  uint64_t st = atomic_load(&j->state);
  *seq = st >> 8;
  int outcome;
  switch (st & 0xFF) {
  case J_IDLE: return COMMIT_NONE;
  case J_BUILDING: case J_LOST: outcome = COMMIT_NOT_PUBLISHED; break;
  case J_WON: outcome = COMMIT_PUBLISHED; break;
  case J_ARMED: outcome = armed_outcome(d, j); break;
  default: outcome = COMMIT_UNKNOWN; break;
  }
  eve_txn t = {.d = d, .flags = EVE_TXN_WRITE, .fork_gen = region_fork_gen()};
  if (outcome == COMMIT_PUBLISHED) journal_settle(&t, j, JE_DROP);
  else if (outcome == COMMIT_NOT_PUBLISHED) journal_settle(&t, j, JE_ADOPTED);
  atomic_store(&j->state, st >> 8 << 8 | J_IDLE);
  return outcome;
}

/* Before the CAS: what the repairer needs to decide it, the fresh root
 * marked, and the root being replaced confirmed published. */
static void journal_arm(commit_ctx *c, eve_val old) {
  commit_journal *j = c->j;
  eve_val n = *c->new_root;
  j->new_root = n;
  j->new_gen = NO_GEN;
  const cent *e = VAL_IS_BLOCK(n) ? find(c, n) : NULL;
  if (e && (e->flags & F_FRESH)) { /* unpublished: a plain store is ours to make */
    _Atomic uint64_t *meta = &blk_of(c, n)->meta;
    uint64_t m = atomic_load_explicit(meta, memory_order_relaxed);
    atomic_store_explicit(meta, m | BLK_UNCONFIRMED, memory_order_relaxed);
    j->new_gen = META_GEN(m);
  }
  if (VAL_IS_BLOCK(old) && valid_old(c, old)) {
    _Atomic uint64_t *meta = &blk_of(c, old)->meta;
    uint64_t m = atomic_load(meta);
    while ((m & BLK_UNCONFIRMED) && !atomic_compare_exchange_weak(meta, &m, m & ~(uint64_t)BLK_UNCONFIRMED)) {
    }
  }
  journal_phase(c, J_ARMED);
}

/* The owners to take after the CAS, recorded before it. */
static void journal_plan_drops(commit_ctx *c) {
  for (size_t k = 0; k < c->slots.n && !c->err; k++) {
    cent *e = &c->tab[c->slots.v[k]];
    /* an old block that lost more words than it gained: it is SHARED
     * (a plain block has one word, and losing it made it doomed) */
    if ((e->flags & (F_FRESH | F_DOOMED)) || e->dying <= e->newcnt) continue;
    if (journal_reserve(c)) return;
    journal_record(c, e->off, e->dying - e->newcnt, JE_DROP);
  }
}

/* ---- 1. count ----------------------------------------------------------------- */

/* One more incoming word to `word` (from a fresh block, or the new root). */
static void new_edge(commit_ctx *c, uint64_t word) {
  if (c->err || !VAL_IS_BLOCK(word)) return;
  cent *e = entry(c, word);
  if (!e) return;
  e->newcnt++;
  if ((e->flags & F_FRESH) && !(e->flags & F_REACHED)) {
    e->flags |= F_REACHED;
    push(c, &c->stack, word);
  } else if (!(e->flags & F_FRESH) && c->adopting) {
    push(c, &c->adopt, word); /* a copy added an owner: decide (again) */
  }
}

static void count_slot(void *ctx, const uint64_t *slot) { new_edge(ctx, *slot); }

/* ---- pairs ------------------------------------------------------------------
 * A one-key swap of a large map copies a path of ~4 nodes and inserts one
 * or two words; every other word of a copy equals a word of the node it was
 * copied from.  When that source node dies, each such word is one incoming
 * word that dies (in the source) and one that is born (in the copy) for the
 * same block: owners_after = before - 1 + 1.  Counting them through the
 * table is the whole cost of a commit, and it changes nothing.
 *
 * So the count pairs a fresh block N with an old block S of the same type
 * that sits where N sits: the new root with the old root, then, inside a
 * pair, a fresh child word with the old child word at the same place.  The
 * child words of N and S are matched one to one (equal words, aligned by a
 * short look-ahead: match_words); matched words are neither counted in N nor
 * walked as dying in S.  Any one-to-one matching is sound, because a
 * matched word's block gains exactly the word it loses, PROVIDED S really
 * dies: the doom walk dooms and enters S (F_PAIR_DONE).  If it does not (S
 * is SHARED, or the new version still reaches S, or S is not in the old
 * version at all), unpair_survivors() counts N's matched words after all,
 * and every decision is the one the plain count would have made.  The
 * pairing never changes which blocks are doomed: a matched word's block
 * could only be met by the doom walk through a second old word, which makes
 * it SHARED.  A copy made while adopting takes matched words along with the
 * counted ones (copy_block).  This is the provenance fast path (R13 of
 * docs/RECLAMATION.md), found by position instead of recorded by the collection
 * operations, so every writer gets it and no operation has to report what
 * it copied. */

#define MATCH_MAX 128  /* a longer differing middle is left unmatched */
#define MATCH_SUBS 8   /* child pairs formed per pair, at most */

typedef struct match {
  const uint64_t *a, *b;    /* child words of the fresh block and of the old */
  size_t na, nb;
  size_t head, tail;        /* equal words at the start and at the end       */
  int none;                 /* middle too long: nothing in it matched        */
  uint8_t ma[MATCH_MAX], mb[MATCH_MAX]; /* the middle: 1 = matched           */
  unsigned nsubs;           /* places where a[i] replaced b[j]: {i, j}       */
  uint32_t sub[MATCH_SUBS][2];
} match;

/* Match the child words of fresh block n and old block s.  The common head
 * and tail match (the whole node but one slot, for a one-key swap); in the
 * middle, greedily in order: equal words match, else a look-ahead of 1 or
 * 2 words (one entry inserted or removed) realigns, else a[i] replaced b[j].
 * Deterministic: unpair recomputes the count's match from words no one
 * changes in between. */
static int match_words(commit_ctx *c, uint64_t n, uint64_t s, match *m) {
  const uint64_t *a = m->a = blk_child_words(c->t, n, &m->na);
  const uint64_t *b = m->b = blk_child_words(c->t, s, &m->nb);
  if (c->t->err) return c->err = c->t->err;
  size_t na = m->na, nb = m->nb, least = na < nb ? na : nb, head = 0, tail = 0;
  while (head < least && a[head] == b[head]) head++;
  while (tail < least - head && a[na - 1 - tail] == b[nb - 1 - tail]) tail++;
  m->head = head;
  m->tail = tail;
  m->nsubs = 0;
  size_t ea = na - tail, eb = nb - tail; /* ends of the middle */
  m->none = ea - head > MATCH_MAX || eb - head > MATCH_MAX;
  if (m->none) return 0;
  memset(m->ma, 0, ea - head);
  memset(m->mb, 0, eb - head);
  size_t i = head, j = head;
  while (i < ea && j < eb) {
    if (a[i] == b[j]) {
      m->ma[i++ - head] = m->mb[j++ - head] = 1;
    } else if (i + 1 < ea && a[i + 1] == b[j]) {
      i += 1;
    } else if (j + 1 < eb && a[i] == b[j + 1]) {
      j += 1;
    } else if (i + 2 < ea && a[i + 2] == b[j]) {
      i += 2;
    } else if (j + 2 < eb && a[i] == b[j + 2]) {
      j += 2;
    } else {
      if (m->nsubs < MATCH_SUBS) {
        m->sub[m->nsubs][0] = (uint32_t)i;
        m->sub[m->nsubs++][1] = (uint32_t)j;
      }
      i++, j++;
    }
  }
  return 0;
}

static int matched_a(const match *m, size_t i) {
  return i < m->head || i >= m->na - m->tail || (!m->none && m->ma[i - m->head]);
}
static int matched_b(const match *m, size_t j) {
  return j < m->head || j >= m->nb - m->tail || (!m->none && m->mb[j - m->head]);
}

/* Pair fresh n with old s if both are free to pair and of one type. */
static void try_pair(commit_ctx *c, uint64_t n, uint64_t s) {
  if (!VAL_IS_BLOCK(n) || !VAL_IS_BLOCK(s) || n == s) return;
  cent *en = find(c, n);
  if (!en || (en->flags & (F_FRESH | F_REACHED | F_PAIRED)) != F_FRESH) return;
  const blk *bs = txn_read_any(c->t, s);
  if (c->t->err || bs->type < T_MAP || bs->type != blk_of(c, n)->type) return; /* a scalar has no words */
  cent *es = entry(c, s);
  if (!es || (es->flags & (F_FRESH | F_PAIRED))) return;
  if (push(c, &c->pairs, s)) return;
  es->flags |= F_PAIRED;
  es->pair = n;
  en = find(c, n); /* entry() may have moved it */
  en->flags |= F_PAIRED;
  en->pair = s;
  pair_count(PC_FORMED, 1);
}

/* Count the words of fresh block n, paired with old block s: only the
 * unmatched ones; replaced child words become pairs in turn. */
static void count_paired(commit_ctx *c, uint64_t n, uint64_t s) {
  match m;
  if (match_words(c, n, s, &m)) return;
  /* s's unmatched words, for the doom walk if s dies (die_paired) */
  size_t at = c->unmatched.n;
  for (size_t j = m.head; j < m.nb - m.tail; j++) /* the rest matched */
    if (!matched_b(&m, j) && VAL_IS_BLOCK(m.b[j]) && push(c, &c->unmatched, m.b[j])) return;
  cent *es = find(c, s);
  es->die_at = (uint32_t)at;
  es->die_n = (uint32_t)(c->unmatched.n - at);
  for (unsigned k = 0; k < m.nsubs; k++) try_pair(c, m.a[m.sub[k][0]], m.b[m.sub[k][1]]);
  for (size_t i = m.head; i < m.na - m.tail; i++)
    if (!matched_a(&m, i)) new_edge(c, m.a[i]);
}

static void count_new_version(commit_ctx *c, eve_val old) {
  if (VAL_IS_BLOCK(old) && !find(c, old) &&
      !PAIRING_OFF())
    try_pair(c, *c->new_root, old);
  new_edge(c, *c->new_root);
  while (c->stack.n && !c->err && !c->t->err) {
    uint64_t off = c->stack.v[--c->stack.n];
    const cent *e = find(c, off);
    if (e->flags & F_PAIRED) count_paired(c, off, e->pair);
    else blk_for_each_child(c->t, off, count_slot, c);
  }
  if (c->t->err && !c->err) c->err = c->t->err;
}

/* After the doom walk: a pair whose old side did not die was no transfer;
 * count the fresh side's matched words now. */
static void unpair_survivors(commit_ctx *c) {
  for (size_t k = 0; k < c->pairs.n && !c->err; k++) {
    const cent *es = find(c, c->pairs.v[k]);
    if (es->flags & F_PAIR_DONE) continue;
    pair_count(PC_UNPAIRED, 1);
    match m;
    if (match_words(c, es->pair, es->off, &m)) return;
    for (size_t i = 0; i < m.na && !c->err; i++) {
      if (!matched_a(&m, i) || !VAL_IS_BLOCK(m.a[i])) continue;
      const cent *e = find(c, m.a[i]);
      if (e && (e->flags & F_FRESH)) c->err = EVE_ECORRUPT; /* an old block held it */
      else new_edge(c, m.a[i]);
    }
  }
}

/* ---- 2. doom ------------------------------------------------------------------- */

static void die_slot(void *ctx, const uint64_t *slot) {
  commit_ctx *c = ctx;
  if (VAL_IS_BLOCK(*slot)) push(c, &c->stack, *slot);
}

/* One incoming word of `off` dies.  Returns 1 if off is garbage and its
 * children's words die too. */
static int edge_dies(commit_ctx *c, uint64_t off) {
  cent *e = entry(c, off);
  if (!e) return 0;
  if (e->flags & F_FRESH) { /* the old version cannot reach a fresh block */
    c->err = EVE_ECORRUPT;
    return 0;
  }
  if (e->newcnt > 0 || (e->flags & F_SHARED_DROP)) {
    e->dying++;
    return 0;
  }
  if (e->flags & F_VISITED) return 0; /* a second word to a plain block: corrupt; never twice */
  e->flags |= F_VISITED;
  if (!valid_old(c, off)) return 0;
  _Atomic uint64_t *meta = &blk_of(c, off)->meta;
  uint64_t m = atomic_load(meta);
  for (;;) {
    if (META_STATE(m) == BLK_FREE) {
      c->err = EVE_ECORRUPT;
      return 0;
    }
    if (META_SHARED(m)) { /* lives on with one owner less (after the CAS) */
      e = find(c, off);
      e->flags |= F_SHARED_DROP;
      e->dying++;
      return 0;
    }
    if (META_STATE(m) == BLK_RETIRED) break; /* doomed by a racing committer */
    if (atomic_compare_exchange_weak(meta, &m, (m & ~(uint64_t)BLK_STATE_MASK) | BLK_RETIRED)) break;
  }
  e = find(c, off);
  e->flags |= F_DOOMED;
  e->gen = META_GEN(m);
  /* waits in the log from now on, pending this commit's outcome: if the
   * process dies, the repairer knows the block and whose CAS decides it */
  int rc = epoch_retire_pending(c->d, off, e->gen, tag_pending(c->t->slot, c->seq),
                                &c->pending_start);
  if (rc) c->err = rc;
  PAUSE(PAUSE_AFTER_DOOM, off, 0);
  return 1;
}

/* Doomed block s is paired: only its unmatched words die. */
static void die_paired(commit_ctx *c, uint64_t s) {
  cent *e = find(c, s);
  e->flags |= F_PAIR_DONE;
  for (uint32_t k = 0; k < e->die_n; k++) push(c, &c->stack, c->unmatched.v[e->die_at + k]);
}

static void doom_old_version(commit_ctx *c, eve_val old) {
  if (!VAL_IS_BLOCK(old)) return;
  push(c, &c->stack, old);
  while (c->stack.n && !c->err) {
    uint64_t off = c->stack.v[--c->stack.n];
    if (edge_dies(c, off)) {
      if (find(c, off)->flags & F_PAIRED) die_paired(c, off);
      else blk_for_each_child(c->t, off, die_slot, c);
    }
    if (c->t->err && !c->err) c->err = c->t->err;
  }
  unpair_survivors(c);
}

/* ---- 3. adopt -------------------------------------------------------------------- */

/* Point every fresh word that holds `from` at `to` instead.  Copies are
 * rare (a RETIRED or count-0 block gaining an owner), so the fresh blocks
 * are rescanned here rather than every word's position recorded. */
typedef struct repoint { uint64_t from, to; size_t words; } repoint;

static void repoint_slot(void *ctx, const uint64_t *slot) {
  repoint *r = ctx;
  if (*slot != r->from) return;
  *(uint64_t *)slot = r->to; /* a fresh block: ours to write */
  r->words++;
}

/* Returns the number of words changed, the new root word included. */
static size_t repoint_fresh(commit_ctx *c, uint64_t from, uint64_t to) {
  repoint r = {from, to, 0};
  if (*c->new_root == from) {
    *c->new_root = to;
    r.words++;
  }
  for (size_t k = 0; k < c->slots.n; k++) {
    const cent *e = &c->tab[c->slots.v[k]];
    if ((e->flags & F_REACHED) && e->off != to) blk_for_each_child(c->t, e->off, repoint_slot, &r);
  }
  return r.words;
}

/* Replace old block `off` by a fresh copy in every fresh word that points
 * at it; the copy's children each gain an owner. */
static void copy_block(commit_ctx *c, uint64_t off) {
  const blk *src = blk_of(c, off);
  uint64_t size = alloc_class_size(src->cls), coff;
  blk *dst = txn_alloc(c->t, size, src->type, &coff);
  if (!dst) {
    c->err = c->t->err;
    return;
  }
  memcpy((uint8_t *)dst + sizeof(blk), (const uint8_t *)src + sizeof(blk), size - sizeof(blk));
  dst->aux = src->aux;
  cent *e = find(c, off);
  uint32_t counted = e->newcnt;
  e->newcnt = 0; /* the original loses every new word to the copy */
  cent *ce = entry(c, coff);
  if (!ce) return;
  ce->flags = F_FRESH | F_REACHED;
  /* Every fresh word that held the original now holds the copy, the words
   * a pair matched too: each of those was a transfer (the original lost
   * one word and gained one).  Now the original just loses it, and the
   * copy gains it. */
  uint32_t newcnt = (uint32_t)repoint_fresh(c, off, coff);
  ce = find(c, coff);
  ce->newcnt = newcnt;
  if (newcnt > counted) {
    find(c, off)->dying += newcnt - counted;
    pair_count(PC_REPOINTED, newcnt - counted);
  }
  /* remembered: if the attempt loses, fresh blocks built before it (still
   * the caller's) must point at the original again, not at a freed copy */
  push(c, &c->copies, off);
  push(c, &c->copies, coff);
  if (newcnt >= 2) atomic_store(&dst->meta, META_MAKE(META_GEN(atomic_load(&dst->meta)), newcnt, 1, BLK_LIVE));
  blk_for_each_child(c->t, coff, count_slot, c);
}

/* Decide (again) how the old block `off` gains the owners it needs. */
static void adopt_old(commit_ctx *c, uint64_t off) {
  cent *e = find(c, off);
  if (e->newcnt == 0) return; /* moved to a copy */
  int64_t want = (int64_t)e->newcnt - e->dying; /* owners to add, net */
  if (want <= (int64_t)e->applied) return;      /* transferred, or a post-CAS drop */
  uint32_t add = (uint32_t)(want - e->applied);
  if (!valid_old(c, off)) return;
  _Atomic uint64_t *meta = &blk_of(c, off)->meta;
  uint64_t m = atomic_load(meta);
  for (;;) {
    uint64_t count = META_SHARED(m) ? META_COUNT(m) : 1;
    int retired = META_STATE(m) == BLK_RETIRED;
    if (META_STATE(m) == BLK_FREE) {
      c->err = EVE_ECORRUPT;
      return;
    }
    if (retired || (META_SHARED(m) && count == 0) || count + add > BLK_COUNT_MAX) {
      copy_block(c, off);
      return;
    }
    if (journal_reserve(c)) return; /* the entry cannot fail after the CAS */
    uint64_t nm = META_MAKE(META_GEN(m), count + add, 1, META_STATE(m));
    if (atomic_compare_exchange_weak(meta, &m, nm)) break;
  }
  journal_record(c, off, add, JE_ADOPTED);
  find(c, off)->applied += add;
  PAUSE(PAUSE_AFTER_ADOPT, off, 0);
}

static void adopt_new_version(commit_ctx *c) {
  for (size_t k = 0; k < c->slots.n; k++) {
    cent *e = &c->tab[c->slots.v[k]];
    if (!e->newcnt) continue;
    if (e->flags & F_FRESH) {
      blk *b = blk_of(c, e->off);
      uint64_t gen = META_GEN(atomic_load(&b->meta));
      /* unpublished: plain stores.  Reset too, in case an earlier attempt
       * of this txn marked a pre-attempt block SHARED. */
      atomic_store(&b->meta, META_MAKE(gen, e->newcnt >= 2 ? e->newcnt : 0, e->newcnt >= 2, BLK_LIVE));
    } else if ((int64_t)e->newcnt - e->dying > (int64_t)e->applied) {
      push(c, &c->adopt, e->off); /* gains owners; the rest are transfers */
    }
  }
  /* copies add owners to their children, which may need copies in turn */
  c->adopting = 1;
  while (c->adopt.n && !c->err) adopt_old(c, c->adopt.v[--c->adopt.n]);
}

/* ---- 4. after the CAS ---------------------------------------------------------------- */

static void leak_counted(eve_domain *d, uint64_t n);

static void retire(eve_domain *d, uint64_t off, uint64_t gen, uint64_t tag) {
  if (epoch_retire(d, off, gen, tag) != 0) leak_counted(d, 1); /* out of memory */
}

/* After the root CAS nothing may fail: the swap has happened, and a caller
 * told otherwise would apply it twice.  What cannot be recorded for want of
 * memory is left unreclaimed and counted; the collector returns it. */
static void leak_counted(eve_domain *d, uint64_t n) {
  atomic_fetch_add(&d->hdr->skipped_retires, n);
  atomic_fetch_or(&d->hdr->flags, EVE_HF_SKIPPED);
}

typedef struct drop_work {
  eve_domain *d;
  vec64 v;
} drop_work;

static void drop_slot(void *ctx, const uint64_t *slot) {
  drop_work *w = ctx;
  if (!VAL_IS_BLOCK(*slot)) return;
  if (w->v.n == w->v.cap) {
    size_t cap = w->v.cap ? w->v.cap * 2 : 64;
    uint64_t *v = inject_alloc_fails() ? NULL : realloc(w->v.v, cap * sizeof *v);
    if (!v) { /* this child and its subtree stay allocated: counted */
      leak_counted(w->d, 1);
      return;
    }
    w->v.v = v;
    w->v.cap = cap;
  }
  w->v.v[w->v.n++] = *slot;
}

/* Take k owners from a SHARED block.  At zero it is garbage: retire it and
 * take one owner from each of its children, down through plain blocks.
 *
 * The retire tag is read after the CAS that made the block garbage, not
 * reused from the commit's root CAS (docs/RECLAMATION.md, R3: a count that
 * reaches zero is tagged after the decrement that made it zero).  The count can reach zero only after other
 * commits, later than ours, took their owners away: a reader that pinned
 * after our root CAS may have loaded one of their old roots and still be
 * walking this block.  Each of those commits took its owner after its own
 * root CAS, and our decrement is after theirs in the count word's order, so
 * the epoch read after our decrement is at least every such reader's pin.
 * Plain children of the block were reachable only through it: the same
 * tag covers them. */
static void drop_owners(eve_txn *t, uint64_t off, uint32_t k) {
  eve_domain *d = t->d;
  drop_work work = {d, {0}};
  uint64_t item = off, tag = 0;
  for (;;) {
    /* validate before any CAS: a child word of a damaged block may point
     * anywhere, and a CAS there would scribble on it */
    txn_read_any(t, item);
    if (t->err) break; /* damage: the txn reports it from now on */
    _Atomic uint64_t *meta = &((blk *)region_ptr(d, item))->meta;
    uint64_t m = atomic_load(meta), nm;
    int garbage = 0, was_shared = 0;
    for (;;) {
      if (META_STATE(m) == BLK_FREE) { garbage = -1; break; }
      was_shared = META_SHARED(m);
      if (was_shared) {
        uint64_t count = META_COUNT(m), left = count > k ? count - k : 0;
        garbage = left == 0;
        nm = META_MAKE(META_GEN(m), left, 1, garbage ? BLK_RETIRED : META_STATE(m));
      } else { /* a plain child of a dead block: its only owner died */
        garbage = 1;
        nm = (m & ~(uint64_t)BLK_STATE_MASK) | BLK_RETIRED;
      }
      if (atomic_compare_exchange_weak(meta, &m, nm)) break;
    }
    if (garbage == 1) {
      if (was_shared || !tag) tag = epoch_tag(d); /* after the CAS above */
      retire(d, item, META_GEN(m), tag);
      blk_for_each_child(t, item, drop_slot, &work);
    }
    if (!work.v.n) break;
    item = work.v.v[--work.v.n];
    k = 1;
  }
  free(work.v.v);
}

/* ---- bookkeeping of the txn's fresh blocks ---------------------------------------------- */

static void load_fresh(commit_ctx *c) {
  eve_txn *t = c->t;
  for (size_t i = 0; i < t->nfresh && !c->err; i++) {
    if (!t->fresh[i]) continue; /* published by an earlier commit */
    cent *e = entry(c, t->fresh[i]);
    if (e) e->flags |= F_FRESH;
  }
}

/* After a win: published blocks leave the fresh list; this attempt's blocks
 * that the new version does not reach are freed.  After a loss (won == 0):
 * every block of this attempt is freed. */
static void settle_fresh(commit_ctx *c, size_t mark, int won) {
  eve_txn *t = c->t;
  for (size_t i = 0; i < t->nfresh; i++) {
    uint64_t off = t->fresh[i];
    if (!off) continue;
    cent *e = find(c, off);
    int reached = e && (e->flags & F_REACHED) && e->newcnt > 0;
    if (won && reached) {
      t->fresh[i] = 0;
    } else if (i >= mark) {
      alloc_free(c->d, off);
      t->fresh[i] = 0;
    }
  }
  if (t->swap_depth == 0) txn_compact_fresh(t);
}

/* The attempt did not publish: fresh words that were repointed at copies
 * point at the originals again, the owners it raised are given back, and
 * its doomed blocks leave the log (they live on, doomed). */
static void rollback(commit_ctx *c) {
  for (size_t i = c->copies.n; i >= 2; i -= 2)
    repoint_fresh(c, c->copies.v[i - 1], c->copies.v[i - 2]);
  if (!c->j) return;
  journal_phase(c, J_LOST);
  /* the pending entries go first: giving owners back can retire blocks and
   * run a pass, which compacts the log they are found in by index */
  epoch_pending_drop(c->d, c->pending_start);
  PAUSE(PAUSE_BEFORE_DROP, 0, 0);
  journal_settle(c->t, c->j, JE_ADOPTED);
  journal_phase(c, J_IDLE);
}

static void after_win(commit_ctx *c) {
  journal_phase(c, J_WON);
  uint64_t tag = epoch_tag(c->d); /* read after the seq_cst root CAS */
  epoch_pending_publish(c->d, c->pending_start, tag);
  PAUSE(PAUSE_BEFORE_DROP, 0, 1);
  journal_settle(c->t, c->j, JE_DROP);
  journal_phase(c, J_IDLE);
}

/* Each thread keeps its commit buffers between commits: a commit then
 * allocates nothing in the common case, and clearing touches only the
 * entries it used. */
static __thread commit_ctx tls_scratch;
static __thread int tls_scratch_busy, tls_scratch_registered;
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void ctx_release(commit_ctx *c) {
  free(c->tab);
  free(c->slots.v);
  free(c->stack.v);
  free(c->adopt.v);
  free(c->copies.v);
  free(c->pairs.v);
  free(c->unmatched.v);
}

/* Thread exit: free the thread's scratch buffers. */
static void scratch_exit(void *unused) {
  (void)unused;
  ctx_release(&tls_scratch);
  tls_scratch = (commit_ctx){0};
}

static void scratch_key_init(void) { pthread_key_create(&g_scratch_key, scratch_exit); }

/* The thread's scratch context, or `local` (zeroed) when a commit is
 * already using it (a commit inside a swap function's commit). */
static commit_ctx *ctx_init(commit_ctx *local, eve_txn *t, eve_val *new_root) {
  commit_ctx *c = local;
  if (!tls_scratch_busy) {
    if (!tls_scratch_registered) { /* free the buffers at the thread's exit */
      pthread_once(&g_scratch_once, scratch_key_init);
      pthread_setspecific(g_scratch_key, (void *)1);
      tls_scratch_registered = 1;
    }
    c = &tls_scratch;
    c->from_tls = tls_scratch_busy = 1;
  } else {
    memset(c, 0, sizeof *c);
  }
  c->t = t;
  c->d = t->d;
  c->new_root = new_root;
  return c;
}

static void ctx_free(commit_ctx *c) {
  /* keep the buffers, clear what was used; a table grown past 1024 entries
   * by one big commit would spread every later small one over its lines */
  if (c->from_tls && c->cap <= (1u << 10)) {
    for (size_t k = 0; k < c->slots.n; k++) memset(&c->tab[c->slots.v[k]], 0, sizeof(cent));
    c->used = c->slots.n = c->stack.n = c->adopt.n = c->copies.n = c->pairs.n =
        c->unmatched.n = 0;
    c->j = NULL;
    c->adopting = 0;
    c->err = 0;
    tls_scratch_busy = 0;
    return;
  }
  ctx_release(c);
  if (c->from_tls) { /* grown too big to keep */
    tls_scratch = (commit_ctx){0};
    tls_scratch_busy = 0;
  }
}

/* The root CAS, and the version bump of a change that won. */
static int publish_root(_Atomic uint64_t *root, _Atomic uint64_t *version, eve_val old,
                        eve_val new) {
  eve_val expected = old;
  if (!atomic_compare_exchange_strong(root, &expected, new)) return 0;
  if (version && new != old) atomic_fetch_add(version, 1);
  return 1;
}

/* A root CAS that won may have landed in the zero pages that replaced a
 * truncated file (fault.c): then it published nothing, and saying so is
 * the only honest answer.  Such a store faulted first, after the damage
 * bit was set, so the bit is visible here. */
static int acknowledge(eve_txn *t) {
  int damage = region_damage(t->d);
  return damage ? txn_fail(t, damage) : 0;
}

int commit_publish(eve_txn *t, _Atomic uint64_t *root, _Atomic uint64_t *version, eve_val old,
                   eve_val *new, size_t mark, int *won) {
  *won = 0;
  if (txn_status(t)) return t->err;
  if (!VAL_IS_BLOCK(old) && !VAL_IS_BLOCK(*new) && t->nfresh == mark) {
    /* one immediate for another (a counter), and no block built by this
     * attempt: nothing to count, doom, adopt or free, only the root CAS */
    PAUSE(PAUSE_AFTER_COUNT, 0, 0);
    PAUSE(PAUSE_BEFORE_CAS, 0, 0);
    *won = *new == old || publish_root(root, version, old, *new);
    PAUSE(PAUSE_AFTER_CAS, 0, *won);
    return *won ? acknowledge(t) : 0;
  }
  commit_ctx local, *c = ctx_init(&local, t, new);
  if (*new == old) { /* nothing changes: publish nothing, drop the attempt */
    load_fresh(c);
    settle_fresh(c, mark, 0);
    ctx_free(c);
    *won = 1;
    return acknowledge(t);
  }
  load_fresh(c);
  if (!c->err) count_new_version(c, old);
  PAUSE(PAUSE_AFTER_COUNT, 0, 0);
  if (!c->err && atomic_load(root) != old) {
    /* already lost: skip the dooms and adoptions a lost race would waste
     * (and the live RETIRED blocks its dooms would leave for others to copy) */
    settle_fresh(c, mark, 0);
    ctx_free(c);
    return 0;
  }
  if (!c->err) journal_open(c, root, old);
  if (!c->err) doom_old_version(c, old);
  if (!c->err) adopt_new_version(c);
  if (!c->err) journal_plan_drops(c);
  if (c->err) {
    int err = c->err; /* ctx_free clears it for the next commit */
    rollback(c);
    settle_fresh(c, mark, 0);
    ctx_free(c);
    return txn_fail(t, err);
  }
  journal_arm(c, old);
  PAUSE(PAUSE_BEFORE_CAS, 0, 0);
  *won = publish_root(root, version, old, *new);
  PAUSE(PAUSE_AFTER_CAS, 0, *won);
  if (*won) after_win(c);
  else rollback(c);
  settle_fresh(c, mark, *won);
  int err = c->err;
  ctx_free(c);
  if (err) return txn_fail(t, err);
  return *won ? acknowledge(t) : 0;
}
