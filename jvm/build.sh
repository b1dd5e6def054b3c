#!/usr/bin/env bash
# Build the JVM binding into OUT (default build-jvm/):
#   OUT/classes      the eve Java classes (javac, against Debian's clojure.jar)
#   OUT/libevejni.so the JNI library, with the eve library's sources
#                    (src/*.c) compiled in, hidden visibility
#   OUT/eve.jar      the classes and jvm/clj (eve/core.clj) in one jar
# Needs OpenJDK 17 (javac) and the clojure package (/usr/share/java/clojure.jar).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build-jvm}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${CC:-cc}
CLOJURE_JAR=${CLOJURE_JAR:-/usr/share/java/clojure.jar}
JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
mkdir -p "$OUT/classes" "$OUT/gen" "$OUT/obj"

# eve_version.h as CMake's configure_file writes it
VER=$(sed -n 's/^project(eve VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
IFS=. read -r MAJ MIN PAT <<<"$VER"
sed -e "s/@PROJECT_VERSION_MAJOR@/$MAJ/" -e "s/@PROJECT_VERSION_MINOR@/$MIN/" \
    -e "s/@PROJECT_VERSION_PATCH@/$PAT/" -e "s/@PROJECT_VERSION@/$VER/" \
    "$ROOT/cmake/eve_version.h.in" > "$OUT/gen/eve_version.h.new"
cmp -s "$OUT/gen/eve_version.h.new" "$OUT/gen/eve_version.h" 2>/dev/null \
  && rm "$OUT/gen/eve_version.h.new" || mv "$OUT/gen/eve_version.h.new" "$OUT/gen/eve_version.h"

# Java classes, and the JNI header (prototypes for the native methods)
javac -Xlint:all,-serial,-rawtypes,-unchecked -Werror -d "$OUT/classes" -h "$OUT/gen" \
  -cp "$CLOJURE_JAR" "$ROOT"/jvm/java/eve/*.java

ARCH=()
case "$(uname -m)" in x86_64|amd64) ARCH=(-mcx16 -mpopcnt) ;; esac
BASE=(-std=gnu11 -fPIC -fvisibility=hidden -O2 -g "${ARCH[@]}" -I"$ROOT/include" -I"$OUT/gen")
LIBW=(-Wall -Wextra -Wshadow -Wno-unused-parameter)
# the library's objects, JOBS at a time, rebuilt when a source is newer
ls "$ROOT"/src/*.c | xargs -P "$JOBS" -I{} sh -c '
  o="$0/obj/$(basename "{}" .c).o"
  if [ ! -e "$o" ] || [ "{}" -nt "$o" ] || [ -n "$(find "$1/src" -name "*.h" -newer "$o" | head -1)" ]; then
    '"$CC ${BASE[*]} ${LIBW[*]} -Werror"' -I"$1/src" -c "{}" -o "$o" || exit 255
  fi' "$OUT" "$ROOT"
$CC -std=c11 -fPIC -fvisibility=hidden -O2 -g "${ARCH[@]}" -Wall -Wextra -Wshadow -Wstrict-prototypes \
  -Wmissing-prototypes -Werror -I"$ROOT/include" -I"$OUT/gen" \
  -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" \
  -include "$OUT/gen/eve_Native.h" -c "$ROOT/jvm/native/evejni.c" -o "$OUT/obj/evejni.jni.o"
$CC -shared -Wl,--version-script="$ROOT/jvm/native/exports.map" -o "$OUT/libevejni.so" "$OUT"/obj/*.o -lpthread -lm
rm -f "$OUT/eve.jar"
jar cf "$OUT/eve.jar" -C "$OUT/classes" . -C "$ROOT/jvm/clj" .
echo "built $OUT/libevejni.so $OUT/eve.jar"
