# lr_sweep_cnn_accuracy.gp — written by ember-ablate; render with: gnuplot lr_sweep_cnn_accuracy.gp
set terminal pngcairo size 800,500 noenhanced
set output 'lr_sweep_cnn_accuracy.png'
set title 'final test accuracy vs learning rate, mnist-cnn'
set xlabel 'learning rate'
set ylabel 'test accuracy'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
$d0 << EOD
0.01 0.7397
0.03 0.7959
0.1 0.8455
0.3 0.8339
1 0.1
3 0.1
EOD
$d1 << EOD
1 0.1
3 0.1
EOD
$d2 << EOD
0.01 0.8741
0.03 0.8717
0.1 0.8862
0.3 0.8629
1 0.8843
3 0.7971
EOD
$d3 << EOD
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'without BN', \
     $d1 using 1:2 with points pt 2 ps 3 lw 3 title 'no BN diverged', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'with BN', \
     $d3 using 1:2 with points pt 2 ps 3 lw 3 title 'BN diverged'
