"""Processes: 8 x N increments of one counter, exact; views across fork()."""
import multiprocessing
import os

import pytest

import eve

N = int(os.environ.get("EVE_PY_INCREMENTS", "10000"))


def incr(path, n):
    with eve.open(path) as d:
        a = d.atom("counter")
        for _ in range(n):
            a.swap(lambda v: v + 1)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_8_processes_increment_one_counter_exactly(path, method):
    n = N if method == "fork" else N // 10
    with eve.open(path, max_size=64 << 20) as d:
        d.atom("counter").reset(0)
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=incr, args=(path, n)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0] * 8
    with eve.open(path) as d:
        assert d.atom("counter").deref() == 8 * n
        assert d.check()["problems"] == 0


def in_child(fn):
    """Run fn in a forked child; its result (a short str) comes back."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn()
        except BaseException as e:  # noqa: B902 - report anything
            out = "raised %s" % type(e).__name__
        os.write(w, str(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "child crashed: %r" % status
    return data.decode()


def test_a_view_from_before_fork_raises_in_the_child(path):
    d = eve.open(path, max_size=64 << 20)
    a = d.atom("x")
    a.reset({"k": [1, 2, 3]})
    v = a.deref()
    inner = v["k"]

    def child():
        results = []
        for f in (lambda: len(v), lambda: v["k"], lambda: list(inner), lambda: inner[0],
                  lambda: v.to_python(), lambda: eve.dumps_edn(v)):
            try:
                f()
                results.append("ok")
            except eve.ForkedError:
                results.append("forked")
        # the domain handle itself goes on working in the child
        a.swap(lambda m: m.assoc("child", True))
        results.append(str(a.deref()["child"]))
        return ",".join(results)

    assert in_child(child) == "forked,forked,forked,forked,forked,forked,True"
    assert v == {"k": [1, 2, 3]} and a.deref()["child"] is True  # the parent's view still reads
    del v, inner
    d.close()


def pool_job(path, job):
    """A worker: do one job, record its result in the shared job map."""
    with eve.open(path) as d:
        d.atom("jobs").swap(lambda m, j: m.assoc(j, {"square": j * j, "pid": os.getpid()}), job)
        return job


def test_process_pool_shares_a_job_map(path):
    from concurrent.futures import ProcessPoolExecutor
    with eve.open(path, max_size=64 << 20) as d:
        d.atom("jobs").reset({})
        with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
            assert sorted(pool.map(pool_job, [path] * 40, range(40))) == list(range(40))
        jobs = d.atom("jobs").deref()
        assert len(jobs) == 40 and all(jobs[j]["square"] == j * j for j in range(40))
        del jobs
