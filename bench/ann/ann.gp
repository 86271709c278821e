# Recall@10 against single-thread queries/s (log scale) for every contender
# of the ANN benchmark; vectorstore's indexes solid, the peers dashed.
# bench/ann/run calls:
#   gnuplot -e "datafile='ann.dat'; outfile='x.png'; ours=5; subtitle='...'" ann.gp
# The data file has one block per contender, its name on the block's first
# line, our blocks first (written by ann_report.c).
if (!exists("datafile")) datafile = 'ann.dat'
if (!exists("outfile")) outfile = 'ann-recall-qps.png'
if (!exists("subtitle")) subtitle = ''
if (!exists("ours")) ours = 0

set terminal pngcairo size 1100,700 font ",11" noenhanced
set output outfile
set title "Fashion-MNIST 784-d, L2, k=10: recall@10 vs queries/s (1 thread, one query at a time)\n".subtitle
set xlabel "recall@10 (axis stretched as -log10(1 - recall); 1.0 drawn at 0.9999)"
set ylabel "queries/s (log scale)"
set logscale y
# Recalls crowd near 1: stretch the axis so 0.9, 0.99 and 0.999 are
# evenly spaced.
set xrange [0.5:0.9999]
set nonlinear x via -log10(1 - x) inverse 1 - 10**(-x)
set xtics ("0.5" 0.5, "0.8" 0.8, "0.9" 0.9, "0.95" 0.95, "0.99" 0.99, "0.995" 0.995, "0.999" 0.999, "1.0" 0.9999)
clip(r) = r > 0.9999 ? 0.9999 : r
set grid xtics ytics mytics
set key outside right top vertical
plot for [i=0:*] datafile index i using (clip($1)):2 title columnheader(1) \
     with linespoints pointsize 1.2 linewidth 2 dt 1+(i>=ours)
