#!/usr/bin/env bash
# tests/mpi/test_mpi_fault.sh — one process of `mpirun -np 2 ember-mnist` fails in the middle
# of training while the other is inside, or on its way into, a collective (the BatchNorm
# sums of --bn-sync, the step's sums): the job must end promptly — `timeout 120`, so a hang
# is a failure here, not a stuck CI — with a non-zero status and a message that names the
# process and the problem (docs/distributed.md, "When one process fails").
#   usage: test_mpi_fault.sh EMBER_MNIST
# The faults, on one process only (mpirun's MPMD form: `-np 1 A : -np 1 B`, B with them):
#   EMBER_TEST_FAULT=oom:K   from step K on, that process's step arena cannot grow
#   EMBER_TEST_FAULT=nan:K   a NaN in that process's copy of batch K
#   ulimit -f                the disk fills up under rank 0's metrics file (as test_faults.sh)
# Exit 77 (skipped) without mpirun. Uses Fashion-MNIST from /usr/share/datasets/fashion-mnist.
set -uo pipefail
MNIST=$1
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
    echo "SKIP: mpirun not found (Debian: apt-get install openmpi-bin)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# as in the other MPI scripts: Open MPI's start-up allocations are never freed
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
small=(--train-limit 640 --test-limit 320 --quiet --threads 1 --seed 3)

# MALLOC_PERTURB_ (meson sets it for every test) goes to the processes, not to mpirun:
# Open MPI 4.1's mpirun reads memory it has freed while it relays MPI_Abort's notice, and
# with that memory perturbed it crashes now and then (exit 139) after the job has ended.
perturb=()
if [ -n "${MALLOC_PERTURB_:-}" ]; then perturb=(-x "MALLOC_PERTURB_=$MALLOC_PERTURB_"); fi
unset MALLOC_PERTURB_

# job OUT A... : B...: `mpirun -np 1 A : -np 1 B` under timeout 120, stdout and stderr in
# $tmp/OUT; prints the exit status (124: it hung and was killed)
job() {
    local out=$1 i
    shift
    for ((i = 1; i <= $#; i++)); do [ "${!i}" = : ] && break; done
    timeout 120 "$MPIRUN" --oversubscribe -np 1 "${perturb[@]}" "${@:1:i-1}" : \
        -np 1 "${perturb[@]}" "${@:i+1}" >"$tmp/$out" 2>&1
    echo $?
}
says() { grep -q -- "$2" "$tmp/$1"; }

# ---- the hook itself, on one process: what the others should hear about -----------------
s=$(EMBER_TEST_FAULT=oom:4 "$MNIST" "${small[@]}" --steps 8 >"$tmp/one" 2>&1; echo $?)
check "one process, its arena unable to grow from step 4: exit 1 (got $s)" test "$s" = 1
check "... \"step 4 failed: out of memory\"" says one "^ember-mnist: step 4 failed: out of memory"

# ---- --bn-sync: rank 1 runs out of memory in step 4, rank 0 waits in a BatchNorm sum -------
s=$(job oom "$MNIST" "${small[@]}" --steps 8 --bn-sync : \
        env EMBER_TEST_FAULT=oom:4 "$MNIST" "${small[@]}" --steps 8 --bn-sync)
check "--bn-sync, rank 1 out of memory in step 4: the job ends, exit 1 (got $s; 124: hung)" \
    test "$s" = 1
check "... rank 1 says what failed" says oom "^ember-mnist\[1\]: step 4 failed: out of memory"
check "... and that it failed alone, ending the job" \
    says oom "^ember-mnist\[1\]: process 1 of 2 failed alone.*ending the job"
check "... no step after it (no 'done', no epoch line)" bash -c "! grep -q '^done\|^epoch' '$tmp/oom'"

# ---- BatchNorm per process: the same fault goes round in the step's sums (no abort) --------
s=$(job local "$MNIST" "${small[@]}" --steps 8 : \
        env EMBER_TEST_FAULT=oom:4 "$MNIST" "${small[@]}" --steps 8)
check "BatchNorm per process, rank 1 out of memory in step 4: exit 1 (got $s; 124: hung)" \
    test "$s" = 1
check "... rank 1 says what failed" says local "^ember-mnist\[1\]: step 4 failed: out of memory"
check "... rank 0 stops at the same step, agreed" says local "^ember-mnist: step 4 failed on another process"

# ---- a NaN in rank 1's copy of batch 4: the input check is agreed, every process diverges --
s=$(job nan "$MNIST" "${small[@]}" --steps 8 --bn-sync : \
        env EMBER_TEST_FAULT=nan:4 "$MNIST" "${small[@]}" --steps 8 --bn-sync)
check "--bn-sync, a NaN in rank 1's batch 4: exit 3 (got $s; 124: hung)" test "$s" = 3
check "... rank 0 says where" says nan "^diverged at step 4 (loss nan): a NaN/Inf in the input batch"

# ---- the disk fills up under rank 0's metrics file in the middle of an epoch -------------
# 1 KiB holds about 18 rows of the epoch's 50 steps. (TCP between the processes: Open MPI's
# shared memory segment is a file, which the limit would cut short too.)
long=(--train-limit 3200 --test-limit 320 --quiet --threads 1 --seed 3 --epochs 1 --log-every 1
      --bn-sync)
s=$(OMPI_MCA_btl=self,tcp job metrics bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' _ \
        "$MNIST" "${long[@]}" --metrics "$tmp/m.csv" : "$MNIST" "${long[@]}")
check "a metrics write that fails on rank 0 mid-epoch: exit 1 (got $s; 124: hung)" test "$s" = 1
check "... rank 0 names the file" says metrics "^ember-mnist: writing metrics to .*m.csv failed"
check "... and says it failed alone" says metrics "^ember-mnist: process 0 of 2 failed alone"
check "... every row written is whole ($(($(wc -l <"$tmp/m.csv") - 1)) rows)" \
    awk -F, 'NF != 10 { bad = 1 } END { exit bad || NR < 10 }' "$tmp/m.csv"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
