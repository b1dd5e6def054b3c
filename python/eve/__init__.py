"""eve: shared-memory persistent data structures for Python.

Clojure-style atoms holding immutable values (maps, vectors, sets, lists of
EDN scalars) in one memory-mapped file, a *domain*, shared by processes and
threads::

    import eve
    with eve.open("shop.eve") as d:          # eve.open() alone: in memory
        stock = d.atom("stock")                # created (None) if absent
        stock.reset({"apple": 12, "pear": 7})
        stock.swap(lambda m: m.assoc("apple", m["apple"] - 2))
        v = stock.deref()                      # a zero-copy eve.Map view
        v["apple"], len(v), dict(v), v.to_python(), eve.dumps_edn(v)

See python/README.md for the conversion rules, the lifetimes of views and
the exceptions.
"""
import collections.abc as _abc
import threading as _threading

from . import _eve
from ._eve import Domain

__all__ = [
    "open", "Domain", "Atom", "Map", "Vector", "Set", "List", "Keyword", "Symbol",
    "dumps_edn", "loads_edn", "Error", "CorruptError", "NoSpaceError", "FullError",
    "VersionError", "BusyError", "InvalidError", "TxnError", "ForkedError",
    "RemovedError", "ReentryError", "ParseError", "DepthError", "EveTypeError",
    "NotFoundError", "RangeError", "FileError", "TimeoutError", "OutOfMemoryError",
    "OPEN_CREATE", "OPEN_EXISTING", "OPEN_NEW", "OPEN_RDONLY",
]

__version__ = _eve.library_version
OPEN_CREATE = _eve.OPEN_CREATE
OPEN_EXISTING = _eve.OPEN_EXISTING
OPEN_NEW = _eve.OPEN_NEW
OPEN_RDONLY = _eve.OPEN_RDONLY

_builtin_open = open


# ---- errors ------------------------------------------------------------------

class Error(Exception):
    """Base of every error eve reports.  .code is the EVE_E* code (negative),
    .name its name (e.g. "EVE_ENOSPC")."""
    code = 0
    name = ""


class CorruptError(Error):
    """The domain is damaged: EVE_ECORRUPT, EVE_EBADHDR, EVE_ENOTDOMAIN (not
    an eve file), EVE_ETRUNC (cut short under the mapping)."""


class NoSpaceError(Error, OSError):
    """The domain could not grow: EVE_ENOSPC (the disk is full)."""


class FullError(NoSpaceError):
    """The domain reached its max_size: EVE_EFULL."""


class VersionError(Error):
    """The file has an unsupported format version: EVE_EVERSION."""


class BusyError(Error):
    """EVE_EBUSY (exclusive access held elsewhere) or EVE_ESLOTS (every
    reader slot of the domain in use)."""


class InvalidError(Error, ValueError):
    """An invalid argument (EVE_EINVAL), e.g. a bad atom name, or a closed
    domain."""


class TxnError(Error):
    """EVE_ETXN: a transaction not usable here; in Python, a view of a swap
    function used after the function returned, or a write on a read-only
    domain."""


class ForkedError(Error):
    """EVE_EFORKED: a view obtained before fork() used in the child."""


class RemovedError(Error):
    """EVE_EREMOVED: the atom was removed."""


class ReentryError(Error):
    """EVE_EREENTRY: a swap function tried to change its own atom."""


class ParseError(Error, ValueError):
    """EVE_EPARSE: malformed EDN (.line, .column)."""
    line = 0
    column = 0


class DepthError(Error, ValueError):
    """EVE_EDEPTH: nesting deeper than 4096."""


class EveTypeError(Error, TypeError):
    """EVE_ETYPE: an operation on the wrong type of eve value."""


class NotFoundError(Error, LookupError):
    """EVE_ENOTFOUND (map lookups raise KeyError instead)."""


class RangeError(Error, ValueError):
    """EVE_ERANGE (index lookups raise IndexError instead)."""


class FileError(Error, OSError):
    """EVE_EIO, EVE_EACCESS, EVE_ENOENT, EVE_EEXIST."""


class TimeoutError(Error, TimeoutError):  # noqa: A001 - deliberately shadows
    """EVE_ETIMEDOUT."""


class OutOfMemoryError(Error, MemoryError):
    """EVE_ENOMEM: the process ran out of memory."""


_ERRORS = {
    -1: InvalidError, -2: OutOfMemoryError, -3: FileError, -4: NoSpaceError, -5: FullError,
    -6: CorruptError, -7: VersionError, -8: CorruptError, -9: CorruptError, -10: CorruptError,
    -11: EveTypeError, -12: NotFoundError, -13: RangeError, -14: ParseError, -15: DepthError,
    -16: FileError, -17: FileError, -18: FileError, -19: BusyError, -20: TxnError,
    -22: Error, -23: TimeoutError, -24: RemovedError, -25: BusyError, -26: ReentryError,
    -27: ForkedError,
}


