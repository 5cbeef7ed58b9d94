#!/usr/bin/env bash
# tests/programs/test_programs.sh — ember-mnist and ember-cifar as a user runs them:
# exit statuses, messages, resume, determinism, metrics, checkpoints, predictions.
#   usage: test_programs.sh EMBER_MNIST EMBER_CIFAR MAKE_SHAPES
# Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist (or $EMBER_MNIST_DIR) with small
# --train-limit values so the whole script takes seconds.
set -uo pipefail
MNIST=$1 CIFAR=$2 SHAPES=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
# status CMD...: run quietly, print the exit status
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
small=(--train-limit 640 --test-limit 320 --quiet)

# ---- bad arguments: one line on stderr, exit 2 -----------------------------------------
for args in "--batch -3" "--lr abc" "--frobnicate" "--model resnet" "--epochs 0"; do
    s=$(status "$MNIST" $args)
    check "bad argument '$args' exits 2" test "$s" = 2
    check "bad argument '$args' says what is wrong" grep -q "ember-mnist: " "$tmp/err"
done

# ---- missing data: exit 2 with a hint ------------------------------------------------------
s=$(status "$MNIST" --data "$tmp/nowhere")
check "missing MNIST data exits 2" test "$s" = 2
check "missing MNIST data names the directory and the fix" \
    grep -q "nowhere.*dataset-fashion-mnist" "$tmp/err"
s=$(status env EMBER_CIFAR_DIR="$tmp/nowhere" "$CIFAR")
check "missing CIFAR data exits 2" test "$s" = 2
check "missing CIFAR data hints at the fetch script and --synthetic" \
    grep -q "fetch-cifar10.sh.*synthetic\|synthetic.*fetch-cifar10.sh" "$tmp/err"

# ---- --dot: one training step's graph, and training as without it -------------------------
"$MNIST" "${small[@]}" --steps 3 --seed 5 --metrics "$tmp/d0.csv" >/dev/null
"$MNIST" "${small[@]}" --steps 3 --seed 5 --metrics "$tmp/d1.csv" --dot "$tmp/step.dot" >/dev/null
check "--dot writes a DOT graph" grep -q "^digraph tape {" "$tmp/step.dot"
check "--dot: the parameters by their state-dict names, the loss last" \
    bash -c "grep -q 'label=\"0.weight' '$tmp/step.dot' && grep -q 'cross_entropy' '$tmp/step.dot'"
check "--dot changes nothing of the training" \
    cmp -s <(cut -d, -f1-7 "$tmp/d0.csv") <(cut -d, -f1-7 "$tmp/d1.csv")
if command -v dot >/dev/null; then
    check "--dot: graphviz draws it" dot -Tsvg "$tmp/step.dot" -o "$tmp/step.svg"
fi
s=$(status "$MNIST" "${small[@]}" --steps 1 --dot "$tmp/nowhere/step.dot")
check "--dot into a missing folder exits 2 naming it" \
    bash -c "test $s = 2 && grep -q 'nowhere/step.dot' '$tmp/err'"

# ---- same seed twice: identical metrics apart from the time columns ---------------------
"$MNIST" "${small[@]}" --epochs 2 --seed 5 --metrics "$tmp/s1.csv" >/dev/null
"$MNIST" "${small[@]}" --epochs 2 --seed 5 --metrics "$tmp/s2.csv" >/dev/null
"$MNIST" "${small[@]}" --epochs 2 --seed 6 --metrics "$tmp/s3.csv" >/dev/null
check "same seed -> same metrics (time columns aside)" \
    cmp -s <(cut -d, -f1-7,10 "$tmp/s1.csv") <(cut -d, -f1-7,10 "$tmp/s2.csv")
check "another seed -> other metrics" \
    bash -c "! cmp -s <(cut -d, -f1-7 '$tmp/s1.csv') <(cut -d, -f1-7 '$tmp/s3.csv')"
check "metrics has the header and a row per epoch" \
    test "$(head -1 "$tmp/s1.csv")" = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged" -a "$(wc -l < "$tmp/s1.csv")" = 3

# ---- resume: 2 epochs straight == 1 epoch, save, resume to 2 -----------------------------
# (a constant learning rate: with the default cosine schedule the curve spans --epochs, so
# a 1-epoch run is a different run; the SIGINT test below resumes a cosine run instead)
const=(--schedule const)
"$MNIST" "${small[@]}" "${const[@]}" --epochs 2 --metrics "$tmp/a.csv" --save "$tmp/a.st" >/dev/null
"$MNIST" "${small[@]}" "${const[@]}" --epochs 1 --metrics "$tmp/b.csv" --save "$tmp/b1.st" >/dev/null
"$MNIST" "${small[@]}" "${const[@]}" --epochs 2 --metrics "$tmp/b.csv" --resume "$tmp/b1.st" --save "$tmp/b.st" >/dev/null
check "resumed run ends with bit-identical weights, buffers and optimizer state" cmp -s "$tmp/a.st" "$tmp/b.st"
check "resumed run writes identical metrics rows" \
    cmp -s <(cut -d, -f1-7,10 "$tmp/a.csv") <(cut -d, -f1-7,10 "$tmp/b.csv")
s=$(status "$MNIST" "${small[@]}" --model mlp --resume "$tmp/b1.st")
check "--resume with a checkpoint of another model exits 2" test "$s" = 2
check "... and says which model the file holds" grep -q "mnist-cnn" "$tmp/err"

s=$(status "$MNIST" "${small[@]}" "${const[@]}" --epochs 2 --seed 9 --resume "$tmp/b1.st")
check "--resume with other options (another seed) exits 2" test "$s" = 2
check "... naming the option that differs" grep -q "seed=1.*seed=9" "$tmp/err"

