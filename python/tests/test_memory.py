"""Refcounts and memory: many derefs and swaps, RSS and the domain's live
bytes stable at the end."""
import gc
import os
import sys

import eve

ROUNDS = int(os.environ.get("EVE_PY_MEMORY_ROUNDS", "1000000"))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def churn(a, n):
    for i in range(n):
        v = a.deref()
        _ = v["m"]["k"], len(v["v"]), list(v["s"])
        a.swap(lambda m, i: m.assoc("m", m["m"].assoc("k", i)).assoc("v", m["v"].assoc(i % 8, i)), i)
        if i % 3 == 0:
            a.swap_vals(lambda m: m.assoc("s", m["s"].conj(i % 5)))


def test_derefs_and_swaps_leak_nothing():
    d = eve.open(max_size=256 << 20)
    a = d.atom("x")
    a.reset({"m": {"k": 0, "long key for a block": "a string longer than seven"},
             "v": list(range(8)), "s": set()})
    warm = ROUNDS // 10
    churn(a, warm)
    gc.collect()
    rss0, live0 = rss_kib(), d.stats()["live_bytes"]
    refs0 = sys.getrefcount(None)
    churn(a, ROUNDS - warm)
    gc.collect()
    rss1, st = rss_kib(), d.stats()
    assert st["live_bytes"] <= live0 + 4096, (live0, st)
    assert st["retired_bytes"] < 1 << 20, st
    if "asan" not in os.environ.get("LD_PRELOAD", ""):  # ASan's quarantine keeps freed memory
        assert rss1 - rss0 < 8 << 10, (rss0, rss1)  # KiB: under 8 MiB of growth
    assert abs(sys.getrefcount(None) - refs0) < 100
    rep = d.check()
    assert rep["problems"] == 0 and rep["leaked_bytes"] == 0, rep
    assert d.stats()["readers"] == 0  # every snapshot ended
    d.close()
