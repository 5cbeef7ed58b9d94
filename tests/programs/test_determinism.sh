#!/usr/bin/env bash
# tests/programs/test_determinism.sh — the same seed gives the same run, bit for bit:
# weights, buffers and optimizer state (the --save checkpoints compared byte for byte) and
# every metrics value, run after run, with and without the prefetch thread, and (with the
# kernels of today: OpenBLAS's sgemm splits the output, never a dot product, across its
# threads) with 1 or 2 BLAS threads. ember-ablate --jobs N == --jobs 1 is checked in
# tests/ablation/test_ablate.sh; resume == a straight run in test_programs.sh.
#   usage: test_determinism.sh EMBER_MNIST EMBER_CIFAR MAKE_SHAPES
set -uo pipefail
MNIST=$1 CIFAR=$2 SHAPES=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
# the same checkpoint bytes and the same metrics (all but the two time columns)
same_run() {
    cmp -s "$tmp/$1.st" "$tmp/$2.st" &&
        cmp -s <(cut -d, -f1-7,10 "$tmp/$1.csv") <(cut -d, -f1-7,10 "$tmp/$2.csv")
}
run() {
    local name=$1
    shift
    "$@" --quiet --save "$tmp/$name.st" --metrics "$tmp/$name.csv" >/dev/null 2>&1
}

m=("$MNIST" --train-limit 1280 --test-limit 320 --epochs 2 --log-every 5 --seed 3)
run a "${m[@]}" --threads 1
run b "${m[@]}" --threads 1
run p "${m[@]}" --threads 1 --prefetch
run t "${m[@]}" --threads 2
run d "${m[@]}" --threads 1 --seed 4
check "mnist: same seed, same threads -> identical weights and metrics" same_run a b
check "mnist: with the prefetch thread -> identical" same_run a p
check "mnist: 2 BLAS threads instead of 1 -> identical" same_run a t
check "mnist: another seed -> another run" bash -c "! cmp -s '$tmp/a.st' '$tmp/d.st'"
check "mnist: the metrics have the step rows ($(wc -l <"$tmp/a.csv") lines)" test "$(wc -l <"$tmp/a.csv")" -ge 8

# ember-cifar: random crops and flips drawn per (seed, epoch, position), with prefetch
"$SHAPES" --train 256 --test 64 "$tmp/cifar" >/dev/null
c=("$CIFAR" --data "$tmp/cifar" --epochs 1 --batch 32 --augment --seed 5)
run ca "${c[@]}" --threads 1
run cb "${c[@]}" --threads 1
run cp "${c[@]}" --threads 1 --prefetch
run ct "${c[@]}" --threads 2 --prefetch
check "cifar, augmented: same seed -> identical" same_run ca cb
check "cifar, augmented: with the prefetch thread -> identical" same_run ca cp
check "cifar, augmented: 2 BLAS threads and prefetch -> identical" same_run ca ct

echo "$passed passed, $failed failed"
test "$failed" = 0
