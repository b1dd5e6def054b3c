/* walk.c — the walks over nested values: equality, the total order, and
 * nesting depth.  None of them recurses.
 *
 * Why: values nest up to EVE_MAX_NESTING (4096) deep, and eve runs on
 * threads with small stacks (128 KiB: musl's default, and what language
 * bindings give their workers).  A recursive comparison spends a few
 * hundred bytes of C stack per level and crashed at 512.  Here each walk
 * keeps an explicit stack of frames: one per open pair of collections, and
 * for map and set equality one per pair of trie nodes on the path (at most
 * 14 per level).  The stack starts in a small array on the C stack, so
 * comparing shallow collections — keys in a lookup — allocates nothing; it
 * moves to the heap only when a walk goes deeper.
 *
 * A frame is a small coroutine.  Asked for work (*_next), it goes through
 * the pairs of values its verdict depends on, deciding on the spot each
 * pair value.c's shallow step decides (most elements are scalars), and
 * stops at a pair whose own elements must decide, or with its verdict.
 * The driver loop pushes a frame for such a pair, and hands a finished
 * frame's verdict to the frame below it (*_take), which updates its state
 * and says whether it is done in turn.
 *
 * The constructors never build a value deeper than EVE_MAX_NESTING, so a
 * walk with more collections open than that is inside a damaged file (a
 * cycle): EVE_ECORRUPT. */
#define _GNU_SOURCE
#include "walk.h"

#include <stdlib.h>
#include <string.h>

#include "map.h"

/* ---- a stack of frames, first on the C stack ------------------------------ */

typedef struct fstack {
  char *v;          /* the frames                                   */
  size_t n, cap;    /* frames in use, room                          */
  size_t size;      /* bytes per frame                              */
  char *local;      /* the caller's array, where v starts           */
} fstack;

static void fs_init(fstack *s, void *local, size_t cap, size_t size) {
  *s = (fstack){.v = local, .cap = cap, .size = size, .local = local};
}

static inline void *fs_top(const fstack *s) { return s->v + (s->n - 1) * s->size; }

/* Double the room, moving the frames to the heap; 0 or EVE_ENOMEM in t. */
static __attribute__((noinline)) int fs_grow(eve_txn *t, fstack *s) {
  size_t cap = s->cap * 2;
  char *p = s->v == s->local ? malloc(cap * s->size) : realloc(s->v, cap * s->size);
  if (!p) return txn_fail(t, EVE_ENOMEM);
  if (s->v == s->local) memcpy(p, s->local, s->n * s->size);
  s->v = p;
  s->cap = cap;
  return 0;
}

/* A new top frame (uninitialised), or NULL with EVE_ENOMEM in t.  May move
 * the frames: pointers to them taken before are stale. */
static inline void *fs_push(eve_txn *t, fstack *s) {
  if (__builtin_expect(s->n == s->cap, 0) && fs_grow(t, s)) return NULL;
  return s->v + s->n++ * s->size;
}

static void fs_free(fstack *s) {
  if (s->v != s->local) free(s->v);
}

/* One more collection open in a walk; EVE_ECORRUPT past the deepest value
 * the constructors build. */
static int nest_in(eve_txn *t, unsigned *nest) {
  if (*nest >= EVE_MAX_NESTING) return txn_fail(t, EVE_ECORRUPT);
  (*nest)++;
  return 0;
}

/* What a frame asks for. */
enum step { STEP_PAIR, STEP_NODES, STEP_DONE };

/* Frames kept on the C stack before the heap: 4 frames of under 500 bytes
 * (2 KiB), enough for keys nested a few levels. */
#define LOCAL_FRAMES 4

/* ---- equality --------------------------------------------------------------- */

enum eq_kind { EQ_SEQ, EQ_NODE, EQ_COLL };

typedef struct eq_frame {
  enum eq_kind kind;
  int opens;                /* 1 if the frame is a pair of whole values   */
  union {
    struct { eve_iter a, b; } seq;
    struct {
      champ_pair p;
      uint32_t i;           /* bitmap node: next word, then child (i - nwords);
                               collision: a's entry being matched          */
      uint32_t j;           /* collision: b's entry tried for it           */
      int on_value;         /* collision: keys matched, values compared    */
    } node;
  };
} eq_frame;

/* Push the frame for two nodes of kind k at level; 0 when they differ at
 * sight (nothing pushed), EQ_OPEN when pushed. */
