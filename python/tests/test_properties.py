"""Hypothesis: any convertible value goes into eve and comes back equal, as
a view, through to_python() and through EDN."""
from hypothesis import given, settings, strategies as st

import eve

scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
           | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=20)
           | st.uuids() | st.builds(eve.Keyword, st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)))
hashables = st.recursive(scalars, lambda c: st.tuples(c, c) | st.frozensets(c, max_size=3),
                         max_leaves=6)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.tuples(c)
                      | st.dictionaries(hashables, c, max_size=4) | st.sets(hashables, max_size=4),
                      max_leaves=24)


def plain(x, hashable=False):
    """What to_python() gives back for x."""
    if isinstance(x, dict):
        return {plain(k, True): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [plain(v, hashable) for v in x]
        return tuple(items) if hashable else items
    if isinstance(x, (set, frozenset)):
        items = {plain(v, True) for v in x}
        return frozenset(items) if hashable else items
    return x


DOM = eve.open(max_size=64 << 20)
ATOM = DOM.atom("p")


@settings(max_examples=250, deadline=None, database=None)
@given(values)
def test_round_trip(value):
    ATOM.reset(value)
    got = ATOM.deref()
    expect = plain(value)
    assert got == expect
    if isinstance(got, eve._eve._View):
        assert got.to_python() == expect
        assert ATOM.swap(lambda v: v) == got
    assert eve.loads_edn(eve.dumps_edn(value)) == expect
