#!/usr/bin/env bash
# tests/install/run.sh — eve as a dependency, the way a user gets it.
#
#   tests/install/run.sh        (make test-install; part of make test)
#
# Configures, builds and installs the tree into a temporary prefix (mktemp
# -d; installed with `cmake --install --prefix`, elsewhere than configured,
# so the package must be relocatable), then:
#   - the installed files are there; libeve.so exports only eve_* names and
#     libeve.a defines only eve_* globally (internal symbols are local);
#   - app.c builds with pkg-config against the shared library (run with
#     LD_LIBRARY_PATH) and, with --static, against libeve.a, and runs;
#   - the README's C example (the ```c block after the marker
#     "<!-- test: readme-example" in README.md) builds and runs;
#   - consumer/ builds with find_package(eve) + eve::eve (eve::eve_static,
#     eve::eve_shared), for the default build and for BUILD_SHARED_LIBS=ON;
#   - consumer/ builds with add_subdirectory on the source tree (as
#     FetchContent does): no tests, tools or Criterion needed.
# The last line is "N passed, M failed"; exit 1 if any failed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CC=${CC:-cc}
JOBS=$(nproc 2>/dev/null || echo 2)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eve-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CFLAGS="-std=c11 -pedantic -Wall -Wextra -Werror"

for tool in cmake pkg-config nm readelf "$CC"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (make deps installs it)" >&2; exit 2; }
done
VERSION=$(sed -n 's/^project(eve VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$VERSION" ] || { echo "run.sh: no project(eve VERSION ...) in CMakeLists.txt" >&2; exit 2; }

pass=0 fail=0
# check NAME FUNCTION: run FUNCTION with its output in a log; print the log's
# tail if it fails
check() {
  local name=$1 log="$WORK/log.$pass.$fail"; shift
  local rc=0
  # not `if ( ... )`: set -e would be ignored inside
  set +e
  ( set -e; "$@" ) >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok - $name"
  else
    fail=$((fail + 1)); echo "FAIL - $name"; tail -25 "$log" | sed 's/^/    /'
  fi
}
die() { echo "$*" >&2; return 1; }

# install BUILD PREFIX [CMAKE-ARGS...]: configure (tests off), build, install
install_into() {
  local build=$1 prefix=$2; shift 2
  cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_BUILD_TESTS=OFF \
    -DEVE_WERROR=ON -DCMAKE_INSTALL_PREFIX="$WORK/not-here" "$@"
  cmake --build "$build" -j"$JOBS"
  cmake --install "$build" --prefix "$prefix"
}

P=$WORK/prefix
libdir() { dirname "$(find "$1" -name eve.pc)" | xargs dirname; }

installed_files() {
  local lib; lib=$(libdir "$P")
  for f in "$P/include/eve.h" "$P/include/eve_version.h" "$lib/libeve.a" "$lib/libeve.so" \
           "$lib/libeve.so.${VERSION%%.*}" "$lib/libeve.so.$VERSION" "$lib/pkgconfig/eve.pc" \
           "$lib/cmake/eve/eveConfig.cmake" "$lib/cmake/eve/eveConfigVersion.cmake" \
           "$lib/cmake/eve/eveTargets.cmake" "$P/bin/eve"; do
    [ -e "$f" ] || die "missing: ${f#"$P"/}"
  done
  grep -q "#define EVE_VERSION_STRING \"$VERSION\"" "$P/include/eve_version.h" ||
    die "eve_version.h does not say $VERSION"
  "$P/bin/eve" help >/dev/null
  ! find "$P" -name '*internal*' | grep . || die "the test library was installed"
}

symbols_shared() {
  local so; so=$(libdir "$P")/libeve.so
  nm -D --defined-only "$so" | awk '{print $3}' >"$WORK/dynsyms"
  echo "libeve.so exports $(wc -l <"$WORK/dynsyms") symbols"
  [ -s "$WORK/dynsyms" ] || die "libeve.so exports nothing"
  ! grep -v '^eve_' "$WORK/dynsyms" || die "^ exported from libeve.so: not eve_*"
  ! grep '^eve__' "$WORK/dynsyms" || die "^ test hooks exported from libeve.so"
  # every EVE_API declaration is there
  grep -o '^EVE_API [^(]*(' "$P/include/eve.h" | sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' | sort >"$WORK/declared"
  sort "$WORK/dynsyms" | comm -23 "$WORK/declared" - >"$WORK/missing"
  [ ! -s "$WORK/missing" ] || { cat "$WORK/missing"; die "^ declared in eve.h, not exported"; }
}

symbols_static() {
  local a; a=$(libdir "$P")/libeve.a
  nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' >"$WORK/arsyms"
  echo "libeve.a defines $(wc -l <"$WORK/arsyms") global symbols"
  [ -s "$WORK/arsyms" ] || die "libeve.a defines nothing"
  ! grep -v '^eve_' "$WORK/arsyms" || die "^ global in libeve.a: not eve_*"
  ! grep '^eve__' "$WORK/arsyms" || die "^ test hooks in libeve.a"
}

pc() { PKG_CONFIG_PATH="$(libdir "$P")/pkgconfig" pkg-config "$@" eve; }

pkgconfig_shared() {
  [ "$(pc --modversion)" = "$VERSION" ] || die "eve.pc: version $(pc --modversion)"
  ! pc --print-requires --print-requires-private | grep -i xxhash || die "xxhash is header-only"
  # shellcheck disable=SC2046
  $CC $CFLAGS "$HERE/app.c" $(pc --cflags --libs) -o "$WORK/app-pc-shared"
  readelf -d "$WORK/app-pc-shared" | grep -q 'NEEDED.*libeve\.so' || die "not linked to libeve.so"
  LD_LIBRARY_PATH="$(libdir "$P")" "$WORK/app-pc-shared"
}

pkgconfig_static() {
  local libs; libs=$(pc --static --libs)
  echo "pkg-config --static --libs eve: $libs"
  case " $libs " in *" -lpthread "*) ;; *) die "no -lpthread in Libs.private" ;; esac
  case " $libs " in *" -lm "*) ;; *) die "no -lm in Libs.private" ;; esac
  # the linker would take libeve.so for -leve: ask for the archive by name
  libs=$(echo " $libs " | sed 's/ -leve / -l:libeve.a /')
  # shellcheck disable=SC2086
  $CC $CFLAGS "$HERE/app.c" $(pc --cflags) $libs -o "$WORK/app-pc-static"
  ! readelf -d "$WORK/app-pc-static" | grep 'NEEDED.*libeve' || die "linked to libeve.so"
  "$WORK/app-pc-static"
}

