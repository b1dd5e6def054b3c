/*
 * eve.h — shared-memory persistent data structures.
 *
 * A *domain* is one memory-mapped file (or an in-memory region) holding
 * immutable, structurally shared values: maps, sets, vectors and lists of
 * EDN scalars.  Every process and thread that opens the same domain sees the
 * same bytes; values are read in place, with no copying and no locks.
 *
 * Conventions
 * -----------
 *  - Every function returns 0 on success or a negative EVE_E* code.
 *    eve_strerror() explains a code, eve_err_name() names it.  The library
 *    never aborts, exits or prints.
 *  - A value is an eve_val: a 64-bit word.  Small values (nil, booleans,
 *    integers that fit in 61 bits, characters, strings/keywords/symbols of
 *    at most 7 bytes, empty collections) live in the word itself; everything
 *    else is an offset into the domain.  A word means nothing outside the
 *    domain it came from.
 *  - Values are created and read inside a *transaction* (eve_txn).  A value
 *    obtained in a transaction is valid until that transaction ends (as
 *    LMDB's pointers are valid until its txn ends): to keep it longer, copy
 *    it out (e.g. print it to EDN) or publish it in an atom and deref it
 *    later (see eve_txn_end).  Pointers returned into the domain
 *    (eve_str, eve_bytes) have the same lifetime.
 *  - A transaction belongs to the thread that began it.  It may be handed to
 *    another thread (used by one thread at a time) while that thread lives:
 *    when the thread that began it exits, the library ends every
 *    transaction it left open (as eve_txn_end), so that they stop holding
 *    reclamation back; such a transaction must not be used any more.  (This
 *    runs as a pthread key destructor, after C++/Rust thread_local
 *    destructors, which may still end transactions; a pthread key
 *    destructor of the program's own must not, their order is unspecified.)
 *    Different transactions may run in different threads concurrently.
 *  - Sticky failure: once a transaction has met a corrupt block or run out
 *    of space, every later call on it returns that same error.  End it.
 *  - A file cut short under the mapping (another process truncates it) is
 *    an error, not a signal: the call that touches a cut page, and every
 *    later call on the handle and its transactions, returns EVE_ETRUNC
 *    (EVE_EIO if a page could not be read); nothing more is written to the
 *    file, no swap is reported done that did not reach it, and eve_close
 *    releases the handle.  For this the first eve_open installs one
 *    process-wide SIGBUS handler, which passes every other SIGBUS on to the
 *    handler it replaced; a program that installs its own SIGBUS handler
 *    later must do the same (call the previous one).
 *  - Names: eve_<noun>_<verb>; a call that reads a property into *out
 *    ends in _get (eve_int_get, eve_stats_get).  The few that return their
 *    answer directly cannot fail: eve_strerror, eve_err_name,
 *    eve_type_name, eve_txn_error (and eve_version).  Flags are
 *    EVE_OPEN_*, EVE_TXN_*, EVE_ATOM_*; errors EVE_E*, plus EVE_END.
 *  - Errors every call may return besides those it lists: EVE_EINVAL for a
 *    NULL handle, pointer or unknown flag; and, for a call that takes a
 *    transaction, EVE_ETXN (a transaction of another domain, or a write
 *    in a read transaction), EVE_EFORKED (begun before a fork(), in the
 *    child) and the transaction's sticky error (EVE_ECORRUPT, EVE_ETRUNC,
 *    EVE_EIO, EVE_ENOSPC, EVE_EFULL, EVE_ENOMEM).  Each declaration below
 *    lists the codes that are its own.
 *  - Threads.  A domain handle (eve_domain) is shared by every thread of
 *    the process: all calls on it may run concurrently, except eve_close,
 *    which returns EVE_EBUSY while any other call or transaction of the
 *    handle is in flight.  An atom handle (eve_atom) is plain memory: any
 *    thread may use it, and several at once.  A transaction (eve_txn) is
 *    used by one thread at a time (see below); an iterator likewise.  After
 *    fork() the child may go on using the domain handle (it re-attaches);
 *    transactions begun before the fork are EVE_EFORKED there.
 *  - Collections are immutable.  "Updating" returns a new value that shares
 *    structure with the old one; the old value is unchanged.  An update that
 *    changes nothing returns the same word and allocates nothing.
 */
