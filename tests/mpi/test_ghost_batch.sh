#!/usr/bin/env bash
# tests/mpi/test_ghost_batch.sh — --ghost-batch N on one process (no MPI needed): the
# single-process side of "BatchNorm per process" under mpirun (test_mpi_programs.sh).
#   --ghost-batch >= --batch          is the plain step, bit for bit (one pass, seed 1;
#                                     every tensor equal)
#   --no-bn, --ghost-batch 16         is the same step as the whole batch: gradient
#                                     accumulation, equal to float rounding
#   with BatchNorm, --ghost-batch 32  is another step (BatchNorm over each half)
# and a checkpoint's config records --ghost-batch and --bn-sync, which a resume may change
# (with a note), as it may change the process count.
#   usage: test_ghost_batch.sh EMBER_MNIST CKPT_DIFF
set -uo pipefail
MNIST=$1 DIFF=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
run() { "$MNIST" --train-limit 640 --test-limit 320 --quiet --seed 3 --steps 3 "$@" >/dev/null 2>&1; }

run --save "$tmp/plain.st"
run --ghost-batch 64 --save "$tmp/g64.st"
# (not cmp: the files differ in the config they record, ghost_batch=64 against 0)
"$DIFF" "$tmp/plain.st" "$tmp/g64.st" --max 0 >/dev/null
check "--ghost-batch 64 of --batch 64 is the plain step, bit for bit" test $? = 0
run --no-bn --save "$tmp/nobn.st"
run --no-bn --ghost-batch 16 --save "$tmp/nobn16.st"
"$DIFF" "$tmp/nobn.st" "$tmp/nobn16.st" --max 1e-5
check "without BatchNorm, 4 ghost batches of 16 are the batch of 64 (to rounding)" test $? = 0
run --ghost-batch 32 --save "$tmp/g32.st"
"$DIFF" "$tmp/plain.st" "$tmp/g32.st" --weights --min 1e-2
check "with BatchNorm, ghost batches of 32 are another step than the batch of 64" test $? = 0
"$MNIST" --train-limit 640 --quiet --steps 1 --ghost-batch 1 >/dev/null 2>"$tmp/err"
check "BatchNorm over ghost batches of 1 is refused (exit 2, saying why)" \
    test $? = 2 -a -n "$(grep 'at least 2' "$tmp/err")"

# ---- the config a checkpoint records (its safetensors header is JSON text) ----------------
config_of() { head -c 4096 "$1" | grep -ao 'bn_sync=[0-9]* ghost_batch=[0-9]*'; }
check "a checkpoint's config records ghost_batch=32" test "$(config_of "$tmp/g32.st")" = "bn_sync=0 ghost_batch=32"
check "... and ghost_batch=0 without --ghost-batch" test "$(config_of "$tmp/plain.st")" = "bn_sync=0 ghost_batch=0"
run --bn-sync --save "$tmp/sync.st"
check "... and bn_sync=1 with --bn-sync" test "$(config_of "$tmp/sync.st")" = "bn_sync=1 ghost_batch=0"
"$MNIST" --train-limit 640 --test-limit 320 --quiet --seed 3 --steps 4 --resume "$tmp/g32.st" \
    >"$tmp/out" 2>&1
check "a --ghost-batch 32 checkpoint resumes without it (exit $?), as across process counts" \
    grep -q "^resumed from .* step 3" "$tmp/out"
check "... with a note naming both" \
    grep -q "^note: the saved run had bn_sync=0 ghost_batch=32, this one has bn_sync=0 ghost_batch=0" "$tmp/out"
"$MNIST" --train-limit 640 --test-limit 320 --quiet --seed 3 --steps 4 --ghost-batch 32 \
    --resume "$tmp/g32.st" >"$tmp/out" 2>&1
check "... and without a note when they agree" bash -c "! grep -q 'saved run had' '$tmp/out'"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
