# lr_sweep_relative_loss.gp — written by ember-ablate; render with: gnuplot lr_sweep_relative_loss.gp
set terminal pngcairo size 800,500 noenhanced
set output 'lr_sweep_relative_loss.png'
set title 'E3d: L(theta - alpha g) / L(theta) at init'
set xlabel 'alpha'
set ylabel 'relative loss (batch 1)'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
set logscale y
$d0 << EOD
1e-05 0.999709
3.16228e-05 0.999078
0.0001 0.997087
0.000316228 0.990846
0.001 0.971758
0.00316228 0.917625
0.01 0.79952
0.0316228 0.720449
0.1 0.970492
0.316228 3.70163
1 71.8794
3.16228 9947.14
10 7.99525e+06
EOD
$d1 << EOD
1e-05 0.999688
3.16228e-05 0.999012
0.0001 0.996887
0.000316228 0.990272
0.001 0.970153
0.00316228 0.915932
0.01 0.802
0.0316228 0.675702
0.1 0.648632
0.316228 0.623604
1 0.653286
3.16228 1.08188
10 3.12826
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'without BN', \
     $d1 using 1:2 with linespoints lw 2 title 'with BN'