# The README's example is a fragment: its file-scope part (up to the last
# line that is a lone "}" in column 0: the end of its function definitions)
# goes before main, the rest in main; the test then checks what it did.
readme_example() {
  awk '/<!-- test: readme-example/ {armed = 1; next}
       armed && /^```c/ {inside = 1; next}
       inside && /^```/ {exit}
       inside {print}' "$ROOT/README.md" >"$WORK/readme.c.in"
  [ -s "$WORK/readme.c.in" ] || die "README.md: no \`\`\`c block after <!-- test: readme-example -->"
  local split; split=$(grep -n '^}$' "$WORK/readme.c.in" | tail -1 | cut -d: -f1)
  split=${split:-0}
  {
    echo '#include <stdio.h>'
    echo '#include <string.h>'
    echo "#line 1 \"README.md example\""
    sed -n "1,${split}p" "$WORK/readme.c.in"
    echo 'int main(void) {'
    echo "#line $((split + 1)) \"README.md example\""
    sed -n "$((split + 1)),\$p" "$WORK/readme.c.in"
    cat <<'CHECK'
  { /* the test's own check, not in the README: the swap reached the file */
    eve_domain *chk_d; eve_atom *chk_a; eve_txn *chk_t; eve_val chk_v; char *chk_s;
    if (eve_open("shop.eve", NULL, &chk_d) || eve_atom_open(chk_d, "stock", 0, &chk_a) ||
        eve_txn_begin(chk_d, EVE_TXN_READ, &chk_t) || eve_deref(chk_t, chk_a, &chk_v) ||
        eve_print_edn(chk_t, chk_v, &chk_s, NULL)) {
      fprintf(stderr, "readme example: shop.eve does not hold the atom\n");
      return 1;
    }
    int chk_ok = strcmp(chk_s, "{\"apple\" 12}") == 0;
    printf("stock: %s\n", chk_s);
    eve_free(chk_s);
    if (eve_txn_end(chk_t) || eve_atom_close(chk_a) || eve_close(chk_d) || !chk_ok) return 1;
  }
  return 0;
}
CHECK
  } >"$WORK/readme.c"
  # shellcheck disable=SC2046
  $CC $CFLAGS -Wno-unused-parameter "$WORK/readme.c" $(pc --cflags --libs) -o "$WORK/readme"
  mkdir -p "$WORK/readme-run"
  (cd "$WORK/readme-run" && LD_LIBRARY_PATH="$(libdir "$P")" "$WORK/readme")
}

