'use strict';
// The ClojureScript namespace eve.core (cljs/eve/core.cljs) under nbb: its
// cljs.test suite, and nbb processes swapping one counter beside Node.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const eve = require('..');
const { tmpdir } = require('./helpers');

let NBB;
try { NBB = require.resolve('nbb/cli.js'); } catch (_) { NBB = null; }
const ROOT = path.join(__dirname, '..');
const CP = `${path.join(ROOT, 'cljs')}:${path.join(__dirname, 'cljs')}`;
const skip = !NBB && 'nbb not installed (npm install in node/)';

function nbb(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [NBB, '--classpath', CP, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out }));
  });
}

test('nbb: the eve.core cljs.test suite', { skip }, async () => {
  const { code, out } = await nbb([path.join(__dirname, 'cljs', 'eve_core_test.cljs')]);
  assert.equal(code, 0, out);
  const m = /nbb tests: (\d+) tests, (\d+) assertions passed, (\d+) failed, (\d+) errors/.exec(out);
  assert.ok(m, out);
  assert.ok(Number(m[1]) >= 5 && Number(m[2]) >= 25, out);
  assert.equal(m[3], '0', out);
  assert.equal(m[4], '0', out);
});

test('nbb processes and Node swap one counter, exact', { skip }, async (t) => {
  const file = path.join(tmpdir(t), 'cljs.eve');
  const d = eve.open(file, { maxSize: 256 * 1024 * 1024 });
  const a = d.atom('counter');
  a.reset(0);
  const script = path.join(__dirname, 'cljs', 'incr.cljs');
  const runs = [nbb([script, file, '1500']), nbb([script, file, '1500'])];
  for (let i = 0; i < 1000; i++) {
    a.swap((v) => v + 1);
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.out);
  assert.equal(a.deref(), 4000);
  d.close();
});
