#!/usr/bin/env bash
# tests/programs/test_evaluation.sh — per-class evaluation and the progress lines of a
# waiting person: ember-mnist's per-class table and --confusion against --predictions, the
# file's failures, --quiet; progress on a terminal (through script(1)) and nothing on a pipe
# for ember-mnist's data and test pass, ember-cifar's generated data and ember-ablate's runs.
#   usage: test_evaluation.sh EMBER_MNIST EMBER_CIFAR EMBER_ABLATE
# Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist (or $EMBER_MNIST_DIR); exits 77
# (skipped) when it is not installed.
set -uo pipefail
MNIST=$1 CIFAR=$2 ABLATE=$3
data=${EMBER_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
    echo "SKIP: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
small=(--train-limit 640 --test-limit 320)
names="t-shirt/top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot"

# ---- the confusion matrix of a tiny run against its predictions ---------------------------------
s=$(status "$MNIST" "${small[@]}" --epochs 1 --predictions "$tmp/p.csv" --confusion "$tmp/c.csv")
check "a run with --predictions and --confusion exits 0" test "$s" = 0
check "the header: true\\predicted and Fashion-MNIST's class names" \
    test "$(head -1 "$tmp/c.csv")" = "true\\predicted,$names"
check "one row per class, named as the columns" \
    test "$(tail -n +2 "$tmp/c.csv" | cut -d, -f1 | tr '\n' ',')" = "$names,"
check "the counts sum to the test set: 320" \
    test "$(tail -n +2 "$tmp/c.csv" | awk -F, '{for (i = 2; i <= NF; i++) n += $i} END {print n}')" = 320
# the matrix --predictions gives (row: the label, column: the prediction)
awk -F, '{c[$2, $3]++} END {for (i = 0; i < 10; i++) {for (j = 0; j < 10; j++)
          printf "%s%d", j ? "," : "", c[i, j]; printf "\n"}}' "$tmp/p.csv" >"$tmp/from-pred"
check "every cell is what --predictions says (label, predicted)" \
    cmp -s <(tail -n +2 "$tmp/c.csv" | cut -d, -f2-) "$tmp/from-pred"
check "the diagonal is the accuracy printed" \
    test "$(tail -n +2 "$tmp/c.csv" | awk -F, '{r += $(NR + 1)} END {printf "%.2f", 100 * r / 320}')" = \
         "$(grep -o 'test accuracy [0-9.]*%' "$tmp/out" | grep -o '[0-9.]*' | head -1)"

# ---- the table on stdout ---------------------------------------------------------------------------
check "the per-class table: a header line naming the 320 images" grep -q "^per class (320 test images):$" "$tmp/out"
check "... a row for each class" test "$(grep -cE "^  (t-shirt/top|trouser|pullover|dress|coat|sandal|shirt|sneaker|bag|ankle boot) +[0-9.]+% " "$tmp/out")" = 10
coat=$(awk -F, '$1 == "coat" {r = $6; n = 0; for (i = 2; i <= NF; i++) n += $i; printf "%.2f%% %d %d", 100 * r / n, r, n}' "$tmp/c.csv")
check "... coat's row: its accuracy, right answers and images from the matrix ($coat)" \
    test "$(grep -E '^  coat ' "$tmp/out" | awk '{print $2, $3, $4}')" = "$coat"
check "... the most frequent confusions, after it" grep -q "^most frequent confusions (true -> predicted):$" "$tmp/out"
s=$(status "$MNIST" "${small[@]}" --epochs 1 --quiet --confusion "$tmp/cq.csv")
check "--quiet: no table, the file still written, the same" \
    test "$s" = 0 -a -z "$(grep 'per class' "$tmp/out")" -a -n "$(cmp "$tmp/c.csv" "$tmp/cq.csv" && echo same)"

# ---- after --eval ------------------------------------------------------------------------------------
"$MNIST" "${small[@]}" --epochs 1 --quiet --save "$tmp/m.st" >/dev/null
s=$(status "$MNIST" "${small[@]}" --load "$tmp/m.st" --eval --confusion "$tmp/ce.csv")
check "--eval prints the table and writes --confusion: the run's own matrix" \
    test "$s" = 0 -a -n "$(grep '^per class (320 test images)' "$tmp/out")" -a -n "$(cmp "$tmp/c.csv" "$tmp/ce.csv" && echo same)"

