/* test_corrupt.c — damaged domain files: every API entry point returns an
 * error or a value, never crashes, hangs or loops (docs/RELIABILITY.md,
 * "The domain file": a corrupt or hostile file gives an error, never a
 * crash).
 *
 * A few real domains are built (nested maps, vectors, sets, lists, scalars
 * of every kind, several atoms, values shared between atoms, a removed
 * atom).  Then thousands of damaged copies are made — bytes flipped,
 * ranges zeroed or filled with noise, the file truncated, header words
 * replaced, and pointer words redirected at an ancestor (a cycle) or at
 * another block of the same type (an alias) — and each copy is opened and
 * exercised in a forked child under alarm(): open, info, stats, check,
 * every atom's value walked and printed (also by its original name), a
 * swap, a new atom, a removal, gc and check again (tests/fuzz/exercise.h).
 * A child killed by a signal (a crash, a contract violation's abort, the
 * alarm of a hang) is a failure, reported with its seed; the damaged file
 * is kept in $TMPDIR/eve-corrupt-failures/ as a fuzz_domain input
 * (replay: build-fuzz/fuzz_domain FILE).
 *
 * Values that read back different from the original are counted, not
 * failed: payload bytes carry no checksum (a flipped byte in a string is
 * another string), which docs/RELIABILITY.md states as a limit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "atom.h"
#include "fuzz/exercise.h"
#include "region.h"
#include "support.h"

/* A child still running after this many seconds (times the sanitizer
 * build's slow-down, EVE_TEST_SCALE) is hung.  A healthy child takes
 * milliseconds. */
#define CHILD_ALARM_S 10
#define MAX_ATOMS 16
#define MAX_REPORTED 8

/* ---- the real domains ------------------------------------------------------ */

typedef struct domain_img {
  const char *what;
  uint8_t *img;
  size_t n;
  uint64_t heap_start, bump;
  const char *names[MAX_ATOMS];
  char *edn[MAX_ATOMS];   /* the original values' EDN text */
  size_t natoms;
} domain_img;

static void put(eve_domain *d, eve_txn *t, const char *name, eve_val v) {
  eve_atom *a;
  EVE_OK(eve_atom_open(d, name, EVE_ATOM_CREATE, &a));
  EVE_OK(eve_reset(t, a, v));
  EVE_OK(eve_atom_close(a));
}

static eve_val edn(eve_txn *t, const char *text) {
  eve_val v;
  EVE_OK(eve_read_edn(t, text, strlen(text), &v, NULL));
  return v;
}

static eve_val text(eve_txn *t, const char *fmt, int i) {
  char buf[128];
  eve_val v;
  snprintf(buf, sizeof buf, fmt, i);
  EVE_OK(eve_string(t, buf, strlen(buf), &v));
  return v;
}

static eve_val kw(eve_txn *t, const char *name) {
  eve_val v;
  EVE_OK(eve_keyword(t, name, strlen(name), &v));
  return v;
}

/* {:name "user i" :tags #{...} :scores [...] :history (...) :id #uuid} */
static eve_val user(eve_txn *t, int i) {
  eve_val m = EVE_V_EMPTY_MAP, tags = EVE_V_EMPTY_SET, scores = EVE_V_EMPTY_VECTOR;
  eve_val hist = EVE_V_EMPTY_LIST, x, id;
  uint8_t u[16] = {0};
  for (int k = 0; k < i % 5; k++) EVE_OK(eve_set_conj(t, tags, text(t, "tag-number-%d", k), &tags));
  for (int k = 0; k < 3 + i % 40; k++) {
    EVE_OK(eve_int(t, (int64_t)k * i, &x));
    EVE_OK(eve_vec_conj(t, scores, x, &scores));
  }
  for (int k = 0; k < i % 7; k++) {
    EVE_OK(eve_float(t, k + i / 8.0, &x));
    EVE_OK(eve_list_cons(t, x, hist, &hist));
  }
  memcpy(u, &i, sizeof i);
  EVE_OK(eve_uuid(t, u, &id));
  EVE_OK(eve_map_assoc(t, m, kw(t, "name"), text(t, "user number %d", i), &m));
  EVE_OK(eve_map_assoc(t, m, kw(t, "tags"), tags, &m));
  EVE_OK(eve_map_assoc(t, m, kw(t, "scores"), scores, &m));
  EVE_OK(eve_map_assoc(t, m, kw(t, "history"), hist, &m));
  EVE_OK(eve_map_assoc(t, m, kw(t, "id"), id, &m));
  return m;
}

