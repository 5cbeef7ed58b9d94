# norm_axes.gp — which values one set of statistics takes, for BatchNorm and its relatives
# (docs/batchnorm.md §6). Render with: gnuplot norm_axes.gp (writes norm_axes.png)
#
# Each panel is an input of N = 4 samples (rows) and C = 6 channels (columns); every cell
# (n, c) holds the H*W positions of one feature map, drawn as 4 thin strips. The shaded
# cells are the values ONE mean and variance is taken over; the other sets are alike.
set terminal pngcairo size 1000,270 noenhanced font ',10'
set output 'norm_axes.png'
N = 4; C = 6; S = 4
# shaded(panel, n, c): 1 when cell (n, c) belongs to the panel's first set
# panel 0 BatchNorm: channel 1, every sample; 1 LayerNorm: sample 0, every channel;
# 2 InstanceNorm: sample 0, channel 1; 3 GroupNorm, G = 3: sample 0, channels 2 and 3
shaded(p, n, c) = p == 0 ? (c == 1) : p == 1 ? (n == 0) : p == 2 ? (n == 0 && c == 1) : \
                  (n == 0 && (c == 2 || c == 3))
titles = "BatchNorm LayerNorm InstanceNorm GroupNorm(G=3)"
axes = "'over N, H, W' 'over C, H, W' 'over H, W' 'over C/G, H, W'"
set multiplot layout 1,4
unset key; unset border; unset tics
set xrange [-0.8:C + 0.3]; set yrange [-1.2:N + 0.9]
set size ratio -1
do for [p = 0:3] {
    unset object; unset label
    set title word(titles, p + 1)
    k = 1
    do for [n = 0:N-1] {
        do for [c = 0:C-1] {
            do for [s = 0:S-1] {
                x0 = c + s * 0.9 / S; y0 = N - 1 - n
                set object k rectangle from x0, y0 to x0 + 0.9 / S, y0 + 0.9 \
                    fc rgb (shaded(p, n, c) ? '#d95f02' : '#f0f0f0') fs solid 1.0 border rgb '#999999' lw 0.5
                k = k + 1
            }
        }
    }
    set label 1 'C (channels) ->' at 0, -0.6 left
    set label 2 'N' at -0.6, N / 2.0 center
    set label 3 word(axes, p + 1) at C / 2.0, N + 0.5 center tc rgb '#d95f02'
    plot NaN
}
unset multiplot
