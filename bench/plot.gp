# Plots bench-throughput.dat (written by cafes-bench) to a PNG.
# gnuplot -e "data='bench-throughput.dat'; out='throughput.png'" bench/plot.gp
set terminal pngcairo size 1000,420 font ",10"
set output out
set multiplot layout 1,2 title "cafes: events/s against concurrent clients (medians, one process run)"
set logscale x 2
set xlabel "concurrent clients"
set ylabel "events/s"
set grid
set title "WAL sync off"
set key right bottom
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
plot data using 1:2 with linespoints title "baseline: plain loop, 1 txn/append", \
     data using 1:3 with linespoints title "actor path (group commit)"
set title "WAL sync on"
set key left top
set autoscale y
set offsets 0, 0, 0, 0
set logscale y 10
plot data using 1:4 with linespoints title "baseline: plain loop, 1 txn/append", \
     data using 1:5 with linespoints title "actor path (group commit)"
unset multiplot
