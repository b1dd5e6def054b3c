package eve;

import clojure.lang.APersistentMap;
import clojure.lang.IMapEntry;
import clojure.lang.IPersistentCollection;
import clojure.lang.IPersistentMap;
import clojure.lang.ISeq;
import clojure.lang.MapEntry;
import clojure.lang.PersistentArrayMap;
import clojure.lang.PersistentHashMap;
import clojure.lang.RT;
import clojure.lang.Util;
import java.util.ArrayList;
import java.util.Iterator;

/** An eve map read in place: a Clojure persistent map (IPersistentMap,
 *  java.util.Map, IFn, IHashEq), equal to and hashing like the Clojure map
 *  with the same entries.  Updates (assoc, dissoc, conj) return Clojure
 *  maps outside a swap, eve maps built in the domain inside one. */
public final class MapView extends APersistentMap implements View, clojure.lang.IObj {
  private static final long serialVersionUID = 1L;
  final transient Ctx ctx;
  final long w;

  MapView(Ctx ctx, long w) {
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
    synchronized (ctx.lock()) { return Native.items(ctx, ctx.txn(), w, true); }
  }

  @Override
  public int count() {
    synchronized (ctx.lock()) { return (int) Native.count(ctx.txn(), w); }
  }

  @Override
  public boolean containsKey(Object key) { return Conv.lookup(ctx, w, true, key, Conv.NF) != Conv.NF; }

  @Override
  public IMapEntry entryAt(Object key) {
    Object v = Conv.lookup(ctx, w, true, key, Conv.NF);
    return v == Conv.NF ? null : MapEntry.create(key, v);
  }

  @Override
  public Object valAt(Object key) { return Conv.lookup(ctx, w, true, key, null); }

  @Override
  public Object valAt(Object key, Object notFound) { return Conv.lookup(ctx, w, true, key, notFound); }

  /** Plain Clojure map of the entries (values stay views: shallow). */
  IPersistentMap copy() {
    Object[] kv = itemsArray();
    return kv.length <= 16 ? PersistentArrayMap.createAsIfByAssoc(kv) : PersistentHashMap.create(kv);
  }

  @Override
  public IPersistentMap assoc(Object key, Object val) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        Ctx.Scope sc = (Ctx.Scope) ctx;
        return new MapView(ctx, Native.mapAssoc(t, w, Conv.toEve(ctx, t, key, sc.keep), Conv.toEve(ctx, t, val, sc.keep)));
      }
    }
    return copy().assoc(key, val);
  }

  @Override
  public IPersistentMap assocEx(Object key, Object val) {
    if (containsKey(key)) throw Util.runtimeException("Key already present");
    return assoc(key, val);
  }

  @Override
  public IPersistentMap without(Object key) {
    if (ctx.writable()) {
      synchronized (ctx.lock()) {
        long t = ctx.txn();
        long k;
        try {
          k = Conv.toEve(ctx, t, key, ((Ctx.Scope) ctx).keep);
        } catch (clojure.lang.ExceptionInfo e) {
          return this; // a key eve cannot hold is not in the map
        }
        return new MapView(ctx, Native.mapDissoc(t, w, k));
      }
    }
    return copy().without(key);
  }

  @Override
  public IPersistentCollection empty() {
    if (ctx.writable()) return new MapView(ctx, Native.V_EMPTY_MAP);
    return PersistentArrayMap.EMPTY;
  }

  @Override
  public Iterator iterator() {
    Object[] kv = itemsArray();
    return new Iterator<Object>() {
      int i = 0;
      @Override public boolean hasNext() { return i < kv.length; }
      @Override public Object next() {
        if (i >= kv.length) throw new java.util.NoSuchElementException();
        MapEntry e = MapEntry.create(kv[i], kv[i + 1]);
        i += 2;
        return e;
      }
    };
  }

  @Override
  public ISeq seq() {
    Object[] kv = itemsArray();
    if (kv.length == 0) return null;
    ArrayList<Object> es = new ArrayList<>(kv.length / 2);
    for (int i = 0; i < kv.length; i += 2) es.add(MapEntry.create(kv[i], kv[i + 1]));
    return RT.seq(es);
  }
}
