package eve;

import clojure.lang.ARef;
import clojure.lang.IAtom2;
import clojure.lang.IFn;
import clojure.lang.IPersistentMap;
import clojure.lang.IPersistentVector;
import clojure.lang.IRef;
import clojure.lang.ISeq;
import clojure.lang.RT;
import clojure.lang.Util;
import java.util.function.Function;

/** A Clojure atom on an eve atom: clojure.lang.IAtom2, IDeref and IRef, so
 *  swap!, swap-vals!, reset!, reset-vals!, compare-and-set!, add-watch,
 *  set-validator! and deref work unchanged; the value lives in the domain,
 *  shared with every thread and process that opens it.
 *
 *  Watches fire after each change by any process, from a watcher thread
 *  of this object blocked in eve_wait (started by the first add-watch,
 *  ended when the last watch is removed).  A change made through this
 *  object returns only once its watches have been called for it, so a
 *  sequence of changes made here is seen change by change; changes made
 *  elsewhere in quick succession may be seen merged (old and new are the
 *  values the watcher read).  Validators run on every new value before it
 *  is published (inside the swap attempt): a value they refuse aborts the
 *  change with IllegalStateException "Invalid reference state". */
public final class EveAtom extends ARef implements IAtom2 {
  final Atom atom;
  private Thread watcher;              // guarded by this
  private final Object mon = new Object();
  private long processed = -1;         // guarded by mon: the last version notified

  public EveAtom(Atom atom, IPersistentMap meta) {
    super(meta);
    this.atom = atom;
  }

  public EveAtom(Atom atom) { this(atom, null); }

  public Atom atom() { return atom; }

  public Domain domain() { return atom.dom; }

  public long version() { return atom.version(); }

  @Override
  public Object deref() { return atom.deref(); }

  private Object validated(Object v) {
    IFn vf = getValidator();
    if (vf == null) return v;
    boolean ok;
    try {
      ok = RT.booleanCast(vf.invoke(v));
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException("Invalid reference state", e);
    }
    if (!ok) throw new IllegalStateException("Invalid reference state");
    return v;
  }

  private Object[] change(Function<Object, Object> f) {
    Object[] r = atom.swapVals(x -> validated(f.apply(x)));
    afterChange();
    return r;
  }

  @Override public Object swap(IFn f) { return change(x -> f.invoke(x))[1]; }
  @Override public Object swap(IFn f, Object a) { return change(x -> f.invoke(x, a))[1]; }
  @Override public Object swap(IFn f, Object a, Object b) { return change(x -> f.invoke(x, a, b))[1]; }
  @Override public Object swap(IFn f, Object a, Object b, ISeq args) {
    return change(x -> f.applyTo(RT.listStar(x, a, b, args)))[1];
  }

  private static IPersistentVector pair(Object[] r) { return RT.vector(r[0], r[1]); }

  @Override public IPersistentVector swapVals(IFn f) { return pair(change(x -> f.invoke(x))); }
  @Override public IPersistentVector swapVals(IFn f, Object a) { return pair(change(x -> f.invoke(x, a))); }
  @Override public IPersistentVector swapVals(IFn f, Object a, Object b) {
    return pair(change(x -> f.invoke(x, a, b)));
  }
  @Override public IPersistentVector swapVals(IFn f, Object a, Object b, ISeq args) {
    return pair(change(x -> f.applyTo(RT.listStar(x, a, b, args))));
  }

  @Override
  public boolean compareAndSet(Object oldv, Object newv) {
    validated(newv);
    boolean ok = atom.compareAndSet(oldv, newv);
    if (ok) afterChange();
    return ok;
  }

  @Override
  public Object reset(Object newv) {
    validated(newv);
    atom.reset(newv);
    afterChange();
    return newv;
  }

  @Override
  public IPersistentVector resetVals(Object newv) { return pair(change(x -> newv)); }

  // ---- watches -------------------------------------------------------------------

  @Override
  public synchronized IRef addWatch(Object key, IFn callback) {
    super.addWatch(key, callback);
    if (watcher == null) {
      synchronized (mon) { processed = -1; }
      Thread th = new Thread(this::watchLoop, "eve-watch " + atom.name);
      th.setDaemon(true);
      watcher = th;
      th.start();
      // changes made after add-watch returns are all seen
      synchronized (mon) {
        while (processed < 0 && th.isAlive()) {
          try {
            mon.wait(100);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            break;
          }
        }
      }
    }
    return this;
  }

  /** After a change made here: wait until the watcher has notified it. */
  private void afterChange() {
    Thread th;
    synchronized (this) { th = watcher; }
    if (th == null || th == Thread.currentThread()) return;
    long v = atom.version();
    synchronized (mon) {
      while (processed < v && th.isAlive()) {
        try {
          mon.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** A version and the value it had (read again if the atom moved meanwhile). */
  private Object stableRead(long[] version, long[] word) {
    for (;;) {
      long v1 = atom.version();
      Object val = atom.derefWord(word);
      if (atom.version() == v1) {
        version[0] = v1;
        return val;
      }
    }
  }

  private void watchLoop() {
    long[] ver = new long[1], word = new long[1];
    Object prev;
    long prevWord;
    try {
      prev = stableRead(ver, word);
      prevWord = word[0];
    } catch (RuntimeException e) {
      synchronized (this) { watcher = null; }
      synchronized (mon) { processed = Long.MAX_VALUE; mon.notifyAll(); }
      return;
    }
    long seen = ver[0];
    synchronized (mon) {
      processed = seen;
      mon.notifyAll();
    }
    try {
      for (;;) {
        synchronized (this) {
          if (getWatches().count() == 0) {
            watcher = null;
            return;
          }
        }
        long now = atom.await(seen, 200);
        if (now == -1) continue;
        Object val = stableRead(ver, word);
        if (!(word[0] == prevWord && Util.equiv(val, prev))) {
          try {
            notifyWatches(prev, val);
          } catch (RuntimeException e) {
            System.err.println("eve: a watch of " + atom.name + " threw: " + e);
          }
        }
        prev = val;
        prevWord = word[0];
        seen = ver[0];
        synchronized (mon) {
          processed = seen;
          mon.notifyAll();
        }
      }
    } catch (InterruptedException | RuntimeException e) {
      // the domain closed or the atom was removed: no more changes to watch
    } finally {
      synchronized (this) { if (watcher == Thread.currentThread()) watcher = null; }
      synchronized (mon) { mon.notifyAll(); }
    }
  }

  @Override
  public String toString() { return "#eve/atom " + atom.name; }
}
