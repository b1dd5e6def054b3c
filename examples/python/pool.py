"""A process pool sharing live state through eve.

Workers (separate processes, spawn start method) take jobs, publish their
progress in one shared map and bump a shared counter; the parent watches the
map change live, without pickling or a server process.

    python3 examples/python/pool.py [domain-file]
"""
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
import multiprocessing

import eve


def work(path, job):
    with eve.open(path) as d:
        state = d.atom("state")
        # each swap is atomic: no lock, no lost update, even with every
        # worker changing the same map at once
        state.swap(lambda m, j: m.assoc("running", m["running"].conj(j)), job)
        result = sum(i * i for i in range(job * 10000))
        state.swap(lambda m, j, r: m.assoc("running", m["running"].disj(j))
                   .assoc("done", m["done"].assoc(j, r))
                   .update_in(["count"], lambda n: n + 1), job, result)
        return job


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.mkdtemp(), "pool.eve")
    with eve.open(path, max_size=64 << 20) as d:
        state = d.atom("state")
        state.reset({"running": set(), "done": {}, "count": 0})
        jobs = list(range(1, 21))
        with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(work, path, j) for j in jobs]
            for value in state.watch(timeout=10):
                print("done %2d/%d, running %s" % (value["count"], len(jobs),
                                                   sorted(value["running"])))
                if value["count"] == len(jobs):
                    break
            for f in futures:
                f.result()
        final = state.deref()
        assert final["count"] == len(jobs) and len(final["done"]) == len(jobs)
        print("all %d jobs done; results in %s, atom 'state'" % (len(jobs), path))


if __name__ == "__main__":
    main()
