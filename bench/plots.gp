# plots.gp — the report's figures from the harness's .dat files.
#   gnuplot -e "datadir='DIR'; outdir='DIR'" bench/plots.gp
# A figure whose data file is missing (a partial run) is skipped.

set terminal pngcairo size 1100,560 font "sans,11" enhanced
set datafile missing "?"
set grid
set key outside right top vertical box
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
has(f) = system("test -s '" . f . "' && echo 1 || echo 0") + 0

swap = datadir . "/swap.dat"
read = datadir . "/read.dat"
counter = datadir . "/counter.dat"
map = datadir . "/map.dat"

set logscale x 10
set logscale y 10
set format x "10^{%T}"
set format y "%g"
set xlabel "keys in the map (N)"
set ylabel "latency (µs), log scale"

if (has(swap)) {
  set output outdir . "/swap_latency.png"
  set title "Scenario 1: one-key update of an N-key map (solid p50, dashed p99)"
  plot swap u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "eve p50", \
       ''   u 1:3 w lp lw 1 pt 6 dt 2 lc rgb "#d62728" t "eve p99", \
       ''   u 1:4 w lp lw 1 pt 4 dt 3 lc rgb "#ff9896" t "eve, 1000 swaps per txn, p50", \
       ''   u 1:5 w lp lw 2 pt 5 lc rgb "#1f77b4" t "LMDB p50", \
       ''   u 1:6 w lp lw 1 pt 4 dt 2 lc rgb "#1f77b4" t "LMDB p99", \
       ''   u 1:7 w lp lw 2 pt 9 lc rgb "#2ca02c" t "Redis HSET p50", \
       ''   u 1:8 w lp lw 1 pt 8 dt 2 lc rgb "#2ca02c" t "Redis HSET p99"
}

if (has(read)) {
  set output outdir . "/read_latency.png"
  set title "Scenario 2: point read of an N-key map (p50; dashed: 1000 reads per txn)"
  plot read u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "eve, 1 read/txn", \
       ''   u 1:8 w lp lw 1 pt 6 dt 2 lc rgb "#d62728" t "eve, 1000 reads/txn", \
       ''   u 1:4 w lp lw 2 pt 5 lc rgb "#1f77b4" t "LMDB, 1 read/txn", \
       ''   u 1:9 w lp lw 1 pt 4 dt 2 lc rgb "#1f77b4" t "LMDB, 1000 reads/txn", \
       ''   u 1:6 w lp lw 2 pt 9 lc rgb "#2ca02c" t "Redis HGET"
}

set logscale x 2
set format x "%g"
set xtics (1, 2, 4, 8)
set autoscale xfix
set xrange [0.8:10]
set xlabel "processes"
set ylabel "operations per second, log scale"
set format y "10^{%T}"
set offsets 0, 0, 0, 0

if (has(counter)) {
  set output outdir . "/counter_throughput.png"
  set title "Scenario 3: processes incrementing one counter"
  plot counter u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "eve (txn + swap per increment)", \
       ''      u 1:3 w lp lw 2 pt 13 lc rgb "#7f7f7f" t "bare CAS loop (floor)", \
       ''      u 1:4 w lp lw 2 pt 5 lc rgb "#1f77b4" t "LMDB (txn per increment)", \
       ''      u 1:5 w lp lw 2 pt 9 lc rgb "#2ca02c" t "Redis INCR"
}

if (has(map)) {
  set output outdir . "/map_throughput.png"
  set title "Scenario 4: processes updating random keys of one map"
  plot map u 1:2 w lp lw 2 pt 7 lc rgb "#d62728" t "eve (txn + swap per update)", \
       ''  u 1:3 w lp lw 2 pt 5 lc rgb "#1f77b4" t "LMDB (txn per put)", \
       ''  u 1:4 w lp lw 2 pt 9 lc rgb "#2ca02c" t "Redis WATCH/MULTI/EXEC"
}