# ---- keywords and symbols ------------------------------------------------------

class _Named:
    __slots__ = ("name",)

    def __init__(self, name):
        if not isinstance(name, str):
            raise TypeError("%s name must be a str" % type(self).__name__)
        object.__setattr__(self, "name", name)

    def __setattr__(self, key, value):
        raise AttributeError("%s is immutable" % type(self).__name__)

    @property
    def namespace(self):
        """The part before '/', or None."""
        ns, sep, _ = self.name.partition("/")
        return ns if sep and ns else None

    def __eq__(self, other):
        return type(other) is type(self) and other.name == self.name

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((type(self).__name__, self.name))

    def __reduce__(self):
        return (type(self), (self.name,))


class Keyword(_Named):
    """An EDN keyword, e.g. Keyword("id") for :id or Keyword("a/b") for :a/b."""
    __slots__ = ()

    def __repr__(self):
        return "eve.Keyword(%r)" % self.name

    def __str__(self):
        return ":" + self.name


class Symbol(_Named):
    """An EDN symbol, e.g. Symbol("foo")."""
    __slots__ = ()

    def __repr__(self):
        return "eve.Symbol(%r)" % self.name

    def __str__(self):
        return self.name


# ---- views ----------------------------------------------------------------------
#
# Views are zero-copy: they read the domain in place.  Outside a swap
# function they rest on a snapshot and stay valid as long as they are kept;
# their "updating" methods (assoc, conj...) then return plain Python values
# (a shallow copy with the change), which reset() or a swap can store.
# Inside a swap function the same methods build eve values in the swap's
# transaction, with structural sharing, and return views of them; those
# views are valid until the function returns.


def _get_in(node, path, default):
    for k in path:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def _update_in(node, path, fn, args):
    """fn(value at path, *args) put back along path: views assoc (building
    in a swap, copying outside one), plain dicts and lists are copied, a
    missing map entry (or None) starts as an empty map, as in Clojure."""
    if not path:
        return fn(node, *args)
    k, rest = path[0], path[1:]
    if node is None:
        node = {}
    if isinstance(node, (Map, dict)):
        child = node.get(k)
    elif isinstance(node, (Vector, list, tuple)):
        child = node[k] if k != len(node) else None
    else:
        raise TypeError("update_in: cannot step into a %s" % type(node).__name__)
    new = _update_in(child, rest, fn, args)
    if isinstance(node, (Map, Vector)):
        return node.assoc(k, new)
    if isinstance(node, dict):
        out = dict(node)
        out[k] = new
        return out
    out = list(node)
    if k == len(out):
        out.append(new)
    else:
        out[k] = new
    return out


class Map(_eve._View, _abc.Mapping):
    """A view of an eve map: a collections.abc.Mapping."""
    __slots__ = ()

    def get(self, key, default=None):
        """self[key] if present, else default."""
        return self._get(key, default)

    def values(self):
        """A view of the values (as Mapping.values)."""
        return _abc.ValuesView(self)

    def items(self):
        """A view of the (key, value) pairs (as Mapping.items)."""
        return _abc.ItemsView(self)

    def assoc(self, key, value):
        """The map with key set to value."""
        if self._writable:
            return self._assoc(key, value)
        d = dict(self._iter_items())
        d[key] = value
        return d

    def dissoc(self, key):
        """The map without key (unchanged if absent)."""
        if self._writable:
            return self._dissoc(key)
        d = dict(self._iter_items())
        d.pop(key, None)
        return d

    def get_in(self, path, default=None):
        """The value at path (a sequence of keys and indexes), or default."""
        return _get_in(self, path, default)

    def update_in(self, path, fn, *args):
        """The map with the value v at path replaced by fn(v, *args);
        missing maps along the path are created."""
        return _update_in(self, list(path), fn, args)

    def merge(self, other):
        """The map with other's entries added (other's win)."""
        if self._writable:
            return self._merge(other)
        d = dict(self._iter_items())
        d.update(other)
        return d


