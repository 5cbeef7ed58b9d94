#!/usr/bin/python3
"""tools/bench_torch.py — PyTorch's side of ember-bench: the same step, the same JSON.

    /usr/bin/python3 tools/bench_torch.py --model mnist-cnn --bn --batch 64 --mode train
    /usr/bin/python3 tools/bench_torch.py --model mnist-cnn --bn --best      # best config
    /usr/bin/python3 tools/bench_torch.py --mnist-epoch --data /usr/share/...  # end to end

A training step is what ember-bench times: forward, cross-entropy, backward, SGD with
momentum 0.9 and weight decay 5e-4 (lr 0.01), on four pre-made random batches used in
turn; inference is a forward under torch.no_grad() in eval mode. The models are
tools/fixtures/reference_models.py (the spec ember's zoo mirrors), or --models DIR.
After --warmup steps, --windows windows of about 0.5 s are timed and the median window
is reported.

--best tries torch intra-op threads in {1, 2} x OpenBLAS threads in {1, 2} (OpenBLAS's
count must be set before torch loads, so each configuration runs in a child process with
OPENBLAS_NUM_THREADS set) and prints every configuration and, last, the best. The fair
comparison is against PyTorch's best configuration. PyTorch's best also needs glibc's
malloc tuned (otherwise much of a step is page faults): the children get
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296
MALLOC_TOP_PAD_=268435456 unless --plain-malloc.

--torch-source FILE times a network that ember printed (`ember-mnist ... --print-torch`,
`ember-cifar ... --print-torch`: the presets beyond the reference models, a --norm, an
--arch): the file's build() makes it, on --input CxHxW images; --model is then only the
row's label.

--mnist-epoch trains one epoch of mnist-cnn (BN) on Fashion-MNIST from the IDX files,
batch 64, SGD lr 0.05 momentum 0.9 wd 5e-4, then evaluates on the 10000 test images, and
reports the wall time — the PyTorch counterpart of `ember-mnist --epochs 1`.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "4294967296",
                "MALLOC_TOP_PAD_": "268435456"}
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = os.path.join(HERE, "fixtures")


def macs(model):
    """multiply-adds of one image's forward, and of the first layer (no input gradient)"""
    if model == "mnist-cnn":
        c1, c2 = 28 * 28 * 16 * 9, 14 * 14 * 32 * 9 * 16
        return c1 + c2 + 1568 * 128 + 128 * 10, c1
    if model == "cifar-cnn":
        c1 = 32 * 32 * 32 * 9 * 3
        rest = 32 * 32 * 32 * 9 * 32 + 16 * 16 * 64 * 9 * 32 + 16 * 16 * 64 * 9 * 64 + \
            8 * 8 * 128 * 9 * 64 + 2048 * 256 + 256 * 10
        return c1 + rest, c1
    return 784 * 100 + 100 * 100 * 2 + 100 * 10, 784 * 100


def build_net(args):
    """the network and its input shape: a reference model, or the build() of --torch-source"""
    if args.torch_source:
        import importlib.util
        spec = importlib.util.spec_from_file_location("ember_net", args.torch_source)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.build(), tuple(int(v) for v in args.input.split("x"))
    sys.path.insert(0, args.models)
    from reference_models import build
    return build(args.model, bn=args.bn, act="sigmoid")


