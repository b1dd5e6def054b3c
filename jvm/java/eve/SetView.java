package eve;

import clojure.lang.APersistentMap;
import clojure.lang.APersistentSet;
import clojure.lang.ArraySeq;
import clojure.lang.IMapEntry;
import clojure.lang.IPersistentCollection;
import clojure.lang.IPersistentMap;
import clojure.lang.IPersistentSet;
import clojure.lang.ISeq;
import clojure.lang.MapEntry;
import clojure.lang.PersistentHashSet;
import java.util.Arrays;
import java.util.Iterator;

/** An eve set read in place: a Clojure persistent set (IPersistentSet,
 *  java.util.Set, IFn, IHashEq), equal to and hashing like the Clojure set
 *  with the same elements.  conj and disj return Clojure sets outside a
 *  swap, eve sets built in the domain inside one. */
public final class SetView extends APersistentSet implements View, clojure.lang.IObj {
  private static final long serialVersionUID = 1L;
  final transient Ctx ctx;
  final long w;

  SetView(Ctx ctx, long w) {
    super(new Elements(ctx, w));
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

  IPersistentSet copy() { return PersistentHashSet.create(itemsArray()); }

  @Override
  public IPersistentSet disjoin(Object key) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        long k;
        try {
          k = Conv.toEve(ctx, t, key, ((Ctx.Scope) ctx).keep);
        } catch (clojure.lang.ExceptionInfo e) {
          return this;
        }
        return new SetView(ctx, Native.setDisj(t, w, k));
      }
    }
    return copy().disjoin(key);
  }

  @Override
  public IPersistentCollection cons(Object o) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        return new SetView(ctx, Native.setConj(t, w, Conv.toEve(ctx, t, o, ((Ctx.Scope) ctx).keep)));
      }
    }
    return copy().cons(o);
  }

  @Override
  public IPersistentCollection empty() {
    if (ctx.writable()) return new SetView(ctx, Native.V_EMPTY_SET);
    return PersistentHashSet.EMPTY;
  }

  @Override
  public Iterator iterator() { return Arrays.asList(itemsArray()).iterator(); }

  @Override
  public ISeq seq() {
    Object[] xs = itemsArray();
    return xs.length == 0 ? null : ArraySeq.create(xs);
  }

  /** The map APersistentSet delegates to: each element maps to itself. */
  static final class Elements extends APersistentMap {
    private static final long serialVersionUID = 1L;
    final transient Ctx ctx;
    final long w;

    Elements(Ctx ctx, long w) {
      this.ctx = ctx;
      this.w = w;
    }

    @Override
    public int count() {
      synchronized (ctx.lock()) { return (int) Native.count(ctx.txn(), w); }
    }

    @Override
    public boolean containsKey(Object key) { return Conv.lookup(ctx, w, false, key, Conv.NF) != Conv.NF; }

    @Override
    public IMapEntry entryAt(Object key) { return containsKey(key) ? MapEntry.create(key, key) : null; }

    @Override
    public Object valAt(Object key) { return Conv.lookup(ctx, w, false, key, null); }

    @Override
    public Object valAt(Object key, Object notFound) { return Conv.lookup(ctx, w, false, key, notFound); }

    @Override
    public IPersistentMap assoc(Object key, Object val) { throw new UnsupportedOperationException(); }

    @Override
    public IPersistentMap assocEx(Object key, Object val) { throw new UnsupportedOperationException(); }

    @Override
    public IPersistentMap without(Object key) { throw new UnsupportedOperationException(); }

    @Override
    public IPersistentCollection empty() { throw new UnsupportedOperationException(); }

    private Object[] elements() {
      synchronized (ctx.lock()) { return Native.items(ctx, ctx.txn(), w, false); }
    }

    @Override
    public Iterator iterator() {
      Object[] xs = elements();
      return Arrays.stream(xs).map(x -> (Object) MapEntry.create(x, x)).iterator();
    }

    @Override
    public ISeq seq() {
      Object[] xs = elements();
      if (xs.length == 0) return null;
      Object[] es = new Object[xs.length];
      for (int i = 0; i < xs.length; i++) es[i] = MapEntry.create(xs[i], xs[i]);
      return ArraySeq.create(es);
    }
  }
}
