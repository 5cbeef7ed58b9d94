# train_eval.gp — written by ember-ablate; render with: gnuplot train_eval.gp
set terminal pngcairo size 800,500 noenhanced
set output 'train_eval.png'
set title 'test accuracy three ways, against the running averages'' update rate'
set xlabel '1 - momentum (weight of each new batch)'
set ylabel 'test accuracy'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
$d0 << EOD
0.5 0.8775
0.1 0.8776
0.01 0.8718
EOD
$d1 << EOD
0.5 0.8718
0.1 0.8718
0.01 0.8718
EOD
$d2 << EOD
0.5 0.875
0.1 0.875
0.01 0.875
EOD
$d3 << EOD
0.5 0.7371
0.1 0.7032
0.01 0.5568
EOD
$d4 << EOD
0.5 0.7182
0.1 0.7182
0.01 0.7182
EOD
$d5 << EOD
0.5 0.7284
0.1 0.7284
0.01 0.7284
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'long: running averages', \
     $d1 using 1:2 with linespoints lw 2 dt 2 title 'long: batch statistics', \
     $d2 using 1:2 with linespoints lw 2 dt 3 title 'long: recomputed', \
     $d3 using 1:2 with linespoints lw 2 pt 5 title 'short: running averages', \
     $d4 using 1:2 with linespoints lw 2 pt 5 dt 2 title 'short: batch statistics', \
     $d5 using 1:2 with linespoints lw 2 pt 5 dt 3 title 'short: recomputed'
