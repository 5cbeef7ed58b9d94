#!/usr/bin/env bash
# tests/ablation/test_ablate.sh — ember-ablate as a user runs it: every experiment's --quick
# protocol, the output files and their columns, the qualitative direction each quick
# protocol is designed to keep, --jobs 2 == --jobs 1 (time column aside), bad arguments and
# missing data. Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist (or
# $EMBER_MNIST_DIR); reports SKIP (77) when it is not installed.
#   usage: test_ablate.sh EMBER_ABLATE
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

# ---- bad arguments and missing data: one line, exit 2 ---------------------------------------
for args in "" "frobnicate" "lr-sweep --jobs 0" "lr-sweep --lr abc" "lr-sweep --seeds -1" \
            "lr-sweep --bogus" "lr-sweep init-scale"; do
    s=$(status "$ABLATE" $args)
    check "bad arguments '$args' exit 2" test "$s" = 2
    check "bad arguments '$args' say what is wrong" grep -q "^ember-ablate: " "$tmp/err"
done
s=$(status "$ABLATE" lr-sweep --quick --data "$tmp/nowhere" --out "$tmp/x")
check "missing data exits 2" test "$s" = 2
check "missing data names the directory and the fix" grep -q "nowhere.*dataset-fashion-mnist" "$tmp/err"

runs_header="experiment,variant,bn,lr,init_scale,batch,seed,steps,final_train_loss,final_test_acc,best_test_acc,steps_to_target,outcome,diverged_step"
# column value of the rows of runs.csv whose variant matches a regex
col() { awk -F, -v re="$2" -v c="$3" 'NR > 1 && $2 ~ re { print $c }' "$1"; }

for e in lr-sweep convergence init-scale activations full-vs-frozen distributions batch-size \
         grad-flow smoothness noisy-bn histograms; do
    out="$tmp/$e"
    start=$(date +%s)
    s=$(status "$ABLATE" "$e" --quick --out "$out")
    check "$e --quick exits 0 ($(( $(date +%s) - start )) s)" test "$s" = 0
    check "$e: runs.csv has the header" test "$(head -1 "$out/runs.csv" 2>/dev/null)" = "$runs_header"
    check "$e: runs.csv has rows of 14 columns" \
        awk -F, 'NR > 1 { n++; if (NF != 14) bad = 1 } END { exit !(n > 0 && !bad) }' "$out/runs.csv"
    check "$e: curves.csv has the header and rows" \
        awk -F, 'NR == 1 && $0 != "run,step,metric,value" { exit 1 } NR > 1 && NF != 4 { exit 1 } END { exit !(NR > 1) }' "$out/curves.csv"
    check "$e: report.md has criteria with PASS/FAIL" grep -q '\*\*\(PASS\|FAIL\)\*\*' "$out/report.md"
    check "$e: gnuplot scripts for the figures" bash -c "ls '$out'/*.gp >/dev/null"
    if command -v gnuplot >/dev/null; then
        check "$e: figures rendered" bash -c "ls '$out'/*.png >/dev/null"
    else   # gnuplot-nox is optional: then the report must say how to render the scripts
        check "$e: without gnuplot the report says how to render" grep -qi "gnuplot" "$out/report.md"
    fi
    check "$e: no temporary files left" bash -c "! ls -a '$out' | grep -q tmp"
done

# ---- the qualitative directions of the quick protocols ---------------------------------------
r="$tmp/lr-sweep/runs.csv"
bn_max=$(awk -F, 'NR > 1 && $2 ~ /^bn-lr/ && $13 == "trained" && $4 > m { m = $4 } END { print m + 0 }' "$r")
nobn_max=$(awk -F, 'NR > 1 && $2 ~ /^nobn-lr/ && $13 == "trained" && $4 > m { m = $4 } END { print m + 0 }' "$r")
check "lr-sweep: BN's largest trained lr ($bn_max) > no-BN's ($nobn_max)" \
    awk -v a="$bn_max" -v b="$nobn_max" 'BEGIN { exit !(a > b) }'
check "lr-sweep: no-BN diverges at lr 3" test "$(col "$r" '^nobn-lr3-' 13)" = diverged
check "lr-sweep: in the stress test BN survives a 10x larger lr (E3c)" \
    grep -q "^| E3c .*PASS" "$tmp/lr-sweep/report.md"

r="$tmp/convergence/runs.csv"
check "convergence: E1 BN beats no-BN at the end of the quick run" \
    awk -v a="$(col "$r" '^e1-bn-' 10)" -v b="$(col "$r" '^e1-nobn-' 10)" 'BEGIN { exit !(a > b + 0.05) }'
check "convergence: E1 BN reaches the target" test "$(col "$r" '^e1-bn-' 12)" -gt 0

