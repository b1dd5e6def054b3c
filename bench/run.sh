#!/usr/bin/env bash
# bench/run.sh — the benchmark harness end to end: install the peers (LMDB,
# hiredis, redis-server) and gnuplot if missing, build, run every scenario
# for eve and the peers, write the report and the plots.
#
#   bench/run.sh            full run (~6 min on 2 cores): docs/BENCHMARKS.md
#                           and docs/bench/*.png
#   bench/run.sh --quick    smoke test (< 2 min): the report goes to
#                           build-bench/quick/ and is printed; docs/ untouched
#   bench/run.sh --only 78  only those scenarios (`make bench SCEN=S7,S8`): the
#                           report goes to build-bench/only/ and is printed;
#                           docs/ untouched
#
# Other arguments go to the driver (e.g. --max-exp 6, --s7-hold 10,
# --s8-seconds 60; see bench/bench.c).  Scenarios 7 and 8 compare their
# figures with docs/bench/reclamation-before.dat (the baseline before the
# reclamation work); a full run writes that file when it is missing.
# BUILD_BENCH overrides the build directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_BENCH:-$ROOT/build-bench}"
quick=0
only=0
for a in "$@"; do
  [ "$a" = "--quick" ] && quick=1
  [ "$a" = "--only" ] && only=1
done

"$ROOT/.ci/deps.sh" build-essential cmake pkg-config libxxhash-dev \
  liblmdb-dev libhiredis-dev redis-server gnuplot
make -C "$ROOT/bench" BUILD="$BUILD" --no-print-directory

if [ "$quick" = 1 ]; then
  out="$BUILD/quick"; md="$out/BENCHMARKS.md"; png="$out/bench"; data="$BUILD/data-quick"
  cmd="bench/run.sh $*"
elif [ "$only" = 1 ]; then
  out="$BUILD/only"; md="$out/BENCHMARKS.md"; png="$out/bench"; data="$BUILD/data-only"
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
"$BUILD/eve-bench" --work "$work" --data "$data" --out "$md" --command "$cmd" --revision "$rev" \
  --baseline "$ROOT/docs/bench/reclamation-before.dat" "$@"
if [ "$only" = 1 ]; then  # some plots have no data
  gnuplot -e "datadir='$data'; outdir='$png'" "$ROOT/bench/plots.gp" 2>/dev/null || true
else
  gnuplot -e "datadir='$data'; outdir='$png'" "$ROOT/bench/plots.gp"
fi

if [ "$quick" = 1 ] || [ "$only" = 1 ]; then
  cat "$md"
fi
echo "report: $md; plots: $png"
