#!/usr/bin/env bash
# tests/programs/test_plot.sh — ember-plot as a user runs it: curves of metrics files and of
# ember-ablate curves, a confusion matrix, the images gnuplot draws (PNG size and the
# dimensions in its IHDR chunk, the SVG's view box), the .gp script drawing the same
# images again on its own, the path without gnuplot, a gnuplot that fails, bad input.
#   usage: test_plot.sh EMBER_PLOT EMBER_MNIST
# The inputs are written here (small and exact); one real metrics file comes from a short
# ember-mnist run when Fashion-MNIST is installed. Exits 77 (skipped) when gnuplot is missing
# after running the checks that do not need it.
set -uo pipefail
PLOT=$1 MNIST=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
have_gnuplot=$(command -v gnuplot >/dev/null && echo 1 || echo 0)

# width and height from a PNG's IHDR chunk (bytes 16-23, big-endian), "W H"; "" if no PNG
png_size() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || return 0
    [ "$(head -c 16 "$1" | tail -c 4)" = IHDR ] || return 0
    od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
# the lines of a datablock of a script: block FILE NAME
block() { awk -v b="\$$2 << EOD" '$0 == b {on = 1; next} $0 == "EOD" {on = 0} on' "$1"; }

# ---- inputs ---------------------------------------------------------------------------------
mkdir -p "$tmp/in" "$tmp/abl"
hdr=epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged
printf '%s\n1,100,0.05,0.9,0.70,0.8,0.72,1.0,6400.0,0\n2,200,0.05,0.5,0.85,0.6,0.80,1.0,6400.0,0\n' \
    "$hdr" >"$tmp/in/a.csv"
{ echo "$hdr"
  echo "1,50,0.05,1.2,0.60,,,0.5,6400.0,0"
  echo "1,100,0.05,0.8,0.75,,,0.5,6400.0,0"
  echo "1,100,0.05,1.0,0.68,0.7,0.77,1.0,6400.0,0"
  echo "2,150,0.05,0.6,0.80,,,0.5,6400.0,0"
  echo "2,200,0.05,0.5,0.84,,,0.5,6400.0,0"
  echo "2,200,0.05,0.55,0.82,0.55,0.83,1.0,6400.0,0"; } >"$tmp/in/b.csv"
printf '%s\n1,7,10,2.5,0.1,,,0.1,100.0,1\n' "$hdr" >"$tmp/in/div.csv"
{ echo "experiment,variant,bn,lr,init_scale,batch,seed,steps,final_train_loss,final_test_acc,best_test_acc,steps_to_target,outcome,diverged_step"
  echo "lr-sweep,bn-lr0.1-s1,1,0.1,1,64,1,30,0.4,0.85,0.85,-1,trained,-1"
  echo "lr-sweep,nobn-lr1-s1,0,1,1,64,1,20,nan,nan,nan,-1,diverged,20"; } >"$tmp/abl/runs.csv"
{ echo "run,step,metric,value"
  for s in 10 20 30; do echo "0,$s,train_loss,0.$((9 - s / 10))"; done
  echo "0,30,test_acc_final,0.85"
  echo "0,30,lr,0.1"
  for s in 10 20; do echo "1,$s,train_loss,$((s / 5))"; done; } >"$tmp/abl/curves.csv"
{ echo 'true\predicted,cat,"dog, big",bird'
  echo "cat,5,1,0"
  echo '"dog, big",2,6,0'
  echo "bird,0,0,4"; } >"$tmp/in/conf.csv"

# ---- without gnuplot: the script, the data in it, and how to draw it; exit 0 ------------------
mkdir -p "$tmp/nog"
s=$(status env PATH=/nonexistent "$PLOT" --out "$tmp/nog/fig" "$tmp/in/a.csv")
check "without gnuplot on PATH: exit 0" test "$s" = 0
check "... the note says gnuplot is missing and how to draw the figure" \
    grep -q "gnuplot is not on PATH.*apt-get install gnuplot-nox.*cd $tmp/nog && gnuplot fig.gp" "$tmp/err"
check "... the script is written, with its data" \
    test "$(block "$tmp/nog/fig.gp" run1_test_acc | tr '\n' ' ')" = "100 72 200 80 "
check "... and no image" test ! -e "$tmp/nog/fig.png" -a ! -e "$tmp/nog/fig.svg"

# ---- bad input: exit 2 naming the file; nothing written -------------------------------------
printf 'x,y\n1,2\n' >"$tmp/in/other.csv"
printf '%s\n1,100,0.05,0.9\n' "$hdr" >"$tmp/in/short.csv"
printf '%s\n1,100,0.05,abc,0.7,,,1,1,0\n' "$hdr" >"$tmp/in/nan.csv"
for bad in missing.csv other.csv short.csv nan.csv; do
    s=$(status "$PLOT" --out "$tmp/bad/fig" "$tmp/in/$bad")
    check "a bad input ($bad) exits 2 naming the file" \
        test "$s" = 2 -a -n "$(grep "ember-plot: $tmp/in/$bad" "$tmp/err")"
