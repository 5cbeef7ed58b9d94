#!/usr/bin/env bash
# tests/fetch/test-fetch.sh — the fetch scripts against a local HTTP server.
#
# Generates small stand-ins for the MNIST .gz files and the CIFAR-10 tarball plus a
# checksum list, serves them with `python3 -m http.server` on 127.0.0.1 (a port the
# kernel picks), and checks that tools/fetch-mnist.sh and tools/fetch-cifar10.sh
#   - download, verify and unpack a good copy (byte-identical results),
#   - reject a corrupted copy with a non-zero exit, a "checksum mismatch" message, and
#     nothing installed,
#   - reject the stand-ins under their built-in (official) checksums,
#   - fail cleanly on a missing file (HTTP 404).
# Only 127.0.0.1; every step has a time limit; the server is killed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# ---- the served files ---------------------------------------------------------------
python3 - "$tmp" <<'PY'
import gzip, io, os, struct, sys, tarfile
tmp = sys.argv[1]
for d in ("serve/mnist", "serve/mnist-bad", "serve/cifar", "serve/cifar-bad", "orig/mnist", "orig/cifar"):
    os.makedirs(os.path.join(tmp, d), exist_ok=True)
def images(n):
    return struct.pack(">IIII", 0x803, n, 28, 28) + bytes((i * 7 + k) % 256 for i in range(n) for k in range(784))
def labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))
raw = {"train-images-idx3-ubyte": images(20), "train-labels-idx1-ubyte": labels(20),
       "t10k-images-idx3-ubyte": images(5), "t10k-labels-idx1-ubyte": labels(5)}
