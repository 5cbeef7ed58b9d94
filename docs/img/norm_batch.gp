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
set xtics ('2' 2, '8' 8, '32' 32, '128' 128)
set key top center horizontal maxrows 2
$d0 << EOD
2 44.65
8 15.35
32 15.85
128 19.25
EOD
$d1 << EOD
2 31.55
8 22.7
32 23.95
128 32.75
EOD
$d2 << EOD
2 31
8 23.1
32 25.15
128 31.4
EOD
$d3 << EOD
2 29.65
8 23.1
32 20.2
128 22.3
EOD
$d4 << EOD
2 29.6
8 22.2
32 26.5
128 90.5
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'BatchNorm', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'GroupNorm (4 groups)', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'LayerNorm', \
     $d3 using 1:2 with linespoints lw 2 pt 7 title 'InstanceNorm (LayerNorm on fc128)', \
     $d4 using 1:2 with linespoints lw 2 pt 7 title 'no normalization'
