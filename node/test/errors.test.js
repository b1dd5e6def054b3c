'use strict';
// Every error path: eve's codes as EveError subclasses with .code, and the
// binding's own TypeError/RangeError.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const eve = require('..');
const { MAX, tmpdir } = require('./helpers');

const code = (c) => (e) => {
  assert.ok(e instanceof eve.EveError, `an EveError, got ${e}`);
  assert.ok(e instanceof Error);
  assert.equal(e.code, c);
  assert.equal(typeof e.errno, 'number');
  assert.match(e.message, new RegExp(c));
  return true;
};

test('values eve cannot hold are TypeErrors naming what they got', () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('x');
  a.reset(1);
  const cases = [
    [() => 1, /function/], [Symbol('s'), /symbol/], [new (class Foo {})(), /Foo/], [/re/, /RegExp/],
    [new Int16Array(2), /Int16Array/], [new WeakMap(), /WeakMap/], [Promise.resolve(), /Promise/],
    [{ nested: [1, { deep: () => 0 }] }, /function/], [new Map([[1, Symbol('v')]]), /symbol/],
  ];
  for (const [v, re] of cases) {
    assert.throws(() => a.reset(v), (e) => e instanceof TypeError && re.test(e.message));
    assert.throws(() => eve.toEDN(v), TypeError);
  }
  assert.equal(a.deref(), 1, 'nothing published');
  assert.throws(() => a.reset(new Date(NaN)), RangeError);
  assert.throws(() => a.reset(2n ** 64n), RangeError);
  assert.throws(() => a.reset([1, -(2n ** 63n) - 1n]), RangeError);
  assert.throws(() => eve.keyword(1), TypeError);
  assert.throws(() => eve.uuid('not-a-uuid'), TypeError);
  assert.throws(() => a.swap('not a function'), TypeError);
  assert.throws(() => eve.open(1), TypeError);
  assert.throws(() => eve.open(null, { maxSize: -1 }), TypeError);
  assert.throws(() => eve.open(null, { open: 'sometimes' }), TypeError);
  assert.throws(() => d.atom(5), TypeError);
  d.close();
});

test('a swap function that throws aborts the swap: nothing published, the exception propagates', () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('x');
  a.reset({ n: 1 });
  const v0 = a.version;
  class Mine extends Error {}
  assert.throws(() => a.swap((m) => { m.assoc('n', 2); throw new Mine('no'); }), Mine);
  assert.throws(() => a.swapVals(() => { throw new Mine('no'); }), Mine);
  assert.throws(() => a.swap(() => () => 0), TypeError); // returns what eve cannot hold
  assert.throws(() => a.swap(() => { throw 'a string'; }), (e) => e === 'a string');
  assert.equal(a.version, v0);
  assert.deepEqual(a.deref().toJS(), { n: 1 });
  assert.equal(d.stats().readers, 0 + d.stats().snapshots ? d.stats().readers : 0);
  // the swap machinery is still sound afterwards
  assert.deepEqual(a.swap((m) => m.assoc('n', 3)).toJS(), { n: 3 });
  d.close();
});

test('changing the atom inside its own swap is EVE_EREENTRY; other atoms are fine', () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('a');
  const b = d.atom('b');
  a.reset(0);
  b.reset(0);
  for (const f of [() => a.reset(1), () => a.swap((x) => x), () => a.compareAndSet(0, 1), () => d.atom('a').reset(2)])
    assert.throws(() => a.swap((x) => { f(); return x; }), code('EVE_EREENTRY'));
  a.swap((x) => { b.swap((y) => y + 10); return x + 1; });
  assert.equal(a.deref(), 1);
  assert.equal(b.deref(), 10);
  d.close();
});

test('removed atom: EVE_EREMOVED', () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('gone');
  a.reset({ x: 'a value' });
  d.removeAtom('gone');
  assert.throws(() => a.deref(), code('EVE_EREMOVED'));
  assert.throws(() => a.reset(1), code('EVE_EREMOVED'));
  assert.throws(() => a.swap((x) => x), code('EVE_EREMOVED'));
  assert.throws(() => d.removeAtom('gone'), code('EVE_ENOTFOUND'));
  assert.throws(() => d.atom('absent', { create: false }), code('EVE_ENOTFOUND'));
  assert.ok(eve.errors.EVE_ENOTFOUND && new eve.errors.EVE_ENOTFOUND('x') instanceof eve.EveError);
  d.close();
});

test('closed domain: every operation is EVE_EINVAL; views already read stay readable', () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('x');
  a.reset({ kept: [1, 2] });
  const v = a.deref();
  d.close();
  d.close(); // twice is fine
  assert.throws(() => d.atom('y'), code('EVE_EINVAL'));
  assert.throws(() => a.deref(), code('EVE_EINVAL'));
  assert.throws(() => a.reset(1), code('EVE_EINVAL'));
  assert.throws(() => a.swap((x) => x), code('EVE_EINVAL'));
  assert.throws(() => a.version, code('EVE_EINVAL'));
  assert.throws(() => d.stats(), code('EVE_EINVAL'));
  assert.throws(() => d.handle(), code('EVE_EINVAL'));
  assert.deepEqual(v.toJS(), { kept: [1, 2] });
});