# consumer BUILD [CMAKE-ARGS...]: configure and build consumer/, run its apps
consumer() {
  local b=$1; shift
  cmake -S "$HERE/consumer" -B "$b" -DEVE_EXPECT_VERSION="$VERSION" "$@"
  cmake --build "$b" -j"$JOBS"
  "$b/app"
  "$b/app_static"
  "$b/app_shared"
  readelf -d "$b/app_shared" | grep -q 'NEEDED.*libeve\.so' || die "eve::eve_shared is not shared"
  ! readelf -d "$b/app_static" | grep 'NEEDED.*libeve' || die "eve::eve_static is not static"
}
linked_shared() { readelf -d "$1" | grep -q 'NEEDED.*libeve\.so'; }

find_package_default() {
  consumer "$WORK/fp" -DCMAKE_PREFIX_PATH="$P"
  ! linked_shared "$WORK/fp/app" || die "eve::eve should be the static library by default"
}

P2=$WORK/prefix-shared
find_package_shared() {
  install_into "$WORK/build-shared" "$P2" -DBUILD_SHARED_LIBS=ON -DEVE_BUILD_TOOLS=OFF
  consumer "$WORK/fp-shared" -DCMAKE_PREFIX_PATH="$P2"
  linked_shared "$WORK/fp-shared/app" || die "BUILD_SHARED_LIBS=ON: eve::eve should be shared"
}

add_subdirectory_tree() {
  consumer "$WORK/sub" -DEVE_SOURCE_DIR="$ROOT"
  [ -f "$WORK/sub/eve/include/eve_version.h" ] || die "no generated eve_version.h under the subproject"
}

check "configure, build, install into a temporary prefix" install_into "$WORK/build" "$P"
if [ "$fail" -eq 0 ]; then
  check "installed: headers, libeve.a, libeve.so, eve.pc, CMake package, eve" installed_files
  check "nm -D libeve.so: only eve_*, every EVE_API name" symbols_shared
  check "nm -g libeve.a: only eve_* global" symbols_static
  check "pkg-config: app against libeve.so" pkgconfig_shared
  check "pkg-config --static: app against libeve.a" pkgconfig_static
  check "the README's C example builds and runs" readme_example
  check "find_package(eve): eve::eve (static), eve::eve_static, eve::eve_shared" find_package_default
fi
check "BUILD_SHARED_LIBS=ON: install, find_package(eve): eve::eve is shared" find_package_shared
check "add_subdirectory(eve): eve::eve without tests, tools or Criterion" add_subdirectory_tree
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
