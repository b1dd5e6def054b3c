#!/usr/bin/env bash
# bench/run.sh — the benchmark harness end to end: install the peers (LMDB,
# hiredis, redis-server) and gnuplot if missing, build, run every scenario
# for eve and the peers, write the report and the plots.
#
#   bench/run.sh            full run (~3 min on 2 cores): docs/BENCHMARKS.md
#                           and docs/bench/*.png
#   bench/run.sh --quick    smoke test (< 2 min): the report goes to
#                           build-bench/quick/ and is printed; docs/ untouched
#
# Other arguments go to the driver (e.g. --only 13, --max-exp 6; see
# bench/bench.c).  BUILD_BENCH overrides the build directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_BENCH:-$ROOT/build-bench}"
quick=0
for a in "$@"; do [ "$a" = "--quick" ] && quick=1; done

"$ROOT/.ci/deps.sh" build-essential cmake pkg-config libxxhash-dev \
  liblmdb-dev libhiredis-dev redis-server gnuplot
make -C "$ROOT/bench" BUILD="$BUILD" --no-print-directory

if [ "$quick" = 1 ]; then
  out="$BUILD/quick"; md="$out/BENCHMARKS.md"; png="$out/bench"; data="$BUILD/data-quick"
  cmd="bench/run.sh $*"
else
  md="$ROOT/docs/BENCHMARKS.md"; png="$ROOT/docs/bench"; data="$BUILD/data"
  cmd="make bench   # = bench/run.sh${*:+ $*}"
fi
work="$BUILD/work.$$"   # per run: a quick run may overlap a full one
rm -rf "$work" "$data"
mkdir -p "$work" "$data" "$png" "$(dirname "$md")"
trap 'rm -rf "$work"' EXIT

rev="$(git -C "$ROOT" describe --always 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || rev="$rev + uncommitted changes in src/ or include/"
"$BUILD/eve-bench" --work "$work" --data "$data" --out "$md" --command "$cmd" --revision "$rev" "$@"
gnuplot -e "datadir='$data'; outdir='$png'" "$ROOT/bench/plots.gp"

if [ "$quick" = 1 ]; then
  cat "$md"
fi
echo "report: $md; plots: $png"
