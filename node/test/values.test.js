'use strict';
// Conversions both ways and the views' API.
const test = require('node:test');
const assert = require('node:assert/strict');
const eve = require('..');
const { MAX } = require('./helpers');

const d = eve.open(null, { maxSize: MAX });
let n = 0;
function roundTrip(v) {
  const a = d.atom('rt' + n++);
  a.reset(v);
  const got = a.deref();
  return eve.isView(got) ? got.toJS() : got;
}

test('scalars round trip', () => {
  assert.equal(roundTrip(null), null);
  assert.equal(roundTrip(undefined), null);
  assert.equal(roundTrip(true), true);
  assert.equal(roundTrip(false), false);
  for (const i of [0, 1, -1, 42, 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER])
    assert.equal(roundTrip(i), i);
  for (const f of [1.5, -0.25, 1e300, Infinity, -Infinity, 2 ** 60, 1e20]) assert.equal(roundTrip(f), f);
  assert.ok(Object.is(roundTrip(-0), -0));
  assert.ok(Number.isNaN(roundTrip(NaN)));
  for (const s of ['', 'a', 'short', 'a longer string than seven bytes', 'ünïcödé ✓ 𝄞', 'nul\0inside'])
    assert.equal(roundTrip(s), s);
  assert.equal(roundTrip(eve.keyword('a')), eve.keyword('a'));
  assert.equal(roundTrip(eve.keyword('ns/long-keyword-name')).name, 'ns/long-keyword-name');
  const s = roundTrip(eve.symbol('sym'));
  assert.ok(s instanceof eve.Sym);
  assert.equal(s.name, 'sym');
  const u = roundTrip(eve.uuid('0123ABCD-0000-4000-8000-00000000000F'));
  assert.ok(u instanceof eve.Uuid);
  assert.equal(u.value, '0123abcd-0000-4000-8000-00000000000f');
  const when = new Date('2020-02-03T04:05:06.789Z');
  const back = roundTrip(when);
  assert.ok(back instanceof Date);
  assert.equal(back.getTime(), when.getTime());
  const bytes = roundTrip(new Uint8Array([0, 1, 255, 7]));
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...bytes], [0, 1, 255, 7]);
  assert.deepEqual([...roundTrip(Buffer.from('hi'))], [104, 105]);
  assert.equal(roundTrip(new Uint8Array(0)).length, 0);
});

test('integers are ints, other numbers floats; BigInt is int64', () => {
  assert.equal(eve.toEDN(3), '3');
  assert.equal(eve.toEDN(3.5), '3.5');
  assert.match(eve.toEDN(2 ** 60), /[.eE]/); // beyond 2^53: a float
  assert.equal(eve.toEDN(2n ** 60n), '1152921504606846976');
  assert.equal(roundTrip(2n ** 63n - 1n), 2n ** 63n - 1n);
  assert.equal(roundTrip(-(2n ** 63n)), -(2n ** 63n));
  assert.equal(roundTrip(5n), 5); // small BigInts come back as numbers
  assert.throws(() => d.atom('big').reset(2n ** 63n), RangeError);
  assert.throws(() => d.atom('big').reset(-(2n ** 63n) - 1n), RangeError);
  assert.equal(eve.fromEDN('9223372036854775807'), 9223372036854775807n);
});

test('collections round trip', () => {
  const v = {
    a: 1, b: [1, 2, [3, { c: 'x' }]], s: new Set([1, 'two', eve.keyword('three')]),
    m: new Map([[1, 'one'], [eve.keyword('k'), [true]]]), e: {}, ea: [], es: new Set(),
    '': 'empty key', 'long key with spaces': null,
  };
  const got = roundTrip(v);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(v).sort());
  assert.equal(got.a, 1);
  assert.deepEqual(got.b, [1, 2, [3, { c: 'x' }]]);
  assert.ok(got.s instanceof Set);
  assert.deepEqual(new Set(got.s), new Set([1, 'two', eve.keyword('three')]));
  assert.ok(got.m instanceof Map); // not all keys strings: a Map
  assert.equal(got.m.get(1), 'one');
  assert.deepEqual(got.m.get(eve.keyword('k')), [true]);
  assert.deepEqual(got.e, {});
  assert.deepEqual(got.ea, []);
  assert.equal(got.es.size, 0);
  assert.equal(got[''], 'empty key');
  assert.equal(got['long key with spaces'], null);
  const nullProto = Object.create(null);
  nullProto.x = 1;
  assert.deepEqual(roundTrip(nullProto), { x: 1 });
  const big = Array.from({ length: 3000 }, (_, i) => i * 3);
  assert.deepEqual(roundTrip(big), big);
});

