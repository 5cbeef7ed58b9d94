#!/usr/bin/env bash
# tests/programs/test_inspect.sh — ember-inspect on every format ember writes or reads and on
# every committed fixture format (tests/fixtures), on damaged files (exit 2, the message
# naming the file), and --diff of two checkpoints.
#   usage: test_inspect.sh SRC EMBER_INSPECT EMBER_LOGITS MAKE_SHAPES EMBER_MNIST
# Checkpoints and .npy files come from ember-logits (no data needed), CIFAR files from
# make-shapes, idx files are written here byte by byte; Debian's Fashion-MNIST and a short
# ember-mnist run are used when the data is installed.
set -uo pipefail
SRC=$1 INSPECT=$2 LOGITS=$3 SHAPES=$4 MNIST=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
# a damaged FILE: exit 2, one message naming it and saying WHAT
damaged() {
    local file=$1 what=$2 s
    s=$(status "$INSPECT" "$file")
    check "$(basename "$file"): exit 2, the message names the file and says '$what'" \
        test "$s" = 2 -a -n "$(grep -F "ember-inspect: $file" "$tmp/err" | grep -F "$what")"
}
# the row of a tensor in the last output: its fields
row() { awk -v n="$1" '$1 == n' "$tmp/out"; }

# ---- checkpoints -----------------------------------------------------------------------------------
"$LOGITS" mnist-cnn --init 11 --train-steps 3 --save "$tmp/a.st" --input "$tmp/x.npy" --logits "$tmp/y.npy" >/dev/null
"$LOGITS" mnist-cnn --init 12 --train-steps 3 --save "$tmp/b.st" >/dev/null
"$LOGITS" cifar-cnn --init 11 --save "$tmp/c.st" >/dev/null
s=$(status "$INSPECT" "$tmp/a.st")
check "a checkpoint: exit 0" test "$s" = 0
check "... its metadata: the model" grep -q "^  model      mnist-cnn$" "$tmp/out"
check "... every tensor of mnist-cnn with BatchNorm, in state-dict order (20)" \
    test "$(grep -cE '^  [0-9]+\.' "$tmp/out")" = 20 -a "$(grep -E '^  [0-9]+\.' "$tmp/out" | head -1 | awk '{print $1}')" = 0.weight
check "... name, dtype, shape, 4 statistics and the non-finite count" \
    test "$(row 0.weight | awk '{print $2, $3, NF, $NF}')" = "F32 16x1x3x3 8 0"
check "... a counter shows its value" test "$(row 1.num_batches_tracked | awk '{print $2, $4, $5}')" = "I64 values 3"
check "... all finite" grep -q "^every value is finite$" "$tmp/out"

