'use strict';
// Several processes swapping one atom of a file domain: exact counts.
// With EVE_CLI (the eve command-line tool) and EVE_C_COUNTER (eve-counter,
// examples/counter.c) set, the CLI, a C program and Node swap one counter
// at once.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const eve = require('..');
const { tmpdir } = require('./helpers');

const INCR = path.join(__dirname, 'fixtures', 'incr.js');
const PROCS = 8;
const N = parseInt(process.env.EVE_NODE_INCREMENTS || '10000', 10);

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => (err += b));
    p.on('error', reject);
    p.on('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code} ${sig || ''} ${err}`))));
  });
}

test(`${PROCS} processes x ${N} increments, exact`, async (t) => {
  const file = path.join(tmpdir(t), 'counter.eve');
  const d = eve.open(file, { maxSize: 256 * 1024 * 1024 });
  const a = d.atom('counter');
  a.reset(0);
  await Promise.all(Array.from({ length: PROCS }, () => run(process.execPath, [INCR, file, 'counter', String(N)])));
  assert.equal(a.deref(), PROCS * N);
  assert.equal(d.check().ok, true);
  d.close();
});

const CLI = process.env.EVE_CLI;
// EVE_PYTHON: a python with the eve package (make test-python's
// build-python/venv/bin/python): its processes join the interop test
const PYTHON = process.env.EVE_PYTHON;
const PY_INCR = 'import sys, eve\nwith eve.open(sys.argv[1]) as d:\n    a = d.atom("counter")\n    for _ in range(int(sys.argv[2])):\n        a.swap(lambda v: v + 1)\n';
const C_COUNTER = process.env.EVE_C_COUNTER;
test(`the CLI, a C program${PYTHON ? ', Python' : ''} and Node swap one counter at once, exact`, { skip: !(CLI && C_COUNTER) && 'EVE_CLI and EVE_C_COUNTER not set' }, async (t) => {
  const file = path.join(tmpdir(t), 'interop.eve');
  const d = eve.open(file, { maxSize: 256 * 1024 * 1024 });
  const a = d.atom('counter');
  a.reset(0);
  const cli = async (n) => { for (let i = 0; i < n; i++) await run(CLI, ['swap', file, 'counter', 'inc']); };
  const inThisProcess = (async () => {
    for (let i = 0; i < 2000; i++) {
      a.swap((v) => v + 1);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  await Promise.all([
    run(C_COUNTER, [file, 'counter', '5000']), run(C_COUNTER, [file, 'counter', '5000']),
    run(process.execPath, [INCR, file, 'counter', '3000']), run(process.execPath, [INCR, file, 'counter', '3000']),
    cli(100), cli(100), inThisProcess,
    ...(PYTHON ? [run(PYTHON, ['-c', PY_INCR, file, '2000']), run(PYTHON, ['-c', PY_INCR, file, '2000'])] : []),
  ]);
  const want = 2 * 5000 + 2 * 3000 + 2 * 100 + 2000 + (PYTHON ? 4000 : 0);
  assert.equal(a.deref(), want);
  assert.equal(execFileSync(CLI, ['get', file, 'counter'], { encoding: 'utf8' }).trim(), String(want));
  // a value the CLI writes reads back in Node, and the other way
  execFileSync(CLI, ['set', file, 'm', '{:a [1 2 #{3}] "s" "text" :l (1 2)}']);
  const m = d.atom('m').deref();
  assert.deepEqual(m.get(eve.keyword('a')).toJS(), [1, 2, new Set([3])]);
  assert.equal(m.get('s'), 'text');
  assert.ok(m.get(eve.keyword('l')) instanceof eve.EveList);
  d.atom('from-node').reset({ x: [1, 2.5, eve.keyword('k')] });
  assert.equal(execFileSync(CLI, ['get', file, 'from-node'], { encoding: 'utf8' }).trim(), '{"x" [1 2.5 :k]}');
  d.close();
});
