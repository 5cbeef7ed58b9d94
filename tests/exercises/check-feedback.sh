#!/usr/bin/env bash
# tests/exercises/check-feedback.sh BUILD EXPECT — grade the exercises built in BUILD
# (exercise mode, a set that must FAIL: the empty skeletons, a set of mutants) and check
# the feedback against EXPECT: one extended regular expression per line that some line of
# the grader's output must match, or, after a "!", that no line may match; blank lines and
# "#" comments are skipped. Exit 0 when the grading failed as expected and every line of
# EXPECT holds; otherwise 1, with the feedback printed.
set -uo pipefail
build=$1 expect=$2
log=$build/feedback.log
if meson test -C "$build" --suite exercises --print-errorlogs >"$log" 2>&1; then
    echo "FAIL: $expect: every exercise passed the grader; this set must fail"
    exit 1
fi
# meson itself must have reported a failure per exercise, not an error of its own
if ! grep -qE '^Fail: +5 *$' "$log"; then
    cat "$log"
    echo "FAIL: $expect: meson test did not fail all five exercise tests (log above)"
    exit 1
fi
bad=0
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
    echo "---- the grader's feedback ($log):"
    grep -E '^(exercise|all together)' "$log"
    echo "FAIL: $expect: the feedback is not what it must be (lines above)"
    exit 1
fi
echo "ok: $expect — every exercise failed, with the expected feedback"
