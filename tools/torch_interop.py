#!/usr/bin/python3
"""Move weights between ember and PyTorch through safetensors, and prove it with logits.

Needs Debian's python3-torch (/usr/bin/python3). The safetensors package is not in Debian,
so this file reads and writes the format itself (read_safetensors / write_safetensors).

    tools/torch_interop.py --ember build/examples/ember-logits            # both directions
    tools/torch_interop.py --ember ... load CKPT MODEL [--no-bn]          # ember -> PyTorch
    tools/torch_interop.py export MODEL OUT.safetensors [--no-bn]        # PyTorch -> ember
    tools/torch_interop.py predict CKPT PRED.csv --data DIR [--mean M --std S]
        # an ember-mnist --save checkpoint in PyTorch: its predictions on the test set
        # against ember-mnist --predictions PRED.csv
    tools/torch_interop.py train OUT.safetensors --data DIR [--epochs N] [--mean M --std S]
        # train mnist-cnn in PyTorch on MNIST-format data, export it, print test accuracy
        # (then: ember-mnist --load OUT.safetensors --eval gives the same accuracy)

Both directions, for each reference model (tools/fixtures/reference_models.py, the PyTorch
specification that ember's zoo mirrors):
  ember -> PyTorch  ember-logits initializes the model, trains 3 SGD steps (so weights,
                    running statistics and num_batches_tracked all move), saves a model-only
                    checkpoint and writes an input batch and its logits (.npy). PyTorch loads
                    the checkpoint into the nn.Sequential with load_state_dict(strict=True)
                    and computes the logits of the same batch in eval mode.
  PyTorch -> ember  PyTorch initializes the model (seeded), trains 3 SGD steps, exports its
                    state_dict to safetensors; ember-logits loads it and writes its logits on
                    its batch; PyTorch computes its own logits on that batch.
Agreement is measured as max |ember - torch| / max |torch| (float32 on both sides).
And for two networks of the architecture language (ARCH_SPEC: residual blocks, GroupNorm,
LayerNorm, BatchNorm; RENORM_SPEC: Batch Renorm on images and on features, a class of
--print-torch's own): ember-mnist --print-torch gives the PyTorch module; PyTorch's weights
go to ember, whose eval logits must match to 1e-5, then one SGD step on both sides on the
same batch, after which every tensor of the state and the logits must match to 1e-5.
Exit status: 0 all agree, 1 a mismatch or failure, 77 PyTorch not available (a skip).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # meson treats 77 as "skipped"
    print(f"SKIPPED: {e} (install Debian's python3-torch)")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from reference_models import build  # noqa: E402

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
          "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}
TOL = 1e-4


def read_safetensors(path):
    """-> ({name: tensor}, {metadata}). u64 header length, JSON header, raw LE data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data, out = raw[8 + n:], {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        buf = bytearray(data[begin:end]) or bytearray(1)      # frombuffer needs >= 1 byte
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]])[:int(np.prod(info["shape"]))]
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def write_safetensors(path, tensors, meta):
    """Tensors in order, the header padded with spaces to 8 bytes; tmp file, then rename."""
    header, blobs, at = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def rel_err(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def torch_logits(model, x_path):
    x = torch.from_numpy(np.load(x_path))
    model.eval()
    with torch.no_grad():
        return model(x).numpy()


def ember_to_torch(ember, name, bn, work):
    ckpt, xp, yp = (os.path.join(work, f) for f in ("e.safetensors", "x.npy", "y.npy"))
    flags = [] if bn else ["--no-bn"]
    subprocess.run([ember, name, *flags, "--init", "11", "--train-steps", "3", "--save", ckpt,
                    "--input", xp, "--logits", yp], check=True, stdout=subprocess.DEVNULL)
    state, meta = read_safetensors(ckpt)
    model, _ = build(name, bn=bn)
    model.load_state_dict(state, strict=True)        # every name, shape and dtype must fit
    err = rel_err(np.load(yp), torch_logits(model, xp))
    nbt = [int(v) for k, v in state.items() if k.endswith("num_batches_tracked")]
    return err, f"{len(state)} tensors, num_batches_tracked {sorted(set(nbt))}, " \
                f"metadata model={meta.get('model')!r}"


def torch_export(name, bn, path, seed=5, steps=3):
    torch.manual_seed(seed)
    model, shape = build(name, bn=bn)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):                           # move weights and running statistics
        x = torch.randn(8, *shape)
        loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 10, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    write_safetensors(path, model.state_dict(),
                      {"format": "pt", "framework": "pytorch", "model": name,
                       "config": f"torch.manual_seed({seed}), {steps} SGD steps"})
    return model


