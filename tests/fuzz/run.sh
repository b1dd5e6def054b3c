#!/usr/bin/env bash
# tests/fuzz/run.sh — build and run the libFuzzer targets.
#
#   tests/fuzz/run.sh [SECONDS]   fuzz each target for SECONDS (default 60)
#   tests/fuzz/run.sh replay      run every file of tests/fuzz/crashes/<target>/
#                                 and tests/fuzz/corpus/<target>/ once (quick:
#                                 the regression check for `make test`)
#   tests/fuzz/run.sh seeds       rebuild corpus/domain/ from real domains
#                                 (after a format change)
#   tests/fuzz/run.sh runs        a fixed number of runs per target (about a
#                                 minute each here) with a fixed seed, from the
#                                 checked-in seeds only: close to the same
#                                 executions every time (libFuzzer's scheduling
#                                 is not strictly deterministic), fit for CI
#
# Targets: edn json domain cli (FUZZ_TARGETS="edn json" picks some).
# Builds with clang -fsanitize=fuzzer,address,undefined into build-fuzz/
# (FUZZ_BUILD overrides), compiling the library sources directly.  A crash,
# leak, sanitizer report or hang found by a timed run is copied to
# tests/fuzz/crashes/<target>/ (it then replays in every `make test`) and
# the script exits 1.  The last line is "N passed, M failed" (targets).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=${FUZZ_TARGETS:-edn json domain cli}
CC=${FUZZ_CC:-clang}
JOBS=$(nproc 2>/dev/null || echo 2)
MODE=${1:-60}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -g -O1 $SAN -mcx16 -mpopcnt -Wall -Wextra -Wno-unused-parameter -Werror
        -I$ROOT/include -I$OUT/cmake/include -I$ROOT/src -I$ROOT/tools -I$HERE"

command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (make deps installs it)" >&2; exit 2; }

# ---- build -------------------------------------------------------------------

# compile SRC OBJ [EXTRA-FLAGS...]: only when SRC or any header is newer.
compile() {
  local src=$1 obj=$2; shift 2
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] &&
     [ -z "$(find "$ROOT/src" "$ROOT/include" "$OUT/cmake/include" "$ROOT/tools" -name '*.h' -newer "$obj" | head -1)" ]; then
    return 0
  fi
  # shellcheck disable=SC2086
  $CC $CFLAGS -fsanitize=fuzzer-no-link "$@" -c "$src" -o "$obj"
}
export -f compile
export CC CFLAGS ROOT

