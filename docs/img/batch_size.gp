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
8 0.8497
16 0.8502
32 0.8483
64 0.8495
128 0.8375
256 0.834
EOD
$d1 << EOD
8 0.8483
16 0.8534
32 0.86
64 0.8583
128 0.8521
256 0.8429
EOD
$d2 << EOD
8 0.04255
16 0.0517
32 0.05675
64 0.0521
128 0.05265
256 0.0408
EOD
$d3 << EOD
8 -0.0016
16 0.02245
32 0.03925
64 0.04375
128 0.04605
256 0.0369
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'test acc, no BN', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'test acc, BN', \
     $d2 using 1:2 with linespoints lw 2 dt 2 title 'gap, no BN', \
     $d3 using 1:2 with linespoints lw 2 dt 2 title 'gap, BN'