static int eq_push_nodes(eve_txn *t, fstack *s, const champ_kind *k, uint64_t a, uint64_t b,
                         unsigned level, int opens) {
  eq_frame *f = fs_push(t, s);
  if (!f) return 0;
  f->kind = level == CHAMP_COLL_LEVEL ? EQ_COLL : EQ_NODE;
  f->opens = opens;
  f->node.i = f->node.j = 0;
  f->node.on_value = 0;
  if (!champ_pair_open(t, k, a, b, level, &f->node.p)) {
    s->n--;
    return 0;
  }
  return EQ_OPEN;
}

/* Push the frame for a pair val_equal_shallow left open (type: a's block
 * type); 0 when they differ at sight, EQ_OPEN when pushed. */
static int eq_push_values(eve_txn *t, fstack *s, unsigned *nest, eve_val a, eve_val b,
                          unsigned type) {
  if (nest_in(t, nest)) return 0;
  if (type == T_MAP || type == T_SET) {
    int r = eq_push_nodes(t, s, type == T_MAP ? &champ_map_kind : &champ_set_kind, a, b, 0, 1);
    if (r != EQ_OPEN) (*nest)--;
    return r;
  }
  eq_frame *f = fs_push(t, s);
  if (f) {
    f->kind = EQ_SEQ;
    f->opens = 1;
    if (!eve_iter_init(t, a, &f->seq.a) && !eve_iter_init(t, b, &f->seq.b)) return EQ_OPEN;
    s->n--; /* damage, in t */
  }
  (*nest)--;
  return 0;
}

/* A frame's next step (eq_next) decides on the spot every pair the words
 * decide — the elements of most collections are scalars — and stops only
 * for a pair whose elements must be compared (STEP_PAIR, *type set), two
 * child nodes (STEP_NODES), or its own verdict (STEP_DONE, *r). */

/* A pair x, y in f's way: 1 equal, 0 not, EQ_OPEN for a frame to push. */
static int eq_decide(eve_txn *t, eve_val x, eve_val y, unsigned *type) {
  return x == y ? 1 : val_equal_shallow(t, x, y, type);
}

static enum step eq_next_seq(eve_txn *t, eq_frame *f, eve_val *x, eve_val *y, unsigned *type,
                             int *r) {
  for (;;) {
    int ra = eve_iter_next(&f->seq.a, x, NULL), rb = eve_iter_next(&f->seq.b, y, NULL);
    if (ra || rb) {
      *r = ra == EVE_END && rb == EVE_END; /* errors are in t */
      return STEP_DONE;
    }
    int eq = eq_decide(t, *x, *y, type);
    if (eq == EQ_OPEN) return STEP_PAIR;
    if (!eq) {
      *r = 0;
      return STEP_DONE;
    }
  }
}

/* Entry words pairwise, then children pairwise, skipping a child that is
 * the same block in both (a shared subtree). */
static enum step eq_next_node(eve_txn *t, eq_frame *f, eve_val *x, eve_val *y, unsigned *type,
                              int *r) {
  const champ_pair *p = &f->node.p;
  uint32_t i = f->node.i, end = p->nwords + p->nchildren;
  for (; i < p->nwords; i++) {
    int eq = eq_decide(t, p->a[i], p->b[i], type);
    if (eq == EQ_OPEN) break;
    if (!eq) {
      *r = 0;
      return STEP_DONE;
    }
  }
  while (i < end && p->a[i] == p->b[i] && i >= p->nwords) i++;
  if (i == end) {
    *r = 1;
    return STEP_DONE;
  }
  f->node.i = i + 1;
  *x = p->a[i];
  *y = p->b[i];
  return i < p->nwords ? STEP_PAIR : STEP_NODES;
}

/* Entry i of a against entry j of b: the keys, then (maps) the values. */
static enum step eq_ask_coll(eq_frame *f, eve_val *x, eve_val *y, int *r) {
  const champ_pair *p = &f->node.p;
  size_t s = p->k->stride;
  if (f->node.i == p->nentries || f->node.j == p->nentries) {
    *r = f->node.i == p->nentries; /* else no key of b matched a's key i */
    return STEP_DONE;
  }
  size_t w = f->node.on_value ? 1 : 0;
  *x = p->a[f->node.i * s + w];
  *y = p->b[f->node.j * s + w];
  return STEP_PAIR;
}

/* The verdict eq of the pair f asked for; 1 when f is done (*r its own). */
static int eq_take(eq_frame *f, int eq, int *r) {
  if (f->kind != EQ_COLL || f->node.on_value) {
    if (!eq) { /* every pair must be equal */
      *r = 0;
      return 1;
    }
    if (f->kind == EQ_COLL) { /* a's entry i matched in full: the next one */
      f->node.on_value = 0;
      f->node.i++;
      f->node.j = 0;
    }
    return 0;
  }
  if (!eq) { /* not this key of b: try the next */
    f->node.j++;
  } else if (f->node.p.k->stride == 2) {
    f->node.on_value = 1; /* keys are unique: only this entry can match */
  } else {
    f->node.i++;
    f->node.j = 0;
  }
  return 0;
}

