#!/usr/bin/env bash
# tests/mpi/test_mpi_programs.sh — ember-mnist and ember-cifar data parallel under
# `mpirun -np 2` (loopback only) against one process:
#   --bn-sync, global batch 64       == one process, batch 64            (float rounding)
#   no --bn-sync (BN per process)    == one process, --ghost-batch 32    (float rounding)
#   and the two differ from each other (the check can fail), an uneven split (batch 63),
#   BatchNorm1d (mlp), Conv + augmentation (cifar-cnn), checkpoints across process counts,
#   rank 0 alone writes, sharded evaluation (and confusion matrix), failures that stop
#   every process.
#   usage: test_mpi_programs.sh EMBER_MNIST EMBER_CIFAR MAKE_SHAPES CKPT_DIFF
# Exit 77 (skipped) without mpirun. Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist.
set -uo pipefail
MNIST=$1 CIFAR=$2 SHAPES=$3 DIFF=$4
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
    echo "SKIP: mpirun not found (Debian: apt-get install openmpi-bin)"
    exit 77
fi
# Open MPI refuses root unless told; the CI machine runs as root
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# loopback only, no probing of other interfaces
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# Open MPI's start-up allocations are never freed, in components it unloads before exit
# (LeakSanitizer cannot even name them), so the sanitizer build checks no leaks in MPI
# processes; the same code is leak-checked in single-process runs.
mpi2() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
         timeout 300 "$MPIRUN" --oversubscribe -np 2 "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
# close NAME A B ARGS...: ckpt_diff A B ARGS, its line printed, named check
close() { local name=$1 a=$2 b=$3; shift 3
    local out; out=$("$DIFF" "$a" "$b" "$@" 2>&1); local s=$?
    echo "   $out"; if [ $s = 0 ]; then ok "$name"; else fail "$name"; fi; }

# What "the same to float rounding" can mean. 1 and 2 processes differ only in the order
# of sums (per-process partial sums, then the MPI sum), so the gradient of one step agrees
# to about 1e-6 of each tensor's scale, and with smooth activations (Ioffe's sigmoid MLP)
# it stays there for any number of steps. ReLU and max-pooling have derivatives that jump:
# once a 1e-7 difference moves a pre-activation across 0 or changes a max-pool winner,
# that one element's gradient differs by its full size, and differences grow step by step
# (mnist-cnn: 1e-6 after 5 steps, 6e-5 after 10; cifar-cnn: 1e-3 after 3). So the CNNs are
# compared after 1 step (cifar-cnn) or 3 steps (mnist-cnn), the MLP after 20. The bound
# 1e-5 is d of ckpt_diff (largest difference / largest value, per tensor: weights,
# running statistics, momentum buffer); a real difference (BatchNorm over half batches
# instead of the whole batch) is 1e-1.
small=(--train-limit 640 --test-limit 320 --quiet --threads 1 --seed 3)
k=(--steps 3)
TOL=1e-5

# ---- --bn-sync: 2 x 32 == 1 x 64 ---------------------------------------------------------
"$MNIST" "${small[@]}" "${k[@]}" --save "$tmp/one.st" --metrics "$tmp/one.csv" >"$tmp/one.out"
mpi2 "$MNIST" "${small[@]}" "${k[@]}" --bn-sync --save "$tmp/sync.st" \
    --metrics "$tmp/sync.csv" >"$tmp/sync.out" 2>"$tmp/sync.err"
check "mpirun -np 2 ember-mnist --bn-sync exits 0" test $? = 0
close "mnist-cnn, 2 processes x 32 with --bn-sync == 1 process x 64 (weights, running stats, momentum)" \
    "$tmp/one.st" "$tmp/sync.st" --max $TOL
check "... the same train loss and accuracy in the metrics (4 decimals)" \
    cmp -s <(awk -F, 'NR>1{printf "%s %s %.4f %.4f %.4f\n",$1,$2,$3,$4,$5}' "$tmp/one.csv") \
           <(awk -F, 'NR>1{printf "%s %s %.4f %.4f %.4f\n",$1,$2,$3,$4,$5}' "$tmp/sync.csv")
check "only rank 0 prints (one 'done:' line)" test "$(grep -c '^done:' "$tmp/sync.out")" = 1
check "the run says it is data parallel with global BatchNorm" \
    grep -q "2 processes (MPI), global batch 64 = 32 per process; BatchNorm statistics over the global batch" "$tmp/sync.out"

