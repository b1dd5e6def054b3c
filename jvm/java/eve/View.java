package eve;

/** A zero-copy value of a domain: a map, vector, set or list read in place.
 *  Outside a swap it rests on a snapshot, which ends when every view of
 *  the same deref has been collected, or at {@link #close()}, or when the
 *  domain closes; reading it afterwards throws {@link EveException}
 *  (EVE_ETXN, or EVE_EINVAL once the domain is closed). */
public interface View extends AutoCloseable {
  /** End the snapshot this view rests on, for every view read in it (the
   *  views of one deref, swap or compareAndSet).  Idempotent. */
  @Override
  void close();

  /** Whether the view can still be read. */
  boolean isOpen();

  /** The value copied into plain Clojure data (persistent maps, vectors,
   *  sets, lists), valid forever. */
  Object toClojure();

  /** The value as EDN text (eve's printer). */
  String toEdn();

  // internal
  Ctx ctx();

  long word();
}