/* Nested maps of users, shared between atoms, a list, scalars. */
static void fill_mixed(eve_domain *d) {
  eve_txn *t = t_wtxn(d);
  eve_val users = EVE_V_EMPTY_MAP, list = EVE_V_EMPTY_LIST, k, pair;
  for (int i = 0; i < 120; i++) {
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_map_assoc(t, users, k, user(t, i), &users));
  }
  for (int i = 0; i < 150; i++) EVE_OK(eve_list_cons(t, text(t, "list item %d", i), list, &list));
  put(d, t, "users", users);
  put(d, t, "users-again", users); /* the same value: SHARED blocks */
  EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, users, &pair));
  EVE_OK(eve_vec_conj(t, pair, list, &pair));
  put(d, t, "pair", pair);
  put(d, t, "list", list);
  put(d, t, "scalars",
      edn(t, "[nil true false 42 -1152921504606846977 1.5 ##NaN \\x \\u00e9 \"short\" "
             "\"a string longer than seven bytes\" :kw :ns/a-long-keyword sym ns/a-long-symbol "
             "#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\" #inst \"1985-04-12T23:20:50.52Z\" "
             "#eve/bytes \"aGVsbG8gd29ybGQ=\" [] {} #{} ()]"));
  put(d, t, "to-remove", edn(t, "{:gone [1 2 3]}"));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_atom_remove(d, "to-remove"));
}

/* Deep tries: a map with level-2 CHAMP nodes, a vector with two trie
 * levels, a set of strings. */
static void fill_big(eve_domain *d) {
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, v = EVE_V_EMPTY_VECTOR, s = EVE_V_EMPTY_SET, x;
  for (int i = 0; i < 2500; i++) {
    EVE_OK(eve_int(t, i * 7919, &x));
    EVE_OK(eve_map_assoc(t, m, x, i % 3 ? x : text(t, "value %d", i), &m));
  }
  for (int i = 0; i < 1500; i++) {
    EVE_OK(eve_int(t, i, &x));
    EVE_OK(eve_vec_conj(t, v, x, &v));
  }
  for (int i = 0; i < 400; i++) EVE_OK(eve_set_conj(t, s, text(t, "member %d", i), &s));
  put(d, t, "big-map", m);
  put(d, t, "big-vec", v);
  put(d, t, "big-set", s);
  EVE_OK(eve_txn_end(t));
}

/* A small domain: most of its bytes are header, slots and registry. */
static void fill_small(eve_domain *d) {
  eve_txn *t = t_wtxn(d);
  put(d, t, "a", edn(t, "{:a 1 :b [1 2 3] :c #{:x}}"));
  put(d, t, "b", edn(t, "(1 (2) \"three and more\")"));
  put(d, t, "an-atom-with-a-longer-name", edn(t, "12345678901234"));
  EVE_OK(eve_txn_end(t));
}

static void *slurp(const char *path, size_t *n) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  uint8_t *p = malloc((size_t)st.st_size);
  int fd = open(path, O_RDONLY);
  cr_assert(p && fd >= 0);
  cr_assert_eq(read(fd, p, (size_t)st.st_size), st.st_size);
  close(fd);
  *n = (size_t)st.st_size;
  return p;
}

static void spit(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, p, n), (ssize_t)n);
  close(fd);
}

/* Remember each original value's EDN text (read through the exerciser, so
 * it is printed exactly as a damaged copy's values will be). */
static void remember(void *ctx, const char *name, int rc, const char *text) {
  domain_img *di = ctx;
  cr_assert_eq(rc, 0, "pristine %s: atom %s -> %s", di->what, name, eve_err_name(rc));
  for (size_t i = 0; i < di->natoms; i++)
    if (!strcmp(di->names[i], name)) return;
  cr_assert_lt(di->natoms, MAX_ATOMS);
  di->names[di->natoms] = strdup(name);
  di->edn[di->natoms++] = strdup(text);
}

static void build(domain_img *di, const char *dir, const char *what, void (*fill)(eve_domain *)) {
  char *path = t_path(dir, what);
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  fill(d);
  EVE_OK(eve_close(d));
  memset(di, 0, sizeof *di);
  di->what = what;
  di->img = slurp(path, &di->n);
  const eve_file_header *h = (const eve_file_header *)di->img;
  di->heap_start = h->heap_start;
  di->bump = atomic_load(&h->bump);
  /* the pristine file passes everything, and gives the original values */
  ex_options o = {.on_value = remember, .ctx = di, .no_writes = 1};
  ex_result r;
  ex_domain(path, &o, &r);
  cr_assert(r.open_rc == 0 && r.check_rc == 0 && r.values_err == 0 && r.atoms_listed == di->natoms,
            "pristine %s: open %s check %s, %u errors", what, eve_err_name(r.open_rc),
            eve_err_name(r.check_rc), r.values_err);
  unlink(path);
}

static void free_img(domain_img *di) {
  for (size_t i = 0; i < di->natoms; i++) {
    free((char *)di->names[i]);
    free(di->edn[i]);
  }
  free(di->img);
}

/* ---- the pointer graph of an image (for cycles and aliases) ---------------- */

typedef struct gnode {
  uint64_t off;
  uint8_t type;
  int64_t parent; /* index of the node it was first reached from, -1 for roots */
} gnode;