mlp=(--model mlp --steps 20)
"$MNIST" "${small[@]}" "${mlp[@]}" --save "$tmp/mlp1.st" >/dev/null
mpi2 "$MNIST" "${small[@]}" "${mlp[@]}" --bn-sync --save "$tmp/mlp2.st" >/dev/null 2>&1
close "mlp (BatchNorm1d, sigmoid), 20 steps: 2 processes with --bn-sync == 1 process" \
    "$tmp/mlp1.st" "$tmp/mlp2.st" --max $TOL

"$SHAPES" --train 640 --test 320 "$tmp/cifar" >/dev/null
cif=(--data "$tmp/cifar" --train-limit 640 --test-limit 320 --quiet --threads 1 --steps 1)
"$CIFAR" "${cif[@]}" --save "$tmp/c1.st" >/dev/null
mpi2 "$CIFAR" "${cif[@]}" --bn-sync --save "$tmp/c2.st" >/dev/null 2>&1
check "mpirun -np 2 ember-cifar --bn-sync exits 0" test $? = 0
close "cifar-cnn (augmented), 1 step: 2 processes with --bn-sync == 1 process" \
    "$tmp/c1.st" "$tmp/c2.st" --max $TOL

# ---- without --bn-sync: ghost batches --------------------------------------------------------
mpi2 "$MNIST" "${small[@]}" "${k[@]}" --save "$tmp/local.st" >/dev/null 2>&1
check "mpirun -np 2 ember-mnist (BatchNorm per process) exits 0" test $? = 0
"$MNIST" "${small[@]}" "${k[@]}" --ghost-batch 32 --save "$tmp/ghost.st" >/dev/null
close "2 processes x 32 without --bn-sync == 1 process, --ghost-batch 32 (weights, momentum)" \
    "$tmp/local.st" "$tmp/ghost.st" --weights --max $TOL
close "... and ghost batches are not the whole batch (this comparison can fail)" \
    "$tmp/local.st" "$tmp/sync.st" --weights --min 1e-2

# ---- an uneven split: 63 = 31 + 32, each pass weighted by its share ------------------------
"$MNIST" "${small[@]}" "${k[@]}" --batch 63 --save "$tmp/one63.st" >/dev/null
mpi2 "$MNIST" "${small[@]}" "${k[@]}" --batch 63 --bn-sync --save "$tmp/sync63.st" >/dev/null 2>&1
close "batch 63 over 2 processes with --bn-sync == 1 process" "$tmp/one63.st" "$tmp/sync63.st" --max $TOL
mpi2 "$MNIST" "${small[@]}" "${k[@]}" --batch 63 --save "$tmp/local63.st" >/dev/null 2>&1
"$MNIST" "${small[@]}" "${k[@]}" --batch 63 --ghost-batch 32 --save "$tmp/ghost63.st" >/dev/null
close "batch 63 over 2 processes without --bn-sync == 1 process in ghost batches 31 + 32" \
    "$tmp/local63.st" "$tmp/ghost63.st" --weights --max $TOL

# ---- checkpoints across process counts -----------------------------------------------------
# 20 steps straight on 1 process == 10 on 2 processes, saved, then 10 more on 1 process; and
# the other way round (the MLP, whose runs stay within rounding; constant lr)
res=("${small[@]}" --model mlp --schedule const)
"$MNIST" "${res[@]}" --steps 20 --save "$tmp/r20.st" >/dev/null
mpi2 "$MNIST" "${res[@]}" --steps 10 --bn-sync --save "$tmp/r10m.st" >/dev/null 2>&1
"$MNIST" "${res[@]}" --steps 20 --resume "$tmp/r10m.st" --save "$tmp/r20m1.st" >/dev/null
check "a checkpoint of 2 processes resumes on 1 process" test -s "$tmp/r20m1.st"
close "... and ends where 1 process alone ends" "$tmp/r20.st" "$tmp/r20m1.st" --max $TOL
"$MNIST" "${res[@]}" --steps 10 --save "$tmp/r10.st" >/dev/null
mpi2 "$MNIST" "${res[@]}" --steps 20 --bn-sync --resume "$tmp/r10.st" --save "$tmp/r20m2.st" >"$tmp/res.out" 2>&1
check "a checkpoint of 1 process resumes on 2 processes" grep -q "resumed from .* step 10" "$tmp/res.out"
close "... and ends where 1 process alone ends" "$tmp/r20.st" "$tmp/r20m2.st" --max $TOL

