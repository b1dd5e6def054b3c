/* fuzz_domain.c — libFuzzer target: the input is a domain file.
 *
 * Input layout: one mode byte, then the file image.
 *   mode & 1  pad: extend the file with zeros up to the header's `size`
 *             (at most PAD_MAX).  A real domain is at least 128 KiB, almost
 *             all zeros; the seeds in corpus/domain/ are real domains with
 *             their trailing zeros cut off, and this bit puts them back, so
 *             the fuzzer mutates a few KiB instead of 128.
 *   mode & 2  reseal: recompute the header checksum after the mutation, so
 *             mutations of the immutable header fields (sizes, offsets,
 *             layout) get past the checksum and test the sanity checks
 *             behind it.  Done here rather than in a custom mutator so that
 *             a saved crash input reproduces by itself.
 * Without either bit the bytes are written as they are (raw mode).
 *
 * Then everything in exercise.h runs: open, info, stats, check, every
 * atom's value walked and printed, a swap, a new atom, a removal, gc,
 * check again, close.  Each must return 0 or a table code. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "exercise.h"

#define PAD_MAX (8u << 20)
#define HDR_CHECKSUM_AT 112   /* docs/FORMAT.md: XXH64 of bytes 0..111 */
#define HDR_SIZE_AT 128       /* the `size` word */
#define HDR_SEED 0x6576652d68647221ull

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_path[256];

/* The domain file lives on tmpfs when there is one: each input writes and
 * maps a file of 128 KiB or more. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_path, sizeof g_path, "%s/eve-fuzz-domain-%d.eve", base, (int)getpid());
  return 0;
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static int write_image(const uint8_t *img, size_t n, unsigned mode) {
  uint8_t *copy = NULL;
  if ((mode & 2) && n >= HDR_CHECKSUM_AT + 8) {
    copy = malloc(n);
    if (!copy) return -1;
    memcpy(copy, img, n);
    uint64_t sum = XXH64(copy, HDR_CHECKSUM_AT, HDR_SEED);
    memcpy(copy + HDR_CHECKSUM_AT, &sum, 8);
    img = copy;
  }
  int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int rc = fd < 0 || (n && write(fd, img, n) != (ssize_t)n) ? -1 : 0;
  if (!rc && (mode & 1) && n >= HDR_SIZE_AT + 8) {
    uint64_t want = get64(img + HDR_SIZE_AT);
    if (want > PAD_MAX) want = PAD_MAX;
    if (want > n && ftruncate(fd, (off_t)want) != 0) rc = -1;
  }
  if (fd >= 0) close(fd);
  free(copy);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (write_image(data + 1, size - 1, data[0]) != 0) return 0;
  /* EVE_FUZZ_SKIP=remove,print skips those steps: a way to hunt past a
   * known hang until it is fixed (never set in CI) */
  const char *skip = getenv("EVE_FUZZ_SKIP");
  ex_options o;
  memset(&o, 0, sizeof o);
  o.no_remove = skip && strstr(skip, "remove");
  o.no_print = skip && strstr(skip, "print");
  ex_result r;
  ex_domain(g_path, &o, &r);
  unlink(g_path);
  if (getenv("EVE_FUZZ_VERBOSE")) /* what each step returned, for triage */
    fprintf(stderr, "open %s check %s (%llu problems) atoms %u ok %u err %u swap %s create %s "
            "remove %s gc %s recheck %s\n", eve_err_name(r.open_rc), eve_err_name(r.check_rc),
            (unsigned long long)r.problems, r.atoms_listed, r.values_ok, r.values_err,
            eve_err_name(r.swap_rc), eve_err_name(r.create_rc), eve_err_name(r.remove_rc),
            eve_err_name(r.gc_rc), eve_err_name(r.recheck_rc));
  return 0;
}