for name, data in raw.items():
    open(os.path.join(tmp, "orig/mnist", name), "wb").write(data)
    gz = gzip.compress(data, mtime=0)
    open(os.path.join(tmp, "serve/mnist", name + ".gz"), "wb").write(gz)
    if name == "t10k-images-idx3-ubyte":  # one flipped byte in the middle
        gz = bytearray(gz); gz[len(gz) // 2] ^= 0x01; gz = bytes(gz)
    open(os.path.join(tmp, "serve/mnist-bad", name + ".gz"), "wb").write(gz)
members = {f"data_batch_{b}.bin": bytes([b % 10]) + bytes(range(256)) * 12 for b in range(1, 6)}
members["test_batch.bin"] = bytes([3]) + bytes(3072)
members["batches.meta.txt"] = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for name, data in members.items():
        open(os.path.join(tmp, "orig/cifar", name), "wb").write(data)
        info = tarfile.TarInfo("cifar-10-batches-bin/" + name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
tgz = buf.getvalue()
open(os.path.join(tmp, "serve/cifar/cifar-10-binary.tar.gz"), "wb").write(tgz)
bad = bytearray(tgz); bad[-100] ^= 0xff
open(os.path.join(tmp, "serve/cifar-bad/cifar-10-binary.tar.gz"), "wb").write(bytes(bad))
PY
(cd "$tmp/serve/mnist" && sha256sum -- *.gz) >"$tmp/mnist.sha256"
(cd "$tmp/serve/cifar" && sha256sum -- cifar-10-binary.tar.gz) >"$tmp/cifar.sha256"

# ---- the server ---------------------------------------------------------------------
# the log exists before the server starts: the background shell opens it only after the
# fork, and a first read that came sooner failed the script (seen once in CI)
: >"$tmp/server.log"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$tmp/serve" >>"$tmp/server.log" 2>&1 &
server=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/server.log" >&2; echo "FAIL: the HTTP server did not start" >&2; exit 1; }
url="http://127.0.0.1:$port"

run() {  # run a fetch script with a time limit; output in $tmp/out.txt
    timeout 60 env "$@" >"$tmp/out.txt" 2>&1
}

# ---- MNIST ----------------------------------------------------------------------------
if run EMBER_MNIST_URL="$url/mnist" EMBER_MNIST_SHA256="$tmp/mnist.sha256" \
    tools/fetch-mnist.sh "$tmp/m-good"; then
    same=1
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        cmp -s "$tmp/orig/mnist/$f" "$tmp/m-good/$f" || same=0
    done
    if [ $same = 1 ] && [ -z "$(ls -A "$tmp/m-good" | grep -v -e '-ubyte$')" ]; then
        ok "fetch-mnist: good download verified and unpacked, byte-identical, no leftovers"
    else
        fail "fetch-mnist: unpacked files differ or leftovers: $(ls -A "$tmp/m-good")"
    fi
else
    fail "fetch-mnist: good download failed: $(cat "$tmp/out.txt")"
fi

if run EMBER_MNIST_URL="$url/mnist-bad" EMBER_MNIST_SHA256="$tmp/mnist.sha256" \
    tools/fetch-mnist.sh "$tmp/m-bad"; then
    fail "fetch-mnist: a corrupted download was accepted"
elif grep -q "checksum mismatch for t10k-images-idx3-ubyte.gz" "$tmp/out.txt" &&
     [ -z "$(ls -A "$tmp/m-bad")" ]; then
    ok "fetch-mnist: corrupted download rejected: $(grep mismatch "$tmp/out.txt" | cut -c1-90)..."
else
    fail "fetch-mnist: corrupted download: unclear message or files left: $(cat "$tmp/out.txt"; ls -A "$tmp/m-bad")"
fi

if run EMBER_MNIST_URL="$url/mnist" tools/fetch-mnist.sh "$tmp/m-official"; then
    fail "fetch-mnist: stand-in files passed the built-in official checksums"
elif grep -q "checksum mismatch.*built-in" "$tmp/out.txt"; then
    ok "fetch-mnist: built-in official checksums reject the stand-ins"
else
    fail "fetch-mnist: built-in checksums: $(cat "$tmp/out.txt")"
fi

if run EMBER_MNIST_URL="$url/nothing-here" EMBER_MNIST_SHA256="$tmp/mnist.sha256" \
    tools/fetch-mnist.sh "$tmp/m-404"; then
    fail "fetch-mnist: a missing file (404) was not an error"
elif grep -q "download of .* failed" "$tmp/out.txt"; then
    ok "fetch-mnist: HTTP 404 reported"
else
    fail "fetch-mnist: 404: $(cat "$tmp/out.txt")"
fi

# ---- CIFAR-10 -------------------------------------------------------------------------
if run EMBER_CIFAR_URL="$url/cifar" EMBER_CIFAR_SHA256="$tmp/cifar.sha256" \
    tools/fetch-cifar10.sh "$tmp/c-good"; then
    if diff -r "$tmp/orig/cifar" "$tmp/c-good/cifar-10-batches-bin" >/dev/null &&
       [ "$(ls -A "$tmp/c-good")" = cifar-10-batches-bin ]; then
        ok "fetch-cifar10: good download verified and unpacked, byte-identical, no leftovers"
    else
        fail "fetch-cifar10: unpacked content differs: $(ls -AR "$tmp/c-good")"
    fi
    if run EMBER_CIFAR_URL="$url/cifar" EMBER_CIFAR_SHA256="$tmp/cifar.sha256" \
        tools/fetch-cifar10.sh "$tmp/c-good"; then
        fail "fetch-cifar10: overwrote an existing directory"
    elif grep -q "already exists" "$tmp/out.txt"; then
        ok "fetch-cifar10: an existing directory is left alone"
    else
        fail "fetch-cifar10: second run: $(cat "$tmp/out.txt")"
    fi
else
    fail "fetch-cifar10: good download failed: $(cat "$tmp/out.txt")"
fi

if run EMBER_CIFAR_URL="$url/cifar-bad" EMBER_CIFAR_SHA256="$tmp/cifar.sha256" \
    tools/fetch-cifar10.sh "$tmp/c-bad"; then
    fail "fetch-cifar10: a corrupted download was accepted"
elif grep -q "checksum mismatch for cifar-10-binary.tar.gz" "$tmp/out.txt" &&
     [ -z "$(ls -A "$tmp/c-bad")" ]; then
    ok "fetch-cifar10: corrupted download rejected, nothing installed"
else
    fail "fetch-cifar10: corrupted download: $(cat "$tmp/out.txt"; ls -A "$tmp/c-bad")"
fi

if run EMBER_CIFAR_URL="$url/cifar" tools/fetch-cifar10.sh "$tmp/c-official"; then
    fail "fetch-cifar10: the stand-in passed the built-in official checksum"
elif grep -q "checksum mismatch.*built-in" "$tmp/out.txt"; then
    ok "fetch-cifar10: built-in official checksum rejects the stand-in"
else
    fail "fetch-cifar10: built-in checksum: $(cat "$tmp/out.txt")"
fi

echo "fetch: $passed passed, $failed failed"
[ "$failed" = 0 ]