static enum step eq_next_coll(eve_txn *t, eq_frame *f, eve_val *x, eve_val *y, unsigned *type,
                              int *r) {
  for (;;) {
    if (eq_ask_coll(f, x, y, r) == STEP_DONE) return STEP_DONE;
    int eq = eq_decide(t, *x, *y, type);
    if (eq == EQ_OPEN) return STEP_PAIR;
    if (eq_take(f, eq, r)) return STEP_DONE;
  }
}

static enum step eq_next(eve_txn *t, eq_frame *f, eve_val *x, eve_val *y, unsigned *type,
                         int *r) {
  switch (f->kind) {
  case EQ_SEQ: return eq_next_seq(t, f, x, y, type, r);
  case EQ_NODE: return eq_next_node(t, f, x, y, type, r);
  default: return eq_next_coll(t, f, x, y, type, r);
  }
}

int walk_equal(eve_txn *t, eve_val a, eve_val b, unsigned type) {
  eq_frame local[LOCAL_FRAMES];
  fstack s;
  unsigned nest = 0;
  fs_init(&s, local, LOCAL_FRAMES, sizeof *local);
  int r = eq_push_values(t, &s, &nest, a, b, type); /* a verdict, or EQ_OPEN: none yet */
  while (s.n && !t->err) {
    eq_frame *f = fs_top(&s);
    if (r != EQ_OPEN) { /* the verdict of the pair f asked for */
      if (eq_take(f, r, &r)) {
        nest -= (unsigned)f->opens;
        s.n--;
      } else {
        r = EQ_OPEN;
      }
      continue;
    }
    eve_val x, y;
    switch (eq_next(t, f, &x, &y, &type, &r)) {
    case STEP_DONE:
      nest -= (unsigned)f->opens;
      s.n--;
      break;
    case STEP_PAIR:
      r = eq_push_values(t, &s, &nest, x, y, type);
      break;
    case STEP_NODES:
      r = eq_push_nodes(t, &s, f->node.p.k, x, y, f->node.p.level + 1, 0);
      break;
    }
  }
  fs_free(&s);
  return r == 1 && !t->err;
}

/* ---- order ------------------------------------------------------------------- *
 * Sequences compare element by element.  Two sets or maps of one count that
 * are not equal compare by their entries in sorted order (key, then value):
 * the first place where the two sorted lists differ decides.  That place
 * holds the smallest entry that is in one collection and not in the other
 * — every smaller entry is in both, so both lists agree up to it — and the
 * side holding it is the smaller collection.  So the walk needs no sort:
 * it scans a's entries and then b's, looks each up in the other collection
 * (by hash: equality only), and keeps the smallest one missing there,
 * comparing candidates with the running minimum.  O(n) lookups and one
 * comparison per differing entry, no allocation; the sorted lists never
 * exist. */

enum cmp_kind { CMP_SEQ, CMP_UNORDERED };
enum un_phase { UN_SCAN, UN_KEY, UN_VALUE };

typedef struct cmp_frame {
  enum cmp_kind kind;
  union {
    struct { eve_iter a, b; } seq;
    struct {
      const champ_kind *k;
      eve_val coll[2];       /* a, b                                      */
      eve_iter it;           /* over coll[side]                           */
      int side;              /* 0 while scanning a's entries, then 1      */
      enum un_phase phase;   /* scanning, or comparing cand with min      */
      int has_min, min_side;
      eve_val min[2];        /* smallest entry missing from the other side */
      eve_val cand[2];       /* an entry missing from the other side       */
    } un;
  };
} cmp_frame;

/* Push the frame for a pair val_compare_shallow left open; 1 when pushed,
 * 0 on an error (in t). */
static int cmp_push(eve_txn *t, fstack *s, unsigned *nest, eve_val a, eve_val b, eve_type type) {
  if (nest_in(t, nest)) return 0;
  cmp_frame *f = fs_push(t, s);
  if (!f) return 0;
  if (type == EVE_LIST || type == EVE_VECTOR) {
    f->kind = CMP_SEQ;
    return !eve_iter_init(t, a, &f->seq.a) && !eve_iter_init(t, b, &f->seq.b);
  }
  f->kind = CMP_UNORDERED;
  f->un.k = type == EVE_MAP ? &champ_map_kind : &champ_set_kind;
  f->un.coll[0] = a;
  f->un.coll[1] = b;
  f->un.side = 0;
  f->un.phase = UN_SCAN;
  f->un.has_min = 0;
  return !eve_iter_init(t, a, &f->un.it);
}

