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
100 0.783
200 0.8165
300 0.857
400 0.8585
500 0.861
600 0.874
700 0.88
800 0.8915
900 0.894
EOD
$d1 << EOD
100 0.8605
200 0.852
300 0.8745
400 0.8805
500 0.884
600 0.8905
700 0.892
800 0.886
900 0.901
EOD
$d2 << EOD
100 0.836
200 0.8505
300 0.87
400 0.881
500 0.884
600 0.887
700 0.882
800 0.888
900 0.905
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'without BN, lr 0.02', \
     $d1 using 1:2 with linespoints lw 2 title 'with BN, lr 0.02', \
     $d2 using 1:2 with linespoints lw 2 title 'with BN, lr 0.1 (x5)'
