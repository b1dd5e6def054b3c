/* fault.h — SIGBUS from a domain's mapping becomes a sticky error (fault.c). */
#ifndef EVE_FAULT_H
#define EVE_FAULT_H

struct eve_domain;

/* Install the process-wide SIGBUS handler (once; it chains to the handler
 * it replaced for every address outside a domain's mapping).  0 or EVE_EIO. */
int fault_install(void);

/* Tell the handler about d's mapping (d->base, d->max_size, d->fd, whether
 * it is writable), or that it is gone (before munmap).  Handles are never
 * freed (region.c keeps them for reuse), so the handler may walk them. */
void fault_watch(struct eve_domain *d, int writable);
void fault_unwatch(struct eve_domain *d);

/* Every handle ever allocated, for the handler's walk (region.c). */
void fault_add_handle(struct eve_domain *d);

#endif
