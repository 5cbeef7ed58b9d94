# norm_batch.gp — written by ember-ablate; render with: gnuplot norm_batch.gp
set terminal pngcairo size 800,500 noenhanced
set output 'norm_batch.png'
set title 'test error against the batch size, per normalization'
set xlabel 'batch size (images per step; lr scaled with it)'
set ylabel 'test error (%, log scale)'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
set logscale y
set xtics ('2' 2, '4' 4, '8' 8, '16' 16, '32' 32, '64' 64, '128' 128)
set key top center horizontal maxrows 2
$d0 << EOD
2 45.02
4 13.14
8 12.96
16 11.76
32 11.64
64 11.83
128 12.4
EOD
$d1 << EOD
2 13.41
4 14.23
8 13.53
16 13.49
32 13.47
64 14.08
128 14.21
EOD
$d2 << EOD
2 13.33
4 14.87
8 13.83
16 13.73
32 13.21
64 13.86
128 13.93
EOD
$d3 << EOD
2 12.73
4 13.44
8 13.4
16 13.53
32 12.84
64 13.31
128 13.02
EOD
$d4 << EOD
2 12.99
4 13.34
8 13.13
16 14.2
32 14.09
64 18.01
128 90
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'BatchNorm', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'GroupNorm (4 groups)', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'LayerNorm', \
     $d3 using 1:2 with linespoints lw 2 pt 7 title 'InstanceNorm (LayerNorm on fc128)', \
     $d4 using 1:2 with linespoints lw 2 pt 7 title 'no normalization'
