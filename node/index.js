'use strict';
// eve-atoms: eve for Node.js.  The native addon (src/eve_node.c) does the
// work; this file gives it its JavaScript shape: Domain, Atom, the views
// (EveMap, EveVector, EveSet, EveList), Keyword, Sym, Uuid and the errors.

function load() {
  const gypBuild = require('node-gyp-build');
  try {
    return gypBuild(__dirname);
  } catch (e) {
    // No binary: the install script did not run (npm >= 11 skips the
    // install scripts of dependencies it was not told to allow).  Build
    // from source now, once, as the install script would have.
    const { execFileSync } = require('child_process');
    const script = require('path').join(__dirname, 'scripts', 'build.js');
    if (!require('fs').existsSync(script)) throw e;
    execFileSync(process.execPath, [script], { stdio: ['ignore', 'ignore', 'inherit'] });
    return gypBuild(__dirname);
  }
}
const native = load();

// ---- errors -----------------------------------------------------------------

/** Base of every eve error: .code is the EVE_E* name, .errno the number. */
class EveError extends Error {
  constructor(message, code, errno) {
    super(message);
    this.name = this.constructor.name;
    this.code = code;
    this.errno = errno;
  }
}
const errorClasses = {};
const errorNames = {
  EVE_EINVAL: 'InvalidError', EVE_ENOMEM: 'OutOfMemoryError', EVE_EIO: 'IOError',
  EVE_ENOSPC: 'NoSpaceError', EVE_EFULL: 'FullError', EVE_ENOTDOMAIN: 'NotDomainError',
  EVE_EVERSION: 'VersionError', EVE_EBADHDR: 'BadHeaderError', EVE_ETRUNC: 'TruncatedError',
  EVE_ECORRUPT: 'CorruptError', EVE_ETYPE: 'EveTypeError', EVE_ENOTFOUND: 'NotFoundError',
  EVE_ERANGE: 'EveRangeError', EVE_EPARSE: 'ParseError', EVE_EDEPTH: 'DepthError',
  EVE_EACCESS: 'AccessError', EVE_EEXIST: 'ExistsError', EVE_ENOENT: 'NoEntryError',
  EVE_EBUSY: 'BusyError', EVE_ETXN: 'TxnError', EVE_ECONFLICT: 'ConflictError',
  EVE_ETIMEDOUT: 'TimeoutError', EVE_EREMOVED: 'RemovedError', EVE_ESLOTS: 'SlotsError',
  EVE_EREENTRY: 'ReentryError', EVE_EFORKED: 'ForkedError',
};
for (const [code, name] of Object.entries(errorNames)) {
  // a named class per code, so that stack traces and instanceof read well
  errorClasses[code] = { [name]: class extends EveError {} }[name];
}
function makeError(errno, code, message) {
  const cls = errorClasses[code] || EveError;
  return new cls('eve: ' + message, code, errno);
}

// ---- scalars eve has and JavaScript has not ------------------------------------

const keywords = new Map();
/** An EDN keyword (:a, :ns/a); eve.keyword('a') interns it. */
class Keyword {
  constructor(name) {
    if (typeof name !== 'string') throw new TypeError('Keyword name must be a string');
    this.name = name;
    Object.freeze(this);
  }
  toString() { return ':' + this.name; }
  [Symbol.for('nodejs.util.inspect.custom')]() { return ':' + this.name; }
}
function keyword(name) {
  let k = keywords.get(name);
  if (!k) {
    k = new Keyword(name);
    if (keywords.size < 100000) keywords.set(name, k);
  }
  return k;
}
/** An EDN symbol. */
class Sym {
  constructor(name) {
    if (typeof name !== 'string') throw new TypeError('Sym name must be a string');
    this.name = name;
    Object.freeze(this);
  }
  toString() { return this.name; }
  [Symbol.for('nodejs.util.inspect.custom')]() { return `Sym(${this.name})`; }
}
/** An EDN #uuid, kept as its canonical text. */
class Uuid {
  constructor(value) {
    if (typeof value !== 'string' || !/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(value))
      throw new TypeError('Uuid needs 8-4-4-4-12 hex digits');
    this.value = value.toLowerCase();
    Object.freeze(this);
  }
  toString() { return this.value; }
  [Symbol.for('nodejs.util.inspect.custom')]() { return `#uuid "${this.value}"`; }
}

/** EDN text to store as the value it reads as: atom.reset(eve.edn('(1 2 3)')) */
class Edn {
  constructor(text) {
    if (typeof text !== 'string') throw new TypeError('eve.edn needs a string');
    this.text = text;
    Object.freeze(this);
  }
}

// ---- views -------------------------------------------------------------------------

const inspect = Symbol.for('nodejs.util.inspect.custom');
function bad(what, view) {
  return new TypeError(`${what} is not available on an eve ${view._type()}`);
}

