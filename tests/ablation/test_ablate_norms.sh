#!/usr/bin/env bash
# tests/ablation/test_ablate_norms.sh — the second edition's experiments of ember-ablate
# (norm-batch, renorm, train-eval, residual-depth, init-gradients, placement) as a user runs
# them: each --quick protocol with --jobs 1 and with --jobs 2 (runs.csv and
# curves.csv byte for byte), the files and their columns, the report's
# criteria and figures, the direction each quick protocol is designed to keep; and
# --kernels (in the report, refused when unknown, from $EMBER_KERNELS).
# Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist (or $EMBER_MNIST_DIR); reports
# SKIP (77) when it is not installed.
#   usage: test_ablate_norms.sh EMBER_ABLATE
set -uo pipefail
ABLATE=$1
data=${EMBER_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
    echo "SKIP: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }

runs_header="experiment,variant,bn,lr,init_scale,batch,seed,steps,final_train_loss,final_test_acc,best_test_acc,steps_to_target,outcome,diverged_step"
# column c of the rows of runs.csv whose variant matches a regex
col() { awk -F, -v re="$2" -v c="$3" 'NR > 1 && $2 ~ re { print $c }' "$1"; }
# a number of a report line: the first match of regex re's group
num() { sed -n "s/$2/\\1/p" "$1" | head -1; }

for e in norm-batch renorm train-eval residual-depth init-gradients placement; do
    out="$tmp/$e"
    start=$(date +%s)
    s=$(status "$ABLATE" "$e" --quick --out "$out")
    check "$e --quick exits 0 ($(( $(date +%s) - start )) s)" test "$s" = 0
    check "$e: runs.csv has the header" test "$(head -1 "$out/runs.csv" 2>/dev/null)" = "$runs_header"
    check "$e: runs.csv has rows of 14 columns, none failed" \
        awk -F, 'NR > 1 { n++; if (NF != 14 || $13 == "failed") bad = 1 } END { exit !(n > 0 && !bad) }' "$out/runs.csv"
    check "$e: curves.csv has the header and rows" \
        awk -F, 'NR == 1 && $0 != "run,step,metric,value" { exit 1 } NR > 1 && NF != 4 { exit 1 } END { exit !(NR > 1) }' "$out/curves.csv"
    check "$e: report.md has its section" grep -q "^## $e — " "$out/report.md"
    check "$e: the section gives the published result" \
        bash -c "sed -n '/^## $e — /,/^## /p' '$out/report.md' | grep -q '^Published'"
    check "$e: criteria with PASS/FAIL" grep -q "^| $e (.*\*\*\(PASS\|FAIL\)\*\*" "$out/report.md"
    check "$e: gnuplot scripts for the figures" bash -c "ls '$out'/*.gp >/dev/null"
    if command -v gnuplot >/dev/null; then
        check "$e: figures rendered" bash -c "ls '$out'/*.png >/dev/null"
        check "$e: no figure failed to render" bash -c "! grep -q 'not rendered' '$out/report.md'"
    fi
    # the same runs with two workers: the same rows, the same curves, byte for byte
    s=$(status "$ABLATE" "$e" --quick --jobs 2 --out "$out-j2")
    check "$e --quick --jobs 2 exits 0" test "$s" = 0
    check "$e: --jobs 2 runs.csv = --jobs 1 runs.csv" cmp -s "$out/runs.csv" "$out-j2/runs.csv"
    check "$e: --jobs 2 curves.csv = --jobs 1 curves.csv" cmp -s "$out/curves.csv" "$out-j2/curves.csv"
    check "$e: no temporary files left" bash -c "! ls -a '$out' | grep -q tmp && ! ls -a '$out-j2' | grep -q tmp"
done

# ---- the directions the quick protocols keep ------------------------------------------------
r="$tmp/norm-batch/runs.csv"
check "norm-batch: five norms at four batch sizes" test "$(($(wc -l <"$r") - 1))" = 20
check "norm-batch: the lr scales with the batch (0.00125 at 2, 0.08 at 128)" \
    test "$(col "$r" '^bn-b2-' 4),$(col "$r" '^bn-b128-' 4)" = "0.00125,0.08"
check "norm-batch: BN's test accuracy at batch 2 is 10 pp below its accuracy at 32" \
    awk -v a="$(col "$r" '^bn-b2-' 10)" -v b="$(col "$r" '^bn-b32-' 10)" 'BEGIN { exit !(a + 0.10 < b) }'
check "norm-batch: GN at batch 2 is better than BN at batch 2" \
    awk -v g="$(col "$r" '^gn-b2-' 10)" -v b="$(col "$r" '^bn-b2-' 10)" 'BEGIN { exit !(g > b) }'
check "norm-batch: only the BatchNorm runs have the bn column set" \
    test "$(awk -F, 'NR > 1 && $3 == 1 { print $2 }' "$r" | grep -vc '^bn-')" = 0

r="$tmp/train-eval/runs.csv"
rep="$tmp/train-eval/report.md"
check "train-eval: after 20 steps, the running averages keeping 0.99 lag the batch statistics by >= 5 pp (a)" \
    grep -q "^| train-eval (a) .*\*\*PASS\*\*" "$rep"
check "train-eval: the momentum does not change training (every pair of runs equal)" \
    grep -q "^| train-eval (report only) .*\*\*PASS\*\*" "$rep"
check "train-eval: the three accuracies of every run in curves.csv" \
    test "$(grep -c ',acc_batch_stats,' "$tmp/train-eval/curves.csv"),$(grep -c ',acc_recomputed,' "$tmp/train-eval/curves.csv")" = "6,6"

r="$tmp/residual-depth/runs.csv"
check "residual-depth: 16 blocks without normalization at He init diverge" \
    test "$(col "$r" '^none-he-d16-' 13)" = diverged
check "residual-depth: Fixup and zero-gamma at 16 blocks do not" \
    test "$(col "$r" '^fixup-d16-' 13)" != diverged -a "$(col "$r" '^zero-gamma-d16-' 13)" != diverged

r="$tmp/init-gradients/runs.csv"
check "init-gradients: the runs measure without training" \
    test "$(awk -F, 'NR > 1 && $13 == "measured" && $8 == 0' "$r" | wc -l)" = 4
check "init-gradients: with BN the gradient grows towards the input by >= 1.1 per layer (a)" \
    grep -q "^| init-gradients (a) .*\*\*PASS\*\*" "$tmp/init-gradients/report.md"
check "init-gradients: a gradient norm per hidden layer in curves.csv (4 + 16 + 4 + 16)" \
    test "$(grep -c ',grad_norm,' "$tmp/init-gradients/curves.csv")" = 40

r="$tmp/renorm/runs.csv"
check "renorm: five configurations" test "$(($(wc -l <"$r") - 1))" = 5
check "renorm: Batch Renorm trains differently from BatchNorm (groups of 4)" \
    test "$(col "$r" '^bn-micro-' 9)" != "$(col "$r" '^brn-micro-' 9)"
check "renorm: the non-i.i.d. runs train on their own batches (one epoch of 125 steps)" \
    test "$(col "$r" '^bn-noniid-' 8),$(col "$r" '^brn-noniid-' 8)" = "125,125"

r="$tmp/placement/runs.csv"
check "placement: two networks x (BN, GN) x (before, after) + none" test "$(($(wc -l <"$r") - 1))" = 10

# ---- runs that fail: rows without measurements, criteria without data -------------------------
# EMBER_TEST_FAULT=oom:3 (examples/common/testfault.h): from step 3 on the step's memory
# cannot grow; batches of 512 need it to, so every run of train-eval fails
s=$(EMBER_TEST_FAULT=oom:3 status "$ABLATE" train-eval --quick --batch 512 --steps 6 --out "$tmp/fail")
r="$tmp/fail/runs.csv"
check "train-eval with every run failing: exit 1" test "$s" = 1
check "... six rows 'failed', without measurements" \
    test "$(awk -F, 'NR > 1 && $13 == "failed" && $8 == "" && $9 == "" && $10 == "" && $11 == ""' "$r" | wc -l)" = 6
check "... and every criterion says no data, none PASS" \
    bash -c "test \$(grep -c '^| train-eval .*\*\*no data\*\* (6 of 6 runs failed)' '$tmp/fail/report.md') = 4 && ! grep -q '^| train-eval .*PASS' '$tmp/fail/report.md'"

# ---- --kernels --------------------------------------------------------------------------------
check "--kernels is in --help" bash -c "'$ABLATE' --help | grep -q -- '--kernels TIER'"
s=$(status "$ABLATE" init-gradients --quick --kernels slow --out "$tmp/k")
check "--kernels slow: exit 2, naming the option" bash -c "test $s = 2 && grep -q '^ember-ablate: --kernels: invalid value .slow.' '$tmp/err'"
s=$(EMBER_KERNELS=bogus status "$ABLATE" init-gradients --quick --out "$tmp/k")
check "EMBER_KERNELS=bogus: exit 2, naming the variable" bash -c "test $s = 2 && grep -q 'EMBER_KERNELS' '$tmp/err'"
s=$(status "$ABLATE" init-gradients --quick --kernels reference --out "$tmp/kr")
check "--kernels reference: exit 0, and the report says so" \
    bash -c "test $s = 0 && grep -q 'Kernels: reference\.' '$tmp/kr/report.md'"
s=$(EMBER_KERNELS=reference status "$ABLATE" init-gradients --quick --out "$tmp/ke")
check "EMBER_KERNELS=reference without --kernels: the report says reference" \
    bash -c "test $s = 0 && grep -q 'Kernels: reference\.' '$tmp/ke/report.md'"
check "the default tier is in the report" grep -q 'Kernels: \(fast\|reference\)\.' "$tmp/init-gradients/report.md"
check "the two tiers compute the same gradients up to rounding (growth within 1e-3)" \
    awk -v a="$(grep -m1 '^| 16 |' "$tmp/kr/report.md" | cut -d'|' -f3)" \
        -v b="$(grep -m1 '^| 16 |' "$tmp/init-gradients/report.md" | cut -d'|' -f3)" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 1 && d < 1e-3) }'

echo "$passed passed, $failed failed"
test "$failed" = 0