typedef struct gedge {
  size_t from;    /* node index */
  uint64_t at;    /* file offset of the pointer word */
  uint64_t to;    /* the block it points at */
} gedge;

typedef struct graph {
  const uint8_t *img;
  size_t n;
  uint64_t heap_start;
  gnode *nodes;
  size_t nnodes, capnodes;
  gedge *edges;
  size_t nedges, capedges;
} graph;

static uint64_t word_at(const uint8_t *img, uint64_t at) {
  uint64_t w;
  memcpy(&w, img + at, 8);
  return w;
}

static const blk *block_at(const graph *g, uint64_t off) {
  if (off % 16 || off < g->heap_start || off + sizeof(blk) > g->n) return NULL;
  const blk *b = (const blk *)(g->img + off);
  if (b->magic != BLK_MAGIC || b->cls >= EVE_NCLASSES || off + alloc_class_size(b->cls) > g->n)
    return NULL;
  return b->type == T_FREE ? NULL : b;
}

static size_t node_index(graph *g, uint64_t off, int64_t parent, int *is_new) {
  for (size_t i = 0; i < g->nnodes; i++) /* small graphs: a scan is fine */
    if (g->nodes[i].off == off) {
      *is_new = 0;
      return i;
    }
  if (g->nnodes == g->capnodes) {
    g->capnodes = g->capnodes ? g->capnodes * 2 : 1024;
    g->nodes = realloc(g->nodes, g->capnodes * sizeof *g->nodes);
    cr_assert_not_null(g->nodes);
  }
  g->nodes[g->nnodes] = (gnode){off, block_at(g, off)->type, parent};
  *is_new = 1;
  return g->nnodes++;
}

static void add_edge(graph *g, size_t from, uint64_t at) {
  uint64_t to = word_at(g->img, at);
  if (!block_at(g, to)) return; /* also refuses immediates: not 16-aligned or 0 */
  if (g->nedges == g->capedges) {
    g->capedges = g->capedges ? g->capedges * 2 : 1024;
    g->edges = realloc(g->edges, g->capedges * sizeof *g->edges);
    cr_assert_not_null(g->edges);
  }
  g->edges[g->nedges++] = (gedge){from, at, to};
}

/* The pointer words of a block, by its documented layout (docs/FORMAT.md). */
static void block_edges(graph *g, size_t i) {
  uint64_t off = g->nodes[i].off;
  const blk *b = block_at(g, off);
  uint64_t cap = alloc_class_size(b->cls), w = 0, nw = 0;
  switch (b->type) {
  case T_MAP: case T_MAP_NODE: case T_MAP_COLL: case T_SET: case T_SET_NODE: case T_SET_COLL: {
    uint32_t datamap = *(const uint32_t *)(g->img + off + 16);
    uint32_t nodemap = *(const uint32_t *)(g->img + off + 20);
    int coll = b->type == T_MAP_COLL || b->type == T_SET_COLL;
    uint64_t entries = coll ? datamap : (uint64_t)__builtin_popcount(datamap);
    uint64_t per = b->type <= T_MAP_COLL ? 2 : 1;
    w = off + 40;
    nw = entries * per + (coll ? 0 : (uint64_t)__builtin_popcount(nodemap));
    break;
  }
  case T_VEC: case T_LIST: w = off + 32; nw = 2; break;
  case T_VEC_NODE: case T_VEC_LEAF: w = off + 16; nw = b->aux; break;
  case T_CELLS: {
    uint64_t first;
    unsigned count;
    cell_page_cells(off, &first, &count);
    for (unsigned k = 0; k < count; k++) add_edge(g, i, first + k * sizeof(atom_cell));
    return;
  }
  default: return;
  }
  for (uint64_t k = 0; k < nw && (w + 8 * k + 8) <= off + cap; k++) add_edge(g, i, w + 8 * k);
}

static void graph_build(graph *g, const domain_img *di) {
  memset(g, 0, sizeof *g);
  g->img = di->img;
  g->n = di->n;
  g->heap_start = di->heap_start;
  const eve_file_header *h = (const eve_file_header *)di->img;
  int is_new;
  uint64_t reg = atomic_load(&h->root);
  if (block_at(g, reg)) node_index(g, reg, -1, &is_new);
  for (uint64_t p = atomic_load(&h->cell_pages); p && block_at(g, p); p = word_at(di->img, p + 16)) {
    node_index(g, p, -1, &is_new);
    if (!is_new) break;
  }
  for (size_t i = 0; i < g->nnodes; i++) { /* breadth first: nodes grow as we go */
    size_t e0 = g->nedges;
    block_edges(g, i);
    for (size_t e = e0; e < g->nedges; e++) node_index(g, g->edges[e].to, (int64_t)i, &is_new);
  }
}

static void graph_free(graph *g) {
  free(g->nodes);
  free(g->edges);
}