#ifndef EVE_H
#define EVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public function carries EVE_API: the shared library exports these
 * and nothing else (it is built with hidden visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define EVE_API __attribute__((visibility("default")))
#else
#define EVE_API
#endif

#include "eve_version.h" /* EVE_VERSION_MAJOR/_MINOR/_PATCH, EVE_VERSION_STRING */
/* The version of the library linked at run time, e.g. "0.1.0". */
EVE_API const char *eve_version(void);

/* A value: an immediate or an offset into its domain (see Conventions). */
typedef uint64_t eve_val;

/* ------------------------------------------------------------------------
 * Errors.  One table: the enum, eve_strerror() and eve_err_name() are all
 * generated from it.
 * ---------------------------------------------------------------------- */
#define EVE_ERRNO_MAP(X)                                                         \
  X(EVE_EINVAL,     -1, "invalid argument")                                         \
  X(EVE_ENOMEM,     -2, "out of process memory")                                    \
  X(EVE_EIO,        -3, "I/O error (see errno)")                                    \
  X(EVE_ENOSPC,     -4, "no space left on device: the domain could not grow")       \
  X(EVE_EFULL,      -5, "domain reached its maximum size (options.max_size)")       \
  X(EVE_ENOTDOMAIN, -6, "not an eve domain file (bad magic)")                       \
  X(EVE_EVERSION,   -7, "domain file has an unsupported format version")            \
  X(EVE_EBADHDR,    -8, "domain header is damaged (checksum or layout mismatch)")   \
  X(EVE_ETRUNC,     -9, "domain file is truncated")                                 \
  X(EVE_ECORRUPT,  -10, "corrupt data in the domain (bad offset, magic or type)")   \
  X(EVE_ETYPE,     -11, "wrong type for this operation")                            \
  X(EVE_ENOTFOUND, -12, "not found")                                                \
  X(EVE_ERANGE,    -13, "index or value out of range")                              \
  X(EVE_EPARSE,    -14, "parse error in EDN or JSON text")                          \
  X(EVE_EDEPTH,    -15, "nesting too deep (values: past EVE_MAX_NESTING, 4096)")     \
  X(EVE_EACCESS,   -16, "permission denied")                                        \
  X(EVE_EEXIST,    -17, "file exists")                                              \
  X(EVE_ENOENT,    -18, "no such file or directory")                                \
  X(EVE_EBUSY,     -19, "domain is busy (exclusive access held elsewhere)")         \
  X(EVE_ETXN,      -20, "transaction is not usable here (ended, read-only, or from another domain)") \
  X(EVE_END,      -21, "end of iteration")                                      \
  X(EVE_ECONFLICT, -22, "the atom did not hold the expected value")              \
  X(EVE_ETIMEDOUT, -23, "timed out")                                             \
  X(EVE_EREMOVED,  -24, "the atom was removed")                                  \
  X(EVE_ESLOTS,    -25, "all reader slots of the domain are in use")             \
  X(EVE_EREENTRY,  -26, "a swap function tried to change its own atom")          \
  X(EVE_EFORKED,   -27, "transaction inherited across fork()")

typedef enum eve_err {
  EVE_OK = 0,
#define EVE__ERR_ENUM(name, code, msg) name = (code),
  EVE_ERRNO_MAP(EVE__ERR_ENUM)
#undef EVE__ERR_ENUM
} eve_err;

/* A human-readable message for an error code; it starts with the code's name. */
EVE_API const char *eve_strerror(int err);
/* The code's name, e.g. "EVE_ENOSPC"; "EVE_UNKNOWN" for anything else. */
EVE_API const char *eve_err_name(int err);

/* ------------------------------------------------------------------------
 * Domains
 * ---------------------------------------------------------------------- */
typedef struct eve_domain eve_domain;

/* eve_options.flags: one mode (the low two bits) and, optionally,
 * EVE_OPEN_RDONLY or EVE_OPEN_RECOVER. */
enum eve_open_flags {
  EVE_OPEN_CREATE = 0,    /* the default: open the file, creating it if absent */
  EVE_OPEN_EXISTING = 1,  /* open an existing file; EVE_ENOENT if there is none */
  EVE_OPEN_NEW = 2,       /* create the file; EVE_EEXIST if it already exists   */
  EVE_OPEN_MODE_MASK = 3, /* the bits that hold the mode                        */
  EVE_OPEN_RDONLY = 1 << 2, /* map read-only; never creates (with EVE_OPEN_NEW:
                           EVE_EINVAL; with CREATE it acts as EXISTING).
                           Writes are refused (EVE_ETXN), and transactions
                           cannot pin (the slots are in the file), so they do
                           not hold back reclamation: use it on a domain
                           nobody is changing (a copy, an inspection), never
                           beside live writers.  Not valid in memory.       */
  EVE_OPEN_RECOVER = 1 << 3, /* with EVE_OPEN_EXISTING: open the file as after a
                           power cut, restoring the last eve_sync (see there):
                           for a file restored from a backup or a machine
                           image taken while it was in use.  EVE_ENOENT if it
                           was never synced.                                 */
};

typedef struct eve_options {
  unsigned flags;       /* a mode from enum eve_open_flags, optionally
                           | EVE_OPEN_RDONLY or EVE_OPEN_RECOVER; others are
                           EVE_EINVAL                                        */
  unsigned mode;        /* file mode for a new file; 0 means 0600             */
  uint64_t max_size;    /* address range reserved for the domain; 0 = 1 TiB.
                           Fixed when the file is created.                    */
  uint64_t initial_size;/* first file size; 0 = 64 KiB (rounded to pages)    */
  uint64_t reserved[4]; /* zero: room for options added later without an ABI
                           break (eve_open refuses non-zero, EVE_EINVAL)     */
} eve_options;

/* Open (or create) the domain at path.  path == NULL makes an in-memory
 * domain (memfd): shared with threads and with children forked after the
 * open, sealed so that nobody can shrink it.  opts may be NULL for the
 * defaults.  Opening attaches the process to the domain, which repairs
 * online what processes that died left behind: their reader slots, their
 * half-done commits (each journal is finished or rolled back), and what
 * they had retired is freed once no reader can see it.  It runs no full
 * collection, so an open never costs a pass over the heap.
 * Errors: EVE_ENOENT, EVE_EACCESS, EVE_EEXIST, EVE_ENOTDOMAIN, EVE_EVERSION,
 * EVE_EBADHDR, EVE_ETRUNC, EVE_ENOSPC, EVE_EIO, EVE_ENOMEM, EVE_EINVAL (bad
 * flags or sizes, non-zero reserved words, EVE_OPEN_RDONLY in memory). */
EVE_API int eve_open(const char *path, const eve_options *opts, eve_domain **out);

/* Unmap and close.  Values stay in the file.  EVE_EBUSY, and nothing
 * changes, while a transaction of the handle is open in any thread (the
 * caller's included) or another thread is inside a call on it (eve_wait
 * included) or eve_gc runs on it: end them, then close again.  The handle
 * must not be used after eve_close returned 0; a call that races it gets
 * EVE_EINVAL, never freed memory (closed handles are kept, and reused by a
 * later eve_open only after eight more have been closed).  A handle whose
 * file was truncated (EVE_ETRUNC) closes without writing anything. */
/* The last process to close a domain that holds unreclaimed space left
 * by a crash, or by a retire that found no memory (eve_stats_get shows
 * retired bytes), runs a full collection there (as eve_gc), which takes
 * time proportional to the heap; eve_close never fails because of it.
 * Errors: EVE_EINVAL (NULL or already closed), EVE_EBUSY. */
EVE_API int eve_close(eve_domain *d);

/* Durability.  Without eve_sync a domain survives process crashes (kill -9
 * loses nothing published), but after a power cut or a kernel crash its
 * file holds whatever pages the kernel had written back, in any mix.
 * eve_sync(d): when it returns 0, every value published in d before the
 * call survives a power cut: it takes a checkpoint of every atom's current
 * value and makes it durable (two fdatasyncs).  After a crash of the
 * machine, the next read-write eve_open (it notices that the machine
 * booted since the domain was last opened) restores the domain to its last
 * checkpoint — into a new, checked file that takes the old one's name —
 * and values published after that sync are lost.  Several processes and
 * threads may sync at once (they take turns).  eve_close syncs a domain
 * that has been synced before, so that a clean shutdown loses nothing.
 * Cost: the versions the last checkpoint holds stay in the file until the
 * next sync (as if a snapshot held them); a domain never synced holds
 * nothing and pays nothing.  In memory: 0, nothing to do.  A read-only
 * open of a domain that needs restoring returns EVE_ECORRUPT.
 * Errors: EVE_EINVAL, EVE_ETXN (a read-only handle), EVE_EIO (the sync
 * failed: nothing is promised), EVE_ENOSPC, EVE_EFULL, EVE_ENOMEM,
 * EVE_ESLOTS, EVE_EBUSY, EVE_ECORRUPT, EVE_ETRUNC. */
EVE_API int eve_sync(eve_domain *d);

typedef struct eve_domain_info {
  uint64_t file_bytes;   /* current size of the file                         */
  uint64_t max_bytes;    /* the reserved range                               */
  uint64_t heap_start;   /* offset of the first block                        */
  uint64_t bump;         /* offset of the next never-used byte               */
  uint32_t format_version;
  uint32_t reserved32;
  uint64_t reserved[6];  /* zero: room for more without an ABI break        */
} eve_domain_info;

/* The domain's sizes.  Errors: EVE_EINVAL, EVE_EBUSY, EVE_ETRUNC. */
EVE_API int eve_domain_info_get(eve_domain *d, eve_domain_info *out);

/* ------------------------------------------------------------------------
 * Transactions
 * ---------------------------------------------------------------------- */
typedef struct eve_txn eve_txn;

enum eve_txn_flags {
  EVE_TXN_READ = 0,      /* read only: creating values returns EVE_ETXN       */
  EVE_TXN_WRITE = 1,     /* may create values                                 */
  EVE_TXN_SNAPSHOT = 2,  /* a read-only snapshot to keep (see below)          */
};

/* Begin a transaction.  It claims one of the domain's reader slots and
 * pins the current epoch there until it ends: nothing it can see is freed
 * meanwhile.  EVE_ESLOTS when every slot holds a live transaction (they are
 * few: 128 per domain; a killed process's slots are reclaimed).  Keep
 * transactions short: a long one holds back reclamation for everyone
 * (eve_stats_get shows the oldest pin, its process and thread).  While
 * eve_gc or eve_close runs on the handle in another thread, waits for it
 * to finish, up to about 2 s, then EVE_EBUSY (eve_atom_open, eve_wait and
 * the other calls on the handle do the same).
 * Errors: EVE_EINVAL (bad flags, a closed handle), EVE_ESLOTS, EVE_EBUSY,
 * EVE_ETXN (EVE_TXN_WRITE in a domain opened EVE_OPEN_RDONLY), EVE_ENOMEM,
 * EVE_ETRUNC. */
EVE_API int eve_txn_begin(eve_domain *d, unsigned flags, eve_txn **out);

/* End a transaction and free every block it created and did not publish
 * (values published by a swap stay in their atom); for a snapshot, drop one
 * reference (see Snapshots below).  Values read or created
 * in it must not be used afterwards.  This is the only way a transaction
 * ends.  EVE_EFORKED for a transaction begun before a fork(), in the child:
 * it is forgotten without touching the parent's slot.
 *
 * To keep a value beyond its transaction, publish it in an atom (eve_reset
 * or eve_swap; atoms are cheap and named, and eve_atom_remove drops one) and
 * eve_deref it in a later transaction, in this process or another.  There is
 * no way to keep a value "out of band", with no atom holding it: every block
 * that is not shared has exactly one incoming word in the file, and that
 * word is what the commits, the checker and the collector count as its
 * owner.  A value held only by a caller's variable has no such word, so it
 * would be freed under the caller (by eve_gc, or by a commit dropping the
 * blocks it shares with a published value) and miscounted if published
 * later.  (An earlier draft had such a call, eve_txn_commit; it was removed
 * for this reason.)  Errors: EVE_EINVAL (NULL), EVE_EFORKED. */
EVE_API int eve_txn_end(eve_txn *t);

/* Snapshots: read transactions to keep.
 * eve_txn_begin(d, EVE_TXN_SNAPSHOT, &t) begins a read transaction meant to
 * live as long as a language binding's value object: for seconds or hours,
 * as many as you like (a hundred thousand per process costs some memory of
 * this process, nothing shared), and not tied to a thread.
 *   - It claims no reader slot of its own: all the live snapshots of a
 *     process on one handle share one slot, which shows the oldest of them.
 *     (EVE_ESLOTS only when the process has no snapshot yet and every slot
 *     is held.)
 *   - It can be handed to another thread, and the thread that began it may
 *     exit: it lives until its last reference ends.  One thread at a time
 *     uses it for reads (its sticky error is a plain field).
 *   - eve_txn_retain(t) adds a reference (from any thread); eve_txn_end(t)
 *     drops one, and the last one ends the snapshot.
 *   - Everything a read transaction can do, it can: eve_deref loads the
 *     atom's root when called, so a later deref sees a later version, and
 *     every version it has loaded stays readable until it ends.
 * What it costs: like any reader, a snapshot holds back the reclamation of
 * what was retired since it began, in every process (eve_stats_get shows
 * the oldest pin).  While this process holds a snapshot of the handle,
 * eve_gc and eve_close on it return EVE_EBUSY.  In a forked child, an
 * inherited snapshot is refused (EVE_EFORKED) and forgotten by its end.
 * eve_txn_retain errors: EVE_EINVAL (NULL, or not a snapshot), EVE_EFORKED. */
EVE_API int eve_txn_retain(eve_txn *t);

/* The transaction's sticky error (0 if none). */
EVE_API int eve_txn_error(const eve_txn *t);

/* ------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------- */
typedef enum eve_type {
  EVE_NIL = 0,
  EVE_BOOL,
  EVE_INT,
  EVE_FLOAT,
  EVE_CHAR,
  EVE_STRING,
  EVE_KEYWORD,
  EVE_SYMBOL,
  EVE_UUID,
  EVE_INST,
  EVE_BYTES,
  EVE_LIST,
  EVE_VECTOR,
  EVE_SET,
  EVE_MAP,
} eve_type;

/* The name of a type, e.g. "map". */
EVE_API const char *eve_type_name(eve_type type);

/* Immediates: usable without a transaction. */
#define EVE_V_NIL ((eve_val)0)
#define EVE_V_FALSE ((eve_val)0x0A)
#define EVE_V_TRUE ((eve_val)0x12)
#define EVE_V_EMPTY_MAP ((eve_val)0x22)
#define EVE_V_EMPTY_SET ((eve_val)0x2A)
#define EVE_V_EMPTY_VECTOR ((eve_val)0x32)
#define EVE_V_EMPTY_LIST ((eve_val)0x3A)

/* The type of v.  Errors: EVE_ECORRUPT (v points at no valid block). */
EVE_API int eve_type_get(eve_txn *t, eve_val v, eve_type *out);

/* Constructors.  Those that take t may allocate and need a write
 * transaction (EVE_ETXN otherwise); out of space they return EVE_ENOSPC or
 * EVE_EFULL (sticky in t).  Text that is not UTF-8 is EVE_EINVAL. */
EVE_API int eve_bool(int b, eve_val *out);
EVE_API int eve_int(eve_txn *t, int64_t i, eve_val *out);
EVE_API int eve_float(eve_txn *t, double f, eve_val *out);     /* NaNs become one NaN */
EVE_API int eve_char(uint32_t codepoint, eve_val *out);         /* EVE_ERANGE past U+10FFFF or a surrogate */
EVE_API int eve_string(eve_txn *t, const char *s, size_t n, eve_val *out);  /* UTF-8, may contain NUL; EVE_EINVAL if not UTF-8 */
EVE_API int eve_keyword(eve_txn *t, const char *s, size_t n, eve_val *out); /* name without ':', may have ns: "a/b" */
EVE_API int eve_symbol(eve_txn *t, const char *s, size_t n, eve_val *out);
EVE_API int eve_uuid(eve_txn *t, const uint8_t bytes[16], eve_val *out);
EVE_API int eve_inst(eve_txn *t, int64_t ms_since_epoch, eve_val *out);
EVE_API int eve_bytes(eve_txn *t, const void *p, size_t n, eve_val *out);

/* Accessors: EVE_ETYPE when v is not of that type; they allocate nothing
 * and work in any transaction. */
EVE_API int eve_bool_get(eve_txn *t, eve_val v, int *out);
EVE_API int eve_int_get(eve_txn *t, eve_val v, int64_t *out);
EVE_API int eve_float_get(eve_txn *t, eve_val v, double *out);
EVE_API int eve_char_get(eve_txn *t, eve_val v, uint32_t *out);
EVE_API int eve_uuid_get(eve_txn *t, eve_val v, uint8_t out[16]);
EVE_API int eve_inst_get(eve_txn *t, eve_val v, int64_t *out);
/* String, keyword or symbol text (not NUL-terminated).  Short texts live in
 * the value word itself, so pass the word's address: *s points into *v (keep
 * *v alive) or into the domain (valid until the txn ends). */
EVE_API int eve_text_get(eve_txn *t, const eve_val *v, const char **s, size_t *n);
EVE_API int eve_bytes_get(eve_txn *t, const eve_val *v, const uint8_t **p, size_t *n);

/* Structural equality, hashing and a total order (consistent with each other:
 * equal values hash equal and compare 0).  1 and 1.0 are different values;
 * floats are equal when their bits are (all NaNs are one NaN).  Vectors and
 * lists with equal elements are equal.  The order: by type (nil, booleans,
 * numbers, chars, strings, keywords, symbols, uuids, insts, bytes,
 * lists and vectors, sets, maps), then within the type; sequences element
 * by element; sets and maps by count, then by their entries in sorted order
 * (key, then value).  Equality and order work at any depth up to
 * EVE_MAX_NESTING without recursion; a value deeper than that can only be
 * damage: EVE_ECORRUPT.  Errors: EVE_ECORRUPT, EVE_ENOMEM (the walk's
 * stack, for values thousands of levels deep). */
EVE_API int eve_equal(eve_txn *t, eve_val a, eve_val b, int *out);
EVE_API int eve_hash(eve_txn *t, eve_val v, uint64_t *out);
EVE_API int eve_compare(eve_txn *t, eve_val a, eve_val b, int *out);

/* ------------------------------------------------------------------------
 * Collections (immutable; each update returns a new value)
 * ------------------------------------------------------------------------
 * Nesting limit.  A scalar has depth 0, an empty collection depth 1, and any
 * other collection 1 + the depth of its deepest element (map keys count):
 * [[]] and {[] 1} have depth 2.  No value is deeper than EVE_MAX_NESTING.
 * Every function below that puts a value into a collection (map assoc, as
 * key or value; set conj; vector conj and assoc; list cons) returns
 * EVE_EDEPTH when that value is EVE_MAX_NESTING deep itself, and builds
 * nothing; the transaction stays usable (EVE_EDEPTH is never sticky).  The
 * EDN and JSON readers refuse deeper text with the same code.  Within the
 * limit every operation works at any depth (equality, order, hashing,
 * printing, lookups of deep keys), in constant C stack: a thread with a
 * 128 KiB stack is enough.  Updates that only remove (dissoc, disj, pop,
 * rest, slice) and merge never fail this way.  The check costs O(1), except
 * for a collection that was EVE_MAX_NESTING deep before its deepest element
 * was removed: each time it is put into another collection its elements
 * are examined (what is built on it records its real, smaller depth). */
#define EVE_MAX_NESTING 4096

/* Errors of the collection functions below: EVE_ETYPE when a value is not
 * the collection the function expects; EVE_EDEPTH as above; lookups and
 * reads allocate nothing and work in a read transaction, updates need a
 * write transaction.  Their own codes are noted beside them. */

/* Element count of a map, set, vector or list (EVE_ETYPE otherwise). */
EVE_API int eve_count(eve_txn *t, eve_val coll, uint64_t *out);

/* Maps.  nil is accepted as the empty map by assoc/dissoc/get/merge. */
EVE_API int eve_map_get(eve_txn *t, eve_val m, eve_val k, eve_val *out); /* EVE_ENOTFOUND if absent */
/* The same lookup for a text key given by its bytes: type is EVE_STRING,
 * EVE_KEYWORD or EVE_SYMBOL (the key "abc" is key[0..n) of that type).
 * Allocates nothing, so it works in a read transaction.  EVE_ENOTFOUND if
 * absent; EVE_EINVAL for another type or text eve_string (eve_keyword,
 * eve_symbol) would refuse, such as bad UTF-8. */
EVE_API int eve_map_get_text(eve_txn *t, eve_val m, eve_type type, const char *key, size_t n,
                     eve_val *out);
/* A scalar described in the caller's memory, for lookups that allocate
 * nothing whatever the key: a large integer, a float, a uuid, an #inst or
 * a long text would otherwise have to be built in a write transaction
 * first (eve_int and friends box them), which a read transaction, a
 * snapshot or a domain opened EVE_OPEN_RDONLY cannot do.  Set `type` (any
 * type but the four collections) and the member of `as` it names; nil
 * needs none.  The text of EVE_STRING, EVE_KEYWORD, EVE_SYMBOL and
 * EVE_BYTES is read during the call only. */
typedef struct eve_scalar {
  eve_type type;
  union {
    int b;              /* EVE_BOOL: 0 or not        */
    int64_t i;          /* EVE_INT                   */
    double f;           /* EVE_FLOAT (NaNs are one)  */
    uint32_t c;         /* EVE_CHAR: a code point    */
    uint8_t uuid[16];   /* EVE_UUID                  */
    int64_t ms;         /* EVE_INST                  */
    struct { const char *s; size_t n; } text; /* texts and bytes */
  } as;
} eve_scalar;
/* eve_map_get / eve_set_contains with the key given as an eve_scalar; the
 * same answers as building the value and looking it up.  EVE_ENOTFOUND if
 * absent (maps); EVE_EINVAL for a collection type, or a scalar the
 * constructors would refuse (bad UTF-8, an empty keyword, a surrogate). */
EVE_API int eve_map_get_scalar(eve_txn *t, eve_val m, const eve_scalar *key, eve_val *out);
EVE_API int eve_set_contains_scalar(eve_txn *t, eve_val s, const eve_scalar *x, int *out);
EVE_API int eve_map_assoc(eve_txn *t, eve_val m, eve_val k, eve_val v, eve_val *out);
EVE_API int eve_map_dissoc(eve_txn *t, eve_val m, eve_val k, eve_val *out);
EVE_API int eve_map_merge(eve_txn *t, eve_val a, eve_val b, eve_val *out); /* b's entries win */

/* Sets. */
EVE_API int eve_set_contains(eve_txn *t, eve_val s, eve_val x, int *out);
EVE_API int eve_set_conj(eve_txn *t, eve_val s, eve_val x, eve_val *out);
EVE_API int eve_set_disj(eve_txn *t, eve_val s, eve_val x, eve_val *out);

/* Vectors. */
EVE_API int eve_vec_nth(eve_txn *t, eve_val v, uint64_t i, eve_val *out);  /* EVE_ERANGE */
EVE_API int eve_vec_assoc(eve_txn *t, eve_val v, uint64_t i, eve_val x, eve_val *out); /* i == count appends */
EVE_API int eve_vec_conj(eve_txn *t, eve_val v, eve_val x, eve_val *out);
EVE_API int eve_vec_pop(eve_txn *t, eve_val v, eve_val *out);             /* EVE_ERANGE when empty */
EVE_API int eve_vec_slice(eve_txn *t, eve_val v, uint64_t from, uint64_t to, eve_val *out); /* [from, to) */

/* Lists. */
EVE_API int eve_list_cons(eve_txn *t, eve_val x, eve_val list, eve_val *out); /* nil is the empty list */
EVE_API int eve_list_first(eve_txn *t, eve_val list, eve_val *out);           /* nil when empty */
EVE_API int eve_list_rest(eve_txn *t, eve_val list, eve_val *out);            /* empty list when empty */

/* Iteration over any collection: maps yield key and value; other
 * collections yield the element as key and nil as value.  Lists and
 * vectors iterate in order; maps and sets in an unspecified stable order.
 * eve_iter_next returns 0 with an item, EVE_END after the last item, or an
 * error.  The iterator is plain memory the caller provides (on the stack,
 * say): no cleanup, valid while its transaction is.  Its contents are
 * private; the words reserved leave room to grow without an ABI break.
 * eve_iter_init: EVE_ETYPE when coll is not a collection (nil is one: the
 * empty map), EVE_EINVAL, EVE_ETXN, EVE_ECORRUPT.  eve_iter_next: EVE_END,
 * EVE_EINVAL, EVE_ECORRUPT, EVE_ETRUNC. */
typedef struct eve_iter {
  uint64_t private_[40];
} eve_iter;

EVE_API int eve_iter_init(eve_txn *t, eve_val coll, eve_iter *it);
EVE_API int eve_iter_next(eve_iter *it, eve_val *key, eve_val *val);

/* ------------------------------------------------------------------------
 * Atoms: named roots shared by every process that opens the domain
 * ------------------------------------------------------------------------
 * An atom holds one value.  Changing it builds a new value (sharing
 * structure with the old one) and publishes it with one compare-and-swap of
 * the atom's root word; readers never block writers or each other.  Old
 * versions are freed once no transaction can still see them.
 *
 * All atom operations run inside a transaction: eve_deref in any, the
 * changing ones in a write transaction.  The transaction pins the domain's
 * epoch, so every value it has read or published stays valid until it ends,
 * however many times other processes change the atom meanwhile. */
typedef struct eve_atom eve_atom;

enum eve_atom_flags {
  EVE_ATOM_CREATE = 1 << 0,  /* create the atom (value nil) if absent */
};

/* Open the atom called `name` (NUL-terminated UTF-8, 1..4096 bytes).
 * Unrelated processes naming the same domain and atom get the same atom.
 * Without EVE_ATOM_CREATE it only looks the name up, in a read
 * transaction of its own, allocating nothing in the domain (so it works
 * in a domain opened EVE_OPEN_RDONLY).  With it, a missing atom is created
 * holding nil (a write: EVE_ETXN in a read-only domain).  The handle is
 * plain memory (malloc), usable by any thread, several at once.
 * Errors: EVE_ENOTFOUND (absent, or being removed, without
 * EVE_ATOM_CREATE), EVE_EINVAL (bad name or flags), EVE_ETXN, EVE_ESLOTS,
 * EVE_EBUSY, EVE_ENOMEM, EVE_ENOSPC, EVE_EFULL, EVE_ECORRUPT, EVE_ETRUNC. */
EVE_API int eve_atom_open(eve_domain *d, const char *name, unsigned flags, eve_atom **out);
/* Free the handle (the atom stays).  Errors: EVE_EINVAL (NULL). */
EVE_API int eve_atom_close(eve_atom *a);
/* Remove an atom and free its value once no reader can see it.  Handles
 * still open on it return EVE_EREMOVED from then on.
 * Errors: EVE_ENOTFOUND if absent, EVE_EINVAL, EVE_ETXN (read-only
 * domain), EVE_ESLOTS, EVE_EBUSY, EVE_ENOSPC, EVE_EFULL, EVE_ECORRUPT. */
EVE_API int eve_atom_remove(eve_domain *d, const char *name);
/* The names of the atoms.  Both forms work in any transaction (a read
 * transaction too, and in a domain opened EVE_OPEN_RDONLY) and allocate
 * nothing.  An atom being removed may still be listed.
 *
 * eve_atom_names: *count receives the number of atoms; the first
 * min(cap, *count) names are stored in names[] as string values (valid
 * until t ends; eve_text_get reads them), sorted by bytes when they all fit
 * (cap >= *count), else in an unspecified order.  Call it with cap 0 to
 * learn the count.  Errors: EVE_EINVAL (no t or count, or cap without
 * names), EVE_ETXN, EVE_ECORRUPT. */
EVE_API int eve_atom_names(eve_txn *t, eve_val *names, size_t cap, size_t *count);
/* eve_atom_names_each: fn(ctx, name, n) once per atom, in an unspecified
 * stable order; name is not NUL-terminated and is valid during the call
 * only.  A non-zero return from fn stops the walk and is returned.  Errors:
 * as eve_atom_names, or fn's. */
typedef int (*eve_name_fn)(void *ctx, const char *name, size_t n);
EVE_API int eve_atom_names_each(eve_txn *t, eve_name_fn fn, void *ctx);

/* The atom's current value, valid until t ends.  Any transaction.
 * Errors: EVE_EREMOVED, EVE_ECORRUPT. */
EVE_API int eve_deref(eve_txn *t, eve_atom *a, eve_val *out);
/* A counter bumped by every change of the atom (for eve_wait).
 * Errors: EVE_EINVAL, EVE_EREMOVED. */
EVE_API int eve_atom_version_get(eve_atom *a, uint64_t *out);

/* A swap function: build the new value from old (valid as long as t) and
 * store it in *out.  It may be called several times (once per retry after
 * a conflict), so it must have no side effects besides building values; a
 * non-zero return aborts the swap with that code.  Values it builds are
 * valid only during that call.  It may read other atoms but must not change
 * the atom being swapped (EVE_EREENTRY). */
typedef int (*eve_swap_fn)(eve_txn *t, eve_val old, void *arg, eve_val *out);

/* Atomically replace the atom's value v with fn(v), retrying on conflict.
 * *out (may be NULL) receives the value published, valid until t ends.
 * Success means the new value reached the domain: a swap whose file was
 * truncated under it returns EVE_ETRUNC, even if its final CAS "won".
 * The version a swap replaces is freed once every transaction that could
 * see it has ended, t included: a transaction that swaps many times holds
 * every version it replaced until it ends.  Use one transaction per swap
 * (or per small batch of swaps).
 * Errors: fn's code; EVE_EREMOVED; EVE_EREENTRY; EVE_ETXN (read
 * transaction); EVE_ENOSPC, EVE_EFULL, EVE_ENOMEM before the publishing
 * CAS (nothing published: retrying is safe); EVE_ETRUNC, EVE_ECORRUPT.
 * Once the CAS has won nothing can fail: a success is never reported as
 * an error. */
EVE_API int eve_swap(eve_txn *t, eve_atom *a, eve_swap_fn fn, void *arg, eve_val *out);
/* eve_swap that also returns the value it replaced (Clojure's swap-vals!):
 * *old (may be NULL) is the value fn was given on the attempt that won,
 * valid until t ends; *out the value published.  Errors: as eve_swap. */
EVE_API int eve_swap_vals(eve_txn *t, eve_atom *a, eve_swap_fn fn, void *arg, eve_val *old,
                          eve_val *out);
/* Set the atom to v (a value built in t or read in t).  Errors: as
 * eve_swap. */
EVE_API int eve_reset(eve_txn *t, eve_atom *a, eve_val v);
/* Set the atom to v only if it holds exactly `expected` (the same word, as
 * returned by eve_deref in t); else EVE_ECONFLICT and nothing changes.
 * The library frees whatever v's publication would have needed.
 * Errors: EVE_ECONFLICT, and those of eve_swap. */
EVE_API int eve_compare_and_set(eve_txn *t, eve_atom *a, eve_val expected, eve_val v);

/* Sleep until the atom's version differs from `seen` (0 and *now set),
 * or timeout_ms passes (EVE_ETIMEDOUT; a negative timeout waits forever).
 * Sleeps on a futex in the shared file: no polling, across processes (in a
 * domain opened EVE_OPEN_RDONLY, which cannot announce a sleeper, it re-checks
 * every 20 ms instead).  EVE_EREMOVED when the atom is removed.  While a
 * thread waits, eve_close of the domain returns EVE_EBUSY.
 * Errors: EVE_ETIMEDOUT, EVE_EREMOVED, EVE_EINVAL, EVE_EBUSY, EVE_ETRUNC. */
EVE_API int eve_wait(eve_atom *a, uint64_t seen, int64_t timeout_ms, uint64_t *now);

/* ------------------------------------------------------------------------
 * Statistics, verification, collection
 * ---------------------------------------------------------------------- */
typedef struct eve_stats {
  uint64_t file_bytes;      /* size of the file                                */
  uint64_t live_bytes;      /* allocated blocks not free and not retired       */
  uint64_t free_bytes;      /* on free lists (and this process's caches)       */
  uint64_t retired_bytes;   /* retired, waiting for readers (every process's
                               retire logs and the shared batches)            */
  uint64_t atoms;           /* number of atoms                                 */
  uint64_t readers;         /* transactions pinned now, in all processes        */
  uint64_t oldest_pin_ms;   /* age of the oldest pin, 0 if none                */
  int64_t oldest_pin_pid;   /* its process, 0 if none                          */
  int64_t oldest_pin_tid;   /* the thread that began it (Linux tid), 0 if none */
  uint64_t disk_bytes;      /* bytes the file occupies on its file system
                               (st_blocks * 512; of an in-memory domain, the
                               memory): below file_bytes once free pages went
                               back (hole punching, docs/DESIGN.md)          */
  uint64_t punched_bytes;   /* of free_bytes, the pages given back (holes)   */
  uint64_t snapshots;       /* live snapshots of this process on this handle
                               (EVE_TXN_SNAPSHOT); they hold one of `readers` */
  uint64_t reserved[5];     /* zero: room for more without an ABI break       */
} eve_stats;
/* Space and readers of the domain, for monitoring.  It begins a read
 * transaction, and ending one may run a reclamation pass: eve_stats_get
 * can free retired blocks that no reader can see any more (never anything
 * reachable).  With every reader slot taken it still answers (the atom
 * count read unpinned).  Errors: EVE_EINVAL, EVE_EBUSY, EVE_ECORRUPT,
 * EVE_ETRUNC. */
EVE_API int eve_stats_get(eve_domain *d, eve_stats *out);

typedef struct eve_check_report {
  uint64_t blocks;          /* reachable blocks                                */
  uint64_t reachable_bytes; /* their capacity                                  */
  uint64_t allocated_bytes; /* heap bytes neither free nor retired             */
  uint64_t leaked_bytes;    /* allocated - reachable (0 when exact)            */
  uint64_t shared_blocks;   /* reachable blocks with a SHARED count            */
  uint64_t problems;        /* invariant violations found                      */
  uint64_t excess_owners;   /* SHARED blocks counting more owners than words
                               point at them: left by an adopter in flight or
                               a process killed there; a leak, not damage     */
  uint64_t settled;         /* 1: no commit won during the check, so the
                               ownership counts were verified; 0: writers kept
                               changing atoms, only the structure was checked */
  uint64_t reserved[8];     /* zero: room for more without an ABI break       */
} eve_check_report;
/* Verify the whole domain: every offset, magic, type and size; every key
 * re-hashed against its trie path; counts and hashes; the ownership
 * invariant (a reachable block that is not SHARED has exactly one incoming
 * word, root words included; SHARED counts are at least the in-degree;
 * nothing reachable is free or waiting to be freed).
 *
 * Safe beside live writers in any process.  The structure is always
 * checked; the ownership counts only when no commit wins while they are
 * compared (the check retries a few times to find such a moment; see
 * `settled`).  On a quiet domain the report is exact.  Calls on_problem
 * (may be NULL) once per finding with a one-line description; findings
 * that are leaks rather than damage (excess owners) start with "leak: " and
 * are not counted as problems.  May reclaim retired blocks first.  Returns
 * 0 when sound, EVE_ECORRUPT when problems were found, EVE_ENOMEM, or the
 * errors of eve_txn_begin (EVE_ESLOTS, EVE_EFORKED, ...). */
EVE_API int eve_check(eve_domain *d, eve_check_report *out,
              void (*on_problem)(void *ctx, const char *msg), void *ctx);

typedef struct eve_gc_report {
  uint64_t reclaimed_bytes; /* allocated but unreachable bytes returned        */
  uint64_t live_bytes;      /* reachable bytes after the collection            */
  uint64_t reserved[6];     /* zero: room for more without an ABI break       */
} eve_gc_report;
/* Full collection: mark from the atoms, rebuild the free lists, recompute
 * SHARED counts.  Needs exclusive access: EVE_EBUSY while another process
 * has the domain open, or a thread of this process has a transaction of
 * the handle open or is inside a call on it.  While it runs, no transaction
 * of the handle can begin (eve_txn_begin waits for it).  A domain
 * whose marking meets damage is left untouched (EVE_ECORRUPT): sweeping it
 * would free blocks that only look unreachable because of the damage.
 * Long free runs go back to the file system (holes: eve_stats disk_bytes
 * falls, file_bytes stays).  EVE_ENOSPC: the disk is full and a page
 * that a new free block's header goes in could not be backed; the
 * collection is complete but for that block, which stays unusable (a
 * leak) until the next one.
 * Errors: EVE_EBUSY, EVE_ECORRUPT, EVE_ETXN (read-only domain), EVE_ENOMEM,
 * EVE_ENOSPC, EVE_EINVAL, EVE_ETRUNC. */
EVE_API int eve_gc(eve_domain *d, eve_gc_report *out);

/* Give free space back to the file system online, beside other processes
 * and threads: reclaim what the grace period allows, then merge the free
 * blocks of the shared free lists with their free neighbours and return
 * the whole pages of long runs (hole punching), so on-disk bytes fall
 * after a burst of garbage (say once a long reader has ended) without
 * eve_gc's exclusive access.  Nothing reachable is touched, and the file
 * keeps its size.  Costs O(n log n) in free blocks and 16 bytes of process
 * memory per free block; blocks in thread caches (this or other processes')
 * are not seen.  *disk_freed (may be NULL): how far disk_bytes fell.
 * Errors: EVE_EINVAL, EVE_ETXN (read-only domain), EVE_ENOMEM (the lists
 * are left as they were), EVE_EBUSY, EVE_ETRUNC. */
EVE_API int eve_trim(eve_domain *d, uint64_t *disk_freed);

typedef struct eve_compact_report {
  uint64_t atoms;           /* atoms copied                                    */
  uint64_t blocks;          /* value blocks copied, each once however shared   */
  uint64_t live_bytes;      /* the copy's live bytes (as eve_stats_get)        */
  uint64_t file_bytes;      /* the copy's file size                            */
  uint64_t reserved[4];     /* zero: room for more without an ABI break       */
} eve_compact_report;
/* Write a minimal copy of the domain file src_path to dst_path (as
 * `mdb_copy -c`): every atom with its current value and nothing else (no
 * free, retired or unreachable space), structural sharing kept (a value two
 * atoms or two keys share is stored once in the copy; each block of the
 * source's values is copied once, in its size class), so the copy's live
 * bytes are the source's reachable ones (values, registry, atom cells) and
 * its file holds little more.
 * The source is opened read-write when the caller may write it (its values
 * are not changed): the copy's transaction then pins, so writers may go on
 * meanwhile and each atom is copied as one of its versions (the pin holds
 * back reclamation there until the copy is done, as any long transaction
 * does).  A source the caller may only read is opened EVE_OPEN_RDONLY,
 * whose transactions do not pin: it must not change while it is copied.  An
 * in-memory domain has no path and cannot be compacted this way.
 * dst_opts may be NULL: the copy gets the source's max_size and file mode;
 * otherwise its mode, max_size and initial_size are used as eve_open reads
 * them, and its flags must be EVE_OPEN_CREATE or EVE_OPEN_NEW (the copy is
 * always a new file).  The copy is built under a temporary name in
 * dst_path's directory (dst_path.compact-PID-N), checked with eve_check,
 * synced, and only then linked to dst_path; on any failure the temporary
 * file is removed and dst_path is not created.  *out (may be NULL)
 * describes the copy.
 * Errors: EVE_EINVAL (a NULL path, bad dst_opts), EVE_EEXIST (dst_path
 * exists, or appeared meanwhile), EVE_ENOENT (no src_path, or no directory
 * for dst_path), EVE_EACCESS, EVE_ENOTDOMAIN, EVE_EVERSION, EVE_EBADHDR,
 * EVE_ETRUNC (the source's, from eve_open), EVE_ECORRUPT (damage in the
 * source: a bad block, a cycle, or a copy that does not check sound),
 * EVE_EFULL (the live data exceeds dst_opts->max_size), EVE_ENOSPC,
 * EVE_EIO, EVE_ENOMEM. */
EVE_API int eve_compact(const char *src_path, const char *dst_path, const eve_options *dst_opts,
                        eve_compact_report *out);

/* ------------------------------------------------------------------------
 * Text: EDN and JSON
 * ---------------------------------------------------------------------- */
typedef struct eve_parse_error {
  int line;      /* 1-based */
  int column;    /* 1-based, in bytes */
  char message[128];
} eve_parse_error;

/* Read one EDN value from exactly n bytes (no NUL needed).  Whitespace,
 * commas, comments and #_ discards may surround it; anything else after it
 * is an error.  Tags: #uuid, #inst (RFC 3339, kept as ms since the epoch),
 * #eve/bytes (base64); any other tag (unless its element is discarded by
 * #_), a map with a duplicate key or a set with a duplicate element is
 * EVE_EPARSE.  Integers (also with N) must fit int64 and M decimals must
 * be exactly a double (1.5M, not 1.1M): EVE_EPARSE otherwise, never a
 * wrapped or rounded value.  Needs a write transaction
 * (EVE_ETXN).  Errors: EVE_EPARSE, or EVE_EDEPTH for collections nested
 * deeper than EVE_MAX_NESTING (the constructors' limit) or tags nested as
 * deep, with *err (may be NULL) set to the 1-based line/byte column; or
 * the code of a constructor that failed (EVE_ENOSPC...).  *err is zeroed
 * on success. */
EVE_API int eve_read_edn(eve_txn *t, const char *text, size_t n, eve_val *out,
                 eve_parse_error *err);
/* Read JSON (RFC 8259) with the same rules: objects become maps with
 * string keys (a repeated key: the last wins), arrays vectors; numbers
 * without '.', 'e' or 'E' that fit int64 become ints, other numbers floats
 * (a number beyond the double range is EVE_EPARSE). */
EVE_API int eve_read_json(eve_txn *t, const char *text, size_t n, eve_val *out,
                  eve_parse_error *err);

/* Print v on one line into a NUL-terminated buffer from malloc; free it
 * with eve_free().  *len (may be NULL) excludes the NUL.  Floats print in
 * the shortest form that reads back bit-exactly.
 * EDN: #inst "1985-04-12T23:20:50.520-00:00", #eve/bytes "base64"; the
 * output reads back equal unless a symbol/keyword text is not valid EDN
 * (or a symbol is nil/true/false).
 * JSON: keywords and symbols print as strings of their text (no ':'),
 * characters as one-character strings, uuids, insts (RFC 3339, "Z") and
 * bytes (base64) as strings, sets and lists as arrays; map keys that are
 * strings, keywords or symbols as their text, other keys as their EDN text.
 * NaN and infinities are EVE_ETYPE (JSON has none).  A value that contains
 * itself, or nests deeper than EVE_MAX_NESTING, can only come from a damaged
 * file: EVE_ECORRUPT (sticky in t).  Any transaction.  Errors: EVE_ETYPE
 * (JSON only), EVE_ECORRUPT, EVE_ENOMEM. */
EVE_API int eve_print_edn(eve_txn *t, eve_val v, char **out, size_t *len);
EVE_API int eve_print_json(eve_txn *t, eve_val v, char **out, size_t *len);
/* Free a buffer the printers returned (NULL is fine). */
EVE_API void eve_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* EVE_H */
