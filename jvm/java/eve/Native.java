package eve;

/** The JNI layer (jvm/native/evejni.c): one static method per eve call.
 *  Handles and values are passed as longs; every eve error is thrown as an
 *  {@link EveException}.  Internal: use {@link Domain} and {@link Atom}. */
final class Native {
  private Native() {}

  static {
    String path = System.getProperty("eve.jni.path");
    if (path == null) path = System.getenv("EVE_JNI_PATH");
    if (path != null) System.load(path);
    else System.loadLibrary("evejni");
  }

  /** Called by eve_swap, once per attempt: build the new value in txn from old. */
  interface SwapFn {
    long call(long txn, long old);
  }

  // type codes of eve.h's eve_type
  static final int NIL = 0, BOOL = 1, INT = 2, FLOAT = 3, CHAR = 4, STRING = 5, KEYWORD = 6,
      SYMBOL = 7, UUID = 8, INST = 9, BYTES = 10, LIST = 11, VECTOR = 12, SET = 13, MAP = 14;
  // immediates
  static final long V_NIL = 0, V_FALSE = 0x0A, V_TRUE = 0x12, V_EMPTY_MAP = 0x22,
      V_EMPTY_SET = 0x2A, V_EMPTY_VECTOR = 0x32, V_EMPTY_LIST = 0x3A;
  // transaction flags
  static final int TXN_READ = 0, TXN_WRITE = 1, TXN_SNAPSHOT = 2;
  static final int EBUSY = -19;

  static native long open(byte[] path, int flags, long maxSize, long initialSize);
  static native int close(long d);
  static native long[] stats(long d);
  static native long check(long d);

  static native long atomOpen(long d, byte[] name, boolean create);
  static native void atomClose(long a);
  static native void atomRemove(long d, byte[] name);
  static native String[] atomNames(long d);
  static native long version(long a);
  static native long await(long a, long seen, long timeoutMs);

  static native long txnBegin(long d, int flags);
  static native void txnEnd(long t);
  static native long deref(long t, long a);
  static native long swap(long t, long a, SwapFn fn, long[] oldOut);
  static native void reset(long t, long a, long v);
  static native boolean cas(long t, long a, long expected, long v);

  static native Object get(Ctx ctx, long t, long w);
  static native int type(long t, long w);
  static native long count(long t, long w);
  static native Object mapGet(Ctx ctx, long t, long m, long k, Object notFound);
  static native Object mapGetText(Ctx ctx, long t, long m, int type, byte[] key, Object notFound);
  static native boolean setContains(long t, long s, long x);
  static native Object vecNth(Ctx ctx, long t, long v, long i);
  static native long vecNthWord(long t, long v, long i);
  static native Object listFirst(Ctx ctx, long t, long l);
  static native long listRest(long t, long l);
  static native Object[] items(Ctx ctx, long t, long coll, boolean pairs);
  static native boolean equal(long t, long a, long b);
  static native String printEdn(long t, long v);

  static native long mkInt(long t, long i);
  static native long mkFloat(long t, double f);
  static native long mkChar(int codepoint);
  static native long mkText(long t, int type, byte[] utf8);
  static native long mkUuid(long t, long hi, long lo);
  static native long mkInst(long t, long ms);
  static native long mapAssoc(long t, long m, long k, long v);
  static native long mapDissoc(long t, long m, long k);
  static native long mapMerge(long t, long a, long b);
  static native long setConj(long t, long s, long x);
  static native long setDisj(long t, long s, long x);
  static native long vecConj(long t, long v, long x);
  static native long vecAssoc(long t, long v, long i, long x);
  static native long vecPop(long t, long v);
  static native long listCons(long t, long x, long l);
}
