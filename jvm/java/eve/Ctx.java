package eve;

import java.lang.ref.Cleaner;

/** Where a view's values are read: a snapshot (a view outside a swap) or
 *  the write transaction of one swap attempt (a view given to a swap
 *  function).  Every read takes the context's lock: an eve transaction is
 *  used by one thread at a time. */
abstract class Ctx {
  final Domain dom;

  Ctx(Domain dom) { this.dom = dom; }

  /** The lock a read holds while it uses {@link #txn()}. */
  abstract Object lock();

  /** The open transaction; throws when the context ended. Call under lock(). */
  abstract long txn();

  /** Whether values may be built here (a swap attempt). */
  abstract boolean writable();

  /** Called when a view of this context is made. */
  void attach() {}

  /** End the context (a snapshot: its reference; idempotent). */
  abstract void close();

  static final Cleaner CLEANER = Cleaner.create();

  /** The native side of a snapshot: what the Cleaner ends.  It must not
   *  refer to its Snap. */
  static final class State implements Runnable {
    final Domain dom;
    volatile long t; // written under this; 0 once ended

    State(Domain dom, long t) {
      this.dom = dom;
      this.t = t;
    }

    @Override
    public void run() {
      long end;
      synchronized (this) {
        end = t;
        t = 0;
        if (end != 0) Native.txnEnd(end);
      }
      if (end != 0) dom.forget(this);
    }
  }

  /** A snapshot (EVE_TXN_SNAPSHOT): lives as long as any view made in it
   *  (java.lang.ref.Cleaner), or until closed. */
  static final class Snap extends Ctx {
    final State st;
    private Cleaner.Cleanable cleanable; // guarded by st

    Snap(Domain dom, long t) {
      super(dom);
      this.st = new State(dom, t);
      dom.remember(st);
    }

    @Override
    Object lock() { return st; }

    @Override
    long txn() {
      long t = st.t;
      if (t == 0) {
        if (dom.isClosed()) throw EveException.closed();
        throw EveException.txn("the value was closed (its snapshot ended)");
      }
      return t;
    }

    @Override
    boolean writable() { return false; }

    @Override
    void attach() {
      synchronized (st) {
        if (cleanable == null) cleanable = CLEANER.register(this, st);
      }
    }

    /** End the snapshot now if no view was made in it. */
    void releaseUnlessAttached() {
      boolean attached;
      synchronized (st) { attached = cleanable != null; }
      if (!attached) st.run();
    }

    @Override
    void close() {
      Cleaner.Cleanable c;
      synchronized (st) { c = cleanable; }
      if (c != null) c.clean();
      else st.run();
    }
  }

  /** One swap attempt's write transaction: valid while the swap function runs. */
  static final class Scope extends Ctx {
    private long t;
    final java.util.List<Object> keep; // snapshot views whose words the attempt used

    Scope(Domain dom, long t, java.util.List<Object> keep) {
      super(dom);
      this.t = t;
      this.keep = keep;
    }

    @Override
    Object lock() { return this; }

    @Override
    long txn() {
      if (t == 0) throw EveException.txn("a value of a finished swap attempt was used");
      return t;
    }

    @Override
    boolean writable() { return t != 0; }

    @Override
    void close() { synchronized (this) { t = 0; } }
  }
}