/** Read-only view of an eve collection (zero-copy); see README "Lifetimes". */
class View {
  get type() { return this._type(); }
  /** true inside a swap function: assoc/dissoc/conj/... build eve values */
  get writable() { return this._writable(); }
  toJS() { return this._toJS(); }
  toJSON() { return this._toJS(); }
  toEDN() { return native.print(this, false); }
  toString() { return native.print(this, false); }
  equals(other) { return this._equals(other); }
  [inspect]() { return `eve.${this._type()} ${native.print(this, false)}`; }
}

/** Map-like view of an eve map. */
class MapMethods extends View {
  get size() { return this._count(); }
  get(key, dflt) { return this._get(key, dflt); }
  has(key) { return this._has(key); }
  keys() { return this._items(0)[Symbol.iterator](); }
  values() { return this._items(1)[Symbol.iterator](); }
  entries() { return this._items(2)[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  forEach(fn, thisArg) { for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this); }
  assoc(key, value) { return this._assoc(key, value); }
  dissoc(key) { return this._dissoc(key); }
  merge(other) { return this._merge(other); }
  /** update(key, fn, ...args): assoc(key, fn(get(key), ...args)) */
  update(key, fn, ...args) { return this._assoc(key, fn(this._get(key), ...args)); }
}

/** Set-like view of an eve set. */
class SetMethods extends View {
  get size() { return this._count(); }
  has(x) { return this._has(x); }
  values() { return this._items(0)[Symbol.iterator](); }
  keys() { return this.values(); }
  entries() { return this._items(0).map((x) => [x, x])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.values(); }
  forEach(fn, thisArg) { for (const x of this.values()) fn.call(thisArg, x, x, this); }
  conj(x) { return this._conj(x); }
  add(x) { return this._conj(x); }
  disj(x) { return this._dissoc(x); }
  delete(x) { return this._dissoc(x); }
}

/** Shared by vectors and lists: array-like. */
class Seq extends View {
  get length() { return this._count(); }
  get size() { return this._count(); }
  at(i) {
    if (!Number.isInteger(i)) i = Math.trunc(Number(i)) || 0;
    if (i < 0) i += this._count();
    return i < 0 ? undefined : this._get(i, undefined);
  }
  get(i, dflt) { return this._get(i, dflt); }
  includes(x) { return this._has(x); }
  values() { return this._items(0)[Symbol.iterator](); }
  keys() { return Array.from({ length: this._count() }, (_, i) => i)[Symbol.iterator](); }
  entries() { return this._items(0).map((x, i) => [i, x])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.values(); }
  forEach(fn, thisArg) { this._items(0).forEach((x, i) => fn.call(thisArg, x, i, this)); }
  map(fn, thisArg) { return this._items(0).map((x, i) => fn.call(thisArg, x, i, this)); }
  filter(fn, thisArg) { return this._items(0).filter((x, i) => fn.call(thisArg, x, i, this)); }
  toArray() { return this._items(0); }
  conj(x) { return this._conj(x); }
  pop() { return this._pop(); }
}

/** Array-like view of an eve vector. */
class VectorMethods extends Seq {
  assoc(i, x) { return this._assoc(i, x); }
  /** the elements [from, to) as a new vector (inside a swap) */
  slice(from = 0, to = this._count()) { return this._slice(from, to); }
  push(x) { return this._conj(x); }
}

/** Array-like view of an eve list (conj prepends, as in Clojure). */
class ListMethods extends Seq {
  first() { return this._get(0, null); }
  /** the list without its first element (inside a swap) */
  rest() { return this._pop(); }
}

// The views' classes are native (one constructor call makes a view); they
// get the methods above and View (or Seq) as their parent.
function adopt(nativeCls, methods) {
  const desc = Object.getOwnPropertyDescriptors(methods.prototype);
  delete desc.constructor;
  Object.defineProperties(nativeCls.prototype, desc);
  Object.setPrototypeOf(nativeCls.prototype, Object.getPrototypeOf(methods.prototype));
  return nativeCls;
}
const EveMap = adopt(native.MapView, MapMethods);
const EveVector = adopt(native.VectorView, VectorMethods);
const EveSet = adopt(native.SetView, SetMethods);
const EveList = adopt(native.ListView, ListMethods);

native._init({
  Map: EveMap, Vector: EveVector, Set: EveSet, List: EveList, Keyword, Sym, Uuid, Edn,
  makeError, makeKeyword: keyword,
  makeMap: (flat) => { const m = new Map(); for (let i = 0; i < flat.length; i += 2) m.set(flat[i], flat[i + 1]); return m; },
  makeSet: (arr) => new Set(arr),
  mapEntries: (m) => { const flat = []; for (const [k, v] of m) flat.push(k, v); return flat; },
  setValues: (s) => Array.from(s),
});

// ---- atoms and domains -----------------------------------------------------------

const WAIT_SLICE_MS = 250;

/** A named root of the domain. */
class Atom {
  constructor(domain, name, h) {
    this.domain = domain;
    this.name = name;
    this._h = h;
  }
  /** the current value: a zero-copy view for a collection, a JS value for a scalar */
  deref() { return native.deref(this._h); }
  /** set the value; returns undefined */
  reset(value) { native.reset(this._h, value); }
  /** atomically replace v with fn(v, ...args), retrying on conflict; returns the new value */
  swap(fn, ...args) { return native.swap(this._h, fn, args, 0); }
  /** as swap; returns [old, new] */
  swapVals(fn, ...args) { return native.swap(this._h, fn, args, 1); }
  /**
   * as swap, returning nothing: no view of the result is made, so nothing
   * stays pinned after it returns (for loops that change an atom many
   * times without yielding to the event loop; see README "Lifetimes")
   */
  change(fn, ...args) { native.swap(this._h, fn, args, 2); }
  /** set to next only if the atom holds oldValue (identity: a view deref gave, or an immediate) */
  compareAndSet(oldValue, next) { return native.compareAndSet(this._h, oldValue, next); }
  /** the change counter (bumped by every change) */
  get version() { return native.version(this._h); }
  /** wait until the version differs from seen: resolves with the new version, or null after timeoutMs */
  async waitChange(seen, timeoutMs) {
    const end = timeoutMs == null || timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) return null;
      const now = await native.wait(this._h, seen, Math.min(WAIT_SLICE_MS, left === Infinity ? WAIT_SLICE_MS : Math.ceil(left)));
      if (now !== null) return now;
    }
  }
  /**
   * Async iterator of the atom's values after each change (changes that come
   * faster than the consumer are coalesced: it sees the latest).  eve_wait
   * runs on libuv's thread pool, never on the event loop.  opts.signal
   * (AbortSignal) stops it.
   */
  async *watch(opts = {}) {
    const signal = opts.signal;
    let seen = this.version;
    for (;;) {
      if (signal && signal.aborted) return;
      const now = await native.wait(this._h, seen, WAIT_SLICE_MS);
      if (now === null) continue;
      seen = now;
      if (signal && signal.aborted) return;
      yield this.deref();
    }
  }
  toString() { return `#<eve.Atom ${this.name}>`; }
}