# a NaN written over the first value of the data section (0.weight, the first tensor)
cp "$tmp/a.st" "$tmp/nan.st"
hlen=$(od -An -tu8 -N8 "$tmp/nan.st" | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of="$tmp/nan.st" bs=1 seek=$((8 + hlen)) conv=notrunc status=none
s=$(status "$INSPECT" "$tmp/nan.st")
check "a checkpoint holding a NaN: exit 0, the tensor's non-finite count is 1" \
    test "$s" = 0 -a "$(row 0.weight | awk '{print $NF}')" = 1
check "... and the summary says so" grep -q "^1 values are NaN or infinite$" "$tmp/out"

s=$(status "$INSPECT" --diff "$tmp/a.st" "$tmp/a.st")
check "--diff of a checkpoint with itself: exit 0, nothing differs" \
    test "$s" = 0 -a -n "$(grep '^0 tensors differ, 20 are the same$' "$tmp/out")"
s=$(status "$INSPECT" --diff "$tmp/a.st" "$tmp/nan.st")
check "--diff against the NaN copy: exit 1, 0.weight differs in 1 of 144 values by inf" \
    test "$s" = 1 -a "$(row 0.weight | awk '{print $2, $4, $5, $6}')" = "inf 1 of 144" \
    -a -n "$(grep '^1 tensors differ, 19 are the same$' "$tmp/out")"
s=$(status "$INSPECT" --diff "$tmp/a.st" "$tmp/b.st")
check "--diff of two initializations: exit 1, every weight differs" \
    test "$s" = 1 -a "$(row 0.weight | awk '{print $4, $5}')" = "144 of"
check "... with the largest difference and its relative size" \
    awk -v r="$(row 0.weight)" 'BEGIN {split(r, f, " "); exit !(f[2] > 0 && f[3] > 0 && f[3] < 10)}'
s=$(status "$INSPECT" --diff --tolerance 1000 "$tmp/a.st" "$tmp/b.st")
check "--tolerance 1000: the same within it, exit 0" test "$s" = 0
s=$(status "$INSPECT" --diff "$tmp/a.st" "$tmp/c.st")
check "--diff of mnist-cnn and cifar-cnn: exit 1, shapes and missing tensors named" \
    test "$s" = 1 -a -n "$(grep '0.weight.*F32 16x1x3x3 against F32 32x3x3x3' "$tmp/out")" \
    -a -n "$(grep 'only in the second' "$tmp/out")"
check "... and the metadata: the model" grep -q "model      mnist-cnn -> cifar-cnn" "$tmp/out"

# ---- .npy ------------------------------------------------------------------------------------------
s=$(status "$INSPECT" "$tmp/x.npy" "$tmp/y.npy")
check ".npy files (ember-logits' input and logits): exit 0, dtype and shape" \
    test "$s" = 0 -a -n "$(grep 'x.npy: .npy version 1, dtype <f4 (float32), shape 8x1x28x28 (6272 values), C order' "$tmp/out")" \
    -a -n "$(grep 'y.npy: .npy version 1, dtype <f4 (float32), shape 8x10 (80 values)' "$tmp/out")"

# ---- idx, written byte by byte -------------------------------------------------------------------
printf '\x00\x00\x08\x01\x00\x00\x00\x06\x00\x01\x01\x02\x09\x01' >"$tmp/labels-idx1-ubyte"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03\x00\x0a\x14\x1e\x28\xff\x00\x00\x00\x00\x00\x00' >"$tmp/images-idx3-ubyte"
gzip -c "$tmp/labels-idx1-ubyte" >"$tmp/labels-idx1-ubyte.gz"
s=$(status "$INSPECT" "$tmp/labels-idx1-ubyte" "$tmp/labels-idx1-ubyte.gz" "$tmp/images-idx3-ubyte")
check "idx files, raw and gzip: exit 0" test "$s" = 0
check "... labels: the count, the classes and how many of each" \
    test -n "$(grep 'labels-idx1-ubyte: idx labels, 6 labels, classes 0..9' "$tmp/out")" \
    -a -n "$(grep '^  0 1  1 3  2 1  3 0  4 0  5 0  6 0  7 0  8 0  9 1$' "$tmp/out")"
check "... the gzip one is read the same and says gzip" grep -q "ubyte.gz: idx labels, gzip, 6 labels" "$tmp/out"
check "... images: count, size, pixel range and mean" \
    test -n "$(grep 'images-idx3-ubyte: idx images, 2 images of 2x3 pixels' "$tmp/out")" \
    -a -n "$(grep 'pixels 0..255, mean 29.58' "$tmp/out")"
head -c 13 "$tmp/labels-idx1-ubyte" >"$tmp/short-idx1-ubyte"
damaged "$tmp/short-idx1-ubyte" "truncated"
{ cat "$tmp/labels-idx1-ubyte"; printf 'x'; } >"$tmp/long-idx1-ubyte"
damaged "$tmp/long-idx1-ubyte" "unexpected bytes"
printf '\x00\x00\x0c\x01\x00\x00\x00\x01\x00\x00\x00\x00' >"$tmp/ints-idx1-ubyte"
damaged "$tmp/ints-idx1-ubyte" "0x00000c01"
head -c 20 "$tmp/labels-idx1-ubyte.gz" >"$tmp/cut.gz"
damaged "$tmp/cut.gz" "gzip"

# ---- CIFAR binary files and data directories --------------------------------------------------------
"$SHAPES" --train 20 --test 10 "$tmp/shapes" >/dev/null
s=$(status "$INSPECT" "$tmp/shapes/test_batch.bin")
check "a CIFAR file: exit 0, count and shape" \
    test "$s" = 0 -a -n "$(grep 'test_batch.bin: CIFAR-10 binary records: 10 images of 3x32x32, 10 classes' "$tmp/out")"
check "... one image per class, by the names of batches.meta.txt beside it" \
    grep -q "^  disk 1  ring 1  square 1" "$tmp/out"
s=$(status "$INSPECT" "$tmp/shapes")
check "a CIFAR-10 directory: both splits" \
    test "$s" = 0 -a "$(grep -c "images of 3x32x32" "$tmp/out")" = 2 -a -n "$(grep 'training set: 20 images' "$tmp/out")"
head -c 5000 "$tmp/shapes/test_batch.bin" >"$tmp/short.bin"
damaged "$tmp/short.bin" "not a multiple of the 3073-byte record"
mkdir -p "$tmp/nodata"
damaged "$tmp/nodata" "neither MNIST-format"
if [ -d /usr/share/datasets/fashion-mnist ]; then
    s=$(status "$INSPECT" /usr/share/datasets/fashion-mnist)
    check "Debian's Fashion-MNIST: 60000 and 10000 images, 6000 and 1000 per class, mean 0.2860" \
        test "$s" = 0 -a -n "$(grep 'training set: 60000 images of 1x28x28' "$tmp/out")" \
        -a -n "$(grep '^  t-shirt/top 6000  trouser 6000' "$tmp/out")" -a -n "$(grep 'mean 0.2860' "$tmp/out")"
fi

# ---- CSV files -------------------------------------------------------------------------------------------
hdr=epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged
printf '%s\n1,50,0.05,1.2,0.6,,,0.5,6400.0,0\n1,100,0.05,1,0.7,0.7,0.77,1,6400.0,0\n' "$hdr" >"$tmp/m.csv"
s=$(status "$INSPECT" "$tmp/m.csv")
check "a metrics file: rows, columns, epoch and step rows, the last row" \
    test "$s" = 0 -a -n "$(grep 'm.csv: an ember-mnist/-cifar metrics file, 2 rows of 10 columns' "$tmp/out")" \
    -a -n "$(grep '1 epoch rows (with a test pass), 1 --log-every rows' "$tmp/out")" \
    -a -n "$(grep 'last row: epoch=1 step=100 .* test_acc=0.77 ' "$tmp/out")"
{ cat "$tmp/m.csv"; printf '2,150,0.05'; } >"$tmp/half.csv"
s=$(status "$INSPECT" "$tmp/half.csv")
check "a metrics file with half a last row: exit 0, the line reported and not counted" \
    test "$s" = 0 -a -n "$(grep 'line 4 has no end' "$tmp/out")" -a -n "$(grep '2 rows of 10 columns' "$tmp/out")"
printf '%s\n1,50,0.05\n' "$hdr" >"$tmp/rag.csv"
damaged "$tmp/rag.csv" "line 2 has 3 fields, the header 10"
printf 'run,step,metric,value\n0,10,train_loss,2\n0,20,train_loss,1\n1,10,lr,0.1\n' >"$tmp/curves.csv"
s=$(status "$INSPECT" "$tmp/curves.csv")
check "ember-ablate curves: runs and rows per metric" \
    test "$s" = 0 -a -n "$(grep 'runs 0..1; rows per metric: train_loss 2 lr 1' "$tmp/out")"
printf '0,3,3,0.1,0.2,0.3,2.0\n1,0,3,0.5,0.1,0.1,0.9\n' >"$tmp/p.csv"
s=$(status "$INSPECT" "$tmp/p.csv")
check "predictions: classes and the share right" \
    test "$s" = 0 -a -n "$(grep '4 classes; label = predicted in 1 rows: 50.00%' "$tmp/out")"
printf 'true\\predicted,a,b\na,3,1\nb,0,4\n' >"$tmp/conf.csv"
s=$(status "$INSPECT" "$tmp/conf.csv")
check "a confusion matrix: the per-class table" \
    test "$s" = 0 -a -n "$(grep -E '^  a +75.00% +3 +4  b \(1\)$' "$tmp/out")"
printf 'true\\predicted,a,b\na,3,1\n' >"$tmp/conf-short.csv"
damaged "$tmp/conf-short.csv" "1 rows for 2 classes"

# a real run's files, when the data is there
if "$MNIST" --train-limit 640 --test-limit 320 --epochs 1 --quiet --metrics "$tmp/r.csv" \
        --save "$tmp/r.st" --predictions "$tmp/rp.csv" --confusion "$tmp/rc.csv" >/dev/null 2>&1; then
    s=$(status "$INSPECT" "$tmp/r.st" "$tmp/r.csv" "$tmp/rp.csv" "$tmp/rc.csv")
    check "the files of an ember-mnist run: exit 0" test "$s" = 0
    check "... the checkpoint's configuration and progress" \
        test -n "$(grep '^  config     model=cnn bn=1 .* seed=1 ' "$tmp/out")" -a -n "$(grep '^  progress   epoch 1, batch 0, step 10$' "$tmp/out")"
    check "... predictions of 320 images, confusion of 320" \
        test -n "$(grep 'rp.csv: predictions .*, 320 rows of 13 columns' "$tmp/out")" -a -n "$(grep '^per class (320 test images):' "$tmp/out")"
fi

# ---- the committed fixtures ------------------------------------------------------------------------------
for fx in "$SRC"/tests/fixtures/*.emfx; do
    n=$(od -An -tu4 -j4 -N4 "$fx" | tr -d ' ')
    s=$(status "$INSPECT" "$fx")
    check "fixture $(basename "$fx"): exit 0, its $n tensors" \
        test "$s" = 0 -a "$(grep -c '^  .* F[36][24] ' "$tmp/out")" = "$n" -a -n "$(grep "EMFX test fixture.*, $n tensors" "$tmp/out")"
done
head -c 3000 "$SRC/tests/fixtures/ops.emfx" >"$tmp/cut.emfx"
damaged "$tmp/cut.emfx" "truncated"
s=$(status "$INSPECT" "$SRC/tests/fixtures/state_dict_names.txt")
check "fixture state_dict_names.txt: 108 tensors, mnist-cnn with BatchNorm 20" \
    test "$s" = 0 -a -n "$(grep '108 tensors' "$tmp/out")" -a -n "$(grep -E '^  mnist-cnn bn=1 +20 tensors' "$tmp/out")"

# ---- damaged checkpoints and .npy files, as the loaders name them ------------------------------------------
head -c 3000 "$tmp/a.st" >"$tmp/trunc.st"
damaged "$tmp/trunc.st" "truncated"
printf 'garbage' >"$tmp/garbage.st"
damaged "$tmp/garbage.st" "too short for the 8-byte header length"
head -c 200 "$tmp/y.npy" >"$tmp/short.npy"
damaged "$tmp/short.npy" "truncated"
sed 's/<f4/>f4/' "$tmp/y.npy" >"$tmp/big.npy"
damaged "$tmp/big.npy" "big-endian"
printf '\x01\x02\x03 binary' >"$tmp/blob"
damaged "$tmp/blob" "not a file ember writes or reads"
: >"$tmp/empty"
damaged "$tmp/empty" "empty"
damaged "$tmp/missing.st" "cannot open"
mkfifo "$tmp/fifo.csv"
s=$(status timeout 20 "$INSPECT" "$tmp/fifo.csv" "$tmp/m.csv")
check "a FIFO (nobody writing to it): exit 2 at once, 'not a regular file', the next file shown (got $s)" \
    test "$s" = 2 -a -n "$(grep -F "ember-inspect: $tmp/fifo.csv: not a regular file" "$tmp/err")" \
    -a -n "$(grep 'm.csv: an ember' "$tmp/out")"
head -1 "$tmp/m.csv" >"$tmp/endless.csv"   # then 300 MB of NUL bytes, sparse: no disk used
truncate -s 300M "$tmp/endless.csv"
s=$(status /usr/bin/time -f "rss %M" "$INSPECT" "$tmp/endless.csv")
rss=$(awk '/^rss/ {print $2}' "$tmp/err")
check "a metrics file whose line 2 is 300 MB: exit 2 naming the line, in under 64 MB (got $s, ${rss:-?} KB)" \
    test "$s" = 2 -a -n "$(grep 'endless.csv: line 2 is not a CSV row' "$tmp/err")" -a "${rss:-999999}" -lt 65536
"$INSPECT" "$tmp/m.csv" "$tmp/a.st" >/dev/full 2>"$tmp/err"; s=$?
check "standard output on a full disk (/dev/full): exit 1, saying so, not 0 with the report lost (got $s)" \
    test "$s" = 1 -a -n "$(grep '^ember-inspect: writing to standard output failed: No space left on device' "$tmp/err")"
"$INSPECT" --diff "$tmp/a.st" "$tmp/a.st" >/dev/full 2>"$tmp/err"; s=$?
check "... with --diff of the same file too: exit 1, not 0 (got $s)" \
    test "$s" = 1 -a -n "$(grep 'writing to standard output failed' "$tmp/err")"
mkdir "$tmp/fifoshapes" && cp "$tmp/shapes/"* "$tmp/fifoshapes/"
rm "$tmp/fifoshapes/test_batch.bin" && mkfifo "$tmp/fifoshapes/test_batch.bin"
s=$(status timeout 20 "$INSPECT" "$tmp/fifoshapes")
check "a CIFAR-format directory whose test batch is a FIFO: exit 2 at once naming it (got $s)" \
    test "$s" = 2 -a -n "$(grep -F "fifoshapes/test_batch.bin: not a regular file" "$tmp/err")"
s=$(status "$INSPECT" "$tmp/missing.st" "$tmp/m.csv")
check "several files, one missing: exit 2, the others still shown" \
    test "$s" = 2 -a -n "$(grep 'm.csv: an ember' "$tmp/out")"

# ---- whatever the fuzzers' corpora hold: a report or exit 2, never a crash -------------------------------
other=0
for f in "$SRC"/tests/fuzz/corpus/{idx,cifar,safetensors,metrics}/*; do
    "$INSPECT" "$f" >/dev/null 2>&1
    s=$?
    [ "$s" = 0 ] || [ "$s" = 2 ] || { other=$((other + 1)); echo "    $f: exit $s"; }
done
check "every file of the idx, cifar, safetensors and metrics fuzz corpora: exit 0 or 2" test "$other" = 0

# ---- bad arguments ---------------------------------------------------------------------------------------------
for args in "" "--diff $tmp/a.st" "--tolerance 1 $tmp/a.st" "--diff --tolerance -1 $tmp/a.st $tmp/b.st" \
            "--frobnicate $tmp/a.st"; do
    s=$(status "$INSPECT" $args)
    check "bad arguments '$args' exit 2 with a message" test "$s" = 2 -a -s "$tmp/err"
done
s=$(status "$INSPECT" --diff "$tmp/a.st" "$tmp/trunc.st")
check "--diff with a damaged checkpoint: exit 2 naming it" test "$s" = 2 -a -n "$(grep 'trunc.st' "$tmp/err")"

echo "$passed passed, $failed failed"
test "$failed" = 0
