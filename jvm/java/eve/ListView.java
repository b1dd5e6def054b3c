package eve;

import clojure.lang.ASeq;
import clojure.lang.Counted;
import clojure.lang.IPersistentCollection;
import clojure.lang.IPersistentList;
import clojure.lang.IPersistentMap;
import clojure.lang.IPersistentStack;
import clojure.lang.ISeq;
import clojure.lang.Obj;
import clojure.lang.PersistentList;
import java.util.Arrays;

/** A non-empty eve list read in place: a Clojure seq and list (ISeq,
 *  IPersistentList, java.util.List, Counted), equal to and hashing like
 *  the Clojure list with the same elements.  (The empty eve list reads as
 *  PersistentList/EMPTY.)  conj returns a Clojure seq outside a swap, an
 *  eve list built in the domain inside one. */
public final class ListView extends ASeq implements IPersistentList, IPersistentStack, Counted, View {
  private static final long serialVersionUID = 1L;
  final transient Ctx ctx;
  final long w;

  ListView(Ctx ctx, long w) {
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

  @Override
  public String toEdn() {
    synchronized (ctx.lock()) { return Native.printEdn(ctx.txn(), w); }
  }

  Object[] itemsArray() {
    synchronized (ctx.lock()) { return Native.items(ctx, ctx.txn(), w, false); }
  }

  @Override
  public Object first() {
    synchronized (ctx.lock()) { return Native.listFirst(ctx, ctx.txn(), w); }
  }

  @Override
  public ISeq next() {
    synchronized (ctx.lock()) {
      long rest = Native.listRest(ctx.txn(), w);
      return rest == Native.V_EMPTY_LIST ? null : new ListView(ctx, rest);
    }
  }

  @Override
  public ISeq more() {
    ISeq n = next();
    return n == null ? PersistentList.EMPTY : n;
  }

  @Override
  public int count() {
    synchronized (ctx.lock()) { return (int) Native.count(ctx.txn(), w); }
  }

  @Override
  public ISeq cons(Object o) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        return new ListView(ctx, Native.listCons(t, Conv.toEve(ctx, t, o, ((Ctx.Scope) ctx).keep), w));
      }
    }
    return super.cons(o);
  }

  @Override
  public Object peek() { return first(); }

  @Override
  public IPersistentStack pop() {
    ISeq n = next();
    return n == null ? PersistentList.EMPTY : (IPersistentStack) n;
  }

  @Override
  public IPersistentCollection empty() { return PersistentList.EMPTY; }

  @Override
  public Obj withMeta(IPersistentMap meta) {
    return (Obj) ((PersistentList) PersistentList.create(Arrays.asList(itemsArray()))).withMeta(meta);
  }
}
