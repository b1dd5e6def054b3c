/* nested.c — the smallest tour of eve in C: build a nested value in a
 * domain file, publish it in an atom, print it back as EDN, then let a
 * second process open the same file and read the atom in place.
 *
 *   eve-example [DOMAIN-FILE]      (default: a file in a temporary directory)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eve.h"

static int fail(const char *what, int rc) {
  fprintf(stderr, "eve-example: %s: %s\n", what, eve_strerror(rc));
  return 1;
}

/* Build an inventory (a map of string keys to nested maps and vectors) and
 * publish it in the atom. */
static int build(eve_domain *d, eve_atom *atom) {
  static const char doc[] =
      "{:name \"corner shop\", :open? true, :since #inst \"2021-03-04T05:06:07.000-00:00\","
      " :stock {\"apple\" {:qty 12, :price 0.5}, \"pear\" {:qty 7, :price 0.75}},"
      " :tags #{:fruit :local}, :history [(:restock \"apple\" 10) (:sell \"pear\" 2)]}";
  eve_txn *t;
  int rc = eve_txn_begin(d, EVE_TXN_WRITE, &t);
  if (rc) return rc;
  eve_val shop, stock, plum, key, qty, price;
  eve_parse_error perr;
  if ((rc = eve_read_edn(t, doc, sizeof doc - 1, &shop, &perr)) != 0) {
    fprintf(stderr, "eve-example: line %d column %d: %s\n", perr.line, perr.column, perr.message);
    eve_txn_end(t);
    return rc;
  }
  /* then change it through the API: stock["plum"] = {:qty 30} */
  if ((rc = eve_keyword(t, "stock", 5, &key)) || (rc = eve_map_get(t, shop, key, &stock)) ||
      (rc = eve_keyword(t, "qty", 3, &qty)) || (rc = eve_int(t, 30, &price)) ||
      (rc = eve_map_assoc(t, EVE_V_EMPTY_MAP, qty, price, &plum)) ||
      (rc = eve_string(t, "plum", 4, &qty)) ||
      (rc = eve_map_assoc(t, stock, qty, plum, &stock)) ||
      (rc = eve_map_assoc(t, shop, key, stock, &shop))) {
    eve_txn_end(t);
    return rc;
  }
  rc = eve_reset(t, atom, shop); /* publish; intermediate versions are freed */
  eve_txn_end(t);               /* ends the txn; what was published stays */
  return rc;
}

static int print_atom(eve_domain *d, const char *name, const char *who) {
  eve_atom *atom;
  int rc = eve_atom_open(d, name, 0, &atom);
  if (rc) return rc;
  eve_txn *t;
  if ((rc = eve_txn_begin(d, EVE_TXN_READ, &t)) != 0) return eve_atom_close(atom), rc;
  char *text;
  uint64_t n = 0;
  eve_val v;
  if (!(rc = eve_deref(t, atom, &v)) && !(rc = eve_print_edn(t, v, &text, NULL))) {
    eve_count(t, v, &n);
    printf("%s (%llu keys):\n  %s\n", who, (unsigned long long)n, text);
    eve_free(text);
  }
  eve_txn_end(t);
  eve_atom_close(atom);
  return rc;
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/eve-example-XXXXXX", path[4096];
  if (argc > 1) snprintf(path, sizeof path, "%s", argv[1]);
  else if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  else snprintf(path, sizeof path, "%s/shop.eve", dir);

  eve_domain *d;
  int rc = eve_open(path, NULL, &d);
  if (rc) return fail(path, rc);
  eve_atom *shop;
  if ((rc = eve_atom_open(d, "shop", EVE_ATOM_CREATE, &shop)) != 0) return fail("atom", rc);
  if ((rc = build(d, shop)) != 0) return fail("build", rc);
  eve_atom_close(shop);
  printf("domain %s, atom \"shop\"\n", path);
  if ((rc = print_atom(d, "shop", "built by this process")) != 0) return fail("print", rc);
  fflush(stdout);

  /* A second process opens the file on its own and reads the same bytes. */
  pid_t pid = fork();
  if (pid == 0) {
    eve_domain *cd;
    int crc = eve_open(path, NULL, &cd);
    if (!crc) crc = print_atom(cd, "shop", "read in place by another process");
    if (!crc) crc = eve_close(cd);
    if (crc) fail("child", crc);
    fflush(stdout); /* _exit does not flush */
    _exit(crc ? 1 : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  eve_domain_info info;
  eve_domain_info_get(d, &info);
  printf("file size %llu bytes, heap used %llu bytes\n", (unsigned long long)info.file_bytes,
         (unsigned long long)(info.bump - info.heap_start));
  eve_close(d);
  if (argc <= 1) {
    unlink(path);
    rmdir(dir);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
