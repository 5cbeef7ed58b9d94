#!/usr/bin/env bash
# tests/mpi/test_mpi_agree.sh — the processes of `mpirun -np 2 ember-mnist` check that they
# run the same job before the first step (examples/common/fingerprint.h): the same options,
# the same data (content hash), the same starting weights and position. A difference stops
# every process with exit 2 and one message from process 0 naming what differs — not a
# run on a mix of two datasets with exit 0, not an MPI abort, not a hang (`timeout 120`:
# 124 is a hang here). A process that cannot even start (its data missing) stops them all.
# ember-ablate's processes, which share out the runs of a sweep, check the same.
#   usage: test_mpi_agree.sh EMBER_MNIST EMBER_ABLATE
# mpirun's MPMD form (`-np 1 A : -np 1 B`) gives the processes different arguments. Exit 77
# (skipped) without mpirun. Uses small generated data (tests/programs/make_idx.py; python3).
set -uo pipefail
MNIST=$1 ABLATE=$2
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
    echo "SKIP: mpirun not found (Debian: apt-get install openmpi-bin)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# as in the other MPI scripts: Open MPI's start-up allocations are never freed
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# as in test_mpi_fault.sh: MALLOC_PERTURB_ to the processes, not to mpirun
perturb=()
if [ -n "${MALLOC_PERTURB_:-}" ]; then perturb=(-x "MALLOC_PERTURB_=$MALLOC_PERTURB_"); fi
unset MALLOC_PERTURB_

here=$(dirname "${BASH_SOURCE[0]}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$here/../tap.sh"
python3 "$here/../programs/make_idx.py" "$tmp/a" >/dev/null
python3 "$here/../programs/make_idx.py" "$tmp/b" --change 7 >/dev/null   # one pixel differs
# --mean/--std given, so the normalization (computed from the data otherwise, and part of
# the configuration) is the same on both data sets: the data check itself must see it
run=(--quiet --threads 1 --mean 0.5 --std 0.29 --steps 4)

# job OUT A... : B...: `mpirun -np 1 A : -np 1 B` under timeout 120, stdout and stderr in
# $tmp/OUT; prints the exit status
job() {
    local out=$1 i
    shift
    for ((i = 1; i <= $#; i++)); do [ "${!i}" = : ] && break; done
    timeout 120 "$MPIRUN" --oversubscribe -np 1 "${perturb[@]}" "${@:1:i-1}" : \
        -np 1 "${perturb[@]}" "${@:i+1}" >"$tmp/$out" 2>&1
    echo $?
}
says() { grep -q -- "$2" "$tmp/$1"; }
no_step() { ! grep -q '^epoch\|^done\|^memory:' "$tmp/$1"; }
messages() { grep -c '^ember-mnist' "$tmp/$1"; }

# ---- the same job: it runs -----------------------------------------------------------------
s=$(job same "$MNIST" --data "$tmp/a" "${run[@]}" : "$MNIST" --data "$tmp/a" "${run[@]}")
check "both processes on the same data and options: exit 0 (got $s)" test "$s" = 0

# ---- another data directory on process 1 ---------------------------------------------------
s=$(job data "$MNIST" --data "$tmp/a" "${run[@]}" : "$MNIST" --data "$tmp/b" "${run[@]}")
check "process 1 reads data that differs in one pixel: exit 2 before the first step (got $s)" \
    test "$s" = 2
check "... no step taken" no_step data
check "... one message, from process 0, naming both data sets" \
    test "$(messages data)" = 1
check "... 'process 1 reads other data than process 0'" \
    says data "^ember-mnist: process 1 reads other data than process 0: train-images-idx3-ubyte 200720.*(content [0-9a-f]*), against .*(content [0-9a-f]*)"

# ---- other options on process 1 -------------------------------------------------------------
s=$(job limit "$MNIST" --data "$tmp/a" "${run[@]}" --train-limit 128 : \
        "$MNIST" --data "$tmp/a" "${run[@]}" --train-limit 192)
check "process 1 with another --train-limit: exit 2, no MPI abort (got $s)" test "$s" = 2
check "... one message naming both values" test "$(messages limit)" = 1
check "... 'process 0 has train_limit=128, process 1 has train_limit=192'" \
    says limit "^ember-mnist: the 2 processes were not started alike: process 0 has train_limit=128, process 1 has train_limit=192"
s=$(job lr "$MNIST" --data "$tmp/a" "${run[@]}" --lr 0.05 : \
        "$MNIST" --data "$tmp/a" "${run[@]}" --lr 0.05000001)
check "process 1 with lr 0.05000001 for 0.05: exit 2 (got $s)" test "$s" = 2
check "... naming both" says lr "process 0 has lr=0.05, process 1 has lr=0.05000001"

# ---- another checkpoint on process 1 --------------------------------------------------------
"$MNIST" --data "$tmp/a" "${run[@]}" --steps 2 --save "$tmp/two.st" >/dev/null
"$MNIST" --data "$tmp/a" "${run[@]}" --steps 3 --save "$tmp/three.st" >/dev/null
s=$(job ck "$MNIST" --data "$tmp/a" "${run[@]}" --resume "$tmp/two.st" : \
        "$MNIST" --data "$tmp/a" "${run[@]}" --resume "$tmp/three.st")
check "processes resuming from different checkpoints: exit 2 (got $s)" test "$s" = 2
check "... no step taken" no_step ck
check "... saying they do not start from the same weights" \
    says ck "^ember-mnist: the 2 processes do not start from the same weights and position"

# ---- a process that cannot start stops them all ---------------------------------------------
s=$(job missing "$MNIST" --data "$tmp/a" "${run[@]}" : "$MNIST" --data "$tmp/nowhere" "${run[@]}")
check "process 1's data missing: every process stops, exit 2 (got $s)" test "$s" = 2
check "... process 1 names its directory" says missing "^ember-mnist\[1\]: $tmp/nowhere: no such directory"
check "... no step taken" no_step missing

# ---- ember-ablate: the runs shared out over processes on different data ----------------------
abl=(grad-flow --quick --steps 5 --train-limit 200)
s=$(job ablate "$ABLATE" "${abl[@]}" --data "$tmp/a" --out "$tmp/ab" : \
        "$ABLATE" "${abl[@]}" --data "$tmp/b" --out "$tmp/ab")
check "ember-ablate, process 1 on other data: exit 2 before any run (got $s)" \
    test "$s" = 2 -a ! -e "$tmp/ab/runs.csv"
check "... one message naming it" says ablate "^ember-ablate: process 1 reads other data than process 0"
s=$(job ablate2 "$ABLATE" "${abl[@]}" --data "$tmp/a" --out "$tmp/ab2" : \
        "$ABLATE" "${abl[@]}" --data "$tmp/a" --out "$tmp/ab2" --lr 0.2)
check "ember-ablate, process 1 with another --lr: exit 2 (got $s)" test "$s" = 2
check "... naming both" says ablate2 "process 0 has lr=default, process 1 has lr=0.2;"

echo "$passed passed, $failed failed"
test "$failed" = 0
