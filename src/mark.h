/* mark.h — the marker (mark.c): what the checker (check.c) and the
 * collector (collect.c) share.  It marks everything reachable from the
 * registry and the atoms' root words, in a pinned read transaction,
 * checking every block it reaches and counting each one's incoming words. */
#ifndef EVE_MARK_H
#define EVE_MARK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "value.h"

/* Flags of a block in the table: a page of atom cells, on a free list,
 * waiting to be freed, a block of the reclamation machinery (a retire log
 * or a commit journal). */
enum { C_SEEN = 1, C_FREE_LISTED = 2, C_RETIRING = 4, C_SYSTEM = 8 };

/* A block the marker met: its in-degree (root words included). */
typedef struct cent {
  uint64_t off;
  uint32_t indeg;
  uint32_t flags;
} cent;

/* One marking: zero it (setting the fields a caller decides: on_problem,
 * ctx, judge_counts, yielding), mark_run, use, mark_free. */
typedef struct chk {
  eve_txn *t;
  eve_domain *d;
  cent *tab;
  size_t cap, used;
  uint64_t *stack;
  size_t nstack, capstack;
  uint64_t *cells;           /* live atom cells (from the registry)       */
  size_t ncells, capcells;
  uint64_t *versions;        /* each cell's version before its root was read */
  size_t nversions, capversions;
  eve_val registry;          /* the registry root word the marker read    */
  int judge_counts;          /* settled: ownership counts are compared    */
  eve_check_report rep;
  void (*on_problem)(void *, const char *);
  void *ctx;
  int oom;
  int yielding;              /* an automatic recovery: give way to openers */
  int gave_way;              /* ... and it did: marking stopped            */
  uint64_t steps;
} chk;

/* Mark everything reachable from d's roots (in a read transaction begun
 * here, left open in c->t: the caller ends it).  0, or an error of the
 * transaction's begin, or EVE_ENOMEM. */
int mark_run(chk *c, eve_domain *d);
/* Free the marker's tables (not its transaction). */
void mark_free(chk *c);

/* The table of blocks: the entry of `off`, created if asked (NULL when it
 * does not exist, or out of memory), and its index. */
cent *mark_lookup(chk *c, uint64_t off, int create);
size_t mark_slot_of(const chk *c, uint64_t off);

/* A finding: problem counts it as damage; mark_say only passes the
 * message to c->on_problem. */
void mark_problem(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mark_say(chk *c, const char *fmt, va_list ap);

#endif
