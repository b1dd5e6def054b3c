"""Every error path raises the documented exception (and loses nothing)."""
import os

import pytest

import eve


def test_hierarchy():
    for cls in (eve.CorruptError, eve.NoSpaceError, eve.FullError, eve.VersionError,
                eve.BusyError, eve.InvalidError, eve.TxnError, eve.ForkedError,
                eve.RemovedError, eve.ReentryError, eve.ParseError, eve.DepthError,
                eve.EveTypeError, eve.NotFoundError, eve.RangeError, eve.FileError,
                eve.TimeoutError, eve.OutOfMemoryError):
        assert issubclass(cls, eve.Error) and cls.__doc__
    assert issubclass(eve.FullError, eve.NoSpaceError)
    assert issubclass(eve.ParseError, ValueError) and issubclass(eve.FileError, OSError)


def test_not_an_eve_file_is_corrupt(path):
    with open(path, "wb") as f:
        f.write(b"this is not an eve domain" * 1000)
    with pytest.raises(eve.CorruptError) as e:
        eve.open(path)
    assert e.value.name == "EVE_ENOTDOMAIN" and e.value.code == -6


def test_damaged_header_is_corrupt(path):
    with eve.open(path, max_size=1 << 24) as d:
        d.atom("x").reset({"k": "v" * 100})
    with open(path, "r+b") as f:
        f.seek(64)
        f.write(b"\xff" * 64)
    with pytest.raises((eve.CorruptError, eve.VersionError)):
        eve.open(path)


def test_missing_and_existing_files(path):
    with pytest.raises(eve.FileError) as e:
        eve.open(path, flags=eve.OPEN_EXISTING)
    assert e.value.name == "EVE_ENOENT"
    eve.open(path, max_size=1 << 24).close()
    with pytest.raises(eve.FileError) as e:
        eve.open(path, flags=eve.OPEN_NEW)
    assert e.value.name == "EVE_EEXIST"


def test_invalid_options():
    with pytest.raises(eve.InvalidError):
        eve.open(None, flags=eve.OPEN_RDONLY)
    with pytest.raises(eve.InvalidError):
        eve.open(None, flags=3)


def test_full_domain(tmp_path):
    d = eve.open(str(tmp_path / "small.eve"), max_size=1 << 20)
    a = d.atom("x")
    a.reset(1)
    with pytest.raises(eve.FullError):
        a.reset(["x" * 1000] * 0 + ["%d" % i * 50 for i in range(5000)])
    assert a.deref() == 1  # nothing published
    with pytest.raises(eve.NoSpaceError):
        a.swap(lambda v: [b"\x00" * 100000 for _ in range(20)])
    assert a.deref() == 1
    a.swap(lambda v: v + 1)  # the domain is still usable
    assert a.deref() == 2
    d.close()


def test_removed_atom(dom):
    a = dom.atom("gone")
    a.reset(1)
    dom.remove_atom("gone")
    for f in (a.deref, lambda: a.reset(2), lambda: a.swap(lambda v: v)):
        with pytest.raises(eve.RemovedError):
            f()
    with pytest.raises(KeyError):
        dom.remove_atom("gone")


def test_swap_changing_its_own_atom_is_reentry(dom):
    a = dom.atom("x")
    a.reset(0)
    with pytest.raises(eve.ReentryError):
        a.swap(lambda v: a.reset(5) or v)
    assert a.deref() == 0


def test_bad_atom_names(dom):
    with pytest.raises(eve.InvalidError):
        dom.atom("")
    with pytest.raises(TypeError):
        dom.atom(3)


def test_closed_domain(path):
    d = eve.open(path, max_size=1 << 24)
    a = d.atom("x")
    a.reset({"k": 1})
    v = a.deref()
    d.close()
    assert d.closed
    with pytest.raises(eve.InvalidError):
        d.atom("y")
    with pytest.raises(eve.InvalidError):
        a.deref()
    assert v == {"k": 1}  # a view keeps the mapping until it goes
    del v, a, d
    with eve.open(path) as d2:  # and the handle really closed
        assert d2.atom("x").deref() == {"k": 1}


def test_parse_errors_and_depth():
    with pytest.raises(eve.ParseError) as e:
        eve.loads_edn("{:a 1")
    assert e.value.line == 1 and e.value.column > 1
    with pytest.raises(eve.ParseError):
        eve.loads_edn("#foo 1")
    with pytest.raises(eve.ParseError):
        eve.loads_edn("99999999999999999999")
    with pytest.raises(eve.DepthError):
        eve.loads_edn("[" * 5000 + "]" * 5000)


def test_type_errors_in_view_methods(dom):
    a = dom.atom("x")
    a.reset({"v": [1], "s": {1}})
    with pytest.raises(eve.EveTypeError):
        a.swap(lambda m: m["v"]._dissoc(0))
    with pytest.raises(IndexError):
        a.swap(lambda m: m["v"].assoc(5, 0))
    with pytest.raises(IndexError):
        a.swap(lambda m: m["v"].pop().pop())
    assert a.deref() == {"v": [1], "s": {1}}


def test_views_cannot_be_made_directly():
    with pytest.raises(TypeError):
        eve.Map()


FULL_DISK_CHILD = r"""
import sys, eve
d = eve.open(sys.argv[1] + "/d.eve", max_size=64 << 20)
a = d.atom("x")
a.reset({"keep": "me"})
try:
    for i in range(10000):
        a.swap(lambda m, i: m.assoc(i, b"x" * 4096), i)
    sys.exit("the disk never filled")
except eve.NoSpaceError as e:
    assert not isinstance(e, eve.FullError) and e.name == "EVE_ENOSPC", e
assert a.deref()["keep"] == "me"  # the failed swap published nothing
n = len(a.deref())
a.swap(lambda m: m.dissoc(0))  # shrinking still works
assert len(a.deref()) == n - 1
assert d.check()["problems"] == 0
print("ok")
"""


def test_full_disk_on_a_small_tmpfs(tmp_path):
    """A 1 MiB tmpfs in a private mount namespace (needs root and unshare)."""
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "child.py"
    script.write_text(FULL_DISK_CHILD)
    cmd = ("mount -t tmpfs -o size=1m tmpfs '%s' && exec '%s' '%s' '%s'"
           % (mnt, sys.executable, script, mnt))
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare --mount not permitted here")
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", cmd],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_file_truncated_under_the_mapping_is_an_error_not_a_crash(path):
    d = eve.open(path, max_size=64 << 20)
    a = d.atom("x")
    a.reset({"k%d" % i: "v" * 40 + str(i) for i in range(3000)})
    v = a.deref()
    os.truncate(path, 8192)
    for f in (v.to_python, lambda: v["k5"], a.deref, lambda: a.reset(1), d.stats):
        with pytest.raises(eve.CorruptError) as e:
            f()
        assert e.value.name == "EVE_ETRUNC"
    del v
    d.close()


def test_close_wakes_a_waiting_thread(dom):
    import threading
    a = dom.atom("x")
    got = []

    def waiter():
        try:
            a.wait(a.version)
        except eve.Error as e:
            got.append(type(e))

    t = threading.Thread(target=waiter)
    t.start()
    import time
    time.sleep(0.1)
    dom.close()
    t.join(5)
    assert not t.is_alive() and got == [eve.InvalidError]
