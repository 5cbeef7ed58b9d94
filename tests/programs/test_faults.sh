#!/usr/bin/env bash
# tests/programs/test_faults.sh — ember-mnist against the faults of a real run: a disk that
# fills up while the checkpoint, the metrics or the predictions are written, a process
# killed in the middle of a save, kill -9 at arbitrary moments, a FIFO where the save
# writes, a run that diverges over a good checkpoint, a batch too large for the memory
# (that one through ember-cifar, beside ember-mnist in the build).
# Each: the previous checkpoint stays byte-identical and loadable, every metrics row
# already written stays whole, and the program says what failed with a non-zero status.
#   usage: test_faults.sh EMBER_MNIST
# A full disk is the kernel's file-size limit (ulimit -f, SIGXFSZ ignored): a write past
# it is cut short and the next one fails with EFBIG, as on a disk that fills up; no root,
# no tmpfs, no LD_PRELOAD.
set -uo pipefail
MNIST=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
small=(--train-limit 640 --test-limit 320 --quiet --schedule const)

# limited KB CMD...: run CMD with files limited to KB KiB; its output (through a pipe, which
# the limit does not touch) in $tmp/out; prints the exit status
limited() {
    local kb=$1
    shift
    (trap '' XFSZ; ulimit -f "$kb"; exec "$@") 2>&1 | cat >"$tmp/out"
    echo "${PIPESTATUS[0]}"
}
# every line of a metrics file has the ten fields
whole_rows() { awk -F, 'NF != 10 { bad = 1 } END { exit bad || NR < 2 }' "$1"; }
# the checkpoint loads into a fresh process and evaluates
loads() { "$MNIST" "${small[@]}" --load "$1" --eval >/dev/null 2>&1; }

# ---- a good checkpoint to protect (1.6 MB: mnist-cnn with its optimizer state) -----------
"$MNIST" "${small[@]}" --epochs 1 --save "$tmp/ck.st" >/dev/null
cp "$tmp/ck.st" "$tmp/ref.st"
check "the reference checkpoint loads" loads "$tmp/ck.st"

# ---- the disk fills up while the checkpoint is written -----------------------------------
s=$(limited 512 "$MNIST" "${small[@]}" --epochs 2 --save "$tmp/ck.st" --metrics "$tmp/m.csv")
check "a failed checkpoint write exits 1 (got $s)" test "$s" = 1
check "... naming the file and the cause" grep -q "ck.st.*File too large" "$tmp/out"
check "... the previous checkpoint byte-identical" cmp -s "$tmp/ck.st" "$tmp/ref.st"
check "... and loadable" loads "$tmp/ck.st"
check "... no temporary file left" test ! -e "$tmp/ck.st.tmp"
check "... every metrics row of the run is there, whole (header + 2 epochs)" \
    bash -c "awk -F, 'NF == 10' '$tmp/m.csv' | wc -l | grep -qx 3"

# ---- the disk fills up while metrics rows are written -------------------------------------
s=$(limited 1 "$MNIST" "${small[@]}" --epochs 4 --log-every 1 --save "$tmp/ck.st" \
    --metrics "$tmp/m.csv")
check "a failed metrics write exits 1 (got $s)" test "$s" = 1
check "... naming the file" grep -q "writing metrics to .*m.csv failed" "$tmp/out"
check "... the run stops there (no 'done')" bash -c "! grep -q '^done' '$tmp/out'"
check "... every row written is whole, none half-written" whole_rows "$tmp/m.csv"
check "... and there are rows ($(($(wc -l <"$tmp/m.csv") - 1)))" test "$(wc -l <"$tmp/m.csv")" -ge 10
check "... the checkpoint is not overwritten" cmp -s "$tmp/ck.st" "$tmp/ref.st"
s=$("$MNIST" "${small[@]}" --epochs 2 --resume "$tmp/ck.st" --metrics "$tmp/m.csv" \
    >"$tmp/out" 2>&1; echo $?)
check "the run resumes from that checkpoint and metrics file (got $s)" test "$s" = 0
check "... and the metrics file is whole rows again" whole_rows "$tmp/m.csv"

# ---- the disk fills up while --predictions is written (35 KB for 320 images) ----------------
"$MNIST" "${small[@]}" --load "$tmp/ref.st" --eval --predictions "$tmp/p.csv" >/dev/null
cp "$tmp/p.csv" "$tmp/pref.csv"
s=$(limited 16 "$MNIST" "${small[@]}" --load "$tmp/ref.st" --eval --predictions "$tmp/p.csv")
check "a failed predictions write exits 1 (got $s)" test "$s" = 1
check "... naming the file and the cause" \
    grep -q "p.csv: writing the predictions failed: File too large" "$tmp/out"
check "... the previous predictions byte-identical" cmp -s "$tmp/p.csv" "$tmp/pref.csv"
check "... no temporary file left" test ! -e "$tmp/p.csv.tmp"
s=$("$MNIST" "${small[@]}" --load "$tmp/ref.st" --eval --predictions /dev/full >"$tmp/out" 2>&1; echo $?)
check "--predictions /dev/full exits 2 before evaluating (got $s)" test "$s" = 2
check "... naming the option, the path and why" \
    grep -q "^ember-mnist: --predictions /dev/full: is a character device, not a regular file" "$tmp/out"