test('EDN both ways', () => {
  assert.equal(eve.toEDN({ a: [1, 2] }), '{"a" [1 2]}');
  assert.equal(eve.toEDN([eve.keyword('a'), null, true, 1.5, 'x']), '[:a nil true 1.5 "x"]');
  assert.equal(eve.toEDN(new Set()), '#{}');
  assert.equal(eve.toEDN(new Date(0)), '#inst "1970-01-01T00:00:00.000-00:00"');
  const back = eve.fromEDN('{:a [1 2 (3 4)] "b" #{1} :c nil :d \\x}');
  assert.ok(back instanceof Map);
  assert.deepEqual(back.get(eve.keyword('a')), [1, 2, [3, 4]]);
  assert.deepEqual([...back.get('b')], [1]);
  assert.equal(back.get(eve.keyword('c')), null);
  assert.equal(back.get(eve.keyword('d')), 'x'); // chars become one-character strings
  assert.deepEqual(eve.fromEDN('{"a" 1}'), { a: 1 });
  assert.equal(eve.toJSONText({ a: [1, eve.keyword('k')] }), '{"a":[1,"k"]}');
  assert.deepEqual(eve.fromJSONText('{"a":[1,2.5,null]}'), { a: [1, 2.5, null] });
  const a = d.atom('edn');
  a.reset({ x: [1, new Set([2])] });
  assert.equal(eve.toEDN(a.deref()), '{"x" [1 #{2}]}');
  assert.equal(a.deref().toEDN(), '{"x" [1 #{2}]}');
});

test('map views are Map-like', () => {
  const a = d.atom('mapview');
  a.reset({ x: 1, y: { z: [1, 2, 3] }, [7]: 'seven' });
  const m = a.deref();
  assert.ok(m instanceof eve.EveMap);
  assert.equal(m.type, 'map');
  assert.equal(m.size, 3);
  assert.equal(m.get('x'), 1);
  assert.equal(m.get('nope'), undefined);
  assert.equal(m.get('nope', 'dflt'), 'dflt');
  assert.equal(m.get(7), undefined); // object keys are strings
  assert.equal(m.get('7'), 'seven');
  assert.ok(m.has('y') && !m.has('q') && !m.has(1));
  assert.deepEqual([...m.keys()].sort(), ['7', 'x', 'y']);
  const inner = m.get('y');
  assert.ok(inner instanceof eve.EveMap);
  const vec = inner.get('z');
  assert.ok(vec instanceof eve.EveVector);
  assert.equal(vec.length, 3);
  assert.equal(vec.at(0), 1);
  assert.equal(vec.at(-1), 3);
  assert.equal(vec.at(3), undefined);
  assert.deepEqual([...vec], [1, 2, 3]);
  assert.ok(vec.includes(2) && !vec.includes(4));
  assert.deepEqual(vec.map((x) => x * 2), [2, 4, 6]);
  const seen = {};
  m.forEach((v, k) => { seen[k] = eve.isView(v) ? v.type : v; });
  assert.deepEqual(seen, { x: 1, y: 'map', 7: 'seven' });
  assert.ok(m.equals({ x: 1, y: { z: [1, 2, 3] }, 7: 'seven' }));
  assert.ok(!m.equals({ x: 2 }));
  assert.ok(!m.equals(() => 1)); // nothing eve cannot hold is equal
  assert.deepEqual(JSON.parse(JSON.stringify(m)), { x: 1, y: { z: [1, 2, 3] }, 7: 'seven' });
  // non-text keys need a key built in a write transaction: still found
  a.reset(new Map([[[1, 2], 'vec key'], [2n ** 62n, 'big'], [1.5, 'float']]));
  const m2 = a.deref();
  assert.equal(m2.get([1, 2]), 'vec key');
  assert.equal(m2.get(2n ** 62n), 'big');
  assert.equal(m2.get(1.5), 'float');
  assert.ok(m2.has([1, 2]) && !m2.has([1, 3]));
});

test('views outlive later changes and are readable after the atom is removed', () => {
  const a = d.atom('keep');
  a.reset({ v: 'first version, long enough to be allocated' });
  const v1 = a.deref();
  for (let i = 0; i < 100; i++) a.reset({ v: 'version ' + i + ' of a longer string' });
  assert.equal(v1.get('v'), 'first version, long enough to be allocated');
  d.removeAtom('keep');
  assert.equal(v1.get('v'), 'first version, long enough to be allocated');
});

