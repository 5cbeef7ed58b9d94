#!/usr/bin/env bash
# tests/tools/test-make-shapes.sh MAKE_SHAPES — the make-shapes tool writes the CIFAR-10
# layout (5 training batches that split the examples, a test batch, 10 class names), is
# deterministic in its seed, creates missing parent directories, answers --help on stdout
# with exit 0, and rejects bad arguments with exit status 2.
set -euo pipefail
tool=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {  # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then echo "ok: $what"; passed=$((passed + 1)); else echo "FAIL: $what" >&2; failed=$((failed + 1)); fi
}

"$tool" --seed 7 --train 52 --test 9 "$tmp/a" >/dev/null
"$tool" --seed 7 --train 52 --test 9 "$tmp/b" >/dev/null
"$tool" --seed 8 --train 52 --test 9 "$tmp/c" >/dev/null
sizes=$(for b in 1 2 3 4 5; do stat -c %s "$tmp/a/data_batch_$b.bin"; done | tr '\n' ' ')
# 52 examples in 5 parts: floor(52 b / 5) boundaries 0 10 20 31 41 52 -> 10 10 11 10 11
check "training batches split 52 examples as 10 10 11 10 11 records of 3073 bytes" \
    test "$sizes" = "30730 30730 33803 30730 33803 "
check "test batch holds 9 records" test "$(stat -c %s "$tmp/a/test_batch.bin")" = 27657
check "batches.meta.txt names 10 classes" test "$(grep -c . "$tmp/a/batches.meta.txt")" = 10
check "same seed, same files" diff -r "$tmp/a" "$tmp/b"
check "another seed, other images" bash -c "! cmp -s '$tmp/a/test_batch.bin' '$tmp/c/test_batch.bin'"
check "labels are 0..9 (first byte of each record)" \
    test "$(od -An -tu1 -v -w3073 "$tmp/a/test_batch.bin" | awk '{print $1}' | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 8 "
set +e
"$tool" --train 5 --test 1 "$tmp/p/q/r" >/dev/null; rc=$?
set -e
check "missing parents of DIR are created (mkdir -p)" test "$rc" = 0
check "... and DIR holds the files" test -s "$tmp/p/q/r/test_batch.bin"
: >"$tmp/file"
set +e
"$tool" --train 5 --test 1 "$tmp/file/sub" >/dev/null 2>"$tmp/err"; rc=$?
set -e
check "a parent that is a file: exit 1 naming it" \
    bash -c "[ $rc = 1 ] && grep -q '$tmp/file exists and is not a directory' '$tmp/err'"
set +e
"$tool" --help >"$tmp/help" 2>"$tmp/help.err"; rc=$?
set -e
check "--help exits 0 with the usage on stdout, nothing on stderr" \
    bash -c "[ $rc = 0 ] && grep -q '^usage: make-shapes' '$tmp/help' && [ ! -s '$tmp/help.err' ]"
set +e
"$tool" --train abc "$tmp/d" 2>/dev/null; rc1=$?
"$tool" 2>/dev/null; rc2=$?
"$tool" --frobnicate "$tmp/d" 2>/dev/null; rc3=$?
set -e
check "bad arguments exit 2" test "$rc1 $rc2 $rc3" = "2 2 2"
echo "make-shapes: $passed passed, $failed failed"
[ "$failed" = 0 ]
