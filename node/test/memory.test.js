'use strict';
// Memory: many derefs and swaps (EVE_NODE_MEMORY_ROUNDS, default 1,000,000,
// half each) with collections forced (node --expose-gc): the process's RSS
// and the domain's live bytes stay flat, and no snapshot outlives its views.
const test = require('node:test');
const assert = require('node:assert/strict');
const eve = require('..');
const { MAX } = require('./helpers');

const ROUNDS = parseInt(process.env.EVE_NODE_MEMORY_ROUNDS || '1000000', 10);
const SAMPLES = 10;

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
  }
};

test(`memory: ${ROUNDS} derefs and swaps, RSS and live bytes stable`, { skip: !global.gc && 'needs node --expose-gc' }, async () => {
  const d = eve.open(null, { maxSize: MAX });
  const a = d.atom('m');
  a.reset({ n: 0, items: Array.from({ length: 10 }, (_, i) => 'item number ' + i), tags: new Set(['x', 'y']) });
  const step = (m, n) => m.assoc('n', m.get('n') + 1).assoc('items', m.get('items').assoc(n % 10, 'item ' + n));
  let n = 0;
  const per = Math.ceil(ROUNDS / SAMPLES);
  const rss = [];
  const live = [];
  for (let s = 0; s < SAMPLES; s++) {
    for (let i = 0; i < per; i += 2) {
      const v = a.deref(); // a view on a snapshot, dropped at once
      assert.equal(v.get('n'), n);
      const out = a.swap(step, n++);
      if (i % 1000 === 0) assert.equal(out.get('n'), n);
    }
    await settle();
    const st = d.stats();
    assert.equal(st.snapshots, 0, 'every view collected ended its snapshot');
    rss.push(process.memoryUsage().rss);
    live.push(st.liveBytes);
  }
  assert.equal(a.deref().get('n'), n);
  // Live bytes stay flat: each swap allocates a new version (~1 KB), so
  // keeping the replaced ones would add about ROUNDS/2 KB.  (eve's own
  // count moves by a few hundred bytes per collection cycle, bounded near
  // 80 KB, counted reachable by eve_check: see README "Memory".)
  const spread = Math.max(...live) - Math.min(...live);
  assert.ok(spread <= 96 * 1024, `live bytes moved by ${spread}: ${live}`);
  const ck = d.check();
  assert.equal(ck.ok, true);
  assert.equal(ck.leakedBytes, 0);
  // RSS: at most 64 MiB above the level after warm-up (V8's heap and
  // malloc's arenas settle in the first samples); a leak of 100 bytes per
  // operation would add 80 MB over the last 800,000.
  const grow = Math.max(...rss.slice(2)) - rss[1];
  assert.ok(grow < 64 * 1024 * 1024, `RSS grew ${grow} bytes: ${rss}`);
  d.close();
});
