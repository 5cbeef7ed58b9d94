#!/usr/bin/env bash
# tests/ablation/test_ablate_hardening.sh — ember-ablate against what costs a sweep its
# results or reports a wrong one (docs/robustness.md §9): a quote or a `;` in --out (gnuplot
# runs from an argument vector, never a shell), gnuplot failing (its own error reported, not
# "not found"), runs that fail (a row saying so with no metrics, criteria "no data", never
# PASS), paths too long for the buffers (refused, not cut), --lr inf, an --out where the
# report cannot go (refused before the runs).
#   usage: test_ablate_hardening.sh EMBER_ABLATE
# Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist (or $EMBER_MNIST_DIR); SKIP (77)
# without it. grad-flow with 20 steps on 500 images: under a second a run.
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
quick=(grad-flow --quick --steps 20 --train-limit 500)
st() { "$@" >"$tmp/out" 2>&1; echo $?; }
said() { grep -q -- "$1" "$tmp/out"; }
# is WANT GOT [CMD...]: the status is WANT, and CMD (if given) holds too
is() { local want=$1 got=$2; shift 2; test "$got" = "$want" && { [ $# = 0 ] || "$@"; }; }

# ---- 2. --out with a quote and a command in it: a path, nothing more ----------------------
if command -v gnuplot >/dev/null; then
    # (in a shell command line `cd '$out' && gnuplot ...`, the touch would run)
    out="$tmp/x'; touch $tmp/pwned; echo '"
    s=$(st "$ABLATE" "${quick[@]}" --out "$out")
    check "--out with quotes and ';' in it: exit 0 (got $s)" test "$s" = 0
    check "... runs nothing of the path (no $tmp/pwned)" test ! -e "$tmp/pwned"
    check "... renders the figures there" test -s "$out/grad_flow.png" -a -s "$out/grad_flow_ratio.png"
    check "... and embeds them in the report" grep -q '^!\[.*\](grad_flow.png)' "$out/report.md"
else
    echo "# gnuplot not installed: the --out quoting checks need it to render"
fi
# a gnuplot that fails: its own message in the report and on stderr, not "not found"
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "line 1: warning: a warning first" >&2\necho "line 3: undefined variable: nosuch" >&2\nexit 1\n' >"$tmp/bin/gnuplot"
chmod +x "$tmp/bin/gnuplot"
s=$(PATH="$tmp/bin:$PATH" st "$ABLATE" "${quick[@]}" --out "$tmp/fails")
check "gnuplot failing: the report is still written (exit $s)" test "$s" = 0 -a -s "$tmp/fails/report.md"
check "... and says gnuplot's status and error, not that it is missing" \
    grep -q "not rendered: gnuplot exited with status 1: line 3: undefined variable: nosuch" "$tmp/fails/report.md"
check "... on stderr too" said "grad_flow.gp not rendered: gnuplot exited with status 1"
check "... keeping the scripts" test -s "$tmp/fails/grad_flow.gp"

# ---- 5. a run that fails is a row saying so, and its criteria have no data ---------------------
# EMBER_TEST_FAULT=oom:3: from step 3 on a run's step memory cannot grow (testfault.h); with
# batches of 512 every run of full-vs-frozen needs it to, so every run fails
s=$(EMBER_TEST_FAULT=oom:3 st "$ABLATE" full-vs-frozen --quick --steps 20 --train-limit 2000 \
    --batch 512 --out "$tmp/failed")
r="$tmp/failed/runs.csv"
check "runs that fail: exit 1 (got $s)" test "$s" = 1
check "... each named on stderr" said "run [0-9]* (full-vs-frozen .*) failed"
check "... six rows with outcome 'failed'" test "$(awk -F, '$13 == "failed"' "$r" | wc -l)" = 6
check "... and no metrics (empty, not 0): steps to diverged_step" \
    awk -F, 'NR > 1 && ($8 != "" || $9 != "" || $10 != "" || $11 != "" || $12 != "" || $14 != "") { bad = 1 } END { exit bad }' "$r"
check "... every row still has 14 columns" awk -F, 'NF != 14 { bad = 1 } END { exit bad }' "$r"
check "... the criterion neither PASS nor FAIL" bash -c "! grep -q '\*\*\(PASS\|FAIL\)\*\*' '$tmp/failed/report.md'"
check "... but 'no data' and why" grep -q '| \*\*no data\*\* (6 of 6 runs failed) |$' "$tmp/failed/report.md"
check "... the summary counts it" grep -q "^0 criteria passed, 0 failed, 1 without data" "$tmp/failed/report.md"
check "... the runs table says failed, with no numbers" \
    grep -q '^| 0 | nobn-lr0.2-s1 | no | 0.2 | 0.01 | 512 | – | – | – | – | – | \*\*failed\*\* |$' "$tmp/failed/report.md"

# ---- 12. paths that do not fit are refused, not cut; --lr inf is no learning rate ----------
long=$(printf 'd%.0s' $(seq 1100))
for opt in --out --data; do
    s=$(st "$ABLATE" "${quick[@]}" $opt "$tmp/$long")
    check "$opt of 1100+ bytes: exit 2 (got $s)" test "$s" = 2
    check "... saying the limit" said "^ember-ablate: $opt: the path has [0-9]* bytes, more than the limit of 1023"
done
for lr in inf nan 1e400 -inf; do
    s=$(st "$ABLATE" "${quick[@]}" --lr "$lr" --out "$tmp/lr")
    check "--lr $lr: exit 2 (got $s)" is 2 "$s" said "^ember-ablate: --lr: invalid value"
done
# a refused number says what the option takes
s=$(st "$ABLATE" "${quick[@]}" --batch 1 --out "$tmp/b1")
check "--batch 1: exit 2, saying what --batch takes (got $s)" is 2 "$s" \
    said "^ember-ablate: --batch: invalid value '1' (wanted: 2 to 65536)"
s=$(st "$ABLATE" "${quick[@]}" --lr 0.1,,0.2 --out "$tmp/b1")
check "--lr 0.1,,0.2: exit 2, saying what --lr takes (got $s)" is 2 "$s" \
    said "^ember-ablate: --lr: invalid value '0.1,,0.2' (wanted: comma-separated rates"

# ---- --out checked before the runs -----------------------------------------------------------
mkdir -p "$tmp/busy/report.md"
s=$(st "$ABLATE" "${quick[@]}" --out "$tmp/busy")
check "a directory where report.md belongs: exit 2 before any run (got $s)" test "$s" = 2
check "... naming it" said "^ember-ablate: --out $tmp/busy: $tmp/busy/report.md: is a directory"
check "... no run made" test ! -e "$tmp/busy/runs.csv"
printf x >"$tmp/file"
s=$(st "$ABLATE" "${quick[@]}" --out "$tmp/file/sub")
check "--out under a file: exit 2 (got $s)" is 2 "$s" said "^ember-ablate: --out $tmp/file/sub: cannot create it"

echo "$passed passed, $failed failed"
test "$failed" = 0
