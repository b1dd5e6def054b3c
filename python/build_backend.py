"""PEP 517 build backend: setuptools, and a wheel writer of its own.

setuptools builds wheels through the separate `wheel` package, which many
interpreters lack (a bare pyenv or python.org build has setuptools but no
wheel), and `pip install --no-build-isolation` cannot fetch it without a
package index.  So when `wheel` is missing this backend runs setuptools'
`build` command (which needs no `wheel`) and packs the result itself: a
wheel is a zip with a .dist-info directory (METADATA, WHEEL, RECORD).
When `wheel` is there, everything goes to setuptools.
"""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

from setuptools import build_meta as _setuptools

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import wheel  # noqa: F401
    HAVE_WHEEL = True
except ImportError:
    HAVE_WHEEL = False

build_sdist = _setuptools.build_sdist
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
if HAVE_WHEEL:
    get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
    prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel


def _project():
    """name, version and description from pyproject.toml (no toml parser
    before 3.11: the three keys are simple strings)."""
    text = open(os.path.join(HERE, "pyproject.toml")).read()
    get = lambda key: re.search(r'^%s\s*=\s*"([^"]*)"' % key, text, re.M).group(1)  # noqa: E731
    return get("name"), get("version"), get("description")


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    abi = impl + getattr(sys, "abiflags", "")
    plat = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return "%s-%s-%s" % (impl, abi, plat)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _build_wheel_without_wheel(wheel_directory):
    name, version, summary = _project()
    build = tempfile.mkdtemp(prefix="eve-build-")
    try:
        lib = os.path.join(build, "lib")
        subprocess.run([sys.executable, "setup.py", "build", "--build-lib", lib,
                        "--build-temp", os.path.join(build, "temp")], cwd=HERE, check=True,
                       stdout=sys.stderr)
        tag = _tag()
        dist_info = "%s-%s.dist-info" % (name, version)
        files = []
        for root, _, names in os.walk(lib):
            for n in sorted(names):
                if n.endswith(".c"):
                    continue
                full = os.path.join(root, n)
                files.append((os.path.relpath(full, lib).replace(os.sep, "/"), full))
        meta = {
            "METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
                        "Requires-Python: >=3.9\n" % (name, version, summary),
            "WHEEL": "Wheel-Version: 1.0\nGenerator: eve build_backend\n"
                     "Root-Is-Purelib: false\nTag: %s\n" % tag,
        }
        whl = "%s-%s-%s.whl" % (name, version, tag)
        records = []
        with zipfile.ZipFile(os.path.join(wheel_directory, whl), "w", zipfile.ZIP_DEFLATED) as z:
            for arcname, full in files:
                data = open(full, "rb").read()
                z.writestr(arcname, data)
                records.append(_record_line(arcname, data))
            for n, text in meta.items():
                arcname = "%s/%s" % (dist_info, n)
                z.writestr(arcname, text)
                records.append(_record_line(arcname, text.encode()))
            records.append("%s/RECORD,," % dist_info)
            z.writestr("%s/RECORD" % dist_info, "\n".join(records) + "\n")
        return whl
    finally:
        shutil.rmtree(build, ignore_errors=True)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if HAVE_WHEEL:
        return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    return _build_wheel_without_wheel(wheel_directory)


if not HAVE_WHEEL:
    def get_requires_for_build_wheel(config_settings=None):
        return []
