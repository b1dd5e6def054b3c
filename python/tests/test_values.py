"""Conversions both ways, the view protocols, equality, EDN."""
import collections.abc as abc
import datetime
import uuid

import pytest

import eve

K, S = eve.Keyword, eve.Symbol


def roundtrip(dom, value):
    a = dom.atom("x")
    a.reset(value)
    return a.deref()


@pytest.mark.parametrize("value", [
    None, True, False, 0, 1, -1, 2**60, -2**60, 2**63 - 1, -2**63, 1.5, -0.0, float("inf"),
    "", "short", "a longer string with ünïcödé ✓", b"", b"\x00\xffbytes", K("k"), K("ns/k"),
    S("sym"), uuid.UUID("12345678-1234-5678-1234-567812345678"),
    datetime.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
])
def test_scalars_round_trip(dom, value):
    got = roundtrip(dom, value)
    assert got == value and type(got) is type(value)


def test_collections_become_views(dom):
    v = roundtrip(dom, {"m": {"a": 1}, "v": [1, [2]], "t": (1, 2), "s": {1, 2}, "f": frozenset([3])})
    assert isinstance(v, eve.Map) and isinstance(v, abc.Mapping)
    assert isinstance(v["v"], eve.Vector) and isinstance(v["v"], abc.Sequence)
    assert isinstance(v["t"], eve.Vector)
    assert isinstance(v["s"], eve.Set) and isinstance(v["s"], abc.Set)
    assert isinstance(v["f"], eve.Set)
    assert v.to_python() == {"m": {"a": 1}, "v": [1, [2]], "t": [1, 2], "s": {1, 2}, "f": {3}}


def test_hashable_positions_in_to_python(dom):
    v = roundtrip(dom, {(1, 2): "vec key", frozenset([1]): "set key"})
    assert v.to_python() == {(1, 2): "vec key", frozenset([1]): "set key"}
    assert v[(1, 2)] == "vec key" and v[[1, 2]] == "vec key"


def test_list_from_edn(dom):
    assert eve.loads_edn("(1 2 3)") == [1, 2, 3]


def test_int_outside_64_bits_is_overflow_error(dom):
    a = dom.atom("x")
    a.reset(1)
    for bad in (2**63, -2**63 - 1, [1, 2**64], {"k": -2**100}):
        with pytest.raises(OverflowError):
            a.reset(bad)
    assert a.deref() == 1  # nothing published


@pytest.mark.parametrize("bad", [object(), 1j, bytearray(b"x"), {"k": object()}, [range(3)],
                                 datetime.datetime(2020, 1, 1)])
def test_unsupported_types_are_type_errors_naming_the_type(dom, bad):
    a = dom.atom("x")
    with pytest.raises(TypeError):
        a.reset(bad)
    if not isinstance(bad, datetime.datetime):
        with pytest.raises(TypeError, match="type '"):
            a.reset(bad)


def test_map_protocol(dom):
    v = roundtrip(dom, {"a": 1, "long key past seven bytes": 2, 3: "three", K("k"): None})
    assert len(v) == 4
    assert v["a"] == 1 and v["long key past seven bytes"] == 2 and v[3] == "three"
    assert v[K("k")] is None
    assert "a" in v and 3 in v and "zz" not in v and 4 not in v and object() not in v
    assert v.get("zz") is None and v.get("zz", 7) == 7 and v.get("a") == 1
    with pytest.raises(KeyError):
        v["zz"]
    assert set(v) == {"a", "long key past seven bytes", 3, K("k")}
    assert dict(v.items()) == v.to_python()
    assert sorted(map(str, v.values())) == sorted(map(str, [1, 2, "three", None]))


def test_vector_protocol(dom):
    v = roundtrip(dom, [10, 20, 30, 40])
    assert len(v) == 4 and v[0] == 10 and v[-1] == 40 and v[1:3] == [20, 30]
    assert list(reversed(v)) == [40, 30, 20, 10] and 30 in v and 31 not in v
    assert v.index(30) == 2 and v.count(10) == 1
    with pytest.raises(IndexError):
        v[4]
    with pytest.raises(IndexError):
        v[-5]
    with pytest.raises(TypeError):
        v["x"]


def test_set_protocol(dom):
    v = roundtrip(dom, {1, 2, "three"})
    assert len(v) == 3 and 1 in v and "three" in v and 4 not in v
    assert v <= {1, 2, "three", 4} and v == {1, 2, "three"} and v != {1, 2}
    assert v & {1, 9} == {1} and isinstance(v | {9}, set)
    with pytest.raises(TypeError):
        v[0]


