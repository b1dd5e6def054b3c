"""Atoms: deref, reset, swap, swap_vals, compare_and_set, wait/watch; the
lifetimes of views."""
import threading
import time

import pytest

import eve


def test_new_atom_holds_none(dom):
    assert dom.atom("fresh").deref() is None
    assert "fresh" in dom.atoms()


def test_swap_builds_with_the_view_methods(dom):
    a = dom.atom("stock")
    a.reset({"apple": 12, "pear": 7})
    new = a.swap(lambda m: m.assoc("apple", m["apple"] - 2))
    assert new == {"apple": 10, "pear": 7}
    assert a.swap(lambda m: m.dissoc("pear").merge({"kiwi": 1})) == {"apple": 10, "kiwi": 1}
    a.reset({"v": [1, 2, 3], "s": {1}})
    got = a.swap(lambda m: m.assoc("v", m["v"].conj(4).assoc(0, 0).pop())
                 .assoc("s", m["s"].conj(2).disj(1)))
    assert got == {"v": [0, 2, 3], "s": {2}}


def test_swap_passes_args_and_returns_plain_values_too(dom):
    a = dom.atom("n")
    a.reset(0)
    assert a.swap(lambda n, k, j: n + k + j, 2, 3) == 5
    assert a.swap(lambda n: {"n": n}) == {"n": 5}


def test_swap_vals(dom):
    a = dom.atom("n")
    a.reset([1])
    old, new = a.swap_vals(lambda v: v.conj(2))
    assert old == [1] and new == [1, 2]


def test_exception_in_swap_aborts_and_propagates(dom):
    a = dom.atom("x")
    a.reset({"k": 1})

    def bad(m):
        m.assoc("k", 2)
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        a.swap(bad)
    with pytest.raises(TypeError):
        a.swap(lambda m: object())
    with pytest.raises(OverflowError):
        a.swap(lambda m: 2**70)
    assert a.deref() == {"k": 1}
    assert dom.check()["leaked_bytes"] == 0


def test_views_of_a_swap_die_with_it(dom):
    a = dom.atom("x")
    a.reset({"k": 1})
    kept = []
    a.swap(lambda m: kept.append(m) or m.assoc("k", 2))
    with pytest.raises(eve.TxnError):
        len(kept[0])
    assert "finished swap" in repr(kept[0])
    with pytest.raises(eve.TxnError):
        a.reset(kept[0])


def test_views_outside_a_swap_are_read_only_and_update_to_plain_values(dom):
    a = dom.atom("x")
    a.reset({"k": [1]})
    v = a.deref()
    assert v.assoc("j", 2) == {"k": [1], "j": 2} and type(v.assoc("j", 2)) is dict
    assert v["k"].conj(2) == [1, 2] and v.dissoc("k") == {}
    a.reset(v.assoc("j", 2))
    assert a.deref() == {"k": [1], "j": 2}


def test_views_outlive_later_swaps(dom):
    a = dom.atom("x")
    a.reset({"n": 0, "data": list(range(100))})
    views = []
    for i in range(1, 50):
        views.append(a.deref())
        a.swap(lambda m: m.assoc("n", i).assoc("data", m["data"].assoc(i, -i)))
    inner = views[0]["data"]
    del views[0]  # a child view keeps the snapshot by itself
    for i, v in enumerate(views, start=2):
        assert v["n"] == i - 1 and v["data"][i] == i and v["data"][i - 1] == -(i - 1)
    assert list(inner) == list(range(100))
    assert a.deref()["n"] == 49


def test_reset_with_an_old_view_republishes_it(dom):
    a = dom.atom("x")
    a.reset({"big": list(range(200))})
    old = a.deref()
    a.reset({"other": 1})
    a.reset(old)
    del old
    assert a.deref() == {"big": list(range(200))}
    assert dom.check()["problems"] == 0


def test_compare_and_set(dom):
    a = dom.atom("x")
    a.reset({"k": 1})
    v = a.deref()
    assert a.compare_and_set(v, {"k": 2})
    assert not a.compare_and_set(v, {"k": 3})
    assert a.deref() == {"k": 2}
    a.reset(5)
    assert a.compare_and_set(5, 6) and a.deref() == 6


def test_wait_releases_the_gil_and_watch(dom):
    a = dom.atom("x")
    a.reset(0)
    seen = a.version
    assert a.wait(seen, timeout=0.05) is None
    done = []

    def writer():
        time.sleep(0.1)
        for i in range(1, 4):
            a.reset(i)
            time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    ticks = [0]
    got = []
    for value in a.watch(timeout=2):
        got.append(value)
        ticks[0] += 1
        if value == 3:
            break
    t.join()
    assert got[-1] == 3 and done == []


def test_threads_swap_one_counter(dom):
    a = dom.atom("n")
    a.reset(0)

    def work():
        for _ in range(2000):
            a.swap(lambda n: n + 1)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert a.deref() == 8000


def test_get_in_update_in(dom):
    a = dom.atom("x")
    a.reset({"a": {"b": [1, {"c": 2}]}})
    v = a.deref()
    assert v.get_in(["a", "b", 1, "c"]) == 2 and v.get_in(["a", "zz", 0], "d") == "d"
    got = a.swap(lambda m: m.update_in(["a", "b", 1, "c"], lambda n, k: n + k, 40))
    assert got == {"a": {"b": [1, {"c": 42}]}}
    got = a.swap(lambda m: m.update_in(["new", "deep"], lambda n: [n]))
    assert got["new"] == {"deep": [None]}
    assert v.update_in(["a", "b", 0], lambda n: -n) == {"a": {"b": [-1, {"c": 2}]}}
    assert a.deref()["a"]["b"][1]["c"] == 42  # outside a swap nothing changed


def test_a_dropped_old_view_built_into_a_swap_stays_valid(dom):
    """The function drops the only reference to an old snapshot whose value
    was retired since: the swap still publishes a sound value."""
    src, dst = dom.atom("src"), dom.atom("dst")
    src.reset({"big": ["x" * 20 for _ in range(200)]})
    holder = [src.deref()]
    src.reset({"other": 1})  # the old version is now retired, held by the view only
    dst.reset({})

    def fn(m):
        built = m.assoc("copied", holder.pop())  # the view's last reference goes here
        import gc
        gc.collect()
        return built

    got = dst.swap(fn)
    assert got["copied"]["big"][199] == "x" * 20
    del got
    assert dom.check()["problems"] == 0
    assert dst.deref()["copied"]["big"][0] == "x" * 20


def test_threads_read_shared_views_while_another_swaps(dom):
    a = dom.atom("x")
    a.reset({"v": list(range(50)), "n": 0})
    shared = a.deref()
    errors = []

    def reader():
        try:
            for _ in range(300):
                assert shared["v"][49] == 49 and shared["n"] == 0
                cur = a.deref()
                assert len(cur["v"]) == 50 and cur["v"][0] == cur["n"]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def writer():
        for i in range(1, 300):
            a.swap(lambda m, i: m.assoc("n", i).assoc("v", m["v"].assoc(0, i)), i)

    ts = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert shared == {"v": list(range(50)), "n": 0}


def test_vector_slice(dom):
    a = dom.atom("v")
    a.reset(list(range(10)))
    assert a.swap(lambda v: v.slice(2, 5).conj(99)) == [2, 3, 4, 99]
    assert a.deref().slice(1) == [3, 4, 99]
    with pytest.raises(IndexError):
        a.swap(lambda v: v.slice(3, 9))