done
s=$(status "$PLOT" "$tmp/in/short.csv")
check "... and the line: short.csv: line 2: not a metrics row" grep -q "short.csv: line 2: not a metrics row" "$tmp/err"
check "... and no script is written" test ! -e "$tmp/bad/fig.gp"
for args in "" "--frobnicate $tmp/in/a.csv" "--x time $tmp/in/a.csv" "--size 10x10 $tmp/in/a.csv" \
            "--label a --label b $tmp/in/a.csv" "--confusion $tmp/in/conf.csv $tmp/in/a.csv" \
            "--x epoch $tmp/abl/curves.csv" "--match nothing-matches $tmp/in/a.csv"; do
    s=$(status "$PLOT" $args)
    check "bad arguments '$args' exit 2 with a message" test "$s" = 2 -a -s "$tmp/err"
done
printf 'true\\predicted,a,b\na,1,2\nc,0,1\n' >"$tmp/in/badconf.csv"
s=$(status "$PLOT" --confusion "$tmp/in/badconf.csv")
check "a confusion matrix whose rows do not match its columns exits 2 naming the line" \
    test "$s" = 2 -a -n "$(grep "badconf.csv: line 3 is class 'c'" "$tmp/err")"
# a FIFO (nobody writing to it) or a device given as a file: refused at once, not waited on
mkfifo "$tmp/in/fifo.csv"
for args in "$tmp/in/fifo.csv" "--confusion $tmp/in/fifo.csv" /dev/zero "--confusion /dev/zero"; do
    s=$(status timeout 20 "$PLOT" --out "$tmp/bad/fig" $args)
    check "'$args': exit 2 at once, 'not a regular file' (got $s)" \
        test "$s" = 2 -a -n "$(grep -F "ember-plot: ${args#--confusion }: not a regular file" "$tmp/err")"
done
# a file of one endless line (300 MB of NUL bytes after the header, sparse: no disk used)
# is refused at its 65536th character, not read whole into memory first
printf '%s\n' "$hdr" >"$tmp/in/endless.csv"
truncate -s 300M "$tmp/in/endless.csv"
s=$(status /usr/bin/time -f "rss %M" "$PLOT" --out "$tmp/bad/fig" "$tmp/in/endless.csv")
rss=$(awk '/^rss/ {print $2}' "$tmp/err")
check "a 300 MB line: exit 2 naming line 2, in under 64 MB of memory (got $s, ${rss:-?} KB)" \
    test "$s" = 2 -a -n "$(grep 'endless.csv: line 2 is not text of a CSV file' "$tmp/err")" -a "${rss:-999999}" -lt 65536
s=$(status "$PLOT" --out /nonexistent/dir/fig "$tmp/in/a.csv")
check "an output folder that does not exist: exit 1 naming the file" \
    test "$s" = 1 -a -n "$(grep '/nonexistent/dir/fig.gp' "$tmp/err")"

# ---- a gnuplot that fails: exit 1 with what it said -------------------------------------------
mkdir -p "$tmp/fakebin"
printf '#!/bin/sh\necho "line 1: plot failed: no data" >&2\nexit 1\n' >"$tmp/fakebin/gnuplot"
chmod +x "$tmp/fakebin/gnuplot"
mkdir -p "$tmp/fake"
s=$(status env PATH="$tmp/fakebin" "$PLOT" --out "$tmp/fake/fig" "$tmp/in/a.csv")
check "gnuplot failing: exit 1 with its message and the script's name" \
    test "$s" = 1 -a -n "$(grep 'exited with status 1.*plot failed: no data.*fig.gp' "$tmp/err")"

if [ "$have_gnuplot" = 0 ]; then
    echo "SKIPPED: gnuplot is missing (apt-get install gnuplot-nox): images not checked"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ] && exit 77
    exit 1
fi

# ---- curves of metrics files -------------------------------------------------------------------
mkdir -p "$tmp/figs"
s=$(status "$PLOT" --out "$tmp/figs/fig" --size 640x480 "$tmp/in/a.csv" "$tmp/in/b.csv" "$tmp/in/div.csv")
check "two metrics files and a diverged one: exit 0" test "$s" = 0
check "... says what it wrote" grep -q "wrote $tmp/figs/fig.png, fig.svg and fig.gp" "$tmp/out"
check "... the PNG has the asked size in its IHDR (640 x 480)" test "$(png_size "$tmp/figs/fig.png")" = "640 480"
check "... and is a figure, not an empty image ($(wc -c <"$tmp/figs/fig.png") bytes)" \
    test "$(wc -c <"$tmp/figs/fig.png")" -gt 15000
