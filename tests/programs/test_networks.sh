#!/usr/bin/env bash
# tests/programs/test_networks.sh — the network options of ember-mnist and ember-cifar as a
# user types them (docs/architectures.md): --model presets, --arch on the command line and
# from a file, --print-arch round trips, --norm / --norm-position / --zero-gamma / --init
# fixup, the configuration line that records them, bad specs stopping before any data is
# read, and resnet20 training on the shapes set and on CIFAR-format files.
#   usage: test_networks.sh EMBER_MNIST EMBER_CIFAR MAKE_SHAPES
set -uo pipefail
MNIST=$1 CIFAR=$2 SHAPES=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
small=(--train-limit 640 --test-limit 160 --quiet)
cnn_spec="conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10"

# ---- the preset written as a spec is the same run, number for number ------------------------
"$MNIST" "${small[@]}" --steps 20 --metrics "$tmp/preset.csv" >"$tmp/preset.out"
"$MNIST" "${small[@]}" --steps 20 --arch "$cnn_spec" --metrics "$tmp/spec.csv" >"$tmp/spec.out"
check "--arch with mnist-cnn's spec: the same losses and accuracies as --model cnn" \
    cmp -s <(cut -d, -f1-7 "$tmp/preset.csv") <(cut -d, -f1-7 "$tmp/spec.csv")
check "... and the same parameter count" \
    test "$(grep -o '[0-9]* parameters' "$tmp/preset.out")" = "$(grep -o '[0-9]* parameters' "$tmp/spec.out")"
check "the config line of a spec says model=arch and its hash" \
    grep -q "^config: model=arch .* arch=[0-9a-f]\{16\}$" "$tmp/spec.out"
check "the config line of a preset has no arch= (it reads as before)" \
    bash -c "grep '^config:' '$tmp/preset.out' | grep -qv 'arch='"

# ---- --print-arch: the printed form is itself a spec that builds the same network ---------
for model in cnn mlp lenet resnet8 resnet20; do
    "$MNIST" --model "$model" --print-arch >"$tmp/$model.arch" 2>"$tmp/err"
    s=$?
    "$MNIST" --arch "@$tmp/$model.arch" --print-arch >"$tmp/$model.again" 2>>"$tmp/err"
    check "--model $model --print-arch exits 0 and parses back (--arch @FILE)" \
        test "$s" = 0 -a "$?" = 0
    check "... to the same layers, shapes and total" \
        cmp -s <(grep -v '^# [a-z0-9-]*, input' "$tmp/$model.arch") \
               <(grep -v '^# [a-z0-9-]*, input' "$tmp/$model.again")
done
check "resnet20 on 1x28x28: 288 parameters fewer than on 3x32x32 (its first conv)" \
    grep -q "^# 272,186 parameters" "$tmp/resnet20.arch"
"$CIFAR" --model resnet20 --print-arch >"$tmp/c20.arch"
check "ember-cifar --model resnet20 --print-arch: 3x32x32 input, 272,474 parameters" \
    grep -q "^# 272,474 parameters" "$tmp/c20.arch"
s=$(status "$MNIST" --model resnet8 --print-torch)
check "--print-torch prints a PyTorch module with build()" \
    test "$s" = 0 -a -n "$(grep '^def build' "$tmp/out")" -a -n "$(grep 'nn.BatchNorm2d' "$tmp/out")"
"$MNIST" --model resnet8 --norm gn:4 --print-torch >"$tmp/gn.py"
check "--norm gn:4 --print-torch: GroupNorm(4, ...) in place of BatchNorm" \
    bash -c "grep -q 'nn.GroupNorm(4, ' '$tmp/gn.py' && ! grep -q 'BatchNorm' '$tmp/gn.py'"
# every kind of layer and norm, printed as Python that parses (PyTorch itself is not needed:
# tools/torch_interop.py runs the module where it is installed)
all_spec="conv8k5s2p2 bn relu res( conv8 gn:2 relu conv8 ln relu conv8 | conv8k1 in ) relu maxpool2 \
  avgpool1 res16s2 brn sigmoid flatten fc32 ln tanh dropout:0.5 fc16 bn relu fc10"
s=$(status "$MNIST" --arch "$all_spec" --print-torch)
check "--print-torch of every layer and norm is valid Python (ast.parse)" \
    python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$tmp/out"
"$MNIST" --norm-position after --print-arch >"$tmp/after.arch"
check "--norm-position after: relu then bn" \
    bash -c "grep -A1 '^relu' '$tmp/after.arch' | grep -q '^bn'"

