/* set.c — persistent hash set: the CHAMP trie of map.c with one-word
 * entries (the element itself), and the public set API.  The layout and
 * the canonical-shape rules are those described at the top of map.c; a
 * set's raw hash is the sum of its elements' hashes. */
#include "map.h"

const champ_kind champ_set_kind = {
    .stride = 1, .root_type = T_SET, .node_type = T_SET_NODE,
    .coll_type = T_SET_COLL, .empty = EVE_V_EMPTY_SET, .hk = HK_SET,
};

int eve_set_contains(eve_txn *t, eve_val s, eve_val x, int *out) {
  if (!out) return EVE_EINVAL;
  const eve_val *e;
  int rc = champ_lookup(t, &champ_set_kind, s, x, &e);
  if (rc) return rc;
  *out = e != NULL;
  return 0;
}

int eve_set_contains_scalar(eve_txn *t, eve_val s, const eve_scalar *x, int *out) {
  if (!t || !out) return EVE_EINVAL;
  if (txn_status(t)) return t->err;
  key_probe p;
  const eve_val *e;
  int rc = key_probe_scalar(x, &p);
  if (!rc) rc = champ_lookup_probe(t, &champ_set_kind, s, &p, &e);
  if (rc) return rc;
  *out = e != NULL;
  return 0;
}

int eve_set_conj(eve_txn *t, eve_val s, eve_val x, eve_val *out) {
  return champ_put(t, &champ_set_kind, s, &x, 0, out);
}

int eve_set_disj(eve_txn *t, eve_val s, eve_val x, eve_val *out) {
  return champ_remove(t, &champ_set_kind, s, x, out);
}

uint64_t set_count(eve_txn *t, eve_val s) { return champ_count(t, &champ_set_kind, s); }
uint64_t set_hash(eve_txn *t, eve_val s) { return champ_hash(t, &champ_set_kind, s); }
void set_iter_init(iter_state *it) { champ_iter_init(it, &champ_set_kind); }

int set_iter_next(iter_state *it, eve_val *x) {
  const eve_val *e;
  int rc = champ_iter_next(it, &champ_set_kind, &e);
  if (rc) return rc;
  if (x) *x = e[0];
  return 0;
}

int set_check(eve_txn *t, eve_val s) { return champ_check(t, &champ_set_kind, s); }
