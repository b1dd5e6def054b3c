'use strict';
// worker_threads: an in-memory domain shared by the handle the parent
// posts, a file domain by its path; the addon loads in every worker.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { Worker } = require('worker_threads');
const eve = require('..');
const { MAX, tmpdir } = require('./helpers');

const WORKERS = 4;
const N = parseInt(process.env.EVE_NODE_WORKER_INCREMENTS || '10000', 10);

const WORKER_SRC = `
const { parentPort, workerData } = require('worker_threads');
const eve = require(${JSON.stringify(path.join(__dirname, '..'))});
const { handle, file, n } = workerData;
const d = handle ? eve.join(handle) : eve.open(file, { maxSize: ${MAX} });
const a = d.atom('counter');
const m = d.atom('seen');
for (let i = 0; i < n; i++) a.swap((v) => (v === null ? 1 : v + 1));
// a map built by every worker at once
m.swap((s, id) => s.assoc('w' + id, { done: n }), workerData.id);
const v = a.deref(); // a view's lifetime ends with the worker: no leak
d.close();
parentPort.postMessage('done');
`;

function runWorker(data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SRC, { eval: true, workerData: data });
    w.on('message', (m) => (m === 'done' ? resolve() : reject(new Error(m))));
    w.on('error', reject);
    w.on('exit', (code) => code !== 0 && reject(new Error('worker exit ' + code)));
  });
}

test(`${WORKERS} worker_threads x ${N} increments on an in-memory domain, exact`, async () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('counter');
  a.reset(0);
  d.atom('seen').reset({});
  const handle = d.handle();
  await Promise.all(Array.from({ length: WORKERS }, (_, id) => runWorker({ handle, n: N, id })));
  assert.equal(a.deref(), WORKERS * N);
  assert.deepEqual(d.atom('seen').deref().toJS(),
    Object.fromEntries(Array.from({ length: WORKERS }, (_, id) => ['w' + id, { done: N }])));
  assert.equal(d.check().ok, true);
  d.close();
});

test(`${WORKERS} worker_threads on a file domain by path, exact`, async (t) => {
  const file = path.join(tmpdir(t), 'w.eve');
  const d = eve.open(file, { maxSize: MAX });
  d.atom('counter').reset(0);
  d.atom('seen').reset({});
  await Promise.all(Array.from({ length: WORKERS }, (_, id) => runWorker({ file, n: 2000, id })));
  assert.equal(d.atom('counter').deref(), WORKERS * 2000);
  d.close();
});

test('a joined domain outlives the parent closing its own handle', { skip: !global.gc && 'needs node --expose-gc' }, async () => {
  const d = eve.open(null, { maxSize: MAX });
  d.atom('counter').reset(0);
  d.atom('seen').reset({});
  const handle = d.handle();
  // the worker joins, then the parent closes; the worker goes on
  const w = new Worker(`
    const { parentPort, workerData } = require('worker_threads');
    const eve = require(${JSON.stringify(path.join(__dirname, '..'))});
    const d = eve.join(workerData);
    parentPort.postMessage('joined');
    parentPort.once('message', () => {
      const a = d.atom('counter');
      for (let i = 0; i < 100; i++) a.swap((v) => v + 1);
      parentPort.postMessage(a.deref());
    });
  `, { eval: true, workerData: handle });
  const msgs = [];
  await new Promise((resolve, reject) => {
    w.on('error', reject);
    w.on('message', (m) => {
      msgs.push(m);
      if (m === 'joined') { d.close(); w.postMessage('go'); } else { resolve(); }
    });
  });
  await w.terminate();
  assert.deepEqual(msgs, ['joined', 100]);
  // once the parent's atoms are collected too, and the worker's environment
  // is gone, nobody holds the domain: it is closed and its handle dead
  global.gc();
  await new Promise((r) => setImmediate(r));
  assert.throws(() => eve.join(handle), (e) => e.code === 'EVE_ENOTFOUND'); // everyone has closed
});

test('examples/node/worker-pool.js: every job done exactly once', () => {
  const { execFileSync } = require('child_process');
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'node', 'worker-pool.js'), '3', '12'], { encoding: 'utf8' });
  assert.match(out, /12 jobs by 3 workers/);
  const per = JSON.parse(out.match(/jobs per worker: (\{[^}]*\})/)[1].replace(/'/g, '"').replace(/(\w+):/g, '"$1":'));
  assert.equal(Object.values(per).reduce((a, b) => a + b, 0), 12);
  assert.match(out, /job0: \{ primes: 2262/);
});

test('workers terminated while they watch an atom: no crash, the domain goes on', async () => {
  const d = eve.open(null, { maxSize: MAX });
  d.atom('x').reset(0);
  for (let k = 0; k < 4; k++) {
    const w = new Worker(`
      const { parentPort, workerData } = require('worker_threads');
      const eve = require(${JSON.stringify(path.join(__dirname, '..'))});
      const d = eve.join(workerData);
      (async () => { for await (const v of d.atom('x').watch()) parentPort.postMessage(v); })();
      parentPort.postMessage('watching');
    `, { eval: true, workerData: d.handle() });
    await new Promise((r) => w.once('message', r));
    if (k % 2) d.atom('x').swap((v) => v + 1);
    await new Promise((r) => setTimeout(r, 20 + 40 * k));
    await w.terminate();
  }
  d.atom('x').swap((v) => v + 1);
  assert.equal(d.atom('x').deref(), 3);
  assert.equal(d.check().ok, true);
  d.close();
});
