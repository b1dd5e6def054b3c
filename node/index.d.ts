// Type declarations of eve-atoms (the whole API).

/** What eve can store (see README "Conversions"). */
export type Storable =
  | null | undefined | boolean | number | bigint | string
  | Keyword | Sym | Uuid | Date | Uint8Array
  | View | Edn
  | Storable[] | Set<Storable> | Map<Storable, Storable> | { [key: string]: Storable };

/** What reading gives: scalars as JS values, collections as views. */
export type Value = null | boolean | number | bigint | string | Keyword | Sym | Uuid | Date | Uint8Array | View;
/** What toJS() gives: a plain deep copy. */
export type Plain =
  | null | boolean | number | bigint | string | Keyword | Sym | Uuid | Date | Uint8Array
  | Plain[] | Set<Plain> | Map<Plain, Plain> | { [key: string]: Plain };

export interface OpenOptions {
  /** address range reserved for the domain (bytes); default 1 TiB; fixed at creation */
  maxSize?: number;
  /** first file size (bytes); default 64 KiB */
  initialSize?: number;
  /** file mode of a new file; default 0o600 */
  mode?: number;
  /** 'create' (default), 'existing' (EVE_ENOENT if absent) or 'new' (EVE_EEXIST if present) */
  open?: 'create' | 'existing' | 'new';
  /** map read-only (files only) */
  readOnly?: boolean;
}

export interface Stats {
  fileBytes: number; liveBytes: number; freeBytes: number; retiredBytes: number;
  atoms: number; readers: number; oldestPinMs: number; oldestPinPid: number;
  diskBytes: number; snapshots: number;
}

export interface CheckReport { ok: boolean; blocks: number; reachableBytes: number; leakedBytes: number; problems: number; }

export declare class Keyword { readonly name: string; constructor(name: string); toString(): string; }
export declare class Sym { readonly name: string; constructor(name: string); toString(): string; }
export declare class Edn { readonly text: string; constructor(text: string); }
export declare function edn(text: string): Edn;
export declare class Uuid { readonly value: string; constructor(value: string); toString(): string; }

/** Read-only, zero-copy view of an eve collection. */
export declare class View {
  private constructor();
  readonly type: 'map' | 'vector' | 'set' | 'list';
  /** true inside a swap function, where assoc/dissoc/conj/... build eve values */
  readonly writable: boolean;
  toJS(): Plain;
  toJSON(): Plain;
  toEDN(): string;
  equals(other: Storable): boolean;
}
export declare class EveMap extends View implements Iterable<[Value, Value]> {
  readonly size: number;
  get(key: Storable): Value | undefined;
  get<D>(key: Storable, dflt: D): Value | D;
  has(key: Storable): boolean;
  keys(): IterableIterator<Value>;
  values(): IterableIterator<Value>;
  entries(): IterableIterator<[Value, Value]>;
  [Symbol.iterator](): IterableIterator<[Value, Value]>;
  forEach(fn: (value: Value, key: Value, map: EveMap) => void, thisArg?: unknown): void;
  /** inside a swap only */
  assoc(key: Storable, value: Storable): EveMap;
  dissoc(key: Storable): EveMap;
  merge(other: Storable): EveMap;
  update(key: Storable, fn: (old: Value | undefined, ...args: any[]) => Storable, ...args: any[]): EveMap;
}
export declare class EveSet extends View implements Iterable<Value> {
  readonly size: number;
  has(x: Storable): boolean;
  values(): IterableIterator<Value>;
  keys(): IterableIterator<Value>;
  entries(): IterableIterator<[Value, Value]>;
  [Symbol.iterator](): IterableIterator<Value>;
  forEach(fn: (value: Value, same: Value, set: EveSet) => void, thisArg?: unknown): void;
  /** inside a swap only */
  conj(x: Storable): EveSet;
  add(x: Storable): EveSet;
  disj(x: Storable): EveSet;
  delete(x: Storable): EveSet;
}
declare class Seq extends View implements Iterable<Value> {
  readonly length: number;
  readonly size: number;
  at(i: number): Value | undefined;
  get(i: number): Value | undefined;
  get<D>(i: number, dflt: D): Value | D;
  includes(x: Storable): boolean;
  values(): IterableIterator<Value>;
  keys(): IterableIterator<number>;
  entries(): IterableIterator<[number, Value]>;
  [Symbol.iterator](): IterableIterator<Value>;
  forEach(fn: (value: Value, index: number, seq: this) => void, thisArg?: unknown): void;
  map<U>(fn: (value: Value, index: number, seq: this) => U, thisArg?: unknown): U[];
  filter(fn: (value: Value, index: number, seq: this) => unknown, thisArg?: unknown): Value[];
  toArray(): Value[];
}
export declare class EveVector extends Seq {
  /** inside a swap only: i == length appends */
  assoc(i: number, x: Storable): EveVector;
  conj(x: Storable): EveVector;
  push(x: Storable): EveVector;
  pop(): EveVector;
  slice(from?: number, to?: number): EveVector;
}
export declare class EveList extends Seq {
  first(): Value;
  /** inside a swap only: conj prepends */
  conj(x: Storable): EveList;
  pop(): EveList;
  rest(): EveList;
}

export declare class Atom {
  private constructor();
  readonly domain: Domain;
  readonly name: string;
  deref(): Value;
  reset(value: Storable): void;
  swap<A extends any[]>(fn: (old: Value, ...args: A) => Storable, ...args: A): Value;
  swapVals<A extends any[]>(fn: (old: Value, ...args: A) => Storable, ...args: A): [Value, Value];
  /** as swap, returning nothing: no result view, nothing pinned afterwards */
  change<A extends any[]>(fn: (old: Value, ...args: A) => Storable, ...args: A): void;
  compareAndSet(oldValue: Storable, next: Storable): boolean;
  readonly version: number;
  waitChange(seen: number, timeoutMs?: number): Promise<number | null>;
  watch(opts?: { signal?: AbortSignal }): AsyncGenerator<Value, void, undefined>;
}

export declare class Domain {
  private constructor();
  readonly path: string | null;
  atom(name: string, opts?: { create?: boolean }): Atom;
  atoms(): string[];
  removeAtom(name: string): void;
  stats(): Stats;
  check(): CheckReport;
  /** a token for eve.join() in a worker_thread of this process */
  handle(): string;
  close(): void;
}

export declare class EveError extends Error {
  /** the EVE_E* name, e.g. 'EVE_ENOTFOUND' */
  readonly code: string;
  /** the negative eve code */
  readonly errno: number;
}
export declare const errors: { [code: string]: typeof EveError };

export declare function open(path?: string | null, opts?: OpenOptions): Domain;
export declare function open(opts: OpenOptions): Domain;
export declare function join(handle: string): Domain;
export declare function keyword(name: string): Keyword;
export declare function symbol(name: string): Sym;
export declare function uuid(text: string): Uuid;
export declare function toEDN(value: Storable): string;
export declare function fromEDN(text: string): Plain;
export declare function toJSONText(value: Storable): string;
export declare function fromJSONText(text: string): Plain;
export declare function toJS(value: Value): Plain;
export declare function isView(x: unknown): x is View;
export declare const version: string;
