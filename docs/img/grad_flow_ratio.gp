# grad_flow_ratio.gp — written by ember-ablate; render with: gnuplot grad_flow_ratio.gp
set terminal pngcairo size 800,500 noenhanced
set output 'grad_flow_ratio.png'
set title 'update/weight ratio of layer 1 over training'
set xlabel 'training step'
set ylabel '|update| / |W1|'
set grid
set key outside right
set datafile missing 'nan'
set logscale y
$d0 << EOD
50 3.65712e-07
100 4.10234e-07
150 4.54819e-07
200 3.69196e-07
250 4.294e-07
300 3.59351e-07
350 3.88596e-07
400 3.50051e-07
450 3.7056e-07
500 3.4994e-07
550 3.9648e-07
600 3.83205e-07
650 4.21528e-07
700 3.83661e-07
750 4.3317e-07
800 4.04545e-07
850 4.13092e-07
900 4.07193e-07
EOD
$d1 << EOD
50 0.00600388
100 0.00529167
150 0.00603995
200 0.00567159
250 0.00939949
300 0.00886296
350 0.0081991
400 0.00700705
450 0.00671714
500 0.00747709
550 0.00575094
600 0.00633322
650 0.00702102
700 0.0101716
750 0.00549594
800 0.00719641
850 0.00559686
900 0.00730819
EOD
plot $d0 using 1:2 with lines lw 2 title 'without BN', \
     $d1 using 1:2 with lines lw 2 title 'with BN'
