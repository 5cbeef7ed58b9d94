#!/usr/bin/env bash
# tests/mpi/test_mpi_refused.sh — a build without MPI, started as one of several processes
# (the variable Open MPI's mpirun sets, no mpirun needed), refuses with exit 2 and the fix.
set -uo pipefail
out=$(OMPI_COMM_WORLD_SIZE=2 "$1" --steps 1 2>&1 >/dev/null); s=$?
echo "$out"
[ "$s" = 2 ] && grep -q "built without MPI.*-Dmpi=enabled" <<<"$out" && echo "1 passed, 0 failed"
