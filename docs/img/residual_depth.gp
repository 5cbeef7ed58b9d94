# residual_depth.gp — written by ember-ablate; render with: gnuplot residual_depth.gp
set terminal pngcairo size 800,500 noenhanced
set output 'residual_depth.png'
set title 'residual MLPs: test error against depth'
set xlabel 'residual blocks N (2N + 2 weight layers)'
set ylabel 'test error (%)'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
$d0 << EOD
2 15.51
8 15.53
32 16.36
96 16.11
EOD
$d1 << EOD
2 16.1
8 16.04
32 16.11
96 16
EOD
$d2 << EOD
2 17.3
8 17.99
32 17.6
96 28.76
EOD
$d3 << EOD
2 18.15
8 90
32 90
96 90
EOD
$d4 << EOD
2 17.71
8 17.81
32 17.42
96 17.88
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'BatchNorm', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'BatchNorm, zero-gamma', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'none, default init', \
     $d3 using 1:2 with linespoints lw 2 pt 7 title 'none, He init', \
     $d4 using 1:2 with linespoints lw 2 pt 7 title 'none, Fixup'