# ---- a file with comments and a residual block ------------------------------------------------
cat >"$tmp/net.arch" <<'EOF'
# a small residual network
conv16 bn relu          # stem
res( conv16 bn relu conv16 bn )
relu
gap fc10
EOF
s=$(status "$MNIST" "${small[@]}" --steps 10 --arch "@$tmp/net.arch")
check "--arch @FILE with comments and res( ... ) trains (exit 0)" test "$s" = 0
printf '\n\n   conv16   bn relu res( conv16 bn relu conv16 bn ) relu gap   fc10 # again\n' >"$tmp/same.arch"
"$MNIST" "${small[@]}" --steps 1 --arch "@$tmp/net.arch" >"$tmp/a1.out"
"$MNIST" "${small[@]}" --steps 1 --arch "@$tmp/same.arch" >"$tmp/a2.out"
check "the same spec with other spacing and comments has the same arch= hash" \
    test "$(grep -o 'arch=[0-9a-f]*' "$tmp/a1.out")" = "$(grep -o 'arch=[0-9a-f]*' "$tmp/a2.out")"

# ---- bad specs and options: exit 2 before any data is read, the place named -----------------
nodata=(--data "$tmp/no-such-dir")
bad() {   # bad NAME PATTERN ARGS...: exit 2 and stderr matching PATTERN
    local name=$1 pattern=$2
    shift 2
    local s
    s=$(status "$MNIST" "${nodata[@]}" "$@")
    check "$name: exit 2" test "$s" = 2
    check "$name: the message says '$pattern'" grep -q -- "$pattern" "$tmp/err"
}
bad "an unknown layer" "--arch: column 13: expected a layer" --arch "conv16 relu bogus fc10"
bad "fc after a conv without flatten" "layer 3 (fc10): its input is (16, 28, 28)" --arch "conv16 relu fc10"
bad "a missing @FILE" "--arch @$tmp/nope.arch: No such file" --arch "@$tmp/nope.arch"
bad "a directory as @FILE" "not a regular file" --arch "@$tmp"
head -c 9000 /dev/zero | tr '\0' ' ' >"$tmp/big.arch"
bad "an @FILE over 8 KiB" "more than the 8191" --arch "@$tmp/big.arch"
printf 'conv16 relu\nfc10 bogus\n' >"$tmp/bad.arch"
bad "an error in a file: its line and column" "bad.arch: line 2, column 6" --arch "@$tmp/bad.arch"
bad "--model and --arch together" "exclude each other" --model lenet --arch "$cnn_spec"
bad "an unknown --norm" "--norm: 'gn' is not" --norm gn
bad "--no-bn with --norm gn:4" "--no-bn and --norm gn:4 exclude each other" --no-bn --norm gn:4
bad "--zero-gamma on a network without residual blocks" "--zero-gamma: mnist-cnn has no residual block" --zero-gamma
bad "--init fixup without residual blocks" "--init fixup: mnist-cnn has no residual block" --init fixup
bad "gn:3 on 16 channels" "3 groups" --norm gn:3
bad "an unknown preset" "unknown model 'resnet50'" --model resnet50

# ---- normalizations from the command line -------------------------------------------------------
for n in bn brn gn:4 ln none; do
    s=$(status "$MNIST" "${small[@]}" --steps 10 --norm "$n")
    check "--norm $n trains 10 steps (exit 0)" test "$s" = 0
done
s=$(status "$MNIST" "${small[@]}" --steps 10 --model resnet8 --norm in)
check "--model resnet8 --norm in (InstanceNorm) trains 10 steps (exit 0)" test "$s" = 0
bad "--norm in on mnist-cnn's fc128 (flat): refused" "instance norm needs an image" --norm in
"$MNIST" "${small[@]}" --steps 5 --norm gn:4 --norm-position after --metrics "$tmp/gn.csv" >"$tmp/gn.out"
check "the config line records norm=gn:4 norm_position=after" \
    grep -q "norm=gn:4 norm_position=after$" "$tmp/gn.out"
s=$(status "$MNIST" "${small[@]}" --steps 3 --batch 1 --norm gn:4)
check "GroupNorm trains at batch 1 (no batch statistics)" test "$s" = 0
s=$(status "$MNIST" "${small[@]}" --steps 3 --batch 1)
check "BatchNorm at batch 1 is refused, pointing at --norm gn:G" \
    test "$s" = 2 -a -n "$(grep 'norm gn:G' "$tmp/err")"

