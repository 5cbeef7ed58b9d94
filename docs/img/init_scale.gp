# init_scale.gp — written by ember-ablate; render with: gnuplot init_scale.gp
set terminal pngcairo size 800,500 noenhanced
set output 'init_scale.png'
set title 'E4: best training accuracy vs init scale'
set xlabel 'weight std w'
set ylabel 'best training accuracy'
set grid
set key outside right
set datafile missing 'nan'
set logscale x
$d0 << EOD
1 0
0.54117 0
0.292864 0
0.158489 0.992
0.0857696 0.933
0.0464159 0.51
0.0251189 0.115
0.0135936 0.115
0.00735642 0.115
0.00398107 0.115
0.00215443 0.115
0.00116591 0.115
0.000630957 0.115
0.000341455 0.115
0.000184785 0.115
0.0001 0.115
EOD
$d1 << EOD
1 0.843
0.54117 0.918
0.292864 0.97
0.158489 0.993
0.0857696 1
0.0464159 0.997
0.0251189 0.984
0.0135936 0.981
0.00735642 0.965
0.00398107 0.968
0.00215443 0.95
0.00116591 0.94
0.000630957 0.939
0.000341455 0.913
0.000184785 0.894
0.0001 0.811
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'without BN', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'with BN'