s=$("$MNIST" "${small[@]}" --no-bn --lr 10000 --predictions "$tmp/p.csv" >"$tmp/out" 2>&1; echo $?)
check "a run that diverges (exit $s) leaves the previous predictions byte-identical" \
    cmp -s "$tmp/p.csv" "$tmp/pref.csv"

# ---- a run that diverges never replaces a good checkpoint ---------------------------------
s=$("$MNIST" "${small[@]}" --no-bn --lr 10000 --save "$tmp/ck.st" >"$tmp/out" 2>&1; echo $?)
check "lr 1e4 over a good checkpoint: exit 3 (got $s)" test "$s" = 3
check "... 'diverged at step k (loss ...): what'" grep -q "^diverged at step [0-9]* (loss .*): " "$tmp/out"
check "... the good checkpoint byte-identical" cmp -s "$tmp/ck.st" "$tmp/ref.st"

# ---- killed in the middle of --save ---------------------------------------------------------
# The file-size limit with SIGXFSZ left at its default action kills the process the moment
# its write crosses 512 KiB: as abrupt as kill -9 (no handler, no cleanup), and inside the
# save every time (the checkpoint is 1.6 MB, nothing else written is that large)
s=$( (ulimit -f 512; exec "$MNIST" "${small[@]}" --steps 3 --save "$tmp/ck.st") >/dev/null 2>&1; echo $?)
check "the program is killed inside its save (SIGXFSZ: exit $s, a 512 KiB .tmp)" \
    test "$s" = 153 -a "$(stat -c %s "$tmp/ck.st.tmp" 2>/dev/null)" = 524288
check "... which leaves the previous checkpoint byte-identical" cmp -s "$tmp/ck.st" "$tmp/ref.st"
check "... and loadable" loads "$tmp/ck.st"
s=$("$MNIST" "${small[@]}" --steps 3 --save "$tmp/ck.st" >/dev/null 2>&1; echo $?)
check "the next save goes through over the dead run's .tmp (got $s)" test "$s" = 0
check "... loads" loads "$tmp/ck.st"
check "... and removes the .tmp" test ! -e "$tmp/ck.st.tmp"
cp "$tmp/ref.st" "$tmp/ck.st"
# a FIFO in the way of the temporary file (before this change the writer stalled in it)
mkfifo "$tmp/ck.st.tmp"
s=$(timeout 60 "$MNIST" "${small[@]}" --steps 3 --save "$tmp/ck.st" >/dev/null 2>&1; echo $?)
check "a FIFO at ck.st.tmp is removed, not written into: the save goes through (got $s)" \
    test "$s" = 0 -a ! -e "$tmp/ck.st.tmp"
check "... loads" loads "$tmp/ck.st"
cp "$tmp/ref.st" "$tmp/ck.st"

# kill -9 at arbitrary moments of a run that saves every epoch (epochs of 2 steps), once
# it has saved: after each, the checkpoint there is complete
good=0 tries=8
for i in $(seq $tries); do
    rm -f "$tmp/k.st"
    "$MNIST" --train-limit 128 --test-limit 64 --quiet --epochs 100000 --save-every 1 \
        --save "$tmp/k.st" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 600); do [ -e "$tmp/k.st" ] && break; sleep 0.02; done
    sleep "0.$((i * 7))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    if loads "$tmp/k.st"; then good=$((good + 1)); fi
done
check "kill -9 at $tries moments of a saving run: every checkpoint loads ($good/$tries)" test "$good" = "$tries"

# ---- memory: refused up front, not killed ------------------------------------------------
s=$("$MNIST" "${small[@]}" --epochs 1 --mem-limit 80M >"$tmp/out" 2>&1; echo $?)
check "--mem-limit below what a step needs: exit 2 before training (got $s)" test "$s" = 2
check "... saying how much the step needs and what to change" \
    grep -q "needs about .* MiB.*--mem-limit.*smaller --batch" "$tmp/out"
check "... without starting (no epoch line)" bash -c "! grep -q '^epoch' '$tmp/out'"
# a batch far beyond any machine's memory: ember-cifar's 50000 generated images in one
# step (~114 GiB of activations; Fashion-MNIST's 60000 need only ~22 GiB, which a large
# machine may hold)
CIFAR="$(dirname "$MNIST")/ember-cifar"
start=$(date +%s)
s=$("$CIFAR" --synthetic --quiet --batch 65536 --epochs 1 >"$tmp/out" 2>&1; echo $?)
check "a batch of 50000 cifar-sized images (~114 GiB of activations) exits 2 up front (got $s)" \
    test "$s" = 2 -a "$(($(date +%s) - start))" -lt 60
check "... naming MemAvailable" grep -q "MemAvailable" "$tmp/out"
s=$("$MNIST" "${small[@]}" --epochs 1 --mem-limit 2G >"$tmp/out" 2>&1; echo $?)
check "a run within --mem-limit trains (got $s) and reports its step and peak memory" \
    test "$s" = 0 -a -n "$(grep '^memory: a step needs about' "$tmp/out")" \
    -a -n "$(grep '^peak memory: [0-9.]* MiB' "$tmp/out")"
s=$("$MNIST" --mem-limit 12x >"$tmp/out" 2>&1; echo $?)
check "--mem-limit 12x exits 2" test "$s" = 2 -a -n "$(grep 'mem-limit' "$tmp/out")"

echo "$passed passed, $failed failed"
test "$failed" = 0