/* ---- corruptions ----------------------------------------------------------- */

enum kind { K_FLIP, K_ZERO, K_NOISE, K_TRUNC, K_HEADER, K_CYCLE, K_ALIAS, K_NKINDS };
static const char *const KIND_NAMES[] = {"flip", "zero", "noise", "truncate", "header-word",
                                         "cycle", "alias"};

typedef struct damage {
  enum kind kind;
  char what[160];
  size_t n;          /* length of the damaged file */
  int same_type;     /* cycle/alias: the new target has the pointer's old type */
} damage;

/* An offset in the interesting part of the file: the header page, the
 * slot and liveness pages, or the used heap. */
static uint64_t some_offset(const domain_img *di, uint64_t *rng) {
  uint64_t r = t_below(rng, 10);
  if (r == 0) return t_below(rng, EVE_HEADER_BYTES);
  if (r == 1) return EVE_HEADER_BYTES + t_below(rng, di->heap_start - EVE_HEADER_BYTES);
  return di->heap_start + t_below(rng, di->bump - di->heap_start);
}

static void reseal(uint8_t *img) {
  uint64_t sum = XXH64(img, EVE_CHECKSUMMED_BYTES, 0x6576652d68647221ull);
  memcpy(img + offsetof(eve_file_header, checksum), &sum, 8);
}

static void flip(uint8_t *img, const domain_img *di, uint64_t *rng, damage *dm) {
  unsigned k = 1 + (unsigned)t_below(rng, 8);
  uint64_t first = 0;
  for (unsigned i = 0; i < k; i++) {
    uint64_t at = some_offset(di, rng);
    if (!i) first = at;
    img[at] ^= (uint8_t)(1 + t_below(rng, 255));
  }
  /* a damaged immutable header field behind a valid checksum tests the
   * sanity checks, not just the checksum */
  int sealed = first < EVE_CHECKSUMMED_BYTES && t_below(rng, 2);
  if (sealed) reseal(img);
  snprintf(dm->what, sizeof dm->what, "%u bytes flipped, first at %#" PRIx64 "%s", k, first,
           sealed ? ", checksum resealed" : "");
}

static void fill_range(uint8_t *img, const domain_img *di, uint64_t *rng, damage *dm, int noise) {
  uint64_t at = some_offset(di, rng), len = 1 + t_below(rng, t_below(rng, 2) ? 64 : 4096);
  if (at + len > di->n) len = di->n - at;
  for (uint64_t i = 0; i < len; i++) img[at + i] = noise ? (uint8_t)t_rand(rng) : 0;
  snprintf(dm->what, sizeof dm->what, "%s [%#" PRIx64 ", +%" PRIu64 ")",
           noise ? "noise over" : "zeroed", at, len);
}

static void truncate_at(const domain_img *di, uint64_t *rng, damage *dm) {
  const uint64_t marks[] = {0, 7, 8, 100, 4095, 4096, 8192, di->heap_start, di->heap_start + 16,
                            di->bump - 1, di->n - 1};
  dm->n = t_below(rng, 3) ? t_below(rng, di->n) : marks[t_below(rng, sizeof marks / sizeof marks[0])];
  snprintf(dm->what, sizeof dm->what, "truncated to %zu of %zu bytes", dm->n, di->n);
}

/* Replace one mutable header word (outside the checksum) with a value
 * likely to matter: 0, small, a boundary, a random offset, all ones. */
static void header_word(uint8_t *img, const domain_img *di, uint64_t *rng, damage *dm) {
  static const struct { const char *name; size_t at; } W[] = {
    {"size", offsetof(eve_file_header, size)},
    {"bump", offsetof(eve_file_header, bump)},
    {"root", offsetof(eve_file_header, root)},
    {"flags", offsetof(eve_file_header, flags)},
    {"next_incarnation", offsetof(eve_file_header, next_incarnation)},
    {"skipped_retires", offsetof(eve_file_header, skipped_retires)},
    {"cell_pages", offsetof(eve_file_header, cell_pages)},
    {"cell_free.off", offsetof(eve_file_header, cell_free)},
    {"epoch", offsetof(eve_file_header, epoch)},
    {"free_heads[k].off", offsetof(eve_file_header, free_heads)},
  };
  size_t w = t_below(rng, sizeof W / sizeof W[0]);
  size_t at = W[w].at;
  if (at == offsetof(eve_file_header, free_heads)) at += 16 * t_below(rng, EVE_NCLASSES);
  const uint64_t vals[] = {0, 1, 3, 16, di->heap_start, di->heap_start + 16, di->bump, di->bump - 16,
                           di->n, di->n - 16, di->n + 4096, UINT64_MAX, UINT64_MAX - 15,
                           (di->heap_start + t_below(rng, di->bump - di->heap_start)) & ~15ull,
                           t_rand(rng)};
  uint64_t v = vals[t_below(rng, sizeof vals / sizeof vals[0])];
  memcpy(img + at, &v, 8);
  snprintf(dm->what, sizeof dm->what, "header %s (at %#zx) = %#" PRIx64, W[w].name, at, v);
}

