/* atom.h — the atom layer (atom.c): the registry, swap / reset /
 * compare-and-set / deref / wait, declared in eve.h.  Its cells and their
 * pool are a module below it (cell.h), which the checker, the collector
 * and the epochs use without the atom layer. */
#ifndef EVE_ATOM_H
#define EVE_ATOM_H

#include "cell.h"

#endif
