/* fault.c — a file truncated under the mapping is an error, not a signal.
 *
 * Another process can shrink a domain file at any time (truncate(1), a
 * stray ftruncate, a /proc/PID/fd reopen of a memfd).  Every page of the
 * mapping past the new end then raises SIGBUS when touched, in readers and
 * writers alike, at any instruction that reads the domain.  Checking the
 * file's size before each access would cost a syscall per read and still
 * race the truncation, so the library catches the signal instead:
 *
 *  - one process-wide SIGBUS handler (SA_SIGINFO), installed by the first
 *    eve_open, chains to the handler it replaced for any fault outside a
 *    domain's mapping (and for signals sent by kill);
 *  - for a fault inside a mapping, it marks the handle damaged (a bit in
 *    its guard word: GUARD_TRUNCATED when the file now ends at or before
 *    the faulting offset, else GUARD_IO_ERROR) and maps anonymous zero
 *    pages over the handle's *whole* range with MAP_FIXED (mmap is a plain
 *    system call: async-signal-safe in practice), then returns (if that
 *    mmap fails, it does what the previous handler would have done);
 *  - the faulting instruction runs again and reads zeros, which every block
 *    check refuses (magic 0); every later error, and every later call on
 *    the handle, is the damage code (EVE_ETRUNC or EVE_EIO), sticky.
 *
 * Why the whole range and not just the faulting page: from then on this
 * process reads one consistent picture (all zeros) rather than a mix of
 * file pages and holes, and no store of this process can reach the file
 * again, so a damaged domain is never written to (growth, the one system
 * call that writes it, refuses a damaged handle too).
 *
 * A store that lands in the zero pages must not be reported as done: a
 * commit checks the damage bit after a winning root CAS.  The bit is set
 * before the pages are replaced, and a store into a replaced page first
 * faults into the kernel, which takes the mm lock the replacement released:
 * a thread whose CAS landed in the zero pages sees the bit.
 *
 * The handler takes no lock and calls only fstat and mmap (see
 * UNINSTRUMENTED for sanitizer builds).  It walks every
 * handle ever allocated: region.c never frees one (closed handles are kept
 * for reuse), and the list only grows at its head.  A program that installs
 * its own SIGBUS handler after eve_open must chain to the previous one.
 */
#define _GNU_SOURCE
#include "fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "region.h"

/* The handler runs between any two instructions of the process, also
 * inside a sanitizer's runtime (a fault in an instrumented atomic, holding
 * the runtime's lock): its own code must not call back into one, so it is
 * not instrumented, and it makes its two system calls directly rather
 * than through the sanitizers' interceptors. */
#ifdef __has_attribute
#if __has_attribute(disable_sanitizer_instrumentation)
#define UNINSTRUMENTED __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef UNINSTRUMENTED
#define UNINSTRUMENTED
#endif

static _Atomic(eve_domain *) g_handles;
static pthread_mutex_t g_handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction g_previous;
static pthread_once_t g_install_once = PTHREAD_ONCE_INIT;
static int g_install_rc;

void fault_add_handle(eve_domain *d) {
  pthread_mutex_lock(&g_handles_lock); /* writers in turn; the handler only reads */
  d->next_handle = atomic_load_explicit(&g_handles, memory_order_relaxed);
  atomic_store_explicit(&g_handles, d, memory_order_release);
  pthread_mutex_unlock(&g_handles_lock);
}

void fault_watch(eve_domain *d, int writable) {
  atomic_store_explicit(&d->watch_fd, d->fd, memory_order_relaxed);
  atomic_store_explicit(&d->watch_prot, PROT_READ | (writable ? PROT_WRITE : 0),
                        memory_order_relaxed);
  atomic_store_explicit(&d->watch_len, d->max_size, memory_order_relaxed);
  atomic_store_explicit(&d->watch_base, (uintptr_t)d->base, memory_order_release);
}

void fault_unwatch(eve_domain *d) {
  atomic_store_explicit(&d->watch_base, 0, memory_order_release);
}

/* The handle whose mapping holds addr, or NULL. */
UNINSTRUMENTED static eve_domain *handle_at(uintptr_t addr) {
  for (eve_domain *d = atomic_load_explicit(&g_handles, memory_order_acquire); d;
       d = d->next_handle) {
    uintptr_t base = atomic_load_explicit(&d->watch_base, memory_order_acquire);
    if (base && addr - base < atomic_load_explicit(&d->watch_len, memory_order_relaxed))
      return d;
  }
  return NULL;
}

/* Mark d damaged (the bit first: see the argument above), then put zero
 * pages over its range.  Every faulting thread replaces the range itself:
 * a second replacement racing the first only puts zeros over zeros, and no
 * thread can be left faulting forever behind a replacement that failed.
 * Returns 0 if the faulting access can run again. */
UNINSTRUMENTED static int damage(eve_domain *d, uintptr_t addr) {
  uintptr_t base = atomic_load_explicit(&d->watch_base, memory_order_acquire);
  uint64_t len = atomic_load_explicit(&d->watch_len, memory_order_relaxed);
  struct stat st;
  int fd = atomic_load_explicit(&d->watch_fd, memory_order_relaxed);
  /* syscall(2) reads every argument as a long */
  int cut = syscall(SYS_fstat, (long)fd, &st) == 0 && (uint64_t)st.st_size <= addr - base;
  unsigned bit = cut ? GUARD_TRUNCATED : GUARD_IO_ERROR;
  if (!(atomic_load(&d->guard) & GUARD_DAMAGE)) atomic_fetch_or(&d->guard, bit);
  long prot = atomic_load_explicit(&d->watch_prot, memory_order_relaxed);
  long p = syscall(SYS_mmap, (long)base, (long)len, prot,
                   (long)(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE), -1L, 0L);
  return p == -1 ? -1 : 0;
}

/* Not ours: do what would have happened without us. */
static void chain(int sig, siginfo_t *si, void *uc) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, si, uc);
    return;
  }
  if (g_previous.sa_handler == SIG_IGN && si->si_code <= 0) return; /* kill(2) of an ignored signal */
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  /* the default action: a fault re-executes and kills; a kill(2) is re-sent
   * (blocked until we return) */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  if (si->si_code <= 0) raise(sig);
}

UNINSTRUMENTED static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  eve_domain *d = si->si_code > 0 ? handle_at((uintptr_t)si->si_addr) : NULL;
  if (!d || damage(d, (uintptr_t)si->si_addr) != 0)
    chain(sig, si, uc); /* not ours, or no memory for the zero pages: as without us */
  errno = saved;
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  g_install_rc = sigaction(SIGBUS, &sa, &g_previous) == 0 ? 0 : EVE_EIO;
}

int fault_install(void) {
  pthread_once(&g_install_once, install);
  return g_install_rc;
}
