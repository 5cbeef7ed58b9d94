# renorm.gp — written by ember-ablate; render with: gnuplot renorm.gp
set terminal pngcairo size 800,500 noenhanced
set output 'renorm.png'
set title 'test accuracy with running statistics'
set xlabel 'configuration'
set ylabel 'test accuracy'
set grid
set key outside right
set datafile missing 'nan'
set style fill solid 0.6
set boxwidth 0.6
set xtics ('reference' 0, 'BN, 4' 1, 'BRN, 4' 2, 'BN, 2 classes' 3, 'BRN, 2 classes' 4)
set xrange [-0.7:4.7]
$d0 << EOD
0 0.874
1 0.8607
2 0.878
3 0.5927
4 0.726
EOD
plot $d0 using 1:2 with boxes title 'median over seeds'
