package eve;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** A named root of a domain: every process that opens the domain and names
 *  the atom shares it.  Thread-safe.  Values read (deref, swap, ...) are
 *  Java objects for scalars and {@link View}s for collections. */
public final class Atom {
  final Domain dom;
  final long a;
  final String name;

  Atom(Domain dom, long a, String name) {
    this.dom = dom;
    this.a = a;
    this.name = name;
    Ctx.CLEANER.register(this, new Closer(a)); // the handle is freed with the Atom
  }

  private static final class Closer implements Runnable {
    final long a;
    Closer(long a) { this.a = a; }
    @Override public void run() { Native.atomClose(a); }
  }

  public String name() { return name; }

  public Domain domain() { return dom; }

  // ---- reentry: a swap function must not change its own atom ----------------

  private static final ThreadLocal<List<Atom>> SWAPPING = ThreadLocal.withInitial(ArrayList::new);

  private void checkReentry() {
    for (Atom o : SWAPPING.get())
      if (o.dom == dom && o.name.equals(name))
        throw new EveException("EVE_EREENTRY", -26, "EVE_EREENTRY: a swap function tried to change its own atom " + name);
  }

  // ---- reading ---------------------------------------------------------------

  /** The current value: a view for a collection (valid as long as it is
   *  kept, or until closed), a Java object for a scalar. */
  public Object deref() { return derefWord(null); }

  /** deref, with the value's word into word[0] (if word is not null). */
  Object derefWord(long[] word) {
    dom.enter();
    try {
      Ctx.Snap s = dom.snapshot();
      try {
        long t = s.st.t;
        long w = Native.deref(t, a);
        if (word != null) word[0] = w;
        return Native.get(s, t, w);
      } finally {
        s.releaseUnlessAttached();
      }
    } finally {
      dom.leave();
    }
  }

  /** A counter bumped by every change of the atom, in any process. */
  public long version() {
    dom.enter();
    try {
      return Native.version(a);
    } finally {
      dom.leave();
    }
  }

  /** Block until the version differs from seen, and return the new version;
   *  -1 after timeoutMs (negative: wait forever).  Interruptible between
   *  200 ms slices. */
  public long await(long seen, long timeoutMs) throws InterruptedException {
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() / 1_000_000 + timeoutMs;
    for (;;) {
      long left = deadline == Long.MAX_VALUE ? 200 : Math.min(200, deadline - System.nanoTime() / 1_000_000);
      if (left < 0) left = 0;
      long now;
      dom.enter();
      try {
        now = Native.await(a, seen, left);
      } finally {
        dom.leave();
      }
      if (now != -1) return now;
      if (Thread.interrupted()) throw new InterruptedException();
      if (deadline != Long.MAX_VALUE && System.nanoTime() / 1_000_000 >= deadline) return -1;
    }
  }

  // ---- changing ---------------------------------------------------------------

  /** Atomically replace the value v with f(v), retrying on conflict (f may
   *  run more than once: no side effects).  f gets the value as a view of
   *  the attempt (its assoc/conj/... build eve values) and may return any
   *  convertible value.  An exception from f aborts the swap (nothing is
   *  published) and propagates.  Returns the value published. */
  public Object swap(Function<Object, Object> f) { return swapImpl(f, false)[1]; }

  /** As swap; returns {old, new}: the value f was given on the attempt that
   *  won, and the value published. */
  public Object[] swapVals(Function<Object, Object> f) { return swapImpl(f, true); }

  private Object[] swapImpl(Function<Object, Object> f, boolean vals) {
    checkReentry();
    List<Atom> swapping = SWAPPING.get();
    swapping.add(this);
    List<Object> keep = new ArrayList<>();
    dom.enter();
    try {
      Ctx.Snap s = dom.snapshot();
      try {
        long w = Native.txnBegin(dom.handle(), Native.TXN_WRITE);
        try {
          long[] old = new long[1];
          Native.SwapFn fn = (t, o) -> {
            Ctx.Scope sc = new Ctx.Scope(dom, t, keep);
            try {
              Object nv = f.apply(Native.get(sc, t, o));
              return Conv.toEve(sc, t, nv, keep);
            } finally {
              sc.close();
            }
          };
          long nw = Native.swap(w, a, fn, old);
          long st = s.st.t;
          Object ov = vals ? Native.get(s, st, old[0]) : null;
          return new Object[] {ov, Native.get(s, st, nw)};
        } finally {
          Native.txnEnd(w);
        }
      } finally {
        s.releaseUnlessAttached();
      }
    } finally {
      dom.leave();
      Reference.reachabilityFence(keep);
      swapping.remove(swapping.size() - 1);
    }
  }

  /** Set the value (a view or any convertible value). */
  public void reset(Object v) {
    checkReentry();
    List<Object> keep = new ArrayList<>();
    dom.enter();
    try {
      long w = Native.txnBegin(dom.handle(), Native.TXN_WRITE);
      try {
        Ctx.Scope sc = new Ctx.Scope(dom, w, keep);
        long x = Conv.toEve(sc, w, v, keep);
        Native.reset(w, a, x);
        sc.close();
      } finally {
        Native.txnEnd(w);
      }
    } finally {
      dom.leave();
      Reference.reachabilityFence(keep);
    }
  }

  /** Set the value to nv only if the atom still holds expected, and say
   *  whether it did.  As in Clojure, "holds" is identity: expected must be
   *  the value read by deref or swap (a view), or an immediate (nil, a
   *  boolean, a small integer, a short string or keyword...). */
  public boolean compareAndSet(Object expected, Object nv) {
    checkReentry();
    List<Object> keep = new ArrayList<>();
    dom.enter();
    try {
      long w = Native.txnBegin(dom.handle(), Native.TXN_WRITE);
      try {
        Ctx.Scope sc = new Ctx.Scope(dom, w, keep);
        long o = Conv.toEve(sc, w, expected, keep);
        long n = Conv.toEve(sc, w, nv, keep);
        boolean ok = Native.cas(w, a, o, n);
        sc.close();
        return ok;
      } finally {
        Native.txnEnd(w);
      }
    } finally {
      dom.leave();
      Reference.reachabilityFence(keep);
    }
  }

  @Override
  public String toString() { return "#eve/atom " + name; }
}
