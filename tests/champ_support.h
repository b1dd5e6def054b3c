/* champ_support.h — helpers shared by the map and set tests: value
 * builders, mixed-type keys from integer ids and back, and a comparison of
 * two tries' shapes (reading the node layout of map.h directly). */
#ifndef EVE_TEST_CHAMP_SUPPORT_H
#define EVE_TEST_CHAMP_SUPPORT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "support.h"

#define BIG (INT64_C(1) << 61) /* past the immediate range: boxed ints */

static inline eve_val I(eve_txn *t, int64_t i) {
  eve_val v;
  EVE_OK(eve_int(t, i, &v));
  return v;
}

static inline eve_val S(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_string(t, s, strlen(s), &v));
  return v;
}

static inline eve_val KW(eve_txn *t, const char *s) {
  eve_val v;
  EVE_OK(eve_keyword(t, s, strlen(s), &v));
  return v;
}

static inline uint64_t count_of(eve_txn *t, eve_val c) {
  uint64_t n;
  EVE_OK(eve_count(t, c, &n));
  return n;
}

static inline int equal(eve_txn *t, eve_val a, eve_val b) {
  int e;
  EVE_OK(eve_equal(t, a, b, &e));
  return e;
}

static inline uint64_t hash_of(eve_txn *t, eve_val v) {
  uint64_t h;
  EVE_OK(eve_hash(t, v, &h));
  return h;
}

/* A value of mixed type from an integer id, and back: immediate and boxed
 * ints, inline and boxed strings, inline and boxed keywords.  `noun` names
 * the long strings ("key", "elem"). */
static inline eve_val mixed_value(eve_txn *t, uint64_t id, const char *noun) {
  char buf[64];
  eve_val v;
  switch (id % 6) {
  case 0: EVE_OK(eve_int(t, (id / 6) % 2 ? -(int64_t)id : (int64_t)id, &v)); break;
  case 1: EVE_OK(eve_int(t, (int64_t)id + BIG, &v)); break;
  case 2: snprintf(buf, sizeof buf, "s%" PRIx64, id); v = S(t, buf); break;
  case 3: snprintf(buf, sizeof buf, "a-long-string-%s-%" PRIu64, noun, id); v = S(t, buf); break;
  case 4: snprintf(buf, sizeof buf, "k%" PRIx64, id); v = KW(t, buf); break;
  default: snprintf(buf, sizeof buf, "ns/long-keyword-%" PRIu64, id); v = KW(t, buf); break;
  }
  return v;
}

static inline uint64_t id_of(eve_txn *t, eve_val x) {
  eve_type ty;
  EVE_OK(eve_type_get(t, x, &ty));
  if (ty == EVE_INT) {
    int64_t i;
    EVE_OK(eve_int_get(t, x, &i));
    return i >= BIG ? (uint64_t)(i - BIG) : (uint64_t)(i < 0 ? -i : i);
  }
  cr_assert(ty == EVE_STRING || ty == EVE_KEYWORD, "unexpected type %d", ty);
  const char *s;
  size_t n;
  char buf[64];
  EVE_OK(eve_text_get(t, &x, &s, &n));
  cr_assert_lt(n, sizeof buf);
  memcpy(buf, s, n);
  buf[n] = 0;
  if (buf[0] == 's' || buf[0] == 'k') return strtoull(buf + 1, NULL, 16);
  return strtoull(strrchr(buf, '-') + 1, NULL, 10);
}

static inline const champ_node *champ_node_at(eve_txn *t, const champ_kind *k, uint64_t off,
                                              unsigned level) {
  unsigned type = level == 0 ? k->root_type : level < CHAMP_COLL_LEVEL ? k->node_type : k->coll_type;
  const champ_node *n = (const champ_node *)txn_read(t, off, type);
  cr_assert_eq(t->err, 0, "bad node 0x%" PRIx64 " at level %u", off, level);
  return n;
}

/* Same trie shape: the same bitmaps in every node and the same collision
 * node sizes.  Counts the nodes of a in *nodes. */
static inline int champ_same_shape(eve_txn *t, const champ_kind *k, uint64_t a, uint64_t b,
                                   unsigned level, uint64_t *nodes) {
  const champ_node *x = champ_node_at(t, k, a, level), *y = champ_node_at(t, k, b, level);
  ++*nodes;
  if (x->count != y->count || x->hash != y->hash) return 0;
  if (level == CHAMP_COLL_LEVEL) return x->ncoll == y->ncoll;
  if (x->datamap != y->datamap || x->nodemap != y->nodemap) return 0;
  size_t ne = k->stride * (size_t)__builtin_popcount(x->datamap);
  for (int i = 0; i < __builtin_popcount(x->nodemap); i++)
    if (!champ_same_shape(t, k, x->w[ne + i], y->w[ne + i], level + 1, nodes)) return 0;
  return 1;
}

#endif