def torch_to_ember(ember, name, bn, work):
    ckpt, xp, yp = (os.path.join(work, f) for f in ("t.safetensors", "x.npy", "y.npy"))
    model = torch_export(name, bn, ckpt)
    flags = [] if bn else ["--no-bn"]
    subprocess.run([ember, name, *flags, "--load", ckpt, "--input", xp, "--logits", yp],
                   check=True, stdout=subprocess.DEVNULL)
    err = rel_err(np.load(yp), torch_logits(model, xp))
    return err, f"{len(model.state_dict())} tensors exported by PyTorch {torch.__version__}"


# a spec with residual blocks (one of its own, one of He et al.'s with its projection),
# GroupNorm, LayerNorm on images and on features, and BatchNorm
ARCH_SPEC = ("conv16 gn:4 relu res( conv16 ln relu conv16 ln ) relu res32s2 gap "
             "fc32 ln relu fc10")
# Batch Renorm, which --print-torch writes as a class of its own, on images and on features
RENORM_SPEC = ("conv16 brn relu res( conv16 brn relu conv16 brn ) relu res32s2 gap fc32 brn "
               "relu fc10")
ARCH_TOL = 1e-5


def arch_roundtrip(ember, work, spec=ARCH_SPEC):
    """--print-torch's module against ember on one spec: PyTorch initializes it and takes 2
    SGD steps (running statistics move), exports it; ember's eval logits on a batch must
    match, then both take one SGD step on the batch ember drew (lr 0.05, momentum 0.9) and
    every tensor of the state and the logits after it must match. -> [(what, err)]"""
    mnist = os.path.join(os.path.dirname(ember), "ember-mnist")
    src = subprocess.run([mnist, "--arch", spec, "--print-torch"], check=True,
                         capture_output=True, text=True).stdout
    scope = {}
    exec(compile(src, "print-torch", "exec"), scope)             # noqa: S102 (our own output)
    torch.manual_seed(3)
    model = scope["build"]()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 1, 28, 28)),
                                                 torch.randint(0, 10, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    t0, t1, x, y0, y1, xt, lt = (os.path.join(work, f) for f in (
        "a0.safetensors", "a1.safetensors", "ax.npy", "ay0.npy", "ay1.npy", "axt.npy", "alt.npy"))
    write_safetensors(t0, model.state_dict(), {"format": "pt", "model": "arch"})
    subprocess.run([ember, "--arch", spec, "--load", t0, "--input", x, "--logits", y0],
                   check=True, stdout=subprocess.DEVNULL)
    out = [("eval logits", rel_err(np.load(y0), torch_logits(model, x)))]
    subprocess.run([ember, "--arch", spec, "--load", t0, "--train-steps", "1", "--batch", "8",
                    "--train-input", xt, "--train-labels", lt, "--save", t1, "--input", x,
                    "--logits", y1], check=True, stdout=subprocess.DEVNULL)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)   # a fresh one, as ember's
    model.train()
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(np.load(xt))),
                                             torch.from_numpy(np.load(lt)).long())
    opt.zero_grad()
    loss.backward()
    opt.step()
    state, _ = read_safetensors(t1)
    mine = model.state_dict()
    if set(state) != set(mine):
        raise RuntimeError(f"state names differ: {sorted(set(state) ^ set(mine))}")
    worst = max(rel_err(state[k].double().numpy(), mine[k].double().numpy()) for k in mine)
    out.append((f"after one SGD step: {len(mine)} tensors, the worst", worst))
    out.append(("eval logits after the step", rel_err(np.load(y1), torch_logits(model, x))))
    return out


def roundtrip(ember):
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ember-interop-") as work:
        for spec in (ARCH_SPEC, RENORM_SPEC):
            for what, err in arch_roundtrip(ember, work, spec):
                ok = err < ARCH_TOL
                failed += not ok
                print(f"--arch \"{spec}\": {what}: max rel diff {err:.2e}  "
                      f"{'ok' if ok else 'MISMATCH'} (tolerance {ARCH_TOL:g})")
        for name in ("mnist-cnn", "cifar-cnn", "mlp"):
            for bn in (True, False):
                for label, fn in (("ember -> PyTorch", ember_to_torch),
                                  ("PyTorch -> ember", torch_to_ember)):
                    err, what = fn(ember, name, bn, work)
                    ok = err < TOL
                    failed += not ok
                    print(f"{label}  {name:9s} bn={int(bn)}  logits max rel diff {err:.2e}  "
                          f"{'ok' if ok else 'MISMATCH'}  ({what})")
    print(f"torch_interop: {18 - failed} passed, {failed} failed")
    return 1 if failed else 0