test('deref of an unchanged atom gives the same view; a change, a new one', () => {
  const a = d.atom('same');
  a.reset({ v: [1, 2] });
  const v1 = a.deref();
  assert.equal(a.deref(), v1);
  a.swap((m) => m.assoc('v', 3));
  const v2 = a.deref();
  assert.notEqual(v2, v1);
  assert.deepEqual(v1.toJS(), { v: [1, 2] });
  assert.deepEqual(v2.toJS(), { v: 3 });
  a.reset(v1); // the same word again, but a new version
  assert.notEqual(a.deref(), v1);
  assert.ok(a.deref().equals(v1));
  // a change by another handle of the same atom is seen too
  d.atom('same').reset({ other: true });
  assert.deepEqual(a.deref().toJS(), { other: true });
});

test('sets and lists', () => {
  const a = d.atom('sets');
  a.reset(new Set([1, 2, 'three', [4]]));
  const s = a.deref();
  assert.ok(s instanceof eve.EveSet);
  assert.equal(s.size, 4);
  assert.ok(s.has(1) && s.has('three') && s.has([4]) && !s.has(5));
  assert.deepEqual(new Set([...s].filter((x) => !eve.isView(x))), new Set([1, 2, 'three']));
  assert.ok(Array.isArray(eve.fromEDN('(1 2 3)'))); // plain copies of lists are arrays
  assert.ok(a.swap(() => [1, 2, 3]) instanceof eve.EveVector); // arrays are vectors
  a.reset(eve.edn('(1 2 3)'));
  const l = a.deref();
  assert.ok(l instanceof eve.EveList);
  assert.equal(l.length, 3);
  assert.equal(l.at(1), 2);
  assert.equal(l.first(), 1);
  assert.deepEqual([...l], [1, 2, 3]);
  assert.deepEqual(l.toJS(), [1, 2, 3]);
  const l2 = a.swap((x) => x.conj(0)); // conj prepends to a list
  assert.deepEqual([...l2], [0, 1, 2, 3]);
  assert.deepEqual([...a.swap((x) => x.rest())], [1, 2, 3]);
  assert.equal(eve.toEDN(a.deref()), '(1 2 3)');
  a.reset(eve.edn('{:k #{1 2} :v [1 (2)]}'));
  assert.equal(a.deref().get(eve.keyword('k')).size, 2);
  assert.throws(() => a.reset(eve.edn('{:a')), (e) => e.code === 'EVE_EPARSE');
});

test('swap builds with assoc/dissoc/conj/... and shares structure', () => {
  const a = d.atom('build');
  a.reset({ items: [1, 2], tags: new Set(['a']), n: 0 });
  const out = a.swap((m) => m
    .assoc('n', m.get('n') + 1)
    .assoc('items', m.get('items').conj(3).assoc(0, 10))
    .assoc('tags', m.get('tags').conj('b').disj('a'))
    .dissoc('missing'));
  assert.deepEqual(out.toJS(), { items: [10, 2, 3], tags: new Set(['b']), n: 1 });
  const out2 = a.swap((m) => m.update('items', (v) => v.pop().slice(1, 2)).merge({ extra: true }));
  assert.deepEqual(out2.toJS(), { items: [2], tags: new Set(['b']), n: 1, extra: true });
  // extra arguments
  const c = d.atom('args');
  c.reset(1);
  assert.equal(c.swap((x, y, z) => x + y * z, 2, 3), 7);
  // swapVals: [old, new]
  const [o, nw] = c.swapVals((x) => x * 2);
  assert.equal(o, 7);
  assert.equal(nw, 14);
  // a view of a snapshot put into a swap's value
  const snap = a.deref();
  const withSnap = d.atom('withsnap');
  withSnap.reset({});
  withSnap.swap((m) => m.assoc('copy', snap).assoc('items', snap.get('items')));
  for (let i = 0; i < 20; i++) a.reset({ churn: i });
  assert.deepEqual(withSnap.deref().toJS(), { copy: out2.toJS(), items: [2] });
  // a view of another domain is copied
  const other = eve.open(null, { maxSize: MAX });
  const oa = other.atom('x');
  oa.reset({ from: 'other domain', v: [1, 2] });
  const ov = oa.deref();
  withSnap.reset(ov);
  assert.deepEqual(withSnap.deref().toJS(), { from: 'other domain', v: [1, 2] });
  withSnap.swap((m) => m.assoc('o', ov));
  assert.deepEqual(withSnap.deref().get('o').toJS(), { from: 'other domain', v: [1, 2] });
  other.close();
});

