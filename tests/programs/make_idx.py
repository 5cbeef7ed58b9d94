#!/usr/bin/env python3
"""tests/programs/make_idx.py DIR [options] — a small MNIST-format dataset for the tests:
raw idx files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
t10k-labels-idx1-ubyte of random pixels and labels 0..9 (the same for the same seed).

  --train N, --test N        examples per split (256, 64)
  --size H W                 the images of both splits (28 28)
  --test-size H W            the test images only (default: --size)
  --seed S                   (1)
  --change K                 add 1 to pixel 0 of training image K: the same files, but for
                             one bit of content
"""
import argparse
import os
import random
import struct

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--train", type=int, default=256)
ap.add_argument("--test", type=int, default=64)
ap.add_argument("--size", type=int, nargs=2, default=[28, 28])
ap.add_argument("--test-size", type=int, nargs=2)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--change", type=int)
a = ap.parse_args()
rng = random.Random(a.seed)
os.makedirs(a.dir, exist_ok=True)


def write(prefix, n, h, w, change=None):
    pixels = bytearray(rng.getrandbits(8) for _ in range(n * h * w))
    if change is not None:
        pixels[change * h * w] = (pixels[change * h * w] + 1) % 256
    labels = bytes(rng.randrange(10) for _ in range(n))
    with open(os.path.join(a.dir, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, h, w) + pixels)
    with open(os.path.join(a.dir, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)


write("train", a.train, *a.size, change=a.change)
write("t10k", a.test, *(a.test_size or a.size))