check "... the SVG has the same size" grep -q 'viewBox="0 0 640 480"' "$tmp/figs/fig.svg"
check "... runs labelled by their file names, the diverged one says so" \
    test -n "$(grep "title 'a'" "$tmp/figs/fig.gp")" -a -n "$(grep "title 'b'" "$tmp/figs/fig.gp")" \
    -a -n "$(grep "title 'div (diverged at step 7)'" "$tmp/figs/fig.gp")"
check "... b's training curve is its --log-every rows, not the epoch means" \
    test "$(block "$tmp/figs/fig.gp" run2_train_loss | tr '\n' ' ')" = "50 1.2 100 0.8 150 0.6 200 0.5 "
check "... a's (no --log-every rows) its epoch rows, accuracy in percent" \
    test "$(block "$tmp/figs/fig.gp" run1_train_acc | tr '\n' ' ')" = "100 70 200 85 "
check "... the test loss of the epoch rows only" \
    test "$(block "$tmp/figs/fig.gp" run2_test_loss | tr '\n' ' ')" = "100 0.7 200 0.55 "

# the script alone draws the same images again
mkdir -p "$tmp/again"
cp "$tmp/figs/fig.gp" "$tmp/again/"
(cd "$tmp/again" && gnuplot fig.gp) 2>"$tmp/err"
check "the .gp renders again on its own, in another folder" test -s "$tmp/again/fig.png" -a -s "$tmp/again/fig.svg"
check "... to the same PNG dimensions" test "$(png_size "$tmp/again/fig.png")" = "640 480"
check "... and the same images, byte for byte" cmp -s "$tmp/figs/fig.png" "$tmp/again/fig.png"

s=$(status "$PLOT" --label "with BatchNorm" --label "it's without" --x epoch --title "two runs" \
    "$tmp/in/a.csv" "$tmp/in/b.csv")
check "--label, --x epoch, --title: exit 0, curves.png beside the first file (1000 x 450)" \
    test "$s" = 0 -a "$(png_size "$tmp/in/curves.png")" = "1000 450"
check "... the labels, a quote doubled for gnuplot" \
    test -n "$(grep "title 'with BatchNorm'" "$tmp/in/curves.gp")" -a -n "$(grep "title 'it''s without'" "$tmp/in/curves.gp")"
check "... steps as epochs: b's log rows at 0.5, 1, 1.5, 2" \
    test "$(block "$tmp/in/curves.gp" run2_train_loss | cut -d' ' -f1 | tr '\n' ' ')" = "0.5 1 1.5 2 "
check "... the title" grep -q "title 'two runs'" "$tmp/in/curves.gp"

# a file (or folder) name with a line break in it: the script's header comment names it, so
# the break must not end the comment and make the rest of the name a gnuplot command
nl=$'\n' bad=$'a\nsystem(\'touch ran\')\n.csv'
mkdir -p "$tmp/nl" "$tmp/nl/dir${nl}print 'x'"
cp "$tmp/in/a.csv" "$tmp/nl/$bad"
s=$(status "$PLOT" --out "$tmp/nl/f" "$tmp/nl/$bad")
check "a file name with line breaks: exit 0, the figure drawn (got $s)" \
    test "$s" = 0 -a -n "$(png_size "$tmp/nl/f.png")"
check "... no part of the name run as a gnuplot command" test ! -e "$tmp/nl/ran"
check "... the header comment is the script's first three lines, whole" \
    test "$(head -4 "$tmp/nl/f.gp" | grep -c '^#')" = 3
s=$(status "$PLOT" --out "$tmp/nl/dir${nl}print 'x'/f${nl}g" "$tmp/in/a.csv")
check "an --out folder and name with line breaks: exit 0, the figure drawn, the header whole" \
    test "$s" = 0 -a -n "$(png_size "$tmp/nl/dir${nl}print 'x'/f${nl}g.png")" \
    -a "$(head -4 "$tmp/nl/dir${nl}print 'x'/f${nl}g.gp" | grep -c '^#')" = 3

# files of the same name: each label takes as many folders as tell it from the others
mkdir -p "$tmp/same/x/seed1" "$tmp/same/y/seed1" "$tmp/same/z"
for d in x/seed1 y/seed1 z; do cp "$tmp/in/a.csv" "$tmp/same/$d/m.csv"; done
s=$(status "$PLOT" --out "$tmp/same/fig" "$tmp/same/x/seed1/m.csv" "$tmp/same/y/seed1/m.csv" "$tmp/same/z/m.csv")
check "three m.csv, two in folders both named seed1: labels x/seed1/m, y/seed1/m, z/m (got $s)" \
    test "$s" = 0 -a "$(grep '^# run' "$tmp/same/fig.gp" | tr '\n' ' ')" = \
    "# run 1: 'x/seed1/m' # run 2: 'y/seed1/m' # run 3: 'z/m' "