/** An open domain: one memory-mapped file, or an in-memory region. */
class Domain {
  constructor(h, path) {
    this._h = h;
    this.path = path;
    this._atoms = new Map();
  }
  /** the atom called name, created (holding null) if absent unless opts.create is false */
  atom(name, opts = {}) {
    const create = opts.create !== false;
    const h = native.atom(this._h, name, create);
    return new Atom(this, name, h);
  }
  /** names of the atoms, sorted */
  atoms() { return native.atoms(this._h).sort(); }
  removeAtom(name) { native.removeAtom(this._h, name); }
  stats() { return native.stats(this._h); }
  check() { return native.check(this._h); }
  /** a token a worker_thread of this process passes to eve.join() to share this domain */
  handle() { return native.handle(this._h); }
  /** stop operations through this object; the mapping goes when its last view/atom is collected */
  close() { native.close(this._h); }
}

const FLAGS = { create: 0, existing: 1, new: 2 };

/**
 * open(path?, opts?): the domain at path (created if absent), or a new
 * in-memory domain when path is omitted/null.  opts: maxSize, initialSize,
 * mode (file mode), open ('create' | 'existing' | 'new'), readOnly.
 */
function open(path, opts) {
  if (path !== null && typeof path === 'object' && opts === undefined) { opts = path; path = undefined; }
  if (path != null && typeof path !== 'string') throw new TypeError('open: path must be a string (or nothing, for an in-memory domain)');
  opts = opts || {};
  let flags = FLAGS[opts.open || 'create'];
  if (flags === undefined) throw new TypeError(`open: opts.open must be 'create', 'existing' or 'new'`);
  if (opts.readOnly) flags |= 4;
  const h = native.open(path == null ? null : path, {
    maxSize: opts.maxSize, initialSize: opts.initialSize, mode: opts.mode, flags,
  });
  return new Domain(h, path == null ? null : path);
}

/** join(token): the in-memory (or any) domain a thread of this process opened, by its handle() */
function join(token) { return new Domain(native.join(token), null); }

function toEDN(value) { return native.print(value, false); }
function toJSONText(value) { return native.print(value, true); }
function fromEDN(text) { return native.parse(text, false); }
function fromJSONText(text) { return native.parse(text, true); }
function isView(x) { return native.isView(x); }
/** a plain copy of any value (views deep-copied) */
function toJS(x) { return native.isView(x) ? x.toJS() : x; }

module.exports = {
  open, join, keyword, Keyword, Sym, Uuid, symbol: (n) => new Sym(n), uuid: (s) => new Uuid(s),
  Edn, edn: (text) => new Edn(text),
  toEDN, fromEDN, toJSONText, fromJSONText, toJS, isView,
  Domain, Atom, View, EveMap, EveVector, EveSet, EveList, EveError, errors: errorClasses,
  version: native.version,
};
