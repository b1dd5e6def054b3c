"""Build eve._eve: the extension and the eve library compiled together.

The library's sources (../src/*.c) are compiled into the extension itself,
with hidden visibility, so the module needs no libeve installed and no
CMake: `pip install --no-build-isolation ./python` from a clean clone is
enough.  eve_version.h, which CMake generates, is generated here the same
way, from cmake/eve_version.h.in and project(eve VERSION ...).
"""
import glob
import os
import re

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def library_sources():
    # compiled by BuildExt itself: setuptools refuses sources outside the
    # setup.py directory
    srcs = sorted(glob.glob(os.path.join(ROOT, "src", "*.c")))
    if not srcs:
        raise SystemExit("eve: ../src/*.c not found: build from the eve repository "
                         "(pip install ./python at its top)")
    return srcs


def write_version_header(out_dir):
    """eve_version.h as CMake's configure_file would write it."""
    cmake = open(os.path.join(ROOT, "CMakeLists.txt")).read()
    version = re.search(r"project\(eve VERSION ([0-9]+)\.([0-9]+)\.([0-9]+)", cmake)
    major, minor, patch = version.groups()
    text = open(os.path.join(ROOT, "cmake", "eve_version.h.in")).read()
    for key, value in (("PROJECT_VERSION_MAJOR", major), ("PROJECT_VERSION_MINOR", minor),
                       ("PROJECT_VERSION_PATCH", patch),
                       ("PROJECT_VERSION", "%s.%s.%s" % (major, minor, patch))):
        text = text.replace("@%s@" % key, value)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "eve_version.h")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = int(os.environ.get("EVE_BUILD_JOBS", "2"))

    def build_extensions(self):
        gen = os.path.join(os.path.abspath(self.build_temp), "include")
        write_version_header(gen)
        for ext in self.extensions:
            ext.include_dirs.append(gen)
            ext.extra_objects.extend(self.compile_library(ext))
        super().build_extensions()

    def compile_library(self, ext):
        """The library's objects, self.parallel compilations at a time
        (absolute paths put them under build_temp, mirrored)."""
        from concurrent.futures import ThreadPoolExecutor

        out = os.path.abspath(os.path.join(self.build_temp, "libeve"))

        def one(src):
            return self.compiler.compile(
                [src], output_dir=out, include_dirs=ext.include_dirs,
                extra_postargs=LIB_CFLAGS)[0]

        with ThreadPoolExecutor(max(1, int(self.parallel or 1))) as pool:
            return list(pool.map(one, library_sources()))


BASE_CFLAGS = ["-std=gnu11", "-fvisibility=hidden", "-O2"]
if os.uname().machine in ("x86_64", "AMD64"):
    # as CMakeLists.txt: cmpxchg16b for the 128-bit CASes, popcnt for CHAMP
    BASE_CFLAGS += ["-mcx16", "-mpopcnt"]
BASE_CFLAGS += os.environ.get("EVE_EXTRA_CFLAGS", "").split()
# the library's sources with the warnings CMakeLists.txt uses for them
LIB_CFLAGS = BASE_CFLAGS + ["-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"]
# the extension: plain -Wall -Wextra
EXT_CFLAGS = BASE_CFLAGS + ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes",
                            "-Wmissing-prototypes"]

setup(
    ext_modules=[Extension(
        "eve._eve",
        sources=["eve/_eve.c"],
        include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "src")],
        extra_compile_args=EXT_CFLAGS,
        extra_link_args=os.environ.get("EVE_EXTRA_LDFLAGS", "").split(),
        libraries=["pthread", "m"],
    )],
    cmdclass={"build_ext": BuildExt},
)