test('compareAndSet is by identity', () => {
  const a = d.atom('cas');
  a.reset({ v: 1 });
  const old = a.deref();
  assert.equal(a.compareAndSet({ v: 1 }, 2), false); // an equal new value is not the same value
  assert.equal(a.compareAndSet(old, { v: 2 }), true);
  assert.equal(a.compareAndSet(old, { v: 3 }), false);
  assert.deepEqual(a.deref().toJS(), { v: 2 });
  a.reset(5);
  assert.equal(a.compareAndSet(5, 6), true); // small ints are immediates
  assert.equal(a.deref(), 6);
});

test('views cannot be constructed, and outside a swap are read-only', () => {
  assert.throws(() => new eve.EveMap(), TypeError);
  const a = d.atom('ro');
  a.reset({ x: 1 });
  const m = a.deref();
  assert.equal(m.writable, false);
  assert.throws(() => m.assoc('y', 2), (e) => e instanceof eve.EveError && e.code === 'EVE_ETXN');
  let escaped;
  a.swap((v) => { escaped = v; assert.equal(v.writable, true); return v; });
  assert.throws(() => escaped.get('x'), (e) => e.code === 'EVE_ETXN');
  assert.equal(escaped.writable, false);
});

test('atoms() lists names, version counts changes', () => {
  const e = eve.open(null, { maxSize: MAX });
  e.atom('b');
  e.atom('a');
  assert.deepEqual(e.atoms(), ['a', 'b']);
  const a = e.atom('a');
  const v0 = a.version;
  a.reset(1);
  a.swap((x) => x + 1);
  assert.equal(a.version, v0 + 2);
  e.removeAtom('b');
  assert.deepEqual(e.atoms(), ['a']);
  assert.equal(e.check().ok, true);
  e.close();
});

test('watch yields changes without blocking the event loop', async () => {
  const a = d.atom('watched');
  a.reset(0);
  const ac = new AbortController();
  const seen = [];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const consumer = (async () => {
    for await (const v of a.watch({ signal: ac.signal })) {
      seen.push(v);
      if (v === 3) break;
    }
  })();
  for (let i = 1; i <= 3; i++) {
    await new Promise((r) => setTimeout(r, 60));
    a.reset(i);
  }
  await consumer;
  clearInterval(timer);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.ok(ticks > 10, 'the event loop ran timers meanwhile');
  assert.equal(await a.waitChange(a.version, 50), null);
});

test('ESM entry', async () => {
  const m = await import('../index.mjs');
  assert.equal(m.open, eve.open);
  assert.equal(m.default, eve);
});

test('change: as swap, returning nothing; a synchronous loop of them pins nothing', () => {
  const e = eve.open(null, { maxSize: MAX });
  const a = e.atom('c');
  a.reset({ n: 0, pad: Array.from({ length: 50 }, (_, i) => 'padding string number ' + i) });
  assert.equal(a.change((m, k) => m.assoc(k, m.get(k) + 1), 'n'), undefined);
  for (let i = 0; i < 20000; i++) a.change((m) => m.assoc('n', m.get('n') + 1));
  const st = e.stats();
  assert.equal(st.snapshots, 0);
  assert.ok(st.retiredBytes < 256 * 1024, `retired ${st.retiredBytes}`); // replaced versions were freed as it went
  assert.equal(a.deref().get('n'), 20001);
  assert.throws(() => a.change(() => { throw new RangeError('x'); }), RangeError);
  assert.equal(a.deref().get('n'), 20001);
  e.close();
});

test('twelve watchers at once (more than libuv has pool threads) all see the changes', async () => {
  const e = eve.open(null, { maxSize: MAX });
  const atoms = Array.from({ length: 12 }, (_, i) => e.atom('w' + i));
  atoms.forEach((x) => x.reset(0));
  const got = atoms.map(() => []);
  const loops = atoms.map((x, i) => (async () => {
    for await (const v of x.watch()) { got[i].push(v); if (v === 2) break; }
  })());
  await new Promise((r) => setTimeout(r, 30));
  await require('fs').promises.readFile(__filename); // the pool is not taken by the watchers
  atoms.forEach((x) => x.reset(1));
  await new Promise((r) => setTimeout(r, 30));
  atoms.forEach((x) => x.reset(2));
  await Promise.all(loops);
  for (const g of got) {
    assert.equal(g[g.length - 1], 2);
    assert.ok(g.every((v, i) => (v === 1 || v === 2) && (i === 0 || v > g[i - 1])), String(g));
  }
  e.close();
});
