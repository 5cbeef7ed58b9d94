#!/usr/bin/env bash
# tools/fetch-cifar10.sh — download the CIFAR-10 binary version, verify SHA-256, unpack.
#
#   tools/fetch-cifar10.sh [DIR]        (default: datasets)
#
# Unpacks DIR/cifar-10-batches-bin/ (data_batch_1.bin .. data_batch_5.bin, test_batch.bin,
# batches.meta.txt), which is where ember looks by default (em_cifar_default_dir) when run
# from the repository root with DIR = datasets; else set EMBER_CIFAR_DIR.
#
# Environment:
#   EMBER_CIFAR_URL     base URL of cifar-10-binary.tar.gz
#                       (default: https://www.cs.toronto.edu/~kriz, the dataset's home)
#   EMBER_CIFAR_SHA256  a checksum file in `sha256sum` format ("<hex>  <file name>") to
#                       use instead of the built-in value below
#
# Where the checksum comes from: the CIFAR page publishes only an MD5
# (c32a1d4ab5d03f1284b67883e8d87530). The SHA-256 below is the one in TensorFlow Datasets'
# URL checksum registry (url_checksums/cifar10.txt, file size 170052171 bytes), pinned
# identically by many independent projects. It was not recomputed here: this project's
# machines cannot download.
#
# The tarball is downloaded into a temporary directory inside DIR, checked, unpacked there,
# its content checked, and only then moved into place. On any failure nothing in DIR
# changes and the script exits non-zero with the reason.
set -euo pipefail

prog=fetch-cifar10
dir=${1:-datasets}
base=${EMBER_CIFAR_URL:-https://www.cs.toronto.edu/~kriz}
tarball=cifar-10-binary.tar.gz
builtin_sums="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd  $tarball"
members=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
         test_batch.bin batches.meta.txt)

die() { echo "$prog: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v sha256sum >/dev/null || die "sha256sum is missing (apt-get install coreutils)"

if [ -n "${EMBER_CIFAR_SHA256:-}" ]; then
    [ -r "$EMBER_CIFAR_SHA256" ] || die "cannot read the checksum file $EMBER_CIFAR_SHA256"
    sums=$(cat "$EMBER_CIFAR_SHA256")
    sums_from=$EMBER_CIFAR_SHA256
else
    sums=$builtin_sums
    sums_from="the built-in value (TensorFlow Datasets' registry)"
fi
want=$(awk -v f="$tarball" '{ name = $2; sub(/^\*/, "", name) } name == f { print tolower($1); exit }' <<<"$sums")
[ -n "$want" ] || die "no checksum for $tarball in $sums_from"

dest="$dir/cifar-10-batches-bin"
if [ -e "$dest" ]; then
    die "$dest already exists; remove it to fetch again"
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "$prog: downloading $base/$tarball"
curl -fsSL --retry 2 --connect-timeout 20 --max-time 1800 -o "$tmp/$tarball" "$base/$tarball" ||
    die "download of $base/$tarball failed (curl exit $?); nothing was installed"
got=$(sha256sum "$tmp/$tarball" | cut -d' ' -f1)
[ "$got" = "$want" ] ||
    die "checksum mismatch for $tarball: got $got, expected $want (from $sums_from); the download is corrupt or not the official file, nothing was installed"

mkdir "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x" --no-same-owner ||
    die "$tarball does not unpack; nothing was installed"
for m in "${members[@]}"; do
    [ -f "$tmp/x/cifar-10-batches-bin/$m" ] ||
        die "$tarball has no cifar-10-batches-bin/$m; nothing was installed"
done
mv "$tmp/x/cifar-10-batches-bin" "$dest"
echo "$prog: verified and unpacked into $dest (use EMBER_CIFAR_DIR=$dest)"