r="$tmp/init-scale/runs.csv"
bn_n=$(awk -F, 'NR > 1 && $2 ~ /^bn-/ && $13 == "trained"' "$r" | wc -l)
nobn_n=$(awk -F, 'NR > 1 && $2 ~ /^nobn-/ && $13 == "trained"' "$r" | wc -l)
check "init-scale: BN works on more scales ($bn_n) than no-BN ($nobn_n)" test "$bn_n" -gt "$nobn_n"

r="$tmp/activations/runs.csv"
check "activations: BN beats no-BN by >= 20 pp on the deep sigmoid net" \
    awk -v a="$(col "$r" '^sigmoid-bn-' 10)" -v b="$(col "$r" '^sigmoid-nobn-' 10)" \
        'BEGIN { if (b == "nan") b = 0.1; exit !(a >= b + 0.2) }'

r="$tmp/full-vs-frozen/runs.csv"
full_n=$(awk -F, 'NR > 1 && $2 ~ /^bn-full-/ && $13 == "trained"' "$r" | wc -l)
frozen_n=$(awk -F, 'NR > 1 && $2 ~ /^bn-frozen-/ && $13 == "trained"' "$r" | wc -l)
check "full-vs-frozen: the full backward trains where frozen-stats does not ($full_n > $frozen_n)" \
    test "$full_n" -gt "$frozen_n"
check "full-vs-frozen: per-layer weight norms in curves.csv" grep -q ",wnorm.L1," "$tmp/full-vs-frozen/curves.csv"

check "distributions: BN's median drifts less (E1 d2)" grep -q "E1 (d2).*PASS" "$tmp/distributions/report.md"
check "distributions: BN's sigmoid input starts at a unit Gaussian's percentiles (E1 d1)" \
    grep -q "E1 (d1).*PASS" "$tmp/distributions/report.md"

check "grad-flow: update/weight ratios more even across layers with BN" \
    grep -q "update/weight ratios more even.*PASS" "$tmp/grad-flow/report.md"
check "grad-flow: per-layer gradient norms in curves.csv" grep -q ",gnorm.L1," "$tmp/grad-flow/curves.csv"
check "histograms: N(0, 0.01^2) without BN shrinks the activations layer by layer" \
    grep -q "shrinks the activations layer by layer.*PASS" "$tmp/histograms/report.md"
check "histograms: BN puts every layer at unit scale" \
    grep -q "BN puts every layer's input at unit scale.*PASS" "$tmp/histograms/report.md"
check "histograms: histograms.csv has 4 runs x 5 probes x 5 layers x 2 kinds x 32 bins rows" \
    test "$(($(wc -l <"$tmp/histograms/histograms.csv") - 1))" = 6400
check "histograms: each histogram's shares add up to 1" awk -F, 'NR > 1 { s[$1" "$3" "$4" "$5] += $8 }
    END { for (k in s) if (s[k] < 0.999 || s[k] > 1.001) exit 1; exit !length(s) }' "$tmp/histograms/histograms.csv"
check "batch-size: six batch sizes with and without BN" test "$(($(wc -l <"$tmp/batch-size/runs.csv") - 1))" = 12

check "smoothness: E5b gradient predictiveness worse without BN" \
    grep -q "E5b (predictiveness).*PASS" "$tmp/smoothness/report.md"
check "smoothness: probe measures in curves.csv" grep -q ",beta_eff," "$tmp/smoothness/curves.csv"
check "smoothness: E5a the loss explodes along -g without BN, never with BN" \
    grep -q "E5a (report only) | explosive probes.*PASS" "$tmp/smoothness/report.md"

r="$tmp/noisy-bn/runs.csv"
check "noisy-bn: noisy BN trains" test "$(col "$r" '^relu-noisy-bn$' 13)" = trained
check "noisy-bn: the same noise without BN does not train" \
    test "$(col "$r" '^relu-standard-noise$' 13)" != trained
check "noisy-bn: per-step change of a unit's batch mean in curves.csv" \
    grep -q ",mean_abs_dmu.L3," "$tmp/noisy-bn/curves.csv"

# ---- --jobs 2 gives the same rows as --jobs 1, byte for byte (the times in timing.csv) -----
"$ABLATE" lr-sweep --quick --jobs 2 --out "$tmp/j2" >/dev/null 2>&1
check "--jobs 2: runs.csv identical to --jobs 1" cmp -s "$tmp/lr-sweep/runs.csv" "$tmp/j2/runs.csv"
check "timing.csv: a row per run, each with its seconds" \
    awk -F, -v n="$(($(wc -l < "$tmp/j2/runs.csv") - 1))" \
    'NR == 1 { ok = $0 == "run,experiment,variant,seed,seconds" } NR > 1 { k++; if ($5 == "" || $1 != NR - 2) ok = 0 } END { exit !(ok && k == n) }' "$tmp/j2/timing.csv"
check "--jobs 2: curves.csv identical to --jobs 1" cmp -s "$tmp/lr-sweep/curves.csv" "$tmp/j2/curves.csv"

echo "$passed passed, $failed failed"
test "$failed" = 0