def test_equality_views_and_plain(dom):
    a = dom.atom("a")
    b = dom.atom("b")
    a.reset({"x": [1, {2}], "y": 1})
    b.reset({"y": 1, "x": [1, {2}]})
    va, vb = a.deref(), b.deref()
    assert va == vb and hash(va) == hash(vb)
    assert va == {"x": [1, {2}], "y": 1} and va != {"x": [1, {2}]} and va != [1]
    assert va["x"] == [1, {2}] and va["x"] == (1, {2}) and va["x"] != [1]
    b.reset({"y": 1.0, "x": [1, {2}]})
    assert a.deref() != b.deref()  # eve's equality: 1 and 1.0 differ
    assert a.deref() == {"y": 1.0, "x": [1, {2}]}  # Python's, against plain values


def test_views_of_other_domains_are_copied(dom):
    other = eve.open(max_size=1 << 24)
    o = other.atom("o")
    o.reset({"k": [1, 2]})
    a = dom.atom("a")
    a.reset(o.deref())
    assert a.deref() == {"k": [1, 2]}
    assert a.swap(lambda m, ov: m.assoc("o", ov), o.deref())["o"] == {"k": [1, 2]}


def test_edn(dom):
    a = dom.atom("a")
    a.reset({K("a"): [1, "s", S("sym"), None, True, 1.5]})
    text = eve.dumps_edn(a.deref())
    assert text == '{:a [1 "s" sym nil true 1.5]}'
    assert eve.dumps_edn([1, {2}]) == "[1 #{2}]"
    assert eve.loads_edn(text) == {K("a"): [1, "s", S("sym"), None, True, 1.5]}
    assert eve.loads_edn('#uuid "12345678-1234-5678-1234-567812345678"') == \
        uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert eve.loads_edn('#inst "1985-04-12T23:20:50.520Z"') == \
        datetime.datetime(1985, 4, 12, 23, 20, 50, 520000, tzinfo=datetime.timezone.utc)


def test_keyword_symbol():
    assert K("a/b").namespace == "a" and K("b").namespace is None and K("a") != S("a")
    assert str(K("a")) == ":a" and hash(K("a")) == hash(K("a"))
    with pytest.raises(AttributeError):
        K("a").name = "b"


def test_pickle_of_a_view_is_its_plain_value(dom):
    import pickle
    v = roundtrip(dom, {"k": [1, {2}], "u": uuid.UUID(int=1)})
    back = pickle.loads(pickle.dumps(v))
    assert back == {"k": [1, {2}], "u": uuid.UUID(int=1)} and type(back) is dict


SCALAR_KEYS = [None, True, 7, 2**60, -2**63, 2**63 - 1, 1.5, -0.0, float("nan"), "short",
               "a key longer than seven bytes", b"", b"\x00\xffbytes", K("k"),
               K("a/long-namespaced-keyword"), S("a-long-symbol-name"),
               uuid.UUID("12345678-1234-5678-1234-567812345678"),
               datetime.datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)]


def test_every_scalar_key_is_found_in_a_read_only_domain(path):
    """Lookups by scalar keys allocate nothing (eve_map_get_scalar), so they
    work where nothing can be written: a domain opened OPEN_RDONLY."""
    with eve.open(path, max_size=64 << 20) as d:
        d.atom("m").reset({k: i for i, k in enumerate(SCALAR_KEYS)} | {(1, 2): "vec"})
        d.atom("s").reset(set(SCALAR_KEYS) - {float("nan")})
    with eve.open(path, flags=eve.OPEN_RDONLY) as d:
        m, s = d.atom("m").deref(), d.atom("s").deref()
        for i, k in enumerate(SCALAR_KEYS):
            if k != k:  # NaN: eve has one NaN, equal to itself
                assert m[float("nan")] == i
                continue
            assert m[k] == i and k in m and m.get(k) == i, k
            assert k in s, k
        for absent in [8, 2**62, 2.5, "absent key of some length", b"x", K("absent-keyword"),
                       uuid.UUID(int=5), datetime.datetime(1999, 1, 1, tzinfo=datetime.timezone.utc)]:
            assert absent not in m and m.get(absent, "dflt") == "dflt" and absent not in s
            with pytest.raises(KeyError):
                m[absent]
        assert 1 not in m and True in m  # eve's equality: true is not 1
        with pytest.raises(OverflowError):
            m[2**64]
        # A collection key must be built to be looked up, which needs a
        # write transaction: refused in a read-only domain, with eve's error.
        with pytest.raises(eve.Error) as e:
            m[(1, 2)]
        assert e.value.name == "EVE_ETXN"
    with eve.open(path) as d:
        assert d.atom("m").deref()[(1, 2)] == "vec"
