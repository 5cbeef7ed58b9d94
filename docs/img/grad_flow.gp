# grad_flow.gp — written by ember-ablate; render with: gnuplot grad_flow.gp
set terminal pngcairo size 800,500 noenhanced
set output 'grad_flow.png'
set title 'median gradient norm per layer'
set xlabel 'layer (1 = input side)'
set ylabel 'median |grad|'
set grid
set key outside right
set datafile missing 'nan'
set logscale y
$d0 << EOD
1 5.24365e-05
2 3.96996e-05
3 0.000134848
4 0.000561614
5 0.00250177
6 0.0109665
7 0.0456648
8 0.202039
9 0.587697
EOD
$d1 << EOD
1 0.926731
2 0.440551
3 0.398258
4 0.37122
5 0.358298
6 0.348557
7 0.346211
8 0.305472
9 0.42077
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'without BN', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'with BN'
