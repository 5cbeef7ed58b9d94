# placement.gp — written by ember-ablate; render with: gnuplot placement.gp
set terminal pngcairo size 800,500 noenhanced
set output 'placement.png'
set title 'test accuracy: the norm before or after the ReLU'
set xlabel 'configuration'
set ylabel 'test accuracy'
set grid
set key outside right
set datafile missing 'nan'
set style fill solid 0.6
set boxwidth 0.35
set xrange [-0.7:4.7]
set xtics ('BN before' 0, 'BN after' 1, 'GN before' 2, 'GN after' 3, 'none' 4)
$d0 << EOD
-0.18 0.8798
0.82 0.8629
1.82 0.8636
2.82 0.8777
3.82 0.8633
EOD
$d1 << EOD
0.18 0.84
1.18 0.8342
2.18 0.8295
3.18 0.829
4.18 0.8275
EOD
plot $d0 using 1:2 with boxes title 'CNN', \
     $d1 using 1:2 with boxes title 'MLP'
