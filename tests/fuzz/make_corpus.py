#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py — writes the hand-made seeds of the committed corpora
(corpus/idx, corpus/cifar, corpus/options, corpus/metrics, corpus/npy) in the input layouts
that fuzz_idx.c, fuzz_cifar.c, fuzz_options.c, fuzz_metrics.c and fuzz_npy.c describe.
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


def argv_seed(program, *args):
    """fuzz_options.c: byte 0 = program (0 ember-mnist, 1 ember-cifar), NUL-separated args"""
    return bytes([program]) + b"\0".join(a.encode() for a in args)


write("options", "defaults", argv_seed(0))
write("options", "mlp-run", argv_seed(0, "--model", "mlp", "--act", "tanh", "--no-bn", "--lr", "0.1",
                                       "--batch", "60", "--steps", "500", "--seed", "7"))
write("options", "bn-options", argv_seed(0, "--bn-momentum=0.99", "--bn-eps", "1e-3",
                                          "--bn-backward", "frozen-stats", "--init", "normal",
                                          "--init-scale", "0.01"))
write("options", "files", argv_seed(0, "--metrics", "m.csv", "--log-every", "10", "--save", "a.st",
                                     "--save-every", "1", "--predictions", "p.csv", "--quiet"))
write("options", "eval", argv_seed(0, "--load", "a.st", "--eval", "--test-limit", "100"))
write("options", "resume", argv_seed(0, "--resume", "a.st", "--epochs", "4", "--train-limit", "640"))
write("options", "optim", argv_seed(0, "--optim", "adamw", "--weight-decay", "0.01", "--schedule",
                                     "step", "--warmup", "100", "--momentum", "0.5", "--nesterov"))
write("options", "cifar-norm", argv_seed(1, "--synthetic", "--mean", "0.5,0.4,0.3", "--std",
                                          "0.2,0.2,0.2", "--augment", "--threads", "2"))
write("options", "cifar-data", argv_seed(1, "--data", "/tmp/cifar", "--no-augment", "--no-shuffle"))
write("options", "dataset", argv_seed(0, "--dataset", "mnist", "--data", "/tmp/mnist"))
write("options", "bad-number", argv_seed(0, "--lr", "0.1x"))
write("options", "bad-name", argv_seed(0, "--act", "softplus"))
write("options", "missing-value", argv_seed(0, "--batch"))
write("options", "grouped-short", argv_seed(0, "-hq"))
write("options", "help", argv_seed(1, "--help"))
write("options", "extra", argv_seed(0, "--epochs", "3", "extra"))
write("options", "resources", argv_seed(0, "--mem-limit", "1.5G", "--prefetch", "--threads", "1"))
write("options", "bad-size", argv_seed(1, "--mem-limit", "12x"))

HEADER = b"epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n"


def metrics_seed(last_step, text):
    """fuzz_metrics.c: 4 bytes last_step (little-endian, signed), then the file"""
    return struct.pack("<i", last_step) + text


rows = (b"1,10,0.05,2.1,0.2,,,0.5,1280.0,0\n1,20,0.05,1.9,0.3,,,0.5,1280.0,0\n"
        b"1,30,0.05,1.7,0.4,1.8,0.35,0.6,1066.7,0\n2,40,0.0375,1.5,0.5,,,0.5,1280.0,0\n")
write("metrics", "keep-all", metrics_seed(100, HEADER + rows))
write("metrics", "cut-at-20", metrics_seed(20, HEADER + rows))
write("metrics", "half-row", metrics_seed(100, HEADER + rows + b"2,50,0.03,1.4,"))
write("metrics", "diverged", metrics_seed(100, HEADER + b"1,7,10000,nan,0.1,,,0.1,100.0,1\n"))
write("metrics", "no-header", metrics_seed(30, rows))
write("metrics", "empty", metrics_seed(0, b""))
write("metrics", "garbage", metrics_seed(5, b"not,a,csv\n\n,,,,,,,,,\n-1,-2,3,4,5,6,7,8,9,0\n"))


def npy(descr, shape, data, version=1, fortran=False):
    """a .npy file: the magic, the version, the header padded to 64 bytes, the data"""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    pre = 10 if version == 1 else 12
    text += " " * ((-(pre + len(text) + 1)) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode() + data


write("npy", "f4-2x3", npy("<f4", (2, 3), struct.pack("<6f", 0, 1.5, -2, 3.25, 1e30, -0.0)))
write("npy", "f8-scalar", npy("<f8", (), struct.pack("<d", 0.1)))
write("npy", "i8-v2", npy("<i8", (3,), struct.pack("<3q", -5, 0, 1 << 40), version=2))
write("npy", "u1-fortran", npy("|u1", (2, 2), bytes([0, 7, 255, 1]), fortran=True))
write("npy", "f2-inf-nan", npy("<f2", (4,), struct.pack("<4H", 0x3C00, 0x7C00, 0x7E00, 0x0001)))
write("npy", "b1-empty", npy("|b1", (0, 4), b""))
write("npy", "i2", npy("<i2", (2,), struct.pack("<2h", -1, 2)))
write("npy", "big-endian", npy(">f4", (1,), struct.pack(">f", 1)))
write("npy", "short-data", npy("<f4", (4,), struct.pack("<3f", 1, 2, 3)))
write("npy", "bad-dict", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4' \n")
