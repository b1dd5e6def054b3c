/* gen_seeds.c — write the seed corpus of fuzz_domain: real domain files.
 *
 *   gen_seeds DIR      (run.sh seeds calls it; rerun after a format change)
 *
 * Each seed is a mode byte (fuzz_domain.c explains it) followed by a real
 * domain file with its trailing zeros cut off: a domain is at least
 * 128 KiB but mostly zeros, and the fuzzer's mutations should land on the
 * bytes that mean something. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eve.h"

static void die(const char *what, int rc) {
  fprintf(stderr, "gen_seeds: %s: %s\n", what, eve_strerror(rc));
  exit(1);
}

static void must(int rc, const char *what) {
  if (rc) die(what, rc);
}

/* Set atom `name` of d to the EDN text. */
static void set_atom(eve_domain *d, const char *name, const char *edn) {
  eve_txn *t;
  eve_atom *a;
  eve_val v;
  must(eve_txn_begin(d, EVE_TXN_WRITE, &t), "begin");
  must(eve_read_edn(t, edn, strlen(edn), &v, NULL), edn);
  must(eve_atom_open(d, name, EVE_ATOM_CREATE, &a), name);
  must(eve_reset(t, a, v), "reset");
  must(eve_txn_end(t), "end");
  eve_atom_close(a);
}

/* Set `to` to the value of `from`: the two atoms share one value. */
static void share_atom(eve_domain *d, const char *from, const char *to) {
  eve_txn *t;
  eve_atom *a, *b;
  eve_val v;
  must(eve_txn_begin(d, EVE_TXN_WRITE, &t), "begin");
  must(eve_atom_open(d, from, 0, &a), from);
  must(eve_atom_open(d, to, EVE_ATOM_CREATE, &b), to);
  must(eve_deref(t, a, &v), "deref");
  must(eve_reset(t, b, v), "reset");
  must(eve_txn_end(t), "end");
  eve_atom_close(a);
  eve_atom_close(b);
}

/* Grow atom `name` to a vector 0..n-1 or a map {i "value i"}, one swap
 * per element: each commit frees the previous version, so the file holds
 * the value and little garbage (one EDN literal would leave every
 * intermediate version of the reader's build in the file). */
typedef struct grow_arg { int map, i; } grow_arg;

static int grow_fn(eve_txn *t, eve_val old, void *arg, eve_val *out) {
  const grow_arg *g = arg;
  int i = g->i;
  eve_val k, v;
  char text[32];
  int rc = eve_int(t, i, &k);
  if (rc) return rc;
  if (!g->map) return eve_vec_conj(t, old, k, out);
  snprintf(text, sizeof text, "v%d", i); /* inline: no block per string */
  if ((rc = eve_string(t, text, strlen(text), &v))) return rc;
  return eve_map_assoc(t, old, k, v, out);
}

static void grow(eve_domain *d, const char *name, int map, int n) {
  eve_atom *a;
  set_atom(d, name, map ? "{}" : "[]");
  must(eve_atom_open(d, name, 0, &a), name);
  for (int i = 0; i < n; i++) {
    eve_txn *t;
    grow_arg g = {map, i};
    must(eve_txn_begin(d, EVE_TXN_WRITE, &t), "begin");
    must(eve_swap(t, a, grow_fn, &g, NULL), "swap");
    must(eve_txn_end(t), "end");
  }
  eve_atom_close(a);
}

/* Copy the domain at path into dir/name with the mode byte, zeros cut. */
static void save(const char *path, const char *dir, const char *name, unsigned char mode) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) die(path, EVE_EIO);
  unsigned char *img = malloc((size_t)st.st_size + 1);
  if (!img || read(fd, img + 1, (size_t)st.st_size) != st.st_size) die(path, EVE_EIO);
  close(fd);
  size_t n = (size_t)st.st_size;
  while (n > 136 && img[n] == 0) n--; /* keep the header's size word (offset 128) */
  img[0] = mode;
  char out[4096];
  snprintf(out, sizeof out, "%s/%s", dir, name);
  fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, img, n + 1) != (ssize_t)(n + 1)) die(out, EVE_EIO);
  close(fd);
  free(img);
}

typedef void (*fill_fn)(eve_domain *d);

static void fill_empty(eve_domain *d) { (void)d; }
static void fill_counter(eve_domain *d) { set_atom(d, "counter", "42"); }

