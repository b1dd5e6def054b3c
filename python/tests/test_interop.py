"""The CLI, a C program and Python processes swapping the same atom at once:
exact.

Runs when EVE_CLI names the eve command-line tool and EVE_C_COUNTER the C
writer (examples/counter.c; make test-python builds both and sets them);
skipped otherwise."""
import multiprocessing
import os
import subprocess

import pytest

import eve

CLI = os.environ.get("EVE_CLI")
C_COUNTER = os.environ.get("EVE_C_COUNTER")
pytestmark = pytest.mark.skipif(not CLI or not os.access(CLI, os.X_OK)
                                or not C_COUNTER or not os.access(C_COUNTER, os.X_OK),
                                reason="EVE_CLI (the eve tool) or EVE_C_COUNTER not given")


def py_incr(path, n):
    with eve.open(path) as d:
        a = d.atom("counter")
        for _ in range(n):
            a.swap(lambda v: v + 1)


def cli_incr(path, n):
    for _ in range(n):
        subprocess.run([CLI, "swap", path, "counter", "inc"], check=True, stdout=subprocess.DEVNULL)


def test_cli_c_and_python_swap_one_counter_exactly(path):
    with eve.open(path, max_size=64 << 20) as d:
        d.atom("counter").reset(0)
    ctx = multiprocessing.get_context("fork")
    c_writers = [subprocess.Popen([C_COUNTER, path, "counter", "5000"]) for _ in range(2)]
    procs = [ctx.Process(target=py_incr, args=(path, 2000)) for _ in range(3)]
    procs += [ctx.Process(target=cli_incr, args=(path, 150)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    assert [w.wait() for w in c_writers] == [0, 0]
    expected = 2 * 5000 + 3 * 2000 + 2 * 150
    out = subprocess.run([CLI, "get", path, "counter"], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == str(expected)
    with eve.open(path) as d:
        assert d.atom("counter").deref() == expected


def test_python_reads_what_the_cli_wrote(path):
    subprocess.run([CLI, "set", path, "m", '{:a [1 2 #{3}] "s" "text" :u #uuid "00000000-0000-0000-0000-000000000001"}'],
                   check=True, stdout=subprocess.DEVNULL)
    with eve.open(path) as d:
        v = d.atom("m").deref()
        assert v == {eve.Keyword("a"): [1, 2, {3}], "s": "text",
                     eve.Keyword("u"): __import__("uuid").UUID(int=1)}
        d.atom("m").swap(lambda m: m.assoc("from", "python"))
        del v
    out = subprocess.run([CLI, "get-in", path, "m", '["from"]'], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == '"python"'
