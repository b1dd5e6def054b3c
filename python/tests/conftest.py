import pytest

import eve

# Small domains: the address range reserved, not memory used, but keep it modest.
MAX = 64 << 20


@pytest.fixture
def dom():
    d = eve.open(max_size=MAX)
    yield d
    d.close()


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "t.eve")
