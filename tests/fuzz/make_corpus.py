#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py — writes the hand-made seeds of the committed corpora
(corpus/idx, corpus/cifar) in the input layouts that fuzz_idx.c and fuzz_cifar.c describe.
The other (hash-named) files there are inputs the fuzzers found that reach new code, merged
in with `fuzz_NAME -merge=1 tests/fuzz/corpus/NAME build-fuzz/corpus-NAME`."""
import gzip
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def idx_images(n, rows, cols):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes((i * 31 + k * 7) % 256
                                                              for i in range(n) for k in range(rows * cols))


def idx_labels(n, classes=10):
    return struct.pack(">II", 0x801, n) + bytes(i % classes for i in range(n))


def idx_seed(mode, images, labels):
    return bytes([mode]) + struct.pack("<I", len(images)) + images + labels


def cifar_records(n, label_bytes):
    out = b""
    for i in range(n):
        out += bytes((i + 3 * j) % 10 for j in range(label_bytes))
        out += bytes((i * 13 + k * 5) % 256 for k in range(3072))
    return out


def write(sub, name, data):
    os.makedirs(os.path.join(here, "corpus", sub), exist_ok=True)
    with open(os.path.join(here, "corpus", sub, name), "wb") as f:
        f.write(data)


img, lab = idx_images(3, 4, 4), idx_labels(3)
write("idx", "mem-3x4x4", idx_seed(0, img, lab))
write("idx", "mem-inferred-classes", idx_seed(2, idx_images(2, 2, 3), idx_labels(2, 5)))
write("idx", "file-raw", idx_seed(1, img, lab))
write("idx", "file-gzip", idx_seed(1, gzip.compress(img, mtime=0), gzip.compress(lab, mtime=0)))
write("idx", "mem-empty", idx_seed(0, idx_images(0, 28, 28), idx_labels(0)))
write("idx", "mem-bad-magic", idx_seed(0, lab, img))

meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
recs = cifar_records(2, 1)
write("cifar", "mem-cifar10", bytes([0, 0, 0]) + recs)
write("cifar", "mem-cifar100-fine", bytes([0b10110, 0, 0]) + cifar_records(2, 2))
write("cifar", "dir-with-meta", bytes([1]) + struct.pack("<H", len(recs)) + recs + meta)
write("cifar", "dir-no-meta", bytes([1]) + struct.pack("<H", len(recs)) + recs)
write("cifar", "mem-short", bytes([0, 0, 0]) + recs[:-1])
