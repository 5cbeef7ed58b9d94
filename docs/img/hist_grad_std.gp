# hist_grad_std.gp — written by ember-ablate; render with: gnuplot hist_grad_std.gp
set terminal pngcairo size 800,500 noenhanced
set output 'hist_grad_std.png'
set title 'gradient scale per layer at step 0'
set xlabel 'layer (1 = input side)'
set ylabel 'std of the gradient'
set grid
set key outside right
set datafile missing 'nan'
set logscale y
$d0 << EOD
1 0.000209285
2 0.000208218
3 0.000214426
4 0.000204396
5 0.000200021
EOD
$d1 << EOD
1 0.000455076
2 0.000364061
3 0.000295072
4 0.000242358
5 0.000193389
EOD
$d2 << EOD
1 3.41717e-10
2 4.81469e-09
3 7.03157e-08
4 9.52799e-07
5 1.33492e-05
EOD
$d3 << EOD
1 3.09677e-05
2 2.48446e-05
3 2.00923e-05
4 1.65148e-05
5 1.31072e-05
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'nobn-kaiming', \
     $d1 using 1:2 with linespoints lw 2 title 'bn-kaiming', \
     $d2 using 1:2 with linespoints lw 2 title 'nobn-w0.01', \
     $d3 using 1:2 with linespoints lw 2 title 'bn-w0.01'
