#!/usr/bin/env bash
# tools/fetch-mnist.sh — download MNIST, verify SHA-256, unpack into a data directory.
#
#   tools/fetch-mnist.sh [DIR]          (default: datasets/mnist)
#
# Then: EMBER_MNIST_DIR=DIR <program>, or pass DIR to em_mnist_load.
#
# Environment:
#   EMBER_MNIST_URL     base URL of the four files (default: the PyTorch project's mirror,
#                       https://ossci-datasets.s3.amazonaws.com/mnist; the original site
#                       http://yann.lecun.com/exdb/mnist serves the same files)
#   EMBER_MNIST_SHA256  a checksum file in `sha256sum` format ("<hex>  <file name>", one a
#                       line) to use instead of the built-in list below
#
# Where the checksums come from: the MNIST page publishes none. The SHA-256 values below
# are those of TensorFlow Datasets' URL checksum registry (url_checksums/mnist.txt), the
# same values that Keras, torchvision-based projects and many others pin for these four
# .gz files. They were not recomputed here: this project's machines cannot download.
#
# Every file is downloaded into a temporary directory next to DIR, checked, and only when
# all four match are they decompressed and moved into DIR. On any failure nothing in DIR
# changes and the script exits non-zero with the reason.
set -euo pipefail

prog=fetch-mnist
dir=${1:-datasets/mnist}
base=${EMBER_MNIST_URL:-https://ossci-datasets.s3.amazonaws.com/mnist}
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
builtin_sums="\
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz"

die() { echo "$prog: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v sha256sum >/dev/null || die "sha256sum is missing (apt-get install coreutils)"

if [ -n "${EMBER_MNIST_SHA256:-}" ]; then
    [ -r "$EMBER_MNIST_SHA256" ] || die "cannot read the checksum file $EMBER_MNIST_SHA256"
    sums=$(cat "$EMBER_MNIST_SHA256")
    sums_from=$EMBER_MNIST_SHA256
else
    sums=$builtin_sums
    sums_from="the built-in list (TensorFlow Datasets' registry)"
fi

expected() {  # the checksum of file $1 in $sums
    awk -v f="$1" '{ name = $2; sub(/^\*/, "", name) } name == f { print tolower($1); exit }' <<<"$sums"
}

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for f in "${files[@]}"; do
    want=$(expected "$f")
    [ -n "$want" ] || die "no checksum for $f in $sums_from"
    echo "$prog: downloading $base/$f"
    curl -fsSL --retry 2 --connect-timeout 20 --max-time 900 -o "$tmp/$f" "$base/$f" ||
        die "download of $base/$f failed (curl exit $?); nothing was installed"
    got=$(sha256sum "$tmp/$f" | cut -d' ' -f1)
    [ "$got" = "$want" ] ||
        die "checksum mismatch for $f: got $got, expected $want (from $sums_from); the download is corrupt or not the official file, nothing was installed"
done

for f in "${files[@]}"; do
    gzip -dc "$tmp/$f" >"$tmp/${f%.gz}" || die "$f does not decompress; nothing was installed"
done
for f in "${files[@]}"; do mv -f "$tmp/${f%.gz}" "$dir/${f%.gz}"; done
echo "$prog: verified and unpacked into $dir (use EMBER_MNIST_DIR=$dir)"
