#!/usr/bin/env bash
# tests/exercises/check-feedback.sh HANDOUT SET EXPECT — grade the exercise files of SET (a
# folder: the empty skeletons, a set of mutants) with the handout's grader (tools/make-handout;
# HANDOUT/run grade --dir SET) and check the feedback against EXPECT: one extended regular
# expression per line that some line of the grader's output must match, or, after a "!",
# that no line may match; blank lines and "#" comments are skipped. Also checked: the grader
# exits 1 (not every exercise passed), every exercise whose file SET holds is FAILED or
# NOT ATTEMPTED (never PASSED, never crashed or rejected), every other one NOT ATTEMPTED.
# Exit 0 when all of it holds; otherwise 1, with the feedback printed.
set -uo pipefail
handout=$1 set=$2 expect=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$handout/run" grade --dir "$set" >"$log" 2>&1 || status=$?
bad=0
if [ "$status" != 1 ]; then
    echo "FAIL: $set: the grader exited $status; a set with mistakes must exit 1"
    bad=1
fi
exercises=(ex1_batchnorm_forward ex2_batchnorm_backward ex3_conv2d_backward ex4_sgd_momentum
           ex5_batchnorm_graph ex6_batchnorm_inference ex7_maxpool ex8_softmax_cross_entropy
           ex9_adam ex10_kaiming_init ex11_backward_loop ex12_layernorm ex13_groupnorm)
for i in "${!exercises[@]}"; do
    n=$((i + 1))
    verdict=$(grep -E "^exercise $n \([^)]*\): [A-Z ]+ —" "$log" | grep -vE ": (ok|hint)" | head -1)
    if [ -f "$set/${exercises[$i]}.c" ]; then
        [[ $verdict =~ ": FAILED —" || $verdict =~ ": NOT ATTEMPTED —" ]] ||
            { echo "unexpected verdict for exercise $n: ${verdict:-none}"; bad=1; }
    else
        [[ $verdict =~ ": NOT ATTEMPTED —" ]] ||
            { echo "exercise $n has no file in $set and must be NOT ATTEMPTED: ${verdict:-none}"; bad=1; }
    fi
done
while IFS= read -r line; do
    [[ -z $line || $line == \#* ]] && continue
    if [[ $line == !* ]]; then
        if grep -qE -- "${line#!}" "$log"; then
            echo "unexpected: ${line#!}"
            grep -E -- "${line#!}" "$log" | head -3 | sed 's/^/    /'
            bad=1
        fi
    elif ! grep -qE -- "$line" "$log"; then
        echo "missing: $line"
        bad=1
    fi
done <"$expect"
if ((bad)); then
    echo "---- the grader's feedback:"
    grep -vE ": ok —" "$log"
    echo "FAIL: $expect: the feedback is not what it must be (lines above)"
    exit 1
fi
echo "ok: $expect — every exercise failed or was not attempted, with the expected feedback"
