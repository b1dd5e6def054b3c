package eve;

import clojure.lang.APersistentVector;
import clojure.lang.ArraySeq;
import clojure.lang.IPersistentCollection;
import clojure.lang.IPersistentStack;
import clojure.lang.IPersistentVector;
import clojure.lang.ISeq;
import clojure.lang.PersistentVector;
import java.util.Arrays;
import java.util.Iterator;

/** An eve vector read in place: a Clojure persistent vector (IPersistentVector,
 *  java.util.List, IFn, IHashEq), equal to and hashing like the Clojure
 *  vector with the same elements.  conj, assoc, pop return Clojure vectors
 *  outside a swap, eve vectors built in the domain inside one. */
public final class VecView extends APersistentVector implements View, clojure.lang.IObj {
  private static final long serialVersionUID = 1L;
  final transient Ctx ctx;
  final long w;

  VecView(Ctx ctx, long w) {
    this.ctx = ctx;
    this.w = w;
  }

  @Override public Ctx ctx() { return ctx; }
  @Override public long word() { return w; }
  @Override public void close() { ctx.close(); }

  @Override
  public boolean isOpen() {
    try {
      synchronized (ctx.lock()) { ctx.txn(); }
      return true;
    } catch (EveException e) {
      return false;
    }
  }

  @Override public Object toClojure() { return Conv.toClojure(this); }

  /** Views carry no metadata. */
  @Override public clojure.lang.IPersistentMap meta() { return null; }

  /** A plain Clojure copy (shallow) with the metadata: views are read-only. */
  @Override
  public clojure.lang.IObj withMeta(clojure.lang.IPersistentMap meta) {
    return ((clojure.lang.IObj) copy()).withMeta(meta);
  }

  @Override
  public String toEdn() {
    synchronized (ctx.lock()) { return Native.printEdn(ctx.txn(), w); }
  }

  Object[] itemsArray() {
    synchronized (ctx.lock()) { return Native.items(ctx, ctx.txn(), w, false); }
  }

  @Override
  public int count() {
    synchronized (ctx.lock()) { return (int) Native.count(ctx.txn(), w); }
  }

  @Override
  public Object nth(int i) {
    synchronized (ctx.lock()) {
      long t = ctx.txn();
      if (i < 0 || i >= Native.count(t, w)) throw new IndexOutOfBoundsException();
      return Native.vecNth(ctx, t, w, i);
    }
  }

  IPersistentVector copy() { return PersistentVector.create(Arrays.asList(itemsArray())); }

  @Override
  public IPersistentVector cons(Object o) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        return new VecView(ctx, Native.vecConj(t, w, Conv.toEve(ctx, t, o, ((Ctx.Scope) ctx).keep)));
      }
    }
    return copy().cons(o);
  }

  @Override
  public IPersistentVector assocN(int i, Object val) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        if (i < 0 || i > Native.count(t, w)) throw new IndexOutOfBoundsException();
        return new VecView(ctx, Native.vecAssoc(t, w, i, Conv.toEve(ctx, t, val, ((Ctx.Scope) ctx).keep)));
      }
    }
    return copy().assocN(i, val);
  }

  @Override
  public IPersistentStack pop() {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        if (Native.count(t, w) == 0) throw new IllegalStateException("Can't pop empty vector");
        return new VecView(ctx, Native.vecPop(t, w));
      }
    }
    return copy().pop();
  }

  @Override
  public IPersistentCollection empty() {
    if (ctx.writable()) return new VecView(ctx, Native.V_EMPTY_VECTOR);
    return PersistentVector.EMPTY;
  }

  @Override
  public Iterator iterator() { return Arrays.asList(itemsArray()).iterator(); }

  @Override
  public ISeq seq() {
    Object[] xs = itemsArray();
    return xs.length == 0 ? null : ArraySeq.create(xs);
  }
}
