package eve;

/** An error of the eve library.  {@link #code()} is the EVE_E* name
 *  ("EVE_EREMOVED", "EVE_ECORRUPT", ...), {@link #rc()} its negative number. */
public class EveException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final String code;
  private final int rc;

  public EveException(String code, int rc, String message) {
    super(message);
    this.code = code;
    this.rc = rc;
  }

  /** The EVE_E* name of the error. */
  public String code() { return code; }

  /** The eve.h error number (negative). */
  public int rc() { return rc; }

  static EveException closed() {
    return new EveException("EVE_EINVAL", -1, "EVE_EINVAL: the domain is closed");
  }

  static EveException txn(String what) {
    return new EveException("EVE_ETXN", -20, "EVE_ETXN: " + what);
  }
}