# ---- arguments that only the data can refute: still exit 2 -----------------------------
s=$(status "$MNIST" "${small[@]}" --batch 1)
check "--batch 1 with BatchNorm exits 2 with the reason" test "$s" = 2 -a -n "$(grep 'at least 2' "$tmp/err")"
s=$(status env -u EMBER_MNIST_DIR "$MNIST" --dataset mnist)
check "--dataset mnist without a directory exits 2" test "$s" = 2 -a -n "$(grep 'fetch-mnist' "$tmp/err")"

# ---- divergence: exit 3, the message, diverged=1 in the last row, no checkpoint ----------
s=$(status "$MNIST" "${small[@]}" --no-bn --lr 10000 --metrics "$tmp/d.csv" --save "$tmp/d.st")
check "lr 1e4 without BN diverges with exit 3" test "$s" = 3
check "divergence prints 'diverged at step k (loss ...)'" grep -q "^diverged at step [0-9]* (loss" "$tmp/out"
check "divergence marks the last metrics row" test "$(tail -1 "$tmp/d.csv" | cut -d, -f10)" = 1
check "a diverged run writes no checkpoint" test ! -e "$tmp/d.st"

# ---- evaluation and predictions --------------------------------------------------------------
s=$(status "$MNIST" "${small[@]}" --load "$tmp/a.st" --eval --predictions "$tmp/p.csv")
check "--load --eval exits 0" test "$s" = 0
check "--predictions has one row per test image with 10 logits" \
    test "$(wc -l < "$tmp/p.csv")" = 320 -a "$(head -1 "$tmp/p.csv" | tr ',' '\n' | wc -l)" = 13
acc=$(awk -F, '$2 == $3 {c++} END {printf "%.2f", 100 * c / NR}' "$tmp/p.csv")
check "--predictions agree with the reported accuracy ($acc%)" grep -q "acc $acc%" "$tmp/out"
printf 'garbage' > "$tmp/bad.st"
s=$(status "$MNIST" "${small[@]}" --load "$tmp/bad.st" --eval)
check "a corrupt --load file exits 2 naming the file" test "$s" = 2 -a -n "$(grep bad.st "$tmp/err")"

# ---- SIGINT: finish the step, write the row and the checkpoint, exit 130; resuming that
# checkpoint ends exactly where an uninterrupted run ends (default cosine schedule) -------
long=(--train-limit 6400 --test-limit 320 --quiet --epochs 2 --log-every 5)
"$MNIST" "${long[@]}" --save "$tmp/straight.st" >/dev/null
"$MNIST" "${long[@]}" --metrics "$tmp/i.csv" --save "$tmp/i.st" >"$tmp/out" 2>&1 &
pid=$!
# interrupt once training runs (the first --log-every row is out), not after a guess
for _ in $(seq 600); do [ -f "$tmp/i.csv" ] && [ "$(wc -l < "$tmp/i.csv")" -ge 2 ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
s=$?
check "SIGINT exits 130" test "$s" = 130
check "SIGINT saves the checkpoint" test -s "$tmp/i.st"
check "SIGINT keeps a metrics row" test "$(wc -l < "$tmp/i.csv")" -ge 2
"$MNIST" "${long[@]}" --resume "$tmp/i.st" --save "$tmp/i2.st" >"$tmp/out" 2>&1
check "an interrupted run, resumed, ends bit-identical to one never interrupted" \
    cmp -s "$tmp/straight.st" "$tmp/i2.st"
check "... and it did resume mid-run ($(grep -o 'resumed from.*' "$tmp/out"))" grep -q "resumed from .* step [1-9]" "$tmp/out"

# ---- SIGTERM (timeout, Slurm, systemd): the same as SIGINT, exit 143 ---------------------
"$MNIST" "${long[@]}" --metrics "$tmp/t.csv" --save "$tmp/t.st" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -f "$tmp/t.csv" ] && [ "$(wc -l < "$tmp/t.csv")" -ge 2 ] && break; sleep 0.05; done
kill -TERM $pid
wait $pid
s=$?
check "SIGTERM mid-epoch exits 143 (got $s)" test "$s" = 143
check "... says where it stopped" grep -q "^interrupted at step [1-9][0-9]* (SIGTERM)" "$tmp/out"
check "... saves the checkpoint" test -s "$tmp/t.st"
check "... keeps a metrics row" test "$(wc -l < "$tmp/t.csv")" -ge 2
"$MNIST" "${long[@]}" --resume "$tmp/t.st" --save "$tmp/t2.st" >"$tmp/out" 2>&1
check "a terminated run, resumed, ends bit-identical to one never interrupted" \
    cmp -s "$tmp/straight.st" "$tmp/t2.st"
check "... and it did resume mid-epoch ($(grep -o 'resumed from.*' "$tmp/out"))" \
    grep -q "resumed from .* epoch 0, batch [1-9][0-9]*, step [1-9]" "$tmp/out"

# ---- ember-cifar on generated CIFAR-format files -------------------------------------------
"$SHAPES" --train 640 --test 320 "$tmp/cifar" >/dev/null
s=$(status "$CIFAR" --data "$tmp/cifar" --epochs 1 --train-limit 640 --test-limit 320 --quiet)
check "ember-cifar trains end to end on CIFAR-format files" test "$s" = 0
check "ember-cifar prints an epoch summary" grep -q "^epoch   1 " "$tmp/out"

echo "$passed passed, $failed failed"
test "$failed" = 0
