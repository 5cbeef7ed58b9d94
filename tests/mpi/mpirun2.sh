#!/usr/bin/env bash
# tests/mpi/mpirun2.sh PROGRAM ARGS... — run PROGRAM as 2 MPI processes on this machine
# (loopback only); exit 77 (skipped) when mpirun is missing.
MPIRUN=$(command -v mpirun) || { echo "SKIP: mpirun not found (Debian: openmpi-bin)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# Open MPI's start-up allocations are never freed, in components it unloads before exit
# (LeakSanitizer cannot even name them), so the sanitizer build checks no leaks in MPI
# processes; the same code is leak-checked in single-process runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
exec timeout 600 "$MPIRUN" --oversubscribe -np 2 "$@"