# ---- a checkpoint records the network's options; a resume with others is refused -------------
"$MNIST" "${small[@]}" --steps 4 --norm gn:4 --save "$tmp/gn.st" >/dev/null
s=$(status "$MNIST" "${small[@]}" --steps 8 --resume "$tmp/gn.st")
check "resuming a --norm gn:4 checkpoint without --norm: exit 2 naming norm=gn:4" \
    test "$s" = 2 -a -n "$(grep 'norm=gn:4' "$tmp/err")"
s=$(status "$MNIST" "${small[@]}" --steps 8 --norm gn:4 --resume "$tmp/gn.st")
check "... and with it: resumes (exit 0)" test "$s" = 0

# ---- --eval --load: into the checkpoint's network, not another whose tensors fit --------------
net_spec="conv8 bn relu res( conv8 bn relu conv8 bn ) gap fc10"
"$MNIST" "${small[@]}" --steps 2 --arch "$net_spec" --save "$tmp/net.st" >/dev/null
"$MNIST" --arch "$net_spec" --print-arch >"$tmp/net.arch"
s=$(status "$MNIST" "${small[@]}" --eval --load "$tmp/net.st" --arch "${net_spec/relu/tanh}")
check "--eval --load into a spec with tanh for relu (the same tensors): exit 2, another network" \
    test "$s" = 2 -a -n "$(grep 'holds another network' "$tmp/err")"
s=$(status "$MNIST" "${small[@]}" --eval --load "$tmp/gn.st" --norm ln)
check "--eval --load of a --norm gn:4 checkpoint with --norm ln (the same tensors): exit 2" \
    test "$s" = 2 -a -n "$(grep 'holds another network' "$tmp/err")"
s=$(status "$MNIST" "${small[@]}" --eval --load "$tmp/net.st" --arch "@$tmp/net.arch")
check "... and into the same network written as its --print-arch file: evaluates (exit 0)" \
    test "$s" = 0

# ---- dropout in a spec -------------------------------------------------------------------------
s=$(status "$MNIST" "${small[@]}" --steps 2 --arch "conv8 relu 17*dropout:0.1 gap fc10")
check "a spec with 17 dropouts trains (exit 0; the step's measure held 16 streams at most)" \
    test "$s" = 0
drop=(--arch "conv8 relu dropout:0.3 gap fc10" --schedule const --batch 32 --train-limit 256
      --test-limit 64 --quiet)
"$MNIST" "${drop[@]}" --epochs 2 --save "$tmp/drop.st" >/dev/null
"$MNIST" "${drop[@]}" --epochs 1 --save "$tmp/drop1.st" >/dev/null
"$MNIST" "${drop[@]}" --epochs 2 --resume "$tmp/drop1.st" --save "$tmp/drop2.st" >/dev/null
check "a spec with dropout, saved and resumed, ends bit-identical to a run never stopped" \
    cmp -s "$tmp/drop.st" "$tmp/drop2.st"

# ---- residual networks on 3x32x32 -----------------------------------------------------------------
s=$(status "$CIFAR" --synthetic --model resnet20 --train-limit 256 --test-limit 128 --batch 32 --steps 6 --quiet)
check "ember-cifar --model resnet20 trains on the shapes set (exit 0)" test "$s" = 0
check "... with 272,474 parameters" grep -q "272474 parameters" "$tmp/out"
"$SHAPES" --train 128 --test 64 "$tmp/cifar" >/dev/null
s=$(status "$CIFAR" --data "$tmp/cifar" --model resnet20 --train-limit 128 --test-limit 64 --batch 32 --steps 4 --quiet)
check "ember-cifar --model resnet20 trains on CIFAR-format files (exit 0)" test "$s" = 0
s=$(status "$CIFAR" --synthetic --model resnet20 --norm none --init fixup --train-limit 256 \
    --test-limit 128 --batch 32 --steps 6 --quiet --log-every 1 --metrics "$tmp/fixup.csv")
check "resnet20 --norm none --init fixup trains (exit 0)" test "$s" = 0
# the classifier starts at 0, so every logit is 0 and the first step's loss is ln 10
check "... and its first step's loss is ln 10 = 2.302585" \
    awk -F, 'NR == 2 { d = $4 - 2.302585; exit !(d < 1e-5 && d > -1e-5) }' "$tmp/fixup.csv"
s=$(status "$CIFAR" --synthetic --model resnet20 --zero-gamma --train-limit 256 --test-limit 128 --batch 32 --steps 4 --quiet)
check "resnet20 --zero-gamma trains (exit 0)" test "$s" = 0

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
