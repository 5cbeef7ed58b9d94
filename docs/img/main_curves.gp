# main_curves.gp — training curves, written by ember-plot from results/main/bn.csv results/main/no-bn.csv
# Render it again (restyled or not) in this folder: gnuplot main_curves.gp
# -> main_curves.png and main_curves.svg. The data is in the script, below.

# run 1: 'with BatchNorm'
$run1_train_loss << EOD
50 0.691078
100 0.485428
150 0.410941
200 0.382256
250 0.352546
300 0.342255
350 0.363781
400 0.34588
450 0.319093
500 0.307989
550 0.312817
600 0.268932
650 0.286554
700 0.294538
750 0.28837
800 0.266142
850 0.287235
900 0.247504
950 0.27362
1000 0.236511
1050 0.240104
1100 0.229362
1150 0.235151
1200 0.227292
1250 0.219429
1300 0.211837
1350 0.199392
1400 0.229362
1450 0.191749
1500 0.207658
1550 0.217683
1600 0.213182
1650 0.192451
1700 0.206527
1750 0.212374
1800 0.206493
1850 0.211717
EOD
$run1_test_loss << EOD
938 0.291134
1876 0.233158
EOD
$run1_train_acc << EOD
50 75.25
100 82.6875
150 84.6875
200 85.8125
250 87.4687
300 87.4687
350 87.0625
400 87.5938
450 87.5
500 89.0625
550 88.2812
600 90.0625
650 89.1563
700 89.375
750 89.4062
800 90.6875
850 89.4687
900 90.9375
950 89.8674
1000 91.0625
1050 91.125
1100 91.4687
1150 90.9687
1200 91.875
1250 92.375
1300 92.5312
1350 92.875
1400 91.7188
1450 93.4063
1500 92.4375
1550 92.125
1600 92.25
1650 93.3125
1700 92.4375
1750 92.1875
1800 92.5625
1850 92.5312
EOD
$run1_test_acc << EOD
938 89.36
1876 91.52
EOD
# run 2: 'without BatchNorm'
$run2_train_loss << EOD
50 1.398807
100 0.632869
150 0.540627
200 0.506543
250 0.452308
300 0.42149
350 0.434675
400 0.418348
450 0.358758
500 0.354811
550 0.372022
600 0.332886
650 0.351095
700 0.334571
750 0.31675
800 0.315522
850 0.337921
900 0.278267
950 0.317154
1000 0.277645
1050 0.283955
1100 0.269798
1150 0.277872
1200 0.26136
1250 0.267363
1300 0.248395
1350 0.236258
1400 0.268135
1450 0.226111
1500 0.23746
1550 0.24726
1600 0.248808
1650 0.221886
1700 0.229949
1750 0.237069
1800 0.250556
1850 0.245509
EOD
$run2_test_loss << EOD
938 0.319074
1876 0.272302
EOD
$run2_train_acc << EOD
50 50.3125
100 76.5312
150 80.125
200 81.1875
250 83.4375
300 84.9063
350 84.4063
400 84.2812
450 87.5313
500 87.125
550 86.5938
600 87.9062
650 86.2187
700 88.2188
750 88.0625
800 89.0938
850 88.0625
900 89.5312
950 88.1313
1000 89.5
1050 89.375
1100 90.0312
1150 89.5312
1200 90.2188
1250 90.4687
1300 91.0625
1350 91.1875
1400 90.4375
1450 91.5
1500 91.0625
1550 91
1600 90.6875
1650 92.125
1700 91.0937
1750 91.625
1800 91.125
1850 91.2188
EOD
$run2_test_acc << EOD
938 88.52
1876 90.19
EOD

set grid
set xrange [0:*]

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1000,450 noenhanced font 'sans,10'
    } else {
        set terminal svg size 1000,450 noenhanced dynamic font 'sans,10' background '#ffffff'
    }
    set output 'main_curves'.'.'.format
    set multiplot layout 1,2 title 'mnist-cnn on Fashion-MNIST, 2 epochs, with and without BatchNorm'
    set title 'loss (solid: training, dashed: test)'
    set xlabel 'step'
    set ylabel 'cross-entropy'
    set key top right
    plot $run1_train_loss using 1:2 with lines lw 2 lc 1 title 'with BatchNorm', \
         $run1_test_loss using 1:2 with linespoints dt 2 pt 7 ps 0.5 lw 2 lc 1 notitle, \
         $run2_train_loss using 1:2 with lines lw 2 lc 2 title 'without BatchNorm', \
         $run2_test_loss using 1:2 with linespoints dt 2 pt 7 ps 0.5 lw 2 lc 2 notitle
    set title 'accuracy (solid: training, dashed: test)'
    set xlabel 'step'
    set ylabel 'accuracy (%)'
    set key bottom right
    plot $run1_train_acc using 1:2 with lines lw 2 lc 1 title 'with BatchNorm', \
         $run1_test_acc using 1:2 with linespoints dt 2 pt 7 ps 0.5 lw 2 lc 1 notitle, \
         $run2_train_acc using 1:2 with lines lw 2 lc 2 title 'without BatchNorm', \
         $run2_test_acc using 1:2 with linespoints dt 2 pt 7 ps 0.5 lw 2 lc 2 notitle
    unset multiplot
    unset output
}
