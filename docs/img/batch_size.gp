# batch_size.gp — written by ember-ablate; render with: gnuplot batch_size.gp
set terminal pngcairo size 800,500 noenhanced
set output 'batch_size.png'
set title 'test accuracy and train/test gap vs batch size'
set xlabel 'batch size'
set ylabel 'accuracy / gap'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
$d0 << EOD
8 0.8546
16 0.8528
32 0.8543
64 0.8484
128 0.8357
256 0.8312
EOD
$d1 << EOD
8 0.8545
16 0.8557
32 0.8586
64 0.8579
128 0.848
256 0.8433
EOD
$d2 << EOD
8 0.03755
16 0.04945
32 0.05255
64 0.05275
128 0.05375
256 0.04475
EOD
$d3 << EOD
8 -0.00645
16 0.02245
32 0.03955
64 0.0447
128 0.04995
256 0.037
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'test acc, no BN', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'test acc, BN', \
     $d2 using 1:2 with linespoints lw 2 dt 2 title 'gap, no BN', \
     $d3 using 1:2 with linespoints lw 2 dt 2 title 'gap, BN'
