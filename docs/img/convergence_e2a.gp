# convergence_e2a.gp — written by ember-ablate; render with: gnuplot convergence_e2a.gp
set terminal pngcairo size 800,500 noenhanced
set output 'convergence_e2a.png'
set title 'E2a: d2l LeNet on Fashion-MNIST'
set xlabel 'epoch'
set ylabel 'accuracy / loss'
set grid
set key outside right
set datafile missing 'nan'
$d0 << EOD
1 0.1
2 0.5821
3 0.6079
4 0.6641
5 0.6615
6 0.7738
7 0.7716
8 0.7663
9 0.7651
10 0.7907
EOD
$d1 << EOD
1 2.32107
2 1.62698
3 0.92038
4 0.762816
5 0.666631
6 0.605123
7 0.557469
8 0.529574
9 0.49418
10 0.476368
EOD
$d2 << EOD
1 0.6853
2 0.7892
3 0.771
4 0.8035
5 0.5419
6 0.8514
7 0.8709
8 0.8009
9 0.8713
10 0.8685
EOD
$d3 << EOD
1 0.749759
2 0.476416
3 0.399173
4 0.361685
5 0.332263
6 0.320335
7 0.300289
8 0.290337
9 0.277609
10 0.2663
EOD
$d4 << EOD
1 0.7262
2 0.8251
3 0.6775
4 0.8009
5 0.6541
6 0.8594
7 0.8574
8 0.7915
9 0.8213
10 0.867
EOD
$d5 << EOD
1 0.720598
2 0.470571
3 0.402852
4 0.367773
5 0.337175
6 0.319248
7 0.302772
8 0.291261
9 0.277564
10 0.267984
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'test acc, no BN, lr 0.9', \
     $d1 using 1:2 with linespoints lw 1 dt 2 title 'train loss, no BN, lr 0.9', \
     $d2 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 1.0', \
     $d3 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 1.0', \
     $d4 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 0.9', \
     $d5 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 0.9'
