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
1 0.6917
2 0.7908
3 0.7702
4 0.8036
5 0.5405
6 0.8521
7 0.8704
8 0.8013
9 0.8716
10 0.8688
EOD
$d3 << EOD
1 0.749687
2 0.476758
3 0.399214
4 0.361675
5 0.332294
6 0.320478
7 0.300319
8 0.290384
9 0.277647
10 0.266306
EOD
$d4 << EOD
1 0.7262
2 0.8252
3 0.6777
4 0.8008
5 0.6539
6 0.8594
7 0.8572
8 0.7914
9 0.8212
10 0.867
EOD
$d5 << EOD
1 0.720603
2 0.470574
3 0.402847
4 0.367763
5 0.337167
6 0.319251
7 0.302766
8 0.291258
9 0.277561
10 0.267981
EOD
plot $d0 using 1:2 with linespoints lw 2 title 'test acc, no BN, lr 0.9', \
     $d1 using 1:2 with linespoints lw 1 dt 2 title 'train loss, no BN, lr 0.9', \
     $d2 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 1.0', \
     $d3 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 1.0', \
     $d4 using 1:2 with linespoints lw 2 title 'test acc, BN, lr 0.9', \
     $d5 using 1:2 with linespoints lw 1 dt 2 title 'train loss, BN, lr 0.9'
