/* atom.h — the atom layer (atom.c): the registry, swap / reset /
 * compare-and-set / deref / wait, declared in eve.h.  Its cells and their
 * pool are a module below it (cell.h), which the checker, the collector
 * and the epochs use without the atom layer. */
#ifndef EVE_ATOM_H
#define EVE_ATOM_H

#include "cell.h"

/* Open a system atom, creating it (nil) if absent: a registry entry whose
 * name (n bytes) begins with a NUL byte, so that no user name can reach it
 * and the listings (eve_atom_names, eve_atom_names_each, hence the CLI and
 * eve_compact) skip it, while the collector and the checker count what it
 * holds like any atom's value.  durable.c keeps its checkpoints there.
 * Called inside the guard.  Errors: as eve_atom_open with EVE_ATOM_CREATE;
 * EVE_EINVAL for a name that is not a system name. */
int atom_open_system(eve_domain *d, const char *name, size_t n, eve_atom **out);

#endif
