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
1 0.6827
2 0.7886
3 0.7722
4 0.803
5 0.542
6 0.8517
7 0.871
8 0.8011
9 0.8709
10 0.8684
EOD
$d3 << EOD
1 0.749787
2 0.476292
3 0.399169
4 0.361711
5 0.332263
6 0.320323
7 0.300289
8 0.290318
9 0.277608
10 0.266299
EOD
$d4 << EOD
1 0.7255
2 0.8253
3 0.6768
4 0.8035
5 0.6574
6 0.8593
7 0.8559
8 0.7899
9 0.8228
10 0.8678
EOD
$d5 << EOD
1 0.720473
2 0.470506
3 0.40296
4 0.36797
5 0.337338
6 0.319184
7 0.302909
8 0.291327
9 0.277653
10 0.268035
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'test acc, no BN, lr 0.9', \
     $d1 using 1:2 with linespoints lw 1 dt 2 title 'train loss, no BN, lr 0.9', \
     $d2 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 1.0', \
     $d3 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 1.0', \
     $d4 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 0.9', \
     $d5 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 0.9'
