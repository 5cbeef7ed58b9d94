#!/usr/bin/env bash
# tests/programs/test_hardening.sh — ember-mnist against a careless user and a hostile
# neighbour on a shared machine (docs/robustness.md §9): outputs checked before the run,
# outputs that would overwrite inputs, links and FIFOs planted where ember writes, test
# images of the wrong size, checkpoints that are well-formed but hold impossible values,
# a resume with slightly other options or other data, a closed stdout.
# Each must end with a clear message and a documented status, never with a lost run, a
# clobbered file, a hang or a wrong answer with exit 0.
#   usage: test_hardening.sh EMBER_MNIST
# Uses small generated MNIST-format data (make_idx.py; python3), so it takes seconds.
set -uo pipefail
MNIST=$1
here=$(dirname "${BASH_SOURCE[0]}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$here/../tap.sh"
# st CMD...: run it with a minute's limit, stdout and stderr in $tmp/out; print the status
st() { timeout 60 "$@" >"$tmp/out" 2>&1; echo $?; }
said() { grep -q -- "$1" "$tmp/out"; }
no_training() { ! grep -q '^epoch\|^memory:' "$tmp/out"; }
# is WANT GOT [CMD...]: the status is WANT, and CMD (if given) holds too
is() { local want=$1 got=$2; shift 2; test "$got" = "$want" && { [ $# = 0 ] || "$@"; }; }
loads() { "$MNIST" "${run[@]}" --load "$1" --eval >/dev/null 2>&1; }

python3 "$here/make_idx.py" "$tmp/a" >/dev/null
run=(--data "$tmp/a" --quiet --epochs 1)
"$MNIST" "${run[@]}" --save "$tmp/ck.st" >/dev/null
cp "$tmp/ck.st" "$tmp/ref.st"
echo "the victim's file" >"$tmp/victim"

# ---- 1. the test split's images have the model's shape, like the training split's ------
python3 "$here/make_idx.py" "$tmp/t32" --test-size 32 32 >/dev/null
s=$(st "$MNIST" --data "$tmp/t32" --quiet --epochs 1 --save "$tmp/t32.st")
check "test images of 32x32 for a 28x28 model: exit 2 before training (got $s)" test "$s" = 2
check "... naming both splits' shapes" said "takes 1x28x28 images; the training split has 1x28x28, the test split 1x32x32"
check "... no training, no checkpoint" bash -c "! grep -q '^epoch' '$tmp/out' && test ! -e '$tmp/t32.st'"
python3 "$here/make_idx.py" "$tmp/t29" --test-size 29 29 >/dev/null   # pools to 7x7 like 28
s=$(st "$MNIST" --data "$tmp/t29" --quiet --epochs 1)
check "test images of 29x29 (which pool to the same shape): exit 2, not a silent evaluation (got $s)" \
    is 2 "$s" said "the test split 1x29x29"

# ---- 3. a link planted where ember writes is never followed ----------------------------
ln -s "$tmp/victim" "$tmp/ck.st.tmp"
s=$(st "$MNIST" "${run[@]}" --steps 2 --save "$tmp/ck.st")
check "a symlink planted at ck.st.tmp: the save goes through (got $s)" test "$s" = 0
check "... the file it points to untouched" test "$(cat "$tmp/victim")" = "the victim's file"
check "... ck.st a regular file, the link gone" \
    bash -c "test -f '$tmp/ck.st' -a ! -L '$tmp/ck.st' -a ! -e '$tmp/ck.st.tmp'"
check "... and it loads" loads "$tmp/ck.st"
cp "$tmp/ref.st" "$tmp/ck.st"
ln -s "$tmp/victim" "$tmp/m.csv"
s=$(st "$MNIST" "${run[@]}" --metrics "$tmp/m.csv")
check "--metrics at a planted symlink: exit 2 before training (got $s)" is 2 "$s" no_training
check "... naming the option and the link" said "^ember-mnist: --metrics $tmp/m.csv: is a symbolic link"
check "... the file it points to untouched" test "$(cat "$tmp/victim")" = "the victim's file"
rm "$tmp/m.csv"
"$MNIST" "${run[@]}" --epochs 1 --metrics "$tmp/m.csv" --save "$tmp/r1.st" >/dev/null
ln -s "$tmp/victim" "$tmp/m.csv.tmp"
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/r1.st" --metrics "$tmp/m.csv")
check "a symlink at m.csv.tmp when a resume rewrites the metrics: exit 0 (got $s)" test "$s" = 0
check "... the file it points to untouched, the rows in m.csv" \
    bash -c "test \"\$(cat '$tmp/victim')\" = \"the victim's file\" && test \$(wc -l <'$tmp/m.csv') = 3"

# ---- 6. every output location is checked before the run starts ---------------------------
s=$(st "$MNIST" "${run[@]}" --save "$tmp/nodir/ck.st")
check "--save into a missing directory: exit 2 at once (got $s)" is 2 "$s" no_training
check "... naming the option, the path and the directory" \
    said "^ember-mnist: --save $tmp/nodir/ck.st: the directory $tmp/nodir does not exist"
s=$(st "$MNIST" "${run[@]}" --metrics "$tmp/victim/m.csv")
check "--metrics under a file: exit 2 at once (got $s)" is 2 "$s" no_training
check "... saying the directory is a file" said "^ember-mnist: --metrics $tmp/victim/m.csv: $tmp/victim is a regular file, not a directory"
mkdir "$tmp/adir"
s=$(st "$MNIST" "${run[@]}" --predictions "$tmp/adir")
check "--predictions naming a directory: exit 2 at once (got $s)" is 2 "$s" no_training
check "... saying so" said "^ember-mnist: --predictions $tmp/adir: is a directory, not a regular file"

# ---- 7. an output may not name an input (nor another output) -----------------------------
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/ck.st" --metrics "$tmp/ck.st")
check "--metrics naming the --resume file: exit 2 (got $s)" is 2 "$s" no_training
check "... saying which input it is" said "^ember-mnist: --metrics $tmp/ck.st: that is the file --resume reads"
check "... the checkpoint byte-identical" cmp -s "$tmp/ck.st" "$tmp/ref.st"
s=$(st "$MNIST" "${run[@]}" --load "$tmp/ck.st" --eval --predictions "$tmp/./ck.st")
check "--predictions naming the --load file (another spelling): exit 2, the file intact (got $s)" \
    is 2 "$s" cmp -s "$tmp/ck.st" "$tmp/ref.st"
s=$(st "$MNIST" "${run[@]}" --save "$tmp/out.st" --metrics "$tmp/out.st")
check "--save and --metrics naming one file: exit 2 (got $s)" is 2 "$s" said "name the same file"
s=$(st "$MNIST" "${run[@]}" --save "$tmp/tr.csv" --metrics "$tmp/a/train-labels-idx1-ubyte")
check "--metrics naming a data file: exit 2, the data intact (got $s)" \
    test "$s" = 2 -a "$(stat -c %s "$tmp/a/train-labels-idx1-ubyte")" = 264
check "... saying so" said "^ember-mnist: --metrics $tmp/a/train-labels-idx1-ubyte: that is one of the data files"
# all four outputs at once (the list of outputs once overflowed its array of three: the
# run stopped with "--batch 64 over 1987273518 process(es)")
s=$(st "$MNIST" "${run[@]}" --save "$tmp/o4.st" --metrics "$tmp/o4m.csv" \
    --predictions "$tmp/o4p.csv" --confusion "$tmp/o4c.csv")
check "--save, --metrics, --predictions and --confusion together: the run goes through (got $s)" \
    is 0 "$s" test -s "$tmp/o4.st" -a -s "$tmp/o4m.csv" -a -s "$tmp/o4p.csv" -a -s "$tmp/o4c.csv"
s=$(st "$MNIST" "${run[@]}" --save "$tmp/o5.st" --metrics "$tmp/o5m.csv" \
    --predictions "$tmp/o5p.csv" --confusion "$tmp/o5m.csv")
check "... the fourth naming the second's file: exit 2 (got $s)" is 2 "$s" \
    said "^ember-mnist: --metrics and --confusion name the same file ($tmp/o5m.csv)"
# --dot is an output too: checked before the run like the others (it was not: it overwrote
# the --load checkpoint with the graph, exit 0)
cp "$tmp/ref.st" "$tmp/dl.st"
s=$(st "$MNIST" "${run[@]}" --steps 1 --load "$tmp/dl.st" --dot "$tmp/dl.st")
check "--dot naming the --load file: exit 2 before training (got $s)" is 2 "$s" no_training
check "... saying which input it is; the checkpoint byte-identical" \
    bash -c "grep -q '^ember-mnist: --dot $tmp/dl.st: that is the file --load reads' '$tmp/out' && cmp -s '$tmp/ref.st' '$tmp/dl.st'"
s=$(st "$MNIST" "${run[@]}" --steps 1 --confusion "$tmp/g.txt" --dot "$tmp/g.txt")
check "--dot and --confusion one file: exit 2 (got $s)" is 2 "$s" \
    said "^ember-mnist: --confusion and --dot name the same file ($tmp/g.txt)"
s=$(st "$MNIST" "${run[@]}" --steps 1 --dot "$tmp/nodir/g.dot")
check "--dot into a missing directory: exit 2 at once, naming --dot (got $s)" is 2 "$s" \
    said "^ember-mnist: --dot $tmp/nodir/g.dot: the directory $tmp/nodir does not exist"
s=$(st "$MNIST" "${run[@]}" --steps 1 --save "$tmp/o6.st" --metrics "$tmp/o6m.csv" \
    --predictions "$tmp/o6p.csv" --confusion "$tmp/o6c.csv" --dot "$tmp/o6.dot")
check "all five outputs at once: exit 0, each written (got $s)" is 0 "$s" \
    test -s "$tmp/o6.st" -a -s "$tmp/o6m.csv" -a -s "$tmp/o6p.csv" -a -s "$tmp/o6c.csv" -a -s "$tmp/o6.dot"
# the --arch @FILE is an input too (it was not checked: --metrics overwrote the spec, exit 0)
echo "flatten fc10" >"$tmp/net.arch"
cp "$tmp/net.arch" "$tmp/net.keep"
s=$(st "$MNIST" "${run[@]}" --steps 1 --no-bn --arch @"$tmp/net.arch" --metrics "$tmp/net.arch")
check "--metrics naming the --arch @FILE: exit 2 before training (got $s)" is 2 "$s" no_training
check "... saying which input it is; the spec byte-identical" \
    bash -c "grep -q '^ember-mnist: --metrics $tmp/net.arch: that is the file --arch reads' '$tmp/out' && cmp -s '$tmp/net.keep' '$tmp/net.arch'"
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/ck.st" --save "$tmp/ck.st")
check "--save naming the --resume file is the next checkpoint of the same run: allowed (got $s)" \
    is 0 "$s" loads "$tmp/ck.st"
cp "$tmp/ref.st" "$tmp/ck.st"

# ---- 8, 9. a checkpoint that is well-formed but holds values no training writes ----------
bad() {   # bad NAME TENSOR INDEX VALUE: a copy of the reference checkpoint, one value changed
    cp "$tmp/ref.st" "$tmp/$1.st"
    python3 "$here/patch_st.py" "$tmp/$1.st" "$2" "$3" "$4"
}
bad nan 0.weight 5 nan
s=$(st "$MNIST" "${run[@]}" --load "$tmp/nan.st" --eval)
check "a NaN weight: --eval exits 2 instead of printing a chance accuracy (got $s)" test "$s" = 2
check "... naming the tensor and the index" said "tensor '0.weight' holds NaN at index 5"
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/nan.st")
check "... and --resume exits 2 too (got $s)" is 2 "$s" no_training
bad var 1.running_var 3 -0.5
s=$(st "$MNIST" "${run[@]}" --load "$tmp/var.st" --eval)
check "a negative running variance: exit 2 naming it (got $s)" \
    is 2 "$s" said "tensor '1.running_var' holds -0.5 at index 3"
bad inf optim.momentum_buffer 0 inf
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/inf.st")
check "an Inf in the momentum buffer: --resume exits 2 naming it (got $s)" \
    is 2 "$s" said "tensor 'optim.momentum_buffer' holds Inf at index 0"
bad nbt 1.num_batches_tracked 0 4611686018427387904
s=$(st "$MNIST" "${run[@]}" --load "$tmp/nbt.st" --eval)
check "num_batches_tracked = 2^62: exit 2 naming the counter (got $s)" \
    is 2 "$s" said "'1.num_batches_tracked' is 4611686018427387904, outside \[0, 9007199254740992\]"
bad nbt2 1.num_batches_tracked 0 -1
s=$(st "$MNIST" "${run[@]}" --load "$tmp/nbt2.st" --eval)
check "num_batches_tracked = -1: exit 2 (got $s)" is 2 "$s" said "'1.num_batches_tracked' is -1"
"$MNIST" "${run[@]}" --optim adam --steps 2 --save "$tmp/adam.st" >/dev/null
python3 "$here/patch_st.py" "$tmp/adam.st" optim.step 0 -5
s=$(st "$MNIST" "${run[@]}" --optim adam --steps 4 --resume "$tmp/adam.st")
check "an Adam step of -5: --resume exits 2 naming it, not a 'divergence' (got $s)" \
    is 2 "$s" said "'optim.step' is -5, outside \[0, "
check "... before training" no_training

# ---- 11. a closed stdout (| head) does not kill the run before its save ---------------------
"$MNIST" "${run[@]}" --steps 3 --save "$tmp/pipe.st" 2>"$tmp/pipe.err" | head -c 1 >/dev/null
s=${PIPESTATUS[0]}
check "ember-mnist ... | head -c 1: the run finishes and saves (exit $s: 1, stdout failed)" \
    is 1 "$s" loads "$tmp/pipe.st"
check "... and says stdout failed" grep -q "^ember-mnist: writing to standard output failed: Broken pipe" "$tmp/pipe.err"

# ---- 13. a FIFO at the metrics path: refused, no hang ---------------------------------------
mkfifo "$tmp/fifo.csv"
s=$(st "$MNIST" "${run[@]}" --epochs 2 --resume "$tmp/ck.st" --metrics "$tmp/fifo.csv")
check "--metrics at a FIFO on --resume: exit 2 at once, no hang (got $s)" is 2 "$s" no_training
check "... saying it is a FIFO" said "^ember-mnist: --metrics $tmp/fifo.csv: is a FIFO, not a regular file"

# ---- 14. a resume checks the exact options and the data ---------------------------------------
s=$(st "$MNIST" "${run[@]}" --epochs 2 --lr 0.05000001 --resume "$tmp/ck.st")
check "--resume with lr 0.05000001 for a run of lr 0.05: exit 2 (got $s)" test "$s" = 2
check "... naming both values" said "saved by a run with lr=0.05, this one has lr=0.05000001"
# (--mean/--std given: the normalization the run computes from its data, which the resume
# check compares too, is then the same on the other data)
norm=(--quiet --mean 0.5 --std 0.29)
"$MNIST" --data "$tmp/a" "${norm[@]}" --epochs 1 --save "$tmp/n.st" >/dev/null
python3 "$here/make_idx.py" "$tmp/b" --change 7 >/dev/null   # one pixel differs
s=$(st "$MNIST" --data "$tmp/b" "${norm[@]}" --epochs 2 --resume "$tmp/n.st")
check "--resume on data that differs in one pixel: exit 2 (got $s)" is 2 "$s" no_training
check "... saying the checkpoint was trained on other data" said "was trained on other data: train-images-idx3-ubyte 200720"
mkdir "$tmp/copy" && cp "$tmp/a/"* "$tmp/copy/" && gzip "$tmp/copy/"*
s=$(st "$MNIST" --data "$tmp/copy" "${norm[@]}" --epochs 2 --resume "$tmp/n.st")
check "--resume on the same data, gzipped, in another directory: allowed (got $s)" test "$s" = 0

# ---- a resume with nothing left to train says so (there was no test pass to report) -------------
s=$(st "$MNIST" "${run[@]}" --resume "$tmp/ref.st" --predictions "$tmp/end-p.csv")
check "--resume of a finished run, same --epochs: exit 0, the predictions written (got $s)" \
    test "$s" = 0 -a -s "$tmp/end-p.csv"
check "... saying there was nothing to train, not 'test accuracy nan%'" \
    bash -c "! grep -qi nan '$tmp/out' && grep -q '^done: nothing to train: the run was at step 4 already' '$tmp/out'"

# ---- --eval trains nothing: the training batch's limits do not apply to it ---------------------
s=$(st "$MNIST" "${run[@]}" --load "$tmp/ref.st" --eval --batch 1 --test-limit 3 --predictions "$tmp/b1p.csv")
check "--eval --batch 1 of a BatchNorm network (running statistics): exit 0, 3 predictions (got $s)" \
    is 0 "$s" test "$(wc -l <"$tmp/b1p.csv" 2>/dev/null)" = 3
"$MNIST" "${run[@]}" --load "$tmp/ref.st" --eval --test-limit 3 --predictions "$tmp/b64p.csv" >/dev/null 2>&1
check "... the same predictions as at --batch 64" cmp -s "$tmp/b1p.csv" "$tmp/b64p.csv"
s=$(st "$MNIST" "${run[@]}" --load "$tmp/ref.st" --eval --ghost-batch 1)
check "--eval --ghost-batch 1: exit 0 (got $s)" test "$s" = 0

# ---- a data file that is there but is no regular file is named as such -------------------------
mkdir "$tmp/fifodata" && cp "$tmp/a/"* "$tmp/fifodata/"
rm "$tmp/fifodata/t10k-labels-idx1-ubyte" && mkfifo "$tmp/fifodata/t10k-labels-idx1-ubyte"
s=$(st "$MNIST" --data "$tmp/fifodata" --quiet --epochs 1)
check "a FIFO where the test labels belong: exit 2, named as no regular file, not as missing (got $s)" \
    is 2 "$s" said "fifodata/t10k-labels-idx1-ubyte: not a regular file"

# ---- a split without examples is named, with its file --------------------------------------------
python3 "$here/make_idx.py" "$tmp/notest" --test 0 >/dev/null
s=$(st "$MNIST" --data "$tmp/notest" --quiet --epochs 1)
check "a test split of 0 images: exit 2 before training (got $s)" is 2 "$s" no_training
check "... naming the split and its file" said "the test split has no examples ($tmp/notest/t10k-images-idx3-ubyte)"

# ---- the reason a run cannot start names what would fix it ------------------------------------------
s=$(st "$MNIST" "${run[@]}" --steps 1 --ghost-batch 1)
check "--ghost-batch 1 with BatchNorm: exit 2 (got $s)" is 2 "$s" no_training
check "... the fix named is a --ghost-batch of 2, not a larger --batch (no batch helps)" \
    said "BatchNorm needs at least 2: a --ghost-batch of at least 2$"
s=$(st "$MNIST" "${run[@]}" --steps 1 --batch 3 --ghost-batch 2)
check "--batch 3 --ghost-batch 2 (passes of 2 and 1): exit 2, a larger --batch or --ghost-batch (got $s)" \
    is 2 "$s" said "BatchNorm needs at least 2: a larger --batch or --ghost-batch$"

s=$(st "$MNIST" "${run[@]}" --train-limit 1 --no-bn)
check "--train-limit 1 --no-bn (its one batch of one example dropped): exit 2 (got $s)" is 2 "$s" no_training
check "... not blaming a BatchNorm the network does not have, and naming --batch 1" \
    bash -c "! grep -q BatchNorm '$tmp/out' && grep -q 'a last batch of one example is dropped.*--batch 1' '$tmp/out'"
s=$(st "$MNIST" "${run[@]}" --train-limit 1 --no-bn --batch 1)
check "... with --batch 1 it trains (got $s)" test "$s" = 0

echo "$passed passed, $failed failed"
test "$failed" = 0
