# hist_act_std.gp — written by ember-ablate; render with: gnuplot hist_act_std.gp
set terminal pngcairo size 800,500 noenhanced
set output 'hist_act_std.png'
set title 'ReLU input scale per layer at step 0'
set xlabel 'layer (1 = input side)'
set ylabel 'std of the ReLU input'
set grid
set key outside right
set datafile missing 'nan'
set logscale y
$d0 << EOD
1 1.44273
2 1.54328
3 1.30435
4 1.31968
5 1.38925
EOD
$d1 << EOD
1 0.999995
2 0.999992
3 0.999992
4 0.999992
5 0.999992
EOD
$d2 << EOD
1 0.285647
2 0.0216059
3 0.00129124
4 9.23776e-05
5 6.87643e-06
EOD
$d3 << EOD
1 0.999883
2 0.998357
3 0.998421
4 0.998415
5 0.998368
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'nobn-kaiming', \
     $d1 using 1:2 with linespoints lw 2 title 'bn-kaiming', \
     $d2 using 1:2 with linespoints lw 2 title 'nobn-w0.01', \
     $d3 using 1:2 with linespoints lw 2 title 'bn-w0.01'