# ---- evaluation sharded over the processes == one process --------------------------------
"$MNIST" "${small[@]}" --load "$tmp/one.st" --eval >"$tmp/e1.out"
mpi2 "$MNIST" "${small[@]}" --load "$tmp/one.st" --eval >"$tmp/e2.out" 2>/dev/null
check "--eval over 2 processes reports what 1 process does" \
    cmp -s <(grep '^test loss' "$tmp/e1.out") <(grep '^test loss' "$tmp/e2.out")
mpi2 "$MNIST" "${small[@]}" --load "$tmp/one.st" --eval --predictions "$tmp/p2.csv" >/dev/null 2>&1
"$MNIST" "${small[@]}" --load "$tmp/one.st" --eval --predictions "$tmp/p1.csv" >/dev/null
check "--predictions under mpirun: rank 0 writes every test image once" cmp -s "$tmp/p1.csv" "$tmp/p2.csv"
"$MNIST" "${small[@]}" --load "$tmp/one.st" --eval --confusion "$tmp/c1.csv" >/dev/null
mpi2 "$MNIST" "${small[@]}" --load "$tmp/one.st" --eval --confusion "$tmp/c2.csv" >/dev/null 2>&1
check "--confusion over 2 processes (each counts its rows, the counts summed) == 1 process" \
    test -s "$tmp/c1.csv" -a -n "$(cmp "$tmp/c1.csv" "$tmp/c2.csv" && echo same)"

# ---- a graceful stop: mpirun forwards SIGUSR1 (its Ctrl-C kills the job) ---------------------
# every process stops after the same step, rank 0 saves, exit 130; resuming on 2 processes
# ends bit-identical to a run never stopped (--bn-sync: nothing is averaged at the stop)
long=("${small[@]}" --train-limit 3200 --epochs 2 --log-every 2 --bn-sync)
mpi2 "$MNIST" "${long[@]}" --save "$tmp/straight.st" >/dev/null 2>&1
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$MPIRUN" --oversubscribe -np 2 \
    "$MNIST" "${long[@]}" --metrics "$tmp/u.csv" --save "$tmp/u.st" >"$tmp/u.out" 2>&1 &
pid=$!   # mpirun itself, which forwards SIGUSR1 to the processes
for _ in $(seq 600); do [ -f "$tmp/u.csv" ] && [ "$(wc -l < "$tmp/u.csv")" -ge 2 ] && break; sleep 0.05; done
kill -USR1 $pid
wait $pid
s=$?
check "SIGUSR1 to mpirun: exit 130 and the checkpoint saved" test "$s" = 130 -a -s "$tmp/u.st"
check "... rank 0 says where it stopped" grep -q "^interrupted at step [1-9]" "$tmp/u.out"
mpi2 "$MNIST" "${long[@]}" --resume "$tmp/u.st" --save "$tmp/u2.st" >"$tmp/u2.out" 2>&1
check "a stopped run, resumed, ends bit-identical to one never stopped" \
    cmp -s "$tmp/straight.st" "$tmp/u2.st"
check "... and it did resume mid-run" grep -q "resumed from .* step [1-9]" "$tmp/u2.out"

# ---- bad arguments and failures stop every process ----------------------------------------
s=$(mpi2 "$MNIST" "${small[@]}" --batch 3 --ghost-batch 1 >/dev/null 2>"$tmp/bad.err"; echo $?)
check "a batch too small to split exits non-zero on all processes, no hang" test "$s" != 0
check "... saying why" grep -q "at least 2" "$tmp/bad.err"
s=$(mpi2 "$MNIST" "${small[@]}" --no-bn --lr 10000 --save "$tmp/d.st" >"$tmp/d.out" 2>/dev/null; echo $?)
check "divergence stops every process at the same step (exit 3, no checkpoint)" \
    test "$s" = 3 -a ! -e "$tmp/d.st"
check "... and rank 0 says where" grep -q "^diverged at step [0-9]* (loss" "$tmp/d.out"
s=$(mpi2 "$MNIST" "${small[@]}" "${k[@]}" --metrics "$tmp/nodir/m.csv" >/dev/null 2>"$tmp/m.err"; echo $?)
check "a metrics file rank 0 cannot open stops every process (no hang)" test "$s" != 0

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
