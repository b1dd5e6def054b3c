/* cli.h — shared pieces of the `eve` command-line tool.
 *
 * The tool is thin: it parses arguments, calls the public API (eve.h only)
 * and prints.  Three files:
 *   eve.c   the command table, argument parsing, the commands themselves
 *   ops.c   the swap operations (inc, assoc, update-in, ...) and key paths
 *   demo.c  `eve demo`: forked workers swapping one shared value
 *
 * Error convention: a function that fails prints exactly one line on stderr
 * starting "eve: " (cli_fail / cli_fail_rc) and returns the process exit
 * code to use: CLI_USAGE (2) for bad usage or unparsable input, CLI_FAIL (1)
 * for everything else.  0 means success.  Nothing calls exit() on an error
 * path, so every command can end its transactions and close its domain. */
#ifndef EVE_CLI_H
#define EVE_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "eve.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Print "eve: <message>" on stderr; return code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "eve: <message>: <eve_strerror(rc)>" on stderr; return CLI_FAIL. */
int cli_fail_rc(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse EDN text into a value of the write txn t.  what names the text in
 * the message (NULL: quote the text itself).  Returns a CLI code. */
int cli_read_edn(eve_txn *t, const char *text, size_t n, const char *what, eve_val *out);

/* Print v on one line to stdout as EDN (or JSON).  Returns a CLI code. */
int cli_print(eve_txn *t, eve_val v, int json);

/* How a command opens its domain. */
enum cli_open {
  OPEN_CREATE,   /* create the file when absent (init, set, swap)            */
  OPEN_EXISTING, /* read-write, must exist                                   */
  OPEN_READ,     /* must exist; read-write when permitted, else EVE_OPEN_RDONLY   */
};
/* Open the domain at path; prints the error.  Returns a CLI code.
 * *read_only (may be NULL) tells whether OPEN_READ fell back to EVE_OPEN_RDONLY. */
int cli_open(const char *path, enum cli_open how, eve_domain **out, int *read_only);

/* ---- ops.c ---------------------------------------------------------------- */

/* One parsed swap operation: OP and its arguments, e.g. `assoc :a 1` or
 * `update-in [:a :b] add 5` (which holds a nested call). */
typedef struct op_call op_call;

/* Check op names and argument counts of argv[0..argc) without parsing any
 * value (so a typo is reported before the domain is created).  Returns a
 * CLI code. */
int ops_check(int argc, char **argv);
/* Parse argv[0..argc) into a call whose values live in the write txn t. */
int ops_parse(eve_txn *t, int argc, char **argv, op_call **out);
void ops_free(op_call *c);

/* Apply c to old, building the result in t.  On failure returns an EVE_E*
 * code and writes a one-line explanation (naming the op and the type) to
 * msg.  Has no side effects besides building values and writing msg, so it
 * can serve as (part of) a swap function. */
int ops_apply(eve_txn *t, const op_call *c, eve_val old, eve_val *out, char *msg, size_t msgsz);

/* The value at key path ks (a vector or list of keys) in v, nil when
 * absent.  Returns an EVE_E* code (EVE_ETYPE when ks is not a sequence). */
int ops_get_in(eve_txn *t, eve_val v, eve_val ks, eve_val *out);

/* Printable ops list for help texts. */
extern const char ops_usage[];

/* ---- demo.c --------------------------------------------------------------- */

/* `eve demo [DB] [--workers N] [--seconds S]`: argv holds what follows
 * "demo".  Returns the exit code. */
int demo_main(int argc, char **argv);
extern const char demo_usage[];

#endif
