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
200 0.815
300 0.8495
400 0.8455
500 0.8655
600 0.8725
700 0.878
800 0.884
900 0.898
EOD
$d1 << EOD
100 0.8625
200 0.8605
300 0.8775
400 0.8885
500 0.8885
600 0.894
700 0.882
800 0.89
900 0.8995
EOD
$d2 << EOD
100 0.84
200 0.8465
300 0.8675
400 0.875
500 0.8825
600 0.8845
700 0.8915
800 0.8845
900 0.896
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'without BN, lr 0.02', \
     $d1 using 1:2 with linespoints lw 2 title 'with BN, lr 0.02', \
     $d2 using 1:2 with linespoints lw 2 title 'with BN, lr 0.1 (x5)'
