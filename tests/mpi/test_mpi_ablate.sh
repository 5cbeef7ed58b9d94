#!/usr/bin/env bash
# tests/mpi/test_mpi_ablate.sh — `mpirun -np 2 ember-ablate lr-sweep --quick` writes what one
# process writes: runs.csv, curves.csv, the figure scripts and
# report.md (its header line, which names the processes and the time, aside).
#   usage: test_mpi_ablate.sh EMBER_ABLATE      (exit 77 without mpirun)
set -uo pipefail
ABLATE=$1
MPIRUN=$(command -v mpirun) || { echo "SKIP: mpirun not found (Debian: openmpi-bin)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

"$ABLATE" lr-sweep --quick --out "$tmp/one" >"$tmp/one.out" 2>&1
check "ember-ablate lr-sweep --quick (1 process) exits 0" test $? = 0
# Open MPI's start-up allocations are never freed, in components it unloads before exit
# (LeakSanitizer cannot even name them), so the sanitizer build checks no leaks in MPI
# processes; the same code is leak-checked in single-process runs.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 600 "$MPIRUN" --oversubscribe -np 2 "$ABLATE" lr-sweep --quick --out "$tmp/two" \
    >"$tmp/two.out" 2>"$tmp/two.err"
check "mpirun -np 2 ember-ablate lr-sweep --quick exits 0" test $? = 0
check "runs.csv is the single-process one" cmp -s "$tmp/one/runs.csv" "$tmp/two/runs.csv"
check "... with a row for every run" test "$(wc -l < "$tmp/two/runs.csv")" -gt 10
check "curves.csv is the single-process one" cmp -s "$tmp/one/curves.csv" "$tmp/two/curves.csv"
for gp in "$tmp"/one/*.gp; do
    check "figure script $(basename "$gp") is the single-process one" cmp -s "$gp" "$tmp/two/$(basename "$gp")"
done
strip() { sed -e 3d -e 's/ runs in [0-9]* s (wall clock, \(.*\) used [0-9]* s of CPU time)\./ runs (\1)./' "$1"; }
check "report.md is the single-process one (header line and time aside)" \
    cmp -s <(strip "$tmp/one/report.md") <(strip "$tmp/two/report.md")
check "the report names the processes" grep -q "in each of 2 MPI processes" "$tmp/two/report.md"
check "one summary line, from process 0" test "$(grep -c '^ember-ablate lr-sweep' "$tmp/two.out")" = 1
check "no worker file left behind" test -z "$(ls -A "$tmp/two" | grep '\.tmp$')"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
