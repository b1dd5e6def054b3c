package eve;

import clojure.lang.BigInt;
import clojure.lang.ExceptionInfo;
import clojure.lang.IPersistentList;
import clojure.lang.IPersistentVector;
import clojure.lang.IRecord;
import clojure.lang.ISeq;
import clojure.lang.Keyword;
import clojure.lang.PersistentArrayMap;
import clojure.lang.PersistentHashMap;
import clojure.lang.PersistentHashSet;
import clojure.lang.PersistentList;
import clojure.lang.PersistentVector;
import clojure.lang.RT;
import clojure.lang.Sequential;
import clojure.lang.Symbol;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Conversions between eve values and Java/Clojure objects.
 *
 *  eve -> Java (Native.get calls the static helpers here): nil, booleans,
 *  Long, Double, Character, String, Keyword, Symbol, java.util.UUID,
 *  java.util.Date (#inst), byte[]; maps, vectors, sets and lists as views.
 *
 *  Java -> eve ({@link #toEve}): the same, plus Integer/Short/Byte,
 *  Float, BigInt/BigInteger that fit in 64 bits, java.time.Instant,
 *  any java.util.Map, Set and List, and seqs (as lists).  Anything else
 *  throws an ex-info (clojure.lang.ExceptionInfo) naming the type. */
final class Conv {
  private Conv() {}

  static final Object NF = new Object();

  // ---- eve -> Java (called from C) ----------------------------------------

  static String str(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

  static Object kw(byte[] b) { return Keyword.intern(str(b)); }

  static Object sym(byte[] b) { return Symbol.intern(str(b)); }

  static Object uuid(long hi, long lo) { return new UUID(hi, lo); }

  static Object inst(long ms) { return new Date(ms); }

  static Object view(Ctx c, int type, long w) {
    switch (type) {
      case Native.MAP:
        c.attach();
        return new MapView(c, w);
      case Native.VECTOR:
        c.attach();
        return new VecView(c, w);
      case Native.SET:
        c.attach();
        return new SetView(c, w);
      case Native.LIST:
        if (w == Native.V_EMPTY_LIST) return PersistentList.EMPTY;
        c.attach();
        return new ListView(c, w);
      default:
        throw new IllegalStateException("not a collection type: " + type);
    }
  }

  static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

  // ---- Java -> eve ----------------------------------------------------------

  static ExceptionInfo tooBig(Object o) {
    String name = o.getClass().getName();
    return new ExceptionInfo("eve cannot store a value of type " + name + " beyond 64 bits: " + o,
        PersistentArrayMap.EMPTY.assoc(Keyword.intern("type"), name));
  }

  static ExceptionInfo unsupported(Object o) {
    String name = o.getClass().getName();
    return new ExceptionInfo("eve cannot store a value of type " + name,
        PersistentArrayMap.EMPTY.assoc(Keyword.intern("type"), name));
  }

  /** o as a word of transaction t (of c's domain).  Snapshot views of the
   *  same domain give their own word (structural sharing); they are added
   *  to keep (if not null), which the caller holds until the commit.  A
   *  read transaction throws EVE_ETXN for a value that needs allocating. */
  static long toEve(Ctx c, long t, Object o, List<Object> keep) {
    try {
      return toEve(c, t, o, keep, 0);
    } catch (StackOverflowError e) {
      // the conversion recurses: a value nested deeper than this thread's
      // stack allows is refused as eve refuses one past its limit
      throw new EveException("EVE_EDEPTH", -15, "EVE_EDEPTH: nesting too deep for this thread's stack");
    }
  }

  /** eve's nesting limit (EVE_MAX_NESTING): deeper values are EVE_EDEPTH,
   *  found here before the Java stack runs out. */
  static final int MAX_NESTING = 4096;

  private static long toEve(Ctx c, long t, Object o, List<Object> keep, int depth) {
    if (o == null) return Native.V_NIL;
    if (depth >= MAX_NESTING && (o instanceof java.util.Collection || o instanceof Map || o instanceof ISeq))
      throw new EveException("EVE_EDEPTH", -15, "EVE_EDEPTH: nesting too deep (past " + MAX_NESTING + ")");
    if (o instanceof View) {
      View v = (View) o;
      Ctx vc = v.ctx();
      if (vc.dom == c.dom) {
        if (vc instanceof Ctx.Scope && vc != c)
          throw EveException.txn("a value of another swap attempt was used");
        if (vc instanceof Ctx.Snap) {
          if (((Ctx.Snap) vc).st.t == 0) vc.txn(); // throws: ended
          if (keep != null) keep.add(v);
        }
        return v.word();
      }
      // a view of another domain: copied below, as the collection it is
    }
    if (o instanceof Boolean) return ((Boolean) o) ? Native.V_TRUE : Native.V_FALSE;
    if (o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte)
      return Native.mkInt(t, ((Number) o).longValue());
    if (o instanceof Double || o instanceof Float) return Native.mkFloat(t, ((Number) o).doubleValue());
    if (o instanceof String) return Native.mkText(t, Native.STRING, utf8((String) o));
    if (o instanceof Keyword) return Native.mkText(t, Native.KEYWORD, utf8(((Keyword) o).sym.toString()));
    if (o instanceof Symbol) return Native.mkText(t, Native.SYMBOL, utf8(o.toString()));
    if (o instanceof Character) return Native.mkChar((Character) o);
    if (o instanceof UUID) {
      UUID u = (UUID) o;
      return Native.mkUuid(t, u.getMostSignificantBits(), u.getLeastSignificantBits());
    }
    if (o instanceof Date) return Native.mkInst(t, ((Date) o).getTime());
    if (o instanceof Instant) return Native.mkInst(t, ((Instant) o).toEpochMilli());
    if (o instanceof byte[]) return Native.mkText(t, Native.BYTES, (byte[]) o);
    if (o instanceof BigInt) {
      BigInt b = (BigInt) o;
      if (b.bipart == null) return Native.mkInt(t, b.lpart);
      throw tooBig(o);
    }
    if (o instanceof BigInteger) {
      BigInteger b = (BigInteger) o;
      if (b.bitLength() < 64) return Native.mkInt(t, b.longValue());
      throw tooBig(o);
    }
    if (o instanceof IRecord) throw unsupported(o);
    if (o instanceof Map) {
      long m = Native.V_EMPTY_MAP;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet())
        m = Native.mapAssoc(t, m, toEve(c, t, e.getKey(), keep, depth + 1), toEve(c, t, e.getValue(), keep, depth + 1));
      return m;
    }
    if (o instanceof Set) {
      long s = Native.V_EMPTY_SET;
      for (Object x : (Set<?>) o) s = Native.setConj(t, s, toEve(c, t, x, keep, depth + 1));
      return s;
    }
    if (o instanceof IPersistentVector) {
      IPersistentVector pv = (IPersistentVector) o;
      long v = Native.V_EMPTY_VECTOR;
      int n = pv.count();
      for (int i = 0; i < n; i++) v = Native.vecConj(t, v, toEve(c, t, pv.nth(i), keep, depth + 1));
      return v;
    }
    if (o instanceof ISeq || o instanceof IPersistentList || o instanceof Sequential) {
      ArrayList<Object> xs = new ArrayList<>();
      for (ISeq s = RT.seq(o); s != null; s = s.next()) xs.add(s.first());
      long l = Native.V_EMPTY_LIST;
      for (int i = xs.size() - 1; i >= 0; i--) l = Native.listCons(t, toEve(c, t, xs.get(i), keep, depth + 1), l);
      return l;
    }
    if (o instanceof List) {
      long v = Native.V_EMPTY_VECTOR;
      for (Object x : (List<?>) o) v = Native.vecConj(t, v, toEve(c, t, x, keep, depth + 1));
      return v;
    }
    throw unsupported(o);
  }

  /** Look key up in coll (a map: its value or nf; a set: key or nf), read
   *  in c.  Text keys of maps go by their bytes (no allocation); other keys
   *  are converted in c's transaction or, when that would allocate in a
   *  snapshot, in a short write transaction of the domain (the snapshot
   *  keeps coll readable there).  A key of a type eve cannot hold equals
   *  nothing stored: nf. */
  static Object lookup(Ctx c, long coll, boolean isMap, Object key, Object nf) {
    synchronized (c.lock()) {
      long t = c.txn();
      if (isMap) {
        if (key instanceof String) return Native.mapGetText(c, t, coll, Native.STRING, utf8((String) key), nf);
        if (key instanceof Keyword)
          return Native.mapGetText(c, t, coll, Native.KEYWORD, utf8(((Keyword) key).sym.toString()), nf);
        if (key instanceof Symbol) return Native.mapGetText(c, t, coll, Native.SYMBOL, utf8(key.toString()), nf);
      }
      long k = 0;
      boolean needsWrite = false;
      try {
        k = toEve(c, t, key, null);
      } catch (ExceptionInfo e) {
        return nf;
      } catch (EveException e) {
        if (e.rc() != -20 || c.writable()) throw e;
        needsWrite = true;
      }
      if (!needsWrite) return isMap ? Native.mapGet(c, t, coll, k, nf) : Native.setContains(t, coll, k) ? key : nf;
    }
    c.dom.enter();
    try {
      long w = Native.txnBegin(c.dom.handle(), Native.TXN_WRITE);
      try {
        long k;
        try {
          k = toEve(c, w, key, null);
        } catch (ExceptionInfo e) {
          return nf;
        }
        synchronized (c.lock()) {
          c.txn(); // still open
          return isMap ? Native.mapGet(c, w, coll, k, nf) : Native.setContains(w, coll, k) ? key : nf;
        }
      } finally {
        Native.txnEnd(w);
      }
    } finally {
      c.dom.leave();
    }
  }

  // ---- eve -> plain Clojure data --------------------------------------------

  static Object toClojure(Object o) {
    if (o instanceof MapView) {
      Object[] kv = ((MapView) o).itemsArray();
      Object[] out = new Object[kv.length];
      for (int i = 0; i < kv.length; i++) out[i] = toClojure(kv[i]);
      return kv.length <= 16 ? PersistentArrayMap.createAsIfByAssoc(out) : PersistentHashMap.create(out);
    }
    if (o instanceof VecView) {
      Object[] xs = ((VecView) o).itemsArray();
      for (int i = 0; i < xs.length; i++) xs[i] = toClojure(xs[i]);
      return PersistentVector.create(java.util.Arrays.asList(xs));
    }
    if (o instanceof SetView) {
      Object[] xs = ((SetView) o).itemsArray();
      for (int i = 0; i < xs.length; i++) xs[i] = toClojure(xs[i]);
      return PersistentHashSet.create(xs);
    }
    if (o instanceof ListView) {
      Object[] xs = ((ListView) o).itemsArray();
      for (int i = 0; i < xs.length; i++) xs[i] = toClojure(xs[i]);
      return PersistentList.create(java.util.Arrays.asList(xs));
    }
    return o;
  }
}
