# convergence_e2.gp — written by ember-ablate; render with: gnuplot convergence_e2.gp
set terminal pngcairo size 800,500 noenhanced
set output 'convergence_e2.png'
set title 'E2: test accuracy, mnist-cnn'
set xlabel 'training step'
set ylabel 'test accuracy (2k subset)'
set grid
set key outside right
set datafile missing 'nan'
$d0 << EOD
100 0.7835
200 0.813
300 0.8525
400 0.8545
500 0.8675
600 0.8715
700 0.879
800 0.888
900 0.8945
EOD
$d1 << EOD
100 0.8595
200 0.8495
300 0.8725
400 0.891
500 0.886
600 0.886
700 0.885
800 0.8905
900 0.8985
EOD
$d2 << EOD
100 0.84
200 0.877
300 0.857
400 0.873
500 0.877
600 0.896
700 0.889
800 0.883
900 0.9015
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'without BN, lr 0.02', \
     $d1 using 1:2 with linespoints lw 2 title 'with BN, lr 0.02', \
     $d2 using 1:2 with linespoints lw 2 title 'with BN, lr 0.1 (x5)'