def measure(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    net, shape = build_net(args)
    train = args.mode == "train"
    net.train(train)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs = [torch.randn(args.batch, *shape) for _ in range(4)]
    ys = [torch.randint(0, 10, (args.batch,)) for _ in range(4)]

    def step(i):
        x, y = xs[i % 4], ys[i % 4]
        if train:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                loss_fn(net(x), y)

    for i in range(args.warmup):
        step(i)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        step(n)
        n += 1
    steps = max(1, int(n * 0.5 / (time.perf_counter() - t0)))
    ms = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        ms.append((time.perf_counter() - t0) * 1e3 / steps)
    med = statistics.median(ms)
    # multiply-adds are known for the reference models only (ember-bench counts its own)
    fwd, first = macs(args.model) if not args.torch_source else (float("nan"), 0)
    m = 3 * fwd - first if train else fwd
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except ImportError:
        rss = float("nan")
    return {"framework": "pytorch", "torch": torch.__version__, "model": args.model,
            "bn": args.bn, "batch": args.batch, "threads": args.threads,
            "openblas_threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0),
            "mode": args.mode, "images_per_s": round(args.batch * 1e3 / med, 1),
            "ms_per_step": round(med, 4), "ms_min": round(min(ms), 4),
            "ms_max": round(max(ms), 4),
            "gflops": None if m != m else round(2.0 * m * args.batch / (med * 1e6), 2),
            "peak_rss_mb": round(rss, 1),
            "tuned_malloc": all(os.environ.get(k) == v for k, v in TUNED_MALLOC.items())}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return data[4 + 4 * ndim:], dims


def find_idx(data_dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"bench_torch.py: {stem}[.gz] not found in {data_dir}")


def mnist_epoch(args):
    """one epoch of mnist-cnn + BN on the IDX files, then the test set; wall time"""
    import torch
    sys.path.insert(0, args.models)
    from reference_models import build
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    def load(prefix):
        img, dims = read_idx(find_idx(args.data, prefix + "-images-idx3-ubyte"))
        lab, _ = read_idx(find_idx(args.data, prefix + "-labels-idx1-ubyte"))
        x = torch.frombuffer(bytearray(img), dtype=torch.uint8).view(dims[0], 1, 28, 28)
        x = (x.float() / 255.0 - 0.2860) / 0.3530
        y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).long()
        return x, y

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    net, _ = build("mnist-cnn", bn=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = len(xtr) // 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    perm = torch.randperm(len(xtr))
    net.train()
    for s in range(steps):
        idx = perm[s * 64:(s + 1) * 64]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += (net(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
    return {"framework": "pytorch", "job": "mnist-epoch", "threads": args.threads,
            "openblas_threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0),
            "seconds": round(time.perf_counter() - t_start, 2),
            "test_acc": round(100.0 * correct / len(xte), 2)}


def best(args, argv):
    """every (torch threads, OpenBLAS threads) configuration in a child; the fastest"""
    results = []
    for tt in (1, 2):
        for ob in (1, 2):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(ob))
            if not args.plain_malloc:
                env.update(TUNED_MALLOC)
            child = [sys.executable, os.path.abspath(__file__)] + \
                [a for a in argv if a not in ("--best",)] + ["--threads", str(tt)]
            out = subprocess.run(child, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.stderr.write(out.stderr)
                raise SystemExit(f"bench_torch.py: a configuration failed ({tt}, {ob})")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(json.dumps(r), flush=True)
    key = (lambda r: -r["seconds"]) if args.mnist_epoch else (lambda r: r["images_per_s"])
    top = dict(max(results, key=key))
    top["best_of"] = len(results)
    print(json.dumps(top))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mnist-cnn",
                   help="mnist-cnn, cifar-cnn, mlp; with --torch-source, the row's label")
    p.add_argument("--torch-source", help="a network printed by ember's --print-torch")
    p.add_argument("--input", default="1x28x28", help="with --torch-source: CxHxW")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bn", dest="bn", action="store_true", default=True)
    g.add_argument("--no-bn", dest="bn", action="store_false")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--windows", type=int, default=7)
    p.add_argument("--best", action="store_true", help="try every thread configuration")
    p.add_argument("--plain-malloc", action="store_true", help="do not tune glibc malloc")
    p.add_argument("--mnist-epoch", action="store_true", help="one Fashion-MNIST epoch, timed")
    p.add_argument("--data", default=os.environ.get("EMBER_MNIST_DIR",
                                                     "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help="directory holding reference_models.py")
    args = p.parse_args()
    if args.batch < 2 or args.threads < 1:
        p.error("--batch must be >= 2 and --threads >= 1")
    if not args.torch_source and args.model not in ("mnist-cnn", "cifar-cnn", "mlp"):
        p.error("--model is mnist-cnn, cifar-cnn or mlp (or give --torch-source)")
    if args.torch_source and not os.path.exists(args.torch_source):
        p.error(f"--torch-source: {args.torch_source} not found")
    if not args.torch_source and not os.path.exists(os.path.join(args.models,
                                                                  "reference_models.py")):
        p.error(f"reference_models.py not found in {args.models} (use --models DIR)")
    if args.best:
        best(args, sys.argv[1:])
    elif args.mnist_epoch:
        print(json.dumps(mnist_epoch(args)))
    else:
        print(json.dumps(measure(args)))


if __name__ == "__main__":
    main()