/* Redirect a pointer word: to an ancestor of the block holding it (a cycle)
 * or to another block (an alias: two owners without SHARED).  Half of the
 * time the new target has the old target's type, so that type checks alone
 * cannot catch it. */
static void redirect(uint8_t *img, const graph *g, uint64_t *rng, damage *dm, int cycle) {
  if (!g->nedges) {
    snprintf(dm->what, sizeof dm->what, "no pointer to redirect");
    return;
  }
  int want_same = (int)t_below(rng, 2);
  gedge e = g->edges[0];
  uint64_t target = 0;
  for (int tries = 0; tries < 50 && !target; tries++) {
    e = g->edges[t_below(rng, g->nedges)];
    uint8_t old_type = block_at(g, e.to)->type;
    if (cycle) { /* walk up the first-parent chain, collecting candidates */
      uint64_t cand[64];
      size_t nc = 0;
      for (int64_t i = (int64_t)e.from; i >= 0 && nc < 64; i = g->nodes[i].parent)
        if (!want_same || g->nodes[i].type == old_type) cand[nc++] = g->nodes[i].off;
      if (nc) target = cand[t_below(rng, nc)];
    } else {
      const gnode *o = &g->nodes[t_below(rng, g->nnodes)];
      if ((!want_same || o->type == old_type) && o->off != e.to) target = o->off;
    }
  }
  if (!target) target = g->nodes[e.from].off; /* a self-loop, then */
  dm->same_type = block_at(g, target)->type == block_at(g, e.to)->type;
  memcpy(img + e.at, &target, 8);
  snprintf(dm->what, sizeof dm->what, "%s: word %#" PRIx64 " of block %#" PRIx64 " -> %#" PRIx64
           " (was %#" PRIx64 "%s)", cycle ? "cycle" : "alias", e.at, g->nodes[e.from].off, target,
           e.to, dm->same_type ? ", same type" : "");
}

static void damage_copy(uint8_t *img, const domain_img *di, const graph *g, enum kind k,
                        uint64_t *rng, damage *dm) {
  memset(dm, 0, sizeof *dm);
  dm->kind = k;
  dm->n = di->n;
  switch (k) {
  case K_FLIP: flip(img, di, rng, dm); break;
  case K_ZERO: fill_range(img, di, rng, dm, 0); break;
  case K_NOISE: fill_range(img, di, rng, dm, 1); break;
  case K_TRUNC: truncate_at(di, rng, dm); break;
  case K_HEADER: header_word(img, di, rng, dm); break;
  case K_CYCLE: redirect(img, g, rng, dm, 1); break;
  case K_ALIAS: redirect(img, g, rng, dm, 0); break;
  default: break;
  }
}

/* ---- running one damaged copy in a child ----------------------------------- */

/* What a child reports through its pipe. */
typedef struct child_report {
  ex_result r;
  unsigned same, differ, errs;
} child_report;

typedef struct compare_ctx {
  const domain_img *di;
  child_report *rep;
} compare_ctx;

static void compare_value(void *ctx, const char *name, int rc, const char *text) {
  compare_ctx *c = ctx;
  if (rc) {
    c->rep->errs++;
    return;
  }
  for (size_t i = 0; i < c->di->natoms; i++)
    if (!strcmp(c->di->names[i], name)) {
      if (!strcmp(c->di->edn[i], text)) c->rep->same++;
      else c->rep->differ++;
      return;
    }
}

static void child_main(const char *path, const domain_img *di, int fd) {
  alarm(t_scale(2) < 2 ? 3 * CHILD_ALARM_S : CHILD_ALARM_S); /* EVE_TEST_SCALE > 1: sanitizers */
  child_report rep;
  memset(&rep, 0, sizeof rep);
  compare_ctx ctx = {di, &rep};
  ex_options o = {.names = di->names, .nnames = di->natoms, .on_value = compare_value, .ctx = &ctx};
  ex_domain(path, &o, &rep.r);
  if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(3);
  _exit(0);
}

typedef struct tally {
  unsigned copies, by_kind[K_NKINDS], same_type_redirects;
  unsigned opened, refused, refused_by[32], check_clean, check_problems;
  unsigned same, differ, errs, differ_check_clean;
  unsigned swaps_ok, gcs_ok, gc_by[32];
  unsigned failures;
  unsigned slow;          /* children that took more than a second */
  double max_s;           /* the slowest child */
  char slowest[200];
  char failed[MAX_REPORTED][1024];
} tally;

/* Keep a failing copy where a developer can replay it through fuzz_domain
 * (a raw-mode input: mode byte 0, then the file). */