test('files: missing, existing, corrupt, damaged header, read-only', (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'a.eve');
  assert.throws(() => eve.open(p, { open: 'existing' }), code('EVE_ENOENT'));
  const d = eve.open(p, { maxSize: MAX });
  d.atom('x').reset({ v: 1 });
  d.close();
  assert.throws(() => eve.open(p, { open: 'new' }), code('EVE_EEXIST'));
  const ro = eve.open(p, { readOnly: true });
  assert.deepEqual(ro.atom('x', { create: false }).deref().toJS(), { v: 1 });
  assert.throws(() => ro.atom('x').reset(2), code('EVE_ETXN'));
  ro.close();
  assert.throws(() => eve.open(null, { readOnly: true }), code('EVE_EINVAL'));
  const junk = path.join(dir, 'junk.eve');
  fs.writeFileSync(junk, Buffer.alloc(65536, 0x5a));
  assert.throws(() => eve.open(junk), code('EVE_ENOTDOMAIN'));
  // a real domain with its header damaged past the magic
  const bad = path.join(dir, 'bad.eve');
  fs.copyFileSync(p, bad);
  const fd = fs.openSync(bad, 'r+');
  const buf = Buffer.alloc(64);
  fs.readSync(fd, buf, 0, 64, 0);
  for (let i = 16; i < 64; i++) buf[i] ^= 0xff;
  fs.writeSync(fd, buf, 0, 64, 0);
  fs.closeSync(fd);
  assert.throws(() => eve.open(bad), (e) => e instanceof eve.EveError &&
    ['EVE_EBADHDR', 'EVE_EVERSION', 'EVE_ECORRUPT', 'EVE_ENOTDOMAIN'].includes(e.code));
  const short = path.join(dir, 'short.eve');
  fs.writeFileSync(short, fs.readFileSync(p).subarray(0, 100));
  assert.throws(() => eve.open(short), (e) => e instanceof eve.EveError);
  assert.throws(() => eve.open(path.join(dir, 'no', 'such', 'dir.eve')), code('EVE_ENOENT'));
});

test('full domain: EVE_EFULL, nothing published, still usable', () => {
  const d = eve.open(null, { maxSize: 1 << 20 });
  const a = d.atom('x');
  a.reset(1);
  const v0 = a.version;
  const big = Array.from({ length: 5000 }, (_, i) => String(i).repeat(50));
  assert.throws(() => a.reset(big), code('EVE_EFULL'));
  assert.throws(() => a.swap(() => big), code('EVE_EFULL'));
  assert.equal(a.deref(), 1, 'nothing published');
  assert.equal(a.version, v0);
  assert.equal(a.swap((v) => v + 1), 2, 'the domain is still usable');
  d.close();
});

test('parse errors, depth, escaped views, bad handles', () => {
  assert.throws(() => eve.fromEDN('{:a'), code('EVE_EPARSE'));
  assert.throws(() => eve.fromEDN('1 2'), code('EVE_EPARSE'));
  assert.throws(() => eve.fromJSONText('{'), code('EVE_EPARSE'));
  assert.throws(() => eve.fromEDN(3), TypeError);
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('x');
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  // a cycle: EVE_EDEPTH past EVE_MAX_NESTING levels, or V8's stack limit first
  const deep = (e) => e.code === 'EVE_EDEPTH' || (e instanceof RangeError && /stack/.test(e.message));
  assert.throws(() => a.reset(cyclic), deep);
  const arr = [];
  arr.push(arr);
  assert.throws(() => a.reset(arr), deep);
  let nest = 0;
  for (let i = 0; i < 5000; i++) nest = [nest];
  assert.throws(() => a.reset(nest), deep);
  nest = 0;
  for (let i = 0; i < 500; i++) nest = [nest];
  a.reset(nest); // 500 levels are fine
  assert.equal(eve.toEDN(a.deref()).length, 1001);
  a.reset({ m: 1 });
  let escaped;
  a.swap((m) => (escaped = m));
  assert.throws(() => escaped.size, code('EVE_ETXN'));
  assert.throws(() => a.reset(escaped), code('EVE_ETXN'));
  assert.throws(() => a.deref().assoc('x', 1), code('EVE_ETXN'));
  // a view of one swap returned from another
  const b = d.atom('y');
  b.reset({});
  assert.throws(() => a.swap((m) => { let inner; b.swap((n) => (inner = n)); return inner; }), code('EVE_ETXN'));
  assert.throws(() => eve.join('nonsense'), code('EVE_EINVAL'));
  assert.throws(() => eve.join('eve-domain:1:1'), code('EVE_EINVAL')); // another process
  const e = eve.open(null, { maxSize: MAX });
  const h = e.handle();
  e.close();
  assert.throws(() => eve.join(h), code('EVE_ENOTFOUND'));
  d.close();
});

test('watch and waitChange on an atom that is removed: EVE_EREMOVED', async () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('w');
  a.reset(1);
  const it = a.watch();
  const next = it.next();
  setTimeout(() => d.removeAtom('w'), 30);
  await assert.rejects(next, code('EVE_EREMOVED'));
  await assert.rejects(a.waitChange(0, 100), code('EVE_EREMOVED'));
  d.close();
  await assert.rejects(a.waitChange(0, 10), code('EVE_EINVAL')); // closed
});
