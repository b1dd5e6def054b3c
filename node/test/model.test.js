'use strict';
// Model-based: random operations on nested maps, vectors and sets in an
// atom, each checked against the same operation on plain JS objects.
const test = require('node:test');
const assert = require('node:assert/strict');
const eve = require('..');
const { MAX, rng } = require('./helpers');

const OPS = parseInt(process.env.EVE_NODE_MODEL_OPS || '20000', 10);

test(`model: ${OPS} random operations against plain JS objects`, () => {
  const rand = rng(12345);
  const int = (n) => Math.floor(rand() * n);
  const pick = (arr) => arr[int(arr.length)];
  const kw = ['a', 'b', 'ns/c'].map(eve.keyword);
  const scalar = () => {
    switch (int(8)) {
      case 0: return int(1000) - 500;
      case 1: return int(2 ** 50) * (rand() < 0.5 ? -1 : 1);
      case 2: return rand() * 100 + 0.5;
      case 3: return 's' + int(100);
      case 4: return 'a longer string, allocated in the domain ' + int(1000);
      case 5: return rand() < 0.5;
      case 6: return null;
      default: return pick(kw);
    }
  };
  const value = (depth = 0) => {
    const r = int(depth > 1 ? 2 : 6);
    if (r < 2) return scalar();
    if (r === 2) { const o = {}; for (let i = int(4); i > 0; i--) o['k' + int(8)] = value(depth + 1); return o; }
    if (r === 3) return Array.from({ length: int(5) }, () => value(depth + 1));
    if (r === 4) return new Set(Array.from({ length: int(5) }, () => (rand() < 0.5 ? int(20) : 's' + int(20))));
    return scalar();
  };
  const clone = (v) => (v instanceof Set ? new Set(v) : Array.isArray(v) ? v.map(clone)
    : v && typeof v === 'object' && !(v instanceof eve.Keyword) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v);
  const kind = (v) => (v instanceof Set ? 'set' : Array.isArray(v) ? 'vector'
    : v && typeof v === 'object' && !(v instanceof eve.Keyword) ? 'map' : 'scalar');

  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('model');
  const model = {};
  a.reset({});
  let checks = 0;
  const counts = {};
  for (let op = 0; op < OPS; op++) {
    const key = 'top' + int(24);
    const cur = model[key];
    const k = kind(cur);
    let name;
    const r = int(10);
    if (cur === undefined || r === 0) {
      name = 'assoc';
      const v = value();
      a.swap((m) => m.assoc(key, v));
      model[key] = clone(v);
    } else if (r === 1) {
      name = 'dissoc';
      a.swap((m) => m.dissoc(key));
      delete model[key];
    } else if (k === 'map') {
      const ik = 'k' + int(8);
      if (rand() < 0.6) {
        name = 'map-assoc';
        const v = value(1);
        a.swap((m) => m.assoc(key, m.get(key).assoc(ik, v)));
        cur[ik] = clone(v);
      } else {
        name = 'map-dissoc';
        a.swap((m) => m.update(key, (inner) => inner.dissoc(ik)));
        delete cur[ik];
      }
    } else if (k === 'vector') {
      const s = int(3);
      if (s === 0 || cur.length === 0) {
        name = 'vec-conj';
        const v = value(1);
        a.swap((m) => m.assoc(key, m.get(key).conj(v)));
        cur.push(clone(v));
      } else if (s === 1) {
        name = 'vec-assoc';
        const i = int(cur.length + 1);
        const v = scalar();
        a.swap((m) => m.assoc(key, m.get(key).assoc(i, v)));
        cur[i] = v;
      } else {
        name = 'vec-pop';
        a.swap((m) => m.assoc(key, m.get(key).pop()));
        cur.pop();
      }
    } else if (k === 'set') {
      const x = rand() < 0.5 ? int(20) : 's' + int(20);
      if (rand() < 0.6) {
        name = 'set-conj';
        a.swap((m) => m.assoc(key, m.get(key).conj(x)));
        cur.add(x);
      } else {
        name = 'set-disj';
        a.swap((m) => m.assoc(key, m.get(key).disj(x)));
        cur.delete(x);
      }
    } else {
      name = 'scalar-replace';
      const v = scalar();
      a.swap((m, kk, vv) => m.assoc(kk, vv), key, v);
      model[key] = v;
    }
    counts[name] = (counts[name] || 0) + 1;
    // every operation: the key it touched, read through a fresh view
    const view = a.deref();
    assert.equal(view.has(key), key in model, `op ${op} ${name} has`);
    if (key in model) {
      const got = view.get(key);
      const want = model[key];
      assert.deepEqual(eve.isView(got) ? got.toJS() : got, want, `op ${op} ${name} ${key}`);
      if (kind(want) === 'vector') {
        assert.equal(got.length, want.length);
        if (want.length) assert.deepEqual(eve.toJS(got.at(-1)), want[want.length - 1]);
      } else if (kind(want) === 'set') {
        assert.equal(got.size, want.size);
        for (const x of want) assert.ok(got.has(x));
      } else if (kind(want) === 'map') {
        assert.equal(got.size, Object.keys(want).length);
      }
    }
    // every 500: the whole value, its size and its EDN reading back equal
    if (op % 500 === 499) {
      assert.equal(view.size, Object.keys(model).length);
      assert.deepEqual(view.toJS(), model);
      assert.ok(view.equals(model), `op ${op}: eve equality with the model`);
      checks++;
    }
  }
  assert.deepEqual(a.deref().toJS(), model);
  assert.equal(d.check().ok, true);
  assert.ok(checks >= Math.floor(OPS / 500));
  for (const n of ['assoc', 'dissoc', 'map-assoc', 'map-dissoc', 'vec-conj', 'vec-assoc', 'vec-pop', 'set-conj', 'set-disj'])
    assert.ok(counts[n] > 0, `operation ${n} exercised`);
  d.close();
});