static void keep_failure(const uint8_t *img, size_t n, uint64_t seed, char *where, size_t wsz) {
  const char *tmp = getenv("TMPDIR");
  char dir[200];
  snprintf(dir, sizeof dir, "%.150s/eve-corrupt-failures", tmp && *tmp ? tmp : "/tmp");
  mkdir(dir, 0755);
  snprintf(where, wsz, "%s/seed-%#" PRIx64, dir, seed);
  int fd = open(where, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  uint8_t mode = 0;
  if (fd < 0 || write(fd, &mode, 1) != 1 || write(fd, img, n) != (ssize_t)n) snprintf(where, wsz, "(not saved)");
  if (fd >= 0) close(fd);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Slow children are not failures below the alarm, but they are reported:
 * a damaged value that takes seconds to read is worth knowing about. */
static void note_time(tally *ty, double s, const domain_img *di, uint64_t seed, const damage *dm) {
  if (s > 1.0) ty->slow++;
  if (s > ty->max_s) {
    ty->max_s = s;
    snprintf(ty->slowest, sizeof ty->slowest, "%s seed %#" PRIx64 " (%.100s)", di->what, seed, dm->what);
  }
}

static void run_child(const char *path, const domain_img *di, const uint8_t *img, const damage *dm,
                      uint64_t seed, tally *ty) {
  double t0 = now_s();
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(p[0]);
    child_main(path, di, p[1]);
  }
  close(p[1]);
  child_report rep;
  ssize_t got = read(p[0], &rep, sizeof rep);
  close(p[0]);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  note_time(ty, now_s() - t0, di, seed, dm);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != (ssize_t)sizeof rep) {
    char where[300];
    keep_failure(img, dm->n, seed, where, sizeof where);
    if (ty->failures < MAX_REPORTED)
      snprintf(ty->failed[ty->failures], sizeof ty->failed[0], "%s seed %#" PRIx64 " (%s): %s %d; %s; kept: %s",
               di->what, seed, dm->what, WIFSIGNALED(st) ? "killed by signal" : "exit",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
               WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? "a hang" : "a crash", where);
    ty->failures++;
    return;
  }
  const ex_result *r = &rep.r;
  if (r->open_rc) {
    ty->refused++;
    ty->refused_by[-r->open_rc < 32 ? -r->open_rc : 0]++;
    return;
  }
  ty->opened++;
  if (r->check_rc == 0) ty->check_clean++;
  else ty->check_problems++;
  ty->same += rep.same;
  ty->differ += rep.differ;
  ty->errs += rep.errs;
  if (r->check_rc == 0) ty->differ_check_clean += rep.differ;
  ty->swaps_ok += r->swap_rc == 0;
  ty->gcs_ok += r->gc_rc == 0;
  ty->gc_by[-r->gc_rc < 32 ? -r->gc_rc : 0]++;
}

/* One damaged copy: damage, write, run.  The seed alone reproduces it. */
static void one_copy(const char *path, domain_img *dis, size_t ndis, graph *gs, uint64_t seed,
                     int kind_mask, tally *ty) {
  uint64_t rng = seed;
  size_t which = t_below(&rng, ndis);
  const domain_img *di = &dis[which];
  enum kind k;
  do k = (enum kind)t_below(&rng, K_NKINDS);
  while (!(kind_mask & (1 << k)));
  uint8_t *img = malloc(di->n);
  cr_assert_not_null(img);
  memcpy(img, di->img, di->n);
  damage dm;
  damage_copy(img, di, &gs[which], k, &rng, &dm);
  spit(path, img, dm.n);
  ty->copies++;
  ty->by_kind[k]++;
  ty->same_type_redirects += dm.same_type;
  run_child(path, di, img, &dm, seed, ty);
  free(img);
}

static void report(const char *test, const tally *ty) {
  char refused[512] = "";
  size_t at = 0;
  for (int c = 1; c < 32; c++)
    if (ty->refused_by[c])
      at += (size_t)snprintf(refused + at, sizeof refused - at, " %s %u", eve_err_name(-c), ty->refused_by[c]);
  char kinds[256] = "", gcs[512] = "";
  at = 0;
  for (int c = 1; c < 32; c++)
    if (ty->gc_by[c])
      at += (size_t)snprintf(gcs + at, sizeof gcs - at, " %s %u", eve_err_name(-c), ty->gc_by[c]);
  at = 0;
  for (int k = 0; k < K_NKINDS; k++)
    at += (size_t)snprintf(kinds + at, sizeof kinds - at, "%s%s %u", k ? ", " : "", KIND_NAMES[k],
                           ty->by_kind[k]);
  cr_log_info("%s: %u damaged copies (%s; %u redirects kept the type): %u crashes or hangs", test,
              ty->copies, kinds, ty->same_type_redirects, ty->failures);
  cr_log_info("%s: refused at open %u (%s); opened %u: check clean %u, problems found %u; "
              "values read back: same %u, different %u (%u of them with a clean check: payload "
              "bytes), error %u; swaps ok %u, gc ok %u (refused:%s)",
              test, ty->refused, refused + (refused[0] == ' '), ty->opened, ty->check_clean,
              ty->check_problems, ty->same, ty->differ, ty->differ_check_clean, ty->errs,
              ty->swaps_ok, ty->gcs_ok, gcs);
  cr_log_info("%s: %u children took more than 1 s; the slowest %.1f s: %s", test, ty->slow, ty->max_s,
              ty->slowest);
  for (unsigned i = 0; i < ty->failures && i < MAX_REPORTED; i++) cr_log_error("%s", ty->failed[i]);
}