# ---- when the file cannot be written: refused before the run (exit 2) when the place is
# wrong, exit 1 naming it when the write fails, an earlier file kept --------------------------
cp "$tmp/c.csv" "$tmp/keep.csv"
s=$(status "$MNIST" "${small[@]}" --load "$tmp/m.st" --eval --confusion "$tmp/nowhere/c.csv")
check "--confusion into a missing folder: exit 2 before the run, naming the option and the file" \
    test "$s" = 2 -a -n "$(grep -- '--confusion.*nowhere' "$tmp/err")"
s=$(status "$MNIST" "${small[@]}" --load "$tmp/m.st" --eval --confusion /dev/full)
check "--confusion /dev/full: exit 2 naming it (not a regular file)" \
    test "$s" = 2 -a -n "$(grep '/dev/full' "$tmp/err")"
# a full disk: the file-size limit at 0 with SIGXFSZ ignored (as tests/programs/test_faults.sh
# does), the output through a pipe, which the limit does not touch
(trap '' XFSZ; ulimit -f 0; exec "$MNIST" "${small[@]}" --load "$tmp/m.st" --eval \
    --confusion "$tmp/keep.csv") 2>&1 | cat >"$tmp/out"
s=${PIPESTATUS[0]}
check "--confusion over a full disk: exit 1 naming the file, the earlier file kept, no .tmp" \
    test "$s" = 1 -a -n "$(grep 'keep.csv.*File too large' "$tmp/out")" \
    -a -n "$(cmp "$tmp/c.csv" "$tmp/keep.csv" && echo same)" -a ! -e "$tmp/keep.csv.tmp"
s=$(status "$MNIST" --confusion "")
check "--confusion with an empty path: exit 2" test "$s" = 2

# ---- progress: on a terminal, and nothing on a pipe -----------------------------------------------------
s=$(status "$MNIST" "${small[@]}" --epochs 1)
check "on a pipe: no carriage return, no escape sequence on stderr or stdout" \
    test "$s" = 0 -a -z "$(tr -d '\n' <"$tmp/err" | tr -cd '\r\033')" -a -z "$(tr -cd '\r\033' <"$tmp/out")"
if ! command -v script >/dev/null; then
    echo "SKIPPED: script(1) is missing (util-linux): the terminal checks"
else
    # script -qec CMD /dev/null: CMD on a pseudo-terminal, what it shows on our stdout
    tty() { script -qec "$*" /dev/null | tr '\r' '\n' >"$tmp/tty"; }
    tty "'$MNIST' --train-limit 640 --test-limit 320 --epochs 1"
    check "on a terminal: a line while the data is read" grep -aq "^ember-mnist: reading the data set" "$tmp/tty"
    check "... and the test pass's bar, count, accuracy and ETA" \
        grep -aqE "^test \[#+\.*\] [0-9]+/320  loss [0-9.]+  acc +[0-9.]+%  +[0-9]+ img/s  ETA" "$tmp/tty"
    tty "'$MNIST' --train-limit 640 --test-limit 320 --epochs 1 --quiet"
    check "... with --quiet: neither" test -z "$(grep -aE '^test \[|reading the data' "$tmp/tty")"
    tty "'$CIFAR' --synthetic --steps 1 --test-limit 64"
    check "ember-cifar --synthetic on a terminal: the making of the 50000 images" \
        grep -aqE "^making the shapes set \[#+\] 50000/50000 .* images/s  ETA" "$tmp/tty"
    tty "'$ABLATE' lr-sweep --quick --steps 20 --out '$tmp/abl'"
    check "ember-ablate on a terminal: runs done, failed and to go, with an ETA" \
        grep -aqE "ember-ablate: [0-9]+ of [0-9]+ runs done, 0 failed, [0-9]+ to go \(last: .*\)  [0-9]+ s, ETA [0-9]+ s" "$tmp/tty"
    check "... counting up to all of them" grep -aqE "ember-ablate: ([0-9]+) of \1 runs done, 0 failed, 0 to go" "$tmp/tty"
fi
s=$(status "$ABLATE" lr-sweep --quick --steps 20 --out "$tmp/abl2")
check "ember-ablate on a pipe: no progress line" test "$s" = 0 -a -z "$(grep 'runs done' "$tmp/err")"

echo "$passed passed, $failed failed"
test "$failed" = 0
