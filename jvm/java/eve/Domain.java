package eve;

import java.io.File;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/** A domain: one memory-mapped eve file (or an in-memory region) holding
 *  the values of its atoms.  Thread-safe.  {@link #close()} ends every
 *  snapshot its views rest on (they throw {@link EveException} from then
 *  on) and unmaps the file. */
public final class Domain implements AutoCloseable {
  /** Open modes (eve_options.flags), and RDONLY to or in: map read-only,
   *  for a domain nobody is changing (a copy, an inspection); writes throw
   *  EVE_ETXN. */
  public static final int CREATE = 0, EXISTING = 1, NEW = 2, RDONLY = 4;
  /** The default address range reserved: 1 GiB. */
  public static final long DEFAULT_MAX_SIZE = 1L << 30;

  private final long d;
  private final String path;
  private volatile boolean closed;
  // every operation holds the read lock; close() the write lock
  private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
  private final Set<Ctx.State> live = ConcurrentHashMap.newKeySet();

  private Domain(long d, String path) {
    this.d = d;
    this.path = path;
  }

  /** Open (or create) the domain file at path, max size 1 GiB. */
  public static Domain open(String path) { return open(path, CREATE, DEFAULT_MAX_SIZE); }

  /** Open the domain file at path with a mode (CREATE, EXISTING, NEW, or'ed
   *  with RDONLY) and
   *  max size (fixed when the file is created; 0 is eve's default, 1 TiB). */
  public static Domain open(String path, int mode, long maxSize) {
    if (path == null) throw new IllegalArgumentException("path is null (use Domain.memory())");
    return new Domain(Native.open(Conv.utf8(path), mode, maxSize, 0), path);
  }

  /** A new in-memory domain (shared by the threads of this process). */
  public static Domain memory() { return memory(DEFAULT_MAX_SIZE); }

  public static Domain memory(long maxSize) { return new Domain(Native.open(null, 0, maxSize, 0), null); }

  private static final Map<String, Domain> SHARED = new ConcurrentHashMap<>();
  private static volatile Domain sharedMemory;

  /** The process-wide handle on the domain file at path (opened once, kept
   *  open; the one eve.core atoms with :persistent use). */
  public static Domain shared(String path) {
    String key;
    try {
      key = new File(path).getCanonicalPath();
    } catch (IOException e) {
      key = new File(path).getAbsolutePath();
    }
    synchronized (SHARED) {
      Domain dom = SHARED.get(key);
      if (dom == null || dom.closed) {
        dom = open(path);
        SHARED.put(key, dom);
      }
      return dom;
    }
  }

  /** The process-wide in-memory domain (eve.core atoms without :persistent). */
  public static Domain sharedMemory() {
    synchronized (SHARED) {
      if (sharedMemory == null || sharedMemory.closed) sharedMemory = memory();
      return sharedMemory;
    }
  }

  /** The file's path, or null for an in-memory domain. */
  public String path() { return path; }

  public boolean isClosed() { return closed; }

  /** The atom called name, created (holding nil) if absent. */
  public Atom atom(String name) { return atom(name, true); }

  /** The atom called name; without create, EveException EVE_ENOTFOUND if absent. */
  public Atom atom(String name, boolean create) {
    byte[] n = Conv.utf8(name);
    enter();
    try {
      return new Atom(this, Native.atomOpen(d, n, create), name);
    } finally {
      leave();
    }
  }

  /** Remove the atom; its handles throw EVE_EREMOVED from then on. */
  public void removeAtom(String name) {
    byte[] n = Conv.utf8(name);
    enter();
    try {
      Native.atomRemove(d, n);
    } finally {
      leave();
    }
  }

  /** The names of the atoms, sorted. */
  public String[] atomNames() {
    enter();
    try {
      String[] names = Native.atomNames(d);
      // sorted by UTF-8 bytes, as eve_atom_names sorts them
      java.util.Arrays.sort(names, (x, y) -> java.util.Arrays.compareUnsigned(Conv.utf8(x), Conv.utf8(y)));
      return names;
    } finally {
      leave();
    }
  }

  /** Space and readers: live_bytes, free_bytes, retired_bytes, atoms,
   *  readers, snapshots, file_bytes, disk_bytes. */
  public Map<String, Long> stats() {
    long[] s;
    enter();
    try {
      s = Native.stats(d);
    } finally {
      leave();
    }
    Map<String, Long> m = new java.util.LinkedHashMap<>();
    String[] names = {"file_bytes", "live_bytes", "free_bytes", "retired_bytes", "atoms", "readers",
                      "snapshots", "disk_bytes"};
    for (int i = 0; i < names.length; i++) m.put(names[i], s[i]);
    return m;
  }

  /** Verify the whole domain (eve_check): the number of problems found. */
  public long check() {
    enter();
    try {
      return Native.check(d);
    } finally {
      leave();
    }
  }

  /** Close: end the snapshots of every view still alive (reading them then
   *  throws EveException), and unmap.  Idempotent. */
  @Override
  public void close() {
    rw.writeLock().lock();
    try {
      if (closed) return;
      closed = true;
      for (Ctx.State st : live.toArray(new Ctx.State[0])) st.run();
      // a snapshot's end may still be running in the Cleaner's thread:
      // eve_close says EVE_EBUSY meanwhile
      for (int i = 0;; i++) {
        int rc = Native.close(d);
        if (rc == 0) return;
        if (i > 2000) throw new EveException("EVE_EBUSY", rc, "close: EVE_EBUSY: the domain stays busy");
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    } finally {
      rw.writeLock().unlock();
    }
  }

  // ---- internal ------------------------------------------------------------

  long handle() { return d; }

  /** Begin an operation on the handle: throws once closed.  Pair with leave(). */
  void enter() {
    rw.readLock().lock();
    if (closed) {
      rw.readLock().unlock();
      throw EveException.closed();
    }
  }

  void leave() { rw.readLock().unlock(); }

  void remember(Ctx.State st) { live.add(st); }

  void forget(Ctx.State st) { live.remove(st); }

  /** A snapshot of the domain (call between enter() and leave()). */
  Ctx.Snap snapshot() { return new Ctx.Snap(this, Native.txnBegin(d, Native.TXN_SNAPSHOT)); }

  @Override
  public String toString() { return "#eve/domain " + (path == null ? "(memory)" : path); }
}