static enum step cmp_next_seq(cmp_frame *f, eve_val *x, eve_val *y, int *c) {
  int ra = eve_iter_next(&f->seq.a, x, NULL), rb = eve_iter_next(&f->seq.b, y, NULL);
  if (ra == 0 && rb == 0) return STEP_PAIR;
  *c = (rb == EVE_END) - (ra == EVE_END); /* the shorter first; errors are in t */
  return STEP_DONE;
}

/* Is entry e (stride words) in collection coll? */
static int entry_in(eve_txn *t, const champ_kind *k, eve_val coll, const eve_val *e) {
  const eve_val *found;
  if (champ_lookup(t, k, coll, e[0], &found) || !found) return 0;
  return k->stride == 1 || val_equal(t, found[1], e[1]);
}

/* Scan on to the next entry missing from the other side that must be
 * compared with the minimum; done when both sides are scanned. */
static enum step cmp_scan(eve_txn *t, cmp_frame *f, eve_val *x, eve_val *y, int *c) {
  for (;;) {
    eve_val e[2] = {EVE_V_NIL, EVE_V_NIL};
    int rc = eve_iter_next(&f->un.it, &e[0], &e[1]);
    if (rc == EVE_END && f->un.side == 0) {
      f->un.side = 1;
      if (eve_iter_init(t, f->un.coll[1], &f->un.it)) break;
      continue;
    }
    if (rc == EVE_END) { /* unequal collections always differ somewhere */
      *c = !f->un.has_min ? 0 : f->un.min_side == 0 ? -1 : 1;
      return STEP_DONE;
    }
    if (rc) break;
    if (entry_in(t, f->un.k, f->un.coll[1 - f->un.side], e)) continue; /* in both: not
                                                   where the sorted lists differ */
    if (t->err) break;
    if (!f->un.has_min) {
      memcpy(f->un.min, e, sizeof e);
      f->un.min_side = f->un.side;
      f->un.has_min = 1;
      continue;
    }
    memcpy(f->un.cand, e, sizeof e);
    f->un.phase = UN_KEY;
    *x = e[0];
    *y = f->un.min[0];
    return STEP_PAIR;
  }
  *c = 0; /* an error, in t */
  return STEP_DONE;
}

static enum step cmp_ask(eve_txn *t, cmp_frame *f, eve_val *x, eve_val *y, int *c) {
  if (f->kind == CMP_SEQ) return cmp_next_seq(f, x, y, c);
  if (f->un.phase == UN_SCAN) return cmp_scan(t, f, x, y, c); /* keys come from there */
  *x = f->un.cand[1]; /* UN_VALUE: one key, so the values */
  *y = f->un.min[1];
  return STEP_PAIR;
}

/* The verdict c of the pair f asked for; 1 when f is done (*r its own). */
static int cmp_take(cmp_frame *f, int c, int *r) {
  if (f->kind == CMP_SEQ) {
    *r = c;
    return c != 0; /* the first unequal elements decide */
  }
  if (f->un.phase == UN_KEY && c == 0 && f->un.k->stride == 2) {
    f->un.phase = UN_VALUE; /* one key, two values: the values decide */
    return 0;
  }
  if (c < 0) { /* a new minimum */
    memcpy(f->un.min, f->un.cand, sizeof f->un.min);
    f->un.min_side = f->un.side;
  }
  f->un.phase = UN_SCAN;
  return 0;
}

/* f's next step, with every pair the words decide decided on the spot:
 * STEP_PAIR only for a pair whose elements must be compared (*type set),
 * STEP_DONE with f's verdict in *c. */
static enum step cmp_next(eve_txn *t, cmp_frame *f, eve_val *x, eve_val *y, eve_type *type,
                          int *c) {
  for (;;) {
    if (cmp_ask(t, f, x, y, c) == STEP_DONE) return STEP_DONE;
    int r = 0;
    if (*x != *y && !val_compare_shallow(t, *x, *y, &r, type)) return STEP_PAIR;
    if (cmp_take(f, r, c)) return STEP_DONE;
  }
}