# a run killed while writing a row: the half line is left out with a note
cp "$tmp/in/a.csv" "$tmp/in/half.csv"
printf '3,300,0.05,0.4' >>"$tmp/in/half.csv"
s=$(status "$PLOT" --out "$tmp/figs/half" "$tmp/in/half.csv")
check "a half-written last row: exit 0, a note naming the line, the row left out" \
    test "$s" = 0 -a -n "$(grep 'half.csv: line 4 has no end' "$tmp/err")" \
    -a "$(block "$tmp/figs/half.gp" run1_train_loss | wc -l)" = 2

# a bad input leaves an earlier figure as it was
cp "$tmp/figs/fig.gp" "$tmp/fig.before"
s=$(status "$PLOT" --out "$tmp/figs/fig" "$tmp/in/other.csv")
check "a bad input leaves the earlier script of the same name as it was" \
    test "$s" = 2 -a -n "$(cmp "$tmp/fig.before" "$tmp/figs/fig.gp" && echo same)"

# ---- ember-ablate curves -------------------------------------------------------------------------
s=$(status "$PLOT" "$tmp/abl/curves.csv")
check "ember-ablate curves: exit 0, curves.png beside them" test "$s" = 0 -a -n "$(png_size "$tmp/abl/curves.png")"
check "... runs labelled with their variants from runs.csv, the diverged one says so" \
    test -n "$(grep "title 'bn-lr0.1-s1'" "$tmp/abl/curves.gp")" -a -n "$(grep "title 'nobn-lr1-s1 (diverged at step 20)'" "$tmp/abl/curves.gp")"
check "... the loss curve, and the final accuracy as the test accuracy" \
    test "$(block "$tmp/abl/curves.gp" run1_train_loss | tr '\n' ' ')" = "10 0.8 20 0.7 30 0.6 " \
    -a "$(block "$tmp/abl/curves.gp" run1_test_acc)" = "30 85"
s=$(status "$PLOT" --match nobn --label sweep --out "$tmp/figs/m" "$tmp/abl/curves.csv")
check "--match keeps the matching runs; --label prefixes the variants" \
    test "$s" = 0 -a "$(grep -c '^# run' "$tmp/figs/m.gp")" = 1 -a -n "$(grep "title 'sweep: nobn-lr1-s1" "$tmp/figs/m.gp")"

# ---- a confusion matrix ----------------------------------------------------------------------------
s=$(status "$PLOT" --confusion "$tmp/in/conf.csv")
check "--confusion: exit 0, conf.png beside the file (700 x 640)" \
    test "$s" = 0 -a "$(png_size "$tmp/in/conf.png")" = "700 640"
check "... the cells: share of the row and count (a quoted class name read back)" \
    test "$(block "$tmp/in/conf.gp" cells | sed -n '4p;5p' | tr '\n' ' ')" = "0 1 25 2 1 1 75 6 "
check "... the class names on the axes" grep -q "set xtics ('cat' 0, 'dog, big' 1, 'bird' 2)" "$tmp/in/conf.gp"
check "... 15 of 18 right in the title" grep -q "18 images, 83.33% right" "$tmp/in/conf.gp"

# ---- a real run ----------------------------------------------------------------------------------------
if "$MNIST" --train-limit 640 --test-limit 320 --epochs 2 --log-every 4 --quiet \
        --metrics "$tmp/real.csv" --confusion "$tmp/real-conf.csv" >/dev/null 2>&1; then
    s=$(status "$PLOT" --out "$tmp/figs/real" "$tmp/real.csv")
    check "the metrics of a real ember-mnist run: exit 0, a 1000 x 450 PNG" \
        test "$s" = 0 -a "$(png_size "$tmp/figs/real.png")" = "1000 450"
    log_rows=$(awk -F, 'NR > 1 && $7 == ""' "$tmp/real.csv" | wc -l)
    check "... its training curve: the $log_rows --log-every rows" \
        test "$log_rows" -ge 4 -a "$(block "$tmp/figs/real.gp" run1_train_loss | wc -l)" = "$log_rows"
    s=$(status "$PLOT" --confusion "$tmp/real-conf.csv")
    check "its confusion matrix: exit 0, a PNG" test "$s" = 0 -a -n "$(png_size "$tmp/real-conf.png")"
else
    echo "SKIPPED: no Fashion-MNIST: the real-run checks"
fi

echo "$passed passed, $failed failed"
test "$failed" = 0