static void campaign(const char *test, uint64_t copies, int kind_mask, uint64_t seed0) {
  char *dir = t_tmpdir();
  domain_img dis[3];
  graph gs[3];
  build(&dis[0], dir, "mixed", fill_mixed);
  build(&dis[1], dir, "big", fill_big);
  build(&dis[2], dir, "small", fill_small);
  for (int i = 0; i < 3; i++) graph_build(&gs[i], &dis[i]);
  cr_assert_gt(gs[1].nedges, 1000, "the graph walker found the pointers (%zu)", gs[1].nedges);
  /* tmpfs when there is one: thousands of files of about a megabyte */
  char shm[64] = "";
  if (access("/dev/shm", W_OK) == 0) {
    strcpy(shm, "/dev/shm/eve-corrupt-XXXXXX");
    if (!mkdtemp(shm)) shm[0] = 0;
  }
  char *path = t_path(shm[0] ? shm : dir, "damaged.eve");
  tally *ty = calloc(1, sizeof *ty);
  uint64_t seed = t_seed(seed0), master = seed;
  /* each copy's seed is drawn from a master stream (consecutive splitmix
   * states would make neighbouring copies share their random draws) */
  for (uint64_t i = 0; i < copies; i++) one_copy(path, dis, 3, gs, t_rand(&master), kind_mask, ty);
  report(test, ty);
  unsigned failures = ty->failures;
  char first[1024];
  snprintf(first, sizeof first, "%s", failures ? ty->failed[0] : "");
  free(ty);
  for (int i = 0; i < 3; i++) {
    graph_free(&gs[i]);
    free_img(&dis[i]);
  }
  unlink(path);
  if (shm[0]) rmdir(shm);
  t_rmdir(dir);
  cr_assert_eq(failures, 0, "%u damaged copies crashed or hung; first: %s (EVE_TEST_SEED=%#" PRIx64
               " replays the run)", failures, first, seed);
}

#define ALL_KINDS ((1 << K_NKINDS) - 1)

/* n copies at EVE_TEST_SCALE=1; the sanitizer build (scale > 1) runs an
 * eighth of them when the scale is 4: each of its children costs ~10x. */
static uint64_t copies(uint64_t n) {
  uint64_t k = t_scale(n);
  return k < n ? (k + 1) / 2 : k;
}

/* The main campaign: every kind of damage, at least 1,000 copies. */
Test(corrupt, damaged_copies_never_crash_or_hang, .timeout = 900) {
  campaign("corrupt", copies(1200), ALL_KINDS, 0xc0ffee);
}

/* Pointer graphs with cycles and aliases only: the walkers' depth and
 * count guards, the checker's in-degree accounting, gc's marking. */
Test(corrupt, cycles_and_aliases_never_crash_or_hang, .timeout = 900) {
  campaign("cycles", copies(400), (1 << K_CYCLE) | (1 << K_ALIAS), 0xc1c1e);
}

/* ---- damage found by the campaigns, as deterministic tests ------------------- */

/* Run fn(path) in a child under alarm(secs); returns its exit status
 * (fn's result, 0..255) or fails the test on a signal (SIGALRM: a hang). */
