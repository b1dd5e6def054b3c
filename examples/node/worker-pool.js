'use strict';
// A worker pool sharing one in-memory eve domain.
//
//   node examples/node/worker-pool.js [WORKERS] [JOBS]
//
// The main thread puts JOBS jobs in the atom `queue` (a vector) and starts
// WORKERS worker threads, giving each the domain's handle.  A worker claims
// a job with one swap (swapVals: the queue it took the job from, and the
// queue without it; no locks, no messages), computes, and records the
// result in the atom `results` (a map job -> {worker, primes}).  The main
// thread follows `results` with watch(), which never blocks its event loop,
// until every job is done.
const path = require('path');
const { Worker, isMainThread, workerData } = require('worker_threads');
const eve = require(process.env.EVE_ATOMS || path.join(__dirname, '..', '..', 'node'));

function primesBelow(n) {
  let count = 0;
  for (let i = 2; i < n; i++) {
    let p = true;
    for (let j = 2; j * j <= i; j++) if (i % j === 0) { p = false; break; }
    if (p) count++;
  }
  return count;
}

if (isMainThread) {
  const workers = parseInt(process.argv[2] || '4', 10);
  const jobs = parseInt(process.argv[3] || '40', 10);
  const d = eve.open(null, { maxSize: 64 * 1024 * 1024 });
  const queue = d.atom('queue');
  const results = d.atom('results');
  results.reset({});
  queue.reset(Array.from({ length: jobs }, (_, i) => ({ id: 'job' + i, n: 20000 + 1000 * i })));
  const handle = d.handle();
  const started = Date.now();
  const pool = Array.from({ length: workers }, (_, id) =>
    new Worker(__filename, { workerData: { handle, id } }));
  (async () => {
    let done = results.deref().size;
    if (done < jobs) {
      for await (const r of results.watch()) {
        done = r.size;
        process.stdout.write(`\r${done}/${jobs} jobs done`);
        if (done === jobs) break;
      }
    }
    const all = results.deref().toJS();
    const byWorker = {};
    for (const { worker } of Object.values(all)) byWorker[worker] = (byWorker[worker] || 0) + 1;
    console.log(`\n${jobs} jobs by ${workers} workers in ${Date.now() - started} ms; jobs per worker:`, byWorker);
    console.log('job0:', all.job0, `job${jobs - 1}:`, all[`job${jobs - 1}`]);
    await Promise.all(pool.map((w) => new Promise((r) => w.on('exit', r))));
    d.close();
  })();
} else {
  const d = eve.join(workerData.handle);
  const queue = d.atom('queue');
  const results = d.atom('results');
  for (;;) {
    // take the first job, atomically: every job goes to exactly one worker
    const [before] = queue.swapVals((q) => (q.length ? q.slice(1) : q));
    if (before.length === 0) break;
    const job = before.at(0).toJS();
    const primes = primesBelow(job.n);
    results.swap((m) => m.assoc(job.id, { worker: workerData.id, primes }));
  }
  d.close();
}