build() {
  mkdir -p "$OUT/obj"
  # eve.h includes eve_version.h, which CMake's configure step generates
  # (into $OUT/cmake/include; rewritten only when the version changes);
  # without this script's exported CFLAGS, which CMake would take up
  env -u CFLAGS cmake -S "$ROOT" -B "$OUT/cmake" -DEVE_BUILD_TESTS=OFF -DEVE_BUILD_TOOLS=OFF \
    -DEVE_INSTALL=OFF >/dev/null
  local jobs=() f
  for f in "$ROOT"/src/*.c; do jobs+=("$f $OUT/obj/lib_$(basename "$f" .c).o"); done
  for f in "$ROOT"/tools/*.c; do jobs+=("$f $OUT/obj/tool_$(basename "$f" .c).o -Dmain=eve_cli_main"); done
  printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash -c 'compile "$@"' _
  local t extra
  for t in $TARGETS; do
    extra=()
    [ "$t" = cli ] && extra=("$OUT"/obj/tool_*.o)
    if [ ! -x "$OUT/fuzz_$t" ] || [ -n "$(find "$OUT/obj" "$HERE" -newer "$OUT/fuzz_$t" \
         \( -name '*.o' -o -name '*.c' -o -name '*.h' \) | head -1)" ]; then
      # shellcheck disable=SC2086
      $CC $CFLAGS -fsanitize=fuzzer "$HERE/fuzz_$t.c" "$OUT"/obj/lib_*.o "${extra[@]}" \
        -lpthread -lm -o "$OUT/fuzz_$t"
    fi
  done
}

# ---- replay --------------------------------------------------------------------

replay() {
  local pass=0 fail=0 t files
  for t in $TARGETS; do
    files=()
    for d in "$HERE/corpus/$t" "$HERE/crashes/$t"; do
      [ -d "$d" ] && while IFS= read -r f; do files+=("$f"); done < <(find "$d" -type f | sort)
    done
    if [ ${#files[@]} -eq 0 ]; then echo "fuzz_$t: nothing to replay"; continue; fi
    if "$OUT/fuzz_$t" -timeout=60 -rss_limit_mb=4096 "${files[@]}" >"$OUT/replay_$t.log" 2>&1; then
      pass=$((pass + 1)); echo "ok - fuzz_$t replayed ${#files[@]} inputs"
    else
      fail=$((fail + 1)); echo "FAIL - fuzz_$t: replay failed (log: $OUT/replay_$t.log)"
      grep -E 'ERROR|Running|contract|SUMMARY' "$OUT/replay_$t.log" | tail -20 || true
    fi
  done
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# ---- timed fuzzing ----------------------------------------------------------------

# Options per target: the CLI prints an error line per bad input (stderr
# is closed for it; libFuzzer keeps its own copy for reports).
target_opts() {
  case $1 in
    cli) echo "-close_fd_mask=2 -dict=$HERE/cli.dict" ;;
    edn) echo "-dict=$HERE/edn.dict" ;;
    json) echo "-dict=$HERE/json.dict" ;;
    domain) echo "-max_len=131072" ;;
  esac
}

# Runs per target for the deterministic mode: about a minute each on this
# machine (the domain target runs a whole API session with a check and a
# collection per input, hence far fewer).
fixed_runs() {
  case $1 in
    domain) echo 8000 ;;
    *) echo 1000000 ;;
  esac
}

fuzz() {
  local secs=$1 pass=0 fail=0 t log execs limit
  : >"$OUT/summary.txt"
  for t in $TARGETS; do
    rm -rf "$OUT/artifacts/$t" # only this run's findings are copied below
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    log="$OUT/fuzz_$t.log"
    if [ "$secs" = runs ]; then # deterministic: fresh corpus, fixed seed and count
      rm -rf "$OUT/corpus/$t" && mkdir -p "$OUT/corpus/$t"
      limit="-runs=$(fixed_runs "$t") -seed=1"
    else
      limit="-max_total_time=$secs"
    fi
    # shellcheck disable=SC2046,SC2086
    if "$OUT/fuzz_$t" $limit -timeout=20 -rss_limit_mb=4096 \
         -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" $(target_opts "$t") \
         "$OUT/corpus/$t" "$HERE/corpus/$t" >"$log" 2>&1; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      mkdir -p "$HERE/crashes/$t"
      cp "$OUT/artifacts/$t"/* "$HERE/crashes/$t/" 2>/dev/null || true
      echo "FAIL - fuzz_$t found a problem; input saved in tests/fuzz/crashes/$t/, log $log"
      grep -E 'ERROR|contract|SUMMARY|Test unit written' "$log" | tail -20 || true
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz_$t: ${execs:-?} executions ($secs), corpus $(find "$OUT/corpus/$t" -type f | wc -l) files" |
      tee -a "$OUT/summary.txt"
  done
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# ---- seeds -------------------------------------------------------------------------

seeds() {
  mkdir -p "$OUT"
  # shellcheck disable=SC2086
  $CC $CFLAGS "$HERE/gen_seeds.c" "$OUT"/obj/lib_*.o -lpthread -lm -o "$OUT/gen_seeds"
  "$OUT/gen_seeds" "$HERE/corpus/domain"
}

# files a target left behind when it stopped on a finding (their names
# carry the fuzzer's pid; no other program makes them)
cleanup() { rm -rf /dev/shm/eve-fuzz-* /tmp/eve-fuzz-* 2>/dev/null || true; }
trap cleanup EXIT

build
case $MODE in
  replay) replay ;;
  seeds) seeds ;;
  runs) fuzz runs ;;
  *[!0-9]* | '') echo "usage: $0 [SECONDS | replay | seeds | runs]" >&2; exit 2 ;;
  *) fuzz "$MODE" ;;
esac