static void fill_nested(eve_domain *d) {
  set_atom(d, "m", "{:a {:b [1 2 3] :c #{:x :y}} \"k\" (1 2 (3)) :f 1.5 :n nil}");
  set_atom(d, "v", "[1 \"a string longer than seven\" :kw sym \\c true 6.5 [[[]]] {}]");
  set_atom(d, "s", "#{1 2 3 \"a string longer than seven\" [1 2] {:k :v}}");
  set_atom(d, "l", "(1 (2 (3)) \"x\" :y)");
}

static void fill_scalars(eve_domain *d) {
  set_atom(d, "scalars", "[#uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\" "
                         "#inst \"1985-04-12T23:20:50.52Z\" #eve/bytes \"aGVsbG8gd29ybGQ=\" "
                         "1152921504606846976 -1152921504606846977 1.0e300 ##NaN "
                         "\"\\u00e9t\\u00e9 en fran\\u00e7ais, long\" :a-long-keyword/with-ns]");
}

static void fill_shared(eve_domain *d) {
  set_atom(d, "orig", "{:users [{:name \"Ada Lovelace\"} {:name \"Alan Turing\"}] :n 2}");
  share_atom(d, "orig", "copy");
  share_atom(d, "orig", "copy2");
}

static void fill_many_atoms(eve_domain *d) {
  char name[64], edn[64];
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof name, "atom-with-a-longish-name-%02d", i);
    snprintf(edn, sizeof edn, "[%d \"value number %d\"]", i, i);
    set_atom(d, name, edn);
  }
}

static void fill_removed(eve_domain *d) {
  fill_nested(d);
  set_atom(d, "m", "{:replaced true}");
  eve_atom_remove(d, "v");
  eve_atom_remove(d, "s");
  eve_gc_report r;
  eve_gc(d, &r);
}

static void fill_big_vec(eve_domain *d) { grow(d, "big-vec", 0, 1100); }
static void fill_big_map(eve_domain *d) { grow(d, "big-map", 1, 200); }

static void fill_deep(eve_domain *d) {
  char buf[256];
  memset(buf, '[', 100);
  memset(buf + 100, ']', 100);
  buf[200] = 0;
  set_atom(d, "deep", buf);
  set_atom(d, "deep-list", "((((((((((((((((((((1))))))))))))))))))))");
}

static const struct {
  const char *name;
  fill_fn fill;
  unsigned char modes; /* bit 0: write a pad seed, bit 1: a pad+reseal seed too */
} SEEDS[] = {
  {"empty", fill_empty, 3},     {"counter", fill_counter, 3}, {"nested", fill_nested, 3},
  {"scalars", fill_scalars, 1}, {"shared", fill_shared, 3},   {"many-atoms", fill_many_atoms, 1},
  {"removed", fill_removed, 3}, {"big-vec", fill_big_vec, 1}, {"big-map", fill_big_map, 1},
  {"deep", fill_deep, 1},
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gen_seeds DIR\n");
    return 2;
  }
  mkdir(argv[1], 0755);
  char tmp[] = "/tmp/eve-seeds-XXXXXX";
  if (!mkdtemp(tmp)) die("mkdtemp", EVE_EIO);
  char path[256];
  for (size_t i = 0; i < sizeof SEEDS / sizeof SEEDS[0]; i++) {
    snprintf(path, sizeof path, "%s/%s.eve", tmp, SEEDS[i].name);
    eve_domain *d;
    must(eve_open(path, NULL, &d), path);
    SEEDS[i].fill(d);
    must(eve_close(d), "close");
    char name[128];
    snprintf(name, sizeof name, "pad-%s", SEEDS[i].name);
    save(path, argv[1], name, 1);
    if (SEEDS[i].modes & 2) {
      snprintf(name, sizeof name, "pad-reseal-%s", SEEDS[i].name);
      save(path, argv[1], name, 3);
    }
    unlink(path);
  }
  /* raw mode: a header page alone (EVE_ETRUNC) */
  snprintf(path, sizeof path, "%s/raw.eve", tmp);
  eve_domain *d;
  must(eve_open(path, NULL, &d), path);
  must(eve_close(d), "close");
  int fd = open(path, O_RDWR);
  if (fd < 0 || ftruncate(fd, 4096) != 0) die("truncate", EVE_EIO);
  close(fd);
  save(path, argv[1], "raw-header-only", 0);
  unlink(path);
  rmdir(tmp);
  return 0;
}