static int in_child(const char *what, int (*fn)(const char *), const char *path, unsigned secs) {
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    alarm(secs);
    _exit(fn(path) & 0xff);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(!WIFSIGNALED(st), "%s: killed by signal %d%s", what, WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (still running after the alarm: a hang)" : "");
  return WEXITSTATUS(st);
}

/* A domain whose first atom is `name` = {:k 1}; returns the image and the
 * file offset of that atom's cell (the first cell of the first page). */
static uint8_t *one_atom_domain(const char *path, const char *name, size_t *n, uint64_t *cell) {
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_txn *t = t_wtxn(d);
  put(d, t, name, edn(t, "{:k 1}"));
  put(d, t, "bystander", edn(t, "[1 2 3]"));
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  uint8_t *img = slurp(path, n);
  uint64_t page = atomic_load(&((eve_file_header *)img)->cell_pages), first;
  unsigned count;
  cr_assert(page && page < *n);
  while (word_at(img, page + 16)) page = word_at(img, page + 16); /* the oldest page is last */
  cell_page_cells(page, &first, &count);
  uint64_t root = word_at(img, first);
  cr_assert(root && root % 16 == 0, "the first cell holds the first atom's map (%#" PRIx64 ")", root);
  *cell = first;
  return img;
}

/* The eve code of the removal, negated (an exit status). */
static int remove_victim(const char *path) {
  eve_domain *d;
  eve_options o = {.flags = EVE_OPEN_EXISTING};
  int rc = eve_open(path, &o, &d);
  if (!rc) {
    rc = eve_atom_remove(d, "victim");
    eve_close(d);
  }
  return -rc;
}

static void remove_after(const char *what, size_t field, uint64_t value) {
  char *dir = t_tmpdir(), *path = t_path(dir, "r.eve");
  size_t n;
  uint64_t cell;
  uint8_t *img = one_atom_domain(path, "victim", &n, &cell);
  memcpy(img + cell + field, &value, 8);
  spit(path, img, n);
  int rc = -in_child(what, remove_victim, path, 10);
  cr_assert(rc <= 0 && strcmp(eve_err_name(rc), "EVE_UNKNOWN"), "%s: %d", what, rc);
  cr_log_info("%s: eve_atom_remove -> %s", what, eve_err_name(rc));
  free(img);
  t_rmdir(dir);
}

/* The registry names a cell whose generation differs (a damaged cell, or a
 * registry entry that outlived its cell): remove must return, not spin. */
Test(corrupt, remove_with_a_stale_cell_generation_returns) {
  remove_after("cell generation + 7", offsetof(atom_cell, generation), 8);
}

/* A remover killed between its tombstone CAS and the registry update
 * leaves the tombstone behind (docs/RELIABILITY.md, "Crash safety": a kill at any
 * instruction).  A later remove of that name must finish or fail, not spin. */
Test(corrupt, remove_after_a_remover_died_returns) {
  remove_after("tombstone left by a dead remover", offsetof(atom_cell, root), ATOM_TOMBSTONE);
}

/* A map one of whose values is the map itself (a corrupt value word
 * pointing at its ancestor).  Printing must stop at the cycle itself
 * (EVE_ECORRUPT, work proportional to the map), not run down to the depth
 * limit (EVE_EDEPTH after printing the map again at every level).  The time
 * is printed for the reader, never asserted.
 * Exit status: 0 good, 1 printed a cyclic value, 2 ran to the depth limit
 * (or another error), 3 other. */
static int print_self_map(const char *path) {
  eve_domain *d;
  eve_options o = {.flags = EVE_OPEN_EXISTING};
  eve_txn *t;
  eve_atom *a;
  eve_val m;
  char *s = NULL;
  if (eve_open(path, &o, &d) || eve_atom_open(d, "m", 0, &a) ||
      eve_txn_begin(d, EVE_TXN_READ, &t) || eve_deref(t, a, &m))
    return 3;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int edn_rc = eve_print_edn(t, m, &s, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  eve_free(s);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "print of a self-containing map: %s in %.3f s\n", eve_err_name(edn_rc), secs);
  eve_txn_end(t);
  eve_atom_close(a);
  eve_close(d);
  if (edn_rc == 0) return 1;
  return edn_rc == EVE_ECORRUPT ? 0 : 2;
}

Test(corrupt, self_containing_value_print_stops_at_the_cycle) {
  char *dir = t_tmpdir(), *path = t_path(dir, "self.eve");
  eve_domain *d;
  EVE_OK(eve_open(path, NULL, &d));
  eve_txn *t = t_wtxn(d);
  eve_val m = EVE_V_EMPTY_MAP, k, v, victim = 0;
  for (int i = 0; i < 3000; i++) {
    EVE_OK(eve_int(t, i, &k));
    EVE_OK(eve_vec_conj(t, EVE_V_EMPTY_VECTOR, text(t, "a value string number %d", i), &v));
    if (i == 2999) victim = v;
    EVE_OK(eve_map_assoc(t, m, k, v, &m));
  }
  put(d, t, "m", m);
  EVE_OK(eve_txn_end(t));
  EVE_OK(eve_close(d));
  size_t n, hits = 0;
  uint8_t *img = slurp(path, &n);
  for (size_t at = 16384; at + 8 <= n; at += 8)
    if (word_at(img, at) == victim) {
      memcpy(img + at, &m, 8);
      hits++;
    }
  spit(path, img, n);
  free(img);
  cr_assert_eq(hits, 1, "the victim's value word is found once (%zu)", hits);
  int st = in_child("print a self-containing map", print_self_map, path, 60);
  cr_assert_neq(st, 1, "a cyclic value printed successfully");
  cr_assert_neq(st, 3, "the damaged domain did not open");
  cr_assert_eq(st, 0, "printing a 3000-entry map that contains itself did not stop at the "
                      "cycle (EVE_ECORRUPT): it ran on to the depth limit, printing the map "
                      "again at every level");
  t_rmdir(dir);
}