class Vector(_eve._View, _abc.Sequence):
    """A view of an eve vector: a collections.abc.Sequence."""
    __slots__ = ()

    def __reversed__(self):
        for i in range(len(self) - 1, -1, -1):
            yield self[i]

    def conj(self, x):
        """The vector with x appended."""
        if self._writable:
            return self._conj(x)
        return list(self) + [x]

    def assoc(self, i, x):
        """The vector with element i set to x (i == len appends)."""
        if self._writable:
            return self._assoc(i, x)
        out = list(self)
        if i == len(out):
            out.append(x)
        elif 0 <= i < len(out):
            out[i] = x
        else:
            raise IndexError("assoc: index out of range")
        return out

    def get_in(self, path, default=None):
        """The value at path (a sequence of indexes and keys), or default."""
        return _get_in(self, path, default)

    def update_in(self, path, fn, *args):
        """The vector with the value v at path replaced by fn(v, *args)."""
        return _update_in(self, list(path), fn, args)

    def slice(self, start, stop=None):
        """The elements [start, stop) as a vector (stop None: to the end;
        0 <= start <= stop <= len, else IndexError).  Inside a swap a view
        sharing structure, elsewhere a list."""
        n = len(self)
        stop = n if stop is None else stop
        if not 0 <= start <= stop <= n:
            raise IndexError("slice: [%d, %d) out of range for %d elements" % (start, stop, n))
        if self._writable:
            return self._slice(start, stop)
        return self[start:stop]

    def pop(self):
        """The vector without its last element (IndexError when empty)."""
        if self._writable:
            return self._pop()
        out = list(self)
        if not out:
            raise IndexError("pop from an empty vector")
        return out[:-1]


class Set(_eve._View, _abc.Set):
    """A view of an eve set: a collections.abc.Set."""
    __slots__ = ()

    # _View's rich comparison only knows == and !=: subset order is the ABC's
    __le__ = _abc.Set.__le__
    __lt__ = _abc.Set.__lt__
    __ge__ = _abc.Set.__ge__
    __gt__ = _abc.Set.__gt__

    @classmethod
    def _from_iterable(cls, it):  # results of & | - ^ are plain sets
        return set(it)

    def conj(self, x):
        """The set with x added."""
        if self._writable:
            return self._conj(x)
        return set(self) | {x}

    def disj(self, x):
        """The set without x."""
        if self._writable:
            return self._disj(x)
        return set(self) - {x}


class List(_eve._View, _abc.Sequence):
    """A view of an eve list (a linked list; indexing walks it)."""
    __slots__ = ()

    def conj(self, x):
        """The list with x in front (as Clojure's conj on a list)."""
        if self._writable:
            return self._conj(x)
        return [x] + list(self)

    def rest(self):
        """The list without its first element."""
        if self._writable:
            return self._pop()
        return list(self)[1:]


def _view_reduce(self):
    """pickle: a view pickles as its plain value (it unpickles as one)."""
    return (_identity, (self.to_python(),))


def _identity(x):
    return x


# Map.__hash__ etc.: Mapping and Set set __hash__ = None; the views hash by
# eve's structural hash (equal views hash equal).
for _cls in (Map, Vector, Set, List):
    _cls.__hash__ = _eve._View.__hash__
    _cls.__eq__ = _eve._View.__eq__
    _cls.__ne__ = _eve._View.__ne__
    _cls.__contains__ = _eve._View.__contains__
    _cls.__iter__ = _eve._View.__iter__
    _cls.__len__ = _eve._View.__len__
    _cls.__getitem__ = _eve._View.__getitem__
    _cls.__reduce__ = _view_reduce
del _cls


class Atom(_eve._Atom):
    """A named root of a domain (from Domain.atom): deref, reset, swap,
    swap_vals, compare_and_set, wait, watch."""
    __slots__ = ()

    def watch(self, timeout=None):
        """Yield the atom's value after each change (blocking, with the GIL
        released, in eve_wait).  Ends after timeout seconds without a
        change (None: never).  Changes in quick succession may be seen as
        one."""
        seen = self.version
        while True:
            now = self.wait(seen, timeout)
            if now is None:
                return
            seen = now
            yield self.deref()


_eve._init_types(Map, Vector, Set, List, Keyword, Symbol, _ERRORS, Error, Atom)


# ---- module-level functions ----------------------------------------------------

def open(path=None, *, flags=0, max_size=0, initial_size=0, file_mode=0):  # noqa: A001
    """Open (or create) the domain at path; None: an in-memory domain shared
    with this process's threads and with children forked after it.

    flags: OPEN_CREATE (default), OPEN_EXISTING, OPEN_NEW, optionally
    | OPEN_RDONLY.  max_size: the address range reserved (0: 1 TiB), fixed
    when the file is created.  file_mode: for a new file (0: 0600)."""
    if path is not None:
        import os
        path = os.fspath(path)
    return _eve.open(path, flags, max_size, initial_size, file_mode)


_scratch = None
_scratch_lock = _threading.Lock()


def _scratch_domain():
    """A private in-memory domain for dumps_edn/loads_edn of plain values."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = _eve.open(None, 0, 256 << 20, 0, 0)
        return _scratch


def dumps_edn(value):
    """value (a view, or any convertible Python value) as one line of EDN."""
    if isinstance(value, _eve._View):
        return value.domain.dumps_edn(value)
    return _scratch_domain().dumps_edn(value)


def loads_edn(text):
    """One EDN value as plain Python objects (dict, list, set, Keyword...).
    eve.ParseError if the text is not exactly one valid EDN value."""
    return _scratch_domain().loads_edn(text)