int walk_compare(eve_txn *t, eve_val a, eve_val b, eve_type type) {
  cmp_frame local[LOCAL_FRAMES];
  fstack s;
  unsigned nest = 0;
  int c = 0, have = 0; /* have: c is a verdict for the top frame */
  fs_init(&s, local, LOCAL_FRAMES, sizeof *local);
  cmp_push(t, &s, &nest, a, b, type);
  while (s.n && !t->err) {
    cmp_frame *f = fs_top(&s);
    if (have) {
      have = cmp_take(f, c, &c);
      if (have) {
        nest--;
        s.n--;
      }
      continue;
    }
    eve_val x, y;
    if (cmp_next(t, f, &x, &y, &type, &c) == STEP_DONE) {
      nest--;
      s.n--;
      have = 1;
    } else {
      cmp_push(t, &s, &nest, x, y, type);
    }
  }
  fs_free(&s);
  return t->err ? 0 : c;
}

/* ---- depth --------------------------------------------------------------------- *
 * Deciding whether depth(x) <= limit: x's recorded bound decides when it is
 * within the limit; otherwise each element must be within limit - 1, which
 * its own bound decides, and only an element whose bound is over that is
 * walked in turn.  The result is a bound of x's depth no looser than its
 * recorded one: 1 + the deepest bound among the elements. */

typedef struct depth_frame {
  eve_iter it;
  uint32_t budget;     /* the collection must be at most this deep      */
  uint32_t deepest;    /* the deepest element bound so far             */
  eve_val pending;     /* a map entry's value, after its key            */
  int has_pending;
} depth_frame;

static depth_frame *depth_push(eve_txn *t, fstack *s, eve_val coll, uint32_t budget) {
  depth_frame *f = fs_push(t, s);
  if (!f) return NULL;
  f->budget = budget;
  f->deepest = 0;
  f->has_pending = 0;
  if (eve_iter_init(t, coll, &f->it)) return NULL;
  return f;
}

/* The next element of f's collection (a map yields its key, then its
 * value); 0, EVE_END or an error. */
static int depth_next(depth_frame *f, eve_val *e) {
  if (f->has_pending) {
    f->has_pending = 0;
    *e = f->pending;
    return 0;
  }
  int rc = eve_iter_next(&f->it, e, &f->pending);
  f->has_pending = rc == 0 && iter_of(&f->it)->kind == T_MAP;
  return rc;
}

/* 1 when depth(x) <= limit, with *bound as above; 0 when deeper (or on an
 * error, in t).  trust_root: x's own recorded bound may decide (the
 * checker, verifying that bound, passes 0). */
static int depth_within(eve_txn *t, eve_val x, uint32_t limit, int trust_root, uint32_t *bound) {
  uint32_t d = val_depth(t, x);
  *bound = d;
  if (t->err) return 0;
  if (d == 0 || !VAL_IS_BLOCK(x) || (trust_root && d <= limit)) return d <= limit;
  if (limit == 0) return 0;
  depth_frame local[LOCAL_FRAMES];
  fstack s;
  int fits = 1;
  fs_init(&s, local, LOCAL_FRAMES, sizeof *local);
  if (!depth_push(t, &s, x, limit)) fits = 0;
  while (fits && s.n) {
    depth_frame *f = fs_top(&s);
    eve_val e;
    int rc = depth_next(f, &e);
    if (rc == EVE_END) { /* f's collection is within its budget */
      uint32_t df = f->deepest + 1;
      if (--s.n == 0) *bound = df;
      else if (df > (f - 1)->deepest) (f - 1)->deepest = df;
      continue;
    }
    uint32_t de = rc ? 0 : val_depth(t, e);
    if (rc || t->err) fits = 0;
    else if (de < f->budget) { /* within: its bound decides */
      if (de > f->deepest) f->deepest = de;
    } else if (f->budget == 1 || !VAL_IS_BLOCK(e)) {
      fits = 0; /* a collection where only scalars fit */
    } else if (!depth_push(t, &s, e, f->budget - 1)) {
      fits = 0;
    }
  }
  fs_free(&s);
  return fits && !t->err;
}

uint32_t val_element_depth_slow(eve_txn *t, eve_val x, int *rc) {
  uint32_t bound;
  int fits = depth_within(t, x, EVE_MAX_NESTING - 1, 1, &bound);
  *rc = t->err ? t->err : fits ? 0 : EVE_EDEPTH;
  return bound;
}

int val_depth_check(eve_txn *t, eve_val coll) {
  const blk *b = txn_read_any(t, coll);
  if (txn_status(t)) return t->err;
  uint32_t recorded = b->aux >> DEPTH_SHIFT, bound;
  if (!recorded) return 0; /* written before bounds were kept */
  if (recorded > EVE_MAX_NESTING) return EVE_ECORRUPT;
  int fits = depth_within(t, coll, recorded, 0, &bound);
  return t->err ? t->err : fits ? 0 : EVE_ECORRUPT;
}