def read_idx(path):
    """an idx file, raw or .gz, as a numpy array (images (n, 28, 28) or labels (n,))"""
    import gzip
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            raw = (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
            ndim = raw[3]
            dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise SystemExit(f"torch_interop: no {path}[.gz]")


def mnist_split(data, split, mean, std, limit=0):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte"))
    if limit:
        x, y = x[:limit], y[:limit]
    # ember's loader: (v / 255 - mean) / std, in float32
    xf = (x.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(xf[:, None, :, :].copy()), torch.from_numpy(y.astype(np.int64))


def model_from_checkpoint(ckpt):
    state, meta = read_safetensors(ckpt)
    name = meta.get("model", "mnist-cnn")
    bn = any(k.endswith("running_mean") for k in state)
    model, _ = build(name, bn=bn)
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith(
        ("optim.", "train.", "data.", "rng."))}, strict=True)
    return model, name, bn


def predict(a):
    """PyTorch's predictions of an ember checkpoint against ember's --predictions CSV."""
    model, name, bn = model_from_checkpoint(a.ckpt)
    rows = np.loadtxt(a.predictions, delimiter=",", ndmin=2)
    x, y = mnist_split(a.data, "test", a.mean, a.std, len(rows))
    logits = torch_logits_of(model, x)
    pred = logits.argmax(1)
    same_label = int((rows[:, 1].astype(np.int64) == y.numpy()).sum())
    same_pred = int((rows[:, 2].astype(np.int64) == pred).sum())
    err = rel_err(rows[:, 3:], logits)
    acc_t, acc_e = float((pred == y.numpy()).mean()), float((rows[:, 2] == rows[:, 1]).mean())
    print(f"{name} bn={int(bn)}: {len(rows)} test images; labels agree {same_label}/{len(rows)}, "
          f"predictions agree {same_pred}/{len(rows)}, logits max rel diff {err:.2e} "
          f"(ember's CSV has 6 significant digits); accuracy PyTorch {100 * acc_t:.2f}% "
          f"ember {100 * acc_e:.2f}%")
    return 0 if same_label == len(rows) and same_pred == len(rows) and err < 1e-4 else 1


def torch_logits_of(model, x, batch=1000):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


def train(a):
    """mnist-cnn with BN trained in PyTorch (SGD 0.05, momentum 0.9, batch 64), exported."""
    torch.manual_seed(a.seed)
    model, _ = build("mnist-cnn", bn=True)
    x, y = mnist_split(a.data, "train", a.mean, a.std, a.train_limit)
    xt, yt = mnist_split(a.data, "test", a.mean, a.std)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            if len(idx) < 2:
                continue
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    acc = float((torch_logits_of(model, xt).argmax(1) == yt.numpy()).mean())
    write_safetensors(a.out, model.state_dict(),
                      {"format": "pt", "framework": "pytorch", "model": "mnist-cnn",
                       "config": f"PyTorch {torch.__version__}, seed {a.seed}, {a.epochs} "
                                 f"epoch(s), SGD lr 0.05 momentum 0.9, batch 64"})
    print(f"wrote {a.out}: mnist-cnn bn=1 trained {a.epochs} epoch(s) in PyTorch, "
          f"test accuracy {100 * acc:.2f}% ({len(xt)} images)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", default="build/examples/ember-logits",
                    help="path of the ember-logits program")
    sub = ap.add_subparsers(dest="cmd")
    ld = sub.add_parser("load", help="load an ember checkpoint into PyTorch (strict=True)")
    ld.add_argument("ckpt")
    ld.add_argument("model")
    ld.add_argument("--no-bn", action="store_true")
    ex = sub.add_parser("export", help="export seeded PyTorch weights to safetensors")
    ex.add_argument("model")
    ex.add_argument("out")
    ex.add_argument("--no-bn", action="store_true")
    pr = sub.add_parser("predict", help="an ember checkpoint's test predictions in PyTorch")
    pr.add_argument("ckpt")
    pr.add_argument("predictions")
    tr = sub.add_parser("train", help="train mnist-cnn in PyTorch and export it")
    tr.add_argument("out")
    tr.add_argument("--epochs", type=int, default=1)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--train-limit", type=int, default=0)
    for p in (pr, tr):
        p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
        p.add_argument("--mean", type=float, default=0.2860)
        p.add_argument("--std", type=float, default=0.3530)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == "load":
        state, meta = read_safetensors(a.ckpt)
        model, _ = build(a.model, bn=not a.no_bn)
        model.load_state_dict({k: v for k, v in state.items() if not k.startswith(
            ("optim.", "train.", "data.", "rng."))}, strict=True)
        print(f"loaded {a.ckpt} into {a.model} (strict=True); metadata {meta}")
        return 0
    if a.cmd == "predict":
        return predict(a)
    if a.cmd == "train":
        torch.set_num_threads(2)
        return train(a)
    if a.cmd == "export":
        torch_export(a.model, not a.no_bn, a.out)
        print(f"wrote {a.out}")
        return 0
    return roundtrip(a.ember)


if __name__ == "__main__":
    sys.exit(main())
